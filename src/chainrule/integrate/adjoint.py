"""``odeint``'s derivatives on plain arrays: the discrete adjoint (reverse mode) and forward sensitivities
(forward mode) of the Runge-Kutta steps the solve took, and the continuous ``backsolve`` adjoint.

The discrete adjoint runs one compiled function per step (``steps.py``: the step's adjoint, generated from
func's staged graph); forward sensitivities and the backsolve adjoint run func's compiled JVP or VJP at every
stage. Step sizes are constants, as in ``replay.py``, which states the same derivative with chainrule operations
(and is what nested transforms differentiate)."""
import numpy as np

from .. import numpy as cnp
from ..autodiff.transforms import jvp, vjp
from . import steps as step_rules
from .solver import IntegrationError, solve


# ------------------------------------------------------------------------------------------- events

def _dense_slope(problem, trajectory, record):
    """d y / d tau of the dense output at an event (theta fixed by the event)."""
    _, slopes = problem.tableau.dense_weights(record.theta)
    return slopes.astype(problem.state_dtype) @ trajectory.stages[record.step]


def event_slopes(problem, trajectory, arg_leaves):
    """For each event: d/dtau g(y(tau), tau, args) along the dense output, the implicit function theorem's
    denominator. Zero (a tangential crossing) has no derivative: refused. Kept on the trajectory, whose events
    and arguments they are, for the other derivatives of the same solve."""
    if trajectory.event_slopes is None:
        trajectory.event_slopes = _event_slopes(problem, trajectory, arg_leaves)
    return trajectory.event_slopes


def _event_slopes(problem, trajectory, arg_leaves):
    slopes = []
    for record in trajectory.events:
        y_event = trajectory.dense(problem.tableau, record.step, record.theta)
        time = np.asarray(record.time, problem.time_dtype)
        _, slope = jvp(lambda y, tau: problem.traced_event_value(record.function, y, tau, arg_leaves),
                       (y_event, time), (_dense_slope(problem, trajectory, record), np.ones((), time.dtype)))
        slope = float(np.real(slope))
        if slope == 0.0 or not np.isfinite(slope):
            raise IntegrationError(f"odeint: event function {record.function} ({problem.event_name(record.function)}) "
                                   f"crosses zero with slope {slope} at t={record.time!r}: the event time has no "
                                   f"derivative there (a tangential crossing)")
        slopes.append(slope)
    return slopes


def _event_pullback(problem, record, y_event, arg_leaves, multiplier):
    """(cotangent of the dense output at the event, cotangents of the args) of multiplier * g(y, tau, args)."""
    time = np.asarray(record.time, problem.time_dtype)
    _, pullback = vjp(lambda y, *leaves: problem.traced_event_value(record.function, y, time, list(leaves)),
                      y_event, *arg_leaves)
    cotangents = pullback(np.asarray(multiplier, np.result_type(float, problem.time_dtype)))
    return cotangents[0], list(cotangents[1:])


# ------------------------------------------------------------------------------------------- reverse mode

class _StepCotangents:
    """Cotangents gathered for one step before it is reversed: of its stages, start state, start time, size."""

    __slots__ = ("stages", "has_stages", "start", "result", "time", "size")

    def __init__(self, count, n, dtype):
        self.stages = np.zeros((count, n), dtype)
        self.has_stages = False  # whether a dense output inside the step gave its stages cotangents
        self.start = None
        self.result = None
        self.time = 0.0
        self.size = 0.0


def _add(total, value):
    """Sum where None is a zero."""
    if value is None:
        return total
    return value if total is None else total + value


def _dense_cotangent(problem, trajectory, step, theta, cotangent, gathered):
    """Send the cotangent of a dense output y_n + h w(theta) @ K (query time fixed) into the step's cotangents;
    returns the cotangent of theta."""
    weights, slopes = problem.tableau.dense_weights(theta)
    stages, h = trajectory.stages[step], trajectory.steps[step]
    gathered.start = _add(gathered.start, cotangent)
    gathered.stages += (h * weights.astype(problem.state_dtype))[:, None] * cotangent
    gathered.has_stages = True
    projections = stages @ cotangent
    gathered.size += float(np.real(weights @ projections))
    theta_bar = h * float(np.real(slopes @ projections))
    gathered.time -= theta_bar / h
    gathered.size -= theta_bar * theta / h
    return theta_bar


