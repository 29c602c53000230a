"""Side-by-side speed measurements: matnet's engines and kernel backends, the FLOP floor, and
(when installed) PyTorch and scikit-learn doing the same training.

Used by ``matnet bench`` (a quick run on a user's own sizes) and by
``benchmarks/run_benchmarks.py`` (the full grid behind BENCHMARKS.md); the measuring logic
lives here only.  Every figure is the time of one epoch over ``n_samples`` rows.

How a configuration is timed (``time_epoch``):

- a warm-up epoch over a few mini-batches first pays the one-time costs (workspace
  allocation, BLAS and OpenMP thread start-up, PyTorch's first autograd graph); its time per
  row is the estimate that sizes the timed run;
- an epoch that fits the time budget runs on all the rows, the best of up to three epochs;
- a slower one (per_sample, big networks at mini-batch 1, ...) runs once on a prefix of the
  rows, whole mini-batches, and its time is scaled to ``n_samples``: the result records the
  rows timed, and ``markdown_table`` shows them.

Fairness: every system trains the same network (sigmoid layers; the quadratic cost as the
mean over the mini-batch, as matnet and the book step by η/m times the summed gradients)
with plain SGD and the same η and mini-batch size, on the same rows, each drawing its own
shuffled order.  Threads: ``threads=n`` limits the BLAS libraries (through threadpoolctl)
and PyTorch (``torch.set_num_threads``) to n each; ``threads=None`` leaves every BLAS at its
own count and gives PyTorch as many.  ``matnet bench`` and the full suite use one thread
(``DEFAULT_THREADS``), as the floor does: the figures then compare one core's work, and
they stay meaningful on a machine that other work shares, where two threads on two busy
cores can make a small-matrix step ten times slower.  scikit-learn's MLPClassifier has no
quadratic cost: it trains log-loss on a softmax output layer, the nearest it allows, and the
table says so.  Speed claims are ratios from one run, never absolute thresholds.
"""
import contextlib
import os
import platform
import time
from dataclasses import dataclass

import numpy as np
from threadpoolctl import threadpool_info, threadpool_limits

from . import _backend, engines, optimizers
from .network import Network

SYSTEMS = ("per_sample", "batched-numpy", "batched-cython", "fused", "pytorch", "sklearn")
COMPARISONS = ("pytorch", "sklearn")   # other libraries: in a default run only when asked for
DEFAULT_BUDGET = 2.0                   # seconds a configuration's timed runs may take, about
DEFAULT_THREADS = 1                    # BLAS and PyTorch threads: one core's work, as the floor
_WARM_ROWS = 256                       # the warm-up epoch: at least this many rows, 2 mini-batches
_MAX_REPEATS = 3
_STEP_SIZES = (784, 30, 10)            # the book's network: the elementwise-kernel comparison


@dataclass(frozen=True)
class Result:
    """One system's time for one configuration.

    seconds : one epoch of ``n_samples`` rows (scaled from ``rows_timed`` when fewer ran)
    repeats : epochs timed (the best counts); 0 for the floor, which is computed
    detail : for the floor, the GEMM rate it assumes
    """

    system: str
    sizes: tuple
    batch_size: int
    dtype: str
    seconds: float
    n_samples: int
    rows_timed: int
    repeats: int
    detail: str = ""


# --- what can run here -----------------------------------------------------------------------------

def unavailable(system):
    """Why ``system`` cannot run here ("" if it can)."""
    if system not in SYSTEMS:
        return f"unknown system; expected one of {', '.join(SYSTEMS)}"
    if system in ("batched-cython", "fused") and "cython" not in _backend.available():
        return ("needs the compiled extension matnet._core, which is not built here "
                "(without it, fused would only run its NumPy twin, the batched engine)")
    module, install = {"pytorch": ("torch", "torch"), "sklearn": ("sklearn", "scikit-learn")}.get(system, (None, None))
    if module:
        try:
            __import__(module)
        except ImportError:
            return f"needs {install}, which is not installed (pip install {install})"
    return ""


