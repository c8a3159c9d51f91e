"""Indexing primitives: ``gather`` (x[index]), ``scatter_add`` (its transpose), ``scatter`` (x.at[index].set).

An index is kept as a hashable *template* (slices, ints, None, Ellipsis, and numbered slots for
integer arrays); the integer arrays themselves are operands, so staged graphs may compute them.
"""
import numpy as np

from ..core.avals import ShapedArray
from ..core.cotangents import SliceSum
from ..core.primitive import Primitive
from ..core.zeros import instantiate
from .batch_rules import materialize, shape_of
from .families import linear


_BASIC_INDICES = {}  # template without index arrays -> its NumPy index, built once (IndexTemplate.build)


class IndexTemplate(tuple):
    """A NumPy index with its integer arrays taken out: entries are ('slice', start, stop, step), ('int', i),
    ('none',), ('ellipsis',) or ('array', position)."""

    __slots__ = ()

    @property
    def has_arrays(self):
        return any(entry[0] == "array" for entry in self)

    def build(self, arrays):
        """The NumPy index for this template with ``arrays`` in its slots."""
        if not arrays:
            index = _BASIC_INDICES.get(self)
            if index is not None:
                return index
        parts = []
        for entry in self:
            kind = entry[0]
            if kind == "slice":
                parts.append(slice(entry[1], entry[2], entry[3]))
            elif kind == "int":
                parts.append(entry[1])
            elif kind == "none":
                parts.append(None)
            elif kind == "ellipsis":
                parts.append(Ellipsis)
            else:
                parts.append(arrays[entry[1]])
        index = tuple(parts)
        if not arrays and len(_BASIC_INDICES) < 4096:
            _BASIC_INDICES[self] = index
        return index

    def __repr__(self):
        shown = []
        for entry in self:
            kind = entry[0]
            if kind == "slice":
                start, stop, step = ("" if v is None else v for v in entry[1:])
                shown.append(f"{start}:{stop}" + (f":{step}" if step != "" else ""))
            elif kind == "int":
                shown.append(str(entry[1]))
            elif kind == "none":
                shown.append("None")
            elif kind == "ellipsis":
                shown.append("...")
            else:
                shown.append(f"#{entry[1]}")
        return "[" + ", ".join(shown) + "]"


_INTEGER_TEMPLATES = {}


def integer_template(index):
    """The template of ``x[index]`` for a Python int, made once per integer."""
    template = _INTEGER_TEMPLATES.get(index)
    if template is None:
        template = _INTEGER_TEMPLATES[index] = IndexTemplate((("int", index),))
    return template


def split_index(index):
    """Split a NumPy-style index into (IndexTemplate, integer arrays). Boolean masks must be concrete."""
    if not isinstance(index, tuple):
        index = (index,)
    template, arrays = [], []
    for part in index:
        if isinstance(part, slice):
            template.append(("slice", part.start, part.stop, part.step))
        elif part is None:
            template.append(("none",))
        elif part is Ellipsis:
            template.append(("ellipsis",))
        elif isinstance(part, (int, np.integer)) and not isinstance(part, bool):
            template.append(("int", int(part)))
        else:
            if hasattr(part, "aval"):  # a traced integer array (e.g. computed by argsort inside a graph)
                array = part
            else:
                array = np.asarray(part)
                if array.dtype == bool:
                    for nonzero in np.nonzero(array):
                        template.append(("array", len(arrays)))
                        arrays.append(nonzero)
                    continue
                if not np.issubdtype(array.dtype, np.integer):
                    raise IndexError(f"arrays used as indices must be of integer or boolean type, got {array.dtype}")
            template.append(("array", len(arrays)))
            arrays.append(array)
    return IndexTemplate(template), arrays


# ------------------------------------------------------------------------------------------- batching
# Index arrays shared by every example: the batch axis becomes a full slice in front of the index; advanced
# indices that NumPy moves to the front (when basic indices separate them) are moved back behind it.
# Per-example index arrays (sort, take_along_axis, x[argmax(x)], ...): the batch axis is indexed by one more
# index array, arange(size), broadcast against the examples' arrays, so example k reads only its own row.

_FULL_SLICE = ("slice", None, None, None)
_ADVANCED = ("array", "int")


def _advanced_layout(template, arrays):
    """(advanced indices separated by basic ones?, rank of the broadcast advanced result)."""
    if not arrays:
        return False, 0
    kinds = [entry[0] for entry in template]
    advanced = [i for i, kind in enumerate(kinds) if kind in _ADVANCED]
    separated = advanced[-1] - advanced[0] + 1 != len(advanced)
    rank = len(np.broadcast_shapes(*(shape_of(a) for a in arrays)))
    return separated, rank


def _batched_template(template):
    return IndexTemplate((_FULL_SLICE,) + tuple(template))


