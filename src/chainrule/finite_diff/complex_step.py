"""Complex-step differentiation, Im f(x + i h) / h, guarded by a real-step consistency probe
so that a function that is not complex-analytic is caught rather than silently wrong."""
from __future__ import annotations

import numpy as np

from .adaptive import LaneResult

__all__ = ["complex_step_lanes", "probe_analyticity"]


def complex_step_lanes(lanes, *, step=None, absolute=False):
    """First derivative along every lane from one complex evaluation per lane (batch)."""
    eps = lanes.eps
    scale = lanes.scale()
    if step is None:
        # far below any truncation effect; the derivative has no cancellation to fear
        h = scale * eps ** 2
    else:
        h = np.broadcast_to(np.asarray(step, dtype=float), (lanes.count,)) * (1.0 if absolute else scale)
    values = np.asarray(lanes.values(1j * h))
    if values.dtype.kind != "c":
        raise ValueError(
            f"method='complex': f returned real dtype {values.dtype} for complex input, so it "
            f"drops the imaginary part (float(), .real, abs(), astype(float) ...); make f "
            f"complex-safe or use method='central'")
    extra = (1,) * (values.ndim - 1)
    derivative = values.imag / h.reshape((lanes.count,) + extra)
    center = values.real
    error = 8 * eps * np.abs(derivative)
    finite = np.all(np.isfinite(derivative).reshape(lanes.count, -1), axis=1)
    status = np.where(finite, "ok", "nonfinite").astype(object)
    return LaneResult(derivative, error, h, np.full(lanes.count, "complex", dtype=object), status), center


def probe_analyticity(derivative_along, f_plus, f_minus, f_center, delta, eps):
    """Compare a complex-step directional derivative with a real central difference.

    Returns (consistent, central_estimate). The tolerance is the forward-difference
    curvature term plus rounding, so an analytic f passes and a factor-2 error fails.
    """
    central = (f_plus - f_minus) / (2 * delta)
    curvature = np.abs(f_plus - 2 * f_center + f_minus) / delta
    rounding = 8 * eps * (np.abs(f_plus) + np.abs(f_minus) + np.abs(f_center)) / delta
    tolerance = curvature + rounding + 1e-6 * (np.abs(central) + np.abs(derivative_along))
    consistent = np.all(np.abs(derivative_along - central) <= tolerance)
    return bool(consistent), central
