"""Jacobian seeds kept implicit (chainrule.autodiff.unit_batch): every rule that keeps the seed implicit
gives JAX's Jacobian, and every other primitive sees the dense seed."""
import numpy as onp
import pytest

import chainrule as cr
import chainrule.numpy as cnp
from chainrule.autodiff import unit_batch
from chainrule.ops import arithmetic

import jax  # the independent oracle
jax.config.update("jax_enable_x64", True)
jnp = jax.numpy

rng = onp.random.default_rng(11)
A = rng.standard_normal((5, 4))
B = rng.standard_normal((3, 4, 2))
v = rng.standard_normal(4)

# (name, function(xp, x), point): each exercises a rule of unit_batch (or its fallback to dense).
CASES = [
    ("scale", lambda xp, x: xp.sin(x) * 3.0, rng.standard_normal(4)),
    ("scale by array, reflected", lambda xp, x: v * xp.exp(x), rng.standard_normal(4)),
    ("divide", lambda xp, x: xp.log(x ** 2 + 1.0) / v, rng.standard_normal(4)),
    ("negate and subtract", lambda xp, x: -xp.tanh(x) - x * v, rng.standard_normal(4)),
    ("dense minus seed", lambda xp, x: A.T @ xp.sin(A @ x) - x, rng.standard_normal(4)),
    ("seed minus dense", lambda xp, x: x - A.T @ xp.cos(A @ x), rng.standard_normal(4)),
    ("product of seeds", lambda xp, x: x * x * x, rng.standard_normal(4)),
    ("matvec", lambda xp, x: xp.tanh(A @ xp.sin(x)) * xp.sum(x), rng.standard_normal(4)),
    ("vector times matrix", lambda xp, x: xp.sin(x @ A.T), rng.standard_normal(4)),
    ("matrix input", lambda xp, x: xp.einsum("kij,ij->k", B, xp.sin(x)), rng.standard_normal((4, 2))),
    ("linear map", lambda xp, x: A @ x, rng.standard_normal(4)),
    ("scaled, negated and divided", lambda xp, x: -(A @ x) / (1.0 + A[:, 0] ** 2) * 2.0, rng.standard_normal(4)),
    ("sum of two linear maps", lambda xp, x: A @ xp.sin(x) + A[:, ::-1] @ xp.cos(x), rng.standard_normal(4)),
    ("linear map minus identity", lambda xp, x: A[:4] @ x - x * 3.0, rng.standard_normal(4)),
    ("identity minus linear map", lambda xp, x: xp.tanh(x) - A[:4] @ x, rng.standard_normal(4)),
    ("dense minus scaled", lambda xp, x: A[:4] @ (A[:4] @ x) - A[:4].T @ x, rng.standard_normal(4)),
    ("complex scaling of a linear map", lambda xp, x: xp.exp(1j * (A @ x)), rng.standard_normal(4)),
    ("outer product falls back", lambda xp, x: xp.outer(x, v).ravel(), rng.standard_normal(4)),
    ("broadcast falls back", lambda xp, x: (x[:, None] * A.T).sum(axis=0), rng.standard_normal(4)),
    ("indexing falls back", lambda xp, x: xp.concatenate([x[1:] * x[:-1], x[:2]]), rng.standard_normal(4)),
    ("scalar input", lambda xp, x: xp.array([xp.sin(x), x * x]), 0.7),
    ("complex", lambda xp, x: xp.exp(1j * x) * (2 - 1j), rng.standard_normal(3) + 1j * rng.standard_normal(3)),
]


@pytest.mark.parametrize("transform", ["jacfwd", "jacrev"])
@pytest.mark.parametrize("name, function, point", CASES, ids=[c[0] for c in CASES])
def test_jacobian_matches_jax(transform, name, function, point):
    holomorphic = onp.iscomplexobj(point)
    got = getattr(cr, transform)(lambda x: function(cnp, x), holomorphic=holomorphic)(point)
    complex_output = onp.iscomplexobj(function(onp, onp.asarray(point)))
    # JAX's jacrev refuses complex outputs of real inputs; the Jacobian is still jacfwd's.
    oracle = jax.jacfwd if complex_output and not holomorphic else getattr(jax, transform)
    expected = oracle(lambda x: function(jnp, x), holomorphic=holomorphic)(jnp.asarray(point))
    assert isinstance(got, onp.ndarray) and got.shape == expected.shape
    onp.testing.assert_allclose(got, onp.asarray(expected), rtol=1e-12, atol=1e-13)


