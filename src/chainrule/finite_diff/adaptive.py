"""Step policy and error estimate: scale-aware first step, cheap consistency checks, and a
step search that walks until truncation and rounding balance (chainrule.fd's core)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .stencils import make_stencil

__all__ = ["LaneResult", "differentiate_lanes", "evaluate_level", "stencil_family", "fit_kinds"]

STEP_RATIO = 2.0
# Each evaluation of f carries a few units of rounding: not one, since f is a compound formula.
ROUNDING_UNITS = 4.0
SAFETY = 3.0
MAX_WALK = 32


@dataclass
class LaneResult:
    value: np.ndarray
    error: np.ndarray | None
    step: np.ndarray
    kinds: np.ndarray
    status: np.ndarray


def stencil_family(method, n, order):
    """The requested stencil and the one-sided fallbacks of the same accuracy."""
    family = {"central": None, "forward": None, "backward": None}
    central_order = order + (order % 2)
    family["central"] = make_stencil("central", n, central_order)
    family["forward"] = make_stencil("forward", n, order)
    family["backward"] = make_stencil("backward", n, order)
    return family


def _reach(stencil):
    return min(stencil.offsets), max(stencil.offsets)


def fit_kinds(lanes, family, preferred, h):
    """Per lane, a stencil kind and step that keep every point inside the bounds."""
    lower_t, upper_t = lanes.limits()
    kinds = np.full(len(h), preferred, dtype=object)
    h = h.copy()
    order_of_preference = [preferred] + [k for k in ("central", "forward", "backward") if k != preferred]
    for lane in range(len(h)):
        for kind in order_of_preference:
            low, high = _reach(family[kind])
            if low * h[lane] >= lower_t[lane] and high * h[lane] <= upper_t[lane]:
                kinds[lane] = kind
                break
        else:
            # no stencil fits at this step: shrink it into the larger free side
            if upper_t[lane] >= -lower_t[lane]:
                kind, room = "forward", upper_t[lane]
            else:
                kind, room = "backward", -lower_t[lane]
            if room <= 0:
                raise ValueError(
                    f"component {lane} of x sits on both bounds (no room to take a step); "
                    f"widen the bounds")
            low, high = _reach(family[kind])
            kinds[lane] = kind
            h[lane] = 0.999 * room / max(abs(low), abs(high))
    return kinds, lanes.represent(h)


def evaluate_level(lanes, family, kinds, h, active, n, noise, eps, sign=1.0):
    """Stencil estimates D, their rounding bound r, and a finiteness flag, at steps h.

    Values come back padded to the widest stencil of the family (unused points hold 0).
    """
    count = lanes.count
    width = max(len(s.offsets) for s in family.values())
    offsets = np.zeros((count, width))
    weights = np.zeros((count, width))
    for lane in np.flatnonzero(active):
        stencil = family[kinds[lane]]
        offsets[lane, :len(stencil.offsets)] = [float(o) for o in stencil.offsets]
        weights[lane, :len(stencil.weights)] = [float(w) for w in stencil.weights]
    requests, where = [], []
    for j in range(width):
        needed = active & (weights[:, j] != 0)
        if np.any(needed):
            requests.append((sign * np.where(needed, offsets[:, j] * h, 0.0), needed))
            where.append(j)
    answers = lanes.values_many(requests)
    columns = [None] * width
    for j, answer in zip(where, answers):
        columns[j] = np.asarray(answer)
    template = next(c for c in columns if c is not None)
    columns = [np.zeros_like(template) if c is None else c for c in columns]
    values = np.stack(columns, axis=1).astype(np.result_type(float, *[c.dtype for c in columns]))
    extra = (1,) * (values.ndim - 2)
    scaled = h.reshape((count,) + extra) ** n
    with np.errstate(all="ignore"):
        estimate = np.einsum("lj,lj...->l...", weights, values) / scaled
        point_noise = ROUNDING_UNITS * eps * np.abs(values)
        if noise is not None:
            floor = np.broadcast_to(np.asarray(noise, dtype=float), (count,) + values.shape[2:])
            point_noise = np.maximum(point_noise, floor[:, None])
        rounding = np.einsum("lj,lj...->l...", np.abs(weights), point_noise) / scaled
    used = weights.reshape(weights.shape + extra) != 0
    finite = np.all(np.isfinite(values) | ~used, axis=tuple(range(1, values.ndim)))
    return estimate, rounding, finite, values, offsets


def _lane_norm(array):
    array = np.abs(array)
    return array.reshape(array.shape[0], -1).sum(axis=1) if array.ndim > 1 else array


class _Levels:
    """For each lane, the estimates at every step tried so far, sorted by step."""

    def __init__(self, count):
        self.steps = [[] for _ in range(count)]
        self.estimates = [[] for _ in range(count)]
        self.roundings = [[] for _ in range(count)]

    def add(self, lane, h, estimate, rounding):
        position = np.searchsorted(self.steps[lane], h)
        self.steps[lane].insert(position, h)
        self.estimates[lane].insert(position, estimate)
        self.roundings[lane].insert(position, rounding)

    def errors(self, lane, accuracy, raw=False):
        """Error bound of each level from its larger-step neighbour (3x the Richardson estimate),
        raised where smaller steps contradict it (``raw=True``: before that)."""
        steps, estimates, roundings = self.steps[lane], self.estimates[lane], self.roundings[lane]
        result = []
        for k in range(len(steps)):
            if len(steps) == 1:
                result.append(np.full_like(np.abs(estimates[k]), np.inf))
                continue
            if k + 1 < len(steps):
                ratio = (steps[k + 1] / steps[k]) ** accuracy
                gap = np.abs(estimates[k + 1] - estimates[k]) / (ratio - 1)
            else:
                ratio = (steps[k] / steps[k - 1]) ** accuracy
                gap = np.abs(estimates[k] - estimates[k - 1]) * ratio / (ratio - 1)
            result.append(SAFETY * gap + roundings[k])
        return result if raw else self._consistent(lane, result)

    def _consistent(self, lane, errors):
        """Raise each bound that the estimates at smaller steps contradict.

        Two valid bounds cover the gap between their estimates. Neighbouring levels can agree by
        accident far from the asymptotic range (an oscillation aliased by large steps: sin at 1e12
        gave 1e-7 for a true error of 0.8), so a larger step's bound must also cover its distance
        from every smaller step's estimate, less that estimate's own bound.
        """
        estimates = self.estimates[lane]
        adjusted = []
        with np.errstate(invalid="ignore"):
            for k, bound in enumerate(errors):
                for j in range(k):
                    bound = np.fmax(bound, np.abs(estimates[j] - estimates[k]) - adjusted[j])
                adjusted.append(bound)
        return adjusted

    def best(self, lane, accuracy):
        errors = np.stack(self.errors(lane, accuracy))
        estimates = np.stack(self.estimates[lane])
        with np.errstate(invalid="ignore"):
            errors = np.where(np.isnan(errors), np.inf, errors)
        choice = np.argmin(errors, axis=0)
        pick = lambda table: np.take_along_axis(table, choice[None], axis=0)[0]
        steps = np.asarray(self.steps[lane])
        # report the step that served most entries
        chosen_step = steps[np.bincount(np.ravel(choice), minlength=len(steps)).argmax()]
        return pick(estimates), pick(errors), chosen_step

    def contradicted(self, lane, accuracy):
        """True when the best level's own Richardson bound was contradicted by smaller steps: the
        estimates do not converge like a smooth f's, so even the raised bound may be optimistic."""
        adjusted = np.stack(self.errors(lane, accuracy))
        raw = np.stack(self.errors(lane, accuracy, raw=True))
        with np.errstate(invalid="ignore"):
            adjusted = np.where(np.isnan(adjusted), np.inf, adjusted)
            choice = np.argmin(adjusted, axis=0)
            pick = lambda table: np.take_along_axis(table, choice[None], axis=0)[0]
            return bool(np.any(pick(adjusted) > 2 * pick(raw)))


