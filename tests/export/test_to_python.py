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
    # One assignment per equation, named v1, v2, ... in evaluation order (the trace's numbering); the order of
    # the equations is the engine's recording order, so only the first and the primal operations are fixed.
    statements = [line.strip() for line in lines[4:] if not line.strip().startswith(("del ", "return "))]
    assert [s.split(" = ")[0] for s in statements] == [f"v{k}" for k in range(1, len(statements) + 1)]
    assert statements[0] == "v1 = x1 / x2"
    for operation in ("np.sin(v1)", "np.exp(x2)"):
        assert any(s.endswith(" = " + operation) for s in statements), operation
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


def test_every_primitive_has_a_code_row_a_copyable_implementation_or_a_reason():
    """CODE and REFUSED are keyed by primitive; a primitive in neither is written by copying its own implementation,
    and one whose implementation cannot be copied fails here (never a silent fallback)."""
    from chainrule.export.python import CODE, REFUSED, row_of
    from chainrule.ops import all_primitives
    primitives = set(all_primitives().values())
    missing = []
    for primitive in primitives - set(REFUSED):
        try:
            row_of(primitive)
        except NotImplementedError as error:
            missing.append(f"{primitive.name}: {error}")
    assert not missing, f"primitives that cannot be written as NumPy source, with no stated reason: {missing}"
    assert not set(CODE) & set(REFUSED)
    assert set(CODE) | set(REFUSED) <= primitives  # rows of primitives that no longer exist


def test_a_primitive_without_a_row_is_written_from_its_own_implementation():
    from chainrule.core.primitive import Primitive
    doubled = Primitive("doubled", _doubled_impl)
    generated = to_python(lambda x: doubled(x) + 1.0, np.arange(3.0), compile=True)
    np.testing.assert_array_equal(generated(np.arange(3.0)), 2 * np.arange(3.0) + 1)
    assert "def _doubled_impl(x):" in generated.__source__


def _doubled_impl(x):
    return 2 * x


def test_a_primitive_whose_implementation_cannot_be_copied_is_refused_by_name():
    from chainrule.core.primitive import Primitive
    mystery = Primitive("mystery", lambda x: x + 1)
    with pytest.raises(NotImplementedError, match="'mystery'.*no row in chainrule.export.python.CODE.*lambda"):
        to_python(lambda x: mystery(x), 1.0)


def test_copied_implementations_are_the_primitives_own():
    """cholesky and eigh read the symmetric part of their input: the generated code calls the copied impl, so it
    does so too, on an input that is not symmetric."""
    from chainrule.ops import linalg
    a = np.array([[4.0, 1.0, 0.5], [0.2, 3.0, 0.1], [0.3, -0.4, 2.0]])
    generated = to_python(lambda m: linalg.cholesky(m), a, compile=True)
    np.testing.assert_array_equal(generated(a), linalg.cholesky.impl(a))
    assert "def _symmetrized(a):" in generated.__source__
    w, v = to_python(lambda m: linalg.eigh(m), a, compile=True)(a)
    expected_w, expected_v = linalg.eigh.impl(a)
    np.testing.assert_array_equal(w, expected_w)
    np.testing.assert_array_equal(v, expected_v)


def test_broadcasts_numpy_does_itself_are_not_written_and_results_keep_their_bits():
    rng = np.random.default_rng(3)
    x, seeds = rng.standard_normal(7), rng.standard_normal((4, 7))
    tangents = cr.vmap(lambda y, v: cr.jvp(lambda y: cnp.sin(y) * y, (y,), (v,))[1], in_axes=(None, 0))
    assert "broadcast_to" in str(cr.make_graph(tangents)(x, seeds))
    generated = to_python(tangents, x, seeds, compile=True)
    assert "broadcast_to" not in generated.__source__
    np.testing.assert_array_equal(generated(x, seeds), tangents(x, seeds))
    # float32 operands beside a float64 one: the broadcast stays where dropping it could change the promotion
    small = x.astype(np.float32)
    mixed = to_python(lambda a, b: cnp.broadcast_to(a, (4, 7)) * b, small, seeds, compile=True)
    assert mixed(small, seeds).dtype == np.float64 and mixed(small, seeds).shape == (4, 7)
    np.testing.assert_array_equal(mixed(small, seeds), np.broadcast_to(small, (4, 7)) * seeds)


