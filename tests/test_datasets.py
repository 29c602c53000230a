"""Tests for matnet.datasets: the embedded sample, the book's pickle (safely), IDX files, the cache."""
import gzip
import json
import os
import pickle
import struct
from importlib import resources
from pathlib import Path

import numpy as np
import pytest

from matnet import datasets
from matnet.datasets import load_mnist, load_mnist_sample, to_book_format

SPLIT_SIZES = {"train": 8_000, "validation": 1_000, "test": 3_000}


def _real_mnist_path():
    """The book's mnist.pkl.gz if this machine has it (MATNET_DATA or the team cache), else None."""
    candidates = [Path("/work/cache/mnist.pkl.gz")]
    if os.environ.get("MATNET_DATA"):
        candidates.insert(0, Path(os.environ["MATNET_DATA"]) / "mnist.pkl.gz")
    return next((p for p in candidates if p.is_file() and p.stat().st_size == datasets.BOOK_MNIST_BYTES), None)


def _tiny_splits(n=(6, 4, 5), seed=0):
    """Three MNIST-shaped (X float32 k/256, y int64) splits of the given sizes."""
    rng = np.random.default_rng(seed)
    return tuple((rng.integers(0, 256, size=(k, 784)).astype(np.float32) / 256,
                  rng.integers(0, 10, size=k).astype(np.int64)) for k in n)


def _write_gz_pickle(path, obj):
    with gzip.open(path, "wb") as f:
        pickle.dump(obj, f)
    return path


# --- the embedded sample ---------------------------------------------------------------------------

def test_sample_shapes_dtypes_and_ranges():
    for (X, y), (name, n) in zip(load_mnist_sample(), SPLIT_SIZES.items()):
        assert X.shape == (n, 784) and X.dtype == np.float32, name
        assert y.shape == (n,) and y.dtype == np.int64, name
        assert X.min() == 0 and X.max() <= 1, name
        # The book's pixels are k/256: the sample must decode to exactly those values.
        np.testing.assert_array_equal(X * 256, np.rint(X * 256))


def test_sample_labels_are_balanced():
    for (_, y), name in zip(load_mnist_sample(), SPLIT_SIZES):
        shares = np.bincount(y, minlength=10) / len(y)
        assert len(shares) == 10, name
        assert shares.min() > 0.06 and shares.max() < 0.14, (name, shares)


def test_sample_records_its_source():
    resource = resources.files("matnet") / "data" / "mnist_sample.npz"
    with resource.open("rb") as f, np.load(f) as npz:
        source = json.loads(str(npz["source"]))
    assert source["sha256"] == datasets.BOOK_MNIST_SHA256
    assert {name: sum(stop - start for start, stop in ranges)
            for name, ranges in source["rows"].items()} == SPLIT_SIZES


def test_sample_book_format_matches_the_book_loader():
    (train_X, train_y), (_, val_y), _ = load_mnist_sample()
    training, validation, test = load_mnist_sample(format="book")
    assert isinstance(training, list) and len(training) == SPLIT_SIZES["train"]
    x, y = training[0]
    assert x.shape == (784, 1) and x.dtype == np.float32
    assert y.shape == (10, 1) and y.dtype == np.float64
    assert y.sum() == 1 and y[train_y[0], 0] == 1
    np.testing.assert_array_equal(x[:, 0], train_X[0])
    x, label = validation[3]
    assert x.shape == (784, 1) and type(label) is int and label == val_y[3]
    assert len(test) == SPLIT_SIZES["test"] and test[0][0].shape == (784, 1)


# --- to_book_format --------------------------------------------------------------------------------

def test_to_book_format_one_hot_and_labels():
    X = np.arange(6, dtype=np.float64).reshape(3, 2)
    y = np.array([2, 0, 9])
    pairs = to_book_format(X, y, one_hot=True)
    assert [int(np.argmax(t)) for _, t in pairs] == [2, 0, 9]
    assert all(x.shape == (2, 1) and t.shape == (10, 1) for x, t in pairs)
    assert [label for _, label in to_book_format(X, y)] == [2, 0, 9]


