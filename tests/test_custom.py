"""custom_jvp, custom_vjp, checkpoint, stop_gradient, and check_grads catching wrong rules."""
import numpy
import pytest

import chainrule as cr
import chainrule.numpy as np
from chainrule.testing import DerivativeMismatch, check_grads


@cr.custom_jvp
def softplus(x):
    return np.log1p(np.exp(x))


@softplus.defjvp
def softplus_jvp(primals, tangents):
    (x,), (x_dot,) = primals, tangents
    return softplus(x), x_dot / (1.0 + np.exp(-x))


def test_custom_jvp_in_every_mode():
    x = numpy.array([-3.0, 0.5, 40.0])
    expected = 1.0 / (1.0 + numpy.exp(-x))
    numpy.testing.assert_allclose(cr.grad(lambda x: np.sum(softplus(x)))(x), expected, rtol=1e-14)
    numpy.testing.assert_allclose(cr.jvp(softplus, (x,), (numpy.ones(3),))[1], expected, rtol=1e-14)
    numpy.testing.assert_allclose(cr.jacrev(softplus)(x), numpy.diag(expected), rtol=1e-14)
    # Second order goes through the rule's own derivative: sigmoid' = sigmoid (1 - sigmoid).
    numpy.testing.assert_allclose(numpy.diag(cr.hessian(lambda x: np.sum(softplus(x)))(x)),
                                  numpy.exp(-x) / (1.0 + numpy.exp(-x)) ** 2, rtol=1e-12)
    check_grads(lambda x: np.sum(softplus(x)), (x,), order=2)


def test_custom_jvp_rule_is_used_not_the_function():
    @cr.custom_jvp
    def f(x):
        return x ** 2

    @f.defjvp
    def f_jvp(primals, tangents):
        return f(primals[0]), 10.0 * tangents[0]     # deliberately not 2x

    assert cr.grad(f)(3.0) == 10.0
    assert cr.jvp(f, (3.0,), (1.0,))[1] == 10.0
    with pytest.raises(DerivativeMismatch):
        check_grads(f, (numpy.array(3.0),), order=1)


@cr.custom_vjp
def clip_gradient(x, bound):
    return x


def _clip_forward(x, bound):
    return x, bound


def _clip_backward(bound, g):
    return np.clip(g, -bound, bound), 0.0


clip_gradient.defvjp(_clip_forward, _clip_backward)


def test_custom_vjp_reverse_and_forward():
    assert cr.grad(lambda x: 5.0 * clip_gradient(x, 2.0))(1.0) == 2.0
    assert cr.grad(lambda x: 0.5 * clip_gradient(x, 2.0))(1.0) == 0.5
    # Forward mode (JAX refuses): J v is formed from the backward rule.
    assert cr.jvp(lambda x: clip_gradient(x, 2.0), (1.0,), (1.0,))[1] == 1.0
    x = numpy.array([1.0, 2.0])
    numpy.testing.assert_allclose(cr.jacfwd(lambda x: clip_gradient(x * 3.0, 100.0))(x), 3.0 * numpy.eye(2))


def test_custom_vjp_hessian_uses_differentiable_rules():
    @cr.custom_vjp
    def cube(x):
        return x ** 3

    cube.defvjp(lambda x: (x ** 3, x), lambda x, g: (3.0 * x ** 2 * g,))
    assert cr.grad(cube)(2.0) == 12.0
    assert cr.grad(cr.grad(cube))(2.0) == pytest.approx(12.0)
    assert cr.hessian(lambda x: np.sum(cube(x)))(numpy.array([2.0]))[0, 0] == pytest.approx(12.0)


def test_custom_rules_report_misuse():
    @cr.custom_vjp
    def f(x):
        return x

    f.defvjp(lambda x: (x, None), lambda r, g: g)  # not a tuple
    with pytest.raises(TypeError, match="tuple"):
        cr.grad(f)(1.0)

    @cr.custom_jvp
    def h(x):
        return x

    with pytest.raises(TypeError, match="defjvp"):
        cr.grad(h)(1.0)


