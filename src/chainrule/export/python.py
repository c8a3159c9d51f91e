"""Readable NumPy source for a staged function or derivative (``to_python``): straight-line, one
statement per equation, names v_i following the trace; a table keyed by primitive writes each line."""
import builtins
import inspect

import numpy as np

from ..core.graph import Var
from ..core.tree import tree_flatten, tree_unflatten
from ..ops import special
from .staging import number_variables, stage


def _call(function):
    return lambda args, params: f"{function}({', '.join(args)})"


def _infix(operator):
    return lambda args, params: f"{args[0]} {operator} {args[1]}"


def _dtype(dtype):
    return f"np.{np.dtype(dtype).name}"


def _axes(axes):
    return repr(tuple(int(a) for a in axes))


def _index_code(template, arrays):
    """The NumPy index of an IndexTemplate, with its integer-array slots filled by ``arrays``."""
    parts = []
    for entry in template:
        kind = entry[0]
        if kind == "slice":
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


# Each row: (args, params) -> expression; "statements" rows return a list of lines using {out}.
CODE = {
    **{name: _call(f"np.{name}") for name in (
        "sin", "cos", "tan", "arcsin", "arccos", "arctan", "sinh", "cosh", "tanh", "arcsinh", "arccosh",
        "arctanh", "exp", "exp2", "expm1", "log", "log2", "log10", "log1p", "sqrt", "cbrt", "abs", "sign",
        "floor", "ceil", "rint", "trunc", "sinc", "maximum", "minimum", "logaddexp", "hypot", "mod", "fmod",
        "floor_divide", "isnan", "isinf", "isfinite", "logical_and", "logical_or", "logical_xor",
        "logical_not")},
    "add": _infix("+"), "sub": _infix("-"), "mul": _infix("*"), "div": _infix("/"),
    "neg": lambda args, params: f"-{args[0]}",
    "pow": _call("np.power"),
    "atan2": _call("np.arctan2"),
    "real": _call("np.real"), "imag": _call("np.imag"), "conj": _call("np.conj"),
    **{name: _call(f"scipy.special.{name}") for name in (
        "erf", "erfc", "erfcx", "erfinv", "gamma", "gammaln", "zeta", "gammainc", "gammaincc", "betainc", "xlogy",
        "xlog1py")},
    **{name: (lambda name: lambda args, params: f"scipy.special.{name}({params['order']!r}, {args[0]})")(name)
       for name in ("polygamma", "jv", "yv", "iv", "ive")},
    "lt": _infix("<"), "le": _infix("<="), "gt": _infix(">"), "ge": _infix(">="), "eq": _infix("=="),
    "ne": _infix("!="),
    "round": lambda args, params: f"np.round({args[0]}, {params['decimals']})",
    "select": _call("np.where"),
    "stop_gradient": lambda args, params: args[0],
    "convert_element_type": lambda args, params: f"np.asarray({args[0]}).astype({_dtype(params['dtype'])})",
    "reshape": lambda args, params: f"np.reshape({args[0]}, {tuple(params['new_shape'])!r})",
    "transpose": lambda args, params: f"np.transpose({args[0]}, {tuple(params['permutation'])!r})",
    "broadcast_to": lambda args, params: f"np.broadcast_to({args[0]}, {tuple(params['shape'])!r})",
    "rev": lambda args, params: f"np.flip({args[0]}, {_axes(params['axes'])})",
    "pad": lambda args, params: f"np.pad({args[0]}, {tuple(tuple(w) for w in params['widths'])!r})",
    "concatenate": lambda args, params: f"np.concatenate(({', '.join(args)},), axis={params['axis']})",
    "reduce_sum": lambda args, params: f"np.sum({args[0]}, axis={_axes(params['axes'])})",
    "reduce_prod": lambda args, params: f"np.prod({args[0]}, axis={_axes(params['axes'])})",
    "reduce_max": lambda args, params: f"np.max({args[0]}, axis={_axes(params['axes'])})",
    "reduce_min": lambda args, params: f"np.min({args[0]}, axis={_axes(params['axes'])})",
    "argmax": lambda args, params: f"np.argmax({args[0]}, axis={params['axis']})",
    "argmin": lambda args, params: f"np.argmin({args[0]}, axis={params['axis']})",
    "argsort": lambda args, params: f"np.argsort({args[0]}, axis={params['axis']}, kind={params['kind']!r})",
    "argpartition": lambda args, params: f"np.argpartition({args[0]}, {params['kth']!r}, axis={params['axis']})",
    "cumsum": _cumsum,
    "contract": lambda args, params: f"np.einsum({params['spec']!r}, {args[0]}, {args[1]}, optimize=True)",  # optimize: BLAS for products
    "gather": lambda args, params: f"np.asarray({args[0]})[{_index_code(params['template'], args[1:])}]",
    "scatter_add": lambda args, params: [
        f"{{out}} = np.zeros({tuple(params['shape'])!r}, dtype=np.result_type({args[0]}))",
        f"np.add.at({{out}}, ({_index_code(params['template'], args[1:])}), {args[0]})"
        if params["template"].has_arrays else f"{{out}}[{_index_code(params['template'], args[1:])}] = {args[0]}"],
    "scatter": lambda args, params: [
        f"{{out}} = np.array({args[0]}, dtype=np.result_type({args[0]}, {args[1]}), copy=True)",
        f"{{out}}[{_index_code(params['template'], args[2:])}] = {args[1]}"],
    "solve": _call("np.linalg.solve"),
    "inv": _call("np.linalg.inv"),
    "det": _call("np.linalg.det"),
    "slogdet": _call("np.linalg.slogdet"),
    "triangular_solve": lambda args, params: (
        f"scipy.linalg.solve_triangular({args[0]}, {args[1]}, lower={params['lower']})"),
    # cholesky and eigh read the symmetric part of their input, as the primitives do.
    "cholesky": lambda args, params: f"np.linalg.cholesky(0.5 * ({args[0]} + np.swapaxes({args[0]}, -1, -2)))",
    "eigh": lambda args, params: f"np.linalg.eigh(0.5 * ({args[0]} + np.swapaxes({args[0]}, -1, -2)))",
    "svd": lambda args, params: f"_svd_s_u_vt(np.linalg.svd({args[0]}, full_matrices=False))",
    "eig": lambda args, params: f"_eig_w_v({args[0]})",
    "qr": lambda args, params: f"np.linalg.qr({args[0]}, mode='reduced')",
    "sylvester": lambda args, params: f"_per_matrix(scipy.linalg.solve_sylvester, {args[0]}, {args[1]}, {args[2]})",
    "sqrtm": lambda args, params: f"_per_matrix(scipy.linalg.sqrtm, {args[0]}).astype(np.result_type({args[0]}, "
                                  f"np.float32))",
    "lu": lambda args, params: f"_lu_packed(scipy.linalg.lu_factor({args[0]}))",
    "expm": _call("scipy.linalg.expm"),
    "lu_pivots_to_permutation": lambda args, params: f"_lu_permutation({args[0]})",
    "fft": lambda args, params: (f"np.fft.{params['kind']}n({args[0]}, s={tuple(params['lengths'])!r}, "
                                 f"axes={tuple(range(-len(params['lengths']), 0))!r})"),
    "gammainc_derivative_a": _call("_gammainc_derivative_a_values"),
    "betainc_derivative_a": lambda args, params: f"_betainc_parameter_derivatives({', '.join(args)})[0]",
    "betainc_derivative_b": lambda args, params: f"_betainc_parameter_derivatives({', '.join(args)})[1]",
}

