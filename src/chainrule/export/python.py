"""Readable NumPy source for a staged function or derivative (``to_python``): straight-line, one
statement per equation, names v_i following the trace; a table keyed by primitive writes each line."""
import ast
import builtins
import functools
import inspect
import itertools
import textwrap
import types
import weakref

import numpy as np

from ..core.graph import Equation, Graph, Literal, Var, eliminate_dead_code, use_counts
from ..core.tree import tree_flatten, tree_unflatten
from ..ops import (arithmetic, comparison, contraction, control, decompositions, elementwise, fft, indexing, linalg,
                   reduction, special, structure)
from .staging import number_variables, stage


def _call(function):
    return lambda args, params: f"{function}({', '.join(args)})"


def _infix(operator):
    def row(args, params):
        return f"{args[0]} {operator} {args[1]}"
    row.broadcasts = True
    return row


def _dtype(dtype):
    return f"np.{np.dtype(dtype).name}"


def _axes(axes):
    return repr(tuple(int(a) for a in axes))


def _index_code(template, arrays, expression=False):
    """The NumPy index of an IndexTemplate, with its integer-array slots filled by ``arrays``: subscript syntax
    (``a[1:, v]``), or with ``expression`` a tuple expression (``(slice(1, None, None), v)``, for np.add.at)."""
    parts = []
    for entry in template:
        kind = entry[0]
        if kind == "slice" and expression:
            parts.append(f"slice({entry[1]!r}, {entry[2]!r}, {entry[3]!r})")
        elif kind == "slice":
            start, stop, step = ("" if v is None else str(v) for v in entry[1:])
            parts.append(f"{start}:{stop}" + (f":{step}" if step else ""))
        elif kind == "int":
            parts.append(str(entry[1]))
        elif kind == "none":
            parts.append("None")
        elif kind == "ellipsis":
            parts.append("...")
        else:
            parts.append(arrays[entry[1]])
    return ", ".join(parts) + ("," if len(parts) == 1 else "")


def _cumsum(args, params):
    axis = params["axis"]
    if params["reverse"]:
        return f"np.flip(np.cumsum(np.flip({args[0]}, {axis}), axis={axis}), {axis})"
    return f"np.cumsum({args[0]}, axis={axis})"


def _ufunc(primitive):
    """The row of a primitive whose implementation is a NumPy ufunc: a call of that ufunc (read from the impl
    when the code is written, so a changed impl is refused, not silently restated)."""
    def row(args, params):
        if not isinstance(primitive.impl, np.ufunc) or params:
            raise NotImplementedError(f"to_python: {primitive.name!r} is written as a NumPy ufunc call, but its "
                                      f"impl is {primitive.impl!r}; give it a row in chainrule.export.python.CODE")
        return f"np.{primitive.impl.__name__}({', '.join(args)})"
    row.broadcasts = True
    return row


def _numpy_function(primitive):
    """The row of a primitive whose implementation is a NumPy function (np.linalg.det, np.real, ...)."""
    def row(args, params):
        module = getattr(primitive.impl, "__module__", None) or ""
        if module.split(".")[0] != "numpy" or params:
            raise NotImplementedError(f"to_python: {primitive.name!r} is written as a NumPy function call, but its "
                                      f"impl is {primitive.impl!r}; give it a row in chainrule.export.python.CODE")
        return f"np{module[len('numpy'):]}.{primitive.impl.__name__}({', '.join(args)})"
    return row


def _copied(primitive):
    """The row of a primitive whose implementation does more than one NumPy call (symmetrizes, fixes a gauge,
    loops over a stack): the generated code calls that implementation, its source copied into the module
    (see ``implementation_source``), so that the two cannot differ."""
    def row(args, params):
        name, _ = implementation_source(primitive)
        return f"{name}({', '.join(list(args) + [f'{key}={value!r}' for key, value in params.items()])})"
    row.copies = primitive
    return row


