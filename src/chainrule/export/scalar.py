"""Scalar code for graphs of tiny arrays: every element a Python float of its own, every operation one Python
expression per element (``math.sin(v3_1)``), straight-line.

A NumPy call costs about half a microsecond whatever the array's size; a Python float operation costs tens of
nanoseconds. For the few-element states of small ODE systems (a pendulum's two, a trebuchet's six), a step
written with floats runs several times faster than the same step written with NumPy. ``to_scalar_python``
writes such code for a staged graph when every value it computes is a float64, int64 or boolean array of at
most ``MAX_ELEMENTS`` elements and every operation is one it knows; otherwise it returns None and the caller
keeps its NumPy code.

Python's float semantics differ from NumPy's where NumPy returns inf or nan with a warning (``1.0 / 0.0``,
``math.log(0.0)``, ``math.exp(1000.0)``, ``math.sin(math.inf)``): Python raises. ``with_fallback`` runs the
scalar code and, on those errors, the NumPy code, which then gives NumPy's values and warnings. Elsewhere the
two agree to rounding: the same IEEE operations, sums of fewer than eight terms in the same order, libm's
functions (NumPy may use its own vectorized ones, within an ulp). Python's integers do not wrap around: an
int64 result out of range raises OverflowError when it is put back into an array, and NumPy answers. What the
scalar code does not repeat are NumPy's warnings for results it computes silently as IEEE arithmetic does
(``1e308 * 10.0`` is inf, ``inf - inf`` is nan, with no RuntimeWarning).
"""
import builtins
import itertools
import math

import numpy as np

from ..core.graph import Literal, Var
from ..core.tree import tree_unflatten
from ..ops import arithmetic, comparison, contraction, control, elementwise, indexing, reduction, structure
from .python import _Name, to_python

# Above this many elements in one computed value, NumPy's per-call cost is repaid: the scalar code is not
# written. Values that are only moved (inputs, stacks, reshapes, slices) cost no statement and may be larger.
MAX_ELEMENTS = 16
MAX_MOVED_ELEMENTS = 1024
# Nor for graphs whose scalar code would exceed this many assignments.
MAX_STATEMENTS = 20_000

_UNARY = {
    elementwise.sin: "_m.sin({0})", elementwise.cos: "_m.cos({0})", elementwise.tan: "_m.tan({0})",
    elementwise.arcsin: "_m.asin({0})", elementwise.arccos: "_m.acos({0})", elementwise.arctan: "_m.atan({0})",
    elementwise.sinh: "_m.sinh({0})", elementwise.cosh: "_m.cosh({0})", elementwise.tanh: "_m.tanh({0})",
    elementwise.arcsinh: "_m.asinh({0})", elementwise.arccosh: "_m.acosh({0})",
    elementwise.arctanh: "_m.atanh({0})", elementwise.exp: "_m.exp({0})", elementwise.expm1: "_m.expm1({0})",
    elementwise.log: "_m.log({0})", elementwise.log1p: "_m.log1p({0})", elementwise.log2: "_m.log2({0})",
    elementwise.log10: "_m.log10({0})", elementwise.sqrt: "_m.sqrt({0})", elementwise.absolute: "abs({0})",
    arithmetic.neg: "(-{0})", control.stop_gradient: "{0}", comparison.logical_not: "(not {0})",
    # of a real value (every value here is float64 or boolean)
    elementwise.real: "{0}", elementwise.conj: "{0}",
}
_BINARY = {
    arithmetic.add: "({0} + {1})", arithmetic.sub: "({0} - {1})", arithmetic.mul: "({0} * {1})",
    arithmetic.div: "({0} / {1})", arithmetic.power: "_m.pow({0}, {1})", arithmetic.atan2: "_m.atan2({0}, {1})",
    arithmetic.hypot: "_m.hypot({0}, {1})",
    # NumPy's maximum and minimum propagate a nan from either side
    arithmetic.maximum: "({0} if {0} >= {1} or {0} != {0} else {1})",
    arithmetic.minimum: "({0} if {0} <= {1} or {0} != {0} else {1})",
    comparison.lt: "({0} < {1})", comparison.le: "({0} <= {1})", comparison.gt: "({0} > {1})",
    comparison.ge: "({0} >= {1})", comparison.eq: "({0} == {1})", comparison.ne: "({0} != {1})",
    # bool(): Python's ``and`` answers an operand (2.0 and 3.0 is 3.0), NumPy's logical_and a boolean
    comparison.logical_and: "bool({0} and {1})", comparison.logical_or: "bool({0} or {1})",
}
_TERNARY = {comparison.select: "({1} if {0} else {2})"}
# Integer results NumPy computes in integers, but these expressions would give floats.
_FLOAT_ONLY = {arithmetic.power, arithmetic.div, arithmetic.atan2, arithmetic.hypot}
# Operations that only move elements (or put zeros): which input element lands where is found by running the
# operation itself on arrays of element numbers.
_MOVING = (structure.reshape, structure.transpose, structure.broadcast_to_primitive, structure.rev, structure.pad,
           structure.concatenate, indexing.gather, indexing.scatter, indexing.scatter_add)
