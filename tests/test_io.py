"""Model files: exact round trips, the book's JSON both ways, and clean errors on bad files."""
import json

import numpy as np
import pytest

import matnet

OPTIONS = [
    dict(sizes=[5, 4, 3]),
    dict(sizes=[5, 4, 3], dtype="float32"),
    dict(sizes=[5, 4, 4, 3], cost="cross_entropy"),
    dict(sizes=[5, 3], cost="cross_entropy", init="large"),
    dict(sizes=[5, 6, 4, 3], activation=["tanh", "relu"]),
    dict(sizes=[5, 4, 3], cost="log_likelihood", activation="relu", init="he"),
    dict(sizes=[5, 4, 3], activation="identity", output_activation="tanh", init="glorot", dtype="float32"),
    dict(sizes=[5, 4, 3], output_activation="identity"),
]


@pytest.mark.parametrize("options", OPTIONS)
def test_save_load_predicts_identically(tmp_path, rng, options):
    net = matnet.Network(**options, seed=2)
    X = rng.random((7, 5))
    net.fit(X, rng.integers(0, 3, 7), epochs=1, batch_size=3, eta=0.5)
    net.save(tmp_path / "model.npz")
    loaded = matnet.load(tmp_path / "model.npz")
    assert loaded.config == net.config
    np.testing.assert_array_equal(loaded.forward(X), net.forward(X))
    for a, b in zip(loaded.weights + loaded.biases, net.weights + net.biases):
        assert a.dtype == b.dtype
        np.testing.assert_array_equal(a, b)


def _network2_save(net, filename):
    """network2.py's Network.save, line for line (its cost is a class; here, its name)."""
    data = {"sizes": net.sizes,
            "weights": [w.tolist() for w in net.weights],
            "biases": [b.tolist() for b in net.biases],
            "cost": net.cost_function.book_name}
    with open(filename, "w") as f:
        json.dump(data, f)


def _network2_load(filename):
    """network2.py's load, line for line, with matnet standing in for the module."""
    with open(filename) as f:
        data = json.load(f)
    cost = getattr(matnet, data["cost"])
    net = matnet.Network(data["sizes"], cost=cost)
    net.weights = [np.array(w) for w in data["weights"]]
    net.biases = [np.array(b) for b in data["biases"]]
    return net


def test_network2_json_both_ways(tmp_path, rng):
    net = matnet.Network([6, 5, 2], cost="cross_entropy", seed=0)
    X = rng.random((4, 6))
    _network2_save(net, tmp_path / "book.json")
    np.testing.assert_array_equal(matnet.load(tmp_path / "book.json").forward(X), net.forward(X))
    net.save(tmp_path / "ours.json", format="network2")
    np.testing.assert_array_equal(_network2_load(tmp_path / "ours.json").forward(X), net.forward(X))


def test_save_replaces_atomically(tmp_path, monkeypatch):
    target = tmp_path / "model.npz"
    matnet.Network([3, 2], seed=0).save(target)
    before = target.read_bytes()

    def crash(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(np, "savez", crash)
    with pytest.raises(KeyboardInterrupt):
        matnet.Network([3, 2], seed=1).save(target)
    assert target.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["model.npz"]


def _rewrite(path, **changes):
    """Copy an npz model with some entries replaced (None removes one)."""
    with np.load(path, allow_pickle=False) as f:
        entries = {k: f[k] for k in f.files}
    for key, value in changes.items():
        if value is None:
            entries.pop(key)
        else:
            entries[key] = value
    np.savez(path, **entries)


def _metadata(path, **changes):
    with np.load(path) as f:
        meta = json.loads(str(f["metadata"]))
    meta.update(changes)
    return np.array(json.dumps(meta))


BAD_FILES = {
    "empty": (lambda p: p.write_bytes(b""), "not a model file"),
    "truncated": (lambda p: p.write_bytes(p.read_bytes()[:200]), "damaged or truncated"),
    "corrupted": (lambda p: p.write_bytes(p.read_bytes()[:100] + b"\0" * 300 + p.read_bytes()[400:]), "damaged or truncated"),
    "newer version": (lambda p: _rewrite(p, metadata=_metadata(p, version=99)), "version 99"),
    "other format": (lambda p: _rewrite(p, metadata=_metadata(p, format="keras")), "'keras'"),
    "no metadata": (lambda p: _rewrite(p, metadata=None), "metadata"),
    "wrong shape": (lambda p: _rewrite(p, weights_1=np.zeros((3, 3))), "weights[1]: expected shape (2, 4)"),
    "missing array": (lambda p: _rewrite(p, biases_0=None), "biases[0] is missing"),
    "nan weights": (lambda p: _rewrite(p, weights_0=np.full((4, 5), np.nan)), "finite"),
    "pickled object": (lambda p: _rewrite(p, weights_0=np.array([{"x": 1}], dtype=object)), "Object arrays"),
    "bad options": (lambda p: _rewrite(p, metadata=_metadata(p, config={"sizes": [5, 0, 2]})), "sizes[1]"),
    "bad json": (lambda p: p.write_text('{"sizes": [2, '), "damaged or truncated network2"),
    "json without keys": (lambda p: p.write_text('{"sizes": [2, 1]}'), "needs 'sizes'"),
}


@pytest.mark.parametrize("kind", sorted(BAD_FILES))
def test_bad_files_give_clear_errors(tmp_path, kind):
    path = tmp_path / "model.npz"
    matnet.Network([5, 4, 2], seed=0).save(path)
    damage, message = BAD_FILES[kind]
    damage(path)
    with pytest.raises(ValueError) as info:
        matnet.load(path)
    assert str(path) in str(info.value) and message in str(info.value), str(info.value)


def test_missing_file_and_unknown_format(tmp_path):
    with pytest.raises(FileNotFoundError):
        matnet.load(tmp_path / "nothing.npz")
    with pytest.raises(ValueError, match="format: expected one of 'npz', 'network2'"):
        matnet.Network([2, 2]).save(tmp_path / "m", format="hdf5")
