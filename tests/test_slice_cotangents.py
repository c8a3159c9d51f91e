"""Reverse mode keeps the cotangents of basic-slice reads sparse (autodiff.reverse.SliceSum): gradients
equal JAX's for every kind of basic index, and no zero-padded array per read is built."""
import numpy as onp
import pytest

import chainrule as cr
import chainrule.numpy as cnp
from chainrule.ops import indexing

import jax  # the independent oracle
jax.config.update("jax_enable_x64", True)
jnp = jax.numpy

rng = onp.random.default_rng(2)

CASES = [
    ("rosenbrock", lambda xp, x: xp.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2), (7,)),
    ("overlapping and strided", lambda xp, x: xp.sum(x[::2] * x[:4]) + xp.sum(xp.sin(x[1:-1:3])), (8,)),
    ("reversed", lambda xp, x: xp.sum(x[::-1] * x), (5,)),
    ("integers and None", lambda xp, x: x[0, 1] * xp.sum(x[None, 1, :] ** 2) + xp.sum(x[..., -1]), (3, 4)),
    ("read and used densely", lambda xp, x: xp.sum(xp.tanh(x) * x) + xp.sum(x[1:, :2] ** 3), (3, 4)),
    ("single read", lambda xp, x: xp.sum(xp.exp(x[2:])), (6,)),
]


@pytest.mark.parametrize("name, function, shape", CASES, ids=[c[0] for c in CASES])
def test_gradients_match_jax(name, function, shape):
    x = rng.standard_normal(shape)
    expected = jax.grad(lambda x: function(jnp, x))(jnp.asarray(x))
    onp.testing.assert_allclose(cr.grad(lambda x: function(cnp, x))(x), expected, rtol=1e-13, atol=1e-14)
    hessian = jax.hessian(lambda x: function(jnp, x))(jnp.asarray(x))
    onp.testing.assert_allclose(cr.hessian(lambda x: function(cnp, x))(x), hessian, rtol=1e-12, atol=1e-13)


def test_complex_slices():
    z = rng.standard_normal(5) + 1j * rng.standard_normal(5)
    f = lambda xp, z: xp.sum(xp.abs(z[1:] - z[:-1]) ** 2)
    onp.testing.assert_allclose(cr.grad(lambda z: f(cnp, z))(z), jax.grad(lambda z: f(jnp, z))(z), rtol=1e-13)


def test_no_zero_padded_array_per_read():
    scattered = []
    impl = indexing.scatter_add.impl
    indexing.scatter_add.impl = lambda *a, **k: scattered.append(1) or impl(*a, **k)
    try:
        x = rng.standard_normal(100)
        f = CASES[0][1]
        g = cr.grad(lambda x: f(cnp, x))(x)
        h = cr.hvp(lambda x: f(cnp, x), (x,), (onp.ones(100),))[0]
    finally:
        indexing.scatter_add.impl = impl
    assert scattered == []
    onp.testing.assert_allclose(g, jax.grad(lambda x: f(jnp, x))(x), rtol=1e-13)
    onp.testing.assert_allclose(h, jax.jvp(jax.grad(lambda x: f(jnp, x)), (x,), (onp.ones(100),))[1], rtol=1e-12)
