"""minimize under constraints: the minimizer differentiated through the KKT conditions (x and the multipliers),
checked against closed forms of constrained quadratics, finite differences of the polished minimizer, every
transform, every constrained SciPy method; the exact constraint derivatives given to SciPy; the refusals."""
import warnings

import numpy
import pytest
import scipy.optimize

import chainrule as cr
import chainrule.numpy as np
from chainrule import optimize as opt
from chainrule.optimize.constraints import with_exact_jacobians

A = numpy.array([[3.0, 1.0, 0.2], [1.0, 2.0, 0.3], [0.2, 0.3, 1.5]])
P = numpy.array([1.0, 0.5, -0.2])


def quadratic(x, p):
    return 0.5 * x @ A @ x - p @ x


def equality_kkt_inverse(C):
    """The x-block of the KKT matrix's inverse for min ½xᵀAx - pᵀx s.t. C x = d: dx*/dp."""
    m = C.shape[0]
    kkt = numpy.block([[A, C.T], [C, numpy.zeros((m, m))]])
    return numpy.linalg.inv(kkt)[:3, :3]


def equality_solution(C, d, p):
    m = C.shape[0]
    kkt = numpy.block([[A, C.T], [C, numpy.zeros((m, m))]])
    return numpy.linalg.solve(kkt, numpy.concatenate([p, d]))[:3]


def central_differences(function, p, step=1e-5):
    return numpy.stack([(function(p + e * step) - function(p - e * step)) / (2 * step) for e in numpy.eye(p.size)],
                       axis=-1)


TRANSFORMS = {
    "jacfwd": cr.jacfwd,
    "jacrev": cr.jacrev,
    "jit(jacfwd)": lambda f: cr.jit(cr.jacfwd(f)),
    "jit(jacrev)": lambda f: cr.jit(cr.jacrev(f)),
}


@pytest.mark.parametrize("transform", TRANSFORMS)
@pytest.mark.parametrize("form", ["dict", "linear", "nonlinear"])
@pytest.mark.parametrize("method", ["SLSQP", "trust-constr"])
def test_equality_constrained_minimizer_has_the_kkt_derivative(method, form, transform):
    # x0 + x1 + x2 = 1 and x0 - x2 = 0.1, in SciPy's three ways of saying it
    C, d = numpy.array([[1.0, 1.0, 1.0], [1.0, 0.0, -1.0]]), numpy.array([1.0, 0.1])
    constraints = {
        "dict": [{"type": "eq", "fun": lambda x: np.sum(x) - 1.0}, {"type": "eq", "fun": lambda x: x[0] - x[2] - 0.1}],
        "linear": scipy.optimize.LinearConstraint(C, d, d),
        "nonlinear": scipy.optimize.NonlinearConstraint(lambda x: np.stack([np.sum(x), x[0] - x[2]]), d, d),
    }[form]
    if method == "SLSQP" and form != "dict":
        constraints = [constraints]

    def minimizer(p):
        return opt.minimize(quadratic, numpy.zeros(3), p, method=method, constraints=constraints).x

    numpy.testing.assert_allclose(minimizer(P), equality_solution(C, d, P), atol=1e-12)
    numpy.testing.assert_allclose(TRANSFORMS[transform](minimizer)(P), equality_kkt_inverse(C), atol=1e-12)


def test_vmap_solves_each_example_under_its_constraints():
    C, d = numpy.ones((1, 3)), numpy.array([1.0])
    constraints = {"type": "eq", "fun": lambda x: np.sum(x) - 1.0}
    ps = numpy.stack([P, 2.0 * P, -P])
    minimizer = lambda p: opt.minimize(quadratic, numpy.zeros(3), p, method="SLSQP", constraints=constraints).x  # noqa: E731
    batched = cr.vmap(minimizer)(ps)
    numpy.testing.assert_allclose(batched, [equality_solution(C, d, p) for p in ps], atol=1e-12)
    jacobians = cr.vmap(cr.jacfwd(minimizer))(ps)
    numpy.testing.assert_allclose(jacobians, numpy.broadcast_to(equality_kkt_inverse(C), (3, 3, 3)), atol=1e-12)


