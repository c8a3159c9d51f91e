"""A shallow ReLU network trained by gradient descent on a pytree of parameters, with per-example
gradients by vmap."""
import numpy

import chainrule as cr
import chainrule.numpy as np


def predict(params, x):
    hidden = np.maximum(x @ params["W1"] + params["b1"], 0.0)
    return hidden @ params["W2"]


def loss(params, x, y):
    return np.mean((predict(params, x) - y) ** 2)


def main():
    rng = numpy.random.default_rng(1)
    x = rng.uniform(-2.0, 2.0, size=(128, 1))
    y = numpy.sin(x)
    params = {"W1": rng.standard_normal((1, 32)), "b1": rng.standard_normal(32), "W2": 0.1 * rng.standard_normal((32, 1))}
    value_and_grad = cr.value_and_grad(loss)
    first = None
    for step in range(300):
        value, grads = value_and_grad(params, x, y)
        first = value if first is None else first
        params = cr.tree_map(lambda p, g: p - 0.05 * g, params, grads)
    print(f"loss {first:.4f} -> {value:.4f}")
    per_example = cr.vmap(cr.grad(loss), in_axes=(None, 0, 0))(params, x[:, None, :], y[:, None, :])
    print("per-example gradient of W1:", per_example["W1"].shape)
    return first, float(value)


if __name__ == "__main__":
    main()
