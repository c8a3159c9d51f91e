"""The scenario table: composite functions run through every transform, compared with JAX (float64, CPU)
as an independent oracle to 1e-10 relative.

Each scenario is written once as ``function(xp, *args)`` so that the same code runs on
``chainrule.numpy`` and on ``jax.numpy``.
"""
import numpy as onp
import pytest

import chainrule as cr
import chainrule.numpy as cnp

import jax  # the independent oracle: installed by the test extra, so a missing JAX fails loudly
jax.config.update("jax_enable_x64", True)
jnp = jax.numpy

RTOL = 1e-10


# ------------------------------------------------------------------------------------------ comparison

def _is_node(value):
    return isinstance(value, (tuple, list, dict))


def assert_tree_close(got, expected, rtol=RTOL, path="result"):
    """Compare a chainrule result with the oracle's, leaf by leaf; chainrule leaves must be concrete."""
    if isinstance(expected, dict):
        assert isinstance(got, dict), f"{path}: expected a dict, got {type(got).__name__}"
        assert sorted(got) == sorted(expected), f"{path}: keys {sorted(got)} != {sorted(expected)}"
        for key in expected:
            assert_tree_close(got[key], expected[key], rtol, f"{path}[{key!r}]")
        return
    if isinstance(expected, (tuple, list)):
        assert isinstance(got, (tuple, list)), f"{path}: expected a sequence, got {type(got).__name__}"
        assert len(got) == len(expected), f"{path}: length {len(got)} != {len(expected)}"
        for k, (g, e) in enumerate(zip(got, expected)):
            assert_tree_close(g, e, rtol, f"{path}[{k}]")
        return
    assert isinstance(got, (onp.ndarray, onp.generic, float, int)), \
        f"{path}: chainrule returned {type(got).__name__}, not a concrete array"
    expected = onp.asarray(expected)
    got_array = onp.asarray(got)
    assert got_array.shape == expected.shape, f"{path}: shape {got_array.shape} != {expected.shape}"
    scale = max(1.0, float(onp.max(onp.abs(expected)))) if expected.size else 1.0
    onp.testing.assert_allclose(got_array, expected, rtol=rtol, atol=rtol * scale * 1e-2, err_msg=path)


def _leaves(tree):
    if isinstance(tree, dict):
        return [leaf for key in sorted(tree) for leaf in _leaves(tree[key])]
    if isinstance(tree, (tuple, list)):
        return [leaf for item in tree for leaf in _leaves(item)]
    return [tree]


def _map(function, tree):
    if isinstance(tree, dict):
        return {key: _map(function, value) for key, value in tree.items()}
    if isinstance(tree, (tuple, list)):
        return type(tree)(_map(function, value) for value in tree)
    return function(tree)


def _random_like(tree, rng):
    return _map(lambda leaf: rng.standard_normal(onp.shape(leaf)) if onp.ndim(leaf)
                else float(rng.standard_normal()), tree)


def _tree_vdot(xp, a, b):
    total = 0.0
    for x, y in zip(_leaves(a), _leaves(b)):
        total = total + xp.sum(x * y)
    return total


# ------------------------------------------------------------------------------------------ scenarios

RNG = onp.random.default_rng(20240611)
A = RNG.standard_normal((7, 4))
Y_LS = RNG.standard_normal(7)
X_NET = RNG.standard_normal((6, 3))
Y_NET = RNG.standard_normal((6, 2))
FEATURES = RNG.standard_normal((5, 4))
LABELS = onp.eye(3)[[0, 2, 1, 1, 0]]


def lecture(xp, x1, x2):
    return (xp.sin(x1 / x2) + x1 / x2 - xp.exp(x2)) * (x1 / x2 - xp.exp(x2))


def least_squares(xp, x):
    residual = Y_LS - A @ x
    return xp.sum(residual ** 2)


def relu_network(xp, params):
    hidden = xp.maximum(X_NET @ params["W1"] + params["b1"], 0.0)
    prediction = hidden @ params["W2"] + params["b2"]
    return xp.sum((Y_NET - prediction) ** 2) / Y_NET.shape[0]


