"""``odeint`` and the primitive behind it: the solve runs on plain arrays (``solver.py``, with ``steps.py``'s
compiled steps); its derivatives are the exact derivatives of that computation (``adjoint.py``, ``replay.py``
under nested transforms). Staged (jit), both are opaque calls of the primitives, with their problem bound."""
import warnings

import numpy as np

from ..autodiff.forward import jvp_flat
from ..autodiff.reverse import record
from ..core.avals import ShapedArray, aval_of, is_inexact
from ..core.cotangents import dense
from ..core.interpreter import ChainruleError, Tracer, concrete_values, interpreter_depth
from ..core.primitive import Primitive
from ..core.tree import tree_flatten, tree_unflatten
from ..core.zeros import instantiate
from ..export.python import OPAQUE_CALLS, STAGED_RUNNERS
from ..ops.loops import LoopOutput, stage
from .. import numpy as cnp
from . import adjoint as rules
from . import native
from .problem import _ARRAY, EventSpec, Problem
from .replay import replay
from .solver import solve
from .tableaus import METHODS


# ------------------------------------------------------------------------------------------- the primitive
# Inputs: y0 (the flat state), t, then the argument leaves (captured values first). Outputs: ys (len(t) x n),
# then one array of event times per event function. ``problem`` holds everything else.

def _split_inputs(inputs):
    return inputs[0], inputs[1], list(inputs[2:])


def _plain(values):
    return not any(isinstance(v, Tracer) for v in values)


def _concrete(values, problem):
    """The arrays underneath (eager tracers give their values), or a clear error where there are none."""
    out = []
    for value in values:
        if isinstance(value, Tracer):
            try:
                value = value.concrete_value()
            except (ChainruleError, NotImplementedError):
                raise ChainruleError(
                    "odeint's third derivatives cannot be staged (jit, make_graph, to_python): they differentiate "
                    "the steps the solve took, which depend on the values of y0, t and args. Compute them "
                    "eagerly; odeint itself and its first and second derivatives can be staged.") from None
        out.append(np.asarray(value))
    return out


def _same_arrays(stored, arrays):
    return len(stored) == len(arrays) and all(
        a.shape == b.shape and a.dtype == b.dtype and np.array_equal(a, b) for a, b in zip(stored, arrays))


def _solve(problem, inputs, reuse=False):
    """The trajectory of a solve from these inputs. The problem keeps its last one (with copies of its inputs):
    staged code (jit) runs odeint and its derivative as two calls, and the derivative (``reuse``) takes the solve
    of the same inputs instead of solving again."""
    arrays = _concrete(inputs, problem)
    last = problem.last_solve
    if reuse and last is not None and _same_arrays(last[0], arrays):
        if isinstance(last[1], native.NativeSolve):  # compiled code solved natively; this derivative is Python's
            problem.last_solve = (last[0], last[1].trajectory())
        return problem.last_solve[1]
    y0, t, arg_leaves = _split_inputs(arrays)
    _check_times(t)
    trajectory = solve(problem, y0, t, arg_leaves)
    problem.last_solve = ([np.array(a, copy=True) for a in arrays], trajectory)
    return trajectory


# ------------------------------------------------------------------------------------------- compiled code
# What jit's generated code calls for the two primitives (export.python.STAGED_RUNNERS): the solve and its
# derivatives (reverse and forward mode) as machine code where native.py applies (numba installed, float64, func
# small enough for scalar code, no events), else the primitives themselves.

def _native_solve(problem, inputs, reuse):
    """The compiled solve of these inputs (the last one when ``reuse`` and they are the same), or None."""
    arrays = _concrete(inputs, problem)
    last = problem.last_solve
    if reuse and last is not None and isinstance(last[1], native.NativeSolve) and _same_arrays(last[0], arrays):
        return last[1]
    y0, t, arg_leaves = _split_inputs(arrays)
    _check_times(t)
    solved = native.solve(problem, y0, t, arg_leaves)
    if solved is not None:
        problem.last_solve = ([np.array(a, copy=True) for a in arrays], solved)
    elif problem.native and not problem.warned:
        problem.warned = True
        warnings.warn("odeint(native=True): this func cannot be compiled to native code (it does not stage to "
                      "scalar code: a value of more than 64 elements, an operation scalar code does not write, or a "
                      "branch on values; or the solve failed natively); its steps run as Python code",
                      RuntimeWarning, stacklevel=4)
    return solved


