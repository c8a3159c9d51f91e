"""Structured control flow with jax.lax's signatures: ``scan``, ``fori_loop``, ``while_loop``, ``cond``,
``switch``. Each is one primitive whose body is a staged graph (``ops/control.py``), so loops are neither
unrolled into the tape nor retraced per step, and they work under every transform, in ``jit`` and in exported
code; unlike JAX, reverse mode through ``while_loop`` works.

>>> import chainrule as cr, chainrule.numpy as np
>>> from chainrule.control import scan
>>> def cumulative(x):
...     return scan(lambda total, x_t: (total + x_t, total + x_t), 0.0, x)
>>> total, partial = cumulative(np.arange(4.0))
>>> float(total), partial.tolist()
(6.0, [0.0, 1.0, 3.0, 6.0])
"""
import numpy as np

from .core.avals import aval_of
from .core.config import config
from .core.graph import Graph, Var
from .core.interpreter import Tracer
from .core.tree import tree_flatten, tree_leaves, tree_unflatten
from .ops import control as _primitives
from .ops import loops as _loops
from .ops.loops import count_steps, minimal_forward_steps, stage
from .ops.structure import convert_element_type

__all__ = ["scan", "fori_loop", "while_loop", "cond", "switch", "count_steps", "minimal_forward_steps",
           "checkpoints_for"]


def _compile_graph(graph):
    """A staged body as generated NumPy code (what jit runs), for the long loops of ``ops.loops``; a body whose
    values are all a few elements runs as Python-float code (``export.scalar``), the NumPy code its fallback."""
    from .export.scalar import compiled  # imported on the first long loop: export loads more than loops need
    return _loops.on_list(compiled(graph, [var.aval for var in graph.invars], "loop_body"))


_loops.use_graph_compiler(_compile_graph)


def _leaf(value):
    """A leaf as the primitives take it: tracers as they are, anything else as a NumPy array."""
    return value if isinstance(value, Tracer) else np.asarray(value)


def _avals(leaves):
    return [leaf.aval if isinstance(leaf, Tracer) else aval_of(leaf) for leaf in leaves]


def _describe(avals):
    return "[" + ", ".join(a.str_short() for a in avals) + "]"


def _check_same_carry(where, tree, avals, out_tree, out_avals):
    if out_tree != tree:
        raise TypeError(f"{where}: the body must return a carry with the structure of the initial carry; got "
                        f"{out_tree}, expected {tree}")
    if [(a.shape, a.dtype) for a in out_avals] != [(a.shape, a.dtype) for a in avals]:
        raise TypeError(f"{where}: the body returns a carry of shapes/dtypes {_describe(out_avals)}, but the "
                        f"initial carry has {_describe(avals)}. Give the initial carry the dtype and shape the "
                        f"body produces (e.g. np.asarray(init, dtype=...)).")


# ------------------------------------------------------------------------------------------- scan

