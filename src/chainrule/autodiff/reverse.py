"""Reverse mode: record each primitive call as a node of a tape, then walk the tape backwards applying VJPs.

A node keeps references to its inputs and output (no copies); the tape is freed with the pullback.
"""
import numpy as np

from ..core.config import config
from ..core.interpreter import Interpreter, PrimalTracer, Tracer, bind, interpreter_scope, set_backward_primitive
from ..ops.arithmetic import add
from ..ops.elementwise import real
from ..ops.indexing import gather
from .residuals import MISSING, plan_for, stand_in


LARGE = 2048  # elements: from this size on, a node keeps only what its pullback reads


class Node:
    """One recorded primitive call: its rule inputs and, during the backward pass, its cotangent."""

    __slots__ = ("primitive", "params", "parents", "inputs", "out", "cotangent")

    def __init__(self, primitive, params, parents, inputs, out):
        self.primitive = primitive
        self.params = params
        self.parents = parents
        self.inputs = inputs
        self.out = out
        self.cotangent = None


class ReverseTracer(PrimalTracer):
    __slots__ = ("node", "index")

    def __init__(self, trace, primal, node, index=None):
        self._trace = trace
        self.primal = primal
        self.node = node
        self.index = index

    def __repr__(self):
        return f"ReverseTracer(primal={self.primal!r})"


class ReverseInterpreter(Interpreter):
    __slots__ = ("tape",)

    def __init__(self):
        super().__init__()
        self.tape = []

    def process(self, primitive, args, params):
        primals = []
        parents = []
        nested = False  # whether enclosing transforms' tracers are involved
        for arg in args:
            if type(arg) is ReverseTracer and arg._trace is self:
                primal = arg.primal
                # A parent is (node, output index): a tracer may later be re-pointed by x[i] = v.
                parents.append((arg.node, arg.index))
            else:
                primal = arg
                parents.append(None)
            primals.append(primal)
            if isinstance(primal, Tracer):
                nested = True
        if nested or config.debug_nans:
            out = bind(primitive, primals, params)
        else:
            out = primitive.impl(*primals, **params)
        if not primitive.differentiable:
            return out
        # Keep only what the pullbacks read; shape/dtype stand-ins replace the rest. Small arrays are kept
        # whole: dropping them saves little memory and costs time on every primitive.
        stored_out = out
        first = primals[0]
        if ((type(out) is np.ndarray and out.size >= LARGE) or (type(first) is np.ndarray and first.size >= LARGE)
                or nested):
            mask = 0  # bit i set: argument i is differentiated here
            for position, parent in enumerate(parents):
                if parent is not None:
                    mask |= 1 << position
            plan = primitive.residual_plans.get(mask, MISSING)
            if plan is MISSING:
                plan = primitive.residual_plans[mask] = plan_for(primitive, mask, len(args))
        else:
            plan = None
        if plan is not None:
            keep_out, dropped = plan
            for position in dropped:
                primals[position] = stand_in(primals[position])
            if not keep_out:
                stored_out = stand_in(out)
        node = Node(primitive, params, parents, primals, stored_out)
        self.tape.append(node)
        if primitive.multiple_results:
            node.cotangent = [None] * len(out)
            return [ReverseTracer(self, o, node, i) for i, o in enumerate(out)]
        return ReverseTracer(self, out, node)


def _accumulate(node, index, cotangent):
    if index is None:
        node.cotangent = cotangent if node.cotangent is None else _sum(node.cotangent, cotangent)
    else:
        current = node.cotangent[index]
        node.cotangent[index] = cotangent if current is None else _sum(current, cotangent)


class SliceSum:
    """A cotangent that is zero outside basic slices: what reads like ``x[1:]`` and ``x[:-1]`` send back to
    ``x``. Kept as (index, value) parts and written into one array when needed, instead of one zero-padded
    array per read and a full-size sum per pair (the scatter-add their VJP would compute)."""

    __slots__ = ("shape", "dtype", "parts")

    def __init__(self, shape, dtype, parts):
        self.shape = shape
        self.dtype = dtype
        self.parts = parts

    def dense(self, base=None):
        """The cotangent as an array (``base`` plus the parts, when given: a fresh array either way)."""
        if base is None:
            out = np.zeros(self.shape, dtype=self.dtype)
        else:
            out = np.array(base, dtype=np.result_type(base, self.dtype), copy=True)
        for index, value in self.parts:
            out[index] += value
        return out


def _sum(current, cotangent):
    """current + cotangent, either of which may be a SliceSum."""
    if type(current) is not SliceSum and type(cotangent) is not SliceSum:
        return add(current, cotangent)
    if type(current) is SliceSum and type(cotangent) is SliceSum:
        return SliceSum(current.shape, np.result_type(current.dtype, cotangent.dtype), current.parts + cotangent.parts)
    sparse, other = (current, cotangent) if type(current) is SliceSum else (cotangent, current)
    if type(other) is np.ndarray and other.shape == sparse.shape:
        return sparse.dense(base=other)
    return add(densify(current), densify(cotangent))


