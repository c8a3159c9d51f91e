"""Transforms and custom rules against eager results and JAX: staged Jacobians with infinite partials,
elementwise_grad, ravel_pytree, defjvps and nondiff_argnums, dir(chainrule), has_aux / kwargs / dtypes."""
import functools
import warnings

import numpy
import pytest

import chainrule as cr
import chainrule.numpy as np
from chainrule.export import to_python

jax = pytest.importorskip("jax")
jnp = pytest.importorskip("jax.numpy")
jax.config.update("jax_enable_x64", True)
from jax.flatten_util import ravel_pytree as jax_ravel_pytree  # noqa: E402


def assert_same(actual, expected):
    """Equal values, dtypes and shapes, with nan and inf in the same places and the same zero signs."""
    actual_leaves, expected_leaves = cr.tree_leaves(actual), cr.tree_leaves(expected)
    assert len(actual_leaves) == len(expected_leaves)
    for a, e in zip(actual_leaves, expected_leaves):
        a, e = numpy.asarray(a), numpy.asarray(e)
        assert a.dtype == e.dtype and a.shape == e.shape
        numpy.testing.assert_array_equal(a, e)  # nan matches nan
        numbers = ~numpy.isnan(a.real)  # the sign of a nan means nothing
        assert numpy.array_equal(numpy.signbit(a.real[numbers]), numpy.signbit(e.real[numbers]))


def assert_close_to_jax(actual, expected, rtol=1e-12):
    actual_leaves, expected_leaves = cr.tree_leaves(actual), jax.tree_util.tree_leaves(expected)
    assert len(actual_leaves) == len(expected_leaves)
    for a, e in zip(actual_leaves, expected_leaves):
        assert numpy.shape(a) == numpy.shape(e)
        numpy.testing.assert_allclose(numpy.asarray(a), numpy.asarray(e), rtol=rtol, atol=1e-14)


# ----------------------------------------------------------------- staged Jacobians with infinite partials

INFINITE_PARTIALS = {
    "sum_of_reciprocals": (lambda v: np.sum(1 / v), [0.0, 4.0]),
    "sqrt_times_reversed": (lambda v: np.sqrt(v) * v[::-1], [0.0, 4.0, 2.0]),
    "log_plus_sum": (lambda v: np.log(v) + np.sum(v), [0.0, 4.0, 2.0]),
    "power_times_reversed": (lambda v: np.sum(v ** 1.5 * v[::-1]), [0.0, 4.0, 2.0]),
}


