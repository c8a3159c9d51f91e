"""``chainrule.numpy.random``: NumPy's random module, re-exported as it is. A random draw is a plain NumPy array
with no derivative (it does not depend on what a transform differentiates), so a draw whose parameters are
traced raises; draw standard values and transform them instead (``mu + sigma * normal(size=n)``).

>>> import chainrule as cr, chainrule.numpy as np
>>> import chainrule.numpy.random as random
>>> noise = random.default_rng(0).normal(size=3)
>>> type(noise) is np.ndarray
True
>>> float(cr.grad(lambda sigma: np.sum(sigma * noise))(2.0)) == float(np.sum(noise))  # a constant draw
True
"""
from numpy.random import *  # noqa: F401,F403
from numpy.random import __all__  # noqa: F401
