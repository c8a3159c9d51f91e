"""Primitive families: write one derivative formula, get the JVP and VJP rules (and the shape rule).

``unary`` and ``binary`` take ``derivative(x, y)`` / ``derivatives=(d_dx, d_dy)`` written with
primitives, so derivatives of every order follow.
"""
import numpy as np

from ..core.avals import ShapedArray, aval_of
from ..core.config import config
from ..core.interpreter import Tracer, bind, check_nans
from ..core.primitive import Primitive


class ElementwisePrimitive(Primitive):
    """An n-ary elementwise primitive: traced arguments are broadcast to the common shape first,
    so its rules never have to undo broadcasting. Untraced arguments broadcast inside NumPy."""

    __slots__ = ()

    def __init__(self, name, impl, **kwargs):
        super().__init__(name, impl, elementwise=True, **kwargs)

    def __call__(self, *args, **params):
        shape = None
        uneven = False
        top = None
        for arg in args:
            if isinstance(arg, Tracer):
                arg_shape = arg.shape
                trace = arg._trace
                if shape is None:
                    shape = arg_shape
                    top = trace
                else:
                    if arg_shape != shape:
                        uneven = True
                    if trace.level > top.level:
                        top = trace
        if shape is not None:
            if not uneven:
                for arg in args:
                    kind = type(arg)
                    if kind is float or kind is int or isinstance(arg, Tracer):
                        continue
                    arg_shape = arg.shape if kind is np.ndarray else np.shape(arg)
                    if arg_shape and arg_shape != shape:
                        uneven = True
                        break
            if uneven:
                return bind(self, broadcast_traced(args, self.name), params)
            if not top.active:
                return bind(self, args, params)  # raises the escaped-tracer error
            return top.process(self, args, params)
        # No traced argument: evaluate at once (the common case inside derivative rules).
        out = self.impl(*args, **params)
        if config.debug_nans:
            check_nans(self, out)
        return out


def broadcast_traced(args, name="elementwise operation"):
    """Broadcast the traced arguments of elementwise primitive ``name`` to the shape of the result."""
    from .structure import broadcast_to
    try:
        shape = np.broadcast_shapes(*(np.shape(a) if not isinstance(a, Tracer) else a.shape for a in args))
    except ValueError:
        shapes = ", ".join(str(a.shape if isinstance(a, Tracer) else np.shape(a)) for a in args)
        raise ValueError(f"{name}: operands could not be broadcast together with shapes {shapes}") from None
    return tuple(broadcast_to(a, shape) if isinstance(a, Tracer) and a.shape != shape else a for a in args)


_ELEMENTWISE_SHAPES = {}  # (shape, dtype) or (type, Python scalar) per operand -> result aval; cleared when full


def elementwise_shape_rule(*avals, **params):
    first = avals[0]
    if type(first) is ShapedArray and all(a == first for a in avals[1:]):  # the common case, kept cheap
        return first
    # Operands of several shapes or with Python scalars (weakly typed): broadcasting and promotion cost a few
    # microseconds; staging meets the same combinations again and again.
    key = tuple([(a.shape, a.dtype) if type(a) is ShapedArray else (type(a), a) for a in avals])
    try:
        known = _ELEMENTWISE_SHAPES.get(key)
    except TypeError:  # an operand that is an array value: not cached
        key = known = None
    if known is not None:
        return known
    shapes = [a.shape if isinstance(a, ShapedArray) else np.shape(a) for a in avals]
    dtypes = [a.dtype if isinstance(a, ShapedArray) else a for a in avals]
    out = ShapedArray(np.broadcast_shapes(*shapes), np.result_type(*dtypes))
    if key is not None:
        if len(_ELEMENTWISE_SHAPES) >= 4096:
            _ELEMENTWISE_SHAPES.clear()
        _ELEMENTWISE_SHAPES[key] = out
    return out


def float_shape_rule(*avals, **params):
    """Shape rule of operations whose result is floating even for integer input (sin, log, ...)."""
    aval = elementwise_shape_rule(*avals)
    if aval.dtype.kind in "fc":
        return aval
    dtype = np.result_type(aval.dtype, np.float64)
    return ShapedArray(aval.shape, dtype)


def _weak(partial):
    """A concrete 0-d partial as a Python number: NumPy promotes with 0-d arrays and NumPy scalars (log(2.0) is
    float64) but not with Python numbers, so a float32 derivative stays float32."""
    if (type(partial) is np.ndarray and not partial.shape) or isinstance(partial, np.generic):
        return partial.item()
    return partial


