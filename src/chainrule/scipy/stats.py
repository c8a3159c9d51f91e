"""``chainrule.scipy.stats``: SciPy's distributions (pdf, logpdf, cdf, logcdf, sf, logsf, ppf where SciPy has
them) as composites of ``chainrule.scipy.special``, differentiable in the data and in the parameters. Their
other methods (rvs, mean, var, entropy, interval, ...) and freezing (``norm(loc, scale)``) are SciPy's."""
import numpy as _np

from .. import numpy as _cnp
from ..numpy.arrays import is_traced as _is_traced
from ..ops import linalg as _linalg, special as _ops
from . import special as _sp

__all__ = ["norm", "t", "gamma", "chi2", "beta", "expon", "laplace", "logistic", "cauchy", "poisson", "dirichlet",
           "multivariate_normal"]

_LOG_2PI = float(_np.log(2.0 * _np.pi))
_LOG_2 = float(_np.log(2.0))


def _plain_only(scipy_method, name, differentiable):
    """SciPy's ``scipy_method`` for plain arguments; a clear error for traced ones (whose derivative it would
    silently cut)."""
    def method(*args, **kwargs):
        if _is_traced(args, list(kwargs.values())):
            raise TypeError(f"{name} is not differentiable in chainrule (the differentiable methods of this "
                            f"distribution are {', '.join(differentiable)}); traced values reach it here. Call "
                            f"it on plain values, outside the transform or on arguments that are not being "
                            f"differentiated.")
        return scipy_method(*args, **kwargs)
    method.__name__ = name.rsplit(".", 1)[-1]
    method.__qualname__ = name
    method.__doc__ = f"SciPy's {name.rsplit('.', 1)[-1]} (plain arguments only: not differentiable)."
    return method


class _SciPyDistribution:
    """What every distribution shares: SciPy's other methods and attributes, and freezing. ``name`` is the
    distribution's name in ``scipy.stats``."""

    differentiable = ()

    def __init__(self, name):
        self.name = name

    def __repr__(self):
        return f"chainrule.scipy.stats.{self.name}"

    @property
    def scipy_distribution(self):
        """SciPy's own distribution object (scipy.stats is imported on first use: it is slow to import)."""
        import scipy.stats
        return getattr(scipy.stats, self.name)

    def __getattr__(self, attribute):
        # Only for names this class does not define: SciPy's methods, for plain arguments.
        if attribute.startswith("_") or "name" not in self.__dict__:  # (not yet initialized: being copied)
            raise AttributeError(attribute)
        value = getattr(self.scipy_distribution, attribute)
        if not callable(value):
            return value
        return _plain_only(value, f"chainrule.scipy.stats.{self.name}.{attribute}", self.differentiable)

    def __dir__(self):
        public = (name for name in dir(self.scipy_distribution) if not name.startswith("_"))
        return sorted(set(super().__dir__()) | set(public))

    def __call__(self, *args, **kwds):
        """The distribution with its parameters fixed, as SciPy freezes it: ``norm(loc, scale).logpdf(x)``.

        >>> import chainrule as cr
        >>> from chainrule.scipy.stats import norm
        >>> float(cr.grad(lambda loc: norm(loc, 2.0).logpdf(1.0))(0.0))  # (x - loc) / scale^2
        0.25
        """
        return _Frozen(self, args, kwds)

    freeze = __call__


class _Frozen:
    """A distribution with fixed parameters: each method is the distribution's, the parameters appended (the
    differentiable ones stay differentiable in them)."""

    def __init__(self, distribution, args, kwds):
        self.dist, self.args, self.kwds = distribution, args, kwds

    def __repr__(self):
        parameters = [repr(a) for a in self.args] + [f"{k}={v!r}" for k, v in self.kwds.items()]
        return f"{self.dist!r}({', '.join(parameters)})"

    def __getattr__(self, attribute):
        if attribute.startswith("_"):
            raise AttributeError(attribute)
        method = getattr(self.dist, attribute)
        if not callable(method):
            return method

        def frozen_method(*leading, **kwargs):
            return method(*leading, *self.args, **{**self.kwds, **kwargs})
        frozen_method.__name__ = attribute
        return frozen_method

    def rvs(self, size=None, random_state=None):
        """Random variates (SciPy's; not differentiable).

        >>> from chainrule.scipy.stats import norm
        >>> norm(1.0, 0.0).rvs(size=2)
        array([1., 1.])
        """
        return self.dist.rvs(*self.args, size=size, random_state=random_state, **self.kwds)