def densify(cotangent):
    return cotangent.dense() if type(cotangent) is SliceSum else cotangent


def _slice_cotangent(node, cotangent):
    """The cotangent a basic-slice ``gather`` sends its operand, kept sparse; None for other nodes."""
    template = node.params["template"]
    if type(cotangent) is not np.ndarray or template.has_arrays or node.parents[0] is None:
        return None
    return SliceSum(np.shape(node.inputs[0]), cotangent.dtype, [(template.build(()), cotangent)])


class InputNode:
    """A leaf of the tape: an input being differentiated."""

    __slots__ = ("cotangent",)

    def __init__(self):
        self.cotangent = None


def record(function, primals):
    """Run ``function`` on flat ``primals`` under a fresh reverse interpreter.

    Returns (outs, pullback) where ``pullback(out_cotangents) -> input cotangents`` (flat lists, None
    for zero) may be called any number of times.
    """
    interpreter = ReverseInterpreter()
    with interpreter_scope(interpreter):
        input_nodes = [InputNode() for _ in primals]
        inputs = [ReverseTracer(interpreter, p, n) for p, n in zip(primals, input_nodes)]
        outs = function(inputs)
        out_primals = []
        out_links = []
        for out in outs:
            if isinstance(out, ReverseTracer) and out._trace is interpreter:
                out_primals.append(out.primal)
                out_links.append((out.node, out.index))
            else:
                out_primals.append(out)
                out_links.append(None)
    tape = interpreter.tape

    def pullback(out_cotangents):
        for link, cotangent in zip(out_links, out_cotangents):
            if link is not None and cotangent is not None:
                _accumulate(link[0], link[1], cotangent)
        backward(tape)
        results = [_project(densify(n.cotangent), p) for n, p in zip(input_nodes, primals)]
        for n in input_nodes:
            n.cotangent = None
        return results

    return out_primals, pullback


def _project(cotangent, primal):
    """A real input's cotangent is the real part of what complex intermediates sent it."""
    if cotangent is None or not is_complex(cotangent) or is_complex(primal):
        return cotangent
    return real(cotangent)


def is_complex(value):
    """Whether ``value`` (an array, a Python number or a traced value) has a complex dtype."""
    if type(value) is np.ndarray:
        return value.dtype.kind == "c"
    dtype = value.dtype if hasattr(value, "dtype") else np.result_type(value)
    return dtype.kind == "c"


def backward(tape):
    """Walk ``tape`` from last to first node, sending each node's cotangent to its parents."""
    debugging = config.debug_nans
    try:
        for node in reversed(tape):
            cotangent = node.cotangent
            primitive = node.primitive
            if primitive.multiple_results:
                if all(c is None for c in cotangent):
                    continue
                node.cotangent = [None] * len(cotangent)
                cotangent = [densify(c) for c in cotangent]
            else:
                if cotangent is None:
                    continue
                node.cotangent = None
                if type(cotangent) is SliceSum:
                    cotangent = cotangent.dense()
            if debugging:
                set_backward_primitive(primitive)
            # A real output's cotangent is real: project what complex consumers sent (JAX's convention),
            # so that no rule multiplies a stray imaginary part by its complex coefficients.
            if primitive.multiple_results:
                cotangent = [_project(c, o) for c, o in zip(cotangent, node.out)]
            elif cotangent.dtype.kind == "c" if type(cotangent) is np.ndarray else is_complex(cotangent):
                cotangent = _project(cotangent, node.out)
            input_vjps = primitive.input_vjps
            sparse = _slice_cotangent(node, cotangent) if primitive is gather else None
            if sparse is not None:
                pairs = ((node.parents[0], sparse),)
            elif input_vjps is not None:
                pairs = [(parent, rule(cotangent, node.out, *node.inputs, **node.params))
                         for parent, rule in zip(node.parents, input_vjps) if parent is not None and rule is not None]
            else:
                pairs = zip(node.parents, primitive.vjp(cotangent, node.out, *node.inputs, **node.params))
            for parent, parent_cotangent in pairs:
                if parent is None or parent_cotangent is None:
                    continue
                parent_node, index = parent
                if index is None:  # the common single-output case, inlined from _accumulate
                    current = parent_node.cotangent
                    if current is None:
                        parent_node.cotangent = parent_cotangent
                    elif type(current) is np.ndarray and type(parent_cotangent) is np.ndarray:
                        parent_node.cotangent = add(current, parent_cotangent)
                    else:
                        parent_node.cotangent = _sum(current, parent_cotangent)
                else:
                    _accumulate(parent_node, index, parent_cotangent)
    finally:
        if debugging:
            set_backward_primitive(None)
