import numpy as np
import pytest

import chainrule.fd as fd


def rosenbrock(x):
    return np.sum(100 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2)


def rosenbrock_gradient(x):
    g = np.zeros_like(x)
    g[:-1] = -400 * x[:-1] * (x[1:] - x[:-1] ** 2) - 2 * (1 - x[:-1])
    g[1:] += 200 * (x[1:] - x[:-1] ** 2)
    return g


def rosenbrock_hessian(x):
    n = len(x)
    h = np.zeros((n, n))
    for i in range(n - 1):
        h[i, i] += 1200 * x[i] ** 2 - 400 * x[i + 1] + 2
        h[i, i + 1] -= 400 * x[i]
        h[i + 1, i] -= 400 * x[i]
        h[i + 1, i + 1] += 200
    return h


@pytest.fixture
def point():
    return np.random.default_rng(0).uniform(-2, 2, 20)


def max_relative(a, b):
    return np.max(np.abs(a - b)) / np.max(np.abs(b))


def test_rosenbrock_hessian_from_exact_gradient(point):
    calls = []
    grad = lambda x: calls.append(1) or rosenbrock_gradient(x)
    h = fd.hessian(rosenbrock, point, grad=grad)
    assert max_relative(h, rosenbrock_hessian(point)) <= 1e-10
    assert len(calls) <= 2 * point.size
    assert np.array_equal(h, h.T)


def test_rosenbrock_hessian_from_function_values(point):
    h, info = fd.hessian(rosenbrock, point, return_info=True)
    exact = rosenbrock_hessian(point)
    assert max_relative(h, exact) <= 1e-6  # documented: about 1e-7 relative
    assert np.array_equal(h, h.T)
    assert np.all(info.error >= np.abs(h - exact))


def test_hvp_forward_and_central(point):
    v = np.random.default_rng(1).standard_normal(point.size)
    exact = rosenbrock_hessian(point) @ v
    forward = fd.hvp(rosenbrock, point, v, grad=rosenbrock_gradient, method="forward")
    central = fd.hvp(rosenbrock, point, v, grad=rosenbrock_gradient, method="central")
    assert max_relative(forward, exact) <= 3e-8
    assert max_relative(central, exact) <= 1e-10
    assert max_relative(fd.hvp(rosenbrock, point, v), exact) <= 1e-6


def test_gradient_keeps_shape_of_matrix_input():
    x = np.arange(1.0, 13.0).reshape(3, 4)
    g = fd.gradient(lambda a: np.sum(np.sin(a) * a), x)
    assert g.shape == (3, 4)
    np.testing.assert_allclose(g, np.sin(x) + x * np.cos(x), rtol=1e-8, atol=1e-9)


def test_jacobian_shape_is_output_then_input():
    x = np.array([[1.0, 2.0], [3.0, 4.0]])
    j = fd.jacobian(lambda a: np.stack([a.sum(axis=0), (a ** 2).sum(axis=0), a[0]]), x)
    assert j.shape == (3, 2) + (2, 2)
    exact = np.zeros((3, 2, 2, 2))
    for k in range(2):
        exact[0, k, :, k] = 1
        exact[1, k, :, k] = 2 * x[:, k]
        exact[2, k, 0, k] = 1
    np.testing.assert_allclose(j, exact, atol=1e-8)


def test_gradient_evaluates_f_at_x_once_and_reports_error(point):
    calls = []
    f = lambda x: calls.append(x.copy()) or rosenbrock(x)
    g, info = fd.gradient(f, point, return_info=True)
    exact = rosenbrock_gradient(point)
    assert sum(np.array_equal(c, point) for c in calls) == 1
    assert np.all(info.error >= np.abs(g - exact))
    assert max_relative(g, exact) < 1e-9


def test_jvp_matches_gradient_dot_direction(point):
    v = np.random.default_rng(2).standard_normal(point.size)
    value, info = fd.jvp(rosenbrock, point, v, return_info=True)
    exact = rosenbrock_gradient(point) @ v
    assert abs(value - exact) <= info.error
    assert abs(value - exact) / abs(exact) < 1e-9
    np.testing.assert_allclose(fd.jvp(rosenbrock, point, v, extrapolate=True), exact, rtol=1e-11)


def test_gradient_complex_and_extrapolated(point):
    exact = rosenbrock_gradient(point)
    assert max_relative(fd.gradient(rosenbrock, point, method="complex"), exact) < 1e-14
    assert max_relative(fd.gradient(rosenbrock, point, extrapolate=True), exact) < 3e-12


def test_gradient_rejects_vector_output_and_bad_grad():
    with pytest.raises(ValueError, match="scalar"):
        fd.gradient(lambda x: x, np.ones(3))
    with pytest.raises(ValueError, match="grad must return"):
        fd.hessian(rosenbrock, np.ones(3), grad=lambda x: np.ones(2))
