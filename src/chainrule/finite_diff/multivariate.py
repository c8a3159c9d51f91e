"""Gradients, Jacobians, JVPs, Hessians and Hessian-vector products by finite differences;
each lane is a coordinate or a direction of x, differentiated by the shared step search."""
from __future__ import annotations

import numpy as np

from .derivative import output_dtype, run, split_bounds, with_args
from .errors import report_problem
from .evaluation import Evaluator, as_point
from .grouped import sparse_hessian, sparse_jacobian
from .info import FiniteDifferenceInfo
from .lanes import CoordinateLanes, DirectionLanes

__all__ = ["gradient", "jacobian", "jvp", "hessian", "hvp"]


def _jacobian_core(f, x, *, name="f", what="jacobian", method="central", step=None, order=2,
                   extrapolate=False, bounds=None, return_info=False, strict=False, absolute=False,
                   noise=None, vectorized=False, workers=None, probe=True, check=True, args=(),
                   kwargs=None):
    x = as_point(x)
    lower, upper = split_bounds(bounds)
    evaluator = Evaluator(with_args(f, args, kwargs), x, vectorized=vectorized, workers=workers, name=name)
    lanes = CoordinateLanes(evaluator, x, lower, upper)
    if x.size == 0:
        raise ValueError(f"x is empty (shape {x.shape}); there is nothing to differentiate")
    result, used, status = run(lanes, method=method, order=order, step=step, extrapolate=extrapolate,
                               absolute=absolute, noise=noise, want_error=return_info, strict=strict,
                               check=check, probe=probe, what=what)
    out_shape = evaluator.output_shape
    dtype = output_dtype(x, evaluator, result.value)
    # lanes come first: move them behind the output axes, then unflatten to x's shape
    value = np.moveaxis(result.value, 0, -1)
    value = value.reshape(out_shape + x.shape).astype(dtype)
    error = None
    if result.error is not None:
        error = np.moveaxis(result.error, 0, -1).reshape(out_shape + x.shape)
    info = FiniteDifferenceInfo(
        np.full(value.shape, np.nan) if error is None else error, evaluator.nfev,
        result.step.reshape(x.shape), used, status)
    return value, info, evaluator


def jacobian(f, x, **options):
    """Jacobian of f at x, shaped ``f(x).shape + x.shape`` (one column per input).

    Accepts the options of :func:`derivative` (method, step, order, extrapolate, bounds,
    return_info, strict, absolute, noise, vectorized, workers).

    With ``sparsity`` (a boolean matrix of shape ``(f(x).size, x.size)``), the columns are colored so that
    one difference per color gives every entry, and the result is a ``scipy.sparse`` CSR matrix; then
    only ``method`` ('central' or 'forward'), ``step``, ``absolute``, ``order`` (the coloring order, see
    ``chainrule.sparse.coloring``), ``args`` and ``kwargs`` apply.

    >>> import numpy as np
    >>> f = lambda x: np.array([x[0] * x[1], np.sin(x[0])])
    >>> print(np.round(jacobian(f, np.array([1.0, 2.0])), 8))
    [[2.         1.        ]
     [0.54030231 0.        ]]
    """
    if options.get("sparsity") is not None:
        return sparse_jacobian(f, x, **_sparse_options(options, "jacobian"))
    options.pop("sparsity", None)
    return_info = options.get("return_info", False)
    value, info, _ = _jacobian_core(f, x, **options)
    return (value, info) if return_info else value


_SPARSE_JACOBIAN_OPTIONS = ("sparsity", "method", "step", "absolute", "order", "args", "kwargs")


def _refuse_with_sparsity(names, what):
    if names:
        raise ValueError(f"{what}(sparsity=...): {', '.join(sorted(names))} cannot be combined with a sparsity "
                         f"pattern (grouped differences take method, step, absolute and the coloring order); "
                         f"drop them or drop sparsity")


