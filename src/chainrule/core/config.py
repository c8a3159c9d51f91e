"""Global switches (``chainrule.config``), read on every primitive evaluation, so kept as plain attributes."""
import os

DEFAULT_LOOP_MEMORY_BUDGET = 2 ** 30  # bytes: 1 GiB


class Config:
    """``debug_nans``: raise at the first primitive, forward or backward, that produces a NaN.
    Also switched on by the environment variable ``CHAINRULE_DEBUG_NANS=1``.

    ``loop_memory_budget``: the bytes of carries a ``scan`` (and ``fori_loop``) may keep for reverse mode. A
    loop whose carries all fit keeps them; a longer one is checkpointed with as many carries as fit (see
    ``chainrule.control.scan``). Read when a loop is built. Default 1 GiB, or the environment variable
    ``CHAINRULE_LOOP_MEMORY_BUDGET`` (bytes).
    """

    __slots__ = ("debug_nans", "loop_memory_budget")

    def __init__(self):
        self.debug_nans = os.environ.get("CHAINRULE_DEBUG_NANS", "") not in ("", "0", "false", "False")
        self.loop_memory_budget = _budget_from_environment()

    def __repr__(self):
        return f"Config(debug_nans={self.debug_nans}, loop_memory_budget={self.loop_memory_budget})"


def _budget_from_environment():
    text = os.environ.get("CHAINRULE_LOOP_MEMORY_BUDGET", "")
    if not text:
        return DEFAULT_LOOP_MEMORY_BUDGET
    try:
        return int(text)
    except ValueError:
        raise ValueError(f"CHAINRULE_LOOP_MEMORY_BUDGET must be a whole number of bytes (e.g. 1073741824), got "
                         f"{text!r}") from None


config = Config()
