"""Compressed Jacobians and Hessians: detect the pattern (once per input shape and dtype), color it, run one
batched derivative pass over the seed matrix (vmap of jvp, vjp or hvp: one lane per color; a bicolored
Jacobian takes one of each) and scatter the compressed result into a scipy.sparse matrix.
"""
import numpy as np
import scipy.sparse

from ..autodiff.transforms import hvp, jvp, vjp, vmap
from ..finite_diff.coloring import bicolor_rounds, star_places
from .coloring import coloring
from .detection import checked_point, hessian_sparsity, jacobian_sparsity

_MODES = ("auto", "forward", "reverse", "bidirectional")
_FORMATS = ("csr", "csc")


class Plan:
    """What one input signature needs: the pattern, the colors, the seed matrix and the entries' places."""

    __slots__ = ("pattern", "colors", "mode", "seeds", "rows", "columns", "lane", "position", "_flat_places")

    def __init__(self, pattern, colors, mode, seeds):
        self.pattern = scipy.sparse.csr_array(pattern)
        self.pattern.sort_indices()
        self.colors = colors
        self.mode = mode
        self.seeds = seeds
        self.rows = np.repeat(np.arange(self.pattern.shape[0], dtype=np.int64), np.diff(self.pattern.indptr))
        self.columns = self.pattern.indices.astype(np.int64)
        # Where each entry (in CSR order) sits in the compressed result: compressed[lane, position].
        if mode == "forward":
            self.lane, self.position = colors[self.columns], self.rows
        elif mode == "reverse":
            self.lane, self.position = colors[self.rows], self.columns
        elif mode == "star":
            self.lane, self.position = star_places(self.rows, self.columns, colors)
        else:
            self.lane, self.position = None, None  # acyclic: recovered by substitution
        self._flat_places = {}

    @property
    def color_count(self):
        return int(self.colors.max(initial=-1)) + 1

    def entries(self, compressed):
        """The pattern's entries (in CSR order) read from ``compressed[lane, position]``. One flat ``take`` with
        the places flattened once per row width: several times faster than indexing by the two arrays."""
        width = compressed.shape[1]
        places = self._flat_places.get(width)
        if places is None:
            places = self._flat_places[width] = self.lane * width + self.position
        return compressed.reshape(-1).take(places)


class BidirectionalPlan:
    """A bicolored pattern: forward passes over the column colors, reverse passes over the row colors, and the
    rounds in which the entries are read from their sums (see ``bicolor_rounds``)."""

    __slots__ = ("pattern", "colors", "mode", "seeds", "reverse_seeds", "rows", "columns", "rounds")

    def __init__(self, pattern, colors, dtype):
        self.pattern = scipy.sparse.csr_array(pattern)
        self.pattern.sort_indices()
        self.colors = colors
        self.mode = "bidirectional"
        column_colors, row_colors = colors
        # color 0 is "in no pass": the seed rows are those of colors 1, 2, ...
        self.seeds = _seeds(column_colors, int(column_colors.max(initial=0)) + 1, dtype)[1:]
        self.reverse_seeds = _seeds(row_colors, int(row_colors.max(initial=0)) + 1, dtype)[1:]
        self.rows = np.repeat(np.arange(self.pattern.shape[0], dtype=np.int64), np.diff(self.pattern.indptr))
        self.columns = self.pattern.indices.astype(np.int64)
        self.rounds, complete = bicolor_rounds(self.rows, self.columns, column_colors, row_colors)
        if not complete:
            raise ValueError("sparse.jacobian: the bicoloring does not recover every entry of the pattern; "
                             "check it with chainrule.finite_diff.coloring.is_bicoloring")

    @property
    def color_count(self):
        return self.seeds.shape[0] + self.reverse_seeds.shape[0]


