"""The public-function table: how a user calls every public function of ``chainrule.numpy``,
``chainrule.numpy.linalg``, ``chainrule.numpy.fft`` and ``chainrule.scipy.*``, for the differential test in
``test_public_functions.py``.

A case names a function by its dotted path (``numpy.sin``, ``scipy.stats.norm.logpdf``): the same path names
the reference (NumPy/SciPy) and, under ``jax.``, the oracle where JAX has it. Arguments are literals, held
fixed, or ``A(kind)`` arrays drawn per dtype (seeded by the case's id, so cases never move each other's
points); only the arrays are differentiated. Points avoid kinks and domain edges.

``EXEMPT`` names the public callables that are not functions of arrays (constructors of constants, dtype and
shape utilities) and why; every other public callable must have a case."""
import dataclasses
import zlib

import numpy

REAL = ("float64", "float32")
ALL = ("float64", "float32", "complex128")


@dataclasses.dataclass(frozen=True)
class A:
    """An array argument: ``kind`` picks its values (see ``draw``), ``shape`` overrides the kind's shape."""
    kind: str
    shape: tuple = None


SHAPES = {"v": (4,), "w": (4,), "p": (4,), "u": (4,), "g": (4,), "x": (), "px": (), "m": (3, 4), "mt": (4, 3),
          "pm": (3, 4), "s": (3, 3), "h": (3, 3), "t": (2, 3, 4), "ps": (3, 3), "lt": (3, 3), "stoch": (4,)}


def draw(kind, shape, dtype, rng):
    """Values of one kind: v/w/m/mt/t/x in ±(0.2..1.2), p/pm/px positive, u in (0.1, 0.9), g above 1, s well
    conditioned, h Hermitian positive definite, lt lower triangular, stoch positive summing to one."""
    shape = SHAPES[kind] if shape is None else shape
    complex_ = numpy.dtype(dtype).kind == "c"

    def real(low, high):
        return rng.uniform(low, high, shape)

    def imag(scale):
        return 1j * rng.uniform(-scale, scale, shape) if complex_ else 0.0

    if kind in ("v", "w", "m", "mt", "t", "x"):
        values = rng.choice([-1.0, 1.0], shape) * real(0.2, 1.2) + imag(0.6)
    elif kind in ("p", "pm", "px"):
        values = real(0.5, 2.0) + imag(0.4)
    elif kind == "u":
        values = real(0.1, 0.9) + imag(0.05)
    elif kind == "g":
        values = real(1.3, 2.5) + imag(0.2)
    elif kind in ("s", "ps"):
        values = real(-1.0, 1.0) + imag(0.5) + 3.0 * numpy.eye(shape[-1])
    elif kind == "lt":
        values = numpy.tril(real(-1.0, 1.0) + imag(0.5)) + 3.0 * numpy.eye(shape[-1])
    elif kind == "h":
        a = real(-1.0, 1.0) + imag(1.0)
        values = a @ numpy.conj(numpy.swapaxes(a, -1, -2)) + shape[-1] * numpy.eye(shape[-1])
    elif kind == "stoch":
        values = real(0.5, 2.0)
        values = values / values.sum()
    else:
        raise KeyError(kind)
    return numpy.asarray(values, dtype=dtype)


@dataclasses.dataclass(frozen=True)
class Case:
    path: str                    # "numpy.sin", "scipy.stats.norm.logpdf"
    args: tuple = ()
    kwargs: dict = dataclasses.field(default_factory=dict)
    dtypes: tuple = ALL
    differentiable: bool = True  # False: values only (indices, booleans, integers out)
    jax: object = "same"         # "same": jax.<path> when it exists; None: finite differences; or a function
    gauge: object = None         # maps outputs to a gauge-invariant form (eigenvectors, singular vectors)
    stages: bool = True          # False: the result's type depends on values: jit and vmap must refuse clearly
    label: str = ""

    @property
    def id(self):
        return f"{self.path}[{self.label}]" if self.label else self.path

    def rng(self, dtype):
        return numpy.random.default_rng(zlib.crc32(f"{self.id}/{dtype}".encode()))


def cases(path_prefix, names, args, dtypes=ALL, **options):
    return [Case(f"{path_prefix}.{name}", args, dtypes=dtypes, **options) for name in names.split()]


