"""Side-by-side speed of chainrule and the installed peers (autograd, JAX eager and jit, PyTorch).

``chainrule-jit`` is chainrule with the derivative compiled to NumPy code by ``chainrule.jit`` (once per
argument signature, like ``jax-jit``).
Each (workload, library) pair runs in its own process; times are medians of repeated calls, and the
figure compared is a ratio measured within one library (derivative time / function time), or, for
the lecture example, time relative to autograd. Writes benchmarks/RESULTS.md.

    python benchmarks/run.py                                # every workload, every installed peer
    python benchmarks/run.py --quick                        # fewer repetitions
    python benchmarks/run.py --update --workloads loop      # re-measure some rows, keep the others
"""
import argparse
import functools
import importlib.util
import json
import os
import platform
import statistics
import subprocess
import sys
import time

import timing

median_time = functools.partial(timing.median_time, warmup=2)

HERE = os.path.dirname(os.path.abspath(__file__))
LIBRARIES = ["chainrule", "chainrule-jit", "autograd", "jax", "jax-jit", "torch"]


# ------------------------------------------------------------------------------------------------ backends

def backend(library):
    """(numpy-like module, grad, hvp, to_array, block) for one library."""
    import numpy
    if library == "chainrule":
        import chainrule as cr
        import chainrule.numpy as xp
        return xp, cr.grad, lambda f: (lambda x, v: cr.hvp(f, (x,), (v,))[0]), numpy.asarray, lambda r: r
    if library == "chainrule-jit":
        # The derivative compiled to NumPy code once per argument signature, as jax.jit compiles once.
        import chainrule as cr
        import chainrule.numpy as xp
        return (xp, lambda f, argnums=0: cr.jit(cr.grad(f, argnums=argnums)),
                lambda f: cr.jit(lambda x, v: cr.hvp(f, (x,), (v,))[0]), numpy.asarray, lambda r: r)
    if library == "autograd":
        import autograd
        import autograd.numpy as xp

        def hvp(f):
            gradient = autograd.grad(f)
            return autograd.grad(lambda x, v: xp.dot(gradient(x), v))
        return xp, lambda f, argnums=0: autograd.grad(f, argnum=argnums), hvp, numpy.asarray, lambda r: r
    if library in ("jax", "jax-jit"):
        import jax
        jax.config.update("jax_enable_x64", True)
        jax.config.update("jax_platforms", "cpu")
        import jax.numpy as xp
        wrap = jax.jit if library == "jax-jit" else (lambda f: f)

        def grad(f, argnums=0):
            return wrap(jax.grad(f, argnums=argnums))

        def hvp(f):
            return wrap(lambda x, v: jax.jvp(jax.grad(f), (x,), (v,))[1])

        def block(result):
            return jax.block_until_ready(result)
        return xp, grad, hvp, xp.asarray, block
    if library == "torch":
        import torch
        torch.set_default_dtype(torch.float64)

        class TorchNumpy:
            sin, tanh, exp, sum, maximum = torch.sin, torch.tanh, torch.exp, torch.sum, torch.maximum

        def grad(f, argnums=0):
            numbers = (argnums,) if isinstance(argnums, int) else argnums

            def gradient(*args):
                args = [a.detach().requires_grad_(i in numbers) if isinstance(a, torch.Tensor) else a
                        for i, a in enumerate(args)]
                out = f(*args)
                grads = torch.autograd.grad(out, [args[i] for i in numbers])
                return grads[0] if isinstance(argnums, int) else grads
            return gradient

        def hvp(f):
            return lambda x, v: torch.autograd.functional.hvp(f, x, v)[1]
        return TorchNumpy, grad, hvp, lambda a: torch.as_tensor(numpy.asarray(a)), lambda r: r
    raise ValueError(library)


def wrap_f(library, f):
    if library == "jax-jit":
        import jax
        return jax.jit(f)
    return f


# ------------------------------------------------------------------------------------------------ workloads

