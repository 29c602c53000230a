"""MNIST loaders: the book's ``mnist.pkl.gz``, the four IDX files, and a small embedded subset.

Every loader returns ``(train, validation, test)``.  With ``format="arrays"`` each split is
``(X, y)``: X float32 of shape (n, 784) in [0, 1], y int64 of shape (n,).  With
``format="book"`` the splits are what the book's ``mnist_loader.load_data_wrapper`` returns,
as lists: training pairs ``(x (784, 1), one-hot y (10, 1))``, validation and test pairs
``(x (784, 1), int label)``.

Pixels are k/256 for the raw byte k in 0..255: that is what the book's file holds (its
float32 pixels are exactly the multiples of 1/256 up to 255/256), so the IDX files and the
embedded subset decode to the same float32 values, bit for bit.

This module depends only on NumPy and the standard library, so that
``tools/make_mnist_sample.py`` can load it without importing the rest of the package.
"""
import gzip
import hashlib
import os
import pickle
import sys
import zlib
from importlib import resources
from pathlib import Path

import numpy as np

__all__ = ["load_mnist", "load_mnist_sample", "to_book_format", "data_home",
           "BOOK_MNIST_FILENAME", "BOOK_MNIST_BYTES", "BOOK_MNIST_SHA256"]

BOOK_MNIST_FILENAME = "mnist.pkl.gz"
BOOK_MNIST_BYTES = 17_051_982
BOOK_MNIST_SHA256 = "f11bb9e41d6c1b6c124aa38fd605497bdcfe2ee08cf7c2bb5a41ab5d759e1416"

N_PIXELS = 784
N_CLASSES = 10
# The book kept the last 10,000 of MNIST's 60,000 training images for validation.
_N_VALIDATION = 10_000
_SPLITS = ("train", "validation", "test")
_FORMATS = ("arrays", "book")

_IDX_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
# An IDX magic number is two zero bytes, a type code (0x08: unsigned byte) and the number of dimensions.
_IDX_UBYTE = 0x08


def data_home():
    """The directory where matnet keeps downloaded data.

    ``$MATNET_DATA`` if set; otherwise the platform's user cache directory:
    ``$XDG_CACHE_HOME/matnet`` or ``~/.cache/matnet`` on Linux, ``~/Library/Caches/matnet``
    on macOS (an absolute ``$XDG_CACHE_HOME`` wins there too), ``%LOCALAPPDATA%\\matnet`` on
    Windows.  The directory is not created.

    Returns
    -------
    pathlib.Path
    """
    override = os.environ.get("MATNET_DATA")
    if override:
        return Path(override).expanduser()
    if sys.platform == "win32":
        local = os.environ.get("LOCALAPPDATA")
        return (Path(local) if local else Path.home() / "AppData" / "Local") / "matnet"
    # The XDG spec says a relative XDG_CACHE_HOME is invalid and must be ignored.
    xdg = os.environ.get("XDG_CACHE_HOME", "")
    if os.path.isabs(xdg):
        return Path(xdg) / "matnet"
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Caches" / "matnet"
    return Path.home() / ".cache" / "matnet"


def load_mnist(path=None, format="arrays"):
    """Load MNIST from the book's ``mnist.pkl.gz`` or from a directory of IDX files.

    Parameters
    ----------
    path : str or path-like, optional
        The book's gzipped pickle (50,000 train / 10,000 validation / 10,000 test), or a
        directory holding ``train-images-idx3-ubyte``, ``train-labels-idx1-ubyte``,
        ``t10k-images-idx3-ubyte`` and ``t10k-labels-idx1-ubyte``, each raw or ``.gz``; the
        last 10,000 IDX training images become the validation split, as in the book.
        Default: ``data_home() / "mnist.pkl.gz"``, where ``matnet data mnist`` puts it.
    format : {"arrays", "book"}
        The form of each split; see the module docstring.

    Returns
    -------
    train, validation, test
        With ``format="arrays"``, each is ``(X, y)``: X ndarray of shape (n, 784), float32
        in [0, 1]; y ndarray of shape (n,), int64 in 0..9.  With ``format="book"``, lists of
        ``(x, y)`` pairs, x of shape (784, 1); y of shape (10, 1) one-hot for train, an int
        label for validation and test.

    Raises
    ------
    FileNotFoundError
        The file or one of the IDX files is missing.
    ValueError
        The file is damaged or does not hold MNIST-shaped data (the message names the file).
    pickle.UnpicklingError
        The pickle asks for anything other than NumPy arrays: it is refused unexecuted.
    """
    _check_format(format)
    if path is None:
        path = data_home() / BOOK_MNIST_FILENAME
        if not path.is_file():
            raise FileNotFoundError(
                f"MNIST is not in the cache: {path} does not exist. Run `matnet data mnist` to "
                "fetch it, set MATNET_DATA to the directory holding mnist.pkl.gz, or pass path= "
                "(the book's mnist.pkl.gz or a directory of the four IDX files).")
    path = Path(path)
    if path.is_dir():
        splits = _read_idx_directory(path)
    elif path.is_file():
        splits = _read_book_pickle(path)
    else:
        raise FileNotFoundError(
            f"path: expected the book's mnist.pkl.gz or a directory of MNIST IDX files, "
            f"received {str(path)!r}, which does not exist")
    return _as_format(splits, format)


