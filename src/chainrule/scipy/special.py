"""``chainrule.scipy.special``: SciPy's special functions with first and higher derivatives; the hard ones
are primitives in ``chainrule.ops.special``, the rest composites of them."""
import inspect as _inspect

import numpy as _np
import scipy.special as _special

from .. import numpy as _cnp
from ..core.interpreter import ChainruleError as _ChainruleError
from ..numpy.arrays import is_traced as _is_traced, numpy_when_untraced as _numpy_when_untraced
from ..ops import control as _control, special as _ops


def _array_like(value):
    return value is not None and not isinstance(value, str)


def _precision_kept(scipy_function, signature):
    """SciPy's function, its result given the precision of the inputs (Python numbers weak, as in NumPy): SciPy
    answers some float32 calls in float64 (a Python float beside a float32 array, polygamma), and float32 in
    must give float32 out, with a transform or without. It takes the front's ``signature`` (keywords are bound
    to SciPy's positions: ufuncs take their inputs by position only)."""
    def plain(*args, **kwargs):
        if kwargs:
            bound = signature.bind(*args, **kwargs)
            args, kwargs = bound.args, bound.kwargs
        arrays = [value if isinstance(value, (int, float, complex, _np.ndarray, _np.generic)) else _np.asarray(value)
                  for value in (*args, *kwargs.values()) if _array_like(value)]
        return _ops.in_input_precision(scipy_function(*args, **kwargs), *arrays)
    plain.__name__ = getattr(scipy_function, "__name__", "plain")
    plain.__signature__ = signature
    return plain


def _scipy_when_untraced(scipy_function):
    """``chainrule.numpy``'s dispatch (SciPy's own function when no argument is traced), keeping the precision."""
    def decorate(traced_function):
        plain = _precision_kept(scipy_function, _inspect.signature(traced_function))
        return _numpy_when_untraced(plain)(traced_function)
    return decorate


def _concrete(value):
    """The value of ``value`` where it is known (plain, or traced eagerly), else None (staged by jit)."""
    if not _is_traced(value):
        return value
    try:
        return _cnp.asarray(value).concrete_value()
    except (NotImplementedError, TypeError, _ChainruleError):  # staged (jit) or batched (vmap): not known
        return None


_SQRT_HALF = float(_np.sqrt(0.5))  # a Python float: NumPy's float64 scalars would promote float32 inputs


@_scipy_when_untraced(_special.gammaln)
def gammaln(x):
    """log|Gamma(x)|; derivative digamma(x).

    >>> import chainrule as cr
    >>> round(float(cr.grad(gammaln)(1.0)), 6)  # -Euler's gamma
    -0.577216
    """
    return _ops.gammaln(x)


@_scipy_when_untraced(_special.loggamma)
def loggamma(x):
    """Principal branch of log Gamma(x): gammaln for real x > 0, nan for real x < 0 (as in SciPy), complex x
    accepted; derivative digamma(x).

    >>> round(float(loggamma(4.0)), 6)
    1.791759
    >>> import chainrule as cr
    >>> round(complex(cr.jvp(loggamma, (1.0 + 1.0j,), (1.0 + 0.0j,))[1]).real, 6)  # Re digamma(1 + i)
    0.09465
    """
    return _ops.loggamma(x)


@_scipy_when_untraced(_special.gamma)
def gamma(x):
    """Gamma(x); derivative Gamma(x) digamma(x).

    >>> import chainrule as cr
    >>> round(float(cr.grad(gamma)(1.0)), 6)
    -0.577216
    """
    return _ops.gamma(x)


@_scipy_when_untraced(_special.digamma)
def digamma(x):
    """psi(x) = d/dx log Gamma(x); derivative polygamma(1, x).

    >>> import chainrule as cr
    >>> round(float(cr.grad(digamma)(1.0)), 6)  # pi^2 / 6
    1.644934
    """
    return _ops.polygamma(x, order=0)


psi = digamma


