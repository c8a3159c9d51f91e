"""Checkpointed loops: memory and time of the gradient of a long ``scan`` (``chainrule.control``).

The workload is an explicit Euler integration of ``dc/dt = tanh(w * c)`` for a state of n = 1,000 entries:
``c <- c + dt * tanh(w * c)`` for T steps (100,000 by default), and the gradient of ``sum(c_T ** 2)`` with respect
to ``(w, c_0)``. Measured, as medians of repeated runs in this process:

- time of the forward loop alone, and of the gradient storing every carry (``checkpoints="all"``: T x 8 kB) and
  with ``checkpoints=100`` (binomial checkpointing, Griewank's revolve), eagerly and under ``cr.jit``;
- peak memory of each gradient (tracemalloc, which sees NumPy's allocations), in a separate run;
- the same against the number of steps (10^2 .. T) for the Python loop differentiated as written (every
  operation on the tape), scan storing all, and scan with 100 checkpoints: the plot docs/img/loops-memory-time.png;
- JAX (when installed): ``jax.lax.scan`` under ``jax.jit``, with ``jax.checkpoint`` on the step, and with a
  two-level ``jax.checkpoint`` of 100 segments (what JAX users write for a checkpointed loop); its memory is
  XLA's own account of the compiled gradient's temporary buffers (tracemalloc cannot see them).

    python benchmarks/loops_bench.py            # prints the table, writes LOOPS_RESULTS.md and the plot
    python benchmarks/loops_bench.py --steps 10000 --repeat 3 --no-plot
"""
import argparse
import importlib.util
import os
import platform
import sys
import time
import tracemalloc

import numpy

import chainrule as cr
import chainrule.numpy as np
from chainrule.control import count_steps, minimal_forward_steps, scan
from timing import median_time

HERE = os.path.dirname(os.path.abspath(__file__))
PICTURE = os.path.join(HERE, "..", "docs", "img", "loops-memory-time.png")
SIZE, DT, CHECKPOINTS = 1000, 1e-3, 100
MiB = 2 ** 20


def problem(size=SIZE):
    return numpy.linspace(0.5, 1.5, size), numpy.linspace(-1.0, 1.0, size)


def scan_loss(steps, checkpoints):
    def loss(w, c0):
        c, _ = scan(lambda c, _: (c + DT * np.tanh(w * c), None), c0, None, length=steps, checkpoints=checkpoints)
        return np.sum(c * c)
    return loss


def unrolled_loss(steps):
    def loss(w, c0):
        c = c0
        for _ in range(steps):
            c = c + DT * np.tanh(w * c)
        return np.sum(c * c)
    return loss


def seconds(call):
    start = time.perf_counter()
    call()
    return time.perf_counter() - start


def peak_bytes(call):
    """Peak bytes allocated (tracemalloc) while ``call`` runs, above what was allocated before."""
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        call()
        return tracemalloc.get_traced_memory()[1] - before
    finally:
        tracemalloc.stop()


def gradients(steps):
    """name -> gradient function of (w, c0), chainrule's variants."""
    return {
        "scan, store all": cr.grad(scan_loss(steps, "all"), argnums=(0, 1)),
        f"scan, checkpoints={CHECKPOINTS}": cr.grad(scan_loss(steps, CHECKPOINTS), argnums=(0, 1)),
        "jit, scan, store all": cr.jit(cr.grad(scan_loss(steps, "all"), argnums=(0, 1))),
        f"jit, scan, checkpoints={CHECKPOINTS}": cr.jit(cr.grad(scan_loss(steps, CHECKPOINTS), argnums=(0, 1))),
    }


def measure_chainrule(steps, repeat):
    w, c0 = problem()
    rows = {"forward loop alone": (median_time(lambda: scan_loss(steps, "all")(w, c0), repeat), None, None)}
    reference = None
    for name, gradient in gradients(steps).items():
        value = gradient(w, c0)  # warm-up (jit compiles here), and the value compared
        reference = value if reference is None else reference
        error = max(float(numpy.max(numpy.abs(a - b)) / numpy.max(numpy.abs(b))) for a, b in zip(value, reference))
        with count_steps() as counts:
            memory = peak_bytes(lambda: gradient(w, c0))
        rows[name] = (median_time(lambda: gradient(w, c0), repeat), memory, (counts, error))
    return rows


