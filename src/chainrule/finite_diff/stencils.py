"""Exact finite-difference stencils: Fornberg weights in rationals, so a zero weight is exactly 0.

Part of chainrule.fd; imports only the standard library.
"""
from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache
from math import factorial

__all__ = ["Stencil", "fornberg_weights", "make_stencil"]


def fornberg_weights(offsets, derivative):
    """Exact weights w with sum(w[i] * f(x + offsets[i] * h)) / h**derivative ~ f^(derivative)(x).

    Fornberg's recursion, run in ``fractions.Fraction`` so that weights are exact.

    >>> [str(w) for w in fornberg_weights([-1, 0, 1], 1)]
    ['-1/2', '0', '1/2']
    >>> [str(w) for w in fornberg_weights([0, 1, 2], 2)]
    ['1', '-2', '1']
    """
    nodes = [Fraction(o) for o in offsets]
    if len(set(nodes)) != len(nodes):
        raise ValueError(f"stencil offsets must be distinct, got {list(offsets)}")
    if derivative < 0 or derivative >= len(nodes):
        raise ValueError(
            f"a stencil with {len(nodes)} points can approximate derivatives of order "
            f"0..{len(nodes) - 1}, not {derivative}; add points")
    count = len(nodes)
    # weights[j][k]: weight of node j for the k-th derivative, using the nodes seen so far
    weights = [[Fraction(0)] * (derivative + 1) for _ in range(count)]
    weights[0][0] = Fraction(1)
    previous_product = Fraction(1)
    current = nodes[0]
    for i in range(1, count):
        top = min(i, derivative)
        product = Fraction(1)
        previous, current = current, nodes[i]
        for j in range(i):
            gap = nodes[i] - nodes[j]
            product *= gap
            if j == i - 1:
                # the new node's weights use the previous node's weights before they change
                for k in range(top, 0, -1):
                    weights[i][k] = previous_product * (
                        k * weights[i - 1][k - 1] - previous * weights[i - 1][k]) / product
                weights[i][0] = -previous_product * previous * weights[i - 1][0] / product
            for k in range(top, 0, -1):
                weights[j][k] = (current * weights[j][k] - k * weights[j][k - 1]) / gap
            weights[j][0] = current * weights[j][0] / gap
        previous_product = product
    return tuple(weights[j][derivative] for j in range(count))


@dataclass(frozen=True)
class Stencil:
    """Offsets (in units of the step), exact weights, and the leading truncation term.

    ``accuracy`` is p in error = error_constant * h**p * f^(derivative + p) + ...
    """

    kind: str
    derivative: int
    offsets: tuple
    weights: tuple
    accuracy: int
    error_constant: Fraction

    @property
    def gap(self):
        """Power step between successive error terms: 2 for symmetric stencils, else 1."""
        return 2 if self.kind == "central" else 1

    @property
    def weight_sum(self):
        """Sum of |weights|: how much the stencil amplifies rounding noise in f."""
        return float(sum(abs(w) for w in self.weights))


@lru_cache(maxsize=None)
def make_stencil(kind, derivative=1, order=2):
    """The stencil of ``kind`` ('forward', 'backward', 'central') with accuracy ``order``.

    Points with an exactly zero weight are dropped, so the central first
    derivative costs two evaluations.

    >>> s = make_stencil("central", 1, 4)
    >>> s.offsets, [str(w) for w in s.weights], s.accuracy
    ((-2, -1, 1, 2), ['1/12', '-2/3', '2/3', '-1/12'], 4)
    """
    if kind not in ("forward", "backward", "central"):
        raise ValueError(f"stencil kind must be 'forward', 'backward' or 'central', got {kind!r}")
    if not isinstance(order, int) or order < 1:
        raise ValueError(f"order must be a positive integer, got {order!r}")
    if not isinstance(derivative, int) or derivative < 1:
        raise ValueError(f"the derivative order n must be a positive integer, got {derivative!r}")
    if kind == "central":
        if order % 2:
            raise ValueError(
                f"central stencils have even accuracy order; got order={order}, use {order + 1}")
        half = (derivative + order - 1) // 2
        offsets = list(range(-half, half + 1))
    else:
        offsets = list(range(derivative + order))
        if kind == "backward":
            offsets = [-o for o in offsets]
    weights = fornberg_weights(offsets, derivative)
    kept = [(o, w) for o, w in zip(offsets, weights) if w != 0]
    offsets, weights = zip(*kept)
    # The true accuracy can exceed the requested order (symmetry): find the first nonzero moment.
    accuracy, constant = None, Fraction(0)
    for power in range(derivative + 1, derivative + len(offsets) + 3):
        moment = sum(w * Fraction(o) ** power for o, w in zip(offsets, weights))
        if moment != 0:
            accuracy = power - derivative
            constant = moment / factorial(power)
            break
    return Stencil(kind, derivative, tuple(offsets), tuple(weights), accuracy, constant)
