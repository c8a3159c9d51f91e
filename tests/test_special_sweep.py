"""Sweep of chainrule.scipy.special and chainrule.scipy.stats: every public function on float64, float32 and
(where SciPy accepts it) complex input, plain and under jvp, vjp, grad, vmap, jit and second derivatives: the
value is SciPy's, the dtype is the input's, derivatives equal JAX's or central differences. Then the accuracy,
naming and API regressions found by the sweep."""
import warnings

import mpmath
import numpy
import pytest
import scipy.special
import scipy.stats

import chainrule as cr
import chainrule.scipy.special as special
import chainrule.scipy.stats as stats

import jax  # the independent oracle: installed by the test extra
jax.config.update("jax_enable_x64", True)
import jax.numpy as jnp  # noqa: E402
import jax.scipy.special as jspecial  # noqa: E402
import jax.scipy.stats as jstats  # noqa: E402

rng = numpy.random.default_rng(7)


def points(low, high, n=4):
    return rng.uniform(low, high, size=n)


def _fixed_first(function, first):
    return lambda x: function(first, x)


def _fixed_second(function, second):
    return lambda x: function(x, second)


# name -> (ours(x), SciPy's(x), JAX's(x) or None, real points). Other arguments are held fixed.
ELEMENTWISE = {
    "gammaln": (special.gammaln, scipy.special.gammaln, jspecial.gammaln, points(0.3, 6)),
    "loggamma": (special.loggamma, scipy.special.loggamma, jspecial.gammaln, points(0.3, 6)),
    "gamma": (special.gamma, scipy.special.gamma, jspecial.gamma, points(0.3, 4)),
    "digamma": (special.digamma, scipy.special.digamma, jspecial.digamma, points(0.3, 6)),
    "psi": (special.psi, scipy.special.psi, jspecial.digamma, points(0.3, 6)),
    "polygamma": (_fixed_first(special.polygamma, 1), _fixed_first(scipy.special.polygamma, 1),
                  _fixed_first(jspecial.polygamma, 1), points(0.5, 4)),
    "rgamma": (special.rgamma, scipy.special.rgamma, None, numpy.array([-2.5, -1.0, -0.3, 0.0, 0.7, 3.2])),
    "gammasgn": (special.gammasgn, scipy.special.gammasgn, jspecial.gammasgn, numpy.array([-2.5, -1.5, -0.3, 0.7])),
    "betaln (in a)": (_fixed_second(special.betaln, 2.5), _fixed_second(scipy.special.betaln, 2.5), None,
                      points(0.5, 30)),
    "betaln (in b)": (_fixed_first(special.betaln, 1.5), _fixed_first(scipy.special.betaln, 1.5), None,
                      points(0.5, 30)),
    "beta (in a)": (_fixed_second(special.beta, 2.5), _fixed_second(scipy.special.beta, 2.5), None,
                    numpy.array([-0.7, -1.6, 0.8, 2.9])),
    "multigammaln": (_fixed_second(special.multigammaln, 3), _fixed_second(scipy.special.multigammaln, 3),
                     _fixed_second(jspecial.multigammaln, 3), points(1.5, 4)),
    "erf": (special.erf, scipy.special.erf, jspecial.erf, points(-2, 2)),
    "erfc": (special.erfc, scipy.special.erfc, jspecial.erfc, points(-2, 3)),
    "erfinv": (special.erfinv, scipy.special.erfinv, jspecial.erfinv, points(-0.9, 0.9)),
    "erfcinv": (special.erfcinv, scipy.special.erfcinv, None, numpy.array([2e-3, 0.3, 1.0, 1.7])),
    "erfcx": (special.erfcx, scipy.special.erfcx, None, points(-1, 5)),
    "ndtr": (special.ndtr, scipy.special.ndtr, jspecial.ndtr, points(-3, 3)),
    "ndtri": (special.ndtri, scipy.special.ndtri, jspecial.ndtri, points(0.05, 0.95)),
    "log_ndtr": (special.log_ndtr, scipy.special.log_ndtr, jspecial.log_ndtr, numpy.array([-20.0, -3.0, 0.5, 4.0])),
    "expit": (special.expit, scipy.special.expit, jspecial.expit, points(-5, 5)),
    "logit": (special.logit, scipy.special.logit, jspecial.logit, points(0.05, 0.95)),
    "log_expit": (special.log_expit, scipy.special.log_expit, lambda x: -jnp.logaddexp(0.0, -x),
                  numpy.array([-30.0, -1.0, 0.0, 0.5, 30.0])),
    "xlogy (in y)": (_fixed_first(special.xlogy, 1.5), _fixed_first(scipy.special.xlogy, 1.5),
                     _fixed_first(jspecial.xlogy, 1.5), points(0.2, 3)),
    "xlog1py (in x)": (_fixed_second(special.xlog1py, 0.7), _fixed_second(scipy.special.xlog1py, 0.7),
                       _fixed_second(jspecial.xlog1py, 0.7), points(-2, 2)),
    "entr": (special.entr, scipy.special.entr, jspecial.entr, points(0.1, 3)),
    "rel_entr (in x)": (_fixed_second(special.rel_entr, 1.3), _fixed_second(scipy.special.rel_entr, 1.3),
                        _fixed_second(jspecial.rel_entr, 1.3), points(0.2, 3)),
    "kl_div (in y)": (_fixed_first(special.kl_div, 0.6), _fixed_first(scipy.special.kl_div, 0.6),
                      _fixed_first(jspecial.kl_div, 0.6), points(0.2, 3)),
    "sinc": (special.sinc, numpy.sinc, jnp.sinc, numpy.array([-1.3, 0.4, 2.2])),
    "i0": (special.i0, scipy.special.i0, jspecial.i0, points(-3, 3)),
    "i0e": (special.i0e, scipy.special.i0e, jspecial.i0e, points(0.2, 3)),
    "i1": (special.i1, scipy.special.i1, jspecial.i1, points(-3, 3)),
    "i1e": (special.i1e, scipy.special.i1e, jspecial.i1e, points(0.2, 3)),
    "iv": (_fixed_first(special.iv, 2.5), _fixed_first(scipy.special.iv, 2.5), None, points(0.2, 3)),
    "ive": (_fixed_first(special.ive, 1.5), _fixed_first(scipy.special.ive, 1.5), None, points(0.2, 3)),
    "jv": (_fixed_first(special.jv, 1.5), _fixed_first(scipy.special.jv, 1.5), None, points(0.2, 6)),
    "jn": (_fixed_first(special.jn, 2), _fixed_first(scipy.special.jn, 2), None, points(0.2, 6)),
    "yv": (_fixed_first(special.yv, 2.0), _fixed_first(scipy.special.yv, 2.0), None, points(0.5, 6)),
    "yn": (_fixed_first(special.yn, 1), _fixed_first(scipy.special.yn, 1), None, points(0.5, 6)),
    "j0": (special.j0, scipy.special.j0, None, points(0.2, 8)),
    "j1": (special.j1, scipy.special.j1, None, points(0.2, 8)),
    "y0": (special.y0, scipy.special.y0, None, points(0.5, 8)),
    "y1": (special.y1, scipy.special.y1, None, points(0.5, 8)),
    "zeta (in q)": (_fixed_first(special.zeta, 3.0), _fixed_first(scipy.special.zeta, 3.0),
                    _fixed_first(jspecial.zeta, 3.0), points(0.5, 3)),
    "gammainc (in x)": (_fixed_first(special.gammainc, 2.5), _fixed_first(scipy.special.gammainc, 2.5),
                        _fixed_first(jspecial.gammainc, 2.5), points(0.2, 4)),
    "gammaincc (in x)": (_fixed_first(special.gammaincc, 2.5), _fixed_first(scipy.special.gammaincc, 2.5),
                         _fixed_first(jspecial.gammaincc, 2.5), points(0.2, 4)),
    "gammainc (in a)": (_fixed_second(special.gammainc, 1.5), _fixed_second(scipy.special.gammainc, 1.5),
                        _fixed_second(jspecial.gammainc, 1.5), points(0.5, 4)),
    "betainc (in x)": (lambda x: special.betainc(2.0, 3.5, x), lambda x: scipy.special.betainc(2.0, 3.5, x),
                       lambda x: jspecial.betainc(2.0, 3.5, x), points(0.1, 0.9)),
}
# JAX's betaln derivative is off by up to 1e-6 relative from a = 10 on: these take digamma differences in
# 40 digits instead, (first, second) derivative of x.
EXACT = {
    "betaln (in a)": lambda x: (_digamma_difference(x, 2.5), _digamma_difference(x, 2.5, order=1)),
    "betaln (in b)": lambda x: (_digamma_difference(x, 1.5), _digamma_difference(x, 1.5, order=1)),
}
# First derivatives only: their second derivative in a shape parameter raises by design.
FIRST_ORDER_ONLY = {"gammainc (in a)"}

