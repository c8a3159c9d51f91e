"""One ``odeint`` call's fixed description (``Problem``): the user's function on flat states, the method and its
options, the event functions. The solver, the derivative rules and the replay all read it."""
import numpy as np

from .. import numpy as cnp
from ..core.interpreter import Tracer
from ..core.tree import tree_flatten, tree_unflatten
from ..ops.loops import run_graph


class EventSpec:
    """An event function with solve_ivp's attributes: ``terminal`` (stop after this many occurrences; 0 for
    never) and ``direction`` (+1 rising only, -1 falling only, 0 both)."""

    def __init__(self, function, position):
        self.function = function
        terminal = getattr(function, "terminal", False)
        if isinstance(terminal, bool) or terminal is None:
            self.terminal = int(bool(terminal))
        elif isinstance(terminal, (int, np.integer)) and terminal >= 0:
            self.terminal = int(terminal)
        else:
            raise ValueError(f"odeint: events[{position}].terminal must be a bool or a non-negative int (stop after "
                             f"that many occurrences), got {terminal!r}")
        direction = getattr(function, "direction", 0)
        if direction not in (-1, 0, 1):
            try:
                direction = int(np.sign(float(direction)))
            except (TypeError, ValueError):
                raise ValueError(f"odeint: events[{position}].direction must be a number (+1, -1 or 0), "
                                 f"got {direction!r}") from None
        self.direction = direction
        self.name = getattr(function, "__name__", f"event {position}")


