"""Property-based tests: hypothesis draws shapes, axes, indices and values for broadcasting, reductions
and indexing; values are compared with NumPy, derivatives with JAX, with scatter-add references, and
through the identity <ȳ, J v> = <Jᵀ ȳ, v> plus central differences."""
import numpy as onp
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from hypothesis.extra import numpy as hnp

import chainrule as cr
import chainrule.numpy as cnp

import jax  # the independent oracle: installed by the test extra, so a missing JAX fails loudly
jax.config.update("jax_enable_x64", True)
jnp = jax.numpy

SETTINGS = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
RTOL = 1e-10


def close(got, expected, rtol=RTOL):
    expected = onp.asarray(expected)
    got = onp.asarray(got)
    assert got.shape == expected.shape, (got.shape, expected.shape)
    scale = max(1.0, float(onp.max(onp.abs(expected)))) if expected.size else 1.0
    onp.testing.assert_allclose(got, expected, rtol=rtol, atol=rtol * scale)


def values(shape, low=-2.0, high=2.0, stream=0):
    """Floats for ``shape``, drawn from hypothesis through a seed (fast, and shrinks well); different
    ``stream``s never give equal arrays for equal seeds."""
    return st.integers(0, 2 ** 32 - 1).map(
        lambda seed: onp.random.default_rng([seed, stream]).uniform(low, high, shape))


def check_transpose_identity(function, x, seed=0):
    """<ȳ, J v> from jvp equals <Jᵀ ȳ, v> from vjp, and J v matches central differences."""
    rng = onp.random.default_rng(seed)
    v = rng.standard_normal(onp.shape(x))
    out, out_dot = cr.jvp(function, (x,), (v,))
    y_bar = rng.standard_normal(onp.shape(out))
    _, pullback = cr.vjp(function, x)
    (x_bar,) = pullback(y_bar)
    left, right = float(onp.sum(y_bar * out_dot)), float(onp.sum(x_bar * v))
    assert abs(left - right) <= 1e-9 * max(1.0, abs(left)), (left, right)
    step = 1e-6
    numeric = (onp.asarray(function(x + step * v)) - onp.asarray(function(x - step * v))) / (2 * step)
    onp.testing.assert_allclose(out_dot, numeric, rtol=1e-5, atol=1e-6)


# ------------------------------------------------------------------------------------------ broadcasting

BINARY = {
    "add": (lambda xp: xp.add, (-2, 2), (-2, 2)), "subtract": (lambda xp: xp.subtract, (-2, 2), (-2, 2)),
    "multiply": (lambda xp: xp.multiply, (-2, 2), (-2, 2)), "divide": (lambda xp: xp.divide, (-2, 2), (0.5, 2)),
    "power": (lambda xp: xp.power, (0.5, 2), (-2, 2)), "maximum": (lambda xp: xp.maximum, (-2, 2), (-2, 2)),
    "minimum": (lambda xp: xp.minimum, (-2, 2), (-2, 2)), "arctan2": (lambda xp: xp.arctan2, (-2, 2), (0.5, 2)),
    "hypot": (lambda xp: xp.hypot, (0.5, 2), (-2, 2)), "logaddexp": (lambda xp: xp.logaddexp, (-2, 2), (-2, 2)),
    "where": (lambda xp: lambda a, b: xp.where(a > b, a * b, b - a), (-2, 2), (-2, 2)),
    "inner_times": (lambda xp: lambda a, b: xp.sum(a * b) * a, (-2, 2), (-2, 2)),
}


@st.composite
def broadcast_case(draw):
    name = draw(st.sampled_from(sorted(BINARY)))
    shapes = draw(hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=3, max_side=3))
    _, (low_a, high_a), (low_b, high_b) = BINARY[name]
    a = draw(values(shapes.input_shapes[0], low_a, high_a))
    b = draw(values(shapes.input_shapes[1], low_b, high_b, stream=1))
    return name, a, b, shapes.result_shape


