"""``chainrule.optimize``: solvers whose solutions are differentiable with respect to their parameters —
``root``, ``fixed_point``, ``minimize`` and ``custom_root``, by implicit differentiation — and first-order
optimizers (``sgd``, ``momentum``, ``rmsprop``, ``adam``) with autograd's calling convention."""
from .convergence import ConvergenceWarning
from .first_order import adam, momentum, rmsprop, sgd
from .implicit import custom_root, fixed_point, root
from .minimize import minimize

__all__ = ["ConvergenceWarning", "adam", "custom_root", "fixed_point", "minimize", "momentum", "rmsprop", "root",
           "sgd"]