def load_mnist_sample(format="arrays"):
    """Load the small MNIST subset embedded in the package (no download needed).

    8,000 training images (the first of the book's training split), 1,000 validation images
    (the first of its validation split) and 3,000 test images (1,500 from each half of the test
    set); ``tools/make_mnist_sample.py`` made it and says why.  The pixels are the book's
    float32 values, bit for bit.

    Parameters
    ----------
    format : {"arrays", "book"}

    Returns
    -------
    train, validation, test
        As :func:`load_mnist`.
    """
    _check_format(format)
    resource = resources.files("matnet") / "data" / "mnist_sample.npz"
    with resource.open("rb") as f, np.load(f, allow_pickle=False) as npz:
        splits = [(_decode_pixels(npz[f"{name}_images"]), npz[f"{name}_labels"].astype(np.int64))
                  for name in _SPLITS]
    return _as_format(splits, format)


def to_book_format(X, y, one_hot=False):
    """Turn arrays into the book's list of ``(x, y)`` column-vector pairs.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
    y : ndarray of shape (n_samples,)
        Integer class labels, in 0..9 when ``one_hot``.
    one_hot : bool
        True gives the book's training targets, float64 one-hot columns of shape (10, 1)
        (its ``vectorized_result``); False gives plain int labels, as for its validation
        and test data.

    Returns
    -------
    list of (ndarray of shape (n_features, 1), ndarray of shape (10, 1) or int)
        The x columns are views into X, as the book's ``np.reshape`` gives.
    """
    X = np.asarray(X)
    y = np.asarray(y)
    if X.ndim != 2:
        raise ValueError(f"X: expected a 2-D array (n_samples, n_features), received shape {X.shape}")
    if y.shape != (X.shape[0],):
        raise ValueError(f"y: expected shape ({X.shape[0]},) to match X, received shape {y.shape}")
    if not np.issubdtype(y.dtype, np.integer):
        raise ValueError(f"y: expected integer class labels, received dtype {y.dtype}")
    columns = list(X.reshape(X.shape[0], X.shape[1], 1))
    if not one_hot:
        return list(zip(columns, y.tolist()))
    if y.size and (y.min() < 0 or y.max() >= N_CLASSES):
        raise ValueError(f"y: expected labels in 0..{N_CLASSES - 1} for one-hot targets, "
                         f"received values from {y.min()} to {y.max()}")
    targets = np.eye(N_CLASSES)[y].reshape(-1, N_CLASSES, 1)
    return list(zip(columns, targets))


def _check_format(format):
    if format not in _FORMATS:
        raise ValueError(f"format: expected one of {_FORMATS}, received {format!r}")


def _as_format(splits, format):
    """(X, y) triples as given, or as the book's lists (one-hot targets for training only)."""
    if format == "arrays":
        return tuple(splits)
    return tuple(to_book_format(X, y, one_hot=(name == "train"))
                 for name, (X, y) in zip(_SPLITS, splits))


def _decode_pixels(pixels):
    """Raw bytes k (n, 784) uint8 -> float32 k/256, exactly (a power-of-two scale never rounds)."""
    X = pixels.astype(np.float32)
    X /= 256
    return X


# --- the book's pickle -----------------------------------------------------------------------------

# The function a pickled array calls to rebuild itself, taken from NumPy's own pickling rather
# than imported by module name: it lives in numpy.core on NumPy 1 and numpy._core on NumPy 2,
# and a pickle names whichever NumPy wrote it (the book's file: numpy.core).
_reconstruct = np.ndarray.__reduce__(np.empty(0))[0]

