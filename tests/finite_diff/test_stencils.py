from fractions import Fraction
from math import factorial

import pytest

import chainrule.fd as fd


@pytest.mark.parametrize("kind", ["forward", "backward", "central"])
@pytest.mark.parametrize("derivative", [1, 2, 3])
@pytest.mark.parametrize("order", [2, 4])
def test_weights_reproduce_polynomial_derivatives_exactly(kind, derivative, order):
    stencil = fd.make_stencil(kind, derivative, order)
    # exact on monomials up to degree derivative + accuracy - 1, in rationals
    for degree in range(derivative + stencil.accuracy):
        moment = sum(w * Fraction(o) ** degree for o, w in zip(stencil.offsets, stencil.weights))
        expected = factorial(degree) if degree == derivative else 0
        assert moment == expected
    assert stencil.accuracy >= order


def test_central_first_derivative_drops_center_point():
    stencil = fd.make_stencil("central", 1, 2)
    assert stencil.offsets == (-1, 1)
    assert stencil.weights == (Fraction(-1, 2), Fraction(1, 2))


def test_zero_weight_is_exactly_zero():
    weights = fd.fornberg_weights([-2, -1, 0, 1, 2], 1)
    assert weights[2] == 0 and isinstance(weights[2], Fraction)


def test_bad_stencil_requests_raise():
    with pytest.raises(ValueError, match="distinct"):
        fd.fornberg_weights([0, 1, 1], 1)
    with pytest.raises(ValueError, match="even"):
        fd.make_stencil("central", 1, 3)
