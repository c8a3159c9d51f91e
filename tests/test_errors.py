"""Bad input gets a clear error, never a wrong number; and the engine stays sound under misuse:
exceptions, threads, repeated calls, nested transforms."""
import os
import subprocess
import sys
import threading
import tracemalloc

import numpy as onp
import pytest

import chainrule as cr
import chainrule.numpy as cnp
from chainrule.core.interpreter import interpreter_depth


@pytest.fixture(autouse=True)
def _no_interpreter_left():
    assert interpreter_depth() == 0
    yield
    assert interpreter_depth() == 0


# ------------------------------------------------------------------------------------------ dtypes

TRANSFORMS_OF_ONE_ARGUMENT = {
    "grad": lambda f, x: cr.grad(f)(x),
    "value_and_grad": lambda f, x: cr.value_and_grad(f)(x),
    "jacfwd": lambda f, x: cr.jacfwd(f)(x),
    "jacrev": lambda f, x: cr.jacrev(f)(x),
    "jacobian": lambda f, x: cr.jacobian(f)(x),
    "hessian": lambda f, x: cr.hessian(f)(x),
    "jvp": lambda f, x: cr.jvp(f, (x,), (x,)),
    "vjp": lambda f, x: cr.vjp(f, x),
    "linearize": lambda f, x: cr.linearize(f, x),
    "hvp": lambda f, x: cr.hvp(f, (x,), (x,)),
}


@pytest.mark.parametrize("transform", sorted(TRANSFORMS_OF_ONE_ARGUMENT))
@pytest.mark.parametrize("value,dtype", [(3, "int64"), (True, "bool"), (onp.arange(3), "int64"),
                                         (onp.array([True, False]), "bool"), (onp.int32(2), "int32")])
def test_integer_and_boolean_arguments_are_refused(transform, value, dtype):
    with pytest.raises(TypeError) as info:
        TRANSFORMS_OF_ONE_ARGUMENT[transform](lambda x: cnp.sum(x * 1.0), value)
    message = str(info.value)
    assert "argument 0" in message and dtype in message


def test_the_refused_argument_is_named():
    with pytest.raises(TypeError, match=r"argument 1\b.*int64"):
        cr.grad(lambda x, n: x * n, argnums=(0, 1))(1.0, 2)
    with pytest.raises(TypeError, match=r"argument 0 \(leaf 1 of its pytree\).*int64"):
        cr.grad(lambda p: p["a"] * p["b"])({"a": 1.0, "b": 2})
    # leaving the integer out of argnums works
    assert float(cr.grad(lambda x, n: x * n)(1.5, 2)) == 2.0


# ------------------------------------------------------------------------------------------ output shapes

@pytest.mark.parametrize("make", [lambda f: cr.grad(f), lambda f: cr.value_and_grad(f)])
def test_grad_of_a_non_scalar_names_the_shape_and_the_alternatives(make):
    with pytest.raises(TypeError) as info:
        make(lambda x: x * 2.0)(onp.ones((2, 3)))
    message = str(info.value)
    assert "(2, 3)" in message and "jacrev" in message and "vjp" in message


def test_grad_of_several_outputs_points_to_jacrev():
    with pytest.raises(TypeError, match="jacrev"):
        cr.grad(lambda x: (x, x))(1.0)


def test_grad_of_an_integer_output_is_refused():
    with pytest.raises(TypeError, match="int"):
        cr.grad(lambda x: cnp.argmax(x))(onp.array([1.0, 2.0]))


# ------------------------------------------------------------------------------------------ concretization

@pytest.mark.parametrize("convert", [float, int, complex, lambda x: x.item(), lambda x: x.tolist(),
                                     lambda x: onp.asarray(x), lambda x: [0, 1, 2][x]],
                         ids=["float", "int", "complex", "item", "tolist", "asarray", "index"])
@pytest.mark.parametrize("transform", ["grad", "jvp", "jacfwd", "hessian"])
def test_converting_a_tracer_to_a_python_number_says_why_and_offers_stop_gradient(convert, transform):
    function = lambda x: convert(x) * x
    run = {"grad": lambda: cr.grad(function)(1.5), "jvp": lambda: cr.jvp(function, (1.5,), (1.0,)),
           "jacfwd": lambda: cr.jacfwd(function)(1.5), "hessian": lambda: cr.hessian(function)(1.5)}[transform]
    with pytest.raises(TypeError) as info:
        run()
    message = str(info.value)
    assert "stop_gradient" in message and "derivative" in message
    assert isinstance(info.value, cr.ConcretizationError)


