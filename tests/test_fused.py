"""The fused engine: a whole epoch in one kernel call.  It must end an epoch with the weights
the batched and per-sample engines reach from the same seed, the compiled kernel must agree
with its NumPy twin, and bad buffers handed to the compiled kernel must raise, not crash."""
import copy

import numpy as np
import pytest
from conftest import RTOL, RTOL_LONG

import matnet
from matnet import _backend, _kernels, engines

needs_core = pytest.mark.skipif(_backend._core is None, reason="the compiled extension is not built")
DTYPES = [np.float64, np.float32]
# One epoch is a long chain of steps; float32 rounding compounds along it.
EPOCH_RTOL = {np.float64: RTOL_LONG[np.float64], np.float32: RTOL[np.float32] * 10}


def _params(net):
    return net.weights + net.biases


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("sizes", [[6, 3], [8, 6, 4], [7, 6, 5, 4]])
@pytest.mark.parametrize("batch_size", [1, 10, 200])      # 53 rows: 10 leaves a short last batch
@pytest.mark.parametrize("cost, activation", [("quadratic", "sigmoid"), ("cross_entropy", "tanh"),
                                              ("log_likelihood", "relu")])
@pytest.mark.parametrize("lmbda", [0.0, 2.0])
def test_one_epoch_same_weights_as_batched_and_per_sample(rng, dtype, sizes, batch_size, cost, activation, lmbda):
    X = rng.random((53, sizes[0]))
    y = rng.integers(0, sizes[-1], 53)
    nets = {}
    for engine in ("per_sample", "batched", "fused"):
        nets[engine] = net = matnet.Network(sizes, cost=cost, activation=activation, seed=3, dtype=dtype)
        history = net.fit(X, y, epochs=1, batch_size=batch_size, eta=0.5, lmbda=lmbda,
                          engine=engine, seed=7)
        assert history.engine == engine
    tol = EPOCH_RTOL[dtype]
    for other in ("per_sample", "batched"):
        for fused, reference in zip(_params(nets["fused"]), _params(nets[other])):
            assert fused.dtype == dtype
            np.testing.assert_allclose(fused, reference, rtol=tol, atol=tol)


def test_auto_picks_fused_and_history_says_so(rng):
    X, y = rng.random((30, 5)), rng.integers(0, 3, 30)
    net = matnet.Network([5, 4, 3], seed=0)
    assert net.fit(X, y, epochs=1, batch_size=10, eta=1.0).engine == "fused"
    assert net.fit(X, y, epochs=1, batch_size=10, eta=1.0, engine="auto").engine == "fused"
    assert "fused" in engines.ENGINE_CHOICES


@pytest.mark.parametrize("options, reason", [(dict(optimizer="momentum"), "optimizer='momentum'"),
                                             (dict(l1=0.1), "l1"),
                                             (dict(sample_weight=np.ones(30)), "sample_weight")])
def test_auto_falls_back_to_batched_where_fused_cannot_run(rng, options, reason):
    X, y = rng.random((30, 5)), rng.integers(0, 3, 30)
    net = matnet.Network([5, 4, 3], seed=0)
    history = net.fit(X, y, epochs=1, batch_size=10, eta=1.0, **options)
    assert history.engine == "batched" and reason in history.engine_note
    with pytest.raises(ValueError, match=f"engine: 'fused' runs plain SGD only, without {reason}"):
        net.fit(X, y, epochs=1, batch_size=10, eta=1.0, engine="fused", **options)


def _problem(rng, dtype, sizes, n, batch_size):
    """Arguments of fused_epoch for a random problem, buffers sized for the largest batch."""
    rows = min(batch_size, n)
    X = rng.normal(size=(n, sizes[0])).astype(dtype)
    Y = rng.random((n, sizes[-1])).astype(dtype)
    weights = [rng.normal(size=(b, a)).astype(dtype) for a, b in zip(sizes[:-1], sizes[1:])]
    biases = [rng.normal(size=(b, 1)).astype(dtype) for b in sizes[1:]]
    return dict(
        X=X, Y=Y, order=rng.permutation(n), batch_size=batch_size, eta=0.7, decay=0.99,
        weights=weights, biases=biases, activations=["sigmoid"] * (len(sizes) - 1),
        output_delta="sigmoid",
        X_batch=np.empty((rows, sizes[0]), dtype), Y_batch=np.empty((rows, sizes[-1]), dtype),
        A=[np.empty((rows, b), dtype) for b in sizes[1:]],
        D=[np.empty((rows, b), dtype) for b in sizes[1:]],
    )


@needs_core
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("hidden, output, output_delta", [("sigmoid", "sigmoid", "sigmoid"),
                                                          ("sigmoid", "sigmoid", "identity"),
                                                          ("tanh", "softmax", "identity"),
                                                          ("relu", "identity", "identity"),
                                                          ("relu", "tanh", "tanh")])
