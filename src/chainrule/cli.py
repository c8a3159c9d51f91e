"""The ``chainrule`` command: ``diff``, ``trace``, ``graph``, ``formula`` and ``demo`` on formulas read by
chainrule's own safe parser (chainrule.expression); usage errors exit with status 2, mathematical ones
(a point outside the formula's domain) with status 1."""
import argparse
import math
import sys
import warnings

LECTURE_FORMULA = "(sin(x1/x2) + (x1/x2 - exp(x2))) * (x1/x2 - exp(x2))"
LECTURE_POINT = {"x1": 1.5, "x2": 0.5}
METHODS = ("all", "reverse", "forward", "fd", "complex", "symbolic")
MAX_DIGITS = 17  # float64 has at most 17 significant decimals
SIMPLIFY_SECONDS = 10.0
# Formula functions that are not complex-analytic on the reals, or have no complex version in NumPy:
# the complex step cannot differentiate them.
NOT_COMPLEX_ANALYTIC = ("abs", "sign", "floor", "ceil", "cbrt", "arctan2", "hypot", "logaddexp", "maximum",
                        "minimum")


class CommandError(Exception):
    """A user error: printed without a traceback, exit status 2."""


class MathError(CommandError):
    """The question has no numeric answer (a point outside the formula's domain): exit status 1."""

    status = 1


class MethodUnavailable(CommandError):
    """One differentiation method does not apply to this formula (``--method all`` shows it as n/a)."""


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
    text = text.lstrip()  # main() shields a leading '-' from argparse with a space
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


def expression_and_point(arguments):
    point = parse_point(arguments.at)
    formula_and_point(arguments)  # the same checks and messages
    return load_formula(arguments.formula, point), point


def checked_value(expression, point):
    """f at the point as a float; a point where f is NaN or infinite is a MathError naming the operation."""
    import numpy as np
    function = expression.function(tuple(point))
    with np.errstate(all="ignore"):
        value = float(function(*point.values()))
    if math.isfinite(value):
        return value
    at = ", ".join(f"{k}={v:g}" for k, v in point.items())
    culprit = expression.first_nonfinite(point)
    if math.isnan(value):
        where = f": {culprit}" if culprit else ""
        raise MathError(f"the point {at} is outside the formula's domain{where} (f = nan); "
                        f"choose a point where every operation is defined")
    where = f": {culprit}" if culprit else ""
    raise MathError(f"f is {value:g} at {at}{where}, so it has no derivative there (a pole, or a number beyond "
                    f"float64's range); choose another point")


# ------------------------------------------------------------------------------------------- methods

def _float(value):
    return float(value.real) if isinstance(value, complex) else float(value)


def gradient_by(method, function, point, expression=None, notes=None):
    """The gradient of ``function`` at ``point`` (a dict) by one method, as a list of floats.

    A method that does not apply raises MethodUnavailable with the reason; warnings of the
    finite-difference methods are added to ``notes`` (a list) instead of being printed raw."""
    import numpy as np
    with np.errstate(all="ignore"), warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        gradient = _gradient_by(method, function, point, expression)
    for warning in caught:
        if notes is not None and not issubclass(warning.category, (RuntimeWarning, DeprecationWarning)):
            notes.append(f"{method}: {warning.message}")
    return gradient


def _gradient_by(method, function, point, expression):
    import chainrule as cr
    values = [float(v) for v in point.values()]
    count = len(values)
    if method == "complex" and expression is not None:
        unusable = [name for name in expression.functions if name in NOT_COMPLEX_ANALYTIC]
        if unusable:
            raise MethodUnavailable(f"the complex step cannot differentiate {', '.join(unusable)} (not "
                                    f"complex-analytic, or no complex version in NumPy); use --method fd")
    if method == "reverse":
        return [float(g) for g in cr.grad(function, argnums=tuple(range(count)))(*values)]
    if method == "forward":
        gradient = []
        for position in range(count):
            tangents = [1.0 if k == position else 0.0 for k in range(count)]
            gradient.append(float(cr.jvp(function, tuple(values), tuple(tangents))[1]))
        return gradient
    if method in ("fd", "complex"):
        return _finite_difference_gradient(method, function, values)
    if method == "symbolic":
        from . import symbolic
        names = tuple(point)
        try:
            replacements, expressions = symbolic.gradient(function, names)
        except symbolic.SymbolicError as error:
            raise MethodUnavailable(str(error)) from None
        return [float(v) for v in symbolic.evaluate((replacements, expressions), names, values)]
    raise CommandError(f"--method {method!r}: choose one of {', '.join(METHODS)}")


