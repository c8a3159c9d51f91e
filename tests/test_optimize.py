"""chainrule.optimize: implicit derivatives of root, fixed_point, minimize and custom_root against unrolled
iterations, central differences of re-solving, closed forms and JAX; first-order optimizers against the
update formulas written out here."""
import sys
import types
import warnings

import numpy
import pytest
import scipy.optimize

import chainrule as cr
import chainrule.numpy as np
import chainrule.optimize as opt
from optimize_problems import central_difference, relative_error, tanh_map, tanh_problem as _tanh_problem

jax = pytest.importorskip("jax")
jax.config.update("jax_enable_x64", True)
jnp = jax.numpy

RTOL = 1e-10


def tanh_problem(n=12, seed=0, dtype=numpy.float64):
    return _tanh_problem(n, seed, dtype)


# ------------------------------------------------------------------------------------------- fixed points

def unrolled_fixed_point(W, b, iterations=300):
    x = np.zeros(b.shape, dtype=b.dtype)
    for _ in range(iterations):
        x = tanh_map(x, W, b)
    return x


@pytest.mark.parametrize("linear_solve", ["auto", "dense", "gmres", "bicgstab"])
def test_fixed_point_gradient_matches_unrolled_gradient(linear_solve):
    W, b, c = tanh_problem()
    x0 = numpy.zeros_like(b)

    def implicit_loss(W, b):
        return np.sum(c * opt.fixed_point(tanh_map, x0, W, b, linear_solve=linear_solve))

    def unrolled_loss(W, b):
        return np.sum(c * unrolled_fixed_point(W, b))

    gW, gb = cr.grad(implicit_loss, argnums=(0, 1))(W, b)
    uW, ub = cr.grad(unrolled_loss, argnums=(0, 1))(W, b)
    assert relative_error(gW, uW) < RTOL and relative_error(gb, ub) < RTOL
    assert numpy.isclose(float(implicit_loss(W, b)), float(unrolled_loss(W, b)), rtol=1e-13)


def test_fixed_point_gradient_matches_jax_unrolled_and_central_differences():
    W, b, c = tanh_problem(n=6, seed=1)
    x0 = numpy.zeros_like(b)

    def jax_loss(b):
        x = jnp.zeros_like(b)
        for _ in range(200):
            x = jnp.tanh(W @ x + b)
        return jnp.sum(c * x)

    gradient = cr.grad(lambda b: np.sum(c * opt.fixed_point(tanh_map, x0, W, b)))(b)
    assert relative_error(gradient, numpy.asarray(jax.grad(jax_loss)(b))) < RTOL
    solution = lambda b: numpy.sum(c * numpy.asarray(opt.fixed_point(tanh_map, x0, W, b)))
    assert relative_error(gradient, central_difference(solution, b)) < 1e-7


def test_fixed_point_jvp_vjp_and_jacobians_agree_with_unrolled():
    W, b, _ = tanh_problem(n=5, seed=2)
    x0 = numpy.zeros_like(b)
    solve = lambda b: opt.fixed_point(tanh_map, x0, W, b)
    unrolled = lambda b: unrolled_fixed_point(W, b)
    v = numpy.random.default_rng(3).standard_normal(b.shape)
    x, x_dot = cr.jvp(solve, (b,), (v,))
    ux, ux_dot = cr.jvp(unrolled, (b,), (v,))
    assert relative_error(x, ux) < 1e-13 and relative_error(x_dot, ux_dot) < RTOL
    _, pullback = cr.vjp(solve, b)
    _, unrolled_pullback = cr.vjp(unrolled, b)
    assert relative_error(pullback(v)[0], unrolled_pullback(v)[0]) < RTOL
    reference = cr.jacfwd(unrolled)(b)
    assert relative_error(cr.jacfwd(solve)(b), reference) < RTOL
    assert relative_error(cr.jacrev(solve)(b), reference) < RTOL