# Helpers some rows call, written into the generated source when used.
HELPERS = {
    "_svd_s_u_vt": ["def _svd_s_u_vt(factors):",
                    "    # the svd primitive orders its results (s, u, vt); NumPy returns (u, s, vt). Complex: the",
                    "    # primitive's gauge, each column of V with its first largest component real and positive",
                    "    u, s, vt = factors",
                    "    if np.iscomplexobj(u):",
                    "        v = np.conj(np.swapaxes(vt, -1, -2))",
                    "        largest = np.take_along_axis(v, np.argmax(np.abs(v), axis=-2)[..., None, :], axis=-2)",
                    "        safe = np.where(largest == 0, 1.0, largest)",
                    "        phase = np.where(largest == 0, 1.0, np.abs(largest) / safe)",
                    "        u, vt = u * phase, vt * np.conj(np.swapaxes(phase, -1, -2))",
                    "    return s, u, vt"],
    "_eig_w_v": ["def _eig_w_v(a):",
                 "    # the eig primitive is complex, its columns' largest components real (NumPy's gauge)",
                 "    w, v = np.linalg.eig(a)",
                 "    w, v = w.astype(np.result_type(w, np.complex64)), v.astype(np.result_type(v, np.complex64))",
                 "    largest = np.take_along_axis(v, np.argmax(np.abs(v), axis=-2)[..., None, :], axis=-2)",
                 "    phase = np.where(largest == 0, 1.0, np.abs(largest) / np.where(largest == 0, 1.0, largest))",
                 "    return w, v * phase * np.where(largest.real < 0, -1.0, 1.0)"],
    "_per_matrix": ["def _per_matrix(function, *arrays):",
                    "    # matching matrices of stacks, leading axes broadcast",
                    "    arrays = [np.asarray(x) for x in arrays]",
                    "    batch = np.broadcast_shapes(*(x.shape[:-2] for x in arrays))",
                    "    arrays = [np.broadcast_to(x, batch + x.shape[-2:]) for x in arrays]",
                    "    outs = [function(*(x[index] for x in arrays)) for index in np.ndindex(*batch)]",
                    "    return np.stack(outs).reshape(batch + outs[0].shape)"],
    "_lu_packed": ["def _lu_packed(factors):",
                   "    packed, pivots = factors",
                   "    return packed, pivots.astype(np.int32)"],
    "_lu_permutation": ["def _lu_permutation(pivots):",
                        "    # LAPACK's row swaps applied in order: row i of P A is row permutation[i] of A",
                        "    pivots = np.asarray(pivots)",
                        "    permutation = np.array(np.broadcast_to(np.arange(pivots.shape[-1], dtype=np.int32), "
                        "pivots.shape))",
                        "    for index in np.ndindex(*pivots.shape[:-1]):",
                        "        row = permutation[index]",
                        "        for i, p in enumerate(pivots[index]):",
                        "            row[i], row[p] = row[p], row[i]",
                        "    return permutation"],
}

