"""chainrule.control (scan, fori_loop, while_loop, cond, switch): values equal jax.lax's; derivatives equal JAX's and
central differences; vmap equals stacking; jit runs them; checkpointed scans run Griewank's minimal schedule."""
import numpy
import pytest

import chainrule as cr
import chainrule.numpy as np
from chainrule.control import cond, count_steps, fori_loop, minimal_forward_steps, scan, switch, while_loop
from chainrule.core.interpreter import ChainruleError
from chainrule.export import jit

jax = pytest.importorskip("jax")
jax.config.update("jax_enable_x64", True)
jnp, lax = jax.numpy, jax.lax

DTYPES = [numpy.float64, numpy.float32, numpy.complex128]


def close(got, want, dtype=numpy.float64, tolerance=None):
    tolerance = tolerance or (1e-5 if numpy.dtype(dtype) == numpy.float32 else 1e-10)
    got_leaves, want_leaves = jax.tree_util.tree_leaves(got), jax.tree_util.tree_leaves(want)
    assert len(got_leaves) == len(want_leaves)
    for g, w in zip(got_leaves, want_leaves):
        numpy.testing.assert_allclose(numpy.asarray(g), numpy.asarray(w), rtol=tolerance, atol=tolerance)


def central_difference(function, x, step=1e-6):
    x = numpy.asarray(x, dtype=numpy.float64)
    out = numpy.zeros(x.shape)
    for index in numpy.ndindex(x.shape):
        e = numpy.zeros(x.shape)
        e[index] = step
        out[index] = (float(function(x + e)) - float(function(x - e))) / (2 * step)
    return out


def data(dtype, shape, seed=0):
    rng = numpy.random.default_rng(seed)
    value = rng.uniform(-1, 1, shape)
    if numpy.dtype(dtype).kind == "c":
        value = value + 1j * rng.uniform(-1, 1, shape)
    return value.astype(dtype)


# A recurrence written once for both libraries: a pytree carry, pytree xs and ys, a closed-over parameter.
def recurrence(module, w, init, xs, reverse=False, checkpoints=None):
    def step(carry, x):
        h, total = carry["h"], carry["total"]
        h = module.tanh(w * h + x[0]) * x[1]
        return {"h": h, "total": total + module.sum(h * h)}, (h, module.sin(h))
    if module is np:
        return scan(step, init, xs, reverse=reverse, checkpoints=checkpoints)
    return lax.scan(step, init, xs, reverse=reverse)


def recurrence_args(dtype):
    w, h0 = data(dtype, (3,), 1), data(dtype, (3,), 2)
    xs = (data(dtype, (6, 3), 3), data(dtype, (6, 3), 4))
    return w, {"h": h0, "total": numpy.zeros((), dtype)}, xs


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reverse", [False, True])
def test_scan_values_equal_lax_scan(dtype, reverse):
    w, init, xs = recurrence_args(dtype)
    got = recurrence(np, w, init, xs, reverse)
    close(got, recurrence(jnp, w, init, xs, reverse), dtype)
    assert all(numpy.asarray(leaf).dtype == dtype for leaf in jax.tree_util.tree_leaves(got))


def loss(module, w, init, xs, **options):
    carry, (h, s) = recurrence(module, w, init, xs, **options)
    return module.real(carry["total"] + module.sum(s * module.conj(h)))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("checkpoints", [None, 2])
def test_scan_gradient_equals_jax(dtype, checkpoints):
    w, init, xs = recurrence_args(dtype)
    got = cr.grad(lambda w, init, xs: loss(np, w, init, xs, checkpoints=checkpoints), argnums=(0, 1, 2))(w, init, xs)
    want = jax.grad(lambda w, init, xs: loss(jnp, w, init, xs), argnums=(0, 1, 2))(w, init, xs)
    close(got, want, dtype)
    assert all(numpy.asarray(leaf).dtype == dtype for leaf in jax.tree_util.tree_leaves(got))


