"""Indexing primitives: ``gather`` (x[index]), ``scatter_add`` (its transpose), ``scatter`` (x.at[index].set).

An index is kept as a hashable *template* (slices, ints, None, Ellipsis, and numbered slots for
integer arrays); the integer arrays themselves are operands, so staged graphs may compute them.
"""
import numpy as np

from ..core.primitive import Primitive
from ..core.zeros import instantiate
from .families import linear


class IndexTemplate(tuple):
    """A NumPy index with its integer arrays taken out: entries are ('slice', start, stop, step), ('int', i),
    ('none',), ('ellipsis',) or ('array', position)."""

    __slots__ = ()

    @property
    def has_arrays(self):
        return any(entry[0] == "array" for entry in self)

    def build(self, arrays):
        """The NumPy index for this template with ``arrays`` in its slots."""
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
        return tuple(parts)

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


def _gather_impl(x, *arrays, template):
    return np.asarray(x)[template.build(arrays)]


def _gather_transpose(out_bar, out, x, *arrays, template):
    return scatter_add(out_bar, *arrays, template=template, shape=np.shape(x))


gather = linear("gather", _gather_impl, _gather_transpose)


def _scatter_add_impl(updates, *arrays, template, shape):
    updates = np.asarray(updates)
    out = np.zeros(shape, dtype=updates.dtype)
    if template.has_arrays:
        np.add.at(out, template.build(arrays), updates)  # repeated indices accumulate
    else:
        out[template.build(arrays)] = updates
    return out


def _scatter_add_transpose(out_bar, out, updates, *arrays, template, shape):
    return gather(out_bar, *arrays, template=template)


scatter_add = linear("scatter_add", _scatter_add_impl, _scatter_add_transpose)


def _scatter_impl(x, updates, *arrays, template):
    out = np.array(x, dtype=np.result_type(x, updates), copy=True)
    out[template.build(arrays)] = updates
    return out


def _scatter_jvp(primals, tangents, *, template):
    x, updates, *arrays = primals
    x_dot, updates_dot = tangents[0], tangents[1]
    out = scatter.bind(*primals, template=template)
    if x_dot is None and updates_dot is None:
        return out, None
    x_dot = instantiate(x_dot, out)
    updates_dot = 0.0 if updates_dot is None else updates_dot
    return out, scatter(x_dot, updates_dot, *arrays, template=template)


def _last_update_wins(x, region_shape, arrays, template):
    """Mask over the indexed region: True where that update is the one left in the output (the last
    one written to its position), built from primitives so that traced index arrays work too."""
    ids = np.arange(int(np.prod(region_shape, dtype=np.int64)), dtype=np.int64).reshape(region_shape)
    winners = scatter(np.full(np.shape(x), -1, dtype=np.int64), ids, *arrays, template=template)
    from .comparison import eq
    return eq(gather(winners, *arrays, template=template), ids)


def _scatter_pullback(out_bar, out, x, updates, *arrays, template):
    x_bar = scatter(out_bar, 0.0, *arrays, template=template)
    updates_bar = gather(out_bar, *arrays, template=template)
    if template.has_arrays:  # repeated positions: an overwritten update does not reach the output
        from .comparison import select
        updates_bar = select(_last_update_wins(x, np.shape(updates_bar), arrays, template), updates_bar, 0.0)
    updates_shape = np.shape(updates)
    if np.shape(updates_bar) != updates_shape:  # updates were broadcast into the indexed region
        from .structure import _broadcast_transpose
        updates_bar = _broadcast_transpose(updates_bar, None, updates, shape=np.shape(updates_bar))
    return (x_bar, updates_bar) + (None,) * len(arrays)


scatter = Primitive("scatter", _scatter_impl, jvp=_scatter_jvp, vjp=_scatter_pullback,
                    convention="with repeated indices the last update wins, as in NumPy; the overwritten "
                               "updates get zero cotangent")


def take_slices(x, slices):
    """``x[slices]`` for a tuple of Python slices (used by other primitives' rules)."""
    template, arrays = split_index(slices)
    return gather(x, *arrays, template=template)
