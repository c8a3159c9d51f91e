"""Sparsity detection through loops and branches: patterns of scans and conds equal the nonzero structure of
the dense Jacobian (OR'ed over random points), never miss a nonzero, and widen step by step."""
import numpy
import pytest

import chainrule as cr
import chainrule.numpy as np
from chainrule import control, sparse
from chainrule.sparse import detection, rules


def _points(size, dtype=numpy.float64, count=3):
    rng = numpy.random.default_rng(11)
    points = []
    for _ in range(count):
        x = rng.normal(size=size) + 0.5
        if numpy.dtype(dtype).kind == "c":
            x = x + 1j * rng.normal(size=size)
        points.append(x.astype(dtype))
    return points


def _true_jacobian_pattern(function, points):
    pattern = None
    for x in points:
        holomorphic = x.dtype.kind == "c"  # the loops below are holomorphic: f'(z) is their Jacobian
        nonzero = numpy.asarray(cr.jacfwd(function, holomorphic=holomorphic)(x)).reshape(-1, x.size) != 0
        pattern = nonzero if pattern is None else pattern | nonzero
    return pattern


def _true_hessian_pattern(function, points):
    pattern = None
    for x in points:
        nonzero = numpy.asarray(cr.hessian(function)(x)).reshape(x.size, x.size) != 0
        pattern = nonzero if pattern is None else pattern | nonzero
    return pattern


def _banded_recurrence(steps):
    def step(c, _):
        c = c + 0.1 * np.roll(c, 1) * c
        return c, c[0]

    def f(x):
        carry, ys = control.scan(step, x, None, length=steps)
        return np.concatenate([carry, ys])
    return f


def _with_xs(x):
    def step(c, row):
        c = np.sin(c) * row[0] + row[1] * c[::-1]
        return c, c * c
    carry, ys = control.scan(step, x[:3], x[3:].reshape(3, 2), reverse=False)
    return np.concatenate([carry, ys.ravel()])


def _with_xs_reversed(x):
    def step(c, row):
        return c * row + np.roll(c, 1), c[0] * row[1]
    carry, ys = control.scan(step, x[:3], x[3:].reshape(2, 3), reverse=True)
    return np.concatenate([carry, ys.ravel()])


def _branching(x):
    return control.cond(x[0] > 0.0, lambda v: v[1:] * v[:-1], lambda v: np.sin(v[:-1]) + v[-1], x)


@pytest.mark.parametrize("steps", [1, 2, 4])
@pytest.mark.parametrize("dtype", [numpy.float64, numpy.float32, numpy.complex128])
def test_scan_recurrence_pattern_equals_jacobian_and_widens(steps, dtype):
    f = _banded_recurrence(steps)
    points = _points(6, dtype)
    detected = sparse.jacobian_sparsity(f)(points[0]).toarray()
    assert numpy.array_equal(detected, _true_jacobian_pattern(f, points))
    # carry element i depends on elements i - steps .. i (cyclically)
    assert detected[:6].sum(axis=1).tolist() == [min(steps + 1, 6)] * 6


def test_scan_pattern_is_not_dense_any_more():
    f = _banded_recurrence(2)
    assert "scan" not in sparse.dense_primitives(f)(numpy.ones(6))
    assert not sparse.jacobian_sparsity(f)(numpy.ones(6)).toarray().all()


@pytest.mark.parametrize("function,size", [(_with_xs, 9), (_with_xs_reversed, 9)])
@pytest.mark.parametrize("dtype", [numpy.float64, numpy.float32, numpy.complex128])
def test_scan_with_xs_pattern_equals_jacobian(function, size, dtype):
    points = _points(size, dtype)
    detected = sparse.jacobian_sparsity(function)(points[0]).toarray()
    assert numpy.array_equal(detected, _true_jacobian_pattern(function, points))


@pytest.mark.parametrize("local", [False, True])
def test_scan_pattern_local_equals_jacobian(local):
    f = _banded_recurrence(3)
    points = _points(6)
    detected = sparse.jacobian_sparsity(f, local=local)(points[0]).toarray()
    assert numpy.array_equal(detected, _true_jacobian_pattern(f, points))


def test_long_scan_fixed_point_never_misses_a_nonzero(monkeypatch):
    monkeypatch.setattr(detection, "_UNROLLED_STEPS", 1)
    for f, size in [(_banded_recurrence(3), 6), (_with_xs, 9), (_with_xs_reversed, 9)]:
        points = _points(size)
        detected = sparse.jacobian_sparsity(f)(points[0]).toarray()
        true = _true_jacobian_pattern(f, points)
        assert not (true & ~detected).any()


@pytest.mark.parametrize("length", [200, 1000])
def test_scan_with_a_steady_carry_is_exact_when_short_or_long(length):
    def f(x):
        carry, ys = control.scan(lambda c, _: (c * 2.0, c[:2]), x, None, length=length)
        return np.concatenate([carry, ys.ravel()])
    x = numpy.ones(3)
    detected = sparse.jacobian_sparsity(f)(x).toarray()
    assert numpy.array_equal(detected, numpy.asarray(cr.jacfwd(f)(x)) != 0)


def test_scan_reading_constants_and_nested_loops():
    def f(x):
        def outer(c, _):
            inner, _ = control.scan(lambda d, _: (d + x[:3] * np.roll(d, -1), None), c, None, length=2)
            return inner, None
        carry, _ = control.scan(outer, x[3:], None, length=2)
        return carry
    points = _points(6)
    detected = sparse.jacobian_sparsity(f)(points[0]).toarray()
    assert numpy.array_equal(detected, _true_jacobian_pattern(f, points))


