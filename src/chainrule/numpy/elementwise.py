"""Elementwise functions with NumPy's names and broadcasting, built from the primitives in ``chainrule.ops``."""
import numpy as _np

from ..ops import arithmetic as _ar, comparison as _cmp, elementwise as _el
from .arrays import asarray, is_traced, numpy_when_untraced, result_type


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

# Docstring examples of the generated functions, one row per function: sample point(s), then the expected
# value and derivative(s), rounded to 6 digits. The points lie inside each domain (arccosh x > 1, log x > 0,
# arcsin/arctanh |x| < 1, ...) and away from kinks and jumps (abs, floor, mod, ...), so that a central
# difference of NumPy's own function is a fair reference for the derivative; the example checks both.
_UNARY_EXAMPLES = {
    "sin": (0.5, 0.479426, 0.877583), "cos": (0.5, 0.877583, -0.479426), "tan": (0.5, 0.546302, 1.298446),
    "arcsin": (0.5, 0.523599, 1.154701), "arccos": (0.5, 1.047198, -1.154701), "arctan": (0.5, 0.463648, 0.8),
    "sinh": (0.5, 0.521095, 1.127626), "cosh": (0.5, 1.127626, 0.521095), "tanh": (0.5, 0.462117, 0.786448),
    "arcsinh": (0.5, 0.481212, 0.894427), "arccosh": (2.0, 1.316958, 0.57735),
    "arctanh": (0.5, 0.549306, 1.333333), "exp": (0.5, 1.648721, 1.648721), "exp2": (3.0, 8.0, 5.545177),
    "expm1": (0.5, 0.648721, 1.648721), "log": (2.0, 0.693147, 0.5), "log2": (8.0, 3.0, 0.180337),
    "log10": (100.0, 2.0, 0.004343), "log1p": (0.5, 0.405465, 0.666667), "sqrt": (4.0, 2.0, 0.25),
    "cbrt": (8.0, 2.0, 0.083333), "absolute": (-1.5, 1.5, -1.0), "sign": (-1.5, -1.0, 0.0),
    "floor": (2.5, 2.0, 0.0), "ceil": (2.5, 3.0, 0.0), "rint": (2.4, 2.0, 0.0), "trunc": (-2.5, -2.0, 0.0),
    "sinc": (0.5, 0.63662, -1.27324), "negative": (1.5, -1.5, -1.0),
}
_BINARY_EXAMPLES = {
    "add": ((2.0, 3.0), 5.0, (1.0, 1.0)), "subtract": ((2.0, 3.0), -1.0, (1.0, -1.0)),
    "multiply": ((2.0, 3.0), 6.0, (3.0, 2.0)), "divide": ((3.0, 2.0), 1.5, (0.5, -0.75)),
    "power": ((2.0, 3.0), 8.0, (12.0, 5.545177)), "maximum": ((2.0, 3.0), 3.0, (0.0, 1.0)),
    "minimum": ((2.0, 3.0), 2.0, (1.0, 0.0)), "arctan2": ((1.0, 2.0), 0.463648, (0.4, -0.2)),
    "logaddexp": ((1.0, 2.0), 2.313262, (0.268941, 0.731059)), "hypot": ((3.0, 4.0), 5.0, (0.6, 0.8)),
    "mod": ((7.5, 2.0), 1.5, (1.0, -3.0)), "fmod": ((-7.5, 2.0), -1.5, (1.0, 3.0)),
    "floor_divide": ((7.5, 2.0), 3.0, (0.0, 0.0)),
}
# Complex parts (z as source text): a forward derivative along dz = 1 + 1j, which moves both parts of z.
_COMPLEX_EXAMPLES = {
    "real": ("3 + 4j", 3.0, 1.0), "imag": ("3 + 4j", 4.0, 1.0), "conjugate": ("3 + 4j", 3 - 4j, 1 - 1j),
}
# Boolean results have no derivative: the value only (arguments as source text, expected list).
_FLOATS, _BOOLS = "np.array([1.0, np.inf, np.nan])", ("np.array([True, True, False])", "np.array([True, False, False])")
_COMPARED = ("np.array([1.0, 2.0, 3.0])", "2.0")
_BOOLEAN_EXAMPLES = {
    "isnan": ((_FLOATS,), [False, False, True]), "isinf": ((_FLOATS,), [False, True, False]),
    "isfinite": ((_FLOATS,), [True, False, False]), "logical_not": (("np.array([0.0, 2.0])",), [True, False]),
    "less": (_COMPARED, [True, False, False]), "less_equal": (_COMPARED, [True, True, False]),
    "greater": (_COMPARED, [False, False, True]), "greater_equal": (_COMPARED, [False, True, True]),
    "equal": (_COMPARED, [False, True, False]), "not_equal": (_COMPARED, [True, False, True]),
    "logical_and": (_BOOLS, [True, False, False]), "logical_or": (_BOOLS, [True, True, False]),
    "logical_xor": (_BOOLS, [False, True, False]),
}


