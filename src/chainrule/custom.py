"""Custom derivative rules and gradient control: ``custom_jvp``, ``custom_vjp``, ``stop_gradient``, ``checkpoint``.

Each wraps the user's function in a call primitive whose rules run the user's rule, so the function
is one step for every interpreter (and one equation in a staged graph).
"""
import functools
import threading

import numpy as np

from .autodiff.forward import jvp_flat
from .autodiff.reverse import record
from .autodiff.transforms import vmap
from .core.avals import aval_of
from .core.graph import make_graph
from .core.interpreter import Tracer
from .core.primitive import Primitive
from .core.tree import tree_flatten, tree_leaves, tree_map, tree_unflatten
from .core.zeros import instantiate
from .ops import control
from .ops.batch_rules import materialize
from .ops.arithmetic import add
from .ops.structure import reshape
from .ops.contraction import contract


class _CallRecord:
    """The pytree structures of one call, filled in by whichever rule runs the user's function."""

    __slots__ = ("in_tree", "out_tree", "residual_tree", "num_out")

    def __init__(self, in_tree):
        self.in_tree = in_tree
        self.out_tree = None
        self.residual_tree = None
        self.num_out = None


def _staged_shape_rule(run):
    def shape_rule(*avals, **params):
        graph = make_graph(lambda *leaves: run(list(leaves), **params))(*avals)
        return [v.aval for v in graph.outvars]
    return shape_rule


# ------------------------------------------------------------------------------------------- batching
# A batched call is a call of the batched function with batched rules, so the custom rule survives vmap.

def _batched_arguments(values, batched, size):
    return [materialize(v, b, size) for v, b in zip(values, batched)]


def _copy_structure(source, target):
    target.out_tree, target.residual_tree, target.num_out = source.out_tree, source.residual_tree, source.num_out


def _batch_custom_jvp(primitive, values, batched, params, size):
    rule, call = params["rule"], params["call"]
    batched_rule = custom_jvp(vmap(rule.function))
    batched_rule.name = rule.name
    if rule.jvp_rule is not None:
        batched_rule.defjvp(vmap(rule.jvp_rule))
    new_call = _CallRecord(call.in_tree)
    out = custom_jvp_call.bind(*_batched_arguments(values, batched, size), rule=batched_rule, call=new_call)
    _copy_structure(new_call, call)
    return out


def _batch_custom_vjp(primitive, values, batched, params, size):
    rule, call = params["rule"], params["call"]
    batched_rule = custom_vjp(vmap(rule.function))
    batched_rule.owner, batched_rule.name = rule.owner, rule.name
    if rule.forward is not None:
        batched_rule.defvjp(vmap(rule.forward), vmap(rule.backward))
    new_call = _CallRecord(call.in_tree)
    out = custom_vjp_call.bind(*_batched_arguments(values, batched, size), rule=batched_rule, call=new_call)
    _copy_structure(new_call, call)
    return out


def _batch_checkpoint(primitive, values, batched, params, size):
    function, call = params["function"], params["call"]
    new_call = _CallRecord(call.in_tree)
    out = checkpoint_call.bind(*_batched_arguments(values, batched, size), function=vmap(function), call=new_call)
    _copy_structure(new_call, call)
    return out


# ------------------------------------------------------------------------------------------- nondiff_argnums
# Arguments named in nondiff_argnums (functions, flags, sizes) never reach the call primitive: each call binds
# them into a rule of the remaining arguments, and the user's rules receive them first, as in JAX.

def _normalize_nondiff_argnums(nondiff_argnums, kind):
    numbers = (nondiff_argnums,) if isinstance(nondiff_argnums, int) else tuple(nondiff_argnums)
    if not all(isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in numbers):
        raise TypeError(f"{kind}: nondiff_argnums must be non-negative argument positions (ints), "
                        f"got {nondiff_argnums!r}")
    return tuple(sorted(set(numbers)))


