"""chainrule.optimize under every transform: second and higher derivatives of root, fixed_point, custom_root and
minimize's minimizer against JAX differentiating the unrolled iteration (x64) and central differences of
gradients; vmap against stacking the examples; jit against eager calls."""

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


def tanh_problem(n=5, seed=0, dtype=numpy.float64):
    return _tanh_problem(n, seed, dtype)


# ------------------------------------------------------------------------------------------- problems

def fixed_point_loss(c):
    def loss(W, b):
        x = opt.fixed_point(tanh_map, numpy.zeros(b.shape, b.dtype), W, b)
        return np.sum(c * x) + 0.5 * np.sum(x ** 2)
    return loss


def jax_fixed_point_loss(c, iterations=300):
    def loss(W, b):
        x = jax.lax.fori_loop(0, iterations, lambda _, x: jnp.tanh(W @ x + b), jnp.zeros_like(b))
        return jnp.sum(c * x) + 0.5 * jnp.sum(x ** 2)
    return loss


def nonlinear_system(x, A, b):
    return A @ x + 0.1 * x ** 3 - b


def root_problem(n=4, seed=8):
    rng = numpy.random.default_rng(seed)
    return 3.0 * numpy.eye(n) + 0.3 * rng.standard_normal((n, n)), rng.standard_normal(n), rng.standard_normal(n)


def jax_newton_root(A, b, iterations=25):
    """Newton's iteration for nonlinear_system, unrolled: its derivatives converge to the solution's."""
    step = lambda _, x: x - jnp.linalg.solve(A + 0.3 * jnp.diag(x ** 2), A @ x + 0.1 * x ** 3 - b)
    return jax.lax.fori_loop(0, iterations, step, jnp.zeros_like(b))


# ------------------------------------------------------------------------------------------- higher order

def test_fixed_point_hessians_match_jax_unrolled_and_differences_of_gradients():
    W, b, c = tanh_problem()
    loss, reference = fixed_point_loss(c), jax_fixed_point_loss(c)
    hessian_b = cr.hessian(loss, argnums=1)(W, b)
    assert relative_error(hessian_b, jax.hessian(reference, argnums=1)(W, b)) < RTOL
    gradient_b = lambda b: numpy.asarray(cr.grad(loss, argnums=1)(W, b))
    assert relative_error(hessian_b, central_difference(gradient_b, b, step=1e-5)) < 1e-7
    # With respect to a matrix: a (5, 5, 5, 5) Hessian.
    hessian_W = cr.hessian(loss, argnums=0)(W, b)
    assert hessian_W.shape == (5, 5, 5, 5)
    assert relative_error(hessian_W, jax.hessian(reference, argnums=0)(W, b)) < RTOL


def test_fixed_point_grad_of_grad_jvp_of_grad_and_third_derivatives_match_jax():
    W, b, c = tanh_problem(seed=1)
    loss, reference = fixed_point_loss(c), jax_fixed_point_loss(c)
    v = numpy.random.default_rng(2).standard_normal(b.shape)

    squared_gradient = lambda b: np.sum(cr.grad(loss, argnums=1)(W, b) ** 2)
    jax_squared_gradient = lambda b: jnp.sum(jax.grad(reference, argnums=1)(W, b) ** 2)
    assert relative_error(cr.grad(squared_gradient)(b), jax.grad(jax_squared_gradient)(b)) < RTOL

    _, tangent = cr.jvp(lambda b: cr.grad(loss, argnums=(0, 1))(W, b), (b,), (v,))
    _, jax_tangent = jax.jvp(lambda b: jax.grad(reference, argnums=(0, 1))(W, b), (b,), (v,))
    assert all(relative_error(t, j) < RTOL for t, j in zip(tangent, jax_tangent))

    third = cr.jacfwd(cr.hessian(loss, argnums=1), argnums=1)(W, b)
    assert relative_error(third, jax.jacfwd(jax.hessian(reference, argnums=1), argnums=1)(W, b)) < 1e-9


def test_custom_root_derivatives_to_third_order_match_jax_closed_form():
    @opt.custom_root(lambda x, a: x ** 3 - a)
    def cube_root(x0, a):
        return scipy.optimize.brentq(lambda x: x ** 3 - a, 0.0, a + 1.0, xtol=1e-15)

    solution = lambda a: cube_root(1.0, a)
    for a in (8.0, 2.5):
        derivative = jax.grad(lambda a: a ** (1.0 / 3.0))
        second, third = jax.grad(derivative), jax.grad(jax.grad(derivative))
        assert abs(float(cr.grad(cr.grad(solution))(a)) - float(second(a))) < 1e-13
        assert abs(float(cr.grad(cr.grad(cr.grad(solution)))(a)) - float(third(a))) < 1e-13
        _, tangent = cr.jvp(cr.grad(solution), (a,), (1.0,))
        assert abs(float(tangent) - float(second(a))) < 1e-13


