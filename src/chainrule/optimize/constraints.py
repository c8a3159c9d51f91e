"""Constraints of ``minimize`` as the KKT conditions see them: every constraint SciPy takes (``{"type": "eq" |
"ineq", "fun", "args"}`` dicts, ``NonlinearConstraint``, ``LinearConstraint``, and bounds given next to them)
becomes rows ``c_E(v) = 0`` and ``c_I(v) >= 0`` of one function of the flat coordinates ``v``.

A constrained minimizer with its multipliers ``λ`` is a root of

    ∇f(v) - J(v)ᵀ λ = 0,     c_E(v) = 0,     min(λ_I, c_I(v)) = 0,

the last row being complementarity: an active constraint (``c = 0 < λ``) stays active, an inactive one
(``λ = 0 < c``) keeps its zero multiplier. ``min`` is differentiable wherever exactly one of the two is
zero (strict complementarity), which is where the minimizer itself is differentiable; so the implicit
function theorem on this F differentiates the minimizer, under ``jit`` and ``vmap`` too (the active set is
read from the values, never fixed at staging).
"""
import numpy as np
import scipy.optimize
import scipy.sparse
import scipy.sparse.linalg

from ..autodiff.transforms import grad, hvp, jacfwd, vjp
from ..core.avals import ShapedArray, aval_of
from ..core.interpreter import ChainruleError, Tracer, interpreter_depth
from ..core.tree import tree_flatten, tree_unflatten
from ..ops.loops import run_graph, stage

# Inequality rows this close to zero (relative to the point's scale) may be active: their multipliers are fitted.
# Loose, because solvers stop short (trust-constr leaves ~1e-6 of slack); the fit gives 0 to the inactive ones.
CANDIDATE_TOLERANCE = 1e-4
# An inequality row this close to zero with a zero multiplier is weakly active (see ``degenerate_rows``).
ACTIVE_TOLERANCE = 1e-6
# A multiplier this small (relative to the gradient's size) on an active row means no strict complementarity.
DEGENERATE_TOLERANCE = 1e-8


class Rows:
    """One constraint as rows: ``values(v, params) -> (equalities, inequalities)``, each a 1-d array (``params``:
    the leaves of minimize's parameters, which a constraint's ``args`` may hold)."""

    def __init__(self, function, equal, lower, upper, where):
        # function(v, params) -> 1-d array g; rows: g[equal] - lower[equal] = 0, g[k] - lower[k] >= 0 for finite
        # lower, upper[k] - g[k] >= 0 for finite upper (k not in equal)
        self.function, self.where = function, where
        self.equal = np.flatnonzero(equal)
        self.lower_rows = np.flatnonzero(~equal & np.isfinite(lower))
        self.upper_rows = np.flatnonzero(~equal & np.isfinite(upper))
        self.lower, self.upper = lower, upper

    @property
    def counts(self):
        return self.equal.size, self.lower_rows.size + self.upper_rows.size

    def values(self, v, params):
        from .. import numpy as cnp
        g = cnp.reshape(self.function(v, params), (-1,))
        equalities = cnp.take(g, self.equal) - self.lower[self.equal]
        inequalities = cnp.concatenate([cnp.take(g, self.lower_rows) - self.lower[self.lower_rows],
                                        self.upper[self.upper_rows] - cnp.take(g, self.upper_rows)])
        return equalities, inequalities


def _dict_rows(constraint, position):
    kind = constraint.get("type") if isinstance(constraint, dict) else None
    if kind not in ("eq", "ineq") or not callable(constraint.get("fun")):
        raise TypeError(f"minimize: constraints[{position}] must be a dict with 'type' ('eq' or 'ineq') and a "
                        f"callable 'fun', a NonlinearConstraint or a LinearConstraint; got {constraint!r}")
    function, args = constraint["fun"], tuple(constraint.get("args", ()))
    return function, args, kind


def as_list(constraints):
    single = isinstance(constraints, (dict, scipy.optimize.NonlinearConstraint, scipy.optimize.LinearConstraint))
    return [constraints] if single else list(constraints)


