"""The graph IR: Var, Literal, Equation, Graph; ``make_graph`` stages a function into a Graph and
``eval_graph`` runs one (by binding primitives, so a Graph is itself differentiable).

Staging is abstract (shapes and dtypes only): Python branching on a traced value raises an error
that names the user's line and the structured alternative.
"""
import itertools
import os
import traceback

import numpy as np

from .avals import ShapedArray, aval_of
from .external import ExternalArrays
from .interpreter import ConcretizationError, Interpreter, Tracer, interpreter_scope, ChainruleError
from .tree import tree_flatten, tree_unflatten

_counter = itertools.count()


class Var:
    """A variable of the graph: one value computed once."""

    __slots__ = ("aval", "count")

    def __init__(self, aval):
        self.aval = aval
        self.count = next(_counter)

    def __repr__(self):
        return f"Var({self.aval})"


class Literal:
    """A constant inside a graph."""

    __slots__ = ("value", "aval")

    def __init__(self, value):
        self.value = value
        self.aval = aval_of(value)

    def __repr__(self):
        value = self.value
        if isinstance(value, (int, float, complex, bool, np.generic)) or np.ndim(value) == 0:
            return repr(value.item() if isinstance(value, np.ndarray) else (value.item() if isinstance(value, np.generic) else value))
        return f"const{self.aval.str_short()}"


class Equation:
    """``outputs = primitive(*inputs, **params)``."""

    __slots__ = ("primitive", "inputs", "params", "outputs")

    def __init__(self, primitive, inputs, params, outputs):
        self.primitive = primitive
        self.inputs = inputs
        self.params = params
        self.outputs = outputs


class Graph:
    """A staged program: input variables, equations in evaluation order, outputs (Vars or Literals)."""

    __slots__ = ("invars", "equations", "outvars", "in_tree", "out_tree")

    def __init__(self, invars, equations, outvars, in_tree=None, out_tree=None):
        self.invars = list(invars)
        self.equations = list(equations)
        self.outvars = list(outvars)
        self.in_tree = in_tree
        self.out_tree = out_tree

    def names(self):
        """Readable names for the variables, in order of appearance: a, b, ..., z, ba, bb, ..."""
        names = {}

        def name_of(index):
            letters = "abcdefghijklmnopqrstuvwxyz"
            text = letters[index % 26]
            index //= 26
            while index:
                text = letters[index % 26] + text
                index //= 26
            return text

        for var in self.invars:
            names[var] = name_of(len(names))
        for equation in self.equations:
            for var in equation.outputs:
                names[var] = name_of(len(names))
        return names

    def __str__(self):
        names = self.names()

        def show(atom):
            return names[atom] if isinstance(atom, Var) else repr(atom)

        lines = ["graph(" + ", ".join(f"{names[v]}: {v.aval.str_short()}" for v in self.invars) + "):"]
        for equation in self.equations:
            outs = ", ".join(f"{names[v]}: {v.aval.str_short()}" for v in equation.outputs)
            args = [show(a) for a in equation.inputs]
            args += [f"{k}={_show_param(v)}" for k, v in equation.params.items()]
            lines.append(f"  {outs} = {equation.primitive.name}({', '.join(args)})")
        lines.append("  return " + ", ".join(show(v) for v in self.outvars))
        return "\n".join(lines)

    __repr__ = __str__

    def __call__(self, *args):
        return eval_graph(self, *args)


def _show_param(value):
    if isinstance(value, np.dtype):
        return value.name
    if isinstance(value, type) and issubclass(value, np.generic):
        return np.dtype(value).name
    return repr(value)


