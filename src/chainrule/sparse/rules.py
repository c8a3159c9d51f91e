"""Sparsity rules, keyed by primitive object: how each output element of a primitive depends on its input
elements. Elementwise primitives need no row (``primitive.elementwise``; only their curvature is listed),
nor do primitives without derivative; ``DENSE`` says why the remaining ones are treated as dense (each
output element depends on every input element: never wrong, only pessimistic).

A rule receives the equation and the operands' concrete values where known (Literals always; every value
under ``local=True``) and returns one ``Dependence`` per output.
"""
import numpy as np

from ..core.graph import Literal
from ..ops import (arithmetic, comparison, contraction, control, decompositions, elementwise, fft, indexing, linalg,
                   reduction, structure)

# How an elementwise primitive's second derivatives couple its inputs' index sets (Hessian sparsity).
LINEAR = "linear"                      # no second derivative
PIECEWISE_LINEAR = "piecewise linear"  # second derivative zero wherever it exists (the AD convention at kinks)
BILINEAR = "bilinear"                  # x * y: only mixed pairs
LINEAR_IN_FIRST = "linear in first"    # x / y: pairs within y, and mixed pairs
NONLINEAR = "nonlinear"                # every pair of its inputs' indices (the default)

CURVATURE = {
    arithmetic.add: LINEAR,
    arithmetic.sub: LINEAR,
    arithmetic.neg: LINEAR,
    elementwise.real: LINEAR,
    elementwise.imag: LINEAR,
    elementwise.conj: LINEAR,
    comparison.select: LINEAR,
    elementwise.absolute: PIECEWISE_LINEAR,
    arithmetic.maximum: PIECEWISE_LINEAR,
    arithmetic.minimum: PIECEWISE_LINEAR,
    arithmetic.mod: PIECEWISE_LINEAR,
    arithmetic.fmod: PIECEWISE_LINEAR,
    arithmetic.mul: BILINEAR,
    arithmetic.div: LINEAR_IN_FIRST,
}


def _winner_masks(first, second):
    """Which argument of maximum(first, second) the result follows: both on ties (the derivative is split)
    and where either is NaN."""
    return ~(first < second), ~(second < first)


def _select_masks(condition, on_true, on_false):
    condition = np.asarray(condition, dtype=bool)
    return None, condition, ~condition


# Elementwise primitives whose output follows one input or another depending on the values: under
# ``local=True`` an input counts only where it is followed. Each function returns one mask per input
# (None: everywhere).
LOCAL_CHOICE = {
    arithmetic.maximum: lambda x, y: _winner_masks(x, y),
    arithmetic.minimum: lambda x, y: _winner_masks(y, x)[::-1],
    comparison.select: _select_masks,
}


class Dependence:
    """How one output's elements depend on the elements of the rule's operands, stacked one after another.

    Either a ``source`` (one input element per output element, -1 for none: a copy, cheapest) or pairs
    ``(out_row, in_row)`` (sums, possibly several per output element), or ``dense`` (every element of every
    operand). ``curvature``: LINEAR or PIECEWISE_LINEAR (no new second-order pairs), or NONLINEAR (all pairs
    of each output element's first-order set).
    """

    __slots__ = ("rows", "source", "out_row", "in_row", "dense", "curvature")

    def __init__(self, rows, *, source=None, out_row=None, in_row=None, dense=False, curvature=LINEAR):
        self.rows = rows
        self.source = source
        self.out_row = out_row
        self.in_row = in_row
        self.dense = dense
        self.curvature = curvature


class Rule:
    """``dependence(equation, values) -> [Dependence per output]`` over the operands at ``operands``
    (positions; None: all), the ones that carry derivatives (index arrays do not)."""

    __slots__ = ("dependence", "operands")

    def __init__(self, dependence, operands=None):
        self.dependence = dependence
        self.operands = operands


def _size(shape):
    return int(np.prod(shape, dtype=np.int64))