@_scipy_when_untraced(_special.rgamma)
def rgamma(x):
    """1 / Gamma(x): entire, 0 at the poles of Gamma; derivative -psi(x) / Gamma(x), (-1)^n n! at x = -n.

    >>> import chainrule as cr
    >>> float(cr.grad(rgamma)(0.0)), float(cr.grad(rgamma)(-1.0))
    (1.0, -1.0)
    """
    return _ops.rgamma(x)


@_scipy_when_untraced(_special.gammasgn)
def gammasgn(x):
    """Sign of Gamma(x): 1 for x > 0, (-1)^ceil(-x) for negative non-integers, nan at the poles; a piecewise
    constant, so its derivative is 0.

    >>> import chainrule as cr
    >>> float(gammasgn(-0.5)), float(cr.grad(gammasgn)(-0.5))
    (-1.0, 0.0)
    """
    x = _control.stop_gradient(_cnp.asarray(x))
    finite = _cnp.isfinite(x)
    floor = _cnp.floor(_cnp.where(finite, x, 0.5))
    # Gamma is negative on (-1, 0), (-3, -2), ...: where floor(x) is odd; x = -0.0 has sign -1 as in SciPy
    odd = _cnp.equal(_cnp.mod(floor, 2.0), 1.0)
    pole = _cnp.logical_or(_cnp.equal(floor, x), _cnp.logical_not(finite))  # -inf is a limit of poles: nan
    negative_side = _cnp.where(pole, _np.nan, _cnp.where(odd, -1.0, 1.0))
    at_zero = _cnp.copysign(_cnp.ones_like(x), x)
    out = _cnp.where(_cnp.greater(x, 0.0), 1.0,
                     _cnp.where(_cnp.equal(x, 0.0), at_zero, _cnp.where(_cnp.less(x, 0.0), negative_side, _np.nan)))
    return _cnp.astype(out, _cnp.result_type(x, 1.0))


def polygamma(n, x):
    """polygamma(n, x) for a fixed integer order ``n``, differentiable in ``x``.

    >>> import chainrule as cr
    >>> round(float(cr.grad(lambda x: polygamma(1, x))(1.0)), 6)  # -2 zeta(3)
    -2.404114
    """
    if _is_traced(n) or _np.ndim(n):
        raise TypeError("polygamma: the order n must be a Python integer (the derivative is taken in x only)")
    if not _is_traced(x):  # decided after checking n, which SciPy would take as an array
        return _ops.in_input_precision(_special.polygamma(n, x), x)
    return _ops.polygamma(x, order=int(n))


@_scipy_when_untraced(_special.betaln)
def betaln(a, b):
    """log|B(a, b)|, accurate when a or b is large (where gammaln(a) + gammaln(b) - gammaln(a + b) cancels);
    derivative psi(a) - psi(a + b) in a, taken without that cancellation too.

    >>> round(float(betaln(2.0, 3.0)), 6)  # log(1/12)
    -2.484907
    >>> import chainrule as cr
    >>> float(cr.grad(betaln)(1e16, 2.0))  # psi(a) - psi(a + 2), about -2 / a
    -2e-16
    """
    return _ops.betaln(a, b)


@_scipy_when_untraced(_special.beta)
def beta(a, b):
    """B(a, b) = sign * exp(betaln(a, b)), the sign from the three gammas (negative for some negative a, b).

    >>> import chainrule as cr
    >>> round(float(cr.grad(beta)(2.0, 3.0)), 6)
    -0.090278
    >>> round(float(cr.grad(beta)(-0.5, 2.0)), 6)
    -0.0
    """
    magnitude = _cnp.exp(betaln(a, b))
    sign = gammasgn(a) * gammasgn(b) * gammasgn(_cnp.add(a, b))
    return _cnp.astype(sign, _cnp.result_type(magnitude)) * magnitude


def _multigammaln_plain(a, d):
    return _ops.in_input_precision(_special.multigammaln(a, d), a)


