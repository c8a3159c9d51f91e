"""Control primitives: ``stop_gradient`` (identity with zero derivative), and loops and branches (``scan``,
``while_loop``, ``cond``) whose bodies are staged graphs; their rules transform those graphs with the
machinery of ``ops/loops.py``. The public functions are in ``chainrule.control``."""
import numpy as np

from ..core.avals import ShapedArray
from ..core.graph import Graph
from ..core.interpreter import ChainruleError, Tracer, concrete_values, interpreter_depth
from ..core.primitive import Primitive
from ..core.zeros import instantiate
from . import batch_rules
from .arithmetic import add, maximum, minimum
from .comparison import eq, select
from .families import zero_derivative
from .loops import (CarryStore, LoopOutput, avals_of, batch_graph, carry_only, checkpointed_scan_vjp_runtime,
                    cond_runtime, graph_function, inexact, jvp_graph, rearranged, run_graph, scan_runtime, stage_closed,
                    step_function, vjp_graph, while_runtime, while_vjp_runtime, with_unused_inputs)
from .reduction import reduce_max
from .structure import broadcast_to, reshape, transpose

stop_gradient = zero_derivative("stop_gradient", lambda x: x, shape_rule=lambda x: ShapedArray(x.shape, x.dtype),
                                batch=batch_rules.same_params,
                                convention="identity whose derivative is defined to be 0")


def _split(values, *counts):
    parts, start = [], 0
    for count in counts:
        parts.append(list(values[start:start + count]))
        start += count
    parts.append(list(values[start:]))
    return parts


def _specs(avals):
    return [(tuple(a.shape), np.dtype(a.dtype)) for a in avals]


def _plain(values):
    return not any(isinstance(v, Tracer) for v in values)


def _select_examples(predicate, on_true, on_false):
    """Per example of a batch: ``on_true`` where ``predicate`` (shape (batch,)) holds, else ``on_false``."""
    shape = tuple(batch_rules.shape_of(on_true))
    mask = broadcast_to(reshape(predicate, new_shape=(shape[0],) + (1,) * (len(shape) - 1)), shape)
    return select(mask, on_true, on_false)


# ------------------------------------------------------------------------------------------- scan
# Inputs: consts (what the body reads unchanged), the initial carry, then xs (scanned along axis 0). The body
# graph takes consts + carry + one slice of each x and returns carry + one slice of each y.

def _scan_y_avals(body, num_carry):
    return [v.aval for v in body.outvars[num_carry:]]


def _scan_shape_rule(*avals, body, num_consts, num_carry, length, reverse, checkpoints):
    outs = [v.aval for v in body.outvars]
    return outs[:num_carry] + [ShapedArray((length,) + a.shape, a.dtype) for a in outs[num_carry:]]


def _scan_impl(*args, body, num_consts, num_carry, length, reverse, checkpoints):
    consts, carry, xs = _split(args, num_consts, num_carry)
    # Under a transform, keep what the reverse rule reads (every carry, or the revolve snapshots), so that the
    # loop runs once; evaluated plainly, nothing is kept.
    store = CarryStore(avals_of(carry), length, checkpoints) if interpreter_depth() and length else None
    out = LoopOutput(scan_runtime(step_function(body, length), consts, carry, xs, length=length, reverse=reverse,
                                  y_specs=_specs(_scan_y_avals(body, num_carry)), store=store))
    out.stored = store
    return out


def _scan_jvp(primals, tangents, *, body, num_consts, num_carry, length, reverse, checkpoints):
    consts, carry, xs = _split(primals, num_consts, num_carry)
    const_dots, carry_dots, x_dots = _split(tangents, num_consts, num_carry)
    avals = [v.aval for v in body.invars]
    const_has = [t is not None and inexact(a) for t, a in zip(const_dots, avals[:num_consts])]
    carry_has = [inexact(a) for a in avals[num_consts:num_consts + num_carry]]  # a carry's tangent grows per step
    x_has = [t is not None and inexact(a) for t, a in zip(x_dots, avals[num_consts + num_carry:])]
    derivative = jvp_graph(body, const_has + carry_has + x_has)
    num_x, num_y = len(xs), len(body.outvars) - num_carry
    counts = [num_consts, num_carry, num_x, sum(const_has), sum(carry_has), sum(x_has)]
    starts = np.cumsum([0] + counts)
    ranges = [list(range(starts[k], starts[k + 1])) for k in range(6)]
    out_inexact = [inexact(v.aval) for v in body.outvars]
    carry_tangents = sum(out_inexact[:num_carry])
    out_starts = [0, num_carry, num_carry + num_y, num_carry + num_y + carry_tangents]
    derivative = rearranged(
        derivative, ranges[0] + ranges[3] + ranges[1] + ranges[4] + ranges[2] + ranges[5],
        list(range(out_starts[0], out_starts[1])) + list(range(out_starts[2], out_starts[3]))
        + list(range(out_starts[1], out_starts[2])) + list(range(out_starts[3], len(derivative.outvars))))
    picked = [t for t, h in zip(const_dots, const_has) if h]
    carry_tangent_values = [instantiate(t, c) for t, c, h in zip(carry_dots, carry, carry_has) if h]
    x_tangent_values = [t for t, h in zip(x_dots, x_has) if h]
    outs = scan(*consts, *picked, *carry, *carry_tangent_values, *xs, *x_tangent_values, body=derivative,
                num_consts=num_consts + len(picked), num_carry=num_carry + len(carry_tangent_values), length=length,
                reverse=reverse, checkpoints=checkpoints)
    carry_out, carry_dot_out, ys, y_dots = _split(outs, num_carry, carry_tangents, num_y)
    carry_dot_out, y_dots = iter(carry_dot_out), iter(y_dots)
    out_tangents = [next(carry_dot_out) if i else None for i in out_inexact[:num_carry]]
    out_tangents += [next(y_dots) if i else None for i in out_inexact[num_carry:]]
    return carry_out + ys, out_tangents


