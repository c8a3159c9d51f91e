"""The machinery of the control primitives (``ops/control.py``): staging a body function into a closed Graph,
running one, transforming one (JVP, VJP, batching) with the primitives' own rules, the loops' runtime, and
binomial (revolve) checkpointing schedules.

Graph transforms live here rather than in ``autodiff`` because a primitive's rules may only use ``core`` and
``ops``: each transform is a loop over ``graph.equations`` applying the stanza of each primitive.
"""
import contextlib
import functools
import threading
from math import comb

import numpy as np

from ..core.avals import ShapedArray, aval_of, is_inexact
from ..core.config import config
from ..core.cotangents import dense
from ..core.graph import Graph, Literal, StagingInterpreter, StagingTracer, Var, simplify_graph
from ..core.interpreter import Tracer, interpreter_scope
from ..core.zeros import instantiate
from . import batch_rules
from .arithmetic import add
from .elementwise import real


# ------------------------------------------------------------------------------------------- staging

class _CapturingInterpreter(StagingInterpreter):
    """Staging that turns values traced by enclosing transforms (closed over by the body) into extra inputs,
    so that the staged body is a closed Graph and those values stay differentiable as the primitive's inputs."""

    __slots__ = ("captured", "captured_vars")

    def __init__(self):
        super().__init__()
        self.captured = []
        self.captured_vars = {}

    def atom(self, value):
        if isinstance(value, StagingTracer) and value._trace is self:
            return value.var
        if isinstance(value, Tracer):
            var = self.captured_vars.get(id(value))
            if var is None:
                var = self.captured_vars[id(value)] = Var(value.aval)
                self.captured.append(value)
            return var
        return self.literal(value)


def stage(function, avals):
    """Stage ``function`` (flat list of values -> flat list) on ``avals`` into a closed Graph.

    Returns (graph, captured): the graph's inputs are the captured values first (what the function closed over
    that enclosing transforms trace), then one per aval."""
    interpreter = _CapturingInterpreter()
    with interpreter_scope(interpreter):
        invars = [Var(a) for a in avals]
        outs = function([StagingTracer(interpreter, v) for v in invars])
        outvars = [interpreter.atom(o) for o in outs]
    interpreter.external.check()
    captured_vars = [interpreter.captured_vars[id(v)] for v in interpreter.captured]
    graph = simplify_graph(Graph(captured_vars + invars, interpreter.equations, outvars))
    return graph, list(interpreter.captured)


def stage_closed(function, avals):
    """Stage a function built from closed graphs only (a transformed body): nothing may be captured."""
    graph, captured = stage(function, avals)
    assert not captured, "a transformed body captured a traced value"
    return graph


def run_graph(graph, leaves):
    """Evaluate ``graph`` on a flat list by calling each equation's primitive (so under a transform this is
    transformed like any other code); returns the flat outputs."""
    env = dict(zip(graph.invars, leaves))
    for equation in graph.equations:
        out = equation.primitive(*[env[a] if type(a) is Var else a.value for a in equation.inputs], **equation.params)
        if equation.primitive.multiple_results:
            env.update(zip(equation.outputs, out))
        else:
            env[equation.outputs[0]] = out
    return [env[v] if type(v) is Var else v.value for v in graph.outvars]


def graph_function(graph):
    """``graph`` as a function of a flat list (what the runtime helpers call)."""
    return functools.partial(run_graph, graph)


# Calling each equation's primitive costs microseconds of dispatch per equation, which a loop of 10^5 steps pays
# 10^5 times: long loops run their bodies as generated NumPy code instead (what ``jit`` runs). The generator
# lives in ``chainrule.export``, above this layer, so ``chainrule.control`` installs it here.
_graph_compiler = None
COMPILE_FROM_STEPS = 200  # fewer steps do not repay generating code (about a millisecond a body)