def _without_ellipsis(template, ndim):
    """``template`` with its Ellipsis written out as full slices for an operand of rank ``ndim`` (an Ellipsis
    that stands for no axis must not count as a separator between advanced indices)."""
    if not any(entry[0] == "ellipsis" for entry in template):
        return template
    consumed = sum(1 for entry in template if entry[0] in ("slice", "int", "array"))
    entries = []
    for entry in template:
        entries.extend([_FULL_SLICE] * (ndim - consumed) if entry[0] == "ellipsis" else [entry])
    return IndexTemplate(entries)


def _example_shapes(arrays, batched):
    return [tuple(shape_of(a)[1:]) if b else tuple(shape_of(a)) for a, b in zip(arrays, batched)]


def _indexed_per_example(template, arrays, batched, size):
    """The template and index arrays that index an operand with the batch in front, example by example.

    Returns (template, arrays, permutation): ``permutation`` takes the result of that index to the batch
    followed by one example's result (None when it is already in that order)."""
    from .structure import reshape
    shapes = _example_shapes(arrays, batched)
    rank = len(np.broadcast_shapes(*shapes))
    aligned = []
    for array, is_batched, shape in zip(arrays, batched, shapes):
        if is_batched and len(shape) < rank:  # the example's dimensions broadcast from the right
            array = reshape(array, new_shape=(size,) + (1,) * (rank - len(shape)) + shape)
        aligned.append(array)
    batch_index = np.arange(size).reshape((size,) + (1,) * rank)
    per_example = IndexTemplate((("array", len(arrays)),) + tuple(template))
    return per_example, aligned + [batch_index], _batch_first_order(template, rank)


def _batch_first_order(template, rank):
    # With the batch index in front, NumPy puts the advanced dimensions (batch, then the examples' broadcast
    # shape) first. One example puts them there too when basic indices separate its advanced ones, or when
    # they start the index; otherwise they come after the leading basic dimensions, which must move back.
    kinds = [entry[0] for entry in template]
    advanced = [i for i, kind in enumerate(kinds) if kind in _ADVANCED]
    separated = advanced[-1] - advanced[0] + 1 != len(advanced)
    leading = advanced[0]  # slices and new axes before the first advanced index: one dimension each
    if separated or leading == 0:
        return None
    return ((0,) + tuple(range(1 + rank, 1 + rank + leading)) + tuple(range(1, 1 + rank)),
            1 + rank + leading)


def _permuted(value, order):
    """``value`` transposed by ``order`` = (leading permutation, first axis it leaves in place)."""
    if order is None:
        return value
    from .structure import transpose
    head, rest = order
    ndim = len(shape_of(value))
    return transpose(value, permutation=head + tuple(range(rest, ndim)))


def _unpermuted(value, order):
    """The inverse of ``_permuted``: one example's layout back to the layout of the batched index."""
    if order is None:
        return value
    from .structure import transpose
    head, rest = order
    ndim = len(shape_of(value))
    return transpose(value, permutation=tuple(int(i) for i in np.argsort(head)) + tuple(range(rest, ndim)))


def _gather_batch(primitive, values, batched, params, size):
    template = params["template"]
    arrays = values[1:]
    if any(batched[1:]):
        operand = materialize(values[0], batched[0], size)
        template = _without_ellipsis(template, len(shape_of(operand)) - 1)
        per_example, index_arrays, order = _indexed_per_example(template, arrays, batched[1:], size)
        return _permuted(gather(operand, *index_arrays, template=per_example), order)
    out = gather(values[0], *arrays, template=_batched_template(template))
    separated, rank = _advanced_layout(template, arrays)
    if separated:
        from .structure import transpose
        ndim = len(shape_of(out))
        out = transpose(out, permutation=(rank,) + tuple(i for i in range(ndim) if i != rank))
    return out


def _move_batch_for_scatter(updates, template, arrays):
    separated, rank = _advanced_layout(template, arrays)
    if not separated:
        return updates
    from .structure import transpose
    ndim = len(shape_of(updates))
    order = list(range(1, rank + 1)) + [0] + list(range(rank + 1, ndim))
    return transpose(updates, permutation=tuple(order))


def _scatter_add_batch(primitive, values, batched, params, size):
    template = params["template"]
    shape = (size,) + tuple(params["shape"])
    if any(batched[1:]):
        template = _without_ellipsis(template, len(params["shape"]))
        per_example, index_arrays, order = _indexed_per_example(template, values[1:], batched[1:], size)
        updates = _unpermuted(materialize(values[0], batched[0], size), order)
        return scatter_add(updates, *index_arrays, template=per_example, shape=shape)
    updates = _move_batch_for_scatter(values[0], template, values[1:])
    return scatter_add(updates, *values[1:], template=_batched_template(template), shape=shape)


