"""Where ``cr.draw`` puts node boxes, edge polylines and partial labels, in points with y upwards: laid
out by Graphviz's ``dot`` when it is installed, otherwise by igraph's layered (Sugiyama) layout."""
import json
import subprocess
import threading
from collections import namedtuple

NODE_FONT_SIZE = 8.5
LABEL_FONT_SIZE = 7.5
LABEL_PAD = 2.0           # white margin around a partial label, so a line passing under it stays legible
NODE_PAD = (9.0, 6.0)     # horizontal and vertical room between a node's text and its box
ROW_GAP = 16.0            # between boxes of one layer
MIN_LAYER_GAP = 56.0      # between layers, when no label needs more
LABEL_ROOM = 18.0         # beside a label inside a gap between layers, so its edge shows
CLIMB_TO_GAP = 0.5        # gap between layers per point an edge climbs across it: slopes stay below 2
MAX_GAP_SCALE = 2.5       # times the least gap, however far an edge climbs
PORT_STEP = 9.0           # between edges that leave or enter one side of a box
MARGIN = 8.0


class Box(namedtuple("Box", "left bottom right top")):
    """An axis-aligned rectangle in points."""

    __slots__ = ()

    @property
    def centre(self):
        return (self.left + self.right) / 2, (self.bottom + self.top) / 2

    def overlaps(self, other):
        return (self.left < other.right and other.left < self.right
                and self.bottom < other.top and other.bottom < self.top)

    def meets_segment(self, start, end):
        """Whether the segment from ``start`` to ``end`` passes through the inside of the box."""
        # Liang-Barsky clipping: the part of the parameter range [0, 1] inside both slabs of the box.
        (x0, y0), (x1, y1) = start, end
        low, high = 0.0, 1.0
        for origin, direction, lower, upper in ((x0, x1 - x0, self.left, self.right),
                                                (y0, y1 - y0, self.bottom, self.top)):
            if direction == 0:
                if not lower < origin < upper:
                    return False
                continue
            first, second = (lower - origin) / direction, (upper - origin) / direction
            low, high = max(low, min(first, second)), min(high, max(first, second))
        return low < high


EdgeRoute = namedtuple("EdgeRoute", "source target label points label_box")
EdgeRoute.__doc__ = """One drawn edge: a polyline from the source's box to the target's, its partial label
(parallel edges are drawn once, their partials joined by " + ") and the label's box (None when unlabelled)."""


class GraphLayout(namedtuple("GraphLayout", "engine boxes texts routes width height")):
    """The geometry of a picture: ``boxes`` and ``texts`` keyed by node, ``routes`` (EdgeRoute), the
    drawing's ``width`` and ``height`` in points, and the ``engine`` that laid it out."""

    __slots__ = ()

    def label_boxes(self):
        return [route.label_box for route in self.routes if route.label_box is not None]


# ------------------------------------------------------------------------------------- text size

_measured = {}
_measuring = threading.Lock()  # one scratch figure measures for every thread


def text_size(text, font_size):
    """(width, height) in points of ``text`` (one or several lines) as matplotlib draws it."""
    key = (text, font_size)
    with _measuring:
        if key not in _measured:
            if len(_measured) > 10_000:  # a long session draws many graphs; keep the cache small
                _measured.clear()
            figure, renderer = _measuring_figure()
            artist = figure.text(0, 0, text, fontsize=font_size, ha="center", va="center", parse_math=False)
            extent = artist.get_window_extent(renderer)
            artist.remove()
            _measured[key] = (float(extent.width), float(extent.height))
        return _measured[key]


_scratch = []


def _measuring_figure():
    if not _scratch:
        from matplotlib.backends.backend_agg import FigureCanvasAgg  # lazily: matplotlib is slow to import
        from matplotlib.figure import Figure
        figure = Figure(dpi=72)  # at 72 dots per inch a pixel is a point
        _scratch.append((figure, FigureCanvasAgg(figure).get_renderer()))
    return _scratch[0]


def label_size(label):
    width, height = text_size(label, LABEL_FONT_SIZE)
    return width + 2 * LABEL_PAD, height + 2 * LABEL_PAD


def _node_size(text):
    width, height = text_size(text, NODE_FONT_SIZE)
    return width + 2 * NODE_PAD[0], height + 2 * NODE_PAD[1]


# ------------------------------------------------------------------------------------------ igraph

