"""``minimize``: SciPy's ``scipy.optimize.minimize`` given exact derivatives by chainrule (gradient, Hessian-vector
products, dense Hessian, as each method takes them), with a minimizer differentiable with respect to the
parameters by the implicit function theorem on ``grad_x fun(x, *params) = 0``."""
import warnings

import numpy as np
import scipy.optimize

from ..autodiff.transforms import grad, hessian, hvp, value_and_grad
from ..core.tree import tree_flatten, tree_map, tree_unflatten
from .convergence import ConvergenceWarning
from .implicit import checked_value, implicit_solution
from .linear import LinearSystem, check_method
from .constraints import KKT, ParameterLinks, constraint_rows, placeholders, scipy_constraints
from .spaces import RealSpace, has_tracer, traced_unravel

# What each of SciPy's methods takes besides the gradient (lower-case names, as SciPy compares them).
HESSIAN_VECTOR_METHODS = ("newton-cg", "trust-ncg", "trust-krylov", "trust-constr")
DENSE_HESSIAN_METHODS = ("dogleg", "trust-exact")
DERIVATIVE_FREE_METHODS = ("nelder-mead", "powell", "cobyla", "cobyqa")
# The methods whose ``hess`` may be a scipy.sparse matrix (``minimize(..., hess="sparse")``).
SPARSE_HESSIAN_METHODS = ("trust-constr", "newton-cg")
# Newton steps taken after SciPy stops (see ``minimize``'s ``polish``).
POLISH_STEPS = 3


def _objective(fun, space, params):
    """SciPy's ``fun`` with ``jac=True``: the value and the gradient, in one forward and one backward pass."""

    def value_and_gradient(vector):
        value, gradient = value_and_grad(fun)(space.unflatten(vector), *params)
        if np.iscomplexobj(value):
            raise TypeError(f"minimize: {getattr(fun, '__name__', 'fun')} returned a complex value; it must "
                            f"return a real scalar")
        return float(np.real(value)), space.flatten_leaves(checked_value(gradient, space, "minimize", fun))
    return value_and_gradient


def _scipy_derivatives(fun, space, params, method, hess=None):
    """The keyword arguments giving ``method`` the second derivatives it can use."""
    if hess == "sparse":
        from ..sparse import hessian as sparse_hessian  # sparse loads SciPy's graph tools: only when asked
        unravel = traced_unravel(space)
        hessian_at = sparse_hessian(lambda v: fun(unravel(v), *params))
        return {"hess": lambda vector: hessian_at(np.asarray(vector, np.float64))}
    if method in HESSIAN_VECTOR_METHODS:
        def hessp(vector, direction):
            product = hvp(lambda x: fun(x, *params), (space.unflatten(vector),), (space.unflatten(direction),))[0]
            return space.flatten(product)
        return {"hessp": hessp}
    if method in DENSE_HESSIAN_METHODS:
        unravel = traced_unravel(space)
        return {"hess": lambda vector: np.asarray(hessian(lambda v: fun(unravel(v), *params))(vector), np.float64)}
    return {}


def _polish(fun, gradient_fun, space, params, vector, linear_solve):
    """Up to ``POLISH_STEPS`` Newton steps on ``grad = 0`` from SciPy's answer, each kept only if it lowers
    ``|grad|`` without raising ``fun``: SciPy stops at its ``gtol`` (1e-5 by default), but derivatives of the
    minimizer are only as accurate as the stationarity of the point they are taken at."""
    objective = _objective(fun, space, params)
    value, gradient = objective(vector)
    for _ in range(POLISH_STEPS):
        size = np.linalg.norm(gradient)
        if size == 0.0:
            break
        system = LinearSystem(gradient_fun, space.unflatten(vector), params, space, method=linear_solve,
                              symmetric=True, where="minimize")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            try:
                step = system.solve(-gradient)
            except np.linalg.LinAlgError:  # singular Hessian: keep SciPy's point
                break
        candidate = vector + step
        candidate_value, candidate_gradient = objective(candidate)
        if not (np.linalg.norm(candidate_gradient) < size
                and candidate_value <= value + 1e-12 * (1.0 + abs(value))):
            break
        vector, value, gradient = candidate, candidate_value, candidate_gradient
    return vector, value, gradient