V, W, P, U, X, M, S, H, T = A("v"), A("w"), A("p"), A("u"), A("x"), A("m"), A("s"), A("h"), A("t")


# Gauges take the outputs and the array module (chainrule.numpy or jax.numpy) to compute with.
def eigh_gauge(out, xp):
    """Eigenvalues and |v|² of eigenvectors (their phases are arbitrary)."""
    w, v = out
    return w, xp.real(v * xp.conj(v))


def svd_gauge(out, xp):
    """Singular values and |u_ij|², |v_ij|² (singular vectors' phases are arbitrary)."""
    u, s, vh = out
    return xp.real(u * xp.conj(u)), s, xp.real(vh * xp.conj(vh))


def sorted_real_eigenvalues(out, xp):
    w = out[0] if isinstance(out, tuple) else out
    return xp.sort(xp.real(w))


def first(out, xp):
    return out[0]


def upper(out, xp):
    return xp.triu(out[0])


def jax_cho_factor(a, **kwargs):
    """JAX's cho_factor of the Hermitian part, which is what chainrule's (like its cholesky) reads."""
    import jax.numpy as jnp
    import jax.scipy.linalg
    return jax.scipy.linalg.cho_factor((a + jnp.conj(jnp.swapaxes(a, -1, -2))) / 2, **kwargs)


def jax_vstack(arrays):
    """JAX has no row_stack (NumPy's alias of vstack)."""
    import jax.numpy as jnp
    return jnp.vstack(arrays)


