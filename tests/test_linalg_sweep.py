"""Linear algebra across dtypes and transforms: complex Hermitian input (eigh, eigvalsh, cholesky, cho_factor,
cho_solve), complex pinv/lstsq, det at singular matrices, float32/complex64 precision kept by values and
derivatives, vmap of lstsq and matrix_rank, and scipy.linalg.solve_banded. Values against NumPy/SciPy,
derivatives against JAX (or central differences where JAX has no counterpart)."""
import numpy
import scipy.linalg as scipy_linalg
import pytest

import chainrule as cr
import chainrule.numpy as np
import chainrule.scipy.linalg as linalg
from chainrule.ops import linalg as linalg_ops
from chainrule.testing import check_grads, check_rules

import jax  # the independent oracle: installed by the test extra, so a missing JAX fails loudly
jax.config.update("jax_enable_x64", True)
import jax.numpy as jnp  # noqa: E402
import jax.scipy.linalg as jax_linalg  # noqa: E402

rng = numpy.random.default_rng(11)
COMPLEX = (numpy.complex128, numpy.complex64)
ALL_DTYPES = (numpy.float64, numpy.float32, numpy.complex128, numpy.complex64)


def _tolerance(dtype):
    return 2e-4 if numpy.dtype(dtype) in (numpy.float32, numpy.complex64) else 1e-9


def _matrix(shape, dtype=numpy.float64):
    out = rng.standard_normal(shape)
    if numpy.dtype(dtype).kind == "c":
        out = out + 1j * rng.standard_normal(shape)
    return out.astype(dtype)


def _positive_definite(n, dtype=numpy.float64):
    m = _matrix((n, n), dtype)
    return (m @ m.conj().T + n * numpy.eye(n)).astype(dtype)


def _close(got, want, dtype, scale=1.0):
    got, want = numpy.asarray(got), numpy.asarray(want)
    assert got.shape == want.shape
    tolerance = _tolerance(dtype) * scale
    numpy.testing.assert_allclose(got, want, rtol=tolerance, atol=tolerance)


def _under_every_transform(function, args):
    """function(*args) plainly, under jvp, vjp, jit and vmap (over a stack of two copies)."""
    yield "plain", function(*args)
    yield "jvp", cr.jvp(function, args, args)[0]
    yield "vjp", cr.vjp(function, *args)[0]
    yield "jit", cr.jit(function)(*args)
    batched = cr.vmap(function)(*[numpy.stack([a, a]) for a in args])
    yield "vmap", tuple(x[1] for x in batched) if isinstance(batched, (tuple, list)) else batched[1]


# --- 1. complex Hermitian input

def _eigh_invariants(m):
    """Gauge-invariant functions of eigh: w, |V|^2 weighted, and V diag(f(w)) V^H."""
    def invariants(a):
        w, v = m.linalg.eigh(a)
        weights = numpy.linspace(0.5, 1.5, a.shape[-1]).astype(numpy.finfo(a.dtype).dtype)
        squared = m.real(v * m.conj(v))
        rebuilt = (v * m.sin(w)[..., None, :]) @ m.conj(m.swapaxes(v, -1, -2))
        return m.concatenate([w, squared @ weights, m.ravel(m.real(rebuilt)), m.ravel(m.imag(rebuilt))])
    return invariants


def _hermitian_part(m, a):
    return (a + m.conj(m.swapaxes(a, -1, -2))) / 2


def _cho_solve(m, scipy_like):
    """cho_solve from both the upper (SciPy's default) and the lower factor. jax.scipy.linalg.cho_factor reads its
    input as given; chainrule reads its Hermitian part (like jax.numpy.linalg.cholesky), so JAX gets that part."""
    def solved(a, b):
        a = a if m is np else _hermitian_part(m, a)
        upper_solution = scipy_like.cho_solve(scipy_like.cho_factor(a), b)
        lower_solution = scipy_like.cho_solve(scipy_like.cho_factor(a, lower=True), b)
        return m.concatenate([upper_solution, lower_solution])
    return solved


