"""Abstract values: what an interpreter knows about an array without its numbers (shape, dtype)."""
import math

import numpy as np


class ShapedArray:
    """The shape and dtype of an array; what graph staging tracks instead of values."""

    __slots__ = ("shape", "dtype")

    def __init__(self, shape, dtype):
        self.shape = tuple(int(d) for d in shape)
        self.dtype = np.dtype(dtype)

    @classmethod
    def of_array(cls, array):
        """The abstract value of a NumPy array, without re-validating its shape and dtype (hot path)."""
        aval = object.__new__(cls)
        aval.shape = array.shape
        aval.dtype = array.dtype
        return aval

    @property
    def ndim(self):
        return len(self.shape)

    @property
    def size(self):
        return math.prod(self.shape)

    def __eq__(self, other):
        return isinstance(other, ShapedArray) and self.shape == other.shape and self.dtype == other.dtype

    def __hash__(self):
        return hash((self.shape, self.dtype))

    def __repr__(self):
        return f"{self.dtype.name}{list(self.shape)}"

    def str_short(self):
        short = {"float64": "f64", "float32": "f32", "float16": "f16", "int64": "i64", "int32": "i32",
                 "bool": "bool", "complex128": "c128", "complex64": "c64"}.get(self.dtype.name, self.dtype.name)
        return f"{short}[{','.join(map(str, self.shape))}]"


def aval_of(value):
    """The abstract value of a concrete array, Python scalar or tracer.

    >>> import numpy as np
    >>> aval_of(np.zeros((2, 3))), aval_of(1), aval_of(2.5), aval_of(True)
    (float64[2, 3], int64[], float64[], bool[])
    """
    kind = type(value)
    if kind is np.ndarray or kind is np.float64:  # the common cases, kept cheap
        return ShapedArray.of_array(value)
    aval = getattr(value, "aval", None)
    if aval is not None:
        return aval
    if isinstance(value, (np.ndarray, np.generic)):
        return ShapedArray.of_array(value)
    if isinstance(value, bool):
        return ShapedArray((), np.bool_)
    if isinstance(value, int):
        return ShapedArray((), np.int64)
    if isinstance(value, float):
        return ShapedArray((), np.float64)
    if isinstance(value, complex):
        return ShapedArray((), np.complex128)
    array = np.asarray(value)
    return ShapedArray(array.shape, array.dtype)


def is_inexact(dtype):
    """Whether values of this dtype can be differentiated (floating or complex).

    >>> import numpy as np
    >>> is_inexact(np.float32), is_inexact(np.complex128), is_inexact(np.int64), is_inexact(bool)
    (True, True, False, False)
    """
    return np.issubdtype(dtype, np.inexact)
