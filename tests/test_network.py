"""The public API: shapes in and out, the book's names and formats, and bad input."""
import contextlib
import io

import numpy as np
import pytest

import matnet
from matnet import datasets


@pytest.fixture(scope="module")
def sample():
    return datasets.load_mnist_sample()


@pytest.fixture(scope="module")
def book_sample():
    return datasets.load_mnist_sample(format="book")


def test_array_api_shapes(rng):
    net = matnet.Network([6, 5, 3], seed=0)
    X = rng.random((9, 6))
    assert net.forward(X).shape == (9, 3)
    assert net.predict(X).shape == (9,) and net.predict(X).dtype.kind == "i"
    assert 0.0 <= net.accuracy(X, rng.integers(0, 3, 9)) <= 1.0
    assert net.cost(X, rng.random((9, 3))) > 0
    assert net.feedforward(X[0].reshape(-1, 1)).shape == (3, 1)
    np.testing.assert_allclose(net.feedforward(X[0].reshape(-1, 1)).ravel(), net.forward(X[:1])[0], rtol=1e-15)
    assert [w.shape for w in net.weights] == [(5, 6), (3, 5)]
    assert [b.shape for b in net.biases] == [(5, 1), (3, 1)]


def test_inputs_need_not_be_contiguous_or_writable(rng):
    net = matnet.Network([4, 3, 2], seed=0)
    X = np.asfortranarray(rng.random((8, 4)))
    y = rng.integers(0, 2, 8)
    X.flags.writeable = False
    expected = net.forward(np.ascontiguousarray(X))
    np.testing.assert_array_equal(net.forward(X), expected)
    np.testing.assert_array_equal(net.forward(X.astype(np.float32)), net.forward(X.astype(np.float32).astype(np.float64)))
    net.fit(X[::1], y, epochs=1, batch_size=3, eta=0.5)


def test_training_on_embedded_mnist_beats_90_percent(sample):
    (X, y), _, (X_test, y_test) = sample
    net = matnet.Network([784, 30, 10], seed=0)
    history = net.fit(X, y, epochs=30, batch_size=10, eta=3.0, validation_data=(X_test, y_test))
    assert net.accuracy(X_test, y_test) > 0.90
    assert history.evaluation_accuracy[-1] == net.accuracy(X_test, y_test)
    assert history.backend == matnet.backend


def test_book_code_runs_unchanged(book_sample):
    """network.py's own driver lines, with matnet imported under the book's module name."""
    import matnet as network
    training_data, validation_data, test_data = book_sample
    training_data = zip(*zip(*training_data[:2000]))   # the Python 3 port hands out zip objects
    net = network.Network([784, 30, 10])
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        net.SGD(training_data, 2, 10, 3.0, test_data=test_data[:500])
    lines = out.getvalue().splitlines()
    assert len(lines) == 2 and lines[0].startswith("Epoch 0: ") and lines[1].endswith(" / 500")
    assert int(lines[1].split()[2]) > 100     # unseeded, 2 epochs on 2,000 images: seen 183-325; chance is 50
    assert net.evaluate(test_data[:500]) == int(lines[1].split()[2])
    x, y = book_sample[0][0]
    nabla_b, nabla_w = net.backprop(x, y)
    assert [nb.shape for nb in nabla_b] == [(30, 1), (10, 1)]
    assert [nw.shape for nw in nabla_w] == [(30, 784), (10, 30)]


def test_network2_style_call_returns_four_lists(book_sample):
    import matnet as network2
    training_data, validation_data, _ = book_sample
    net = network2.Network([784, 20, 10], cost=network2.CrossEntropyCost, seed=0)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        ec, ea, tc, ta = net.SGD(training_data[:500], 2, 10, 0.5, lmbda=5.0,
                                 evaluation_data=validation_data[:200],
                                 monitor_evaluation_accuracy=True, monitor_training_cost=True)
    assert ec == [] and len(ea) == 2 and len(tc) == 2 and ta == []
    assert all(isinstance(a, int) and 0 <= a <= 200 for a in ea)
    assert "Accuracy on evaluation data:" in out.getvalue()


def test_update_mini_batch_matches_one_fit_step(rng):
    X, y = rng.random((5, 4)), rng.integers(0, 2, 5)
    a = matnet.Network([4, 3, 2], seed=4)
    b = matnet.Network([4, 3, 2], seed=4)
    a.update_mini_batch([(x.reshape(-1, 1), np.eye(2)[t].reshape(-1, 1)) for x, t in zip(X, y)], 0.7)
    b.fit(X, y, epochs=1, batch_size=5, eta=0.7, engine="per_sample")
    for p, q in zip(a.weights + a.biases, b.weights + b.biases):
        np.testing.assert_allclose(p, q, rtol=1e-12)


