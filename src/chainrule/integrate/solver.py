"""The forward solve of ``odeint`` on plain NumPy arrays: fixed and adaptive Runge-Kutta steps, dense output at
the requested times, event location. It also records what the derivatives replay (the steps' grid, stages and
where each output and event lies), so that they differentiate exactly the computation done here."""
import math
from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import brentq

from ..core.interpreter import ChainruleError
from . import steps


class IntegrationError(ChainruleError, RuntimeError):
    """The solver could not reach the end of the requested interval (too many steps, step size underflow,
    non-finite derivatives)."""


@dataclass
class EventRecord:
    """One event occurrence: the function, the step it lies in, its position theta in that step and its time."""

    function: int
    step: int
    theta: float
    time: float


@dataclass
class Trajectory:
    """What one solve computed. Step n runs from ``times[n]`` with step size ``steps[n]``; its stage inputs
    ``stage_inputs[n]`` (S x n, the last one is the step's result) and stages ``stages[n]``. The grid as a
    function of the requested times t: ``t_n = t[anchor] + phi (t[anchor+1] - t[anchor]) + offset`` and
    ``h_n = psi (t[anchor+1] - t[anchor]) + fixed``. ``outputs[r]`` for r >= 1: ("dense", step, theta),
    ("state", step) for the result of a step, or ("hold",) for a time past a terminal event."""

    y0: np.ndarray
    ys: np.ndarray
    times: list = field(default_factory=list)
    steps: list = field(default_factory=list)
    stage_inputs: list = field(default_factory=list)
    stages: list = field(default_factory=list)
    anchor: list = field(default_factory=list)
    phi: list = field(default_factory=list)
    psi: list = field(default_factory=list)
    offset: list = field(default_factory=list)
    fixed: list = field(default_factory=list)
    outputs: list = field(default_factory=list)
    events: list = field(default_factory=list)
    terminal: EventRecord = None
    substeps: int = 1  # fixed steps: rk4 steps per interval of t
    event_slopes: list = None  # set by adjoint.event_slopes, which the derivatives of this solve share

    def dense(self, tableau, step, theta):
        weights, _ = tableau.dense_weights(theta)
        return self.stage_inputs[step][0] + self.steps[step] * (weights.astype(self.y0.dtype) @ self.stages[step])


def _format_time(value):
    return repr(float(value))


def _check_finite(problem, k, t, where):
    if not np.all(np.isfinite(k)):
        raise IntegrationError(f"odeint: func returned non-finite values (inf or nan) at t={_format_time(t)} "
                               f"({where}). Check func and its arguments there, or stop the integration before "
                               f"it with a terminal event.")


def _check_stages(problem, stages, t_n, h):
    if np.isfinite(stages.sum()):  # one reduction: any inf or nan among the stages makes the sum non-finite
        return
    finite = np.isfinite(stages).all(axis=1)
    if not finite.all():
        stage = int(np.argmin(finite))
        _check_finite(problem, stages[stage], t_n + problem.tableau.c[stage] * h,
                      f"stage {stage} of the step of size {_format_time(h)} from t={_format_time(t_n)}")


def _rk_stages(problem, evaluate, y, k_first, t, h):
    """The stage inputs and stages of one step (the first stage given), with the operations of the compiled step
    (``steps.forward_step``) in the same order, so that both give the same numbers."""
    tableau = problem.tableau
    h_vector = steps.step_vector(problem, y.size, h)
    inputs = np.empty((tableau.stages, y.size), y.dtype)
    stages = np.empty((tableau.stages, y.size), y.dtype)
    inputs[0], stages[0] = y, k_first
    for i in range(1, tableau.stages):
        inputs[i] = y + h_vector * steps.combination(tableau.a[i, :i], stages[:i])
        stages[i] = evaluate(inputs[i], t + float(tableau.c[i]) * h)
    return inputs, stages


