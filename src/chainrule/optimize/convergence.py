"""Tolerances and the non-convergence warning shared by the solvers of ``chainrule.optimize``."""
import warnings


class ConvergenceWarning(RuntimeWarning):
    """A solver stopped before meeting its tolerance; the value (and any derivative of it) is inexact."""


def default_tolerance(epsilon):
    """The default relative tolerance for a working precision with machine epsilon ``epsilon``.

    Tight on purpose (about 2e-14 in float64, 1e-5 in float32): implicit derivatives are only as accurate as
    the solution and the linear solves behind them, and loose defaults (1e-5 or 1e-6, common elsewhere) lose
    digits of the derivative silently. The solvers stop earlier, with no warning, when they reach the
    rounding floor of the problem before this.
    """
    return 100.0 * epsilon


def warn_not_converged(what, residual, target, iterations, advice):
    warnings.warn(f"{what} did not converge: residual {residual:.3g} after {iterations} iteration(s), tolerance "
                  f"{target:.3g}. The result, and derivatives of it, are inexact. {advice}",
                  ConvergenceWarning, stacklevel=4)
