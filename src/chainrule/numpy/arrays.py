"""Array creation and the helpers every part of the NumPy front shares: the one traced-or-plain decision
(``is_traced``, ``numpy_when_untraced``) and axis normalization."""
import functools
import inspect
import sys

import numpy as _np

from ..core.interpreter import Tracer
from ..ops import structure

ndarray = _np.ndarray


class ArrayWithAt(_np.ndarray):
    """A NumPy array with one addition, JAX's ``x.at[index]`` functional updates: what the constructors of
    ``chainrule.numpy`` (``zeros``, ``array``, ``linspace``, ...) return, so that ``np.zeros(4).at[i].set(v)``
    works inside and outside transforms. Views and copies of it keep ``.at``; arithmetic (NumPy's ufuncs) gives
    plain NumPy arrays, so it stays where it was made rather than spreading through every computation (and out
    of the transforms' paths for plain arrays). ``np.asarray(y)`` gives any array ``.at`` (a view, no copy).
    It prints as a NumPy array.

    >>> import chainrule.numpy as np
    >>> x = np.zeros(3)
    >>> x.at[1].set(5.0), x  # a new array; x itself is unchanged
    (array([0., 5., 0.]), array([0., 0., 0.]))
    >>> type(x + 1.0) is np.ndarray
    True
    """

    def __array_wrap__(self, array, context=None, return_scalar=False):
        if return_scalar:
            return array[()]
        return array if type(array) is _np.ndarray else array.view(_np.ndarray)

    def __repr__(self):
        return repr(self.view(_np.ndarray))


def with_at(value):
    """``value`` as an ``ArrayWithAt`` when it is a plain NumPy array (the same memory); anything else as it is."""
    return value.view(ArrayWithAt) if type(value) is _np.ndarray else value


_SCANNED = (Tracer, list, tuple)  # a traced value, or a sequence that may hold one (NumPy reads lists as arrays)
# The argument types met most, none of them traced: one set lookup passes them (the check runs on every call).
_PLAIN = frozenset({_np.ndarray, ArrayWithAt, float, int, bool, complex, str, type(None), slice, type, _np.float64,
                    _np.float32, _np.complex128, _np.int64, _np.int32, _np.bool_})


def _traced(values):
    """Whether any of ``values`` is traced, looking inside lists and tuples: the one predicate of the front."""
    for value in values:
        if type(value) in _PLAIN or not isinstance(value, _SCANNED):
            continue
        if isinstance(value, Tracer) or _traced(value):
            return True
    return False


def is_traced(*values):
    """Whether any of ``values`` is traced, i.e. being differentiated (or staged) by a transform; a list or
    tuple counts as traced when an item is (NumPy reads it as one array).

    >>> import chainrule as cr, chainrule.numpy as np
    >>> def f(x):
    ...     print("traced:", np.is_traced(x), np.is_traced([1.0, x]))
    ...     return x * x
    >>> f(3.0)
    traced: False False
    9.0
    >>> float(cr.grad(f)(3.0))
    traced: True True
    6.0
    """
    return _traced(values)


def numpy_when_untraced(numpy_function):
    """Decorator: the decorated function is the traced implementation, and ``numpy_function`` (NumPy's or SciPy's
    own) is called with the same arguments when none is traced (``is_traced`` of every positional and keyword
    argument, lists and tuples of arrays included), so plain inputs get NumPy's exact result.

    The decorated function's signature stays the contract: a call it rejects raises its own ``TypeError``
    whatever the inputs, and its positional parameters may come by keyword even where NumPy takes them by
    position only (ufuncs). Where NumPy gives a parameter another position or default, ``numpy_function`` is a
    small adapter with the decorated function's signature.

    >>> import chainrule as cr, numpy
    >>> from chainrule.numpy.arrays import numpy_when_untraced
    >>> @numpy_when_untraced(numpy.cumsum)
    ... def running_total(a):
    ...     return a + 0.0  # (stands in for a traced implementation)
    >>> running_total([1.0, 2.0])  # nothing traced: numpy.cumsum
    array([1., 3.])
    >>> float(cr.grad(running_total)(2.0))  # traced: the decorated body
    1.0
    """
    def decorate(traced_function):
        signature = inspect.signature(traced_function)
        required, most, keywords = _arity(signature)
        fewest = len(required)
        by_position = _taken_by_position(signature, numpy_function)

        @functools.wraps(traced_function)
        def dispatch(*args, **kwargs):
            # This runs on every NumPy call of users' code: _traced(args) inlined one level down, then the
            # checks that keep the decorated signature the contract (a call it rejects goes to it, to raise).
            for value in args:
                if type(value) in _PLAIN or not isinstance(value, _SCANNED):
                    continue
                if isinstance(value, Tracer):
                    return traced_function(*args, **kwargs)
                for item in value:  # a list or tuple (NumPy reads it as an array)
                    if type(item) not in _PLAIN and isinstance(item, _SCANNED) and (
                            isinstance(item, Tracer) or _traced(item)):
                        return traced_function(*args, **kwargs)
            if kwargs:
                count = len(args)
                if (_traced(kwargs.values()) or count > most
                        or (keywords is not None and not keywords.issuperset(kwargs))
                        or (count < fewest and not all(name in kwargs for name in required[count:]))):
                    return traced_function(*args, **kwargs)  # traced, or a call its signature rejects
                if by_position and not by_position.isdisjoint(kwargs):
                    bound = signature.bind(*args, **kwargs)
                    bound.apply_defaults()
                    return numpy_function(*bound.args, **bound.kwargs)
                return numpy_function(*args, **kwargs)
            if not fewest <= len(args) <= most:
                return traced_function(*args)  # a call its signature rejects: raises its TypeError
            return numpy_function(*args)
        dispatch.numpy_function = numpy_function
        return dispatch
    return decorate


