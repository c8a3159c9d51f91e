"""The NumPy front (``chainrule.numpy``): every function the core issue lists, the methods, attributes
and operators of traced values, in-place and ``.at`` updates, and the conventions at
non-differentiable points. Values are compared with NumPy, derivatives with JAX (float64)."""
import operator

import numpy as onp
import pytest

import chainrule as cr
import chainrule.numpy as cnp

jax = pytest.importorskip("jax")
jax.config.update("jax_enable_x64", True)
jnp = jax.numpy

RTOL = 1e-10


def _rng(seed=0):
    return onp.random.default_rng(seed)


def uniform(low, high, shape, seed=0):
    return _rng(seed).uniform(low, high, shape)


def normal(shape, seed=0):
    return _rng(seed).standard_normal(shape)


def _leaves(tree):
    if isinstance(tree, dict):
        return [leaf for key in sorted(tree) for leaf in _leaves(tree[key])]
    if isinstance(tree, (tuple, list)):
        return [leaf for item in tree for leaf in _leaves(item)]
    return [tree]


def assert_close(got, expected, rtol=RTOL, what="value"):
    got_leaves, expected_leaves = _leaves(got), _leaves(expected)
    assert len(got_leaves) == len(expected_leaves), f"{what}: {len(got_leaves)} leaves != {len(expected_leaves)}"
    for k, (g, e) in enumerate(zip(got_leaves, expected_leaves)):
        assert not isinstance(g, cr.core.interpreter.Tracer), f"{what}[{k}]: a tracer escaped"
        if getattr(e, "dtype", None) == jax.dtypes.float0:  # JAX's tangent of an integer output
            e = onp.zeros(onp.shape(e))
        g, e = onp.asarray(g), onp.asarray(e)
        assert g.shape == e.shape, f"{what}[{k}]: shape {g.shape} != {e.shape}"
        scale = max(1.0, float(onp.max(onp.abs(e)))) if e.size else 1.0
        onp.testing.assert_allclose(g.astype(e.dtype) if e.dtype == bool else g, e, rtol=rtol,
                                    atol=rtol * scale * 1e-2, err_msg=what)


# ------------------------------------------------------------------------------------------- the table
# Each row: (id, function(xp, *args), args). The function is written once for NumPy, chainrule and JAX.

def row(name, function, *args, smooth=True):
    """``smooth=False``: skip the second-order check (piecewise-constant or linear functions)."""
    return pytest.param(function, args, smooth, id=name)


X = normal((3, 4), 1)
Y = normal((3, 4), 2)
V = normal(4, 3)
POSITIVE = uniform(0.3, 2.5, (3, 4), 4)
UNIT = uniform(-0.9, 0.9, (3, 4), 5)
ABOVE_ONE = uniform(1.2, 3.0, (3, 4), 6)
ROW = normal((1, 4), 7)
COLUMN = normal((3, 1), 8)
SQUARE = normal((3, 3), 9) + 3.0 * onp.eye(3)
SPD = SQUARE @ SQUARE.T + onp.eye(3)
CUBE = normal((2, 3, 4), 10)
# values kept away from integer jumps (floor, mod, ...) and from ties (max, sort, ...)
AWAY_FROM_JUMPS = onp.array([[0.3, 1.4, -0.6, 2.2], [-1.7, 0.45, 3.3, -2.6], [1.15, -0.35, 0.7, 2.9]])

ELEMENTWISE_UNARY = [
    ("exp", X), ("exp2", X), ("expm1", X), ("log", POSITIVE), ("log2", POSITIVE), ("log10", POSITIVE),
    ("log1p", POSITIVE), ("sqrt", POSITIVE), ("cbrt", X), ("square", X), ("reciprocal", POSITIVE),
    ("sin", X), ("cos", X), ("tan", UNIT), ("arcsin", UNIT), ("arccos", UNIT), ("arctan", X), ("sinh", X),
    ("cosh", X), ("tanh", X), ("arcsinh", X), ("arccosh", ABOVE_ONE), ("arctanh", UNIT), ("sign", X),
    ("absolute", X), ("abs", X), ("fabs", X), ("floor", AWAY_FROM_JUMPS), ("ceil", AWAY_FROM_JUMPS),
    ("rint", AWAY_FROM_JUMPS), ("trunc", AWAY_FROM_JUMPS), ("sinc", X), ("deg2rad", X), ("rad2deg", X),
    ("negative", X), ("positive", X), ("radians", X), ("degrees", X),
]
ELEMENTWISE_BINARY = [
    ("add", X, ROW), ("subtract", COLUMN, X), ("multiply", X, Y), ("divide", X, POSITIVE),
    ("true_divide", ROW, POSITIVE), ("maximum", X, Y), ("minimum", X, ROW), ("fmax", X, Y), ("fmin", COLUMN, Y),
    ("arctan2", X, Y), ("hypot", X, COLUMN), ("logaddexp", X, Y), ("logaddexp2", X, ROW),
    ("power", POSITIVE, X), ("float_power", POSITIVE, ROW), ("mod", AWAY_FROM_JUMPS, 0.8),
    ("fmod", AWAY_FROM_JUMPS, 0.8), ("remainder", AWAY_FROM_JUMPS, POSITIVE + 0.05), ("copysign", X, Y),
]