@pytest.mark.parametrize("sizes, n, batch_size",
                         [([9, 7, 5, 3], 47, 10), ([4, 2], 5, 8), ([6, 5, 4], 12, 1)])
def test_compiled_fused_epoch_matches_numpy_twin(rng, dtype, hidden, output, output_delta, sizes, n, batch_size):
    if hidden == "relu" and dtype == np.float32:
        pytest.skip("a ReLU at its kink switches on a float32 rounding difference, so a chain of "
                    "steps parts discretely; the float64 case holds the two to 1e-9")
    args = _problem(rng, dtype, sizes, n, batch_size)
    args["activations"] = [hidden] * (len(sizes) - 2) + [output]
    args["output_delta"] = output_delta
    if "relu" in args["activations"] or output == "identity":
        args["eta"] = 0.05   # unbounded units: a smaller step keeps the chain from overflowing
    compiled, twin = copy.deepcopy(args), copy.deepcopy(args)
    _backend._core.fused_epoch(**compiled)
    _kernels.fused_epoch(**twin)
    tol = EPOCH_RTOL[dtype]
    for c, t, before in zip(compiled["weights"] + compiled["biases"], twin["weights"] + twin["biases"],
                            args["weights"] + args["biases"]):
        assert not np.array_equal(c, before)   # every parameter moved
        np.testing.assert_allclose(c, t, rtol=tol, atol=tol)


def test_empty_order_changes_nothing(rng):
    args = _problem(rng, np.float64, [4, 3, 2], 6, 4)
    args["order"] = np.arange(0)
    before = [p.copy() for p in args["weights"] + args["biases"]]
    _backend.kernels.fused_epoch(**args)
    for p, q in zip(args["weights"] + args["biases"], before):
        np.testing.assert_array_equal(p, q)


@pytest.mark.parametrize("name, value", [("output_delta", "softmax"), ("output_delta", "swish"),
                                         ("activations", ["sigmoid", "tanh", "relu"]),
                                         ("activations", ["softmax", "sigmoid"])])
def test_unsupported_names_raise_on_both_backends(rng, name, value):
    args = _problem(rng, np.float64, [4, 3, 2], 6, 4)
    args[name] = value
    with pytest.raises(ValueError, match=name):
        _backend.kernels.fused_epoch(**args)


def _bad_inputs():
    """(description, change to the arguments): each must make the compiled kernel raise."""
    def set_(key, make):
        return lambda args: args.__setitem__(key, make(args))

    def set_item(key, i, make):
        return lambda args: args[key].__setitem__(i, make(args[key][i]))

    return [
        ("float32 X among float64", set_("X", lambda a: a["X"].astype(np.float32))),
        ("float32 weights", set_item("weights", 1, lambda w: w.astype(np.float32))),
        ("float32 buffer", set_item("A", 0, lambda a: np.empty(a.shape, np.float32))),
        ("non-contiguous weights", set_item("weights", 0, lambda w: np.asfortranarray(w))),
        ("non-contiguous X_batch", set_("X_batch", lambda a: np.empty((a["X_batch"].shape[1], 10)).T)),
        ("non-contiguous D", set_item("D", 1, lambda d: np.empty((d.shape[0], 2 * d.shape[1]))[:, ::2])),
        ("read-only weights", set_item("weights", 0, lambda w: np.broadcast_to(w, w.shape))),
        ("int32 order", set_("order", lambda a: a["order"].astype(np.int32))),
        ("order out of range", set_("order", lambda a: a["order"] + 1)),
        ("negative order", set_("order", lambda a: a["order"] - 1)),
        ("short A buffer", set_item("A", 1, lambda a: a[:3])),
        ("short Y_batch", set_("Y_batch", lambda a: a["Y_batch"][:2])),
        ("weights of the wrong shape", set_item("weights", 1, lambda w: np.zeros((2, w.shape[1] + 1)))),
        ("biases as a row", set_item("biases", 0, lambda b: np.zeros((1, b.shape[0])))),
        ("biases as a 1-d vector", set_item("biases", 0, lambda b: np.zeros(b.shape[0]))),
        ("Y of the wrong width", set_("Y", lambda a: np.zeros((len(a["Y"]), 3)))),
        ("one layer missing", set_("D", lambda a: a["D"][:-1])),
        ("batch_size 0", set_("batch_size", lambda a: 0)),
        ("weights not arrays", set_item("weights", 0, lambda w: w.tolist())),
    ]


@needs_core
@pytest.mark.parametrize("description, change", _bad_inputs(), ids=[d for d, _ in _bad_inputs()])
def test_compiled_kernel_rejects_bad_buffers(rng, description, change):
    args = _problem(rng, np.float64, [5, 4, 2], 20, 8)
    change(args)
    with pytest.raises((ValueError, TypeError, IndexError)):
        _backend._core.fused_epoch(**args)