def _initial_step(lanes, stencil, n, step, absolute, noise, center, extrapolate):
    scale = lanes.scale()
    count = lanes.count
    if step is not None:
        step = np.broadcast_to(np.asarray(step, dtype=float), lanes.x.shape).ravel() if lanes.count == lanes.x.size \
            else np.broadcast_to(np.asarray(step, dtype=float), (count,))
        if np.any(~np.isfinite(step)) or np.any(step <= 0):
            raise ValueError(f"step must be positive and finite, got {step}")
        return step.astype(float) if absolute else step * scale
    eps = lanes.eps
    power = n + stencil.accuracy + (2 * stencil.gap if extrapolate else 0)
    if noise is not None and center is not None:
        magnitude = np.maximum(_lane_norm(center) / max(1, center[0].size), np.finfo(float).tiny)
        relative = np.clip(_lane_norm(np.broadcast_to(noise, center.shape)) / max(1, center[0].size) / magnitude, eps, 0.1)
        return scale * relative ** (1.0 / power)
    return scale * eps ** (1.0 / power)


def repair_nonfinite(lanes, family, kinds, h, level, n, noise, eps, sign=1.0):
    """Switch sides where f is NaN/inf on one side (a domain edge); else shrink the step."""
    estimate, rounding, finite, values, offsets = level
    lower_t, upper_t = lanes.limits()
    for _attempt in range(6):
        bad = ~finite
        if not np.any(bad):
            break
        for lane in np.flatnonzero(bad):
            lane_values = values[lane].reshape(values.shape[1], -1)
            ok = np.all(np.isfinite(lane_values), axis=1)
            positive = offsets[lane] > 0
            negative = offsets[lane] < 0
            positive_ok = np.all(ok[positive])
            negative_ok = np.all(ok[negative])
            low_b, _ = _reach(family["backward"])
            _, high_f = _reach(family["forward"])
            if kinds[lane] == "central" and negative_ok and not positive_ok and low_b * h[lane] >= lower_t[lane]:
                kinds[lane] = "backward"
            elif kinds[lane] == "central" and positive_ok and not negative_ok and high_f * h[lane] <= upper_t[lane]:
                kinds[lane] = "forward"
            else:
                h[lane] = h[lane] / 100.0
        h = lanes.represent(h)
        new = evaluate_level(lanes, family, kinds, h, bad, n, noise, eps, sign)
        mask = lambda a: bad.reshape(bad.shape + (1,) * (np.ndim(a) - 1))
        estimate = np.where(mask(estimate), new[0], estimate)
        rounding = np.where(mask(rounding), new[1], rounding)
        finite = np.where(bad, new[2], finite)
        values = np.where(mask(values), new[3], values)
        offsets = np.where(mask(offsets), new[4], offsets)
    return kinds, h, (estimate, rounding, finite, values, offsets)


