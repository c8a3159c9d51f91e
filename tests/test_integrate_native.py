"""odeint under jit as machine code (chainrule.integrate.native, numba from the test extra): the compiled solve
and discrete adjoint give the Python route's steps and numbers, JAX's gradient of the same RK4 discretization,
finite differences of the solver; everything outside what they cover runs the Python route, errors included."""
import importlib
import math

import numpy as onp
import pytest

import chainrule as cr
import chainrule.numpy as np
from chainrule.export import native as native_code
from chainrule.integrate import IntegrationError, native, odeint

odeint_module = importlib.import_module("chainrule.integrate.odeint")  # the module, which the function shadows
TIGHT = dict(rtol=1e-10, atol=1e-12)


@pytest.fixture
def routes(monkeypatch):
    """Counts of compiled solves and adjoints, and a switch to run a function with native code off."""
    seen = {"solve": 0, "vjp": 0, "jvp": 0}
    solve, adjoint, tangent = native.solve, native.discrete_vjp, native.discrete_jvp

    def counted_solve(*args):
        result = solve(*args)
        seen["solve"] += result is not None
        return result

    def counted_vjp(*args):
        result = adjoint(*args)
        seen["vjp"] += result is not None
        return result
    def counted_jvp(*args):
        result = tangent(*args)
        seen["jvp"] += result is not None
        return result
    monkeypatch.setattr(native, "solve", counted_solve)
    monkeypatch.setattr(native, "discrete_jvp", counted_jvp)
    monkeypatch.setattr(native, "discrete_vjp", counted_vjp)

    def python_route(function, *args):
        monkeypatch.setattr(native_code, "ENABLED", False)
        try:
            return cr.jit(function)(*args)
        finally:
            monkeypatch.setattr(native_code, "ENABLED", True)
    seen["python"] = python_route
    return seen


def lotka_volterra(y, t, a, b, c, d):
    return np.stack([a * y[0] - b * y[0] * y[1], c * y[0] * y[1] - d * y[1]])


def pendulum(y, t, k):
    return np.stack([y[1], -9.81 * np.sin(y[0]) - k * y[1]])


def _flat(values):
    return onp.concatenate([onp.ravel(onp.asarray(v)) for v in values])


def test_numba_is_installed_with_the_test_extra():
    assert native_code.available()


@pytest.mark.parametrize("method", ["dopri5", "tsit5", "rk4"])
@pytest.mark.parametrize("times", [[0.0, 0.7, 1.3, 3.0], [3.0, 2.0, 0.5], [0.0, 1.0, 1.0, 2.5]])
def test_compiled_gradient_equals_the_python_route(method, times, routes):
    # Every argument at once (y0, t, the rates): dense outputs inside steps, backward time, a repeated time, and
    # for rk4 several substeps per interval.
    options = dict(TIGHT) if method != "rk4" else dict(step=0.05)

    def loss(y0, t, a, b):
        ys = odeint(lotka_volterra, y0, t, a, b, 3.0, 1.0, method=method, **options)
        return np.sum(ys ** 2) + np.sum(ys[1] * ys[-1])

    arguments = (onp.array([1.0, 0.5]), onp.array(times), 1.5, 1.0)
    gradient = cr.grad(loss, argnums=(0, 1, 2, 3))
    compiled = cr.jit(gradient)(*arguments)
    assert routes["solve"] == 1 and routes["vjp"] == 1
    python = routes["python"](gradient, *arguments)
    assert routes["solve"] == 1  # the switch took the Python route
    # Fixed steps agree to rounding. Adaptive ones run the same controller, but at tight tolerances the error
    # estimate (a difference of nearly equal stages) amplifies rounding differences (libm's functions against
    # NumPy's, sums in another order) into step sizes that differ in their fifth digit: both derivatives are
    # exact for their own solve, and the solves agree well within the tolerance.
    tolerance = dict(rtol=1e-11, atol=1e-12) if method == "rk4" else dict(rtol=1e-7, atol=1e-9)
    for got, expected in zip(compiled, python):
        assert onp.shape(got) == onp.shape(expected) and onp.result_type(got) == onp.result_type(expected)
        onp.testing.assert_allclose(got, expected, **tolerance)
    forward = cr.jit(lambda *args: odeint(lotka_volterra, args[0], args[1], args[2], args[3], 3.0, 1.0,
                                          method=method, **options))(*arguments)
    onp.testing.assert_allclose(forward, odeint(lotka_volterra, *arguments, 3.0, 1.0, method=method, **options),
                                rtol=1e-12 if method == "rk4" else 1e-9)


