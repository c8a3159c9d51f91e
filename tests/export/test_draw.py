"""cr.draw and to_dot: the exact DOT structure of the lecture's graph, and the picture's geometry as Graphviz
or igraph lays it out: no edge through a box, every partial drawn clear of the boxes."""
import html
import importlib
import shutil

import numpy as np
import pytest

import chainrule as cr
import chainrule.numpy as cnp
from chainrule.cli import load_formula
from chainrule.export import to_dot
from chainrule.export.draw import describe_graph, graph_layout, render_figure
from chainrule.export.layout import Box, merge_parallel_edges

draw_module = importlib.import_module("chainrule.export.draw")  # the module; chainrule.export.draw is the function


def lecture(x1, x2):
    return (cnp.sin(x1 / x2) + (x1 / x2 - cnp.exp(x2))) * (x1 / x2 - cnp.exp(x2))


def test_lecture_dot_structure_is_exact():
    dot = to_dot(lecture, 1.5, 0.5, mode="none", partials=False)
    assert dot.splitlines() == [
        "digraph chainrule {",
        "  rankdir=LR;",
        '  node [shape=box, style=rounded, fontname="Helvetica"];',
        '  edge [fontname="Helvetica", fontsize=11, fontcolor="#1f4e9c"];',
        '  v_m1 [label="v₋₁ = x1\\n1.5", shape=ellipse];',
        '  v0 [label="v₀ = x2\\n0.5", shape=ellipse];',
        '  v1 [label="v₁ = div\\n3"];',
        '  v2 [label="v₂ = sin\\n0.14112"];',
        '  v3 [label="v₃ = exp\\n1.648721"];',
        '  v4 [label="v₄ = sub\\n1.351279"];',
        '  v5 [label="v₅ = add\\n1.492399"];',
        '  v6 [label="v₆ = mul = y\\n2.016647", peripheries=2];',
        "  v_m1 -> v1;",
        "  v0 -> v1;",
        "  v1 -> v2;",
        "  v0 -> v3;",
        "  v1 -> v4;",
        "  v3 -> v4;",
        "  v2 -> v5;",
        "  v4 -> v5;",
        "  v5 -> v6;",
        "  v4 -> v6;",
        "}",
    ]


def test_edges_carry_the_local_partials_and_nodes_the_adjoints():
    dot = to_dot(lecture, 1.5, 0.5, mode="reverse")
    # ∂v1/∂v-1 = 1/v0 = 2, ∂v1/∂v0 = -v1/v0 = -6, ∂v2/∂v1 = cos(3), ∂v6/∂v5 = v4, ∂v6/∂v4 = v5.
    for edge in ('v_m1 -> v1 [label="2"]', 'v0 -> v1 [label="-6"]', 'v1 -> v2 [label="-0.989992"]',
                 'v3 -> v4 [label="-1"]', 'v5 -> v6 [label="1.351279"]', 'v4 -> v6 [label="1.492399"]'):
        assert edge in dot
    assert "v̄₋₁ = 3.011843" in dot and "v̄₀ = -13.723962" in dot and "v̄₁ = 1.505922" in dot
    forward = to_dot(lecture, 1.5, 0.5, mode="forward")
    assert "v̇₅ = 0.020015" in forward and "v̇₆ = 3.011843" in forward


SEVENTEEN_NODES = "sin(x*y) + cos(x/y) * exp(x-y) + log(x**2+y**2) + sqrt(x*y + 1)"


def seventeen_nodes():
    """The formula as the ``chainrule graph`` command reads it (x*y computed once)."""
    point = {"x": 1.5, "y": 0.5}
    return load_formula(SEVENTEEN_NODES, point).function(tuple(point)), (1.5, 0.5)


def lecture_case():
    return lecture, (1.5, 0.5)


GRAPHS = {"seventeen nodes": seventeen_nodes, "lecture": lecture_case}
needs_dot = pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot is not installed")
ENGINES = ["igraph", pytest.param("graphviz", marks=needs_dot)]


def test_the_formula_has_the_seventeen_operations():
    function, args = seventeen_nodes()
    nodes, edges = describe_graph(function, *args)
    assert [node.number for node in nodes] == list(range(-1, 17)) and len(edges) == 24


def crossings(layout):
    """(edge, node) pairs where a segment of the edge's polyline passes through a box not its own."""
    found = []
    for route in layout.routes:
        for start, end in zip(route.points, route.points[1:]):
            for node, box in layout.boxes.items():
                if node is not route.source and node is not route.target and shrunk(box).meets_segment(start, end):
                    found.append((route.source.number, route.target.number, node.number))
    return found


def shrunk(box, by=0.5):
    """The box less a hairline, so that touching its border does not count as crossing it."""
    return Box(box.left + by, box.bottom + by, box.right - by, box.top - by)


