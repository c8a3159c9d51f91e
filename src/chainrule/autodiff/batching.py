"""Batching (``vmap``): an interpreter whose tracers carry a value with the batch along axis 0, and one
batching rule per primitive, so a function of one example runs on a whole batch in one pass.

A primitive's rule is its ``batch`` attribute (set next to the primitive) or an entry of the table
below keyed by its name; elementwise primitives need neither. A primitive without a rule raises an
error naming it — never a silent Python loop. A rule is ``rule(primitive, values, batched, params,
size) -> out`` where batched values carry the batch along axis 0 and ``out`` must too.
"""
import numpy as np

from ..core.interpreter import ChainruleError, Interpreter, Tracer, interpreter_scope
from ..core.avals import aval_of
from ..ops import contraction, indexing, structure
from . import unit_batch
from .unit_batch import IMPLICIT


class BatchTracer(Tracer):
    __slots__ = ("value",)

    def __init__(self, trace, value):
        self._trace = trace
        self.value = value

    @property
    def aval(self):
        aval = aval_of(self.value)
        return type(aval)(aval.shape[1:], aval.dtype)

    @property
    def shape(self):
        return _shape(self.value)[1:]

    @property
    def dtype(self):
        try:
            return self.value.dtype
        except AttributeError:
            return self.aval.dtype

    def concrete_value(self):
        raise ChainruleError(
            "Python control flow on a batched value inside vmap: each example could take a different branch. "
            "Use chainrule.numpy.where(condition, a, b) to select per example.")

    def __repr__(self):
        return f"BatchTracer({self.value!r})"


def _shape(value):
    try:
        return value.shape
    except AttributeError:
        return np.shape(value)


class BatchInterpreter(Interpreter):
    __slots__ = ("size",)

    def __init__(self, size):
        super().__init__()
        self.size = size

    def process(self, primitive, args, params):
        values, batched = [], []
        implicit = False
        for arg in args:
            if type(arg) is BatchTracer and arg._trace is self:
                values.append(arg.value)
                batched.append(True)
                implicit = implicit or type(arg.value) in IMPLICIT
            else:
                values.append(arg)
                batched.append(False)
        if implicit:  # a Jacobian seed: kept implicit where the operation allows, otherwise made dense
            out = unit_batch.apply(primitive, values, batched, params)
            if out is not NotImplemented:
                return BatchTracer(self, out)
            values = [unit_batch.densify(v) for v in values]
        rule = primitive.batch or BATCH_RULES.get(primitive.name) or _rule_by_kind(primitive)
        if rule is None:
            raise NotImplementedError(f"vmap: primitive '{primitive.name}' has no batching rule yet")
        out = rule(primitive, values, batched, params, self.size)
        if primitive.multiple_results:
            return [BatchTracer(self, o) for o in out]
        return BatchTracer(self, out)


def _rule_by_kind(primitive):
    return _elementwise_rule if primitive.elementwise else None


def _rank(value):
    return len(_shape(value))


def materialize(value, batched, size):
    """The value with a leading batch axis, broadcast if it had none."""
    if batched:
        return value
    return structure.broadcast_to(value, (size,) + tuple(_shape(value)))


# --------------------------------------------------------------------------------------- rules

def _elementwise_rule(primitive, values, batched, params, size):
    # Align every batched value to the full rank, batch first; unbatched values broadcast from the right.
    rank = max(_rank(v) - 1 if b else _rank(v) for v, b in zip(values, batched))
    aligned = []
    for value, is_batched in zip(values, batched):
        if is_batched and _rank(value) - 1 < rank:
            shape = _shape(value)
            value = structure.reshape(value, new_shape=(shape[0],) + (1,) * (rank - len(shape) + 1) + tuple(shape[1:]))
        aligned.append(value)
    # Called (not bound) so that traced values of enclosing transforms are broadcast explicitly too.
    return primitive(*aligned, **params)


def _shifted_axes_rule(name):
    def rule(primitive, values, batched, params, size):
        shifted = dict(params)
        shifted[name] = tuple(a + 1 for a in params[name]) if isinstance(params[name], tuple) else params[name] + 1
        return primitive.bind(values[0], **shifted)
    return rule


def _reshape_rule(primitive, values, batched, params, size):
    return primitive.bind(values[0], new_shape=(size,) + tuple(params["new_shape"]))


def _transpose_rule(primitive, values, batched, params, size):
    return primitive.bind(values[0], permutation=(0,) + tuple(p + 1 for p in params["permutation"]))


def _broadcast_rule(primitive, values, batched, params, size):
    value = values[0]
    target = tuple(params["shape"])
    shape = _shape(value)
    missing = len(target) - (len(shape) - 1)
    if missing:
        value = structure.reshape(value, new_shape=(size,) + (1,) * missing + tuple(shape[1:]))
    return structure.broadcast_to(value, (size,) + target)


def _pad_rule(primitive, values, batched, params, size):
    return primitive.bind(values[0], widths=((0, 0),) + tuple(params["widths"]))


def _same_params_rule(primitive, values, batched, params, size):
    return primitive.bind(values[0], **params)


def _concatenate_rule(primitive, values, batched, params, size):
    return primitive.bind(*[materialize(v, b, size) for v, b in zip(values, batched)], axis=params["axis"] + 1)


def _contract_rule(primitive, values, batched, params, size):
    left, right, output = contraction.parse_spec(params["spec"])
    letter = next(c for c in "ZYXWVUTSRQPONMLKJIHGFEDCBA" if c not in params["spec"])
    left = letter + left if batched[0] else left
    right = letter + right if batched[1] else right
    return primitive.bind(values[0], values[1], spec=f"{left},{right}->{letter}{output}")


