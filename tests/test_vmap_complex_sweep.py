"""vmap of functions that index per example (sort, median, take_along_axis, x[argmax(x)], interp, ...), and a
sweep of the elementwise, reduction and extra functions on float64, float32 and complex input: NumPy's value
and dtype under every transform, derivatives against JAX (or central differences where JAX has no such
function), float32 derivatives that stay float32."""
import zlib

import jax
import jax.numpy as jnp
import numpy
import pytest

import chainrule as cr
import chainrule.numpy as np
from chainrule.ops import indexing

jax.config.update("jax_enable_x64", True)

REAL = ("float64", "float32")
ALL = REAL + ("complex128", "complex64")
SINGLE = (numpy.float32, numpy.complex64)


def draw(kind, shape, dtype, rng):
    """v: ±(0.2..1.2); p: positive; u: in (0.1, 0.9); g: above 1; inc: increasing. Complex dtypes add an
    imaginary part small enough to stay inside each domain."""
    complex_ = numpy.dtype(dtype).kind == "c"

    def imag(scale):
        return 1j * rng.uniform(-scale, scale, shape) if complex_ else 0.0

    if kind == "v":
        values = rng.choice([-1.0, 1.0], shape) * rng.uniform(0.2, 1.2, shape) + imag(0.6)
    elif kind == "p":
        values = rng.uniform(0.5, 2.0, shape) + imag(0.4)
    elif kind == "u":
        values = rng.uniform(0.1, 0.9, shape) + imag(0.05)
    elif kind == "g":
        values = rng.uniform(1.3, 2.5, shape) + imag(0.2)
    elif kind == "inc":
        values = numpy.sort(rng.uniform(-2.0, 2.0, shape)) + imag(0.3)
    else:
        raise KeyError(kind)
    return numpy.asarray(values, dtype=dtype)


def assert_same(actual, expected, dtype, what, rtol=None):
    """Equal values and the same dtype (the tolerance follows the precision of the case's dtype)."""
    actual, expected = numpy.asarray(actual), numpy.asarray(expected)
    assert actual.dtype == expected.dtype, f"{what}: dtype {actual.dtype}, expected {expected.dtype}"
    assert actual.shape == expected.shape, f"{what}: shape {actual.shape}, expected {expected.shape}"
    tolerance = rtol or (2e-4 if numpy.dtype(dtype) in SINGLE else 1e-9)
    numpy.testing.assert_allclose(actual, expected, rtol=tolerance, atol=tolerance, err_msg=what)


# ------------------------------------------------------------------------------------ vmap of per-example indices

rng = numpy.random.default_rng(11)
KNOTS = numpy.linspace(-2.0, 2.0, 7)
PER_EXAMPLE = {
    "sort": lambda a: np.sort(a),
    "median": lambda a: np.median(a),
    "quantile": lambda a: np.quantile(a, 0.3),
    "percentile": lambda a: np.percentile(a, [30.0, 60.0]),
    "partition": lambda a: np.partition(a, 2),
    "take_along_axis": lambda a: np.take_along_axis(a, np.argsort(a), 0),
    "argmax_index": lambda a: a[np.argmax(a)],
    "interp": lambda a: np.interp(a, KNOTS, numpy.sin(KNOTS)),
}


@pytest.mark.parametrize("in_axis", [0, 1])
@pytest.mark.parametrize("name", sorted(PER_EXAMPLE))
def test_vmap_of_per_example_indexing_equals_stacked_examples(name, in_axis):
    f = PER_EXAMPLE[name]
    x = rng.standard_normal((4, 5))
    examples = [numpy.take(x, k, axis=in_axis) for k in range(x.shape[in_axis])]
    numpy.testing.assert_allclose(cr.vmap(f, in_axes=in_axis)(x), numpy.stack([f(e) for e in examples]),
                                  rtol=1e-13)
    loss = cr.grad(lambda a: np.sum(f(a) * 1.5))
    numpy.testing.assert_allclose(cr.vmap(loss, in_axes=in_axis)(x), numpy.stack([loss(e) for e in examples]),
                                  rtol=1e-13)


