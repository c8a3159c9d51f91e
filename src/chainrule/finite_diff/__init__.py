"""chainrule.fd: finite differences for any Python callable over NumPy arrays, with an
adaptive step, exact stencils, Richardson extrapolation, complex step and honest error bounds."""
from .check import CheckGradReport, check_grad
from .derivative import derivative
from .errors import FiniteDifferenceError, FiniteDifferenceWarning
from .info import FiniteDifferenceInfo
from .multivariate import gradient, hessian, hvp, jacobian, jvp
from .noise import noise_level
from .stencils import Stencil, fornberg_weights, make_stencil

__all__ = [
    "derivative", "gradient", "jacobian", "jvp", "hessian", "hvp", "check_grad",
    "CheckGradReport", "FiniteDifferenceInfo", "FiniteDifferenceWarning", "FiniteDifferenceError",
    "noise_level", "fornberg_weights", "make_stencil", "Stencil",
]
