"""Butcher tableaus of the methods ``odeint`` offers, each in one shape: the last stage is evaluated at the
step's result (first-same-as-last), so a step's stages also give the next step's first stage and the dense
output's end slope, and every quantity a step produces is ``y_n + h * (weights @ stages)``."""
from dataclasses import dataclass

import numpy as np
from numpy.polynomial import polynomial as P


@dataclass(frozen=True, eq=False)
class Tableau:
    """``a`` (S x S, strictly lower; its last row is the solution weights ``b``), nodes ``c``, error weights
    (b - b_hat; None for a fixed-step method), ``order`` of the error estimate's exponent, and ``dense``: the
    coefficients (S x degree+1, lowest power first) of the weights w(theta) with y(t_n + theta h) =
    y_n + h * (w(theta) @ stages)."""

    name: str
    a: np.ndarray
    c: np.ndarray
    error: np.ndarray
    order: int
    dense: np.ndarray

    @property
    def stages(self):
        return len(self.c)

    def dense_weights(self, theta):
        """w(theta) and dw/dtheta, each of length S."""
        powers = theta ** np.arange(self.dense.shape[1])
        slopes = np.arange(1, self.dense.shape[1]) * theta ** np.arange(self.dense.shape[1] - 1)
        return self.dense @ powers, self.dense[:, 1:] @ slopes


def _unit(stages, position):
    e = np.zeros(stages)
    e[position] = 1.0
    return e


def _polynomial_rows(terms, stages, degree):
    """Sum of (polynomial in theta) * (weight vector) as an S x (degree+1) coefficient matrix."""
    rows = np.zeros((stages, degree + 1))
    for polynomial, vector in terms:
        coefficients = np.zeros(degree + 1)
        coefficients[:len(polynomial)] = polynomial
        rows += np.outer(vector, coefficients)
    return rows


def _hermite_dense(b):
    """Cubic Hermite interpolation between y_n, y_{n+1} with the end slopes (the first and the last stage):
    rk4's dense output."""
    stages = len(b)
    h01 = [0.0, 0.0, 3.0, -2.0]    # 3 theta^2 - 2 theta^3
    h10 = [0.0, 1.0, -2.0, 1.0]    # theta - 2 theta^2 + theta^3
    h11 = [0.0, 0.0, -1.0, 1.0]    # -theta^2 + theta^3
    return _polynomial_rows([(h01, b), (h10, _unit(stages, 0)), (h11, _unit(stages, stages - 1))], stages, 3)


def _lower(rows):
    size = len(rows) + 1
    a = np.zeros((size, size))
    for i, row in enumerate(rows, start=1):
        a[i, :len(row)] = row
    return a


# Classical Runge-Kutta; the fifth stage, f at the result, is the next step's first (no extra evaluation).
_rk4_b = np.array([1 / 6, 1 / 3, 1 / 3, 1 / 6, 0.0])
RK4 = Tableau("rk4", _lower([[0.5], [0.0, 0.5], [0.0, 0.0, 1.0], _rk4_b[:4]]),
              np.array([0.0, 0.5, 0.5, 1.0, 1.0]), None, 4, _hermite_dense(_rk4_b))

# Dormand-Prince 5(4) with Shampine's continuous extension (Hairer, Norsett, Wanner I, II.6).
_dopri5_b = np.array([35 / 384, 0.0, 500 / 1113, 125 / 192, -2187 / 6784, 11 / 84, 0.0])
_dopri5_b_hat = np.array([5179 / 57600, 0.0, 7571 / 16695, 393 / 640, -92097 / 339200, 187 / 2100, 1 / 40])
_dopri5_d = np.array([-12715105075 / 11282082432, 0.0, 87487479700 / 32700410799, -10690763975 / 1880347072,
                      701980252875 / 199316789632, -1453857185 / 822651844, 69997945 / 29380423])


