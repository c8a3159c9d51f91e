"""``odeint`` under ``jit`` as machine code: the whole solve and its derivatives compiled with numba, when it is
installed (``pip install chainrule[native]``).

Eagerly, and without numba, a step runs as generated Python (``steps.py``): a few microseconds of interpreter
per step, which no Python code goes below (the pendulum's 1,000 RK4 steps: ~7 ms for a gradient). Under
``jit`` the solve is one opaque call whose problem is fixed when it is staged, so it can afford a compilation:
``func``'s staged graph, its pullback and its JVP become C functions (``export.native``) and the solver's loops below,
compiled once per process, call them through function pointers. The loops repeat ``solver.py`` and
``adjoint.discrete_vjp`` operation for operation (step-size control, dense output, the grid's dependence on
``t``), and the derivative is the exact derivative of the computed solution either way. Rounding differs (libm's
functions against NumPy's, sums in another order); fixed steps agree to it, but at tight tolerances the adaptive
error estimate, a difference of nearly equal stages, amplifies it into step sizes that can differ in their fifth
digit: the two routes' solutions then agree well within the tolerance, not to rounding.

Covered: float64 states and arguments whose ``func`` stages to scalar code (``export.scalar``: small states),
every method, reverse mode (``grad``, ``vjp``, ``jacrev``) with the default adjoint and forward mode (``jvp``,
``jacfwd``), no events. Anything else, and any solve that fails (too many steps, a step size underflow,
non-finite stages: the Python route then raises its error), runs the Python route; so does a function numba
cannot compile.
"""
import functools
import threading
import warnings
from collections import OrderedDict

import numpy as np

from .. import numpy as cnp
from ..autodiff.transforms import jvp, vjp
from ..core.avals import ShapedArray
from ..core.graph import inline_calls, make_graph
from ..export import native as native_code
from ..ops.loops import run_graph
from . import steps
from .solver import Trajectory
from .solver import clipped_step as _clipped_step
from .solver import next_step as _next_step

# Status codes of the compiled solve; anything but OK reruns the solve in Python, which raises the error.
OK, TOO_MANY_STEPS, UNDERFLOW, NOT_FINITE = 0, 1, 2, 3
# Output rows: the first (y0), a dense output inside a step, the result of a step.
FIRST, DENSE, STATE = 0, 1, 2
_EPSILON = float(np.finfo(float).eps)


# ------------------------------------------------------------------------------------------- the loops
# Plain Python, compiled by numba.njit at the first use (``_compiled``). ``rhs(y, t, p, out)``,
# ``pullback(y, t, p, w, y_bar, t_bar, p_bar)`` and ``tangent(y, t, p, y_dot, t_dot, p_dot, k_dot)`` are C
# functions (pointers to float64, t and t_dot numbers); p holds the arguments' leaves in one vector.

def _stage(rhs, a, c, y, t_n, h, p, inputs, stages, k_first):
    """One Runge-Kutta step's stage inputs and stages (row 0: y and k_first), as ``solver._rk_stages``."""
    count, n = stages.shape
    inputs[0, :] = y
    stages[0, :] = k_first
    for i in range(1, count):
        for e in range(n):
            total = 0.0
            started = False
            for j in range(i):
                if a[i, j] != 0.0:
                    term = a[i, j] * stages[j, e]
                    total = term if not started else total + term
                    started = True
            inputs[i, e] = y[e] + h * total if started else y[e]
        rhs(inputs[i].ctypes, t_n + c[i] * h, p.ctypes, stages[i].ctypes)


def _dense_weights(dense, theta, weights, slopes):
    """``tableau.dense_weights``: w(theta) and dw/dtheta, written into ``weights`` and ``slopes``."""
    count, degree = dense.shape
    for i in range(count):
        weight, slope, power = 0.0, 0.0, 1.0
        for d in range(degree):
            weight += dense[i, d] * power
            if d + 1 < degree:
                slope += (d + 1) * dense[i, d + 1] * power
            power *= theta
        weights[i], slopes[i] = weight, slope