def _trajectory_body(body, num_consts, num_carry):
    """The body that also returns its incoming carry as extra ys: a scan of it stacks the carries."""
    return Graph(body.invars, body.equations, body.outvars + body.invars[num_consts:num_consts + num_carry])


def _reverse_scan(body, num_consts, num_carry, consts, carries_at_steps, xs, carry_bars, y_bars, *, length,
                  reverse):
    """The cotangents of a scan's inputs (consts + carry + xs; None where not inexact), given its stacked
    per-step carries: a scan in the opposite direction whose body is the step's VJP."""
    avals = [v.aval for v in body.invars]
    wanted = [inexact(a) for a in avals]
    const_wanted, carry_wanted, x_wanted = _split(wanted, num_consts, num_carry)
    out_inexact = [inexact(v.aval) for v in body.outvars]
    y_given = [i and bar is not None for i, bar in zip(out_inexact[num_carry:], y_bars)]
    step_vjp = vjp_graph(body, wanted, out_inexact[:num_carry] + y_given)
    num_const_bars, num_carry_bars, num_x = sum(const_wanted), sum(carry_wanted), len(xs)

    def reverse_step(leaves):
        step_consts, bars, totals, carry, x, y_bar = _split(leaves, num_consts, num_carry_bars, num_const_bars,
                                                            num_carry, num_x)
        const_bars, new_bars, x_bars = _split(run_graph(step_vjp, step_consts + carry + x + bars + y_bar),
                                              num_const_bars, num_carry_bars)
        return new_bars + [add(t, b) for t, b in zip(totals, const_bars)] + x_bars

    given_y_bars = [b for b, g in zip(y_bars, y_given) if g]
    step_avals = (avals[:num_consts] + [a for a, w in zip(avals[num_consts:num_consts + num_carry], carry_wanted) if w]
                  + [a for a, w in zip(avals[:num_consts], const_wanted) if w] + avals[num_consts:]
                  + [ShapedArray(b.shape[1:], b.dtype) for b in avals_of(given_y_bars)])
    reverse_body = stage_closed(reverse_step, step_avals)
    const_zeros = [np.zeros(a.shape, a.dtype) for a, w in zip(avals[:num_consts], const_wanted) if w]
    outs = scan(*consts, *carry_bars, *const_zeros, *carries_at_steps, *xs, *given_y_bars, body=reverse_body,
                num_consts=num_consts, num_carry=num_carry_bars + num_const_bars, length=length,
                reverse=not reverse, checkpoints=None)
    new_bars, const_bars, x_bars = _split(outs, num_carry_bars, num_const_bars)
    return _scatter_wanted(const_wanted, const_bars) + _scatter_wanted(carry_wanted, new_bars) + \
        _scatter_wanted(x_wanted, x_bars)


def _scatter_wanted(wanted, values):
    values = iter(values)
    return [next(values) if w else None for w in wanted]


def _checkpointed_specs(body, num_consts, num_carry):
    """What the checkpointed reverse pass differentiates: which inputs (the inexact ones), and the shapes and
    dtypes of the bars of the wanted consts and xs."""
    avals = [v.aval for v in body.invars]
    wanted = [inexact(a) for a in avals]
    const_avals = [a for a, w in zip(avals[:num_consts], wanted) if w]
    x_avals = [a for a, w in zip(avals[num_consts + num_carry:], wanted[num_consts + num_carry:]) if w]
    return wanted, _specs(const_avals), _specs(x_avals)


def _step_vjp_graph(body, num_carry, y_given):
    wanted = [inexact(v.aval) for v in body.invars]
    return vjp_graph(body, wanted, [inexact(v.aval) for v in body.outvars[:num_carry]] + list(y_given))


def _checkpointed_bars(body, num_consts, num_carry, consts, carry, xs, carry_bars, y_bars, store, *, length,
                       reverse, checkpoints):
    """The cotangents of a checkpointed scan's inputs (None where not inexact). On arrays, with the snapshots its
    primal loop kept, the schedule runs at once; on traced values (inside jit, under a further transform) it is
    the primitive ``checkpointed_scan_vjp``, whose forward sweep places the snapshots when it runs."""
    out_inexact = [inexact(v.aval) for v in body.outvars]
    y_given = tuple(i and bar is not None for i, bar in zip(out_inexact[num_carry:], y_bars))
    given_y_bars = [b for b, g in zip(y_bars, y_given) if g]
    wanted, const_specs, x_specs = _checkpointed_specs(body, num_consts, num_carry)
    if store is not None and _plain(carry_bars + given_y_bars):
        bars = checkpointed_scan_vjp_runtime(
            step_function(carry_only(body, num_carry), length), step_function(_step_vjp_graph(body, num_carry, y_given),
                                                                             length),
            consts, carry, xs, carry_bars, given_y_bars, length=length, reverse=reverse, checkpoints=checkpoints,
            const_specs=const_specs, x_specs=x_specs, snapshots=store.snapshots)
    else:
        bars = checkpointed_scan_vjp(*consts, *carry, *xs, *carry_bars, *given_y_bars, body=body,
                                     step_vjp=_step_vjp_graph(body, num_carry, y_given), num_consts=num_consts,
                                     num_carry=num_carry, length=length, reverse=reverse, checkpoints=checkpoints,
                                     y_given=y_given)
    return _scatter_wanted(wanted, bars)


def _scan_vjp(outs, *inputs, body, num_consts, num_carry, length, reverse, checkpoints):
    consts, carry, xs = _split(inputs, num_consts, num_carry)
    store = getattr(outs, "stored", None)
    carry_inexact = [inexact(v.aval) for v in body.outvars[:num_carry]]

    def scan_pullback(out_bars):
        carry_bars = [instantiate(b, o) for b, o, i in zip(out_bars[:num_carry], outs[:num_carry], carry_inexact) if i]
        y_bars = list(out_bars[num_carry:])
        if length == 0:
            return [None] * num_consts + _scatter_wanted(carry_inexact, carry_bars) + [None] * len(xs)
        if checkpoints is not None:
            return _checkpointed_bars(body, num_consts, num_carry, consts, carry, xs, carry_bars, y_bars, store,
                                      length=length, reverse=reverse, checkpoints=checkpoints)
        if store is not None and store.stacked is not None:
            stacked = store.stacked
        else:  # traced inputs (a derivative of a derivative, staging): the carries come from a traced scan
            stacked = scan(*inputs, body=_trajectory_body(body, num_consts, num_carry), num_consts=num_consts,
                           num_carry=num_carry, length=length, reverse=reverse, checkpoints=None)[-num_carry:] \
                if num_carry else []
        return _reverse_scan(body, num_consts, num_carry, consts, stacked, xs, carry_bars, y_bars, length=length,
                             reverse=reverse)

    return scan_pullback


