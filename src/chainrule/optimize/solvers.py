"""The forward solves of ``root`` and ``fixed_point``: plain NumPy loops on real vectors (nothing recorded),
so their memory and the cost of differentiating their result do not depend on how many iterations they take."""
import numpy as np
import scipy.optimize

from .convergence import warn_not_converged

# scipy.optimize.root's methods that take a Jacobian; the others build their own approximation.
SCIPY_ROOT_WITH_JACOBIAN = ("hybr", "lm")
SCIPY_ROOT_METHODS = SCIPY_ROOT_WITH_JACOBIAN + ("broyden1", "broyden2", "anderson", "linearmixing", "diagbroyden",
                                                 "excitingmixing", "krylov", "df-sane")
# Iterations without a new best residual after which a solve that is near its tolerance counts as having
# reached the rounding floor of the problem.
STALL_PATIENCE = 10


class _Progress:
    """The best iterate so far, and whether the residual still improves."""

    def __init__(self, tol):
        self.tol = tol
        self.best = None
        self.best_residual = self.best_target = np.inf
        self.since_best = 0

    def update(self, x, residual, target):
        if residual < self.best_residual:
            self.best, self.best_residual, self.best_target, self.since_best = x, residual, target, 0
        else:
            self.since_best += 1
        return residual <= target

    def stalled(self):
        """No new best for a while, with the best within a small factor of its tolerance: the rounding floor."""
        return self.since_best >= STALL_PATIENCE and self.best_residual <= 1e3 * self.best_target


def _scaled_target(tol, x):
    return tol * (1.0 + np.linalg.norm(x))


def iterate(step, x, tol, maxiter, where):
    """Plain fixed-point iteration ``x <- step(x)``; converged when ``|step(x) - x| <= tol (1 + |x|)``."""
    progress = _Progress(tol)
    for iteration in range(1, maxiter + 1):
        image = step(x)
        residual = np.linalg.norm(image - x)
        if progress.update(x, residual, _scaled_target(tol, x)):
            return x
        if progress.stalled():
            return progress.best
        x = image
    _report(where, progress, tol, maxiter, "Raise maxiter, or use method='anderson'.")
    return x


def anderson(step, x, tol, maxiter, memory, where):
    """Anderson acceleration (type II, Walker and Ni 2011) of ``x <- step(x)``, with ``memory`` past steps.

    Each iteration takes the combination of the last steps whose residuals cancel best (a small least-squares
    problem), which turns the linear convergence of plain iteration into near-Krylov speed. When the mixed
    step makes the residual much worse than the best seen, the history is dropped and iteration restarts.
    """
    progress = _Progress(tol)
    residuals, images = [], []
    for iteration in range(1, maxiter + 1):
        image = step(x)
        residual_vector = image - x
        residual = np.linalg.norm(residual_vector)
        target = _scaled_target(tol, x)
        if progress.update(x, residual, target):
            return x
        if progress.stalled():
            return progress.best
        if residual > 1e2 * progress.best_residual:  # the mixing went astray: restart from the best iterate
            residuals, images = [], []
            x = progress.best
            continue
        residuals.append(residual_vector)
        images.append(image)
        if len(residuals) > memory + 1:
            residuals.pop(0)
            images.pop(0)
        if len(residuals) == 1:
            x = image
            continue
        residual_steps = np.diff(np.stack(residuals, axis=1), axis=1)
        image_steps = np.diff(np.stack(images, axis=1), axis=1)
        weights = np.linalg.lstsq(residual_steps, residual_vector, rcond=None)[0]
        x = image - image_steps @ weights
    _report(where, progress, tol, maxiter, "Raise maxiter or loosen tol; a map that does not contract near the "
                                           "solution has no fixed point that iteration can find.")
    return progress.best


def newton(residual_of, solve_jacobian, x, tol, maxiter, where):
    """Newton's method with a backtracking line search on ``|F|``; converged when the Newton step is at most
    ``tol (1 + |x|)`` (quadratic convergence then leaves an error far below that) or ``F(x) = 0``."""
    residual_vector = residual_of(x)
    residual = np.linalg.norm(residual_vector)
    for iteration in range(1, maxiter + 1):
        if residual == 0.0:
            return x
        step = solve_jacobian(x, -residual_vector)
        if np.linalg.norm(step) <= _scaled_target(tol, x):
            candidate = x + step
            # At the rounding floor the last step may not lower |F|: keep whichever point is better.
            return candidate if np.linalg.norm(residual_of(candidate)) <= residual else x
        length = 1.0
        while True:
            candidate = x + length * step
            candidate_residual_vector = residual_of(candidate)
            candidate_residual = np.linalg.norm(candidate_residual_vector)
            if candidate_residual <= (1.0 - 1e-4 * length) * residual:
                break
            if length < 1e-8:
                warn_not_converged(f"{where} (Newton)", residual, tol, iteration,
                                   "The line search found no decrease of |F|: the start may be far from a root, "
                                   "or the Jacobian singular there. Try another x0 or method='hybr'.")
                return x
            length /= 2.0
        x, residual_vector, residual = candidate, candidate_residual_vector, candidate_residual
    warn_not_converged(f"{where} (Newton)", residual, tol, maxiter, "Raise maxiter, or try another x0.")
    return x


def scipy_root(residual_of, jacobian_of, x, tol, maxiter, method, where):
    """One of ``scipy.optimize.root``'s methods, given the exact Jacobian where it takes one."""
    options = {} if maxiter is None else {("maxfev" if method in SCIPY_ROOT_WITH_JACOBIAN else "maxiter"): maxiter}
    jacobian = jacobian_of if method in SCIPY_ROOT_WITH_JACOBIAN else None
    result = scipy.optimize.root(residual_of, x, jac=jacobian, method=method, tol=tol, options=options)
    if not result.success:
        warn_not_converged(f"{where} (scipy.optimize.root, method={method!r})",
                           float(np.linalg.norm(residual_of(result.x))), tol, getattr(result, "nit", "?"),
                           f"SciPy says: {result.message}")
    return result.x


def _report(where, progress, tol, maxiter, advice):
    warn_not_converged(where, progress.best_residual, progress.best_target, maxiter, advice)
