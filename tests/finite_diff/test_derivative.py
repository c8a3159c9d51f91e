import warnings

import numpy as np
import pytest

import chainrule.fd as fd

SQUIRE_TRAPP_X = 1.5
SQUIRE_TRAPP_DERIVATIVE = 4.053427893898621


def squire_trapp(x):
    return np.exp(x) / np.sqrt(np.sin(x) ** 3 + np.cos(x) ** 3)


class Counter:
    def __init__(self, f):
        self.f, self.calls = f, 0

    def __call__(self, x):
        self.calls += 1
        return self.f(x)


def relative(value, exact):
    return abs(value - exact) / abs(exact)


def test_squire_trapp_central_two_evaluations_beyond_fx():
    f = Counter(squire_trapp)
    value = fd.derivative(f, SQUIRE_TRAPP_X)
    assert relative(value, SQUIRE_TRAPP_DERIVATIVE) <= 2e-10
    assert f.calls == 3  # f(x) and x +- h


def test_squire_trapp_extrapolated_eight_evaluations():
    f = Counter(squire_trapp)
    value, info = fd.derivative(f, SQUIRE_TRAPP_X, extrapolate=True, return_info=True)
    assert relative(value, SQUIRE_TRAPP_DERIVATIVE) <= 1e-13
    assert f.calls <= 8 and info.nfev == f.calls
    assert info.error >= abs(value - SQUIRE_TRAPP_DERIVATIVE)


def test_squire_trapp_complex_step_one_evaluation():
    f = Counter(squire_trapp)
    value = fd.derivative(f, SQUIRE_TRAPP_X, method="complex", probe=False)
    assert relative(value, SQUIRE_TRAPP_DERIVATIVE) <= 4.5e-16
    assert f.calls == 1
    # with the probe (the default) f(x) and two real steps are added: f must be real at x, Re f(x + ih)
    # must be f(x), and a real-step difference must agree
    f = Counter(squire_trapp)
    assert relative(fd.derivative(f, SQUIRE_TRAPP_X, method="complex"), SQUIRE_TRAPP_DERIVATIVE) <= 4.5e-16
    assert f.calls == 4


@pytest.mark.parametrize("f, exact, x, bounds", [
    (np.log, lambda x: 1 / x, 1e-7, (0, np.inf)),
    (np.log, lambda x: 1 / x, 1e12, None),
    (np.sqrt, lambda x: 0.5 / np.sqrt(x), 1e20, None),
    (np.exp, np.exp, 0.0, None),
    (lambda x: 1 / x, lambda x: -1 / x ** 2, 1e-10, None),
])
def test_robustness_cases_default_settings(f, exact, x, bounds):
    with warnings.catch_warnings():
        warnings.simplefilter("error", fd.FiniteDifferenceWarning)
        value, info = fd.derivative(f, x, bounds=bounds, return_info=True)
    assert relative(value, exact(x)) <= 1e-7
    assert info.error >= abs(value - exact(x))


def test_oscillation_unrelated_to_scale_is_found_by_step_search():
    value, info = fd.derivative(np.sin, 1e6, return_info=True)
    assert abs(value - np.cos(1e6)) <= 1e-8
    assert info.error >= abs(value - np.cos(1e6))


def test_bounds_are_never_crossed_and_one_sided_is_used():
    seen = []

    def f(x):
        seen.append(float(x))
        return np.sqrt(x)

    value, info = fd.derivative(f, 1e-3, bounds=(1e-3, 1.0), return_info=True)
    assert min(seen) >= 1e-3 and max(seen) <= 1.0
    assert relative(value, 0.5 / np.sqrt(1e-3)) < 1e-6
    assert info.status == "one-sided"


def test_nan_on_one_side_switches_sides():
    # undefined below 1 (a domain edge the caller did not declare as a bound)
    f = lambda x: np.where(x >= 1.0, (x - 1.0) ** 1.5 + x, np.nan)
    x = 1.0 + 1e-9
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        value = fd.derivative(f, x, step=1e-8)
    exact = 1.5 * np.sqrt(x - 1) + 1
    assert np.isfinite(value) and abs(value - exact) < 1e-3


def test_array_input_is_elementwise_and_keeps_shape():
    x = np.linspace(0.5, 2.0, 12).reshape(3, 4)
    f = Counter(np.sin)
    value = fd.derivative(f, x)
    assert value.shape == (3, 4)
    np.testing.assert_allclose(value, np.cos(x), rtol=1e-9, atol=1e-10)
    assert f.calls == 3  # every component shares each stencil point


