"""Complex numbers: every primitive NumPy defines on complex input is checked on complex input (rules
and batching), and composite functions of complex variables agree with JAX in every transform."""
import jax
import jax.numpy as jnp
import numpy
import pytest

import chainrule as cr
import chainrule.numpy as np
from chainrule.ops import all_primitives
from chainrule.ops.indexing import split_index
from chainrule.testing import check_rules

jax.config.update("jax_enable_x64", True)
rng = numpy.random.default_rng(5)


def complex_points(shape=(3,), scale=1.0):
    return scale * (rng.uniform(0.3, 1.2, shape) + 1j * rng.uniform(-1.0, 1.0, shape))


def hermitian_positive(n):
    a = complex_points((n, n))
    return a @ a.conj().T + n * numpy.eye(n)


_GATHER_TEMPLATE, _ = split_index((numpy.array([0, 2, 0]),))

COMPLEX_SPEC = {
    "add": ((complex_points(), complex_points()), {}),
    "sub": ((complex_points(), complex_points()), {}),
    "mul": ((complex_points(), complex_points()), {}),
    "div": ((complex_points(), complex_points()), {}),
    "neg": ((complex_points(),), {}),
    "pow": ((complex_points(), complex_points()), {}),
    "sin": ((complex_points(),), {}), "cos": ((complex_points(),), {}), "tan": ((complex_points(scale=0.5),), {}),
    "sinh": ((complex_points(),), {}), "cosh": ((complex_points(),), {}), "tanh": ((complex_points(scale=0.5),), {}),
    "arcsin": ((complex_points(scale=0.5),), {}), "arccos": ((complex_points(scale=0.5),), {}),
    "arctan": ((complex_points(scale=0.5),), {}), "arcsinh": ((complex_points(),), {}),
    "arctanh": ((complex_points(scale=0.5),), {}),
    "exp": ((complex_points(),), {}), "expm1": ((complex_points(),), {}), "exp2": ((complex_points(),), {}),
    "log": ((complex_points(),), {}), "log2": ((complex_points(),), {}), "log10": ((complex_points(),), {}),
    "log1p": ((complex_points(),), {}), "sqrt": ((complex_points(),), {}),
    "abs": ((complex_points(),), {}), "real": ((complex_points(),), {}), "imag": ((complex_points(),), {}),
    "conj": ((complex_points(),), {}),
    "select": ((numpy.array([True, False, True]), complex_points(), complex_points()), {}),
    "reduce_sum": ((complex_points((2, 3)),), {"axes": (1,)}),
    "reduce_prod": ((complex_points((2, 3)),), {"axes": (0, 1)}),
    "cumsum": ((complex_points((2, 3)),), {"axis": 1, "reverse": False}),
    "reshape": ((complex_points((2, 3)),), {"new_shape": (3, 2)}),
    "transpose": ((complex_points((2, 3)),), {"permutation": (1, 0)}),
    "broadcast_to": ((complex_points((3,)),), {"shape": (2, 3)}),
    "rev": ((complex_points((2, 3)),), {"axes": (0,)}),
    "pad": ((complex_points((2, 3)),), {"widths": ((1, 1), (0, 2))}),
    "concatenate": ((complex_points((2, 3)), complex_points((1, 3))), {"axis": 0}),
    "contract": ((complex_points((2, 3)), complex_points((3, 4))), {"spec": "ij,jk->ik"}),
    "gather": ((complex_points((4, 2)), numpy.array([0, 2, 0])), {"template": _GATHER_TEMPLATE}),
    "scatter_add": ((complex_points((3, 2)), numpy.array([0, 2, 0])), {"template": _GATHER_TEMPLATE, "shape": (4, 2)}),
    "solve": ((hermitian_positive(3), complex_points((3, 2))), {}),
    "inv": ((hermitian_positive(3),), {}),
    "det": ((hermitian_positive(3),), {}),
    "svd": ((complex_points((4, 3)),), {}),
    "qr": ((complex_points((4, 3)),), {}),
    "stop_gradient": ((complex_points(),), {}),
}


@pytest.mark.parametrize("name", sorted(COMPLEX_SPEC))
def test_rules_on_complex_input(name):
    args, params = COMPLEX_SPEC[name]
    check_rules(all_primitives()[name], args, params, atol=1e-6, rtol=1e-6)


