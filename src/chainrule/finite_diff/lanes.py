"""One-dimensional slices of f through x ("lanes") that the step search differentiates together.

A lane l is t -> f(x + t * e_l) (a coordinate), t -> f(x + t * v_l) (a direction), or, for an
elementwise f, the l-th output of f(x + t).
"""
from __future__ import annotations

import numpy as np

__all__ = ["ElementwiseLanes", "CoordinateLanes", "DirectionLanes"]


def _complex_like(dtype):
    """The complex dtype of x's precision: a complex step keeps float32 arithmetic in complex64."""
    return np.result_type(dtype, np.complex64)


class _Lanes:
    def __init__(self, evaluator, x, lower=-np.inf, upper=np.inf):
        self.evaluator = evaluator
        self.x = x
        self.real_dtype = np.finfo(x.dtype).dtype if x.dtype.kind in "fc" else np.dtype(float)
        self.lower = np.broadcast_to(np.asarray(lower, dtype=float), x.shape).ravel()
        self.upper = np.broadcast_to(np.asarray(upper, dtype=float), x.shape).ravel()
        if x.dtype.kind == "c" and (np.any(np.isfinite(self.lower)) or np.any(np.isfinite(self.upper))):
            raise ValueError(f"bounds=({lower}, {upper}) with a complex x (dtype {x.dtype}): bounds order "
                             f"real numbers only; drop them or pass a real x")
        if np.any(self.lower > x.ravel()) or np.any(self.upper < x.ravel()):
            raise ValueError(
                f"x (shape {x.shape}) lies outside bounds=({lower}, {upper}); pass a point "
                f"inside the bounds")

    def values_many(self, requests):
        """Values for several (t, active) requests, with all points sent to f in one batch."""
        plans = [self.points(t, active) for t, active in requests]
        flat = [p for points, _ in plans for p in points]
        results = self.evaluator(flat) if flat else []
        answers, start = [], 0
        for points, assemble in plans:
            answers.append(assemble(results[start:start + len(points)]))
            start += len(points)
        return answers

    def values(self, t, active=None):
        return self.values_many([(t, active)])[0]

    @property
    def eps(self):
        """Relative rounding unit of the arithmetic f probably uses."""
        dtypes = [self.real_dtype]
        if self.evaluator.output_dtype is not None and self.evaluator.output_dtype.kind in "fc":
            dtypes.append(np.finfo(self.evaluator.output_dtype).dtype)
        return max(float(np.finfo(d).eps) for d in dtypes)


class ElementwiseLanes(_Lanes):
    """Lane l is output l of an elementwise f (or the only lane when x is a scalar)."""

    def __init__(self, evaluator, x, lower=-np.inf, upper=np.inf):
        super().__init__(evaluator, x, lower, upper)
        self.count = x.size
        self.position = x.ravel()

    def scale(self):
        magnitude = np.abs(self.position).astype(float)
        return np.where(magnitude > 0, magnitude, 1.0)

    def represent(self, t):
        dtype = self.real_dtype
        # steps move the real part (a complex x is differentiated along the real axis)
        position = np.real(self.position).astype(dtype)
        return ((position + t.astype(dtype)) - position).astype(float)

    def points(self, t, active=None):
        shift = t.reshape(self.x.shape)
        dtype = _complex_like(self.x.dtype) if shift.dtype.kind == "c" else self.x.dtype
        point = (self.x + shift.astype(dtype)).astype(dtype)

        def assemble(values):
            value = np.asarray(values[0])
            if self.x.ndim == 0:
                return value[None]
            if value.shape != self.x.shape:
                raise ValueError(
                    f"derivative() differentiates elementwise functions: f(x) must have x's "
                    f"shape {self.x.shape}, got {value.shape}; use fd.jacobian or fd.gradient")
            return value.reshape((self.count,))
        return [point], assemble

    def limits(self):
        position = np.real(self.position)
        return self.lower - position, self.upper - position


class CoordinateLanes(_Lanes):
    """Lane l moves coordinate l of x: the columns of a Jacobian."""

    def __init__(self, evaluator, x, lower=-np.inf, upper=np.inf):
        super().__init__(evaluator, x, lower, upper)
        self.count = x.size
        self.position = x.ravel()

    scale = ElementwiseLanes.scale
    represent = ElementwiseLanes.represent
    limits = ElementwiseLanes.limits

    def points(self, t, active=None):
        if active is None:
            active = np.ones(self.count, dtype=bool)
        flat = self.x.ravel()
        points, lanes = [], np.flatnonzero(active)
        for lane in lanes:
            point = flat.astype(_complex_like(flat.dtype)) if t.dtype.kind == "c" else flat.copy()
            point[lane] = point[lane] + t[lane]
            points.append(point.reshape(self.x.shape))
        return points, lambda values: _scatter(self, lanes, values)


def _scatter(lanes_object, lanes, values):
    shape = lanes_object.evaluator.output_shape
    dtype = np.result_type(*[np.asarray(v).dtype for v in values]) if len(values) else float
    result = np.zeros((lanes_object.count,) + tuple(shape or ()), dtype=dtype)
    for lane, value in zip(lanes, values):
        result[lane] = value
    return result


class DirectionLanes(_Lanes):
    """Lane l moves x along direction l: directional derivatives (JVPs)."""

    def __init__(self, evaluator, x, directions, lower=-np.inf, upper=np.inf):
        super().__init__(evaluator, x)
        if x.dtype.kind == "c" and (np.any(np.isfinite(lower)) or np.any(np.isfinite(upper))):
            raise ValueError(f"bounds=({lower}, {upper}) with a complex x (dtype {x.dtype}): bounds order "
                             f"real numbers only; drop them or pass a real x")
        self.directions = directions
        self.count = len(directions)
        lo = np.broadcast_to(np.asarray(lower, dtype=float), x.shape)
        hi = np.broadcast_to(np.asarray(upper, dtype=float), x.shape)
        self._lower_t, self._upper_t = [], []
        for v in directions:
            # the largest t interval keeping x + t v inside the box
            with np.errstate(divide="ignore", invalid="ignore"):
                to_hi = np.where(v > 0, (hi - x) / v, np.where(v < 0, (lo - x) / v, np.inf))
                to_lo = np.where(v > 0, (lo - x) / v, np.where(v < 0, (hi - x) / v, -np.inf))
            self._upper_t.append(np.min(to_hi) if to_hi.size else np.inf)
            self._lower_t.append(np.max(to_lo) if to_lo.size else -np.inf)

    def scale(self):
        scales = []
        for v in self.directions:
            size = np.linalg.norm(v.ravel())
            if size == 0:
                raise ValueError("the direction v is zero; pass a nonzero direction")
            reach = np.linalg.norm(self.x.ravel()) / size
            scales.append(reach if reach > 0 else 1.0 / size)
        return np.array(scales, dtype=float)

    def represent(self, t):
        return t.astype(self.real_dtype).astype(float)

    def limits(self):
        return np.array(self._lower_t, dtype=float), np.array(self._upper_t, dtype=float)

    def points(self, t, active=None):
        if active is None:
            active = np.ones(self.count, dtype=bool)
        lanes = np.flatnonzero(active)
        points = []
        for lane in lanes:
            step = t[lane]
            if np.iscomplexobj(step):
                points.append((self.x + step * self.directions[lane]).astype(_complex_like(self.x.dtype)))
            else:
                points.append((self.x + self.real_dtype.type(step) * self.directions[lane]).astype(self.x.dtype))
        return points, lambda values: _scatter(self, lanes, values)
