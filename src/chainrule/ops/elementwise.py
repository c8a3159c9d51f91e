"""Unary elementwise primitives (sin, exp, log, sqrt, abs, ...), each one line from its derivative."""
import numpy as np

from ..core.avals import ShapedArray
from ..core.primitive import Primitive
from . import families, structure
from .arithmetic import add, div, mul, neg, sub
from .families import elementwise_shape_rule, unary, zero_derivative

LOG2 = float(np.log(2.0))
LOG10 = float(np.log(10.0))

sin = unary("sin", np.sin, lambda x, y: cos(x))
cos = unary("cos", np.cos, lambda x, y: neg(sin(x)))
tan = unary("tan", np.tan, lambda x, y: add(1.0, mul(y, y)))
arcsin = unary("arcsin", np.arcsin, lambda x, y: div(1.0, sqrt(sub(1.0, mul(x, x)))))
arccos = unary("arccos", np.arccos, lambda x, y: div(-1.0, sqrt(sub(1.0, mul(x, x)))))
arctan = unary("arctan", np.arctan, lambda x, y: div(1.0, add(1.0, mul(x, x))))
sinh = unary("sinh", np.sinh, lambda x, y: cosh(x))
cosh = unary("cosh", np.cosh, lambda x, y: sinh(x))
tanh = unary("tanh", np.tanh, lambda x, y: sub(1.0, mul(y, y)))
arcsinh = unary("arcsinh", np.arcsinh, lambda x, y: div(1.0, sqrt(add(mul(x, x), 1.0))))
arccosh = unary("arccosh", np.arccosh, lambda x, y: div(1.0, sqrt(sub(mul(x, x), 1.0))))
arctanh = unary("arctanh", np.arctanh, lambda x, y: div(1.0, sub(1.0, mul(x, x))))
exp = unary("exp", np.exp, lambda x, y: y)
exp2 = unary("exp2", np.exp2, lambda x, y: mul(y, LOG2))
expm1 = unary("expm1", np.expm1, lambda x, y: add(y, 1.0))
log = unary("log", np.log, lambda x, y: div(1.0, x))
log2 = unary("log2", np.log2, lambda x, y: div(1.0 / LOG2, x))
log10 = unary("log10", np.log10, lambda x, y: div(1.0 / LOG10, x))
log1p = unary("log1p", np.log1p, lambda x, y: div(1.0, add(1.0, x)))
sqrt = unary("sqrt", np.sqrt, lambda x, y: div(0.5, y), convention="sqrt'(0) = inf, as the limit")
cbrt = unary("cbrt", np.cbrt, lambda x, y: div(1.0 / 3.0, mul(y, y)), convention="cbrt'(0) = inf, as the limit")


def is_complex(x):
    """Whether ``x`` (array, number or traced value) has a complex dtype."""
    dtype = x.dtype if hasattr(x, "dtype") else np.result_type(x)
    return np.issubdtype(dtype, np.complexfloating)


def _real_shape_rule(x):
    dtype = np.empty(0, dtype=x.dtype if hasattr(x, "dtype") else np.result_type(x)).real.dtype
    return ShapedArray(x.shape if hasattr(x, "shape") else np.shape(x), dtype)


def _abs_derivative(x, y):
    # Real x: sign(x), with abs'(0) = 0. Complex x: conj(x)/|x| (d|z|/dx - i d|z|/dy), 0 at z = 0.
    if not is_complex(x):
        return sign(x)
    from .comparison import eq, select
    at_zero = eq(y, 0)
    return select(at_zero, 0.0, div(conj(x), select(at_zero, 1.0, y)))


def _abs_jvp(primals, tangents):
    (x,), (x_dot,) = primals, tangents
    y = absolute.bind(x)
    y_dot = mul(x_dot, _abs_derivative(x, y))
    return y, real(y_dot) if is_complex(x) else y_dot


