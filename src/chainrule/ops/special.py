"""Special-function primitives (gammaln, loggamma, rgamma, betaln, polygamma, erf family, Bessel functions,
incomplete gamma/beta, xlogy, zeta): the ones a composite would compute slowly or inaccurately. SciPy evaluates them, imported
on first use so that ``import chainrule`` stays fast."""
import numpy as np

from ..core.primitive import Primitive
from . import families
from .arithmetic import add, div, mul, neg, sub
from .comparison import eq, ge, logical_and, lt, select
from .elementwise import cos, exp, expm1, is_complex, log, log1p, sign, sin
from .families import ElementwisePrimitive, unary

TWO_OVER_SQRT_PI = float(2.0 / np.sqrt(np.pi))
SQRT_TWO_PI = float(np.sqrt(2.0 * np.pi))
SQRT_PI_OVER_TWO = float(np.sqrt(np.pi) / 2.0)
PI = float(np.pi)


def scipy_special():
    """``scipy.special``, imported when a special function is first evaluated."""
    import scipy.special
    return scipy.special


def in_input_precision(out, *inputs):
    """``out`` in the precision of ``inputs`` (Python numbers weak, as NumPy promotes them): SciPy computes some
    single-precision calls in double (polygamma, or any ufunc given a Python float beside a float32 array), and
    float32 in must give float32 out."""
    target = np.result_type(*inputs)
    if target.kind not in "fc" or not hasattr(out, "dtype") or out.dtype.kind not in "fc":
        return out
    precision = np.finfo(target).dtype
    if np.finfo(out.dtype).bits <= precision.itemsize * 8:
        return out
    return out.astype(np.promote_types(precision, np.complex64) if out.dtype.kind == "c" else precision)


def _evaluated(name):
    def impl(*args, **params):
        return in_input_precision(getattr(scipy_special(), name)(*args, **params), *args)
    impl.__name__ = name
    return impl


gammaln = unary("gammaln", _evaluated("gammaln"), lambda x, y: polygamma(x, order=0),
                convention="log|Gamma(x)|: poles at non-positive integers (derivative infinite there)")
def _polygamma_impl(x, *, order):
    if order == 0:  # psi itself: SciPy's polygamma would also evaluate zeta, which refuses complex input
        return in_input_precision(scipy_special().psi(x), x)
    if np.iscomplexobj(x):
        raise TypeError(f"polygamma: SciPy has no polygamma of order {order} for complex x (it is the derivative "
                        f"of complex digamma, and the second derivative of complex gamma and loggamma); "
                        f"differentiate those in real x only")
    return in_input_precision(scipy_special().polygamma(order, x), x)


polygamma = unary("polygamma", _polygamma_impl,
                  lambda x, y, *, order: polygamma(x, order=order + 1),
                  convention="polygamma(x, order=0) is digamma; poles at non-positive integers")
def _loggamma_impl(x):
    return in_input_precision(scipy_special().loggamma(x), x)


# The principal branch of log Gamma: for real x > 0 it is gammaln, for real x < 0 it is nan (as in SciPy), and
# complex x is accepted.
loggamma = unary("loggamma", _loggamma_impl, lambda x, y: polygamma(x, order=0),
                 convention="principal branch; nan for real x < 0; poles at non-positive integers")
gamma = unary("gamma", _evaluated("gamma"), lambda x, y: mul(y, polygamma(x, order=0)),
              convention="poles at non-positive integers")


def _rgamma_impl(x):
    return in_input_precision(scipy_special().rgamma(x), x)


def _rgamma_derivative(x, y):
    # -psi(x) / Gamma(x) is 0 * inf at the poles x = 0, -1, -2, ... (where 1/Gamma is 0 and smooth); below 1/2
    # the reflection 1/Gamma(x) = sin(pi x) Gamma(1 - x) / pi is differentiated instead, finite everywhere.
    low = lt(x, 0.5)
    reflected = select(low, x, 0.0)
    pi_x = mul(PI, reflected)
    below = mul(gamma(sub(1.0, reflected)),
                sub(cos(pi_x), mul(sin(pi_x), div(polygamma(sub(1.0, reflected), order=0), PI))))
    above = neg(mul(y, polygamma(select(low, 1.0, x), order=0)))
    return select(low, below, above)


