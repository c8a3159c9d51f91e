"""Cotangent kinds of the backward pass besides dense arrays and symbolic zeros (None): sums that are zero
outside a few regions. Rules may return them; the backward pass adds them through ``plus`` and turns them
into arrays with ``dense`` before a rule reads them."""
import numpy as np


class SliceSum:
    """A cotangent that is zero outside basic slices: what reads like ``x[1:]`` and ``x[:-1]`` send back to
    ``x``. Kept as (index, value) parts and written into one array when needed, instead of one zero-padded
    array per read and a full-size sum per pair (the scatter-add their VJP would compute).

    >>> import numpy
    >>> total = SliceSum((3,), numpy.float64, [(slice(1, 3), numpy.ones(2))]).plus(numpy.arange(3.0))
    >>> total
    array([0., 2., 3.])
    """

    __slots__ = ("shape", "dtype", "parts")

    def __init__(self, shape, dtype, parts):
        self.shape = shape
        self.dtype = dtype
        self.parts = parts

    def dense(self, base=None):
        """The cotangent as an array (``base`` plus the parts, when given: a fresh array either way)."""
        parts = self.parts
        if base is None:
            out = np.zeros(self.shape, dtype=self.dtype)
            first, value = parts[0]
            out[first] = value  # into zeros: the same as adding, one pass fewer
            parts = parts[1:]
        else:
            out = np.array(base, dtype=np.result_type(base, self.dtype), copy=True)
        for index, value in parts:
            out[index] += value
        return out

    def plus(self, other):
        """self + other for another SliceSum or an array of the full shape; NotImplemented otherwise (a
        traced value, a broadcast scalar): the caller then adds the dense forms."""
        if type(other) is SliceSum:
            return SliceSum(self.shape, np.result_type(self.dtype, other.dtype), self.parts + other.parts)
        if type(other) is np.ndarray and other.shape == self.shape:
            return self.dense(base=other)
        return NotImplemented


def dense(cotangent):
    """``cotangent`` as a value a rule can read: sparse kinds are written out; arrays, traced values and
    None (a symbolic zero) pass through."""
    return cotangent.dense() if type(cotangent) is SliceSum else cotangent
