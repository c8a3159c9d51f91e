"""The linear systems of implicit differentiation: ``A = dF/dx`` at a solution, applied matrix-free by JVPs
(``A v``) and VJPs (``Aᵀ w``) of F, and ``linear_solve``, the primitive that solves with it.

``linear_solve`` takes the point (x and the parameters) as inputs next to its right-hand side. In the
right-hand side it is linear: its JVP is another solve, its transpose a solve with ``Aᵀ`` and its batching
rule a solve with many right-hand sides, so forward mode, reverse mode and Jacobians of a solution all cost
solves, never iterations of the solver that found it. In the point it is differentiated through
``A(θ) v = b``, with JVPs of F written in chainrule operations, so derivatives of any order follow.
"""
import warnings

import numpy as np
import scipy.linalg
import scipy.sparse.linalg

from ..autodiff.transforms import jvp, linearize, vjp, vmap
from ..core.avals import ShapedArray, aval_of
from ..core.interpreter import ChainruleError, Tracer
from ..core.primitive import Primitive
from ..core.tree import tree_map, tree_unflatten
from ..core.zeros import instantiate
from ..export.python import OPAQUE_CALLS
from ..ops.batch_rules import materialize
from .convergence import default_tolerance, warn_not_converged

# Below this many unknowns the matrix is formed (one batched JVP pass) and factored: exact, and cheaper than
# an iterative solve's Python loop. Above it, Krylov methods apply A without forming it.
DENSE_LIMIT = 50
# Above DENSE_LIMIT, "auto" still forms the matrix once the Krylov solves at one point have spent as many
# products with A as forming it takes (many right-hand sides: a Jacobian, a Hessian), up to this many unknowns
# (a float64 matrix of 128 MB).
DENSE_SWITCH_LIMIT = 4000
METHODS = ("auto", "dense", "gmres", "cg", "bicgstab")


def check_method(method, where):
    if method not in METHODS:
        raise ValueError(f"{where}: linear_solve={method!r} is not one of {', '.join(map(repr, METHODS))}")
    return method


class LinearSystem:
    """``A = dF/dx`` at concrete ``(x, params)`` for ``F = function(x, *params)``, in the real coordinates of
    ``space``: what the NumPy solves run on (``linear_solve``'s implementation builds one per point).

    ``symmetric=True`` (Hessians) lets ``Aᵀ w`` reuse ``A w`` and selects conjugate gradients.
    """

    def __init__(self, function, x, params, space, *, method="auto", tol=None, symmetric=False, where="root"):
        self.function, self.x, self.params, self.space = function, x, tuple(params), space
        self.method = method
        self.tol = default_tolerance(space.epsilon) if tol is None else float(tol)
        self.symmetric = symmetric and not any(space.is_complex)
        self.where = where
        self._jvp = self._pullback = self._dense = self._lu = None
        self._products = 0  # products with A or Aᵀ spent by Krylov solves so far

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
        size = self.space.size
        formed_pays = self._dense is not None or self._products >= size
        if size <= DENSE_LIMIT or (formed_pays and size <= DENSE_SWITCH_LIMIT):
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
        product = self.rmatvec if transposed else self.matvec

        def apply(v):
            self._products += 1
            return product(v)

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
        # Factored once: every later solve at this point (more columns, the transposed system) is two
        # triangular solves.
        return scipy.linalg.lu_solve(self._factors(), columns, trans=1 if transposed else 0)

    def _factors(self):
        if self._lu is None:
            matrix = self.dense()
            if not np.all(np.isfinite(matrix)):
                raise self._singular("it is not finite")
            with warnings.catch_warnings():  # a zero pivot is reported below, as this solve's error
                warnings.simplefilter("ignore", scipy.linalg.LinAlgWarning)
                lu, pivots = scipy.linalg.lu_factor(matrix, check_finite=False)
            if np.any(np.diagonal(lu) == 0.0):
                raise self._singular("its LU factorization has a zero pivot")
            self._lu = (lu, pivots)
        return self._lu

    def _singular(self, reason):
        return np.linalg.LinAlgError(
            f"{self.where}: the Jacobian dF/dx at the solution is singular or not finite ({reason}), so the "
            f"solution is not a differentiable function of the parameters there (the implicit function theorem "
            f"needs dF/dx invertible). Check that the solver converged to an isolated solution.")

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


# ------------------------------------------------------------------------------------------- the condition

def is_inexact(value):
    """Whether ``value`` holds floating-point or complex numbers (only those have derivatives)."""
    try:
        return aval_of(value).dtype.kind in "fc"
    except Exception:  # functions, strings and other static values
        return False


