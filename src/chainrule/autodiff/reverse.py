"""Reverse mode: record each primitive call as a node holding the pullback its rule made, then walk the
nodes backwards.

The tape is immutable once recorded: each value has a *slot* number, and a backward pass keeps the
cotangents in its own table indexed by slot. So a pullback may be called again, from several threads
at once, after an exception, or under another transform. What the tape keeps alive is exactly what the
rules' pullback closures hold.
"""
import numpy as np

from ..core.config import config
from ..core.cotangents import SliceSum, dense
from ..core.external import ExternalArrays
from ..core.interpreter import (Interpreter, PrimalTracer, Tracer, bind, pop_interpreter, push_interpreter,
                                set_backward_primitive)
from ..ops.arithmetic import add
from ..ops.elementwise import real


# A node of the tape, one recorded primitive call, is the tuple (primitive, out, edges, pullback, parents,
# complex_out) (a tuple: a class would add a Python call to every recorded primitive):
# - out: the slot of its output (a list of slots for several);
# - edges: for per-input rules, [(input slot, pullback to that input), ...], else None;
# - pullback, parents: for a joint rule, cotangent -> one cotangent per input, and the input slots (None
#   where not differentiated);
# - complex_out: whether the output is complex (a real output's cotangent is real).


class ReverseTracer(PrimalTracer):
    __slots__ = ("slot",)

    def __init__(self, trace, primal, slot):
        self._trace = trace
        self.primal = primal
        self.slot = slot

    def __repr__(self):
        return f"ReverseTracer(primal={self.primal!r})"


class ReverseInterpreter(Interpreter):
    __slots__ = ("tape", "slots", "external")

    def __init__(self):
        self.level = -1  # Interpreter's fields, set here directly: one call fewer per transform call
        self.active = False
        self.tape = []
        self.slots = 0  # slots handed out so far: the inputs' first, then one per recorded output
        # writeable arrays passed in from outside the recording: pullbacks keep them, and the function (or its
        # caller, before calling the pullback) may change them afterwards (see core.external)
        self.external = ExternalArrays()

    def new_slot(self):
        slot = self.slots
        self.slots = slot + 1
        return slot

    def process(self, primitive, args, params):
        primals = []
        parents = []
        nested = False  # whether enclosing transforms' tracers are involved
        for arg in args:
            if type(arg) is ReverseTracer and arg._trace is self:
                primal = arg.primal
                parents.append(arg.slot)
            else:
                primal = arg if type(arg) is not np.ndarray or not arg.flags.writeable else \
                    self.external.constant(arg, primitive.name)
                parents.append(None)
            primals.append(primal)
            if isinstance(primal, Tracer):
                nested = True
        debugging = config.debug_nans
        if nested or debugging:
            out = bind(primitive, primals, params)
        else:
            out = primitive.impl(*primals, **params)
        if not primitive.differentiable:
            return out
        if debugging:
            set_backward_primitive(primitive)  # a NaN made by a maker is reported as the derivative's
            try:
                edges, pullback = _make_pullbacks(primitive, out, primals, params, parents)
            finally:
                set_backward_primitive(None)
        elif primitive.input_vjps is None:
            edges, pullback = None, primitive.vjp(out, *primals, **params)
        else:
            edges, pullback = _make_pullbacks(primitive, out, primals, params, parents)
        if primitive.multiple_results:
            slots = [self.new_slot() for _ in out]
            self.tape.append((primitive, slots, edges, pullback, parents, [is_complex(o) for o in out]))
            return [ReverseTracer(self, o, s) for o, s in zip(out, slots)]
        slot = self.slots
        self.slots = slot + 1
        try:
            complex_out = out.dtype.kind == "c"
        except AttributeError:  # a Python number
            complex_out = type(out) is complex
        self.tape.append((primitive, slot, edges, pullback, parents, complex_out))
        return ReverseTracer(self, out, slot)


def _make_pullbacks(primitive, out, primals, params, parents):
    """Run the primitive's reverse rule at a recorded call: (edges, None) for per-input makers, run only for
    the differentiated inputs; (None, pullback) for a joint maker."""
    input_vjps = primitive.input_vjps
    if input_vjps is None:
        return None, primitive.vjp(out, *primals, **params)
    edges = []
    for position, slot in enumerate(parents):
        if slot is not None:
            maker = input_vjps[position]
            if maker is not None:
                edges.append((slot, maker(out, *primals, **params)))
    return edges, None


