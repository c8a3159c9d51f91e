"""Arrays a traced function hands to primitives from outside the trace (what it closes over, buffers it fills):
kept with the values they had when they were used.

Reverse mode keeps them in pullbacks, staging keeps them as constants of a graph, and both use them later,
after the function has gone on running: a function that refills a buffer (``buffer[:] = ...`` in a loop) or
changes an array in place after using it would otherwise be differentiated (or compiled) with the new values,
silently. NumPy arrays have no version counter to check, so:

- an array of up to ``COPY_LIMIT`` bytes (64 KiB) is copied when used (uses of the same unchanged array share
  one copy);
- a larger one (data matrices: copying them at every call would cost as much as the derivative) is kept by
  reference with a fingerprint, checked when the recorded values are used (``check``): a change it sees is a
  clear error, not a wrong number. Up to ``FULL_LIMIT`` bytes (8 MiB) the fingerprint reads every element: a
  weighted sum with fixed pseudo-random weights (one BLAS dot product, ~13 us for 512 KB), which any change of
  an element beyond rounding of the sum (relative 1e-13 or so) moves. Larger arrays, and arrays holding inf or
  nan (whose sums cannot tell), are fingerprinted by a spread sample of their elements (``SAMPLE_SIZE``): a
  change of a few elements there can miss it; such arrays should not be changed in place while being
  differentiated.
"""
import threading

import numpy as np

from .interpreter import ChainruleError

# Copying costs more than the bytes suggest: a fresh copy is cold in the caches where the original was hot (a
# 512 KB data matrix copied at every gradient made a small network's gradient 2.4x slower). Up to 64 KiB it is a
# few microseconds.
COPY_LIMIT = 1 << 16  # bytes
FULL_LIMIT = 1 << 23  # bytes: up to this size a fingerprint reads every element
SAMPLE_SIZE = 4096  # elements of a larger array read into its fingerprint


class ExternalArrays:
    """The arrays one recording or staging has used, with their copies or fingerprints."""

    __slots__ = ("copies", "guards")

    def __init__(self):
        self.copies = {}  # id -> (original, read-only copy)
        self.guards = {}  # id -> (original, its fingerprint function, the fingerprint when used, where)

    def constant(self, array, where):
        """What to keep for ``array`` (a writeable NumPy array) used by the primitive named ``where``."""
        if array.nbytes <= COPY_LIMIT:
            known = self.copies.get(id(array))
            if known is not None and known[1].shape == array.shape and np.array_equal(
                    known[1], array, equal_nan=array.dtype.kind in "fc"):
                return known[1]
            copy = array.copy()
            copy.flags.writeable = False
            self.copies[id(array)] = (array, copy)  # the original kept alive: its id stays its own
            return copy
        if id(array) not in self.guards:
            fingerprint = _fingerprinter(array)
            self.guards[id(array)] = (array, fingerprint, fingerprint(array), where)
        return array

    def check(self):
        """Raise if a large array used so far changed since (where its fingerprint sees it)."""
        for array, fingerprint, before, where in self.guards.values():
            if fingerprint(array) != before:
                raise ChainruleError(
                    f"an array of shape {array.shape} ({array.dtype}) used by '{where}' was changed in place after "
                    f"that use, before the derivative (or staged code) that keeps it was computed: the result "
                    f"would use its new values. Change a copy (array = array.copy()) instead, or change it only "
                    f"after the derivative is computed.")


def _fingerprinter(array):
    """``array -> a value that changes when the array does``: its full fingerprint where ``_full`` applies, else
    the sample's (see the module's docstring)."""
    sample = _sampler(array)
    if array.nbytes > FULL_LIMIT or array.dtype.kind not in "biufc":
        return sample

    def fingerprint(a):
        total = _full(a)
        return total if np.isfinite(total) else (sample(a),)  # inf or nan inside: the sum cannot tell
    return fingerprint


_WEIGHTS = [np.empty(0)]
_WEIGHTS_LOCK = threading.Lock()


def _weights(size):
    """Fixed pseudo-random weights in [0.5, 1.5), at least ``size`` of them (grown once, shared)."""
    if _WEIGHTS[0].size < size:
        with _WEIGHTS_LOCK:
            if _WEIGHTS[0].size < size:
                _WEIGHTS[0] = np.random.default_rng(20261130).uniform(0.5, 1.5, max(size, 1 << 16))
    return _WEIGHTS[0][:size]


def _full(array):
    """Sum of every element (real and imaginary parts apart) times its fixed weight, as a Python float."""
    flat = array.ravel(order="K")  # a view of a contiguous array's memory, in its order
    if flat.dtype.kind == "c":
        flat = np.ascontiguousarray(flat).view(flat.real.dtype)
    if flat.dtype != np.float64:
        flat = flat.astype(np.float64)
    return float(flat @ _weights(flat.size))


def _sampler(array):
    """``array -> bytes`` of up to about ``SAMPLE_SIZE`` elements spread over it, read without copying it."""
    step = max(1, array.size // SAMPLE_SIZE)
    if array.flags.c_contiguous or array.flags.f_contiguous:
        return lambda a: a.ravel(order="K")[::step].tobytes()  # a view of the memory, in its order
    flat = np.arange(0, array.size, step, dtype=np.int64)
    positions = np.unravel_index(flat, array.shape)
    return lambda a: a[positions].tobytes()