_ALLOWED_GLOBALS = {
    ("numpy.core.multiarray", "_reconstruct"): _reconstruct,
    ("numpy._core.multiarray", "_reconstruct"): _reconstruct,
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
}


class _RefusedGlobal(pickle.UnpicklingError):
    """A pickle asked for a global outside the allow-list; nothing of it ran."""


class _ArraysOnlyUnpickler(pickle.Unpickler):
    """An unpickler that can build NumPy arrays and tuples of them, and nothing else.

    A pickle runs whatever callable it names, so a hostile file could name ``os.system``;
    ``find_class`` is the only way a pickle reaches a callable, so an allow-list there
    closes that door.  The book's file needs exactly the three globals listed (under the
    NumPy 1 spelling); the NumPy 2 spelling lets a file re-saved under Python 3 load too.
    """

    def find_class(self, module, name):
        try:
            return _ALLOWED_GLOBALS[(module, name)]
        except KeyError:
            raise _RefusedGlobal(
                f"refusing to unpickle global {module}.{name}: an MNIST pickle holds only NumPy "
                f"arrays, which need only {', '.join(f'{m}.{n}' for m, n in _ALLOWED_GLOBALS)}"
            ) from None


def _read_book_pickle(path):
    """Read, verify and validate a gzipped pickle of ((X, y), (X, y), (X, y))."""
    if path.stat().st_size == BOOK_MNIST_BYTES:
        digest = _sha256(path)
        if digest != BOOK_MNIST_SHA256:
            raise ValueError(
                f"{path}: has the size of the book's mnist.pkl.gz but its sha256 is {digest}, "
                f"not {BOOK_MNIST_SHA256}: the file is damaged; fetch it again")
    with open(path, "rb") as raw:
        try:
            with gzip.GzipFile(fileobj=raw, mode="rb") as f:
                # latin1 maps the Python 2 byte strings holding the pixel data one-to-one onto
                # Python 3 strings, which NumPy turns back into the same bytes.
                data = _ArraysOnlyUnpickler(f, encoding="latin1").load()
                # Reading to the end makes gzip check the stream's CRC and length, which
                # the unpickler, stopping at its STOP opcode, would otherwise never reach.
                trailing = f.read(1)
        except _RefusedGlobal as exc:
            raise _RefusedGlobal(f"{path}: {exc}") from None
        except Exception as exc:
            # A truncated or damaged stream can fail in any of gzip's, zlib's or the unpickler's
            # many ways (EOFError, BadGzipFile, zlib.error, KeyError on a bad memo, ...).
            raise ValueError(f"{path}: not a readable gzipped pickle (the book's mnist.pkl.gz): "
                             f"{type(exc).__name__}: {exc}") from exc
    if trailing:
        raise ValueError(f"{path}: unexpected data after the end of the pickle")
    return _validated_pickle_splits(data, path)


def _validated_pickle_splits(data, path):
    """Check the unpickled object is MNIST-shaped; return [(X float32, y int64)] * 3."""
    if not (isinstance(data, (tuple, list)) and len(data) == 3):
        raise ValueError(f"{path}: expected a tuple of 3 (X, y) pairs (train, validation, test), "
                         f"received {_describe(data)}")
    splits = []
    for name, pair in zip(_SPLITS, data):
        if not (isinstance(pair, (tuple, list)) and len(pair) == 2):
            raise ValueError(f"{path}: {name} split: expected an (X, y) pair, received {_describe(pair)}")
        X, y = pair
        for label, array in (("X", X), ("y", y)):
            if not isinstance(array, np.ndarray):
                raise ValueError(f"{path}: {name} {label}: expected a NumPy array, received {_describe(array)}")
        if not np.issubdtype(X.dtype, np.floating):
            raise ValueError(f"{path}: {name} X: expected floating-point pixels, received dtype {X.dtype}")
        if not np.issubdtype(y.dtype, np.integer):
            raise ValueError(f"{path}: {name} y: expected integer labels, received dtype {y.dtype}")
        X = X.astype(np.float32, copy=False)
        y = y.astype(np.int64, copy=False)
        _validate_split(X, y, f"{path}: {name}")
        if X.size and not (X.min() >= 0 and X.max() <= 1):
            raise ValueError(f"{path}: {name} X: expected pixels in [0, 1], "
                             f"received values from {X.min()} to {X.max()}")
        splits.append((X, y))
    return splits


