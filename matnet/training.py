"""The training loop behind ``fit``, ``partial_fit`` and ``SGD``: epochs, shuffling, schedules,
early stopping, monitoring, callbacks, and keeping the last good weights when things go wrong.

The engines run one epoch at a time; everything that happens *between* epochs is here.
"""
import contextlib
import time
from dataclasses import dataclass, field

import numpy as np
from threadpoolctl import threadpool_limits

from . import _backend, engines, optimizers
from ._validation import check_choice, check_number, check_seed

SCHEDULES = ("constant", "halving", "invscaling", "adaptive")
METRICS = ("training_cost", "training_accuracy", "evaluation_cost", "evaluation_accuracy")
ON_DIVERGENCE = ("raise", "stop")
# The book's schedule halves eta on each stall and stops at eta0/128; scikit-learn's
# "adaptive" divides by 5 after two stalled epochs and stops below 1e-6.
_HALVING_FLOOR = 1 / 128
_ADAPTIVE_FACTOR, _ADAPTIVE_PATIENCE, _ADAPTIVE_FLOOR = 5.0, 2, 1e-6


class DivergenceError(FloatingPointError):
    """Training produced NaN or infinite weights (or cost); the network keeps its last good weights."""


@dataclass
class History:
    """What training did: which engine and backend ran, the per-epoch metrics, why it stopped.

    Lists hold one value per epoch run; a metric that was not monitored stays empty.
    ``engine_note`` says why engine="auto" did not pick the fused engine, if it did not.
    ``stop_reason`` is "completed", "early_stopping", "eta_floor" (the halving or adaptive
    schedule ran out of learning rate), "callback" or "diverged".
    """

    engine: str
    backend: str
    engine_note: str = ""
    epoch_seconds: list = field(default_factory=list)
    eta: list = field(default_factory=list)
    training_cost: list = field(default_factory=list)
    training_accuracy: list = field(default_factory=list)
    evaluation_cost: list = field(default_factory=list)
    evaluation_accuracy: list = field(default_factory=list)
    best_epoch: int = None
    stop_reason: str = "completed"


@dataclass(frozen=True)
class Options:
    """Training hyper-parameters, checked once on construction (errors name the argument)."""

    epochs: int
    batch_size: int
    eta: float
    lmbda: float = 0.0
    l1: float = 0.0
    optimizer: str = "sgd"
    momentum: float = 0.9
    engine: str = "auto"
    schedule: str = "constant"
    patience: int = 10
    early_stopping: bool = False
    on_divergence: str = "raise"

    def __post_init__(self):
        checked = {
            "epochs": check_number("epochs", self.epochs, low=0, integer=True),
            "batch_size": check_number("batch_size", self.batch_size, low=1, integer=True),
            "eta": check_number("eta", self.eta, low=0, low_inclusive=False),
            "lmbda": check_number("lmbda", self.lmbda, low=0),
            "l1": check_number("l1", self.l1, low=0),
            "momentum": check_number("momentum", self.momentum, low=0),
            "patience": check_number("patience", self.patience, low=1, integer=True),
        }
        if checked["momentum"] >= 1:
            raise ValueError(f"momentum: expected a number in [0, 1), got {self.momentum!r}")
        check_choice("optimizer", self.optimizer, optimizers.OPTIMIZER_CHOICES)
        check_choice("engine", self.engine, engines.ENGINE_CHOICES)
        check_choice("schedule", self.schedule, SCHEDULES)
        check_choice("on_divergence", self.on_divergence, ON_DIVERGENCE)
        if not isinstance(self.early_stopping, (bool, np.bool_)):
            raise TypeError(f"early_stopping: expected True or False, got {self.early_stopping!r}")
        for name, value in checked.items():
            object.__setattr__(self, name, value)


def snapshot(net):
    return [p.copy() for p in net.weights + net.biases]


def restore(net, saved_params):
    # In place: the engine and optimizer hold these very arrays.
    for p, saved in zip(net.weights + net.biases, saved_params):
        p[...] = saved


def _finite(net):
    return all(np.isfinite(p).all() for p in net.weights + net.biases)


def train(net, X, Y, options, *, sample_weight=None, evaluation=None, monitor=(), callbacks=(),
          seed=None, shuffle=True, stream=False, n_threads=None):
    """Run ``options.epochs`` epochs of mini-batch training of ``net`` on (X, Y).

    X : ndarray (n_samples, n_inputs) and Y : ndarray (n_samples, n_outputs), already checked.
    evaluation : optional checked (X, Y) evaluated after each epoch.
    monitor : metric names from METRICS to record in the History each epoch.
    callbacks : callables ``f(epoch, history, net)`` run after each epoch; one that returns
        True stops training.
    stream : partial_fit's calls: keep the optimizer (and its momentum or moments) from the
        previous call while the options and the parameter arrays stay the same.
    n_threads : BLAS threads while training (threadpoolctl limits NumPy's and SciPy's BLAS,
        which the fused epoch calls); None leaves BLAS at its default, one thread per core.
    """
    with threadpool_limits(limits=n_threads, user_api="blas") if n_threads else contextlib.nullcontext():
        return _train(net, X, Y, options, sample_weight, evaluation, monitor, callbacks, seed, shuffle, stream)


