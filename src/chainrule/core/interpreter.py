"""The interpreter stack and ``bind``: a primitive call goes to the innermost interpreter among its arguments.

Each transform pushes an interpreter with a fresh level; tracers carry their interpreter, so nested
transforms never confuse their perturbations. The stack is per thread.
"""
import threading

import numpy as np

from .config import config


class ChainruleError(Exception):
    """Base class of the errors chainrule raises for misuse."""


class ConcretizationError(ChainruleError, TypeError):
    """A traced value was asked for a concrete Python number where that would lose its derivative."""


class EscapedTracerError(ChainruleError):
    """A traced value was used after the transform that created it had finished."""


class _StackState(threading.local):
    def __init__(self):
        self.stack = []


_state = _StackState()


class Interpreter:
    """Base class: ``process(primitive, args, params)`` handles a primitive call at this level."""

    __slots__ = ("level", "active", "__weakref__")

    def __init__(self):
        self.level = -1
        self.active = False

    def process(self, primitive, args, params):
        raise NotImplementedError


def push_interpreter(interpreter):
    """Make ``interpreter`` the innermost one in this thread, with a fresh level; pair with ``pop_interpreter``
    in a ``finally``."""
    stack = _state.stack
    interpreter.level = (stack[-1].level + 1) if stack else 1
    interpreter.active = True
    stack.append(interpreter)


def pop_interpreter(interpreter):
    """Remove ``interpreter`` (and any inner one an exception left behind) from this thread's stack."""
    stack = _state.stack
    interpreter.active = False
    while stack:
        if stack.pop() is interpreter:
            break


class interpreter_scope:
    """Context manager that pushes ``interpreter`` with a fresh level and always pops it."""

    __slots__ = ("interpreter",)

    def __init__(self, interpreter):
        self.interpreter = interpreter

    def __enter__(self):
        push_interpreter(self.interpreter)
        return self.interpreter

    def __exit__(self, *exc):
        pop_interpreter(self.interpreter)
        return False


def interpreter_depth():
    """How many interpreters are active in this thread (0 outside every transform)."""
    return len(_state.stack)


class Tracer:
    """A value seen by an interpreter. Subclasses hold the interpreter's data (primal, tangent, node...).

    The NumPy front installs the array methods and operators on this class.
    """

    # _view_base/_views: NumPy view bookkeeping kept by the NumPy front (see chainrule.numpy.views).
    __slots__ = ("_trace", "_view_base", "_views", "__weakref__")
    __array_priority__ = 1000

    @property
    def aval(self):
        raise NotImplementedError

    @property
    def shape(self):
        return self.aval.shape

    @property
    def dtype(self):
        return self.aval.dtype

    @property
    def ndim(self):
        return len(self.aval.shape)

    @property
    def size(self):
        return self.aval.size

    def __len__(self):
        shape = self.aval.shape
        if not shape:
            raise TypeError("len() of a 0-d traced array")
        return shape[0]

    def concrete_value(self):
        """The value underneath, for Python control flow; staging interpreters refuse."""
        raise NotImplementedError

    def __bool__(self):
        return bool(self.concrete_value())

    def _refuse_conversion(self, kind):
        raise ConcretizationError(
            f"{kind}() of a traced value (shape {self.aval.shape}, dtype {self.aval.dtype}) would silently "
            f"cut its derivative. Keep the value as an array, or, if the derivative through it is "
            f"meant to be zero, convert chainrule.stop_gradient(x) instead.")

    def __float__(self):
        self._refuse_conversion("float")

    def __int__(self):
        self._refuse_conversion("int")

    def __complex__(self):
        self._refuse_conversion("complex")

    def __index__(self):
        self._refuse_conversion("operator.index")

    def item(self, *args):
        self._refuse_conversion("item")

    def tolist(self):
        self._refuse_conversion("tolist")

    def __array__(self, dtype=None, copy=None):
        raise ConcretizationError(
            f"A traced value (shape {self.aval.shape}) was turned into a NumPy array, which would cut its "
            f"derivative. Use chainrule.numpy (import chainrule.numpy as np) for this operation, or "
            f"chainrule.stop_gradient(x) where the derivative is meant to be zero.")

    def __hash__(self):
        return id(self)


class PrimalTracer(Tracer):
    """A tracer that carries a concrete ``primal`` value (forward and reverse mode): Python control flow
    on it works, and its shape is the primal's."""

    __slots__ = ("primal",)

    @property
    def aval(self):
        from .avals import aval_of
        return aval_of(self.primal)

    @property
    def shape(self):
        try:
            return self.primal.shape
        except AttributeError:  # a Python number
            return ()

    def concrete_value(self):
        primal = self.primal
        return primal.concrete_value() if isinstance(primal, Tracer) else primal


def concrete_values(values):
    """The concrete values underneath ``values`` (arrays, and eager tracers' values), or None when one of them
    is abstract (staged or batched): what a primitive whose implementation needs values checks first."""
    concrete = []
    for value in values:
        if isinstance(value, Tracer):
            try:
                value = value.concrete_value()
            except (ChainruleError, NotImplementedError):
                return None
        concrete.append(value)
    return concrete


def bind(primitive, args, params):
    """Evaluate ``primitive`` on ``args``: by the innermost interpreter, or on arrays when none is involved."""
    top = None
    for arg in args:
        if isinstance(arg, Tracer):
            trace = arg._trace
            if top is None or trace.level > top.level:
                top = trace
    if top is None:
        out = primitive.impl(*args, **params)
        if config.debug_nans:
            check_nans(primitive, out)
        return out
    if not top.active:
        raise EscapedTracerError(
            f"primitive '{primitive.name}' received a traced value whose transform has already finished "
            f"(it escaped through a closure, a global or a container). Return it from the transformed "
            f"function instead, or pass it in as an argument.")
    return top.process(primitive, args, params)


_backward_context = threading.local()


def check_nans(primitive, out):
    """Raise FloatingPointError naming ``primitive`` if ``out`` holds a NaN (``config.debug_nans``)."""
    outs = out if primitive.multiple_results else (out,)
    for value in outs:
        array = np.asarray(value)
        if np.issubdtype(array.dtype, np.inexact) and np.isnan(array).any():
            during = getattr(_backward_context, "primitive", None)
            where = (f" in the backward pass of '{during.name}'" if during is not None else " in the forward pass")
            raise FloatingPointError(
                f"primitive '{primitive.name}' produced NaN{where} (debug_nans is on). "
                f"Check its inputs' domain, e.g. log or sqrt of negative numbers, 0/0, inf-inf.")


def set_backward_primitive(primitive):
    """Tell ``check_nans`` which primitive's derivative rule is running (None when none)."""
    _backward_context.primitive = primitive
