"""Symbolic differentiation without expression swell: SymPy formulas of a function and of its derivative
*graphs* (shared subexpressions stay shared), and SymPy expressions back to differentiable functions."""
import contextlib
import gc

import numpy as np

from ..core.avals import ShapedArray
from ..core.graph import make_graph
from .convert import SymbolicError, compile_sympy, count_operations, graph_to_sympy, number_to_sympy, sympy_module
from .table import REFUSED, TABLE

__all__ = ["formula", "derivative", "gradient", "hessian", "from_sympy", "lambdify", "evaluate",
           "count_operations", "graph_to_sympy", "SymbolicError", "SimplificationTimeout", "TABLE", "REFUSED"]


class SimplificationTimeout(SymbolicError):
    """``simplify=True`` ran past ``time_limit``; ``unsimplified`` holds the result as it is returned
    without ``simplify`` (a (replacements, expressions) pair)."""

    def __init__(self, seconds, unsimplified):
        self.seconds = seconds
        self.unsimplified = unsimplified
        super().__init__(f"SymPy's simplify did not finish within time_limit={seconds:g} s; the unsimplified "
                         f"result is in this exception's .unsimplified")


class _OutOfTime(BaseException):
    """Raised by the timer inside SymPy; a BaseException so that SymPy's ``except Exception`` lets it pass."""


def _within(seconds, work):
    """(True, work()) if it finishes within ``seconds``, else (False, None).

    In the main thread of a POSIX process a timer signal interrupts the work itself; elsewhere the work
    runs on a daemon thread that is abandoned at the deadline (it ends with the process)."""
    import signal
    import threading
    if hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread():
        armed = [True]

        def out_of_time(signum, frame):
            if armed[0]:
                raise _OutOfTime

        previous = signal.signal(signal.SIGALRM, out_of_time)
        try:
            # repeats in case SymPy catches the first interruption in a bare except
            signal.setitimer(signal.ITIMER_REAL, seconds, 0.05)
            try:
                return True, work()
            except _OutOfTime:
                return False, None
            finally:
                armed[0] = False
                signal.setitimer(signal.ITIMER_REAL, 0)
        finally:
            signal.signal(signal.SIGALRM, previous)
    box = {}

    def run():
        box["value"] = work()

    thread = threading.Thread(target=run, daemon=True, name="chainrule-simplify")
    thread.start()
    thread.join(seconds)
    if "value" not in box:
        return False, None
    return True, box["value"]


def _simplify_all(expressions, time_limit, unsimplified):
    sympy = sympy_module()
    work = lambda: [sympy.simplify(e) for e in expressions]
    if time_limit is None:
        return work()
    if not time_limit > 0:
        raise ValueError(f"time_limit={time_limit!r}: give a positive number of seconds, or None for no limit")
    finished, simplified = _within(float(time_limit), work)
    if not finished:
        raise SimplificationTimeout(float(time_limit), unsimplified)
    return simplified


def _names(names):
    if isinstance(names, str):
        names = names.replace(",", " ").split()
    names = tuple(str(n) for n in names)
    for name in names:
        if not name.isidentifier():
            raise ValueError(f"names: {name!r} is not a valid variable name")
    if len(set(names)) != len(names):
        raise ValueError(f"names: {names} repeats a name")
    if not names:
        raise ValueError("names: give at least one variable name, e.g. names=('x',)")
    return names


@contextlib.contextmanager
def _collector_paused():
    """Pause Python's cyclic garbage collector for one export.

    An export allocates a graph and SymPy objects that nearly all survive into the result; meanwhile
    the collector keeps re-traversing them and every object SymPy holds (one full collection cost as
    much as the rest of a 4,720-equation export). Reference counting still frees everything at once.
    """
    paused = gc.isenabled()
    if paused:
        gc.disable()
    try:
        yield
    finally:
        if paused:
            gc.enable()


def _export(function, names, *, shared):
    sympy = sympy_module()
    names = _names(names)
    with _collector_paused():
        graph = make_graph(function)(*[ShapedArray((), np.float64) for _ in names])
        symbols = [sympy.Symbol(name, real=True) for name in names]
        return graph_to_sympy(graph, symbols, shared=shared, prefix="v", taken=names)


def _expand(replacements, expressions):
    """Substitute the replacements back: one expression per entry, sharing given up."""
    resolved = {}
    for symbol, value in replacements:
        resolved[symbol] = value.xreplace(resolved)
    return [e.xreplace(resolved) for e in expressions]


def _wrt_position(names, wrt):
    if isinstance(wrt, str):
        if wrt not in names:
            raise ValueError(f"wrt={wrt!r} is not one of the names {names}")
        return names.index(wrt)
    if isinstance(wrt, int) and -len(names) <= wrt < len(names):
        return wrt % len(names)
    raise ValueError(f"wrt={wrt!r}: give a name from {names} or a position")


def formula(function, names, *, shared=False):
    """The SymPy expression of ``function`` of scalar variables ``names`` (a tuple for several outputs);
    ``shared=True`` returns the (replacements, expressions) pair instead.

    >>> import chainrule.numpy as np
    >>> formula(lambda x: np.sin(x ** 2), "x")
    sin(x**2)
    """
    names = _names(names)
    replacements, outputs = _export(function, names, shared=shared)
    if shared:
        return replacements, outputs
    outputs = _expand(replacements, outputs)
    return outputs[0] if len(outputs) == 1 else tuple(outputs)


