"""``chainrule.numpy.linalg``: norm, solve, inv, det, slogdet, cholesky, eigh, eigvalsh, eig, eigvals, qr, svd,
svdvals, pinv, lstsq, matrix_rank, multi_dot, matrix_power, tensorsolve, tensorinv."""
import numpy as _np

from ..core.interpreter import ChainruleError
from ..ops import arithmetic as _ar, comparison as _cmp, elementwise as _el, linalg as _la
from .arrays import asarray, is_traced, ndim, numpy_when_untraced, shape
from .reductions import sum as _sum, max as _max, min as _min, squared_magnitude
from .shaping import reshape

LinAlgError = _np.linalg.LinAlgError


def _require_square(a, name):
    dims = shape(a)
    if len(dims) < 2 or dims[-1] != dims[-2]:
        raise LinAlgError(f"{name}: last 2 dimensions of the array must be square, got shape {dims}")


@numpy_when_untraced(_np.linalg.solve)
def solve(a, b):
    """``numpy.linalg.solve``; ``b`` is a vector when it is 1-d (NumPy 2 semantics).

    >>> import chainrule as cr, chainrule.numpy as np
    >>> A = np.array([[2.0, 0.0], [0.0, 4.0]])
    >>> cr.grad(lambda b: np.sum(np.linalg.solve(A, b)))(np.array([1.0, 1.0]))
    array([0.5 , 0.25])
    """
    a, b = asarray(a), asarray(b)
    _require_square(a, "solve")
    if ndim(b) == 1:
        if shape(b)[0] != shape(a)[-1]:
            raise ValueError(f"solve: a has shape {shape(a)} but b has shape {shape(b)}")
        return reshape(_la.solve(a, reshape(b, (-1, 1))), (-1,))
    return _la.solve(a, b)


@numpy_when_untraced(_np.linalg.inv)
def inv(a):
    """``numpy.linalg.inv``.

    >>> import chainrule as cr, chainrule.numpy as np
    >>> A = np.array([[2.0, 0.0], [0.0, 4.0]])
    >>> np.linalg.inv(A)
    array([[0.5 , 0.  ],
           [0.  , 0.25]])
    >>> cr.grad(lambda A: np.sum(np.linalg.inv(A)))(A)  # -A^-T 1 1^T A^-T
    array([[-0.25  , -0.125 ],
           [-0.125 , -0.0625]])
    """
    a = asarray(a)
    _require_square(a, "inv")
    return _la.inv(a)


@numpy_when_untraced(_np.linalg.det)
def det(a):
    """``numpy.linalg.det``. A polynomial in the entries: differentiable everywhere, singular A included (the
    gradient is the cofactor matrix adj(A)^T, zero where the rank is n - 2 or less).

    >>> import chainrule as cr, chainrule.numpy as np
    >>> A = np.array([[2.0, 1.0], [1.0, 3.0]])
    >>> float(np.linalg.det(A))
    5.0
    >>> cr.grad(np.linalg.det)(A)  # det(A) A^-T: the cofactors
    array([[ 3., -1.],
           [-1.,  2.]])
    >>> cr.grad(np.linalg.det)(np.array([[1.0, 2.0], [2.0, 4.0]]))  # singular: still the cofactors
    array([[ 4., -2.],
           [-2.,  1.]])
    """
    a = asarray(a)
    _require_square(a, "det")
    return _la.det(a)


@numpy_when_untraced(_np.linalg.slogdet)
def slogdet(a):
    """``numpy.linalg.slogdet``: (sign, log|det a|), log|det a| real; a real sign has derivative 0, a complex one
    turns with Im tr(a^-1 da) (as in JAX). log|det a| is not differentiable at singular ``a``.

    >>> import chainrule as cr, chainrule.numpy as np
    >>> A = np.array([[2.0, 1.0], [1.0, 3.0]])
    >>> sign, logabsdet = np.linalg.slogdet(A)
    >>> float(sign), round(float(logabsdet), 6)  # log 5
    (1.0, 1.609438)
    >>> cr.grad(lambda A: np.linalg.slogdet(A)[1])(A)  # A^-T
    array([[ 0.6, -0.2],
           [-0.2,  0.4]])
    """
    a = asarray(a)
    _require_square(a, "slogdet")
    sign, logabsdet = _la.slogdet(a)
    return sign, logabsdet


