"""Evaluation-trace tables (``cr.explain``): the primal, tangent and adjoint traces of a function at a
point, numbered like Griewank's tables, computed by each primitive's own evaluation and derivative rules."""
import numpy as np

from ..core.avals import is_inexact
from ..core.cotangents import dense
from ..core.graph import Literal, Var
from .notation import PRODUCT, derive_partial, equation_tokens
from .staging import is_scalar, number_variables, stage

MODES = ("forward", "reverse", "both")


class Ref:
    """A name inside a table: ``v_i`` (index an int) or an input/output name, as a value, tangent or adjoint."""

    __slots__ = ("kind", "index")

    def __init__(self, kind, index):
        self.kind = kind  # "value", "tangent" or "adjoint"
        self.index = index

    def __repr__(self):
        return render_ref(self, "ascii")


class Row:
    """One line ``target op expression = substituted = value`` of a trace table."""

    __slots__ = ("target", "op", "expression", "substituted", "value", "step")

    def __init__(self, target, op, expression, substituted, value, step=None):
        self.target = target
        self.op = op
        self.expression = expression
        self.substituted = substituted
        self.value = value
        self.step = step  # for an adjoint update: the contribution ∂v_i/∂v_j · v̄_i added by this row


_SUBSCRIPTS = str.maketrans("-0123456789", "₋₀₁₂₃₄₅₆₇₈₉")
_MARKS = {"value": "", "tangent": "\u0307", "adjoint": "\u0304"}
_HTML_MARKS = {"value": "", "tangent": "&#775;", "adjoint": "&#772;"}
_LATEX_MARKS = {"value": "{}", "tangent": "\\dot{{{}}}", "adjoint": "\\bar{{{}}}"}
_ASCII_SUFFIX = {"value": "", "tangent": "_dot", "adjoint": "_bar"}


def _split_name(name):
    """``"x12"`` -> ("x", "12"): a name's letters and its trailing digits (its subscript)."""
    stem = name.rstrip("0123456789")
    return (stem, name[len(stem):]) if stem else (name, "")


def render_ref(ref, style):
    """Write a Ref in a style: "unicode" (v̇₁), "ascii" (v_dot[1]), "latex" (\\dot{v}_{1}) or "html"."""
    if isinstance(ref.index, int):
        letter, subscript = "v", str(ref.index)
    else:
        letter, subscript = _split_name(ref.index)
    if style == "unicode":
        head = letter[0] + _MARKS[ref.kind] + letter[1:]
        return head + (subscript.translate(_SUBSCRIPTS) if isinstance(ref.index, int) else subscript)
    if style == "ascii":
        if isinstance(ref.index, int):
            return f"v{_ASCII_SUFFIX[ref.kind]}[{ref.index}]"
        return ref.index + _ASCII_SUFFIX[ref.kind]
    if style == "latex":
        return _LATEX_MARKS[ref.kind].format(letter) + (f"_{{{subscript}}}" if subscript else "")
    if style == "html":
        head = letter[0] + _HTML_MARKS[ref.kind] + letter[1:]
        return head + (f"<sub>{subscript}</sub>" if subscript else "")
    raise ValueError(f"render_ref: unknown style {style!r}; use 'unicode', 'ascii', 'latex' or 'html'")


def format_number(value, digits=6, fixed=False):
    """A value for a table: scalars to ``digits`` decimals (trailing zeros trimmed unless ``fixed``),
    arrays as dtype, shape and range.

    >>> format_number(2.0166466138918548), format_number(3.0), format_number(3.0, 4, fixed=True)
    ('2.016647', '3', '3.0000')
    >>> format_number(np.array([1.0, 4.0]))
    'f64[2] in [1, 4]'
    """
    array = np.asarray(value)
    if array.ndim:
        kind = {"f": "f", "c": "c", "i": "i", "u": "u", "b": "bool"}.get(array.dtype.kind, array.dtype.kind)
        bits = "" if kind == "bool" else str(8 * array.dtype.itemsize)
        head = f"{kind}{bits}[{','.join(map(str, array.shape))}]"
        if array.size == 0 or array.dtype.kind == "b":
            return head
        low, high = np.min(array.real), np.max(array.real)
        return f"{head} in [{format_number(low, digits)}, {format_number(high, digits)}]"
    scalar = array.item()
    if isinstance(scalar, bool) or array.dtype.kind == "b":
        return str(bool(scalar))
    if isinstance(scalar, complex):
        return f"{scalar:.{digits}g}"
    if isinstance(scalar, int):
        return str(scalar)
    if not np.isfinite(scalar):
        return str(scalar)
    magnitude = abs(scalar)
    if magnitude and not 10.0 ** -digits <= magnitude < 1e12:
        return f"{scalar:.{digits}e}"
    text = f"{scalar:.{digits}f}"
    if not fixed and "." in text:
        text = text.rstrip("0").rstrip(".")
    if text in ("-0", "-0." + "0" * digits):
        text = text[1:]
    return text