def softmax_cross_entropy(xp, weights):
    logits = FEATURES @ weights.T
    shifted = logits - xp.max(logits, axis=1, keepdims=True)
    log_probabilities = shifted - xp.log(xp.sum(xp.exp(shifted), axis=1, keepdims=True))
    return -xp.mean(xp.sum(LABELS * log_probabilities, axis=1))


def rosenbrock(xp, x):
    return xp.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)


def tuple_pytree(xp, pair, scale):
    (a, b), c = pair, scale
    return xp.sum(xp.tanh(a) * b[::-1]) * c + xp.prod(b) + xp.dot(a, b) ** 2


def nested_pytree(xp, tree):
    # dict of list and tuple leaves, a vector output
    first, second = tree["layers"]
    return xp.concatenate([xp.sin(first) * tree["gain"], xp.cumsum(second * second[0]),
                           xp.reshape(xp.outer(first, second[:2]), (-1,))])


def control_flow(xp, x):
    # if / for / while on concrete values
    total = 0.0
    for k in range(3):
        if xp.sum(x) > k - 1.5:  # true, true, false at the test point
            total = total + xp.sum(xp.sin(x * (k + 1)))
        else:
            total = total - xp.sum(x ** (k + 2))
    while xp.max(xp.abs(x)) > 0.5:
        x = x * 0.7
    return total + xp.sum(x ** 3)


def piecewise_scalar(xp, x):
    if x > 1.0:
        y = xp.log(x) * x
    else:
        y = xp.exp(x) - 1.0
    for _ in range(2):
        y = xp.sin(y) + y * x
    return y


def vector_valued(xp, x):
    # more outputs than inputs: jacobian(mode="auto") takes the forward path
    return xp.stack([x[0] * x[1], xp.exp(x[1]), xp.sin(x[0]) / (1.0 + x[1] ** 2), x[0] ** 3, xp.hypot(x[0], x[1])])


def matrix_function(xp, m):
    # matrix in, matrix out, with linear algebra
    return xp.linalg.solve(m @ m.T + 3.0 * xp.eye(3), m) + xp.tanh(m) * xp.trace(m)


def _spd_free(rng):
    return rng.standard_normal((3, 3))


SCENARIOS = {
    "lecture": (lecture, (1.5, 0.5)),
    "least_squares": (least_squares, (RNG.standard_normal(4),)),
    "relu_network": (relu_network, ({"W1": RNG.standard_normal((3, 5)), "b1": RNG.standard_normal(5),
                                     "W2": RNG.standard_normal((5, 2)), "b2": RNG.standard_normal(2)},)),
    "softmax_cross_entropy": (softmax_cross_entropy, (RNG.standard_normal((3, 4)),)),
    "rosenbrock": (rosenbrock, (RNG.uniform(-1.5, 1.5, 6),)),
    "tuple_pytree": (tuple_pytree, ((RNG.standard_normal(3), RNG.standard_normal(3)), 0.7)),
    "nested_pytree": (nested_pytree, ({"layers": [RNG.standard_normal(3), RNG.standard_normal(4)],
                                       "gain": 1.3},)),
    "control_flow": (control_flow, (RNG.uniform(-1.0, 1.0, 4),)),
    "piecewise_scalar": (piecewise_scalar, (1.7,)),
    "vector_valued": (vector_valued, (onp.array([0.8, -0.3]),)),
    "matrix_function": (matrix_function, (_spd_free(RNG),)),
}
SCALAR = {"lecture", "least_squares", "relu_network", "softmax_cross_entropy", "rosenbrock", "tuple_pytree",
          "control_flow", "piecewise_scalar"}


def _bound(name, xp):
    function, args = SCENARIOS[name]
    return (lambda *a: function(xp, *a)), args


def _argnums(args):
    return 0 if len(args) == 1 else tuple(range(len(args)))


ALL = sorted(SCENARIOS)
# Python control flow on values cannot be compiled by jax.jit; those run eagerly in JAX (slowly).
VALUE_DEPENDENT = {"control_flow", "piecewise_scalar"}


