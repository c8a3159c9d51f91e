"""core.graph: simplification reads the primitives' traits (not their names), and staging calls each shape rule
once, on one kind of argument per primitive, letting its errors through."""
import numpy as np
import pytest

import chainrule as cr
from chainrule.core.avals import ShapedArray
from chainrule.core.graph import eliminate_dead_code, fold_identities, make_graph
from chainrule.core.primitive import Primitive
from chainrule.ops.families import ElementwisePrimitive, elementwise_shape_rule


def _same_shape(*avals, **params):
    return ShapedArray(avals[0].shape, avals[0].dtype)


def test_identity_traits_fold_any_primitive():
    # op(x, e) == x for e = 2 (a made-up operation: only its trait matters to the graph)
    scaled = ElementwisePrimitive("scaled", lambda x, y: x * y / 2, shape_rule=elementwise_shape_rule,
                                  right_identity=2)
    raw = make_graph(lambda x: scaled(x, 2.0) + scaled(2.0, x), simplify=False)(1.0)
    folded = fold_identities(raw)
    assert [e.primitive.name for e in raw.equations] == ["scaled", "scaled", "add"]
    assert [e.primitive.name for e in folded.equations] == ["scaled", "add"]  # only the right identity folds
    assert folded.equations[1].inputs[0] is folded.invars[0]


def test_involution_trait_folds_any_primitive():
    flip = Primitive("flip", lambda x: 1.0 - x, shape_rule=_same_shape, involution=True)
    shift = Primitive("shift", lambda x: x + 1.0, shape_rule=_same_shape)
    raw = make_graph(lambda x: flip(flip(x)) * shift(shift(x)), simplify=False)(1.0)
    folded = eliminate_dead_code(fold_identities(raw))
    assert [e.primitive.name for e in folded.equations] == ["shift", "shift", "mul"]
    assert folded.equations[-1].inputs[0] is folded.invars[0]


def test_a_shape_rule_error_is_not_hidden():
    def broken(x):
        return x.no_such_attribute

    primitive = Primitive("broken", lambda x: x, shape_rule=broken)
    with pytest.raises(AttributeError, match="no_such_attribute"):
        make_graph(lambda x: primitive(x))(1.0)


def test_python_scalars_reach_elementwise_shape_rules_as_values_and_others_as_avals():
    seen = []

    def recording(*arguments):
        seen.append(arguments)
        return ShapedArray((), np.float64)

    plain = Primitive("plain", lambda x, y: x + y, shape_rule=recording)
    make_graph(lambda x: plain(x, 2.0))(1.0)
    assert isinstance(seen[-1][1], ShapedArray) and seen[-1][1].dtype == np.float64
    elementwise = ElementwisePrimitive("pointwise", lambda x, y: x + y, shape_rule=recording)
    make_graph(lambda x: elementwise(x, 2.0))(1.0)
    assert seen[-1][1] == 2.0 and type(seen[-1][1]) is float
    # NumPy's weak scalars: float32 * 2.0 stays float32 when staged, as when evaluated.
    graph = make_graph(lambda x: x * 2.0)(np.float32(1.0))
    assert graph.outvars[0].aval.dtype == np.float32
    assert cr.jit(lambda x: x * 2.0)(np.float32(1.0)).dtype == np.float32


def test_commutative_trait_shares_swapped_operands_and_only_those():
    from chainrule.core.graph import share_common_subexpressions
    swapped = ElementwisePrimitive("swapped", np.multiply, shape_rule=elementwise_shape_rule, commutative=True)
    ordered = ElementwisePrimitive("ordered", np.subtract, shape_rule=elementwise_shape_rule)
    raw = make_graph(lambda x, y: swapped(x, y) + swapped(y, x) + ordered(x, y) + ordered(y, x),
                     simplify=False)(1.0, 2.0)
    shared = share_common_subexpressions(raw)
    names = [e.primitive.name for e in shared.equations]
    assert names.count("swapped") == 1 and names.count("ordered") == 2
    assert float(shared(1.5, 4.0)) == float(raw(1.5, 4.0)) == 2 * 6.0 + (1.5 - 4.0) + (4.0 - 1.5)