@SETTINGS
@given(broadcast_case())
def test_broadcasting_binary_operations(case):
    name, a, b, result_shape = case
    make = BINARY[name][0]
    expected = make(onp)(a, b)
    assert onp.shape(expected) == (onp.shape(a) if name == "inner_times" else result_shape)
    close(make(cnp)(a, b), expected)
    out, _ = cr.jvp(make(cnp), (a, b), (onp.ones_like(a), onp.ones_like(b)))
    close(out, expected)
    weights = onp.random.default_rng(1).standard_normal(onp.shape(expected))
    got = cr.grad(lambda a, b: cnp.sum(make(cnp)(a, b) * weights), argnums=(0, 1))(a, b)
    reference = jax.grad(lambda a, b: jnp.sum(make(jnp)(a, b) * weights), argnums=(0, 1))(a, b)
    for g, r, x in zip(got, reference, (a, b)):
        assert onp.shape(g) == onp.shape(x)  # cotangents are summed back to the broadcast input's shape
        close(g, r)
    if a.size:
        check_transpose_identity(lambda a: make(cnp)(a, b), a)


# ------------------------------------------------------------------------------------------ reductions

REDUCTIONS = ["sum", "mean", "prod", "max", "min", "var", "std", "ptp"]


@st.composite
def reduction_case(draw):
    name = draw(st.sampled_from(REDUCTIONS))
    shape = draw(hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=4))
    ndim = len(shape)
    axis = draw(st.one_of(st.none(), st.integers(-ndim, ndim - 1),
                          st.lists(st.integers(0, ndim - 1), min_size=1, max_size=ndim, unique=True).map(tuple)))
    keepdims = draw(st.booleans())
    x = draw(values(shape, 0.5, 2.0))
    return name, x, axis, keepdims


@SETTINGS
@given(reduction_case())
def test_reductions_with_axis_and_keepdims(case):
    name, x, axis, keepdims = case
    reduce = lambda xp: lambda a: getattr(xp, name)(a, axis=axis, keepdims=keepdims)
    expected = reduce(onp)(x)
    close(reduce(cnp)(x), expected)
    out, _ = cr.jvp(reduce(cnp), (x,), (onp.ones_like(x),))
    close(out, expected)
    weights = onp.random.default_rng(2).standard_normal(onp.shape(expected))
    got = cr.grad(lambda a: cnp.sum(reduce(cnp)(a) * weights))(x)
    close(got, jax.grad(lambda a: jnp.sum(reduce(jnp)(a) * weights))(x))
    reduced_count = x.size // max(1, onp.size(expected))
    if not (name == "std" and reduced_count == 1):  # std of one value: sqrt'(0), no derivative
        check_transpose_identity(reduce(cnp), x)


@SETTINGS
@given(st.data())
def test_cumulative_reductions(data):
    shape = data.draw(hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=4))
    axis = data.draw(st.one_of(st.none(), st.integers(-len(shape), len(shape) - 1)))
    name = data.draw(st.sampled_from(["cumsum", "cumprod"]))
    x = data.draw(values(shape, -1.5, 1.5))
    reduce = lambda xp: lambda a: getattr(xp, name)(a, axis=axis)
    close(reduce(cnp)(x), reduce(onp)(x))
    weights = onp.random.default_rng(3).standard_normal(onp.shape(reduce(onp)(x)))
    close(cr.grad(lambda a: cnp.sum(reduce(cnp)(a) * weights))(x),
          jax.grad(lambda a: jnp.sum(reduce(jnp)(a) * weights))(x))


# ------------------------------------------------------------------------------------------ indexing

@st.composite
def basic_index_case(draw):
    shape = draw(hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=4))
    index = draw(hnp.basic_indices(shape, allow_newaxis=True, allow_ellipsis=True))
    return draw(values(shape)), index


@st.composite
def integer_array_index_case(draw):
    shape = draw(hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=4))
    index = draw(hnp.integer_array_indices(shape, result_shape=hnp.array_shapes(min_dims=1, max_dims=2,
                                                                              max_side=5)))
    return draw(values(shape)), index


