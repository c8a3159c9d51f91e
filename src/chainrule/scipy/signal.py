"""``chainrule.scipy.signal``: 1-d ``convolve`` and ``correlate`` (direct method), via chainrule.numpy."""
import scipy.signal as _signal

from .. import numpy as _cnp
from ..numpy.arrays import is_traced, ndim


def _check(in1, in2, name):
    if ndim(in1) != 1 or ndim(in2) != 1:
        raise NotImplementedError(f"{name}: traced inputs must be 1-d here (got {ndim(in1)}-d and {ndim(in2)}-d); "
                                  f"N-d signals are not supported yet")


def convolve(in1, in2, mode="full", method="auto"):
    """``scipy.signal.convolve`` of 1-d signals (SciPy's 'same' centers on ``in1``).

    >>> import chainrule as cr, numpy
    >>> convolve(numpy.array([1.0, 2.0, 3.0]), numpy.array([0.0, 1.0, 0.5]), mode="same")
    array([1. , 2.5, 4. ])
    """
    if not is_traced(in1, in2):
        return _signal.convolve(in1, in2, mode=mode, method=method)
    _check(in1, in2, "convolve")
    full = _cnp.convolve(in1, in2, mode="full")
    return _crop(full, _cnp.shape(in1)[0], _cnp.shape(in2)[0], mode)


def correlate(in1, in2, mode="full", method="auto"):
    """``scipy.signal.correlate`` of 1-d real signals: convolution with ``in2`` reversed.

    >>> import numpy
    >>> correlate(numpy.array([1.0, 2.0, 3.0]), numpy.array([0.0, 1.0]), mode="valid")
    array([2., 3.])
    """
    if not is_traced(in1, in2):
        return _signal.correlate(in1, in2, mode=mode, method=method)
    _check(in1, in2, "correlate")
    full = _cnp.convolve(in1, _cnp.flip(_cnp.asarray(in2), 0), mode="full")
    return _crop(full, _cnp.shape(in1)[0], _cnp.shape(in2)[0], mode)


def _crop(full, n, m, mode):
    if mode == "full":
        return full
    if mode == "same":
        start = (m - 1) // 2
        return full[start:start + n]
    if mode == "valid":
        if m > n:
            raise ValueError("valid mode needs in1 at least as long as in2 for traced 1-d inputs")
        return full[m - 1:n]
    raise ValueError(f"mode must be 'full', 'same' or 'valid', got {mode!r}")
