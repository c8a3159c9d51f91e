"""export.scalar: graphs of tiny float64 arrays written with Python floats give the NumPy code's values (to
rounding), fall back to it where Python raises (a division by zero, an overflow, a domain error), and are not
written where they would not pay (large arrays, float32, complex, unknown operations)."""
import warnings

import numpy as np
import pytest

import chainrule as cr
import chainrule.numpy as cnp
from chainrule.core.graph import inline_calls, make_graph
from chainrule.export import to_python
from chainrule.export.scalar import MAX_ELEMENTS, to_scalar_python, with_fallback


def _both(function, *args):
    graph = inline_calls(make_graph(function)(*args))
    return to_scalar_python(graph), to_python(graph, *args, compile=True)


def _leaves(value):
    return list(value) if isinstance(value, (list, tuple)) else [value]


RNG = np.random.default_rng(5)
VECTOR, MATRIX, SCALAR = RNG.uniform(0.2, 1.5, 3), RNG.uniform(0.2, 1.5, (2, 3)), np.float64(0.7)

FUNCTIONS = {
    "elementwise": (lambda x, s: cnp.sin(x) * s + cnp.exp(-x) / (1.0 + x ** 2) - cnp.tanh(x * s), (VECTOR, SCALAR)),
    "math": (lambda x: cnp.stack([cnp.log(x[0]), cnp.sqrt(x[1]), cnp.arctan2(x[0], x[2]), cnp.expm1(x[1]),
                                  cnp.log1p(x[2]), cnp.hypot(x[0], x[1]), cnp.abs(-x[2]), cnp.arcsinh(x[0])]),
             (VECTOR,)),
    "broadcast_and_reduce": (lambda m, v: cnp.sum(m * v, axis=1) + cnp.sum(m, axis=0)[:2] + cnp.sum(m),
                             (MATRIX, VECTOR)),
    "moves": (lambda m: cnp.concatenate([cnp.transpose(m).ravel(), cnp.flip(m[1]), cnp.pad(m[0], 1)]), (MATRIX,)),
    "select_and_compare": (lambda x, s: cnp.where(x > s, x, -x) + cnp.maximum(x, s) - cnp.minimum(x, 0.5),
                           (VECTOR, SCALAR)),
    "at_update": (lambda x: x.at[1].set(x[0] * 2.0) + x.at[0].add(1.0), (VECTOR,)),
    "gradient": (cr.grad(lambda x, s: cnp.sum(cnp.sin(x) ** 2 * s) + cnp.prod(x)), (VECTOR, SCALAR)),
    "jacobian": (cr.jacfwd(lambda x: cnp.stack([x[0] * x[1], cnp.sin(x[2]) - x[0]])), (VECTOR,)),
    "tuple_out": (lambda x, s: (x * s, cnp.sum(x), x[0] > s), (VECTOR, SCALAR)),
    "contractions": (lambda m, v: (m @ v, cnp.dot(v, v) * m.T, cnp.einsum("ij,ij->j", m, m), cnp.outer(v, v) @ m.T),
                     (MATRIX, VECTOR)),
}


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_scalar_code_gives_numpy_codes_values(name):
    function, args = FUNCTIONS[name]
    scalar, vectorized = _both(function, *args)
    assert scalar is not None, name
    got, expected = scalar(*args), vectorized(*args)
    assert type(got) is type(expected)
    for g, e in zip(_leaves(got), _leaves(expected)):
        assert np.shape(g) == np.shape(e) and np.result_type(g) == np.result_type(e)
        np.testing.assert_allclose(g, e, rtol=1e-15, atol=1e-15)


def test_nan_propagates_through_maximum_and_minimum_as_in_numpy():
    function = lambda x, y: (cnp.maximum(x, y), cnp.minimum(x, y))
    x, y = np.array([np.nan, 1.0, 2.0]), np.array([1.0, np.nan, 3.0])
    scalar, vectorized = _both(function, x, y)
    for g, e in zip(scalar(x, y), vectorized(x, y)):
        np.testing.assert_array_equal(g, e)


