"""Sparse Jacobians and Hessians of black-box functions by grouped finite differences: the columns of one
color share no row, so one difference along the sum of their steps gives all of their entries (Curtis,
Powell, Reid); Hessians use star colorings, read from differences of the gradient or of f itself."""
from __future__ import annotations

import numpy as np
import scipy.sparse

from .coloring import coloring, star_places
from .derivative import with_args
from .evaluation import as_point

__all__ = ["sparse_jacobian", "sparse_hessian"]

_METHODS = ("central", "forward")


def _pattern(sparsity, rows, columns, what):
    if scipy.sparse.issparse(sparsity):
        pattern = scipy.sparse.csr_array(sparsity, dtype=bool)
    else:
        array = np.asarray(sparsity)
        if array.ndim != 2:
            raise ValueError(f"{what}: sparsity must be a 2-d boolean matrix, got shape {array.shape}")
        pattern = scipy.sparse.csr_array(array != 0)
    pattern.eliminate_zeros()
    pattern.sort_indices()
    if pattern.shape[1] != columns or (rows is not None and pattern.shape[0] != rows):
        expected = f"({'f(x).size' if rows is None else rows}, {columns})"
        raise ValueError(f"{what}: sparsity has shape {pattern.shape}, but x has {columns} elements: expected "
                         f"{expected}")
    return pattern


def _steps(x, method, step, absolute):
    """One step per coordinate: eps^(1/3) (central) or eps^(1/2) (forward) relative to max(1, |x|), as
    SciPy's ``approx_derivative`` chooses them, rounded so that x + h - x is exactly h."""
    flat = x.ravel()
    real = np.real(flat)
    eps = float(np.finfo(real.dtype).eps)
    if step is None:
        relative = eps ** (1 / 3) if method == "central" else eps ** 0.5
        h = relative * np.maximum(1.0, np.abs(real))
    else:
        h = np.broadcast_to(np.asarray(step, dtype=float), x.shape).ravel()
        if not absolute:
            h = h * np.maximum(1.0, np.abs(real))
    h = h.astype(real.dtype)
    h = (real + h) - real
    if np.any(h == 0):
        raise ValueError(f"the finite-difference step rounds to zero at x{list(np.argwhere(h == 0)[0])}; pass a "
                         f"larger step")
    return h


def _result_dtype(x, value):
    dtype = np.result_type(x.dtype, np.asarray(value).dtype)
    return dtype if dtype.kind in "fc" else np.dtype(np.float64)


def _call(f, point, shape, name):
    value = np.asarray(f(point.reshape(shape)))
    if value.dtype.kind not in "biufc":
        raise TypeError(f"{name} returned an array of dtype {value.dtype}; expected numbers")
    return value


def sparse_jacobian(f, x, sparsity, *, method="central", step=None, absolute=False, order="auto", args=(),
                    kwargs=None, return_colors=False):
    """The Jacobian of ``f`` at ``x`` as a ``scipy.sparse`` CSR matrix of shape ``(f(x).size, x.size)``,
    from one difference per color of the columns of ``sparsity`` (2 calls per color for central
    differences, 1 + colors for forward).

    >>> import numpy as np
    >>> f = lambda x: x[1:] * x[:-1]
    >>> pattern = np.eye(4, 5, dtype=bool) | np.eye(4, 5, k=1, dtype=bool)
    >>> print(np.round(sparse_jacobian(f, np.arange(1.0, 6.0), pattern).toarray(), 8))
    [[2. 1. 0. 0. 0.]
     [0. 3. 2. 0. 0.]
     [0. 0. 4. 3. 0.]
     [0. 0. 0. 5. 4.]]
    """
    if method not in _METHODS:
        raise ValueError(f"jacobian(sparsity=...): method must be 'central' or 'forward', got {method!r}")
    x = as_point(x)
    function = with_args(f, args, kwargs)
    pattern = _pattern(sparsity, None, x.size, "jacobian")
    colors = coloring(pattern, "column", order)
    h = _steps(x, method, step, absolute)
    flat = x.ravel()
    center = _call(function, flat, x.shape, "f") if method == "forward" else None
    rows, columns = pattern.nonzero()
    compressed = None
    for color in range(int(colors.max(initial=-1)) + 1):
        direction = np.where(colors == color, h, 0).astype(flat.dtype)
        ahead = _call(function, flat + direction, x.shape, "f").ravel()
        if method == "central":
            difference = ahead - _call(function, flat - direction, x.shape, "f").ravel()
        else:
            difference = ahead - center.ravel()
        if difference.size != pattern.shape[0]:
            raise ValueError(f"jacobian: f returned {difference.size} values, but sparsity has "
                             f"{pattern.shape[0]} rows")
        if compressed is None:
            compressed = np.empty((int(colors.max()) + 1, difference.size), dtype=_result_dtype(x, difference))
        compressed[color] = difference
    divisor = (2 if method == "central" else 1) * h[columns]
    values = compressed[colors[columns], rows] / divisor if compressed is not None else np.zeros(0, x.dtype)
    jacobian = scipy.sparse.csr_array((values, (rows, columns)), shape=pattern.shape)
    return (jacobian, colors) if return_colors else jacobian