def _finite_difference_gradient(method, function, values):
    import numpy as np
    derivative = _finite_difference()
    gradient = []
    for position in range(len(values)):
        def along(t, position=position):
            arguments = list(values)
            arguments[position] = t
            return function(*arguments)
        try:
            result, info = derivative(along, values[position], method="central" if method == "fd" else "complex",
                                      return_info=True)
        except (TypeError, ValueError) as error:  # a function without a complex version
            raise MethodUnavailable(f"the complex step does not apply: {error}") from None
        if method == "complex" and info.method != "complex":
            raise MethodUnavailable("the complex step does not apply: the formula is not complex-analytic "
                                    "here (use --method fd)")
        gradient.append(_float(np.asarray(result).item()))
    return gradient


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
    expression, point = expression_and_point(arguments)
    function = expression.function(tuple(point))
    value = checked_value(expression, point)
    names = list(point)
    at = ", ".join(f"{k}={v:g}" for k, v in point.items())
    out.write(f"f({at}) = {value:.15g}\n")
    notes = []
    if arguments.method != "all":
        try:
            gradient = gradient_by(arguments.method, function, point, expression, notes)
        except MethodUnavailable as error:
            raise CommandError(f"--method {arguments.method} does not apply to this formula: {error}") from None
        for name, component in zip(names, gradient):
            out.write(f"df/d{name} = {component:.15g}\n")
        _write_notes(notes, gradient, names)
        return 0
    reference = gradient_by("reverse", function, point, expression, notes)
    rows = []
    for method in METHODS[1:]:
        try:
            gradient = gradient_by(method, function, point, expression, notes)
        except MethodUnavailable as error:
            rows.append([method] + ["n/a"] * len(names) + [str(error)])
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # inf - inf at a singular derivative
            difference = max(abs(a - b) for a, b in zip(gradient, reference)) if names else 0.0
        rows.append([method] + [f"{g:.15g}" for g in gradient] + [f"{difference:.1e}"])
    header = ["method"] + [f"df/d{name}" for name in names] + ["max |difference| from reverse"]
    widths = [max(len(r[k]) for r in rows + [header]) for k in range(len(header))]
    for row in [header] + rows:
        out.write("  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip() + "\n")
    _write_notes(notes, reference, names)
    return 0


def _write_notes(notes, gradient, names):
    """Remarks that qualify the numbers (on stderr, so that stdout stays the numbers)."""
    singular = [name for name, component in zip(names, gradient) if not math.isfinite(component)]
    if singular:
        notes.append(f"{', '.join('df/d' + name for name in singular)} is not finite here: the formula is not "
                     f"differentiable at this point (an infinite slope, as sqrt at 0, or a corner)")
    for note in dict.fromkeys(notes):
        sys.stderr.write(f"note: {note}\n")


def _note_outside_domain(expression, point):
    """Trace tables and pictures still show where NaN or infinity appears, with a note saying so."""
    try:
        checked_value(expression, point)
    except MathError as error:
        sys.stderr.write(f"note: {error}\n")


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
    expression, point = expression_and_point(arguments)
    function = expression.function(tuple(point))
    _note_outside_domain(expression, point)
    wrt = next(iter(point)) if arguments.wrt is None else arguments.wrt
    if wrt not in point:
        raise CommandError(f"--wrt {wrt}: not a variable of the formula ({', '.join(point)})")
    explanation = cr.explain(function, *point.values(), mode=arguments.mode, wrt=wrt, digits=arguments.digits,
                             lecture=arguments.lecture)
    out.write(_table_text(explanation, arguments) + "\n")
    return 0


def command_graph(arguments, out):
    from .export import draw
    expression, point = expression_and_point(arguments)
    function = expression.function(tuple(point))
    _note_outside_domain(expression, point)
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
    options = {"simplify": arguments.simplify, "time_limit": arguments.time_limit if arguments.simplify else None}
    simplified = arguments.simplify
    try:
        if arguments.hessian:
            labels = [f"d2f/d{a}d{b}" for a in names for b in names]
            result = symbolic.hessian(function, names, **options)
        elif arguments.wrt is not None:
            labels = [f"df/d{arguments.wrt}"]
            result = symbolic.derivative(function, names, wrt=arguments.wrt, **options)
        else:
            labels = [f"df/d{name}" for name in names]
            result = symbolic.gradient(function, names, **options)
    except symbolic.SimplificationTimeout as stopped:
        sys.stderr.write(f"note: simplification was cut short after {stopped.seconds:g} s (--time-limit); "
                         f"printing the unsimplified result\n")
        result, simplified = stopped.unsimplified, False
    if simplified:
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


def _digits(text):
    """--digits: a whole number of decimals that float64 can show."""
    try:
        digits = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number of decimals, got {text!r}") from None
    if not 0 <= digits <= MAX_DIGITS:
        raise argparse.ArgumentTypeError(f"give 0 to {MAX_DIGITS} decimals, got {digits}")
    return digits


def _seconds(text):
    """--time-limit: a positive, finite number of seconds."""
    try:
        seconds = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, got {text!r}") from None
    if not (math.isfinite(seconds) and seconds > 0):
        raise argparse.ArgumentTypeError(f"give a positive number of seconds, got {text}")
    return seconds


class _Version(argparse.Action):
    """--version: print the installed version to the command's output stream and stop."""

    def __init__(self, option_strings, dest=argparse.SUPPRESS, default=argparse.SUPPRESS, help=None):
        super().__init__(option_strings, dest=dest, default=default, nargs=0, help=help)

    def __call__(self, parser, namespace, values, option_string=None):
        raise _Finished(f"chainrule {_version()}\n")


class _Finished(Exception):
    """Raised by --version: the text to print, then exit status 0."""


def _version():
    from importlib import metadata
    try:
        return metadata.version("chainrule")
    except metadata.PackageNotFoundError:
        from . import __version__
        return __version__


def build_parser():
    """The argument parser of the ``chainrule`` command (one subparser per subcommand)."""
    parser = _Parser(prog="chainrule", description="Derivatives of formulas: values, trace tables, "
                                                   "pictures of the graph and symbolic derivatives.")
    parser.add_argument("--version", action=_Version, help="print the version of chainrule and exit")
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
        sub.add_argument("--digits", type=_digits, default=6, help=f"decimals shown, 0 to {MAX_DIGITS} (default 6)")
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
    formula.add_argument("--time-limit", type=_seconds, default=SIMPLIFY_SECONDS, metavar="SECONDS",
                         help=f"with --simplify: print the unsimplified result if SymPy takes longer "
                              f"(default {SIMPLIFY_SECONDS:g})")
    formula.set_defaults(run=command_formula)

    demo = commands.add_parser("demo", help="the lecture's worked example end to end",
                               description="Value and gradient of the lecture's example by forward and reverse "
                                           "mode, with the trace tables.")
    table_options(demo)
    demo.set_defaults(run=command_demo)
    return parser


def _shield_leading_minus(parser, argv):
    """A formula such as ``-x**2`` starts like an option: give it a leading space (the parser skips it),
    so that argparse reads it as the formula. Option names and option values are left alone."""
    from .expression import ExpressionError, parse
    subparsers = [action for action in parser._actions if isinstance(action, argparse._SubParsersAction)]
    if not argv or not subparsers or argv[0] not in subparsers[0].choices:
        return argv
    options = subparsers[0].choices[argv[0]]._option_string_actions
    shielded, expects_value = [argv[0]], False
    for token in argv[1:]:
        if expects_value:
            shielded.append(token)
            expects_value = False
            continue
        if token in options:
            expects_value = options[token].nargs is None
            shielded.append(token)
            continue
        if token.startswith("-") and not token.startswith("--") and len(token) > 1:
            try:
                parse(token)
            except ExpressionError:
                pass
            else:
                token = " " + token
        shielded.append(token)
    return shielded


def main(argv=None, out=None):
    """Run the command with ``argv`` (default: sys.argv[1:]); returns the exit status.

    >>> main(["diff", "x*y", "--at", "x=2,y=3"])
    f(x=2, y=3) = 6
    df/dx = 3
    df/dy = 2
    0
    """
    import numpy as np
    out = out or sys.stdout
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    arguments = None
    try:
        arguments = parser.parse_args(_shield_leading_minus(parser, argv))
        if arguments.command is None:
            parser.print_help(out)
            return 2
        with np.errstate(all="ignore"):
            return arguments.run(arguments, out)
    except _Finished as finished:
        out.write(str(finished))
        return 0
    except BrokenPipeError:
        # The reader (e.g. `| head`) stopped early: not an error of the command.
        import os
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except CommandError as error:
        return _report(error, arguments, getattr(error, "status", 2))
    except Exception as error:  # noqa: BLE001 - a command-line tool answers with a message, never a traceback
        from .finite_diff import FiniteDifferenceError
        from .symbolic.convert import SymbolicError
        status = 1 if isinstance(error, (ArithmeticError, FiniteDifferenceError, SymbolicError)) else 2
        return _report(f"{type(error).__name__}: {error}", arguments, status)


def _report(error, arguments, status):
    name = getattr(arguments, "command", None)
    prefix = f"chainrule {name}" if name else "chainrule"
    message = str(error)
    if not message.startswith("chainrule"):
        message = f"{prefix}: error: {message}"
    sys.stderr.write(message + "\n")
    return status
