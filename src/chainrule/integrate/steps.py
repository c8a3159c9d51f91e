"""One Runge-Kutta step of ``odeint`` as one generated NumPy function: forward (a step's stage inputs and stages)
and backward (its discrete adjoint). Both are staged with chainrule operations from ``func``'s staged graph and
compiled by ``chainrule.export.to_python`` (as ``jit`` does), so that a step costs one Python call instead of one
per stage and operation; a ``func`` that cannot be staged (it branches on values) runs the same step eagerly."""
import functools
from collections import OrderedDict

import numpy as np

from .. import numpy as cnp
from ..autodiff.transforms import jvp, vjp
from ..core.avals import ShapedArray
from ..core.graph import Var, inline_calls, make_graph
from ..core.interpreter import ChainruleError
from ..export.scalar import compiled
from ..ops.loops import run_graph, stage

# Generating a step's code takes milliseconds: a solve with fewer steps runs them eagerly (unless the code for this
# func was generated before).
COMPILE_FROM_STEPS = 32


# ------------------------------------------------------------------------------------------- compiling
# The generated code depends on func only through func's staged graph. It is kept across odeint calls, keyed by
# that graph's structure and constants (a func that closes over a changed value or reads a changed global stages
# to a different graph, and compiles anew) and by the method, the signature and the kind of rule.

_GENERATED = OrderedDict()
CACHE_SIZE = 128
_STAGING_ERRORS = (ChainruleError, NotImplementedError, TypeError, ValueError, IndexError)


def clear_cache():
    """Forget the generated code kept across calls."""
    _GENERATED.clear()


def _compile(function, examples):
    """``function`` compiled for the examples' signature, or None when it cannot be staged (the eager path then
    raises any error where it happens). Where every value is a float64 array of a few elements (small ODE
    systems), the step is written with Python floats (``export.scalar``), with the NumPy code as its fallback."""
    try:
        return compiled(inline_calls(make_graph(function)(*examples)), examples, getattr(function, "__name__", "step"))
    except _STAGING_ERRORS:
        return None


def _signature(values):
    return tuple((np.shape(v), np.result_type(v).str) for v in values)


def compiled_once(problem, kind, make, examples, func_examples):
    """The rule ``make(func)`` compiled for ``examples``, where ``func(y, t, arg_leaves)`` runs func's staged graph
    (staged at ``func_examples``: y, t, *arg_leaves); None when func cannot be staged. Memoized on the call's
    Problem (a Jacobian's columns, the examples of a vmap, every call of a jitted function share it) and across
    calls by func's graph."""
    key = (kind, _signature(examples))
    if key not in problem.compiled_rules:
        problem.compiled_rules[key] = _compiled(problem, kind, make, examples, func_examples)
    return problem.compiled_rules[key]


def _compiled(problem, kind, make, examples, func_examples):
    staged = _func_graph(problem, func_examples)
    if staged is None:
        return None
    graph, graph_key = staged
    key = None if graph_key is None else (kind, problem.tableau, _signature(examples), graph_key)
    if key is not None and key in _GENERATED:
        _GENERATED.move_to_end(key)
        return _GENERATED[key]
    compiled = _compile(make(functools.partial(_run_func, graph)), examples)
    if key is not None:
        _GENERATED[key] = compiled
        if len(_GENERATED) > CACHE_SIZE:
            _GENERATED.popitem(last=False)
    return compiled


def _generated(problem, kind, examples, func_examples):
    """The code an earlier call generated for this rule of this func, or None (nothing is generated here)."""
    staged = _func_graph(problem, func_examples)
    if staged is None or staged[1] is None:
        return None
    return _GENERATED.get((kind, problem.tableau, _signature(examples), staged[1]))


def _run_func(graph, y, t, arg_leaves):
    return run_graph(graph, [y, t] + list(arg_leaves))[0]


