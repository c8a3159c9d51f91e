"""Control primitives: ``stop_gradient`` (identity with zero derivative). Loops and conditionals come later."""
from ..core.avals import ShapedArray
from .families import zero_derivative

stop_gradient = zero_derivative("stop_gradient", lambda x: x, shape_rule=lambda x: ShapedArray(x.shape, x.dtype),
                                convention="identity whose derivative is defined to be 0")
