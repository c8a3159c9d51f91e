"""Products: dot, vdot, inner, outer, matmul, tensordot, einsum, kron, cross — all lowered to the one
``contract`` primitive (a two-operand einsum), plus sums and diagonals where einsum asks for them."""
import string
import warnings

import numpy as _np

from ..ops import arithmetic as _ar, contraction as _ct, indexing as _ix, reduction as _red
from .arrays import asarray, ndim, normalize_axes, numpy_when_untraced, shape
from .shaping import broadcast_to, reshape, transpose

_LETTERS = string.ascii_letters


def _interleaved_subscripts(first, rest):
    """(subscripts string, operands) of einsum's interleaved form: operand, axis labels, operand, labels, ...,
    optional output labels; labels are integers (or Ellipsis)."""
    arguments = [first, *rest]
    operands, labels = arguments[0::2], arguments[1::2]
    output = None
    if len(labels) < len(operands):  # the last argument is the output's labels
        operands, output = operands[:-1], operands[-1]

    def letters(sublist):
        return "".join("..." if label is Ellipsis else _LETTERS[int(label)] for label in sublist)
    subscripts = ",".join(letters(sublist) for sublist in labels)
    if output is not None:
        subscripts += "->" + letters(output)
    return subscripts, operands


_LETTERS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"


def _parse_einsum(subscripts, operands):
    subscripts = subscripts.replace(" ", "")
    if "->" in subscripts:
        inputs, output = subscripts.split("->")
        explicit = True
    else:
        inputs, output, explicit = subscripts, None, False
    specs = inputs.split(",")
    if len(specs) != len(operands):
        raise ValueError(f"einsum: {len(specs)} operand subscripts in {subscripts!r} but {len(operands)} operands")
    if any("." in s for s in specs) or (output and "." in output):
        unused = [c for c in _LETTERS if c not in subscripts]
        ellipsis_ndim = max(ndim(op) - len(s.replace("...", "")) for s, op in zip(specs, operands) if "..." in s)
        filler = "".join(unused[:ellipsis_ndim])
        specs = [s.replace("...", filler[len(filler) - (ndim(op) - len(s.replace("...", ""))):])
                 for s, op in zip(specs, operands)]
        if output is not None:
            output = output.replace("...", filler)
        elif explicit is False:
            output = filler + "".join(sorted(c for c in set("".join(specs)) if "".join(specs).count(c) == 1
                                             and c not in filler))
    if output is None:
        joined = "".join(specs)
        output = "".join(sorted(c for c in set(joined) if joined.count(c) == 1))
    for spec, op in zip(specs, operands):
        if len(spec) != ndim(op):
            raise ValueError(f"einsum: subscripts {spec!r} do not match an operand of shape {shape(op)}")
    return specs, output


def _take_diagonals(operand, spec):
    """Collapse repeated letters of one operand (e.g. 'ii') to one axis by a diagonal gather."""
    while len(set(spec)) != len(spec):
        letter = next(c for c in spec if spec.count(c) > 1)
        first, second = spec.index(letter), spec.index(letter, spec.index(letter) + 1)
        order = [i for i in range(len(spec)) if i not in (first, second)] + [first, second]
        operand = transpose(operand, order)
        n = shape(operand)[-1]
        template = _ix.IndexTemplate((("ellipsis",), ("array", 0), ("array", 1)))
        operand = _ix.gather(operand, _np.arange(n), _np.arange(n), template=template)
        spec = "".join(spec[i] for i in order[:-2]) + letter
    return operand, spec


def _sum_letters(operand, spec, keep):
    """Sum away the letters of ``spec`` that are not in ``keep``."""
    axes = tuple(i for i, c in enumerate(spec) if c not in keep)
    if not axes:
        return operand, spec
    return _red.reduce_sum(operand, axes=axes), "".join(c for c in spec if c in keep)


def _einsum_plain(subscripts, *operands, optimize=True):
    return _np.einsum(subscripts, *operands, optimize=optimize)  # NumPy's default is optimize=False