def _move_batch_to_second(value):
    rank = len(batch_rules.shape_of(value))
    return transpose(value, permutation=(1, 0) + tuple(range(2, rank)))


def _scan_batch(primitive, values, batched, params, size):
    body, num_consts, num_carry = params["body"], params["num_consts"], params["num_carry"]
    consts, carry, xs = _split(values, num_consts, num_carry)
    const_flags, _, x_flags = _split(batched, num_consts, num_carry)
    carry = [batch_rules.materialize(c, b, size) for c, b in zip(carry, batched[num_consts:num_consts + num_carry])]
    xs = [_move_batch_to_second(x) if b else x for x, b in zip(xs, x_flags)]  # the scanned axis stays first
    batched_body, _ = batch_graph(body, const_flags + [True] * num_carry + x_flags, size)
    outs = scan(*consts, *carry, *xs, **{**params, "body": batched_body})
    return outs[:num_carry] + [_move_batch_to_second(y) for y in outs[num_carry:]]


scan = Primitive("scan", _scan_impl, shape_rule=_scan_shape_rule, jvp=_scan_jvp, vjp=_scan_vjp, batch=_scan_batch,
                 multiple_results=True)


# ------------------------------------------------------------------------------------------- checkpointed_scan_vjp
# The reverse mode of a checkpointed scan whose inputs are traced (inside jit, under a further transform): one
# primitive that runs the forward sweep placing revolve's snapshots, then the steps' VJPs backwards, holding at
# most ``checkpoints`` carries. Inputs: the scan's consts, initial carry and xs, the cotangents of its inexact
# final carries, then those of the ys marked in ``y_given`` (stacked). Outputs: the cotangents of its inexact
# inputs (consts, initial carry, stacked xs). Its own derivatives and batching go through the same computation
# written as a scan of the trajectory and a reversed scan (``_stored_reference``), so they store every carry.

def _checkpointed_scan_vjp_shape_rule(*avals, body, step_vjp, num_consts, num_carry, length, reverse, checkpoints,
                                      y_given):
    outs = [v.aval for v in step_vjp.outvars]
    num_leading = sum(inexact(v.aval) for v in body.invars[:num_consts + num_carry])
    return outs[:num_leading] + [ShapedArray((length,) + a.shape, a.dtype) for a in outs[num_leading:]]


def _checkpointed_scan_vjp_impl(*args, body, step_vjp, num_consts, num_carry, length, reverse, checkpoints,
                                y_given):
    consts, carry, xs, carry_bars, y_bars = _split(args, num_consts, num_carry, len(body.invars) - num_consts -
                                                   num_carry, sum(inexact(v.aval) for v in body.outvars[:num_carry]))
    _, const_specs, x_specs = _checkpointed_specs(body, num_consts, num_carry)
    return checkpointed_scan_vjp_runtime(step_function(carry_only(body, num_carry), length),
                                         step_function(step_vjp, length), consts, carry, xs, carry_bars, y_bars,
                                         length=length, reverse=reverse, checkpoints=checkpoints,
                                         const_specs=const_specs, x_specs=x_specs)


def _stored_reference(avals, body, step_vjp, num_consts, num_carry, length, reverse, checkpoints, y_given):
    """``checkpointed_scan_vjp`` as a closed graph that stores every carry, for the graph transforms."""
    num_x = len(body.invars) - num_consts - num_carry
    num_carry_bars = sum(inexact(v.aval) for v in body.outvars[:num_carry])
    wanted = [inexact(v.aval) for v in body.invars]

    def reference(leaves):
        consts, carry, xs, carry_bars, given_y_bars = _split(leaves, num_consts, num_carry, num_x, num_carry_bars)
        stacked = scan(*consts, *carry, *xs, body=_trajectory_body(body, num_consts, num_carry),
                       num_consts=num_consts, num_carry=num_carry, length=length, reverse=reverse,
                       checkpoints=None)[-num_carry:] if num_carry else []
        given_y_bars = iter(given_y_bars)
        y_bars = [next(given_y_bars) if g else None for g in y_given]
        bars = _reverse_scan(body, num_consts, num_carry, consts, stacked, xs, carry_bars, y_bars, length=length,
                             reverse=reverse)
        return [b for b, w in zip(bars, wanted) if w]

    return stage_closed(reference, avals)


def _checkpointed_scan_vjp_jvp(primals, tangents, **params):
    reference = _stored_reference(avals_of(primals), **params)
    has = [t is not None and inexact(v.aval) for t, v in zip(tangents, reference.invars)]
    outs = run_graph(jvp_graph(reference, has), list(primals) + [t for t, h in zip(tangents, has) if h])
    count = len(reference.outvars)
    return outs[:count], outs[count:]


def _checkpointed_scan_vjp_vjp(outs, *inputs, **params):
    reference = _stored_reference(avals_of(inputs), **params)
    wanted = [inexact(v.aval) for v in reference.invars]

    def checkpointed_scan_vjp_pullback(out_bars):
        given = [b is not None for b in out_bars]
        if not any(given):
            return [None] * len(inputs)
        bars = run_graph(vjp_graph(reference, wanted, given), list(inputs) + [b for b in out_bars if b is not None])
        return _scatter_wanted(wanted, bars)

    return checkpointed_scan_vjp_pullback