def test_scan_gradient_equals_central_differences():
    w, init, xs = recurrence_args(numpy.float64)
    got = cr.grad(lambda w: loss(np, w, init, xs))(w)
    close(got, central_difference(lambda w: loss(np, w, init, xs), w), tolerance=1e-7)


@pytest.mark.parametrize("reverse", [False, True])
def test_scan_jvp_and_hessian_equal_jax(reverse):
    w, init, xs = recurrence_args(numpy.float64)
    v = data(numpy.float64, (3,), 9)
    got = cr.jvp(lambda w: recurrence(np, w, init, xs, reverse), (w,), (v,))
    close(got, jax.jvp(lambda w: recurrence(jnp, w, init, xs, reverse), (w,), (v,)))
    close(cr.hessian(lambda w: loss(np, w, init, xs, reverse=reverse))(w),
          jax.hessian(lambda w: loss(jnp, w, init, xs, reverse=reverse))(w))


def test_scan_vmap_equals_stacking():
    w, init, xs = recurrence_args(numpy.float64)
    ws = numpy.stack([w, 2 * w, -w])
    batched_xs = (numpy.stack([xs[0], xs[0] * 0.5, xs[0]]), xs[1])
    got = cr.vmap(lambda w, x0: recurrence(np, w, init, (x0, xs[1])), in_axes=(0, 0))(ws, batched_xs[0])
    stacked = [recurrence(np, ws[k], init, (batched_xs[0][k], xs[1])) for k in range(3)]
    close(got, jax.tree_util.tree_map(lambda *leaves: numpy.stack(leaves), *stacked))
    grads = cr.vmap(cr.grad(lambda w: loss(np, w, init, xs)))(ws)
    close(grads, numpy.stack([cr.grad(lambda w: loss(np, w, init, xs))(ws[k]) for k in range(3)]))


def test_nested_scan_and_closures_differentiate():
    def f(w):
        def outer(c, x):
            inner, _ = scan(lambda d, y: (d * w + y * c, None), c, x)
            return inner, inner
        return np.sum(scan(outer, 0.5, numpy.arange(6.0).reshape(3, 2) / 5)[1])

    def f_jax(w):
        def outer(c, x):
            inner, _ = lax.scan(lambda d, y: (d * w + y * c, None), c, x)
            return inner, inner
        return jnp.sum(lax.scan(outer, 0.5, jnp.arange(6.0).reshape(3, 2) / 5)[1])

    close(f(0.9), f_jax(0.9))
    close(cr.grad(f)(0.9), jax.grad(f_jax)(0.9))
    close(cr.grad(cr.grad(f))(0.9), jax.grad(jax.grad(f_jax))(0.9))


# ------------------------------------------------------------------------------------------- checkpointing

@pytest.mark.parametrize("checkpoints", [1, 2, 3, 5])
def test_checkpointed_scan_runs_the_minimal_schedule(checkpoints):
    """Reversing T steps with k snapshots recomputes exactly Griewank's t(T, k) forward steps (the first sweep,
    T - 1 of them, is the primal loop itself) and never holds more than k states."""
    for steps in range(1, 16):
        def f(x):
            return scan(lambda c, _: (np.sin(c) * 1.1, c), x, None, length=steps, checkpoints=checkpoints)
        with count_steps() as counts:
            got = cr.grad(lambda x: f(x)[0] + np.sum(f(x)[1]))(0.4)
        assert counts.primal == 2 * steps  # f is called twice
        assert counts.reversed == 2 * steps
        assert counts.recomputed == 2 * (minimal_forward_steps(steps, checkpoints) - (steps - 1))
        assert counts.max_stored <= checkpoints
        want = jax.grad(lambda x: lax.scan(lambda c, _: (jnp.sin(c) * 1.1, c), x, None, length=steps)[0]
                        + jnp.sum(lax.scan(lambda c, _: (jnp.sin(c) * 1.1, c), x, None, length=steps)[1]))(0.4)
        close(got, want)