@numpy_when_untraced(_einsum_plain)
def einsum(subscripts, *operands, optimize=True):
    """``numpy.einsum``, differentiable: lowered to pairwise contractions, sums and diagonal gathers.

    >>> import chainrule as cr, chainrule.numpy as np
    >>> A = np.array([[1.0, 2.0], [3.0, 4.0]])
    >>> cr.grad(lambda A: np.einsum("ii->", A))(A)
    array([[1., 0.],
           [0., 1.]])
    """
    if not isinstance(subscripts, str):  # the interleaved form: einsum(a, [0, 1], b, [1, 2], [0, 2])
        subscripts, operands = _interleaved_subscripts(subscripts, operands)
    operands = [asarray(op) for op in operands]
    specs, output = _parse_einsum(subscripts, operands)
    items = [_take_diagonals(op, spec) for op, spec in zip(operands, specs)]
    sizes = {}
    for op, spec in items:
        for c, d in zip(spec, shape(op)):
            if sizes.setdefault(c, d) != d and d != 1 and sizes[c] != 1:
                raise ValueError(f"einsum: letter {c!r} has sizes {sizes[c]} and {d}")
    while len(items) > 1:
        (left, left_spec), (right, right_spec) = items[0], items[1]
        later = output + "".join(s for _, s in items[2:])
        left, left_spec = _sum_letters(left, left_spec, right_spec + later)
        right, right_spec = _sum_letters(right, right_spec, left_spec + later)
        result_spec = "".join(dict.fromkeys(c for c in left_spec + right_spec if c in later))
        product = _ct.contract(left, right, spec=f"{left_spec},{right_spec}->{result_spec}")
        items = [(product, result_spec)] + items[2:]
    operand, spec = items[0]
    operand, spec = _sum_letters(operand, spec, output)
    if spec != output:
        operand = transpose(operand, [spec.index(c) for c in output])
    return operand


@numpy_when_untraced(_np.matmul)
def matmul(x1, x2):
    """``numpy.matmul`` (``@``) with batch broadcasting.

    >>> import chainrule as cr, chainrule.numpy as np
    >>> A, x = np.array([[1.0, 2.0], [3.0, 4.0]]), np.array([1.0, 1.0])
    >>> np.matmul(A, x)
    array([3., 7.])
    >>> cr.grad(lambda x: np.sum(np.matmul(A, x)))(x)  # the column sums of A
    array([4., 6.])
    """
    x1, x2 = asarray(x1), asarray(x2)
    if ndim(x1) == 0 or ndim(x2) == 0:
        raise ValueError("matmul: Input operand does not have enough dimensions (use * for scalars)")
    s1, s2 = shape(x1), shape(x2)
    if s1[-1] != s2[-2 if len(s2) > 1 else 0]:
        raise ValueError(f"matmul: Input operand 1 has a mismatch in its core dimension 0, with gufunc signature "
                         f"(n?,k),(k,m?)->(n?,m?) (size {s2[-2 if len(s2) > 1 else 0]} is different from {s1[-1]}); "
                         f"shapes {s1} and {s2}")
    if len(s1) > 2 or len(s2) > 2:
        batch = _np.broadcast_shapes(s1[:-2] if len(s1) > 1 else (), s2[:-2] if len(s2) > 1 else ())
        if len(s1) > 1:
            x1 = broadcast_to(x1, batch + s1[-2:])
        if len(s2) > 1:
            x2 = broadcast_to(x2, batch + s2[-2:])
    return _ct.contract(x1, x2, spec=_ct.matmul_spec(ndim(x1), ndim(x2)))


@numpy_when_untraced(_np.dot)
def dot(a, b):
    """``numpy.dot``.

    >>> import chainrule as cr, chainrule.numpy as np
    >>> a, b = np.array([1.0, 2.0]), np.array([3.0, 4.0])
    >>> float(np.dot(a, b)), cr.grad(np.dot, argnums=(0, 1))(a, b)
    (11.0, (array([3., 4.]), array([1., 2.])))
    """
    a, b = asarray(a), asarray(b)
    if ndim(a) == 0 or ndim(b) == 0:
        return _ar.mul(a, b)
    if ndim(b) <= 2:
        return matmul(a, b) if ndim(a) <= 2 else tensordot(a, b, axes=([ndim(a) - 1], [0]))
    return tensordot(a, b, axes=([ndim(a) - 1], [ndim(b) - 2]))