def record(function, primals):
    """Run ``function`` on flat ``primals`` under a fresh reverse interpreter.

    Returns (outs, pullback) where ``pullback(out_cotangents) -> input cotangents`` (flat lists, None
    for zero) may be called any number of times, from any thread.
    """
    interpreter = ReverseInterpreter()
    input_count = interpreter.slots = len(primals)
    push_interpreter(interpreter)
    try:
        outs = function([ReverseTracer(interpreter, p, slot) for slot, p in enumerate(primals)])
        out_primals = []
        out_slots = []
        for out in outs:
            if type(out) is ReverseTracer and out._trace is interpreter:
                out_primals.append(out.primal)
                out_slots.append(out.slot)
            else:
                out_primals.append(out)
                out_slots.append(None)
    finally:
        pop_interpreter(interpreter)
    tape = interpreter.tape  # complete: the interpreter is inactive now, so nothing is recorded on it again
    slot_count = interpreter.slots
    external = interpreter.external if interpreter.external.guards else None

    def pullback(out_cotangents):
        if external is not None:
            external.check()  # large arrays the pullbacks keep by reference: unchanged since their use
        cotangents = [None] * slot_count  # this call's own state: nothing shared is written
        for slot, cotangent in zip(out_slots, out_cotangents):
            if slot is not None and cotangent is not None:
                current = cotangents[slot]
                cotangents[slot] = cotangent if current is None else accumulate(current, cotangent)
        backward(tape, cotangents)
        results = cotangents[:input_count]
        for position, cotangent in enumerate(results):
            if cotangent is None:
                continue
            if type(cotangent) is SliceSum:
                cotangent = results[position] = cotangent.dense()
            if is_complex(cotangent) and not is_complex(primals[position]):
                # A real input's cotangent is the real part of what complex intermediates sent it.
                results[position] = real(cotangent)
        return results

    return out_primals, pullback


def accumulate(current, cotangent):
    """current + cotangent for the cotangent kinds of the backward pass: None (zero), arrays and traced
    values, and sparse sums (``core.cotangents``)."""
    if current is None:
        return cotangent
    if type(current) is np.ndarray and type(cotangent) is np.ndarray:
        return add(current, cotangent)
    if type(current) is SliceSum:
        total = current.plus(cotangent)
    elif type(cotangent) is SliceSum:
        total = cotangent.plus(current)
    else:
        return add(current, cotangent)
    return add(dense(current), dense(cotangent)) if total is NotImplemented else total


def is_complex(value):
    """Whether ``value`` (an array, a NumPy or Python number, or a traced value) has a complex dtype."""
    try:
        return value.dtype.kind == "c"
    except AttributeError:
        return np.result_type(value).kind == "c"


def _real_cotangent(cotangent, complex_out):
    # A real output's cotangent is real: project what complex consumers sent (JAX's convention), so that
    # no rule multiplies a stray imaginary part by its complex coefficients.
    if complex_out or cotangent is None:
        return cotangent
    if (cotangent.dtype.kind == "c") if type(cotangent) is np.ndarray else is_complex(cotangent):
        return real(cotangent)
    return cotangent


def backward(tape, cotangents):
    """Walk ``tape`` from last to first node, sending each node's cotangent (read from and written to the
    per-call table ``cotangents``, indexed by slot) to its inputs' slots."""
    debugging = config.debug_nans
    try:
        for primitive, out, edges, pullback, parents, complex_out in reversed(tape):
            if type(out) is int:
                cotangent = cotangents[out]
                if cotangent is None:
                    continue
                cotangents[out] = None  # read once: freed as the walk goes on
                if type(cotangent) is not np.ndarray:
                    cotangent = _real_cotangent(dense(cotangent), complex_out)
                elif cotangent.dtype.kind == "c" and not complex_out:
                    cotangent = real(cotangent)  # as _real_cotangent, inlined for arrays
            else:
                cotangent = [cotangents[slot] for slot in out]
                if all(c is None for c in cotangent):
                    continue
                for slot in out:
                    cotangents[slot] = None
                cotangent = [_real_cotangent(dense(c), is_c) for c, is_c in zip(cotangent, complex_out)]
            if debugging:
                set_backward_primitive(primitive)
            if edges is not None:
                pairs = [(slot, input_pullback(cotangent)) for slot, input_pullback in edges]
            else:
                pairs = zip(parents, pullback(cotangent))
            for slot, parent_cotangent in pairs:
                if slot is None or parent_cotangent is None:
                    continue
                current = cotangents[slot]
                if current is None:
                    cotangents[slot] = parent_cotangent
                elif type(current) is np.ndarray and type(parent_cotangent) is np.ndarray:
                    cotangents[slot] = add(current, parent_cotangent)
                else:
                    cotangents[slot] = accumulate(current, parent_cotangent)
    finally:
        if debugging:
            set_backward_primitive(None)