# Of the indexing operations, the operands that are data (the others are indices, which must be constants).
_DATA_OPERANDS = {indexing.gather: (0,), indexing.scatter: (0, 1), indexing.scatter_add: (0,)}
_KINDS = {np.dtype(np.float64): "float", np.dtype(np.int64): "int", np.dtype(np.bool_): "bool"}
_DTYPE_CODE = {"float": "np.float64", "int": "np.int64", "bool": "np.bool_"}


class _Unsupported(Exception):
    """The graph has a value or an operation the scalar code does not write."""


def to_scalar_python(graph, name="scalar"):
    """The graph as a compiled function of NumPy arrays (as the graph's inputs) returning NumPy arrays, with
    Python floats inside; None when the graph is outside what scalar code covers (see the module's docstring)."""
    try:
        source = _source(graph, name)
    except (_Unsupported, TypeError, ValueError, IndexError):
        # _Unsupported: outside what scalar code covers; the others: an operation that would not run on element
        # numbers. Either way the NumPy code stays, which is always right.
        return None
    namespace = {"_m": math, "np": np, "_inf": math.inf, "_nan": math.nan}
    # The source is generated here from the graph (names, operators, math calls, literals), never from user text.
    exec(builtins.compile(source, f"<chainrule.scalar {name}>", "exec"), namespace)  # noqa: S102
    function = namespace[name]
    function.__source__ = source
    return function


def compiled(graph, examples, name):
    """The graph as generated code for the examples' signature: scalar code with the NumPy code as its fallback
    where scalar code can be written (flat examples, tiny values), else the NumPy code alone."""
    vectorized = to_python(graph, *examples, compile=True)
    if any(isinstance(example, (list, tuple, dict)) for example in examples):
        return vectorized  # pytree arguments: the scalar code takes one array per graph input
    scalar = to_scalar_python(graph, name)
    return vectorized if scalar is None else with_fallback(scalar, vectorized)


def with_fallback(scalar, vectorized):
    """``scalar``, or ``vectorized`` for the arguments where Python's float arithmetic raises (a division by
    zero, an overflow, a math domain error: NumPy returns inf or nan there)."""
    def run(*args):
        try:
            return scalar(*args)
        except (ArithmeticError, ValueError):
            return vectorized(*args)
    run.__source__ = getattr(scalar, "__source__", None)
    run.vectorized = vectorized
    return run


def _source(graph, name):
    parameters = [f"x{position}" for position in range(len(graph.invars))]
    elements, lines = statements(graph, _read_python_input)
    returned = [_Name(_output_code(atom, elements)) for atom in graph.outvars]
    try:
        structure_code = repr(tree_unflatten(graph.out_tree, returned)) if graph.out_tree is not None else \
            repr(returned)
    except (TypeError, AttributeError):
        raise _Unsupported("output structure") from None
    body = [f"def {name}({', '.join(parameters)}):"] + [f"    {line}" for line in lines]
    body.append(f"    return {structure_code}")
    return "\n".join(body) + "\n"


def _read_python_input(parameter, var):
    """(lines, element names) that read input ``parameter`` (a NumPy array or scalar) into Python numbers."""
    kind = _KINDS[np.dtype(var.aval.dtype)]
    if var.aval.shape == ():
        return [f"{parameter}_0 = {kind}({parameter})"], [f"{parameter}_0"]
    if _size(var.aval.shape) == 0:
        return [], []
    names = [f"{parameter}_{k}" for k in range(_size(var.aval.shape))]
    reader = f"{parameter}.tolist()" if len(var.aval.shape) == 1 else f"{parameter}.ravel().tolist()"
    return [f"{', '.join(names)}{',' if len(names) == 1 else ''} = {reader}"], names