@numpy_when_untraced(_np.tensordot)
def tensordot(a, b, axes=2):
    """``numpy.tensordot``.

    >>> import chainrule as cr, chainrule.numpy as np
    >>> a = np.array([[1.0, 2.0], [3.0, 4.0]])
    >>> float(np.tensordot(a, a, axes=2))  # the sum of squares
    30.0
    >>> cr.grad(lambda a: np.tensordot(a, a, axes=2))(a)
    array([[2., 4.],
           [6., 8.]])
    """
    a, b = asarray(a), asarray(b)
    if isinstance(axes, int):
        a_axes, b_axes = list(range(ndim(a) - axes, ndim(a))), list(range(axes))
    else:
        a_axes, b_axes = axes
        a_axes = [a_axes] if isinstance(a_axes, int) else list(a_axes)
        b_axes = [b_axes] if isinstance(b_axes, int) else list(b_axes)
    a_axes = [x % ndim(a) for x in a_axes]
    b_axes = [x % ndim(b) for x in b_axes]
    for x, y in zip(a_axes, b_axes):
        if shape(a)[x] != shape(b)[y]:
            raise ValueError(f"tensordot: shape-mismatch for sum: axis {x} of a {shape(a)} and axis {y} of b {shape(b)}")
    a_letters = list(_LETTERS[:ndim(a)])
    b_letters = list(_LETTERS[ndim(a):ndim(a) + ndim(b)])
    for x, y in zip(a_axes, b_axes):
        b_letters[y] = a_letters[x]
    out = [c for i, c in enumerate(a_letters) if i not in a_axes] + [c for i, c in enumerate(b_letters) if i not in b_axes]
    return einsum(f"{''.join(a_letters)},{''.join(b_letters)}->{''.join(out)}", a, b)


@numpy_when_untraced(_np.inner)
def inner(a, b):
    """``numpy.inner``: sum over the last axes.

    >>> import chainrule as cr, chainrule.numpy as np
    >>> a, b = np.array([1.0, 2.0]), np.array([3.0, 4.0])
    >>> float(np.inner(a, b)), cr.grad(np.inner)(a, b)
    (11.0, array([3., 4.]))
    """
    a, b = asarray(a), asarray(b)
    if ndim(a) == 0 or ndim(b) == 0:
        return _ar.mul(a, b)
    return tensordot(a, b, axes=([-1], [-1]))


@numpy_when_untraced(_np.outer)
def outer(a, b):
    """``numpy.outer`` (inputs are flattened).

    >>> import chainrule as cr, chainrule.numpy as np
    >>> a, b = np.array([1.0, 2.0]), np.array([3.0, 4.0])
    >>> np.outer(a, b)
    array([[3., 4.],
           [6., 8.]])
    >>> cr.grad(lambda a: np.sum(np.outer(a, b)))(a)  # sum(b) for every entry
    array([7., 7.])
    """
    return einsum("i,j->ij", reshape(a, (-1,)), reshape(b, (-1,)))


@numpy_when_untraced(_np.vdot)
def vdot(a, b):
    """``numpy.vdot``: the dot product of the flattened arrays, conjugating the first.

    >>> import chainrule as cr, chainrule.numpy as np
    >>> complex(np.vdot(np.array([1j, 2.0]), np.array([1j, 1.0])))  # conj(1j) * 1j + 2 * 1
    (3+0j)
    >>> cr.grad(np.vdot)(np.array([1.0, 2.0]), np.array([3.0, 4.0]))
    array([3., 4.])
    """
    a, b = asarray(a), asarray(b)
    from .elementwise import conjugate
    return einsum("i,i->", reshape(conjugate(a), (-1,)), reshape(b, (-1,)))