class _Stepper:
    """``(y, k_first, t_n, h) -> (stage inputs, stages)`` of one step: eagerly (one call of func per stage) until the
    solve has taken enough steps to repay generating the whole step's code (``steps.forward_step``), compiled
    from then on. A func that cannot be staged stays eager."""

    def __init__(self, problem, evaluate, arg_leaves, expected_steps=0):
        self.problem, self.evaluate, self.arg_leaves = problem, evaluate, arg_leaves
        self.time_type = problem.time_dtype.type
        # A solve known to be long compiles at its first step, others once they have taken enough steps (or at
        # the first, when code generated for this func by an earlier call is at hand).
        self.until_compiled = 1 if expected_steps >= steps.COMPILE_FROM_STEPS else steps.COMPILE_FROM_STEPS
        self.compiled = None
        self.look_for_generated = self.until_compiled > 1
        self.h, self.h_vector = None, None

    def __call__(self, y, k, t, h):
        if self.compiled is not None:
            if h != self.h:
                self.h, self.h_vector = h, steps.step_vector(self.problem, y.size, h)
            return self.compiled(y, k, self.time_type(t), self.time_type(h), self.h_vector, *self.arg_leaves)
        self.until_compiled -= 1
        if self.look_for_generated:
            self.look_for_generated = False
            self.compiled = steps.forward_step(self.problem, y, k, t, h, self.arg_leaves, generated_only=True)
            if self.compiled is not None:
                return self(y, k, t, h)
        if self.until_compiled == 0:
            self.compiled = steps.forward_step(self.problem, y, k, t, h, self.arg_leaves)
            if self.compiled is not None:
                return self(y, k, t, h)
        return _rk_stages(self.problem, self.evaluate, y, k, t, h)


def _error_norm(problem, y, y_new, error):
    """The root mean square of the error relative to atol + rtol |y| (Hairer's norm)."""
    size = y.size
    if not size:
        return 0.0
    if size <= _SMALL_STATE:
        # with Python numbers: the NumPy calls below cost ~5 us a step whatever the size
        atol, rtol, total = float(problem.atol), float(problem.rtol), 0.0
        for e, a, b in zip(error.tolist(), y.tolist(), y_new.tolist()):
            a, b = abs(a), abs(b)
            scale = a if a >= b or a != a else b  # NumPy's maximum: a nan wins
            denominator = atol + rtol * scale
            ratio = abs(e) / denominator if denominator else (math.inf if e else math.nan)  # as NumPy's x / 0
            total += ratio * ratio
        return math.sqrt(total / size)
    ratio = np.abs(error) / (problem.atol + problem.rtol * np.maximum(np.abs(y), np.abs(y_new)))
    return math.sqrt(float(ratio @ ratio) / size)


# States up to this many elements take the error norm with Python numbers.
_SMALL_STATE = 16
_EPSILON = float(np.finfo(float).eps)


def _initial_step(problem, evaluate, y0, k0, t0, span):
    """Hairer, Norsett and Wanner's starting step (I, II.4)."""
    order = problem.tableau.order
    scale = problem.atol + problem.rtol * np.abs(y0)
    d0 = float(np.sqrt(np.mean(np.abs(y0 / scale) ** 2))) if y0.size else 0.0
    d1 = float(np.sqrt(np.mean(np.abs(k0 / scale) ** 2))) if y0.size else 0.0
    h0 = 1e-6 if d0 < 1e-5 or d1 < 1e-5 else 0.01 * d0 / d1
    h0 = min(h0, abs(span))
    direction = np.sign(span)
    k1 = evaluate(y0 + direction * h0 * k0, t0 + direction * h0)
    d2 = (float(np.sqrt(np.mean(np.abs((k1 - k0) / scale) ** 2))) if y0.size else 0.0) / h0
    if max(d1, d2) <= 1e-15:
        h1 = max(1e-6, h0 * 1e-3)
    else:
        h1 = (0.01 / max(d1, d2)) ** (1.0 / order)
    return min(100 * h0, h1, abs(span))


