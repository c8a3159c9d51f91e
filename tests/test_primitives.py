"""The spec table: one row per primitive, each verified by ``check_rules`` (shape rule vs implementation,
JVP vs finite differences, JVP/VJP identity, second order, staging into a well-formed graph)."""
import numpy as np
import pytest

from chainrule.ops import all_primitives
from chainrule.ops.indexing import split_index
from chainrule.testing import check_rules

rng = np.random.default_rng(0)


def uniform(low, high, shape=(3,)):
    return rng.uniform(low, high, size=shape)


def spd(n):
    a = rng.standard_normal((n, n))
    return a @ a.T + n * np.eye(n)


def gather_args(index):
    template, arrays = split_index(index)
    return arrays, {"template": template}


_GATHER_ARRAYS, _GATHER_PARAMS = gather_args((np.array([0, 2, 0]), slice(1, 3)))
_SCATTER_ARRAYS, _SCATTER_PARAMS = gather_args((np.array([1, 3, 1]),))

# name -> (arguments, parameters). Points avoid non-differentiable places and domain edges.
SPEC = {
    "add": ((uniform(-2, 2), uniform(-2, 2)), {}),
    "sub": ((uniform(-2, 2), uniform(-2, 2)), {}),
    "mul": ((uniform(-2, 2), uniform(-2, 2)), {}),
    "div": ((uniform(-2, 2), uniform(0.5, 2)), {}),
    "neg": ((uniform(-2, 2),), {}),
    "pow": ((uniform(0.5, 2), uniform(-1.5, 1.5)), {}),
    "maximum": ((np.array([0.1, 2.0, -1.0]), np.array([0.5, 1.0, -2.0])), {}),
    "minimum": ((np.array([0.1, 2.0, -1.0]), np.array([0.5, 1.0, -2.0])), {}),
    "atan2": ((uniform(-2, 2), uniform(0.5, 2)), {}),
    "logaddexp": ((uniform(-2, 2), uniform(-2, 2)), {}),
    "hypot": ((uniform(0.5, 2), uniform(-2, -0.5)), {}),
    "mod": ((np.array([5.3, -2.7, 7.1]), np.array([2.0, 1.5, 3.0])), {}),
    "fmod": ((np.array([5.3, -2.7, 7.1]), np.array([2.0, 1.5, 3.0])), {}),
    "floor_divide": ((np.array([5.3, -2.7, 7.1]), np.array([2.0, 1.5, 3.0])), {}),
    "sin": ((uniform(-2, 2),), {}),
    "cos": ((uniform(-2, 2),), {}),
    "tan": ((uniform(-1, 1),), {}),
    "arcsin": ((uniform(-0.8, 0.8),), {}),
    "arccos": ((uniform(-0.8, 0.8),), {}),
    "arctan": ((uniform(-2, 2),), {}),
    "sinh": ((uniform(-2, 2),), {}),
    "cosh": ((uniform(-2, 2),), {}),
    "tanh": ((uniform(-2, 2),), {}),
    "arcsinh": ((uniform(-2, 2),), {}),
    "arccosh": ((uniform(1.5, 3),), {}),
    "arctanh": ((uniform(-0.8, 0.8),), {}),
    "exp": ((uniform(-2, 2),), {}),
    "exp2": ((uniform(-2, 2),), {}),
    "expm1": ((uniform(-2, 2),), {}),
    "log": ((uniform(0.5, 3),), {}),
    "log2": ((uniform(0.5, 3),), {}),
    "log10": ((uniform(0.5, 3),), {}),
    "log1p": ((uniform(-0.5, 3),), {}),
    "sqrt": ((uniform(0.5, 3),), {}),
    "cbrt": ((uniform(0.5, 3),), {}),
    "abs": ((np.array([-1.5, 0.7, 2.0]),), {}),
    "real": ((np.array([1.0 + 2.0j, -0.5 + 0.3j]),), {}),
    "imag": ((np.array([1.0 + 2.0j, -0.5 + 0.3j]),), {}),
    "conj": ((np.array([1.0 + 2.0j, -0.5 + 0.3j]),), {}),
    "sinc": ((np.array([-1.3, 0.4, 0.0]),), {}),
    "sign": ((uniform(-2, 2),), {}),
    "floor": ((uniform(-2, 2),), {}),
    "ceil": ((uniform(-2, 2),), {}),
    "rint": ((uniform(-2, 2),), {}),
    "trunc": ((uniform(-2, 2),), {}),
    "round": ((uniform(-2, 2),), {"decimals": 1}),
    "lt": ((uniform(-2, 2), uniform(-2, 2)), {}),
    "le": ((uniform(-2, 2), uniform(-2, 2)), {}),
    "gt": ((uniform(-2, 2), uniform(-2, 2)), {}),
    "ge": ((uniform(-2, 2), uniform(-2, 2)), {}),
    "eq": ((uniform(-2, 2), uniform(-2, 2)), {}),
    "ne": ((uniform(-2, 2), uniform(-2, 2)), {}),
    "logical_and": ((np.array([True, False, True]), np.array([True, True, False])), {}),
    "logical_or": ((np.array([True, False, True]), np.array([True, True, False])), {}),
    "logical_xor": ((np.array([True, False, True]), np.array([True, True, False])), {}),
    "logical_not": ((np.array([True, False, True]),), {}),
    "isnan": ((np.array([1.0, np.nan, 2.0]),), {}),
    "isinf": ((np.array([1.0, np.inf, 2.0]),), {}),
    "isfinite": ((np.array([1.0, np.inf, 2.0]),), {}),
    "select": ((np.array([True, False, True]), uniform(-2, 2), uniform(-2, 2)), {}),
    "reshape": ((uniform(-2, 2, (2, 3)),), {"new_shape": (3, 2)}),
    "transpose": ((uniform(-2, 2, (2, 3, 4)),), {"permutation": (2, 0, 1)}),
    "broadcast_to": ((uniform(-2, 2, (3, 1)),), {"shape": (2, 3, 4)}),
    "rev": ((uniform(-2, 2, (2, 3)),), {"axes": (1,)}),
    "pad": ((uniform(-2, 2, (2, 3)),), {"widths": ((1, 0), (2, 1))}),
    "convert_element_type": ((uniform(-2, 2).astype(np.float32),), {"dtype": np.dtype(np.float64)}),
    "concatenate": ((uniform(-2, 2, (2, 3)), uniform(-2, 2, (1, 3))), {"axis": 0}),
    "reduce_sum": ((uniform(-2, 2, (2, 3, 4)),), {"axes": (0, 2)}),
    "reduce_max": ((uniform(-2, 2, (3, 4)),), {"axes": (1,)}),
    "reduce_min": ((uniform(-2, 2, (3, 4)),), {"axes": (0,)}),
    "reduce_prod": ((np.array([[0.5, 0.0, 2.0], [1.5, -1.0, 0.7]]),), {"axes": (1,)}),
    "argmax": ((uniform(-2, 2, (3, 4)),), {"axis": 1}),
    "argmin": ((uniform(-2, 2, (3, 4)),), {"axis": 0}),
    "argsort": ((uniform(-2, 2, (3, 4)),), {"axis": 1, "kind": "stable"}),
    "argpartition": ((uniform(-2, 2, (5,)),), {"kth": 2, "axis": 0}),
    "cumsum": ((uniform(-2, 2, (3, 4)),), {"axis": 1, "reverse": False}),
    "contract": ((uniform(-2, 2, (2, 3, 4)), uniform(-2, 2, (2, 4, 5))), {"spec": "bij,bjk->kbi"}),
    "gather": ((uniform(-2, 2, (4, 3)), *_GATHER_ARRAYS), _GATHER_PARAMS),
    "scatter_add": ((uniform(-2, 2, (3, 2)), *_SCATTER_ARRAYS), {**_SCATTER_PARAMS, "shape": (5, 2)}),
    "scatter": ((uniform(-2, 2, (5, 2)), uniform(-2, 2, (2,)), np.array([1, 3])),
                {"template": split_index((np.array([1, 3]),))[0]}),
    "stop_gradient": ((uniform(-2, 2),), {}),
    "solve": ((spd(3), uniform(-2, 2, (3, 2))), {}),
    "inv": ((spd(3),), {}),
    "det": ((spd(3),), {}),
    "slogdet": ((spd(3),), {}),
    "cholesky": ((spd(3),), {}),
    "triangular_solve": ((np.tril(spd(3)), uniform(-2, 2, (3, 2))), {"lower": True}),
    "eigh": ((np.diag([1.0, 2.0, 4.0]) + 0.1 * (lambda a: a + a.T)(uniform(-1, 1, (3, 3))),), {}),
}


