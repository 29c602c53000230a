"""Dask: out-of-core training through partial_fit over the blocks of a dask array, and
block-by-block prediction, on a dask.distributed LocalCluster of worker processes; the
results equal the in-memory path (the same partial_fit calls on the NumPy blocks)."""
import sys

import numpy as np
import pytest

import matnet
import matnet.dask
from matnet import _backend

da = pytest.importorskip("dask.array")
distributed = pytest.importorskip("distributed")
pytest.importorskip("sklearn")

from matnet.sklearn import MatNetClassifier, MatNetRegressor  # noqa: E402

N_BLOCKS = 5
ROWS_PER_BLOCK = 60
TIMEOUT = 120   # seconds: any one cluster operation


@pytest.fixture(scope="module")
def client():
    """Two single-threaded worker processes on this machine, closed after the module."""
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                       dashboard_address=None, timeout=TIMEOUT)
    with cluster, distributed.Client(cluster, timeout=TIMEOUT) as client:
        yield client


@pytest.fixture
def workers_backend(client, backend):
    """The workers import matnet afresh; give them the backend this test runs on."""
    client.run(_backend.select, backend)
    return backend


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    n = N_BLOCKS * ROWS_PER_BLOCK
    centers = rng.standard_normal((3, 4)) * 3
    y = rng.integers(0, 3, n)
    X = centers[y] + rng.standard_normal((n, 4))
    return X, y


def _in_memory(model, X, y, **kwargs):
    """The reference: the same partial_fit calls, block after block, on NumPy arrays."""
    for rows in np.split(np.arange(len(X)), N_BLOCKS):
        model.partial_fit(X[rows], y[rows], **kwargs)
    return model


def _dask_arrays(X, y):
    # Columns split in two as well: matnet.dask gathers each block's columns into one chunk.
    return da.from_array(X, chunks=(ROWS_PER_BLOCK, 2)), da.from_array(y, chunks=ROWS_PER_BLOCK)


def test_classifier_trains_over_blocks_on_the_cluster(client, workers_backend, data):
    X, y = data
    dX, dy = _dask_arrays(X, y)
    assert dX.numblocks[0] == N_BLOCKS >= 4
    model = MatNetClassifier(hidden_layer_sizes=(8,), batch_size=10, random_state=0)
    with distributed.get_task_stream(client) as stream:
        fitted = matnet.dask.partial_fit(model, dX, dy, classes=[0, 1, 2])
    steps = [task for task in stream.data if "_partial_fit" in str(task["key"])]
    assert len(steps) == N_BLOCKS and {task["worker"] for task in steps} <= set(client.scheduler_info()["workers"])
    assert not hasattr(model, "network_"), "the model passed in is left untouched"
    assert fitted.n_iter_ == N_BLOCKS

    expected = _in_memory(MatNetClassifier(hidden_layer_sizes=(8,), batch_size=10, random_state=0),
                          X, y, classes=[0, 1, 2])
    for got, want in zip(fitted.network_.weights + fitted.network_.biases,
                         expected.network_.weights + expected.network_.biases):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-14)

    labels = matnet.dask.predict(fitted, dX)
    assert isinstance(labels, da.Array) and labels.chunks == (dX.chunks[0],)
    np.testing.assert_array_equal(client.compute(labels).result(timeout=TIMEOUT), expected.predict(X))
    proba = matnet.dask.predict(fitted, dX, method="predict_proba")
    np.testing.assert_allclose(client.compute(proba).result(timeout=TIMEOUT), expected.predict_proba(X),
                               rtol=1e-12, atol=1e-14)
    assert fitted.score(X, y) > 0.9