def _shape(atom):
    return tuple(atom.aval.shape)


def _dense(equation):
    return [Dependence(_size(v.aval.shape), dense=True, curvature=NONLINEAR) for v in equation.outputs]


# ------------------------------------------------------------------------------------------ copies

def _copied(equation, values, operands):
    """Run the primitive's own implementation on element numbers (1-based; 0 stands for "no element", what
    padding fills in): what comes out at each place is the element copied there."""
    arguments, offset = [], 0
    for position, atom in enumerate(equation.inputs):
        shape = _shape(atom)
        if position in operands:
            arguments.append(np.arange(offset + 1, offset + _size(shape) + 1, dtype=np.int64).reshape(shape))
            offset += _size(shape)
        elif values[position] is None:
            return _dense(equation)  # an index computed from the inputs: any element may be read
        else:
            arguments.append(np.asarray(values[position]))
    out = np.asarray(equation.primitive.impl(*arguments, **equation.params))
    return [Dependence(out.size, source=out.astype(np.int64).ravel() - 1)]


def copy_rule(*operands):
    """A rule for primitives whose every output element is a copy of one input element (or a fill value)."""
    def dependence(equation, values):
        chosen = operands or tuple(range(len(equation.inputs)))
        return _copied(equation, values, chosen)
    return Rule(dependence, operands or None)


def _same_elements(equation, values):
    return [Dependence(_size(_shape(equation.inputs[0])), source=np.arange(_size(_shape(equation.inputs[0]))))]


# ------------------------------------------------------------------------------------------ sums

def _reduced_rows(shape, axes):
    """For every element of an array of ``shape``, the number of the element it is reduced into."""
    kept = tuple(1 if i in axes else d for i, d in enumerate(shape))
    out = np.arange(_size(kept), dtype=np.int64).reshape(kept)
    return np.broadcast_to(out, shape).ravel()


def _reduce_dependence(curvature, extremum=None):
    def dependence(equation, values):
        shape = _shape(equation.inputs[0])
        axes = tuple(equation.params["axes"])
        out_row = _reduced_rows(shape, axes)
        in_row = np.arange(_size(shape), dtype=np.int64)
        x = values[0]
        if extremum is not None and x is not None:
            # At this point only the extremal elements (all of them on ties) move the result.
            x = np.asarray(x)
            reached = x == np.expand_dims(extremum(x, axis=axes), axes)
            reached |= np.isnan(x)
            out_row, in_row = out_row[reached.ravel()], in_row[reached.ravel()]
        return [Dependence(_size(_shape(equation.outputs[0])), out_row=out_row, in_row=in_row, curvature=curvature)]
    return dependence


def _cumsum_dependence(equation, values):
    shape = _shape(equation.inputs[0])
    axis, reverse = equation.params["axis"], equation.params["reverse"]
    length = shape[axis]
    ids = np.moveaxis(np.arange(_size(shape), dtype=np.int64).reshape(shape), axis, -1).reshape(-1, length)
    later, earlier = np.tril_indices(length)  # output k sums inputs 0..k (reversed: k..end)
    if reverse:
        later, earlier = earlier, later
    return [Dependence(_size(shape), out_row=ids[:, later].ravel(), in_row=ids[:, earlier].ravel())]


def _scatter_add_dependence(equation, values):
    if any(v is None for v in values[1:]):
        return _dense(equation)
    template, shape = equation.params["template"], tuple(equation.params["shape"])
    targets = np.arange(_size(shape), dtype=np.int64).reshape(shape)[template.build(list(values[1:]))]
    updates_shape = _shape(equation.inputs[0])
    updates = np.broadcast_to(np.arange(_size(updates_shape), dtype=np.int64).reshape(updates_shape), targets.shape)
    return [Dependence(_size(shape), out_row=targets.ravel(), in_row=updates.ravel())]


