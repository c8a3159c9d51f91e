"""A safe parser for formulas typed by users (the ``chainrule`` command): numbers, names, ``+ - * / **``,
parentheses and calls to a whitelist of chainrule.numpy functions. Text never reaches eval or exec."""
import inspect
import keyword

MAX_LENGTH = 2000
MAX_DEPTH = 64

# Callable names -> (chainrule.numpy function, number of arguments). Aliases are SymPy's spellings.
FUNCTIONS = {
    **{name: (name, 1) for name in (
        "sin", "cos", "tan", "arcsin", "arccos", "arctan", "sinh", "cosh", "tanh", "arcsinh", "arccosh",
        "arctanh", "exp", "exp2", "expm1", "log", "log2", "log10", "log1p", "sqrt", "cbrt", "abs", "sign",
        "floor", "ceil", "square", "sinc")},
    "asin": ("arcsin", 1), "acos": ("arccos", 1), "atan": ("arctan", 1), "asinh": ("arcsinh", 1),
    "acosh": ("arccosh", 1), "atanh": ("arctanh", 1),
    **{name: (name, 2) for name in ("arctan2", "hypot", "maximum", "minimum", "logaddexp", "power")},
    "atan2": ("arctan2", 2),
}
CONSTANTS = {"pi": 3.141592653589793, "e": 2.718281828459045}

_OPERATORS = ("**", "+", "-", "*", "/", "(", ")", ",")
# Characters that users may try, with the reason they are refused.
_HINTS = {
    "^": "'^' is not a power here; write x**2",
    ".": "attribute access is not allowed",
    "[": "subscripts are not allowed",
    "]": "subscripts are not allowed",
    "=": "assignments and comparisons are not allowed",
    ":": "lambdas, slices and annotations are not allowed",
    "'": "strings are not allowed",
    '"': "strings are not allowed",
    ";": "only one expression is allowed",
    "@": "matrix products and decorators are not allowed",
    "{": "dictionaries and sets are not allowed",
    "}": "dictionaries and sets are not allowed",
    "_": "names starting with an underscore are not allowed",
}


class ExpressionError(ValueError):
    """A formula that the parser refuses; ``position`` is the 0-based column of the offending character."""

    def __init__(self, message, text, position):
        self.text = text
        self.position = position
        self.reason = message
        shown = text if len(text) <= 120 else text[:120] + "..."
        caret = " " * min(position, len(shown)) + "^"
        super().__init__(f"{message} (column {position + 1})\n  {shown}\n  {caret}")


def _tokenize(text):
    """(kind, value, position) tokens: kind is "number", "name" or "op"."""
    tokens = []
    position = 0
    while position < len(text):
        char = text[position]
        if char in " \t":
            position += 1
            continue
        if char.isdigit() or (char == "." and text[position + 1:position + 2].isdigit()):
            start = position
            while position < len(text) and text[position].isdigit():
                position += 1
            if position < len(text) and text[position] == ".":
                position += 1
                while position < len(text) and text[position].isdigit():
                    position += 1
            if position < len(text) and text[position] in "eE":
                mark = position + 1
                if mark < len(text) and text[mark] in "+-":
                    mark += 1
                if mark < len(text) and text[mark].isdigit():
                    position = mark
                    while position < len(text) and text[position].isdigit():
                        position += 1
            literal = text[start:position]
            if position < len(text) and (text[position].isalpha() or text[position] == "_"):
                raise ExpressionError("a number must not run into a name; write 2*x, not 2x", text, position)
            value = float(literal) if any(c in literal for c in ".eE") else int(literal)
            tokens.append(("number", value, start))
            continue
        if char.isascii() and (char.isalpha() or char == "_"):
            start = position
            while position < len(text) and text[position].isascii() and (text[position].isalnum()
                                                                       or text[position] == "_"):
                position += 1
            name = text[start:position]
            if name.startswith("_"):
                raise ExpressionError(_HINTS["_"], text, start)
            if keyword.iskeyword(name):
                raise ExpressionError(f"the Python keyword {name!r} is not allowed in a formula", text, start)
            tokens.append(("name", name, start))
            continue
        operator = "**" if text.startswith("**", position) else char
        if operator in _OPERATORS:
            tokens.append(("op", operator, position))
            position += len(operator)
            continue
        hint = _HINTS.get(char, f"the character {char!r} is not allowed")
        raise ExpressionError(hint, text, position)
    tokens.append(("end", None, len(text)))
    return tokens