HERMITIAN_CASES = {
    "eigvalsh": (lambda m: m.linalg.eigvalsh, 1),
    "eigh": (_eigh_invariants, 1),
    "cholesky": (lambda m: m.linalg.cholesky, 1),
    "cho_factor": (lambda m: (lambda a: m.triu(linalg.cho_factor(a)[0] if m is np else
                                               jax_linalg.cho_factor(_hermitian_part(m, a))[0])), 1),
    "cho_solve": (lambda m: _cho_solve(m, linalg if m is np else jax_linalg), 2),
}


def _hermitian_args(name, dtype):
    a = _positive_definite(4, dtype)
    return (a,) if HERMITIAN_CASES[name][1] == 1 else (a, _matrix((4,), dtype))


def _reference(name, *args):
    if name == "eigvalsh":
        return numpy.linalg.eigvalsh(*args)
    if name == "eigh":
        return _eigh_invariants(numpy)(*args)
    if name == "cholesky":
        return numpy.linalg.cholesky(*args)
    if name == "cho_factor":
        return numpy.triu(scipy_linalg.cho_factor(*args)[0])
    a, b = args
    return numpy.concatenate([scipy_linalg.cho_solve(scipy_linalg.cho_factor(a), b),
                              scipy_linalg.cho_solve(scipy_linalg.cho_factor(a, lower=True), b)])


@pytest.mark.parametrize("dtype", COMPLEX)
@pytest.mark.parametrize("name", sorted(HERMITIAN_CASES))
def test_complex_hermitian_values_match_numpy_under_every_transform(name, dtype):
    args = _hermitian_args(name, dtype)
    function = HERMITIAN_CASES[name][0](np)
    want = _reference(name, *args)
    for transform, got in _under_every_transform(function, args):
        _close(got, want, dtype, scale=10)
        assert numpy.asarray(got).dtype == want.dtype, transform


def _real_projection(function, m):
    def projected(*args):
        out = function(*args)
        weights = numpy.linspace(0.5, 1.5, int(numpy.prod(out.shape))).reshape(out.shape)
        return m.sum(m.abs(out) ** 2 * weights) + m.sum(m.real(out) * weights[::-1])
    return projected


@pytest.mark.parametrize("name", sorted(HERMITIAN_CASES))
def test_complex_hermitian_derivatives_match_jax(name):
    args = _hermitian_args(name, numpy.complex128)
    tangents = tuple(_matrix(a.shape, numpy.complex128) for a in args)
    ours, theirs = HERMITIAN_CASES[name][0](np), HERMITIAN_CASES[name][0](jnp)
    _, tangent = cr.jvp(ours, args, tangents)
    _, expected_tangent = jax.jvp(theirs, args, tangents)
    _close(tangent, expected_tangent, numpy.complex128, scale=100)
    argnums = tuple(range(len(args)))
    gradients = cr.grad(_real_projection(ours, np), argnums=argnums)(*args)
    expected = jax.grad(_real_projection(theirs, jnp), argnums=argnums)(*args)
    for got, want in zip(gradients, expected):
        _close(got, want, numpy.complex128, scale=100)


def test_complex_eigh_under_vmap_and_jit_matches_jax_derivatives():
    stack = numpy.stack([_positive_definite(3, numpy.complex128) for _ in range(2)])
    function = _real_projection(_eigh_invariants(np), np)
    expected = jax.vmap(jax.grad(_real_projection(_eigh_invariants(jnp), jnp)))(stack)
    _close(cr.vmap(cr.grad(function))(stack), expected, numpy.complex128, scale=100)
    _close(cr.jit(cr.grad(function))(stack[0]), expected[0], numpy.complex128, scale=100)


def test_complex_eigh_and_cholesky_rules():
    # Plain NumPy (the finite differences) reads one triangle, traced input its Hermitian part: give both the same.
    a = _positive_definite(3, numpy.complex128) + 0.3 * numpy.diag([0.0, 1.0, 3.0])
    check_grads(lambda a: np.linalg.eigvalsh(_hermitian_part(np, a)), (a,), order=2)
    check_grads(lambda a: np.abs(np.linalg.cholesky(_hermitian_part(np, a))) ** 2, (a,), order=2)


# --- 2. complex pinv and lstsq

