"""First-order optimizers with autograd's calling convention (``autograd.misc.optimizers``):
``optimizer(grad, x0, callback=None, num_iters=..., step_size=..., ...)`` where ``grad(x, i)`` is the
gradient at ``x`` on iteration ``i`` (so it can pick a mini-batch) and ``callback(x, i, g)`` sees each
iterate. ``x0`` may be any pytree of real arrays; the updates run on one flat vector in x0's dtype."""
import numpy as np

from .spaces import RealSpace, has_tracer

# Runs at least this long get a progress bar by default (when tqdm is installed).
PROGRESS_FROM = 1000


class _Flat:
    """x0's pytree as one vector in its own dtype (float32 stays float32), and back."""

    def __init__(self, x0, optimizer):
        self.optimizer = optimizer
        self.space = RealSpace(x0, f"{optimizer}: x0")
        if any(self.space.is_complex):
            raise TypeError(f"{optimizer}: x0 is complex. These update rules are for real parameters (the gradient "
                            f"of a complex parameter is conjugated, and rmsprop/adam scale by its square); "
                            f"optimize the real and imaginary parts as two real arrays instead.")
        if has_tracer(x0):
            raise TypeError(f"{optimizer}: x0 is a traced value (being differentiated, batched or staged); the "
                            f"optimizer loop runs on concrete arrays. Pass a plain array.")

    def flatten(self, tree, what):
        return self.space.flatten_leaves(self.space.check(tree, f"{self.optimizer}: {what}")).astype(self.space.dtype)

    def unflatten(self, vector):
        return self.space.unflatten(vector)


def _progress_bar(iterations, progress, name):
    """``iterations`` wrapped in a tqdm bar when asked for (or, with ``progress=None``, on long runs) and tqdm
    is installed; the plain range otherwise."""
    show = len(iterations) >= PROGRESS_FROM if progress is None else bool(progress)
    if not show:
        return iterations
    try:
        from tqdm.auto import tqdm
    except ImportError:  # an optional nicety: no bar without tqdm
        return iterations
    return tqdm(iterations, desc=name, leave=False)


def _run(updates, name, grad, x0, callback, num_iters, progress, **hyperparameters):
    """Run ``updates(gradient, vector, iterations, **hyperparameters)`` on x0's flat vector, with the user's
    ``grad(x, i)`` and ``callback(x, i, g)`` seeing pytrees shaped like x0; return such a pytree."""
    if not callable(grad):
        raise TypeError(f"{name}: grad must be a function grad(x, i) giving the gradient at x on iteration i "
                        f"(e.g. chainrule.grad(loss) for loss(x, i)), got {type(grad).__name__}")
    if not (isinstance(num_iters, (int, np.integer)) and num_iters >= 0):
        raise ValueError(f"{name}: num_iters must be a non-negative int, got {num_iters!r}")
    flat = _Flat(x0, name)

    def gradient(vector, i):
        x = flat.unflatten(vector)
        g = grad(x, i)
        if callback is not None:
            callback(x, i, g)
        return flat.flatten(g, f"grad(x, {i})")

    iterations = _progress_bar(range(num_iters), progress, name)
    return flat.unflatten(updates(gradient, flat.flatten(x0, "x0"), iterations, **hyperparameters))


def sgd(grad, x0, callback=None, num_iters=200, step_size=0.1, mass=0.9, *, progress=None):
    """Stochastic gradient descent with momentum, autograd's form: the velocity is an exponential average of
    past negative gradients, ``v <- mass v - (1 - mass) g``, then ``x <- x + step_size v``.

    ``progress``: a tqdm progress bar (True/False; None shows it for runs of 1,000 iterations or more),
    shown only when tqdm is installed.

    >>> import chainrule as cr, chainrule.numpy as np
    >>> loss = lambda x, i: np.sum((x - 3.0) ** 2)
    >>> np.round(cr.optimize.sgd(cr.grad(loss), np.zeros(2), num_iters=300), 6)
    array([3., 3.])
    """
    return _run(_sgd_updates, "sgd", grad, x0, callback, num_iters, progress, step_size=step_size, mass=mass)


