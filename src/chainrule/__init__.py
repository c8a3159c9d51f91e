"""chainrule: derivatives for numerical optimization — automatic differentiation (forward, reverse, mixed),
finite differences and symbolic differentiation under one API.

>>> import chainrule as cr, chainrule.numpy as np
>>> float(cr.grad(lambda x: np.sin(x) * x)(0.0))
0.0
"""
from .core.avals import ShapedArray
from .core.config import config
from .core.graph import Graph, eval_graph, make_graph
from .core.interpreter import ChainruleError, ConcretizationError, EscapedTracerError
from .core.tree import (register_pytree_node, tree_flatten, tree_leaves, tree_map, tree_structure,
                        tree_unflatten)
from . import numpy  # noqa: F401  (installs array behaviour on traced values)
from .autodiff.transforms import (elementwise_grad, grad, hessian, hvp, jacfwd, jacobian, jacrev, jvp, linearize,
                                  ravel_pytree, value_and_grad, vjp, vmap)
from .custom import checkpoint, custom_jvp, custom_vjp, stop_gradient

__version__ = "0.1.0"

# Heavier parts load on first use, keeping `import chainrule` fast (SymPy and matplotlib are slow to import).
_LAZY_MODULES = {"control": ".control", "fd": ".fd", "integrate": ".integrate", "optimize": ".optimize",
                 "sparse": ".sparse", "symbolic": ".symbolic", "export": ".export", "testing": ".testing"}
_LAZY_FUNCTIONS = {"explain": ".export", "draw": ".export", "jit": ".export"}


def __getattr__(name):
    import importlib
    if name in _LAZY_MODULES:
        return importlib.import_module(_LAZY_MODULES[name], __name__)
    if name in _LAZY_FUNCTIONS:
        return getattr(importlib.import_module(_LAZY_FUNCTIONS[name], __name__), name)
    raise AttributeError(f"module 'chainrule' has no attribute {name!r}")


def __dir__():
    # The lazily loaded names are attributes too, though not yet in the module's namespace.
    return sorted(set(globals()) | set(_LAZY_MODULES) | set(_LAZY_FUNCTIONS))