def differentiate_lanes(lanes, *, n=1, method="central", order=2, step=None, absolute=False,
                        noise=None, want_error=False, check=True, center=None):
    """Derivative of order n along every lane, with an error bound when ``want_error``.

    ``center`` holds f at t = 0 per lane when already known (it drives the cheap checks).
    """
    eps = lanes.eps
    count = lanes.count
    family = stencil_family(method, n, order)
    main = family[method]
    if check and center is None:
        center = np.asarray(lanes.values(np.zeros(count)))
    h0 = _initial_step(lanes, main, n, step, absolute, noise, center, extrapolate=False)
    h0 = lanes.represent(h0)
    h0 = np.where(h0 > 0, h0, lanes.scale() * eps)
    wanted = h0
    kinds, h0 = fit_kinds(lanes, family, method, h0)
    squeezed = h0 < wanted / 2  # the bounds forced a smaller step than f's scale asks for
    everyone = np.ones(count, dtype=bool)
    level = evaluate_level(lanes, family, kinds, h0, everyone, n, noise, eps)
    kinds, h0, level = repair_nonfinite(lanes, family, kinds, h0, level, n, noise, eps)
    estimate, rounding, finite, values, offsets = level
    finite = np.all(np.isfinite(estimate).reshape(count, -1), axis=1)
    status = np.where(finite, np.where(kinds == method, "ok", "one-sided"), "nonfinite").astype(object)

    levels = _Levels(count)
    for lane in range(count):
        levels.add(lane, h0[lane], estimate[lane], rounding[lane])
    flat = np.zeros(count, dtype=bool)
    if step is not None:
        direction = np.zeros(count, dtype=int)
    else:
        direction, flat = _cheap_checks(lanes, family, kinds, h0, estimate, rounding, center, values, offsets,
                                        main, n, eps) if check else (np.zeros(count, dtype=int), np.zeros(count, dtype=bool))
    direction[~finite] = 0
    if step is not None:
        direction[:] = 0
    accuracy = main.accuracy
    if want_error or noise is not None:
        # one more level at a larger step measures the truncation error
        pending = finite & (direction == 0)
        _walk_once(lanes, family, kinds, levels, pending, +1, n, noise, eps, step_limit=True)
        if step is None:
            for lane in np.flatnonzero(pending):
                errors = levels.errors(lane, accuracy)
                current = np.searchsorted(levels.steps[lane], h0[lane])
                error, value = _lane_norm(errors[current][None])[0], _lane_norm(levels.estimates[lane][current][None])[0]
                round_part = _lane_norm(levels.roundings[lane][current][None])[0]
                unchanged = all(np.array_equal(levels.estimates[lane][0], e) for e in levels.estimates[lane])
                if unchanged and not flat[lane]:
                    continue  # an exactly symmetric f: the estimate is exact up to rounding
                if error > _tolerance(eps, accuracy, n) * value and len(levels.steps[lane]) > 1:
                    direction[lane] = -1 if error - round_part > round_part else +1
            if noise is not None:
                direction[pending & (direction == 0)] = -1
    if np.any(direction != 0):
        _walk(lanes, family, kinds, levels, direction, n, noise, eps, accuracy)
    values_out = np.empty_like(estimate)
    errors_out = np.empty(estimate.shape, dtype=float)
    steps_out = np.empty(count)
    for lane in range(count):
        if len(levels.steps[lane]) == 1:
            values_out[lane] = levels.estimates[lane][0]
            errors_out[lane] = np.nan
            steps_out[lane] = levels.steps[lane][0]
        else:
            values_out[lane], errors_out[lane], steps_out[lane] = levels.best(lane, accuracy)
            if status[lane] == "ok" and levels.contradicted(lane, accuracy):
                status[lane] = "unreliable"
    for lane in np.flatnonzero(squeezed & finite):
        # no larger step fits the bounds: the rounding at the step used is all that bounds the error
        rounding_here = levels.roundings[lane][0]
        if _lane_norm(rounding_here[None])[0] > eps ** 0.25 * _lane_norm(values_out[lane][None])[0]:
            errors_out[lane] = np.fmax(errors_out[lane], rounding_here)
            status[lane] = "cramped"
    if not want_error and not np.any(~np.isnan(errors_out)):
        errors_out = None
    return LaneResult(values_out, errors_out, steps_out, kinds, status)