def test_scalar_x_vector_output():
    value = fd.derivative(lambda t: np.array([np.sin(t), t ** 2]), 0.3)
    np.testing.assert_allclose(value, [np.cos(0.3), 0.6], rtol=1e-9)


def test_vectorized_batches_all_points_in_one_call():
    calls = []

    def f(points):
        calls.append(points.shape)
        return np.exp(points)

    value = fd.derivative(f, np.array([0.0, 1.0]), vectorized=True, extrapolate=True)
    np.testing.assert_allclose(value, np.exp([0.0, 1.0]), rtol=1e-12)
    assert all(shape[-1] >= 1 for shape in calls) and len(calls) <= 4


def test_workers_give_same_result():
    x = np.array([0.2, 0.7])
    np.testing.assert_array_equal(fd.gradient(lambda y: np.sum(np.sin(y)), x, workers=2),
                                  fd.gradient(lambda y: np.sum(np.sin(y)), x))


def test_higher_derivatives_and_orders():
    assert relative(fd.derivative(np.exp, 0.5, n=2), np.exp(0.5)) < 1e-6
    assert relative(fd.derivative(np.sin, 0.5, n=3), -np.cos(0.5)) < 1e-3
    for method, order in [("forward", 1), ("forward", 3), ("backward", 2), ("central", 4), ("central", 6)]:
        assert relative(fd.derivative(np.exp, 0.5, method=method, order=order), np.exp(0.5)) < 1e-6


def test_user_step_relative_and_absolute():
    value, info = fd.derivative(np.exp, 1e3 / 1e3, step=1e-3, return_info=True)
    assert info.step == pytest.approx(1e-3)
    value, info = fd.derivative(np.exp, 100.0, step=1e-3, absolute=True, return_info=True)
    assert info.step == pytest.approx(1e-3, rel=1e-6)
    assert relative(value, np.exp(100.0)) < 1e-6


def test_float32_in_float32_out():
    x = np.float32(0.7)
    value = fd.derivative(np.sin, x)
    assert value.dtype == np.float32
    assert relative(float(value), np.cos(0.7)) < 1e-3


def test_noise_estimate_gives_useful_derivative_of_noisy_function():
    rng = np.random.default_rng(0)
    noisy = lambda x: np.sin(x) + 1e-8 * rng.standard_normal(np.shape(x))
    sigma = fd.noise_level(noisy, 1.0)
    assert 3e-9 < sigma < 3e-8
    value, info = fd.derivative(noisy, 1.0, noise="estimate", return_info=True)
    assert abs(value - np.cos(1.0)) < 1e-4
    assert info.error >= abs(value - np.cos(1.0))


def test_untrustworthy_result_warns_and_strict_raises():
    rng = np.random.default_rng(1)
    noisy = lambda x: np.sin(x) + 1e-3 * rng.standard_normal()
    with pytest.warns(fd.FiniteDifferenceWarning):
        fd.derivative(noisy, 1.0, return_info=True)
    with pytest.raises(fd.FiniteDifferenceError):
        fd.derivative(noisy, 1.0, strict=True)
    assert issubclass(fd.FiniteDifferenceError, ArithmeticError)
    assert issubclass(fd.FiniteDifferenceWarning, UserWarning)


def test_clear_errors():
    with pytest.raises(ValueError, match="finite"):
        fd.derivative(np.sin, np.nan)
    with pytest.raises(TypeError, match="x has dtype"):
        fd.derivative(np.sin, 1)
    with pytest.raises(ValueError, match="shape"):
        fd.derivative(lambda x: np.ones(3) if x > 1 else np.ones(2), 1.0)
    with pytest.raises(ValueError, match="method"):
        fd.derivative(np.sin, 1.0, method="fancy")
    with pytest.raises(ValueError, match="elementwise|jacobian"):
        fd.derivative(lambda x: np.sum(x), np.ones(3))
    with pytest.raises(ValueError, match="outside bounds"):
        fd.derivative(np.log, -1.0, bounds=(0, np.inf))


def test_fd_module_reexports_public_api():
    import chainrule.fd
    import chainrule.finite_diff
    assert set(chainrule.fd.__all__) == set(chainrule.finite_diff.__all__)
    for name in ("derivative", "gradient", "jacobian", "jvp", "hessian", "hvp", "check_grad"):
        assert callable(getattr(chainrule.fd, name))