PSEUDO_CASES = {
    "pinv tall": (lambda m, a: m.linalg.pinv(a), ((5, 3),)),
    "pinv wide": (lambda m, a: m.linalg.pinv(a), ((2, 4),)),
    "lstsq x": (lambda m, a, b: m.linalg.lstsq(a, b)[0], ((5, 3), (5,))),
    "lstsq x matrix": (lambda m, a, b: m.linalg.lstsq(a, b)[0], ((5, 3), (5, 2))),
    "lstsq residuals": (lambda m, a, b: m.linalg.lstsq(a, b)[1], ((5, 3), (5, 2))),
}


@pytest.mark.parametrize("dtype", ALL_DTYPES)
@pytest.mark.parametrize("name", sorted(PSEUDO_CASES))
def test_pinv_and_lstsq_values_match_numpy(name, dtype):
    function, shapes = PSEUDO_CASES[name]
    args = tuple(_matrix(s, dtype) for s in shapes)
    want = function(numpy, *args)
    for transform, got in _under_every_transform(lambda *a: function(np, *a), args):
        _close(got, want, dtype, scale=50)
        assert numpy.asarray(got).dtype == want.dtype, transform


@pytest.mark.parametrize("name", sorted(PSEUDO_CASES))
def test_complex_pinv_and_lstsq_derivatives_match_jax(name):
    function, shapes = PSEUDO_CASES[name]
    args = tuple(_matrix(s, numpy.complex128) for s in shapes)
    tangents = tuple(_matrix(s, numpy.complex128) for s in shapes)
    _close(cr.jvp(lambda *a: function(np, *a), args, tangents)[1],
           jax.jvp(lambda *a: function(jnp, *a), args, tangents)[1], numpy.complex128, scale=100)
    argnums = tuple(range(len(args)))
    gradients = cr.grad(_real_projection(lambda *a: function(np, *a), np), argnums=argnums)(*args)
    expected = jax.grad(_real_projection(lambda *a: function(jnp, *a), jnp), argnums=argnums)(*args)
    for got, want in zip(gradients, expected):
        _close(got, want, numpy.complex128, scale=100)


# --- 3. det at singular matrices

def _of_rank(n, rank, dtype):
    return (_matrix((n, rank), dtype) @ _matrix((rank, n), dtype)).astype(dtype)


DET_CASES = [(n, rank, dtype) for n in (1, 2, 3, 4) for rank in range(n + 1)
             for dtype in (numpy.float64, numpy.complex128)]


@pytest.mark.parametrize("n, rank, dtype", DET_CASES,
                         ids=[f"{n}x{n}-rank{rank}-{numpy.dtype(d).name}" for n, rank, d in DET_CASES])
def test_det_derivatives_at_every_rank_match_jax(n, rank, dtype):
    a = _of_rank(n, rank, dtype)
    direction = _matrix((n, n), dtype)
    _close(cr.jvp(np.linalg.det, (a,), (direction,))[1], jax.jvp(jnp.linalg.det, (a,), (direction,))[1], dtype,
           scale=100)
    _, pullback = cr.vjp(np.linalg.det, a)
    _, jax_pullback = jax.vjp(jnp.linalg.det, a)
    _close(pullback(numpy.ones((), dtype))[0], jax_pullback(numpy.ones((), dtype))[0], dtype, scale=100)
    _close(cr.grad(lambda a: np.real(np.linalg.det(a)))(a), jax.grad(lambda a: jnp.real(jnp.linalg.det(a)))(a),
           dtype, scale=100)
    if rank <= n - 2:
        assert numpy.allclose(cr.grad(lambda a: np.real(np.linalg.det(a)))(a), 0, atol=1e-12)


@pytest.mark.parametrize("rank", [1, 2, 3])
def test_det_hessian_at_singular_matrices_matches_jax(rank):
    a = _of_rank(3, rank, numpy.float64)
    _close(cr.hessian(np.linalg.det)(a), jax.hessian(jnp.linalg.det)(a), numpy.float64, scale=100)
    _close(cr.grad(linalg.det)(a), jax.grad(jnp.linalg.det)(a), numpy.float64, scale=100)


