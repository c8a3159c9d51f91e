"""Global switches (``chainrule.config``), read on every primitive evaluation, so kept as plain attributes."""
import os


class Config:
    """``debug_nans``: raise at the first primitive, forward or backward, that produces a NaN.

    Also switched on by the environment variable ``CHAINRULE_DEBUG_NANS=1``.
    """

    __slots__ = ("debug_nans",)

    def __init__(self):
        self.debug_nans = os.environ.get("CHAINRULE_DEBUG_NANS", "") not in ("", "0", "false", "False")

    def __repr__(self):
        return f"Config(debug_nans={self.debug_nans})"


config = Config()