NUMPY = [
    # elementwise, real and complex
    *cases("numpy", "sin cos tan sinh cosh tanh arctan arcsinh exp exp2 expm1 square negative positive conj "
           "conjugate real imag", (V,)),
    *cases("numpy", "arcsin arccos arctanh", (U,)),
    *cases("numpy", "arccosh", (A("g"),)),
    *cases("numpy", "log log2 log10 log1p sqrt reciprocal", (P,)),
    *cases("numpy", "abs absolute", (V,)),
    *cases("numpy", "angle", (P,), dtypes=("complex128",)),
    *cases("numpy", "sinc", (V,), dtypes=REAL),
    *cases("numpy", "cbrt deg2rad degrees rad2deg radians fabs sign", (V,), dtypes=REAL),
    *cases("numpy", "floor ceil rint trunc fix", (A("v"),), dtypes=REAL),
    *cases("numpy", "round around", (V,), dtypes=REAL),
    Case("numpy.round", (V,), {"decimals": 1}, dtypes=REAL, label="decimals"),
    Case("numpy.nan_to_num", (V,), dtypes=ALL),
    *cases("numpy", "add subtract multiply divide true_divide", (V, W)),
    Case("numpy.multiply", (M, A("v", (4,))), label="broadcast"),
    Case("numpy.power", (P, V), dtypes=ALL),
    Case("numpy.power", (P, 3), dtypes=ALL, label="int"),
    Case("numpy.float_power", (P, V), dtypes=ALL),
    *cases("numpy", "arctan2 hypot logaddexp logaddexp2 maximum minimum fmax fmin copysign", (V, W), dtypes=REAL),
    Case("numpy.logaddexp2", (V, 2.0), dtypes=REAL, label="python-scalar"),
    *cases("numpy", "mod remainder fmod floor_divide", (A("v"), A("p")), dtypes=REAL),
    Case("numpy.heaviside", (V, 0.5), dtypes=REAL),
    Case("numpy.clip", (V, -0.5, 0.5), dtypes=REAL),
    Case("numpy.where", (numpy.array([True, False, True, False]), V, W)),
    *cases("numpy", "equal not_equal less less_equal greater greater_equal", (V, W), dtypes=REAL,
           differentiable=False),
    *cases("numpy", "logical_and logical_or logical_xor", (V, W), dtypes=REAL, differentiable=False),
    *cases("numpy", "logical_not isnan isinf isfinite", (V,), differentiable=False),
    *cases("numpy", "isclose", (V, V), differentiable=False),
    *cases("numpy", "allclose array_equal", (V, V), differentiable=False, jax=None),
    # reductions
    *cases("numpy", "sum prod mean var std nansum nanprod nanmean nanvar nanstd", (M,)),
    *cases("numpy", "sum prod mean nansum nanmean", (M,), label="axis", kwargs={"axis": 1}),
    *cases("numpy", "sum mean var std", (T,), label="axes-keepdims", kwargs={"axis": (0, 2), "keepdims": True}),
    *cases("numpy", "var std nanvar nanstd", (M,), label="ddof", kwargs={"axis": 0, "ddof": 1}),
    *cases("numpy", "max min amax amin ptp nanmax nanmin", (M,), dtypes=REAL),
    *cases("numpy", "max min", (M,), dtypes=REAL, label="axis", kwargs={"axis": 0}),
    Case("numpy.average", (M,), {"axis": 1, "weights": numpy.array([1.0, 2.0, 3.0, 4.0])}),
    Case("numpy.average", (M,), label="plain"),
    *cases("numpy", "cumsum cumprod nancumsum nancumprod", (M,), label="axis", kwargs={"axis": 1}),
    *cases("numpy", "cumsum cumprod", (V,)),
    Case("numpy.cumulative_sum", (M,), {"axis": 0}),
    *cases("numpy", "median", (M,), dtypes=REAL),
    Case("numpy.median", (M,), {"axis": 1}, dtypes=REAL, label="axis"),
    Case("numpy.quantile", (M, 0.3), dtypes=REAL),
    Case("numpy.quantile", (M, numpy.array([0.2, 0.7])), {"axis": 1}, dtypes=REAL, label="axis"),
    Case("numpy.percentile", (M, 40.0), {"axis": 0}, dtypes=REAL),
    *cases("numpy", "argmax argmin argsort", (M,), dtypes=REAL, differentiable=False),
    Case("numpy.argpartition", (V, 2), dtypes=REAL, differentiable=False, jax=None),
    # shaping
    Case("numpy.reshape", (M, (2, 6))),
    Case("numpy.ravel", (M,)),
    Case("numpy.transpose", (T,)),
    Case("numpy.transpose", (T, (1, 0, 2)), label="axes"),
    Case("numpy.swapaxes", (T, 0, 2)),
    Case("numpy.moveaxis", (T, 0, -1)),
    Case("numpy.expand_dims", (M, 1)),
    Case("numpy.squeeze", (A("m", (3, 1, 4)),)),
    Case("numpy.broadcast_to", (V, (3, 4))),
    Case("numpy.concatenate", ([M, A("m", (2, 4))],)),
    Case("numpy.concatenate", ([M, M],), {"axis": 1}, label="axis"),
    *cases("numpy", "stack vstack hstack dstack column_stack", ([V, W],)),
    Case("numpy.row_stack", ([V, W],), jax=jax_vstack),
    Case("numpy.stack", ([M, M],), {"axis": 2}, label="axis"),
    Case("numpy.split", (A("v", (6,)), 3)),
    Case("numpy.vsplit", (A("m", (4, 3)), 2)),
    Case("numpy.hsplit", (A("m", (3, 4)), [1, 3])),
    Case("numpy.dsplit", (A("t", (2, 3, 4)), 2)),
    Case("numpy.rollaxis", (T, 2)),
    Case("numpy.rollaxis", (T, 2, 1), label="start"),
    Case("numpy.select", ([numpy.array([True, False, False, True]), numpy.array([False, True, False, True])],
                          [V, W], 0.5), jax=None),
    Case("numpy.real_if_close", (V,), dtypes=REAL),
    Case("numpy.real_if_close", (V,), dtypes=("complex128",), stages=False, label="complex"),
    Case("numpy.r_", (V, W, 0.5), jax=None),
    Case("numpy.c_", (V, W), jax=None),
    Case("numpy.split", (M, [1, 3]), {"axis": 1}, label="indices"),
    Case("numpy.array_split", (A("v", (7,)), 3)),
    Case("numpy.tile", (V, (2, 1))),
    Case("numpy.repeat", (V, 2)),
    Case("numpy.repeat", (M, numpy.array([1, 0, 2])), {"axis": 0}, label="counts"),
    *cases("numpy", "flip fliplr flipud", (M,)),
    Case("numpy.flip", (T,), {"axis": (0, 2)}, label="axes"),
    Case("numpy.roll", (V, 1)),
    Case("numpy.roll", (M, -1), {"axis": 1}, label="axis"),
    Case("numpy.rot90", (M,)),
    Case("numpy.rot90", (M, 3), label="k"),
    Case("numpy.pad", (M, ((1, 0), (0, 2)))),
    Case("numpy.pad", (V, 2), {"mode": "reflect"}, label="reflect"),
    Case("numpy.pad", (V, (1, 2)), {"mode": "edge"}, label="edge"),
    Case("numpy.diag", (V,)),
    Case("numpy.diag", (S,), label="extract"),
    Case("numpy.diagonal", (T, 1, 1, 2)),
    *cases("numpy", "triu tril", (S,)),
    Case("numpy.trace", (M,)),
    Case("numpy.take", (V, numpy.array([0, 2, 2]))),
    Case("numpy.take", (M, numpy.array([1, 0])), {"axis": 0}, label="axis"),
    Case("numpy.take_along_axis", (M, numpy.array([[0, 1], [3, 2], [1, 1]]), 1)),
    Case("numpy.sort", (M,), dtypes=REAL),
    Case("numpy.sort", (M,), {"axis": 0}, dtypes=REAL, label="axis"),
    Case("numpy.partition", (V, 2), dtypes=REAL, jax=None),
    Case("numpy.meshgrid", (V, A("w", (3,)))),
    Case("numpy.meshgrid", (V, A("w", (3,))), {"indexing": "ij"}, label="ij"),
    *cases("numpy", "atleast_1d atleast_2d atleast_3d", (X,)),
    Case("numpy.block", ([[S, A("m", (3, 1))], [A("m", (1, 3)), A("x", (1, 1))]],)),
    Case("numpy.append", (V, W)),
    Case("numpy.insert", (V, 1, 5.0), jax=None),
    Case("numpy.delete", (V, 1)),
    Case("numpy.broadcast_arrays", (V, A("m", (3, 1)))),
    Case("numpy.copy", (M,)),
    # products
    Case("numpy.dot", (V, W)),
    Case("numpy.dot", (M, V), label="matrix-vector"),
    Case("numpy.vdot", (V, W)),
    Case("numpy.inner", (M, A("m", (2, 4)))),
    Case("numpy.outer", (V, A("w", (3,)))),
    Case("numpy.matmul", (M, A("mt"))),
    Case("numpy.matmul", (T, A("mt")), label="batched"),
    Case("numpy.tensordot", (T, A("m", (4, 3, 2)), ((1, 2), (1, 0)))),
    Case("numpy.tensordot", (M, A("mt"), 1), label="int"),
    Case("numpy.einsum", ("ij,jk->ik", M, A("mt"))),
    Case("numpy.einsum", ("ii", S), label="trace"),
    Case("numpy.einsum", ("bij,j->bi", T, V), label="batched"),
    Case("numpy.kron", (A("m", (2, 2)), A("m", (2, 3)))),
    Case("numpy.cross", (A("v", (3,)), A("w", (3,)))),
    Case("numpy.cross", (A("m", (4, 3)), A("m", (4, 3))), label="rows"),
    # calculus, polynomials, statistics
    Case("numpy.diff", (V,)),
    Case("numpy.diff", (M,), {"n": 2, "axis": 1}, label="n-axis"),
    Case("numpy.ediff1d", (V,)),
    Case("numpy.gradient", (A("v", (5,)),)),
    Case("numpy.trapezoid", (V,), jax=None),
    Case("numpy.trapezoid", (V,), {"x": numpy.array([0.0, 0.5, 1.5, 2.0])}, jax=None, label="x"),
    Case("numpy.interp", (A("v", (3,)), numpy.array([-1.5, -0.3, 0.4, 1.5]), A("w")), dtypes=REAL),
    Case("numpy.convolve", (V, A("w", (3,)))),
    Case("numpy.convolve", (V, A("w", (3,)), "same"), label="same"),
    Case("numpy.correlate", (V, A("w", (3,)))),
    Case("numpy.correlate", (V, A("w", (3,)), "full"), label="full"),
    Case("numpy.polyval", (A("w", (3,)), V)),
    Case("numpy.polyfit", (numpy.array([0.0, 0.5, 1.0, 1.5, 2.0]), A("v", (5,)), 2), dtypes=("float64",)),
    Case("numpy.vander", (V,)),
    Case("numpy.vander", (V, 3), label="N"),
    Case("numpy.cov", (M,)),
    Case("numpy.cov", (M,), {"rowvar": False, "ddof": 0}, label="rowvar"),
    Case("numpy.corrcoef", (M,)),
    # values only
    Case("numpy.searchsorted", (numpy.array([-1.0, 0.0, 0.5, 1.0]), V), dtypes=REAL, differentiable=False),
    Case("numpy.digitize", (V, numpy.array([-1.0, 0.0, 0.5, 1.0])), dtypes=REAL, differentiable=False),
    Case("numpy.histogram", (V,), {"bins": 3}, dtypes=REAL, differentiable=False),
    Case("numpy.unravel_index", (numpy.array([1, 5, 7]), (3, 4)), dtypes=("float64",), differentiable=False),
    Case("numpy.ravel_multi_index", ((numpy.array([0, 2]), numpy.array([1, 3])), (3, 4)), dtypes=("float64",),
         differentiable=False),
    Case("numpy.linspace", (X, A("x"), 5)),
    Case("numpy.linspace", (V, A("w")), {"num": 3, "axis": 1}, label="arrays-axis"),
    Case("numpy.logspace", (X, A("x"), 4), dtypes=REAL),
    Case("numpy.geomspace", (A("px"), A("px"), 4), dtypes=REAL),
    # constructors that take values
    *cases("numpy", "array asarray", (V,)),
    Case("numpy.astype", (V, "float32"), dtypes=("float64",)),
    *cases("numpy", "zeros_like ones_like", (M,)),
    Case("numpy.empty_like", (M,), differentiable=False, jax=None, label="shape-only",
         gauge=lambda out, xp: out.shape),
    Case("numpy.full_like", (M, 2.0)),
]

