"""The vectorized default coloring, grouped finite differences with a sparsity pattern (chainrule.fd), the
compiled compressed pass (jit=True), and sparse derivatives handed to SciPy's solvers."""
import numpy
import pytest
import scipy.integrate
import scipy.optimize
import scipy.sparse

import chainrule as cr
import chainrule.fd as fd
import chainrule.numpy as np
from chainrule import sparse
from chainrule.finite_diff import coloring as shared_coloring
from chainrule.finite_diff.grouped import sparse_jacobian


def _rng():
    return numpy.random.default_rng(11)


def _banded(size, half_bandwidth):
    offsets = range(-half_bandwidth, half_bandwidth + 1)
    return scipy.sparse.csr_array(scipy.sparse.diags([numpy.ones(size - abs(k)) for k in offsets], offsets))


def _stencil_2d(side):
    line = scipy.sparse.diags([1.0, 1.0, 1.0], [-1, 0, 1], shape=(side, side))
    eye = scipy.sparse.eye(side)
    return scipy.sparse.csr_array(scipy.sparse.kron(line, eye) + scipy.sparse.kron(eye, line))


def brusselator_1d(t, u):
    # 1-D Brusselator (Hairer-Wanner), species interleaved: a banded, stiff right-hand side
    a, b, alpha = 1.0, 3.0, 0.02
    n = u.shape[0] // 2
    x, y = u[0::2], u[1::2]
    spacing = 1.0 / (n + 1)
    coefficient = alpha / spacing ** 2
    x_padded = np.concatenate([np.ones(1), x, np.ones(1)])
    y_padded = np.concatenate([np.full(1, 3.0), y, np.full(1, 3.0)])
    dx = a + x * x * y - (b + 1.0) * x + coefficient * (x_padded[:-2] - 2.0 * x + x_padded[2:])
    dy = b * x - x * x * y + coefficient * (y_padded[:-2] - 2.0 * y + y_padded[2:])
    return np.stack([dx, dy], axis=1).ravel()


def rosenbrock(x):
    return np.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)


# ------------------------------------------------------------------------------------------ default coloring

def _patterns():
    random = numpy.random.default_rng(3)
    dense_row = scipy.sparse.lil_array(_banded(300, 1))
    dense_row[7, :] = 1  # 300 > 62 columns in one row: the sequential pass takes over
    return {
        "banded": _banded(1000, 2),
        "stencil": _stencil_2d(30),
        "random": scipy.sparse.csr_array(scipy.sparse.random(400, 400, density=0.01, random_state=random)
                                         + scipy.sparse.eye(400)),
        "wide": scipy.sparse.csr_array(scipy.sparse.random(50, 700, density=0.02, random_state=random)),
        "dense_row": scipy.sparse.csr_array(dense_row),
        "empty_columns": scipy.sparse.csr_array(numpy.eye(6, 9)),
    }


@pytest.mark.parametrize("name", sorted(_patterns()))
def test_auto_colorings_are_valid(name):
    pattern = _patterns()[name]
    for kind in ("column", "row"):
        colors = sparse.coloring(pattern, kind)
        assert sparse.is_structurally_orthogonal(pattern, colors, kind), kind
        assert colors.dtype == numpy.int64 and colors.min(initial=0) >= 0
    if pattern.shape[0] == pattern.shape[1]:
        symmetric = pattern + pattern.T
        assert sparse.is_star_coloring(symmetric, sparse.coloring(symmetric, "star"))


def test_lockstep_clashes_are_deferred_not_miscolored():
    # columns 0 and 60 share row 0: the lockstep pass colors them in one step unless it defers one
    pattern = scipy.sparse.lil_array((3, 130))
    pattern[0, [0, 60, 120]] = 1
    pattern[1, numpy.arange(130)[::7]] = 1
    pattern[2, [5, 65]] = 1
    colors = sparse.coloring(scipy.sparse.csr_array(pattern), "column")
    assert sparse.is_structurally_orthogonal(pattern, colors)
    assert colors.max() + 1 == max(3, 19)  # row 1 holds 19 columns: the fewest possible


