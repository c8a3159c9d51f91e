"""Pictures of the computational graph (``cr.draw``): DOT text, rendered by Graphviz when ``dot`` is
installed, otherwise laid out by igraph (export/layout.py) and drawn with matplotlib (PNG, SVG, PDF)."""
import os
import shutil
import subprocess

from ..core.graph import Literal, Var
from .layout import LABEL_FONT_SIZE, LABEL_PAD, NODE_FONT_SIZE, graphviz_layout, sugiyama_layout
from .staging import is_scalar, number_variables, stage
from .trace import _differentiable, _one_hot_partial, explain, format_number, name_outputs

_SUBSCRIPTS = str.maketrans("-0123456789", "₋₀₁₂₃₄₅₆₇₈₉")
FORMATS = ("png", "svg", "pdf", "dot")


class Node:
    """A variable of the picture: its trace number, the lines of its label, its role."""

    __slots__ = ("number", "operation", "value", "extra", "role", "output_name")

    def __init__(self, number, operation, value, extra, role, output_name=None):
        self.number = number
        self.operation = operation
        self.value = value
        self.extra = extra
        self.role = role  # "input", "intermediate" or "output"
        self.output_name = output_name

    @property
    def identifier(self):
        return f"v{self.number}" if self.number >= 0 else f"v_m{-self.number}"


def describe_graph(function, *args, partials=True, mode="reverse", digits=6):
    """The nodes and edges of the picture: (nodes, edges) with edges (source, target, label)."""
    if mode not in ("none", "forward", "reverse"):
        raise ValueError(f"draw: mode={mode!r}; use 'none', 'forward' or 'reverse'")
    graph, names, values = stage(function, args)
    numbers = number_variables(graph)
    table = explain(function, *args, mode="reverse" if mode == "none" else mode)
    show = lambda value: format_number(value, digits)  # noqa: E731  (one-line formatter)
    nodes = {}
    for var, name in zip(graph.invars, names):
        number = numbers[var]
        nodes[var] = Node(number, name, table.values[number], None, "input")
    env = {var: table.values[numbers[var]] for var in numbers}
    edges = []
    for equation in graph.equations:
        primitive = equation.primitive
        literal_text = [show(a.value) for a in equation.inputs if isinstance(a, Literal)]
        operation = primitive.name + (f"({', '.join(literal_text)})" if literal_text else "")
        for position, var in enumerate(equation.outputs):
            suffix = f"[{position}]" if primitive.multiple_results else ""
            nodes[var] = Node(numbers[var], operation + suffix, env[var], None, "intermediate")
        primals = [a.value if isinstance(a, Literal) else env[a] for a in equation.inputs]
        scalar = all(is_scalar(p) for p in primals) and not primitive.multiple_results
        for position, atom in enumerate(equation.inputs):
            if not isinstance(atom, Var):
                continue
            label = ""
            if partials and scalar and primitive.differentiable and _differentiable(atom):
                label = show(_one_hot_partial(primitive, primals, position, equation.params))
            elif partials and not primitive.differentiable:
                label = "0"
            for var in equation.outputs:
                edges.append((nodes[atom], nodes[var], label))
    for name, atom in zip(name_outputs(len(graph.outvars), names), graph.outvars):
        if isinstance(atom, Var):
            node = nodes[atom]
            node.role = "output"
            node.output_name = name if node.output_name is None else f"{node.output_name}, {name}"
    if mode != "none":
        extras = table.tangents if mode == "forward" else table.adjoints
        mark = "\u0307" if mode == "forward" else "\u0304"
        for var, node in nodes.items():
            if node.number in extras:
                node.extra = f"v{mark}{str(node.number).translate(_SUBSCRIPTS)} = {show(extras[node.number])}"
    ordered = sorted(nodes.values(), key=lambda n: n.number)
    return ordered, edges