def workload_lecture(library, repeat):
    xp, grad, _, to_array, block = backend(library)
    f = lambda x1, x2: (xp.sin(x1 / x2) + x1 / x2 - xp.exp(x2)) * (x1 / x2 - xp.exp(x2))
    g = grad(f, argnums=(0, 1))
    x1, x2 = (1.5, 0.5) if library in ("chainrule", "autograd") else (to_array(1.5), to_array(0.5))
    return {"gradient_seconds": median_time(lambda: block(g(x1, x2)), repeat * 50)}


def workload_fixed_cost(library, repeat):
    """The fixed cost of one gradient call on tiny inputs: sum of a length-2 vector, one element of it, and
    the lecture's function written the way most users write it (one vector argument, ``x[0] / x[1]``)."""
    import numpy
    xp, grad, _, to_array, block = backend(library)
    x = to_array(numpy.array([1.5, 0.5]))
    functions = {
        "sum": lambda x: xp.sum(x),
        "index": lambda x: x[0],
        "lecture_vector": lambda x: (xp.sin(x[0] / x[1]) + x[0] / x[1] - xp.exp(x[1])) * (x[0] / x[1] - xp.exp(x[1])),
    }
    results = {}
    for name, f in functions.items():
        g = grad(f)
        results[f"{name}_seconds"] = median_time(lambda: block(g(x)), repeat * 100)
    return results


def workload_loop(library, repeat):
    import numpy
    xp, grad, _, to_array, block = backend(library)

    def f(x):
        for _ in range(250):
            x = xp.sin(x) * 1.01 + x * 0.5 - xp.tanh(x)
        return xp.sum(x)

    x = to_array(numpy.linspace(0.1, 1.0, 10))
    f_call, g = wrap_f(library, f), grad(f)
    return {"f_seconds": median_time(lambda: block(f_call(x)), repeat),
            "derivative_seconds": median_time(lambda: block(g(x)), repeat)}


def workload_network(library, repeat):
    import numpy
    xp, grad, _, to_array, block = backend(library)
    rng = numpy.random.default_rng(0)
    X, Y = to_array(rng.standard_normal((64, 1000))), to_array(rng.standard_normal((64, 10)))
    W1, W2 = to_array(rng.standard_normal((1000, 100)) * 0.03), to_array(rng.standard_normal((100, 10)) * 0.1)

    def f(W1, W2):
        return xp.sum((Y - xp.maximum(X @ W1, 0.0 * (X @ W1)) @ W2) ** 2) if library == "torch" else \
            xp.sum((Y - xp.maximum(X @ W1, 0.0) @ W2) ** 2)

    f_call, g = wrap_f(library, f), grad(f, argnums=(0, 1))
    return {"f_seconds": median_time(lambda: block(f_call(W1, W2)), repeat),
            "derivative_seconds": median_time(lambda: block(g(W1, W2)), repeat)}