LINALG = [
    Case("numpy.linalg.cholesky", (H,)),
    Case("numpy.linalg.det", (S,)),
    Case("numpy.linalg.slogdet", (S,)),
    Case("numpy.linalg.inv", (S,)),
    Case("numpy.linalg.solve", (S, A("m", (3, 2)))),
    Case("numpy.linalg.solve", (S, A("v", (3,))), label="vector"),
    Case("numpy.linalg.eigh", (H,), gauge=eigh_gauge),
    Case("numpy.linalg.eigh", (H,), {"UPLO": "U"}, gauge=eigh_gauge, label="upper"),
    Case("numpy.linalg.eigvalsh", (H,)),
    Case("numpy.linalg.eigvals", (A("h"),), dtypes=("float64",), gauge=sorted_real_eigenvalues),
    Case("numpy.linalg.eig", (A("h"),), dtypes=("float64",), gauge=sorted_real_eigenvalues),
    Case("numpy.linalg.qr", (A("mt"),)),
    Case("numpy.linalg.qr", (A("mt"),), {"mode": "r"}, label="r"),
    Case("numpy.linalg.svd", (M,), {"full_matrices": False}, gauge=svd_gauge),
    Case("numpy.linalg.svd", (M,), {"compute_uv": False}, label="values"),
    Case("numpy.linalg.svdvals", (M,), jax=None),
    Case("numpy.linalg.pinv", (M,)),
    Case("numpy.linalg.lstsq", (A("mt"), A("v", (4,))), {"rcond": None}, gauge=first),
    Case("numpy.linalg.matrix_rank", (M,), differentiable=False),
    Case("numpy.linalg.matrix_power", (S, 3)),
    Case("numpy.linalg.matrix_power", (S, -2), label="negative"),
    Case("numpy.linalg.multi_dot", ([M, A("mt"), S],)),
    Case("numpy.linalg.tensorinv", (A("s", (6, 6)),), {"ind": 1}),
    Case("numpy.linalg.tensorsolve", (A("s", (6, 6)), A("v", (6,)))),
    Case("numpy.linalg.norm", (V,)),
    *[Case("numpy.linalg.norm", (V, order), label=f"ord={order}", dtypes=ALL)
      for order in (1, 2, numpy.inf, -numpy.inf, 3, 0.5)],
    *[Case("numpy.linalg.norm", (M, order), label=f"matrix-ord={order}", dtypes=ALL)
      for order in ("fro", "nuc", 1, -1, 2, -2, numpy.inf, -numpy.inf)],
    Case("numpy.linalg.norm", (M,), {"axis": 1, "keepdims": True}, label="axis"),
]