def _func_graph(problem, examples):
    """(func staged on flat values at the examples' signature, its key), memoized on the problem; None when func
    cannot be staged."""
    key = ("func", _signature(examples))
    if key not in problem.compiled_rules:
        avals = [ShapedArray(tuple(np.shape(v)), np.result_type(v)) for v in examples]
        try:
            graph, captured = stage(lambda leaves: [problem.flat_func(leaves[0], leaves[1], list(leaves[2:]))],
                                    avals)
        except _STAGING_ERRORS:
            graph, captured = None, None
        problem.compiled_rules[key] = None if graph is None or captured else (graph, _graph_key(graph))
    return problem.compiled_rules[key]


def _graph_key(graph):
    """The graph's structure and constants as a hashable value (None when a parameter cannot be hashed)."""
    numbers = {var: position for position, var in enumerate(graph.invars)}

    def atom(value):
        return ("var", numbers[value]) if isinstance(value, Var) else _constant_key(value.value)

    try:
        equations = []
        for equation in graph.equations:
            inputs = tuple(atom(a) for a in equation.inputs)
            for var in equation.outputs:
                numbers[var] = len(numbers)
            params = tuple(sorted((name, _constant_key(value)) for name, value in equation.params.items()))
            equations.append((equation.primitive, params, inputs))
        key = (tuple((v.aval.shape, str(v.aval.dtype)) for v in graph.invars), tuple(equations),
               tuple(atom(v) for v in graph.outvars))
        hash(key)
    except TypeError:
        return None
    return key


def _constant_key(value):
    if isinstance(value, (np.ndarray, np.generic)):
        array = np.asarray(value)
        return ("array", array.dtype.str, array.shape, array.tobytes())
    if isinstance(value, (float, complex)):
        return (type(value), repr(value))  # repr tells -0.0 from 0.0, and nan equals itself
    if isinstance(value, (list, tuple)):
        return (type(value), tuple(_constant_key(v) for v in value))
    hash(value)
    return (type(value), value)


def _time(problem, value):
    return problem.time_dtype.type(value)


def _as_state(problem, value):
    """A value of the state's dtype (float32 states stay float32 whatever func computes in)."""
    if cnp.result_type(value) != problem.state_dtype:
        return cnp.asarray(value).astype(problem.state_dtype)
    return value


def combination(coefficients, vectors):
    """sum_j coefficients[j] * vectors[j] over the nonzero coefficients (None when all are zero)."""
    total = None
    for coefficient, vector in zip(coefficients, vectors):
        if coefficient != 0.0:
            term = float(coefficient) * vector
            total = term if total is None else total + term
    return total


# ------------------------------------------------------------------------------------------- forward
# Generated code pays about half a microsecond per NumPy call, so the staged step avoids calls it does not need:
# h comes in twice, as a number (for the stage times) and as a vector of the state's length (a product with a
# 0-d array would be staged as an explicit broadcast, a slow call), and the stages come back as vectors.

def forward_step(problem, y, k_first, t_n, h, arg_leaves, generated_only=False):
    """The compiled step ``(y, k_first, t_n, h, h_vector, *arg_leaves) -> (stage inputs, stages)``, each S x n
    (row 0: y and k_first), or None when ``func`` cannot be staged (or, with ``generated_only``, when no earlier
    call generated it)."""
    tableau, a = problem.tableau, problem.tableau.a

    def make(func):
        def rk_step(y, k_first, t_n, h, h_vector, *arg_leaves):
            inputs, stages = [y], [k_first]
            for i in range(1, tableau.stages):
                weighted = combination(a[i, :i], stages)
                stage_input = y if weighted is None else _as_state(problem, y + h_vector * weighted)
                inputs.append(stage_input)
                stages.append(_as_state(problem, func(stage_input, t_n + float(tableau.c[i]) * h, arg_leaves)))
            # stacked here, so that the step's code builds each array once (one list of floats, as scalar code)
            return cnp.stack(inputs), cnp.stack(stages)
        return rk_step

    time = _time(problem, t_n)
    examples = [y, k_first, time, _time(problem, h), step_vector(problem, y.size, h)] + list(arg_leaves)
    if generated_only:
        return _generated(problem, "step", examples, [y, time] + list(arg_leaves))
    return compiled_once(problem, "step", make, examples, [y, time] + list(arg_leaves))


