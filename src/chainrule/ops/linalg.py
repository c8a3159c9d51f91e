"""Linear-algebra primitives on stacks of matrices (last two axes), real or complex: solve, inv, det, adjugate,
slogdet, cholesky, triangular_solve, eigh. Rules follow Giles (2008) and Murray (2016); reverse rules transpose
the forward ones under the pairing Re sum(a * b), as JAX's do."""
import numpy as np

from ..core.avals import ShapedArray
from ..core.primitive import Primitive
from . import arithmetic, batch_rules, structure, reduction
from .contraction import matmul


def matrix_transpose(x):
    ndim = len(np.shape(x))
    return structure.transpose(x, permutation=tuple(range(ndim - 2)) + (ndim - 1, ndim - 2))


def is_complex(x):
    return np.issubdtype(np.result_type(x), np.complexfloating)


def conjugate(x):
    """conj(x) for complex x; real x as it is, so real graphs stay real."""
    from .elementwise import conj
    return conj(x) if is_complex(x) else x


def adjoint(x):
    """Conjugate transpose of the last two axes (a plain transpose for real arrays)."""
    return matrix_transpose(conjugate(x))


def real_part(x):
    from .elementwise import real
    return real(x) if is_complex(x) else x


def constant_like(values, x):
    """A constant array (a mask, weights) in the real precision of ``x``, so float32 work stays float32."""
    dtype = np.result_type(x)
    real = np.finfo(dtype).dtype if np.issubdtype(dtype, np.inexact) else np.float64
    return np.asarray(values, dtype=real)


def _trace(x):
    """Trace over the last two axes, through a diagonal gather."""
    from .indexing import gather, IndexTemplate
    n = np.shape(x)[-1]
    positions = np.arange(n)
    template = IndexTemplate((("ellipsis",), ("array", 0), ("array", 1)))
    return reduction.reduce_sum(gather(x, positions, positions, template=template), axes=(len(np.shape(x)) - 2,))


def _expand_scalar_per_matrix(value, like):
    shape = np.shape(like)
    return structure.broadcast_to(structure.reshape(value, new_shape=shape[:-2] + (1, 1)), shape)


# --- solve(a, b): b is a stack of matrices (the NumPy front turns vectors into one-column matrices).

def _solve_jvp(primals, tangents):
    a, b = primals
    a_dot, b_dot = tangents
    x = solve.bind(a, b)
    rhs = b_dot
    if a_dot is not None:
        correction = matmul(a_dot, x)
        rhs = arithmetic.neg(correction) if rhs is None else arithmetic.sub(rhs, correction)
    return x, solve(a, rhs)


def _solve_vjp(x, a, b):
    def solve_pullback(x_bar):
        b_bar = solve(matrix_transpose(a), x_bar)
        a_bar = arithmetic.neg(matmul(b_bar, matrix_transpose(x)))
        return a_bar, b_bar
    return solve_pullback


solve = Primitive("solve", lambda a, b: np.linalg.solve(a, b), jvp=_solve_jvp, vjp=_solve_vjp,
                  batch=batch_rules.stacked,
                  shape_rule=lambda a, b: ShapedArray(b.shape, np.result_type(a.dtype, b.dtype)))


# --- inv

def _inv_jvp(primals, tangents):
    (a,), (a_dot,) = primals, tangents
    out = inv.bind(a)
    return out, arithmetic.neg(matmul(matmul(out, a_dot), out))


def _inv_vjp(out, a):
    def inv_pullback(out_bar):
        out_t = matrix_transpose(out)
        return (arithmetic.neg(matmul(matmul(out_t, out_bar), out_t)),)
    return inv_pullback


inv = Primitive("inv", np.linalg.inv, jvp=_inv_jvp, vjp=_inv_vjp, batch=batch_rules.stacked,
                shape_rule=lambda a: ShapedArray(a.shape, a.dtype))


# --- det and slogdet. det is a polynomial in A: d det = tr(adj(A) dA), with adj(A) the adjugate (the transposed
# cofactors), which exists at singular A too. log|det A| has d = Re tr(A^-1 dA): undefined where A is singular.

def _det_jvp(primals, tangents):
    (a,), (a_dot,) = primals, tangents
    return det.bind(a), _trace(matmul(adjugate(a), a_dot))


def _det_vjp(out, a):
    cofactors = matrix_transpose(adjugate(a))

    def det_pullback(out_bar):
        return (arithmetic.mul(_expand_scalar_per_matrix(out_bar, a), cofactors),)
    return det_pullback


det = Primitive("det", np.linalg.det, jvp=_det_jvp, vjp=_det_vjp, batch=batch_rules.stacked,
                shape_rule=lambda a: ShapedArray(a.shape[:-2], a.dtype),
                convention="a polynomial: differentiable everywhere, singular A included (gradient adj(A)^T, "
                           "zero where rank A <= n - 2)")


