"""Graph colorings that group the columns (or rows) of a sparse Jacobian, or the columns of a symmetric
Hessian, so that one derivative pass per color recovers every nonzero entry. Shared by ``chainrule.fd``
(grouped finite differences) and ``chainrule.sparse`` (compressed AD), so it needs only NumPy and SciPy.

- ``column`` / ``row``: distance-2 coloring of the bipartite graph of the pattern, i.e. a distance-1
  coloring of the column (row) intersection graph: columns of one color share no row (structurally
  orthogonal), so each entry of a compressed column belongs to exactly one original column.
- ``star``: a coloring of the symmetric pattern's adjacency graph in which every path on four vertices uses
  at least three colors; each Hessian entry is then read directly from a compressed column (Gebremedhin,
  Manne, Pothen, "What color is your Jacobian?", SIAM Review 2005, Algorithm 4.1).
- ``acyclic``: every cycle uses at least three colors; fewer colors than a star coloring, entries recovered
  by substitution along the two-colored trees.
- ``bicolor``: columns and rows colored together, for forward and reverse passes combined (a Jacobian with
  dense rows and dense columns, such as an arrow matrix, needs many colors either way but few both ways).
  The partitioning heuristic: the densest rows' entries outside the densest columns are read from reverse
  passes, every other entry from forward passes, and each part gets a column or row coloring (also the
  mirror image, with the roles of rows and columns swapped); the best split over a few candidate numbers of
  dense rows and columns is kept.

The default order, ``"auto"``, is vectorized: first fit runs over whole sets of structurally orthogonal
columns at once (each row keeps the colors taken in it as bits of one int64 word), first in natural order
in lockstep blocks, then in Culberson's iterated greedy passes, which revisit the color classes in another
order and never need more colors; a stencil pattern is also tried with index mod a period that no two
columns of a row differ by a multiple of. The named orders are sequential greedy passes over Python lists.
"""
import numpy as np
import scipy.sparse
import scipy.sparse.csgraph

__all__ = ["coloring", "is_structurally_orthogonal", "is_star_coloring", "is_acyclic_coloring", "is_bicoloring",
           "star_places", "bicolor_rounds", "KINDS", "ORDERS"]

KINDS = ("column", "row", "star", "acyclic", "bicolor")
ORDERS = ("auto", "natural", "largest_first", "smallest_last", "dsatur", "best")
_GREEDY_ORDERS = {"column": ("natural", "largest_first", "smallest_last", "dsatur"),
                  "row": ("natural", "largest_first", "smallest_last", "dsatur"),
                  "star": ("natural", "largest_first", "smallest_last"),
                  "acyclic": ("natural", "largest_first", "smallest_last")}

# Colors a row's int64 mark word can hold; a pattern with a longer row needs more colors than that anyway
# and is colored by the sequential pass, whose Python integers have no such limit.
_MARK_BITS = 62
# The lockstep pass cuts the natural order into blocks of this many columns and colors the t-th column of
# every block together: a few dozen vectorized steps, whatever the size (60: a multiple of the periods of
# many stencil colorings, so the blocks' colorings meet without clashes).
_BLOCK = 60
# Up to this many pattern entries, the first pass is the sequential natural order (a few milliseconds).
_SEQUENTIAL_BUDGET = 20_000
# Up to this many edges in the column intersection graph (about 60 ms of DSATUR), "auto" also tries the
# sequential degree-aware orders on irregular patterns when the vectorized pass is above the lower bound.
_SEQUENTIAL_EDGES = 150_000
# ... and on any pattern with up to this many (a few milliseconds).
_SMALL_EDGES = 10_000
# Beyond _SEQUENTIAL_EDGES, irregular patterns still get the largest-first and smallest-last orders up to this
# many edges (about 0.1 and 0.3 s at 1.3 million): on random patterns the vectorized pass used 10-15% more
# colors than networkx's greedy strategies, a cost paid at every evaluation, the coloring once per shape.
_DEGREE_ORDER_EDGES = 2_000_000
# ... and DSATUR up to this many (about 0.15 s at 325,000; the fewest colors on random patterns).
_DSATUR_EDGES = 500_000
# How many within-row column differences of each kind propose the periods to check.
_PERIOD_SAMPLE = 512
# Iterated greedy stops after this many passes, or after _PATIENCE passes without fewer colors.
_PASSES = 24
_PATIENCE = 3
# The sequential star pass runs under "auto" when the paths it walks are at most this many (small graphs).
_STAR_PATH_BUDGET = 150_000
# Bicoloring tries as dense rows (columns) the 0, 1, 2, 4, ... densest ones up to this many, and all of them.
_DENSE_SPLIT_LIMIT = 32