@numpy_when_untraced(_np.linalg.cholesky)
def cholesky(a):
    """``numpy.linalg.cholesky`` (lower factor L, a = L L^H) of real symmetric or complex Hermitian matrices; traced
    input is read through its Hermitian part (a + a^H) / 2, so derivatives are symmetrized likewise (as in JAX).

    >>> import chainrule as cr, chainrule.numpy as np
    >>> A = np.array([[4.0, 2.0], [2.0, 5.0]])
    >>> np.linalg.cholesky(A)
    array([[2., 0.],
           [1., 2.]])
    >>> cr.grad(lambda A: 2 * np.sum(np.log(np.diagonal(np.linalg.cholesky(A)))))(A)  # log det A: A^-1
    array([[ 0.3125, -0.125 ],
           [-0.125 ,  0.25  ]])
    """
    a = asarray(a)
    _require_square(a, "cholesky")
    return _la.cholesky(a)


@numpy_when_untraced(_np.linalg.eigh)
def eigh(a, UPLO="L"):
    """``numpy.linalg.eigh``: (real eigenvalues, eigenvectors) of a real symmetric or complex Hermitian matrix;
    traced input is read through its Hermitian part (a + a^H) / 2. Eigenvector derivatives are not defined at
    repeated eigenvalues; a complex eigenvector's phase is arbitrary, so differentiate phase-free quantities
    (|v|^2, V f(w) V^H), whose derivatives are JAX's.

    >>> import chainrule as cr, chainrule.numpy as np
    >>> A = np.array([[2.0, 1.0], [1.0, 2.0]])
    >>> np.linalg.eigh(A)[0]
    array([1., 3.])
    >>> cr.grad(lambda A: np.linalg.eigh(A)[0][1])(A)  # v v^T for the eigenvector v = (1, 1) / sqrt(2)
    array([[0.5, 0.5],
           [0.5, 0.5]])
    """
    a = asarray(a)
    _require_square(a, "eigh")
    w, v = _la.eigh(a)
    return w, v


@numpy_when_untraced(_np.linalg.eigvalsh)
def eigvalsh(a, UPLO="L"):
    """``numpy.linalg.eigvalsh``.

    >>> import chainrule as cr, chainrule.numpy as np
    >>> A = np.array([[2.0, 1.0], [1.0, 2.0]])
    >>> np.linalg.eigvalsh(A)
    array([1., 3.])
    >>> cr.grad(lambda A: np.linalg.eigvalsh(A)[0])(A)  # v v^T for the eigenvector v = (1, -1) / sqrt(2)
    array([[ 0.5, -0.5],
           [-0.5,  0.5]])
    """
    return eigh(a, UPLO)[0]


@numpy_when_untraced(_np.linalg.eig)
def eig(a):
    """``numpy.linalg.eig``: (eigenvalues, eigenvectors) of a general square matrix. Traced input always gives
    complex results (like ``jax.numpy.linalg.eig``; NumPy returns real arrays when every eigenvalue is real),
    with NumPy's gauge: unit-norm columns whose largest component is real. Caveat: eigenvector derivatives
    contain 1 / (w_j - w_i), so they are undefined at repeated eigenvalues and unstable near them; functions
    of the eigenvalues alone are better conditioned.

    >>> import chainrule as cr, chainrule.numpy as np
    >>> a = np.array([[2.0, 1.0], [0.0, 3.0]])
    >>> cr.grad(lambda a: np.real(np.linalg.eig(a)[0][1]))(a)  # outer(left, right) / (left . right) at w = 3
    array([[0., 0.],
           [1., 1.]])
    """
    a = asarray(a)
    from ..ops import decompositions as _decompositions
    _require_square(a, "eig")
    w, v = _decompositions.eig(a)
    return w, v


@numpy_when_untraced(_np.linalg.eigvals)
def eigvals(a):
    """``numpy.linalg.eigvals`` (complex when traced; see ``eig``); differentiable at simple eigenvalues.

    >>> import chainrule as cr, chainrule.numpy as np
    >>> cr.grad(lambda a: np.sum(np.real(np.linalg.eigvals(a))))(np.array([[1.0, 2.0], [-2.0, 1.0]]))
    array([[1., 0.],
           [0., 1.]])
    """
    return eig(a)[0]