@pytest.mark.parametrize("function, x", [(lambda x: 1.0 / x, np.array([0.0, 2.0])),
                                         (lambda x: cnp.log(x), np.array([0.0, 1.0])),
                                         (lambda x: cnp.exp(x), np.array([1000.0, 1.0])),
                                         (lambda x: cnp.sin(x), np.array([np.inf, 1.0])),
                                         (lambda x: x ** 0.5, np.array([-1.0, 4.0]))])
def test_where_python_raises_the_numpy_code_answers(function, x):
    scalar, vectorized = _both(function, x)
    guarded = with_fallback(scalar, vectorized)
    with pytest.raises((ArithmeticError, ValueError)):
        scalar(x)
    with warnings.catch_warnings(record=True):
        warnings.simplefilter("always")
        expected = vectorized(x)
        np.testing.assert_array_equal(guarded(x), expected)
    assert guarded.vectorized is vectorized


@pytest.mark.parametrize("function, args", [
    (lambda x: cnp.sin(x), (np.ones(MAX_ELEMENTS + 1),)),          # large enough for NumPy to pay
    (lambda x: cnp.sin(x), (np.ones(3, dtype=np.float32),)),        # float32: Python floats are float64
    (lambda x: cnp.sin(x), (np.ones(3, dtype=np.complex128),)),
    (lambda x: cnp.cumsum(x), (np.ones(3),)),
])
def test_not_written_where_it_would_not_hold(function, args):
    scalar, vectorized = _both(function, *args)
    assert scalar is None and vectorized is not None


def test_a_contraction_of_too_many_terms_is_not_written(monkeypatch):
    from chainrule.export import scalar
    monkeypatch.setattr(scalar, "MAX_TERMS", 5)
    assert _both(lambda m, v: m @ v, MATRIX, VECTOR)[0] is None  # 2 outputs of 3 terms each
    assert _both(lambda v: v @ v, VECTOR)[0] is not None


def test_a_scatter_add_with_repeated_places_is_not_written():
    index = np.array([0, 0, 1])
    scalar, vectorized = _both(lambda x: cnp.zeros(2).at[index].add(x), np.ones(3))
    assert scalar is None
    np.testing.assert_array_equal(vectorized(np.array([1.0, 2.0, 4.0])), [3.0, 4.0])


def test_odeint_steps_run_as_scalar_code_with_the_same_derivatives(monkeypatch):
    from chainrule.integrate import odeint, steps

    def pendulum(y, t, k):
        return cnp.stack([y[1], -9.81 * cnp.sin(y[0]) - k * y[1]])

    def final(theta0, k):
        y0 = cnp.stack([theta0, 0.0 * theta0])
        return odeint(pendulum, y0, np.array([0.0, 2.0]), k, method="rk4", step=0.01)[-1, 0]

    def lotka(p):
        def rates(y, t, a, b):
            return cnp.stack([a * y[0] - b * y[0] * y[1], b * y[0] * y[1] - y[1]])
        return cnp.sum(odeint(rates, p[:2], np.array([0.0, 1.0, 3.0]), p[2], p[3], rtol=1e-10, atol=1e-12) ** 2)

    p = np.array([1.0, 0.5, 1.5, 1.0])
    steps.clear_cache()
    fast = cr.grad(final, argnums=(0, 1))(1.0, 0.3), cr.grad(lotka)(p), cr.jacfwd(lotka)(p)
    assert any(getattr(code, "vectorized", None) is not None for code in steps._GENERATED.values())
    steps.clear_cache()
    from chainrule.export import scalar
    monkeypatch.setattr(scalar, "to_scalar_python", lambda graph, name: None)
    plain = cr.grad(final, argnums=(0, 1))(1.0, 0.3), cr.grad(lotka)(p), cr.jacfwd(lotka)(p)
    assert not any(getattr(code, "vectorized", None) is not None for code in steps._GENERATED.values())
    steps.clear_cache()
    for got, expected in zip(fast, plain):
        np.testing.assert_allclose(np.asarray(got, dtype=float), np.asarray(expected, dtype=float),
                                   rtol=1e-12, atol=1e-14)


