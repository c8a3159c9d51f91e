"""Special-function primitives (gammaln, polygamma, erf family, Bessel functions, incomplete gamma/beta,
xlogy, zeta): the ones a composite would compute slowly or inaccurately. SciPy evaluates them, imported
on first use so that ``import chainrule`` stays fast."""
import numpy as np

from ..core.primitive import Primitive
from . import families
from .arithmetic import add, div, mul, neg, sub
from .comparison import eq, select
from .elementwise import exp, log, log1p, sign
from .families import ElementwisePrimitive, unary

TWO_OVER_SQRT_PI = float(2.0 / np.sqrt(np.pi))
SQRT_PI_OVER_TWO = float(np.sqrt(np.pi) / 2.0)


def scipy_special():
    """``scipy.special``, imported when a special function is first evaluated."""
    import scipy.special
    return scipy.special


def _evaluated(name):
    def impl(*args, **params):
        return getattr(scipy_special(), name)(*args, **params)
    impl.__name__ = name
    return impl


gammaln = unary("gammaln", _evaluated("gammaln"), lambda x, y: polygamma(x, order=0),
                convention="log|Gamma(x)|: poles at non-positive integers (derivative infinite there)")
polygamma = unary("polygamma", lambda x, *, order: scipy_special().polygamma(order, x),
                  lambda x, y, *, order: polygamma(x, order=order + 1),
                  convention="polygamma(x, order=0) is digamma; poles at non-positive integers")
gamma = unary("gamma", _evaluated("gamma"), lambda x, y: mul(y, polygamma(x, order=0)),
              convention="poles at non-positive integers")
erf = unary("erf", _evaluated("erf"), lambda x, y: mul(TWO_OVER_SQRT_PI, exp(neg(mul(x, x)))))
erfc = unary("erfc", _evaluated("erfc"), lambda x, y: mul(-TWO_OVER_SQRT_PI, exp(neg(mul(x, x)))))
erfinv = unary("erfinv", _evaluated("erfinv"), lambda x, y: mul(SQRT_PI_OVER_TWO, exp(mul(y, y))),
               convention="derivative infinite at x = -1 and x = 1")
# erfcx(x) = exp(x^2) erfc(x): its derivative 2 x erfcx(x) - 2/sqrt(pi) stays finite where erfc underflows.
erfcx = unary("erfcx", _evaluated("erfcx"), lambda x, y: sub(mul(mul(2.0, x), y), TWO_OVER_SQRT_PI))


def _iv_derivative(x, y, *, order):
    return mul(0.5, add(iv(x, order=order - 1), iv(x, order=order + 1)))


def _ive_derivative(x, y, *, order):
    # ive = iv exp(-|x|): the recurrence for iv, minus sign(x) ive for the scaling factor.
    recurrence = mul(0.5, add(ive(x, order=order - 1), ive(x, order=order + 1)))
    return sub(recurrence, mul(sign(x), y))


def _jv_derivative(x, y, *, order):
    return mul(0.5, sub(jv(x, order=order - 1), jv(x, order=order + 1)))


def _yv_derivative(x, y, *, order):
    return mul(0.5, sub(yv(x, order=order - 1), yv(x, order=order + 1)))


# Bessel functions of fixed real order, differentiable in x (the order is a parameter, not an array).
iv = unary("iv", lambda x, *, order: scipy_special().iv(order, x), _iv_derivative)
ive = unary("ive", lambda x, *, order: scipy_special().ive(order, x), _ive_derivative,
            convention="ive'(0) takes sign(0) = 0 in the scaling factor's derivative")
jv = unary("jv", lambda x, *, order: scipy_special().jv(order, x), _jv_derivative)
yv = unary("yv", lambda x, *, order: scipy_special().yv(order, x), _yv_derivative,
           convention="defined for x > 0; infinite derivative at 0")


def _safe_ratio(numerator, denominator):
    """numerator / denominator, taken as 0 where the numerator is 0 (the xlogy convention)."""
    at_zero = eq(numerator, 0)
    return select(at_zero, 0.0, div(numerator, select(at_zero, 1.0, denominator)))


