"""Implicit differentiation: ``custom_root`` makes any solver of ``F(x, *params) = 0`` differentiable with
respect to ``params``; ``root`` and ``fixed_point`` are such solvers.

By the implicit function theorem, at a solution ``x*(θ)`` with ``dF/dx`` invertible,
``dx* = -(dF/dx)⁻¹ (dF/dθ) dθ``. The forward solve runs in plain NumPy and records nothing; the derivative
rule is a ``custom_jvp`` whose tangent is one ``linear_solve`` (see ``linear.py``), and reverse mode
transposes it into one solve with ``(dF/dx)ᵀ``. Cost and memory of a derivative are those of a few
JVPs/VJPs of F and one linear solve, whatever the number of iterations the solver took.
"""
import functools

import numpy as np

from ..autodiff.transforms import jvp
from ..core.avals import aval_of
from ..core.tree import tree_flatten, tree_map, tree_unflatten
from ..custom import custom_jvp
from .convergence import default_tolerance
from .linear import LinearSystem, check_method, linear_solve
from .solvers import SCIPY_ROOT_METHODS, anderson, iterate, newton, scipy_root
from .spaces import RealSpace, has_tracer


def _is_differentiable(leaf):
    try:
        return aval_of(leaf).dtype.kind in "fc"
    except Exception:  # functions, strings and other static values among the parameters
        return False


def _function_name(function):
    return getattr(function, "__name__", type(function).__name__)


def checked_value(out, space, where, function):
    """The leaves of ``function``'s output, refusing traced values: they mean it closes over an array that
    is being differentiated, whose derivative the implicit rule would miss."""
    if has_tracer(out):
        raise TypeError(
            f"{where}: {_function_name(function)} returned a traced value: it closes over an array being "
            f"differentiated (or batched or staged). Pass every such array as a parameter, e.g. "
            f"root(f, x0, W) with f(x, W), so that the solution is differentiated with respect to it.")
    return space.check(out, f"{where}: the value of {_function_name(function)}")


def implicit_solution(solver, optimality_fun, x0, params, *, linear_method="auto", linear_tol=None,
                      symmetric=False, where="custom_root"):
    """``solver(x0, *params)``, differentiable with respect to ``params`` through ``optimality_fun(x, *params)
    = 0``. Non-float leaves of ``params`` (ints, flags, functions) are passed through as constants."""
    check_method(linear_method, where)
    space = RealSpace(x0, f"{where}: x0")
    leaves, params_tree = tree_flatten(tuple(params))
    positions = [k for k, leaf in enumerate(leaves) if _is_differentiable(leaf)]

    def params_from(values):
        rebuilt = list(leaves)
        for position, value in zip(positions, values):
            rebuilt[position] = value
        return tree_unflatten(params_tree, rebuilt)

    solved = {}  # the last forward solve, so the derivative rule does not solve again

    def solve(x0, *values):
        if has_tracer((x0, values)):
            raise NotImplementedError(
                f"{where} cannot run under vmap, jit or graph staging: its solve is a NumPy loop that needs "
                f"concrete values. Call it in a Python loop over the batch instead.")
        x = solver(x0, *params_from(values))
        space.check(x, f"{where}: the solver's result")
        solved["inputs"], solved["x"] = tree_flatten((x0,) + tuple(values))[0], x
        return x

    solve.__name__ = where
    solution = custom_jvp(solve)

    @solution.defjvp
    def solution_jvp(primals, tangents):
        inputs = tree_flatten(tuple(primals))[0]
        cached = solved.get("inputs")
        if cached is not None and len(cached) == len(inputs) and all(a is b for a, b in zip(cached, inputs)):
            x = solved["x"]
        else:
            x = solution(*primals)
        values, value_tangents = tuple(primals[1:]), tuple(tangents[1:])
        if not values:
            return x, tree_map(np.zeros_like, x)
        params = params_from(values)
        system = LinearSystem(optimality_fun, x, params, space, method=linear_method, tol=linear_tol,
                              symmetric=symmetric, where=where)

        def optimality_of_values(*values):
            return optimality_fun(x, *params_from(values))

        _, pushed = jvp(optimality_of_values, values, value_tangents)  # dF/dθ · dθ
        rhs = [-_as_dtype(leaf, dtype) for leaf, dtype in
               zip(space.check(pushed, f"{where}: the value of {_function_name(optimality_fun)}"), space.dtypes)]
        return x, tree_unflatten(space.tree, linear_solve(*rhs, system=system, transposed=False))

    return solution(x0, *[leaves[k] for k in positions])


def _as_dtype(leaf, dtype):
    if aval_of(leaf).dtype == dtype:
        return leaf
    from .. import numpy as cnp
    return cnp.astype(leaf, dtype)


def custom_root(optimality_fun, *, linear_solve="auto", symmetric=False, linear_tol=None):
    """Decorate ``solver(x0, *params) -> x`` with ``optimality_fun(x, *params) = 0`` at its result, making the
    result differentiable with respect to ``params`` (pytrees) by the implicit function theorem (jaxopt's
    ``custom_root``). The solver may be any code (SciPy, a loop, a closed form): it is never differentiated.

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
    error when traced). First derivatives in every mode (grad, jvp, vjp, jacfwd, jacrev) are supported.

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
    a ``ConvergenceWarning`` naming the residual when ``maxiter`` runs out. ``linear_solve`` as in ``root``.

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