class Explanation:
    """The trace tables of one function at one point; ``str`` gives the terminal table,
    ``to_markdown()`` and ``to_html()`` (``_repr_html_`` in notebooks) the same rows."""

    def __init__(self, mode, primal_rows, tangent_rows, adjoint_rows, result, digits, fixed, interleave):
        self.mode = mode
        self.primal_rows = primal_rows
        self.tangent_rows = tangent_rows
        self.adjoint_rows = adjoint_rows
        self.digits = digits
        self.fixed = fixed
        self._interleave = interleave
        self.value = result["value"]
        self.tangent = result.get("tangent")
        self.gradient = result.get("gradient")
        self.values = result["values"]
        self.tangents = result.get("tangents", {})
        self.adjoints = result.get("adjoints", {})

    # -------------------------------------------------------------------------------- tables
    def tables(self):
        """The tables as (title, rows) pairs: the forward table interleaves v_i and v̇_i like the lecture."""
        tables = []
        if self.tangent_rows is not None:
            rows = []
            tangent_by_target = {}
            for row in self.tangent_rows:
                tangent_by_target.setdefault(row.target.index, []).append(row)
            for row in self.primal_rows:
                rows.append(row)
                rows.extend(tangent_by_target.pop(row.target.index, []))
            for leftover in tangent_by_target.values():
                rows.extend(leftover)
            tables.append(("Forward mode: primal and tangent trace", rows))
        if self.adjoint_rows is not None:
            if self.tangent_rows is None:
                tables.append(("Primal trace", list(self.primal_rows)))
            tables.append(("Reverse mode: adjoint trace", list(self.adjoint_rows)))
        return tables

    def _cells(self, row, style):
        def render(tokens):
            if tokens is None:
                return ""
            return "".join(render_ref(t, style) if isinstance(t, Ref) else t for t in tokens)
        return [render([row.target]), row.op, render(row.expression), row.substituted or "",
                format_number(row.value, self.digits, self.fixed)]

    def to_text(self, style="unicode"):
        """The tables as aligned plain text (``style="ascii"`` avoids combining characters)."""
        import unicodedata

        def width(text):
            return sum(0 if unicodedata.combining(ch) else 1 for ch in text)

        def pad(text, size):
            return text + " " * (size - width(text))

        blocks = []
        for title, rows in self.tables():
            cells = [self._cells(row, style) for row in rows]
            widths = [max(width(c[k]) for c in cells) for k in range(4)]
            lines = [title]
            for target, op, expression, substituted, value in cells:
                parts = [pad(target, widths[0]), pad(op, widths[1]), pad(expression, widths[2])]
                if widths[3]:
                    parts += ["=" if substituted else " ", pad(substituted, widths[3])]
                parts += ["=", value]
                lines.append("  " + " ".join(parts).rstrip())
            blocks.append("\n".join(lines))
        return "\n\n".join(blocks)

    def to_markdown(self):
        """The tables as Markdown, names in LaTeX (``$\\bar{v}_{4}$``)."""
        blocks = []
        for title, rows in self.tables():
            lines = [f"**{title}**", "", "| variable | | expression | at the point | value |", "|---|---|---|---|---|"]
            for row in rows:
                target, op, expression, substituted, value = self._cells(row, "latex")
                expression = "".join(f"${render_ref(t, 'latex')}$" if isinstance(t, Ref) else t
                                     for t in (row.expression or []))
                lines.append(f"| ${target}$ | {op.replace('+=', '+=')} | {expression} | {substituted} | {value} |")
            blocks.append("\n".join(lines))
        return "\n\n".join(blocks)

    def to_html(self):
        """The tables as HTML."""
        import html
        blocks = []
        for title, rows in self.tables():
            body = []
            for row in rows:
                expression = "".join(render_ref(t, "html") if isinstance(t, Ref) else html.escape(t)
                                     for t in (row.expression or []))
                target = render_ref(row.target, "html")
                value = html.escape(format_number(row.value, self.digits, self.fixed))
                body.append(f"<tr><td>{target}</td><td>{html.escape(row.op)}</td><td>{expression}</td>"
                            f"<td>{html.escape(row.substituted or '')}</td><td>{value}</td></tr>")
            blocks.append(f"<table><caption>{html.escape(title)}</caption>"
                          "<tr><th>variable</th><th></th><th>expression</th><th>at the point</th><th>value</th></tr>"
                          + "".join(body) + "</table>")
        return "\n".join(blocks)

    def _repr_html_(self):
        return self.to_html()

    def __str__(self):
        return self.to_text()

    def __repr__(self):
        return self.to_text()


