"""The linear systems of implicit differentiation: ``A = dF/dx`` at a solution, applied matrix-free by JVPs
(``A v``) and VJPs (``Aᵀ w``) of F, and ``linear_solve``, the primitive that solves with it.

``linear_solve`` is linear in its right-hand side: its JVP is another solve, its transpose a solve with
``Aᵀ`` and its batching rule a solve with many right-hand sides, so forward mode, reverse mode and
Jacobians of a solution all cost solves, never iterations of the solver that found it.
"""
import numpy as np
import scipy.linalg
import scipy.sparse.linalg

from ..autodiff.transforms import linearize, vjp, vmap
from ..core.avals import ShapedArray
from ..core.interpreter import ChainruleError, Tracer
from ..core.primitive import Primitive
from ..core.tree import tree_map, tree_unflatten
from ..core.zeros import instantiate
from ..ops.batch_rules import materialize
from .convergence import default_tolerance, warn_not_converged
from .spaces import has_tracer

# Below this many unknowns the matrix is formed (one batched JVP pass) and factored: exact, and cheaper than
# an iterative solve's Python loop. Above it, Krylov methods apply A without forming it.
DENSE_LIMIT = 50
METHODS = ("auto", "dense", "gmres", "cg", "bicgstab")


def check_method(method, where):
    if method not in METHODS:
        raise ValueError(f"{where}: linear_solve={method!r} is not one of {', '.join(map(repr, METHODS))}")
    return method


