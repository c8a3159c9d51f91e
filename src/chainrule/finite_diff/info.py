"""The ``info`` object returned with ``return_info=True`` by every chainrule.fd function."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["FiniteDifferenceInfo"]


@dataclass
class FiniteDifferenceInfo:
    """How a finite-difference result was obtained and how far it can be trusted.

    error: bound on |result - exact| per entry (NaN where f was not finite); nfev: calls of f;
    step: step(s) used; method: stencil used; status: 'ok', 'one-sided' (near a bound or a
    domain edge), 'inaccurate' (error estimate large, or bounds too narrow for a reliable step),
    'unreliable' (estimates at different steps contradict the error model: the bound may be
    optimistic), 'nonfinite' (f not finite, or x outside f's real domain for the complex step),
    'not analytic' or 'not real-valued' (the complex step does not apply; central differences used).
    A complex x is differentiated along the real axis (f'(x) for a holomorphic f).
    """

    error: np.ndarray
    nfev: int
    step: np.ndarray
    method: str
    status: str

    def __repr__(self):
        worst = float(np.nanmax(self.error)) if np.size(self.error) else 0.0
        return (f"FiniteDifferenceInfo(method={self.method!r}, status={self.status!r}, "
                f"nfev={self.nfev}, max error={worst:.3g})")