def near(point, box, tolerance=1.0):
    x, y = point
    return (box.left - tolerance <= x <= box.right + tolerance
            and box.bottom - tolerance <= y <= box.top + tolerance)


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("graph", GRAPHS)
def test_no_edge_crosses_a_box_it_does_not_join(engine, graph):
    function, args = GRAPHS[graph]()
    layout = graph_layout(function, *args, engine=engine)
    assert layout.engine == engine
    nodes, edges = describe_graph(function, *args)
    assert sorted(node.number for node in layout.boxes) == [node.number for node in nodes]
    assert ({(r.source.number, r.target.number) for r in layout.routes}
            == {(s.number, t.number) for s, t, _ in edges})
    assert crossings(layout) == []
    for route in layout.routes:  # each polyline runs from its source's box to its target's
        assert near(route.points[0], layout.boxes[route.source])
        assert near(route.points[-1], layout.boxes[route.target])
    boxes = list(layout.boxes.values())
    assert not any(a.overlaps(b) for k, a in enumerate(boxes) for b in boxes[k + 1:])


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("graph", GRAPHS)
def test_labels_stay_clear_of_boxes_and_of_each_other(engine, graph):
    function, args = GRAPHS[graph]()
    layout = graph_layout(function, *args, engine=engine)
    labels = layout.label_boxes()
    nodes, edges = describe_graph(function, *args)
    assert len(labels) == len([label for _, _, label in merge_parallel_edges(edges) if label]) > 0
    assert not any(label.overlaps(box) for label in labels for box in layout.boxes.values())
    assert not any(a.overlaps(b) for k, a in enumerate(labels) for b in labels[k + 1:])