@pytest.mark.parametrize("X, y, one_hot, match", [
    (np.zeros(4), np.zeros(4, int), False, "X: expected a 2-D array"),
    (np.zeros((4, 2)), np.zeros(3, int), False, r"y: expected shape \(4,\)"),
    (np.zeros((4, 2)), np.zeros(4), False, "y: expected integer"),
    (np.zeros((2, 2)), np.array([1, 10]), True, r"y: expected labels in 0\.\.9"),
])
def test_to_book_format_rejects_bad_input(X, y, one_hot, match):
    with pytest.raises(ValueError, match=match):
        to_book_format(X, y, one_hot=one_hot)


def test_format_is_checked():
    with pytest.raises(ValueError, match="format: expected one of"):
        load_mnist_sample(format="columns")


# --- the book's pickle -----------------------------------------------------------------------------

def test_reads_a_valid_pickle_in_both_formats(tmp_path):
    splits = _tiny_splits()
    path = _write_gz_pickle(tmp_path / "mnist.pkl.gz", splits)
    for (X, y), (X0, y0) in zip(load_mnist(path), splits):
        np.testing.assert_array_equal(X, X0)
        np.testing.assert_array_equal(y, y0)
        assert X.dtype == np.float32 and y.dtype == np.int64
    training, validation, test = load_mnist(str(path), format="book")
    assert [len(training), len(validation), len(test)] == [6, 4, 5]
    assert training[0][1].shape == (10, 1) and type(test[0][1]) is int


def _py2_array_pickle(a):
    """Protocol-2 opcodes for array ``a`` as NumPy 1 under Python 2 wrote them (the book's file).

    Python 3 cannot write this form (it pickles bytes through ``_codecs.encode``), so it is
    assembled by hand: the ``numpy.core`` spelling and the latin1 byte strings are what the
    real file needs.
    """
    dtype = a.dtype.str[1:].encode()
    data = a.tobytes()
    shape = b"".join(b"J" + struct.pack("<i", n) for n in a.shape)
    return b"".join([
        b"cnumpy.core.multiarray\n_reconstruct\n", b"cnumpy\nndarray\n",
        b"K\x00\x85", b"U\x01b", b"\x87R",                       # _reconstruct(ndarray, (0,), 'b')
        b"(K\x01", b"(", shape, b"t",                            # state: version 1, shape
        b"cnumpy\ndtype\n", b"U", bytes([len(dtype)]), dtype, b"K\x00K\x01\x87R",
        b"(K\x03U\x01<NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00tb",  # the dtype's state
        b"\x89", b"T", struct.pack("<i", len(data)), data,       # not Fortran order; raw bytes
        b"tb",
    ])


def test_reads_a_python2_pickle(tmp_path):
    splits = _tiny_splits()
    body = b"".join(_py2_array_pickle(X) + _py2_array_pickle(y) + b"\x86" for X, y in splits)
    path = tmp_path / "py2.pkl.gz"
    path.write_bytes(gzip.compress(b"\x80\x02" + body + b"\x87."))
    for (X, y), (X0, y0) in zip(load_mnist(path), splits):
        np.testing.assert_array_equal(X, X0)
        np.testing.assert_array_equal(y, y0)


def _touch_flag(path):
    Path(path).touch()


class _Evil:
    def __init__(self, call, arg):
        self.call, self.arg = call, arg

    def __reduce__(self):
        return self.call, (self.arg,)


@pytest.mark.parametrize("call", [os.system, _touch_flag], ids=["os.system", "own function"])
def test_refuses_a_pickle_that_runs_code(tmp_path, call):
    flag = tmp_path / "flag"
    arg = f"touch {flag}" if call is os.system else str(flag)
    (X, y), validation, test = _tiny_splits()
    path = _write_gz_pickle(tmp_path / "evil.pkl.gz", ((X, _Evil(call, arg)), validation, test))
    with pytest.raises(pickle.UnpicklingError, match=rf"{call.__module__}\.{call.__name__}") as info:
        load_mnist(path)
    assert str(path) in str(info.value)
    assert not flag.exists()


def test_refuses_builtins(tmp_path):
    path = _write_gz_pickle(tmp_path / "eval.pkl.gz", _Evil(eval, "1 + 1"))
    with pytest.raises(pickle.UnpicklingError, match="builtins.eval"):
        load_mnist(path)


