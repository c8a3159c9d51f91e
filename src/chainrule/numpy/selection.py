"""``select``: NumPy's choice among arrays by a list of conditions, built from ``where``, so the derivative flows
to the chosen entries only and never through the conditions."""
import numpy as _np

from .arrays import asarray, astype, is_traced, numpy_when_untraced, result_type, shape


def _as_choice(value):
    return value if type(value) in (int, float, complex) else asarray(value)  # Python numbers stay weak


@numpy_when_untraced(_np.select)
def select(condlist, choicelist, default=0):
    """``numpy.select``: where the first true condition of ``condlist`` holds, the matching entry of
    ``choicelist``; where none holds, ``default``.

    >>> import chainrule as cr, chainrule.numpy as np
    >>> x = np.array([-2.0, 0.5, 3.0])
    >>> np.select([x < 0, x < 1], [-x, x ** 2], default=1.0)
    array([2.  , 0.25, 1.  ])
    >>> cr.grad(lambda x: np.sum(np.select([x < 0, x < 1], [-x, x ** 2], default=1.0)))(x)
    array([-1.,  1.,  0.])
    """
    from .elementwise import where
    from .shaping import broadcast_to
    if len(condlist) != len(choicelist):
        raise ValueError(f"select: list of cases must be same length as list of conditions ({len(choicelist)} "
                         f"choices, {len(condlist)} conditions)")
    if len(condlist) == 0:
        raise ValueError("select with an empty condition list is not possible")
    choices = [_as_choice(choice) for choice in choicelist]
    default = _as_choice(default)
    try:
        dtype = result_type(*choices, default)
    except TypeError as error:
        raise TypeError(f"select: Choicelist and default value do not have a common dtype: {error}") from None
    for position, condition in enumerate(condlist):
        kind = condition.dtype if is_traced(condition) else _np.asarray(condition).dtype
        if kind != bool:
            raise TypeError(f"select: invalid entry {position} in condlist: should be boolean ndarray, got {kind} "
                            f"(compare, e.g. x > 0, to make one)")
    target = _np.broadcast_shapes(*(shape(value) for value in (*condlist, *choices, default)))
    out = broadcast_to(astype(default, dtype), target)
    for condition, choice in zip(reversed(condlist), reversed(choices)):  # the first true condition wins
        out = where(condition, astype(choice, dtype), out)
    return out