class StagingTracer(Tracer):
    __slots__ = ("var",)

    def __init__(self, trace, var):
        self._trace = trace
        self.var = var

    @property
    def aval(self):
        return self.var.aval

    @property
    def shape(self):
        return self.var.aval.shape

    def concrete_value(self):
        raise ConcretizationError(
            f"Python control flow on a traced value ({_user_line()}) cannot be staged into a graph: the "
            f"graph must not depend on the values (shape {self.aval.shape}). Select between values with "
            f"chainrule.numpy.where(condition, a, b), or differentiate eagerly (grad, jvp), where Python "
            f"if/for/while on values work.")

    def __repr__(self):
        return f"StagingTracer({self.aval})"


def _user_line():
    """The first stack frame outside chainrule: the user's line."""
    package = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    for frame in reversed(traceback.extract_stack()[:-2]):
        if not os.path.abspath(frame.filename).startswith(package):
            return f"{frame.filename}, line {frame.lineno}: {frame.line}"
    return "unknown line"


class StagingInterpreter(Interpreter):
    __slots__ = ("equations", "external")

    def __init__(self):
        super().__init__()
        self.equations = []
        # writeable arrays become constants of the graph as they are now: the function may change them after
        # this use (``buffer[:] = ...`` in a loop), and the graph must keep the value an eager run would use
        self.external = ExternalArrays()

    def atom(self, value):
        if isinstance(value, StagingTracer) and value._trace is self:
            return value.var
        if isinstance(value, Tracer):
            raise ChainruleError(
                "make_graph: the staged function uses a value traced by an enclosing transform (it closes "
                "over it). Pass that value to the staged function as an argument instead.")
        return self.literal(value)

    def literal(self, value):
        """A constant of the graph (see ``core.external`` for arrays the function may change afterwards)."""
        if type(value) is np.ndarray and value.flags.writeable:
            value = self.external.constant(value, "a constant of the staged function")
        return Literal(value)

    def process(self, primitive, args, params):
        # Runs for every operation staged (at every call of a retraced function): the common cases inlined.
        inputs = [a.var if type(a) is StagingTracer and a._trace is self else self.atom(a) for a in args]
        if primitive.elementwise:
            out_aval = primitive.shape_rule(*_shape_arguments(primitive, inputs), **params)
        else:
            out_aval = primitive.shape_rule(*[a.aval for a in inputs], **params)
        if primitive.multiple_results:
            outputs = [Var(a) for a in out_aval]
            self.equations.append(Equation(primitive, inputs, params, outputs))
            return [StagingTracer(self, v) for v in outputs]
        var = Var(out_aval)
        self.equations.append(Equation(primitive, inputs, params, [var]))
        return StagingTracer(self, var)


def _shape_arguments(primitive, inputs):
    """What a shape rule receives for each input: its aval, except that elementwise primitives get Python
    scalars themselves, whose dtype NumPy promotes weakly (``float32 * 2.0`` stays float32); their shape
    rules take values or avals alike (``np.result_type`` reads both)."""
    if not primitive.elementwise:
        return [a.aval for a in inputs]
    return [a.value if type(a) is Literal and isinstance(a.value, (int, float, complex, bool)) else a.aval
            for a in inputs]


def _input_aval(leaf):
    if isinstance(leaf, ShapedArray):
        return leaf
    if isinstance(leaf, Tracer):
        raise ChainruleError("make_graph: an argument is a value traced by an enclosing transform; "
                             "stage the function outside that transform")
    return aval_of(leaf)


def make_graph(function, *, simplify=True):
    """Return a function that stages ``function`` on its arguments' shapes and dtypes into a Graph.

    Arguments may be arrays or ``ShapedArray`` specs (any pytree). With ``simplify`` (default), dead
    equations are removed and common subexpressions shared.

    >>> import chainrule as cr, chainrule.numpy as np
    >>> print(cr.make_graph(lambda x, y: np.sin(x) * y)(1.0, 2.0))
    graph(a: f64[], b: f64[]):
      c: f64[] = sin(a)
      d: f64[] = mul(c, b)
      return d
    """

    def staged(*args):
        leaves, in_tree = tree_flatten(args)
        interpreter = StagingInterpreter()
        with interpreter_scope(interpreter):
            invars = [Var(_input_aval(leaf)) for leaf in leaves]
            tracers = [StagingTracer(interpreter, v) for v in invars]
            out = function(*tree_unflatten(in_tree, tracers))
            out_leaves, out_tree = tree_flatten(out)
            outvars = [interpreter.atom(o) for o in out_leaves]
        interpreter.external.check()
        graph = Graph(invars, interpreter.equations, outvars, in_tree, out_tree)
        return simplify_graph(graph) if simplify else graph

    staged.__name__ = f"make_graph_{getattr(function, '__name__', 'function')}"
    return staged


