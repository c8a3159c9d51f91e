"""The computation a solve did, written with chainrule operations on the steps it took (their sizes held fixed):
the definition of ``odeint``'s derivatives, and how they are computed under nested or batched transforms, where
the compiled per-step rules of ``adjoint.py`` do not apply."""
import numpy as np

from .. import numpy as cnp
from ..autodiff.transforms import jvp
from ..custom import stop_gradient


def _grid(trajectory, t, step):
    """(t_n, h_n) of a step as functions of the requested times t: Python numbers where they do not depend on t."""
    anchor, phi, psi = trajectory.anchor[step], trajectory.phi[step], trajectory.psi[step]
    offset, fixed = trajectory.offset[step], trajectory.fixed[step]
    start = t[anchor] if offset == 0 else t[anchor] + offset
    if phi or psi:
        width = t[anchor + 1] - t[anchor]
        if phi:
            start = start + phi * width
        return start, (psi * width + fixed if fixed else psi * width)
    return start, fixed


def _weighted(weights, vectors):
    """sum_i weights[i] * vectors[i], skipping exact zeros of constant weights."""
    total = None
    for weight, vector in zip(weights, vectors):
        if isinstance(weight, (float, np.floating)) and weight == 0.0:
            continue
        term = weight * vector
        total = term if total is None else total + term
    return total


def _dense(tableau, start_state, stages, h, theta):
    """y_n + h * w(theta) @ stages, with theta traced or plain."""
    coefficients = tableau.dense
    powers = [1.0]
    for _ in range(coefficients.shape[1] - 1):
        powers.append(powers[-1] * theta)
    weights = []
    for row in coefficients:
        weight = None
        for coefficient, power in zip(row, powers):
            if coefficient == 0.0:
                continue
            term = float(coefficient) * power
            weight = term if weight is None else weight + term
        weights.append(0.0 if weight is None else weight)
    combination = _weighted(weights, stages)
    return start_state if combination is None else start_state + h * combination


def replay(problem, trajectory, y0, t, arg_leaves):
    """The outputs ``[ys, *event times]`` recomputed on the trajectory's steps: same values, differentiable in
    y0, t and the arguments (event times to third order)."""
    tableau, a, dtype = problem.tableau, problem.a, problem.state_dtype
    count = tableau.stages
    states = [None] * len(trajectory.steps)     # (start state, stages, t_n, h_n) of each step
    y = cnp.asarray(y0)
    k = None
    for n in range(len(trajectory.steps)):
        t_n, h = _grid(trajectory, t, n)
        if k is None:
            k = _as_state(problem, problem.flat_func(y, t_n, arg_leaves))
        inputs, stages = [y], [k]
        for i in range(1, count):
            combination = _weighted([float(w) for w in a[i, :i]], stages)
            stage_input = _as_state(problem, y + h * combination)
            inputs.append(stage_input)
            stages.append(_as_state(problem, problem.flat_func(stage_input, t_n + float(tableau.c[i]) * h,
                                                               arg_leaves)))
        states[n] = (y, stages, t_n, h, inputs[-1])
        y, k = inputs[-1], stages[-1]

    def dense_at(step, time):
        start_state, stages, t_n, h, _ = states[step]
        return _as_state(problem, _dense(tableau, start_state, stages, h, (time - t_n) / h))

    event_times = []
    for record in trajectory.events:
        # The implicit function theorem, as Newton steps on g(tau) = g(y(tau), tau, args) along the dense output:
        # tau - (g - stop_gradient(g)) / g'(tau) keeps the value the solver found ((g - stop_gradient(g)) is 0)
        # and, from the root, moves it as the root moves. One step from the constant root has the right first
        # derivative; a second step, from that traced root, also the right second and third (Newton's map has
        # zero slope at the root, so each step doubles the orders it gets right).
        def residual(tau, record=record):
            return problem.traced_event_value(record.function, dense_at(record.step, tau), tau, arg_leaves)

        def newton(tau, residual=residual):
            value, slope = jvp(residual, (tau,), (cnp.ones_like(tau),))
            return tau - (value - stop_gradient(value)) / slope

        root = np.asarray(record.time, problem.time_dtype)
        event_times.append(newton(newton(root)))
    rows = [y0]
    for row in range(1, len(trajectory.outputs)):
        output = trajectory.outputs[row]
        if output[0] == "dense":
            rows.append(dense_at(output[1], t[row]))
        elif output[0] == "state":
            rows.append(states[output[1]][4])
        else:
            terminal = trajectory.events.index(trajectory.terminal)
            rows.append(dense_at(trajectory.terminal.step, event_times[terminal]))
    ys = cnp.stack([cnp.asarray(r) for r in rows]) if rows else cnp.zeros((0, y0.size), dtype)
    per_function = [[] for _ in problem.events]
    for record, time in zip(trajectory.events, event_times):
        per_function[record.function].append(time)
    time_dtype = problem.time_dtype
    events = [cnp.stack([cnp.asarray(v, dtype=time_dtype) for v in values]) if values
              else cnp.zeros((0,), time_dtype) for values in per_function]
    return [ys] + events


def _as_state(problem, value):
    """A derivative of the state's dtype (float32 states stay float32 whatever func computes in)."""
    if cnp.result_type(value) != problem.state_dtype:
        return cnp.asarray(value).astype(problem.state_dtype)
    return value
