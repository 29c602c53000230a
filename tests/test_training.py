"""Training features: optimizers, regularization, sample weights, schedules, early stopping,
callbacks, monitoring, and what happens when training diverges or is interrupted."""
import numpy as np
import pytest

import matnet
from matnet import _backend, engines, optimizers, training


@pytest.fixture
def data(rng):
    X = rng.random((60, 6))
    y = (X[:, 0] + X[:, 1] > 1).astype(int) + (X[:, 2] > 0.5)   # 3 learnable classes
    return X, y


def _params(net):
    return [p.copy() for p in net.weights + net.biases]


def _one_step(net, X, Y, **options):
    """One full-batch step, so no shuffling is involved."""
    return net.fit(X, Y, epochs=1, batch_size=len(X), engine="batched", **options)


@pytest.mark.parametrize("optimizer", ["sgd", "momentum", "nesterov", "adam"])
@pytest.mark.parametrize("engine", ["batched", "per_sample"])
def test_every_optimizer_learns_on_every_engine(data, optimizer, engine):
    X, y = data
    eta = 0.05 if optimizer == "adam" else 0.5
    net = matnet.Network([6, 8, 3], cost="cross_entropy", seed=0)
    before = net.cost(X, y)
    history = net.fit(X, y, epochs=30, batch_size=10, eta=eta, optimizer=optimizer, engine=engine,
                      monitor=["training_cost"])
    assert history.engine == engine
    assert history.training_cost[-1] < 0.8 * before


def test_optimizers_agree_across_engines(data):
    X, y = data
    for optimizer in ("momentum", "nesterov", "adam"):
        a = matnet.Network([6, 5, 3], seed=2)
        b = matnet.Network([6, 5, 3], seed=2)
        a.fit(X, y, epochs=2, batch_size=7, eta=0.1, optimizer=optimizer, engine="per_sample", seed=3, l1=0.01)
        b.fit(X, y, epochs=2, batch_size=7, eta=0.1, optimizer=optimizer, engine="batched", seed=3, l1=0.01)
        for p, q in zip(_params(a), _params(b)):
            np.testing.assert_allclose(p, q, rtol=1e-9, atol=1e-12)


def test_momentum_step_by_hand(data):
    """Two full-batch steps of the book's momentum: v ← μv - (η/m)∇, w ← w + v."""
    X, y = data
    net = matnet.Network([6, 3], seed=4)
    Y = np.eye(3)[y]
    w0 = net.weights[0].copy()
    g0 = net.gradients(X, Y)[1][0]
    v1 = -0.5 / len(X) * g0
    w1 = w0 + v1
    g1 = None

    def second_gradient(epoch, history, n):
        nonlocal g1
        if epoch == 0:
            g1 = n.gradients(X, Y)[1][0]

    net.fit(X, Y, epochs=2, batch_size=len(X), eta=0.5, optimizer="momentum", momentum=0.7, engine="batched",
            callbacks=[second_gradient])
    v2 = 0.7 * v1 - 0.5 / len(X) * g1
    np.testing.assert_allclose(net.weights[0], w1 + v2, rtol=1e-12)


def test_partial_fit_keeps_optimizer_state(data):
    """Four partial_fit calls equal one unshuffled epoch with one momentum optimizer throughout."""
    X, y = data
    a = matnet.Network([6, 4, 3], seed=5)
    for start in range(0, 60, 15):
        a.partial_fit(X[start:start + 15], y[start:start + 15], eta=0.3, optimizer="momentum")
    reference = matnet.Network([6, 4, 3], seed=5)
    reference._check_parameters()
    opt = optimizers.make("momentum", _backend.kernels, reference.weights, reference.biases, 0.3, n=15)
    engines.Batched.for_network(reference, opt).epoch(reference._check_X(X), np.eye(3)[y], np.arange(60), 15)
    for p, q in zip(_params(a), _params(reference)):
        np.testing.assert_allclose(p, q, rtol=1e-12)


def test_l2_and_l1_shrink_weights_but_not_biases(data):
    X, y = data
    plain, l2, l1 = (matnet.Network([6, 4, 3], seed=6) for _ in range(3))
    _one_step(plain, X, y, eta=0.5)
    _one_step(l2, X, y, eta=0.5, lmbda=30.0)
    _one_step(l1, X, y, eta=0.5, l1=3.0)
    shrink = 1 - 0.5 * 30.0 / len(X)
    w0 = matnet.Network([6, 4, 3], seed=6).weights[0]
    np.testing.assert_allclose(l2.weights[0], plain.weights[0] - w0 + shrink * w0, rtol=1e-12)
    np.testing.assert_allclose(l1.weights[0], plain.weights[0] - 0.5 * 3.0 / len(X) * np.sign(w0), rtol=1e-12)
    for net in (l2, l1):
        np.testing.assert_allclose(net.biases[0], plain.biases[0], rtol=1e-15)


