"""Problems and helpers shared by the tests of chainrule.optimize (test_optimize.py, test_optimize_transforms.py)."""
import numpy

import chainrule.numpy as np


def relative_error(actual, expected):
    actual, expected = numpy.asarray(actual), numpy.asarray(expected)
    return numpy.linalg.norm(actual - expected) / max(numpy.linalg.norm(expected), 1e-300)


def central_difference(function, x, step=1e-6):
    """The Jacobian of ``function`` (array -> array) at ``x``, of shape output shape + x's shape."""
    x = numpy.asarray(x, dtype=float)
    columns = []
    for k in range(x.size):
        e = numpy.zeros(x.size)
        e[k] = step
        e = e.reshape(x.shape)
        columns.append((numpy.asarray(function(x + e)) - numpy.asarray(function(x - e))) / (2 * step))
    stacked = numpy.stack(columns, axis=-1)
    return stacked.reshape(stacked.shape[:-1] + x.shape)


def tanh_problem(n=12, seed=0, dtype=numpy.float64):
    """W (scaled so that x -> tanh(W x + b) contracts), b and a weight vector c for a loss."""
    rng = numpy.random.default_rng(seed)
    W = (0.5 * rng.standard_normal((n, n)) / numpy.sqrt(n)).astype(dtype)
    b = rng.standard_normal(n).astype(dtype)
    c = rng.standard_normal(n).astype(dtype)
    return W, b, c


def tanh_map(x, W, b):
    return np.tanh(W @ x + b)
