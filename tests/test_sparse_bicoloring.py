"""Bicoloring: forward and reverse passes together recover every entry of a Jacobian with dense rows and dense
columns in a few passes, exactly (the same numbers as jacfwd and JAX), and never need more passes than a
column or row coloring alone."""
import numpy
import pytest
import scipy.sparse

import chainrule as cr
import chainrule.numpy as np
from chainrule import sparse
from chainrule.finite_diff.coloring import bicolor_rounds, coloring, is_bicoloring, is_structurally_orthogonal


def _rng():
    return numpy.random.default_rng(11)


def _arrow(n, width=1):
    pattern = numpy.eye(n, dtype=bool)
    pattern[:width] = True
    pattern[:, :width] = True
    return pattern


def _with_dense_lines(shape, dense_rows, dense_columns, density=0.01, seed=0):
    random = numpy.random.default_rng(seed)
    pattern = random.random(shape) < density
    pattern[numpy.arange(min(shape)), numpy.arange(min(shape))] = True
    pattern[random.choice(shape[0], dense_rows, replace=False)] = True
    pattern[:, random.choice(shape[1], dense_columns, replace=False)] = True
    return pattern


def _banded(n, lower, upper):
    return scipy.sparse.diags([1.0] * (lower + upper + 1), range(-lower, upper + 1), shape=(n, n)).toarray() != 0


def _passes(colors):
    column_colors, row_colors = colors
    return int(column_colors.max(initial=0)) + int(row_colors.max(initial=0))


def _column_passes(pattern):
    return int(coloring(pattern, "column").max(initial=-1)) + 1


def _row_passes(pattern):
    return int(coloring(pattern, "row").max(initial=-1)) + 1


def _function_with_pattern(pattern, dtype=numpy.float64):
    """f(x) = M @ sin(x) + x[:m] ** 2 restricted to the pattern: J = M * cos(x) plus a diagonal, nonzero exactly on
    the pattern (where it has one)."""
    weights = numpy.where(pattern, _rng().uniform(0.5, 1.5, pattern.shape), 0.0).astype(dtype)
    diagonal = numpy.diag(pattern)[: min(pattern.shape)].astype(dtype)

    def f(x):
        square = min(pattern.shape)
        return weights @ np.sin(x) + np.concatenate([x[:square] ** 2 * diagonal, np.zeros(pattern.shape[0] - square, dtype=dtype)])
    return f


# ------------------------------------------------------------------------------------------ coloring

@pytest.mark.parametrize("n", [5, 50, 200])
def test_arrow_pattern_needs_three_passes_instead_of_n(n):
    pattern = _arrow(n)
    column_colors, row_colors = coloring(pattern, "bicolor")
    assert column_colors.shape == (n,) and row_colors.shape == (n,)
    assert is_bicoloring(pattern, column_colors, row_colors)
    assert _passes((column_colors, row_colors)) <= 3
    assert _column_passes(pattern) == n and _row_passes(pattern) == n


def test_wide_arrow_passes_grow_with_the_width_not_the_size():
    pattern = _arrow(300, width=3)
    colors = coloring(pattern, "bicolor")
    assert is_bicoloring(pattern, *colors)
    assert _passes(colors) <= 2 * 3 + 1


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("dense", [(2, 0), (0, 3), (3, 2)])
def test_random_patterns_with_dense_lines(seed, dense):
    pattern = _with_dense_lines((120, 100), *dense, seed=seed)
    colors = coloring(pattern, "bicolor")
    assert is_bicoloring(pattern, *colors)
    assert _passes(colors) <= min(_column_passes(pattern), _row_passes(pattern))
    assert _passes(colors) < 40  # a dense row alone forces 100 column colors


@pytest.mark.parametrize("bands", [(1, 1), (2, 3), (0, 4)])
def test_banded_pattern_is_no_worse_than_column_coloring(bands):
    pattern = _banded(150, *bands)
    colors = coloring(pattern, "bicolor")
    assert is_bicoloring(pattern, *colors)
    assert _passes(colors) <= _column_passes(pattern)


