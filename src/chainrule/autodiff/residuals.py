"""What a recorded node must keep for its pullback: reverse mode stores only the values the VJP rules
read, and shape/dtype stand-ins (avals) for the rest, so intermediates are not held needlessly.

What a rule reads is found once per rule from its bytecode (which parameters it loads); the families
declare it exactly with a ``reads`` attribute on the pullbacks they build.
"""
import numpy as np

from ..core.avals import ShapedArray, aval_of
from ..core.primitive import parameters_read, varargs_name

class Reads:
    """Which of a pullback's (out, *inputs) it reads: ``out`` (bool), ``values`` (input positions whose
    values it uses); every other input is needed for its shape and dtype at most. A pullback may
    declare it as a ``reads = (out, positions)`` attribute."""

    __slots__ = ("out", "values", "all_but_first")

    def __init__(self, out, values):
        self.out = out
        # "all but first": a linear primitive keeps every input except its linear operand
        self.all_but_first = values == ALL_BUT_FIRST
        self.values = frozenset() if self.all_but_first else frozenset(values)


ALL_BUT_FIRST = "all but first"
_cache = {}


def reads_of(function):
    """The ``Reads`` of a pullback ``function(cotangent, out, *inputs, **params)``; None if unknown."""
    declared = getattr(function, "reads", None)
    if declared is not None:
        return Reads(*declared)
    try:
        return _cache[function]
    except (KeyError, TypeError):
        pass
    found = _analyse(function)
    try:
        _cache[function] = found
    except TypeError:
        pass
    return found


def _analyse(function):
    code = getattr(function, "__code__", None)
    names = code.co_varnames[:code.co_argcount] if code is not None else ()
    read = parameters_read(function)
    if read is None or len(names) < 2 or varargs_name(function) in read:
        return None
    return Reads(names[1] in read, [i for i, name in enumerate(names[2:]) if name in read])


KEEP_ALL = None
MISSING = object()


def plan_for(primitive, parent_mask, num_inputs):
    """(keep the output?, positions of inputs to replace by stand-ins) for a node whose differentiated
    inputs are the bits of ``parent_mask``; None keeps everything. Cached per primitive and mask."""
    if primitive.multiple_results:
        return KEEP_ALL
    parents = [bool(parent_mask >> i & 1) for i in range(num_inputs)]
    if primitive.input_vjps is not None:
        rules = [rule for rule, is_parent in zip(primitive.input_vjps, parents) if is_parent and rule is not None]
    else:
        rules = [primitive.vjp]
    keep_out = False
    values = set()
    for rule in rules:
        found = reads_of(rule)
        if found is None:
            return KEEP_ALL
        keep_out |= found.out
        values |= found.values
        if found.all_but_first:
            values |= set(range(1, num_inputs))
    dropped = tuple(i for i in range(num_inputs) if i not in values)
    if keep_out and not dropped:
        return KEEP_ALL
    return keep_out, dropped


def stand_in(value):
    """What a node keeps of a value its pullback does not read: its shape and dtype."""
    kind = type(value)
    if kind is np.ndarray:
        return ShapedArray.of_array(value)
    if kind in (int, float, complex, bool):
        return value  # Python numbers cost nothing to keep
    return aval_of(value)
