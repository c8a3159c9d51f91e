"""Linear-algebra primitives on stacks of matrices (last two axes): solve, inv, det, slogdet,
cholesky, triangular_solve, eigh. Rules follow Giles (2008) and Murray (2016)."""
import numpy as np

from ..core.avals import ShapedArray
from ..core.primitive import Primitive
from . import arithmetic, batch_rules, structure, reduction
from .contraction import matmul


def matrix_transpose(x):
    ndim = len(np.shape(x))
    return structure.transpose(x, permutation=tuple(range(ndim - 2)) + (ndim - 1, ndim - 2))


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


# --- det and slogdet: d log|det A| = tr(A^{-1} dA); undefined where A is singular.

def _det_jvp(primals, tangents):
    (a,), (a_dot,) = primals, tangents
    out = det.bind(a)
    return out, arithmetic.mul(out, _trace(solve(a, a_dot)))


def _det_vjp(out, a):
    def det_pullback(out_bar):
        weight = arithmetic.mul(out_bar, out)
        return (arithmetic.mul(_expand_scalar_per_matrix(weight, a), matrix_transpose(inv(a))),)
    return det_pullback


det = Primitive("det", np.linalg.det, jvp=_det_jvp, vjp=_det_vjp, batch=batch_rules.stacked,
                shape_rule=lambda a: ShapedArray(a.shape[:-2], a.dtype),
                convention="defined through A^{-1}: not differentiable at singular A (NaN/inf there)")


def _slogdet_impl(a):
    sign, logabsdet = np.linalg.slogdet(a)
    return [sign, logabsdet]


def _slogdet_jvp(primals, tangents):
    (a,), (a_dot,) = primals, tangents
    sign, logabsdet = slogdet.bind(a)
    return [sign, logabsdet], [None, _trace(solve(a, a_dot))]


def _slogdet_vjp(outs, a):
    def slogdet_pullback(out_bars):
        _, logabsdet_bar = out_bars
        if logabsdet_bar is None:
            return (None,)
        return (arithmetic.mul(_expand_scalar_per_matrix(logabsdet_bar, a), matrix_transpose(inv(a))),)
    return slogdet_pullback


slogdet = Primitive("slogdet", _slogdet_impl, jvp=_slogdet_jvp, vjp=_slogdet_vjp, multiple_results=True,
                    batch=batch_rules.stacked,
                    shape_rule=lambda a: [ShapedArray(a.shape[:-2], a.dtype), ShapedArray(a.shape[:-2], a.dtype)],
                    convention="sign has derivative 0; log|det| is not differentiable at singular A")


# --- triangular_solve(a, b, lower): solves a x = b with a triangular.

def _triangular_impl(a, b, *, lower):
    import scipy.linalg
    a, b = np.asarray(a), np.asarray(b)
    if a.ndim == 2:
        return scipy.linalg.solve_triangular(a, b, lower=lower)
    batch = np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
    a = np.broadcast_to(a, batch + a.shape[-2:])
    b = np.broadcast_to(b, batch + b.shape[-2:])
    out = np.empty(np.broadcast_shapes(a.shape, b.shape[:-1] + (a.shape[-1],))[:-1] + (b.shape[-1],),
                   dtype=np.result_type(a, b, np.float64))
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


# --- cholesky: A = L L^T; only the lower triangle of A is read, its derivative is symmetrized.

def _phi(x):
    """Lower triangle with the diagonal halved (Murray 2016)."""
    n = np.shape(x)[-1]
    weights = np.tril(np.ones((n, n))) - 0.5 * np.eye(n)
    return arithmetic.mul(x, weights)


def _cholesky_jvp(primals, tangents):
    (a,), (a_dot,) = primals, tangents
    factor = cholesky.bind(a)
    a_dot = arithmetic.mul(0.5, arithmetic.add(a_dot, matrix_transpose(a_dot)))
    left = triangular_solve(factor, a_dot, lower=True)
    inner = matrix_transpose(triangular_solve(factor, matrix_transpose(left), lower=True))
    return factor, matmul(factor, _phi(inner))


def _cholesky_vjp(factor, a):
    def cholesky_pullback(factor_bar):
        product = _phi(matmul(matrix_transpose(factor), factor_bar))
        left = triangular_solve(matrix_transpose(factor), product, lower=False)
        grad = matrix_transpose(triangular_solve(matrix_transpose(factor), matrix_transpose(left), lower=False))
        return (arithmetic.mul(0.5, arithmetic.add(grad, matrix_transpose(grad))),)
    return cholesky_pullback


def _symmetrized(a):
    # Like JAX, cholesky and eigh read the symmetric part of their input, matching their derivative rules.
    a = np.asarray(a)
    return 0.5 * (a + np.swapaxes(a, -1, -2))


def _cholesky_impl(a):
    return np.linalg.cholesky(_symmetrized(a))


cholesky = Primitive("cholesky", _cholesky_impl, jvp=_cholesky_jvp, vjp=_cholesky_vjp,
                     batch=batch_rules.stacked,
                     shape_rule=lambda a: ShapedArray(a.shape, a.dtype),
                     convention="reads the symmetric part (A + A^T)/2 of its input")


# --- eigh: A = V diag(w) V^T for symmetric A; eigenvector derivatives blow up at repeated eigenvalues.

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


def _eigh_jvp(primals, tangents):
    (a,), (a_dot,) = primals, tangents
    w, v = eigh.bind(a)
    a_dot = arithmetic.mul(0.5, arithmetic.add(a_dot, matrix_transpose(a_dot)))
    rotated = matmul(matmul(matrix_transpose(v), a_dot), v)
    w_dot = _diagonal(rotated)
    v_dot = matmul(v, arithmetic.mul(_eigen_gaps(w), rotated))
    return [w, v], [w_dot, v_dot]


def _diag_embed(w):
    n = np.shape(w)[-1]
    expanded = structure.broadcast_to(structure.reshape(w, new_shape=np.shape(w)[:-1] + (1, n)), np.shape(w) + (n,))
    return arithmetic.mul(expanded, np.eye(n))


def _eigh_vjp(outs, a):
    w, v = outs

    def eigh_pullback(out_bars):
        w_bar, v_bar = out_bars
        inner = None
        if w_bar is not None:
            inner = _diag_embed(w_bar)
        if v_bar is not None:
            term = arithmetic.mul(_eigen_gaps(w), matmul(matrix_transpose(v), v_bar))
            inner = term if inner is None else arithmetic.add(inner, term)
        if inner is None:
            return (None,)
        grad = matmul(matmul(v, inner), matrix_transpose(v))
        return (arithmetic.mul(0.5, arithmetic.add(grad, matrix_transpose(grad))),)
    return eigh_pullback


eigh = Primitive("eigh", _eigh_impl, jvp=_eigh_jvp, vjp=_eigh_vjp, multiple_results=True, batch=batch_rules.stacked,
                 shape_rule=lambda a: [ShapedArray(a.shape[:-1], a.dtype), ShapedArray(a.shape, a.dtype)],
                 convention="reads the symmetric part (A + A^T)/2 of its input; eigenvectors not differentiable "
                            "at repeated eigenvalues")