def _sparse_options(options, what):
    _refuse_with_sparsity([name for name in options if name not in _SPARSE_JACOBIAN_OPTIONS], what)
    options = dict(options)
    order = options.pop("order", "auto")
    # ``order`` is the stencil order for dense differences; with sparsity, a string names the coloring order
    options["order"] = order if isinstance(order, str) else "auto"
    if not isinstance(order, str) and order != 2:
        raise ValueError(f"{what}(sparsity=...): grouped differences use fixed 2-point stencils; order={order} "
                         f"is for dense differences (pass a coloring order such as 'auto' or 'best')")
    options["sparsity"] = options.pop("sparsity")
    return options


def gradient(f, x, **options):
    """Gradient of a scalar function f at x, with x's shape (a 3x4 x gives a 3x4 gradient).

    >>> import numpy as np
    >>> g = gradient(lambda x: np.sum(x ** 3), np.array([[1.0, 2.0], [3.0, 4.0]]))
    >>> print(np.round(g, 7))
    [[ 3. 12.]
     [27. 48.]]
    """
    return_info = options.get("return_info", False)
    value, info, evaluator = _jacobian_core(f, x, what="gradient", **options)
    if evaluator.output_shape != ():
        raise ValueError(
            f"gradient needs a scalar f, but f returned shape {evaluator.output_shape}; "
            f"use fd.jacobian for vector outputs")
    return (value, info) if return_info else value


def jvp(f, x, v, *, method="central", step=None, order=2, extrapolate=False, bounds=None,
        return_info=False, strict=False, absolute=False, noise=None, vectorized=False,
        workers=None, probe=True, check=True, args=(), kwargs=None, name="f"):
    """Directional derivative J(x) v from evaluations of f along x + t v.

    >>> import numpy as np
    >>> f = lambda x: np.array([x[0] ** 2, x[0] * x[1]])
    >>> print(np.round(jvp(f, np.array([1.0, 2.0]), np.array([1.0, 0.0])), 8))
    [2. 2.]
    """
    x = as_point(x)
    v = np.asarray(v, dtype=np.result_type(x.dtype, np.float32))
    if v.shape != x.shape:
        raise ValueError(f"v must have x's shape {x.shape}, got {v.shape}")
    if not np.all(np.isfinite(v)):
        raise ValueError("v must be finite")
    lower, upper = split_bounds(bounds)
    evaluator = Evaluator(with_args(f, args, kwargs), x, vectorized=vectorized, workers=workers, name=name)
    lanes = DirectionLanes(evaluator, x, [v], lower, upper)
    result, used, status = run(lanes, method=method, order=order, step=step, extrapolate=extrapolate,
                               absolute=absolute, noise=noise, want_error=return_info, strict=strict,
                               check=check, probe=probe, what="jvp")
    dtype = output_dtype(x, evaluator, result.value)
    value = np.asarray(result.value[0]).astype(dtype)
    if not return_info:
        return value[()] if value.ndim == 0 else value
    error = np.full(value.shape, np.nan) if result.error is None else result.error[0]
    info = FiniteDifferenceInfo(error, evaluator.nfev, result.step[0], used, status)
    return (value[()] if value.ndim == 0 else value), info


def _refuse_complex(x, what):
    if x.dtype.kind == "c":
        raise TypeError(f"{what}: x has complex dtype {x.dtype} (shape {x.shape}); second derivatives are "
                        f"taken over real x: differentiate the real and imaginary parts as separate real inputs")


def _symmetric(matrix, x_shape):
    """(H + H^T) / 2 over the x-axes; the asymmetry removed is part of the error bound."""
    size = int(np.prod(x_shape))
    square = matrix.reshape(size, size)
    asymmetry = np.abs(square - square.T) / 2
    sym = (square + square.T) / 2
    return sym.reshape(x_shape + x_shape), asymmetry.reshape(x_shape + x_shape)


