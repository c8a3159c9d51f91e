"""Every public function, called the way users call it (``public_cases.py``), on float64, float32 and complex
inputs: its value equals NumPy's/SciPy's, dtype included, without and under every transform (jvp, vjp,
linearize, vmap, jit); its JVP equals JAX's (central differences where JAX lacks the function, the float64
derivative for float32), its VJP is the transpose of its JVP, and ``grad`` of a real projection is the VJP.

The coverage tests make the table the gate: a public callable without a case (or a stated exemption), or a
name in the README's coverage list without a case, fails."""
import importlib
import re
import zlib
from pathlib import Path

import jax
import numpy
import pytest

import chainrule as cr
import chainrule.numpy as cnp
from public_cases import ALL_CASES, EXEMPT, A, draw

jax.config.update("jax_enable_x64", True)

README = Path(__file__).resolve().parents[1] / "README.md"
RTOL = {"float64": 1e-9, "float32": 2e-5, "complex128": 1e-9}
DERIVATIVE_RTOL = {"float64": 1e-7, "float32": 2e-3, "complex128": 1e-7}


def resolve(path):
    """The object at a dotted path: the longest importable module prefix, then attributes."""
    parts = path.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for name in parts[cut:]:
            obj = getattr(obj, name, None)
            if obj is None:
                return None
        return obj
    return None


class Slot:
    def __init__(self, index):
        self.index = index


def points(case, dtype, variant=""):
    """The case's array arguments at ``dtype`` (float32 rounds the float64 point) and a template that puts
    them back among the literal arguments."""
    base = "complex128" if dtype == "complex128" else "float64"
    rng = numpy.random.default_rng(zlib.crc32(f"{case.id}/{base}/{variant}".encode()))
    leaves = []

    def visit(arg):
        if isinstance(arg, A):
            leaves.append(draw(arg.kind, arg.shape, base, rng).astype(dtype))
            return Slot(len(leaves) - 1)
        if isinstance(arg, (list, tuple)):
            return type(arg)(visit(item) for item in arg)
        return arg

    return visit(case.args), leaves


def fill(template, leaves):
    if isinstance(template, Slot):
        return leaves[template.index]
    if isinstance(template, (list, tuple)):
        return type(template)(fill(item, leaves) for item in template)
    return template


def of_leaves(function, case, template, xp):
    """The case's function of its array arguments alone, gauge applied."""
    def call(*leaves):
        arguments = fill(template, leaves)
        # r_ and c_ are indexed, not called
        out = function(*arguments, **case.kwargs) if callable(function) else function[tuple(arguments)]
        return case.gauge(out, xp) if case.gauge else out
    return call


def leaves_of(out):
    return [numpy.asarray(leaf) for leaf in cr.tree_leaves(out)]


def inexact(array):
    return numpy.issubdtype(numpy.asarray(array).dtype, numpy.inexact)


def assert_close(actual, expected, rtol, what, check_dtype=True):
    actual, expected = leaves_of(actual), leaves_of(expected)
    assert len(actual) == len(expected), f"{what}: {len(actual)} outputs, expected {len(expected)}"
    for position, (a, e) in enumerate(zip(actual, expected)):
        assert a.shape == e.shape, f"{what} output {position}: shape {a.shape}, expected {e.shape}"
        if check_dtype:
            assert a.dtype == e.dtype, f"{what} output {position}: dtype {a.dtype}, expected {e.dtype}"
        if inexact(e) or inexact(a):
            scale = max(1.0, float(numpy.max(numpy.abs(e[numpy.isfinite(e)]), initial=0.0)))
            numpy.testing.assert_allclose(a, e, rtol=rtol, atol=rtol * scale, err_msg=f"{what} output {position}")
        else:
            numpy.testing.assert_array_equal(a, e, err_msg=f"{what} output {position}")


CASE_DTYPES = [pytest.param(case, dtype, id=f"{case.id}-{dtype}") for case in ALL_CASES for dtype in case.dtypes]


