"""See a derivative: evaluation-trace tables (``explain``), pictures of the graph (``draw``) and readable
NumPy source (``to_python``, and ``jit``, which compiles it per argument signature; ``retraced``, which
compiles a transform of a function per structure while the function stays eager), each a loop over ``graph.equations`` with a table keyed by primitive."""
from .draw import draw, to_dot
from .jit import jit
from .python import to_python
from .reuse import retraced
from .trace import Explanation, explain

__all__ = ["Explanation", "explain", "draw", "to_dot", "to_python", "jit", "retraced"]
