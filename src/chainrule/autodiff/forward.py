"""Forward mode: a JVP interpreter whose tracers carry (primal, tangent) and apply each primitive's ``jvp``."""

from ..core.interpreter import Interpreter, PrimalTracer, interpreter_scope
from ..core.zeros import instantiate


class JVPTracer(PrimalTracer):
    __slots__ = ("tangent",)

    def __init__(self, trace, primal, tangent):
        self._trace = trace
        self.primal = primal
        self.tangent = tangent

    def __repr__(self):
        return f"JVPTracer(primal={self.primal!r}, tangent={self.tangent!r})"


class JVPInterpreter(Interpreter):
    __slots__ = ()

    def process(self, primitive, args, params):
        primals = []
        tangents = []
        for arg in args:
            if type(arg) is JVPTracer and arg._trace is self:
                primals.append(arg.primal)
                tangents.append(arg.tangent)
            else:
                primals.append(arg)
                tangents.append(None)
        out, out_tangent = primitive.jvp(primals, tangents, **params)
        if primitive.multiple_results:
            return [o if t is None else JVPTracer(self, o, t) for o, t in zip(out, out_tangent)]
        if out_tangent is None:
            return out
        return JVPTracer(self, out, out_tangent)


def jvp_flat(function, primals, tangents):
    """Run ``function`` on flat lists of primals with tangents; return flat lists (outs, out_tangents)."""
    interpreter = JVPInterpreter()
    with interpreter_scope(interpreter):
        inputs = [JVPTracer(interpreter, p, t) for p, t in zip(primals, tangents)]
        outs = function(inputs)
        results, result_tangents = [], []
        for out in outs:
            if isinstance(out, JVPTracer) and out._trace is interpreter:
                results.append(out.primal)
                result_tangents.append(out.tangent)
            else:
                results.append(out)
                result_tangents.append(None)
    return results, [instantiate(t, r) for t, r in zip(result_tangents, results)]
