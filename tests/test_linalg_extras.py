"""numpy.linalg extras (svd, eig, qr, pinv, lstsq, norms 2/-2/nuc, tensorsolve/inv), polyfit and scipy.linalg (lu,
sqrtm, ...): values against NumPy/SciPy, gradients of gauge-invariant quantities against JAX, second order by
finite differences."""
import numpy
import scipy.linalg as scipy_linalg
import pytest

import chainrule as cr
import chainrule.numpy as np
from chainrule.ops import decompositions
from chainrule.testing import check_grads, check_rules

import jax  # the independent oracle: installed by the test extra, so a missing JAX fails loudly
jax.config.update("jax_enable_x64", True)
import jax.numpy as jnp  # noqa: E402

rng = numpy.random.default_rng(0)
tall = rng.standard_normal((5, 3))
wide = rng.standard_normal((2, 4))
square = rng.standard_normal((3, 3))
stack = rng.standard_normal((2, 4, 3))


def _svd_invariants(m, a):
    """Quantities that do not depend on the signs of singular vectors."""
    u, s, vt = m.linalg.svd(a, full_matrices=False)
    weights = numpy.linspace(0.5, 1.5, u.shape[-1])
    return m.concatenate([m.ravel(s), m.ravel((u * u) @ weights), m.ravel(weights @ (vt * vt)),
                          m.ravel((u * s[..., None, :]) @ vt)])


CASES = {
    "svd tall": (_svd_invariants, (tall,)),
    "svd wide": (_svd_invariants, (wide,)),
    "svd square": (_svd_invariants, (square,)),
    "svd stack": (_svd_invariants, (stack,)),
    "svdvals": (lambda m, a: m.linalg.svd(a, compute_uv=False), (stack,)),
    "pinv": (lambda m, a: m.linalg.pinv(a), (tall,)),
    "pinv wide": (lambda m, a: m.linalg.pinv(a), (wide,)),
    "lstsq": (lambda m, a, b: m.linalg.lstsq(a, b)[0], (tall, rng.standard_normal(5))),
    "lstsq residuals": (lambda m, a, b: m.linalg.lstsq(a, b)[1], (tall, rng.standard_normal((5, 2)))),
    "norm 2": (lambda m, a: m.linalg.norm(a, 2), (tall,)),
    "norm -2": (lambda m, a: m.linalg.norm(a, -2, axis=(0, 2)), (stack,)),
    "norm nuc keepdims": (lambda m, a: m.linalg.norm(a, "nuc", axis=(1, 2), keepdims=True), (stack,)),
    "tensorsolve": (lambda m, a, b: m.linalg.tensorsolve(a, b),
                    ((numpy.eye(6) + 0.2 * rng.standard_normal((6, 6))).reshape(2, 3, 6), rng.standard_normal((2, 3)))),
    "tensorinv": (lambda m, a: m.linalg.tensorinv(a, ind=1),
                  ((numpy.eye(6) + 0.2 * rng.standard_normal((6, 6))).reshape(6, 2, 3),)),
    "polyfit": (lambda m, x, y: m.polyfit(x, y, 2), (rng.standard_normal(7), rng.standard_normal(7))),
}


def _scalar(function, m, args):
    def scalar(*a):
        out = function(m, *a)
        weights = numpy.linspace(0.5, 1.5, int(numpy.prod(out.shape))).reshape(out.shape)
        return m.sum(m.sin(out) * weights)
    return scalar


@pytest.mark.parametrize("name", sorted(CASES))
def test_against_jax(name):
    function, args = CASES[name]
    argnums = tuple(range(len(args)))
    value = cr.jvp(lambda *a: function(np, *a), args, args)[0]
    numpy.testing.assert_allclose(value, function(jnp, *args), rtol=1e-10, atol=1e-12)
    numpy.testing.assert_allclose(function(np, *args), value, rtol=1e-10, atol=1e-12)
    got = cr.grad(_scalar(function, np, args), argnums=argnums)(*args)
    expected = jax.grad(_scalar(function, jnp, args), argnums=argnums)(*args)
    for position, (g, e) in enumerate(zip(got, expected)):
        numpy.testing.assert_allclose(g, e, rtol=1e-8, atol=1e-10, err_msg=f"argument {position}")
    # Second order where it adds most (one case per kind of rule); first order for the rest keeps this fast.
    order = 2 if name in ("svd tall", "svd wide", "pinv", "lstsq", "norm nuc keepdims", "tensorsolve") else 1
    check_grads(lambda *a: function(np, *a), args, order=order)