def _take(index_of):
    def take(x, i, j):
        template, arrays = indexing.split_index(index_of(i, j))
        return indexing.gather(x, *arrays, template=template)
    return take


# Every layout NumPy gives advanced indices: first, after basic ones, separated by them or by a new axis, with
# an Ellipsis (also one standing for no axis), integers among them, index arrays that broadcast together.
INDEX_LAYOUTS = {
    "first": lambda i, j: (i,),
    "after_slice": lambda i, j: (slice(None), i),
    "two_broadcast": lambda i, j: (j, i),
    "separated": lambda i, j: (i, slice(1, 3), i),
    "with_int": lambda i, j: (1, slice(None), i),
    "int_adjacent": lambda i, j: (slice(None), 2, i),
    "new_axis_first": lambda i, j: (None, i, slice(1, 3)),
    "new_axis_between": lambda i, j: (i, None, i),
    "ellipsis": lambda i, j: (Ellipsis, i),
    "empty_ellipsis": lambda i, j: (i, j, Ellipsis, i),
    "scalar_index": lambda i, j: (i[0],),
}


@pytest.mark.parametrize("operand_batched", [True, False])
@pytest.mark.parametrize("layout", sorted(INDEX_LAYOUTS))
def test_gather_with_per_example_index_arrays(layout, operand_batched):
    take = _take(INDEX_LAYOUTS[layout])
    x = rng.standard_normal((3, 4, 4, 4))
    i = rng.integers(0, 4, (3, 2))
    j = rng.integers(0, 4, (3, 2, 1))
    operand = x if operand_batched else x[0]
    in_axes = (0 if operand_batched else None, 0, 0)
    looped = numpy.stack([take(x[k] if operand_batched else x[0], i[k], j[k]) for k in range(3)])
    numpy.testing.assert_array_equal(cr.vmap(take, in_axes=in_axes)(operand, i, j), looped)
    if operand_batched:  # the transpose (scatter_add) batched the same way
        weights = rng.standard_normal(looped.shape[1:])
        per_example = cr.grad(lambda x, i, j: np.sum(take(x, i, j) * weights))
        numpy.testing.assert_allclose(cr.vmap(per_example)(x, i, j),
                                      numpy.stack([per_example(x[k], i[k], j[k]) for k in range(3)]), rtol=1e-13)


@pytest.mark.parametrize("updates_batched", [True, False])
@pytest.mark.parametrize("index_of, update_shape", [
    (lambda i: (i,), (3, 5)), (lambda i: (i,), (5,)), (lambda i: (slice(None), i), (4, 3)),
    (lambda i: (i, slice(1, 3)), (3, 2)), (lambda i: (Ellipsis, i), (3,))])
def test_scatter_with_per_example_index_arrays(index_of, update_shape, updates_batched):
    def update(x, i, v):
        template, arrays = indexing.split_index(index_of(i))
        return indexing.scatter(x, v, *arrays, template=template)

    x = rng.standard_normal((3, 4, 5))
    i = numpy.array([[0, 2, 0], [1, 1, 3], [3, 2, 1]])  # repeated positions: the last update wins
    v = rng.standard_normal((3,) + update_shape)
    values = v if updates_batched else v[0]
    in_axes = (0, 0, 0 if updates_batched else None)

    def example(k):
        return x[k], i[k], v[k] if updates_batched else v[0]
    numpy.testing.assert_array_equal(cr.vmap(update, in_axes=in_axes)(x, i, values),
                                     numpy.stack([update(*example(k)) for k in range(3)]))
    weights = rng.standard_normal((4, 5))
    per_example = cr.grad(lambda x, i, v: np.sum(update(x, i, v) * weights), argnums=(0, 2))
    batched = cr.vmap(per_example, in_axes=in_axes)(x, i, values)
    looped = [per_example(*example(k)) for k in range(3)]
    for position in range(2):
        numpy.testing.assert_allclose(batched[position], numpy.stack([g[position] for g in looped]), rtol=1e-13)


# ------------------------------------------------------------------------------------ complex: the named defects

def _complex(shape, scale=1.0):
    return scale * (rng.uniform(-1.0, 1.0, shape) + 1j * rng.uniform(-1.0, 1.0, shape))