def _grow(array, size):
    grown = np.empty((size,) + array.shape[1:], array.dtype)
    grown[:array.shape[0]] = array
    return grown


def _dense(dense, theta, h, y, stages, out):
    """y + h (w(theta) @ stages), w's polynomial coefficients lowest power first."""
    count = dense.shape[0]
    weights, slopes = np.empty(count), np.empty(count)
    _dense_weights(dense, theta, weights, slopes)
    for e in range(out.shape[0]):
        total = 0.0
        for i in range(count):
            total += weights[i] * stages[i, e]
        out[e] = y[e] + h * total


def _solve_fixed(rhs, y0, t, p, a, c, dense, substeps):
    count, n = a.shape[0], y0.shape[0]
    total = (t.shape[0] - 1) * substeps
    inputs = np.empty((total, count, n))
    stages = np.empty((total, count, n))
    times, sizes = np.empty(total), np.empty(total)
    anchor = np.empty(total, np.int64)
    phi, psi = np.empty(total), np.empty(total)
    ys = np.empty((t.shape[0], n))
    kinds, rows_step, thetas = np.zeros(t.shape[0], np.int64), np.zeros(t.shape[0], np.int64), np.zeros(t.shape[0])
    ys[0] = y0
    k = np.empty(n)
    rhs(y0.ctypes, t[0], p.ctypes, k.ctypes)
    for e in range(n):
        if not np.isfinite(k[e]):
            return NOT_FINITE, 0, ys, times, sizes, inputs, stages, anchor, phi, psi, kinds, rows_step, thetas
    y = y0.copy()
    step = 0
    for interval in range(t.shape[0] - 1):
        width = t[interval + 1] - t[interval]
        h = width / substeps
        for j in range(substeps):
            t_n = t[interval] + (j / substeps) * width
            _stage(rhs, a, c, y, t_n, h, p, inputs[step], stages[step], k)
            if not np.isfinite(np.sum(stages[step])):
                return NOT_FINITE, step, ys, times, sizes, inputs, stages, anchor, phi, psi, kinds, rows_step, thetas
            times[step], sizes[step] = t_n, h
            anchor[step], phi[step], psi[step] = interval, j / substeps, 1.0 / substeps
            y, k = inputs[step, count - 1], stages[step, count - 1]  # views: the stored steps are not changed
            step += 1
        ys[interval + 1] = y
        kinds[interval + 1], rows_step[interval + 1] = STATE, step - 1
    return OK, step, ys, times, sizes, inputs, stages, anchor, phi, psi, kinds, rows_step, thetas


def _norm(error, y, y_new, rtol, atol):
    """``solver._error_norm``: the root mean square of the error relative to atol + rtol |y|."""
    total = 0.0
    for e in range(error.shape[0]):
        a, b = abs(y[e]), abs(y_new[e])
        scale = a if a >= b or a != a else b
        denominator = atol + rtol * scale
        if denominator != 0.0:
            ratio = abs(error[e]) / denominator
        else:
            ratio = np.inf if error[e] != 0.0 else np.nan
        total += ratio * ratio
    return np.sqrt(total / error.shape[0])


def _rms(values, scale):
    total = 0.0
    for e in range(values.shape[0]):
        total += abs(values[e] / scale[e]) ** 2
    return np.sqrt(total / values.shape[0])


def _initial_step(rhs, y0, k0, t0, span, p, order, rtol, atol):
    """``solver._initial_step`` (Hairer, Norsett and Wanner I, II.4)."""
    scale = atol + rtol * np.abs(y0)
    d0, d1 = _rms(y0, scale), _rms(k0, scale)
    h0 = 1e-6 if d0 < 1e-5 or d1 < 1e-5 else 0.01 * d0 / d1
    h0 = min(h0, abs(span))
    direction = np.sign(span)
    k1 = np.empty(y0.shape[0])
    y1 = y0 + direction * h0 * k0
    rhs(y1.ctypes, t0 + direction * h0, p.ctypes, k1.ctypes)
    d2 = _rms(k1 - k0, scale) / h0
    if max(d1, d2) <= 1e-15:
        h1 = max(1e-6, h0 * 1e-3)
    else:
        h1 = (0.01 / max(d1, d2)) ** (1.0 / order)
    return min(100 * h0, h1, abs(span))


