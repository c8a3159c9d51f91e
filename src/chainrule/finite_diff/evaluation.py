"""Calls the user's function at stencil points: caching, shape checks, batching and workers."""
from __future__ import annotations

import numpy as np

__all__ = ["Evaluator", "as_point"]


def as_point(x, name="x"):
    """``x`` as a float (or complex) ndarray, with a clear error for other input."""
    array = np.asarray(x)
    if array.dtype == object:
        raise TypeError(f"{name} must be a number or an array of numbers, got {type(x).__name__}")
    if array.dtype.kind in "biu":
        raise TypeError(
            f"{name} has dtype {array.dtype} (shape {array.shape}); derivatives need floating "
            f"point input: pass e.g. np.asarray({name}, dtype=float) or 1.0 instead of 1")
    if array.dtype.kind not in "fc":
        raise TypeError(f"{name} must be a floating point array, got dtype {array.dtype}")
    if not np.all(np.isfinite(array)):
        bad = np.argwhere(~np.isfinite(np.atleast_1d(array)))[0]
        raise ValueError(
            f"{name} must be finite, but {name}{list(bad) if array.ndim else ''} = "
            f"{np.atleast_1d(array)[tuple(bad)]!r} (shape {array.shape}); derivatives are only "
            f"defined at finite points")
    return array


class Evaluator:
    """Evaluates f at a list of points, counting calls and reusing values at repeated points.

    ``vectorized=True``: f accepts points stacked along a new *last* axis and returns its
    outputs stacked the same way. ``workers``: an int (threads) or a map-like callable.
    """

    def __init__(self, f, x, *, vectorized=False, workers=None, name="f"):
        if not callable(f):
            raise TypeError(f"{name} must be callable, got {type(f).__name__}")
        self.f = f
        self.x = x
        self.name = name
        self.vectorized = vectorized
        self.workers = workers
        self.nfev = 0
        self.output_shape = None
        self.output_dtype = None
        self._cache = {}

    def _check(self, value, point):
        returned = value
        value = np.asarray(value)
        if value.dtype == object:
            raise TypeError(f"{self.name} must return numbers or arrays of numbers, got {value!r:.80}")
        if value.dtype.kind not in "biufc":
            # np.asarray("1.5") is a string array: differencing it would fail deep inside a stencil
            what = type(returned).__name__ if value.ndim == 0 else f"an array of dtype {value.dtype}"
            raise TypeError(f"{self.name} returned {what}; expected a number or an array of numbers "
                            f"(got {returned!r:.60})")
        if self.output_shape is None:
            self.output_shape = value.shape
            self.output_dtype = value.dtype
        elif value.shape != self.output_shape:
            raise ValueError(
                f"{self.name} returned shape {value.shape} at one point but {self.output_shape} "
                f"at another (x has shape {np.shape(self.x)}); its output shape must not depend "
                f"on the value of x")
        return value

    def _call_many(self, points):
        if self.vectorized:
            batch = np.stack(points, axis=-1)
            values = np.asarray(self.f(batch))
            if values.ndim == 0 or values.shape[-1] != len(points):
                raise ValueError(
                    f"vectorized=True: {self.name} was given {len(points)} points stacked along "
                    f"the last axis (shape {batch.shape}) and must return them stacked along the "
                    f"last axis, but returned shape {values.shape}")
            self.nfev += len(points)
            return [values[..., i] for i in range(len(points))]
        self.nfev += len(points)
        if self.workers is None or len(points) == 1:
            return [self.f(p) for p in points]
        if callable(self.workers):
            return list(self.workers(self.f, points))
        from concurrent.futures import ThreadPoolExecutor
        import os
        count = os.cpu_count() if self.workers == -1 else int(self.workers)
        with ThreadPoolExecutor(max_workers=max(1, count)) as pool:
            return list(pool.map(self.f, points))

    def __call__(self, points):
        """Values of f at ``points`` (a list of arrays shaped like x)."""
        keys = [(p.dtype.char, p.tobytes()) for p in points]
        missing, seen = [], set()
        for key, point in zip(keys, points):
            if key not in self._cache and key not in seen:
                seen.add(key)
                missing.append((key, point))
        if missing:
            try:
                values = self._call_many([p for _, p in missing])
            except TypeError as error:
                if any(p.dtype.kind == "c" for _, p in missing):
                    raise TypeError(
                        f"{self.name} failed on complex input ({error}); the complex step needs "
                        f"a function written with complex-safe NumPy operations: use "
                        f"method='central' instead") from error
                raise
            for (key, point), value in zip(missing, values):
                self._cache[key] = self._check(value, point)
        return [self._cache[key] for key in keys]

    def one(self, point):
        """Value of f at a single point."""
        return self([point])[0]