# Functions SciPy evaluates for complex input: their derivatives are the holomorphic ones.
COMPLEX = ["gamma", "loggamma", "rgamma", "erf", "erfc", "erfcx", "ndtr", "log_ndtr", "xlogy (in y)",
           "xlog1py (in x)", "sinc", "iv", "jv", "jn", "yv"]


def _central_difference(function, x, step=1e-6):
    h = step * numpy.maximum(1.0, numpy.abs(x))
    return (function(x + h) - function(x - h)) / (2 * h)


def _reference_derivatives(name):
    """First and second derivatives at the row's points, in float64: JAX's where it has the function, else
    central differences of SciPy's value (first) and of our first derivative (second)."""
    ours, theirs, oracle, x = ELEMENTWISE[name]
    if name in EXACT:
        first, second = numpy.array([EXACT[name](float(t)) for t in x]).T
        return first, second, 1e-12
    if oracle is not None:
        first = jax.vmap(jax.grad(oracle))
        second = jax.vmap(jax.grad(jax.grad(oracle)))
        return (numpy.asarray(first(x)), None if name in FIRST_ORDER_ONLY else numpy.asarray(second(x)), 1e-8)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        first = _central_difference(theirs, x)
        our_first = cr.vmap(cr.grad(ours))
        second = None if name in FIRST_ORDER_ONLY else _central_difference(lambda t: numpy.asarray(our_first(t)), x)
    return first, second, 1e-6


