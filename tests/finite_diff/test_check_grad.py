import numpy as np
import pytest

import chainrule.fd as fd


def objective(x):
    return np.sum(np.sin(x) * x + 0.5 * x ** 2) + np.prod(np.cos(x[:3])) if x.size >= 3 else np.sum(x ** 2)


def objective_gradient(x):
    g = np.cos(x) * x + np.sin(x) + x
    c = np.cos(x[:3])
    g[:3] += -np.sin(x[:3]) * np.prod(c) / c
    return g


def scaled_problem(scale, dtype):
    """f(x) = objective(x / scale) at x = u * scale: gradient objective'(u) / scale."""
    f = lambda x: objective(np.asarray(x, dtype=dtype) / dtype(scale)).astype(dtype)
    g = lambda x: (objective_gradient(np.asarray(x, dtype=dtype) / dtype(scale)) / dtype(scale)).astype(dtype)
    return f, g


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("scale", [1e-8, 1e-4, 1.0, 1e4, 1e8])
@pytest.mark.parametrize("size", [5, 200])
def test_no_false_alarm_on_correct_gradients(dtype, scale, size):
    u = np.random.default_rng(size).uniform(0.3, 1.7, size)
    f, g = scaled_problem(scale, dtype)
    report = fd.check_grad(f, g, (u * scale).astype(dtype))
    assert report.ok, str(report)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("scale", [1e-8, 1.0, 1e8])
def test_wrong_component_found_among_small_inputs(dtype, scale):
    u = np.random.default_rng(3).uniform(0.3, 1.7, 8)
    f, g = scaled_problem(scale, dtype)
    wrong = lambda x: g(x) * np.where(np.arange(8) == 5, dtype(1.01), dtype(1.0)).astype(dtype)
    report = fd.check_grad(f, wrong, (u * scale).astype(dtype))
    assert not report.ok
    assert report.worst_index == (5,)
    assert report.max_rel_error == pytest.approx(0.01, rel=0.3)
    assert "MISMATCH" in str(report) and "x[5]" in str(report)


@pytest.mark.parametrize("bad", [0, 417, 999])
def test_bisection_finds_one_wrong_component_in_1000_within_25_directional_checks(bad):
    u = np.random.default_rng(bad).uniform(0.3, 1.7, 1000)
    wrong = lambda x: objective_gradient(x) + 1e-3 * (np.arange(x.size) == bad)
    report = fd.check_grad(objective, wrong, u)
    assert not report.ok
    assert report.worst_index == (bad,)
    assert report.directional_checks <= 25
    assert report.analytic - report.numeric == pytest.approx(1e-3, rel=1e-3)


def test_matrix_shaped_input_index_is_a_tuple():
    x = np.random.default_rng(0).uniform(0.3, 1.7, (40, 30))
    f = lambda a: np.sum(np.exp(np.sin(a)))
    g = lambda a: np.cos(a) * np.exp(np.sin(a)) + (np.arange(a.size).reshape(a.shape) == 77) * 0.1
    report = fd.check_grad(f, g, x)
    assert not report.ok and report.worst_index == (2, 17)


def test_taylor_remainder_slope_separates_right_from_wrong():
    x = np.array([0.3, 0.9, 1.4])
    report = fd.check_grad(objective, lambda y: objective_gradient(y) * 1.1, x)
    assert not report.ok
    assert report.taylor_slope == pytest.approx(1.0, abs=0.2)


def test_shape_and_scalar_errors():
    with pytest.raises(ValueError, match="shape"):
        fd.check_grad(lambda x: np.sum(x), lambda x: np.ones(2), np.ones(3))
    with pytest.raises(ValueError, match="scalar"):
        fd.check_grad(lambda x: x, lambda x: np.ones(3), np.ones(3))


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
@pytest.mark.parametrize("f", [lambda x: np.sum(np.log(x)), lambda x: np.nan * np.sum(x),
                               lambda x: np.inf + np.sum(x)])
def test_a_function_that_is_not_finite_at_x_is_never_ok(f):
    # check_grad used to report ok=True with a NaN error when f(x) itself was NaN or infinite.
    report = fd.check_grad(f, lambda x: 1.0 / x, np.array([1.0, -1.0]))
    assert not report.ok and "no derivative to compare" in " ".join(report.notes)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_differences_that_leave_the_domain_are_not_ok():
    # sqrt at 1e-30: a central difference steps below 0, where f is NaN.
    report = fd.check_grad(lambda x: np.sum(np.sqrt(x)), lambda x: 0.5 / np.sqrt(x), np.array([1e-30, 1.0]))
    assert not report.ok and "NaN or infinite at a point" in " ".join(report.notes)