def test_fixed_point_iterate_method_and_pytrees():
    W, b, c = tanh_problem(n=4, seed=4)

    def pair_map(state, params):
        x, y = state["x"], state["y"]
        return {"x": np.tanh(params["W"] @ y + params["b"]), "y": 0.5 * np.sin(x)}

    x0 = {"x": numpy.zeros(4), "y": numpy.zeros(4)}
    params = {"W": W, "b": b}

    def loss(params, method):
        state = opt.fixed_point(pair_map, x0, params, method=method)
        return np.sum(c * state["x"]) + np.sum(state["y"] ** 2)

    def unrolled(params):
        state = x0
        for _ in range(300):
            state = pair_map(state, params)
        return np.sum(c * state["x"]) + np.sum(state["y"] ** 2)

    expected = cr.grad(unrolled)(params)
    for method in ("anderson", "iterate"):
        gradient = cr.grad(loss)(params, method)
        assert set(gradient) == {"W", "b"}
        for key in gradient:
            assert relative_error(gradient[key], expected[key]) < RTOL


def test_fixed_point_float32_in_float32_out():
    W, b, c = tanh_problem(n=6, seed=5, dtype=numpy.float32)
    x0 = numpy.zeros_like(b)
    x = opt.fixed_point(tanh_map, x0, W, b)
    assert x.dtype == numpy.float32
    gradient = cr.grad(lambda b: np.sum(c * opt.fixed_point(tanh_map, x0, W, b)))(b)
    assert gradient.dtype == numpy.float32
    reference = cr.grad(lambda b: np.sum(c * unrolled_fixed_point(W.astype(float), b)))(b.astype(float))
    assert relative_error(gradient, reference) < 1e-5
    x_dot = cr.jvp(lambda b: opt.fixed_point(tanh_map, x0, W, b), (b,), (numpy.ones_like(b),))[1]
    assert x_dot.dtype == numpy.float32


def complex_map(z, a, shift):
    # Not holomorphic in z (conj), so the system is solved in real coordinates.
    return 0.3 * np.tanh(a * z) + 0.2 * np.conj(z) + shift


def test_fixed_point_complex_non_holomorphic_map():
    rng = numpy.random.default_rng(6)
    a = rng.standard_normal(3)
    shift = rng.standard_normal(3) + 1j * rng.standard_normal(3)
    z0 = numpy.zeros(3, complex)

    def loss(a, shift, solve):
        z = solve(a, shift)
        return np.sum(np.abs(z) ** 2 + np.real(z))

    implicit = lambda a, shift: opt.fixed_point(complex_map, z0, a, shift)

    def unrolled(a, shift):
        z = z0
        for _ in range(200):
            z = complex_map(z, a, shift)
        return z

    assert implicit(a, shift).dtype == numpy.complex128
    ga, gs = cr.grad(loss, argnums=(0, 1))(a, shift, implicit)
    ua, us = cr.grad(loss, argnums=(0, 1))(a, shift, unrolled)
    assert relative_error(ga, ua) < RTOL and relative_error(gs, us) < RTOL
    plain = lambda a: float(loss(a, shift, implicit))
    assert relative_error(ga, central_difference(plain, a)) < 1e-7
    v = rng.standard_normal(3) + 1j * rng.standard_normal(3)
    _, z_dot = cr.jvp(lambda s: implicit(a, s), (shift,), (v,))
    _, uz_dot = cr.jvp(lambda s: unrolled(a, s), (shift,), (v,))
    assert relative_error(z_dot, uz_dot) < RTOL


def test_fixed_point_gradient_independent_of_start_and_iteration_path():
    W, b, c = tanh_problem(n=8, seed=7)
    loss = lambda b, x0, method: np.sum(c * opt.fixed_point(tanh_map, x0, W, b, method=method))
    first = cr.grad(loss)(b, numpy.zeros(8), "anderson")
    second = cr.grad(loss)(b, numpy.ones(8), "iterate")
    assert relative_error(first, second) < RTOL
    # A start computed from the parameter carries no derivative: the solution does not depend on it.
    third = cr.grad(lambda b: loss(b, np.tanh(b), "anderson"))(b)
    assert relative_error(third, first) < RTOL


def test_fixed_point_non_convergence_warns_with_residual():
    W, b, _ = tanh_problem(n=5)
    with pytest.warns(opt.ConvergenceWarning, match="residual"):
        opt.fixed_point(tanh_map, numpy.zeros(5), W, b, maxiter=3, method="iterate")


def test_fixed_point_of_expanding_map_warns():
    with pytest.warns(opt.ConvergenceWarning, match="did not converge"):
        opt.fixed_point(lambda x, a: a * x + 1.0, 0.5, 3.0, maxiter=50, method="iterate")


# ------------------------------------------------------------------------------------------- roots

