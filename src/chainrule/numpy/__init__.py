"""``chainrule.numpy``: NumPy's names, signatures, broadcasting and dtype rules, built only from primitives.

Functions accept plain Python numbers, NumPy arrays and traced values alike; on plain values they
return what NumPy returns.
"""
import numpy as _np

from . import linalg
from . import fft
from . import random
from .arrays import ArrayWithAt, astype, is_traced, ndarray, ndim, real_if_close, result_type, shape, size
from .elementwise import *  # noqa: F401,F403  (the ufunc-like functions, generated from the primitive tables)
from .elementwise import (abs, angle, around, clip, conj, copysign, deg2rad, degrees, fabs, fix, float_power, fmax, fmin,
                          heaviside, logaddexp2, positive, rad2deg, radians, reciprocal, remainder, round, square,
                          true_divide, where)
from .products import cross, dot, einsum, inner, kron, matmul, outer, tensordot, vdot
from .reductions import (amax, amin, argmax, argmin, average, cumprod, cumsum, max, mean, min, prod, ptp, std,
                         sum, var)
from .predicates import allclose, array_equal, isclose
from .selection import select
from .shaping import (argpartition, argsort, array_split, atleast_1d, atleast_2d, atleast_3d, broadcast_arrays,
                      broadcast_to, column_stack, concatenate, diag, diagonal, dsplit, dstack, expand_dims, flip,
                      fliplr, flipud, hsplit, hstack, moveaxis, pad, partition, ravel, repeat, reshape, roll,
                      rollaxis, rot90, row_stack, sort, split, squeeze, stack, swapaxes, take, take_along_axis,
                      tile, trace, transpose, tril, triu, vsplit, vstack)
from .extras import (append, block, convolve, corrcoef, correlate, cov, cumulative_sum, delete, diff, digitize,
                     ediff1d, gradient, histogram, insert, interp, meshgrid, median, nan_to_num, nancumprod,
                     nancumsum, nanmax, nanmean, nanmin, nanprod, nanstd, nansum, nanvar, percentile, polyfit,
                     polyval, quantile, ravel_multi_index, searchsorted, trapezoid, unravel_index, vander)
# The public constructors (their arrays have .at) come after the star import, which brings the plain asarray.
from .constructors import (arange, array, asarray, copy, empty, empty_like, eye, full, full_like, geomspace,
                           identity, linspace, logspace, ones, ones_like, zeros, zeros_like)
from .index_tricks import c_, r_
from . import methods as _methods

_methods.install()

pi = _np.pi
e = _np.e
inf = _np.inf
nan = _np.nan
newaxis = None
euler_gamma = _np.euler_gamma
float16, float32, float64 = _np.float16, _np.float32, _np.float64
int8, int16, int32, int64 = _np.int8, _np.int16, _np.int32, _np.int64
uint8, uint16, uint32, uint64 = _np.uint8, _np.uint16, _np.uint32, _np.uint64
complex64, complex128 = _np.complex64, _np.complex128
bool_ = _np.bool_
dtype = _np.dtype
finfo = _np.finfo
iinfo = _np.iinfo
integer, floating, inexact, number = _np.integer, _np.floating, _np.inexact, _np.number
issubdtype = _np.issubdtype