def sugiyama_layout(nodes, edges, texts):
    """Lay out ``nodes`` (in evaluation order) and ``edges`` (source, target, label) with igraph's
    Sugiyama layout, layers left to right. An edge spanning several layers bends at igraph's dummy
    vertices and crosses each layer level with its dummy, where igraph left room, so no edge crosses
    a box; labels sit between layers, where no box is."""
    try:
        import igraph
    except ImportError:
        raise RuntimeError("draw: laying the graph out without Graphviz needs the igraph package; "
                           "pip install igraph, or install Graphviz's 'dot'") from None
    if not nodes:
        return GraphLayout("igraph", {}, {}, [], 2 * MARGIN, 2 * MARGIN)
    edges = merge_parallel_edges(edges)
    layer = longest_path_layers(nodes, edges)
    index = {node: k for k, node in enumerate(nodes)}
    graph = igraph.Graph(n=len(nodes), edges=[(index[s], index[t]) for s, t, _ in edges], directed=True)
    placed = graph.layout_sugiyama(layers=[layer[node] for node in nodes])
    if not hasattr(placed, "edge_routing"):  # igraph reports where long edges bend from version 1.0 on
        raise RuntimeError(f"draw: the layout without Graphviz needs igraph 1.0 or later (igraph "
                           f"{igraph.__version__} is installed); pip install --upgrade igraph")
    rank = {node: placed[index[node]][0] for node in nodes}  # igraph's position within the layer
    bends = [[(position, int(round(level))) for position, level in points] for points in placed.edge_routing]

    sizes = {node: _node_size(texts[node]) for node in nodes}
    layer_count = 1 + max(layer.values())
    column_width = [0.0] * layer_count
    for node in nodes:
        column_width[layer[node]] = max(column_width[layer[node]], sizes[node][0])
    labels = {label: label_size(label) for _, _, label in edges if label}
    half_height = max(height for _, height in sizes.values()) / 2
    row_height = 2 * half_height + ROW_GAP  # igraph keeps neighbours in a layer at least one apart
    least_gap = max([MIN_LAYER_GAP] + [width + 2 * LABEL_ROOM for width, _ in labels.values()])
    gaps = _layer_gaps(edges, layer, rank, bends, row_height * CLIMB_TO_GAP, least_gap)
    column_left = [MARGIN + sum(column_width[:k]) + sum(gaps[:k]) for k in range(layer_count)]
    positions = list(rank.values()) + [position for points in bends for position, _ in points]
    highest, lowest = max(positions), min(positions)

    def y_of(position):  # the first position of a layer is drawn on top
        return MARGIN + half_height + (highest - position) * row_height

    def column(level):
        return column_left[level], column_left[level] + column_width[level]

    boxes = {}
    for node in nodes:
        left, right = column(layer[node])
        width, height = sizes[node]
        x, y = (left + right) / 2, y_of(rank[node])
        boxes[node] = Box(x - width / 2, y - height / 2, x + width / 2, y + height / 2)
    ways = [[(column(level), y_of(position)) for position, level in points] for points in bends]
    first_stops = [way[0][1] if way else y_of(rank[target]) for way, (_, target, _) in zip(ways, edges)]
    last_stops = [way[-1][1] if way else y_of(rank[source]) for way, (source, _, _) in zip(ways, edges)]
    leaving = _ports(boxes, [source for source, _, _ in edges], first_stops)
    entering = _ports(boxes, [target for _, target, _ in edges], last_stops)

    routes, taken = [], []
    for number, ((source, target, label), way) in enumerate(zip(edges, ways)):
        # Out of the source's right side, level through each dummy's layer, into the target's left side:
        # only the stretches between layers slant.
        stops = [(column(layer[source])[1], leaving[number])]
        for (left, right), y in way:
            stops += [(left, y), (right, y)]
        stops.append((column(layer[target])[0], entering[number]))
        between_layers = list(zip(stops[0::2], stops[1::2]))
        points = [(boxes[source].right, leaving[number])] + stops + [(boxes[target].left, entering[number])]
        label_box = None
        if label:
            label_box = _place_label(between_layers, labels[label], taken)
            taken.append(label_box)
        routes.append(EdgeRoute(source, target, label, tuple(_without_repeats(points)), label_box))
    width = column_left[-1] + column_width[-1] + MARGIN
    height = 2 * MARGIN + 2 * half_height + (highest - lowest) * row_height
    return GraphLayout("igraph", boxes, dict(texts), routes, width, height)


def merge_parallel_edges(edges):
    """One edge per (source, target): ``x * x`` has two partials on one edge, shown as their sum."""
    merged = {}
    for source, target, label in edges:
        merged.setdefault((source, target), []).append(label)
    return [(source, target, " + ".join(label for label in labels if label))
            for (source, target), labels in merged.items()]


def longest_path_layers(nodes, edges):
    """Each node's layer: the longest path to it from a node without inputs (``nodes`` are in
    evaluation order, so a node's inputs come before it)."""
    inputs = {node: [] for node in nodes}
    for source, target, _ in edges:
        inputs[target].append(source)
    layer = {}
    for node in nodes:
        layer[node] = 1 + max((layer[source] for source in inputs[node]), default=-1)
    return layer