def _check_against_numpy_and_jax(f, numpy_f, jax_f, *args):
    """Value and dtype as NumPy's under jvp and vjp; JVP and VJP as JAX's."""
    expected = numpy.asarray(numpy_f(*args))
    tangents = tuple(_complex(numpy.shape(a)) if numpy.iscomplexobj(a) else rng.standard_normal(numpy.shape(a))
                     for a in args)
    out, out_dot = cr.jvp(f, args, tangents)
    assert_same(out, expected, "complex128", "value under jvp")
    numpy.testing.assert_allclose(out_dot, numpy.asarray(jax.jvp(jax_f, args, tangents)[1]), rtol=1e-10, atol=1e-12)
    out, pullback = cr.vjp(f, *args)
    assert_same(out, expected, "complex128", "value under vjp")
    cotangent = _complex(expected.shape)
    _, jax_pullback = jax.vjp(jax_f, *args)
    for mine, theirs in zip(pullback(cotangent), jax_pullback(jnp.asarray(cotangent))):
        numpy.testing.assert_allclose(mine, numpy.asarray(theirs), rtol=1e-10, atol=1e-12)


def test_float_power_of_complex_input_is_complex():
    z, w = _complex(4), _complex(4, 0.5)
    assert np.float_power(z, 2).dtype == numpy.complex128
    _check_against_numpy_and_jax(np.float_power, numpy.float_power, jnp.float_power, z, w)
    _check_against_numpy_and_jax(lambda x: np.float_power(x, 1j), lambda x: numpy.float_power(x, 1j),
                                 lambda x: jnp.float_power(x, 1j), rng.uniform(0.5, 2.0, 4))


@pytest.mark.parametrize("mode", ["valid", "same", "full"])
@pytest.mark.parametrize("lengths", [(5, 3), (3, 5), (4, 4), (6, 3), (3, 6)])
def test_correlate_conjugates_its_second_argument(lengths, mode):
    a, v = _complex(lengths[0]), _complex(lengths[1])

    def correlate(xp):
        return lambda a, v: xp.correlate(a, v, mode)
    _check_against_numpy_and_jax(correlate(np), correlate(numpy), correlate(jnp), a, v)


@pytest.mark.parametrize("rowvar", [True, False])
def test_cov_and_corrcoef_of_complex_variables(rowvar):
    m, y = _complex((3, 5)), _complex((3, 5))
    _check_against_numpy_and_jax(lambda m: np.cov(m, rowvar=rowvar), lambda m: numpy.cov(m, rowvar=rowvar),
                                 lambda m: jnp.cov(m, rowvar=rowvar), m)
    _check_against_numpy_and_jax(np.cov, numpy.cov, jnp.cov, m[0], y[0])
    _check_against_numpy_and_jax(lambda m: np.corrcoef(m, rowvar=rowvar), lambda m: numpy.corrcoef(m, rowvar=rowvar),
                                 lambda m: jnp.corrcoef(m, rowvar=rowvar), m)
    _check_against_numpy_and_jax(np.corrcoef, numpy.corrcoef, jnp.corrcoef, m[0], y[0])


# ------------------------------------------------------------------------------------ float32: the named defects

def test_logaddexp2_keeps_float32_with_a_python_number():
    x = numpy.array([0.5, 1.5], dtype=numpy.float32)
    for other in (2.0, 2):
        assert np.logaddexp2(x, other).dtype == numpy.logaddexp2(x, other).dtype == numpy.float32
        assert np.logaddexp2(other, x).dtype == numpy.float32
        out, out_dot = cr.jvp(lambda x: np.logaddexp2(x, other), (x,), (x,))
        assert out.dtype == out_dot.dtype == numpy.float32
        assert cr.hessian(lambda x: np.sum(np.logaddexp2(x, other)))(x).dtype == numpy.float32


