"""chainrule.numpy.fft against jax.numpy.fft: values and gradients of real losses of the (complex) outputs,
with real and complex inputs, every ``n``/``s``, ``axis``/``axes`` and ``norm``; the primitive's rules per kind."""
import numpy
import pytest

import chainrule as cr
import chainrule.numpy as np
from chainrule.ops import fft as fft_ops
from chainrule.testing import check_rules

import jax  # the independent oracle: installed by the test extra, so a missing JAX fails loudly
jax.config.update("jax_enable_x64", True)
import jax.numpy as jnp  # noqa: E402

rng = numpy.random.default_rng(0)
real = rng.standard_normal((3, 6))
complex_ = rng.standard_normal((3, 6)) + 1j * rng.standard_normal((3, 6))
half_spectrum = rng.standard_normal((3, 4)) + 1j * rng.standard_normal((3, 4))

# name -> (function of the fft module `m`, input)
CASES = {
    "fft": (lambda m, x: m.fft(x), complex_),
    "fft real input": (lambda m, x: m.fft(x), real),
    "fft n pad": (lambda m, x: m.fft(x, n=8, axis=0), real),
    "fft n crop ortho": (lambda m, x: m.fft(x, n=4, norm="ortho"), complex_),
    "ifft": (lambda m, x: m.ifft(x), complex_),
    "ifft forward": (lambda m, x: m.ifft(x, axis=0, norm="forward"), complex_),
    "rfft": (lambda m, x: m.rfft(x), real),
    "rfft odd n": (lambda m, x: m.rfft(x, n=5, axis=-1, norm="ortho"), real),
    "irfft": (lambda m, x: m.irfft(x), half_spectrum),
    "irfft odd n": (lambda m, x: m.irfft(x, n=7), half_spectrum),
    "irfft forward": (lambda m, x: m.irfft(x, n=6, axis=-1, norm="forward"), half_spectrum),
    "fft2": (lambda m, x: m.fft2(x), complex_),
    "ifft2": (lambda m, x: m.ifft2(x, s=(4, 4)), complex_),
    "fftn": (lambda m, x: m.fftn(x, axes=(1, 0)), real),
    "ifftn": (lambda m, x: m.ifftn(x, norm="ortho"), complex_),
    "rfftn": (lambda m, x: m.rfftn(x), real),
    "rfft2 s": (lambda m, x: m.rfft2(x, s=(2, 5)), real),
    "irfftn": (lambda m, x: m.irfftn(x), half_spectrum),
    "irfftn s": (lambda m, x: m.irfftn(x, s=(3, 5), axes=(0, 1)), half_spectrum),
    "irfft2": (lambda m, x: m.irfft2(x), half_spectrum),
    "hfft": (lambda m, x: m.hfft(x), half_spectrum),
    "hfft ortho": (lambda m, x: m.hfft(x, n=5, norm="ortho"), half_spectrum),
    "ihfft": (lambda m, x: m.ihfft(x), real),
    "fftshift": (lambda m, x: m.fftshift(x), real),
    "ifftshift": (lambda m, x: m.ifftshift(x, axes=1), complex_),
}


def _loss(function, module, numpy_module):
    """A real loss that weighs real and imaginary parts of every output element differently."""
    def loss(x):
        out = function(module.fft, x)
        weights = numpy.linspace(0.5, 1.5, out.size).reshape(out.shape)
        return numpy_module.sum(numpy_module.real(out) * weights + numpy_module.imag(out) * weights ** 2
                                + numpy_module.abs(out) ** 2)
    return loss


@pytest.mark.parametrize("name", sorted(CASES))
def test_against_jax(name):
    function, x = CASES[name]
    value = cr.jvp(lambda t: function(np.fft, t), (x,), (x,))[0]
    numpy.testing.assert_allclose(value, function(jnp.fft, x), rtol=1e-12, atol=1e-12)
    numpy.testing.assert_allclose(function(np.fft, x), function(numpy.fft, x), rtol=1e-12, atol=1e-12)
    got = cr.grad(_loss(function, np, np))(x)
    expected = jax.grad(_loss(function, jnp, jnp))(x)
    numpy.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("kind, argument, lengths", [
    ("ifft", complex_, (3, 6)),
    ("rfft", real, (6,)),
    ("rfft", real[:, :5], (3, 5)),
    ("irfft", half_spectrum, (6,)),
    ("irfft", half_spectrum, (3, 7)),
])
def test_rules_of_each_kind(kind, argument, lengths):
    check_rules(fft_ops.fft, (argument,), {"kind": kind, "lengths": lengths}, atol=1e-6, rtol=1e-6)


def test_batching_and_per_example_gradients():
    batched = cr.vmap(lambda x: np.fft.rfft(x, n=8))(real)
    numpy.testing.assert_allclose(batched, numpy.fft.rfft(real, n=8), rtol=1e-12)
    per_example = cr.vmap(cr.grad(lambda x: np.sum(np.abs(np.fft.rfft(x)) ** 2)))(real)
    looped = numpy.stack([cr.grad(lambda x: np.sum(np.abs(np.fft.rfft(x)) ** 2))(row) for row in real])
    numpy.testing.assert_allclose(per_example, looped, rtol=1e-12)


def test_errors_name_the_problem():
    with pytest.raises(ValueError, match="Invalid norm"):
        cr.grad(lambda x: np.sum(np.fft.rfft(x, norm="unitary").real))(real)
    with pytest.raises(ValueError, match="same length"):
        cr.grad(lambda x: np.sum(np.fft.fftn(x, s=(2, 2, 2), axes=(0, 1)).real))(real)
