"""Memory: a steady-state training step allocates nothing that stays (DESIGN.md §7), and a
memory-mapped data set trains and predicts without being copied whole.

Measured with tracemalloc, which sees every Python object and every NumPy array buffer (NumPy
reports its data allocations to it) but not the pages of a memory-mapped file, which are the
operating system's.
"""
import gc
import tracemalloc

import numpy as np
import pytest

import matnet
from matnet import _backend, engines, optimizers

# What may come and go between two measurements without any step leaking: CPython's caches
# and free lists settle (a float or small int object kept by the last iteration, a dict
# resized once), a few hundred bytes in practice.  One leaked object per step would be
# 1,000 objects, at least 32 kB, over the 1,000 steps measured.
SLACK_BYTES = 2048


SIZES = [64, 16, 10]
BATCH = 100          # a mini-batch buffer: 100 x 64 float64 = 51 kB


def _problem(n=1000, sizes=SIZES, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.random((n, sizes[0]))
    y = rng.integers(0, sizes[-1], n)
    return X, y, np.eye(sizes[-1])[y]


def _current():
    gc.collect()
    return tracemalloc.get_traced_memory()[0]


@pytest.fixture
def traced():
    tracemalloc.start()
    yield
    tracemalloc.stop()


@pytest.mark.parametrize("engine", ["batched", "fused"])
def test_training_steps_allocate_nothing_that_stays(traced, backend, engine):
    """1,000 steps of mini-batch SGD after a warm-up: the traced memory does not grow.  With
    compiled kernels no step allocates anything large either: the peak stays below a third of
    one mini-batch buffer (the few Python objects a batched step makes: views, slices); the
    NumPy twins may make temporaries (a weight-sized one in sgd_update), which they free."""
    X, _, Y = _problem()
    net = matnet.Network(SIZES, seed=0)
    sgd = optimizers.make("sgd", _backend.kernels, net.weights, net.biases, 0.1, lmbda=1.0, n=len(X))
    runner, _ = engines.make(engine, net, sgd)
    order = np.random.default_rng(1).permutation(len(X))
    for _ in range(2):                       # warm-up: buffers made, caches filled
        runner.epoch(X, Y, order, BATCH)
    start = _current()
    tracemalloc.reset_peak()
    for _ in range(1000 * BATCH // len(X)):
        runner.epoch(X, Y, order, BATCH)
    growth = _current() - start
    peak_excess = tracemalloc.get_traced_memory()[1] - start
    assert growth <= SLACK_BYTES, f"{growth} bytes more after 1,000 steps"
    if backend == "cython":
        assert peak_excess < BATCH * SIZES[0] * 8 / 3, f"a step allocated up to {peak_excess} bytes"
    assert np.isfinite(net.weights[0]).all()


@pytest.mark.parametrize("engine", ["batched", "fused"])
def test_fit_memory_is_flat_across_epochs(traced, backend, engine):
    """The same through fit: 110 epochs of 10 steps, the traced memory taken after epochs 10
    and 110.  fit's History keeps two numbers per epoch (eta and the epoch's time), under 100
    bytes; a leak of one small object per step would be 320 bytes or more per epoch."""
    X, y, _ = _problem()
    net = matnet.Network(SIZES, seed=0)
    samples = {}

    def sample(epoch, history, net):
        if epoch in (9, 109):
            samples[epoch] = _current()
    net.fit(X, y, 110, BATCH, 0.1, engine=engine, seed=0, callbacks=[sample])
    per_epoch = (samples[109] - samples[9]) / 100
    assert per_epoch < 100, f"{per_epoch:.0f} bytes more per epoch"


@pytest.fixture(scope="module")
def mapped_file(tmp_path_factory):
    """A 20,000 x 784 float64 data set (125 MB) in a .npy file, written a block at a time."""
    path = tmp_path_factory.mktemp("mmap") / "X.npy"
    X = np.lib.format.open_memmap(path, mode="w+", dtype=np.float64, shape=(20_000, 784))
    rng = np.random.default_rng(0)
    for start in range(0, len(X), 2000):
        X[start:start + 2000] = rng.random((2000, 784))
    X.flush()
    del X
    return path


@pytest.mark.parametrize("engine", ["fused", "batched"])
def test_memory_mapped_data_trains_and_predicts_without_a_whole_copy(mapped_file, traced, backend, engine):
    X = np.load(mapped_file, mmap_mode="r")          # read-only, float64, C-contiguous
    y = np.arange(len(X)) % 10
    size = X.nbytes
    net = matnet.Network([784, 30, 10], seed=0)       # float64: the data's own dtype, no conversion needed
    start = _current()
    tracemalloc.reset_peak()
    history = net.fit(X, y, 1, 100, 0.1, engine=engine)
    fit_peak = tracemalloc.get_traced_memory()[1] - start
    assert history.engine == engine
    tracemalloc.reset_peak()
    labels = net.predict(X)
    predict_peak = tracemalloc.get_traced_memory()[1] - start
    assert labels.shape == (len(X),)
    # A copy would be 125 MB.  What is allowed: the one-hot targets (20,000 x 10 float64,
    # 1.6 MB), the finiteness check's block of booleans (8,192 x 784, 6.4 MB), forward's
    # block of activations and the outputs (under 4 MB).
    assert fit_peak < size / 10, f"fit traced {fit_peak / 1e6:.1f} MB for a {size / 1e6:.0f} MB data set"
    assert predict_peak < size / 10, f"predict traced {predict_peak / 1e6:.1f} MB for a {size / 1e6:.0f} MB data set"