def statements(graph, read_input, max_elements=MAX_ELEMENTS):
    """(elements, lines): the graph's straight-line scalar statements, one assignment per computed element, and
    each value's element expressions (C order). ``read_input(parameter, var)`` gives the lines and element names
    that read graph input ``var``, passed as ``x<position>``. Raises _Unsupported outside what scalar code
    covers."""
    elements = {}  # Var -> list of element expressions (names or literals), C order
    lines = []
    for position, var in enumerate(graph.invars):
        _check_aval(var.aval, MAX_MOVED_ELEMENTS)
        reading, names = read_input(f"x{position}", var)
        lines += reading
        elements[var] = names
    for number, equation in enumerate(graph.equations):
        if equation.primitive.multiple_results:
            raise _Unsupported(equation.primitive.name)
        out = equation.outputs[0]
        _check_aval(out.aval, MAX_MOVED_ELEMENTS if equation.primitive in _MOVING else max_elements)
        expressions = _element_expressions(equation, [_elements_of(a, elements) for a in equation.inputs])
        names = []
        for k, expression in enumerate(expressions):
            if _is_atom(expression):
                names.append(expression)  # a moved element or a literal: no assignment needed
            else:
                names.append(f"v{number}_{k}")
                lines.append(f"v{number}_{k} = {expression}")
        elements[out] = names
        if len(lines) > MAX_STATEMENTS:
            raise _Unsupported("too long")
    return elements, lines


def _check_aval(aval, limit):
    if np.dtype(aval.dtype) not in _KINDS or _size(aval.shape) > limit:
        raise _Unsupported(str(aval))


def _size(shape):
    return int(np.prod(shape, dtype=np.int64))


def _is_atom(expression):
    return expression.isidentifier() or expression in ("True", "False") or _is_number(expression)


def _is_number(text):
    try:
        float(text)
    except ValueError:
        return False
    return True