def _aligned_updates(updates, example_shape, template, arrays, batched):
    """Batched ``updates`` with the rank of the indexed region: per example they broadcast into it from the
    right, which the batch in front would otherwise break."""
    from .structure import reshape
    dummies = [np.zeros(shape, dtype=np.int64) for shape in _example_shapes(arrays, batched)]
    region_rank = np.empty(example_shape, dtype=bool)[template.build(dummies)].ndim
    update_shape = shape_of(updates)
    if len(update_shape) - 1 < region_rank:
        updates = reshape(updates, new_shape=(update_shape[0],) + (1,) * (region_rank - len(update_shape) + 1)
                          + tuple(update_shape[1:]))
    return updates


def _scatter_batch(primitive, values, batched, params, size):
    template = params["template"]
    operand = materialize(values[0], batched[0], size)
    example_shape = shape_of(operand)[1:]
    arrays = values[2:]
    if any(batched[2:]):
        template = _without_ellipsis(template, len(example_shape))
        updates = materialize(values[1], batched[1], size)
        updates = _aligned_updates(updates, example_shape, template, arrays, batched[2:])
        per_example, index_arrays, order = _indexed_per_example(template, arrays, batched[2:], size)
        return scatter(operand, _unpermuted(updates, order), *index_arrays, template=per_example)
    updates = values[1]
    if batched[1]:
        updates = _aligned_updates(updates, example_shape, template, arrays, batched[2:])
        updates = _move_batch_for_scatter(updates, template, arrays)
    return scatter(operand, updates, *arrays, template=_batched_template(template))


def _gather_impl(x, *arrays, template):
    return (x if type(x) is np.ndarray else np.asarray(x))[template.build(arrays)]


def _gather_transpose(out_bar, x, *arrays, template):
    if isinstance(out_bar, (np.ndarray, np.generic)) and not template.has_arrays:
        # A basic slice or element: keep the cotangent sparse (written into one array when needed).
        return SliceSum(x.shape, out_bar.dtype, [(template.build(()), out_bar)])
    return scatter_add(out_bar, *arrays, template=template, shape=x.shape)


gather = linear("gather", _gather_impl, _gather_transpose, batch=_gather_batch)


def _scatter_add_impl(updates, *arrays, template, shape):
    updates = np.asarray(updates)
    out = np.zeros(shape, dtype=updates.dtype)
    if template.has_arrays:
        np.add.at(out, template.build(arrays), updates)  # repeated indices accumulate
    else:
        out[template.build(arrays)] = updates
    return out


def _scatter_add_transpose(out_bar, updates, *arrays, template, shape):
    return gather(out_bar, *arrays, template=template)


scatter_add = linear("scatter_add", _scatter_add_impl, _scatter_add_transpose, batch=_scatter_add_batch)


def _scatter_impl(x, updates, *arrays, template):
    out = np.array(x, dtype=np.result_type(x, updates), copy=True)
    out[template.build(arrays)] = updates
    return out


def _scatter_jvp(primals, tangents, *, template):
    x, updates, *arrays = primals
    x_dot, updates_dot = tangents[0], tangents[1]
    out = scatter(*primals, template=template)
    if x_dot is None and updates_dot is None:
        return out, None
    x_dot = instantiate(x_dot, out)
    updates_dot = 0.0 if updates_dot is None else updates_dot
    return out, scatter(x_dot, updates_dot, *arrays, template=template)


def _last_update_wins(x_shape, region_shape, arrays, template):
    """Mask over the indexed region: True where that update is the one left in the output (the last
    one written to its position), built from primitives so that traced index arrays work too."""
    ids = np.arange(int(np.prod(region_shape, dtype=np.int64)), dtype=np.int64).reshape(region_shape)
    winners = scatter(np.full(x_shape, -1, dtype=np.int64), ids, *arrays, template=template)
    from .comparison import eq
    return eq(gather(winners, *arrays, template=template), ids)


def _scatter_vjp(out, x, updates, *arrays, template):
    x_shape, updates_shape = np.shape(x), np.shape(updates)

    def scatter_pullback(out_bar):
        x_bar = scatter(out_bar, 0.0, *arrays, template=template)
        updates_bar = gather(out_bar, *arrays, template=template)
        if template.has_arrays:  # repeated positions: an overwritten update does not reach the output
            from .comparison import select
            updates_bar = select(_last_update_wins(x_shape, np.shape(updates_bar), arrays, template), updates_bar, 0.0)
        if np.shape(updates_bar) != updates_shape:  # updates were broadcast into the indexed region
            from .structure import _broadcast_transpose
            updates_bar = _broadcast_transpose(updates_bar, ShapedArray(updates_shape, np.result_type(updates_bar)),
                                               shape=np.shape(updates_bar))
        return (x_bar, updates_bar) + (None,) * len(arrays)
    return scatter_pullback


scatter = Primitive("scatter", _scatter_impl, jvp=_scatter_jvp, vjp=_scatter_vjp, batch=_scatter_batch,
                    convention="with repeated indices the last update wins, as in NumPy; the overwritten "
                               "updates get zero cotangent")


def take_slices(x, slices):
    """``x[slices]`` for a tuple of Python slices (used by other primitives' rules)."""
    template, arrays = split_index(slices)
    return gather(x, *arrays, template=template)
