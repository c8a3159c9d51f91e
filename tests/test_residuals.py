"""Reverse mode keeps only what the pullbacks read: memory stays at one array per step of a chain, and
rules that read everything keep everything."""
import gc
import tracemalloc

import numpy
import pytest

import chainrule as cr
import chainrule.numpy as np
from chainrule.autodiff.residuals import plan_for, reads_of
from chainrule.ops import all_primitives


def test_plans_follow_what_rules_read():
    primitives = all_primitives()
    assert plan_for(primitives["exp"], 0b1, 1) == (True, (0,))       # exp' = exp: keeps the output only
    assert plan_for(primitives["sin"], 0b1, 1) == (False, ())        # sin' = cos(x): keeps the input only
    assert plan_for(primitives["add"], 0b11, 2) == (False, (0, 1))   # needs nothing
    assert plan_for(primitives["mul"], 0b01, 2) == (False, (0,))     # d(x*c)/dx = c: x itself is not needed
    assert plan_for(primitives["reshape"], 0b1, 1) == (False, (0,))  # a shape is enough
    assert plan_for(primitives["gather"], 0b01, 2) == (False, (0,))  # keeps the index array


def test_unknown_reads_keep_everything():
    def pullback(out_bar, out, *inputs):
        return tuple(out_bar * x for x in inputs)
    assert reads_of(pullback) is None


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
        for _ in range(30):
            x = np.tanh(x) * 1.5
        return np.sum(x)

    peak = _peak_in_arrays(chain, numpy.linspace(-1.0, 1.0, 50000))
    assert peak < 36, f"peak memory was {peak:.1f} times the input for 30 steps"


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


@pytest.mark.parametrize("size", [10, 5000])
def test_gradients_do_not_depend_on_what_is_kept(size):
    x = numpy.linspace(0.1, 2.0, size)
    f = lambda x: np.sum(np.exp(np.sin(x) * x[::-1]) / (1.0 + x ** 2))
    step = 1e-6
    direction = numpy.cos(numpy.arange(size))
    expected = (f(x + step * direction) - f(x - step * direction)) / (2 * step)
    assert numpy.dot(cr.grad(f)(x), direction) == pytest.approx(expected, rel=1e-6)
    (hvp,) = cr.hvp(f, (x,), (direction,))
    gradient = cr.grad(f)
    expected_hvp = (gradient(x + step * direction) - gradient(x - step * direction)) / (2 * step)
    numpy.testing.assert_allclose(hvp, expected_hvp, rtol=1e-5, atol=1e-6)


def _spec_rows():
    from test_primitives import SPEC
    return SPEC


@pytest.mark.parametrize("name", sorted(_spec_rows()))
def test_every_pullback_works_with_stand_ins(name, monkeypatch):
    """Stand-ins replace dropped residuals only for large arrays; force them on for every primitive, so a
    pullback that reads more than it declares fails here rather than only on large inputs."""
    import chainrule.autodiff.reverse as reverse
    from chainrule.testing import check_rules
    monkeypatch.setattr(reverse, "LARGE", 0)
    args, params = _spec_rows()[name]
    check_rules(all_primitives()[name], args, params, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("name", ["mul", "div", "abs", "real", "imag", "conj", "contract", "solve", "svd", "qr"])
def test_complex_pullbacks_work_with_stand_ins(name, monkeypatch):
    import chainrule.autodiff.reverse as reverse
    from chainrule.testing import check_rules
    from test_complex import COMPLEX_SPEC
    monkeypatch.setattr(reverse, "LARGE", 0)
    args, params = COMPLEX_SPEC[name]
    check_rules(all_primitives()[name], args, params, atol=1e-6, rtol=1e-6)