@_numpy_when_untraced(_multigammaln_plain)
def multigammaln(a, d):
    """Multivariate log-gamma of dimension ``d``: d(d-1)/4 log(pi) + sum_j gammaln(a - j/2), for a > (d - 1)/2.

    >>> round(float(multigammaln(3.0, 2)), 6)
    1.550195
    """
    if _is_traced(d) or _np.ndim(d) or int(d) != d or d < 1:
        raise TypeError(f"multigammaln: the dimension d must be a positive Python integer, got {d!r}")
    d = int(d)
    known = _concrete(a)
    if known is not None and _np.any(_np.asarray(known) <= 0.5 * (d - 1)):
        raise ValueError(f"multigammaln: a must be greater than (d - 1) / 2 = {0.5 * (d - 1)} for d = {d} "
                         f"(as in SciPy); got a = {known!r}")
    total = 0.25 * d * (d - 1) * float(_np.log(_np.pi))
    for j in range(d):
        total = total + gammaln(a - 0.5 * j)
    return total


@_scipy_when_untraced(_special.erf)
def erf(x):
    """The error function.

    >>> import chainrule as cr
    >>> round(float(cr.grad(erf)(0.0)), 6)  # 2 / sqrt(pi)
    1.128379
    """
    return _ops.erf(x)


@_scipy_when_untraced(_special.erfc)
def erfc(x):
    """1 - erf(x), accurate where erf(x) is close to 1.

    >>> print(f"{float(erfc(5.0)):.4e}")
    1.5375e-12
    """
    return _ops.erfc(x)


@_scipy_when_untraced(_special.erfinv)
def erfinv(x):
    """Inverse of erf on (-1, 1).

    >>> import chainrule as cr
    >>> round(float(cr.grad(erfinv)(0.0)), 6)  # sqrt(pi) / 2
    0.886227
    """
    return _ops.erfinv(x)


@_scipy_when_untraced(_special.erfcinv)
def erfcinv(y):
    """Inverse of erfc on (0, 2), as SciPy computes it: -ndtri(y / 2) / sqrt(2), accurate for y near 0.

    >>> import chainrule as cr
    >>> round(float(erfcinv(0.5)), 6)
    0.476936
    >>> round(float(cr.grad(erfcinv)(1.0)), 6)  # -sqrt(pi) / 2
    -0.886227
    """
    return -ndtri(0.5 * y) * _SQRT_HALF


@_scipy_when_untraced(_special.erfcx)
def erfcx(x):
    """Scaled complementary error function exp(x^2) erfc(x).

    >>> round(float(erfcx(0.0)), 6)
    1.0
    """
    return _ops.erfcx(x)


@_scipy_when_untraced(_special.ndtr)
def ndtr(x):
    """Standard normal CDF, 0.5 erfc(-x / sqrt(2)).

    >>> import chainrule as cr
    >>> round(float(cr.grad(ndtr)(0.0)), 6)  # 1 / sqrt(2 pi)
    0.398942
    """
    return 0.5 * erfc(x * -_SQRT_HALF)


@_scipy_when_untraced(_special.log_ndtr)
def log_ndtr(x):
    """log of the standard normal CDF, accurate in both tails (through erfcx on the left).

    >>> import chainrule as cr
    >>> round(float(cr.grad(log_ndtr)(-30.0)), 4)  # about -x for very negative x
    30.0333
    """
    # log(erfc(z)/2) = log(erfcx(z)/2) - z^2 for z = -x/sqrt(2) >= 0 (left side); log1p(-ndtr(-x)) on the right.
    left = _cnp.less(x, 0.0)
    z = _cnp.where(left, x, 0.0) * -_SQRT_HALF
    left_value = _cnp.log(0.5 * erfcx(z)) - z * z
    right_value = _cnp.log1p(-0.5 * erfc(_cnp.where(left, 0.0, x) * _SQRT_HALF))
    return _cnp.where(left, left_value, right_value)


@_scipy_when_untraced(_special.ndtri)
def ndtri(p):
    """Inverse of the standard normal CDF (SciPy's ndtri, accurate in the tails).

    >>> import chainrule as cr
    >>> round(float(ndtri(0.975)), 6)
    1.959964
    >>> f"{float(cr.grad(ndtri)(1e-20)):.4e}"  # 1 / pdf(ndtri(1e-20)) = 1 / pdf(-9.2623)
    '1.0675e+19'
    """
    return _ops.ndtri(p)