def eval_graph(graph, *args):
    """Run ``graph`` on ``args`` (its inputs' pytree) by binding each equation's primitive.

    Under a transform this differentiates the graph like any other function.

    >>> import chainrule as cr
    >>> graph = cr.make_graph(lambda x, y: x * x * y)(0.0, 0.0)
    >>> float(eval_graph(graph, 3.0, 2.0)), float(cr.grad(lambda x: eval_graph(graph, x, 2.0))(3.0))
    (18.0, 12.0)
    """
    leaves, _ = tree_flatten(args)
    if len(leaves) != len(graph.invars):
        raise TypeError(f"eval_graph: the graph takes {len(graph.invars)} input(s), got {len(leaves)}")
    env = {}
    for var, value in zip(graph.invars, leaves):
        if np.shape(value) != var.aval.shape:
            raise ValueError(f"eval_graph: an input of shape {np.shape(value)} was given where the graph expects "
                             f"{var.aval.shape}")
        env[var] = value

    def read(atom):
        return atom.value if isinstance(atom, Literal) else env[atom]

    for equation in graph.equations:
        out = equation.primitive.bind(*[read(a) for a in equation.inputs], **equation.params)
        if equation.primitive.multiple_results:
            for var, value in zip(equation.outputs, out):
                env[var] = value
        else:
            env[equation.outputs[0]] = out
    outs = [read(v) for v in graph.outvars]
    return tree_unflatten(graph.out_tree, outs) if graph.out_tree is not None else outs


def simplify_graph(graph):
    """Fold identities (x*1, x+0, -(-x)), share common subexpressions, then drop equations whose outputs
    are never used.

    >>> import chainrule as cr, chainrule.numpy as np
    >>> raw = cr.make_graph(lambda x: np.sin(x) * 1.0 + np.sin(x), simplify=False)(0.5)
    >>> [e.primitive.name for e in simplify_graph(raw).equations]
    ['sin', 'add']
    """
    return eliminate_dead_code(share_common_subexpressions(fold_identities(graph)))


def _is_literal(atom, value):
    """Whether ``atom`` is a constant whose every element equals ``value`` (a broadcast 1 or 0 too)."""
    if not isinstance(atom, Literal):
        return False
    array = np.asarray(atom.value)
    return array.size >= 1 and bool(np.all(array == value))


def _identity_operand(equation):
    """The input an equation merely passes through, by its primitive's identity traits (x*1, 1*x, x/1, x+0,
    0+x, x-0, ...), or None.

    Only when the output has the input's shape and dtype, so no broadcast or promotion is lost."""
    primitive = equation.primitive
    inputs = equation.inputs
    if len(inputs) != 2:
        return None
    candidate = None
    if primitive.right_identity is not None and _is_literal(inputs[1], primitive.right_identity):
        candidate = inputs[0]
    elif primitive.left_identity is not None and _is_literal(inputs[0], primitive.left_identity):
        candidate = inputs[1]
    if not (isinstance(candidate, Var) and candidate.aval == equation.outputs[0].aval):
        return None
    if candidate.aval.dtype.kind == "c" and 1 in (primitive.left_identity, primitive.right_identity):
        # Complex multiplication by 1 + 0j is no identity at infinities: (1 + 0j) * (inf + nan j) is nan + nan j.
        return None
    return candidate


