"""``derivative``: elementwise derivatives of any Python callable, and the driver that every
chainrule.fd function shares (method choice, complex-step probe, warnings, info)."""
from __future__ import annotations

import numpy as np

from .adaptive import differentiate_lanes
from .complex_step import complex_step_lanes, probe_analyticity
from .errors import report_problem
from .evaluation import Evaluator, as_point
from .info import FiniteDifferenceInfo
from .lanes import CoordinateLanes, DirectionLanes, ElementwiseLanes
from .noise import difference_table_noise
from .richardson import extrapolate_lanes

__all__ = ["derivative"]

METHODS = ("central", "forward", "backward", "complex")


def check_options(method, order, n, noise):
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    if not isinstance(order, (int, np.integer)) or order < 1:
        raise ValueError(f"order must be a positive integer, got {order!r}")
    if method == "central" and order % 2:
        raise ValueError(f"central differences have even order; got order={order}, use {order + 1}")
    if not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"n (the derivative order) must be a positive integer, got {n!r}")
    if method == "complex" and n != 1:
        raise ValueError(f"method='complex' gives first derivatives only; for n={n} use 'central'")
    if isinstance(noise, str) and noise != "estimate":
        raise ValueError(f"noise must be None, a number, or 'estimate', got {noise!r}")


def split_bounds(bounds):
    if bounds is None:
        return -np.inf, np.inf
    try:
        lower, upper = bounds
    except (TypeError, ValueError):
        raise ValueError(f"bounds must be a pair (lower, upper), got {bounds!r}") from None
    lower = -np.inf if lower is None else lower
    upper = np.inf if upper is None else upper
    for side, value in (("lower", lower), ("upper", upper)):
        try:
            array = np.asarray(value, dtype=float)
        except (TypeError, ValueError):
            raise ValueError(f"bounds=({lower!r}, {upper!r}): the {side} bound must be a number, an array "
                             f"of numbers or None") from None
        if np.any(np.isnan(array)):
            raise ValueError(f"bounds=({lower}, {upper}): the {side} bound is NaN; give a number, or None "
                             f"(or -inf/inf) for no bound")
    if np.any(np.asarray(lower) >= np.asarray(upper)):
        raise ValueError(f"bounds=({lower}, {upper}): lower must be below upper")
    return lower, upper


def _probe(lanes, derivative_values, center, eps, seed=0):
    """Real-step central difference along one direction, compared with the complex step."""
    count = lanes.count
    scale = lanes.scale()
    if isinstance(lanes, ElementwiseLanes):
        delta = lanes.represent(scale * eps ** (1 / 3))
        plus = np.real(lanes.values(delta)).astype(float)
        minus = np.real(lanes.values(-delta)).astype(float)
        extra = (1,) * (plus.ndim - 1)
        return probe_analyticity(derivative_values, plus, minus, center, delta.reshape((count,) + extra), eps)
    weights = np.random.default_rng(seed).choice([-1.0, 1.0], size=count) * scale
    if isinstance(lanes, DirectionLanes):
        direction = np.tensordot(weights, np.stack(lanes.directions), axes=(0, 0))
    else:
        direction = weights.reshape(lanes.x.shape)
    along = np.tensordot(weights, derivative_values, axes=(0, 0))
    delta = eps ** (1 / 3)
    evaluator = lanes.evaluator
    plus, minus = evaluator([(lanes.x + delta * direction).astype(lanes.x.dtype),
                             (lanes.x - delta * direction).astype(lanes.x.dtype)])
    return probe_analyticity(along, np.asarray(plus, float), np.asarray(minus, float), center[0], delta, eps)