@pytest.mark.parametrize("matrix", [wide, square, stack], ids=["wide", "square", "stack"])
def test_svd_rules(matrix):
    check_rules(decompositions.svd, (matrix,), atol=1e-5, rtol=1e-5)


def test_svd_caveats_are_stated_and_enforced():
    assert "repeat" in np.linalg.svd.__doc__ and "repeated singular values" in decompositions.svd.convention
    with pytest.raises(NotImplementedError, match="full_matrices=False"):
        cr.grad(lambda a: np.sum(np.linalg.svd(a)[0]))(tall)
    # At a repeated singular value the singular values stay differentiable; the vectors do not.
    numpy.testing.assert_allclose(cr.grad(lambda a: np.sum(np.linalg.svd(a, compute_uv=False)))(numpy.eye(2)),
                                  numpy.eye(2))


def test_errors_name_the_problem():
    with pytest.raises(numpy.linalg.LinAlgError, match="first dimensions"):
        cr.grad(lambda a: np.sum(np.linalg.lstsq(a, numpy.ones(4))[0]))(tall)
    with pytest.raises(ValueError, match="invalid matrix order"):
        cr.grad(lambda a: np.linalg.norm(a, 3))(tall)


def test_scipy_linalg_and_signal_against_jax():
    import jax.scipy.linalg as jlinalg
    import jax.scipy.signal as jsignal
    import chainrule.scipy.linalg as linalg
    import chainrule.scipy.signal as signal
    spd = square @ square.T + 3 * numpy.eye(3)
    b = rng.standard_normal((3, 2))
    cases = [
        (lambda m, a, r: m.solve_triangular(a, r, lower=True), (numpy.tril(spd), b)),
        (lambda m, a, r: m.solve_triangular(a, r, trans=1), (numpy.triu(spd), b)),
        (lambda m, a, r: m.cho_solve(m.cho_factor(a), r), (spd, b)),
        (lambda m, a: m.expm(a), (0.8 * square,)),
        (lambda m, a: m.expm(a), (3.0 * square,)),
        (lambda m, a: m.inv(a), (spd,)),
    ]
    for function, args in cases:
        symmetric = lambda *a: (0.5 * (a[0] + a[0].T),) + a[1:] if function is cases[2][0] else a  # noqa: E731
        ours = lambda *a: np.sum(np.sin(function(linalg, *symmetric(*a))))  # noqa: E731
        theirs = lambda *a: jnp.sum(jnp.sin(function(jlinalg, *symmetric(*a))))  # noqa: E731
        argnums = tuple(range(len(args)))
        for g, e in zip(cr.grad(ours, argnums=argnums)(*args), jax.grad(theirs, argnums=argnums)(*args)):
            numpy.testing.assert_allclose(g, e, rtol=1e-8, atol=1e-10)
    check_grads(lambda a: linalg.expm(a), (0.8 * square,), order=2)
    x, v = rng.standard_normal(6), rng.standard_normal(3)
    for mode in ("full", "same", "valid"):
        for name in ("convolve", "correlate"):
            ours = lambda a, k: np.sum(np.sin(getattr(signal, name)(a, k, mode=mode)))  # noqa: E731
            theirs = lambda a, k: jnp.sum(jnp.sin(getattr(jsignal, name)(a, k, mode=mode)))  # noqa: E731
            for g, e in zip(cr.grad(ours, argnums=(0, 1))(x, v), jax.grad(theirs, argnums=(0, 1))(x, v)):
                numpy.testing.assert_allclose(g, e, rtol=1e-10, atol=1e-12)