@pytest.mark.parametrize("method", ["SLSQP", "trust-constr", "COBYLA", "COBYQA"])
def test_active_and_inactive_inequalities(method):
    # x0 >= 0.6 is active (the unconstrained minimizer has x0 = 0.30), |x|² <= 5 is not: x0 stays at 0.6 and
    # the free coordinates follow x_F = A_FF⁻¹ (p_F - A_F0 0.6)
    constraints = [{"type": "ineq", "fun": lambda x: x[0] - 0.6}, {"type": "ineq", "fun": lambda x: 5.0 - np.sum(x ** 2)}]

    def minimizer(p):
        return opt.minimize(quadratic, numpy.zeros(3), p, method=method, constraints=constraints).x

    expected_x = numpy.concatenate([[0.6], numpy.linalg.solve(A[1:, 1:], P[1:] - A[1:, 0] * 0.6)])
    numpy.testing.assert_allclose(minimizer(P), expected_x, atol=1e-12)
    expected = numpy.zeros((3, 3))
    expected[1:, 1:] = numpy.linalg.inv(A[1:, 1:])
    for transform in (cr.jacfwd, cr.jacrev):
        numpy.testing.assert_allclose(transform(minimizer)(P), expected, atol=1e-12)


@pytest.mark.parametrize("method", ["SLSQP", "trust-constr", "COBYQA"])
def test_a_curved_active_constraint_against_finite_differences(method):
    # on the ball |x|² <= 0.05 (active): the derivative involves the constraint's curvature through the
    # Lagrangian's Hessian A + 2μI; the polished minimizer is exact, so central differences are accurate
    ball = scipy.optimize.NonlinearConstraint(lambda x: np.sum(x ** 2), -numpy.inf, 0.05)

    def minimizer(p):
        return opt.minimize(quadratic, numpy.zeros(3), p, method=method, constraints=[ball]).x

    x = minimizer(P)
    assert abs(numpy.sum(x ** 2) - 0.05) < 1e-14
    # stationarity: A x - p = -2μ x with μ > 0
    mu = -(A @ x - P)[0] / (2 * x[0])
    numpy.testing.assert_allclose(A @ x - P, -2 * mu * x, atol=1e-12)
    assert mu > 0
    reference = central_differences(minimizer, P)
    numpy.testing.assert_allclose(cr.jacfwd(minimizer)(P), reference, atol=1e-8)
    numpy.testing.assert_allclose(cr.jacrev(minimizer)(P), reference, atol=1e-8)
    # closed form of the same derivative: differentiate (A + 2μI) x = p with xᵀx = r
    M = A + 2 * mu * numpy.eye(3)
    kkt = numpy.block([[M, 2 * x[:, None]], [2 * x[None, :], numpy.zeros((1, 1))]])
    numpy.testing.assert_allclose(cr.jacfwd(minimizer)(P), numpy.linalg.inv(kkt)[:3, :3], atol=1e-12)


def test_second_derivatives_through_the_kkt_conditions():
    ball = scipy.optimize.NonlinearConstraint(lambda x: np.sum(x ** 2), -numpy.inf, 0.05)

    def loss(p):
        return np.sum(opt.minimize(quadratic, numpy.zeros(3), p, method="SLSQP", constraints=[ball]).x ** 3)

    gradient = cr.grad(loss)
    reference = central_differences(gradient, P)
    numpy.testing.assert_allclose(cr.hessian(loss)(P), reference, atol=1e-8)
    numpy.testing.assert_allclose(cr.jacrev(cr.jacrev(loss))(P), reference, atol=1e-8)


def test_bounds_and_constraints_together():
    # sum x = 1 with x0 >= 0.45 active: x0 = 0.45, x1 + x2 = 0.55 on the remaining equality
    bounds = [(0.45, 1.0), (None, None), (None, None)]
    constraints = {"type": "eq", "fun": lambda x: np.sum(x) - 1.0}

    def minimizer(p):
        return opt.minimize(quadratic, numpy.zeros(3), p, method="SLSQP", constraints=constraints,
                            bounds=bounds).x

    C = numpy.array([[1.0, 1.0, 1.0], [1.0, 0.0, 0.0]])
    numpy.testing.assert_allclose(minimizer(P), equality_solution(C, numpy.array([1.0, 0.45]), P), atol=1e-12)
    numpy.testing.assert_allclose(cr.jacfwd(minimizer)(P), equality_kkt_inverse(C), atol=1e-12)


