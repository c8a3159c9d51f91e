"""NumPy names of ``chainrule.numpy`` that users reach for: r_/c_, the split family, select, rollaxis,
real_if_close, linspace/logspace/geomspace differentiable in their endpoints, cross with NumPy's keywords, ``.at``
on the constructors' arrays, ``chainrule.numpy.random``, and NumPy's result types for scalar inputs. Values against
NumPy, derivatives against jax.numpy or central differences, vmap against stacking examples."""
import pickle
import warnings

import numpy
import pytest

import chainrule as cr
import chainrule.numpy as np
from chainrule.core.interpreter import ChainruleError, ConcretizationError

import jax  # the independent oracle: installed by the test extra, so a missing JAX fails loudly
jax.config.update("jax_enable_x64", True)
import jax.numpy as jnp  # noqa: E402

DTYPES = ("float64", "float32", "complex128")
TOLERANCE = {"float64": 1e-10, "float32": 2e-4, "complex128": 1e-10}


def draw(shape, dtype, seed=0):
    """Values in ±(0.5..1.5), complex ones with an imaginary part too, in ``dtype``."""
    rng = numpy.random.default_rng(seed)
    values = rng.choice([-1.0, 1.0], shape) * rng.uniform(0.5, 1.5, shape)
    if numpy.dtype(dtype).kind == "c":
        values = values + 1j * rng.uniform(-0.5, 0.5, shape)
    return numpy.asarray(values, dtype=dtype)


def assert_close(got, expected, dtype="float64"):
    got, expected = numpy.asarray(got), numpy.asarray(expected)
    assert got.shape == expected.shape, (got.shape, expected.shape)
    numpy.testing.assert_allclose(got, expected, rtol=TOLERANCE[str(dtype)], atol=TOLERANCE[str(dtype)])


def tangents_like(args, seed=1):
    return tuple(draw(numpy.shape(a), numpy.asarray(a).dtype, seed + k) for k, a in enumerate(args))


def check_against_jax(ours, theirs, args, dtype):
    """Value (dtype included) against NumPy's untraced value, JVP and VJP against JAX's."""
    plain = ours(*args)
    tangents = tangents_like(args)
    value, tangent = cr.jvp(ours, args, tangents)
    assert numpy.asarray(value).dtype == numpy.asarray(plain).dtype, (numpy.asarray(value).dtype, plain.dtype)
    assert_close(value, plain, dtype)
    expected_value, expected_tangent = jax.jvp(theirs, args, tangents)
    assert_close(value, expected_value, dtype)
    assert_close(tangent, expected_tangent, dtype)
    cotangent = draw(numpy.shape(plain), numpy.asarray(plain).dtype, seed=7)
    _, pullback = cr.vjp(ours, *args)
    _, their_pullback = jax.vjp(theirs, *args)  # (JAX's dtype may differ from NumPy's: arange is weak there)
    for got, expected in zip(pullback(cotangent), their_pullback(cotangent.astype(expected_value.dtype))):
        assert_close(got, expected, dtype)


def check_vmap(function, batched, *fixed):
    """vmap over the first axis of ``batched`` equals stacking the examples."""
    stacked = numpy.stack([numpy.asarray(function(example, *fixed)) for example in batched])
    assert_close(cr.vmap(lambda b: function(b, *fixed))(batched), stacked, batched.dtype)


# ----------------------------------------------------------------------------------------------- r_ and c_

R_EXPRESSIONS = {
    "pieces and a number": lambda m, a, b: m.r_[a, b, 0.5],
    "a slice": lambda m, a, b: m.r_[a, 0:3, b],
    "a counted slice": lambda m, a, b: m.r_[-1:1:4j, a],
    "axis directive": lambda m, a, b: m.r_["0,2", a, b],
    "axis and trans1d": lambda m, a, b: m.r_["0,2,0", a, b],
    "columns": lambda m, a, b: m.c_[a, b],
    "2-d pieces": lambda m, a, b: m.c_[m.reshape(a, (1, 3)), 1.0, m.reshape(b, (1, 3))],
}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", R_EXPRESSIONS)
def test_r_and_c_values_and_derivatives(name, dtype):
    expression = R_EXPRESSIONS[name]
    a, b = draw(3, dtype), draw(3, dtype, seed=2)
    numpy.testing.assert_array_equal(expression(np, a, b), expression(numpy, a, b))
    assert expression(np, a, b).dtype == expression(numpy, a, b).dtype
    check_against_jax(lambda a, b: expression(np, a, b), lambda a, b: expression(jnp, a, b), (a, b), dtype)