# --- eig and eigvals: complex results; compared through gauge-invariant quantities (eigenvalues, |v|^2,
# V diag(w) V^-1), since JAX and NumPy may scale each eigenvector by a different phase.

general = rng.standard_normal((4, 4))  # one real eigenvalue pair and one complex-conjugate pair
general_complex = rng.standard_normal((3, 3)) + 1j * rng.standard_normal((3, 3))


def _eig(m, a):
    if m is jnp:  # JAX asks for an explicit opt-in to eigenvector derivatives
        import jax.lax.linalg
        return jax.lax.linalg.eig(a, compute_left_eigenvectors=False, enable_eigvec_derivs=True)
    return m.linalg.eig(a)


def _eig_invariants(m, a):
    w, v = _eig(m, a)
    weights = numpy.linspace(0.5, 1.5, v.shape[-1])
    magnitudes = m.real(v * m.conj(v))
    rebuilt = (v * w[..., None, :]) @ m.linalg.inv(v)
    return m.concatenate([m.ravel(m.real(w)), m.ravel(m.imag(w)), m.ravel(magnitudes @ weights),
                          m.ravel(m.real(rebuilt)), m.ravel(m.imag(rebuilt))])


@pytest.mark.parametrize("a", [general, general_complex, rng.standard_normal((2, 3, 3))],
                         ids=["real", "complex", "stack"])
def test_eig_against_jax(a):
    numpy.testing.assert_allclose(cr.jvp(lambda x: _eig_invariants(np, x), (a,), (a,))[0],
                                  jax.jit(lambda x: _eig_invariants(jnp, x))(a), rtol=1e-10, atol=1e-12)
    scalar = _scalar(_eig_invariants, np, (a,))
    expected = jax.jit(jax.grad(_scalar(_eig_invariants, jnp, (a,))))(a)
    numpy.testing.assert_allclose(cr.grad(scalar)(a), expected, rtol=1e-8, atol=1e-10)
    eigenvalues = lambda m, x: m.linalg.eigvals(x) if m is np else _eig(m, x)[0]  # noqa: E731
    numpy.testing.assert_allclose(cr.grad(_scalar(lambda m, x: m.real(eigenvalues(m, x)), np, (a,)))(a),
                                  jax.jit(jax.grad(_scalar(lambda m, x: m.real(eigenvalues(m, x)), jnp, (a,))))(a),
                                  rtol=1e-8, atol=1e-10)
    # Second order on one case keeps this fast; check_rules covers the primitive's second order.
    check_grads(lambda x: _eig_invariants(np, x), (a,), order=2 if a is general_complex else 1)


def test_eig_values_and_gauge_match_numpy():
    w, v = cr.jvp(lambda x: np.linalg.eig(x), (general,), (general,))[0]
    expected_w, expected_v = numpy.linalg.eig(general)
    numpy.testing.assert_allclose(w, expected_w, rtol=1e-12)
    numpy.testing.assert_allclose(v, expected_v, rtol=1e-12, atol=1e-14)  # same phases, not only same span
    assert w.dtype == numpy.complex128 and v.dtype == numpy.complex128


@pytest.mark.parametrize("a", [general, general_complex], ids=["real", "complex"])
def test_eig_rules(a):
    check_rules(decompositions.eig, (a,), atol=1e-5, rtol=1e-5)


def test_eig_caveat_is_stated():
    assert "repeated eigenvalues" in np.linalg.eig.__doc__ and "repeated eigenvalues" in decompositions.eig.convention
    with pytest.raises(numpy.linalg.LinAlgError, match="square"):
        cr.grad(lambda a: np.sum(np.real(np.linalg.eigvals(a))))(tall)


# --- qr: compared through the sign-normalized factors (diag(R) > 0), which are unique.

