"""``chainrule.numpy.fft``: NumPy's FFT functions (``n``/``s``, ``axis``/``axes``, ``norm``), built on the one
``fft`` primitive; inputs are cropped or zero-padded and their axes moved last around it."""
import numpy as _np

from ..ops import fft as _fft_ops
from . import elementwise as _el, shaping as _sh
from .arrays import asarray, ndim, normalize_axes, numpy_when_untraced, shape

fftfreq = _np.fft.fftfreq
rfftfreq = _np.fft.rfftfreq


def _norm_factor(norm, count, inverse):
    """The factor NumPy's ``norm`` applies on top of the backward convention the primitive computes."""
    if norm in (None, "backward"):
        return 1.0
    if norm == "ortho":
        # a Python float, which is weak: NumPy's float64 scalar would widen complex64 to complex128
        return float(_np.sqrt(count)) if inverse else 1.0 / float(_np.sqrt(count))
    if norm == "forward":
        return float(count) if inverse else 1.0 / count
    raise ValueError(f'Invalid norm value {norm!r}; should be "backward", "ortho" or "forward".')


def _fit(a, axis, length):
    """Crop or zero-pad ``a`` along ``axis`` to ``length``."""
    current = shape(a)[axis]
    if current > length:
        index = [slice(None)] * ndim(a)
        index[axis] = slice(0, length)
        return a[tuple(index)]
    if current < length:
        widths = [(0, 0)] * ndim(a)
        widths[axis] = (0, length - current)
        return _sh.pad(a, widths)
    return a


def _transform(kind, a, s, axes, norm, name):
    a = asarray(a)
    if axes is None:
        axes = tuple(range(ndim(a))) if s is None else tuple(range(ndim(a) - len(s), ndim(a)))
    axes = tuple(int(x) % ndim(a) for x in axes) if ndim(a) else ()
    if not axes or len(set(axes)) != len(axes):
        raise ValueError(f"{name}: axes {axes} must be distinct axes of the input of shape {shape(a)}")
    if s is None:
        s = [shape(a)[x] for x in axes]
        if kind == "irfft":
            s[-1] = 2 * (s[-1] - 1)
    s = tuple(int(n) for n in s)
    if len(s) != len(axes):
        raise ValueError(f"{name}: s={s} and axes={axes} must have the same length")
    if any(n < 1 for n in s):
        raise ValueError(f"{name}: invalid number of data points {s}; each must be at least 1")
    for position, (axis, length) in enumerate(zip(axes, s)):
        fitted = length // 2 + 1 if kind == "irfft" and position == len(s) - 1 else length
        a = _fit(a, axis, fitted)
    rest = [x for x in range(ndim(a)) if x not in axes]
    order = rest + list(axes)
    moved = _sh.transpose(a, order)
    if kind in ("fft", "ifft") and not _np.issubdtype(moved.dtype, _np.complexfloating):
        moved = moved.astype(_np.result_type(moved.dtype, _np.complex64))
    out = _fft_ops.fft(moved, kind=kind, lengths=s)
    out = _sh.transpose(out, _np.argsort(order))
    factor = _norm_factor(norm, int(_np.prod(s)), kind in ("ifft", "irfft"))
    return out if factor == 1.0 else _el.multiply(out, factor)


def _one_axis(kind, name, a, n, axis, norm):
    return _transform(kind, a, None if n is None else (n,), (axis,), norm, name)


@numpy_when_untraced(_np.fft.fft)
def fft(a, n=None, axis=-1, norm=None):
    """``numpy.fft.fft``.

    >>> import chainrule as cr, chainrule.numpy as np
    >>> cr.grad(lambda x: np.sum(np.abs(np.fft.fft(x)) ** 2))(np.array([1.0, 2.0]))  # Parseval: 2 n x
    array([4., 8.])
    """
    return _one_axis("fft", "fft", a, n, axis, norm)


@numpy_when_untraced(_np.fft.ifft)
def ifft(a, n=None, axis=-1, norm=None):
    """``numpy.fft.ifft``.

    >>> ifft(fft(asarray([1.0, 2.0]))).real
    array([1., 2.])
    """
    return _one_axis("ifft", "ifft", a, n, axis, norm)


@numpy_when_untraced(_np.fft.rfft)
def rfft(a, n=None, axis=-1, norm=None):
    """``numpy.fft.rfft`` of real input.

    >>> rfft(asarray([1.0, 2.0, 3.0, 4.0])).shape
    (3,)
    """
    return _one_axis("rfft", "rfft", a, n, axis, norm)


@numpy_when_untraced(_np.fft.irfft)
def irfft(a, n=None, axis=-1, norm=None):
    """``numpy.fft.irfft``: real output of length ``n`` (default 2 (m - 1)).

    >>> irfft(rfft(asarray([1.0, 2.0, 3.0, 4.0])))
    array([1., 2., 3., 4.])
    """
    return _one_axis("irfft", "irfft", a, n, axis, norm)


