"""Implicit differentiation of a fixed point: cost, accuracy and memory of ``chainrule.optimize.fixed_point``.

The workload is the fixed point of ``x = tanh(W x + b)`` with n = 1,000 and ``W = 0.5 randn / sqrt(n)`` (a
contraction), differentiated with respect to W and b through ``loss = c · x*``, all with default settings.
Measured, as medians of repeated runs in this process:

- forward: the solve alone; gradient: ``grad(loss)`` with respect to (W, b), which includes the solve (the
  two are timed alternately, and the ratio is the median of the per-pair ratios);
- error: relative difference (Frobenius norm over W and b) from the gradient of the *unrolled* iteration
  (reverse mode through plain iterations run until they stop changing) and from JAX's unrolled gradient;
- peak memory (tracemalloc) of the gradient when the forward solve is made to take 10 and 1,000 iterations
  (``method="iterate", tol=0``): implicit differentiation keeps none of them, the unrolled gradient keeps all.

    python benchmarks/optimize_bench.py            # prints the table, writes benchmarks/OPTIMIZE_RESULTS.md
    python benchmarks/optimize_bench.py --n 300 --repeat 3
"""
import argparse
import importlib.util
import os
import platform
import statistics
import sys
import time
import tracemalloc
import warnings

import numpy

import chainrule as cr
import chainrule.numpy as np
import chainrule.optimize as opt

HERE = os.path.dirname(os.path.abspath(__file__))


def problem(n, seed=0):
    rng = numpy.random.default_rng(seed)
    W = 0.5 * rng.standard_normal((n, n)) / numpy.sqrt(n)
    return W, rng.standard_normal(n), rng.standard_normal(n)


def tanh_map(x, W, b):
    return np.tanh(W @ x + b)


def seconds(call):
    start = time.perf_counter()
    call()
    return time.perf_counter() - start


def paired_times(forward, gradient, repeat):
    """Median times of two calls, run alternately so that both see the same machine load, and the median of
    the per-pair ratios (steadier than the ratio of medians on a busy machine)."""
    forward(), gradient()  # warm-up
    pairs = [(seconds(forward), seconds(gradient)) for _ in range(repeat)]
    return (statistics.median(p[0] for p in pairs), statistics.median(p[1] for p in pairs),
            statistics.median(p[1] / p[0] for p in pairs))


def peak_memory(call):
    tracemalloc.start()
    try:
        call()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def iterations_to_converge(W, b):
    """Plain iterations until x changes by no more than rounding, so the unrolled gradient is at convergence
    too (its derivative contracts at the same rate as x)."""
    x = numpy.zeros_like(b)
    for count in range(1, 10_000):
        image = numpy.tanh(W @ x + b)
        if numpy.max(numpy.abs(image - x)) <= 4 * numpy.finfo(float).eps * numpy.max(numpy.abs(x)):
            return count
        x = image
    raise RuntimeError("the map does not converge; scale W down")


def relative_error(gradient, reference):
    difference = sum(numpy.linalg.norm(numpy.asarray(g) - numpy.asarray(r)) ** 2 for g, r in zip(gradient, reference))
    size = sum(numpy.linalg.norm(numpy.asarray(r)) ** 2 for r in reference)
    return float(numpy.sqrt(difference / size))


def unrolled_loss(c, iterations):
    def loss(W, b):
        x = numpy.zeros_like(b)
        for _ in range(iterations):
            x = tanh_map(x, W, b)
        return np.sum(c * x)
    return loss


def jax_unrolled_gradient(W, b, c, iterations):
    if importlib.util.find_spec("jax") is None:
        return None
    import jax
    jax.config.update("jax_enable_x64", True)
    jnp = jax.numpy

    def loss(W, b):
        x = jax.lax.fori_loop(0, iterations, lambda _, x: jnp.tanh(W @ x + b), jnp.zeros_like(b))
        return jnp.sum(c * x)

    return jax.jit(jax.grad(loss, argnums=(0, 1)))(W, b)


def jaxopt_row(W, b, c, repeat, reference):
    """jaxopt's implicit differentiation with its defaults, when jaxopt is installed."""
    if importlib.util.find_spec("jaxopt") is None:
        return None
    import jax
    import jaxopt
    jax.config.update("jax_enable_x64", True)
    jnp = jax.numpy
    solver = jaxopt.AndersonAcceleration(fixed_point_fun=lambda x, W, b: jnp.tanh(W @ x + b), tol=1e-12,
                                         maxiter=1000, implicit_diff=True)
    forward = lambda: solver.run(jnp.zeros_like(b), W, b).params.block_until_ready()
    gradient_function = jax.grad(lambda W, b: jnp.sum(c * solver.run(jnp.zeros_like(b), W, b).params),
                                 argnums=(0, 1))
    gradient = lambda: [g.block_until_ready() for g in gradient_function(W, b)]
    forward_time, gradient_time, ratio = paired_times(forward, gradient, repeat)
    return {"library": "jaxopt (Anderson, implicit_diff, defaults)", "forward": forward_time,
            "gradient": gradient_time, "ratio": ratio, "error": relative_error(gradient(), reference)}


