"""Array behaviour of traced values: operators, methods, attributes, indexing (``x[i]``, ``x[i] = v``,
``x.at[i].set(v)``) and the NumPy protocols, so code written for NumPy arrays runs on tracers."""
import numpy as _np

from ..core.interpreter import Tracer, ChainruleError
from ..ops import arithmetic as _ar, indexing as _ix
from . import arrays, elementwise, linalg, products, reductions, shaping, views
from .arrays import is_traced, with_at


def _split(index):
    if not isinstance(index, (list, tuple)) and is_traced(index) and index.dtype == bool:  # a traced mask
        raise IndexError("boolean mask indexing with a traced mask needs concrete values; use "
                         "chainrule.numpy.where(mask, x, 0) or compute the mask outside the transform")
    return _ix.split_index(index)


def getitem(x, index):
    """``x[index]`` with NumPy's basic and advanced indexing; repeated indices accumulate gradients."""
    if type(index) is int and len(x.shape) == 1:  # one element of a vector: a scalar, not a view (kept cheap)
        return _ix.gather(x, template=_ix.integer_template(index))
    template, index_arrays = _split(index)
    out = _ix.gather(x, *index_arrays, template=template)
    if index_arrays:
        return out
    # Basic indexing gives a view in NumPy: writes into it reach x.
    return views.mark_view(out, x, lambda base: _ix.gather(base, template=template),
                           lambda base, value: _ix.scatter(base, value, template=template))


def _updated(x, index, values):
    template, index_arrays = _split(index)
    return _ix.scatter(x, values, *index_arrays, template=template)


def setitem(x, index, values):
    """``x[index] = values`` on a traced array: recorded as a functional update, differentiated correctly.

    NumPy's semantics hold: every name bound to this array sees the new value, a view's base is
    updated when the view is written into, and the base's views show the update.
    """
    views.update_in_place(x, _updated(x, index, values))


class _IndexedUpdate:
    """``x.at[index]``: functional updates in JAX's style; each returns a new array (an untraced one has ``.at``
    too, so updates chain)."""

    __slots__ = ("array", "index")

    def __init__(self, array, index):
        self.array = array
        self.index = index

    def get(self):
        return getitem(self.array, self.index) if is_traced(self.array) else _np.asarray(self.array)[self.index]

    def set(self, values):
        return with_at(_updated(self.array, self.index, values))

    def add(self, values):
        template, index_arrays = _split(self.index)
        region = _np.empty(arrays.shape(self.array), dtype=bool)[self.index].shape
        if arrays.shape(values) != region:
            values = shaping.broadcast_to(values, region)
        return with_at(_ar.add(self.array, _ix.scatter_add(values, *index_arrays, template=template,
                                                           shape=arrays.shape(self.array))))

    def subtract(self, values):
        return self.add(_ar.neg(values))

    def _unique_update(self, combine, values, name):
        # NumPy's ufunc.at semantics: the updates apply one after another, so a repeated position
        # combines all of its updates. Positions are found on the concrete index, whatever its form.
        x = self.array
        _split(self.index)
        positions = _np.arange(arrays.size(x)).reshape(arrays.shape(x))[self.index]
        flat = positions.reshape(-1)
        if _np.unique(flat).size == flat.size:
            return self.set(combine(self.get(), values))
        if arrays.shape(values) != positions.shape:
            values = shaping.broadcast_to(values, positions.shape)
        values = shaping.ravel(values)
        occurrence = _np.empty(flat.size, dtype=_np.int64)
        seen = {}
        for k, position in enumerate(flat.tolist()):
            occurrence[k] = seen.get(position, 0)
            seen[position] = occurrence[k] + 1
        out = shaping.ravel(x)
        for round_ in range(int(occurrence.max()) + 1):  # each round touches a position at most once
            picked = _np.nonzero(occurrence == round_)[0]
            targets = flat[picked]
            out = _updated(out, targets, combine(getitem(out, targets), getitem(values, picked)))
        return with_at(shaping.reshape(out, arrays.shape(x)))

    def multiply(self, values):
        return self._unique_update(_ar.mul, values, "multiply")

    def divide(self, values):
        return self._unique_update(_ar.div, values, "divide")

    def power(self, values):
        return self._unique_update(_ar.power, values, "power")

    def min(self, values):
        return self._unique_update(_ar.minimum, values, "min")

    def max(self, values):
        return self._unique_update(_ar.maximum, values, "max")


class _AtProperty:
    __slots__ = ("array",)

    def __init__(self, array):
        self.array = array

    def __getitem__(self, index):
        return _IndexedUpdate(self.array, index)


def _reflected(function):
    return lambda self, other: function(other, self)


def _in_place(function):
    """``x op= v``: NumPy updates the array object itself, so every name bound to it sees the result."""
    def update(self, other):
        setitem(self, Ellipsis, function(self, other))
        return self
    return update


