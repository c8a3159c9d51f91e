"""A batch of scaled unit arrays — the seed of ``jacfwd`` and ``jacrev`` — kept implicit while it stays one.

Example k of a ``UnitBatch`` with ``scale`` of shape S is ``scale.flat[k] * e_k``, e_k the k-th unit
array of shape S: densely a (size(S),) + S array that is zero off its diagonal. The linear operations a
JVP or VJP applies to a seed keep it implicit at O(size) cost (scaling by an unbatched array, negation,
sums), and a contraction with an unbatched array picks that array's entries instead of multiplying it by
an identity: the Jacobian of ``tanh(A @ sin(x)) * x`` costs O(n²) instead of the O(n³) of a dense basis.
Every other primitive sees the dense batch (``densify``), so no rule has to know about this class.
"""
import numpy as np

from ..core.avals import ShapedArray
from ..ops import arithmetic, contraction, structure


class UnitBatch:
    __slots__ = ("scale",)

    def __init__(self, scale):
        self.scale = scale

    @property
    def shape(self):
        return (self.scale.size,) + self.scale.shape

    @property
    def dtype(self):
        return self.scale.dtype

    @property
    def aval(self):
        return ShapedArray(self.shape, self.dtype)

    def dense(self):
        size = self.scale.size
        if type(self.scale) is not np.ndarray:  # a traced scale (an enclosing transform): with primitives
            identity = np.eye(size, dtype=self.scale.dtype).reshape(self.shape)
            return arithmetic.mul(identity, structure.reshape(self.scale, new_shape=(1,) + self.scale.shape))
        out = np.zeros((size, size), dtype=self.scale.dtype)
        out.flat[::size + 1] = self.scale.ravel()
        return out.reshape(self.shape)

    def __array__(self, dtype=None, copy=None):
        out = self.dense()
        return out if dtype is None else out.astype(dtype)

    def __repr__(self):
        return f"UnitBatch(scale={self.scale!r})"


def seed(like_shape, dtype):
    """The unit basis of arrays of ``like_shape``: example k is the k-th unit array."""
    return UnitBatch(np.ones(like_shape, dtype=dtype))


def densify(value):
    return value.dense() if type(value) is UnitBatch else value


def apply(primitive, values, batched, params):
    """``primitive`` on ``values`` (some of them UnitBatch) kept implicit, or NotImplemented."""
    rule = _RULES.get(primitive.name)
    if rule is None:
        return NotImplemented
    return rule(values, batched, **params)


def _scaled(unit, other, operation):
    """unit (op) other, other unbatched and broadcasting into the unit's example shape: still a UnitBatch."""
    if np.broadcast_shapes(np.shape(other), unit.scale.shape) != unit.scale.shape:
        return NotImplemented
    return UnitBatch(operation(unit.scale, other))


def _mul(values, batched, **params):
    left, right = values
    if type(left) is UnitBatch and type(right) is UnitBatch:
        if left.scale.shape != right.scale.shape:
            return NotImplemented
        return UnitBatch(arithmetic.mul(left.scale, right.scale))  # e_k * e_k = e_k
    if type(left) is UnitBatch:
        return NotImplemented if batched[1] else _scaled(left, right, arithmetic.mul)
    return NotImplemented if batched[0] else _scaled(right, left, lambda s, o: arithmetic.mul(o, s))


def _div(values, batched, **params):
    left, right = values
    if type(left) is not UnitBatch or batched[1]:
        return NotImplemented
    return _scaled(left, right, arithmetic.div)


def _neg(values, batched, **params):
    return UnitBatch(arithmetic.neg(values[0].scale))


def _sum_rule(sign):
    def rule(values, batched, **params):
        left, right = values
        if type(left) is UnitBatch and type(right) is UnitBatch:
            if left.scale.shape != right.scale.shape:
                return NotImplemented
            combine = arithmetic.add if sign == 1 else arithmetic.sub
            return UnitBatch(combine(left.scale, right.scale))
        unit, other = (left, right) if type(left) is UnitBatch else (right, left)
        if not (batched[0] and batched[1]) or tuple(np.shape(other)) != unit.shape:
            return NotImplemented
        unit_sign = sign if unit is right else 1
        if type(other) is np.ndarray and type(unit.scale) is np.ndarray and \
                np.result_type(other, unit.scale) == other.dtype:
            # dense ± unit: a copy of the dense batch with the unit's scales added on its diagonal
            out = other.copy() if unit is right or sign == 1 else -other
            size = unit.scale.size
            out.reshape(size, size).flat[::size + 1] += unit_sign * unit.scale.ravel()
            return out
        combine = arithmetic.add if sign == 1 else arithmetic.sub
        return combine(left if left is other else densify(left), right if right is other else densify(right))
    return rule


def _contract(values, batched, spec):
    """contract(other, unit) where every index of the unit operand is summed over: example k picks the
    entries of ``other`` at k, times the scale, and no summation is left to do."""
    left_letters, right_letters, output = contraction.parse_spec(spec)
    if type(values[1]) is UnitBatch and not batched[0]:
        other, unit, other_letters, unit_letters = values[0], values[1], left_letters, right_letters
    elif type(values[0]) is UnitBatch and not batched[1]:
        other, unit, other_letters, unit_letters = values[1], values[0], right_letters, left_letters
    else:
        return NotImplemented
    if len(set(unit_letters)) != len(unit_letters) or any(c in output or c not in other_letters for c in unit_letters):
        return NotImplemented
    # Computed in the other operand's memory order, then viewed batch first: a Jacobian is transposed
    # at the end anyway, and then its memory is in order.
    picked = contraction.contract(other, unit.scale, spec=f"{other_letters},{unit_letters}->{output}{unit_letters}")
    count, rank = len(unit_letters), len(output) + len(unit_letters)
    batch_first = structure.transpose(picked, permutation=tuple(range(rank - count, rank)) + tuple(range(rank - count)))
    if count == 1:
        return batch_first
    return structure.reshape(batch_first, new_shape=(unit.scale.size,) + tuple(np.shape(batch_first)[count:]))


_RULES = {"mul": _mul, "div": _div, "neg": _neg, "add": _sum_rule(1), "sub": _sum_rule(-1), "contract": _contract}
