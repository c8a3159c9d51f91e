"""chainrule.scipy.special against JAX (values, first and second derivatives) where JAX has the function,
against SciPy values and finite differences where it does not."""
import numpy
import pytest
import scipy.special
import scipy.stats

import chainrule as cr
import chainrule.scipy.special as special
from chainrule.testing import check_grads

import jax  # the independent oracle: installed by the test extra, so a missing JAX fails loudly
jax.config.update("jax_enable_x64", True)
import jax.numpy as jnp  # noqa: E402
import jax.scipy.special as jspecial  # noqa: E402

rng = numpy.random.default_rng(0)


def points(low, high, n=4):
    return rng.uniform(low, high, size=n)


# name -> (chainrule function of x, JAX function of x or None, x). Other arguments are fixed inside.
UNARY = {
    "gammaln": (special.gammaln, jspecial.gammaln, points(0.3, 6)),
    "loggamma": (special.loggamma, jspecial.gammaln, points(0.3, 6)),
    "gamma": (special.gamma, jspecial.gamma, points(0.3, 4)),
    "digamma": (special.digamma, jspecial.digamma, points(0.3, 6)),
    "polygamma": (lambda x: special.polygamma(2, x), lambda x: jspecial.polygamma(2, x), points(0.5, 4)),
    "erf": (special.erf, jspecial.erf, points(-2, 2)),
    "erfc": (special.erfc, jspecial.erfc, points(-2, 3)),
    "erfinv": (special.erfinv, jspecial.erfinv, points(-0.9, 0.9)),
    "erfcx": (special.erfcx, None, points(-1, 5)),
    "ndtr": (special.ndtr, jspecial.ndtr, points(-3, 3)),
    "ndtri": (special.ndtri, jspecial.ndtri, points(0.05, 0.95)),
    "log_ndtr": (special.log_ndtr, jspecial.log_ndtr, numpy.array([-40.0, -6.0, -0.5, 0.7, 4.0])),
    "expit": (special.expit, jspecial.expit, points(-5, 5)),
    "logit": (special.logit, jspecial.logit, points(0.05, 0.95)),
    "log_expit": (special.log_expit, lambda x: -jnp.logaddexp(0.0, -x), numpy.array([-60.0, -1.0, 0.5, 40.0])),
    "entr": (special.entr, jspecial.entr, points(0.1, 3)),
    "sinc": (special.sinc, jnp.sinc, numpy.array([-1.3, 0.0, 0.4, 2.2])),
    "i0": (special.i0, jspecial.i0, points(-3, 3)),
    "i0e": (special.i0e, jspecial.i0e, points(0.2, 3)),
    "i1": (special.i1, jspecial.i1, points(-3, 3)),
    "i1e": (special.i1e, jspecial.i1e, points(0.2, 3)),
    "j0": (special.j0, None, points(0.2, 8)),
    "j1": (special.j1, None, points(0.2, 8)),
    "y0": (special.y0, None, points(0.5, 8)),
    "y1": (special.y1, None, points(0.5, 8)),
    "iv": (lambda x: special.iv(2.5, x), None, points(0.2, 3)),
    "ive": (lambda x: special.ive(1.5, x), None, points(0.2, 3)),
    "jv": (lambda x: special.jv(1.5, x), None, points(0.2, 6)),
    "yv": (lambda x: special.yv(2.0, x), None, points(0.5, 6)),
    "zeta (in q)": (lambda q: special.zeta(3.0, q), None, points(0.5, 3)),
    "multigammaln": (lambda a: special.multigammaln(a, 3), lambda a: jspecial.multigammaln(a, 3), points(1.5, 4)),
    "gammainc (in x)": (lambda x: special.gammainc(2.5, x), lambda x: jspecial.gammainc(2.5, x), points(0.2, 4)),
    "gammaincc (in x)": (lambda x: special.gammaincc(2.5, x), lambda x: jspecial.gammaincc(2.5, x), points(0.2, 4)),
    "betainc (in x)": (lambda x: special.betainc(2.0, 3.5, x), lambda x: jspecial.betainc(2.0, 3.5, x),
                       points(0.1, 0.9)),
    "xlogy (in y)": (lambda y: special.xlogy(1.5, y), lambda y: jspecial.xlogy(1.5, y), points(0.2, 3)),
    "xlog1py (in x)": (lambda x: special.xlog1py(x, 0.7), lambda x: jspecial.xlog1py(x, 0.7), points(-2, 2)),
    "rel_entr (in y)": (lambda y: special.rel_entr(0.6, y), lambda y: jspecial.rel_entr(0.6, y), points(0.2, 3)),
    "kl_div (in x)": (lambda x: special.kl_div(x, 1.3), lambda x: jspecial.kl_div(x, 1.3), points(0.2, 3)),
    "beta (in a)": (lambda a: special.beta(a, 2.5), lambda a: jnp.exp(jspecial.betaln(a, 2.5)), points(0.5, 3)),
    "betaln (in b)": (lambda b: special.betaln(1.5, b), lambda b: jspecial.betaln(1.5, b), points(0.5, 3)),
}


