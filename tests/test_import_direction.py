"""DESIGN.md's import direction: core <- ops <- numpy/scipy <- autodiff <- everything else; export,
sparse and symbolic do not import each other's internals."""
import ast
import pathlib

import pytest

PACKAGE = pathlib.Path(__file__).resolve().parents[1] / "src" / "chainrule"

# For each layer, the chainrule layers it must not import (module level or inside functions).
FORBIDDEN = {
    "core": {"ops", "numpy", "scipy", "autodiff", "custom", "finite_diff", "fd", "symbolic", "export", "sparse",
             "testing", "cli"},
    "ops": {"numpy", "scipy", "autodiff", "custom", "finite_diff", "fd", "symbolic", "export", "sparse", "testing",
            "cli"},
    "numpy": {"autodiff", "custom", "finite_diff", "fd", "symbolic", "export", "sparse", "testing", "cli"},
    "scipy": {"autodiff", "custom", "finite_diff", "fd", "symbolic", "export", "sparse", "testing", "cli"},
    "autodiff": {"custom", "finite_diff", "fd", "symbolic", "export", "sparse", "testing", "cli"},
    "finite_diff": {"core", "ops", "numpy", "scipy", "autodiff", "custom", "symbolic", "export", "sparse", "cli"},
    "export": {"symbolic", "sparse"},
    "symbolic": {"export", "sparse"},
    "sparse": {"export", "symbolic"},
}


def _imported_layers(path):
    """The chainrule top-level subpackages a module imports."""
    tree = ast.parse(path.read_text())
    relative_to = path.relative_to(PACKAGE).parts
    layers = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = list(relative_to[:-node.level]) if node.level <= len(relative_to) else []
                parts = base + (node.module.split(".") if node.module else [])
                if not parts:  # "from .. import x": the names themselves are the layers
                    layers.update(alias.name for alias in node.names)
                else:
                    layers.add(parts[0])
                    if len(parts) == 1 and not node.module:
                        layers.update(alias.name for alias in node.names)
            elif node.module and node.module.startswith("chainrule."):
                layers.add(node.module.split(".")[1])
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("chainrule."):
                    layers.add(alias.name.split(".")[1])
    return {layer.removesuffix(".py") for layer in layers}


def _modules():
    for path in sorted(PACKAGE.rglob("*.py")):
        layer = path.relative_to(PACKAGE).parts[0].removesuffix(".py")
        if layer in FORBIDDEN:
            yield layer, path


@pytest.mark.parametrize("layer,path", list(_modules()), ids=lambda v: str(v).split("chainrule/")[-1])
def test_import_direction(layer, path):
    own = path.relative_to(PACKAGE).parts[0]
    wrong = (_imported_layers(path) - {own}) & FORBIDDEN[layer]
    assert not wrong, f"{path.relative_to(PACKAGE)} ({layer}) imports {sorted(wrong)}, against DESIGN.md's direction"


def test_the_checker_sees_relative_imports():
    assert "core" in _imported_layers(PACKAGE / "ops" / "linalg.py")            # from ..core.avals import ...
    assert "numpy" in _imported_layers(PACKAGE / "autodiff" / "batching.py")   # from ..numpy.shaping import ...
    assert "autodiff" in _imported_layers(PACKAGE / "custom.py")               # from .autodiff... import ...
