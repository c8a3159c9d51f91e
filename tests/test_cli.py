"""The chainrule command: demo, diff, trace, graph, formula; the safe parser's refusals (fuzzed)."""
import io
import subprocess
import sys

import pytest
from hypothesis import given, settings, strategies as st

from chainrule.cli import main
from chainrule.expression import MAX_DEPTH, MAX_LENGTH, ExpressionError, parse

LECTURE = "(sin(x1/x2) + x1/x2 - exp(x2))*(x1/x2 - exp(x2))"


def run(*argv):
    out = io.StringIO()
    status = main(list(argv), out=out)
    return status, out.getvalue()


def test_demo_prints_the_lecture_numbers():
    status, text = run("demo")
    assert status == 0
    assert "f      = 2.016647" in text
    assert "df/dx1 = 3.011843   df/dx2 = -13.723962" in text
    for row in ("v₁  = v₋₁ / v₀", "= 0.020015", "= 2.843677", "= 1.505922", "= -4.688432", "x̄2  = v̄₀"):
        assert row in text


def test_demo_lecture_option_reproduces_the_hand_calculation():
    status, text = run("demo", "--lecture", "--ascii")
    assert status == 0 and "= 2.0167" in text and "= 3.0118" in text and "v_bar[4]" in text


def test_python_dash_m_runs_the_same_command():
    result = subprocess.run([sys.executable, "-m", "chainrule", "diff", "x*y", "--at", "x=2,y=3"],
                            capture_output=True, text=True, check=False)
    assert result.returncode == 0 and "df/dy = 2" in result.stdout


def test_diff_all_methods_agree_with_reverse_mode():
    status, text = run("diff", LECTURE, "--at", "x1=1.5,x2=0.5", "--method", "all")
    assert status == 0
    rows = {line.split()[0]: line.split() for line in text.splitlines()[2:]}
    assert set(rows) == {"reverse", "forward", "fd", "complex", "symbolic"}
    for method, cells in rows.items():
        assert float(cells[1]) == pytest.approx(3.011843, abs=1e-6), method
        assert float(cells[2]) == pytest.approx(-13.723962, abs=1e-6), method
        assert float(cells[3]) < (1e-6 if method == "fd" else 1e-12), method


def test_trace_and_formula_and_graph(tmp_path):
    status, text = run("trace", LECTURE, "--at", "x1=1.5,x2=0.5", "--mode", "reverse")
    assert status == 0 and "Reverse mode" in text and "Forward mode" not in text and "-13.723962" in text
    status, text = run("formula", "sin(x**2)")
    assert status == 0 and text.splitlines() == ["f = sin(x**2)", "df/dx = 2*x*cos(x**2)"]
    status, text = run("formula", "x*y**2", "--hessian")
    assert status == 0 and "d2f/dydy" in text
    path = tmp_path / "graph.svg"
    status, text = run("graph", LECTURE, "--at", "x1=1.5,x2=0.5", "-o", str(path))
    assert status == 0 and path.read_text().startswith("<?xml")
    status, _ = run("graph", LECTURE, "--at", "x1=1.5,x2=0.5", "-o", str(tmp_path / "graph.dot"))
    assert (tmp_path / "graph.dot").read_text().startswith("digraph chainrule {")


@pytest.mark.parametrize("argv, message", [
    (["diff", "x**2", "--at", "x=abc"], "the value of x is 'abc', which is not a number"),
    (["diff", "x**2", "--at", "y=1"], "unknown name 'x'"),
    (["diff", "x**2+y", "--at", "x=1"], "unknown name 'y'"),
    (["diff", "x**2", "--at", "x=1,z=2"], "--at gives z, which the formula does not use"),
    (["diff", "x**2", "--at", "x"], "is not of the form name=value"),
    (["diff", "x**2"], "--at is required: give a value to every variable, e.g. --at x=..."),
    (["diff", "x**2", "--at", "x=1", "--method", "magic"], "invalid choice"),
    (["graph", "x", "--at", "x=1", "-o", "g.jpg"], "must end in .png, .svg, .pdf or .dot"),
    (["trace", "x", "--at", "x=1", "--wrt", "q"], "--wrt q: not a variable"),
    (["bogus"], "invalid choice"),
])
def test_user_errors_exit_with_status_2(argv, message, capsys):
    status, _ = run(*argv)
    assert status == 2
    assert message in capsys.readouterr().err