def test_minimal_forward_steps_is_the_optimum_of_the_recursion():
    from functools import lru_cache

    @lru_cache(maxsize=None)
    def optimum(steps, snapshots):
        if steps <= 1:
            return 0
        if snapshots == 1:
            return steps * (steps - 1) // 2
        return min(m + optimum(steps - m, snapshots - 1) + optimum(m, snapshots) for m in range(1, steps))

    for snapshots in range(1, 6):
        for steps in range(1, 40):
            assert minimal_forward_steps(steps, snapshots) == optimum(steps, snapshots)


def decaying(module, checkpoints="all"):
    """A scan with a closed-over parameter, xs and ys, for the checkpointing tests; the same code for JAX."""
    def f(w, c0, xs):
        def step(c, x):
            c = c + 0.1 * module.tanh(w * c + x)
            return c, module.sin(c)
        if module is np:
            c, ys = scan(step, c0, xs, checkpoints=checkpoints)
        else:
            c, ys = lax.scan(step, c0, xs)
        return module.real(module.sum(c * module.conj(c)) + module.sum(ys * ys))
    return f


def decaying_args(dtype, steps, size=3):
    return data(dtype, (size,), 1), data(dtype, (size,), 2), data(dtype, (steps, size), 3)


def carry_bytes(dtype, size=3):
    return size * numpy.dtype(dtype).itemsize


@pytest.mark.parametrize("dtype", DTYPES)
def test_default_policy_checkpoints_beyond_the_memory_budget(dtype, monkeypatch):
    """checkpoints=None keeps every carry while they fit config.loop_memory_budget; beyond, it runs revolve with
    k = budget // carry bytes, Griewank's minimal recomputation for that k, and the gradient is unchanged."""
    steps, snapshots = 30, 4
    w, c0, xs = decaying_args(dtype, steps)
    want = jax.grad(decaying(jnp), argnums=(0, 1, 2))(w, c0, xs)
    monkeypatch.setattr(cr.config, "loop_memory_budget", snapshots * carry_bytes(dtype) + 1)
    with count_steps() as counts:
        got = cr.grad(decaying(np, checkpoints=None), argnums=(0, 1, 2))(w, c0, xs)
    close(got, want, dtype)
    assert all(numpy.asarray(leaf).dtype == dtype for leaf in got)
    assert counts.recomputed == minimal_forward_steps(steps, snapshots) - (steps - 1)
    assert counts.reversed == steps and 0 < counts.max_stored <= snapshots
    monkeypatch.setattr(cr.config, "loop_memory_budget", steps * carry_bytes(dtype))  # all fit: nothing recomputed
    with count_steps() as counts:
        close(cr.grad(decaying(np, checkpoints=None), argnums=(0, 1, 2))(w, c0, xs), want, dtype)
    assert counts.recomputed == 0 and counts.max_stored == 0


def test_checkpoints_all_stores_every_carry_whatever_the_budget(monkeypatch):
    w, c0, xs = decaying_args(numpy.float64, 20)
    monkeypatch.setattr(cr.config, "loop_memory_budget", 1)
    with count_steps() as counts:
        got = cr.grad(decaying(np, checkpoints="all"))(w, c0, xs)
    assert counts.recomputed == 0 and counts.max_stored == 0
    close(got, jax.grad(decaying(jnp))(w, c0, xs))
    with count_steps() as counts:  # a budget smaller than one carry still keeps one: the initial state
        close(cr.grad(decaying(np, checkpoints=None))(w, c0, xs), jax.grad(decaying(jnp))(w, c0, xs))
    assert counts.max_stored == 1 and counts.recomputed == minimal_forward_steps(20, 1) - 19