def drawn_texts(figure):
    """(text, its extent in data coordinates, white box included) for every text the figure draws."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    renderer = FigureCanvasAgg(figure).get_renderer()
    axes = figure.axes[0]
    to_data = axes.transData.inverted()
    drawn = []
    for text in axes.texts:
        extent = text.get_window_extent(renderer)
        if text.get_bbox_patch() is not None:
            extent = text.get_bbox_patch().get_window_extent(renderer)
        (left, bottom), (right, top) = to_data.transform(extent.get_points())
        drawn.append((text.get_text(), Box(left, bottom, right, top)))
    return drawn


@pytest.mark.parametrize("graph", GRAPHS)
def test_every_partial_is_drawn_in_the_figure_clear_of_every_box(graph):
    function, args = GRAPHS[graph]()
    layout = graph_layout(function, *args, engine="igraph")
    drawn = drawn_texts(render_figure(layout))
    _, edges = describe_graph(function, *args)
    partials = [label for _, _, label in edges]
    node_texts = set(layout.texts.values())
    label_texts = [(text, extent) for text, extent in drawn if text not in node_texts]
    assert sorted(text for text, _ in label_texts) == sorted(partials)
    for text, extent in label_texts:  # as rendered, not only as planned
        for node, box in layout.boxes.items():
            assert not extent.overlaps(box), (text, layout.texts[node])
    for text, extent in drawn:
        if text in node_texts:  # node labels fit inside their boxes
            box = next(box for node, box in layout.boxes.items() if layout.texts[node] == text)
            assert box.left <= extent.left and extent.right <= box.right
            assert box.bottom <= extent.bottom and extent.top <= box.top


def test_partials_match_the_rules_at_the_point():
    layout = graph_layout(lecture, 1.5, 0.5, engine="igraph")
    by_edge = {(r.source.number, r.target.number): r.label for r in layout.routes}
    v1 = 1.5 / 0.5
    assert float(by_edge[-1, 1]) == pytest.approx(1 / 0.5, rel=1e-6)
    assert float(by_edge[0, 1]) == pytest.approx(-v1 / 0.5, rel=1e-6)
    assert float(by_edge[1, 2]) == pytest.approx(np.cos(v1), rel=1e-6)
    assert float(by_edge[0, 3]) == pytest.approx(np.exp(0.5), rel=1e-6)


def test_parallel_edges_are_drawn_once_with_the_sum_of_their_partials():
    layout = graph_layout(lambda x: x * x, 1.5, engine="igraph")
    (route,) = layout.routes
    dot_labels = [line.split('label="')[1].split('"')[0] for line in to_dot(lambda x: x * x, 1.5).splitlines()
                  if "->" in line]
    assert route.label == " + ".join(dot_labels) == "1.5 + 1.5"
    assert sum(float(part) for part in route.label.split(" + ")) == pytest.approx(2 * 1.5)


def wide(x):
    return cnp.sum(cnp.sin(x) * x)


def two_outputs(x, y):
    return x * y, x + y - cnp.exp(y)


def unused_input(x, y):
    return 2.0 * x


@pytest.mark.parametrize("function, args, options", [
    (lecture, (np.float32(1.5), np.float32(0.5)), {}),
    (lecture, (1.5 + 0.5j, 0.5 - 0.25j), {}),
    (lecture, (1.5, 0.5), {"mode": "none", "partials": False}),
    (lecture, (1.5, 0.5), {"mode": "forward"}),
    (wide, (np.linspace(0.1, 1.0, 4),), {}),
    (two_outputs, (1.5, 0.5), {}),
    (unused_input, (1.5, 0.5), {}),
    (lambda x: x, (1.5,), {}),
], ids=["float32", "complex", "unlabelled", "forward", "vector", "two outputs", "unused input", "identity"])
def test_assorted_graphs_lay_out_cleanly(tmp_path, function, args, options):
    layout = graph_layout(function, *args, engine="igraph", **options)
    assert crossings(layout) == []
    labels = layout.label_boxes()
    assert not any(label.overlaps(box) for label in labels for box in layout.boxes.values())
    _, edges = describe_graph(function, *args, **{k: v for k, v in options.items()})
    drawn = {text for text, _ in drawn_texts(render_figure(layout))}
    assert all(label in drawn for _, _, label in merge_parallel_edges(edges) if label)
    path = tmp_path / "graph.png"
    cr.draw(function, *args, path=str(path), engine="igraph", **options)
    assert path.read_bytes().startswith(b"\x89PNG")


def png_size(path):
    import matplotlib.image
    return matplotlib.image.imread(path).shape


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("graph", GRAPHS)
def test_the_png_is_written(tmp_path, engine, graph):
    function, args = GRAPHS[graph]()
    path = tmp_path / "graph.png"
    assert cr.draw(function, *args, path=str(path), engine=engine) == str(path)
    assert path.read_bytes().startswith(b"\x89PNG")
    height, width, _ = png_size(path)
    assert width > height > 100  # the layers run left to right


@needs_dot
@pytest.mark.parametrize("graph", GRAPHS)
def test_graphviz_draws_every_partial(tmp_path, graph):
    function, args = GRAPHS[graph]()
    path = tmp_path / "graph.svg"
    cr.draw(function, *args, path=str(path), engine="graphviz")
    svg = html.unescape(path.read_text(encoding="utf-8"))  # Graphviz writes "-" as "&#45;"
    _, edges = describe_graph(function, *args)
    assert all(f">{label}</text>" in svg for _, _, label in edges)


@pytest.mark.parametrize("extension, magic", [("png", b"\x89PNG"), ("svg", b"<?xml"), ("pdf", b"%PDF"),
                                              ("dot", b"digraph")])
def test_pictures_are_written_without_graphviz(tmp_path, monkeypatch, extension, magic):
    monkeypatch.setattr(draw_module.shutil, "which", lambda program: None)
    path = tmp_path / f"graph.{extension}"
    written = cr.draw(lecture, 1.5, 0.5, path=str(path))
    assert written == str(path)
    assert path.read_bytes().startswith(magic)


def test_the_igraph_engine_is_used_even_where_dot_is_installed(tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(draw_module.shutil, "which", lambda program: calls.append(program) or "/no/such/dot")
    path = tmp_path / "graph.png"
    cr.draw(lecture, 1.5, 0.5, path=str(path), engine="igraph")  # running /no/such/dot would fail
    assert path.read_bytes().startswith(b"\x89PNG") and calls == []
    assert graph_layout(lecture, 1.5, 0.5, engine="igraph").engine == "igraph"


def test_graphviz_without_dot_is_refused(monkeypatch):
    monkeypatch.setattr(draw_module.shutil, "which", lambda program: None)
    with pytest.raises(RuntimeError, match="needs the Graphviz 'dot' program"):
        cr.draw(lecture, 1.5, 0.5, path="graph.png", engine="graphviz")
    assert graph_layout(lecture, 1.5, 0.5).engine == "igraph"  # "auto" falls back to igraph


def test_bad_paths_and_engines_are_refused():
    with pytest.raises(ValueError, match="must end in one of"):
        cr.draw(lecture, 1.5, 0.5, path="graph.jpg")
    with pytest.raises(ValueError, match="engine='paint'"):
        cr.draw(lecture, 1.5, 0.5, path="graph.svg", engine="paint")
    with pytest.raises(ValueError, match="engine='paint'"):
        graph_layout(lecture, 1.5, 0.5, engine="paint")


def test_every_primitive_can_be_drawn_as_dot():
    from primitive_cases import load_spec, staged_case
    spec = load_spec()
    for name in sorted(spec):
        function, args = staged_case(name, spec)
        dot = to_dot(function, *args)
        assert dot.count("->") >= 1 and f"= {name}" in dot, name