def _arity(signature):
    """The names of the required positional parameters, how many positional arguments a call may pass, and the
    keyword names it may use (None: any)."""
    parameters = list(signature.parameters.values())
    kinds = {parameter.kind for parameter in parameters}
    positional = [p for p in parameters if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    required = tuple(p.name for p in positional if p.default is p.empty)
    most = sys.maxsize if inspect.Parameter.VAR_POSITIONAL in kinds else len(positional)
    keywords = None if inspect.Parameter.VAR_KEYWORD in kinds else frozenset(
        p.name for p in parameters if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY))
    return required, most, keywords


def _taken_by_position(signature, numpy_function):
    """Names of the decorated function's parameters that ``numpy_function`` takes at the same position but not
    by keyword (ufunc inputs, parameters before ``/``). Without a signature to read, every positional one: a
    keyword passed on as a position is still right, since NumPy's positions match the front's."""
    ours = []
    for parameter in signature.parameters.values():
        if parameter.kind is not parameter.POSITIONAL_OR_KEYWORD:
            break
        ours.append(parameter.name)
    if isinstance(numpy_function, _np.ufunc):
        return frozenset(ours[:numpy_function.nin])
    try:
        theirs = list(inspect.signature(numpy_function).parameters.values())
    except (TypeError, ValueError):
        return frozenset(ours)
    names = set()
    for name, their in zip(ours, theirs):
        if their.kind is their.VAR_POSITIONAL:
            break
        if their.kind is their.POSITIONAL_ONLY:
            names.add(name)
    return frozenset(names)


def _shape_of(a):
    if type(a) is _np.ndarray:
        return a.shape
    if is_traced(a):
        return (asarray(a) if isinstance(a, (list, tuple)) else a).shape
    return _np.shape(a)


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
    return _np.result_type(*(asarray(a).dtype if is_traced(a) else a for a in arrays_and_dtypes))


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
        parts = [p if is_traced(p) else _np.asarray(p) for p in parts]
        common = _np.broadcast_shapes(*(shape(p) for p in parts))
        if any(shape(p) != common for p in parts):
            raise ValueError("setting an array element with a sequence: the nested sequences have shapes "
                             f"{[shape(p) for p in parts]}")
        columns = [structure.reshape(p, new_shape=(1,) + common) if is_traced(p)
                   else p.reshape((1,) + common) for p in parts]
        return structure.concatenate(*columns, axis=0)
    return value


def _array_plain(object, dtype=None, copy=True, ndmin=0):
    return _np.array(object, dtype=dtype, copy=copy, ndmin=ndmin)  # NumPy's copy and ndmin are keyword-only


@numpy_when_untraced(_array_plain)
def array(object, dtype=None, copy=True, ndmin=0):
    """``numpy.array``; a list holding traced values is stacked into a traced array.

    >>> import chainrule.numpy as np
    >>> np.array([1.0, 2.0])
    array([1., 2.])
    """
    out = _stack_nested(object)
    if out is object and copy:
        from .views import clone
        out = clone(out)
    if dtype is not None and _np.dtype(dtype) != out.dtype:
        out = structure.convert_element_type(out, dtype=_np.dtype(dtype))
    while ndim(out) < ndmin:
        out = structure.reshape(out, new_shape=(1,) + shape(out))
    return out


