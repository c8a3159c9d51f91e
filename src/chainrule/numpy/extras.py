"""The rest of NumPy's differentiable surface, as composites of the front: nan-reductions, differences and
integrals, interpolation, convolution, polynomials, statistics (cov, median, quantile) and counting helpers."""
import numpy as _np

from ..ops import control as _control
from . import elementwise as _el, reductions as _red, shaping as _sh
from .arrays import (asarray, astype, is_traced, normalize_axes, numpy_when_untraced, result_type, shape, ndim,
                     zeros)
from .products import matmul


def _finite_or(a, fill):
    return _el.where(_el.isnan(a), fill, a)


def _real_dtype(a):
    """The real floating dtype that counts and weights of ``a`` take: float32 for float32 and complex64 (so they
    do not promote the result), float64 for everything else."""
    dtype = asarray(a).dtype
    return _np.finfo(dtype).dtype if dtype.kind in "fc" else _np.dtype(_np.float64)


# --------------------------------------------------------------------------- nan-reductions

# NumPy's nan-reductions take ``dtype`` and ``out`` before ``ddof``/``keepdims``: these keep the front's order.

def _nansum_plain(a, axis=None, keepdims=False):
    return _np.nansum(a, axis=axis, keepdims=keepdims)


def _nanprod_plain(a, axis=None, keepdims=False):
    return _np.nanprod(a, axis=axis, keepdims=keepdims)


def _nanmean_plain(a, axis=None, keepdims=False):
    return _np.nanmean(a, axis=axis, keepdims=keepdims)


def _nanvar_plain(a, axis=None, ddof=0, keepdims=False):
    return _np.nanvar(a, axis=axis, ddof=ddof, keepdims=keepdims)


def _nanstd_plain(a, axis=None, ddof=0, keepdims=False):
    return _np.nanstd(a, axis=axis, ddof=ddof, keepdims=keepdims)


def _nanmax_plain(a, axis=None, keepdims=False):
    return _np.nanmax(a, axis=axis, keepdims=keepdims)


def _nanmin_plain(a, axis=None, keepdims=False):
    return _np.nanmin(a, axis=axis, keepdims=keepdims)


@numpy_when_untraced(_nansum_plain)
def nansum(a, axis=None, keepdims=False):
    """``numpy.nansum``: NaNs count as 0 and receive derivative 0.

    >>> import chainrule as cr, numpy
    >>> cr.grad(nansum)(numpy.array([1.0, numpy.nan, 2.0]))
    array([1., 0., 1.])
    """
    return _red.sum(_finite_or(a, 0.0), axis=axis, keepdims=keepdims)


@numpy_when_untraced(_nanprod_plain)
def nanprod(a, axis=None, keepdims=False):
    """``numpy.nanprod``: NaNs count as 1.

    >>> float(nanprod(asarray([2.0, float('nan'), 3.0])))
    6.0
    """
    return _red.prod(_finite_or(a, 1.0), axis=axis, keepdims=keepdims)


def _nan_count(a, axis, keepdims):
    return _red.sum(astype(_el.logical_not(_el.isnan(a)), _real_dtype(a)), axis=axis, keepdims=keepdims)


@numpy_when_untraced(_nanmean_plain)
def nanmean(a, axis=None, keepdims=False):
    """``numpy.nanmean``.

    >>> import chainrule as cr, numpy
    >>> cr.grad(nanmean)(numpy.array([1.0, numpy.nan, 3.0]))
    array([0.5, 0. , 0.5])
    """
    return _el.divide(nansum(a, axis=axis, keepdims=keepdims), _nan_count(a, axis, keepdims))


@numpy_when_untraced(_nanvar_plain)
def nanvar(a, axis=None, ddof=0, keepdims=False):
    """``numpy.nanvar`` with ``ddof``.

    >>> float(nanvar(asarray([1.0, float('nan'), 3.0])))
    1.0
    """
    centered = _finite_or(_el.subtract(a, nanmean(a, axis=axis, keepdims=True)), 0.0)
    return _el.divide(_red.sum(_red.squared_magnitude(centered), axis=axis, keepdims=keepdims),
                      _el.subtract(_nan_count(a, axis, keepdims), float(ddof)))


@numpy_when_untraced(_nanstd_plain)
def nanstd(a, axis=None, ddof=0, keepdims=False):
    """``numpy.nanstd``.

    >>> float(nanstd(asarray([1.0, float('nan'), 3.0])))
    1.0
    """
    return _el.sqrt(nanvar(a, axis=axis, ddof=ddof, keepdims=keepdims))


