"""explain's notation: operators keyed by primitive, and local partials written from the rules themselves, so
that the text of every row evaluates to the number beside it."""
import numpy as np
import pytest

import chainrule as cr
from chainrule.core.avals import ShapedArray
from chainrule.core.graph import Var
from chainrule.export.notation import INFIX, derive_partial, equation_tokens
from chainrule.export.trace import Ref, _one_hot_partial, _pullback, render_ref
from chainrule.ops import all_primitives, arithmetic, comparison, control, structure
from primitive_cases import load_spec

# Primitives that are not elementwise but whose spec row also works on scalars (one element of each argument).
SCALAR_CAPABLE = (control.stop_gradient, structure.convert_element_type)

# Extra scalar points where a rule states a convention (ties, kinks), beside the spec rows' first elements.
CONVENTION_POINTS = [
    (arithmetic.maximum, (1.0, 1.0)), (arithmetic.minimum, (1.0, 1.0)), (arithmetic.maximum, (2.0, -1.0)),
    (all_primitives()["abs"], (0.0,)), (all_primitives()["sinc"], (0.0,)), (arithmetic.power, (0.0, 2.0)),
    (arithmetic.power, (2.0, 0.0)), (arithmetic.atan2, (0.0, 0.0)), (arithmetic.hypot, (0.0, 0.0)),
]


def _namespace():
    names = {p.name: p.impl for p in all_primitives().values()}
    names.update(inf=np.inf, nan=np.nan, np=np, dtype=np.dtype)  # dtype: repr of convert_element_type's parameter
    return names


NAMESPACE = _namespace()


def _text(tokens):
    return "".join(render_ref(t, "ascii") if isinstance(t, Ref) else t for t in tokens)


def _evaluate(tokens, values, tangents, adjoints):
    scope = dict(NAMESPACE, v=values, v_dot=tangents, v_bar=adjoints)
    with np.errstate(all="ignore"):
        return eval(_text(tokens), scope)  # noqa: S307  (the text explain wrote, on numbers)


def _indexed(row):
    return isinstance(row.target.index, int) and all(isinstance(t.index, int) for t in row.expression
                                                     if isinstance(t, Ref))


def _close(got, want, what):
    np.testing.assert_allclose(np.asarray(got, dtype=complex), np.asarray(want, dtype=complex), rtol=1e-12,
                               atol=1e-14, equal_nan=True, err_msg=what)


def _scalar_points():
    spec = load_spec()
    primitives = all_primitives()
    points = []
    for name in sorted(spec):
        primitive = primitives[name]
        if primitive.multiple_results or not (primitive.elementwise or primitive in SCALAR_CAPABLE):
            continue
        args, params = spec[name]
        points.append((primitive, tuple(np.asarray(a).reshape(-1)[0] for a in args), params))
    points += [(primitive, tuple(np.float64(a) for a in args), {}) for primitive, args in CONVENTION_POINTS]
    return points


POINTS = _scalar_points()


def test_every_elementwise_primitive_is_checked():
    checked = {p for p, _, _ in POINTS}
    for primitive in all_primitives().values():
        if primitive.elementwise and not primitive.multiple_results:
            assert primitive in checked, primitive.name


@pytest.mark.parametrize("primitive, args, params", POINTS,
                         ids=[f"{p.name}{tuple(float(np.real(a)) for a in args)}" for p, args, params in POINTS])
def test_every_row_of_explain_evaluates_to_its_number(primitive, args, params):
    """Primal, tangent (each input seeded in turn) and adjoint rows: the text, evaluated, is the value."""
    def function(*xs):
        return primitive(*xs, **params)

    for wrt in range(len(args)):
        table = cr.explain(function, *args, mode="both", wrt=wrt, digits=17)
        for row in table.primal_rows + table.tangent_rows:
            if _indexed(row):
                _close(_evaluate(row.expression, table.values, table.tangents, {}), row.value,
                       f"{primitive.name}: {_text([row.target])} = {_text(row.expression)}")
        adjoints = {}
        for row in table.adjoint_rows:
            if _indexed(row):
                _close(_evaluate(row.expression, table.values, {}, adjoints), row.value,
                       f"{primitive.name}: {_text([row.target])} = {_text(row.expression)}")
            if isinstance(row.target.index, int):
                adjoints[row.target.index] = row.value


@pytest.mark.parametrize("primitive, args, params", POINTS,
                         ids=[f"{p.name}{tuple(float(np.real(a)) for a in args)}" for p, args, params in POINTS])
