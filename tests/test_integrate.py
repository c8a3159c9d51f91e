"""chainrule.integrate.odeint: values against SciPy's DOP853 and JAX's odeint, derivatives in every mode against
JAX and central differences (of the solver itself, on the same steps, for exactness), events, errors."""
import numpy as onp
import pytest
from scipy.integrate import solve_ivp

import chainrule as cr
import chainrule.numpy as np
from chainrule.integrate import IntegrationError, odeint
from chainrule.integrate import adjoint as rules
from chainrule.integrate import steps
from chainrule.integrate.replay import replay

jax = pytest.importorskip("jax")
jax.config.update("jax_enable_x64", True)
import jax.numpy as jnp  # noqa: E402
from jax.experimental.ode import odeint as jax_odeint  # noqa: E402

RATES = (1.5, 1.0, 3.0, 1.0)
Y0 = onp.array([1.0, 0.5])
TIGHT = dict(rtol=1e-10, atol=1e-12)


def lotka_volterra(y, t, a, b, c, d):
    prey, predator = y[0], y[1]
    return np.stack([a * prey - b * prey * predator, c * prey * predator - d * predator])


def lotka_volterra_jax(y, t, a, b, c, d):
    return jnp.stack([a * y[0] - b * y[0] * y[1], c * y[0] * y[1] - d * y[1]])


def forced(y, t, k):
    """A non-autonomous problem: the t-derivatives see func's time dependence."""
    return -k * y + np.sin(2.0 * t)


def reference(func, y0, t, *args):
    solution = solve_ivp(lambda s, y: onp.asarray(func(y, s, *args)), (t[0], t[-1]), y0, t_eval=t, method="DOP853",
                         rtol=1e-12, atol=1e-14)
    return solution.y.T


def central_difference(function, x, step=1e-6):
    x = onp.asarray(x, float)
    columns = []
    for index in range(x.size):
        e = onp.zeros_like(x)
        e.flat[index] = step
        columns.append((onp.asarray(function(x + e)) - onp.asarray(function(x - e))) / (2 * step))
    return onp.stack(columns, axis=-1)


# ------------------------------------------------------------------------------------------- values

@pytest.mark.parametrize("method,options,tolerance", [("dopri5", TIGHT, 1e-8), ("tsit5", TIGHT, 1e-6),
                                                      ("rk4", dict(step=1e-3), 1e-10)])
def test_values_match_dop853(method, options, tolerance):
    t = onp.linspace(0.0, 5.0, 11)
    ys = odeint(lotka_volterra, Y0, t, *RATES, method=method, **options)
    assert onp.allclose(ys, reference(lotka_volterra, Y0, t, *RATES), rtol=0, atol=tolerance)
    assert onp.array_equal(ys[0], Y0)


@pytest.mark.parametrize("method", ["dopri5", "tsit5"])
def test_final_value_at_tight_tolerance(method):
    ys = odeint(lotka_volterra, Y0, onp.array([0.0, 5.0]), *RATES, method=method, **TIGHT)
    assert onp.allclose(ys[-1], reference(lotka_volterra, Y0, [0.0, 5.0], *RATES)[-1], rtol=1e-8, atol=0)


def test_tsit5_interpolant_meets_the_order_conditions_and_ends_at_the_step():
    from chainrule.integrate.tableaus import TSIT5
    a, c = TSIT5.a, TSIT5.c
    b = a[-1]
    weights_at_one, _ = TSIT5.dense_weights(1.0)
    assert onp.allclose(weights_at_one, b, rtol=0, atol=1e-14)
    for theta in (0.1, 0.37, 0.5, 0.82):
        w, slope = TSIT5.dense_weights(theta)
        # the eight order conditions up to order four, with theta^k / (k * gamma) on the right
        conditions = [(w.sum(), theta), (w @ c, theta ** 2 / 2), (w @ c ** 2, theta ** 3 / 3),
                      (w @ (a @ c), theta ** 3 / 6), (w @ c ** 3, theta ** 4 / 4), (w @ (c * (a @ c)), theta ** 4 / 8),
                      (w @ (a @ c ** 2), theta ** 4 / 12), (w @ (a @ (a @ c)), theta ** 4 / 24)]
        for value, expected in conditions:
            assert abs(value - expected) < 1e-13
        step = 1e-6
        assert onp.allclose(slope, (TSIT5.dense_weights(theta + step)[0] - TSIT5.dense_weights(theta - step)[0])
                            / (2 * step), rtol=0, atol=1e-8)


@pytest.mark.parametrize("method", ["dopri5", "tsit5"])
def test_dense_output_errors_are_those_of_the_steps(method):
    # a fourth-order interpolant keeps the error between steps at the size of the steps' own
    oscillator = lambda y, t: np.stack([y[1], -y[0]])
    t = onp.linspace(0.0, 20.0, 997)
    for rtol in (1e-4, 1e-6, 1e-8):
        dense = odeint(oscillator, onp.array([1.0, 0.0]), t, method=method, rtol=rtol, atol=rtol * 1e-2)
        end = odeint(oscillator, onp.array([1.0, 0.0]), onp.array([0.0, 20.0]), method=method, rtol=rtol,
                     atol=rtol * 1e-2)
        end_error = abs(end[-1, 0] - onp.cos(20.0))
        assert onp.max(onp.abs(dense[:, 0] - onp.cos(t))) < 3 * end_error + 1e-12