def _known_solve(problem, inputs, reuse=True):
    """The solve of concrete inputs: compiled where ``native=True`` asks for it and it applies, else Python's."""
    solved = _native_solve(problem, inputs, reuse) if problem.native else None
    return solved if solved is not None else _solve(problem, inputs, reuse=reuse)


def _staged_odeint(*inputs, problem):
    if _plain(inputs):
        solved = _native_solve(problem, inputs, reuse=False)
        if solved is not None:
            return [solved.ys]
    return odeint_p(*inputs, problem=problem)


def _staged_derivative(*leaves, problem, kind, trajectory):
    if trajectory is None and _plain(leaves):
        derivative = _native_derivative(problem, kind, leaves)
        if derivative is not None:
            return derivative
    return derivative_p(*leaves, problem=problem, kind=kind, trajectory=trajectory)


def _native_derivative(problem, kind, leaves, solved=None):
    """The derivative map run natively (of ``solved``, or of the solve of these inputs), or None."""
    return (_native_tangents if kind == "jvp" else _native_cotangents)(problem, leaves, solved)


def _native_tangents(problem, leaves, solved=None):
    count = _input_count(problem, "jvp", leaves)
    solved = solved or _native_solve(problem, leaves[:count], reuse=True)
    if solved is None:
        return None
    (_, t, arg_leaves), (y0_dot, t_dot, arg_dots) = (_split_inputs([np.asarray(v) for v in part])
                                                     for part in (leaves[:count], leaves[count:]))
    ys_dot = native.discrete_jvp(problem, solved, arg_leaves, y0_dot, np.broadcast_to(t_dot, t.shape), arg_dots)
    return None if ys_dot is None else [ys_dot]


def _native_cotangents(problem, leaves, solved=None):
    inputs, bars = _split_vjp(problem, leaves)
    solved = solved or _native_solve(problem, inputs, reuse=True)
    if solved is None:
        return None
    y0, t, arg_leaves = _split_inputs([np.asarray(v) for v in inputs])
    cotangents = native.discrete_vjp(problem, solved, arg_leaves, np.asarray(bars[0]))
    if cotangents is None:
        return None
    y0_bar, t_bar, arg_bars = cotangents
    return [_match(y0_bar, y0), _match(t_bar, t)] + [_match(b, x) for b, x in zip(arg_bars, arg_leaves)]


def _outputs(problem, trajectory):
    per_function = [[] for _ in problem.events]
    for event in trajectory.events:
        per_function[event.function].append(event.time)
    return [trajectory.ys] + [np.asarray(times, problem.time_dtype).reshape(-1) for times in per_function]


def _odeint_impl(*inputs, problem):
    trajectory = _known_solve(problem, inputs, reuse=False)
    out = LoopOutput(_outputs(problem, trajectory))
    # Under a transform, keep the trajectory for the derivative rules, so that the solve runs once.
    out.stored = trajectory if interpreter_depth() else None
    return out


def _odeint_shape_rule(y0, t, *arg_leaves, problem):
    # Staged (jit, make_graph, to_python), odeint is one opaque call: the solver runs on arrays when the code runs.
    # Its output's shape is fixed by t; the number of events is not.
    if problem.events:
        raise ChainruleError("odeint with events cannot be staged (jit, make_graph, to_python): how many times each "
                             "event occurs depends on the values, so the shapes of the event times are unknown "
                             "until the solve runs. Call it eagerly (grad, jvp, vmap all work eagerly), or stage "
                             "the parts of the function without events.")
    return [ShapedArray((t.shape[0], y0.shape[0]), problem.state_dtype)]


def _concrete_or_none(values):
    """The arrays underneath, or None where a value is abstract (batched, staged)."""
    concrete = concrete_values(values)
    return None if concrete is None else [np.asarray(value) for value in concrete]