FFT = [
    *cases("numpy.fft", "fft ifft", (V,)),
    Case("numpy.fft.fft", (M,), {"n": 6, "axis": 0, "norm": "ortho"}, label="n-axis-ortho"),
    Case("numpy.fft.rfft", (V,), dtypes=REAL),
    Case("numpy.fft.rfft", (A("v", (5,)),), {"norm": "forward"}, dtypes=REAL, label="odd-forward"),
    Case("numpy.fft.irfft", (A("v", (3,)),)),
    Case("numpy.fft.irfft", (A("v", (3,)),), {"n": 5}, label="n"),
    Case("numpy.fft.hfft", (A("v", (3,)),)),
    Case("numpy.fft.ihfft", (V,), dtypes=REAL),
    *cases("numpy.fft", "fft2 ifft2 fftn ifftn", (M,)),
    Case("numpy.fft.fftn", (T,), {"axes": (0, 2)}, label="axes"),
    *cases("numpy.fft", "rfft2 rfftn", (M,), dtypes=REAL),
    *cases("numpy.fft", "irfft2 irfftn", (M,)),
    *cases("numpy.fft", "fftshift ifftshift", (M,)),
    Case("numpy.fft.fftfreq", (5, 0.1), dtypes=("float64",), differentiable=False),
    Case("numpy.fft.rfftfreq", (6, 0.1), dtypes=("float64",), differentiable=False),
]