def chainrule_and_reference(case):
    function = resolve("chainrule." + case.path)
    assert function is not None, f"chainrule.{case.path} does not exist"
    return function, resolve(case.path)


@pytest.mark.parametrize("case, dtype", CASE_DTYPES)
def test_value_matches_numpy_and_scipy(case, dtype):
    function, reference = chainrule_and_reference(case)
    template, leaves = points(case, dtype)
    ours = of_leaves(function, case, template, cnp)(*leaves)
    if reference is not None:
        theirs = of_leaves(reference, case, template, cnp)(*leaves)
        if case.path.startswith("scipy.") and dtype == "float32":
            # SciPy computes many functions in float64 whatever the input; chainrule keeps float32 in float32
            theirs = cr.tree_map(lambda out: numpy.asarray(out).astype(keep_single(numpy.asarray(out).dtype)),
                                 theirs)
        assert_close(ours, theirs, RTOL[dtype], f"{case.id} vs {case.path}")


def keep_single(dtype):
    return {numpy.dtype(numpy.float64): numpy.float32, numpy.dtype(numpy.complex128): numpy.complex64}.get(dtype, dtype)


@pytest.mark.parametrize("case, dtype", CASE_DTYPES)
def test_value_is_the_same_under_every_transform(case, dtype):
    function, _ = chainrule_and_reference(case)
    template, leaves = points(case, dtype)
    g = of_leaves(function, case, template, cnp)
    value = g(*leaves)
    rtol = RTOL[dtype]
    if case.stages:
        assert_close(cr.jit(g)(*leaves), value, rtol, f"{case.id} under jit")
    else:
        with pytest.raises(cr.ChainruleError, match="jit"):
            cr.jit(g)(*leaves)
        with pytest.raises(cr.ChainruleError, match="vmap"):
            cr.vmap(g)(*[numpy.stack([leaf, leaf]) for leaf in leaves])
        return
    if not leaves:   # a function of literals alone (fftfreq): nothing to trace
        return
    tangents = [numpy.ones_like(leaf) for leaf in leaves]
    assert_close(cr.jvp(g, leaves, tangents)[0], value, rtol, f"{case.id} under jvp")
    assert_close(cr.vjp(g, *leaves)[0], value, rtol, f"{case.id} under vjp")
    if case.differentiable:
        assert_close(cr.linearize(g, *leaves)[0], value, rtol, f"{case.id} under linearize")

    _, other = points(case, dtype, variant="batch")
    batched = cr.vmap(g)(*[numpy.stack(pair) for pair in zip(leaves, other)])
    expected = cr.tree_map(lambda *outs: numpy.stack(outs), value, g(*other))
    assert_close(batched, expected, rtol, f"{case.id} under vmap")


def random_like(array, rng):
    array = numpy.asarray(array)
    values = rng.uniform(-1.0, 1.0, array.shape)
    if numpy.iscomplexobj(array):
        values = values + 1j * rng.uniform(-1.0, 1.0, array.shape)
    return values.astype(array.dtype)


def jax_tangent(case, template, leaves, tangents):
    """JAX's JVP of the case, or None where JAX lacks the function."""
    if case.jax is None:
        return None
    oracle = resolve("jax." + case.path) if case.jax == "same" else case.jax
    if oracle is None:
        return None
    import jax.numpy as jnp
    g = of_leaves(oracle, case, template, jnp)
    try:
        _, tangent = jax.jvp(g, [jnp.asarray(leaf) for leaf in leaves], [jnp.asarray(t) for t in tangents])
    except (NotImplementedError, ValueError, TypeError):   # JAX lacks this derivative (betainc in a, schur)
        return None
    return tangent


def central_difference(g, leaves, tangents, step=1e-6):
    plus = g(*[leaf + step * t for leaf, t in zip(leaves, tangents)])
    minus = g(*[leaf - step * t for leaf, t in zip(leaves, tangents)])
    return cr.tree_map(lambda p, m: (numpy.asarray(p) - numpy.asarray(m)) / (2 * step), plus, minus)