def _dopri5_dense():
    # y(theta) = y_n + h [theta b + theta(1-theta)(e1 - b) + theta^2(1-theta)(2b - e1 - e7) + theta^2(1-theta)^2 d]
    e1, e7 = _unit(7, 0), _unit(7, 6)
    return _polynomial_rows([([0, 1], _dopri5_b), ([0, 1, -1], e1 - _dopri5_b),
                             ([0, 0, 1, -1], 2 * _dopri5_b - e1 - e7), ([0, 0, 1, -2, 1], _dopri5_d)], 7, 4)


DOPRI5 = Tableau("dopri5", _lower([[1 / 5], [3 / 40, 9 / 40], [44 / 45, -56 / 15, 32 / 9],
                                   [19372 / 6561, -25360 / 2187, 64448 / 6561, -212 / 729],
                                   [9017 / 3168, -355 / 33, 46732 / 5247, 49 / 176, -5103 / 18656],
                                   _dopri5_b[:6]]),
                 np.array([0.0, 1 / 5, 3 / 10, 4 / 5, 8 / 9, 1.0, 1.0]), _dopri5_b - _dopri5_b_hat, 5,
                 _dopri5_dense())

# Tsitouras 5(4) (2011), with its own fourth-order continuous extension.
_tsit5_b = np.array([0.09646076681806523, 0.01, 0.4798896504144996, 1.379008574103742, -3.290069515436081,
                     2.324710524099774, 0.0])


def _tsit5_dense():
    """Tsitouras' interpolation weights b_i(theta) (Comput. Math. Appl. 62 (2011), 770-775), each written as
    its scale times its factors; they meet the order conditions up to four at every theta (a test checks),
    and a theta^4 term of about 1e-14 makes b_i(1) equal the step's weights to rounding (the printed digits
    leave them 1e-14 apart), so the dense output ends where the step does."""
    def weight(scale, roots, quadratic=(1.0,)):
        polynomial = P.polymul([scale], quadratic)
        for root in roots:
            polynomial = P.polymul(polynomial, [-root, 1.0])
        return polynomial
    factors = [  # b_i(theta) / theta^2, except b_1 / theta
        weight(-1.0530884977290216, [1.3299890189751412], [0.7139816917074209, -1.4364028541716351, 1.0]),
        weight(0.1017, [], [1.2949852507374631, -2.1966568338249754, 1.0]),
        weight(2.490627285651252793, [], [1.57803468208092486, -2.38535645472061657, 1.0]),
        weight(-16.54810288924490272, [1.21712927295533244, 0.61620406037800089]),
        weight(47.37952196281928122, [1.203071208372362603, 0.658047292653547382]),
        weight(-34.87065786149660974, [1.2, 0.666666666666666667]),
        weight(2.5, [1.0, 0.6]),
    ]
    rows = np.zeros((7, 5))
    for i, polynomial in enumerate(factors):
        shift = 1 if i == 0 else 2
        rows[i, shift:shift + len(polynomial)] = polynomial
    rows[:, 4] += _tsit5_b - rows.sum(axis=1)
    return rows

TSIT5 = Tableau("tsit5", _lower([[0.161], [-0.008480655492356989, 0.335480655492357],
                                  [2.897153057105493, -6.359448489975075, 4.3622954328695815],
                                  [5.325864828439257, -11.748883564062828, 7.4955393428898365,
                                   -0.09249506636175525],
                                  [5.86145544294642, -12.92096931784711, 8.159367898576159, -0.071584973281401,
                                   -0.028269050394068383],
                                  _tsit5_b[:6]]),
                np.array([0.0, 0.161, 0.327, 0.9, 0.9800255409045097, 1.0, 1.0]),
                np.array([-0.00178001105222577714, -0.0008164344596567469, 0.007880878010261995,
                          -0.1447110071732629, 0.5823571654525552, -0.45808210592918697, 1 / 66]),
                5, _tsit5_dense())

METHODS = {tableau.name: tableau for tableau in (RK4, DOPRI5, TSIT5)}
