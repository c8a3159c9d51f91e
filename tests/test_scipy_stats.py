"""chainrule.scipy.stats: values against SciPy, derivatives in data and parameters against JAX (where it has
the method) and finite differences to second order."""
import numpy
import pytest
import scipy.stats

import chainrule as cr
import chainrule.scipy.stats as stats
from chainrule.testing import check_grads

import jax  # the independent oracle: installed by the test extra, so a missing JAX fails loudly
jax.config.update("jax_enable_x64", True)
import jax.scipy.stats as jstats  # noqa: E402

rng = numpy.random.default_rng(0)
x_real = rng.uniform(-2, 2, 4)
x_positive = rng.uniform(0.3, 3, 4)
x_unit = rng.uniform(0.1, 0.9, 4)


def _case(distribution, method, args, jax_too=True, fixed=()):
    """(ours, SciPy's, JAX's or None, differentiable args, fixed trailing args)."""
    ours = lambda *a: getattr(getattr(stats, distribution), method)(*a, *fixed)  # noqa: E731
    theirs = lambda *a: getattr(getattr(scipy.stats, distribution), method)(*a, *fixed)  # noqa: E731
    jax_method = getattr(getattr(jstats, distribution, None), method, None) if jax_too else None
    jaxs = None if jax_method is None else (lambda *a: jax_method(*a, *fixed))
    return ours, theirs, jaxs, args


CASES = {}
for _method in ("logpdf", "pdf", "cdf", "logcdf", "sf", "logsf"):
    CASES[f"norm.{_method}"] = _case("norm", _method, (x_real, 0.3, 1.7))
    CASES[f"logistic.{_method}"] = _case("logistic", _method, (x_real, 0.2, 1.3))
    CASES[f"cauchy.{_method}"] = _case("cauchy", _method, (x_real, -0.1, 0.8))
    CASES[f"laplace.{_method}"] = _case("laplace", _method, (x_real, 0.1, 1.2))
    CASES[f"expon.{_method}"] = _case("expon", _method, (x_positive, 0.1, 1.5))
for _method in ("logpdf", "pdf"):
    CASES[f"t.{_method}"] = _case("t", _method, (x_real, 3.5, 0.2, 1.4))
    CASES[f"gamma.{_method}"] = _case("gamma", _method, (x_positive, 2.5, 0.1, 1.3))
    CASES[f"chi2.{_method}"] = _case("chi2", _method, (x_positive, 3.5, 0.0, 1.1))
    CASES[f"beta.{_method}"] = _case("beta", _method, (x_unit, 2.0, 3.5))
# Methods through incomplete gamma/beta functions: differentiable in x, loc, scale; shape parameters fixed.
for _method in ("cdf", "sf", "logcdf", "logsf"):
    CASES[f"t.{_method}"] = _case("t", _method, (x_real,), jax_too=False, fixed=(3.5, 0.2, 1.4))
    CASES[f"gamma.{_method}"] = _case("gamma", _method, (x_positive,), fixed=(2.5, 0.1, 1.3))
    CASES[f"chi2.{_method}"] = _case("chi2", _method, (x_positive,), fixed=(3.5,))
    CASES[f"beta.{_method}"] = _case("beta", _method, (x_unit,), fixed=(2.0, 3.5))
CASES["norm.ppf"] = _case("norm", "ppf", (x_unit, 0.3, 1.7))
CASES["poisson.logpmf"] = (lambda mu: stats.poisson.logpmf(numpy.array([0.0, 1.0, 3.0, 7.0]), mu),
                           lambda mu: scipy.stats.poisson.logpmf(numpy.array([0.0, 1.0, 3.0, 7.0]), mu),
                           lambda mu: jstats.poisson.logpmf(numpy.array([0.0, 1.0, 3.0, 7.0]), mu), (x_positive,))
CASES["poisson.pmf"] = (lambda mu: stats.poisson.pmf(numpy.array([0, 1, 3, 7]), mu),
                        lambda mu: scipy.stats.poisson.pmf(numpy.array([0, 1, 3, 7]), mu), None, (x_positive,))
CASES["poisson.cdf"] = (lambda mu: stats.poisson.cdf(numpy.array([0, 1, 3, 7]), mu),
                        lambda mu: scipy.stats.poisson.cdf(numpy.array([0, 1, 3, 7]), mu),
                        lambda mu: jstats.poisson.cdf(numpy.array([0, 1, 3, 7]), mu), (x_positive,))
CASES["poisson.sf"] = (lambda mu: stats.poisson.sf(numpy.array([0, 1, 3, 7]), mu),
                       lambda mu: scipy.stats.poisson.sf(numpy.array([0, 1, 3, 7]), mu), None, (x_positive,))
_simplex = numpy.array([[0.2, 0.5], [0.3, 0.1], [0.5, 0.4]])  # components along axis 0, like SciPy
CASES["dirichlet.logpdf"] = (stats.dirichlet.logpdf, scipy.stats.dirichlet.logpdf, jstats.dirichlet.logpdf,
                             (_simplex[:, 0], numpy.array([1.5, 2.0, 0.7])))
