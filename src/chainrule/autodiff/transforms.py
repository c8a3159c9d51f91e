"""The derivative transforms (JAX's names and calling conventions): grad, value_and_grad, jvp, vjp,
linearize, jacfwd, jacrev, jacobian, hessian, hvp. They use only the JVP and reverse interpreters."""
import numpy as np

from ..core.avals import aval_of, is_inexact
from ..core.interpreter import Tracer
from ..core.tree import tree_flatten, tree_unflatten, tree_map
from ..core.zeros import instantiate
from ..ops import structure
from .forward import JVPTracer, jvp_flat
from .reverse import ReverseTracer, record


# ---------------------------------------------------------------------------------------------- inputs

def _normalize_argnums(argnums, num_args, transform):
    single = isinstance(argnums, int)
    numbers = (argnums,) if single else tuple(argnums)
    for number in numbers:
        if not isinstance(number, int) or not -num_args <= number < num_args:
            raise ValueError(f"{transform}: argnums={argnums!r} does not fit a call with {num_args} "
                             f"positional argument(s)")
    return single, tuple(n % num_args for n in numbers)


def _check_leaf(leaf, where, transform):
    aval = aval_of(leaf)
    if not is_inexact(aval.dtype):
        raise TypeError(
            f"{transform}: cannot differentiate with respect to {where}, whose dtype is {aval.dtype} "
            f"(derivatives need floating or complex inputs). Pass a float value, e.g. 1.0 instead of 1, "
            f"or x.astype(float), or leave this argument out of argnums.")
    if isinstance(leaf, (list, tuple)):
        raise TypeError(f"{transform}: {where} is a nested sequence; pass an array (np.asarray) instead")
    return leaf if isinstance(leaf, (Tracer, np.ndarray, float, complex, np.generic)) else np.asarray(leaf)


def _leaf_name(argnum, position, count):
    return f"argument {argnum}" + (f" (leaf {position} of its pytree)" if count > 1 else "")


def _split_args(args, argnums, transform):
    """Flatten the differentiated arguments; return (leaves, treedef, rebuild) where rebuild(leaves)
    gives the full argument tuple with the leaves put back."""
    chosen = tuple(args[i] for i in argnums)
    leaves, treedef = tree_flatten(chosen)
    counts = [len(tree_flatten(c)[0]) for c in chosen]
    checked, position = [], 0
    for argnum, count in zip(argnums, counts):
        for k in range(count):
            checked.append(_check_leaf(leaves[position], _leaf_name(argnum, k, count), transform))
            position += 1

    def rebuild(new_leaves):
        rebuilt = list(args)
        for number, value in zip(argnums, tree_unflatten(treedef, new_leaves)):
            rebuilt[number] = value
        return rebuilt

    return checked, treedef, rebuild


def _finalize(value, like):
    """A derivative result as a fresh array with the dtype of ``like`` (a Python scalar gives a NumPy scalar)."""
    if isinstance(value, Tracer):
        return value
    array = np.asarray(value)
    target = aval_of(like).dtype
    if array.dtype != target:
        array = array.astype(target)
    elif not array.flags.writeable:
        array = array.copy()
    return array[()] if array.ndim == 0 else array


def _strip(tree, tracer_type, interpreter_of):
    """Replace this transform's tracers in an auxiliary output by their primal values."""
    def strip_leaf(leaf):
        while isinstance(leaf, tracer_type) and interpreter_of(leaf):
            leaf = leaf.primal
        return leaf
    return tree_map(strip_leaf, tree)


def _function_name(function):
    return getattr(function, "__name__", type(function).__name__)


# ---------------------------------------------------------------------------------------------- reverse

