"""Shape manipulation with NumPy's names: reshape, transpose, stack, split, tile, pad, flip, roll, diag,
take, sort, ... Gradients through indexing scatter-add back, so repeated positions accumulate."""
import builtins
import math

import numpy as _np

from ..ops import comparison as _cmp, indexing as _ix, reduction as _red, structure as _st
from .arrays import asarray, ndim, normalize_axes, numpy_when_untraced, shape
from .views import mark_view


def _resolve_shape(newshape, total):
    if isinstance(newshape, (int, _np.integer)):
        newshape = (int(newshape),)
    newshape = [int(d) for d in newshape]
    if newshape.count(-1) > 1:
        raise ValueError("can only specify one unknown dimension")
    if -1 in newshape:
        known = math.prod(d for d in newshape if d != -1)
        if known == 0 or total % known:
            raise ValueError(f"cannot reshape array of size {total} into shape {tuple(newshape)}")
        newshape[newshape.index(-1)] = total // known
    if math.prod(newshape) != total:
        raise ValueError(f"cannot reshape array of size {total} into shape {tuple(newshape)}")
    return tuple(newshape)


def _reshaped_view(a, target):
    """``a`` reshaped to ``target``: a view in NumPy (writes into it reach ``a``)."""
    return mark_view(_st.reshape(a, new_shape=target), a, lambda base: _st.reshape(base, new_shape=target),
                     lambda base, value: _st.reshape(value, new_shape=base.shape))


def _reshape_plain(a, newshape=None, order="C", *, shape=None):
    return _np.reshape(a, shape if newshape is None else newshape, order=order)


@numpy_when_untraced(_reshape_plain)
def reshape(a, newshape=None, order="C", *, shape=None):
    """``numpy.reshape`` (C order).

    >>> import chainrule as cr, chainrule.numpy as np
    >>> np.reshape(np.arange(6.0), (2, 3))
    array([[0., 1., 2.],
           [3., 4., 5.]])
    >>> cr.grad(lambda x: np.sum(np.reshape(x, (2, 2)) * np.array([[1.0, 2.0], [3.0, 4.0]])))(np.zeros(4))
    array([1., 2., 3., 4.])
    """
    if newshape is None:
        newshape = shape
    a = asarray(a)
    if order != "C":
        raise NotImplementedError("reshape of traced arrays supports order='C' only")
    target = _resolve_shape(newshape, a.size)
    return a if target == a.shape else _reshaped_view(a, target)


def ravel(a, order="C"):
    """``numpy.ravel``.

    >>> import chainrule as cr, chainrule.numpy as np
    >>> np.ravel(np.array([[1.0, 2.0], [3.0, 4.0]]))
    array([1., 2., 3., 4.])
    >>> cr.grad(lambda x: np.sum(np.ravel(x) * np.array([1.0, 2.0, 3.0, 4.0])))(np.zeros((2, 2)))
    array([[1., 2.],
           [3., 4.]])
    """
    return reshape(a, (-1,), order=order)


@numpy_when_untraced(_np.transpose)
def transpose(a, axes=None):
    """``numpy.transpose``.

    >>> import chainrule as cr, chainrule.numpy as np
    >>> w = np.array([[1.0, 2.0], [3.0, 4.0]])
    >>> np.transpose(w)
    array([[1., 3.],
           [2., 4.]])
    >>> cr.grad(lambda x: np.sum(np.transpose(x) * w))(np.zeros((2, 2)))  # the transpose of w
    array([[1., 3.],
           [2., 4.]])
    """
    a = asarray(a)
    permutation = tuple(reversed(range(a.ndim))) if axes is None else tuple(int(x) % a.ndim for x in axes)
    if permutation == tuple(range(a.ndim)):
        return a
    inverse = tuple(_np.argsort(permutation))
    return mark_view(_st.transpose(a, permutation=permutation), a,
                     lambda base: _st.transpose(base, permutation=permutation),
                     lambda base, value: _st.transpose(value, permutation=inverse))


@numpy_when_untraced(_np.swapaxes)
def swapaxes(a, axis1, axis2):
    """``numpy.swapaxes``.

    >>> import chainrule as cr, chainrule.numpy as np
    >>> np.swapaxes(np.zeros((2, 3, 4)), 0, 2).shape
    (4, 3, 2)
    >>> cr.jvp(lambda x: np.swapaxes(x, 0, 1), (np.zeros((1, 2)),), (np.array([[1.0, 2.0]]),))[1]
    array([[1.],
           [2.]])
    """
    a = asarray(a)
    permutation = list(range(a.ndim))
    axis1, axis2 = axis1 % a.ndim, axis2 % a.ndim
    permutation[axis1], permutation[axis2] = permutation[axis2], permutation[axis1]
    return transpose(a, permutation)