def jacobian(function, sparsity=None, mode="auto", *, order="auto", format="csr", local=False, jit="auto"):
    """Return ``x -> J``: the Jacobian of ``function`` at ``x`` as a ``scipy.sparse`` matrix of shape
    ``(f(x).size, x.size)``, exact (the same numbers as ``jacfwd``) at the cost of one batched pass with
    one lane per color instead of one per column.

    ``sparsity``: the pattern (a boolean matrix; None: detected by ``jacobian_sparsity`` once per input
    shape and dtype). ``mode``: ``"forward"`` (column coloring, JVPs), ``"reverse"`` (row coloring, VJPs),
    ``"bidirectional"`` (a bicoloring: JVPs and VJPs together, few of each where the pattern has both dense
    rows and dense columns, e.g. an arrow matrix) or ``"auto"`` (whichever needs the fewest passes; forward,
    then reverse, on ties). ``order``: the coloring order (see ``coloring``).
    ``format``: ``"csr"`` or ``"csc"``. ``local``: detect the pattern at this ``x`` (see
    ``jacobian_sparsity``); it is then detected again at every call. ``jit``: how the compressed pass runs.
    ``"auto"`` (default): ``function`` is staged at every call, so it runs and reads what it closes over as in
    eager mode, and the pass runs from code compiled once per structure of it (from the second call with that
    structure; see ``chainrule.export.retraced``); a function that cannot be staged is traced as with
    ``False``. ``False``: the batched pass is traced at every call. ``True`` (``chainrule.jit``) or any compiler
    ``f -> f``: the pass is compiled once per input shape and dtype, with the arrays ``function`` closes over
    fixed then (as ``jax.jit``): the fastest, for pure functions.

    >>> import chainrule.numpy as np
    >>> J = jacobian(lambda x: x[1:] * x[:-1])(np.array([1.0, 2.0, 3.0]))
    >>> J.toarray()
    array([[2., 1., 0.],
           [0., 3., 2.]])
    """
    if mode not in _MODES:
        raise ValueError(f"sparse.jacobian: mode must be one of {_MODES}, got {mode!r}")
    _check_format(format, "jacobian")
    compiler = _compiler(jit, local, "jacobian")
    plans, passes = {}, {}

    def jacobian_function(x):
        x = checked_point(x, "sparse.jacobian")
        def make_plan():
            pattern = _given_pattern(sparsity, None, x.size, "jacobian") if sparsity is not None else \
                jacobian_sparsity(function, local=local)(x)
            return jacobian_plan(pattern, mode, x.dtype, order=order)

        plan, compressed = _planned_pass(function, x, plans, passes, local, compiler, make_plan,
                                         compressed_jacobian)
        return decompress_jacobian(plan, compressed, format)

    jacobian_function.plans = plans
    return jacobian_function


def hessian(function, sparsity=None, *, coloring_kind="star", order="auto", format="csr", local=False,
            jit="auto"):
    """Return ``x -> H``: the Hessian of the scalar ``function`` at ``x`` as a ``scipy.sparse`` matrix of
    shape ``(x.size, x.size)``, from one batched Hessian-vector-product pass with one lane per color.

    ``coloring_kind``: ``"star"`` (each entry read directly: exact to rounding) or ``"acyclic"`` (fewer
    colors; entries recovered by substitution along two-colored trees, which adds and subtracts entries).
    The other arguments as in ``jacobian``.

    >>> import chainrule.numpy as np
    >>> H = hessian(lambda x: np.sum(x[1:] ** 2 * x[:-1]))(np.array([1.0, 2.0, 3.0]))
    >>> H.toarray()
    array([[0., 4., 0.],
           [4., 2., 6.],
           [0., 6., 4.]])
    """
    if coloring_kind not in ("star", "acyclic"):
        raise ValueError(f"sparse.hessian: coloring_kind must be 'star' or 'acyclic', got {coloring_kind!r}")
    _check_format(format, "hessian")
    compiler = _compiler(jit, local, "hessian")
    plans, passes = {}, {}

    def hessian_function(x):
        x = checked_point(x, "sparse.hessian")
        if x.dtype.kind == "c":
            raise TypeError(f"sparse.hessian: x has complex dtype {x.dtype} (shape {x.shape}); Hessians are "
                            f"taken over real x: pass the real and imaginary parts as separate real inputs")
        def make_plan():
            pattern = _given_pattern(sparsity, x.size, x.size, "hessian") if sparsity is not None else \
                hessian_sparsity(function, local=local)(x)
            return hessian_plan(pattern, x.dtype, kind=coloring_kind, order=order)

        plan, compressed = _planned_pass(function, x, plans, passes, local, compiler, make_plan,
                                         compressed_hessian)
        return decompress_hessian(plan, compressed, format)

    hessian_function.plans = plans
    return hessian_function