def _split_nondiff(args, numbers, kind, name):
    """(the non-differentiable arguments, the others), each in call order."""
    if numbers and numbers[-1] >= len(args):
        raise TypeError(f"{kind} function {name}: nondiff_argnums names argument {numbers[-1]}, but it was called "
                        f"with {len(args)} positional argument(s)")
    return [args[n] for n in numbers], [a for i, a in enumerate(args) if i not in numbers]


def _merge_nondiff(static, dynamic, numbers):
    """The full argument list: ``static`` put back at positions ``numbers`` (ascending) among ``dynamic``."""
    full = list(dynamic)
    for number, value in zip(numbers, static):
        full.insert(number, value)
    return full


# ------------------------------------------------------------------------------------------- custom_jvp

def _custom_jvp_run(leaves, *, rule, call):
    out = rule.function(*tree_unflatten(call.in_tree, leaves))
    out_leaves, call.out_tree = tree_flatten(out)
    return out_leaves


def _custom_jvp_impl(*leaves, rule, call):
    return _custom_jvp_run(list(leaves), rule=rule, call=call)


def _custom_jvp_jvp(primals, tangents, *, rule, call):
    if rule.jvp_rule is None:
        raise TypeError(f"custom_jvp function {rule.name} has no JVP rule: define one with @{rule.name}.defjvp")
    tangents = [instantiate(t, p) for t, p in zip(tangents, primals)]
    out, out_dot = rule.jvp_rule(tuple(tree_unflatten(call.in_tree, primals)),
                                 tuple(tree_unflatten(call.in_tree, tangents)))
    out_leaves, call.out_tree = tree_flatten(out)
    out_dot_leaves, dot_tree = tree_flatten(out_dot)
    if dot_tree != call.out_tree:
        raise TypeError(f"custom_jvp rule of {rule.name}: the tangent output's structure {dot_tree!r} differs from "
                        f"the primal output's {call.out_tree!r}")
    for o, t in zip(out_leaves, out_dot_leaves):
        if np.shape(o) != np.shape(t):
            raise ValueError(f"custom_jvp rule of {rule.name}: a tangent output has shape {np.shape(t)}, but its "
                             f"primal has shape {np.shape(o)}")
    return out_leaves, out_dot_leaves


def _custom_jvp_vjp(outs, *inputs, rule, call):
    def custom_jvp_pullback(out_bars):
        # The rule is linear in the tangents: its transpose is the reverse-mode derivative of the tangent map.
        def tangent_map(tangents):
            return _custom_jvp_jvp(list(inputs), tangents, rule=rule, call=call)[1]

        zeros = [np.zeros(np.shape(x), aval_of(x).dtype) for x in inputs]
        _, pullback = record(tangent_map, zeros)
        return tuple(pullback([instantiate(c, o) for c, o in zip(out_bars, outs)]))
    return custom_jvp_pullback


custom_jvp_call = Primitive("custom_jvp_call", _custom_jvp_impl, jvp=_custom_jvp_jvp, vjp=_custom_jvp_vjp,
                            batch=_batch_custom_jvp, multiple_results=True,
                            shape_rule=_staged_shape_rule(_custom_jvp_run), calls_function=True)


