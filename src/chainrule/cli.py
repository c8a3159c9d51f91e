"""The ``chainrule`` command: ``diff``, ``trace``, ``graph``, ``formula`` and ``demo`` on formulas read by
chainrule's own safe parser (chainrule.expression); user errors exit with status 2."""
import argparse
import math
import sys

LECTURE_FORMULA = "(sin(x1/x2) + (x1/x2 - exp(x2))) * (x1/x2 - exp(x2))"
LECTURE_POINT = {"x1": 1.5, "x2": 0.5}
METHODS = ("all", "reverse", "forward", "fd", "complex", "symbolic")


class CommandError(Exception):
    """A user error: printed without a traceback, exit status 2."""


# ------------------------------------------------------------------------------------------- inputs

def parse_point(items):
    """``["x1=1.5,x2=0.5"]`` -> {"x1": 1.5, "x2": 0.5}, with messages that say what to fix.

    >>> parse_point(["x1=1.5,x2=0.5"])
    {'x1': 1.5, 'x2': 0.5}
    >>> parse_point(["x1=abc"])
    Traceback (most recent call last):
      ...
    chainrule.cli.CommandError: --at: the value of x1 is 'abc', which is not a number (write x1=1.5)
    """
    point = {}
    for item in items or []:
        for part in item.split(","):
            part = part.strip()
            if not part:
                continue
            if "=" not in part:
                raise CommandError(f"--at: {part!r} is not of the form name=value (write x1=1.5,x2=0.5)")
            name, text = (piece.strip() for piece in part.split("=", 1))
            if not name.isidentifier():
                raise CommandError(f"--at: {name!r} is not a variable name")
            if name in point:
                raise CommandError(f"--at: {name} is given twice")
            try:
                value = float(text)
            except ValueError:
                raise CommandError(f"--at: the value of {name} is {text!r}, which is not a number "
                                   f"(write {name}=1.5)") from None
            if not math.isfinite(value):
                raise CommandError(f"--at: the value of {name} is {text}; give a finite number")
            point[name] = value
    return point


def load_formula(text, point=None):
    """Parse the formula; with a point, its variables must be exactly the point's names."""
    from .expression import ExpressionError, parse
    try:
        expression = parse(text, variables=None if point is None else tuple(point))
    except ExpressionError as error:
        raise CommandError(str(error)) from None
    if point is not None:
        unused = [name for name in point if name not in expression.variables]
        if unused:
            raise CommandError(f"--at gives {', '.join(unused)}, which the formula does not use "
                               f"(its variables: {', '.join(expression.variables) or 'none'})")
    return expression


def formula_and_point(arguments):
    point = parse_point(arguments.at)
    if not point:
        expression = load_formula(arguments.formula)
        missing = ", ".join(f"{name}=..." for name in expression.variables)
        raise CommandError(f"--at is required: give a value to every variable, e.g. --at {missing or 'x=1.0'}")
    expression = load_formula(arguments.formula, point)
    return expression.function(tuple(point)), point


# ------------------------------------------------------------------------------------------- methods

def _float(value):
    return float(value.real) if isinstance(value, complex) else float(value)


def gradient_by(method, function, point):
    """The gradient of ``function`` at ``point`` (a dict) by one method, as a list of floats."""
    import numpy as np

    import chainrule as cr
    values = [float(v) for v in point.values()]
    count = len(values)
    if method == "reverse":
        return [float(g) for g in cr.grad(function, argnums=tuple(range(count)))(*values)]
    if method == "forward":
        gradient = []
        for position in range(count):
            tangents = [1.0 if k == position else 0.0 for k in range(count)]
            gradient.append(float(cr.jvp(function, tuple(values), tuple(tangents))[1]))
        return gradient
    if method in ("fd", "complex"):
        derivative = _finite_difference()
        gradient = []
        for position in range(count):
            def along(t, position=position):
                arguments = list(values)
                arguments[position] = t
                return function(*arguments)
            result = derivative(along, values[position], method="central" if method == "fd" else "complex")
            gradient.append(_float(np.asarray(result).item()))
        return gradient
    if method == "symbolic":
        from . import symbolic
        names = tuple(point)
        replacements, expressions = symbolic.gradient(function, names)
        return [float(v) for v in symbolic.evaluate((replacements, expressions), names, values)]
    raise CommandError(f"--method {method!r}: choose one of {', '.join(METHODS)}")


def _finite_difference():
    """chainrule.fd's derivative (step chosen for the function, complex step guarded)."""
    import importlib
    for module in ("chainrule.fd", "chainrule.finite_diff.derivative"):
        try:
            return importlib.import_module(module).derivative
        except (ImportError, AttributeError):
            continue
    raise CommandError("the finite-difference methods need chainrule.fd, which this installation lacks")


# ------------------------------------------------------------------------------------------- commands