def test_auto_coloring_is_optimal_on_banded_and_no_worse_than_networkx_on_stencils():
    import networkx  # in the test extra: a missing one fails loudly
    assert sparse.coloring(_banded(10_000, 2), "column").max() + 1 == 5
    assert sparse.coloring(_banded(10_000, 2), "star").max() + 1 == 5
    pattern = sparse.jacobian_sparsity(lambda u: brusselator_1d(0.0, u))(numpy.ones(400))
    graph = networkx.from_scipy_sparse_array(scipy.sparse.csr_array(pattern.T.astype(int) @ pattern.astype(int)))
    graph.remove_edges_from(networkx.selfloop_edges(graph))
    best = min(max(networkx.greedy_color(graph, strategy).values()) + 1
               for strategy in ("largest_first", "smallest_last", "DSATUR"))
    assert sparse.coloring(pattern, "column").max() + 1 <= best


def test_star_coloring_sets_hubs_apart():
    size = 3000
    arrow = scipy.sparse.lil_array((size, size))
    arrow[0, :] = 1
    arrow[:, 0] = 1
    arrow.setdiag(1)
    colors = sparse.coloring(scipy.sparse.csr_array(arrow), "star")
    assert colors.max() + 1 == 2 and sparse.is_star_coloring(arrow, colors)


def test_coloring_is_shared_with_finite_differences():
    assert sparse.coloring is shared_coloring.coloring


# ------------------------------------------------------------------------------------------ grouped fd

def _stencil_residual(x):
    return numpy.concatenate([x[:1] ** 2, x[2:] - 2 * numpy.sin(x[1:-1]) + x[:-2] * x[1:-1], x[-1:] ** 3])


@pytest.mark.parametrize("method", ["central", "forward"])
@pytest.mark.parametrize("dtype", [numpy.float64, numpy.float32])
def test_fd_jacobian_with_sparsity_equals_dense_and_exact(method, dtype):
    x = _rng().uniform(0.5, 1.5, 40).astype(dtype)
    exact = numpy.asarray(cr.jacfwd(lambda x: np.concatenate([x[:1] ** 2, x[2:] - 2 * np.sin(x[1:-1])
                                                               + x[:-2] * x[1:-1], x[-1:] ** 3]))(x))
    pattern = exact != 0
    jacobian = fd.jacobian(_stencil_residual, x, sparsity=pattern, method=method)
    assert scipy.sparse.issparse(jacobian) and jacobian.dtype == dtype and jacobian.shape == (40, 40)
    eps = numpy.finfo(dtype).eps
    tolerance = (20 * eps ** (2 / 3) if method == "central" else 20 * eps ** 0.5) * numpy.abs(exact).max()
    numpy.testing.assert_allclose(jacobian.toarray(), exact, atol=tolerance, rtol=0)
    if dtype == numpy.float64:
        dense = fd.jacobian(_stencil_residual, x)
        numpy.testing.assert_allclose(jacobian.toarray(), dense, atol=1e3 * tolerance, rtol=0)


def test_fd_jacobian_with_sparsity_of_complex_input_is_the_holomorphic_derivative():
    f = lambda z: z[1:] * z[:-1] + numpy.exp(z[1:])  # noqa: E731
    z = _rng().normal(size=6) + 1j * _rng().normal(size=6)
    pattern = numpy.eye(5, 6, dtype=bool) | numpy.eye(5, 6, k=1, dtype=bool)
    jacobian = fd.jacobian(f, z, sparsity=pattern)
    assert jacobian.dtype == numpy.complex128
    exact = cr.jacfwd(lambda z: z[1:] * z[:-1] + np.exp(z[1:]), holomorphic=True)(z)
    numpy.testing.assert_allclose(jacobian.toarray(), exact, atol=1e-8)


def test_fd_jacobian_with_sparsity_uses_one_difference_per_color():
    calls = []

    def counted(x):
        calls.append(1)
        return _stencil_residual(x)

    x = numpy.linspace(0.5, 1.5, 200)
    pattern = sparse.jacobian_sparsity(lambda x: np.concatenate([x[:1] ** 2, x[2:] - 2 * np.sin(x[1:-1])
                                                                 + x[:-2] * x[1:-1], x[-1:] ** 3]))(x)
    jacobian, colors = sparse_jacobian(counted, x, pattern, return_colors=True)
    assert len(calls) == 2 * (colors.max() + 1) == 6  # three colors, central differences


