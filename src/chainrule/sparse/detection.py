"""Sparsity detection: the function is staged into a Graph and every element's index set (which inputs it
depends on; for Hessians also which input pairs its second derivatives couple) is propagated through the
equations with the rules of ``rules.py``.
"""
import numpy as np

from ..core.graph import Literal, inline_calls, make_graph
from .index_sets import IndexSets, stack, union
from . import rules


def jacobian_sparsity(function, *, local=False):
    """Return a function ``x -> pattern``: the structurally nonzero entries of the Jacobian of ``function``
    at ``x``, a boolean ``scipy.sparse`` CSR matrix of shape ``(f(x).size, x.size)`` (inputs and outputs
    flattened in C order).

    By default the pattern holds for every ``x`` of this shape and dtype: only the program's structure is
    read. With ``local=True`` it holds at this ``x``: values choose the branch of ``maximum``, ``where``,
    ``max`` and computed indices (a zero value multiplying something still counts).

    >>> import chainrule.numpy as np
    >>> pattern = jacobian_sparsity(lambda x: x[1:] * x[:-1])(np.ones(4))
    >>> pattern.toarray().astype(int)
    array([[1, 1, 0, 0],
           [0, 1, 1, 0],
           [0, 0, 1, 1]])
    """
    def pattern(x):
        x = _checked_point(x, "jacobian_sparsity")
        first, _ = _propagate(function, x, local=local, second_order=False)
        return first.to_matrix()

    return pattern


def hessian_sparsity(function, *, local=False):
    """Return a function ``x -> pattern``: the structurally nonzero entries of the Hessian of the scalar
    ``function`` at ``x``, a symmetric boolean ``scipy.sparse`` CSR matrix of shape ``(x.size, x.size)``.

    Second-order index sets are propagated alongside the first-order ones: a product couples its factors'
    indices, a nonlinear function couples all pairs of its argument's indices, linear and piecewise-linear
    operations couple none. ``local`` as in ``jacobian_sparsity``.

    >>> import chainrule.numpy as np
    >>> f = lambda x: np.sum((x[1:] - x[:-1] ** 2) ** 2)
    >>> hessian_sparsity(f)(np.ones(4)).toarray().astype(int)
    array([[1, 1, 0, 0],
           [1, 1, 1, 0],
           [0, 1, 1, 1],
           [0, 0, 1, 1]])
    """
    def pattern(x):
        x = _checked_point(x, "hessian_sparsity")
        first, second = _propagate(function, x, local=local, second_order=True)
        if first.rows != 1:
            raise ValueError(f"hessian_sparsity: the function must return a scalar, but its output has "
                             f"{first.rows} elements; use jacobian_sparsity for a vector output, or give each "
                             f"output its own call")
        return _symmetric_pattern(second, x.size)

    return pattern


def dense_primitives(function):
    """Return a function ``x -> {primitive name: reason}``: the operations of ``function`` that detection
    treats as dense (each output element depending on every input element), which makes a pattern
    pessimistic, never wrong.

    >>> import chainrule.numpy as np
    >>> dense_primitives(lambda a: np.linalg.solve(a.reshape(2, 2), a[:2]))(np.ones(4))
    {'solve': 'a linear solve: each solution entry depends on every entry of the matrix and right-hand side'}
    """
    def report(x):
        graph = inline_calls(make_graph(function)(_checked_point(x, "dense_primitives")))
        found = {}
        for equation in graph.equations:
            primitive = equation.primitive
            if rules.rule_kind(primitive) == "dense":
                found[primitive.name] = rules.DENSE.get(primitive, "no sparsity rule is known for this primitive")
        return found

    return report


def _checked_point(x, what):
    x = np.asarray(x)
    if x.dtype.kind not in "fc":
        raise TypeError(f"{what}: x has dtype {x.dtype} (shape {x.shape}); derivatives are taken with respect to "
                        f"floating-point inputs: pass x.astype(float)")
    return x


def _symmetric_pattern(second, size):
    keys = second.indices if second is not None else np.zeros(0, dtype=np.int64)
    low, high = np.divmod(keys, size)
    sets = IndexSets.from_entries(size, np.concatenate([low, high]), np.concatenate([high, low]), size)
    return sets.to_matrix()