# Special functions (chainrule.ops.special). Integer arguments are held fixed (differentiable in x only).
SPEC.update({
    "gammaln": ((uniform(0.5, 4),), {}),
    "polygamma": ((uniform(0.5, 4),), {"order": 1}),
    "gamma": ((uniform(0.5, 3),), {}),
    "erf": ((uniform(-2, 2),), {}),
    "erfc": ((uniform(-2, 2),), {}),
    "erfinv": ((uniform(-0.8, 0.8),), {}),
    "erfcx": ((uniform(-1, 3),), {}),
    "iv": ((uniform(0.5, 3),), {"order": 1.5}),
    "ive": ((uniform(-3, 3),), {"order": 1.0}),
    "jv": ((uniform(0.5, 5),), {"order": 0.5}),
    "yv": ((uniform(0.5, 5),), {"order": 1.0}),
    "xlogy": ((uniform(-2, 2), uniform(0.5, 3)), {}),
    "xlog1py": ((uniform(-2, 2), uniform(-0.5, 3)), {}),
    "zeta": ((np.array([2, 3, 4]), uniform(0.5, 3)), {}),
    "gammainc": ((np.array([1, 2, 5]), uniform(0.5, 4)), {}),
    "gammaincc": ((np.array([1, 2, 5]), uniform(0.5, 4)), {}),
    "betainc": ((np.array([1, 2, 5]), np.array([2, 3, 1]), uniform(0.2, 0.8)), {}),
    # Derivatives in the shape parameters: the shapes held fixed (their own derivatives have no closed form).
    "gammainc_derivative_a": ((np.array([1, 2, 5]), uniform(0.5, 4)), {}),
    "betainc_derivative_a": ((np.array([1, 2, 5]), np.array([2, 3, 1]), uniform(0.2, 0.8)), {}),
    "betainc_derivative_b": ((np.array([1, 2, 5]), np.array([2, 3, 1]), uniform(0.2, 0.8)), {}),
})