@numpy_when_untraced(_np.moveaxis)
def moveaxis(a, source, destination):
    """``numpy.moveaxis``.

    >>> import chainrule as cr, chainrule.numpy as np
    >>> np.moveaxis(np.zeros((2, 3, 4)), 0, -1).shape
    (3, 4, 2)
    >>> w = np.arange(6.0).reshape(3, 2)
    >>> cr.grad(lambda x: np.sum(np.moveaxis(x, 0, -1) * w))(np.zeros((2, 3)))  # w with its axis moved back
    array([[0., 2., 4.],
           [1., 3., 5.]])
    """
    a = asarray(a)
    source = [s % a.ndim for s in ((source,) if isinstance(source, int) else source)]
    destination = [d % a.ndim for d in ((destination,) if isinstance(destination, int) else destination)]
    order = [n for n in range(a.ndim) if n not in source]
    for dest, src in sorted(zip(destination, source)):
        order.insert(dest, src)
    return transpose(a, order)


@numpy_when_untraced(_np.rollaxis)
def rollaxis(a, axis, start=0):
    """``numpy.rollaxis``: move ``axis`` to just before ``start`` (``moveaxis`` says the same more plainly).

    >>> import chainrule as cr, chainrule.numpy as np
    >>> np.rollaxis(np.zeros((2, 3, 4)), 2).shape, np.rollaxis(np.zeros((2, 3, 4)), 0, 3).shape
    ((4, 2, 3), (3, 4, 2))
    >>> cr.jvp(lambda x: np.rollaxis(x, 1), (np.zeros((1, 2)),), (np.array([[1.0, 2.0]]),))[1]
    array([[1.],
           [2.]])
    """
    a = asarray(a)
    rank = ndim(a)
    axis = normalize_axes(axis, rank)[0]
    given = int(start)
    start = given + rank if given < 0 else given
    if not 0 <= start <= rank:
        raise _np.exceptions.AxisError(f"rollaxis: 'start' arg requires {-rank} <= start < {rank + 1}, but "
                                       f"{given} was passed in")
    if axis < start:
        start -= 1
    order = [i for i in range(rank) if i != axis]
    order.insert(start, axis)
    return transpose(a, order)


@numpy_when_untraced(_np.expand_dims)
def expand_dims(a, axis):
    """``numpy.expand_dims``.

    >>> import chainrule as cr, chainrule.numpy as np
    >>> np.expand_dims(np.array([1.0, 2.0]), 0)
    array([[1., 2.]])
    >>> cr.jvp(lambda x: np.expand_dims(x, 1), (np.zeros(2),), (np.array([3.0, 4.0]),))[1]
    array([[3.],
           [4.]])
    """
    a = asarray(a)
    axes = (axis,) if isinstance(axis, int) else tuple(axis)
    out_ndim = a.ndim + len(axes)
    axes = normalize_axes(axes, out_ndim)
    dims = iter(a.shape)
    return _reshaped_view(a, tuple(1 if i in axes else next(dims) for i in range(out_ndim)))


@numpy_when_untraced(_np.squeeze)
def squeeze(a, axis=None):
    """``numpy.squeeze``.

    >>> import chainrule as cr, chainrule.numpy as np
    >>> np.squeeze(np.array([[1.0], [2.0]]))
    array([1., 2.])
    >>> cr.grad(lambda x: np.sum(np.squeeze(x) * np.array([3.0, 4.0])))(np.zeros((2, 1)))
    array([[3.],
           [4.]])
    """
    a = asarray(a)
    if axis is None:
        axes = tuple(i for i, d in enumerate(a.shape) if d == 1)
    else:
        axes = normalize_axes(axis, a.ndim)
        for i in axes:
            if a.shape[i] != 1:
                raise ValueError(f"cannot select an axis to squeeze out which has size not equal to one "
                                 f"(axis {i} of shape {a.shape})")
    return _reshaped_view(a, tuple(d for i, d in enumerate(a.shape) if i not in axes))


@numpy_when_untraced(_np.broadcast_to)
def broadcast_to(array, shape, subok=False):
    """``numpy.broadcast_to``.

    >>> import chainrule as cr, chainrule.numpy as np
    >>> np.broadcast_to(np.array([1.0, 2.0]), (2, 2))
    array([[1., 2.],
           [1., 2.]])
    >>> cr.grad(lambda x: np.sum(np.broadcast_to(x, (3, 2))))(np.zeros(2))  # each element used 3 times
    array([3., 3.])
    """
    array = asarray(array)
    target = (shape,) if isinstance(shape, int) else tuple(shape)
    _np.broadcast_shapes(array.shape, target)  # NumPy's error for incompatible shapes
    if len(target) < array.ndim:
        raise ValueError(f"cannot broadcast a traced array of shape {array.shape} to the shorter shape {target}")
    return _st.broadcast_to(array, target)