# Each row: (args, params) -> expression; "statements" rows return a list of lines using {out}. Keyed by the
# primitive; tests/export/test_to_python.py checks that every primitive of chainrule.ops has a row (or is in
# REFUSED) and that each row agrees with the primitive's impl.
CODE = {
    **{primitive: _ufunc(primitive) for primitive in (
        elementwise.sin, elementwise.cos, elementwise.tan, elementwise.arcsin, elementwise.arccos,
        elementwise.arctan, elementwise.sinh, elementwise.cosh, elementwise.tanh, elementwise.arcsinh,
        elementwise.arccosh, elementwise.arctanh, elementwise.exp, elementwise.exp2, elementwise.expm1,
        elementwise.log, elementwise.log2, elementwise.log10, elementwise.log1p, elementwise.sqrt,
        elementwise.cbrt, elementwise.absolute, elementwise.sign, elementwise.floor, elementwise.ceil,
        elementwise.rint, elementwise.trunc, elementwise.conj, arithmetic.maximum, arithmetic.minimum,
        arithmetic.logaddexp, arithmetic.hypot, arithmetic.mod, arithmetic.fmod, arithmetic.floor_divide,
        arithmetic.atan2, arithmetic.power, comparison.isnan, comparison.isinf, comparison.isfinite,
        comparison.logical_and, comparison.logical_or, comparison.logical_xor, comparison.logical_not)},
    **{primitive: _numpy_function(primitive) for primitive in (
        elementwise.sinc, elementwise.real, elementwise.imag, linalg.inv, linalg.det)},
    arithmetic.add: _infix("+"), arithmetic.sub: _infix("-"), arithmetic.mul: _infix("*"),
    arithmetic.div: _infix("/"),
    arithmetic.neg: lambda args, params: f"-{args[0]}",
    special.erf: _call("scipy.special.erf"), special.erfc: _call("scipy.special.erfc"),
    special.erfcx: _call("scipy.special.erfcx"), special.erfinv: _call("scipy.special.erfinv"),
    special.ndtri: _call("scipy.special.ndtri"),
    special.gamma: _call("scipy.special.gamma"), special.gammaln: _call("scipy.special.gammaln"),
    # zeta, gammainc, gammaincc, betainc, xlogy, xlog1py, polygamma and the Bessel functions have no row: SciPy
    # answers some float32 calls of theirs in float64, so their implementations (which keep the inputs'
    # precision) are copied.
    comparison.lt: _infix("<"), comparison.le: _infix("<="), comparison.gt: _infix(">"),
    comparison.ge: _infix(">="), comparison.eq: _infix("=="), comparison.ne: _infix("!="),
    elementwise.round_: lambda args, params: f"np.round({args[0]}, {params['decimals']})",
    comparison.select: _call("np.where"),
    control.stop_gradient: lambda args, params: args[0],
    structure.convert_element_type: lambda args, params: (
        f"np.asarray({args[0]}).astype({_dtype(params['dtype'])})"),
    structure.reshape: lambda args, params: f"np.reshape({args[0]}, {tuple(params['new_shape'])!r})",
    structure.transpose: lambda args, params: f"np.transpose({args[0]}, {tuple(params['permutation'])!r})",
    structure.broadcast_to_primitive: lambda args, params: (
        f"np.broadcast_to({args[0]}, {tuple(params['shape'])!r})"),
    structure.rev: lambda args, params: f"np.flip({args[0]}, {_axes(params['axes'])})",
    structure.concatenate: lambda args, params: f"np.concatenate(({', '.join(args)},), axis={params['axis']})",
    reduction.reduce_sum: lambda args, params: f"np.sum({args[0]}, axis={_axes(params['axes'])})",
    reduction.reduce_prod: lambda args, params: f"np.prod({args[0]}, axis={_axes(params['axes'])})",
    reduction.reduce_max: lambda args, params: f"np.max({args[0]}, axis={_axes(params['axes'])})",
    reduction.reduce_min: lambda args, params: f"np.min({args[0]}, axis={_axes(params['axes'])})",
    reduction.argmax: lambda args, params: f"np.argmax({args[0]}, axis={params['axis']})",
    reduction.argmin: lambda args, params: f"np.argmin({args[0]}, axis={params['axis']})",
    reduction.argsort: lambda args, params: (
        f"np.argsort({args[0]}, axis={params['axis']}, kind={params['kind']!r})"),
    reduction.argpartition: lambda args, params: (
        f"np.argpartition({args[0]}, {params['kth']!r}, axis={params['axis']})"),
    reduction.cumsum: _cumsum,
    contraction.contract: lambda args, params: (  # optimize: BLAS for products
        f"np.einsum({params['spec']!r}, {args[0]}, {args[1]}, optimize=True)"),
    indexing.gather: lambda args, params: f"np.asarray({args[0]})[{_index_code(params['template'], args[1:])}]",
    indexing.scatter_add: lambda args, params: [
        f"{{out}} = np.zeros({tuple(params['shape'])!r}, dtype=np.result_type({args[0]}))",
        f"np.add.at({{out}}, ({_index_code(params['template'], args[1:], expression=True)}), {args[0]})"
        if params["template"].has_arrays else f"{{out}}[{_index_code(params['template'], args[1:])}] = {args[0]}"],
    indexing.scatter: lambda args, params: [
        f"{{out}} = np.array({args[0]}, dtype=np.result_type({args[0]}, {args[1]}), copy=True)",
        f"{{out}}[{_index_code(params['template'], args[2:])}] = {args[1]}"],
    linalg.solve: _call("np.linalg.solve"),
    fft.fft: lambda args, params: (f"np.fft.{params['kind']}n({args[0]}, s={tuple(params['lengths'])!r}, "
                                   f"axes={tuple(range(-len(params['lengths']), 0))!r})"),
    # The implementation itself, copied: these symmetrize their input (cholesky, eigh), fix a gauge (svd, eig),
    # loop over stacks of matrices, or are plain NumPy/SciPy algorithms (the shape-parameter derivatives).
    **{primitive: _copied(primitive) for primitive in (
        linalg.cholesky, linalg.eigh, linalg.slogdet, linalg.triangular_solve, decompositions.svd,
        decompositions.eig, decompositions.qr, decompositions.lu, decompositions.lu_pivots_to_permutation,
        decompositions.sylvester, decompositions.sqrtm, decompositions.expm, special.gammainc_derivative_a,
        special.betainc_derivative_a, special.betainc_derivative_b)},
}