def test_fd_hessian_with_sparsity_from_gradient_and_from_values():
    jax = pytest.importorskip("jax")
    jax.config.update("jax_enable_x64", True)
    x = _rng().uniform(0.5, 1.5, 30)
    exact = numpy.asarray(jax.hessian(lambda x: jax.numpy.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2
                                                                 + (1.0 - x[:-1]) ** 2))(x))
    pattern = exact != 0
    gradient = cr.jit(cr.grad(rosenbrock))
    from_gradient = fd.hessian(rosenbrock, x, sparsity=pattern, grad=gradient)
    from_values = fd.hessian(lambda x: float(rosenbrock(x)), x, sparsity=pattern)
    for hessian, tolerance in ((from_gradient, 1e-7), (from_values, 1e-5)):
        assert scipy.sparse.issparse(hessian) and hessian.dtype == numpy.float64
        assert abs(hessian - hessian.T).max() == 0  # exactly symmetric
        numpy.testing.assert_allclose(hessian.toarray(), exact, atol=tolerance * numpy.abs(exact).max(), rtol=0)
    dense = fd.hessian(rosenbrock, x[:8], grad=cr.grad(rosenbrock))
    grouped = fd.hessian(rosenbrock, x[:8], sparsity=pattern[:8, :8], grad=cr.grad(rosenbrock))
    numpy.testing.assert_allclose(grouped.toarray(), dense, atol=1e-5)


def test_fd_hessian_with_sparsity_keeps_float32():
    x = _rng().uniform(0.5, 1.5, 12).astype(numpy.float32)
    pattern = numpy.abs(numpy.subtract.outer(numpy.arange(12), numpy.arange(12))) <= 1
    hessian = fd.hessian(rosenbrock, x, sparsity=pattern, grad=cr.grad(rosenbrock))
    assert hessian.dtype == numpy.float32
    exact = numpy.asarray(cr.hessian(rosenbrock)(x.astype(numpy.float64)))
    numpy.testing.assert_allclose(hessian.toarray(), exact, atol=2e-2 * numpy.abs(exact).max())


def test_fd_sparsity_errors_name_the_problem():
    x = numpy.ones(4)
    with pytest.raises(ValueError, match="sparsity has shape"):
        fd.jacobian(lambda x: x * 2.0, x, sparsity=numpy.eye(3))
    with pytest.raises(ValueError, match="return_info cannot be combined"):
        fd.jacobian(lambda x: x * 2.0, x, sparsity=numpy.eye(4), return_info=True)
    with pytest.raises(ValueError, match="sparsity has 3 rows"):
        fd.jacobian(lambda x: x * 2.0, x, sparsity=numpy.eye(3, 4))
    with pytest.raises(TypeError, match="complex dtype"):
        fd.hessian(lambda x: numpy.sum(x ** 2), x + 0j, sparsity=numpy.eye(4))
    with pytest.raises(ValueError, match="scalar f"):
        fd.hessian(lambda x: x ** 2, x, sparsity=numpy.eye(4))


# ------------------------------------------------------------------------------------------ jit

def test_jit_option_gives_the_same_matrices():
    x = _rng().uniform(0.5, 1.5, 60)
    f = lambda x: x[1:] * np.sin(x[:-1]) - x[1:] ** 3  # noqa: E731
    numpy.testing.assert_array_equal(sparse.jacobian(f, jit=True)(x).toarray(), sparse.jacobian(f)(x).toarray())
    numpy.testing.assert_array_equal(sparse.hessian(rosenbrock, jit=True)(x).toarray(),
                                     sparse.hessian(rosenbrock)(x).toarray())
    compiled = sparse.jacobian(f, jit=True)
    assert compiled(x.astype(numpy.float32)).dtype == numpy.float32
    with pytest.raises(TypeError, match="jit must be"):
        sparse.jacobian(f, jit="yes")
    with pytest.raises(ValueError, match="local=True"):
        sparse.hessian(rosenbrock, jit=True, local=True)


# ------------------------------------------------------------------------------------------ SciPy solvers

