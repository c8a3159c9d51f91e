"""Control primitives: ``stop_gradient`` (identity with zero derivative). Loops and conditionals come later."""
from ..core.avals import ShapedArray
from . import batch_rules
from .families import zero_derivative

stop_gradient = zero_derivative("stop_gradient", lambda x: x, shape_rule=lambda x: ShapedArray(x.shape, x.dtype),
                                batch=batch_rules.same_params,
                                convention="identity whose derivative is defined to be 0")
