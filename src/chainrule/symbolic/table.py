"""The one bridge between primitives and SymPy: a table keyed by primitive name. A row with a ``head``
maps both ways (primitive <-> that SymPy class); a row without one only exports; ``REFUSED`` says why
the remaining primitives have no SymPy form."""
import numpy as np


class Counterpart:
    """How one primitive is written in SymPy.

    ``head``: name of the SymPy class that means exactly this primitive (both directions), or None.
    ``build(sympy, *args, **params)``: the SymPy expression for scalar arguments (elementwise rows), or
    for whole arrays of expressions (``elementwise=False``); None for structural rows, which run the
    primitive's own NumPy ``impl`` on arrays of expressions.
    """

    __slots__ = ("head", "build", "elementwise")

    def __init__(self, head=None, build=None, elementwise=True):
        self.head = head
        self.build = build
        self.elementwise = elementwise


def _head(name):
    """A row whose primitive is the SymPy class ``name`` applied to the arguments."""
    return Counterpart(head=name, build=lambda sympy, *args, **params: getattr(sympy, name)(*args))


def _composite(build):
    return Counterpart(build=build)


def _structural():
    return Counterpart(elementwise=False)


def _cube_root(sympy, x):
    # NumPy's cbrt is the real cube root (negative for negative x), not SymPy's principal root x**(1/3).
    return sympy.sign(x) * sympy.Abs(x) ** sympy.Rational(1, 3)


def _truncate(sympy, x):
    return sympy.sign(x) * sympy.floor(sympy.Abs(x))


def _gammainc_derivative_a(sympy, a, x):
    # d/da of lowergamma(a, x) / gamma(a), taken in a fresh symbol and evaluated at a (SymPy writes it with meijerg)
    shape = sympy.Dummy("shape")
    return sympy.diff(sympy.lowergamma(shape, x) / sympy.gamma(shape), shape).subs(shape, a)


def _extremum(function_name):
    def reduce(sympy, x, *, axes):
        x = np.asarray(x, dtype=object)
        kept = [i for i in range(x.ndim) if i not in axes]
        moved = np.transpose(x, kept + list(axes)).reshape([x.shape[i] for i in kept] + [-1])
        out = np.empty(moved.shape[:-1], dtype=object)
        for index in np.ndindex(*out.shape):
            out[index] = getattr(sympy, function_name)(*moved[index])
        return out
    return reduce


def _per_matrix(operation):
    """Apply a sympy.Matrix operation to each matrix of a stack (the last two axes)."""
    def apply(sympy, *arrays):
        arrays = [np.asarray(a, dtype=object) for a in arrays]
        batch = np.broadcast_shapes(*(a.shape[:-2] for a in arrays))
        results = {}
        for index in np.ndindex(*batch):
            matrices = [sympy.Matrix(np.broadcast_to(a, batch + a.shape[-2:])[index].tolist()) for a in arrays]
            results[index] = operation(*matrices)
        first = results[next(iter(results))]
        shape = batch + (() if not hasattr(first, "shape") else tuple(first.shape))
        out = np.empty(shape, dtype=object)
        for index, value in results.items():
            if hasattr(value, "shape"):
                block = np.empty(tuple(value.shape), dtype=object)
                for row in range(value.shape[0]):
                    for column in range(value.shape[1]):
                        block[row, column] = value[row, column]
                out[index] = block
            else:
                out[index] = value
        return out
    return apply


def _convert(sympy, x, *, dtype):
    if np.issubdtype(np.dtype(dtype), np.inexact):
        return x
    raise NotImplementedError(f"convert_element_type to {np.dtype(dtype).name} has no SymPy counterpart")