_OPERATORS = {
    "__add__": elementwise.add, "__radd__": _reflected(elementwise.add),
    "__sub__": elementwise.subtract, "__rsub__": _reflected(elementwise.subtract),
    "__mul__": elementwise.multiply, "__rmul__": _reflected(elementwise.multiply),
    "__truediv__": elementwise.divide, "__rtruediv__": _reflected(elementwise.divide),
    "__floordiv__": elementwise.floor_divide, "__rfloordiv__": _reflected(elementwise.floor_divide),
    "__mod__": elementwise.mod, "__rmod__": _reflected(elementwise.mod),
    "__pow__": elementwise.power, "__rpow__": _reflected(elementwise.power),
    "__matmul__": products.matmul, "__rmatmul__": _reflected(products.matmul),
    "__lt__": elementwise.less, "__le__": elementwise.less_equal, "__gt__": elementwise.greater,
    "__ge__": elementwise.greater_equal, "__eq__": elementwise.equal, "__ne__": elementwise.not_equal,
    "__and__": elementwise.logical_and, "__or__": elementwise.logical_or, "__xor__": elementwise.logical_xor,
    "__neg__": elementwise.negative, "__pos__": elementwise.positive, "__abs__": elementwise.absolute,
    "__invert__": elementwise.logical_not,
    "__getitem__": getitem, "__setitem__": setitem,
    "__iadd__": _in_place(elementwise.add), "__isub__": _in_place(elementwise.subtract),
    "__imul__": _in_place(elementwise.multiply), "__itruediv__": _in_place(elementwise.divide),
    "__ipow__": _in_place(elementwise.power), "__imatmul__": _in_place(products.matmul),
}

_METHODS = {
    "reshape": lambda self, *shape, order="C": shaping.reshape(
        self, shape[0] if len(shape) == 1 else shape, order=order),
    "transpose": lambda self, *axes: shaping.transpose(self, axes[0] if len(axes) == 1 else (axes or None)),
    "sum": reductions.sum, "mean": reductions.mean, "max": reductions.max, "min": reductions.min,
    "prod": reductions.prod, "var": reductions.var, "std": reductions.std, "ptp": reductions.ptp,
    "argmax": reductions.argmax, "argmin": reductions.argmin, "cumsum": reductions.cumsum,
    "cumprod": reductions.cumprod, "dot": products.dot, "astype": lambda self, dtype, **_: arrays.astype(self, dtype),
    "flatten": lambda self, order="C": shaping.ravel(self), "ravel": lambda self, order="C": shaping.ravel(self),
    "squeeze": shaping.squeeze, "swapaxes": shaping.swapaxes, "clip": elementwise.clip,
    "round": elementwise.round, "repeat": shaping.repeat, "take": shaping.take, "trace": shaping.trace,
    "diagonal": shaping.diagonal, "sort": None, "copy": views.clone,
    "conj": elementwise.conjugate, "conjugate": elementwise.conjugate,
}


def _sort_in_place(self, axis=-1, kind=None):
    setitem(self, Ellipsis, shaping.sort(self, axis=axis, kind=kind))


_METHODS["sort"] = _sort_in_place

# Functions that NumPy's own API may hand a traced value to (np.sum(x), np.sin(x), ...).
_UFUNC_NAMES = {"true_divide": "divide", "absolute": "absolute", "remainder": "mod",
                "matmul": "matmul"}


def _find_function(name, module_name):
    key = (name, module_name.endswith("linalg"))
    found = _FOUND.get(key, _MISSING)
    if found is _MISSING:
        from .. import numpy as front
        found = _FOUND[key] = getattr(linalg if key[1] else front, name, None)
    return found


_FOUND = {}  # (name, from linalg?) -> chainrule.numpy function or None
_MISSING = object()


def _array_ufunc(self, ufunc, method, *inputs, **kwargs):
    if kwargs.get("out") is not None:
        raise ChainruleError(
            f"numpy.{ufunc.__name__} was asked to write a traced value into a NumPy array in place (out=, or "
            f"an operator like +=). A NumPy array cannot hold a traced value: write y = y + value instead, "
            f"or build the array with chainrule.numpy so that it is traced too.")
    if method != "__call__":
        return NotImplemented
    kwargs.pop("out", None)
    home = _ufunc_home(ufunc)
    if home == "scipy.special":
        from ..scipy import special
        function = getattr(special, ufunc.__name__, None)
    else:
        function = _find_function(_UFUNC_NAMES.get(ufunc.__name__, ufunc.__name__), "numpy")
    if function is None:
        raise TypeError(f"{home}.{ufunc.__name__} is not differentiable in chainrule yet; traced values reach it "
                        f"here. Use an equivalent from chainrule.{home}.")
    return function(*inputs, **kwargs)


def _ufunc_home(ufunc):
    """The module users call ``ufunc`` from: NumPy's own ufuncs, or scipy.special's (erf, gammaln, ...)."""
    if getattr(_np, ufunc.__name__, None) is ufunc:
        return "numpy"
    import scipy.special
    return "scipy.special" if getattr(scipy.special, ufunc.__name__, None) is ufunc else "numpy"


def _array_function(self, func, types, args, kwargs):
    function = _find_function(func.__name__, getattr(func, "__module__", "") or "")
    if function is None or function is func:
        raise TypeError(f"numpy.{func.__name__} is not differentiable in chainrule yet; traced values reach it "
                        f"here. Use an equivalent from chainrule.numpy.")
    return function(*args, **kwargs)


def install():
    """Give ``Tracer`` NumPy's operators, methods and attributes, and the constructors' arrays ``.at``."""
    for name, function in {**_OPERATORS, **_METHODS}.items():
        setattr(Tracer, name, function)
    Tracer.__hash__ = lambda self: id(self)  # __eq__ is elementwise, identity stays hashable
    Tracer.T = property(lambda self: shaping.transpose(self))
    Tracer.mT = property(lambda self: shaping.swapaxes(self, -1, -2))
    Tracer.at = property(lambda self: _AtProperty(self))
    arrays.ArrayWithAt.at = property(lambda self: _AtProperty(self))  # what the constructors return
    Tracer.real = property(elementwise.real)
    Tracer.imag = property(elementwise.imag)
    Tracer.__array_ufunc__ = _array_ufunc
    Tracer.__array_function__ = _array_function
    Tracer.__iter__ = lambda self: (self[i] for i in range(len(self)))