def _planned_pass(function, x, plans, passes, local, compiler, make_plan, compressed_pass):
    """(plan, compressed result) at ``x``: the plan (pattern and coloring) is made once per input shape and dtype
    (every call with ``local=True``, whose pattern depends on x), the compressed pass
    ``compressed_pass(function, plan, x)`` compiled once per plan (or per structure of ``function``, retraced)."""
    key = (x.shape, x.dtype.str)
    plan = plans.get(key)
    if plan is None:
        plan = make_plan()
        if not local:
            plans[key] = plan
    if compiler is None or local:
        return plan, compressed_pass(function, plan, x)
    if key not in passes:
        if compiler is _RETRACE:
            import chainrule  # see _compiler: export's public surface, looked up when used
            passes[key] = chainrule.export.retraced(lambda staged: lambda y: compressed_pass(staged, plan, y),
                                                    function)
        else:
            passes[key] = compiler(lambda y: compressed_pass(function, plan, y))
    return plan, passes[key](x)


# ------------------------------------------------------------------------------------------ plans

def _seeds(colors, count, dtype):
    seeds = np.zeros((count, colors.size), dtype=dtype)
    seeds[colors, np.arange(colors.size)] = 1
    return seeds


def jacobian_plan(pattern, mode="auto", dtype=np.float64, *, order="auto"):
    """Color ``pattern`` for a Jacobian (``mode`` as in ``jacobian``) and build its seed matrix."""
    pattern = scipy.sparse.csr_array(pattern, dtype=bool)
    dtype = np.dtype(dtype)
    if mode == "bidirectional":
        return BidirectionalPlan(pattern, coloring(pattern, "bicolor", order), dtype)
    choices = []
    if mode in ("auto", "forward"):
        choices.append(("forward", coloring(pattern, "column", order)))
    if mode in ("auto", "reverse"):
        choices.append(("reverse", coloring(pattern, "row", order)))
    # Forward wins ties: a JVP lane costs less than a VJP lane (no tape).
    chosen_mode, colors = min(choices, key=lambda choice: choice[1].max(initial=-1))
    count = int(colors.max(initial=-1)) + 1
    if mode == "auto" and count > 2:
        # both directions together can need fewer passes (dense rows and dense columns); it runs a JVP pass
        # and a VJP pass, so it is taken only when its lanes are strictly fewer
        bicolors = coloring(pattern, "bicolor", order)
        if int(bicolors[0].max(initial=0)) + int(bicolors[1].max(initial=0)) < count:
            return BidirectionalPlan(pattern, bicolors, dtype)
    return Plan(pattern, colors, chosen_mode, _seeds(colors, count, dtype))


def hessian_plan(pattern, dtype=np.float64, *, kind="star", order="auto"):
    """Color the symmetric ``pattern`` (star or acyclic) and build its seed matrix."""
    pattern = scipy.sparse.csr_array(pattern, dtype=bool)
    pattern = (pattern + pattern.T).tocsr()
    colors = coloring(pattern, kind, order)
    count = int(colors.max(initial=-1)) + 1
    plan = Plan(pattern, colors, kind, _seeds(colors, count, np.dtype(dtype)))
    return plan


def compressed_jacobian(function, plan, x):
    """The Jacobian times the seed matrix: one row per color, ``(colors, f(x).size)`` for forward mode and
    ``(colors, x.size)`` for reverse mode; for a bidirectional plan both, as a pair. Built from
    ``jvp``/``vjp``/``vmap`` only, so ``jit`` compiles it."""
    if plan.mode == "bidirectional":
        return _bidirectional_passes(function, plan, x)
    seeds = plan.seeds
    if plan.mode == "forward":
        directions = seeds.reshape((seeds.shape[0],) + tuple(np.shape(x)))
        out = vmap(lambda v: jvp(function, (x,), (v,))[1])(directions)
        return out.reshape((seeds.shape[0], -1)) if hasattr(out, "reshape") else out
    out, pullback = vjp(function, x)
    out_shape = _checked_output_shape(out, plan)
    directions = seeds.astype(np.result_type(out)).reshape((seeds.shape[0],) + out_shape)
    rows = vmap(lambda w: pullback(w)[0])(directions)
    return rows.reshape((seeds.shape[0], -1))


