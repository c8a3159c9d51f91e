"""vmap: a batching rule for every primitive (checked against a loop over examples), in_axes/out_axes
and pytrees, composition with every transform (per-example gradients, batched Jacobians)."""
import numpy
import pytest

import chainrule as cr
import chainrule.numpy as np
from chainrule.ops import all_primitives
from primitive_spec import SPEC

BATCH = 3


def _stack_examples(args, rng):
    """Per argument: a batch of BATCH perturbed copies (float arrays) or None (held fixed)."""
    batches = []
    for arg in args:
        array = numpy.asarray(arg)
        if numpy.issubdtype(array.dtype, numpy.floating):
            noise = 1e-3 * rng.standard_normal((BATCH,) + array.shape)
            if array.ndim == 2 and array.shape[0] == array.shape[1]:
                noise = noise + numpy.swapaxes(noise, -1, -2)  # keep symmetric matrices symmetric
            batches.append(array + noise.astype(array.dtype))
        else:
            batches.append(None)
    return batches


@pytest.mark.parametrize("name", sorted(SPEC))
def test_batching_rule_matches_a_loop(name):
    primitive = all_primitives()[name]
    args, params = SPEC[name]
    batches = _stack_examples(args, numpy.random.default_rng(1))
    if all(b is None for b in batches):
        batches[0] = numpy.stack([numpy.asarray(args[0])] * BATCH)
    in_axes = tuple(None if b is None else 0 for b in batches)
    inputs = [a if b is None else b for a, b in zip(args, batches)]
    batched = cr.vmap(lambda *a: primitive(*a, **params), in_axes=in_axes)(*inputs)
    looped = [primitive.impl(*[a if b is None else b[k] for a, b in zip(args, batches)], **params)
              for k in range(BATCH)]
    if primitive.multiple_results:
        for position, values in enumerate(zip(*looped)):
            numpy.testing.assert_allclose(batched[position], numpy.stack(values), rtol=1e-12, atol=1e-14)
    else:
        numpy.testing.assert_allclose(batched, numpy.stack(looped), rtol=1e-12, atol=1e-14)


def loss(w, x, y):
    return np.sum((np.tanh(x @ w) - y) ** 2)


def test_per_example_gradients():
    rng = numpy.random.default_rng(0)
    w, xs, ys = rng.standard_normal((3, 2)), rng.standard_normal((5, 3)), rng.standard_normal((5, 2))
    per_example = cr.vmap(cr.grad(loss), in_axes=(None, 0, 0))(w, xs, ys)
    looped = numpy.stack([cr.grad(loss)(w, xs[i], ys[i]) for i in range(5)])
    numpy.testing.assert_allclose(per_example, looped, rtol=1e-13)
    numpy.testing.assert_allclose(per_example.sum(axis=0), cr.grad(loss)(w, xs, ys), rtol=1e-12)


def test_axes_and_pytrees():
    x = numpy.arange(12.0).reshape(3, 4)
    numpy.testing.assert_allclose(cr.vmap(lambda r: np.sum(r ** 2), in_axes=1)(x), (x ** 2).sum(axis=0))
    out = cr.vmap(lambda r: r * 2.0, in_axes=0, out_axes=1)(x)
    numpy.testing.assert_allclose(out, (2 * x).T)
    tree = {"a": x, "b": (x[:, 0],)}
    result = cr.vmap(lambda t: {"s": np.sum(t["a"]) + t["b"][0]})(tree)
    numpy.testing.assert_allclose(result["s"], x.sum(axis=1) + x[:, 0])
    shared = cr.vmap(lambda r, c: r * c, in_axes=(0, None))(x, numpy.arange(4.0))
    numpy.testing.assert_allclose(shared, x * numpy.arange(4.0))
    constant = cr.vmap(lambda r: 1.0)(x)
    numpy.testing.assert_allclose(constant, numpy.ones(3))


def test_errors_name_the_problem():
    with pytest.raises(ValueError, match="different sizes"):
        cr.vmap(lambda a, b: a + b)(numpy.ones(3), numpy.ones(4))
    with pytest.raises(ValueError, match="axis_size"):
        cr.vmap(lambda a: a, in_axes=None)(numpy.ones(3))
    with pytest.raises(Exception, match="where"):
        cr.vmap(lambda a: a if a > 0 else -a)(numpy.ones(3))


def test_composes_with_every_transform():
    f = lambda x: np.sin(x) * np.sum(x ** 2)
    xs = numpy.random.default_rng(2).standard_normal((4, 3))
    jac = cr.vmap(cr.jacrev(f))(xs)
    numpy.testing.assert_allclose(jac, numpy.stack([cr.jacfwd(f)(x) for x in xs]), rtol=1e-13)
    hess = cr.vmap(cr.hessian(lambda x: np.sum(f(x))))(xs)
    assert hess.shape == (4, 3, 3)
    numpy.testing.assert_allclose(hess, numpy.swapaxes(hess, 1, 2), rtol=1e-12)
    outer = cr.jacfwd(cr.vmap(f))(xs)
    assert outer.shape == (4, 3, 4, 3)
    numpy.testing.assert_allclose(outer[1, :, 1, :], cr.jacfwd(f)(xs[1]), rtol=1e-13)
    numpy.testing.assert_allclose(outer[1, :, 2, :], 0.0)
    value, tangent = cr.jvp(cr.vmap(f), (xs,), (numpy.ones_like(xs),))
    numpy.testing.assert_allclose(tangent, numpy.stack([cr.jvp(f, (x,), (numpy.ones(3),))[1] for x in xs]))


def test_large_per_example_outer_products_match_a_loop():
    # Batched outer products with a large output take the broadcast-multiply path of ``contract``.
    rng = numpy.random.default_rng(5)
    X, W = rng.standard_normal((8, 120)), rng.standard_normal((120, 40))
    loss = lambda W, x: np.sum(np.tanh(x @ W) ** 2)
    batched = cr.vmap(cr.grad(loss), in_axes=(None, 0))(W, X)
    looped = numpy.stack([cr.grad(loss)(W, x) for x in X])
    assert batched.shape == (8, 120, 40)
    numpy.testing.assert_allclose(batched, looped, rtol=1e-12, atol=1e-14)


def test_out_axes_none_returns_an_output_that_does_not_depend_on_the_batch():
    # It was refused even for outputs that do not depend on the batch (JAX's semantics allow it).
    function = lambda x, c: (x * c, c * c)
    batched, shared = cr.vmap(function, in_axes=(0, None), out_axes=(0, None))(numpy.arange(3.0), 3.0)
    numpy.testing.assert_array_equal(batched, [0.0, 3.0, 6.0])
    assert float(shared) == 9.0 and numpy.shape(shared) == ()
    derivative = cr.grad(lambda c: cr.vmap(function, in_axes=(0, None), out_axes=(0, None))(numpy.arange(3.0), c)[1])
    assert float(derivative(3.0)) == 6.0
    with pytest.raises(ValueError, match="depends on the batch"):
        cr.vmap(function, in_axes=(0, None), out_axes=None)(numpy.arange(3.0), 3.0)
