"""Primitive: a small closed operation with its evaluation, shape rule and derivative rules in one place."""
import dis

import numpy as np

from .avals import ShapedArray, aval_of
from .interpreter import bind


class Primitive:
    """An operation that every interpreter understands.

    - ``impl(*arrays, **params)``: evaluation on NumPy arrays.
    - ``shape_rule(*avals, **params) -> aval`` (or a list for multiple results).
    - ``jvp(primals, tangents, **params) -> (out, out_tangent)``; a tangent of None is a known zero.
    - ``vjp(cotangent, out, *inputs, **params) -> per-input cotangents`` (None for no dependence).
    - ``input_vjps``: optional per-input pullbacks ``(cotangent, out, *inputs, **params)``, so reverse
      mode computes only the cotangents that are needed.
    - ``differentiable=False`` marks piecewise-constant or integer-valued operations (zero derivative).
    - ``convention``: the stated value at non-differentiable points, one line.
    - ``elementwise``: acts element by element (so batching and sparsity need no rule of their own).
    - ``calls_function``: its implementation runs a user function (custom rules, checkpoint); graph
      consumers may inline it (``core.graph.inline_calls``).
    """

    __slots__ = ("name", "impl", "shape_rule", "jvp", "vjp", "input_vjps", "differentiable",
                 "multiple_results", "linear", "convention", "elementwise", "calls_function", "batch",
                 "residual_plans", "__weakref__")

    def __init__(self, name, impl, *, shape_rule=None, jvp=None, vjp=None, input_vjps=None,
                 differentiable=True, multiple_results=False, linear=False, convention=None, elementwise=False,
                 calls_function=False):
        self.name = name
        self.impl = impl
        self.shape_rule = shape_rule or evaluated_shape_rule(impl, multiple_results)
        self.jvp = jvp
        self.vjp = vjp
        self.input_vjps = input_vjps
        self.differentiable = differentiable
        self.multiple_results = multiple_results
        self.linear = linear
        self.convention = convention
        self.elementwise = elementwise
        self.calls_function = calls_function
        self.batch = None
        self.residual_plans = {}  # reverse mode's cache: what a node keeps, per set of differentiated inputs

    def __call__(self, *args, **params):
        return bind(self, args, params)

    def bind(self, *args, **params):
        return bind(self, args, params)

    def __repr__(self):
        return self.name


def evaluated_shape_rule(impl, multiple_results):
    """A shape rule that runs ``impl`` on zeros: always agrees with the implementation."""

    def shape_rule(*avals, **params):
        dummies = [np.zeros(a.shape, a.dtype) if isinstance(a, ShapedArray) else a for a in avals]
        with np.errstate(all="ignore"):
            out = impl(*dummies, **params)
        if multiple_results:
            return [aval_of(np.asarray(o)) for o in out]
        return aval_of(np.asarray(out))

    return shape_rule


_LOADS = {"LOAD_FAST", "LOAD_FAST_CHECK", "LOAD_FAST_AND_CLEAR", "LOAD_DEREF", "LOAD_CLOSURE"}
_VARARGS_FLAG = 0x04


def parameters_read(function):
    """The names of ``function``'s positional parameters (``*args`` included) that its body reads, or
    None without bytecode. Reverse mode uses it to keep only what pullbacks need."""
    code = getattr(function, "__code__", None)
    if code is None:
        return None
    names = list(code.co_varnames[:code.co_argcount])
    if code.co_flags & _VARARGS_FLAG:
        names.append(code.co_varnames[code.co_argcount + code.co_kwonlyargcount])
    loaded = {i.argval for i in dis.get_instructions(code) if i.opname in _LOADS}
    loaded |= set(code.co_cellvars)  # captured by an inner function: assume it is read
    return {name for name in names if name in loaded}


def varargs_name(function):
    """The name of ``function``'s ``*args`` parameter, or None."""
    code = function.__code__
    if not code.co_flags & _VARARGS_FLAG:
        return None
    return code.co_varnames[code.co_argcount + code.co_kwonlyargcount]