def _real_part_of(cotangent):
    # A real output's cotangent is real: complex parts arriving from complex consumers are projected away
    # before a non-holomorphic rule multiplies by a complex coefficient.
    return real(cotangent) if is_complex(cotangent) else cotangent


def _abs_vjp(y, x):
    partial = _abs_derivative(x, y)  # one array kept, not x and y

    def abs_pullback(y_bar):
        return (mul(_real_part_of(y_bar), partial),)
    return abs_pullback


absolute = Primitive("abs", np.abs, shape_rule=_real_shape_rule, jvp=_abs_jvp, vjp=_abs_vjp, elementwise=True,
                     convention="abs'(0) = 0; for complex z the gradient is conj(z)/|z| (0 at z = 0)")


# Complex parts. Pullbacks are transposes (no conjugation), JAX's and autograd's convention: for real f
# of complex z, grad gives df/dx - i df/dy. ``x`` is the operand's abstract value (shape and dtype).
def _real_transpose(out_bar, x):
    out_bar = _real_part_of(out_bar)
    return structure.convert_element_type(out_bar, dtype=x.dtype) if is_complex(x) else out_bar


def _imag_transpose(out_bar, x):
    out_bar = _real_part_of(out_bar)
    return mul(out_bar, -1j) if is_complex(x) else mul(out_bar, 0.0)


def _conj_transpose(out_bar, x):
    return conj(out_bar)


real = families.linear("real", np.real, _real_transpose, shape_rule=_real_shape_rule, unary_elementwise=True)
imag = families.linear("imag", np.imag, _imag_transpose, shape_rule=_real_shape_rule, unary_elementwise=True)
conj = families.linear("conj", np.conjugate, _conj_transpose, shape_rule=elementwise_shape_rule,
                       unary_elementwise=True)


def _sinc_derivative(x, y):
    # d/dx sin(pi x)/(pi x) = (cos(pi x) - sinc(x)) / x cancels catastrophically near 0; there its Taylor
    # series sum_k (-1)^k 2k pi^2k x^(2k-1) / (2k+1)! is used, which also gives every higher derivative
    # at 0 exactly (the formula's branch only sees a safe x, so no NaN reaches any order).
    from .comparison import lt, select
    near_zero = lt(absolute(x), 1e-3)
    safe_x = select(near_zero, 1.0, x)
    formula = div(sub(cos(mul(np.pi, safe_x)), sinc(safe_x)), safe_x)
    x_squared = mul(x, x)
    series = mul(x, add(-np.pi ** 2 / 3.0, mul(x_squared, add(np.pi ** 4 / 30.0,
                                                                    mul(x_squared, -np.pi ** 6 / 840.0)))))
    return select(near_zero, series, formula)


sinc = unary("sinc", np.sinc, _sinc_derivative, convention="smooth at 0 (removable singularity): every derivative order is exact there")

_piecewise = "piecewise constant: derivative 0 everywhere, including at the jumps"
sign = zero_derivative("sign", np.sign, shape_rule=elementwise_shape_rule, convention=_piecewise,
                       unary_elementwise=True)
floor = zero_derivative("floor", np.floor, shape_rule=elementwise_shape_rule, convention=_piecewise,
                        unary_elementwise=True)
ceil = zero_derivative("ceil", np.ceil, shape_rule=elementwise_shape_rule, convention=_piecewise,
                       unary_elementwise=True)
rint = zero_derivative("rint", np.rint, shape_rule=elementwise_shape_rule, convention=_piecewise,
                       unary_elementwise=True)
trunc = zero_derivative("trunc", np.trunc, shape_rule=elementwise_shape_rule, convention=_piecewise,
                        unary_elementwise=True)
round_ = zero_derivative("round", lambda x, *, decimals=0: np.round(x, decimals),
                         shape_rule=elementwise_shape_rule, convention=_piecewise, unary_elementwise=True)

__all__ = [name for name, value in list(globals().items()) if isinstance(value, families.Primitive)]
