"""``chainrule.scipy.linalg``: solve_triangular, solve_banded, cho_factor/cho_solve, lu_factor/lu_solve/lu, solve,
inv, det, expm, sqrtm and solve_sylvester, composed from the linear-algebra primitives (every derivative order and
batching follow)."""
import numpy as _np
import scipy.linalg as _linalg

from .. import numpy as _cnp
from ..numpy.arrays import numpy_when_untraced
from ..ops import linalg as _ops

# The adapters below call SciPy as this module always has: without overwrite_* (SciPy could write into the
# caller's arrays) and with SciPy's default check_finite.


def _solve_triangular_plain(a, b, trans=0, lower=False, unit_diagonal=False, overwrite_b=False, check_finite=True):
    return _linalg.solve_triangular(a, b, trans=trans, lower=lower, unit_diagonal=unit_diagonal)


def _cho_factor_plain(a, lower=False, overwrite_a=False, check_finite=True):
    return _linalg.cho_factor(a, lower=lower)


def _cho_solve_plain(c_and_lower, b, overwrite_b=False, check_finite=True):
    factor, lower = c_and_lower
    return _linalg.cho_solve((factor, lower), b)


def _lu_factor_plain(a, overwrite_a=False, check_finite=True):
    return _linalg.lu_factor(a)


def _lu_solve_plain(lu_and_piv, b, trans=0, overwrite_b=False, check_finite=True):
    packed, piv = lu_and_piv
    return _linalg.lu_solve((packed, piv), b, trans=trans)


def _lu_plain(a, permute_l=False, overwrite_a=False, check_finite=True, p_indices=False):
    return _linalg.lu(a, permute_l=permute_l, p_indices=p_indices)


def _inv_plain(a, overwrite_a=False, check_finite=True):
    return _linalg.inv(a)


def _det_plain(a, overwrite_a=False, check_finite=True):
    a = _np.asarray(a)
    # SciPy widens float32 and complex64 determinants; keep the input's precision, as the traced path does.
    return _np.asarray(_linalg.det(a)).astype(_np.result_type(a, _np.float32), copy=False)[()]


def _sqrtm_plain(A, disp=True, blocksize=64):
    return _linalg.sqrtm(A)  # disp and blocksize are deprecated in SciPy: its defaults


@numpy_when_untraced(_solve_triangular_plain)
def solve_triangular(a, b, trans=0, lower=False, unit_diagonal=False, overwrite_b=False, check_finite=True):
    """``scipy.linalg.solve_triangular``: only the chosen triangle of ``a`` is read (and differentiated).

    >>> import chainrule as cr, numpy
    >>> cr.grad(lambda b: solve_triangular(numpy.array([[2.0, 0.0], [1.0, 1.0]]), b, lower=True).sum())(
    ...     numpy.array([1.0, 1.0]))
    array([0., 1.])
    """
    a, b = _cnp.asarray(a), _cnp.asarray(b)
    if unit_diagonal:
        a = _cnp.where(_np.eye(_cnp.shape(a)[-1], dtype=bool), 1.0, a)
    if trans not in (0, 1, 2, "N", "T", "C"):
        raise ValueError(f"solve_triangular: trans must be 0, 1 or 2 ('N', 'T', 'C'), got {trans!r}")
    if trans in (2, "C"):
        a = _cnp.conj(a)
    if trans in (1, "T", 2, "C"):
        a, lower = _cnp.swapaxes(a, -1, -2), not lower
    vector = _cnp.ndim(b) == 1
    out = _ops.triangular_solve(a, _cnp.reshape(b, (-1, 1)) if vector else b, lower=lower)
    return _cnp.reshape(out, (-1,)) if vector else out