def _staged_bodies(primitive):
    """Loops and branches: each staged body becomes a nested function of the generated code (made by a local
    factory, so that its names stay its own), run by the primitive's runtime helper in chainrule.ops.loops."""
    def row(args, params):
        lines, bodies = ["import chainrule.ops.loops as _loops"], {}
        for key, value in params.items():
            graphs = value if isinstance(value, tuple) else (value,)
            if not all(isinstance(graph, Graph) for graph in graphs):
                continue
            bodies[key] = []
            for graph in graphs:
                name = f"_body{next(_BODY_NUMBERS)}"
                source = to_python(graph, *[var.aval for var in graph.invars], name=name)
                lines += [f"def _make{name}():"] + ["    " + line.replace("{", "{{").replace("}", "}}")
                                                    for line in source.splitlines()]
                lines += [f"    return {name}", f"{name} = _loops.on_list(_make{name}())"]
                bodies[key].append(name)
        return lines + ["{out}, = " + control.RUNTIME_CODE[primitive](bodies, args, params)]
    return row


_BODY_NUMBERS = itertools.count(1)
CODE.update({primitive: _staged_bodies(primitive) for primitive in control.RUNTIME_CODE})

# Primitives that cannot be written as plain NumPy, keyed by primitive, with the reason (none at present: call
# primitives, which run a user function, are inlined before generation).
REFUSED = {}

# Primitives of the layers above chainrule.ops whose parameters hold Python objects that no source can spell
# (odeint's problem: the user's func and the solver's options). The layer that defines one registers it here; the
# generated code calls the primitive itself (on arrays: its implementation), with the primitive and those objects
# bound by reference when compiled (compile=True, jit).
OPAQUE_CALLS = weakref.WeakSet()
# Reverse mode twice through a while loop inside jit: its graphs are parameters, and it unrolls when it runs.
OPAQUE_CALLS.add(control.while_loop_vjp_transpose)
# What generated code calls in place of an opaque primitive, where its layer has a faster route for code that is
# compiled once (odeint: the solve as machine code); the function answers as the primitive does.
STAGED_RUNNERS = weakref.WeakKeyDictionary()


def _opaque_call(primitive):
    def row(args, params, bind):
        keywords = [f"{key}={value!r}" if value is None or isinstance(value, (bool, int, float, str)) else
                    f"{key}={bind(value)}" for key, value in params.items()]
        call = f"{bind(STAGED_RUNNERS.get(primitive, primitive))}({', '.join(list(args) + keywords)})"
        return ["{out}, = " + call] if primitive.multiple_results else call
    row.binds_objects = True
    return row