@pytest.mark.parametrize("name", sorted(COMPLEX_SPEC))
def test_batching_on_complex_input(name):
    primitive = all_primitives()[name]
    args, params = COMPLEX_SPEC[name]
    batch = [numpy.stack([a, a * 1.01, a * 0.99]) if numpy.iscomplexobj(a) else None for a in args]
    in_axes = tuple(None if b is None else 0 for b in batch)
    inputs = [a if b is None else b for a, b in zip(args, batch)]
    out = cr.vmap(lambda *a: primitive(*a, **params), in_axes=in_axes)(*inputs)
    looped = [primitive.impl(*[a if b is None else b[k] for a, b in zip(args, batch)], **params) for k in range(3)]
    if primitive.multiple_results:  # svd, qr: each result against its stack
        for position, result in enumerate(out):
            numpy.testing.assert_allclose(result, numpy.stack([o[position] for o in looped]), rtol=1e-12)
    else:
        numpy.testing.assert_allclose(out, numpy.stack(looped), rtol=1e-12)


def _scenarios(xp):
    return {
        "abs_squared": lambda z: xp.abs(z) ** 2,
        "mixed": lambda z: xp.real(xp.sin(z) * xp.conj(z)) + xp.imag(z ** 3),
        "sum_of_abs": lambda z: xp.sum(xp.abs(xp.exp(z) - z * 1j)),
        "log_magnitude": lambda z: xp.sum(xp.log(xp.abs(z @ xp.conj(z).T + 1.0))),
        "phase": lambda z: xp.sum(xp.angle(z) ** 2),
    }


POINTS = {"abs_squared": 3 + 4j, "mixed": 1 + 2j, "sum_of_abs": complex_points(), "log_magnitude": complex_points((2, 2)),
          "phase": complex_points()}


@pytest.mark.parametrize("name", sorted(POINTS))
def test_real_functions_of_complex_variables_match_jax(name):
    f, g = _scenarios(np)[name], _scenarios(jnp)[name]
    z = POINTS[name]
    numpy.testing.assert_allclose(cr.grad(f)(z), jax.grad(g)(z), rtol=1e-10)
    direction = numpy.asarray(z) * (0.3 - 0.7j) + 0.1
    numpy.testing.assert_allclose(cr.jvp(f, (z,), (direction,))[1], jax.jvp(g, (z,), (direction,))[1], rtol=1e-10)


def test_documented_convention():
    # For real f of z = x + iy, grad is df/dx - i df/dy (JAX, autograd); PyTorch returns the conjugate.
    assert cr.grad(lambda z: np.abs(z) ** 2)(3 + 4j) == pytest.approx(6 - 8j)


def test_holomorphic():
    z = numpy.array(0.4 + 0.9j)
    for f, g in [(lambda z: z ** 3 * np.exp(z), lambda z: z ** 3 * jnp.exp(z)),
                 (lambda z: np.sin(z) / (1.0 + z), lambda z: jnp.sin(z) / (1.0 + z))]:
        numpy.testing.assert_allclose(cr.grad(f, holomorphic=True)(z), jax.grad(g, holomorphic=True)(z), rtol=1e-12)
        for transform in (cr.jacfwd, cr.jacrev, cr.jacobian):
            numpy.testing.assert_allclose(transform(f, holomorphic=True)(z), jax.jacfwd(g, holomorphic=True)(z),
                                          rtol=1e-12)
        # Without the flag a Jacobian in a complex input would differentiate the real direction only.
        for transform in (cr.jacfwd, cr.jacrev, cr.jacobian, cr.hessian):
            with pytest.raises(TypeError, match="holomorphic=True"):
                transform(f)(z)
        with pytest.raises(TypeError, match="needs complex inputs"):
            cr.jacfwd(f, holomorphic=True)(0.5)
    hessian = cr.hessian(lambda z: z ** 3 * np.exp(z), holomorphic=True)(z)
    # JAX results are compared as NumPy arrays (newer pytest's approx reads attributes JAX arrays lack).
    expected = numpy.asarray(jax.hessian(lambda z: z ** 3 * jnp.exp(z), holomorphic=True)(z))
    numpy.testing.assert_allclose(hessian, expected, rtol=1e-12)
    with pytest.raises(TypeError, match="holomorphic"):
        cr.grad(lambda z: z ** 2)(z)
    with pytest.raises(TypeError, match="complex inputs"):
        cr.grad(lambda x: x * 1j, holomorphic=True)(1.0)