def minimize(fun, x0, *params, method="BFGS", tol=None, bounds=None, constraints=(), options=None, callback=None,
             polish=True, linear_solve="auto", hess=None):
    """Minimize ``fun(x, *params)`` (a real scalar) over ``x`` (a pytree of real arrays) with
    ``scipy.optimize.minimize``, and return its ``OptimizeResult`` with ``x`` shaped like ``x0``.

    Derivatives are supplied as each method takes them: the gradient (``jac``) to every gradient-based
    method, Hessian-vector products (``hessp``, never forming the Hessian) to Newton-CG, trust-ncg,
    trust-krylov and trust-constr, the dense Hessian (``hess``) to dogleg and trust-exact. With
    ``hess="sparse"`` (trust-constr, Newton-CG) the Hessian is a ``scipy.sparse`` matrix from
    ``chainrule.sparse.hessian``: its pattern detected and star-colored once, then one batched
    Hessian-vector pass per color at each iterate.

    ``result.x`` is differentiable with respect to ``params`` (argmin differentiation): at a minimizer
    ``grad_x fun = 0``, so ``dx* = -H⁻¹ (d grad_x fun / dθ) dθ`` with H the Hessian, applied by
    Hessian-vector products and solved densely (up to 50 unknowns) or by conjugate gradients
    (``linear_solve`` as in ``root``). With ``polish=True`` (default; problems without bounds alone) up to three
    Newton steps follow SciPy's answer, each kept only if it lowers ``|grad|`` without raising ``fun``, so
    that x and its derivatives are accurate to near machine precision instead of to the method's ``gtol``.
    With ``bounds``, the condition is that of projected gradient descent, ``x = clip(x - grad, lower, upper)``:
    coordinates on an active bound stay there, the others satisfy ``grad = 0`` (a coordinate on its bound with a
    zero gradient has no derivative and is refused). With ``constraints`` (SciPy's dicts, ``NonlinearConstraint``,
    ``LinearConstraint``; functions of the flat x; a dict's ``args`` may hold parameters of minimize, the same
    objects as in ``params``, and a ``NonlinearConstraint``'s function may close over them: the minimizer is then
    differentiated through the constraint in them too) the condition is the KKT system in x
    and the Lagrange multipliers (see ``constraints.py``): the multipliers are fitted at SciPy's answer and, with
    ``polish``, up to three Newton steps meet the conditions to rounding; constraint Jacobians SciPy would take by
    finite differences are given exactly. An active inequality with a zero multiplier has no derivative and is
    refused. Constraint functions must be written with chainrule.numpy to differentiate the minimizer.

    >>> import chainrule as cr, chainrule.numpy as np
    >>> A = np.array([[3.0, 1.0], [1.0, 2.0]])
    >>> def quadratic(x, b):
    ...     return 0.5 * x @ A @ x - b @ x
    >>> result = cr.optimize.minimize(quadratic, np.zeros(2), np.array([1.0, 1.0]))
    >>> np.round(result.x, 10)                          # A⁻¹ b
    array([0.2, 0.4])
    >>> np.round(cr.jacobian(lambda b: cr.optimize.minimize(quadratic, np.zeros(2), b).x)(np.ones(2)), 10)
    array([[ 0.4, -0.2],
           [-0.2,  0.6]])
    """
    where = "minimize"
    check_method(linear_solve, where)
    if not isinstance(method, str):
        raise TypeError(f"minimize: method must be the name of a scipy.optimize.minimize method, got {method!r}")
    name = method.lower()
    if hess not in (None, "sparse"):
        raise ValueError(f"minimize: hess must be None (derivatives as the method takes them) or 'sparse', got "
                         f"{hess!r}")
    if hess == "sparse" and name not in SPARSE_HESSIAN_METHODS:
        raise ValueError(f"minimize: hess='sparse' is for the methods that accept a sparse Hessian "
                         f"{SPARSE_HESSIAN_METHODS}; {method!r} does not. Use method='trust-constr'")
    space = RealSpace(x0, "minimize: x0")
    traced_unravel(space)  # refuses complex x0 now, with its message
    constrained = bounds is not None or bool(constraints)
    found = {}

    def gradient_fun(x, *params):
        return grad(fun)(x, *params)

    def optimality(x, *params):
        # Called only to differentiate the minimizer.
        gradient = gradient_fun(x, *params)
        if bounds is None:
            return gradient
        # Box constraints: the minimizer is the fixed point of the projected gradient step,
        # x = clip(x - grad, lower, upper). Where a bound is active (the gradient pushes out of the box) clip's
        # derivative is 0, so that coordinate stays on its bound; elsewhere the condition is grad = 0.
        if found.get("vector") is not None:  # an eager solve: refuse coordinates where neither holds clearly
            _refuse_degenerate_bounds(found["vector"], found["gradient"], bounds, space)
        from .. import numpy as cnp
        lower, upper = _bound_trees(bounds, space)
        return tree_map(lambda x_leaf, g_leaf, low, high: x_leaf - cnp.clip(x_leaf - g_leaf, low, high), x,
                        gradient, lower, upper)

    kkt = links = None
    if constraints:
        # a dict constraint's args may hold parameters of minimize (b in sum(x) = b): each solve gives SciPy their
        # values, each derivative their traced counterparts
        links = ParameterLinks(tree_flatten(tuple(params))[0])
        example = space.flatten(x0) if not has_tracer(x0) else np.zeros(space.size)
        stand_ins = placeholders(tree_flatten(tuple(params))[0])
        kkt = KKT(fun, traced_unravel(space), constraint_rows(constraints, bounds, space.size, example, links,
                                                              stand_ins), space.size)
        kkt.check_traceable(example, stand_ins)

    def solver(x0, *params):
        derivatives = {} if name in DERIVATIVE_FREE_METHODS else {"jac": True}
        objective = _objective(fun, space, params)
        scipy_fun = objective if derivatives else (lambda vector: objective(vector)[0])
        derivatives.update(_scipy_derivatives(fun, space, params, name, hess))
        leaves = tree_flatten(tuple(params))[0]
        given = constraints if kkt is None else scipy_constraints(constraints, links, leaves, space.flatten(x0),
                                                                  name, exact=kkt.untraceable is None)
        result = scipy.optimize.minimize(scipy_fun, space.flatten(x0), method=method, tol=tol, bounds=bounds,
                                         constraints=given, options=options, callback=callback, **derivatives)
        if polish and not constrained:
            result.x, result.fun, result.jac = _polish(fun, gradient_fun, space, params, result.x, linear_solve)
        multipliers = None
        if kkt is not None and kkt.untraceable is None:
            multipliers = kkt.multipliers(result.x, objective(result.x)[1], leaves)
            found["params"] = leaves
            if polish:
                result.x, multipliers = _kkt_polish(kkt, params, result.x, multipliers, linear_solve)
                result.fun, result.jac = objective(result.x)
        if not result.success:
            warnings.warn(f"minimize ({method}) did not converge: {result.message} The minimizer, and derivatives "
                          f"of it, are inexact.", ConvergenceWarning, stacklevel=4)
        found.setdefault("results", []).append(result)
        if bounds is not None or kkt is not None:  # the gradient at the minimizer (not every method returns it)
            found["gradient"] = objective(result.x)[1]
        found["vector"] = result.x if len(found["results"]) == 1 else None
        if kkt is None:
            return space.unflatten(result.x)
        if multipliers is None:
            multipliers = np.full(kkt.count, np.nan)
        found["multipliers"] = multipliers
        return space.unflatten(result.x), multipliers.astype(space.dtype)

    if kkt is None:
        # the projected condition's Jacobian is not symmetric (rows of active coordinates are the identity's)
        x = implicit_solution(solver, optimality, x0, params, linear_method=linear_solve, symmetric=bounds is None,
                              where=where)
    else:
        def kkt_optimality(unknowns, *params):
            # Called only to differentiate the minimizer: the KKT conditions in (x, multipliers).
            x, multipliers = unknowns
            if kkt.untraceable is not None:
                raise TypeError(f"minimize: differentiating a minimizer under constraints needs the constraint "
                                f"functions' derivatives, but they do not run on traced values "
                                f"({kkt.untraceable}). Write them with chainrule.numpy.")
            if found.get("vector") is not None:  # an eager solve: refuse where the active set is ambiguous
                _refuse_degenerate_constraints(kkt, found["vector"], found["multipliers"], found["gradient"],
                                               found["params"])
            residual = kkt.residual(_traced_ravel(x), multipliers, params)
            return kkt.unravel(residual[:space.size]), residual[space.size:]

        start = (x0, np.zeros(kkt.count, dtype=space.dtype))
        x, _ = implicit_solution(solver, kkt_optimality, start, params, linear_method=linear_solve,
                                 where=where)
    results = found.get("results", [])
    if len(results) != 1:
        # staged (jit: the solve runs later, on each call's values) or batched (vmap: one solve per example):
        # fun, jac and nit describe a single eager solve, so only x is returned
        return scipy.optimize.OptimizeResult(x=x)
    result = results[0]
    result.x = x
    return result


