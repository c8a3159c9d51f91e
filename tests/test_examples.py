"""The scripts in examples/ run, reach their answers and save their plots; the trebuchet's mixed-mode derivatives
are checked against central differences, and its full run meets the aiming target."""
import importlib.util
import pathlib
import re
import subprocess
import sys

import numpy
import pytest

EXAMPLES = pathlib.Path(__file__).resolve().parents[1] / "examples"
TESTED = {"least_squares", "shallow_network", "newton_rosenbrock", "trebuchet"}


def load(name):
    # The scripts import their shared helper (_reporting) from their own directory, as `python examples/x.py` does.
    if str(EXAMPLES) not in sys.path:
        sys.path.insert(0, str(EXAMPLES))
    spec = importlib.util.spec_from_file_location(name, EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run_script(name, out, *options):
    completed = subprocess.run([sys.executable, str(EXAMPLES / f"{name}.py"), "--out", str(out), *options],
                               capture_output=True, text=True, timeout=600)
    assert completed.returncode == 0, completed.stderr
    return completed.stdout


def pictures(directory):
    return sorted(path.name for path in pathlib.Path(directory).glob("*.png"))


def test_every_example_is_tested():
    scripts = {path.stem for path in EXAMPLES.glob("*.py") if not path.stem.startswith("_")}
    assert scripts == TESTED


def test_least_squares_reaches_the_normal_equations(capsys, tmp_path):
    assert load("least_squares").main(tmp_path) < 1e-6
    assert "gradient check: ok" in capsys.readouterr().out
    assert pictures(tmp_path) == ["least_squares.png"]


def test_shallow_network_learns(tmp_path):
    first, last = load("shallow_network").main(tmp_path)
    assert last < 0.05 * first
    assert pictures(tmp_path) == ["shallow_network.png"]


def test_newton_with_hessian_vector_products_finds_the_minimum(tmp_path):
    numpy.testing.assert_allclose(load("newton_rosenbrock").main(tmp_path), numpy.ones(10), atol=1e-8)
    assert pictures(tmp_path) == ["newton_rosenbrock.png"]


@pytest.mark.parametrize("name", ["least_squares", "shallow_network", "newton_rosenbrock"])
def test_runs_as_a_script_and_saves_its_plot(name, tmp_path):
    output = run_script(name, tmp_path)
    assert f"saved {tmp_path / name}.png" in output
    assert pictures(tmp_path) == [f"{name}.png"]


# ------------------------------------------------------------------------------------------- the trebuchet

def central_difference(function, x, step):
    return (function(x + step) - function(x - step)) / (2 * step)


def test_trebuchet_simulator_sensitivity_matches_central_differences():
    trebuchet = load("trebuchet")
    release, counterweight, wind = numpy.deg2rad(50.0), 1500.0, 3.0
    distance, sensitivity = trebuchet.shot_and_sensitivity(release, counterweight, wind)
    assert distance == pytest.approx(float(trebuchet.shoot(release, counterweight, wind)), rel=1e-12)
    by_release = central_difference(lambda r: float(trebuchet.shoot(r, counterweight, wind)), release, 1e-5)
    by_counterweight = central_difference(lambda m: float(trebuchet.shoot(release, m, wind)), counterweight, 1e-2)
    # The solver's adaptive steps make the distance smooth only to about its tolerance, hence 1e-4.
    numpy.testing.assert_allclose(sensitivity, [by_release, by_counterweight], rtol=1e-4)


def test_trebuchet_mixed_mode_rows_are_the_jacobian_of_the_misses():
    trebuchet = load("trebuchet")
    rng = numpy.random.default_rng(3)
    targets, winds = trebuchet.targets_and_winds(rng, 3)
    weights = trebuchet.initial_weights(rng)
    misses, jacobian = trebuchet.misses_and_jacobian(weights, targets, winds)
    numpy.testing.assert_allclose(misses, trebuchet.relative_misses(weights, targets, winds), rtol=1e-12)
    direction = rng.standard_normal(weights.size)
    along = central_difference(lambda s: trebuchet.relative_misses(weights + s * direction, targets, winds), 0.0, 1e-5)
    numpy.testing.assert_allclose(jacobian @ direction, along, rtol=1e-3, atol=1e-6)


def test_trebuchet_newton_aims_one_shot_on_the_simulator():
    trebuchet = load("trebuchet")
    (release, counterweight), _ = trebuchet.aim_by_newton(180.0, -4.0)
    assert float(trebuchet.shoot(release, counterweight, -4.0)) == pytest.approx(180.0, rel=1e-4)


def test_trebuchet_full_run_hits_held_out_targets_within_a_third_of_a_percent(tmp_path):
    # The real script, as a user runs it (about 20 s on two cores): its last line is the held-out mean miss.
    output = run_script("trebuchet", tmp_path)
    last = output.strip().splitlines()[-1]
    match = re.fullmatch(r"mean miss on held-out targets: ([0-9.]+)%", last)
    assert match, last
    assert float(match.group(1)) <= 0.3
    assert pictures(tmp_path) == ["trebuchet_shots.png", "trebuchet_training.png"]