@numpy_when_untraced(_np.fft.hfft)
def hfft(a, n=None, axis=-1, norm=None):
    """``numpy.fft.hfft``: the FFT of a Hermitian-symmetric signal given by its first half.

    >>> hfft(asarray([1.0, 2.0, 3.0]))
    array([ 8., -2.,  0., -2.])
    """
    a = asarray(a)
    length = 2 * (shape(a)[axis] - 1) if n is None else n
    inverse_norm = {None: "forward", "backward": "forward", "ortho": "ortho", "forward": "backward"}[norm]
    return irfft(_el.conj(a), length, axis, inverse_norm)


@numpy_when_untraced(_np.fft.ihfft)
def ihfft(a, n=None, axis=-1, norm=None):
    """``numpy.fft.ihfft``: the inverse of hfft, for real input.

    >>> ihfft(asarray([8.0, -4.0, 0.0, -4.0])).real
    array([0., 2., 4.])
    """
    a = asarray(a)
    inverse_norm = {None: "forward", "backward": "forward", "ortho": "ortho", "forward": "backward"}[norm]
    return _el.conj(rfft(a, n, axis, inverse_norm))


@numpy_when_untraced(_np.fft.fftn)
def fftn(a, s=None, axes=None, norm=None):
    """``numpy.fft.fftn``.

    >>> fftn(asarray([[1.0, 0.0], [0.0, 0.0]])).real
    array([[1., 1.],
           [1., 1.]])
    """
    return _transform("fft", a, s, axes, norm, "fftn")


@numpy_when_untraced(_np.fft.ifftn)
def ifftn(a, s=None, axes=None, norm=None):
    """``numpy.fft.ifftn``.

    >>> ifftn(fftn(asarray([[1.0, 2.0], [3.0, 4.0]]))).real
    array([[1., 2.],
           [3., 4.]])
    """
    return _transform("ifft", a, s, axes, norm, "ifftn")


@numpy_when_untraced(_np.fft.rfftn)
def rfftn(a, s=None, axes=None, norm=None):
    """``numpy.fft.rfftn``.

    >>> rfftn(asarray([[1.0, 2.0, 3.0, 4.0]])).shape
    (1, 3)
    """
    return _transform("rfft", a, s, axes, norm, "rfftn")


@numpy_when_untraced(_np.fft.irfftn)
def irfftn(a, s=None, axes=None, norm=None):
    """``numpy.fft.irfftn``.

    >>> irfftn(rfftn(asarray([[1.0, 2.0], [3.0, 4.0]])))
    array([[1., 2.],
           [3., 4.]])
    """
    return _transform("irfft", a, s, axes, norm, "irfftn")


@numpy_when_untraced(_np.fft.fft2)
def fft2(a, s=None, axes=(-2, -1), norm=None):
    """``numpy.fft.fft2``.

    >>> fft2(asarray([[1.0, 0.0], [0.0, 0.0]])).real
    array([[1., 1.],
           [1., 1.]])
    """
    return _transform("fft", a, s, axes, norm, "fft2")


@numpy_when_untraced(_np.fft.ifft2)
def ifft2(a, s=None, axes=(-2, -1), norm=None):
    """``numpy.fft.ifft2``.

    >>> ifft2(fft2(asarray([[1.0, 2.0], [3.0, 4.0]]))).real
    array([[1., 2.],
           [3., 4.]])
    """
    return _transform("ifft", a, s, axes, norm, "ifft2")


@numpy_when_untraced(_np.fft.rfft2)
def rfft2(a, s=None, axes=(-2, -1), norm=None):
    """``numpy.fft.rfft2``.

    >>> rfft2(asarray([[1.0, 2.0], [3.0, 4.0]])).shape
    (2, 2)
    """
    return _transform("rfft", a, s, axes, norm, "rfft2")


@numpy_when_untraced(_np.fft.irfft2)
def irfft2(a, s=None, axes=(-2, -1), norm=None):
    """``numpy.fft.irfft2``.

    >>> irfft2(rfft2(asarray([[1.0, 2.0], [3.0, 4.0]])))
    array([[1., 2.],
           [3., 4.]])
    """
    return _transform("irfft", a, s, axes, norm, "irfft2")


@numpy_when_untraced(_np.fft.fftshift)
def fftshift(x, axes=None):
    """``numpy.fft.fftshift`` (a roll: the derivative moves with the values).

    >>> fftshift(asarray([0.0, 1.0, 2.0, -2.0, -1.0]))
    array([-2., -1.,  0.,  1.,  2.])
    """
    x = asarray(x)
    axes = normalize_axes(axes, ndim(x))
    return _sh.roll(x, [shape(x)[a] // 2 for a in axes], axes)


@numpy_when_untraced(_np.fft.ifftshift)
def ifftshift(x, axes=None):
    """``numpy.fft.ifftshift``.

    >>> ifftshift(asarray([-2.0, -1.0, 0.0, 1.0, 2.0]))
    array([ 0.,  1.,  2., -2., -1.])
    """
    x = asarray(x)
    axes = normalize_axes(axes, ndim(x))
    return _sh.roll(x, [-(shape(x)[a] // 2) for a in axes], axes)