SPECIAL = [
    *cases("scipy.special", "gamma gammaln loggamma digamma psi", (P,), dtypes=REAL),
    Case("scipy.special.polygamma", (1, P), dtypes=REAL),
    *cases("scipy.special", "beta betaln", (P, A("p")), dtypes=REAL),
    Case("scipy.special.multigammaln", (A("g", ()), 2), dtypes=REAL),
    *cases("scipy.special", "erf erfc erfcx ndtr log_ndtr expit log_expit sinc", (V,), dtypes=REAL),
    *cases("scipy.special", "erfinv", (A("v"),), dtypes=REAL, jax="same"),
    *cases("scipy.special", "ndtri logit", (U,), dtypes=REAL),
    *cases("scipy.special", "logsumexp softmax log_softmax", (M,), dtypes=REAL),
    Case("scipy.special.logsumexp", (M,), {"axis": 1, "keepdims": True}, dtypes=REAL, label="axis"),
    Case("scipy.special.logsumexp", (M, None, A("pm")), dtypes=REAL, label="b"),
    Case("scipy.special.softmax", (M,), {"axis": 0}, dtypes=REAL, label="axis"),
    *cases("scipy.special", "xlogy xlog1py", (V, P), dtypes=REAL),
    *cases("scipy.special", "rel_entr kl_div", (P, A("p")), dtypes=REAL),
    Case("scipy.special.entr", (P,), dtypes=REAL),
    *cases("scipy.special", "i0 i0e i1 i1e j0 j1 y0 y1", (P,), dtypes=REAL),
    *cases("scipy.special", "iv ive jv yv", (1.5, P), dtypes=REAL),
    Case("scipy.special.zeta", (3.0, P), dtypes=REAL),
    Case("scipy.special.rgamma", (V,), dtypes=REAL, jax=None),
    Case("scipy.special.gammasgn", (V,), dtypes=REAL, jax=None),
    Case("scipy.special.erfcinv", (A("u", (4,)),), dtypes=REAL, jax=None),
    *cases("scipy.special", "jn yn", (2, P), dtypes=REAL, jax=None),
    *cases("scipy.special", "gammainc gammaincc", (P, A("p")), dtypes=REAL),
    Case("scipy.special.betainc", (P, A("p"), U), dtypes=REAL),
]

_CONTINUOUS = {"norm": (), "t": (A("g"),), "gamma": (A("g"),), "beta": (A("g"), A("g")), "chi2": (A("g"),),
               "expon": (), "laplace": (), "logistic": (), "cauchy": ()}