def discrete_vjp(problem, trajectory, slopes, y0, t, arg_leaves, ys_bar, event_bars):
    """The cotangents (y0_bar, t_bar, arg_bars) of the solve's outputs given theirs: the adjoint of each
    Runge-Kutta step, last to first (``replay`` differentiated, step sizes fixed), one call of the step's
    compiled adjoint (``steps.backward_step``) per step."""
    count, n, dtype = problem.tableau.stages, y0.size, problem.state_dtype
    steps = len(trajectory.steps)
    t_bar = np.zeros(len(t), np.result_type(float, problem.time_dtype))
    y0_bar = np.array(ys_bar[0], dtype) if ys_bar is not None else np.zeros(n, dtype)
    if steps == 0:
        return y0_bar, t_bar, [np.zeros(np.shape(leaf), np.result_type(leaf)) for leaf in arg_leaves]
    backward = step_rules.BackwardStep(problem, trajectory, arg_leaves)
    gathered = {}

    def at(step):
        if step not in gathered:
            gathered[step] = _StepCotangents(count, n, dtype)
        return gathered[step]

    if ys_bar is not None:
        for row in range(1, len(trajectory.outputs)):
            output, bar = trajectory.outputs[row], ys_bar[row]
            if output[0] == "dense":
                theta_bar = _dense_cotangent(problem, trajectory, output[1], output[2], bar, at(output[1]))
                t_bar[row] += theta_bar / trajectory.steps[output[1]]
            elif output[0] == "state":
                at(output[1]).result = _add(at(output[1]).result, bar)
    event_arg_bars = _events_cotangents(problem, trajectory, slopes, arg_leaves, ys_bar, event_bars, at)

    argument_parts = []           # each step's cotangents of the arguments, summed at the end
    y_bar = np.zeros(n, dtype)    # cotangent of the current step's result
    carry = np.zeros(n, dtype)    # cotangent of its last stage, which is the next step's first
    for step in reversed(range(steps)):
        mine = gathered.pop(step, None)
        stage_bars, result_bar = None, y_bar
        if mine is not None:
            stage_bars = mine.stages if mine.has_stages else None
            if mine.result is not None:
                result_bar = result_bar + mine.result
        start_bar, carry, time_bar, size_bar, *arg_bars = backward(step, stage_bars, carry, result_bar)
        if mine is not None:
            if mine.start is not None:
                start_bar = start_bar + mine.start
            time_bar, size_bar = time_bar + mine.time, size_bar + mine.size
        _grid_cotangent(trajectory, step, float(time_bar), float(size_bar), t_bar)
        argument_parts.append(arg_bars)
        y_bar = start_bar
    # The first stage of the first step: func at (y0, t_0).
    start_bar, time_bar, arg_bars = step_rules.first_stage_pullback(problem, y0, trajectory.times[0], arg_leaves,
                                                                    carry)
    _grid_cotangent(trajectory, 0, float(time_bar), 0.0, t_bar)
    argument_parts.append(arg_bars)
    arg_bars = []
    for k, leaf in enumerate(arg_leaves):
        total = np.sum([np.asarray(part[k]) for part in argument_parts], axis=0)
        if event_arg_bars is not None:
            total = total + np.asarray(event_arg_bars[k])
        arg_bars.append(total)
    return y0_bar + y_bar + np.asarray(start_bar), t_bar, arg_bars


def _grid_cotangent(trajectory, step, time_bar, size_bar, t_bar):
    """Send the cotangents of t_n and h_n to the requested times (the grid is affine in them)."""
    anchor, phi, psi = trajectory.anchor[step], trajectory.phi[step], trajectory.psi[step]
    t_bar[anchor] += (1.0 - phi) * time_bar - psi * size_bar
    if phi or psi:
        t_bar[anchor + 1] += phi * time_bar + psi * size_bar