def _off_the_real_line(lanes, result, real_center, complex_center, what, strict):
    """The complex step needs f real and finite at the real point x, and Re f(x + ih) = f(x).

    Outside f's real domain (log or sqrt of a negative number) f(x + ih) lies on a complex branch whose
    imaginary part is O(1), so Im f / h is ~1e31 and no real step would notice. Returns None when the
    complex step applies, else the (result, method, status) to return instead.
    """
    count = lanes.count
    per_lane = lambda a: np.asarray(a).reshape(count, -1)
    outside = ~np.all(np.isfinite(per_lane(real_center)), axis=1)
    if np.any(outside):
        lane = int(np.flatnonzero(outside)[0])
        report_problem(
            f"{what}: f is NaN or infinite at the real point x (lane/entry {lane}): x lies outside f's real "
            f"domain (log or sqrt of a negative number, ...), so f has no derivative there; the complex "
            f"step's value belongs to a complex branch of f and those entries are NaN", strict, stacklevel=5)
        mask = outside.reshape((count,) + (1,) * (result.value.ndim - 1))
        result.value = np.where(mask, np.nan, result.value)
        result.error = np.where(mask, np.nan, result.error)
        result.status = np.where(outside, "nonfinite", result.status).astype(object)
        return result, "complex", "nonfinite"
    eps = lanes.eps
    with np.errstate(all="ignore"):
        size = np.abs(real_center)
        floor = eps * (np.max(size) if size.size else 0.0) + np.finfo(float).tiny
        imaginary = np.abs(np.imag(real_center)) > np.sqrt(eps) * size + floor
        jump = np.abs(complex_center - np.real(real_center)) > np.sqrt(eps) * (size + np.abs(complex_center)) + floor
    if not np.any(imaginary | jump):
        return None
    reason = ("f returns complex values at real x" if np.any(imaginary) else
              "Re f(x + ih) differs from f(x), so x sits on a branch cut or a jump of f")
    report_problem(
        f"{what}: {reason}; the complex step needs an f that is real and analytic on the real axis; "
        f"returning central differences instead", strict, stacklevel=5)
    fallback = differentiate_lanes(lanes, n=1, method="central", order=2, want_error=True)
    return fallback, "central", "not real-valued"


def _estimate_noise(lanes, center, seed=0):
    """Noise per lane (elementwise) or one level shared by all lanes (directions)."""
    scale = lanes.scale()
    eps = lanes.eps
    points = 9
    offsets = np.arange(points) - points // 2
    spacing = 1e-4
    for _attempt in range(4):
        if isinstance(lanes, ElementwiseLanes):
            samples = np.stack([np.asarray(lanes.values(lanes.represent(o * spacing * scale)), float) for o in offsets])
        else:
            direction = np.random.default_rng(seed).choice([-1.0, 1.0], size=lanes.x.shape) * \
                np.where(np.abs(lanes.x) > 0, np.abs(lanes.x), 1.0)
            samples = np.stack([np.asarray(lanes.evaluator.one((lanes.x + o * spacing * direction).astype(lanes.x.dtype)), float)
                                for o in offsets])
        sigma, detected = difference_table_noise(samples)
        if np.all(detected):
            break
        spacing = spacing * 100 if np.all(np.ptp(samples, axis=0) == 0) else spacing / 100
    floor = eps * np.abs(center if isinstance(lanes, ElementwiseLanes) else center[0])
    sigma = np.where(np.isfinite(sigma), np.maximum(sigma, floor), floor)
    if not isinstance(lanes, ElementwiseLanes):
        sigma = np.broadcast_to(sigma, center.shape)
    return sigma


