"""The one bridge between primitives and SymPy: a table keyed by primitive. A row with a ``head`` maps both
ways (primitive <-> that SymPy class); a row without one only exports; ``REFUSED`` says why the remaining
primitives have no SymPy form. Call primitives (``calls_function``) are no rows: the exporter inlines the
function they call. tests/symbolic checks that every primitive of chainrule.ops is in TABLE or REFUSED."""
import numpy as np

from ..ops import (arithmetic, comparison, contraction, control, decompositions, elementwise, fft, indexing, linalg,
                   reduction, special, structure)


class Counterpart:
    """How one primitive is written in SymPy.

    ``head``: name of the SymPy class that means exactly this primitive (both directions), or None.
    ``build(sympy, *args, **params)``: the SymPy expression for scalar arguments (elementwise rows), or
    for whole arrays of expressions (``elementwise=False``); None for structural rows, which run the
    primitive's own NumPy ``impl`` on arrays of expressions.
    ``index_operands``: the position from which the operands are integer indices (gather, scatter), which
    must be known numbers, not expressions of the variables.
    ``variadic``: the SymPy head takes any number of arguments (``Add(a, b, c)``), which from_sympy folds
    into a chain of the binary primitive.
    """

    __slots__ = ("head", "build", "elementwise", "index_operands", "variadic")

    def __init__(self, head=None, build=None, elementwise=True, index_operands=None, variadic=False):
        self.head = head
        self.build = build
        self.elementwise = elementwise
        self.index_operands = index_operands
        self.variadic = variadic


def _head(name, variadic=False):
    """A row whose primitive is the SymPy class ``name`` applied to the arguments."""
    return Counterpart(head=name, build=lambda sympy, *args, **params: getattr(sympy, name)(*args), variadic=variadic)


def _composite(build):
    return Counterpart(build=build)


def _structural(index_operands=None):
    return Counterpart(elementwise=False, index_operands=index_operands)


def _cube_root(sympy, x):
    # NumPy's cbrt is the real cube root (negative for negative x), not SymPy's principal root x**(1/3).
    return sympy.sign(x) * sympy.Abs(x) ** sympy.Rational(1, 3)


