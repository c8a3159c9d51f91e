"""Least squares by gradient descent with an AD gradient, checked against finite differences and the
normal equations."""
import numpy

import chainrule as cr
import chainrule.fd as fd
import chainrule.numpy as np


def main():
    rng = numpy.random.default_rng(0)
    A = rng.standard_normal((200, 5))
    x_true = numpy.arange(1.0, 6.0)
    y = A @ x_true + 0.01 * rng.standard_normal(200)

    def loss(x):
        return np.sum((y - A @ x) ** 2)

    gradient = cr.grad(loss)
    report = fd.check_grad(loss, gradient, numpy.zeros(5))
    print("gradient check:", "ok" if report.ok else report)

    x = numpy.zeros(5)
    step = 0.5 / numpy.linalg.norm(A, 2) ** 2
    for _ in range(500):
        x = x - step * gradient(x)
    exact = numpy.linalg.lstsq(A, y, rcond=None)[0]
    print("gradient descent:", numpy.round(x, 4))
    print("normal equations:", numpy.round(exact, 4))
    return float(numpy.max(numpy.abs(x - exact)))


if __name__ == "__main__":
    main()