@_scipy_when_untraced(_special.expit)
def expit(x):
    """The logistic sigmoid 1 / (1 + exp(-x)), as (1 + tanh(x/2)) / 2 (no overflow at any x).

    >>> import chainrule as cr
    >>> float(cr.grad(expit)(0.0))
    0.25
    """
    return 0.5 * (_cnp.tanh(0.5 * x) + 1.0)


@_scipy_when_untraced(_special.logit)
def logit(x):
    """log(x / (1 - x)).

    >>> import chainrule as cr
    >>> float(cr.grad(logit)(0.5))
    4.0
    """
    return _cnp.log(x) - _cnp.log1p(-x)


@_scipy_when_untraced(_special.log_expit)
def log_expit(x):
    """log(expit(x)) = -log1p(exp(-x)) (for x < 0: x - log1p(exp(x))), accurate for large |x|.

    >>> round(float(log_expit(-100.0)), 6)
    -100.0
    """
    # Each side is the whole analytic function, so every derivative order is exact up to and at x = 0.
    left = _cnp.less(x, 0.0)
    below = _cnp.where(left, x, 0.0)
    above = _cnp.where(left, 0.0, x)
    return _cnp.where(left, below - _cnp.log1p(_cnp.exp(below)), -_cnp.log1p(_cnp.exp(-above)))


@_scipy_when_untraced(_special.logsumexp)
def logsumexp(a, axis=None, b=None, keepdims=False, return_sign=False):
    """log(sum(b * exp(a))) over ``axis``, shifted by the maximum for stability; its gradient is the softmax.

    >>> import chainrule as cr, numpy
    >>> cr.grad(logsumexp)(numpy.log(numpy.array([1.0, 3.0])))
    array([0.25, 0.75])
    """
    a = _cnp.asarray(a)
    # The shift cancels exactly in value and derivative, so it is held constant (and 0 where it is infinite).
    shift = _cnp.max(_control.stop_gradient(a), axis=axis, keepdims=True)
    shift = _cnp.where(_cnp.isfinite(shift), shift, 0.0)
    terms = _cnp.exp(a - shift)
    if b is not None:
        terms = terms * b
    total = _cnp.sum(terms, axis=axis, keepdims=True)
    sign = None
    if return_sign:
        sign = _cnp.sign(total)
        total = _cnp.abs(total)
    out = _cnp.log(total) + shift
    if not keepdims:
        out = _cnp.squeeze(out, axis=axis) if axis is not None else _cnp.reshape(out, ())
        if sign is not None:
            sign = _cnp.squeeze(sign, axis=axis) if axis is not None else _cnp.reshape(sign, ())
    return (out, sign) if return_sign else out


@_scipy_when_untraced(_special.softmax)
def softmax(x, axis=None):
    """exp(x) / sum(exp(x)) over ``axis``, computed as exp(x - logsumexp(x)).

    >>> import numpy
    >>> softmax(numpy.log(numpy.array([1.0, 3.0])))
    array([0.25, 0.75])
    """
    return _cnp.exp(x - logsumexp(x, axis=axis, keepdims=True))


@_scipy_when_untraced(_special.log_softmax)
def log_softmax(x, axis=None):
    """x - logsumexp(x) over ``axis``.

    >>> import numpy
    >>> numpy.exp(log_softmax(numpy.log(numpy.array([1.0, 3.0]))))
    array([0.25, 0.75])
    """
    return x - logsumexp(x, axis=axis, keepdims=True)


@_scipy_when_untraced(_special.xlogy)
def xlogy(x, y):
    """x * log(y), 0 where x = 0. Convention: d/dy = 0 where x = 0.

    >>> import chainrule as cr
    >>> float(cr.grad(xlogy, argnums=1)(0.0, 0.0))
    0.0
    """
    return _ops.xlogy(x, y)


@_scipy_when_untraced(_special.xlog1py)
def xlog1py(x, y):
    """x * log1p(y), 0 where x = 0.

    >>> import chainrule as cr
    >>> float(cr.grad(xlog1py)(2.0, 0.0))
    0.0
    """
    return _ops.xlog1py(x, y)