def _train(net, X, Y, options, sample_weight, evaluation, monitor, callbacks, seed, shuffle, stream):
    net._check_parameters()
    n = len(X)
    optimizer = _optimizer(net, options, n, stream)
    runner, note = engines.make(options.engine, net, optimizer, weighted=sample_weight is not None)
    rng = net._rng if seed is None else np.random.default_rng(check_seed(seed))
    history = History(engine=runner.name, backend=_backend.name, engine_note=note)

    tracks_progress = options.early_stopping or options.schedule in ("halving", "adaptive")
    score_metric = "evaluation_accuracy" if evaluation is not None else "training_cost"
    monitor = set(monitor) | ({score_metric} if tracks_progress else set())
    best_score, best_params, stalled = -np.inf, None, 0

    eta = options.eta
    last_good = snapshot(net)
    for epoch in range(options.epochs):
        if options.schedule == "invscaling":
            eta = options.eta / np.sqrt(epoch + 1.0)
        optimizer.set_eta(eta)
        history.eta.append(eta)
        started = time.perf_counter()
        # One permutation per epoch, drawn here rather than in the engine, so every engine
        # visits the samples in the same order from the same seed.
        order = rng.permutation(n) if shuffle else np.arange(n)
        try:
            # A diverging run overflows; that is detected below, after the epoch, so the
            # floating-point warnings on the way there would only be noise.
            with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
                runner.epoch(X, Y, order, options.batch_size, sample_weight)
        except KeyboardInterrupt:
            restore(net, last_good)   # a consistent network: exactly as after the last whole epoch
            raise
        history.epoch_seconds.append(time.perf_counter() - started)
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            _record(net, history, monitor, options.lmbda, (X, Y), evaluation)
        recorded = [getattr(history, m)[-1] for m in monitor]
        if not _finite(net) or not np.all(np.isfinite(recorded)):
            restore(net, last_good)
            for m in METRICS:   # keep the lists one entry per good epoch
                del getattr(history, m)[epoch:]
            history.stop_reason = "diverged"
            if options.on_divergence == "raise":
                raise DivergenceError(
                    f"training diverged in epoch {epoch}: the weights or the cost became NaN or "
                    f"infinite (eta={eta:g} may be too large); the network keeps the weights it had "
                    f"{'after epoch ' + str(epoch - 1) if epoch else 'before training'}"
                )
            break
        last_good = snapshot(net)

        if tracks_progress:
            values = getattr(history, score_metric)
            score = values[-1] if score_metric == "evaluation_accuracy" else -values[-1]
            if score > best_score:
                best_score, stalled, history.best_epoch = score, 0, epoch
                if options.early_stopping:
                    best_params = last_good
            else:
                stalled += 1
            if options.schedule == "halving" and stalled >= options.patience:
                eta, stalled = eta / 2, 0
                if eta <= options.eta * _HALVING_FLOOR:   # the book stops when eta reaches eta/128
                    history.stop_reason = "eta_floor"
            elif options.schedule == "adaptive" and stalled >= _ADAPTIVE_PATIENCE:
                eta, stalled = eta / _ADAPTIVE_FACTOR, 0
                if eta < options.eta * _ADAPTIVE_FLOOR:
                    history.stop_reason = "eta_floor"
            if options.early_stopping and stalled >= options.patience:
                history.stop_reason = "early_stopping"
        asked_to_stop = [callback(epoch, history, net) is True for callback in callbacks]
        if any(asked_to_stop) and history.stop_reason == "completed":
            history.stop_reason = "callback"
        if history.stop_reason != "completed":
            break
    if best_params is not None:
        restore(net, best_params)
    return history


def _optimizer(net, options, n, stream):
    """A fresh optimizer over the network's parameters, or, streaming, the previous one
    (its L2 decay follows each call's n, set again with the learning rate every epoch)."""
    key = (options.optimizer, options.eta, options.lmbda, options.l1, options.momentum, _backend.name)
    previous = getattr(net, "_stream_state", None)
    net._options = options
    # The same parameter arrays, by identity: a pickled network keeps them shared with its
    # optimizer, so streaming goes on across a pickle (a Dask task handing the model on).
    if (stream and previous is not None and previous[0] == key
            and all(a is b for a, b in zip(previous[1].weights + previous[1].biases, net.weights + net.biases))):
        previous[1].n = n
        return previous[1]
    optimizer = optimizers.make(options.optimizer, _backend.kernels, net.weights, net.biases, options.eta,
                                lmbda=options.lmbda, l1=options.l1, n=n, momentum=options.momentum)
    net._stream_state = (key, optimizer) if stream else None
    return optimizer


def _record(net, history, monitor, lmbda, training, evaluation):
    for prefix, data in (("training", training), ("evaluation", evaluation)):
        if f"{prefix}_cost" in monitor:
            getattr(history, f"{prefix}_cost").append(net._cost(*data, lmbda))
        if f"{prefix}_accuracy" in monitor:
            getattr(history, f"{prefix}_accuracy").append(net._n_correct(*data) / len(data[0]))
