"""odeint's derivatives of one solve share its work: a Jacobian's columns (jacfwd, jacrev) reuse the solve's
steps, its event slopes and one compiled rule of func, instead of solving and staging again per column."""
import importlib

import numpy as onp
import pytest

import chainrule as cr
import chainrule.numpy as np
from chainrule.integrate import odeint, steps

odeint_module = importlib.import_module("chainrule.integrate.odeint")  # the module, which the function shadows


def decay(y, t, k, c):
    return np.stack([-k * y[0] + c, k * y[0] - c * y[1]])


def crosses_half(y, t, k, c):
    return y[0] - 0.5


crosses_half.terminal = True
crosses_half.direction = -1


def final_state(k, c):
    ys, _ = odeint(decay, np.stack([1.0 + 0.0 * k, 0.0 * c]), onp.array([0.0, 5.0]), k, c, events=crosses_half,
                   rtol=1e-10, atol=1e-12)
    return ys[-1]


def central_jacobian(k, c, step=1e-6):
    columns = [(onp.asarray(final_state(k + step, c)) - onp.asarray(final_state(k - step, c))) / (2 * step),
               (onp.asarray(final_state(k, c + step)) - onp.asarray(final_state(k, c - step))) / (2 * step)]
    return onp.stack(columns, axis=-1)


@pytest.fixture
def counts(monkeypatch):
    seen = {"solves": 0, "compiled": []}
    solve, compile_ = odeint_module.solve, steps._compile

    def counted_solve(*args):
        seen["solves"] += 1
        return solve(*args)

    def counted_compile(function, examples):
        seen["compiled"].append(function.__name__)
        return compile_(function, examples)
    monkeypatch.setattr(odeint_module, "solve", counted_solve)
    monkeypatch.setattr(steps, "_compile", counted_compile)
    steps.clear_cache()
    return seen


@pytest.mark.parametrize("transform", [cr.jacfwd, cr.jacrev])
def test_a_jacobian_solves_once_and_compiles_each_rule_once(transform, counts):
    jacobian = transform(final_state, argnums=(0, 1))(0.7, 0.2)
    # Before, every column solved again (with its steps recomputed) and staged func's derivative again.
    assert counts["solves"] == 1
    assert counts["compiled"] and len(set(counts["compiled"])) == len(counts["compiled"])
    onp.testing.assert_allclose(onp.stack([onp.asarray(j) for j in jacobian], axis=-1), central_jacobian(0.7, 0.2),
                                rtol=1e-6, atol=1e-8)


def test_batched_inputs_still_solve_each_example(counts):
    ks = onp.array([0.5, 0.7, 0.9])
    values = cr.vmap(cr.grad(lambda k: final_state(k, 0.2)[1]))(ks)
    assert counts["solves"] >= len(ks)
    assert len(set(counts["compiled"])) == len(counts["compiled"])  # the examples share the generated code
    expected = [(final_state(k + 1e-6, 0.2)[1] - final_state(k - 1e-6, 0.2)[1]) / 2e-6 for k in ks]
    onp.testing.assert_allclose(values, expected, rtol=1e-6)


@pytest.mark.parametrize("dtype", [onp.float32, onp.float64])
def test_shared_rules_keep_the_dtype(dtype):
    jacobian = cr.jacfwd(lambda k: odeint(decay, onp.array([1.0, 0.0], dtype), onp.array([0.0, 1.0], dtype), k,
                                          dtype(0.2), method="rk4", step=0.1)[-1])(dtype(0.7))
    assert onp.asarray(jacobian).dtype == dtype


def test_generated_code_is_kept_across_calls(counts):
    final_state(0.7, 0.2)
    compiled = list(counts["compiled"])
    assert compiled  # the solve is long enough to generate its step
    final_state(0.9, 0.3)  # same func, new values: the same code runs
    assert counts["compiled"] == compiled
