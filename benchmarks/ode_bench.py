"""ODE gradients: chainrule.integrate.odeint against the installed peers (JAX's experimental odeint eager and jit,
a jax.lax.scan RK4 under jit, autograd's scipy-based odeint; torchdiffeq and diffrax when installed).

Workloads: Lotka-Volterra on t in [0, 5] at rtol 1e-10, atol 1e-12, gradient of sum(y(5)**2) with respect to y0
and the four rates; a pendulum with drag, 1,000 RK4 steps, gradient of the final angle with respect to (theta0, k).
Times are medians of repeated calls in this process; the relative error is against a tight-tolerance reference
gradient (JAX's odeint at rtol 1e-13). Prints a Markdown table and writes benchmarks/ODE_RESULTS.md.

    python benchmarks/ode_bench.py            # python benchmarks/ode_bench.py --quick for fewer repetitions
"""
import argparse
import contextlib
import functools
import importlib.util
import os
import platform

import numpy as onp

import timing

median_time = functools.partial(timing.median_time, warmup=1)

HERE = os.path.dirname(os.path.abspath(__file__))
Y0 = onp.array([1.0, 0.5])
RATES = (1.5, 1.0, 3.0, 1.0)
PENDULUM = (onp.array([1.0, 0.0]), 0.3)   # (theta0, omega0), drag k
STEPS, HORIZON = 1000, 10.0


def alternating(*values):
    """Successive calls' first arguments: two values taken in turn, so that no call repeats the previous one's
    inputs (jitted odeint reuses the last solve of identical inputs, which a benchmark must not measure)."""
    state = [0]

    def next_value():
        state[0] ^= 1
        return values[state[0]]
    return next_value


def relative_error(gradient, reference):
    gradient = onp.concatenate([onp.ravel(onp.asarray(g)) for g in gradient])
    return float(onp.linalg.norm(gradient - reference) / onp.linalg.norm(reference))


# ------------------------------------------------------------------------------------------- chainrule

def chainrule_rows(reference, pendulum_reference, repeat):
    import chainrule as cr
    import chainrule.numpy as np
    from chainrule.integrate import odeint

    def lotka_volterra(y, t, a, b, c, d):
        prey, predator = y[0], y[1]
        return np.stack([a * prey - b * prey * predator, c * prey * predator - d * predator])

    def lv_loss(y0, a, b, c, d):
        ys = odeint(lotka_volterra, y0, onp.array([0.0, 5.0]), a, b, c, d, rtol=1e-10, atol=1e-12)
        return np.sum(ys[-1] ** 2)

    def lv_backsolve(y0, a, b, c, d):
        ys = odeint(lotka_volterra, y0, onp.array([0.0, 5.0]), a, b, c, d, rtol=1e-10, atol=1e-12,
                    adjoint="backsolve")
        return np.sum(ys[-1] ** 2)

    def pendulum(y, t, k):
        return np.stack([y[1], -9.81 * np.sin(y[0]) - k * y[1]])

    def final_angle(theta0, k):
        y0 = np.stack([theta0, 0.0 * theta0])
        return odeint(pendulum, y0, onp.array([0.0, HORIZON]), k, method="rk4", step=HORIZON / STEPS)[-1, 0]

    # jit runs the solve as machine code when numba is installed (chainrule.integrate.native); "Python steps" is
    # jit with that switched off, the route every install has.
    native = importlib.util.find_spec("numba") is not None
    jit_variants = [("chainrule jit, Python steps (exact discrete adjoint)", False)]
    if native:
        jit_variants.append(("chainrule jit, native (numba; exact discrete adjoint)", True))
    lv_variants = [("chainrule (exact discrete adjoint)", lv_loss, None), ("chainrule (backsolve adjoint)",
                                                                          lv_backsolve, None)]
    lv_variants += [(name, lv_loss, enabled) for name, enabled in jit_variants]
    rows = []
    for name, loss, enabled in lv_variants:
        with native_code(enabled):
            wrap = (lambda f: f) if enabled is None else cr.jit
            forward_function, gradient = wrap(loss), wrap(cr.grad(loss, argnums=(0, 1, 2, 3, 4)))
            y0 = alternating(Y0, Y0 * (1 + 1e-9))
            forward = median_time(lambda: forward_function(y0(), *RATES), repeat)
            backward = median_time(lambda: gradient(y0(), *RATES), repeat)
            rows.append(("Lotka-Volterra", name, forward, backward,
                         relative_error(gradient(Y0, *RATES), reference)))
    for name, enabled in [("chainrule (exact discrete adjoint)", None)] + jit_variants:
        with native_code(enabled):
            wrap = (lambda f: f) if enabled is None else cr.jit
            forward_function, gradient = wrap(final_angle), wrap(cr.grad(final_angle, argnums=(0, 1)))
            theta0 = alternating(1.0, 1.0 + 1e-9)
            forward = median_time(lambda: forward_function(theta0(), PENDULUM[1]), repeat)
            backward = median_time(lambda: gradient(theta0(), PENDULUM[1]), repeat)
            rows.append(("pendulum, 1,000 RK4 steps", name, forward, backward,
                         relative_error(gradient(1.0, PENDULUM[1]), pendulum_reference)))
    return rows


