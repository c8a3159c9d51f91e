"""Pictures of sparsity patterns: each nonzero drawn as a square, colored by its column's (or row's) color
group, so a coloring can be checked by eye."""
import numpy as np
import scipy.sparse


def show(pattern, colors=None, path="pattern.png", *, kind="column", title=None):
    """Draw ``pattern`` (a boolean matrix) with matplotlib, each nonzero colored by the group of its column
    (``kind="column"``) or row (``kind="row"``) in ``colors``; write the picture to ``path`` and return it.

    >>> import scipy.sparse, tempfile, os
    >>> pattern = scipy.sparse.diags([1.0, 1.0, 1.0], [-1, 0, 1], shape=(5, 5))
    >>> path = os.path.join(tempfile.mkdtemp(), "tridiagonal.png")
    >>> show(pattern, [0, 1, 2, 0, 1], path) == path and os.path.getsize(path) > 0
    True
    """
    import matplotlib
    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt
    matrix = scipy.sparse.coo_array(pattern if scipy.sparse.issparse(pattern) else np.asarray(pattern))
    if kind not in ("column", "row"):
        raise ValueError(f"show: kind must be 'column' or 'row', got {kind!r}")
    mask = matrix.data != 0
    rows, columns = matrix.row[mask], matrix.col[mask]
    groups = np.zeros(rows.size, dtype=np.int64)
    if colors is not None:
        colors = np.asarray(colors, dtype=np.int64)
        expected = matrix.shape[1] if kind == "column" else matrix.shape[0]
        if colors.shape != (expected,):
            raise ValueError(f"show: colors must hold one color per {kind} ({expected}), got shape {colors.shape}")
        groups = colors[columns] if kind == "column" else colors[rows]
    count = int(groups.max(initial=0)) + 1
    palette = plt.get_cmap("tab20" if count > 10 else "tab10")
    height, width = matrix.shape
    figure, axes = plt.subplots(figsize=(6, 6 * max(height, 1) / max(width, 1) if width else 6))
    # One square marker per nonzero, sized to the cell in points (6 inches span the wider side).
    cell = 6 * 72 / max(height, width, 1)
    axes.scatter(columns, rows, c=[palette(g % palette.N) for g in groups], marker="s", s=max(cell, 0.5) ** 2,
                 linewidths=0)
    axes.set_xlim(-0.5, width - 0.5)
    axes.set_ylim(height - 0.5, -0.5)
    axes.set_aspect("equal")
    axes.set_title(title or f"{rows.size} nonzeros, {count} color{'s' if count != 1 else ''}")
    figure.savefig(path, dpi=100, bbox_inches="tight")
    plt.close(figure)
    return path