def test_det_of_a_stack_under_vmap_and_jit():
    stack = numpy.stack([_of_rank(3, 2, numpy.float64), _matrix((3, 3))])
    expected = jax.vmap(jax.grad(jnp.linalg.det))(stack)
    _close(cr.vmap(cr.grad(np.linalg.det))(stack), expected, numpy.float64, scale=100)
    _close(cr.grad(lambda s: np.sum(np.linalg.det(s)))(stack), expected, numpy.float64, scale=100)
    _close(cr.jit(cr.grad(np.linalg.det))(stack[0]), expected[0], numpy.float64, scale=100)


def test_adjugate_rules():
    check_rules(linalg_ops.adjugate, (_matrix((3, 3)),))
    check_rules(linalg_ops.adjugate, (_of_rank(3, 2, numpy.float64) + 0.0,))


def test_complex_slogdet_sign_and_log_match_jax():
    a = _matrix((3, 3), numpy.complex128)
    direction = _matrix((3, 3), numpy.complex128)
    (sign, logabsdet), (sign_dot, logabsdet_dot) = cr.jvp(np.linalg.slogdet, (a,), (direction,))
    (jax_sign, jax_log), (jax_sign_dot, jax_log_dot) = jax.jvp(jnp.linalg.slogdet, (a,), (direction,))
    _close(sign, jax_sign, numpy.complex128)
    _close(logabsdet, jax_log, numpy.complex128)
    assert numpy.asarray(logabsdet).dtype == numpy.float64 and numpy.asarray(logabsdet_dot).dtype == numpy.float64
    _close(sign_dot, jax_sign_dot, numpy.complex128, scale=100)
    _close(logabsdet_dot, jax_log_dot, numpy.complex128, scale=100)

    def projected(m):
        def function(a):
            sign, logabsdet = m.linalg.slogdet(a)
            return m.real(sign) * 0.7 + m.imag(sign) * 0.2 + logabsdet
        return function
    _close(cr.grad(projected(np))(a), jax.grad(projected(jnp))(a), numpy.complex128, scale=100)


# --- 4. float32 and complex64 in: float32 and complex64 out, values and derivatives

def _banded(dtype):
    ab = _matrix((3, 4), dtype)
    ab[1] += 6
    return ab


PRECISION_CASES = {
    "solve": (lambda a, b: np.linalg.solve(a, b), lambda d: (_positive_definite(3, d), _matrix((3,), d))),
    "inv": (np.linalg.inv, lambda d: (_positive_definite(3, d),)),
    "det": (np.linalg.det, lambda d: (_matrix((3, 3), d),)),
    "slogdet": (lambda a: np.linalg.slogdet(a)[1], lambda d: (_matrix((3, 3), d),)),
    "cholesky": (np.linalg.cholesky, lambda d: (_positive_definite(3, d),)),
    "eigvalsh": (np.linalg.eigvalsh, lambda d: (_positive_definite(3, d),)),
    "eigh": (_eigh_invariants(np), lambda d: (_positive_definite(3, d),)),
    "eigvals": (lambda a: np.real(np.linalg.eigvals(a)), lambda d: (_positive_definite(3, d),)),
    "svd": (lambda a: np.linalg.svd(a, compute_uv=False), lambda d: (_matrix((4, 3), d),)),
    "qr": (lambda a: np.abs(np.linalg.qr(a)[1]), lambda d: (_matrix((4, 3), d),)),
    "pinv": (np.linalg.pinv, lambda d: (_matrix((4, 3), d),)),
    "lstsq": (lambda a, b: np.linalg.lstsq(a, b)[0], lambda d: (_matrix((4, 3), d), _matrix((4,), d))),
    "norm 2": (lambda a: np.linalg.norm(a, 2), lambda d: (_matrix((3, 3), d),)),
    "matrix_power": (lambda a: np.linalg.matrix_power(a, -2), lambda d: (_positive_definite(3, d),)),
    "tensorsolve": (np.linalg.tensorsolve, lambda d: (_positive_definite(4, d).reshape(2, 2, 2, 2), _matrix((2, 2), d))),
    "solve_triangular": (lambda a, b: linalg.solve_triangular(a, b, lower=True, trans=2),
                         lambda d: (numpy.tril(_positive_definite(3, d)), _matrix((3,), d))),
    "cho_solve": (lambda a, b: linalg.cho_solve(linalg.cho_factor(a), b),
                  lambda d: (_positive_definite(3, d), _matrix((3,), d))),
    "lu_solve": (lambda a, b: linalg.lu_solve(linalg.lu_factor(a), b, trans=2),
                 lambda d: (_matrix((3, 3), d), _matrix((3,), d))),
    "lu": (lambda a: linalg.lu(a)[1], lambda d: (_matrix((4, 3), d),)),
    "scipy det": (linalg.det, lambda d: (_matrix((3, 3), d),)),
    "expm": (linalg.expm, lambda d: (0.3 * _matrix((3, 3), d),)),
    "sqrtm": (linalg.sqrtm, lambda d: (_positive_definite(3, d),)),
    "solve_sylvester": (linalg.solve_sylvester,
                        lambda d: (_positive_definite(3, d), _positive_definite(2, d), _matrix((3, 2), d))),
    "solve_banded": (lambda ab, b: linalg.solve_banded((1, 1), ab, b), lambda d: (_banded(d), _matrix((4,), d))),
}