def test_checkpoint_recomputes_and_agrees():
    counter = []

    def block(x):
        counter.append(1)
        return np.sin(np.cos(x)) * x

    checkpointed = cr.checkpoint(block)
    x = numpy.array([0.3, 1.1])
    plain = cr.grad(lambda x: np.sum(block(x)))(x)
    counter.clear()
    remat = cr.grad(lambda x: np.sum(checkpointed(x)))(x)
    numpy.testing.assert_allclose(remat, plain, rtol=1e-15)
    assert len(counter) == 2  # once forward, once again in the backward pass
    numpy.testing.assert_allclose(cr.jacfwd(checkpointed)(x), cr.jacfwd(block)(x), rtol=1e-15)


def test_stop_gradient_on_pytrees():
    assert cr.grad(lambda x: x * cr.stop_gradient(x))(3.0) == 3.0
    params = {"a": 2.0, "b": numpy.array([1.0, 2.0])}
    frozen = cr.grad(lambda p: cr.stop_gradient(p)["a"] * p["a"] + np.sum(cr.stop_gradient(p)["b"]))(params)
    assert frozen["a"] == 2.0 and numpy.array_equal(frozen["b"], [0.0, 0.0])


def test_custom_rules_survive_vmap():
    x = numpy.array([-1.0, 0.0, 2.0])
    expected = 1.0 / (1.0 + numpy.exp(-x))
    numpy.testing.assert_allclose(cr.vmap(cr.grad(softplus))(x), expected, rtol=1e-14)
    numpy.testing.assert_allclose(cr.grad(lambda x: np.sum(cr.vmap(softplus)(x)))(x), expected, rtol=1e-14)
    clipped = cr.grad(lambda x: np.sum(5.0 * cr.vmap(lambda v: clip_gradient(v, 2.0))(x)))(x)
    numpy.testing.assert_array_equal(clipped, [2.0, 2.0, 2.0])


def test_check_grads_catches_a_wrong_vjp():
    @cr.custom_vjp
    def f(x):
        return np.sin(x)

    f.defvjp(lambda x: (np.sin(x), x), lambda x, g: (g * np.cos(x) * 1.001,))
    with pytest.raises(DerivativeMismatch):
        check_grads(f, (numpy.array([0.4, 0.9]),), order=1, modes=("fwd", "rev"))


# ------------------------------------------------------------------- regressions from the correctness sweep

def test_a_forward_rule_may_call_the_function_itself():
    # JAX's documented idiom; it used to recurse until the stack overflowed, even for a plain call.
    @cr.custom_vjp
    def f(x):
        return np.sin(x)

    def forward(x):
        return f(x), np.cos(x)

    def backward(cosine, g):
        return (cosine * g,)

    f.defvjp(forward, backward)
    assert float(f(0.5)) == pytest.approx(numpy.sin(0.5), rel=1e-15)
    assert float(cr.grad(f)(0.5)) == pytest.approx(numpy.cos(0.5), rel=1e-15)
    assert float(cr.grad(lambda x: f(x) * f(x))(0.5)) == pytest.approx(numpy.sin(1.0), rel=1e-14)


def test_a_backward_rule_may_return_none_for_a_zero_cotangent():
    # JAX's clip_gradient example: no cotangent for the bounds.
    @cr.custom_vjp
    def clip_gradient(low, high, x):
        return x

    def forward(low, high, x):
        return x, (low, high)

    def backward(bounds, g):
        low, high = bounds
        return (None, None, np.clip(g, low, high))

    clip_gradient.defvjp(forward, backward)
    assert float(cr.grad(lambda x: 5.0 * clip_gradient(-1.0, 1.0, x))(2.0)) == 1.0
    d_low, d_x = cr.grad(lambda low, x: 5.0 * clip_gradient(low, 1.0, x), argnums=(0, 1))(-1.0, 2.0)
    assert float(d_low) == 0.0 and float(d_x) == 1.0
    with pytest.raises(TypeError, match="2 cotangent\\(s\\) for 3 argument"):
        clip_gradient.defvjp(forward, lambda bounds, g: (None, g))
        cr.grad(lambda x: clip_gradient(-1.0, 1.0, x))(2.0)