class custom_jvp:
    """Give a function its own forward-mode rule; reverse mode follows by transposing that rule.

    >>> import chainrule as cr, chainrule.numpy as np
    >>> @cr.custom_jvp
    ... def log1pexp(x):
    ...     return np.log(1.0 + np.exp(x))
    >>> @log1pexp.defjvp
    ... def log1pexp_jvp(primals, tangents):
    ...     (x,), (x_dot,) = primals, tangents
    ...     return log1pexp(x), x_dot / (1.0 + np.exp(-x))
    >>> float(cr.grad(log1pexp)(50.0))
    1.0

    ``nondiff_argnums`` (as in JAX) names arguments that are not differentiated, such as functions or flags:
    the rule receives them first, ``jvp_rule(*nondiff_args, primals, tangents)``, with the other arguments
    in ``primals`` and ``tangents``. A traced array passed there gets no derivative (JAX's stop_gradient).

    >>> import functools
    >>> @functools.partial(cr.custom_jvp, nondiff_argnums=(0,))
    ... def apply(f, x):
    ...     return f(x)
    >>> @apply.defjvp
    ... def apply_jvp(f, primals, tangents):
    ...     return apply(f, primals[0]), 2.0 * tangents[0]
    >>> float(cr.grad(lambda x: apply(np.sin, x))(0.3))
    2.0
    """

    def __init__(self, function, nondiff_argnums=()):
        functools.update_wrapper(self, function)
        self.function = function
        self.jvp_rule = None
        self.name = getattr(function, "__name__", "function")
        self.nondiff_argnums = _normalize_nondiff_argnums(nondiff_argnums, "custom_jvp")

    def defjvp(self, jvp_rule):
        """Set the rule ``jvp_rule(primals, tangents) -> (out, out_tangent)`` (tuples of the arguments;
        with ``nondiff_argnums``, ``jvp_rule(*nondiff_args, primals, tangents)``)."""
        self.jvp_rule = jvp_rule
        return jvp_rule

    def defjvps(self, *jvp_functions):
        """Set the rule by one function per argument, ``fn(tangent, primal_out, *primals)`` giving that
        argument's contribution to the output tangent (None for an argument with no derivative); the
        contributions are summed, as in JAX.

        >>> import chainrule as cr, chainrule.numpy as np
        >>> @cr.custom_jvp
        ... def f(x, y):
        ...     return np.sin(x) * y
        >>> f.defjvps(lambda x_dot, out, x, y: np.cos(x) * x_dot * y,
        ...           lambda y_dot, out, x, y: np.sin(x) * y_dot)
        >>> [round(float(g), 6) for g in cr.grad(f, argnums=(0, 1))(1.0, 2.0)]
        [1.080605, 0.841471]
        """
        if self.nondiff_argnums:
            raise TypeError(f"custom_jvp function {self.name}: defjvps cannot be combined with nondiff_argnums "
                            f"(as in JAX); define one rule with defjvp, which receives the non-differentiable "
                            f"arguments first")

        def jvp_rule(primals, tangents):
            if len(jvp_functions) != len(primals):
                raise TypeError(f"custom_jvp function {self.name}: defjvps was given {len(jvp_functions)} "
                                f"function(s) for {len(primals)} argument(s); give one per argument (None for an "
                                f"argument with no derivative)")
            out = self(*primals)
            total = None
            for jvp_function, tangent in zip(jvp_functions, tangents):
                if jvp_function is None:
                    continue
                term = jvp_function(tangent, out, *primals)
                total = term if total is None else tree_map(add, total, term)
            if total is None:  # no argument has a derivative
                total = tree_map(lambda o: np.zeros(np.shape(o), aval_of(o).dtype), out)
            return out, total

        self.jvp_rule = jvp_rule

    def __call__(self, *args):
        if self.nondiff_argnums:
            return self._call_with_nondiff(args)
        leaves, in_tree = tree_flatten(args)
        call = _CallRecord(in_tree)
        out_leaves = custom_jvp_call(*leaves, rule=self, call=call)
        return tree_unflatten(call.out_tree, out_leaves)

    def _call_with_nondiff(self, args):
        numbers = self.nondiff_argnums
        static, dynamic = _split_nondiff(args, numbers, "custom_jvp", self.name)
        static_leaves, static_tree = tree_flatten(static)
        # Traced arrays among them go through the call as operands without derivative (JAX's stop_gradient),
        # which the rule receives with the non-differentiable arguments.
        traced = [k for k, leaf in enumerate(static_leaves) if isinstance(leaf, Tracer)]
        count = len(traced)

        def static_arguments(traced_values):
            leaves = list(static_leaves)
            for k, value in zip(traced, traced_values):
                leaves[k] = value
            return tree_unflatten(static_tree, leaves)

        def function(*operands):
            return self.function(*_merge_nondiff(static_arguments(operands[:count]), operands[count:], numbers))

        bound = custom_jvp(function)
        bound.name = self.name
        if self.jvp_rule is not None:
            def jvp_rule(primals, tangents):
                return self.jvp_rule(*static_arguments(primals[:count]), tuple(primals[count:]),
                                     tuple(tangents[count:]))
            bound.jvp_rule = jvp_rule
        return bound(*[control.stop_gradient(static_leaves[k]) for k in traced], *dynamic)


