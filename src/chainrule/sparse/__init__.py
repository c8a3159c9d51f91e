"""chainrule.sparse: sparsity patterns of Jacobians and Hessians detected on the staged graph, graph
colorings, and compressed Jacobians and Hessians (one batched pass with a lane per color instead of one
per column)."""
from .coloring import coloring, is_acyclic_coloring, is_bicoloring, is_star_coloring, is_structurally_orthogonal
from .compression import hessian, jacobian
from .detection import dense_primitives, hessian_sparsity, jacobian_sparsity
from .scipy_interop import least_squares_jac, least_squares_sparsity, solve_ivp_jac
from .show import show

__all__ = ["jacobian_sparsity", "hessian_sparsity", "dense_primitives", "coloring", "is_structurally_orthogonal",
           "is_star_coloring", "is_acyclic_coloring", "is_bicoloring", "jacobian", "hessian", "show",
           "solve_ivp_jac", "least_squares_sparsity", "least_squares_jac"]