def use_graph_compiler(compiler):
    """Install ``compiler(graph) -> function of a flat list`` for the bodies of long loops (None: interpret)."""
    global _graph_compiler
    _graph_compiler = compiler


def step_function(graph, steps):
    """``graph`` as a function of a flat list, for a loop that calls it ``steps`` times: generated code when a
    compiler is installed and the loop is long, otherwise ``graph_function``. ``config.debug_nans`` checks each
    primitive, so it interprets."""
    if _graph_compiler is not None and steps >= COMPILE_FROM_STEPS and not config.debug_nans:
        try:
            return _graph_compiler(graph)
        except NotImplementedError:  # a primitive the generator cannot write: interpreting is as exact
            pass
    return graph_function(graph)


def carry_only(graph, num_carry):
    """The body without its per-step outputs: what recomputing a state needs."""
    return simplify_graph(Graph(graph.invars, graph.equations, graph.outvars[:num_carry]))


def rearranged(graph, inputs, outputs):
    """The same graph with its inputs and outputs reordered (``inputs``, ``outputs``: positions)."""
    return Graph([graph.invars[i] for i in inputs], graph.equations, [graph.outvars[i] for i in outputs])


def with_unused_inputs(graph, avals, position):
    """The same graph taking extra inputs of ``avals``, which it ignores, inserted at ``position``."""
    extra = [Var(a) for a in avals]
    return Graph(graph.invars[:position] + extra + graph.invars[position:], graph.equations, graph.outvars)


def inexact(aval):
    return is_inexact(aval.dtype)


def avals_of(values):
    return [v.aval if isinstance(v, Tracer) else aval_of(v) for v in values]


# ------------------------------------------------------------------------------------------- graph transforms

def jvp_graph(graph, with_tangent):
    """The forward-mode derivative of ``graph``: inputs are its primals, then tangents of the inputs marked in
    ``with_tangent``; outputs are its outputs, then tangents of its inexact outputs (zeros where constant)."""
    avals = [v.aval for v in graph.invars]
    count = len(avals)

    def jvp_body(leaves):
        values = dict(zip(graph.invars, leaves[:count]))
        tangent_leaves = iter(leaves[count:])
        tangents = {v: next(tangent_leaves) for v, w in zip(graph.invars, with_tangent) if w}
        for equation in graph.equations:
            primals = [values[a] if type(a) is Var else a.value for a in equation.inputs]
            input_tangents = [tangents.get(a) if type(a) is Var else None for a in equation.inputs]
            if all(t is None for t in input_tangents):
                out, out_tangent = equation.primitive(*primals, **equation.params), None
            else:
                out, out_tangent = equation.primitive.jvp(primals, input_tangents, **equation.params)
            if equation.primitive.multiple_results:
                values.update(zip(equation.outputs, out))
                for var, t in zip(equation.outputs, out_tangent or [None] * len(out)):
                    if t is not None:
                        tangents[var] = t
            else:
                values[equation.outputs[0]] = out
                if out_tangent is not None:
                    tangents[equation.outputs[0]] = out_tangent
        outs = [values[v] if type(v) is Var else v.value for v in graph.outvars]
        out_tangents = [instantiate(tangents.get(v) if type(v) is Var else None, o)
                        for v, o in zip(graph.outvars, outs) if inexact(v.aval)]
        return outs + out_tangents

    return stage_closed(jvp_body, avals + [a for a, w in zip(avals, with_tangent) if w])


def _cotangent_for(value, cotangent):
    """A cotangent as a rule may read it: dense, and real where its value is real (JAX's convention)."""
    cotangent = dense(cotangent)
    if cotangent is not None and is_inexact(aval_of(cotangent).dtype) and aval_of(cotangent).dtype.kind == "c" \
            and avals_of([value])[0].dtype.kind != "c":
        return real(cotangent)
    return cotangent