def coloring(pattern, kind="column", order="auto"):
    """Color the pattern's columns (``kind="column"``), rows (``"row"``) or, for a symmetric pattern,
    vertices (``"star"``, ``"acyclic"``); return one color (0, 1, ...) per column, row or vertex.
    ``kind="bicolor"`` returns ``(column_colors, row_colors)`` for forward and reverse passes together: color
    c >= 1 is the c-th forward (reverse) pass, 0 means the column (row) is in no pass; each entry is then
    recovered as ``bicolor_rounds`` describes, and ``is_bicoloring`` checks that every entry is.

    ``order``: ``"auto"`` (default; vectorized, a few milliseconds for 10,000 columns of a stencil
    pattern) colors columns and rows by first fit over sets of structurally orthogonal columns followed by
    iterated greedy passes, and on small or irregular patterns (random, unstructured: where degree-aware
    orders win) also by the sequential largest-first, smallest-last and DSATUR orders; a star coloring is then the fewest colors of a distance-2 coloring, the same
    with the densest vertices given colors of their own, and (on small graphs) the sequential star pass.
    The sequential greedy orders are ``"natural"``, ``"largest_first"`` (by degree), ``"smallest_last"``
    (Matula-Beck degeneracy order) and ``"dsatur"`` (most distinct neighbor colors first; column and row
    colorings only); ``"best"`` tries ``"auto"`` and each of those, keeping the fewest colors (slower).

    >>> import numpy as np, scipy.sparse
    >>> tridiagonal = scipy.sparse.diags([1.0, 1.0, 1.0], [-1, 0, 1], shape=(6, 6))
    >>> coloring(tridiagonal, "column", order="natural")
    array([0, 1, 2, 0, 1, 2])
    >>> coloring(tridiagonal, "star", order="natural")
    array([0, 1, 0, 2, 0, 1])
    >>> int(coloring(scipy.sparse.eye(6) + scipy.sparse.eye(6, k=1), "column").max()) + 1
    2
    >>> arrow = np.eye(6, dtype=bool); arrow[0] = arrow[:, 0] = True
    >>> columns, rows = coloring(arrow, "bicolor")
    >>> int(columns.max() + rows.max())  # passes: 6 forward or 6 reverse alone
    3
    """
    matrix = _as_pattern(pattern)
    if kind not in KINDS:
        raise ValueError(f"coloring: kind must be one of {KINDS}, got {kind!r}")
    if order not in ORDERS:
        raise ValueError(f"coloring: order must be one of {ORDERS}, got {order!r}")
    if order == "dsatur" and kind in ("star", "acyclic"):
        raise ValueError(f"coloring: order='dsatur' is for column and row colorings; for kind={kind!r} use "
                         f"'auto', 'natural', 'largest_first' or 'smallest_last'")
    if kind == "bicolor":
        orders = ("auto",) + _GREEDY_ORDERS["column"] if order == "best" else (order,)
        return min((_bicolor(matrix, each) for each in orders), key=_bicolor_passes)
    if order == "best":
        candidates = [coloring(matrix, kind, each) for each in ("auto",) + _GREEDY_ORDERS[kind]]
        return min(candidates, key=lambda colors: colors.max(initial=-1))
    if kind in ("column", "row"):
        columns_of = matrix if kind == "column" else matrix.T.tocsr()
        return _auto_columns(columns_of) if order == "auto" else \
            _distance1(_intersection_graph(columns_of.tocsc()), order)
    graph = _symmetric_graph(matrix, kind)
    if kind == "star":
        return _fast_star(graph) if order == "auto" else _star(graph, order)
    return _acyclic(graph, "smallest_last" if order == "auto" else order)


def _as_pattern(pattern):
    if scipy.sparse.issparse(pattern):
        matrix = scipy.sparse.csr_array(pattern)
    else:
        array = np.asarray(pattern)
        if array.ndim != 2:
            raise ValueError(f"coloring: the pattern must be a 2-d matrix, got shape {array.shape}")
        matrix = scipy.sparse.csr_array(array)
    matrix = matrix.astype(bool)
    matrix.eliminate_zeros()
    matrix.sort_indices()
    return matrix


def _intersection_graph(csc):
    """Columns joined when they share a row: the adjacency (CSR, with self loops, which the greedy pass
    ignores) of A^T A."""
    ones = scipy.sparse.csc_array((np.ones(csc.nnz, dtype=np.int32), csc.indices, csc.indptr), shape=csc.shape)
    graph = (ones.T @ ones).tocsr()
    return graph.indptr, graph.indices


def _symmetric_graph(matrix, kind):
    rows, columns = matrix.shape
    if rows != columns:
        raise ValueError(f"coloring: kind={kind!r} needs the square, symmetric pattern of a Hessian; got shape "
                         f"{matrix.shape}. Use kind='column' or 'row' for a Jacobian")
    symmetric = (matrix + matrix.T).tocsr()
    symmetric.setdiag(False)
    symmetric.eliminate_zeros()
    symmetric.sort_indices()
    return symmetric.indptr, symmetric.indices


# ------------------------------------------------------------------------------------------ vectorized

