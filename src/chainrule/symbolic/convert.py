"""Graph -> SymPy (a loop over the equations, shared values kept as named replacements) and
SymPy -> a chainrule-differentiable function, both through ``table.TABLE``."""
import numpy as np

from ..core.graph import Literal, Var, inline_calls, use_counts
from ..ops import arithmetic, comparison, elementwise
from .table import REFUSED, TABLE


def sympy_module():
    import sympy  # lazily: importing SymPy takes longer than importing chainrule
    return sympy


class SymbolicError(NotImplementedError):
    """A primitive or SymPy function that has no counterpart on the other side."""


# ------------------------------------------------------------------------------------ Graph -> SymPy

def number_to_sympy(value):
    """A number as SymPy writes it: integral floats become Integers so that ``1.0 * x`` is ``x``.

    >>> number_to_sympy(2.0), number_to_sympy(0.5), number_to_sympy(True)
    (2, 0.500000000000000, True)
    """
    sympy = sympy_module()
    if isinstance(value, (bool, np.bool_)):
        return sympy.true if value else sympy.false
    if isinstance(value, (int, np.integer)):
        return sympy.Integer(int(value))
    if isinstance(value, (complex, np.complexfloating)) and value.imag:
        return sympy.Float(value.real) + sympy.I * sympy.Float(value.imag)
    value = float(np.real(value))
    if value.is_integer() and abs(value) < 2 ** 53:
        return sympy.Integer(int(value))
    return sympy.Float(value)


def _literal_to_sympy(value):
    array = np.asarray(value)
    if array.ndim == 0:
        return number_to_sympy(array.item())
    out = np.empty(array.shape, dtype=object)
    for index in np.ndindex(*array.shape):
        out[index] = number_to_sympy(array[index].item())
    return out


def _unwrap(value):
    """0-d object arrays become their element; plain numbers become SymPy numbers."""
    if isinstance(value, np.ndarray):
        if value.ndim == 0:
            value = value.item()
        elif value.dtype != object:
            return _literal_to_sympy(value)
        else:
            return value
    if isinstance(value, (int, float, bool, np.number, np.bool_)):
        return number_to_sympy(value)
    return value


def _elementwise(build, sympy, args, params):
    if not any(isinstance(a, np.ndarray) for a in args):
        return build(sympy, *args, **params)
    arrays = np.broadcast_arrays(*[np.asarray(a, dtype=object) if isinstance(a, np.ndarray)
                                   else np.array(a, dtype=object) for a in args])
    out = np.empty(arrays[0].shape, dtype=object)
    for index in np.ndindex(*out.shape):
        out[index] = build(sympy, *(a[index] for a in arrays), **params)
    return out


def _integer_operand(value, name, position):
    """Index arrays must be known numbers; a computed index (from argsort, ...) has no formula."""
    if isinstance(value, np.ndarray) and value.dtype == object:
        try:
            return np.array([int(v) for v in value.ravel()], dtype=np.int64).reshape(value.shape)
        except TypeError:
            raise SymbolicError(f"{name}: input {position} is an index computed from the variables; "
                                f"SymPy cannot export data-dependent indexing") from None
    return value


def apply_equation(equation, args, sympy):
    """The SymPy value(s) of one equation, from the table row of its primitive."""
    primitive = equation.primitive
    name = primitive.name
    row = TABLE.get(primitive)
    if row is None:
        reason = REFUSED.get(primitive, "it has no row in chainrule.symbolic.table.TABLE")
        raise SymbolicError(f"the primitive {name!r} has no SymPy counterpart: {reason}")
    params = equation.params
    try:
        if row.elementwise:
            return _elementwise(row.build, sympy, args, params)
        if row.build is not None:
            return row.build(sympy, *args, **params)
        arrays = [np.asarray(a, dtype=object) if not isinstance(a, np.ndarray) else a for a in args]
        first_index = row.index_operands
        if first_index is not None:
            arrays = arrays[:first_index] + [_integer_operand(a, name, first_index + k)
                                             for k, a in enumerate(arrays[first_index:])]
        return primitive.impl(*arrays, **params)
    except SymbolicError:
        raise
    except NotImplementedError as error:
        raise SymbolicError(f"the primitive {name!r}: {error}") from None


def _is_atomic(expression):
    return not getattr(expression, "args", ()) or expression.is_Number


# SymPy evaluates every expression it builds (looking for multiples of pi and I, re-sorting products),
# which dominated the export of large graphs. _Shortcuts builds the very same objects without that work
# where it provably changes nothing; every other value goes through the table and SymPy's evaluation.
_VERIFIED = {}  # (class, nesting of the argument) -> nargs of the unevaluated object, or None