@pytest.mark.parametrize("dtype", DTYPES)
def test_checkpointed_scan_under_jit_runs_the_minimal_schedule(dtype):
    """Compiled, the primal loop keeps nothing: the derivative's forward sweep places the snapshots, so the steps
    recomputed are all of Griewank's t(T, k), with at most k carries held."""
    steps, snapshots = 25, 3
    w, c0, xs = decaying_args(dtype, steps)
    fast = jit(cr.grad(decaying(np, checkpoints=snapshots), argnums=(0, 1, 2)))
    with count_steps() as counts:
        got = fast(w, c0, xs)
    close(got, jax.grad(decaying(jnp), argnums=(0, 1, 2))(w, c0, xs), dtype)
    assert all(numpy.asarray(leaf).dtype == dtype for leaf in got)
    assert "checkpointed_scan_vjp_runtime" in fast.source(w, c0, xs)
    assert counts.primal == steps and counts.reversed == steps
    assert counts.recomputed == minimal_forward_steps(steps, snapshots) and counts.max_stored <= snapshots


def test_checkpointed_scan_under_nested_transforms_equals_jax():
    w, c0, xs = decaying_args(numpy.float64, 12)
    f, f_jax = decaying(np, checkpoints=3), decaying(jnp)
    close(cr.hessian(f)(w, c0, xs), jax.hessian(f_jax)(w, c0, xs))
    close(jit(cr.hessian(f))(w, c0, xs), jax.hessian(f_jax)(w, c0, xs))
    close(cr.grad(lambda w: cr.grad(f)(w, c0, xs)[0])(w), jax.grad(lambda w: jax.grad(f_jax)(w, c0, xs)[0])(w))
    close(cr.jvp(lambda w: cr.grad(f)(w, c0, xs), (w,), (c0,)),
          jax.jvp(lambda w: jax.grad(f_jax)(w, c0, xs), (w,), (c0,)))
    ws = numpy.stack([w, 2 * w, -w])
    with count_steps() as counts:  # per-example gradients keep the checkpointed schedule
        got = cr.vmap(lambda w: cr.grad(f)(w, c0, xs))(ws)
    close(got, jax.vmap(lambda w: jax.grad(f_jax)(w, c0, xs))(ws))
    assert counts.recomputed == minimal_forward_steps(12, 3) and counts.max_stored <= 3
    close(jit(cr.vmap(lambda w: cr.grad(f)(w, c0, xs)))(ws), got)


@pytest.mark.parametrize("dtype", DTYPES)
def test_long_loops_run_generated_code_with_the_same_values(dtype, monkeypatch):
    from chainrule.ops import loops
    steps = loops.COMPILE_FROM_STEPS + 50
    w, c0, xs = decaying_args(dtype, steps)
    compiled = []
    real_compiler = loops._graph_compiler
    monkeypatch.setattr(loops, "_graph_compiler", lambda graph: compiled.append(graph) or real_compiler(graph))
    for checkpoints in ("all", 7):
        compiled.clear()
        got = cr.value_and_grad(decaying(np, checkpoints), argnums=(0, 1, 2))(w, c0, xs)
        assert compiled  # the long loop's bodies ran as generated code
        # 250 steps grow the complex values to ~1e6: rounding differs from XLA's in the tenth digit
        close(got, jax.value_and_grad(decaying(jnp), argnums=(0, 1, 2))(w, c0, xs), dtype,
              None if dtype == numpy.float32 else 1e-8)
        assert all(numpy.asarray(leaf).dtype == dtype for leaf in got[1])
    compiled.clear()
    monkeypatch.setattr(cr.config, "debug_nans", True)  # checks every primitive: interpreted
    cr.grad(decaying(np, 7))(w, c0, xs)
    assert not compiled


def test_checkpoint_settings_are_checked():
    from chainrule.control import checkpoints_for
    for bad in ("some", True, 0, -3, 2.5):
        with pytest.raises(ValueError, match="checkpoints must be a positive integer"):
            scan(lambda c, x: (c, x), 0.0, numpy.arange(3.0), checkpoints=bad)
    carry = [cr.ShapedArray((1000,), numpy.dtype(numpy.float64))]
    assert checkpoints_for(1000, carry, numpy.int64(5)) == 5
    previous = cr.config.loop_memory_budget
    try:
        for bad in (0, -1, 1.5e9, "1GB"):
            cr.config.loop_memory_budget = bad
            with pytest.raises(ValueError, match="loop_memory_budget"):
                scan(lambda c, x: (c, x), 0.0, numpy.arange(3.0))
    finally:
        cr.config.loop_memory_budget = previous


