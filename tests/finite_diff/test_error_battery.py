"""The reported error must bound the true error in at least 95% of a broad battery."""
import warnings

import numpy as np
import pytest

import chainrule.fd as fd
from battery import FUNCTIONS, POINTS, SCALES, scaled

CONFIGURATIONS = {
    "central": {},
    "forward": {"method": "forward", "order": 1},
    "backward": {"method": "backward", "order": 1},
    "central4": {"order": 4},
    "extrapolate": {"extrapolate": True},
    "complex": {"method": "complex"},
}


def test_battery_is_large_enough():
    assert len(FUNCTIONS) >= 50 and min(SCALES) <= 1e-8 and max(SCALES) >= 1e8


@pytest.mark.parametrize("name", list(CONFIGURATIONS))
def test_reported_error_bounds_true_error(name):
    options = CONFIGURATIONS[name]
    bounded = total = 0
    worst = []
    for label, f, exact in FUNCTIONS:
        for scale in SCALES:
            for u in POINTS:
                g, dg = scaled(f, exact, scale)
                x = u * scale
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", fd.FiniteDifferenceWarning)
                    try:
                        value, info = fd.derivative(g, x, return_info=True, **options)
                    except TypeError:
                        assert name == "complex"  # a few functions have no complex version
                        continue
                true_error = abs(value - dg(x))
                total += 1
                bounded += bool(info.error >= true_error)
                worst.append(true_error / abs(dg(x)))
    assert total >= 250
    assert bounded / total >= 0.95, f"{name}: error bound held in {bounded}/{total}"
    # and the estimates are not bought by useless results
    limit = {"forward": 1e-5, "backward": 1e-5}.get(name, 1e-8)
    assert np.median(worst) < limit / 100 and np.max(worst) < limit
