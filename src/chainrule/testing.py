"""Checks for users' own derivatives: ``check_grads`` for functions, ``check_rules`` for primitives.

Both compare forward mode with finite differences, reverse mode with forward mode through the
identity <ȳ, J v> = <Jᵀ ȳ, v>, and repeat on the derivative for higher orders.
"""
import numpy as np

from .autodiff.transforms import jvp, vjp
from .core.avals import aval_of, is_inexact
from .core.graph import eval_graph, make_graph
from .core.tree import tree_flatten, tree_unflatten


class DerivativeMismatch(AssertionError):
    """A derivative disagrees with its reference beyond the tolerance."""


def _random_like(leaves, rng):
    directions = []
    for x in leaves:
        dtype = aval_of(x).dtype
        if not is_inexact(dtype):
            directions.append(None)
        elif np.issubdtype(dtype, np.complexfloating):
            directions.append((rng.standard_normal(np.shape(x)) + 1j * rng.standard_normal(np.shape(x))).astype(dtype))
        else:
            directions.append(rng.standard_normal(np.shape(x)).astype(dtype))
    return directions


def _inner(a_leaves, b_leaves):
    """The real pairing Re sum(a * b): with it, reverse mode's transposes satisfy <ȳ, J v> = <Jᵀ ȳ, v>
    for real, complex-linear and merely real-linear maps (real, imag, conj, abs) alike."""
    total = 0.0
    for a, b in zip(a_leaves, b_leaves):
        if a is not None and b is not None:
            total += float(np.real(np.sum(np.asarray(a, dtype=np.complex128) * np.asarray(b, dtype=np.complex128))))
    return total


def _default_step(leaves):
    finfo = np.finfo(np.result_type(*(aval_of(x).dtype for x in leaves), np.float32))
    return float(finfo.eps) ** (1.0 / 3.0)


def _central_difference(function, leaves, direction, step):
    """(f(x + h v) - f(x - h v)) / 2h on flat leaves, for every output leaf."""
    def at(sign):
        shifted = [x if v is None else np.asarray(x) + sign * step * v for x, v in zip(leaves, direction)]
        return [np.asarray(o, dtype=np.complex128 if np.iscomplexobj(o) else np.float64) for o in function(shifted)]
    plus, minus = at(1.0), at(-1.0)
    return [(p - m) / (2.0 * step) for p, m in zip(plus, minus)]


def _compare(name, got, expected, atol, rtol):
    for position, (g, e) in enumerate(zip(got, expected)):
        kind = np.complex128 if np.iscomplexobj(g) or np.iscomplexobj(e) else np.float64
        g, e = np.asarray(g, dtype=kind), np.asarray(e, dtype=kind)
        if g.shape != e.shape:
            raise DerivativeMismatch(f"{name}: output {position} has shape {g.shape}, expected {e.shape}")
        if not np.allclose(g, e, atol=atol, rtol=rtol, equal_nan=False):
            worst = np.max(np.abs(g - e))
            raise DerivativeMismatch(f"{name}: output {position} differs by up to {worst:.3e} "
                                     f"(atol={atol}, rtol={rtol}).\n got:      {g}\n expected: {e}")


def _check_flat(flat_function, leaves, order, modes, atol, rtol, step, rng, label):
    direction = _random_like(leaves, rng)
    differentiable = [i for i, d in enumerate(direction) if d is not None]

    def forward(primals_subset):
        full = list(leaves)
        for i, value in zip(differentiable, primals_subset):
            full[i] = value
        return flat_function(full)

    primals = [leaves[i] for i in differentiable]
    tangents = [direction[i] for i in differentiable]
    outs, out_tangents = jvp(lambda *p: forward(list(p)), tuple(primals), tuple(tangents))
    outs, out_tangents = list(outs), list(out_tangents)
    if "fwd" in modes:
        expected = _central_difference(forward, primals, tangents, step)
        _compare(f"{label}JVP vs central finite differences", out_tangents, expected, atol, rtol)
    if "rev" in modes:
        out_vjp, pullback = vjp(lambda *p: forward(list(p)), *primals)
        cotangent = _random_like(list(out_vjp), rng)
        cotangent = [np.zeros(np.shape(o), aval_of(o).dtype) if c is None else c for c, o in zip(cotangent, out_vjp)]
        input_cotangents = pullback(cotangent)
        left, right = _inner(cotangent, out_tangents), _inner(input_cotangents, tangents)
        scale = max(1.0, abs(left), abs(right))
        if abs(left - right) > atol + rtol * scale:
            raise DerivativeMismatch(f"{label}VJP disagrees with JVP: <ȳ, J v> = {left!r} but <Jᵀ ȳ, v> = {right!r}")
    if order > 1:
        def derivative_function(new_primals):
            return list(jvp(lambda *p: forward(list(p)), tuple(new_primals), tuple(tangents))[1])
        _check_flat(derivative_function, primals, order - 1, modes, atol, rtol, step, rng, f"{label}(order {order}) ")