class _Parser:
    def __init__(self, text, variables):
        self.text = text
        self.tokens = _tokenize(text)
        self.index = 0
        self.depth = 0
        self.variables = variables
        self.seen = []

    def peek(self):
        return self.tokens[self.index]

    def take(self):
        token = self.tokens[self.index]
        self.index += 1
        return token

    def fail(self, message, position):
        raise ExpressionError(message, self.text, position)

    def expect(self, operator):
        kind, value, position = self.take()
        if kind != "op" or value != operator:
            shown = "the end" if kind == "end" else repr(value)
            self.fail(f"expected {operator!r} but found {shown}", position)

    def enter(self, position):
        self.depth += 1
        if self.depth > MAX_DEPTH:
            self.fail(f"the formula nests deeper than {MAX_DEPTH} levels", position)

    def parse(self):
        node = self.sum()
        kind, value, position = self.peek()
        if kind != "end":
            if kind in ("name", "number") or value == "(":
                self.fail("an operator is missing before this (write 2*x, not 2 x)", position)
            self.fail(f"unexpected {value!r}", position)
        return node

    def sum(self):
        node = self.product()
        while self.peek()[0] == "op" and self.peek()[1] in ("+", "-"):
            _, operator, position = self.take()
            node = ("binary", operator, node, self.product(), position)
        return node

    def product(self):
        node = self.unary()
        while self.peek()[0] == "op" and self.peek()[1] in ("*", "/"):
            _, operator, position = self.take()
            node = ("binary", operator, node, self.unary(), position)
        return node

    def unary(self):
        kind, value, position = self.peek()
        if kind == "op" and value in ("-", "+"):
            self.take()
            self.enter(position)
            operand = self.unary()
            self.depth -= 1
            return ("negate", operand, position) if value == "-" else operand
        return self.power()

    def power(self):
        base = self.atom()
        if self.peek()[0] == "op" and self.peek()[1] == "**":
            _, _, position = self.take()
            self.enter(position)
            exponent = self.unary()  # right-associative, and 2**-1 is allowed
            self.depth -= 1
            return ("binary", "**", base, exponent, position)
        return base

    def atom(self):
        kind, value, position = self.take()
        if kind == "number":
            return ("number", value, position)
        if kind == "name":
            if self.peek()[0] == "op" and self.peek()[1] == "(":
                return self.call(value, position)
            if value in FUNCTIONS:
                self.fail(f"{value} is a function; call it as {value}(...)", position)
            if value in CONSTANTS:
                return ("number", CONSTANTS[value], position)
            if self.variables is not None and value not in self.variables:
                known = ", ".join(self.variables) or "none"
                self.fail(f"unknown name {value!r}: give it a value (the variables given are: {known}) "
                          f"or use a function call or a constant (pi, e)", position)
            if value not in self.seen:
                self.seen.append(value)
            return ("variable", value, position)
        if kind == "op" and value == "(":
            self.enter(position)
            node = self.sum()
            self.depth -= 1
            self.expect(")")
            return node
        if kind == "end":
            self.fail("the formula ends where a number, name or '(' is expected", position)
        self.fail(f"unexpected {value!r} where a number, name or '(' is expected", position)

    def call(self, name, position):
        if name not in FUNCTIONS:
            self.fail(f"unknown function {name!r}; allowed functions: {', '.join(sorted(FUNCTIONS))}", position)
        self.take()  # "("
        self.enter(position)
        arguments = []
        if not (self.peek()[0] == "op" and self.peek()[1] == ")"):
            arguments.append(self.sum())
            while self.peek()[0] == "op" and self.peek()[1] == ",":
                self.take()
                arguments.append(self.sum())
        self.depth -= 1
        self.expect(")")
        target, arity = FUNCTIONS[name]
        if len(arguments) != arity:
            self.fail(f"{name} takes {arity} argument{'s' if arity > 1 else ''}, got {len(arguments)}", position)
        return ("call", target, arguments, position)