def test_r_and_c_under_vmap_and_grad():
    a, b = draw((4, 3), "float64"), draw(3, "float64", seed=3)
    check_vmap(lambda a, b: np.r_[a, b, 2.0], a, b)
    check_vmap(lambda a, b: np.c_[a, b], a, b)
    gradient = cr.grad(lambda a: np.sum(np.r_[a, a ** 2] ** 2))(b)
    assert_close(gradient, jax.grad(lambda a: jnp.sum(jnp.r_[a, a ** 2] ** 2))(b))


def test_r_counted_slice_is_differentiable_in_its_endpoints():
    f = lambda stop: np.r_[0.0:stop:5j, 7.0]
    value, tangent = cr.jvp(f, (2.0,), (1.0,))
    numpy.testing.assert_array_equal(value, numpy.r_[0.0:2.0:5j, 7.0])
    h = 1e-6
    assert_close(tangent, (numpy.r_[0.0:2.0 + h:5j, 7.0] - numpy.r_[0.0:2.0 - h:5j, 7.0]) / (2 * h))


def test_r_and_c_refuse_what_cannot_be_traced():
    with pytest.raises(ConcretizationError, match="imaginary step"):
        cr.grad(lambda x: np.sum(np.r_[0.0:x]))(3.0)
    with pytest.raises(NotImplementedError, match="matrix"):
        cr.grad(lambda x: np.sum(np.r_["r", x, x]))(3.0)
    with pytest.raises(ValueError, match="first entry"):
        cr.grad(lambda x: np.sum(np.r_[x, "0,2"]))(3.0)
    with pytest.warns(PendingDeprecationWarning, match="matrix"):  # nothing traced: NumPy's own
        assert isinstance(np.r_["r", [1.0, 2.0], [3.0]], numpy.matrix)


# ------------------------------------------------------------ split family, select, rollaxis, real_if_close

SHAPED = {
    "hsplit": (lambda m, x: m.stack(m.hsplit(x, 2)), (3, 4)),
    "hsplit vector": (lambda m, x: m.concatenate(m.hsplit(x, [1, 3])[::-1]), (4,)),
    "vsplit": (lambda m, x: m.vsplit(x, [1])[1], (3, 4)),
    "dsplit": (lambda m, x: m.stack(m.dsplit(x, 2)), (2, 3, 4)),
    "rollaxis": (lambda m, x: m.rollaxis(x, 2), (2, 3, 4)),
    "rollaxis start": (lambda m, x: m.rollaxis(x, 0, 3), (2, 3, 4)),
    "rollaxis negative": (lambda m, x: m.rollaxis(x, -1, -2), (2, 3, 4)),
    "select": (lambda m, x: m.select([m.real(x) < 0, m.real(x) < 1], [-x, x ** 2], default=3.0), (3, 4)),
    "select broadcast": (lambda m, x: m.select([m.real(x[0]) > 0], [x], default=x[1]), (3, 4)),
}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", SHAPED)
def test_shaping_names_values_derivatives_and_vmap(name, dtype):
    expression, shape = SHAPED[name]
    x = draw(shape, dtype)
    assert_close(expression(np, x), expression(numpy, x), dtype)
    assert expression(np, x).dtype == expression(numpy, x).dtype
    check_against_jax(lambda x: expression(np, x), lambda x: expression(jnp, x), (x,), dtype)
    check_vmap(lambda x: expression(np, x), draw((2,) + shape, dtype, seed=5))