def _fft_dependence(equation, values):
    # Each output element mixes every element of its own transformed block (the trailing axes).
    in_shape, out_shape = _shape(equation.inputs[0]), _shape(equation.outputs[0])
    transformed = len(equation.params["lengths"])
    batch = _size(in_shape[:len(in_shape) - transformed])
    inner_in, inner_out = _size(in_shape) // max(batch, 1), _size(out_shape) // max(batch, 1)
    block = np.arange(batch, dtype=np.int64)[:, None, None]
    out_row = np.broadcast_to(block * inner_out + np.arange(inner_out)[None, :, None], (batch, inner_out, inner_in))
    in_row = np.broadcast_to(block * inner_in + np.arange(inner_in)[None, None, :], (batch, inner_out, inner_in))
    return [Dependence(_size(out_shape), out_row=out_row.ravel(), in_row=in_row.ravel())]


# ------------------------------------------------------------------------------------------ products

def contract_dependences(equation, values):
    """The dependence of a contraction's output on its left and on its right operand: a derivative with
    respect to one operand is an entry of the other, so a constant operand's zeros are structural."""
    left_letters, right_letters, output = contraction.parse_spec(equation.params["spec"])
    left_shape, right_shape = _shape(equation.inputs[0]), _shape(equation.inputs[1])
    out_shape = _shape(equation.outputs[0])
    sizes = dict(zip(left_letters, left_shape))
    sizes.update(zip(right_letters, right_shape))

    def nonzero(position, shape):
        value = values[position] if isinstance(equation.inputs[position], Literal) else None
        return np.ones(shape, dtype=bool) if value is None else np.broadcast_to(np.asarray(value) != 0, shape)

    def on(own_letters, own_shape, other_letters, other_mask):
        # d out[o] / d own[i] is an entry of the other operand: one pair per nonzero entry of it, for every
        # value of the own operand's free letters.
        if other_mask.ndim:
            coordinates = np.nonzero(other_mask)
            nonzeros = coordinates[0].size
        else:
            coordinates, nonzeros = (), int(bool(other_mask))
        free = [c for c in own_letters if c not in other_letters]
        free_count = _size([sizes[c] for c in free])
        count = nonzeros * free_count
        assignment = {c: np.repeat(k, free_count) for c, k in zip(other_letters, coordinates)}
        if free:
            grid = np.unravel_index(np.arange(free_count, dtype=np.int64), [sizes[c] for c in free])
            for c, k in zip(free, grid):
                assignment[c] = np.tile(k, nonzeros)

        def flat(letters, shape):
            if not letters:
                return np.zeros(count, dtype=np.int64)
            return np.ravel_multi_index([assignment[c] for c in letters], shape).astype(np.int64)

        return Dependence(_size(out_shape), out_row=flat(output, out_shape), in_row=flat(own_letters, own_shape))

    return (on(left_letters, left_shape, right_letters, nonzero(1, right_shape)),
            on(right_letters, right_shape, left_letters, nonzero(0, left_shape)))


_TERM_LIMIT = 10_000_000  # product terms enumerated one by one for Hessian pairs; above, pessimistic unions


def contract_terms(equation):
    """Every product term of a contraction as (output element, left element, right element), or None when
    there are more than ``_TERM_LIMIT``: the pairs a Hessian couples are term by term."""
    left_letters, right_letters, output = contraction.parse_spec(equation.params["spec"])
    shapes = {0: _shape(equation.inputs[0]), 1: _shape(equation.inputs[1])}
    sizes = dict(zip(left_letters, shapes[0]))
    sizes.update(zip(right_letters, shapes[1]))
    letters = sorted(sizes)
    if _size([sizes[c] for c in letters]) > _TERM_LIMIT:
        return None
    grid = dict(zip(letters, np.indices([sizes[c] for c in letters]).reshape(len(letters), -1))) if letters else {}

    def flat(own, shape):
        if not own:
            return np.zeros(_size([sizes[c] for c in letters]), dtype=np.int64)
        return np.ravel_multi_index([grid[c] for c in own], shape).astype(np.int64)

    return flat(output, _shape(equation.outputs[0])), flat(left_letters, shapes[0]), flat(right_letters, shapes[1])