def test_root_scalar_gradient_matches_closed_form():
    f = lambda x, a: x ** 3 - a
    for a in (8.0, 2.5):
        x = opt.root(f, 1.0, a)
        assert abs(float(x) - a ** (1 / 3)) < 1e-14
        gradient = cr.grad(lambda a: opt.root(f, 1.0, a))(a)
        assert abs(float(gradient) - (1 / 3) * a ** (-2 / 3)) < 1e-14
        _, tangent = cr.jvp(lambda a: opt.root(f, 1.0, a), (a,), (1.0,))
        assert abs(float(tangent) - float(gradient)) < 1e-15


def nonlinear_system(x, A, b):
    return A @ x + 0.1 * x ** 3 - b


@pytest.mark.parametrize("method", ["newton", "hybr", "lm", "krylov"])
def test_root_vector_jacobian_matches_jax_and_central_differences(method):
    rng = numpy.random.default_rng(8)
    A = 3.0 * numpy.eye(4) + 0.3 * rng.standard_normal((4, 4))
    b = rng.standard_normal(4)
    x0 = numpy.zeros(4)
    solve = lambda b: opt.root(nonlinear_system, x0, A, b, method=method)
    x = numpy.asarray(solve(b))
    assert numpy.linalg.norm(nonlinear_system(x, A, b)) < 1e-10
    jacobian = cr.jacobian(solve)(b)
    # The implicit function theorem written in JAX: dx/db = (dF/dx)^-1.
    dF_dx = numpy.asarray(jax.jacfwd(lambda x: A @ x + 0.1 * x ** 3 - b)(x))
    assert relative_error(jacobian, numpy.linalg.inv(dF_dx)) < 1e-9
    assert relative_error(jacobian, central_difference(lambda b: numpy.asarray(solve(b)), b)) < 1e-6


def test_root_with_respect_to_a_matrix_parameter_gmres():
    rng = numpy.random.default_rng(9)
    A = 3.0 * numpy.eye(5) + 0.3 * rng.standard_normal((5, 5))
    b, c = rng.standard_normal(5), rng.standard_normal(5)
    loss = lambda A, linear_solve: np.sum(c * opt.root(nonlinear_system, numpy.zeros(5), A, b,
                                                       linear_solve=linear_solve))
    dense = cr.grad(loss)(A, "dense")
    gmres = cr.grad(loss)(A, "gmres")
    assert relative_error(gmres, dense) < RTOL
    plain = lambda A: float(loss(A, "dense"))
    assert relative_error(dense, central_difference(plain, A)) < 1e-7


def test_root_float32_and_complex():
    x = opt.root(lambda x, a: x ** 2 - a, numpy.float32(1.0), numpy.float32(2.0))
    assert x.dtype == numpy.float32 and abs(float(x) - numpy.sqrt(2.0)) < 1e-6
    gradient = cr.grad(lambda a: opt.root(lambda x, a: x ** 2 - a, numpy.float32(1.0), a))(numpy.float32(2.0))
    assert gradient.dtype == numpy.float32 and abs(float(gradient) - 0.5 / numpy.sqrt(2.0)) < 1e-6
    # A holomorphic root: z² = w, so dz/dw = 1 / (2 z) in forward mode.
    w = numpy.complex128(3.0 + 4.0j)
    z, z_dot = cr.jvp(lambda w: opt.root(lambda z, w: z ** 2 - w, numpy.complex128(1.0 + 1.0j), w), (w,), (1.0 + 0j,))
    assert abs(z - (2.0 + 1.0j)) < 1e-13 and abs(z_dot - 1.0 / (2.0 * z)) < 1e-13


def test_root_static_parameters_pass_through():
    def f(x, a, power, name):
        assert isinstance(power, int) and name == "label"
        return x ** power - a
    gradient = cr.grad(lambda a: opt.root(f, 1.0, a, 2, "label"))(9.0)
    assert abs(float(gradient) - 1.0 / 6.0) < 1e-14


def test_custom_root_with_a_scipy_solver():
    @opt.custom_root(lambda x, a: np.cos(x) - a * x)
    def solve(x0, a):
        return scipy.optimize.brentq(lambda x: numpy.cos(x) - a * x, 0.0, 2.0, xtol=1e-15)

    a = 1.5
    x = float(solve(0.0, a))
    gradient = float(cr.grad(lambda a: solve(0.0, a))(a))
    assert abs(gradient - (-x / (numpy.sin(x) + a))) < 1e-12   # dx/da = -F_a / F_x
    tangent = float(cr.jvp(lambda a: solve(0.0, a), (a,), (1.0,))[1])
    assert abs(tangent - gradient) < 1e-14