@numpy_when_untraced(_cho_factor_plain)
def cho_factor(a, lower=False, overwrite_a=False, check_finite=True):
    """``scipy.linalg.cho_factor``: (factor, lower), a = L L^H = U^H U for real symmetric or complex Hermitian
    ``a`` (traced input is read through its Hermitian part, as ``numpy.linalg.cholesky``). Traced, the unused triangle of the factor holds zeros; on
    plain arrays it is SciPy's (which leaves copies of the input there in some versions): read only the triangle
    named by ``lower``, as cho_solve does.

    >>> import numpy
    >>> factor, lower = cho_factor(numpy.array([[4.0, 2.0], [2.0, 2.0]]), lower=True)
    >>> numpy.tril(factor).round(6).tolist(), bool(lower)
    ([[2.0, 0.0], [1.0, 1.0]], True)
    """
    factor = _cnp.linalg.cholesky(a)
    return (factor if lower else _ops.adjoint(factor)), lower


@numpy_when_untraced(_cho_solve_plain)
def cho_solve(c_and_lower, b, overwrite_b=False, check_finite=True):
    """``scipy.linalg.cho_solve``: solve a x = b from cho_factor's output.

    >>> import numpy
    >>> a = numpy.array([[4.0, 2.0], [2.0, 2.0]])
    >>> cho_solve(cho_factor(a), numpy.array([2.0, 2.0])).round(12)
    array([0., 1.])
    """
    factor, lower = c_and_lower
    lower_factor = _cnp.tril(factor) if lower else _ops.adjoint(_cnp.triu(factor))  # a = L L^H
    middle = solve_triangular(lower_factor, b, lower=True)
    return solve_triangular(lower_factor, middle, trans=2, lower=True)


def _require_square(a, name, advice="factor rectangular matrices outside the transform"):
    dims = _cnp.shape(a)
    if len(dims) < 2 or dims[-1] != dims[-2]:
        raise ValueError(f"{name}: a traced input must be a square matrix (or a stack of them), got shape {dims}; "
                         f"{advice}")


@numpy_when_untraced(_lu_factor_plain)
def lu_factor(a, overwrite_a=False, check_finite=True):
    """``scipy.linalg.lu_factor``: (lu, piv), L and U packed in one matrix, ``piv`` LAPACK's row swaps (an
    integer array, no derivative). Differentiable wherever ``a`` is square and nonsingular.

    >>> import chainrule as cr, numpy
    >>> a = numpy.array([[1.0, 2.0], [3.0, 4.0]])
    >>> cr.grad(lambda a: lu_factor(a)[0][1, 1])(a)  # rows swapped: U_11 = a_01 - a_00 a_11 / a_10
    array([[-1.33333333,  1.        ],
           [ 0.44444444, -0.33333333]])
    """
    a = _cnp.asarray(a)
    from ..ops import decompositions as _decompositions
    _require_square(a, "lu_factor", "lu_factor's output feeds lu_solve, which needs a square matrix; for a "
                                    "rectangular matrix use scipy.linalg.lu (P, L, U), which differentiates it")
    packed, pivots = _decompositions.lu(a)
    return packed, pivots


def _permutation(piv, dtype):
    from ..ops import decompositions as _decompositions
    return _decompositions.permutation_matrix(_decompositions.lu_pivots_to_permutation(piv), dtype)