xlogy = families.binary("xlogy", _evaluated("xlogy"),
                        (lambda x, y, out: log(y), lambda x, y, out: _safe_ratio(x, y)),
                        convention="xlogy(0, y) = 0; d/dy is 0 where x = 0; d/dx is log(y)", float_result=True)
xlog1py = families.binary("xlog1py", _evaluated("xlog1py"),
                          (lambda x, y, out: log1p(y), lambda x, y, out: _safe_ratio(x, add(1.0, y))),
                          convention="xlog1py(0, y) = 0; d/dy is 0 where x = 0; d/dx is log1p(y)",
                          float_result=True)


def _not_differentiable_in(primitive_name, argument, hint):
    def refuse(*args):
        raise NotImplementedError(f"{primitive_name}: the derivative in its argument '{argument}' is not "
                                  f"implemented; {hint}")
    refuse.__name__ = f"{primitive_name}_derivative_in_{argument}"
    return refuse


_hold_fixed = "hold it fixed (pass a constant, or wrap it in chainrule.stop_gradient) and differentiate in the other"


def _zeta_d_q(s, q, out):
    return mul(neg(s), zeta(add(s, 1.0), q))


# Hurwitz zeta(s, q) = sum_n (n + q)^-s: differentiable in q; d/ds has no closed form in SciPy's functions.
zeta = families.binary("zeta", _evaluated("zeta"), (_not_differentiable_in("zeta", "x", _hold_fixed), _zeta_d_q),
                       float_result=True, convention="differentiable in q only; d/dx raises")


def _gamma_density(a, x, out):
    # d/dx P(a, x) = x^(a-1) exp(-x) / Gamma(a), in logs so that large a does not overflow.
    return exp(sub(sub(mul(sub(a, 1.0), log(x)), x), gammaln(a)))


gammainc = families.binary("gammainc", _evaluated("gammainc"),
                           (_not_differentiable_in("gammainc", "a", _hold_fixed), _gamma_density),
                           float_result=True, convention="differentiable in x only; d/da raises")
gammaincc = families.binary("gammaincc", _evaluated("gammaincc"),
                            (_not_differentiable_in("gammaincc", "a", _hold_fixed),
                             lambda a, x, out: neg(_gamma_density(a, x, out))),
                            float_result=True, convention="differentiable in x only; d/da raises")


def _beta_density(a, b, x):
    # d/dx I_x(a, b) = x^(a-1) (1-x)^(b-1) / B(a, b), in logs.
    log_beta = sub(add(gammaln(a), gammaln(b)), gammaln(add(a, b)))
    return exp(sub(add(mul(sub(a, 1.0), log(x)), mul(sub(b, 1.0), log1p(neg(x)))), log_beta))


def _betainc_jvp(primals, tangents):
    a, b, x = primals
    a_dot, b_dot, x_dot = tangents
    if a_dot is not None or b_dot is not None:
        _not_differentiable_in("betainc", "a" if a_dot is not None else "b", _hold_fixed)()
    out = betainc.bind(a, b, x)
    return out, None if x_dot is None else mul(x_dot, _beta_density(a, b, x))


def _betainc_pullback_x(out_bar, out, a, b, x):
    return mul(out_bar, _beta_density(a, b, x))


_betainc_refuse_a = _not_differentiable_in("betainc", "a", _hold_fixed)
_betainc_refuse_b = _not_differentiable_in("betainc", "b", _hold_fixed)


def _betainc_pullback(out_bar, out, a, b, x):
    return _betainc_refuse_a(), None, None


betainc = ElementwisePrimitive("betainc", _evaluated("betainc"), shape_rule=families.float_shape_rule,
                               jvp=_betainc_jvp, vjp=_betainc_pullback, input_vjps=(_betainc_refuse_a, _betainc_refuse_b, _betainc_pullback_x),
                               convention="regularized I_x(a, b): differentiable in x only; a and b are held fixed")

__all__ = [name for name, value in list(globals().items()) if isinstance(value, Primitive)]