@numpy_when_untraced(_np.kron)
def kron(a, b):
    """``numpy.kron``.

    >>> import chainrule as cr, chainrule.numpy as np
    >>> a, b = np.array([1.0, 2.0]), np.array([1.0, 10.0])
    >>> np.kron(a, b)
    array([ 1., 10.,  2., 20.])
    >>> cr.grad(lambda a: np.sum(np.kron(a, b)))(a)
    array([11., 11.])
    """
    a, b = asarray(a), asarray(b)
    n = max(ndim(a), ndim(b))
    a = reshape(a, (1,) * (n - ndim(a)) + shape(a))
    b = reshape(b, (1,) * (n - ndim(b)) + shape(b))
    left, right = _LETTERS[:n], _LETTERS[n:2 * n]
    product = einsum(f"{left},{right}->{''.join(x + y for x, y in zip(left, right))}", a, b)
    return reshape(product, tuple(p * q for p, q in zip(shape(a), shape(b))))


@numpy_when_untraced(_np.cross)
def cross(a, b, axisa=-1, axisb=-1, axisc=-1, axis=None):
    """``numpy.cross``: the cross product of 3-vectors along ``axisa`` of ``a`` and ``axisb`` of ``b`` (``axis``
    sets all three), broadcast over the other axes, the vectors of the result along ``axisc``. 2-vectors work as
    in NumPy, with its DeprecationWarning: two 2-vectors give the scalar z component.

    >>> import chainrule as cr, chainrule.numpy as np
    >>> a, b = np.array([1.0, 0.0, 0.0]), np.array([1.0, 2.0, 3.0])
    >>> np.cross(a, b)
    array([ 0., -3.,  2.])
    >>> cr.grad(lambda a: np.cross(a, b)[2])(a)  # d/da (a0 b1 - a1 b0)
    array([ 2., -1.,  0.])
    """
    from .shaping import moveaxis, stack
    if axis is not None:
        axisa = axisb = axisc = axis
    a, b = asarray(a), asarray(b)
    if ndim(a) < 1 or ndim(b) < 1:
        raise ValueError(f"cross: At least one array has zero dimension (shapes {shape(a)} and {shape(b)})")
    a = moveaxis(a, normalize_axes(axisa, ndim(a), "axisa")[0], -1)
    b = moveaxis(b, normalize_axes(axisb, ndim(b), "axisb")[0], -1)
    size_a, size_b = shape(a)[-1], shape(b)[-1]
    if size_a not in (2, 3) or size_b not in (2, 3):
        raise ValueError(f"incompatible dimensions for cross product\n(dimension must be 2 or 3): the vectors have "
                         f"{size_a} and {size_b} components")
    if size_a == 2 or size_b == 2:
        warnings.warn("Arrays of 2-dimensional vectors are deprecated. Use arrays of 3-dimensional vectors "
                      "instead. (deprecated in NumPy 2.0)", DeprecationWarning, stacklevel=3)
    a0, a1 = a[..., 0], a[..., 1]
    b0, b1 = b[..., 0], b[..., 1]
    z = _ar.sub(_ar.mul(a0, b1), _ar.mul(a1, b0))
    if size_a == 2 and size_b == 2:
        return z
    if size_a == 2:  # a2 = 0
        b2 = b[..., 2]
        x, y = _ar.mul(a1, b2), _ar.neg(_ar.mul(a0, b2))
    elif size_b == 2:  # b2 = 0
        a2 = a[..., 2]
        x, y = _ar.neg(_ar.mul(a2, b1)), _ar.mul(a2, b0)
    else:
        a2, b2 = a[..., 2], b[..., 2]
        x, y = _ar.sub(_ar.mul(a1, b2), _ar.mul(a2, b1)), _ar.sub(_ar.mul(a2, b0), _ar.mul(a0, b2))
    out = stack([x, y, z], axis=-1)
    return moveaxis(out, -1, normalize_axes(axisc, ndim(out), "axisc")[0])