def _qr_normalized(m, a, mode="reduced"):
    q, r = m.linalg.qr(a, mode=mode)
    signs = m.sign(m.diagonal(r, axis1=-2, axis2=-1))
    return m.concatenate([m.ravel(q * signs[..., None, :]), m.ravel(r * signs[..., :, None])])


@pytest.mark.parametrize("a, mode", [(tall, "reduced"), (square, "complete"), (wide, "reduced"), (wide, "complete"),
                                     (stack, "reduced")], ids=["tall", "square complete", "wide", "wide complete",
                                                               "stack"])
def test_qr_against_jax(a, mode):
    function = lambda m, x: _qr_normalized(m, x, mode)  # noqa: E731
    numpy.testing.assert_allclose(cr.jvp(lambda x: function(np, x), (a,), (a,))[0],
                                  jax.jit(lambda x: function(jnp, x))(a), rtol=1e-10, atol=1e-12)
    numpy.testing.assert_allclose(cr.grad(_scalar(function, np, (a,)))(a),
                                  jax.jit(jax.grad(_scalar(function, jnp, (a,))))(a), rtol=1e-8, atol=1e-10)
    check_grads(lambda x: function(np, x), (a,), order=2 if a is tall or a is wide else 1)
    r_only = cr.grad(lambda x: np.sum(np.abs(np.linalg.qr(x, mode="r"))))(a)
    numpy.testing.assert_allclose(r_only, jax.grad(lambda x: jnp.sum(jnp.abs(jnp.linalg.qr(x, mode="r"))))(a),
                                  rtol=1e-8, atol=1e-10)


@pytest.mark.parametrize("matrix", [tall, wide, stack], ids=["tall", "wide", "stack"])
def test_qr_rules(matrix):
    check_rules(decompositions.qr, (matrix,), atol=1e-5, rtol=1e-5)


def test_qr_caveats_are_stated_and_enforced():
    assert "not unique" in np.linalg.qr.__doc__
    with pytest.raises(NotImplementedError, match="mode='reduced'"):
        cr.grad(lambda a: np.sum(np.linalg.qr(a, mode="complete")[0]))(tall)
    with pytest.raises(NotImplementedError, match="raw"):
        cr.grad(lambda a: np.sum(np.linalg.qr(a, mode="raw")[0]))(tall)


# --- scipy.linalg.lu_factor, lu_solve and lu against jax.scipy.linalg (same LAPACK pivoting).

def _flat(m, factors):
    factors = factors if isinstance(factors, (tuple, list)) else (factors,)
    return m.concatenate([m.ravel(f) for f in factors])


def test_lu_family_against_jax():
    import jax.scipy.linalg as jlinalg
    import chainrule.scipy.linalg as linalg
    a, b = rng.standard_normal((4, 4)), rng.standard_normal((4, 2))
    cases = [
        (lambda m, x: m.lu_factor(x)[0], (a,)),
        (lambda m, x, r: m.lu_solve(m.lu_factor(x), r), (a, b)),
        (lambda m, x, r: m.lu_solve(m.lu_factor(x), r[:, 0], trans=1), (a, b)),
        (lambda m, x: m.lu(x), (a,)),
        (lambda m, x: m.lu(x, permute_l=True), (a,)),
    ]
    for function, args in cases:
        ours = lambda *v: np.sum(np.sin(_flat(np, function(linalg, *v))))  # noqa: E731
        theirs = lambda *v: jnp.sum(jnp.sin(_flat(jnp, function(jlinalg, *v))))  # noqa: E731
        argnums = tuple(range(len(args)))
        numpy.testing.assert_allclose(cr.jvp(lambda *v: _flat(np, function(linalg, *v)), args, args)[0],
                                      _flat(jnp, function(jlinalg, *args)), rtol=1e-10, atol=1e-12)
        for g, e in zip(cr.grad(ours, argnums=argnums)(*args), jax.jit(jax.grad(theirs, argnums=argnums))(*args)):
            numpy.testing.assert_allclose(g, e, rtol=1e-8, atol=1e-10)
    check_grads(lambda x, r: linalg.lu_solve(linalg.lu_factor(x), r), (a, b), order=2)
    assert numpy.array_equal(cr.jvp(lambda x: linalg.lu(x, p_indices=True)[0], (a,), (a,))[0],
                             linalg.lu(a, p_indices=True)[0])
    with pytest.raises(ValueError, match="square"):
        cr.grad(lambda x: np.sum(linalg.lu_factor(x)[0]))(tall)