def _record_call(function, args, kwargs, argnums, has_aux, transform):
    leaves, in_tree, rebuild = _split_args(args, argnums, transform)
    captured = {}

    def flat_function(tracers):
        out = function(*rebuild(tracers), **kwargs)
        if has_aux:
            if not (isinstance(out, (tuple, list)) and len(out) == 2):
                raise TypeError(f"{transform}(has_aux=True): {_function_name(function)} must return a pair "
                                f"(output, auxiliary data), got {type(out).__name__}")
            out, captured["aux"] = out
        out_leaves, captured["out_tree"] = tree_flatten(out)
        if has_aux:
            captured["tracers"] = tracers
        return out_leaves

    outs, pullback = record(flat_function, leaves)
    aux = None
    if has_aux:
        trace = captured["tracers"][0]._trace if captured["tracers"] else None
        aux = _strip(captured["aux"], ReverseTracer, lambda t: t._trace is trace)
    return leaves, in_tree, outs, captured["out_tree"], pullback, aux


def value_and_grad(function, argnums=0, has_aux=False):
    """Return a function computing ``(function(*args), gradient)`` in one forward and one backward pass.

    >>> import chainrule as cr, chainrule.numpy as np
    >>> value, gradient = cr.value_and_grad(lambda x: np.sum(x ** 2))(np.array([1.0, 2.0]))
    >>> float(value), gradient
    (5.0, array([2., 4.]))
    """

    def value_and_grad_function(*args, **kwargs):
        single, numbers = _normalize_argnums(argnums, len(args), "grad")
        leaves, in_tree, outs, out_tree, pullback, aux = _record_call(
            function, args, kwargs, numbers, has_aux, "grad")
        if len(outs) != 1:
            raise TypeError(f"grad: {_function_name(function)} must return one scalar, but it returned a "
                            f"pytree of {len(outs)} values. Use jacrev or vjp for several outputs.")
        out = outs[0]
        out_aval = aval_of(out)
        if out_aval.shape != ():
            raise TypeError(f"grad: {_function_name(function)} must return a scalar, but its output has shape "
                            f"{out_aval.shape}. Reduce it (e.g. np.sum), or use jacrev/vjp for non-scalar outputs.")
        if not is_inexact(out_aval.dtype):
            raise TypeError(f"grad: {_function_name(function)} returned dtype {out_aval.dtype}; its derivative "
                            f"is zero or undefined. Return a floating-point value.")
        cotangents = pullback([np.ones((), out_aval.dtype)])
        grads = [_finalize(instantiate(c, leaf), leaf) for c, leaf in zip(cotangents, leaves)]
        grads = tree_unflatten(in_tree, grads)
        result = grads[0] if single else tuple(grads)
        value = _finalize(out, out) if not isinstance(out, Tracer) else out
        if has_aux:
            return (value, aux), result
        return value, result

    value_and_grad_function.__name__ = f"value_and_grad_{_function_name(function)}"
    value_and_grad_function.__doc__ = f"Value and gradient of {_function_name(function)}."
    return value_and_grad_function


def grad(function, argnums=0, has_aux=False):
    """Return a function computing the gradient of scalar-valued ``function`` by reverse mode.

    ``argnums`` (int or tuple) picks the differentiated positional arguments, each any pytree of
    float arrays. With ``has_aux=True`` the function returns ``(output, aux)`` and so does the gradient.

    >>> import chainrule as cr, chainrule.numpy as np
    >>> f = lambda x1, x2: (np.sin(x1 / x2) + x1 / x2 - np.exp(x2)) * (x1 / x2 - np.exp(x2))
    >>> [round(float(g), 6) for g in cr.grad(f, argnums=(0, 1))(1.5, 0.5)]
    [3.011843, -13.723962]
    """
    value_and_grad_function = value_and_grad(function, argnums, has_aux)

    def grad_function(*args, **kwargs):
        value, gradient = value_and_grad_function(*args, **kwargs)
        return (gradient, value[1]) if has_aux else gradient

    grad_function.__name__ = f"grad_{_function_name(function)}"
    grad_function.__doc__ = f"Gradient of {_function_name(function)}."
    return grad_function


