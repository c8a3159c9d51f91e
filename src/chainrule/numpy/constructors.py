"""The public array constructors (``zeros``, ``array``, ``arange``, ``linspace``, ...): NumPy's values, returned as
``ArrayWithAt`` so that JAX's ``x.at[i].set(v)`` works on them; ``linspace``, ``logspace`` and ``geomspace`` are
differentiable in their endpoints (and ``logspace`` in its base)."""
import operator

import numpy as _np

from ..core.interpreter import ConcretizationError
from . import arrays
from .arrays import astype, is_traced, ndim, numpy_when_untraced, result_type, shape, with_at


def zeros(shape, dtype=None, order="C", **kwargs):
    """``numpy.zeros``; the result has ``.at``, so a traced value can be written into it.

    >>> import chainrule as cr, chainrule.numpy as np
    >>> np.zeros(3)
    array([0., 0., 0.])
    >>> float(cr.grad(lambda v: np.sum(np.zeros(3).at[1].set(v) ** 2))(2.0))  # d/dv v**2
    4.0
    """
    return with_at(_np.zeros(shape, dtype, order, **kwargs))


def ones(shape, dtype=None, order="C", **kwargs):
    """``numpy.ones``, with ``.at``.

    >>> import chainrule as cr, chainrule.numpy as np
    >>> np.ones(2).at[0].multiply(3.0)
    array([3., 1.])
    >>> float(cr.grad(lambda v: np.prod(np.ones(3).at[1:].multiply(v)))(2.0))  # d/dv v**2
    4.0
    """
    return with_at(_np.ones(shape, dtype, order, **kwargs))


def empty(shape, dtype=None, order="C", **kwargs):
    """``numpy.empty`` (values undefined until written), with ``.at``.

    >>> import chainrule.numpy as np
    >>> np.empty((2, 3)).shape
    (2, 3)
    """
    return with_at(_np.empty(shape, dtype, order, **kwargs))


def full(shape, fill_value, dtype=None):
    """``numpy.full``; a traced ``fill_value`` is broadcast (and keeps its derivative).

    >>> import chainrule as cr, chainrule.numpy as np
    >>> np.full(2, 7.0)
    array([7., 7.])
    >>> float(cr.grad(lambda v: np.sum(np.full((2, 3), v)))(1.0))  # v fills 6 entries
    6.0
    """
    return with_at(arrays.full(shape, fill_value, dtype))


def zeros_like(a, dtype=None, shape=None):
    """``numpy.zeros_like`` (a constant: no derivative flows through it), with ``.at``.

    >>> import chainrule as cr, chainrule.numpy as np
    >>> np.zeros_like(np.array([1.0, 2.0]))
    array([0., 0.])
    >>> cr.grad(lambda x: np.sum(np.zeros_like(x).at[0].set(x[1] ** 2)))(np.array([1.0, 2.0]))
    array([0., 4.])
    """
    return with_at(arrays.zeros_like(a, dtype, shape))


def ones_like(a, dtype=None, shape=None):
    """``numpy.ones_like`` (a constant), with ``.at``.

    >>> import chainrule as cr, chainrule.numpy as np
    >>> np.ones_like(np.array([1.0, 2.0]))
    array([1., 1.])
    >>> cr.grad(lambda x: np.sum(x * np.ones_like(x)))(np.array([1.0, 2.0]))  # a constant factor
    array([1., 1.])
    """
    return with_at(arrays.ones_like(a, dtype, shape))


def empty_like(a, dtype=None, shape=None):
    """``numpy.empty_like`` (a constant, values undefined until written), with ``.at``.

    >>> import chainrule.numpy as np
    >>> np.empty_like(np.zeros((2, 3)), dtype=np.float32).dtype
    dtype('float32')
    """
    return with_at(_np.empty(shape if shape is not None else arrays.shape(a), dtype=dtype or result_type(a)))


def full_like(a, fill_value, dtype=None, shape=None):
    """``numpy.full_like``; a traced ``fill_value`` is broadcast (and keeps its derivative).

    >>> import chainrule as cr, chainrule.numpy as np
    >>> np.full_like(np.zeros(3), 2.0)
    array([2., 2., 2.])
    >>> float(cr.grad(lambda v: np.sum(np.full_like(np.zeros(3), v)))(2.0))  # v fills 3 entries
    3.0
    """
    return with_at(arrays.full_like(a, fill_value, dtype, shape))