def _derivatives(function, x):
    """First and second derivatives of an elementwise function, elementwise."""
    first = cr.grad(lambda t: cr.numpy.sum(function(t)))(x)
    second = cr.grad(lambda t: cr.numpy.sum(cr.grad(lambda s: cr.numpy.sum(function(s)))(t)))(x)
    return first, second


def _jax_derivatives(function, x):
    first = jax.grad(lambda t: jnp.sum(function(t)))
    second = jax.grad(lambda t: jnp.sum(first(t)))
    return numpy.asarray(first(x)), numpy.asarray(second(x))


@pytest.mark.parametrize("name", sorted(UNARY))
def test_values_and_derivatives(name):
    function, oracle, x = UNARY[name]
    traced_value = cr.jvp(function, (x,), (numpy.ones_like(x),))[0]
    numpy.testing.assert_allclose(traced_value, function(x), rtol=1e-12, atol=1e-14)  # traced == plain path
    check_grads(function, (x,), order=2)
    if oracle is not None:
        numpy.testing.assert_allclose(function(x), numpy.asarray(oracle(x)), rtol=1e-10, atol=1e-13)
        first, second = _derivatives(function, x)
        jax_first, jax_second = _jax_derivatives(oracle, x)
        numpy.testing.assert_allclose(first, jax_first, rtol=1e-8, atol=1e-12)
        numpy.testing.assert_allclose(second, jax_second, rtol=1e-7, atol=1e-10)


def test_plain_inputs_return_scipy_values():
    x = points(0.5, 3)
    for name in ("gammaln", "digamma", "erf", "erfc", "erfinv", "expit", "logit", "i0", "j1", "y0", "erfcx"):
        argument = x if name not in ("erfinv", "logit") else x / 4.0
        numpy.testing.assert_array_equal(getattr(special, name)(argument), getattr(scipy.special, name)(argument))


def test_logsumexp_softmax_against_jax():
    x = rng.standard_normal((3, 4))
    weights = rng.uniform(0.5, 2, (3, 4))
    for axis in (None, 0, 1):
        for keepdims in (False, True):
            numpy.testing.assert_allclose(
                special.logsumexp(x, axis=axis, keepdims=keepdims),
                jspecial.logsumexp(x, axis=axis, keepdims=keepdims), rtol=1e-13)
        got = cr.grad(lambda t: cr.numpy.sum(cr.numpy.sin(special.logsumexp(t, axis=axis, b=weights))))(x)
        expected = jax.grad(lambda t: jnp.sum(jnp.sin(jspecial.logsumexp(t, axis=axis, b=weights))))(x)
        numpy.testing.assert_allclose(got, expected, rtol=1e-11)
        for ours, theirs in ((special.softmax, jax.nn.softmax), (special.log_softmax, jax.nn.log_softmax)):
            numpy.testing.assert_allclose(cr.jvp(lambda t: ours(t, axis=axis), (x,), (x,))[1],
                                          jax.jvp(lambda t: theirs(t, axis=axis), (x,), (x,))[1], rtol=1e-11)
    check_grads(lambda t: special.logsumexp(t, axis=1), (x,), order=2)
    check_grads(lambda t: special.log_softmax(t, axis=0), (x,), order=2)