def _checkpointed_scan_vjp_batch(primitive, values, batched, params, size):
    # Every example has its own carries and cotangents (of the consts too): batch all of them, and run the same
    # checkpointed pass on the batched body and step VJP.
    body, num_consts, num_carry = params["body"], params["num_consts"], params["num_carry"]
    num_x = len(body.invars) - num_consts - num_carry
    values = [batch_rules.materialize(v, b, size) for v, b in zip(values, batched)]
    consts, carry, xs, rest = _split(values, num_consts, num_carry, num_x)
    num_carry_bars = sum(inexact(v.aval) for v in body.outvars[:num_carry])
    carry_bars, y_bars = rest[:num_carry_bars], rest[num_carry_bars:]
    step_vjp = params["step_vjp"]
    batched_body, _ = batch_graph(body, [True] * len(body.invars), size)
    batched_step_vjp, _ = batch_graph(step_vjp, [True] * len(step_vjp.invars), size)
    outs = checkpointed_scan_vjp(*consts, *carry, *[_move_batch_to_second(x) for x in xs], *carry_bars,
                                 *[_move_batch_to_second(y) for y in y_bars],
                                 **{**params, "body": batched_body, "step_vjp": batched_step_vjp})
    num_leading = sum(inexact(v.aval) for v in body.invars[:num_consts + num_carry])
    return outs[:num_leading] + [_move_batch_to_second(x) for x in outs[num_leading:]]


checkpointed_scan_vjp = Primitive("checkpointed_scan_vjp", _checkpointed_scan_vjp_impl,
                                  shape_rule=_checkpointed_scan_vjp_shape_rule, jvp=_checkpointed_scan_vjp_jvp,
                                  vjp=_checkpointed_scan_vjp_vjp, batch=_checkpointed_scan_vjp_batch,
                                  multiple_results=True)


# ------------------------------------------------------------------------------------------- cond
# Inputs: the branch index (an integer scalar, clamped to the branches), then the operands every branch takes.

def _cond_shape_rule(index, *avals, branches):
    return [v.aval for v in branches[0].outvars]


def _cond_impl(index, *operands, branches):
    return cond_runtime(index, [graph_function(b) for b in branches], operands)


def _cond_jvp(primals, tangents, *, branches):
    index, operands = primals[0], list(primals[1:])
    operand_dots = list(tangents[1:])
    has = [t is not None and inexact(v.aval) for t, v in zip(operand_dots, branches[0].invars)]
    derivatives = tuple(jvp_graph(b, has) for b in branches)
    outs = cond(index, *operands, *[t for t, h in zip(operand_dots, has) if h], branches=derivatives)
    out_inexact = [inexact(v.aval) for v in branches[0].outvars]
    count = len(out_inexact)
    dots = iter(outs[count:])
    return outs[:count], [next(dots) if i else None for i in out_inexact]


def _cond_vjp(outs, index, *operands, branches):
    wanted = [inexact(v.aval) for v in branches[0].invars]
    out_inexact = [inexact(v.aval) for v in branches[0].outvars]

    def cond_pullback(out_bars):
        given = [i and b is not None for i, b in zip(out_inexact, out_bars)]
        if not any(given):
            return [None] * (1 + len(operands))
        derivatives = tuple(vjp_graph(b, wanted, given) for b in branches)
        bars = cond(index, *operands, *[b for b, g in zip(out_bars, given) if g], branches=derivatives)
        return [None] + _scatter_wanted(wanted, bars)

    return cond_pullback


def _cond_batch(primitive, values, batched, params, size):
    branches = params["branches"]
    index, operands = values[0], list(values[1:])
    batched_branches = tuple(batch_graph(b, list(batched[1:]), size)[0] for b in branches)
    if not batched[0]:
        return cond(index, *operands, branches=batched_branches)
    # Each example selects its own branch: run every branch on the whole batch, then pick per example (JAX's
    # rule); an index out of range selects the nearest branch, as unbatched.
    index = minimum(maximum(index, 0), len(branches) - 1)
    outs = run_graph(batched_branches[-1], operands)
    for position in range(len(branches) - 2, -1, -1):
        taken = eq(index, position)
        outs = [_select_examples(taken, a, b) for a, b in zip(run_graph(batched_branches[position], operands), outs)]
    return outs


cond = Primitive("cond", _cond_impl, shape_rule=_cond_shape_rule, jvp=_cond_jvp, vjp=_cond_vjp, batch=_cond_batch,
                 multiple_results=True)


# ------------------------------------------------------------------------------------------- while_loop
# Inputs: the predicate's consts, the body's consts, then the carry. The predicate graph takes its consts + carry
# and returns one boolean scalar; the body graph takes its consts + carry and returns the carry.

def _while_shape_rule(*avals, cond_body, body, num_cond_consts, num_body_consts):
    return [v.aval for v in body.outvars]


def _while_impl(*args, cond_body, body, num_cond_consts, num_body_consts):
    cond_consts, body_consts, carry = _split(args, num_cond_consts, num_body_consts)
    trajectory = [] if interpreter_depth() else None  # the carries the reverse rule reads, kept under a transform
    out = LoopOutput(while_runtime(graph_function(cond_body), graph_function(body), cond_consts, body_consts, carry,
                                   trajectory))
    out.stored = trajectory
    return out


def _while_jvp(primals, tangents, *, cond_body, body, num_cond_consts, num_body_consts):
    cond_consts, body_consts, carry = _split(primals, num_cond_consts, num_body_consts)
    _, const_dots, carry_dots = _split(tangents, num_cond_consts, num_body_consts)
    avals = [v.aval for v in body.invars]
    const_has = [t is not None and inexact(a) for t, a in zip(const_dots, avals)]
    carry_has = [inexact(a) for a in avals[num_body_consts:]]
    derivative = jvp_graph(body, const_has + carry_has)
    num_carry, num_const_dots, num_carry_dots = len(carry), sum(const_has), sum(carry_has)
    starts = np.cumsum([0, num_body_consts, num_carry, num_const_dots, num_carry_dots])
    ranges = [list(range(starts[k], starts[k + 1])) for k in range(4)]
    derivative = rearranged(derivative, ranges[0] + ranges[2] + ranges[1] + ranges[3],
                            list(range(len(derivative.outvars))))
    carry_dot_avals = [a for a, h in zip(avals[num_body_consts:], carry_has) if h]
    predicate = with_unused_inputs(cond_body, carry_dot_avals, len(cond_body.invars))
    picked = [t for t, h in zip(const_dots, const_has) if h]
    carry_dot_values = [instantiate(t, c) for t, c, h in zip(carry_dots, carry, carry_has) if h]
    outs = while_loop(*cond_consts, *body_consts, *picked, *carry, *carry_dot_values, cond_body=predicate,
                      body=derivative, num_cond_consts=num_cond_consts, num_body_consts=num_body_consts + len(picked))
    dots = iter(outs[num_carry:])
    return outs[:num_carry], [next(dots) if h else None for h in carry_has]


