"""``check_grad``: compare an analytic gradient with finite differences, give a verdict, and
locate a wrong component by random directions, bisection and a Taylor-remainder test."""
from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from .evaluation import as_point
from .multivariate import gradient, jvp

__all__ = ["CheckGradReport", "check_grad"]

FULL_CHECK_SIZE = 16


@dataclass
class CheckGradReport:
    """Verdict of :func:`check_grad`.

    ok: no component disagrees beyond the finite-difference error bound; max_rel_error:
    largest relative disagreement seen; worst_index: index (into x) of the most wrong
    component, or None; taylor_slope: how the remainder f(x+hd) - f(x) - h<g,d> shrinks
    (2 for a right gradient, 1 for a wrong one); directional_checks: directional
    derivatives computed.
    """

    ok: bool
    max_rel_error: float
    worst_index: tuple | None
    analytic: float | None = None
    numeric: float | None = None
    tolerance: float | None = None
    taylor_slope: float | None = None
    directional_checks: int = 0
    nfev: int = 0
    notes: list = field(default_factory=list)

    def __bool__(self):
        return bool(self.ok)

    def __str__(self):
        lines = [f"check_grad: {'OK' if self.ok else 'GRADIENT MISMATCH'}"
                 f" (max relative error {self.max_rel_error:.3g})"]
        if self.worst_index is not None:
            lines.append(f"  worst component x{list(self.worst_index)}: analytic {self.analytic:.10g}, "
                         f"finite differences {self.numeric:.10g} (tolerance {self.tolerance:.3g})")
        if self.taylor_slope is not None:
            lines.append(f"  Taylor remainder slope {self.taylor_slope:.2f} (2 = consistent, 1 = wrong)")
        lines.append(f"  {self.directional_checks} directional checks, {self.nfev} calls of f")
        lines.extend(f"  {note}" for note in self.notes)
        return "\n".join(lines)


class _Counted:
    """f with f(x) cached and calls counted across all the checks."""

    def __init__(self, f, x):
        self.f, self.x_key, self.calls, self.center = f, x.tobytes(), 0, None
        self.not_finite = None  # the first point where f was NaN or infinite

    def __call__(self, y):
        y = np.asarray(y)
        if y.dtype.kind != "c" and y.tobytes() == self.x_key and self.center is not None:
            return self.center
        self.calls += 1
        value = self.f(y)
        if self.not_finite is None and not np.all(np.isfinite(value)):
            self.not_finite = y.copy()
        if y.dtype.kind != "c" and y.tobytes() == self.x_key:
            self.center = value
        return value


def check_grad(f, grad_f, x, *, rtol=None, seed=0, directions=2, args=(), kwargs=None):
    """Check ``grad_f(x)`` against finite differences of f; returns a CheckGradReport.

    Tolerances come from the finite-difference error bound (no fixed atol). Up to 16
    components are checked one by one; larger x gets random directional checks and, on a
    mismatch, bisection over blocks (about log2(n) + 3 directional derivatives).

    >>> import numpy as np
    >>> f = lambda x: np.sum(np.sin(x) * x)
    >>> good = lambda x: np.sin(x) + x * np.cos(x)
    >>> bool(check_grad(f, good, np.linspace(0.1, 2, 5)).ok)
    True
    >>> bad = lambda x: np.sin(x) + x * np.cos(x) + (np.arange(x.size) == 3)
    >>> report = check_grad(f, bad, np.linspace(0.1, 2, 5))
    >>> report.ok, report.worst_index
    (False, (3,))
    """
    x = as_point(x)
    if args or kwargs:
        user_f, user_grad = f, grad_f
        f = lambda y: user_f(y, *args, **(kwargs or {}))
        grad_f = lambda y: user_grad(y, *args, **(kwargs or {}))
    counted = _Counted(f, x)
    g = np.asarray(grad_f(x))
    if g.shape != x.shape:
        raise ValueError(f"grad_f(x) must have x's shape {x.shape}, got {g.shape}")
    if not np.all(np.isfinite(g)):
        bad = tuple(int(i) for i in np.argwhere(~np.isfinite(g))[0]) if g.ndim else ()
        return CheckGradReport(False, np.inf, bad, notes=["grad_f(x) is not finite there"])
    g = g.astype(float)
    f0 = np.asarray(counted(x))
    if f0.shape != ():
        raise ValueError(f"check_grad needs a scalar f, but f(x) has shape {f0.shape}")
    eps = max(float(np.finfo(x.dtype).eps),
              float(np.finfo(g.dtype if np.asarray(grad_f(x)).dtype.kind == "f" else float).eps),
              float(np.finfo(f0.dtype).eps) if f0.dtype.kind == "f" else 0.0)
    scale = np.where(np.abs(x) > 0, np.abs(x), 1.0).astype(float)
    if not np.isfinite(f0):
        return CheckGradReport(False, np.nan, None, nfev=counted.calls,
                               notes=[f"f(x) is {f0}: there is no derivative to compare at this point"])
    if x.size <= FULL_CHECK_SIZE:
        report = _check_components(counted, x, g, scale, eps, rtol)
    else:
        report = _check_directions(counted, x, g, scale, eps, rtol, seed, directions)
    if counted.not_finite is not None:  # a difference quotient crossed a singularity or left the domain
        return replace(report, ok=False, notes=report.notes + [
            f"f is NaN or infinite at a point the differences evaluated ({counted.not_finite}), so they cannot "
            f"confirm the gradient; check near a singularity or domain edge with a smaller step or another point"])
    return report


def _tolerance(fd_error, analytic_terms, eps):
    # the analytic gradient carries its own rounding (float32!), on the scale of its terms
    return 10 * fd_error + 100 * eps * analytic_terms