def test_integers_count_as_in_numpy_and_overflow_falls_back():
    function = lambda i, x: (i * 3 - 1, x * i + (i > 2), cnp.where(i > 1, x, -x))
    i, x = np.int64(4), np.array([0.5, -1.5])
    scalar, vectorized = _both(function, i, x)
    assert scalar is not None
    for got, expected in zip(scalar(i, x), vectorized(i, x)):
        assert np.result_type(got) == np.result_type(expected)
        np.testing.assert_array_equal(got, expected)
    big = np.array([4, 5], dtype=np.int64)
    scalar, vectorized = _both(lambda n: n * (2 ** 62), big)
    with pytest.raises(OverflowError):  # Python's integers do not wrap around; putting one back in int64 fails
        scalar(big)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        np.testing.assert_array_equal(with_fallback(scalar, vectorized)(big), vectorized(big))


def test_an_index_computed_at_run_time_is_not_written():
    scalar, _ = _both(lambda x, i: x[i] * 2.0, np.array([1.0, 2.0, 3.0]), np.int64(1))
    assert scalar is None


def test_long_loops_with_tiny_carries_run_scalar_bodies():
    from chainrule import control

    def f(x):
        def body(i, c):
            return cnp.stack([c[0] + 0.01 * c[1], c[1] - 0.01 * cnp.sin(c[0]) * (1.0 + 0.0 * i)])
        return control.fori_loop(0, 400, body, x)[0]
    x = np.array([1.0, 0.0])
    generated = cr.jit(cr.grad(f))
    np.testing.assert_allclose(cr.grad(f)(x), generated(x), rtol=1e-13)
    reference = x.copy()
    for _ in range(400):
        reference = np.array([reference[0] + 0.01 * reference[1], reference[1] - 0.01 * np.sin(reference[0])])
    np.testing.assert_allclose(f(x), reference[0], rtol=1e-14)
    from chainrule.core.graph import make_graph as stage_graph
    body = next(e for e in stage_graph(f)(x).equations if e.primitive.name in ("scan", "while_loop"))
    assert to_scalar_python(body.params["body"]) is not None


def test_empty_arrays_and_logical_operations_of_floats():
    function = lambda x, e: (cnp.logical_and(x, x * 2.0) + x, cnp.logical_or(x, 0.0) * 1.5, e * 2.0, cnp.sum(e) + x)
    x, empty = np.array([0.0, 2.0]), np.zeros(0)
    scalar, vectorized = _both(function, x, empty)
    assert scalar is not None
    for got, expected in zip(scalar(x, empty), vectorized(x, empty)):
        assert np.shape(got) == np.shape(expected) and np.result_type(got) == np.result_type(expected)
        np.testing.assert_array_equal(got, expected)


def test_values_only_moved_may_be_larger_than_computed_ones():
    # a dopri5-like step of a three-element state stacks seven stages: 21 elements moved, none computed at once
    def step(y):
        stages = [y]
        for k in range(6):
            stages.append(cnp.sin(stages[-1]) * (0.5 + k))
        return cnp.stack(stages), cnp.reshape(cnp.stack(stages), (21,))[::2]
    y = np.array([0.1, 0.2, 0.3])
    scalar, vectorized = _both(step, y)
    assert scalar is not None
    for got, expected in zip(scalar(y), vectorized(y)):
        np.testing.assert_array_equal(got, expected)
    scalar, _ = _both(lambda y: cnp.sin(cnp.concatenate([y] * 6)), y)   # 18 elements computed at once
    assert scalar is None