def _events_cotangents(problem, trajectory, slopes, arg_leaves, ys_bar, event_bars, at):
    """Event times (and the states held after a terminal one) back to the dense outputs at the events, by the
    implicit function theorem: d tau = -(dg at fixed tau) / slope. Returns the args' direct cotangents (or None)."""
    if not trajectory.events:
        return None
    arg_bars = [np.zeros(np.shape(leaf), np.result_type(leaf)) for leaf in arg_leaves]
    time_bars = _event_time_cotangents(trajectory, event_bars)
    terminal = trajectory.terminal
    if terminal is not None and ys_bar is not None:
        hold_rows = [r for r in range(1, len(trajectory.outputs)) if trajectory.outputs[r][0] == "hold"]
        if hold_rows:
            hold_bar = np.sum(ys_bar[hold_rows], axis=0)
            _dense_cotangent(problem, trajectory, terminal.step, terminal.theta, hold_bar, at(terminal.step))
            index = trajectory.events.index(terminal)
            time_bars[index] += float(np.real(_dense_slope(problem, trajectory, terminal) @ hold_bar))
    for record, slope, time_bar in zip(trajectory.events, slopes, time_bars):
        if time_bar == 0.0:
            continue
        y_event = trajectory.dense(problem.tableau, record.step, record.theta)
        state_bar, bars = _event_pullback(problem, record, y_event, arg_leaves, -time_bar / slope)
        _dense_cotangent(problem, trajectory, record.step, record.theta, np.asarray(state_bar, problem.state_dtype),
                         at(record.step))
        arg_bars = [total + bar for total, bar in zip(arg_bars, bars)]
    return arg_bars


# ------------------------------------------------------------------------------------------- forward mode

def discrete_jvp(problem, trajectory, slopes, y0, t, arg_leaves, y0_dot, t_dot, arg_dots):
    """The tangents ``[ys_dot, *event time tangents]`` of the solve's outputs: forward sensitivities of each
    step (``replay`` differentiated in forward mode, step sizes fixed)."""
    tableau, a, dtype = problem.tableau, problem.a, problem.state_dtype
    count = tableau.stages
    steps = len(trajectory.steps)
    rows = len(trajectory.outputs)
    ys_dot = np.zeros((rows, y0.size), dtype)
    ys_dot[0] = y0_dot
    tangent = step_rules.func_jvp(problem, y0, np.asarray(t[0], problem.time_dtype), arg_leaves) if steps else None
    step_tangents = {}
    y_dot, k_dot = np.asarray(y0_dot, dtype), None
    needed = {output[1] for output in trajectory.outputs[1:] if output[0] in ("dense", "state")}
    needed |= {record.step for record in trajectory.events}
    for step in range(steps):
        stages, inputs = trajectory.stages[step], trajectory.stage_inputs[step]
        h, t_n = trajectory.steps[step], trajectory.times[step]
        time_dot, size_dot = _grid_tangent(trajectory, step, t_dot)
        if k_dot is None:
            k_dot = tangent(y0, np.asarray(t_n, problem.time_dtype), *arg_leaves, y_dot,
                            np.asarray(time_dot, problem.time_dtype), *arg_dots)
        stage_dots = np.empty_like(stages)
        stage_dots[0] = k_dot
        input_dot = y_dot
        for i in range(1, count):
            row = a[i, :i]
            input_dot = y_dot + h * (row @ stage_dots[:i])
            if size_dot:
                input_dot = input_dot + size_dot * (row @ stages[:i])
            stage_dots[i] = tangent(inputs[i], np.asarray(t_n + tableau.c[i] * h, problem.time_dtype), *arg_leaves,
                                    input_dot.astype(dtype, copy=False),
                                    np.asarray(time_dot + tableau.c[i] * size_dot, problem.time_dtype), *arg_dots)
        if step in needed:
            step_tangents[step] = (y_dot, stage_dots, time_dot, size_dot, input_dot)
        y_dot, k_dot = input_dot, stage_dots[-1]

    def dense_tangent(step, theta, query_dot):
        start_dot, stage_dots, time_dot, size_dot, _ = step_tangents[step]
        weights, slopes_ = tableau.dense_weights(theta)
        stages, h = trajectory.stages[step], trajectory.steps[step]
        theta_dot = (query_dot - time_dot - theta * size_dot) / h
        return (start_dot + h * (weights.astype(dtype) @ stage_dots) + size_dot * (weights.astype(dtype) @ stages)
                + h * theta_dot * (slopes_.astype(dtype) @ stages))

    event_dots = []
    for record, slope in zip(trajectory.events, slopes):
        state_dot = dense_tangent(record.step, record.theta, 0.0)
        y_event = trajectory.dense(tableau, record.step, record.theta)
        time = np.asarray(record.time, problem.time_dtype)
        _, residual_dot = jvp(lambda y, *leaves: problem.traced_event_value(record.function, y, time, list(leaves)),
                              (y_event, *arg_leaves), (state_dot, *arg_dots))
        event_dots.append(-float(np.real(residual_dot)) / slope)
    for row in range(1, rows):
        output = trajectory.outputs[row]
        if output[0] == "dense":
            ys_dot[row] = dense_tangent(output[1], output[2], t_dot[row])
        elif output[0] == "state":
            ys_dot[row] = step_tangents[output[1]][4]
        else:
            terminal = trajectory.terminal
            event_dot = event_dots[trajectory.events.index(terminal)]
            ys_dot[row] = (dense_tangent(terminal.step, terminal.theta, 0.0)
                           + event_dot * _dense_slope(problem, trajectory, terminal))
    per_function = [[] for _ in problem.events]
    for record, event_dot in zip(trajectory.events, event_dots):
        per_function[record.function].append(event_dot)
    return [ys_dot] + [np.asarray(values, problem.time_dtype).reshape(-1) for values in per_function]


