"""Primitive: a small closed operation with its evaluation, shape rule and derivative rules in one place."""
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
                 "__weakref__")

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