def oracle(name, function):
    """JAX's side of a comparison, compiled when the scenario allows it (eager JAX is slow)."""
    return function if name in VALUE_DEPENDENT else jax.jit(function)
SCALARS = sorted(SCALAR)


# ------------------------------------------------------------------------------------------ the lecture

def test_lecture_values_full_precision():
    x1, x2 = 1.5, 0.5
    expected_y = (onp.sin(3.0) + 3.0 - onp.exp(0.5)) * (3.0 - onp.exp(0.5))
    f = lambda a, b: lecture(cnp, a, b)
    y, y_dot = cr.jvp(f, (x1, x2), (1.0, 0.0))
    assert abs(float(y) - expected_y) < 1e-14
    assert round(float(y), 6) == 2.016647
    x1_bar, x2_bar = cr.grad(f, argnums=(0, 1))(x1, x2)
    assert round(float(y_dot), 6) == 3.011843
    assert round(float(x1_bar), 6) == 3.011843
    assert round(float(x2_bar), 6) == -13.723962
    # analytic partials: v1 = x1/x2, v3 = exp(x2), v4 = v1 - v3, v5 = sin(v1) + v4, y = v5 * v4
    v1, v3 = x1 / x2, onp.exp(x2)
    v4, v5 = v1 - v3, onp.sin(v1) + v1 - v3
    dy_dv1 = (onp.cos(v1) + 1.0) * v4 + v5
    dy_dv3 = -v4 - v5
    onp.testing.assert_allclose(float(x1_bar), dy_dv1 / x2, rtol=1e-14)
    onp.testing.assert_allclose(float(x2_bar), dy_dv1 * (-x1 / x2 ** 2) + dy_dv3 * v3, rtol=1e-14)
    onp.testing.assert_allclose(float(y_dot), float(x1_bar), rtol=1e-14)
    expected = jax.grad(lambda a, b: lecture(jnp, a, b), argnums=(0, 1))(x1, x2)
    assert_tree_close((x1_bar, x2_bar), expected)


def test_lecture_argnums_single():
    f = lambda a, b: lecture(cnp, a, b)
    g = lambda a, b: lecture(jnp, a, b)
    assert_tree_close(cr.grad(f, argnums=1)(1.5, 0.5), jax.grad(g, argnums=1)(1.5, 0.5))
    assert_tree_close(cr.grad(f, argnums=-1)(1.5, 0.5), jax.grad(g, argnums=1)(1.5, 0.5))


# ------------------------------------------------------------------------------------------ first order

@pytest.mark.parametrize("name", SCALARS)
def test_grad_and_value_and_grad(name):
    f, args = _bound(name, cnp)
    g, _ = _bound(name, jnp)
    numbers = _argnums(args)
    expected_value, expected_gradient = oracle(name, jax.value_and_grad(g, argnums=numbers))(*args)
    assert_tree_close(cr.grad(f, argnums=numbers)(*args), expected_gradient)
    value, gradient = cr.value_and_grad(f, argnums=numbers)(*args)
    assert_tree_close(value, expected_value)
    assert_tree_close(gradient, expected_gradient)


@pytest.mark.parametrize("name", SCALARS)
def test_grad_has_aux(name):
    f, args = _bound(name, cnp)
    g, _ = _bound(name, jnp)
    aux_f = lambda *a: (f(*a), {"twice": 2.0 * f(*a)})
    aux_g = lambda *a: (g(*a), {"twice": 2.0 * g(*a)})
    gradient, aux = cr.grad(aux_f, has_aux=True)(*args)
    expected_gradient, expected_aux = oracle(name, jax.grad(aux_g, has_aux=True))(*args)
    assert_tree_close(gradient, expected_gradient)
    assert_tree_close(aux, expected_aux)


@pytest.mark.parametrize("name", ALL)
def test_jvp(name):
    f, args = _bound(name, cnp)
    g, _ = _bound(name, jnp)
    tangents = _random_like(args, onp.random.default_rng(1))
    expected = oracle(name, lambda a, t: jax.jvp(g, a, t))(args, tangents)
    assert_tree_close(cr.jvp(f, args, tangents), expected)