class LinearSystem:
    """``A = dF/dx`` at ``(x, params)`` for ``F = function(x, *params)``, in the real coordinates of ``space``.

    ``symmetric=True`` (Hessians) lets ``Aᵀ w`` reuse ``A w`` and selects conjugate gradients.
    """

    def __init__(self, function, x, params, space, *, method="auto", tol=None, symmetric=False, where="root"):
        if has_tracer(x) or has_tracer(params):
            raise NotImplementedError(
                f"{where}: derivatives of second or higher order of the solution (e.g. hessian, or grad of a "
                f"jvp) are not supported: the linear system of the implicit function theorem would itself need "
                f"differentiating. First derivatives (grad, jvp, vjp, jacfwd, jacrev) work; for a second "
                f"derivative, use finite differences of the first (chainrule.fd) or differentiate the unrolled "
                f"iterations.")
        self.function, self.x, self.params, self.space = function, x, tuple(params), space
        self.method = method
        self.tol = default_tolerance(space.epsilon) if tol is None else float(tol)
        self.symmetric = symmetric and not any(space.is_complex)
        self.where = where
        self._jvp = self._pullback = self._dense = None

    # -------------------------------------------------------------------------------------- applying A

    def _at_x(self, x):
        return self.function(x, *self.params)

    def _checked(self, out, what):
        self.space.check(out, f"{self.where}: {what}")
        return out

    def _tangent_map(self):
        if self._jvp is None:  # formed on first use: a reverse-mode solve never needs it
            _, self._jvp = linearize(self._at_x, self.x)
        return self._jvp

    def matvec(self, v):
        image = self._tangent_map()(self.space.unflatten(v))
        return self.space.flatten(self._checked(image, "the JVP of the function"))

    def rmatvec(self, w):
        if self.symmetric:
            return self.matvec(w)
        if self._pullback is None:
            _, self._pullback = vjp(self._at_x, self.x)
        # Cotangents of complex values are conjugated coordinates (JAX's convention): conjugating in and out
        # makes the pullback the transpose of A in real coordinates.
        cotangent = tree_map(np.conj, self.space.unflatten(w))
        return self.space.flatten(tree_map(np.conj, self._pullback(cotangent)[0]))

    def matmat(self, vectors):
        """``A @ vectors`` for a (N, K) block, in one batched pass where every operation can be batched."""
        count = vectors.shape[1]
        tangents = self.space.unflatten_leaves(vectors.T, batch=(count,))
        try:
            images = vmap(self._tangent_map())(tree_unflatten(self.space.tree, tangents))
        except (NotImplementedError, ChainruleError):  # an operation without a batching rule: one at a time
            return np.stack([self.matvec(vectors[:, k]) for k in range(count)], axis=1)
        leaves = self.space.check(images, f"{self.where}: the JVP of the function", batch=(count,))
        return self.space.flatten_leaves(leaves, batch=(count,)).T

    def dense(self):
        if self._dense is None:
            self._dense = self.matmat(np.eye(self.space.size))
        return self._dense

    # -------------------------------------------------------------------------------------- solving

    def chosen_method(self):
        if self.method != "auto":
            return self.method
        if self.space.size <= DENSE_LIMIT:
            return "dense"
        return "cg" if self.symmetric else "gmres"

    def solve(self, b, transposed=False):
        """The real vector v with ``A v = b`` (``Aᵀ v = b`` when ``transposed``)."""
        scale = np.linalg.norm(b)
        if scale == 0.0:
            return np.zeros_like(b)
        method = self.chosen_method()
        if method == "dense":
            solution = self._dense_solve(b[:, None], transposed)[:, 0]
            matrix = self.dense().T if transposed else self.dense()
            self._check_residual(np.linalg.norm(b - matrix @ solution) / scale, method)
            return solution
        apply = self.rmatvec if transposed else self.matvec
        solution, residual = self._iterative_solve(apply, b, scale, method)
        self._check_residual(residual / scale, method)
        return solution

    def solve_many(self, columns, transposed=False):
        """``solve`` for each column of a (N, K) block: one factorization when the matrix is formed."""
        if self.chosen_method() == "dense":
            solutions = self._dense_solve(columns, transposed)
            matrix = self.dense().T if transposed else self.dense()
            scales = np.linalg.norm(columns, axis=0)
            residuals = np.linalg.norm(columns - matrix @ solutions, axis=0)
            self._check_residual(np.max(residuals / np.where(scales == 0.0, 1.0, scales)), "dense")
            return solutions
        return np.stack([self.solve(columns[:, k], transposed) for k in range(columns.shape[1])], axis=1)

    def _dense_solve(self, columns, transposed):
        matrix = self.dense().T if transposed else self.dense()
        try:
            return scipy.linalg.solve(matrix, columns, check_finite=True)
        except (np.linalg.LinAlgError, ValueError) as error:
            raise np.linalg.LinAlgError(
                f"{self.where}: the Jacobian dF/dx at the solution is singular or not finite ({error}), so the "
                f"solution is not a differentiable function of the parameters there (the implicit function "
                f"theorem needs dF/dx invertible). Check that the solver converged to an isolated solution.") from None

    def _iterative_solve(self, apply, b, scale, method):
        """(solution, norm of its true residual)."""
        size = self.space.size
        operator = scipy.sparse.linalg.LinearOperator((size, size), matvec=apply, dtype=np.float64)
        target = self.tol * scale
        solution, residual = np.zeros_like(b), b
        # Iterative refinement: each round solves for the correction from the true residual, so rounding in
        # the Krylov recurrence does not limit the accuracy.
        for _ in range(4):
            correction = self._krylov(operator, residual, target, method)
            solution = solution + correction
            residual = b - apply(solution)
            if np.linalg.norm(residual) <= target:
                break
        return solution, np.linalg.norm(residual)

    def _krylov(self, operator, residual, target, method):
        size = self.space.size
        if method == "cg":
            correction, info = scipy.sparse.linalg.cg(operator, residual, rtol=0.0, atol=target, maxiter=10 * size)
            if info == 0:
                return correction
            method = "gmres"  # not positive definite (a saddle point): GMRES needs no definiteness
        if method == "bicgstab":
            return scipy.sparse.linalg.bicgstab(operator, residual, rtol=0.0, atol=target, maxiter=10 * size)[0]
        restart = min(size, 60)
        return scipy.sparse.linalg.gmres(operator, residual, rtol=0.0, atol=target, restart=restart,
                                         maxiter=max(10, 4 * size // restart))[0]

    def _check_residual(self, relative, method):
        # The warning is for a solve that failed, not for one stopped at its rounding floor a little above tol.
        if not np.isfinite(relative) or relative > max(1e3 * self.tol, 1e3 * self.space.epsilon):
            warn_not_converged(f"{self.where}: the linear solve of implicit differentiation ({method})", relative,
                               self.tol, "-", "Pass linear_solve='dense' for a direct solve, or check that dF/dx "
                               "is well conditioned at the solution.")

    # -------------------------------------------------------------------------------------- on leaves

    def solve_leaves(self, leaves, transposed):
        vector = self.space.flatten_leaves([np.conj(leaf) for leaf in leaves] if transposed else leaves)
        out = self.space.unflatten_leaves(self.solve(vector, transposed))
        return [np.conj(leaf) for leaf in out] if transposed else out

    def solve_leaves_batch(self, leaves, transposed, count):
        if transposed:
            leaves = [np.conj(leaf) for leaf in leaves]
        columns = self.space.flatten_leaves(leaves, batch=(count,)).T
        out = self.space.unflatten_leaves(self.solve_many(columns, transposed).T, batch=(count,))
        return [np.conj(leaf) for leaf in out] if transposed else out


# ------------------------------------------------------------------------------------------- the primitive

def _linear_solve_impl(*rhs, system, transposed):
    return system.solve_leaves([np.asarray(r) for r in rhs], transposed)


def _linear_solve_shape_rule(*avals, system, transposed):
    return [ShapedArray(shape, dtype) for shape, dtype in zip(system.space.shapes, system.space.dtypes)]


def _linear_solve_jvp(primals, tangents, *, system, transposed):
    out = linear_solve(*primals, system=system, transposed=transposed)
    if all(t is None for t in tangents):
        return out, [None] * len(out)
    # Linear in the right-hand side: the tangent is the solve of the tangent.
    tangents = [instantiate(t, p) for t, p in zip(tangents, primals)]
    return out, linear_solve(*tangents, system=system, transposed=transposed)


def _linear_solve_vjp(outs, *rhs, system, transposed):
    def linear_solve_pullback(out_bars):
        bars = [instantiate(c, o) for c, o in zip(out_bars, outs)]
        return tuple(linear_solve(*bars, system=system, transposed=not transposed))
    return linear_solve_pullback


def _linear_solve_batch(primitive, values, batched, params, size):
    values = [materialize(v, b, size) for v, b in zip(values, batched)]
    if not any(isinstance(v, Tracer) for v in values):
        return params["system"].solve_leaves_batch([np.asarray(v) for v in values], params["transposed"], size)
    # Traced by a transform below the batch: one solve per example, each a call of the primitive.
    from ..numpy import stack
    rows = [linear_solve(*[v[k] for v in values], **params) for k in range(size)]
    return [stack([row[i] for row in rows]) for i in range(len(values))]


linear_solve = Primitive("linear_solve", _linear_solve_impl, shape_rule=_linear_solve_shape_rule,
                         jvp=_linear_solve_jvp, vjp=_linear_solve_vjp, batch=_linear_solve_batch,
                         multiple_results=True, linear=True)