def test_real_input_through_complex_intermediates_gets_a_real_gradient():
    f = lambda x: np.sum(np.abs(np.exp(1j * x) * x + 0.5))
    g = lambda x: jnp.sum(jnp.abs(jnp.exp(1j * x) * x + 0.5))
    x = numpy.array([0.3, 1.7])
    gradient = cr.grad(f)(x)
    assert gradient.dtype == numpy.float64
    numpy.testing.assert_allclose(gradient, jax.grad(g)(x), rtol=1e-12)
    numpy.testing.assert_allclose(cr.hessian(f)(x), jax.hessian(g)(x), rtol=1e-10)


def test_jacrev_of_complex_outputs_of_real_inputs_is_the_full_jacobian():
    # jacrev seeds real cotangents, which give only Re J for a real input; the seeds i e_k supply Im J.
    rng = numpy.random.default_rng(4)
    A, x, y = rng.standard_normal((3, 2)), rng.standard_normal(2), rng.standard_normal(3)

    def f(x, y):
        return {"wave": np.exp(1j * (A @ x)) * y, "real": np.sum(x) * y}

    forward = cr.jacfwd(f, argnums=(0, 1))(x, y)
    reverse = cr.jacrev(f, argnums=(0, 1))(x, y)
    for key in ("wave", "real"):
        for got, expected in zip(reverse[key], forward[key]):
            assert got.dtype == expected.dtype
            numpy.testing.assert_allclose(got, expected, rtol=1e-13, atol=1e-15)
    assert numpy.iscomplexobj(reverse["wave"][0]) and numpy.abs(reverse["wave"][0].imag).max() > 0.1


@pytest.mark.parametrize("name", ["var", "std", "nanvar", "nanstd"])
def test_spread_of_complex_values_is_real_under_every_transform(name):
    # |z - mean|**2, not (z - mean)**2: under a transform var([1+2j, 3-1j]) was -1.5555j (NumPy: 3.25).
    z = numpy.array([1 + 2j, 3 - 1j, -0.5 + 0.25j])
    v = numpy.array([0.3 - 1j, 1.5 + 0.5j, -2j])
    ours, theirs, plain = getattr(np, name), getattr(jnp, name), getattr(numpy, name)
    value, tangent = cr.jvp(ours, (z,), (v,))
    assert value == pytest.approx(plain(z), rel=1e-14) and numpy.asarray(value).dtype == numpy.float64
    expected_value, expected_tangent = jax.jvp(theirs, (z,), (v,))
    assert float(tangent) == pytest.approx(float(expected_tangent), rel=1e-12)
    out, pullback = cr.vjp(ours, z)
    numpy.testing.assert_allclose(pullback(1.0)[0], numpy.asarray(jax.vjp(theirs, z)[1](1.0)[0]), rtol=1e-12)
    assert cr.vmap(ours)(numpy.stack([z, 2 * z])) == pytest.approx(plain(numpy.stack([z, 2 * z]), axis=1), rel=1e-14)


@pytest.mark.parametrize("keywords", [{}, {"axis": 1}, {"ord": "fro"}, {"ord": "fro", "axis": (0, 1)},
                                      {"ord": 2, "axis": 0}])
def test_norm_of_complex_values_is_real_under_every_transform(keywords):
    # sqrt(sum(z * z)) was complex under a transform; NumPy's norm uses |z|.
    m = numpy.array([[1 + 2j, 3 - 1j], [0.5j, 2.0 + 0j]])
    v = numpy.array([[0.3 - 1j, 1.5 + 0.5j], [-2j, 1.0 + 0j]])
    ours = lambda m: np.linalg.norm(m, **keywords)
    theirs = lambda m: jnp.linalg.norm(m, **keywords)
    value, tangent = cr.jvp(ours, (m,), (v,))
    numpy.testing.assert_allclose(value, numpy.linalg.norm(m, **keywords), rtol=1e-14)
    assert numpy.asarray(value).dtype == numpy.float64
    numpy.testing.assert_allclose(tangent, numpy.asarray(jax.jvp(theirs, (m,), (v,))[1]), rtol=1e-12)
    cotangent = numpy.ones(numpy.shape(value))
    numpy.testing.assert_allclose(cr.vjp(ours, m)[1](cotangent)[0],
                                  numpy.asarray(jax.vjp(theirs, m)[1](cotangent)[0]), rtol=1e-12)