def _odeint_jvp(primals, tangents, *, problem):
    tangents = [instantiate(d, p) for d, p in zip(tangents, primals)]
    trajectory = _known_solve(problem, primals) if _concrete_or_none(primals) is not None else None
    outs = _outputs(problem, trajectory) if _plain(primals) else odeint_p(*primals, problem=problem)
    out_dots = derivative_p(*primals, *tangents, problem=problem, kind="jvp", trajectory=trajectory)
    return outs, list(out_dots)


def _odeint_vjp(outs, *inputs, problem):
    trajectory = getattr(outs, "stored", None)
    if trajectory is None and _concrete_or_none(inputs) is not None:
        trajectory = _known_solve(problem, inputs)
    def odeint_pullback(out_bars):
        bars = [instantiate(dense(b), o) for b, o in zip(out_bars, outs)]
        return list(derivative_p(*inputs, *bars, problem=problem, kind="vjp", trajectory=trajectory))
    return odeint_pullback


# ------------------------------------------------------------------------------------------- derivatives
# One primitive for both derivative maps: inputs are the odeint inputs, then the tangents of the inputs ("jvp"; the
# outputs are the outputs' tangents) or the cotangents of the outputs ("vjp"; the outputs are the inputs'
# cotangents). On arrays it runs the compiled rules of adjoint.py; batched, it loops over the examples; its own
# derivatives (second order) differentiate the replay of the same steps.

def _derivative_trajectory(problem, inputs, trajectory):
    """The Python Trajectory the derivative rules (and the replay) read."""
    if isinstance(trajectory, native.NativeSolve):
        return trajectory.trajectory()
    return trajectory if trajectory is not None else _solve(problem, inputs, reuse=True)


def _derivative_impl(*leaves, problem, kind, trajectory):
    if isinstance(trajectory, native.NativeSolve):  # eagerly with native=True: the derivative runs natively too
        derivative = _native_derivative(problem, kind, leaves, trajectory)
        if derivative is not None:
            return derivative
    if kind == "jvp":
        count = _input_count(problem, kind, leaves)
        inputs, dots = list(leaves[:count]), [np.asarray(d) for d in leaves[count:]]
        trajectory = _derivative_trajectory(problem, inputs, trajectory)
        y0, t, arg_leaves = _split_inputs([np.asarray(v) for v in inputs])
        slopes = rules.event_slopes(problem, trajectory, arg_leaves)
        y0_dot, t_dot, arg_dots = _split_inputs(dots)
        return rules.discrete_jvp(problem, trajectory, slopes, y0, t, arg_leaves, y0_dot, t_dot, arg_dots)
    inputs, bars = _split_vjp(problem, leaves)
    trajectory = _derivative_trajectory(problem, inputs, trajectory)
    y0, t, arg_leaves = _split_inputs([np.asarray(v) for v in inputs])
    ys_bar = np.asarray(bars[0])
    slopes = rules.event_slopes(problem, trajectory, arg_leaves)
    adjoint = rules.backsolve_vjp if problem.adjoint == "backsolve" else rules.discrete_vjp
    y0_bar, t_bar, arg_bars = adjoint(problem, trajectory, slopes, y0, t, arg_leaves, ys_bar,
                                      [np.asarray(b) for b in bars[1:]])
    return [_match(y0_bar, y0), _match(t_bar, t)] + [_match(b, x) for b, x in zip(arg_bars, arg_leaves)]


def _split_vjp(problem, leaves):
    count = len(leaves) - 1 - len(problem.events)
    return list(leaves[:count]), list(leaves[count:])


def _replayed_derivative(problem, kind, trajectory, leaves):
    """The derivative map written with chainrule operations (replay differentiated): differentiable again."""
    if kind == "jvp":
        count = _input_count(problem, kind, leaves)
        inputs, dots = list(leaves[:count]), list(leaves[count:])
        _check_event_slopes(problem, trajectory, inputs)
        return jvp_flat(lambda values: replay(problem, trajectory, *_split_inputs(values)), inputs, dots)[1]
    inputs, bars = _split_vjp(problem, leaves)
    _check_event_slopes(problem, trajectory, inputs)
    _, pullback = record(lambda values: replay(problem, trajectory, *_split_inputs(values)), inputs)
    return [instantiate(c, x) for c, x in zip(pullback(bars), inputs)]