@pytest.mark.parametrize("engine", ["batched", "per_sample"])
def test_sample_weight_is_a_multiplicity(data, engine):
    X, y = data
    weights = np.r_[np.full(20, 2.0), np.zeros(20), np.ones(20)]
    weighted = matnet.Network([6, 4, 3], seed=7)
    weighted.fit(X, y, 1, 60, 0.5, sample_weight=weights, engine=engine)
    copies = matnet.Network([6, 4, 3], seed=7)
    rows = np.r_[np.arange(20), np.arange(20), np.arange(40, 60)]
    # The same summed gradient, divided by the batch's row count (60 in both).
    copies.fit(X[rows], y[rows], 1, 60, 0.5, engine=engine)
    for p, q in zip(_params(weighted), _params(copies)):
        np.testing.assert_allclose(p, q, rtol=1e-10)


def test_sample_weight_is_checked(data):
    X, y = data
    net = matnet.Network([6, 4, 3])
    with pytest.raises(ValueError, match=r"sample_weight: expected 60 non-negative weights"):
        net.fit(X, y, 1, 10, 0.5, sample_weight=np.ones(59))
    with pytest.raises(ValueError, match="negative"):
        net.fit(X, y, 1, 10, 0.5, sample_weight=-np.ones(60))


def test_early_stopping_restores_the_best_weights(data):
    X, y = data
    net = matnet.Network([6, 10, 3], seed=8)
    snapshots = []
    history = net.fit(X, y, epochs=200, batch_size=5, eta=8.0, validation_data=(X[:20], y[:20]),
                      early_stopping=True, patience=3,
                      callbacks=[lambda epoch, h, n: snapshots.append(_params(n))])
    assert history.stop_reason == "early_stopping"
    assert len(history.evaluation_accuracy) == history.best_epoch + 4
    assert history.evaluation_accuracy[history.best_epoch] == max(history.evaluation_accuracy)
    for p, q in zip(_params(net), snapshots[history.best_epoch]):
        np.testing.assert_array_equal(p, q)


def test_halving_schedule_stops_at_eta_over_128(data):
    X, y = data
    net = matnet.Network([6, 4, 3], seed=9)
    history = net.fit(X, y, epochs=500, batch_size=60, eta=1e-9, schedule="halving", patience=2,
                      validation_data=(X, y))
    assert history.stop_reason == "eta_floor"
    assert history.eta[0] == 1e-9 and min(history.eta) == pytest.approx(1e-9 / 64)
    assert sorted(set(history.eta), reverse=True) == [1e-9 / 2 ** k for k in range(7)]


def test_invscaling_and_adaptive_schedules(data):
    X, y = data
    net = matnet.Network([6, 4, 3], seed=10)
    history = net.fit(X, y, epochs=4, batch_size=10, eta=1.0, schedule="invscaling")
    np.testing.assert_allclose(history.eta, [1.0 / np.sqrt(t + 1) for t in range(4)])
    history = net.fit(X, y, epochs=40, batch_size=60, eta=1e-12, schedule="adaptive")
    assert history.eta[2] == pytest.approx(1e-12 / 5) or history.stop_reason == "eta_floor"


def test_callbacks_see_every_epoch_and_can_stop(data):
    X, y = data
    seen = []

    def stop_after_three(epoch, history, net):
        seen.append((epoch, len(history.epoch_seconds)))
        return epoch == 2

    history = matnet.Network([6, 4, 3]).fit(X, y, epochs=10, batch_size=10, eta=1.0, callbacks=[stop_after_three])
    assert seen == [(0, 1), (1, 2), (2, 3)] and history.stop_reason == "callback"


def test_monitoring_and_verbose(data, capsys):
    X, y = data
    net = matnet.Network([6, 4, 3], seed=0)
    history = net.fit(X, y, epochs=2, batch_size=10, eta=1.0, validation_data=(X, y), verbose=1,
                      monitor=["training_cost", "training_accuracy", "evaluation_accuracy"])
    assert len(history.training_cost) == len(history.training_accuracy) == len(history.evaluation_accuracy) == 2
    assert history.evaluation_accuracy == history.training_accuracy
    assert history.training_cost[-1] == pytest.approx(net.cost(X, y))
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 2 and out[1].startswith("Epoch 1: eta 1") and "training cost" in out[1]
    with pytest.raises(ValueError, match="monitor: expected one of"):
        net.fit(X, y, 1, 10, 1.0, monitor=["loss"])


@pytest.mark.parametrize("engine", ["fused", "batched", "per_sample"])
def test_divergence_keeps_the_last_good_weights(data, engine):
    X, y = data
    net = matnet.Network([6, 4, 3], activation="relu", output_activation="identity", seed=11)
    net.fit(X, y, epochs=1, batch_size=10, eta=0.01, engine=engine)
    good = _params(net)
    with pytest.raises(training.DivergenceError, match="diverged in epoch 0") as info:
        net.fit(X * 1e6, y, epochs=3, batch_size=10, eta=1e200, engine=engine)
    assert "keeps the weights it had before training" in str(info.value)
    for p, q in zip(_params(net), good):
        np.testing.assert_array_equal(p, q)
    history = net.fit(X * 1e6, y, epochs=3, batch_size=10, eta=1e200, engine=engine, on_divergence="stop")
    assert history.stop_reason == "diverged"
    for p, q in zip(_params(net), good):
        np.testing.assert_array_equal(p, q)
    assert np.isfinite(net.forward(X)).all()


