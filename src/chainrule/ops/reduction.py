"""Reductions: sum, max, min, prod, argmax/argmin, cumsum; cumprod as a log-depth product scan.

``axes`` is always a tuple of non-negative axes and reduced axes are dropped (the NumPy front
restores them for ``keepdims``).
"""
import numpy as np

from ..core.avals import ShapedArray
from ..core.primitive import Primitive
from . import arithmetic, batch_rules, comparison, structure
from .families import linear, zero_derivative


def _kept_shape(shape, axes):
    """``shape`` with the reduced ``axes`` kept as size 1: the shape a cotangent is broadcast from."""
    return tuple(1 if i in axes else d for i, d in enumerate(shape))


def _reduced_shape_rule(x, *, axes):
    return ShapedArray(tuple(d for i, d in enumerate(x.shape) if i not in axes), x.dtype)


def expand_reduced(value, shape, axes):
    """Broadcast a reduced value back over the reduced ``axes`` of ``shape``."""
    if not (value.shape if type(value) is np.ndarray else np.shape(value)):
        return structure.broadcast_to_primitive(value, shape=shape)  # a full reduction: a scalar broadcasts as is
    return structure.broadcast_to(structure.reshape(value, new_shape=_kept_shape(shape, axes)), shape)


def _sum_transpose(out_bar, x, *, axes):
    return expand_reduced(out_bar, x.shape, axes)


def _sum_impl(x, *, axes):
    if type(x) is np.ndarray and x.dtype.kind in "fc":
        return np.add.reduce(x, axis=axes)  # numpy.sum's wrappers cost more than a small sum itself
    return np.sum(x, axis=axes)


reduce_sum = linear("reduce_sum", _sum_impl, _sum_transpose, shape_rule=_reduced_shape_rule,
                    batch=batch_rules.shifted_axes("axes"))


def _extremum_derivative(x, out, axes):
    # Ties share the derivative equally (like JAX), so the derivative of max over equal values is their mean.
    shape = np.shape(x)
    is_extremum = structure.convert_element_type(comparison.eq(x, expand_reduced(out, shape, axes)),
                                                 dtype=np.result_type(x))
    count = reduce_sum(is_extremum, axes=axes)
    return arithmetic.div(is_extremum, expand_reduced(count, shape, axes))


def _make_extremum(name, impl):
    def jvp(primals, tangents, *, axes):
        (x,), (x_dot,) = primals, tangents
        out = primitive(x, axes=axes)
        weights = _extremum_derivative(x, out, axes)
        return out, reduce_sum(arithmetic.mul(weights, x_dot), axes=axes)

    def vjp(out, x, *, axes):
        shape = np.shape(x)
        weights = _extremum_derivative(x, out, axes)

        def pullback(out_bar):
            return (arithmetic.mul(weights, expand_reduced(out_bar, shape, axes)),)
        return pullback

    vjp.__name__ = f"{name}_vjp"
    primitive = Primitive(name, impl, shape_rule=_reduced_shape_rule, jvp=jvp, vjp=vjp,
                          batch=batch_rules.shifted_axes("axes"), convention="ties share the derivative equally")
    return primitive


reduce_max = _make_extremum("reduce_max", lambda x, *, axes: np.max(x, axis=axes))
reduce_min = _make_extremum("reduce_min", lambda x, *, axes: np.min(x, axis=axes))


def _index_shape_rule(x, *, axis):
    shape = tuple(d for i, d in enumerate(x.shape) if i != axis) if axis is not None else ()
    return ShapedArray(shape, np.int64)


argmax = zero_derivative("argmax", lambda x, *, axis: np.argmax(x, axis=axis), shape_rule=_index_shape_rule,
                         batch=batch_rules.shifted_axes("axis"), convention="integer result: derivative 0")
argmin = zero_derivative("argmin", lambda x, *, axis: np.argmin(x, axis=axis), shape_rule=_index_shape_rule,
                         batch=batch_rules.shifted_axes("axis"), convention="integer result: derivative 0")


def _cumsum_impl(x, *, axis, reverse):
    if reverse:
        return np.flip(np.cumsum(np.flip(x, axis), axis=axis), axis)
    return np.cumsum(x, axis=axis)