def fold_identities(graph):
    """Replace equations that pass an input through unchanged (an identity element, by the primitive's
    ``left_identity`` / ``right_identity`` traits, and op(op(x)) for an ``involution``) by that input.

    >>> import chainrule as cr, chainrule.numpy as np
    >>> raw = cr.make_graph(lambda x: -(-(x * 1.0)) + 0.0, simplify=False)(2.0)
    >>> len(raw.equations), len(fold_identities(raw).equations)
    (4, 1)
    """
    replacement = {}
    inverted = {}  # output of an involution -> (primitive, params, its input)
    equations = []

    def resolve(atom):
        return replacement.get(atom, atom) if isinstance(atom, Var) else atom

    for equation in graph.equations:
        # Vars and Literals hash by identity, so a lookup that misses returns the atom itself.
        equation = Equation(equation.primitive, [replacement.get(a, a) for a in equation.inputs] if replacement
                            else list(equation.inputs), equation.params, equation.outputs)
        primitive = equation.primitive
        passed = None
        if primitive.multiple_results:
            equations.append(equation)
            continue
        if primitive.left_identity is not None or primitive.right_identity is not None:
            passed = _identity_operand(equation)
        if passed is None and primitive.involution and len(equation.inputs) == 1:
            inner = inverted.get(equation.inputs[0])
            if inner is not None and inner[0] is primitive and inner[2].aval == equation.outputs[0].aval \
                    and _same_params(inner[1], equation.params):
                passed = inner[2]
        if passed is not None:
            replacement[equation.outputs[0]] = passed
            continue
        if primitive.involution and len(equation.inputs) == 1 and isinstance(equation.inputs[0], Var):
            inverted[equation.outputs[0]] = (primitive, equation.params, equation.inputs[0])
        equations.append(equation)
    return Graph(graph.invars, equations, [resolve(v) for v in graph.outvars], graph.in_tree, graph.out_tree)


def _same_params(first, second):
    """Whether two equations' parameters are known to be equal (unhashable values: not known)."""
    if not first and not second:
        return True
    key = _param_key(first)
    return key is not None and key == _param_key(second)


def _literal_key(literal):
    value = literal.value
    if isinstance(value, (int, float, complex, bool)):
        return ("python", type(value), value)
    array = np.asarray(value)
    if array.size <= 64:
        return ("array", array.dtype.str, array.shape, array.tobytes())
    return ("object", id(value))


def _param_key(params):
    try:
        return tuple(sorted((k, _hashable(v)) for k, v in params.items()))
    except TypeError:
        return None


def _hashable(value):
    if isinstance(value, np.ndarray):
        return ("array", value.dtype.str, value.shape, value.tobytes())
    if isinstance(value, (list, tuple)):
        return tuple(_hashable(v) for v in value)
    hash(value)
    return value


def share_common_subexpressions(graph):
    """Replace equations that repeat an earlier one (same primitive, params and inputs) by its outputs.

    >>> import chainrule as cr, chainrule.numpy as np
    >>> raw = cr.make_graph(lambda x: np.exp(x) + np.exp(x), simplify=False)(1.0)
    >>> [e.primitive.name for e in share_common_subexpressions(raw).equations]
    ['exp', 'add']
    >>> raw = cr.make_graph(lambda x, y: x * y + y * x, simplify=False)(1.0, 2.0)
    >>> [e.primitive.name for e in share_common_subexpressions(raw).equations]
    ['mul', 'add']
    """
    replacement = {}
    seen = {}
    equations = []

    def resolve(atom):
        return replacement.get(atom, atom) if isinstance(atom, Var) else atom

    for equation in graph.equations:
        # Vars and Literals hash by identity, so a lookup that misses returns the atom itself.
        inputs = [replacement.get(a, a) for a in equation.inputs]
        params = equation.params
        params_key = _param_key(params) if params else ()  # most equations have no params
        key = None
        if params_key is not None:
            input_keys = tuple(("var", a) if type(a) is Var else _literal_key(a) for a in inputs)
            if equation.primitive.commutative:
                # x*y and y*x share one equation (the product rule writes both). Ordered by hash: equal keys
                # always land in the same order; a hash tie between different keys only misses a share.
                input_keys = tuple(sorted(input_keys, key=hash))
            key = (equation.primitive, params_key, input_keys)
        if key is not None and key in seen:
            for old, new in zip(equation.outputs, seen[key]):
                replacement[old] = new
            continue
        new_equation = Equation(equation.primitive, inputs, equation.params, equation.outputs)
        if key is not None:
            seen[key] = equation.outputs
        equations.append(new_equation)
    return Graph(graph.invars, equations, [resolve(v) for v in graph.outvars], graph.in_tree, graph.out_tree)