# ------------------------------------------------------------------------------------------ explain

def name_outputs(count, input_names):
    """Names for the outputs: y (or y1, y2, ...), else the first of f, out, result... that no input uses, so a
    table never shows an input and an output under one name."""
    taken = set(input_names)
    for stem in ("y", "f", "out", "result", "output"):
        names = [stem] if count == 1 else [f"{stem}{k + 1}" for k in range(count)]
        if not taken & set(names):
            return names
    return [f"output_{k + 1}" for k in range(count)]


def _select_input(wrt, names, count):
    if isinstance(wrt, str):
        if wrt not in names:
            raise ValueError(f"explain: wrt={wrt!r} is not an input; the inputs are {', '.join(names)}")
        return names.index(wrt)
    if isinstance(wrt, (int, np.integer)) and -count <= wrt < count:
        return int(wrt) % count
    raise ValueError(f"explain: wrt={wrt!r} must be an input name ({', '.join(names)}) or a position below {count}")


def explain(function, *args, mode="both", wrt=0, tangents=None, output=0, digits=6, lecture=False):
    """The evaluation-trace tables of ``function`` at ``args``: the primal trace ``v_i = op(v_j) = value``,
    the tangent trace ``v̇_i`` (forward mode, seeded on input ``wrt`` or with ``tangents``), and the adjoint
    trace in reverse order with each accumulation ``v̄_j += ∂v_i/∂v_j · v̄_i`` (reverse mode, seeded on
    output ``output``). ``lecture=True`` rounds every intermediate to four decimals as a hand calculation
    does, and shows four decimals.

    >>> import chainrule as cr, chainrule.numpy as np
    >>> def f(x1, x2):
    ...     return (np.sin(x1 / x2) + (x1 / x2 - np.exp(x2))) * (x1 / x2 - np.exp(x2))
    >>> table = cr.explain(f, 1.5, 0.5)
    >>> print(table.primal_rows[3].target, "=", table.primal_rows[3].substituted, "=", table.values[2])
    v[2] = sin(3) = 0.1411200080598672
    >>> round(float(table.gradient[1]), 6)
    -13.723962
    """
    if mode not in MODES:
        raise ValueError(f"explain: mode={mode!r}; use one of {', '.join(MODES)}")
    graph, names, values = stage(function, args)
    if lecture:
        digits = 4
    numbers = number_variables(graph)
    count = len(graph.invars)

    def rounded(value):
        if not lecture or value is None:
            return value
        array = np.asarray(value)
        return np.round(array, digits) if is_inexact(array.dtype) else array

    def show(value):
        return format_number(value, digits, lecture)

    def constant(value):  # a rule's constant inside a partial: 0.5, not 0.5000
        return format_number(value, digits)

    def ref_of(atom, kind="value"):
        return Ref(kind, numbers[atom]) if isinstance(atom, Var) else show(atom.value)

    env = {}
    primal_rows = []
    for var, name, value in zip(graph.invars, names, values):
        env[var] = rounded(value)
        primal_rows.append(Row(Ref("value", numbers[var]), "=", [Ref("value", name)], None, env[var]))

    def read(atom):
        return literal_value(atom) if isinstance(atom, Literal) else env[atom]

    for equation in graph.equations:
        inputs = [read(a) for a in equation.inputs]
        with np.errstate(all="ignore"):
            out = equation.primitive.impl(*inputs, **equation.params)
        outs = list(out) if equation.primitive.multiple_results else [out]
        for var, value in zip(equation.outputs, outs):
            env[var] = rounded(np.asarray(value))
        scalar_inputs = all(is_scalar(v) for v in inputs)
        substituted = None
        if scalar_inputs and not equation.params:
            substituted = "".join(equation_tokens(equation.primitive, [show(v) for v in inputs], {}))
        tokens = equation_tokens(equation.primitive, [ref_of(a) for a in equation.inputs], equation.params)
        if len(equation.outputs) == 1:
            primal_rows.append(Row(Ref("value", numbers[equation.outputs[0]]), "=", tokens, substituted,
                                   env[equation.outputs[0]]))
        else:
            for position, var in enumerate(equation.outputs):
                primal_rows.append(Row(Ref("value", numbers[var]), "=", tokens + [f"[{position}]"], None, env[var]))
    output_names = name_outputs(len(graph.outvars), names)
    outputs = [read(v) for v in graph.outvars]
    for name, atom, value in zip(output_names, graph.outvars, outputs):
        primal_rows.append(Row(Ref("value", name), "=", [ref_of(atom)], None, value))

    result = {"value": outputs[0] if len(outputs) == 1 else tuple(outputs),
              "values": {numbers[v]: env[v] for v in numbers}}
    tangent_rows = adjoint_rows = None
    if mode in ("forward", "both"):
        tangent_rows = _forward(graph, names, numbers, env, read, ref_of, (show, constant), rounded, result,
                                output_names, wrt, tangents, count)
    if mode in ("reverse", "both"):
        adjoint_rows = _reverse(graph, names, numbers, env, read, ref_of, (show, constant), rounded, result,
                                output_names, output)
    return Explanation(mode, primal_rows, tangent_rows, adjoint_rows, result, digits, lecture,
                       interleave=True)