@pytest.mark.parametrize("function", [np.median, lambda a: np.quantile(a, 0.3), lambda a: np.percentile(a, 40)])
def test_median_and_quantiles_of_float32_stay_float32(function):
    a = rng.standard_normal(6).astype(numpy.float32)
    assert function(a).dtype == numpy.float32
    assert cr.jvp(function, (a,), (a,))[0].dtype == cr.jvp(function, (a,), (a,))[1].dtype == numpy.float32
    assert cr.grad(function)(a).dtype == numpy.float32
    assert cr.hessian(function)(a).dtype == numpy.float32


def test_arctan2_hessians_of_float32_stay_float32():
    x = numpy.array([0.5, -1.5, 2.0], dtype=numpy.float32)
    for f in (lambda x: np.arctan2(x[0], x[1]), lambda x: np.sum(np.arctan2(x, 2.0)),
              lambda x: np.sum(np.arctan2(2.0, x)), lambda x: np.sum(np.arctan2(x, x[::-1]))):
        hessian = cr.hessian(f)(x)
        assert hessian.dtype == numpy.float32
        numpy.testing.assert_allclose(hessian, cr.hessian(f)(x.astype(numpy.float64)), rtol=1e-4, atol=1e-5)


# ------------------------------------------------------------------------------------ the sweep

class A:
    """An array argument (differentiated): values of ``kind``; ``dtype`` fixes its dtype whatever the case's."""

    def __init__(self, kind, shape=(4,), dtype=None):
        self.kind, self.shape, self.dtype = kind, shape, dtype

    def __repr__(self):
        return f"A({self.kind!r}, {self.shape})"


V, P, U, G, M = A("v"), A("p"), A("u"), A("g"), A("v", (3, 4))


def case(name, *args, dtypes=ALL, differentiable=True, oracle="jax", label="", **kwargs):
    """One call of ``chainrule.numpy.<name>``; ``oracle`` is "jax" (jax.numpy.<name>) or "differences"."""
    return pytest.param(name, args, kwargs, dtypes, differentiable, oracle, id=f"{name}[{label}]" if label else name)


_LOG_LIKE = ("log", "log2", "log10", "log1p", "sqrt")
_HOLOMORPHIC_AND_OTHERS = ("sin", "cos", "tan", "arctan", "sinh", "cosh", "tanh", "arcsinh", "exp", "exp2", "expm1",
                           "absolute", "negative", "positive", "real", "imag", "conjugate", "square", "reciprocal",
                           "sinc", "angle") + _LOG_LIKE