@numpy_when_untraced(_nanmax_plain)
def nanmax(a, axis=None, keepdims=False):
    """``numpy.nanmax`` (ties share the derivative equally).

    >>> import chainrule as cr, numpy
    >>> cr.grad(nanmax)(numpy.array([1.0, numpy.nan, 3.0]))
    array([0., 0., 1.])
    """
    return _red.max(_finite_or(a, -_np.inf), axis=axis, keepdims=keepdims)


@numpy_when_untraced(_nanmin_plain)
def nanmin(a, axis=None, keepdims=False):
    """``numpy.nanmin``.

    >>> float(nanmin(asarray([1.0, float('nan'), 3.0])))
    1.0
    """
    return _red.min(_finite_or(a, _np.inf), axis=axis, keepdims=keepdims)


@numpy_when_untraced(_np.nancumsum)
def nancumsum(a, axis=None):
    """``numpy.nancumsum``.

    >>> nancumsum(asarray([1.0, float('nan'), 3.0]))
    array([1., 1., 4.])
    """
    return _red.cumsum(_finite_or(a, 0.0), axis=axis)


@numpy_when_untraced(_np.nancumprod)
def nancumprod(a, axis=None):
    """``numpy.nancumprod``.

    >>> nancumprod(asarray([2.0, float('nan'), 3.0]))
    array([2., 2., 6.])
    """
    return _red.cumprod(_finite_or(a, 1.0), axis=axis)


@numpy_when_untraced(_np.nan_to_num)
def nan_to_num(x, copy=True, nan=0.0, posinf=None, neginf=None):
    """``numpy.nan_to_num``: replaced entries get derivative 0.

    >>> nan_to_num(asarray([float('nan'), float('inf'), 1.0]), posinf=9.0)
    array([0., 9., 1.])
    """
    big = _np.finfo(_np.result_type(x.dtype, _np.float32)).max
    x = _el.where(_el.isnan(x), nan, x)
    x = _el.where(_el.equal(x, _np.inf), big if posinf is None else posinf, x)
    return _el.where(_el.equal(x, -_np.inf), -big if neginf is None else neginf, x)


# --------------------------------------------------------------------------- differences and integrals

def _slice(a, axis, start, stop):
    index = [slice(None)] * ndim(a)
    index[axis] = slice(start, stop)
    return a[tuple(index)]


def _diff_plain(a, n=1, axis=-1, prepend=None, append=None):
    extra = {name: value for name, value in (("prepend", prepend), ("append", append)) if value is not None}
    return _np.diff(a, n=n, axis=axis, **extra)  # None means none here; NumPy would prepend or append it


@numpy_when_untraced(_diff_plain)
def diff(a, n=1, axis=-1, prepend=None, append=None):
    """``numpy.diff``: n-th discrete difference along ``axis``.

    >>> diff(asarray([1.0, 4.0, 9.0]))
    array([3., 5.])
    """
    a = asarray(a)
    axis = normalize_axes(axis, ndim(a))[0]
    pieces = [a]
    for extra, where in ((prepend, 0), (append, 1)):
        if extra is not None:
            extra = asarray(extra)
            if ndim(extra) == 0:
                extra = _sh.broadcast_to(extra, tuple(1 if i == axis else d for i, d in enumerate(shape(a))))
            pieces.insert(0 if where == 0 else len(pieces), extra)
    a = _sh.concatenate(pieces, axis=axis) if len(pieces) > 1 else a
    for _ in range(n):
        a = _el.subtract(_slice(a, axis, 1, None), _slice(a, axis, None, -1))
    return a


@numpy_when_untraced(_np.ediff1d)
def ediff1d(ary, to_end=None, to_begin=None):
    """``numpy.ediff1d``: differences of the flattened array.

    >>> ediff1d(asarray([1.0, 4.0, 9.0]), to_begin=[0.0])
    array([0., 3., 5.])
    """
    differences = diff(_sh.ravel(ary))
    pieces = [_sh.ravel(asarray(to_begin))] if to_begin is not None else []
    pieces.append(differences)
    if to_end is not None:
        pieces.append(_sh.ravel(asarray(to_end)))
    return _sh.concatenate(pieces) if len(pieces) > 1 else differences