@pytest.mark.parametrize("f, x", [(np.log, -1.0), (np.sqrt, -4.0), (np.arcsin, 2.0), (np.log, np.float32(-1.0))])
def test_complex_step_outside_the_real_domain_is_not_ok(f, x):
    # Im f(x + ih) / h was ~1e31 with status 'ok': f(x + ih) lies on a complex branch there
    with np.errstate(invalid="ignore"), pytest.warns(fd.FiniteDifferenceWarning, match="real domain"):
        value, info = fd.derivative(f, x, method="complex", return_info=True)
    assert info.status == "nonfinite" and np.isnan(value) and value.dtype == np.asarray(x).dtype
    with np.errstate(invalid="ignore"), pytest.raises(fd.FiniteDifferenceError):
        fd.derivative(f, x, method="complex", strict=True)


def test_complex_step_of_a_complex_valued_function_falls_back_to_central():
    f = lambda x: np.log(x + 0j)  # complex on the negative axis: i*pi + log|x|
    with pytest.warns(fd.FiniteDifferenceWarning, match="complex values at real x"):
        value, info = fd.derivative(f, -2.0, method="complex", return_info=True)
    assert info.status == "not real-valued" and info.method == "central"
    assert abs(value - (-0.5)) < 1e-8


def test_bounds_too_narrow_for_any_step_warn():
    # returned 1.0 (cos(1) = 0.54) with status 'one-sided' and no warning
    with pytest.warns(fd.FiniteDifferenceWarning, match="widen the bounds"):
        value, info = fd.derivative(np.sin, 1.0, bounds=(1 - 1e-15, 1 + 1e-15), return_info=True)
    assert info.status == "inaccurate" and info.error >= abs(value - np.cos(1.0))
    with pytest.raises(fd.FiniteDifferenceError, match="widen the bounds"):
        fd.derivative(np.sin, 1.0, bounds=(1 - 1e-15, 1 + 1e-15), strict=True)


@pytest.mark.parametrize("extrapolate", [False, True])
def test_aliased_large_steps_do_not_give_an_optimistic_bound(extrapolate):
    # sin at 1e12: steps of ~1e6 alias the oscillation; the bound was 1e-7 for a true error of 0.8
    value, info = fd.derivative(np.sin, 1e12, extrapolate=extrapolate, return_info=True)
    assert info.error >= abs(value - np.cos(1e12))
    assert info.status == "ok" and abs(value - np.cos(1e12)) < 1e-5


def test_unreliable_bound_is_said_in_the_status():
    # at 1e15 only steps above 1 are representable: the estimates never settle
    with pytest.warns(fd.FiniteDifferenceWarning, match="unreliable"):
        value, info = fd.derivative(np.sin, 1e15, return_info=True)
    assert info.status == "unreliable"


def test_complex_x_is_differentiated_along_the_real_axis():
    # the imaginary part of the result was silently dropped
    z = np.array([1 + 2j, -0.5 + 0.25j])
    value = fd.derivative(np.exp, z)
    assert value.dtype == np.complex128
    np.testing.assert_allclose(value, np.exp(z), rtol=1e-8)
    np.testing.assert_allclose(fd.gradient(lambda v: np.sum(np.sin(v)), z), np.cos(z), rtol=1e-8)
    value = fd.derivative(np.exp, np.complex64(0.5 + 1j))
    assert value.dtype == np.complex64 and abs(value - np.exp(0.5 + 1j)) < 1e-3
    with pytest.raises(ValueError, match="method='complex' needs a real x"):
        fd.derivative(np.exp, 1 + 2j, method="complex")
    with pytest.raises(TypeError, match="complex dtype"):
        fd.hessian(lambda v: np.sum(v ** 2), z)


def test_complex_valued_function_of_real_x_keeps_its_imaginary_part():
    value = fd.derivative(lambda t: np.exp(1j * t), 1.0)
    assert abs(value - 1j * np.exp(1j)) < 1e-8


def test_clear_errors_for_bad_output_and_bounds():
    with pytest.raises(TypeError, match="f returned str; expected a number or an array of numbers"):
        fd.derivative(lambda x: "1.5", 1.0)
    with pytest.raises(TypeError, match="f returned an array of dtype <U"):
        fd.gradient(lambda x: np.array(["a", "b"]), np.ones(2))
    with pytest.raises(ValueError, match=r"bounds=\(nan, 2\): the lower bound is NaN"):
        fd.derivative(np.sin, 1.0, bounds=(np.nan, 2))
    with pytest.raises(ValueError, match="the upper bound is NaN"):
        fd.derivative(np.sin, 1.0, bounds=(0, float("nan")))
    with pytest.raises(ValueError, match="complex x"):
        fd.derivative(np.exp, 1 + 1j, bounds=(0, 2))
