"""Symbolic zeros: ``None`` stands for a tangent or cotangent that is known to be zero.

Rules skip work for such terms; a zero is made concrete only when a value is required.
"""
import numpy as np


def instantiate(tangent, like):
    """A concrete zero with the shape and dtype of ``like`` when ``tangent`` is symbolic."""
    if tangent is not None:
        return tangent
    aval = getattr(like, "aval", None)
    if aval is not None:
        return np.zeros(aval.shape, aval.dtype)
    return np.zeros_like(like)