def _adjugate_impl(a):
    # Through the SVD A = U diag(s) Vh: adj(A) = det(U) det(Vh) Vh^H diag(p) U^H with p_i the product of the other
    # singular values, which needs no division, so it is exact at every rank.
    a = np.asarray(a)
    u, s, vh = np.linalg.svd(a)
    ones = np.ones(s.shape[:-1] + (1,), dtype=s.dtype)
    before = np.cumprod(np.concatenate([ones, s[..., :-1]], axis=-1), axis=-1)
    after = np.cumprod(np.concatenate([ones, s[..., :0:-1]], axis=-1), axis=-1)[..., ::-1]
    phase = np.linalg.det(u) * np.linalg.det(vh)
    scaled = np.conj(np.swapaxes(vh, -1, -2)) * (before * after)[..., None, :]
    out = phase[..., None, None] * (scaled @ np.conj(np.swapaxes(u, -1, -2)))
    return out.astype(np.result_type(a, np.float32), copy=False)


def _products_of_others(s):
    """q_ik = product of the singular values other than s_i and s_k (0 on the diagonal): the second partials of
    det at diag(s)."""
    n = np.shape(s)[-1]
    if n < 2:
        return arithmetic.mul(_diag_embed(s), 0.0)
    excluded = (np.eye(n, dtype=bool)[:, None, :] | np.eye(n, dtype=bool)[None, :, :])  # [i, k, l]: l is i or k
    spread = structure.broadcast_to(structure.reshape(s, new_shape=np.shape(s)[:-1] + (1, 1, n)),
                                    np.shape(s)[:-1] + (n, n, n))
    from .comparison import select
    products = reduction.reduce_prod(select(excluded, np.ones((), np.result_type(s)), spread),
                                     axes=(len(np.shape(s)) + 1,))
    return select(np.eye(n, dtype=bool), np.zeros((), np.result_type(s)), products)


def _adjugate_of_diagonal_map(q, x):
    """d adj(S)[X] at S = diag(s): diag(q diag(X)) - q * X (its own transpose, q being symmetric)."""
    diagonal = matmul(q, structure.reshape(_diagonal(x), new_shape=np.shape(x)[:-1] + (1,)))
    return arithmetic.sub(_diag_embed(structure.reshape(diagonal, new_shape=np.shape(x)[:-1])), arithmetic.mul(q, x))


def _adjugate_frame(a):
    """(c, U, V, q) with A = U diag(s) V^H and c = det(U) det(V^H): for the fixed unitary U and V,
    adj(A + E) = c V adj(diag(s) + U^H E V) U^H, so d adj(A)[E] = c V (d adj at diag(s))[U^H E V] U^H."""
    from .decompositions import svd
    s, u, vh = svd(a)
    phase = arithmetic.mul(det(u), det(vh))
    return _expand_scalar_per_matrix(phase, a), u, adjoint(vh), _products_of_others(s)


def _adjugate_jvp(primals, tangents):
    (a,), (a_dot,) = primals, tangents
    phase, u, v, q = _adjugate_frame(a)
    inner = _adjugate_of_diagonal_map(q, matmul(matmul(adjoint(u), a_dot), v))
    return adjugate.bind(a), arithmetic.mul(phase, matmul(matmul(v, inner), adjoint(u)))


def _adjugate_vjp(out, a):
    phase, u, v, q = _adjugate_frame(a)

    def adjugate_pullback(out_bar):
        inner_bar = _adjugate_of_diagonal_map(q, matmul(matmul(matrix_transpose(v), arithmetic.mul(phase, out_bar)),
                                                        conjugate(u)))
        return (matmul(matmul(conjugate(u), inner_bar), matrix_transpose(v)),)
    return adjugate_pullback


adjugate = Primitive("adjugate", _adjugate_impl, jvp=_adjugate_jvp, vjp=_adjugate_vjp, batch=batch_rules.same_params,
                     shape_rule=lambda a: ShapedArray(a.shape, np.result_type(a.dtype, np.float32)),
                     convention="a polynomial in A, exact at every rank; its derivative is taken in the singular "
                                "basis of A, so derivatives past the first need distinct singular values")


def _slogdet_impl(a):
    sign, logabsdet = np.linalg.slogdet(a)
    return [sign, logabsdet]


def _slogdet_jvp(primals, tangents):
    (a,), (a_dot,) = primals, tangents
    sign, logabsdet = slogdet.bind(a)
    rate = _trace(solve(a, a_dot))  # tr(A^-1 dA) = d log det A
    if not is_complex(rate):
        return [sign, logabsdet], [None, rate]
    from .elementwise import imag
    # det = sign |det|: log|det| moves with the real part of the rate, the phase sign with its imaginary part.
    return [sign, logabsdet], [arithmetic.mul(sign, arithmetic.mul(1j, imag(rate))), real_part(rate)]