@_scipy_when_untraced(_special.entr)
def entr(x):
    """-x log(x) for x > 0, 0 at 0, -inf below.

    >>> import chainrule as cr
    >>> float(cr.grad(entr)(1.0))  # -log(x) - 1
    -1.0
    """
    return _cnp.where(_cnp.less(x, 0.0), -_np.inf, -xlogy(x, x))


@_scipy_when_untraced(_special.rel_entr)
def rel_entr(x, y):
    """x log(x / y) for x, y > 0; 0 where x = 0 and y >= 0; inf elsewhere.

    >>> import chainrule as cr
    >>> float(cr.grad(rel_entr, argnums=1)(1.0, 2.0))  # -x / y
    -0.5
    """
    x, y = _ops.in_common_precision(x, y)
    valid = _cnp.logical_and(_cnp.greater_equal(x, 0.0), _cnp.greater_equal(y, 0.0))
    # In the valid region use safe operands, so the other branch's inf never meets a derivative.
    safe_y = _cnp.where(valid, y, 1.0)
    safe_x = _cnp.where(valid, x, 1.0)
    return _cnp.where(valid, xlogy(safe_x, safe_x) - xlogy(safe_x, safe_y), _np.inf)


@_scipy_when_untraced(_special.kl_div)
def kl_div(x, y):
    """rel_entr(x, y) - x + y.

    >>> round(float(kl_div(1.0, 2.0)), 6)
    0.306853
    """
    x, y = _ops.in_common_precision(x, y)
    return rel_entr(x, y) - x + y


def sinc(x):
    """sin(pi x) / (pi x) (``numpy.sinc``), smooth at 0.

    >>> float(sinc(0.0))
    1.0
    """
    return _cnp.sinc(x)


@_scipy_when_untraced(_special.iv)
def iv(v, x):
    """Modified Bessel function of the first kind, fixed real order ``v``, differentiable in ``x``.

    >>> import chainrule as cr
    >>> round(float(cr.grad(lambda x: iv(0, x))(1.0)), 6)  # I1(1)
    0.565159
    """
    return _ops.iv(x, order=_order(v, "iv"))


@_scipy_when_untraced(_special.ive)
def ive(v, x):
    """Exponentially scaled iv: iv(v, x) exp(-|x|), differentiable in ``x``.

    >>> round(float(ive(0, 1.0)), 6)
    0.465760
    """
    return _ops.ive(x, order=_order(v, "ive"))


@_scipy_when_untraced(_special.jv)
def jv(v, x):
    """Bessel function of the first kind, fixed real order ``v``, differentiable in ``x``.

    >>> import chainrule as cr
    >>> round(float(cr.grad(lambda x: jv(0, x))(1.0)), 6)  # -J1(1)
    -0.440051
    """
    return _ops.jv(x, order=_order(v, "jv"))


jn = jv  # as in SciPy: the integer-order name of jv


@_scipy_when_untraced(_special.yn)
def yn(n, x):
    """Bessel function of the second kind of integer order ``n``, differentiable in ``x`` > 0.

    >>> import chainrule as cr
    >>> round(float(cr.grad(lambda x: yn(0, x))(1.0)), 6)  # -Y1(1)
    0.781213
    """
    if _is_traced(n) or _np.ndim(n) or int(n) != n:
        raise TypeError(f"yn: the order n must be a Python integer (use yv for real orders); got {n!r}")
    return _ops.yv(x, order=float(n))


@_scipy_when_untraced(_special.yv)
def yv(v, x):
    """Bessel function of the second kind, fixed real order ``v``, differentiable in ``x`` > 0.

    >>> round(float(yv(0, 1.0)), 6)
    0.088257
    """
    return _ops.yv(x, order=_order(v, "yv"))


def _order(v, name):
    if _is_traced(v) or _np.ndim(v):
        raise TypeError(f"{name}: the order v must be a Python number (the derivative is taken in x only); "
                        f"got {type(v).__name__}")
    return float(v)