# Fourier transforms over trailing axes; tests/test_fft.py checks the other kinds (ifft, rfft, irfft).
SPEC["fft"] = ((uniform(-2, 2, (2, 4)) + 1j * uniform(-2, 2, (2, 4)),), {"kind": "fft", "lengths": (4,)})
# Decompositions; tests/test_linalg_extras.py covers wide and square shapes too.
SPEC["svd"] = ((np.diag([4.0, 2.0, 1.0, 0.0])[:, :3] + 0.1 * uniform(-1, 1, (4, 3)),), {})
SPEC["qr"] = ((uniform(-1, 1, (4, 3)),), {})
SPEC["lu"] = ((uniform(-1, 1, (3, 3)),), {})
SPEC["lu_pivots_to_permutation"] = ((np.array([2, 2, 3, 3], dtype=np.int32),), {})
SPEC["sylvester"] = ((spd(3), np.array([[2.0, 0.3], [0.1, 1.5]]), uniform(-1, 1, (3, 2))), {})
SPEC["sqrtm"] = ((spd(3),), {})
SPEC["expm"] = ((uniform(-1, 1, (3, 3)),), {})
SPEC["eig"] = ((np.array([[1.0, 2.0, 0.0], [-2.0, 1.0, 0.5], [0.0, 0.3, 3.0]]) + 0.1 * uniform(-1, 1, (3, 3)),), {})


def test_every_primitive_has_a_row():
    missing = sorted(set(all_primitives()) - set(SPEC))
    assert not missing, f"primitives without a spec-table row: {missing}"


@pytest.mark.parametrize("name", sorted(SPEC))
def test_rules(name):
    primitive = all_primitives()[name]
    args, params = SPEC[name]
    check_rules(primitive, args, params, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("name", ["sin", "exp", "mul", "reduce_sum", "contract"])
def test_check_rules_catches_a_wrong_rule(name):
    """A deliberately broken JVP must be reported: the checker itself can fail."""
    from chainrule.testing import DerivativeMismatch
    primitive = all_primitives()[name]
    original = primitive.jvp

    def broken_jvp(primals, tangents, **params):
        out, out_tangent = original(primals, tangents, **params)
        return out, None if out_tangent is None else out_tangent * 1.01

    primitive.jvp = broken_jvp
    try:
        with pytest.raises(DerivativeMismatch):
            check_rules(primitive, *SPEC[name])
    finally:
        primitive.jvp = original
