"""Every primitive's row of the spec table (tests/primitive_spec.py) verified by ``check_rules`` (shape rule vs
implementation, JVP vs finite differences, JVP/VJP identity, second order, staging into a well-formed graph)."""
import numpy as np
import pytest

from chainrule.ops import all_primitives
from chainrule.testing import check_rules
from primitive_spec import ROWS, SPEC, build_spec, row, seed


def test_every_primitive_has_a_row():
    missing = sorted(set(all_primitives()) - set(SPEC))
    assert not missing, f"primitives without a spec-table row: {missing}"


def _assert_same_rows(a, b):
    assert list(a) == list(b)
    for name in a:
        (args_a, params_a), (args_b, params_b) = a[name], b[name]
        assert len(args_a) == len(args_b), name
        for x, y in zip(args_a, args_b):
            x, y = np.asarray(x), np.asarray(y)
            assert x.dtype == y.dtype, name
            np.testing.assert_array_equal(x, y, err_msg=name)
        assert params_a == params_b, name  # parameters are static: tuples, numbers, strings, dtypes


def test_spec_table_is_reproducible_and_rows_are_independent():
    """Each row draws from a generator seeded by its own name: building the table twice gives identical
    points, and a row built alone, or among other neighbours, has the points it has in the full table."""
    _assert_same_rows(build_spec(), build_spec())
    _assert_same_rows(SPEC, build_spec())
    for name in ROWS:
        _assert_same_rows({name: SPEC[name]}, {name: row(name)})
    names = list(ROWS)
    _assert_same_rows(build_spec(names[::-1]), {name: SPEC[name] for name in names[::-1]})
    _assert_same_rows(build_spec(names[1::2]), {name: SPEC[name] for name in names[1::2]})
    assert len({seed(name) for name in ROWS}) == len(ROWS), "two rows share a seed"


@pytest.mark.parametrize("name", sorted(SPEC))
def test_rules(name):
    primitive = all_primitives()[name]
    args, params = SPEC[name]
    check_rules(primitive, args, params, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("name", ["sin", "exp", "mul", "reduce_sum", "contract"])
def test_check_rules_catches_a_wrong_rule(name):
    """A deliberately broken JVP must be reported: the checker itself can fail."""
    from chainrule.testing import DerivativeMismatch
    primitive = all_primitives()[name]
    original = primitive.jvp

    def broken_jvp(primals, tangents, **params):
        out, out_tangent = original(primals, tangents, **params)
        return out, None if out_tangent is None else out_tangent * 1.01

    primitive.jvp = broken_jvp
    try:
        with pytest.raises(DerivativeMismatch):
            check_rules(primitive, *SPEC[name])
    finally:
        primitive.jvp = original