_ORDERED_BINARY = ("add", "subtract", "multiply", "divide", "maximum", "minimum", "fmax", "fmin")
SWEEP = (
    [case(n, P if n in _LOG_LIKE else V) for n in _HOLOMORPHIC_AND_OTHERS]
    + [case(n, U) for n in ("arcsin", "arccos", "arctanh")] + [case("arccosh", G)]
    + [case(n, V, dtypes=REAL) for n in ("cbrt", "fabs", "deg2rad", "rad2deg", "floor", "ceil", "trunc")]
    + [case("fix", V, dtypes=REAL, oracle="differences")]
    + [case(n, V) for n in ("sign", "rint", "round")]
    + [case(n, V, differentiable=False) for n in ("isnan", "isinf", "isfinite", "logical_not")]
    + [case(n, V, V) for n in _ORDERED_BINARY]
    + [case(n, P, V) for n in ("power", "float_power")]
    + [case(n, V, V, dtypes=REAL) for n in ("arctan2", "hypot", "logaddexp", "logaddexp2", "copysign", "heaviside")]
    + [case(n, V, P, dtypes=REAL) for n in ("mod", "fmod", "floor_divide")]
    # A Python number on either side is weak: it never changes the array's dtype.
    + [case(n, P, 1.5, dtypes=ALL if n in _ORDERED_BINARY + ("power", "float_power") else REAL, label="scalar second")
       for n in _ORDERED_BINARY + ("power", "float_power", "arctan2", "hypot", "logaddexp", "logaddexp2", "copysign",
                                   "mod", "fmod")]
    + [case(n, 1.5, P, dtypes=ALL if n in _ORDERED_BINARY + ("power", "float_power") else REAL, label="scalar first")
       for n in _ORDERED_BINARY + ("power", "float_power", "arctan2", "hypot", "logaddexp", "logaddexp2", "copysign",
                                   "mod", "fmod")]
    + [case(n, V, V, differentiable=False) for n in ("less", "less_equal", "greater", "greater_equal", "equal",
                                                      "not_equal", "logical_and", "logical_or", "logical_xor")]
    + [case("clip", V, -0.5, 0.5, dtypes=REAL),
       case("clip", V, -0.5, 0.5, dtypes=("complex128",), oracle="differences", label="complex"),
       case("where", numpy.array([True, False, True, False]), V, V)]
    # reductions
    + [case(n, M, **kw, label=str(kw)) for n in ("sum", "prod", "mean", "var", "std", "cumsum", "cumprod", "max",
                                                  "min", "ptp") for kw in ({}, {"axis": 1})]
    + [case(n, M, axis=1, differentiable=False) for n in ("argmax", "argmin")]
    + [case("var", M, axis=0, ddof=1, label="ddof"), case("average", M, label="unweighted"),
       case("average", M, axis=1, weights=A("p"), label="weights"),
       case("average", M, axis=1, weights=A("p", dtype="float64"), label="float64 weights"),
       case("average", M, axis=0, weights=A("p", (3, 4)), returned=True, label="returned"),
       case("average", M, axis=0, returned=True, label="unweighted returned")]
    # extras
    + [case(n, M, axis=1) for n in ("nansum", "nanprod", "nanmean", "nanvar", "nanstd", "nancumsum", "nancumprod")]
    + [case(n, M, axis=1, dtypes=REAL) for n in ("nanmax", "nanmin")]
    + [case("nan_to_num", V), case("diff", M, axis=1), case("diff", V, n=2, label="n=2"), case("ediff1d", V),
       case("gradient", V), case("gradient", M, axis=1, label="axis"), case("trapezoid", M),
       case("trapezoid", V, A("inc"), label="x"), case("cumulative_sum", V),
       case("cumulative_sum", M, axis=1, include_initial=True, label="initial"),
       case("meshgrid", V, A("v", (3,))), case("append", V, A("v", (2,))), case("delete", V, 1),
       case("insert", V, 1, A("v", ())), case("block", [[M, M]]), case("vander", V),
       case("vander", V, 3, increasing=True, label="increasing"), case("polyval", V, A("v", (3,))),
       case("polyfit", A("inc", (5,)), A("v", (5,)), 2, dtypes=REAL),
       case("convolve", V, A("v", (3,))), case("convolve", V, A("v", (3,)), "same", label="same")]
    + [case("correlate", *args, mode, label=f"{mode} {args[0].shape[0]} by {args[1].shape[0]}")
       for mode in ("valid", "same", "full") for args in ((V, A("v", (3,))), (A("v", (3,)), V))]
    + [case("interp", V, KNOTS[:6], A("v", (6,)), dtypes=REAL),
       case("interp", A("v", dtype="float64"), KNOTS[:6], A("v", (6,)), dtypes=("complex128",), label="complex fp"),
       case("searchsorted", A("inc"), V, dtypes=REAL, differentiable=False),
       case("digitize", V, numpy.linspace(-1.0, 1.0, 5), dtypes=REAL, differentiable=False),
       case("cov", M), case("cov", M, rowvar=False, label="columns"), case("cov", V, A("v"), label="y"),
       case("corrcoef", M), case("corrcoef", V, A("v"), label="y"),
       case("histogram", V, dtypes=REAL, differentiable=False),
       case("histogram", V, bins=3, range=(-1.0, 1.0), dtypes=REAL, differentiable=False, label="range"),
       # (edges from the values carry no derivative: a range keeps them fixed for the differences)
       case("histogram", V, bins=3, range=(-1.0, 1.0), weights=A("p"), dtypes=REAL, oracle="differences",
            label="weights")]
    + [case(n, M, *q, **kw, dtypes=REAL, label=f"{q} {kw}") for n, q in (("median", ()), ("quantile", (0.3,)),
                                                                         ("percentile", (numpy.array([20.0, 70.0]),)))
       for kw in ({}, {"axis": 1})]
    + [case("quantile", M, numpy.array([0.2, 0.7], numpy.float32), axis=0, dtypes=REAL, label="float32 q"),
       case("median", M, dtypes=("complex128",), oracle="differences", label="complex"),
       case("median", M, axis=0, dtypes=("complex128",), oracle="differences", label="complex axis")]
)
SWEEP_PARAMS = [pytest.param(*p.values, dtype, id=f"{p.id}-{dtype}") for p in SWEEP for dtype in p.values[3]]