class _Product:
    """A product not built yet: ``left * right``, with all its factors in ``factors``."""

    __slots__ = ("left", "right", "factors")

    def __init__(self, left, right, factors):
        self.left, self.right, self.factors = left, right, factors

    def build(self, mul):
        """Mul(*factors) once, instead of a Mul per multiplication (each re-sorts the growing product).

        Distinct factors (functions and symbols, no numbers or exponentials) are simply sorted by either
        way; a repeated factor merges into a power, so then the multiplications are done as written."""
        if len(set(self.factors)) == len(self.factors):
            return mul(*self.factors)
        done = {}
        stack = [self]
        while stack:  # the product tree, children first, without recursion (chains can be long)
            node = stack[-1]
            pending = [part for part in (node.left, node.right) if type(part) is _Product and part not in done]
            if pending:
                stack.extend(pending)
                continue
            stack.pop()
            done[node] = mul(*(done[part] if type(part) is _Product else part for part in (node.left, node.right)))
        return done[self]


class _Shortcuts:
    """Fast construction of two kinds of scalar values, identical to what SymPy's constructors return.

    * ``f(a)`` for a one-argument SymPy function whose argument ``a`` is a "plain" symbol (real, as the
      exporter makes them) or plain functions nested around one: SymPy's evaluation of it depends only
      on the nesting (the classes), not on the symbol's name, so it is checked once per nesting on a
      probe symbol; when it changes nothing, the object is created directly.
    * a product of such values, whose factors SymPy never merges except into powers of a repeated
      factor (exponentials, which merge as E**(a+b), are left out): collected, and built once.
    """

    __slots__ = ("sympy", "enabled", "probe", "assumptions", "nesting", "keep", "heads")

    def __init__(self, sympy):
        self.sympy = sympy
        # Under ``with sympy.evaluate(False)`` SymPy's own constructors build nested, unevaluated forms.
        self.enabled = sympy.core.parameters.global_parameters.evaluate
        self.probe = sympy.Symbol("chainrule_probe", real=True)
        self.assumptions = self.probe.assumptions0
        self.nesting = {}  # id(expression) -> its classes, outside in; () for a plain symbol
        self.keep = []  # the expressions whose ids are keys above, so that those ids stay theirs
        self.heads = {}  # primitive -> its one-argument SymPy function class
        for primitive, row in TABLE.items():
            head = getattr(sympy, row.head, None) if row.head is not None else None
            if isinstance(head, type) and issubclass(head, sympy.Function):
                self.heads[primitive] = head

    def add_symbol(self, symbol):
        """Mark ``symbol`` plain if it carries exactly the probe's assumptions."""
        if getattr(symbol, "is_Symbol", False) and symbol.assumptions0 == self.assumptions:
            self.nesting[id(symbol)] = ()
            self.keep.append(symbol)

    def verified(self, head, inner):
        """``nargs`` of the unevaluated ``head(...)`` of an argument nested as ``inner`` when SymPy's
        evaluation of it changes nothing, else None (remembered for the process)."""
        key = (head, inner)
        if key not in _VERIFIED:
            nargs = None
            try:
                argument = self.probe
                for cls in reversed(inner):  # each level was verified when first built
                    argument = cls(argument, evaluate=True)
                public = head(argument, evaluate=True)
                unevaluated = self.sympy.Basic.__new__(head, argument)
                unevaluated.nargs = public.nargs
                if (type(public) is head and public.args == (argument,) and public == unevaluated
                        and str(public) == str(unevaluated)):
                    nargs = public.nargs
            except Exception:  # any failure: no shortcut, the table builds it as before
                pass
            _VERIFIED[key] = nargs
        return _VERIFIED[key]

    def build(self, equation, env, uses):
        """The value of a one-argument function or a single-use product by a shortcut, or None."""
        if not self.enabled:
            return None
        inputs = equation.inputs
        primitive = equation.primitive
        if len(inputs) == 1:
            head = self.heads.get(primitive)
            if head is None or type(inputs[0]) is not Var:
                return None
            argument = env[inputs[0]]
            if type(argument) is _Product:
                argument = env[inputs[0]] = self.value(argument)
            inner = self.nesting.get(id(argument))
            if inner is None or len(inner) > 8:
                return None
            key = (head, inner)
            nargs = _VERIFIED[key] if key in _VERIFIED else self.verified(head, inner)
            if nargs is None:
                return None
            value = self.sympy.Basic.__new__(head, argument)
            value.nargs = nargs
            self.nesting[id(value)] = (head,) + inner
            self.keep.append(value)
            return value
        if primitive is arithmetic.mul and len(inputs) == 2 and uses.get(equation.outputs[0], 0) == 1 and \
                type(inputs[0]) is Var and type(inputs[1]) is Var:
            left, right = env[inputs[0]], env[inputs[1]]
            left_factors = self.factors(left)
            right_factors = self.factors(right) if left_factors is not None else None
            return None if right_factors is None else _Product(left, right, left_factors + right_factors)
        return None

    def factors(self, value):
        """The factors of ``value`` if it may join a collected product, else None."""
        if type(value) is _Product:
            return value.factors
        inner = self.nesting.get(id(value))
        if inner is None or (inner and issubclass(inner[0], self.sympy.exp)):
            return None
        return [value]

    def value(self, value):
        return value.build(self.sympy.Mul) if type(value) is _Product else value


