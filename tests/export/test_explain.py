"""cr.explain on the lecture's worked example: every published number, in full precision."""
import numpy as np
import pytest

import chainrule as cr
import chainrule.numpy as cnp


def lecture(x1, x2):
    return (cnp.sin(x1 / x2) + (x1 / x2 - cnp.exp(x2))) * (x1 / x2 - cnp.exp(x2))


@pytest.fixture(scope="module")
def table():
    return cr.explain(lecture, 1.5, 0.5, mode="both", wrt="x1")


def rows_for(rows, kind, index):
    return [r for r in rows if r.target.kind == kind and r.target.index == index]


def test_primal_trace_matches_the_lecture(table):
    expected = {-1: 1.5, 0: 0.5, 1: 3.0, 2: 0.141120, 3: 1.648721, 4: 1.351279, 5: 1.492399, 6: 2.016647}
    for index, value in expected.items():
        assert table.values[index] == pytest.approx(value, abs=5e-7), index
    assert float(table.value) == pytest.approx(2.016647, abs=5e-7)
    operations = [r.expression for r in table.primal_rows if isinstance(r.target.index, int) and r.target.index > 0]
    assert [len(op) for op in operations] == [3, 3, 3, 3, 3, 3]


def test_tangent_trace_matches_the_lecture(table):
    assert table.tangents[-1] == 1.0 and table.tangents[0] == 0.0
    assert table.tangents[1] == pytest.approx(2.0, abs=5e-7)
    assert table.tangents[2] == pytest.approx(-1.979985, abs=5e-7)
    assert table.tangents[3] == pytest.approx(0.0, abs=5e-7)
    assert table.tangents[4] == pytest.approx(2.0, abs=5e-7)
    assert table.tangents[5] == pytest.approx(0.020015, abs=5e-7)
    assert float(table.tangent) == pytest.approx(3.011843, abs=5e-7)


def test_adjoint_trace_matches_the_lecture_with_accumulations(table):
    assert table.adjoints[6] == 1.0
    assert table.adjoints[5] == pytest.approx(1.351279, abs=5e-7)
    assert table.adjoints[4] == pytest.approx(2.843677, abs=5e-7)
    assert table.adjoints[3] == pytest.approx(-2.843677, abs=5e-7)
    assert table.adjoints[2] == pytest.approx(1.351279, abs=5e-7)
    assert table.adjoints[1] == pytest.approx(1.505922, abs=5e-7)
    # v̄0 is first the partial sum through exp (-4.688432), then gets v1's contribution.
    v0_rows = rows_for(table.adjoint_rows, "adjoint", 0)
    assert [r.value for r in v0_rows[:2]] == pytest.approx([-4.688432, -13.723962], abs=5e-7)
    v4_rows = rows_for(table.adjoint_rows, "adjoint", 4)
    assert [r.value for r in v4_rows] == pytest.approx([1.492399, 2.843677], abs=5e-7)
    assert v4_rows[1].op == "=" and " + " in "".join(str(t) for t in v4_rows[1].expression)
    gradient = [float(g) for g in table.gradient]
    assert gradient == pytest.approx([3.011843, -13.723962], abs=5e-7)
    assert gradient == pytest.approx([float(g) for g in cr.grad(lecture, argnums=(0, 1))(1.5, 0.5)], rel=1e-15)


def test_text_shows_full_precision_and_lecture_option_shows_four_decimals(table):
    text = str(table)
    for number in ("2.016647", "3.011843", "-13.723962", "-4.688432", "1.505922", "0.020015", "-1.979985"):
        assert number in text
    hand = cr.explain(lecture, 1.5, 0.5, lecture=True)
    hand_text = hand.to_text("ascii")
    # The lecture rounds every intermediate: 1.4924 * 1.3513 = 2.0167 (exact: 2.016647), ẏ = 3.0118.
    assert "= 2.0167" in hand_text and "= 3.0118" in hand_text and "1.4924 * 1.3513" in hand_text
    assert float(hand.value) == pytest.approx(2.0167, abs=1e-12)


def test_reverse_rows_run_in_reverse_evaluation_order(table):
    first_target = [r.target.index for r in table.adjoint_rows if isinstance(r.target.index, int)]
    producers = [i for i in first_target if i > 0]
    assert producers[0] == 6
    assert first_target[-1] == 0


def test_markdown_and_html_have_the_same_rows(table):
    markdown = table.to_markdown()
    html = table._repr_html_()
    rows = sum(len(rows) for _, rows in table.tables())
    assert markdown.count("\n| ") == rows + 2  # each row plus one header per table
    assert html.count("<tr>") == rows + 2
    assert "\\bar{v}_{4}" in markdown and "v&#772;<sub>4</sub>" in html


def test_tensor_nodes_show_shape_and_range():
    table = cr.explain(lambda x: cnp.sum(cnp.sin(x) * x), np.arange(3.0))
    text = table.to_text()
    assert "f64[3] in [0, 2]" in text
    assert float(table.gradient[0][2]) == pytest.approx(np.sin(2.0) + 2 * np.cos(2.0))


def test_bad_arguments_name_what_to_fix():
    with pytest.raises(ValueError, match="wrt='z' is not an input; the inputs are x1, x2"):
        cr.explain(lecture, 1.5, 0.5, wrt="z")
    with pytest.raises(ValueError, match="mode='sideways'"):
        cr.explain(lecture, 1.5, 0.5, mode="sideways")


def test_every_primitive_can_be_explained():
    from chainrule.ops import all_primitives
    from primitive_cases import load_spec, staged_case
    spec = load_spec()
    for name in sorted(spec):
        function, args = staged_case(name, spec)
        table = cr.explain(function, *args, mode="both")
        expected = all_primitives()[name].impl(*args, **spec[name][1])
        first = expected[0] if isinstance(expected, (list, tuple)) else expected
        np.testing.assert_allclose(np.asarray(table.values[1], dtype=complex), np.asarray(first, dtype=complex),
                                   err_msg=name)
        assert len(table.to_text().splitlines()) > len(args), name