def test_hessian_matches_jax():
    f = lambda xp, x: xp.sum(xp.tanh(A @ xp.sin(x)) * x[0]) - xp.sum(x * x * x)
    x = rng.standard_normal(4)
    onp.testing.assert_allclose(cr.hessian(lambda x: f(cnp, x))(x),
                                jax.hessian(lambda x: f(jnp, x))(x), rtol=1e-12, atol=1e-13)


def test_seed_is_dense_for_numpy_and_after_implicit_steps():
    seed = unit_batch.seed((2, 3), onp.float64)
    assert seed.shape == (6, 2, 3)
    onp.testing.assert_array_equal(onp.asarray(seed), onp.eye(6).reshape(6, 2, 3))
    scaled = unit_batch.UnitBatch(onp.array([2.0, -1.0]))
    onp.testing.assert_array_equal(unit_batch.densify(scaled), onp.diag([2.0, -1.0]))
    assert unit_batch.densify(onp.ones(2)) is not None


def test_linear_steps_keep_the_seed_implicit():
    # The tangents of an elementwise chain stay a scaled unit batch: the Jacobian is diagonal and built
    # once at the end (a 3000 x 3000 basis pushed densely through 5 operations would take ~0.4 GB).
    seen = []
    original = unit_batch.apply

    def spy(primitive, values, batched, params):
        out = original(primitive, values, batched, params)
        seen.append((primitive.name, type(out).__name__))
        return out

    unit_batch.apply = spy
    try:
        x = rng.standard_normal(3000)
        J = cr.jacfwd(lambda x: cnp.sin(x) * 2.0 - cnp.exp(x) / 3.0)(x)
    finally:
        unit_batch.apply = original
    onp.testing.assert_allclose(onp.diag(J), onp.cos(x) * 2.0 - onp.exp(x) / 3.0, rtol=1e-14)
    assert seen and all(kind == "UnitBatch" for _, kind in seen), seen


def test_staged_jacobians_keep_the_seed_implicit_too():
    # Under jit the seed's scale is a staged value: the rules use primitives, and the generated code
    # contracts no (n x n) matrix with an (n x n) identity.
    import re
    x = rng.standard_normal(4)
    square = A[:4]
    f = lambda x: cnp.tanh(square @ cnp.sin(x)) - x * x
    for transform in (cr.jacfwd, cr.jacrev):
        compiled = cr.jit(transform(f))
        onp.testing.assert_allclose(compiled(x), transform(f)(x), rtol=1e-14, atol=1e-15)
        specs = re.findall(r"np\.einsum\('(\w+),(\w+)->(\w*)'", compiled.source(x))
        assert specs
        for left, right, out in specs:
            summed = set(left) & set(right) - set(out)
            assert not (len(left) == 2 and len(right) == 2 and summed), (left, right, out)


@pytest.mark.parametrize("name", ["add", "sub"])
def test_sums_with_the_seed_in_any_memory_layout(name):
    # The seed's diagonal is added in place; a dense batch in Fortran order must get it too.
    dense = onp.asfortranarray(rng.standard_normal((6, 6))).reshape(6, 2, 3, order="F")
    assert not dense.flags.c_contiguous
    unit = unit_batch.UnitBatch(rng.standard_normal((2, 3)))
    operation = onp.add if name == "add" else onp.subtract
    for left, right in [(dense, unit), (unit, dense)]:
        out = unit_batch.apply(getattr(arithmetic, name), [left, right], [True, True], {})
        onp.testing.assert_array_equal(out, operation(onp.asarray(left), onp.asarray(right)))