def _layer_gaps(edges, layer, rank, bends, gap_per_position, least):
    """Room between consecutive layers: enough for the widest label, and more where edges climb far, so
    that steep edges (and their labels) spread apart."""
    gaps = [least] * max(layer.values())
    for (source, target, _), points in zip(edges, bends):
        stops = [(rank[source], layer[source])] + points + [(rank[target], layer[target])]
        for (position, level), (next_position, _) in zip(stops, stops[1:]):
            climb = abs(next_position - position) * gap_per_position
            gaps[level] = max(gaps[level], min(climb, MAX_GAP_SCALE * least))
    return gaps


def _ports(boxes, ends, towards):
    """Heights at which edges meet their box's side: spread along the side in the order of the heights
    they come from or go to, so edges sharing a box do not cross at it."""
    by_node = {}
    for number, node in enumerate(ends):
        by_node.setdefault(node, []).append(number)
    ports = {}
    for node, numbers in by_node.items():
        box = boxes[node]
        centre = (box.bottom + box.top) / 2
        step = min(PORT_STEP, (box.top - box.bottom - 2 * NODE_PAD[1]) / max(len(numbers) - 1, 1))
        numbers.sort(key=lambda number: (-towards[number], number))
        for slot, number in enumerate(numbers):
            ports[number] = centre + step * ((len(numbers) - 1) / 2 - slot)
    return ports


def _without_repeats(points):
    kept = [points[0]]
    for point in points[1:]:
        if point != kept[-1]:
            kept.append(point)
    return kept


def _place_label(between_layers, size, taken):
    """The label's box: at the middle of the edge's middle stretch between layers or, where another
    label is already, further along that stretch or on another stretch of the edge."""
    middle = (len(between_layers) - 1) / 2
    order = sorted(range(len(between_layers)), key=lambda k: abs(k - middle))
    width, height = size
    candidates = []
    for (x0, y0), (x1, y1) in (between_layers[k] for k in order):
        for fraction in (0.5, 0.3, 0.7, 0.2, 0.8):
            x, y = x0 + fraction * (x1 - x0), y0 + fraction * (y1 - y0)
            box = Box(x - width / 2, y - height / 2, x + width / 2, y + height / 2)
            if box.left >= x0 + LABEL_PAD and box.right <= x1 - LABEL_PAD:  # stays between the layers
                candidates.append(box)
    for box in candidates:
        if not any(box.overlaps(other) for other in taken):
            return box
    return candidates[0]


# ---------------------------------------------------------------------------------------- Graphviz

def graphviz_layout(dot_text, dot_program, nodes, edges, texts):
    """The layout Graphviz's ``dot`` computes for ``dot_text`` (whose node names are the nodes'
    identifiers), read back from its JSON output with the splines flattened into polylines."""
    result = subprocess.run([dot_program, "-Tjson"], input=dot_text.encode("utf-8"), capture_output=True,
                            check=True)
    drawing = json.loads(result.stdout)
    by_name = {node.identifier: node for node in nodes}
    objects = drawing.get("objects", [])
    boxes = {}
    for item in objects:
        x, y = (float(value) for value in item["pos"].split(","))
        half_width, half_height = 36 * float(item["width"]), 36 * float(item["height"])  # inches to points
        boxes[by_name[item["name"]]] = Box(x - half_width, y - half_height, x + half_width, y + half_height)
    routes = []
    for item in drawing.get("edges", []):
        source, target = by_name[objects[item["tail"]]["name"]], by_name[objects[item["head"]]["name"]]
        label = item.get("label", "")
        label_box = _graphviz_label_box(item) if label else None
        routes.append(EdgeRoute(source, target, label, tuple(_spline_points(item["pos"])), label_box))
    _, _, width, height = (float(value) for value in drawing["bb"].split(","))
    return GraphLayout("graphviz", boxes, dict(texts), routes, width, height)


def _spline_points(position):
    """A Graphviz edge position ("e,x,y" for the arrow's tip, then cubic Bezier pieces) as a polyline."""
    tip, controls = None, []
    for item in position.split():
        parts = item.split(",")
        if parts[0] == "e":
            tip = (float(parts[1]), float(parts[2]))
        elif parts[0] != "s":
            controls.append((float(parts[0]), float(parts[1])))
    points = [controls[0]]
    for k in range(0, len(controls) - 3, 3):
        pieces = controls[k:k + 4]
        for step in range(1, 9):
            t = step / 8
            weights = ((1 - t) ** 3, 3 * t * (1 - t) ** 2, 3 * t * t * (1 - t), t ** 3)
            points.append(tuple(sum(w * p[axis] for w, p in zip(weights, pieces)) for axis in (0, 1)))
    if tip is not None:
        points.append(tip)
    return points


def _graphviz_label_box(item):
    x, y = (float(value) for value in item["lp"].split(","))
    width = height = 0.0
    for operation in item.get("_ldraw_", []):
        if operation["op"] == "F":
            height = float(operation["size"])
        elif operation["op"] == "T":
            width = max(width, float(operation["width"]))
    return Box(x - width / 2, y - height / 2, x + width / 2, y + height / 2)