def test_select_keeps_float32_and_checks_its_arguments():
    x = draw(4, "float32")
    value = cr.jvp(lambda x: np.select([x > 0], [x * 2], default=0), (x,), (x,))[0]
    assert value.dtype == numpy.float32
    with pytest.raises(ValueError, match="same length"):
        cr.grad(lambda x: np.sum(np.select([x > 0], [x, x])))(x)
    with pytest.raises(TypeError, match="invalid entry 0 in condlist"):
        cr.grad(lambda x: np.sum(np.select([x], [x])))(x)


def test_split_family_refuses_too_few_dimensions():
    for name, shape in (("hsplit", ()), ("vsplit", (4,)), ("dsplit", (2, 2))):
        with pytest.raises(ValueError, match=f"{name} only works"):
            cr.grad(lambda x: np.sum(getattr(np, name)(x, 2)[0]))(numpy.ones(shape))
    with pytest.raises(numpy.exceptions.AxisError, match="start"):
        cr.grad(lambda x: np.sum(np.rollaxis(x, 0, 5)))(numpy.ones((2, 3)))


@pytest.mark.parametrize("dtype", ("complex64", "complex128"))
def test_real_if_close(dtype):
    nearly_real = (draw(3, "float64") + 1e-20j).astype(dtype)
    really_complex = draw(3, "complex128").astype(dtype)
    for x in (nearly_real, really_complex, draw(3, "float64").astype(numpy.float32)):
        value, tangent = cr.jvp(np.real_if_close, (x,), (x,))
        expected = numpy.real_if_close(x)
        assert value.dtype == expected.dtype and tangent.dtype == expected.dtype
        assert_close(value, expected, "float32" if x.dtype.itemsize <= 8 else "float64")
        assert_close(tangent, expected, "float32" if x.dtype.itemsize <= 8 else "float64")  # the map is linear
    with pytest.raises(ConcretizationError, match="graph"):
        cr.jit(np.real_if_close)(nearly_real.astype(numpy.complex128))


# ------------------------------------------------------------------------ linspace, logspace, geomspace

SPACES = {
    "linspace": lambda m, a, b: m.linspace(a, b, 5),
    "linspace no endpoint": lambda m, a, b: m.linspace(a, b, 4, endpoint=False),
    "linspace axis": lambda m, a, b: m.linspace(a, b, 3, axis=-1),
    "linspace one": lambda m, a, b: m.linspace(a, b, 1),
    "linspace step": lambda m, a, b: m.linspace(a, b, 6, retstep=True)[1],
    "logspace": lambda m, a, b: m.logspace(a, b, 4),
    "logspace base": lambda m, a, b: m.logspace(a, b, 4, base=2.0, axis=1),
    "geomspace": lambda m, a, b: m.geomspace(a, b, 5),
    "geomspace no endpoint": lambda m, a, b: m.geomspace(a, b, 4, endpoint=False, axis=1),
}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", SPACES)
def test_spaces_are_differentiable_in_their_endpoints(name, dtype):
    expression = SPACES[name]
    start, stop = draw(2, dtype), draw(2, dtype, seed=3)
    if name.startswith("geomspace"):
        stop = start * draw(2, dtype, seed=3) ** 2  # the same sign: a real geometric sequence
    ours = lambda a, b: expression(np, a, b)
    assert_close(ours(start, stop), expression(numpy, start, stop), dtype)
    check_against_jax(ours, lambda a, b: expression(jnp, a, b), (start, stop), dtype)
    check_vmap(lambda a, b: ours(a, b), draw((3, 2), dtype, seed=4) * 0.5 + 2.0, stop + 3.0)


def test_linspace_with_a_python_number_end_keeps_float32_and_takes_an_integer_dtype():
    x = numpy.float32(1.5)
    value, tangent = cr.jvp(lambda x: np.linspace(x, 3.0, 4), (x,), (numpy.float32(1.0),))
    assert value.dtype == tangent.dtype == numpy.float32
    numpy.testing.assert_array_equal(value, numpy.linspace(x, 3.0, 4))
    value = cr.jvp(lambda x: np.linspace(x, 9.0, 4, dtype=numpy.int64), (0.5,), (1.0,))[0]
    numpy.testing.assert_array_equal(value, numpy.linspace(0.5, 9.0, 4, dtype=numpy.int64))
    gradient = cr.grad(lambda x: np.sum(np.linspace(x, 3.0, 7) ** 2))(0.5)
    assert_close(gradient, jax.grad(lambda x: jnp.sum(jnp.linspace(x, 3.0, 7) ** 2))(0.5))


