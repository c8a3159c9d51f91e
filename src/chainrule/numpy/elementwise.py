"""Elementwise functions with NumPy's names and broadcasting, built from the primitives in ``chainrule.ops``."""
import numpy as _np

from ..core.interpreter import Tracer
from ..ops import arithmetic as _ar, comparison as _cmp, elementwise as _el
from .arrays import is_traced


def _wrap(primitive, name, doc):
    def function(x):
        return primitive(x)
    function.__name__ = name
    function.__qualname__ = name
    function.__doc__ = doc
    return function


def _wrap2(primitive, name, doc):
    def function(x1, x2):
        return primitive(x1, x2)
    function.__name__ = name
    function.__qualname__ = name
    function.__doc__ = doc
    return function


_UNARY = {
    "sin": _el.sin, "cos": _el.cos, "tan": _el.tan, "arcsin": _el.arcsin, "arccos": _el.arccos,
    "arctan": _el.arctan, "sinh": _el.sinh, "cosh": _el.cosh, "tanh": _el.tanh, "arcsinh": _el.arcsinh,
    "arccosh": _el.arccosh, "arctanh": _el.arctanh, "exp": _el.exp, "exp2": _el.exp2, "expm1": _el.expm1,
    "log": _el.log, "log2": _el.log2, "log10": _el.log10, "log1p": _el.log1p, "sqrt": _el.sqrt,
    "cbrt": _el.cbrt, "absolute": _el.absolute, "sign": _el.sign, "floor": _el.floor, "ceil": _el.ceil,
    "rint": _el.rint, "trunc": _el.trunc, "sinc": _el.sinc, "negative": _ar.neg,
    "real": _el.real, "imag": _el.imag, "conjugate": _el.conj,
    "isnan": _cmp.isnan, "isinf": _cmp.isinf, "isfinite": _cmp.isfinite, "logical_not": _cmp.logical_not,
}
_BINARY = {
    "add": _ar.add, "subtract": _ar.sub, "multiply": _ar.mul, "divide": _ar.div, "power": _ar.power,
    "maximum": _ar.maximum, "minimum": _ar.minimum, "arctan2": _ar.atan2, "logaddexp": _ar.logaddexp,
    "hypot": _ar.hypot, "mod": _ar.mod, "fmod": _ar.fmod, "floor_divide": _ar.floor_divide,
    "less": _cmp.lt, "less_equal": _cmp.le, "greater": _cmp.gt, "greater_equal": _cmp.ge,
    "equal": _cmp.eq, "not_equal": _cmp.ne, "logical_and": _cmp.logical_and, "logical_or": _cmp.logical_or,
    "logical_xor": _cmp.logical_xor,
}

for _name, _primitive in _UNARY.items():
    _convention = f" Convention: {_primitive.convention}." if _primitive.convention else ""
    globals()[_name] = _wrap(_primitive, _name, f"``numpy.{_name}``, differentiable.{_convention}")
for _name, _primitive in _BINARY.items():
    _convention = f" Convention: {_primitive.convention}." if _primitive.convention else ""
    globals()[_name] = _wrap2(_primitive, _name, f"``numpy.{_name}`` with broadcasting, differentiable.{_convention}")

abs = absolute  # noqa: A001  (NumPy's alias)
true_divide = divide
remainder = mod


conj = conjugate  # noqa: F821  (generated above)


def angle(z, deg=False):
    """``numpy.angle``: the argument of complex ``z`` (atan2(imag, real); 0 for real input)."""
    result = _ar.atan2(_el.imag(z), _el.real(z))
    return _ar.mul(result, 180.0 / _np.pi) if deg else result


def positive(x):
    """``numpy.positive``: the identity."""
    return x


def fabs(x):
    """``numpy.fabs``: absolute value of real input (abs'(0) = 0)."""
    return absolute(x)


def square(x):
    """``numpy.square``."""
    return _ar.mul(x, x)


def reciprocal(x):
    """``numpy.reciprocal`` for floating input."""
    return _ar.div(1.0, x)


def float_power(x1, x2):
    """``numpy.float_power``: power computed in float64."""
    if is_traced(x1, x2):
        from .arrays import astype
        x1 = astype(x1, _np.float64) if isinstance(x1, Tracer) else _np.asarray(x1, dtype=_np.float64)
        return _ar.power(x1, x2)
    return _np.float_power(x1, x2)


def logaddexp2(x1, x2):
    """``numpy.logaddexp2``: log2(2**x1 + 2**x2), stable."""
    ln2 = _el.LOG2
    return _ar.div(_ar.logaddexp(_ar.mul(x1, ln2), _ar.mul(x2, ln2)), ln2)


def deg2rad(x):
    """``numpy.deg2rad``."""
    return _ar.mul(x, _np.pi / 180.0)


def rad2deg(x):
    """``numpy.rad2deg``."""
    return _ar.mul(x, 180.0 / _np.pi)


radians = deg2rad
degrees = rad2deg


def round(a, decimals=0):  # noqa: A001  (NumPy's name)
    """``numpy.round`` (piecewise constant: derivative 0)."""
    return _el.round_(a, decimals=decimals)


around = round


def fix(x):
    """``numpy.fix``: round towards zero (derivative 0)."""
    return _el.trunc(x)


def where(condition, x=None, y=None):
    """``numpy.where``: picks from ``x`` where ``condition`` holds, else from ``y``; no derivative flows
    through ``condition``. With one argument, the indices where it holds (``numpy.nonzero``).

    >>> import chainrule as cr, chainrule.numpy as np
    >>> cr.grad(lambda x: np.sum(np.where(x > 0, x, 0.0)))(np.array([-1.0, 2.0]))
    array([0., 1.])
    """
    if x is None and y is None:
        if isinstance(condition, Tracer):
            from ..ops.control import stop_gradient
            condition = stop_gradient(condition)
        return _np.nonzero(condition)
    if x is None or y is None:
        raise ValueError("where: give both x and y, or neither")
    return _cmp.select(condition, x, y)


def clip(a, a_min=None, a_max=None):
    """``numpy.clip``. Convention: derivative 1 inside [a_min, a_max] including its ends, 0 outside."""
    out = a
    if a_min is not None:
        out = _cmp.select(_cmp.lt(out, a_min), a_min, out)
    if a_max is not None:
        out = _cmp.select(_cmp.gt(out, a_max), a_max, out)
    if not is_traced(out) and not isinstance(out, _np.ndarray):
        return _np.asarray(out)[()]
    return out


def fmax(x1, x2):
    """``numpy.fmax``: maximum that ignores NaN (ties split the derivative equally)."""
    return _cmp.select(_cmp.isnan(x2), x1, _cmp.select(_cmp.isnan(x1), x2, _ar.maximum(x1, x2)))


def fmin(x1, x2):
    """``numpy.fmin``: minimum that ignores NaN (ties split the derivative equally)."""
    return _cmp.select(_cmp.isnan(x2), x1, _cmp.select(_cmp.isnan(x1), x2, _ar.minimum(x1, x2)))


def heaviside(x1, x2):
    """``numpy.heaviside`` (piecewise constant: derivative 0 in x1; x2 where x1 == 0)."""
    return _cmp.select(_cmp.gt(x1, 0), 1.0, _cmp.select(_cmp.eq(x1, 0), x2, 0.0))


def copysign(x1, x2):
    """``numpy.copysign``: |x1| with the sign of x2."""
    negative_sign = _cmp.lt(x2, 0) if is_traced(x2) else _np.signbit(x2)
    return _cmp.select(negative_sign, _ar.neg(absolute(x1)), absolute(x1))


del _name, _primitive, _convention