def _check_event_slopes(problem, trajectory, inputs):
    """Refuse an event crossed tangentially (zero slope), whose time has no derivative (see event_slopes)."""
    rules.event_slopes(problem, trajectory, _split_inputs(_concrete(inputs, problem))[2])


def _known_trajectory(problem, kind, primals, trajectory):
    """The trajectory the derivative differentiates, or None when the inputs are abstract (staged, batched): the
    steps are known only when the code runs, so the second derivative is then one opaque operation."""
    inputs = primals[:_input_count(problem, kind, primals)]
    if trajectory is None and _concrete_or_none(inputs) is None:
        return None
    return _derivative_trajectory(problem, inputs, trajectory)


def _derivative_jvp(primals, tangents, *, problem, kind, trajectory):
    tangents = [instantiate(d, p) for d, p in zip(tangents, primals)]
    trajectory = _known_trajectory(problem, kind, primals, trajectory)
    if trajectory is None:
        outs = derivative_p(*primals, problem=problem, kind=kind, trajectory=None)
        return outs, list(second_p(*primals, *tangents, problem=problem, kind=kind, count=len(primals),
                                   direction="jvp"))
    return jvp_flat(lambda leaves: _replayed_derivative(problem, kind, trajectory, leaves), list(primals), tangents)


def _derivative_vjp(outs, *inputs, problem, kind, trajectory):
    trajectory = _known_trajectory(problem, kind, inputs, trajectory)
    if trajectory is None:
        def staged_pullback(out_bars):
            bars = [instantiate(dense(b), o) for b, o in zip(out_bars, outs)]
            return list(second_p(*inputs, *bars, problem=problem, kind=kind, count=len(inputs), direction="vjp"))
        return staged_pullback
    _, pullback = record(lambda leaves: _replayed_derivative(problem, kind, trajectory, leaves), list(inputs))

    def odeint_derivative_pullback(out_bars):
        return pullback([dense(b) for b in out_bars])
    return odeint_derivative_pullback


# Second derivatives of staged (or batched) solves: inputs are the derivative's inputs (``count`` of them), then
# their tangents (direction "jvp": the outputs are the derivative's tangents) or the cotangents of its outputs
# ("vjp": the outputs are its inputs' cotangents). When the code runs, the replay of the steps just taken is
# differentiated, as eagerly.

def _second_impl(*leaves, problem, kind, count, direction):
    primals, rest = list(leaves[:count]), [np.asarray(v) for v in leaves[count:]]
    trajectory = _solve(problem, primals[:_input_count(problem, kind, primals)], reuse=True)
    if direction == "jvp":
        return jvp_flat(lambda values: _replayed_derivative(problem, kind, trajectory, values), primals, rest)[1]
    _, pullback = record(lambda values: _replayed_derivative(problem, kind, trajectory, values), primals)
    return [instantiate(c, x) for c, x in zip(pullback(rest), primals)]


def _second_shape_rule(*avals, problem, kind, count, direction):
    if direction == "jvp":
        return _derivative_shape_rule(*avals[:count], problem=problem, kind=kind, trajectory=None)
    return [ShapedArray(tuple(a.shape), a.dtype) for a in avals[:count]]


def _third_refused(*args, **params):
    raise ChainruleError("odeint's third derivatives cannot be staged (jit, make_graph, to_python) or batched "
                         "(vmap): they differentiate the steps the solve took, which are known only when it runs. "
                         "Compute them eagerly; first and second derivatives can be staged.")




def _input_count(problem, kind, leaves):
    return len(leaves) // 2 if kind == "jvp" else len(leaves) - 1 - len(problem.events)


def _derivative_batch(primitive, values, batched, params, size):
    # Batched tangents or cotangents of one solve (jacfwd, jacrev) share its trajectory; batched inputs each
    # take their own steps.
    count = _input_count(params["problem"], params["kind"], values)
    if any(batched[:count]):
        params = {**params, "trajectory": None}
    return _looped(primitive, values, batched, params, size)


