"""``retraced(transform, function)``: ``transform(function)`` called eagerly, at the speed of compiled code.

A derivative traced at every call pays 10-20 µs per operation of ``function`` (a batched JVP through every
rule); ``jit`` removes that but fixes, at compile time, every array ``function`` closes over. In between: stage
``function`` itself at every call (it runs, and reads its closures and globals, exactly as in eager mode), key
the staged graph by its *structure* (primitives, parameters, wiring, shapes and dtypes, Python scalar values),
and run ``transform`` of it from code compiled once per structure, with this call's arrays — those the function
closed over or built — passed in as inputs. A structure is compiled the second time it is seen (a function
called once costs one staging more, never a compilation); the first time, the transform runs on the staged
graph eagerly, so the function still runs once per call.

Functions that cannot be staged (Python branches on values) or whose structure changes at every call (a
varying Python scalar, nested loop bodies) fall back to plain eager calls after a few tries.
"""
import threading
from collections import OrderedDict

import numpy as np

from ..core.graph import Graph, Literal, Var, _param_key, eval_graph, make_graph
from ..core.interpreter import ChainruleError, ConcretizationError
from ..core.tree import tree_flatten, tree_unflatten
from .python import to_python

# Compiled structures kept per retraced function (least recently used dropped first).
CACHE_SIZE = 8
# Consecutive calls whose structure was new before staging is given up for a function (it costs each call).
MISSES_ALLOWED = 4
_PYTHON_SCALARS = (bool, int, float, complex)


def retraced(transform, function):
    """Return ``args -> transform(function)(*args)``, with ``function`` staged at every call and ``transform``
    of it run from code compiled per graph structure (see the module's docstring). ``transform(g)`` must
    return a function of the same arguments as ``g``, built from chainrule operations (a JVP, a batched
    VJP, ...); the arguments are arrays.

    >>> import chainrule as cr, chainrule.numpy as np
    >>> scale = np.array([1.0, 2.0])
    >>> gradient = retraced(cr.grad, lambda x: np.sum(np.sin(x) * scale))
    >>> [float(v) for v in gradient(np.zeros(2))]
    [1.0, 2.0]
    >>> scale = np.array([3.0, 4.0])      # read again at the next call, as in eager mode
    >>> [float(v) for v in gradient(np.zeros(2))]
    [3.0, 4.0]
    """
    return Retraced(transform, function)


class Retraced:
    """The state of one ``retraced`` function: compiled code per structure, structures seen once, misses."""

    def __init__(self, transform, function):
        self.transform, self.function = transform, function
        self.compiled = OrderedDict()
        self.seen = OrderedDict()
        self.misses = 0
        self.staged = True  # False once staging was given up: plain eager calls
        self.lock = threading.Lock()

    def __call__(self, *args):
        if not self.staged:
            return self.transform(self.function)(*args)
        try:
            graph = make_graph(self.function, simplify=False)(*args)
        except (ConcretizationError, ChainruleError, NotImplementedError):
            # Python control flow on values (or an operation that cannot be staged): eager from now on. The
            # function ran part of the way here: its side effects before the failing line happen twice, once.
            self.staged = False
            return self.transform(self.function)(*args)
        key, constants = structure(graph)
        if key is None:
            return self._missed(graph, args)
        with self.lock:  # the bookkeeping only: calls from several threads compile and run in parallel
            entry = self.compiled.get(key)
            first_sight = entry is None and key not in self.seen
            if first_sight:
                self.seen[key] = True
                if len(self.seen) > 4 * CACHE_SIZE:
                    self.seen.popitem(last=False)
            elif entry is not None:
                self.compiled.move_to_end(key)
        if first_sight:
            return self._missed(graph, args)
        if entry is None:
            entry = _compile(self.transform, graph, args, constants)
            with self.lock:
                self.compiled[key] = entry
                if len(self.compiled) > CACHE_SIZE:
                    self.compiled.popitem(last=False)
        self.misses = 0
        code, out_tree = entry
        return tree_unflatten(out_tree, code(*tree_flatten(args)[0], *constants))

    def _missed(self, graph, args):
        """A structure not (yet) compiled: the transform of the staged graph, run eagerly."""
        self.misses += 1
        if self.misses >= MISSES_ALLOWED and not self.compiled:
            self.staged = False
        return self.transform(lambda *inputs: eval_graph(graph, *inputs))(*args)


def structure(graph):
    """(key, constants): a hashable description of everything the graph computes except the values of its
    array constants, and those arrays in order of use. None for the key when a parameter cannot be hashed."""
    key, constants = _structure(graph, lambda params: tuple(params.items()))
    try:
        hash(key)  # most parameters hash as they are (a dict lookup would hash the key anyway)
    except TypeError:  # an array or a list among them: spelled out by the CSE's parameter key
        key, constants = _structure(graph, _param_key)
    return key, constants


def _structure(graph, params_key):
    numbers = {var: position for position, var in enumerate(graph.invars)}
    constants = []
    scalars = _PYTHON_SCALARS

    def atom_key(atom):
        if type(atom) is Var:
            return numbers[atom]
        value = atom.value
        if type(value) in scalars:
            # a Python scalar is weakly typed (float32 x * 2.0 stays float32): kept as a value, not an input
            return (type(value), value)
        constants.append(value)
        return (np.shape(value), np.result_type(value).str)

    parts = [tuple((v.aval.shape, v.aval.dtype.str) for v in graph.invars)]
    for equation in graph.equations:
        params = params_key(equation.params) if equation.params else ()
        if params is None:
            return None, constants
        parts.append((equation.primitive, params, tuple([atom_key(atom) for atom in equation.inputs])))
        for var in equation.outputs:
            numbers[var] = len(numbers)
    parts.append((tuple([atom_key(atom) for atom in graph.outvars]), graph.out_tree))
    return tuple(parts), constants


def with_constants_as_inputs(graph):
    """The graph with each array constant (as ``structure`` orders them) made an input after the others."""
    invars = list(graph.invars)
    equations = []

    def lifted(atom):
        if type(atom) is Literal and type(atom.value) not in _PYTHON_SCALARS:
            var = Var(atom.aval)
            invars.append(var)
            return var
        return atom

    for equation in graph.equations:
        inputs = [lifted(atom) for atom in equation.inputs]
        equations.append(type(equation)(equation.primitive, inputs, equation.params, equation.outputs))
    outvars = [lifted(atom) for atom in graph.outvars]
    return Graph(invars, equations, outvars, None, graph.out_tree)


def _compile(transform, graph, args, constants):
    """(code(*arg leaves, *constants) -> flat outputs, output tree)."""
    lifted = with_constants_as_inputs(graph)
    count = len(tree_flatten(args)[0])
    in_tree = tree_flatten(args)[1]
    out_tree_box = []

    def flat_function(*leaves):
        arguments, given = tree_unflatten(in_tree, list(leaves[:count])), leaves[count:]
        out = transform(lambda *inputs: eval_graph(lifted, *tree_flatten(inputs)[0], *given))(*arguments)
        out_leaves, out_tree = tree_flatten(out)
        out_tree_box.append(out_tree)
        return out_leaves

    code = to_python(flat_function, *tree_flatten(args)[0], *constants, compile=True)
    return code, out_tree_box[-1]