def _solve_adaptive(rhs, y0, t, p, a, c, dense, error_weights, order, rtol, atol, beta, first_step, max_steps):
    count, n = a.shape[0], y0.shape[0]
    capacity = 64
    inputs, stages = np.empty((capacity, count, n)), np.empty((capacity, count, n))
    times, sizes = np.empty(capacity), np.empty(capacity)
    rows = t.shape[0]
    ys = np.empty((rows, n))
    kinds, rows_step, thetas = np.zeros(rows, np.int64), np.zeros(rows, np.int64), np.zeros(rows)
    ys[0] = y0
    k = np.empty(n)
    t0, t_end = t[0], t[rows - 1]
    rhs(y0.ctypes, t0, p.ctypes, k.ctypes)
    for e in range(n):
        if not np.isfinite(k[e]):
            return NOT_FINITE, 0, ys, times, sizes, inputs, stages, kinds, rows_step, thetas
    direction = 1.0 if t_end > t0 else -1.0
    exponent = 1.0 / order - 0.75 * beta
    previous_error = 1e-4
    h = _initial_step(rhs, y0, k, t0, t_end - t0, p, order, rtol, atol) if first_step < 0.0 else first_step
    y = y0.copy()
    t_n = t0
    row, attempts, step = 1, 0, 0
    rejected_last = False
    error = np.empty(n)
    step_inputs, step_stages = np.empty((count, n)), np.empty((count, n))
    while True:
        h, last = _clipped_step(h, t_n, t_end, direction)
        attempts += 1
        if attempts > max_steps:
            return TOO_MANY_STEPS, step, ys, times, sizes, inputs, stages, kinds, rows_step, thetas
        if h < 16 * _EPSILON * max(abs(t_n), abs(t_end - t0)):
            return UNDERFLOW, step, ys, times, sizes, inputs, stages, kinds, rows_step, thetas
        signed_h = direction * h
        _stage(rhs, a, c, y, t_n, signed_h, p, step_inputs, step_stages, k)
        for e in range(n):
            total = 0.0
            for i in range(count):
                total += error_weights[i] * step_stages[i, e]
            error[e] = signed_h * total
        norm = _norm(error, y, step_inputs[count - 1], rtol, atol)
        if not np.isfinite(norm):
            if h < 1e-3 * abs(t_end - t0) * _EPSILON ** 0.5 and not np.isfinite(np.sum(step_stages)):
                return NOT_FINITE, step, ys, times, sizes, inputs, stages, kinds, rows_step, thetas
            h *= 0.25
            rejected_last = True
            continue
        if norm <= 1.0:
            if step == capacity:
                capacity *= 2
                inputs, stages = _grow(inputs, capacity), _grow(stages, capacity)
                times, sizes = _grow(times, capacity), _grow(sizes, capacity)
            inputs[step], stages[step] = step_inputs, step_stages
            times[step], sizes[step] = t_n, signed_h
            t_next = t_end if last else t_n + signed_h
            y, k = inputs[step, count - 1], stages[step, count - 1]  # views of the stored step
            while row < rows and (t[row] - t_next) * direction <= 0:
                theta = (t[row] - t_n) / signed_h
                kinds[row], rows_step[row], thetas[row] = DENSE, step, theta
                _dense(dense, theta, signed_h, inputs[step, 0], stages[step], ys[row])
                row += 1
            step += 1
            if last:
                return OK, step, ys, times, sizes, inputs, stages, kinds, rows_step, thetas
            t_n = t_next
        h, previous_error, rejected_last = _next_step(h, norm, previous_error, exponent, beta, rejected_last)


