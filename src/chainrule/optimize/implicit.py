"""Implicit differentiation: ``custom_root`` makes any solver of ``F(x, *params) = 0`` differentiable with
respect to ``params``; ``root`` and ``fixed_point`` are such solvers.

By the implicit function theorem, at a solution ``x*(θ)`` with ``dF/dx`` invertible,
``dx* = -(dF/dx)⁻¹ (dF/dθ) dθ``. The forward solve is one primitive, ``implicit_solve``, whose implementation
runs the NumPy solver (nothing recorded); its JVP is one ``linear_solve`` (see ``linear.py``) of JVPs of F at
``(x*, θ)``, and its pullback one solve with ``(dF/dx)ᵀ``. Both rules are written in chainrule operations on
``x*`` and ``θ`` (themselves possibly traced, x*'s derivative coming from this same rule), so derivatives of
any order, ``vmap`` and ``jit`` follow. Cost and memory of a derivative are those of a few JVPs/VJPs of F and
one linear solve, whatever the number of iterations the solver took.
"""
import functools

import numpy as np

from ..core.avals import ShapedArray
from ..core.interpreter import ChainruleError, Tracer
from ..core.primitive import Primitive
from ..core.tree import tree_flatten, tree_map, tree_unflatten
from ..core.zeros import instantiate
from ..export.python import OPAQUE_CALLS
from ..ops.loops import stage
from .convergence import default_tolerance
from .linear import (LinearSystem, OptimalityCondition, check_method, linear_solve, negated_cotangents,
                     stacked_examples, tangent_along)
from .solvers import SCIPY_ROOT_METHODS, anderson, iterate, newton, scipy_root
from .spaces import RealSpace, has_tracer


def _is_array(leaf):
    """Whether a leaf of the parameters is an input of the solve (an array, a float or a traced value); other
    leaves (functions, strings, Python ints and bools) are passed to F and the solver as they are."""
    return isinstance(leaf, (Tracer, np.ndarray, np.generic, float, complex))


def _function_name(function):
    return getattr(function, "__name__", type(function).__name__)


def _closure_error(where, function):
    return TypeError(
        f"{where}: {_function_name(function)} returned a traced value: it closes over an array being "
        f"differentiated (or batched or staged). Pass every such array as a parameter, e.g. "
        f"root(f, x0, W) with f(x, W), so that the solution is differentiated with respect to it.")


def checked_value(out, space, where, function):
    """The leaves of ``function``'s output, refusing traced values: they mean it closes over an array that
    is being differentiated, whose derivative the implicit rule would miss."""
    if has_tracer(out):
        raise _closure_error(where, function)
    return space.check(out, f"{where}: the value of {_function_name(function)}")


class ImplicitProblem:
    """What an ``implicit_solve`` call holds besides its arrays: the solver and the condition its solution
    meets."""

    def __init__(self, solver, condition):
        self.solver, self.condition = solver, condition

    def __repr__(self):
        return f"<{self.condition.where}: {_function_name(self.solver)} solving " \
               f"{_function_name(self.condition.function)}(x, *params) = 0>"

    def refuse_closures(self, avals):
        """Staged, the solve runs later on arrays; an F that closes over a traced value would then see a stale
        tracer (and its derivative would be missed): refused now, with the eager mode's message."""
        condition = self.condition
        try:
            _, captured = stage(condition.residual, list(avals))
        except (ChainruleError, NotImplementedError, TypeError, ValueError):
            return  # F cannot be staged (Python branches on values): the solve itself still can run later
        if captured:
            raise _closure_error(condition.where, condition.function)


# ------------------------------------------------------------------------------------------- the primitive
# implicit_solve(*x0, *values, problem): the solver's x* from the start x0 and the parameters' array leaves.
# x* does not depend on x0 (its derivative with respect to it is zero).

def _implicit_solve_impl(*inputs, problem):
    condition = problem.condition
    space, count = condition.space, condition.x_count
    x = problem.solver(tree_unflatten(space.tree, list(inputs[:count])), *condition.params_from(inputs[count:]))
    leaves = space.check(x, f"{condition.where}: the solver's result")
    return [np.asarray(leaf, dtype=dtype) for leaf, dtype in zip(leaves, space.dtypes)]


def _implicit_solve_shape_rule(*avals, problem):
    problem.refuse_closures(avals)
    space = problem.condition.space
    return [ShapedArray(shape, dtype) for shape, dtype in zip(space.shapes, space.dtypes)]


def _implicit_solve_jvp(primals, tangents, *, problem):
    condition = problem.condition
    count = condition.x_count
    x = implicit_solve(*primals, problem=problem)
    operands = list(x) + list(primals[count:])
    # F(x*(θ), θ) = 0, so A ẋ = -(dF/dθ) θ̇ with A = dF/dx, all at (x*, θ).
    pushed = tangent_along(condition.residual, operands, [None] * count + list(tangents[count:]))
    if pushed is None:
        return x, [None] * count
    from .. import numpy as cnp
    rhs = condition.in_space_dtypes([cnp.negative(leaf) for leaf in pushed])
    return x, linear_solve(*operands, *rhs, condition=condition, transposed=False)


