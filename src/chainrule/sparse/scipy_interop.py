"""Sparse derivatives in the shapes SciPy's solvers take them: a ``jac`` for ``solve_ivp``'s implicit methods
(BDF, Radau, LSODA) and a ``jac_sparsity`` (or exact sparse ``jac``) for ``least_squares``."""
import numpy as np

from .compression import compressed_jacobian, decompress_jacobian, jacobian_plan
from .detection import jacobian_sparsity


def solve_ivp_jac(fun, *, order="auto", jit=False):
    """Return ``jac(t, y)``: the Jacobian of ``fun(t, y)`` with respect to ``y`` as a ``scipy.sparse`` CSC
    matrix, for ``scipy.integrate.solve_ivp(fun, ..., method="BDF" | "Radau", jac=jac)``, which then
    factors its Newton matrices with sparse LU. The pattern is detected at the first call (for all ``y``
    and the structure ``fun`` has at that ``t``), colored once, and each call is one batched JVP pass.
    ``jac.sparsity`` holds the pattern once known. ``jit`` as in ``jacobian``.

    >>> import numpy, scipy.integrate, chainrule.numpy as np
    >>> def decay(t, y):                                  # a stiff chain y0 -> y1 -> y2
    ...     return np.concatenate([-1e3 * y[:1], 1e3 * y[:1] - y[1:2], y[1:2]])
    >>> jac = solve_ivp_jac(decay)
    >>> sol = scipy.integrate.solve_ivp(decay, (0.0, 1.0), numpy.array([1.0, 0.0, 0.0]), method="BDF", jac=jac)
    >>> bool(sol.success), jac.sparsity.nnz
    (True, 4)
    """
    state = {}

    def jac(t, y):
        y = np.asarray(y)
        if y.dtype.kind not in "fc":
            y = y.astype(np.float64)
        key = (y.shape, y.dtype.str)
        at_t = lambda state_y: fun(t, state_y)  # noqa: E731  (t is a number here, fixed for this call)
        plan = state.get(key)
        if plan is None:
            pattern = jacobian_sparsity(at_t)(y)
            if pattern.shape[0] != y.size:
                raise ValueError(f"solve_ivp_jac: fun(t, y) returned {pattern.shape[0]} values for y of size "
                                 f"{y.size}; an ODE right-hand side returns one derivative per state")
            plan = state[key] = jacobian_plan(pattern, "forward", y.dtype, order=order)
            jac.sparsity = plan.pattern
        if jit:
            compiled = state.get(("compiled",) + key)
            if compiled is None:
                compiler = _public_jit() if jit is True else jit
                compiled = state[("compiled",) + key] = compiler(
                    lambda time, state_y: compressed_jacobian(lambda z: fun(time, z), plan, state_y))
            compressed = compiled(np.asarray(t, dtype=y.dtype), y)
        else:
            compressed = compressed_jacobian(at_t, plan, y)
        return decompress_jacobian(plan, compressed, "csc")

    jac.sparsity = None
    return jac


def least_squares_sparsity(fun, x0, *args, **kwargs):
    """The Jacobian pattern of the residuals ``fun(x, *args, **kwargs)`` at ``x0``'s shape, a ``scipy.sparse``
    CSR matrix for ``scipy.optimize.least_squares(..., jac_sparsity=pattern)`` (SciPy then groups its finite
    differences by it). For exact derivatives instead, pass ``jac=least_squares_jac(fun)``.

    >>> import numpy, chainrule.numpy as np
    >>> least_squares_sparsity(lambda x: x[1:] - x[:-1] ** 2, numpy.ones(4)).toarray().astype(int)
    array([[1, 1, 0, 0],
           [0, 1, 1, 0],
           [0, 0, 1, 1]])
    """
    return jacobian_sparsity(lambda x: fun(x, *args, **kwargs))(np.asarray(x0, dtype=np.float64)
                                                                if np.asarray(x0).dtype.kind not in "fc" else x0)


def least_squares_jac(fun, *, order="auto"):
    """Return ``jac(x, *args, **kwargs)``: the exact sparse Jacobian of the residuals ``fun(x, *args, **kwargs)``,
    for ``scipy.optimize.least_squares(fun, x0, jac=jac, tr_solver="lsmr")``. The pattern is detected and
    colored at the first call (it must not change with ``args``); each call is one batched JVP or VJP pass.

    >>> import numpy, scipy.optimize, chainrule.numpy as np
    >>> residuals = lambda x, target: x[1:] * x[:-1] - target
    >>> fit = scipy.optimize.least_squares(residuals, numpy.ones(5), jac=least_squares_jac(residuals),
    ...                                    args=(numpy.full(4, 2.0),), tr_solver="lsmr")
    >>> bool(numpy.allclose(fit.x[1:] * fit.x[:-1], 2.0))
    True
    """
    plans = {}

    def jac(x, *args, **kwargs):
        x = np.asarray(x)
        at_args = lambda z: fun(z, *args, **kwargs)  # noqa: E731
        key = (x.shape, x.dtype.str)
        plan = plans.get(key)
        if plan is None:
            plan = plans[key] = jacobian_plan(jacobian_sparsity(at_args)(x), "auto", x.dtype, order=order)
        return decompress_jacobian(plan, compressed_jacobian(at_args, plan, x), "csr")

    return jac


def _public_jit():
    import chainrule
    return chainrule.jit