def broadcast_arrays(*args, subok=False):
    """``numpy.broadcast_arrays``.

    >>> import chainrule as cr, chainrule.numpy as np
    >>> [a.shape for a in np.broadcast_arrays(np.zeros(3), np.zeros((2, 1)))]
    [(2, 3), (2, 3)]
    >>> cr.grad(lambda x, y: np.sum(np.multiply(*np.broadcast_arrays(x, y))))(np.zeros(2), np.array([[3.0], [4.0]]))
    array([7., 7.])
    """
    target = _np.broadcast_shapes(*(shape(a) for a in args))
    return tuple(broadcast_to(a, target) for a in args)  # a tuple, as NumPy 2 returns


def atleast_1d(*arys):
    """``numpy.atleast_1d``.

    >>> import chainrule as cr, chainrule.numpy as np
    >>> np.atleast_1d(3.0)
    array([3.])
    >>> float(cr.grad(lambda x: np.sum(np.atleast_1d(x) * 2.0))(3.0))
    2.0
    """
    out = [a if ndim(a) >= 1 else reshape(a, (1,)) for a in map(asarray, arys)]
    return out[0] if len(out) == 1 else tuple(out)  # a tuple, as NumPy 2 returns


def atleast_2d(*arys):
    """``numpy.atleast_2d``.

    >>> import chainrule as cr, chainrule.numpy as np
    >>> np.atleast_2d(np.array([1.0, 2.0]))
    array([[1., 2.]])
    >>> cr.grad(lambda x: np.sum(np.atleast_2d(x) * np.array([[3.0, 4.0]])))(np.zeros(2))
    array([3., 4.])
    """
    out = []
    for a in map(asarray, arys):
        out.append(a if ndim(a) >= 2 else reshape(a, (1, -1) if ndim(a) == 1 else (1, 1)))
    return out[0] if len(out) == 1 else tuple(out)  # a tuple, as NumPy 2 returns


def atleast_3d(*arys):
    """``numpy.atleast_3d``.

    >>> import chainrule as cr, chainrule.numpy as np
    >>> np.atleast_3d(np.zeros((2, 3))).shape
    (2, 3, 1)
    >>> cr.grad(lambda x: np.sum(np.atleast_3d(x) ** 2))(np.array([1.0, 2.0]))
    array([2., 4.])
    """
    out = []
    for a in map(asarray, arys):
        dims = shape(a)
        if len(dims) == 0:
            a = reshape(a, (1, 1, 1))
        elif len(dims) == 1:
            a = reshape(a, (1, dims[0], 1))
        elif len(dims) == 2:
            a = reshape(a, dims + (1,))
        out.append(a)
    return out[0] if len(out) == 1 else tuple(out)  # a tuple, as NumPy 2 returns


def _concatenate_plain(arrays, axis=0):
    return _np.concatenate(list(arrays), axis=axis)  # any iterable, not only a sequence as NumPy asks


@numpy_when_untraced(_concatenate_plain)
def concatenate(arrays, axis=0):
    """``numpy.concatenate`` (``axis=None`` flattens first).

    >>> import chainrule as cr, chainrule.numpy as np
    >>> np.concatenate([np.array([1.0, 2.0]), np.array([3.0])])
    array([1., 2., 3.])
    >>> cr.grad(lambda x: np.sum(np.concatenate([x, x]) * np.array([1.0, 2.0, 3.0, 4.0])))(np.zeros(2))
    array([4., 6.])
    """
    arrays = list(arrays)
    if axis is None:
        arrays = [ravel(a) for a in arrays]
        axis = 0
    arrays = [asarray(a) for a in arrays]
    first = shape(arrays[0])
    if not first:
        raise ValueError("zero-dimensional arrays cannot be concatenated")
    axis = normalize_axes(axis, len(first))[0]
    for position, a in enumerate(arrays):
        dims = shape(a)
        if len(dims) != len(first) or any(d != f for i, (d, f) in enumerate(zip(dims, first)) if i != axis):
            raise ValueError(f"concatenate: all the input array dimensions except for the concatenation axis must "
                             f"match exactly, but array 0 has shape {first} and array {position} has shape {dims}")
    return _st.concatenate(*arrays, axis=axis)


def _stack_plain(arrays, axis=0):
    return _np.stack([asarray(a) for a in arrays], axis=axis)


@numpy_when_untraced(_stack_plain)
def stack(arrays, axis=0):
    """``numpy.stack``.

    >>> import chainrule as cr, chainrule.numpy as np
    >>> np.stack([np.array([1.0, 2.0]), np.array([3.0, 4.0])], axis=1)
    array([[1., 3.],
           [2., 4.]])
    >>> cr.grad(lambda x: np.sum(np.stack([x, 2.0 * x], axis=1) * np.array([[1.0, 2.0], [3.0, 4.0]])))(np.zeros(2))
    array([ 5., 11.])
    """
    arrays = [asarray(a) for a in arrays]
    dims = {shape(a) for a in arrays}
    if len(dims) != 1:
        raise ValueError(f"all input arrays must have the same shape, got {sorted(dims)}")
    out_axis = normalize_axes(axis, len(shape(arrays[0])) + 1)[0]
    return concatenate([expand_dims(a, out_axis) for a in arrays], axis=out_axis)


