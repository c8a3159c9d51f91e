"""``chainrule.scipy.signal``: N-d ``convolve`` and ``correlate`` (direct or FFT method), built from
chainrule.numpy, so they are differentiable in both inputs at every order."""
import numpy as _np
import scipy.signal as _signal

from .. import numpy as _cnp
from ..numpy.arrays import ndim, numpy_when_untraced, shape

# Above this many gathered products the direct method switches to FFT under method='auto' (memory, not speed:
# the direct method gathers one patch of the larger input per output point).
_DIRECT_LIMIT = 1 << 22


@numpy_when_untraced(_signal.convolve)
def convolve(in1, in2, mode="full", method="auto"):
    """``scipy.signal.convolve`` of N-d arrays (SciPy's 'same' is centered on ``in1``).

    >>> import chainrule as cr, numpy
    >>> convolve(numpy.array([1.0, 2.0, 3.0]), numpy.array([0.0, 1.0, 0.5]), mode="same")
    array([1. , 2.5, 4. ])
    >>> image, kernel = numpy.arange(9.0).reshape(3, 3), numpy.array([[1.0, -1.0]])
    >>> cr.grad(lambda k: convolve(image, k, mode="valid").sum())(kernel)  # k[0] meets columns 1-2, k[1] columns 0-1
    array([[27., 21.]])
    """
    in1, in2 = _cnp.asarray(in1), _cnp.asarray(in2)
    return _convolve(in1, in2, mode, method, "convolve")


@numpy_when_untraced(_signal.correlate)
def correlate(in1, in2, mode="full", method="auto"):
    """``scipy.signal.correlate`` of N-d arrays: convolution with ``in2`` reversed and conjugated.

    >>> import chainrule as cr, numpy
    >>> correlate(numpy.array([1.0, 2.0, 3.0]), numpy.array([0.0, 1.0]), mode="valid")
    array([2., 3.])
    >>> cr.grad(lambda a: correlate(a, numpy.array([[1.0, 2.0]]), mode="valid").sum())(numpy.ones((2, 3)))
    array([[1., 3., 2.],
           [1., 3., 2.]])
    """
    in1, in2 = _cnp.asarray(in1), _cnp.asarray(in2)
    if _np.issubdtype(in2.dtype, _np.complexfloating):
        in2 = _cnp.conj(in2)
    return _convolve(in1, _cnp.flip(in2), mode, method, "correlate")


def _convolve(in1, in2, mode, method, name):
    if ndim(in1) != ndim(in2):
        raise ValueError(f"{name}: in1 and in2 must have the same number of dimensions, got shapes {shape(in1)} "
                         f"and {shape(in2)}; add unit axes (e.g. with reshape) to the smaller one")
    if method not in ("auto", "direct", "fft"):
        raise ValueError(f"{name}: method must be 'auto', 'direct' or 'fft', got {method!r}")
    if ndim(in1) == 0:
        return in1 * in2
    n, m = shape(in1), shape(in2)
    if 0 in n or 0 in m:
        raise ValueError(f"{name}: in1 and in2 must be non-empty, got shapes {n} and {m}")
    region = _region(n, m, mode, name)
    kernel_size = min(int(_np.prod(n)), int(_np.prod(m)))
    if method == "fft" or (method == "auto" and int(_np.prod([length for _, length in region])) * kernel_size
                           > _DIRECT_LIMIT):
        return _fft_convolve(in1, in2, region)
    return _direct_convolve(in1, in2, region)


def _region(n, m, mode, name):
    """(start, length) per axis of the requested part of the full convolution, as SciPy defines the modes."""
    if mode == "full":
        return [(0, a + b - 1) for a, b in zip(n, m)]
    if mode == "same":
        return [((b - 1) // 2, a) for a, b in zip(n, m)]
    if mode == "valid":
        if not (all(a >= b for a, b in zip(n, m)) or all(b >= a for a, b in zip(n, m))):
            raise ValueError(f"{name}: mode='valid' needs one input at least as large as the other in every "
                             f"dimension, got shapes {n} and {m}; use mode='same' or 'full', or crop")
        return [(min(a, b) - 1, abs(a - b) + 1) for a, b in zip(n, m)]
    raise ValueError(f"{name}: mode must be 'full', 'same' or 'valid', got {mode!r}")


def _direct_convolve(in1, in2, region):
    """sum_k x[o - k] w[k] for o in ``region``, as one gather of patches of x and one matrix product with w."""
    if int(_np.prod(shape(in2))) > int(_np.prod(shape(in1))):
        in1, in2 = in2, in1  # convolution is symmetric: the smaller operand is the kernel
    x_shape, k_shape = shape(in1), shape(in2)
    rank = len(x_shape)
    padded = _cnp.pad(in1, [(k - 1, k - 1) for k in k_shape])
    strides = _np.cumprod((1,) + tuple(reversed(shape(padded)[1:])))[::-1]
    # full[o] = sum_j padded[o + j] * w[K - 1 - j]: index o on the first `rank` axes, j on the last.
    flat = _np.zeros((1,) * (2 * rank), dtype=_np.intp)
    for axis, ((start, length), k, stride) in enumerate(zip(region, k_shape, strides)):
        offsets = (start + _np.arange(length))[:, None] + _np.arange(k)[None, :]
        flat = flat + stride * offsets.reshape(
            [length if i == axis else 1 for i in range(rank)] + [k if i == axis else 1 for i in range(rank)])
    patches = _cnp.take(_cnp.ravel(padded), flat.reshape(-1, int(_np.prod(k_shape))))
    out = _cnp.matmul(patches, _cnp.ravel(_cnp.flip(in2)))
    return _cnp.reshape(out, tuple(length for _, length in region))


def _fft_convolve(in1, in2, region):
    full = tuple(a + b - 1 for a, b in zip(shape(in1), shape(in2)))
    axes = tuple(range(len(full)))
    if _np.issubdtype(_np.result_type(in1.dtype, in2.dtype), _np.complexfloating):
        out = _cnp.fft.ifftn(_cnp.fft.fftn(in1, s=full, axes=axes) * _cnp.fft.fftn(in2, s=full, axes=axes),
                             s=full, axes=axes)
    else:
        out = _cnp.fft.irfftn(_cnp.fft.rfftn(in1, s=full, axes=axes) * _cnp.fft.rfftn(in2, s=full, axes=axes),
                              s=full, axes=axes)
    return out[tuple(slice(start, start + length) for start, length in region)]
