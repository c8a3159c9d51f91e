"""Machine code for graphs of tiny arrays, through numba when it is installed (an optional dependency:
``pip install chainrule[native]``); chainrule itself needs no compiler.

``native_function(graph, inputs)`` writes the graph's scalar code (``export.scalar``: one statement per element)
in a pointer dialect, ``def f(x0, x1, ..., o0, o1, ...)`` reading array inputs as ``x0[k]`` and writing each
output's elements into ``o<j>[k]``, and compiles it with ``numba.cfunc`` to a C function of a fixed signature.
A driver compiled once (``integrate.native``'s solver loops) takes such functions as first-class arguments, so
a new graph costs one small compilation (a few tenths of a second), not a new driver.

Numba's arithmetic is compiled with NumPy's error model: a division by zero, ``log(0.0)``, an overflow give
inf or nan, as NumPy does, where Python's float operations raise. Everything here answers None, never raises,
when numba is missing or the graph is outside what scalar code covers (non-float64 values, too many elements,
an operation scalar code does not write) or numba refuses the code: the caller keeps its Python route.
"""
import builtins
import math
import os
import threading

import numpy as np

from .scalar import _Unsupported, statements

# Whether to compile native code when numba is there: the environment variable CHAINRULE_NATIVE=0 switches it
# off for a process, setting this to False for the calls staged from then on.
ENABLED = os.environ.get("CHAINRULE_NATIVE", "1") != "0"
_LOCK = threading.Lock()
_NUMBA = []  # [module or None], filled at the first use: importing numba takes half a second


def numba():
    """The numba module, or None when it is not installed or native code is switched off (``ENABLED``)."""
    if not ENABLED:
        return None
    if not _NUMBA:
        with _LOCK:
            if not _NUMBA:
                try:
                    import numba as module  # noqa: PLC0415 (optional, and slow to import)
                except ImportError:
                    module = None
                _NUMBA.append(module)
    return _NUMBA[0]


def available():
    """Whether native code can be compiled here (numba is installed and not switched off)."""
    return numba() is not None


def _read_pointer_input(parameter, var):
    if var.aval.shape == ():
        return [f"{parameter}_0 = {parameter}"], [f"{parameter}_0"]
    names = [f"{parameter}_{k}" for k in range(int(np.prod(var.aval.shape, dtype=np.int64)))]
    return [f"{name} = {parameter}[{k}]" for k, name in enumerate(names)], names


def native_source(graph, name, max_elements):
    """The pointer-dialect source of a graph whose inputs and outputs are all float64 (see the module's
    docstring): 0-d inputs come as numbers, arrays as pointers, every output as a pointer to its elements."""
    for var in list(graph.invars) + list(graph.outvars):
        if np.dtype(var.aval.dtype) != np.float64:
            raise _Unsupported(f"native code takes float64 values only, got {var.aval.dtype}")
    elements, lines = statements(graph, _read_pointer_input, max_elements)
    outputs = []
    for position, atom in enumerate(graph.outvars):
        if hasattr(atom, "value"):  # a literal output (a zero cotangent)
            expressions = [repr(float(v)) for v in np.ravel(atom.value).tolist()]
            if len(expressions) != int(np.prod(atom.aval.shape, dtype=np.int64)):
                raise _Unsupported("literal output")
        else:
            expressions = elements[atom]
        outputs += [f"o{position}[{k}] = {expression}" for k, expression in enumerate(expressions)]
    parameters = [f"x{k}" for k in range(len(graph.invars))] + [f"o{k}" for k in range(len(graph.outvars))]
    body = [f"def {name}({', '.join(parameters)}):"] + [f"    {line}" for line in lines + outputs]
    return "\n".join(body) + "\n"


def signature(graph):
    """The C signature of a graph's native function: float64 for a 0-d input, a float64 pointer for an array
    input and for every output; no return value."""
    types = numba().types
    pointer = types.CPointer(types.float64)
    inputs = [types.float64 if var.aval.shape == () else pointer for var in graph.invars]
    return types.void(*inputs, *[pointer] * len(graph.outvars))


def native_function(graph, name="native", max_elements=64):
    """The graph compiled to a numba ``cfunc`` (its ``.address`` a C function pointer), or None (see the module's
    docstring)."""
    module = numba()
    if module is None:
        return None
    try:
        source = native_source(graph, name, max_elements)
    except (_Unsupported, TypeError, ValueError, IndexError):
        return None
    namespace = {"_m": math, "_inf": math.inf, "_nan": math.nan}
    # The source is generated here from the graph (names, operators, math calls, literals), never from user text.
    exec(builtins.compile(source, f"<chainrule.native {name}>", "exec"), namespace)  # noqa: S102
    try:
        compiled = module.cfunc(signature(graph), error_model="numpy")(namespace[name])
    except Exception:  # noqa: BLE001 (numba's typing and lowering errors have no common base; Python code stays)
        return None
    compiled.__source__ = source
    return compiled