def _discrete_vjp(pullback, y0, t, p, a, c, dense, fixed, count_steps, times, sizes, inputs, stages, anchor, phi,
                  psi, kinds, rows_step, thetas, ys_bar):
    """``adjoint.discrete_vjp`` without events: (y0_bar, t_bar, p_bar)."""
    count, n, m = a.shape[0], y0.shape[0], p.shape[0]
    t_bar = np.zeros(t.shape[0])
    p_bar, p_part = np.zeros(m), np.empty(m)
    y_bar = np.zeros(n)
    carry = np.zeros(n)
    stage_bars, input_bars = np.empty((count, n)), np.empty((count, n))
    later = np.empty((count, n))
    start, result_bar = np.empty(n), np.empty(n)
    k_bar, part = np.empty(n), np.empty(n)
    time_part = np.empty(1)
    weights, slopes = np.empty(count), np.empty(count)
    row = t.shape[0] - 1
    for step in range(count_steps - 1, -1, -1):
        h, t_n = sizes[step], times[step]
        stage_bars[:] = 0.0
        start[:] = 0.0
        result_bar[:] = y_bar
        gathered_time = gathered_size = 0.0
        while row >= 1 and kinds[row] != FIRST and rows_step[row] == step:
            if kinds[row] == STATE:
                result_bar += ys_bar[row]
            else:  # a dense output: adjoint._dense_cotangent
                theta = thetas[row]
                _dense_weights(dense, theta, weights, slopes)
                start += ys_bar[row]
                size_share, theta_bar = 0.0, 0.0
                for i in range(count):
                    projection = 0.0
                    for e in range(n):
                        stage_bars[i, e] += h * weights[i] * ys_bar[row, e]
                        projection += stages[step, i, e] * ys_bar[row, e]
                    size_share += weights[i] * projection
                    theta_bar += slopes[i] * projection
                theta_bar *= h
                gathered_size += size_share
                gathered_time -= theta_bar / h
                gathered_size -= theta_bar * theta / h
                t_bar[row] += theta_bar / h
            row -= 1
        # steps.step_adjoint
        time_bar = size_bar = 0.0
        for i in range(count - 1, 0, -1):
            for e in range(n):
                total = 0.0
                for j in range(i + 1, count):
                    total += a[j, i] * input_bars[j, e]
                later[i, e] = total
                value = stage_bars[i, e] + h * total
                k_bar[e] = value + carry[e] if i == count - 1 else value
            pullback(inputs[step, i].ctypes, t_n + c[i] * h, p.ctypes, k_bar.ctypes, part.ctypes, time_part.ctypes,
                     p_part.ctypes)
            for e in range(n):
                input_bars[i, e] = part[e] + result_bar[e] if i == count - 1 else part[e]
            time_bar += time_part[0]
            if fixed:
                size_bar += c[i] * time_part[0]
            p_bar += p_part
        for e in range(n):
            total, later_first = 0.0, 0.0
            for i in range(1, count):
                total += input_bars[i, e]
                later_first += a[i, 0] * input_bars[i, e]
            later[0, e] = later_first
            y_bar[e] = total + start[e]
            carry[e] = stage_bars[0, e] + h * later_first
        if fixed:
            products = 0.0
            for j in range(count - 1):
                for e in range(n):
                    products += stages[step, j, e] * later[j, e]
            size_bar += products
        time_bar += gathered_time
        size_bar += gathered_size
        _grid(anchor, phi, psi, step, time_bar, size_bar, t_bar)
    pullback(y0.ctypes, times[0] if count_steps else t[0], p.ctypes, carry.ctypes, part.ctypes, time_part.ctypes,
             p_part.ctypes)
    if count_steps:
        _grid(anchor, phi, psi, 0, time_part[0], 0.0, t_bar)
    p_bar += p_part
    return ys_bar[0] + y_bar + part, t_bar, p_bar