def test_pytree_and_float32_minimizers():
    def fun(x, p):
        return 0.5 * np.sum(x["a"] ** 2) + np.sum((x["b"] - p) ** 2)

    x0 = {"a": numpy.zeros(2), "b": numpy.zeros(2)}
    # a0 + b1 = 1 on the flat coordinates (a0, a1, b0, b1)
    constraints = {"type": "eq", "fun": lambda v: v[0] + v[3] - 1.0}
    minimizer = lambda p: opt.minimize(fun, x0, p, method="SLSQP", constraints=constraints).x["b"]  # noqa: E731
    p = numpy.array([0.2, 0.3])
    # b0 = p0; a0 = 1 - b1 and min ½a0² + (b1 - p1)²: b1 = (1 + 2 p1) / 3
    numpy.testing.assert_allclose(minimizer(p), [0.2, (1 + 2 * 0.3) / 3], atol=1e-12)
    numpy.testing.assert_allclose(cr.jacfwd(minimizer)(p), [[1.0, 0.0], [0.0, 2.0 / 3.0]], atol=1e-12)

    constraints32 = {"type": "eq", "fun": lambda x: np.sum(x) - 1.0}
    minimizer32 = lambda p: opt.minimize(quadratic, numpy.zeros(3, numpy.float32), p, method="SLSQP",  # noqa: E731
                                         constraints=constraints32).x
    p32 = P.astype(numpy.float32)
    assert minimizer32(p32).dtype == numpy.float32
    jacobian = cr.jacfwd(minimizer32)(p32)
    assert jacobian.dtype == numpy.float32
    numpy.testing.assert_allclose(jacobian, equality_kkt_inverse(numpy.ones((1, 3))), atol=1e-6)


def test_refusals_name_the_constraint_and_the_remedy():
    # the unconstrained minimizer sits exactly on x0 >= 0.6: active with a zero multiplier, no derivative
    on_the_edge = A @ numpy.array([0.6, 0.0, 0.0])
    constraints = {"type": "ineq", "fun": lambda x: x[0] - 0.6}
    minimizer = lambda p: opt.minimize(quadratic, numpy.zeros(3), p, method="SLSQP", constraints=constraints).x  # noqa: E731
    with pytest.raises(NotImplementedError, match=r"constraints\[0\] row 0.*zero multiplier"):
        cr.jacfwd(minimizer)(on_the_edge)
    # constraints written with Python floats: the solve works, its derivative is refused with the cause
    import math
    plain = {"type": "eq", "fun": lambda x: math.fsum(x) - 1.0}
    minimizer = lambda p: opt.minimize(quadratic, numpy.zeros(3), p, method="SLSQP", constraints=plain).x  # noqa: E731
    # (SciPy alone: no polish without derivatives of the constraint, so only to SLSQP's own ftol)
    numpy.testing.assert_allclose(minimizer(P), equality_solution(numpy.ones((1, 3)), [1.0], P), atol=1e-3)
    with pytest.raises(TypeError, match="constraint functions.*chainrule.numpy"):
        cr.jacfwd(minimizer)(P)
    with pytest.raises(TypeError, match=r"constraints\[0\] must be a dict"):
        opt.minimize(quadratic, numpy.zeros(3), P, method="SLSQP", constraints=[{"type": "between", "fun": len}])


def test_scipy_receives_exact_constraint_derivatives():
    example = numpy.array([0.3, -0.2, 0.5])
    given = with_exact_jacobians([{"type": "ineq", "fun": lambda x, s: s - np.sum(x ** 2), "args": (2.0,)}],
                                 example, "slsqp")
    numpy.testing.assert_allclose(given[0]["jac"](example, 2.0), [-2 * example], atol=0)
    ball = scipy.optimize.NonlinearConstraint(lambda x: np.stack([np.sum(x ** 2), np.prod(x)]), -1.0, 1.0)
    rebuilt = with_exact_jacobians(ball, example, "trust-constr")
    numpy.testing.assert_allclose(rebuilt.jac(example)[0], 2 * example, atol=0)
    weights, direction = numpy.array([0.7, -1.3]), numpy.array([1.0, 2.0, -1.0])
    x, y, z = example
    second = 2 * numpy.eye(3) * weights[0] + weights[1] * numpy.array([[0, z, y], [z, 0, x], [y, x, 0]])
    numpy.testing.assert_allclose(rebuilt.hess(example, weights) @ direction, second @ direction, atol=1e-15)
    # methods other than trust-constr ignore (and warn about) a constraint Hessian: none is added for them
    assert isinstance(with_exact_jacobians(ball, example, "slsqp").hess, scipy.optimize.HessianUpdateStrategy)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        opt.minimize(quadratic, numpy.zeros(3), P, method="SLSQP", constraints=[ball])


