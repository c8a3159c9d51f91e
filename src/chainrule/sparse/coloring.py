"""Graph colorings for compressed Jacobians and Hessians. They live in ``chainrule.finite_diff.coloring``,
which needs only NumPy and SciPy, so that grouped finite differences use the same colorings."""
from ..finite_diff.coloring import (KINDS, ORDERS, coloring, is_acyclic_coloring, is_bicoloring, is_star_coloring,
                                    is_structurally_orthogonal)

__all__ = ["coloring", "is_structurally_orthogonal", "is_star_coloring", "is_acyclic_coloring", "is_bicoloring",
           "KINDS", "ORDERS"]