class Problem:
    """Everything of one call that is not an array being differentiated.

    The primitive's inputs are ``y0`` (flat), ``t``, then ``arg_leaves``: the captured values (arrays that
    ``func`` closes over and an enclosing transform traces), then the array leaves of ``args``."""

    def __init__(self, func, y_tree, y_shapes, arg_tree, static_args, num_captured, graph, tableau, *, rtol, atol,
                 controller, first_step, max_steps, step, events, adjoint, state_dtype, time_dtype, native=None):
        self.func = func
        self.native = native  # machine code (native.py): None under jit only, True eagerly too, False never
        self.warned = False   # whether native=True's fallback to Python steps has been reported
        self.y_tree, self.y_shapes = y_tree, y_shapes
        self.y_sizes = [int(np.prod(shape, dtype=np.int64)) for shape in y_shapes]
        self.plain_vector = len(y_shapes) == 1 and len(y_shapes[0]) == 1
        self.arg_tree, self.static_args = arg_tree, static_args
        self.num_captured, self.graph = num_captured, graph
        self.tableau = tableau
        self.a = tableau.a.astype(state_dtype)
        self.rtol, self.atol = rtol, atol
        self.controller, self.first_step, self.max_steps, self.step = controller, first_step, max_steps, step
        self.events = events
        self.adjoint = adjoint
        self.state_dtype, self.time_dtype = state_dtype, time_dtype
        self.compiled_rules = {}  # steps.py's compiled steps and rules, shared by this call's solves and derivatives
        self.last_solve = None    # (copies of the inputs, trajectory) of the last solve: see odeint._solve

    def __repr__(self):
        return (f"<odeint problem: func={getattr(self.func, '__name__', type(self.func).__name__)}, "
                f"method={self.tableau.name}, state {self.state_dtype}[{sum(self.y_sizes)}]>")

    def substeps_for(self, t):
        """How many rk4 steps per interval of t: enough that none is longer than ``step``."""
        if self.step is None or len(t) < 2:
            return 1
        widest = float(np.max(np.abs(np.diff(t))))
        return max(1, int(np.ceil(widest / self.step * (1 - 1e-12))))

    # ----------------------------------------------------------------- pytrees <-> flat vectors

    def unflatten_state(self, y):
        if self.plain_vector:
            return tree_unflatten(self.y_tree, [y])
        leaves, start = [], 0
        for shape, size in zip(self.y_shapes, self.y_sizes):
            leaves.append(cnp.reshape(y[start:start + size], shape))
            start += size
        return tree_unflatten(self.y_tree, leaves)

    def flatten_state(self, value, where):
        leaves, tree = tree_flatten(value)
        if tree != self.y_tree and len(self.y_shapes) == 1 and self.y_tree == tree_flatten(0.0)[1]:
            leaves, tree = [cnp.asarray(value)], self.y_tree  # a list of components for an array state
        if tree != self.y_tree:
            raise TypeError(f"odeint: {where} returned a value of structure {tree}, but y0 has structure "
                            f"{self.y_tree}; return the derivative with the state's structure")
        shapes = [tuple(np.shape(leaf)) for leaf in leaves]
        if shapes != self.y_shapes:
            raise ValueError(f"odeint: {where} returned shapes {shapes}, but y0 has shapes {self.y_shapes}; return "
                             f"dy/dt with the state's shapes")
        if self.plain_vector:
            return leaves[0]
        return cnp.concatenate([cnp.ravel(leaf) for leaf in leaves])

    def arguments(self, arg_leaves):
        """(captured leaves, the user's args rebuilt) from the primitive's argument inputs."""
        captured = list(arg_leaves[:self.num_captured])
        leaves = iter(arg_leaves[self.num_captured:])
        full = [next(leaves) if static is _ARRAY else static for static in self.static_args]
        return captured, tree_unflatten(self.arg_tree, full)

    # ----------------------------------------------------------------- the functions on flat values

    def flat_func(self, y, t, arg_leaves):
        """dy/dt as a flat vector, on arrays or traced values."""
        captured, args = self.arguments(arg_leaves)
        if self.graph is not None:  # func closes over traced values: run its staged form, those as inputs
            arg_array_leaves = list(arg_leaves[self.num_captured:])
            return run_graph(self.graph, captured + [y, t] + arg_array_leaves)[0]
        out = self.flatten_state(self.func(self.unflatten_state(y), t, *args), "func")
        if not isinstance(y, Tracer) and isinstance(out, Tracer):
            raise TypeError("odeint: func returned a traced value for plain inputs: it closes over a value that a "
                            "transform traces but could not be staged to find it. Pass that value through args "
                            "(func(y, t, *args)) instead of closing over it.")
        return out

    def evaluator(self, arg_leaves):
        """``f(y, t)``: dy/dt as a flat array of the state's dtype, for plain arrays (the solver's hot loop)."""
        dtype = self.state_dtype
        if self.graph is None and self.plain_vector:
            _, args = self.arguments(arg_leaves)
            func, shape = self.func, self.y_shapes[0]

            def evaluate(y, t):
                out = func(y, t, *args)
                if type(out) is not np.ndarray or out.shape != shape:
                    out = np.asarray(self.flatten_state(out, "func"))
                return out if out.dtype == dtype else out.astype(dtype)
        else:
            def evaluate(y, t):
                out = np.asarray(self.flat_func(y, t, arg_leaves))
                return out if out.dtype == dtype else out.astype(dtype)
        return evaluate

    def event_value(self, k, y, t, arg_leaves):
        """Event function k at (y, t) as a Python float (plain evaluation, during the forward solve)."""
        _, args = self.arguments(arg_leaves)
        value = self.events[k].function(self.unflatten_state(y), t, *args)
        if isinstance(value, Tracer):
            raise TypeError(f"odeint: event function {k} ({self.events[k].name}) returned a traced value for "
                            f"plain inputs: pass the values it closes over through args")
        value = np.asarray(value)
        if value.size != 1 or value.dtype.kind not in "fiub":
            raise TypeError(f"odeint: event function {k} ({self.events[k].name}) must return a real scalar, got "
                            f"shape {value.shape} dtype {value.dtype}")
        return float(value.reshape(()))

    def traced_event_value(self, k, y, t, arg_leaves):
        """Event function k on traced (or plain) values, for derivatives."""
        _, args = self.arguments(arg_leaves)
        return cnp.reshape(self.events[k].function(self.unflatten_state(y), t, *args), ())

    def event_name(self, k):
        return self.events[k].name


_ARRAY = object()  # marks, in Problem.static_args, the positions of args' array leaves