def _vstack_plain(tup):
    return _np.vstack([atleast_2d(a) for a in tup])


@numpy_when_untraced(_vstack_plain)
def vstack(tup):
    """``numpy.vstack``.

    >>> import chainrule as cr, chainrule.numpy as np
    >>> np.vstack([np.array([1.0, 2.0]), np.array([3.0, 4.0])])
    array([[1., 2.],
           [3., 4.]])
    >>> cr.grad(lambda x: np.sum(np.vstack([x, 2.0 * x])))(np.zeros(2))
    array([3., 3.])
    """
    return concatenate([atleast_2d(a) for a in tup], axis=0)


row_stack = vstack


def _hstack_plain(tup):
    return _np.hstack([atleast_1d(a) for a in tup])


@numpy_when_untraced(_hstack_plain)
def hstack(tup):
    """``numpy.hstack``.

    >>> import chainrule as cr, chainrule.numpy as np
    >>> np.hstack([np.array([1.0, 2.0]), np.array([3.0])])
    array([1., 2., 3.])
    >>> cr.grad(lambda x: np.sum(np.hstack([x, x * x])))(np.array([1.0, 2.0]))  # 1 + 2 x
    array([3., 5.])
    """
    arrays = [atleast_1d(a) for a in tup]
    return concatenate(arrays, axis=0 if ndim(arrays[0]) == 1 else 1)


def _dstack_plain(tup):
    return _np.dstack([atleast_3d(a) for a in tup])


@numpy_when_untraced(_dstack_plain)
def dstack(tup):
    """``numpy.dstack``.

    >>> import chainrule as cr, chainrule.numpy as np
    >>> np.dstack([np.array([1.0, 2.0]), np.array([3.0, 4.0])])
    array([[[1., 3.],
            [2., 4.]]])
    >>> cr.grad(lambda x: np.sum(np.dstack([x, x]) * 3.0))(np.zeros(2))
    array([6., 6.])
    """
    return concatenate([atleast_3d(a) for a in tup], axis=2)


def _column_stack_plain(tup):
    return _np.column_stack([asarray(a) for a in tup])


@numpy_when_untraced(_column_stack_plain)
def column_stack(tup):
    """``numpy.column_stack``.

    >>> import chainrule as cr, chainrule.numpy as np
    >>> np.column_stack([np.array([1.0, 2.0]), np.array([3.0, 4.0])])
    array([[1., 3.],
           [2., 4.]])
    >>> cr.grad(lambda x: np.sum(np.column_stack([x, x]) * np.array([[1.0, 2.0], [3.0, 4.0]])))(np.zeros(2))
    array([3., 7.])
    """
    arrays = [asarray(a) for a in tup]
    arrays = [reshape(a, (-1, 1)) if ndim(a) < 2 else a for a in arrays]
    return concatenate(arrays, axis=1)


def _slice_along(a, axis, start, stop):
    index = [slice(None)] * ndim(a)
    index[axis] = slice(start, stop)
    return _ix.take_slices(a, tuple(index))


@numpy_when_untraced(_np.array_split)
def array_split(ary, indices_or_sections, axis=0):
    """``numpy.array_split``.

    >>> import chainrule as cr, chainrule.numpy as np
    >>> np.array_split(np.arange(5.0), 2)
    [array([0., 1., 2.]), array([3., 4.])]
    >>> cr.grad(lambda x: np.sum(np.array_split(x, 2)[0]))(np.zeros(5))
    array([1., 1., 1., 0., 0.])
    """
    ary = asarray(ary)
    axis = normalize_axes(axis, ary.ndim)[0]
    length = ary.shape[axis]
    if isinstance(indices_or_sections, (int, _np.integer)):
        sections = int(indices_or_sections)
        if sections <= 0:
            raise ValueError("number sections must be larger than 0.")
        each, extra = divmod(length, sections)
        sizes = [each + 1] * extra + [each] * (sections - extra)
        bounds = _np.concatenate([[0], _np.cumsum(sizes)])
    else:
        bounds = [0] + [int(i) for i in indices_or_sections] + [length]
    return [_slice_along(ary, axis, int(bounds[i]), int(bounds[i + 1])) for i in range(len(bounds) - 1)]


def split(ary, indices_or_sections, axis=0):
    """``numpy.split`` (equal sections must divide the axis).

    >>> import chainrule as cr, chainrule.numpy as np
    >>> np.split(np.arange(4.0), 2)
    [array([0., 1.]), array([2., 3.])]
    >>> cr.grad(lambda x: np.sum(np.split(x, [1])[1] ** 2))(np.array([1.0, 2.0, 3.0]))
    array([0., 4., 6.])
    """
    if isinstance(indices_or_sections, (int, _np.integer)):
        length = shape(ary)[axis]
        if length % indices_or_sections:
            raise ValueError("array split does not result in an equal division")
    return array_split(ary, indices_or_sections, axis=axis)