RULES = {
    structure.reshape: copy_rule(0),
    structure.transpose: copy_rule(0),
    structure.broadcast_to_primitive: copy_rule(0),
    structure.rev: copy_rule(0),
    structure.pad: copy_rule(0),
    structure.concatenate: copy_rule(),
    structure.convert_element_type: Rule(_same_elements, (0,)),
    indexing.gather: copy_rule(0),
    indexing.scatter: copy_rule(0, 1),
    indexing.scatter_add: Rule(_scatter_add_dependence, (0,)),
    reduction.reduce_sum: Rule(_reduce_dependence(LINEAR), (0,)),
    reduction.reduce_max: Rule(_reduce_dependence(PIECEWISE_LINEAR, np.max), (0,)),
    reduction.reduce_min: Rule(_reduce_dependence(PIECEWISE_LINEAR, np.min), (0,)),
    reduction.reduce_prod: Rule(_reduce_dependence(NONLINEAR), (0,)),
    reduction.cumsum: Rule(_cumsum_dependence, (0,)),
    fft.fft: Rule(_fft_dependence, (0,)),
}

# ``contract`` is bilinear: detection combines its two operands' dependences itself (contract_dependences).
BILINEAR_RULES = {contraction.contract: contract_dependences}

_FACTORIZATION = "a matrix function or factorization: every output entry depends on every input entry"
_WHILE_VJP = "the reverse pass of a while loop: a staged loop over the step's VJP, treated as dense"
_CHECKPOINTED = "the reverse pass of a checkpointed scan: a staged loop over the step's VJP, treated as dense"

# Loops and branches whose staged bodies detection propagates index sets through (see detection.py):
# ``scan`` step by step (or to a fixed point of the carry for long loops), ``cond`` over its branches,
# ``while_loop`` to a fixed point of the carry (every trip count at once; step by step with ``local=True``).
STAGED = {control.scan: "scan", control.cond: "cond", control.while_loop: "while"}

DENSE = {
    linalg.solve: "a linear solve: each solution entry depends on every entry of the matrix and right-hand side",
    linalg.triangular_solve: "a triangular solve: treated as a dense solve",
    linalg.inv: _FACTORIZATION,
    linalg.det: _FACTORIZATION,
    linalg.adjugate: _FACTORIZATION,
    linalg.slogdet: _FACTORIZATION,
    linalg.cholesky: _FACTORIZATION,
    linalg.eigh: _FACTORIZATION,
    decompositions.svd: _FACTORIZATION,
    decompositions.eig: _FACTORIZATION,
    decompositions.qr: _FACTORIZATION,
    decompositions.lu: _FACTORIZATION,
    decompositions.sylvester: _FACTORIZATION,
    decompositions.sqrtm: _FACTORIZATION,
    decompositions.expm: _FACTORIZATION,
    control.checkpointed_scan_vjp: _CHECKPOINTED,
    control.while_loop_vjp: _WHILE_VJP,
    control.while_loop_vjp_transpose: "reverse mode twice through a while loop, unrolled when it runs: treated as "
                                      "dense",
}


def rule_kind(primitive):
    """How detection treats ``primitive``: 'zero derivative', 'elementwise', 'rule', 'bilinear', 'scan',
    'cond', 'while' or 'dense' (also for primitives no table knows, with no warning: dense is pessimistic, never
    wrong)."""
    if not primitive.differentiable:
        return "zero derivative"
    if primitive in STAGED:
        return STAGED[primitive]
    if primitive.elementwise:
        return "elementwise"
    if primitive in RULES:
        return "rule"
    if primitive in BILINEAR_RULES:
        return "bilinear"
    return "dense"