def _literal_code(value):
    value = value.item() if isinstance(value, np.generic) else value
    if isinstance(value, (bool, np.bool_)):
        return repr(bool(value))
    if isinstance(value, int):
        return repr(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "_nan"
        if math.isinf(value):
            return "_inf" if value > 0 else "(-_inf)"
        return repr(value)
    raise _Unsupported(type(value).__name__)


def _elements_of(atom, elements):
    """(shape, element expressions) of an input."""
    if isinstance(atom, Var):
        return atom.aval.shape, elements[atom]
    array = np.asarray(atom.value)
    if array.dtype.kind not in "biuf" or array.size > MAX_MOVED_ELEMENTS:
        raise _Unsupported("literal")
    return array.shape, [_literal_code(v) for v in array.ravel().tolist()]


def _element_expressions(equation, inputs):
    primitive = equation.primitive
    out_shape = equation.outputs[0].aval.shape
    template = _UNARY.get(primitive) or _BINARY.get(primitive) or _TERNARY.get(primitive)
    if template is not None and not equation.params:
        if np.dtype(equation.outputs[0].aval.dtype).kind == "i" and primitive in _FLOAT_ONLY:
            raise _Unsupported(f"{primitive.name} of integers")  # math.pow and friends answer floats
        return _elementwise(template, inputs, out_shape)
    if primitive is structure.convert_element_type:
        source_kind = _KINDS.get(np.dtype(equation.inputs[0].aval.dtype)) if isinstance(equation.inputs[0], Var) \
            else None
        target_kind = _KINDS.get(np.dtype(equation.params["dtype"]))
        if source_kind is None or target_kind is None:
            raise _Unsupported("convert")
        wrap = "{0}" if source_kind == target_kind else target_kind + "({0})"
        return [wrap.format(e) for e in inputs[0][1]]
    if primitive is reduction.reduce_sum:
        return _summed(inputs[0], equation.params["axes"])
    if primitive is contraction.contract:
        return _contracted(equation.params["spec"], inputs, out_shape)
    if primitive in _MOVING:
        return _moved(equation, inputs)
    raise _Unsupported(primitive.name)


def _elementwise(template, inputs, out_shape):
    """One expression per output element, each input element picked by NumPy's broadcasting."""
    size = _size(out_shape)
    picks = [np.broadcast_to(np.arange(_size(shape)).reshape(shape), out_shape).ravel().tolist() if shape != out_shape
             else range(size) for shape, _ in inputs]
    return [template.format(*(expressions[pick[k]] for (_, expressions), pick in zip(inputs, picks)))
            for k in range(size)]


def _summed(operand, axes):
    shape, expressions = operand
    numbers = np.arange(_size(shape)).reshape(shape)
    kept = [axis for axis in range(len(shape)) if axis not in axes]
    groups = np.transpose(numbers, kept + list(axes)).reshape(_size([shape[a] for a in kept]), -1)
    sums = []
    for group in groups.tolist():
        terms = [expressions[k] for k in group]
        sums.append("0.0" if not terms else terms[0] if len(terms) == 1 else "(" + " + ".join(terms) + ")")
    return sums


# A contraction writes one product per term: above this many terms in all, NumPy's call is cheaper.
MAX_TERMS = 4096


def _contracted(spec, inputs, out_shape):
    """An einsum (matrix products, dots) as one sum of products per output element, summed in index order."""
    operand_specs, out_spec = spec.replace(" ", "").split("->")
    operand_specs = operand_specs.split(",")
    if "." in spec or len(operand_specs) != len(inputs):
        raise _Unsupported("contract spec")
    sizes = {}
    for letters, (shape, _) in zip(operand_specs, inputs):
        sizes.update(zip(letters, shape))
    summed = sorted(set("".join(operand_specs)) - set(out_spec))
    if _size(out_shape) * _size([sizes[letter] for letter in summed]) > MAX_TERMS:
        raise _Unsupported("contraction too large")
    strides = [np.arange(_size(shape)).reshape(shape) if shape else np.arange(1).reshape(()) for shape, _ in inputs]
    expressions = []
    for out_index in itertools.product(*(range(sizes[letter]) for letter in out_spec)):
        terms = []
        for summed_index in itertools.product(*(range(sizes[letter]) for letter in summed)):
            index = dict(zip(out_spec, out_index)) | dict(zip(summed, summed_index))
            factors = [elements[int(numbers[tuple(index[letter] for letter in letters)])]
                       for letters, numbers, (_, elements) in zip(operand_specs, strides, inputs)]
            terms.append(factors[0] if len(factors) == 1 else "(" + " * ".join(factors) + ")")
        expressions.append("0.0" if not terms else terms[0] if len(terms) == 1 else "(" + " + ".join(terms) + ")")
    return expressions


def _moved(equation, inputs):
    """Run the operation on element numbers (1, 2, ...; integer index operands as they are) and read back which
    element of which input each output element is; 0 is a zero the operation put."""
    zero = {"float": "0.0", "int": "0", "bool": "False"}[_KINDS[np.dtype(equation.outputs[0].aval.dtype)]]
    operands, table = [], [zero]
    data = _DATA_OPERANDS.get(equation.primitive)
    for position, (atom, (shape, expressions)) in enumerate(zip(equation.inputs, inputs)):
        if data is None or position in data:
            operands.append(np.arange(len(table), len(table) + len(expressions), dtype=np.int64).reshape(shape))
            table += expressions
        elif isinstance(atom, Literal) and np.asarray(atom.value).dtype.kind in "iu":
            operands.append(np.asarray(atom.value))  # a constant index
        else:
            raise _Unsupported(f"{equation.primitive.name} with an index computed at run time")
    params = dict(equation.params)
    if equation.primitive is structure.convert_element_type:
        raise _Unsupported("convert")
    numbers = np.asarray(equation.primitive.impl(*operands, **params))
    if numbers.dtype.kind not in "iu" or numbers.shape != tuple(equation.outputs[0].aval.shape):
        raise _Unsupported(equation.primitive.name)
    if equation.primitive is indexing.scatter_add:
        # a place that receives two updates holds their sum, which is no element's: count the updates per place
        counts = equation.primitive.impl(np.ones_like(operands[0]), *operands[1:], **params)
        if np.max(counts, initial=0) > 1:
            raise _Unsupported("scatter_add with repeated indices")
    return [table[k] for k in numbers.ravel().tolist()]


def _output_code(atom, elements):
    if isinstance(atom, Var):
        shape, expressions, kind = atom.aval.shape, elements[atom], _KINDS[np.dtype(atom.aval.dtype)]
    else:
        value = np.asarray(atom.value)
        shape, expressions = value.shape, [_literal_code(v) for v in value.ravel().tolist()]
        kind = {"b": "bool", "i": "int", "u": "int"}.get(value.dtype.kind, "float")
    dtype = _DTYPE_CODE[kind]
    if shape == ():
        return f"{dtype}({expressions[0]})"
    array = f"np.array([{', '.join(expressions)}], dtype={dtype})"
    return array if len(shape) == 1 else f"{array}.reshape({tuple(shape)!r})"