def test_fori_loop_with_concrete_bounds():
    f = lambda x: control.fori_loop(0, 3, lambda i, c: c + 0.5 * np.sin(np.roll(c, 1)), x)
    points = _points(7)
    detected = sparse.jacobian_sparsity(f)(points[0]).toarray()
    assert numpy.array_equal(detected, _true_jacobian_pattern(f, points))


def test_cond_pattern_is_union_of_branches_globally_and_taken_branch_locally():
    positive, negative = numpy.array([1.0, 2.0, -0.5, 3.0]), numpy.array([-1.0, 2.0, -0.5, 3.0])
    union = _true_jacobian_pattern(_branching, [positive]) | _true_jacobian_pattern(_branching, [negative])
    assert numpy.array_equal(sparse.jacobian_sparsity(_branching)(positive).toarray(), union)
    for x in (positive, negative):
        local = sparse.jacobian_sparsity(_branching, local=True)(x).toarray()
        assert numpy.array_equal(local, _true_jacobian_pattern(_branching, [x]))
    assert "cond" not in sparse.dense_primitives(_branching)(positive)


@pytest.mark.parametrize("dtype", [numpy.float64, numpy.float32])
def test_hessian_sparsity_through_scan_and_cond(dtype):
    recurrence = _banded_recurrence(2)
    functions = [lambda x: np.sum(recurrence(x)), lambda x: np.sum(_with_xs(x)),
                 lambda x: np.sum(_branching(x) ** 2)]
    for f, size in zip(functions, [6, 9, 4]):
        points = _points(size, dtype)
        detected = sparse.hessian_sparsity(f)(points[0]).toarray()
        true = _true_hessian_pattern(f, points)
        assert not (true & ~detected).any()
    for f, size in zip(functions[:2], [6, 9]):
        points = _points(size, dtype)
        assert numpy.array_equal(sparse.hessian_sparsity(f)(points[0]).toarray(), _true_hessian_pattern(f, points))


def _halving_until_small(x):
    # elementwise body, value-dependent trip count: the pattern is the diagonal whatever the count
    def body(carry):
        return carry * 0.5 + 0.01 * np.sin(carry)
    return control.while_loop(lambda c: np.max(np.abs(c)) > 0.05, body, x)


def _counted_smoothing(steps):
    # each step couples neighbours (a circulant band that widens by one per step); the count lives in the carry
    def body(state):
        count, c = state
        return count + 1, c + 0.1 * np.roll(c, 1) * c
    return lambda x: control.while_loop(lambda state: state[0] < steps, body, (0, x))[1]


def test_while_loop_pattern_is_every_trip_count_at_once_and_never_misses():
    assert rules.rule_kind(rules.control.while_loop) == "while"
    points = _points(6)
    detected = sparse.jacobian_sparsity(_halving_until_small)(points[0]).toarray()
    assert numpy.array_equal(detected, numpy.eye(6, dtype=bool))
    assert numpy.array_equal(detected, _true_jacobian_pattern(_halving_until_small, points))
    smoothing = _counted_smoothing(2)
    true = _true_jacobian_pattern(smoothing, points)
    assert numpy.array_equal(true, _true_jacobian_pattern(_banded_recurrence(2), points)[:6])
    global_pattern = sparse.jacobian_sparsity(smoothing)(points[0]).toarray()
    assert not (true & ~global_pattern).any()  # the trip count is unknown: a superset (here every count: dense)
    assert global_pattern.all()
    local = sparse.jacobian_sparsity(smoothing, local=True)(points[0]).toarray()
    assert numpy.array_equal(local, true)  # at this x the loop runs twice: exact


def test_while_loop_hessian_pattern_and_compressed_jacobian():
    points = _points(6)
    f = lambda x: np.sum(_halving_until_small(x) ** 3)
    assert numpy.array_equal(sparse.hessian_sparsity(f)(points[0]).toarray(), numpy.eye(6, dtype=bool))
    local = sparse.hessian_sparsity(lambda x: np.sum(_counted_smoothing(2)(x) ** 2), local=True)(points[0])
    assert numpy.array_equal(local.toarray(), _true_hessian_pattern(
        lambda x: np.sum(_counted_smoothing(2)(x) ** 2), points))
    jacobian = sparse.jacobian(_halving_until_small)(points[0])
    assert jacobian.nnz == 6
    numpy.testing.assert_allclose(jacobian.toarray(), cr.jacfwd(_halving_until_small)(points[0]), rtol=1e-13)


def test_dense_operations_inside_loops_and_branches_are_reported_with_their_container():
    def body(c, _):
        return np.linalg.solve(np.eye(3) + np.outer(c, c), c), None
    in_scan = lambda x: control.scan(body, x, None, length=2)[0]
    in_cond = lambda x: control.cond(x[0] > 0, lambda v: np.linalg.solve(np.eye(3) + np.outer(v, v), v),
                                     lambda v: v * 2.0, x)
    assert set(sparse.dense_primitives(in_scan)(numpy.ones(3))) == {"solve (in scan)"}
    assert set(sparse.dense_primitives(in_cond)(numpy.ones(3))) == {"solve (in cond)"}
    assert sparse.dense_primitives(_halving_until_small)(numpy.ones(3)) == {}