def _example(name):
    """The docstring example of the generated function ``name``: NumPy's value and a checked derivative."""
    f, ref = f"np.{name}", f"numpy.{name}"
    lines = [">>> import chainrule as cr, chainrule.numpy as np, numpy"]
    if name in _UNARY_EXAMPLES:
        x, value, derivative = _UNARY_EXAMPLES[name]
        lines += [f">>> x, h = {x!r}, 1e-6",
                  f">>> print(round(float({f}(x)), 6), {f}(x) == {ref}(x))  # NumPy's value",
                  f"{value!r} True",
                  f">>> d = cr.grad({f})(x)  # against a central difference of {ref}",
                  f">>> print(round(float(d), 6), numpy.isclose(d, ({ref}(x + h) - {ref}(x - h)) / (2 * h)))",
                  f"{derivative!r} True"]
    elif name in _BINARY_EXAMPLES:
        (x, y), value, (dx, dy) = _BINARY_EXAMPLES[name]
        lines += [f">>> x, y, h = {x!r}, {y!r}, 1e-6",
                  f">>> print(round(float({f}(x, y)), 6), {f}(x, y) == {ref}(x, y))  # NumPy's value",
                  f"{value!r} True",
                  f">>> dx, dy = cr.grad({f}, argnums=(0, 1))(x, y)  # against central differences of {ref}",
                  f">>> print(round(float(dx), 6), numpy.isclose(dx, ({ref}(x + h, y) - {ref}(x - h, y)) / (2 * h)))",
                  f"{dx!r} True",
                  f">>> print(round(float(dy), 6), numpy.isclose(dy, ({ref}(x, y + h) - {ref}(x, y - h)) / (2 * h)))",
                  f"{dy!r} True"]
    elif name in _COMPLEX_EXAMPLES:
        z, value, derivative = _COMPLEX_EXAMPLES[name]
        lines += [f">>> z, t, h = {z}, 1 + 1j, 1e-6",
                  f">>> print({f}(z), {f}(z) == {ref}(z))  # NumPy's value",
                  f"{value!r} True",
                  f">>> d = cr.jvp({f}, (z,), (t,))[1]  # along dz = t, against a central difference of {ref}",
                  f">>> print(d, numpy.isclose(d, ({ref}(z + h * t) - {ref}(z - h * t)) / (2 * h)))",
                  f"{derivative!r} True"]
    elif name in _BOOLEAN_EXAMPLES:
        args, value = _BOOLEAN_EXAMPLES[name]
        call = "x" if len(args) == 1 else "x1, x2"
        lines = [">>> import chainrule.numpy as np, numpy",
                 f">>> {call} = {', '.join(args)}",
                 f">>> {f}({call}).tolist()  # a boolean result: no derivative",
                 f"{value!r}",
                 f">>> bool(({f}({call}) == {ref}({call})).all())  # NumPy's value",
                 "True"]
    else:  # a function added to the tables above without a row here: no example
        return ""
    return "\n\n" + "\n".join(lines) + "\n"


for _name, _primitive in _UNARY.items():
    _convention = f" Convention: {_primitive.convention}." if _primitive.convention else ""
    globals()[_name] = _wrap(_primitive, _name, f"``numpy.{_name}``, differentiable.{_convention}" + _example(_name))
for _name, _primitive in _BINARY.items():
    _convention = f" Convention: {_primitive.convention}." if _primitive.convention else ""
    globals()[_name] = _wrap2(_primitive, _name, f"``numpy.{_name}`` with broadcasting, differentiable.{_convention}"
                              + _example(_name))

abs = absolute  # noqa: A001  (NumPy's alias)
true_divide = divide
remainder = mod


conj = conjugate  # noqa: F821  (generated above)


def angle(z, deg=False):
    """``numpy.angle``: the argument of complex ``z`` (atan2(imag, real); 0 for real input).

    >>> import chainrule as cr, chainrule.numpy as np
    >>> print(round(float(np.angle(1j)), 6), float(np.angle(1j, deg=True)))
    1.570796 90.0
    >>> float(cr.grad(lambda x: np.angle(x + 1j))(1.0))  # d/dx atan2(1, x) = -1 / (1 + x**2)
    -0.5
    """
    result = _ar.atan2(_el.imag(z), _el.real(z))
    return _ar.mul(result, 180.0 / _np.pi) if deg else result


@numpy_when_untraced(_np.positive)
def positive(x):
    """``numpy.positive``: the identity.

    >>> import chainrule as cr, chainrule.numpy as np
    >>> float(np.positive(-2.0)), float(cr.grad(np.positive)(-2.0))
    (-2.0, 1.0)
    """
    return x


