"""Comparisons, logical operations and ``select`` (where): boolean results, zero derivatives."""
import numpy as np

from ..core.avals import ShapedArray
from ..core.zeros import instantiate
from .families import ElementwisePrimitive, elementwise_shape_rule, zero_derivative


def _bool_shape_rule(*avals, **params):
    return ShapedArray(elementwise_shape_rule(*avals).shape, np.bool_)


def _predicate(name, impl):
    return zero_derivative(name, impl, shape_rule=_bool_shape_rule, elementwise=True,
                           convention="boolean result: derivative 0")


lt = _predicate("lt", np.less)
le = _predicate("le", np.less_equal)
gt = _predicate("gt", np.greater)
ge = _predicate("ge", np.greater_equal)
eq = _predicate("eq", np.equal)
ne = _predicate("ne", np.not_equal)
logical_and = _predicate("logical_and", np.logical_and)
logical_or = _predicate("logical_or", np.logical_or)
logical_xor = _predicate("logical_xor", np.logical_xor)
logical_not = _predicate("logical_not", np.logical_not)
isnan = _predicate("isnan", np.isnan)
isinf = _predicate("isinf", np.isinf)
isfinite = _predicate("isfinite", np.isfinite)


def _select_impl(condition, on_true, on_false):
    return np.where(condition, on_true, on_false)


def _select_shape_rule(condition, on_true, on_false):
    aval = elementwise_shape_rule(condition, on_true, on_false)
    value_dtype = elementwise_shape_rule(on_true, on_false).dtype
    return ShapedArray(aval.shape, value_dtype)


def _select_jvp(primals, tangents):
    condition, on_true, on_false = primals
    _, true_dot, false_dot = tangents
    out = select(*primals)
    if true_dot is None and false_dot is None:
        return out, None
    # The symbolic zero must be made concrete with the output's shape, not the branch's.
    return out, select(condition, instantiate(true_dot, out) if true_dot is None else true_dot,
                       instantiate(false_dot, out) if false_dot is None else false_dot)


def _select_vjp_true(out, condition, on_true, on_false):
    def select_pullback_true(out_bar):
        return select(condition, out_bar, 0.0)
    return select_pullback_true


def _select_vjp_false(out, condition, on_true, on_false):
    def select_pullback_false(out_bar):
        return select(condition, 0.0, out_bar)
    return select_pullback_false


select = ElementwisePrimitive("select", _select_impl, shape_rule=_select_shape_rule, jvp=_select_jvp,
                              input_vjps=(None, _select_vjp_true, _select_vjp_false),
                              convention="no derivative through the condition")
