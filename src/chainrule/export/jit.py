"""``jit``: a function (typically a derivative) staged once per argument signature and run as generated
NumPy code afterwards, with none of the per-operation cost of tracing.

The semantics are jax.jit's: the function is traced when a new signature (pytree structure, shapes,
dtypes, static argument values) is seen, so Python side effects happen at tracing only, Python control
flow may depend on shapes and static arguments but not on values, and arrays the function closes over are
constants of the compiled code (pass them as arguments if they change).
"""
import functools
from collections import OrderedDict

import numpy as np

from ..core.interpreter import ConcretizationError, Tracer
from ..core.tree import tree_flatten, tree_unflatten
from .python import to_python

CACHE_SIZE = 64  # signatures kept per jitted function, least recently used dropped first


def jit(function, static_argnums=()):
    """Return ``function`` compiled to NumPy per argument signature: ``jit(grad(f))`` is a compiled gradient.

    ``static_argnums``: positions of arguments that are Python values the code may branch on (hashable;
    each value compiles its own code). Called with traced arguments (inside ``grad``, ``vmap``, ...), the
    function runs uncompiled, so ``grad(jit(f))`` differentiates ``f`` as usual.

    >>> import chainrule as cr, chainrule.numpy as np
    >>> def f(x):
    ...     for _ in range(3):
    ...         x = np.sin(x) * 1.01
    ...     return np.sum(x)
    >>> fast_grad = cr.jit(cr.grad(f))
    >>> x = np.linspace(0.0, 1.0, 4)
    >>> bool(np.allclose(fast_grad(x), cr.grad(f)(x)))
    True
    >>> "np.cos(" in fast_grad.source(x)  # the generated code for this signature
    True
    """
    static = _normalize_static(static_argnums)
    cache = OrderedDict()

    def split(args):
        for position in static:
            if position >= len(args):
                raise TypeError(f"jit: static_argnums names argument {position}, but the function was called "
                                f"with {len(args)} positional argument(s)")
        return tuple(a for i, a in enumerate(args) if i not in static), tuple(args[i] for i in static)

    def compiled_for(args, kwargs):
        dynamic, static_values = split(args)
        leaves, tree = tree_flatten((dynamic, kwargs))
        if any(isinstance(leaf, Tracer) for leaf in leaves):
            return None, leaves, None
        key = (tree, _static_key(static_values, static), tuple(_leaf_signature(leaf) for leaf in leaves))
        entry = cache.get(key)
        if entry is None:
            entry = cache[key] = _compile(function, args, static, tree, leaves)
            if len(cache) > CACHE_SIZE:
                cache.popitem(last=False)
        else:
            cache.move_to_end(key)
        return entry, leaves, key

    @functools.wraps(function)
    def jitted(*args, **kwargs):
        entry, leaves, _ = compiled_for(args, kwargs)
        if entry is None:  # traced arguments: an enclosing transform differentiates or batches the function
            return function(*args, **kwargs)
        code, out_tree = entry
        # Python numbers run as NumPy scalars, as they were staged: 1.0 / x at x = 0.0 is inf, not ZeroDivisionError.
        leaves = [_PYTHON_NUMBERS[type(leaf)](leaf) if type(leaf) in _PYTHON_NUMBERS else leaf for leaf in leaves]
        return tree_unflatten(out_tree, code(*leaves))

    def source(*args, **kwargs):
        """The generated NumPy source for the signature of these arguments."""
        entry, _, _ = compiled_for(args, kwargs)
        if entry is None:
            raise TypeError("jit.source: the arguments are traced values; pass arrays")
        return entry[0].__source__

    jitted.source = source
    jitted.clear_cache = cache.clear
    return jitted


_PYTHON_NUMBERS = {float: np.float64, int: np.int64, complex: np.complex128, bool: np.bool_}


def _normalize_static(static_argnums):
    numbers = (static_argnums,) if isinstance(static_argnums, int) else tuple(static_argnums)
    for number in numbers:
        if not isinstance(number, int) or number < 0:
            raise TypeError(f"jit: static_argnums must be non-negative integers, got {static_argnums!r}")
    return frozenset(numbers)


def _static_key(values, positions):
    for value, position in zip(values, sorted(positions)):
        try:
            hash(value)
        except TypeError:
            raise TypeError(f"jit: static argument {position} must be hashable (each value compiles its own "
                            f"code), got a {type(value).__name__}; pass arrays as ordinary arguments") from None
    return values


def _leaf_signature(leaf):
    if isinstance(leaf, (bool, int, float, complex)):
        return type(leaf)  # a Python number: any value of its type fits the compiled code
    array = np.asarray(leaf)
    return array.shape, array.dtype.str


def _compile(function, args, static, tree, leaves):
    """(code(*leaves) -> flat outputs, output tree) for this signature."""
    out_tree_box = []

    def flat_function(*flat_leaves):
        dynamic, kwargs = tree_unflatten(tree, list(flat_leaves))
        dynamic = iter(dynamic)
        full = [args[i] if i in static else next(dynamic) for i in range(len(args))]
        out_leaves, out_tree = tree_flatten(function(*full, **kwargs))
        out_tree_box.append(out_tree)
        return out_leaves

    flat_function.__name__ = getattr(function, "__name__", "f")
    try:
        code = to_python(flat_function, *leaves, compile=True)
    except ConcretizationError as error:
        raise ConcretizationError(f"jit: {error} Or mark the argument the branch depends on as static: "
                                  f"jit(f, static_argnums=...).") from None
    return code, out_tree_box[-1]
