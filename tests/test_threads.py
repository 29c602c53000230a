"""forward and predict from several threads at once on one network give the serial results.

``engines.forward`` allocates its outputs per call and only reads the parameters, and the
compiled kernels release the GIL, so concurrent inference needs no lock.  (Training a
network while other threads read it is not supported: the update writes the weights in place.)
"""
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

import matnet
from matnet import functions

N_THREADS = 8
N_CALLS = 400


def _hidden_activations():
    """Every activation that a hidden layer may use (softmax is output-only)."""
    return [name for name, activation in functions.ACTIVATIONS.items() if activation.hidden_ok]


def _inputs(rng, n_features, dtype):
    # Varied batch sizes, so concurrent calls run GEMMs of different shapes.
    return [rng.standard_normal((int(rng.integers(1, 150)), n_features)).astype(dtype) for _ in range(N_CALLS)]


def _concurrently(function, inputs):
    with ThreadPoolExecutor(max_workers=N_THREADS) as pool:
        return list(pool.map(function, inputs))


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_forward_and_predict_from_threads_match_serial_calls(rng, dtype):
    hidden = _hidden_activations()
    net = matnet.Network([20] + [32] * len(hidden) + [10], activation=hidden, init="scaled", dtype=dtype, seed=0)
    inputs = _inputs(rng, 20, dtype)
    serial_forward = [net.forward(X) for X in inputs]
    serial_predict = [net.predict(X) for X in inputs]
    for _ in range(2):
        for got, expected in zip(_concurrently(net.forward, inputs), serial_forward):
            np.testing.assert_array_equal(got, expected)
        for got, expected in zip(_concurrently(net.predict, inputs), serial_predict):
            np.testing.assert_array_equal(got, expected)


def test_threads_share_one_input_array(rng):
    """Many threads reading the same X (read-only, not C-contiguous) and the same weights."""
    net = matnet.Network([16, 24, 5], seed=1)
    X = np.asfortranarray(rng.standard_normal((300, 16)))
    X.flags.writeable = False
    expected = net.forward(X)
    for got in _concurrently(lambda _: net.forward(X), range(64)):
        np.testing.assert_array_equal(got, expected)


def test_estimator_predict_proba_from_threads(rng):
    pytest.importorskip("sklearn")
    from matnet.sklearn import MatNetClassifier

    X = rng.standard_normal((200, 6))
    y = (X[:, 0] + X[:, 1] > 0).astype(int) + (X[:, 2] > 1)
    clf = MatNetClassifier(epochs=3, random_state=0).fit(X, y)
    inputs = _inputs(rng, 6, np.float64)[:100]
    serial = [clf.predict_proba(X) for X in inputs]
    for got, expected in zip(_concurrently(clf.predict_proba, inputs), serial):
        np.testing.assert_array_equal(got, expected)