def _assert_close(actual, expected, dtype, rtol):
    actual = numpy.asarray(actual)
    assert actual.dtype == dtype, f"dtype {actual.dtype}, expected {dtype}"
    numpy.testing.assert_allclose(actual.astype(numpy.float64) if dtype.kind == "f" else actual, expected,
                                  rtol=rtol, atol=rtol)


@pytest.mark.parametrize("dtype", [numpy.float64, numpy.float32], ids=["float64", "float32"])
@pytest.mark.parametrize("name", sorted(ELEMENTWISE))
def test_every_special_function_under_every_transform(name, dtype):
    ours, theirs, _, points64 = ELEMENTWISE[name]
    dtype = numpy.dtype(dtype)
    x = points64.astype(dtype)
    exact = x.astype(numpy.float64)  # the points as given, so that float32 rounding is not counted as error
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        value = theirs(exact)
    first, second, derivative_rtol = _reference_derivatives(name)
    if dtype == numpy.float32:
        first, second = _reference_derivatives_at(name, exact, first, second)
    value_rtol = 1e-12 if dtype == numpy.float64 else 2e-6
    if dtype == numpy.float32:
        derivative_rtol = 5e-4
    ones = numpy.ones_like(x)

    _assert_close(ours(x), value, dtype, value_rtol)  # plain: SciPy's own value, in the input's precision
    _assert_close(cr.jit(ours)(x), value, dtype, value_rtol)
    _assert_close(cr.vmap(ours)(x), value, dtype, value_rtol)
    primal, tangent = cr.jvp(ours, (x,), (ones,))
    _assert_close(primal, value, dtype, value_rtol)
    _assert_close(tangent, first, dtype, derivative_rtol)
    primal, pullback = cr.vjp(ours, x)
    _assert_close(pullback(ones)[0], first, dtype, derivative_rtol)
    gradient = cr.grad(lambda t: cr.numpy.sum(ours(t)))
    _assert_close(gradient(x), first, dtype, derivative_rtol)
    if second is not None:
        second_derivative = cr.grad(lambda t: cr.numpy.sum(gradient(t)))(x)
        _assert_close(second_derivative, second, dtype, derivative_rtol * 100)
        hessian = cr.hessian(lambda t: cr.numpy.sum(ours(t)))(x)
        _assert_close(numpy.diagonal(hessian), second, dtype, derivative_rtol * 100)