def test_compiled_rk4_gradient_equals_jaxs_of_the_same_steps(routes):
    jax = pytest.importorskip("jax")
    jax.config.update("jax_enable_x64", True)
    jnp = jax.numpy
    steps, horizon = 400, 4.0

    def final_angle(theta0, k):
        y0 = np.stack([theta0, 0.0 * theta0])
        return odeint(pendulum, y0, onp.array([0.0, horizon]), k, method="rk4", step=horizon / steps)[-1, 0]

    def jax_final_angle(theta0, k):
        h = horizon / steps

        def f(y):
            return jnp.stack([y[1], -9.81 * jnp.sin(y[0]) - k * y[1]])

        def step(y, _):
            k1 = f(y)
            k2 = f(y + h / 2 * k1)
            k3 = f(y + h / 2 * k2)
            k4 = f(y + h * k3)
            return y + h / 6 * (k1 + 2 * k2 + 2 * k3 + k4), None
        return jax.lax.scan(step, jnp.stack([theta0, 0.0]), None, length=steps)[0][0]

    compiled = cr.jit(cr.grad(final_angle, argnums=(0, 1)))(1.0, 0.3)
    assert routes["vjp"] == 1
    expected = jax.grad(jax_final_angle, argnums=(0, 1))(1.0, 0.3)
    onp.testing.assert_allclose(_flat(compiled), _flat(expected), rtol=1e-11)


def test_compiled_gradient_matches_finite_differences_of_the_solver():
    def loss(rates):
        ys = odeint(lotka_volterra, onp.array([1.0, 0.5]), onp.array([0.0, 2.0, 5.0]), rates[0], rates[1],
                    rates[2], rates[3], rtol=1e-12, atol=1e-14)
        return np.sum(ys[-1] ** 2)
    rates = onp.array([1.5, 1.0, 3.0, 1.0])
    gradient = cr.jit(cr.grad(loss))(rates)
    step = 1e-6
    central = [(float(loss(rates + step * e)) - float(loss(rates - step * e))) / (2 * step) for e in onp.eye(4)]
    onp.testing.assert_allclose(gradient, central, rtol=1e-6)


def test_matrix_arguments_against_the_matrix_exponential(routes):
    # y' = A y: y(1) = expm(A) y0, whose derivative in A is the Frechet derivative of expm (SciPy's).
    from scipy.linalg import expm_frechet
    a = onp.array([[-0.5, 1.0, 0.0], [-1.0, -0.2, 0.3], [0.1, 0.0, -1.0]])
    y0 = onp.array([1.0, -0.5, 2.0])
    weights = onp.array([0.3, -1.0, 2.0])

    def loss(a):
        return np.sum(weights * odeint(lambda y, t, a: a @ y, y0, onp.array([0.0, 1.0]), a, rtol=1e-12,
                                       atol=1e-14)[-1])
    gradient = cr.jit(cr.grad(loss))(a)
    assert routes["vjp"] == 1
    expected = onp.array([[weights @ expm_frechet(a, onp.outer(onp.eye(3)[i], onp.eye(3)[j]), compute_expm=False)
                           @ y0 for j in range(3)] for i in range(3)])
    onp.testing.assert_allclose(gradient, expected, rtol=1e-9)


def test_pytree_state_and_closed_over_traced_values(routes):
    def final(omega, y0):
        def oscillator(s, t):  # closes over omega, which jit traces
            return {"x": s["v"], "v": -omega ** 2 * s["x"]}
        return odeint(oscillator, {"x": y0, "v": 0.0 * y0}, onp.linspace(0.0, 1.0, 3), **TIGHT)["x"][-1]
    gradient = cr.grad(final, argnums=(0, 1))
    compiled = cr.jit(gradient)(2.0, 1.5)
    assert routes["vjp"] == 1
    onp.testing.assert_allclose(_flat(compiled), _flat(gradient(2.0, 1.5)), rtol=1e-8)
    onp.testing.assert_allclose(_flat(compiled), [-1.5 * math.sin(2.0), math.cos(2.0)], rtol=1e-8)


