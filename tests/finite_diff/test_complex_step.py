import numpy as np
import pytest

import chainrule.fd as fd


@pytest.mark.parametrize("f, exact, x", [
    (lambda x: x * np.abs(x), lambda x: 2 * np.abs(x), 1.3),
    (lambda x: x * np.abs(x), lambda x: 2 * np.abs(x), -0.7),
    (lambda x: x * x * np.abs(x), lambda x: 3 * x * np.abs(x), 0.9),
    (lambda x: np.where(np.real(x) > 1, x ** 2, np.abs(x) * x), lambda x: 2 * abs(x), 0.5),
    (lambda x: np.maximum(x, 0.5) ** 2 + np.abs(x), lambda x: 2 * max(x, 0.5) * (x > 0.5) + 1, 0.8),
])
def test_non_analytic_functions_are_flagged_and_answered_correctly(f, exact, x):
    with pytest.warns(fd.FiniteDifferenceWarning, match="complex-analytic"):
        value, info = fd.derivative(f, x, method="complex", return_info=True)
    assert info.status == "not analytic" and info.method == "central"
    assert abs(value - exact(x)) <= 1e-7 * max(1, abs(exact(x)))
    with pytest.raises(fd.FiniteDifferenceError):
        fd.derivative(f, x, method="complex", strict=True)


def test_analytic_functions_pass_the_probe_silently():
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for f, exact in [(np.sin, np.cos), (np.exp, np.exp), (lambda x: x ** 3, lambda x: 3 * x ** 2)]:
            for x in (1e-8, 0.3, 5.0, 1e6 if f is not np.exp else 300.0):
                value = fd.derivative(f, x, method="complex")
                assert abs(value - exact(x)) <= 1e-14 * max(1, abs(exact(x)))


def test_function_that_drops_the_imaginary_part_is_a_clear_error():
    with pytest.raises(ValueError, match="drops the imaginary part"):
        fd.derivative(lambda x: np.real(x) ** 2 + 0j, 1.0, method="complex")
    with pytest.raises(ValueError, match="drops the imaginary part"):
        fd.derivative(lambda x: np.real(x) ** 2, 1.0, method="complex")


def test_function_that_rejects_complex_input_is_a_clear_error():
    with pytest.raises(TypeError, match="method='central'"):
        fd.derivative(lambda x: np.sin(np.asarray(x).astype(float, casting="safe")), 1.0, method="complex")
    with pytest.raises(ValueError, match="drops the imaginary part"):
        fd.derivative(lambda x: np.abs(x) ** 3, 1.0, method="complex")


def test_jacobian_complex_probe_catches_non_analytic_component():
    f = lambda x: np.array([np.sin(x[0]) * x[1], x[0] * np.abs(x[1])])
    x = np.array([0.4, 1.5])
    with pytest.warns(fd.FiniteDifferenceWarning):
        j = fd.jacobian(f, x, method="complex")
    exact = np.array([[np.cos(0.4) * 1.5, np.sin(0.4)], [1.5, 0.4]])
    np.testing.assert_allclose(j, exact, rtol=1e-8)


def test_complex_step_keeps_float32():
    # float32 x was stepped in complex128, so the result came back float64
    x = np.float32([0.7, 0.2])
    value = fd.derivative(np.sin, x, method="complex")
    assert value.dtype == np.float32
    np.testing.assert_allclose(value, np.cos(x.astype(float)), rtol=1e-6)
    gradient = fd.gradient(lambda v: np.sum(np.sin(v)), x, method="complex")
    assert gradient.dtype == np.float32
    np.testing.assert_allclose(gradient, np.cos(x.astype(float)), rtol=1e-6)