@_scipy_when_untraced(_special.i0)
def i0(x):
    """Modified Bessel function I0.

    >>> round(float(i0(1.0)), 6)
    1.266066
    """
    return iv(0, x)


@_scipy_when_untraced(_special.i0e)
def i0e(x):
    """I0(x) exp(-|x|).

    >>> round(float(i0e(1.0)), 6)
    0.46576
    """
    return ive(0, x)


@_scipy_when_untraced(_special.i1)
def i1(x):
    """Modified Bessel function I1.

    >>> round(float(i1(1.0)), 6)
    0.565159
    """
    return iv(1, x)


@_scipy_when_untraced(_special.i1e)
def i1e(x):
    """I1(x) exp(-|x|).

    >>> round(float(i1e(1.0)), 6)
    0.207910
    """
    return ive(1, x)


@_scipy_when_untraced(_special.j0)
def j0(x):
    """Bessel function J0.

    >>> round(float(j0(1.0)), 6)
    0.765198
    """
    return jv(0, x)


@_scipy_when_untraced(_special.j1)
def j1(x):
    """Bessel function J1.

    >>> round(float(j1(1.0)), 6)
    0.440051
    """
    return jv(1, x)


@_scipy_when_untraced(_special.y0)
def y0(x):
    """Bessel function Y0 (x > 0).

    >>> round(float(y0(1.0)), 6)
    0.088257
    """
    return yv(0, x)


@_scipy_when_untraced(_special.y1)
def y1(x):
    """Bessel function Y1 (x > 0).

    >>> round(float(y1(1.0)), 6)
    -0.781213
    """
    return yv(1, x)


@_scipy_when_untraced(_special.zeta)
def zeta(x, q=None):
    """Riemann (q=None) or Hurwitz zeta; differentiable in ``q`` only (d/dx raises NotImplementedError).

    >>> import chainrule as cr
    >>> round(float(cr.grad(zeta, argnums=1)(2.0, 1.0)), 6)  # -2 zeta(3)
    -2.404114
    """
    return _ops.zeta(x, 1.0 if q is None else q)


@_scipy_when_untraced(_special.gammainc)
def gammainc(a, x):
    """Regularized lower incomplete gamma P(a, x); differentiable in ``x`` and in the shape ``a``.

    dP/da has no closed form: it is summed numerically (a series for x < a + 1, a continued fraction
    beyond), to about 1e-13 relative. Its own derivative in ``a`` raises NotImplementedError.

    >>> import chainrule as cr
    >>> round(float(cr.grad(gammainc, argnums=1)(1.0, 1.0)), 6)  # exp(-1)
    0.367879
    >>> round(float(cr.grad(gammainc)(1.0, 1.0)), 6)  # dP/da at a = 1, x = 1 (mpmath: -0.4317297106)
    -0.43173
    """
    return _ops.gammainc(a, x)


@_scipy_when_untraced(_special.gammaincc)
def gammaincc(a, x):
    """Regularized upper incomplete gamma Q(a, x) = 1 - P(a, x); differentiable in ``x`` and ``a``
    (dQ/da = -dP/da, summed numerically, see ``gammainc``).

    >>> round(float(gammaincc(1.0, 1.0)), 6)
    0.367879
    """
    return _ops.gammaincc(a, x)


@_scipy_when_untraced(_special.betainc)
def betainc(a, b, x):
    """Regularized incomplete beta I_x(a, b); differentiable in ``x``, ``a`` and ``b``.

    dI/da and dI/db have no closed form: they are summed numerically (a positive series, taken on the
    smaller tail through I_x(a, b) = 1 - I_{1-x}(b, a)), to about 1e-12 relative. Their own derivatives
    in ``a`` and ``b`` raise NotImplementedError.

    >>> import chainrule as cr
    >>> float(cr.grad(betainc, argnums=2)(1.0, 1.0, 0.3))
    1.0
    >>> round(float(cr.grad(betainc, argnums=1)(1.0, 1.0, 0.3)), 6)  # I = 1 - (1-x)^b: -(1-x)^b log(1-x)
    0.249672
    """
    return _ops.betainc(a, b, x)
