"""What the examples share: progress while they train, and where their pictures go (PNG files, drawn without a
window, so the scripts also run on machines without a display)."""
import pathlib
import sys

DEFAULT_OUT = pathlib.Path(__file__).resolve().parent / "output"


def progress(iterable, total, description, every=None):
    """``iterable`` with a progress bar (tqdm, when installed) or a line printed every ``every`` items."""
    try:
        from tqdm import tqdm
    except ImportError:
        return _printed_progress(iterable, total, description, every or max(1, total // 5))
    return tqdm(iterable, total=total, desc=description, file=sys.stdout, leave=False)


def _printed_progress(iterable, total, description, every):
    for index, item in enumerate(iterable):
        if index % every == 0:
            print(f"{description}: {index}/{total}", flush=True)
        yield item


def new_figure(width=6.0, height=4.0):
    """A matplotlib Figure not attached to any window (no pyplot, no backend to choose)."""
    from matplotlib.figure import Figure
    return Figure(figsize=(width, height), layout="constrained")


def save_figure(figure, out, name):
    """Write ``figure`` as ``out/name.png`` (``out`` created if needed; None: examples/output) and say so."""
    directory = pathlib.Path(DEFAULT_OUT if out is None else out)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{name}.png"
    figure.savefig(path, dpi=110)
    print(f"saved {path}")
    return path


def output_argument(parser):
    """Add the ``--out`` option every example takes."""
    parser.add_argument("--out", default=None, help=f"directory for the PNG plots (default: {DEFAULT_OUT})")
    return parser
