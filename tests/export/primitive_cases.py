"""The shared spec table (tests/primitive_spec.py: one row of arguments per primitive), so that the exporters
are checked on every primitive the library defines."""
from primitive_spec import build_spec


def load_spec():
    """A freshly built table (name -> (arguments, parameters)); the same points as primitive_spec.SPEC."""
    return build_spec()


def staged_case(name, spec):
    """(function of the array arguments, array arguments) that applies primitive ``name`` once."""
    from chainrule.ops import all_primitives
    primitive = all_primitives()[name]
    args, params = spec[name]

    def apply(*arrays):
        return primitive(*arrays, **params)

    return apply, args