def _propagate(function, x, *, local, second_order):
    """(first-order sets of the flattened output, its second-order sets or None)."""
    graph = inline_calls(make_graph(function)(x))
    size = x.size
    width_pairs = size * size
    first = {graph.invars[0]: IndexSets.identity(size, size)}
    second = {}
    values = {graph.invars[0]: x} if local else None
    for equation in graph.equations:
        _step(equation, first, second if second_order else None, values, size)
    rows, seconds = [], []
    for atom in graph.outvars:
        count = int(np.prod(atom.aval.shape, dtype=np.int64))
        rows.append(_or_empty(first.get(atom) if not isinstance(atom, Literal) else None, count, size))
        seconds.append(second.get(atom) if not isinstance(atom, Literal) else None)
    out_first = stack(rows) if rows else IndexSets.from_entries(0, [], [], size)
    out_second = union(seconds, 1, width_pairs) if second_order and out_first.rows == 1 else None
    return out_first, out_second


def _or_empty(sets, rows, width):
    if sets is not None:
        return sets
    return IndexSets(np.zeros(rows + 1, dtype=np.int64), np.zeros(0, dtype=np.int64), width)


def _value(atom, values):
    if isinstance(atom, Literal):
        return atom.value
    return None if values is None else values.get(atom)


def _step(equation, first, second, values, size):
    """Set the index sets (and, with ``values``, the values) of one equation's outputs."""
    inputs = equation.inputs
    operand_values = [_value(a, values) for a in inputs]
    if values is not None:
        _evaluate(equation, operand_values, values)
    in_first = [None if isinstance(a, Literal) else first.get(a) for a in inputs]
    if all(s is None for s in in_first):
        return  # no input depends on x: neither does any output (no entry means "empty")
    primitive = equation.primitive
    kind = rules.rule_kind(primitive)
    if kind == "zero derivative":
        return
    in_second = None if second is None else [None if isinstance(a, Literal) else second.get(a) for a in inputs]
    if kind == "elementwise":
        outputs = [_elementwise(equation, in_first, in_second, operand_values, values is not None, size)]
    elif kind == "rule":
        outputs = _by_rule(equation, in_first, in_second, operand_values, size)
    elif kind == "bilinear":
        outputs = [_bilinear(equation, in_first, in_second, operand_values, size)]
    else:
        outputs = [_dense(in_first, in_second, _rows(var), size) for var in equation.outputs]
    for var, (out_first, out_second) in zip(equation.outputs, outputs):
        if var.aval.dtype.kind not in "fc":
            continue  # integer and boolean results carry no derivative
        if out_first is not None:
            first[var] = out_first
        if second is not None and out_second is not None:
            second[var] = out_second


def _evaluate(equation, operand_values, values):
    out = equation.primitive.impl(*operand_values, **equation.params)
    if equation.primitive.multiple_results:
        for var, value in zip(equation.outputs, out):
            values[var] = np.asarray(value)
    else:
        values[equation.outputs[0]] = np.asarray(out)


def _rows(var):
    return int(np.prod(var.aval.shape, dtype=np.int64))


def _elementwise(equation, in_first, in_second, operand_values, local, size):
    out_shape = tuple(equation.outputs[0].aval.shape)
    rows = _rows(equation.outputs[0])
    masks = [None] * len(in_first)
    choice = rules.LOCAL_CHOICE.get(equation.primitive)
    if local and choice is not None:
        masks = [None if m is None else np.broadcast_to(m, out_shape) for m in choice(*operand_values)]
    firsts, seconds = [], []
    for atom, sets, pairs, mask in zip(equation.inputs, in_first, in_second or [None] * len(in_first), masks):
        if sets is None:
            firsts.append(None)
            seconds.append(None)
            continue
        source = _broadcast_source(tuple(atom.aval.shape), out_shape, mask)
        firsts.append(sets if source is None else sets.select(source))
        seconds.append(None if pairs is None else (pairs if source is None else pairs.select(source)))
    out_first = union(firsts, rows, size)
    if in_second is None or out_first is None:
        return out_first, None
    curvature = rules.CURVATURE.get(equation.primitive, rules.NONLINEAR)
    if curvature == rules.BILINEAR and len(firsts) == 2:
        seconds.append(_cross(firsts[0], firsts[1], size))
    elif curvature == rules.LINEAR_IN_FIRST and len(firsts) == 2:
        if firsts[1] is not None:
            seconds.append(firsts[1].pairs(size))
        seconds.append(_cross(firsts[0], firsts[1], size))
    elif curvature == rules.NONLINEAR:
        seconds.append(out_first.pairs(size))
    return out_first, union(seconds, rows, size * size)