class OptimalityCondition:
    """``F(x, *params) = 0`` at a solution, as the primitives of implicit differentiation see it.

    Their inputs (*operands*) are x's leaves followed by the array leaves of ``params`` (``values``), so that
    every interpreter reaches them: a derivative of a solve with respect to x or the parameters is then one
    more solve, written with the same primitives, and so can itself be differentiated, batched or staged.
    The other leaves of ``params`` (functions, flags, Python ints) are kept here, as constants.
    """

    def __init__(self, function, space, param_leaves, param_tree, positions, *, method="auto", tol=None,
                 symmetric=False, where="root"):
        self.function, self.space, self.where = function, space, where
        self.param_leaves, self.param_tree, self.positions = list(param_leaves), param_tree, list(positions)
        self.method, self.tol, self.symmetric = method, tol, symmetric and not any(space.is_complex)
        self.x_count = len(space.shapes)
        self._last = None  # (operands, LinearSystem) of the last concrete solve, to reuse its matrix

    def __repr__(self):
        return f"<optimality condition of {self.where}: {getattr(self.function, '__name__', 'F')}(x, *params) = 0>"

    # -------------------------------------------------------------------------------------- structure

    def split(self, inputs):
        """(operands, right-hand sides) of ``linear_solve``'s inputs."""
        inputs = list(inputs)
        return inputs[:-self.x_count], inputs[-self.x_count:]

    def params_from(self, values):
        rebuilt = list(self.param_leaves)
        for position, value in zip(self.positions, values):
            rebuilt[position] = value
        return tuple(tree_unflatten(self.param_tree, rebuilt))

    def unpack(self, operands):
        """(x, params) from the operands."""
        return tree_unflatten(self.space.tree, operands[:self.x_count]), self.params_from(operands[self.x_count:])

    def leaves(self, tree, what):
        return self.space.check(tree, f"{self.where}: {what}")

    def in_space_dtypes(self, leaves):
        """The leaves in x's dtypes (a float32 problem keeps float32 tangents, whatever F computes in)."""
        from .. import numpy as cnp
        return [leaf if aval_of(leaf).dtype == dtype else cnp.astype(leaf, dtype)
                for leaf, dtype in zip(leaves, self.space.dtypes)]

    # -------------------------------------------------------------------------------------- concrete

    def system(self, operands):
        """The LinearSystem at concrete operands; the last one is kept, so repeated solves at one point (a
        Jacobian's columns, a second derivative's several solves) form and factor its matrix once."""
        last = self._last
        if last is not None and len(last[0]) == len(operands) and all(a is b for a, b in zip(last[0], operands)):
            return last[1]
        x, params = self.unpack(operands)
        system = LinearSystem(self.function, x, params, self.space, method=self.method, tol=self.tol,
                              symmetric=self.symmetric, where=self.where)
        self._last = (tuple(operands), system)
        return system

    # -------------------------------------------------------------------------------------- traceable
    # Written with chainrule operations on possibly traced operands, so that derivatives of these are exact.

    def apply(self, operands, vectors, transposed):
        """``A v`` (``Aᵀ v`` when ``transposed``, in cotangent convention) as leaves, A = dF/dx at the operands."""
        x, params = self.unpack(operands)

        def at_x(y):
            return self.function(y, *params)

        vector = tree_unflatten(self.space.tree, list(vectors))
        if transposed and not self.symmetric:
            image = vjp(at_x, x)[1](vector)[0]
        else:
            image = jvp(at_x, (x,), (vector,))[1]
        return self.leaves(image, f"the derivative of {getattr(self.function, '__name__', 'F')} with respect to x")

    def residual(self, operands):
        """F at the operands, as leaves."""
        x, params = self.unpack(operands)
        return self.leaves(self.function(x, *params), f"the value of {getattr(self.function, '__name__', 'F')}")


def tangent_along(function, operands, tangents):
    """The tangent of ``function(operands) -> leaves`` along ``tangents`` (None, and operands without
    derivatives, held fixed), or None when nothing moves."""
    moving = [k for k, (operand, tangent) in enumerate(zip(operands, tangents))
              if tangent is not None and is_inexact(operand)]
    if not moving:
        return None

    def of_moving(*values):
        return function(_with(operands, moving, values))

    return jvp(of_moving, tuple(operands[k] for k in moving), tuple(tangents[k] for k in moving))[1]