_COPIED_BY_DEFAULT = weakref.WeakKeyDictionary()  # primitive -> its copied-implementation row, made once


def row_of(primitive):
    """The row that writes ``primitive``: its entry in CODE, or else its own implementation copied (exact by
    construction, so a new primitive defined with ``def`` needs no row); a refusal naming it otherwise."""
    row = CODE.get(primitive) or _COPIED_BY_DEFAULT.get(primitive)
    if row is None and primitive in OPAQUE_CALLS:
        row = _COPIED_BY_DEFAULT[primitive] = _opaque_call(primitive)
    if row is not None:
        return row
    reason = REFUSED.get(primitive)
    if reason is None:
        try:
            implementation_source(primitive)
        except (NotImplementedError, OSError, TypeError) as error:
            reason = f"it has no row in chainrule.export.python.CODE and its implementation cannot be copied ({error})"
        else:
            row = _COPIED_BY_DEFAULT[primitive] = _copied(primitive)
            return row
    raise NotImplementedError(f"to_python: the primitive {primitive.name!r} cannot be written as NumPy source: "
                              f"{reason}")


# ------------------------------------------------------------------------------ copied implementations

@functools.lru_cache(maxsize=None)
def implementation_source(primitive):
    """(name, functions) for a primitive whose implementation is copied into generated code: the name to call
    and, in order, (name, source lines) of the implementation and of every module-level function or constant
    of chainrule it uses (implementations copied this way are defined with ``def``).

    >>> from chainrule.ops import linalg
    >>> name, functions = implementation_source(linalg.cholesky)
    >>> name, [n for n, _ in functions]
    ('_cholesky_impl', ['_cholesky_impl', '_symmetrized'])
    """
    functions = []
    seen = {}

    def visit(function, name):
        if name in seen:
            if seen[name] is not function:
                raise NotImplementedError(f"to_python: the implementation of {primitive.name!r} uses two different "
                                          f"functions named {name}; rename one of them in chainrule.ops")
            return
        seen[name] = function
        lines = _function_lines(function, name)
        functions.append((name, lines))
        tree = ast.parse("\n".join(lines))
        bound = _bound_names(tree)
        used = {node.id for node in ast.walk(tree) if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load)}
        namespace = function.__globals__
        for used_name in sorted(used - bound):
            if used_name not in namespace:
                if not hasattr(builtins, used_name):
                    raise NotImplementedError(f"to_python: the implementation of {primitive.name!r} uses "
                                              f"{used_name}, which it does not define")
                continue
            value = namespace[used_name]
            if isinstance(value, types.ModuleType):
                if value is np and used_name == "np":
                    continue
                statement = (f"import {value.__name__}" if used_name == value.__name__ else
                             f"import {value.__name__} as {used_name}")
                _add_constant(used_name, [statement])
            elif isinstance(value, types.FunctionType) and value.__module__.startswith("chainrule."):
                visit(value, used_name)
            elif isinstance(value, (bool, int, float, complex, str)):
                _add_constant(used_name, [f"{used_name} = {value!r}"])
            else:
                raise NotImplementedError(f"to_python: the implementation of {primitive.name!r} uses {used_name} "
                                          f"({type(value).__name__}), which has no plain NumPy source")

    def _add_constant(name, lines):
        if name not in seen:
            seen[name] = lines
            functions.append((name, lines))

    name = primitive.impl.__name__
    visit(primitive.impl, name)
    return name, tuple((n, tuple(lines)) for n, lines in functions)


def _function_lines(function, name):
    """The source lines of a module-level function defined with ``def``."""
    if function.__name__ == "<lambda>":
        raise NotImplementedError(f"to_python: the implementation {name} is a lambda, whose source cannot be copied "
                                  f"reliably; define it with def in chainrule.ops")
    return textwrap.dedent(inspect.getsource(function)).splitlines()


def _bound_names(tree):
    """Names a function binds itself (parameters, assignments, imports, loop and comprehension variables)."""
    bound = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.arg):
            bound.add(node.arg)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del)):
            bound.add(node.id)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            bound.update((alias.asname or alias.name).split(".")[0] for alias in node.names)
        elif isinstance(node, ast.FunctionDef):
            bound.add(node.name)
    return bound


class _Name:
    """A placeholder whose repr is a variable name, to write pytrees of names as Python source."""

    def __init__(self, name):
        self.name = name

    def __repr__(self):
        return self.name