def vjp(function, *primals, has_aux=False):
    """Reverse mode: return ``(function(*primals), pullback)``; ``pullback(cotangent)`` gives one
    cotangent per primal (a tuple), and may be called many times.

    >>> import chainrule as cr, chainrule.numpy as np
    >>> out, pullback = cr.vjp(lambda x: x * np.array([1.0, 2.0]), np.array([3.0, 4.0]))
    >>> pullback(np.array([1.0, 1.0]))
    (array([1., 2.]),)
    """
    numbers = tuple(range(len(primals)))
    leaves, in_tree, outs, out_tree, pullback_flat, aux = _record_call(
        function, primals, {}, numbers, has_aux, "vjp")
    out_tree_value = tree_unflatten(out_tree, [_finalize(o, o) if not isinstance(o, Tracer) else o for o in outs])

    def pullback(cotangent):
        ct_leaves, ct_tree = tree_flatten(cotangent)
        if ct_tree != out_tree:
            raise ValueError(f"vjp pullback: the cotangent's structure {ct_tree!r} differs from the output's "
                             f"{out_tree!r}")
        for position, (ct, out) in enumerate(zip(ct_leaves, outs)):
            if np.shape(ct) != np.shape(out):
                raise ValueError(f"vjp pullback: cotangent {position} has shape {np.shape(ct)}, but the output "
                                 f"it pairs with has shape {np.shape(out)}")
        cotangents = pullback_flat(list(ct_leaves))
        grads = [_finalize(instantiate(c, leaf), leaf) for c, leaf in zip(cotangents, leaves)]
        return tuple(tree_unflatten(in_tree, grads))

    pullback.__name__ = f"pullback_of_{_function_name(function)}"
    if has_aux:
        return out_tree_value, pullback, aux
    return out_tree_value, pullback


# ---------------------------------------------------------------------------------------------- forward

def _forward_call(function, primals, tangents, transform):
    if not isinstance(primals, (tuple, list)) or not isinstance(tangents, (tuple, list)):
        raise TypeError(f"{transform}: primals and tangents must be tuples (one entry per positional "
                        f"argument), e.g. {transform}(f, (x,), (v,))")
    if len(primals) != len(tangents):
        raise ValueError(f"{transform}: {len(primals)} primal(s) but {len(tangents)} tangent(s)")
    leaves, in_tree, rebuild = _split_args(tuple(primals), tuple(range(len(primals))), transform)
    tangent_leaves, tangent_tree = tree_flatten(tuple(tangents))
    if tangent_tree != in_tree:
        raise ValueError(f"{transform}: tangents have structure {tangent_tree!r}, primals {in_tree!r}")
    checked = []
    for position, (leaf, tangent) in enumerate(zip(leaves, tangent_leaves)):
        if np.shape(tangent) != np.shape(leaf):
            raise ValueError(f"{transform}: tangent {position} has shape {np.shape(tangent)}, but its primal has "
                             f"shape {np.shape(leaf)}")
        checked.append(tangent if isinstance(tangent, Tracer) else np.asarray(tangent, dtype=aval_of(leaf).dtype))
    captured = {}

    def flat_function(tracers):
        out = function(*rebuild(tracers))
        out_leaves, captured["out_tree"] = tree_flatten(out)
        return out_leaves

    outs, out_tangents = jvp_flat(flat_function, leaves, checked)
    return outs, out_tangents, captured["out_tree"]


def jvp(function, primals, tangents):
    """Forward mode: return ``(function(*primals), J @ tangents)`` in one pass.

    >>> import chainrule as cr, chainrule.numpy as np
    >>> f = lambda x1, x2: (np.sin(x1 / x2) + x1 / x2 - np.exp(x2)) * (x1 / x2 - np.exp(x2))
    >>> y, y_dot = cr.jvp(f, (1.5, 0.5), (1.0, 0.0))
    >>> round(float(y), 6), round(float(y_dot), 6)
    (2.016647, 3.011843)
    """
    outs, out_tangents, out_tree = _forward_call(function, primals, tangents, "jvp")
    finalize = [(_finalize(o, o), _finalize(t, o)) for o, t in zip(outs, out_tangents)]
    return tree_unflatten(out_tree, [f[0] for f in finalize]), tree_unflatten(out_tree, [f[1] for f in finalize])


