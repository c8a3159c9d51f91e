"""Draw docs/img/fd-error-vs-step.png: error of forward, central and complex-step
derivatives of the Squire-Trapp function against the step size.

Run: python docs/scripts/plot_fd_error.py
"""
import os

import numpy as np


def squire_trapp(x):
    return np.exp(x) / np.sqrt(np.sin(x) ** 3 + np.cos(x) ** 3)


def main():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    import chainrule.fd as fd

    x, exact = 1.5, 4.053427893898621
    steps = np.logspace(-16, -1, 301)
    errors = {}
    for method, order in [("forward", 1), ("central", 2), ("central", 4)]:
        errors[f"{method}, order {order}"] = [
            abs(fd.derivative(squire_trapp, x, method=method, order=order, step=h, absolute=True) - exact) / exact
            for h in steps]
    complex_steps = steps
    complex_errors = [max(abs(fd.derivative(squire_trapp, x, method="complex", step=h, absolute=True,
                                            probe=False) - exact) / exact, 1e-17)
                      for h in complex_steps]
    auto, info = fd.derivative(squire_trapp, x, return_info=True)

    figure, axis = plt.subplots(figsize=(7.5, 4.6), dpi=120)
    for label, values in errors.items():
        axis.loglog(steps, np.maximum(values, 1e-17), label=label, linewidth=1.2)
    # same h^2 truncation as central differences, but no round-off growth as h shrinks
    axis.loglog(complex_steps, complex_errors, "--", label="complex step", linewidth=1.4)
    eps = np.finfo(float).eps
    axis.loglog(steps, eps / steps, "k:", linewidth=0.8, label="round-off ~ eps / h")
    axis.axvline(info.step, color="grey", linestyle="--", linewidth=0.8)
    axis.annotate(f"automatic central step\n(error {abs(auto - exact) / exact:.1e})",
                  (info.step, 1e-4), textcoords="offset points", xytext=(6, 0), fontsize=8)
    axis.set_xlabel("step h (absolute)")
    axis.set_ylabel("relative error of f'(1.5)")
    axis.set_title("Squire-Trapp f(x) = e^x / sqrt(sin^3 x + cos^3 x): truncation vs round-off")
    axis.set_ylim(1e-17, 10)
    axis.grid(True, which="major", alpha=0.3)
    axis.legend(fontsize=8, loc="lower left")
    figure.tight_layout()
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "img", "fd-error-vs-step.png")
    figure.savefig(os.path.normpath(path))
    print("wrote", os.path.normpath(path))


if __name__ == "__main__":
    main()