@pytest.mark.parametrize("dtype", (numpy.float32, numpy.complex64))
@pytest.mark.parametrize("name", sorted(PRECISION_CASES))
def test_single_precision_in_single_precision_out(name, dtype):
    function, make = PRECISION_CASES[name]
    args = make(dtype)
    value = numpy.asarray(function(*args))
    assert value.dtype.itemsize <= numpy.dtype(dtype).itemsize, "plain value widened"
    for transform, got in _under_every_transform(function, args):
        assert numpy.asarray(got).dtype == value.dtype, transform
    out, tangent = cr.jvp(function, args, tuple(numpy.ones_like(a) for a in args))
    assert numpy.asarray(tangent).dtype == value.dtype
    _, pullback = cr.vjp(function, *args)
    for arg, cotangent in zip(args, pullback(numpy.ones_like(value))):
        assert numpy.asarray(cotangent).dtype == arg.dtype
    if dtype == numpy.float32:
        # Forward over reverse: the second-order rules keep float32 as well.
        hessian = cr.jacfwd(cr.jacrev(lambda *a: np.sum(np.real(function(*a)))))(*args)
        assert numpy.asarray(hessian).dtype == numpy.float32
        _, second = cr.jvp(cr.grad(lambda *a: np.sum(np.real(function(*a)))), args,
                           tuple(numpy.ones_like(a) for a in args))
        assert numpy.asarray(second).dtype == numpy.float32


def test_eigvalsh_hessian_is_float32_and_matches_jax():
    a = _positive_definite(3, numpy.float32) + numpy.diag([0.0, 1.0, 3.0]).astype(numpy.float32)
    function = lambda m: (lambda a: m.sum(m.linalg.eigvalsh(a) ** 3))  # noqa: E731
    hessian = cr.hessian(function(np))(a)
    assert hessian.dtype == numpy.float32
    expected = jax.hessian(function(jnp))(a.astype(numpy.float64))
    numpy.testing.assert_allclose(hessian, expected, rtol=1e-3, atol=1e-3)


# --- 5. vmap of lstsq and matrix_rank

def test_lstsq_under_vmap_equals_stacked_results():
    a = _matrix((3, 5, 3))
    b = _matrix((3, 5))
    x, residuals, rank, s = cr.vmap(np.linalg.lstsq)(a, b)
    for k in range(3):
        want = numpy.linalg.lstsq(a[k], b[k])
        _close(x[k], want[0], numpy.float64)
        _close(residuals[k], want[1], numpy.float64)
        assert int(rank[k]) == want[2]
        _close(s[k], want[3], numpy.float64)
    gradients = cr.vmap(cr.grad(lambda a, b: np.sum(np.linalg.lstsq(a, b)[0] ** 2)))(a, b)
    for k in range(3):
        _close(gradients[k], cr.grad(lambda a: np.sum(np.linalg.lstsq(a, b[k])[0] ** 2))(a[k]), numpy.float64)