def differentiable_cases():
    return [p for p in CASE_DTYPES if p.values[0].differentiable]


@pytest.mark.parametrize("case, dtype", differentiable_cases())
def test_jvp_matches_jax_or_differences(case, dtype):
    function, _ = chainrule_and_reference(case)
    template, leaves = points(case, dtype)
    g = of_leaves(function, case, template, cnp)
    rng = numpy.random.default_rng(1)
    tangents = [random_like(leaf, rng) for leaf in leaves]
    value, tangent = cr.jvp(g, leaves, tangents)
    for position, (out, t) in enumerate(zip(leaves_of(value), leaves_of(tangent))):
        if inexact(out):
            assert t.dtype == out.dtype, f"{case.id}: tangent {position} is {t.dtype} for a {out.dtype} output"
    assert_close(cr.linearize(g, *leaves)[1](*tangents), tangent, DERIVATIVE_RTOL[dtype],
                 f"{case.id}: linearize vs jvp")

    if dtype == "float32":
        wide = [leaf.astype(numpy.float64) for leaf in leaves]
        _, expected = cr.jvp(g, wide, [t.astype(numpy.float64) for t in tangents])
        what = f"{case.id}: float32 JVP vs float64 JVP"
    else:
        expected = jax_tangent(case, template, leaves, tangents)
        what = f"{case.id}: JVP vs JAX"
        if expected is None:
            expected, what = central_difference(g, leaves, tangents), f"{case.id}: JVP vs central differences"
    pairs = [(a, e) for a, e, out in zip(leaves_of(tangent), leaves_of(expected), leaves_of(value)) if inexact(out)]
    rtol = DERIVATIVE_RTOL[dtype] if "JAX" in what else 1e-5
    assert_close([a for a, _ in pairs], [e for _, e in pairs], rtol, what, check_dtype=False)


@pytest.mark.parametrize("case, dtype", differentiable_cases())
def test_vjp_is_the_transpose_of_jvp_and_grad_agrees(case, dtype):
    function, _ = chainrule_and_reference(case)
    template, leaves = points(case, dtype)
    g = of_leaves(function, case, template, cnp)
    rng = numpy.random.default_rng(2)
    tangents = [random_like(leaf, rng) for leaf in leaves]
    value, tangent = cr.jvp(g, leaves, tangents)
    outs = leaves_of(value)
    weights = [random_like(out, rng) if inexact(out) else numpy.zeros_like(out) for out in outs]
    _, pullback = cr.vjp(g, *leaves)
    cotangents = pullback(cr.tree_unflatten(cr.tree_structure(value), weights))
    for leaf, cotangent in zip(leaves, cotangents):
        assert numpy.asarray(cotangent).dtype == leaf.dtype, f"{case.id}: cotangent dtype"

    # <w, J t> = <Jᵀ w, t> with the real bilinear pairing Re Σ a·b (JAX's convention for complex values)
    forward = sum(numpy.real(numpy.sum(w * t)) for w, t, out in zip(weights, leaves_of(tangent), outs) if inexact(out))
    backward = sum(numpy.real(numpy.sum(numpy.asarray(c) * t)) for c, t in zip(cotangents, tangents))
    size = sum(numpy.sum(numpy.abs(w) * numpy.abs(t)) for w, t in zip(weights, leaves_of(tangent))) + 1.0
    assert abs(forward - backward) <= DERIVATIVE_RTOL[dtype] * 10 * size, \
        f"{case.id}: <w, J t> = {forward} but <Jᵀ w, t> = {backward}"

    def projection(*arguments):
        return sum(cnp.sum(cnp.real(out * w)) for out, w in zip(cr.tree_leaves(g(*arguments)), weights)
                   if inexact(w))
    gradient = cr.grad(projection, argnums=tuple(range(len(leaves))))(*leaves)
    assert_close(gradient, cotangents, DERIVATIVE_RTOL[dtype], f"{case.id}: grad of a projection vs vjp")


