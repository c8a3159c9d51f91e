"""chainrule.numpy extras (nan-reductions, differences, interpolation, convolution, polynomials, statistics,
counting helpers): traced values against NumPy, gradients against jax.numpy, second order by finite differences."""
import numpy
import pytest

import chainrule as cr
import chainrule.numpy as np
from chainrule.testing import check_grads

import jax  # the independent oracle: installed by the test extra, so a missing JAX fails loudly
jax.config.update("jax_enable_x64", True)
import jax.numpy as jnp  # noqa: E402

rng = numpy.random.default_rng(0)
vector = rng.standard_normal(7)
matrix = rng.standard_normal((3, 5))
nan_mask = rng.uniform(size=(3, 4)) < 0.3
finite = rng.standard_normal((3, 4))
with_nans = numpy.where(nan_mask, numpy.nan, finite)


def nanned(m, a):
    """NaNs put in inside the function, so finite differences move only the finite entries."""
    return m.where(nan_mask, numpy.nan, a)

knots = numpy.array([-1.0, 0.0, 0.5, 2.0])
values_at_knots = numpy.array([1.0, -1.0, 0.0, 3.0])
queries = numpy.array([-0.7, 0.2, 0.9, 1.7])

# name -> (function of chainrule.numpy or jax.numpy as `m`, arguments, check second order too)
CASES = {
    "nansum": (lambda m, a: m.nansum(nanned(m, a), axis=1), (finite,), True),
    "nanprod": (lambda m, a: m.nanprod(nanned(m, a), axis=0), (finite,), True),
    "nanmean": (lambda m, a: m.nanmean(nanned(m, a), axis=1), (finite,), True),
    "nanvar": (lambda m, a: m.nanvar(nanned(m, a), axis=1, ddof=1), (finite,), True),
    "nanstd": (lambda m, a: m.nanstd(nanned(m, a)), (finite,), True),
    "nanmax": (lambda m, a: m.nanmax(nanned(m, a), axis=1), (finite,), False),
    "nanmin": (lambda m, a: m.nanmin(nanned(m, a), axis=0), (finite,), False),
    "nancumsum": (lambda m, a: m.nancumsum(nanned(m, a), axis=1), (finite,), True),
    "nancumprod": (lambda m, a: m.nancumprod(nanned(m, a), axis=1), (finite,), True),
    "nan_to_num": (lambda m, a: m.nan_to_num(nanned(m, a) * m.array([1.0, numpy.inf, 1.0, 1.0])), (matrix[:, :4],), True),
    "diff": (lambda m, a: m.diff(a, n=2, axis=1), (matrix,), True),
    "diff prepend": (lambda m, a: m.diff(a, prepend=0.5), (vector,), True),
    "ediff1d": (lambda m, a: m.ediff1d(a, to_begin=m.array([1.0])), (matrix,), True),
    "gradient": (lambda m, a: m.gradient(a, 0.5), (vector,), True),
    "gradient 2d": (lambda m, a: m.stack(m.gradient(a)), (matrix,), True),
    "trapezoid": (lambda m, y, x: m.trapezoid(y, x), (vector, numpy.cumsum(numpy.abs(vector))), True),
    "trapezoid 2d": (lambda m, y: m.trapezoid(y, dx=0.3, axis=0), (matrix,), True),
    "cumulative_sum": (lambda m, a: m.cumulative_sum(a, axis=1, include_initial=True), (matrix,), True),
    "meshgrid": (lambda m, a, b: m.stack(m.meshgrid(a, b)), (vector[:3], vector[3:]), True),
    "meshgrid ij": (lambda m, a, b: m.stack(m.meshgrid(a, b, indexing="ij")), (vector[:3], vector[3:]), True),
    "append": (lambda m, a, b: m.append(a, b, axis=0), (matrix, matrix[:1]), True),
    "delete": (lambda m, a: m.delete(a, numpy.array([0, 2]), axis=1), (matrix,), True),
    "insert": (lambda m, a, b: m.insert(a, 2, b), (vector, vector[:1]), True),
    "block": (lambda m, a, b: m.block([[a, b], [b, a]]), (matrix[:2, :2], matrix[1:, 3:]), True),
    "vander": (lambda m, a: m.vander(a, 4), (vector,), True),
    "polyval": (lambda m, p, x: m.polyval(p, x), (vector[:4], matrix), True),
    "interp": (lambda m, x, xp, fp: m.interp(x, xp, fp), (queries, knots, values_at_knots), True),
    "interp outside": (lambda m, x, fp: m.interp(x, knots, fp, left=-2.0), (queries * 3, values_at_knots), True),
    "convolve full": (lambda m, a, v: m.convolve(a, v), (vector, vector[:3]), True),
    "convolve same": (lambda m, a, v: m.convolve(a, v, mode="same"), (vector[:3], vector), True),
    "convolve valid": (lambda m, a, v: m.convolve(a, v, mode="valid"), (vector, vector[:4]), True),
    "correlate valid": (lambda m, a, v: m.correlate(a, v), (vector, vector[:3]), True),
    "correlate full": (lambda m, a, v: m.correlate(a, v, mode="full"), (vector[:3], vector), True),
    "cov": (lambda m, a: m.cov(a), (matrix,), True),
    "cov rowvar=False": (lambda m, a, b: m.cov(a, b, rowvar=False, ddof=0), (matrix.T, matrix[:1].T), True),
    "corrcoef": (lambda m, a: m.corrcoef(a), (matrix,), True),
    "median": (lambda m, a: m.median(a, axis=1), (matrix,), False),
    "median even": (lambda m, a: m.median(a[1:]), (vector,), False),
    "quantile": (lambda m, a: m.quantile(a, numpy.array([0.1, 0.5, 0.9]), axis=0), (matrix,), False),
    "quantile keepdims": (lambda m, a: m.quantile(a, 0.3, axis=1, keepdims=True), (matrix,), False),
    "percentile": (lambda m, a: m.percentile(a, 37.0), (matrix,), False),
}