def _validate_split(X, y, where):
    """Shapes and labels every source must satisfy: X (n, 784), y (n,) in 0..9."""
    if X.ndim != 2 or X.shape[1] != N_PIXELS:
        raise ValueError(f"{where} X: expected a 2-D array with {N_PIXELS} columns, received shape {X.shape}")
    if y.shape != (X.shape[0],):
        raise ValueError(f"{where} y: expected shape ({X.shape[0]},) to match X, received shape {y.shape}")
    if y.size and (y.min() < 0 or y.max() >= N_CLASSES):
        raise ValueError(f"{where} y: expected labels in 0..{N_CLASSES - 1}, "
                         f"received values from {y.min()} to {y.max()}")


def _describe(obj):
    if isinstance(obj, np.ndarray):
        return f"an array of shape {obj.shape} and dtype {obj.dtype}"
    if isinstance(obj, (tuple, list)):
        return f"a {type(obj).__name__} of length {len(obj)}"
    return f"a {type(obj).__name__}"


def _sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


# --- IDX files -------------------------------------------------------------------------------------

def _read_idx_directory(directory):
    """The four IDX files -> [(X, y)] for train (first n - 10,000), validation (last 10,000), test."""
    train_X, train_y = _read_idx_pair(directory, *_IDX_FILES["train"])
    test = _read_idx_pair(directory, *_IDX_FILES["test"])
    n_train = len(train_y) - _N_VALIDATION
    if n_train <= 0:
        raise ValueError(
            f"{directory}: the training IDX files hold {len(train_y)} images; at least "
            f"{_N_VALIDATION + 1} are needed to keep the last {_N_VALIDATION} for validation")
    return [(train_X[:n_train], train_y[:n_train]), (train_X[n_train:], train_y[n_train:]), test]


def _read_idx_pair(directory, images_name, labels_name):
    images_path, images = _read_idx(directory, images_name, ndim=3)
    labels_path, labels = _read_idx(directory, labels_name, ndim=1)
    if images.shape[1:] != (28, 28):
        raise ValueError(f"{images_path}: expected 28x28 images, received {images.shape[1]}x{images.shape[2]}")
    if len(labels) != len(images):
        raise ValueError(f"{labels_path}: holds {len(labels)} labels but {images_path} "
                         f"holds {len(images)} images")
    X = _decode_pixels(images.reshape(len(images), N_PIXELS))
    y = labels.astype(np.int64)
    _validate_split(X, y, str(labels_path))
    return X, y


def _read_idx(directory, name, ndim):
    """One IDX file of unsigned bytes (raw, else ``name.gz``) -> (its path, uint8 array)."""
    candidates = [directory / name, directory / f"{name}.gz"]
    path = next((p for p in candidates if p.is_file()), None)
    if path is None:
        raise FileNotFoundError(f"{directory}: no {name} or {name}.gz; an MNIST IDX directory holds "
                                + ", ".join(n for pair in _IDX_FILES.values() for n in pair)
                                + " (each raw or .gz)")
    data = path.read_bytes()
    if path.suffix == ".gz":
        try:
            data = gzip.decompress(data)
        except (EOFError, gzip.BadGzipFile, zlib.error) as exc:
            raise ValueError(f"{path}: not a readable gzip file: {type(exc).__name__}: {exc}") from exc
    header_bytes = 4 * (1 + ndim)
    if len(data) < header_bytes:
        raise ValueError(f"{path}: {len(data)} bytes, too short for an IDX header of {header_bytes} bytes")
    magic = int.from_bytes(data[:4], "big")
    expected_magic = (_IDX_UBYTE << 8) | ndim
    if magic != expected_magic:
        raise ValueError(f"{path}: expected IDX magic number 0x{expected_magic:08x} (unsigned bytes, "
                         f"{ndim}-D), received 0x{magic:08x}")
    shape = tuple(np.frombuffer(data, dtype=">u4", count=ndim, offset=4).tolist())
    n_values = int(np.prod(shape))
    if len(data) - header_bytes != n_values:
        raise ValueError(f"{path}: header says shape {shape} ({n_values} bytes of data), "
                         f"but the file holds {len(data) - header_bytes} bytes after the header")
    return path, np.frombuffer(data, dtype=np.uint8, offset=header_bytes).reshape(shape)