# ------------------------------------------------------------------------------------------- errors

def test_closure_over_a_differentiated_value_is_refused():
    W, b, _ = tanh_problem(n=3)
    with pytest.raises(TypeError, match="parameter"):
        cr.grad(lambda b: np.sum(opt.fixed_point(lambda x: np.tanh(W @ x + b), numpy.zeros(3))))(b)


def test_bad_inputs_name_the_problem():
    f = lambda x, a: x ** 3 - a
    with pytest.raises(TypeError, match="dtype int"):
        opt.root(f, numpy.array([1, 2]), 8.0)
    with pytest.raises(ValueError, match="method='secant'"):
        opt.root(f, 1.0, 8.0, method="secant")
    with pytest.raises(ValueError, match="linear_solve='lu'"):
        opt.fixed_point(lambda x, a: a * x, 1.0, 0.5, linear_solve="lu")
    with pytest.raises(ValueError, match="shape"):
        opt.root(lambda x, a: np.sum(x) - a, numpy.ones(2), 1.0)
    with pytest.raises(ValueError, match="maxiter"):
        opt.fixed_point(lambda x, a: a * x, 1.0, 0.5, maxiter=0)


def test_singular_jacobian_at_the_solution_is_reported():
    # x² = a at a = 0: the root 0 has dF/dx = 0, so the solution is not differentiable there.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", opt.ConvergenceWarning)
        with pytest.raises(numpy.linalg.LinAlgError, match="singular"):
            cr.grad(lambda a: opt.root(lambda x, a: x ** 2 - a, 0.0, a))(0.0)


# ------------------------------------------------------------------------------------------- minimize

def quadratic_problem(n=4, seed=10):
    rng = numpy.random.default_rng(seed)
    M = rng.standard_normal((n, n))
    return M @ M.T + n * numpy.eye(n), rng.standard_normal(n)


def quadratic(x, A, b):
    return 0.5 * x @ A @ x - b @ x


@pytest.mark.parametrize("method", ["BFGS", "L-BFGS-B", "CG", "Newton-CG", "trust-ncg", "trust-krylov",
                                    "trust-exact", "dogleg", "trust-constr", "Nelder-Mead"])
def test_minimize_quadratic_matches_closed_form(method):
    A, b = quadratic_problem()
    options = {"xatol": 1e-10, "fatol": 1e-14, "maxiter": 20000} if method == "Nelder-Mead" else None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", opt.ConvergenceWarning)
        result = opt.minimize(quadratic, numpy.zeros(4), A, b, method=method, options=options)
    assert isinstance(result, scipy.optimize.OptimizeResult)
    assert relative_error(result.x, numpy.linalg.solve(A, b)) < 1e-10


def test_minimize_supplies_hessp_and_hess_where_the_method_takes_them(monkeypatch):
    seen = {}
    original = scipy.optimize.minimize

    def spy(fun, x0, **kwargs):
        seen[kwargs["method"]] = sorted(k for k in ("jac", "hess", "hessp") if kwargs.get(k) is not None)
        return original(fun, x0, **kwargs)

    monkeypatch.setattr(scipy.optimize, "minimize", spy)
    A, b = quadratic_problem()
    for method in ("BFGS", "Newton-CG", "trust-exact", "Nelder-Mead"):
        opt.minimize(quadratic, numpy.zeros(4), A, b, method=method,
                     options={"maxiter": 20000} if method == "Nelder-Mead" else None)
    assert seen == {"BFGS": ["jac"], "Newton-CG": ["hessp", "jac"], "trust-exact": ["hess", "jac"],
                    "Nelder-Mead": []}


def test_minimizer_derivatives_match_closed_form_and_jax():
    A, b = quadratic_problem()
    c = numpy.random.default_rng(11).standard_normal(4)
    solve = lambda A, b: opt.minimize(quadratic, numpy.zeros(4), A, b).x
    assert relative_error(cr.jacobian(lambda b: solve(A, b))(b), numpy.linalg.inv(A)) < 1e-10
    gA, gb = cr.grad(lambda A, b: np.sum(c * solve(A, b)), argnums=(0, 1))(A, b)
    jA, jb = jax.grad(lambda A, b: jnp.sum(c * jnp.linalg.solve(A, b)), argnums=(0, 1))(A, b)
    # Only the symmetric part of dA is seen by a quadratic form; JAX's solve sees all of A.
    assert relative_error(gA, 0.5 * (numpy.asarray(jA) + numpy.asarray(jA).T)) < 1e-9
    assert relative_error(gb, jb) < 1e-10
    v = numpy.random.default_rng(12).standard_normal(4)
    _, x_dot = cr.jvp(lambda b: solve(A, b), (b,), (v,))
    assert relative_error(x_dot, numpy.linalg.solve(A, v)) < 1e-10


