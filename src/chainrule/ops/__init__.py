"""The primitive set: the only place derivative rules are written.

Every module here defines primitives through the families in ``families.py`` or, for the few that
need more, a ``Primitive`` with explicit rules.
"""
from . import families, elementwise, arithmetic, comparison, structure, reduction, contraction, indexing, linalg, control  # noqa: F401
from . import special, fft, decompositions  # noqa: F401


def all_primitives():
    """Every primitive defined in ``chainrule.ops``, by name."""
    from ..core.primitive import Primitive
    found = {}
    for module in (elementwise, arithmetic, comparison, structure, reduction, contraction, indexing, linalg, control,
                   special, fft, decompositions):
        for value in vars(module).values():
            if isinstance(value, Primitive):
                found[value.name] = value
    return found