def run(lanes, *, n=1, method="central", order=2, step=None, extrapolate=False, absolute=False,
        noise=None, want_error=False, strict=False, check=True, probe=True, what="derivative"):
    """Differentiate along all lanes; returns (LaneResult, method used, status)."""
    check_options(method, order, n, noise)
    center = None
    if method == "complex":
        if lanes.x.dtype.kind == "c":
            raise ValueError(
                f"method='complex' needs a real x, got dtype {lanes.x.dtype}: the complex step uses the "
                f"imaginary part of x itself; use method='central', which differentiates along the real "
                f"axis (f'(x) for a holomorphic f)")
        result, center = complex_step_lanes(lanes, step=step, absolute=absolute)
        status = "ok"
        if probe:
            real_center = np.asarray(lanes.values(np.zeros(lanes.count)))
            problem = _off_the_real_line(lanes, result, real_center, center, what, strict)
            if problem is not None:
                return problem
            center = real_center.real
        if probe and np.all(np.isfinite(result.value)):
            with np.errstate(all="ignore"):
                consistent, _ = _probe(lanes, result.value, center, lanes.eps)
            fallback = None
            if not consistent:
                # a fixed real step can alias (sin at 1e6): confirm with the step search first
                fallback = differentiate_lanes(lanes, n=n, method="central", order=2, want_error=True)
                with np.errstate(all="ignore"):
                    agree = np.abs(fallback.value - result.value.real) <= (
                        10 * fallback.error + 1e-6 * np.abs(fallback.value))
                consistent = bool(np.all(agree | ~np.isfinite(fallback.error)))
            if not consistent:
                imaginary = lanes.values(1j * result.step)
                if np.all(np.asarray(imaginary).imag == 0):
                    raise ValueError(
                        "method='complex': f returns a zero imaginary part although its real "
                        "values change with x, so it drops the imaginary part (abs, .real, "
                        "float casts ...); use method='central'")
                report_problem(
                    f"{what}: the complex step disagrees with a real-step difference, so f is not "
                    f"complex-analytic near x (abs, maximum, comparisons, conj ...); returning "
                    f"central differences instead", strict, stacklevel=4)
                return fallback, "central", "not analytic"
        if np.any(result.status == "nonfinite"):
            # f(x + ih) overflowed (sin at 1e300: the step ih is 1e268) or f is not finite near x
            report_problem(f"{what}: f(x + ih) is NaN or infinite for some components (the complex step "
                           f"overflowed, or f is not finite near x); those entries are not reliable: use "
                           f"method='central'", strict, stacklevel=4)
            status = "nonfinite"
        return result, "complex", status
    if check or noise is not None or extrapolate:
        center = np.asarray(lanes.values(np.zeros(lanes.count)))
    if isinstance(noise, str):
        noise = _estimate_noise(lanes, center)
    elif noise is not None:
        noise = np.asarray(noise, dtype=float)
        if np.any(noise < 0) or not np.all(np.isfinite(noise)):
            raise ValueError(f"noise must be a finite nonnegative level, got {noise}")
    if extrapolate:
        result = extrapolate_lanes(lanes, n=n, method=method, order=order, step=step,
                                   absolute=absolute, noise=noise, center=center)
        limit = np.sqrt(lanes.eps) * np.abs(result.value)
        if step is None and np.any(~(result.error <= limit)):
            # the tableau did not converge (a step far too large for f): validate a step first
            backup = differentiate_lanes(lanes, n=n, method=method, order=order, noise=noise,
                                         want_error=True, check=True, center=center)
            better = backup.error < result.error
            result.value = np.where(better, backup.value, result.value)
            result.error = np.where(better, backup.error, result.error)
    else:
        result = differentiate_lanes(lanes, n=n, method=method, order=order, step=step,
                                     absolute=absolute, noise=noise, want_error=want_error or strict,
                                     check=check, center=center)
    status = _summarize(result, lanes.eps, what, strict)
    return result, method, status


def _summarize(result, eps, what, strict):
    statuses = set(result.status)
    if "cramped" in statuses:
        lane = int(np.flatnonzero(result.status == "cramped")[0])
        report_problem(
            f"{what}: the bounds leave room only for a step of {result.step[lane]:.3g} at lane/entry {lane}, "
            f"so small that f's rounding error (about {np.max(result.error[lane]):.3g} in the derivative) "
            f"swamps the difference; the value is not reliable: widen the bounds", strict, stacklevel=5)
        return "inaccurate"
    if "unreliable" in statuses:
        lane = int(np.flatnonzero(result.status == "unreliable")[0])
        report_problem(
            f"{what}: at lane/entry {lane} the estimates at different steps contradict each other's error "
            f"bounds (f oscillates or is noisy on the scale of the steps, or x is so large that only coarse "
            f"steps are representable); the value and its error bound are unreliable", strict, stacklevel=5)
        return "unreliable"
    if "nonfinite" in statuses:
        report_problem(f"{what}: f is NaN or infinite at every step tried for some components; "
                       f"those entries are NaN", strict, stacklevel=5)
        return "nonfinite"
    if result.error is not None:
        value = np.abs(result.value)
        scale = np.nanmax(value) if value.size else 0.0
        with np.errstate(invalid="ignore"):
            limit = eps ** 0.25 * np.maximum(value, eps ** 0.25 * scale)
            untrusted = (result.error > limit) & ((value > 0) | (scale > 0))
        if np.any(untrusted):
            worst = np.unravel_index(np.nanargmax(np.where(untrusted, result.error / np.maximum(limit, 1e-300), 0)), value.shape)
            report_problem(
                f"{what}: the estimated error {result.error[worst]:.3g} at lane/entry {tuple(int(i) for i in worst)} "
                f"is large against the value {result.value[worst]:.3g}; f may be noisy (try "
                f"noise='estimate'), non-smooth, or badly scaled there", strict, stacklevel=5)
            return "inaccurate"
    return "one-sided" if "one-sided" in statuses else "ok"


