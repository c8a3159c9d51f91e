"""Structural primitives: reshape, transpose, broadcast_to, concatenate, pad, rev, convert_element_type.

All are linear; each VJP is the structural inverse (a broadcast's is a sum).
"""
import numpy as np

from ..core.avals import ShapedArray
from ..core.primitive import Primitive
from ..core.zeros import instantiate
from .families import linear
from . import batch_rules, reduction


def _reshape_transpose(out_bar, x, *, new_shape):
    return reshape(out_bar, new_shape=x.shape)


def _reshape_shape_rule(x, *, new_shape):
    return ShapedArray(new_shape, x.dtype)


def _reshape_batch(primitive, values, batched, params, size):
    return reshape(values[0], new_shape=(size,) + tuple(params["new_shape"]))


def _reshape_impl(x, *, new_shape):
    return x.reshape(new_shape) if type(x) is np.ndarray else np.reshape(x, new_shape)


reshape = linear("reshape", _reshape_impl, _reshape_transpose,
                 shape_rule=_reshape_shape_rule, batch=_reshape_batch)


def _transpose_transpose(out_bar, x, *, permutation):
    return transpose(out_bar, permutation=tuple(np.argsort(permutation)))


def _transpose_shape_rule(x, *, permutation):
    return ShapedArray(tuple(x.shape[p] for p in permutation), x.dtype)


def _transpose_batch(primitive, values, batched, params, size):
    return transpose(values[0], permutation=(0,) + tuple(p + 1 for p in params["permutation"]))


transpose = linear("transpose", lambda x, *, permutation: np.transpose(x, permutation), _transpose_transpose,
                   shape_rule=_transpose_shape_rule, batch=_transpose_batch)


def _broadcast_transpose(out_bar, x, *, shape):
    x_shape = x.shape
    added = len(shape) - len(x_shape)
    summed = tuple(range(added)) + tuple(
        added + i for i, d in enumerate(x_shape) if d == 1 and shape[added + i] != 1)
    total = reduction.reduce_sum(out_bar, axes=summed) if summed else out_bar
    if np.shape(total) != x_shape:
        total = reshape(total, new_shape=x_shape)
    return total


def _broadcast_shape_rule(x, *, shape):
    return ShapedArray(shape, x.dtype)


def _broadcast_batch(primitive, values, batched, params, size):
    value = values[0]
    target = tuple(params["shape"])
    shape = batch_rules.shape_of(value)
    missing = len(target) - (len(shape) - 1)
    if missing:
        value = reshape(value, new_shape=(size,) + (1,) * missing + tuple(shape[1:]))
    return broadcast_to(value, (size,) + target)


def _broadcast_impl(x, *, shape):
    if type(x) is np.ndarray and not x.shape and x.dtype.kind in "biufc":
        # A numeric scalar (a full reduction's cotangent): a read-only stride-0 view made directly, since
        # numpy.broadcast_to costs several times more than the rest of a small gradient.
        view = np.ndarray(shape, x.dtype, x, 0, (0,) * len(shape))
        view.flags.writeable = False
        return view
    return np.broadcast_to(x, shape)


broadcast_to_primitive = linear("broadcast_to", _broadcast_impl,
                                _broadcast_transpose, shape_rule=_broadcast_shape_rule, batch=_broadcast_batch)


def broadcast_to(x, shape):
    """Broadcast ``x`` to ``shape`` (a no-op when the shape already matches)."""
    shape = tuple(shape)
    if np.shape(x) == shape:
        return x
    return broadcast_to_primitive(x, shape=shape)


def _rev_transpose(out_bar, x, *, axes):
    return rev(out_bar, axes=axes)


rev = linear("rev", lambda x, *, axes: np.flip(x, axes), _rev_transpose,
             shape_rule=lambda x, *, axes: ShapedArray(x.shape, x.dtype), batch=batch_rules.shifted_axes("axes"))


def _pad_impl(x, *, widths):
    # zeros and one slice assignment: the same array as np.pad's constant mode, at a tenth of its cost
    x = np.asarray(x)
    if any(before < 0 or after < 0 for before, after in widths):
        return np.pad(x, widths)  # which refuses negative widths with NumPy's message
    padded = np.zeros(tuple(size + before + after for size, (before, after) in zip(x.shape, widths)), x.dtype)
    padded[tuple(slice(before, before + size) for size, (before, _) in zip(x.shape, widths))] = x
    return padded


def _pad_transpose(out_bar, x, *, widths):
    from .indexing import take_slices
    slices = tuple(slice(before, before + size) for (before, _), size in zip(widths, x.shape))
    return take_slices(out_bar, slices)


def _pad_shape_rule(x, *, widths):
    return ShapedArray(tuple(d + a + b for d, (a, b) in zip(x.shape, widths)), x.dtype)


def _pad_batch(primitive, values, batched, params, size):
    return pad(values[0], widths=((0, 0),) + tuple(params["widths"]))


pad = linear("pad", _pad_impl, _pad_transpose, shape_rule=_pad_shape_rule, batch=_pad_batch)


def _convert_impl(x, *, dtype):
    return np.asarray(x).astype(dtype, copy=False)


def _convert_transpose(out_bar, x, *, dtype):
    target = x.dtype
    if np.issubdtype(np.result_type(out_bar), np.complexfloating) and not np.issubdtype(target, np.complexfloating):
        from .elementwise import real  # a real input's cotangent is the real part (JAX's convention)
        out_bar = real(out_bar)
    return convert_element_type(out_bar, dtype=target)


convert_element_type = linear("convert_element_type", _convert_impl, _convert_transpose,
                              shape_rule=lambda x, *, dtype: ShapedArray(x.shape, dtype), batch=batch_rules.same_params)


def _concatenate_impl(*xs, axis):
    return np.concatenate(xs, axis=axis)


def _concatenate_jvp(primals, tangents, *, axis):
    out = concatenate(*primals, axis=axis)
    if all(t is None for t in tangents):
        return out, None
    return out, concatenate(*(instantiate(t, x) for t, x in zip(tangents, primals)), axis=axis)


def _concatenate_vjp(out, *xs, axis):
    sizes = [np.shape(x)[axis] for x in xs]

    def concatenate_pullback(out_bar):
        from .indexing import take_slices
        cotangents, start = [], 0
        ndim = len(np.shape(out_bar))
        for size in sizes:
            index = [slice(None)] * ndim
            index[axis] = slice(start, start + size)
            cotangents.append(take_slices(out_bar, tuple(index)))
            start += size
        return tuple(cotangents)
    return concatenate_pullback


def _concatenate_batch(primitive, values, batched, params, size):
    return concatenate(*[batch_rules.materialize(v, b, size) for v, b in zip(values, batched)],
                       axis=params["axis"] + 1)


def _concatenate_shape_rule(*avals, axis):
    first = avals[0]
    shape = list(first.shape)
    shape[axis] = sum(a.shape[axis] for a in avals)
    return ShapedArray(shape, np.result_type(*(a.dtype for a in avals)))


concatenate = Primitive("concatenate", _concatenate_impl, shape_rule=_concatenate_shape_rule,
                        jvp=_concatenate_jvp, vjp=_concatenate_vjp, batch=_concatenate_batch, linear=True)