ROWS = [row(name, (lambda name: lambda xp, a: getattr(xp, name)(a))(name), value,
            smooth=name not in ("sign", "floor", "ceil", "rint", "trunc", "fix"))
        for name, value in ELEMENTWISE_UNARY]
ROWS += [row(name, (lambda name: lambda xp, a, b: getattr(xp, name)(a, b))(name), a, b)
         for name, a, b in ELEMENTWISE_BINARY]
ROWS += [
    row("mod_by_traced_divisor", lambda xp, a, b: xp.mod(a, b), AWAY_FROM_JUMPS, uniform(1.1, 1.3, 4, 11)),
    row("fmod_by_traced_divisor", lambda xp, a, b: xp.fmod(a, b), AWAY_FROM_JUMPS, uniform(1.1, 1.3, 4, 11)),
    row("power_scalar_exponent", lambda xp, a: xp.power(a, 3), X),
    row("power_half", lambda xp, a: xp.power(a, 0.5), POSITIVE),
    row("fix", lambda xp, a: xp.trunc(a) if xp is jnp else xp.fix(a), AWAY_FROM_JUMPS, smooth=False),
    row("round", lambda xp, a: xp.round(a), AWAY_FROM_JUMPS, smooth=False),
    row("round_decimals", lambda xp, a: xp.round(a, 1), AWAY_FROM_JUMPS + 0.02, smooth=False),
    row("around", lambda xp, a: xp.around(a), AWAY_FROM_JUMPS, smooth=False),
    row("clip", lambda xp, a: xp.clip(a, -0.5, 0.8), X),
    row("clip_lower_only", lambda xp, a: xp.clip(a, -0.5, None), X),
    row("clip_array_bounds", lambda xp, a, lo: xp.clip(a, lo, lo + 1.0), X, ROW),
    row("where", lambda xp, a, b: xp.where(a > b, a * 2.0, b ** 2), X, Y),
    row("where_scalar_branch", lambda xp, a: xp.where(a > 0, a, 0.0), X),
    # reductions
    *[row(f"{name}_{axis}_{keepdims}", (lambda name, axis, keepdims: lambda xp, a: getattr(xp, name)(
        a, axis=axis, keepdims=keepdims))(name, axis, keepdims), CUBE)
      for name in ("sum", "prod", "mean", "var", "std", "max", "min", "amax", "amin", "ptp")
      for axis, keepdims in ((None, False), (1, False), (-1, True), ((0, 2), False), ((0, 2), True))],
    row("var_ddof", lambda xp, a: xp.var(a, axis=0, ddof=1), X),
    row("std_ddof", lambda xp, a: xp.std(a, ddof=1), X),
    row("argmax", lambda xp, a: xp.argmax(a, axis=1), X, smooth=False),
    row("argmin", lambda xp, a: xp.argmin(a), X, smooth=False),
    row("cumsum", lambda xp, a: xp.cumsum(a, axis=1), X),
    row("cumsum_flat", lambda xp, a: xp.cumsum(a), X),
    row("cumprod", lambda xp, a: xp.cumprod(a, axis=0), X),
    row("cumprod_flat", lambda xp, a: xp.cumprod(a), X),
    row("cumprod_with_zero", lambda xp, a: xp.cumprod(a * onp.array([1.0, 0.0, 1.0, 1.0]), axis=1), X),
    row("prod_with_zero", lambda xp, a: xp.prod(a * onp.array([1.0, 0.0, 1.0, 1.0]), axis=1), X),
    row("average", lambda xp, a: xp.average(a, axis=1), X),
    row("average_weights", lambda xp, a, w: xp.average(a, axis=1, weights=w), X, POSITIVE[0]),
    row("average_full_weights", lambda xp, a, w: xp.average(a, weights=w), X, POSITIVE),
]
# Shaping is linear: its second derivatives vanish, so those rows skip the second-order check.
SHAPING_ROWS = [
    row("reshape", lambda xp, a: xp.reshape(a, (2, -1)), X),
    row("ravel", lambda xp, a: xp.ravel(a), CUBE),
    row("transpose", lambda xp, a: xp.transpose(a), CUBE),
    row("transpose_axes", lambda xp, a: xp.transpose(a, (1, 2, 0)), CUBE),
    row("swapaxes", lambda xp, a: xp.swapaxes(a, 0, 2), CUBE),
    row("moveaxis", lambda xp, a: xp.moveaxis(a, 0, -1), CUBE),
    row("moveaxis_many", lambda xp, a: xp.moveaxis(a, (0, 1), (2, 0)), CUBE),
    row("expand_dims", lambda xp, a: xp.expand_dims(a, 1), X),
    row("expand_dims_many", lambda xp, a: xp.expand_dims(a, (0, -1)), X),
    row("squeeze", lambda xp, a: xp.squeeze(a), ROW),
    row("squeeze_axis", lambda xp, a: xp.squeeze(a, axis=1), COLUMN),
    row("broadcast_to", lambda xp, a: xp.broadcast_to(a, (2, 3, 4)), ROW),
    row("broadcast_arrays", lambda xp, a, b: tuple(xp.broadcast_arrays(a, b)), ROW, COLUMN),
    row("concatenate", lambda xp, a, b: xp.concatenate([a, b, a], axis=0), X, ROW),
    row("concatenate_axis1", lambda xp, a, b: xp.concatenate((a, b), axis=1), X, COLUMN),
    row("concatenate_none", lambda xp, a, b: xp.concatenate((a, b), axis=None), X, COLUMN),
    row("stack", lambda xp, a, b: xp.stack([a, b]), X, Y),
    row("stack_axis", lambda xp, a, b: xp.stack([a, b], axis=-1), X, Y),
    row("vstack", lambda xp, a, b: xp.vstack([a, b]), V, V[::-1]),
    row("hstack", lambda xp, a, b: xp.hstack([a, b]), V, V[::-1]),
    row("hstack_2d", lambda xp, a, b: xp.hstack([a, b]), X, COLUMN),
    row("dstack", lambda xp, a, b: xp.dstack([a, b]), X, Y),
    row("column_stack", lambda xp, a, b: xp.column_stack([a, b]), V, V[::-1]),
    row("split", lambda xp, a: tuple(xp.split(a, 2, axis=1)), X),
    row("split_indices", lambda xp, a: tuple(xp.split(a, [1, 3], axis=1)), X),
    row("array_split", lambda xp, a: tuple(xp.array_split(a, 3, axis=1)), X),
    row("tile", lambda xp, a: xp.tile(a, (2, 1, 2)), X),
    row("tile_int", lambda xp, a: xp.tile(a, 3), V),
    row("repeat", lambda xp, a: xp.repeat(a, 2, axis=0), X),
    row("repeat_flat", lambda xp, a: xp.repeat(a, 3), X),
    row("repeat_counts", lambda xp, a: xp.repeat(a, onp.array([1, 0, 2, 3]), axis=1), X),
    row("flip", lambda xp, a: xp.flip(a), X),
    row("flip_axis", lambda xp, a: xp.flip(a, axis=1), CUBE),
    row("fliplr", lambda xp, a: xp.fliplr(a), X),
    row("flipud", lambda xp, a: xp.flipud(a), X),
    row("roll", lambda xp, a: xp.roll(a, 2, axis=1), X),
    row("roll_flat", lambda xp, a: xp.roll(a, -5), X),
    row("roll_many", lambda xp, a: xp.roll(a, (1, -1), axis=(0, 1)), X),
    row("rot90", lambda xp, a: xp.rot90(a), X),
    row("rot90_k", lambda xp, a: xp.rot90(a, 3), X),
    row("rot90_k2", lambda xp, a: xp.rot90(a, 2, axes=(1, 2)), CUBE),
    row("pad", lambda xp, a: xp.pad(a, 1), X),
    row("pad_widths", lambda xp, a: xp.pad(a, ((1, 0), (2, 3))), X),
    row("pad_constant", lambda xp, a: xp.pad(a, 2, constant_values=1.5), V),
    row("pad_edge", lambda xp, a: xp.pad(a, (2, 1), mode="edge"), X),
    row("pad_reflect", lambda xp, a: xp.pad(a, 2, mode="reflect"), X),
    row("pad_symmetric", lambda xp, a: xp.pad(a, 1, mode="symmetric"), X),
    row("pad_wrap", lambda xp, a: xp.pad(a, 1, mode="wrap"), X),
    row("diag_of_matrix", lambda xp, a: xp.diag(a), X),
    row("diag_of_matrix_k", lambda xp, a: xp.diag(a, -1), X),
    row("diag_of_vector", lambda xp, a: xp.diag(a), V),
    row("diag_of_vector_k", lambda xp, a: xp.diag(a, 2), V),
    row("diagonal", lambda xp, a: xp.diagonal(a, 1), X),
    row("diagonal_axes", lambda xp, a: xp.diagonal(a, 0, 2, 1), CUBE),
    row("triu", lambda xp, a: xp.triu(a), X),
    row("tril", lambda xp, a: xp.tril(a, -1), X),
    row("tril_batched", lambda xp, a: xp.tril(a), CUBE),
    row("trace", lambda xp, a: xp.trace(a), X),
    row("trace_offset", lambda xp, a: xp.trace(a, 1, 1, 2), CUBE),
    row("take", lambda xp, a: xp.take(a, onp.array([2, 0, 2, 3]), axis=1), X),
    row("take_flat", lambda xp, a: xp.take(a, onp.array([[5, 0], [5, 11]])), X),
    row("take_along_axis", lambda xp, a: xp.take_along_axis(a, onp.array([[0, 3], [1, 1], [2, 0]]), axis=1), X),
    row("take_along_axis_0", lambda xp, a: xp.take_along_axis(a, onp.array([[2, 0, 1, 1]]), axis=0), X),
    row("sort", lambda xp, a: xp.sort(a), X),
    row("sort_axis0", lambda xp, a: xp.sort(a, axis=0), X),
    row("sort_none", lambda xp, a: xp.sort(a, axis=None), X),
]
ROWS += [pytest.param(p.values[0], p.values[1], False, id=p.id) for p in SHAPING_ROWS]
ROWS += [
    row("dot_vector", lambda xp, a, b: xp.dot(a, b), V, V[::-1]),
    row("dot_matrix_vector", lambda xp, a, b: xp.dot(a, b), X, V),
    row("dot_matrix", lambda xp, a, b: xp.dot(a, b), X, Y.T),
    row("dot_nd", lambda xp, a, b: xp.dot(a, b), CUBE, normal((2, 4, 3), 12)),
    row("dot_scalar", lambda xp, a, b: xp.dot(a, b), X, 2.5),
    row("vdot", lambda xp, a, b: xp.vdot(a, b), X, Y),
    row("inner", lambda xp, a, b: xp.inner(a, b), X, Y),
    row("outer", lambda xp, a, b: xp.outer(a, b), V, X),
    row("matmul", lambda xp, a, b: xp.matmul(a, b), X, Y.T),
    row("matmul_vector_left", lambda xp, a, b: xp.matmul(a, b), V[:3], X),
    row("matmul_batched", lambda xp, a, b: xp.matmul(a, b), CUBE, normal((4, 2), 13)),
    row("matmul_broadcast_batch", lambda xp, a, b: a @ b, normal((2, 1, 3, 4), 14), normal((5, 4, 2), 15)),
    row("tensordot", lambda xp, a, b: xp.tensordot(a, b, axes=([0, 2], [1, 0])), CUBE, normal((4, 2, 5), 16)),
    row("tensordot_int", lambda xp, a, b: xp.tensordot(a, b, axes=1), CUBE, normal((4, 2), 17)),
    row("einsum_matmul", lambda xp, a, b: xp.einsum("ij,kj->ik", a, b), X, Y),
    row("einsum_trace", lambda xp, a: xp.einsum("ii", a), SQUARE),
    row("einsum_diag", lambda xp, a: xp.einsum("ii->i", a), SQUARE),
    row("einsum_sum", lambda xp, a: xp.einsum("ijk->j", a), CUBE),
    row("einsum_three", lambda xp, a, b, c: xp.einsum("ij,jk,k->i", a, b, c), X, Y.T, V[:3]),
    row("einsum_ellipsis", lambda xp, a, b: xp.einsum("...ij,jk->...ik", a, b), CUBE, Y.T),
    row("einsum_implicit", lambda xp, a, b: xp.einsum("ij,jk", a, b), X, Y.T),
    row("einsum_outer_batch", lambda xp, a, b: xp.einsum("bi,bj->bij", a, b), X, Y),
    row("kron", lambda xp, a, b: xp.kron(a, b), X[:2, :2], SQUARE),
    row("kron_vector", lambda xp, a, b: xp.kron(a, b), V, V[:2]),
    row("cross", lambda xp, a, b: xp.cross(a, b), X[:, :3], Y[:, :3]),
    # linalg
    row("norm", lambda xp, a: xp.linalg.norm(a), X),
    row("norm_axis", lambda xp, a: xp.linalg.norm(a, axis=1), X),
    row("norm_ord1", lambda xp, a: xp.linalg.norm(a, ord=1, axis=0), X),
    row("norm_ord3", lambda xp, a: xp.linalg.norm(a, ord=3), V),
    row("norm_inf", lambda xp, a: xp.linalg.norm(a, ord=onp.inf), V),
    row("norm_fro", lambda xp, a: xp.linalg.norm(a, "fro"), X),
    row("norm_matrix_1", lambda xp, a: xp.linalg.norm(a, 1), X),
    row("norm_matrix_inf", lambda xp, a: xp.linalg.norm(a, onp.inf), X),
    row("norm_keepdims", lambda xp, a: xp.linalg.norm(a, axis=1, keepdims=True), X),
    row("solve", lambda xp, a, b: xp.linalg.solve(a, b), SQUARE, X[:, :3].T),
    row("solve_vector", lambda xp, a, b: xp.linalg.solve(a, b), SQUARE, V[:3]),
    row("inv", lambda xp, a: xp.linalg.inv(a), SQUARE),
    row("det", lambda xp, a: xp.linalg.det(a), SQUARE),
    row("det_batched", lambda xp, a: xp.linalg.det(a), normal((2, 3, 3), 18)),
    row("slogdet", lambda xp, a: tuple(xp.linalg.slogdet(a)), SQUARE - 5.0 * onp.eye(3)),
    row("cholesky", lambda xp, a: xp.linalg.cholesky((a + a.T) / 2.0), SPD),
    row("eigh_values", lambda xp, a: xp.linalg.eigh((a + a.T) / 2.0)[0], SPD),
    row("eigh_vectors_squared", lambda xp, a: xp.linalg.eigh((a + a.T) / 2.0)[1] ** 2, SPD),
]