_POINTS = {"norm": V, "t": V, "gamma": P, "beta": U, "chi2": P, "expon": P, "laplace": V, "logistic": V,
           "cauchy": V}

STATS = [
    *[Case(f"scipy.stats.{dist}.{method}", (_POINTS[dist], *shapes), dtypes=REAL,
           jax="same" if method in ("pdf", "logpdf", "cdf", "logcdf", "sf", "logsf") else None)
      for dist, shapes in _CONTINUOUS.items() for method in ("pdf", "logpdf", "cdf", "logcdf", "sf", "logsf")],
    *[Case(f"scipy.stats.{dist}.logpdf", (_POINTS[dist], *shapes, 0.3, 1.7), dtypes=REAL, label="loc-scale")
      for dist, shapes in _CONTINUOUS.items()],
    Case("scipy.stats.norm.logpdf", (V, A("w"), P), dtypes=REAL, label="array-parameters"),
    *cases("scipy.stats.norm", "ppf isf", (U,), dtypes=REAL),
    *[Case(f"scipy.stats.poisson.{method}", (numpy.array([0, 1, 3, 5]), A("p")), dtypes=REAL)
      for method in ("pmf", "logpmf", "cdf", "sf")],
    *[Case(f"scipy.stats.dirichlet.{method}", (A("stoch"), A("p")), dtypes=REAL) for method in ("pdf", "logpdf")],
    *[Case(f"scipy.stats.multivariate_normal.{method}", (A("m", (2, 3)), A("v", (3,)), A("h", (3, 3))),
           dtypes=REAL) for method in ("pdf", "logpdf")],
]

SCIPY_LINALG = [
    Case("scipy.linalg.solve_triangular", (A("lt"), A("m", (3, 2))), {"lower": True}),
    Case("scipy.linalg.solve_triangular", (A("lt"), A("v", (3,))), {"lower": True, "trans": 1},
         label="trans"),
    Case("scipy.linalg.cho_factor", (H,), gauge=upper, jax=jax_cho_factor),
    Case("scipy.linalg.cho_solve", ((A("h"), False), A("m", (3, 2))), jax=None, label="factor-given"),
    Case("scipy.linalg.lu_factor", (S,), gauge=first),
    Case("scipy.linalg.lu_solve", ((S, numpy.array([2, 1, 2])), A("m", (3, 2)))),
    Case("scipy.linalg.lu", (S,)),
    Case("scipy.linalg.lu", (M,), label="rectangular"),
    Case("scipy.linalg.solve", (S, A("m", (3, 2)))),
    Case("scipy.linalg.solve_banded", ((1, 1), A("m", (3, 4)) , A("m", (4, 2))), jax=None),
    Case("scipy.linalg.solve", (H, A("m", (3, 2))), {"assume_a": "pos"}, label="positive"),
    Case("scipy.linalg.inv", (S,)),
    Case("scipy.linalg.det", (S,)),
    Case("scipy.linalg.expm", (A("s"),)),
    Case("scipy.linalg.sqrtm", (H,), jax=None),
    Case("scipy.linalg.solve_sylvester", (S, A("s"), A("m", (3, 3)))),
]

SIGNAL = [
    *[Case(f"scipy.signal.{name}", (A("m", (4, 5)), A("w", (2, 3))), {"mode": mode}, label=mode)
      for name in ("convolve", "correlate") for mode in ("full", "same", "valid")],
    Case("scipy.signal.convolve", (V, A("w", (3,))), {"method": "fft"}, label="fft"),
]

ALL_CASES = NUMPY + LINALG + FFT + SPECIAL + STATS + SCIPY_LINALG + SIGNAL

# Public callables that are not functions of arrays, and why they have no case.
EXEMPT = {
    **{f"numpy.{name}": "constructs a constant from shapes or scalars; no array argument to differentiate"
       for name in "zeros ones full empty eye identity arange".split()},
    **{f"numpy.{name}": "a dtype or shape utility, not a function of array values"
       for name in "shape ndim size result_type issubdtype".split()},
    "numpy.is_traced": "chainrule's own predicate: is a value traced by a transform",
    "numpy.numpy_when_untraced": "chainrule's own decorator for writing NumPy-compatible functions",
}