@pytest.mark.parametrize("name", ALL)
def test_vjp(name):
    f, args = _bound(name, cnp)
    g, _ = _bound(name, jnp)
    out, pullback = cr.vjp(f, *args)
    expected_out = g(*args)
    assert_tree_close(out, expected_out)
    pull = oracle(name, lambda a, c: jax.vjp(g, *a)[1](c))
    rng = onp.random.default_rng(2)
    for _ in range(2):  # a pullback may be called more than once
        cotangent = _random_like(_map(onp.asarray, expected_out), rng)
        assert_tree_close(pullback(cotangent), pull(args, cotangent))


@pytest.mark.parametrize("name", ALL)
def test_linearize(name):
    f, args = _bound(name, cnp)
    g, _ = _bound(name, jnp)
    out, f_jvp = cr.linearize(f, *args)
    assert_tree_close(out, g(*args))
    g_jvp = oracle(name, lambda a, t: jax.linearize(g, *a)[1](*t))
    rng = onp.random.default_rng(3)
    for _ in range(2):
        tangents = _random_like(args, rng)
        assert_tree_close(f_jvp(*tangents), g_jvp(args, tangents))


@pytest.mark.parametrize("transform", ["jacfwd", "jacrev", "jacobian"])
@pytest.mark.parametrize("name", ALL)
def test_jacobians(name, transform):
    f, args = _bound(name, cnp)
    g, _ = _bound(name, jnp)
    numbers = _argnums(args)
    expected = oracle(name, jax.jacrev(g, argnums=numbers))(*args)
    assert_tree_close(getattr(cr, transform)(f, argnums=numbers)(*args), expected)


@pytest.mark.parametrize("mode", ["forward", "reverse"])
def test_jacobian_modes(mode):
    f, args = _bound("vector_valued", cnp)
    g, _ = _bound("vector_valued", jnp)
    assert_tree_close(cr.jacobian(f, mode=mode)(*args), jax.jit(jax.jacfwd(g))(*args))


def test_jacobian_auto_picks_forward_for_tall_and_reverse_for_wide():
    # Count the passes through the function: forward mode for n < m pushes all input directions through
    # one batched JVP pass (after the recording that measured the sizes); reverse mode records once.
    calls = []

    def tall(x):
        calls.append(type(x).__name__)
        return vector_valued(cnp, x)

    cr.jacobian(tall)(onp.array([0.8, -0.3]))
    assert sum("JVP" in c for c in calls) == 1, calls

    calls.clear()

    def wide(x):
        calls.append(type(x).__name__)
        return cnp.stack([cnp.sum(x ** 2), cnp.sum(cnp.sin(x))])

    cr.jacobian(wide)(onp.arange(6.0))
    assert not any("JVP" in c for c in calls), calls
    assert len(calls) == 1


# ------------------------------------------------------------------------------------------ second order

@pytest.mark.parametrize("name", ALL)
def test_hessian(name):
    f, args = _bound(name, cnp)
    g, _ = _bound(name, jnp)
    numbers = _argnums(args)
    assert_tree_close(cr.hessian(f, argnums=numbers)(*args), oracle(name, jax.hessian(g, argnums=numbers))(*args))


@pytest.mark.parametrize("name", SCALARS)
def test_hvp(name):
    f, args = _bound(name, cnp)
    g, _ = _bound(name, jnp)
    tangents = _random_like(args, onp.random.default_rng(4))
    numbers = tuple(range(len(args)))
    expected = oracle(name, lambda a, t: jax.jvp(jax.grad(g, argnums=numbers), a, t)[1])(args, tangents)
    assert_tree_close(cr.hvp(f, args, tangents), expected)


@pytest.mark.parametrize("name", SCALARS)
def test_grad_of_grad(name):
    # reverse-over-reverse: the gradient of <grad f(x), v>
    f, args = _bound(name, cnp)
    g, _ = _bound(name, jnp)
    numbers = _argnums(args)
    direction = _random_like(args if len(args) > 1 else args[0], onp.random.default_rng(5))

    def outer(xp, grad, function):
        return lambda *a: _tree_vdot(xp, grad(function, argnums=numbers)(*a), direction)

    assert_tree_close(cr.grad(outer(cnp, cr.grad, f), argnums=numbers)(*args),
                      oracle(name, jax.grad(outer(jnp, jax.grad, g), argnums=numbers))(*args))