def _inside(condition, z, value, outside, safe=0.5):
    """``value(z)`` where ``condition`` holds, ``outside`` elsewhere; ``value`` only sees safe points, so no
    NaN from the other side reaches a derivative."""
    return _cnp.where(condition, value(_cnp.where(condition, z, safe)), outside)


class _Continuous(_SciPyDistribution):
    """A location-scale family: x = loc + scale * z with z from the standard form the subclass defines."""

    shape_names = ()
    differentiable = ("logpdf", "pdf", "cdf", "logcdf", "sf", "logsf")

    def _parse(self, args, kwds):
        names = self.shape_names + ("loc", "scale")
        values = dict(zip(names, args))
        for key, value in kwds.items():
            if key not in names or key in values:
                raise TypeError(f"{self.name}: unexpected or repeated argument '{key}'; it takes "
                                f"{', '.join(names)}")
            values[key] = value
        missing = [n for n in self.shape_names if n not in values]
        if missing:
            raise TypeError(f"{self.name}: missing shape parameter(s) {', '.join(missing)}")
        shapes = tuple(values[n] for n in self.shape_names)
        return shapes, values.get("loc", 0.0), values.get("scale", 1.0)

    def _standardize(self, x, args, kwds):
        shapes, loc, scale = self._parse(args, kwds)
        # Python numbers take the data's precision here: as NumPy float64 scalars (log(scale), gammaln(a)) they
        # would make a float32 result float64.
        x = _cnp.asarray(x) if isinstance(x, (list, tuple)) else x
        x, loc, scale, *shapes = _ops.in_common_precision(x, loc, scale, *shapes)
        return _cnp.true_divide(_cnp.subtract(x, loc), scale), shapes, scale

    def logpdf(self, x, *args, **kwds):
        """Log density at ``x`` (shape parameters, then ``loc`` and ``scale``, as in SciPy).

        >>> import chainrule as cr
        >>> from chainrule.scipy.stats import norm
        >>> float(cr.grad(norm.logpdf, argnums=1)(1.0, 0.0, 1.0))  # d/dloc = (x - loc) / scale^2
        1.0
        """
        z, shapes, scale = self._standardize(x, args, kwds)
        return _cnp.subtract(self._logpdf(z, *shapes), _cnp.log(scale))

    def pdf(self, x, *args, **kwds):
        """Density at ``x``.

        >>> from chainrule.scipy.stats import norm
        >>> round(float(norm.pdf(0.0)), 6)
        0.398942
        """
        return _cnp.exp(self.logpdf(x, *args, **kwds))

    def cdf(self, x, *args, **kwds):
        """Cumulative distribution function at ``x``.

        >>> import chainrule as cr
        >>> from chainrule.scipy.stats import logistic
        >>> float(cr.grad(logistic.cdf)(0.0))
        0.25
        """
        z, shapes, _ = self._standardize(x, args, kwds)
        return self._cdf(z, *shapes)

    def logcdf(self, x, *args, **kwds):
        """log of the CDF (accurate in the left tail where the distribution provides it).

        >>> from chainrule.scipy.stats import norm
        >>> round(float(norm.logcdf(-40.0)), 3)
        -804.608
        """
        z, shapes, _ = self._standardize(x, args, kwds)
        return self._logcdf(z, *shapes)

    def sf(self, x, *args, **kwds):
        """Survival function 1 - cdf at ``x``.

        >>> from chainrule.scipy.stats import expon
        >>> round(float(expon.sf(1.0)), 6)
        0.367879
        """
        z, shapes, _ = self._standardize(x, args, kwds)
        return self._sf(z, *shapes)

    def logsf(self, x, *args, **kwds):
        """log of the survival function.

        >>> from chainrule.scipy.stats import expon
        >>> float(expon.logsf(3.0))
        -3.0
        """
        z, shapes, _ = self._standardize(x, args, kwds)
        return self._logsf(z, *shapes)

    def _logcdf(self, z, *shapes):
        return _cnp.log(self._cdf(z, *shapes))

    def _sf(self, z, *shapes):
        return _cnp.subtract(1.0, self._cdf(z, *shapes))

    def _logsf(self, z, *shapes):
        return _cnp.log(self._sf(z, *shapes))