@numpy_when_untraced(_np.linalg.qr)
def qr(a, mode="reduced"):
    """``numpy.linalg.qr`` of real or complex matrices: (Q, R), or R with ``mode='r'``. Derivatives are those of
    the factorization with LAPACK's real diag(R) and its signs, defined where the leading min(m, n) columns are
    linearly independent; for complex input they follow JAX's convention (see ``svd``). Caveat: ``mode='complete'``
    of a traced tall matrix (m > n) is refused, because the extra columns of Q are not unique (so have no
    derivative); ``mode='raw'`` is not differentiable.

    >>> import chainrule as cr, chainrule.numpy as np
    >>> a = np.array([[3.0, 1.0], [4.0, 2.0], [0.0, 2.0]])
    >>> float(cr.grad(lambda a: np.abs(np.linalg.qr(a)[1][0, 0]))(a)[1, 0])  # |R_00| = ||a[:, 0]||
    0.8
    """
    a = asarray(a)
    from ..ops import decompositions as _decompositions
    dims = shape(a)
    if len(dims) < 2:
        raise LinAlgError(f"qr: the input must have at least 2 dimensions, got shape {dims}")
    if mode not in ("reduced", "complete", "r"):
        raise NotImplementedError(f"qr: mode={mode!r} is not differentiable; use 'reduced', 'complete' or 'r'")
    if mode == "complete" and dims[-2] > dims[-1]:
        raise NotImplementedError(f"qr: mode='complete' of a traced {dims[-2]}x{dims[-1]} matrix is not "
                                  f"differentiable (the completed columns of Q are not unique); pass "
                                  f"mode='reduced'")
    q, r = _decompositions.qr(a)
    return r if mode == "r" else (q, r)


@numpy_when_untraced(_np.linalg.matrix_power)
def matrix_power(a, n):
    """``numpy.linalg.matrix_power`` for integer ``n`` (negative powers invert first).

    >>> import chainrule as cr, chainrule.numpy as np
    >>> A = np.array([[1.0, 2.0], [3.0, 4.0]])
    >>> np.linalg.matrix_power(A, 2)
    array([[ 7., 10.],
           [15., 22.]])
    >>> cr.grad(lambda A: np.trace(np.linalg.matrix_power(A, 2)))(A)  # 2 A^T
    array([[2., 6.],
           [4., 8.]])
    """
    a = asarray(a)
    from .products import matmul
    _require_square(a, "matrix_power")
    if n < 0:
        a, n = inv(a), -n
    result = None
    power = a
    while n:
        if n & 1:
            result = power if result is None else matmul(result, power)
        n >>= 1
        if n:
            power = matmul(power, power)
    return result if result is not None else _np.broadcast_to(_np.eye(shape(a)[-1], dtype=a.dtype), shape(a)).copy()


@numpy_when_untraced(_np.linalg.multi_dot)
def multi_dot(arrays):
    """``numpy.linalg.multi_dot`` (left to right).

    >>> import chainrule as cr, chainrule.numpy as np
    >>> a, B, c = np.array([1.0, 2.0]), np.array([[1.0, 0.0], [0.0, 2.0]]), np.array([3.0, 4.0])
    >>> float(np.linalg.multi_dot([a, B, c]))
    19.0
    >>> cr.grad(lambda B: np.linalg.multi_dot([a, B, c]))(B)  # outer(a, c)
    array([[3., 4.],
           [6., 8.]])
    """
    from .products import dot
    result = arrays[0]
    for a in arrays[1:]:
        result = dot(result, a)
    return result


def _safe_sqrt(s):
    # sqrt with derivative 0 at 0 (the subgradient of a norm at the origin), and no NaN at any order.
    at_zero = _cmp.eq(s, 0)
    return _cmp.select(at_zero, 0.0, _el.sqrt(_cmp.select(at_zero, 1.0, s)))