def graph_to_sympy(graph, inputs, *, shared=True, prefix="v", taken=()):
    """SymPy values of ``graph``'s outputs for ``inputs`` (symbols or object arrays of them).

    With ``shared``, a value used more than once becomes a replacement ``(symbol, expression)`` named
    after its trace number (``v7`` is v_7 of ``cr.explain`` on the same graph). Returns
    (replacements, outputs).

    >>> import chainrule as cr, chainrule.numpy as np, sympy
    >>> x, y = sympy.symbols("x y")
    >>> graph_to_sympy(cr.make_graph(lambda x, y: np.sin(x) * y + np.sin(x))(0.0, 0.0), [x, y])
    ([(v1, sin(x))], [v1*y + v1])
    >>> graph_to_sympy(cr.make_graph(cr.grad(lambda x: np.sin(x) * x))(0.0), [x])
    ([], [x*cos(x) + sin(x)])
    """
    sympy = sympy_module()
    graph = inline_calls(graph)
    uses = use_counts(graph)
    env = dict(zip(graph.invars, inputs))
    shortcuts = _Shortcuts(sympy)
    for value in inputs:
        shortcuts.add_symbol(value)
    replacements = []
    number = 0
    taken = set(taken)

    def read(atom):
        return _literal_to_sympy(atom.value) if isinstance(atom, Literal) else shortcuts.value(env[atom])

    def share(value, label):
        if _is_atomic(value):
            return value
        name = label
        while name in taken:
            name = "_" + name
        symbol = sympy.Symbol(name, real=True)
        shortcuts.add_symbol(symbol)
        replacements.append((symbol, value))
        return symbol

    for equation in graph.equations:
        out = None if equation.primitive.multiple_results else shortcuts.build(equation, env, uses)
        if out is not None:  # a scalar
            number += 1
            var = equation.outputs[0]
            env[var] = share(out, f"{prefix}{number}") if shared and uses.get(var, 0) > 1 else out
            continue
        out = apply_equation(equation, [read(a) for a in equation.inputs], sympy)
        outs = list(out) if equation.primitive.multiple_results else [out]
        for var, value in zip(equation.outputs, outs):
            number += 1
            value = _unwrap(value)
            if shared and uses.get(var, 0) > 1:
                if isinstance(value, np.ndarray):
                    shared_value = np.empty(value.shape, dtype=object)
                    for index in np.ndindex(*value.shape):
                        suffix = "_".join(map(str, index))
                        shared_value[index] = share(value[index], f"{prefix}{number}_{suffix}")
                    value = shared_value
                else:
                    value = share(value, f"{prefix}{number}")
            env[var] = value
    return replacements, [read(v) for v in graph.outvars]


def count_operations(result):
    """SymPy's operation count of an expression, a list of them, or a (replacements, expressions) pair.

    >>> import sympy
    >>> x = sympy.Symbol("x")
    >>> count_operations(([(sympy.Symbol("v1"), sympy.sin(x))], [2 * sympy.Symbol("v1")]))
    2
    """
    sympy = sympy_module()
    if isinstance(result, tuple) and len(result) == 2 and isinstance(result[0], list) and (
            not result[0] or isinstance(result[0][0], tuple)):
        replacements, expressions = result
        return sum(sympy.count_ops(value) for _, value in replacements) + count_operations(list(expressions))
    if isinstance(result, (list, tuple)):
        return sum(count_operations(item) for item in result)
    if isinstance(result, np.ndarray):
        return sum(count_operations(item) for item in result.ravel())
    if hasattr(result, "shape") and hasattr(result, "tolist"):  # a sympy.Matrix
        return sum(sympy.count_ops(item) for item in result)
    return sympy.count_ops(result)


# ------------------------------------------------------------------------------------ SymPy -> function

def _reverse_heads(sympy):
    """SymPy class -> (primitive, its row), for the rows with a head."""
    return {getattr(sympy, row.head): (primitive, row) for primitive, row in TABLE.items() if row.head is not None}


def _fold(primitive, values):
    total = values[0]
    for value in values[1:]:
        total = primitive(total, value)
    return total