def literal_value(atom):
    return atom.value


def _differentiable(atom):
    return isinstance(atom, Var) and is_inexact(atom.aval.dtype)


def _parenthesized(tokens, precedence, least):
    return ["("] + tokens + [")"] if precedence < least else list(tokens)


def _term_tokens(term, factor_ref, factor_first):
    """``factor · partial`` as tokens, the sign pulled out: ``term`` is Partial.term's (negative, kind, tokens,
    precedence). Returns (negative, tokens)."""
    negative, kind, tokens, precedence = term
    if kind == "one":
        return negative, [factor_ref]
    if kind == "divide":
        return negative, [factor_ref, " / "] + _parenthesized(tokens, precedence, PRODUCT + 1)
    tokens = _parenthesized(tokens, precedence, PRODUCT)
    return negative, ([factor_ref, " * "] + tokens) if factor_first else (tokens + [" * ", factor_ref])


def _join_terms(terms):
    tokens = []
    for position, (negative, term) in enumerate(terms):
        if position == 0:
            tokens += (["-"] if negative else []) + term
        else:
            tokens += [" - " if negative else " + "] + term
    return tokens or ["0"]


def _number_piece(term, factor, partial, factor_first):
    """The numbers of one term, laid out like its tokens: ``partial`` is the partial's value."""
    negative, kind = term[0], term[1]
    if kind == "one":
        return negative, [factor], " * "
    partial = -partial if negative else partial
    if kind == "divide":
        return negative, [factor, 1.0 / partial if partial else np.inf], " / "
    return negative, ([factor, partial] if factor_first else [partial, factor]), " * "


def _join_numbers(pieces, show):
    """``a * b - c / d`` from (negative, numbers, operator) pieces; later negative numbers in parentheses."""
    text = []
    for position, (negative, numbers, operator) in enumerate(pieces):
        shown = [show(n) for n in numbers]
        shown = [f"({s})" if s.startswith("-") and (position or k) else s for k, s in enumerate(shown)]
        product = operator.join(shown)
        if position == 0:
            text.append(("-" if negative else "") + product)
        else:
            text.append((" - " if negative else " + ") + product)
    return "".join(text)


def _one_hot_partial(primitive, primals, position, params):
    """∂out/∂input[position] at a scalar point, from the primitive's own JVP rule."""
    seeds = [None] * len(primals)
    seeds[position] = np.ones(np.shape(primals[position]), dtype=np.result_type(primals[position], float))
    with np.errstate(all="ignore"):
        _, derivative = primitive.jvp(primals, seeds, **params)
    return np.asarray(0.0 if derivative is None else derivative)


