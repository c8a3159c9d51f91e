"""Differentiable ODE solvers: ``odeint`` (rk4, dopri5, tsit5, events) with exact derivatives of the computed
solution (discrete adjoint, forward sensitivities) or the continuous adjoint (``adjoint="backsolve"``).

>>> import chainrule as cr, chainrule.numpy as np
>>> from chainrule.integrate import odeint
>>> ys = odeint(lambda y, t: -y, 1.0, np.array([0.0, 1.0]), rtol=1e-10, atol=1e-12)
>>> round(float(ys[-1]), 9) == round(float(np.exp(-1.0)), 9)
True
"""
from .odeint import odeint
from .solver import IntegrationError

__all__ = ["odeint", "IntegrationError"]