def command_diff(arguments, out):
    function, point = formula_and_point(arguments)
    value = float(function(*point.values()))
    names = list(point)
    at = ", ".join(f"{k}={v:g}" for k, v in point.items())
    out.write(f"f({at}) = {value:.15g}\n")
    if arguments.method != "all":
        gradient = gradient_by(arguments.method, function, point)
        for name, component in zip(names, gradient):
            out.write(f"df/d{name} = {component:.15g}\n")
        return 0
    reference = gradient_by("reverse", function, point)
    rows = []
    for method in METHODS[1:]:
        try:
            gradient = gradient_by(method, function, point)
            difference = max(abs(a - b) for a, b in zip(gradient, reference)) if names else 0.0
            rows.append([method] + [f"{g:.15g}" for g in gradient] + [f"{difference:.1e}"])
        except CommandError as error:
            rows.append([method] + ["-"] * len(names) + [str(error)])
    header = ["method"] + [f"df/d{name}" for name in names] + ["max |difference| from reverse"]
    widths = [max(len(r[k]) for r in rows + [header]) for k in range(len(header))]
    for row in [header] + rows:
        out.write("  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip() + "\n")
    return 0


def _table_text(explanation, arguments):
    if arguments.format == "markdown":
        return explanation.to_markdown()
    if arguments.format == "html":
        return explanation.to_html()
    style = "ascii" if arguments.ascii or not _can_print_unicode() else "unicode"
    return explanation.to_text(style)


def _can_print_unicode():
    encoding = getattr(sys.stdout, "encoding", None) or "ascii"
    try:
        "v̇₋₁ ∂".encode(encoding)
        return True
    except (UnicodeEncodeError, LookupError):
        return False


def command_trace(arguments, out):
    import chainrule as cr
    function, point = formula_and_point(arguments)
    wrt = arguments.wrt or next(iter(point))
    if wrt not in point:
        raise CommandError(f"--wrt {wrt}: not a variable of the formula ({', '.join(point)})")
    explanation = cr.explain(function, *point.values(), mode=arguments.mode, wrt=wrt, digits=arguments.digits,
                             lecture=arguments.lecture)
    out.write(_table_text(explanation, arguments) + "\n")
    return 0


def command_graph(arguments, out):
    from .export import draw
    function, point = formula_and_point(arguments)
    path = arguments.output
    if not path.lower().endswith((".png", ".svg", ".dot", ".pdf")):
        raise CommandError(f"-o {path}: the file name must end in .png, .svg, .pdf or .dot")
    try:
        written = draw(function, *point.values(), path=path, partials=not arguments.no_partials,
                       mode=arguments.mode)
    except OSError as error:
        raise CommandError(f"-o {path}: cannot write the picture ({error.strerror or error})") from None
    out.write(f"wrote {written}\n")
    return 0


def command_formula(arguments, out):
    from . import symbolic
    expression = load_formula(arguments.formula)
    names = expression.variables
    if not names:
        raise CommandError("the formula has no variables to differentiate with respect to")
    function = expression.function(names)
    if arguments.wrt is not None and arguments.wrt not in names:
        raise CommandError(f"--wrt {arguments.wrt}: not a variable of the formula ({', '.join(names)})")
    out.write(f"f = {symbolic.formula(function, names)}\n")
    if arguments.hessian:
        result = symbolic.hessian(function, names, simplify=arguments.simplify)
        labels = [f"d2f/d{a}d{b}" for a in names for b in names]
    elif arguments.wrt is not None:
        result = symbolic.derivative(function, names, wrt=arguments.wrt, simplify=arguments.simplify)
        labels = [f"df/d{arguments.wrt}"]
    else:
        result = symbolic.gradient(function, names, simplify=arguments.simplify)
        labels = [f"df/d{name}" for name in names]
    if arguments.simplify:
        expressions = result if isinstance(result, (list, tuple)) else [result]
        replacements = []
    else:
        replacements, expressions = result
    flat = []
    for item in expressions:
        if hasattr(item, "tolist"):
            flat.extend(e for row in item.tolist() for e in (row if isinstance(row, list) else [row]))
        else:
            flat.append(item)
    if replacements:
        out.write("where\n")
        for symbol, value in replacements:
            out.write(f"  {symbol} = {value}\n")
    for label, value in zip(labels, flat):
        out.write(f"{label} = {value}\n")
    return 0


def command_demo(arguments, out):
    import chainrule as cr
    from .expression import parse
    function = parse(LECTURE_FORMULA).function(tuple(LECTURE_POINT))
    x1, x2 = LECTURE_POINT.values()
    value = float(function(x1, x2))
    forward = [float(cr.jvp(function, (x1, x2), (1.0, 0.0))[1]), float(cr.jvp(function, (x1, x2), (0.0, 1.0))[1])]
    reverse = [float(g) for g in cr.grad(function, argnums=(0, 1))(x1, x2)]
    out.write("The lecture's worked example\n"
              f"  f(x1, x2) = {LECTURE_FORMULA}\n"
              f"  at x1 = {x1}, x2 = {x2}\n\n"
              f"  value                       f      = {value:.6f}\n"
              f"  forward mode (2 JVP passes) df/dx1 = {forward[0]:.6f}   df/dx2 = {forward[1]:.6f}\n"
              f"  reverse mode (1 VJP pass)   df/dx1 = {reverse[0]:.6f}   df/dx2 = {reverse[1]:.6f}\n\n")
    explanation = cr.explain(function, x1, x2, mode="both", wrt="x1", digits=arguments.digits,
                             lecture=arguments.lecture)
    out.write(_table_text(explanation, arguments) + "\n\n")
    out.write("Try: chainrule trace \"EXPR\" --at x1=1.5,x2=0.5, chainrule graph ... -o graph.png, "
              "chainrule formula \"sin(x**2)\"\n")
    return 0


# ------------------------------------------------------------------------------------------- parser

class _Parser(argparse.ArgumentParser):
    def error(self, message):
        self.print_usage(sys.stderr)
        raise CommandError(f"{self.prog}: {message}")


def build_parser():
    """The argument parser of the ``chainrule`` command (one subparser per subcommand)."""
    parser = _Parser(prog="chainrule", description="Derivatives of formulas: values, trace tables, "
                                                   "pictures of the graph and symbolic derivatives.")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    at_help = "values of the variables, e.g. x1=1.5,x2=0.5"
    formula_help = ("the formula: numbers, variables, + - * / **, parentheses and functions such as "
                    "sin, exp, log, sqrt (quote it)")

    diff = commands.add_parser("diff", help="value and gradient at a point",
                               description="Value and gradient of a formula at a point, by one method or all.")
    diff.add_argument("formula", help=formula_help)
    diff.add_argument("--at", action="append", required=False, help=at_help)
    diff.add_argument("--method", choices=METHODS, default="reverse",
                      help="all: a table of every method and its difference from reverse mode")
    diff.set_defaults(run=command_diff)

    def table_options(sub):
        sub.add_argument("--digits", type=int, default=6, help="decimals shown (default 6)")
        sub.add_argument("--lecture", action="store_true",
                         help="round every intermediate to four decimals, as the lecture's hand calculation")
        sub.add_argument("--format", choices=("text", "markdown", "html"), default="text")
        sub.add_argument("--ascii", action="store_true", help="plain ASCII names (v_dot[1]) instead of v̇₁")

    trace = commands.add_parser("trace", help="evaluation-trace tables",
                                description="The primal, tangent and adjoint traces of a formula at a point.")
    trace.add_argument("formula", help=formula_help)
    trace.add_argument("--at", action="append", help=at_help)
    trace.add_argument("--mode", choices=("forward", "reverse", "both"), default="both")
    trace.add_argument("--wrt", help="the variable that forward mode seeds (default: the first in --at)")
    table_options(trace)
    trace.set_defaults(run=command_trace)

    graph = commands.add_parser("graph", help="picture of the computational graph",
                                description="Draw the computational graph with the local partials at the point.")
    graph.add_argument("formula", help=formula_help)
    graph.add_argument("--at", action="append", help=at_help)
    graph.add_argument("-o", "--output", default="graph.png", help="graph.png, graph.svg, graph.pdf or graph.dot")
    graph.add_argument("--mode", choices=("none", "forward", "reverse"), default="reverse",
                       help="also show tangents (forward) or adjoints (reverse) on the nodes")
    graph.add_argument("--no-partials", action="store_true", help="leave the edges unlabelled")
    graph.set_defaults(run=command_graph)

    formula = commands.add_parser("formula", help="symbolic derivative",
                                  description="The symbolic gradient, one partial derivative or the Hessian, "
                                              "exported from the derivative graph with shared subexpressions.")
    formula.add_argument("formula", help=formula_help)
    formula.add_argument("--wrt", help="one variable: print df/d(that variable) only")
    formula.add_argument("--hessian", action="store_true", help="print the Hessian")
    formula.add_argument("--simplify", action="store_true", help="one simplified expression per entry")
    formula.set_defaults(run=command_formula)

    demo = commands.add_parser("demo", help="the lecture's worked example end to end",
                               description="Value and gradient of the lecture's example by forward and reverse "
                                           "mode, with the trace tables.")
    table_options(demo)
    demo.set_defaults(run=command_demo)
    return parser


def main(argv=None, out=None):
    """Run the command with ``argv`` (default: sys.argv[1:]); returns the exit status.

    >>> main(["diff", "x*y", "--at", "x=2,y=3"])
    f(x=2, y=3) = 6
    df/dx = 3
    df/dy = 2
    0
    """
    out = out or sys.stdout
    parser = build_parser()
    try:
        arguments = parser.parse_args(argv)
        if arguments.command is None:
            parser.print_help(out)
            return 2
        return arguments.run(arguments, out)
    except BrokenPipeError:
        # The reader (e.g. `| head`) stopped early: not an error of the command.
        import os
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except CommandError as error:
        name = getattr(locals().get("arguments"), "command", None)
        prefix = f"chainrule {name}" if name else "chainrule"
        message = str(error)
        if not message.startswith("chainrule"):
            message = f"{prefix}: error: {message}"
        sys.stderr.write(message + "\n")
        return 2