def derivative(function, names, wrt=0, *, simplify=False, time_limit=None):
    """∂f/∂wrt, exported from the derivative graph: a (replacements, [expression]) pair whose shared
    values are named after their trace numbers, or one simplified expression with ``simplify=True``
    (SymPy's simplify can take minutes: past ``time_limit`` seconds it raises SimplificationTimeout).

    >>> import chainrule.numpy as np
    >>> derivative(lambda x: np.sin(x ** 2), "x", simplify=True)
    2*x*cos(x**2)
    """
    from ..autodiff.transforms import grad
    names = _names(names)
    position = _wrt_position(names, wrt)
    replacements, outputs = _export(grad(function, argnums=position), names, shared=True)
    if simplify:
        return _simplify_all(_expand(replacements, outputs)[:1], time_limit, (replacements, outputs))[0]
    return replacements, outputs


def gradient(function, names, *, simplify=False, time_limit=None):
    """The gradient as a (replacements, [∂f/∂x_1, ...]) pair, or a list of simplified expressions
    (within ``time_limit`` seconds, else SimplificationTimeout).

    >>> import chainrule.numpy as np
    >>> replacements, (d_dx, d_dy) = gradient(lambda x, y: np.exp(x * y) * x, "x y")
    >>> replacements
    [(v2, exp(x*y)), (v3, v2*x)]
    >>> d_dx, d_dy
    (v2 + v3*y, v3*x)
    """
    from ..autodiff.transforms import grad
    names = _names(names)
    replacements, outputs = _export(grad(function, argnums=tuple(range(len(names)))), names, shared=True)
    if simplify:
        return _simplify_all(_expand(replacements, outputs), time_limit, (replacements, outputs))
    return replacements, outputs


def hessian(function, names, *, simplify=False, time_limit=None):
    """The Hessian as a (replacements, [sympy.Matrix]) pair, or one simplified Matrix (within
    ``time_limit`` seconds, else SimplificationTimeout).

    >>> import chainrule.numpy as np
    >>> hessian(lambda x, y: x ** 2 * y, "x y", simplify=True)
    Matrix([
    [2*y, 2*x],
    [2*x,   0]])
    """
    from ..autodiff.transforms import hessian as hessian_transform
    sympy = sympy_module()
    names = _names(names)
    replacements, outputs = _export(hessian_transform(function, argnums=tuple(range(len(names)))), names,
                                    shared=True)
    count = len(names)
    unsimplified = (replacements, [sympy.Matrix(count, count, outputs)])
    if simplify:
        outputs = _simplify_all(_expand(replacements, outputs), time_limit, unsimplified)
        return sympy.Matrix(count, count, outputs)
    return unsimplified


def from_sympy(expression, symbols):
    """A chainrule function of ``symbols`` (in that order) that evaluates ``expression`` with primitives,
    so grad, jvp, explain and draw apply. ``expression`` may be one expression, a list of them, or a
    (replacements, expressions) pair as ``gradient`` returns.

    >>> import sympy, chainrule as cr
    >>> x = sympy.Symbol("x")
    >>> f = from_sympy(sympy.sin(x ** 2), [x])
    >>> float(cr.grad(f)(2.0)) == 4 * float(sympy.cos(4))
    True
    """
    sympy = sympy_module()
    symbols = [sympy.Symbol(s, real=True) if isinstance(s, str) else s for s in
               (symbols.replace(",", " ").split() if isinstance(symbols, str) else symbols)]
    replacements = ()
    single = False
    if isinstance(expression, tuple) and len(expression) == 2 and isinstance(expression[0], list):
        replacements, expression = expression
    if isinstance(expression, sympy.MatrixBase):
        shape = expression.shape
        outputs = list(expression)
    elif isinstance(expression, (list, tuple)):
        shape, outputs = None, []
        for item in expression:
            outputs.extend(list(item) if isinstance(item, sympy.MatrixBase) else [sympy.sympify(item)])
    else:
        shape, outputs, single = None, [sympy.sympify(expression)], True
    run = compile_sympy(outputs, symbols, replacements)

    def function(*args):
        values = run(*args)
        if single:
            return values[0]
        if shape is not None:
            from .. import numpy as cnp
            return cnp.reshape(cnp.stack(values), shape)
        return tuple(values)

    function.__name__ = "from_sympy"
    function.__doc__ = f"Evaluates {expression} with chainrule primitives."
    import inspect
    function.__signature__ = inspect.Signature(
        [inspect.Parameter(str(s), inspect.Parameter.POSITIONAL_OR_KEYWORD) for s in symbols])
    return function


def lambdify(result, names):
    """A plain NumPy function of ``names`` for an expression, a list, or a (replacements, expressions)
    pair (the replacements are computed once, in order).

    >>> import chainrule.numpy as np
    >>> f = lambdify(gradient(lambda x, y: x * np.sin(y), "x y"), "x y")
    >>> [float(v) for v in f(2.0, 0.0)]
    [0.0, 2.0]
    """
    sympy = sympy_module()
    symbols = [sympy.Symbol(n, real=True) for n in _names(names)]
    if isinstance(result, tuple) and len(result) == 2 and isinstance(result[0], list):
        replacements, expressions = result
        return sympy.lambdify(symbols, list(expressions), modules="numpy",
                              cse=lambda exprs: (list(replacements), list(exprs)))
    return sympy.lambdify(symbols, result, modules="numpy")


def evaluate(result, names, values):
    """Numeric values of ``result`` (see ``lambdify``) at ``values``.

    >>> evaluate(derivative(lambda x: x ** 3, "x"), "x", [2.0])
    [12.0]
    """
    # NumPy scalars, not Python floats: at a pole 1/x is inf (as every numeric method says), not ZeroDivisionError
    values = [np.asarray(v, dtype=np.result_type(np.asarray(v).dtype, float))[()] for v in values]
    out = lambdify(result, names)(*values)
    return [float(v) if np.ndim(v) == 0 else np.asarray(v, dtype=float) for v in
            (out if isinstance(out, (list, tuple)) else [out])]