def _split_needing(name, ary, rank, indices_or_sections, axis):
    if ndim(ary) < rank:
        raise ValueError(f"{name} only works on arrays of {rank} or more dimensions, got shape {shape(ary)}")
    return split(ary, indices_or_sections, axis)


@numpy_when_untraced(_np.hsplit)
def hsplit(ary, indices_or_sections):
    """``numpy.hsplit``: ``split`` along axis 1 (axis 0 of a vector).

    >>> import chainrule as cr, chainrule.numpy as np
    >>> np.hsplit(np.arange(4.0), 2)
    [array([0., 1.]), array([2., 3.])]
    >>> cr.grad(lambda x: np.sum(np.hsplit(x, [1])[1] ** 2))(np.array([[1.0, 2.0], [3.0, 4.0]]))
    array([[0., 4.],
           [0., 8.]])
    """
    return _split_needing("hsplit", ary, 1, indices_or_sections, 1 if ndim(ary) > 1 else 0)


@numpy_when_untraced(_np.vsplit)
def vsplit(ary, indices_or_sections):
    """``numpy.vsplit``: ``split`` along axis 0 of an array of 2 or more dimensions.

    >>> import chainrule as cr, chainrule.numpy as np
    >>> np.vsplit(np.arange(4.0).reshape(2, 2), 2)[1]
    array([[2., 3.]])
    >>> cr.grad(lambda x: np.sum(np.vsplit(x, 2)[1] ** 2))(np.array([[1.0, 2.0], [3.0, 4.0]]))
    array([[0., 0.],
           [6., 8.]])
    """
    return _split_needing("vsplit", ary, 2, indices_or_sections, 0)


@numpy_when_untraced(_np.dsplit)
def dsplit(ary, indices_or_sections):
    """``numpy.dsplit``: ``split`` along axis 2 of an array of 3 or more dimensions.

    >>> import chainrule as cr, chainrule.numpy as np
    >>> [part.shape for part in np.dsplit(np.zeros((1, 2, 4)), [1])]
    [(1, 2, 1), (1, 2, 3)]
    >>> cr.grad(lambda x: np.sum(np.dsplit(x, 2)[0] * 3.0))(np.zeros((1, 1, 2)))
    array([[[3., 0.]]])
    """
    return _split_needing("dsplit", ary, 3, indices_or_sections, 2)


@numpy_when_untraced(_np.tile)
def tile(A, reps):
    """``numpy.tile``.

    >>> import chainrule as cr, chainrule.numpy as np
    >>> np.tile(np.array([1.0, 2.0]), 2)
    array([1., 2., 1., 2.])
    >>> cr.grad(lambda x: np.sum(np.tile(x, 3)))(np.zeros(2))  # each element used 3 times
    array([3., 3.])
    """
    A = asarray(A)
    reps = (reps,) if isinstance(reps, int) else tuple(reps)
    dims = A.shape
    length = builtins.max(len(dims), len(reps))
    dims = (1,) * (length - len(dims)) + dims
    reps = (1,) * (length - len(reps)) + reps
    interleaved = _st.reshape(A, new_shape=tuple(x for d in dims for x in (1, d)))
    expanded = _st.broadcast_to(interleaved, tuple(x for r, d in zip(reps, dims) for x in (r, d)))
    return _st.reshape(expanded, new_shape=tuple(r * d for r, d in zip(reps, dims)))


def _take_along(a, axis, positions):
    """Gather ``positions`` (integer array) along ``axis``."""
    template = _ix.IndexTemplate((("slice", None, None, None),) * axis + (("array", 0),))
    return _ix.gather(a, _np.asarray(positions), template=template)


@numpy_when_untraced(_np.repeat)
def repeat(a, repeats, axis=None):
    """``numpy.repeat``.

    >>> import chainrule as cr, chainrule.numpy as np
    >>> np.repeat(np.array([1.0, 2.0]), [1, 3])
    array([1., 2., 2., 2.])
    >>> cr.grad(lambda x: np.sum(np.repeat(x, [1, 3])))(np.zeros(2))
    array([1., 3.])
    """
    a = asarray(a)
    if axis is None:
        a, axis = ravel(a), 0
    axis = normalize_axes(axis, a.ndim)[0]
    return _take_along(a, axis, _np.repeat(_np.arange(a.shape[axis]), repeats))


@numpy_when_untraced(_np.flip)
def flip(m, axis=None):
    """``numpy.flip``.

    >>> import chainrule as cr, chainrule.numpy as np
    >>> np.flip(np.array([1.0, 2.0, 3.0]))
    array([3., 2., 1.])
    >>> cr.grad(lambda x: np.sum(np.flip(x) * np.array([1.0, 2.0, 3.0])))(np.zeros(3))
    array([3., 2., 1.])
    """
    m = asarray(m)
    axes = normalize_axes(axis, m.ndim)
    return mark_view(_st.rev(m, axes=axes), m, lambda base: _st.rev(base, axes=axes),
                     lambda base, value: _st.rev(value, axes=axes))