def _cumsum_transpose(out_bar, x, *, axis, reverse):
    return cumsum(out_bar, axis=axis, reverse=not reverse)


cumsum = linear("cumsum", _cumsum_impl, _cumsum_transpose,
                shape_rule=lambda x, *, axis, reverse: ShapedArray(x.shape, x.dtype),
                batch=batch_rules.shifted_axes("axis"))


def _shift_along(x, axis, shift, fill):
    """``x`` shifted by ``shift`` places along ``axis``, the vacated places filled with ``fill``."""
    from .indexing import take_slices
    shape = np.shape(x)
    ndim = len(shape)
    kept = [slice(None)] * ndim
    kept[axis] = slice(0, shape[axis] - shift)
    widths = [(0, 0)] * ndim
    widths[axis] = (shift, 0)
    shifted = structure.pad(take_slices(x, tuple(kept)), widths=tuple(widths))
    if fill == 0:
        return shifted
    mask = np.zeros(shape, dtype=bool)
    index = [slice(None)] * ndim
    index[axis] = slice(0, shift)
    mask[tuple(index)] = True
    return comparison.select(mask, fill, shifted)


def cumulative_product(x, axis):
    """Inclusive product scan along ``axis`` in log2(n) multiplication rounds (Hillis–Steele).

    Built only from mul/pad/slice, so it is exact with zeros and differentiable to any order.
    """
    size = np.shape(x)[axis]
    shift = 1
    while shift < size:
        x = arithmetic.mul(x, _shift_along(x, axis, shift, 1.0))
        shift *= 2
    return x


def _prod_derivative(x, axes):
    # d prod / d x_i = product of all other elements: exclusive left scan times exclusive right scan,
    # which stays exact when some elements are zero (no division by x).
    shape = np.shape(x)
    kept = [i for i in range(len(shape)) if i not in axes]
    moved = structure.transpose(x, permutation=tuple(kept) + tuple(axes))
    flat_shape = tuple(shape[i] for i in kept) + (int(np.prod([shape[a] for a in axes], dtype=np.int64)),)
    flat = structure.reshape(moved, new_shape=flat_shape)
    last = len(flat_shape) - 1
    left = _shift_along(cumulative_product(flat, last), last, 1, 1.0)
    right = structure.rev(_shift_along(cumulative_product(structure.rev(flat, axes=(last,)), last), last, 1, 1.0),
                          axes=(last,))
    others = arithmetic.mul(left, right)
    moved_shape = tuple(shape[i] for i in kept) + tuple(shape[a] for a in axes)
    others = structure.reshape(others, new_shape=moved_shape)
    return structure.transpose(others, permutation=tuple(np.argsort(tuple(kept) + tuple(axes))))


def _prod_jvp(primals, tangents, *, axes):
    (x,), (x_dot,) = primals, tangents
    out = reduce_prod(x, axes=axes)
    return out, reduce_sum(arithmetic.mul(_prod_derivative(x, axes), x_dot), axes=axes)


def _prod_vjp(out, x, *, axes):
    shape = np.shape(x)
    partial = _prod_derivative(x, axes)

    def prod_pullback(out_bar):
        return (arithmetic.mul(partial, expand_reduced(out_bar, shape, axes)),)
    return prod_pullback


reduce_prod = Primitive("reduce_prod", lambda x, *, axes: np.prod(x, axis=axes), shape_rule=_reduced_shape_rule,
                        jvp=_prod_jvp, vjp=_prod_vjp, batch=batch_rules.shifted_axes("axes"))


argsort = zero_derivative("argsort", lambda x, *, axis, kind: np.argsort(x, axis=axis, kind=kind),
                          shape_rule=lambda x, *, axis, kind: ShapedArray(x.shape, np.int64),
                          batch=batch_rules.shifted_axes("axis"), convention="integer result: derivative 0")
argpartition = zero_derivative("argpartition", lambda x, *, kth, axis: np.argpartition(x, kth, axis=axis),
                               shape_rule=lambda x, *, kth, axis: ShapedArray(x.shape, np.int64),
                               batch=batch_rules.shifted_axes("axis"), convention="integer result: derivative 0")
