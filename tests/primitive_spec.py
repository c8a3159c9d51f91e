"""The primitive spec table: one row of (arguments, parameters) per primitive, shared by the tests that run
over every primitive (check_rules in test_primitives.py, batching in test_vmap.py, stand-ins in
test_residuals.py, the exporters in tests/export and tests/symbolic).

Each row is a builder ``rng -> (arguments, parameters)``; ``row(name)`` calls it with a generator seeded by the
name alone (``zlib.crc32(name)``), so adding, removing or reordering rows never moves any other row's points.
Points avoid non-differentiable places and domain edges."""
import functools
import zlib

import numpy as np

from chainrule.ops.indexing import split_index


def uniform(rng, low, high, shape=(3,)):
    return rng.uniform(low, high, size=shape)


def spd(rng, n):
    a = rng.standard_normal((n, n))
    return a @ a.T + n * np.eye(n)


def symmetric(a):
    return a + a.T


def gather_args(index):
    template, arrays = split_index(index)
    return arrays, {"template": template}


def _gather(rng):
    arrays, params = gather_args((np.array([0, 2, 0]), slice(1, 3)))
    return (uniform(rng, -2, 2, (4, 3)), *arrays), params


def _scatter_add(rng):
    arrays, params = gather_args((np.array([1, 3, 1]),))
    return (uniform(rng, -2, 2, (3, 2)), *arrays), {**params, "shape": (5, 2)}


def _scatter(rng):
    return ((uniform(rng, -2, 2, (5, 2)), uniform(rng, -2, 2, (2,)), np.array([1, 3])),
            {"template": split_index((np.array([1, 3]),))[0]})


@functools.lru_cache(maxsize=None)
def _control_bodies():
    """The staged bodies of the control primitives' rows, built once: every build of the table shares them (a
    graph parameter compares by identity)."""
    import chainrule.numpy as cnp
    from chainrule.core.avals import ShapedArray
    from chainrule.ops import control
    from chainrule.ops.loops import stage, vjp_graph
    vector, count = ShapedArray((3,), np.dtype(np.float64)), ShapedArray((), np.dtype(np.int64))
    step = stage(lambda v: [cnp.tanh(v[0] * v[1] + v[2]), v[1] * v[2]], [vector] * 3)[0]
    branches = (stage(lambda v: [cnp.cos(v[0]) * v[1]], [vector] * 2)[0],
                stage(lambda v: [v[0] * v[1] + v[1]], [vector] * 2)[0])
    predicate = stage(lambda v: [v[0] < 3], [count, vector])[0]
    body = stage(lambda v: [v[1] + 1, cnp.sin(v[2]) * v[0]], [vector, count, vector])[0]
    loop = {"cond_body": predicate, "body": body, "num_cond_consts": 0, "num_body_consts": 1}
    step_vjp = vjp_graph(body, [True, False, True], [False, True])
    assert control.while_loop_vjp  # the rows below are this module's
    return step, branches, loop, {**loop, "step_vjp": step_vjp, "wanted_consts": (True,)}


def _scan(rng):
    step = _control_bodies()[0]
    return ((uniform(rng, -1, 1), uniform(rng, -1, 1), uniform(rng, -1, 1, (4, 3))),
            {"body": step, "num_consts": 1, "num_carry": 1, "length": 4, "reverse": False, "checkpoints": None})


def _while_loop(rng):
    return (uniform(rng, 0.5, 1.5), np.array(0), uniform(rng, -1, 1)), _control_bodies()[2]


def _while_loop_vjp(rng):
    return (uniform(rng, 0.5, 1.5), np.array(0), uniform(rng, -1, 1), uniform(rng, -1, 1)), _control_bodies()[3]


def _while_loop_vjp_transpose(rng):
    inputs, params = _while_loop_vjp(rng)
    # then the cotangents of while_loop_vjp's outputs: the const's and the float carry's
    return inputs + (uniform(rng, -1, 1), uniform(rng, -1, 1)), {**params, "batch_size": None, "levels": ()}


