"""NumPy views of traced arrays: a basic slice, reshape, transpose or flip of a traced array shares its
"memory", as in NumPy. Writing into a view writes into its base; updating an array refreshes every
live view of it. Updates are recorded functionally, so all of this is differentiated correctly."""
import weakref

from ..core.interpreter import ChainruleError
from .arrays import is_traced

_BOOKKEEPING = ("_view_base", "_views", "__weakref__")


def _data_slots(tracer):
    for cls in type(tracer).__mro__:
        for slot in getattr(cls, "__slots__", ()):
            if slot not in _BOOKKEEPING:
                yield slot


def mark_view(view, base, read, write):
    """Record that ``view`` is ``read(base)`` and that writing ``value`` into it means updating ``base``
    to ``write(base, value)``; returns ``view``."""
    if view is base or not (is_traced(view) and is_traced(base)):
        return view
    view._view_base = (base, read, write)  # a view keeps its base alive, as NumPy's .base does
    views = getattr(base, "_views", None)
    if views is None:
        views = base._views = []
    views.append(weakref.ref(view))
    return view


def clone(x):
    """A new array object with ``x``'s value (``x.copy()``): updating one leaves the other alone."""
    if not is_traced(x):
        return x
    twin = object.__new__(type(x))
    for slot in _data_slots(x):
        try:
            setattr(twin, slot, getattr(x, slot))
        except AttributeError:
            pass
    return twin


def _rebind(x, value):
    """Make the array object ``x`` hold ``value`` (a traced value of the same transform)."""
    if type(value) is not type(x) or value._trace is not x._trace:
        raise ChainruleError(
            "in-place update: the new value is traced by a transform nested inside the one that traces the "
            "array, so the array cannot be updated in place. Write x = x.at[index].set(value) instead.")
    for slot in _data_slots(x):
        setattr(x, slot, getattr(value, slot))


def update_in_place(x, value):
    """``x`` now holds ``value``: through its base if ``x`` is a view, then every live view is refreshed."""
    link = getattr(x, "_view_base", None)
    if link is not None:
        base, _, write = link
        update_in_place(base, write(base, value))  # refreshes x among base's views
        return
    _rebind(x, value)
    _refresh_views(x)


def _refresh_views(x):
    views = getattr(x, "_views", None)
    if not views:
        return
    alive = []
    for reference in views:
        view = reference()
        if view is None:
            continue
        _, read, _ = view._view_base
        _rebind(view, read(x))
        _refresh_views(view)
        alive.append(reference)
    x._views = alive