@numpy_when_untraced(_np.fabs)
def fabs(x):
    """``numpy.fabs``: absolute value of real input (abs'(0) = 0).

    >>> import chainrule as cr, chainrule.numpy as np
    >>> float(np.fabs(-1.5)), float(cr.grad(np.fabs)(-1.5))
    (1.5, -1.0)
    """
    return absolute(x)


def square(x):
    """``numpy.square``.

    >>> import chainrule as cr, chainrule.numpy as np
    >>> float(np.square(3.0)), float(cr.grad(np.square)(3.0))
    (9.0, 6.0)
    """
    return _ar.mul(x, x)


@numpy_when_untraced(_np.reciprocal)
def reciprocal(x):
    """``numpy.reciprocal`` for floating input.

    >>> import chainrule as cr, chainrule.numpy as np
    >>> float(np.reciprocal(4.0)), float(cr.grad(np.reciprocal)(4.0))  # d/dx 1/x = -1/x**2
    (0.25, -0.0625)
    """
    return _ar.div(1.0, x)


@numpy_when_untraced(_np.float_power)
def float_power(x1, x2):
    """``numpy.float_power``: power computed in float64, or complex128 when either argument is complex.

    >>> import chainrule as cr, chainrule.numpy as np
    >>> np.float_power(2, 3)  # float64 even for integer input
    np.float64(8.0)
    >>> float(cr.grad(lambda x: np.float_power(x, 3))(2.0))
    12.0
    >>> np.float_power(1j, 2)  # complex128 for complex input
    np.complex128(-1+0j)
    >>> complex(cr.jvp(lambda z: np.float_power(z, 2), (1j,), (1.0,))[1])  # d/dz z**2 = 2z
    2j
    """
    dtype = _np.result_type(result_type(x1, x2), _np.float64)
    return _ar.power(_as_dtype(x1, dtype), _as_dtype(x2, dtype))


def _as_dtype(x, dtype):
    # A Python number is left as it is: it takes the other argument's (float64 or complex128) dtype.
    return x if isinstance(x, (int, float, complex)) else asarray(x, dtype=dtype)


def _times_log2(x):
    # A Python number is scaled in Python, so that it stays weak: NumPy keeps logaddexp2(float32 array, 2.0)
    # float32.
    return x * _el.LOG2 if isinstance(x, (int, float)) else _ar.mul(x, _el.LOG2)


@numpy_when_untraced(_np.logaddexp2)
def logaddexp2(x1, x2):
    """``numpy.logaddexp2``: log2(2**x1 + 2**x2), stable.

    >>> import chainrule as cr, chainrule.numpy as np
    >>> float(np.logaddexp2(1.0, 1.0))  # log2(2 + 2)
    2.0
    >>> [float(g) for g in cr.grad(np.logaddexp2, argnums=(0, 1))(1.0, 1.0)]
    [0.5, 0.5]
    """
    return _ar.div(_ar.logaddexp(_times_log2(x1), _times_log2(x2)), _el.LOG2)


def deg2rad(x):
    """``numpy.deg2rad``.

    >>> import chainrule as cr, chainrule.numpy as np
    >>> print(round(float(np.deg2rad(180.0)), 6), round(float(cr.grad(np.deg2rad)(180.0)), 6))  # pi, pi / 180
    3.141593 0.017453
    """
    return _ar.mul(x, _np.pi / 180.0)


def rad2deg(x):
    """``numpy.rad2deg``.

    >>> import chainrule as cr, chainrule.numpy as np
    >>> print(round(float(np.rad2deg(np.pi)), 6), round(float(cr.grad(np.rad2deg)(np.pi)), 6))  # 180, 180 / pi
    180.0 57.29578
    """
    return _ar.mul(x, 180.0 / _np.pi)


radians = deg2rad
degrees = rad2deg


def round(a, decimals=0):  # noqa: A001  (NumPy's name)
    """``numpy.round`` (piecewise constant: derivative 0).

    >>> import chainrule as cr, chainrule.numpy as np
    >>> np.round(np.array([1.234, 5.678]), 1)
    array([1.2, 5.7])
    >>> float(cr.grad(lambda x: np.round(x, 1))(1.234))
    0.0
    """
    return _el.round_(a, decimals=decimals)


around = round


def fix(x):
    """``numpy.fix``: round towards zero (derivative 0).

    >>> import chainrule as cr, chainrule.numpy as np
    >>> np.fix(np.array([-2.5, 2.5]))
    array([-2.,  2.])
    >>> float(cr.grad(np.fix)(2.5))
    0.0
    """
    return _el.trunc(x)


