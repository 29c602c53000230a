"""What the benchmark scripts share: importing matnet, finding real MNIST, and rewriting
their own section of BENCHMARKS.md.

Importing this module makes ``import matnet`` work from a source checkout that is not
installed (``python benchmarks/<script>.py`` puts only benchmarks/ on the path), using the
extension built in place (``python setup.py build_ext --inplace``).  An installed matnet,
when there is one, is used as it is.
"""
import importlib.util
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BENCHMARKS_MD = ROOT / "BENCHMARKS.md"

if importlib.util.find_spec("matnet") is None:
    sys.path.insert(0, str(ROOT))

from matnet import datasets  # noqa: E402  (after the path is set)

# Where the book's mnist.pkl.gz is looked for, in order, after a path given on the command line.
MNIST_CANDIDATES = (datasets.data_home() / datasets.BOOK_MNIST_FILENAME, Path("/work/cache/mnist.pkl.gz"))

# Both scripts' sections, in the order a new BENCHMARKS.md lists them.
SECTIONS = {
    "speed": "python benchmarks/run_benchmarks.py",
    "accuracy": "python benchmarks/book_accuracy.py",
}
_HEADER = """# matnet benchmarks

Two scripts write this file, each only its own section between the marker comments, so
either can be re-run alone:

{commands}

Numbers are from one run on the machine described in each section; speed claims are ratios
measured side by side in that run.
"""


def find_mnist(path=None):
    """The book's mnist.pkl.gz: ``path`` if given, else the first of MNIST_CANDIDATES that
    exists; None when there is none."""
    if path is not None:
        return Path(path)
    return next((candidate for candidate in MNIST_CANDIDATES if candidate.is_file()), None)


def _markers(name):
    return (f"<!-- {name}: begin (written by {SECTIONS[name]}; re-run it rather than edit) -->",
            f"<!-- {name}: end -->")


def update_section(name, body, path=BENCHMARKS_MD):
    """Replace the section ``name`` of the markdown file at ``path`` with ``body`` (creating
    the file, with a placeholder for every section, if it does not exist)."""
    path = Path(path)
    if path.exists():
        text = path.read_text()
    else:
        commands = "\n".join(f"    {command}" for command in SECTIONS.values())
        text = _HEADER.format(commands=commands)
        for other, command in SECTIONS.items():
            begin, end = _markers(other)
            text += f"\n{begin}\n_Not run yet: `{command}`._\n{end}\n"
    begin, end = _markers(name)
    section = f"{begin}\n{body.strip()}\n{end}"
    pattern = re.compile(re.escape(begin) + ".*?" + re.escape(end), re.DOTALL)
    text = pattern.sub(lambda _: section, text) if pattern.search(text) else text.rstrip() + f"\n\n{section}\n"
    path.write_text(text)