def _gradient_of(function, module, args):
    """Gradient of a scalar that mixes every output element differently."""
    def scalar(*a):
        out = function(module, *a)
        weights = numpy.linspace(0.5, 1.5, int(numpy.prod(out.shape))).reshape(out.shape)
        return module.sum(module.sin(out) * weights)
    return scalar


@pytest.mark.parametrize("name", sorted(CASES))
def test_against_jax(name):
    function, args, second_order = CASES[name]
    argnums = tuple(range(len(args)))
    value = cr.jvp(lambda *a: function(np, *a), args, args)[0]
    numpy.testing.assert_allclose(value, function(jnp, *args), rtol=1e-11, atol=1e-12)
    numpy.testing.assert_allclose(function(np, *args), value, rtol=1e-11, atol=1e-12)  # plain NumPy path agrees
    got = cr.grad(_gradient_of(function, np, args), argnums=argnums)(*args)
    expected = jax.grad(_gradient_of(function, jnp, args), argnums=argnums)(*args)
    for position, (g, e) in enumerate(zip(got, expected)):
        numpy.testing.assert_allclose(g, e, rtol=1e-9, atol=1e-11, err_msg=f"argument {position}")
    if second_order:
        check_grads(lambda *a: function(np, *a), args, order=2)


def test_gradient_edge_order_two():
    values = cr.jvp(lambda a: np.gradient(a, 0.5, edge_order=2), (vector,), (vector,))[0]
    numpy.testing.assert_allclose(values, numpy.gradient(vector, 0.5, edge_order=2), rtol=1e-12)
    check_grads(lambda a: np.gradient(a, 0.5, edge_order=2), (vector,), order=2)


def test_median_gradient_convention():
    # Odd count: all to the middle element; even count: split equally between the two middle values.
    numpy.testing.assert_array_equal(cr.grad(np.median)(numpy.array([3.0, 1.0, 2.0])), [0.0, 0.0, 1.0])
    numpy.testing.assert_array_equal(cr.grad(np.median)(numpy.array([4.0, 1.0, 3.0, 2.0])), [0.0, 0.0, 0.5, 0.5])
    with pytest.raises(NotImplementedError, match="with respect to q"):
        cr.grad(lambda q: np.quantile(numpy.arange(3.0), q))(0.5)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        cr.grad(lambda a: np.quantile(a, 1.5))(numpy.arange(3.0))


def test_counting_helpers_are_values_only():
    edges = numpy.array([0.0, 0.5, 1.0, 2.0])
    x = numpy.array([-0.1, 0.0, 0.5, 0.7, 2.0, 2.5])
    for side in ("left", "right"):
        got = cr.jvp(lambda t: np.searchsorted(edges, t, side=side), (x,), (x,))
        numpy.testing.assert_array_equal(got[0], numpy.searchsorted(edges, x, side=side))
    for right in (False, True):
        got = cr.jvp(lambda t: np.digitize(t, edges, right=right), (x,), (x,))[0]
        numpy.testing.assert_array_equal(got, numpy.digitize(x, edges, right=right))
    data = rng.uniform(0, 1, 20)
    for bins, kwargs in ((5, {}), (4, {"range": (0.0, 1.0)}), (edges, {"density": True})):
        counts = cr.jvp(lambda t: np.histogram(t, bins=bins, **kwargs)[0], (data,), (data,))[0]
        expected = numpy.histogram(data, bins=bins, **kwargs)[0]
        numpy.testing.assert_allclose(counts, expected)
    weights = rng.uniform(0.5, 2, 20)
    weighted = cr.grad(lambda w: np.sum(np.histogram(data, bins=3, weights=w)[0] ** 2))(weights)
    counts = numpy.histogram(data, bins=3, weights=weights)
    numpy.testing.assert_allclose(weighted, 2 * counts[0][numpy.digitize(data, counts[1][1:-1])])
    assert np.unravel_index(5, (2, 3)) == numpy.unravel_index(5, (2, 3))
    assert np.ravel_multi_index((1, 2), (2, 3)) == 5


def test_nan_entries_receive_zero_gradient():
    gradient = cr.grad(lambda a: np.nanmean(a) + np.nanstd(a))(with_nans)
    assert numpy.all(gradient[numpy.isnan(with_nans)] == 0.0)
    assert numpy.all(numpy.isfinite(gradient))


def test_errors_name_the_problem():
    with pytest.raises(ValueError, match="mode"):
        cr.grad(lambda a: np.sum(np.convolve(a, a, mode="circular")))(vector)
    with pytest.raises(ValueError, match="at least 2 points"):
        cr.grad(lambda x: np.interp(x, numpy.array([1.0]), numpy.array([2.0])))(0.5)
    with pytest.raises(ValueError, match="axis must be given"):
        cr.grad(lambda a: np.sum(np.cumulative_sum(a)))(matrix)