def _log_add_exp(sympy, x, y):
    # log(exp(x) + exp(y)) overflows to inf at x = 800 (and then every derivative through it is 0 or NaN);
    # factoring out the larger argument keeps every exponent at or below 0.
    return sympy.Max(x, y) + sympy.log(1 + sympy.exp(-sympy.Abs(x - y)))


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
    arithmetic.add: _head("Add", variadic=True),
    arithmetic.mul: _head("Mul", variadic=True),
    arithmetic.power: _head("Pow"),
    elementwise.sin: _head("sin"), elementwise.cos: _head("cos"), elementwise.tan: _head("tan"),
    elementwise.arcsin: _head("asin"), elementwise.arccos: _head("acos"), elementwise.arctan: _head("atan"),
    elementwise.sinh: _head("sinh"), elementwise.cosh: _head("cosh"), elementwise.tanh: _head("tanh"),
    elementwise.arcsinh: _head("asinh"), elementwise.arccosh: _head("acosh"), elementwise.arctanh: _head("atanh"),
    elementwise.exp: _head("exp"), elementwise.log: _head("log"),
    elementwise.absolute: _head("Abs"), elementwise.sign: _head("sign"), elementwise.floor: _head("floor"),
    elementwise.ceil: _head("ceiling"),
    arithmetic.maximum: _head("Max", variadic=True), arithmetic.minimum: _head("Min", variadic=True),
    arithmetic.atan2: _head("atan2"), arithmetic.mod: _head("Mod"),
    comparison.lt: _head("StrictLessThan"), comparison.le: _head("LessThan"), comparison.gt: _head("StrictGreaterThan"),
    comparison.ge: _head("GreaterThan"), comparison.eq: _head("Equality"), comparison.ne: _head("Unequality"),
    comparison.logical_and: _head("And", variadic=True), comparison.logical_or: _head("Or", variadic=True),
    comparison.logical_xor: _head("Xor", variadic=True), comparison.logical_not: _head("Not"),
    elementwise.real: _head("re"), elementwise.imag: _head("im"), elementwise.conj: _head("conjugate"),
    special.erf: _head("erf"), special.erfc: _head("erfc"), special.erfinv: _head("erfinv"),
    special.gamma: _head("gamma"), special.zeta: _head("zeta"),
    comparison.select: Counterpart(head="Piecewise",
                                   build=lambda sympy, condition, on_true, on_false:
                                   sympy.Piecewise((on_true, condition), (on_false, True))),
    # Export only: SymPy writes these with the classes above.
    arithmetic.sub: _composite(lambda sympy, x, y: x - y),
    arithmetic.div: _composite(lambda sympy, x, y: x / y),
    arithmetic.neg: _composite(lambda sympy, x: -x),
    elementwise.sqrt: _composite(lambda sympy, x: sympy.sqrt(x)),
    elementwise.cbrt: _composite(_cube_root),
    elementwise.exp2: _composite(lambda sympy, x: 2 ** x),
    elementwise.expm1: _composite(lambda sympy, x: sympy.exp(x) - 1),
    elementwise.log2: _composite(lambda sympy, x: sympy.log(x) / sympy.log(2)),
    elementwise.log10: _composite(lambda sympy, x: sympy.log(x) / sympy.log(10)),
    elementwise.log1p: _composite(lambda sympy, x: sympy.log(1 + x)),
    elementwise.sinc: _composite(lambda sympy, x: sympy.sinc(sympy.pi * x)),
    arithmetic.hypot: _composite(lambda sympy, x, y: sympy.sqrt(x ** 2 + y ** 2)),
    arithmetic.logaddexp: _composite(_log_add_exp),
    elementwise.trunc: _composite(_truncate),
    arithmetic.floor_divide: _composite(lambda sympy, x, y: sympy.floor(x / y)),
    arithmetic.fmod: _composite(lambda sympy, x, y: x - y * _truncate(sympy, x / y)),
    special.gammaln: _composite(lambda sympy, x: sympy.log(sympy.Abs(sympy.gamma(x)))),
    special.betaln: _composite(lambda sympy, a, b: sympy.log(sympy.Abs(sympy.beta(a, b)))),
    special.rgamma: _composite(lambda sympy, x: 1 / sympy.gamma(x)),
    special.loggamma: _composite(lambda sympy, x: sympy.loggamma(x)),
    special.polygamma: _composite(lambda sympy, x, *, order: sympy.polygamma(order, x)),
    special.erfcx: _composite(lambda sympy, x: sympy.exp(x ** 2) * sympy.erfc(x)),
    special.ndtri: _composite(lambda sympy, p: sympy.sqrt(2) * sympy.erfinv(2 * p - 1)),
    special.jv: _composite(lambda sympy, x, *, order: sympy.besselj(order, x)),
    special.yv: _composite(lambda sympy, x, *, order: sympy.bessely(order, x)),
    special.iv: _composite(lambda sympy, x, *, order: sympy.besseli(order, x)),
    special.ive: _composite(lambda sympy, x, *, order: sympy.besseli(order, x) * sympy.exp(-sympy.Abs(x))),
    special.gammainc: _composite(lambda sympy, a, x: sympy.lowergamma(a, x) / sympy.gamma(a)),
    special.gammaincc: _composite(lambda sympy, a, x: sympy.uppergamma(a, x) / sympy.gamma(a)),
    special.betainc: _composite(lambda sympy, a, b, x: sympy.betainc_regularized(a, b, 0, x)),
    special.gammainc_derivative_a: _composite(_gammainc_derivative_a),
    special.xlogy: _composite(lambda sympy, x, y: sympy.Piecewise((0, sympy.Eq(x, 0)), (x * sympy.log(y), True))),
    special.xlog1py: _composite(lambda sympy, x, y: sympy.Piecewise((0, sympy.Eq(x, 0)),
                                                                     (x * sympy.log(1 + y), True))),
    control.stop_gradient: _composite(lambda sympy, x: x),  # the value; derivatives come from the derivative graph
    structure.convert_element_type: _composite(_convert),
    # Structural and reductions: the primitive's own impl, run on arrays of SymPy expressions.
    **{primitive: _structural() for primitive in (
        structure.reshape, structure.transpose, structure.broadcast_to_primitive, structure.rev, structure.pad,
        structure.concatenate, reduction.reduce_sum, reduction.reduce_prod, reduction.cumsum, contraction.contract)},
    indexing.gather: _structural(index_operands=1),
    indexing.scatter_add: _structural(index_operands=1),
    indexing.scatter: _structural(index_operands=2),
    reduction.reduce_max: Counterpart(build=_extremum("Max"), elementwise=False),
    reduction.reduce_min: Counterpart(build=_extremum("Min"), elementwise=False),
    linalg.det: Counterpart(build=_per_matrix(lambda a: a.det()), elementwise=False),
    linalg.adjugate: Counterpart(build=_per_matrix(lambda a: a.adjugate()), elementwise=False),
    linalg.inv: Counterpart(build=_per_matrix(lambda a: a.inv()), elementwise=False),
    linalg.solve: Counterpart(build=_per_matrix(lambda a, b: a.LUsolve(b)), elementwise=False),
}

