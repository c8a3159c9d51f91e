"""Pictures of the computational graph (``cr.draw``): DOT text, rendered by Graphviz when ``dot`` is
installed, otherwise by chainrule's own layered layout drawn with matplotlib (PNG, SVG, PDF)."""
import os
import shutil
import subprocess

import numpy as np

from ..core.graph import Literal, Var
from .staging import is_scalar, number_variables, stage
from .trace import _differentiable, _one_hot_partial, explain, format_number

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
    output_names = ["y"] if len(graph.outvars) == 1 else [f"y{k + 1}" for k in range(len(graph.outvars))]
    for name, atom in zip(output_names, graph.outvars):
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
      v0 [label="v₀ = x\\n0", shape=ellipse];
      v1 [label="v₁ = sin\\n0"];
      v2 [label="v₂ = mul = y\\n0", peripheries=2];
      v0 -> v1 [label="1"];
      v1 -> v2 [label="0"];
      v0 -> v2 [label="0"];
    }
    """
    nodes, edges = describe_graph(function, *args, partials=partials, mode=mode, digits=digits)
    lines = ["digraph chainrule {", "  rankdir=LR;", '  node [shape=box, style=rounded, fontname="Helvetica"];']
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
    dependencies labelled with the local partials. ``engine``: "auto" (Graphviz if ``dot`` is installed),
    "graphviz" or "matplotlib". Returns the path written.

    >>> import os, tempfile, chainrule as cr, chainrule.numpy as np
    >>> path = os.path.join(tempfile.mkdtemp(), "graph.svg")
    >>> cr.draw(lambda x1, x2: np.sin(x1 / x2) * x2, 1.5, 0.5, path=path, engine="matplotlib") == path
    True
    """
    extension = os.path.splitext(str(path))[1].lower().lstrip(".")
    if extension not in FORMATS:
        raise ValueError(f"draw: path={path!r} must end in one of {', '.join('.' + f for f in FORMATS)}")
    if engine not in ("auto", "graphviz", "matplotlib"):
        raise ValueError(f"draw: engine={engine!r}; use 'auto', 'graphviz' or 'matplotlib'")
    path = str(path)
    if extension == "dot":
        with open(path, "w", encoding="utf-8") as file:
            file.write(to_dot(function, *args, partials=partials, mode=mode, digits=digits) + "\n")
        return path
    dot_program = shutil.which("dot")
    if engine == "graphviz" and dot_program is None:
        raise RuntimeError("draw: engine='graphviz' needs the Graphviz 'dot' program on PATH; install Graphviz "
                           "or use engine='matplotlib'")
    if engine in ("auto", "graphviz") and dot_program is not None:
        text = to_dot(function, *args, partials=partials, mode=mode, digits=digits)
        subprocess.run([dot_program, f"-T{extension}", "-o", path], input=text.encode("utf-8"), check=True)
        return path
    nodes, edges = describe_graph(function, *args, partials=partials, mode=mode, digits=digits)
    _render_matplotlib(nodes, edges, path, extension, digits)
    return path


# ------------------------------------------------------------------------------ layered layout

def layered_layout(nodes, edges, sweeps=8):
    """Positions {node: (layer, slot)}: layer = longest path from an input; slots ordered by the
    barycentre of the neighbours, which keeps edge crossings few (Sugiyama's heuristic)."""
    parents = {node: [] for node in nodes}
    children = {node: [] for node in nodes}
    for source, target, _ in edges:
        parents[target].append(source)
        children[source].append(target)
    layer = {}
    for node in nodes:  # nodes are in evaluation order, so parents come first
        layer[node] = 1 + max((layer[p] for p in parents[node]), default=-1)
    layers = {}
    for node in nodes:
        layers.setdefault(layer[node], []).append(node)
    slot = {node: float(k) for members in layers.values() for k, node in enumerate(members)}
    for sweep in range(sweeps):
        order = sorted(layers) if sweep % 2 == 0 else sorted(layers, reverse=True)
        for index in order:
            neighbours = parents if sweep % 2 == 0 else children

            def centre(node):
                around = neighbours[node]
                return sum(slot[n] for n in around) / len(around) if around else slot[node]
            members = sorted(layers[index], key=lambda n: (centre(n), slot[n]))
            layers[index] = members
            for k, node in enumerate(members):
                slot[node] = float(k)
    # Centre every layer on the widest one.
    widest = max(len(m) for m in layers.values())
    return {node: (layer[node], slot[node] + (widest - len(layers[layer[node]])) / 2.0) for node in nodes}