def linearize(function, *primals):
    """Return ``(function(*primals), jvp_function)`` where ``jvp_function(*tangents)`` is the linear map
    ``J @ tangents`` at ``primals`` (each call runs one forward-mode pass).

    >>> import chainrule as cr, chainrule.numpy as np
    >>> y, f_jvp = cr.linearize(np.sin, 0.0)
    >>> float(f_jvp(2.0))
    2.0
    """
    out, _ = jvp(function, primals, tuple(tree_map(lambda p: np.zeros(np.shape(p)), p) for p in primals))

    def jvp_function(*tangents):
        return jvp(function, primals, tangents)[1]

    return out, jvp_function


# ---------------------------------------------------------------------------------------------- Jacobians

def _assemble(pieces, outer_shape, inner_shape):
    """Stack ``pieces`` (each of shape ``outer_shape``) along new trailing axes of ``inner_shape``."""
    if not pieces:
        return np.zeros(outer_shape + inner_shape)
    if not any(isinstance(p, Tracer) for p in pieces):
        return np.stack([np.asarray(p) for p in pieces], axis=-1).reshape(outer_shape + inner_shape)
    columns = [structure.reshape(p, new_shape=outer_shape + (1,)) for p in pieces]
    stacked = structure.concatenate(*columns, axis=len(outer_shape))
    return structure.reshape(stacked, new_shape=outer_shape + inner_shape)


def _basis(leaves):
    """Unit tangents for every element of every leaf, as (leaf position, flat index)."""
    for position, leaf in enumerate(leaves):
        for flat in range(int(np.prod(np.shape(leaf), dtype=np.int64))):
            yield position, flat


def _unit(leaves, position, flat):
    tangents = []
    for k, leaf in enumerate(leaves):
        zero = np.zeros(np.shape(leaf), dtype=aval_of(leaf).dtype)
        if k == position:
            zero.reshape(-1)[flat] = 1
        tangents.append(zero)
    return tangents


def jacfwd(function, argnums=0):
    """Return a function computing the Jacobian by forward mode, one JVP per input element.

    The result for output shape (m...) and input shape (n...) has shape (m..., n...).

    >>> import chainrule as cr, chainrule.numpy as np
    >>> cr.jacfwd(lambda x: x ** 2)(np.array([1.0, 2.0]))
    array([[2., 0.],
           [0., 4.]])
    """

    def jacfwd_function(*args):
        single, numbers = _normalize_argnums(argnums, len(args), "jacfwd")
        leaves, in_tree, rebuild = _split_args(args, numbers, "jacfwd")
        captured = {}

        def flat_function(tracers):
            out_leaves, captured["out_tree"] = tree_flatten(function(*rebuild(tracers)))
            return out_leaves

        columns = None
        outs = None
        for position, flat in _basis(leaves):
            outs, out_tangents = jvp_flat(flat_function, leaves, _unit(leaves, position, flat))
            if columns is None:
                columns = [[[] for _ in leaves] for _ in outs]
            for o, tangent in enumerate(out_tangents):
                columns[o][position].append(tangent)
        if outs is None:  # no input elements: evaluate once for the output structure
            outs = flat_function(leaves)
            columns = [[[] for _ in leaves] for _ in outs]
        blocks = [[_finalize(_assemble(columns[o][i], np.shape(out), np.shape(leaf)), out)
                   for i, leaf in enumerate(leaves)] for o, out in enumerate(outs)]
        return _arrange(blocks, captured.get("out_tree") or tree_flatten(outs)[1], in_tree, single)

    jacfwd_function.__name__ = f"jacfwd_{_function_name(function)}"
    return jacfwd_function


def _arrange(blocks, out_tree, in_tree, single):
    per_output = []
    for row in blocks:
        by_argument = tree_unflatten(in_tree, row)
        per_output.append(by_argument[0] if single else tuple(by_argument))
    return tree_unflatten(out_tree, per_output)


def jacrev(function, argnums=0):
    """Return a function computing the Jacobian by reverse mode, one pullback per output element.

    >>> import chainrule as cr, chainrule.numpy as np
    >>> cr.jacrev(lambda x: np.array([x[0] * x[1], x[0]]))(np.array([2.0, 3.0]))
    array([[3., 2.],
           [1., 0.]])
    """

    def jacrev_function(*args):
        single, numbers = _normalize_argnums(argnums, len(args), "jacrev")
        leaves, in_tree, outs, out_tree, pullback, _ = _record_call(function, args, {}, numbers, False, "jacrev")
        return _jacobian_from_pullback(leaves, in_tree, outs, out_tree, pullback, single)

    jacrev_function.__name__ = f"jacrev_{_function_name(function)}"
    return jacrev_function