def vjp_graph(graph, wanted, given):
    """The reverse-mode derivative of ``graph``: inputs are its primals, then cotangents of the outputs marked in
    ``given``; outputs are cotangents of the inputs marked in ``wanted`` (zeros where independent).

    The forward equations are evaluated again inside (what one step of a reversed loop recomputes)."""
    avals = [v.aval for v in graph.invars]
    count = len(avals)

    def vjp_body(leaves):
        values = dict(zip(graph.invars, leaves[:count]))
        active = {v for v, w in zip(graph.invars, wanted) if w}
        nodes = []
        for equation in graph.equations:
            primitive = equation.primitive
            primals = [values[a] if type(a) is Var else a.value for a in equation.inputs]
            out = primitive(*primals, **equation.params)
            outputs = equation.outputs
            if primitive.multiple_results:
                values.update(zip(outputs, out))
            else:
                values[outputs[0]] = out
            positions = [p for p, a in enumerate(equation.inputs) if type(a) is Var and a in active]
            if not positions or not primitive.differentiable:
                continue
            nodes.append((equation, primals, primitive.pullback(out, primals, equation.params, wanted=positions),
                          positions))
            active.update(v for v in outputs if inexact(v.aval))
        bars = {}
        out_bars = iter(leaves[count:])
        for var, is_given in zip(graph.outvars, given):
            if is_given:
                bar = next(out_bars)
                if type(var) is Var and var in active:
                    bars[var] = bar if var not in bars else add(bars[var], bar)
        for equation, primals, pullback, positions in reversed(nodes):
            outputs = equation.outputs
            if equation.primitive.multiple_results:
                cotangent = [_cotangent_for(values[v], bars.pop(v, None)) for v in outputs]
                if all(c is None for c in cotangent):
                    continue
            else:
                cotangent = _cotangent_for(values[outputs[0]], bars.pop(outputs[0], None))
                if cotangent is None:
                    continue
            results = pullback(cotangent)
            for position in positions:
                result = results[position]
                if result is None:
                    continue
                var = equation.inputs[position]
                current = bars.get(var)
                bars[var] = result if current is None else add(dense(current), dense(result))
        return [instantiate(_cotangent_for(values[v], bars.get(v)), values[v])
                for v, w in zip(graph.invars, wanted) if w]

    return stage_closed(vjp_body, avals + [v.aval for v, g in zip(graph.outvars, given) if g])


def batch_graph(graph, batched, size, materialize_outputs=True):
    """The batched form of ``graph`` (``vmap``): inputs marked in ``batched`` carry a leading batch axis of
    ``size``. Returns (graph, which outputs are batched); with ``materialize_outputs`` every output is."""
    avals = [ShapedArray((size,) + v.aval.shape, v.aval.dtype) if b else v.aval
             for v, b in zip(graph.invars, batched)]
    out_batched = []

    def batched_body(leaves):
        values = dict(zip(graph.invars, leaves))
        flags = {v for v, b in zip(graph.invars, batched) if b}
        for equation in graph.equations:
            primitive = equation.primitive
            inputs = [values[a] if type(a) is Var else a.value for a in equation.inputs]
            input_flags = [type(a) is Var and a in flags for a in equation.inputs]
            if not any(input_flags):
                out = primitive(*inputs, **equation.params)
            else:
                rule = primitive.batch or (batch_rules.elementwise if primitive.elementwise else None)
                if rule is None:
                    raise NotImplementedError(f"vmap: primitive '{primitive.name}' (inside a loop or branch body) "
                                              f"has no batching rule yet")
                out = rule(primitive, inputs, input_flags, equation.params, size)
                flags.update(equation.outputs)
            if primitive.multiple_results:
                values.update(zip(equation.outputs, out))
            else:
                values[equation.outputs[0]] = out
        outs = []
        out_batched.clear()
        for var in graph.outvars:
            value = values[var] if type(var) is Var else var.value
            is_batched = type(var) is Var and var in flags
            if materialize_outputs and not is_batched:
                value, is_batched = batch_rules.materialize(value, False, size), True
            outs.append(value)
            out_batched.append(is_batched)
        return outs

    return stage_closed(batched_body, avals), list(out_batched)