class ParameterLinks:
    """Which leaves of the constraints' ``args`` are minimize's parameters (the same objects): those are replaced
    by the parameters of each solve (arrays, for SciPy) and of each derivative (traced), so that a constraint
    such as ``{"type": "eq", "fun": lambda x, b: sum(x) - b, "args": (b,)}`` is differentiated in ``b`` too.
    A ``NonlinearConstraint`` takes no args: the parameters its function closes over are found by staging it
    (``closed_over``), and become inputs the same way."""

    def __init__(self, param_leaves):
        self.ids = {id(leaf): k for k, leaf in enumerate(param_leaves)}
        self.closures = {}  # id(NonlinearConstraint) -> its function of (v, params), where it closes over them

    def closed_over(self, constraint, example, where):
        """``(v, params) -> constraint.fun(v)`` with the parameters of minimize it closes over (traced values)
        read from ``params``; a plain call when it closes over none. A traced value that is not a parameter is
        refused with the way to pass it."""
        plain = (lambda f: lambda v, params: f(v))(constraint.fun)
        if interpreter_depth() == 0 or not self.ids:
            return plain
        try:
            graph, captured = stage(lambda leaves: [constraint.fun(leaves[0])],
                                    [ShapedArray(np.shape(example), np.asarray(example).dtype)])
        except (ChainruleError, NotImplementedError, TypeError, ValueError, IndexError):
            return plain  # not stageable: a closure over a traced value is refused when its size is read
        if not captured:
            return plain
        positions = [self.ids.get(id(value)) for value in captured]
        if None in positions:
            raise TypeError(f"minimize: {where} closes over a value being differentiated (or batched, or staged) "
                            f"that is not a parameter of minimize: pass it as one too, minimize(fun, x0, *params), "
                            f"so that the minimizer is differentiated in it")

        def function(v, params):
            return run_graph(graph, [params[k] for k in positions] + [v])[0]
        self.closures[id(constraint)] = function
        return function

    def resolve(self, args, params):
        """``args`` with each parameter replaced by its counterpart in ``params`` (leaves in the same order)."""
        leaves, tree = tree_flatten(tuple(args))
        return tree_unflatten(tree, [params[self.ids[id(leaf)]] if id(leaf) in self.ids else leaf
                                     for leaf in leaves])

    def check(self, args, where):
        for leaf in tree_flatten(tuple(args))[0]:
            if isinstance(leaf, Tracer) and id(leaf) not in self.ids:
                raise TypeError(f"minimize: {where}'s args hold a value being differentiated (or batched, or "
                                f"staged) that is not a parameter of minimize: pass it as one too, "
                                f"minimize(fun, x0, *params), so that the minimizer is differentiated in it")


def placeholders(param_leaves):
    """Arrays standing for the parameters where only shapes matter (reading the constraints' sizes)."""
    return [np.zeros(np.shape(leaf), aval_of(leaf).dtype) if isinstance(leaf, Tracer) else leaf
            for leaf in param_leaves]


def constraint_rows(constraints, bounds, size, example, links, params):
    """The ``Rows`` of every constraint (and of the finite ``bounds``, when there are constraints too), their sizes
    read by evaluating each constraint once at the plain vector ``example`` (with the parameters ``params``)."""
    rows = []
    for position, constraint in enumerate(as_list(constraints)):
        where = f"constraints[{position}]"
        if isinstance(constraint, scipy.optimize.LinearConstraint):
            matrix = constraint.A.toarray() if scipy.sparse.issparse(constraint.A) else np.atleast_2d(
                np.asarray(constraint.A, dtype=float))
            function = (lambda m: lambda v, params: _matmul(m, v))(matrix)
            count = matrix.shape[0]
            lower, upper = constraint.lb, constraint.ub
        elif isinstance(constraint, scipy.optimize.NonlinearConstraint):
            function = links.closed_over(constraint, example, where)
            with np.errstate(all="ignore"):  # placeholders for traced parameters: only the size is read
                count = _checked_size(function(example, params), where)
            lower, upper = constraint.lb, constraint.ub
        else:
            user_function, args, kind = _dict_rows(constraint, position)
            links.check(args, where)
            function = (lambda f, a: lambda v, params: f(v, *links.resolve(a, params)))(user_function, args)
            with np.errstate(all="ignore"):  # placeholders for traced parameters: only the size is read
                count = _checked_size(function(example, params), where)
            lower = np.zeros(count)
            upper = np.zeros(count) if kind == "eq" else np.full(count, np.inf)
        lower = np.broadcast_to(np.asarray(lower, dtype=float), (count,)).copy()
        upper = np.broadcast_to(np.asarray(upper, dtype=float), (count,)).copy()
        rows.append(Rows(function, lower == upper, lower, upper, where))
    if bounds is not None and rows:
        from .minimize import _bound_arrays
        lower, upper = _bound_arrays(bounds, size)
        rows.append(Rows(lambda v, params: v, lower == upper, lower, upper, "bounds"))
    return rows


def _checked_size(value, where):
    if any(isinstance(leaf, Tracer) for leaf in tree_flatten(value)[0]):
        raise TypeError(f"minimize: {where} returned a traced value for plain inputs: it closes over a value being "
                        f"differentiated (or batched, or staged). Give it as a dict constraint's args and as a "
                        f"parameter of minimize: {{'type': ..., 'fun': lambda x, p: ..., 'args': (p,)}}")
    return int(np.size(value))