def test_dense_output_is_fourth_order_accurate():
    # Between steps dopri5's own interpolant is used: its error is near the tolerance's, not the step's.
    t = onp.linspace(0.0, 5.0, 101)
    ys = odeint(lotka_volterra, Y0, t, *RATES, **TIGHT)
    assert onp.max(onp.abs(ys - reference(lotka_volterra, Y0, t, *RATES))) < 1e-8


def test_values_match_jax_and_backward_in_time():
    t = onp.linspace(0.0, 2.0, 5)
    ys = odeint(forced, 1.5, t, 0.7, **TIGHT)
    expected = jax_odeint(lambda y, s, k: -k * y + jnp.sin(2.0 * s), 1.5, jnp.asarray(t), 0.7, rtol=1e-12, atol=1e-14)
    assert onp.allclose(ys, onp.asarray(expected), rtol=1e-9, atol=1e-11)
    back = odeint(forced, ys[-1], t[::-1], 0.7, **TIGHT)
    assert onp.allclose(back, ys[::-1], rtol=1e-8, atol=1e-10)


def test_pytree_state():
    def oscillator(state, t, omega):
        return {"x": state["v"], "v": -omega ** 2 * state["x"]}
    t = onp.linspace(0.0, 3.0, 7)
    out = odeint(oscillator, {"x": onp.array([1.0]), "v": onp.array([0.0])}, t, 2.0, **TIGHT)
    assert set(out) == {"x", "v"} and out["x"].shape == (7, 1)
    assert onp.allclose(out["x"][:, 0], onp.cos(2.0 * t), atol=1e-8)
    assert onp.allclose(out["v"][:, 0], -2.0 * onp.sin(2.0 * t), atol=1e-8)
    grad = cr.grad(lambda omega: np.sum(odeint(oscillator, {"x": onp.array([1.0]), "v": onp.array([0.0])}, t,
                                               omega, **TIGHT)["x"][-1]))(2.0)
    assert onp.isclose(grad, -3.0 * onp.sin(6.0), rtol=1e-7)


def test_float32_in_float32_out():
    y0 = onp.array([1.0, 0.5], onp.float32)
    t = onp.linspace(0.0, 1.0, 3).astype(onp.float32)
    rates = tuple(onp.float32(r) for r in RATES)
    ys = odeint(lotka_volterra, y0, t, *rates)
    assert ys.dtype == onp.float32
    assert onp.allclose(ys, reference(lotka_volterra, Y0, t.astype(float), *RATES), rtol=1e-4)
    grad = cr.grad(lambda y: np.sum(odeint(lotka_volterra, y, t, *rates)[-1]))(y0)
    assert grad.dtype == onp.float32
    expected = cr.grad(lambda y: np.sum(odeint(lotka_volterra, y, t.astype(float), *RATES)[-1]))(Y0)
    assert onp.allclose(grad, expected, rtol=1e-3)


def test_complex_state_matches_finite_differences():
    def rotate(y, t, omega):
        return 1j * omega * y
    t = onp.array([0.0, 1.0])
    ys = odeint(rotate, onp.array([1.0 + 0.0j]), t, 2.0, **TIGHT)
    assert ys.dtype == onp.complex128 and onp.allclose(ys[-1], onp.exp(2.0j), atol=1e-9)

    def loss(omega):
        return np.real(odeint(rotate, onp.array([1.0 + 0.5j]), t, omega, **TIGHT)[-1, 0] * (0.3 - 0.2j))
    fd = central_difference(lambda w: loss(float(w[0])), [2.0])[0]
    assert onp.isclose(cr.grad(loss)(2.0), fd, rtol=1e-6)
    assert onp.isclose(cr.jvp(loss, (2.0,), (1.0,))[1], fd, rtol=1e-6)


# ------------------------------------------------------------------------------------------- gradients

def lv_loss(y0, a, b, c, d, rtol=1e-10, atol=1e-12, method="dopri5", adjoint=None):
    ys = odeint(lotka_volterra, y0, onp.array([0.0, 5.0]), a, b, c, d, rtol=rtol, atol=atol, method=method,
                adjoint=adjoint)
    return np.sum(ys[-1] ** 2)


def flat_gradient(function, *args, **options):
    gradient = cr.grad(lambda *a: function(*a, **options), argnums=tuple(range(len(args))))(*args)
    return onp.concatenate([onp.ravel(g) for g in gradient])


def test_gradient_matches_a_tight_reference_to_1e_9():
    expected = flat_gradient(lv_loss, Y0, *RATES, rtol=1e-14, atol=1e-16)

    def jax_loss(y0, a, b, c, d):
        return jnp.sum(jax_odeint(lotka_volterra_jax, y0, jnp.array([0.0, 5.0]), a, b, c, d, rtol=1e-13,
                                  atol=1e-15)[-1] ** 2)
    from_jax = onp.concatenate([onp.ravel(g) for g in jax.grad(jax_loss, argnums=(0, 1, 2, 3, 4))(jnp.asarray(Y0),
                                                                                                   *RATES)])
    assert onp.linalg.norm(from_jax - expected) / onp.linalg.norm(expected) < 1e-11
    for method in ("dopri5", "tsit5"):
        gradient = flat_gradient(lv_loss, Y0, *RATES, method=method)
        assert onp.linalg.norm(gradient - expected) / onp.linalg.norm(expected) <= 1e-9