def _implicit_solve_vjp(out, *inputs, problem):
    condition = problem.condition
    count = condition.x_count
    operands = list(out) + list(inputs[count:])

    def implicit_solve_pullback(x_bars):
        if all(c is None for c in x_bars):
            return (None,) * len(inputs)
        bars = [instantiate(c, o) for c, o in zip(x_bars, out)]
        adjoint = linear_solve(*operands, *bars, condition=condition, transposed=True)
        # The transpose of θ̇ -> -A⁻¹ (dF/dθ) θ̇: θ̄ = -(dF/dθ)ᵀ A⁻ᵀ x̄.
        value_bars = negated_cotangents(condition.residual, operands, adjoint, range(count, len(operands)))
        return (None,) * count + tuple(value_bars[count:])
    return implicit_solve_pullback


def _implicit_solve_batch(primitive, values, batched, params, size):
    # One NumPy solve per example (each may take its own number of iterations), stacked.
    return stacked_examples(primitive, values, batched, params, size, params["problem"].condition.space)


implicit_solve = Primitive("implicit_solve", _implicit_solve_impl, shape_rule=_implicit_solve_shape_rule,
                           jvp=_implicit_solve_jvp, vjp=_implicit_solve_vjp, batch=_implicit_solve_batch,
                           multiple_results=True)
# Staged (jit, to_python(compile=True)), the generated code calls the primitive, which runs the solver on the
# arrays of that call.
OPAQUE_CALLS.add(implicit_solve)


def implicit_solution(solver, optimality_fun, x0, params, *, linear_method="auto", linear_tol=None,
                      symmetric=False, where="custom_root"):
    """``solver(x0, *params)``, differentiable with respect to ``params`` through ``optimality_fun(x, *params)
    = 0``. Leaves of ``params`` that are not arrays (functions, flags, Python ints) are passed through as
    constants."""
    check_method(linear_method, where)
    space = RealSpace(x0, f"{where}: x0")
    leaves, params_tree = tree_flatten(tuple(params))
    positions = [k for k, leaf in enumerate(leaves) if _is_array(leaf)]
    constants = [None if k in positions else leaf for k, leaf in enumerate(leaves)]  # no arrays kept alive
    condition = OptimalityCondition(optimality_fun, space, constants, params_tree, positions, method=linear_method,
                                    tol=linear_tol, symmetric=symmetric, where=where)
    x = implicit_solve(*tree_flatten(x0)[0], *[leaves[k] for k in positions],
                       problem=ImplicitProblem(solver, condition))
    return tree_unflatten(space.tree, x)


def custom_root(optimality_fun, *, linear_solve="auto", symmetric=False, linear_tol=None):
    """Decorate ``solver(x0, *params) -> x`` with ``optimality_fun(x, *params) = 0`` at its result, making the
    result differentiable with respect to ``params`` (pytrees) by the implicit function theorem (jaxopt's
    ``custom_root``). The solver may be any code (SciPy, a loop, a closed form): it is never differentiated,
    and it always runs on arrays (under ``vmap`` once per example, under ``jit`` when the compiled code runs).
    Derivatives of any order follow, each a linear solve with ``dF/dx`` at the solution.

    ``linear_solve`` picks how ``dF/dx`` is inverted: ``"dense"`` (formed by one batched JVP pass, then
    factored), ``"gmres"``, ``"cg"`` (symmetric positive definite, e.g. a Hessian), ``"bicgstab"``, or
    ``"auto"``: dense up to 50 unknowns, else CG when ``symmetric=True`` and GMRES otherwise. The Krylov
    solves stop at a relative residual of ``linear_tol`` (default 100 machine epsilons of x's dtype).

    >>> import chainrule as cr, chainrule.numpy as np
    >>> @cr.optimize.custom_root(lambda x, a: x ** 2 - a)
    ... def square_root(x0, a):
    ...     return np.sqrt(a)        # any solver; here the closed form
    >>> round(float(cr.grad(lambda a: square_root(1.0, a))(4.0)), 12)   # 1 / (2 sqrt(4))
    0.25
    >>> float(cr.grad(cr.grad(lambda a: square_root(1.0, a)))(4.0))     # -1 / (4 a^(3/2))
    -0.03125
    """
    method = check_method(linear_solve, "custom_root")

    def decorate(solver):
        @functools.wraps(solver)
        def differentiable_solver(x0, *params):
            return implicit_solution(solver, optimality_fun, x0, params, linear_method=method,
                                     linear_tol=linear_tol, symmetric=symmetric,
                                     where=f"custom_root({_function_name(solver)})")
        return differentiable_solver

    return decorate


def _space_function(function, space, params, where):
    """``function`` on the real coordinates of ``space``, as the NumPy solvers want it."""

    def on_vector(vector):
        return space.flatten_leaves(checked_value(function(space.unflatten(vector), *params), space, where,
                                                  function))
    return on_vector


