"""Sparsity detection: the function is staged into a Graph and every element's index set (which inputs it
depends on; for Hessians also which input pairs its second derivatives couple) is propagated through the
equations with the rules of ``rules.py``.
"""
import numpy as np

from ..core.graph import Graph, Literal, inline_calls, make_graph
from ..core.interpreter import Tracer
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
        x = checked_point(x, "jacobian_sparsity")
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
        x = checked_point(x, "hessian_sparsity")
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
        found = {}
        _collect_dense(inline_calls(make_graph(function)(checked_point(x, "dense_primitives"))), found, "")
        return found

    return report


def _collect_dense(graph, found, inside):
    """Add the dense operations of ``graph`` and of the bodies of its loops and branches (named
    ``"solve (in scan)"``) to ``found``."""
    for equation in graph.equations:
        primitive = equation.primitive
        kind = rules.rule_kind(primitive)
        if kind == "dense":
            found[primitive.name + inside] = rules.DENSE.get(primitive, "no sparsity rule is known for this primitive")
        elif kind in ("scan", "cond", "while"):
            for name, value in equation.params.items():
                if name == "cond_body":
                    continue  # a while loop's predicate: no derivative flows through it
                for body in value if isinstance(value, (list, tuple)) else (value,):
                    if isinstance(body, Graph):
                        _collect_dense(inline_calls(body), found, f" (in {primitive.name})")


def checked_point(x, what):
    """x as an array of floating-point numbers, or a clear error (a traced or integer x)."""
    if isinstance(x, Tracer):
        raise TypeError(f"{what}: x is a traced value (inside grad, vmap or jit); the result is a scipy.sparse "
                        f"matrix of numbers, which transforms cannot carry. Differentiate or batch with "
                        f"chainrule.jacfwd/jacrev, or call {what} on arrays outside the transform")
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
    elif kind == "scan":
        outputs = _scan(equation, in_first, in_second, operand_values, values is not None, size)
    elif kind == "cond":
        outputs = _cond(equation, in_first, in_second, operand_values, values is not None, size)
    elif kind == "while":
        outputs = _while(equation, in_first, in_second, operand_values, values is not None, size)
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


# ------------------------------------------------------------------------------------------ staged bodies

# Scans up to this many steps are followed step by step (exact: as if unrolled); longer ones (under the
# global pattern) iterate the body on the carry to a fixed point, a superset of every step's sets.
_UNROLLED_STEPS = 256


def _through_graph(graph, in_first, in_second, in_values, size):
    """Propagate index sets (and values, when ``in_values`` is given) through a staged body: per output of the
    graph, (first-order sets, second-order sets, value), None where empty or unknown."""
    graph = inline_calls(graph)
    first = {}
    second = None if in_second is None else {}
    values = None if in_values is None else {}
    for position, var in enumerate(graph.invars):
        if in_first[position] is not None:
            first[var] = in_first[position]
        if second is not None and in_second[position] is not None:
            second[var] = in_second[position]
        if values is not None:
            values[var] = in_values[position]
    for equation in graph.equations:
        _step(equation, first, second, values, size)
    outputs = []
    for atom in graph.outvars:
        if isinstance(atom, Literal):
            outputs.append((None, None, atom.value))
            continue
        outputs.append((first.get(atom), None if second is None else second.get(atom),
                        None if values is None else values.get(atom)))
    return outputs


def _same_sets(a, b):
    if a is None or b is None:
        return a is None and b is None
    return np.array_equal(a.indptr, b.indptr) and np.array_equal(a.indices, b.indices)