def _literal_code(value, typed=False):
    """A literal as source: a number as Python writes it, or, where NumPy's type of it matters (a float32
    literal; or, with ``typed``, a NumPy scalar that raises the precision of the equation's result, which a
    Python number, taken as weakly typed, would not), wrapped in its NumPy type."""
    array = np.asarray(value)
    if array.ndim == 0:
        item = array.item()
        is_numpy = isinstance(value, (np.generic, np.ndarray))
        if isinstance(item, float) and not np.isfinite(item):
            code = "np.nan" if np.isnan(item) else ("np.inf" if item > 0 else "-np.inf")
            return f"{_dtype(array.dtype)}({code})" if is_numpy and (typed or array.dtype != np.float64) else code
        if is_numpy and array.dtype.kind in "fciub" and (typed or (array.dtype != np.float64 and
                                                                   array.dtype.kind in "fc")):
            return f"{_dtype(array.dtype)}({item!r})"
        return repr(item)
    return _array_code(array)


def _promoting_literals(equation):
    """The NumPy-scalar literals of the equation that raise the precision its variables alone would compute
    in (float32 array times np.float64(2.0) is float64 in NumPy 2, float32 times 2.0 is float32)."""
    variables = [a.aval.dtype for a in equation.inputs if isinstance(a, Var)]
    if not variables or len(variables) == len(equation.inputs):
        return ()
    alone = np.result_type(*variables)
    return tuple(a for a in equation.inputs if isinstance(a, Literal) and isinstance(a.value, (np.generic, np.ndarray))
                 and np.ndim(a.value) == 0 and np.result_type(alone, np.asarray(a.value).dtype) != alone)


def _bound_description(value):
    """One line (it is written in a comment) naming a bound object."""
    if isinstance(value, np.ndarray):
        return f"{value.dtype} array of shape {value.shape}"
    text = repr(value).splitlines()
    return f"{type(value).__name__} {text[0] if text else ''}{' ...' if len(text) > 1 else ''}"


def _is_uniform(array):
    flat = array.reshape(-1)
    return bool(flat.size and np.all(flat == flat[0]) and np.isfinite(flat[0]))


def _array_code(array):
    """Source that builds ``array``: ``np.full`` when every element is the same (broadcast seeds and
    constants of derivative graphs), the elements otherwise."""
    if _is_uniform(array):
        return f"np.full({array.shape!r}, {array.reshape(-1)[0].item()!r}, dtype={_dtype(array.dtype)})"
    return f"np.array({array.tolist()!r}, dtype={_dtype(array.dtype)})"


def _unpack_lines(parameter, structure, path=""):
    """Assignments that take the leaves out of a pytree argument (tuples, lists, dicts)."""
    if isinstance(structure, _Name):
        return [f"{structure.name} = {parameter}{path}"]
    lines = []
    items = structure.items() if isinstance(structure, dict) else enumerate(structure)
    for key, child in items:
        lines += _unpack_lines(parameter, child, f"{path}[{key!r}]")
    return lines


def _without_needless_broadcasts(graph):
    """The graph with ``broadcast_to(x)`` replaced by ``x`` wherever it feeds an operation written as a NumPy
    operator or ufunc (which broadcasts by itself) whose result keeps its shape without it: staging broadcasts
    operands to a common shape, and each explicit ``np.broadcast_to`` costs microseconds in generated code.
    Only among operands of one dtype, so that no promotion changes either."""
    sources = {}
    for equation in graph.equations:
        if equation.primitive is structure.broadcast_to_primitive and isinstance(equation.inputs[0], Var):
            sources[equation.outputs[0]] = equation.inputs[0]
    if not sources:
        return graph
    equations = []
    for equation in graph.equations:
        inputs = list(equation.inputs)
        if any(a in sources for a in inputs if type(a) is Var) and \
                getattr(CODE.get(equation.primitive), "broadcasts", False) and not equation.primitive.multiple_results:
            shape = equation.outputs[0].aval.shape
            if len({np.dtype(_atom_aval(a).dtype) for a in inputs}) == 1:
                for position, atom in enumerate(inputs):
                    source = sources.get(atom) if type(atom) is Var else None
                    if source is None:
                        continue
                    trial = inputs[:position] + [source] + inputs[position + 1:]
                    if tuple(np.broadcast_shapes(*(_atom_aval(a).shape for a in trial))) == tuple(shape):
                        inputs = trial
            equation = Equation(equation.primitive, inputs, equation.params, equation.outputs)
        equations.append(equation)
    return eliminate_dead_code(Graph(graph.invars, equations, graph.outvars, graph.in_tree, graph.out_tree))