def test_constraints_that_depend_on_parameters_through_their_args():
    # sum(x) = b with b a parameter of minimize given in the dict's args: x* = K⁻¹ [p; b] in both p and b
    C = numpy.ones((1, 3))
    kkt = numpy.block([[A, C.T], [C, numpy.zeros((1, 1))]])

    def objective_of_b(x, p, b):  # fun must take every parameter; b enters through the constraint only
        return quadratic(x, p)

    def minimizer_b(p, b):
        constraint = {"type": "eq", "fun": lambda x, b: np.sum(x) - b, "args": (b,)}
        return opt.minimize(objective_of_b, numpy.zeros(3), p, b, method="SLSQP", constraints=[constraint]).x

    b = numpy.array(0.7)
    numpy.testing.assert_allclose(minimizer_b(P, b), numpy.linalg.solve(kkt, numpy.append(P, 0.7))[:3], atol=1e-12)
    for transform in (cr.jacfwd, cr.jacrev, lambda f, **k: cr.jit(cr.jacfwd(f, **k))):
        jac_p, jac_b = transform(minimizer_b, argnums=(0, 1))(P, b)
        numpy.testing.assert_allclose(jac_p, numpy.linalg.inv(kkt)[:3, :3], atol=1e-12)
        numpy.testing.assert_allclose(jac_b, numpy.linalg.inv(kkt)[:3, 3], atol=1e-12)
    bs = numpy.array([0.5, 1.0, -0.3])
    numpy.testing.assert_allclose(cr.vmap(lambda b: minimizer_b(P, b))(bs),
                                  [numpy.linalg.solve(kkt, numpy.append(P, v))[:3] for v in bs], atol=1e-12)
    # an inequality whose bound is a parameter: the ball's radius
    def on_ball(radius):
        ball = {"type": "ineq", "fun": lambda x, r: r - np.sum(x ** 2), "args": (radius,)}
        return opt.minimize(lambda x, p, r: quadratic(x, p), numpy.zeros(3), P, radius, method="SLSQP",
                            constraints=[ball]).x

    radius = numpy.array(0.05)
    numpy.testing.assert_allclose(cr.jacfwd(on_ball)(radius),
                                  (on_ball(radius + 1e-6) - on_ball(radius - 1e-6)) / 2e-6, atol=1e-8)


@pytest.mark.parametrize("method", ["SLSQP", "trust-constr"])
def test_nonlinear_constraints_that_close_over_parameters(method):
    # A NonlinearConstraint takes no args: the parameters its function closes over are found by staging it.
    # sum(x) = b (x* = K⁻¹ [p; b]) and a ball of radius r whose bound is active (checked by differences).
    C = numpy.ones((1, 3))
    kkt = numpy.block([[A, C.T], [C, numpy.zeros((1, 1))]])

    def minimizer_b(p, b):
        constraint = scipy.optimize.NonlinearConstraint(lambda x: np.sum(x) - b, 0.0, 0.0)
        return opt.minimize(lambda x, p, b: quadratic(x, p), numpy.zeros(3), p, b, method=method,
                            constraints=[constraint]).x

    b = numpy.array(0.7)
    for transform in (cr.jacfwd, cr.jacrev, lambda f, **k: cr.jit(cr.jacfwd(f, **k))):
        jac_p, jac_b = transform(minimizer_b, argnums=(0, 1))(P, b)
        numpy.testing.assert_allclose(jac_p, numpy.linalg.inv(kkt)[:3, :3], atol=1e-8)
        numpy.testing.assert_allclose(jac_b, numpy.linalg.inv(kkt)[:3, 3], atol=1e-8)
    bs = numpy.array([0.5, -0.3])
    numpy.testing.assert_allclose(cr.vmap(cr.grad(lambda b: np.sum(minimizer_b(P, b) ** 2)))(bs),
                                  [2 * numpy.linalg.solve(kkt, numpy.append(P, v))[:3] @ numpy.linalg.inv(kkt)[:3, 3]
                                   for v in bs], atol=1e-8)

    def on_ball(radius):
        ball = scipy.optimize.NonlinearConstraint(lambda x: radius - np.sum(x ** 2), 0.0, numpy.inf)
        return opt.minimize(lambda x, r: quadratic(x, P), numpy.zeros(3), radius, method=method,
                            constraints=[ball]).x

    radius = numpy.array(0.05)
    numpy.testing.assert_allclose(cr.jacfwd(on_ball)(radius),
                                  (on_ball(radius + 1e-6) - on_ball(radius - 1e-6)) / 2e-6, atol=1e-6)


def test_a_traced_value_in_a_constraint_must_be_a_parameter():
    def closes_over(b):
        constraint = scipy.optimize.NonlinearConstraint(lambda x: np.sum(x) - b, 0.0, 0.0)
        return opt.minimize(quadratic, numpy.zeros(3), P, method="SLSQP", constraints=[constraint]).x

    with pytest.raises(TypeError, match="constraints\\[0\\] closes over a value being differentiated.*not a "
                                        "parameter of minimize"):
        cr.jacfwd(closes_over)(numpy.array(1.0))

    def not_a_parameter(b):
        constraint = {"type": "eq", "fun": lambda x, b: np.sum(x) - b, "args": (b,)}
        return opt.minimize(quadratic, numpy.zeros(3), P, method="SLSQP", constraints=[constraint]).x

    with pytest.raises(TypeError, match="not a parameter of minimize"):
        cr.jacfwd(not_a_parameter)(numpy.array(1.0))
