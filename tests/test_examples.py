"""The scripts in examples/ run and reach their answers."""
import importlib.util
import pathlib

import numpy

EXAMPLES = pathlib.Path(__file__).resolve().parents[1] / "examples"


def load(name):
    spec = importlib.util.spec_from_file_location(name, EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_least_squares_reaches_the_normal_equations(capsys):
    assert load("least_squares").main() < 1e-6
    assert "gradient check: ok" in capsys.readouterr().out


def test_shallow_network_learns():
    first, last = load("shallow_network").main()
    assert last < 0.05 * first


def test_newton_with_hessian_vector_products_finds_the_minimum():
    numpy.testing.assert_allclose(load("newton_rosenbrock").main(), numpy.ones(10), atol=1e-8)