class _Columns:
    """The pattern's columns as CSC arrays; first fit over sets of columns that share no row."""

    def __init__(self, csr):
        csc = csr.tocsc()
        self.row_count = csr.shape[0]
        self.indptr = csc.indptr.astype(np.int64)
        self.indices = csc.indices.astype(np.int64)
        self.counts = np.diff(self.indptr)
        self.longest_row = int(np.diff(csr.indptr).max(initial=0))
        self.row_indices = csr.indices.astype(np.int64)
        self.row_of_entry = np.repeat(np.arange(csr.shape[0], dtype=np.int64), np.diff(csr.indptr))

    def first_fit(self, order, level_ends, marks=None):
        """Color the columns in ``order`` (empty columns excluded) level by level: ``order[a:b]`` for
        consecutive ``level_ends`` share no row, so one vectorized step gives each the lowest color no earlier
        column of its rows took, exactly as a sequential pass in this order would. Return the colors as
        bits (``1 << color``) in ``order``'s positions, and the marks per row."""
        counts = self.counts[order]
        entry_ends = np.cumsum(counts)
        entry_starts = entry_ends - counts
        # the rows of every column, in order, gathered once: a level is then a slice
        rows = self.indices[np.repeat(self.indptr[order] - entry_starts, counts) + np.arange(entry_ends[-1])]
        marks = np.zeros(self.row_count, dtype=np.int64) if marks is None else marks
        bits = np.empty(order.size, dtype=np.int64)
        start = 0
        for end in level_ends:
            first, last = entry_starts[start], entry_ends[end - 1]
            level_rows = rows[first:last]
            taken = np.bitwise_or.reduceat(marks[level_rows], entry_starts[start:end] - first)
            lowest_free = ~taken & (taken + 1)
            marks[level_rows] |= np.repeat(lowest_free, counts[start:end])
            bits[start:end] = lowest_free
            start = end
        return bits, marks


def _colors_of_bits(bits):
    return (np.frexp(bits.astype(np.float64))[1] - 1).astype(np.int64)


def _auto_columns(csr):
    """The vectorized coloring, and, where it is above the lower bound (the longest row) and the column
    intersection graph is small (or irregular and not large), the sequential largest-first, smallest-last and
    DSATUR orders too (irregular and larger: largest-first and smallest-last, and DSATUR up to _DSATUR_EDGES): irregular patterns (random, unstructured meshes) are where a degree-aware order beats
    the vectorized natural start. The fewest colors win."""
    colors = _fast_columns(csr)
    row_lengths = np.diff(csr.indptr)
    if int(colors.max(initial=-1)) + 1 <= int(row_lengths.max(initial=0)):
        return colors  # optimal
    column_counts = np.bincount(csr.indices, minlength=csr.shape[1])
    irregular = _irregular(row_lengths) or _irregular(column_counts)
    # sum of squared row lengths: the intersection graph's edges, counted with multiplicity (an upper bound)
    edges = int(np.sum(row_lengths.astype(np.int64) ** 2))
    if edges <= (_SEQUENTIAL_EDGES if irregular else _SMALL_EDGES):
        orders = ("largest_first", "smallest_last", "dsatur")
    elif irregular and edges <= _DEGREE_ORDER_EDGES:
        # DSATUR's heap costs several times more: only while the graph is not large
        orders = ("largest_first", "smallest_last") + (("dsatur",) if edges <= _DSATUR_EDGES else ())
    else:
        return colors  # a large stencil: the vectorized pass with its periods is at its best there
    graph = _intersection_graph(csr.tocsc())
    candidates = [colors] + [_distance1(graph, order) for order in orders]
    return min(candidates, key=lambda each: int(each.max(initial=-1)))  # the first of the fewest: auto on ties


def _irregular(counts):
    """Whether entry counts vary (coefficient of variation above 0.2): random or unstructured patterns, not
    stencils, whose counts differ only at the boundary."""
    counts = counts[counts > 0]
    return counts.size > 1 and float(counts.std()) > 0.2 * float(counts.mean())


def _fast_columns(csr):
    """Column coloring, vectorized: natural order in lockstep blocks, then iterated greedy."""
    count = csr.shape[1]
    colors = np.zeros(count, dtype=np.int64)
    columns = _Columns(csr)
    occupied = np.flatnonzero(columns.counts)  # an empty column fits any color: it keeps 0
    if occupied.size == 0:
        return colors
    if columns.longest_row > _MARK_BITS:
        colors[occupied] = _sequential_first_fit(columns, occupied)
        return colors
    if columns.indices.size <= _SEQUENTIAL_BUDGET:
        start = _sequential_first_fit(columns, occupied)  # exact natural order, cheap at this size
    else:
        start = _lockstep_natural(columns, occupied)
    found = _iterated_greedy(columns, occupied, start)
    period = _period(columns, int(found.max()) + 1)  # fewer colors than ``found``, if any
    if period is not None:
        found = _iterated_greedy(columns, occupied, occupied % period)
    colors[occupied] = found
    return colors