def _title(node):
    name = f"v{str(node.number).translate(_SUBSCRIPTS)}"
    if node.role == "input":
        return f"{name} = {node.operation}"
    text = f"{name} = {node.operation}"
    return text if node.output_name is None else f"{text} = {node.output_name}"


def _label_lines(node, digits):
    lines = [_title(node), format_number(node.value, digits)]
    if node.extra:
        lines.append(node.extra)
    return lines


def to_dot(function, *args, partials=True, mode="reverse", digits=6):
    """The graph as Graphviz DOT text: one node per variable, edges labelled with ∂v_i/∂v_j at the point.

    >>> import chainrule.numpy as np
    >>> print(to_dot(lambda x: np.sin(x) * x, 0.0, mode="none"))
    digraph chainrule {
      rankdir=LR;
      node [shape=box, style=rounded, fontname="Helvetica"];
      edge [fontname="Helvetica", fontsize=11, fontcolor="#1f4e9c"];
      v0 [label="v₀ = x\\n0", shape=ellipse];
      v1 [label="v₁ = sin\\n0"];
      v2 [label="v₂ = mul = y\\n0", peripheries=2];
      v0 -> v1 [label="1"];
      v1 -> v2 [label="0"];
      v0 -> v2 [label="0"];
    }
    """
    nodes, edges = describe_graph(function, *args, partials=partials, mode=mode, digits=digits)
    return _dot_text(nodes, edges, digits)


def _dot_text(nodes, edges, digits):
    lines = ["digraph chainrule {", "  rankdir=LR;", '  node [shape=box, style=rounded, fontname="Helvetica"];',
             '  edge [fontname="Helvetica", fontsize=11, fontcolor="#1f4e9c"];']
    for node in nodes:
        label = "\\n".join(_escape(line) for line in _label_lines(node, digits))
        style = {"input": ", shape=ellipse", "output": ", peripheries=2"}.get(node.role, "")
        lines.append(f'  {node.identifier} [label="{label}"{style}];')
    for source, target, label in edges:
        attributes = f' [label="{_escape(label)}"]' if label else ""
        lines.append(f"  {source.identifier} -> {target.identifier}{attributes};")
    lines.append("}")
    return "\n".join(lines)


def _escape(text):
    return text.replace("\\", "\\\\").replace('"', '\\"')


def draw(function, *args, path="graph.svg", partials=True, mode="reverse", engine="auto", digits=6):
    """Draw the computational graph of ``function`` at ``args`` into ``path`` (.svg, .png, .pdf or .dot):
    nodes are the variables with their values (and adjoints or tangents, by ``mode``), edges the
    dependencies labelled with the local partials. ``engine``: "auto" (Graphviz if ``dot`` is installed,
    otherwise "igraph"), "graphviz", or "igraph" (igraph's layered layout drawn with matplotlib).
    Returns the path written.

    >>> import os, tempfile, chainrule as cr, chainrule.numpy as np
    >>> path = os.path.join(tempfile.mkdtemp(), "graph.svg")
    >>> cr.draw(lambda x1, x2: np.sin(x1 / x2) * x2, 1.5, 0.5, path=path, engine="igraph") == path
    True
    """
    extension = os.path.splitext(str(path))[1].lower().lstrip(".")
    if extension not in FORMATS:
        raise ValueError(f"draw: path={path!r} must end in one of {', '.join('.' + f for f in FORMATS)}")
    dot_program = _dot_program(engine)
    path = str(path)
    if extension == "dot":
        with open(path, "w", encoding="utf-8") as file:
            file.write(to_dot(function, *args, partials=partials, mode=mode, digits=digits) + "\n")
        return path
    if dot_program is not None:
        text = to_dot(function, *args, partials=partials, mode=mode, digits=digits)
        subprocess.run([dot_program, f"-T{extension}", "-o", path], input=text.encode("utf-8"), check=True)
        return path
    layout = graph_layout(function, *args, partials=partials, mode=mode, engine="igraph", digits=digits)
    render_figure(layout).savefig(path, format=extension, dpi=150, facecolor="white")
    return path


