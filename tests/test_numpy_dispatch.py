"""The NumPy front decides traced-or-plain in one place: ``is_traced`` (the predicate) and ``numpy_when_untraced``
(the decorator that calls NumPy's or SciPy's own function when nothing is traced)."""
import ast
import inspect
import pathlib
import sys

import numpy
import pytest
import scipy.special

import chainrule as cr
import chainrule.numpy as np
import chainrule.scipy.linalg
import chainrule.scipy.signal
import chainrule.scipy.special as sp
from chainrule.numpy.arrays import numpy_when_untraced

SOURCE = pathlib.Path(cr.__file__).parent


def _front_modules():
    return [module for name, module in sorted(sys.modules.items())
            if name.startswith(("chainrule.numpy", "chainrule.scipy")) and module is not None]


def _decorated():
    """(qualified name, function, numpy_function) for every function of the front built with the decorator."""
    found = {}
    for module in _front_modules():
        for function in vars(module).values():
            numpy_function = getattr(function, "numpy_function", None)
            if numpy_function is not None and function.__module__ == module.__name__:
                found[f"{function.__module__}.{function.__name__}"] = (function, numpy_function)
    return sorted((name, function, numpy_function) for name, (function, numpy_function) in found.items())


def test_the_decision_lives_in_one_place():
    # Outside arrays.py nothing tests for Tracer by hand: functions use the decorator, or is_traced where one
    # argument decides. methods.py names the class only to install the array behaviour on it.
    for path in sorted([*(SOURCE / "numpy").glob("*.py"), *(SOURCE / "scipy").glob("*.py")]):
        tree = ast.parse(path.read_text())
        names = {node.id for node in ast.walk(tree) if isinstance(node, ast.Name)}
        if path.name not in ("arrays.py", "methods.py"):
            assert "Tracer" not in names, f"{path.name} tests for Tracer itself; use is_traced or numpy_when_untraced"
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ("isinstance",
                                                                                                   "hasattr"):
                text = ast.unparse(node)
                assert "Tracer" not in text or path.name == "arrays.py", f"{path.name}: {text}"
                assert "aval" not in text, f"{path.name}: {text}"
            if isinstance(node, ast.FunctionDef):
                assert node.name not in ("_unary", "_traced_anywhere", "_numpy_when_plain"), path.name


def test_decorated_functions_keep_their_docstrings_and_names():
    decorated = _decorated()
    assert len(decorated) > 150
    for name, function, _ in decorated:
        assert function.__name__ == name.rsplit(".", 1)[1]
        assert function.__doc__ and ">>>" in function.__doc__, name  # the doctests stay on the function
        assert inspect.signature(function) == inspect.signature(function.__wrapped__)


_P = inspect.Parameter


@pytest.mark.parametrize("name, function, numpy_function", _decorated(), ids=[row[0] for row in _decorated()])
def test_numpy_function_takes_the_front_arguments_to_mean_the_same(name, function, numpy_function):
    # Plain calls go to numpy_function with the front's arguments as given, so each front parameter must sit
    # at NumPy's position with NumPy's default (keywords for ufunc inputs are moved to their positions by the
    # decorator, and calls the front's signature rejects never reach NumPy). Where this does not hold, the
    # front passes an adapter with its own signature instead (a function of chainrule's).
    if (getattr(numpy_function, "__module__", None) or "").startswith("chainrule"):
        assert inspect.signature(numpy_function) == inspect.signature(function), f"{name}: adapter's signature"
        return
    try:
        theirs = inspect.signature(numpy_function)
    except ValueError:
        pytest.skip(f"this NumPy gives no signature for {name}'s numpy_function")
    their_parameters = list(theirs.parameters.values())
    for index, ours in enumerate(inspect.signature(function).parameters.values()):
        if ours.kind is _P.POSITIONAL_OR_KEYWORD:
            their = their_parameters[index]
            assert their.kind in (_P.POSITIONAL_ONLY, _P.POSITIONAL_OR_KEYWORD), (name, ours, their)
            assert their.kind is _P.POSITIONAL_ONLY or their.name == ours.name, (name, ours, their)
            if ours.default is not _P.empty:
                assert repr(ours.default) == repr(their.default), (name, ours, their)
        elif ours.kind is _P.VAR_POSITIONAL:
            assert their_parameters[index].kind is _P.VAR_POSITIONAL, (name, ours)
        elif ours.kind is _P.KEYWORD_ONLY:
            their = theirs.parameters.get(ours.name)
            assert their is not None and repr(their.default) == repr(ours.default), (name, ours, their)


def test_plain_inputs_call_the_numpy_function_with_the_arguments_as_given():
    calls = []

    def numpy_function(*args, **kwargs):
        calls.append((args, kwargs))
        return "numpy"

    @numpy_when_untraced(numpy_function)
    def f(a, b=None, *, c=1):
        return "traced"

    assert f(1.0, [2.0, (3.0,)], c=4) == "numpy"
    assert calls == [((1.0, [2.0, (3.0,)]), {"c": 4})]

    def traced(x):
        assert f(x) == "traced"
        return x
    cr.grad(traced)(1.0)
    assert len(calls) == 1