def _grid(anchor, phi, psi, step, time_bar, size_bar, t_bar):
    """adjoint._grid_cotangent: t_n and h_n are affine in the requested times."""
    t_bar[anchor[step]] += (1.0 - phi[step]) * time_bar - psi[step] * size_bar
    if phi[step] != 0.0 or psi[step] != 0.0:
        t_bar[anchor[step] + 1] += phi[step] * time_bar + psi[step] * size_bar


def _discrete_jvp(tangent, y0, t, p, a, c, dense, count_steps, times, sizes, inputs, stages, anchor, phi, psi,
                  kinds, rows_step, thetas, y0_dot, t_dot, p_dot):
    """``adjoint.discrete_jvp`` without events: the tangents of ys (forward sensitivities of each step)."""
    count, n = a.shape[0], y0.shape[0]
    rows = t.shape[0]
    weights, slopes = np.empty(count), np.empty(count)
    ys_dot = np.zeros((rows, n))
    ys_dot[0] = y0_dot
    y_dot, k_dot = y0_dot.copy(), np.empty(n)
    stage_dots, input_dot = np.empty((count, n)), np.empty(n)
    row = 1
    for step in range(count_steps):
        h, t_n = sizes[step], times[step]
        if phi[step] != 0.0 or psi[step] != 0.0:
            width_dot = t_dot[anchor[step] + 1] - t_dot[anchor[step]]
            time_dot, size_dot = t_dot[anchor[step]] + phi[step] * width_dot, psi[step] * width_dot
        else:
            time_dot, size_dot = t_dot[anchor[step]], 0.0
        if step == 0:
            tangent(y0.ctypes, t_n, p.ctypes, y_dot.ctypes, time_dot, p_dot.ctypes, k_dot.ctypes)
        stage_dots[0] = k_dot
        input_dot[:] = y_dot
        for i in range(1, count):
            for e in range(n):
                total, moved = 0.0, 0.0
                for j in range(i):
                    total += a[i, j] * stage_dots[j, e]
                    moved += a[i, j] * stages[step, j, e]
                input_dot[e] = y_dot[e] + h * total + size_dot * moved
            tangent(inputs[step, i].ctypes, t_n + c[i] * h, p.ctypes, input_dot.ctypes, time_dot + c[i] * size_dot,
                    p_dot.ctypes, stage_dots[i].ctypes)
        while row < rows and rows_step[row] == step:
            if kinds[row] == STATE:
                ys_dot[row] = input_dot
            else:  # the dense output's tangent, its query time t[row] moving too
                theta = thetas[row]
                theta_dot = (t_dot[row] - time_dot - theta * size_dot) / h
                _dense_weights(dense, theta, weights, slopes)
                for e in range(n):
                    total = 0.0
                    for i in range(count):
                        total += (h * weights[i] * stage_dots[i, e] + size_dot * weights[i] * stages[step, i, e]
                                  + h * theta_dot * slopes[i] * stages[step, i, e])
                    ys_dot[row, e] = y_dot[e] + total
            row += 1
        y_dot[:] = input_dot
        k_dot[:] = stage_dots[count - 1]
    return ys_dot


_LOOPS = {}
_LOCK = threading.Lock()
_HELPERS = ("_stage", "_grow", "_dense", "_dense_weights", "_norm", "_rms", "_initial_step", "_grid", "_next_step",
            "_clipped_step")
_DRIVERS = ("_solve_fixed", "_solve_adaptive", "_discrete_vjp", "_discrete_jvp")


def _compiled():
    """The loops above compiled (numba's dispatchers; they compile at their first call: once per process, about
    ten seconds, or a fraction of a second from numba's cache on disk, next to this file or in the user's cache
    directory), or None when numba cannot compile them (a warning says why; jit then runs Python steps)."""
    if not _LOOPS:
        with _LOCK:
            if not _LOOPS:
                _LOOPS.update(_dispatchers())
    return _LOOPS["drivers"]