def test_network_and_regressor_over_blocks(client, workers_backend, data):
    X, y = data
    Y = np.column_stack([X.sum(axis=1), X[:, 0] - X[:, 1]]) / 5
    dX, dY = da.from_array(X, chunks=(ROWS_PER_BLOCK, 4)), da.from_array(Y, chunks=(ROWS_PER_BLOCK, 2))

    net = matnet.dask.partial_fit(matnet.Network([4, 6, 3], cost="cross_entropy", seed=1), dX,
                                  da.from_array(y, chunks=ROWS_PER_BLOCK), eta=0.5, batch_size=10)
    reference = _in_memory(matnet.Network([4, 6, 3], cost="cross_entropy", seed=1), X, y, eta=0.5, batch_size=10)
    np.testing.assert_allclose(client.compute(matnet.dask.predict(net, dX, method="forward")).result(timeout=TIMEOUT),
                               reference.forward(X), rtol=1e-12, atol=1e-14)

    reg = matnet.dask.partial_fit(MatNetRegressor(random_state=2), dX, dY)
    expected = _in_memory(MatNetRegressor(random_state=2), X, Y)
    predicted = client.compute(matnet.dask.predict(reg, dX)).result(timeout=TIMEOUT)
    assert predicted.shape == (len(X), 2)
    np.testing.assert_allclose(predicted, expected.predict(X), rtol=1e-12, atol=1e-14)


def test_dask_ml_incremental_drives_the_estimator(client, workers_backend, data):
    """dask-ml's Incremental wrapper, where it is installed, trains the same model."""
    dask_ml_wrappers = pytest.importorskip("dask_ml.wrappers")
    X, y = data
    # Whole rows per block: Incremental hands partial_fit only the first column chunk.
    dX, dy = da.from_array(X, chunks=(ROWS_PER_BLOCK, 4)), da.from_array(y, chunks=ROWS_PER_BLOCK)
    incremental = dask_ml_wrappers.Incremental(MatNetClassifier(hidden_layer_sizes=(8,), random_state=0),
                                               shuffle_blocks=False)
    incremental.fit(dX, dy, classes=[0, 1, 2])
    expected = _in_memory(MatNetClassifier(hidden_layer_sizes=(8,), random_state=0), X, y, classes=[0, 1, 2])
    np.testing.assert_allclose(incremental.estimator_.predict_proba(X), expected.predict_proba(X),
                               rtol=1e-12, atol=1e-14)
    np.testing.assert_array_equal(incremental.predict(dX).compute(), expected.predict(X))


def test_block_shapes_and_bad_input(data):
    X, y = data
    with pytest.raises(TypeError, match="X: expected a dask array"):
        matnet.dask.predict(matnet.Network([4, 3]), X)
    dX = da.from_array(X, chunks=ROWS_PER_BLOCK)
    with pytest.raises(ValueError, match="y: expected the row chunks of X"):
        matnet.dask.partial_fit(matnet.Network([4, 3]), dX, da.from_array(y, chunks=50), eta=0.1)


def test_missing_dask_names_the_extra(monkeypatch, data):
    for name in ("dask", "dask.array"):
        monkeypatch.setitem(sys.modules, name, None)   # makes "import dask" fail
    with pytest.raises(ImportError, match=r"matnet\.dask needs the optional dependency dask: "
                                          r"pip install 'matnet\[dask\]'"):
        matnet.dask.predict(matnet.Network([4, 3]), data[0])


@pytest.mark.parametrize("optimizer", ["momentum", "adam"])
def test_optimizer_state_travels_with_the_model(client, workers_backend, data, optimizer):
    """Momentum and Adam keep state between partial_fit calls; it must survive the hop from
    one block's task to the next (a pickle when the tasks run in different processes)."""
    X, y = data
    dX, dy = _dask_arrays(X, y)
    options = {"hidden_layer_sizes": (8,), "optimizer": optimizer, "eta": 0.01, "random_state": 0}
    fitted = matnet.dask.partial_fit(MatNetClassifier(**options), dX, dy, classes=[0, 1, 2])
    expected = _in_memory(MatNetClassifier(**options), X, y, classes=[0, 1, 2])
    np.testing.assert_allclose(fitted.predict_proba(X), expected.predict_proba(X), rtol=1e-12, atol=1e-14)