def _while_vjp(outs, *inputs, cond_body, body, num_cond_consts, num_body_consts):
    cond_consts, body_consts, carry = _split(inputs, num_cond_consts, num_body_consts)
    trajectory = getattr(outs, "stored", None)
    carry_inexact = [inexact(v.aval) for v in body.outvars]

    def while_pullback(out_bars):
        carry_bars = [instantiate(b, o) for b, o, i in zip(out_bars, outs, carry_inexact) if i]
        if trajectory is not None:
            steps = len(trajectory)
            stacked = [np.stack([state[k] for state in trajectory]) for k in range(len(carry))] if steps else None
        else:
            concrete = concrete_values(inputs)
            if concrete is None:  # staged or batched: the trip count is known only when the loop runs
                bars = _while_vjp_bind(cond_consts, body_consts, carry, carry_bars, cond_body, body)
                return [None] * num_cond_consts + bars
            steps = _trip_count(cond_body, body, num_cond_consts, num_body_consts, concrete)
            stacked = None
            if steps:
                scan_body = _trajectory_body(body, num_body_consts, len(carry))
                stacked = scan(*body_consts, *carry, body=scan_body, num_consts=num_body_consts,
                               num_carry=len(carry), length=steps, reverse=False, checkpoints=None)[len(carry):]
        if not steps:
            return [None] * (num_cond_consts + num_body_consts) + _scatter_wanted(carry_inexact, carry_bars)
        bars = _reverse_scan(body, num_body_consts, len(carry), body_consts, stacked, [], carry_bars, [],
                             length=steps, reverse=False)
        return [None] * num_cond_consts + bars

    return while_pullback


def _trip_count(cond_body, body, num_cond_consts, num_body_consts, values):
    cond_consts, body_consts, carry = _split(values, num_cond_consts, num_body_consts)
    trajectory = []
    while_runtime(graph_function(cond_body), graph_function(body), cond_consts, body_consts, carry, trajectory)
    return len(trajectory)


def _any_example(predicate_graph):
    """The predicate of a batched loop: whether any example still runs."""
    avals = [v.aval for v in predicate_graph.invars]
    return stage_closed(lambda leaves: [reduce_max(run_graph(predicate_graph, leaves)[0], axes=(0,))], avals)


def _masked_body(predicate_graph, body_graph, num_cond_consts, num_body_consts):
    """The body of a batched loop over cond consts + body consts + carry: examples whose predicate is false keep
    their carry."""
    avals = ([v.aval for v in predicate_graph.invars[:num_cond_consts]] + [v.aval for v in body_graph.invars])

    def masked(leaves):
        cond_consts, body_consts, carry = _split(leaves, num_cond_consts, num_body_consts)
        running = run_graph(predicate_graph, cond_consts + carry)[0]
        stepped = run_graph(body_graph, body_consts + carry)
        return [_select_examples(running, new, old) for new, old in zip(stepped, carry)]

    return stage_closed(masked, avals)


def _batched_while_graphs(cond_body, body, num_cond_consts, num_body_consts, batched, size, all_consts=False):
    cond_flags, body_flags, _ = _split(batched, num_cond_consts, num_body_consts)
    if all_consts:
        body_flags = [True] * num_body_consts
    num_carry = len(body.outvars)
    predicate, (predicate_batched,) = batch_graph(cond_body, cond_flags + [True] * num_carry, size,
                                                  materialize_outputs=False)
    stepped, _ = batch_graph(body, body_flags + [True] * num_carry, size)
    return predicate, predicate_batched, stepped


def _while_batch(primitive, values, batched, params, size):
    cond_body, body = params["cond_body"], params["body"]
    num_cond_consts, num_body_consts = params["num_cond_consts"], params["num_body_consts"]
    cond_consts, body_consts, carry = _split(values, num_cond_consts, num_body_consts)
    carry = [batch_rules.materialize(c, b, size) for c, b in zip(carry, batched[num_cond_consts + num_body_consts:])]
    predicate, predicate_batched, stepped = _batched_while_graphs(cond_body, body, num_cond_consts, num_body_consts,
                                                                  batched, size)
    if not predicate_batched:
        return while_loop(*cond_consts, *body_consts, *carry, cond_body=predicate, body=stepped,
                          num_cond_consts=num_cond_consts, num_body_consts=num_body_consts)
    # Examples stop at different steps: run while any runs; the others keep their carry (JAX's rule).
    return while_loop(*cond_consts, *cond_consts, *body_consts, *carry,
                      cond_body=_any_example(predicate),
                      body=_masked_body(predicate, stepped, num_cond_consts, num_body_consts),
                      num_cond_consts=num_cond_consts, num_body_consts=num_cond_consts + num_body_consts)


while_loop = Primitive("while_loop", _while_impl, shape_rule=_while_shape_rule, jvp=_while_jvp, vjp=_while_vjp,
                       batch=_while_batch, multiple_results=True)


# ------------------------------------------------------------------------------------------- while_loop_vjp
# The reverse mode of a while loop whose trip count is not known when its derivative is built (inside jit, under
# vmap): one primitive that runs the loop forward, storing its carries, and then its steps' VJPs backwards.
# Inputs: as while_loop's, then the cotangents of the inexact carries. Outputs: cotangents of the body consts
# marked in ``wanted_consts``, then of the inexact carries.

