"""Reductions with NumPy's ``axis``/``keepdims`` conventions: sum, prod, mean, var, std, max, min, argmax,
cumsum, cumprod, ptp, average."""
import numpy as _np

from ..ops import arithmetic as _ar, reduction as _red, structure as _st
from .arrays import asarray, astype, normalize_axes, numpy_when_untraced, result_type, shape
from .shaping import reshape


def _keep(out, in_shape, axes, keepdims):
    if not keepdims:
        return out
    return _st.reshape(out, new_shape=tuple(1 if i in axes else d for i, d in enumerate(in_shape)))


# NumPy's reductions take ``out`` between ``dtype`` (or ``axis``) and ``keepdims``; these keep the front's order.

def _sum_plain(a, axis=None, dtype=None, keepdims=False):
    return _np.sum(a, axis=axis, dtype=dtype, keepdims=keepdims)


def _prod_plain(a, axis=None, dtype=None, keepdims=False):
    return _np.prod(a, axis=axis, dtype=dtype, keepdims=keepdims)


def _max_plain(a, axis=None, keepdims=False):
    return _np.max(a, axis=axis, keepdims=keepdims)


def _min_plain(a, axis=None, keepdims=False):
    return _np.min(a, axis=axis, keepdims=keepdims)


def _mean_plain(a, axis=None, dtype=None, keepdims=False):
    return _np.mean(a, axis=axis, dtype=dtype, keepdims=keepdims)


def _var_plain(a, axis=None, dtype=None, ddof=0, keepdims=False):
    return _np.var(a, axis=axis, dtype=dtype, ddof=ddof, keepdims=keepdims)


def _std_plain(a, axis=None, dtype=None, ddof=0, keepdims=False):
    return _np.std(a, axis=axis, dtype=dtype, ddof=ddof, keepdims=keepdims)


def _ptp_plain(a, axis=None, keepdims=False):
    return _np.ptp(a, axis=axis, keepdims=keepdims)


def _average_plain(a, axis=None, weights=None, returned=False, keepdims=False):
    return _np.average(a, axis=axis, weights=weights, returned=returned, keepdims=keepdims)


def _argmax_plain(a, axis=None, keepdims=False):
    return _np.argmax(a, axis=axis, keepdims=keepdims)


def _argmin_plain(a, axis=None, keepdims=False):
    return _np.argmin(a, axis=axis, keepdims=keepdims)


def _reduce(primitive, a, axis, keepdims, dtype=None):
    if isinstance(a, (list, tuple)):
        a = asarray(a)  # traced values in a list: one array
    in_shape = a.shape
    axes = tuple(range(len(in_shape))) if axis is None else normalize_axes(axis, len(in_shape))
    if dtype is not None:
        a = astype(a, dtype)
    if not axes:
        return a
    out = primitive(a, axes=axes)
    return _keep(out, in_shape, axes, keepdims) if keepdims else out


@numpy_when_untraced(_sum_plain)
def sum(a, axis=None, dtype=None, keepdims=False):  # noqa: A001
    """``numpy.sum``.

    >>> import chainrule as cr, chainrule.numpy as np
    >>> cr.grad(lambda x: np.sum(x * x))(np.array([1.0, 2.0]))
    array([2., 4.])
    """
    return _reduce(_red.reduce_sum, a, axis, keepdims, dtype)


@numpy_when_untraced(_prod_plain)
def prod(a, axis=None, dtype=None, keepdims=False):
    """``numpy.prod``; its derivative is exact when some factors are zero (no division).

    >>> import chainrule as cr, chainrule.numpy as np
    >>> float(np.prod(np.array([2.0, 3.0, 4.0])))
    24.0
    >>> cr.grad(np.prod)(np.array([2.0, 0.0, 4.0]))  # exact at a zero factor
    array([0., 8., 0.])
    """
    return _reduce(_red.reduce_prod, a, axis, keepdims, dtype)


@numpy_when_untraced(_max_plain)
def max(a, axis=None, keepdims=False):  # noqa: A001
    """``numpy.max``; tied maxima share the derivative equally.

    >>> import chainrule as cr, chainrule.numpy as np
    >>> x = np.array([1.0, 3.0, 3.0])
    >>> float(np.max(x)), cr.grad(np.max)(x)
    (3.0, array([0. , 0.5, 0.5]))
    """
    return _reduce(_red.reduce_max, a, axis, keepdims)