def test_lstsq_under_jit_matches_numpy():
    a, b = _matrix((5, 3), numpy.complex128), _matrix((5, 2), numpy.complex128)
    x, residuals, rank, s = cr.jit(np.linalg.lstsq)(a, b)
    want = numpy.linalg.lstsq(a, b)
    _close(x, want[0], numpy.complex128, scale=10)
    _close(residuals, want[1], numpy.complex128, scale=10)
    assert int(rank) == want[2] and numpy.asarray(residuals).dtype == want[1].dtype


def test_matrix_rank_batches_and_stages():
    stack = numpy.stack([_of_rank(4, rank, numpy.float64) for rank in (0, 1, 2, 3, 4)])
    expected = [numpy.linalg.matrix_rank(m) for m in stack]
    assert [int(r) for r in cr.vmap(np.linalg.matrix_rank)(stack)] == expected
    assert [int(r) for r in cr.jit(np.linalg.matrix_rank)(stack)] == list(numpy.linalg.matrix_rank(stack))
    hermitian = numpy.stack([_of_rank(3, rank, numpy.complex128) for rank in (1, 2)])
    hermitian = hermitian @ numpy.conj(numpy.swapaxes(hermitian, -1, -2))
    assert [int(r) for r in cr.vmap(lambda m: np.linalg.matrix_rank(m, hermitian=True))(hermitian)] == [1, 2]
    assert int(cr.jit(lambda v: np.linalg.matrix_rank(v))(numpy.zeros(3))) == numpy.linalg.matrix_rank(numpy.zeros(3))
    assert int(cr.jit(lambda m: np.linalg.matrix_rank(m, tol=0.5))(numpy.diag([1.0, 0.4]))) == 1


# --- 6. scipy.linalg.solve_banded

def _dense(lower, upper, ab):
    n = ab.shape[1]
    a = numpy.zeros((n, n), dtype=ab.dtype)
    for i in range(n):
        for j in range(max(0, i - lower), min(n, i + upper + 1)):
            a[i, j] = ab[upper + i - j, j]
    return a


BANDS = [(1, 1), (0, 2), (2, 0), (2, 1), (0, 0)]


@pytest.mark.parametrize("dtype", ALL_DTYPES)
@pytest.mark.parametrize("band", BANDS, ids=[f"l{l}u{u}" for l, u in BANDS])
def test_solve_banded_values_match_scipy(band, dtype):
    lower, upper = band
    ab = _matrix((lower + upper + 1, 5), dtype)
    ab[upper] += 6
    for b in (_matrix((5,), dtype), _matrix((5, 2), dtype)):
        want = scipy_linalg.solve_banded(band, ab, b).astype(numpy.result_type(ab, b, numpy.float32))
        function = lambda ab, b: linalg.solve_banded(band, ab, b)  # noqa: E731
        for transform, got in _under_every_transform(function, (ab, b)):
            _close(got, want, dtype, scale=10)
            assert numpy.asarray(got).dtype == want.dtype, transform


@pytest.mark.parametrize("band", BANDS, ids=[f"l{l}u{u}" for l, u in BANDS])
def test_solve_banded_derivatives_match_the_dense_solve(band):
    lower, upper = band
    ab = _matrix((lower + upper + 1, 5))
    ab[upper] += 6
    b = _matrix((5, 2))
    weights = _matrix((5, 2))
    banded = lambda ab, b: np.sum(linalg.solve_banded(band, ab, b) * weights)  # noqa: E731
    ab_bar, b_bar = cr.grad(banded, argnums=(0, 1))(ab, b)
    # Reference: the dense system's gradient, A_bar = -A^-T w x^T, read back into band storage.
    a = _dense(lower, upper, ab)
    x = numpy.linalg.solve(a, b)
    b_expected = numpy.linalg.solve(a.T, weights)
    a_expected = -b_expected @ x.T
    ab_expected = numpy.zeros_like(ab)
    for i in range(5):
        for j in range(max(0, i - lower), min(5, i + upper + 1)):
            ab_expected[upper + i - j, j] = a_expected[i, j]
    _close(ab_bar, ab_expected, numpy.float64, scale=10)
    _close(b_bar, b_expected, numpy.float64, scale=10)
    check_grads(lambda ab, b: linalg.solve_banded(band, ab, b), (ab, b), order=2)