def _scalings_folded(graph):
    """The graph with ``s * (C * x)`` written ``(s*C) * x`` where s is a power of two and C a constant array
    (tangent seeds times a weight, in compressed Jacobians): one pass over the data instead of two, and the
    same bits, since scaling by a power of two is exact (kept only where s*C stays finite and normal)."""
    uses = use_counts(graph)  # a product that is also an output is read twice: not folded
    products = {}  # output of C * x used once -> (C, x)
    equations = []
    changed = False
    for equation in graph.equations:
        if equation.primitive is arithmetic.mul:
            scale, other = _split_literal(equation.inputs, scalar=True)
            if scale is not None and other in products and _exact_scale(scale) and \
                    equation.outputs[0].aval.dtype == other.aval.dtype:  # no promotion by the scale
                constant, operand = products[other]
                with np.errstate(over="ignore", under="ignore"):  # a trial: overflowed results are not used
                    folded = np.asarray(constant * scale, dtype=np.asarray(constant).dtype)
                if _stays_exact(constant, folded):
                    equation = Equation(arithmetic.mul, [Literal(folded), operand], equation.params,
                                        equation.outputs)
                    changed = True
            constant, operand = _split_literal(equation.inputs, scalar=False)
            if constant is not None and uses.get(equation.outputs[0]) == 1 and \
                    len({np.asarray(constant).dtype, operand.aval.dtype, equation.outputs[0].aval.dtype}) == 1:
                products[equation.outputs[0]] = (constant, operand)
        equations.append(equation)
    if not changed:
        return graph
    return eliminate_dead_code(Graph(graph.invars, equations, graph.outvars, graph.in_tree, graph.out_tree))


def _shared_windows(graph):
    """The graph with ``f(b[s1]), f(b[s2]), ...`` (one elementwise ``f`` of several slices of one array ``b``)
    written ``y = f(b)`` and ``y[s1], y[s2], ...`` where the slices together cover at least ``b``'s size: a
    stencil's ``sin(u[:-2]) + sin(u[1:-1]) + sin(u[2:])`` (and the derivative's cosines) evaluates each
    function once per element instead of once per window. The same values: an elementwise function of an
    element does not depend on the window it was read in."""
    windows = {}  # output of a gather by slices only -> (its source Var, its template)
    groups = {}  # (primitive, params, source) -> equations applying it to windows of the source
    for equation in graph.equations:
        primitive = equation.primitive
        if primitive is indexing.gather and len(equation.inputs) == 1 and type(equation.inputs[0]) is Var and \
                all(entry[0] == "slice" for entry in equation.params["template"]):
            windows[equation.outputs[0]] = (equation.inputs[0], equation.params["template"])
        elif primitive.elementwise and not primitive.multiple_results and len(equation.inputs) == 1 and \
                equation.inputs[0] in windows:
            params = _hashable_params(equation.params)
            if params is not None:
                source = windows[equation.inputs[0]][0]
                groups.setdefault((primitive, params, source), []).append(equation)
    whole_before = {}  # first member of a group -> the equation applying the function to the whole array
    as_window = {}  # every member -> (that equation's output, the member's window)
    for (primitive, _, source), members in groups.items():
        covered = sum(member.outputs[0].aval.size for member in members)
        if len(members) >= 2 and covered >= source.aval.size:
            whole = Var(primitive.shape_rule(source.aval, **members[0].params))
            whole_before[members[0]] = Equation(primitive, [source], members[0].params, [whole])
            for member in members:
                as_window[member] = (whole, windows[member.inputs[0]][1])
    if not as_window:
        return graph
    equations = []
    for equation in graph.equations:
        if equation in whole_before:
            equations.append(whole_before[equation])
        if equation in as_window:
            whole, template = as_window[equation]
            equation = Equation(indexing.gather, [whole], {"template": template}, equation.outputs)
        equations.append(equation)
    return eliminate_dead_code(Graph(graph.invars, equations, graph.outvars, graph.in_tree, graph.out_tree))


