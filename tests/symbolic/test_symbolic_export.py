"""chainrule.symbolic: formulas from derivative graphs, the one bidirectional table, from_sympy."""
import importlib.util
import pathlib

import numpy as np
import pytest
import sympy

import chainrule as cr
import chainrule.numpy as cnp
from chainrule import symbolic
from chainrule.ops import all_primitives
from chainrule.symbolic.table import REFUSED, TABLE


def _spec():
    path = pathlib.Path(__file__).resolve().parents[1] / "export" / "primitive_cases.py"
    loader = importlib.util.spec_from_file_location("primitive_cases_for_symbolic", path)
    module = importlib.util.module_from_spec(loader)
    loader.loader.exec_module(module)
    return module


def lecture(x1, x2):
    return (cnp.sin(x1 / x2) + (x1 / x2 - cnp.exp(x2))) * (x1 / x2 - cnp.exp(x2))


x, y = sympy.symbols("x y", real=True)


def test_sin_of_square_prints_nicely():
    assert str(symbolic.formula(lambda t: cnp.sin(t ** 2), "x")) == "sin(x**2)"
    derivative = symbolic.derivative(lambda t: cnp.sin(t ** 2), "x", simplify=True)
    assert sympy.simplify(derivative - 2 * x * sympy.cos(x ** 2)) == 0
    assert str(derivative) == "2*x*cos(x**2)"
    assert derivative.subs(x, 2) == 4 * sympy.cos(4)


def test_lecture_gradient_values():
    pair = symbolic.gradient(lecture, "x1 x2")
    values = symbolic.evaluate(pair, "x1 x2", [1.5, 0.5])
    assert values == pytest.approx([3.011843, -13.723962], abs=5e-7)
    ad = [float(g) for g in cr.grad(lecture, argnums=(0, 1))(1.5, 0.5)]
    assert values == pytest.approx(ad, rel=1e-13)


def test_shared_values_stay_shared():
    def nested(t):
        for _ in range(40):
            t = cnp.sin(t)
        return t
    pair = symbolic.gradient(nested, "x")
    assert symbolic.count_operations(pair) <= 3 * symbolic.count_operations(symbolic.formula(nested, "x"))
    value = symbolic.evaluate(pair, "x", [0.7])[0]
    assert value == pytest.approx(float(cr.grad(nested)(0.7)), rel=1e-13)


def test_hessian_matches_ad():
    def log_sum_exp(*xs):
        return cnp.log(sum(cnp.exp(v) for v in xs))
    names = "a b c d"
    point = [0.1, -0.4, 0.8, 0.3]
    pair = symbolic.hessian(log_sum_exp, names)
    matrix = np.asarray(symbolic.lambdify(pair, names)(*point)[0], dtype=float)
    expected = np.asarray(cr.hessian(log_sum_exp, argnums=(0, 1, 2, 3))(*point), dtype=float)
    np.testing.assert_allclose(matrix, expected, rtol=1e-13, atol=1e-15)
    simplified = symbolic.hessian(lambda a, b: a ** 2 * b, "x y", simplify=True)
    assert simplified == sympy.Matrix([[2 * y, 2 * x], [2 * x, 0]])


def test_from_sympy_gives_a_differentiable_function():
    f = symbolic.from_sympy(sympy.sin(x ** 2) * sympy.exp(-y) / (1 + x ** 2), [x, y])
    got = [float(g) for g in cr.grad(f, argnums=(0, 1))(0.7, 0.2)]
    exact = [float(sympy.diff(sympy.sin(x ** 2) * sympy.exp(-y) / (1 + x ** 2), v).subs({x: 0.7, y: 0.2}))
             for v in (x, y)]
    assert got == pytest.approx(exact, rel=1e-13)
    table = cr.explain(f, 0.7, 0.2)
    assert float(table.value) == pytest.approx(float(f(0.7, 0.2)), rel=1e-15)


def test_from_sympy_accepts_a_shared_pair():
    pair = symbolic.gradient(lecture, "x1 x2")
    gradient = symbolic.from_sympy(pair, "x1 x2")
    assert [float(v) for v in gradient(1.5, 0.5)] == pytest.approx([3.011843, -13.723962], abs=5e-7)