def _stacked_rule(primitive, values, batched, params, size):
    """For primitives that already act on stacks along leading axes (the linear-algebra ones)."""
    return primitive.bind(*[materialize(v, b, size) if _is_array_argument(v) else v
                            for v, b in zip(values, batched)], **params)


def _is_array_argument(value):
    return not isinstance(value, (int, float, bool, complex))


def _advanced_layout(template, arrays):
    """(advanced indices separated by basic ones?, rank of the broadcast advanced result)."""
    if not arrays:
        return False, 0
    kinds = [entry[0] for entry in template]
    advanced = [i for i, kind in enumerate(kinds) if kind in ("array", "int")]
    separated = advanced[-1] - advanced[0] + 1 != len(advanced)
    rank = len(np.broadcast_shapes(*(_shape(a) for a in arrays)))
    return separated, rank


_FULL_SLICE = ("slice", None, None, None)


def _check_unbatched_indices(primitive, batched):
    if any(batched[1 if primitive.name != "scatter" else 2:]):
        raise NotImplementedError(f"vmap: primitive '{primitive.name}' with per-example index arrays is not "
                                  f"supported yet; index with arrays that are the same for every example")


def _gather_rule(primitive, values, batched, params, size):
    _check_unbatched_indices(primitive, batched)
    template = params["template"]
    arrays = values[1:]
    out = primitive.bind(values[0], *arrays, template=indexing.IndexTemplate((_FULL_SLICE,) + tuple(template)))
    separated, rank = _advanced_layout(template, arrays)
    if separated:
        ndim = _rank(out)
        out = structure.transpose(out, permutation=(rank,) + tuple(i for i in range(ndim) if i != rank))
    return out


def _move_batch_for_scatter(updates, template, arrays):
    separated, rank = _advanced_layout(template, arrays)
    if not separated:
        return updates
    ndim = _rank(updates)
    order = list(range(1, rank + 1)) + [0] + list(range(rank + 1, ndim))
    return structure.transpose(updates, permutation=tuple(order))


def _scatter_add_rule(primitive, values, batched, params, size):
    _check_unbatched_indices(primitive, batched)
    template = params["template"]
    updates = _move_batch_for_scatter(values[0], template, values[1:])
    return primitive.bind(updates, *values[1:], template=indexing.IndexTemplate((_FULL_SLICE,) + tuple(template)),
                          shape=(size,) + tuple(params["shape"]))


def _scatter_rule(primitive, values, batched, params, size):
    _check_unbatched_indices(primitive, batched)
    template = params["template"]
    operand = materialize(values[0], batched[0], size)
    updates = values[1]
    if batched[1]:
        # Per example the updates broadcast into the indexed region from the right: align ranks first.
        example_shape = _shape(operand)[1:]
        dummies = [np.zeros(_shape(a), dtype=np.int64) for a in values[2:]]
        region_rank = np.empty(example_shape, dtype=bool)[template.build(dummies)].ndim
        update_shape = _shape(updates)
        if len(update_shape) - 1 < region_rank:
            updates = structure.reshape(updates, new_shape=(update_shape[0],) + (1,) * (region_rank - len(update_shape) + 1)
                                        + tuple(update_shape[1:]))
        updates = _move_batch_for_scatter(updates, template, values[2:])
    return primitive.bind(operand, updates, *values[2:],
                          template=indexing.IndexTemplate((_FULL_SLICE,) + tuple(template)))


BATCH_RULES = {
    "reduce_sum": _shifted_axes_rule("axes"), "reduce_max": _shifted_axes_rule("axes"),
    "reduce_min": _shifted_axes_rule("axes"), "reduce_prod": _shifted_axes_rule("axes"),
    "argmax": _shifted_axes_rule("axis"), "argmin": _shifted_axes_rule("axis"),
    "argsort": _shifted_axes_rule("axis"), "argpartition": _shifted_axes_rule("axis"),
    "cumsum": _shifted_axes_rule("axis"), "rev": _shifted_axes_rule("axes"),
    "reshape": _reshape_rule, "transpose": _transpose_rule, "broadcast_to": _broadcast_rule,
    "pad": _pad_rule, "convert_element_type": _same_params_rule, "stop_gradient": _same_params_rule,
    "concatenate": _concatenate_rule, "contract": _contract_rule,
    "gather": _gather_rule, "scatter_add": _scatter_add_rule, "scatter": _scatter_rule,
    "solve": _stacked_rule, "inv": _stacked_rule, "det": _stacked_rule, "slogdet": _stacked_rule,
    "cholesky": _stacked_rule, "triangular_solve": _stacked_rule, "eigh": _stacked_rule,
}  # custom.py adds the rules of its call primitives

def batch_flat(function, leaves, axes, size):
    """Run ``function`` (flat list -> flat list) with ``leaves`` batched along ``axes`` (None: shared).

    Returns the flat outputs with the batch along axis 0 (outputs that do not depend on the batch are
    broadcast).
    """
    if any(axes):  # some batch axis to move first
        from ..numpy.shaping import moveaxis
        leaves = [moveaxis(leaf, axis, 0) if axis else leaf for leaf, axis in zip(leaves, axes)]
    interpreter = BatchInterpreter(size)
    with interpreter_scope(interpreter):
        inputs = [leaf if axis is None else BatchTracer(interpreter, leaf) for leaf, axis in zip(leaves, axes)]
        outs = function(inputs)
        results = []
        for out in outs:
            if type(out) is BatchTracer and out._trace is interpreter:
                results.append(unit_batch.densify(out.value))
            else:
                results.append(structure.broadcast_to(out, (size,) + tuple(_shape(out))))
    return results