def _slogdet_vjp(outs, a):
    sign, _ = outs

    def slogdet_pullback(out_bars):
        sign_bar, logabsdet_bar = out_bars
        rate_bar = None if logabsdet_bar is None else real_part(logabsdet_bar)
        if sign_bar is not None and is_complex(sign):
            from .elementwise import imag
            # The transpose of the rate -> (i Im(rate) sign, Re(rate)) map under the pairing Re(a b).
            turn_bar = arithmetic.mul(1j, imag(arithmetic.mul(sign_bar, sign)))
            rate_bar = turn_bar if rate_bar is None else arithmetic.add(rate_bar, turn_bar)
        if rate_bar is None:
            return (None,)
        return (arithmetic.mul(_expand_scalar_per_matrix(rate_bar, a), matrix_transpose(inv(a))),)
    return slogdet_pullback


def _slogdet_shape_rule(a):
    real = np.finfo(a.dtype).dtype if np.issubdtype(a.dtype, np.inexact) else np.float64
    return [ShapedArray(a.shape[:-2], a.dtype), ShapedArray(a.shape[:-2], real)]


slogdet = Primitive("slogdet", _slogdet_impl, jvp=_slogdet_jvp, vjp=_slogdet_vjp, multiple_results=True,
                    batch=batch_rules.stacked, shape_rule=_slogdet_shape_rule,
                    convention="a real sign has derivative 0 (a complex one turns with Im tr(A^-1 dA)); log|det| "
                               "is not differentiable at singular A")


# --- triangular_solve(a, b, lower): solves a x = b with a triangular.

def _triangular_impl(a, b, *, lower):
    import scipy.linalg
    a, b = np.asarray(a), np.asarray(b)
    dtype = np.result_type(a, b, np.float32)  # LAPACK may widen float32; the result keeps the inputs' precision
    if a.ndim == 2:
        return scipy.linalg.solve_triangular(a, b, lower=lower).astype(dtype, copy=False)
    batch = np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
    a = np.broadcast_to(a, batch + a.shape[-2:])
    b = np.broadcast_to(b, batch + b.shape[-2:])
    out = np.empty(np.broadcast_shapes(a.shape, b.shape[:-1] + (a.shape[-1],))[:-1] + (b.shape[-1],), dtype=dtype)
    for index in np.ndindex(*batch):
        out[index] = scipy.linalg.solve_triangular(a[index], b[index], lower=lower)
    return out


def _triangular_jvp(primals, tangents, *, lower):
    a, b = primals
    a_dot, b_dot = tangents
    x = triangular_solve.bind(a, b, lower=lower)
    rhs = b_dot
    if a_dot is not None:
        from .comparison import select
        correction = matmul(select(_triangle_mask(a, lower), a_dot, 0.0), x)
        rhs = arithmetic.neg(correction) if rhs is None else arithmetic.sub(rhs, correction)
    return x, triangular_solve(a, rhs, lower=lower)


def _triangular_vjp(x, a, b, *, lower):
    from .comparison import select
    mask = _triangle_mask(a, lower)

    def triangular_solve_pullback(x_bar):
        b_bar = triangular_solve(matrix_transpose(a), x_bar, lower=not lower)
        a_bar = arithmetic.neg(matmul(b_bar, matrix_transpose(x)))
        return select(mask, a_bar, 0.0), b_bar
    return triangular_solve_pullback


def _triangle_mask(a, lower):
    """The triangle of ``a`` that triangular_solve reads: only it influences the solution."""
    ones = np.ones(np.shape(a)[-2:], dtype=bool)
    return np.tril(ones) if lower else np.triu(ones)


triangular_solve = Primitive("triangular_solve", _triangular_impl, jvp=_triangular_jvp, vjp=_triangular_vjp,
                             batch=batch_rules.stacked,
                             shape_rule=lambda a, b, *, lower: ShapedArray(b.shape, np.result_type(a.dtype, b.dtype)))


# --- cholesky: A = L L^H; only the Hermitian part of A is read, its derivative is symmetrized likewise.

def _phi(x):
    """Lower triangle with the diagonal halved (Murray 2016)."""
    n = np.shape(x)[-1]
    return arithmetic.mul(x, constant_like(np.tril(np.ones((n, n))) - 0.5 * np.eye(n), x))


def _hermitian_part(x):
    return arithmetic.mul(0.5, arithmetic.add(x, adjoint(x)))


def _cholesky_jvp(primals, tangents):
    (a,), (a_dot,) = primals, tangents
    factor = cholesky.bind(a)
    left = triangular_solve(factor, _hermitian_part(a_dot), lower=True)  # L^-1 dA
    inner = triangular_solve(factor, adjoint(left), lower=True)  # L^-1 dA L^-H (Hermitian, as dA is)
    return factor, matmul(factor, _phi(inner))