def test_from_sympy_refuses_unknown_functions_and_symbols():
    with pytest.raises(symbolic.SymbolicError, match="besselj has no chainrule primitive"):
        symbolic.from_sympy(sympy.besselj(0, x), [x])
    with pytest.raises(symbolic.SymbolicError, match="the symbol y is not among the arguments"):
        symbolic.from_sympy(x + y, [x])


def _head_arity(row, head):
    """Operands of a primitive not yet in the spec table: the fewest that SymPy's head accepts."""
    for count in (1, 2, 3):
        try:
            if row.build(sympy, *sympy.symbols("p q r", real=True)[:count]).func is head:
                return count
        except TypeError:
            continue
    raise AssertionError(f"no arity of {head} works")


def test_table_heads_are_one_to_one():
    heads = [row.head for row in TABLE.values() if row.head is not None]
    assert len(heads) == len(set(heads))
    spec = _spec().load_spec()
    for primitive, row in TABLE.items():
        if row.head is None:
            continue
        name = primitive.name
        head = getattr(sympy, row.head)
        arity = len(spec[name][0]) if name in spec else _head_arity(row, head)
        logical = name.startswith("logical")
        complex_valued = name in ("real", "imag", "conj")  # of a real symbol these are trivial
        arity = 1 if complex_valued else arity
        symbols = sympy.symbols("p q r", real=not complex_valued)[:arity]
        arguments = [sympy.Symbol(s.name) for s in symbols] if logical else list(symbols)
        if name == "select":
            arguments = [symbols[0] > 0, symbols[1], symbols[2]]
        # SymPy -> primitive: the staged function holds exactly that primitive.
        expression = row.build(sympy, *arguments)
        assert expression.func is head, name
        inputs = [s for s in arguments if isinstance(s, sympy.Symbol)]
        inputs = inputs if name != "select" else list(symbols)
        function = symbolic.from_sympy(expression, inputs)
        example = [np.array([True, False]) if logical else (0.6 + 0.2j if complex_valued else 0.6 + 0.1 * k)
                   for k in range(len(inputs))]
        graph = cr.make_graph(function)(*example)
        assert primitive in [e.primitive for e in graph.equations], name
        # primitive -> SymPy: exporting that primitive gives that head back.
        staged = cr.make_graph(lambda *a: primitive(*a))(*(
            [np.array(True)] * arity if logical else
            [np.array(True), 0.5, 0.25] if name == "select" else [0.5 + 0.5j] if complex_valued else [0.5] * arity))
        _, outputs = symbolic.graph_to_sympy(staged, list(sympy.symbols("a b c", real=not complex_valued)[:arity]),
                                             shared=False)
        assert outputs[0].func is head or name == "select", name


def test_every_primitive_has_a_row_or_a_reason():
    """TABLE and REFUSED are keyed by primitive: a primitive in neither is an error here, never a silent
    fallback at export time. Call primitives (calls_function) are inlined by graph_to_sympy, not rows."""
    primitives = set(all_primitives().values())
    missing = sorted(p.name for p in primitives - set(TABLE) - set(REFUSED))
    assert not missing, f"primitives with neither a SymPy row nor a stated reason: {missing}"
    assert not set(TABLE) & set(REFUSED)
    assert set(TABLE) | set(REFUSED) <= primitives  # rows of primitives that no longer exist


def test_call_primitives_are_inlined():
    block = cr.checkpoint(lambda t: cnp.sin(t) * 2.0)
    assert symbolic.formula(lambda t: block(t) + t, "x") == 2 * sympy.sin(x) + x