def _grid_tangent(trajectory, step, t_dot):
    anchor, phi, psi = trajectory.anchor[step], trajectory.phi[step], trajectory.psi[step]
    if phi or psi:
        width_dot = t_dot[anchor + 1] - t_dot[anchor]
        return t_dot[anchor] + phi * width_dot, psi * width_dot
    return t_dot[anchor], 0.0


# ------------------------------------------------------------------------------------------- backsolve

class _AugmentedProblem:
    """The adjoint system [y, a, args_bar]' = [f, -a J_y, -a J_args], integrated backward in time."""

    def __init__(self, problem, arg_leaves, pullback, n, substeps):
        self.problem, self.arg_leaves, self.pullback, self.n = problem, arg_leaves, pullback, n
        self.tableau, self.a = problem.tableau, problem.a
        self.rtol, self.atol, self.controller = problem.rtol, problem.atol, problem.controller
        self.first_step, self.max_steps, self.substeps = None, problem.max_steps, substeps
        self.compiled_rules = {}
        self.events = []
        self.state_dtype, self.time_dtype = problem.state_dtype, problem.time_dtype

    def substeps_for(self, _):
        return self.substeps

    def evaluator(self, _):
        """On arrays, with func's compiled pullback: the few steps taken before the whole step is compiled."""
        n, problem = self.n, self.problem

        def evaluate(z, t):
            y, adjoint = z[:n], z[n:2 * n]
            dy = np.asarray(problem.flat_func(y, t, self.arg_leaves), z.dtype)
            out = self.pullback(y, np.asarray(t, self.time_dtype), *self.arg_leaves, adjoint)
            pieces = [dy, -np.asarray(out[0], z.dtype)] + [-np.ravel(bar).astype(z.dtype) for bar in out[2:]]
            return np.concatenate(pieces)
        return evaluate

    def flat_func(self, z, t, arg_leaves):
        """The same with chainrule operations and the arguments as inputs, so that the backward solve's steps
        are staged and compiled as the forward solve's are (Python-float code for small states)."""
        n, problem = self.n, self.problem
        y, adjoint = z[:n], z[n:2 * n]
        dy, pullback = vjp(lambda y, *leaves: problem.flat_func(y, t, list(leaves)), y, *arg_leaves)
        bars = pullback(cnp.astype(adjoint, cnp.result_type(dy)))
        pieces = [cnp.astype(dy, z.dtype), -cnp.astype(bars[0], z.dtype)]
        complex_state = np.dtype(cnp.result_type(z)).kind == "c"
        pieces += [-cnp.astype(cnp.ravel(bar if complex_state else cnp.real(bar)), z.dtype) for bar in bars[1:]]
        return cnp.concatenate(pieces)