def output_dtype(x, evaluator, value=None):
    """The precision of x and of f's values; complex when the derivative is (complex f, or complex x)."""
    kinds = [x.dtype]
    if evaluator.output_dtype is not None and evaluator.output_dtype.kind in "fc":
        kinds.append(np.finfo(evaluator.output_dtype).dtype)
    dtype = np.result_type(*[np.finfo(k).dtype for k in kinds])
    if value is not None and np.iscomplexobj(value):
        dtype = np.result_type(dtype, np.complex64)
    return dtype


def with_args(f, args, kwargs):
    if not args and not kwargs:
        return f
    return lambda x: f(x, *args, **(kwargs or {}))


def derivative(f, x, *, method="central", step=None, order=2, n=1, extrapolate=False,
               bounds=None, return_info=False, strict=False, absolute=False, noise=None,
               vectorized=False, workers=None, probe=True, args=(), kwargs=None):
    """Derivative of order ``n`` of an elementwise function f at x (any shape).

    For array x, f must act elementwise (f(x).shape == x.shape); for scalar x, f may
    return any shape. The step adapts to f; ``return_info=True`` adds an error bound.
    A complex x is differentiated along the real axis (f'(x) for a holomorphic f) and a
    complex-valued f keeps its imaginary part; ``method='complex'`` needs a real x and an f
    that is real on the real axis (outside f's real domain the result is NaN, with a warning).

    >>> import numpy as np
    >>> round(float(derivative(np.exp, 0.0)), 9)
    1.0
    >>> value, info = derivative(np.log, 1e-7, bounds=(0, np.inf), return_info=True)
    >>> bool(abs(value * 1e-7 - 1) < 1e-9), bool(info.error < 1e-8 * value)
    (True, True)
    >>> print(np.round(derivative(np.sin, np.array([0.0, np.pi]), method="complex"), 12))
    [ 1. -1.]
    """
    x = as_point(x)
    lower, upper = split_bounds(bounds)
    evaluator = Evaluator(with_args(f, args, kwargs), x, vectorized=vectorized, workers=workers)
    lanes = ElementwiseLanes(evaluator, x, lower, upper)
    result, used, status = run(lanes, n=n, method=method, order=order, step=step,
                               extrapolate=extrapolate, absolute=absolute, noise=noise,
                               want_error=return_info, strict=strict, probe=probe)
    dtype = output_dtype(x, evaluator, result.value)
    if x.ndim == 0:
        value = result.value[0]
        error = None if result.error is None else result.error[0]
        step_used = result.step[0]
    else:
        value = result.value.reshape(x.shape)
        error = None if result.error is None else result.error.reshape(x.shape)
        step_used = result.step.reshape(x.shape)
    value = np.asarray(value).astype(dtype)
    if not return_info:
        return value[()] if value.ndim == 0 else value
    if error is None:
        error = np.full(np.shape(value), np.nan)
    info = FiniteDifferenceInfo(np.asarray(error, dtype=float), evaluator.nfev, step_used, used, status)
    return (value[()] if value.ndim == 0 else value), info