# The shape-parameter derivatives of the incomplete gamma and beta functions are plain NumPy and SciPy
# functions already: their source is copied.
HELPERS.update({function.__name__: inspect.getsource(function).splitlines() for function in (
    special._gammainc_derivative_a_values, special._betainc_parameter_derivatives)})

# Primitives that cannot be written as plain NumPy, with the reason (none at present: call primitives
# are inlined before generation).
REFUSED = {}


class _Name:
    """A placeholder whose repr is a variable name, to write pytrees of names as Python source."""

    def __init__(self, name):
        self.name = name

    def __repr__(self):
        return self.name


def _literal_code(value):
    array = np.asarray(value)
    if array.ndim == 0:
        item = array.item()
        if isinstance(item, float) and not np.isfinite(item):
            return f"np.{'nan' if np.isnan(item) else ('inf' if item > 0 else '-inf')}"
        if isinstance(value, (np.generic, np.ndarray)) and array.dtype != np.float64 and array.dtype.kind in "fc":
            return f"{_dtype(array.dtype)}({item!r})"
        return repr(item)
    return _array_code(array)


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

    def atom_code(atom):
        if isinstance(atom, Var):
            return var_names[atom]
        if np.ndim(atom.value) == 0:
            return _literal_code(atom.value)
        array = np.asarray(atom.value)
        key = ("bound", id(atom.value)) if compile and not _is_uniform(array) else _array_code(array)
        if key not in constants:
            constants[key] = f"c{len(constants) + 1}"
            if compile and isinstance(key, tuple):
                bound[constants[key]] = array
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
    for position, equation in enumerate(graph.equations):
        primitive = equation.primitive
        row = CODE.get(primitive.name)
        if row is None:
            reason = REFUSED.get(primitive.name, "it has no row in chainrule.export.python.CODE")
            raise NotImplementedError(f"to_python: the primitive {primitive.name!r} cannot be written as NumPy "
                                      f"source: {reason}")
        code = row([atom_code(a) for a in equation.inputs], equation.params)
        modules.update(module for module in ("scipy.linalg", "scipy.special") if module + "." in str(code))
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
    outputs = [_Name(atom_code(v)) for v in graph.outvars]
    try:
        returned = repr(tree_unflatten(graph.out_tree, outputs)) if graph.out_tree is not None else repr(outputs)
    except (TypeError, AttributeError):
        returned = repr(tuple(outputs))
    header = ["import numpy as np"] + [f"import {module}" for module in sorted(modules)]
    if constants:
        header += [""] + [f"{name} = {code}" if name not in bound else
                          f"# {name}: {bound[name].dtype} array of shape {bound[name].shape}, bound when compiled"
                          for code, name in constants.items()]
    for helper, helper_lines in HELPERS.items():
        if any(helper + "(" in line for line in body):
            header += ["", ""] + helper_lines
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