def workload_least_squares(library, repeat):
    import numpy
    xp, grad, _, to_array, block = backend(library)
    rng = numpy.random.default_rng(1)
    A, y = to_array(rng.standard_normal((20000, 1000))), to_array(rng.standard_normal(20000))
    x = to_array(rng.standard_normal(1000))
    f = lambda x: xp.sum((y - A @ x) ** 2)
    f_call, g = wrap_f(library, f), grad(f)
    return {"f_seconds": median_time(lambda: block(f_call(x)), max(3, repeat // 4)),
            "derivative_seconds": median_time(lambda: block(g(x)), max(3, repeat // 4))}


def workload_rosenbrock_hvp(library, repeat):
    import numpy
    xp, _, hvp, to_array, block = backend(library)
    f = lambda x: xp.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)
    x = to_array(numpy.linspace(-1.0, 1.0, 100000))
    v = to_array(numpy.ones(100000))
    f_call, h = wrap_f(library, f), hvp(f)
    return {"f_seconds": median_time(lambda: block(f_call(x)), repeat),
            "derivative_seconds": median_time(lambda: block(h(x, v)), repeat)}


def workload_rosenbrock_hvp_reuse(library, repeat):
    """The same HVP with glibc told to keep freed memory (MALLOC_MMAP_THRESHOLD_/MALLOC_TRIM_THRESHOLD_),
    so that large temporaries reuse warm pages instead of faulting fresh ones."""
    return workload_rosenbrock_hvp(library, repeat)


def _jacobian_backend(library):
    import numpy
    if library in ("chainrule", "chainrule-jit"):
        import chainrule as cr
        import chainrule.numpy as xp
        wrap = cr.jit if library == "chainrule-jit" else (lambda f: f)
        return xp, lambda f: wrap(cr.jacfwd(f)), lambda f: wrap(cr.jacrev(f)), numpy.asarray, lambda r: r
    if library in ("jax", "jax-jit"):
        import jax
        jax.config.update("jax_enable_x64", True)
        import jax.numpy as xp
        wrap = jax.jit if library == "jax-jit" else (lambda f: f)
        return (xp, lambda f: wrap(jax.jacfwd(f)), lambda f: wrap(jax.jacrev(f)), xp.asarray,
                jax.block_until_ready)
    if library == "autograd":
        import autograd
        import autograd.numpy as xp
        return xp, None, autograd.jacobian, numpy.asarray, lambda r: r
    return None


def workload_dense_jacobian(library, repeat):
    """Jacobian of a dense R^200 -> R^200 map, forward and reverse, relative to one evaluation."""
    import numpy
    found = _jacobian_backend(library)
    if found is None:
        return None
    xp, jacfwd, jacrev, to_array, block = found
    rng = numpy.random.default_rng(3)
    A = to_array(rng.standard_normal((200, 200)) / 14.0)
    x = to_array(rng.standard_normal(200))
    f = lambda x: xp.tanh(A @ xp.sin(x)) * x
    f_call = wrap_f(library, f)
    result = {"f_seconds": median_time(lambda: block(f_call(x)), repeat * 5)}
    if jacfwd is not None:
        forward = jacfwd(f)
        result["jacfwd_seconds"] = median_time(lambda: block(forward(x)), repeat)
    reverse = jacrev(f)
    result["jacrev_seconds"] = median_time(lambda: block(reverse(x)), repeat)
    return result


def workload_per_example(library, repeat):
    """Per-example gradients of the shallow network (batch 64) relative to the batched gradient."""
    import numpy
    if library in ("chainrule", "chainrule-jit"):
        import chainrule as cr
        import chainrule.numpy as xp
        wrap = cr.jit if library == "chainrule-jit" else (lambda f: f)
        vmap, grad, to_array, block = cr.vmap, (lambda f, **k: wrap(cr.grad(f, **k))), numpy.asarray, lambda r: r
    elif library in ("jax", "jax-jit"):
        import jax
        jax.config.update("jax_enable_x64", True)
        import jax.numpy as xp
        wrap = jax.jit if library == "jax-jit" else (lambda f: f)
        vmap, grad, to_array, block = jax.vmap, (lambda f, **k: wrap(jax.grad(f, **k))), xp.asarray, \
            jax.block_until_ready
    else:
        return None
    rng = numpy.random.default_rng(0)
    X, Y = to_array(rng.standard_normal((64, 1000))), to_array(rng.standard_normal((64, 10)))
    W1, W2 = to_array(rng.standard_normal((1000, 100)) * 0.03), to_array(rng.standard_normal((100, 10)) * 0.1)

    def loss(W1, W2, X, Y):
        return xp.sum((Y - xp.maximum(X @ W1, 0.0) @ W2) ** 2)

    batched = grad(loss, argnums=(0, 1))
    per_example = vmap(grad(loss, argnums=(0, 1)), in_axes=(None, None, 0, 0))
    if library == "jax-jit":
        import jax
        per_example = jax.jit(per_example)
    if library == "chainrule-jit":
        import chainrule as cr
        per_example = cr.jit(per_example)
    result = {"f_seconds": median_time(lambda: block(batched(W1, W2, X, Y)), repeat),
              "derivative_seconds": median_time(lambda: block(per_example(W1, W2, X, Y)), repeat)}
    if library == "chainrule":
        # The floor: writing the 64 per-example W1 gradients (64×1000×100) once, as one NumPy outer product.
        G = rng.standard_normal((64, 100))
        result["floor_seconds"] = median_time(lambda: numpy.einsum("bi,bj->bij", X, G), repeat)
    return result


def workload_import(library, repeat):
    module = {"chainrule": "chainrule", "autograd": "autograd", "jax": "jax", "torch": "torch"}.get(library)
    if module is None:
        return None
    code = f"import time; t = time.perf_counter(); import {module}; print(time.perf_counter() - t)"
    times = [float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout)
             for _ in range(5)]
    return {"import_seconds": statistics.median(times)}


def workload_memory(library, repeat):
    """Peak memory of one gradient of a 50-step chain on a 1e5 vector, in units of the vector's size."""
    if library not in ("chainrule", "autograd"):
        return None
    import tracemalloc
    import numpy
    xp, grad, _, to_array, _ = backend(library)

    def f(x):
        for _ in range(50):
            x = xp.tanh(x) * 1.5
        return xp.sum(x)

    x = numpy.linspace(-1.0, 1.0, 100000)
    g = grad(f)
    g(x)
    tracemalloc.start()
    g(x)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return {"peak_arrays": peak / x.nbytes}


WORKLOADS = {
    "lecture": workload_lecture, "fixed_cost": workload_fixed_cost, "loop": workload_loop, "network": workload_network,
    "least_squares": workload_least_squares, "rosenbrock_hvp": workload_rosenbrock_hvp,
    "rosenbrock_hvp_reuse": workload_rosenbrock_hvp_reuse, "dense_jacobian": workload_dense_jacobian,
    "per_example": workload_per_example, "import": workload_import, "memory": workload_memory,
}


def installed(library):
    module = {"jax-jit": "jax", "chainrule-jit": "chainrule"}.get(library, library)
    return importlib.util.find_spec(module) is not None


def run_child(workload, library, repeat):
    command = [sys.executable, os.path.abspath(__file__), "--child", workload, library, str(repeat)]
    environment = dict(os.environ)
    if workload.endswith("_reuse"):
        environment.update(MALLOC_MMAP_THRESHOLD_=str(32 * 2 ** 20), MALLOC_TRIM_THRESHOLD_=str(2 ** 30))
    result = subprocess.run(command, capture_output=True, text=True, env=environment)
    if result.returncode != 0:
        return {"error": result.stderr.strip().splitlines()[-1] if result.stderr.strip() else "failed"}
    return json.loads(result.stdout.strip().splitlines()[-1])


def ratio(entry):
    if not entry or "derivative_seconds" not in entry:
        return None
    return entry["derivative_seconds"] / entry["f_seconds"]


def _relative_to_autograd(key):
    return lambda r, lib: r[lib][key] / r["autograd"][key] if key in r.get(lib, {}) and "autograd" in r else None


def _microseconds(key):
    return lambda r, lib: r[lib][key] * 1e6 if key in r.get(lib, {}) else None


def render(results, targets):
    libraries = [lib for lib in LIBRARIES if any(lib in r for r in results.values())]
    lines = ["# Benchmark results", "",
             f"Machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
             f"{time.strftime('%Y-%m-%d')}. Medians of repeated calls; each cell is measured in its own "
             f"process, float64. Regenerate with `python benchmarks/run.py`.", ""]
    header = "| workload | measure | target | " + " | ".join(libraries) + " |"
    lines += [header, "|" + "---|" * (3 + len(libraries))]

    def cell(value, fmt):
        return "—" if value is None else fmt.format(value)

    rows = [
        ("lecture", "gradient time / autograd's", "≤ 0.5",
         lambda r, lib: (r[lib]["gradient_seconds"] / r["autograd"]["gradient_seconds"])
         if "autograd" in r and "gradient_seconds" in r.get(lib, {}) else None, "{:.2f}"),
        ("lecture", "gradient time (µs)", "",
         lambda r, lib: r.get(lib, {}).get("gradient_seconds", None) and r[lib]["gradient_seconds"] * 1e6, "{:.0f}"),
    ] + [row for name, label in (("sum", "grad(sum(x)), x of length 2"), ("index", "grad(x[0])"),
                                 ("lecture_vector", "lecture's function of one vector, x[0] / x[1]"))
         for row in (("fixed_cost", f"{label}: time / autograd's", "≤ 0.5", _relative_to_autograd(f"{name}_seconds"),
                      "{:.2f}"),
                     ("fixed_cost", f"{label}: time (µs)", "", _microseconds(f"{name}_seconds"), "{:.1f}"))] + [
        ("loop", "grad / f", "≤ 5", lambda r, lib: ratio(r.get(lib)), "{:.1f}"),
        ("network", "grad / f", "≤ 3", lambda r, lib: ratio(r.get(lib)), "{:.1f}"),
        ("least_squares", "grad / f", "≤ 2.5", lambda r, lib: ratio(r.get(lib)), "{:.1f}"),
        ("rosenbrock_hvp", "hvp / f", "≤ 6", lambda r, lib: ratio(r.get(lib)), "{:.1f}"),
        ("rosenbrock_hvp_reuse", "hvp / f, freed memory kept", "", lambda r, lib: ratio(r.get(lib)), "{:.1f}"),
        ("rosenbrock_hvp_reuse", "hvp time (ms), freed memory kept", "",
         lambda r, lib: r.get(lib, {}).get("derivative_seconds", None) and r[lib]["derivative_seconds"] * 1e3,
         "{:.1f}"),
        ("dense_jacobian", "jacfwd / f", "≤ 15",
         lambda r, lib: r[lib]["jacfwd_seconds"] / r[lib]["f_seconds"] if "jacfwd_seconds" in r.get(lib, {}) else None,
         "{:.0f}"),
        ("dense_jacobian", "jacrev / f", "≤ 15",
         lambda r, lib: r[lib]["jacrev_seconds"] / r[lib]["f_seconds"] if "jacrev_seconds" in r.get(lib, {}) else None,
         "{:.0f}"),
        ("dense_jacobian", "jacfwd time (ms)", "",
         lambda r, lib: r[lib]["jacfwd_seconds"] * 1e3 if "jacfwd_seconds" in r.get(lib, {}) else None, "{:.2f}"),
        ("per_example", "per-example grads / batched grad", "≤ 3", lambda r, lib: ratio(r.get(lib)), "{:.1f}"),
        ("per_example", "floor: one NumPy outer product writing the result / batched grad", "",
         lambda r, lib: r[lib]["floor_seconds"] / r[lib]["f_seconds"] if "floor_seconds" in r.get(lib, {}) else None,
         "{:.1f}"),
        ("import", "import time (s)", "≤ 0.3",
         lambda r, lib: r.get(lib, {}).get("import_seconds") if r.get(lib) else None, "{:.2f}"),
        ("memory", "peak memory of grad / input size", "",
         lambda r, lib: r.get(lib, {}).get("peak_arrays") if r.get(lib) else None, "{:.0f}"),
    ]
    for workload, measure, target, extract, fmt in rows:
        r = results.get(workload, {})
        values = []
        for lib in libraries:
            try:
                values.append(cell(extract(r, lib) if lib in r and "error" not in r[lib] else None, fmt))
            except (KeyError, TypeError, ZeroDivisionError):
                values.append("—")
        lines.append(f"| {workload} | {measure} | {target} | " + " | ".join(values) + " |")
    lines += ["", "`chainrule-jit` is chainrule with the derivative wrapped in `chainrule.jit`: staged once per argument "
              "signature and run as generated NumPy code, the way `jax-jit` compiles once (valid while shapes and "
              "Python control flow stay the same).",
              "", "Workloads: `lecture` is one gradient of the lecture's example at (1.5, 0.5); `loop` is 250 "
              "iterations of `x = sin(x)*1.01 + x*0.5 - tanh(x)` on a length-10 vector, then `sum`; `network` is "
              "`sum((Y - relu(X @ W1) @ W2)**2)` with X 64×1000, W1 1000×100, W2 100×10; `least_squares` is "
              "`sum((y - A @ x)**2)` with A 20000×1000; `rosenbrock_hvp` is a Hessian-vector product of the "
              "Rosenbrock function with n = 100000 (chainrule: `hvp`, reverse over forward; JAX: jvp of grad, "
              "forward over reverse; autograd: grad of a dot with grad, reverse over reverse), and `_reuse` the same with glibc keeping freed memory "
              "(`MALLOC_MMAP_THRESHOLD_`, `MALLOC_TRIM_THRESHOLD_`): by default every large temporary lands on "
              "fresh pages, and page faults dominate all libraries' eager times; `dense_jacobian` is the "
              "Jacobian of `tanh(A @ sin(x)) * x` with A 200×200; `per_example` is the per-example gradients "
              "(`vmap(grad)`) of the network's loss over 64 examples relative to one batched gradient; `memory` is the peak traced memory of one gradient of a 50-step "
              "`tanh(x)*1.5` chain divided by the size of x (chainrule keeps each step's output once).", ""]
    return "\n".join(lines)


# The other benchmarks write their own tables (each is a long run); RESULTS.md gathers them under one roof.
OTHER_TABLES = [("ODE_RESULTS.md", "python benchmarks/ode_bench.py"),
                ("LOOPS_RESULTS.md", "python benchmarks/loops_bench.py"),
                ("OPTIMIZE_RESULTS.md", "python benchmarks/optimize_bench.py"),
                ("SPARSE_RESULTS.md", "python benchmarks/sparse_bench.py"),
                ("FD_RESULTS.md", "python benchmarks/fd_accuracy.py"),
                ("SYMBOLIC_RESULTS.md", "python benchmarks/symbolic.py")]


def other_tables(directory):
    """The other benchmarks' tables, each under its own heading (one level down), as last written."""
    sections = []
    for name, command in OTHER_TABLES:
        path = os.path.join(directory, name)
        if not os.path.exists(path):
            continue
        text = open(path).read().strip()
        title, _, body = text.partition("\n")
        sections.append(f"#{title.strip()}\n\nFrom [{name}]({name}) (`{command}`).\n{body}\n")
    return "\n".join(sections)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--child", nargs=3, metavar=("WORKLOAD", "LIBRARY", "REPEAT"), help=argparse.SUPPRESS)
    parser.add_argument("--quick", action="store_true", help="fewer repetitions")
    parser.add_argument("--workloads", nargs="*", default=list(WORKLOADS))
    parser.add_argument("--output", default=os.path.join(HERE, "RESULTS.md"))
    parser.add_argument("--update", action="store_true",
                        help="re-measure only --workloads and keep the other rows from results.json "
                             "(--update --workloads with no names re-renders RESULTS.md without measuring)")
    args = parser.parse_args()
    if args.child:
        workload, library, repeat = args.child
        print(json.dumps(WORKLOADS[workload](library, int(repeat))))
        return
    repeat = 5 if args.quick else 21
    raw_path = os.path.join(os.path.dirname(os.path.abspath(args.output)), "results.json")
    results = {}
    if args.update and os.path.exists(raw_path):
        with open(raw_path) as handle:
            results = json.load(handle)
    for workload in args.workloads:
        results[workload] = {}
        for library in LIBRARIES:
            if not installed(library):
                continue
            entry = run_child(workload, library, repeat)
            if entry is not None:
                results[workload][library] = entry
            print(workload, library, entry, flush=True)
    with open(raw_path, "w") as handle:
        json.dump(results, handle, indent=1, sort_keys=True)
    with open(args.output, "w") as handle:
        handle.write(render(results, None) + "\n" + other_tables(os.path.dirname(os.path.abspath(args.output))))
    print(open(args.output).read())


if __name__ == "__main__":
    main()
