"""Index sets, one per element of an array: which inputs (or which input pairs) an element depends on.

Stored as one compressed-row table per array (the layout of a CSR matrix without values), so every
operation the sparsity analysis needs is a vectorized NumPy step, whatever the number of elements.
"""
import numpy as np
import scipy.sparse


class IndexSets:
    """``rows`` sorted sets of integers below ``width``: row ``r`` holds ``indices[indptr[r]:indptr[r + 1]]``."""

    __slots__ = ("indptr", "indices", "width")

    def __init__(self, indptr, indices, width):
        self.indptr = indptr
        self.indices = indices
        self.width = width

    @property
    def rows(self):
        return len(self.indptr) - 1

    @property
    def lengths(self):
        return np.diff(self.indptr)

    @classmethod
    def identity(cls, rows, width, offset=0):
        """Row ``r`` is ``{offset + r}``: the elements of an input."""
        return cls(np.arange(rows + 1, dtype=np.int64), np.arange(offset, offset + rows, dtype=np.int64), width)

    @classmethod
    def from_entries(cls, rows, row, column, width):
        """The sets holding ``column[k]`` in row ``row[k]`` (repeats merged)."""
        row = np.asarray(row, dtype=np.int64)
        column = np.asarray(column, dtype=np.int64)
        if row.size == 0:
            return cls(np.zeros(rows + 1, dtype=np.int64), np.zeros(0, dtype=np.int64), width)
        if rows * width < 2 ** 62:
            # One sort orders by row, then column. The pieces usually arrive as sorted runs (one per set merged),
            # which a stable sort (timsort) merges in near-linear time.
            keys = np.sort(row * width + column, kind="stable")
            if keys.size > 1:
                keys = keys[np.concatenate(([True], keys[1:] != keys[:-1]))]
            row, column = np.divmod(keys, width)
        else:
            order = np.lexsort((column, row))
            row, column = row[order], column[order]
            keep = np.ones(row.size, dtype=bool)
            keep[1:] = (row[1:] != row[:-1]) | (column[1:] != column[:-1])
            row, column = row[keep], column[keep]
        indptr = np.zeros(rows + 1, dtype=np.int64)
        np.cumsum(np.bincount(row, minlength=rows), out=indptr[1:])
        return cls(indptr, column, width)

    def entries(self):
        """(row, column) of every member, row by row."""
        return np.repeat(np.arange(self.rows, dtype=np.int64), self.lengths), self.indices

    def select(self, source):
        """Row ``k`` of the result is row ``source[k]`` of these sets (empty where ``source[k] < 0``)."""
        source = np.asarray(source, dtype=np.int64).ravel()
        valid = source >= 0
        safe = np.where(valid, source, 0)
        starts = self.indptr[safe]
        lengths = np.where(valid, self.indptr[safe + 1] - starts, 0)
        indptr = np.zeros(source.size + 1, dtype=np.int64)
        np.cumsum(lengths, out=indptr[1:])
        return IndexSets(indptr, self.indices[_ranges(starts, lengths)], self.width)

    def gather_union(self, rows, out_row, in_row):
        """``rows`` sets: row ``o`` is the union of rows ``i`` over the pairs ``(out_row[k], in_row[k]) = (o, i)``."""
        in_row = np.asarray(in_row, dtype=np.int64).ravel()
        out_row = np.asarray(out_row, dtype=np.int64).ravel()
        starts = self.indptr[in_row]
        lengths = self.indptr[in_row + 1] - starts
        return IndexSets.from_entries(rows, np.repeat(out_row, lengths), self.indices[_ranges(starts, lengths)],
                                      self.width)

    def union_all(self):
        """One set: the union of every row."""
        return np.unique(self.indices)

    def broadcast_row(self, members, rows):
        """``rows`` copies of the one set ``members``."""
        members = np.asarray(members, dtype=np.int64)
        indptr = np.arange(rows + 1, dtype=np.int64) * members.size
        return IndexSets(indptr, np.tile(members, rows), self.width)

    def pairs(self, size):
        """Per row, every pair ``(i, j)`` of its members with ``i <= j``, as the key ``i * size + j``."""
        return self.cross(self, size)

    def cross(self, other, size):
        """Per row, every pair of one member of this row and one of ``other``'s, as the key
        ``min * size + max`` (a symmetric pair is stored once)."""
        own, theirs = self.lengths, other.lengths
        counts = own * theirs
        row = np.repeat(np.arange(self.rows, dtype=np.int64), counts)
        # Entry e of row r meets every member of other's row r: e repeated len(other row) times.
        repeats = np.repeat(theirs, own)
        first = np.repeat(self.indices, repeats)
        partner_start = np.repeat(other.indptr[:-1], counts)
        offset = np.arange(first.size, dtype=np.int64) - np.repeat(np.cumsum(repeats) - repeats, repeats)
        second = other.indices[partner_start + offset]
        low, high = np.minimum(first, second), np.maximum(first, second)
        return IndexSets.from_entries(self.rows, row, low * size + high, size * size)

    def to_matrix(self):
        """The sets as a boolean scipy.sparse CSR matrix (rows x width)."""
        return scipy.sparse.csr_array((np.ones(self.indices.size, dtype=bool), self.indices, self.indptr),
                                      shape=(self.rows, self.width))


def union(sets, rows, width):
    """The row-by-row union of several ``IndexSets`` (None entries mean empty); None when all are empty."""
    present = [s for s in sets if s is not None and s.indices.size]
    if not present:
        return None
    if len(present) == 1:
        return present[0]
    row = np.concatenate([s.entries()[0] for s in present])
    column = np.concatenate([s.indices for s in present])
    return IndexSets.from_entries(rows, row, column, width)


def stack(sets):
    """The rows of several ``IndexSets`` one after another (None: ``IndexSets`` of the given row count)."""
    indptr = [np.zeros(1, dtype=np.int64)]
    indices = []
    end = 0
    for s in sets:
        indptr.append(s.indptr[1:] + end)
        indices.append(s.indices)
        end += s.indices.size
    return IndexSets(np.concatenate(indptr), np.concatenate(indices), sets[0].width)


def _ranges(starts, lengths):
    """The concatenated ranges ``starts[k] .. starts[k] + lengths[k] - 1``."""
    total = int(lengths.sum())
    if total == 0:
        return np.zeros(0, dtype=np.int64)
    offsets = np.arange(total, dtype=np.int64) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    return np.repeat(starts, lengths) + offsets