def _forward(graph, names, numbers, env, read, ref_of, shows, rounded, result, output_names, wrt, tangents, count):
    show, constant = shows
    rows = []
    tangent = {}
    if tangents is None:
        chosen = _select_input(wrt, names, count)
        seeds = [np.ones(np.shape(env[v]), dtype=np.result_type(env[v], float)) if k == chosen else None
                 for k, v in enumerate(graph.invars)]
    else:
        seeds = [None if t is None else np.asarray(t, dtype=float) for t in tangents]
        if len(seeds) != count:
            raise ValueError(f"explain: tangents has {len(seeds)} entries; the function has {count} inputs")
    for var, name, seed in zip(graph.invars, names, seeds):
        tangent[var] = rounded(seed)
        value = seed if seed is not None else np.zeros(np.shape(env[var]))
        rows.append(Row(Ref("tangent", numbers[var]), "=", [Ref("tangent", name)], None, value))

    def tangent_of(atom):
        return tangent.get(atom) if isinstance(atom, Var) else None

    for equation in graph.equations:
        primitive, params = equation.primitive, equation.params
        primals = [read(a) for a in equation.inputs]
        input_tangents = [tangent_of(a) if _differentiable(a) else None for a in equation.inputs]
        multiple = primitive.multiple_results
        if all(t is None for t in input_tangents) or not primitive.differentiable:
            out_tangents = [None] * len(equation.outputs)
        else:
            with np.errstate(all="ignore"):
                _, out_dot = primitive.jvp(primals, input_tangents, **params)
            out_tangents = list(out_dot) if multiple else [out_dot]
        for var, value in zip(equation.outputs, out_tangents):
            tangent[var] = rounded(None if value is None else np.asarray(value))

        # The row: v̇_i = Σ_j ∂v_i/∂v_j · v̇_j over the differentiable inputs, zeros included as in the lecture;
        # each partial written from the primitive's own JVP rule, staged with a unit tangent in its position.
        terms, pieces = [], []
        scalar = all(is_scalar(p) for p in primals) and not multiple
        derived = _derives_partials(primitive, primals)
        for position, atom in enumerate(equation.inputs):
            if not _differentiable(atom) or not primitive.differentiable:
                continue
            factor = Ref("tangent", numbers[atom])
            if derived:
                partial = derive_partial(primitive, equation.inputs, params, position)
                term = partial.term(*_partial_refs(equation, ref_of), constant)
                negative, tokens = _term_tokens(term, factor, factor_first=False)
            else:
                negative, tokens = False, [f"∂{primitive.name}/∂", ref_of(atom), " * ", factor]
            terms.append((negative, tokens))
            if scalar:
                value = tangent_of(atom)
                value = 0.0 if value is None else value
                partial_value = None if term[1] == "one" else rounded(
                    partial.value(_var_values(equation, primals), env[equation.outputs[0]]))
                pieces.append(_number_piece(term, value, partial_value, factor_first=False))
        substituted = _join_numbers(pieces, show) if scalar and pieces else None
        for var in equation.outputs:
            value = tangent[var]
            rows.append(Row(Ref("tangent", numbers[var]), "=", _join_terms(terms), substituted,
                            np.zeros(np.shape(env[var])) if value is None else value))
    outputs = []
    for name, atom in zip(output_names, graph.outvars):
        value = tangent_of(atom)
        value = np.zeros(np.shape(read(atom))) if value is None else value
        outputs.append(value)
        rows.append(Row(Ref("tangent", name), "=", [ref_of(atom, "tangent") if isinstance(atom, Var) else "0"],
                        None, value))
    result["tangent"] = outputs[0] if len(outputs) == 1 else tuple(outputs)
    result["tangents"] = {numbers[v]: (np.zeros(np.shape(env[v])) if t is None else t) for v, t in tangent.items()}
    return rows


def _derives_partials(primitive, primals):
    """Whether the rows write this equation's partials as expressions: an elementwise primitive (its partial
    is elementwise too) or scalar inputs and output. Otherwise the partial is a Jacobian, written ∂op/∂v."""
    return not primitive.multiple_results and (primitive.elementwise or all(is_scalar(p) for p in primals))