def test_logspace_with_an_array_base_against_central_differences():
    base = numpy.array([2.0, 3.0])
    f = lambda start: np.logspace(start, 3.0, 4, base=base)
    value, tangent = cr.jvp(f, (1.0,), (1.0,))
    numpy.testing.assert_allclose(value, numpy.logspace(1.0, 3.0, 4, base=base))
    h = 1e-6
    expected = (numpy.logspace(1.0 + h, 3.0, 4, base=base) - numpy.logspace(1.0 - h, 3.0, 4, base=base)) / (2 * h)
    numpy.testing.assert_allclose(tangent, expected, rtol=1e-7)
    base_derivative = cr.jacobian(lambda b: np.logspace(1.0, 2.0, 3, base=b))(2.0)
    numpy.testing.assert_allclose(base_derivative, [1.0, 1.5 * 2.0 ** 0.5, 4.0])  # d/db b**t = t b**(t - 1)


def test_geomspace_of_negative_and_complex_endpoints_against_jax():
    check_against_jax(lambda a: np.geomspace(a, -3.0, 4), lambda a: jnp.geomspace(a, -3.0, 4),
                      (numpy.array(-1.0),), "float64")
    check_against_jax(lambda a: np.geomspace(a, 3.0 + 1j, 4), lambda a: jnp.geomspace(a, 3.0 + 1j, 4),
                      (numpy.array(1.0 - 1j),), "complex128")
    with pytest.raises(ValueError, match="cannot include zero"):
        cr.grad(lambda x: np.sum(np.geomspace(x, 0.0, 3)))(1.0)


def test_arange_gives_values_and_refuses_traced_bounds():
    for args in ((5,), (1.0, 2.0, 0.25), (3, 9, 2)):
        got, expected = np.arange(*args), numpy.arange(*args)
        numpy.testing.assert_array_equal(got, expected)
        assert got.dtype == expected.dtype
    assert_close(cr.grad(lambda x: np.sum(np.arange(4.0) * x))(2.0), 6.0)  # concrete bounds under a transform
    with pytest.raises(ConcretizationError, match="linspace"):
        cr.grad(lambda x: np.sum(np.arange(0.0, x)))(3.0)


# ------------------------------------------------------------------------------------------------- cross