def _period(columns, below):
    """The least p below ``below`` such that index mod p is a valid coloring, or None: no two columns of a
    row may differ by a multiple of p. Stencil patterns repeat a few differences everywhere, so a period
    that avoids them (the bandwidth of a banded pattern, 7 for the 5-point Laplacian) often needs fewer
    colors than a greedy pass finds. Candidates come from a sample of rows, and are then checked on all."""
    indices, row_of_entry = columns.row_indices, columns.row_of_entry
    offsets = range(1, columns.longest_row)
    pairs = [(indices[offset:] - indices[:-offset])[row_of_entry[offset:] == row_of_entry[:-offset]]
             for offset in offsets]
    if not pairs:
        return None
    sample = np.unique(np.concatenate([pair[::max(1, pair.size // _PERIOD_SAMPLE)] for pair in pairs]))
    candidates = [p for p in range(max(columns.longest_row, 1), min(below, _MARK_BITS + 1))
                  if not np.any(sample % p == 0)]
    for period in candidates[:3]:
        if not any(np.any(pair % period == 0) for pair in pairs):
            return period
    return None


def _lockstep_natural(columns, occupied):
    """First fit in natural order, cut into blocks of ``_BLOCK`` columns colored side by side: step t
    colors the t-th column of every block. Columns of one step that share a row are left to a sequential
    pass at the end, so every step is a set of structurally orthogonal columns."""
    step = np.arange(occupied.size) % _BLOCK
    order = np.argsort(step, kind="stable")
    level_ends = np.flatnonzero(np.diff(step[order])) + 1
    level_ends = np.append(level_ends, order.size)
    order, level_ends, deferred = _without_clashes(columns, occupied[order], level_ends)
    colors = np.empty(columns.counts.size, dtype=np.int64)
    bits, marks = columns.first_fit(order, level_ends) if order.size else (np.zeros(0, np.int64), None)
    colors[order] = _colors_of_bits(bits)
    if deferred.size:
        marks = np.zeros(columns.row_count, dtype=np.int64) if marks is None else marks
        colors[deferred] = _sequential_first_fit(columns, deferred, marks)
    return colors[occupied]


def _without_clashes(columns, order, level_ends):
    """Drop from each level the columns sharing a row with an earlier column of that level (returned
    separately, in order), with the levels' new ends."""
    level = np.full(columns.counts.size, -1, dtype=np.int64)
    level[order] = np.repeat(np.arange(level_ends.size), np.diff(np.append(0, level_ends)))
    # (row, level) keys in CSR order are sorted by row already: a stable sort only reorders short runs
    key = columns.row_of_entry * level_ends.size + level[columns.row_indices]
    by_key = np.argsort(key, kind="stable")
    repeated = np.flatnonzero(key[by_key][1:] == key[by_key][:-1]) + 1
    if repeated.size == 0:
        return order, level_ends, np.zeros(0, dtype=np.int64)
    clashing = np.zeros(columns.counts.size, dtype=bool)
    clashing[columns.row_indices[by_key[repeated]]] = True  # CSR order within a row: the later columns
    keep = ~clashing[order]
    kept_ends = np.cumsum(np.add.reduceat(keep, np.append(0, level_ends[:-1])))
    return order[keep], np.unique(kept_ends[kept_ends > 0]), order[~keep]


def _sequential_first_fit(columns, order, marks=None):
    """First fit over ``order`` one column at a time, with each row's taken colors as a Python integer
    (no limit on the number of colors)."""
    row_marks = [0] * columns.row_count if marks is None else [int(m) for m in marks.tolist()]
    indices, indptr = columns.indices.tolist(), columns.indptr.tolist()
    colors = []
    for column in order.tolist():
        rows = indices[indptr[column]:indptr[column + 1]]
        taken = 0
        for row in rows:
            taken |= row_marks[row]
        lowest_free = ~taken & (taken + 1)
        for row in rows:
            row_marks[row] |= lowest_free
        colors.append(lowest_free.bit_length() - 1)
    return np.asarray(colors, dtype=np.int64)


def _iterated_greedy(columns, occupied, colors):
    """Culberson's iterated greedy: first fit over the previous color classes, taken whole in another order
    (reversed, largest first, shuffled), never uses more colors, and often fewer. A row's length is a lower
    bound: stop there."""
    random = np.random.default_rng(0)
    best = colors
    stale = 0
    for attempt in range(_PASSES):
        count = int(colors.max()) + 1
        if count <= columns.longest_row or count > _MARK_BITS or stale >= _PATIENCE:
            break
        sizes = np.bincount(colors, minlength=count)
        class_order = (np.arange(count)[::-1], np.argsort(-sizes, kind="stable"),
                       random.permutation(count))[attempt % 3]
        position = np.empty(count, dtype=np.int16)
        position[class_order] = np.arange(count)
        keys = position[colors]
        order = np.argsort(keys, kind="stable")  # radix sort on int16 keys
        level_ends = np.cumsum(sizes[class_order])
        bits, _ = columns.first_fit(occupied[order], level_ends[level_ends > 0])
        colors = np.empty_like(colors)
        colors[order] = _colors_of_bits(bits)
        if colors.max() < best.max():
            best, stale = colors, 0
        else:
            stale += 1
    return best


def _fast_star(graph):
    """The fewest colors among: a distance-2 coloring (columns of the pattern with its diagonal that share
    no row; same-colored vertices are then three edges apart, so no path on four vertices is two-colored), the
    same with the densest vertices set apart, each with a color of its own, and, on small graphs, the
    sequential star pass."""
    indptr, indices = graph
    size = len(indptr) - 1
    if size == 0:
        return np.zeros(0, dtype=np.int64)
    candidates = [_distance2(indptr, indices, np.ones(size, dtype=bool))]
    hubs = _hubs(np.diff(indptr))
    if hubs.size:
        rest = np.ones(size, dtype=bool)
        rest[hubs] = False
        colors = _distance2(indptr, indices, rest)
        colors[hubs] = colors.max(initial=-1) + 1 + np.arange(hubs.size)
        candidates.append(colors)
    degree = np.diff(indptr)
    row = np.repeat(np.arange(size), degree)
    if int(np.dot(degree[row], degree[indices])) <= _STAR_PATH_BUDGET:
        candidates.append(_star(graph, "largest_first"))
    return min(candidates, key=lambda colors: colors.max(initial=-1))


def _distance2(indptr, indices, among):
    """A distance-2 coloring of the graph restricted to the vertices ``among`` (others get color 0)."""
    size = len(indptr) - 1
    adjacency = scipy.sparse.csr_array((np.ones(len(indices), dtype=bool), indices, indptr), shape=(size, size))
    keep = scipy.sparse.diags_array(among.astype(np.float64)).astype(bool)
    restricted = (keep @ adjacency @ keep + keep).tocsr()
    restricted.eliminate_zeros()
    restricted.sort_indices()
    return _fast_columns(restricted)


def _hubs(degree):
    """The vertices to give their own colors: a distance-2 coloring needs at least (max degree + 1) colors,
    so set apart the h densest vertices when h + (the next degree) + 1 is smallest, and none if h = 0 is."""
    by_degree = np.argsort(-degree, kind="stable")
    limit = min(degree.size, _MARK_BITS)
    estimate = np.arange(limit) + degree[by_degree[:limit]] + 1
    chosen = int(np.argmin(estimate))
    return by_degree[:chosen]


# ------------------------------------------------------------------------------------------ bicolor

def _bicolor(matrix, order):
    """Try splits (dense rows, dense columns) of the pattern and of its transpose; keep the fewest passes.
    Splits are visited by a lower bound on their passes (the longest row of the forward part plus the longest
    column of the reverse part) and skipped once that bound cannot beat the best found."""
    best, best_passes = None, None
    transposed = matrix.T.tocsr()
    splits = [(bound, False, rows, columns) for bound, rows, columns in _dense_splits(matrix)]
    splits += [(bound, True, rows, columns) for bound, rows, columns in _dense_splits(transposed, plain=False)]
    for bound, mirrored, dense_rows, dense_columns in sorted(splits, key=lambda split: split[0]):
        if best_passes is not None and bound >= best_passes:
            break
        if mirrored:
            row_colors, column_colors = _split_coloring(transposed, dense_rows, dense_columns, order)
        else:
            column_colors, row_colors = _split_coloring(matrix, dense_rows, dense_columns, order)
        passes = _bicolor_passes((column_colors, row_colors))
        if best_passes is None or passes < best_passes:
            best, best_passes = (column_colors, row_colors), passes
    return best


def _bicolor_passes(colors):
    column_colors, row_colors = colors
    return int(column_colors.max(initial=0)) + int(row_colors.max(initial=0))


def _split_entries(matrix, dense_rows, dense_columns):
    """Which entries (CSR order) are read from reverse passes: those in a dense row outside the dense columns."""
    rows = np.repeat(np.arange(matrix.shape[0]), np.diff(matrix.indptr))
    in_dense_row = np.zeros(matrix.shape[0], dtype=bool)
    in_dense_row[dense_rows] = True
    in_dense_column = np.zeros(matrix.shape[1], dtype=bool)
    in_dense_column[dense_columns] = True
    return rows, in_dense_row[rows] & ~in_dense_column[matrix.indices]


def _dense_splits(matrix, plain=True):
    """(lower bound on passes, dense rows, dense columns) for the 0, 1, 2, 4, ... densest rows and columns.
    Taking no dense rows is the plain column coloring, all rows and no dense columns the plain row coloring,
    so the best split is never worse than either (``plain=False`` leaves these two out: the mirror image's
    are the same two)."""
    row_count, column_count = matrix.shape
    row_order = np.argsort(-np.diff(matrix.indptr), kind="stable")
    column_order = np.argsort(-np.bincount(matrix.indices, minlength=column_count), kind="stable")
    splits = []
    for row_split in _split_sizes(row_count):
        for column_split in _split_sizes(column_count) if row_split else (0,):
            if not plain and (row_split == 0 or (row_split == row_count and column_split == 0)):
                continue
            dense_rows, dense_columns = row_order[:row_split], column_order[:column_split]
            rows, reverse = _split_entries(matrix, dense_rows, dense_columns)
            if row_split and not reverse.any():
                continue  # no reverse entries: the plain column coloring again
            forward_bound = np.bincount(rows[~reverse], minlength=1).max(initial=0)
            reverse_bound = np.bincount(matrix.indices[reverse], minlength=1).max(initial=0)
            splits.append((int(forward_bound) + int(reverse_bound), dense_rows, dense_columns))
    return splits


def _split_sizes(count):
    sizes = {0, count}
    size = 1
    while size <= min(count, _DENSE_SPLIT_LIMIT):
        sizes.add(size)
        size *= 2
    return sorted(sizes)


def _split_coloring(matrix, dense_rows, dense_columns, order):
    """Entries in the dense rows outside the dense columns go to reverse passes: a row coloring of that part,
    read directly (the rows given reverse colors are dense rows, so their other entries in those columns are
    reverse entries too). Every other entry goes to forward passes: a column coloring of the rest; a dense
    row's forward sum then also holds its reverse entries, which are known by then and subtracted."""
    rows, reverse = _split_entries(matrix, dense_rows, dense_columns)
    reverse_part = _part(matrix, rows, reverse)
    forward_part = _part(matrix, rows, ~reverse)
    forward_counts = np.bincount(matrix.indices[~reverse], minlength=matrix.shape[1])
    reverse_counts = np.bincount(rows[reverse], minlength=matrix.shape[0])
    return (_pass_colors(coloring(forward_part, "column", order), forward_counts),
            _pass_colors(coloring(reverse_part, "row", order), reverse_counts))


def _part(matrix, rows, chosen):
    return scipy.sparse.csr_array((np.ones(int(chosen.sum()), dtype=bool), (rows[chosen], matrix.indices[chosen])),
                                  shape=matrix.shape)


def _pass_colors(colors, counts):
    """Colors 1, 2, ... for the columns (rows) with entries in the part, renumbered without gaps; 0 for the rest."""
    used = counts > 0
    numbered = np.zeros(colors.size, dtype=np.int64)
    numbered[used] = np.unique(colors[used], return_inverse=True)[1].ravel() + 1
    return numbered


# ------------------------------------------------------------------------------------------ orders

def _degrees(indptr):
    return np.diff(indptr)


def _visit_order(indptr, indices, order):
    count = len(indptr) - 1
    if order == "natural":
        return list(range(count))
    if order == "largest_first":
        return np.argsort(-_degrees(indptr), kind="stable").tolist()
    return _smallest_last(indptr, indices)


def _smallest_last(indptr, indices):
    """Matula-Beck: repeatedly remove a vertex of least remaining degree; color in the reverse order."""
    count = len(indptr) - 1
    degree = _degrees(indptr).tolist()
    neighbors = indices.tolist()
    starts = indptr.tolist()
    buckets = {}
    for vertex in range(count - 1, -1, -1):
        buckets.setdefault(degree[vertex], {})[vertex] = None  # insertion-ordered sets
    removed = [False] * count
    removal = []
    lowest = 0
    for _ in range(count):
        while not buckets.get(lowest):
            lowest += 1
        vertex = buckets[lowest].popitem()[0]
        removed[vertex] = True
        removal.append(vertex)
        for other in neighbors[starts[vertex]:starts[vertex + 1]]:
            if removed[other] or other == vertex:
                continue
            d = degree[other]
            del buckets[d][other]
            degree[other] = d - 1
            buckets.setdefault(d - 1, {})[other] = None
            if d - 1 < lowest:
                lowest = d - 1
    removal.reverse()
    return removal


# ------------------------------------------------------------------------------------------ distance-1

def _distance1(graph, order):
    indptr, indices = graph
    count = len(indptr) - 1
    if order == "dsatur":
        return _dsatur(indptr, indices)
    neighbors = indices.tolist()
    starts = indptr.tolist()
    color = [-1] * count
    seen_by = [-1] * (count + 1)  # seen_by[c] == v: color c is taken by a neighbor of v
    for vertex in _visit_order(indptr, indices, order):
        for other in neighbors[starts[vertex]:starts[vertex + 1]]:
            seen_by[color[other]] = vertex  # an uncolored neighbor marks the unused slot -1
        chosen = 0
        while seen_by[chosen] == vertex:
            chosen += 1
        color[vertex] = chosen
    return np.asarray(color, dtype=np.int64)


def _dsatur(indptr, indices):
    """Brélaz's DSATUR: next the vertex whose neighbors already use the most distinct colors (ties: higher
    degree, then lower index)."""
    import heapq
    count = len(indptr) - 1
    neighbors = indices.tolist()
    starts = indptr.tolist()
    degree = _degrees(indptr).tolist()
    color = [-1] * count
    neighbor_colors = [set() for _ in range(count)]
    heap = [(0, -degree[v], v) for v in range(count)]
    heapq.heapify(heap)
    while heap:
        saturation, _, vertex = heapq.heappop(heap)
        if color[vertex] >= 0 or -saturation != len(neighbor_colors[vertex]):
            continue  # a stale entry: the vertex was pushed again with a higher saturation
        used = neighbor_colors[vertex]
        chosen = 0
        while chosen in used:
            chosen += 1
        color[vertex] = chosen
        for other in neighbors[starts[vertex]:starts[vertex + 1]]:
            if color[other] < 0 and chosen not in neighbor_colors[other]:
                neighbor_colors[other].add(chosen)
                heapq.heappush(heap, (-len(neighbor_colors[other]), -degree[other], other))
    return np.asarray(color, dtype=np.int64)


# ------------------------------------------------------------------------------------------ star

def _star(graph, order):
    indptr, indices = graph
    count = len(indptr) - 1
    neighbors = indices.tolist()
    starts = indptr.tolist()
    adjacency = [neighbors[starts[v]:starts[v + 1]] for v in range(count)]
    color = [-1] * count
    forbidden_for = [-1] * (count + 1)
    for vertex in _visit_order(indptr, indices, order):
        for middle in adjacency[vertex]:
            middle_color = color[middle]
            if middle_color >= 0:
                forbidden_for[middle_color] = vertex
            for end in adjacency[middle]:
                end_color = color[end]
                if end == vertex or end_color < 0:
                    continue
                if middle_color < 0:
                    # vertex-middle-end with middle still uncolored: vertex and end share a neighbor
                    forbidden_for[end_color] = vertex
                    continue
                # vertex-middle-end-beyond would be two-colored if vertex took end's color and end has
                # another neighbor of middle's color
                for beyond in adjacency[end]:
                    if beyond != middle and color[beyond] == middle_color:
                        forbidden_for[end_color] = vertex
                        break
        chosen = 0
        while forbidden_for[chosen] == vertex:
            chosen += 1
        color[vertex] = chosen
    return np.asarray(color, dtype=np.int64)


# ------------------------------------------------------------------------------------------ acyclic

def _acyclic(graph, order):
    """Greedy acyclic coloring: a color is refused when it would close a two-colored cycle, which happens
    exactly when two neighbors of one color already lie in one tree of the two-colored forest. The forests
    are kept as disjoint sets over (vertex, other color) pairs."""
    indptr, indices = graph
    count = len(indptr) - 1
    neighbors = indices.tolist()
    starts = indptr.tolist()
    color = [-1] * count
    parent = {}

    def find(node):
        root = node
        while parent.get(root, root) != root:
            root = parent[root]
        while node != root:  # path compression
            parent[node], node = root, parent.get(node, node)
        return root

    taken_by = [-1] * (count + 1)
    for vertex in _visit_order(indptr, indices, order):
        adjacent = [w for w in neighbors[starts[vertex]:starts[vertex + 1]] if color[w] >= 0]
        for w in adjacent:
            taken_by[color[w]] = vertex
        chosen = 0
        while True:
            while taken_by[chosen] == vertex:
                chosen += 1
            if not _closes_cycle(adjacent, color, chosen, find):
                break
            taken_by[chosen] = vertex
        color[vertex] = chosen
        for w in adjacent:
            # vertex joins, in the forest of colors (chosen, color[w]), the tree of its neighbor w
            own, theirs = find((vertex, color[w])), find((w, chosen))
            if own != theirs:
                parent[own] = theirs
    return np.asarray(color, dtype=np.int64)


def _closes_cycle(adjacent, color, candidate, find):
    trees = set()
    for w in adjacent:
        tree = (color[w], find((w, candidate)))
        if tree in trees:
            return True
        trees.add(tree)
    return False


# ------------------------------------------------------------------------------------------ recovery

def star_places(rows, columns, colors):
    """Where each entry (rows[k], columns[k]) of a symmetric matrix H sits in ``compressed = seeds @ H`` for a
    star coloring: ``compressed[lane[k], position[k]]``.

    compressed[c, i] is the sum of H[i, k] over the neighbors k of color c. For entry (i, j): if j is i's only
    neighbor of color c(j), that sum is H[i, j] itself; otherwise (star coloring) i is j's only neighbor of
    color c(i), and H[j, i] = H[i, j] sits in compressed[c(i), j]. Diagonals: no neighbor shares c(i).
    """
    colors = np.asarray(colors, dtype=np.int64)
    width = int(colors.max(initial=-1)) + 1
    keys = rows * width + colors[columns]
    unique_keys, counts = np.unique(keys, return_counts=True)
    alone = counts[np.searchsorted(unique_keys, keys)] == 1
    return np.where(alone, colors[columns], colors[rows]), np.where(alone, rows, columns)


def bicolor_rounds(rows, columns, column_colors, row_colors):
    """How to recover the entries (rows[k], columns[k]) of J from ``forward = seeds_c @ J.T`` (one row per
    column color c >= 1, ``forward[c - 1, i]`` = sum of J[i, j] over columns j of color c) and ``reverse`` (one
    row per row color r >= 1, ``reverse[r - 1, j]`` = sum of J[i, j] over rows i of color r).

    Recovery rule: an entry is read from its forward sum (or its reverse sum) once every other entry in that
    sum is known, minus those known entries; entries are recovered in rounds until none is left. Return the
    rounds as ``(from_forward, from_reverse)`` entry-index arrays, and whether every entry was recovered.
    """
    column_colors = np.asarray(column_colors, dtype=np.int64)
    row_colors = np.asarray(row_colors, dtype=np.int64)
    in_forward = column_colors[columns] > 0
    in_reverse = row_colors[rows] > 0
    forward_sum = _group_ids(rows, column_colors[columns], in_forward)
    reverse_sum = _group_ids(columns, row_colors[rows], in_reverse)
    unknown_forward = np.bincount(forward_sum[in_forward], minlength=1)
    unknown_reverse = np.bincount(reverse_sum[in_reverse], minlength=1)
    known = np.zeros(rows.size, dtype=bool)
    rounds = []
    while not known.all():
        from_forward = ~known & in_forward & (unknown_forward[forward_sum] == 1)
        from_reverse = ~known & ~from_forward & in_reverse & (unknown_reverse[reverse_sum] == 1)
        newly = from_forward | from_reverse
        if not newly.any():
            break
        rounds.append((np.flatnonzero(from_forward), np.flatnonzero(from_reverse)))
        known |= newly
        unknown_forward -= np.bincount(forward_sum[newly & in_forward], minlength=unknown_forward.size)
        unknown_reverse -= np.bincount(reverse_sum[newly & in_reverse], minlength=unknown_reverse.size)
    return rounds, bool(known.all())


def _group_ids(line, color, member):
    """A dense id per (line, color) sum; 0 (unused by non-members, which are masked out) elsewhere."""
    ids = np.zeros(line.size, dtype=np.int64)
    if member.any():
        keys = line[member].astype(np.int64) * (int(color.max()) + 1) + color[member]
        ids[member] = np.unique(keys, return_inverse=True)[1].ravel()
    return ids


# ------------------------------------------------------------------------------------------ checks

def is_bicoloring(pattern, column_colors, row_colors):
    """Whether forward passes over ``column_colors`` and reverse passes over ``row_colors`` (0: in no pass)
    recover every entry of the pattern by the rule of ``bicolor_rounds``.

    >>> import numpy as np
    >>> arrow = np.eye(4, dtype=bool); arrow[0] = arrow[:, 0] = True
    >>> is_bicoloring(arrow, [1, 2, 2, 2], [1, 0, 0, 0]), is_bicoloring(arrow, [1, 1, 1, 1], [0, 0, 0, 0])
    (True, False)
    """
    matrix = _as_pattern(pattern)
    column_colors, row_colors = np.asarray(column_colors), np.asarray(row_colors)
    if column_colors.shape != (matrix.shape[1],) or row_colors.shape != (matrix.shape[0],):
        raise ValueError(f"is_bicoloring: pattern of shape {matrix.shape} needs {matrix.shape[1]} column colors "
                         f"and {matrix.shape[0]} row colors, got {column_colors.shape} and {row_colors.shape}")
    rows = np.repeat(np.arange(matrix.shape[0]), np.diff(matrix.indptr))
    return bicolor_rounds(rows, matrix.indices, column_colors, row_colors)[1]



def is_structurally_orthogonal(pattern, colors, kind="column"):
    """Whether no two columns (rows) of one color share a row (column): a valid column (row) coloring.

    >>> import scipy.sparse
    >>> pattern = scipy.sparse.eye(3)
    >>> is_structurally_orthogonal(pattern, [0, 0, 0]), is_structurally_orthogonal(pattern + pattern.T, [0, 0, 0])
    (True, True)
    """
    matrix = _as_pattern(pattern)
    if kind == "row":
        matrix = matrix.T.tocsr()
    colors = np.asarray(colors, dtype=np.int64)
    row, column = matrix.nonzero()
    keys = row.astype(np.int64) * (colors.max(initial=0) + 1) + colors[column]
    return bool(np.unique(keys).size == keys.size)


def is_star_coloring(pattern, colors):
    """Whether ``colors`` is a distance-1 coloring of the symmetric pattern in which every path on four
    vertices uses at least three colors (each entry is then the only one of its color in its row or
    column: directly recoverable)."""
    indptr, indices = _symmetric_graph(_as_pattern(pattern), "star")
    colors = np.asarray(colors, dtype=np.int64)
    row = np.repeat(np.arange(len(indptr) - 1), np.diff(indptr))
    if np.any(colors[row] == colors[indices]):
        return False
    # Entry (i, j) is readable from row i when j is i's only neighbor of color c(j), else from row j.
    width = colors.max(initial=0) + 1
    keys, counts = np.unique(row * width + colors[indices], return_counts=True)
    unique_in_i = counts[np.searchsorted(keys, row * width + colors[indices])] == 1
    unique_in_j = counts[np.searchsorted(keys, indices * width + colors[row])] == 1
    return bool(np.all(unique_in_i | unique_in_j))


def is_acyclic_coloring(pattern, colors):
    """Whether ``colors`` is a distance-1 coloring of the symmetric pattern in which every cycle uses at
    least three colors (every two-colored subgraph is a forest)."""
    indptr, indices = _symmetric_graph(_as_pattern(pattern), "acyclic")
    colors = np.asarray(colors, dtype=np.int64)
    row = np.repeat(np.arange(len(indptr) - 1), np.diff(indptr))
    if np.any(colors[row] == colors[indices]):
        return False
    upper = row < indices
    first, second = row[upper], indices[upper]
    low = np.minimum(colors[first], colors[second])
    high = np.maximum(colors[first], colors[second])
    for pair in np.unique(np.stack([low, high], axis=1), axis=0):
        chosen = (low == pair[0]) & (high == pair[1])
        edges_in = int(chosen.sum())
        vertices = np.unique(np.concatenate([first[chosen], second[chosen]]))
        forest = scipy.sparse.coo_array((np.ones(edges_in), (first[chosen], second[chosen])),
                                        shape=(len(indptr) - 1,) * 2)
        components = scipy.sparse.csgraph.connected_components(forest, directed=False)[1]
        trees = np.unique(components[vertices]).size
        if edges_in != vertices.size - trees:  # a forest has exactly (vertices - trees) edges
            return False
    return True
