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


def _gradient_rows(text):
    """The --method all table as {method: cells}."""
    return {line.split()[0]: line.split()[1:] for line in text.splitlines()[2:] if line.split()}


@pytest.mark.parametrize("formula, at", [
    ("abs(x)", "x=0.7"), ("floor(x) + x", "x=0.7"), ("ceil(x) * x", "x=0.7"), ("cbrt(x)", "x=0.7"),
    ("arctan2(x, y)", "x=0.5,y=0.3"), ("hypot(x, y)", "x=0.5,y=0.3"), ("logaddexp(x, y)", "x=0.5,y=0.3"),
])
def test_methods_that_cannot_apply_show_na_and_why(formula, at, capsys):
    # --method all and --method complex were tracebacks for these functions
    status, text = run("diff", formula, "--at", at, "--method", "all")
    assert status == 0
    rows = _gradient_rows(text)
    assert rows["complex"][0] == "n/a" and "cannot differentiate" in text and "use --method fd" in text
    names = [part.split("=")[0] for part in at.split(",")]
    import chainrule as cr
    from chainrule.expression import parse
    point = [float(part.split("=")[1]) for part in at.split(",")]
    reference = [float(g) for g in cr.grad(parse(formula).function(tuple(names)),
                                           argnums=tuple(range(len(names))))(*point)]
    for method in ("reverse", "forward", "fd", "symbolic"):
        values = [float(cell) for cell in rows[method][:len(names)]]
        assert values == pytest.approx(reference, rel=1e-7, abs=1e-9), method
    status, _ = run("diff", formula, "--at", at, "--method", "complex")
    error = capsys.readouterr().err
    assert status == 2 and "--method complex does not apply" in error and "Traceback" not in error


def test_symbolic_method_at_a_pole_is_a_clear_message(capsys):
    # 1/x at 0 by --method symbolic raised ZeroDivisionError
    for method in ("symbolic", "reverse", "all"):
        status, text = run("diff", "1/x", "--at", "x=0", "--method", method)
        error = capsys.readouterr().err
        assert status == 1 and "1 / 0 = inf" in error and "Traceback" not in error, method


def test_symbolic_method_prints_an_infinite_slope_as_the_numeric_methods_do(capsys):
    status, text = run("diff", "sqrt(x)", "--at", "x=0", "--method", "symbolic")
    assert status == 0 and "df/dx = inf" in text
    assert "not differentiable at this point" in capsys.readouterr().err
    assert run("diff", "sqrt(x)", "--at", "x=0", "--method", "reverse")[1] == text


@pytest.mark.parametrize("digits", ["-3", "18", "two"])
def test_digits_out_of_range_is_refused_by_the_parser(digits, capsys):
    # --digits -3 was a traceback from the table formatter
    for command in (["trace", "x", "--at", "x=1"], ["demo"]):
        status, _ = run(*command, "--digits", digits)
        error = capsys.readouterr().err
        assert status == 2 and "argument --digits" in error and "Traceback" not in error


@pytest.mark.parametrize("argv", [
    ["diff", "-x**2", "--at", "x=1.5"],
    ["diff", "--at", "x=1.5", "-x**2"],
    ["diff", "--at", "x=1.5", "--method", "all", "-x**2"],
])
def test_formula_starting_with_minus_is_a_formula(argv):
    # argparse read "-x**2" as an unknown option
    status, text = run(*argv)
    assert status == 0 and "f(x=1.5) = -2.25" in text
    assert float(_gradient_rows(text)["reverse"][0] if "method" in text else text.split("df/dx = ")[1]) == -3.0


def test_formula_starting_with_minus_in_other_commands(tmp_path):
    status, text = run("trace", "-sin(x)", "--at", "x=1", "--digits", "3")
    assert status == 0 and "-0.841" in text
    status, text = run("formula", "-x**3")
    assert status == 0 and "df/dx = -3*x**2" in text
    status, _ = run("graph", "-x*y", "--at", "x=1,y=2", "-o", str(tmp_path / "g.dot"))
    assert status == 0 and (tmp_path / "g.dot").exists()


def test_a_variable_named_y_does_not_collide_with_the_output(tmp_path):
    status, text = run("trace", "x*y", "--at", "x=2,y=3", "--mode", "reverse")
    assert status == 0
    defined = [line.split("=")[0].strip() for line in text.splitlines() if "=" in line]
    assert defined.count("y") <= 1 and defined.count("ȳ") <= 1
    status, _ = run("graph", "x*y", "--at", "x=2,y=3", "-o", str(tmp_path / "g.dot"))
    assert status == 0 and "= y\\n" not in (tmp_path / "g.dot").read_text().split("v1 [")[1]