def _derivative_shape_rule(*avals, problem, kind, trajectory):
    # Staged, the derivative is an opaque call too: the tangents of ys (events are refused when staging odeint), or
    # the cotangents of the inputs, each shaped like its input.
    count = _input_count(problem, kind, avals)
    if kind == "jvp":
        return _odeint_shape_rule(*avals[:count], problem=problem)
    return [ShapedArray(tuple(a.shape), a.dtype) for a in avals[:count]]


derivative_p = Primitive("odeint_derivative", _derivative_impl, shape_rule=_derivative_shape_rule,
                         jvp=_derivative_jvp, vjp=_derivative_vjp, batch=_derivative_batch, multiple_results=True)


def _match(cotangent, like):
    """A cotangent with its input's dtype (real inputs get real cotangents)."""
    dtype = aval_of(like).dtype
    cotangent = np.asarray(cotangent)
    if cotangent.dtype.kind == "c" and np.dtype(dtype).kind != "c":
        cotangent = cotangent.real
    cotangent = cotangent.astype(dtype, copy=False).reshape(np.shape(like))
    return cotangent[()] if cotangent.ndim == 0 else cotangent  # a scalar as NumPy gives one (jit returns it as is)


def _looped(primitive, values, batched, params, size):
    # Each example takes its own steps: solve them one by one (a Python loop), then stack.
    per_example = []
    for index in range(size):
        inputs = [v[index] if b else v for v, b in zip(values, batched)]
        per_example.append(primitive.bind(*inputs, **params))
    shapes = {tuple(tuple(np.shape(out)) for out in outs) for outs in per_example}
    if len(shapes) > 1:
        raise ChainruleError("vmap of odeint with events: the examples have different numbers of events, so their "
                             "event times cannot be stacked; loop over the examples in Python instead.")
    return [cnp.stack([outs[k] for outs in per_example]) for k in range(len(per_example[0]))]


second_p = Primitive("odeint_second_derivative", _second_impl, shape_rule=_second_shape_rule, jvp=_third_refused,
                     vjp=_third_refused, batch=_looped, multiple_results=True)
odeint_p = Primitive("odeint", _odeint_impl, shape_rule=_odeint_shape_rule, jvp=_odeint_jvp, vjp=_odeint_vjp,
                     batch=_looped, multiple_results=True)

# Generated code (jit, to_python(compile=True)) calls both primitives as they are, with their problem bound.
OPAQUE_CALLS.add(odeint_p)
OPAQUE_CALLS.add(derivative_p)
OPAQUE_CALLS.add(second_p)
STAGED_RUNNERS[odeint_p] = _staged_odeint
STAGED_RUNNERS[derivative_p] = _staged_derivative


# ------------------------------------------------------------------------------------------- public function

def _leaf(value):
    return value if isinstance(value, Tracer) else np.asarray(value)


def _dtype_of(value):
    return value.aval.dtype if isinstance(value, Tracer) else np.asarray(value).dtype


def _convert(value, dtype):
    if _dtype_of(value) == dtype:
        return value
    return cnp.asarray(value).astype(dtype) if isinstance(value, Tracer) else np.asarray(value, dtype)


def _check_options(method, rtol, atol, adjoint, controller, step, max_steps, events):
    if method not in METHODS:
        raise ValueError(f"odeint: method must be one of {sorted(METHODS)}, got {method!r}")
    for name, value in (("rtol", rtol), ("atol", atol)):
        if not (isinstance(value, (int, float, np.floating, np.integer)) and np.isfinite(value) and value >= 0):
            raise ValueError(f"odeint: {name} must be a non-negative number, got {value!r}")
    if rtol == 0 and atol == 0:
        raise ValueError("odeint: rtol and atol are both 0; give a positive tolerance")
    if adjoint not in (None, "discrete", "backsolve"):
        raise ValueError(f"odeint: adjoint must be None (the exact derivative of the computed solution, also "
                         f"'discrete') or 'backsolve', got {adjoint!r}")
    if controller not in ("pi", "standard"):
        raise ValueError(f"odeint: controller must be 'pi' or 'standard', got {controller!r}")
    if step is not None and method != "rk4":
        raise ValueError(f"odeint: step= subdivides the fixed steps of method='rk4'; method {method!r} chooses "
                         f"its own steps (use rtol/atol)")
    if not (isinstance(max_steps, (int, np.integer)) and max_steps > 0):
        raise ValueError(f"odeint: max_steps must be a positive integer, got {max_steps!r}")