def _exactness_setup(method, t):
    """The problem and trajectory of one solve, and a function of (y0, args) that replays its steps."""
    captured = {}
    original = rules.discrete_vjp

    def spy(problem, trajectory, slopes, y0, t_values, arg_leaves, ys_bar, event_bars):
        captured.update(problem=problem, trajectory=trajectory, slopes=slopes)
        return original(problem, trajectory, slopes, y0, t_values, arg_leaves, ys_bar, event_bars)
    rules.discrete_vjp = spy
    try:
        gradient = cr.grad(lambda p: np.sum(odeint(lotka_volterra, p[:2], t, *[p[2 + k] for k in range(4)],
                                                   method=method, **TIGHT)[-1] ** 2))(onp.concatenate([Y0, RATES]))
    finally:
        rules.discrete_vjp = original

    def same_steps(p):
        ys = replay(captured["problem"], captured["trajectory"], p[:2], t, list(p[2:]))[0]
        return onp.sum(onp.asarray(ys)[-1] ** 2)
    return gradient, same_steps


@pytest.mark.parametrize("method", ["dopri5", "tsit5"])
def test_gradient_is_exact_for_the_steps_taken(method):
    # Central differences of the same discretization (the solve's steps replayed) agree to FD's own error.
    t = onp.array([0.0, 1.3, 5.0])
    gradient, same_steps = _exactness_setup(method, t)
    fd = central_difference(same_steps, onp.concatenate([Y0, RATES]), step=1e-5)
    assert onp.allclose(gradient, fd, rtol=1e-8, atol=1e-9)


def test_rk4_gradient_equals_finite_differences_of_the_solver():
    t = onp.linspace(0.0, 2.0, 5)

    def loss(p):
        return np.sum(odeint(lotka_volterra, p[:2], t, *[p[2 + k] for k in range(4)], method="rk4", step=0.05) ** 2)
    p = onp.concatenate([Y0, RATES])
    assert onp.allclose(cr.grad(loss)(p), central_difference(lambda q: loss(q), p, step=1e-5), rtol=1e-8)


@pytest.mark.parametrize("method,options,tolerance", [("dopri5", TIGHT, 1e-8), ("tsit5", TIGHT, 1e-8),
                                                      ("rk4", dict(step=0.01), 1e-8)])
def test_time_gradients_match_jax(method, options, tolerance):
    t = onp.array([0.2, 0.9, 1.7])

    def loss(t):
        return np.sum(odeint(forced, 1.5, t, 0.7, method=method, **options) * onp.array([0.5, -1.0, 2.0]))

    def jax_loss(t):
        ys = jax_odeint(lambda y, s, k: -k * y + jnp.sin(2.0 * s), 1.5, t, 0.7, rtol=1e-12, atol=1e-14)
        return jnp.sum(ys * jnp.array([0.5, -1.0, 2.0]))
    expected = onp.asarray(jax.grad(jax_loss)(jnp.asarray(t)))
    assert onp.allclose(cr.grad(loss)(t), expected, rtol=1e-6, atol=tolerance)
    assert onp.allclose(cr.jacfwd(loss)(t), expected, rtol=1e-6, atol=tolerance)


def test_forward_mode_matches_reverse_mode():
    p = onp.concatenate([Y0, RATES])

    def final(p):
        return odeint(lotka_volterra, p[:2], onp.array([0.0, 2.5, 5.0]), *[p[2 + k] for k in range(4)], **TIGHT)[1:]
    jacobian_reverse = cr.jacrev(final)(p)
    assert onp.allclose(cr.jacfwd(final)(p), jacobian_reverse, rtol=1e-9, atol=1e-12)
    tangent = onp.linspace(0.5, -0.5, 6)
    _, out_tangent = cr.jvp(final, (p,), (tangent,))
    assert onp.allclose(out_tangent, jacobian_reverse @ tangent, rtol=1e-9, atol=1e-12)


def test_second_derivatives_through_rk4():
    t = onp.linspace(0.0, 1.0, 4)

    def loss(p):
        return np.sum(odeint(lotka_volterra, p[:2], t, *[p[2 + k] for k in range(4)], method="rk4") ** 2)
    p = onp.concatenate([Y0, RATES])
    hessian = cr.hessian(loss)(p)
    expected = central_difference(lambda q: cr.grad(loss)(q), p, step=1e-5)
    assert onp.allclose(hessian, expected, rtol=1e-6, atol=1e-7)
    assert onp.allclose(cr.grad(lambda q: cr.grad(loss)(q)[2])(p), expected[2], rtol=1e-6, atol=1e-7)