@contextlib.contextmanager
def native_code(enabled):
    """Native code (numba) on or off for the functions staged inside (None: as it is)."""
    from chainrule.export import native

    saved = native.ENABLED
    native.ENABLED = saved if enabled is None else enabled
    try:
        yield
    finally:
        native.ENABLED = saved


# ------------------------------------------------------------------------------------------- peers

def jax_rows(repeat):
    import jax
    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp
    from jax.experimental.ode import odeint as jax_odeint

    def lotka_volterra(y, t, a, b, c, d):
        return jnp.stack([a * y[0] - b * y[0] * y[1], c * y[0] * y[1] - d * y[1]])

    def make_loss(rtol, atol):
        def loss(y0, a, b, c, d):
            ys = jax_odeint(lotka_volterra, y0, jnp.array([0.0, 5.0]), a, b, c, d, rtol=rtol, atol=atol)
            return jnp.sum(ys[-1] ** 2)
        return loss

    reference_gradient = jax.grad(make_loss(1e-13, 1e-15), argnums=(0, 1, 2, 3, 4))(jnp.asarray(Y0), *RATES)
    reference = onp.concatenate([onp.ravel(onp.asarray(g)) for g in reference_gradient])
    loss = make_loss(1e-10, 1e-12)
    y0 = jnp.asarray(Y0)
    rows = []
    for name, wrap in (("jax.experimental.ode (eager)", lambda f: f), ("jax.experimental.ode (jit)", jax.jit)):
        forward_function = wrap(loss)
        gradient = wrap(jax.grad(loss, argnums=(0, 1, 2, 3, 4)))

        def run_forward():
            jax.block_until_ready(forward_function(y0, *RATES))

        def run_gradient():
            jax.block_until_ready(gradient(y0, *RATES))
        forward = median_time(run_forward, repeat if name.endswith("(jit)") else max(1, repeat // 3))
        backward = median_time(run_gradient, repeat if name.endswith("(jit)") else max(1, repeat // 3))
        rows.append(("Lotka-Volterra", name, forward, backward, relative_error(gradient(y0, *RATES), reference)))

    def pendulum(y, k):
        return jnp.stack([y[1], -9.81 * jnp.sin(y[0]) - k * y[1]])

    def final_angle(theta0, k):
        h = HORIZON / STEPS

        def step(y, _):
            k1 = pendulum(y, k)
            k2 = pendulum(y + 0.5 * h * k1, k)
            k3 = pendulum(y + 0.5 * h * k2, k)
            k4 = pendulum(y + h * k3, k)
            return y + h / 6 * (k1 + 2 * k2 + 2 * k3 + k4), None
        y, _ = jax.lax.scan(step, jnp.stack([theta0, 0.0 * theta0]), None, length=STEPS)
        return y[0]

    forward_function = jax.jit(final_angle)
    gradient = jax.jit(jax.grad(final_angle, argnums=(0, 1)))
    pendulum_reference = onp.asarray([float(g) for g in gradient(1.0, PENDULUM[1])])
    forward = median_time(lambda: jax.block_until_ready(forward_function(1.0, PENDULUM[1])), repeat)
    backward = median_time(lambda: jax.block_until_ready(gradient(1.0, PENDULUM[1])), repeat)
    rows.append(("pendulum, 1,000 RK4 steps", "jax lax.scan RK4 (jit)", forward, backward, 0.0))
    return rows, reference, pendulum_reference


def autograd_rows(reference, repeat):
    import autograd
    import autograd.numpy as anp
    from autograd.scipy.integrate import odeint as autograd_odeint

    from autograd.builtins import tuple as differentiable_tuple

    def lotka_volterra(y, t, rates):
        a, b, c, d = rates[0], rates[1], rates[2], rates[3]
        return anp.array([a * y[0] - b * y[0] * y[1], c * y[0] * y[1] - d * y[1]])

    def loss(y0, rates):  # autograd's odeint takes args as a tuple, differentiated as one argument
        ys = autograd_odeint(lotka_volterra, y0, anp.array([0.0, 5.0]), differentiable_tuple((rates,)), rtol=1e-10,
                             atol=1e-12)
        return anp.sum(ys[-1] ** 2)
    name = "autograd (scipy LSODA, continuous adjoint)"
    rates = onp.array(RATES)
    forward = median_time(lambda: loss(Y0, rates), repeat)
    if not _autograd_tuple_argnum():
        return [("Lotka-Volterra", name, forward, None, "no tuple argnum")]
    gradient = autograd.grad(loss, argnum=(0, 1))
    backward = median_time(lambda: gradient(Y0, rates), repeat)
    return [("Lotka-Volterra", name, forward, backward, relative_error(gradient(Y0, rates), reference))]


def _autograd_tuple_argnum():
    import autograd
    try:
        autograd.grad(lambda x, y: x * y, argnum=(0, 1))(1.0, 2.0)
        return True
    except Exception:  # noqa: BLE001  (older autograd)
        return False


# ------------------------------------------------------------------------------------------- table

def table(rows):
    lines = ["| workload | library | forward | gradient | gradient / forward | relative error of the gradient |",
             "|---|---|---:|---:|---:|---:|"]
    for workload, library, forward, backward, error in rows:
        if forward is None:
            lines.append(f"| {workload} | {library} | | | | {error} |")
            continue
        ratio = f"{backward / forward:.1f}" if backward is not None else ""
        gradient = _milliseconds(backward) if backward is not None else ""
        error_text = f"{error:.1e}" if isinstance(error, float) else str(error)
        lines.append(f"| {workload} | {library} | {_milliseconds(forward)} | {gradient} | {ratio} | {error_text} |")
    return "\n".join(lines)


def jit_ratios(rows):
    """The jitted gradients' times over the eager one's, per workload (the issue's target: at most 0.1)."""
    eager = {workload: backward for workload, library, _, backward, _ in rows
             if library == "chainrule (exact discrete adjoint)"}
    parts = [f"{workload}: {library.split(' (')[0].replace('chainrule jit, ', '')} {backward / eager[workload]:.3f}"
             for workload, library, _, backward, _ in rows
             if library.startswith("chainrule jit") and workload in eager]
    return " Gradient under jit / eager gradient: " + "; ".join(parts) + "." if parts else ""


def _milliseconds(seconds):
    return f"{seconds * 1e3:.2f} ms" if seconds < 1e-2 else f"{seconds * 1e3:.1f} ms"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repetitions")
    arguments = parser.parse_args()
    repeat = 3 if arguments.quick else 9
    rows, reference, pendulum_reference = jax_rows(repeat)
    rows = chainrule_rows(reference, pendulum_reference, repeat) + rows
    if importlib.util.find_spec("autograd"):
        rows += autograd_rows(reference, repeat)
    missing = [name for name in ("torchdiffeq", "diffrax") if importlib.util.find_spec(name) is None]
    text = table(rows)
    note = (f"\n\nPython {platform.python_version()}, {platform.machine()}; medians of {repeat} calls. "
            f"Not installed here: {', '.join(missing) or 'none'}. The pendulum's reference is the JAX lax.scan RK4 "
            f"gradient of the same discretization.{jit_ratios(rows)}")
    print(text + note)
    with open(os.path.join(HERE, "ODE_RESULTS.md"), "w") as handle:
        handle.write("# ODE gradient benchmark\n\nWritten by `python benchmarks/ode_bench.py`.\n\n"
                     + text + note + "\n")


if __name__ == "__main__":
    main()
