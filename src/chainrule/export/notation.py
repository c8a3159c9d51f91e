"""How the exporters write one equation: operators in infix form (``INFIX``, keyed by primitive) and every
other primitive as ``name(args, key=value)``; and the local partials ∂v_i/∂v_j, staged from the primitive's
own JVP or VJP rule into a small graph and written in that same notation, so text and numbers cannot differ."""
import numpy as np

from ..core.avals import ShapedArray
from ..core.cotangents import dense
from ..core.graph import Literal, Var, eval_graph, make_graph
from ..ops import arithmetic, comparison

# Precedence levels, Python's (higher binds tighter), so that a written expression parses as it reads.
CONDITIONAL, COMPARISON, SUM, PRODUCT, UNARY, POWER, ATOM = 1, 5, 10, 11, 12, 13, 14


class Form:
    """An infix form: a template ({0}, {1}: the operands), its precedence, and the least precedence each
    operand may have without parentheses."""

    __slots__ = ("template", "precedence", "operands")

    def __init__(self, template, precedence, operands):
        self.template = template
        self.precedence = precedence
        self.operands = operands


def _left(template, precedence):
    """A left-associative binary operator: ``a - b - c`` is ``(a - b) - c``; ``a - (b - c)`` keeps its
    parentheses."""
    return Form(template, precedence, (precedence, precedence + 1))


def _comparison(operator):
    # Python chains comparisons (a < b < c), so a comparison never stands bare inside another.
    return Form(f"{{0}} {operator} {{1}}", COMPARISON, (COMPARISON + 1, COMPARISON + 1))


# The primitives written as operators, as the lecture and Python write them. Every other primitive is written
# as a call ``name(args, key=value)`` of its own name (its impl evaluates that call): no entry is missing, the
# call form is the notation for everything without an operator. tests/export/test_notation.py evaluates each
# form with Python's operators against the primitive's impl.
INFIX = {
    arithmetic.add: _left("{0} + {1}", SUM),
    arithmetic.sub: _left("{0} - {1}", SUM),
    arithmetic.mul: _left("{0} * {1}", PRODUCT),
    arithmetic.div: _left("{0} / {1}", PRODUCT),
    arithmetic.neg: Form("-{0}", UNARY, (POWER,)),  # -x ** 2 is -(x ** 2); -(-x) keeps its parentheses
    arithmetic.power: Form("{0} ** {1}", POWER, (ATOM, UNARY)),  # right-associative; x ** -y needs none
    comparison.lt: _comparison("<"),
    comparison.le: _comparison("<="),
    comparison.gt: _comparison(">"),
    comparison.ge: _comparison(">="),
    comparison.eq: _comparison("=="),
    comparison.ne: _comparison("!="),
    comparison.select: Form("{1} if {0} else {2}", CONDITIONAL, (CONDITIONAL + 1, CONDITIONAL + 1, CONDITIONAL)),
}


def show_params(params):
    """Parameters as ``key=value`` text, for the call form ``name(args, key=value)``."""
    shown = []
    for key, value in params.items():
        text = repr(value)
        if len(text) > 40:  # index templates of long gathers, captured rules of custom calls
            text = type(value).__name__
        shown.append(f"{key}={text}")
    return shown


def _operand_precedence(token):
    """The precedence of a single-token operand: names bind like atoms; numbers written with a sign like
    a negation."""
    if isinstance(token, str) and token.lstrip().startswith("-"):
        return UNARY
    return ATOM


def _parenthesized(tokens, precedence, least):
    return ["("] + list(tokens) + [")"] if precedence < least else list(tokens)


def apply_form(primitive, operands, params):
    """(tokens, precedence) of ``primitive`` applied to ``operands``, each (tokens, precedence)."""
    form = INFIX.get(primitive)
    if form is not None and len(operands) == len(form.operands) and not params:
        pieces = {str(k): _parenthesized(tokens, precedence, least)
                  for k, ((tokens, precedence), least) in enumerate(zip(operands, form.operands))}
        out = []
        text = form.template
        while text:
            start = text.find("{")
            if start < 0:
                out.append(text)
                break
            if start:
                out.append(text[:start])
            end = text.index("}", start)
            out += pieces[text[start + 1:end]]
            text = text[end + 1:]
        return out, form.precedence
    tokens = [f"{primitive.name}("]
    for position, (operand, _) in enumerate(operands):
        if position:
            tokens.append(", ")
        tokens += list(operand)
    extra = show_params(params)
    if extra:
        tokens.append((", " if operands else "") + ", ".join(extra))
    tokens.append(")")
    return tokens, ATOM