def test_solve_ivp_bdf_with_the_sparse_jacobian():
    size = 100
    u0 = numpy.empty(2 * size)
    u0[0::2] = 1.0 + numpy.sin(2 * numpy.pi * numpy.linspace(0, 1, size))
    u0[1::2] = 3.0
    rhs = lambda t, u: numpy.asarray(brusselator_1d(t, u))  # noqa: E731
    jac = sparse.solve_ivp_jac(brusselator_1d)
    ours = scipy.integrate.solve_ivp(rhs, (0.0, 10.0), u0, method="BDF", jac=jac, rtol=1e-8, atol=1e-10)
    assert ours.success and scipy.sparse.issparse(jac(0.0, u0)) and jac.sparsity.nnz == 3 * 2 * size + 2 * size - 4
    numpy.testing.assert_allclose(jac(0.5, ours.y[:, -1]).toarray(),
                                  cr.jacfwd(lambda u: brusselator_1d(0.5, u))(ours.y[:, -1]), rtol=1e-14, atol=1e-12)
    reference = scipy.integrate.solve_ivp(rhs, (0.0, 10.0), u0, method="Radau", rtol=1e-10, atol=1e-12)
    numpy.testing.assert_allclose(ours.y[:, -1], reference.y[:, -1], rtol=1e-5, atol=1e-7)
    assert ours.njev < ours.nfev  # the Jacobian came from jac, not from SciPy's differences
    compiled = sparse.solve_ivp_jac(brusselator_1d, jit=True)
    assert abs(compiled(0.5, ours.y[:, -1]) - jac(0.5, ours.y[:, -1])).max() == 0


def test_least_squares_with_the_sparse_pattern_and_exact_jacobian():
    size = 200
    target = numpy.linspace(1.0, 2.0, size - 1)

    def residuals(x, target):
        return np.concatenate([x[1:] * x[:-1] - target, x[:1] - 1.0])

    x0 = numpy.ones(size)
    pattern = sparse.least_squares_sparsity(residuals, x0, target)
    assert pattern.shape == (size, size) and pattern.nnz == 2 * (size - 1) + 1
    grouped = scipy.optimize.least_squares(lambda x: numpy.asarray(residuals(x, target)), x0,
                                           jac_sparsity=pattern, method="trf")
    exact = scipy.optimize.least_squares(residuals, x0, jac=sparse.least_squares_jac(residuals), args=(target,),
                                         method="trf", tr_solver="lsmr")
    for fit in (grouped, exact):
        assert fit.success
        numpy.testing.assert_allclose(numpy.asarray(residuals(fit.x, target)), 0.0, atol=1e-6)


def test_minimize_trust_constr_with_a_sparse_hessian(monkeypatch):
    given = []
    original = scipy.optimize.minimize

    def recording(*args, **kwargs):
        given.append(kwargs.get("hess"))
        return original(*args, **kwargs)

    monkeypatch.setattr(scipy.optimize, "minimize", recording)
    x0 = numpy.full(60, -0.5)
    result = cr.optimize.minimize(rosenbrock, x0, method="trust-constr", hess="sparse",
                                  options={"gtol": 1e-10, "maxiter": 3000})
    assert result.success
    numpy.testing.assert_allclose(result.x, numpy.ones(60), atol=1e-8)
    hessian = given[0](x0)
    assert scipy.sparse.issparse(hessian)
    numpy.testing.assert_allclose(hessian.toarray(), cr.hessian(rosenbrock)(x0), rtol=1e-14)
    with pytest.raises(ValueError, match="trust-constr"):
        cr.optimize.minimize(rosenbrock, x0, method="BFGS", hess="sparse")
    with pytest.raises(ValueError, match="hess must be"):
        cr.optimize.minimize(rosenbrock, x0, method="trust-constr", hess="dense")


def test_sparse_docs_examples_run(tmp_path, monkeypatch):
    import pathlib
    import re
    monkeypatch.chdir(tmp_path)  # the example writes its picture here
    page = pathlib.Path(__file__).resolve().parents[1] / "docs" / "sparse.md"
    namespace = {}
    for block in re.findall(r"```python\n(.*?)```", page.read_text(), flags=re.S):
        exec(compile(block, str(page), "exec"), namespace)  # noqa: S102  (our own documentation)
    assert (tmp_path / "sparse-brusselator-pattern.png").stat().st_size > 0