def _tolerance(eps, accuracy, n):
    """Relative error above which a first step is worth improving by a search."""
    return 1e3 * eps ** (accuracy / (n + accuracy))


def _cheap_checks(lanes, family, kinds, h, estimate, rounding, center, values, offsets, main, n, eps):
    """-1: the step looks too large (curvature), +1: too small (cancellation), 0: consistent.

    Uses only values already computed (including f(x)), so it is free.
    """
    count = lanes.count
    direction = np.zeros(count, dtype=int)
    flat_lanes = np.zeros(count, dtype=bool)
    size = _lane_norm(estimate)
    noise_ratio = np.where(size > 0, _lane_norm(rounding) / np.where(size > 0, size, 1), np.inf)
    too_small = noise_ratio > 1e4 * eps ** (main.accuracy / (n + main.accuracy))
    from .stencils import fornberg_weights
    for lane in range(count):
        stencil = family[kinds[lane]]
        lane_values = values[lane, :len(stencil.offsets)]
        lane_center = center[lane]
        flat = np.abs(lane_values - lane_center[None]).max() == 0 if lane_values.size else True
        if flat:
            direction[lane] = +1
            flat_lanes[lane] = True
            continue
        nodes = list(stencil.offsets)
        samples = list(lane_values)
        if 0 not in nodes:
            nodes.append(0)
            samples.append(lane_center)
        if too_small[lane]:
            symmetric = stencil.kind == "central" and size[lane] == 0
            direction[lane] = 0 if symmetric else +1
            continue
        if len(nodes) >= n + 2:
            higher = fornberg_weights(nodes, n + 1)
            with np.errstate(all="ignore"):
                next_derivative = sum(float(w) * s for w, s in zip(higher, samples)) / h[lane] ** (n + 1)
                curvature = _lane_norm(np.atleast_1d(next_derivative * h[lane])[None])[0] / size[lane] if size[lane] > 0 else np.inf
            if curvature > 100 * eps ** (1.0 / (n + main.accuracy)) * (n + main.accuracy):
                direction[lane] = -1
    return direction, flat_lanes