def unary(name, impl, derivative, *, convention=None, float_result=True, batch=None):
    """A unary elementwise primitive from ``derivative(x, y)`` (``y`` is the output, for reuse).

    JVP: ``y_dot = derivative(x, y) * x_dot``; VJP: ``x_bar = y_bar * derivative(x, y)``, the partial
    computed while recording, so the pullback keeps it alone (not ``x`` and ``y``).
    """
    def jvp(primals, tangents, **params):
        (x,), (x_dot,) = primals, tangents
        y = primitive(x, **params)
        return y, arithmetic.mul(x_dot, _weak(derivative(x, y, **params)))

    def vjp(y, x, **params):
        partial = _weak(derivative(x, y, **params))

        def pullback(y_bar):
            return (arithmetic.mul(y_bar, partial),)
        return pullback

    primitive = Primitive(name, impl, shape_rule=float_shape_rule if float_result else elementwise_shape_rule,
                          jvp=jvp, vjp=vjp, convention=convention, elementwise=True, batch=batch)
    jvp.__name__ = f"{name}_jvp"
    vjp.__name__ = f"{name}_vjp"
    return primitive


def binary(name, impl, derivatives, *, convention=None, float_result=False, **traits):
    """A binary elementwise primitive from ``derivatives = (d_dx(x, y, out), d_dy(x, y, out))``.

    A derivative given as None means the primitive does not depend on that argument differentiably.
    Reverse mode computes the partial of each differentiated input while recording and keeps only it.
    """
    def jvp(primals, tangents, **params):
        out = primitive(*primals, **params)
        out_dot = None
        for derivative, tangent in zip(derivatives, tangents):
            if tangent is None or derivative is None:
                continue
            term = arithmetic.mul(tangent, _weak(derivative(*primals, out, **params)))
            out_dot = term if out_dot is None else arithmetic.add(out_dot, term)
        return out, out_dot

    def make_input_vjp(derivative, position):
        if derivative is None:
            return None

        def input_vjp(out, x, y, **params):
            partial = _weak(derivative(x, y, out, **params))

            def pullback(out_bar):
                return arithmetic.mul(out_bar, partial)
            return pullback
        input_vjp.__name__ = f"{name}_vjp_{position}"
        return input_vjp

    jvp.__name__ = f"{name}_jvp"
    input_vjps = tuple(make_input_vjp(d, i) for i, d in enumerate(derivatives))
    primitive = ElementwisePrimitive(name, impl, shape_rule=float_shape_rule if float_result else elementwise_shape_rule,
                                     jvp=jvp, input_vjps=input_vjps, convention=convention, **traits)
    return primitive


def linear(name, impl, transpose, *, shape_rule=None, elementwise=False, unary_elementwise=False, **traits):
    """A primitive linear in its (single differentiable) first argument: the JVP applies the primitive
    to the tangent, the VJP is ``transpose(cotangent, x, *rest, **params)`` where ``x`` is the abstract
    value (shape, dtype) of the linear operand: a linear map's transpose never needs its values, so
    reverse mode keeps only that and the other inputs (index arrays, ...). ``elementwise`` makes it an
    n-ary broadcasting ElementwisePrimitive; ``unary_elementwise`` marks a one-argument elementwise
    operation (neg, real, conj)."""

    def jvp(primals, tangents, **params):
        out = primitive(*primals, **params)
        if tangents[0] is None:
            return out, None
        return out, primitive(tangents[0], *primals[1:], **params)

    def vjp(out, x, *rest, **params):
        x = aval_of(x)

        if not rest:
            def pullback(out_bar):
                return (transpose(out_bar, x, **params),)
        else:
            def pullback(out_bar):
                return (transpose(out_bar, x, *rest, **params),) + (None,) * len(rest)
        return pullback

    jvp.__name__ = f"{name}_jvp"
    vjp.__name__ = f"{name}_vjp"
    if elementwise:
        primitive = ElementwisePrimitive(name, impl, shape_rule=shape_rule, jvp=jvp, vjp=vjp, linear=True, **traits)
    else:
        primitive = Primitive(name, impl, shape_rule=shape_rule, jvp=jvp, vjp=vjp, linear=True,
                              elementwise=unary_elementwise, **traits)
    return primitive


def zero_derivative(name, impl, *, shape_rule=None, convention=None, multiple_results=False, elementwise=False,
                    unary_elementwise=False, **traits):
    """A piecewise-constant or integer-valued primitive: its derivative is zero where it exists (reverse
    mode records nothing for it)."""

    def jvp(primals, tangents, **params):
        return primitive(*primals, **params), None

    def vjp(out, *inputs, **params):
        count = len(inputs)

        def pullback(out_bar):
            return (None,) * count
        return pullback

    if elementwise:
        primitive = ElementwisePrimitive(name, impl, shape_rule=shape_rule, jvp=jvp, vjp=vjp,
                                         differentiable=False, multiple_results=multiple_results,
                                         convention=convention, **traits)
    else:
        primitive = Primitive(name, impl, shape_rule=shape_rule, jvp=jvp, vjp=vjp, differentiable=False,
                              multiple_results=multiple_results, convention=convention,
                              elementwise=unary_elementwise, **traits)
    return primitive


# Imported last: arithmetic builds its primitives with this module's classes, and the rules above use it.
from . import arithmetic  # noqa: E402