@pytest.mark.parametrize("method,linear_solve", [("newton", "auto"), ("newton", "gmres"), ("hybr", "dense")])
def test_root_hessian_and_mixed_second_derivatives_match_jax_unrolled_newton(method, linear_solve):
    A, b, c = root_problem()
    x0 = numpy.zeros(4)

    def loss(A, b):
        x = opt.root(nonlinear_system, x0, A, b, method=method, linear_solve=linear_solve)
        return np.sum(c * x) + np.sum(np.sin(x))

    def jax_loss(A, b):
        x = jax_newton_root(A, b)
        return jnp.sum(c * x) + jnp.sum(jnp.sin(x))

    assert relative_error(cr.hessian(loss, argnums=1)(A, b), jax.jit(jax.hessian(jax_loss, argnums=1))(A, b)) < 1e-9
    # d/dA of the gradient with respect to b: reverse over reverse, across both parameters.
    mixed = cr.jacrev(lambda A: cr.grad(loss, argnums=1)(A, b))(A)
    jax_mixed = jax.jit(jax.jacrev(lambda A: jax.grad(jax_loss, argnums=1)(A, b)))(A)
    assert relative_error(mixed, jax_mixed) < 1e-9


def test_minimizer_hessian_matches_jax_unrolled_newton_and_differences_of_gradients():
    def fun(x, theta):
        return np.sum(np.exp(x) - theta * x) + 0.5 * np.sum(x ** 2) + 0.1 * x[0] * x[1]

    def jax_minimizer(theta):
        objective = lambda x: (jnp.sum(jnp.exp(x) - theta * x) + 0.5 * jnp.sum(x ** 2) + 0.1 * x[0] * x[1])
        step = lambda _, x: x - jnp.linalg.solve(jax.hessian(objective)(x), jax.grad(objective)(x))
        return jax.lax.fori_loop(0, 25, step, jnp.zeros(3))

    theta = numpy.array([2.0, 0.5, 1.5])
    weights = numpy.array([1.0, -2.0, 0.5])
    for method in ("BFGS", "Newton-CG"):
        loss = lambda t: np.sum(weights * opt.minimize(fun, numpy.zeros(3), t, method=method).x ** 2)
        hessian = cr.hessian(loss)(theta)
        expected = jax.jit(jax.hessian(lambda t: jnp.sum(weights * jax_minimizer(t) ** 2)))(theta)
        assert relative_error(hessian, expected) < 1e-9
        differences = central_difference(lambda t: numpy.asarray(cr.grad(loss)(t)), theta, step=1e-5)
        assert relative_error(hessian, differences) < 1e-6


@pytest.mark.parametrize("linear_solve", ["auto", "gmres"])
def test_hessian_above_the_dense_limit_matches_jax_unrolled(linear_solve):
    # 60 unknowns: Krylov solves ("auto" forms the matrix once they have cost as much as forming it would).
    W, b, c = tanh_problem(n=60, seed=12)

    def loss(b):
        x = opt.fixed_point(tanh_map, numpy.zeros(60), W, b, linear_solve=linear_solve)
        return np.sum(c * x) + 0.5 * np.sum(x ** 2)

    expected = jax.jit(jax.hessian(jax_fixed_point_loss(c), argnums=1))(W, b)
    assert relative_error(cr.hessian(loss)(b), expected) < 1e-9


def test_minimizer_second_derivative_by_conjugate_gradients_matches_jax():
    n = 60
    rng = numpy.random.default_rng(13)
    M = rng.standard_normal((n, n))
    A = M @ M.T / n + numpy.eye(n)
    theta, v, weights = rng.standard_normal(n), rng.standard_normal(n), rng.standard_normal(n)

    def fun(x, theta):
        return 0.5 * x @ A @ x - theta @ x + 0.25 * np.sum(x ** 4)

    def jax_minimizer(theta):
        gradient = lambda x: A @ x - theta + x ** 3
        step = lambda _, x: x - jnp.linalg.solve(A + jnp.diag(3 * x ** 2), gradient(x))
        return jax.lax.fori_loop(0, 30, step, jnp.zeros(n))

    loss = lambda t: np.sum(weights * np.sin(opt.minimize(fun, numpy.zeros(n), t, method="trust-ncg").x))
    jax_loss = lambda t: jnp.sum(weights * jnp.sin(jax_minimizer(t)))
    _, product = cr.jvp(cr.grad(loss), (theta,), (v,))
    _, expected = jax.jit(lambda t: jax.jvp(jax.grad(jax_loss), (t,), (v,)))(theta)
    assert relative_error(product, expected) < 1e-9