def _bidirectional_passes(function, plan, x):
    """The forward passes ``(column colors, f(x).size)`` and the reverse ones ``(row colors, x.size)``; a
    direction with no colors is skipped (an empty block)."""
    out, pullback = vjp(function, x)
    out_shape, in_shape = _checked_output_shape(out, plan), tuple(np.shape(x))
    forward_count, reverse_count = plan.seeds.shape[0], plan.reverse_seeds.shape[0]
    if forward_count:
        directions = plan.seeds.reshape((forward_count,) + in_shape)
        forward = vmap(lambda v: jvp(function, (x,), (v,))[1])(directions).reshape((forward_count, -1))
    else:
        forward = np.zeros((0, int(np.prod(out_shape))), dtype=np.result_type(out))
    if reverse_count:
        directions = plan.reverse_seeds.astype(np.result_type(out)).reshape((reverse_count,) + out_shape)
        reverse = vmap(lambda w: pullback(w)[0])(directions).reshape((reverse_count, -1))
    else:
        reverse = np.zeros((0, int(np.prod(in_shape))), dtype=np.result_type(x))
    return forward, reverse


def _checked_output_shape(out, plan):
    """f(x)'s shape, once its size is known to match the pattern's rows (the reverse seeds are shaped like it)."""
    out_shape = tuple(np.shape(out))
    if int(np.prod(out_shape)) != plan.pattern.shape[0]:
        raise ValueError(f"sparse.jacobian: the function has {int(np.prod(out_shape))} outputs, but the sparsity "
                         f"pattern has {plan.pattern.shape[0]} rows")
    return out_shape


def compressed_hessian(function, plan, x):
    """The Hessian times the seed matrix, one row per color: ``(colors, x.size)``."""
    directions = plan.seeds.reshape((plan.seeds.shape[0],) + tuple(np.shape(x)))
    out = vmap(lambda v: hvp(function, (x,), (v,))[0])(directions)
    return out.reshape((plan.seeds.shape[0], -1))


def decompress_jacobian(plan, compressed, format="csr"):
    """Scatter a compressed Jacobian into the sparse matrix of ``plan.pattern``'s shape."""
    if plan.mode == "bidirectional":
        return _assembled(_bidirectional_values(plan, *compressed), plan, format)
    compressed = np.asarray(compressed)
    if plan.mode == "forward" and compressed.shape[1] != plan.pattern.shape[0]:
        raise ValueError(f"sparse.jacobian: the function has {compressed.shape[1]} outputs, but the sparsity "
                         f"pattern has {plan.pattern.shape[0]} rows")
    return _assembled(plan.entries(compressed), plan, format)


def decompress_hessian(plan, compressed, format="csr"):
    """Recover the Hessian's entries from the compressed one (direct for star, substitution for acyclic)."""
    compressed = np.asarray(compressed)
    if plan.mode == "star":
        values = plan.entries(compressed)
    else:
        values = _substituted_values(plan, compressed)
    return _assembled(values, plan, format)


def _assembled(values, plan, format):
    matrix = scipy.sparse.csr_array((values, plan.pattern.indices, plan.pattern.indptr), shape=plan.pattern.shape)
    return matrix if format == "csr" else matrix.tocsc()


def _bidirectional_values(plan, forward, reverse):
    """Read each entry from its forward sum ``forward[c - 1, i]`` or reverse sum ``reverse[r - 1, j]``, minus the
    entries of that sum recovered in earlier rounds (kept as running totals per sum)."""
    forward, reverse = np.asarray(forward), np.asarray(reverse)
    if forward.shape[0] and forward.shape[1] != plan.pattern.shape[0]:
        raise ValueError(f"sparse.jacobian: the function has {forward.shape[1]} outputs, but the sparsity "
                         f"pattern has {plan.pattern.shape[0]} rows")
    column_colors, row_colors = plan.colors
    rows, columns = plan.rows, plan.columns
    forward_lane, reverse_lane = column_colors[columns] - 1, row_colors[rows] - 1
    values = np.zeros(rows.size, dtype=np.result_type(forward, reverse))
    known_forward = np.zeros(forward.shape, dtype=values.dtype)
    known_reverse = np.zeros(reverse.shape, dtype=values.dtype)
    for from_forward, from_reverse in plan.rounds:
        values[from_forward] = (forward[forward_lane[from_forward], rows[from_forward]]
                                - known_forward[forward_lane[from_forward], rows[from_forward]])
        values[from_reverse] = (reverse[reverse_lane[from_reverse], columns[from_reverse]]
                                - known_reverse[reverse_lane[from_reverse], columns[from_reverse]])
        newly = np.concatenate([from_forward, from_reverse])
        in_forward, in_reverse = newly[forward_lane[newly] >= 0], newly[reverse_lane[newly] >= 0]
        np.add.at(known_forward, (forward_lane[in_forward], rows[in_forward]), values[in_forward])
        np.add.at(known_reverse, (reverse_lane[in_reverse], columns[in_reverse]), values[in_reverse])
    return values