# ------------------------------------------------------------------------------------------- runtime
# The loops themselves, on callables ``flat list -> flat list``: the primitives' implementations pass their
# staged bodies (``graph_function``), and code generated by ``chainrule.export`` passes generated functions.

class LoopOutput(list):
    """A loop's outputs, holding what its reverse rule reuses (stored carries) when a transform is active."""

    __slots__ = ("stored",)


class StepCounts:
    """How many body steps a loop ran, by kind (see ``count_steps``)."""

    def __init__(self):
        self.primal = 0       # steps of the forward (primal) loop
        self.recomputed = 0   # steps run again during a reverse pass, to rebuild states not stored
        self.reversed = 0     # steps differentiated in reverse (each runs the step's VJP)
        self.max_stored = 0   # largest number of carry states held at once by a checkpointed reverse pass

    def __repr__(self):
        return (f"StepCounts(primal={self.primal}, recomputed={self.recomputed}, reversed={self.reversed}, "
                f"max_stored={self.max_stored})")


class _Counting(threading.local):
    def __init__(self):
        self.counts = None


_counting = _Counting()


@contextlib.contextmanager
def count_steps():
    """Count the body steps loops run in this thread, for tests and measurement. A checkpointed scan's reverse
    pass counts its recomputed and reversed steps; otherwise a reverse pass is itself a scan, counted as primal.

    >>> import chainrule as cr, chainrule.numpy as np
    >>> from chainrule.control import scan
    >>> with count_steps() as counts:
    ...     _ = cr.grad(lambda x: scan(lambda c, _: (np.sin(c), None), x, None, length=5, checkpoints=2)[0])(0.5)
    >>> counts
    StepCounts(primal=5, recomputed=2, reversed=5, max_stored=2)
    """
    previous = _counting.counts
    counts = _counting.counts = StepCounts()
    try:
        yield counts
    finally:
        _counting.counts = previous


def _count(kind, number=1):
    counts = _counting.counts
    if counts is not None:
        setattr(counts, kind, getattr(counts, kind) + number)


def on_list(function):
    """A function of positional arguments (as generated code defines a body) as one of a flat list."""
    def body_on_list(leaves):
        return function(*leaves)
    return body_on_list


def scan_runtime(body, consts, carry, xs, *, length, reverse, y_specs, store=None):
    """Run ``body(consts + carry + x_t) -> carry + y_t`` over ``length`` steps; returns carry + stacked ys.

    ``store``: None, or a ``CarryStore`` that keeps the carries the reverse rule needs."""
    carry = list(carry)
    count = len(carry)
    ys = [np.empty((length,) + tuple(shape), dtype) for shape, dtype in y_specs]
    for position in range(length):
        step = length - 1 - position if reverse else position
        if store is not None:
            store.keep(position, step, carry)
        out = body(list(consts) + carry + [x[step] for x in xs])
        carry = list(out[:count])
        for stacked, y in zip(ys, out[count:]):
            stacked[step] = y
    _count("primal", length)
    return carry + ys


def while_runtime(cond, body, cond_consts, body_consts, carry, trajectory=None):
    """Run ``carry = body(body_consts + carry)`` while ``cond(cond_consts + carry)``; ``trajectory`` (a list)
    receives the carry before each step."""
    carry = list(carry)
    steps = 0
    while bool(cond(list(cond_consts) + carry)[0]):
        if trajectory is not None:
            trajectory.append(carry)
        carry = list(body(list(body_consts) + carry))
        steps += 1
    _count("primal", steps)
    return carry


def branch_index(index, count):
    """The branch an index selects, clamped to the valid range as lax.switch does."""
    return min(max(int(index), 0), count - 1)