def test_bicoloring_of_patterns_needing_one_direction_only():
    diagonal = numpy.eye(7, dtype=bool)
    column_colors, row_colors = coloring(diagonal, "bicolor")
    assert _passes((column_colors, row_colors)) == 1 and is_bicoloring(diagonal, column_colors, row_colors)
    dense_row = numpy.ones((1, 9), dtype=bool)
    column_colors, row_colors = coloring(dense_row, "bicolor")
    assert column_colors.max() == 0 and row_colors.tolist() == [1]
    empty = numpy.zeros((3, 4), dtype=bool)
    assert _passes(coloring(empty, "bicolor")) == 0


@pytest.mark.parametrize("order", ["natural", "largest_first", "smallest_last", "dsatur", "best"])
def test_bicoloring_orders(order):
    pattern = _with_dense_lines((60, 70), 2, 2, density=0.03)
    colors = coloring(pattern, "bicolor", order=order)
    assert is_bicoloring(pattern, *colors)
    assert _passes(colors) <= min(_column_passes(pattern), _row_passes(pattern))


def test_validity_checker_rejects_what_cannot_be_recovered():
    pattern = _arrow(6)
    column_colors, row_colors = coloring(pattern, "bicolor")
    assert is_bicoloring(pattern, column_colors, row_colors)
    # forward alone with every column in one pass: each row's sum mixes its two entries
    assert not is_bicoloring(pattern, numpy.ones(6, dtype=int), numpy.zeros(6, dtype=int))
    # a column in no pass whose rows are in no pass either: its entries are never measured
    assert not is_bicoloring(pattern, numpy.r_[0, numpy.ones(5, dtype=int)], numpy.zeros(6, dtype=int))
    # a plain structurally orthogonal column coloring is a bicoloring with no reverse passes
    column = coloring(pattern, "column") + 1
    assert is_structurally_orthogonal(pattern, column) and is_bicoloring(pattern, column, numpy.zeros(6, dtype=int))
    # two dense rows in one reverse pass: their sums at each column cannot be told apart
    two = _arrow(8, width=2)
    assert not is_bicoloring(two, numpy.r_[1, 2, numpy.full(6, 3)], numpy.r_[1, 1, numpy.zeros(6, dtype=int)])
    with pytest.raises(ValueError, match="needs 6 column colors and 6 row colors"):
        is_bicoloring(pattern, column_colors[:-1], row_colors)


def test_rounds_use_subtraction_only_where_needed():
    pattern = _arrow(10)
    column_colors, row_colors = coloring(pattern, "bicolor")
    rows, columns = numpy.nonzero(pattern)
    rounds, complete = bicolor_rounds(rows, columns, column_colors, row_colors)
    assert complete and 1 <= len(rounds) <= 2
    recovered = numpy.concatenate([numpy.concatenate(each) for each in rounds])
    assert numpy.array_equal(numpy.sort(recovered), numpy.arange(rows.size))  # each entry exactly once


# ------------------------------------------------------------------------------------------ compression

def arrow_function(x):
    # dense first row (a sum over all of x) and first column (x[0] in every output), plus a diagonal
    return np.concatenate([np.sum(x * x)[None], x[1:] * x[0] + np.sin(x[1:])])


@pytest.mark.parametrize("dtype", [numpy.float64, numpy.float32, numpy.complex128])
@pytest.mark.parametrize("mode", ["auto", "bidirectional"])
def test_arrow_jacobian_equals_jacfwd_in_three_passes(dtype, mode):
    x = numpy.linspace(0.5, 1.5, 200).astype(dtype)
    if numpy.dtype(dtype).kind == "c":
        x = x + 0.25j * numpy.cos(numpy.arange(200))
    jacobian_function = sparse.jacobian(arrow_function, mode=mode)
    jacobian = jacobian_function(x)
    (plan,) = jacobian_function.plans.values()
    assert plan.mode == "bidirectional" and plan.color_count <= 3
    assert jacobian.dtype == dtype and jacobian.shape == (200, 200)
    dense = cr.jacfwd(arrow_function, holomorphic=numpy.dtype(dtype).kind == "c")(x)
    tolerance = 4 * numpy.finfo(dtype).eps
    numpy.testing.assert_allclose(jacobian.toarray(), dense, rtol=tolerance, atol=tolerance * numpy.abs(dense).max())