def complex_map(z, a, shift):
    # Not holomorphic in z (conj): the systems are solved in real coordinates.
    return 0.3 * np.tanh(a * z) + 0.2 * np.conj(z) + shift


def test_complex_fixed_point_second_derivatives_match_jax_unrolled():
    rng = numpy.random.default_rng(6)
    a = rng.standard_normal(3)
    shift = rng.standard_normal(3) + 1j * rng.standard_normal(3)

    def loss(a, shift):
        z = opt.fixed_point(complex_map, numpy.zeros(3, complex), a, shift)
        return np.sum(np.abs(z) ** 2 + np.real(z) * a)

    def jax_loss(a, shift):
        step = lambda _, z: 0.3 * jnp.tanh(a * z) + 0.2 * jnp.conj(z) + shift
        z = jax.lax.fori_loop(0, 300, step, jnp.zeros(3, complex))
        return jnp.sum(jnp.abs(z) ** 2 + jnp.real(z) * a)

    assert relative_error(cr.hessian(loss)(a, shift), jax.hessian(jax_loss)(a, shift)) < 1e-12
    # A complex parameter, differentiated twice: its gradient's squared size, differentiated again.
    through_shift = lambda s: np.sum(cr.grad(loss)(a, s) ** 2)
    jax_through_shift = lambda s: jnp.sum(jax.grad(jax_loss)(a, s) ** 2)
    assert relative_error(cr.grad(through_shift)(shift), jax.grad(jax_through_shift)(shift)) < 1e-12
    through_a = lambda a: np.sum(np.abs(cr.grad(loss, argnums=1)(a, shift)) ** 2)
    jax_through_a = lambda a: jnp.sum(jnp.abs(jax.grad(jax_loss, argnums=1)(a, shift)) ** 2)
    assert relative_error(cr.grad(through_a)(a), jax.grad(jax_through_a)(a)) < 1e-12


def test_float32_second_derivatives_stay_float32():
    W, b, c = tanh_problem(n=4, seed=3, dtype=numpy.float32)
    loss = fixed_point_loss(c)
    hessian = cr.hessian(loss, argnums=1)(W, b)
    assert hessian.dtype == numpy.float32
    reference = cr.hessian(fixed_point_loss(c.astype(float)), argnums=1)(W.astype(float), b.astype(float))
    assert relative_error(hessian, reference) < 1e-4
    assert cr.grad(lambda b: np.sum(cr.grad(loss, argnums=1)(W, b) ** 2))(b).dtype == numpy.float32


def test_pytree_parameters_second_derivatives():
    W, b, c = tanh_problem(n=3, seed=4)

    def pair_map(state, params):
        return {"x": np.tanh(params["W"] @ state["y"] + params["b"]), "y": 0.5 * np.sin(state["x"])}

    x0 = {"x": numpy.zeros(3), "y": numpy.zeros(3)}

    def loss(params, solve):
        state = solve(params)
        return np.sum(c * state["x"]) + np.sum(state["y"] ** 2)

    def unrolled(params):
        state = x0
        for _ in range(200):
            state = pair_map(state, params)
        return state

    params = {"W": W, "b": b}
    implicit = cr.hessian(loss)(params, lambda p: opt.fixed_point(pair_map, x0, p))
    expected = cr.hessian(loss)(params, unrolled)
    for outer in ("W", "b"):
        for inner in ("W", "b"):
            assert relative_error(implicit[outer][inner], expected[outer][inner]) < RTOL


# ------------------------------------------------------------------------------------------- vmap