rgamma = unary("rgamma", _rgamma_impl, _rgamma_derivative,
               convention="1/Gamma(x): entire; 0 at the poles of Gamma, with derivative (-1)^n n! at x = -n")

# Coefficients B_2k / (2k) of the asymptotic series psi(z) ~ log z - 1/(2z) - sum_k B_2k / (2k z^2k): eight terms
# leave a truncation error below 1e-18 relative from z = 10 on.
_DIGAMMA_SERIES = (1.0 / 12, -1.0 / 120, 1.0 / 252, -1.0 / 240, 1.0 / 132, -691.0 / 32760, 1.0 / 12, -3617.0 / 8160)
_DIGAMMA_SERIES_FROM = 10.0


def in_common_precision(*values):
    """``values`` with each Python number made an array of their common dtype: a select between two Python
    numbers is a float64 array, which would promote a float32 derivative."""
    dtype = np.result_type(*(value.dtype if hasattr(value, "dtype") else value for value in values))
    return tuple(value if hasattr(value, "dtype") else np.asarray(value, dtype=dtype) for value in values)


def _digamma_difference(x, y):
    """psi(x) - psi(x + y), written with primitives.

    The two digammas agree in most of their digits once x is large (psi(1e16) - psi(1e16 + 2) is -2e-16, both
    about 36.8), so there the difference is taken term by term from the asymptotic series: -log1p(y/x) -
    (y/x) / (2 (x + y)) + sum_k B_2k/(2k) x^-2k expm1(-2k log1p(y/x)), each term computed without cancellation.
    """
    x, y = in_common_precision(x, y)
    large = logical_and(ge(x, _DIGAMMA_SERIES_FROM), ge(add(x, y), _DIGAMMA_SERIES_FROM))
    # Only large arguments reach the series, only the others the digammas: neither side sees points where it
    # would overflow, so no inf or nan from the unused side reaches a derivative.
    x_large, y_large = select(large, x, _DIGAMMA_SERIES_FROM), select(large, y, 0.0)
    x_small, y_small = select(large, 1.0, x), select(large, 0.0, y)
    ratio = div(y_large, x_large)
    log_ratio = log1p(ratio)
    inverse = div(1.0, x_large)
    inverse_square = mul(inverse, inverse)  # underflows to 0 for huge x, where x * x would overflow
    series = sub(neg(log_ratio), mul(0.5, div(ratio, add(x_large, y_large))))
    power = inverse_square
    for k, coefficient in enumerate(_DIGAMMA_SERIES, start=1):
        series = add(series, mul(mul(coefficient, power), expm1(mul(-2.0 * k, log_ratio))))
        power = mul(power, inverse_square)
    direct = sub(polygamma(x_small, order=0), polygamma(add(x_small, y_small), order=0))
    return select(large, series, direct)


def _betaln_impl(a, b):
    return in_input_precision(scipy_special().betaln(a, b), a, b)


# log|B(a, b)|: SciPy's value (gammaln(a) + gammaln(b) - gammaln(a + b) loses every digit once a or b is large);
# d/da = psi(a) - psi(a + b), taken without the same cancellation.
betaln = families.binary("betaln", _betaln_impl,
                         (lambda a, b, out: _digamma_difference(a, b), lambda a, b, out: _digamma_difference(b, a)),
                         float_result=True, convention="log|B(a, b)|: poles where a, b or a + b is a non-positive "
                                                       "integer (derivative infinite there)")
erf = unary("erf", _evaluated("erf"), lambda x, y: mul(TWO_OVER_SQRT_PI, exp(neg(mul(x, x)))))
erfc = unary("erfc", _evaluated("erfc"), lambda x, y: mul(-TWO_OVER_SQRT_PI, exp(neg(mul(x, x)))))
erfinv = unary("erfinv", _evaluated("erfinv"), lambda x, y: mul(SQRT_PI_OVER_TWO, exp(mul(y, y))),
               convention="derivative infinite at x = -1 and x = 1")