def _reference_derivatives_at(name, exact, first, second):
    """The reference derivatives at the float32 points (JAX or differences, as for float64)."""
    ours, theirs, oracle, _ = ELEMENTWISE[name]
    if name in EXACT:
        return numpy.array([EXACT[name](float(t)) for t in exact]).T
    if oracle is not None:
        first = numpy.asarray(jax.vmap(jax.grad(oracle))(exact))
        if second is not None:
            second = numpy.asarray(jax.vmap(jax.grad(jax.grad(oracle)))(exact))
        return first, second
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        first = _central_difference(theirs, exact)
        if second is not None:
            our_first = cr.vmap(cr.grad(ours))
            second = _central_difference(lambda t: numpy.asarray(our_first(t)), exact)
    return first, second


@pytest.mark.parametrize("name", COMPLEX)
def test_complex_inputs_take_the_holomorphic_derivative(name):
    ours, theirs, _, _ = ELEMENTWISE[name]
    z = numpy.array([0.6 + 0.4j, 1.7 - 0.8j, 2.3 + 1.1j])
    numpy.testing.assert_allclose(ours(z), theirs(z), rtol=1e-13)
    for direction in (1.0, 1.0j):
        v = numpy.full_like(z, direction)
        primal, tangent = cr.jvp(ours, (z,), (v,))
        assert primal.dtype == tangent.dtype == numpy.complex128
        numpy.testing.assert_allclose(primal, theirs(z), rtol=1e-13)
        expected = (theirs(z + 1e-6 * v) - theirs(z - 1e-6 * v)) / 2e-6
        numpy.testing.assert_allclose(tangent, expected, rtol=1e-7)
    x = numpy.array([0.6 + 0.4j], dtype=numpy.complex64)
    assert numpy.asarray(cr.jvp(ours, (x,), (numpy.ones_like(x),))[1]).dtype == numpy.complex64


@pytest.mark.parametrize("dtype", [numpy.float64, numpy.float32], ids=["float64", "float32"])
@pytest.mark.parametrize("name", ["logsumexp", "softmax", "log_softmax"])
def test_reductions_under_every_transform(name, dtype):
    ours, theirs = getattr(special, name), getattr(scipy.special, name)
    oracle = {"logsumexp": jspecial.logsumexp, "softmax": jax.nn.softmax, "log_softmax": jax.nn.log_softmax}[name]
    x = numpy.array([[0.3, -1.2, 2.0], [0.1, 0.5, -0.4]], dtype=dtype)
    rtol = 1e-12 if dtype == numpy.float64 else 2e-6
    value = theirs(x.astype(numpy.float64), axis=-1)
    _assert_close(ours(x, axis=-1), value, numpy.dtype(dtype), rtol)
    _assert_close(cr.jit(lambda t: ours(t, axis=-1))(x), value, numpy.dtype(dtype), rtol)
    _assert_close(cr.vmap(lambda t: ours(t, axis=-1))(x), value, numpy.dtype(dtype), rtol)
    weights = numpy.array([0.7, -0.2, 1.3])
    loss = lambda f, t: (f(t, axis=-1) * (weights if name != "logsumexp" else 1.0)).sum()  # noqa: E731
    expected = numpy.asarray(jax.grad(lambda t: loss(oracle, t))(x.astype(numpy.float64)))
    _assert_close(cr.grad(lambda t: loss(ours, t))(x), expected, numpy.dtype(dtype), rtol * 1e3)
    tangent = cr.jvp(lambda t: ours(t, axis=-1), (x,), (numpy.ones_like(x),))[1]
    assert numpy.asarray(tangent).dtype == dtype


# ------------------------------------------------------------------------------ regressions

def _digamma_difference(x, y, order=0):
    """polygamma(order, x) - polygamma(order, x + y) in 450 digits (enough for x = 1e200 and y = 2)."""
    with mpmath.workdps(450 if max(abs(x), abs(y)) > 1e5 else 40):
        x, y = mpmath.mpf(x), mpmath.mpf(y)
        return float(mpmath.polygamma(order, x) - mpmath.polygamma(order, x + y))


