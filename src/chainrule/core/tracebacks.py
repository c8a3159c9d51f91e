"""Tracebacks that end at the user's line: frames inside chainrule are dropped from errors that leave a
transform (set ``CHAINRULE_TRACEBACK_FILTERING=off`` to keep them)."""
import functools
import os
import types

_PACKAGE = __name__.split(".")[0]


def _inside_chainrule(frame):
    # The frame's module name (its globals), not its code object: nothing here depends on the interpreter.
    name = frame.f_globals.get("__name__", "")
    return name == _PACKAGE or name.startswith(_PACKAGE + ".")


def filter_traceback(traceback):
    """``traceback`` without chainrule's own frames (the outermost frame is always kept)."""
    kept = []
    while traceback is not None:
        if not kept or not _inside_chainrule(traceback.tb_frame):
            kept.append(traceback)
        traceback = traceback.tb_next
    rebuilt = None
    for entry in reversed(kept):
        rebuilt = types.TracebackType(rebuilt, entry.tb_frame, entry.tb_lasti, entry.tb_lineno)
    return rebuilt


def user_facing(function):
    """Decorate a transform's entry point so errors raised inside show the user's frames only."""

    @functools.wraps(function)
    def entry_point(*args, **kwargs):
        try:
            return function(*args, **kwargs)
        except Exception as error:
            if os.environ.get("CHAINRULE_TRACEBACK_FILTERING", "on").lower() in ("off", "0", "false"):
                raise
            raise error.with_traceback(filter_traceback(error.__traceback__)) from error.__cause__

    return entry_point