def _while_vjp_bind(cond_consts, body_consts, carry, carry_bars, cond_body, body, wanted_consts=None):
    num_body_consts = len(body_consts)
    carry_avals = [v.aval for v in body.outvars]
    if wanted_consts is None:
        wanted_consts = tuple(inexact(v.aval) for v in body.invars[:num_body_consts])
    carry_inexact = tuple(inexact(a) for a in carry_avals)
    step_vjp = vjp_graph(body, list(wanted_consts) + list(carry_inexact), list(carry_inexact))
    bars = while_loop_vjp(*cond_consts, *body_consts, *carry, *carry_bars, cond_body=cond_body, body=body,
                          step_vjp=step_vjp, num_cond_consts=len(cond_consts), num_body_consts=num_body_consts,
                          wanted_consts=tuple(wanted_consts))
    const_bars, new_bars = _split(bars, sum(wanted_consts))
    return _scatter_wanted(wanted_consts, const_bars) + _scatter_wanted(carry_inexact, new_bars)


def _while_loop_vjp_shape_rule(*avals, cond_body, body, step_vjp, num_cond_consts, num_body_consts, wanted_consts):
    return [v.aval for v in step_vjp.outvars]


def _while_loop_vjp_impl(*args, cond_body, body, step_vjp, num_cond_consts, num_body_consts, wanted_consts):
    num_carry = len(body.outvars)
    cond_consts, body_consts, carry, carry_bars = _split(args, num_cond_consts, num_body_consts, num_carry)
    const_avals = [v.aval for v, w in zip(body.invars[:num_body_consts], wanted_consts) if w]
    return while_vjp_runtime(graph_function(cond_body), graph_function(body), graph_function(step_vjp), cond_consts,
                             body_consts, carry, carry_bars, const_specs=_specs(const_avals))


def _while_loop_vjp_unrolled(values, cond_body, body, step_vjp, num_cond_consts, num_body_consts, wanted_consts):
    """The same computation with its trip count fixed (read from concrete values) as a closed graph of a scan
    and a reverse scan, which the graph transforms differentiate; None when the values are abstract."""
    concrete = concrete_values(values)
    if concrete is None:
        return None
    num_carry = len(body.outvars)
    steps = _trip_count(cond_body, body, num_cond_consts, num_body_consts, concrete[:len(values) - sum(
        inexact(v.aval) for v in body.outvars)])
    carry_inexact = [inexact(v.aval) for v in body.outvars]

    def unrolled(leaves):
        _, body_consts, carry, carry_bars = _split(leaves, num_cond_consts, num_body_consts, num_carry)
        if steps:
            stacked = scan(*body_consts, *carry, body=_trajectory_body(body, num_body_consts, num_carry),
                           num_consts=num_body_consts, num_carry=num_carry, length=steps, reverse=False,
                           checkpoints=None)[num_carry:]
            bars = _reverse_scan(body, num_body_consts, num_carry, body_consts, stacked, [], carry_bars, [],
                                 length=steps, reverse=False)
        else:
            bars = [None] * num_body_consts + _scatter_wanted(carry_inexact, carry_bars)
        const_bars = [instantiate(b, c) for b, c, w in zip(bars, body_consts, wanted_consts) if w]
        return const_bars + [b for b in bars[num_body_consts:] if b is not None]

    return stage_closed(unrolled, avals_of(values))


def _while_loop_vjp_jvp(primals, tangents, *, cond_body, body, step_vjp, num_cond_consts, num_body_consts,
                        wanted_consts):
    # The reverse pass of g = jvp(loop) at (x, x_dot) with cotangents (y_bar_dot, y_bar) gives
    # (J^T y_bar_dot + (d(J x_dot))^T y_bar, J^T y_bar): the tangent of this pullback, then its value. So the
    # derivative is this primitive again, on the loop carrying tangents, and works inside jit.
    num_carry = len(body.outvars)
    cond_consts, body_consts, carry, carry_bars = _split(primals, num_cond_consts, num_body_consts, num_carry)
    _, const_dots, carry_dots, bar_dots = _split(tangents, num_cond_consts, num_body_consts, num_carry)
    avals = [v.aval for v in body.invars]
    const_has = [inexact(a) for a in avals[:num_body_consts]]
    carry_has = [inexact(a) for a in avals[num_body_consts:]]
    derivative = jvp_graph(body, const_has + carry_has)
    starts = np.cumsum([0, num_body_consts, num_carry, sum(const_has), sum(carry_has)])
    ranges = [list(range(starts[k], starts[k + 1])) for k in range(4)]
    derivative = rearranged(derivative, ranges[0] + ranges[2] + ranges[1] + ranges[3],
                            list(range(len(derivative.outvars))))
    predicate = with_unused_inputs(cond_body, [a for a, h in zip(avals[num_body_consts:], carry_has) if h],
                                   len(cond_body.invars))
    const_dots = [instantiate(t, c) for t, c, h in zip(const_dots, body_consts, const_has) if h]
    carry_dots = [instantiate(t, c) for t, c, h in zip(carry_dots, carry, carry_has) if h]
    bar_dots = [instantiate(t, b) for t, b in zip(bar_dots, carry_bars)]
    wanted = tuple(wanted_consts) + tuple(w for w, h in zip(wanted_consts, const_has) if h)
    bars = _while_vjp_bind(cond_consts, body_consts + const_dots, carry + carry_dots, bar_dots + list(carry_bars),
                           predicate, derivative, wanted)
    const_bars, new_bars = _split(bars, len(wanted))
    const_bars, new_bars = [b for b in const_bars if b is not None], [b for b in new_bars if b is not None]
    num_wanted, num_bars = sum(wanted_consts), len(carry_bars)
    return (const_bars[num_wanted:] + new_bars[num_bars:]), (const_bars[:num_wanted] + new_bars[:num_bars])


