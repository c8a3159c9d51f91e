"""Noise level of a function from a difference table (Moré and Wild's ECnoise idea):
random noise makes high-order differences change sign and stop shrinking."""
from __future__ import annotations

from math import factorial

import numpy as np

from .evaluation import Evaluator, as_point

__all__ = ["noise_level", "difference_table_noise"]


def difference_table_noise(samples):
    """Noise standard deviation per entry from samples at equally spaced points (axis 0).

    Returns (sigma, detected): sigma is NaN where no order k gives a stable estimate.
    """
    samples = np.asarray(samples, dtype=float)
    count = samples.shape[0]
    table = samples
    sigmas, changes = [], []
    for k in range(1, count):
        table = np.diff(table, axis=0)
        # gamma_k makes E[gamma_k * mean((Delta^k noise)^2)] = sigma^2 for independent noise
        gamma = factorial(k) ** 2 / factorial(2 * k)
        sigmas.append(np.sqrt(gamma * np.mean(table ** 2, axis=0)))
        changes.append((table.max(axis=0) > 0) & (table.min(axis=0) < 0))
    sigmas = np.array(sigmas)
    changes = np.array(changes)
    result = np.full(samples.shape[1:], np.nan)
    flat_result = result.reshape(-1)
    flat_sigma = sigmas.reshape(len(sigmas), -1)
    flat_changes = changes.reshape(len(changes), -1)
    for entry in range(flat_result.size):
        for k in range(len(flat_sigma) - 2):
            group = flat_sigma[k:k + 3, entry]
            if group[0] > 0 and flat_changes[k, entry] and group.max() <= 4 * group.min():
                flat_result[entry] = group[0]
                break
    return result, np.isfinite(result)


def noise_level(f, x, *, direction=None, spacing=None, points=9, seed=0):
    """Estimate the noise (standard deviation) of f's output near x.

    f is sampled at ``points`` equally spaced points along ``direction`` (random when not
    given); the spacing adapts until the difference table shows noise.

    >>> import numpy as np
    >>> rng = np.random.default_rng(1)
    >>> noisy = lambda x: np.sin(x) + 1e-6 * rng.standard_normal()
    >>> sigma = noise_level(noisy, 1.0)
    >>> bool(3e-7 < sigma < 3e-6)
    True
    """
    x = as_point(x)
    evaluator = Evaluator(f, x)
    center = np.asarray(evaluator.one(x), dtype=float)
    if direction is None:
        direction = np.random.default_rng(seed).choice([-1.0, 1.0], size=x.shape)
        direction = direction * np.where(np.abs(x) > 0, np.abs(x), 1.0)
    direction = np.asarray(direction, dtype=float)
    if spacing is None:
        spacing = 1e-4
    eps = np.finfo(x.dtype).eps
    sigma = None
    for _attempt in range(4):
        offsets = (np.arange(points) - points // 2) * spacing
        samples = np.stack([np.asarray(evaluator.one((x + t * direction).astype(x.dtype)), dtype=float)
                            for t in offsets])
        sigma, detected = difference_table_noise(samples)
        if np.all(detected):
            break
        spread = np.ptp(samples, axis=0)
        if np.all(spread <= 4 * eps * np.abs(center)):
            spacing *= 100.0
        else:
            spacing /= 100.0
    floor = eps * np.abs(center)
    sigma = np.where(np.isfinite(sigma), np.maximum(sigma, floor), floor)
    return float(sigma) if sigma.ndim == 0 else sigma