def test_keyboard_interrupt_leaves_a_whole_epoch(data):
    X, y = data
    net = matnet.Network([6, 4, 3], seed=12)
    after_first = []

    def interrupt(epoch, history, n):
        after_first.append(_params(n))
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        net.fit(X, y, epochs=3, batch_size=10, eta=1.0, callbacks=[interrupt])
    for p, q in zip(_params(net), after_first[0]):
        np.testing.assert_array_equal(p, q)

    original = engines.Batched.batch_gradients
    calls = []

    def interrupted_mid_epoch(self, *args):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return original(self, *args)

    before = _params(net)
    engines.Batched.batch_gradients = interrupted_mid_epoch
    try:
        with pytest.raises(KeyboardInterrupt):
            net.fit(X, y, epochs=1, batch_size=10, eta=1.0, engine="batched")
    finally:
        engines.Batched.batch_gradients = original
    for p, q in zip(_params(net), before):   # back to the start of the interrupted epoch
        np.testing.assert_array_equal(p, q)


@pytest.mark.parametrize("bad, message", [
    (dict(optimizer="rmsprop"), "optimizer: expected one of"),
    (dict(momentum=1.0), "momentum: expected a number in [0, 1)"),
    (dict(schedule="cosine"), "schedule: expected one of"),
    (dict(patience=0), "patience: expected an integer >= 1"),
    (dict(early_stopping="yes"), "early_stopping: expected True or False"),
    (dict(l1=-1.0), "l1: expected a finite number >= 0"),
    (dict(on_divergence="ignore"), "on_divergence: expected one of"),
])
def test_bad_training_options(data, bad, message):
    X, y = data
    with pytest.raises((ValueError, TypeError)) as info:
        matnet.Network([6, 4, 3]).fit(X, y, 1, 10, 1.0, **bad)
    assert message in str(info.value)


@pytest.mark.parametrize("init, std", [("glorot", np.sqrt(2 / 700)), ("he", np.sqrt(2 / 400))])
def test_glorot_and_he_inits(init, std):
    net = matnet.Network([400, 300, 2], init=init, seed=0)
    assert abs(net.weights[0].std() / std - 1) < 0.02
    assert not np.any(net.biases[0])


def test_log_likelihood_softmax_network_learns(data):
    X, y = data
    net = matnet.Network([6, 12, 3], cost="log_likelihood", activation="tanh", seed=0)
    assert net.activations[-1].name == "softmax"
    net.fit(X, y, epochs=60, batch_size=10, eta=0.3)
    np.testing.assert_allclose(net.forward(X).sum(axis=1), 1.0, rtol=1e-12)
    assert net.accuracy(X, y) > 0.6


def test_regression_with_identity_output(rng):
    X = rng.random((200, 3))
    y = X @ np.array([[1.0], [-2.0], [0.5]]) + 0.3
    net = matnet.Network([3, 8, 1], activation="tanh", output_activation="identity", init="glorot", seed=0)
    net.fit(X, y, epochs=200, batch_size=20, eta=0.05)
    assert net.cost(X, y) < 1e-3


@pytest.mark.parametrize("bad, message", [
    (dict(activation="softmax"), "'softmax' is for the output layer only"),
    (dict(cost="log_likelihood", output_activation="sigmoid"), "needs output_activation='softmax'"),
    (dict(cost="cross_entropy", output_activation="relu"), "needs output_activation='sigmoid'"),
    (dict(output_activation="softmax"), "softmax has none to pair with the quadratic cost"),
    (dict(activation=["tanh"]), "one name per hidden layer"),
])
def test_bad_architecture(bad, message):
    with pytest.raises(ValueError) as info:
        matnet.Network([4, 3, 3, 2], **bad)
    assert message in str(info.value)


def test_n_threads_limits_blas_while_training(data):
    from threadpoolctl import threadpool_info

    X, y = data
    seen = []
    net = matnet.Network([6, 4, 3], seed=0)
    net.fit(X, y, epochs=1, batch_size=10, eta=1.0, n_threads=1,
            callbacks=[lambda e, h, n: seen.append({i["num_threads"] for i in threadpool_info()
                                                    if i["user_api"] == "blas"})])
    assert seen == [{1}]
    with pytest.raises(ValueError, match="n_threads: expected an integer >= 1"):
        net.fit(X, y, 1, 10, 1.0, n_threads=0)


def test_verbose_2_shows_a_progress_bar_on_stderr(data, capsys):
    X, y = data
    matnet.Network([6, 4, 3], seed=0).fit(X, y, epochs=4, batch_size=10, eta=1.0, verbose=2)
    captured = capsys.readouterr()
    assert len(captured.out.splitlines()) == 4
    assert "training, epochs" in captured.err and "(4 / 4)" in captured.err