def _while_loop_vjp_vjp(outs, *inputs, **params):
    unrolled = _while_loop_vjp_unrolled(inputs, **params)
    if unrolled is None:
        # Staged (jit) or batched: the trip count is a value of the call. One primitive that unrolls at run time.
        wanted_inputs = [inexact(a) for a in avals_of(inputs)]

        def while_loop_vjp_deferred_pullback(out_bars):
            if all(b is None for b in out_bars):
                return [None] * len(inputs)
            bars = [instantiate(b, o) for b, o in zip(out_bars, outs)]
            result = while_loop_vjp_transpose(*inputs, *bars, batch_size=None, levels=(), **params)
            return _scatter_wanted(wanted_inputs, result)
        return while_loop_vjp_deferred_pullback
    return _graph_pullback(unrolled, inputs, [inexact(v.aval) for v in unrolled.invars])


def _graph_pullback(graph, primals, wanted):
    """``out_bars -> cotangents of primals`` (None where not ``wanted``) of a closed graph evaluated at ``primals``."""

    def graph_pullback(out_bars):
        given = [b is not None for b in out_bars]
        bars = run_graph(vjp_graph(graph, wanted, given), list(primals) + [b for b in out_bars if b is not None])
        return _scatter_wanted(wanted, bars)
    return graph_pullback


def _while_loop_vjp_batch(primitive, values, batched, params, size):
    cond_body, body = params["cond_body"], params["body"]
    num_cond_consts, num_body_consts = params["num_cond_consts"], params["num_body_consts"]
    num_carry = len(body.outvars)
    cond_consts, body_consts, carry, carry_bars = _split(values, num_cond_consts, num_body_consts, num_carry)
    flags = list(batched)
    # Every example has its own cotangents of the consts: the consts are batched (materialized) too.
    body_consts = [batch_rules.materialize(c, b, size)
                   for c, b in zip(body_consts, flags[num_cond_consts:num_cond_consts + num_body_consts])]
    carry = [batch_rules.materialize(c, b, size) for c, b in
             zip(carry, flags[num_cond_consts + num_body_consts:num_cond_consts + num_body_consts + num_carry])]
    carry_bars = [batch_rules.materialize(c, b, size) for c, b in
                  zip(carry_bars, flags[num_cond_consts + num_body_consts + num_carry:])]
    predicate, _, stepped = _batched_while_graphs(cond_body, body, num_cond_consts, num_body_consts, batched, size,
                                                  all_consts=True)
    masked = _masked_body(predicate, stepped, num_cond_consts, num_body_consts)
    wanted = (False,) * num_cond_consts + tuple(params["wanted_consts"])
    bars = _while_vjp_bind(cond_consts, cond_consts + body_consts, carry, carry_bars, _any_example(predicate),
                           masked, wanted)
    const_bars, new_bars = _split(bars, num_cond_consts + num_body_consts)
    return [b for b in const_bars[num_cond_consts:] if b is not None] + [b for b in new_bars if b is not None]


while_loop_vjp = Primitive("while_loop_vjp", _while_loop_vjp_impl, shape_rule=_while_loop_vjp_shape_rule,
                           jvp=_while_loop_vjp_jvp, vjp=_while_loop_vjp_vjp, batch=_while_loop_vjp_batch,
                           multiple_results=True)


# ------------------------------------------------------------------------------------------- while_loop_vjp_transpose
# The reverse mode of while_loop_vjp (reverse mode applied twice to a while loop) where its trip count is a value
# of the call (inside jit or vmap): the trip count is read when the primitive runs, and the pullback of the
# unrolled computation (a scan and a reverse scan, see _while_loop_vjp_unrolled) is applied then.
# Inputs: while_loop_vjp's, then the cotangents of its outputs, then what each level of differentiation applied to
# it adds. Outputs: cotangents of its inexact inputs, then as each level makes them.
# ``levels``: for each level of differentiation over it, ("jvp", which inputs of the level below have tangents:
# its tangents come next among the inputs, and the outputs gain a tangent each) or ("vjp", which inputs of the
# level below are inexact: its outputs' cotangents come next among the inputs, and the outputs become the
# cotangents of those inputs). The JVP and the VJP of this primitive are this primitive one level up, so it
# stages at any order, in any mix of modes.
# ``batch_size``: None, or the leading axis of every input holds that many examples (vmap), run one by one.

def _transpose_counts(params):
    """(inputs of while_loop_vjp, inputs of the level-0 pullback) for these parameters."""
    body = params["body"]
    num_carry = len(body.outvars)
    inputs = params["num_cond_consts"] + params["num_body_consts"] + num_carry + \
        sum(inexact(v.aval) for v in body.outvars)
    return inputs, inputs + len(params["step_vjp"].outvars)


def _transpose_graph(args, levels, params):
    """The pullback of while_loop_vjp and ``levels`` of forward mode over it as one closed graph, with the trip
    count read from ``args``; None where they are abstract (staged)."""
    inputs, _ = _transpose_counts(params)
    unrolled = _while_loop_vjp_unrolled(list(args[:inputs]), **params)
    if unrolled is None:
        return None
    graph = vjp_graph(unrolled, [inexact(v.aval) for v in unrolled.invars], [True] * len(unrolled.outvars))
    for kind, flags in levels:
        graph = jvp_graph(graph, list(flags)) if kind == "jvp" else \
            vjp_graph(graph, list(flags), [True] * len(graph.outvars))
    return graph


def _while_loop_vjp_transpose_impl(*args, batch_size, levels, **params):
    if batch_size is not None:
        examples = [_while_loop_vjp_transpose_impl(*[a[k] for a in args], batch_size=None, levels=levels, **params)
                    for k in range(batch_size)]
        return [np.stack(column) for column in zip(*examples)]
    return [np.asarray(value) for value in run_graph(_transpose_graph(args, levels, params), list(args))]