def test_vmap_of_each_solver_matches_stacking():
    W, b, _ = tanh_problem(seed=5)
    batch = numpy.random.default_rng(5).standard_normal((3, 5))
    solve = lambda b: opt.fixed_point(tanh_map, numpy.zeros(5), W, b)
    assert relative_error(cr.vmap(solve)(batch), numpy.stack([solve(row) for row in batch])) < 1e-15

    A, _, _ = root_problem()
    rights = numpy.random.default_rng(6).standard_normal((4, 4))
    root = lambda b: opt.root(nonlinear_system, numpy.zeros(4), A, b)
    assert relative_error(cr.vmap(root)(rights), numpy.stack([root(row) for row in rights])) < 1e-15

    @opt.custom_root(lambda x, a: x ** 3 - a)
    def cube_root(x0, a):
        return numpy.cbrt(a)

    values = numpy.array([8.0, 27.0, 2.0])
    assert relative_error(cr.vmap(lambda a: cube_root(1.0, a))(values), numpy.cbrt(values)) < 1e-15
    # A batch of starts, one shared parameter: every example finds the same root.
    starts = numpy.array([[0.5] * 4, [-0.5] * 4])
    found = cr.vmap(lambda x0: opt.root(nonlinear_system, x0, A, rights[0]))(starts)
    assert relative_error(found, numpy.stack([root(rights[0])] * 2)) < 1e-12


def test_vmap_of_gradients_and_hessians_matches_stacking():
    W, b, c = tanh_problem(seed=7)
    loss = fixed_point_loss(c)
    batch = numpy.random.default_rng(7).standard_normal((3, 5))
    gradient = lambda b: cr.grad(loss, argnums=1)(W, b)
    expected = numpy.stack([gradient(row) for row in batch])
    assert relative_error(cr.vmap(gradient)(batch), expected) < 1e-14
    # The other nesting: the gradient of a batched loss.
    assert relative_error(cr.grad(lambda B: np.sum(cr.vmap(lambda b: loss(W, b))(B)))(batch), expected) < 1e-14
    hessian = lambda b: cr.hessian(loss, argnums=1)(W, b)
    assert relative_error(cr.vmap(hessian)(batch), numpy.stack([hessian(row) for row in batch])) < 1e-13
    # Batched matrices: each example solves with its own W.
    Ws = numpy.stack([W, 0.5 * W, -W])
    per_matrix = cr.vmap(lambda W, b: cr.grad(loss, argnums=0)(W, b), in_axes=(0, None))(Ws, b)
    assert relative_error(per_matrix, numpy.stack([cr.grad(loss, argnums=0)(M, b) for M in Ws])) < 1e-14


def test_vmap_float32_and_complex():
    W, b, c = tanh_problem(n=4, seed=8, dtype=numpy.float32)
    batch = numpy.stack([b, 2 * b])
    solved = cr.vmap(lambda b: opt.fixed_point(tanh_map, numpy.zeros(4, numpy.float32), W, b))(batch)
    assert solved.dtype == numpy.float32
    gradient = lambda b: cr.grad(fixed_point_loss(c), argnums=1)(W, b)
    gradients = cr.vmap(gradient)(batch)
    assert gradients.dtype == numpy.float32
    assert relative_error(gradients, numpy.stack([gradient(row) for row in batch])) < 1e-6

    a = numpy.array([0.3, -0.7, 1.1])
    shifts = numpy.array([[1 + 1j, -0.5j, 0.2], [0.1, 0.4 - 0.3j, -1j]])
    solve = lambda s: opt.fixed_point(complex_map, numpy.zeros(3, complex), a, s)
    batched = cr.vmap(solve)(shifts)
    assert batched.dtype == numpy.complex128
    assert relative_error(batched, numpy.stack([solve(s) for s in shifts])) < 1e-15


# ------------------------------------------------------------------------------------------- jit

def test_jit_of_a_solver_runs_the_solve_on_each_call():
    W, b, _ = tanh_problem(seed=9)
    solve = lambda W, b: opt.fixed_point(tanh_map, numpy.zeros(5), W, b)
    compiled = cr.jit(solve)
    for scale in (1.0, 2.0, -0.5):  # one signature, compiled once: each call solves for its own values
        assert relative_error(compiled(W, scale * b), solve(W, scale * b)) < 1e-15
    assert "implicit_solve" in compiled.source(W, b)  # one opaque call, not the iterations of one solve
    A, rhs, _ = root_problem()
    root = cr.jit(lambda b: opt.root(nonlinear_system, numpy.zeros(4), A, b))
    assert relative_error(root(rhs), opt.root(nonlinear_system, numpy.zeros(4), A, rhs)) < 1e-15


