"""export.retraced: a transform of a function compiled per structure of the function, which itself stays eager
(staged at every call, reading its closures then). Same numbers and dtypes as the eager transform, the function
run once per call, compilation only for structures seen twice, and a fallback for what cannot be staged."""
import numpy
import pytest

import chainrule as cr
import chainrule.numpy as np
from chainrule.core.graph import make_graph
from chainrule.export import retraced
from chainrule.export.reuse import MISSES_ALLOWED, structure


def test_closed_over_arrays_are_read_at_every_call():
    weights = {"w": numpy.array([1.0, 2.0, 3.0])}
    f = lambda x: np.sum(np.sin(x) * weights["w"])  # noqa: E731
    gradient = retraced(cr.grad, f)
    x = numpy.array([0.1, 0.2, 0.3])
    for scale in (1.0, 2.0, -0.5, 4.0):
        weights["w"] = numpy.array([1.0, 2.0, 3.0]) * scale
        numpy.testing.assert_array_equal(gradient(x), cr.grad(f)(x))
    assert len(gradient.compiled) == 1  # one structure: the arrays were inputs of the same code


def test_python_scalars_are_part_of_the_structure():
    state = {"alpha": 2.0}
    f = lambda x: x * state["alpha"] + np.cos(x)  # noqa: E731
    jvp_of = retraced(lambda g: lambda x: cr.jvp(g, (x,), (numpy.ones_like(x),))[1], f)
    x = numpy.linspace(0.0, 1.0, 4)
    for alpha in (2.0, 2.0, 3.0, 3.0, 2.0):
        state["alpha"] = alpha
        numpy.testing.assert_array_equal(jvp_of(x), alpha - numpy.sin(x))
    assert len(jvp_of.compiled) == 2


def test_float32_stays_float32_with_python_scalars_and_float64_with_numpy_scalars():
    x = numpy.linspace(0.0, 1.0, 5, dtype=numpy.float32)
    for f in (lambda x: np.sum(x * 0.1 + np.exp(x) * 2), lambda x: np.sum(x * np.float64(0.1))):
        gradient = retraced(cr.grad, f)
        for _ in range(3):
            out = gradient(x)
            expected = cr.grad(f)(x)
            assert out.dtype == expected.dtype
            numpy.testing.assert_array_equal(out, expected)


def test_the_function_runs_once_per_call_and_compiles_on_the_second_sighting():
    calls = []

    def f(x):
        calls.append(1)
        return np.sum(x[1:] * x[:-1])

    gradient = retraced(cr.grad, f)
    x = numpy.arange(5.0)
    gradient(x)
    assert len(calls) == 1 and not gradient.compiled  # first sight: the staged graph differentiated eagerly
    gradient(x)
    assert len(calls) == 2 and len(gradient.compiled) == 1
    numpy.testing.assert_array_equal(gradient(x), cr.grad(f)(x))


def test_functions_that_cannot_be_staged_run_eagerly():
    def branchy(x):
        return np.sum(x ** 2) if np.sum(x) > 0 else np.sum(np.sin(x))  # Python branch on a value

    gradient = retraced(cr.grad, branchy)
    for x in (numpy.ones(3), -numpy.ones(3), numpy.ones(3)):
        numpy.testing.assert_array_equal(gradient(x), cr.grad(branchy)(x))
    assert not gradient.staged


def test_a_structure_that_changes_at_every_call_is_given_up():
    counter = iter(range(1000))
    f = lambda x: x * float(next(counter))  # noqa: E731 - a new Python scalar every call
    transform = retraced(lambda g: lambda x: cr.jvp(g, (x,), (numpy.ones(2),))[1], f)
    for _ in range(MISSES_ALLOWED + 2):
        transform(numpy.ones(2))
    assert not transform.staged and not transform.compiled


def test_structure_keys_see_parameters_wiring_and_literals():
    x = numpy.arange(6.0)
    key = lambda f: structure(make_graph(f, simplify=False)(x))[0]  # noqa: E731
    assert key(lambda v: v[1:] * v[:-1]) == key(lambda v: v[1:] * v[:-1])
    assert key(lambda v: v[1:] * v[:-1]) != key(lambda v: v[2:] * v[:-2])  # a parameter
    assert key(lambda v: v * 2.0 + v) != key(lambda v: v * 2.0 + v * 2.0)  # the wiring
    assert key(lambda v: v * 2.0) != key(lambda v: v * 3.0)  # a Python scalar
    assert key(lambda v: v * numpy.ones(6)) == key(lambda v: v * numpy.zeros(6))  # an array: an input
    assert key(lambda v: v * numpy.ones(6)) != key(lambda v: v * numpy.ones(6, numpy.float32))
    _, constants = structure(make_graph(lambda v: v * numpy.full(6, 7.0) + 1.0, simplify=False)(x))
    assert len(constants) == 1 and constants[0][0] == 7.0


@pytest.mark.parametrize("dtype", [numpy.float64, numpy.float32, numpy.complex128])
def test_reverse_and_batched_transforms(dtype):
    matrix = numpy.arange(12.0).reshape(3, 4).astype(dtype)
    f = lambda x: np.tanh(matrix @ x) * x[:3]  # noqa: E731
    rows = numpy.eye(3, dtype=dtype)
    batched_vjp = retraced(lambda g: lambda x: cr.vmap(lambda w: cr.vjp(g, x)[1](w)[0])(rows), f)
    x = (numpy.linspace(0.1, 0.4, 4) + (0.1j if dtype == numpy.complex128 else 0)).astype(dtype)
    expected = cr.vmap(lambda w: cr.vjp(f, x)[1](w)[0])(rows)
    for _ in range(3):
        out = batched_vjp(x)
        assert out.dtype == expected.dtype
        numpy.testing.assert_allclose(out, expected, rtol=1e-5 if dtype == numpy.float32 else 1e-14)


def test_calls_from_several_threads():
    import threading
    f = lambda x: np.sum(np.tanh(x[1:] * x[:-1]))  # noqa: E731
    gradient = retraced(cr.grad, f)
    inputs = [numpy.linspace(0.0, 1.0 + k, 6) for k in range(8)]
    results, errors = {}, []

    def work(k):
        try:
            for _ in range(5):
                results[k] = gradient(inputs[k])
        except Exception as error:  # noqa: BLE001 - reported below
            errors.append(error)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    for k in range(8):
        numpy.testing.assert_allclose(results[k], cr.grad(f)(inputs[k]), rtol=1e-15)