def test_memory_budget_from_the_environment(monkeypatch):
    from chainrule.core import config as config_module
    monkeypatch.setenv("CHAINRULE_LOOP_MEMORY_BUDGET", "4096")
    assert config_module.Config().loop_memory_budget == 4096
    monkeypatch.setenv("CHAINRULE_LOOP_MEMORY_BUDGET", "lots")
    with pytest.raises(ValueError, match="CHAINRULE_LOOP_MEMORY_BUDGET"):
        config_module.Config()
    monkeypatch.delenv("CHAINRULE_LOOP_MEMORY_BUDGET")
    assert config_module.Config().loop_memory_budget == config_module.DEFAULT_LOOP_MEMORY_BUDGET


# ------------------------------------------------------------------------------------------- while_loop

def halve(module):
    return lambda x: (module if module is lax else __import__("chainrule.control", fromlist=["x"])).while_loop(
        lambda c: c[0] >= 1.0, lambda c: (c[0] * 0.5, c[1] * c[0] + 1.0), (x, x * 0))


@pytest.mark.parametrize("dtype", [numpy.float64, numpy.float32])
def test_while_loop_values_equal_lax(dtype):
    x = numpy.asarray(13.0, dtype)
    got = halve(np)(x)
    close(got, halve(lax)(x), dtype)
    assert numpy.asarray(got[1]).dtype == dtype


@pytest.mark.parametrize("x", [0.5, 3.0, 13.0])
def test_while_loop_reverse_mode_equals_forward_mode(x):
    f = lambda x: halve(np)(x)[1]  # noqa: E731
    close(cr.grad(f)(x), jax.jacfwd(lambda x: halve(lax)(x)[1])(x))  # JAX has no reverse mode here
    close(cr.grad(f)(x), central_difference(f, x), tolerance=1e-7)
    close(cr.hessian(f)(x), jax.jacfwd(jax.jacfwd(lambda x: halve(lax)(x)[1]))(x))


def test_while_loop_vmap_with_batched_predicate_equals_stacking():
    xs = numpy.array([0.5, 3.0, 13.0])
    f = lambda x: halve(np)(x)[1]  # noqa: E731
    close(cr.vmap(f)(xs), jax.vmap(lambda x: halve(lax)(x)[1])(xs))
    close(cr.vmap(cr.grad(f))(xs), numpy.stack([cr.grad(f)(x) for x in xs]))


def test_jit_of_while_loop_and_its_gradient_with_value_dependent_trip_count():
    f = lambda x: halve(np)(x)[1]  # noqa: E731
    fast, fast_grad = jit(f), jit(cr.grad(f))
    for x in (0.5, 3.0, 13.0, 100.0):  # one compiled code, different trip counts
        close(fast(x), halve(lax)(x)[1])
        close(fast_grad(x), jax.jacfwd(lambda x: halve(lax)(x)[1])(x))
    assert "while_runtime" in fast.source(3.0)
    close(jit(cr.hessian(f))(13.0), jax.jacfwd(jax.jacfwd(lambda x: halve(lax)(x)[1]))(13.0))
    xs = numpy.array([0.5, 13.0])
    close(cr.vmap(cr.grad(f))(xs), numpy.stack([cr.grad(f)(x) for x in xs]))