def test_vmap_of_the_gradient_under_jit_solves_each_example_natively(routes):
    def loss(k):
        return odeint(pendulum, onp.array([1.0, 0.0]), onp.array([0.0, 2.0]), k, **TIGHT)[-1, 0]
    ks = onp.array([0.1, 0.3, 0.5])
    compiled = cr.jit(cr.vmap(cr.grad(loss)))(ks)
    assert routes["vjp"] == 3
    onp.testing.assert_allclose(compiled, [cr.grad(loss)(k) for k in ks], rtol=1e-8)


@pytest.mark.parametrize("method", ["dopri5", "tsit5", "rk4"])
def test_compiled_forward_mode_equals_the_python_route(method, routes):
    # jacfwd with respect to y0, every time and a rate: dense outputs with moving query times, substeps.
    options = dict(TIGHT) if method != "rk4" else dict(step=0.05)

    def outputs(y0, t, a):
        return odeint(lotka_volterra, y0, t, a, 1.0, 3.0, 1.0, method=method, **options)
    arguments = (onp.array([1.0, 0.5]), onp.array([0.0, 0.7, 1.3, 3.0]), 1.5)
    jacobian = cr.jacfwd(outputs, argnums=(0, 1, 2))
    compiled = cr.jit(jacobian)(*arguments)
    assert routes["jvp"] > 0 and routes["solve"] == 1
    python = routes["python"](jacobian, *arguments)
    tolerance = dict(rtol=1e-10, atol=1e-12) if method == "rk4" else dict(rtol=1e-7, atol=1e-9)  # see above
    for got, expected in zip(compiled, python):
        onp.testing.assert_allclose(got, expected, **tolerance)
    onp.testing.assert_allclose(compiled[2], cr.jit(cr.jacrev(outputs, argnums=2))(*arguments), rtol=1e-10,
                                atol=1e-12)
    _, tangent = cr.jit(lambda y0, a, y0_dot: cr.jvp(lambda y, r: outputs(y, arguments[1], r), (y0, a),
                                                     (y0_dot, 0.0)))(arguments[0], 1.5, onp.array([1.0, -2.0]))
    onp.testing.assert_allclose(tangent, compiled[0] @ onp.array([1.0, -2.0]), rtol=1e-10, atol=1e-12)


def test_a_value_and_its_derivatives_share_one_compiled_solve(routes):
    def final(k):
        return odeint(pendulum, onp.array([1.0, 0.0]), onp.array([0.0, 1.0, 2.0]), k, **TIGHT)[-1]
    value, tangent = cr.jit(lambda k: cr.jvp(final, (k,), (1.0,)))(0.3)
    assert routes["solve"] == 1 and routes["jvp"] == 1
    onp.testing.assert_allclose(value, final(0.3), rtol=1e-10)
    onp.testing.assert_allclose(tangent, cr.jacfwd(final)(0.3), rtol=1e-8)
    onp.testing.assert_allclose(cr.jit(cr.jacrev(final))(0.3), tangent, rtol=1e-10)
    assert routes["vjp"] == 2  # jacrev: one compiled adjoint per row of the Jacobian, of one compiled solve
    assert routes["solve"] == 2


def test_compiled_solves_feed_pythons_second_derivatives():
    def loss(p):
        return np.sum(odeint(pendulum, np.stack([p[0], 0.0 * p[0]]), onp.array([0.0, 1.0, 2.0]), p[1], **TIGHT) ** 2)
    p = onp.array([1.0, 0.3])
    onp.testing.assert_allclose(cr.jit(cr.hessian(loss))(p), cr.hessian(loss)(p), rtol=1e-7)