def _taylor_slope(f, x, d, slope_value, f0, eps):
    """Order of the remainder f(x + h d) - f(x) - h <g, d> as h halves (2: right, 1: wrong)."""
    remainders, steps = [], []
    for k in range(4):
        h = eps ** 0.25 * 2.0 ** -k
        point = (x + h * d).astype(x.dtype)
        remainders.append(abs(float(f(point)) - float(f0) - h * slope_value))
        steps.append(h)
    noise = 10 * eps * max(abs(float(f0)), 1e-300)
    if remainders[-1] <= noise or remainders[0] <= noise:
        return None
    return float(np.log(remainders[0] / remainders[-1]) / np.log(steps[0] / steps[-1]))


def _check_components(f, x, g, scale, eps, rtol):
    numeric, info = gradient(f, x, return_info=True)
    numeric = numeric.astype(float)
    error = np.where(np.isnan(info.error), np.inf, info.error)
    terms = np.abs(g) + np.abs(numeric) + np.sum(np.abs(g * scale)) / scale / x.size
    tolerance = _tolerance(error, terms, eps)
    mismatch = np.abs(g - numeric)
    relative = mismatch / np.maximum(np.maximum(np.abs(numeric), np.abs(g)), np.finfo(float).tiny)
    flagged = mismatch > tolerance
    if rtol is not None:
        flagged &= relative > rtol
    worst = np.unravel_index(np.argmax(mismatch / np.maximum(tolerance, np.finfo(float).tiny)), x.shape)
    report = CheckGradReport(not np.any(flagged), float(np.max(relative)) if relative.size else 0.0,
                             None, directional_checks=x.size, nfev=f.calls)
    if np.any(flagged):
        worst = np.unravel_index(np.argmax(np.where(flagged, mismatch / tolerance, 0)), x.shape)
        d = np.zeros(x.shape)
        d[worst] = scale[worst]
        slope = _taylor_slope(f, x, d, float(g[worst] * scale[worst]), f(x), eps)
        marginal = mismatch[worst] <= 100 * tolerance[worst]
        if slope is not None and slope > 1.7 and marginal:
            report.notes.append("finite differences disagree but the Taylor remainder shrinks like "
                                "h^2: treating the gradient as correct (f may be noisy)")
            report.ok = True
            report.taylor_slope = slope
        else:
            report.worst_index = tuple(int(i) for i in worst)
            report.analytic, report.numeric = float(g[worst]), float(numeric[worst])
            report.tolerance = float(tolerance[worst])
            report.taylor_slope = slope
            report.max_rel_error = float(relative[worst])
    report.nfev = f.calls
    return report


def _directional(f, x, g, d, eps):
    """(analytic - numeric, tolerance, analytic, numeric) for direction d."""
    numeric, info = jvp(f, x, d, return_info=True, probe=False)
    numeric = float(numeric)
    error = float(info.error) if np.isfinite(info.error) else np.inf
    analytic = float(np.sum(g * d))
    terms = float(np.sum(np.abs(g * d)))
    return analytic - numeric, _tolerance(error, terms + abs(numeric), eps), analytic, numeric


def _check_directions(f, x, g, scale, eps, rtol, seed, directions):
    rng = np.random.default_rng(seed)
    report = CheckGradReport(True, 0.0, None)
    checks = 0
    signs = None
    for _ in range(directions):
        signs = rng.choice([-1.0, 1.0], size=x.shape)
        d = signs * scale
        difference, tolerance, analytic, numeric = _directional(f, x, g, d, eps)
        checks += 1
        relative = abs(difference) / max(abs(analytic), abs(numeric), float(np.sum(np.abs(g * d))), 1e-300)
        report.max_rel_error = max(report.max_rel_error, relative)
        flagged = abs(difference) > tolerance and (rtol is None or relative > rtol)
        if flagged:
            slope = _taylor_slope(f, x, d, analytic, f(x), eps)
            checks += 0
            # the Taylor test only overrules a marginal disagreement: a small gradient error
            # hides under the h^2 term, so a clear one must stand
            if slope is not None and slope > 1.7 and abs(difference) <= 100 * tolerance:
                report.notes.append("a directional check disagreed but the Taylor remainder shrinks "
                                    "like h^2: not reported as an error (f may be noisy)")
                continue
            report.ok = False
            report.taylor_slope = slope
            break
    if report.ok:
        report.directional_checks, report.nfev = checks, f.calls
        return report
    # bisection: the mismatch is linear in d, so a block's mismatch is the sum of its halves'
    block = np.arange(x.size)
    block_difference, block_tolerance = difference, tolerance
    flat_signs = signs.ravel()
    flat_scale = scale.ravel()
    while block.size > 1:
        left = block[: block.size // 2]
        d = np.zeros(x.size)
        d[left] = flat_signs[left] * flat_scale[left]
        left_difference, left_tolerance, _, _ = _directional(f, x, g, d.reshape(x.shape), eps)
        checks += 1
        right_difference = block_difference - left_difference
        right_tolerance = block_tolerance + left_tolerance
        if abs(left_difference) / left_tolerance >= abs(right_difference) / right_tolerance:
            block, block_difference, block_tolerance = left, left_difference, left_tolerance
        else:
            block, block_difference, block_tolerance = block[block.size // 2:], right_difference, right_tolerance
    index = np.unravel_index(int(block[0]), x.shape)
    d = np.zeros(x.shape)
    d[index] = 1.0
    difference, tolerance, analytic, numeric = _directional(f, x, g, d, eps)
    checks += 1
    report.worst_index = tuple(int(i) for i in index)
    report.analytic, report.numeric, report.tolerance = analytic, numeric, tolerance
    report.max_rel_error = abs(difference) / max(abs(numeric), abs(analytic), 1e-300)
    report.directional_checks, report.nfev = checks, f.calls
    return report