def scan(f, init, xs=None, length=None, reverse=False, checkpoints=None):
    """Loop ``carry, y = f(carry, x)`` over the leading axis of ``xs``; returns ``(carry, stacked ys)``, as
    ``jax.lax.scan``. ``init``, ``xs`` and the results may be pytrees; ``length`` is needed when ``xs`` is None.

    Reverse mode runs the loop once, keeping the carry before each step, then runs each step's VJP backwards.
    ``checkpoints`` says how many carries it may keep:

    - None (default): all of them while they fit ``chainrule.config.loop_memory_budget`` (bytes, default 1 GiB);
      beyond, as many as fit (``checkpoints_for``).
    - ``"all"``: every carry, whatever the budget.
    - an integer k: at most k (binomial checkpointing, Griewank's revolve). The backward pass recomputes the
      missing carries with the fewest forward steps k snapshots allow (``minimal_forward_steps``): about r
      times the loop for the least r with C(k + r, k) >= length, e.g. 3 times for 10^5 steps and k = 100.

    Checkpointing holds for reverse mode wherever it runs: ``grad`` on arrays and under ``jit`` (where the
    compiled derivative runs one more forward sweep, since the primal loop keeps nothing), and inside other
    transforms (``vmap(grad(f))``, ``grad(grad(f))``, ``jvp`` of ``grad``) for the inner reverse pass. What
    those outer transforms differentiate or batch, the checkpointed pass itself, is computed storing every
    carry. Forward mode (``jvp``, ``jacfwd``) stores nothing.

    >>> import chainrule as cr, chainrule.numpy as np
    >>> def power(x, n):
    ...     return scan(lambda c, _: (c * x, None), 1.0, None, length=n)[0]
    >>> float(power(2.0, 5)), float(cr.grad(power)(2.0, 5))
    (32.0, 80.0)
    """
    x_leaves, x_tree = tree_flatten(xs)
    x_leaves = [_leaf(x) for x in x_leaves]
    lengths = {int(np.shape(x)[0]) if np.ndim(x) else None for x in x_leaves}
    if None in lengths:
        raise ValueError("scan: every leaf of xs must be an array with a leading axis to scan over; got a scalar")
    if length is not None:
        lengths.add(int(length))
    if len(lengths) != 1:
        raise ValueError(f"scan: the leading axes of xs (and length) must agree; got lengths {sorted(lengths)}"
                         if lengths else "scan: give length when xs is None")
    length = lengths.pop()
    _check_checkpoints(checkpoints)
    carry_leaves, carry_tree = tree_flatten(init)
    carry_leaves = [_leaf(c) for c in carry_leaves]
    carry_avals = _avals(carry_leaves)
    checkpoints = checkpoints_for(length, carry_avals, checkpoints)
    x_avals = [type(a)(a.shape[1:], a.dtype) for a in _avals(x_leaves)]
    y_tree_box = []

    def body(leaves):
        carry = tree_unflatten(carry_tree, leaves[:len(carry_avals)])
        x = tree_unflatten(x_tree, leaves[len(carry_avals):])
        result = f(carry, x)
        if not (isinstance(result, tuple) and len(result) == 2):
            raise TypeError(f"scan: the body must return a pair (carry, y), got {type(result).__name__}")
        new_carry, y = result
        new_leaves, new_tree = tree_flatten(new_carry)
        y_leaves, y_tree = tree_flatten(y)
        _check_same_carry("scan", carry_tree, carry_avals, new_tree, _avals(new_leaves))
        y_tree_box.append(y_tree)
        return new_leaves + y_leaves

    graph, consts = stage(body, carry_avals + x_avals)
    outs = _primitives.scan(*consts, *carry_leaves, *x_leaves, body=graph, num_consts=len(consts),
                            num_carry=len(carry_leaves), length=length, reverse=bool(reverse),
                            checkpoints=checkpoints)
    count = len(carry_leaves)
    return tree_unflatten(carry_tree, list(outs[:count])), tree_unflatten(y_tree_box[-1], list(outs[count:]))


def _check_checkpoints(checkpoints):
    if checkpoints is None or (isinstance(checkpoints, str) and checkpoints == "all"):
        return
    if isinstance(checkpoints, (bool, np.bool_)) or not isinstance(checkpoints, (int, np.integer)) or checkpoints < 1:
        raise ValueError(f"scan: checkpoints must be a positive integer (carries kept for reverse mode), 'all', or "
                         f"None (keep all while they fit chainrule.config.loop_memory_budget); got {checkpoints!r}")


def _budget():
    budget = config.loop_memory_budget
    if isinstance(budget, (bool, np.bool_)) or not isinstance(budget, (int, np.integer)) or budget < 1:
        raise ValueError(f"chainrule.config.loop_memory_budget must be a positive whole number of bytes, got "
                         f"{budget!r}")
    return int(budget)