def _hashable_params(params):
    items = tuple(params.items())
    try:
        hash(items)
    except TypeError:
        return None
    return items


def _split_literal(inputs, scalar):
    """(the literal's value, the Var) of a two-input equation with one literal (0-d with ``scalar``, an array
    without), else (None, None)."""
    if len(inputs) != 2:
        return None, None
    for literal, var in (inputs, inputs[::-1]):
        if isinstance(literal, Literal) and type(var) is Var and (np.ndim(literal.value) == 0) == scalar:
            return literal.value, var
    return None, None


def _exact_scale(value):
    """Whether multiplying by ``value`` is exact: a real power of two."""
    value = np.asarray(value)
    return value.dtype.kind == "f" and bool(np.isfinite(value)) and value != 0 and \
        abs(float(np.frexp(value)[0])) == 0.5


def _stays_exact(constant, folded):
    """Whether the scaled constant neither overflowed nor became subnormal (where scaling would round)."""
    constant, folded = np.asarray(constant), np.asarray(folded)
    if folded.dtype.kind != "f":
        return False
    tiny = np.finfo(folded.dtype).tiny
    nonzero = constant != 0
    return bool(np.all(np.isfinite(folded) | ~np.isfinite(constant)) and
                np.all(np.abs(folded[nonzero & np.isfinite(constant)]) >= tiny))


def _atom_aval(atom):
    """An atom's shape and dtype: a Var's aval, or a literal's as an array."""
    return atom.aval if isinstance(atom, Var) else np.asarray(atom.value)