def test_every_primitive_is_exported_or_refused():
    cases = _spec()
    spec = cases.load_spec()
    for name in sorted(spec):
        function, args = cases.staged_case(name, spec)
        graph = cr.make_graph(function)(*args)
        inputs = []
        for k, arg in enumerate(args):
            array = np.asarray(arg)
            if array.dtype.kind in "iub":  # index operands and masks stay numbers
                inputs.append(array)
            else:
                symbols = np.empty(array.shape, dtype=object)
                for index in np.ndindex(*array.shape):
                    symbols[index] = sympy.Symbol(f"a{k}_{'_'.join(map(str, index))}",
                                                  real=array.dtype.kind != "c")
                inputs.append(symbols if array.ndim else symbols.item())
        if all_primitives()[name] in REFUSED:
            with pytest.raises(symbolic.SymbolicError, match=f"'{name}'"):
                symbolic.graph_to_sympy(graph, inputs)
            continue
        _, outputs = symbolic.graph_to_sympy(graph, inputs, shared=False)
        value = outputs[0]
        substitution = {}
        for symbols, arg in zip(inputs, args):
            if isinstance(symbols, np.ndarray) and symbols.dtype == object:
                for index in np.ndindex(*symbols.shape):
                    substitution[symbols[index]] = sympy.sympify(complex(np.asarray(arg)[index]))
            elif isinstance(symbols, sympy.Symbol):
                substitution[symbols] = sympy.sympify(complex(arg))
        expected = np.asarray(all_primitives()[name].impl(*args, **spec[name][1]))
        def number(expression):
            substituted = sympy.sympify(expression).xreplace(substitution)
            if substituted.is_Boolean:
                return float(bool(substituted))
            return complex(substituted.evalf())

        evaluated = np.vectorize(number, otypes=[complex])(np.asarray(value, dtype=object))
        np.testing.assert_allclose(evaluated, expected.astype(complex), rtol=1e-10, atol=1e-12, err_msg=name)


def _nested_sines(t, depth=40):
    for _ in range(depth):
        t = cnp.sin(t)
    return t


def test_forty_chains_gradient_stays_small_and_equals_ad():
    names = [f"x{k}" for k in range(40)]

    def chains(*xs):
        return sum(_nested_sines(v) for v in xs)

    pair = symbolic.gradient(chains, names)
    assert symbolic.count_operations(pair) <= 3 * symbolic.count_operations(symbolic.formula(chains, names))
    point = list(np.random.default_rng(0).uniform(-1, 1, len(names)))
    values = symbolic.evaluate(pair, names, point)
    expected = [float(g) for g in cr.grad(chains, argnums=tuple(range(len(names))))(*point)]
    np.testing.assert_allclose(values, expected, rtol=1e-13, atol=0)


def _no_shortcuts(monkeypatch):
    from chainrule.symbolic import convert
    monkeypatch.setattr(convert._Shortcuts, "build", lambda self, equation, env, uses: None)


def _many_heads(a, b):
    smooth = cnp.sin(cnp.cos(a)) * cnp.tan(b) * cnp.exp(a) * cnp.tanh(cnp.sinh(b)) * cnp.arctan(a * b)
    folded = cnp.log(cnp.exp(b)) * cnp.exp(cnp.log(a)) * cnp.cos(cnp.arccos(a))  # SymPy simplifies these
    repeated = cnp.sin(a) * cnp.cos(b) * cnp.sin(a) * a * a * cnp.abs(b) * cnp.abs(b)
    return smooth + folded + repeated + cnp.exp(a) * cnp.exp(b) * cnp.exp(a) + 2.0 * cnp.cos(a) * cnp.sin(b)


@pytest.mark.parametrize("export", ["formula", "gradient", "hessian"])
def test_fast_construction_builds_exactly_what_sympy_builds(monkeypatch, export):
    cases = [(_many_heads, "x y"), (lecture, "x1 x2"), (lambda p, q, r: _nested_sines(p, 5) * _nested_sines(q, 5)
                                                        + cnp.log(cnp.exp(p) + cnp.exp(q) + cnp.exp(r)), "p q r")]
    run = {"formula": lambda f, n: symbolic.formula(f, n, shared=True), "gradient": symbolic.gradient,
           "hessian": symbolic.hessian}[export]
    fast = [run(f, names) for f, names in cases]
    with monkeypatch.context() as patch:
        _no_shortcuts(patch)
        built_by_sympy = [run(f, names) for f, names in cases]
        with sympy.evaluate(False):
            unevaluated = run(*cases[0])
    with sympy.evaluate(False):
        assert run(*cases[0]) == unevaluated
    for (replacements, outputs), (expected_replacements, expected_outputs) in zip(fast, built_by_sympy):
        assert replacements == expected_replacements
        assert outputs == expected_outputs
        assert str((replacements, outputs)) == str((expected_replacements, expected_outputs))