def test_reverse_over_reverse_through_a_while_loop_inside_jit_and_vmap():
    # reverse mode twice (jacrev of jacrev) needs the trip count, which inside jit or vmap is a value of each
    # call: the second reverse pass unrolls when it runs. JAX refuses reverse mode through while_loop: its
    # Hessian of the same loop, forward over forward, is the reference.
    def ours(x):
        carry = while_loop(lambda c: np.sum(c[0] ** 2) < 10.0,
                           lambda c: (c[0] * 1.3 + np.sin(c[0]) * x[::-1], c[1] + 1), (x, 0))
        return np.sum(carry[0] ** 3) * x[0]

    def theirs(x):
        carry = lax.while_loop(lambda c: jnp.sum(c[0] ** 2) < 10.0,
                               lambda c: (c[0] * 1.3 + jnp.sin(c[0]) * x[::-1], c[1] + 1), (x, 0))
        return jnp.sum(carry[0] ** 3) * x[0]

    reference = jax.jacfwd(jax.jacfwd(theirs))
    points = numpy.array([[0.3, 0.4], [0.9, -0.2], [1.5, 1.1]])  # different trip counts
    twice = cr.jacrev(cr.jacrev(ours))
    compiled = jit(twice)
    for x in points:
        close(compiled(x), reference(x), tolerance=1e-12)
    close(cr.vmap(twice)(points), numpy.stack([reference(x) for x in points]), tolerance=1e-12)
    close(jit(cr.vmap(twice))(points), numpy.stack([reference(x) for x in points]), tolerance=1e-12)
    gradient_norm = jit(cr.grad(lambda x: np.sum(cr.grad(ours)(x) ** 2)))
    close(gradient_norm(points[0]), 2 * reference(points[0]) @ jax.jacfwd(theirs)(points[0]), tolerance=1e-12)
    # forward mode over it stages too (its JVP is the same primitive one level up): a third derivative
    close(jit(cr.jacfwd(twice))(points[0]), jax.jacfwd(reference)(points[0]), tolerance=1e-10)
    # and reverse mode over it too (its VJP is the same primitive one level up): third and fourth derivatives
    third = jax.jacfwd(reference)
    close(jit(cr.jacrev(twice))(points[0]), third(points[0]), tolerance=1e-10)
    close(jit(cr.vmap(cr.jacrev(twice)))(points), numpy.stack([third(x) for x in points]), tolerance=1e-10)
    close(jit(cr.jacrev(cr.jacrev(twice)))(points[1]), jax.jacfwd(third)(points[1]), tolerance=1e-9)
    close(jit(cr.jacfwd(cr.jacrev(twice)))(points[1]), jax.jacfwd(third)(points[1]), tolerance=1e-9)


# ------------------------------------------------------------------------------------------- fori_loop

def test_fori_loop_concrete_and_traced_bounds():
    body = lambda i, v: v * 1.5 + i * v ** 2 * 0.01  # noqa: E731
    got = fori_loop(1, 6, body, 0.3)
    close(got, lax.fori_loop(1, 6, body, 0.3))
    close(cr.grad(lambda x: fori_loop(1, 6, body, x))(0.3), jax.grad(lambda x: lax.fori_loop(1, 6, body, x))(0.3))
    traced = jit(lambda n, x: fori_loop(0, n, body, x))  # a traced bound: a while_loop
    close(traced(numpy.int64(4), 0.3), lax.fori_loop(0, 4, body, 0.3))
    close(jit(cr.grad(lambda x, n: fori_loop(0, n, body, x)))(0.3, numpy.int64(4)),
          jax.jacfwd(lambda x: lax.fori_loop(0, 4, body, x))(0.3))


# ------------------------------------------------------------------------------------------- cond, switch

def branchy(module):
    conditional = cond if module is np else lax.cond

    def f(x, w):
        return conditional(x > 0, lambda x, w: module.sin(x) * w, lambda x, w: x * x - w, x, w)
    return f


@pytest.mark.parametrize("x", [-0.7, 0.7])
def test_cond_value_and_derivatives_follow_the_taken_branch(x):
    close(branchy(np)(x, 1.3), branchy(jnp)(x, 1.3))
    close(cr.grad(branchy(np), argnums=(0, 1))(x, 1.3), jax.grad(branchy(jnp), argnums=(0, 1))(x, 1.3))
    close(cr.jvp(lambda x: branchy(np)(x, 1.3), (x,), (1.0,)), jax.jvp(lambda x: branchy(jnp)(x, 1.3), (x,), (1.0,)))
    close(jit(cr.grad(branchy(np)))(x, 1.3), jax.grad(branchy(jnp))(x, 1.3))