def _render_matplotlib(nodes, edges, path, extension, digits):
    from matplotlib.figure import Figure  # lazily: matplotlib is slow to import
    from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

    positions = layered_layout(nodes, edges)
    layer_count = 1 + max(p[0] for p in positions.values())
    slot_count = 1 + max(p[1] for p in positions.values())
    width, height, gap_x, gap_y = 2.3, 0.95, 4.0, 1.5
    figure = Figure(figsize=(max(4.0, layer_count * gap_x * 0.62), max(2.5, slot_count * gap_y * 0.62)))
    axes = figure.add_axes((0, 0, 1, 1))
    axes.set_axis_off()
    centre = {node: (x * gap_x, -y * gap_y) for node, (x, y) in positions.items()}
    colours = {"input": "#dbe9f6", "intermediate": "#f4f4f4", "output": "#fde2c8"}
    for node in nodes:
        x, y = centre[node]
        box = FancyBboxPatch((x - width / 2, y - height / 2), width, height,
                             boxstyle="round,pad=0.02,rounding_size=0.15", linewidth=1.6 if node.role == "output"
                             else 1.0, edgecolor="#333333", facecolor=colours[node.role], zorder=2)
        axes.add_patch(box)
        axes.text(x, y, "\n".join(_label_lines(node, digits)), ha="center", va="center", fontsize=8.5, zorder=3)
    for source, target, label in edges:
        (x0, y0), (x1, y1) = centre[source], centre[target]
        start, end = _box_exit(x0, y0, x1, y1, width, height), _box_exit(x1, y1, x0, y0, width, height)
        bend = 0.0 if positions[target][0] - positions[source][0] <= 1 else 0.18
        arrow = FancyArrowPatch(start, end, arrowstyle="-|>", mutation_scale=11, linewidth=0.9,
                                color="#555555", connectionstyle=f"arc3,rad={bend}", zorder=1)
        axes.add_patch(arrow)
        if label:
            mx, my = (start[0] + end[0]) / 2, (start[1] + end[1]) / 2
            if bend:  # the arc's midpoint lies off the chord, on its right side
                dx, dy = end[0] - start[0], end[1] - start[1]
                mx, my = mx + bend * dy / 2, my - bend * dx / 2
            axes.text(mx, my, label, ha="center", va="center", fontsize=7.5, color="#1f4e9c", zorder=4,
                      bbox=dict(boxstyle="round,pad=0.15", facecolor="white", edgecolor="none", alpha=0.9))
    xs = [c[0] for c in centre.values()]
    ys = [c[1] for c in centre.values()]
    axes.set_xlim(min(xs) - width, max(xs) + width)
    axes.set_ylim(min(ys) - height * 1.2, max(ys) + height * 1.2)
    axes.set_aspect("equal")
    figure.savefig(path, format=extension, dpi=150, bbox_inches="tight", facecolor="white")


def _box_exit(x, y, towards_x, towards_y, width, height):
    """Where the segment from a box's centre towards a point leaves the box."""
    dx, dy = towards_x - x, towards_y - y
    if dx == 0 and dy == 0:
        return x, y
    scale = min((width / 2) / abs(dx) if dx else np.inf, (height / 2) / abs(dy) if dy else np.inf)
    return x + dx * scale, y + dy * scale