class _Norm(_Continuous):
    differentiable = _Continuous.differentiable + ("ppf", "isf")

    def _logpdf(self, z):
        return -0.5 * (z * z) - 0.5 * _LOG_2PI

    def _cdf(self, z):
        return _sp.ndtr(z)

    def _logcdf(self, z):
        return _sp.log_ndtr(z)

    def _sf(self, z):
        return _sp.ndtr(_cnp.negative(z))

    def _logsf(self, z):
        return _sp.log_ndtr(_cnp.negative(z))

    def ppf(self, q, loc=0.0, scale=1.0):
        """Quantile function loc + scale * ndtri(q).

        >>> from chainrule.scipy.stats import norm
        >>> round(float(norm.ppf(0.975)), 6)
        1.959964
        """
        return _cnp.add(loc, _cnp.multiply(scale, _sp.ndtri(q)))

    def isf(self, q, loc=0.0, scale=1.0):
        """Inverse survival function loc - scale * ndtri(q).

        >>> from chainrule.scipy.stats import norm
        >>> round(float(norm.isf(0.025)), 6)
        1.959964
        """
        return _cnp.subtract(loc, _cnp.multiply(scale, _sp.ndtri(q)))


class _T(_Continuous):
    shape_names = ("df",)

    def _logpdf(self, z, df):
        half = _cnp.multiply(0.5, _cnp.add(df, 1.0))
        return (_sp.gammaln(half) - _sp.gammaln(_cnp.multiply(0.5, df)) - 0.5 * _cnp.log(_cnp.multiply(df, _np.pi))
                - half * _cnp.log1p(z * z / df))

    def _cdf(self, z, df):
        # Through the incomplete beta function, differentiable in x and (to first order) in df.
        tail = 0.5 * _sp.betainc(_cnp.multiply(0.5, df), 0.5, df / (df + z * z))
        return _cnp.where(_cnp.less(z, 0.0), tail, 1.0 - tail)

    def _sf(self, z, df):
        return self._cdf(_cnp.negative(z), df)


class _Gamma(_Continuous):
    shape_names = ("a",)

    def _logpdf(self, z, a):
        return _inside(_cnp.greater(z, 0.0), z,
                       lambda s: _sp.xlogy(_cnp.subtract(a, 1.0), s) - s - _sp.gammaln(a), -_np.inf)

    def _cdf(self, z, a):
        return _inside(_cnp.greater(z, 0.0), z, lambda s: _sp.gammainc(a, s), 0.0)

    def _sf(self, z, a):
        return _inside(_cnp.greater(z, 0.0), z, lambda s: _sp.gammaincc(a, s), 1.0)


class _Chi2(_Continuous):
    shape_names = ("df",)

    def _logpdf(self, z, df):
        return _gamma._logpdf(0.5 * z, _cnp.multiply(0.5, df)) - _LOG_2

    def _cdf(self, z, df):
        return _gamma._cdf(0.5 * z, _cnp.multiply(0.5, df))

    def _sf(self, z, df):
        return _gamma._sf(0.5 * z, _cnp.multiply(0.5, df))


class _Beta(_Continuous):
    shape_names = ("a", "b")

    def _logpdf(self, z, a, b):
        inside = _cnp.logical_and(_cnp.greater(z, 0.0), _cnp.less(z, 1.0))
        return _inside(inside, z, lambda s: _sp.xlogy(_cnp.subtract(a, 1.0), s)
                       + _sp.xlog1py(_cnp.subtract(b, 1.0), -s) - _sp.betaln(a, b), -_np.inf)

    def _cdf(self, z, a, b):
        inside = _cnp.logical_and(_cnp.greater(z, 0.0), _cnp.less(z, 1.0))
        return _cnp.where(_cnp.greater_equal(z, 1.0), 1.0, _inside(inside, z, lambda s: _sp.betainc(a, b, s), 0.0))


class _Expon(_Continuous):
    def _logpdf(self, z):
        return _cnp.where(_cnp.less(z, 0.0), -_np.inf, _cnp.negative(z))

    def _cdf(self, z):
        return _cnp.where(_cnp.less(z, 0.0), 0.0, -_cnp.expm1(-_cnp.maximum(z, 0.0)))

    def _logcdf(self, z):
        return _inside(_cnp.greater(z, 0.0), z, lambda s: _cnp.log(-_cnp.expm1(-s)), -_np.inf)

    def _sf(self, z):
        return _cnp.exp(-_cnp.maximum(z, 0.0))

    def _logsf(self, z):
        return _cnp.negative(_cnp.maximum(z, 0.0))