def _cholesky_vjp(factor, a):
    def cholesky_pullback(factor_bar):
        # The JVP's steps transposed under the pairing Re sum(a * b): L^-T phi(L^T L_bar) conj(L)^-1.
        product = _phi(matmul(matrix_transpose(factor), factor_bar))
        left = triangular_solve(matrix_transpose(factor), product, lower=False)
        grad = matrix_transpose(triangular_solve(adjoint(factor), matrix_transpose(left), lower=False))
        return (_hermitian_part(grad),)
    return cholesky_pullback


def _symmetrized(a):
    # Like JAX, cholesky and eigh read the Hermitian part of their input, matching their derivative rules.
    a = np.asarray(a)
    return 0.5 * (a + np.conj(np.swapaxes(a, -1, -2)))


def _cholesky_impl(a):
    return np.linalg.cholesky(_symmetrized(a))


cholesky = Primitive("cholesky", _cholesky_impl, jvp=_cholesky_jvp, vjp=_cholesky_vjp,
                     batch=batch_rules.stacked,
                     shape_rule=lambda a: ShapedArray(a.shape, a.dtype),
                     convention="reads the Hermitian part (A + A^H)/2 of its input")


# --- eigh: A = V diag(w) V^H for Hermitian A, w real; eigenvector derivatives blow up at repeated eigenvalues.

def _eigh_impl(a):
    w, v = np.linalg.eigh(_symmetrized(a))
    return [w, v]


def _eigen_gaps(w):
    """F_ij = 1 / (w_j - w_i) off the diagonal, 0 on it."""
    from .comparison import select
    difference = arithmetic.sub(structure.broadcast_to(structure.reshape(w, new_shape=np.shape(w)[:-1] + (1, np.shape(w)[-1])),
                                                       np.shape(w) + (np.shape(w)[-1],)),
                                structure.broadcast_to(structure.reshape(w, new_shape=np.shape(w) + (1,)),
                                                       np.shape(w) + (np.shape(w)[-1],)))
    n = np.shape(w)[-1]
    diagonal = np.eye(n, dtype=bool)
    safe = select(diagonal, 1.0, difference)
    return select(diagonal, 0.0, arithmetic.div(1.0, safe))


def _diagonal(x):
    from .indexing import gather, IndexTemplate
    positions = np.arange(np.shape(x)[-1])
    return gather(x, positions, positions, template=IndexTemplate((("ellipsis",), ("array", 0), ("array", 1))))


def _diag_embed(w):
    n = np.shape(w)[-1]
    expanded = structure.broadcast_to(structure.reshape(w, new_shape=np.shape(w)[:-1] + (1, n)), np.shape(w) + (n,))
    return arithmetic.mul(expanded, constant_like(np.eye(n), w))


def _eigh_jvp(primals, tangents):
    (a,), (a_dot,) = primals, tangents
    w, v = eigh.bind(a)
    rotated = matmul(matmul(adjoint(v), _hermitian_part(a_dot)), v)  # V^H dA V, Hermitian
    w_dot = real_part(_diagonal(rotated))
    v_dot = matmul(v, arithmetic.mul(_eigen_gaps(w), rotated))
    return [w, v], [w_dot, v_dot]


def _eigh_vjp(outs, a):
    w, v = outs

    def eigh_pullback(out_bars):
        # The JVP's steps transposed under the pairing Re sum(a * b): conj(V) (diag(w_bar) + F * (V^T V_bar)) V^T.
        w_bar, v_bar = out_bars
        inner = None
        if w_bar is not None:
            inner = _diag_embed(real_part(w_bar))  # w is real: an imaginary part of its cotangent carries nothing
        if v_bar is not None:
            term = arithmetic.mul(_eigen_gaps(w), matmul(matrix_transpose(v), v_bar))
            inner = term if inner is None else arithmetic.add(inner, term)
        if inner is None:
            return (None,)
        return (_hermitian_part(matmul(matmul(conjugate(v), inner), matrix_transpose(v))),)
    return eigh_pullback


def _eigh_shape_rule(a):
    real = np.finfo(a.dtype).dtype if np.issubdtype(a.dtype, np.inexact) else np.float64
    return [ShapedArray(a.shape[:-1], real), ShapedArray(a.shape, a.dtype)]


eigh = Primitive("eigh", _eigh_impl, jvp=_eigh_jvp, vjp=_eigh_vjp, multiple_results=True, batch=batch_rules.stacked,
                 shape_rule=_eigh_shape_rule,
                 convention="reads the Hermitian part (A + A^H)/2 of its input; eigenvalues are real; eigenvectors "
                            "are not differentiable at repeated eigenvalues")