class _EventWatch:
    """Sign changes of the event functions across each accepted step, located on the dense output."""

    def __init__(self, problem, trajectory, arg_leaves, y0, t0):
        self.problem, self.trajectory, self.arg_leaves = problem, trajectory, arg_leaves
        self.counts = [0] * len(problem.events)
        self.values = [self._value(k, y0, t0) for k in range(len(problem.events))]

    def _value(self, k, y, t):
        value = self.problem.event_value(k, y, t, self.arg_leaves)
        if not np.isfinite(value):
            raise IntegrationError(f"odeint: event function {k} ({self.problem.event_name(k)}) returned "
                                   f"{value} at t={_format_time(t)}; it must return a finite real scalar")
        return value

    def after_step(self, step, t_start, h, y_end, t_end):
        """The events in step ``step``, in time order, stopping at the first terminal one: (records, terminal)."""
        problem, trajectory = self.problem, self.trajectory
        found = []
        for k, spec in enumerate(problem.events):
            before, after = self.values[k], self._value(k, y_end, t_end)
            self.values[k] = after
            rising, falling = before < 0 <= after, before > 0 >= after
            if not ((rising and spec.direction >= 0) or (falling and spec.direction <= 0)):
                continue

            def g(theta, k=k):
                return self._value(k, trajectory.dense(problem.tableau, step, theta), t_start + theta * h)

            theta = 1.0 if after == 0 else brentq(g, 0.0, 1.0, xtol=1e-15, rtol=4 * np.finfo(float).eps,
                                                  maxiter=200)
            found.append(EventRecord(k, step, theta, t_start + theta * h))
        found.sort(key=lambda record: record.theta)
        kept = []
        for record in found:
            kept.append(record)
            self.counts[record.function] += 1
            limit = problem.events[record.function].terminal
            if limit and self.counts[record.function] >= limit:
                return kept, record
        return kept, None


def _hold_remaining(trajectory, first_row, record, tableau):
    y_event = trajectory.dense(tableau, record.step, record.theta)
    for row in range(first_row, len(trajectory.ys)):
        trajectory.outputs[row] = ("hold",)
        trajectory.ys[row] = y_event


def solve(problem, y0, t, arg_leaves):
    """Integrate on arrays; returns the Trajectory (``ys`` at the times ``t``, first row ``y0``)."""
    trajectory = Trajectory(y0=y0, ys=np.empty((len(t), y0.size), y0.dtype))
    trajectory.ys[0] = y0
    trajectory.outputs = [None] * len(t)
    if len(t) == 1:
        return trajectory
    evaluate = problem.evaluator(arg_leaves)
    k0 = evaluate(y0, t[0])
    _check_finite(problem, k0, t[0], "at the initial state")
    watch = _EventWatch(problem, trajectory, arg_leaves, y0, t[0]) if problem.events else None
    if problem.tableau.error is None:
        trajectory.substeps = problem.substeps_for(t)
        stepper = _Stepper(problem, evaluate, arg_leaves, expected_steps=(len(t) - 1) * trajectory.substeps)
        _solve_fixed(problem, stepper, trajectory, y0, k0, t, watch)
    else:
        _solve_adaptive(problem, evaluate, _Stepper(problem, evaluate, arg_leaves), trajectory, y0, k0, t, watch)
    return trajectory


def _record_step(trajectory, t_n, h, inputs, stages, anchor, phi, psi, offset, fixed):
    trajectory.times.append(t_n)
    trajectory.steps.append(h)
    trajectory.stage_inputs.append(inputs)
    trajectory.stages.append(stages)
    trajectory.anchor.append(anchor)
    trajectory.phi.append(phi)
    trajectory.psi.append(psi)
    trajectory.offset.append(offset)
    trajectory.fixed.append(fixed)
    return len(trajectory.steps) - 1


def _solve_fixed(problem, stepper, trajectory, y, k, t, watch):
    substeps = trajectory.substeps
    for interval in range(len(t) - 1):
        h = (t[interval + 1] - t[interval]) / substeps
        for j in range(substeps):
            t_n = t[interval] + (j / substeps) * (t[interval + 1] - t[interval])
            inputs, stages = stepper(y, k, t_n, h)
            _check_stages(problem, stages, t_n, h)
            step = _record_step(trajectory, t_n, h, inputs, stages, interval, j / substeps, 1.0 / substeps, 0.0,
                                0.0)
            y, k = inputs[-1], stages[-1]
            if watch is not None:
                records, terminal = watch.after_step(step, t_n, h, y, t_n + h)
                trajectory.events += records
                if terminal is not None:
                    trajectory.terminal = terminal
                    _hold_remaining(trajectory, interval + 1, terminal, problem.tableau)
                    return
        trajectory.ys[interval + 1] = y
        trajectory.outputs[interval + 1] = ("state", step)