def cond_runtime(index, branches, operands):
    return list(branches[branch_index(index, len(branches))](list(operands)))


def while_vjp_runtime(cond, body, step_vjp, cond_consts, body_consts, carry, carry_bars, *, const_specs):
    """Reverse mode of a while loop: run it forward storing each step's carry, then send ``carry_bars`` back
    through ``step_vjp(body_consts + carry_t + carry_bar) -> const_bars + carry_bars`` from the last step."""
    trajectory = []
    while_runtime(cond, body, cond_consts, body_consts, carry, trajectory)
    const_bars = [np.zeros(shape, dtype) for shape, dtype in const_specs]
    carry_bars = list(carry_bars)
    count = len(const_bars)
    for state in reversed(trajectory):
        out = step_vjp(list(body_consts) + state + carry_bars)
        const_bars = [total + bar for total, bar in zip(const_bars, out[:count])]
        carry_bars = list(out[count:])
    _count("reversed", len(trajectory))
    return const_bars + carry_bars


# ------------------------------------------------------------------------------------------- checkpointing

def binomial(snapshots, repetitions):
    """Griewank's beta(s, r) = C(s + r, s): the most steps s snapshots reverse with r forward sweeps."""
    return comb(snapshots + repetitions, snapshots)


def repetitions(steps, snapshots):
    """The least r with beta(snapshots, r) >= steps."""
    r = 0
    while binomial(snapshots, r) < steps:
        r += 1
    return r


def minimal_forward_steps(steps, snapshots):
    """Griewank's t(l, s) = r l - beta(s + 1, r - 1): the fewest forward steps that reverse ``steps`` steps
    holding at most ``snapshots`` states (the initial one included), the first sweep counted.

    >>> minimal_forward_steps(10, 1), minimal_forward_steps(10, 10), minimal_forward_steps(10, 3)
    (45, 9, 15)
    """
    if steps <= 1:
        return 0
    if snapshots == 1:
        return steps * (steps - 1) // 2
    r = repetitions(steps, snapshots)
    return r * steps - binomial(snapshots + 1, r - 1)


def revolve_split(steps, snapshots):
    """Where to place the next snapshot (steps after the held one) so that reversing stays minimal: the least
    point of the interval of optimal splits [max(beta(s, r-2), l - beta(s-1, r)), min(beta(s, r-1),
    l - beta(s-1, r-1))]."""
    r = repetitions(steps, snapshots)
    low = max(1, steps - binomial(snapshots - 1, r))
    if r >= 2:
        low = max(low, binomial(snapshots, r - 2))
    return min(low, steps - 1)


def revolve_spine(steps, snapshots):
    """The positions, besides 0, where the forward sweep stores snapshots: those the reverse pass reaches
    first, so the forward sweep itself places them."""
    positions = []
    start, remaining, free = 0, steps, snapshots
    while remaining > 1 and free > 1:
        split = revolve_split(remaining, free)
        start += split
        positions.append(start)
        remaining -= split
        free -= 1
    return positions


def sweep_positions(length, checkpoints):
    """The positions whose incoming carry the forward sweep keeps: the spine's snapshots, and the last state,
    which the sweep holds as its working state (the reverse pass starts from it, as revolve's first turn does)."""
    return {0, length - 1} | set(revolve_spine(length, checkpoints))


class CarryStore:
    """The carries a scan keeps for its reverse rule: every one (stacked), or the revolve snapshots."""

    __slots__ = ("stacked", "snapshots", "positions")

    def __init__(self, carry_avals, length, checkpoints):
        if checkpoints is None:
            self.stacked = [np.empty((length,) + a.shape, a.dtype) for a in carry_avals]
            self.snapshots = self.positions = None
        else:
            self.stacked = None
            self.snapshots = {}
            self.positions = sweep_positions(length, checkpoints)

    def keep(self, position, step, carry):
        """Keep ``carry``, the state before the step at index ``step``, run ``position``-th."""
        if self.stacked is not None:
            for stacked, value in zip(self.stacked, carry):
                stacked[step] = value
        elif position in self.positions:
            self.snapshots[position] = carry