class Expression:
    """A parsed formula: ``variables`` in order of first appearance; calling it evaluates with
    chainrule.numpy, so every chainrule transform applies."""

    def __init__(self, text, tree, variables):
        self.text = text
        self.tree = tree
        self.variables = tuple(variables)

    def __call__(self, *args):
        if len(args) != len(self.variables):
            raise TypeError(f"the formula {self.text!r} takes {len(self.variables)} argument(s) "
                            f"({', '.join(self.variables)}), got {len(args)}")
        return _evaluate(self.tree, dict(zip(self.variables, args)))

    def function(self, order=None):
        """A plain function of the variables in ``order`` (default: ``variables``), with those parameter names."""
        order = tuple(self.variables if order is None else order)
        missing = [v for v in self.variables if v not in order]
        if missing:
            raise ValueError(f"the formula uses {', '.join(missing)}, which the order {order} leaves out")
        tree = self.tree

        def formula(*args):
            return _evaluate(tree, dict(zip(order, args)))

        formula.__signature__ = inspect.Signature(
            [inspect.Parameter(name, inspect.Parameter.POSITIONAL_OR_KEYWORD) for name in order])
        formula.__name__ = "formula"
        formula.__doc__ = self.text
        return formula

    @property
    def functions(self):
        """The chainrule.numpy functions the formula calls, in order of first appearance.

        >>> parse("abs(x) + sin(x)*abs(y)").functions
        ('abs', 'sin')
        """
        names = []
        for node in _postfix(self.tree):
            if node[0] == "call" and node[1] not in names:
                names.append(node[1])
        return tuple(names)

    def first_nonfinite(self, values):
        """The first operation that turns finite numbers into NaN or infinity at ``values`` (a dict),
        written with those numbers and its result, e.g. ``'log(-1) = nan'``; None when every result is finite.

        >>> parse("2 + log(x - 3)").first_nonfinite({"x": 2.0})
        'log(-1) = nan'
        >>> parse("x / (y - 1)").first_nonfinite({"x": 1.0, "y": 1.0}) is None, parse("x").first_nonfinite({"x": 1.0})
        (False, None)
        """
        import numpy
        stack = []
        with numpy.errstate(all="ignore"):
            for node in _postfix(self.tree):
                if node[0] in ("number", "variable"):
                    stack.append(float(node[1]) if node[0] == "number" else float(values[node[1]]))
                    continue
                if node[0] == "negate":
                    arguments = [stack.pop()]
                elif node[0] == "binary":
                    arguments = stack[-2:]
                    del stack[-2:]
                else:
                    arguments = stack[len(stack) - len(node[2]):]
                    del stack[len(stack) - len(node[2]):]
                result = float(_evaluate_node(node, arguments))
                if not numpy.isfinite(result) and all(numpy.isfinite(a) for a in arguments):
                    if node[0] == "binary":
                        # parenthesized negatives: (-1) ** 0.5, not -1 ** 0.5 (which is -(1 ** 0.5))
                        left, right = (f"({a:g})" if a < 0 else f"{a:g}" for a in arguments)
                        return f"{left} {node[1]} {right} = {result:g}"
                    return f"{node[1]}({', '.join(f'{a:g}' for a in arguments)}) = {result:g}"
                stack.append(result)
        return None

    def __repr__(self):
        return f"Expression({self.text!r})"


def parse(text, variables=None):
    """Parse ``text`` into an Expression; with ``variables``, other names are refused.

    >>> import chainrule as cr
    >>> expression = parse("sin(x**2)")
    >>> expression.variables, float(cr.grad(expression)(2.0))
    (('x',), -2.6145744834544478)
    >>> parse("__import__('os')")
    Traceback (most recent call last):
      ...
    chainrule.expression.ExpressionError: names starting with an underscore are not allowed (column 1)
      __import__('os')
      ^
    """
    if not isinstance(text, str):
        raise TypeError(f"parse: the formula must be a string, got {type(text).__name__}")
    if len(text) > MAX_LENGTH:
        raise ExpressionError(f"the formula is longer than {MAX_LENGTH} characters", text, MAX_LENGTH)
    if not text.strip():
        raise ExpressionError("the formula is empty", text, 0)
    parser = _Parser(text, None if variables is None else tuple(variables))
    tree = parser.parse()
    return Expression(text, tree, parser.seen)


def _postfix(tree):
    """The tree as a postfix program, built without recursion (a long sum is a deep left spine)."""
    program, stack = [], [(tree, False)]
    while stack:
        node, expanded = stack.pop()
        kind = node[0]
        if kind in ("number", "variable"):
            program.append(node)
            continue
        if expanded:
            program.append(node)
            continue
        stack.append((node, True))
        children = [node[1]] if kind == "negate" else [node[2], node[3]] if kind == "binary" else node[2]
        stack.extend((child, False) for child in reversed(children))
    return program


_BINARY = {"+": "add", "-": "subtract", "*": "multiply", "/": "divide", "**": "power"}


def _evaluate_node(node, arguments):
    """One operation of the postfix program on plain numbers (NumPy semantics: NaN, not exceptions)."""
    import numpy
    if node[0] == "negate":
        return numpy.negative(arguments[0])
    if node[0] == "binary":
        return getattr(numpy, _BINARY[node[1]])(*arguments)
    return getattr(numpy, node[1])(*arguments)


def _evaluate(tree, values):
    from . import numpy as np
    stack = []
    for node in _postfix(tree):
        kind = node[0]
        if kind == "number":
            # Integer literals evaluate as floats: in int64 2**64 wraps to 0 and 2**-1 is refused.
            stack.append(float(node[1]))
        elif kind == "variable":
            stack.append(values[node[1]])
        elif kind == "negate":
            stack.append(np.negative(stack.pop()))
        elif kind == "binary":
            right, left = stack.pop(), stack.pop()
            stack.append(getattr(np, _BINARY[node[1]])(left, right))
        else:
            count = len(node[2])
            arguments = stack[len(stack) - count:]
            del stack[len(stack) - count:]
            stack.append(getattr(np, node[1])(*arguments))
    return stack[0]
