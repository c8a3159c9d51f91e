"""Pytrees: nested tuples, lists, dicts, None and registered classes, flattened to a list of leaves.

Transforms flatten their arguments and outputs with these functions, so any pytree of arrays works
wherever an array does.
"""


class TreeDef:
    """The structure of a pytree with its leaves taken out; ``unflatten`` puts leaves back."""

    __slots__ = ("node_type", "aux", "children", "num_leaves")

    def __init__(self, node_type, aux, children):
        self.node_type = node_type
        self.aux = aux
        self.children = children
        self.num_leaves = 1 if node_type is None else sum(c.num_leaves for c in children)

    def __eq__(self, other):
        return (isinstance(other, TreeDef) and self.node_type is other.node_type
                and self.aux == other.aux and self.children == other.children)

    def __hash__(self):
        return hash((self.node_type, str(self.aux), self.children))

    def __repr__(self):
        if self.node_type is None:
            return "*"
        inner = ", ".join(map(repr, self.children))
        if self.node_type is dict:
            inner = ", ".join(f"{k!r}: {c!r}" for k, c in zip(self.aux, self.children))
            return "{" + inner + "}"
        if self.node_type is list:
            return f"[{inner}]"
        if self.node_type is tuple:
            return f"({inner}{',' if len(self.children) == 1 else ''})"
        return f"{self.node_type.__name__}({inner})"

    def unflatten(self, leaves):
        leaves = list(leaves)
        if len(leaves) != self.num_leaves:
            raise ValueError(f"tree_unflatten: the structure {self!r} holds {self.num_leaves} leaves, "
                             f"but {len(leaves)} were given")
        return self._build(iter(leaves))

    def _build(self, leaf_iter):
        if self.node_type is None:
            return next(leaf_iter)
        children = [c._build(leaf_iter) for c in self.children]
        _, unflatten = _registry[self.node_type]
        return unflatten(self.aux, children)


LEAF = TreeDef(None, None, ())

_registry = {
    tuple: (lambda t: (t, None), lambda aux, children: tuple(children)),
    list: (lambda t: (t, None), lambda aux, children: list(children)),
    dict: (lambda d: ([d[k] for k in sorted(d)], tuple(sorted(d))),
           lambda keys, children: dict(zip(keys, children))),
    type(None): (lambda n: ((), None), lambda aux, children: None),
}


def register_pytree_node(node_type, flatten, unflatten):
    """Make instances of ``node_type`` pytree nodes.

    ``flatten(x) -> (children, aux)`` and ``unflatten(aux, children) -> x``; ``aux`` must be hashable
    and comparable.

    >>> class Pair:
    ...     def __init__(self, a, b): self.a, self.b = a, b
    >>> register_pytree_node(Pair, lambda p: ((p.a, p.b), None), lambda aux, ch: Pair(*ch))
    >>> tree_leaves(Pair(1.0, (2.0, 3.0)))
    [1.0, 2.0, 3.0]
    """
    _registry[node_type] = (flatten, unflatten)


def _node_kind(x):
    kind = type(x)
    if kind in _registry:
        return kind
    if isinstance(x, tuple) and hasattr(x, "_fields"):  # namedtuple
        _registry[kind] = (lambda t: (tuple(t), None), lambda aux, children, k=kind: k(*children))
        return kind
    return None


def tree_flatten(tree):
    """Split a pytree into its list of leaves and its structure.

    >>> leaves, treedef = tree_flatten({"w": (1.0, 2.0), "b": 3.0})
    >>> leaves
    [3.0, 1.0, 2.0]
    >>> tree_unflatten(treedef, [x * 10 for x in leaves])
    {'b': 30.0, 'w': (10.0, 20.0)}
    """
    if type(tree) not in _registry and not isinstance(tree, tuple):  # a single leaf: the common case, kept cheap
        return [tree], LEAF
    leaves = []
    return leaves, _flatten(tree, leaves)


def _flatten(tree, leaves):
    kind = _node_kind(tree)
    if kind is None:
        leaves.append(tree)
        return LEAF
    children, aux = _registry[kind][0](tree)
    return TreeDef(kind, aux, tuple(_flatten(c, leaves) for c in children))


def tree_unflatten(treedef, leaves):
    """Rebuild a pytree of structure ``treedef`` from ``leaves`` (inverse of ``tree_flatten``).

    >>> treedef = tree_structure({"w": (0, 0), "b": 0})
    >>> tree_unflatten(treedef, [1.0, 2.0, 3.0])
    {'b': 1.0, 'w': (2.0, 3.0)}
    """
    return treedef.unflatten(leaves)


def tree_leaves(tree):
    """The leaves of a pytree, in flattening order.

    Dict entries come in sorted key order; ``None`` is a node with no leaves.

    >>> tree_leaves({"b": [1.0, 2.0], "a": (3.0, None)})
    [3.0, 1.0, 2.0]
    """
    return tree_flatten(tree)[0]


def tree_structure(tree):
    """The structure of a pytree.

    >>> tree_structure((1.0, [2.0, 3.0]))
    (*, [*, *])
    >>> tree_structure((1.0, [2.0, 3.0])) == tree_structure(("a", [0, 1]))
    True
    """
    return tree_flatten(tree)[1]


def tree_map(function, tree, *rest):
    """Apply ``function`` leaf by leaf to one or more pytrees of the same structure.

    >>> tree_map(lambda a, b: a + b, [1, (2, 3)], [10, (20, 30)])
    [11, (22, 33)]
    """
    leaves, treedef = tree_flatten(tree)
    others = []
    for other in rest:
        other_leaves, other_def = tree_flatten(other)
        if other_def != treedef:
            raise ValueError(f"tree_map: pytree structures differ: {treedef!r} and {other_def!r}")
        others.append(other_leaves)
    return treedef.unflatten(function(*xs) for xs in zip(leaves, *others))
