"""Batching (``vmap``): an interpreter whose tracers carry a value with the batch along axis 0, and one
batching rule per primitive, so a function of one example runs on a whole batch in one pass.

A primitive's rule is the ``batch`` of its stanza (``ops.batch_rules`` has the shared ones); elementwise
primitives need none. A primitive without a rule raises an error naming it — never a silent Python loop.
"""

from ..core.interpreter import ChainruleError, Interpreter, Tracer, interpreter_scope
from ..core.avals import aval_of
from ..ops import batch_rules, structure
from ..ops.batch_rules import shape_of
from . import unit_batch
from .unit_batch import IMPLICIT


class BatchTracer(Tracer):
    __slots__ = ("value",)

    def __init__(self, trace, value):
        self._trace = trace
        self.value = value

    @property
    def aval(self):
        aval = aval_of(self.value)
        return type(aval)(aval.shape[1:], aval.dtype)

    @property
    def shape(self):
        return shape_of(self.value)[1:]

    @property
    def dtype(self):
        try:
            return self.value.dtype
        except AttributeError:
            return self.aval.dtype

    def concrete_value(self):
        raise ChainruleError(
            "Python control flow on a batched value inside vmap: each example could take a different branch. "
            "Use chainrule.numpy.where(condition, a, b) to select per example.")

    def __repr__(self):
        return f"BatchTracer({self.value!r})"


class BatchInterpreter(Interpreter):
    __slots__ = ("size",)

    def __init__(self, size):
        super().__init__()
        self.size = size

    def process(self, primitive, args, params):
        values, batched = [], []
        implicit = False
        for arg in args:
            if type(arg) is BatchTracer and arg._trace is self:
                values.append(arg.value)
                batched.append(True)
                implicit = implicit or type(arg.value) in IMPLICIT
            else:
                values.append(arg)
                batched.append(False)
        if implicit:  # a Jacobian seed: kept implicit where the operation allows, otherwise made dense
            out = unit_batch.apply(primitive, values, batched, params)
            if out is not NotImplemented:
                return BatchTracer(self, out)
            values = [unit_batch.densify(v) for v in values]
        rule = primitive.batch or (batch_rules.elementwise if primitive.elementwise else None)
        if rule is None:
            raise NotImplementedError(f"vmap: primitive '{primitive.name}' has no batching rule yet")
        out = rule(primitive, values, batched, params, self.size)
        if primitive.multiple_results:
            return [BatchTracer(self, o) for o in out]
        return BatchTracer(self, out)


def batch_flat(function, leaves, axes, size, unbatched=None):
    """Run ``function`` (flat list -> flat list) with ``leaves`` batched along ``axes`` (None: shared).

    Returns the flat outputs with the batch along axis 0 (outputs that do not depend on the batch are
    broadcast).
    """
    if any(axes):  # some batch axis to move first
        from ..numpy.shaping import moveaxis
        leaves = [moveaxis(leaf, axis, 0) if axis else leaf for leaf, axis in zip(leaves, axes)]
    interpreter = BatchInterpreter(size)
    with interpreter_scope(interpreter):
        inputs = [leaf if axis is None else BatchTracer(interpreter, leaf) for leaf, axis in zip(leaves, axes)]
        outs = function(inputs)
        results = []
        for out in outs:
            if type(out) is BatchTracer and out._trace is interpreter:
                results.append(unit_batch.densify(out.value))
            else:
                if unbatched is not None:
                    unbatched[len(results)] = out
                results.append(structure.broadcast_to(out, (size,) + tuple(shape_of(out))))
    return results
