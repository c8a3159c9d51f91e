"""scipy.signal convolve and correlate on N-d inputs: values against SciPy, derivatives in both inputs against
jax.scipy.signal, second order by finite differences."""
import numpy
import pytest
import scipy.signal

import chainrule as cr
import chainrule.numpy as np
import chainrule.scipy.signal as signal
from chainrule.testing import check_grads

import jax  # the independent oracle: installed by the test extra
jax.config.update("jax_enable_x64", True)
import jax.numpy as jnp  # noqa: E402
import jax.scipy.signal as jsignal  # noqa: E402

rng = numpy.random.default_rng(7)

SHAPES = {
    "1-d": ((6,), (3,)),
    "2-d": ((5, 4), (2, 3)),
    "2-d kernel larger": ((2, 3), (4, 5)),
    "2-d even kernel": ((4, 6), (2, 2)),
    "3-d": ((3, 4, 5), (2, 2, 3)),
}


def _pair(shapes, complex_values):
    pair = [rng.standard_normal(s) for s in shapes]
    if complex_values:
        pair = [p + 1j * rng.standard_normal(p.shape) for p in pair]
    return pair


@pytest.mark.parametrize("complex_values", [False, True], ids=["real", "complex"])
@pytest.mark.parametrize("case", sorted(SHAPES))
def test_values_match_scipy_for_every_mode_and_method(case, complex_values):
    a, b = _pair(SHAPES[case], complex_values)
    for name in ("convolve", "correlate"):
        for mode in ("full", "same", "valid"):
            expected = getattr(scipy.signal, name)(a, b, mode=mode)
            for method in ("direct", "fft"):
                got = cr.jvp(lambda x, y: getattr(signal, name)(x, y, mode=mode, method=method), (a, b), (a, b))[0]
                assert got.shape == expected.shape, (name, mode, method)
                numpy.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-12, err_msg=f"{name} {mode} {method}")


def test_auto_method_switches_to_fft_for_large_inputs():
    image, kernel = rng.standard_normal((64, 64)), rng.standard_normal((32, 32))  # 95^2 outputs x 1024 products
    value, tangent = cr.jvp(lambda x: signal.correlate(x, kernel), (image,), (image,))
    numpy.testing.assert_allclose(value, scipy.signal.correlate(image, kernel), rtol=1e-9, atol=1e-9)
    numpy.testing.assert_allclose(tangent, value, rtol=1e-9, atol=1e-9)  # linear in the image


def _scalar(module, m, name, mode):
    def scalar(x, y):
        out = getattr(module, name)(x, y, mode=mode)
        weights = numpy.linspace(0.5, 1.5, out.size).reshape(out.shape)
        return m.sum(m.real(m.sin(out)) * weights)
    return scalar


@pytest.mark.parametrize("complex_values", [False, True], ids=["real", "complex"])
@pytest.mark.parametrize("case", ["2-d", "2-d kernel larger", "3-d"])
def test_gradients_in_both_inputs_match_jax(case, complex_values):
    a, b = _pair(SHAPES[case], complex_values)
    for name in ("convolve", "correlate"):
        for mode in ("full", "same", "valid"):
            got = cr.grad(_scalar(signal, np, name, mode), argnums=(0, 1))(a, b)
            expected = jax.jit(jax.grad(_scalar(jsignal, jnp, name, mode), argnums=(0, 1)))(a, b)
            for position, (g, e) in enumerate(zip(got, expected)):
                numpy.testing.assert_allclose(g, e, rtol=1e-9, atol=1e-11, err_msg=f"{name} {mode} input {position}")


@pytest.mark.parametrize("method", ["direct", "fft"])
def test_second_order_against_finite_differences(method):
    a, b = _pair(SHAPES["2-d"], False)
    check_grads(lambda x, y: signal.convolve(np.sin(x), y * y, mode="same", method=method), (a, b), order=2)
    c, d = _pair(((3, 2), (2, 2)), True)
    check_grads(lambda x, y: signal.correlate(x, y, mode="valid", method=method), (c, d), order=2)


def test_per_example_gradients_with_vmap():
    images, kernel = rng.standard_normal((3, 5, 4)), rng.standard_normal((2, 2))

    def loss(k, image):
        return np.sum(signal.convolve(image, k, mode="valid") ** 2)
    batched = cr.vmap(cr.grad(loss), in_axes=(None, 0))(kernel, images)
    for image, g in zip(images, batched):
        numpy.testing.assert_allclose(g, cr.grad(loss)(kernel, image), rtol=1e-12)


def test_errors_name_the_problem():
    x = rng.standard_normal((3, 4))
    with pytest.raises(ValueError, match="same number of dimensions"):
        cr.grad(lambda a: np.sum(signal.convolve(a, numpy.ones(2))))(x)
    with pytest.raises(ValueError, match="at least as large as the other in every dimension"):
        cr.grad(lambda a: np.sum(signal.correlate(a, numpy.ones((2, 5)), mode="valid")))(x)
    with pytest.raises(ValueError, match="mode must be"):
        cr.grad(lambda a: np.sum(signal.convolve(a, numpy.ones((2, 2)), mode="circular")))(x)
    with pytest.raises(ValueError, match="method must be"):
        cr.grad(lambda a: np.sum(signal.convolve(a, numpy.ones((2, 2)), method="overlap")))(x)
