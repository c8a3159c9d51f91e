"""``import chainrule.fd as fd``: finite differences (the public names of chainrule.finite_diff)."""
from chainrule.finite_diff import *  # noqa: F401,F403
from chainrule.finite_diff import __all__  # noqa: F401