@st.composite
def mixed_index_case(draw):
    # a slice or ellipsis next to an integer array with repeats, or a boolean mask
    shape = draw(hnp.array_shapes(min_dims=2, max_dims=3, min_side=1, max_side=4))
    kind = draw(st.sampled_from(["slice_then_array", "array_then_slice", "mask", "mask_partial",
                                 "ellipsis_array"]))
    positions = st.lists(st.integers(0, shape[-1] - 1), min_size=1, max_size=6).map(onp.array)
    if kind == "slice_then_array":
        index = (slice(None, None, draw(st.sampled_from([1, -1, 2]))), draw(positions))
        if len(shape) == 3:
            index = index + (slice(None),)
            index = (index[0], onp.minimum(index[1], shape[1] - 1), index[2])
    elif kind == "array_then_slice":
        index = (onp.minimum(draw(positions), shape[0] - 1), slice(1, None))
    elif kind == "mask":
        index = draw(hnp.arrays(bool, shape))
    elif kind == "mask_partial":
        index = (slice(None), draw(hnp.arrays(bool, shape[1:2])))
    else:
        index = (Ellipsis, draw(positions), None)
    return draw(values(shape)), index


def _check_index(x, index):
    expected = x[index]
    got = cr.jvp(lambda a: a[index], (x,), (onp.ones_like(x),))[0]
    close(got, expected)
    weights = onp.random.default_rng(4).standard_normal(onp.shape(expected))
    gradient = cr.grad(lambda a: cnp.sum(a[index] * weights))(x)
    # the reference: scatter-add of the weights, repeated positions accumulating
    reference = onp.zeros_like(x)
    onp.add.at(reference, index, weights)
    close(gradient, reference)
    if expected.size:
        check_transpose_identity(lambda a: a[index] ** 2, x)
        close(cr.hvp(lambda a: cnp.sum(a[index] ** 3 * weights), (x,), (onp.ones_like(x),))[0],
              _indexed_hvp(x, index, weights))


def _indexed_hvp(x, index, weights):
    # d^2/dx^2 sum(w * x[i]^3) . 1 = scatter-add of 6 w x[i] (the ones direction picks 1 at every i)
    reference = onp.zeros_like(x)
    onp.add.at(reference, index, 6.0 * weights * x[index])
    return reference


@SETTINGS
@given(basic_index_case())
def test_basic_indexing(case):
    _check_index(*case)


@SETTINGS
@given(integer_array_index_case())
def test_integer_array_indexing_with_repeats(case):
    _check_index(*case)


@SETTINGS
@given(mixed_index_case())
def test_mixed_and_boolean_indexing(case):
    _check_index(*case)


@SETTINGS
@given(st.one_of(basic_index_case(), integer_array_index_case(), mixed_index_case()))
def test_setitem_matches_numpy_and_differentiates_the_update(case):
    x, index = case
    region = onp.shape(x[index])
    v = onp.random.default_rng(5).standard_normal(region)

    def update(a, u):
        b = a * 1.0
        b[index] = u
        return b

    expected = x.copy()
    expected[index] = v
    close(cr.jvp(update, (x, v), (onp.ones_like(x), onp.ones_like(v)))[0], expected)
    weights = onp.random.default_rng(6).standard_normal(x.shape)
    x_bar, v_bar = cr.grad(lambda a, u: cnp.sum(cnp.sin(update(a, u)) * weights), argnums=(0, 1))(x, v)
    # reference: the cotangent reaches x where it was not overwritten, and each position's last writer
    cotangent = onp.cos(expected) * weights
    kept = onp.ones_like(x)
    kept[index] = 0.0
    close(x_bar, cotangent * kept)
    writer = onp.full(x.shape, -1)
    writer[index] = onp.arange(int(onp.prod(region))).reshape(region)
    expected_v_bar = onp.zeros(int(onp.prod(region)))
    for position in zip(*onp.nonzero(writer >= 0)):
        expected_v_bar[writer[position]] = cotangent[position]
    close(v_bar, expected_v_bar.reshape(region))