def test_what_native_code_does_not_cover_runs_the_python_route(routes):
    t = onp.array([0.0, 1.0])
    # float32 state
    f32 = cr.jit(cr.grad(lambda k: odeint(pendulum, onp.array([1.0, 0.0], onp.float32), t, k)[-1, 0]))
    assert onp.isclose(f32(onp.float32(0.3)), cr.grad(lambda k: odeint(pendulum, onp.array([1.0, 0.0], onp.float32),
                                                                        t, k)[-1, 0])(onp.float32(0.3)), rtol=1e-5)
    # a state too large for scalar code, and the backsolve adjoint
    big = cr.jit(cr.grad(lambda k: np.sum(odeint(lambda y, s, k: -k * y, onp.ones(100), t, k)[-1])))
    assert onp.isclose(big(0.5), -100 * math.exp(-0.5), rtol=1e-6)
    backsolve = cr.jit(cr.grad(lambda k: odeint(lambda y, s, k: -k * y, 1.0, t, k, adjoint="backsolve")[-1]))
    assert onp.isclose(backsolve(0.5), -math.exp(-0.5), rtol=1e-6)
    assert routes["solve"] == 0 and routes["vjp"] == 0


def test_failed_compiled_solves_raise_the_python_routes_errors(routes):
    t = onp.array([0.0, 10.0])
    with pytest.raises(IntegrationError, match="max_steps=5"):
        cr.jit(cr.grad(lambda k: odeint(pendulum, onp.array([1.0, 0.0]), t, k, max_steps=5)[-1, 0]))(0.3)
    with pytest.raises(IntegrationError, match="non-finite"), onp.errstate(all="ignore"):  # NumPy's inf at s = 1
        cr.jit(lambda k: odeint(lambda y, s, k: k / (1.0 - s) + 0.0 * y, 0.0, onp.array([0.0, 1.0]), k,
                                method="rk4", step=0.25))(1.0)
    with pytest.raises(ValueError, match="t must be increasing"):
        cr.jit(lambda t: odeint(pendulum, onp.array([1.0, 0.0]), t, 0.3))(onp.array([0.0, 2.0, 1.0]))


def test_native_functions_have_numpys_arithmetic():
    graph = cr.make_graph(lambda x, s: np.stack([x[0] / x[1], np.log(x[1]), np.sqrt(s) * x[0]]))(
        onp.array([1.0, 2.0]), 4.0)
    function = native_code.native_function(graph, "sample")
    assert "x0[1]" in function.__source__ and "o0[2] =" in function.__source__
    out = onp.empty(3)
    for x, s in (([1.0, 2.0], 4.0), ([1.0, 0.0], 4.0), ([-1.0, 0.0], -1.0)):
        function.ctypes(onp.asarray(x).ctypes.data_as(function.ctypes.argtypes[0]), s,
                        out.ctypes.data_as(function.ctypes.argtypes[2]))
        with onp.errstate(all="ignore"):
            expected = onp.array([x[0] / onp.float64(x[1]), onp.log(onp.float64(x[1])), onp.sqrt(s) * x[0]])
        onp.testing.assert_array_equal(out, expected)
    assert native_code.native_function(cr.make_graph(lambda x: x.astype(onp.float32))(onp.ones(2))) is None


def test_loops_numba_cannot_compile_fall_back_to_python_with_a_warning(monkeypatch):
    from numba.core.errors import TypingError

    def refuses(*args):
        raise TypingError("Cannot determine Numba type of <class 'object'>")
    native._compiled()  # the real dispatchers exist (monkeypatch restores them)
    monkeypatch.setitem(native._LOOPS, "drivers", {name: refuses for name in native._DRIVERS})
    loss = cr.grad(lambda k: odeint(pendulum, onp.array([1.0, 0.0]), onp.array([0.0, 1.0]), k, **TIGHT)[-1, 0])
    with pytest.warns(RuntimeWarning, match="numba could not compile odeint's native loops .*TypingError"):
        compiled = cr.jit(loss)(0.3)
    assert onp.isclose(compiled, loss(0.3), rtol=1e-12)
    assert native._compiled() is None  # not tried again in this process