def equation_tokens(primitive, inputs, params):
    """The right-hand side of an equation as tokens: infix where ``INFIX`` has the primitive, else
    ``name(args, key=value)``. ``inputs`` are single tokens (names or numbers).

    >>> equation_tokens(arithmetic.power, ["-2", "a"], {})
    ['(', '-2', ')', ' ** ', 'a']
    >>> equation_tokens(arithmetic.maximum, ["a", "b"], {})
    ['maximum(', 'a', ', ', 'b', ')']
    """
    return apply_form(primitive, [([token], _operand_precedence(token)) for token in inputs], params)[0]


# ------------------------------------------------------------------------------------ local partials

class Partial:
    """∂out/∂input[position] of one equation, staged from the primitive's rule into a small graph.

    ``graph`` takes the equation's Var inputs in order, then (``kind == "reverse"``) its output; ``output``
    is, for ``kind == "forward"``, the variable of that graph that recomputes the equation's output (the JVP
    rule evaluates the primitive), written as the output's name."""

    __slots__ = ("graph", "kind", "output")

    def __init__(self, graph, kind, output):
        self.graph = graph
        self.kind = kind
        self.output = output

    def value(self, inputs, out):
        """The partial at a point: ``inputs`` the values of the equation's Var inputs, ``out`` its output."""
        arguments = list(inputs) + ([out] if self.kind == "reverse" else [])
        with np.errstate(all="ignore"):
            values = eval_graph(self.graph, *arguments)
        return np.asarray(values[0] if isinstance(values, (list, tuple)) else values)

    def _names(self, in_refs, out_ref):
        names = dict(zip(self.graph.invars, list(in_refs) + ([out_ref] if self.kind == "reverse" else [])))
        if self.output is not None:
            names[self.output] = out_ref
        return names

    def tokens(self, in_refs, out_ref, show):
        """(tokens, precedence) of the partial, with the equation's input names ``in_refs`` (one per Var
        input) and output name ``out_ref``; literals written by ``show``."""
        return render(self.graph, self._names(in_refs, out_ref), show)[0]

    def term(self, in_refs, out_ref, show):
        """How to write ``factor · partial`` readably: (negative, kind, tokens, precedence), where kind is
        "one" (the partial is ±1: the factor alone; tokens None), "divide" (a partial ±1/d: ``factor / d``,
        tokens those of d) or "multiply" (tokens those of ±partial)."""
        negative, kind, atom = _split_sign(self)
        if kind == "one":
            return negative, kind, None, ATOM
        tokens, precedence = render(self.graph, self._names(in_refs, out_ref), show, outputs=[atom])[0]
        return negative, kind, tokens, precedence


def _unit(aval):
    return np.ones(aval.shape, dtype=aval.dtype)


def _same_value(first, second):
    return first is second or (type(first) is type(second) and not isinstance(first, np.ndarray)
                               and first == second)


def _recomputes(equation, primitive, atoms, params):
    """Whether a staged equation applies ``primitive`` to the equation's own inputs: the output again."""
    if equation.primitive is not primitive or len(equation.inputs) != len(atoms):
        return False
    if equation.params.keys() != params.keys() or not all(_same_value(equation.params[k], params[k]) for k in params):
        return False
    return all(staged is atom if isinstance(atom, Var) else
               isinstance(staged, Literal) and staged.value is atom
               for staged, atom in zip(equation.inputs, atoms))


