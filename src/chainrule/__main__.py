"""``python -m chainrule``: the same command as ``chainrule`` (see chainrule.cli)."""
import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
