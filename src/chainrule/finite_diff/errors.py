"""Warning and error classes of chainrule.fd, and the helper that chooses between them."""
from __future__ import annotations

import warnings

__all__ = ["FiniteDifferenceWarning", "FiniteDifferenceError"]


class FiniteDifferenceWarning(UserWarning):
    """A finite-difference result whose own error estimate says it may not be trusted."""


class FiniteDifferenceError(ArithmeticError):
    """Raised instead of FiniteDifferenceWarning when ``strict=True``."""


def report_problem(message, strict, stacklevel=3):
    """Warn (default) or raise (strict) about an untrustworthy result; never stay silent."""
    if strict:
        raise FiniteDifferenceError(message)
    warnings.warn(message, FiniteDifferenceWarning, stacklevel=stacklevel)