def _bind(name, args, kwargs, dtype):
    """(function of the array arguments for module ``xp``, the arrays) for one case and dtype."""
    rng_ = numpy.random.default_rng(zlib.crc32(f"{name}{args}{kwargs}{dtype}".encode()))
    arrays = []

    def slot(value):
        if isinstance(value, A):
            arrays.append(draw(value.kind, value.shape, value.dtype or dtype, rng_))
            return ("array", len(arrays) - 1)
        if isinstance(value, list):
            return [slot(v) for v in value]
        return ("fixed", value)

    slots = [slot(a) for a in args]
    keyword_slots = {key: slot(value) for key, value in kwargs.items()}

    def fill(entry, values):
        if isinstance(entry, list):
            return [fill(e, values) for e in entry]
        return values[entry[1]] if entry[0] == "array" else entry[1]

    def bound(xp):
        function = getattr(xp, name)
        return lambda *values: function(*[fill(s, values) for s in slots],
                                        **{key: fill(s, values) for key, s in keyword_slots.items()})
    return bound, arrays


def _leaves(value):
    if isinstance(value, (list, tuple)):
        return [leaf for item in value for leaf in _leaves(item)]
    return [numpy.asarray(value)]


@pytest.mark.parametrize("name, args, kwargs, dtypes, differentiable, oracle, dtype", SWEEP_PARAMS)
def test_value_under_every_transform_is_numpys(name, args, kwargs, dtypes, differentiable, oracle, dtype):
    bound, arrays = _bind(name, args, kwargs, dtype)
    f, reference = bound(np), bound(numpy)
    expected = _leaves(reference(*arrays))
    batch = [numpy.stack([a, (a * 1.01).astype(a.dtype)]) for a in arrays]
    batched_expected = [numpy.stack(values) for values in zip(*(_leaves(reference(*[b[k] for b in batch]))
                                                                  for k in range(2)))]
    outcomes = {"untraced": f(*arrays), "jit": cr.jit(f)(*arrays), "vmap": cr.vmap(f)(*batch)}
    if differentiable:
        outcomes["jvp"] = cr.jvp(f, tuple(arrays), tuple(arrays))[0]
        outcomes["vjp"] = cr.vjp(f, *arrays)[0]
    for transform, out in outcomes.items():
        references = batched_expected if transform == "vmap" else expected
        for got, want in zip(_leaves(out), references, strict=True):
            assert_same(got, want, dtype, f"{name} under {transform}")


def _central_difference(reference, arrays, tangents, dtype):
    step = 1e-6
    wide = [a.astype(numpy.complex128 if a.dtype.kind == "c" else numpy.float64) for a in arrays]
    plus = _leaves(reference(*[a + step * t for a, t in zip(wide, tangents)]))
    minus = _leaves(reference(*[a - step * t for a, t in zip(wide, tangents)]))
    return [(p - m) / (2 * step) for p, m in zip(plus, minus)]


def _double(value):
    value = numpy.asarray(value)
    return value.astype({numpy.float32: numpy.float64, numpy.complex64: numpy.complex128}.get(value.dtype.type,
                                                                                             value.dtype))


@pytest.mark.parametrize("name, args, kwargs, dtypes, differentiable, oracle, dtype",
                         [p for p in SWEEP_PARAMS if p.values[4]])
