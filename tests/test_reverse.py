"""Reverse mode on closures: a pullback keeps its own state per call (threads, repeated calls, calls after
an exception, calls under other transforms), keeps only what the rules' closures hold, and nothing in the
library reads bytecode."""
import gc
import pathlib
import threading
import tracemalloc

import numpy
import pytest

import chainrule as cr
import chainrule.numpy as np


def _sin_x_squared(x):
    return np.sum(np.sin(x) * x ** 2)


def _expected_gradient(x):
    return numpy.cos(x) * x ** 2 + 2 * x * numpy.sin(x)


def test_one_pullback_from_eight_threads_gives_exact_results():
    x = numpy.linspace(0.1, 2.0, 50)
    _, pullback = cr.vjp(_sin_x_squared, x)
    reference = pullback(1.0)[0]
    numpy.testing.assert_allclose(reference, _expected_gradient(x), rtol=1e-14)
    expected = {float(k + 1): pullback(float(k + 1))[0] for k in range(8)}  # computed alone, one thread
    wrong = []
    start = threading.Barrier(8)

    def work(scale):
        start.wait()
        for _ in range(1000):
            (got,) = pullback(scale)
            if not numpy.array_equal(got, expected[scale]):
                wrong.append(scale)

    threads = [threading.Thread(target=work, args=(float(k + 1),)) for k in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert wrong == []


def test_a_pullback_that_raised_gives_the_exact_result_next_time():
    failures = {"left": 1}

    @cr.custom_vjp
    def h(x):
        return np.sin(x)

    def forward(x):
        return np.sin(x), x

    def backward(x, g):
        if failures["left"]:
            failures["left"] -= 1
            raise RuntimeError("backward rule failed once")
        return (np.cos(x) * g,)

    h.defvjp(forward, backward)
    _, pullback = cr.vjp(lambda x: h(x) * 2 + x * x, 0.7)
    with pytest.raises(RuntimeError, match="failed once"):
        pullback(1.0)
    (gradient,) = pullback(1.0)
    assert gradient == pytest.approx(2 * numpy.cos(0.7) + 1.4, rel=1e-15)  # 2.9297, not 4.3297
    assert pullback(1.0)[0] == gradient


def test_repeated_calls_give_identical_results():
    x = numpy.linspace(-1.0, 1.0, 7)
    _, pullback = cr.vjp(lambda x: np.tanh(x[1:] * x[:-1]) + np.exp(x[::2]).sum(), x)
    cotangent = numpy.arange(6.0)
    first = pullback(cotangent)[0]
    for _ in range(5):
        numpy.testing.assert_array_equal(pullback(cotangent)[0], first)


def test_pullbacks_called_inside_other_transforms():
    x = numpy.array([0.3, -1.2, 2.0])
    _, pullback = cr.vjp(lambda x: np.sin(x) * x, x)
    jacobian_diagonal = numpy.cos(x) * x + numpy.sin(x)
    # The pullback is linear in its cotangent: every transform of it sees the transposed Jacobian.
    numpy.testing.assert_allclose(cr.grad(lambda c: np.sum(pullback(c)[0]))(numpy.ones(3)), jacobian_diagonal)
    _, tangent = cr.jvp(lambda c: pullback(c)[0], (numpy.ones(3),), (numpy.array([1.0, 2.0, 3.0]),))
    numpy.testing.assert_allclose(tangent, jacobian_diagonal * [1.0, 2.0, 3.0])
    batched = cr.vmap(lambda c: pullback(c)[0])(numpy.eye(3))
    numpy.testing.assert_allclose(batched, numpy.diag(jacobian_diagonal))
    numpy.testing.assert_allclose(cr.jacrev(lambda c: pullback(c)[0])(numpy.ones(3)), numpy.diag(jacobian_diagonal))


def test_a_pullback_made_inside_a_transform_differentiates_again():
    # The gradient computed by a pullback is itself differentiated (Hessian-vector product by reverse over reverse).
    def gradient(x):
        _, pullback = cr.vjp(_sin_x_squared, x)
        return pullback(1.0)[0]

    x = numpy.array([0.5, 1.5])
    direction = numpy.array([1.0, -2.0])
    hvp = cr.grad(lambda x: np.sum(gradient(x) * direction))(x)
    numpy.testing.assert_allclose(hvp, cr.hessian(_sin_x_squared)(x) @ direction, rtol=1e-13)


@pytest.mark.parametrize("size", [10, 5000, 100000])
def test_gradients_do_not_depend_on_array_size(size):
    x = numpy.linspace(0.1, 2.0, size)
    numpy.testing.assert_allclose(cr.grad(lambda x: np.sum(x * x))(x), 2 * x, rtol=1e-15)
    numpy.testing.assert_allclose(cr.grad(_sin_x_squared)(x), _expected_gradient(x), rtol=1e-13)


def _peak_in_arrays(function, x):
    gradient = cr.grad(function)
    gradient(x)
    gc.collect()
    tracemalloc.start()
    gradient(x)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak / x.nbytes


def test_a_chain_keeps_one_array_per_step():
    def chain(x):
        for _ in range(50):
            x = np.tanh(x) * 1.5
        return np.sum(x)

    peak = _peak_in_arrays(chain, numpy.linspace(-1.0, 1.0, 50000))
    assert peak < 53.5, f"peak memory was {peak:.1f} times the input for 50 steps"  # one partial per step


STEPS = {"sin": (np.sin, 23), "x*x": (lambda x: x * x, 25), "x/3": (lambda x: x / 3.0, 3),
         "reshape": (lambda x: np.reshape(x, (-1,)), 2)}


@pytest.mark.parametrize("name", STEPS)
def test_what_a_step_keeps(name):
    """20 steps keep one array each at most (sin: cos x; x*x: x, shared by both pullbacks) or none (x/3: the
    constant; reshape: a shape)."""
    step, bound = STEPS[name]

    def chain(x):
        for _ in range(20):
            x = step(x)
        return np.sum(x)

    x = numpy.linspace(-1.0, 1.0, 50000) * 0.1
    assert _peak_in_arrays(chain, x) < bound


def test_memory_is_freed_after_the_backward_pass():
    x = numpy.linspace(-1.0, 1.0, 50000)
    gradient = cr.grad(lambda x: np.sum(np.sin(x) * np.cos(x)))
    gradient(x)
    gc.collect()
    tracemalloc.start()
    for _ in range(50):
        gradient(x)
    current = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    assert current < 2 * x.nbytes


def test_nothing_reads_bytecode():
    source = pathlib.Path(cr.__file__).parent
    offenders = []
    for path in source.rglob("*.py"):
        text = path.read_text()
        for marker in ("co_code", "__code__", "co_varnames", "co_firstlineno", "f_code", "import dis", "dis."):
            if marker in text:
                offenders.append(f"{path.relative_to(source)}: {marker}")
    assert offenders == []


# ------------------------------------------------------------------------------------------- arrays changed in place

def test_a_buffer_refilled_after_its_use_keeps_its_value_for_the_derivative():
    # the pullback of x * buffer kept the buffer itself: refilled in a loop, every step's derivative used the last
    # contents (9 instead of 1 + 2 + 3 = 6)
    def refilled(x):
        buffer = numpy.empty(3)
        total = 0.0
        for i in range(3):
            buffer[:] = i + 1.0
            total = total + np.sum(x * buffer)
        return total

    x = numpy.ones(3)
    for derivative in (cr.grad(refilled), cr.jacrev(refilled), cr.jit(cr.grad(refilled)),
                       lambda x: cr.hvp(lambda v: refilled(v) ** 2, (x,), (numpy.ones(3),))[0] / 36.0):
        numpy.testing.assert_array_equal(derivative(x), [6.0, 6.0, 6.0])


def test_an_array_changed_between_vjp_and_its_pullback():
    weights = numpy.array([1.0, 2.0, 3.0])
    _, pullback = cr.vjp(lambda x: x * weights, numpy.ones(3))
    weights[:] = 0.0  # small: the pullback holds a copy made when it was used
    numpy.testing.assert_array_equal(pullback(numpy.ones(3))[0], [1.0, 2.0, 3.0])
    data = numpy.ones((600, 400))  # 1.9 MB: kept by reference with a fingerprint, a change is an error
    _, pullback = cr.vjp(lambda w: np.sum(data @ w), numpy.ones(400))
    numpy.testing.assert_array_equal(pullback(1.0)[0], numpy.full(400, 600.0))
    data[:] = 2.0
    with pytest.raises(cr.ChainruleError, match=r"shape \(600, 400\).*'contract'.*changed in place"):
        pullback(1.0)


@pytest.mark.parametrize("dtype", [numpy.float64, numpy.float32, numpy.complex128, numpy.int64])
def test_one_element_of_a_large_array_changed_is_seen(dtype, monkeypatch):
    # Up to FULL_LIMIT the fingerprint reads every element: one changed element (which a sample of 4,096 of
    # 240,000 would miss) is an error; a change within rounding of no element passes.
    data = numpy.ones((600, 400), dtype)
    _, pullback = cr.vjp(lambda w: np.sum(np.real(data @ w)), numpy.ones(400))
    data[1, 1] = 2  # not in the sample (every 58th element)
    with pytest.raises(cr.ChainruleError, match="changed in place"):
        pullback(1.0)
    data[1, 1] = 1
    numpy.testing.assert_array_equal(pullback(1.0)[0], numpy.full(400, 600.0))
    # with inf or nan inside (the sum cannot tell), and beyond FULL_LIMIT, a spread sample stands in: a change
    # it reads is seen
    from chainrule.core import external

    def row_zero_change_is_seen():
        _, pullback = cr.vjp(lambda w: np.sum(np.real(data @ w)), numpy.ones(400))
        data[0, :] = 3
        with pytest.raises(cr.ChainruleError, match="changed in place"):
            pullback(1.0)
        data[:] = 1
    if data.dtype.kind in "fc":
        data[5, 5] = numpy.inf
        with numpy.errstate(invalid="ignore"):  # inf * 0 in the complex product
            row_zero_change_is_seen()
    monkeypatch.setattr(external, "FULL_LIMIT", 1024)
    row_zero_change_is_seen()


def test_a_large_array_changed_inside_the_function_is_an_error_not_a_wrong_number():
    data = numpy.ones((600, 400))

    def changes_its_data(w):
        out = np.sum(data @ w)
        data[::2] = 5.0  # after its use: the backward pass would read the new rows
        return out

    with pytest.raises(cr.ChainruleError, match="changed in place"):
        cr.grad(changes_its_data)(numpy.ones(400))
    data[:] = 1.0
    with pytest.raises(cr.ChainruleError, match="changed in place"):
        cr.jit(changes_its_data)(numpy.ones(400))
    # read-only arrays cannot change: kept as they are
    frozen = numpy.ones((600, 400))
    frozen.flags.writeable = False
    numpy.testing.assert_array_equal(cr.grad(lambda w: np.sum(frozen @ w))(numpy.ones(400)), numpy.full(400, 600.0))