def compile_sympy(outputs, symbols, replacements=()):
    """A straight-line program evaluating SymPy ``outputs`` with primitives; returns ``run(*args)``."""
    sympy = sympy_module()
    heads = _reverse_heads(sympy)
    add, sub, mul, div, neg = arithmetic.add, arithmetic.sub, arithmetic.mul, arithmetic.div, arithmetic.neg
    power, sqrt, select = arithmetic.power, elementwise.sqrt, comparison.select
    symbols = list(symbols)
    bound = {s: k for k, s in enumerate(symbols)}
    steps = []  # (expression, run(values_of_children) -> value, children)
    plan = {}

    def describe(expression):
        """How to compute one node: (operation, children)."""
        if expression in bound:
            position = bound[expression]
            return (lambda args, children: args[position]), []
        if expression.is_Number or isinstance(expression, sympy.NumberSymbol) or expression in (
                sympy.true, sympy.false):
            if expression in (sympy.true, sympy.false):
                constant = bool(expression)
            elif expression.is_Integer:
                constant = int(expression)
            elif expression.is_real is False:
                constant = complex(expression)
            else:
                constant = float(expression)
            return (lambda args, children: constant), []
        if expression.is_Symbol:
            raise SymbolicError(f"from_sympy: the symbol {expression} is not among the arguments "
                                f"({', '.join(map(str, symbols))}); pass it in symbols")
        if expression.is_Add:
            terms, signs = [], []
            for term in expression.args:
                negative = term.is_Mul and term.args[0] == -1
                terms.append(-term if negative else term)
                signs.append(negative)

            def run_add(args, children):
                total = neg(children[0]) if signs[0] else children[0]
                for value, negative in zip(children[1:], signs[1:]):
                    total = sub(total, value) if negative else add(total, value)
                return total
            return run_add, terms
        if expression.is_Mul:
            numerator, denominator, negative = [], [], False
            for factor in expression.args:
                if factor == -1:
                    negative = not negative
                elif factor.is_Pow and factor.exp.is_Number and factor.exp.is_negative:
                    denominator.append(factor.base if factor.exp == -1 else factor.base ** -factor.exp)
                else:
                    numerator.append(factor)
            count = len(numerator)

            def run_mul(args, children):
                top = _fold(mul, children[:count]) if count else 1.0
                for value in children[count:]:
                    top = div(top, value)
                return neg(top) if negative else top
            return run_mul, numerator + denominator
        if expression.is_Pow:
            base, exponent = expression.args
            if exponent == sympy.Rational(1, 2):
                return (lambda args, children: sqrt(children[0])), [base]
            if exponent == -1:
                return (lambda args, children: div(1.0, children[0])), [base]
            if exponent.is_Integer:
                integer = int(exponent)
                return (lambda args, children: power(children[0], integer)), [base]
            return (lambda args, children: power(children[0], children[1])), [base, exponent]
        if isinstance(expression, sympy.Piecewise):
            pieces = expression.args
            if pieces[-1].cond != sympy.true:
                raise SymbolicError("from_sympy: a Piecewise needs a final (value, True) piece, so that every "
                                    "point has a value")
            children = [piece.expr for piece in pieces] + [piece.cond for piece in pieces[:-1]]
            count = len(pieces)

            def run_piecewise(args, children):
                values, conditions = children[:count], children[count:]
                result = values[-1]
                for value, condition in zip(reversed(values[:-1]), reversed(conditions)):
                    result = select(condition, value, result)
                return result
            return run_piecewise, children
        primitive, row = heads.get(expression.func, (None, None))
        if primitive is None:
            raise SymbolicError(f"from_sympy: the SymPy function {expression.func.__name__} has no chainrule "
                                f"primitive; rewrite it with supported functions (e.g. expr.rewrite(exp)) or "
                                f"build it with chainrule.numpy")
        if len(expression.args) > 2 and row.variadic:
            return (lambda args, children: _fold(primitive, children)), list(expression.args)
        return (lambda args, children: primitive(*children)), list(expression.args)

    described = {}

    def visit(root):
        # Iterative post-order: derivative formulas can nest deeper than Python's recursion limit.
        stack = [(root, False)]
        while stack:
            expression, expanded = stack.pop()
            if expression in plan:
                continue
            if expression not in described:
                described[expression] = describe(expression)
            run, children = described[expression]
            if expanded:
                plan[expression] = len(steps)
                steps.append((run, [plan[c] for c in children]))
                continue
            stack.append((expression, True))
            stack.extend((c, False) for c in reversed(children) if c not in plan)

    replacement_slots = []
    for symbol, value in replacements:
        visit(value)
        replacement_slots.append((symbol, plan[value]))
        plan[symbol] = plan[value]
    for output in outputs:
        visit(output)
    output_slots = [plan[o] for o in outputs]

    def run(*args):
        if len(args) != len(symbols):
            raise TypeError(f"this function takes {len(symbols)} argument(s) "
                            f"({', '.join(map(str, symbols))}), got {len(args)}")
        values = []
        for operation, children in steps:
            values.append(operation(args, [values[c] for c in children]))
        return [values[slot] for slot in output_slots]

    return run
