"""Comparisons of whole arrays (``isclose``, ``allclose``, ``array_equal``): NumPy's own on plain values; on traced
values built from comparison primitives, so they work under every transform, jit and vmap included. A comparison
has no derivative."""
import numpy as _np

from ..ops import comparison as _cmp, reduction as _red, structure as _st
from .arrays import asarray, numpy_when_untraced, shape


def _all(condition):
    """Whether every entry of the boolean ``condition`` holds, as a 0-d boolean array."""
    condition = asarray(condition)
    failures = _st.convert_element_type(_cmp.logical_not(condition), dtype=_np.dtype(_np.int64))
    return _cmp.eq(_red.reduce_sum(failures, axes=tuple(range(len(shape(condition))))), 0)


@numpy_when_untraced(_np.isclose)
def isclose(a, b, rtol=1e-05, atol=1e-08, equal_nan=False):
    """``numpy.isclose``: ``|a - b| <= atol + rtol |b|`` entry by entry (infinities equal only to themselves).

    >>> import chainrule as cr, chainrule.numpy as np
    >>> np.isclose(np.array([1.0, 2.0]), np.array([1.0 + 1e-9, 2.1]))
    array([ True, False])
    >>> cr.jit(lambda x: np.isclose(x, 1.0))(np.array([1.0, 3.0]))
    array([ True, False])
    """
    from .elementwise import absolute, add, isfinite, isnan, multiply, subtract
    y = b if type(b) in (int, float, complex) else asarray(b)
    if type(y) is int:
        y = float(y)
    close = _cmp.logical_or(_cmp.logical_and(_cmp.le(absolute(subtract(a, y)), add(atol, multiply(rtol, absolute(y)))),
                                             isfinite(y)), _cmp.eq(a, y))
    if equal_nan:
        close = _cmp.logical_or(close, _cmp.logical_and(isnan(a), isnan(y)))
    return close


@numpy_when_untraced(_np.allclose)
def allclose(a, b, rtol=1e-05, atol=1e-08, equal_nan=False):
    """``numpy.allclose``: whether ``isclose`` holds everywhere (a 0-d boolean array on traced values).

    >>> import chainrule as cr, chainrule.numpy as np
    >>> np.allclose(np.array([1.0, 2.0]), np.array([1.0, 2.0 + 1e-9]))
    True
    >>> bool(cr.jit(lambda x: np.allclose(x, 2.0 * x))(np.array([1.0, 0.0])))
    False
    """
    return _all(isclose(a, b, rtol=rtol, atol=atol, equal_nan=equal_nan))


@numpy_when_untraced(_np.array_equal)
def array_equal(a1, a2, equal_nan=False):
    """``numpy.array_equal``: the same shape and the same entries (a 0-d boolean array on traced values).

    >>> import chainrule as cr, chainrule.numpy as np
    >>> np.array_equal(np.array([1.0, 2.0]), np.array([1.0, 2.0]))
    True
    >>> bool(cr.jit(lambda x: np.array_equal(x, x + 0.0))(np.array([1.0, np.nan])))  # NaN is not equal to NaN
    False
    """
    from .elementwise import isnan
    if shape(a1) != shape(a2):
        return False
    equal = _cmp.eq(a1, a2)
    if equal_nan:
        equal = _cmp.logical_or(equal, _cmp.logical_and(isnan(a1), isnan(a2)))
    return _all(equal)
