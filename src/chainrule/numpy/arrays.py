"""Array creation and the helpers every part of the NumPy front shares (axis normalization, tracing checks)."""
import numpy as _np

from ..core.interpreter import Tracer
from ..ops import structure

ndarray = _np.ndarray


def is_traced(*values):
    """Whether any of ``values`` is traced, i.e. being differentiated (or staged) by a transform.

    >>> import chainrule as cr, chainrule.numpy as np
    >>> def f(x):
    ...     print("traced:", np.is_traced(x))
    ...     return x * x
    >>> f(3.0)
    traced: False
    9.0
    >>> float(cr.grad(f)(3.0))
    traced: True
    6.0
    """
    for value in values:
        if isinstance(value, Tracer):
            return True
    return False


def _shape_of(a):
    return a.shape if type(a) is _np.ndarray or isinstance(a, Tracer) else _np.shape(a)


def shape(a):
    """Shape of an array, scalar or traced value (``numpy.shape``).

    >>> import chainrule as cr, chainrule.numpy as np
    >>> np.shape(np.ones((2, 3)))
    (2, 3)
    >>> cr.grad(lambda x: np.sum(x) / np.shape(x)[0])(np.ones(4))  # traced values have a shape too
    array([0.25, 0.25, 0.25, 0.25])
    """
    return _shape_of(a)


def ndim(a):
    """Number of dimensions (``numpy.ndim``).

    >>> import chainrule as cr, chainrule.numpy as np
    >>> np.ndim(np.ones((2, 3))), np.ndim(1.0)
    (2, 0)
    >>> cr.grad(lambda x: np.sum(x) * np.ndim(x))(np.ones((2, 2)))
    array([[2., 2.],
           [2., 2.]])
    """
    return len(shape(a))


def size(a, axis=None):
    """Number of elements (``numpy.size``).

    >>> import chainrule as cr, chainrule.numpy as np
    >>> np.size(np.ones((2, 3))), np.size(np.ones((2, 3)), axis=1)
    (6, 3)
    >>> cr.grad(lambda x: np.sum(x) / np.size(x))(np.ones(2))
    array([0.5, 0.5])
    """
    dims = shape(a)
    return int(_np.prod(dims, dtype=_np.int64)) if axis is None else dims[axis]


def result_type(*arrays_and_dtypes):
    """``numpy.result_type`` that understands traced values.

    >>> import chainrule as cr, chainrule.numpy as np
    >>> np.result_type(np.array([1, 2]), np.float32)
    dtype('float64')
    >>> float(cr.grad(lambda x: np.astype(x * x, np.result_type(x, np.float32)))(3.0))  # traced x: its dtype
    6.0
    """
    return _np.result_type(*(a.dtype if isinstance(a, Tracer) else a for a in arrays_and_dtypes))


def normalize_axes(axis, ndim_, name="axis"):
    """``axis`` (None, int or tuple) as a sorted tuple of non-negative axes, with NumPy's error on overflow.

    >>> from chainrule.numpy.arrays import normalize_axes
    >>> normalize_axes(-1, 3), normalize_axes((2, 0), 3), normalize_axes(None, 2)
    ((2,), (0, 2), (0, 1))
    """
    if axis is None:
        return tuple(range(ndim_))
    axes = (axis,) if isinstance(axis, (int, _np.integer)) else tuple(axis)
    normalized = []
    for a in axes:
        a = int(a)
        if not -ndim_ <= a < ndim_:
            raise _np.exceptions.AxisError(f"{name} {a} is out of bounds for array of dimension {ndim_}")
        normalized.append(a % ndim_)
    if len(set(normalized)) != len(normalized):
        raise ValueError(f"repeated {name} in {axis!r}")
    return tuple(sorted(normalized))


def _stack_nested(value):
    """Turn a (nested) list/tuple holding traced values into one traced array."""
    if isinstance(value, (list, tuple)):
        parts = [_stack_nested(v) for v in value]
        if not is_traced(*parts):
            return _np.array(parts)
        parts = [p if isinstance(p, Tracer) else _np.asarray(p) for p in parts]
        common = _np.broadcast_shapes(*(shape(p) for p in parts))
        if any(shape(p) != common for p in parts):
            raise ValueError("setting an array element with a sequence: the nested sequences have shapes "
                             f"{[shape(p) for p in parts]}")
        columns = [structure.reshape(p, new_shape=(1,) + common) if isinstance(p, Tracer)
                   else p.reshape((1,) + common) for p in parts]
        return structure.concatenate(*columns, axis=0)
    return value


def array(object, dtype=None, copy=True, ndmin=0):
    """``numpy.array``; a list holding traced values is stacked into a traced array.

    >>> import chainrule.numpy as np
    >>> np.array([1.0, 2.0])
    array([1., 2.])
    """
    if isinstance(object, Tracer) or (isinstance(object, (list, tuple)) and _contains_tracer(object)):
        out = _stack_nested(object)
        if out is object and copy:
            from .views import clone
            out = clone(out)
        if dtype is not None and _np.dtype(dtype) != out.dtype:
            out = structure.convert_element_type(out, dtype=_np.dtype(dtype))
        while ndim(out) < ndmin:
            out = structure.reshape(out, new_shape=(1,) + shape(out))
        return out
    return _np.array(object, dtype=dtype, copy=copy, ndmin=ndmin)