def test_logsumexp_is_stable_and_signed():
    big = numpy.array([1000.0, 1000.0])
    assert float(cr.jvp(special.logsumexp, (big,), (numpy.ones(2),))[0]) == pytest.approx(1000 + numpy.log(2))
    numpy.testing.assert_allclose(cr.grad(special.logsumexp)(big), [0.5, 0.5])
    x, b = numpy.array([0.0, 1.0]), numpy.array([1.0, -2.0])
    value, sign = cr.jvp(lambda t: special.logsumexp(t, b=b, return_sign=True)[0], (x,), (x,))[0], None
    expected_value, expected_sign = scipy.special.logsumexp(x, b=b, return_sign=True)
    assert float(value) == pytest.approx(expected_value)
    _, sign = special.logsumexp(cr.numpy.asarray(x), b=b, return_sign=True)
    assert float(sign) == expected_sign == -1.0


def test_zeta_derivative_in_q_is_the_shifted_zeta():
    q = points(0.5, 3)
    numpy.testing.assert_allclose(cr.grad(lambda t: cr.numpy.sum(special.zeta(3.0, t)))(q),
                                  -3.0 * scipy.special.zeta(4.0, q), rtol=1e-12)


def test_xlogy_conventions_at_zero():
    assert float(cr.grad(special.xlogy, argnums=1)(0.0, 0.0)) == 0.0
    assert float(cr.grad(special.xlogy, argnums=1)(2.0, 4.0)) == 0.5
    assert float(cr.grad(special.entr)(numpy.e)) == pytest.approx(-2.0)


def test_stable_tails():
    # expit and log_expit do not overflow; log_ndtr keeps its derivative (about -x) far in the left tail.
    assert numpy.isfinite(cr.grad(special.expit)(-800.0))
    assert float(cr.grad(special.log_expit)(-800.0)) == pytest.approx(1.0)
    assert float(cr.grad(special.log_ndtr)(-100.0)) == pytest.approx(float(jax.grad(jspecial.log_ndtr)(-100.0)),
                                                                    rel=1e-10)


@pytest.mark.parametrize("call, argument", [
    (lambda a: cr.grad(special.gammainc)(a, 1.5), "a"),
    (lambda a: cr.grad(special.betainc)(a, 2.0, 0.5), "a"),
    (lambda b: cr.grad(special.betainc, argnums=1)(2.0, b, 0.5), "b"),
    (lambda s: special.zeta(s, 1.5), "x"),
])
def test_unsupported_derivatives_raise_naming_the_argument(call, argument):
    with pytest.raises(NotImplementedError, match=f"argument '{argument}'"):
        cr.grad(call)(2.0)
    with pytest.raises(NotImplementedError, match=f"argument '{argument}'"):
        cr.jvp(call, (2.0,), (1.0,))


def test_orders_must_be_constants():
    with pytest.raises(TypeError, match="order"):
        cr.grad(lambda v: special.iv(v, 1.0))(1.0)


@pytest.mark.parametrize("p", [1e-300, 1e-20, 1e-16, 0.3, 1 - 1e-12])
def test_ndtri_and_the_normal_quantiles_hold_in_the_tails(p):
    # Written as sqrt(2) erfinv(2p - 1), ndtri was -inf under a transform for p below ~1e-16 (SciPy: -9.2623
    # at 1e-20); norm.ppf and norm.isf followed it.
    from chainrule.scipy import stats
    value, derivative = cr.jvp(special.ndtri, (p,), (1.0,))
    assert float(value) == pytest.approx(scipy.special.ndtri(p), rel=1e-14)
    assert float(derivative) == pytest.approx(float(jax.grad(jspecial.ndtri)(p)), rel=1e-10)
    assert float(cr.grad(special.ndtri)(p)) == pytest.approx(float(derivative), rel=1e-14)
    assert float(cr.jvp(stats.norm.ppf, (p,), (1.0,))[0]) == pytest.approx(scipy.stats.norm.ppf(p), rel=1e-14)
    assert float(cr.jvp(stats.norm.isf, (p,), (1.0,))[0]) == pytest.approx(scipy.stats.norm.isf(p), rel=1e-12)