@pytest.mark.parametrize("a, b", [(1e16, 2.0), (1e200, 2.0), (2.0, 1e200), (3e5, 1e5), (12.0, 3.0), (1e8, 1e-3)])
def test_betaln_is_accurate_at_large_arguments(a, b):
    numpy.testing.assert_allclose(special.betaln(a, b), scipy.special.betaln(a, b), rtol=1e-15)
    primal, tangent = cr.jvp(special.betaln, (a, b), (1.0, 0.0))
    numpy.testing.assert_allclose(primal, scipy.special.betaln(a, b), rtol=1e-15)  # -73.68 at (1e16, 2)
    d_a, d_b = cr.grad(special.betaln, argnums=(0, 1))(a, b)
    numpy.testing.assert_allclose(tangent, d_a, rtol=1e-15)
    numpy.testing.assert_allclose(d_a, _digamma_difference(a, b), rtol=1e-12)
    numpy.testing.assert_allclose(d_b, _digamma_difference(b, a), rtol=1e-12)
    second = cr.hessian(special.betaln, argnums=(0, 1))(a, b)
    numpy.testing.assert_allclose(second[0][0], _digamma_difference(a, b, order=1), rtol=1e-10)
    numpy.testing.assert_allclose(second[1][1], _digamma_difference(b, a, order=1), rtol=1e-10)


@pytest.mark.parametrize("call", [
    lambda x: cr.grad(special.ndtr)(x), lambda x: cr.grad(special.log_ndtr)(x), lambda x: cr.grad(special.digamma)(x),
    lambda x: cr.hessian(special.gammaln)(x), lambda x: cr.jvp(lambda t: special.polygamma(1, t), (x,), (x,))[1],
    lambda x: cr.hessian(lambda t: special.betaln(t, 2.0))(x), lambda x: cr.hessian(special.log_expit)(x),
    lambda x: cr.jvp(lambda t: special.kl_div(t, 2.0), (x,), (x,))[1], lambda x: special.polygamma(1, x),
    lambda x: special.xlogy(x, 2.0), lambda x: special.multigammaln(x, 2), lambda x: cr.jit(special.digamma)(x)],
    ids=["ndtr grad", "log_ndtr grad", "digamma grad", "gammaln hessian", "polygamma jvp", "betaln hessian",
         "log_expit hessian", "kl_div jvp", "polygamma plain", "xlogy beside a Python float", "multigammaln",
         "digamma jit"])
def test_float32_in_float32_out(call):
    assert numpy.asarray(call(numpy.float32(2.5))).dtype == numpy.float32


def test_beta_keeps_the_sign_of_the_gammas():
    a = numpy.array([-0.5, -1.5, 0.7])
    numpy.testing.assert_allclose(cr.jvp(lambda t: special.beta(t, 2.0), (a,), (numpy.ones(3),))[0],
                                  scipy.special.beta(a, 2.0), rtol=1e-13)  # B(-0.5, 2) = -4


def test_loggamma_is_the_principal_branch_like_scipy():
    x = numpy.array([-0.5, 2.5])
    numpy.testing.assert_array_equal(numpy.isnan(cr.jvp(special.loggamma, (x,), (numpy.ones(2),))[0]), [True, False])


def test_complex_digamma_says_scipy_has_no_complex_trigamma():
    z = numpy.array([1.0 + 0.5j])
    numpy.testing.assert_allclose(cr.jit(special.digamma)(z), scipy.special.digamma(z), rtol=1e-14)
    with pytest.raises(TypeError, match="no polygamma of order 1 for complex x"):
        cr.jvp(special.digamma, (z,), (numpy.ones_like(z),))


def test_ive_refuses_a_complex_derivative():
    with pytest.raises(NotImplementedError, match="ive: complex x"):
        cr.jvp(lambda z: special.ive(1.0, z), (numpy.array([1.0 + 0.5j]),), (numpy.ones(1, complex),))


def test_entr_is_jit_compiled():  # -inf in the generated source was written np.-inf
    x = numpy.array([-1.0, 0.0, 0.4])
    numpy.testing.assert_array_equal(cr.jit(special.entr)(x), scipy.special.entr(x))


def test_multigammaln_checks_its_domain_like_scipy():
    with pytest.raises(ValueError, match=r"a must be greater than \(d - 1\) / 2"):
        cr.grad(lambda a: special.multigammaln(a, 4))(1.2)
    with pytest.raises(TypeError, match="dimension d must be a positive Python integer"):
        cr.grad(lambda a: special.multigammaln(a, 2.5))(3.0)