TABLE = {
    # Both directions: one primitive, one SymPy class.
    "add": _head("Add"),
    "mul": _head("Mul"),
    "pow": _head("Pow"),
    "sin": _head("sin"), "cos": _head("cos"), "tan": _head("tan"),
    "arcsin": _head("asin"), "arccos": _head("acos"), "arctan": _head("atan"),
    "sinh": _head("sinh"), "cosh": _head("cosh"), "tanh": _head("tanh"),
    "arcsinh": _head("asinh"), "arccosh": _head("acosh"), "arctanh": _head("atanh"),
    "exp": _head("exp"), "log": _head("log"),
    "abs": _head("Abs"), "sign": _head("sign"), "floor": _head("floor"), "ceil": _head("ceiling"),
    "maximum": _head("Max"), "minimum": _head("Min"), "atan2": _head("atan2"), "mod": _head("Mod"),
    "lt": _head("StrictLessThan"), "le": _head("LessThan"), "gt": _head("StrictGreaterThan"),
    "ge": _head("GreaterThan"), "eq": _head("Equality"), "ne": _head("Unequality"),
    "logical_and": _head("And"), "logical_or": _head("Or"), "logical_xor": _head("Xor"),
    "logical_not": _head("Not"),
    "real": _head("re"), "imag": _head("im"), "conj": _head("conjugate"),
    "erf": _head("erf"), "erfc": _head("erfc"), "erfinv": _head("erfinv"), "gamma": _head("gamma"),
    "zeta": _head("zeta"),
    "select": Counterpart(head="Piecewise",
                          build=lambda sympy, condition, on_true, on_false:
                          sympy.Piecewise((on_true, condition), (on_false, True))),
    # Export only: SymPy writes these with the classes above.
    "sub": _composite(lambda sympy, x, y: x - y),
    "div": _composite(lambda sympy, x, y: x / y),
    "neg": _composite(lambda sympy, x: -x),
    "sqrt": _composite(lambda sympy, x: sympy.sqrt(x)),
    "cbrt": _composite(_cube_root),
    "exp2": _composite(lambda sympy, x: 2 ** x),
    "expm1": _composite(lambda sympy, x: sympy.exp(x) - 1),
    "log2": _composite(lambda sympy, x: sympy.log(x) / sympy.log(2)),
    "log10": _composite(lambda sympy, x: sympy.log(x) / sympy.log(10)),
    "log1p": _composite(lambda sympy, x: sympy.log(1 + x)),
    "sinc": _composite(lambda sympy, x: sympy.sinc(sympy.pi * x)),
    "hypot": _composite(lambda sympy, x, y: sympy.sqrt(x ** 2 + y ** 2)),
    "logaddexp": _composite(lambda sympy, x, y: sympy.log(sympy.exp(x) + sympy.exp(y))),
    "trunc": _composite(_truncate),
    "floor_divide": _composite(lambda sympy, x, y: sympy.floor(x / y)),
    "fmod": _composite(lambda sympy, x, y: x - y * _truncate(sympy, x / y)),
    "gammaln": _composite(lambda sympy, x: sympy.log(sympy.Abs(sympy.gamma(x)))),
    "polygamma": _composite(lambda sympy, x, *, order: sympy.polygamma(order, x)),
    "erfcx": _composite(lambda sympy, x: sympy.exp(x ** 2) * sympy.erfc(x)),
    "jv": _composite(lambda sympy, x, *, order: sympy.besselj(order, x)),
    "yv": _composite(lambda sympy, x, *, order: sympy.bessely(order, x)),
    "iv": _composite(lambda sympy, x, *, order: sympy.besseli(order, x)),
    "ive": _composite(lambda sympy, x, *, order: sympy.besseli(order, x) * sympy.exp(-sympy.Abs(x))),
    "gammainc": _composite(lambda sympy, a, x: sympy.lowergamma(a, x) / sympy.gamma(a)),
    "gammaincc": _composite(lambda sympy, a, x: sympy.uppergamma(a, x) / sympy.gamma(a)),
    "betainc": _composite(lambda sympy, a, b, x: sympy.betainc_regularized(a, b, 0, x)),
    "gammainc_derivative_a": _composite(_gammainc_derivative_a),
    "xlogy": _composite(lambda sympy, x, y: sympy.Piecewise((0, sympy.Eq(x, 0)), (x * sympy.log(y), True))),
    "xlog1py": _composite(lambda sympy, x, y: sympy.Piecewise((0, sympy.Eq(x, 0)), (x * sympy.log(1 + y), True))),
    "stop_gradient": _composite(lambda sympy, x: x),  # the value; derivatives come from the derivative graph
    "convert_element_type": _composite(_convert),
    # Structural and reductions: the primitive's own impl, run on arrays of SymPy expressions.
    **{name: _structural() for name in (
        "reshape", "transpose", "broadcast_to", "rev", "pad", "concatenate", "gather", "scatter_add", "scatter",
        "reduce_sum", "reduce_prod", "cumsum", "contract")},
    "reduce_max": Counterpart(build=_extremum("Max"), elementwise=False),
    "reduce_min": Counterpart(build=_extremum("Min"), elementwise=False),
    "det": Counterpart(build=_per_matrix(lambda a: a.det()), elementwise=False),
    "inv": Counterpart(build=_per_matrix(lambda a: a.inv()), elementwise=False),
    "solve": Counterpart(build=_per_matrix(lambda a, b: a.LUsolve(b)), elementwise=False),
}

# Primitives with no SymPy form, and why (each is refused with this reason, naming the primitive).
REFUSED = {
    "rint": "SymPy has no round-half-to-even function",
    "round": "SymPy has no round-half-to-even function",
    "argmax": "an index chosen by comparing values has no closed form",
    "argmin": "an index chosen by comparing values has no closed form",
    "argsort": "an order chosen by comparing values has no closed form",
    "argpartition": "an order chosen by comparing values has no closed form",
    "isnan": "a real symbol is never NaN; the test has no symbolic meaning",
    "isinf": "a real symbol is never infinite; the test has no symbolic meaning",
    "isfinite": "a real symbol is always finite; the test has no symbolic meaning",
    "cholesky": "a symbolic Cholesky factor is not exported; use the numeric derivative",
    "eigh": "symbolic eigen-decompositions are not exported; use the numeric derivative",
    "slogdet": "use det (exported through sympy.Matrix.det) instead",
    "triangular_solve": "a symbolic triangular solve is not exported; use solve",
    "svd": "symbolic singular value decompositions are not exported; use the numeric derivative",
    "eig": "symbolic eigen-decompositions are not exported; use the numeric derivative",
    "qr": "a symbolic QR factorization is not exported; use the numeric derivative",
    "sylvester": "a symbolic Sylvester solve is not exported; use the numeric derivative",
    "sqrtm": "a symbolic matrix square root is not exported; use the numeric derivative",
    "expm": "a symbolic matrix exponential is not exported; use the numeric derivative",
    "lu": "pivoting chooses rows by comparing values: no closed form; use solve",
    "lu_pivots_to_permutation": "an integer permutation from pivot values has no symbolic meaning",
    "fft": "a symbolic discrete Fourier transform is not exported; use the numeric derivative",
    "betainc_derivative_a": "SymPy cannot differentiate betainc_regularized in its parameters",
    "betainc_derivative_b": "SymPy cannot differentiate betainc_regularized in its parameters",
}

# Call primitives are not rows: the exporter inlines the function they call.
INLINED = ("custom_jvp_call", "custom_vjp_call", "checkpoint_call")