@pytest.mark.parametrize("text, column, reason", [
    ("__import__('os')", 0, "underscore"),
    ("x.real", 1, "attribute access"),
    ("x[0]", 1, "subscripts"),
    ("lambda x: x", 0, "keyword 'lambda'"),
    ("x^2", 1, "write x**2"),
    ("2x", 1, "2*x"),
    ("open(x)", 0, "unknown function 'open'"),
    ("sin", 0, "call it as sin(...)"),
    ("sin(x, x)", 0, "takes 1 argument"),
    ("(x", 2, "expected ')'"),
    ("x 'a'", 2, "strings"),
    ("1; 2", 1, "only one expression"),
])
def test_parser_points_at_the_offending_column(text, column, reason):
    with pytest.raises(ExpressionError) as caught:
        parse(text)
    assert caught.value.position == column and reason in caught.value.reason
    assert str(caught.value).splitlines()[-1] == "  " + " " * column + "^"


def test_parser_limits_length_and_depth():
    with pytest.raises(ExpressionError, match="longer than"):
        parse("x+" * MAX_LENGTH + "x")
    with pytest.raises(ExpressionError, match="nests deeper"):
        parse("(" * (MAX_DEPTH + 1) + "x" + ")" * (MAX_DEPTH + 1))
    assert parse("+".join(["x"] * 900))(1.0) == 900  # long flat sums are fine (no recursion)


def test_parser_never_evaluates(monkeypatch):
    import builtins
    calls = []
    monkeypatch.setattr(builtins, "eval", lambda *a, **k: calls.append(a))
    monkeypatch.setattr(builtins, "exec", lambda *a, **k: calls.append(a))
    assert float(parse("sin(x)**2 + cos(x)**2")(0.3)) == pytest.approx(1.0)
    for bad in ("__import__('os').system('true')", "().__class__", "[x for x in y]"):
        with pytest.raises(ExpressionError):
            parse(bad)
    assert calls == []


_ALLOWED = set("0123456789.+-*/() ,_xyzabcdefghijklmnopqrstuvw")


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("x1+-*/(),. _[]'\"^:;=@{}!`$\\sinexpabcdlo") + ["\n", "é"]),
               max_size=40))
def test_fuzzed_text_is_parsed_or_refused_with_a_position(text):
    try:
        expression = parse(text)
    except ExpressionError as error:
        assert 0 <= error.position <= len(text)
        return
    # What parses uses only numbers, names, operators and whitelisted calls.
    assert set(text) <= _ALLOWED | {"\t"}
    assert all(name.isidentifier() and not name.startswith("_") for name in expression.variables)


@settings(max_examples=100, deadline=None)
@given(st.sampled_from(["__import__", "eval", "exec", "open", "getattr", "globals", "os", "sys", "compile"]),
       st.sampled_from(["({})", "()", ".system", "('x')"]))
def test_fuzzed_dangerous_calls_are_refused(name, tail):
    text = name + tail.format("1")
    with pytest.raises(ExpressionError):
        parse(text)


@pytest.mark.parametrize("formula, value", [("2**64*x", 2.0 ** 64), ("x*2**-1", 0.5), ("x*10**30", 1e30)])
def test_integer_literals_follow_python_numbers_not_int64(formula, value):
    # 2**64*x printed f = 0 (int64 wrapped) and 2**-1 was a traceback.
    status, text = run("diff", formula, "--at", "x=1")
    assert status == 0
    reported = {line.split("=")[0].strip(): float(line.split("=")[-1]) for line in text.splitlines() if "=" in line}
    assert reported["df/dx"] == pytest.approx(value, rel=1e-12)