def scipy_constraints(constraints, links, params, example, method, exact=True):
    """The constraints as SciPy takes them for one solve: args holding parameters given their values ``params``,
    and (``exact``) exact derivatives where SciPy would take differences (see ``with_exact_jacobians``)."""
    resolved = [dict(c, args=links.resolve(c.get("args", ()), params)) if isinstance(c, dict) else
                _with_values(c, links.closures[id(c)], params) if id(c) in links.closures else c
                for c in as_list(constraints)]
    return with_exact_jacobians(resolved, example, method) if exact else resolved


def _with_values(constraint, function, params):
    """A NonlinearConstraint that closes over parameters, with their values of this solve."""
    def fun(v):
        return np.asarray(function(np.asarray(v, dtype=float), params), dtype=float)
    return scipy.optimize.NonlinearConstraint(fun, constraint.lb, constraint.ub, jac=constraint.jac,
                                              hess=constraint.hess, keep_feasible=constraint.keep_feasible,
                                              finite_diff_rel_step=constraint.finite_diff_rel_step,
                                              finite_diff_jac_sparsity=constraint.finite_diff_jac_sparsity)


def _matmul(matrix, v):
    from .. import numpy as cnp
    return cnp.matmul(matrix, v)


class KKT:
    """The KKT conditions of minimizing ``fun(unravel(v), *params)`` under ``rows``."""

    def __init__(self, fun, unravel, rows, size):
        self.fun, self.unravel, self.rows, self.size = fun, unravel, rows, size
        self.equality_count = sum(r.counts[0] for r in rows)
        self.inequality_count = sum(r.counts[1] for r in rows)
        self.count = self.equality_count + self.inequality_count
        self.untraceable = None  # why the constraints cannot be differentiated, once found

    def check_traceable(self, example, params):
        """Whether the constraint functions run on traced values (written with chainrule.numpy): the multipliers
        and every derivative of the minimizer need their Jacobians. Remembers why not."""
        try:
            with np.errstate(all="ignore"):
                jacfwd(lambda v: self.constraint_values(v, params))(np.asarray(example, dtype=float))
        except Exception as error:  # noqa: BLE001 - reported, with its cause, when a derivative is asked for
            self.untraceable = f"{type(error).__name__}: {error}"
        return self.untraceable is None

    def constraint_values(self, v, params):
        """``concatenate([c_E(v), c_I(v)])`` (``params``: the leaves of minimize's parameters)."""
        from .. import numpy as cnp
        pieces = [r.values(v, params) for r in self.rows]
        return cnp.concatenate([p[0] for p in pieces] + [p[1] for p in pieces])

    def residual(self, v, multipliers, params):
        """F(v, λ): stationarity of the Lagrangian, then the equalities, then complementarity."""
        from .. import numpy as cnp
        gradient = grad(lambda w: self.fun(self.unravel(w), *params))(v)
        param_leaves = tree_flatten(tuple(params))[0]
        values, pullback = vjp(lambda w: self.constraint_values(w, param_leaves), v)
        stationarity = cnp.astype(gradient, multipliers.dtype) - pullback(cnp.astype(multipliers, values.dtype))[0]
        split = self.equality_count
        complementarity = cnp.minimum(multipliers[split:], values[split:])
        return cnp.concatenate([cnp.astype(stationarity, multipliers.dtype), values[:split],
                                cnp.astype(complementarity, multipliers.dtype)])

    def multipliers(self, v, gradient, params):
        """λ at a (near-)minimizer ``v``: least squares on ``Jᵀ λ = ∇f`` over the equalities and the inequalities
        near zero, with ``λ_I >= 0``; the others are 0."""
        values = np.asarray(self.constraint_values(v, params), dtype=float)
        jacobian = np.asarray(jacfwd(lambda w: self.constraint_values(w, params))(v), dtype=float).reshape(
            self.count, self.size)
        split = self.equality_count
        scale = 1.0 + np.max(np.abs(v), initial=0.0)
        candidates = np.concatenate([np.arange(split),
                                     split + np.flatnonzero(values[split:] <= CANDIDATE_TOLERANCE * scale)])
        multipliers = np.zeros(self.count)
        if candidates.size:
            lower = np.where(candidates < split, -np.inf, 0.0)
            fit = scipy.optimize.lsq_linear(jacobian[candidates].T, np.asarray(gradient, dtype=float),
                                            bounds=(lower, np.full(candidates.size, np.inf)), method="bvls")
            multipliers[candidates] = fit.x
        return multipliers

    def active_rows(self, v, multipliers, params):
        """Which inequality rows complementarity treats as active (``c_I < λ_I``, so its ``min`` is ``c``)."""
        values = np.asarray(self.constraint_values(v, params), dtype=float)[self.equality_count:]
        return values < multipliers[self.equality_count:]

    def degenerate_rows(self, v, multipliers, gradient, params):
        """Inequality rows that are active with a zero multiplier: no strict complementarity, no derivative."""
        values = np.asarray(self.constraint_values(v, params), dtype=float)[self.equality_count:]
        scale = 1.0 + np.max(np.abs(v), initial=0.0)
        size = DEGENERATE_TOLERANCE * (1.0 + np.max(np.abs(gradient), initial=0.0))
        active = values <= ACTIVE_TOLERANCE * scale
        return np.flatnonzero(active & (multipliers[self.equality_count:] <= size))

    def describe(self, inequality_rows):
        """Names of inequality rows, e.g. ``constraints[1] row 0 (lower)``."""
        names = []
        for r in self.rows:
            names += [f"{r.where} row {k} (lower)" for k in r.lower_rows]
            names += [f"{r.where} row {k} (upper)" for k in r.upper_rows]
        return [names[k] for k in inequality_rows]