@pytest.mark.parametrize("n,linear_solve", [(60, "auto"), (5, "cg"), (5, "gmres")])
def test_minimizer_tangent_by_conjugate_gradients_and_gmres(n, linear_solve):
    A, b = quadratic_problem(n=n, seed=13)
    v = numpy.random.default_rng(14).standard_normal(n)
    solve = lambda b: opt.minimize(quadratic, numpy.zeros(n), A, b, method="trust-ncg",
                                   linear_solve=linear_solve).x
    _, x_dot = cr.jvp(solve, (b,), (v,))
    assert relative_error(x_dot, numpy.linalg.solve(A, v)) < 1e-10
    _, pullback = cr.vjp(solve, b)
    assert relative_error(pullback(v)[0], numpy.linalg.solve(A.T, v)) < 1e-10


def test_minimizer_of_a_nonquadratic_matches_central_differences_of_resolving():
    def fun(x, theta):
        return np.sum(np.exp(x) - theta * x) + 0.5 * np.sum(x ** 2) + 0.1 * x[0] * x[1]

    theta = numpy.array([2.0, 0.5, 1.5])
    solve = lambda theta, method: opt.minimize(fun, numpy.zeros(3), theta, method=method).x
    for method in ("BFGS", "Newton-CG"):
        jacobian = cr.jacobian(lambda t: solve(t, method))(theta)
        reference = central_difference(lambda t: numpy.asarray(solve(t, method)), theta, step=1e-5)
        assert relative_error(jacobian, reference) < 1e-7


def test_minimize_pytree_float32_and_refusals():
    def fun(params, target):
        return np.sum((params["w"] - target) ** 2) + np.sum((params["b"] + 1.0) ** 2)

    x0 = {"w": numpy.zeros((2, 2), numpy.float32), "b": numpy.zeros(3, numpy.float32)}
    target = numpy.arange(4.0, dtype=numpy.float32).reshape(2, 2)
    result = opt.minimize(fun, x0, target)
    assert result.x["w"].dtype == numpy.float32 and result.x["w"].shape == (2, 2)
    assert numpy.allclose(result.x["w"], target, atol=1e-5) and numpy.allclose(result.x["b"], -1.0, atol=1e-5)
    gradient = cr.grad(lambda t: np.sum(opt.minimize(fun, x0, t).x["w"]))(target)
    assert gradient.dtype == numpy.float32 and numpy.allclose(gradient, 1.0, atol=1e-5)
    with pytest.raises(TypeError, match="complex"):
        opt.minimize(lambda z: np.sum(np.abs(z) ** 2), numpy.ones(2, complex))
    with pytest.raises(TypeError, match="method"):
        opt.minimize(quadratic, numpy.zeros(2), numpy.eye(2), numpy.ones(2), method=None)


def test_minimize_with_bounds_differentiates_interior_and_active_coordinates():
    A, b = quadratic_problem(n=2)
    interior = [(-10.0, 10.0)] * 2
    jacobian = cr.jacobian(lambda b: opt.minimize(quadratic, numpy.zeros(2), A, b, method="L-BFGS-B",
                                                  bounds=interior).x)(b)
    assert relative_error(jacobian, numpy.linalg.inv(A)) < 1e-8
    # x0 held at 0 by its bounds: it stays there, and x1 = b1 / A11 moves alone
    active = [(0.0, 0.0), (None, None)]
    jacobian = cr.jacobian(lambda b: opt.minimize(quadratic, numpy.zeros(2), A, b, method="L-BFGS-B",
                                                  bounds=active).x)(b)
    numpy.testing.assert_allclose(jacobian, [[0.0, 0.0], [0.0, 1.0 / A[1, 1]]], atol=1e-10)