def step_vector(problem, n, h):
    """h as a vector of the state's length (in the time's dtype), the form the compiled steps multiply by."""
    vector = np.empty(n, problem.time_dtype)
    vector.fill(h)
    return vector


# ------------------------------------------------------------------------------------------- backward

def step_adjoint(problem, pullback, inputs, stages, t_n, h, h_vector, arg_leaves, stage_bars, carry, result_bar):
    """The discrete adjoint of one step, on arrays or staged (operators and chainrule.numpy only).

    From the cotangents of the step's stages (``stage_bars``: from outputs inside the step, or None; ``carry``: of
    its last stage, which is the next step's first) and of its result, returns ``[start_bar, first_bar,
    time_bar, size_bar, *arg_bars]``: the cotangents of its start state, of its first stage (the previous step's
    last), of t_n, of h (zero for adaptive steps, whose size is a constant) and of the arguments.
    ``pullback(y, t, k_bar)`` is func's: ``(y_bar, t_bar, arg_bars)``."""
    tableau, a = problem.tableau, problem.tableau.a
    count = tableau.stages
    input_bars = [None] * count
    # later[j] = sum_{i>j} a_ij input_bars[i]: what stage j's cotangent receives from the later stage inputs
    # (times h), and, dotted with stage j, its share of h's cotangent.
    later = [None] * count
    time_bar = size_bar = 0.0
    arg_bars = None
    for i in range(count - 1, 0, -1):
        k_bar = carry if i == count - 1 else None
        if stage_bars is not None:
            k_bar = stage_bars[i] if k_bar is None else stage_bars[i] + k_bar
        later[i] = combination(a[i + 1:, i], input_bars[i + 1:])
        if later[i] is not None:
            k_bar = h_vector * later[i] if k_bar is None else k_bar + h_vector * later[i]
        y_bar, t_bar, parts = pullback(inputs[i], t_n + float(tableau.c[i]) * h, _as_state(problem, k_bar))
        input_bars[i] = y_bar + result_bar if i == count - 1 else y_bar
        time_bar = time_bar + t_bar
        if tableau.error is None:  # fixed steps: h is a function of t (adaptive ones: a constant)
            size_bar = size_bar + float(tableau.c[i]) * t_bar
        arg_bars = list(parts) if arg_bars is None else [total + part for total, part in zip(arg_bars, parts)]
    start_bar = input_bars[1]
    for bar in input_bars[2:]:
        start_bar = start_bar + bar
    later[0] = combination(a[1:, 0], input_bars[1:])
    first_bar = h_vector * later[0] if stage_bars is None else stage_bars[0] + h_vector * later[0]
    if tableau.error is None:
        products = None
        for j in range(count - 1):
            if later[j] is not None:
                product = stages[j] * later[j]
                products = product if products is None else products + product
        size_bar = size_bar + cnp.real(cnp.sum(products))
    return [_as_state(problem, start_bar), _as_state(problem, first_bar), time_bar, size_bar] + arg_bars


def _traced_pullback(func, arg_leaves):
    """func's pullback by recording it (eagerly on arrays, or while staging)."""
    def pullback(y, t, k_bar):
        _, func_pullback = vjp(lambda y, t, *leaves: func(y, t, list(leaves)), y, t, *arg_leaves)
        bars = func_pullback(k_bar)
        return bars[0], cnp.real(bars[1]), list(bars[2:])
    return pullback


def _step_backward(problem, func, with_stage_bars):
    def backward(inputs, stages, t_n, h, h_vector, *rest):
        count = len(rest) - (3 if with_stage_bars else 2)
        arg_leaves = list(rest[:count])
        stage_bars = rest[count] if with_stage_bars else None
        carry, result_bar = rest[-2:]
        return step_adjoint(problem, _traced_pullback(func, arg_leaves), inputs, stages, t_n, h, h_vector,
                            arg_leaves, stage_bars, carry, result_bar)
    backward.__name__ = "step_adjoint_with_stage_cotangents" if with_stage_bars else "step_adjoint"
    return backward