def _check_step(step):
    if step is not None and not (isinstance(step, (int, float, np.floating, np.integer)) and step > 0):
        raise ValueError(f"odeint: step must be a positive number (the largest rk4 step), got {step!r}")


def _check_times(t_values):
    if t_values is None:
        return
    if t_values.ndim != 1 or t_values.size == 0:
        raise ValueError(f"odeint: t must be a non-empty 1-d array of times, got shape {t_values.shape}")
    if not np.all(np.isfinite(t_values)):
        raise ValueError("odeint: t holds non-finite times")
    steps = np.diff(t_values)
    if not steps.size:
        return
    if not (np.all(steps >= 0) or np.all(steps <= 0)):
        raise ValueError("odeint: t must be increasing (or decreasing), repeated times allowed as in "
                         f"scipy.integrate.odeint; got unordered times {t_values.tolist() if t_values.size <= 8 else '...'}")
    if not np.any(steps):
        raise ValueError(f"odeint: every time in t is {float(t_values[0])!r}: there is no interval to integrate over (and no "
                         f"derivative with respect to the times); give times that span an interval")


def _peek(value):
    """The concrete value of a leaf if there is one (eager tracers have theirs), else None."""
    if not isinstance(value, Tracer):
        return np.asarray(value)
    try:
        return np.asarray(value.concrete_value())
    except (ChainruleError, NotImplementedError):
        return None


def _captured_graph(problem_without_graph, y0, t0, arg_leaves):
    """(graph, captured values) when ``func`` closes over values an enclosing transform traces, else
    (None, []). Staging that fails (func branches on values) means there is nothing to capture that the
    plain solve could not see: the problem keeps calling func directly."""
    if interpreter_depth() == 0:
        return None, []
    avals = [ShapedArray(tuple(np.shape(v)) if not isinstance(v, Tracer) else v.aval.shape, _dtype_of(v))
             for v in [y0, t0] + list(arg_leaves)]
    try:
        graph, captured = stage(lambda leaves: [problem_without_graph.flat_func(leaves[0], leaves[1], leaves[2:])],
                                avals)
    except (ChainruleError, NotImplementedError, TypeError, ValueError, IndexError):
        return None, []
    return (graph, captured) if captured else (None, [])


