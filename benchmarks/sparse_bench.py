"""Sparse Jacobians and Hessians: detection, coloring and compressed evaluation against dense chainrule,
JAX (jit of jacfwd / hessian) and SciPy's grouped finite differences, measured side by side in one run.

    python benchmarks/sparse_bench.py [--repeat 5] [--out benchmarks/SPARSE_RESULTS.md]

Medians of ``--repeat`` runs; each derivative is checked against the dense one before it is timed.
"""
import argparse
import pathlib

import numpy
import scipy.sparse
from scipy.optimize._numdiff import approx_derivative

import chainrule as cr
import chainrule.fd as fd
import chainrule.numpy as np
from chainrule import sparse
from chainrule.sparse import compression
from timing import median_time


def banded(x):
    # y_i = sum over |k| <= 2 of w_k sin(x_{i+k}) x_i: five diagonals (bandwidth 5)
    padded = np.pad(x, 2)
    n = x.shape[0]
    total = 0.0
    for k, weight in zip(range(5), (0.5, -1.0, 2.0, -1.0, 0.5)):
        total = total + weight * np.sin(padded[k:k + n])
    return total * x


def brusselator(u):
    size = int(round((u.shape[0] // 2) ** 0.5))
    a, b, alpha = 1.0, 3.4, 10.0
    x, y = u[: size * size].reshape(size, size), u[size * size:].reshape(size, size)

    def laplacian(z):
        return np.roll(z, 1, 0) + np.roll(z, -1, 0) + np.roll(z, 1, 1) + np.roll(z, -1, 1) - 4.0 * z

    dx = a + x * x * y - (b + 1.0) * x + alpha * laplacian(x)
    dy = b * x - x * x * y + alpha * laplacian(y)
    return np.concatenate([dx.ravel(), dy.ravel()])


def pentadiagonal_rosenbrock(x):
    return np.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2) + np.sum(x[2:] ** 2 * x[:-2])


def networkx_colors(pattern, kind, strategies=("largest_first", "smallest_last", "DSATUR")):
    try:
        import networkx
    except ImportError:
        return None
    if kind == "column":
        graph_matrix = scipy.sparse.csr_array(pattern.T.astype(int) @ pattern.astype(int))
    else:  # star coloring has no networkx counterpart; report distance-1 greedy on the Hessian graph
        graph_matrix = scipy.sparse.csr_array(pattern.astype(int))
    graph = networkx.from_scipy_sparse_array(graph_matrix)
    graph.remove_edges_from(networkx.selfloop_edges(graph))
    return min(max(networkx.greedy_color(graph, strategy).values()) + 1 for strategy in strategies)


def jax_dense(kind, name, size):
    try:
        import jax
        jax.config.update("jax_enable_x64", True)
        import jax.numpy as jnp
    except ImportError:
        return None
    if name == "banded":
        def f(x):
            padded = jnp.pad(x, 2)
            n = x.shape[0]
            return sum(w * jnp.sin(padded[k:k + n]) for k, w in zip(range(5), (0.5, -1.0, 2.0, -1.0, 0.5))) * x
    elif name == "brusselator":
        def f(u):
            n = int(round((u.shape[0] // 2) ** 0.5))
            x, y = u[: n * n].reshape(n, n), u[n * n:].reshape(n, n)
            lap = lambda z: jnp.roll(z, 1, 0) + jnp.roll(z, -1, 0) + jnp.roll(z, 1, 1) + jnp.roll(z, -1, 1) - 4.0 * z
            return jnp.concatenate([(1.0 + x * x * y - 4.4 * x + 10.0 * lap(x)).ravel(),
                                    (3.4 * x - x * x * y + 10.0 * lap(y)).ravel()])
    else:
        def f(x):
            return (jnp.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)
                    + jnp.sum(x[2:] ** 2 * x[:-2]))
    derivative = jax.jit(jax.jacfwd(f) if kind == "jacobian" else jax.hessian(f))
    return lambda x: derivative(x).block_until_ready()


def run_case(name, function, x, kind, repeat):
    row = {"workload": name, "n": x.size}
    detect = sparse.jacobian_sparsity if kind == "jacobian" else sparse.hessian_sparsity
    row["detection"] = median_time(lambda: detect(function)(x), repeat)
    pattern = detect(function)(x)
    row["nnz"] = pattern.nnz
    coloring_kind = "column" if kind == "jacobian" else "star"
    row["coloring"] = median_time(lambda: sparse.coloring(pattern, coloring_kind), repeat)
    # the three ways sparse.jacobian / sparse.hessian run the compressed pass (see their jit= argument)
    make = sparse.jacobian if kind == "jacobian" else sparse.hessian
    default, traced, jitted = (make(function, sparsity=pattern, jit=jit) for jit in ("auto", False, True))
    dense = cr.jacfwd(function) if kind == "jacobian" else cr.hessian(function)
    plan = compression.jacobian_plan(pattern, "auto", x.dtype) if kind == "jacobian" else \
        compression.hessian_plan(pattern, x.dtype)
    row["colors"] = plan.color_count
    row["networkx colors"] = networkx_colors(pattern, coloring_kind)
    reference = numpy.asarray(dense(x))
    result = traced(x).toarray()
    row["max error vs dense"] = float(numpy.max(numpy.abs(result - reference)) / numpy.max(numpy.abs(reference)))
    for name, evaluate in (("sparse default", default), ("sparse traced", traced), ("sparse jit", jitted)):
        for _ in range(2):  # the default compiles on the second call of a structure, jit on the first
            assert abs(evaluate(x) - traced(x)).max() <= 1e-12 * numpy.abs(reference).max()
        row[name] = median_time(lambda: evaluate(x), repeat)
    row["dense chainrule"] = median_time(lambda: dense(x), max(1, repeat // 2)) if x.size <= 4096 else None
    jax_function = jax_dense(kind, name, x.size)
    if jax_function is not None and x.size <= 4096:
        jax_function(x)
        row["dense jax.jit"] = median_time(lambda: jax_function(x), repeat)
    else:
        row["dense jax.jit"] = None
    # SciPy's grouped finite differences (Curtis-Powell-Reid): of f for a Jacobian, of the compiled exact
    # gradient for a Hessian.
    target = cr.jit(function) if kind == "jacobian" else cr.jit(cr.grad(function))
    target(x)
    groups_pattern = scipy.sparse.csr_matrix(pattern)
    row["scipy grouped FD"] = median_time(
        lambda: approx_derivative(lambda y: numpy.asarray(target(y)), x, method="2-point",
                                  sparsity=groups_pattern), repeat)
    # the same differences with chainrule's colorings (fd.jacobian / fd.hessian with sparsity=)
    if kind == "jacobian":
        grouped = lambda: fd.jacobian(lambda y: numpy.asarray(target(y)), x, sparsity=pattern, method="forward")
    else:
        grouped = lambda: fd.hessian(function, x, sparsity=pattern, grad=target, method="forward")
    row["chainrule fd grouped"] = median_time(grouped, repeat)
    return row


def laplacian_pattern(*sizes):
    """The pattern of the standard (2 d + 1)-point Laplacian on a grid of these sizes."""
    matrix = None
    for axis, size in enumerate(sizes):
        term = scipy.sparse.diags([1.0, 1.0, 1.0], [-1, 0, 1], shape=(size, size))
        for other_axis, other in enumerate(sizes):
            if other_axis != axis:
                eye = scipy.sparse.eye(other)
                term = scipy.sparse.kron(term, eye) if other_axis > axis else scipy.sparse.kron(eye, term)
        matrix = term if matrix is None else matrix + term
    return scipy.sparse.csr_array(matrix, dtype=bool)


def coloring_table(repeat):
    """Coloring time and colors at n of about 10,000 for stencil densities, against networkx's best greedy."""
    rng = numpy.random.default_rng(0)
    cases = [("banded (5 diagonals)", sparse.jacobian_sparsity(banded)(rng.uniform(0.5, 1.5, 10_000)), "column"),
             ("2-D Laplacian 100x100", laplacian_pattern(100, 100), "column"),
             ("3-D Laplacian 22^3", laplacian_pattern(22, 22, 22), "column"),
             ("Brusselator 2x70x70", sparse.jacobian_sparsity(brusselator)(rng.uniform(0.5, 1.5, 2 * 70 * 70)),
              "column"),
             ("pentadiagonal Hessian", sparse.hessian_sparsity(pentadiagonal_rosenbrock)(rng.uniform(0.5, 1.5, 10_000)),
              "star")]
    # networkx's DSATUR scans every vertex per step: minutes at this size, so only its two fast strategies
    lines = ["| pattern | n | nnz | kind | colors (auto) | auto | colors (best) | best | networkx LF/SL greedy |",
             "|---|---|---|---|---|---|---|---|---|"]
    for name, pattern, kind in cases:
        auto = median_time(lambda: sparse.coloring(pattern, kind), repeat)
        best = median_time(lambda: sparse.coloring(pattern, kind, "best"), 1)
        colors_auto = int(sparse.coloring(pattern, kind).max()) + 1
        colors_best = int(sparse.coloring(pattern, kind, "best").max()) + 1
        lines.append(f"| {name} | {pattern.shape[1]} | {pattern.nnz} | {kind} | {colors_auto} | {auto * 1e3:.1f} ms | "
                     f"{colors_best} | {best * 1e3:.0f} ms | "
                     f"{networkx_colors(pattern, kind, ('largest_first', 'smallest_last')) or '—'} |")
    return "\n".join(lines) + "\n"


COLUMNS = ["workload", "n", "nnz", "detection", "coloring", "colors", "networkx colors", "sparse default",
           "sparse traced", "sparse jit",
           "dense chainrule", "dense jax.jit", "scipy grouped FD", "chainrule fd grouped", "max error vs dense"]


def markdown(rows):
    def show(value):
        if value is None:
            return "—"
        if isinstance(value, float):
            return f"{value:.2e}" if value < 1e-3 and value != 0 else f"{value * 1e3:.1f} ms" if value < 100 else f"{value:.3g}"
        return str(value)

    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    for row in rows:
        cells = []
        for column in COLUMNS:
            value = row.get(column)
            if column == "max error vs dense":
                cells.append(f"{value:.1e}")
            elif isinstance(value, float):
                cells.append(f"{value * 1e3:.2f} ms")
            else:
                cells.append(show(value))
        lines.append("| " + " | ".join(cells) + " |")
    lines.append("")
    for row in rows:
        speedups = []
        if row.get("dense jax.jit"):
            speedups.append(f"{row['dense jax.jit'] / row['sparse jit']:.0f}x vs dense jax.jit")
        if row.get("dense jax.jit"):
            speedups.append(f"{row['dense jax.jit'] / row['sparse default']:.0f}x (sparse default)")
        if row.get("dense chainrule"):
            speedups.append(f"{row['dense chainrule'] / row['sparse default']:.0f}x vs dense chainrule")
        speedups.append(f"{row['scipy grouped FD'] / row['sparse jit']:.1f}x vs SciPy grouped FD (sparse jit)")
        speedups.append(f"{row['scipy grouped FD'] / row['sparse default']:.1f}x (sparse default)")
        speedups.append(f"{row['scipy grouped FD'] / row['sparse traced']:.1f}x (sparse traced)")
        speedups.append(f"fd grouped {row['scipy grouped FD'] / row['chainrule fd grouped']:.1f}x SciPy's speed")
        lines.append(f"- {row['workload']}: " + ", ".join(speedups))
    return "\n".join(lines) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--out", default=str(pathlib.Path(__file__).with_name("SPARSE_RESULTS.md")))
    args = parser.parse_args()
    rng = numpy.random.default_rng(0)
    rows = [
        run_case("banded", banded, rng.uniform(0.5, 1.5, 2000), "jacobian", args.repeat),
        run_case("brusselator", brusselator, rng.uniform(0.5, 1.5, 2 * 32 * 32), "jacobian", args.repeat),
        run_case("pentadiagonal_hessian", pentadiagonal_rosenbrock, rng.uniform(0.5, 1.5, 10_000), "hessian",
                 args.repeat),
    ]
    text = "# Sparse Jacobians and Hessians\n\nMedians of " + str(args.repeat) + " runs (`python " \
           "benchmarks/sparse_bench.py`). `sparse default` is `sparse.jacobian(f)` (resp. `hessian`; " \
           "`jit=\"auto\"`: f staged at every call, so eager semantics, the pass compiled per structure of f), " \
           "`sparse traced` is `jit=False` (the batched pass traced at every call), `sparse jit` is `jit=True` " \
           "(compiled once, closures fixed); " \
           "`chainrule fd grouped` is `fd.jacobian(f, x, sparsity=...)` (forward differences, as SciPy's " \
           "`2-point`) and `fd.hessian(f, x, sparsity=..., grad=...)`.\n\n" + markdown(rows) + \
           "\n## Coloring at n = 10,000\n\n`coloring(pattern, kind)` with the default order `\"auto\"` " \
           "against `order=\"best\"` (every sequential greedy order, the previous default).\n\n" + \
           coloring_table(args.repeat)
    pathlib.Path(args.out).write_text(text)
    print(text)


if __name__ == "__main__":
    main()