def array(object, dtype=None, copy=True, ndmin=0):
    """``numpy.array``; a list holding traced values is stacked into a traced array.

    >>> import chainrule as cr, chainrule.numpy as np
    >>> np.array([1.0, 2.0]).at[0].add(1.0)
    array([2., 2.])
    >>> float(cr.grad(lambda x: np.sum(np.array([x, 1.0]) ** 2))(3.0))
    6.0
    """
    return with_at(arrays.array(object, dtype, copy, ndmin))


def asarray(a, dtype=None):
    """``numpy.asarray``; traced values pass through (converted to ``dtype`` if given). A NumPy array comes back
    as an ``ArrayWithAt`` view of the same memory.

    >>> import chainrule as cr, chainrule.numpy as np
    >>> np.asarray([1.0, 2.0])
    array([1., 2.])
    >>> float(cr.grad(lambda x: np.sum(np.asarray([x, 2 * x])))(1.0))  # a list of traced values is stacked
    3.0
    """
    return with_at(arrays.asarray(a, dtype))


def copy(a):
    """``numpy.copy``: a new array object (updating one leaves the other alone).

    >>> import chainrule as cr, chainrule.numpy as np
    >>> a = np.array([1.0, 2.0])
    >>> b = np.copy(a); b[0] = 5.0
    >>> a, cr.grad(lambda x: np.sum(np.copy(x) * x))(a)
    (array([1., 2.]), array([2., 4.]))
    """
    return with_at(arrays.copy(a))


def eye(N, M=None, k=0, dtype=float, order="C", **kwargs):
    """``numpy.eye``, with ``.at``.

    >>> import chainrule.numpy as np
    >>> np.eye(2).at[0, 1].set(5.0)
    array([[1., 5.],
           [0., 1.]])
    """
    return with_at(_np.eye(N, M, k, dtype, order, **kwargs))


def identity(n, dtype=None, **kwargs):
    """``numpy.identity``, with ``.at``.

    >>> import chainrule.numpy as np
    >>> np.identity(2)
    array([[1., 0.],
           [0., 1.]])
    """
    return with_at(_np.identity(n, dtype, **kwargs))


def arange(*args, **kwargs):
    """``numpy.arange`` (values only: how many values there are depends on the bounds, so they cannot be traced;
    ``linspace`` is differentiable in its endpoints), with ``.at``.

    >>> import chainrule.numpy as np
    >>> np.arange(3.0), np.arange(1, 7, 2)
    (array([0., 1., 2.]), array([1, 3, 5]))
    """
    if is_traced(*args, *kwargs.values()):
        raise ConcretizationError(
            "arange: its bounds are traced, but the number of values arange returns depends on their values, "
            "so it has no derivative. Compute the bounds outside the transform, or use "
            "chainrule.numpy.linspace(start, stop, num), which is differentiable in start and stop.")
    return with_at(_np.arange(*args, **kwargs))


def _count(num):
    num = operator.index(num)  # NumPy's error for a float or traced num
    if num < 0:
        raise ValueError(f"Number of samples, {num}, must be non-negative.")
    return num


def _linspace_plain(start, stop, num=50, endpoint=True, retstep=False, dtype=None, axis=0):
    out = _np.linspace(start, stop, num, endpoint, retstep, dtype, axis)
    return (with_at(out[0]), out[1]) if retstep else with_at(out)


@numpy_when_untraced(_linspace_plain)
def linspace(start, stop, num=50, endpoint=True, retstep=False, dtype=None, axis=0):
    """``numpy.linspace``, differentiable in ``start`` and ``stop`` (arrays too: the samples run along ``axis``).

    >>> import chainrule as cr, chainrule.numpy as np
    >>> np.linspace(0.0, 1.0, 5)
    array([0.  , 0.25, 0.5 , 0.75, 1.  ])
    >>> cr.jacobian(lambda stop: np.linspace(0.0, stop, 5))(2.0)  # sample k is stop * k / 4
    array([0.  , 0.25, 0.5 , 0.75, 1.  ])
    """
    from .elementwise import add, divide, floor, multiply, subtract
    from .shaping import broadcast_to, moveaxis
    num = _count(num)
    divisions = num - 1 if endpoint else num
    working = result_type(start, stop, 0.0)  # inexact, Python numbers weak: float32 endpoints stay float32
    start, stop = astype(start, working), astype(stop, working)
    delta = subtract(stop, start)
    positions = _np.arange(0, num, dtype=working).reshape((-1,) + (1,) * ndim(delta))
    if divisions > 0:
        step = divide(delta, divisions)
        y = multiply(positions, step)  # NumPy's order of operations, so the values are NumPy's
    else:
        step = _np.nan  # zero samples, or one with the endpoint: no step, as in NumPy
        y = multiply(positions, delta)
    y = add(y, start)
    if endpoint and num > 1:
        y = y.at[-1].set(broadcast_to(stop, shape(y)[1:]))  # exactly stop, as in NumPy
    if axis != 0:
        y = moveaxis(y, 0, axis)
    if dtype is not None:
        if _np.issubdtype(dtype, _np.integer):
            y = floor(y)
        y = astype(y, dtype)
    return (y, step) if retstep else y