def _while_loop_vjp_transpose_shape_rule(*avals, batch_size, levels, **params):
    inputs, level_inputs = _transpose_counts(params)
    outs = [a for a in avals[:inputs] if inexact(a)]
    for kind, flags in levels:
        if kind == "jvp":  # every output is inexact: a tangent per output
            level_inputs += sum(flags)
            outs = outs + outs
        else:  # the cotangents of the level's inexact inputs
            below = avals[:level_inputs]
            level_inputs += len(outs)
            outs = [a for a, wanted in zip(below, flags) if wanted]
    return outs


def _while_loop_vjp_transpose_jvp(primals, tangents, *, batch_size, levels, **params):
    flags = tuple(t is not None for t in tangents)
    if not any(flags):
        return while_loop_vjp_transpose(*primals, batch_size=batch_size, levels=levels, **params), None
    outs = while_loop_vjp_transpose(*primals, *[t for t in tangents if t is not None], batch_size=batch_size,
                                    levels=levels + (("jvp", flags),), **params)
    half = len(outs) // 2
    return outs[:half], outs[half:]


def _while_loop_vjp_transpose_vjp(outs, *primals, batch_size, levels, **params):
    wanted = [inexact(a) for a in avals_of(primals)]
    graph = None if batch_size is not None else _transpose_graph(primals, levels, params)
    if graph is not None:
        return _graph_pullback(graph, primals, wanted)

    def staged_pullback(out_bars):  # the trip count is read when it runs: this primitive one level up
        bars = [instantiate(b, o) for b, o in zip(out_bars, outs)]
        cotangents = while_loop_vjp_transpose(*primals, *bars, batch_size=batch_size,
                                              levels=levels + (("vjp", tuple(wanted)),), **params)
        return _scatter_wanted(wanted, cotangents)
    return staged_pullback


def _while_loop_vjp_transpose_batch(primitive, values, batched, params, size):
    values = [batch_rules.materialize(v, b, size) for v, b in zip(values, batched)]
    inner = params["batch_size"]
    if inner is None:
        return while_loop_vjp_transpose(*values, **dict(params, batch_size=size))
    # already batched (jacrev's own vmap inside a user's vmap): both batch axes as one
    merged = [reshape(v, new_shape=(size * inner,) + tuple(v.shape[2:])) for v in values]
    outs = while_loop_vjp_transpose(*merged, **dict(params, batch_size=size * inner))
    return [reshape(o, new_shape=(size, inner) + tuple(o.shape[1:])) for o in outs]


while_loop_vjp_transpose = Primitive(
    "while_loop_vjp_transpose", _while_loop_vjp_transpose_impl, shape_rule=_while_loop_vjp_transpose_shape_rule,
    jvp=_while_loop_vjp_transpose_jvp, vjp=_while_loop_vjp_transpose_vjp, batch=_while_loop_vjp_transpose_batch,
    multiple_results=True)


# How code generated by chainrule.export calls each loop: ``writer(bodies, args, params) -> expression``, where
# ``bodies`` maps each graph-valued parameter to the names of the functions generated for its graphs and ``args``
# are the inputs' expressions. The expression calls a runtime helper of ``ops/loops.py`` (imported as _loops).

def _list(items):
    return "[" + ", ".join(items) + "]"


def _specs_code(avals):
    return _list(f"({tuple(a.shape)!r}, {np.dtype(a.dtype).name!r})" for a in avals)


def _scan_code(bodies, args, params):
    consts, carry, xs = _split(args, params["num_consts"], params["num_carry"])
    return (f"_loops.scan_runtime({bodies['body'][0]}, {_list(consts)}, {_list(carry)}, {_list(xs)}, "
            f"length={params['length']!r}, reverse={params['reverse']!r}, "
            f"y_specs={_specs_code(_scan_y_avals(params['body'], params['num_carry']))})")


def _checkpointed_scan_vjp_code(bodies, args, params):
    body, num_consts, num_carry = params["body"], params["num_consts"], params["num_carry"]
    consts, carry, xs, carry_bars, y_bars = _split(args, num_consts, num_carry, len(body.invars) - num_consts -
                                                   num_carry, sum(inexact(v.aval) for v in body.outvars[:num_carry]))
    _, const_specs, x_specs = _checkpointed_specs(body, num_consts, num_carry)
    specs = [f"[{', '.join(f'({shape!r}, {dtype.name!r})' for shape, dtype in group)}]" for group in (const_specs,
                                                                                                      x_specs)]
    return (f"_loops.checkpointed_scan_vjp_runtime({bodies['body'][0]}, {bodies['step_vjp'][0]}, {_list(consts)}, "
            f"{_list(carry)}, {_list(xs)}, {_list(carry_bars)}, {_list(y_bars)}, length={params['length']!r}, "
            f"reverse={params['reverse']!r}, checkpoints={params['checkpoints']!r}, const_specs={specs[0]}, "
            f"x_specs={specs[1]})")


def _cond_code(bodies, args, params):
    return f"_loops.cond_runtime({args[0]}, {_list(bodies['branches'])}, {_list(args[1:])})"


def _while_code(bodies, args, params):
    cond_consts, body_consts, carry = _split(args, params["num_cond_consts"], params["num_body_consts"])
    return (f"_loops.while_runtime({bodies['cond_body'][0]}, {bodies['body'][0]}, {_list(cond_consts)}, "
            f"{_list(body_consts)}, {_list(carry)})")


def _while_loop_vjp_code(bodies, args, params):
    body = params["body"]
    cond_consts, body_consts, carry, carry_bars = _split(args, params["num_cond_consts"], params["num_body_consts"],
                                                         len(body.outvars))
    const_avals = [v.aval for v, w in zip(body.invars, params["wanted_consts"]) if w]
    return (f"_loops.while_vjp_runtime({bodies['cond_body'][0]}, {bodies['body'][0]}, {bodies['step_vjp'][0]}, "
            f"{_list(cond_consts)}, {_list(body_consts)}, {_list(carry)}, {_list(carry_bars)}, "
            f"const_specs={_specs_code(const_avals)})")


RUNTIME_CODE = {scan: _scan_code, cond: _cond_code, while_loop: _while_code, while_loop_vjp: _while_loop_vjp_code,
                checkpointed_scan_vjp: _checkpointed_scan_vjp_code}