def root(f, x0, *params, tol=None, method="newton", maxiter=None, linear_solve="auto"):
    """A root ``x`` of ``f(x, *params) = 0`` (x a pytree of arrays, f returning the same structure),
    differentiable with respect to ``params`` by the implicit function theorem.

    ``method="newton"`` (default) is Newton's method with a line search, its steps solved with the exact
    Jacobian from chainrule (formed for up to 50 unknowns, matrix-free GMRES beyond); any method of
    ``scipy.optimize.root`` (``"hybr"``, ``"lm"``, ``"krylov"``, ...) is accepted too, given the exact
    Jacobian where it takes one. ``tol`` (default 100 machine epsilons of x's dtype) bounds the last Newton
    step relative to ``1 + |x|``; a solve that stops short warns with a ``ConvergenceWarning`` naming the
    residual. Complex x works (the system is solved in real coordinates, so f need not be holomorphic).

    Differentiate with respect to arrays passed in ``params``, not ones ``f`` closes over (refused with an
    error when traced). Derivatives of any order in every mode (grad, jvp, vjp, jacfwd, jacrev, hessian, grad
    of grad) work, each costing linear solves with dF/dx at the root, never the solver's iterations again;
    under ``vmap`` each example is solved in turn; under ``jit`` the solve is one call of the generated code,
    run on that call's values.

    >>> import chainrule as cr, chainrule.numpy as np
    >>> f = lambda x, a: x ** 3 - a
    >>> round(float(cr.optimize.root(f, 1.0, 8.0)), 12)
    2.0
    >>> round(float(cr.grad(lambda a: cr.optimize.root(f, 1.0, a))(8.0)), 12)   # 1 / (3 x²)
    0.083333333333
    """
    where = "root"
    check_method(linear_solve, where)
    if method != "newton" and method not in SCIPY_ROOT_METHODS:
        raise ValueError(f"root: method={method!r} is not 'newton' or one of scipy.optimize.root's methods "
                         f"({', '.join(SCIPY_ROOT_METHODS)})")

    def solver(x0, *params):
        space = RealSpace(x0, "root: x0")
        tolerance = default_tolerance(space.epsilon) if tol is None else tol
        residual_of = _space_function(f, space, params, where)

        def system_at(vector):
            return LinearSystem(f, space.unflatten(vector), params, space, method=linear_solve, where=where)

        if method == "newton":
            solution = newton(residual_of, lambda vector, rhs: system_at(vector).solve(rhs),
                              space.flatten(x0), tolerance, 100 if maxiter is None else maxiter, where)
        else:
            solution = scipy_root(residual_of, lambda vector: system_at(vector).dense(), space.flatten(x0),
                                  tolerance, maxiter, method, where)
        return space.unflatten(solution)

    return implicit_solution(solver, f, x0, params, linear_method=linear_solve, where=where)


def fixed_point(f, x0, *params, tol=None, method="anderson", maxiter=1000, memory=5, linear_solve="auto"):
    """A fixed point ``x = f(x, *params)`` (x a pytree of arrays), differentiable with respect to ``params``
    by the implicit function theorem on ``f(x, *params) - x = 0``: a derivative costs one linear solve with
    ``I - df/dx``, not a pass back through the iterations, so its time and memory do not grow with them.

    ``method="anderson"`` (default) accelerates the iteration with the last ``memory`` steps;
    ``method="iterate"`` is plain iteration. Both stop when ``|f(x) - x| <= tol (1 + |x|)``, ``tol``
    defaulting to 100 machine epsilons of x's dtype (or at the rounding floor just above it), and warn with
    a ``ConvergenceWarning`` naming the residual when ``maxiter`` runs out. ``linear_solve``, derivatives of
    any order, ``vmap`` and ``jit`` as in ``root``.

    >>> import chainrule as cr, chainrule.numpy as np
    >>> cosine = lambda x, a: np.cos(a * x)
    >>> x = cr.optimize.fixed_point(cosine, 0.0, 1.0)
    >>> round(float(x), 10)              # the Dottie number
    0.7390851332
    >>> dx = cr.grad(lambda a: cr.optimize.fixed_point(cosine, 0.0, a))(1.0)
    >>> round(float(dx), 10)             # -x sin x / (1 + sin x)
    -0.2974743415
    """
    where = "fixed_point"
    check_method(linear_solve, where)
    if method not in ("anderson", "iterate"):
        raise ValueError(f"fixed_point: method={method!r} is not 'anderson' or 'iterate'")
    if not (isinstance(maxiter, (int, np.integer)) and maxiter >= 1):
        raise ValueError(f"fixed_point: maxiter must be a positive int, got {maxiter!r}")

    def residual(x, *params):
        return tree_map(lambda image, value: image - value, f(x, *params), x)

    def solver(x0, *params):
        space = RealSpace(x0, "fixed_point: x0")
        tolerance = default_tolerance(space.epsilon) if tol is None else tol
        step = _space_function(f, space, params, where)
        start = space.flatten(x0)
        if method == "anderson":
            return space.unflatten(anderson(step, start, tolerance, maxiter, memory, where))
        return space.unflatten(iterate(step, start, tolerance, maxiter, where))

    return implicit_solution(solver, residual, x0, params, linear_method=linear_solve, where=where)