@numpy_when_untraced(_lu_solve_plain)
def lu_solve(lu_and_piv, b, trans=0, overwrite_b=False, check_finite=True):
    """``scipy.linalg.lu_solve``: solve a x = b (``trans=1`` or ``2``: a^T x = b) from ``lu_factor``'s output,
    through two triangular solves; differentiable in the factor and in ``b``.

    >>> import chainrule as cr, numpy
    >>> a = numpy.array([[1.0, 2.0], [3.0, 4.0]])
    >>> cr.grad(lambda b: lu_solve(lu_factor(a), b).sum())(numpy.array([1.0, 1.0]))  # inv(a)^T @ ones
    array([-0.5,  0.5])
    """
    packed, piv = lu_and_piv
    from ..ops import decompositions as _decompositions
    packed, b = _cnp.asarray(packed), _cnp.asarray(b)
    _require_square(packed, "lu_solve", "lu_solve solves with a square matrix's factors (for rectangular systems "
                                        "use chainrule.numpy.linalg.lstsq)")
    if trans not in (0, 1, 2, "N", "T", "C"):
        raise ValueError(f"lu_solve: trans must be 0, 1 or 2 ('N', 'T', 'C'), got {trans!r}")
    if _cnp.shape(b)[0] != _cnp.shape(packed)[-1]:
        raise ValueError(f"lu_solve: lu has shape {_cnp.shape(packed)} but b has shape {_cnp.shape(b)}; b's first "
                         f"dimension must be {_cnp.shape(packed)[-1]}")
    vector = _cnp.ndim(b) == 1
    rhs = _cnp.reshape(b, (-1, 1)) if vector else b
    lower, upper = _decompositions.lu_unpacked(packed)
    permutation = _permutation(piv, _np.result_type(packed.dtype, b.dtype))
    if trans in (0, "N"):  # x = U^-1 L^-1 P b
        out = _ops.triangular_solve(upper, _ops.triangular_solve(lower, permutation @ rhs, lower=True), lower=False)
    else:  # a^T = U^T L^T P, so x = P^T L^-T U^-T b
        if trans in (2, "C"):
            lower, upper = _cnp.conj(lower), _cnp.conj(upper)
        middle = _ops.triangular_solve(_cnp.swapaxes(upper, -1, -2), rhs, lower=True)
        out = _cnp.swapaxes(permutation, -1, -2) @ _ops.triangular_solve(_cnp.swapaxes(lower, -1, -2), middle,
                                                                        lower=False)
    return _cnp.reshape(out, (-1,)) if vector else out


@numpy_when_untraced(_lu_plain)
def lu(a, permute_l=False, overwrite_a=False, check_finite=True, p_indices=False):
    """``scipy.linalg.lu``: (P, L, U) with a = P L U, or (P L, U) with ``permute_l``; with ``p_indices`` the
    permutation comes as row indices p, a = L[p] @ U. For ``a`` of shape (m, n) and k = min(m, n), P is
    (m, m), L (m, k) unit lower-trapezoidal and U (k, n) upper-trapezoidal; stacks factor matrix by matrix.
    The permutation has no derivative; L and U are differentiable wherever the leading k x k block of the
    row-permuted ``a`` is nonsingular.

    >>> import chainrule as cr, numpy
    >>> a = numpy.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])
    >>> p, l, u = lu(a)
    >>> l.shape, u.shape, bool(numpy.allclose(p @ l @ u, a))
    ((3, 2), (2, 2), True)
    >>> cr.grad(lambda a: lu(a)[2][1, 1])(a).round(6)  # rows 2, then 0 pivot: U_11 = a_01 - a_00 a_21 / a_20
    array([[-1.2 ,  1.  ],
           [ 0.  ,  0.  ],
           [ 0.24, -0.2 ]])
    """
    from ..ops import decompositions as _decompositions
    a = _cnp.asarray(a)
    if _cnp.ndim(a) < 2:
        raise ValueError(f"lu: a traced input must be a matrix (or a stack of them), got shape {_cnp.shape(a)}")
    packed, pivots = _decompositions.lu(a)
    lower, upper = _decompositions.lu_unpacked(packed)
    permutation = _decompositions.lu_permutation(pivots, _cnp.shape(a)[-2])
    real = _np.finfo(_np.result_type(a.dtype, _np.float32)).dtype  # P is real, as SciPy returns it
    p = _cnp.swapaxes(_decompositions.permutation_matrix(permutation, real), -1, -2)
    if permute_l:
        return p @ lower, upper
    if p_indices:
        from ..ops.reduction import argsort
        return argsort(permutation, axis=_cnp.ndim(permutation) - 1, kind="stable"), lower, upper
    return p, lower, upper