def test_stop_gradient_then_float_is_allowed_where_it_is_meant():
    def f(x):
        scale = cr.stop_gradient(x)  # still traced by grad, with zero derivative
        return x * x * (2.0 if scale > 1.0 else 3.0)

    assert float(cr.grad(f)(1.5)) == 6.0
    assert float(cr.grad(f)(0.5)) == 3.0


def test_bool_of_a_tracer_drives_python_control_flow():
    def f(x):
        while x < 10.0:
            x = x * 2.0
        if x > 15.0 and not bool(x > 100.0):
            return x * x
        return -x

    for transform in (cr.grad, cr.jacfwd, cr.jacrev):
        assert float(transform(f)(4.0)) == 128.0  # 4 -> 16 = 4x, then (4x)^2 = 16x^2
        assert float(transform(f)(3.0)) == -4.0   # 3 -> 12 = 4x, then -4x
    assert float(cr.grad(cr.grad(f))(4.0)) == 32.0


# ------------------------------------------------------------------------------------------ shape errors

SHAPE_ERRORS = {
    "add": (lambda x: x + onp.ones(4), ["add", "(3,)", "(4,)"]),
    "multiply": (lambda x: cnp.multiply(x, onp.ones((2, 2))), ["mul", "(3,)", "(2, 2)"]),
    "matmul": (lambda x: x @ onp.ones((4, 2)), ["matmul", "(3,)", "(4, 2)"]),
    "dot": (lambda x: cnp.dot(x, onp.ones(2)), ["(3,)", "(2,)"]),
    "reshape": (lambda x: cnp.reshape(x, (4,)), ["reshape", "3", "(4,)"]),
    "concatenate": (lambda x: cnp.concatenate([x, onp.ones((2, 2))]), ["concatenate", "(3,)"]),
    "stack": (lambda x: cnp.stack([x, onp.ones(2)]), ["(2,)", "(3,)"]),
    "einsum": (lambda x: cnp.einsum("i,i->", x, onp.ones(2)), ["einsum", "3", "2"]),
    "solve": (lambda x: cnp.linalg.solve(onp.eye(2), x), ["solve", "(3,)"]),
    "where": (lambda x: cnp.where(onp.ones(4) > 0, x, 0.0), ["(4,)", "(3,)"]),
    "broadcast_to": (lambda x: cnp.broadcast_to(x, (2, 4)), ["(3,)", "(2, 4)"]),
    "setitem": (lambda x: x.__setitem__(slice(0, 2), onp.ones(3)), ["(3,)", "(2,)"]),
}


@pytest.mark.parametrize("name", sorted(SHAPE_ERRORS))
def test_shape_errors_name_the_operation_and_the_shapes(name):
    function, fragments = SHAPE_ERRORS[name]
    with pytest.raises(ValueError) as info:
        cr.grad(lambda x: cnp.sum(function(x)))(onp.ones(3))
    message = str(info.value)
    for fragment in fragments:
        assert fragment in message, (fragment, message)


def test_axis_and_index_errors():
    with pytest.raises(onp.exceptions.AxisError, match="axis 2"):
        cr.grad(lambda x: cnp.sum(x, axis=2))(onp.ones(3))
    with pytest.raises(IndexError, match="out of bounds"):
        cr.grad(lambda x: x[5])(onp.ones(3))


# ------------------------------------------------------------------------------------------ debug_nans

@pytest.fixture
def debug_nans():
    previous = cr.config.debug_nans
    cr.config.debug_nans = True
    yield
    cr.config.debug_nans = previous


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_debug_nans_forward_pass_names_the_primitive(debug_nans):
    with pytest.raises(FloatingPointError, match=r"'log'.*forward"):
        cr.grad(lambda x: cnp.sum(cnp.log(x)))(onp.array([-1.0, 1.0]))
    with pytest.raises(FloatingPointError, match=r"'sqrt'.*forward"):
        cr.jvp(lambda x: cnp.sqrt(x - 2.0), (1.0,), (1.0,))
    with pytest.raises(FloatingPointError, match="'log'"):
        cnp.log(-1.0)  # outside any transform too


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_debug_nans_backward_pass_names_the_primitive(debug_nans):
    # sqrt'(0) = inf meets the zero cotangent of the unselected branch: inf * 0 = NaN in sqrt's pullback
    with pytest.raises(FloatingPointError, match=r"backward pass of 'sqrt'"):
        cr.grad(lambda x: cnp.sum(cnp.where(x > 0, cnp.sqrt(x), 0.0)))(onp.array([0.0, 1.0]))