def test_solve_banded_complex_derivatives_match_jax_dense_solve():
    ab = _matrix((3, 4), numpy.complex128)
    ab[1] += 6
    b = _matrix((4,), numpy.complex128)
    rows, columns = numpy.indices((4, 4))
    band_row = 1 + rows - columns
    inside = (band_row >= 0) & (band_row <= 2)

    def jax_banded(ab, b):
        a = jnp.where(inside, ab[numpy.clip(band_row, 0, 2), columns], 0)
        return jnp.linalg.solve(a, b)
    projected = _real_projection(lambda ab, b: linalg.solve_banded((1, 1), ab, b), np)
    expected = jax.grad(_real_projection(jax_banded, jnp), argnums=(0, 1))(ab, b)
    for got, want in zip(cr.grad(projected, argnums=(0, 1))(ab, b), expected):
        _close(got, want, numpy.complex128, scale=100)


def test_solve_banded_errors_name_the_problem():
    ab = numpy.ones((3, 4))
    traced = lambda ab, b, band: cr.grad(lambda ab: np.sum(linalg.solve_banded(band, ab, b)))(ab)  # noqa: E731
    with pytest.raises(ValueError, match=r"ab has shape \(3, 4\).*\(4, n\)"):
        traced(ab, numpy.ones(4), (2, 1))
    with pytest.raises(ValueError, match="b has shape"):
        traced(ab, numpy.ones(5), (1, 1))


# --- other defects found in the sweep

@pytest.mark.parametrize("dtype", COMPLEX)
def test_solve_triangular_conjugate_transpose(dtype):
    a = numpy.tril(_positive_definite(3, dtype))
    b = _matrix((3,), dtype)
    want = scipy_linalg.solve_triangular(a, b, trans=2, lower=True)
    function = lambda a, b: linalg.solve_triangular(a, b, trans="C", lower=True)  # noqa: E731
    for transform, got in _under_every_transform(function, (a, b)):
        _close(got, want, dtype, scale=10)
    expected = jax.grad(_real_projection(lambda a, b: jax_linalg.solve_triangular(a, b, trans="C", lower=True), jnp),
                        argnums=(0, 1))(a.astype(numpy.complex128), b.astype(numpy.complex128))
    got = cr.grad(_real_projection(function, np), argnums=(0, 1))(a, b)
    for g, w in zip(got, expected):
        _close(g, w, dtype, scale=100)


def test_triangular_solve_of_a_float32_stack_stays_float32():
    a = numpy.stack([numpy.tril(_positive_definite(3, numpy.float32))] * 2)
    b = _matrix((2, 3, 2), numpy.float32)
    assert linalg_ops.triangular_solve(a, b, lower=True).dtype == numpy.float32


def test_eig_of_float32_keeps_complex64_eigenvectors():
    a = _matrix((3, 3), numpy.float32)
    (w, v), (w_dot, v_dot) = cr.jvp(np.linalg.eig, (a,), (a,))
    assert w.dtype == v.dtype == w_dot.dtype == v_dot.dtype == numpy.complex64


@pytest.mark.parametrize("dtype", ALL_DTYPES)
def test_matrix_power_zero_keeps_the_dtype(dtype):
    a = _matrix((3, 3), dtype)
    for transform, got in _under_every_transform(lambda a: np.linalg.matrix_power(a, 0), (a,)):
        assert numpy.asarray(got).dtype == numpy.dtype(dtype), transform


@pytest.mark.parametrize("dtype", ALL_DTYPES)
def test_scipy_lu_permutation_is_real_like_scipy(dtype):
    a = _matrix((4, 3), dtype)
    want = scipy_linalg.lu(a)
    for transform, got in _under_every_transform(linalg.lu, (a,)):
        for g, w in zip(got, want):
            assert numpy.asarray(g).dtype == w.dtype, transform
            _close(g, w, dtype, scale=10)