@numpy_when_untraced(_linalg.solve)
def solve(a, b, **options):
    """``scipy.linalg.solve`` (general matrices; structure options are ignored for traced input).

    >>> import numpy
    >>> solve(numpy.eye(2) * 2.0, numpy.array([1.0, 1.0]))
    array([0.5, 0.5])
    """
    return _cnp.linalg.solve(a, b)


@numpy_when_untraced(_inv_plain)
def inv(a, overwrite_a=False, check_finite=True):
    """``scipy.linalg.inv``.

    >>> import numpy
    >>> inv(numpy.eye(2) * 2.0)
    array([[0.5, 0. ],
           [0. , 0.5]])
    """
    return _cnp.linalg.inv(a)


@numpy_when_untraced(_det_plain)
def det(a, overwrite_a=False, check_finite=True):
    """``scipy.linalg.det``, differentiable everywhere (singular ``a`` included); float32 and complex64 input keep
    their precision (SciPy itself widens them).

    >>> import numpy
    >>> float(det(numpy.eye(2) * 2.0))
    4.0
    """
    return _cnp.linalg.det(a)


@numpy_when_untraced(_linalg.solve_sylvester)
def solve_sylvester(a, b, q):
    """``scipy.linalg.solve_sylvester``: X with a X + X b = q, differentiable in all three (where a and -b
    share no eigenvalue).

    >>> import chainrule as cr, numpy
    >>> cr.grad(lambda q: solve_sylvester(numpy.eye(2), numpy.eye(2), q).sum())(numpy.ones((2, 2)))
    array([[0.5, 0.5],
           [0.5, 0.5]])
    """
    from ..ops import decompositions as _decompositions
    a, b, q = _cnp.asarray(a), _cnp.asarray(b), _cnp.asarray(q)
    _require_square(a, "solve_sylvester")
    _require_square(b, "solve_sylvester")
    if _cnp.shape(q)[-2:] != (_cnp.shape(a)[-1], _cnp.shape(b)[-1]):
        raise ValueError(f"solve_sylvester: q has shape {_cnp.shape(q)}; with a of shape {_cnp.shape(a)} and b of "
                         f"shape {_cnp.shape(b)} it must end in {(_cnp.shape(a)[-1], _cnp.shape(b)[-1])}")
    return _decompositions.sylvester(a, b, q)


@numpy_when_untraced(_sqrtm_plain)
def sqrtm(A, disp=True, blocksize=64):
    """``scipy.linalg.sqrtm``: the principal square root X (X @ X = A); dX solves X dX + dX X = dA. Limits:
    differentiable only where A has no eigenvalue on the closed negative real axis (a singular A has no
    derivative); a real A whose root is complex (negative real eigenvalues) raises when traced, so pass
    A.astype(complex); the result's dtype is the input's (SciPy may return complex).

    >>> import chainrule as cr, numpy
    >>> float(cr.grad(lambda t: sqrtm(t * numpy.array([[4.0, 1.0], [0.0, 9.0]]))[0, 1])(1.0))  # root is linear in t^1/2
    0.1
    """
    A = _cnp.asarray(A)
    from ..ops import decompositions as _decompositions
    _require_square(A, "sqrtm")
    return _decompositions.sqrtm(A)


@numpy_when_untraced(_linalg.expm)
def expm(A):
    """``scipy.linalg.expm``, one primitive whose value is SciPy's (Al-Mohy and Higham's scaling and squaring).
    Why a primitive and not Pade steps composed from matmul and solve: the scaling exponent must come from
    ||A||, a value that graph staging (``export.to_python``, ``explain``) does not have; the primitive stages as
    one equation and chooses its scaling when it runs. Its derivatives use the exponential again, through the
    block identity expm([[A, E], [0, A]]) = [[e^A, L(A, E)], [0, e^A]] (L the Frechet derivative; the pullback
    is L(A^T, Y)), so every order is as accurate as SciPy's expm of a matrix twice (then four times, ...) as
    large; stacks of matrices work.

    >>> import chainrule as cr, numpy
    >>> float(cr.grad(lambda t: expm(t * numpy.array([[0.0, 1.0], [-1.0, 0.0]]))[0, 0])(0.5))  # -sin(0.5)
    -0.479425538604203
    """
    from ..ops import decompositions as _decompositions
    A = _cnp.asarray(A)
    _require_square(A, "expm", "the exponential is defined for square matrices only")
    return _decompositions.expm(A)