# ndtri is the normal quantile; written as sqrt(2) erfinv(2p - 1) it is -inf for p below ~1e-16, where 2p - 1
# rounds to -1. Its derivative 1 / pdf(ndtri(p)) = sqrt(2 pi) exp(y^2 / 2).
ndtri = unary("ndtri", _evaluated("ndtri"), lambda x, y: mul(SQRT_TWO_PI, exp(mul(0.5, mul(y, y)))),
              convention="derivative infinite at p = 0 and p = 1")
# erfcx(x) = exp(x^2) erfc(x): its derivative 2 x erfcx(x) - 2/sqrt(pi) stays finite where erfc underflows.
erfcx = unary("erfcx", _evaluated("erfcx"), lambda x, y: sub(mul(mul(2.0, x), y), TWO_OVER_SQRT_PI))


def _iv_derivative(x, y, *, order):
    return mul(0.5, add(iv(x, order=order - 1), iv(x, order=order + 1)))


def _ive_derivative(x, y, *, order):
    # ive = iv exp(-|x|): the recurrence for iv, minus sign(x) ive for the scaling factor.
    if is_complex(x):
        raise NotImplementedError("ive: complex x is not differentiable here: its scaling exp(-|Re x|) is not "
                                  "holomorphic; use iv(v, x) * exp(-abs(x.real)) written out, or a real x")
    recurrence = mul(0.5, add(ive(x, order=order - 1), ive(x, order=order + 1)))
    return sub(recurrence, mul(sign(x), y))


def _jv_derivative(x, y, *, order):
    return mul(0.5, sub(jv(x, order=order - 1), jv(x, order=order + 1)))


def _yv_derivative(x, y, *, order):
    return mul(0.5, sub(yv(x, order=order - 1), yv(x, order=order + 1)))


def _iv_impl(x, *, order):
    return in_input_precision(scipy_special().iv(order, x), x)


def _ive_impl(x, *, order):
    return in_input_precision(scipy_special().ive(order, x), x)


def _jv_impl(x, *, order):
    return in_input_precision(scipy_special().jv(order, x), x)


def _yv_impl(x, *, order):
    return in_input_precision(scipy_special().yv(order, x), x)


# Bessel functions of fixed real order, differentiable in x (the order is a parameter, not an array).
iv = unary("iv", _iv_impl, _iv_derivative)
ive = unary("ive", _ive_impl, _ive_derivative,
            convention="ive'(0) takes sign(0) = 0 in the scaling factor's derivative; real x only")
jv = unary("jv", _jv_impl, _jv_derivative)
yv = unary("yv", _yv_impl, _yv_derivative, convention="defined for x > 0; infinite derivative at 0")


def _safe_ratio(numerator, denominator):
    """numerator / denominator, taken as 0 where the numerator is 0 (the xlogy convention)."""
    at_zero = eq(numerator, 0)
    return select(at_zero, 0.0, div(numerator, select(at_zero, 1.0, denominator)))


def _xlogy_impl(x, y):
    return in_input_precision(scipy_special().xlogy(x, y), x, y)


def _xlog1py_impl(x, y):
    return in_input_precision(scipy_special().xlog1py(x, y), x, y)


xlogy = families.binary("xlogy", _xlogy_impl,
                        (lambda x, y, out: log(y), lambda x, y, out: _safe_ratio(x, y)),
                        convention="xlogy(0, y) = 0; d/dy is 0 where x = 0; d/dx is log(y)", float_result=True)
