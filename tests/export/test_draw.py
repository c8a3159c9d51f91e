"""cr.draw and to_dot: the exact DOT structure of the lecture's graph, and pictures without Graphviz."""
import pytest

import chainrule as cr
import chainrule.numpy as cnp
from chainrule.export import to_dot
from chainrule.export.draw import layered_layout, describe_graph


def lecture(x1, x2):
    return (cnp.sin(x1 / x2) + (x1 / x2 - cnp.exp(x2))) * (x1 / x2 - cnp.exp(x2))


def test_lecture_dot_structure_is_exact():
    dot = to_dot(lecture, 1.5, 0.5, mode="none", partials=False)
    assert dot.splitlines() == [
        "digraph chainrule {",
        "  rankdir=LR;",
        '  node [shape=box, style=rounded, fontname="Helvetica"];',
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


@pytest.mark.parametrize("extension, magic", [("png", b"\x89PNG"), ("svg", b"<?xml"), ("dot", b"digraph")])
def test_pictures_are_written_without_graphviz(tmp_path, extension, magic):
    path = tmp_path / f"graph.{extension}"
    written = cr.draw(lecture, 1.5, 0.5, path=str(path), engine="matplotlib")
    assert written == str(path)
    assert path.read_bytes().startswith(magic)


def test_layout_puts_every_edge_forward():
    nodes, edges = describe_graph(lecture, 1.5, 0.5)
    positions = layered_layout(nodes, edges)
    for source, target, _ in edges:
        assert positions[source][0] < positions[target][0]
    assert len({positions[n] for n in nodes}) == len(nodes)  # no two nodes on one spot


def test_bad_paths_and_engines_are_refused():
    with pytest.raises(ValueError, match="must end in one of"):
        cr.draw(lecture, 1.5, 0.5, path="graph.jpg")
    with pytest.raises(ValueError, match="engine='paint'"):
        cr.draw(lecture, 1.5, 0.5, path="graph.svg", engine="paint")


def test_every_primitive_can_be_drawn_as_dot():
    from primitive_cases import load_spec, staged_case
    spec = load_spec()
    for name in sorted(spec):
        function, args = staged_case(name, spec)
        dot = to_dot(function, *args)
        assert dot.count("->") >= 1 and f"= {name}" in dot, name