def _partial_refs(equation, ref_of):
    """The names a Partial is written with: its Var inputs', then its output's."""
    return [ref_of(a) for a in equation.inputs if isinstance(a, Var)], ref_of(equation.outputs[0])


def _var_values(equation, primals):
    return [value for atom, value in zip(equation.inputs, primals) if isinstance(atom, Var)]


def _pullback(primitive, position, cotangent, out, primals, params):
    """Input ``position``'s cotangent from the primitive's own reverse rule (None: no dependence), dense."""
    with np.errstate(all="ignore"):
        contribution = primitive.pullback(out, primals, params, wanted=[position])(cotangent)[position]
        return dense(contribution)


def _reverse(graph, names, numbers, env, read, ref_of, shows, rounded, result, output_names, output):
    show, constant = shows
    rows = []
    adjoint = {}
    if not -len(graph.outvars) <= output < len(graph.outvars):
        raise ValueError(f"explain: output={output!r}, but the function has {len(graph.outvars)} output(s)")
    seed_atom = graph.outvars[output]
    seed_name = output_names[output]
    if isinstance(seed_atom, Var):
        adjoint[seed_atom] = np.ones(np.shape(env[seed_atom]), dtype=np.result_type(env[seed_atom], float))
        rows.append(Row(Ref("adjoint", numbers[seed_atom]), "=", [Ref("adjoint", seed_name)], None,
                        adjoint[seed_atom]))

    for equation in reversed(graph.equations):
        primitive, params = equation.primitive, equation.params
        bars = [adjoint.get(v) for v in equation.outputs]
        if all(b is None for b in bars) or not primitive.differentiable:
            continue
        primals = [read(a) for a in equation.inputs]
        outs = [env[v] for v in equation.outputs]
        multiple = primitive.multiple_results
        cotangent, out = (bars, outs) if multiple else (bars[0], outs[0])
        scalar = all(is_scalar(p) for p in primals) and not multiple
        derived = _derives_partials(primitive, primals)
        for position, atom in enumerate(equation.inputs):
            if not _differentiable(atom):
                continue
            contribution = _pullback(primitive, position, cotangent, out, primals, params)
            if contribution is None:
                continue
            contribution = rounded(np.asarray(contribution))
            factor = Ref("adjoint", numbers[equation.outputs[0]])
            if derived:
                # The partial written from the reverse rule itself: its pullback of a unit cotangent, staged.
                partial = derive_partial(primitive, equation.inputs, params, position, kind="reverse",
                                         output_aval=equation.outputs[0].aval)
                term = partial.term(*_partial_refs(equation, ref_of), constant)
                negative, tokens = _term_tokens(term, factor, factor_first=True)
            else:
                bar_refs = [Ref("adjoint", numbers[v]) for v in equation.outputs]
                negative, tokens = False, [f"{primitive.name}_vjp("] + _comma(bar_refs) + [")"]
            numbers_of_term = None
            if scalar:
                partial_value = None if term[1] == "one" else rounded(
                    partial.value(_var_values(equation, primals), out))
                numbers_of_term = _number_piece(term, cotangent, partial_value, factor_first=True)
            target = Ref("adjoint", numbers[atom])
            if atom in adjoint:
                previous = adjoint[atom]
                adjoint[atom] = rounded(previous + contribution)
                expression = [target, " - " if negative else " + "] + tokens
                substituted = None if numbers_of_term is None else _join_numbers(
                    [(False, [previous], ""), numbers_of_term], show)
                rows.append(Row(target, "=", expression, substituted, adjoint[atom], step=contribution))
            else:
                adjoint[atom] = contribution
                substituted = None if numbers_of_term is None else _join_numbers([numbers_of_term], show)
                rows.append(Row(target, "=", (["-"] if negative else []) + tokens, substituted, contribution,
                                step=contribution))
    gradient = []
    for var, name in zip(graph.invars, names):
        value = adjoint.get(var)
        value = np.zeros(np.shape(env[var])) if value is None else value
        gradient.append(value)
        rows.append(Row(Ref("adjoint", name), "=", [Ref("adjoint", numbers[var])], None, value))
    result["gradient"] = tuple(gradient)
    result["adjoints"] = {numbers[v]: a for v, a in adjoint.items()}
    return rows


def _comma(items):
    tokens = []
    for position, item in enumerate(items):
        if position:
            tokens.append(", ")
        tokens.append(item)
    return tokens