@numpy_when_untraced(_min_plain)
def min(a, axis=None, keepdims=False):  # noqa: A001
    """``numpy.min``; tied minima share the derivative equally.

    >>> import chainrule as cr, chainrule.numpy as np
    >>> x = np.array([1.0, 1.0, 3.0])
    >>> float(np.min(x)), cr.grad(np.min)(x)
    (1.0, array([0.5, 0.5, 0. ]))
    """
    return _reduce(_red.reduce_min, a, axis, keepdims)


amax = max
amin = min


def _count(a, axis):
    dims = shape(a)
    axes = normalize_axes(axis, len(dims))
    return int(_np.prod([dims[i] for i in axes], dtype=_np.int64))


@numpy_when_untraced(_mean_plain)
def mean(a, axis=None, dtype=None, keepdims=False):
    """``numpy.mean``.

    >>> import chainrule as cr, chainrule.numpy as np
    >>> np.mean(np.array([[1.0, 2.0], [3.0, 4.0]]), axis=0)
    array([2., 3.])
    >>> cr.grad(np.mean)(np.array([1.0, 2.0, 3.0, 4.0]))
    array([0.25, 0.25, 0.25, 0.25])
    """
    a = asarray(a)
    return _ar.div(sum(a, axis=axis, dtype=dtype, keepdims=keepdims), float(_count(a, axis)))


@numpy_when_untraced(_var_plain)
def var(a, axis=None, dtype=None, ddof=0, keepdims=False):
    """``numpy.var`` with ``ddof``.

    >>> import chainrule as cr, chainrule.numpy as np
    >>> x = np.array([1.0, 2.0, 3.0, 4.0])
    >>> float(np.var(x)), float(np.var(x, ddof=1))
    (1.25, 1.6666666666666667)
    >>> cr.grad(np.var)(x)  # 2 (x - mean) / n
    array([-0.75, -0.25,  0.25,  0.75])
    """
    a = asarray(a)
    centered = _ar.sub(a, mean(a, axis=axis, dtype=dtype, keepdims=True))
    return _ar.div(sum(squared_magnitude(centered), axis=axis, keepdims=keepdims), float(_count(a, axis) - ddof))


def squared_magnitude(x):
    """|x|**2, real for complex x (x * conj(x)), as NumPy's var and std use it."""
    if x.dtype.kind != "c":
        return _ar.mul(x, x)
    from ..ops.elementwise import conj, real
    return real(_ar.mul(x, conj(x)))


@numpy_when_untraced(_std_plain)
def std(a, axis=None, dtype=None, ddof=0, keepdims=False):
    """``numpy.std`` (its derivative is infinite where the spread is 0).

    >>> import chainrule as cr, chainrule.numpy as np
    >>> x = np.array([1.0, 3.0])
    >>> float(np.std(x)), cr.grad(np.std)(x)  # (x - mean) / (n std)
    (1.0, array([-0.5,  0.5]))
    """
    from ..ops.elementwise import sqrt
    return sqrt(var(a, axis=axis, dtype=dtype, ddof=ddof, keepdims=keepdims))


@numpy_when_untraced(_ptp_plain)
def ptp(a, axis=None, keepdims=False):
    """``numpy.ptp``: max - min.

    >>> import chainrule as cr, chainrule.numpy as np
    >>> x = np.array([1.0, 5.0, 3.0])
    >>> float(np.ptp(x)), cr.grad(np.ptp)(x)
    (4.0, array([-1.,  1.,  0.]))
    """
    a = asarray(a)
    return _ar.sub(max(a, axis=axis, keepdims=keepdims), min(a, axis=axis, keepdims=keepdims))