def test_names_users_miss():
    assert special.jn is special.jv  # as scipy.special.jn is scipy.special.jv
    x = numpy.array([-3.0, -2.0, -1.0, -0.0, 0.0, -2.5, numpy.inf, -numpy.inf, numpy.nan, 4.5])
    numpy.testing.assert_array_equal(cr.jvp(special.gammasgn, (x,), (numpy.ones_like(x),))[0],
                                     scipy.special.gammasgn(x))
    numpy.testing.assert_array_equal(cr.grad(lambda t: cr.numpy.sum(special.gammasgn(t)))(x[5:6]), [0.0])
    # 1/Gamma is entire: at x = -n its derivative is (-1)^n n!, where -psi(x)/Gamma(x) would be nan
    poles = numpy.array([0.0, -1.0, -2.0, -3.0])
    numpy.testing.assert_allclose(cr.vmap(cr.grad(special.rgamma))(poles), [1.0, -1.0, 2.0, -6.0], rtol=1e-14)
    numpy.testing.assert_array_equal(cr.jit(special.rgamma)(poles), scipy.special.rgamma(poles))
    y = numpy.array([1e-300, 1e-20, 0.5, 1.5, 2.0 - 1e-12])
    numpy.testing.assert_allclose(cr.jvp(special.erfcinv, (y,), (numpy.ones_like(y),))[0], scipy.special.erfcinv(y),
                                  rtol=1e-14)
    with pytest.raises(TypeError, match="yn: the order n must be a Python integer"):
        cr.grad(lambda x: special.yn(1.5, x))(2.0)


def test_scipy_special_ufuncs_are_named_as_scipy_special():
    try:
        value = cr.grad(scipy.special.erf)(0.5)
    except TypeError as error:
        assert "scipy.special.erf" in str(error) and "numpy.erf" not in str(error)
    else:  # dispatched to chainrule.scipy.special.erf, as NumPy's ufuncs are to chainrule.numpy
        assert value == pytest.approx(2 / numpy.sqrt(numpy.pi) * numpy.exp(-0.25))
    with pytest.raises(TypeError, match=r"scipy\.special\.spence is not differentiable"):
        cr.grad(scipy.special.spence)(0.5)


# ------------------------------------------------------------------------------ scipy.stats

DISTRIBUTIONS = ["norm", "t", "gamma", "chi2", "beta", "expon", "laplace", "logistic", "cauchy", "poisson",
                 "dirichlet", "multivariate_normal"]


def test_every_distribution_is_importable_by_name():
    for name in DISTRIBUTIONS:
        namespace = {}
        exec(f"from chainrule.scipy.stats import {name}", namespace)
        assert namespace[name] is getattr(stats, name)
    assert sorted(stats.__all__) == sorted(DISTRIBUTIONS)


def test_other_methods_and_keywords_are_scipys():
    norm = stats.norm
    numpy.testing.assert_array_equal(norm.rvs(1.0, 2.0, size=3, random_state=4),
                                     scipy.stats.norm.rvs(1.0, 2.0, size=3, random_state=4))
    for method, args in [("entropy", ()), ("mean", (1.0, 2.0)), ("var", (1.0, 2.0)), ("std", (1.0, 2.0)),
                         ("median", (1.0, 2.0)), ("interval", (0.9, 1.0, 2.0)), ("moment", (3, 1.0, 2.0))]:
        numpy.testing.assert_allclose(getattr(norm, method)(*args), getattr(scipy.stats.norm, method)(*args))
    assert stats.t.ppf(0.9, 3.0) == scipy.stats.t.ppf(0.9, 3.0)
    assert stats.poisson.logcdf(2, 1.5) == scipy.stats.poisson.logcdf(2, 1.5)
    numpy.testing.assert_allclose(stats.dirichlet.mean(numpy.ones(3)), scipy.stats.dirichlet.mean(numpy.ones(3)))
    singular = numpy.array([[1.0, 1.0], [1.0, 1.0]])
    assert stats.multivariate_normal.logpdf(numpy.ones(2), numpy.zeros(2), singular, allow_singular=True) == \
        scipy.stats.multivariate_normal.logpdf(numpy.ones(2), numpy.zeros(2), singular, allow_singular=True)