def _cross(left, right, size):
    if left is None or right is None:
        return None
    return left.cross(right, size)


def _broadcast_source(in_shape, out_shape, mask):
    """Which input element each output element reads (None: the same element), -1 where ``mask`` is False."""
    if in_shape == out_shape and mask is None:
        return None
    count = int(np.prod(in_shape, dtype=np.int64))
    source = np.broadcast_to(np.arange(count, dtype=np.int64).reshape(in_shape), out_shape).ravel()
    if mask is not None:
        source = np.where(np.asarray(mask).ravel(), source, -1)
    return source


def _stacked(sets_by_position, equation, positions, width):
    pieces = [_or_empty(sets_by_position[p], _rows(equation.inputs[p]), width) for p in positions]
    return stack(pieces)


def _apply(dependence, sets):
    if dependence.source is not None:
        return sets.select(dependence.source)
    return sets.gather_union(dependence.rows, dependence.out_row, dependence.in_row)


def _by_rule(equation, in_first, in_second, operand_values, size):
    rule = rules.RULES[equation.primitive]
    positions = rule.operands if rule.operands is not None else tuple(range(len(equation.inputs)))
    if all(in_first[p] is None for p in positions):
        return [(None, None)] * len(equation.outputs)
    dependences = rule.dependence(equation, operand_values)
    stacked_first = _stacked(in_first, equation, positions, size)
    stacked_second = None
    if in_second is not None and any(in_second[p] is not None for p in positions):
        stacked_second = _stacked(in_second, equation, positions, size * size)
    outputs = []
    for dependence in dependences:
        if dependence.dense:
            chosen = [in_first[p] for p in positions]
            outputs.append(_dense(chosen, None if in_second is None else [in_second[p] for p in positions],
                                  dependence.rows, size))
            continue
        out_first = _apply(dependence, stacked_first)
        out_second = None
        if in_second is not None:
            out_second = None if stacked_second is None else _apply(dependence, stacked_second)
            if dependence.curvature == rules.NONLINEAR:
                out_second = union([out_second, out_first.pairs(size)], dependence.rows, size * size)
        outputs.append((out_first, out_second))
    return outputs


def _bilinear(equation, in_first, in_second, operand_values, size):
    dependences = rules.BILINEAR_RULES[equation.primitive](equation, operand_values)
    rows = _rows(equation.outputs[0])
    mapped = [None if sets is None else _apply(d, sets) for d, sets in zip(dependences, in_first)]
    out_first = union(mapped, rows, size)
    if in_second is None:
        return out_first, None
    # Mixed pairs: a product term couples an entry of one operand with an entry of the other.
    pieces = [None if sets is None else _apply(d, sets) for d, sets in zip(dependences, in_second)]
    if mapped[0] is not None and mapped[1] is not None:
        terms = rules.contract_terms(equation)
        if terms is None:  # too many terms: crossing whole unions may add pairs of different terms, never miss one
            pieces.append(_cross(mapped[0], mapped[1], size))
        else:
            out_row, left_row, right_row = terms
            per_term = in_first[0].select(left_row).cross(in_first[1].select(right_row), size)
            pieces.append(per_term.gather_union(rows, out_row, np.arange(out_row.size)))
    return out_first, union(pieces, rows, size * size)


def _dense(in_first, in_second, rows, size):
    """Every output element depends on every element of every input."""
    present = [s for s in in_first if s is not None]
    if not present:
        return None, None
    members = np.unique(np.concatenate([s.indices for s in present]))
    template = present[0]
    out_first = template.broadcast_row(members, rows)
    if in_second is None:
        return out_first, None
    one = IndexSets(np.array([0, members.size], dtype=np.int64), members, size)
    pair_keys = [one.pairs(size).indices] + [s.indices for s in in_second if s is not None]
    pair_members = np.unique(np.concatenate(pair_keys))
    return out_first, IndexSets(np.zeros(1, dtype=np.int64), pair_members, size * size).broadcast_row(pair_members, rows)