def _contains_tracer(sequence):
    for item in sequence:
        if isinstance(item, Tracer):
            return True
        if isinstance(item, (list, tuple)) and _contains_tracer(item):
            return True
    return False


def asarray(a, dtype=None):
    """``numpy.asarray``; traced values pass through (converted to ``dtype`` if given).

    >>> import chainrule as cr, chainrule.numpy as np
    >>> np.asarray([1.0, 2.0])
    array([1., 2.])
    >>> float(cr.grad(lambda x: np.sum(np.asarray([x, 2 * x])))(1.0))  # a list of traced values is stacked
    3.0
    """
    if isinstance(a, Tracer):
        return a if dtype is None else array(a, dtype=dtype, copy=False)
    if isinstance(a, (list, tuple)) and _contains_tracer(a):
        return array(a, dtype=dtype, copy=False)
    return _np.asarray(a, dtype=dtype)


def astype(x, dtype):
    """``x.astype(dtype)``: a float-to-float conversion keeps the derivative, to integer drops it.

    >>> import chainrule as cr, chainrule.numpy as np
    >>> np.astype(np.array([1.5, 2.5]), np.int64)
    array([1, 2])
    >>> float(cr.grad(lambda x: np.astype(x, np.float32))(1.5))  # float to float keeps the derivative
    1.0
    >>> float(cr.grad(lambda x: x + np.astype(x, np.int64))(1.5))  # float to integer drops it
    1.0
    """
    dtype = _np.dtype(dtype)
    if not isinstance(x, Tracer):
        return _np.asarray(x).astype(dtype)
    if x.dtype == dtype:
        return x
    if not _np.issubdtype(dtype, _np.inexact):
        from ..ops.control import stop_gradient
        return structure.convert_element_type(stop_gradient(x), dtype=dtype)
    return structure.convert_element_type(x, dtype=dtype)


def zeros_like(a, dtype=None, shape=None):
    """``numpy.zeros_like`` (a constant: no derivative flows through it).

    >>> import chainrule as cr, chainrule.numpy as np
    >>> np.zeros_like(np.array([1.0, 2.0]))
    array([0., 0.])
    >>> cr.grad(lambda x: np.sum(x + np.zeros_like(x)))(np.array([1.0, 2.0]))  # only x contributes
    array([1., 1.])
    """
    return _np.zeros(shape if shape is not None else _shape_of(a), dtype=dtype or result_type(a))


def ones_like(a, dtype=None, shape=None):
    """``numpy.ones_like`` (a constant).

    >>> import chainrule as cr, chainrule.numpy as np
    >>> np.ones_like(np.array([1.0, 2.0]))
    array([1., 1.])
    >>> cr.grad(lambda x: np.sum(x * np.ones_like(x)))(np.array([1.0, 2.0]))  # a constant factor
    array([1., 1.])
    """
    return _np.ones(shape if shape is not None else _shape_of(a), dtype=dtype or result_type(a))


def full_like(a, fill_value, dtype=None, shape=None):
    """``numpy.full_like``; a traced ``fill_value`` is broadcast (and keeps its derivative).

    >>> import chainrule as cr, chainrule.numpy as np
    >>> np.full_like(np.zeros(3), 2.0)
    array([2., 2., 2.])
    >>> float(cr.grad(lambda v: np.sum(np.full_like(np.zeros(3), v)))(2.0))  # v fills 3 entries
    3.0
    """
    target = shape if shape is not None else _shape_of(a)
    if isinstance(fill_value, Tracer):
        return structure.broadcast_to(fill_value, tuple(target))
    return _np.full(target, fill_value, dtype=dtype or result_type(a))


def full(shape, fill_value, dtype=None):
    """``numpy.full``; a traced ``fill_value`` is broadcast (and keeps its derivative).

    >>> import chainrule as cr, chainrule.numpy as np
    >>> np.full(2, 7.0)
    array([7., 7.])
    >>> float(cr.grad(lambda v: np.sum(np.full((2, 3), v)))(1.0))  # v fills 6 entries
    6.0
    """
    if isinstance(fill_value, Tracer):
        target = (shape,) if isinstance(shape, int) else tuple(shape)
        return structure.broadcast_to(fill_value, target)
    return _np.full(shape, fill_value, dtype=dtype)


zeros = _np.zeros
ones = _np.ones
empty = _np.empty
eye = _np.eye
identity = _np.identity
arange = _np.arange
linspace = _np.linspace
logspace = _np.logspace
def copy(a):
    """``numpy.copy``: a new array object (updating one leaves the other alone).

    >>> import chainrule as cr, chainrule.numpy as np
    >>> a = np.array([1.0, 2.0])
    >>> b = np.copy(a); b[0] = 5.0
    >>> a, cr.grad(lambda x: np.sum(np.copy(x) * x))(a)
    (array([1., 2.]), array([2., 4.]))
    """
    if isinstance(a, Tracer):
        from .views import clone
        return clone(a)
    return _np.copy(a)