def backsolve_vjp(problem, trajectory, slopes, y0, t, arg_leaves, ys_bar, event_bars):
    """The continuous adjoint (torchdiffeq's ``odeint_adjoint``): the adjoint ODE solved backward from the last
    time (or from a terminal event), with the output cotangents added at their times and each event time's
    cotangent added at the event, by the implicit function theorem (a jump of -(c / slope) dg/dy in the
    adjoint, -(c / slope) dg/dargs in the arguments'). Approximate: its error is the backward solve's."""
    n = y0.size
    dtype = problem.state_dtype
    time = problem.time_dtype
    t_bar = np.zeros(len(t), np.result_type(float, time))
    arg_bars = [np.zeros(np.shape(leaf), np.result_type(leaf)) for leaf in arg_leaves]
    ys_bar = np.zeros((len(t), n), dtype) if ys_bar is None else np.asarray(ys_bar, dtype)
    if len(t) == 1:
        return np.array(ys_bar[0]), t_bar, arg_bars
    direction = 1.0 if t[-1] > t[0] else -1.0

    def slope_at(y, when):
        return np.asarray(problem.flat_func(y, np.asarray(when, time), arg_leaves), dtype)

    # The marks the backward solve stops at, latest first: output rows (their cotangents join the adjoint) and
    # events with a time cotangent (the adjoint jumps). A terminal event starts it; rows after it hold its state.
    terminal = trajectory.terminal
    held = [row for row in range(1, len(t)) if trajectory.outputs[row][0] == "hold"]
    time_bars = _event_time_cotangents(trajectory, event_bars)
    marks = [(float(t[row]), "row", row) for row in range(1, len(t)) if row not in held]
    if terminal is not None:
        y_end = trajectory.dense(problem.tableau, terminal.step, terminal.theta)
        hold_bar = np.sum(ys_bar[held], axis=0) if held else np.zeros(n, dtype)
        index = trajectory.events.index(terminal)
        time_bars[index] += float(np.real(hold_bar @ slope_at(y_end, terminal.time)))
        start, y, adjoint = float(terminal.time), y_end, np.array(hold_bar)
    else:
        start, y, adjoint = float(t[-1]), trajectory.ys[-1], np.zeros(n, dtype)
    marks += [(float(record.time), "event", k) for k, record in enumerate(trajectory.events) if time_bars[k] != 0.0]
    marks.sort(key=lambda mark: -direction * mark[0])

    pullback = step_rules.func_vjp(problem, y0, np.asarray(t[0], time), arg_leaves)
    augmented = _AugmentedProblem(problem, arg_leaves, pullback, n, trajectory.substeps)
    sizes = [int(np.size(leaf)) for leaf in arg_leaves]
    argument_adjoint = np.zeros(sum(sizes), dtype)
    current = start
    for when, kind, which in marks + [(float(t[0]), "start", 0)]:
        if when != current:
            z0 = np.concatenate([y, adjoint, argument_adjoint])
            z = solve(augmented, z0, np.array([current, when], time), list(arg_leaves)).ys[-1]
            y, adjoint, argument_adjoint = z[:n], z[n:2 * n], z[2 * n:]
            current = when
        if kind == "row":
            t_bar[which] += float(np.real(ys_bar[which] @ slope_at(y, when)))
            adjoint = adjoint + ys_bar[which]
        elif kind == "event":
            record = trajectory.events[which]
            y_event = trajectory.dense(problem.tableau, record.step, record.theta)
            state_bar, bars = _event_pullback(problem, record, y_event, arg_leaves, -time_bars[which] / slopes[which])
            adjoint = adjoint + np.asarray(state_bar, dtype)
            arg_bars = [total + np.asarray(bar) for total, bar in zip(arg_bars, bars)]
    t_bar[0] -= float(np.real(adjoint @ slope_at(y0, t[0])))
    start_index = 0
    for k, size in enumerate(sizes):
        piece = argument_adjoint[start_index:start_index + size].reshape(np.shape(arg_leaves[k]))
        piece = piece if np.iscomplexobj(arg_bars[k]) else np.real(piece)
        arg_bars[k] = (arg_bars[k] + piece).astype(np.result_type(arg_leaves[k]))
        start_index += size
    return adjoint + ys_bar[0], t_bar, arg_bars


def _event_time_cotangents(trajectory, event_bars):
    """Each event's time cotangent, in the order of trajectory.events (event_bars: one array per function)."""
    time_bars = [0.0] * len(trajectory.events)
    positions = {}
    for index, record in enumerate(trajectory.events):
        position = positions.get(record.function, 0)
        positions[record.function] = position + 1
        bars = event_bars[record.function] if event_bars else None
        if bars is not None:
            time_bars[index] += float(np.real(bars[position]))
    return time_bars
