"""Matrix decompositions and functions with derivative rules: ``svd`` and ``qr`` (reduced, real or complex),
``eig``, ``lu`` (square or rectangular, with ``lu_pivots_to_permutation``), ``sylvester``, ``sqrtm`` and
``expm``. Vector derivatives contain 1 / (gap between eigen- or singular values): undefined where those repeat."""
import numpy as np

from ..core.avals import ShapedArray
from ..core.primitive import Primitive
from . import arithmetic, batch_rules, structure, reduction, elementwise, families
from .comparison import eq, select
from .contraction import matmul
from .linalg import matrix_transpose, constant_like, _diagonal, _diag_embed


def _is_complex(x):
    return np.issubdtype(np.result_type(x), np.complexfloating)


def _adjoint(x):
    """Conjugate transpose of the last two axes (a plain transpose for real arrays, so real graphs stay real)."""
    return matrix_transpose(elementwise.conj(x) if _is_complex(x) else x)


def _conj(x):
    return elementwise.conj(x) if _is_complex(x) else x


def _svd_impl(a):
    u, s, vt = np.linalg.svd(a, full_matrices=False)
    if np.iscomplexobj(u):
        # Singular vectors of a complex matrix are defined up to one phase per pair (u_k, v_k); LAPACK's choice
        # has no closed-form derivative, so fix the gauge the JVP assumes: the first largest component of each
        # column of V real and positive.
        v = np.conj(np.swapaxes(vt, -1, -2))
        position = np.argmax(np.abs(v), axis=-2)[..., None, :]
        largest = np.take_along_axis(v, position, axis=-2)
        phase = np.where(largest == 0, 1.0, np.abs(largest) / np.where(largest == 0, 1.0, largest))
        u, vt = (u * phase).astype(u.dtype, copy=False), (vt * np.conj(np.swapaxes(phase, -1, -2))).astype(vt.dtype, copy=False)
    return [s, u, vt]


