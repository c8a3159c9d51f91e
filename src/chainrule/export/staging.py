"""Staging for the exporters: a function becomes a flat Graph (call primitives inlined) whose variables
carry Griewank's numbering v_{1-n} ... v_0 for inputs and v_1, v_2, ... for intermediates."""
import inspect

import numpy as np

from ..core.avals import ShapedArray
from ..core.graph import Graph, Literal, inline_calls, make_graph
from ..core.tree import tree_flatten

def stage(function, args):
    """Stage ``function`` on ``args`` into a flat Graph; returns (graph, input names, input values)."""
    if isinstance(function, Graph):
        graph = function
    else:
        graph = make_graph(function)(*args)
    leaves, _ = tree_flatten(tuple(args))
    values = [v if isinstance(v, ShapedArray) else np.asarray(v) for v in leaves]
    return inline_calls(graph), input_names(function, args), values


def input_names(function, args):
    """Names of the input leaves: the function's parameter names where each argument is one array."""
    try:
        parameters = [p.name for p in inspect.signature(function).parameters.values()
                      if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    except (TypeError, ValueError):
        parameters = []
    names = []
    for position, arg in enumerate(args):
        base = parameters[position] if position < len(parameters) else f"x{position + 1}"
        leaves, _ = tree_flatten(arg)
        if len(leaves) == 1:
            names.append(base)
        else:
            names.extend(f"{base}_{k}" for k in range(len(leaves)))
    return names


def number_variables(graph):
    """Griewank's index of every variable: inputs 1-n ... 0, then 1, 2, ... in evaluation order.

    >>> import chainrule as cr
    >>> graph = cr.make_graph(lambda x, y: x * y + x)(1.0, 2.0)
    >>> sorted(number_variables(graph).values())
    [-1, 0, 1, 2]
    """
    numbers = {}
    count = len(graph.invars)
    for position, var in enumerate(graph.invars):
        numbers[var] = position + 1 - count
    index = 0
    for equation in graph.equations:
        for var in equation.outputs:
            index += 1
            numbers[var] = index
    return numbers


def is_scalar(value):
    """Whether a value (array or aval) is a single number, shown in full in tables."""
    return np.ndim(value) == 0 if not isinstance(value, ShapedArray) else value.shape == ()


def literal_value(atom):
    """The value of a Literal as a NumPy array."""
    assert isinstance(atom, Literal)
    return np.asarray(atom.value)