class BackwardStep:
    """The step's adjoint as the discrete adjoint calls it, ``(step index, stage_bars or None, carry, result_bar)
    -> [start_bar, first_bar, time_bar, size_bar, *arg_bars]`` (see ``step_adjoint``): generated code when the
    trajectory has enough steps to repay generating it and func can be staged (one variant for steps whose
    stages have cotangents of their own, made when first needed), else the same computation run eagerly."""

    def __init__(self, problem, trajectory, arg_leaves):
        self.problem, self.trajectory, self.arg_leaves = problem, trajectory, arg_leaves
        self.compile = len(trajectory.steps) >= COMPILE_FROM_STEPS
        self.variants = {}
        self.time_type = problem.time_dtype.type
        self.vector_of = {}

    def _variant(self, with_stage_bars, arguments):
        if with_stage_bars not in self.variants:
            problem = self.problem
            compiled = None
            if self.compile:
                func_examples = [arguments[0][0], arguments[2]] + list(self.arg_leaves)
                compiled = compiled_once(problem, ("step_vjp", with_stage_bars),
                                         lambda func: _step_backward(problem, func, with_stage_bars), arguments,
                                         func_examples)
            self.variants[with_stage_bars] = compiled or _step_backward(problem, problem.flat_func, with_stage_bars)
        return self.variants[with_stage_bars]

    def __call__(self, step, stage_bars, carry, result_bar):
        trajectory = self.trajectory
        h = trajectory.steps[step]
        h_vector = self.vector_of.get(h)
        if h_vector is None:  # fixed steps share a few sizes: their vectors are made once
            h_vector = self.vector_of[h] = step_vector(self.problem, carry.size, h)
            if len(self.vector_of) > 64:
                self.vector_of = {h: h_vector}
        arguments = [trajectory.stage_inputs[step], trajectory.stages[step], self.time_type(trajectory.times[step]),
                     self.time_type(h), h_vector, *self.arg_leaves]
        if stage_bars is not None:
            arguments.append(stage_bars)
        arguments += [carry, result_bar]
        return self._variant(stage_bars is not None, arguments)(*arguments)


def first_stage_pullback(problem, y0, t0, arg_leaves, cotangent):
    """(y0_bar, t0_bar, arg_bars) of func at the initial state (the first step's first stage)."""
    return _traced_pullback(problem.flat_func, arg_leaves)(y0, _time(problem, t0), _as_state(problem, cotangent))


# ------------------------------------------------------------------------------------------- func's own rules

def func_vjp(problem, y, t, arg_leaves):
    """``(y, t, *arg_leaves, cotangent) -> (y_bar, t_bar, *arg_bars)`` for ``func`` (the backsolve adjoint's), compiled
    when func can be staged."""
    count = len(arg_leaves)

    def make(func):
        def func_pullback(y, t, *rest):
            leaves, cotangent = list(rest[:count]), rest[count]
            _, pullback = vjp(lambda y, t, *leaves: func(y, t, leaves), y, t, *leaves)
            return tuple(pullback(cotangent))
        return func_pullback

    examples = [y, t] + list(arg_leaves)
    return compiled_once(problem, "vjp", make, examples + [y], examples) or make(problem.flat_func)


def func_jvp(problem, y, t, arg_leaves):
    """``(y, t, *arg_leaves, y_dot, t_dot, *arg_dots) -> k_dot`` for ``func`` (forward sensitivities), compiled when
    func can be staged."""
    count = len(arg_leaves)

    def make(func):
        def func_tangent(y, t, *rest):
            leaves, dots = list(rest[:count]), rest[count:]
            return jvp(lambda y, t, *leaves: func(y, t, leaves), (y, t, *leaves), tuple(dots))[1]
        return func_tangent

    examples = [y, t] + list(arg_leaves)
    return compiled_once(problem, "jvp", make, examples + examples, examples) or make(problem.flat_func)