def default_systems(compare=False):
    """matnet's engines that can run here, and with ``compare`` the other libraries installed."""
    return [s for s in SYSTEMS if (compare or s not in COMPARISONS) and not unavailable(s)]


# --- data ------------------------------------------------------------------------------------------

def mnist_like(n_samples, n_features=784, n_classes=10, seed=0):
    """Random data shaped like MNIST: float32 pixels in [0, 1], int64 labels (n_samples,).

    Timing does not depend on the values, except that real pixels are mostly zeros, which
    no engine here exploits.
    """
    rng = np.random.default_rng(seed)
    return rng.random((n_samples, n_features), dtype=np.float32), rng.integers(0, n_classes, n_samples)


def _one_hot(y, n_classes, dtype):
    Y = np.zeros((len(y), n_classes), dtype)
    Y[np.arange(len(y)), y] = 1
    return Y


# --- the systems: each returns epoch(rows) -> seconds of one epoch over the first ``rows`` rows ----

def _matnet_trainer(system, sizes, batch_size, dtype, X, y, eta):
    engine, _, backend = system.partition("-")
    # fused always means the compiled epoch (its NumPy twin *is* the batched engine);
    # per_sample runs on whichever kernels are active, as a user's would.
    backend = backend or ("cython" if engine == "fused" else _backend.name)
    net = Network(sizes, dtype=dtype, seed=0)

    def epoch(rows):
        previous = _backend.name
        _backend.select(backend)
        try:
            history = net.fit(X[:rows], y[:rows], 1, batch_size, eta, engine=engine, seed=rows)
        finally:
            _backend.select(previous)
        return history.epoch_seconds[0]   # the epoch alone: fit's input checks stay out

    return epoch


