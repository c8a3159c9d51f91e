"""Newton's method on the Rosenbrock function with Hessian-vector products and conjugate gradients
(the Hessian is never formed), compared with the full Hessian."""
import numpy

import chainrule as cr
import chainrule.numpy as np


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


def main():
    x = numpy.full(10, 0.9)
    gradient = cr.grad(rosenbrock)
    for iteration in range(20):
        g = gradient(x)
        if numpy.linalg.norm(g) < 1e-10:
            break
        step = conjugate_gradient(lambda v: cr.hvp(rosenbrock, (x,), (v,))[0], -g)
        x = x + step
    print(f"Newton-CG: {iteration} iterations, x = {numpy.round(x, 8)}")
    H = cr.hessian(rosenbrock)(x)
    print("Hessian symmetric:", bool(numpy.allclose(H, H.T)), " smallest eigenvalue:", round(float(numpy.linalg.eigvalsh(H)[0]), 4))
    return x


if __name__ == "__main__":
    main()
