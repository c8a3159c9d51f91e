"""A shallow ReLU network trained by gradient descent on a pytree of parameters, with per-example
gradients by vmap. Saves the training curve and the fitted function as PNG files.

    python examples/shallow_network.py [--out DIR]
"""
import argparse

import numpy

import chainrule as cr
import chainrule.numpy as np

from _reporting import new_figure, output_argument, progress, save_figure


def predict(params, x):
    hidden = np.maximum(x @ params["W1"] + params["b1"], 0.0)
    return hidden @ params["W2"]


def loss(params, x, y):
    return np.mean((predict(params, x) - y) ** 2)


def plot(losses, params, x, y, out):
    figure = new_figure(9.0, 3.5)
    curve, fit = figure.subplots(1, 2)
    curve.semilogy(losses)
    curve.set_xlabel("gradient descent step")
    curve.set_ylabel("mean squared error")
    curve.set_title("Training curve")
    grid = numpy.linspace(-2.0, 2.0, 200)[:, None]
    fit.scatter(x[:, 0], y[:, 0], s=8, color="gray", label="training data: sin(x)")
    fit.plot(grid[:, 0], numpy.asarray(predict(params, grid))[:, 0], color="tab:red", label="network")
    fit.set_xlabel("x")
    fit.set_title("Fitted result")
    fit.legend(fontsize=8)
    return save_figure(figure, out, "shallow_network")


def main(out=None):
    """Train; returns the loss before and after."""
    rng = numpy.random.default_rng(1)
    x = rng.uniform(-2.0, 2.0, size=(128, 1))
    y = numpy.sin(x)
    params = {"W1": rng.standard_normal((1, 32)), "b1": rng.standard_normal(32), "W2": 0.1 * rng.standard_normal((32, 1))}
    value_and_grad = cr.value_and_grad(loss)
    losses = []
    for _ in progress(range(300), 300, "training", every=50):
        value, grads = value_and_grad(params, x, y)
        losses.append(float(value))
        params = cr.tree_map(lambda p, g: p - 0.05 * g, params, grads)
    print(f"loss {losses[0]:.4f} -> {losses[-1]:.4f}")
    per_example = cr.vmap(cr.grad(loss), in_axes=(None, 0, 0))(params, x[:, None, :], y[:, None, :])
    print("per-example gradient of W1:", per_example["W1"].shape)
    plot(losses, params, x, y, out)
    return losses[0], losses[-1]


if __name__ == "__main__":
    main(output_argument(argparse.ArgumentParser(description=__doc__.splitlines()[0])).parse_args().out)