# Primitives with no SymPy form, and why (each is refused with this reason, naming the primitive).
REFUSED = {
    elementwise.rint: "SymPy has no round-half-to-even function",
    elementwise.round_: "SymPy has no round-half-to-even function",
    reduction.argmax: "an index chosen by comparing values has no closed form",
    reduction.argmin: "an index chosen by comparing values has no closed form",
    reduction.argsort: "an order chosen by comparing values has no closed form",
    reduction.argpartition: "an order chosen by comparing values has no closed form",
    comparison.isnan: "a real symbol is never NaN; the test has no symbolic meaning",
    comparison.isinf: "a real symbol is never infinite; the test has no symbolic meaning",
    comparison.isfinite: "a real symbol is always finite; the test has no symbolic meaning",
    linalg.cholesky: "a symbolic Cholesky factor is not exported; use the numeric derivative",
    linalg.eigh: "symbolic eigen-decompositions are not exported; use the numeric derivative",
    linalg.slogdet: "use det (exported through sympy.Matrix.det) instead",
    linalg.triangular_solve: "a symbolic triangular solve is not exported; use solve",
    decompositions.svd: "symbolic singular value decompositions are not exported; use the numeric derivative",
    decompositions.eig: "symbolic eigen-decompositions are not exported; use the numeric derivative",
    decompositions.qr: "a symbolic QR factorization is not exported; use the numeric derivative",
    decompositions.sylvester: "a symbolic Sylvester solve is not exported; use the numeric derivative",
    decompositions.sqrtm: "a symbolic matrix square root is not exported; use the numeric derivative",
    decompositions.expm: "a symbolic matrix exponential is not exported; use the numeric derivative",
    decompositions.lu: "pivoting chooses rows by comparing values: no closed form; use solve",
    decompositions.lu_pivots_to_permutation: "an integer permutation from pivot values has no symbolic meaning",
    fft.fft: "a symbolic discrete Fourier transform is not exported; use the numeric derivative",
    special.betainc_derivative_a: "SymPy cannot differentiate betainc_regularized in its parameters",
    special.betainc_derivative_b: "SymPy cannot differentiate betainc_regularized in its parameters",
    control.scan: "a loop has no closed form in SymPy; export its derivative as Python (to_python) instead",
    control.while_loop: "a loop has no closed form in SymPy; export its derivative as Python (to_python) instead",
    control.while_loop_vjp: "a loop has no closed form in SymPy; export it as Python (to_python) instead",
    control.while_loop_vjp_transpose: "a loop has no closed form in SymPy; export it as Python (to_python) instead",
    control.checkpointed_scan_vjp: "a loop has no closed form in SymPy; export it as Python (to_python) instead",
    control.cond: "a branch chosen at run time has no closed form here; export it as Python (to_python) instead",
}