def test_one_compiled_gradient_called_from_threads(routes):
    # The problem keeps its last solve for the derivative: threads overwriting it make a call solve again, never
    # take another call's steps.
    import threading
    loss = cr.grad(lambda k: odeint(pendulum, onp.array([1.0, 0.0]), onp.array([0.0, 3.0]), k, **TIGHT)[-1, 0])
    compiled = cr.jit(loss)
    ks = onp.linspace(0.1, 0.8, 8)
    expected = {k: compiled(k) for k in ks}
    wrong = []

    def work(offset):
        for j in range(24):
            k = ks[(offset + j) % len(ks)]
            if compiled(k) != expected[k]:
                wrong.append(k)
    threads = [threading.Thread(target=work, args=(offset,)) for offset in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not wrong and routes["vjp"] >= 8 + 4 * 24


def test_native_true_compiles_eager_calls_too(routes):
    t = onp.array([0.0, 2.5, 5.0])

    def loss(y0, a, native):
        return np.sum(odeint(lotka_volterra, y0, t, a, 1.0, 3.0, 1.0, native=native, **TIGHT) ** 2)
    y0 = onp.array([1.0, 0.5])
    for transform in (lambda f: cr.grad(f, argnums=(0, 1)), lambda f: cr.jacfwd(f, argnums=(0, 1)),
                      lambda f: cr.hessian(f, argnums=1)):
        before = dict(routes)
        compiled = transform(lambda y0, a: loss(y0, a, True))(y0, 1.5)
        compiled = compiled if isinstance(compiled, tuple) else (compiled,)
        assert routes["solve"] > before["solve"]
        python = transform(lambda y0, a: loss(y0, a, None))(y0, 1.5)  # eager: Python steps
        python = python if isinstance(python, tuple) else (python,)
        for got, expected in zip(_flat(compiled), _flat(python)):
            onp.testing.assert_allclose(got, expected, rtol=1e-7)
    assert routes["vjp"] >= 1 and routes["jvp"] >= 1
    batched = cr.vmap(cr.grad(lambda a: loss(y0, a, True)))(onp.array([1.4, 1.5]))
    onp.testing.assert_allclose(batched, [cr.grad(lambda a: loss(y0, a, None))(a) for a in (1.4, 1.5)], rtol=1e-7)


def test_native_option_is_checked_and_can_be_refused(routes):
    t = onp.array([0.0, 1.0])
    for bad in (dict(native="yes"), dict(native=True, events=lambda y, s: y[0] - 0.5),
                dict(native=True, adjoint="backsolve")):
        with pytest.raises(ValueError, match="native"):
            odeint(pendulum, onp.array([1.0, 0.0]), t, 0.3, **bad)
    with pytest.raises(ValueError, match="float64"):
        odeint(pendulum, onp.array([1.0, 0.0], onp.float32), t, onp.float32(0.3), native=True)
    with pytest.warns(RuntimeWarning, match="cannot be compiled to native code"):
        big = cr.grad(lambda k: np.sum(odeint(lambda y, s, k: -k * y, onp.ones(100), t, k, native=True)[-1]))(0.5)
    assert onp.isclose(big, -100 * math.exp(-0.5), rtol=1e-6)
    never = cr.jit(cr.grad(lambda k: odeint(pendulum, onp.array([1.0, 0.0]), t, k, native=False)[-1, 0]))(0.3)
    assert routes["solve"] == 0 and onp.isfinite(never)


def test_native_true_without_numba_says_how_to_get_it(monkeypatch):
    monkeypatch.setattr(native_code, "ENABLED", False)
    with pytest.raises(ValueError, match="pip install chainrule\\[native\\]"):
        odeint(pendulum, onp.array([1.0, 0.0]), onp.array([0.0, 1.0]), 0.3, native=True)


@pytest.mark.parametrize("options", [dict(first_step=0.01), dict(controller="standard"),
                                     dict(first_step=-0.2, controller="standard", method="tsit5")])
def test_step_control_options_and_a_scalar_state(options, routes):
    def loss(k, y0):
        return odeint(lambda y, s, k: -k * y + np.sin(3.0 * s), y0, onp.array([0.0, 0.4, 2.0]), k, **TIGHT,
                      **options)[-1]
    gradient = cr.grad(loss, argnums=(0, 1))
    compiled = cr.jit(gradient)(0.8, 1.5)
    assert routes["vjp"] == 1
    python = routes["python"](gradient, 0.8, 1.5)
    onp.testing.assert_allclose(_flat(compiled), _flat(python), rtol=1e-7)
    # y(t) = (y0 - c) e^{-kt} + c(t): d y(2) / d y0 = e^{-2k}, independently of the forcing
    onp.testing.assert_allclose(compiled[1], math.exp(-1.6), rtol=1e-8)