def _scan(equation, in_first, in_second, operand_values, local, size):
    """A scan's outputs (final carry, then the stacked ys): the body's set propagation, once per step with the
    carry's sets flowing from step to step and step ``t`` reading row ``t`` of each xs."""
    params = equation.params
    num_consts, num_carry, length = params["num_consts"], params["num_carry"], params["length"]
    second_order = in_second is not None
    in_second = in_second if second_order else [None] * len(in_first)
    carry_end = num_consts + num_carry
    if length == 0:
        return list(zip(in_first[num_consts:carry_end], in_second[num_consts:carry_end])) + [
            (None, None) for _ in equation.outputs[num_carry:]]
    if not local and length > _UNROLLED_STEPS:
        return _scan_fixed_point(equation, in_first, in_second, second_order, size)
    body = params["body"]
    x_rows = [_rows(v) for v in body.invars[carry_end:]]
    carry = list(zip(in_first[num_consts:carry_end], in_second[num_consts:carry_end],
                     operand_values[num_consts:carry_end] if local else [None] * num_carry))
    per_step = [[None] * length for _ in equation.outputs[num_carry:]]
    steps = range(length - 1, -1, -1) if params["reverse"] else range(length)
    no_xs_sets = all(s is None for s in in_first[carry_end:])
    for count, step in enumerate(steps):
        xs = [_slice_sets(s, step, rows) for s, rows in zip(in_first[carry_end:], x_rows)]
        x_pairs = [_slice_sets(s, step, rows) for s, rows in zip(in_second[carry_end:], x_rows)]
        x_values = [None if v is None else np.asarray(v)[step] for v in operand_values[carry_end:]]
        outs = _through_graph(body, list(in_first[:num_consts]) + [c[0] for c in carry] + xs,
                              list(in_second[:num_consts]) + [c[1] for c in carry] + x_pairs if second_order else None,
                              (list(operand_values[:num_consts]) + [c[2] for c in carry] + x_values) if local else None,
                              size)
        for ys, (sets, pairs, _) in zip(per_step, outs[num_carry:]):
            ys[step] = (sets, pairs)
        steady = not local and no_xs_sets and all(
            _same_sets(old[0], new[0]) and _same_sets(old[1], new[1]) for old, new in zip(carry, outs[:num_carry]))
        carry = outs[:num_carry]
        if steady:
            # The carry's sets stopped changing and nothing else varies per step: every later step is this one.
            for later in list(steps)[count + 1:]:
                for ys, (sets, pairs, _) in zip(per_step, outs[num_carry:]):
                    ys[later] = (sets, pairs)
            break
    results = [(c[0], c[1]) for c in carry]
    for var, ys in zip(equation.outputs[num_carry:], per_step):
        results.append(_stacked_steps(ys, _rows(var) // length, second_order, size))
    return results


def _slice_sets(sets, step, rows):
    """The sets of row ``step`` of a scanned input (``rows`` elements per step)."""
    if sets is None:
        return None
    return sets.select(np.arange(step * rows, (step + 1) * rows, dtype=np.int64))


def _stacked_steps(per_step, rows, second_order, size):
    """One stacked output from its per-step (sets, pairs), in step order."""
    if all(sets is None for sets, _ in per_step):
        first = None
    else:
        first = stack([_or_empty(sets, rows, size) for sets, _ in per_step])
    if not second_order or all(pairs is None for _, pairs in per_step):
        return first, None
    return first, stack([_or_empty(pairs, rows, size * size) for _, pairs in per_step])


def _scan_fixed_point(equation, in_first, in_second, second_order, size):
    """A long scan's outputs under the global pattern: every step reads the union of all xs rows, and the
    carry's sets grow (each round unions in one more step's reach) until they stop changing, at most one round
    per carry element; every y then gets the sets of a step from that carry, a superset of each true step's."""
    params = equation.params
    num_consts, num_carry, length, body = params["num_consts"], params["num_carry"], params["length"], params["body"]
    carry_end = num_consts + num_carry
    x_rows = [_rows(v) for v in body.invars[carry_end:]]
    xs = [_all_steps(s, rows, length) for s, rows in zip(in_first[carry_end:], x_rows)]
    x_pairs = [_all_steps(s, rows, length) for s, rows in zip(in_second[carry_end:], x_rows)]
    carry = list(zip(in_first[num_consts:carry_end], in_second[num_consts:carry_end]))
    carry_rows = [_rows(v) for v in body.invars[num_consts:carry_end]]
    while True:
        outs = _through_graph(body, list(in_first[:num_consts]) + [c[0] for c in carry] + xs,
                              list(in_second[:num_consts]) + [c[1] for c in carry] + x_pairs if second_order else None,
                              None, size)
        grown = [(union([old[0], new[0]], rows, size), union([old[1], new[1]], rows, size * size))
                 for old, new, rows in zip(carry, outs[:num_carry], carry_rows)]
        if all(_same_sets(old[0], new[0]) and _same_sets(old[1], new[1]) for old, new in zip(carry, grown)):
            break
        carry = grown
    results = list(carry)
    for var, (sets, pairs, _) in zip(equation.outputs[num_carry:], outs[num_carry:]):
        rows = _rows(var) // length
        every_step = np.tile(np.arange(rows, dtype=np.int64), length)
        results.append((None if sets is None else sets.select(every_step),
                        None if pairs is None else pairs.select(every_step)))
    return results


def _all_steps(sets, rows, length):
    """One step's worth of rows: row ``r`` is the union of row ``r`` of every step of a scanned input."""
    if sets is None:
        return None
    in_row = np.arange(rows * length, dtype=np.int64)
    return sets.gather_union(rows, in_row % rows, in_row)


def _while(equation, in_first, in_second, operand_values, local, size):
    """A while loop's final carry. Under the global pattern the trip count is unknown, so the carry's sets are
    those of every trip count at once: unioned with one more step of the body until they stop changing (a
    superset of the true sets at each x, as for a long scan). With ``local=True`` the loop runs as it does at
    this x, step by step (exact); past ``_UNROLLED_STEPS`` steps it finishes with that fixed point."""
    params = equation.params
    num_cond, num_body = params["num_cond_consts"], params["num_body_consts"]
    cond_consts_end, carry_start = num_cond, num_cond + num_body
    second_order = in_second is not None
    in_second = in_second if second_order else [None] * len(in_first)
    body_first, body_second = in_first[cond_consts_end:carry_start], in_second[cond_consts_end:carry_start]
    carry = list(zip(in_first[carry_start:], in_second[carry_start:]))
    if local:
        carry_values = list(operand_values[carry_start:])
        for _ in range(_UNROLLED_STEPS):
            predicate = _through_graph(params["cond_body"], [None] * (num_cond + len(carry_values)), None,
                                       list(operand_values[:num_cond]) + carry_values, size)[0][2]
            if not bool(np.asarray(predicate)):
                return carry
            outs = _through_graph(params["body"], body_first + [c[0] for c in carry],
                                  body_second + [c[1] for c in carry] if second_order else None,
                                  list(operand_values[cond_consts_end:carry_start]) + carry_values, size)
            carry = [(sets, pairs) for sets, pairs, _ in outs]
            carry_values = [value for _, _, value in outs]
    carry_rows = [_rows(v) for v in equation.outputs]
    while True:
        outs = _through_graph(params["body"], body_first + [c[0] for c in carry],
                              body_second + [c[1] for c in carry] if second_order else None, None, size)
        grown = [(union([old[0], new[0]], rows, size),
                  union([old[1], new[1]], rows, size * size) if second_order else None)
                 for old, new, rows in zip(carry, outs, carry_rows)]
        if all(_same_sets(old[0], new[0]) and _same_sets(old[1], new[1]) for old, new in zip(carry, grown)):
            return carry
        carry = grown


def _cond(equation, in_first, in_second, operand_values, local, size):
    """A branch's outputs: those of the taken branch when the index is known (a literal, or a value under
    ``local=True``), else the union over every branch (whichever runs, no dependence is missed)."""
    branches = equation.params["branches"]
    index = operand_values[0]
    if index is not None:
        branches = [branches[int(np.clip(int(np.asarray(index)), 0, len(branches) - 1))]]
    second_order = in_second is not None
    per_branch = [_through_graph(branch, in_first[1:], in_second[1:] if second_order else None,
                                 operand_values[1:] if local else None, size)
                  for branch in branches]
    results = []
    for position, var in enumerate(equation.outputs):
        rows = _rows(var)
        first = union([outs[position][0] for outs in per_branch], rows, size)
        second = union([outs[position][1] for outs in per_branch], rows, size * size) if second_order else None
        results.append((first, second))
    return results