def negated_cotangents(function, operands, cotangent, wanted):
    """``-(d function / d operands[k])ᵀ cotangent`` for each k in ``wanted`` that has a derivative (None for
    the other operands), in one reverse pass."""
    moving = [k for k in wanted if is_inexact(operands[k])]
    result = [None] * len(operands)
    if not moving:
        return result

    def of_moving(*values):
        return function(_with(operands, moving, values))

    from .. import numpy as cnp
    # Negated on the way in: the cotangent is x-sized, the operands' cotangents may be much larger (a matrix).
    bars = vjp(of_moving, *[operands[k] for k in moving])[1]([cnp.negative(c) for c in cotangent])
    for k, bar in zip(moving, bars):
        result[k] = bar
    return result


def _with(operands, positions, values):
    full = list(operands)
    for position, value in zip(positions, values):
        full[position] = value
    return full


# ------------------------------------------------------------------------------------------- the primitive
# linear_solve(*operands, *rhs, condition, transposed): the solution v of A v = rhs (Aᵀ v = rhs), A = dF/dx at
# the operands. Linear in rhs, nonlinear in the operands: A(θ) v = b gives A dv = db - (dA) v.

def _linear_solve_impl(*inputs, condition, transposed):
    operands, rhs = condition.split(inputs)
    return condition.system(operands).solve_leaves([np.asarray(r) for r in rhs], transposed)


def _linear_solve_shape_rule(*avals, condition, transposed):
    return [ShapedArray(shape, dtype) for shape, dtype in zip(condition.space.shapes, condition.space.dtypes)]


def _linear_solve_jvp(primals, tangents, *, condition, transposed):
    out = linear_solve(*primals, condition=condition, transposed=transposed)
    operands, rhs = condition.split(primals)
    operand_dots, rhs_dots = condition.split(tangents)
    change = tangent_along(lambda moved: condition.apply(moved, out, transposed), operands, operand_dots)
    if change is None and all(t is None for t in rhs_dots):
        return out, [None] * len(out)
    rhs_dots = [instantiate(t, r) for t, r in zip(rhs_dots, rhs)]
    if change is not None:
        from .. import numpy as cnp
        rhs_dots = [cnp.subtract(t, c) for t, c in zip(rhs_dots, change)]
    return out, linear_solve(*operands, *condition.in_space_dtypes(rhs_dots), condition=condition,
                             transposed=transposed)


def _linear_solve_vjp(outs, *inputs, condition, transposed):
    operands, _ = condition.split(inputs)

    def linear_solve_pullback(out_bars):
        if all(c is None for c in out_bars):
            return (None,) * len(inputs)
        bars = [instantiate(c, o) for c, o in zip(out_bars, outs)]
        rhs_bars = linear_solve(*operands, *bars, condition=condition, transposed=not transposed)
        # d v = -A⁻¹ (dA) v: its transpose sends the right-hand side's cotangent back through dA.
        operand_bars = negated_cotangents(lambda moved: condition.apply(moved, outs, transposed), operands,
                                          rhs_bars, range(len(operands)))
        return tuple(operand_bars) + tuple(rhs_bars)
    return linear_solve_pullback


def _linear_solve_batch(primitive, values, batched, params, size):
    condition, transposed = params["condition"], params["transposed"]
    operands_batched, _ = condition.split(batched)
    if not any(operands_batched) and not any(isinstance(v, Tracer) for v in values):
        # One matrix, many right-hand sides: one factorization (a Jacobian's columns).
        operands, rhs = condition.split(values)
        rhs = [np.asarray(materialize(v, b, size)) for v, b in zip(rhs, condition.split(batched)[1])]
        return condition.system(operands).solve_leaves_batch(rhs, transposed, size)
    # A matrix per example (batched operands), or values traced by a transform below the batch: one solve per
    # example, each a call of the primitive, so that transform sees it.
    return stacked_examples(primitive, values, batched, params, size, condition.space)


def stacked_examples(primitive, values, batched, params, size, space):
    """The batched result of ``primitive`` (whose results are shaped like ``space``'s leaves) as a loop over the
    examples, stacked."""
    from ..numpy import stack
    if size == 0:
        return [np.zeros((0,) + shape, dtype) for shape, dtype in zip(space.shapes, space.dtypes)]
    rows = [primitive(*[v[k] if b else v for v, b in zip(values, batched)], **params) for k in range(size)]
    return [stack([row[i] for row in rows]) for i in range(len(rows[0]))]


linear_solve = Primitive("linear_solve", _linear_solve_impl, shape_rule=_linear_solve_shape_rule,
                         jvp=_linear_solve_jvp, vjp=_linear_solve_vjp, batch=_linear_solve_batch,
                         multiple_results=True)
# Staged (jit, to_python(compile=True)), the generated code calls the primitive, its condition bound.
OPAQUE_CALLS.add(linear_solve)