def sparse_hessian(f, x, sparsity, *, grad=None, method="central", step=None, absolute=False, order="auto",
                   args=(), kwargs=None, return_colors=False):
    """The Hessian of the scalar ``f`` at ``x`` as a symmetric ``scipy.sparse`` CSR matrix, from a star
    coloring of ``sparsity``: each entry is read from one difference, directly (no substitution).

    With ``grad``: 2 gradient calls per color (central; 1 + colors forward), along the sum of one color's
    steps. Without: ``e_i^T H d_c`` for each coordinate i and each color c its row needs, from four
    values of f at ``x ± h_i e_i ± d_c`` (about 4 n colors calls, against 2 n^2 for the dense Hessian).

    >>> import numpy as np
    >>> f = lambda x: np.sum(x[1:] ** 2 * x[:-1])
    >>> pattern = np.eye(3, dtype=bool) | np.eye(3, k=1, dtype=bool) | np.eye(3, k=-1, dtype=bool)
    >>> print(np.round(sparse_hessian(f, np.array([1.0, 2.0, 3.0]), pattern).toarray(), 5))
    [[0. 4. 0.]
     [4. 2. 6.]
     [0. 6. 4.]]
    """
    if method not in _METHODS:
        raise ValueError(f"hessian(sparsity=...): method must be 'central' or 'forward', got {method!r}")
    x = as_point(x)
    if x.dtype.kind == "c":
        raise TypeError(f"hessian: x has complex dtype {x.dtype} (shape {x.shape}); second derivatives are taken "
                        f"over real x: differentiate the real and imaginary parts as separate real inputs")
    pattern = _pattern(sparsity, x.size, x.size, "hessian")
    pattern = (pattern + pattern.T).tocsr()
    pattern.setdiag(True)  # the diagonal is always read: a missing one would only be left out
    pattern.sort_indices()
    colors = coloring(pattern, "star", order)
    rows, columns = pattern.nonzero()
    lane, position = star_places(rows.astype(np.int64), columns.astype(np.int64), colors)
    if grad is not None:
        compressed, h = _gradient_differences(with_args(grad, args, kwargs), x, colors, method, step, absolute)
        values = compressed[lane, position] / h[columns_of(lane, position, rows, columns)]
    else:
        values = _function_differences(with_args(f, args, kwargs), x, colors, pattern, lane, position, rows,
                                       columns, method, step, absolute)
    hessian = scipy.sparse.csr_array((values, (rows, columns)), shape=pattern.shape)
    # an entry and its mirror may come from different differences: average them, as the dense fd.hessian does
    hessian = ((hessian + hessian.T) / 2).astype(values.dtype).tocsr()
    hessian.sort_indices()
    return (hessian, colors) if return_colors else hessian


def columns_of(lane, position, rows, columns):
    """The coordinate whose step scaled the compressed value an entry is read from: the entry's column when
    it is read from its own row, else its row."""
    return np.where(position == rows, columns, rows)


def _gradient_differences(grad, x, colors, method, step, absolute):
    h = _steps(x, method, step, absolute)
    flat = x.ravel()
    count = int(colors.max(initial=-1)) + 1
    center = _call(grad, flat, x.shape, "grad").ravel() if method == "forward" else None
    compressed = np.empty((count, flat.size), dtype=x.dtype)
    for color in range(count):
        direction = np.where(colors == color, h, 0).astype(flat.dtype)
        ahead = _call(grad, flat + direction, x.shape, "grad").ravel()
        if ahead.size != flat.size:
            raise ValueError(f"hessian: grad must return x's size {flat.size}, got {ahead.size} values")
        if method == "central":
            compressed[color] = (ahead - _call(grad, flat - direction, x.shape, "grad").ravel()) / 2
        else:
            compressed[color] = ahead - center
    return compressed, h


def _function_differences(f, x, colors, pattern, lane, position, rows, columns, method, step, absolute):
    """e_i^T H d_c = [f(x+u+v) - f(x+u-v) - f(x-u+v) + f(x-u-v)] / 4 with u = h_i e_i, v = d_c, for the
    (coordinate, color) pairs the entries are read from (central steps: the mixed difference's error is
    O(h^2), so eps^(1/4) balances it with rounding)."""
    eps = float(np.finfo(x.dtype).eps)
    h = _steps(x, "forward", eps ** 0.25 if step is None else step, absolute if step is not None else False)
    flat = x.ravel()
    needed = np.unique(np.stack([lane, position], axis=1), axis=0)  # (color, coordinate) pairs
    value = {}
    for color, coordinate in needed.tolist():
        v = np.where(colors == color, h, 0).astype(flat.dtype)
        u = np.zeros_like(flat)
        u[coordinate] = h[coordinate]
        total = 0.0
        for sign_u, sign_v, weight in ((1, 1, 1), (1, -1, -1), (-1, 1, -1), (-1, -1, 1)):
            point = flat + sign_u * u + sign_v * v
            out = _call(f, point, x.shape, "f")
            if out.size != 1:
                raise ValueError(f"hessian needs a scalar f, but f returned shape {out.shape}")
            total += weight * float(out.ravel()[0])
        value[(color, coordinate)] = total / 4
    dtype = np.result_type(x.dtype, np.float32)
    scaled = np.array([value[(c, i)] for c, i in zip(lane.tolist(), position.tolist())], dtype=np.float64)
    divisor = h[position].astype(np.float64) * h[columns_of(lane, position, rows, columns)].astype(np.float64)
    return (scaled / divisor).astype(dtype)