# ------------------------------------------------------------------------------------------- custom_vjp

class _RunningForwardRules(threading.local):
    def __init__(self):
        self.rules = set()


# The custom_vjp functions whose forward rule is running in this thread: JAX's idiom ``def fwd(x): return f(x),
# x`` calls the function itself there, which must mean its plain evaluation, not the rule again.
_running_forward = _RunningForwardRules()


def _custom_vjp_run(leaves, *, rule, call):
    running = _running_forward.rules
    owner = rule.owner  # the user's function, also when this rule is its batched or argument-bound form
    already = owner in running
    running.add(owner)
    try:
        result = rule.forward(*tree_unflatten(call.in_tree, leaves))
    finally:
        if not already:
            running.discard(owner)
    if not (isinstance(result, tuple) and len(result) == 2):
        raise TypeError(f"custom_vjp forward rule of {rule.name} must return (output, residuals), "
                        f"got {type(result).__name__}")
    out, residuals = result
    out_leaves, call.out_tree = tree_flatten(out)
    residual_leaves, call.residual_tree = tree_flatten(residuals)
    call.num_out = len(out_leaves)
    return out_leaves + residual_leaves


def _custom_vjp_impl(*leaves, rule, call):
    if rule.forward is None:
        out = rule.function(*tree_unflatten(call.in_tree, list(leaves)))
        out_leaves, call.out_tree = tree_flatten(out)
        call.residual_tree, call.num_out = tree_flatten(())[1], len(out_leaves)
        return out_leaves
    return _custom_vjp_run(list(leaves), rule=rule, call=call)


def _custom_vjp_cotangents(rule, call, residual_leaves, out_bars, inputs):
    residuals = tree_unflatten(call.residual_tree, residual_leaves)
    cotangent = tree_unflatten(call.out_tree, out_bars)
    result = rule.backward(residuals, cotangent)
    if not isinstance(result, tuple):
        raise TypeError(f"custom_vjp backward rule of {rule.name} must return a tuple with one cotangent per "
                        f"argument, got {type(result).__name__}")
    arguments = tree_unflatten(call.in_tree, list(inputs))
    if len(result) != len(arguments):
        raise TypeError(f"custom_vjp backward rule of {rule.name} returned {len(result)} cotangent(s) for "
                        f"{len(arguments)} argument(s); return one per argument (None for a zero cotangent)")
    leaves = []
    for position, (cotangent, argument) in enumerate(zip(result, arguments)):
        argument_leaves, argument_tree = tree_flatten(argument)
        if cotangent is None:  # a zero cotangent for this whole argument, as in JAX
            leaves += [None] * len(argument_leaves)
            continue
        cotangent_leaves, tree = tree_flatten(cotangent)
        if tree != argument_tree:
            raise TypeError(f"custom_vjp backward rule of {rule.name} returned structure {tree!r} for argument "
                            f"{position}, which has {argument_tree!r}")
        leaves += cotangent_leaves
    for c, x in zip(leaves, inputs):
        if c is not None and np.shape(c) != np.shape(x):
            raise ValueError(f"custom_vjp backward rule of {rule.name}: a cotangent has shape {np.shape(c)}, but "
                             f"its argument has shape {np.shape(x)}")
    return leaves


def _custom_vjp_vjp(outs, *inputs, rule, call):
    if rule.backward is None:
        raise TypeError(f"custom_vjp function {rule.name} has no rules: define them with {rule.name}.defvjp(fwd, bwd)")
    n = call.num_out

    def custom_vjp_pullback(out_bars):
        bars = [instantiate(c, o) for c, o in zip(out_bars[:n], outs[:n])]
        cotangents = _custom_vjp_cotangents(rule, call, list(outs[n:]), bars, inputs)
        residual_bars = out_bars[n:]
        if any(c is not None for c in residual_bars):
            # Residuals feed the backward rule of an inner derivative (higher order): their cotangents flow
            # to the inputs through the forward rule, differentiated as ordinary code.
            _, pullback = record(lambda leaves: _custom_vjp_run(leaves, rule=rule, call=call)[n:], list(inputs))
            extra = pullback([instantiate(c, o) for c, o in zip(residual_bars, outs[n:])])
            cotangents = [e if c is None else (c if e is None else add(c, e)) for c, e in zip(cotangents, extra)]
        return tuple(cotangents)
    return custom_vjp_pullback


