"""Least squares by gradient descent with an AD gradient, checked against finite differences and the
normal equations. Saves the training curve and the fitted coefficients as PNG files.

    python examples/least_squares.py [--out DIR]
"""
import argparse

import numpy

import chainrule as cr
import chainrule.fd as fd
import chainrule.numpy as np

from _reporting import new_figure, output_argument, progress, save_figure


def plot(excess, x, exact, x_true, out):
    figure = new_figure(9.0, 3.5)
    curve, coefficients = figure.subplots(1, 2)
    curve.semilogy(excess)
    curve.set_xlabel("gradient descent step")
    curve.set_ylabel("sum of squared residuals - minimum")
    curve.set_title("Training curve")
    index = numpy.arange(len(x))
    coefficients.bar(index - 0.25, x_true, width=0.25, label="true")
    coefficients.bar(index, exact, width=0.25, label="normal equations")
    coefficients.bar(index + 0.25, x, width=0.25, label="gradient descent")
    coefficients.set_xticks(index, [f"x{i}" for i in index])
    coefficients.set_title("Fitted coefficients")
    coefficients.legend(fontsize=8)
    return save_figure(figure, out, "least_squares")


def main(out=None):
    """Fit; returns the largest difference from the normal equations' solution."""
    rng = numpy.random.default_rng(0)
    A = rng.standard_normal((200, 5))
    x_true = numpy.arange(1.0, 6.0)
    y = A @ x_true + 0.01 * rng.standard_normal(200)

    def loss(x):
        return np.sum((y - A @ x) ** 2)

    value_and_gradient = cr.value_and_grad(loss)
    report = fd.check_grad(loss, cr.grad(loss), numpy.zeros(5))
    print("gradient check:", "ok" if report.ok else report)

    x = numpy.zeros(5)
    step = 0.5 / numpy.linalg.norm(A, 2) ** 2
    losses = []
    for _ in progress(range(500), 500, "gradient descent", every=100):
        value, gradient = value_and_gradient(x)
        losses.append(float(value))
        x = x - step * gradient
    exact = numpy.linalg.lstsq(A, y, rcond=None)[0]
    print("gradient descent:", numpy.round(x, 4))
    print("normal equations:", numpy.round(exact, 4))
    # The residuals' floor is the noise: plot the distance to it, which gradient descent shrinks geometrically.
    plot(numpy.maximum(numpy.array(losses) - float(loss(exact)), 1e-15), x, exact, x_true, out)
    return float(numpy.max(numpy.abs(x - exact)))


if __name__ == "__main__":
    main(output_argument(argparse.ArgumentParser(description=__doc__.splitlines()[0])).parse_args().out)