def _dispatchers():
    numba = native_code.numba()
    try:
        numba.njit(cache=True)(_grid)  # caching needs a writable cache directory; without one, compile per process
        njit = functools.partial(numba.njit, cache=True)
    except RuntimeError:
        njit = numba.njit
    compiled = {name: njit(globals()[name]) for name in _HELPERS + _DRIVERS}
    # The drivers call the helpers by their global names, which numba resolves when it compiles them: the helpers'
    # names here are rebound to their compiled versions (solver.py keeps its own).
    globals().update({name: compiled[name] for name in _HELPERS})
    return {"drivers": {name: compiled[name] for name in _DRIVERS}}


def _run(driver, *args):
    """A compiled driver's result, or None (with a warning, once) when numba fails to compile it."""
    loops = _compiled()
    if loops is None:
        return None
    try:
        return loops[driver](*args)
    except Exception as error:  # noqa: BLE001 (numba's typing and lowering errors have no common base)
        if not _numba_error(error):
            raise
        warnings.warn(f"chainrule: numba could not compile odeint's native loops ({type(error).__name__}: "
                      f"{str(error).splitlines()[0] if str(error) else ''}); jit runs odeint's Python steps",
                      RuntimeWarning, stacklevel=3)
        _LOOPS["drivers"] = None
        return None


def _numba_error(error):
    return type(error).__module__.startswith("numba")


# ------------------------------------------------------------------------------------------- glue

class NativeSolve:
    """What one compiled solve computed (arrays, ``count`` steps), and how to read it as a ``solver.Trajectory``
    for the derivatives this module does not compute (forward mode, second order)."""

    events = ()  # no events: native solves have none

    def __init__(self, fixed, y0, t, p, result, substeps):
        self.fixed, self.y0, self.t, self.p, self.substeps = fixed, y0, t, p, substeps
        self._trajectory = None
        if fixed:
            _, self.count, self.ys, self.times, self.sizes, self.inputs, self.stages, self.anchor, self.phi, \
                self.psi, self.kinds, self.rows_step, self.thetas = result
        else:
            _, self.count, self.ys, self.times, self.sizes, self.inputs, self.stages, self.kinds, self.rows_step, \
                self.thetas = result
            self.anchor = np.zeros(self.count, np.int64)
            self.phi = self.psi = np.zeros(self.count)

    def trajectory(self):
        if self._trajectory is None:
            self._trajectory = self._as_trajectory()
        return self._trajectory

    def _as_trajectory(self):
        count = self.count
        trajectory = Trajectory(y0=self.y0, ys=self.ys)
        trajectory.times, trajectory.steps = self.times[:count].tolist(), self.sizes[:count].tolist()
        trajectory.stage_inputs, trajectory.stages = list(self.inputs[:count]), list(self.stages[:count])
        trajectory.anchor, trajectory.phi = self.anchor[:count].tolist(), self.phi[:count].tolist()
        trajectory.psi = self.psi[:count].tolist()
        if self.fixed:
            trajectory.offset = trajectory.fixed = [0.0] * count
            trajectory.substeps = self.substeps
        else:
            trajectory.offset = (self.times[:count] - self.t[0]).tolist()
            trajectory.fixed = trajectory.steps
        names = {DENSE: "dense", STATE: "state"}
        trajectory.outputs = [None] + [
            ("dense", int(step), float(theta)) if kind == DENSE else (names[kind], int(step))
            for kind, step, theta in zip(self.kinds[1:].tolist(), self.rows_step[1:].tolist(), self.thetas[1:].tolist())]
        return trajectory


