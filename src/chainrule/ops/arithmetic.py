"""Arithmetic primitives: add, sub, mul, div, neg, pow, max/min, atan2, logaddexp, hypot, mod.

``add``, ``sub``, ``mul``, ``div`` and ``neg`` have hand-written rules (the family builders use them);
the rest come from ``families.binary``.
"""
import math

import numpy as np

from . import families
from .families import ElementwisePrimitive, elementwise_shape_rule


def _unchanged(out_bar):
    return out_bar


def _pass_vjp(out, x, y):
    return _unchanged


def _negate_vjp(out, x, y):
    return neg


def _add_jvp(primals, tangents):
    x_dot, y_dot = tangents
    out = add(*primals)
    if x_dot is None:
        return out, y_dot
    if y_dot is None:
        return out, x_dot
    return out, add(x_dot, y_dot)


def _sub_jvp(primals, tangents):
    x_dot, y_dot = tangents
    out = sub(*primals)
    if y_dot is None:
        return out, x_dot
    if x_dot is None:
        return out, neg(y_dot)
    return out, sub(x_dot, y_dot)


def _mul_jvp(primals, tangents):
    x, y = primals
    x_dot, y_dot = tangents
    out = mul(x, y)
    if x_dot is None:
        return out, mul(x, y_dot)
    if y_dot is None:
        return out, mul(x_dot, y)
    return out, add(mul(x_dot, y), mul(x, y_dot))


def _mul_vjp_x(out, x, y):
    def mul_pullback_x(out_bar):
        return mul(out_bar, y)
    return mul_pullback_x


def _mul_vjp_y(out, x, y):
    def mul_pullback_y(out_bar):
        return mul(out_bar, x)
    return mul_pullback_y


def _div_jvp(primals, tangents):
    x, y = primals
    x_dot, y_dot = tangents
    out = div(x, y)
    out_dot = None if x_dot is None else div(x_dot, y)
    if y_dot is not None:
        term = neg(mul(div(out, y), y_dot))
        out_dot = term if out_dot is None else add(out_dot, term)
    return out, out_dot


def _div_vjp_x(out, x, y):
    def div_pullback_x(out_bar):
        return div(out_bar, y)
    return div_pullback_x


def _div_vjp_y(out, x, y):
    partial = div(out, y)  # d(x/y)/dy = -out/y, kept instead of out and y

    def div_pullback_y(out_bar):
        return neg(mul(out_bar, partial))
    return div_pullback_y


add = ElementwisePrimitive("add", np.add, shape_rule=elementwise_shape_rule, jvp=_add_jvp,
                           input_vjps=(_pass_vjp, _pass_vjp), linear=True, left_identity=0, right_identity=0,
                           commutative=True)
sub = ElementwisePrimitive("sub", np.subtract, shape_rule=elementwise_shape_rule, jvp=_sub_jvp,
                           input_vjps=(_pass_vjp, _negate_vjp), linear=True, right_identity=0)
mul = ElementwisePrimitive("mul", np.multiply, shape_rule=elementwise_shape_rule, jvp=_mul_jvp,
                           input_vjps=(_mul_vjp_x, _mul_vjp_y), left_identity=1, right_identity=1,
                           commutative=True)
div = ElementwisePrimitive("div", np.true_divide, shape_rule=families.float_shape_rule, jvp=_div_jvp,
                           input_vjps=(_div_vjp_x, _div_vjp_y), right_identity=1)


def _neg_transpose(out_bar, x):
    return neg(out_bar)


neg = families.linear("neg", np.negative, _neg_transpose, shape_rule=elementwise_shape_rule, unary_elementwise=True,
                      involution=True)


def _pow_d_base(x, y, out):
    # d/dx x**y = y * x**(y-1); written so that y == 0 gives 0 (not 0 * inf) at x == 0.
    if isinstance(y, (int, float)):
        if y == 0:
            return 0.0
        if y == 1:
            return 1.0
        if y == 2:
            return mul(x, 2.0)
        return mul(y, power(x, y - 1))
    from .comparison import eq, select
    return select(eq(y, 0), 0.0, mul(y, power(x, sub(y, 1))))


def _pow_d_exponent(x, y, out):
    # d/dy x**y = log(x) * x**y; taken as 0 at x == 0 (where x**y is 0 or 1 and constant in y).
    if isinstance(x, (int, float)) and x > 0:  # 2.0 ** y: a Python log keeps a float32 y float32
        return mul(math.log(x), out)
    from .comparison import eq, select
    from .elementwise import log
    safe_base = select(eq(x, 0), 1.0, x)
    return mul(log(safe_base), out)