SLOW_TO_SIMPLIFY = "sin(x*y) + cos(x/y) * exp(x-y) + log(x**2+y**2) + sqrt(x*y + 1)"


def test_simplify_is_cut_short_by_the_time_limit():
    # --hessian --simplify ran for minutes; a hang guard, not a timing: the limit is 1 s, the guard 120 s
    result = subprocess.run([sys.executable, "-m", "chainrule", "formula", SLOW_TO_SIMPLIFY, "--hessian",
                             "--simplify", "--time-limit", "1"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0
    assert "simplification was cut short after 1 s" in result.stderr
    assert "where" in result.stdout and "d2f/dydy = " in result.stdout


def test_simplify_within_the_time_limit_is_simplified():
    status, text = run("formula", "x**2*y", "--hessian", "--simplify", "--time-limit", "30")
    assert status == 0 and "d2f/dxdx = 2*y" in text and "where" not in text


@pytest.mark.parametrize("formula, at, culprit", [
    ("log(x)", "x=-1", "log(-1) = nan"), ("sqrt(x) + 1", "x=-4", "sqrt(-4) = nan"),
    ("x**y", "x=-1,y=0.5", "(-1) ** 0.5 = nan"), ("arcsin(2*x)", "x=1", "arcsin(2) = nan"),
    ("exp(x)", "x=1000", "exp(1000) = inf"), ("log(x)", "x=0", "log(0) = -inf"),
])
def test_points_outside_the_domain_are_named_without_raw_warnings(formula, at, culprit):
    # log(x) at -1 printed f = nan and NumPy RuntimeWarnings pointing into chainrule's files
    status = subprocess.run([sys.executable, "-W", "default", "-m", "chainrule", "diff", formula, "--at", at],
                            capture_output=True, text=True, timeout=120)
    assert status.returncode == 1
    assert culprit in status.stderr and "RuntimeWarning" not in status.stderr
    assert "domain" in status.stderr or "inf" in status.stderr


def test_trace_outside_the_domain_shows_the_table_with_a_note(capsys):
    status, text = run("trace", "log(x)", "--at", "x=-1", "--mode", "forward")
    assert status == 0 and "nan" in text
    assert "log(-1) = nan" in capsys.readouterr().err


def test_logaddexp_by_the_symbolic_method_does_not_overflow():
    # log(exp(x) + exp(y)) overflowed at x = 800: df/dx printed 0
    jax = pytest.importorskip("jax")
    jax.config.update("jax_enable_x64", True)
    import numpy
    for x, y in ((800.0, 1.0), (800.0, 790.0), (-3.0, 2.0)):
        status, out = run("diff", "logaddexp(x, y)", "--at", f"x={x},y={y}", "--method", "symbolic")
        assert status == 0
        values = {line.split(" = ")[0]: float(line.split(" = ")[1]) for line in out.splitlines()}
        assert values[f"f(x={x:g}, y={y:g})"] == pytest.approx(numpy.logaddexp(x, y), rel=1e-15)
        expected = numpy.asarray(jax.grad(jax.numpy.logaddexp, argnums=(0, 1))(x, y))
        assert [values["df/dx"], values["df/dy"]] == pytest.approx(list(expected), rel=1e-12)


def test_version_prints_the_version():
    import chainrule
    status, text = run("--version")
    assert status == 0 and text.strip() == f"chainrule {chainrule.__version__}"
    result = subprocess.run([sys.executable, "-m", "chainrule", "--version"], capture_output=True, text=True)
    assert result.returncode == 0 and result.stdout.strip() == f"chainrule {chainrule.__version__}"


@pytest.mark.parametrize("argv, status, message", [
    (["trace", "x", "--at", "x=1", "--wrt", ""], 2, "--wrt : not a variable"),
    (["formula", "x", "--simplify", "--time-limit", "-1"], 2, "argument --time-limit"),
    (["diff", "x**2", "--at", "x=1e200"], 1, "1e+200 ** 2 = inf"),
    (["graph", "x", "--at", "x=1", "-o", "/nonexistent-directory/g.png"], 2, "cannot write the picture"),
])
def test_adversarial_inputs_are_messages_not_tracebacks(argv, status, message, capsys):
    assert run(*argv)[0] == status
    error = capsys.readouterr().err
    assert message in error and "Traceback" not in error


def test_complex_step_overflow_is_a_note_not_a_silent_number(capsys):
    status, text = run("diff", "sin(x)", "--at", "x=1e300", "--method", "all")
    assert status == 0
    rows = _gradient_rows(text)
    import numpy
    assert float(rows["symbolic"][0]) == pytest.approx(numpy.cos(1e300), rel=1e-12)
    error = capsys.readouterr().err
    assert "complex: derivative: f(x + ih) is NaN or infinite" in error and "fd: derivative:" in error