class _Functions:
    """func and its pullback as C functions of flat float64 values (the arguments' leaves in one vector p)."""

    def __init__(self, rhs, pullback, flat_rhs, n, shapes):
        self.rhs, self.pullback, self.shapes = rhs, pullback, shapes
        self.sizes = [int(np.prod(shape, dtype=np.int64)) for shape in shapes]
        self.flat_rhs, self.n = flat_rhs, n
        self._tangent = []  # [the JVP's C function or None], compiled when forward mode first needs it

    @property
    def tangent(self):
        """``tangent(y, t, p, y_dot, t_dot, p_dot, k_dot)``: func's JVP as a C function, or None."""
        if not self._tangent:
            with _LOCK:
                if not self._tangent:
                    self._tangent.append(_compile_tangent(self.flat_rhs, self.n, max(sum(self.sizes), 1)))
        return self._tangent[0]

    def pack(self, arg_leaves):
        if not arg_leaves:
            return np.zeros(1)
        return np.concatenate([np.ravel(leaf) for leaf in arg_leaves]).astype(np.float64, copy=False)

    def unpack(self, p_bar):
        parts, start = [], 0
        for shape, size in zip(self.shapes, self.sizes):
            parts.append(p_bar[start:start + size].reshape(shape))
            start += size
        return parts


_CACHE_LOCK = threading.Lock()
_FUNCTIONS = OrderedDict()  # func's graph key -> _Functions (or None), across odeint calls; the newest kept


def _functions(problem, y0, t0, arg_leaves):
    key = ("native", steps._signature([y0, t0] + list(arg_leaves)))
    if key not in problem.compiled_rules:
        problem.compiled_rules[key] = _make_functions(problem, y0, t0, arg_leaves)
    return problem.compiled_rules[key]


def unsupported(events, adjoint, state_dtype, time_dtype, arg_leaves=()):
    """Why this module cannot solve a problem with these options (a sentence), or None."""
    if not native_code.available():
        return "numba is not installed (pip install chainrule[native]) or native code is switched off"
    if events:
        return "native code does not locate events"
    if adjoint not in (None, "discrete"):
        return f"native code computes the default (discrete) adjoint, not adjoint={adjoint!r}"
    if np.dtype(state_dtype) != np.float64 or np.dtype(time_dtype) != np.float64:
        return f"native code takes float64 states and times, not {state_dtype} and {time_dtype}"
    if any(np.result_type(leaf) != np.float64 for leaf in arg_leaves):
        return "native code takes float64 arguments only"
    return None


def _make_functions(problem, y0, t0, arg_leaves):
    if problem.native is False or y0.size == 0 or unsupported(
            problem.events, problem.adjoint, problem.state_dtype, problem.time_dtype, arg_leaves) is not None:
        return None
    staged = steps._func_graph(problem, [y0, t0] + list(arg_leaves))
    if staged is None or staged[1] is None:
        return None
    graph, graph_key = staged
    with _CACHE_LOCK:  # jitted functions may be called from several threads
        if graph_key in _FUNCTIONS:
            _FUNCTIONS.move_to_end(graph_key)
            return _FUNCTIONS[graph_key]
        functions = _FUNCTIONS[graph_key] = _compile_functions(graph, y0.size,
                                                               [np.shape(leaf) for leaf in arg_leaves])
        if len(_FUNCTIONS) > steps.CACHE_SIZE:
            _FUNCTIONS.popitem(last=False)
        return functions


def _compile_functions(graph, n, shapes):
    sizes = [int(np.prod(shape, dtype=np.int64)) for shape in shapes]

    def flat_rhs(y, t, p):
        leaves, start = [], 0
        for shape, size in zip(shapes, sizes):
            leaves.append(cnp.reshape(p[start:start + size], shape))
            start += size
        return run_graph(graph, [y, t] + leaves)[0]

    def flat_pullback(y, t, p, w):
        _, pullback = vjp(flat_rhs, y, t, p)
        y_bar, t_bar, p_bar = pullback(w)
        return y_bar, cnp.real(t_bar), p_bar

    y, t, p = ShapedArray((n,), np.float64), ShapedArray((), np.float64), ShapedArray((max(sum(sizes), 1),),
                                                                                     np.float64)
    try:
        rhs_graph = inline_calls(make_graph(flat_rhs)(y, t, p))
        pullback_graph = inline_calls(make_graph(flat_pullback)(y, t, p, y))
    except steps._STAGING_ERRORS:
        return None
    rhs = native_code.native_function(rhs_graph, "rhs")
    pullback = native_code.native_function(pullback_graph, "rhs_pullback") if rhs is not None else None
    return None if pullback is None else _Functions(rhs, pullback, flat_rhs, n, shapes)