@numpy_when_untraced(_np.linalg.norm)
def norm(x, ord=None, axis=None, keepdims=False):
    """``numpy.linalg.norm`` for vector orders (None, 2, 1, inf, -inf, 0, p) and matrix orders
    (None/'fro', 1, -1, inf, -inf). Convention: the derivative of a 2-norm at 0 is 0.

    >>> import chainrule as cr, chainrule.numpy as np
    >>> cr.grad(np.linalg.norm)(np.array([3.0, 4.0]))
    array([0.6, 0.8])
    """
    x = asarray(x)
    dims = shape(x)
    if axis is None:
        if ord is None or (ord == "fro" and len(dims) == 2):
            return _norm_keep(_safe_sqrt(_sum(squared_magnitude(x))), dims, None, keepdims)
        if len(dims) == 1:
            axis = (0,)
        elif len(dims) == 2:
            axis = (0, 1)
        else:
            raise ValueError("Improper number of dimensions to norm.")
    axes = (axis,) if isinstance(axis, int) else tuple(axis)
    axes = tuple(a % len(dims) for a in axes)
    if len(axes) == 1:
        return _vector_norm(x, ord, axes[0], keepdims)
    if len(axes) == 2:
        return _matrix_norm(x, ord, axes, keepdims)
    raise ValueError("Improper number of dimensions to norm.")


def _norm_keep(value, dims, axes, keepdims):
    if not keepdims:
        return value
    axes = tuple(range(len(dims))) if axes is None else axes
    return reshape(value, tuple(1 if i in axes else d for i, d in enumerate(dims)))


def _vector_norm(x, ord, axis, keepdims):
    magnitude = _el.absolute(x)
    if ord is None or ord == 2:
        return _safe_sqrt(_sum(squared_magnitude(x), axis=axis, keepdims=keepdims))
    if ord == _np.inf:
        return _max(magnitude, axis=axis, keepdims=keepdims)
    if ord == -_np.inf:
        return _min(magnitude, axis=axis, keepdims=keepdims)
    if ord == 0:
        from .arrays import astype
        return _sum(astype(_cmp.ne(x, 0), x.dtype), axis=axis, keepdims=keepdims)
    if ord == 1:
        return _sum(magnitude, axis=axis, keepdims=keepdims)
    if isinstance(ord, str):
        raise ValueError(f"Invalid norm order '{ord}' for vectors")
    return _ar.power(_sum(_ar.power(magnitude, float(ord)), axis=axis, keepdims=keepdims), 1.0 / ord)


def _matrix_norm(x, ord, axes, keepdims):
    row_axis, col_axis = axes
    magnitude = _el.absolute(x)
    if ord is None or ord == "fro":
        return _safe_sqrt(_sum(squared_magnitude(x), axis=axes, keepdims=keepdims))
    if ord in (1, -1):
        sums = _sum(magnitude, axis=row_axis, keepdims=True)
        reduce = _max if ord == 1 else _min
        out = reduce(sums, axis=col_axis, keepdims=True)
    elif ord in (_np.inf, -_np.inf):
        sums = _sum(magnitude, axis=col_axis, keepdims=True)
        reduce = _max if ord == _np.inf else _min
        out = reduce(sums, axis=row_axis, keepdims=True)
    elif ord in (2, -2, "nuc"):
        from .shaping import moveaxis
        singular = svd(moveaxis(x, (row_axis, col_axis), (-2, -1)), compute_uv=False)
        out = _max(singular, axis=-1) if ord == 2 else _min(singular, axis=-1) if ord == -2 else _sum(singular, axis=-1)
        if keepdims:
            out = reshape(out, tuple(1 if i in axes else d for i, d in enumerate(shape(x))))
        return out
    else:
        raise ValueError(f"norm: invalid matrix order {ord!r}; use None, 'fro', 'nuc', 1, -1, 2, -2, inf or -inf")
    if keepdims:
        return out
    return reshape(out, tuple(d for i, d in enumerate(shape(out)) if i not in axes))