def test_debug_nans_off_gives_nan_and_on_stays_quiet_for_finite_values(debug_nans):
    assert float(cr.grad(lambda x: cnp.sum(cnp.log(x)))(onp.array([2.0, 1.0]))[0]) == 0.5
    cr.config.debug_nans = False
    with onp.errstate(all="ignore"):
        assert onp.isnan(cr.grad(lambda x: cnp.sum(cnp.log(x) * 0.0 + cnp.sqrt(x)))(onp.array([-1.0]))).all()


@pytest.mark.parametrize("value,expected", [("1", 1), ("0", 0)])
def test_debug_nans_environment_variable(value, expected):
    script = (
        "import warnings, numpy, chainrule as cr, chainrule.numpy as np\n"
        "warnings.simplefilter('ignore')\n"
        "try:\n"
        "    cr.grad(lambda x: np.log(x))(-1.0)\n"
        "except FloatingPointError as error:\n"
        "    assert \"'log'\" in str(error), error\n"
        "    raise SystemExit(1)\n"
        "raise SystemExit(0)\n")
    environment = dict(os.environ, CHAINRULE_DEBUG_NANS=value)
    result = subprocess.run([sys.executable, "-c", script], env=environment, capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == expected, result.stderr


# ------------------------------------------------------------------------------------------ soundness

class Boom(Exception):
    pass


def _explode(x):
    y = cnp.sin(x) * 2.0
    if y is not None:
        raise Boom("inside the transformed function")
    return y


@pytest.mark.parametrize("run", [
    lambda: cr.grad(_explode)(1.0),
    lambda: cr.jvp(_explode, (1.0,), (1.0,)),
    lambda: cr.jacfwd(_explode)(onp.ones(2)),
    lambda: cr.hessian(_explode)(1.0),
    lambda: cr.grad(lambda x: cr.jvp(_explode, (x,), (1.0,))[1])(1.0),
    lambda: cr.jvp(lambda x: cr.grad(lambda y: cr.grad(_explode)(y * x))(x), (1.0,), (1.0,)),
    lambda: cr.vjp(_explode, 1.0),
    lambda: cr.hvp(_explode, (1.0,), (1.0,)),
], ids=["grad", "jvp", "jacfwd", "hessian", "rev_over_fwd", "fwd_rev_rev", "vjp", "hvp"])
def test_an_exception_leaves_no_interpreter_behind(run):
    with pytest.raises(Boom):
        run()
    assert interpreter_depth() == 0
    assert float(cr.grad(lambda x: x * x)(3.0)) == 6.0  # the engine still works


def test_an_exception_in_a_pullback_leaves_no_interpreter_behind():
    def double(x):
        return x * 2.0

    f = cr.custom_vjp(double)

    def forward(x):
        return double(x), None

    def backward(residual, cotangent):
        raise Boom("in the backward pass")

    f.defvjp(forward, backward)
    with pytest.raises(Boom):
        cr.grad(lambda x: f(x) * x)(1.0)
    assert interpreter_depth() == 0


def test_a_tracer_that_escapes_is_caught():
    leaked = []
    cr.grad(lambda x: (leaked.append(x), x * 1.0)[1])(1.0)
    with pytest.raises(cr.EscapedTracerError, match="escaped"):
        leaked[0] * 2.0


def test_threads_never_see_each_others_tracers():
    barrier = threading.Barrier(4)
    errors, results = [], {}
    depths = {}  # the interpreter depth each transform shows inside f, measured alone in this thread

    def probe(name):
        return lambda x: (depths.setdefault(name, interpreter_depth()), cnp.sum(x * x))[1]

    cr.grad(probe("grad"))(onp.ones(2))
    cr.hessian(probe("hessian"))(onp.ones(2))

    def work(seed):
        try:
            rng = onp.random.default_rng(seed)
            x = rng.standard_normal(5)

            def f(x):
                total = 0.0
                for k in range(30):  # many small steps, so the threads interleave
                    depth = interpreter_depth()
                    assert depth == f.expected_depth, (depth, f.expected_depth)
                    total = total + cnp.sum(cnp.sin(x * (k + seed)))
                return total

            barrier.wait()
            for _ in range(5):
                f.expected_depth = depths["grad"]
                gradient = cr.grad(f)(x)
                f.expected_depth = depths["hessian"]
                hessian = cr.hessian(f)(x)
            ks = onp.arange(30) + seed
            expected_gradient = (onp.cos(onp.outer(ks, x)) * ks[:, None]).sum(axis=0)
            expected_hessian = onp.diag((-onp.sin(onp.outer(ks, x)) * ks[:, None] ** 2).sum(axis=0))
            results[seed] = (onp.allclose(gradient, expected_gradient, rtol=1e-12),
                             onp.allclose(hessian, expected_hessian, rtol=1e-12))
            assert interpreter_depth() == 0
        except Exception as error:  # reported below, in the main thread
            errors.append((seed, repr(error)))

    threads = [threading.Thread(target=work, args=(seed,)) for seed in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors
    assert results == {seed: (True, True) for seed in range(4)}


def test_repeated_grad_calls_do_not_leak_memory():
    gradient = cr.grad(lambda x: cnp.sum(cnp.sin(x) * x) * x[0])
    x = onp.linspace(0.0, 1.0, 10)
    for _ in range(500):  # warm caches
        gradient(x)
    tracemalloc.start()
    try:
        for _ in range(1000):
            gradient(x)
        before = tracemalloc.get_traced_memory()[0]
        for _ in range(10000):
            gradient(x)
        after = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    # one recorded tape is several kB; 10000 kept tapes would be far above this bound
    assert after - before < 100_000, (before, after)


# ------------------------------------------------------------------------------------------ perturbation confusion

def _forward_derivative(function):
    return lambda x: cr.jvp(function, (x,), (1.0,))[1]


def _reverse_derivative(function):
    return cr.grad(function)


def _linearized_derivative(function):
    return lambda x: cr.linearize(function, x)[1](1.0)


def _vjp_derivative(function):
    return lambda x: cr.vjp(function, x)[1](1.0)[0]


DERIVATIVES = {"fwd": _forward_derivative, "rev": _reverse_derivative, "linearize": _linearized_derivative,
               "vjp": _vjp_derivative, "jacfwd": cr.jacfwd, "jacrev": cr.jacrev}


@pytest.mark.parametrize("outer", sorted(DERIVATIVES))
@pytest.mark.parametrize("inner", sorted(DERIVATIVES))
def test_nested_derivatives_never_confuse_perturbations(outer, inner):
    D, d = DERIVATIVES[outer], DERIVATIVES[inner]
    # d/dx [x * d/dy (x + y)] = d/dx [x] = 1 (a confused implementation gives 2)
    assert float(D(lambda x: x * d(lambda y: x + y)(1.0))(1.0)) == 1.0
    # d/dx [x * d/dy (x * y)|y=2] = d/dx [x^2] = 2x
    assert float(D(lambda x: x * d(lambda y: x * y)(2.0))(3.0)) == 6.0
    # the inner derivative closes over x and is evaluated at a point depending on x
    assert float(D(lambda x: d(lambda y: x * y * y)(x))(1.5)) == 4.0 * 1.5  # d/dx [2 x^2]
    # three levels
    third = D(lambda x: d(lambda y: DERIVATIVES[outer](lambda z: x * y * z)(1.0) * y)(x))(2.0)
    assert float(third) == 4.0 * 2.0  # d/dx [2 x^2]: D_z(xyz) = xy, times y, d/dy at y = x


# ------------------------------------------------------------------- messages from the correctness sweep

def test_unclear_messages_now_name_the_argument_and_the_fix():
    with pytest.raises(TypeError, match="argnums must be an int or a tuple of ints.*0.0"):
        cr.grad(lambda x: x, argnums=0.0)(1.0)
    with pytest.raises(TypeError, match="tangent 0 is complex, but its primal is real"):
        cr.jvp(lambda x: x * 2.0, (1.0,), (1j,))
    with pytest.raises(ValueError, match="out_axes 3 is out of range for output leaf 0"):
        cr.vmap(lambda x: x, out_axes=3)(onp.ones((2, 2)))
    with pytest.raises(TypeError, match="hvp: .* must return a scalar"):
        cr.hvp(lambda x: x * 2.0, (onp.ones(2),), (onp.ones(2),))