def hessian(f, x, *, grad=None, method="central", step=None, order=2, extrapolate=False,
            bounds=None, return_info=False, strict=False, absolute=False, vectorized=False,
            workers=None, args=(), kwargs=None, sparsity=None, coloring_order="auto"):
    """Hessian of a scalar f at x, exactly symmetric, shaped ``x.shape + x.shape``.

    With ``grad`` (an exact gradient, e.g. from automatic differentiation) it costs 2n
    gradient calls for central differences (n + 1 forward) and is accurate to about 1e-10;
    without, it differences f itself (central differences of a central-difference
    gradient: 2n^2 + 1 calls, accurate to about 1e-7 relative).

    >>> import numpy as np
    >>> f = lambda x: x[0] ** 2 * x[1]
    >>> grad = lambda x: np.array([2 * x[0] * x[1], x[0] ** 2])
    >>> print(np.round(hessian(f, np.array([1.0, 3.0]), grad=grad), 8))
    [[6. 2.]
     [2. 0.]]
    >>> print(np.round(hessian(f, np.array([1.0, 3.0])), 5))
    [[6. 2.]
     [2. 0.]]

    With ``sparsity`` (the symmetric boolean pattern, ``(x.size, x.size)``), a star coloring reads every
    entry from one difference (2 gradient calls per color, or about 4 n colors calls of f without
    ``grad``) and the result is a symmetric ``scipy.sparse`` CSR matrix; ``coloring_order`` as ``order`` in
    ``chainrule.sparse.coloring``.
    """
    if sparsity is not None:
        unsupported = {"order": order != 2, "extrapolate": extrapolate, "bounds": bounds is not None,
                       "return_info": return_info, "strict": strict, "vectorized": vectorized,
                       "workers": workers is not None}
        _refuse_with_sparsity([name for name, given in unsupported.items() if given], "hessian")
        return sparse_hessian(f, x, sparsity, grad=grad, method=method, step=step, absolute=absolute,
                              order=coloring_order, args=args, kwargs=kwargs)
    x = as_point(x)
    _refuse_complex(x, "hessian")
    eps = np.finfo(x.dtype).eps
    if grad is not None:
        value, info, evaluator = _jacobian_core(
            grad, x, name="grad", what="hessian", method=method, step=step, order=order,
            extrapolate=extrapolate, bounds=bounds, return_info=return_info, strict=strict,
            absolute=absolute, vectorized=vectorized, workers=workers, check=False, probe=True,
            args=args, kwargs=kwargs)
        if evaluator.output_shape != x.shape:
            raise ValueError(f"grad must return x's shape {x.shape}, got {evaluator.output_shape}")
        sym, asymmetry = _symmetric(value, x.shape)
        error = np.where(np.isnan(info.error), asymmetry, np.fmax(info.error, asymmetry))
        scale = np.max(np.abs(sym)) if sym.size else 0.0
        if np.any(asymmetry > eps ** 0.25 * np.maximum(np.abs(sym), eps ** 0.25 * scale) + 0):
            report_problem("hessian: the differenced gradient is far from symmetric; grad may be "
                           "wrong or noisy (check it with fd.check_grad)", strict)
            info.status = "inaccurate"
        info.error = error
        return (sym, info) if return_info else sym
    if extrapolate:
        raise ValueError("hessian(extrapolate=True) needs grad=...; without it the Hessian "
                         "uses fixed second-difference stencils")
    return _hessian_from_values(f, x, step=step, absolute=absolute, bounds=bounds,
                                return_info=return_info, strict=strict, vectorized=vectorized,
                                workers=workers, args=args, kwargs=kwargs)