@numpy_when_untraced(_np.gradient)
def gradient(f, *varargs, axis=None, edge_order=1):
    """``numpy.gradient`` with uniform spacings (scalars): second-order central differences inside,
    one-sided differences of order ``edge_order`` (1 or 2) at the edges.

    >>> gradient(asarray([1.0, 4.0, 9.0, 16.0]))
    array([3., 4., 6., 7.])
    """
    f = asarray(f)
    axes = normalize_axes(axis, ndim(f))
    spacings = list(varargs) or [1.0]
    if len(spacings) == 1:
        spacings = spacings * len(axes)
    if any(_np.ndim(h) for h in spacings) or len(spacings) != len(axes):
        raise NotImplementedError("gradient of traced values supports one scalar spacing per axis; "
                                  "pass uniform spacings (or use numpy.gradient on plain arrays)")
    results = []
    for ax, h in zip(axes, spacings):
        if shape(f)[ax] < edge_order + 1:
            raise ValueError(f"gradient: axis {ax} has {shape(f)[ax]} points; edge_order={edge_order} needs "
                             f"at least {edge_order + 1}")
        inner = _el.divide(_el.subtract(_slice(f, ax, 2, None), _slice(f, ax, None, -2)), 2.0 * h)
        if edge_order == 1:
            first = _el.divide(_el.subtract(_slice(f, ax, 1, 2), _slice(f, ax, 0, 1)), h)
            last = _el.divide(_el.subtract(_slice(f, ax, -1, None), _slice(f, ax, -2, -1)), h)
        else:
            first = _el.divide(-1.5 * _slice(f, ax, 0, 1) + 2.0 * _slice(f, ax, 1, 2) - 0.5 * _slice(f, ax, 2, 3), h)
            last = _el.divide(0.5 * _slice(f, ax, -3, -2) - 2.0 * _slice(f, ax, -2, -1) + 1.5 * _slice(f, ax, -1, None),
                              h)
        results.append(_sh.concatenate([first, inner, last], axis=ax))
    return results[0] if len(results) == 1 else tuple(results)


@numpy_when_untraced(_np.trapezoid)
def trapezoid(y, x=None, dx=1.0, axis=-1):
    """``numpy.trapezoid``: the trapezoidal rule along ``axis``, differentiable in ``y`` and ``x``.

    >>> float(trapezoid(asarray([0.0, 1.0, 4.0]), asarray([0.0, 1.0, 2.0])))
    3.0
    """
    y = asarray(y)
    axis = normalize_axes(axis, ndim(y))[0]
    widths = dx if x is None else diff(asarray(x), axis=axis if ndim(x) > 1 else -1)
    if x is not None and ndim(x) == 1 and ndim(y) > 1:
        widths = _sh.reshape(widths, tuple(-1 if i == axis else 1 for i in range(ndim(y))))
    heights = _el.add(_slice(y, axis, 1, None), _slice(y, axis, None, -1))
    return _red.sum(_el.multiply(widths, heights), axis=axis) * 0.5


def cumulative_sum(x, axis=None, dtype=None, include_initial=False):
    """``numpy.cumulative_sum`` (NumPy 2.1): like cumsum, optionally starting with 0.

    >>> cumulative_sum(asarray([1.0, 2.0, 3.0]), include_initial=True)
    array([0., 1., 3., 6.])
    """
    if ndim(x) > 1 and axis is None:
        raise ValueError("cumulative_sum: axis must be given for arrays with more than one dimension")
    axis = 0 if axis is None else normalize_axes(axis, ndim(x))[0]
    out = _red.cumsum(x, axis=axis, dtype=dtype)
    if not include_initial:
        return out
    start = zeros(tuple(1 if i == axis else d for i, d in enumerate(shape(x))), dtype=asarray(out).dtype)
    return _sh.concatenate([start, out], axis=axis)


# --------------------------------------------------------------------------- building and reshaping

@numpy_when_untraced(_np.meshgrid)
def meshgrid(*xi, copy=True, sparse=False, indexing="xy"):
    """``numpy.meshgrid``.

    >>> [g.shape for g in meshgrid(asarray([1.0, 2.0]), asarray([1.0, 2.0, 3.0]))]
    [(3, 2), (3, 2)]
    """
    count = len(xi)
    vectors = [_sh.ravel(asarray(x)) for x in xi]
    views = []
    for i, vector in enumerate(vectors):
        view = [1] * count
        view[i] = -1
        if indexing == "xy" and count > 1 and i < 2:
            view[0], view[1] = view[1], view[0]
        views.append(_sh.reshape(vector, tuple(view)))
    if sparse:
        return views
    target = _np.broadcast_shapes(*(shape(v) for v in views))
    return [_sh.broadcast_to(v, target) for v in views]