def test_truncated_gzip_is_a_value_error(tmp_path):
    whole = gzip.compress(pickle.dumps(_tiny_splits()))
    path = tmp_path / "cut.pkl.gz"
    path.write_bytes(whole[: len(whole) // 2])
    with pytest.raises(ValueError, match="cut.pkl.gz: not a readable gzipped pickle"):
        load_mnist(path)


def test_non_gzip_file_is_a_value_error(tmp_path):
    path = tmp_path / "plain.pkl"
    path.write_bytes(pickle.dumps(_tiny_splits()))
    with pytest.raises(ValueError, match="plain.pkl: not a readable gzipped pickle"):
        load_mnist(path)


def test_damaged_book_sized_file_fails_its_checksum(tmp_path):
    path = tmp_path / "mnist.pkl.gz"
    with open(path, "wb") as f:
        f.truncate(datasets.BOOK_MNIST_BYTES)
    with pytest.raises(ValueError, match="sha256"):
        load_mnist(path)


def _wrong_structures():
    (X, y), validation, test = _tiny_splits()
    return {
        "two splits": ((X, y), validation),
        "not a pair": ((X, y, y), validation, test),
        "list, not array": ((X.tolist(), y), validation, test),
        "783 columns": ((X[:, :783], y), validation, test),
        "short labels": ((X, y[:-1]), validation, test),
        "label 10": ((X, np.where(y == y[0], 10, y)), validation, test),
        "float labels": ((X, y.astype(float)), validation, test),
        "pixels above 1": ((X * 2, y), validation, test),
        "integer pixels": (((X * 256).astype(np.uint8), y), validation, test),
    }


@pytest.mark.parametrize("case", list(_wrong_structures()))
def test_wrong_structure_is_a_value_error(tmp_path, case):
    path = _write_gz_pickle(tmp_path / "odd.pkl.gz", _wrong_structures()[case])
    with pytest.raises(ValueError, match="odd.pkl.gz: .*expected"):
        load_mnist(path)


# --- IDX files -------------------------------------------------------------------------------------

N_TRAIN_IDX = datasets._N_VALIDATION + 3


def _idx_bytes(array, ndim):
    return struct.pack(">I", 0x0800 | ndim) + struct.pack(f">{ndim}I", *array.shape) + array.tobytes()


def _write_idx_dir(directory, compress, n_train=N_TRAIN_IDX, n_test=7):
    """Write the four IDX files; return the raw (images, labels) of train and test."""
    rng = np.random.default_rng(1)
    raw = {}
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
        labels = rng.integers(0, 10, size=n, dtype=np.uint8)
        for kind, array, ndim in (("images-idx3", images, 3), ("labels-idx1", labels, 1)):
            data = _idx_bytes(array, ndim)
            name = f"{prefix}-{kind}-ubyte"
            if compress:
                (directory / f"{name}.gz").write_bytes(gzip.compress(data, compresslevel=1))
            else:
                (directory / name).write_bytes(data)
        raw[prefix] = (images.reshape(n, 784), labels)
    return raw


@pytest.mark.parametrize("compress", [False, True], ids=["raw", "gz"])
def test_reads_idx_files(tmp_path, compress):
    raw = _write_idx_dir(tmp_path, compress)
    (train_X, train_y), (val_X, val_y), (test_X, test_y) = load_mnist(tmp_path)
    assert train_X.shape == (3, 784) and val_X.shape == (datasets._N_VALIDATION, 784)
    assert train_X.dtype == np.float32 and train_y.dtype == np.int64
    images, labels = raw["train"]
    np.testing.assert_array_equal(np.concatenate([train_X, val_X]), images.astype(np.float32) / 256)
    np.testing.assert_array_equal(np.concatenate([train_y, val_y]), labels)
    np.testing.assert_array_equal(test_X * 256, raw["t10k"][0])
    np.testing.assert_array_equal(test_y, raw["t10k"][1])
    training, _, test = load_mnist(tmp_path, format="book")
    assert training[0][1].shape == (10, 1) and type(test[0][1]) is int


def test_idx_missing_file(tmp_path):
    _write_idx_dir(tmp_path, compress=False)
    (tmp_path / "t10k-labels-idx1-ubyte").unlink()
    with pytest.raises(FileNotFoundError, match="no t10k-labels-idx1-ubyte or t10k-labels-idx1-ubyte.gz"):
        load_mnist(tmp_path)


def test_idx_bad_magic(tmp_path):
    _write_idx_dir(tmp_path, compress=False)
    path = tmp_path / "t10k-images-idx3-ubyte"
    path.write_bytes(b"\x00\x00\x0d\x03" + path.read_bytes()[4:])
    with pytest.raises(ValueError, match="t10k-images-idx3-ubyte: expected IDX magic number 0x00000803"):
        load_mnist(tmp_path)


def test_idx_size_disagrees_with_header(tmp_path):
    _write_idx_dir(tmp_path, compress=False)
    path = tmp_path / "t10k-images-idx3-ubyte"
    path.write_bytes(path.read_bytes()[:-10])
    with pytest.raises(ValueError, match=r"header says shape \(7, 28, 28\)"):
        load_mnist(tmp_path)


def test_idx_label_count_disagrees(tmp_path):
    _write_idx_dir(tmp_path, compress=False)
    (tmp_path / "t10k-labels-idx1-ubyte").write_bytes(_idx_bytes(np.zeros(6, np.uint8), 1))
    with pytest.raises(ValueError, match="holds 6 labels but .* holds 7 images"):
        load_mnist(tmp_path)


def test_idx_truncated_gzip(tmp_path):
    _write_idx_dir(tmp_path, compress=True)
    path = tmp_path / "t10k-images-idx3-ubyte.gz"
    path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(ValueError, match="t10k-images-idx3-ubyte.gz: not a readable gzip file"):
        load_mnist(tmp_path)


def test_idx_too_few_training_images_for_validation(tmp_path):
    _write_idx_dir(tmp_path, compress=True, n_train=50)
    with pytest.raises(ValueError, match="hold 50 images; at least 10001 are needed"):
        load_mnist(tmp_path)


# --- the cache -------------------------------------------------------------------------------------

def test_missing_cache_says_how_to_get_mnist(tmp_path, monkeypatch):
    monkeypatch.setenv("MATNET_DATA", str(tmp_path))
    with pytest.raises(FileNotFoundError, match="matnet data mnist") as info:
        load_mnist()
    assert str(tmp_path / "mnist.pkl.gz") in str(info.value) and "path=" in str(info.value)


def test_cache_is_read_from_matnet_data(tmp_path, monkeypatch):
    splits = _tiny_splits()
    _write_gz_pickle(tmp_path / "mnist.pkl.gz", splits)
    monkeypatch.setenv("MATNET_DATA", str(tmp_path))
    np.testing.assert_array_equal(load_mnist()[2][1], splits[2][1])


def test_missing_explicit_path(tmp_path):
    with pytest.raises(FileNotFoundError, match="path: .*does not exist"):
        load_mnist(tmp_path / "nowhere.pkl.gz")


@pytest.mark.parametrize("platform, env, expected", [
    ("linux", {"XDG_CACHE_HOME": "/xdg"}, Path("/xdg/matnet")),
    ("linux", {"XDG_CACHE_HOME": "relative/ignored"}, Path.home() / ".cache" / "matnet"),
    ("linux", {}, Path.home() / ".cache" / "matnet"),
    ("darwin", {}, Path.home() / "Library" / "Caches" / "matnet"),
    ("win32", {"LOCALAPPDATA": "/local"}, Path("/local/matnet")),
    ("linux", {"MATNET_DATA": "/data", "XDG_CACHE_HOME": "/xdg"}, Path("/data")),
])
def test_data_home(monkeypatch, platform, env, expected):
    for name in ("MATNET_DATA", "XDG_CACHE_HOME", "LOCALAPPDATA"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(datasets.sys, "platform", platform)
    assert datasets.data_home() == expected


# --- the real file, where this machine has it -----------------------------------------------------

@pytest.fixture(scope="module")
def real_mnist():
    path = _real_mnist_path()
    if path is None:
        pytest.skip("the book's mnist.pkl.gz is not in $MATNET_DATA or /work/cache (run `matnet data mnist`)")
    return load_mnist(path)


def test_real_file_shapes(real_mnist):
    for (X, y), n in zip(real_mnist, (50_000, 10_000, 10_000)):
        assert X.shape == (n, 784) and X.dtype == np.float32
        assert y.shape == (n,) and y.dtype == np.int64
        assert 0 <= X.min() and X.max() <= 255 / 256 and set(np.unique(y)) == set(range(10))


def test_sample_is_the_real_files_rows(real_mnist):
    rows = {"train": np.arange(8_000), "validation": np.arange(1_000),
            "test": np.r_[0:1_500, 5_000:6_500]}
    for (X, y), (X_real, y_real), name in zip(load_mnist_sample(), real_mnist, rows):
        np.testing.assert_array_equal(X, X_real[rows[name]])
        np.testing.assert_array_equal(y, y_real[rows[name]])