@pytest.mark.parametrize("matrix", [rng.standard_normal((4, 4)), rng.standard_normal((2, 3, 3)),
                                    rng.standard_normal((3, 3)) + 1j * rng.standard_normal((3, 3))],
                         ids=["square", "stack", "complex"])
def test_lu_rules(matrix):
    check_rules(decompositions.lu, (matrix,), atol=1e-5, rtol=1e-5)


# --- sqrtm and solve_sylvester: JAX cannot differentiate sqrtm (no Schur rule), so SciPy values, finite
# differences and the defining identity X dX + dX X = dA are the oracles.

def test_sqrtm_against_scipy():
    import chainrule.scipy.linalg as linalg
    a = square @ square.T + numpy.eye(3) + 0.3 * rng.standard_normal((3, 3))
    direction = rng.standard_normal((3, 3))
    root, root_dot = cr.jvp(linalg.sqrtm, (a,), (direction,))
    numpy.testing.assert_allclose(root, scipy_linalg.sqrtm(a), rtol=1e-10)
    numpy.testing.assert_allclose(root @ root_dot + root_dot @ root, direction, atol=1e-10)
    check_grads(linalg.sqrtm, (a,), order=2)
    complex_input = a + 1j * rng.standard_normal((3, 3))
    check_grads(linalg.sqrtm, (complex_input,), order=1)
    with pytest.raises(ValueError, match="astype"):
        cr.grad(lambda x: np.sum(linalg.sqrtm(x)))(numpy.diag([-1.0, 2.0]))
    assert "negative real axis" in linalg.sqrtm.__doc__


def test_solve_sylvester_against_scipy():
    import chainrule.scipy.linalg as linalg
    a, b, q = square @ square.T + numpy.eye(3), numpy.array([[2.0, 0.3], [0.1, 1.5]]), rng.standard_normal((3, 2))
    numpy.testing.assert_allclose(cr.jvp(linalg.solve_sylvester, (a, b, q), (a, b, q))[0],
                                  scipy_linalg.solve_sylvester(a, b, q), rtol=1e-12)
    check_grads(linalg.solve_sylvester, (a, b, q), order=2)
    with pytest.raises(ValueError, match="must end in"):
        cr.grad(lambda x: np.sum(linalg.solve_sylvester(x, b, q.T)))(a)


@pytest.mark.parametrize("primitive, args", [
    ("sqrtm", (numpy.stack([numpy.eye(3) * 2 + 0.2 * square, numpy.eye(3) * 3 - 0.1 * square]),)),
    ("sylvester", (numpy.eye(3) * 2 + 0.2 * square, numpy.array([[2.0, 0.3], [0.1, 1.5]]), rng.standard_normal((3, 2)))),
], ids=["sqrtm stack", "sylvester"])
def test_sylvester_and_sqrtm_rules(primitive, args):
    check_rules(getattr(decompositions, primitive), args, atol=1e-5, rtol=1e-5)


# --- svd and qr of complex matrices: JAX's convention (for real f, grad = df/dx - i df/dy). Singular vectors
# carry one free phase per pair (u_k, v_k), so comparisons go through s, |u|^2, |v|^2 and U diag(s) V^H.

def _complex_matrix(shape):
    return rng.standard_normal(shape) + 1j * rng.standard_normal(shape)


complex_tall, complex_wide, complex_square = _complex_matrix((4, 3)), _complex_matrix((2, 3)), _complex_matrix((3, 3))
complex_stack = _complex_matrix((2, 3, 2))