# --- coverage -------------------------------------------------------------------------------------------------

MODULES = ["numpy", "numpy.linalg", "numpy.fft", "scipy.special", "scipy.linalg", "scipy.signal"]


def public_callables(path):
    """Public callables of chainrule.<path>: its own functions and those NumPy/SciPy's module also has."""
    ours, reference = resolve("chainrule." + path), resolve(path)
    names = []
    for name in dir(ours):
        obj = getattr(ours, name)
        if name.startswith("_") or isinstance(obj, type) or type(obj).__name__ == "module" or not callable(obj):
            continue
        home = getattr(obj, "__module__", "") or ""
        own = home == f"chainrule.{path}" or (path == "numpy" and home.startswith("chainrule.numpy")
                                               and not home.startswith(("chainrule.numpy.linalg", "chainrule.numpy.fft")))
        if own or hasattr(reference, name):
            names.append(f"{path}.{name}")
    return names


def test_every_public_function_has_a_case():
    covered = {case.path for case in ALL_CASES}
    missing = [name for path in MODULES for name in public_callables(path)
               if name not in covered and name not in EXEMPT]
    assert not missing, f"public functions without a case in tests/public_cases.py: {missing}"


def test_every_exemption_names_a_public_callable():
    public = {name for path in MODULES for name in public_callables(path)}
    assert not set(EXEMPT) - public, f"stale exemptions: {sorted(set(EXEMPT) - public)}"


DIFFERENTIABLE_METHODS = {"pdf logpdf cdf logcdf sf logsf": "norm t gamma beta chi2 expon laplace logistic cauchy",
                          "ppf isf": "norm", "pmf logpmf cdf sf": "poisson", "pdf logpdf": "dirichlet multivariate_normal"}


def test_every_differentiable_statistics_method_has_a_case():
    covered = {case.path for case in ALL_CASES}
    missing = [f"scipy.stats.{dist}.{method}" for methods, dists in DIFFERENTIABLE_METHODS.items()
               for dist in dists.split() for method in methods.split()
               if f"scipy.stats.{dist}.{method}" not in covered]
    assert not missing, f"distribution methods without a case: {missing}"


def readme_coverage():
    """(module path, name) for every name the README's coverage list names: the words of its multi-word code
    spans, and single-word spans that name something in the module (the others name parameters)."""
    text = README.read_text().split("## Coverage", 1)[1].split("\n## ", 1)[0]
    listed = []
    for module, body in re.findall(r"\*\*`chainrule\.([\w.]+)`\*\*:(.*?)(?=\*\*`chainrule|\Z)", text, re.S):
        for group in re.findall(r"`([^`]+)`", body):
            tokens = group.split()
            for token in tokens:
                token = token.strip(",")
                if "*" in token or "(" in token or "=" in token:
                    continue
                if "/" in token:   # atleast_1d/2d/3d, norm.ppf/isf
                    stem, *variants = token.split("/")
                    names = [stem] + [stem[:len(stem) - len(v)] + v for v in variants]
                else:
                    names = [token]
                for name in names:
                    if len(tokens) > 2 or resolve(f"chainrule.{module}.{name}") is not None:
                        listed.append((module, name))
    return listed


def test_every_function_the_readme_lists_has_a_case():
    covered = {case.path for case in ALL_CASES}
    listed = readme_coverage()
    assert len(listed) > 200, "the README's coverage list was not found"
    missing = []
    for module, name in listed:
        if f"{module}.{name}" in EXEMPT:
            continue
        if module == "scipy.stats":
            if not any(path.startswith(f"scipy.stats.{name}.") or path.endswith(f".{name}")
                       or path == f"scipy.stats.{name}" for path in covered):
                missing.append(f"{module}.{name}")
        elif f"{module}.{name}" not in covered:
            missing.append(f"{module}.{name}")
    assert not missing, f"README lists these without a case in tests/public_cases.py: {missing}"
