"""chainrule.sparse: detected patterns cover every nonzero of the dense derivative (and equal it where the
structure is exact), colorings are valid, compressed derivatives equal jacfwd/hessian and JAX's."""
import numpy
import pytest
import scipy.sparse

import chainrule as cr
import chainrule.numpy as np
from chainrule import sparse
from chainrule.ops import all_primitives
from chainrule.sparse import rules


def _rng():
    return numpy.random.default_rng(7)


def brusselator(u):
    # 2-D Brusselator on an N x N periodic grid, both species stacked (n = 2 N^2)
    size = int(round((u.size // 2) ** 0.5))
    a, b, alpha = 1.0, 3.4, 10.0
    x, y = u[: size * size].reshape(size, size), u[size * size:].reshape(size, size)

    def laplacian(z):
        return (np.roll(z, 1, 0) + np.roll(z, -1, 0) + np.roll(z, 1, 1) + np.roll(z, -1, 1) - 4.0 * z)

    dx = a + x * x * y - (b + 1.0) * x + alpha * laplacian(x)
    dy = b * x - x * x * y + alpha * laplacian(y)
    return np.concatenate([dx.ravel(), dy.ravel()])


def rosenbrock(x):
    return np.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)


JACOBIAN_CASES = {
    "neighbours": lambda x: x[1:] * np.sin(x[:-1]),
    "broadcast_sum": lambda x: x * np.sum(x[:2]),
    "matrix": lambda x: numpy.diag(numpy.arange(6.0) % 2) @ x + np.exp(x),
    "reshape_transpose": lambda x: (x.reshape(2, 3).T * 2.0).ravel(),
    "cumsum_rev": lambda x: np.cumsum(x)[::-1] * x,
    "pad_concat": lambda x: np.concatenate([np.pad(x[:3], 1), x[3:] ** 2]),
    "fancy_index": lambda x: x[numpy.array([0, 0, 5, 2])] * x[numpy.array([1, 3, 3, 4])],
    "scatter": lambda x: np.zeros(8).at[numpy.array([1, 6])].set(x[:2] * x[4]),
    "scatter_add": lambda x: np.zeros(3).at[numpy.array([0, 0, 2])].add(np.sin(x[:3])),
    "reductions": lambda x: np.stack([np.max(x[:3]), np.prod(x[3:]), np.min(x)]),
    "outer": lambda x: np.outer(x[:2], x[4:]).ravel(),
    "brusselator": brusselator,
}


def _dense_nonzeros(matrix):
    return numpy.abs(numpy.asarray(matrix)) > 0


@pytest.mark.parametrize("name", sorted(JACOBIAN_CASES))
def test_jacobian_pattern_covers_the_dense_jacobian(name):
    f = JACOBIAN_CASES[name]
    x = _rng().uniform(0.5, 2.0, 8 if name == "brusselator" else 6)
    pattern = sparse.jacobian_sparsity(f)(x).toarray()
    dense = cr.jacfwd(f)(x).reshape(pattern.shape)
    assert not numpy.any(_dense_nonzeros(dense) & ~pattern)  # never a missing entry
    assert pattern.dtype == bool


def test_jacobian_pattern_is_exact_on_structured_functions():
    x = _rng().uniform(0.5, 2.0, 6)
    for name in ("neighbours", "matrix", "reshape_transpose", "pad_concat", "fancy_index", "outer"):
        f = JACOBIAN_CASES[name]
        pattern = sparse.jacobian_sparsity(f)(x).toarray()
        numpy.testing.assert_array_equal(pattern, _dense_nonzeros(cr.jacfwd(f)(x).reshape(pattern.shape)),
                                         err_msg=name)


def test_constant_matrix_zeros_are_structural():
    a = numpy.array([[1.0, 0.0, 2.0], [0.0, 0.0, 3.0]])
    pattern = sparse.jacobian_sparsity(lambda x: a @ x)(numpy.ones(3)).toarray()
    numpy.testing.assert_array_equal(pattern, a != 0)


def test_local_pattern_follows_the_values():
    f = lambda x: np.maximum(x, 1.0) + np.where(x[::-1] > 0, x, 0.0)
    x = numpy.array([2.0, 0.5, -1.0, 3.0])
    global_pattern = sparse.jacobian_sparsity(f)(x).toarray()
    local_pattern = sparse.jacobian_sparsity(f, local=True)(x).toarray()
    assert numpy.all(global_pattern >= local_pattern)
    dense = _dense_nonzeros(cr.jacfwd(f)(x))
    numpy.testing.assert_array_equal(local_pattern, dense)
    numpy.testing.assert_array_equal(global_pattern, numpy.eye(4, dtype=bool))


def test_local_pattern_of_max_keeps_only_the_maximum():
    x = numpy.array([1.0, 5.0, 2.0])
    assert sparse.jacobian_sparsity(lambda x: np.max(x), local=True)(x).toarray().tolist() == [[False, True, False]]
    assert sparse.jacobian_sparsity(lambda x: np.max(x))(x).toarray().all()


HESSIAN_CASES = {
    "rosenbrock": rosenbrock,
    "products": lambda x: np.sum(x[2:] * x[:-2]) + x[0] * x[1] * x[2],
    "division": lambda x: np.sum(x[:3] / x[3:]),
    "linear_and_kinks": lambda x: np.sum(np.abs(x) + 3.0 * x) + np.max(x) * x[0],
    "quadratic_form": lambda x: x @ (numpy.diag(numpy.ones(5), 1) + numpy.eye(6)) @ x,
    "nonlinear_reduction": lambda x: np.exp(np.sum(x[:3])) + np.prod(x[3:]),
}


@pytest.mark.parametrize("name", sorted(HESSIAN_CASES))
def test_hessian_pattern_covers_the_dense_hessian(name):
    f = HESSIAN_CASES[name]
    x = _rng().uniform(0.5, 2.0, 6)
    pattern = sparse.hessian_sparsity(f)(x).toarray()
    dense = _dense_nonzeros(cr.hessian(f)(x))
    assert not numpy.any(dense & ~pattern)
    numpy.testing.assert_array_equal(pattern, pattern.T)


def test_hessian_pattern_is_exact_where_the_structure_is():
    x = _rng().uniform(0.5, 2.0, 6)
    for name in ("rosenbrock", "products", "division", "quadratic_form"):
        f = HESSIAN_CASES[name]
        numpy.testing.assert_array_equal(sparse.hessian_sparsity(f)(x).toarray(), _dense_nonzeros(cr.hessian(f)(x)),
                                         err_msg=name)
    # linear and piecewise-linear parts add no pairs: only max(x) * x[0] couples
    pattern = sparse.hessian_sparsity(HESSIAN_CASES["linear_and_kinks"])(x).toarray()
    assert not pattern[1:, 1:].any()


def test_dense_primitives_are_reported_and_cover_everything():
    f = lambda x: np.linalg.solve(x[:4].reshape(2, 2), x[4:])
    x = numpy.array([2.0, 0.5, 0.1, 3.0, 1.0, 2.0])
    assert set(sparse.dense_primitives(f)(x)) == {"solve"}
    pattern = sparse.jacobian_sparsity(f)(x).toarray()
    assert pattern.all()


def test_every_primitive_has_a_sparsity_rule():
    missing = []
    for name, primitive in sorted(all_primitives().items()):
        kind = rules.rule_kind(primitive)
        if kind == "dense" and primitive not in rules.DENSE:
            missing.append(name)
    assert not missing, f"primitives with no sparsity rule and no DENSE reason in sparse/rules.py: {missing}"


def test_detection_errors_name_the_problem():
    with pytest.raises(TypeError, match="dtype int64"):
        sparse.jacobian_sparsity(lambda x: x * 2.0)(numpy.arange(3))
    with pytest.raises(ValueError, match="must return a scalar"):
        sparse.hessian_sparsity(lambda x: x * x)(numpy.ones(3))


def test_detection_scales_to_ten_thousand_inputs():
    x = numpy.ones(10_000)
    pattern = sparse.hessian_sparsity(rosenbrock)(x)
    assert pattern.shape == (10_000, 10_000) and pattern.nnz == 3 * 10_000 - 2


# ------------------------------------------------------------------------------------------ coloring

def _laplacian(*sizes):
    matrix = None
    for axis, size in enumerate(sizes):
        term = scipy.sparse.diags([1.0, 1.0, 1.0], [-1, 0, 1], shape=(size, size))
        for other_axis, other in enumerate(sizes):
            if other_axis != axis:
                factor = scipy.sparse.eye(other)
                term = scipy.sparse.kron(term, factor) if other_axis > axis else scipy.sparse.kron(factor, term)
        matrix = term if matrix is None else matrix + term
    return scipy.sparse.csr_array(matrix)


def _arrow(size):
    matrix = scipy.sparse.lil_array((size, size))
    matrix[0, :] = 1
    matrix[:, 0] = 1
    matrix.setdiag(1)
    return scipy.sparse.csr_array(matrix)


def _banded(size, half_bandwidth):
    return scipy.sparse.csr_array(scipy.sparse.diags([numpy.ones(size - abs(k)) for k in
                                                       range(-half_bandwidth, half_bandwidth + 1)],
                                                      range(-half_bandwidth, half_bandwidth + 1)))


def _random(size, density, seed):
    matrix = scipy.sparse.random(size, size, density=density, random_state=seed) + scipy.sparse.eye(size)
    return scipy.sparse.csr_array(matrix)


PATTERNS = {
    "laplacian_2d": _laplacian(12, 12),
    "laplacian_3d": _laplacian(6, 6, 6),
    "arrow": _arrow(40),
    "banded": _banded(200, 2),
    "random_sparse": _random(300, 0.005, 1),
    "random_denser": _random(150, 0.05, 2),
}


@pytest.mark.parametrize("name", sorted(PATTERNS))
@pytest.mark.parametrize("order", ["natural", "largest_first", "smallest_last", "best"])
def test_colorings_are_valid(name, order):
    pattern = PATTERNS[name]
    for kind in ("column", "row"):
        assert sparse.is_structurally_orthogonal(pattern, sparse.coloring(pattern, kind, order), kind)
    symmetric = pattern + pattern.T
    assert sparse.is_star_coloring(symmetric, sparse.coloring(symmetric, "star", order))
    assert sparse.is_acyclic_coloring(symmetric, sparse.coloring(symmetric, "acyclic", order))


def test_checks_reject_bad_colorings():
    pattern = _banded(10, 1)
    assert not sparse.is_structurally_orthogonal(pattern, numpy.arange(10) % 2)
    assert not sparse.is_star_coloring(_banded(10, 1), numpy.arange(10) % 2)  # path 0-1-2-3 two-colored
    cycle = scipy.sparse.csr_array(numpy.roll(numpy.eye(4), 1, axis=1) + numpy.roll(numpy.eye(4), -1, axis=1))
    assert not sparse.is_acyclic_coloring(cycle, [0, 1, 0, 1])
    assert sparse.is_acyclic_coloring(cycle, [0, 1, 0, 2])


def test_known_color_counts():
    assert sparse.coloring(_banded(100, 2), "column").max() + 1 == 5
    assert sparse.coloring(_banded(100, 1), "star").max() + 1 == 3
    assert sparse.coloring(_banded(100, 2), "acyclic").max() + 1 == 3
    arrow = _arrow(30)
    assert sparse.coloring(arrow, "star").max() + 1 == 2  # the hub alone, every leaf together


@pytest.mark.parametrize("name", sorted(PATTERNS))
def test_column_colors_never_exceed_networkx_greedy(name):
    import networkx  # in the test extra: a missing one fails loudly
    pattern = PATTERNS[name]
    graph = networkx.from_scipy_sparse_array(scipy.sparse.csr_array(pattern.T @ pattern))
    graph.remove_edges_from(networkx.selfloop_edges(graph))
    best = min(max(networkx.greedy_color(graph, strategy).values()) + 1
               for strategy in ("largest_first", "smallest_last", "DSATUR", "connected_sequential_bfs"))
    assert sparse.coloring(pattern, "column").max() + 1 <= best  # the default order
    assert sparse.coloring(pattern, "column", "best").max() + 1 <= best


@pytest.mark.parametrize("size, density", [(150, 0.05), (500, 0.02), (1000, 0.01), (1000, 0.003)])
def test_default_colors_of_irregular_patterns_never_exceed_networkx_greedy(size, density):
    import networkx
    for seed in range(2):
        pattern = scipy.sparse.random(size, size, density, random_state=seed, format="csr") + scipy.sparse.eye(size)
        pattern = scipy.sparse.csr_array(pattern != 0)
        product = scipy.sparse.csr_array(pattern.T.astype(int) @ pattern.astype(int))
        graph = networkx.from_scipy_sparse_array(product)
        graph.remove_edges_from(networkx.selfloop_edges(graph))
        best = min(max(networkx.greedy_color(graph, strategy).values()) + 1
                   for strategy in ("largest_first", "smallest_last", "DSATUR", "connected_sequential_bfs"))
        colors = sparse.coloring(pattern, "column")
        assert sparse.is_structurally_orthogonal(pattern, colors)
        assert colors.max() + 1 <= best


def test_default_colors_of_large_irregular_patterns_never_exceed_networkx_degree_orders():
    # beyond the budget of every sequential order (here 325,000 column pairs), "auto" still runs largest-first,
    # smallest-last and DSATUR on irregular patterns; the vectorized pass alone used 32 colors here, networkx's
    # largest-first 29, DSATUR 27
    import networkx
    pattern = scipy.sparse.random(3000, 3000, 0.003, random_state=1, format="csr") + scipy.sparse.eye(3000)
    pattern = scipy.sparse.csr_array(pattern != 0)
    graph = networkx.from_scipy_sparse_array(scipy.sparse.csr_array(pattern.T.astype(int) @ pattern.astype(int)))
    graph.remove_edges_from(networkx.selfloop_edges(graph))
    best = min(max(networkx.greedy_color(graph, strategy).values()) + 1
               for strategy in ("largest_first", "smallest_last"))
    colors = sparse.coloring(pattern, "column")
    assert sparse.is_structurally_orthogonal(pattern, colors)
    assert colors.max() + 1 <= best
    assert colors.max() + 1 <= sparse.coloring(pattern, "column", "dsatur").max() + 1


def test_coloring_errors():
    with pytest.raises(ValueError, match="square, symmetric"):
        sparse.coloring(numpy.ones((2, 3)), "star")
    with pytest.raises(ValueError, match="kind must be"):
        sparse.coloring(numpy.eye(2), "diagonal")


# ------------------------------------------------------------------------------------------ compression

@pytest.mark.parametrize("mode", ["auto", "forward", "reverse", "bidirectional"])
@pytest.mark.parametrize("dtype", [numpy.float64, numpy.float32])
def test_sparse_jacobian_equals_jacfwd(mode, dtype):
    f = brusselator
    x = _rng().uniform(0.5, 2.0, 2 * 5 * 5).astype(dtype)
    dense = cr.jacfwd(f)(x)
    # exact to rounding: reverse mode may add the same terms in another order
    tolerance = 4 * numpy.finfo(dtype).eps
    sparse_jacobian = sparse.jacobian(f, mode=mode)
    for _ in range(3):  # traced on the first call, compiled code from the second
        jacobian = sparse_jacobian(x)
        assert scipy.sparse.issparse(jacobian) and jacobian.dtype == dtype and jacobian.format == "csr"
        numpy.testing.assert_allclose(jacobian.toarray(), dense, rtol=tolerance, atol=tolerance)


def test_sparse_jacobian_equals_jax():
    jax = pytest.importorskip("jax")
    jax.config.update("jax_enable_x64", True)
    jnp = jax.numpy
    x = _rng().uniform(0.5, 2.0, 30)
    ours = sparse.jacobian(lambda x: x[1:] * np.sin(x[:-1]) - x[1:] ** 3, format="csc")(x)
    theirs = jax.jacfwd(lambda x: x[1:] * jnp.sin(x[:-1]) - x[1:] ** 3)(jnp.asarray(x))
    assert ours.format == "csc"
    numpy.testing.assert_allclose(ours.toarray(), numpy.asarray(theirs), rtol=1e-15, atol=0)


def test_sparse_jacobian_of_complex_input():
    f = lambda z: z[1:] * z[:-1] + np.exp(z[1:])
    z = _rng().normal(size=5) + 1j * _rng().normal(size=5)
    jacobian = sparse.jacobian(f)(z)
    assert jacobian.dtype == numpy.complex128
    numpy.testing.assert_allclose(jacobian.toarray(), cr.jacfwd(f, holomorphic=True)(z), rtol=1e-14)


@pytest.mark.parametrize("kind", ["star", "acyclic"])
@pytest.mark.parametrize("dtype", [numpy.float64, numpy.float32])
def test_sparse_hessian_equals_hessian(kind, dtype):
    f = lambda x: rosenbrock(x) + np.sum(x[2:] * x[1:-1] * x[:-2])
    x = _rng().uniform(0.5, 2.0, 40).astype(dtype)
    dense = cr.hessian(f)(x)
    tolerance = 1e-12 if dtype == numpy.float64 else 1e-4
    sparse_hessian = sparse.hessian(f, coloring_kind=kind)
    for _ in range(3):
        hessian = sparse_hessian(x)
        assert hessian.dtype == dtype
        numpy.testing.assert_allclose(hessian.toarray(), dense, rtol=tolerance,
                                      atol=tolerance * numpy.abs(dense).max())


@pytest.mark.parametrize("name", sorted(JACOBIAN_CASES) + [f"hessian:{n}" for n in sorted(HESSIAN_CASES)])
@pytest.mark.parametrize("dtype", [numpy.float64, numpy.float32])
def test_every_test_function_through_every_way_of_running_the_pass(name, dtype):
    # the default compiles the pass on the second call of a structure: each case is called three times, each
    # way, and compared with the dense derivative
    hessian = name.startswith("hessian:")
    f = HESSIAN_CASES[name[8:]] if hessian else JACOBIAN_CASES[name]
    x = _rng().uniform(0.5, 2.0, 8 if name == "brusselator" else 6).astype(dtype)
    dense = numpy.asarray(cr.hessian(f)(x) if hessian else cr.jacfwd(f)(x)).reshape(-1, x.size)
    tolerance = 1e-12 if dtype == numpy.float64 else 2e-5
    for jit in ("auto", False, True):
        derivative = (sparse.hessian if hessian else sparse.jacobian)(f, jit=jit)
        for _ in range(3):
            matrix = derivative(x)
            # a float32 x with a float64 output (scatter into float64 zeros) is float64 in forward mode, float32
            # (x's dtype) in reverse mode, as jacfwd and jacrev differ (JAX's too)
            assert matrix.dtype == dense.dtype or matrix.dtype == x.dtype
            numpy.testing.assert_allclose(matrix.toarray(), dense, rtol=tolerance,
                                          atol=tolerance * max(1.0, numpy.abs(dense).max()))


def test_the_default_reads_what_the_function_closes_over_at_every_call():
    # jit="auto" stages f at each call: a closed-over array that changes is seen, as in eager mode; jit=True
    # compiles it in once (jax.jit's semantics, documented)
    state = {"weights": numpy.arange(1.0, 6.0)}
    f = lambda x: x[1:] * x[:-1] * state["weights"][1:] + np.sin(x)[1:]  # noqa: E731
    x = numpy.linspace(0.1, 0.9, 5)
    default, compiled_once = sparse.jacobian(f), sparse.jacobian(f, jit=True)
    first = compiled_once(x).toarray()
    for scale in (1.0, 2.0, -3.0, 2.0):
        state["weights"] = numpy.arange(1.0, 6.0) * scale
        numpy.testing.assert_array_equal(default(x).toarray(), cr.jacfwd(f)(x))
        numpy.testing.assert_array_equal(compiled_once(x).toarray(), first)
    hessian = sparse.hessian(lambda x: np.sum(x[1:] * x[:-1] * state["weights"][1:]))
    for scale in (1.0, 2.0, 5.0):
        state["weights"] = numpy.arange(1.0, 6.0) * scale
        expected = cr.hessian(lambda x: np.sum(x[1:] * x[:-1] * state["weights"][1:]))(x)
        numpy.testing.assert_array_equal(hessian(x).toarray(), expected)


def test_sparse_hessian_equals_jax():
    jax = pytest.importorskip("jax")
    jax.config.update("jax_enable_x64", True)
    jnp = jax.numpy
    x = _rng().uniform(0.5, 2.0, 50)
    ours = sparse.hessian(rosenbrock)(x)
    theirs = jax.hessian(lambda x: jnp.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2))(jnp.asarray(x))
    numpy.testing.assert_allclose(ours.toarray(), numpy.asarray(theirs), rtol=1e-14, atol=1e-12)


def test_patterns_are_cached_per_shape_and_given_patterns_are_used():
    f = JACOBIAN_CASES["neighbours"]
    jacobian = sparse.jacobian(f)
    jacobian(numpy.ones(6))
    jacobian(numpy.full(6, 2.0))
    jacobian(numpy.ones(6, dtype=numpy.float32))
    assert len(jacobian.plans) == 2
    given = sparse.jacobian_sparsity(f)(numpy.ones(6))
    numpy.testing.assert_allclose(sparse.jacobian(f, sparsity=given)(numpy.arange(1.0, 7.0)).toarray(),
                                  cr.jacfwd(f)(numpy.arange(1.0, 7.0)))


def test_compression_errors():
    with pytest.raises(ValueError, match="sparsity has shape"):
        sparse.jacobian(lambda x: x * 2.0, sparsity=numpy.eye(3))(numpy.ones(4))
    with pytest.raises(TypeError, match="complex dtype"):
        sparse.hessian(rosenbrock)(numpy.ones(4) + 0j)
    with pytest.raises(ValueError, match="mode must be"):
        sparse.jacobian(rosenbrock, mode="sideways")


def test_show_draws_the_pattern(tmp_path):
    pattern = _laplacian(5, 5)
    path = sparse.show(pattern, sparse.coloring(pattern), str(tmp_path / "pattern.png"))
    assert (tmp_path / "pattern.png").stat().st_size > 0 and path.endswith("pattern.png")
    with pytest.raises(ValueError, match="one color per column"):
        sparse.show(pattern, [0, 1], str(tmp_path / "bad.png"))


@pytest.mark.parametrize("mode", ["auto", "forward", "reverse", "bidirectional"])
@pytest.mark.parametrize("dtype", [numpy.float64, numpy.float32, numpy.complex128])
def test_every_mode_on_a_jacobian_with_more_outputs_than_inputs(mode, dtype):
    # seven outputs of six inputs: forward mode read the row colors of a column coloring and failed
    f = lambda x: np.concatenate([x[1:] * np.sin(x[:-1]), np.cumsum(x)[-1:] * x[:1], np.exp(x[2:3])])
    x = (numpy.linspace(0.1, 1.0, 6) + (0.2j if dtype == numpy.complex128 else 0)).astype(dtype)
    expected = numpy.asarray(cr.jacfwd(f, holomorphic=dtype == numpy.complex128)(x))
    for jit in (False, True, "auto"):
        jacobian = sparse.jacobian(f, mode=mode, jit=jit)
        for _ in range(3):  # "auto" compiles on the second call of a structure
            J = jacobian(x)
            assert J.shape == (7, 6) and J.dtype == expected.dtype
            numpy.testing.assert_allclose(J.toarray(), expected, rtol=1e-5 if dtype == numpy.float32 else 1e-13)


def test_a_traced_point_is_refused_with_the_way_out():
    f = lambda x: x[1:] * x[:-1]
    with pytest.raises(TypeError, match="scipy.sparse matrix of numbers.*jacfwd"):
        cr.grad(lambda x: np.sum(sparse.jacobian(f)(x).data))(numpy.ones(4))
    with pytest.raises(TypeError, match="traced value"):
        cr.vmap(lambda x: sparse.hessian(lambda y: np.sum(y ** 3))(x))(numpy.ones((2, 3)))