@numpy_when_untraced(_np.append)
def append(arr, values, axis=None):
    """``numpy.append``.

    >>> append(asarray([1.0]), [2.0, 3.0])
    array([1., 2., 3.])
    """
    if axis is None:
        return _sh.concatenate([_sh.ravel(asarray(arr)), _sh.ravel(asarray(values))])
    return _sh.concatenate([arr, values], axis=axis)


@numpy_when_untraced(_np.delete)
def delete(arr, obj, axis=None):
    """``numpy.delete`` with an integer, slice or integer-array ``obj``.

    >>> delete(asarray([1.0, 2.0, 3.0]), 1)
    array([1., 3.])
    """
    if axis is None:
        arr, axis = _sh.ravel(arr), 0
    axis = normalize_axes(axis, ndim(arr))[0]
    keep = _np.delete(_np.arange(shape(arr)[axis]), obj)
    return _sh.take(arr, keep, axis=axis)


@numpy_when_untraced(_np.insert)
def insert(arr, obj, values, axis=None):
    """``numpy.insert`` with an integer ``obj`` (values inserted before that position).

    >>> insert(asarray([1.0, 3.0]), 1, 2.0)
    array([1., 2., 3.])
    """
    if not isinstance(obj, (int, _np.integer)):
        raise NotImplementedError("insert of traced values supports an integer position obj; "
                                  "build the result with concatenate for other positions")
    if axis is None:
        arr, axis = _sh.ravel(arr), 0
    axis = normalize_axes(axis, ndim(arr))[0]
    values = asarray(values).astype(result_type(arr))   # NumPy casts the values to arr's dtype
    piece_shape = tuple(1 if i == axis else d for i, d in enumerate(shape(arr)))
    if ndim(values) < ndim(arr):
        values = _sh.broadcast_to(values, piece_shape)
    return _sh.concatenate([_slice(arr, axis, None, obj), values, _slice(arr, axis, obj, None)], axis=axis)


@numpy_when_untraced(_np.block)
def block(arrays):
    """``numpy.block`` for nested lists of arrays (the innermost lists join along the last axis).

    >>> block([[asarray([[1.0]]), asarray([[2.0]])]]).shape
    (1, 2)
    """
    def depth(value):
        return 1 + depth(value[0]) if isinstance(value, list) else 0

    levels = depth(arrays)

    def join(value, level):
        if not isinstance(value, list):
            value = asarray(value)
            return _sh.reshape(value, (1,) * (levels - ndim(value)) + shape(value)) if ndim(value) < levels else value
        return _sh.concatenate([join(v, level + 1) for v in value], axis=level - levels)

    return join(arrays, 0)


@numpy_when_untraced(_np.vander)
def vander(x, N=None, increasing=False):
    """``numpy.vander``.

    >>> vander(asarray([2.0, 3.0]), 3)
    array([[4., 2., 1.],
           [9., 3., 1.]])
    """
    x = asarray(x)
    N = shape(x)[0] if N is None else N
    # NumPy's dtype: x's promoted with int (float32 gives float64, integers stay integers).
    dtype = _np.promote_types(x.dtype, _np.int64)
    x = asarray(x, dtype=dtype)
    powers = _np.arange(N, dtype=_real_dtype(x) if dtype.kind in "fc" else dtype)
    powers = powers if increasing else powers[::-1]
    return _el.power(_sh.reshape(x, (-1, 1)), powers)


# --------------------------------------------------------------------------- polynomials, convolution, interpolation

@numpy_when_untraced(_np.polyval)
def polyval(p, x):
    """``numpy.polyval`` by Horner's rule, differentiable in the coefficients and in ``x``.

    >>> import chainrule as cr
    >>> float(cr.grad(polyval, argnums=1)([1.0, 0.0, 0.0], 3.0))
    6.0
    """
    p = asarray(p)
    result = asarray(x) * 0.0 if is_traced(x) else _np.zeros_like(x)  # NumPy's start: x's dtype
    for k in range(shape(p)[0]):
        result = _el.add(_el.multiply(result, x), p[k])
    return result