CASES["dirichlet.pdf"] = (stats.dirichlet.pdf, scipy.stats.dirichlet.pdf, jstats.dirichlet.pdf,
                          (_simplex[:, 1], numpy.array([1.5, 2.0, 0.7])))
_a = rng.standard_normal((3, 3))
_cov = _a @ _a.T + 3 * numpy.eye(3)
_points = rng.standard_normal((4, 3))
for _method in ("logpdf", "pdf"):
    CASES[f"multivariate_normal.{_method}"] = (getattr(stats.multivariate_normal, _method),
                                               getattr(scipy.stats.multivariate_normal, _method),
                                               getattr(jstats.multivariate_normal, _method),
                                               (_points, numpy.array([0.1, -0.2, 0.3]), _cov))


@pytest.mark.parametrize("name", sorted(CASES))
def test_distribution(name):
    ours, theirs, jaxs, args = CASES[name]
    numpy.testing.assert_allclose(ours(*args), theirs(*args), rtol=1e-9, atol=1e-12)
    total = lambda *a: cr.numpy.sum(ours(*a))  # noqa: E731
    if name.startswith("multivariate_normal"):
        # cov is read as symmetric: differentiate along symmetric perturbations.
        total = lambda x, m, c: cr.numpy.sum(ours(x, m, 0.5 * (c + c.T)))  # noqa: E731
    check_grads(total, args, order=2)
    if jaxs is not None:
        argnums = tuple(range(len(args)))
        gradients = cr.grad(total, argnums=argnums)(*args)
        expected = jax.grad(lambda *a: jax.numpy.sum(jaxs(*a)), argnums=argnums)(*args)
        for position, (got, want) in enumerate(zip(gradients, expected)):
            if name.startswith("multivariate_normal") and position == 2:
                want = 0.5 * (want + want.T)
            numpy.testing.assert_allclose(got, want, rtol=1e-8, atol=1e-11, err_msg=f"argument {position}")


def test_tails_are_finite():
    assert float(stats.norm.logcdf(-40.0)) == pytest.approx(scipy.stats.norm.logcdf(-40.0), rel=1e-12)
    assert float(cr.grad(stats.norm.logsf)(40.0)) == pytest.approx(-40.0249, rel=1e-4)
    assert float(cr.grad(stats.logistic.logcdf)(-800.0)) == pytest.approx(1.0)


def test_outside_the_support():
    numpy.testing.assert_array_equal(stats.gamma.logpdf(numpy.array([-1.0, 0.0]), 2.0), [-numpy.inf, -numpy.inf])
    numpy.testing.assert_array_equal(stats.beta.cdf(numpy.array([-0.5, 1.5]), 2.0, 3.0), [0.0, 1.0])
    assert float(cr.grad(stats.gamma.logpdf)(-1.0, 2.0)) == 0.0
    assert stats.poisson.logpmf(2.5, 1.0) == -numpy.inf


def test_argument_errors_name_the_problem():
    with pytest.raises(TypeError, match="missing shape parameter"):
        stats.gamma.logpdf(1.0)
    with pytest.raises(TypeError, match="unexpected or repeated argument 'shape'"):
        stats.norm.logpdf(1.0, shape=2.0)
    with pytest.raises(ValueError, match="cov has shape"):
        stats.multivariate_normal.logpdf(numpy.zeros(3), numpy.zeros(3), numpy.eye(2))
    with pytest.raises(NotImplementedError, match="argument 'a'"):  # second order in a shape parameter
        cr.grad(cr.grad(lambda a: stats.gamma.cdf(1.0, a)))(2.0)


def test_cdf_gradients_in_shape_parameters_match_jax():
    import jax
    jax.config.update("jax_enable_x64", True)
    from jax.scipy import stats as jstats
    cases = [(lambda a: stats.gamma.cdf(1.3, a), lambda a: jstats.gamma.cdf(1.3, a), 2.0),
             (lambda df: stats.chi2.sf(0.7, df), lambda df: jstats.chi2.sf(0.7, df), 3.0),
             (lambda b: stats.beta.cdf(0.3, 1.5, b), None, 2.0),
             (lambda df: stats.t.cdf(0.7, df), None, 3.0)]
    for ours, theirs, point in cases:
        got = cr.grad(ours)(point)
        if theirs is not None:
            assert got == pytest.approx(float(jax.grad(theirs)(point)), rel=1e-10)
        h = 1e-5  # JAX does not differentiate betainc in its parameters: a central difference instead
        assert got == pytest.approx((ours(point + h) - ours(point - h)) / (2 * h), rel=1e-7)


def test_per_example_log_likelihood_gradients():
    xs = rng.standard_normal(5)
    per_example = cr.vmap(cr.grad(lambda loc, x: stats.norm.logpdf(x, loc, 1.3)), in_axes=(None, 0))(0.2, xs)
    numpy.testing.assert_allclose(per_example, (xs - 0.2) / 1.3 ** 2, rtol=1e-12)