def check_grads(function, args, order=2, modes=("fwd", "rev"), atol=None, rtol=None, eps=None, seed=0):
    """Check ``function``'s derivatives at ``args`` up to ``order``: forward mode against central finite
    differences along random directions, reverse mode against forward mode by the JVP/VJP identity.

    Raises ``DerivativeMismatch`` (an AssertionError) with the numbers when a check fails.

    >>> import chainrule.numpy as np
    >>> check_grads(lambda x: np.sin(x) * np.exp(x), (np.array([0.3, 1.2]),), order=2)
    """
    leaves, treedef = tree_flatten(tuple(args))
    single_precision = any(aval_of(x).dtype == np.float32 for x in leaves)
    atol = atol if atol is not None else (1e-2 if single_precision else 1e-5)
    rtol = rtol if rtol is not None else (1e-2 if single_precision else 1e-5)
    step = eps if eps is not None else _default_step(leaves)
    rng = np.random.default_rng(seed)

    def flat_function(flat):
        out = function(*tree_unflatten(treedef, flat))
        return tree_flatten(out)[0]

    _check_flat(flat_function, leaves, order, tuple(modes), atol, rtol, step, rng, "")
    if "rev" in modes:
        _check_gradient_with_finite_differences(function, args, leaves)


def _check_gradient_with_finite_differences(function, args, leaves):
    """For a scalar function of one float array, also ask ``fd.check_grad`` for its verdict: its tolerance
    comes from the finite-difference error bound, and on failure it names the wrong component."""
    if len(args) != 1 or len(leaves) != 1 or not is_inexact(aval_of(leaves[0]).dtype):
        return
    x = np.asarray(leaves[0])
    value = np.asarray(function(x))
    if value.shape != () or not np.issubdtype(value.dtype, np.floating):
        return
    from .autodiff.transforms import grad
    from .finite_diff import check_grad
    report = check_grad(lambda point: np.asarray(function(point)), grad(function), x)
    if not report.ok:
        raise DerivativeMismatch(f"reverse-mode gradient disagrees with finite differences:\n{report}")


def check_rules(primitive, args, params=None, *, order=2, atol=1e-6, rtol=1e-6, seed=0):
    """Verify a primitive's rules at ``args``: the shape rule against the implementation, the JVP against
    finite differences, the VJP against the JVP, derivatives of the rules up to ``order``, and that the
    primitive and its derivatives stage into a well-formed graph that evaluates to the same values.

    Non-float arguments (index arrays, conditions) are held fixed.

    >>> from chainrule.ops.elementwise import sin
    >>> check_rules(sin, (np.array([0.5, 1.5]),))
    """
    params = dict(params or {})
    impl_out = primitive.impl(*args, **params)
    outs = list(impl_out) if primitive.multiple_results else [impl_out]
    avals = [aval_of(a) for a in args]
    rule_out = primitive.shape_rule(*avals, **params)
    rule_outs = list(rule_out) if primitive.multiple_results else [rule_out]
    for position, (rule_aval, value) in enumerate(zip(rule_outs, outs)):
        if rule_aval != aval_of(np.asarray(value)):
            raise DerivativeMismatch(f"{primitive.name}: shape rule gives {rule_aval} for output {position}, the "
                                     f"implementation {aval_of(np.asarray(value))}")

    def flat_function(flat):
        out = primitive(*flat, **params)
        return list(out) if primitive.multiple_results else [out]

    if primitive.differentiable:
        step = max(_default_step(list(args)), 1e-5)
        _check_flat(flat_function, list(args), order, ("fwd", "rev"), atol, rtol, step,
                    np.random.default_rng(seed), f"{primitive.name}: ")

    graph = make_graph(lambda *a: flat_function(list(a)))(*args)
    _check_graph(primitive, graph, args, outs)
    if primitive.differentiable:
        differentiable = tuple(i for i, a in enumerate(args) if is_inexact(aval_of(a).dtype))
        rng = np.random.default_rng(seed + 1)
        tangents = _random_like([args[i] for i in differentiable], rng)

        def tangent_function(*a):
            def of_differentiable(*p):
                full = list(a)
                for i, value in zip(differentiable, p):
                    full[i] = value
                return flat_function(full)
            return jvp(of_differentiable, tuple(a[i] for i in differentiable), tuple(tangents))[1]

        derivative_graph = make_graph(tangent_function)(*args)
        expected = tangent_function(*args)
        _check_graph(primitive, derivative_graph, args, list(expected))


def _check_graph(primitive, graph, args, expected):
    defined = {id(v) for v in graph.invars}
    for equation in graph.equations:
        for atom in equation.inputs:
            if hasattr(atom, "count") and id(atom) not in defined:
                raise DerivativeMismatch(f"{primitive.name}: staged graph uses a variable before defining it:\n{graph}")
        defined.update(id(v) for v in equation.outputs)
    values = eval_graph(graph, *args)
    _compare(f"{primitive.name}: staged graph vs direct evaluation", list(values), expected, 1e-12, 1e-12)