@numpy_when_untraced(_np.polyfit)
def polyfit(x, y, deg):
    """``numpy.polyfit`` (least squares, no weights), differentiable in ``x`` and ``y``.

    >>> polyfit(asarray([0.0, 1.0, 2.0]), asarray([1.0, 3.0, 5.0]), 1).round(12)
    array([2., 1.])
    """
    from .linalg import lstsq
    return lstsq(vander(x, deg + 1), y)[0]


def _full_convolution(a, v):
    """Full discrete convolution of two 1-d arrays, as a Toeplitz matrix of ``v`` times ``a``."""
    n, m = shape(a)[0], shape(v)[0]
    rows = _np.arange(n + m - 1)[:, None] - _np.arange(n)[None, :]
    valid = (rows >= 0) & (rows < m)
    v = asarray(v)
    padded = _sh.concatenate([v, zeros((1,), dtype=v.dtype)])
    toeplitz = _sh.take(padded, _np.where(valid, rows, m))
    return matmul(toeplitz, asarray(a))


def _mode_slice(full, n, m, mode):
    if mode == "full":
        return full
    if mode == "same":
        length = max(n, m)
        start = (min(n, m) - 1) // 2
        return full[start:start + length]
    if mode == "valid":
        return full[min(n, m) - 1:max(n, m)]
    raise ValueError(f"convolve: mode must be 'full', 'same' or 'valid', got {mode!r}")


@numpy_when_untraced(_np.convolve)
def convolve(a, v, mode="full"):
    """``numpy.convolve`` of 1-d arrays, differentiable in both.

    >>> convolve(asarray([1.0, 2.0]), asarray([1.0, 1.0]))
    array([1., 3., 2.])
    """
    n, m = shape(a)[0], shape(v)[0]
    if n == 0 or m == 0:
        raise ValueError("convolve: a and v must be non-empty")
    return _mode_slice(_full_convolution(a, v), n, m, mode)


@numpy_when_untraced(_np.correlate)
def correlate(a, v, mode="valid"):
    """``numpy.correlate`` of 1-d arrays: ``c[k] = sum_n a[n + k] conj(v[n])`` (NumPy conjugates ``v``),
    differentiable in both.

    >>> correlate(asarray([1.0, 2.0, 3.0]), asarray([0.0, 1.0]))
    array([2., 3.])
    >>> correlate(asarray([1.0, 2.0]), asarray([1j]))  # v is conjugated
    array([0.-1.j, 0.-2.j])
    """
    v = asarray(v)
    if v.dtype.kind == "c":
        v = _el.conjugate(v)
    return _sliding_products(asarray(a), v, mode)


def _sliding_products(a, v, mode):
    """``sum_n a[n + k] v[n]`` for the lags ``k`` that ``mode`` keeps (correlation without the conjugate)."""
    n, m = shape(a)[0], shape(v)[0]
    if m > n:
        # NumPy swaps the operands (and reverses the result) when v is the longer one.
        return _sh.flip(_sliding_products(v, a, mode), 0)
    return _mode_slice(_full_convolution(a, _sh.flip(v, 0)), n, m, mode)


@numpy_when_untraced(_np.interp)
def interp(x, xp, fp, left=None, right=None):
    """``numpy.interp`` (increasing ``xp``), differentiable in ``x``, ``xp`` and ``fp``. At a knot the
    derivative in ``x`` is the right-hand slope; outside the range it is 0.

    >>> import chainrule as cr
    >>> float(cr.grad(interp)(1.5, asarray([1.0, 2.0]), asarray([0.0, 4.0])))
    4.0
    """
    xp, fp = asarray(xp), asarray(fp)
    count = shape(xp)[0]
    if count < 2:
        raise ValueError(f"interp: xp needs at least 2 points to interpolate between, got shape {shape(xp)}")
    index = _el.clip(searchsorted(xp, x, side="right") - 1, 0, count - 2)
    x_low, x_high = _sh.take(xp, index), _sh.take(xp, index + 1)
    f_low, f_high = _sh.take(fp, index), _sh.take(fp, index + 1)
    out = f_low + (x - x_low) / (x_high - x_low) * (f_high - f_low)
    out = _el.where(_el.less(x, xp[0]), fp[0] if left is None else left, out)
    return _el.where(_el.greater(x, xp[-1]), fp[-1] if right is None else right, out)