def _custom_vjp_jvp(primals, tangents, *, rule, call):
    # Residual tangents come from differentiating the forward rule; the output tangent J v honours the
    # custom backward rule: one backward call per output element (J v)_k = <bwd(e_k), v>.
    tangents = [instantiate(t, p) for t, p in zip(tangents, primals)]
    outs, out_tangents = jvp_flat(lambda leaves: _custom_vjp_run(leaves, rule=rule, call=call), primals, tangents)
    n = call.num_out
    residual_leaves = outs[n:]
    custom_tangents = []
    for k, out in enumerate(outs[:n]):
        size = int(np.prod(np.shape(out), dtype=np.int64))
        pieces = []
        for flat in range(size):
            seeds = [np.zeros(np.shape(o), aval_of(o).dtype) for o in outs[:n]]
            seeds[k].reshape(-1)[flat] = 1
            cotangents = _custom_vjp_cotangents(rule, call, residual_leaves, seeds, primals)
            total = None
            for c, v in zip(cotangents, tangents):
                if c is None:
                    continue
                letters = "abcdefghijklmnopqrstuvwxyz"[:len(np.shape(v))]
                term = contract(c, v, spec=f"{letters},{letters}->")
                total = term if total is None else add(total, term)
            pieces.append(reshape(total, new_shape=(1,)) if total is not None else np.zeros(1))
        from .ops.structure import concatenate
        stacked = concatenate(*pieces, axis=0) if len(pieces) > 1 else pieces[0]
        custom_tangents.append(reshape(stacked, new_shape=np.shape(out)))
    return outs, custom_tangents + list(out_tangents[n:])


custom_vjp_call = Primitive("custom_vjp_call", _custom_vjp_impl, jvp=_custom_vjp_jvp, vjp=_custom_vjp_vjp,
                            batch=_batch_custom_vjp, multiple_results=True,
                            shape_rule=_staged_shape_rule(_custom_vjp_run), calls_function=True)