def _complex_svd_invariants(m, a):
    u, s, vh = m.linalg.svd(a, full_matrices=False)
    weights = numpy.linspace(0.5, 1.5, u.shape[-1])
    rebuilt = (u * s[..., None, :]) @ vh
    return m.concatenate([m.ravel(s), m.ravel(m.real(u * m.conj(u)) @ weights),
                          m.ravel(weights @ m.real(vh * m.conj(vh))), m.ravel(m.real(rebuilt)), m.ravel(m.imag(rebuilt))])


def _complex_qr_normalized(m, a, mode="reduced"):
    q, r = m.linalg.qr(a, mode=mode)
    signs = m.sign(m.real(m.diagonal(r, axis1=-2, axis2=-1)))  # LAPACK's diag(R) is real
    q, r = q * signs[..., None, :], r * signs[..., :, None]
    return m.concatenate([m.ravel(m.real(q)), m.ravel(m.imag(q)), m.ravel(m.real(r)), m.ravel(m.imag(r))])


COMPLEX_CASES = {
    "svd tall": (_complex_svd_invariants, complex_tall),
    "svd wide": (_complex_svd_invariants, complex_wide),
    "svd square": (_complex_svd_invariants, complex_square),
    "svd stack": (_complex_svd_invariants, complex_stack),
    "svdvals": (lambda m, a: m.linalg.svd(a, compute_uv=False), complex_stack),
    "qr tall": (_complex_qr_normalized, complex_tall),
    "qr wide": (_complex_qr_normalized, complex_wide),
    "qr square complete": (lambda m, a: _complex_qr_normalized(m, a, "complete"), complex_square),
    "qr stack": (_complex_qr_normalized, complex_stack),
}


@pytest.mark.parametrize("name", sorted(COMPLEX_CASES))
def test_complex_svd_and_qr_against_jax(name):
    function, a = COMPLEX_CASES[name]
    numpy.testing.assert_allclose(cr.jvp(lambda x: function(np, x), (a,), (a,))[0],
                                  jax.jit(lambda x: function(jnp, x))(a), rtol=1e-10, atol=1e-12)
    got = cr.grad(_scalar(function, np, (a,)))(a)
    expected = jax.jit(jax.grad(_scalar(function, jnp, (a,))))(a)
    assert got.dtype == numpy.complex128
    numpy.testing.assert_allclose(got, expected, rtol=1e-8, atol=1e-10)
    # Forward mode and the full derivative of the JVP (second order) against finite differences.
    check_grads(lambda x: function(np, x), (a,), order=2 if name in ("svd tall", "svd wide", "qr wide") else 1)


def test_complex_svd_convention_and_gauge():
    u, s, vh = numpy.linalg.svd(complex_square)
    # grad of the nuclear norm sum(s) is conj(U V^H) in JAX's convention (U V^H under PyTorch's).
    numpy.testing.assert_allclose(cr.grad(lambda a: np.sum(np.linalg.svd(a, compute_uv=False)))(complex_square),
                                  numpy.conj(u @ vh), rtol=1e-10)
    traced_u, traced_s, traced_vh = cr.jvp(lambda a: np.linalg.svd(a), (complex_square,), (complex_square,))[0]
    v = traced_vh.conj().T
    largest = v[numpy.argmax(numpy.abs(v), axis=0), numpy.arange(3)]
    numpy.testing.assert_allclose(largest.imag, 0.0, atol=1e-14)
    assert numpy.all(largest.real > 0)
    numpy.testing.assert_allclose((traced_u * traced_s) @ traced_vh, complex_square, atol=1e-12)
    assert traced_s.dtype == numpy.float64


@pytest.mark.parametrize("primitive, matrix", [("svd", complex_tall), ("svd", complex_wide), ("qr", complex_tall),
                                               ("qr", complex_wide), ("qr", complex_stack)],
                         ids=["svd tall", "svd wide", "qr tall", "qr wide", "qr stack"])
def test_complex_svd_and_qr_rules(primitive, matrix):
    check_rules(getattr(decompositions, primitive), (matrix,), atol=1e-5, rtol=1e-5)
