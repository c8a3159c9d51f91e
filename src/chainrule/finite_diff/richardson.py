"""Ridders-style Richardson extrapolation over a shrinking step, with a per-lane error
estimate and early exit (``extrapolate=True`` in chainrule.fd)."""
from __future__ import annotations

import numpy as np

from .adaptive import (LaneResult, evaluate_level, fit_kinds, repair_nonfinite, stencil_family,
                       _initial_step, _lane_norm)

__all__ = ["extrapolate_lanes"]

SHRINK = 2.0
MAX_LEVELS = 8


def extrapolate_lanes(lanes, *, n=1, method="central", order=2, step=None, absolute=False,
                      noise=None, center=None):
    """Neville tableau of D(h0 / 2**i); stops per lane when the estimated error reaches rounding.

    The error of the diagonal entry is the last correction scaled by how fast corrections
    shrink (a geometric tail), plus the rounding bound of the combined stencil.
    """
    eps = lanes.eps
    count = lanes.count
    family = stencil_family(method, n, order)
    main = family[method]
    h0 = lanes.represent(_initial_step(lanes, main, n, step, absolute, noise, center, extrapolate=True))
    h0 = np.where(h0 > 0, h0, lanes.scale() * eps)
    kinds, h0 = fit_kinds(lanes, family, method, h0)
    active = np.ones(count, dtype=bool)
    level = evaluate_level(lanes, family, kinds, h0, active, n, noise, eps)
    kinds, h0, level = repair_nonfinite(lanes, family, kinds, h0, level, n, noise, eps)
    estimate, rounding, finite = level[0], level[1], level[2]
    coarse = _beyond_scale(family, kinds, h0, level, center, n)
    status = np.where(finite, np.where(kinds == method, "ok", "one-sided"), "nonfinite").astype(object)
    rows = [[[estimate[l]]] for l in range(count)]
    round_rows = [[[rounding[l]]] for l in range(count)]
    best = estimate.copy()
    best_error = np.full(estimate.shape, np.inf)
    best_step = h0.copy()
    previous_error = [None] * count
    active = finite.copy()
    for i in range(1, MAX_LEVELS):
        if not np.any(active):
            break
        h = lanes.represent(h0 / SHRINK ** i)
        level = evaluate_level(lanes, family, kinds, h, active, n, noise, eps)
        estimate, rounding, finite = level[0], level[1], level[2]
        if i == 1:
            coarse |= active & _beyond_scale(family, kinds, h, level, center, n)
        for lane in np.flatnonzero(active):
            if not finite[lane]:
                active[lane] = False
                continue
            stencil = family[kinds[lane]]
            row, round_row = [estimate[lane]], [rounding[lane]]
            above, round_above = rows[lane][-1], round_rows[lane][-1]
            for j in range(1, i + 1):
                factor = SHRINK ** (stencil.accuracy + (j - 1) * stencil.gap)
                row.append((factor * row[j - 1] - above[j - 1]) / (factor - 1))
                round_row.append((factor * round_row[j - 1] + round_above[j - 1]) / (factor - 1))
            rows[lane].append(row)
            round_rows[lane].append(round_row)
            corrections = [np.abs(row[j] - row[j - 1]) for j in range(1, i + 1)]
            last = corrections[-1]
            if i >= 2:
                before = corrections[-2]
                with np.errstate(all="ignore"):
                    # trust a geometric tail only while corrections shrink fast
                    tail = np.where((before > 0) & (last < before / 4), np.minimum(last, 10 * last * last / before), last)
            else:
                tail = last
            error = tail + round_row[-1]
            better = error < best_error[lane]
            best[lane] = np.where(better, row[-1], best[lane])
            best_error[lane] = np.where(better, error, best_error[lane])
            if np.any(better):
                best_step[lane] = h[lane]
            total, floor = _lane_norm(error[None])[0], _lane_norm(round_row[-1][None])[0]
            if i >= 2 and (total <= 2 * floor or
                           (previous_error[lane] is not None and total > 4 * previous_error[lane])):
                active[lane] = False
            previous_error[lane] = min(total, previous_error[lane]) if previous_error[lane] is not None else total
    if step is None:
        # a tableau built on steps beyond f's scale converges to a wrong value with a tiny error
        # estimate (sin at 1e12: steps of 1e9 alias the oscillation); say so, so the caller validates a step
        best_error[coarse] = np.inf
    return LaneResult(best, best_error, best_step, kinds, status)


def _beyond_scale(family, kinds, h, level, center, n):
    """Per lane: the next derivative times h is not small against the derivative at this step, so
    the step is far outside the range where the tableau's error model holds."""
    from .stencils import fornberg_weights
    estimate, values = level[0], level[3]
    count = len(h)
    coarse = np.zeros(count, dtype=bool)
    if center is None:
        return coarse
    for lane in range(count):
        stencil = family[kinds[lane]]
        nodes = [float(o) for o in stencil.offsets]
        samples = list(values[lane, :len(nodes)])
        if 0.0 not in nodes:
            nodes.append(0.0)
            samples.append(center[lane])
        if len(nodes) < n + 2:
            continue
        higher = fornberg_weights(nodes, n + 1)
        with np.errstate(all="ignore"):
            next_times_h = sum(float(w) * sample for w, sample in zip(higher, samples)) / h[lane] ** n
            size = _lane_norm(np.atleast_1d(estimate[lane])[None])[0]
            change = _lane_norm(np.atleast_1d(next_times_h)[None])[0]
        coarse[lane] = bool(change > 0.5 * size)
    return coarse
