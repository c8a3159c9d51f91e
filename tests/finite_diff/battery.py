"""Smooth test functions with exact derivatives, for the error-estimate battery."""
import numpy as np

# (name, f, exact derivative, domain of the reference point u0)
FUNCTIONS = [
    ("exp", np.exp, np.exp),
    ("sin", np.sin, np.cos),
    ("cos", np.cos, lambda u: -np.sin(u)),
    ("tan", np.tan, lambda u: 1 / np.cos(u) ** 2),
    ("log", np.log, lambda u: 1 / u),
    ("sqrt", np.sqrt, lambda u: 0.5 / np.sqrt(u)),
    ("reciprocal", lambda u: 1 / u, lambda u: -1 / u ** 2),
    ("cube", lambda u: u ** 3, lambda u: 3 * u ** 2),
    ("quintic", lambda u: u ** 5 - 2 * u, lambda u: 5 * u ** 4 - 2),
    ("arctan", np.arctan, lambda u: 1 / (1 + u ** 2)),
    ("tanh", np.tanh, lambda u: 1 - np.tanh(u) ** 2),
    ("sinh", np.sinh, np.cosh),
    ("cosh", np.cosh, np.sinh),
    ("log1p", np.log1p, lambda u: 1 / (1 + u)),
    ("expm1", np.expm1, np.exp),
    ("sigmoid", lambda u: 1 / (1 + np.exp(-u)), lambda u: np.exp(-u) / (1 + np.exp(-u)) ** 2),
    ("softplus", lambda u: np.log1p(np.exp(u)), lambda u: 1 / (1 + np.exp(-u))),
    ("gauss", lambda u: u * np.exp(-u ** 2), lambda u: (1 - 2 * u ** 2) * np.exp(-u ** 2)),
    ("exp_sin", lambda u: np.exp(np.sin(u)), lambda u: np.cos(u) * np.exp(np.sin(u))),
    ("sin_exp", lambda u: np.sin(np.exp(u)), lambda u: np.exp(u) * np.cos(np.exp(u))),
    ("log_quad", lambda u: np.log(1 + u ** 2), lambda u: 2 * u / (1 + u ** 2)),
    ("hypot", lambda u: np.sqrt(1 + u ** 2), lambda u: u / np.sqrt(1 + u ** 2)),
    ("lorentz", lambda u: 1 / (1 + u ** 2), lambda u: -2 * u / (1 + u ** 2) ** 2),
    ("u2sin", lambda u: u ** 2 * np.sin(u), lambda u: 2 * u * np.sin(u) + u ** 2 * np.cos(u)),
    ("cos2", lambda u: np.cos(u) ** 2, lambda u: -2 * np.sin(u) * np.cos(u)),
    ("damped", lambda u: np.exp(-u) * np.cos(3 * u), lambda u: -np.exp(-u) * (np.cos(3 * u) + 3 * np.sin(3 * u))),
    ("arcsinh", np.arcsinh, lambda u: 1 / np.sqrt(1 + u ** 2)),
    ("ratio", lambda u: u / (1 + u), lambda u: 1 / (1 + u) ** 2),
    ("squire_trapp", lambda u: np.exp(u) / np.sqrt(np.sin(u) ** 3 + np.cos(u) ** 3),
     lambda u: np.exp(u) * (3 * np.cos(u) + 5 * np.cos(3 * u) + 9 * np.sin(u) + np.sin(3 * u))
     / (8 * (np.sin(u) ** 3 + np.cos(u) ** 3) ** 1.5)),
    ("sinc", lambda u: np.sin(u) / u, lambda u: (u * np.cos(u) - np.sin(u)) / u ** 2),
    ("power03", lambda u: u ** 0.3, lambda u: 0.3 * u ** -0.7),
    ("power15", lambda u: u ** 1.5, lambda u: 1.5 * u ** 0.5),
    ("log_squared", lambda u: np.log(u) ** 2, lambda u: 2 * np.log(u) / u),
    ("two_pow", lambda u: 2.0 ** u, lambda u: np.log(2) * 2.0 ** u),
    ("exp_square", lambda u: np.exp(u ** 2 / 4), lambda u: u / 2 * np.exp(u ** 2 / 4)),
    ("sin3", lambda u: np.sin(3 * u), lambda u: 3 * np.cos(3 * u)),
    ("cubic_root", np.cbrt, lambda u: 1 / (3 * np.cbrt(u) ** 2)),
    ("xlogx", lambda u: u * np.log(u), lambda u: np.log(u) + 1),
    ("exp_neg_inv", lambda u: np.exp(-1 / u), lambda u: np.exp(-1 / u) / u ** 2),
    ("arcsin", np.arcsin, lambda u: 1 / np.sqrt(1 - u ** 2)),
    ("arccos_half", lambda u: np.arccos(u / 2), lambda u: -0.5 / np.sqrt(1 - u ** 2 / 4)),
    ("logistic_sum", lambda u: np.log(np.exp(u) + np.exp(2 * u)), lambda u: (np.exp(u) + 2 * np.exp(2 * u)) / (np.exp(u) + np.exp(2 * u))),
    ("rational", lambda u: (u ** 2 + 1) / (u ** 2 + 3 * u + 4), lambda u: (2 * u * (u ** 2 + 3 * u + 4) - (u ** 2 + 1) * (2 * u + 3)) / (u ** 2 + 3 * u + 4) ** 2),
    ("cos_exp", lambda u: np.cos(u) * np.exp(u / 2), lambda u: np.exp(u / 2) * (0.5 * np.cos(u) - np.sin(u))),
    ("sqrt_log", lambda u: np.sqrt(np.log(1 + u)), lambda u: 1 / (2 * (1 + u) * np.sqrt(np.log(1 + u)))),
    ("tanh_sq", lambda u: np.tanh(u) ** 2, lambda u: 2 * np.tanh(u) * (1 - np.tanh(u) ** 2)),
    ("atan_exp", lambda u: np.arctan(np.exp(u)), lambda u: np.exp(u) / (1 + np.exp(2 * u))),
    ("poly_shift", lambda u: (u - 0.2) ** 4, lambda u: 4 * (u - 0.2) ** 3),
    ("exp2sin", lambda u: np.exp(2 * u) * np.sin(u), lambda u: np.exp(2 * u) * (2 * np.sin(u) + np.cos(u))),
    ("log_cosh", lambda u: np.log(np.cosh(u)), np.tanh),
    ("inverse_sqrt", lambda u: 1 / np.sqrt(u), lambda u: -0.5 * u ** -1.5),
    ("sin_over_cosh", lambda u: np.sin(u) / np.cosh(u), lambda u: (np.cos(u) * np.cosh(u) - np.sin(u) * np.sinh(u)) / np.cosh(u) ** 2),
]

POINTS = (0.37, 0.81)
SCALES = (1e-8, 1e-4, 1.0, 1e4, 1e8)


def scaled(f, derivative, scale):
    """f(x / scale) at x = u0 * scale, whose derivative is f'(u0) / scale."""
    return (lambda x: f(x / scale)), (lambda x: derivative(x / scale) / scale)
