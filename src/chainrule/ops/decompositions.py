"""Matrix decompositions with derivative rules: ``svd`` (reduced, real). Singular-vector derivatives contain
1 / (s_j^2 - s_i^2): they are undefined at repeated singular values (and, for a non-square matrix, at s = 0)."""
import numpy as np

from ..core.avals import ShapedArray
from ..core.primitive import Primitive
from . import arithmetic, structure
from .comparison import eq, select
from .contraction import matmul
from .linalg import matrix_transpose, _diagonal, _diag_embed


def _svd_impl(a):
    u, s, vt = np.linalg.svd(a, full_matrices=False)
    return [s, u, vt]


def _svd_shape_rule(a):
    *batch, m, n = a.shape
    k = min(m, n)
    batch = tuple(batch)
    return [ShapedArray(batch + (k,), a.dtype), ShapedArray(batch + (m, k), a.dtype),
            ShapedArray(batch + (k, n), a.dtype)]


def _row(s):
    return structure.reshape(s, new_shape=np.shape(s)[:-1] + (1, np.shape(s)[-1]))


def _column(s):
    return structure.reshape(s, new_shape=np.shape(s) + (1,))


def _gap_inverse(s):
    """F_ij = 1 / (s_j^2 - s_i^2) off the diagonal, 0 on it (infinite at repeated singular values)."""
    k = np.shape(s)[-1]
    square = arithmetic.mul(s, s)
    row = structure.broadcast_to(_row(square), np.shape(s) + (k,))
    column = structure.broadcast_to(_column(square), np.shape(s) + (k,))
    difference = arithmetic.sub(row, column)
    diagonal = np.eye(k, dtype=bool)
    return select(diagonal, 0.0, arithmetic.div(1.0, select(diagonal, 1.0, difference)))


def _svd_jvp(primals, tangents):
    (a,), (a_dot,) = primals, tangents
    s, u, vt = svd.bind(a)
    v = matrix_transpose(vt)
    ut = matrix_transpose(u)
    rotated = matmul(matmul(ut, a_dot), v)
    s_dot = _diagonal(rotated)
    gaps = _gap_inverse(s)
    times_s_right = arithmetic.mul(rotated, _row(s))    # dS_ij s_j
    times_s_left = arithmetic.mul(_column(s), rotated)  # s_i dS_ij
    u_dot = matmul(u, arithmetic.mul(gaps, arithmetic.add(times_s_right, matrix_transpose(times_s_right))))
    v_dot = matmul(v, arithmetic.mul(gaps, arithmetic.add(times_s_left, matrix_transpose(times_s_left))))
    m, n = np.shape(a)[-2:]
    if m > n:
        # Directions outside the span of U: (I - U U^T) dA V S^-1.
        projected = matmul(a_dot, v)
        u_dot = arithmetic.add(u_dot, arithmetic.div(arithmetic.sub(projected, matmul(u, matmul(ut, projected))),
                                                     _row(s)))
    if n > m:
        projected = matmul(matrix_transpose(a_dot), u)
        v_dot = arithmetic.add(v_dot, arithmetic.div(arithmetic.sub(projected, matmul(v, matmul(vt, projected))),
                                                     _row(s)))
    return [s, u, vt], [s_dot, u_dot, matrix_transpose(v_dot)]


def _svd_pullback(out_bars, outs, a):
    s_bar, u_bar, vt_bar = out_bars
    s, u, vt = outs
    v, ut = matrix_transpose(vt), matrix_transpose(u)
    m, n = np.shape(a)[-2:]
    inner = None

    def accumulate(total, term):
        return term if total is None else arithmetic.add(total, term)

    if s_bar is not None:
        inner = _diag_embed(s_bar)
    gaps = _gap_inverse(s)
    extra = None
    if u_bar is not None:
        product = matmul(ut, u_bar)
        skew = arithmetic.mul(gaps, arithmetic.sub(product, matrix_transpose(product)))
        inner = accumulate(inner, arithmetic.mul(skew, _row(s)))
        if m > n:
            outside = arithmetic.sub(u_bar, matmul(u, product))
            extra = accumulate(extra, matmul(arithmetic.div(outside, _row(s)), vt))
    if vt_bar is not None:
        v_bar = matrix_transpose(vt_bar)
        product = matmul(vt, v_bar)
        skew = arithmetic.mul(gaps, arithmetic.sub(product, matrix_transpose(product)))
        inner = accumulate(inner, arithmetic.mul(_column(s), skew))
        if n > m:
            outside = arithmetic.sub(v_bar, matmul(v, product))
            extra = accumulate(extra, matmul(u, matrix_transpose(arithmetic.div(outside, _row(s)))))
    if inner is None and extra is None:
        return (None,)
    total = None if inner is None else matmul(matmul(u, inner), vt)
    return (accumulate(total, extra) if extra is not None else total,)


svd = Primitive("svd", _svd_impl, jvp=_svd_jvp, vjp=_svd_pullback, multiple_results=True,
                shape_rule=_svd_shape_rule,
                convention="reduced SVD (s, U, V^T) of real matrices; singular vectors are not differentiable at "
                           "repeated singular values, nor (for non-square input) at a zero singular value")


def _stacked_batch_rule(primitive, values, batched, params, size):
    # NumPy's SVD already works on stacks along leading axes.
    return primitive.bind(values[0], **params)


svd.batch = _stacked_batch_rule