@numpy_when_untraced(_np.linalg.svd)
def svd(a, full_matrices=True, compute_uv=True, hermitian=False):
    """``numpy.linalg.svd`` of real or complex matrices: (U, S, Vh), or S with ``compute_uv=False``. Traced
    non-square input needs ``full_matrices=False`` (the completed bases are not unique). Caveat: singular vectors
    are not differentiable where singular values repeat (their derivative contains 1 / (s_j^2 - s_i^2)), nor for
    a non-square matrix at a zero singular value; singular values alone are differentiable wherever they are
    distinct and nonzero. Complex input: each pair (u_k, v_k) is unique only up to a common phase, so traced
    input returns the pair whose v_k has its first largest component real and positive (NumPy's phases may
    differ; U diag(S) Vh is the same), and derivatives follow JAX's convention: for real f, grad = df/dx - i df/dy.
    Quantities that do not depend on the phases (S, |U|, U diag(S) Vh) have the same derivatives as in JAX.

    >>> import chainrule as cr, chainrule.numpy as np
    >>> cr.grad(lambda a: np.sum(np.linalg.svd(a, compute_uv=False)))(np.array([[3.0, 0.0], [0.0, -2.0]]))
    array([[ 1.,  0.],
           [ 0., -1.]])
    """
    a = asarray(a)
    from ..ops import decompositions as _decompositions
    dims = shape(a)
    if len(dims) < 2:
        raise LinAlgError(f"svd: the input must have at least 2 dimensions, got shape {dims}")
    s, u, vt = _decompositions.svd(a)
    if not compute_uv:
        return s
    if full_matrices and dims[-1] != dims[-2]:
        raise NotImplementedError(f"svd: full_matrices=True of a traced {dims[-2]}x{dims[-1]} matrix is not "
                                  f"differentiable (the completed bases are not unique); pass full_matrices=False")
    return u, s, vt


def svdvals(x):
    """``numpy.linalg.svdvals``: the singular values (see ``svd`` for where they are differentiable).

    >>> import chainrule.numpy as np
    >>> np.linalg.svdvals(np.array([[3.0, 0.0], [0.0, -2.0]]))
    array([3., 2.])
    """
    return svd(x, compute_uv=False)


def _cutoff_reciprocal(s, rcond):
    largest = _max(s, axis=-1, keepdims=True)
    keep = _cmp.gt(s, _ar.mul(largest, rcond))
    return _cmp.select(keep, _ar.div(1.0, _cmp.select(keep, s, 1.0)), 0.0)


def _pinv_plain(a, rcond=None, hermitian=False):
    return _np.linalg.pinv(a, rcond=1e-15 if rcond is None else rcond, hermitian=hermitian)


@numpy_when_untraced(_pinv_plain)
def pinv(a, rcond=None, hermitian=False):
    """``numpy.linalg.pinv`` through the SVD, V diag(1/s) U^H with singular values below ``rcond * max(s)``
    dropped; real or complex; differentiable where the rank is constant (see ``svd``).

    >>> import chainrule as cr, chainrule.numpy as np
    >>> np.linalg.pinv(np.array([[2.0, 0.0], [0.0, 0.0]]))
    array([[0.5, 0. ],
           [0. , 0. ]])
    """
    from .products import matmul
    rcond = 1e-15 if rcond is None else rcond
    u, s, vt = svd(a, full_matrices=False)
    scaled = _ar.mul(_la.adjoint(vt), reshape(_cutoff_reciprocal(s, rcond), shape(s)[:-1] + (1, -1)))
    return matmul(scaled, _la.adjoint(u))


def _known_value(x):
    """The value of ``x`` as a NumPy array, or None where it is not known while tracing (jit, vmap)."""
    if not is_traced(x):
        return _np.asarray(x)
    try:
        return _np.asarray(x.concrete_value())
    except ChainruleError:
        return None