def test_exports_that_simplify_through_evaluation_still_do():
    assert symbolic.formula(lambda t: cnp.log(cnp.exp(t)), "x") == x
    assert symbolic.formula(lambda t: cnp.sin(t) * cnp.cos(t) * cnp.sin(t), "x") == sympy.sin(x) ** 2 * sympy.cos(x)
    assert str(symbolic.formula(lambda t, u: cnp.exp(t) * cnp.exp(u) * cnp.exp(t), "x y")) == "exp(2*x)*exp(y)"


def test_export_restores_the_garbage_collector():
    import gc
    assert gc.isenabled()
    symbolic.gradient(lambda t: cnp.sin(t) ** 2, "x")
    assert gc.isenabled()
    with pytest.raises(symbolic.SymbolicError, match="rint"):
        symbolic.formula(lambda t: cnp.rint(t), "x")
    assert gc.isenabled()
    gc.disable()
    try:
        symbolic.formula(lambda t: cnp.sin(t), "x")
        assert not gc.isenabled()
    finally:
        gc.enable()


@pytest.mark.parametrize("function, jax_name", [(cnp.logaddexp, "logaddexp"), (cnp.logaddexp2, "logaddexp2")])
def test_logaddexp_exports_without_overflow(function, jax_name):
    # exported as log(exp(x) + exp(y)): inf at x = 800, so the value was inf and df/dx was 0
    jax = pytest.importorskip("jax")
    jax.config.update("jax_enable_x64", True)
    reference = getattr(jax.numpy, jax_name)
    for point in ((800.0, 1.0), (800.0, 790.0), (1.0, 800.0), (-3.0, 2.0), (-900.0, -905.0)):
        value = symbolic.evaluate(([], [symbolic.formula(function, "x y")]), "x y", list(point))[0]
        assert value == pytest.approx(float(reference(*point)), rel=1e-14)
        gradient = symbolic.evaluate(symbolic.gradient(function, "x y"), "x y", list(point))
        expected = [float(g) for g in jax.grad(reference, argnums=(0, 1))(*point)]
        assert gradient == pytest.approx(expected, rel=1e-12, abs=1e-300)


def test_simplify_past_the_time_limit_raises_with_the_unsimplified_result():
    def slow(x, y):
        return cnp.sin(x * y) + cnp.cos(x / y) * cnp.exp(x - y) + cnp.log(x ** 2 + y ** 2) + cnp.sqrt(x * y + 1)
    with pytest.raises(symbolic.SimplificationTimeout) as stopped:
        symbolic.hessian(slow, "x y", simplify=True, time_limit=0.5)
    replacements, (matrix,) = stopped.value.unsimplified
    values = symbolic.evaluate((replacements, list(matrix)), "x y", [0.7, 1.3])
    expected = np.asarray(cr.hessian(slow, argnums=(0, 1))(0.7, 1.3), dtype=float).ravel()
    assert values == pytest.approx(list(expected), rel=1e-10)
    assert symbolic.gradient(lambda x, y: x * y, "x y", simplify=True, time_limit=30) == [y, x]
    with pytest.raises(ValueError, match="time_limit"):
        symbolic.gradient(lambda x, y: x * y, "x y", simplify=True, time_limit=0)


def test_evaluate_at_a_pole_gives_inf_not_zero_division():
    # lambdify with Python floats raised ZeroDivisionError for 1/x at 0
    with np.errstate(divide="ignore"):
        values = symbolic.evaluate(symbolic.gradient(lambda x: 1 / x, "x"), "x", [0.0])
    assert np.isinf(values[0]) or np.isnan(values[0])
