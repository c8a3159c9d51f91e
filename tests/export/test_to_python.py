"""to_python: generated NumPy source equals AD to 1e-14, covers every primitive, needs no chainrule."""
import numpy as np
import pytest

import chainrule as cr
import chainrule.numpy as cnp
from chainrule.export import to_python


def lecture(x1, x2):
    return (cnp.sin(x1 / x2) + (x1 / x2 - cnp.exp(x2))) * (x1 / x2 - cnp.exp(x2))


SCENARIOS = {
    "lecture": (lecture, (1.5, 0.5)),
    "least_squares": (lambda w, a, b: cnp.sum((a @ w - b) ** 2),
                      (np.linspace(-1, 1, 3), np.arange(12.0).reshape(4, 3) / 7, np.linspace(0, 1, 4))),
    "network": (lambda w, x: cnp.sum(cnp.tanh(x @ w) ** 2 * cnp.exp(-x[:, :1])),
                (np.linspace(-1, 1, 6).reshape(3, 2), np.linspace(0, 2, 12).reshape(4, 3))),
    "logsumexp": (lambda x: cnp.log(cnp.sum(cnp.exp(x - cnp.max(x)))) + cnp.max(x), (np.array([0.3, -1.2, 2.5]),)),
}


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_gradient_source_matches_ad(name):
    function, args = SCENARIOS[name]
    argnums = tuple(range(len(args)))
    generated = to_python(cr.grad(function, argnums=argnums), *args, compile=True)
    expected = cr.grad(function, argnums=argnums)(*args)
    for got, want in zip(generated(*args), expected):
        np.testing.assert_allclose(got, want, rtol=1e-14, atol=1e-14)
    assert "chainrule" not in generated.__source__


def test_source_is_straight_line_with_trace_names():
    source = to_python(cr.grad(lecture, argnums=(0, 1)), 1.5, 0.5, name="lecture_gradient")
    lines = source.splitlines()
    assert lines[3] == "def lecture_gradient(x1, x2):"
    assert lines[4:9] == ["    v1 = x1 / x2", "    v2 = np.sin(v1)", "    v3 = np.exp(x2)", "    v4 = v1 - v3",
                          "    v5 = v2 + v4"]
    assert not any(word in source for word in ("for ", "if ", "while "))


def test_pytree_arguments_are_unpacked():
    generated = to_python(lambda p, x: p["w"] * x + p["b"], {"w": 2.0, "b": 1.0}, 3.0, compile=True)
    assert float(generated({"w": 2.0, "b": 1.0}, 3.0)) == 7.0


def test_every_primitive_is_generated_and_agrees_with_its_impl():
    from chainrule.ops import all_primitives
    from primitive_cases import load_spec, staged_case
    spec = load_spec()
    for name in sorted(spec):
        function, args = staged_case(name, spec)
        generated = to_python(function, *args, compile=True)
        expected = all_primitives()[name].impl(*args, **spec[name][1])
        got = generated(*args)
        if isinstance(expected, (list, tuple)):
            for g, e in zip(got, expected):
                np.testing.assert_allclose(np.asarray(g), np.asarray(e), rtol=1e-14, err_msg=name)
        else:
            np.testing.assert_allclose(np.asarray(got), np.asarray(expected), rtol=1e-14, err_msg=name)


def test_call_primitives_are_inlined():
    block = cr.checkpoint(lambda x: cnp.sin(x) * 2.0)
    source = to_python(cr.grad(lambda x: block(x) ** 2), 0.3)
    assert "checkpoint" not in source and "np.sin" in source
    generated = to_python(cr.grad(lambda x: block(x) ** 2), 0.3, compile=True)
    assert float(generated(0.3)) == pytest.approx(float(cr.grad(lambda x: block(x) ** 2)(0.3)), rel=1e-14)


def test_generated_code_hoists_constants_and_frees_intermediates():
    import numpy
    import chainrule as cr
    import chainrule.numpy as cnp
    rosenbrock = lambda y: cnp.sum(100.0 * (y[1:] - y[:-1] ** 2) ** 2 + (1.0 - y[:-1]) ** 2)
    x, v = numpy.linspace(-1.0, 1.0, 50), numpy.cos(numpy.arange(50.0))
    source = cr.export.to_python(lambda x, v: cr.hvp(rosenbrock, (x,), (v,))[0], x, v)
    assert "np.array([" not in source            # uniform constants become np.full, at module level
    assert "\ndel " in source or "    del " in source   # intermediates are released after their last use
    compiled = cr.export.to_python(lambda x, v: cr.hvp(rosenbrock, (x,), (v,))[0], x, v, compile=True)
    numpy.testing.assert_allclose(compiled(x, v), cr.hvp(rosenbrock, (x,), (v,))[0], rtol=1e-14)