def _bound_arrays(bounds, size):
    """(lower, upper) arrays over the flat coordinates, from a Bounds object or (low, high) pairs (None: none)."""
    if isinstance(bounds, scipy.optimize.Bounds):
        return (np.broadcast_to(np.asarray(bounds.lb, float), (size,)),
                np.broadcast_to(np.asarray(bounds.ub, float), (size,)))
    pairs = [(-np.inf if lo is None else lo, np.inf if hi is None else hi) for lo, hi in bounds]
    if len(pairs) != size:
        raise ValueError(f"minimize: bounds has {len(pairs)} (low, high) pairs, but x0 has {size} coordinates")
    return np.array([p[0] for p in pairs], float), np.array([p[1] for p in pairs], float)


def _bound_trees(bounds, space):
    """The lower and the upper bounds as two pytrees shaped like x."""
    return tuple(tree_unflatten(space.tree, space.unflatten_leaves(limit))
                 for limit in _bound_arrays(bounds, space.size))


def _refuse_degenerate_bounds(vector, gradient, bounds, space):
    """Refuse coordinates on a bound whose gradient is zero: there the minimizer moves off the bound for some
    directions of the parameters and stays for others (no strict complementarity), so it has no derivative."""
    if gradient is None:
        return
    lower, upper = _bound_arrays(bounds, space.size)
    vector, gradient = np.asarray(vector, float), np.asarray(gradient, float)
    margin = 1e-8 * (1.0 + np.abs(vector))
    on_bound = (vector - lower <= margin) | (upper - vector <= margin)
    flat = np.abs(gradient) <= 1e-8 * (1.0 + np.max(np.abs(gradient), initial=0.0))
    degenerate = np.flatnonzero(on_bound & flat)
    if degenerate.size:
        raise NotImplementedError(
            f"minimize: the minimizer is on its bounds at coordinate(s) {degenerate.tolist()[:10]} with a zero "
            f"gradient there: it leaves the bound for some changes of the parameters and stays for others, so it "
            f"has no derivative. Move the bound, or reparametrize it away (e.g. x = exp(y)).")