@functools.lru_cache(maxsize=None)
def _checkpointed_scan_vjp_step_vjp():
    from chainrule.ops.loops import vjp_graph
    return vjp_graph(_control_bodies()[0], [True] * 3, [True, True])


def _checkpointed_scan_vjp(rng):
    return ((uniform(rng, -1, 1), uniform(rng, -1, 1), uniform(rng, -1, 1, (4, 3)), uniform(rng, -1, 1),
             uniform(rng, -1, 1, (4, 3))),
            {"body": _control_bodies()[0], "step_vjp": _checkpointed_scan_vjp_step_vjp(), "num_consts": 1,
             "num_carry": 1, "length": 4, "reverse": False, "checkpoints": 2, "y_given": (True,)})


# name -> builder(rng) -> (arguments, parameters).
ROWS = {
    "add": lambda rng: ((uniform(rng, -2, 2), uniform(rng, -2, 2)), {}),
    "sub": lambda rng: ((uniform(rng, -2, 2), uniform(rng, -2, 2)), {}),
    "mul": lambda rng: ((uniform(rng, -2, 2), uniform(rng, -2, 2)), {}),
    "div": lambda rng: ((uniform(rng, -2, 2), uniform(rng, 0.5, 2)), {}),
    "neg": lambda rng: ((uniform(rng, -2, 2),), {}),
    "pow": lambda rng: ((uniform(rng, 0.5, 2), uniform(rng, -1.5, 1.5)), {}),
    "maximum": lambda rng: ((np.array([0.1, 2.0, -1.0]), np.array([0.5, 1.0, -2.0])), {}),
    "minimum": lambda rng: ((np.array([0.1, 2.0, -1.0]), np.array([0.5, 1.0, -2.0])), {}),
    "atan2": lambda rng: ((uniform(rng, -2, 2), uniform(rng, 0.5, 2)), {}),
    "logaddexp": lambda rng: ((uniform(rng, -2, 2), uniform(rng, -2, 2)), {}),
    "hypot": lambda rng: ((uniform(rng, 0.5, 2), uniform(rng, -2, -0.5)), {}),
    "mod": lambda rng: ((np.array([5.3, -2.7, 7.1]), np.array([2.0, 1.5, 3.0])), {}),
    "fmod": lambda rng: ((np.array([5.3, -2.7, 7.1]), np.array([2.0, 1.5, 3.0])), {}),
    "floor_divide": lambda rng: ((np.array([5.3, -2.7, 7.1]), np.array([2.0, 1.5, 3.0])), {}),
    "sin": lambda rng: ((uniform(rng, -2, 2),), {}),
    "cos": lambda rng: ((uniform(rng, -2, 2),), {}),
    "tan": lambda rng: ((uniform(rng, -1, 1),), {}),
    "arcsin": lambda rng: ((uniform(rng, -0.8, 0.8),), {}),
    "arccos": lambda rng: ((uniform(rng, -0.8, 0.8),), {}),
    "arctan": lambda rng: ((uniform(rng, -2, 2),), {}),
    "sinh": lambda rng: ((uniform(rng, -2, 2),), {}),
    "cosh": lambda rng: ((uniform(rng, -2, 2),), {}),
    "tanh": lambda rng: ((uniform(rng, -2, 2),), {}),
    "arcsinh": lambda rng: ((uniform(rng, -2, 2),), {}),
    "arccosh": lambda rng: ((uniform(rng, 1.5, 3),), {}),
    "arctanh": lambda rng: ((uniform(rng, -0.8, 0.8),), {}),
    "exp": lambda rng: ((uniform(rng, -2, 2),), {}),
    "exp2": lambda rng: ((uniform(rng, -2, 2),), {}),
    "expm1": lambda rng: ((uniform(rng, -2, 2),), {}),
    "log": lambda rng: ((uniform(rng, 0.5, 3),), {}),
    "log2": lambda rng: ((uniform(rng, 0.5, 3),), {}),
    "log10": lambda rng: ((uniform(rng, 0.5, 3),), {}),
    "log1p": lambda rng: ((uniform(rng, -0.5, 3),), {}),
    "sqrt": lambda rng: ((uniform(rng, 0.5, 3),), {}),
    "cbrt": lambda rng: ((uniform(rng, 0.5, 3),), {}),
    "abs": lambda rng: ((np.array([-1.5, 0.7, 2.0]),), {}),
    "real": lambda rng: ((np.array([1.0 + 2.0j, -0.5 + 0.3j]),), {}),
    "imag": lambda rng: ((np.array([1.0 + 2.0j, -0.5 + 0.3j]),), {}),
    "conj": lambda rng: ((np.array([1.0 + 2.0j, -0.5 + 0.3j]),), {}),
    "sinc": lambda rng: ((np.array([-1.3, 0.4, 0.0]),), {}),
    "sign": lambda rng: ((uniform(rng, -2, 2),), {}),
    "floor": lambda rng: ((uniform(rng, -2, 2),), {}),
    "ceil": lambda rng: ((uniform(rng, -2, 2),), {}),
    "rint": lambda rng: ((uniform(rng, -2, 2),), {}),
    "trunc": lambda rng: ((uniform(rng, -2, 2),), {}),
    "round": lambda rng: ((uniform(rng, -2, 2),), {"decimals": 1}),
    "lt": lambda rng: ((uniform(rng, -2, 2), uniform(rng, -2, 2)), {}),
    "le": lambda rng: ((uniform(rng, -2, 2), uniform(rng, -2, 2)), {}),
    "gt": lambda rng: ((uniform(rng, -2, 2), uniform(rng, -2, 2)), {}),
    "ge": lambda rng: ((uniform(rng, -2, 2), uniform(rng, -2, 2)), {}),
    "eq": lambda rng: ((uniform(rng, -2, 2), uniform(rng, -2, 2)), {}),
    "ne": lambda rng: ((uniform(rng, -2, 2), uniform(rng, -2, 2)), {}),
    "logical_and": lambda rng: ((np.array([True, False, True]), np.array([True, True, False])), {}),
    "logical_or": lambda rng: ((np.array([True, False, True]), np.array([True, True, False])), {}),
    "logical_xor": lambda rng: ((np.array([True, False, True]), np.array([True, True, False])), {}),
    "logical_not": lambda rng: ((np.array([True, False, True]),), {}),
    "isnan": lambda rng: ((np.array([1.0, np.nan, 2.0]),), {}),
    "isinf": lambda rng: ((np.array([1.0, np.inf, 2.0]),), {}),
    "isfinite": lambda rng: ((np.array([1.0, np.inf, 2.0]),), {}),
    "select": lambda rng: ((np.array([True, False, True]), uniform(rng, -2, 2), uniform(rng, -2, 2)), {}),
    "reshape": lambda rng: ((uniform(rng, -2, 2, (2, 3)),), {"new_shape": (3, 2)}),
    "transpose": lambda rng: ((uniform(rng, -2, 2, (2, 3, 4)),), {"permutation": (2, 0, 1)}),
    "broadcast_to": lambda rng: ((uniform(rng, -2, 2, (3, 1)),), {"shape": (2, 3, 4)}),
    "rev": lambda rng: ((uniform(rng, -2, 2, (2, 3)),), {"axes": (1,)}),
    "pad": lambda rng: ((uniform(rng, -2, 2, (2, 3)),), {"widths": ((1, 0), (2, 1))}),
    "convert_element_type": lambda rng: ((uniform(rng, -2, 2).astype(np.float32),),
                                         {"dtype": np.dtype(np.float64)}),
    "concatenate": lambda rng: ((uniform(rng, -2, 2, (2, 3)), uniform(rng, -2, 2, (1, 3))), {"axis": 0}),
    "reduce_sum": lambda rng: ((uniform(rng, -2, 2, (2, 3, 4)),), {"axes": (0, 2)}),
    "reduce_max": lambda rng: ((uniform(rng, -2, 2, (3, 4)),), {"axes": (1,)}),
    "reduce_min": lambda rng: ((uniform(rng, -2, 2, (3, 4)),), {"axes": (0,)}),
    "reduce_prod": lambda rng: ((np.array([[0.5, 0.0, 2.0], [1.5, -1.0, 0.7]]),), {"axes": (1,)}),
    "argmax": lambda rng: ((uniform(rng, -2, 2, (3, 4)),), {"axis": 1}),
    "argmin": lambda rng: ((uniform(rng, -2, 2, (3, 4)),), {"axis": 0}),
    "argsort": lambda rng: ((uniform(rng, -2, 2, (3, 4)),), {"axis": 1, "kind": "stable"}),
    "argpartition": lambda rng: ((uniform(rng, -2, 2, (5,)),), {"kth": 2, "axis": 0}),
    "cumsum": lambda rng: ((uniform(rng, -2, 2, (3, 4)),), {"axis": 1, "reverse": False}),
    "contract": lambda rng: ((uniform(rng, -2, 2, (2, 3, 4)), uniform(rng, -2, 2, (2, 4, 5))),
                             {"spec": "bij,bjk->kbi"}),
    "gather": _gather,
    "scatter_add": _scatter_add,
    "scatter": _scatter,
    "stop_gradient": lambda rng: ((uniform(rng, -2, 2),), {}),
    "solve": lambda rng: ((spd(rng, 3), uniform(rng, -2, 2, (3, 2))), {}),
    "inv": lambda rng: ((spd(rng, 3),), {}),
    "det": lambda rng: ((spd(rng, 3),), {}),
    "adjugate": lambda rng: ((uniform(rng, -2, 2, (3, 3)),), {}),
    "slogdet": lambda rng: ((spd(rng, 3),), {}),
    "cholesky": lambda rng: ((spd(rng, 3),), {}),
    "triangular_solve": lambda rng: ((np.tril(spd(rng, 3)), uniform(rng, -2, 2, (3, 2))), {"lower": True}),
    "eigh": lambda rng: ((np.diag([1.0, 2.0, 4.0]) + 0.1 * symmetric(uniform(rng, -1, 1, (3, 3))),), {}),

    # Special functions (chainrule.ops.special). Integer arguments are held fixed (differentiable in x only).
    "gammaln": lambda rng: ((uniform(rng, 0.5, 4),), {}),
    "polygamma": lambda rng: ((uniform(rng, 0.5, 4),), {"order": 1}),
    "gamma": lambda rng: ((uniform(rng, 0.5, 3),), {}),
    "rgamma": lambda rng: ((uniform(rng, -2.5, 3),), {}),
    "loggamma": lambda rng: ((uniform(rng, 0.5, 4),), {}),
    "betaln": lambda rng: ((uniform(rng, 0.5, 30), uniform(rng, 0.5, 4)), {}),
    "erf": lambda rng: ((uniform(rng, -2, 2),), {}),
    "erfc": lambda rng: ((uniform(rng, -2, 2),), {}),
    "erfinv": lambda rng: ((uniform(rng, -0.8, 0.8),), {}),
    "ndtri": lambda rng: ((uniform(rng, 0.05, 0.95),), {}),
    "erfcx": lambda rng: ((uniform(rng, -1, 3),), {}),
    "iv": lambda rng: ((uniform(rng, 0.5, 3),), {"order": 1.5}),
    "ive": lambda rng: ((uniform(rng, -3, 3),), {"order": 1.0}),
    "jv": lambda rng: ((uniform(rng, 0.5, 5),), {"order": 0.5}),
    "yv": lambda rng: ((uniform(rng, 0.5, 5),), {"order": 1.0}),
    "xlogy": lambda rng: ((uniform(rng, -2, 2), uniform(rng, 0.5, 3)), {}),
    "xlog1py": lambda rng: ((uniform(rng, -2, 2), uniform(rng, -0.5, 3)), {}),
    "zeta": lambda rng: ((np.array([2, 3, 4]), uniform(rng, 0.5, 3)), {}),
    "gammainc": lambda rng: ((np.array([1, 2, 5]), uniform(rng, 0.5, 4)), {}),
    "gammaincc": lambda rng: ((np.array([1, 2, 5]), uniform(rng, 0.5, 4)), {}),
    "betainc": lambda rng: ((np.array([1, 2, 5]), np.array([2, 3, 1]), uniform(rng, 0.2, 0.8)), {}),
    # Derivatives in the shape parameters: the shapes held fixed (their own derivatives have no closed form).
    "gammainc_derivative_a": lambda rng: ((np.array([1, 2, 5]), uniform(rng, 0.5, 4)), {}),
    "betainc_derivative_a": lambda rng: ((np.array([1, 2, 5]), np.array([2, 3, 1]), uniform(rng, 0.2, 0.8)), {}),
    "betainc_derivative_b": lambda rng: ((np.array([1, 2, 5]), np.array([2, 3, 1]), uniform(rng, 0.2, 0.8)), {}),

    # Fourier transforms over trailing axes; tests/test_fft.py checks the other kinds (ifft, rfft, irfft).
    "fft": lambda rng: ((uniform(rng, -2, 2, (2, 4)) + 1j * uniform(rng, -2, 2, (2, 4)),),
                        {"kind": "fft", "lengths": (4,)}),
    # Decompositions; tests/test_linalg_extras.py covers wide and square shapes too.
    "svd": lambda rng: ((np.diag([4.0, 2.0, 1.0, 0.0])[:, :3] + 0.1 * uniform(rng, -1, 1, (4, 3)),), {}),
    "qr": lambda rng: ((uniform(rng, -1, 1, (4, 3)),), {}),
    "lu": lambda rng: ((uniform(rng, -1, 1, (3, 3)),), {}),
    "lu_pivots_to_permutation": lambda rng: ((np.array([2, 2, 3, 3], dtype=np.int32),), {}),
    "sylvester": lambda rng: ((spd(rng, 3), np.array([[2.0, 0.3], [0.1, 1.5]]), uniform(rng, -1, 1, (3, 2))), {}),
    "sqrtm": lambda rng: ((spd(rng, 3),), {}),
    "expm": lambda rng: ((uniform(rng, -1, 1, (3, 3)),), {}),
    "eig": lambda rng: ((np.array([[1.0, 2.0, 0.0], [-2.0, 1.0, 0.5], [0.0, 0.3, 3.0]])
                         + 0.1 * uniform(rng, -1, 1, (3, 3)),), {}),
    # Control flow (chainrule.ops.control): bodies are staged graphs; tests/test_control.py covers the rest.
    "scan": _scan,
    "cond": lambda rng: ((np.array(1), uniform(rng, -1, 1), uniform(rng, -1, 1)), {"branches": _control_bodies()[1]}),
    "while_loop": _while_loop,
    "while_loop_vjp": _while_loop_vjp,
    "while_loop_vjp_transpose": _while_loop_vjp_transpose,
    "checkpointed_scan_vjp": _checkpointed_scan_vjp,
}


def seed(name):
    """The row's own seed: a function of its name only."""
    return zlib.crc32(name.encode())


def row(name):
    """(arguments, parameters) of one row, built alone: the same points it has in the full table."""
    return ROWS[name](np.random.default_rng(seed(name)))


def build_spec(names=None):
    """name -> (arguments, parameters) for ``names`` (default: every row), freshly built."""
    return {name: row(name) for name in (ROWS if names is None else names)}


SPEC = build_spec()