def _walk_once(lanes, family, kinds, levels, active, direction, n, noise, eps, step_limit=False):
    """Add one level to every active lane, a factor STEP_RATIO away; returns lanes that failed."""
    count = lanes.count
    if not np.any(active):
        return np.zeros(count, dtype=bool)
    h = np.zeros(count)
    for lane in np.flatnonzero(active):
        if direction > 0:
            top = levels.estimates[lane][-1]
            # while the differences are exactly zero nothing is learned: move faster
            factor = 16.0 if not np.any(top) and len(levels.steps[lane]) > 1 and not np.any(levels.estimates[lane][-2]) else STEP_RATIO
            h[lane] = levels.steps[lane][-1] * factor
        else:
            h[lane] = levels.steps[lane][0] / STEP_RATIO
    h = lanes.represent(h)
    lower_t, upper_t = lanes.limits()
    failed = np.zeros(count, dtype=bool)
    for lane in np.flatnonzero(active):
        low, high = _reach(family[kinds[lane]])
        if h[lane] <= 0 or low * h[lane] < lower_t[lane] or high * h[lane] > upper_t[lane]:
            failed[lane] = True
    todo = active & ~failed
    if np.any(todo):
        estimate, rounding, finite, _, _ = evaluate_level(lanes, family, kinds, h, todo, n, noise, eps)
        for lane in np.flatnonzero(todo):
            if finite[lane] and np.all(np.isfinite(estimate[lane])):
                levels.add(lane, h[lane], estimate[lane], rounding[lane])
            else:
                failed[lane] = True
    return failed


def _walk(lanes, family, kinds, levels, direction, n, noise, eps, accuracy):
    """Move each flagged lane's step down (or up) until truncation and rounding balance."""
    direction = direction.copy()
    moves = np.zeros(lanes.count, dtype=int)
    scale = lanes.scale()
    while np.any(direction != 0):
        for sign in (-1, +1):
            active = direction == sign
            failed = _walk_once(lanes, family, kinds, levels, active, sign, n, noise, eps)
            direction[failed] = 0
            for lane in np.flatnonzero(active & ~failed):
                moves[lane] += 1
                steps, estimates, roundings = levels.steps[lane], levels.estimates[lane], levels.roundings[lane]
                if sign < 0:
                    change = _lane_norm((estimates[0] - estimates[1])[None])[0]
                    done = change <= 2 * _lane_norm(roundings[0][None])[0] or steps[0] < 4 * eps * scale[lane]
                else:
                    change = _lane_norm((estimates[-1] - estimates[-2])[None])[0]
                    errors = [_lane_norm(e[None])[0] for e in levels.errors(lane, accuracy)[:-1]]
                    done = change > _lane_norm(roundings[-2][None])[0] and len(errors) >= 2 and errors[-1] > min(errors)
                if done or moves[lane] >= MAX_WALK:
                    direction[lane] = 0