def odeint(func, y0, t, *args, rtol=1e-7, atol=1e-9, method="dopri5", events=None, adjoint=None, step=None,
           controller="pi", first_step=None, max_steps=100_000, native=None):
    """Solve dy/dt = func(y, t, *args) from y(t[0]) = y0; return y at each time of ``t`` (first row y0).

    The argument order is scipy.integrate.odeint's (and autograd's), so ported code runs. ``y0`` may be a pytree
    (dict, tuple of arrays): the result has its structure with a leading time axis on each leaf.

    Methods: ``"dopri5"`` (default) and ``"tsit5"`` choose their steps from an embedded error estimate
    (``rtol``/``atol``; ``controller="pi"`` or ``"standard"``) and give values at the times ``t`` by dense output
    (each its own fourth-order interpolant); ``"rk4"`` takes the intervals of ``t`` as its steps (``step=`` bounds
    the step size by dividing each interval evenly). ``t`` may decrease (integration backward in time) and may
    repeat a time, as SciPy's allows: each row is the solution at its own time, with its own time derivative.

    Derivatives (grad, vjp, jvp, jacfwd, hessian, vmap, ...) with respect to y0, t and args are by default the
    exact derivatives of the computed solution: the discrete adjoint (reverse mode) or forward sensitivities of
    the Runge-Kutta steps actually taken, with the accepted step sizes held constant (what differentiating
    through the solver gives when the step-size controller is not differentiated). At a tight tolerance they
    match finite differences of the solver itself to rounding. ``adjoint="backsolve"`` instead solves the
    continuous adjoint ODE backward in time (torchdiffeq's ``odeint_adjoint``): memory independent of the
    number of steps, but its gradient is approximate, off by the error of that backward solve.

    ``events``: a function or list of functions ``event(y, t, *args)`` with solve_ivp's optional attributes
    ``terminal`` (bool, or stop after that many occurrences) and ``direction`` (+1: rising zeros only, -1:
    falling, 0: both). Their zeros are located on the dense output, and the result is ``(ys, t_events)`` with
    ``t_events`` a list holding one array of event times per function. A terminal event stops the integration:
    rows of ``ys`` for times past it hold the state at the event, so ``ys[-1]`` is that state. Event times are
    differentiable (implicit function theorem: dt*/dp = -(dg/dp) / (dg/dt along the solution)), to third order
    (two Newton steps from the root), with the default adjoint and with ``adjoint="backsolve"`` (whose backward
    solve starts at a terminal event and jumps at each event by the theorem's cotangent).

    A float32 (complex64) state is solved in float32 with rtol at least 100 machine epsilons (1.2e-5).

    Under vmap each example is solved on its own (a Python loop over the batch). Long solves run each step, and
    each step's adjoint, as one generated NumPy function staged from ``func`` (as ``jit`` does; kept across calls
    for the same func and constants), so Python side effects in ``func`` may run once per staging rather than per
    evaluation; a ``func`` that branches on values is called as it is.

    Under ``jit`` (and ``make_graph``, ``to_python``) odeint is one opaque operation whose result has the shape
    ``(len(t),) + y0.shape``: the compiled code runs this solver; ``jit(grad(...))``, ``jit(jacfwd(...))`` and
    ``jit(jacrev(...))`` work. With numba installed (optional), jit runs the solve and its reverse mode as
    machine code for float64 states small enough for scalar code (``chainrule.integrate.native``): the same
    algorithm (the solutions agree well within the tolerance), some twenty times faster. Second derivatives (``jit(hessian(...))``) are staged as
    one operation that differentiates the replayed steps when it runs (at eager speed). With ``events`` (whose
    number depends on values) and for third derivatives, staging is refused; call those eagerly.

    ``native``: ``None`` (default) compiles to machine code under ``jit`` only (where the compilation, about half a
    second for a new func, is paid once); ``True`` eagerly too (numba required; float64, no events, the default
    adjoint: a ValueError otherwise, and a RuntimeWarning where func cannot be compiled); ``False`` never.

    >>> import chainrule as cr, chainrule.numpy as np
    >>> from chainrule.integrate import odeint
    >>> def decay(y, t, k):
    ...     return -k * y
    >>> t = np.linspace(0.0, 1.0, 3)
    >>> ys = odeint(decay, 1.0, t, 2.0, rtol=1e-10, atol=1e-12)
    >>> bool(np.allclose(ys, np.exp(-2.0 * t)))
    True
    >>> round(float(cr.grad(lambda k: odeint(decay, 1.0, t, k, rtol=1e-10, atol=1e-12)[-1])(2.0)), 8)  # -e^-2
    -0.13533528
    """
    event_list = [] if events is None else (list(events) if isinstance(events, (list, tuple)) else [events])
    _check_options(method, rtol, atol, adjoint, controller, step, max_steps, event_list)
    _check_step(step)
    if not callable(func):
        raise TypeError(f"odeint: func must be callable as func(y, t, *args), got {type(func).__name__}")
    for position, event in enumerate(event_list):
        if not callable(event):
            raise TypeError(f"odeint: events[{position}] must be callable as event(y, t, *args), got "
                            f"{type(event).__name__}")
    specs = [EventSpec(event, position) for position, event in enumerate(event_list)]

    y_leaves, y_tree = tree_flatten(y0)
    if not y_leaves:
        raise ValueError("odeint: y0 has no arrays")
    y_leaves = [_leaf(v) for v in y_leaves]
    for position, leaf in enumerate(y_leaves):
        if _dtype_of(leaf).kind not in "fcbiu":
            raise TypeError(f"odeint: y0 leaf {position} has dtype {_dtype_of(leaf)}; give numbers")
    state_dtype = np.result_type(*[_dtype_of(v) for v in y_leaves])
    state_dtype = state_dtype if is_inexact(state_dtype) else np.dtype(np.float64)
    y_shapes = [tuple(np.shape(v)) if not isinstance(v, Tracer) else tuple(v.aval.shape) for v in y_leaves]
    pieces = [cnp.ravel(_convert(v, state_dtype)) if isinstance(v, Tracer) else np.ravel(_convert(v, state_dtype))
              for v in y_leaves]
    y_flat = pieces[0] if len(pieces) == 1 else cnp.concatenate(pieces)

    t = _leaf(t)
    time_dtype = _dtype_of(t) if is_inexact(_dtype_of(t)) and _dtype_of(t).kind == "f" else np.dtype(np.float64)
    if _dtype_of(t).kind == "c":
        raise TypeError("odeint: t must be real times, got a complex array")
    t = _convert(t, time_dtype)
    t_values = _peek(t)
    _check_times(t_values)
    if t_values is None and np.ndim(t) != 1:
        raise ValueError(f"odeint: t must be a 1-d array of times, got shape {np.shape(t)}")

    arg_leaves, arg_tree = tree_flatten(args)
    static, dynamic = [], []
    for leaf in arg_leaves:
        if isinstance(leaf, Tracer) or (np.asarray(leaf).dtype.kind in "fc" if _is_numeric(leaf) else False):
            static.append(_ARRAY)
            dynamic.append(_leaf(leaf))
        elif _is_numeric(leaf) and np.asarray(leaf).dtype.kind in "biu":
            static.append(np.asarray(leaf))  # integers are not differentiated: they stay constants
        else:
            static.append(leaf)

    _check_native(native, specs, adjoint, state_dtype, time_dtype)
    tableau = METHODS[method]
    # Single precision cannot meet float64's default tolerance: rtol is raised to 100 eps there (as SciPy does).
    eps = float(np.finfo(state_dtype).eps)
    rtol_value = max(float(rtol), 100 * eps) if eps > 1e-10 else float(rtol)
    problem = Problem(func, y_tree, y_shapes, arg_tree, static, 0, None, tableau, rtol=rtol_value, atol=float(atol),
                      controller=controller, first_step=first_step, max_steps=int(max_steps),
                      step=step, events=specs,
                      adjoint="discrete" if adjoint is None else adjoint, state_dtype=state_dtype,
                      time_dtype=time_dtype, native=native)
    graph, captured = _captured_graph(problem, y_flat, t[0] if t_values is None or len(t_values) else t, dynamic)
    if graph is not None:
        problem.graph, problem.num_captured = graph, len(captured)
    outs = odeint_p(y_flat, t, *captured, *dynamic, problem=problem)
    ys = _unflatten_rows(problem, outs[0])
    if not specs:
        return ys
    return ys, list(outs[1:])


def _check_native(native_option, specs, adjoint, state_dtype, time_dtype):
    if native_option not in (None, True, False):
        raise ValueError(f"odeint: native must be None (machine code under jit), True (eagerly too) or False, got "
                         f"{native_option!r}")
    if native_option:
        reason = native.unsupported(specs, adjoint, state_dtype, time_dtype)
        if reason is not None:
            raise ValueError(f"odeint: native=True cannot be honoured: {reason}. Leave native=None (machine code "
                             f"under jit where it applies).")


def _is_numeric(leaf):
    return isinstance(leaf, (int, float, complex, bool, np.ndarray, np.generic))


def _unflatten_rows(problem, ys):
    if problem.plain_vector:
        return tree_unflatten(problem.y_tree, [ys])
    leaves, start = [], 0
    rows = ys.shape[0]
    for shape, size in zip(problem.y_shapes, problem.y_sizes):
        leaves.append(cnp.reshape(ys[:, start:start + size], (rows,) + shape))
        start += size
    return tree_unflatten(problem.y_tree, leaves)