@pytest.mark.parametrize("name", sorted(INFINITE_PARTIALS))
@pytest.mark.parametrize("transform", [cr.jacfwd, cr.jacrev, cr.hessian], ids=["jacfwd", "jacrev", "hessian"])
@pytest.mark.parametrize("dtype", [numpy.float64, numpy.float32])
def test_staged_jacobians_keep_an_infinite_partial_in_its_own_entry(name, transform, dtype):
    # The unit basis of jacfwd/jacrev was densified under staging as identity * scale, so one infinite
    # partial turned the zeros beside it into nan: jit(jacfwd(sum(1/v)))([0, 4]) gave [-inf, nan].
    function, point = INFINITE_PARTIALS[name]
    x = numpy.array(point, dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        eager = transform(function)(x)
        assert_same(cr.jit(transform(function))(x), eager)
        assert_same(to_python(transform(function), x, compile=True)(x), eager)


@pytest.mark.parametrize("transform", [cr.jacfwd, cr.jacrev, cr.hessian], ids=["jacfwd", "jacrev", "hessian"])
@pytest.mark.parametrize("dtype", [numpy.complex128, numpy.complex64])
def test_staged_complex_jacobians_keep_complex_infinities_as_eager(transform, dtype):
    # Staging also dropped multiplications by 1 + 0j, which are no identity at complex infinities.
    z = numpy.array([0.0, 4.0 + 1.0j, 2.0], dtype)
    function = lambda v: np.sum(1 / v * v[::-1]) if transform is cr.hessian else 1 / v * v[::-1]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        eager = transform(function, holomorphic=True)(z)
        assert_same(cr.jit(transform(function, holomorphic=True))(z), eager)
        assert_same(to_python(transform(function, holomorphic=True), z, compile=True)(z), eager)


def test_jit_of_jacfwd_of_a_sum_of_reciprocals_is_minus_one_over_the_square():
    x = numpy.array([0.0, 4.0])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        expected = -1.0 / x ** 2
        numpy.testing.assert_array_equal(cr.jit(cr.jacfwd(lambda v: np.sum(1 / v)))(x), expected)
        numpy.testing.assert_array_equal(cr.jit(cr.jacrev(lambda v: np.sum(1 / v)))(x), expected)


def test_jit_returns_a_constant_derivative_as_a_numpy_scalar_like_eager():
    # The generated code returned the literal 3.0 (a Python float) where eager grad gives np.float64(3.0).
    for point in (2.0, numpy.float32(2.0)):
        eager = cr.grad(lambda s: s * 3.0)(point)
        staged = cr.jit(cr.grad(lambda s: s * 3.0))(point)
        assert type(staged) is type(eager) and staged == eager
    staged = cr.jit(cr.grad(lambda a, x: a * 0.0 + x, argnums=(0, 1)))(2.0, 3.0)
    assert [type(g) for g in staged] == [numpy.float64, numpy.float64]


# ----------------------------------------------------------------- elementwise_grad

@pytest.mark.parametrize("dtype", [numpy.float64, numpy.float32])
def test_elementwise_grad_is_the_vjp_with_ones(dtype):
    x = numpy.array([0.3, -1.2, 2.5], dtype)
    result = cr.elementwise_grad(lambda v: np.sin(v) * v ** 2)(x)
    expected = jax.vmap(jax.grad(lambda v: jnp.sin(v) * v ** 2))(x)
    assert result.dtype == dtype
    numpy.testing.assert_allclose(result, numpy.asarray(expected), rtol=1e-6 if dtype == numpy.float32 else 1e-14)
    # Not elementwise: still the gradient of the sum of the outputs.
    mixing = lambda v: v * v[::-1]
    numpy.testing.assert_allclose(cr.elementwise_grad(mixing)(x), cr.grad(lambda v: np.sum(mixing(v)))(x), rtol=1e-6)


def test_elementwise_grad_argnums_pytrees_and_errors():
    x, y = numpy.array([1.0, 2.0]), numpy.array([3.0, 4.0])
    dx, dy = cr.elementwise_grad(lambda a, b: {"p": a * b, "q": a ** 2}, argnums=(0, 1))(x, y)
    numpy.testing.assert_allclose(dx, y + 2 * x)
    numpy.testing.assert_allclose(dy, x)
    complex_x = numpy.array([1.0 + 1.0j, 2.0])
    numpy.testing.assert_allclose(cr.elementwise_grad(lambda z: np.abs(z) ** 2)(complex_x),
                                  numpy.asarray(jax.grad(lambda z: jnp.sum(jnp.abs(z) ** 2))(complex_x)))
    with pytest.raises(TypeError, match="elementwise_grad.*complex"):
        cr.elementwise_grad(lambda z: z * 2.0)(complex_x)
    with pytest.raises(TypeError, match="elementwise_grad.*int64"):
        cr.elementwise_grad(lambda v: v * 2.0)(numpy.array([1, 2]))


# ----------------------------------------------------------------- ravel_pytree

def _mixed_tree():
    return {"a": numpy.arange(3.0, dtype=numpy.float32), "b": (2.0, numpy.array(3.0)), "c": None,
            "d": [numpy.arange(4.0).reshape(2, 2)]}


def test_ravel_pytree_matches_jax():
    tree = _mixed_tree()
    flat, unravel = cr.ravel_pytree(tree)
    jax_flat, jax_unravel = jax_ravel_pytree(tree)
    assert flat.dtype == jax_flat.dtype and flat.shape == jax_flat.shape
    numpy.testing.assert_array_equal(flat, numpy.asarray(jax_flat))
    rebuilt = unravel(2.0 * flat)
    expected = jax_unravel(2.0 * jax_flat)
    assert cr.tree_structure(rebuilt) == cr.tree_structure({"a": 0, "b": (0, 0), "c": None, "d": [0]})
    for ours, theirs in zip(cr.tree_leaves(rebuilt), jax.tree_util.tree_leaves(expected)):
        assert ours.dtype == theirs.dtype and ours.shape == theirs.shape
        numpy.testing.assert_array_equal(ours, numpy.asarray(theirs))
    same_dtype = [numpy.ones(2, numpy.float32), numpy.zeros((1, 2), numpy.float32)]
    flat32, unravel32 = cr.ravel_pytree(same_dtype)
    assert flat32.dtype == numpy.float32 and [leaf.dtype for leaf in unravel32(flat32)] == [numpy.float32] * 2
    empty, unravel_empty = cr.ravel_pytree(())
    assert empty.shape == (0,) and unravel_empty(empty) == ()


def test_ravel_pytree_is_differentiable():
    tree = _mixed_tree()
    flat, unravel = cr.ravel_pytree(tree)

    def loss(t):
        return np.sum(t["a"] ** 2) + t["b"][0] * t["b"][1] + np.sum(np.sin(t["d"][0]))

    on_vector = cr.grad(lambda v: loss(unravel(v)))(flat)
    on_tree = cr.ravel_pytree(cr.grad(loss)(tree))[0]
    numpy.testing.assert_allclose(on_vector, on_tree, rtol=1e-14)
    jax_grad = jax.grad(lambda v: (lambda t: jnp.sum(t["a"] ** 2) + t["b"][0] * t["b"][1]
                                   + jnp.sum(jnp.sin(t["d"][0])))(jax_ravel_pytree(tree)[1](v)))(flat)
    numpy.testing.assert_allclose(on_vector, numpy.asarray(jax_grad), rtol=1e-6)
    numpy.testing.assert_allclose(cr.jit(lambda v: loss(unravel(v)))(flat), loss(tree), rtol=1e-14)
    batched = cr.vmap(unravel)(numpy.stack([flat, 2.0 * flat]))
    numpy.testing.assert_array_equal(batched["a"], [tree["a"], 2.0 * tree["a"]])
    # The flattening direction is differentiable too.
    numpy.testing.assert_allclose(cr.grad(lambda w: np.sum(cr.ravel_pytree({"w": w, "k": 2.0 * w})[0] ** 2))(
        numpy.array([1.0, 3.0])), 10.0 * numpy.array([1.0, 3.0]))


def test_unravel_refuses_a_wrong_vector():
    flat, unravel = cr.ravel_pytree({"w": numpy.ones((2, 2)), "b": numpy.zeros(2)})
    with pytest.raises(ValueError, match=r"shape \(6,\).*got shape \(5,\)"):
        unravel(flat[:5])
    with pytest.raises(TypeError, match="complex"):
        unravel(flat + 1j)


# ----------------------------------------------------------------- custom_jvp.defjvps, nondiff_argnums

def _both(make):
    return make(cr, np), make(jax, jnp)


def test_defjvps_matches_jax_on_its_documented_example():
    def make(module, numpy_module):
        @module.custom_jvp
        def f(x, y):
            return numpy_module.sin(x) * y

        f.defjvps(lambda x_dot, primal_out, x, y: numpy_module.cos(x) * x_dot * y,
                  lambda y_dot, primal_out, x, y: numpy_module.sin(x) * y_dot)
        return f

    ours, theirs = _both(make)
    x, y = numpy.float32(1.0), numpy.float32(2.0)
    value, gradient = cr.value_and_grad(ours)(x, y)
    jax_value, jax_gradient = jax.value_and_grad(theirs)(x, y)
    assert value.dtype == gradient.dtype == numpy.float32
    numpy.testing.assert_allclose([value, gradient], [jax_value, jax_gradient], rtol=1e-6)
    assert_close_to_jax(cr.grad(ours, argnums=(0, 1))(1.0, 2.0), jax.grad(theirs, argnums=(0, 1))(1.0, 2.0))
    assert_close_to_jax(cr.hessian(ours, argnums=(0, 1))(1.0, 2.0), jax.hessian(theirs, argnums=(0, 1))(1.0, 2.0))
    assert_close_to_jax(cr.jvp(ours, (0.5, 2.0), (1.0, 3.0)), jax.jvp(theirs, (0.5, 2.0), (1.0, 3.0)))


def test_defjvps_with_none_for_an_argument_without_derivative():
    def make(module, numpy_module):
        @module.custom_jvp
        def f(x, y):
            return numpy_module.sin(x) * y

        f.defjvps(None, lambda y_dot, primal_out, x, y: numpy_module.sin(x) * y_dot)
        return f

    ours, theirs = _both(make)
    assert_close_to_jax(cr.grad(ours, argnums=(0, 1))(1.0, 2.0), jax.grad(theirs, argnums=(0, 1))(1.0, 2.0))
    x = numpy.array([0.2, 0.9])
    assert_close_to_jax(cr.jacrev(ours)(x, x), jax.jacrev(theirs)(x, x))


def test_defjvps_reports_misuse():
    @cr.custom_jvp
    def f(x, y):
        return x * y

    f.defjvps(lambda x_dot, out, x, y: x_dot * y)
    with pytest.raises(TypeError, match="defjvps was given 1 function.*2 argument"):
        cr.grad(f)(1.0, 2.0)
    g = cr.custom_jvp(lambda h, x: h(x), nondiff_argnums=(0,))
    with pytest.raises(TypeError, match="defjvps cannot be combined with nondiff_argnums"):
        g.defjvps(None, None)


def _app_jvp(module):
    @functools.partial(module.custom_jvp, nondiff_argnums=(0,))
    def app(f, x):
        return f(x)

    @app.defjvp
    def app_jvp(f, primals, tangents):
        (x,), (x_dot,) = primals, tangents
        return f(x), 2.0 * x_dot

    return app


def _app2_jvp(module):
    @functools.partial(module.custom_jvp, nondiff_argnums=(0, 2))
    def app2(f, x, g):
        return f(g(x))

    @app2.defjvp
    def app2_jvp(f, g, primals, tangents):
        (x,), (x_dot,) = primals, tangents
        return f(g(x)), 3.0 * x_dot

    return app2


def test_custom_jvp_nondiff_argnums_matches_jax_documented_examples():
    ours, theirs = _app_jvp(cr), _app_jvp(jax)
    cube = lambda x: x ** 3
    assert float(ours(cube, 3.0)) == float(theirs(cube, 3.0)) == 27.0
    assert float(cr.grad(ours, 1)(cube, 3.0)) == float(jax.grad(theirs, 1)(cube, 3.0)) == 2.0
    ours2, theirs2 = _app2_jvp(cr), _app2_jvp(jax)
    five = lambda y: 5 * y
    assert float(ours2(cube, 3.0, five)) == float(theirs2(cube, 3.0, five)) == 3375.0
    assert float(cr.grad(ours2, 1)(cube, 3.0, five)) == float(jax.grad(theirs2, 1)(cube, 3.0, five)) == 3.0
    x = numpy.array([1.0, 2.0])
    batched = lambda module, f: module.vmap(lambda v: f(cube, v, five))
    assert_close_to_jax(batched(cr, ours2)(x), batched(jax, theirs2)(x))
    assert_close_to_jax(cr.jacfwd(lambda v: ours2(cube, v, five))(x), jax.jacfwd(lambda v: theirs2(cube, v, five))(x))
    assert_close_to_jax(cr.jit(cr.grad(ours2, 1), static_argnums=(0, 2))(cube, 3.0, five), 3.0)


def test_custom_jvp_nondiff_array_gets_no_derivative_as_in_jax():
    def make(module, numpy_module):
        @functools.partial(module.custom_jvp, nondiff_argnums=(0,))
        def scale(a, x):
            return a * x

        @scale.defjvp
        def scale_jvp(a, primals, tangents):
            return scale(a, primals[0]), a * tangents[0]

        return scale

    ours, theirs = _both(make)
    assert_close_to_jax(cr.grad(lambda a, x: ours(a, x) * a, argnums=(0, 1))(2.0, 3.0),
                        jax.grad(lambda a, x: theirs(a, x) * a, argnums=(0, 1))(2.0, 3.0))
    assert_close_to_jax(cr.hessian(lambda x: ours(x, x))(3.0), jax.hessian(lambda x: theirs(x, x))(3.0))
    assert_close_to_jax(cr.vmap(ours, in_axes=(0, None))(numpy.array([2.0, 3.0]), 3.0),
                        jax.vmap(theirs, in_axes=(0, None))(numpy.array([2.0, 3.0]), 3.0))


def _app_vjp(module):
    @functools.partial(module.custom_vjp, nondiff_argnums=(0,))
    def app(f, x):
        return f(x)

    def app_fwd(f, x):
        return f(x), x

    def app_bwd(f, x, g):
        return (5 * g,)

    app.defvjp(app_fwd, app_bwd)
    return app


def _clip_gradient(module, numpy_module):
    @functools.partial(module.custom_vjp, nondiff_argnums=(0, 1))
    def clip_gradient(low, high, x):
        return x

    def forward(low, high, x):
        return clip_gradient(low, high, x), None  # the function itself, inside its forward rule

    def backward(low, high, _, g):
        return (numpy_module.clip(g, low, high),)

    clip_gradient.defvjp(forward, backward)
    return clip_gradient


def test_custom_vjp_nondiff_argnums_matches_jax_documented_examples():
    ours, theirs = _app_vjp(cr), _app_vjp(jax)
    square = lambda x: x ** 2
    assert float(cr.grad(ours, 1)(square, 4.0)) == float(jax.grad(theirs, 1)(square, 4.0)) == 5.0
    assert_close_to_jax(cr.vmap(cr.grad(ours, 1), in_axes=(None, 0))(square, numpy.array([4.0, 1.0])),
                        jax.vmap(jax.grad(theirs, 1), in_axes=(None, 0))(square, numpy.array([4.0, 1.0])))
    assert float(ours(square, 4.0)) == 16.0
    clip, jax_clip = _clip_gradient(cr, np), _clip_gradient(jax, jnp)
    x = numpy.array([2.0, 0.1, -3.0])
    assert_close_to_jax(cr.grad(lambda v: np.sum(5.0 * clip(-1.0, 1.0, v)))(x),
                        jax.grad(lambda v: jnp.sum(5.0 * jax_clip(-1.0, 1.0, v)))(x))
    assert_close_to_jax(cr.jit(cr.grad(lambda v: np.sum(5.0 * clip(-1.0, 1.0, v))))(x),
                        jax.grad(lambda v: jnp.sum(5.0 * jax_clip(-1.0, 1.0, v)))(x))


def test_custom_vjp_refuses_a_traced_nondiff_argument_as_jax_does():
    clip = _clip_gradient(cr, np)
    with pytest.raises(TypeError, match="argument 0 is in nondiff_argnums but holds a traced array"):
        cr.grad(lambda low, x: clip(low, 1.0, x))(0.0, 1.0)
    with pytest.raises(TypeError, match="nondiff_argnums names argument 1"):
        cr.custom_vjp(lambda x, f: f(x), nondiff_argnums=(1,))(2.0)
    with pytest.raises(TypeError, match="nondiff_argnums must be non-negative"):
        cr.custom_vjp(lambda x: x, nondiff_argnums=(-1,))


def test_custom_vjp_forward_rule_calling_its_function_under_vmap():
    # vmap of such a rule recursed until the stack overflowed: the batched rule was not seen as the function's.
    @cr.custom_vjp
    def f(x):
        return np.sin(x)

    f.defvjp(lambda x: (f(x), np.cos(x)), lambda cosine, g: (cosine * g,))
    x = numpy.array([0.1, 0.5])
    numpy.testing.assert_allclose(cr.vmap(f)(x), numpy.sin(x), rtol=1e-15)
    numpy.testing.assert_allclose(cr.vmap(cr.grad(f))(x), numpy.cos(x), rtol=1e-15)
    numpy.testing.assert_allclose(cr.grad(lambda v: np.sum(cr.vmap(f)(v)))(x), numpy.cos(x), rtol=1e-15)


# ----------------------------------------------------------------- dir(chainrule)

def test_dir_lists_the_lazily_loaded_names():
    names = dir(cr)
    for name in ("fd", "symbolic", "export", "testing", "explain", "draw", "jit", "elementwise_grad",
                 "ravel_pytree", "grad", "custom_jvp"):
        assert name in names
    assert names == sorted(names)


# ----------------------------------------------------------------- has_aux, kwargs, dtypes, errors

def test_has_aux_in_every_transform_that_jax_gives_it():
    x = numpy.array([0.5, 1.5])
    aux_function = lambda module: (lambda v: (module.sin(v) * v[::-1], {"norm": module.sum(v ** 2)}))
    ours, theirs = aux_function(np), aux_function(jnp)
    for transform in ("jacfwd", "jacrev"):
        assert_close_to_jax(getattr(cr, transform)(ours, has_aux=True)(x),
                            getattr(jax, transform)(theirs, has_aux=True)(x))
    scalar = lambda module: (lambda v: (module.sum(module.sin(v) * v ** 2), [v * 2.0, module.cos(v)]))
    assert_close_to_jax(cr.hessian(scalar(np), has_aux=True)(x), jax.hessian(scalar(jnp), has_aux=True)(x))
    assert_close_to_jax(cr.jacobian(ours, has_aux=True)(x), jax.jacrev(theirs, has_aux=True)(x))
    assert_close_to_jax(cr.jvp(ours, (x,), (x,), has_aux=True), jax.jvp(theirs, (x,), (x,), has_aux=True))
    out, linear_map, aux = cr.linearize(ours, x, has_aux=True)
    jax_out, jax_linear_map, jax_aux = jax.linearize(theirs, x, has_aux=True)
    assert_close_to_jax((out, linear_map(2.0 * x), aux), (jax_out, jax_linear_map(2.0 * x), jax_aux))
    # Inside another transform the auxiliary data comes out stripped of that transform's tracers too.
    inner_aux = cr.grad(lambda s: cr.jacfwd(ours, has_aux=True)(x * s)[1]["norm"] * 0.0 + s)(1.0)
    assert float(inner_aux) == 1.0


def test_jacobians_take_keyword_arguments_as_jax():
    x = numpy.array([1.0, 2.0])
    for transform in ("jacfwd", "jacrev", "jacobian", "hessian"):
        ours = getattr(cr, transform)(lambda v, scale=1.0: np.sum(v ** 3) * scale)(x, scale=3.0)
        theirs = getattr(jax, transform if transform != "jacobian" else "jacrev")(
            lambda v, scale=1.0: jnp.sum(v ** 3) * scale)(x, scale=3.0)
        assert_close_to_jax(ours, theirs)
    assert_close_to_jax(cr.vmap(lambda a, scale: a * scale)(numpy.ones((2, 3)), scale=x),
                        jax.vmap(lambda a, scale: a * scale)(numpy.ones((2, 3)), scale=x))


def test_jacrev_blocks_have_the_input_dtype_as_in_jax():
    # A float64 constant promotes the output; the cotangent of a float32 input is float32 (as grad gives).
    x32 = numpy.array([1.0, 2.0], numpy.float32)
    weights = numpy.array([1.0, 2.0])
    ours = cr.jacrev(lambda v: v * weights)(x32)
    theirs = jax.jacrev(lambda v: v * weights)(x32)
    assert ours.dtype == theirs.dtype == numpy.float32
    numpy.testing.assert_array_equal(ours, numpy.asarray(theirs))
    assert cr.jacfwd(lambda v: v * weights)(x32).dtype == jax.jacfwd(lambda v: v * weights)(x32).dtype
    # A complex output of a real input keeps its imaginary part, in the input's precision.
    assert cr.jacrev(lambda v: np.exp(1j * v))(x32).dtype == numpy.complex64


def test_linearize_checks_its_tangents_like_jvp():
    x32 = numpy.array([1.0, 2.0], numpy.float32)
    _, linear_map = cr.linearize(lambda v: v * 2.0, x32)
    result = linear_map(numpy.array([1.0, 1.0]))  # float64 tangent of a float32 primal: float32, as jvp
    assert result.dtype == numpy.float32
    assert cr.jvp(lambda v: v * 2.0, (x32,), (numpy.array([1.0, 1.0]),))[1].dtype == numpy.float32
    with pytest.raises(ValueError, match=r"linearize: tangent 0 has shape \(3,\)"):
        linear_map(numpy.ones(3))
    with pytest.raises(TypeError, match="linearize: tangent 0 is complex"):
        linear_map(numpy.ones(2) + 1j)
    with pytest.raises(TypeError, match="linearize: cannot differentiate with respect to argument 0"):
        cr.linearize(lambda v: v * 2.0, numpy.array([1, 2]))
    with pytest.raises(TypeError, match="hessian: cannot differentiate with respect to argument 0"):
        cr.hessian(lambda v: v ** 2)(3)


@pytest.mark.parametrize("dtype", [numpy.float32, numpy.float64])
def test_every_transform_keeps_the_input_precision(dtype):
    x = numpy.array([0.3, 0.7, 1.1], dtype)
    one = numpy.ones(3, dtype)
    scalar_function = lambda v: np.sum(np.sin(v) * v ** 2)
    vector_function = lambda v: np.sin(v) * v[::-1]
    results = [cr.grad(scalar_function)(x), cr.value_and_grad(scalar_function)(x)[0],
               cr.jvp(vector_function, (x,), (one,))[1], cr.vjp(vector_function, x)[1](one)[0],
               cr.jacfwd(vector_function)(x), cr.jacrev(vector_function)(x), cr.hessian(scalar_function)(x),
               cr.hvp(scalar_function, (x,), (one,))[0], cr.linearize(vector_function, x)[1](one),
               cr.vmap(vector_function)(numpy.stack([x, x])), cr.vmap(cr.grad(scalar_function))(numpy.stack([x, x])),
               cr.elementwise_grad(vector_function)(x), cr.jit(cr.hessian(scalar_function))(x),
               cr.grad(lambda s: np.sin(s) * s)(dtype(0.5)), cr.hessian(lambda s: np.sin(s) * s)(numpy.array(0.5, dtype)),
               cr.jacrev(lambda s: np.sin(s) * s)(numpy.array(0.5, dtype)),
               cr.hessian(lambda a, b: np.sum(a * b * b), argnums=(0, 1))(x, x)[1][1]]
    assert [numpy.asarray(r).dtype for r in results] == [numpy.dtype(dtype)] * len(results)


JAX_SCENARIOS = {
    "grad of a real function of complex input": lambda m, n, x, z: m.grad(lambda z: n.sum(n.abs(z) ** 2 * n.real(z)))(z),
    "holomorphic grad": lambda m, n, x, z: m.grad(lambda z: n.sum(n.sin(z) * z), holomorphic=True)(z),
    "holomorphic jacfwd": lambda m, n, x, z: m.jacfwd(lambda z: n.sin(z) * z[::-1], holomorphic=True)(z),
    "holomorphic jacrev": lambda m, n, x, z: m.jacrev(lambda z: n.sin(z) * z[::-1], holomorphic=True)(z),
    "holomorphic hessian": lambda m, n, x, z: m.hessian(lambda z: n.sum(n.sin(z) * z[::-1]), holomorphic=True)(z),
    "complex vjp": lambda m, n, x, z: m.vjp(lambda z: n.sin(z) * z, z)[1](z * 0.5 + 1j),
    "complex jvp": lambda m, n, x, z: m.jvp(lambda z: n.sin(z) * z, (z,), (z * 0.5 + 1j,)),
    "pytree grad": lambda m, n, x, z: m.grad(lambda p: n.sum(p["w"] @ p["x"]) + p["b"][0] * p["b"][1])(
        {"w": numpy.ones((2, 3)), "x": x, "b": (1.0, 3.0)}),
    "pytree jacrev": lambda m, n, x, z: m.jacrev(lambda p: {"o": p["x"] * p["b"][0], "s": n.sum(p["x"])})(
        {"x": x, "b": (1.0, 3.0)}),
    "pytree jacfwd": lambda m, n, x, z: m.jacfwd(lambda p: {"o": p["x"] * p["b"][0], "s": n.sum(p["x"])})(
        {"x": x, "b": (1.0, 3.0)}),
    "pytree hessian": lambda m, n, x, z: m.hessian(lambda p: n.sum(p["x"] ** 3) * p["b"][0])({"x": x, "b": (1.0, 3.0)}),
    "argnums out of order": lambda m, n, x, z: m.jacrev(lambda a, b, c: a * b + c, argnums=(2, 0))(x, 2 * x, 3 * x),
    "negative argnums": lambda m, n, x, z: m.grad(lambda a, b: n.sum(a * b ** 2), argnums=-1)(x, 2 * x),
    "has_aux with argnums": lambda m, n, x, z: m.value_and_grad(lambda a, b: (n.sum(a ** 2 * b), [a, b]),
                                                                argnums=(0, 1), has_aux=True)(x, 2.0),
    "python scalars": lambda m, n, x, z: m.grad(lambda a, b: a * b ** 2, argnums=(0, 1))(2.0, 3.0),
    "scalar jacfwd": lambda m, n, x, z: m.jacfwd(lambda a: n.stack([a, a ** 2]))(3.0),
    "0-d hessian": lambda m, n, x, z: m.hessian(lambda a: a ** 4)(numpy.array(3.0)),
    "grad of grad": lambda m, n, x, z: m.grad(m.grad(lambda a: a ** 3 * n.sin(a)))(0.7),
    "nested perturbations": lambda m, n, x, z: m.grad(lambda a: a * m.grad(lambda b: a + b)(1.0))(1.0),
    "hessian argnums": lambda m, n, x, z: m.hessian(lambda a, b: n.sum(a ** 2 * b ** 3), argnums=(0, 1))(x, x),
    "vmap of hessian": lambda m, n, x, z: m.vmap(m.hessian(lambda v: n.sum(n.sin(v) * v.sum())))(
        numpy.arange(6.0).reshape(2, 3)),
    "vmap axes": lambda m, n, x, z: m.vmap(lambda a: n.outer(a, a), in_axes=1, out_axes=-1)(
        numpy.arange(6.0).reshape(3, 2)),
    "empty jacrev": lambda m, n, x, z: m.jacrev(lambda a: a * 2.0)(numpy.zeros(0)),
}


@pytest.mark.parametrize("name", sorted(JAX_SCENARIOS))
def test_transforms_agree_with_jax(name):
    x = numpy.array([0.3, 0.7, 1.1])
    z = numpy.array([0.3 + 0.2j, 0.7 - 1.0j, 1.1])
    scenario = JAX_SCENARIOS[name]
    assert_close_to_jax(scenario(cr, np, x, z), scenario(jax, jnp, x, z))


@pytest.mark.parametrize("transform", ["grad", "jacfwd", "jacrev", "hessian", "elementwise_grad"])
def test_integer_inputs_are_refused_with_the_argument_named(transform):
    with pytest.raises(TypeError, match=f"{transform}: cannot differentiate with respect to argument 0.*int64"):
        getattr(cr, transform)(lambda v: v * 2.0)(numpy.array([1, 2]))


def test_gradients_keep_the_input_dtype_under_jit_and_vmap_too():
    # a float64 NumPy scalar inside f promotes its values to float64; grad answers in the input's dtype, and so
    # do jit(grad) and vmap(grad), as the Hessian (the gradient's Jacobian) does
    x = numpy.array([0.7, 0.25], dtype=numpy.float32)
    f = lambda z: np.sum(z * numpy.float64(0.1) * z)
    eager = cr.grad(f)(x)
    assert eager.dtype == numpy.float32
    for got in (cr.jit(cr.grad(f))(x), cr.vmap(cr.grad(f))(numpy.stack([x, x]))[0]):
        assert got.dtype == numpy.float32
        numpy.testing.assert_array_equal(got, eager)
    hessian = cr.hessian(f)(x)
    assert hessian.dtype == numpy.float32
    numpy.testing.assert_allclose(hessian, numpy.diag([0.2, 0.2]), rtol=1e-6)
    # a real input of a function computing in complex: the gradient is real, staged too
    g = lambda z: np.real(np.sum(np.exp(1j * z)))
    assert cr.jit(cr.grad(g))(x.astype(numpy.float64)).dtype == numpy.float64
    numpy.testing.assert_allclose(cr.jit(cr.grad(g))(x.astype(numpy.float64)), -numpy.sin(x.astype(numpy.float64)), rtol=1e-14)