def test_arrow_jacobian_equals_jax():
    jax = pytest.importorskip("jax")
    jax.config.update("jax_enable_x64", True)
    jnp = jax.numpy
    x = _rng().uniform(0.5, 2.0, 60)
    ours = sparse.jacobian(arrow_function, mode="bidirectional", format="csc")(x)
    theirs = jax.jacfwd(lambda x: jnp.concatenate([jnp.sum(x * x)[None], x[1:] * x[0] + jnp.sin(x[1:])]))(
        jnp.asarray(x))
    assert ours.format == "csc"
    numpy.testing.assert_allclose(ours.toarray(), numpy.asarray(theirs), rtol=1e-14, atol=1e-14)


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("dtype", [numpy.float64, numpy.float32])
def test_random_dense_lines_jacobian_equals_jacfwd(seed, dtype):
    pattern = _with_dense_lines((90, 80), 3, 2, density=0.02, seed=seed)
    f = _function_with_pattern(pattern, dtype)
    x = _rng().uniform(0.5, 2.0, 80).astype(dtype)
    jacobian_function = sparse.jacobian(f, sparsity=pattern, mode="auto")
    jacobian = jacobian_function(x)
    (plan,) = jacobian_function.plans.values()
    assert plan.mode == "bidirectional"
    assert plan.color_count < min(_column_passes(pattern), _row_passes(pattern))
    dense = cr.jacfwd(f)(x)
    assert jacobian.dtype == dtype
    tolerance = 8 * numpy.finfo(dtype).eps
    numpy.testing.assert_allclose(jacobian.toarray(), dense, rtol=tolerance, atol=tolerance * numpy.abs(dense).max())


def test_auto_keeps_column_coloring_on_banded_patterns():
    f = lambda x: x[1:-1] * x[2:] - np.sin(x[:-2])
    x = _rng().uniform(0.5, 2.0, 40)
    jacobian_function = sparse.jacobian(f)
    jacobian_function(x)
    (plan,) = jacobian_function.plans.values()
    assert plan.mode == "forward"
    bidirectional = sparse.jacobian(f, mode="bidirectional")
    numpy.testing.assert_allclose(bidirectional(x).toarray(), cr.jacfwd(f)(x), rtol=1e-15, atol=0)
    (plan,) = bidirectional.plans.values()
    assert plan.color_count <= _column_passes(sparse.jacobian_sparsity(f)(x))


def test_bidirectional_with_one_direction_empty():
    x = _rng().uniform(0.5, 2.0, 12)
    for f in (lambda x: np.sin(x) * 2.0, lambda x: np.sum(x ** 3)[None]):
        jacobian_function = sparse.jacobian(f, mode="bidirectional")
        numpy.testing.assert_allclose(jacobian_function(x).toarray(), cr.jacfwd(f)(x), rtol=1e-15, atol=0)
        (plan,) = jacobian_function.plans.values()
        assert plan.color_count == 1


def test_bidirectional_jit_matches_and_is_reused():
    x = _rng().uniform(0.5, 2.0, 50)
    jacobian_function = sparse.jacobian(arrow_function, mode="bidirectional", jit=True)
    for point in (x, x + 1.0):
        numpy.testing.assert_allclose(jacobian_function(point).toarray(), cr.jacfwd(arrow_function)(point),
                                      rtol=1e-15, atol=1e-15)


def test_bidirectional_output_size_mismatch_is_reported():
    pattern = _arrow(6)
    for mode in ("bidirectional", "reverse"):
        with pytest.raises(ValueError, match="has 5 outputs, but the sparsity pattern has 6 rows"):
            sparse.jacobian(lambda x: x[1:] * x[0], sparsity=pattern, mode=mode)(numpy.ones(6))
