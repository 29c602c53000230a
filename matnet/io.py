"""Model files: matnet's own npz format, and network2.py's JSON format.

matnet's format is an uncompressed ``.npz`` (a zip of ``.npy`` arrays) holding every weight
and bias array bit for bit, plus a ``metadata`` entry: a JSON string naming the format, its
version and the network's constructor options.  It is read with ``allow_pickle=False``, so
loading a file never runs code, whoever wrote it.

network2.py's format is JSON: ``{"sizes", "weights", "biases", "cost"}`` with the cost's class
name; files the book's code saved load here, and ``format="network2"`` writes files its
``load`` reads (for the sigmoid networks with the two costs network2 knows).

Saving is atomic: the file is written under a temporary name in the same directory and then
renamed over the target, so a crash mid-save leaves the old file whole.
"""
import json
import os
import tempfile
import zipfile

import numpy as np

from . import functions
from ._validation import check_choice, check_path, check_sizes

FORMAT_NAME = "matnet"
FORMAT_VERSION = 1
FORMATS = ("npz", "network2")


def save(net, path, format="npz"):
    """Write ``net`` to ``path`` (exactly that name: no suffix is added)."""
    check_choice("format", format, FORMATS)
    path = check_path("path", path)
    if format == "network2":
        book_name = net.cost_function.book_name
        if book_name is None or any(a.name != "sigmoid" for a in net.activations):
            raise ValueError(
                "format: network2's JSON format holds sigmoid networks with the quadratic or "
                f"cross-entropy cost; this network has cost {net.cost_function.name!r} and activations "
                f"{[a.name for a in net.activations]}; save it with format='npz'"
            )
        document = {
            "sizes": net.sizes,
            "weights": [w.tolist() for w in net.weights],
            "biases": [b.tolist() for b in net.biases],
            "cost": book_name,
        }
        _write_atomically(path, lambda f: f.write(json.dumps(document).encode()))
        return
    metadata = {"format": FORMAT_NAME, "version": FORMAT_VERSION, "config": net.config}
    arrays = {"metadata": np.array(json.dumps(metadata))}
    for layer, (w, b) in enumerate(zip(net.weights, net.biases)):
        arrays[f"weights_{layer}"] = w
        arrays[f"biases_{layer}"] = b
    _write_atomically(path, lambda f: np.savez(f, **arrays))


def _write_atomically(path, write):
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".matnet-", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def load(path):
    """Read a model saved by ``Network.save`` or by network2.py's ``Network.save``."""
    from .network import Network

    path = check_path("path", path)
    with open(path, "rb") as f:
        head = f.read(4)
    if head.startswith(b"PK"):
        read = _read_npz
    elif head.lstrip()[:1] == b"{":
        read = _read_network2
    else:
        raise ValueError(f"{path}: not a model file: expected matnet's npz or network2's JSON, "
                         f"got a file starting with {head!r}")
    try:
        config, weights, biases = read(path)
        # The arrays are checked against the saved sizes before a Network is made, so a small
        # crafted file cannot make this allocate a huge one.
        sizes = check_sizes(config.get("sizes"))
        weights = _check_arrays(path, "weights", weights, sizes, lambda n_in, n_out: (n_out, n_in))
        biases = _check_arrays(path, "biases", biases, sizes, lambda n_in, n_out: (n_out, 1))
        net = Network(**config)
    except (TypeError, ValueError, OverflowError, RecursionError, AttributeError) as exc:
        message = str(exc)
        raise ValueError(message if message.startswith(path) else
                         f"{path}: the saved model is not valid: {message}") from None
    with np.errstate(over="ignore"):   # a float64 file's values beyond float32: checked just below
        net.weights = [np.array(w, dtype=net.dtype) for w in weights]
        net.biases = [np.array(b, dtype=net.dtype) for b in biases]
    if not all(np.isfinite(p).all() for p in net.weights + net.biases):
        raise ValueError(f"{path}: the weights do not fit in {net.dtype.name} (they overflow to inf)")
    return net


def _read_npz(path):
    try:
        # Opened here, not by np.load, so the file is closed even when the zip is unreadable.
        with open(path, "rb") as f, np.load(f, allow_pickle=False) as archive:
            entries = {name: archive[name] for name in archive.files}
    except (zipfile.BadZipFile, EOFError, OSError, ValueError) as exc:
        raise ValueError(f"{path}: damaged or truncated model file ({exc})") from None
    try:
        metadata = json.loads(str(entries.pop("metadata")))
    except (KeyError, json.JSONDecodeError):
        raise ValueError(f"{path}: not a matnet model file: no readable 'metadata' entry") from None
    if not isinstance(metadata, dict) or metadata.get("format") != FORMAT_NAME:
        raise ValueError(f"{path}: not a matnet model file: metadata format is {metadata.get('format')!r}"
                         if isinstance(metadata, dict) else f"{path}: not a matnet model file")
    version = metadata.get("version")
    if not isinstance(version, int) or not 1 <= version <= FORMAT_VERSION:
        raise ValueError(f"{path}: model format version {version!r} is not one this matnet reads "
                         f"(1 to {FORMAT_VERSION}); a newer matnet may have written it")
    config = metadata.get("config")
    if not isinstance(config, dict):
        raise ValueError(f"{path}: model metadata has no 'config' object")
    n_layers = len(check_sizes(config.get("sizes"))) - 1
    weights = [entries.get(f"weights_{layer}") for layer in range(n_layers)]
    biases = [entries.get(f"biases_{layer}") for layer in range(n_layers)]
    return config, weights, biases


def _read_network2(path):
    try:
        with open(path, encoding="utf-8") as f:
            document = json.load(f)
        sizes, weights, biases, cost = (document[k] for k in ("sizes", "weights", "biases", "cost"))
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as exc:
        raise ValueError(f"{path}: damaged or truncated network2 JSON file ({exc})") from None
    except (KeyError, TypeError):
        raise ValueError(f"{path}: a network2 JSON file needs 'sizes', 'weights', 'biases' and 'cost'") from None
    by_book_name = {c.book_name: c.name for c in functions.COSTS.values() if c.book_name}
    if not isinstance(cost, str) or cost not in by_book_name:
        raise ValueError(f"{path}: cost: expected one of {', '.join(by_book_name)}, got {cost!r}")
    config = {"sizes": sizes, "cost": by_book_name[cost]}
    try:
        weights = [np.array(w, dtype=np.float64) for w in weights]
        biases = [np.array(b, dtype=np.float64) for b in biases]
    except (TypeError, ValueError, OverflowError) as exc:
        raise ValueError(f"{path}: weights and biases must be nested lists of numbers ({exc})") from None
    return config, weights, biases


def _check_arrays(path, name, arrays, sizes, shape_of):
    """The saved arrays of one kind, checked against the layer sizes: one per layer, the
    right shape, finite floats."""
    if len(arrays) != len(sizes) - 1:
        raise ValueError(f"{path}: {name}: expected {len(sizes) - 1} arrays, got {len(arrays)}")
    for layer, (array, n_in, n_out) in enumerate(zip(arrays, sizes[:-1], sizes[1:])):
        if array is None:
            raise ValueError(f"{path}: {name}[{layer}] is missing")
        if array.shape != shape_of(n_in, n_out):
            raise ValueError(f"{path}: {name}[{layer}]: expected shape {shape_of(n_in, n_out)}, got {array.shape}")
        if array.dtype.kind != "f" or not np.all(np.isfinite(array)):
            raise ValueError(f"{path}: {name}[{layer}]: expected finite floats, got dtype {array.dtype} "
                             "with non-finite or non-float values")
    return arrays