def revolve_reverse(advance, reverse_step, snapshots, length, checkpoints):
    """Reverse ``length`` steps with binomial checkpointing, holding at most ``checkpoints`` states.

    ``snapshots``: position -> carry stored by the forward sweep (``revolve_spine``, and the last position);
    ``advance(carry, start,
    count)`` runs ``count`` steps from position ``start``; ``reverse_step(position, carry)`` differentiates the
    step at ``position``. Positions count steps in the order the loop runs them."""
    snapshots = dict(snapshots)
    tasks = [(0, length, checkpoints, snapshots.pop(0))]
    while tasks:
        _note_stored(tasks)
        start, steps, free, state = tasks.pop()
        if steps == 1:
            reverse_step(start, state)
        elif free == 1:
            for offset in reversed(range(steps)):
                held = snapshots.pop(start + offset, None)  # the working state of the forward sweep
                reverse_step(start + offset, advance(state, start, offset) if held is None else held)
        else:
            split = revolve_split(steps, free)
            later = snapshots.pop(start + split, None)
            if later is None:
                later = advance(state, start, split)
            tasks.append((start, split, free, state))
            tasks.append((start + split, steps - split, free - 1, later))


def _note_stored(tasks):
    counts = _counting.counts
    if counts is not None:
        counts.max_stored = max(counts.max_stored, len({id(task[3]) for task in tasks}))


def checkpointed_scan_vjp_runtime(step, step_vjp, consts, carry, xs, carry_bars, y_bars, *, length, reverse,
                                  checkpoints, const_specs, x_specs, snapshots=None):
    """Reverse mode of a scan holding at most ``checkpoints`` carries (``revolve_reverse``'s schedule).

    ``step(consts + carry + x_t) -> carry`` advances one step; ``step_vjp(consts + carry + x_t + carry_bars +
    y_bars_t) -> const_bars + carry_bars + x_bars_t`` differentiates one (the bars of the inexact inputs only:
    ``const_specs`` and ``x_specs`` give their shapes and dtypes). ``snapshots``: position -> carry, kept by the
    primal loop (``CarryStore``); None runs a forward sweep that places them first (compiled code, where the
    primal loop keeps nothing). Returns the summed const bars, the bars of the initial carry, the stacked x bars."""
    num_carry = len(carry)

    def index(position):
        return length - 1 - position if reverse else position

    def advance(state, start, count):
        for position in range(start, start + count):
            state = list(step(list(consts) + state + [x[index(position)] for x in xs]))[:num_carry]
        _count("recomputed", count)
        return state

    if snapshots is None:
        snapshots, state, reached = {}, list(carry), 0
        for position in sorted(sweep_positions(length, checkpoints)):
            state = advance(state, reached, position - reached)
            snapshots[position], reached = state, position
    const_totals = [np.zeros(shape, dtype) for shape, dtype in const_specs]
    x_bars = [np.zeros((length,) + tuple(shape), dtype) for shape, dtype in x_specs]
    bars = list(carry_bars)
    num_const_bars, num_carry_bars = len(const_totals), len(bars)

    def reverse_step(position, state):
        nonlocal bars, const_totals
        at = index(position)
        out = step_vjp(list(consts) + state + [x[at] for x in xs] + bars + [b[at] for b in y_bars])
        const_totals = [total + bar for total, bar in zip(const_totals, out[:num_const_bars])]
        bars = list(out[num_const_bars:num_const_bars + num_carry_bars])
        for stacked, bar in zip(x_bars, out[num_const_bars + num_carry_bars:]):
            stacked[at] = bar
        _count("reversed")

    revolve_reverse(advance, reverse_step, snapshots, length, checkpoints)
    return const_totals + bars + x_bars