def checkpoints_for(length, carry_avals, checkpoints=None):
    """The carries a scan of ``length`` steps over carries of ``carry_avals`` keeps for reverse mode: None for
    all of them, or the number k of revolve snapshots. ``checkpoints``: as ``scan`` takes it.

    With None, all fit while ``length`` times the carry's bytes is within ``config.loop_memory_budget``;
    beyond, k is the number of carries that fit (at least 1).

    >>> import chainrule as cr
    >>> carry = [cr.ShapedArray((1000,), "float64")]          # 8000 bytes a step
    >>> checkpoints_for(100_000, carry), checkpoints_for(100_000, carry, "all")  # 800 MB fit in 1 GiB
    (None, None)
    >>> checkpoints_for(100_000, carry, 100)
    100
    >>> previous, cr.config.loop_memory_budget = cr.config.loop_memory_budget, 800_000
    >>> checkpoints_for(100_000, carry)
    100
    >>> cr.config.loop_memory_budget = previous
    """
    _check_checkpoints(checkpoints)
    if isinstance(checkpoints, str):
        return None
    if checkpoints is not None:
        return int(checkpoints)
    carry_bytes = sum(int(np.prod(a.shape, dtype=np.int64)) * np.dtype(a.dtype).itemsize for a in carry_avals)
    budget = _budget()
    if carry_bytes == 0 or length * carry_bytes <= budget:
        return None
    return max(1, budget // carry_bytes)


# ------------------------------------------------------------------------------------------- while_loop

def while_loop(cond_fun, body_fun, init_val):
    """``while cond_fun(val): val = body_fun(val)``; returns ``val``, as ``jax.lax.while_loop``.

    Reverse mode works (JAX refuses it): the loop records its trip count and the carry before each step, then
    runs each step's VJP backwards; inside ``jit`` both happen when the compiled code runs.

    >>> import chainrule as cr
    >>> def halvings(x):  # halve until below 1: the trip count depends on x
    ...     return while_loop(lambda v: v >= 1.0, lambda v: v * 0.5, x)
    >>> float(halvings(10.0)), float(cr.grad(halvings)(10.0))
    (0.625, 0.0625)
    """
    carry_leaves, carry_tree = tree_flatten(init_val)
    carry_leaves = [_leaf(c) for c in carry_leaves]
    carry_avals = _avals(carry_leaves)

    def predicate(leaves):
        out = cond_fun(tree_unflatten(carry_tree, leaves))
        out_leaves, _ = tree_flatten(out)
        avals = _avals(out_leaves)
        if len(avals) != 1 or avals[0].shape != () or avals[0].dtype != np.bool_:
            raise TypeError(f"while_loop: cond_fun must return a boolean scalar, got {_describe(avals)}")
        return out_leaves

    def body(leaves):
        new_leaves, new_tree = tree_flatten(body_fun(tree_unflatten(carry_tree, leaves)))
        _check_same_carry("while_loop", carry_tree, carry_avals, new_tree, _avals(new_leaves))
        return new_leaves

    cond_graph, cond_consts = stage(predicate, carry_avals)
    body_graph, body_consts = stage(body, carry_avals)
    outs = _primitives.while_loop(*cond_consts, *body_consts, *carry_leaves, cond_body=cond_graph, body=body_graph,
                                  num_cond_consts=len(cond_consts), num_body_consts=len(body_consts))
    return tree_unflatten(carry_tree, list(outs))


# ------------------------------------------------------------------------------------------- fori_loop

def _concrete_int(value):
    if isinstance(value, Tracer):
        return None
    array = np.asarray(value)
    if array.shape != () or array.dtype.kind not in "iu":
        raise TypeError(f"fori_loop: the bounds must be integer scalars, got {array.dtype} of shape {array.shape}")
    return array


def fori_loop(lower, upper, body_fun, init_val):
    """``for i in range(lower, upper): val = body_fun(i, val)``; returns ``val``, as ``jax.lax.fori_loop``.

    With concrete bounds this is a ``scan`` (fixed trip count); with traced bounds, a ``while_loop``.

    >>> import chainrule as cr
    >>> float(cr.grad(lambda x: fori_loop(0, 3, lambda i, v: v * x + i, 1.0))(2.0))  # d/dx (x^3 + x + 2)
    13.0
    """
    low, high = _concrete_int(lower), _concrete_int(upper)
    try:
        if low is not None and high is not None:
            dtype = np.result_type(low, high)
            steps = max(int(high) - int(low), 0)

            def step(carry, _):
                i, val = carry
                return (i + np.asarray(1, dtype), body_fun(i, val)), None

            (_, val), _ = scan(step, (np.asarray(low, dtype), init_val), None, length=steps)
            return val

        def keep_going(carry):
            i, stop, _ = carry
            return i < stop

        def step_while(carry):
            i, stop, val = carry
            return i + 1, stop, body_fun(i, val)

        start = lower if isinstance(lower, Tracer) else np.asarray(lower)
        stop = upper if isinstance(upper, Tracer) else np.asarray(upper, dtype=np.result_type(start))
        return while_loop(keep_going, step_while, (start, stop, init_val))[2]
    except TypeError as error:
        if "carry of shapes/dtypes" not in str(error) or not any(
                aval_of(leaf).dtype in (np.float16, np.float32) for leaf in tree_leaves(init_val)):
            raise
        # The usual cause: a Python loop's i is a Python int, which leaves float32 values float32; here i is an
        # int64 array, and NumPy promotes float32 combined with it to float64.
        raise TypeError(f"fori_loop: {error} The loop index i is an int64 scalar array: NumPy promotes float32 "
                        f"(or float16) values combined with it to float64. Convert it first, e.g. "
                        f"i.astype(val.dtype).") from None


# ------------------------------------------------------------------------------------------- cond, switch

def _branch_graphs(name, branches, operands):
    leaves, tree = tree_flatten(operands)
    leaves = [_leaf(v) for v in leaves]
    avals = _avals(leaves)
    staged, out_trees = [], []
    for branch in branches:
        def run(values, branch=branch):
            out_leaves, out_tree = tree_flatten(branch(*tree_unflatten(tree, values)))
            out_trees.append(out_tree)
            return out_leaves
        staged.append(stage(run, avals))
    # One primitive takes one list of inputs: every branch receives every branch's captured values.
    captured = []
    for _, values in staged:
        captured += [v for v in values if not any(v is c for c in captured)]
    graphs = []
    for graph, values in staged:
        own = {id(v): var for v, var in zip(values, graph.invars)}
        invars = [own[id(c)] if id(c) in own else Var(c.aval) for c in captured] + graph.invars[len(values):]
        graphs.append(Graph(invars, graph.equations, graph.outvars))
    first = [v.aval for v in graphs[0].outvars]
    for position, graph in enumerate(graphs[1:], start=1):
        outs = [v.aval for v in graph.outvars]
        if out_trees[position] != out_trees[0] or [(a.shape, a.dtype) for a in outs] != \
                [(a.shape, a.dtype) for a in first]:
            raise TypeError(f"{name}: every branch must return the same structure, shapes and dtypes; branch 0 "
                            f"returns {_describe(first)} ({out_trees[0]}), branch {position} returns "
                            f"{_describe(outs)} ({out_trees[position]})")
    return tuple(graphs), captured, leaves, out_trees[0]


def _index_value(index, name):
    aval = _avals([index])[0]
    if aval.shape != ():
        raise TypeError(f"{name}: the {'predicate' if name == 'cond' else 'index'} must be a scalar, got shape "
                        f"{aval.shape}")
    if aval.dtype.kind not in "biu":
        raise TypeError(f"{name}: the {'predicate' if name == 'cond' else 'index'} must be a boolean or integer, "
                        f"got {aval.dtype}")
    if isinstance(index, Tracer):
        return convert_element_type(index, dtype=np.dtype(np.int64)) if aval.dtype != np.int64 else index
    return np.asarray(index, dtype=np.int64)


def switch(index, branches, *operands):
    """``branches[index](*operands)``, with ``index`` clamped to the branches, as ``jax.lax.switch``.

    ``index`` may be traced (inside ``jit`` the branch is chosen when the code runs); derivatives flow
    through the branch taken. Under ``vmap`` with a batched index every branch runs and each example takes
    its own (as JAX).

    >>> import chainrule.numpy as np
    >>> float(switch(1, [np.sin, np.cos, np.tan], 0.0))
    1.0
    """
    branches = list(branches)
    if not branches:
        raise ValueError("switch: give at least one branch")
    if not all(callable(b) for b in branches):
        raise TypeError("switch: branches must be a sequence of functions")
    graphs, captured, leaves, out_tree = _branch_graphs("switch", branches, operands)
    outs = _primitives.cond(_index_value(index, "switch"), *captured, *leaves, branches=graphs)
    return tree_unflatten(out_tree, list(outs))


def cond(pred, true_fun, false_fun, *operands):
    """``true_fun(*operands) if pred else false_fun(*operands)``, as ``jax.lax.cond``.

    ``pred`` may be traced (inside ``jit`` the branch is chosen when the code runs); derivatives flow through
    the branch taken. Under ``vmap`` with a batched predicate both branches run and each example takes its
    own (as JAX).

    >>> import chainrule as cr, chainrule.numpy as np
    >>> f = lambda x: cond(x > 0, lambda v: v * v, lambda v: -v, x)
    >>> float(cr.grad(f)(3.0)), float(cr.grad(f)(-3.0))
    (6.0, -1.0)
    """
    if not (callable(true_fun) and callable(false_fun)):
        raise TypeError("cond: true_fun and false_fun must be functions")
    graphs, captured, leaves, out_tree = _branch_graphs("cond", [false_fun, true_fun], operands)
    outs = _primitives.cond(_index_value(pred, "cond"), *captured, *leaves, branches=graphs)
    return tree_unflatten(out_tree, list(outs))