def test_cond_under_vmap_with_batched_predicate_selects_per_example():
    xs = numpy.array([-0.7, 0.2, 1.5])
    close(cr.vmap(branchy(np), in_axes=(0, None))(xs, 1.3), jax.vmap(branchy(jnp), in_axes=(0, None))(xs, 1.3))
    close(cr.vmap(cr.grad(branchy(np)), in_axes=(0, None))(xs, 1.3),
          jax.vmap(jax.grad(branchy(jnp)), in_axes=(0, None))(xs, 1.3))


@pytest.mark.parametrize("index", [-1, 0, 1, 2, 5])
def test_switch_equals_lax_switch_and_clamps(index):
    branches = [lambda x: np.sin(x), lambda x: x ** 3, lambda x: np.exp(-x)]
    jax_branches = [jnp.sin, lambda x: x ** 3, lambda x: jnp.exp(-x)]
    close(switch(index, branches, 0.4), lax.switch(index, jax_branches, 0.4))
    close(cr.grad(lambda x: switch(index, branches, x))(0.4), jax.grad(lambda x: lax.switch(index, jax_branches, x))(0.4))
    indices = numpy.array([index, 1, 0])
    close(cr.vmap(lambda i: switch(i, branches, 0.4))(indices), jax.vmap(lambda i: lax.switch(i, jax_branches, 0.4))(indices))
    close(jit(lambda i, x: switch(i, branches, x))(numpy.int64(index), 0.4), lax.switch(index, jax_branches, 0.4))


# ------------------------------------------------------------------------------------------- errors

def test_misuse_is_reported_clearly():
    with pytest.raises(TypeError, match="carry of shapes/dtypes"):
        scan(lambda c, x: (np.stack([c, c]), x), 0.0, numpy.arange(3.0))
    with pytest.raises(TypeError, match="pair"):
        scan(lambda c, x: c, 0.0, numpy.arange(3.0))
    with pytest.raises(ValueError, match="leading axes"):
        scan(lambda c, x: (c, x), 0.0, (numpy.arange(3.0), numpy.arange(4.0)))
    with pytest.raises(ValueError, match="checkpoints"):
        scan(lambda c, x: (c, x), 0.0, numpy.arange(3.0), checkpoints=0)
    with pytest.raises(TypeError, match="boolean scalar"):
        while_loop(lambda c: c, lambda c: c, 1.0)
    # a float32 carry plus the int64 loop index is float64 in NumPy: the message names the index and the cure
    with pytest.raises(TypeError, match=r"loop index i is an int64.*i.astype\(val.dtype\)"):
        fori_loop(0, 3, lambda i, v: v + i, numpy.ones(2, numpy.float32))
    assert fori_loop(0, 3, lambda i, v: v + i.astype(v.dtype), numpy.ones(2, numpy.float32)).dtype == numpy.float32
    with pytest.raises(TypeError, match="same structure"):
        cond(True, lambda x: x, lambda x: (x, x), 1.0)
    with pytest.raises(TypeError, match="scalar"):
        cond(numpy.array([True, False]), lambda x: x, lambda x: x, 1.0)
    f = lambda x: halve(np)(x)[1]  # noqa: E731  (reverse mode twice inside jit: refused before, now computed)
    close(jit(cr.grad(cr.grad(f)))(3.0), jax.jacfwd(jax.jacfwd(lambda x: halve(lax)(x)[1]))(3.0))


# ------------------------------------------------------------------------------------------- documentation

def test_differentiable_programming_page_examples_run():
    import pathlib
    import re
    page = pathlib.Path(__file__).resolve().parents[1] / "docs" / "differentiable-programming.md"
    namespace = {}
    for block in re.findall(r"```python\n(.*?)```", page.read_text(), flags=re.S):
        exec(compile(block, str(page), "exec"), namespace)  # noqa: S102  (our own documentation)
