"""Primitive families: write one derivative formula, get the JVP and VJP rules (and the shape rule).

``unary`` and ``binary`` take ``derivative(x, y)`` / ``derivatives=(d_dx, d_dy)`` written with
primitives, so derivatives of every order follow.
"""
import numpy as np

from ..core.avals import ShapedArray
from ..core.config import config
from ..core.interpreter import Tracer, bind, check_nans
from ..core.primitive import Primitive, parameters_read, varargs_name


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


def elementwise_shape_rule(*avals, **params):
    first = avals[0]
    if type(first) is ShapedArray and all(a == first for a in avals[1:]):  # the common case, kept cheap
        return first
    shapes = [a.shape if isinstance(a, ShapedArray) else np.shape(a) for a in avals]
    dtypes = [a.dtype if isinstance(a, ShapedArray) else a for a in avals]
    return ShapedArray(np.broadcast_shapes(*shapes), np.result_type(*dtypes))


def float_shape_rule(*avals, **params):
    """Shape rule of operations whose result is floating even for integer input (sin, log, ...)."""
    aval = elementwise_shape_rule(*avals)
    if aval.dtype.kind in "fc":
        return aval
    dtype = np.result_type(aval.dtype, np.float64)
    return ShapedArray(aval.shape, dtype)


def unary(name, impl, derivative, *, convention=None, float_result=True):
    """A unary elementwise primitive from ``derivative(x, y)`` (``y`` is the output, for reuse).

    JVP: ``y_dot = derivative(x, y) * x_dot``; VJP: ``x_bar = y_bar * derivative(x, y)``.
    """
    def jvp(primals, tangents, **params):
        (x,), (x_dot,) = primals, tangents
        y = primitive.bind(x, **params)
        return y, arithmetic.mul(x_dot, derivative(x, y, **params))

    def pullback(y_bar, y, x, **params):
        return (arithmetic.mul(y_bar, derivative(x, y, **params)),)

    primitive = Primitive(name, impl, shape_rule=float_shape_rule if float_result else elementwise_shape_rule,
                          jvp=jvp, vjp=pullback, convention=convention, elementwise=True)
    pullback.__name__ = f"{name}_pullback"
    pullback.reads = _derivative_reads(derivative, out_position=1, input_positions=(0,))
    jvp.__name__ = f"{name}_jvp"
    return primitive


def _derivative_reads(derivative, out_position, input_positions):
    """``reads`` of a pullback that only multiplies the cotangent by ``derivative(...)``: what the
    formula reads (e.g. exp's reads only the output, sin's only the input)."""
    read = parameters_read(derivative)
    names = derivative.__code__.co_varnames[:derivative.__code__.co_argcount] if read is not None else ()
    if read is None or len(names) <= max(out_position, *input_positions):
        return (True, tuple(range(len(input_positions))))
    return (names[out_position] in read, tuple(k for k, position in enumerate(input_positions) if names[position] in read))


def binary(name, impl, derivatives, *, convention=None, float_result=False):
    """A binary elementwise primitive from ``derivatives = (d_dx(x, y, out), d_dy(x, y, out))``.

    A derivative given as None means the primitive does not depend on that argument differentiably.
    """
    def jvp(primals, tangents, **params):
        out = primitive.bind(*primals, **params)
        out_dot = None
        for derivative, tangent in zip(derivatives, tangents):
            if tangent is None or derivative is None:
                continue
            term = arithmetic.mul(tangent, derivative(*primals, out, **params))
            out_dot = term if out_dot is None else arithmetic.add(out_dot, term)
        return out, out_dot

    def make_input_pullback(derivative, position):
        if derivative is None:
            return None

        def input_pullback(out_bar, out, *inputs, **params):
            return arithmetic.mul(out_bar, derivative(*inputs, out, **params))
        input_pullback.__name__ = f"{name}_pullback_{position}"
        input_pullback.reads = _derivative_reads(derivative, out_position=2, input_positions=(0, 1))
        return input_pullback

    input_vjps = tuple(make_input_pullback(d, i) for i, d in enumerate(derivatives))

    def pullback(out_bar, out, *inputs, **params):
        return tuple(None if p is None else p(out_bar, out, *inputs, **params) for p in input_vjps)

    pullback.__name__ = f"{name}_pullback"
    primitive = ElementwisePrimitive(name, impl, shape_rule=float_shape_rule if float_result else elementwise_shape_rule,
                                     jvp=jvp, vjp=pullback, input_vjps=input_vjps, convention=convention)
    return primitive


def linear(name, impl, transpose, *, shape_rule=None, elementwise=False, unary_elementwise=False):
    """A primitive linear in its (single differentiable) first argument: the JVP applies the primitive
    to the tangent, the VJP is ``transpose(cotangent, out, *inputs, **params)``. ``elementwise`` makes
    it an n-ary broadcasting ElementwisePrimitive; ``unary_elementwise`` marks a one-argument
    elementwise operation (neg, real, conj)."""

    def jvp(primals, tangents, **params):
        out = primitive.bind(*primals, **params)
        if tangents[0] is None:
            return out, None
        return out, primitive.bind(tangents[0], *primals[1:], **params)

    def pullback(out_bar, out, *inputs, **params):
        return (transpose(out_bar, out, *inputs, **params),) + (None,) * (len(inputs) - 1)

    pullback.__name__ = f"{name}_pullback"
    pullback.reads = _transpose_reads(transpose)
    if elementwise:
        primitive = ElementwisePrimitive(name, impl, shape_rule=shape_rule, jvp=jvp, vjp=pullback, linear=True)
    else:
        primitive = Primitive(name, impl, shape_rule=shape_rule, jvp=jvp, vjp=pullback, linear=True,
                              elementwise=unary_elementwise)
    return primitive


def _transpose_reads(transpose):
    """``reads`` of a linear primitive's pullback: the linear operand (input 0) only for its shape and
    dtype; the other inputs (index arrays, ...) and the output as the transpose reads them."""
    read = parameters_read(transpose)
    names = transpose.__code__.co_varnames[:transpose.__code__.co_argcount]
    out_read = read is None or (len(names) > 1 and names[1] in read)
    if read is None or varargs_name(transpose) in read:
        return (out_read, "all but first")
    return (out_read, tuple(k for k, name in enumerate(names[2:]) if k > 0 and name in read))


def zero_derivative(name, impl, *, shape_rule=None, convention=None, multiple_results=False, elementwise=False,
                    unary_elementwise=False):
    """A piecewise-constant or integer-valued primitive: its derivative is zero where it exists."""

    def jvp(primals, tangents, **params):
        return primitive.bind(*primals, **params), None

    def pullback(out_bar, out, *inputs, **params):
        return (None,) * len(inputs)

    if elementwise:
        primitive = ElementwisePrimitive(name, impl, shape_rule=shape_rule, jvp=jvp, vjp=pullback,
                                         differentiable=False, multiple_results=multiple_results,
                                         convention=convention)
    else:
        primitive = Primitive(name, impl, shape_rule=shape_rule, jvp=jvp, vjp=pullback, differentiable=False,
                              multiple_results=multiple_results, convention=convention,
                              elementwise=unary_elementwise)
    return primitive


# Imported last: arithmetic builds its primitives with this module's classes, and the rules above use it.
from . import arithmetic  # noqa: E402