def use_counts(graph):
    """How many times each variable is read: by equations, and once more for each place among the outputs."""
    uses = {}
    for equation in graph.equations:
        for atom in equation.inputs:
            if type(atom) is Var:
                uses[atom] = uses.get(atom, 0) + 1
    for atom in graph.outvars:
        if type(atom) is Var:
            uses[atom] = uses.get(atom, 0) + 1
    return uses


def eliminate_dead_code(graph):
    """Drop equations none of whose outputs reach the graph's outputs.

    >>> import chainrule as cr, chainrule.numpy as np
    >>> def f(x):
    ...     unused = np.cos(x)
    ...     return np.sin(x)
    >>> [e.primitive.name for e in eliminate_dead_code(cr.make_graph(f, simplify=False)(1.0)).equations]
    ['sin']
    """
    live = {v for v in graph.outvars if isinstance(v, Var)}
    kept = []
    for equation in reversed(graph.equations):
        outputs = equation.outputs
        if outputs[0] in live if len(outputs) == 1 else any(v in live for v in outputs):
            kept.append(equation)
            live.update(a for a in equation.inputs if type(a) is Var)
    kept.reverse()
    return Graph(graph.invars, kept, graph.outvars, graph.in_tree, graph.out_tree)


def inline_calls(graph):
    """``graph`` with every call primitive (custom rules, checkpoint) replaced by the equations of the
    function it calls: what exporters show and what sparsity analysis reads.

    >>> import chainrule as cr, chainrule.numpy as np
    >>> block = cr.checkpoint(lambda x: np.sin(x) * 2.0)
    >>> graph = cr.make_graph(lambda x: block(x) + 1.0)(0.5)
    >>> [e.primitive.name for e in graph.equations]
    ['checkpoint_call', 'add']
    >>> [e.primitive.name for e in inline_calls(graph).equations]
    ['sin', 'mul', 'add']
    """
    if not any(e.primitive.calls_function for e in graph.equations):
        return graph
    alias = {}

    def resolve(atom):
        return alias.get(atom, atom) if isinstance(atom, Var) else atom

    equations = []
    for equation in graph.equations:
        inputs = [resolve(a) for a in equation.inputs]
        if not equation.primitive.calls_function:
            equations.append(Equation(equation.primitive, inputs, equation.params, equation.outputs))
            continue
        primitive, params = equation.primitive, equation.params
        inner = inline_calls(make_graph(lambda *leaves: list(primitive.impl(*leaves, **params)), simplify=False)(
            *[a.aval for a in inputs]))
        inner_alias = dict(zip(inner.invars, inputs))

        def resolve_inner(atom):
            return inner_alias.get(atom, atom) if isinstance(atom, Var) else atom

        for inner_equation in inner.equations:
            equations.append(Equation(inner_equation.primitive, [resolve_inner(a) for a in inner_equation.inputs],
                                      inner_equation.params, inner_equation.outputs))
        for output, inner_output in zip(equation.outputs, inner.outvars):
            alias[output] = resolve_inner(inner_output)
    return Graph(graph.invars, equations, [resolve(v) for v in graph.outvars], graph.in_tree, graph.out_tree)