class custom_vjp:
    """Give a function its own reverse-mode rule: ``f.defvjp(fwd, bwd)`` with ``fwd(*args) -> (out,
    residuals)`` and ``bwd(residuals, out_cotangent) -> tuple of cotangents, one per argument``.

    Forward mode still works (unlike JAX): J v is formed from ``bwd``, one call per output element.

    >>> import chainrule as cr, chainrule.numpy as np
    >>> @cr.custom_vjp
    ... def clip_gradient(x):
    ...     return x
    >>> def fwd(x):
    ...     return x, None
    >>> def bwd(residuals, g):
    ...     return (np.clip(g, -1.0, 1.0),)
    >>> clip_gradient.defvjp(fwd, bwd)
    >>> float(cr.grad(lambda x: 5.0 * clip_gradient(x))(2.0))
    1.0

    ``nondiff_argnums`` (as in JAX) names arguments that are not arrays being differentiated (functions,
    flags, sizes): ``fwd`` takes all arguments as the function does, ``bwd(*nondiff_args, residuals, g)``
    returns cotangents for the other arguments only. A traced array there is refused, as in JAX.
    """

    def __init__(self, function, nondiff_argnums=()):
        functools.update_wrapper(self, function)
        self.function = function
        self.forward = None
        self.backward = None
        self.name = getattr(function, "__name__", "function")
        self.nondiff_argnums = _normalize_nondiff_argnums(nondiff_argnums, "custom_vjp")
        self.owner = self  # whose forward rule is running: see _custom_vjp_run

    def defvjp(self, forward, backward):
        """Set the forward rule (returning output and residuals) and the backward rule."""
        self.forward = forward
        self.backward = backward

    def __call__(self, *args):
        if self in _running_forward.rules:  # called from its own forward rule: the plain function
            return self.function(*args)
        if self.nondiff_argnums:
            return self._call_with_nondiff(args)
        leaves, in_tree = tree_flatten(args)
        call = _CallRecord(in_tree)
        results = custom_vjp_call(*leaves, rule=self, call=call)
        return tree_unflatten(call.out_tree, list(results[:call.num_out]))

    def _call_with_nondiff(self, args):
        numbers = self.nondiff_argnums
        static, dynamic = _split_nondiff(args, numbers, "custom_vjp", self.name)
        for number, value in zip(numbers, static):
            if any(isinstance(leaf, Tracer) for leaf in tree_leaves(value)):
                raise TypeError(
                    f"custom_vjp function {self.name}: argument {number} is in nondiff_argnums but holds a traced "
                    f"array (one being differentiated, batched or staged). nondiff_argnums is for values that are "
                    f"not such arrays (functions, flags, sizes); pass arrays as ordinary arguments, and return None "
                    f"as their cotangent from the backward rule for no derivative.")

        def function(*dynamic_args):
            return self.function(*_merge_nondiff(static, dynamic_args, numbers))

        bound = custom_vjp(function)
        bound.name, bound.owner = self.name, self
        if self.forward is not None:
            def forward(*dynamic_args):
                return self.forward(*_merge_nondiff(static, dynamic_args, numbers))

            def backward(residuals, cotangent):
                return self.backward(*static, residuals, cotangent)
            bound.defvjp(forward, backward)
        return bound(*dynamic)


# ------------------------------------------------------------------------------------------- checkpoint

def _checkpoint_run(leaves, *, function, call):
    out_leaves, call.out_tree = tree_flatten(function(*tree_unflatten(call.in_tree, leaves)))
    return out_leaves


def _checkpoint_impl(*leaves, function, call):
    return _checkpoint_run(list(leaves), function=function, call=call)


def _checkpoint_jvp(primals, tangents, *, function, call):
    tangents = [instantiate(t, p) for t, p in zip(tangents, primals)]
    return jvp_flat(lambda leaves: _checkpoint_run(leaves, function=function, call=call), primals, tangents)


def _checkpoint_vjp(outs, *inputs, function, call):
    # Keeps the inputs only: the forward pass is recomputed, recording it, when the pullback runs.
    def checkpoint_pullback(out_bars):
        _, pullback = record(lambda leaves: _checkpoint_run(leaves, function=function, call=call), list(inputs))
        return tuple(pullback(list(out_bars)))
    return checkpoint_pullback


checkpoint_call = Primitive("checkpoint_call", _checkpoint_impl, jvp=_checkpoint_jvp, vjp=_checkpoint_vjp,
                            batch=_batch_checkpoint, multiple_results=True,
                            shape_rule=_staged_shape_rule(_checkpoint_run), calls_function=True)


def checkpoint(function):
    """Rematerialize ``function`` in reverse mode: its intermediates are not stored but recomputed during
    the backward pass (memory of one call instead of all its intermediates, for one extra forward pass).

    >>> import chainrule as cr, chainrule.numpy as np
    >>> block = cr.checkpoint(lambda x: np.sin(np.sin(x)))
    >>> round(float(cr.grad(lambda x: block(x) * 2.0)(0.5)), 6)
    1.557288
    """

    @functools.wraps(function)
    def checkpointed(*args):
        leaves, in_tree = tree_flatten(args)
        call = _CallRecord(in_tree)
        out_leaves = checkpoint_call(*leaves, function=function, call=call)
        return tree_unflatten(call.out_tree, out_leaves)

    return checkpointed


def stop_gradient(x):
    """The value of ``x`` (any pytree) with derivative zero: no derivative flows through it.

    >>> import chainrule as cr
    >>> float(cr.grad(lambda x: x * cr.stop_gradient(x))(3.0))
    3.0
    """
    return tree_map(control.stop_gradient, x)
