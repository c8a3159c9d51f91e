"""Symbolic derivatives without expression swell: chainrule.symbolic (export of the derivative graph)
against SymPy's diff and diff + CSE. Writes benchmarks/SYMBOLIC_RESULTS.md.

Run: python benchmarks/symbolic.py
"""
import gc
import pathlib
import platform
import time

import numpy as np
import sympy
from sympy.core.cache import clear_cache

import chainrule as cr
import chainrule.numpy as cnp
from chainrule import symbolic
from chainrule.core.avals import ShapedArray

DEPTH = 40
CHAINS = 40
LSE_SIZE = 12


def nested(x):
    for _ in range(DEPTH):
        x = cnp.sin(x)
    return x


def chains(*xs):
    return sum(nested(x) for x in xs)


def log_sum_exp(*xs):
    return cnp.log(sum(cnp.exp(x) for x in xs))


def best_time(work, repeat=5):
    """Fastest of ``repeat`` runs (seconds) and the last result. SymPy's cache is emptied before each
    run, so every run builds its expressions afresh, as a first call does."""
    best, result = float("inf"), None
    for _ in range(repeat):
        clear_cache()
        start = time.perf_counter()
        result = work()
        best = min(best, time.perf_counter() - start)
    return best, result


def split_time(transform, names, repeat):
    """Fastest staging (``make_graph`` of the derivative) and export (graph -> SymPy) of ``transform``,
    each timed alone, each run with the collector paused as ``chainrule.symbolic`` pauses it."""
    specs = [ShapedArray((), np.float64) for _ in names]
    symbols = [sympy.Symbol(n, real=True) for n in names]

    def paused(work):
        def run():
            gc.disable()
            try:
                return work()
            finally:
                gc.enable()
        return run

    staging, graph = best_time(paused(lambda: cr.make_graph(transform)(*specs)), repeat)
    export, _ = best_time(paused(lambda: symbolic.graph_to_sympy(graph, symbols, taken=names)), repeat)
    return staging, export


def sympy_expression(builder, names):
    symbols = sympy.symbols(names, real=True)
    return symbols, builder(symbols)


def run_case(label, function, names, kind, point, sympy_builder, repeat):
    names = tuple(names)
    f_ops = symbolic.count_operations(symbolic.formula(function, names))
    export = {"gradient": symbolic.gradient, "hessian": symbolic.hessian}[kind]
    ours_time, ours = best_time(lambda: export(function, names), repeat)
    ours_ops = symbolic.count_operations(ours)
    values = np.asarray(symbolic.lambdify(ours, names)(*point), dtype=float).ravel()
    argnums = tuple(range(len(names)))
    transform = {"gradient": cr.grad, "hessian": cr.hessian}[kind](function, argnums=argnums)
    staging_time, export_time = split_time(transform, names, repeat)
    if kind == "gradient":
        reference = np.asarray(cr.grad(function, argnums=argnums)(*point), dtype=float).ravel()
    else:
        reference = np.asarray(cr.hessian(function, argnums=argnums)(*point), dtype=float).ravel()
    error = float(np.max(np.abs(values - reference) / np.maximum(1.0, np.abs(reference))))

    symbols, expression = sympy_expression(sympy_builder, names)

    def sympy_diff():
        if kind == "gradient":
            return [sympy.diff(expression, s) for s in symbols]
        return sympy.hessian(expression, symbols)

    diff_time, tree = best_time(sympy_diff, 1)
    tree_ops = symbolic.count_operations(list(tree))
    cse_time, reduced = best_time(lambda: sympy.cse(list(tree)), 1)
    cse_ops = symbolic.count_operations((list(reduced[0]), list(reduced[1])))
    return {"case": label, "f_ops": f_ops, "ours_ops": ours_ops, "ours_ms": ours_time * 1e3,
            "staging_ms": staging_time * 1e3, "export_ms": export_time * 1e3,
            "tree_ops": tree_ops, "diff_ms": diff_time * 1e3, "cse_ops": cse_ops,
            "diff_cse_ms": (diff_time + cse_time) * 1e3, "error": error}


def main():
    rng = np.random.default_rng(0)
    cases = [
        run_case(f"sin nested {DEPTH} deep, gradient", nested, ["x"], "gradient", [0.7],
                 lambda s: _nest(s[0]), repeat=5),
        run_case(f"sum of {CHAINS} nested chains ({CHAINS} variables), gradient", chains,
                 [f"x{k}" for k in range(CHAINS)], "gradient", list(rng.uniform(-1, 1, CHAINS)),
                 lambda s: sum(_nest(v) for v in s), repeat=7),
        run_case(f"log-sum-exp of {LSE_SIZE} variables, Hessian", log_sum_exp,
                 [f"x{k}" for k in range(LSE_SIZE)], "hessian", list(rng.uniform(-1, 1, LSE_SIZE)),
                 lambda s: sympy.log(sum(sympy.exp(v) for v in s)), repeat=5),
    ]
    lines = [
        "# Symbolic derivatives: chainrule.symbolic vs SymPy",
        "",
        "Written by `python benchmarks/symbolic.py`. chainrule exports the *derivative graph* (shared values "
        "become named replacements); SymPy differentiates the expression tree (`diff`), then optionally "
        "shares subexpressions (`cse`). Operation counts are `sympy.count_ops` summed over replacements "
        "and expressions. Times are the best of several runs for chainrule (staging + export), one run for SymPy, "
        "each with SymPy's cache emptied first. The build's split: staging is `make_graph` of the derivative "
        "(tracing, reverse mode, graph simplification), export is the graph -> SymPy conversion, each timed alone.",
        "",
        f"Machine: {platform.processor() or platform.machine()}, Python {platform.python_version()}, "
        f"SymPy {sympy.__version__}.",
        "",
        "| case | ops of f | chainrule ops | ratio to f | chainrule build (ms) | staging / export (ms) "
        "| SymPy diff ops | SymPy diff (ms) | SymPy diff+CSE ops | SymPy diff+CSE (ms) | max rel. difference from AD |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for c in cases:
        lines.append(f"| {c['case']} | {c['f_ops']} | {c['ours_ops']} | {c['ours_ops'] / c['f_ops']:.2f} | "
                     f"{c['ours_ms']:.1f} | {c['staging_ms']:.1f} / {c['export_ms']:.1f} | {c['tree_ops']} | {c['diff_ms']:.0f} | {c['cse_ops']} | "
                     f"{c['diff_cse_ms']:.0f} | {c['error']:.1e} |")
    lines += ["", "Targets: gradient ops ≤ 3× f, built in ≤ 50 ms; Hessian built in ≤ 100 ms; values equal AD to 1e-13.",
              "",
              "The 40-chain build took 400–900 ms while each SymPy node was built through SymPy's automatic "
              "evaluation (a growing product re-sorted at every multiplication, every sin and cos searched for "
              "multiples of pi and I) and the cyclic garbage collector ran during the build. The exporter now "
              "builds a one-argument function of a symbol directly where SymPy's evaluation is checked to change "
              "nothing, collects products and builds each once, and pauses the collector while it builds."]
    text = "\n".join(lines) + "\n"
    path = pathlib.Path(__file__).with_name("SYMBOLIC_RESULTS.md")
    path.write_text(text)
    print(text)


def _nest(symbol):
    for _ in range(DEPTH):
        symbol = sympy.sin(symbol)
    return symbol


if __name__ == "__main__":
    main()