def _hessian_from_values(f, x, *, step, absolute, bounds, return_info, strict, vectorized,
                         workers, args, kwargs):
    """H_ij from f(x +- h_i e_i +- h_j e_j): the central difference of a central gradient."""
    evaluator = Evaluator(with_args(f, args, kwargs), x, vectorized=vectorized, workers=workers)
    if bounds is not None:
        raise ValueError("hessian(bounds=...) needs grad=...; second differences of f are "
                         "central only")
    flat = x.ravel()
    size = flat.size
    eps = float(np.finfo(x.dtype).eps)
    scale = np.where(np.abs(flat) > 0, np.abs(flat), 1.0).astype(float)
    if step is None:
        h = scale * eps ** 0.25 / 2
    else:
        h = np.broadcast_to(np.asarray(step, dtype=float), x.shape).ravel() * (1.0 if absolute else scale)
    h = ((flat + h.astype(x.dtype)) - flat).astype(float)

    def point(*moves):
        p = flat.copy()
        for index, amount in moves:
            p[index] = p[index] + x.dtype.type(amount)
        return p.reshape(x.shape)

    center = np.asarray(evaluator.one(x), dtype=float)
    if center.shape != ():
        raise ValueError(f"hessian needs a scalar f, but f returned shape {center.shape}")
    points, keys = [], []
    for i in range(size):
        for sign in (+2, -2):
            points.append(point((i, sign * h[i])))
            keys.append((i, i, sign))
        for j in range(i + 1, size):
            for si in (+1, -1):
                for sj in (+1, -1):
                    points.append(point((i, si * h[i]), (j, sj * h[j])))
                    keys.append((i, j, si, sj))
    values = [float(v) for v in evaluator(points)]
    table = dict(zip(keys, values))
    matrix = np.zeros((size, size))
    rounding = np.zeros((size, size))
    noise = 4 * eps * max(abs(float(center)), max(abs(v) for v in values) if values else 0.0)
    for i in range(size):
        matrix[i, i] = (table[(i, i, 2)] - 2 * float(center) + table[(i, i, -2)]) / (4 * h[i] ** 2)
        rounding[i, i] = 4 * noise / (4 * h[i] ** 2)
        for j in range(i + 1, size):
            entry = (table[(i, j, 1, 1)] - table[(i, j, 1, -1)] - table[(i, j, -1, 1)]
                     + table[(i, j, -1, -1)]) / (4 * h[i] * h[j])
            matrix[i, j] = matrix[j, i] = entry
            rounding[i, j] = rounding[j, i] = 4 * noise / (4 * h[i] * h[j])
    if not np.all(np.isfinite(matrix)):
        report_problem("hessian: f is NaN or infinite near x; some entries are NaN", strict)
    dtype = np.result_type(x.dtype, np.float32) if x.dtype == np.float32 else float
    value = matrix.reshape(x.shape + x.shape).astype(dtype)
    if not return_info:
        return value
    # truncation of the 2h-wide central stencil, bounded by the diagonal fourth-difference scale
    error = (rounding + np.sqrt(eps) * np.abs(matrix)).reshape(x.shape + x.shape)
    info = FiniteDifferenceInfo(error, evaluator.nfev, h.reshape(x.shape), "central", "ok")
    return value, info


def hvp(f, x, v, *, grad=None, method="central", step=None, return_info=False, strict=False,
        absolute=False, vectorized=False, workers=None, args=(), kwargs=None):
    """Hessian-vector product (d^2 f / dx^2) v from one difference of the gradient along v.

    ``method='forward'`` uses grad(x) and grad(x + t v); 'central' uses x +- t v. Without
    ``grad``, the gradient itself is a central difference of f (2n calls per gradient).

    >>> import numpy as np
    >>> f = lambda x: np.sum(x ** 4)
    >>> grad = lambda x: 4 * x ** 3
    >>> print(np.round(hvp(f, np.array([1.0, 2.0]), np.array([1.0, 1.0]), grad=grad), 6))
    [12. 48.]
    """
    x = as_point(x)
    _refuse_complex(x, "hvp")
    if grad is None:
        eps = float(np.finfo(x.dtype).eps)
        inner_step = eps ** 0.25
        grad_function = lambda y: jacobian(with_args(f, args, kwargs), y, step=inner_step, check=False)
        if step is None:
            step = eps ** 0.25
        g_args, g_kwargs = (), None
    else:
        grad_function, g_args, g_kwargs = grad, args, kwargs
    if method not in ("forward", "central", "backward"):
        raise ValueError(f"hvp method must be 'forward', 'backward' or 'central', got {method!r}")
    order = 2 if method == "central" else 1
    return jvp(grad_function, x, v, method=method, order=order, step=step, return_info=return_info,
               strict=strict, absolute=absolute, vectorized=vectorized, workers=workers,
               check=False, args=g_args, kwargs=g_kwargs, name="grad")