xlog1py = families.binary("xlog1py", _xlog1py_impl,
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
    s, q = in_common_precision(s, q)
    return mul(neg(s), zeta(add(s, 1.0), q))


# Hurwitz zeta(s, q) = sum_n (n + q)^-s: differentiable in q; d/ds has no closed form in SciPy's functions.
def _zeta_impl(x, q):
    return in_input_precision(scipy_special().zeta(x, q), x, q)


zeta = families.binary("zeta", _zeta_impl, (_not_differentiable_in("zeta", "x", _hold_fixed), _zeta_d_q),
                       float_result=True, convention="differentiable in q only; d/dx raises")


def _gamma_density(a, x, out=None):
    # d/dx P(a, x) = x^(a-1) exp(-x) / Gamma(a), in logs so that large a does not overflow.
    a, x = in_common_precision(a, x)
    return exp(sub(sub(mul(sub(a, 1.0), log(x)), x), gammaln(a)))


# Derivatives in the shape parameters. No closed form exists: each is summed from a series (or continued
# fraction) differentiated term by term, vectorized over the elements that have not converged yet. The
# evaluators use only NumPy and SciPy so that chainrule.export.python can copy their source.

def _gammainc_derivative_a_values(a, x):
    """dP(a, x)/da, the derivative of the regularized lower incomplete gamma in its shape ``a``.

    x < a + 1: P = x^a e^-x / Gamma(a + 1) sum_n t_n, t_n = x^n / ((a + 1)...(a + n)), differentiated term
    by term (d log t_n / da = -sum_{k<=n} 1 / (a + k)). Otherwise the continued fraction of
    Q = x^a e^-x / Gamma(a) F, F = 1/(x + 1 - a - 1 (1 - a)/(x + 3 - a - 2 (2 - a)/...)), whose convergents
    A_n / B_n are differentiated along their three-term recurrence; dP/da = -dQ/da. Both are computed
    directly, never as a difference of P or Q from 1.
    """
    import scipy.special
    a, x = np.asarray(a), np.asarray(x)
    dtype = np.result_type(a.dtype, x.dtype, np.float32)
    a, x = (np.array(v, dtype=np.float64) for v in np.broadcast_arrays(a, x))
    out = np.full(a.shape, np.nan)
    valid = (a > 0) & np.isfinite(a) & (x >= 0)
    out[valid & ((x == 0) | np.isinf(x))] = 0.0  # P is 0 at x = 0 and 1 at infinity, for every a
    inside = valid & (x > 0) & np.isfinite(x)
    series = inside & (x < a + 1)
    fraction = inside & ~series
    tiny = 1e-17

    # Series side.
    sa, sx = a[series], x[series]
    total, weighted = np.ones_like(sa), np.zeros_like(sa)
    term, harmonic = np.ones_like(sa), np.zeros_like(sa)
    active = np.arange(sa.size)
    for k in range(1, 100001):
        if active.size == 0:
            break
        shifted = sa[active] + k
        term[active] *= sx[active] / shifted
        harmonic[active] += 1.0 / shifted
        total[active] += term[active]
        weighted[active] += term[active] * harmonic[active]
        # the ratio x / (a + k) only falls from here on: the tail is below term * ratio / (1 - ratio)
        ratio = sx[active] / (shifted + 1)
        tail = term[active] * ratio / (1 - ratio)
        done = (tail <= tiny * total[active]) & (tail * harmonic[active] <= tiny * weighted[active])
        active = active[~done]
    log_prefactor = sa * np.log(sx) - sx - scipy.special.gammaln(sa + 1)
    out[series] = np.exp(log_prefactor) * (total * (np.log(sx) - scipy.special.digamma(sa + 1)) - weighted)

    # Continued-fraction side: A_n = b_n A_{n-1} + c_n A_{n-2} (likewise B) with b_n = x + 2n - 1 - a,
    # c_1 = 1, c_n = -(n - 1)(n - 1 - a); their a-derivatives follow the same recurrence.
    fa, fx = a[fraction], x[fraction]
    zeros, ones = np.zeros_like(fa), np.ones_like(fa)
    previous_a, current_a = ones.copy(), zeros.copy()       # A_{-1}, A_0
    previous_b, current_b = zeros.copy(), ones.copy()       # B_{-1}, B_0
    previous_da, current_da = zeros.copy(), zeros.copy()
    previous_db, current_db = zeros.copy(), zeros.copy()
    value, derivative = zeros.copy(), zeros.copy()
    active = np.arange(fa.size)
    for n in range(1, 100001):
        if active.size == 0:
            break
        ai = fa[active]
        b_n = fx[active] + (2 * n - 1) - ai
        c_n = 1.0 if n == 1 else -(n - 1) * (n - 1 - ai)
        dc_n = 0.0 if n == 1 else float(n - 1)
        pa, ca, pb, cb = previous_a[active], current_a[active], previous_b[active], current_b[active]
        pda, cda, pdb, cdb = previous_da[active], current_da[active], previous_db[active], current_db[active]
        new_a = b_n * ca + c_n * pa
        new_b = b_n * cb + c_n * pb
        new_da = -ca + b_n * cda + dc_n * pa + c_n * pda
        new_db = -cb + b_n * cdb + dc_n * pb + c_n * pdb
        scale = 1.0 / np.abs(new_b)  # renormalize: only ratios matter
        previous_a[active], current_a[active] = ca * scale, new_a * scale
        previous_b[active], current_b[active] = cb * scale, new_b * scale
        previous_da[active], current_da[active] = cda * scale, new_da * scale
        previous_db[active], current_db[active] = cdb * scale, new_db * scale
        new_value = current_a[active] / current_b[active]
        new_derivative = (current_da[active] - new_value * current_db[active]) / current_b[active]
        done = ((np.abs(new_value - value[active]) <= tiny * np.abs(new_value))
                & (np.abs(new_derivative - derivative[active]) <= tiny * np.abs(new_derivative)))
        value[active], derivative[active] = new_value, new_derivative
        active = active[~done]
    log_prefactor = fa * np.log(fx) - fx - scipy.special.gammaln(fa)
    d_upper = np.exp(log_prefactor) * (value * (np.log(fx) - scipy.special.digamma(fa)) + derivative)
    out[fraction] = -d_upper
    return out.astype(dtype)[()]


def _betainc_parameter_derivatives(a, b, x):
    """(dI/da, dI/db) of the regularized incomplete beta I_x(a, b).

    I_y(p, q) = y^p (1 - y)^q / (p B(p, q)) sum_n t_n, t_n = prod_{k=1..n} y (p + q + k - 1) / (p + k), all
    terms positive, differentiated term by term in p and q. It is summed for (p, q, y) = (a, b, x) when
    x < (a + 1) / (a + b + 2), where I is the smaller tail; otherwise for (b, a, 1 - x), using
    I_x(a, b) = 1 - I_{1-x}(b, a), so that the derivative is never a difference from 1.
    """
    import scipy.special
    # Python numbers are weak (NumPy's rule): betainc(a: float32, 0.5, x: float32) stays float32
    dtype = np.result_type(*(v.dtype if hasattr(v, "dtype") else v for v in (a, b, x)), np.float32)
    a, b, x = np.asarray(a), np.asarray(b), np.asarray(x)
    a, b, x = (np.array(v, dtype=np.float64) for v in np.broadcast_arrays(a, b, x))
    d_a, d_b = np.full(a.shape, np.nan), np.full(a.shape, np.nan)
    valid = (a > 0) & (b > 0) & np.isfinite(a) & np.isfinite(b) & (x >= 0) & (x <= 1)
    edge = valid & ((x == 0) | (x == 1))  # I is 0 at x = 0 and 1 at x = 1, for every a and b
    d_a[edge], d_b[edge] = 0.0, 0.0
    inside = valid & ~edge
    direct = inside & (x < (a + 1) / (a + b + 2))
    p = np.where(direct, a, b)[inside]
    q = np.where(direct, b, a)[inside]
    y = np.where(direct, x, 1 - x)[inside]
    was_direct, x_inside = direct[inside], x[inside]
    log_y = np.where(was_direct, np.log(x_inside), np.log1p(-x_inside))  # from x itself, not from 1 - y
    log_complement = np.where(was_direct, np.log1p(-x_inside), np.log(x_inside))
    tiny = 1e-17
    total = np.ones_like(p)
    sum_p, sum_q = np.zeros_like(p), np.zeros_like(p)   # sum_n t_n d(log t_n)/dp, sum_n t_n d(log t_n)/dq
    term, log_d_p, log_d_q = np.ones_like(p), np.zeros_like(p), np.zeros_like(p)
    active = np.arange(p.size)
    for k in range(1, 200001):
        if active.size == 0:
            break
        pk, qk, yk = p[active], q[active], y[active]
        upper, lower = pk + qk + (k - 1), pk + k
        ratio = yk * upper / lower
        term[active] *= ratio
        log_d_q[active] += 1.0 / upper
        log_d_p[active] += 1.0 / upper - 1.0 / lower
        total[active] += term[active]
        sum_p[active] += term[active] * log_d_p[active]
        sum_q[active] += term[active] * log_d_q[active]
        # later ratios lie between this one and y (their limit): the tail is below term * r / (1 - r)
        bound = np.maximum(yk * (upper + 1) / (lower + 1), yk)
        tail = term[active] * bound / (1 - bound)
        done = ((tail <= tiny * total[active]) & (tail * np.abs(log_d_p[active]) <= tiny * np.abs(sum_p[active]))
                & (tail * log_d_q[active] <= tiny * sum_q[active]))
        active = active[~done]
    log_prefactor = p * log_y + q * log_complement - np.log(p) - scipy.special.betaln(p, q)
    psi_sum = scipy.special.digamma(p + q)
    prefactor = np.exp(log_prefactor)
    derivative_p = prefactor * (total * (log_y - 1.0 / p - scipy.special.digamma(p) + psi_sum) + sum_p)
    derivative_q = prefactor * (total * (log_complement - scipy.special.digamma(q) + psi_sum) + sum_q)
    result_a = np.where(was_direct, derivative_p, -derivative_q)
    result_b = np.where(was_direct, derivative_q, -derivative_p)
    d_a[inside], d_b[inside] = result_a, result_b
    return d_a.astype(dtype)[()], d_b.astype(dtype)[()]


_no_second_order = ("the second derivative in the shape parameters has no closed form here; hold it fixed "
                    "(chainrule.stop_gradient) in the inner derivative, or use finite differences")


def _gammainc_d_a(a, x, out):
    return gammainc_derivative_a(a, x)


def _gammaincc_d_a(a, x, out):
    return neg(gammainc_derivative_a(a, x))


def _gammaincc_d_x(a, x, out):
    return neg(_gamma_density(a, x))


def _gammainc_derivative_a_d_x(a, x, out):
    # d/dx of dP/da is d/da of the density: density * (log x - digamma(a)).
    a, x = in_common_precision(a, x)
    return mul(_gamma_density(a, x), sub(log(x), polygamma(a, order=0)))


# dP(a, x)/da, summed numerically; differentiable in x, its own a-derivative raises.
gammainc_derivative_a = families.binary(
    "gammainc_derivative_a", _gammainc_derivative_a_values,
    (_not_differentiable_in("gammainc_derivative_a", "a", _no_second_order), _gammainc_derivative_a_d_x),
    float_result=True, convention="dP(a, x)/da; 0 at x = 0 and x = inf; d/da raises (no closed form)")
def _gammainc_impl(a, x):
    return in_input_precision(scipy_special().gammainc(a, x), a, x)


def _gammaincc_impl(a, x):
    return in_input_precision(scipy_special().gammaincc(a, x), a, x)


gammainc = families.binary("gammainc", _gammainc_impl, (_gammainc_d_a, _gamma_density),
                           float_result=True, convention="regularized P(a, x); d/da is gammainc_derivative_a")
gammaincc = families.binary("gammaincc", _gammaincc_impl, (_gammaincc_d_a, _gammaincc_d_x),
                            float_result=True, convention="regularized Q(a, x) = 1 - P(a, x); dQ/da = -dP/da")


def _ternary(name, impl, derivatives, convention):
    """An elementwise primitive of three arguments from ``derivatives = (d_da, d_db, d_dx)``, each
    ``derivative(a, b, x, out)`` written with primitives (as ``families.binary`` does for two).
    Reverse mode computes the partial of each differentiated input while recording and keeps only it."""
    def jvp(primals, tangents):
        out = primitive(*primals)
        out_dot = None
        for derivative, tangent in zip(derivatives, tangents):
            if tangent is not None:
                term = mul(tangent, derivative(*primals, out))
                out_dot = term if out_dot is None else add(out_dot, term)
        return out, out_dot

    def make_input_vjp(derivative, position):
        def input_vjp(out, a, b, x):
            partial = derivative(a, b, x, out)

            def pullback(out_bar):
                return mul(out_bar, partial)
            return pullback
        input_vjp.__name__ = f"{name}_vjp_{position}"
        return input_vjp

    jvp.__name__ = f"{name}_jvp"
    primitive = ElementwisePrimitive(name, impl, shape_rule=families.float_shape_rule, jvp=jvp,
                                     input_vjps=tuple(make_input_vjp(d, i) for i, d in enumerate(derivatives)),
                                     convention=convention)
    return primitive


def _beta_density(a, b, x):
    # d/dx I_x(a, b) = x^(a-1) (1-x)^(b-1) / B(a, b), in logs.
    a, b, x = in_common_precision(a, b, x)
    log_beta = sub(add(gammaln(a), gammaln(b)), gammaln(add(a, b)))
    return exp(sub(add(mul(sub(a, 1.0), log(x)), mul(sub(b, 1.0), log1p(neg(x)))), log_beta))


def _betainc_derivative_a_values(a, b, x):
    return _betainc_parameter_derivatives(a, b, x)[0]


def _betainc_derivative_b_values(a, b, x):
    return _betainc_parameter_derivatives(a, b, x)[1]


def _betainc_derivative_a_d_x(a, b, x, out):
    # d/dx of dI/da is d/da of the density: density * (log x - digamma(a) + digamma(a + b)).
    a, b, x = in_common_precision(a, b, x)
    shift = sub(polygamma(add(a, b), order=0), polygamma(a, order=0))
    return mul(_beta_density(a, b, x), add(log(x), shift))


def _betainc_derivative_b_d_x(a, b, x, out):
    a, b, x = in_common_precision(a, b, x)
    shift = sub(polygamma(add(a, b), order=0), polygamma(b, order=0))
    return mul(_beta_density(a, b, x), add(log1p(neg(x)), shift))


# dI_x(a, b)/da and dI_x(a, b)/db, summed numerically; differentiable in x only.
betainc_derivative_a = _ternary(
    "betainc_derivative_a", _betainc_derivative_a_values,
    (_not_differentiable_in("betainc_derivative_a", "a", _no_second_order),
     _not_differentiable_in("betainc_derivative_a", "b", _no_second_order), _betainc_derivative_a_d_x),
    convention="dI_x(a, b)/da; 0 at x = 0 and x = 1; d/da and d/db raise (no closed form)")
betainc_derivative_b = _ternary(
    "betainc_derivative_b", _betainc_derivative_b_values,
    (_not_differentiable_in("betainc_derivative_b", "a", _no_second_order),
     _not_differentiable_in("betainc_derivative_b", "b", _no_second_order), _betainc_derivative_b_d_x),
    convention="dI_x(a, b)/db; 0 at x = 0 and x = 1; d/da and d/db raise (no closed form)")


def _betainc_d_a(a, b, x, out):
    return betainc_derivative_a(a, b, x)


def _betainc_d_b(a, b, x, out):
    return betainc_derivative_b(a, b, x)


def _betainc_d_x(a, b, x, out):
    return _beta_density(a, b, x)


def _betainc_impl(a, b, x):
    return in_input_precision(scipy_special().betainc(a, b, x), a, b, x)


betainc = _ternary("betainc", _betainc_impl, (_betainc_d_a, _betainc_d_b, _betainc_d_x),
                   convention="regularized I_x(a, b); d/da and d/db are betainc_derivative_a and _b")

__all__ = [name for name, value in list(globals().items()) if isinstance(value, Primitive)]