def _solve_banded_plain(l_and_u, ab, b, overwrite_ab=False, overwrite_b=False, check_finite=True):
    ab, b = _np.asarray(ab), _np.asarray(b)
    out = _linalg.solve_banded(l_and_u, ab, b)
    return out.astype(_np.result_type(ab, b, _np.float32), copy=False)  # float32 in, float32 out


def _banded_to_dense(lower, upper, ab):
    """The n x n matrix a with a[i, j] = ab[upper + i - j, j] inside the band and 0 outside it (the corners of
    ``ab`` that fall outside the matrix are never read, as in LAPACK's band storage)."""
    n = _cnp.shape(ab)[-1]
    rows, columns = _np.indices((n, n))
    band_row = upper + rows - columns
    inside = (band_row >= 0) & (band_row <= lower + upper)
    gathered = ab[_np.clip(band_row, 0, lower + upper), columns]
    return _cnp.where(inside, gathered, _np.zeros((), _np.result_type(ab.dtype)))


@numpy_when_untraced(_solve_banded_plain)
def solve_banded(l_and_u, ab, b, overwrite_ab=False, overwrite_b=False, check_finite=True):
    """``scipy.linalg.solve_banded``: solve a x = b for the banded matrix a with ``l`` nonzero diagonals below the
    main one and ``u`` above, stored as ``ab[u + i - j, j] == a[i, j]`` (shape (l + u + 1, n)); real or complex,
    differentiable in ``ab`` and ``b``. Plain arrays go to SciPy's banded solver; traced ones are solved through
    the dense matrix (O(n^3): meant for the modest n a derivative is taken at). Entries of ``ab`` outside the
    matrix are not read, and their derivative is 0.

    >>> import chainrule as cr, numpy
    >>> ab = numpy.array([[0.0, 1.0, 1.0], [4.0, 4.0, 4.0], [1.0, 1.0, 0.0]])  # tridiagonal: 1, 4, 1
    >>> solve_banded((1, 1), ab, numpy.array([5.0, 6.0, 5.0]))
    array([1., 1., 1.])
    >>> cr.grad(lambda ab: solve_banded((1, 1), ab, numpy.array([5.0, 6.0, 5.0])).sum())(ab)[1].round(6)  # -y_i x_i
    array([-0.214286, -0.142857, -0.214286])
    """
    lower, upper = (int(k) for k in l_and_u)
    ab, b = _cnp.asarray(ab), _cnp.asarray(b)
    if lower < 0 or upper < 0:
        raise ValueError(f"solve_banded: (l, u) must be non-negative numbers of diagonals, got {l_and_u!r}")
    if _cnp.ndim(ab) != 2 or _cnp.shape(ab)[0] != lower + upper + 1:
        raise ValueError(f"solve_banded: ab has shape {_cnp.shape(ab)}; with (l, u) = ({lower}, {upper}) it must be "
                         f"({lower + upper + 1}, n), one row per diagonal")
    n = _cnp.shape(ab)[1]
    if _cnp.ndim(b) not in (1, 2) or _cnp.shape(b)[0] != n:
        raise ValueError(f"solve_banded: b has shape {_cnp.shape(b)}; for ab of shape {_cnp.shape(ab)} its first "
                         f"dimension must be {n}")
    return _cnp.linalg.solve(_banded_to_dense(lower, upper, ab), b)