@numpy_when_untraced(_average_plain)
def average(a, axis=None, weights=None, returned=False, keepdims=False):
    """``numpy.average``; differentiable in ``a`` and ``weights``.

    >>> import chainrule as cr, chainrule.numpy as np
    >>> a, w = np.array([1.0, 3.0]), np.array([3.0, 1.0])
    >>> float(np.average(a, weights=w))
    1.5
    >>> cr.grad(lambda w: np.average(a, weights=w))(w)  # (a - average) / sum(w)
    array([-0.125,  0.375])
    """
    a = asarray(a)
    if weights is None:
        result = mean(a, axis=axis, keepdims=keepdims)
        # NumPy returns the count in the average's dtype and shape.
        total = _np.full(shape(result), _count(a, axis), dtype=result.dtype)[()]
    else:
        weights_shape, a_shape = shape(weights), shape(a)
        if weights_shape != a_shape:
            if axis is None or len(weights_shape) != 1:
                raise TypeError(f"average: weights of shape {weights_shape} need an axis along which to apply "
                                f"them to a of shape {a_shape}")
            axis_index = normalize_axes(axis, len(a_shape))[0]
            new_shape = [1] * len(a_shape)
            new_shape[axis_index] = weights_shape[0]
            weights = reshape(weights, tuple(new_shape))  # traced or not, like a
        # The sum of the weights in NumPy's dtype for it: float32 stays float32, complex a makes it complex, an
        # integer a makes it at least float64.
        promoted = (a, weights) if result_type(a).kind in "fc" else (a, weights, _np.float64)
        total_dtype = result_type(*promoted)
        spread = _ar.mul(weights, _np.ones(a_shape, dtype=bool))  # the weights over a's shape, in their own dtype
        total = astype(sum(spread, axis=axis, keepdims=keepdims), total_dtype)
        result = _ar.div(sum(_ar.mul(a, weights), axis=axis, keepdims=keepdims), total)
    return (result, total) if returned else result


def _arg_extremum(primitive, a, axis, keepdims):
    a = asarray(a)
    if axis is None:
        out = primitive(_st.reshape(a, new_shape=(a.size,)), axis=0)
        return _st.reshape(out, new_shape=(1,) * a.ndim) if keepdims else out
    axis = normalize_axes(axis, a.ndim)[0]
    out = primitive(a, axis=axis)
    if not keepdims:
        return out
    return _st.reshape(out, new_shape=tuple(1 if i == axis else d for i, d in enumerate(a.shape)))


@numpy_when_untraced(_argmax_plain)
def argmax(a, axis=None, keepdims=False):
    """``numpy.argmax`` (an integer: derivative 0).

    >>> import chainrule as cr, chainrule.numpy as np
    >>> x = np.array([1.0, 3.0, 2.0])
    >>> int(np.argmax(x)), np.argmax(np.array([[1.0, 3.0], [4.0, 2.0]]), axis=1)
    (1, array([1, 0]))
    >>> cr.grad(lambda x: x[np.argmax(x)])(x)  # the index itself carries no derivative
    array([0., 1., 0.])
    """
    return _arg_extremum(_red.argmax, a, axis, keepdims)


@numpy_when_untraced(_argmin_plain)
def argmin(a, axis=None, keepdims=False):
    """``numpy.argmin`` (an integer: derivative 0).

    >>> import chainrule as cr, chainrule.numpy as np
    >>> x = np.array([2.0, 1.0, 3.0])
    >>> int(np.argmin(x)), np.argmin(np.array([[1.0, 3.0], [4.0, 2.0]]), axis=1)
    (1, array([0, 1]))
    >>> cr.grad(lambda x: x[np.argmin(x)])(x)  # the index itself carries no derivative
    array([0., 1., 0.])
    """
    return _arg_extremum(_red.argmin, a, axis, keepdims)


def _flatten_for_axis(a, axis):
    if axis is None:
        return _st.reshape(a, new_shape=(int(_np.prod(shape(a), dtype=_np.int64)),)), 0
    return a, normalize_axes(axis, len(shape(a)))[0]


@numpy_when_untraced(_np.cumsum)
def cumsum(a, axis=None, dtype=None):
    """``numpy.cumsum``.

    >>> import chainrule as cr, chainrule.numpy as np
    >>> np.cumsum(np.array([1.0, 2.0, 3.0]))
    array([1., 3., 6.])
    >>> cr.grad(lambda x: np.sum(np.cumsum(x)))(np.ones(3))  # x[i] appears in n - i partial sums
    array([3., 2., 1.])
    """
    a, axis = _flatten_for_axis(asarray(a), axis)
    return _red.cumsum(a, axis=axis, reverse=False)


@numpy_when_untraced(_np.cumprod)
def cumprod(a, axis=None, dtype=None):
    """``numpy.cumprod``; differentiated through a product scan, exact when some factors are zero.

    >>> import chainrule as cr, chainrule.numpy as np
    >>> np.cumprod(np.array([2.0, 0.0, 3.0]))
    array([2., 0., 0.])
    >>> cr.grad(lambda x: np.sum(np.cumprod(x)))(np.array([2.0, 0.0, 3.0]))  # exact at a zero factor
    array([1., 8., 0.])
    """
    a, axis = _flatten_for_axis(asarray(a), axis)
    return _red.cumulative_product(a, axis)