def _logspace_plain(start, stop, num=50, endpoint=True, base=10.0, dtype=None, axis=0):
    return with_at(_np.logspace(start, stop, num, endpoint, base, dtype, axis))


@numpy_when_untraced(_logspace_plain)
def logspace(start, stop, num=50, endpoint=True, base=10.0, dtype=None, axis=0):
    """``numpy.logspace``: ``base ** linspace(start, stop)``, differentiable in ``start``, ``stop`` and ``base``.

    >>> import chainrule as cr, chainrule.numpy as np
    >>> np.logspace(0.0, 2.0, 3)
    array([  1.,  10., 100.])
    >>> cr.jacobian(lambda stop: np.logspace(0.0, stop, 3, base=2.0))(2.0)  # d/ds 2**(k s/2) = (k/2) log(2) 2**(k s/2)
    array([0.        , 0.69314718, 2.77258872])
    """
    from .elementwise import power
    from .shaping import expand_dims
    if ndim(base):  # NumPy broadcasts an array base with the endpoints, which can move `axis`
        rank = len(_np.broadcast_shapes(shape(start), shape(stop), shape(base)))
        start, stop, base = (arrays.array(value, copy=None, ndmin=rank) for value in (start, stop, base))
        base = expand_dims(base, axis)
    y = power(base, linspace(start, stop, num=num, endpoint=endpoint, axis=axis))
    return y if dtype is None else astype(y, dtype)


def _geomspace_plain(start, stop, num=50, endpoint=True, dtype=None, axis=0):
    return with_at(_np.geomspace(start, stop, num, endpoint, dtype, axis))


@numpy_when_untraced(_geomspace_plain)
def geomspace(start, stop, num=50, endpoint=True, dtype=None, axis=0):
    """``numpy.geomspace``: ``start * (stop / start) ** t`` for ``t`` evenly spaced in [0, 1], differentiable in
    ``start`` and ``stop`` (negative and complex endpoints too, on the principal branch as in NumPy). A traced
    endpoint is not checked for zero (NumPy's error): the samples are then NaN.

    >>> import chainrule as cr, chainrule.numpy as np
    >>> np.geomspace(1.0, 100.0, 3)
    array([  1.,  10., 100.])
    >>> cr.jacobian(lambda stop: np.geomspace(1.0, stop, 3))(100.0)  # d/ds s**(k/2) = (k/2) s**(k/2 - 1)
    array([0.  , 0.05, 1.  ])
    """
    from .elementwise import divide, exp, log, multiply
    from .shaping import broadcast_to, moveaxis
    num = _count(num)
    for endpoint_value in (start, stop):
        if not is_traced(endpoint_value) and _np.any(_np.asarray(endpoint_value) == 0):
            raise ValueError("Geometric sequence cannot include zero")
    working = result_type(start, stop, float(num), _np.zeros((), dtype))  # NumPy's promotion
    start, stop = astype(start, working), astype(stop, working)
    fractions = _np.linspace(0.0, 1.0, num, endpoint=endpoint, dtype=_np.zeros((), working).real.dtype)
    log_ratio = log(divide(stop, start))
    fractions = fractions.reshape((-1,) + (1,) * ndim(log_ratio))
    y = multiply(start, exp(multiply(fractions, log_ratio)))
    region = shape(y)[1:]
    if num > 0:
        y = y.at[0].set(broadcast_to(start, region))  # the endpoints exactly, as in NumPy
        if num > 1 and endpoint:
            y = y.at[-1].set(broadcast_to(stop, region))
    if axis != 0:
        y = moveaxis(y, 0, axis)
    return y if dtype is None else astype(y, dtype)