def test_a_box_constrained_minimizer_has_the_derivative_of_its_free_coordinates():
    # a quadratic on a box: with the active set fixed, x_F = A_FF^-1 (p_F - A_FA x_A); rows of active coordinates
    # are zero, and so are the columns of the parameters of active coordinates
    A = numpy.array([[3.0, 1.0, 0.2], [1.0, 2.0, 0.3], [0.2, 0.3, 1.5]])
    objective = lambda x, p: 0.5 * x @ A @ x - p @ x  # noqa: E731
    bounds = [(0.0, 1.0), (-1.0, 0.2), (None, 0.5)]
    minimizer = lambda p: opt.minimize(objective, numpy.zeros(3), p, method="L-BFGS-B", bounds=bounds,  # noqa: E731
                                       options={"gtol": 1e-14, "ftol": 1e-16}).x
    for p, free in ((numpy.array([2.0, 1.5, 0.3]), [0, 2]), (numpy.array([-1.0, 0.5, 2.0]), [1]),
                    (numpy.array([0.5, 0.1, 0.2]), [0, 1, 2])):
        expected = numpy.zeros((3, 3))
        expected[numpy.ix_(free, free)] = numpy.linalg.inv(A[numpy.ix_(free, free)])
        for transform in (cr.jacfwd, cr.jacrev, lambda f: cr.jit(cr.jacfwd(f))):
            numpy.testing.assert_allclose(transform(minimizer)(p), expected, atol=1e-9)
    # on a bound with a zero gradient (the unconstrained minimizer sits on it): no derivative, refused
    with pytest.raises(NotImplementedError, match="zero gradient"):
        cr.jacfwd(lambda p: opt.minimize(objective, numpy.zeros(3), p, method="L-BFGS-B", bounds=bounds).x)(
            numpy.zeros(3))


# ------------------------------------------------------------------------------------------- first order

def reference_sgd(grad, x, num_iters, step_size, mass):
    velocity, iterates = numpy.zeros_like(x), []
    for i in range(num_iters):
        iterates.append(x.copy())
        velocity = mass * velocity - (1.0 - mass) * grad(x, i)
        x = x + step_size * velocity
    return x, iterates


def reference_momentum(grad, x, num_iters, step_size, mass, nesterov):
    velocity, iterates = numpy.zeros_like(x), []
    for i in range(num_iters):
        point = x + mass * velocity if nesterov else x
        iterates.append(point.copy())
        velocity = mass * velocity - step_size * grad(point, i)
        x = x + velocity
    return x, iterates


def reference_rmsprop(grad, x, num_iters, step_size, gamma, eps):
    square, iterates = numpy.ones_like(x), []
    for i in range(num_iters):
        iterates.append(x.copy())
        g = grad(x, i)
        square = gamma * square + (1.0 - gamma) * g * g
        x = x - step_size * g / (numpy.sqrt(square) + eps)
    return x, iterates


def reference_adam(grad, x, num_iters, step_size, b1, b2, eps):
    m, v, iterates = numpy.zeros_like(x), numpy.zeros_like(x), []
    for t in range(1, num_iters + 1):
        iterates.append(x.copy())
        g = grad(x, t - 1)
        m = b1 * m + (1.0 - b1) * g
        v = b2 * v + (1.0 - b2) * g * g
        x = x - step_size * (m / (1.0 - b1 ** t)) / (numpy.sqrt(v / (1.0 - b2 ** t)) + eps)
    return x, iterates


def stochastic_loss(x, i):
    # The iteration number picks the target, as a mini-batch index would.
    return np.sum((x - numpy.array([1.0, -2.0, 0.5]) * (1.0 + 0.1 * (i % 3))) ** 2) + np.sum(np.sin(x))


OPTIMIZERS = [
    ("sgd", {"step_size": 0.1, "mass": 0.9}, lambda g, x, n, h: reference_sgd(g, x, n, **h)),
    ("momentum", {"step_size": 0.05, "mass": 0.8, "nesterov": False},
     lambda g, x, n, h: reference_momentum(g, x, n, **h)),
    ("momentum", {"step_size": 0.05, "mass": 0.8, "nesterov": True},
     lambda g, x, n, h: reference_momentum(g, x, n, **h)),
    ("rmsprop", {"step_size": 0.1, "gamma": 0.9, "eps": 1e-8}, lambda g, x, n, h: reference_rmsprop(g, x, n, **h)),
    ("adam", {"step_size": 0.01, "b1": 0.9, "b2": 0.999, "eps": 1e-8}, lambda g, x, n, h: reference_adam(g, x, n, **h)),
]