@numpy_when_untraced(_np.asarray)
def asarray(a, dtype=None):
    """``numpy.asarray``; traced values pass through (converted to ``dtype`` if given).

    >>> import chainrule as cr, chainrule.numpy as np
    >>> np.asarray([1.0, 2.0])
    array([1., 2.])
    >>> float(cr.grad(lambda x: np.sum(np.asarray([x, 2 * x])))(1.0))  # a list of traced values is stacked
    3.0
    """
    if dtype is None and not isinstance(a, (list, tuple)):
        return a  # a traced value itself
    return array(a, dtype=dtype, copy=False)


def _astype_plain(x, dtype):
    dtype = _np.dtype(dtype)
    if isinstance(x, _np.generic):
        return x.astype(dtype)  # a NumPy scalar stays a scalar, as with numpy.astype
    return _np.asarray(x).astype(dtype)


@numpy_when_untraced(_astype_plain)
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
    x = asarray(x)
    if x.dtype == dtype:
        return x
    if not _np.issubdtype(dtype, _np.inexact):
        from ..ops.control import stop_gradient
        return structure.convert_element_type(stop_gradient(x), dtype=dtype)
    return structure.convert_element_type(x, dtype=dtype)


def _real_if_close_plain(a, tol=100):
    return _np.real_if_close(a, tol=tol)


@numpy_when_untraced(_real_if_close_plain)
def real_if_close(a, tol=100):
    """``numpy.real_if_close``: the real part of a complex array whose imaginary parts are all within ``tol``
    (in machine epsilons when above 1) of zero; otherwise the array itself. Which of the two is decided on
    the values, so under a staging transform (jit) it raises; the derivative is that of the result.

    >>> import chainrule as cr, chainrule.numpy as np
    >>> np.real_if_close(np.array([2.0 + 1e-15j, 3.0]))
    array([2., 3.])
    >>> float(cr.grad(lambda x: np.real_if_close(x * (1.0 + 1e-18j)) ** 2)(3.0))
    6.0
    """
    a = asarray(a)
    if not _np.issubdtype(a.dtype, _np.complexfloating):
        return a
    if tol > 1:
        tol = _np.finfo(a.dtype).eps * tol
    from .elementwise import real
    value = a.concrete_value() if is_traced(a) else a  # the choice is the values' (staging refuses, clearly)
    return real(a) if _np.all(_np.absolute(_np.imag(value)) < tol) else a


def zeros_like(a, dtype=None, shape=None):
    """The front's own ``numpy.zeros_like`` (a constant); the public one (constructors.py) adds ``.at``."""
    return _np.zeros(shape if shape is not None else _shape_of(a), dtype=dtype or result_type(a))


def ones_like(a, dtype=None, shape=None):
    """The front's own ``numpy.ones_like`` (a constant); the public one adds ``.at``."""
    return _np.ones(shape if shape is not None else _shape_of(a), dtype=dtype or result_type(a))


def full_like(a, fill_value, dtype=None, shape=None):
    """The front's own ``numpy.full_like``: a traced ``fill_value`` is broadcast; the public one adds ``.at``."""
    target = shape if shape is not None else _shape_of(a)
    if is_traced(fill_value):  # only the fill value carries a derivative; a traced `a` gives just its shape
        return structure.broadcast_to(asarray(fill_value), tuple(target))
    return _np.full(target, fill_value, dtype=dtype or result_type(a))


def full(shape, fill_value, dtype=None):
    """The front's own ``numpy.full``: a traced ``fill_value`` is broadcast; the public one adds ``.at``."""
    if is_traced(fill_value):
        target = (shape,) if isinstance(shape, int) else tuple(shape)
        return structure.broadcast_to(asarray(fill_value), target)
    return _np.full(shape, fill_value, dtype=dtype)


# NumPy's constructors, for the front's own constants; the public ones (constructors.py) add ``.at``.
zeros = _np.zeros
ones = _np.ones
empty = _np.empty
eye = _np.eye
identity = _np.identity
arange = _np.arange
linspace = _np.linspace
logspace = _np.logspace


@numpy_when_untraced(_np.copy)
def copy(a):
    """The front's own ``numpy.copy`` (a new array object); the public one adds ``.at``.

    >>> import chainrule as cr
    >>> float(cr.grad(lambda x: copy(x) * x)(2.0))  # the copy carries x's derivative
    4.0
    """
    from .views import clone
    return clone(asarray(a))