def fliplr(m):
    """``numpy.fliplr``.

    >>> import chainrule as cr, chainrule.numpy as np
    >>> np.fliplr(np.array([[1.0, 2.0], [3.0, 4.0]]))
    array([[2., 1.],
           [4., 3.]])
    >>> cr.grad(lambda x: np.sum(np.fliplr(x) * np.array([[1.0, 2.0]])))(np.zeros((1, 2)))
    array([[2., 1.]])
    """
    return flip(m, 1)


def flipud(m):
    """``numpy.flipud``.

    >>> import chainrule as cr, chainrule.numpy as np
    >>> np.flipud(np.array([[1.0, 2.0], [3.0, 4.0]]))
    array([[3., 4.],
           [1., 2.]])
    >>> cr.grad(lambda x: np.sum(np.flipud(x) * np.array([[1.0], [2.0]])))(np.zeros((2, 1)))
    array([[2.],
           [1.]])
    """
    return flip(m, 0)


@numpy_when_untraced(_np.roll)
def roll(a, shift, axis=None):
    """``numpy.roll``.

    >>> import chainrule as cr, chainrule.numpy as np
    >>> w = np.array([1.0, 2.0, 3.0])
    >>> np.roll(w, 1)
    array([3., 1., 2.])
    >>> cr.grad(lambda x: np.sum(np.roll(x, 1) * w))(np.zeros(3))  # np.roll(w, -1)
    array([2., 3., 1.])
    """
    a = asarray(a)
    if axis is None:
        return reshape(roll(ravel(a), shift, 0), a.shape)
    shifts = (shift,) if isinstance(shift, int) else tuple(shift)
    axes = (axis,) if isinstance(axis, int) else tuple(axis)
    if len(shifts) == 1 and len(axes) > 1:
        shifts = shifts * len(axes)
    for s, ax in zip(shifts, axes):
        ax = ax % a.ndim
        size = a.shape[ax]
        if isinstance(s, (int, _np.integer)) and not isinstance(s, bool) and size:
            # two slices joined: cheaper to trace, batch and run than a gather of every element
            s = int(s) % size
            if s:
                # the primitives themselves: these slices are internal (no views to track, shapes known)
                before = (("slice", None, None, None),) * ax
                tail = _ix.IndexTemplate(before + (("slice", size - s, None, None),))
                head = _ix.IndexTemplate(before + (("slice", 0, size - s, None),))
                a = _st.concatenate(_ix.gather(a, template=tail), _ix.gather(a, template=head), axis=ax)
            continue
        a = _take_along(a, ax, _np.roll(_np.arange(size), s))
    return a


@numpy_when_untraced(_np.rot90)
def rot90(m, k=1, axes=(0, 1)):
    """``numpy.rot90``.

    >>> import chainrule as cr, chainrule.numpy as np
    >>> w = np.array([[1.0, 2.0], [3.0, 4.0]])
    >>> np.rot90(w)
    array([[2., 4.],
           [1., 3.]])
    >>> cr.grad(lambda x: np.sum(np.rot90(x) * w))(np.zeros((2, 2)))  # np.rot90(w, -1)
    array([[3., 1.],
           [4., 2.]])
    """
    m = asarray(m)
    k %= 4
    axis0, axis1 = axes
    if k == 0:
        return m
    if k == 2:
        return flip(flip(m, axis0), axis1)
    permutation = list(range(m.ndim))
    permutation[axis0], permutation[axis1] = permutation[axis1], permutation[axis0]
    if k == 1:
        return transpose(flip(m, axis1), permutation)
    return flip(transpose(m, permutation), axis1)


def _pad_plain(array, pad_width, mode="constant", constant_values=0, **kwargs):
    if mode == "constant":
        return _np.pad(array, pad_width, mode=mode, constant_values=constant_values, **kwargs)
    return _np.pad(array, pad_width, mode=mode, **kwargs)  # constant_values only means something for 'constant'


@numpy_when_untraced(_pad_plain)
def pad(array, pad_width, mode="constant", constant_values=0, **kwargs):
    """``numpy.pad``; modes 'constant', 'edge', 'reflect', 'symmetric' and 'wrap' are differentiable.

    >>> import chainrule as cr, chainrule.numpy as np
    >>> np.pad(np.array([1.0, 2.0]), 1, mode="edge")
    array([1., 1., 2., 2.])
    >>> cr.grad(lambda x: np.sum(np.pad(x, 1, mode="edge")))(np.zeros(2))  # the edges are copied once each
    array([2., 2.])
    """
    array = asarray(array)
    widths = tuple(tuple(int(w) for w in pair) for pair in _np.broadcast_to(_np.asarray(pad_width), (array.ndim, 2)))
    if mode == "constant":
        out = _st.pad(array, widths=widths)
        if _np.any(_np.asarray(constant_values) != 0):
            from ..ops.arithmetic import add
            out = add(out, _np.pad(_np.zeros(array.shape, dtype=array.dtype), widths, constant_values=constant_values))
        return out
    if mode not in ("edge", "reflect", "symmetric", "wrap"):
        raise NotImplementedError(f"pad: mode {mode!r} is not differentiable in chainrule; use 'constant', "
                                  f"'edge', 'reflect', 'symmetric' or 'wrap'")
    for axis, width in enumerate(widths):
        if width != (0, 0):
            positions = _np.pad(_np.arange(array.shape[axis]), width, mode=mode)
            array = _take_along(array, axis, positions)
    return array