def blas_threads():
    """The thread count of the BLAS that matnet's GEMMs use (SciPy's, for the compiled
    kernels; NumPy's has the same), as threadpoolctl reports it now."""
    import scipy.linalg  # noqa: F401  (loads SciPy's BLAS, so that threadpoolctl sees it)
    counts = [i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"]
    return max(counts) if counts else os.cpu_count() or 1


def threads_limited(threads):
    """A context limiting the BLAS and OpenMP libraries to ``threads`` threads each
    (threadpoolctl); None leaves them as they are.  PyTorch, set up inside it, follows."""
    return contextlib.nullcontext() if threads is None else threadpool_limits(threads)


def _pytorch_trainer(sizes, batch_size, dtype, X, y, eta):
    import torch

    torch.set_num_threads(blas_threads())   # under threads_limited, the limited count
    torch.manual_seed(0)
    layers = []
    for n_in, n_out in zip(sizes[:-1], sizes[1:]):
        layers += [torch.nn.Linear(n_in, n_out), torch.nn.Sigmoid()]
    model = torch.nn.Sequential(*layers).to(getattr(torch, dtype))
    optimizer = torch.optim.SGD(model.parameters(), lr=eta)
    Xt = torch.from_numpy(X)                                  # shares X's memory
    Yt = torch.from_numpy(_one_hot(y, sizes[-1], X.dtype))

    def epoch(rows):
        started = time.perf_counter()
        order = torch.randperm(rows)
        for start in range(0, rows, batch_size):
            rows_of_batch = order[start:start + batch_size]
            optimizer.zero_grad()
            # The quadratic cost as the mean over the mini-batch: the step is η/m times the
            # summed gradients, exactly matnet's.
            loss = 0.5 * ((model(Xt[rows_of_batch]) - Yt[rows_of_batch]) ** 2).sum() / len(rows_of_batch)
            loss.backward()
            optimizer.step()
        return time.perf_counter() - started

    return epoch


def _sklearn_trainer(sizes, batch_size, dtype, X, y, eta):
    from sklearn.neural_network import MLPClassifier

    model = MLPClassifier(hidden_layer_sizes=tuple(sizes[1:-1]), activation="logistic", solver="sgd",
                          batch_size=batch_size, learning_rate="constant", learning_rate_init=eta,
                          momentum=0.0, alpha=0.0, shuffle=True, random_state=0)
    classes = np.arange(sizes[-1])

    def epoch(rows):
        # One partial_fit call is one epoch, input validation included (fit would do it too).
        started = time.perf_counter()
        model.partial_fit(X[:rows], y[:rows], classes=classes)
        return time.perf_counter() - started

    return epoch


def _trainer(system, sizes, batch_size, dtype, X, y, eta):
    if system == "pytorch":
        return _pytorch_trainer(sizes, batch_size, dtype, X, y, eta)
    if system == "sklearn":
        return _sklearn_trainer(sizes, batch_size, dtype, X, y, eta)
    return _matnet_trainer(system, sizes, batch_size, dtype, X, y, eta)


def time_epoch(system, sizes, batch_size, X, y, eta=3.0, budget=DEFAULT_BUDGET, threads=None):
    """Seconds for one epoch of ``system`` over the rows of X (see the module docstring).

    X : ndarray (n_samples, sizes[0]), float32 or float64 (the dtype trained), C-contiguous
    y : int ndarray (n_samples,), labels below sizes[-1]
    budget : seconds the timed epochs may take, about; slower epochs run on fewer rows.
    threads : None, or the thread count to limit the BLAS and PyTorch to (``threads_limited``)
    """
    reason = unavailable(system)
    if reason:
        raise ValueError(f"{system}: {reason}")
    with threads_limited(threads):
        return _time_epoch(system, sizes, batch_size, X, y, eta, budget)


def _time_epoch(system, sizes, batch_size, X, y, eta, budget):
    n = len(X)
    epoch = _trainer(system, list(sizes), batch_size, X.dtype.name, X, y, eta)
    warm = min(n, batch_size * max(2, -(-_WARM_ROWS // batch_size)))
    per_row = epoch(warm) / warm   # includes the one-time costs: errs towards fewer rows
    if per_row * n <= budget:
        rows, repeats = n, int(min(_MAX_REPEATS, max(1, budget // (per_row * n))))
    else:
        rows, repeats = min(n, max(warm, batch_size * int(np.ceil(budget / per_row / batch_size)))), 1
    seconds = min(epoch(rows) for _ in range(repeats))
    return Result(system, tuple(sizes), batch_size, X.dtype.name, seconds * n / rows, n, rows, repeats)


# --- the floor -------------------------------------------------------------------------------------

def epoch_flops(sizes, n_samples):
    """Floating-point operations of one epoch's GEMMs: forward, ∇W and (but for the first
    layer, whose input needs no delta) Δ of every layer, 2 per multiply-add.  The bias and
    elementwise work is left out: it is what the floor does not count."""
    per_row = sum(2 * n_in * n_out for n_in, n_out in zip(sizes[:-1], sizes[1:]))
    return n_samples * (3 * per_row - 2 * sizes[0] * sizes[1])


def gemm_rate(dtype, threads=1, n=1024, repeats=5):
    """FLOP/s of a large square GEMM, best of ``repeats``, through SciPy's BLAS: the library
    the compiled kernels call.  On one core by default, because the small GEMMs of a
    mini-batch step run on one; ``threads=None``: the BLAS's own thread count."""
    from scipy.linalg import blas

    gemm = blas.get_blas_funcs("gemm", dtype=np.dtype(dtype))
    rng = np.random.default_rng(0)
    a, b = (np.asfortranarray(rng.random((n, n)), dtype=dtype) for _ in range(2))
    out = np.zeros((n, n), dtype, order="F")
    best = np.inf
    with threads_limited(threads):
        for _ in range(repeats + 1):   # the first is a warm-up
            started = time.perf_counter()
            gemm(1.0, a, b, beta=0.0, c=out, overwrite_c=True)
            best = min(best, time.perf_counter() - started)
    return 2 * n ** 3 / best


def floor(sizes, n_samples, dtype, rate):
    """The FLOP floor of an epoch: its GEMM FLOPs at ``rate`` (``gemm_rate``)."""
    return Result("floor", tuple(sizes), 0, np.dtype(dtype).name, epoch_flops(sizes, n_samples) / rate,
                  n_samples, n_samples, 0, f"{rate / 1e9:.0f} GFLOP/s")


# --- a whole run -----------------------------------------------------------------------------------

def run(systems, sizes_list, batch_sizes, dtypes, X=None, y=None, n_samples=10_000, eta=3.0,
        budget=DEFAULT_BUDGET, threads=None, with_floor=True, progress=None):
    """Time every system on every (sizes, dtype, batch size), plus each floor.

    X, y : float32/float64 data (n, sizes[0]) and labels; None: ``mnist_like`` rows shaped
        for each network.  The first ``n_samples`` rows are used.
    threads : None (each library's default) or a thread count for the BLAS and PyTorch.
    with_floor : also compute each network's floor.
    progress : optional callable ``progress(done, total)``, called after each measurement.
    Returns a list of ``Result``.
    """
    for system in systems:
        reason = unavailable(system)
        if reason:
            raise ValueError(f"{system}: {reason}")
    if X is not None and len(X) < n_samples:
        raise ValueError(f"n_samples: the data has {len(X):,} rows, fewer than the {n_samples:,} asked for")
    total = len(sizes_list) * len(dtypes) * (len(batch_sizes) * len(systems) + with_floor)
    results, rates = [], {}
    for sizes in sizes_list:
        if X is not None and (X.shape[1] != sizes[0] or y.max() >= sizes[-1]):
            raise ValueError(f"sizes: {list(sizes)} does not fit the data ({X.shape[1]} features, "
                             f"labels up to {y.max()})")
        X_raw, y_run = (X[:n_samples], y[:n_samples]) if X is not None else mnist_like(n_samples, sizes[0], sizes[-1])
        for dtype in dtypes:
            X_run = np.ascontiguousarray(X_raw, dtype=dtype)
            if with_floor:
                if dtype not in rates:
                    rates[dtype] = gemm_rate(dtype)
                results.append(floor(sizes, n_samples, dtype, rates[dtype]))
                _report(progress, len(results), total)
            for batch_size in batch_sizes:
                for system in systems:
                    results.append(time_epoch(system, sizes, batch_size, X_run, y_run, eta, budget, threads))
                    _report(progress, len(results), total)
    return results


def _report(progress, done, total):
    if progress is not None:
        progress(done, total)


# --- the report ------------------------------------------------------------------------------------

def environment(threads=None):
    """The machine, the library versions and the threads they run, one line each."""
    import scipy

    cpu = platform.machine()
    with contextlib.suppress(OSError):
        with open("/proc/cpuinfo") as f:
            cpu = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), cpu)
    from . import __version__
    lines = [f"machine: {cpu}, {os.cpu_count()} CPUs, {platform.system()} {platform.release()}",
             f"Python {platform.python_version()}, NumPy {np.__version__}, SciPy {scipy.__version__}",
             f"matnet {__version__}, kernels available: {', '.join(_backend.available())}"]
    import scipy.linalg  # noqa: F401  (so that threadpoolctl sees SciPy's BLAS too)
    libs = [f"{i['internal_api']} {i['version']} ({os.path.basename(i['filepath'])}, {i['num_threads']} threads)"
            for i in threadpool_info() if i["user_api"] == "blas"]
    lines.append("BLAS: " + "; ".join(libs) + (f"; limited to {threads} thread{'s' * (threads > 1)} for the "
                                               "measurements" if threads else ""))
    with contextlib.suppress(ImportError):
        import torch
        lines.append(f"PyTorch {torch.__version__}, {threads or blas_threads()} intra-op thread"
                     f"{'s' * ((threads or blas_threads()) > 1)} (set to match the BLAS)")
    with contextlib.suppress(ImportError):
        import sklearn
        lines.append(f"scikit-learn {sklearn.__version__}")
    return lines


def _seconds(s):
    return f"{s:.3f} s" if s < 10 else f"{s:.1f} s"


def markdown_table(results, baseline="per_sample", threads=None):
    """A markdown table of seconds per epoch and the notes that explain it.

    One row per (network, mini-batch size, dtype), one column per system, each cell with its
    speedup over ``baseline`` in the same row; then the floor, fused's distance from it, and
    the rows timed where fewer than all were.
    """
    timed = [r for r in results if r.system != "floor"]
    systems = [s for s in SYSTEMS if any(r.system == s for r in timed)]
    floors = {(r.sizes, r.dtype): r for r in results if r.system == "floor"}
    by_key = {(r.sizes, r.batch_size, r.dtype, r.system): r for r in timed}
    keys = sorted({(r.sizes, r.dtype, r.batch_size) for r in timed},
                  key=lambda k: (len(k[0]), k[0], k[1] != "float64", k[2]))
    with_floor, with_ratio = bool(floors), bool(floors) and "fused" in systems
    head = ["network", "batch", "dtype", *systems, *["floor"][:with_floor], *["fused ÷ floor"][:with_ratio],
            "rows timed"]
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join("---" if i < 3 else "--:" for i in range(len(head))) + "|"]
    for sizes, dtype, batch in keys:
        base = by_key.get((sizes, batch, dtype, baseline))
        cells, partial = [], []
        for system in systems:
            r = by_key.get((sizes, batch, dtype, system))
            if r is None:
                cells.append("–")
                continue
            cell = _seconds(r.seconds)
            if base is not None and system != baseline:
                cell += f" ({base.seconds / r.seconds:.1f}×)"
            cells.append(cell)
            if r.rows_timed < r.n_samples:
                partial.append(f"{system} {r.rows_timed:,}")
        fl, fused = floors.get((sizes, dtype)), by_key.get((sizes, batch, dtype, "fused"))
        if with_floor:
            cells.append(_seconds(fl.seconds) if fl else "–")
        if with_ratio:
            cells.append(f"{fused.seconds / fl.seconds:.2f}" if fl and fused else "–")
        ran = [r for r in timed if (r.sizes, r.dtype, r.batch_size) == (sizes, dtype, batch)]
        all_rows = f"{ran[0].n_samples:,}"
        cells.append("; ".join(partial + ([f"others {all_rows}"] if len(partial) < len(ran) else []))
                     if partial else all_rows)
        lines.append(f"| {list(sizes)} | {batch} | {dtype} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n\n" + "\n".join(f"- {note}" for note in _notes(results, systems, baseline, threads))


def _notes(results, systems, baseline, threads):
    n = max(r.n_samples for r in results)
    notes = [f"Seconds per epoch of {n:,} rows, wall clock; (×) is the speedup over {baseline} in the same row. "
             "An epoch that fits the time budget is the best of up to 3; a slower one ran once on the first "
             "\"rows timed\" rows (whole mini-batches) and is scaled to all of them."]
    described = {
        "per_sample": f"per_sample: the book's algorithm, a Python loop over the samples of each mini-batch "
                      f"(on the {_backend.name} kernels).",
        "batched-numpy": "batched-numpy / batched-cython: the matrix form, one GEMM per layer per pass, "
                         "its elementwise work on the NumPy twins / the compiled kernels.",
        "fused": "fused: a whole epoch in one compiled call (gather, forward, backward, update), BLAS called "
                 "directly without the GIL.",
        "pytorch": f"pytorch: the same network (Linear + Sigmoid layers), the quadratic cost as the mean over "
                   f"the mini-batch, torch.optim.SGD, same eta; on the CPU, with as many intra-op threads as "
                   f"the BLAS ({threads or blas_threads()}).",
        "sklearn": "sklearn: MLPClassifier(activation='logistic', solver='sgd', momentum=0, alpha=0), same hidden "
                   "layers, mini-batch and eta; its cost is fixed, **log-loss on a softmax output layer** (it "
                   "offers no quadratic cost), so its output layer differs; one partial_fit call per epoch, "
                   "its input validation included.",
    }
    notes += [text for system, text in described.items()
              if system in systems or (system == "batched-numpy" and "batched-cython" in systems)]
    rates = sorted({(r.dtype, r.detail) for r in results if r.system == "floor"})
    if rates:
        notes.append("floor: the epoch's GEMM FLOPs at the rate of a large GEMM on one core, measured in this run "
                     f"({', '.join(f'{d} {rate}' for d, rate in rates)}); fused ÷ floor is how far fused is from it.")
    return notes


# --- where the time of a step goes -----------------------------------------------------------------

def _best_loop(calls, repeats, tries=3):
    """Best-of-``tries`` seconds of ``repeats`` passes over ``calls``, a list of (function, args)."""
    best = np.inf
    for _ in range(tries):
        started = time.perf_counter()
        for _ in range(repeats):
            for function, args in calls:
                function(*args)
        best = min(best, time.perf_counter() - started)
    return best


def step_kernel_seconds(kernels, dtype="float64", sizes=_STEP_SIZES, batch_size=10, eta=3.0, repeats=10_000):
    """Seconds per training step of the elementwise kernels of one batched step, by kernel.

    The calls are those of ``engines.Batched`` and plain SGD: inplace_add_bias_activate per
    layer, output_delta, inplace_mul_activation_prime per hidden layer, sum_rows per layer,
    sgd_update per weight and bias array; on the buffers of a real step of ``sizes`` at
    ``batch_size``, each call's Python overhead included (the batched engine pays it too).
    ``kernels`` is a kernel module: ``_backend._core`` or ``_backend._kernels``.
    """
    net = Network(sizes, dtype=dtype, seed=0)
    X, y = mnist_like(batch_size, sizes[0], sizes[-1])
    runner = engines.Batched.for_network(net)
    runner.kernels = kernels
    ws = runner.workspace(batch_size)
    ws.X[...], ws.Y[...] = X, _one_hot(y, sizes[-1], dtype)
    runner.backprop_matrix(ws, ws.X, ws.Y)   # realistic values in every buffer
    acts, layers = runner.activations, range(len(net.weights))
    hidden_deltas = [(ws.D[l - 1], ws.D[l - 1].copy()) for l in layers if l]
    families = {
        "inplace_add_bias_activate": [(kernels.inplace_add_bias_activate, (ws.A[l], runner.biases_flat[l], acts[l]))
                                      for l in layers],
        "output_delta": [(kernels.output_delta, (ws.A[-1], ws.Y, ws.D[-1], runner.output_delta))],
        "inplace_mul_activation_prime": [(kernels.inplace_mul_activation_prime, (ws.D[l - 1], ws.A[l - 1], acts[l - 1]))
                                         for l in layers if l],
        "sum_rows": [(kernels.sum_rows, (ws.D[l], ws.nabla_b_flat[l])) for l in layers],
        "sgd_update": [(kernels.sgd_update, (p, g, eta / batch_size, 1.0))
                       for l in layers for p, g in ((net.weights[l], ws.nabla_w[l]), (net.biases[l], ws.nabla_b[l]))],
    }
    seconds = {}
    for name, calls in families.items():
        if name == "inplace_mul_activation_prime":
            # Applied again and again, D ⊙ a(1 - a) would sink into subnormal numbers, which are
            # slow: restore D before each call, and take the restoring away again.
            restore = [(np.copyto, pair) for pair in hidden_deltas]
            calls = [c for pair in zip(restore, calls) for c in pair]
            seconds[name] = max(0.0, _best_loop(calls, repeats) - _best_loop(restore, repeats)) / repeats
        else:
            seconds[name] = _best_loop(calls, repeats) / repeats
    return seconds


def compare_step_kernels(dtype="float64", rounds=3, **options):
    """``step_kernel_seconds`` of the compiled kernels and of their NumPy twins, taking turns
    for ``rounds`` rounds, each kernel's best kept: {"cython": {...}, "numpy": {...}}."""
    if unavailable("batched-cython"):
        raise ValueError(f"compiled kernels: {unavailable('batched-cython')}")
    best = {"cython": {}, "numpy": {}}
    for _ in range(rounds):
        for backend, kernels in (("cython", _backend._core), ("numpy", _backend._kernels)):
            for name, seconds in step_kernel_seconds(kernels, dtype, **options).items():
                best[backend][name] = min(best[backend].get(name, np.inf), seconds)
    return best


def _stacked_gemm_seconds(a, b, repeats):
    """Seconds per a @ b, from one NumPy call that runs it ``repeats`` times: the operands and
    the output are broadcast along a stride-0 axis, so NumPy's C loop calls the BLAS GEMM
    ``repeats`` times on the same, cache-resident, matrices, with no Python in between."""
    out = np.empty((a.shape[0], b.shape[1]), a.dtype)
    A, B = (np.broadcast_to(m, (repeats,) + m.shape) for m in (a, b))
    O = np.lib.stride_tricks.as_strided(out, (repeats,) + out.shape, (0,) + out.strides)
    np.matmul(A, B, out=O)
    return min(_timed(lambda: np.matmul(A, B, out=O)) for _ in range(3)) / repeats


def _timed(work):
    started = time.perf_counter()
    work()
    return time.perf_counter() - started


def fused_breakdown(sizes, batch_size, X, y, eta=3.0, cached_rows=256, rounds=5):
    """Where the fused epoch's time goes, in seconds per epoch over the rows of X.

    Measured by taking parts away, each an epoch of the same number of steps:

    - ``epoch``: the fused epoch as trained, rows gathered in shuffled order from all of X;
    - ``in_cache``: the same, but the rows drawn from the first ``cached_rows`` rows only,
      which stay in cache: the difference is the cost of fetching the shuffled rows from
      memory;
    - ``identity``: in cache, with identity activations: the difference is the sigmoid
      and its derivative;
    - ``gemm``: the step's GEMMs alone, at its shapes, timed back to back in compiled code
      (NumPy's matmul loop; NumPy's BLAS, the same OpenBLAS as SciPy's where both ship one).

    What is left, identity minus gemm, is the rest of a step: copying the rows within cache,
    the biases, the output delta and the loop.  The three epochs take turns for ``rounds``
    rounds and each keeps its best, so a burst of other work on the machine hits them alike.
    Needs the compiled extension.
    """
    if unavailable("fused"):
        raise ValueError(f"fused: {unavailable('fused')}")
    dtype = X.dtype.name
    n, rng = len(X), np.random.default_rng(0)
    Y = _one_hot(y, sizes[-1], dtype)
    near = rng.integers(0, min(cached_rows, n), n)
    X_near, Y_near = X[:cached_rows].copy(), Y[:cached_rows].copy()
    variants = {   # name: (X, Y, order, activation, eta)
        "epoch": (X, Y, rng.permutation(n), "sigmoid", eta),
        "in_cache": (X_near, Y_near, near, "sigmoid", eta),
        # identity layers with a small eta: values stay moderate, nothing overflows
        "identity": (X_near, Y_near, near, "identity", 1e-6),
    }
    previous = _backend.name
    _backend.select("cython")
    try:
        epochs = {}
        for name, (Xv, Yv, order, activation, rate) in variants.items():
            net = Network(sizes, activation=activation, output_activation=activation, dtype=dtype, seed=0)
            runner = engines.Fused.for_network(net, optimizers.SGD(_backend.kernels, net.weights, net.biases, rate))
            runner.epoch(Xv, Yv, order[:_WARM_ROWS], batch_size)
            epochs[name] = (lambda runner=runner, Xv=Xv, Yv=Yv, order=order:
                            runner.epoch(Xv, Yv, order, batch_size))
        parts = dict.fromkeys(variants, np.inf)
        for _ in range(rounds):
            for name, epoch in epochs.items():
                parts[name] = min(parts[name], _timed(epoch))
    finally:
        _backend.select(previous)
    shapes = []   # (rows, inner, cols) of every GEMM of one step, as engines.Batched runs them
    for l, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        shapes += [(batch_size, n_in, n_out), (n_out, batch_size, n_in)] + ([(batch_size, n_out, n_in)] if l else [])
    per_step = sum(_stacked_gemm_seconds(rng.random((r, k)).astype(dtype), rng.random((k, c)).astype(dtype),
                                         max(100, 20_000_000 // (r * k * c)))
                   for r, k, c in shapes)
    parts["gemm"] = per_step * n / batch_size
    parts["steps"] = -(-n // batch_size)
    return parts