def _compile_tangent(flat_rhs, n, m):
    def flat_tangent(y, t, p, y_dot, t_dot, p_dot):
        return jvp(flat_rhs, (y, t, p), (y_dot, t_dot, p_dot))[1]

    y, t, p = ShapedArray((n,), np.float64), ShapedArray((), np.float64), ShapedArray((m,), np.float64)
    try:
        graph = inline_calls(make_graph(flat_tangent)(y, t, p, y, t, p))
    except steps._STAGING_ERRORS:
        return None
    return native_code.native_function(graph, "rhs_tangent")


def solve(problem, y0, t, arg_leaves):
    """The compiled solve (a NativeSolve), or None where this module does not apply or the solve failed."""
    functions = _functions(problem, y0, t[0], arg_leaves)
    if functions is None or len(t) < 2:
        return None
    tableau = problem.tableau
    y0 = np.ascontiguousarray(y0, np.float64)
    t = np.ascontiguousarray(t, np.float64)
    p = functions.pack(arg_leaves)
    a, c, dense = problem.a, np.ascontiguousarray(tableau.c, np.float64), np.ascontiguousarray(tableau.dense)
    if tableau.error is None:
        substeps = problem.substeps_for(t)
        result = _run("_solve_fixed", functions.rhs, y0, t, p, a, c, dense, substeps)
    else:
        substeps = 1
        beta = 0.04 if problem.controller == "pi" else 0.0
        first_step = -1.0 if problem.first_step is None else abs(float(problem.first_step))  # -1: choose it
        result = _run("_solve_adaptive", functions.rhs, y0, t, p, a, c, dense, tableau.error.astype(np.float64),
                      tableau.order, problem.rtol, problem.atol, beta, first_step, problem.max_steps)
    if result is None or result[0] != OK:
        return None
    return NativeSolve(tableau.error is None, y0, t, p, result, substeps)


def discrete_vjp(problem, solved, arg_leaves, ys_bar):
    """(y0_bar, t_bar, arg_bars) of a compiled solve, or None where this module does not apply."""
    functions = _functions(problem, solved.y0, solved.t[0], arg_leaves)
    if functions is None:
        return None
    tableau = problem.tableau
    cotangents = _run("_discrete_vjp", functions.pullback, solved.y0, solved.t, solved.p, problem.a,
                      np.ascontiguousarray(tableau.c, np.float64), np.ascontiguousarray(tableau.dense), solved.fixed,
                      solved.count, solved.times, solved.sizes, solved.inputs, solved.stages, solved.anchor,
                      solved.phi, solved.psi, solved.kinds, solved.rows_step, solved.thetas,
                      np.ascontiguousarray(ys_bar, np.float64))
    if cotangents is None:
        return None
    y0_bar, t_bar, p_bar = cotangents
    return y0_bar, t_bar, functions.unpack(p_bar)


def discrete_jvp(problem, solved, arg_leaves, y0_dot, t_dot, arg_dots):
    """The tangent of ys of a compiled solve, or None where this module does not apply."""
    functions = _functions(problem, solved.y0, solved.t[0], arg_leaves)
    if functions is None or functions.tangent is None:
        return None
    tableau = problem.tableau
    return _run("_discrete_jvp", functions.tangent, solved.y0, solved.t, solved.p, problem.a,
                np.ascontiguousarray(tableau.c, np.float64), np.ascontiguousarray(tableau.dense), solved.count,
                solved.times, solved.sizes, solved.inputs, solved.stages, solved.anchor, solved.phi, solved.psi,
                solved.kinds, solved.rows_step, solved.thetas,
                np.ascontiguousarray(np.ravel(y0_dot), np.float64), np.ascontiguousarray(t_dot, np.float64),
                functions.pack(arg_dots))