def test_closure_over_a_differentiated_value():
    t = onp.array([0.0, 1.0])

    def loss(k):
        return odeint(lambda y, s: -k * y, 2.0, t, **TIGHT)[-1]
    assert onp.isclose(cr.grad(loss)(0.5), -2.0 * onp.exp(-0.5), rtol=1e-8)


def test_vmap_solves_each_example():
    t = onp.array([0.0, 1.0, 2.0])
    rates = onp.array([0.5, 1.0, 2.0])
    batched = cr.vmap(lambda k: odeint(forced, 1.5, t, k, **TIGHT))(rates)
    for row, k in zip(batched, rates):
        assert onp.allclose(row, odeint(forced, 1.5, t, k, **TIGHT))
    grads = cr.vmap(cr.grad(lambda k: odeint(forced, 1.5, t, k, **TIGHT)[-1]))(rates)
    fd = [central_difference(lambda v: odeint(forced, 1.5, t, v[0], **TIGHT)[-1], [k])[0] for k in rates]
    assert onp.allclose(grads, fd, rtol=1e-6)


def test_backsolve_adjoint_is_close_but_approximate():
    exact = flat_gradient(lv_loss, Y0, *RATES)
    continuous = flat_gradient(lv_loss, Y0, *RATES, adjoint="backsolve")
    assert onp.linalg.norm(continuous - exact) / onp.linalg.norm(exact) < 1e-6
    t = onp.array([0.2, 0.9, 1.7])
    loss = lambda t: np.sum(odeint(forced, 1.5, t, 0.7, adjoint="backsolve", **TIGHT) ** 2)  # noqa: E731
    exact_t = cr.grad(lambda t: np.sum(odeint(forced, 1.5, t, 0.7, **TIGHT) ** 2))(t)
    assert onp.allclose(cr.grad(loss)(t), exact_t, rtol=1e-6)


# ------------------------------------------------------------------------------------------- events

def falling(y, t, g):
    return np.stack([y[1], -g])


def hit_ground(y, t, g):
    return y[0]


hit_ground.terminal = True
hit_ground.direction = -1


def test_terminal_event_time_state_and_derivatives():
    t = onp.linspace(0.0, 2.0, 9)
    y0 = onp.array([2.0, 1.0])
    ys, (times,) = odeint(falling, y0, t, 9.81, events=hit_ground, **TIGHT)
    exact = (1.0 + onp.sqrt(1.0 + 2 * 9.81 * 2.0)) / 9.81
    assert times.shape == (1,) and onp.isclose(times[0], exact, rtol=1e-10)
    assert onp.allclose(ys[-1], [0.0, 1.0 - 9.81 * exact], atol=1e-9)   # held: the state at the event
    assert onp.allclose(ys[t > exact], ys[-1])

    def event_time(p):
        return odeint(falling, p[:2], t, p[2], events=hit_ground, **TIGHT)[1][0][0]

    def speed_at_impact(p):
        return odeint(falling, p[:2], t, p[2], events=hit_ground, **TIGHT)[0][-1, 1]
    p = onp.array([2.0, 1.0, 9.81])
    for function in (event_time, speed_at_impact):
        fd = central_difference(function, p, step=1e-6)
        assert onp.allclose(cr.grad(function)(p), fd, rtol=1e-6, atol=1e-8)
        assert onp.allclose(cr.jacfwd(function)(p), fd, rtol=1e-6, atol=1e-8)


def test_non_terminal_events_in_both_directions_and_rk4():
    def crossing(y, t):
        return y[0]
    t = onp.linspace(0.0, 10.0, 3)
    oscillator = lambda y, s: np.stack([y[1], -y[0]])  # noqa: E731
    for options in (TIGHT, dict(method="rk4", step=1e-3)):
        ys, (times,) = odeint(oscillator, onp.array([1.0, 0.0]), t, events=[crossing], **options)
        expected = onp.pi / 2 + onp.pi * onp.arange(3)
        assert onp.allclose(times, expected, atol=1e-8) and ys.shape == (3, 2)
    crossing.direction = 1
    _, (rising,) = odeint(oscillator, onp.array([1.0, 0.0]), t, events=crossing, **TIGHT)
    assert onp.allclose(rising, [3 * onp.pi / 2], atol=1e-8)


def test_event_time_gradient_with_respect_to_args():
    def threshold(y, t, k, level):
        return y - level
    threshold.terminal = True

    def first_passage(k, level):
        return odeint(lambda y, s, k, level: -k * y, 1.0, onp.array([0.0, 5.0]), k, level, events=threshold,
                      **TIGHT)[1][0][0]
    # y = e^{-k t} reaches level at t* = -log(level) / k.
    assert onp.isclose(first_passage(0.8, 0.3), -onp.log(0.3) / 0.8, rtol=1e-9)
    grad_k, grad_level = cr.grad(first_passage, argnums=(0, 1))(0.8, 0.3)
    assert onp.isclose(grad_k, onp.log(0.3) / 0.8 ** 2, rtol=1e-7)
    assert onp.isclose(grad_level, -1.0 / (0.3 * 0.8), rtol=1e-7)


