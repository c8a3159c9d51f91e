"""Newton's method on the Rosenbrock function with Hessian-vector products and conjugate gradients
(the Hessian is never formed), compared with the full Hessian. Saves the convergence and the Hessian as a PNG.

    python examples/newton_rosenbrock.py [--out DIR]
"""
import argparse

import numpy

import chainrule as cr
import chainrule.numpy as np

from _reporting import new_figure, output_argument, save_figure


def rosenbrock(x):
    return np.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)


def conjugate_gradient(apply, b, iterations=50, tolerance=1e-12):
    x = numpy.zeros_like(b)
    r = b.copy()
    p = r.copy()
    for _ in range(iterations):
        Ap = apply(p)
        alpha = (r @ r) / (p @ Ap)
        x = x + alpha * p
        r_next = r - alpha * Ap
        if numpy.sqrt(r_next @ r_next) < tolerance:
            break
        p = r_next + (r_next @ r_next) / (r @ r) * p
        r = r_next
    return x


def plot(gradient_norms, H, out):
    figure = new_figure(9.0, 3.5)
    convergence, hessian = figure.subplots(1, 2)
    convergence.semilogy(gradient_norms, marker="o")
    convergence.set_xlabel("Newton iteration")
    convergence.set_ylabel("gradient norm")
    convergence.set_title("Newton-CG with Hessian-vector products")
    image = hessian.imshow(H, cmap="RdBu_r", vmin=-numpy.abs(H).max(), vmax=numpy.abs(H).max())
    hessian.set_title("Hessian at the minimum (tridiagonal)")
    figure.colorbar(image, ax=hessian)
    return save_figure(figure, out, "newton_rosenbrock")


def main(out=None):
    """Minimize; returns the minimizer."""
    x = numpy.full(10, 0.9)
    gradient = cr.grad(rosenbrock)
    gradient_norms = []
    for iteration in range(20):
        g = gradient(x)
        gradient_norms.append(float(numpy.linalg.norm(g)))
        print(f"iteration {iteration}: gradient norm {gradient_norms[-1]:.2e}", flush=True)
        if gradient_norms[-1] < 1e-10:
            break
        step = conjugate_gradient(lambda v: cr.hvp(rosenbrock, (x,), (v,))[0], -g)
        x = x + step
    print(f"Newton-CG: {iteration} iterations, x = {numpy.round(x, 8)}")
    H = cr.hessian(rosenbrock)(x)
    print("Hessian symmetric:", bool(numpy.allclose(H, H.T)), " smallest eigenvalue:", round(float(numpy.linalg.eigvalsh(H)[0]), 4))
    plot(gradient_norms, H, out)
    return x


if __name__ == "__main__":
    main(output_argument(argparse.ArgumentParser(description=__doc__.splitlines()[0])).parse_args().out)