def to_python(function, *example_args, name=None, compile=False):
    """NumPy source of ``function`` (e.g. ``cr.grad(f)``) staged at ``example_args``: a plain function,
    one statement per equation, that needs no chainrule. ``compile=True`` returns the function itself.

    >>> import chainrule as cr, chainrule.numpy as np
    >>> source = to_python(cr.grad(lambda x: np.sin(x) * x), 1.0, name="grad_f")
    >>> print(chr(10).join(source.splitlines()[:4]))
    import numpy as np
    <BLANKLINE>
    <BLANKLINE>
    def grad_f(x):
    >>> "np.cos(x)" in source and "chainrule" not in source
    True
    >>> float(to_python(cr.grad(lambda x: np.sin(x) * x), 1.0, compile=True)(0.5)) == float(
    ...     cr.grad(lambda x: np.sin(x) * x)(0.5))
    True
    """
    graph, names, _ = stage(function, example_args)
    graph = _scalings_folded(_without_needless_broadcasts(_shared_windows(graph)))
    numbers = number_variables(graph)
    function_name = name or "_".join(filter(None, [getattr(function, "__name__", "function").replace(
        "<lambda>", "f").replace("make_graph_", "")])) or "f"
    if not function_name.isidentifier():
        function_name = "f"
    taken = set()
    var_names = {}
    for var, input_name in zip(graph.invars, names):
        candidate = input_name if input_name.isidentifier() and not input_name.startswith("v") else \
            f"x{len(taken) + 1}"
        while candidate in taken or candidate == "np":
            candidate += "_"
        var_names[var] = candidate
        taken.add(candidate)
    for equation in graph.equations:
        for var in equation.outputs:
            var_names[var] = f"v{numbers[var]}"

    constants = {}  # array literals, hoisted to module level so each call does not rebuild them
    bound = {}  # compile=True: arrays other than a repeated value are bound by reference, not written out

    def atom_code(atom, promotes=False):
        if isinstance(atom, Var):
            return var_names[atom]
        if np.ndim(atom.value) == 0:
            return _literal_code(atom.value, typed=promotes)
        array = np.asarray(atom.value)
        key = ("bound", id(atom.value)) if compile and not _is_uniform(array) else _array_code(array)
        if key not in constants:
            constants[key] = f"c{len(constants) + 1}"
            if compile and isinstance(key, tuple):
                bound[constants[key]] = array
        return constants[key]

    def bind_object(value):  # a Python object an OPAQUE_CALLS row passes: bound by reference, never written out
        key = ("object", id(value))
        if key not in constants:
            constants[key] = f"c{len(constants) + 1}"
            bound[constants[key]] = value
        return constants[key]

    # Free each intermediate after its last use, so large arrays are released (and their memory reused)
    # as in eager NumPy code, instead of all living until the return.
    last_use = {}
    for position, equation in enumerate(graph.equations):
        for atom in equation.inputs:
            if isinstance(atom, Var):
                last_use[atom] = position
    returned_vars = {v for v in graph.outvars if isinstance(v, Var)}
    body = []
    modules = set()
    helpers = {}  # name -> source lines of the copied implementations and what they use
    for position, equation in enumerate(graph.equations):
        primitive = equation.primitive
        row = row_of(primitive)
        typed = _promoting_literals(equation)
        arguments = [atom_code(a, any(a is literal for literal in typed)) for a in equation.inputs]
        if getattr(row, "binds_objects", False):
            code = row(arguments, equation.params, bind_object)
        else:
            code = row(arguments, equation.params)
        modules.update(module for module in ("scipy.linalg", "scipy.special") if module + "." in str(code))
        copied = getattr(row, "copies", None)
        if copied is not None:
            for helper, helper_lines in implementation_source(copied)[1]:
                if helpers.setdefault(helper, helper_lines) != helper_lines:
                    raise NotImplementedError(f"to_python: two implementations define {helper} differently; "
                                              f"rename one of them in chainrule.ops")
        targets = ", ".join(var_names[v] for v in equation.outputs)
        if isinstance(code, list):
            body += [line.format(out=targets) for line in code]
        else:
            body.append(f"{targets} = {code}")
        finished = sorted({var_names[a] for a in equation.inputs if isinstance(a, Var) and last_use.get(a) == position
                           and a not in returned_vars and a not in graph.invars})
        if finished:
            body.append(f"del {', '.join(finished)}")

    # Parameters: one per argument; pytree arguments are unpacked into their leaves first.
    arguments = list(example_args)
    parameters, unpacking = [], []
    leaf_names = [var_names[v] for v in graph.invars]
    position = 0
    for index, arg in enumerate(arguments):
        leaves, tree = tree_flatten(arg)
        names_here = leaf_names[position:position + len(leaves)]
        position += len(leaves)
        if tree.node_type is None:  # a single array
            parameters.append(names_here[0])
            continue
        parameter = f"arg{index + 1}"
        parameters.append(parameter)
        try:
            structure = tree_unflatten(tree, [_Name(n) for n in names_here])
            unpacking += _unpack_lines(parameter, structure)
        except (TypeError, AttributeError):
            raise NotImplementedError(f"to_python: argument {index + 1} is a {type(arg).__name__} pytree; only "
                                      f"arrays, tuples, lists and dicts can be unpacked in plain NumPy") from None
    # A constant output keeps its NumPy scalar type (a derivative that is constant, e.g. grad of 3x, is
    # np.float64(3.0) as in eager mode, not the Python float its literal would give).
    outputs = [_Name(f"np.{type(v.value).__name__}({_literal_code(v.value.item())})"
                     if not isinstance(v, Var) and isinstance(v.value, np.generic) else atom_code(v))
               for v in graph.outvars]
    try:
        returned = repr(tree_unflatten(graph.out_tree, outputs)) if graph.out_tree is not None else repr(outputs)
    except (TypeError, AttributeError):
        returned = repr(tuple(outputs))
    copied = list(helpers.values())
    imports = {f"import {module}" for module in modules} | {lines[0] for lines in copied
                                                              if lines[0].startswith("import ")}
    header = ["import numpy as np"] + sorted(imports)
    if constants:
        header += [""] + [f"{name} = {code}" if name not in bound else
                          f"# {name}: {_bound_description(bound[name])}, bound when compiled"
                          for code, name in constants.items()]
    values = [lines[0] for lines in copied if not lines[0].startswith(("import ", "def "))]
    if values:
        header += [""] + values
    for lines in copied:
        if lines[0].startswith("def "):
            header += ["", ""] + list(lines)
    lines = header + ["", "", f"def {function_name}({', '.join(parameters)}):"]
    lines += [f"    {line}" for line in unpacking + body]
    lines.append(f"    return {returned}")
    source = "\n".join(lines)
    if not compile:
        return source
    namespace = dict(bound)
    # The source is generated here from the graph (names, NumPy calls, literals), never from user text.
    exec(builtins.compile(source, f"<chainrule.to_python {function_name}>", "exec"), namespace)  # noqa: S102
    generated = namespace[function_name]
    generated.__source__ = source
    return generated