@numpy_when_untraced(_np.searchsorted)
def searchsorted(a, v, side="left", sorter=None):
    """``numpy.searchsorted`` by counting comparisons (integer result, derivative 0; works in every transform).

    >>> searchsorted(asarray([1.0, 2.0, 3.0]), asarray([2.0, 2.5]))
    array([1, 2])
    """
    if sorter is not None:
        a = _sh.take(a, sorter)
    a, v = _control.stop_gradient(asarray(a)), _control.stop_gradient(asarray(v))
    compare = _el.less if side == "left" else _el.less_equal
    below = compare(_sh.reshape(a, (1,) * ndim(v) + (-1,)), _sh.expand_dims(v, -1))
    return _red.sum(astype(below, _np.int64), axis=-1)


@numpy_when_untraced(_np.digitize)
def digitize(x, bins, right=False):
    """``numpy.digitize`` for increasing ``bins`` (integer result, derivative 0).

    >>> digitize(asarray([0.5, 1.5]), asarray([1.0, 2.0]))
    array([0, 1])
    """
    return searchsorted(bins, x, side="left" if right else "right")


def _histogram_plain(a, bins=10, range=None, weights=None, density=False):  # noqa: A002
    return _np.histogram(a, bins=bins, range=range, weights=weights, density=density)  # NumPy: density, weights


@numpy_when_untraced(_histogram_plain)
def histogram(a, bins=10, range=None, weights=None, density=False):  # noqa: A002  (NumPy's name)
    """``numpy.histogram``: counts (or weighted sums) per bin; the counts have derivative 0, weighted sums
    are differentiable in the weights. Bin edges come from the values, not differentiated; without a
    ``range`` they are computed from each example's extremes (so vmap and jit work), as NumPy computes them.

    >>> histogram(asarray([0.1, 0.4, 0.45, 0.9]), bins=2, range=(0.0, 1.0))[0]
    array([3, 1])
    """
    values = _sh.ravel(_control.stop_gradient(asarray(a)))
    if isinstance(bins, (int, _np.integer)):
        edges = _equal_width_edges(values, int(bins), range)
    else:
        edges = _control.stop_gradient(asarray(bins))
    edges_list = asarray(edges)
    lower = _el.greater_equal(_sh.expand_dims(values, -1), _sh.reshape(edges_list[:-1], (1, -1)))
    upper_open = _el.less(_sh.expand_dims(values, -1), _sh.reshape(edges_list[1:], (1, -1)))
    last = _el.equal(_sh.expand_dims(values, -1), _sh.reshape(edges_list[1:], (1, -1)))
    last = _el.logical_and(last, _np.arange(shape(edges_list)[0] - 1) == shape(edges_list)[0] - 2)
    member = _el.logical_and(lower, _el.logical_or(upper_open, last))
    if weights is None:  # NumPy's dtypes: integer counts, or sums in the weights' dtype
        counts = _red.sum(astype(member, _np.intp), axis=0)
    else:
        weights = _sh.expand_dims(_sh.ravel(weights), -1)
        counts = _red.sum(_el.multiply(astype(member, result_type(weights)), weights), axis=0)
    if density:
        counts = counts / astype(diff(edges_list), _np.float64) / _red.sum(counts)
    return counts, edges


def _equal_width_edges(values, count, range_):
    """NumPy's ``count`` equal-width bin edges over ``range_`` or, without one, over the values' extremes (widened
    by 1/2 each way when they are equal), in NumPy's dtype and by its arithmetic (``numpy.linspace``)."""
    dtype = values.dtype if values.dtype.kind in "fc" else _np.dtype(_np.float64)
    if range_ is not None:
        return _np.histogram_bin_edges(_np.zeros(0, dtype=values.dtype), count, range=range_)
    low, high = astype(_red.min(values), dtype), astype(_red.max(values), dtype)
    equal = _el.equal(low, high)
    low, high = _el.where(equal, low - 0.5, low), _el.where(equal, high + 0.5, high)
    step = (high - low) / count
    edges = _el.add(_el.multiply(_np.arange(count + 1, dtype=dtype), step), low)
    return _sh.concatenate([edges[:-1], _sh.reshape(high, (1,))])  # the last edge is the maximum exactly


def _concrete(value):
    return asarray(value).concrete_value() if is_traced(value) else value


# --------------------------------------------------------------------------- statistics

