"""cr.jit: derivatives compiled to NumPy per argument signature, with jax.jit's semantics."""
import numpy as onp
import pytest

import chainrule as cr
import chainrule.numpy as np


def loop(x):
    for _ in range(20):
        x = np.sin(x) * 1.01 + x * 0.5 - np.tanh(x)
    return np.sum(x)


def rosenbrock(x):
    return np.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)


def test_compiled_derivatives_equal_the_eager_ones():
    x = onp.linspace(-1.0, 1.0, 7)
    v = onp.cos(onp.arange(7.0))
    onp.testing.assert_allclose(cr.jit(cr.grad(loop))(x), cr.grad(loop)(x), rtol=1e-14)
    hvp = cr.jit(lambda x, v: cr.hvp(rosenbrock, (x,), (v,))[0])
    onp.testing.assert_allclose(hvp(x, v), cr.hvp(rosenbrock, (x,), (v,))[0], rtol=1e-14)
    onp.testing.assert_allclose(cr.jit(cr.hessian(rosenbrock))(x), cr.hessian(rosenbrock)(x), rtol=1e-14)


def test_pytrees_keyword_arguments_and_closed_over_arrays():
    rng = onp.random.default_rng(0)
    W = rng.standard_normal((30, 20))  # closed over: bound by reference, not written into the source

    def loss(params, x, scale=1.0):
        return scale * np.sum(np.tanh(W @ (params["w"] * x)) ** 2) + np.sum(params["b"][0] ** 2)

    params = {"w": rng.standard_normal(20), "b": [rng.standard_normal(3)]}
    x = rng.standard_normal(20)
    compiled = cr.jit(cr.value_and_grad(loss))
    value, grads = compiled(params, x, scale=2.0)
    expected_value, expected_grads = cr.value_and_grad(loss)(params, x, scale=2.0)
    assert value == pytest.approx(expected_value, rel=1e-14)
    assert sorted(grads) == ["b", "w"] and isinstance(grads["b"], list)
    onp.testing.assert_allclose(grads["w"], expected_grads["w"], rtol=1e-13)
    onp.testing.assert_allclose(grads["b"][0], expected_grads["b"][0], rtol=1e-13)
    source = compiled.source(params, x, scale=2.0)
    assert "bound when compiled" in source and "(30, 20)" in source and "chainrule" not in source


def test_traced_once_per_signature():
    traced = []

    def f(x, n):
        traced.append((onp.shape(x), n))
        for _ in range(n):
            x = np.sin(x)
        return np.sum(x)

    compiled = cr.jit(cr.grad(f), static_argnums=1)
    x3, x4 = onp.ones(3), onp.ones(4)
    calls = [(x3, 2), (x3 * 0.5, 2), (x4, 2), (x3, 3), (x3, 2)]
    results = [compiled(x, n) for x, n in calls]
    assert traced == [((3,), 2), ((4,), 2), ((3,), 3)]  # one tracing per signature
    for result, (x, n) in zip(results, calls):
        onp.testing.assert_allclose(result, cr.grad(f)(x, n), rtol=1e-14)
    traced.clear()
    compiled.clear_cache()
    compiled(x3, 2)
    assert traced == [((3,), 2)]


def test_python_numbers_share_one_compilation():
    calls = []

    def f(x, y):
        calls.append(1)
        return x * y + np.sin(y)

    compiled = cr.jit(cr.grad(f, argnums=1))
    assert compiled(2.0, 0.5) == pytest.approx(2.0 + onp.cos(0.5))
    assert compiled(3.0, 0.25) == pytest.approx(3.0 + onp.cos(0.25))
    assert len(calls) == 1


def test_under_transforms_the_function_runs_uncompiled():
    compiled = cr.jit(loop)
    x = onp.linspace(0.1, 0.9, 5)
    onp.testing.assert_allclose(cr.grad(compiled)(x), cr.grad(loop)(x), rtol=1e-14)
    onp.testing.assert_allclose(cr.vmap(compiled)(onp.stack([x, 2 * x])), [loop(x), loop(2 * x)], rtol=1e-14)


def test_errors_say_what_to_do():
    def branchy(x, flag):
        return np.sin(x) if flag > 0 else np.cos(x)

    with pytest.raises(cr.ConcretizationError, match="static_argnums"):
        cr.jit(branchy)(onp.ones(2), 1.0)
    assert cr.jit(branchy, static_argnums=1)(onp.zeros(2), -1.0).tolist() == [1.0, 1.0]
    with pytest.raises(TypeError, match="static argument 1 must be hashable"):
        cr.jit(branchy, static_argnums=1)(onp.ones(2), [1.0])
    with pytest.raises(TypeError, match="static_argnums names argument 3"):
        cr.jit(branchy, static_argnums=3)(onp.ones(2), 1.0)
    with pytest.raises(TypeError, match="non-negative integers"):
        cr.jit(branchy, static_argnums="1")


def test_python_numbers_run_as_the_numpy_scalars_they_were_staged_as():
    # The generated code used to run on Python floats: 1.0 / x at 0.0 raised ZeroDivisionError.
    reciprocal = cr.jit(lambda x: 1.0 / x)
    with onp.errstate(divide="ignore"):
        assert reciprocal(0.0) == onp.inf
        assert cr.jit(cr.grad(lambda x: 1.0 / x))(0.0) == -onp.inf
    assert reciprocal(4.0) == 0.25


def test_scatter_add_with_slices_and_index_arrays_generates_valid_code():
    # np.add.at(v6, (:, :, v2), v5) was a SyntaxError: slices inside a tuple expression must be slice(...).
    x = onp.array([1.0, 3.0, 2.0])
    hessian = cr.hessian(lambda v: v[np.argmax(v)] ** 2)
    onp.testing.assert_array_equal(cr.jit(hessian)(x), hessian(x))
    matrix = onp.arange(6.0).reshape(2, 3)
    gradient = cr.grad(lambda m: np.sum(m[1:, onp.array([0, 0, 2])] ** 3))
    onp.testing.assert_array_equal(cr.jit(gradient)(matrix), gradient(matrix))


def test_a_buffer_changed_after_its_use_keeps_the_value_it_had_then():
    # Staging kept a reference to the array: a scale doubled in place after each use gave every use its final
    # value (x * 8 three times instead of x * 1, x * 2, x * 4). Writeable arrays are copied when they become
    # constants of the graph (reverse mode's pullbacks: tests/test_reverse.py).
    def doubling(x):
        scale, out = onp.ones(2), []
        for _ in range(3):
            out.append(x * scale)
            scale *= 2.0
        return np.stack(out)

    x = onp.array([1.0, -1.0])
    onp.testing.assert_array_equal(cr.jit(doubling)(x), doubling(x))
    onp.testing.assert_array_equal(doubling(x)[:, 0], [1.0, 2.0, 4.0])
    weights = onp.array([1.0, 2.0])
    shared = cr.make_graph(lambda x: x * weights + x * weights)(x)  # one unchanged array: one constant, shared
    assert len([e for e in shared.equations if e.primitive.name == "mul"]) == 1