CROSSES = {
    "3 and 3": (lambda m, a, b: m.cross(a, b), (4, 3), (4, 3)),
    "broadcast": (lambda m, a, b: m.cross(a, b), (2, 1, 3), (4, 3)),
    "axisa axisb axisc": (lambda m, a, b: m.cross(a, b, axisa=0, axisb=1, axisc=0), (3, 4), (4, 3)),
    "axis": (lambda m, a, b: m.cross(a, b, axis=0), (3, 2), (3, 2)),
    "2 and 2": (lambda m, a, b: m.cross(a, b), (4, 2), (4, 2)),
    "2 and 3": (lambda m, a, b: m.cross(a, b), (4, 2), (3,)),
    "3 and 2": (lambda m, a, b: m.cross(a, b, axisc=0), (4, 3), (2,)),
}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", CROSSES)
def test_cross_takes_numpys_keywords(name, dtype):
    expression, shape_a, shape_b = CROSSES[name]
    a, b = draw(shape_a, dtype), draw(shape_b, dtype, seed=2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # 2-vectors: NumPy's deprecation, checked below
        assert_close(expression(np, a, b), expression(numpy, a, b), dtype)
        check_against_jax(lambda a, b: expression(np, a, b), lambda a, b: expression(jnp, a, b), (a, b), dtype)
        check_vmap(lambda a, b: expression(np, a, b), draw((2,) + shape_a, dtype, seed=5), b)


def test_cross_warns_and_refuses_as_numpy_does():
    a, b = numpy.array([1.0, 2.0]), numpy.array([3.0, 4.0])
    with pytest.warns(DeprecationWarning, match="2-dimensional vectors"):
        cr.grad(lambda a: np.cross(a, b))(a)
    with pytest.raises(ValueError, match="dimension must be 2 or 3"):
        cr.grad(lambda a: np.sum(np.cross(a, a)))(numpy.ones(4))
    with pytest.raises(numpy.exceptions.AxisError, match="axisb"):
        cr.grad(lambda a: np.sum(np.cross(a, a, axisb=2)))(numpy.ones(3))


# ------------------------------------------------------------------------------- .at on constructed arrays

CONSTRUCTED = {
    "zeros": lambda: np.zeros(5), "ones": lambda: np.ones(5), "full": lambda: np.full(5, 2.0),
    "empty": lambda: np.empty(5), "zeros_like": lambda: np.zeros_like(numpy.ones(5)),
    "ones_like": lambda: np.ones_like(numpy.ones(5)), "full_like": lambda: np.full_like(numpy.ones(5), 3.0),
    "empty_like": lambda: np.empty_like(numpy.ones(5)), "array": lambda: np.array([1.0, 2.0, 3.0, 4.0, 5.0]),
    "asarray": lambda: np.asarray(numpy.arange(5.0)), "eye": lambda: np.eye(5)[1],
    "identity": lambda: np.identity(5)[2], "arange": lambda: np.arange(5.0), "linspace": lambda: np.linspace(1, 2, 5),
    "logspace": lambda: np.logspace(0, 1, 5), "geomspace": lambda: np.geomspace(1, 2, 5),
    "copy": lambda: np.copy(numpy.ones(5)), "r_": lambda: np.r_[1.0:6.0],
}
UPDATES = ("set", "add", "subtract", "multiply", "divide", "power", "min", "max")
INDICES = {"element": 1, "slice": slice(1, 4), "array": numpy.array([0, 3]), "repeated": numpy.array([2, 0, 2])}


@pytest.mark.parametrize("name", CONSTRUCTED)
def test_constructors_give_numpy_arrays_with_at(name):
    x = CONSTRUCTED[name]()
    assert isinstance(x, numpy.ndarray) and hasattr(x, "at")
    before = numpy.array(x)
    updated = x.at[1].set(7.0)
    numpy.testing.assert_array_equal(x, before)  # a new array: x is unchanged
    numpy.testing.assert_array_equal(updated, numpy.where(numpy.arange(5) == 1, 7.0, before))
    assert updated.at[2].add(1.0)[2] == before[2] + 1.0  # updates chain
    assert repr(x) == repr(before)  # prints as a NumPy array
    assert type(x + 1.0) is numpy.ndarray and type(numpy.sin(x)) is numpy.ndarray  # arithmetic gives plain arrays
    assert type(np.sum(x)) is numpy.float64
    assert type(pickle.loads(pickle.dumps(x))) is type(x)


@pytest.mark.parametrize("index", INDICES)
@pytest.mark.parametrize("method", UPDATES)
def test_at_on_constructed_arrays_matches_jax_inside_and_outside_transforms(method, index):
    index = INDICES[index]
    region = numpy.shape(numpy.arange(5)[index])
    values = numpy.array([1.3, 0.7, 1.1])[:int(numpy.prod(region))].reshape(region)
    base = numpy.linspace(0.5, 1.5, 5)
    ours = getattr(np.array(base).at[index], method)(values)
    assert_close(ours, getattr(jnp.asarray(base).at[index], method)(values))
    assert hasattr(ours, "at")
    weights = numpy.arange(1.0, 6.0)

    def loss(m, v):  # a constant array (asarray gives arithmetic's result .at), updated with a traced value
        return m.sum(weights * getattr(m.asarray(m.ones(5) * 0.5 + m.arange(5.0) / 4).at[index], method)(v) ** 2)

    def update(m, v):
        return getattr(m.full(5, 0.8).at[index], method)(v)

    gradient = cr.grad(lambda v: loss(np, v))(values)
    value, tangent = cr.jvp(lambda v: update(np, v), (values,), (values,))
    assert_close(value, getattr(jnp.full(5, 0.8).at[index], method)(values))
    if method in ("multiply", "divide", "power") and numpy.ndim(index):  # no JAX derivative here: differences
        h = 1e-6
        steps = numpy.eye(values.size).reshape((values.size,) + region) * h
        assert_close(gradient, [(loss(np, values + s) - loss(np, values - s)) / (2 * h) for s in steps], "float32")
        assert_close(tangent, (update(np, values + h * values) - update(np, values - h * values)) / (2 * h), "float32")
    else:
        assert_close(gradient, jax.grad(lambda v: loss(jnp, v))(values))
        assert_close(tangent, jax.jvp(lambda v: update(jnp, v), (values,), (values,))[1])


def test_at_get_and_everyday_jax_code():
    x = np.arange(5.0)
    numpy.testing.assert_array_equal(x.at[1:3].get(), [1.0, 2.0])

    def fill(v):  # zeros, then written into piece by piece with traced values
        out = np.zeros(4)
        out = out.at[0].set(v[0] * v[1]).at[1:3].set(np.sin(v)).at[-1].add(v[0])
        return np.sum(out ** 2)

    def fill_jax(v):
        out = jnp.zeros(4)
        out = out.at[0].set(v[0] * v[1]).at[1:3].set(jnp.sin(v)).at[-1].add(v[0])
        return jnp.sum(out ** 2)

    v = numpy.array([0.3, -1.2])
    assert_close(cr.grad(fill)(v), jax.grad(fill_jax)(v))
    assert_close(cr.hessian(fill)(v), jax.hessian(fill_jax)(v))
    batch = draw((3, 2), "float64")
    check_vmap(lambda v: fill(v), batch)


@pytest.mark.parametrize("dtype", DTYPES)
def test_constructed_arrays_go_through_transforms_as_plain_arrays(dtype):
    x = np.asarray(draw(4, dtype))
    for transform_result in (cr.grad(lambda x: np.sum(np.abs(x) ** 2))(x), cr.jvp(np.sin, (x,), (x,))[1],
                             cr.vmap(np.sin)(x)):
        assert isinstance(transform_result, numpy.ndarray) and transform_result.dtype == x.dtype
    assert_close(cr.grad(lambda x: np.sum(np.abs(x) ** 2))(x), jax.grad(lambda x: jnp.sum(jnp.abs(x) ** 2))(x), dtype)


# ----------------------------------------------------------------------------------- chainrule.numpy.random

def test_numpy_random_imports_and_gives_numpys_functions():
    import chainrule.numpy.random as random
    assert np.random is random
    for name in numpy.random.__all__:
        assert getattr(random, name) is getattr(numpy.random, name), name
    assert isinstance(random.normal(size=3), numpy.ndarray)
    noise = random.default_rng(0).normal(size=3)
    assert_close(cr.grad(lambda s: np.sum(s * noise))(2.0), numpy.sum(noise))  # a draw is a constant
    with pytest.raises(ChainruleError):
        cr.grad(lambda s: np.sum(random.normal(0.0, s, size=3)))(2.0)  # its parameters cannot be traced


# ---------------------------------------------------------------------------- NumPy's types for scalar inputs

def test_untraced_results_have_numpys_types():
    scalar = numpy.float32(2.0)
    assert type(np.astype(scalar, numpy.float64)) is type(numpy.astype(scalar, numpy.float64))
    for name in ("atleast_1d", "atleast_2d", "atleast_3d", "broadcast_arrays"):
        got, expected = getattr(np, name)(1.0, 2.0), getattr(numpy, name)(1.0, 2.0)
        assert type(got) is type(expected), name
    assert np.broadcast_to(numpy.ones(2), (3, 2), subok=False).shape == (3, 2)  # NumPy's third parameter


SCALAR_CALLS = {
    "shape": (2.0,), "ndim": (2.0,), "size": (2.0,), "squeeze": (2.0,), "ravel": (2.0,), "transpose": (2.0,),
    "flip": (2.0,), "atleast_1d": (2.0,), "real_if_close": (2.0 + 1e-20j,), "expand_dims": (2.0, 0),
    "dot": (2.0, 3.0), "inner": (2.0, 3.0), "outer": (2.0, 3.0), "vdot": (2.0, 3.0), "kron": (2.0, 3.0),
    "tensordot": (2.0, 3.0, 0), "astype": (numpy.float32(2.0), numpy.float64), "allclose": (2.0, 2.0),
    "array_equal": (2.0, 2.0), "isclose": (2.0, 2.0), "select": ([True], [2.0]), "linspace": (0.0, 1.0, 3),
}


@pytest.mark.parametrize("name", SCALAR_CALLS)
def test_functions_of_this_front_return_numpys_types_for_scalars(name):
    args = SCALAR_CALLS[name]
    got, expected = getattr(np, name)(*args), getattr(numpy, name)(*args)
    assert type(got) is type(expected) or (type(got) is np.ArrayWithAt and type(expected) is numpy.ndarray)


# ---------------------------------------------------------------- reductions of lists of traced values

@pytest.mark.parametrize("name", ["mean", "std", "var", "linalg.norm"])
def test_reductions_of_a_list_of_traced_values(name):
    def pick(module):
        return getattr(module.linalg, "norm") if name == "linalg.norm" else getattr(module, name)

    ours = lambda x: pick(np)([x, 2.0 * x, x ** 2])
    theirs = lambda x: pick(jnp)(jnp.stack([x, 2.0 * x, x ** 2]))
    for x in (1.5, numpy.float32(0.7)):
        assert_close(cr.grad(ours)(x), jax.grad(theirs)(x), "float32" if isinstance(x, numpy.float32) else "float64")
        assert numpy.asarray(cr.grad(ours)(x)).dtype == numpy.asarray(x).dtype
    x = numpy.array([0.5, -1.0])
    assert_close(cr.grad(lambda x: pick(np)([x[0], x[1], 1.0]))(x),
                 jax.grad(lambda x: pick(jnp)(jnp.stack([x[0], x[1], 1.0])))(x))


# ------------------------------------------------------------------- isclose, allclose, array_equal traced

@pytest.mark.parametrize("dtype", DTYPES)
def test_whole_array_comparisons_work_under_every_transform(dtype):
    x = draw(4, dtype)
    near = x * (1 + 1e-9)
    comparisons = {
        "isclose": lambda x: np.isclose(x, near),
        "allclose": lambda x: np.allclose(x, near),
        "allclose far": lambda x: np.allclose(x, 2.0 * x),
        "array_equal": lambda x: np.array_equal(x, x + 0.0),
        "array_equal nan": lambda x: np.array_equal(x / 0.0 * 0.0, x / 0.0 * 0.0, equal_nan=True),
        "array_equal shapes": lambda x: np.array_equal(x, x[:2]),
    }
    for name, comparison in comparisons.items():
        with numpy.errstate(divide="ignore", invalid="ignore"):
            expected = comparison(x)  # NumPy's own: nothing is traced
            for transformed in (cr.jit(comparison)(x), cr.jvp(comparison, (x,), (x,))[0], cr.vjp(comparison, x)[0]):
                numpy.testing.assert_array_equal(transformed, expected, err_msg=name)
            numpy.testing.assert_array_equal(cr.vmap(comparison)(numpy.stack([x, x])), numpy.stack([expected] * 2),
                                             err_msg=name)


@pytest.mark.parametrize("name, arguments", [("clip", (3.0, 0, 1)), ("fmax", (1.0, 2.0)), ("fmin", (1.0, 2.0)),
                                             ("heaviside", (0.0, 0.5)), ("positive", (2.0,)), ("fabs", (2,)),
                                             ("reciprocal", (2,))])
def test_elementwise_functions_of_scalars_return_numpys_types(name, arguments):
    ours, theirs = getattr(np, name)(*arguments), getattr(numpy, name)(*arguments)
    assert type(ours) is type(theirs) and ours.dtype == theirs.dtype and ours == theirs