def _loss(xp, function, weights):
    """A scalar that depends on every output element: sum(out_i * w_i) over the output's leaves."""
    def loss(*args):
        outs = _leaves(function(xp, *args))
        total = 0.0
        for out, weight in zip(outs, weights):
            total = total + xp.sum(xp.asarray(out) * weight)
        return total
    return loss


def _args_for(args):
    return tuple(onp.array(a, dtype=float) if onp.ndim(a) else float(a) for a in args)


@pytest.mark.parametrize("function,args,smooth", ROWS)
def test_values_match_numpy(function, args, smooth):
    expected = function(onp, *args)
    got = function(cnp, *args)  # plain inputs: chainrule.numpy returns what NumPy returns
    assert_close(got, expected)
    for g, e in zip(_leaves(got), _leaves(expected)):
        assert onp.asarray(g).dtype == onp.asarray(e).dtype, f"dtype {onp.asarray(g).dtype} != {onp.asarray(e).dtype}"


@pytest.mark.parametrize("function,args,smooth", ROWS)
def test_derivatives_match_jax(function, args, smooth):
    args = _args_for(args)
    expected_out = function(onp, *args)
    rng = _rng(99)
    tangents = tuple(rng.standard_normal(onp.shape(a)) if onp.ndim(a) else float(rng.standard_normal())
                     for a in args)
    f = lambda *a: function(cnp, *a)
    g = lambda *a: function(jnp, *a)
    # forward mode: traced values give NumPy's values, tangents JAX's
    out, out_dot = cr.jvp(f, args, tangents)
    assert_close(out, expected_out, what="jvp primal")
    weights = [rng.standard_normal(onp.shape(o)) for o in _leaves(expected_out)]
    numbers = tuple(range(len(args)))
    loss = _loss(jnp, function, weights)

    @jax.jit  # one compiled oracle per row: eager JAX is slow
    def oracle(args, tangents):
        expected_dot = jax.jvp(g, args, tangents)[1]
        gradient = jax.grad(loss, argnums=numbers)(*args)
        second = jax.jvp(jax.grad(loss, argnums=numbers), args, tangents)[1] if smooth else None
        return expected_dot, gradient, second

    expected_dot, expected_gradient, expected_second = oracle(args, tangents)
    assert_close(out_dot, expected_dot, what="jvp tangent")
    # reverse mode through a weighted sum of every output
    got = cr.grad(_loss(cnp, function, weights), argnums=numbers)(*args)
    assert_close(got, expected_gradient, what="gradient")
    if smooth:
        # second order: forward over reverse
        second = cr.hvp(_loss(cnp, function, weights), args, tangents)
        assert_close(second, expected_second, rtol=1e-9, what="hvp")