def measure_jax(steps, repeat):
    """name -> (median seconds, XLA temporary bytes) of JAX's compiled gradients; {} without JAX."""
    if importlib.util.find_spec("jax") is None:
        return {}
    import jax
    import jax.numpy as jnp
    jax.config.update("jax_enable_x64", True)

    def step(w):
        return lambda c, _: (c + DT * jnp.tanh(w * c), None)

    def store_all(w, c0):
        return jnp.sum(jax.lax.scan(step(w), c0, None, length=steps)[0] ** 2)

    def checkpointed_step(w, c0):
        return jnp.sum(jax.lax.scan(jax.checkpoint(step(w)), c0, None, length=steps)[0] ** 2)

    segments = CHECKPOINTS if steps % CHECKPOINTS == 0 else 1

    def two_level(w, c0):
        @jax.checkpoint
        def segment(c, _):
            return jax.lax.scan(step(w), c, None, length=steps // segments)[0], None
        return jnp.sum(jax.lax.scan(segment, c0, None, length=segments)[0] ** 2)

    w, c0 = problem()
    rows = {}
    for name, loss in (("JAX lax.scan, jit", store_all), ("JAX jax.checkpoint(step)", checkpointed_step),
                       (f"JAX two-level jax.checkpoint, {segments} segments", two_level)):
        gradient = jax.jit(jax.grad(loss, argnums=(0, 1)))
        compiled = gradient.lower(w, c0).compile()
        analysis = compiled.memory_analysis()
        memory = None if analysis is None else analysis.temp_size_in_bytes
        jax.block_until_ready(gradient(w, c0))
        rows[name] = (median_time(lambda: jax.block_until_ready(gradient(w, c0)), repeat), memory, None)
    return rows


def sweep(steps_list, repeat):
    """method -> [(steps, seconds, peak bytes)] for the plot: the unrolled tape, scan storing all, checkpointed."""
    w, c0 = problem()
    methods = {"Python loop (unrolled tape)": unrolled_loss, "scan, store all": lambda t: scan_loss(t, "all"),
               f"scan, checkpoints={CHECKPOINTS}": lambda t: scan_loss(t, CHECKPOINTS)}
    results = {name: [] for name in methods}
    for steps in steps_list:
        for name, make in methods.items():
            gradient = cr.grad(make(steps), argnums=(0, 1))
            gradient(w, c0)
            runs = repeat if steps < max(steps_list) else 1
            results[name].append((steps, median_time(lambda: gradient(w, c0), runs),
                                  peak_bytes(lambda: gradient(w, c0))))
            print(f"  {name}, {steps} steps: {results[name][-1][1]:.3g} s, {results[name][-1][2] / MiB:.1f} MiB",
                  file=sys.stderr)
    return results


def plot(results, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    figure, (memory_axes, time_axes) = plt.subplots(1, 2, figsize=(10, 4))
    for name, points in results.items():
        steps = [p[0] for p in points]
        memory_axes.loglog(steps, [max(p[2], 1) / MiB for p in points], "o-", label=name)
        time_axes.loglog(steps, [p[1] for p in points], "o-", label=name)
    memory_axes.set(xlabel="steps", ylabel="peak memory of the gradient (MiB)", title="memory")
    time_axes.set(xlabel="steps", ylabel="time of the gradient (s)", title="time")
    for axes in (memory_axes, time_axes):
        axes.grid(True, which="major", alpha=0.3)
    memory_axes.legend(fontsize=8)
    figure.suptitle(f"gradient of c <- c + dt tanh(w c), state of {SIZE:,} floats")
    figure.tight_layout()
    os.makedirs(os.path.dirname(path), exist_ok=True)
    figure.savefig(path, dpi=110)


def fmt_time(value):
    return f"{value * 1e3:.1f} ms" if value < 1 else f"{value:.2f} s"


def fmt_memory(value):
    return "" if value is None else f"{value / MiB:.1f} MiB"


def table(steps, rows, jax_rows, repeat):
    store_all, checkpointed = rows["scan, store all"], rows[f"scan, checkpoints={CHECKPOINTS}"]
    jit_all, jit_checkpointed = rows["jit, scan, store all"], rows[f"jit, scan, checkpoints={CHECKPOINTS}"]
    lines = [f"# Checkpointed loops: gradient of a {steps:,}-step scan, state of {SIZE:,} floats", "",
             f"Python {platform.python_version()}, NumPy {numpy.__version__}, {platform.machine()}; medians of "
             f"{repeat} runs; `python benchmarks/loops_bench.py`. Step: `c <- c + dt * tanh(w * c)`; gradient of "
             f"`sum(c_T ** 2)` with respect to `(w, c_0)`. Peak memory: tracemalloc (NumPy's allocations).", "",
             "| variant | time | peak memory | steps recomputed | max. carries held | rel. difference |",
             "|---|---|---|---|---|---|"]
    for name, (seconds_, memory, extra) in rows.items():
        if extra is None:
            lines.append(f"| {name} | {fmt_time(seconds_)} | | | | |")
            continue
        counts, error = extra
        lines.append(f"| {name} | {fmt_time(seconds_)} | {fmt_memory(memory)} | {counts.recomputed:,} | "
                     f"{counts.max_stored or steps:,} | {error:.1e} |")
    lines += ["", f"Griewank's minimal number of forward steps for {steps:,} steps and {CHECKPOINTS} snapshots: "
              f"{minimal_forward_steps(steps, CHECKPOINTS):,} (the eager gradient's primal loop is the first "
              f"sweep; compiled, the derivative runs its own).", "",
              "| ratio (checkpoints=100 / store all) | eager | jit | target |", "|---|---|---|---|",
              f"| peak memory | {checkpointed[1] / store_all[1]:.2%} | {jit_checkpointed[1] / jit_all[1]:.2%} | "
              f"<= 2% |",
              f"| time | {checkpointed[0] / store_all[0]:.2f}x | {jit_checkpointed[0] / jit_all[0]:.2f}x | <= 4x |"]
    if jax_rows:
        lines += ["", f"JAX {__import__('jax').__version__} (CPU, x64), same workload and size; memory is XLA's "
                  f"temporary buffers of the compiled gradient (`memory_analysis().temp_size_in_bytes`).", "",
                  "| variant | time | temporary memory |", "|---|---|---|"]
        lines += [f"| {name} | {fmt_time(s)} | {fmt_memory(m)} |" for name, (s, m, _) in jax_rows.items()]
    else:
        lines += ["", "JAX: not installed (no rows)."]
    return "\n".join(lines) + "\n"


def sweep_table(results):
    names = list(results)
    steps = [p[0] for p in results[names[0]]]
    lines = ["", "Against the number of steps (docs/img/loops-memory-time.png): time / peak memory of the gradient.",
             "", "| steps | " + " | ".join(names) + " |", "|---" * (len(names) + 1) + "|"]
    for index, count in enumerate(steps):
        cells = [f"{fmt_time(results[n][index][1])} / {fmt_memory(results[n][index][2])}" for n in names]
        lines.append(f"| {count:,} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--no-plot", action="store_true", help="skip the sweep over the number of steps and the plot")
    parser.add_argument("--output", default=os.path.join(HERE, "LOOPS_RESULTS.md"))
    args = parser.parse_args()
    rows = measure_chainrule(args.steps, args.repeat)
    jax_rows = measure_jax(args.steps, args.repeat)
    text = table(args.steps, rows, jax_rows, args.repeat)
    if not args.no_plot:
        steps_list = [s for s in (100, 1_000, 10_000, 100_000) if s < args.steps] + [args.steps]
        results = sweep(steps_list, args.repeat)
        plot(results, PICTURE)
        text += sweep_table(results)
    print(text)
    with open(args.output, "w") as handle:
        handle.write(text)


if __name__ == "__main__":
    main()