@pytest.mark.parametrize("name,hyperparameters,reference", OPTIMIZERS, ids=lambda v: v if isinstance(v, str) else "")
def test_first_order_iterates_match_the_update_formulas(name, hyperparameters, reference):
    gradient = cr.grad(stochastic_loss)
    x0 = numpy.array([0.3, 0.1, -0.2])
    seen = []
    result = getattr(opt, name)(gradient, x0, callback=lambda x, i, g: seen.append(numpy.array(x)), num_iters=25,
                                **hyperparameters)
    expected, iterates = reference(lambda x, i: numpy.asarray(gradient(x, i)), x0.copy(), 25, hyperparameters)
    assert numpy.allclose(result, expected, rtol=1e-13, atol=1e-15)
    assert numpy.allclose(numpy.array(seen), numpy.array(iterates), rtol=1e-13, atol=1e-15)


@pytest.mark.parametrize("name,settings", [("sgd", {"num_iters": 500}), ("momentum", {"num_iters": 500}),
                                           ("rmsprop", {"num_iters": 2000, "step_size": 0.001}),
                                           ("adam", {"num_iters": 3000, "step_size": 0.01})])
def test_first_order_converges_on_a_quadratic_with_pytree_and_float32(name, settings):
    A, b = quadratic_problem(n=3)
    scale = numpy.max(numpy.linalg.eigvalsh(A))

    def loss(params, i):
        x = np.concatenate([params["u"], params["v"]])
        return quadratic(x, A / scale, b / scale)

    x0 = {"u": numpy.zeros(1, numpy.float32), "v": numpy.zeros(2, numpy.float32)}
    result = getattr(opt, name)(cr.grad(loss), x0, **settings)
    assert result["u"].dtype == numpy.float32 and result["v"].shape == (2,)
    x = numpy.concatenate([result["u"], result["v"]])
    assert numpy.allclose(x, numpy.linalg.solve(A, b), atol=5e-3)


def test_progress_bar_uses_tqdm_when_installed(monkeypatch):
    calls = []
    fake = types.ModuleType("tqdm.auto")

    def tqdm(iterable, **kwargs):
        calls.append(kwargs)
        return iterable

    fake.tqdm = tqdm
    monkeypatch.setitem(sys.modules, "tqdm", types.ModuleType("tqdm"))
    monkeypatch.setitem(sys.modules, "tqdm.auto", fake)
    gradient = cr.grad(stochastic_loss)
    opt.adam(gradient, numpy.zeros(3), num_iters=3, progress=True)
    opt.adam(gradient, numpy.zeros(3), num_iters=3, progress=False)
    opt.adam(gradient, numpy.zeros(3), num_iters=3)          # short runs: no bar by default
    assert len(calls) == 1 and calls[0]["desc"] == "adam"


def test_first_order_refusals():
    gradient = cr.grad(stochastic_loss)
    with pytest.raises(TypeError, match="complex"):
        opt.sgd(gradient, numpy.zeros(3, complex))
    with pytest.raises(TypeError, match="grad must be a function"):
        opt.adam(numpy.zeros(3), numpy.zeros(3))
    with pytest.raises(ValueError, match="shape"):
        opt.rmsprop(lambda x, i: numpy.zeros(2), numpy.zeros(3))
    with pytest.raises(ValueError, match="num_iters"):
        opt.momentum(gradient, numpy.zeros(3), num_iters=-1)


@pytest.mark.parametrize("method", ["L-BFGS-B", "TNC", "SLSQP", "Powell", "trust-constr"])
def test_every_bounded_method_gives_the_active_set_derivative(method):
    # the unconstrained minimizer A^-1 p = (1.4, -0.2) leaves the box on x0: x0 = 1 stays, x1 = (p1 - 1) / 2
    A = numpy.array([[3.0, 1.0], [1.0, 2.0]])
    minimizer = lambda p: opt.minimize(lambda x, p: 0.5 * x @ A @ x - p @ x, numpy.zeros(2), p,  # noqa: E731
                                       method=method, bounds=[(0.0, 1.0), (-1.0, 1.0)]).x
    numpy.testing.assert_allclose(cr.jacfwd(minimizer)(numpy.array([4.0, 1.0])), [[0.0, 0.0], [0.0, 0.5]],
                                  atol=1e-7)