class _Laplace(_Continuous):
    def _logpdf(self, z):
        return -_cnp.abs(z) - _LOG_2

    def _cdf(self, z):
        half_tail = 0.5 * _cnp.exp(-_cnp.abs(z))
        return _cnp.where(_cnp.less(z, 0.0), half_tail, 1.0 - half_tail)

    def _sf(self, z):
        return self._cdf(_cnp.negative(z))


class _Logistic(_Continuous):
    def _logpdf(self, z):
        magnitude = _cnp.abs(z)
        return -magnitude - 2.0 * _cnp.log1p(_cnp.exp(-magnitude))

    def _cdf(self, z):
        return _sp.expit(z)

    def _logcdf(self, z):
        return _sp.log_expit(z)

    def _sf(self, z):
        return _sp.expit(_cnp.negative(z))

    def _logsf(self, z):
        return _sp.log_expit(_cnp.negative(z))


class _Cauchy(_Continuous):
    def _logpdf(self, z):
        return -float(_np.log(_np.pi)) - _cnp.log1p(z * z)

    def _cdf(self, z):
        return 0.5 + _cnp.arctan(z) / _np.pi

    def _sf(self, z):
        return 0.5 - _cnp.arctan(z) / _np.pi


norm = _Norm("norm")
t = _T("t")
gamma = _Gamma("gamma")
chi2 = _Chi2("chi2")
beta = _Beta("beta")
expon = _Expon("expon")
laplace = _Laplace("laplace")
logistic = _Logistic("logistic")
cauchy = _Cauchy("cauchy")
_gamma = gamma


class _Poisson(_SciPyDistribution):
    """Poisson distribution: pmf, logpmf, cdf, sf (differentiable in ``mu``; ``k`` is a count)."""

    differentiable = ("logpmf", "pmf", "cdf", "sf")

    def logpmf(self, k, mu, loc=0):
        """log P(K = k) = k log(mu) - mu - log(k!); -inf off the non-negative integers.

        >>> import chainrule as cr
        >>> from chainrule.scipy.stats import poisson
        >>> float(cr.grad(poisson.logpmf, argnums=1)(3.0, 2.0))  # k / mu - 1
        0.5
        """
        k = _in_precision_of(mu, _cnp.subtract(k, loc))
        valid = _cnp.logical_and(_cnp.greater_equal(k, 0), _cnp.equal(_cnp.floor(k), k))
        value = _sp.xlogy(k, mu) - mu - _sp.gammaln(_cnp.add(_cnp.where(valid, k, 0), 1.0))
        return _cnp.where(valid, value, -_np.inf)

    def pmf(self, k, mu, loc=0):
        """P(K = k).

        >>> from chainrule.scipy.stats import poisson
        >>> round(float(poisson.pmf(0, 2.0)), 6)
        0.135335
        """
        return _cnp.exp(self.logpmf(k, mu, loc))

    def cdf(self, k, mu, loc=0):
        """P(K <= k) = Q(floor(k) + 1, mu), differentiable in ``mu``.

        >>> from chainrule.scipy.stats import poisson
        >>> round(float(poisson.cdf(1, 2.0)), 6)
        0.406006
        """
        k = _in_precision_of(mu, _np.floor(_np.asarray(k, dtype=float) - loc))
        return _cnp.where(k < 0, 0.0, _sp.gammaincc(_np.maximum(k, 0.0) + 1.0, mu))

    def sf(self, k, mu, loc=0):
        """P(K > k) = P(floor(k) + 1, mu).

        >>> from chainrule.scipy.stats import poisson
        >>> round(float(poisson.sf(1, 2.0)), 6)
        0.593994
        """
        k = _in_precision_of(mu, _np.floor(_np.asarray(k, dtype=float) - loc))
        return _cnp.where(k < 0, 1.0, _sp.gammainc(_np.maximum(k, 0.0) + 1.0, mu))


poisson = _Poisson("poisson")


def _in_precision_of(parameter, counts):
    """``counts`` (a count: no precision of its own) in the floating precision of ``parameter``."""
    dtype = _cnp.result_type(parameter, 1.0)
    return counts if _cnp.result_type(counts) == dtype else _cnp.astype(counts, dtype)


