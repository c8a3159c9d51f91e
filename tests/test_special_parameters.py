"""Derivatives of the incomplete gamma and beta functions in their shape parameters: values against
independent oracles (JAX for gammainc, mpmath at 30 digits for betainc), the transforms through them,
their edges, and the clear refusal of the second derivative in a shape."""
import mpmath
import numpy
import pytest
import scipy.special

import chainrule as cr
import chainrule.scipy.special as special
from chainrule.ops.special import betainc_derivative_a, betainc_derivative_b, gammainc_derivative_a
from chainrule.testing import check_grads

import jax  # the independent oracle for gammainc
jax.config.update("jax_enable_x64", True)
import jax.numpy as jnp  # noqa: E402
import jax.scipy.special as jspecial  # noqa: E402

SHAPES = numpy.array([0.1, 0.5, 1.0, 2.5, 10.0, 50.0, 500.0])
POINTS = numpy.array([1e-3, 1e-2, 0.1, 0.5, 1.0, 2.0, 5.0, 10.0, 49.0, 50.0, 51.0, 100.0, 499.0, 500.0, 501.0,
                      520.0, 1e3])
TOLERANCE = 1e-10


def _grid():
    a, x = numpy.meshgrid(SHAPES, POINTS, indexing="ij")
    return a.ravel(), x.ravel()


def _assert_relative(got, expected, floor=1e-290):
    got, expected = numpy.asarray(got, dtype=float), numpy.asarray(expected, dtype=float)
    assert numpy.all(numpy.isfinite(got))
    meaningful = numpy.abs(expected) > floor  # where the oracle has not underflowed
    error = numpy.abs(got[meaningful] - expected[meaningful]) / numpy.abs(expected[meaningful])
    assert error.max() < TOLERANCE, f"worst relative error {error.max():.2e}"
    numpy.testing.assert_allclose(got[~meaningful], 0.0, atol=1e-280)


@pytest.mark.parametrize("name", ["gammainc", "gammaincc"])
def test_gamma_shape_derivative_matches_jax_from_small_to_large_a_and_x(name):
    a, x = _grid()
    expected = jax.vmap(jax.grad(getattr(jspecial, name)))(jnp.asarray(a), jnp.asarray(x))
    got = cr.vmap(cr.grad(getattr(special, name)))(a, x)
    _assert_relative(got, expected)


def _betainc_derivatives_mpmath(a, b, x):
    """(dI/da, dI/db) at 30 digits, differentiating the smaller of I_x(a, b) and 1 - I_x(a, b)."""
    with mpmath.workdps(30):
        a, b, x = mpmath.mpf(a), mpmath.mpf(b), mpmath.mpf(x)
        if mpmath.betainc(a, b, 0, x, regularized=True) < 0.5:
            def value(p, q):
                return mpmath.betainc(p, q, 0, x, regularized=True)
        else:
            def value(p, q):  # I_x(a, b) = 1 - I_{1-x}(b, a): the constant drops out of the derivative
                return -mpmath.betainc(q, p, 0, 1 - x, regularized=True)
        return (float(mpmath.diff(lambda t: value(t, b), a)), float(mpmath.diff(lambda t: value(a, t), b)))


BETA_CASES = [(a, b, x) for a in (0.1, 1.0, 2.5, 50.0) for b in (0.5, 3.0, 200.0)
              for x in (1e-4, 0.1, 0.5, 0.9, 0.9999)]
BETA_CASES += [(500.0, 0.5, 0.99), (0.5, 500.0, 0.01), (300.0, 300.0, 0.5), (1e-3, 1e-3, 0.3), (2.0, 3.0, 1e-12),
               (2.0, 3.0, 1.0 - 1e-9)]


def test_beta_shape_derivatives_match_mpmath():
    a, b, x = (numpy.array(column) for column in zip(*BETA_CASES))
    expected = numpy.array([_betainc_derivatives_mpmath(*case) for case in BETA_CASES])
    got_a = cr.vmap(cr.grad(special.betainc, argnums=0))(a, b, x)
    got_b = cr.vmap(cr.grad(special.betainc, argnums=1))(a, b, x)
    _assert_relative(got_a, expected[:, 0])
    _assert_relative(got_b, expected[:, 1])


def test_beta_closed_forms():
    # I_x(a, 1) = x^a, so dI/da = x^a log x; I_x(1, b) = 1 - (1-x)^b, so dI/db = -(1-x)^b log(1-x).
    x = numpy.array([1e-6, 0.2, 0.5, 0.8, 1 - 1e-6])
    a = numpy.array([0.3, 1.0, 4.0, 20.0, 0.7])
    numpy.testing.assert_allclose(betainc_derivative_a(a, 1.0, x), x ** a * numpy.log(x), rtol=1e-12)
    numpy.testing.assert_allclose(betainc_derivative_b(1.0, a, x), -(1 - x) ** a * numpy.log1p(-x), rtol=1e-12)