def test_event_time_derivatives_of_second_and_third_order():
    # Dropped from rest at height h, the ground is hit at t*(h, g) = sqrt(2 h / g): every derivative is known.
    def impact_time(h, g):
        y0 = np.stack([h, 0.0 * h])
        return odeint(falling, y0, onp.array([0.0, 5.0]), g, events=hit_ground, **TIGHT)[1][0][0]
    h, g = 2.0, 9.81
    assert onp.isclose(impact_time(h, g), onp.sqrt(2 * h / g), rtol=1e-10)
    second = cr.grad(cr.grad(impact_time))(h, g)
    assert onp.isclose(second, -0.25 * onp.sqrt(2 / g) * h ** -1.5, rtol=1e-7)
    third = cr.grad(cr.grad(cr.grad(impact_time)))(h, g)
    assert onp.isclose(third, 0.375 * onp.sqrt(2 / g) * h ** -2.5, rtol=1e-6)
    hessian = cr.hessian(impact_time, argnums=(0, 1))(h, g)
    expected = [[-0.25 * onp.sqrt(2 / g) * h ** -1.5, -0.25 * onp.sqrt(2) * (h * g ** 3) ** -0.5],
                [-0.25 * onp.sqrt(2) * (h * g ** 3) ** -0.5, 0.75 * onp.sqrt(2 * h) * g ** -2.5]]
    assert onp.allclose(onp.array(hessian, dtype=float), expected, rtol=1e-7)
    # forward over reverse and reverse over forward agree
    assert onp.isclose(cr.jacfwd(cr.grad(impact_time))(h, g), second, rtol=1e-10)
    assert onp.isclose(cr.grad(lambda h: cr.jvp(lambda h: impact_time(h, g), (h,), (1.0,))[1])(h), second,
                       rtol=1e-10)

    # the state at a terminal event moves with the event time: speed at impact -sqrt(2 g h)
    def impact_speed(h):
        y0 = np.stack([h, 0.0 * h])
        return odeint(falling, y0, onp.array([0.0, 5.0]), g, events=hit_ground, **TIGHT)[0][-1, 1]
    assert onp.isclose(cr.grad(cr.grad(impact_speed))(h), 0.25 * onp.sqrt(2 * g) * h ** -1.5, rtol=1e-6)


# ------------------------------------------------------------------------------------------- errors

def test_max_steps_error_names_time_and_step():
    with pytest.raises(IntegrationError, match=r"max_steps=5 .* t=.* step size"):
        odeint(lotka_volterra, Y0, onp.array([0.0, 5.0]), *RATES, max_steps=5)


def test_non_finite_derivative_names_the_time():
    def blows_up(y, t):
        return np.where(t > 0.49, np.inf, 1.0) * y
    with pytest.raises(IntegrationError, match=r"non-finite values .* at t=0\.5 "):
        odeint(blows_up, 1.0, onp.linspace(0.0, 1.0, 11), method="rk4")
    with pytest.raises(IntegrationError, match=r"non-finite values .* at t=0\.0 "), onp.errstate(divide="ignore"):
        odeint(lambda y, t: y / t, 1.0, onp.array([0.0, 1.0]))


def pendulum_with_time(y, t, a):
    return np.stack([y[1], -a * np.sin(y[0]) - 0.1 * y[1] * t])


@pytest.mark.parametrize("method,adjoint", [("dopri5", None), ("tsit5", None), ("rk4", None),
                                            ("dopri5", "backsolve")])
def test_repeated_times_as_scipy_allows_them(method, adjoint):
    # scipy.integrate.odeint accepts repeated times (autograd's odeint too): each row is the solution at its
    # time, and each time's derivative is its own (one-sided differences: moving a repeated time one way only
    # keeps t ordered)
    options = dict(method=method, rtol=1e-10, atol=1e-12, **({"adjoint": adjoint} if adjoint else {}))
    y0 = onp.array([0.5, 0.1])
    t = onp.array([0.0, 0.0, 0.5, 1.0, 1.0, 1.7, 2.0, 2.0])
    unique = odeint(pendulum_with_time, y0, onp.array([0.0, 0.5, 1.0, 1.7, 2.0]), 1.3, **options)
    onp.testing.assert_array_equal(odeint(pendulum_with_time, y0, t, 1.3, **options),
                                   unique[[0, 0, 1, 2, 2, 3, 4, 4]])
    weights = onp.random.default_rng(0).normal(size=(len(t), 2))
    loss = lambda t: np.sum(odeint(pendulum_with_time, y0, t, 1.3, **options) * weights)  # noqa: E731
    gradient = cr.grad(loss)(t)
    # (jit's native adaptive steps agree with Python's to rounding amplified by the error estimate at this
    # tolerance: see test_integrate_native)
    onp.testing.assert_allclose(cr.jit(cr.grad(loss))(t), gradient,
                                rtol=1e-12 if method == "rk4" or adjoint else 1e-7, atol=1e-12)
    # forward mode is the exact derivative; backsolve's reverse mode is the continuous adjoint, to tolerance
    onp.testing.assert_allclose(cr.jacfwd(loss)(t), gradient, rtol=1e-7 if adjoint else 1e-9, atol=1e-12)
    step = 1e-6
    for k, side in [(0, -1), (1, 1), (3, -1), (4, 1), (6, -1), (7, 1)]:  # each of a repeated pair, its free side
        moved = t.copy()
        moved[k] += side * step
        difference = (loss(moved) - loss(t)) / (side * step)
        tolerance = 1e-3 if (method, adjoint) == ("rk4", "backsolve") else 2e-6
        assert abs(gradient[k] - difference) <= tolerance * (1 + abs(difference)), (k, gradient[k], difference)