def _jacobian_from_pullback(leaves, in_tree, outs, out_tree, pullback, single):
    rows = [[[] for _ in leaves] for _ in outs]
    for o, out in enumerate(outs):
        for flat in range(int(np.prod(np.shape(out), dtype=np.int64))):
            seeds = _unit(outs, o, flat)
            cotangents = pullback(seeds)
            for i, (c, leaf) in enumerate(zip(cotangents, leaves)):
                rows[o][i].append(instantiate(c, leaf))
    blocks = []
    for o, out in enumerate(outs):
        row = []
        for i, leaf in enumerate(leaves):
            # rows[o][i] holds one input-shaped cotangent per output element: stack, then move axes.
            stacked = _assemble(rows[o][i], np.shape(leaf), np.shape(out))
            leaf_ndim, out_ndim = len(np.shape(leaf)), len(np.shape(out))
            permutation = tuple(range(leaf_ndim, leaf_ndim + out_ndim)) + tuple(range(leaf_ndim))
            moved = (np.transpose(stacked, permutation) if not isinstance(stacked, Tracer)
                     else structure.transpose(stacked, permutation=permutation))
            row.append(_finalize(moved, out))
        blocks.append(row)
    return _arrange(blocks, out_tree, in_tree, single)


def _total_size(leaves):
    return sum(int(np.prod(np.shape(leaf), dtype=np.int64)) for leaf in leaves)


def jacobian(function, argnums=0, mode="auto"):
    """Return a function computing the Jacobian; ``mode="auto"`` uses forward mode when the inputs have
    fewer elements than the outputs (cost O(n) passes) and reverse mode otherwise (O(m) passes).

    >>> import chainrule as cr, chainrule.numpy as np
    >>> cr.jacobian(lambda x: np.sum(x ** 3))(np.array([1.0, 2.0]))
    array([ 3., 12.])
    """
    if mode not in ("auto", "forward", "reverse"):
        raise ValueError(f"jacobian: mode must be 'auto', 'forward' or 'reverse', got {mode!r}")
    if mode == "forward":
        return jacfwd(function, argnums)
    if mode == "reverse":
        return jacrev(function, argnums)

    def jacobian_function(*args):
        single, numbers = _normalize_argnums(argnums, len(args), "jacobian")
        leaves, in_tree, outs, out_tree, pullback, _ = _record_call(function, args, {}, numbers, False, "jacobian")
        if _total_size(leaves) < _total_size(outs):
            return jacfwd(function, argnums)(*args)
        return _jacobian_from_pullback(leaves, in_tree, outs, out_tree, pullback, single)

    jacobian_function.__name__ = f"jacobian_{_function_name(function)}"
    return jacobian_function


def hessian(function, argnums=0):
    """Return a function computing the Hessian by forward-over-reverse mode.

    >>> import chainrule as cr, chainrule.numpy as np
    >>> cr.hessian(lambda x: x[0] ** 2 * x[1])(np.array([1.0, 2.0]))
    array([[4., 2.],
           [2., 0.]])
    """
    return jacfwd(jacrev(function, argnums), argnums)


def hvp(function, primals, tangents):
    """Hessian-vector product ∇²f(primals)·tangents by forward-over-reverse mode, at a small constant
    times the cost of one gradient; the Hessian is never formed. Returns one entry per primal (a tuple).

    >>> import chainrule as cr, chainrule.numpy as np
    >>> cr.hvp(lambda x: np.sum(x ** 3), (np.array([1.0, 2.0]),), (np.array([1.0, 0.0]),))
    (array([6., 0.]),)
    """
    numbers = tuple(range(len(primals)))
    return jvp(grad(function, argnums=numbers), tuple(primals), tuple(tangents))[1]
