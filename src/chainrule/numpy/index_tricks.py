"""``r_`` and ``c_``: NumPy's concatenation by index expression (``np.r_[a, 0.0, 1:4]``, ``np.c_[a, b]``),
differentiable in the array pieces (and in a slice's endpoints when its step is a count, ``start:stop:5j``)."""
import sys

import numpy as _np

from ..core.interpreter import ConcretizationError
from . import arrays
from .arrays import is_traced, ndim, result_type, with_at


def _slice_values(item):
    """The values a slice stands for: ``arange(start, stop, step)``, or ``linspace(start, stop, |step|)`` when
    the step is imaginary (a count)."""
    start = 0 if item.start is None else item.start
    step = 1 if item.step is None else item.step
    if isinstance(step, (complex, _np.complexfloating)):
        from .constructors import linspace
        return linspace(start, item.stop, num=int(abs(step)))
    if is_traced(start, item.stop, step):
        raise ConcretizationError(
            "r_/c_: a slice with a traced start or stop stands for arange, whose length depends on the values; "
            "give the number of points as an imaginary step (start:stop:5j, a linspace, differentiable) instead.")
    return _np.arange(start, item.stop, step)


def _directive(item, axis, ndmin, trans1d):
    """(axis, ndmin, trans1d) after NumPy's string directive 'axis', 'axis,ndmin' or 'axis,ndmin,trans1d'."""
    if item in ("r", "c"):
        raise NotImplementedError(f"r_/c_: the directive {item!r} makes a numpy.matrix, which cannot hold traced "
                                  f"values; leave it out and reshape the array instead.")
    try:
        numbers = [int(part) for part in item.split(",")]
    except ValueError:
        raise ValueError(f"unknown special directive {item!r}") from None
    if len(numbers) == 1:
        return numbers[0], ndmin, trans1d
    if len(numbers) in (2, 3):
        return numbers[0], numbers[1], numbers[2] if len(numbers) == 3 else trans1d
    raise ValueError(f"unknown special directive {item!r}")


def _raised(piece, piece_ndim, ndmin, trans1d):
    """``piece`` with NumPy's ndmin leading ones, its own axes moved to ``trans1d`` as NumPy does."""
    piece = arrays.array(piece, copy=None, ndmin=ndmin)
    if trans1d == -1 or piece_ndim >= ndmin:
        return piece
    added = ndmin - piece_ndim
    first = trans1d + added + 1 if trans1d < 0 else trans1d
    axes = list(range(ndmin))
    from .shaping import transpose
    return transpose(piece, axes[:first] + axes[added:] + axes[first:added])


class AxisConcatenator:
    """Concatenation along ``axis`` written as an index expression; NumPy's own when nothing in it is traced."""

    __slots__ = ("numpy_concatenator", "axis", "ndmin", "trans1d")

    def __init__(self, numpy_concatenator, axis, ndmin, trans1d):
        self.numpy_concatenator = numpy_concatenator
        self.axis, self.ndmin, self.trans1d = axis, ndmin, trans1d

    def __getitem__(self, key):
        if isinstance(key, str):  # NumPy's matrix builder ('a, b; c, d'), reading the caller's names
            frame = sys._getframe(1)
            return _np.bmat(key, frame.f_globals, frame.f_locals)
        items = key if isinstance(key, tuple) else (key,)
        bounds = [value for item in items if isinstance(item, slice) for value in (item.start, item.stop, item.step)]
        if not is_traced(*items, *bounds):
            return with_at(self.numpy_concatenator[key])
        return self._traced(items)

    def _traced(self, items):
        from .shaping import concatenate, swapaxes
        axis, ndmin, trans1d = self.axis, self.ndmin, self.trans1d
        pieces, kinds = [], []
        for position, item in enumerate(items):
            if isinstance(item, str):
                if position != 0:
                    raise ValueError("special directives must be the first entry.")
                axis, ndmin, trans1d = _directive(item, axis, ndmin, trans1d)
                continue
            if isinstance(item, slice):
                piece = _slice_values(item)
                if ndmin > 1:
                    piece = arrays.array(piece, copy=None, ndmin=ndmin)
                    if trans1d != -1:
                        piece = swapaxes(piece, -1, trans1d)
                kinds.append(result_type(piece))
            elif type(item) in _np.ScalarType:
                piece = item
                kinds.append(item)  # a Python number stays weak in the promotion, as in NumPy
            else:
                piece = _raised(item, ndim(item), ndmin, trans1d)
                kinds.append(result_type(piece))
            pieces.append(piece)
        dtype = result_type(*kinds)
        return concatenate([arrays.array(piece, dtype=dtype, copy=None, ndmin=ndmin) for piece in pieces], axis=axis)

    def __len__(self):
        return 0


class RClass(AxisConcatenator):
    """``numpy.r_``: concatenation along the first axis by index expression; slices stand for ``arange`` (or
    ``linspace`` with an imaginary step), numbers for 1-element arrays, and a leading string such as ``'0,2'``
    sets the axis and the least number of dimensions, as in NumPy. Differentiable in the array pieces.

    >>> import chainrule as cr, chainrule.numpy as np
    >>> np.r_[np.array([1.0, 2.0]), 0.0, 0:2]
    array([1., 2., 0., 0., 1.])
    >>> cr.grad(lambda x: np.sum(np.r_[x, 2.0 * x, 0.0] ** 2))(np.array([1.0, 2.0]))  # 2 x + 8 x
    array([10., 20.])
    """

    __slots__ = ()

    def __init__(self):
        super().__init__(_np.r_, axis=0, ndmin=1, trans1d=-1)


class CClass(AxisConcatenator):
    """``numpy.c_``: concatenation along the last axis by index expression, 1-d pieces becoming columns.
    Differentiable in the array pieces.

    >>> import chainrule as cr, chainrule.numpy as np
    >>> np.c_[np.array([1.0, 2.0]), np.array([3.0, 4.0])]
    array([[1., 3.],
           [2., 4.]])
    >>> cr.grad(lambda x: np.sum(np.c_[x, x ** 2] * np.array([[1.0, 2.0], [3.0, 4.0]])))(np.array([1.0, 2.0]))
    array([ 5., 19.])
    """

    __slots__ = ()

    def __init__(self):
        super().__init__(_np.c_, axis=-1, ndmin=2, trans1d=0)


r_ = RClass()
c_ = CClass()