power = families.binary("pow", np.power, (_pow_d_base, _pow_d_exponent),
                        convention="d/dy at x = 0 is 0; d/dx at y = 0 is 0")


def real_constant(value, *like):
    """``value`` as a 0-d array of the real floating dtype of ``like`` (arrays, traced values or numbers): a choice
    between two Python numbers is float64 in NumPy, which would make a float32 derivative float64."""
    dtype = np.result_type(*(v.dtype if hasattr(v, "dtype") else v for v in like))
    if dtype.kind not in "fc":
        dtype = np.dtype(np.float64)
    return np.asarray(value, dtype=np.finfo(dtype).dtype)


def _share(wins, ties, x, y):
    # 1 where this argument wins, 1/2 on ties, 0 otherwise; built with select so that a NaN in either
    # argument gives 0 here (not NaN), and fmax/fmin's NaN-ignoring choice keeps a clean derivative.
    from .comparison import select
    return select(wins, real_constant(1.0, x, y), select(ties, real_constant(0.5, x, y), real_constant(0.0, x, y)))


def _maximum_d_first(x, y, out):
    from .comparison import eq, gt
    return _share(gt(x, y), eq(x, y), x, y)


def _maximum_d_second(x, y, out):
    from .comparison import eq, lt
    return _share(lt(x, y), eq(x, y), x, y)


# maximum/minimum split the derivative equally between tied arguments, like JAX.
maximum = families.binary("maximum", np.maximum, (_maximum_d_first, _maximum_d_second),
                          convention="ties split the derivative equally: d/dx = d/dy = 1/2 where x == y")
minimum = families.binary("minimum", np.minimum, (_maximum_d_second, _maximum_d_first),
                          convention="ties split the derivative equally: d/dx = d/dy = 1/2 where x == y")


def _square(x):
    # A Python number squared in Python: NumPy would return a float64 scalar, which is not weak and would make
    # atan2(x, 2.0)'s float32 derivative float64.
    return x * x if isinstance(x, (int, float)) else mul(x, x)


def _squared_norm(x, y):
    return add(_square(x), _square(y))


def _safe_denominator(value):
    from .comparison import eq, select
    return select(eq(value, 0), 1.0, value)


atan2 = families.binary(
    "atan2", np.arctan2,
    (lambda y, x, out: div(x, _safe_denominator(_squared_norm(x, y))),
     lambda y, x, out: neg(div(y, _safe_denominator(_squared_norm(x, y))))),
    convention="derivative at (0, 0) is taken as 0", float_result=True)


def _logaddexp_d(which):
    # exp(x - out), except where an argument is the (infinite) result itself, where inf - inf is NaN: there the
    # derivative is 1 for that argument and 0 for the other, or 1/2 each when both are (a tie, as in maximum).
    from .comparison import eq, select
    from .elementwise import exp

    def derivative(x, y, out):
        mine, other = (x, y) if which == 0 else (y, x)
        is_result = eq(mine, out)
        tie = select(eq(other, out), real_constant(0.5, x, y), real_constant(1.0, x, y))
        safe_difference = sub(select(is_result, 0.0, mine), select(is_result, 0.0, out))  # no inf - inf
        return select(is_result, tie, exp(safe_difference))
    derivative.__name__ = f"logaddexp_d{'xy'[which]}"
    return derivative


logaddexp = families.binary("logaddexp", np.logaddexp, (_logaddexp_d(0), _logaddexp_d(1)), float_result=True,
                            convention="where an argument equals the infinite result its derivative is 1 (1/2 on "
                                       "a tie), the other's 0")

hypot = families.binary(
    "hypot", np.hypot,
    (lambda x, y, out: div(x, _safe_denominator(out)),
     lambda x, y, out: div(y, _safe_denominator(out))),
    convention="derivative at (0, 0) is taken as 0", float_result=True)


def _floor_quotient(x, y, out):
    return neg(floor_divide(x, y))


def _trunc_quotient(x, y, out):
    from .elementwise import trunc
    return neg(trunc(div(x, y)))


# mod is x - floor(x/y)*y (NumPy's remainder); fmod truncates (C's fmod). Jumps have derivative 0.
mod = families.binary("mod", np.mod, (lambda x, y, out: 1.0, _floor_quotient),
                      convention="derivative at the jumps of floor(x/y) is taken from the right piece")
fmod = families.binary("fmod", np.fmod, (lambda x, y, out: 1.0, _trunc_quotient),
                       convention="derivative at the jumps of trunc(x/y) is taken from the right piece")
floor_divide = families.zero_derivative("floor_divide", np.floor_divide, shape_rule=elementwise_shape_rule,
                                        elementwise=True, convention="piecewise constant: derivative 0")