@pytest.mark.parametrize("scale", [0.5, -1.0, 2.0, 3.0])
def test_power_of_two_scalings_fold_into_constants_with_the_same_bits(scale):
    rng = np.random.default_rng(4)
    constant, x = rng.standard_normal((3, 5)), rng.standard_normal(5)
    function = lambda y: scale * (constant * cnp.cos(y))
    generated = to_python(function, x, compile=True)
    multiplications = generated.__source__.count(" * ")
    assert multiplications == (1 if scale != 3.0 else 2)  # 3 is no power of two: folding it would round
    np.testing.assert_array_equal(generated(x), function(x))
    # a constant that the scaling would overflow is left alone: the result stays finite, as eagerly
    huge = np.full(5, 1e308)
    overflowing = lambda y: 2.0 * (huge * y)
    np.testing.assert_array_equal(to_python(overflowing, np.full(5, 0.25), compile=True)(np.full(5, 0.25)),
                                  np.full(5, 5e307))


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.complex128, np.int64])
def test_pad_matches_numpy_pad(dtype):
    from chainrule.ops import structure
    x = (np.arange(12).reshape(3, 4) + 1).astype(dtype)
    for widths in (((1, 0), (2, 1)), ((0, 0), (0, 0)), ((3, 2), (0, 4))):
        padded = structure.pad(x, widths=widths)
        assert padded.dtype == x.dtype
        np.testing.assert_array_equal(padded, np.pad(x, widths))
    with pytest.raises(ValueError):
        structure.pad(x, widths=((-1, 0), (0, 0)))


def test_a_scaling_that_promotes_is_not_folded():
    constant = np.linspace(1.0, 2.0, 4).astype(np.float32)
    function = lambda y: np.float64(2.0) * (constant * y)  # float32 times a float64 scalar: float64
    x = np.linspace(0.5, 1.0, 4).astype(np.float32)
    generated = to_python(function, x, compile=True)
    assert generated(x).dtype == function(x).dtype == np.float64
    np.testing.assert_array_equal(generated(x), function(x))


def test_numpy_scalars_keep_numpys_promotion_in_generated_code():
    # NumPy 2: a float32 array with a NumPy float64 scalar computes in float64, with a Python float in float32
    x = np.array([0.7, 0.25], dtype=np.float32)
    for function in (lambda y: y * np.float64(0.1), lambda y: cnp.float64(3.0) + y, lambda y: y >= np.float64(0.7),
                     lambda y: y * 0.1, lambda y: cr.grad(lambda z: cnp.sum(z * np.float64(0.1) * z))(y)):
        expected = function(x)
        got = cr.jit(function)(x)
        assert np.result_type(got) == np.result_type(expected)
        np.testing.assert_array_equal(got, expected)
    assert "np.float64(0.1)" in cr.jit(lambda y: y * np.float64(0.1)).source(x)
    assert "np.float64" not in cr.jit(lambda y: y * np.float64(0.1)).source(x.astype(np.float64))


@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.complex128])
def test_a_function_of_overlapping_windows_is_evaluated_once_per_element(dtype):
    # a stencil's sin(u[:-2]), sin(u[1:-1]), sin(u[2:]) (and cos in its derivative): sin(u) and cos(u) once, sliced
    def stencil(u):
        return cnp.sin(u[:-2]) - 2.0 * cnp.sin(u[1:-1]) + cnp.sin(u[2:]) + cnp.exp(u[1:-1])

    u = (np.random.default_rng(3).uniform(-2.0, 2.0, 2003) + (0.5j if dtype == np.complex128 else 0)).astype(dtype)
    tangent = np.linspace(-1.0, 1.0, u.size).astype(dtype)
    value_and_direction = lambda u: cr.jvp(stencil, (u,), (tangent,))  # noqa: E731
    source = cr.export.to_python(value_and_direction, u)
    assert source.count("np.sin(") == 1 and source.count("np.cos(") == 1
    assert source.count("np.exp(") == 1  # one window only: left as it is
    # the same values (an element's sine does not depend on its window); to rounding, should a NumPy build
    # compute the tail of an array by another instruction sequence than its body
    epsilon = np.finfo(dtype).eps
    for compiled, eager in zip(cr.jit(value_and_direction)(u), value_and_direction(u)):
        np.testing.assert_allclose(compiled, eager, rtol=4 * epsilon, atol=4 * epsilon * np.abs(eager).max())


def test_windows_covering_little_of_the_array_are_left_alone():
    source = cr.export.to_python(lambda u: cnp.sin(u[:3]) + cnp.sin(u[5:8]), np.ones(100))
    assert source.count("np.sin(") == 2
