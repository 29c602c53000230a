"""Gradients three ways (engines against each other, central differences, a hand-worked
step) and training: both engines reach the same weights from the same seed."""
import math

import numpy as np
import pytest
from conftest import RTOL_LONG

import matnet
from matnet import functions


def _data(rng, sizes, n=13):
    X = rng.normal(size=(n, sizes[0]))
    Y = rng.random((n, sizes[-1]))
    return X, Y


def _flat(nabla_b, nabla_w):
    return np.concatenate([p.ravel() for p in nabla_b + nabla_w])


PAIRS = [("quadratic", "sigmoid"), ("quadratic", "tanh"), ("quadratic", "relu"), ("quadratic", "identity"),
         ("cross_entropy", "sigmoid"), ("log_likelihood", "softmax")]
HIDDEN = [a for a, f in functions.ACTIVATIONS.items() if f.hidden_ok]


@pytest.mark.parametrize("sizes", [[5, 4, 3], [7, 6, 5, 4]])
@pytest.mark.parametrize("cost, output", PAIRS)
@pytest.mark.parametrize("hidden", HIDDEN)
def test_gradients_equal_summed_backprop_and_finite_differences(rng, sizes, cost, output, hidden):
    net = matnet.Network(sizes, cost=cost, activation=hidden, output_activation=output, seed=1)
    X, Y = _data(rng, sizes)
    if cost == "log_likelihood":
        Y /= Y.sum(axis=1, keepdims=True)   # targets are distributions over the classes
    batched = _flat(*net.gradients(X, Y))
    per_sample = _flat(*net.gradients(X, Y, engine="per_sample"))
    summed = sum(_flat(*net.backprop(x.reshape(-1, 1), y.reshape(-1, 1))) for x, y in zip(X, Y))
    np.testing.assert_allclose(batched, summed, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(per_sample, summed, rtol=1e-12, atol=1e-14)

    # Central differences of the summed cost on the packed parameter vector.
    params = net.biases + net.weights
    numeric = []
    eps = 1e-6
    for p in params:
        for i in range(p.size):
            old = p.flat[i]
            p.flat[i] = old + eps
            up = net.cost(X, Y) * len(X)
            p.flat[i] = old - eps
            down = net.cost(X, Y) * len(X)
            p.flat[i] = old
            numeric.append((up - down) / (2 * eps))
    np.testing.assert_allclose(batched, numeric, rtol=1e-6, atol=1e-8)


def test_gradients_accept_labels(rng):
    net = matnet.Network([4, 3, 3], seed=0)
    X = rng.normal(size=(6, 4))
    labels = np.array([0, 1, 2, 2, 1, 0])
    one_hot = np.eye(3)[labels]
    for got, want in zip(_flat(*net.gradients(X, labels)), _flat(*net.gradients(X, one_hot))):
        assert got == want


def test_hand_worked_sgd_step():
    """One SGD step of a 2-2-1 sigmoid network with the quadratic cost, worked out with
    scalar arithmetic, against update_mini_batch and fit."""
    w1, b1 = [[0.1, -0.2], [0.3, 0.4]], [0.5, -0.6]
    w2, b2 = [0.7, -0.8], 0.9
    x, y, eta = [1.0, 0.5], 0.25, 0.5
    sig = lambda z: 1 / (1 + math.exp(-z))  # noqa: E731
    a1 = [sig(w1[j][0] * x[0] + w1[j][1] * x[1] + b1[j]) for j in range(2)]
    a2 = sig(w2[0] * a1[0] + w2[1] * a1[1] + b2)
    d2 = (a2 - y) * a2 * (1 - a2)
    d1 = [w2[j] * d2 * a1[j] * (1 - a1[j]) for j in range(2)]
    new_w2 = [w2[j] - eta * d2 * a1[j] for j in range(2)]
    new_b2 = b2 - eta * d2
    new_w1 = [[w1[j][k] - eta * d1[j] * x[k] for k in range(2)] for j in range(2)]
    new_b1 = [b1[j] - eta * d1[j] for j in range(2)]

    def fresh():
        net = matnet.Network([2, 2, 1])
        net.weights = [np.array(w1), np.array([w2])]
        net.biases = [np.array(b1).reshape(2, 1), np.array([[b2]])]
        return net

    book = fresh()
    book.update_mini_batch([(np.array(x).reshape(2, 1), np.array([[y]]))], eta)
    arrays = fresh()
    arrays.fit(np.array([x]), np.array([[y]]), epochs=1, batch_size=1, eta=eta, engine="per_sample")
    for net in (book, arrays):
        np.testing.assert_allclose(net.weights[0], new_w1, rtol=1e-14)
        np.testing.assert_allclose(net.biases[0].ravel(), new_b1, rtol=1e-14)
        np.testing.assert_allclose(net.weights[1].ravel(), new_w2, rtol=1e-14)
        np.testing.assert_allclose(net.biases[1].ravel(), [new_b2], rtol=1e-14)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("lmbda", [0.0, 2.0])
def test_one_epoch_same_weights_on_both_engines(rng, dtype, lmbda):
    X = rng.random((103, 8))     # 103 rows: the last mini-batch is short
    y = rng.integers(0, 4, 103)
    nets = {}
    for engine in ("per_sample", "batched"):
        nets[engine] = net = matnet.Network([8, 6, 4], seed=3, dtype=dtype)
        history = net.fit(X, y, epochs=1, batch_size=10, eta=3.0, lmbda=lmbda, engine=engine, seed=7)
        assert history.engine == engine
    for a, b in zip(nets["per_sample"].weights + nets["per_sample"].biases,
                    nets["batched"].weights + nets["batched"].biases):
        assert a.dtype == np.dtype(dtype)
        np.testing.assert_allclose(a, b, rtol=RTOL_LONG[np.dtype(dtype).type], atol=RTOL_LONG[np.dtype(dtype).type])


def test_seed_reproduces_training(rng):
    X, y = rng.random((60, 5)), rng.integers(0, 3, 60)
    runs = []
    for _ in range(2):
        net = matnet.Network([5, 4, 3], seed=11)
        net.fit(X, y, epochs=2, batch_size=7, eta=1.0)
        runs.append(np.concatenate([w.ravel() for w in net.weights]))
    np.testing.assert_array_equal(runs[0], runs[1])
    other = matnet.Network([5, 4, 3], seed=12)
    assert not np.array_equal(runs[0], np.concatenate([w.ravel() for w in other.weights]))


def test_float32_and_float64_start_alike():
    a = matnet.Network([6, 5, 2], seed=0, dtype="float64")
    b = matnet.Network([6, 5, 2], seed=0, dtype="float32")
    for p, q in zip(a.weights, b.weights):
        assert q.dtype == np.float32
        np.testing.assert_allclose(p, q, rtol=1e-7)


def test_init_scales():
    large = matnet.Network([400, 300, 2], seed=0, init="large")
    scaled = matnet.Network([400, 300, 2], seed=0, init="scaled")
    assert abs(large.weights[0].std() - 1) < 0.02
    assert abs(scaled.weights[0].std() - 1 / 20) < 0.002
    assert matnet.Network([2, 2], cost="cross_entropy").init == "scaled"
    assert matnet.Network([2, 2]).init == "large"