def derive_partial(primitive, inputs, params, position, kind="forward", output_aval=None):
    """The Partial of ``primitive`` with input atoms ``inputs`` (Vars and Literals) in ``position``, staged
    from its JVP rule (``kind="forward"``: a unit tangent in that position) or its reverse rule
    (``kind="reverse"``: the pullback of a unit cotangent; ``output_aval`` the output's shape and dtype).

    >>> from chainrule.ops import elementwise
    >>> x = Var(ShapedArray((), "float64"))
    >>> "".join(derive_partial(elementwise.sin, [x], {}, 0).tokens(["x"], "y", str)[0])
    'cos(x)'
    >>> "".join(derive_partial(elementwise.exp, [x], {}, 0).tokens(["x"], "y", str)[0])
    'y'
    """
    var_positions = [k for k, atom in enumerate(inputs) if isinstance(atom, Var)]
    avals = [inputs[k].aval for k in var_positions]
    literals = {k: atom.value for k, atom in enumerate(inputs) if not isinstance(atom, Var)}

    def primals_of(values):
        values = iter(values)
        return [literals[k] if k in literals else next(values) for k in range(len(inputs))]

    if kind == "forward":
        def forward_rule(*values):
            primals = primals_of(values)
            tangents = [None] * len(inputs)
            tangents[position] = _unit(inputs[position].aval)
            _, tangent = primitive.jvp(primals, tangents, **params)
            return 0.0 if tangent is None else tangent

        with np.errstate(all="ignore"):
            graph = make_graph(forward_rule)(*avals)
        staged = dict(zip(var_positions, graph.invars))
        atoms = [literals[k] if k in literals else staged[k] for k in range(len(inputs))]
        output = next((e.outputs[0] for e in graph.equations if _recomputes(e, primitive, atoms, params)), None)
        return Partial(graph, kind, output)
    if kind != "reverse":
        raise ValueError(f"derive_partial: kind={kind!r}; use 'forward' or 'reverse'")
    if output_aval is None:
        output_aval = primitive.shape_rule(*[atom.aval for atom in inputs], **params)

    def reverse_rule(*values):
        primals = primals_of(values[:-1])
        pullback = primitive.pullback(values[-1], primals, params, wanted=[position])
        cotangent = pullback(_unit(output_aval))[position]
        return 0.0 if cotangent is None else dense(cotangent)

    with np.errstate(all="ignore"):
        graph = make_graph(reverse_rule)(*avals, ShapedArray(output_aval.shape, output_aval.dtype))
    return Partial(graph, kind, None)


def render(graph, names, show, outputs=None):
    """Expressions (tokens, precedence) of ``outputs`` (default: the graph's outputs): Vars in ``names`` are
    written as those names, the other variables as the expressions that compute them, literals by ``show``."""
    env = {}

    def read(atom):
        if isinstance(atom, Var):
            if atom in names:
                return [names[atom]], ATOM
            return env[atom]
        return literal_expression(atom.value, show)

    for equation in graph.equations:
        if any(v in names for v in equation.outputs):
            continue
        operands = [read(a) for a in equation.inputs]
        tokens, precedence = apply_form(equation.primitive, operands, equation.params)
        if len(equation.outputs) == 1:
            env[equation.outputs[0]] = tokens, precedence
        else:
            for index, var in enumerate(equation.outputs):
                env[var] = tokens + [f"[{index}]"], ATOM
    return [read(v) for v in (graph.outvars if outputs is None else outputs)]


def _uniform(value):
    """The one value of a constant all of whose elements are equal (a broadcast seed), else None."""
    array = np.asarray(value)
    if array.size and np.all(array == array.reshape(-1)[0]):
        return array.reshape(-1)[0]
    return None


def literal_expression(value, show):
    """A constant as (tokens, precedence): a uniform array (a broadcast seed or constant) by its one value."""
    one = _uniform(value)
    text = show(one if one is not None else np.asarray(value))
    return [text], _operand_precedence(text)


def _split_sign(partial):
    """(negative, kind, atom): see Partial.term; ``atom`` the graph's Var or Literal to write."""
    graph = partial.graph
    outvar = graph.outvars[0]
    if isinstance(outvar, Literal):
        constant = _uniform(outvar.value)
        if constant is not None and np.isreal(constant) and np.real(constant) < 0:
            magnitude = -np.real(constant)
            return True, "one" if magnitude == 1 else "multiply", Literal(magnitude)
        return False, "one" if constant == 1 else "multiply", outvar
    producers = {v: e for e in graph.equations for v in e.outputs}
    negative = False
    equation = producers.get(outvar)
    if outvar is not partial.output and equation is not None and equation.primitive is arithmetic.neg:
        negative, outvar = True, equation.inputs[0]
        if isinstance(outvar, Literal):
            return negative, "one" if _uniform(outvar.value) == 1 else "multiply", outvar
        equation = producers.get(outvar)
    if (outvar is not partial.output and equation is not None and equation.primitive is arithmetic.div
            and isinstance(equation.inputs[0], Literal) and _uniform(equation.inputs[0].value) == 1):
        return negative, "divide", equation.inputs[1]
    return negative, "multiply", outvar