def test_weights_assigned_as_lists_are_adopted(rng):
    """network.py's update_mini_batch rebinds self.weights to a new list; so may user code."""
    net = matnet.Network([3, 2, 2], seed=0)
    net.weights = [w.tolist() for w in net.weights]
    net.fit(rng.random((4, 3)), [0, 1, 1, 0], epochs=1, batch_size=2, eta=1.0)
    assert all(isinstance(w, np.ndarray) and w.dtype == np.float64 for w in net.weights)


BAD_INPUTS = [
    # (call, argument named in the message, a fragment of what was received)
    (lambda net, X, y: net.fit(np.where(X > 0.5, np.nan, X), y, 1, 10, 3.0), "X", "NaN"),
    (lambda net, X, y: net.fit(X[:, :-1], y, 1, 10, 3.0), "X", "(20, 5)"),
    (lambda net, X, y: net.fit(X, np.where(y == 0, 7, y), 1, 10, 3.0), "y", "label 7"),
    (lambda net, X, y: net.fit(X, y - 1, 1, 10, 3.0), "y", "label -1"),
    (lambda net, X, y: net.fit(X, y[:-1], 1, 10, 3.0), "y", "got 19"),
    (lambda net, X, y: net.fit(X, y, 1, 10, 0.0), "eta", "0.0"),
    (lambda net, X, y: net.fit(X, y, 1, 10, -3.0), "eta", "-3.0"),
    (lambda net, X, y: net.fit(X, y, 1, 10, float("inf")), "eta", "inf"),
    (lambda net, X, y: net.fit(X, y, 1, 0, 3.0), "batch_size", "0"),
    (lambda net, X, y: net.fit(X, y, -1, 10, 3.0), "epochs", "-1"),
    (lambda net, X, y: net.fit(X, y, 1.5, 10, 3.0), "epochs", "1.5"),
    (lambda net, X, y: net.fit(X, y, 1, 10, 3.0, lmbda=-1), "lmbda", "-1"),
    (lambda net, X, y: net.fit(X, y, 1, 10, 3.0, engine="gpu"), "engine", "'gpu'"),
    (lambda net, X, y: net.fit(X[:0], y[:0], 1, 10, 3.0), "X", "(0, 6)"),
    (lambda net, X, y: net.fit(X.astype(object), y, 1, 10, 3.0), "X", "object"),
    (lambda net, X, y: net.fit(X + 1j, y, 1, 10, 3.0), "X", "complex"),
    (lambda net, X, y: net.fit(X.astype(str), y, 1, 10, 3.0), "X", "<U"),
    (lambda net, X, y: net.predict(X[0]), "X", "(6,)"),
    (lambda net, X, y: net.SGD([], 1, 10, 3.0), "training_data", "empty"),
    (lambda net, X, y: matnet.Network([6, 0, 3]), "sizes[1]", "0"),
    (lambda net, X, y: matnet.Network([6]), "sizes", "[6]"),
    (lambda net, X, y: matnet.Network([6, 3], dtype="float16"), "dtype", "float16"),
    (lambda net, X, y: matnet.Network([6, 3], cost="hinge"), "cost", "hinge"),
]


@pytest.mark.parametrize("call, argument, received", BAD_INPUTS)
def test_bad_input_names_argument_expected_and_received(rng, call, argument, received):
    net = matnet.Network([6, 4, 3], seed=0)
    X, y = rng.random((20, 6)), rng.integers(0, 3, 20)
    before = [w.copy() for w in net.weights]
    with pytest.raises((ValueError, TypeError)) as info:
        call(net, X, y)
    message = str(info.value)
    assert message.startswith(f"{argument}:") and "expected" in message and received in message, message
    for w, old in zip(net.weights, before):
        np.testing.assert_array_equal(w, old)


def test_partial_fit_streams_rows_in_order(rng):
    """Three partial_fit calls on consecutive blocks equal one unshuffled epoch of fit's engine."""
    X, y = rng.random((30, 4)), rng.integers(0, 2, 30)
    streamed = matnet.Network([4, 3, 2], seed=1)
    for start in range(0, 30, 10):
        streamed.partial_fit(X[start:start + 10], y[start:start + 10], eta=0.5)
    reference = matnet.Network([4, 3, 2], seed=1)
    for start in range(0, 30, 10):
        reference.update_mini_batch([(x.reshape(-1, 1), np.eye(2)[t].reshape(-1, 1))
                                     for x, t in zip(X[start:start + 10], y[start:start + 10])], 0.5)
    for a, b in zip(streamed.weights + streamed.biases, reference.weights + reference.biases):
        np.testing.assert_allclose(a, b, rtol=1e-12)
    with pytest.raises(ValueError, match="eta: expected a learning rate"):
        matnet.Network([4, 2]).partial_fit(X, y)