@numpy_when_untraced(_np.diagonal)
def diagonal(a, offset=0, axis1=0, axis2=1):
    """``numpy.diagonal`` (the diagonal becomes the last axis).

    >>> import chainrule as cr, chainrule.numpy as np
    >>> np.diagonal(np.array([[1.0, 2.0], [3.0, 4.0]]))
    array([1., 4.])
    >>> cr.grad(lambda x: np.sum(np.diagonal(x) * np.array([5.0, 6.0])))(np.zeros((2, 2)))
    array([[5., 0.],
           [0., 6.]])
    """
    a = asarray(a)
    moved = moveaxis(a, (axis1, axis2), (-2, -1))
    rows, cols = moved.shape[-2:]
    start_row, start_col = (0, offset) if offset >= 0 else (-offset, 0)
    length = builtins.max(0, builtins.min(rows - start_row, cols - start_col))
    template = _ix.IndexTemplate((("ellipsis",), ("array", 0), ("array", 1)))
    return _ix.gather(moved, _np.arange(length) + start_row, _np.arange(length) + start_col, template=template)


@numpy_when_untraced(_np.diag)
def diag(v, k=0):
    """``numpy.diag``: the k-th diagonal of a matrix, or a matrix with ``v`` on its k-th diagonal.

    >>> import chainrule as cr, chainrule.numpy as np
    >>> np.diag(np.array([1.0, 2.0]))
    array([[1., 0.],
           [0., 2.]])
    >>> cr.grad(lambda v: np.sum(np.diag(v) * np.array([[1.0, 2.0], [3.0, 4.0]])))(np.zeros(2))
    array([1., 4.])
    """
    v = asarray(v)
    if v.ndim == 2:
        return diagonal(v, k)
    if v.ndim != 1:
        raise ValueError(f"diag: input must be 1- or 2-d, got shape {v.shape}")
    n = v.shape[0] + builtins.abs(k)
    rows = _np.arange(v.shape[0]) + builtins.max(0, -k)
    cols = _np.arange(v.shape[0]) + builtins.max(0, k)
    template = _ix.IndexTemplate((("array", 0), ("array", 1)))
    return _ix.scatter_add(v, rows, cols, template=template, shape=(n, n))


@numpy_when_untraced(_np.trace)
def trace(a, offset=0, axis1=0, axis2=1):
    """``numpy.trace``.

    >>> import chainrule as cr, chainrule.numpy as np
    >>> float(np.trace(np.array([[1.0, 2.0], [3.0, 4.0]])))
    5.0
    >>> cr.grad(np.trace)(np.zeros((2, 2)))
    array([[1., 0.],
           [0., 1.]])
    """
    from .reductions import sum as _sum
    return _sum(diagonal(a, offset, axis1, axis2), axis=-1)


@numpy_when_untraced(_np.triu)
def triu(m, k=0):
    """``numpy.triu``.

    >>> import chainrule as cr, chainrule.numpy as np
    >>> np.triu(np.array([[1.0, 2.0], [3.0, 4.0]]))
    array([[1., 2.],
           [0., 4.]])
    >>> cr.grad(lambda x: np.sum(np.triu(x)))(np.zeros((2, 2)))
    array([[1., 1.],
           [0., 1.]])
    """
    m = asarray(m)
    return _cmp.select(_np.triu(_np.ones(m.shape[-2:], dtype=bool), k), m, 0.0)


@numpy_when_untraced(_np.tril)
def tril(m, k=0):
    """``numpy.tril``.

    >>> import chainrule as cr, chainrule.numpy as np
    >>> np.tril(np.array([[1.0, 2.0], [3.0, 4.0]]))
    array([[1., 0.],
           [3., 4.]])
    >>> cr.grad(lambda x: np.sum(np.tril(x)))(np.zeros((2, 2)))
    array([[1., 0.],
           [1., 1.]])
    """
    m = asarray(m)
    return _cmp.select(_np.tril(_np.ones(m.shape[-2:], dtype=bool), k), m, 0.0)


