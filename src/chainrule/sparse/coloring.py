"""Graph colorings that group the columns (or rows) of a sparse Jacobian, or the columns of a symmetric
Hessian, so that one derivative pass per color recovers every nonzero entry.

- ``column`` / ``row``: distance-2 coloring of the bipartite graph of the pattern, i.e. a distance-1
  coloring of the column (row) intersection graph: columns of one color share no row (structurally
  orthogonal), so each entry of a compressed column belongs to exactly one original column.
- ``star``: a coloring of the symmetric pattern's adjacency graph in which every path on four vertices uses
  at least three colors; each Hessian entry is then read directly from a compressed column (Gebremedhin,
  Manne, Pothen, "What color is your Jacobian?", SIAM Review 2005, Algorithm 4.1).
- ``acyclic``: every cycle uses at least three colors; fewer colors than a star coloring, entries recovered
  by substitution along the two-colored trees.

The greedy passes are loops over Python lists (one short step per edge); the graphs are built with sparse
matrix products.
"""
import numpy as np
import scipy.sparse
import scipy.sparse.csgraph

KINDS = ("column", "row", "star", "acyclic")
ORDERS = ("natural", "largest_first", "smallest_last", "dsatur", "best")
_GREEDY_ORDERS = {"column": ("natural", "largest_first", "smallest_last", "dsatur"),
                  "row": ("natural", "largest_first", "smallest_last", "dsatur"),
                  "star": ("natural", "largest_first", "smallest_last"),
                  "acyclic": ("natural", "largest_first", "smallest_last")}


def coloring(pattern, kind="column", order="smallest_last"):
    """Color the pattern's columns (``kind="column"``), rows (``"row"``) or, for a symmetric pattern,
    vertices (``"star"``, ``"acyclic"``); return one color (0, 1, ...) per column, row or vertex.

    ``order`` is the order the greedy pass visits vertices: ``"natural"``, ``"largest_first"`` (by degree),
    ``"smallest_last"`` (Matula-Beck degeneracy order) or ``"dsatur"`` (most distinct neighbor colors
    first; column and row colorings only), or ``"best"``: each of those, keeping the fewest colors.

    >>> import numpy as np, scipy.sparse
    >>> tridiagonal = scipy.sparse.diags([1.0, 1.0, 1.0], [-1, 0, 1], shape=(6, 6))
    >>> coloring(tridiagonal, "column", order="natural")
    array([0, 1, 2, 0, 1, 2])
    >>> coloring(tridiagonal, "star", order="natural")
    array([0, 1, 0, 2, 0, 1])
    """
    matrix = _as_pattern(pattern)
    if kind not in KINDS:
        raise ValueError(f"coloring: kind must be one of {KINDS}, got {kind!r}")
    if order not in ORDERS:
        raise ValueError(f"coloring: order must be one of {ORDERS}, got {order!r}")
    if order == "best":
        candidates = [coloring(matrix, kind, each) for each in _GREEDY_ORDERS[kind]]
        return min(candidates, key=lambda colors: colors.max(initial=-1))
    if kind == "column":
        return _distance1(_intersection_graph(matrix.tocsc()), order)
    if kind == "row":
        return _distance1(_intersection_graph(matrix.T.tocsc()), order)
    graph = _symmetric_graph(matrix, kind)
    if order == "dsatur":
        raise ValueError(f"coloring: order='dsatur' is for column and row colorings; for kind={kind!r} use "
                         f"'natural', 'largest_first' or 'smallest_last'")
    if kind == "star":
        return _star(graph, order)
    return _acyclic(graph, order)


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


# ------------------------------------------------------------------------------------------ checks

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