def with_exact_jacobians(constraints, example, method):
    """SciPy's constraints with their Jacobians from chainrule where the user gave none (SciPy would take
    finite differences): dicts gain ``jac``, a NonlinearConstraint with ``jac="2-point"`` (the default) is
    rebuilt with one (and, for ``method="trust-constr"``, its Hessian). A constraint whose function cannot be traced keeps SciPy's finite differences."""
    single = isinstance(constraints, (dict, scipy.optimize.NonlinearConstraint, scipy.optimize.LinearConstraint))
    out = []
    for constraint in ([constraints] if single else constraints):
        if isinstance(constraint, dict) and "jac" not in constraint and callable(constraint.get("fun")):
            args = tuple(constraint.get("args", ()))
            jacobian = _traced_jacobian(constraint["fun"], example, args)
            if jacobian is not None:
                constraint = dict(constraint, jac=jacobian)
        elif isinstance(constraint, scipy.optimize.NonlinearConstraint) and isinstance(constraint.jac, str) \
                and constraint.jac == "2-point":
            jacobian = _traced_jacobian(constraint.fun, example, ())
            if jacobian is not None:
                # trust-constr also takes the Hessian of v . c(x): given as products (never formed) in place of
                # its default quasi-Newton (BFGS) estimate. The other methods warn that they ignore one.
                default_hess = constraint.hess is None or isinstance(constraint.hess,
                                                                     scipy.optimize.HessianUpdateStrategy)
                hess = _weighted_hessian(constraint.fun, np.size(example)) \
                    if default_hess and method == "trust-constr" else constraint.hess
                constraint = scipy.optimize.NonlinearConstraint(
                    constraint.fun, constraint.lb, constraint.ub, jac=jacobian, hess=hess,
                    keep_feasible=constraint.keep_feasible, finite_diff_rel_step=constraint.finite_diff_rel_step,
                    finite_diff_jac_sparsity=constraint.finite_diff_jac_sparsity)
        out.append(constraint)
    return out[0] if single else out


def _weighted_hessian(function, size):
    """``(x, v) -> the Hessian of v . function(x)`` as a LinearOperator applying Hessian-vector products."""
    from .. import numpy as cnp

    def hess(x, weights):
        x, weights = np.asarray(x, dtype=float), np.asarray(weights, dtype=float)

        def weighted(w):
            return cnp.sum(cnp.reshape(function(w), (-1,)) * weights)

        def product(direction):
            direction = np.asarray(direction, dtype=float).reshape(size)
            return np.asarray(hvp(weighted, (x,), (direction,))[0], dtype=float)
        return scipy.sparse.linalg.LinearOperator((size, size), matvec=product, dtype=np.float64)
    return hess


def _traced_jacobian(function, example, args):
    """``v -> dfunction/dv`` as a dense 2-d array, or None when ``function`` does not run on traced values."""
    def jacobian(v, *args):
        value = jacfwd(lambda w: function(w, *args))(np.asarray(v, dtype=float))
        return np.asarray(value, dtype=float).reshape(-1, np.size(v))
    try:
        expected = np.size(function(example, *args))
        if jacobian(example, *args).shape != (expected, np.size(example)):
            return None
    except Exception:  # noqa: BLE001 - any failure to trace means: leave the constraint to SciPy's differences
        return None
    return jacobian