@pytest.mark.parametrize("call", [
    lambda x: (x,), lambda x: (1.0, x), lambda x: ([1.0, x],), lambda x: ([[1.0], (2.0, x)],),
    lambda x: (1.0, {"b": x}), lambda x: (1.0, {"b": [x]}),
])
def test_a_traced_value_anywhere_in_the_arguments_takes_the_traced_implementation(call):
    @numpy_when_untraced(lambda a, b=None: "numpy")
    def f(a, b=None):
        return "traced"

    def run(x):
        args = call(x)
        kwargs = args[-1] if isinstance(args[-1], dict) else {}
        args = args[:-1] if kwargs else args
        assert f(*args, **kwargs) == "traced"
        assert np.is_traced(*args, *kwargs.values())
        return x

    cr.grad(run)(1.0)


def test_calls_the_front_signature_rejects_raise_its_error_on_plain_inputs_too():
    v = numpy.ones(3)
    for call, message in [(lambda: np.take(v, 1, mode="clip"), "unexpected keyword argument 'mode'"),
                          (lambda: np.sum(v, out=None), "unexpected keyword argument 'out'"),
                          (lambda: np.take(v, 1, 0, None), "positional arguments but 4 were given"),
                          (lambda: np.take(v), "missing 1 required positional argument: 'indices'"),
                          (lambda: sp.erf(1.0, None), "takes 1 positional argument but 2 were given"),
                          (lambda: np.take_along_axis(v, numpy.zeros(1, int)), "missing 1 required positional")]:
        with pytest.raises(TypeError, match=message):
            call()


def test_front_parameters_may_come_by_keyword_where_numpy_takes_them_by_position():
    m, v = numpy.array([[2.0, 1.0], [1.0, 3.0]]), numpy.array([0.5, 1.5])
    assert numpy.array_equal(np.matmul(x1=m, x2=v), numpy.matmul(m, v))
    assert np.inner(b=v, a=m).tolist() == numpy.inner(m, v).tolist()
    assert numpy.array_equal(np.linalg.cholesky(a=m), numpy.linalg.cholesky(m))
    assert sp.iv(v=1, x=2.0) == sp.iv(1, 2.0)
    assert sp.erf(x=0.5) == sp.erf(0.5)


def test_plain_results_are_numpys_exactly():
    x = numpy.arange(6.0).reshape(2, 3) / 7
    for ours, theirs in [(np.sum(x), numpy.sum(x)), (np.sum(x, 0, None, True), numpy.sum(x, 0, keepdims=True)),
                         (np.reshape(x, (3, 2)), numpy.reshape(x, (3, 2))), (np.mean([1, 2]), numpy.mean([1, 2])),
                         (np.einsum("ij,kj->ik", x, x), numpy.einsum("ij,kj->ik", x, x, optimize=True)),
                         (np.float_power(2, 3), numpy.float_power(2, 3)),
                         (sp.gammaln(x), scipy.special.gammaln(x)), (sp.erf(x=0.5), scipy.special.erf(0.5))]:
        assert type(ours) is type(theirs)
        assert numpy.asarray(ours).dtype == numpy.asarray(theirs).dtype
        assert numpy.array_equal(ours, theirs)


def test_any_iterable_of_arrays_may_be_joined_as_before():
    v = numpy.array([1.0, 2.0])
    assert np.concatenate(a for a in [v, v]).tolist() == [1.0, 2.0, 1.0, 2.0]
    assert np.stack(a for a in [v, v]).shape == (2, 2)
    assert np.vstack(a for a in [v, v]).shape == (2, 2)
    grad = cr.grad(lambda x: np.sum(np.concatenate(a for a in [x, 2.0 * x])))(v)
    assert grad.tolist() == [3.0, 3.0]
    grad = cr.grad(lambda x: np.sum(np.stack(a for a in [x, 2.0 * x]) ** 2))(v)
    assert grad.tolist() == [10.0, 20.0]


def test_lists_of_traced_values_are_read_as_arrays():
    assert float(cr.grad(lambda x: np.sum([x, 2.0 * x]))(1.0)) == 3.0
    assert float(cr.grad(lambda x: np.sum(np.reshape([x, x, x, x], (2, 2)) * 2.0))(1.0)) == 8.0
    assert float(cr.grad(lambda x: np.sum(np.concatenate([[x], [3.0 * x]])))(1.0)) == 4.0
    assert float(cr.grad(lambda x: np.max(np.transpose([[x, 1.0], [2.0, 0.5]])))(3.0)) == 1.0
    assert np.shape(np.copy([1.0, 2.0])) == (2,)

    def shaped(x):
        assert np.shape([x, x]) == (2,) and np.ndim([[x]]) == 2
        return x
    cr.grad(shaped)(1.0)
