"""``contract``: the one product primitive, a two-operand einsum (matmul, dot, tensordot, outer, ...).

Restrictions that keep its VJP a contraction again: no index repeats within an operand, and every
index of an operand appears in the other operand or in the output (the NumPy front sums such
indices away first and takes diagonals with ``gather``).
"""
import functools

import numpy as np

from ..core.avals import ShapedArray
from ..core.primitive import Primitive


def parse_spec(spec):
    inputs, output = spec.split("->")
    left, right = inputs.split(",")
    return left, right, output


@functools.lru_cache(maxsize=4096)
def _plan(spec, left_shape, right_shape):
    """How to compute ``spec`` as one batched matrix product: permutations and reshapes."""
    left, right, output = parse_spec(spec)
    sizes = dict(zip(left, left_shape))
    sizes.update(zip(right, right_shape))
    batch = [i for i in left if i in right and i in output]
    contracted = [i for i in left if i in right and i not in output]
    left_free = [i for i in left if i not in right]
    right_free = [i for i in right if i not in left]
    left_perm = tuple(left.index(i) for i in batch + left_free + contracted)
    right_perm = tuple(right.index(i) for i in batch + contracted + right_free)

    def size_of(indices):
        return int(np.prod([sizes[i] for i in indices], dtype=np.int64))

    left_matrix = (size_of(batch), size_of(left_free), size_of(contracted))
    right_matrix = (size_of(batch), size_of(contracted), size_of(right_free))
    produced = batch + left_free + right_free
    produced_shape = tuple(sizes[i] for i in produced)
    out_perm = tuple(produced.index(i) for i in output)
    return left_perm, right_perm, left_matrix, right_matrix, produced_shape, out_perm, not batch


_BROADCAST_OUTER = 4096  # output elements from which a batched outer product broadcasts


def _contract_impl(left, right, *, spec):
    left = np.asarray(left)
    right = np.asarray(right)
    left_perm, right_perm, left_matrix, right_matrix, produced_shape, out_perm, unbatched = _plan(
        spec, left.shape, right.shape)
    a = left.transpose(left_perm).reshape(left_matrix)
    b = right.transpose(right_perm).reshape(right_matrix)
    if unbatched:
        product = np.dot(a[0], b[0])
    elif left_matrix[2] == 1 and left_matrix[0] * left_matrix[1] * right_matrix[2] >= _BROADCAST_OUTER:
        # A batch of outer products (per-example gradients): NumPy's matmul has no fast kernel for an inner
        # dimension of 1; einsum's elementwise loop is ~1.8x faster on large outputs (a broadcast multiply ~1.6x).
        product = np.einsum("bik,bkj->bij", a, b)
    else:
        product = np.matmul(a, b)
    out = product.reshape(produced_shape)
    return out if out_perm == tuple(range(len(out_perm))) else out.transpose(out_perm)


def _contract_shape_rule(left, right, *, spec):
    left_indices, right_indices, output = parse_spec(spec)
    sizes = dict(zip(left_indices, left.shape))
    sizes.update(zip(right_indices, right.shape))
    return ShapedArray(tuple(sizes[i] for i in output), np.result_type(left.dtype, right.dtype))


def _contract_jvp(primals, tangents, *, spec):
    left, right = primals
    left_dot, right_dot = tangents
    out = contract(left, right, spec=spec)
    out_dot = None if left_dot is None else contract(left_dot, right, spec=spec)
    if right_dot is not None:
        from .arithmetic import add
        term = contract(left, right_dot, spec=spec)
        out_dot = term if out_dot is None else add(out_dot, term)
    return out, out_dot


def _contract_vjp_left(out, left, right, *, spec):
    left_indices, right_indices, output = parse_spec(spec)
    transposed = f"{output},{right_indices}->{left_indices}"

    def contract_pullback_left(out_bar):
        return contract(out_bar, right, spec=transposed)
    return contract_pullback_left


def _contract_vjp_right(out, left, right, *, spec):
    left_indices, right_indices, output = parse_spec(spec)
    transposed = f"{left_indices},{output}->{right_indices}"

    def contract_pullback_right(out_bar):
        return contract(left, out_bar, spec=transposed)
    return contract_pullback_right


def _contract_batch(primitive, values, batched, params, size):
    left, right, output = parse_spec(params["spec"])
    letter = next(c for c in "ZYXWVUTSRQPONMLKJIHGFEDCBA" if c not in params["spec"])
    left = letter + left if batched[0] else left
    right = letter + right if batched[1] else right
    return contract(values[0], values[1], spec=f"{left},{right}->{letter}{output}")


contract = Primitive("contract", _contract_impl, shape_rule=_contract_shape_rule, jvp=_contract_jvp,
                     input_vjps=(_contract_vjp_left, _contract_vjp_right), batch=_contract_batch)

_LETTERS = "abcdefghijklmnopqrstuvwxyz"


def matmul_spec(left_ndim, right_ndim):
    """The ``contract`` spec of ``left @ right`` for operands of these ranks (after batch broadcasting)."""
    if left_ndim == 1 and right_ndim == 1:
        return "a,a->"
    if left_ndim == 1:
        batch = _LETTERS[2:2 + right_ndim - 2]
        return f"y,{batch}yz->{batch}z"
    if right_ndim == 1:
        batch = _LETTERS[2:2 + left_ndim - 2]
        return f"{batch}xy,y->{batch}x"
    batch = _LETTERS[2:2 + left_ndim - 2]
    return f"{batch}xy,{batch}yz->{batch}xz"


def matmul(left, right):
    """``left @ right`` for equal batch shapes (rules of other primitives use it)."""
    return contract(left, right, spec=matmul_spec(len(np.shape(left)), len(np.shape(right))))