def _substituted_values(plan, compressed):
    """Acyclic coloring: in the forest of colors (a, b), a leaf i of color a has one neighbor j of color b,
    so H[i, j] = compressed[b, i]; subtract it from compressed[a, j] and peel the leaf off."""
    rows, columns, colors = plan.rows, plan.columns, plan.colors
    size = plan.pattern.shape[0]
    remaining = compressed.astype(np.result_type(compressed, np.float64), copy=True)
    entry = {}
    diagonal = rows == columns
    for i in np.nonzero(diagonal)[0].tolist():
        entry[(rows[i], rows[i])] = remaining[colors[rows[i]], rows[i]]
    off_rows, off_columns = rows[~diagonal].tolist(), columns[~diagonal].tolist()
    color_list = colors.tolist()
    neighbors = [[] for _ in range(size)]
    for i, j in zip(off_rows, off_columns):
        neighbors[i].append(j)
    # For every vertex and other color: how many neighbors of that color are still unknown.
    unknown = {}
    for i in range(size):
        for j in neighbors[i]:
            unknown[(i, color_list[j])] = unknown.get((i, color_list[j]), 0) + 1
    leaves = [key for key, count in unknown.items() if count == 1]
    while leaves:
        i, other_color = leaves.pop()
        if unknown.get((i, other_color)) != 1:
            continue
        j = next(k for k in neighbors[i] if color_list[k] == other_color and (min(i, k), max(i, k)) not in entry)
        value = remaining[other_color, i]
        entry[(min(i, j), max(i, j))] = value
        unknown[(i, other_color)] = 0
        remaining[color_list[i], j] -= value
        key = (j, color_list[i])
        unknown[key] -= 1
        if unknown[key] == 1:
            leaves.append(key)
    values = [entry[(min(i, j), max(i, j))] for i, j in zip(rows.tolist(), columns.tolist())]
    return np.asarray(values, dtype=compressed.dtype)


# ------------------------------------------------------------------------------------------ arguments

_RETRACE = "auto"


def _compiler(jit, local, what):
    """How the compressed pass runs: None (traced at every call), ``_RETRACE`` (``jit="auto"``: the function
    staged at every call, the pass compiled per structure of it; with ``local=True``, traced) or a function
    compiling it once per input signature. ``True`` means ``chainrule.jit``, taken from the package's public
    surface when asked for (compiling is export's job; sparse only calls it)."""
    if jit is False or jit is None:
        return None
    if isinstance(jit, str):
        if jit != _RETRACE:
            raise TypeError(f"sparse.{what}: jit must be 'auto', True, False or a compiler, got {jit!r}")
        return _RETRACE
    if local:
        raise ValueError(f"sparse.{what}: jit=True needs one pattern per input shape; with local=True the pattern "
                         f"changes with x. Drop one of them")
    if jit is True:
        # The public chainrule.jit, looked up when asked for: sparse sits below export in the layers, and a
        # compiler is the user's choice at call time, not a dependency of this module.
        import chainrule
        return chainrule.jit
    if not callable(jit):
        raise TypeError(f"sparse.{what}: jit must be 'auto', True, False or a compiler (a function f -> compiled "
                        f"f), got {jit!r}")
    return jit


def _check_format(format, what):
    if format not in _FORMATS:
        raise ValueError(f"sparse.{what}: format must be 'csr' or 'csc', got {format!r}")


def _given_pattern(sparsity, rows, columns, what):
    pattern = scipy.sparse.csr_array(sparsity if scipy.sparse.issparse(sparsity) else np.asarray(sparsity),
                                     dtype=bool)
    if pattern.shape[1] != columns or (rows is not None and pattern.shape[0] != rows):
        expected = f"({rows}, {columns})" if rows is not None else f"(f(x).size, {columns})"
        raise ValueError(f"sparse.{what}: sparsity has shape {pattern.shape}, but x has {columns} elements: "
                         f"expected {expected}")
    return pattern