def test_frozen_distributions_stay_differentiable():
    x, loc, scale = 0.4, 0.3, 1.7
    frozen = stats.norm(loc, scale=scale)
    assert frozen.logpdf(x) == pytest.approx(scipy.stats.norm(loc, scale=scale).logpdf(x), rel=1e-14)
    assert frozen.mean() == loc and frozen.std() == pytest.approx(scale)
    assert frozen.rvs(size=2, random_state=1).tolist() == scipy.stats.norm(loc, scale).rvs(2, random_state=1).tolist()
    d_loc = cr.grad(lambda m: stats.norm(m, scale).logpdf(x))(loc)
    assert d_loc == pytest.approx(float(jax.grad(lambda m: jstats.norm.logpdf(x, m, scale))(loc)), rel=1e-13)
    mean, cov = numpy.array([0.1, -0.2]), numpy.array([[2.0, 0.3], [0.3, 1.0]])
    d_mean = cr.grad(lambda m: stats.multivariate_normal(m, cov).logpdf(numpy.ones(2)))(mean)
    numpy.testing.assert_allclose(d_mean, jax.grad(lambda m: jstats.multivariate_normal.logpdf(
        numpy.ones(2), m, cov))(mean), rtol=1e-13)
    assert stats.gamma(2.5).cdf(1.2) == pytest.approx(scipy.stats.gamma(2.5).cdf(1.2), rel=1e-14)


@pytest.mark.parametrize("call, method", [
    (lambda s: stats.norm.entropy(0.0, s), "norm.entropy"), (lambda s: stats.norm(0.0, s).var(), "norm.var"),
    (lambda s: stats.norm.rvs(0.0, s, size=2, random_state=0), "norm.rvs"),
    (lambda mu: stats.poisson.logcdf(2, mu), "poisson.logcdf"), (lambda df: stats.t.ppf(0.9, df), "t.ppf")])
def test_methods_that_are_not_differentiable_refuse_traced_values_by_name(call, method):
    with pytest.raises(TypeError, match=rf"chainrule\.scipy\.stats\.{method} is not differentiable"):
        cr.grad(lambda v: cr.numpy.sum(call(v)))(1.5)


def test_singular_covariance_is_refused_when_differentiated():
    singular = numpy.array([[1.0, 1.0], [1.0, 1.0]])
    with pytest.raises(numpy.linalg.LinAlgError, match="cov is not positive definite"):
        cr.grad(lambda m: stats.multivariate_normal.logpdf(numpy.ones(2), m, singular, allow_singular=True))(
            numpy.zeros(2))


# (ours, SciPy's, JAX's or None) as functions of one float argument, the others fixed.
STATS = {}
for _method in ("logpdf", "pdf", "cdf", "logcdf", "sf", "logsf"):
    for _name, _args in [("norm", (0.3, 1.7)), ("logistic", (0.2, 1.3)), ("cauchy", (-0.1, 0.8)),
                         ("laplace", (0.1, 1.2)), ("expon", (0.1, 1.5)), ("t", (3.5, 0.2, 1.4)),
                         ("gamma", (2.5, 0.1, 1.3)), ("chi2", (3.5,)), ("beta", (2.0, 3.5))]:
        STATS[f"{_name}.{_method}"] = (
            lambda x, n=_name, m=_method, a=_args: getattr(getattr(stats, n), m)(x, *a),
            lambda x, n=_name, m=_method, a=_args: getattr(getattr(scipy.stats, n), m)(x, *a),
            (lambda x, n=_name, m=_method, a=_args: getattr(getattr(jstats, n), m)(x, *a))
            if hasattr(getattr(jstats, _name), _method) and not (_name == "t" and _method != "logpdf"
                                                                   and _method != "pdf") else None)
    STATS[f"norm.{_method} (in scale)"] = (
        lambda s, m=_method: getattr(stats.norm, m)(0.4, 0.3, s),
        lambda s, m=_method: getattr(scipy.stats.norm, m)(0.4, 0.3, s),
        lambda s, m=_method: getattr(jstats.norm, m)(0.4, 0.3, s))
STATS["norm.ppf"] = (lambda q: stats.norm.ppf(q, 0.3, 1.7), lambda q: scipy.stats.norm.ppf(q, 0.3, 1.7),
                     lambda q: jstats.norm.ppf(q, 0.3, 1.7))
