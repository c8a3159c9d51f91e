"""Pytrees of arrays as flat real vectors, the coordinates the solvers of ``chainrule.optimize`` work in.

A complex leaf counts as two real blocks (real part, imaginary part): every linear map met here (a JVP
of an arbitrary, possibly non-holomorphic function) is real-linear, so real coordinates are the ones in
which its matrix, transpose and solves are all well defined.
"""
import math

import numpy as np

from ..core.avals import aval_of
from ..core.interpreter import Tracer
from ..core.tree import tree_flatten, tree_unflatten


def leaf_layout(tree, where):
    """Checked (shapes, dtypes) of a pytree's leaves, refusing integers and booleans by name."""
    leaves, _ = tree_flatten(tree)
    shapes, dtypes = [], []
    for position, leaf in enumerate(leaves):
        dtype = aval_of(leaf).dtype
        if dtype.kind not in "fc":
            raise TypeError(f"{where}: leaf {position} has dtype {dtype}; it must hold floating-point (or complex) "
                            f"values. Pass e.g. np.asarray(x, dtype=float).")
        shapes.append(tuple(np.shape(leaf)))
        dtypes.append(np.dtype(dtype))
    return shapes, dtypes


class RealSpace:
    """The flat real coordinates of pytrees shaped like ``example`` (same structure, shapes and dtypes).

    >>> space = RealSpace({"a": np.ones(2), "z": np.array(1 + 2j)}, "x0")
    >>> space.flatten({"a": np.array([3.0, 4.0]), "z": np.array(5 - 6j)})
    array([ 3.,  4.,  5., -6.])
    >>> space.unflatten(np.arange(4.0))["z"]
    array(2.+3.j)
    """

    def __init__(self, example, where):
        leaves, self.tree = tree_flatten(example)
        self.where = where
        self.shapes, self.dtypes = leaf_layout(example, where)
        self.sizes = [math.prod(shape) for shape in self.shapes]
        self.is_complex = [dtype.kind == "c" for dtype in self.dtypes]
        self.size = sum(size * (2 if c else 1) for size, c in zip(self.sizes, self.is_complex))
        # The working precision: float32 problems are solved to float32's accuracy, not float64's.
        self.dtype = np.result_type(*self.dtypes) if self.dtypes else np.dtype(np.float64)
        self.epsilon = float(np.finfo(self.dtype).eps)

    def check(self, tree, what, batch=()):
        """The leaves of a pytree shaped like this space's example (with leading ``batch`` axes); refuse any
        other, naming the difference."""
        leaves, tree_def = tree_flatten(tree)
        if tree_def != self.tree:
            raise ValueError(f"{what} has structure {tree_def!r}, but {self.where} has {self.tree!r}; "
                             f"they must match")
        for position, (leaf, shape, is_complex) in enumerate(zip(leaves, self.shapes, self.is_complex)):
            if tuple(np.shape(leaf)) != tuple(batch) + shape:
                raise ValueError(f"{what}: leaf {position} has shape {tuple(np.shape(leaf))[len(batch):]}, but the "
                                 f"matching leaf of {self.where} has shape {shape}; they must match")
            if aval_of(leaf).dtype.kind == "c" and not is_complex:
                # Its imaginary part would have no coordinate: refused rather than dropped.
                raise TypeError(f"{what}: leaf {position} is complex, but the matching leaf of {self.where} is "
                                f"real; make {self.where} complex (x + 0j) or return real values")
        return leaves

    def flatten_leaves(self, leaves, batch=()):
        """One real vector (a stack of them, for leaves with leading ``batch`` axes) from the leaves."""
        pieces = []
        for leaf, is_complex in zip(leaves, self.is_complex):
            values = np.asarray(leaf).reshape(tuple(batch) + (-1,))
            pieces += [values.real, values.imag] if is_complex else [values.real]
        if not pieces:
            return np.zeros(tuple(batch) + (0,))
        return np.concatenate(pieces, axis=-1).astype(np.float64)

    def flatten(self, tree):
        return self.flatten_leaves(tree_flatten(tree)[0])

    def unflatten_leaves(self, vector, batch=()):
        """Leaves from a real vector (or a stack of them, with leading ``batch`` axes), in their dtypes."""
        leaves, offset = [], 0
        for shape, dtype, size, is_complex in zip(self.shapes, self.dtypes, self.sizes, self.is_complex):
            part = vector[..., offset:offset + size]
            offset += size
            if is_complex:
                part = part + 1j * vector[..., offset:offset + size]
                offset += size
            leaves.append(np.asarray(part, dtype=dtype).reshape(tuple(batch) + shape))
        return leaves

    def unflatten(self, vector):
        return tree_unflatten(self.tree, self.unflatten_leaves(vector))

    def zeros(self):
        return self.unflatten(np.zeros(self.size))


def has_tracer(tree):
    return any(isinstance(leaf, Tracer) for leaf in tree_flatten(tree)[0])


def traced_unravel(space):
    """``vector -> pytree`` made of chainrule operations (so it can be differentiated), for real spaces."""
    from .. import numpy as cnp
    if any(space.is_complex):
        raise TypeError(f"{space.where} is complex; this solver works on real values. Write the problem in the "
                        f"real and imaginary parts (two real arrays) instead.")

    def unravel(vector):
        leaves, offset = [], 0
        for shape, dtype, size in zip(space.shapes, space.dtypes, space.sizes):
            leaves.append(cnp.reshape(cnp.astype(vector[offset:offset + size], dtype), shape))
            offset += size
        return tree_unflatten(space.tree, leaves)

    return unravel
