"""How the exporters write one equation: an infix form and the local partials ∂v_i/∂v_j, as templates
keyed by primitive name ({0}, {1}: the inputs; {out}: the output). Primitives without a row get a
generic ``name(args)`` form and ∂ placeholders, so every primitive can be shown."""
import string

# Infix forms, as the lecture writes them.
INFIX = {
    "add": "{0} + {1}",
    "sub": "{0} - {1}",
    "mul": "{0} * {1}",
    "div": "{0} / {1}",
    "neg": "-{0}",
    "pow": "{0} ** {1}",
}

# Local partial derivative of the output with respect to each input, in the primitive's own terms.
# A leading "-" marks a negated term so sums read "a - b" rather than "a + -b".
PARTIALS = {
    "add": ("1", "1"),
    "sub": ("1", "-1"),
    "mul": ("{1}", "{0}"),
    "div": ("1 / {1}", "-{out} / {1}"),
    "neg": ("-1",),
    "pow": ("{1} * {0} ** ({1} - 1)", "log({0}) * {out}"),
    "sin": ("cos({0})",),
    "cos": ("-sin({0})",),
    "tan": ("1 + {out} ** 2",),
    "arcsin": ("1 / sqrt(1 - {0} ** 2)",),
    "arccos": ("-1 / sqrt(1 - {0} ** 2)",),
    "arctan": ("1 / (1 + {0} ** 2)",),
    "sinh": ("cosh({0})",),
    "cosh": ("sinh({0})",),
    "tanh": ("1 - {out} ** 2",),
    "arcsinh": ("1 / sqrt({0} ** 2 + 1)",),
    "arccosh": ("1 / sqrt({0} ** 2 - 1)",),
    "arctanh": ("1 / (1 - {0} ** 2)",),
    "exp": ("{out}",),
    "exp2": ("log(2) * {out}",),
    "expm1": ("{out} + 1",),
    "log": ("1 / {0}",),
    "log2": ("1 / (log(2) * {0})",),
    "log10": ("1 / (log(10) * {0})",),
    "log1p": ("1 / (1 + {0})",),
    "sqrt": ("0.5 / {out}",),
    "cbrt": ("1 / (3 * {out} ** 2)",),
    "abs": ("sign({0})",),
    "atan2": ("{1} / ({0} ** 2 + {1} ** 2)", "-{0} / ({0} ** 2 + {1} ** 2)"),
    "hypot": ("{0} / {out}", "{1} / {out}"),
    "logaddexp": ("exp({0} - {out})", "exp({1} - {out})"),
    "maximum": ("[{0} > {1}]", "[{1} > {0}]"),
    "minimum": ("[{0} < {1}]", "[{1} < {0}]"),
    "convert_element_type": ("1",),
    "stop_gradient": ("0",),
}


def template_tokens(template, inputs, output):
    """Split a template into text and the atoms it names: ``inputs[k]`` for {k}, ``output`` for {out}.

    >>> template_tokens("{0} / {1}", ["a", "b"], "c")
    ['a', ' / ', 'b']
    """
    tokens = []
    for text, field, _, _ in string.Formatter().parse(template):
        if text:
            tokens.append(text)
        if field is None:
            continue
        tokens.append(output if field == "out" else inputs[int(field)])
    return tokens


def show_params(params):
    """Parameters as ``key=value`` text, for the generic form ``name(args, key=value)``."""
    shown = []
    for key, value in params.items():
        text = repr(value)
        if len(text) > 40:  # index templates of long gathers, captured rules of custom calls
            text = type(value).__name__
        shown.append(f"{key}={text}")
    return shown


def equation_tokens(primitive_name, inputs, params):
    """The right-hand side of an equation as tokens: infix where the table has it, else ``name(args)``."""
    if primitive_name in INFIX and len(inputs) == INFIX[primitive_name].count("{"):
        return template_tokens(INFIX[primitive_name], inputs, None)
    tokens = [f"{primitive_name}("]
    for position, atom in enumerate(inputs):
        if position:
            tokens.append(", ")
        tokens.append(atom)
    extra = show_params(params)
    if extra:
        tokens.append((", " if inputs else "") + ", ".join(extra))
    tokens.append(")")
    return tokens
