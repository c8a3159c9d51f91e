"""scipy.linalg.lu of rectangular matrices and expm under graph staging: values against SciPy, derivatives
(forward, reverse, second order) against jax.scipy.linalg, batching against a loop."""
import numpy
import scipy.linalg as scipy_linalg
import pytest

import chainrule as cr
import chainrule.numpy as np
import chainrule.scipy.linalg as linalg
from chainrule.ops import decompositions
from chainrule.testing import check_grads, check_rules

import jax  # the independent oracle: installed by the test extra, so a missing JAX fails loudly
jax.config.update("jax_enable_x64", True)
import jax.numpy as jnp  # noqa: E402
import jax.scipy.linalg as jax_linalg  # noqa: E402

rng = numpy.random.default_rng(7)


def _matrix(shape, complex_entries=False):
    out = rng.standard_normal(shape)
    return out + 1j * rng.standard_normal(shape) if complex_entries else out


LU_SHAPES = [(5, 3), (3, 5), (4, 4), (2, 5, 3), (2, 3, 5)]
LU_CASES = [(shape, kind) for shape in LU_SHAPES for kind in ("real", "complex")]
LU_IDS = [f"{'x'.join(map(str, shape))}-{kind}" for shape, kind in LU_CASES]


def _jax_lu(x, **options):
    """jax.scipy.linalg.lu takes one matrix; stacks go through jax.vmap."""
    function = lambda m: jax_linalg.lu(m, **options)  # noqa: E731
    for _ in range(x.ndim - 2):
        function = jax.vmap(function)
    return function(x)


def _factors(m):
    """Every output of lu (P L U and P L, U forms) flattened into one vector, for one library ``m``."""
    if m is np:
        def flat(x):
            p, lower, upper = linalg.lu(x)
            permuted, upper_again = linalg.lu(x, permute_l=True)
            return np.concatenate([np.ravel(lower), np.ravel(upper), np.ravel(permuted), np.ravel(upper_again)])
    else:
        def flat(x):
            p, lower, upper = _jax_lu(x)
            permuted, upper_again = _jax_lu(x, permute_l=True)
            return jnp.concatenate([jnp.ravel(lower), jnp.ravel(upper), jnp.ravel(permuted), jnp.ravel(upper_again)])
    return flat