def _traced_ravel(tree):
    """The flat coordinates of a real pytree, in chainrule operations (the inverse of ``traced_unravel``)."""
    from .. import numpy as cnp
    leaves = tree_flatten(tree)[0]
    return cnp.concatenate([cnp.reshape(leaf, (-1,)) for leaf in leaves]) if leaves else cnp.zeros(0)


def _kkt_polish(kkt, params, vector, multipliers, linear_solve):
    """Up to ``POLISH_STEPS`` (semismooth) Newton steps on the KKT conditions from SciPy's answer, each kept only if
    it lowers their residual within the same active set: constrained methods stop at their ``ftol`` (SLSQP: 1e-6), derivatives of the
    minimizer need the conditions met to near machine precision."""
    size = kkt.size
    point = np.concatenate([np.asarray(vector, dtype=float), multipliers])
    joint = RealSpace(point, "minimize")

    def residual(z):
        return kkt.residual(z[:size], z[size:], params)

    value = np.asarray(residual(point), dtype=float)
    # complementarity's min() lets an inactive row's constraint go negative (or an active row's multiplier): a
    # step is kept only if every row keeps its side, else it would be the Newton step of another active set
    leaves = tree_flatten(tuple(params))[0]
    active = kkt.active_rows(point[:size], point[size:], leaves)
    for _ in range(POLISH_STEPS):
        norm = np.linalg.norm(value)
        if norm == 0.0 or not np.isfinite(norm):
            break
        system = LinearSystem(residual, point, (), joint, method=linear_solve, where="minimize")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            try:
                step = system.solve(-value)
            except np.linalg.LinAlgError:  # singular KKT matrix: keep SciPy's point
                break
        candidate = point + step
        candidate_value = np.asarray(residual(candidate), dtype=float)
        if not (np.linalg.norm(candidate_value) < norm
                and np.array_equal(kkt.active_rows(candidate[:size], candidate[size:], leaves), active)):
            break
        point, value = candidate, candidate_value
    return point[:size], point[size:]


def _refuse_degenerate_constraints(kkt, vector, multipliers, gradient, params):
    """Refuse active inequality constraints with a zero multiplier (no strict complementarity): the minimizer
    leaves them for some changes of the parameters and stays on them for others, so it has no derivative."""
    degenerate = kkt.degenerate_rows(np.asarray(vector, dtype=float), multipliers, gradient, params)
    if degenerate.size:
        names = ", ".join(kkt.describe(degenerate)[:5])
        raise NotImplementedError(
            f"minimize: the minimizer is on the inequality constraint(s) {names} with a zero multiplier there "
            f"(the constraint is active but does not push): the minimizer leaves it for some changes of the "
            f"parameters and stays for others, so it has no derivative. Perturb the problem, or make the "
            f"constraint an equality if it should hold.")