@pytest.mark.parametrize("outer_name,inner_name", [("jacfwd", "jacrev"), ("jacrev", "jacfwd"),
                                                    ("jacrev", "jacrev"), ("jacfwd", "jacfwd")])
@pytest.mark.parametrize("name", ["lecture", "rosenbrock", "relu_network", "vector_valued", "nested_pytree"])
def test_jacobian_of_jacobian(name, outer_name, inner_name):
    f, args = _bound(name, cnp)
    g, _ = _bound(name, jnp)
    numbers = _argnums(args)
    got = getattr(cr, outer_name)(getattr(cr, inner_name)(f, argnums=numbers), argnums=numbers)(*args)
    expected = oracle(name, getattr(jax, outer_name)(getattr(jax, inner_name)(g, argnums=numbers),
                                                     argnums=numbers))(*args)
    assert_tree_close(got, expected)


@pytest.mark.parametrize("name", ALL)
def test_reverse_over_forward(name):
    # the gradient of <v, J(x) u> computed by jvp inside grad
    f, args = _bound(name, cnp)
    g, _ = _bound(name, jnp)
    rng = onp.random.default_rng(6)
    tangents = _random_like(args, rng)
    weights = _random_like(_map(onp.asarray, g(*args)), rng)
    numbers = tuple(range(len(args)))

    def directional(xp, jvp, function):
        return lambda *a: _tree_vdot(xp, jvp(function, a, tangents)[1], weights)

    assert_tree_close(cr.grad(directional(cnp, cr.jvp, f), argnums=numbers)(*args),
                      oracle(name, jax.grad(directional(jnp, jax.jvp, g), argnums=numbers))(*args))


@pytest.mark.parametrize("name", ALL)
def test_forward_over_forward_and_forward_over_reverse(name):
    f, args = _bound(name, cnp)
    g, _ = _bound(name, jnp)
    rng = onp.random.default_rng(7)
    u, w = _random_like(args, rng), _random_like(args, rng)
    inner_f = lambda *a: cr.jvp(f, a, u)[1]
    inner_g = lambda *a: jax.jvp(g, a, u)[1]
    assert_tree_close(cr.jvp(inner_f, args, w), oracle(name, lambda a, t: jax.jvp(inner_g, a, t))(args, w))
    weights = _random_like(_map(onp.asarray, g(*args)), rng)
    pulled_f = lambda *a: cr.vjp(f, *a)[1](weights)
    pulled_g = lambda *a: jax.vjp(g, *a)[1](weights)
    assert_tree_close(cr.jvp(pulled_f, args, w), oracle(name, lambda a, t: jax.jvp(pulled_g, a, t))(args, w))


@pytest.mark.parametrize("name", ["lecture", "piecewise_scalar"])
def test_third_order_scalar(name):
    f, args = _bound(name, cnp)
    g, _ = _bound(name, jnp)
    assert_tree_close(cr.grad(cr.grad(cr.grad(f)))(*args), oracle(name, jax.grad(jax.grad(jax.grad(g))))(*args))
    # mixed: forward over reverse over forward
    d1 = lambda *a: cr.jvp(f, a, (1.0,) * len(a))[1]
    e1 = lambda *a: jax.jvp(g, a, (1.0,) * len(a))[1]
    assert_tree_close(cr.jacfwd(cr.grad(d1))(*args), oracle(name, jax.jacfwd(jax.grad(e1)))(*args))


def test_control_flow_takes_the_other_branch():
    f, _ = _bound("piecewise_scalar", cnp)
    g, _ = _bound("piecewise_scalar", jnp)
    for x in (0.3, 1.7):
        assert_tree_close(cr.grad(f)(x), jax.grad(g)(x))
        assert_tree_close(cr.hessian(f)(x), jax.hessian(g)(x))