@pytest.mark.parametrize("shape, kind", LU_CASES, ids=LU_IDS)
def test_rectangular_lu_values_match_scipy(shape, kind):
    a = _matrix(shape, kind == "complex")
    (p, lower, upper), _ = cr.jvp(linalg.lu, (a,), (a,))
    expected = scipy_linalg.lu(a)
    for got, want in zip((p, lower, upper), expected):
        assert got.shape == want.shape
        numpy.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-14)
    indices, lower_again, _ = cr.jvp(lambda x: linalg.lu(x, p_indices=True), (a,), (a,))[0]
    numpy.testing.assert_array_equal(indices, scipy_linalg.lu(a, p_indices=True)[0])
    numpy.testing.assert_allclose(numpy.take_along_axis(lower_again, indices[..., None], axis=-2) @ upper, a,
                                  atol=1e-12)
    permuted, _ = cr.jvp(lambda x: linalg.lu(x, permute_l=True), (a,), (a,))[0]
    numpy.testing.assert_allclose(permuted, scipy_linalg.lu(a, permute_l=True)[0], rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("shape, kind", LU_CASES, ids=LU_IDS)
def test_rectangular_lu_derivatives_match_jax(shape, kind):
    complex_entries = kind == "complex"
    a, tangent = _matrix(shape, complex_entries), _matrix(shape, complex_entries)
    ours, theirs = _factors(np), _factors(jnp)
    value, tangent_out = cr.jvp(ours, (a,), (tangent,))
    expected_value, expected_tangent = jax.jvp(theirs, (a,), (tangent,))
    numpy.testing.assert_allclose(value, expected_value, rtol=1e-10, atol=1e-10)
    numpy.testing.assert_allclose(tangent_out, expected_tangent, rtol=1e-10, atol=1e-10)
    cotangent = _matrix(numpy.shape(value), complex_entries)
    (pulled,) = cr.vjp(ours, a)[1](cotangent)
    (expected_pulled,) = jax.vjp(theirs, a)[1](cotangent)
    numpy.testing.assert_allclose(pulled, expected_pulled, rtol=1e-10, atol=1e-10)
    if not complex_entries:
        numpy.testing.assert_allclose(cr.jacrev(ours)(a), jax.jacrev(theirs)(a), rtol=1e-10, atol=1e-10)
        numpy.testing.assert_allclose(cr.jacfwd(ours)(a), jax.jacfwd(theirs)(a), rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("shape", [(5, 3), (3, 5), (2, 4, 3)], ids=["tall", "wide", "stack"])
def test_rectangular_lu_second_order(shape):
    a = _matrix(shape)
    check_grads(lambda x: linalg.lu(x)[1], (a,), order=2)
    check_grads(lambda x: linalg.lu(x)[2], (a,), order=2)
    hessian = cr.hessian(lambda x: np.sum(np.sin(_factors(np)(x))))(a)
    expected = jax.hessian(lambda x: jnp.sum(jnp.sin(_factors(jnp)(x))))(a)
    numpy.testing.assert_allclose(hessian, expected, rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("matrix", [_matrix((5, 3)), _matrix((3, 5)), _matrix((2, 5, 3)), _matrix((4, 2), True)],
                         ids=["tall", "wide", "tall stack", "complex tall"])
def test_rectangular_lu_rules(matrix):
    check_rules(decompositions.lu, (matrix,), atol=1e-5, rtol=1e-5)


def test_rectangular_lu_under_vmap():
    stack = _matrix((3, 5, 3))
    factors = cr.vmap(linalg.lu)(stack)
    for position, want in enumerate(scipy_linalg.lu(stack)):
        numpy.testing.assert_allclose(factors[position], want, rtol=1e-12, atol=1e-14)
    # derivatives inside the batch: each matrix's Jacobian, batched
    jacobians = cr.vmap(cr.jacrev(lambda x: linalg.lu(x)[1]))(stack)
    expected = jax.vmap(jax.jacrev(lambda x: jax_linalg.lu(x)[1]))(stack)
    numpy.testing.assert_allclose(jacobians, expected, rtol=1e-10, atol=1e-10)
    wide = _matrix((3, 3, 5))
    tangents = _matrix((3, 3, 5))
    ours = cr.vmap(lambda x, t: cr.jvp(lambda y: linalg.lu(y)[2], (x,), (t,))[1])(wide, tangents)
    theirs = jax.vmap(lambda x, t: jax.jvp(lambda y: jax_linalg.lu(y)[2], (x,), (t,))[1])(wide, tangents)
    numpy.testing.assert_allclose(ours, theirs, rtol=1e-10, atol=1e-10)


def test_rectangular_lu_stages():
    a = _matrix((5, 3))
    gradient = cr.grad(lambda x: np.sum(np.sin(linalg.lu(x)[1])))
    generated = cr.export.to_python(gradient, a, compile=True)
    numpy.testing.assert_allclose(generated(a), gradient(a), rtol=1e-12)
    numpy.testing.assert_allclose(generated(a), jax.grad(lambda x: jnp.sum(jnp.sin(jax_linalg.lu(x)[1])))(a),
                                  rtol=1e-10)


def test_lu_factor_and_lu_solve_stay_square_with_clear_errors():
    tall = _matrix((5, 3))
    with pytest.raises(ValueError, match=r"lu_factor: .*square.*\(5, 3\).*scipy.linalg.lu"):
        cr.grad(lambda x: np.sum(linalg.lu_factor(x)[0]))(tall)
    packed, piv = scipy_linalg.lu_factor(tall)
    with pytest.raises(ValueError, match=r"lu_solve: .*square.*lstsq"):
        cr.grad(lambda x: np.sum(linalg.lu_solve((x, piv), numpy.ones(5))))(packed)
    with pytest.raises(ValueError, match="lu: .*matrix"):
        cr.grad(lambda x: np.sum(linalg.lu(x)[1]))(numpy.ones(3))


# --- expm: one primitive (SciPy's value), derivatives through the block identity; it now stages.

WEIGHTS = rng.standard_normal((3, 3))


def _expm_sum(m, library):
    # Smooth and well conditioned at every scale (sin(expm(A)) is not once expm(A) is large: both libraries
    # then differ by the conditioning of the sine, not by their derivatives).
    return lambda x: m.sum(WEIGHTS[:x.shape[-2], :x.shape[-1]] * library.expm(x)) + m.sum(library.expm(x) ** 2)


@pytest.mark.parametrize("scale", [0.3, 1.0, 4.0], ids=["small", "unit", "large"])
def test_expm_derivatives_match_jax(scale):
    a = scale * _matrix((3, 3))
    ours, theirs = linalg.expm, jax_linalg.expm
    expected = jax.jacfwd(theirs)(a)
    numpy.testing.assert_allclose(cr.jacfwd(ours)(a), expected, rtol=1e-10, atol=1e-10)
    numpy.testing.assert_allclose(cr.jacrev(ours)(a), expected, rtol=1e-10, atol=1e-10)
    hessian = cr.hessian(_expm_sum(np, linalg))(a)
    expected_hessian = jax.hessian(_expm_sum(jnp, jax_linalg))(a)
    numpy.testing.assert_allclose(hessian, expected_hessian, rtol=1e-10, atol=1e-10 * numpy.abs(expected_hessian).max())
    expected_gradient = jax.grad(_expm_sum(jnp, jax_linalg))(a)
    numpy.testing.assert_allclose(cr.grad(_expm_sum(np, linalg))(a), expected_gradient, rtol=1e-10,
                                  atol=1e-10 * numpy.abs(expected_gradient).max())


def test_expm_third_order_and_complex():
    a = 0.5 * _matrix((2, 2))
    third = cr.jacfwd(cr.hessian(_expm_sum(np, linalg)))(a)
    expected = jax.jacfwd(jax.hessian(_expm_sum(jnp, jax_linalg)))(a)
    numpy.testing.assert_allclose(third, expected, rtol=1e-10, atol=1e-10)
    z = _matrix((3, 3), True)
    real_part_sum = lambda m, library: lambda x: m.real(m.sum(m.sin(library.expm(x))))  # noqa: E731
    numpy.testing.assert_allclose(cr.grad(real_part_sum(np, linalg))(z), jax.grad(real_part_sum(jnp, jax_linalg))(z),
                                  rtol=1e-10, atol=1e-10)
    check_grads(linalg.expm, (0.8 * _matrix((3, 3)),), order=2)
    check_grads(linalg.expm, (_matrix((3, 3), True),), order=1)


def test_expm_stages_and_exports():
    a = _matrix((3, 3))
    source = cr.export.to_python(lambda A: linalg.expm(A), a, name="expm_of")
    assert "scipy.linalg.expm" in source and "chainrule" not in source
    generated = cr.export.to_python(lambda A: linalg.expm(A), a, compile=True)
    other = 2.0 * _matrix((3, 3))
    numpy.testing.assert_allclose(generated(other), scipy_linalg.expm(other), rtol=1e-14, atol=1e-14)
    gradient = cr.export.to_python(cr.grad(_expm_sum(np, linalg)), a, compile=True)
    numpy.testing.assert_allclose(gradient(other), jax.grad(_expm_sum(jnp, jax_linalg))(other), rtol=1e-10,
                                  atol=1e-10)
    hessian = cr.export.to_python(cr.hessian(_expm_sum(np, linalg)), a, compile=True)
    numpy.testing.assert_allclose(hessian(a), jax.hessian(_expm_sum(jnp, jax_linalg))(a), rtol=1e-10, atol=1e-10)
    assert "expm" in str(cr.explain(lambda A: np.sum(linalg.expm(A)), 0.1 * numpy.eye(2)))


def test_expm_stacks_vmap_and_rules():
    stack = _matrix((2, 3, 3))
    numpy.testing.assert_allclose(cr.jvp(linalg.expm, (stack,), (stack,))[0], scipy_linalg.expm(stack), rtol=1e-14)
    numpy.testing.assert_allclose(cr.vmap(linalg.expm)(stack), scipy_linalg.expm(stack), rtol=1e-14)
    jacobians = cr.vmap(cr.jacrev(linalg.expm))(stack)
    numpy.testing.assert_allclose(jacobians, jax.vmap(jax.jacrev(jax_linalg.expm))(stack), rtol=1e-10, atol=1e-10)
    check_rules(decompositions.expm, (stack,), atol=1e-5, rtol=1e-5)
    assert cr.jvp(linalg.expm, (stack.astype(numpy.float32),), (stack.astype(numpy.float32),))[0].dtype == \
        numpy.float32
    with pytest.raises(ValueError, match="expm: .*square"):
        cr.grad(lambda x: np.sum(linalg.expm(x)))(_matrix((2, 3)))