def test_rendered_partials_equal_the_rules_numbers(primitive, args, params):
    """Each partial, forward (from the JVP rule) and reverse (from the pullback), written out and evaluated,
    equals what the rule computes eagerly at the point."""
    inputs = [Var(ShapedArray((), np.asarray(a).dtype)) for a in args]
    values = {k: np.asarray(a) for k, a in enumerate(args)}
    out = np.asarray(primitive.impl(*args, **params))
    names = [Ref("value", k) for k in range(len(args))]
    output = Ref("value", len(args))
    values[len(args)] = out
    for position, arg in enumerate(args):
        if not np.issubdtype(np.asarray(arg).dtype, np.inexact) or not primitive.differentiable:
            continue
        expected_forward = _one_hot_partial(primitive, list(args), position, params)
        bar = _pullback(primitive, position, np.ones_like(out), out, list(args), params)
        expected_reverse = np.zeros_like(out) if bar is None else bar
        for kind, expected in (("forward", expected_forward), ("reverse", expected_reverse)):
            partial = derive_partial(primitive, inputs, params, position, kind=kind,
                                     output_aval=ShapedArray((), out.dtype))
            tokens, _ = partial.tokens(names, output, lambda value: repr(np.asarray(value).item()))
            _close(_evaluate(tokens, values, {}, {}), expected, f"{primitive.name} {kind} ∂/∂{position}: "
                                                                 f"{_text(tokens)}")
            _close(partial.value([values[k] for k in range(len(args))], out), expected, primitive.name)


def test_maximum_tie_text_and_number_agree():
    table = cr.explain(lambda a, b: arithmetic.maximum(a, b), 1.0, 1.0, mode="both")
    tangent = [r for r in table.tangent_rows if r.target.index == 1][0]
    assert tangent.value == 0.5 and tangent.substituted.startswith("0.5 * 1")
    assert _evaluate(tangent.expression, table.values, table.tangents, {}) == 0.5
    adjoints = [r for r in table.adjoint_rows if r.target.index in (-1, 0)]
    assert [float(r.value) for r in adjoints] == [0.5, 0.5]
    assert all("0.5" in _text(r.expression) and r.substituted == "1 * 0.5" for r in adjoints)


def test_lecture_partials_read_like_the_lecture():
    def lecture(x1, x2):
        import chainrule.numpy as cnp
        return (cnp.sin(x1 / x2) + (x1 / x2 - cnp.exp(x2))) * (x1 / x2 - cnp.exp(x2))

    table = cr.explain(lecture, 1.5, 0.5, mode="both")
    text = table.to_text()
    for line in ("v̇₁  = v̇₋₁ / v₀ - v₁ / v₀ * v̇₀", "v̇₂  = cos(v₁) * v̇₁", "v̇₃  = v₃ * v̇₀", "v̇₄  = v̇₁ - v̇₃",
                 "v̇₆  = v₄ * v̇₅ + v₅ * v̇₄", "v̄₃  = -v̄₄", "v̄₁  = v̄₁ + v̄₂ * cos(v₁)", "v̄₀  = v̄₀ - v̄₁ * v₁ / v₀"):
        assert line in text, line


def test_infix_forms_are_keyed_by_primitive_and_evaluate_like_the_impl():
    primitives = set(all_primitives().values())
    assert set(INFIX) <= primitives
    samples = {1: [(-1.5,), (0.25,)], 2: [(1.5, -0.5), (-2.0, 3.0), (0.5, 0.5)], 3: [(True, 1.5, -2.0),
                                                                                    (False, 1.5, -2.0)]}
    for primitive in INFIX:
        for args in samples[len(INFIX[primitive].operands)]:
            tokens = equation_tokens(primitive, [repr(a) for a in args], {})
            _close(eval("".join(tokens)), primitive.impl(*args), f"{primitive.name}: {''.join(tokens)}")  # noqa: S307


def test_nested_operands_keep_their_meaning():
    # -(x ** 2), (-x) ** 2, a - (b - c), (a / b) / c, ... written from a staged partial graph.
    x = Var(ShapedArray((), np.float64))
    partial = derive_partial(arithmetic.power, [x, Var(ShapedArray((), np.float64))], {}, 1)
    tokens, _ = partial.tokens([Ref("value", 0), Ref("value", 1)], Ref("value", 2), repr)
    values = {0: np.float64(-0.5), 1: np.float64(2.0), 2: np.float64(0.25)}
    _close(_evaluate(tokens, values, {}, {}), _one_hot_partial(arithmetic.power, [-0.5, 2.0], 1, {}), _text(tokens))
    assert equation_tokens(comparison.select, ["c", "a", "b"], {}) == ["a", " if ", "c", " else ", "b"]
