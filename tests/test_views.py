"""NumPy's in-place semantics on traced arrays: aliases, views (slices, reshape, transpose, flip) that
write through to their base and show its updates, copies that do not — in forward, reverse and
batched modes, against NumPy's values and finite differences."""
import numpy
import pytest

import chainrule as cr
import chainrule.numpy as np


def program(x, xp):
    """In-place updates through names, slices, reshapes, transposes and flips."""
    y = x * 1.0
    alias = y
    row = y[1:3]                    # a view
    y[0] = 5.0 * x[3]               # the view does not see y[0]...
    row[0] = row[1] * 3.0           # ...but writing into it writes y[1]
    grid = y.reshape(2, 2).T        # a view of a view
    grid[0, 1] = x[0] ** 2          # writes y[2], and row[1] sees it
    y[3] += 1.0
    alias *= 1.5                    # the same object as y
    backwards = y[::-1]
    backwards[0] = backwards[0] - xp.sin(x[1])   # writes y[3]
    snapshot = y.copy()
    snapshot[0] = 100.0             # a copy: y is unchanged
    return xp.sum(row * xp.arange(1.0, 3.0)) + xp.sum(y ** 2) + xp.sum(snapshot)


X = numpy.array([1.0, 2.0, 3.0, 4.0])


def numpy_gradient(x, step=1e-6):
    return numpy.array([(program(x + step * e, numpy) - program(x - step * e, numpy)) / (2 * step)
                        for e in numpy.eye(x.size)])


def test_values_match_numpy():
    assert float(program(X, np)) == pytest.approx(program(X.copy(), numpy), rel=1e-15)


def test_reverse_forward_and_batched_derivatives():
    expected = numpy_gradient(X)
    numpy.testing.assert_allclose(cr.grad(lambda x: program(x, np))(X), expected, rtol=1e-7)
    numpy.testing.assert_allclose(cr.jacfwd(lambda x: program(x, np))(X), expected, rtol=1e-7)
    batch = numpy.stack([X, X * 0.5])
    batched = cr.vmap(cr.grad(lambda x: program(x, np)))(batch)
    numpy.testing.assert_allclose(batched[1], numpy_gradient(X * 0.5), rtol=1e-7)


def test_augmented_assignment_through_an_index():
    def f(x, xp):
        y = x * 1.0
        y[1:] += y[:-1]           # NumPy reads the right-hand side before writing
        y[[0, 0]] += 1.0          # repeated index: added once, as in NumPy
        return xp.sum(y ** 3)

    assert float(f(X, np)) == pytest.approx(f(X.copy(), numpy))
    step = 1e-6
    expected = [(f(X + step * e, numpy) - f(X - step * e, numpy)) / (2 * step) for e in numpy.eye(4)]
    numpy.testing.assert_allclose(cr.grad(lambda x: f(x, np))(X), expected, rtol=1e-7)


def test_advanced_indexing_gives_a_copy():
    def f(x, xp):
        y = x * 1.0
        picked = y[numpy.array([0, 1])]   # advanced indexing copies in NumPy
        picked[0] = 50.0
        return xp.sum(y) + xp.sum(picked)

    assert float(f(X, np)) == f(X.copy(), numpy)
    numpy.testing.assert_allclose(cr.grad(lambda x: f(x, np))(X), [1.0, 2.0, 1.0, 1.0])


def test_writing_a_traced_value_into_a_numpy_array_is_refused_clearly():
    def f(x):
        buffer = numpy.zeros(2)
        buffer += x
        return np.sum(buffer)

    with pytest.raises(cr.ChainruleError, match="cannot hold a traced value"):
        cr.grad(f)(numpy.ones(2))
