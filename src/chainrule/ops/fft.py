"""The ``fft`` primitive: discrete Fourier transforms over the trailing axes (kinds fft, ifft, rfft, irfft with
NumPy's default normalization). It is linear; its transposes follow JAX's complex convention."""
import numpy as np

from ..core.avals import ShapedArray
from . import arithmetic, batch_rules, structure
from .families import linear

KINDS = ("fft", "ifft", "rfft", "irfft")


def _impl(x, *, kind, lengths):
    axes = tuple(range(-len(lengths), 0))
    transform = {"fft": np.fft.fftn, "ifft": np.fft.ifftn, "rfft": np.fft.rfftn, "irfft": np.fft.irfftn}[kind]
    return transform(x, s=lengths, axes=axes)


def _complex_dtype(dtype):
    return np.result_type(dtype, np.complex64)


def _real_dtype(dtype):
    return np.finfo(np.result_type(dtype, np.float32)).dtype


def _shape_rule(x, *, kind, lengths):
    batch = tuple(x.shape[:-len(lengths)])
    if kind == "rfft":
        return ShapedArray(batch + tuple(lengths[:-1]) + (lengths[-1] // 2 + 1,), _complex_dtype(x.dtype))
    if kind == "irfft":
        return ShapedArray(batch + tuple(lengths), _real_dtype(x.dtype))
    return ShapedArray(batch + tuple(lengths), _complex_dtype(x.dtype))


def _real_part(x):
    from .elementwise import real
    return real(x)


def _conjugate(x):
    from .elementwise import conj
    return conj(x)


def _transpose(out_bar, x, *, kind, lengths):
    if kind in ("fft", "ifft"):
        # The DFT matrix (and its inverse) is symmetric: the transpose is the same transform.
        return fft(out_bar, kind=kind, lengths=lengths)
    if kind == "rfft":
        # rfft = (keep the first n//2 + 1 bins) o fft o (real -> complex); transpose each piece in reverse.
        missing = lengths[-1] - np.shape(out_bar)[-1]
        widths = ((0, 0),) * (len(np.shape(out_bar)) - 1) + ((0, missing),)
        return _real_part(fft(structure.pad(out_bar, widths=widths), kind="fft", lengths=lengths))
    # irfft: an rfft of the cotangent, interior bins counted twice (they stand for their mirror images too).
    spectrum = fft(out_bar, kind="rfft", lengths=lengths)
    bins = np.shape(spectrum)[-1]
    odd = lengths[-1] % 2
    weights = np.concatenate([[1.0], np.full(bins - 2 + odd, 2.0), np.ones(1 - odd)])
    scaled = arithmetic.mul(spectrum, weights / float(np.prod(lengths)))
    return _conjugate(scaled)


# The transform acts on trailing axes, so a leading batch axis passes through (batch_rules.same_params).
fft = linear("fft", _impl, _transpose, shape_rule=_shape_rule, batch=batch_rules.same_params,
             convention="linear; VJPs use JAX's convention for complex cotangents")