def test_grad_jvp_vjp_and_vmap_agree_in_a():
    a, x = numpy.array([0.3, 2.0, 40.0]), numpy.array([0.5, 3.0, 45.0])
    expected = numpy.asarray(jax.vmap(jax.grad(jspecial.gammainc))(jnp.asarray(a), jnp.asarray(x)))
    per_element = numpy.array([float(cr.grad(special.gammainc)(ai, xi)) for ai, xi in zip(a, x)])
    _, tangent = cr.jvp(lambda s: special.gammainc(s, x), (a,), (numpy.ones(3),))
    _, pullback = cr.vjp(lambda s: special.gammainc(s, x), a)
    (cotangent,) = pullback(numpy.ones(3))
    batched = cr.vmap(cr.grad(special.gammainc))(a, x)
    for got in (per_element, tangent, cotangent, batched):
        numpy.testing.assert_allclose(got, expected, rtol=1e-12)


def test_check_grads_in_the_shapes_and_mixed_second_order():
    check_grads(lambda a: special.gammainc(a, 2.0), (numpy.array([0.7, 1.5, 4.0]),), order=1)
    check_grads(lambda a: special.gammaincc(a, 2.0), (numpy.array([0.7, 1.5, 4.0]),), order=1)
    check_grads(lambda a, b: special.betainc(a, b, 0.4), (numpy.array([0.7, 2.0]), numpy.array([1.5, 3.0])),
                order=1)
    # d/dx of the shape derivatives has a closed form, so second order in (shape, x) works.
    check_grads(lambda x: cr.grad(special.gammainc)(1.5, x), (0.8,), order=2)
    check_grads(lambda x: cr.grad(special.betainc, argnums=1)(1.5, 2.5, x), (0.3,), order=2)
    mixed = cr.grad(cr.grad(special.gammainc), argnums=1)(2.5, 1.2)
    # d/da of the density x^(a-1) e^-x / Gamma(a) (JAX has no rule for this one)
    density = 1.2 ** 1.5 * numpy.exp(-1.2) / scipy.special.gamma(2.5)
    assert float(mixed) == pytest.approx(density * (numpy.log(1.2) - scipy.special.digamma(2.5)), rel=1e-12)


@pytest.mark.parametrize("call, primitive, argument", [
    (lambda a: cr.grad(special.gammainc)(a, 1.5), "gammainc_derivative_a", "a"),
    (lambda a: cr.grad(special.gammaincc)(a, 1.5), "gammainc_derivative_a", "a"),
    (lambda a: cr.grad(special.betainc)(a, 2.0, 0.5), "betainc_derivative_a", "a"),
    (lambda b: cr.grad(special.betainc)(2.0, b, 0.5), "betainc_derivative_a", "b"),
    (lambda b: cr.grad(special.betainc, argnums=1)(2.0, b, 0.5), "betainc_derivative_b", "b"),
])
def test_second_derivative_in_a_shape_raises_naming_function_and_argument(call, primitive, argument):
    with pytest.raises(NotImplementedError, match=f"{primitive}: the derivative in its argument '{argument}'"):
        cr.grad(call)(2.0)


def test_edges_and_invalid_shapes():
    x = numpy.array([0.0, numpy.inf, 1.0, 1.0, numpy.nan])
    a = numpy.array([2.0, 2.0, 0.0, -1.0, 2.0])
    out = gammainc_derivative_a(a, x)
    numpy.testing.assert_array_equal(out[:2], [0.0, 0.0])
    assert numpy.isnan(out[2:]).all()  # a <= 0 and NaN are outside SciPy's domain, as gammainc gives NaN
    edges = numpy.array([0.0, 1.0])
    numpy.testing.assert_array_equal(betainc_derivative_a(2.0, 3.0, edges), [0.0, 0.0])
    numpy.testing.assert_array_equal(betainc_derivative_b(2.0, 3.0, edges), [0.0, 0.0])
    assert numpy.isnan(betainc_derivative_a(2.0, 3.0, 1.5))


def test_dtypes_and_scalars():
    single = gammainc_derivative_a(numpy.float32(2.0), numpy.array([0.5, 3.0], dtype=numpy.float32))
    assert single.dtype == numpy.float32
    assert gammainc_derivative_a(numpy.array([1, 2]), numpy.array([1, 2])).dtype == numpy.float64
    assert numpy.ndim(betainc_derivative_a(2.0, 3.0, 0.4)) == 0


def test_export_to_python_runs_the_same_sums():
    from chainrule.export import to_python
    generated = to_python(cr.grad(special.betainc, argnums=(0, 1)), 2.0, 3.0, 0.4, compile=True)
    got = generated(2.0, 3.0, 0.4)
    expected = cr.grad(special.betainc, argnums=(0, 1))(2.0, 3.0, 0.4)
    numpy.testing.assert_allclose(numpy.array(got, dtype=float), numpy.array(expected, dtype=float), rtol=1e-15)
