"""Implicit batches for Jacobians: the unit basis that ``jacfwd``/``jacrev`` push, and what it becomes after
one contraction, kept unwritten while the derivative rules only scale, sum or contract them.

- ``UnitBatch(scale)``: example k is ``scale.flat[k] * e_k`` (e_k the k-th unit array): densely an
  (n,) + S array that is zero off its diagonal.
- ``ScaledBatch(base, rows, columns)``: ``base[k, ...] * rows[k] * columns[...]`` with ``base`` an array
  the function already holds (often a transposed view of a matrix it multiplies by) and the scalings still
  pending.

Scaling by an unbatched array changes only ``scale`` / ``columns`` (O(n)); a contraction of a unit batch
with an unbatched matrix picks that matrix instead of multiplying it by an identity; a sum with a unit batch
writes the scaled batch once and adds the diagonal in place. So the Jacobian of a layer such as
``tanh(A @ sin(x)) * x`` is written in one pass over its n² entries (a dense basis would cost an n³ product
and a pass per operation). Every other primitive sees the dense batch (``densify``): no rule has to know
about these classes. Scaled batches hold plain arrays only; under an enclosing transform (staging, nested
derivatives) a contraction gives the dense batch, computed with primitives.
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
            from ..ops.comparison import select
            # Selected, not multiplied by an identity: an infinite scale must leave exact zeros off the
            # diagonal (0 * inf is nan), as the plain branch below writes them.
            diagonal = np.eye(size, dtype=bool).reshape(self.shape)
            scale = structure.reshape(self.scale, new_shape=(1,) + self.scale.shape)
            return select(diagonal, scale, np.zeros((), dtype=self.scale.dtype))
        out = np.zeros((size, size), dtype=self.scale.dtype)
        out.flat[::size + 1] = self.scale.ravel()
        return out.reshape(self.shape)

    def __array__(self, dtype=None, copy=None):
        out = self.dense()
        return out if dtype is None else out.astype(dtype)

    def __repr__(self):
        return f"UnitBatch(scale={self.scale!r})"


class ScaledBatch:
    __slots__ = ("base", "rows", "columns", "_dtype")

    def __init__(self, base, rows, columns=1.0):
        self.base = base  # (n,) + example shape
        self.rows = rows  # (n,)
        self.columns = columns  # broadcasts to the example shape
        self._dtype = None

    @property
    def shape(self):
        return self.base.shape

    @property
    def dtype(self):
        if self._dtype is None:
            self._dtype = np.result_type(self.base, self.rows, self.columns)
        return self._dtype

    @property
    def aval(self):
        return ShapedArray(self.shape, self.dtype)

    def dense(self):
        """The batch written out into a fresh array: one multiply, then the rows scaled in place."""
        out = np.multiply(self.base, self.columns, dtype=self.dtype)
        out *= self.rows.reshape(self.rows.shape + (1,) * (out.ndim - 1))
        return out

    def __array__(self, dtype=None, copy=None):
        out = self.dense()
        return out if dtype is None else out.astype(dtype)

    def __repr__(self):
        return f"ScaledBatch(base={self.base!r}, rows={self.rows!r}, columns={self.columns!r})"


IMPLICIT = (UnitBatch, ScaledBatch)


def seed(like_shape, dtype):
    """The unit basis of arrays of ``like_shape``: example k is the k-th unit array."""
    return UnitBatch(np.ones(like_shape, dtype=dtype))


def densify(value):
    return value.dense() if type(value) in IMPLICIT else value


def apply(primitive, values, batched, params):
    """``primitive`` on ``values`` (some of them implicit) kept implicit where it can be, or NotImplemented."""
    rule = _RULES.get(primitive)
    if rule is None:
        return NotImplemented
    return rule(values, batched, **params)


def _is_plain(value):
    return type(value) in (np.ndarray, float, int, complex) or isinstance(value, np.generic)


def _fits(other, example_shape):
    """Whether the unbatched ``other`` broadcasts into one example without changing its shape."""
    shape = np.shape(other)
    return shape == example_shape or not shape or np.broadcast_shapes(shape, example_shape) == example_shape


def _scaled(implicit, other, operation):
    """implicit (op) other for an unbatched ``other``: the pending scale absorbs it."""
    if type(implicit) is UnitBatch:
        if not _fits(other, implicit.scale.shape):
            return NotImplemented
        return UnitBatch(operation(implicit.scale, other))
    if not _is_plain(other) or not _fits(other, implicit.shape[1:]):
        return NotImplemented
    return ScaledBatch(implicit.base, implicit.rows, operation(implicit.columns, other))


def _mul(values, batched, **params):
    left, right = values
    if type(left) is UnitBatch and type(right) is UnitBatch:
        if left.scale.shape != right.scale.shape:
            return NotImplemented
        return UnitBatch(arithmetic.mul(left.scale, right.scale))  # e_k * e_k = e_k
    if type(left) in IMPLICIT and not batched[1]:
        return _scaled(left, right, arithmetic.mul)
    if type(right) in IMPLICIT and not batched[0]:
        return _scaled(right, left, lambda s, o: arithmetic.mul(o, s))
    return NotImplemented


def _div(values, batched, **params):
    left, right = values
    if type(left) not in IMPLICIT or batched[1]:
        return NotImplemented
    return _scaled(left, right, arithmetic.div)


def _neg(values, batched, **params):
    value = values[0]
    if type(value) is UnitBatch:
        return UnitBatch(arithmetic.neg(value.scale))
    return ScaledBatch(value.base, value.rows, np.negative(value.columns))


def _sum_rule(sign):
    combine = arithmetic.add if sign == 1 else arithmetic.sub

    def rule(values, batched, **params):
        left, right = values
        if not (batched[0] and batched[1]) or left.shape != right.shape:
            return NotImplemented
        if type(left) is UnitBatch and type(right) is UnitBatch:
            return UnitBatch(combine(left.scale, right.scale))
        if not (_writable(left) and _writable(right)):
            return combine(densify(left), densify(right))
        # Write one side into a fresh array (a scaled batch first: its pass is needed anyway), then add
        # the other side into it in place: a unit batch only on its diagonal.
        if type(left) is UnitBatch or (type(left) is np.ndarray and type(right) is ScaledBatch):
            first, second, first_sign, second_sign = right, left, sign, 1
        else:
            first, second, first_sign, second_sign = left, right, 1, sign
        out = first.dense() if type(first) is ScaledBatch else np.array(first, copy=True)
        if first_sign == -1:
            np.negative(out, out=out)
        dtype = np.result_type(out, second.dtype)
        if dtype != out.dtype:
            out = out.astype(dtype)
        if type(second) is UnitBatch:  # its diagonal: example k, element k
            size = second.scale.size
            if out.flags.c_contiguous:  # viewed as (size, size), every (size + 1)-th element
                out.reshape(size, size).flat[::size + 1] += second_sign * second.scale.ravel()
            else:
                k = np.arange(size)
                diagonal = (k,) + (np.unravel_index(k, second.scale.shape) if second.scale.ndim else ())
                out[diagonal] += second_sign * second.scale.ravel()
        elif second_sign == 1:
            np.add(out, densify(second), out=out)
        else:
            np.subtract(out, densify(second), out=out)
        return out
    return rule


def _writable(value):
    """Whether ``value`` is a plain dense batch or an implicit one with plain arrays (not traced)."""
    kind = type(value)
    return kind is np.ndarray or kind is ScaledBatch or (kind is UnitBatch and type(value.scale) is np.ndarray)


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
    size = unit.scale.size
    if type(other) is np.ndarray and type(unit.scale) is np.ndarray:
        # No arithmetic at all: a view of ``other`` with the unit's indices first, scaled later.
        base = other.transpose([other_letters.index(c) for c in unit_letters + output])
        return ScaledBatch(base.reshape((size,) + base.shape[len(unit_letters):]), unit.scale.ravel())
    picked = contraction.contract(other, unit.scale, spec=f"{other_letters},{unit_letters}->{output}{unit_letters}")
    count, rank = len(unit_letters), len(output) + len(unit_letters)
    batch_first = structure.transpose(picked, permutation=tuple(range(rank - count, rank)) + tuple(range(rank - count)))
    if count == 1:
        return batch_first
    return structure.reshape(batch_first, new_shape=(size,) + tuple(np.shape(batch_first)[count:]))


# Keyed by the primitive object; every other primitive sees the dense batch (NotImplemented from ``apply``).
_RULES = {arithmetic.mul: _mul, arithmetic.div: _div, arithmetic.neg: _neg, arithmetic.add: _sum_rule(1),
          arithmetic.sub: _sum_rule(-1), contraction.contract: _contract}