@numpy_when_untraced(_np.cov)
def cov(m, y=None, rowvar=True, bias=False, ddof=None):
    """``numpy.cov`` (no frequency or analytic weights): computed in float64 at least, like NumPy; for complex
    variables ``E[(x - mean x) conj(y - mean y)]``.

    >>> cov(asarray([[0.0, 1.0, 2.0], [2.0, 1.0, 0.0]]))
    array([[ 1., -1.],
           [-1.,  1.]])
    >>> cov(asarray([1j, -1j]))  # conjugated: a real variance
    array(2.+0.j)
    """
    dtype = _np.result_type(result_type(m) if y is None else result_type(m, y), _np.float64)
    x = _sh.atleast_2d(asarray(m, dtype=dtype))
    if not rowvar and shape(x)[0] != 1:
        x = _sh.transpose(x)
    if y is not None:
        y = _sh.atleast_2d(asarray(y, dtype=dtype))
        if not rowvar and shape(y)[0] != 1:
            y = _sh.transpose(y)
        x = _sh.concatenate([x, y], axis=0)
    ddof = (0 if bias else 1) if ddof is None else ddof
    centered = _el.subtract(x, _red.mean(x, axis=1, keepdims=True))
    adjoint = _sh.transpose(_el.conjugate(centered) if dtype.kind == "c" else centered)
    out = _el.divide(matmul(centered, adjoint), float(shape(x)[1] - ddof))
    return _sh.squeeze(out) if shape(out) == (1, 1) else out


@numpy_when_untraced(_np.corrcoef)
def corrcoef(x, y=None, rowvar=True):
    """``numpy.corrcoef``; for complex variables the real and imaginary parts are each clipped to [-1, 1], as
    NumPy does.

    >>> corrcoef(asarray([[0.0, 1.0, 2.0], [2.0, 1.0, 0.5]])).round(4)
    array([[ 1.   , -0.982],
           [-0.982,  1.   ]])
    """
    c = cov(x, y, rowvar)
    if ndim(c) == 0:
        return c / c
    scale = _el.sqrt(_el.real(_sh.diagonal(c)))  # the variances are real; a complex diagonal's imaginary part is rounding
    c = c / _sh.reshape(scale, (-1, 1)) / _sh.reshape(scale, (1, -1))
    if c.dtype.kind != "c":
        return _el.clip(c, -1.0, 1.0)
    return _el.add(_el.clip(_el.real(c), -1.0, 1.0), _el.multiply(_el.clip(_el.imag(c), -1.0, 1.0), 1j))


def _quantile_along(sorted_values, q, axis, weak):
    """Linear interpolation between order statistics ``floor(q (n-1))`` and the next one, written as NumPy
    writes it (from the nearer end). With ``weak`` (q was a Python number) the weights take the values' dtype,
    as NumPy's do, so float32 stays float32; otherwise NumPy promotes with q's dtype."""
    n = shape(sorted_values)[axis]
    position = q * (n - 1)
    below = _np.clip(_np.floor(position).astype(_np.int64), 0, n - 1)
    above = _np.clip(below + 1, 0, n - 1)
    weight = position - _np.floor(position)  # in q's dtype, as NumPy's
    if weak:
        weight = weight.astype(_real_dtype(sorted_values))
    low = _sh.take(sorted_values, _np.ravel(below), axis=axis)
    high = _sh.take(sorted_values, _np.ravel(above), axis=axis)
    view = tuple(-1 if i == axis else 1 for i in range(ndim(sorted_values)))
    weight = _np.reshape(_np.ravel(weight), view)
    step = _el.subtract(high, low)
    out = _el.where(weight >= 0.5, _el.subtract(high, _el.multiply(step, 1 - weight)),
                    _el.add(low, _el.multiply(step, weight)))
    out = _sh.moveaxis(out, axis, 0)
    return _sh.reshape(out, q.shape + shape(out)[1:])


def _check_quantiles(q, name, scale=1):
    """``q`` divided by ``scale`` as an array (floating, as NumPy keeps it), checked to lie in [0, 1]."""
    if is_traced(q):
        raise NotImplementedError(f"{name}: differentiating with respect to q is not supported; pass q as "
                                  f"plain numbers")
    q_array = _np.true_divide(q, scale) if scale != 1 else _np.asarray(q)
    if q_array.dtype.kind != "f":
        q_array = q_array.astype(_np.float64)
    if _np.any((q_array < 0) | (q_array > 1)):
        raise ValueError(f"{name}: q must be in [0, {scale}], got {_np.asarray(q)}")
    return _np.asarray(q_array)


