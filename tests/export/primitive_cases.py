"""The shared spec table (tests/test_primitives.py: one row of arguments per primitive), loaded by path so
that the exporters are checked on every primitive the library defines."""
import importlib.util
import pathlib

_PATH = pathlib.Path(__file__).resolve().parents[1] / "test_primitives.py"


def load_spec():
    spec = importlib.util.spec_from_file_location("chainrule_primitive_spec", _PATH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.SPEC


def staged_case(name, spec):
    """(function of the array arguments, array arguments) that applies primitive ``name`` once."""
    from chainrule.ops import all_primitives
    primitive = all_primitives()[name]
    args, params = spec[name]

    def apply(*arrays):
        return primitive(*arrays, **params)

    return apply, args