@numpy_when_untraced(_np.linalg.lstsq)
def lstsq(a, b, rcond=None):
    """``numpy.linalg.lstsq``: (x, residuals, rank, s), x = pinv(a) b, real or complex; differentiable in ``a``
    and ``b`` where the rank is constant. ``rank`` has no derivative. Caveat: under ``jit`` and ``vmap`` the
    rank is not known while tracing, so ``rank`` is an integer array and ``residuals`` (the squared residual
    norms) are returned whenever a has more rows than columns, where NumPy returns an empty array for a
    rank-deficient ``a``.

    >>> import chainrule.numpy as np
    >>> np.linalg.lstsq(np.array([[1.0, 0.0], [1.0, 1.0], [1.0, 2.0]]), np.array([1.0, 2.0, 3.0]))[0].round(12)
    array([1., 1.])
    """
    from .products import matmul
    a, b = asarray(a), asarray(b)
    if ndim(a) != 2 or ndim(b) not in (1, 2):
        raise LinAlgError(f"lstsq: a must be a matrix and b a vector or matrix, got shapes {shape(a)} and "
                          f"{shape(b)}; map over stacks with chainrule.vmap")
    m, n = shape(a)
    if shape(b)[0] != m:
        raise LinAlgError(f"lstsq: a has shape {shape(a)} but b has shape {shape(b)}; their first dimensions "
                          f"must agree")
    rcond = _np.finfo(_np.float64).eps * max(m, n) if rcond is None else rcond
    s = svd(a, compute_uv=False)
    x = matmul(pinv(a, rcond=rcond), b)
    rank = _sum(_cmp.gt(s, _ar.mul(_max(s), rcond)))
    known_rank = _known_value(rank)
    if known_rank is not None:
        rank = int(known_rank)
    if m > n and (known_rank is None or rank == n):
        residuals = _sum(squared_magnitude(_ar.sub(b, matmul(a, x))), axis=0)
        if ndim(b) == 1:
            residuals = reshape(residuals, (1,))
    else:
        real = _np.finfo(_np.result_type(a.dtype, b.dtype, _np.float32)).dtype
        residuals = _np.empty((0,), dtype=real)
    return x, residuals, rank, s


@numpy_when_untraced(_np.linalg.matrix_rank)
def matrix_rank(A, tol=None, hermitian=False, *, rtol=None):
    """``numpy.linalg.matrix_rank``: the number of singular values above ``tol`` (an integer: no derivative);
    batches under ``vmap`` and stages under ``jit``.

    >>> import chainrule.numpy as np
    >>> int(np.linalg.matrix_rank(np.array([[1.0, 2.0], [2.0, 4.0]])))
    1
    """
    A = asarray(A)
    if ndim(A) < 2:  # NumPy's rule for a scalar or vector: rank 1 unless every entry is zero
        from .arrays import astype
        return astype(_cmp.gt(_sum(_cmp.ne(A, 0)), 0), _np.int64)
    if hermitian:
        singular = _el.absolute(eigvalsh(A))
    else:
        singular = svd(A, compute_uv=False)
    if tol is None:
        relative = rtol if rtol is not None else max(shape(A)[-2:]) * _np.finfo(singular.dtype).eps
        tol = _ar.mul(_max(singular, axis=-1, keepdims=True), relative)
    else:
        tol = reshape(asarray(tol), shape(tol) + (1,))
    return _sum(_cmp.gt(singular, tol), axis=-1)


@numpy_when_untraced(_np.linalg.tensorsolve)
def tensorsolve(a, b, axes=None):
    """``numpy.linalg.tensorsolve``: solve tensordot(a, x, x.ndim) = b by reshaping to a square system.

    >>> import chainrule.numpy as np
    >>> np.linalg.tensorsolve(np.eye(4).reshape(2, 2, 2, 2), np.ones((2, 2))).shape
    (2, 2)
    """
    from .shaping import moveaxis
    a, b = asarray(a), asarray(b)
    if axes is not None:
        a = moveaxis(a, axes, tuple(range(ndim(a) - len(axes), ndim(a))))
    solution_shape = shape(a)[ndim(b):]
    size = int(_np.prod(solution_shape, dtype=_np.int64))
    if int(_np.prod(shape(b), dtype=_np.int64)) != size:
        raise LinAlgError(f"tensorsolve: a of shape {shape(a)} does not give a square system for b of shape "
                          f"{shape(b)}")
    return reshape(solve(reshape(a, (size, size)), reshape(b, (size,))), solution_shape)


@numpy_when_untraced(_np.linalg.tensorinv)
def tensorinv(a, ind=2):
    """``numpy.linalg.tensorinv``: the inverse with respect to tensordot over the first ``ind`` axes.

    >>> import chainrule.numpy as np
    >>> np.linalg.tensorinv(np.eye(4).reshape(4, 2, 2), ind=1).shape
    (2, 2, 4)
    """
    a = asarray(a)
    dims = shape(a)
    leading, trailing = dims[:ind], dims[ind:]
    size = int(_np.prod(leading, dtype=_np.int64))
    if int(_np.prod(trailing, dtype=_np.int64)) != size:
        raise LinAlgError(f"tensorinv: shape {dims} split after axis {ind} is not square")
    return reshape(inv(reshape(a, (size, -1))), trailing + leading)