@numpy_when_untraced(_np.take)
def take(a, indices, axis=None):
    """``numpy.take`` (repeated indices accumulate their gradients).

    >>> import chainrule as cr, chainrule.numpy as np
    >>> np.take(np.array([1.0, 2.0, 3.0]), [2, 0, 2])
    array([3., 1., 3.])
    >>> cr.grad(lambda x: np.sum(np.take(x, [2, 0, 2])))(np.zeros(3))
    array([1., 0., 2.])
    """
    a = asarray(a)
    if axis is None:
        a, axis = ravel(a), 0
    axis = normalize_axes(axis, a.ndim)[0]
    indices = asarray(indices)  # traced or not, independently of a
    template = _ix.IndexTemplate((("slice", None, None, None),) * axis + (("array", 0),))
    return _ix.gather(a, indices, template=template)


def _along_axis_index(indices, axis, ndim_):
    """Full integer index arrays that pick ``indices`` along ``axis`` (NumPy's take_along_axis)."""
    dims = shape(indices)
    arrays = []
    for i in range(ndim_):
        if i == axis:
            arrays.append(indices)
        else:
            view = [1] * ndim_
            view[i] = dims[i]
            arrays.append(_np.arange(dims[i]).reshape(view))
    return arrays


@numpy_when_untraced(_np.take_along_axis)
def take_along_axis(arr, indices, axis):
    """``numpy.take_along_axis``.

    >>> import chainrule as cr, chainrule.numpy as np
    >>> np.take_along_axis(np.array([[1.0, 2.0], [3.0, 4.0]]), np.array([[1], [0]]), axis=1)
    array([[2.],
           [3.]])
    >>> cr.grad(lambda x: np.sum(np.take_along_axis(x, np.array([[1], [0]]), axis=1)))(np.zeros((2, 2)))
    array([[0., 1.],
           [1., 0.]])
    """
    arr = asarray(arr)
    if axis is None:
        arr, axis = ravel(arr), 0
    axis = normalize_axes(axis, arr.ndim)[0]
    arrays = _along_axis_index(indices, axis, arr.ndim)
    template = _ix.IndexTemplate(tuple(("array", i) for i in range(arr.ndim)))
    return _ix.gather(arr, *arrays, template=template)


@numpy_when_untraced(_np.argsort)
def argsort(a, axis=-1, kind=None):
    """``numpy.argsort`` (an integer permutation: derivative 0).

    >>> import chainrule as cr, chainrule.numpy as np
    >>> x = np.array([3.0, 1.0, 2.0])
    >>> np.argsort(x)
    array([1, 2, 0])
    >>> cr.grad(lambda x: np.sum(np.take(x, np.argsort(x)) * np.array([1.0, 2.0, 3.0])))(x)
    array([3., 1., 2.])
    """
    a = asarray(a)
    if axis is None:
        a, axis = ravel(a), 0
    return _red.argsort(a, axis=normalize_axes(axis, a.ndim)[0], kind=kind)


@numpy_when_untraced(_np.sort)
def sort(a, axis=-1, kind=None):
    """``numpy.sort``; the derivative follows the sorting permutation (ties keep a stable order).

    >>> import chainrule as cr, chainrule.numpy as np
    >>> np.sort(np.array([3.0, 1.0, 2.0]))
    array([1., 2., 3.])
    >>> cr.grad(lambda x: np.sum(np.sort(x) * np.array([1.0, 2.0, 3.0])))(np.array([3.0, 1.0, 2.0]))
    array([3., 1., 2.])
    """
    a = asarray(a)
    if axis is None:
        a, axis = ravel(a), 0
    axis = normalize_axes(axis, a.ndim)[0]
    return take_along_axis(a, argsort(a, axis=axis, kind=kind or "stable"), axis)


@numpy_when_untraced(_np.partition)
def partition(a, kth, axis=-1):
    """``numpy.partition``; the derivative follows the partitioning permutation.

    >>> import chainrule as cr, chainrule.numpy as np
    >>> float(np.partition(np.array([3.0, 1.0, 2.0]), 0)[0])
    1.0
    >>> cr.grad(lambda x: np.partition(x, 0)[0])(np.array([3.0, 1.0, 2.0]))  # flows to the smallest element
    array([0., 1., 0.])
    """
    a = asarray(a)
    if axis is None:
        a, axis = ravel(a), 0
    axis = normalize_axes(axis, a.ndim)[0]
    return take_along_axis(a, _red.argpartition(a, kth=kth, axis=axis), axis)


@numpy_when_untraced(_np.argpartition)
def argpartition(a, kth, axis=-1):
    """``numpy.argpartition`` (derivative 0).

    >>> import chainrule as cr, chainrule.numpy as np
    >>> x = np.array([3.0, 1.0, 2.0])
    >>> int(np.argpartition(x, 0)[0])
    1
    >>> cr.grad(lambda x: x[np.argpartition(x, 0)[0]])(x)
    array([0., 1., 0.])
    """
    a = asarray(a)
    return _red.argpartition(a, kth=kth, axis=normalize_axes(axis, a.ndim)[0])