STATS["norm.isf"] = (lambda q: stats.norm.isf(q, 0.3, 1.7), lambda q: scipy.stats.norm.isf(q, 0.3, 1.7), None)
for _method in ("logpmf", "pmf", "cdf", "sf"):
    STATS[f"poisson.{_method} (in mu)"] = (lambda mu, m=_method: getattr(stats.poisson, m)(3, mu),
                                           lambda mu, m=_method: getattr(scipy.stats.poisson, m)(3, mu),
                                           (lambda mu, m=_method: getattr(jstats.poisson, m)(3, mu))
                                           if hasattr(jstats.poisson, _method) else None)
_STATS_POINTS = {"beta": numpy.array([0.2, 0.45, 0.8]), "poisson": numpy.array([0.6, 1.4, 3.2]),
                 "norm.ppf": numpy.array([0.1, 0.45, 0.9]), "norm.isf": numpy.array([0.1, 0.45, 0.9])}


def _stats_points(name):
    for prefix, x in _STATS_POINTS.items():
        if name.startswith(prefix):
            return x
    return numpy.array([0.4, 1.1, 2.3]) if "scale" in name else numpy.array([0.35, 1.1, 2.3])


@pytest.mark.parametrize("dtype", [numpy.float64, numpy.float32], ids=["float64", "float32"])
@pytest.mark.parametrize("name", sorted(STATS))
def test_every_distribution_method_under_every_transform(name, dtype):
    ours, theirs, oracle = STATS[name]
    dtype = numpy.dtype(dtype)
    x = _stats_points(name).astype(dtype)
    exact = x.astype(numpy.float64)
    value = theirs(exact)
    if oracle is not None:
        first = numpy.asarray(jax.vmap(jax.grad(lambda t: oracle(t) * 1.0))(exact))
    else:
        first = _central_difference(theirs, exact)
    value_rtol, derivative_rtol = (1e-12, 1e-7) if dtype == numpy.float64 else (5e-6, 5e-4)
    _assert_close(ours(x), value, dtype, value_rtol)
    _assert_close(cr.jit(ours)(x), value, dtype, value_rtol)
    _assert_close(cr.vmap(ours)(x), value, dtype, value_rtol)
    primal, tangent = cr.jvp(ours, (x,), (numpy.ones_like(x),))
    _assert_close(primal, value, dtype, value_rtol)
    _assert_close(tangent, first, dtype, derivative_rtol)
    _assert_close(cr.vjp(ours, x)[1](numpy.ones_like(x))[0], first, dtype, derivative_rtol)
    _assert_close(cr.grad(lambda t: cr.numpy.sum(ours(t)))(x), first, dtype, derivative_rtol)
    assert numpy.asarray(cr.hessian(lambda t: cr.numpy.sum(ours(t)))(x)).dtype == dtype


@pytest.mark.parametrize("dtype", [numpy.float64, numpy.float32], ids=["float64", "float32"])
def test_multivariate_distributions_keep_the_dtype(dtype):
    mean, cov = numpy.array([0.1, -0.2], dtype), numpy.array([[2.0, 0.3], [0.3, 1.0]], dtype)
    x = numpy.array([[0.5, 0.4], [-1.0, 0.2]], dtype)
    logpdf = lambda m: stats.multivariate_normal.logpdf(x, m, cov)  # noqa: E731
    rtol = 1e-12 if dtype == numpy.float64 else 5e-6
    _assert_close(logpdf(mean), scipy.stats.multivariate_normal.logpdf(x, mean, cov), numpy.dtype(dtype), rtol)
    expected = jax.jacobian(lambda m: jstats.multivariate_normal.logpdf(x.astype(float), m, cov.astype(float)))(
        mean.astype(float))
    _assert_close(cr.jacrev(logpdf)(mean), numpy.asarray(expected), numpy.dtype(dtype), rtol * 100)
    _assert_close(cr.jit(logpdf)(mean), scipy.stats.multivariate_normal.logpdf(x, mean, cov), numpy.dtype(dtype), rtol)
    alpha, simplex = numpy.array([1.5, 2.0, 0.7], dtype), numpy.array([0.2, 0.3, 0.5], dtype)
    gradient = cr.grad(lambda a: stats.dirichlet.logpdf(simplex, a))(alpha)
    _assert_close(gradient, numpy.asarray(jax.grad(lambda a: jstats.dirichlet.logpdf(
        simplex.astype(float), a))(alpha.astype(float))), numpy.dtype(dtype), rtol * 100)