def test_derivatives_match_jax(name, args, kwargs, dtypes, differentiable, oracle, dtype):
    """JVP and VJP against JAX (or central differences) in double precision; single precision against the
    double-precision derivative at the same points, with the dtypes of the values and the inputs."""
    bound, arrays = _bind(name, args, kwargs, dtype)
    f = bound(np)
    draws = numpy.random.default_rng(3)
    tangents = [draw("v", a.shape, a.dtype, draws) for a in arrays]
    out, out_dot = cr.jvp(f, tuple(arrays), tuple(tangents))
    outputs, out_dots = _leaves(out), _leaves(out_dot)
    for value, tangent in zip(outputs, out_dots):
        if value.dtype.kind in "fc":
            assert tangent.dtype == value.dtype, f"{name}: tangent dtype {tangent.dtype}, value dtype {value.dtype}"
    cotangents = [draw("v", o.shape, o.dtype, draws) for o in outputs]
    structure = (lambda leaves: type(out)(leaves)) if isinstance(out, (tuple, list)) else (lambda leaves: leaves[0])
    input_cotangents = cr.vjp(f, *arrays)[1](structure(cotangents))
    for array, input_cotangent in zip(arrays, input_cotangents):
        assert numpy.asarray(input_cotangent).dtype == array.dtype
    if numpy.dtype(dtype) in SINGLE:
        doubled = [_double(a) for a in arrays]
        expected_dots = _leaves(cr.jvp(f, tuple(doubled), tuple(_double(t) for t in tangents))[1])
        expected_cotangents = cr.vjp(f, *doubled)[1](structure([_double(c) for c in cotangents]))
        tolerance = 2e-3
    elif oracle == "differences":
        expected_dots, expected_cotangents = _central_difference(bound(numpy), arrays, tangents, dtype), None
        tolerance = 1e-5
        # The VJP is the JVP's transpose: Re <y_bar, J t> == Re <J^T y_bar, t> (JAX's pairing, no conjugate).
        forward = sum(numpy.real(numpy.sum(c * d)) for c, d in zip(cotangents, out_dots))
        backward = sum(numpy.real(numpy.sum(c * t)) for c, t in zip(input_cotangents, tangents))
        assert forward == pytest.approx(backward, rel=1e-9, abs=1e-12)
    else:
        jax_f = bound(jnp)
        jax_out, jax_tangent = jax.jvp(jax_f, tuple(arrays), tuple(tangents))
        expected_dots = _leaves(jax_tangent)
        _, jax_pullback = jax.vjp(jax_f, *arrays)
        jax_cotangent = jax.tree_util.tree_map(lambda c, o: jnp.asarray(c).astype(o.dtype), structure(cotangents),
                                               jax_out)
        expected_cotangents = jax_pullback(jax_cotangent)
        tolerance = 1e-7
    for tangent, expected in zip(out_dots, expected_dots):
        numpy.testing.assert_allclose(tangent, numpy.asarray(expected), rtol=tolerance, atol=tolerance,
                                      err_msg=f"{name} jvp")
    for mine, expected in zip(input_cotangents, expected_cotangents or ()):
        numpy.testing.assert_allclose(mine, numpy.asarray(expected), rtol=tolerance, atol=tolerance,
                                      err_msg=f"{name} vjp")


@pytest.mark.parametrize("name, args, kwargs, dtypes, differentiable, oracle, dtype",
                         [p for p in SWEEP_PARAMS if p.values[4] and p.values[-1] == "float32"])
def test_float32_derivatives_stay_float32(name, args, kwargs, dtypes, differentiable, oracle, dtype):
    bound, arrays = _bind(name, args, kwargs, dtype)
    f = bound(np)

    def total(*values):  # a real scalar of every floating output
        out = f(*values)
        return sum(np.sum(np.real(o)) for o in (out if isinstance(out, (tuple, list)) else [out]) if o.dtype.kind in "fc")
    for array, gradient in zip(arrays, cr.grad(total, argnums=tuple(range(len(arrays))))(*arrays)):
        assert gradient.dtype == array.dtype
    outputs, tangents = cr.jvp(f, tuple(arrays), tuple(arrays))
    for value, tangent in zip(_leaves(outputs), _leaves(tangents)):
        if value.dtype.kind in "fc":
            assert tangent.dtype == value.dtype
    float32_positions = [k for k, a in enumerate(arrays) if a.dtype == numpy.float32]
    hessian = cr.hessian(total, argnums=float32_positions[0])(*arrays)
    assert hessian.dtype == numpy.float32