class _Dirichlet(_SciPyDistribution):
    """Dirichlet distribution; like SciPy, ``x`` holds the components along its first axis."""

    differentiable = ("logpdf", "pdf")

    def logpdf(self, x, alpha):
        """log density: sum((alpha - 1) log x) + gammaln(sum alpha) - sum(gammaln(alpha)).

        >>> import chainrule as cr, numpy
        >>> from chainrule.scipy.stats import dirichlet
        >>> round(float(dirichlet.logpdf(numpy.array([0.2, 0.8]), numpy.array([1.0, 1.0]))), 6)
        0.0
        """
        alpha = _cnp.asarray(alpha)
        if _cnp.ndim(alpha) != 1:
            raise ValueError(f"dirichlet: alpha must be a vector of concentrations, got shape {_cnp.shape(alpha)}")
        weights = _cnp.reshape(alpha, (-1,) + (1,) * (_cnp.ndim(x) - 1))
        normalizer = _sp.gammaln(_cnp.sum(alpha)) - _cnp.sum(_sp.gammaln(alpha))
        return _cnp.sum(_sp.xlogy(weights - 1.0, x), axis=0) + normalizer

    def pdf(self, x, alpha):
        """Density.

        >>> import numpy
        >>> from chainrule.scipy.stats import dirichlet
        >>> round(float(dirichlet.pdf(numpy.array([0.5, 0.5]), numpy.array([2.0, 2.0]))), 6)
        1.5
        """
        return _cnp.exp(self.logpdf(x, alpha))


dirichlet = _Dirichlet("dirichlet")


class _MultivariateNormal(_SciPyDistribution):
    """Multivariate normal through the Cholesky factor of ``cov`` (positive definite where differentiated)."""

    differentiable = ("logpdf", "pdf")

    def logpdf(self, x, mean=None, cov=1, allow_singular=False):
        """log density of ``x`` (shape (..., d)), differentiable in ``x``, ``mean`` and ``cov``.

        ``allow_singular=True`` gives SciPy's density on the support of a singular ``cov`` for plain arguments;
        differentiated, ``cov`` must be positive definite (the support itself would move with it).

        >>> import numpy
        >>> from chainrule.scipy.stats import multivariate_normal
        >>> round(float(multivariate_normal.logpdf(numpy.zeros(2), numpy.zeros(2), numpy.eye(2))), 6)
        -1.837877
        """
        if allow_singular and not _is_traced(x, mean, cov):
            return _ops.in_input_precision(self.scipy_distribution.logpdf(x, mean, cov, allow_singular=True),
                                           *(_np.asarray(v) for v in (x, mean, cov) if v is not None))
        x = _cnp.asarray(x)
        dimension = _cnp.shape(x)[-1] if _cnp.ndim(x) else 1
        cov = _cnp.asarray(cov)
        if _cnp.ndim(cov) < 2:
            cov = _cnp.eye(dimension) * cov
        if _cnp.shape(cov) != (dimension, dimension):
            raise ValueError(f"multivariate_normal: cov has shape {_cnp.shape(cov)}, expected "
                             f"({dimension}, {dimension}) for x of shape {_cnp.shape(x)}")
        difference = x if mean is None else _cnp.subtract(x, mean)
        factor = self._cholesky(cov, allow_singular)
        flat = _cnp.reshape(difference, (-1, dimension))
        whitened = _linalg.triangular_solve(factor, _cnp.transpose(flat), lower=True)
        mahalanobis = _cnp.sum(whitened * whitened, axis=0)
        log_det = _cnp.sum(_cnp.log(_cnp.diagonal(factor)))
        out = -0.5 * mahalanobis - log_det - 0.5 * dimension * _LOG_2PI
        return _cnp.reshape(out, _cnp.shape(difference)[:-1])

    def pdf(self, x, mean=None, cov=1, allow_singular=False):
        """Density.

        >>> import numpy
        >>> from chainrule.scipy.stats import multivariate_normal
        >>> round(float(multivariate_normal.pdf(numpy.zeros(2), numpy.zeros(2), numpy.eye(2))), 6)
        0.159155
        """
        return _cnp.exp(self.logpdf(x, mean, cov, allow_singular=allow_singular))

    @staticmethod
    def _cholesky(cov, allow_singular):
        try:
            return _cnp.linalg.cholesky(cov)
        except _np.linalg.LinAlgError:
            hint = ("with allow_singular=True its density on the support is SciPy's for plain arguments, but not "
                    "differentiable here" if allow_singular else "SciPy would raise too; pass allow_singular=True "
                    "for the density on its support (plain arguments only)")
            raise _np.linalg.LinAlgError(f"multivariate_normal: cov is not positive definite; {hint}") from None


multivariate_normal = _MultivariateNormal("multivariate_normal")