def _svd_shape_rule(a):
    *batch, m, n = a.shape
    k = min(m, n)
    batch = tuple(batch)
    real = np.empty(0, a.dtype).real.dtype  # singular values are real for complex input too
    return [ShapedArray(batch + (k,), real), ShapedArray(batch + (m, k), a.dtype),
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


def _phase_turn(v, v_dot):
    """Im(dv_pk / v_pk) at each column's largest component p: the phase rate that the gauge removes."""
    mask = _largest_component_mask(v)
    return elementwise.imag(_column_sums(select(mask, arithmetic.div(v_dot, select(mask, v, 1.0)), 0.0)))


def _svd_jvp(primals, tangents):
    (a,), (a_dot,) = primals, tangents
    s, u, vt = svd.bind(a)
    complex_input = _is_complex(a)
    v, uh = _adjoint(vt), _adjoint(u)
    rotated = matmul(matmul(uh, a_dot), v)
    diagonal = _diagonal(rotated)
    s_dot = elementwise.real(diagonal) if complex_input else diagonal
    gaps = _gap_inverse(s)
    times_s_right = arithmetic.mul(rotated, _row(s))    # dS_ij s_j
    times_s_left = arithmetic.mul(_column(s), rotated)  # s_i dS_ij
    u_inner = arithmetic.mul(gaps, arithmetic.add(times_s_right, _adjoint(times_s_right)))
    v_inner = arithmetic.mul(gaps, arithmetic.add(times_s_left, _adjoint(times_s_left)))
    if complex_input:
        # Only the difference of the phase rates of u_k and v_k is determined: Im(U^H dA V)_kk / s_k. Put it
        # on U here; the gauge step below then moves both so that V keeps its gauge.
        u_inner = arithmetic.add(u_inner, _diag_embed(arithmetic.mul(1j, arithmetic.div(
            elementwise.imag(diagonal), s))))
    u_dot = matmul(u, u_inner)
    v_dot = matmul(v, v_inner)
    m, n = np.shape(a)[-2:]
    if m > n:
        # Directions outside the span of U: (I - U U^H) dA V S^-1.
        projected = matmul(a_dot, v)
        u_dot = arithmetic.add(u_dot, arithmetic.div(arithmetic.sub(projected, matmul(u, matmul(uh, projected))),
                                                     _row(s)))
    if n > m:
        projected = matmul(_adjoint(a_dot), u)
        v_dot = arithmetic.add(v_dot, arithmetic.div(arithmetic.sub(projected, matmul(v, matmul(vt, projected))),
                                                     _row(s)))
    if complex_input:
        turn = arithmetic.mul(1j, _phase_turn(v, v_dot))
        u_dot = arithmetic.sub(u_dot, arithmetic.mul(u, turn))
        v_dot = arithmetic.sub(v_dot, arithmetic.mul(v, turn))
    return [s, u, vt], [s_dot, u_dot, _adjoint(v_dot)]


def _accumulate(total, term):
    return term if total is None else arithmetic.add(total, term)


def _svd_vjp(outs, a):
    # Transposes of the JVP's steps under the pairing Re sum(a * b): no conjugation is added, so for real f of
    # complex A the gradient is df/dx - i df/dy (JAX's convention).
    s, u, vt = outs
    complex_input = _is_complex(a)
    m, n = np.shape(a)[-2:]

    def svd_pullback(out_bars):
        s_bar, u_bar, vt_bar = out_bars
        v = _adjoint(vt)
        v_bar = None if vt_bar is None else _adjoint(vt_bar)
        inner = None
        if complex_input and (u_bar is not None or v_bar is not None):
            turn_bar = None
            for bar, factor in ((u_bar, u), (v_bar, v)):
                if bar is not None:
                    turn_bar = _accumulate(turn_bar, elementwise.imag(_column_sums(arithmetic.mul(bar, factor))))
            mask = _largest_component_mask(v)
            inverse_at_largest = select(mask, arithmetic.div(1.0, select(mask, v, 1.0)), 0.0)
            v_bar = _accumulate(v_bar, arithmetic.mul(arithmetic.mul(-1j, turn_bar), inverse_at_largest))

        if s_bar is not None:
            # s is real: an imaginary part in its cotangent (from a complex expression of s) carries no derivative.
            inner = _diag_embed(elementwise.real(s_bar) if _is_complex(s_bar) else s_bar)
        gaps = _gap_inverse(s)
        extra = None
        if u_bar is not None:
            product = matmul(matrix_transpose(u), u_bar)
            weighted = arithmetic.mul(gaps, product)
            inner = _accumulate(inner, arithmetic.mul(arithmetic.add(weighted, _adjoint(weighted)), _row(s)))
            if complex_input:
                inner = _accumulate(inner, _diag_embed(arithmetic.mul(1j, arithmetic.div(
                    elementwise.imag(_diagonal(product)), s))))
            if m > n:
                outside = arithmetic.sub(u_bar, matmul(_conj(u), product))
                extra = _accumulate(extra, matmul(arithmetic.div(outside, _row(s)), _conj(vt)))
        if v_bar is not None:
            product = matmul(matrix_transpose(v), v_bar)
            weighted = arithmetic.mul(gaps, product)
            inner = _accumulate(inner, arithmetic.mul(_column(s), arithmetic.add(weighted, _adjoint(weighted))))
            if n > m:
                outside = arithmetic.sub(v_bar, matmul(_conj(v), product))
                extra = _accumulate(extra, matmul(_conj(u), _adjoint(arithmetic.div(outside, _row(s)))))
        if inner is None and extra is None:
            return (None,)
        total = None if inner is None else matmul(matmul(_conj(u), inner), _conj(vt))
        return (_accumulate(total, extra) if extra is not None else total,)
    return svd_pullback


svd = Primitive("svd", _svd_impl, jvp=_svd_jvp, vjp=_svd_vjp, batch=batch_rules.same_params,
                multiple_results=True, shape_rule=_svd_shape_rule,
                convention="reduced SVD (s, U, V^T) of real or complex matrices (complex: each column of V has "
                           "its first largest component real and positive); singular vectors are not "
                           "differentiable at repeated singular values, nor (for non-square input) at a zero "
                           "singular value")


# --- eig: A V = V diag(w) for a general square matrix; complex results, like jax.numpy.linalg.eig.

def _largest_component_mask(v):
    """Per column of ``v``, True at its first component of largest modulus (where LAPACK makes it real)."""
    n = np.shape(v)[-2]
    position = reduction.argmax(elementwise.absolute(v), axis=len(np.shape(v)) - 2)
    position = structure.broadcast_to(_row(position), np.shape(v))
    rows = np.arange(n).reshape(n, 1) * np.ones(np.shape(v)[-1], dtype=int)
    return eq(position, rows)


def _eig_impl(a):
    w, v = np.linalg.eig(np.asarray(a))
    w, v = w.astype(np.result_type(w, np.complex64)), v.astype(np.result_type(v, np.complex64))
    # LAPACK already makes each vector's largest component real; enforce it so the gauge the JVP assumes
    # holds exactly, without flipping the signs NumPy returns.
    position = np.argmax(np.abs(v), axis=-2)[..., None, :]
    largest = np.take_along_axis(v, position, axis=-2)
    phase = np.where(largest == 0, 1.0, np.abs(largest) / np.where(largest == 0, 1.0, largest))
    phase = phase * np.where(largest.real < 0, -1.0, 1.0)
    return [w, (v * phase).astype(v.dtype, copy=False)]  # np.where's float64 phases must not widen complex64


def _eig_shape_rule(a):
    dtype = np.result_type(a.dtype, np.complex64)
    return [ShapedArray(a.shape[:-1], dtype), ShapedArray(a.shape, dtype)]


def _column_sums(x):
    return _row(reduction.reduce_sum(x, axes=(len(np.shape(x)) - 2,)))


def _eig_gaps(w):
    """F_ij = 1 / (w_j - w_i) off the diagonal, 0 on it (infinite at repeated eigenvalues)."""
    n = np.shape(w)[-1]
    difference = arithmetic.sub(structure.broadcast_to(_row(w), np.shape(w) + (n,)),
                                structure.broadcast_to(_column(w), np.shape(w) + (n,)))
    diagonal = np.eye(n, dtype=bool)
    return select(diagonal, 0.0, arithmetic.div(1.0, select(diagonal, 1.0, difference)))


def _eig_jvp(primals, tangents):
    from .linalg import solve
    (a,), (a_dot,) = primals, tangents
    w, v = eig.bind(a)
    rotated = solve(v, matmul(a_dot, v))  # V^-1 dA V
    w_dot = _diagonal(rotated)
    u_dot = matmul(v, arithmetic.mul(_eig_gaps(w), rotated))
    # Unit norm: remove Re(v_j^H du_j) v_j. Phase: keep the largest component real (NumPy's gauge).
    stretch = elementwise.real(_column_sums(arithmetic.mul(elementwise.conj(v), u_dot)))
    v_dot = arithmetic.sub(u_dot, arithmetic.mul(v, stretch))
    mask = _largest_component_mask(v)
    turn = elementwise.imag(_column_sums(select(mask, arithmetic.div(v_dot, select(mask, v, 1.0)), 0.0)))
    v_dot = arithmetic.sub(v_dot, arithmetic.mul(v, arithmetic.mul(1j, turn)))
    return [w, v], [w_dot, v_dot]


def _eig_vjp(outs, a):
    from .linalg import solve
    w, v = outs

    def eig_pullback(out_bars):
        w_bar, v_bar = out_bars
        rotated_bar = None if w_bar is None else _diag_embed(w_bar)
        if v_bar is not None:
            # Transposes of the JVP's steps, in reverse order, under the pairing Re sum(a * b).
            mask = _largest_component_mask(v)
            turn_bar = elementwise.imag(_column_sums(arithmetic.mul(v_bar, v)))
            inverse_at_largest = select(mask, arithmetic.div(1.0, select(mask, v, 1.0)), 0.0)
            v_bar = arithmetic.sub(v_bar, arithmetic.mul(arithmetic.mul(1j, turn_bar), inverse_at_largest))
            stretch_bar = elementwise.real(_column_sums(arithmetic.mul(v_bar, v)))
            u_bar = arithmetic.sub(v_bar, arithmetic.mul(elementwise.conj(v), stretch_bar))
            term = arithmetic.mul(_eig_gaps(w), matmul(matrix_transpose(v), u_bar))
            rotated_bar = term if rotated_bar is None else arithmetic.add(rotated_bar, term)
        if rotated_bar is None:
            return (None,)
        return (solve(matrix_transpose(v), matmul(rotated_bar, matrix_transpose(v))),)
    return eig_pullback


eig = Primitive("eig", _eig_impl, jvp=_eig_jvp, vjp=_eig_vjp, batch=batch_rules.same_params, multiple_results=True,
                shape_rule=_eig_shape_rule,
                convention="complex (w, V) with unit-norm columns whose largest component is real (NumPy's gauge); "
                           "eigenvectors are not differentiable at repeated eigenvalues, and ill-conditioned near them")


# --- qr: reduced A = Q R of real or complex matrices. LAPACK makes diag(R) real, with signs that are locally
# constant, so the derivative is that of the unique factorization with those signs; it needs the leading square
# block full rank.

def _qr_impl(a):
    q, r = np.linalg.qr(np.asarray(a), mode="reduced")
    return [q, r]


def _qr_shape_rule(a):
    *batch, m, n = a.shape
    k = min(m, n)
    return [ShapedArray(tuple(batch) + (m, k), a.dtype), ShapedArray(tuple(batch) + (k, n), a.dtype)]


def _right_solve_upper(x, r):
    """x R^-1 for upper-triangular R."""
    from .linalg import triangular_solve
    return matrix_transpose(triangular_solve(matrix_transpose(r), matrix_transpose(x), lower=True))


def _strictly_lower(x):
    k = np.shape(x)[-1]
    return arithmetic.mul(x, constant_like(np.tril(np.ones((k, k)), -1), x))


def _columns(x, start, stop):
    from .indexing import take_slices
    return take_slices(x, (Ellipsis, slice(None), slice(start, stop)))


def _qr_square_jvp(q, r, a_dot):
    """(dQ, dR) for A = Q R with R square (A tall or square): Q^H dQ is skew-Hermitian, dR upper triangular
    with a real diagonal (so the imaginary part of diag(Q^H dA R^-1) belongs to Q^H dQ)."""
    c = _right_solve_upper(a_dot, r)
    b = matmul(_adjoint(q), c)
    lower = _strictly_lower(b)
    skew = arithmetic.sub(lower, _adjoint(lower))
    if _is_complex(b):
        skew = arithmetic.add(skew, _diag_embed(arithmetic.mul(1j, elementwise.imag(_diagonal(b)))))
    q_dot = arithmetic.add(matmul(q, arithmetic.sub(skew, b)), c)
    r_dot = matmul(arithmetic.sub(b, skew), r)
    return q_dot, r_dot


def _qr_square_pullback(q, r, q_bar, r_bar):
    """Transpose of _qr_square_jvp under the pairing Re sum(a * b): A_bar = (Q_bar + conj(Q) B_bar) R^-T with
    B_bar = D + tril(D^H - D, -1) - i Im(diag D)."""
    d = None
    if r_bar is not None:
        d = matmul(r_bar, matrix_transpose(r))
    if q_bar is not None:
        projected = matmul(matrix_transpose(q), q_bar)
        d = arithmetic.neg(projected) if d is None else arithmetic.sub(d, projected)
    b_bar = arithmetic.add(d, _strictly_lower(arithmetic.sub(_adjoint(d), d)))
    if _is_complex(b_bar):
        b_bar = arithmetic.sub(b_bar, _diag_embed(arithmetic.mul(1j, elementwise.imag(_diagonal(d)))))
    total = matmul(_conj(q), b_bar)
    if q_bar is not None:
        total = arithmetic.add(total, q_bar)
    from .linalg import triangular_solve
    return matrix_transpose(triangular_solve(r, matrix_transpose(total), lower=False))  # total R^-T


def _qr_jvp(primals, tangents):
    (a,), (a_dot,) = primals, tangents
    q, r = qr.bind(a)
    m, n = np.shape(a)[-2:]
    if m >= n:
        q_dot, r_dot = _qr_square_jvp(q, r, a_dot)
        return [q, r], [q_dot, r_dot]
    # Wide: A = [X | Y] with X = Q R1 square, and R2 = Q^H Y.
    q_dot, r1_dot = _qr_square_jvp(q, _columns(r, 0, m), _columns(a_dot, 0, m))
    y = _columns(a, m, n)
    r2_dot = arithmetic.add(matmul(_adjoint(q_dot), y), matmul(_adjoint(q), _columns(a_dot, m, n)))
    return [q, r], [q_dot, structure.concatenate(r1_dot, r2_dot, axis=len(np.shape(a)) - 1)]


def _qr_vjp(outs, a):
    q, r = outs
    m, n = np.shape(a)[-2:]
    if m >= n:
        def qr_pullback(out_bars):
            q_bar, r_bar = out_bars
            if q_bar is None and r_bar is None:
                return (None,)
            return (_qr_square_pullback(q, r, q_bar, r_bar),)
        return qr_pullback

    # Wide: A = [X | Y] with X = Q R1 square and R2 = Q^H Y; of A the pullback reads only Y.
    y = _columns(a, m, n)
    dtype = np.result_type(a)
    axis = len(np.shape(a)) - 1

    def wide_qr_pullback(out_bars):
        q_bar, r_bar = out_bars
        if q_bar is None and r_bar is None:
            return (None,)
        if r_bar is None:
            r1_bar, y_bar = None, structure.broadcast_to(np.zeros((), dtype=dtype), np.shape(y))
        else:
            r1_bar, r2_bar = _columns(r_bar, 0, m), _columns(r_bar, m, n)
            y_bar = matmul(_conj(q), r2_bar)
            through_r2 = matmul(_conj(y), _adjoint(r2_bar))
            q_bar = through_r2 if q_bar is None else arithmetic.add(q_bar, through_r2)
        x_bar = _qr_square_pullback(q, _columns(r, 0, m), q_bar, r1_bar)
        return (structure.concatenate(x_bar, y_bar, axis=axis),)
    return wide_qr_pullback


qr = Primitive("qr", _qr_impl, jvp=_qr_jvp, vjp=_qr_vjp, batch=batch_rules.same_params, multiple_results=True,
               shape_rule=_qr_shape_rule,
               convention="reduced QR of real or complex matrices with LAPACK's real diag(R) and its signs; "
                          "needs the leading "
                          "min(m, n) columns linearly independent")


# --- lu: P A = L U with partial pivoting, packed like LAPACK: for A of shape (m, n) and k = min(m, n), the
# unit-lower L (m, k) below the diagonal and the upper U (k, n) on and above it, with k row swaps as pivots.

def _lu_impl(a):
    import scipy.linalg
    packed, pivots = scipy.linalg.lu_factor(np.asarray(a))
    return [packed, pivots.astype(np.int32)]


def _lu_shape_rule(a):
    *batch, m, n = a.shape
    return [ShapedArray(a.shape, a.dtype), ShapedArray(tuple(batch) + (min(m, n),), np.int32)]


def _pivots_to_permutation_impl(pivots):
    """Row i of P A is row permutation[i] of A, from LAPACK's sequence of row swaps."""
    pivots = np.asarray(pivots)
    permutation = np.array(np.broadcast_to(np.arange(pivots.shape[-1], dtype=np.int32), pivots.shape))
    for index in np.ndindex(*pivots.shape[:-1]):
        row = permutation[index]
        for i, p in enumerate(pivots[index]):
            row[i], row[p] = row[p], row[i]
    return permutation


lu_pivots_to_permutation = families.zero_derivative(
    "lu_pivots_to_permutation", _pivots_to_permutation_impl,
    shape_rule=lambda pivots: ShapedArray(pivots.shape, np.int32), batch=batch_rules.same_params,
    convention="integer-valued: no derivative")


def lu_permutation(pivots, rows):
    """The permutation of ``rows`` rows that ``pivots`` (k <= rows swaps) make: a tall matrix has fewer swaps
    than rows, so rows k.. are padded with swaps of a row with itself."""
    k = np.shape(pivots)[-1]
    if rows > k:
        batch = tuple(np.shape(pivots)[:-1])
        fixed = structure.broadcast_to(np.arange(k, rows, dtype=np.int32), batch + (rows - k,))
        pivots = structure.concatenate(pivots, fixed, axis=len(batch))
    return lu_pivots_to_permutation(pivots)


def permutation_matrix(permutation, dtype):
    """P with P[i, permutation[i]] = 1, so P A = A[permutation] (a constant: the permutation has no derivative)."""
    n = np.shape(permutation)[-1]
    selected = eq(structure.broadcast_to(_column(permutation), np.shape(permutation) + (n,)),
                  np.arange(n, dtype=np.int32))
    return select(selected, np.ones((), dtype), np.zeros((), dtype))


def _resized(x, rows, columns):
    """The leading ``rows`` x ``columns`` block of the matrices in ``x``, padded with zeros where x is smaller."""
    from .indexing import take_slices
    m, n = np.shape(x)[-2:]
    if rows < m or columns < n:
        x = take_slices(x, (Ellipsis, slice(0, min(rows, m)), slice(0, min(columns, n))))
    if rows > m or columns > n:
        widths = [(0, 0)] * (len(np.shape(x)) - 2) + [(0, max(rows - m, 0)), (0, max(columns - n, 0))]
        x = structure.pad(x, widths=widths)
    return x


def lu_unpacked(packed):
    """(L, U) from the packed factor of an m x n matrix: L (m, k) unit lower-trapezoidal, U (k, n)
    upper-trapezoidal, k = min(m, n)."""
    m, n = np.shape(packed)[-2:]
    k = min(m, n)
    lower = arithmetic.add(arithmetic.mul(_resized(packed, m, k), constant_like(np.tril(np.ones((m, k)), -1), packed)),
                           constant_like(np.eye(m, k), packed))
    return lower, arithmetic.mul(_resized(packed, k, n), constant_like(np.triu(np.ones((k, n))), packed))


def _lu_square_factors(packed):
    """L~ (m, m) and U~ (n, n), the factors completed to invertible triangles: L~ = [L | 0; I] takes the
    identity in its last m - k columns, U~ = [U; 0 I] in its last n - k rows."""
    m, n = np.shape(packed)[-2:]
    lower = arithmetic.add(arithmetic.mul(_resized(packed, m, m), constant_like(np.tril(np.ones((m, m)), -1), packed)),
                           constant_like(np.eye(m), packed))
    upper = arithmetic.mul(_resized(packed, n, n), constant_like(np.triu(np.ones((n, n))), packed))
    if n > m:
        upper = arithmetic.add(upper, constant_like(np.diag((np.arange(n) >= m).astype(float)), packed))
    return lower, upper


# The derivative, for A of shape (m, n): with the completed triangles L~, U~ above, P A = L~ [U; 0] = [L | 0]
# U~ hold blockwise, and differentiating both sides gives, with X = L~^-1 P dA U~^-1 (m, n),
#     dL = L~ tril(X, -1)    (m, k, its unit diagonal fixed),     dU = triu(X) U~    (k, n),
# so the packed tangent is  L~ tril(X, -1) + triu(X) U~,  one formula for every shape. Checked blockwise:
# - m >= n: L = [L1; L2], U square. The top n rows give L1^-1 dA1 U^-1 = L1^-1 dL1 + dU U^-1 (strictly lower
#   plus upper), so dL1 = L1 tril(X1, -1) and dU = triu(X1) U; the bottom rows give dL2 = dA2 U^-1 - L2 dU U^-1,
#   which is the bottom block of L~ tril(X, -1) (X2 = dA2 U^-1 - L2 X1 is entirely "below the diagonal").
# - m < n: L square, U = [U1 U2]. The first m columns give dL = L tril(X1, -1), dU1 = triu(X1) U1 as above;
#   the rest give dU2 = L^-1 dA2 - tril(X1, -1) U2, the right block of triu(X) U~ (X's right block,
#   L^-1 dA2 - X1 U2, is entirely "above the diagonal").
# The pullback transposes each step: X_bar = tril(L~^T Y, -1) + triu(Y U~^T), A_bar = P^T L~^-T X_bar U~^-T.

def _lu_jvp(primals, tangents):
    from .linalg import triangular_solve
    (a,), (a_dot,) = primals, tangents
    packed, pivots = lu.bind(a)
    m, n = np.shape(a)[-2:]
    lower, upper = _lu_square_factors(packed)
    permuted = matmul(permutation_matrix(lu_permutation(pivots, m), np.result_type(a)), a_dot)
    inner = _right_solve_upper(triangular_solve(lower, permuted, lower=True), upper)  # L~^-1 P dA U~^-1
    lower_dot = matmul(lower, arithmetic.mul(inner, constant_like(np.tril(np.ones((m, n)), -1), inner)))
    upper_dot = matmul(arithmetic.mul(inner, constant_like(np.triu(np.ones((m, n))), inner)), upper)
    return [packed, pivots], [arithmetic.add(lower_dot, upper_dot), None]


def _lu_vjp(outs, a):
    from .linalg import triangular_solve
    packed, pivots = outs
    m, n = np.shape(a)[-2:]
    dtype = np.result_type(a)

    def lu_pullback(out_bars):
        packed_bar, _ = out_bars
        if packed_bar is None:
            return (None,)
        lower, upper = _lu_square_factors(packed)
        inner_bar = arithmetic.add(
            arithmetic.mul(matmul(matrix_transpose(lower), packed_bar), constant_like(np.tril(np.ones((m, n)), -1), packed)),
            arithmetic.mul(matmul(packed_bar, matrix_transpose(upper)), constant_like(np.triu(np.ones((m, n))), packed)))
        # P^T L~^-T inner_bar U~^-T
        left = triangular_solve(matrix_transpose(lower), inner_bar, lower=False)
        both = matrix_transpose(triangular_solve(upper, matrix_transpose(left), lower=False))
        permutation = permutation_matrix(lu_permutation(pivots, m), dtype)
        return (matmul(matrix_transpose(permutation), both),)
    return lu_pullback


lu = Primitive("lu", _lu_impl, jvp=_lu_jvp, vjp=_lu_vjp, batch=batch_rules.same_params, multiple_results=True,
               shape_rule=_lu_shape_rule,
               convention="square or rectangular (m, n) matrices, pivots as LAPACK's min(m, n) row swaps (no "
                          "derivative); the pivot order is locally constant, so the packed factor is "
                          "differentiable wherever the leading min(m, n) x min(m, n) block of P A is nonsingular")


# --- sylvester(a, b, c): X with A X + X B = C; sqrtm, whose derivative solves X dX + dX X = dA.

def _per_matrix(function, *arrays):
    """Apply ``function`` to matching matrices of stacks (leading axes broadcast)."""
    arrays = [np.asarray(x) for x in arrays]
    batch = np.broadcast_shapes(*(x.shape[:-2] for x in arrays))
    if not batch:
        return function(*arrays)
    arrays = [np.broadcast_to(x, batch + x.shape[-2:]) for x in arrays]
    return np.stack([function(*(x[index] for x in arrays)) for index in np.ndindex(*batch)]).reshape(
        batch + function(*(x[(0,) * len(batch)] for x in arrays)).shape)


def _sylvester_impl(a, b, c):
    import scipy.linalg
    return _per_matrix(scipy.linalg.solve_sylvester, a, b, c)


def _sylvester_jvp(primals, tangents):
    a, b, c = primals
    a_dot, b_dot, c_dot = tangents
    x = sylvester.bind(a, b, c)
    rhs = c_dot
    for term in (None if a_dot is None else matmul(a_dot, x), None if b_dot is None else matmul(x, b_dot)):
        if term is not None:
            rhs = arithmetic.neg(term) if rhs is None else arithmetic.sub(rhs, term)
    return x, sylvester(a, b, rhs)


def _sylvester_vjp(x, a, b, c):
    def sylvester_pullback(x_bar):
        # The adjoint of X -> A X + X B is Y -> A^T Y + Y B^T.
        y = sylvester(matrix_transpose(a), matrix_transpose(b), x_bar)
        return arithmetic.neg(matmul(y, matrix_transpose(x))), arithmetic.neg(matmul(matrix_transpose(x), y)), y
    return sylvester_pullback


sylvester = Primitive("sylvester", _sylvester_impl, jvp=_sylvester_jvp, vjp=_sylvester_vjp, batch=batch_rules.stacked,
                      shape_rule=lambda a, b, c: ShapedArray(np.broadcast_shapes(a.shape[:-2], b.shape[:-2],
                                                                                 c.shape[:-2]) + c.shape[-2:],
                                                             np.result_type(a.dtype, b.dtype, c.dtype)),
                      convention="needs A and -B to share no eigenvalue (else the solution is not unique)")


def _sqrtm_one(a):
    import scipy.linalg
    root = scipy.linalg.sqrtm(a)
    if np.iscomplexobj(root) and not np.iscomplexobj(a):
        if np.max(np.abs(root.imag), initial=0.0) > 1e-10 * max(1.0, np.max(np.abs(root.real), initial=0.0)):
            raise ValueError("sqrtm: this real matrix has no real principal square root (it has negative real "
                             "eigenvalues); pass a complex matrix, e.g. a.astype(complex)")
        root = root.real
    return root.astype(np.result_type(a, np.float32))


def _sqrtm_impl(a):
    return _per_matrix(_sqrtm_one, a)


def _sqrtm_jvp(primals, tangents):
    (a,), (a_dot,) = primals, tangents
    root = sqrtm.bind(a)
    return root, sylvester(root, root, a_dot)


def _sqrtm_vjp(root, a):
    def sqrtm_pullback(root_bar):
        root_t = matrix_transpose(root)
        return (sylvester(root_t, root_t, root_bar),)
    return sqrtm_pullback


sqrtm = Primitive("sqrtm", _sqrtm_impl, jvp=_sqrtm_jvp, vjp=_sqrtm_vjp, batch=batch_rules.same_params,
                  shape_rule=lambda a: ShapedArray(a.shape, np.result_type(a.dtype, np.float32)),
                  convention="principal square root; differentiable where A has no eigenvalue on the closed "
                             "negative real axis (the Sylvester equation X dX + dX X = dA is then nonsingular)")


# --- expm: the matrix exponential, by SciPy (Al-Mohy and Higham's scaling and squaring, which picks its Pade
# degree and scaling from the values at run time, so a staged graph holds one equation). Derivatives of every
# order come from the exponential itself, through Van Loan's block identity
#     expm([[A, E], [0, A]]) = [[e^A, L(A, E)], [0, e^A]],
# where L(A, E) = int_0^1 e^(sA) E e^((1-s)A) ds is the Frechet derivative. Under the pairing sum(Y * Z) of the
# other rules (no conjugation), the transpose of E -> L(A, E) is Y -> L(A^T, Y), read off the integral.

def _expm_impl(a):
    import scipy.linalg
    a = np.asarray(a)
    return scipy.linalg.expm(a).astype(np.result_type(a, np.float32), copy=False)


def _block_upper(a, e):
    """[[A, E], [0, A]] for matching stacks of square matrices."""
    dtype = np.result_type(a, e)
    if np.result_type(a) != dtype:
        a = structure.convert_element_type(a, dtype=dtype)
    if np.result_type(e) != dtype:
        e = structure.convert_element_type(e, dtype=dtype)
    rank = len(np.shape(a))
    zeros = structure.broadcast_to(np.zeros((), dtype), np.shape(a))
    return structure.concatenate(structure.concatenate(a, e, axis=rank - 1),
                                 structure.concatenate(zeros, a, axis=rank - 1), axis=rank - 2)


def expm_frechet(a, e):
    """L(A, E), the derivative of expm at A in direction E: the top-right block of expm([[A, E], [0, A]])."""
    from .indexing import take_slices
    n = np.shape(a)[-1]
    return take_slices(expm(_block_upper(a, e)), (Ellipsis, slice(0, n), slice(n, 2 * n)))


def _expm_jvp(primals, tangents):
    (a,), (a_dot,) = primals, tangents
    return expm.bind(a), expm_frechet(a, a_dot)


def _expm_vjp(out, a):
    def expm_pullback(out_bar):
        return (expm_frechet(matrix_transpose(a), out_bar),)
    return expm_pullback


expm = Primitive("expm", _expm_impl, jvp=_expm_jvp, vjp=_expm_vjp, batch=batch_rules.same_params,
                 shape_rule=lambda a: ShapedArray(a.shape, np.result_type(a.dtype, np.float32)),
                 convention="entire function: differentiable everywhere; derivatives through the block identity "
                            "expm([[A, E], [0, A]]) = [[e^A, L(A, E)], [0, e^A]]")