@pytest.mark.parametrize("options,message", [
    (dict(method="euler"), "method must be one of"),
    (dict(rtol=-1.0), "rtol must be"),
    (dict(adjoint="seminorm"), "adjoint must be"),
    (dict(method="dopri5", step=0.1), "step= subdivides"),
])
def test_bad_options(options, message):
    with pytest.raises(ValueError, match=message):
        odeint(forced, 1.0, onp.array([0.0, 1.0]), 0.5, **options)


def test_bad_times_and_shapes():
    with pytest.raises(ValueError, match="unordered times"):
        odeint(forced, 1.0, onp.array([0.0, 1.0, 0.5]), 0.5)
    with pytest.raises(ValueError, match="every time in t is 1.0"):
        odeint(forced, 1.0, onp.array([1.0, 1.0]), 0.5)
    with pytest.raises(ValueError, match=r"func returned shapes \[\(3,\)\]"):
        odeint(lambda y, t: np.ones(3), onp.zeros(2), onp.array([0.0, 1.0]))


# ------------------------------------------------------------------------------------------- compiled steps, jit

def _without_compiled_steps(monkeypatch):
    monkeypatch.setattr(steps, "COMPILE_FROM_STEPS", 10 ** 9)
    steps.clear_cache()


@pytest.mark.parametrize("method,options", [("rk4", dict(step=0.01)), ("dopri5", TIGHT), ("tsit5", TIGHT)])
def test_compiled_steps_give_the_eager_steps_values_and_derivatives(method, options, monkeypatch):
    # Long solves run each step (and its adjoint) as one generated function: same numbers as the eager steps,
    # with outputs inside steps (dense output), t-derivatives (rk4's steps scale with t) and argument derivatives.
    t = onp.array([0.0, 0.7, 1.9, 3.0])

    def loss(p, t):
        ys = odeint(forced_pair, p[:2], t, p[2], method=method, **options)
        return np.sum(ys * onp.array([[0.3, -0.2]]))
    p = onp.array([1.0, 0.5, 0.8])
    steps.clear_cache()
    compiled = (loss(p, t), cr.grad(loss, argnums=(0, 1))(p, t), cr.jacfwd(lambda p: loss(p, t))(p))
    assert len(steps._GENERATED) >= 2  # the forward step and the step's adjoint were generated
    _without_compiled_steps(monkeypatch)
    eager = (loss(p, t), cr.grad(loss, argnums=(0, 1))(p, t), cr.jacfwd(lambda p: loss(p, t))(p))
    # Adaptive solves choose their steps from the numbers: a rounding difference could move a step (the values then
    # differ at the tolerance's level); here the step sequences agree.
    onp.testing.assert_allclose(onp.concatenate([onp.ravel(v) for v in _flat(compiled)]),
                                onp.concatenate([onp.ravel(v) for v in _flat(eager)]), rtol=1e-11, atol=1e-13)


def forced_pair(y, t, k):
    return np.stack([y[1] + np.sin(t), -k * y[0] - 0.1 * y[1] ** 3])


def _flat(values):
    out = []
    for value in values:
        out += _flat(value) if isinstance(value, (tuple, list)) else [onp.asarray(value)]
    return out


@pytest.mark.parametrize("dtype", [onp.float32, onp.complex128])
def test_compiled_steps_keep_float32_and_complex(dtype, monkeypatch):
    t = onp.linspace(0.0, 1.0, 3)

    def final(y0, k):
        return odeint(lambda y, s, k: -k * y + 0.5j * y if onp.dtype(dtype).kind == "c" else -k * y, y0, t, k,
                      method="rk4", step=0.01)[-1]
    y0 = onp.array([1.0, 0.5], dtype)
    value = final(y0, 0.7)
    pullback = cr.vjp(final, y0, 0.7)[1]
    bars = pullback(onp.ones(2, dtype))
    assert value.dtype == dtype and bars[0].dtype == dtype
    _without_compiled_steps(monkeypatch)
    tolerance = 1e-5 if dtype == onp.float32 else 1e-12
    onp.testing.assert_allclose(value, final(y0, 0.7), rtol=tolerance)
    for got, expected in zip(bars, cr.vjp(final, y0, 0.7)[1](onp.ones(2, dtype))):
        onp.testing.assert_allclose(got, expected, rtol=tolerance)


def test_generated_steps_follow_changed_constants():
    # Generated code is kept across calls by func's staged graph: a closed-over value or a global that changed
    # stages a different graph, never the old code.
    t = onp.array([0.0, 1.0])
    for k in (0.5, 2.0):
        ys = odeint(lambda y, s: -k * y, 1.0, t, method="rk4", step=0.01)
        assert onp.isclose(ys[-1], onp.exp(-k), rtol=1e-8)
    global RATE_SCALE
    for RATE_SCALE in (1.0, 3.0):
        ys = odeint(scaled_decay, 1.0, t, 0.5, method="rk4", step=0.01)
        assert onp.isclose(ys[-1], onp.exp(-0.5 * RATE_SCALE), rtol=1e-8)