def test_jit_of_derivatives_matches_eager():
    W, b, c = tanh_problem(seed=10)
    loss = fixed_point_loss(c)
    gradient = cr.grad(loss, argnums=(0, 1))
    compiled = cr.jit(gradient)
    for scale in (1.0, 0.5):
        for got, expected in zip(compiled(W, scale * b), gradient(W, scale * b)):
            assert relative_error(got, expected) < 1e-14
    hessian = cr.hessian(loss, argnums=1)
    assert relative_error(cr.jit(hessian)(W, b), hessian(W, b)) < 1e-13
    batch = numpy.stack([b, -b])
    batched = cr.jit(cr.vmap(lambda b: cr.grad(loss, argnums=1)(W, b)))(batch)
    assert relative_error(batched, numpy.stack([gradient(W, row)[1] for row in batch])) < 1e-14


def test_jit_float32_and_complex_keep_their_dtypes():
    W, b, c = tanh_problem(n=4, seed=11, dtype=numpy.float32)
    solve = lambda b: opt.fixed_point(tanh_map, numpy.zeros(4, numpy.float32), W, b)
    assert cr.jit(solve)(b).dtype == numpy.float32
    gradient = cr.jit(cr.grad(fixed_point_loss(c), argnums=1))(W, b)
    assert gradient.dtype == numpy.float32
    assert relative_error(gradient, cr.grad(fixed_point_loss(c), argnums=1)(W, b)) < 1e-6
    a, shift = numpy.array([0.3, -0.7, 1.1]), numpy.array([1 + 1j, -0.5j, 0.2])
    loss = lambda shift: np.sum(np.abs(opt.fixed_point(complex_map, numpy.zeros(3, complex), a, shift)) ** 2)
    assert relative_error(cr.jit(cr.grad(loss))(shift), cr.grad(loss)(shift)) < 1e-14


# ------------------------------------------------------------------------------------------- errors

@pytest.mark.parametrize("transform", ["jit", "vmap", "jit(grad)"])
def test_a_function_closing_over_a_staged_or_batched_value_is_refused(transform):
    W, b, _ = tanh_problem(n=3)
    solve = lambda b: np.sum(opt.fixed_point(lambda x: np.tanh(W @ x + b), numpy.zeros(3)))
    wrapped = {"jit": cr.jit(solve), "vmap": cr.vmap(solve), "jit(grad)": cr.jit(cr.grad(solve))}[transform]
    argument = numpy.stack([b, b]) if transform == "vmap" else b
    with pytest.raises(TypeError, match="Pass every such array as a parameter"):
        wrapped(argument)


def test_minimize_inside_jit_and_vmap_gives_the_eager_minimizer_and_its_derivative():
    matrix = numpy.array([[3.0, 1.0], [1.0, 2.0]])

    def minimizer(b):
        return opt.minimize(lambda x, b: 0.5 * x @ matrix @ x - b @ x, numpy.zeros(2), b).x

    b = numpy.array([1.0, 2.0])
    numpy.testing.assert_allclose(cr.jit(minimizer)(b), numpy.linalg.solve(matrix, b), atol=1e-10)
    numpy.testing.assert_allclose(cr.jit(minimizer)(2 * b), numpy.linalg.solve(matrix, 2 * b), atol=1e-10)
    numpy.testing.assert_allclose(cr.jit(cr.jacfwd(minimizer))(b), numpy.linalg.inv(matrix), atol=1e-10)
    batch = numpy.stack([b, -b, 3 * b])
    numpy.testing.assert_allclose(cr.vmap(minimizer)(batch), numpy.linalg.solve(matrix, batch.T).T, atol=1e-10)


def test_a_bounded_minimizer_is_differentiated_under_jit_and_vmap_too():
    def minimizer(b):
        return opt.minimize(lambda x, b: np.sum((x - b) ** 2), numpy.zeros(2), b, method="L-BFGS-B",
                            bounds=[(-5.0, 5.0)] * 2).x

    b = numpy.array([1.0, 2.0])
    numpy.testing.assert_allclose(cr.jacfwd(minimizer)(b), numpy.eye(2), atol=1e-8)
    numpy.testing.assert_allclose(cr.jit(cr.jacfwd(minimizer))(b), numpy.eye(2), atol=1e-8)
    # 7 is outside the box: that coordinate stays on its bound
    numpy.testing.assert_allclose(cr.vmap(cr.jacfwd(minimizer))(numpy.array([[1.0, 2.0], [7.0, 2.0]])),
                                  [numpy.eye(2), numpy.diag([0.0, 1.0])], atol=1e-8)
