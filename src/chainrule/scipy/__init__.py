"""``chainrule.scipy``: SciPy's ``special``, ``stats``, ``linalg`` and ``signal`` names, built from primitives
like ``chainrule.numpy`` (plain inputs get SciPy's own result)."""
from . import special, stats, linalg, signal  # noqa: F401