def _check_real(a, name):
    if asarray(a).dtype.kind == "c":
        raise TypeError(f"{name}: a must be an array of real numbers (complex values have no order to take "
                        f"quantiles in), got dtype {asarray(a).dtype}")


# NumPy's quantile, percentile and median take ``out`` and ``overwrite_input`` before ``method``/``keepdims``.

def _quantile_plain(a, q, axis=None, method="linear", keepdims=False):
    return _np.quantile(a, q, axis=axis, method=method, keepdims=keepdims)


@numpy_when_untraced(_quantile_plain)
def quantile(a, q, axis=None, method="linear", keepdims=False):
    """``numpy.quantile`` with the default ``method='linear'``. Gradient convention: the derivative flows to
    the one or two order statistics the quantile interpolates between, with the interpolation weights; tied
    values take it in the order a stable sort gives them.

    >>> import chainrule as cr, numpy
    >>> cr.grad(lambda a: quantile(a, 0.25))(numpy.array([3.0, 1.0, 2.0]))
    array([0. , 0.5, 0.5])
    """
    _check_method(method, "quantile")
    _check_real(a, "quantile")
    return _quantile(a, _check_quantiles(q, "quantile"), type(q) in (int, float), axis, keepdims)


def _check_method(method, name):
    if method != "linear":
        raise NotImplementedError(f"{name}: method={method!r} is not differentiable here; use 'linear'")


def _quantile(a, q, weak, axis, keepdims):
    a = asarray(a)
    if axis is None:
        original_ndim, a, axes = ndim(a), _sh.ravel(a), (0,)
    else:
        original_ndim, axes = ndim(a), normalize_axes(axis, ndim(a))
        if len(axes) > 1:
            kept = [i for i in range(ndim(a)) if i not in axes]
            a = _sh.transpose(a, kept + list(axes))
            a = _sh.reshape(a, tuple(shape(a)[:len(kept)]) + (-1,))
            axes = (len(kept),)
    out = _quantile_along(_sh.sort(a, axis=axes[0]), q, axes[0], weak)
    if keepdims:
        full_axes = range(original_ndim) if axis is None else normalize_axes(axis, original_ndim)
        q_rank = q.ndim
        for position in sorted(full_axes):
            out = _sh.expand_dims(out, q_rank + position)
    return out


def _percentile_plain(a, q, axis=None, method="linear", keepdims=False):
    return _np.percentile(a, q, axis=axis, method=method, keepdims=keepdims)


@numpy_when_untraced(_percentile_plain)
def percentile(a, q, axis=None, method="linear", keepdims=False):
    """``numpy.percentile`` (q in percent); same gradient convention as ``quantile``.

    >>> float(percentile(asarray([1.0, 2.0, 3.0, 4.0]), 50))
    2.5
    """
    _check_method(method, "percentile")
    _check_real(a, "percentile")
    return _quantile(a, _check_quantiles(q, "percentile", 100), type(q) in (int, float), axis, keepdims)


def _median_plain(a, axis=None, keepdims=False):
    return _np.median(a, axis=axis, keepdims=keepdims)


@numpy_when_untraced(_median_plain)
def median(a, axis=None, keepdims=False):
    """``numpy.median``; for an even count the derivative is split equally between the two middle values.
    Complex values are ordered as NumPy orders them (by real part, then imaginary part).

    >>> import chainrule as cr, numpy
    >>> cr.grad(median)(numpy.array([4.0, 1.0, 3.0, 2.0]))
    array([0. , 0. , 0.5, 0.5])
    """
    return _quantile(a, _np.asarray(0.5), True, axis, keepdims)


def unravel_index(indices, shape_):
    """``numpy.unravel_index`` (integers: NumPy's own function, no derivative).

    >>> unravel_index(5, (2, 3))
    (np.int64(1), np.int64(2))
    """
    return _np.unravel_index(_concrete(indices), shape_)


def ravel_multi_index(multi_index, dims, mode="raise", order="C"):
    """``numpy.ravel_multi_index`` (integers: NumPy's own function, no derivative).

    >>> int(ravel_multi_index((1, 2), (2, 3)))
    5
    """
    return _np.ravel_multi_index(tuple(_concrete(i) for i in multi_index), dims, mode=mode, order=order)
