"""Primitive: a small closed operation, described in one stanza: evaluation, shape rule, derivative rules,
batching rule and the algebraic traits that graph simplification reads."""
import numpy as np

from .avals import ShapedArray, aval_of
from .config import config
from .interpreter import Tracer, bind, check_nans


class Primitive:
    """An operation that every interpreter understands.

    - ``impl(*arrays, **params)``: evaluation on NumPy arrays.
    - ``shape_rule(*avals, **params) -> aval`` (or a list for multiple results).
    - ``jvp(primals, tangents, **params) -> (out, out_tangent)``; a tangent of None is a known zero.
    - ``vjp``: the reverse rule, a *maker* ``vjp(out, *inputs, **params) -> pullback`` run while recording,
      with ``pullback(cotangent) -> per-input cotangents`` (None for no dependence). What the pullback
      closes over is exactly what reverse mode keeps.
    - ``input_vjps``: optional per-input makers ``maker(out, *inputs, **params) -> pullback``, with
      ``pullback(cotangent) -> that input's cotangent`` (None where the input is not differentiable):
      reverse mode runs only the makers of the inputs being differentiated, so a node keeps only what
      those need.
    - ``batch(primitive, values, batched, params, size) -> out``: the batching rule (``vmap``); batched
      values carry the batch along axis 0. Elementwise primitives need none.
    - ``differentiable=False`` marks piecewise-constant or integer-valued operations (zero derivative).
    - ``convention``: the stated value at non-differentiable points, one line.
    - ``elementwise``: acts element by element (so batching and sparsity need no rule of their own).
    - ``calls_function``: its implementation runs a user function (custom rules, checkpoint); graph
      consumers may inline it (``core.graph.inline_calls``).
    - Traits read by graph simplification: ``linear`` (in its first argument), ``left_identity`` and
      ``right_identity`` (``op(e, x) == x`` / ``op(x, e) == x``), ``involution`` (``op(op(x)) == x``),
      ``commutative`` (``op(x, y) == op(y, x)``, so the two share one equation).
    """

    __slots__ = ("name", "impl", "shape_rule", "jvp", "vjp", "input_vjps", "batch", "differentiable",
                 "multiple_results", "linear", "convention", "elementwise", "calls_function",
                 "left_identity", "right_identity", "involution", "commutative", "__weakref__")

    def __init__(self, name, impl, *, shape_rule=None, jvp=None, vjp=None, input_vjps=None, batch=None,
                 differentiable=True, multiple_results=False, linear=False, convention=None, elementwise=False,
                 calls_function=False, left_identity=None, right_identity=None, involution=False,
                 commutative=False):
        self.name = name
        self.impl = impl
        self.shape_rule = shape_rule or evaluated_shape_rule(impl, multiple_results)
        self.jvp = jvp
        self.vjp = vjp
        self.input_vjps = input_vjps
        self.batch = batch
        self.differentiable = differentiable
        self.multiple_results = multiple_results
        self.linear = linear
        self.convention = convention
        self.elementwise = elementwise
        self.calls_function = calls_function
        self.left_identity = left_identity
        self.right_identity = right_identity
        self.involution = involution
        self.commutative = commutative

    def __call__(self, *args, **params):
        # ``core.interpreter.bind``, inlined and kept in step with it: this runs for every primitive call (rules
        # call primitives on arrays too), and the call saved is ~4% of a small gradient's time.
        top = None
        for arg in args:
            if isinstance(arg, Tracer):
                trace = arg._trace
                if top is None or trace.level > top.level:
                    top = trace
        if top is None:
            out = self.impl(*args, **params)
            if config.debug_nans:
                check_nans(self, out)
            return out
        if not top.active:
            return bind(self, args, params)  # raises the escaped-tracer error
        return top.process(self, args, params)

    def bind(self, *args, **params):
        """The same as calling the primitive (one meaning for a primitive call)."""
        return self(*args, **params)

    def pullback(self, out, inputs, params, wanted=None):
        """The reverse rule at a recorded call: ``cotangent -> per-input cotangents`` (None for zero).

        ``wanted`` (positions) limits the work to the inputs being differentiated; None means all."""
        input_vjps = self.input_vjps
        if input_vjps is None:
            return self.vjp(out, *inputs, **params)
        count = len(inputs)
        positions = range(count) if wanted is None else wanted
        makers = [(p, input_vjps[p](out, *inputs, **params)) for p in positions if input_vjps[p] is not None]

        def joint_pullback(cotangent):
            cotangents = [None] * count
            for position, pullback in makers:
                cotangents[position] = pullback(cotangent)
            return cotangents

        return joint_pullback

    def __repr__(self):
        return self.name


# Results of evaluated shape rules kept per primitive (cleared when full): staging a function calls the same
# rule on the same shapes and parameters at every call, and running the implementation on zeros costs several
# microseconds where a lookup costs a fraction of one.
SHAPE_CACHE_SIZE = 1024


def evaluated_shape_rule(impl, multiple_results):
    """A shape rule that runs ``impl`` on zeros: always agrees with the implementation."""
    known = {}

    def shape_rule(*avals, **params):
        key = None
        if all(type(a) is ShapedArray for a in avals):
            key = (tuple([(a.shape, a.dtype) for a in avals]), tuple(params.items()))
            try:
                out = known.get(key)
            except TypeError:  # a parameter that cannot be hashed (an array): not cached
                key = out = None
            if out is not None:
                return list(out) if multiple_results else out
        dummies = [np.zeros(a.shape, a.dtype) if isinstance(a, ShapedArray) else a for a in avals]
        with np.errstate(all="ignore"):
            out = impl(*dummies, **params)
        out = [aval_of(np.asarray(o)) for o in out] if multiple_results else aval_of(np.asarray(out))
        if key is not None:
            if len(known) >= SHAPE_CACHE_SIZE:
                known.clear()
            known[key] = tuple(out) if multiple_results else out
        return out

    return shape_rule