RATE_SCALE = 1.0


def scaled_decay(y, t, k):
    return -k * RATE_SCALE * y


def test_a_func_that_branches_on_values_runs_eagerly_in_long_solves():
    def piecewise(y, t, k):
        return -k * y if y > 0.5 else -0.5 * k * y   # a Python branch on a value: cannot be staged
    t = onp.array([0.0, 2.0])
    ys = odeint(piecewise, 1.0, t, 1.0, method="rk4", step=0.01)
    switch = onp.log(2.0)
    assert onp.isclose(ys[-1], 0.5 * onp.exp(-0.5 * (2.0 - switch)), rtol=2e-3)  # RK4 across the kink
    grad = cr.grad(lambda k: odeint(piecewise, 1.0, t, k, method="rk4", step=0.01)[-1])(1.0)
    fd = central_difference(lambda v: odeint(piecewise, 1.0, t, v[0], method="rk4", step=0.01)[-1], [1.0])[0]
    assert onp.isclose(grad, fd, rtol=1e-5)


@pytest.mark.parametrize("dtype", [onp.float64, onp.float32, onp.complex128])
def test_jit_of_odeint_and_its_derivatives_equals_eager(dtype):
    t = onp.array([0.0, 0.5, 2.0])
    y0 = onp.array([1.0, 0.5], dtype)

    def final(y0, k):
        return odeint(forced_pair if onp.dtype(dtype).kind != "c" else lambda y, s, k: 1j * k * y, y0, t, k)

    def loss(y0, k):
        return np.sum(np.real(final(y0, k)[-1]) ** 2)
    for function, arguments in ((final, (y0, 0.8)), (cr.grad(loss, argnums=(0, 1)), (y0, 0.8)),
                                (cr.jacfwd(lambda k: final(y0, k)), (0.8,)),
                                (cr.jacrev(lambda k: final(y0, k)), (0.8,))):
        expected, got = function(*arguments), cr.jit(function)(*arguments)
        for e, g in zip(_flat([expected]), _flat([got])):
            assert g.dtype == e.dtype and g.shape == e.shape
            onp.testing.assert_allclose(g, e, rtol=1e-12 if dtype != onp.float32 else 1e-6)


def test_jit_of_rk4_with_traced_times_and_pytree_state():
    def final(t, omega):
        return odeint(lambda s, _, w: {"x": s["v"], "v": -w ** 2 * s["x"]}, {"x": 1.0, "v": 0.0}, t, omega,
                      method="rk4", step=0.01)["x"]
    t = onp.linspace(0.0, 1.0, 4)
    onp.testing.assert_allclose(cr.jit(final)(t, 2.0), final(t, 2.0), rtol=1e-13)
    # the inner times' entries are zero up to rounding (the grid of equal substeps cancels), hence atol
    onp.testing.assert_allclose(cr.jit(cr.grad(lambda t, w: final(t, w)[-1]))(t, 2.0),
                                cr.grad(lambda t, w: final(t, w)[-1])(t, 2.0), rtol=1e-12, atol=1e-13)
    assert onp.isclose(cr.jit(final)(t, 2.0)[-1], onp.cos(2.0), rtol=1e-8)


def test_jit_of_a_gradient_solves_once_per_call(monkeypatch):
    import importlib
    odeint_module = importlib.import_module("chainrule.integrate.odeint")
    calls = []
    original = odeint_module.solve
    monkeypatch.setattr(odeint_module, "solve", lambda *args: calls.append(1) or original(*args))
    gradient = cr.jit(cr.grad(lambda k: odeint(forced, 1.5, onp.array([0.0, 1.0]), k, **TIGHT)[-1]))
    for k in (0.5, 0.6, 0.6):
        calls.clear()
        expected = cr.grad(lambda k: odeint(forced, 1.5, onp.array([0.0, 1.0]), k, **TIGHT)[-1])(k)
        calls.clear()
        # (jit may run the native solve, whose adaptive steps agree with Python's to rounding amplified by the
        # error estimate: see test_integrate_native)
        assert onp.isclose(gradient(k), expected, rtol=1e-9)
        assert len(calls) <= 1  # the derivative reuses the solve of the same call (or of the same inputs)


def test_jit_of_odeint_with_events_is_refused_clearly():
    with pytest.raises(cr.ChainruleError, match="odeint with events cannot be staged .* number|how many times"):
        cr.jit(lambda g: odeint(falling, onp.array([2.0, 1.0]), onp.linspace(0.0, 2.0, 5), g,
                                events=hit_ground)[0])(9.81)
    with pytest.raises(cr.ChainruleError, match="third derivatives cannot be staged"):
        cr.jit(cr.jacfwd(cr.hessian(lambda k: odeint(forced, 1.0, onp.array([0.0, 1.0]), k)[-1])))(0.5)