def run(n, repeat):
    W, b, c = problem(n)
    x0 = numpy.zeros(n)
    loss = lambda W, b: np.sum(c * opt.fixed_point(tanh_map, x0, W, b))
    gradient_function = cr.grad(loss, argnums=(0, 1))

    forward_time, gradient_time, ratio = paired_times(lambda: opt.fixed_point(tanh_map, x0, W, b),
                                                      lambda: gradient_function(W, b), repeat)
    gradient = gradient_function(W, b)

    converged_after = iterations_to_converge(W, b)
    reference = cr.grad(unrolled_loss(c, converged_after + 10), argnums=(0, 1))(W, b)
    jax_reference = jax_unrolled_gradient(W, b, c, converged_after + 10)

    def implicit_gradient_with(iterations):
        fixed = lambda W, b: np.sum(c * opt.fixed_point(tanh_map, x0, W, b, method="iterate", tol=0.0,
                                                        maxiter=iterations))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", opt.ConvergenceWarning)  # tol=0 is never met, on purpose
            return peak_memory(lambda: cr.grad(fixed, argnums=(0, 1))(W, b))

    memory = {count: implicit_gradient_with(count) for count in (10, 1000)}
    unrolled_memory = {count: peak_memory(lambda: cr.grad(unrolled_loss(c, count), argnums=(0, 1))(W, b))
                       for count in (10, 1000)}
    return {
        "n": n, "forward": forward_time, "gradient": gradient_time, "ratio": ratio,
        "error": relative_error(gradient, reference),
        "error_jax": None if jax_reference is None else relative_error(gradient, jax_reference),
        "unrolled_iterations": converged_after + 10, "memory": memory, "unrolled_memory": unrolled_memory,
        "jaxopt": jaxopt_row(W, b, c, repeat, reference),
    }


def table(results):
    mib = lambda size: f"{size / 2**20:.1f} MiB"
    error_jax = "not installed" if results["error_jax"] is None else f"{results['error_jax']:.1e}"
    lines = [
        f"# Implicit differentiation: fixed point of x = tanh(W x + b), n = {results['n']:,}",
        "",
        f"Python {platform.python_version()}, NumPy {numpy.__version__}, {platform.machine()}; medians; "
        f"`python benchmarks/optimize_bench.py`. Default settings of `chainrule.optimize.fixed_point` "
        f"(Anderson acceleration, GMRES for the backward solve).",
        "",
        "| measure | chainrule (implicit) |",
        "|---|---|",
        f"| forward solve | {results['forward'] * 1e3:.1f} ms |",
        f"| gradient w.r.t. (W, b), solve included | {results['gradient'] * 1e3:.1f} ms |",
        f"| ratio gradient / forward (median of paired runs) | {results['ratio']:.2f} |",
        f"| relative error vs unrolled gradient ({results['unrolled_iterations']} iterations, chainrule) "
        f"| {results['error']:.1e} |",
        f"| relative error vs unrolled gradient (JAX, x64) | {error_jax} |",
        f"| peak memory of the gradient, forward forced to 10 iterations | {mib(results['memory'][10])} |",
        f"| peak memory of the gradient, forward forced to 1,000 iterations | {mib(results['memory'][1000])} |",
        f"| (unrolled gradient, 10 iterations) | {mib(results['unrolled_memory'][10])} |",
        f"| (unrolled gradient, 1,000 iterations) | {mib(results['unrolled_memory'][1000])} |",
    ]
    jaxopt = results["jaxopt"]
    if jaxopt is None:
        lines += ["", "jaxopt: not installed (no row)."]
    else:
        lines += ["", "| library | forward | gradient | ratio | error vs unrolled |", "|---|---|---|---|---|",
                  f"| {jaxopt['library']} | {jaxopt['forward'] * 1e3:.1f} ms | {jaxopt['gradient'] * 1e3:.1f} ms | "
                  f"{jaxopt['ratio']:.2f} | {jaxopt['error']:.1e} |"]
    return "\n".join(lines) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--no-write", action="store_true", help="print only; do not write OPTIMIZE_RESULTS.md")
    arguments = parser.parse_args(argv)
    text = table(run(arguments.n, arguments.repeat))
    sys.stdout.write(text)
    if not arguments.no_write:
        with open(os.path.join(HERE, "OPTIMIZE_RESULTS.md"), "w") as handle:
            handle.write(text)


if __name__ == "__main__":
    main()