def graph_layout(function, *args, partials=True, mode="reverse", engine="auto", digits=6):
    """The geometry of ``draw``'s picture, in points: node boxes, edge polylines and partial-label boxes
    (a ``layout.GraphLayout``), as Graphviz or igraph (by ``engine``, as in ``draw``) lays it out.

    >>> import chainrule.numpy as np
    >>> layout = graph_layout(lambda x: np.sin(x) * x, 0.0, engine="igraph")
    >>> len(layout.boxes), [route.label for route in layout.routes]
    (3, ['1', '0', '0'])
    """
    dot_program = _dot_program(engine)
    nodes, edges = describe_graph(function, *args, partials=partials, mode=mode, digits=digits)
    texts = {node: "\n".join(_label_lines(node, digits)) for node in nodes}
    if dot_program is not None:
        return graphviz_layout(_dot_text(nodes, edges, digits), dot_program, nodes, edges, texts)
    return sugiyama_layout(nodes, edges, texts)


_ENGINES = ("auto", "graphviz", "igraph")


def _dot_program(engine):
    """The Graphviz program to lay the picture out with, or None for igraph's layout."""
    if engine == "matplotlib":  # the earlier name of the igraph engine, whose pictures matplotlib draws
        engine = "igraph"
    if engine not in _ENGINES:
        raise ValueError(f"draw: engine={engine!r}; use {', '.join(repr(name) for name in _ENGINES)}")
    if engine == "igraph":
        return None
    dot_program = shutil.which("dot")
    if engine == "graphviz" and dot_program is None:
        raise RuntimeError("draw: engine='graphviz' needs the Graphviz 'dot' program on PATH; install Graphviz "
                           "or use engine='igraph'")
    return dot_program


# ------------------------------------------------------------------------------ matplotlib picture

_FILL = {"input": "#dbe9f6", "intermediate": "#f4f4f4", "output": "#fde2c8"}


def render_figure(layout):
    """A matplotlib Figure of ``layout`` whose data coordinates are the layout's points, so what the
    layout keeps clear stays clear in the picture."""
    from matplotlib.figure import Figure  # lazily: matplotlib is slow to import
    from matplotlib.patches import FancyArrowPatch, FancyBboxPatch
    from matplotlib.path import Path

    figure = Figure(figsize=(max(layout.width, 1.0) / 72, max(layout.height, 1.0) / 72))
    axes = figure.add_axes((0, 0, 1, 1))
    axes.set_axis_off()
    axes.set_xlim(0, max(layout.width, 1.0))
    axes.set_ylim(0, max(layout.height, 1.0))
    for node, box in layout.boxes.items():
        axes.add_patch(FancyBboxPatch((box.left, box.bottom), box.right - box.left, box.top - box.bottom,
                                      boxstyle="round,pad=0,rounding_size=5", facecolor=_FILL[node.role],
                                      edgecolor="#333333", linewidth=1.6 if node.role == "output" else 0.9,
                                      zorder=2))
        axes.text(*box.centre, layout.texts[node], ha="center", va="center", fontsize=NODE_FONT_SIZE,
                  parse_math=False, zorder=3)
    for route in layout.routes:
        axes.add_patch(FancyArrowPatch(path=Path(route.points), arrowstyle="-|>", mutation_scale=9,
                                       linewidth=0.8, color="#555555", zorder=1))
        if route.label_box is not None:
            axes.text(*route.label_box.centre, route.label, ha="center", va="center", fontsize=LABEL_FONT_SIZE,
                      color="#1f4e9c", parse_math=False, zorder=4,
                      bbox=dict(boxstyle=f"square,pad={LABEL_PAD / LABEL_FONT_SIZE}", facecolor="white",
                                edgecolor="none"))
    return figure