@pytest.mark.parametrize("second", [cr.hessian, lambda f: cr.jacrev(cr.jacrev(f)), lambda f: cr.jacfwd(cr.jacfwd(f)),
                                    lambda f: cr.jacfwd(cr.jacrev(f))])
@pytest.mark.parametrize("method", ["dopri5", "rk4"])
def test_second_derivatives_are_staged_and_batched(second, method):
    # Staged (jit) and batched (vmap), the second derivative is one operation that differentiates the replayed
    # steps when it runs: the eager Hessian's numbers, which central differences of the gradient confirm.
    def loss(p):
        ys = odeint(forced_pair, np.stack([p[0], 0.5 + 0.0 * p[0]]), onp.array([0.0, 1.0, 2.0]), p[1],
                    method=method, **(TIGHT if method != "rk4" else dict(step=0.05)))
        return np.sum(ys ** 2) + ys[-1, 0] * p[1]
    p = onp.array([1.0, 0.7])
    eager = cr.hessian(loss)(p)
    onp.testing.assert_allclose(cr.jit(second(loss))(p), eager, rtol=1e-9, atol=1e-10)
    points = onp.stack([p, p * 1.1])
    onp.testing.assert_allclose(cr.vmap(second(loss))(points), onp.stack([eager, cr.hessian(loss)(points[1])]),
                                rtol=1e-9, atol=1e-10)
    onp.testing.assert_allclose(cr.jit(cr.vmap(second(loss)))(points)[0], eager, rtol=1e-9, atol=1e-10)
    gradient = cr.grad(loss)
    central = onp.stack([(gradient(p + 1e-5 * e) - gradient(p - 1e-5 * e)) / 2e-5 for e in onp.eye(2)])
    onp.testing.assert_allclose(eager, central, rtol=1e-5)


def test_small_state_error_norm_equals_numpys(monkeypatch):
    from types import SimpleNamespace
    from chainrule.integrate import solver
    rng = onp.random.default_rng(2)
    cases = [(rng.normal(size=3), rng.normal(size=3), rng.normal(size=3) * 1e-6, 1e-9, 1e-7),
             (onp.array([0.0, 1.0]), onp.array([0.0, onp.nan]), onp.array([1e-3, 1e-3]), 1e-9, 1e-7),
             (onp.array([0.0, 2.0]), onp.array([0.0, 1.0]), onp.array([1e-3, 0.0]), 0.0, 1e-7),
             (onp.array([1 + 2j, -1j]), onp.array([1 + 1j, 0.5]), onp.array([1e-4j, 1e-5]), 1e-9, 1e-6)]
    for y, y_new, error, atol, rtol in cases:
        problem = SimpleNamespace(atol=atol, rtol=rtol)
        small = solver._error_norm(problem, y, y_new, error)
        monkeypatch.setattr(solver, "_SMALL_STATE", 0)
        with onp.errstate(all="ignore"):
            vectorized = solver._error_norm(problem, y, y_new, error)
        monkeypatch.setattr(solver, "_SMALL_STATE", 16)
        assert (onp.isnan(small) and onp.isnan(vectorized)) or onp.isclose(small, vectorized, rtol=1e-14)


def test_backsolve_adjoint_with_terminal_and_non_terminal_events_matches_the_exact_one():
    def drag(y, t, g, c):
        return np.stack([y[1], -g - c * y[1] * np.abs(y[1])])

    def ground(y, t, g, c):
        return y[0]
    ground.terminal, ground.direction = True, -1
    times = onp.linspace(0.0, 3.0, 7)
    tight = dict(rtol=1e-11, atol=1e-13)

    def loss(p, adjoint):
        ys, (impact,) = odeint(drag, p[:2], times, p[2], p[3], events=ground, adjoint=adjoint, **tight)
        return np.sum(ys[:, 0] ** 2) + 3.0 * impact[0] + ys[-1, 1] ** 2   # rows after the impact hold its state
    p = onp.array([2.0, 1.0, 9.81, 0.2])
    exact, continuous = cr.grad(loss)(p, None), cr.grad(loss)(p, "backsolve")
    assert onp.allclose(continuous, exact, rtol=1e-8) and not onp.array_equal(continuous, exact)
    time_loss = lambda t, adjoint: np.sum(odeint(drag, p[:2], t, 9.81, 0.2, events=ground, adjoint=adjoint,  # noqa: E731
                                                 **tight)[0][:, 0] ** 2)
    assert onp.allclose(cr.grad(time_loss)(times, "backsolve"), cr.grad(time_loss)(times, None), rtol=1e-8,
                        atol=1e-10)

    def crossing(y, t, w):
        return y[0]

    def oscillation(q, adjoint):
        ys, (crossings,) = odeint(lambda y, t, w: np.stack([y[1], -w * w * y[0]]), q[:2], onp.array([0.0, 5.0]),
                                  q[2], events=crossing, adjoint=adjoint, **tight)
        return np.sum(crossings ** 2) + np.sum(ys[-1] ** 2)
    q = onp.array([1.0, 0.3, 1.7])
    assert onp.allclose(cr.grad(oscillation)(q, "backsolve"), cr.grad(oscillation)(q, None), rtol=1e-8)