def where(condition, x=None, y=None):
    """``numpy.where``: picks from ``x`` where ``condition`` holds, else from ``y``; no derivative flows
    through ``condition``. With one argument, the indices where it holds (``numpy.nonzero``).

    >>> import chainrule as cr, chainrule.numpy as np
    >>> cr.grad(lambda x: np.sum(np.where(x > 0, x, 0.0)))(np.array([-1.0, 2.0]))
    array([0., 1.])
    """
    if x is None and y is None:
        if is_traced(condition):  # only its concrete value is read
            from ..ops.control import stop_gradient
            condition = stop_gradient(asarray(condition))
        return _np.nonzero(condition)
    if x is None or y is None:
        raise ValueError("where: give both x and y, or neither")
    return _cmp.select(condition, x, y)


def clip(a, a_min=None, a_max=None):
    """``numpy.clip``. Convention: derivative 1 inside [a_min, a_max] including its ends, 0 outside.

    >>> import chainrule as cr, chainrule.numpy as np
    >>> x = np.array([-1.0, 0.5, 2.0])
    >>> np.clip(x, 0.0, 1.0)
    array([0. , 0.5, 1. ])
    >>> cr.grad(lambda x: np.sum(np.clip(x, 0.0, 1.0)))(x)
    array([0., 1., 0.])
    """
    out = a
    if a_min is not None:
        out = _cmp.select(_cmp.lt(out, a_min), a_min, out)
    if a_max is not None:
        out = _cmp.select(_cmp.gt(out, a_max), a_max, out)
    if not is_traced(out) and _np.ndim(out) == 0:   # a NumPy scalar for scalar input, as numpy.clip gives
        return _np.asarray(out)[()]
    return out


@numpy_when_untraced(_np.fmax)
def fmax(x1, x2):
    """``numpy.fmax``: maximum that ignores NaN (ties split the derivative equally).

    >>> import chainrule as cr, chainrule.numpy as np
    >>> np.fmax(np.array([3.0, np.nan]), 2.0)
    array([3., 2.])
    >>> cr.grad(lambda x: np.sum(np.fmax(x, 2.0)))(np.array([3.0, 1.0]))
    array([1., 0.])
    """
    return _ignoring_nan(_ar.maximum, x1, x2)


def _ignoring_nan(extremum, x1, x2):
    # Where one side is NaN the other is taken (with its derivative); elsewhere the plain extremum.
    return _cmp.select(_cmp.isnan(x2), x1, _cmp.select(_cmp.isnan(x1), x2, extremum(x1, x2)))


@numpy_when_untraced(_np.fmin)
def fmin(x1, x2):
    """``numpy.fmin``: minimum that ignores NaN (ties split the derivative equally).

    >>> import chainrule as cr, chainrule.numpy as np
    >>> np.fmin(np.array([1.0, np.nan]), 2.0)
    array([1., 2.])
    >>> cr.grad(lambda x: np.sum(np.fmin(x, 2.0)))(np.array([1.0, 3.0]))
    array([1., 0.])
    """
    return _ignoring_nan(_ar.minimum, x1, x2)


@numpy_when_untraced(_np.heaviside)
def heaviside(x1, x2):
    """``numpy.heaviside`` (piecewise constant: derivative 0 in x1; x2 where x1 == 0).

    >>> import chainrule as cr, chainrule.numpy as np
    >>> x = np.array([-1.0, 0.0, 2.0])
    >>> np.heaviside(x, 0.5)
    array([0. , 0.5, 1. ])
    >>> float(cr.grad(lambda h: np.sum(np.heaviside(x, h)))(0.5))  # x2 is used where x1 == 0
    1.0
    """
    # 1 and 0 in the inputs' precision: Python numbers would make a float32 result float64
    one, zero = _ar.real_constant(1.0, x1, x2), _ar.real_constant(0.0, x1, x2)
    return _cmp.select(_cmp.gt(x1, 0), one, _cmp.select(_cmp.eq(x1, 0), x2, zero))


@numpy_when_untraced(_np.copysign)
def copysign(x1, x2):
    """``numpy.copysign``: |x1| with the sign of x2.

    >>> import chainrule as cr, chainrule.numpy as np
    >>> float(np.copysign(3.0, -1.0)), float(cr.grad(np.copysign)(3.0, -1.0))
    (-3.0, -1.0)
    """
    negative_sign = _cmp.lt(x2, 0) if is_traced(x2) else _np.signbit(x2)
    if isinstance(x1, (int, float)):  # both choices in x2's dtype: a Python number is weak in NumPy
        magnitude = abs(float(x1))
        return _cmp.select(negative_sign, _ar.real_constant(-magnitude, x1, x2), _ar.real_constant(magnitude, x1, x2))
    return _cmp.select(negative_sign, _ar.neg(absolute(x1)), absolute(x1))


del _name, _primitive, _convention
