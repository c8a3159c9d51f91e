"""Batching rules shared by several primitives' stanzas (``batch=``). A rule is ``rule(primitive, values,
batched, params, size) -> out``: batched values carry the batch along axis 0 and ``out`` must too."""
import numpy as np


def shape_of(value):
    try:
        return value.shape
    except AttributeError:
        return np.shape(value)


def materialize(value, batched, size):
    """The value with a leading batch axis, broadcast if it had none."""
    if batched:
        return value
    from .structure import broadcast_to
    return broadcast_to(value, (size,) + tuple(shape_of(value)))


def elementwise(primitive, values, batched, params, size):
    """Every elementwise primitive: batched values aligned to the full rank, batch first; unbatched values
    broadcast from the right."""
    from .structure import reshape
    rank = max(len(shape_of(v)) - 1 if b else len(shape_of(v)) for v, b in zip(values, batched))
    aligned = []
    for value, is_batched in zip(values, batched):
        shape = shape_of(value)
        if is_batched and len(shape) - 1 < rank:
            value = reshape(value, new_shape=(shape[0],) + (1,) * (rank - len(shape) + 1) + tuple(shape[1:]))
        aligned.append(value)
    return primitive(*aligned, **params)


def shifted_axes(name):
    """The rule of a primitive on one operand whose parameter ``name`` (an axis or a tuple of axes) moves
    past the batch axis."""
    def rule(primitive, values, batched, params, size):
        shifted = dict(params)
        axes = params[name]
        shifted[name] = tuple(a + 1 for a in axes) if isinstance(axes, tuple) else axes + 1
        return primitive(values[0], **shifted)
    rule.__name__ = f"shifted_{name}_batch_rule"
    return rule


def same_params(primitive, values, batched, params, size):
    """The rule of a one-operand primitive that already acts on any leading axes."""
    return primitive(values[0], **params)


def stacked(primitive, values, batched, params, size):
    """The rule of primitives that act on stacks along leading axes (linear algebra): array operands
    without the batch are broadcast to it."""
    return primitive(*[v if isinstance(v, (int, float, bool, complex)) else materialize(v, b, size)
                       for v, b in zip(values, batched)], **params)