def _sgd_updates(gradient, x, iterations, step_size, mass):
    velocity = np.zeros_like(x)
    for i in iterations:
        g = gradient(x, i)
        velocity = mass * velocity - (1.0 - mass) * g
        x = x + step_size * velocity
    return x


def momentum(grad, x0, callback=None, num_iters=200, step_size=0.1, mass=0.9, nesterov=False, *, progress=None):
    """Gradient descent with classical (heavy-ball) momentum, ``v <- mass v - step_size g``, ``x <- x + v``;
    with ``nesterov=True`` the gradient is taken at the look-ahead point ``x + mass v`` (Sutskever et al.
    2013), and ``grad`` and ``callback`` see that point. Unlike ``sgd`` the velocity is not damped by
    ``1 - mass``, so ``step_size`` is the step of plain gradient descent. ``progress`` as in ``sgd``.

    >>> import chainrule as cr, chainrule.numpy as np
    >>> loss = lambda x, i: np.sum((x - 3.0) ** 2)
    >>> np.round(cr.optimize.momentum(cr.grad(loss), np.zeros(2), num_iters=300), 6)
    array([3., 3.])
    """
    return _run(_momentum_updates, "momentum", grad, x0, callback, num_iters, progress, step_size=step_size,
                mass=mass, nesterov=nesterov)


def _momentum_updates(gradient, x, iterations, step_size, mass, nesterov):
    velocity = np.zeros_like(x)
    for i in iterations:
        g = gradient(x + mass * velocity if nesterov else x, i)
        velocity = mass * velocity - step_size * g
        x = x + velocity
    return x


def rmsprop(grad, x0, callback=None, num_iters=100, step_size=0.1, gamma=0.9, eps=10**-8, *, progress=None):
    """RMSProp (Hinton's lecture 6e), autograd's form: ``s <- gamma s + (1 - gamma) g²`` starting from
    ``s = 1``, then ``x <- x - step_size g / (sqrt(s) + eps)``. ``progress`` as in ``sgd``.

    >>> import chainrule as cr, chainrule.numpy as np
    >>> loss = lambda x, i: np.sum((x - 3.0) ** 2)
    >>> x = cr.optimize.rmsprop(cr.grad(loss), np.zeros(2), num_iters=500, step_size=0.01)
    >>> bool(np.max(np.abs(x - 3.0)) < 0.05)
    True
    """
    return _run(_rmsprop_updates, "rmsprop", grad, x0, callback, num_iters, progress, step_size=step_size,
                gamma=gamma, eps=eps)


def _rmsprop_updates(gradient, x, iterations, step_size, gamma, eps):
    average_square = np.ones_like(x)
    for i in iterations:
        g = gradient(x, i)
        average_square = gamma * average_square + (1.0 - gamma) * g ** 2
        x = x - step_size * g / (np.sqrt(average_square) + eps)
    return x


def adam(grad, x0, callback=None, num_iters=100, step_size=0.001, b1=0.9, b2=0.999, eps=10**-8, *, progress=None):
    """Adam (Kingma and Ba 2015): bias-corrected running averages m̂, v̂ of the gradient and of its square,
    ``x <- x - step_size m̂ / (sqrt(v̂) + eps)``. ``progress`` as in ``sgd``.

    >>> import chainrule as cr, chainrule.numpy as np
    >>> loss = lambda x, i: np.sum((x - 3.0) ** 2)
    >>> np.round(cr.optimize.adam(cr.grad(loss), np.zeros(2), num_iters=2000, step_size=0.05), 4)
    array([3., 3.])
    """
    return _run(_adam_updates, "adam", grad, x0, callback, num_iters, progress, step_size=step_size, b1=b1,
                b2=b2, eps=eps)


def _adam_updates(gradient, x, iterations, step_size, b1, b2, eps):
    first = np.zeros_like(x)
    second = np.zeros_like(x)
    for i in iterations:
        g = gradient(x, i)
        first = (1.0 - b1) * g + b1 * first
        second = (1.0 - b2) * g ** 2 + b2 * second
        first_unbiased = first / (1.0 - b1 ** (i + 1))
        second_unbiased = second / (1.0 - b2 ** (i + 1))
        x = x - step_size * first_unbiased / (np.sqrt(second_unbiased) + eps)
    return x