def _solve_adaptive(problem, evaluate, stepper, trajectory, y, k, t, watch):
    tableau = problem.tableau
    t0, t_end = t[0], t[-1]
    direction = 1.0 if t_end > t0 else -1.0
    error_weights = tableau.error.astype(y.dtype)
    beta = 0.04 if problem.controller == "pi" else 0.0
    exponent = 1.0 / tableau.order - 0.75 * beta
    previous_error = 1e-4
    h = _initial_step(problem, evaluate, y, k, t0, t_end - t0) if problem.first_step is None \
        else abs(problem.first_step)
    t_n = t0
    row = 1
    attempts = 0
    rejected_last = False
    while True:
        h, last = clipped_step(h, t_n, t_end, direction)
        attempts += 1
        if attempts > problem.max_steps:
            raise IntegrationError(f"odeint: max_steps={problem.max_steps} steps were taken before reaching "
                                   f"t={_format_time(t_end)}; stopped at t={_format_time(t_n)} with step size "
                                   f"{_format_time(h)}. Raise max_steps, loosen rtol/atol, or (if the step size "
                                   f"is tiny) the problem may be stiff or singular there.")
        if h < 16 * _EPSILON * max(abs(t_n), abs(t_end - t0)):
            raise IntegrationError(f"odeint: the step size underflowed to {_format_time(h)} at "
                                   f"t={_format_time(t_n)}: the solution may blow up or be singular there, or "
                                   f"rtol/atol are too tight for the state's precision.")
        signed_h = direction * h
        with np.errstate(all="ignore"):
            inputs, stages = stepper(y, k, t_n, signed_h)
            error = signed_h * (error_weights @ stages)
            norm = _error_norm(problem, y, inputs[-1], error)
        if not np.isfinite(norm):
            if h < 1e-3 * abs(t_end - t0) * _EPSILON ** 0.5:
                _check_stages(problem, stages, t_n, signed_h)
            h *= 0.25
            rejected_last = True
            continue
        if norm <= 1.0:
            step = _record_step(trajectory, t_n, signed_h, inputs, stages, 0, 0.0, 0.0, t_n - t0, signed_h)
            t_next = t_end if last else t_n + signed_h
            y, k = inputs[-1], stages[-1]
            terminal = None
            if watch is not None:
                records, terminal = watch.after_step(step, t_n, signed_h, y, t_next)
                trajectory.events += records
            while row < len(t) and (t[row] - t_next) * direction <= 0:
                if terminal is not None and (t[row] - terminal.time) * direction > 0:
                    break
                theta = (t[row] - t_n) / signed_h
                trajectory.outputs[row] = ("dense", step, theta)
                trajectory.ys[row] = trajectory.dense(tableau, step, theta)
                row += 1
            if terminal is not None:
                trajectory.terminal = terminal
                _hold_remaining(trajectory, row, terminal, tableau)
                return
            if last:
                return
            t_n = t_next
        h, previous_error, rejected_last = next_step(h, norm, previous_error, exponent, beta, rejected_last)


def clipped_step(h, t_n, t_end, direction):
    """(step size, whether the step is the last): a step that would end within a relative 1e-10 of the end, or
    past it, is made to end there. Plain arithmetic, run by native.py's compiled loop too."""
    remaining = (t_end - t_n) * direction
    if h >= remaining * (1 - 1e-10):
        return remaining, True
    return h, False


# The step-size controller's constants: safety factor, and the bounds of one step's change.
_SAFETY, _SMALLEST_FACTOR, _LARGEST_FACTOR = 0.9, 0.2, 10.0


def next_step(h, norm, previous_error, exponent, beta, rejected_last):
    """(next step size, error norm to remember, whether this step was rejected) after a step of size h with error
    norm ``norm``: the PI controller (Hairer, Norsett and Wanner II, IV.2; beta = 0 is the standard controller).
    Plain arithmetic on numbers, so that native.py's compiled loop runs the same function."""
    if norm <= 1.0:
        factor = norm ** exponent / previous_error ** beta / _SAFETY
        factor = min(max(factor, 1.0 / _LARGEST_FACTOR), 1.0 / _SMALLEST_FACTOR)
        if rejected_last:
            factor = max(factor, 1.0)
        return h / factor, max(norm, 1e-4), False
    factor = min(norm ** exponent / _SAFETY, 1.0 / _SMALLEST_FACTOR)
    return h / factor, previous_error, True
