"""Network: the parameters, the training loop, prediction, and the book's method names.

Public parameter shapes follow the book's ``network.py`` so its code runs unchanged:
``weights[l]`` is (n_out, n_in) and ``biases[l]`` is (n_out, 1).  The array API
(``fit``, ``forward``, ``predict``, ``accuracy``, ``cost``, ``gradients``) takes rows as
samples, as NumPy and scikit-learn do.
"""
import numbers
import time
from dataclasses import dataclass, field

import numpy as np

from . import _backend, engines, functions
from ._validation import (
    check_choice,
    check_number,
    check_sizes,
    check_targets,
    check_X,
    from_book_data,
    labels_of,
)

DTYPES = ("float64", "float32")
INITS = ("large", "scaled")


@dataclass
class History:
    """What ``fit`` did: which engine and backend ran, and the per-epoch metrics it kept.

    Lists hold one value per epoch; a metric that was not asked for stays empty.
    """

    engine: str
    backend: str
    epoch_seconds: list = field(default_factory=list)
    training_cost: list = field(default_factory=list)
    training_accuracy: list = field(default_factory=list)
    evaluation_cost: list = field(default_factory=list)
    evaluation_accuracy: list = field(default_factory=list)


class Network:
    """A feedforward network trained by mini-batch stochastic gradient descent.

    Parameters
    ----------
    sizes : list of int
        Units per layer, input first: ``[784, 30, 10]``.
    cost : {"quadratic", "cross_entropy"} or a ``functions.Cost``
        The book's ``QuadraticCost`` (network.py) or ``CrossEntropyCost`` (network2.py).
    activation : "sigmoid", or a list of names, one per hidden layer
        Hidden-layer activation.
    output_activation : None or "sigmoid"
        None means what the cost implies.
    init : None, "large" or "scaled"
        "large" draws weights and biases from N(0, 1) (network.py); "scaled" draws weights
        from N(0, 1/n_in) (network2.py's default).  None: "large" for the quadratic cost, so
        book code behaves as in the book, "scaled" otherwise.
    dtype : "float64" or "float32"
    seed : int or None
        Seeds the initial parameters and the shuffling of every later ``fit``.
    """

    def __init__(self, sizes, cost="quadratic", activation="sigmoid", output_activation=None,
                 init=None, dtype="float64", seed=None):
        self.sizes = check_sizes(sizes)
        self.num_layers = len(self.sizes)
        self.cost_function = _lookup("cost", cost, functions.COSTS)
        n_hidden = self.num_layers - 2
        if isinstance(activation, (list, tuple)):
            if len(activation) != n_hidden:
                raise ValueError(f"activation: expected one name per hidden layer ({n_hidden}), got {len(activation)}")
            hidden = [_lookup(f"activation[{i}]", a, functions.ACTIVATIONS) for i, a in enumerate(activation)]
        else:
            hidden = [_lookup("activation", activation, functions.ACTIVATIONS)] * n_hidden
        output = _lookup("output_activation", output_activation or "sigmoid", functions.ACTIVATIONS)
        self.activations = hidden + [output]
        functions.output_delta_kernel(self.cost_function, output)   # reject unsupported pairs now, not mid-fit
        self.dtype = np.dtype(check_choice("dtype", np.dtype(dtype).name if _is_dtype(dtype) else dtype, DTYPES))
        self._rng = np.random.default_rng(seed)
        if init is None:
            init = "large" if self.cost_function.name == "quadratic" else "scaled"
        self.init = check_choice("init", init, INITS)
        self._initialize(self.init)

    @property
    def config(self):
        """The constructor options that rebuild this network's architecture (JSON-ready)."""
        hidden = [a.name for a in self.activations[:-1]]
        return {
            "sizes": list(self.sizes),
            "cost": self.cost_function.name,
            "activation": hidden[0] if len(set(hidden)) == 1 else hidden if hidden else "sigmoid",
            "output_activation": self.activations[-1].name,
            "init": self.init,
            "dtype": self.dtype.name,
        }

    def save(self, path, format="npz"):
        """Save to ``path``: "npz" (matnet's format, every option) or "network2" (the book's JSON).

        Load with ``matnet.load(path)``; the write is atomic.
        """
        from . import io
        io.save(self, path, format)

    # -- parameters ----------------------------------------------------------------

    def _initialize(self, init):
        # The book's order: every bias vector, then every weight matrix.  Drawn in float64
        # and cast, so float32 and float64 networks from one seed start at the same point.
        rng = self._rng
        self.biases = [rng.standard_normal((n, 1)).astype(self.dtype) for n in self.sizes[1:]]
        self.weights = [
            (rng.standard_normal((n_out, n_in)) / (np.sqrt(n_in) if init == "scaled" else 1.0)).astype(self.dtype)
            for n_in, n_out in zip(self.sizes[:-1], self.sizes[1:])
        ]

    def default_weight_initializer(self):
        """network2's default: weights N(0, 1/n_in), biases N(0, 1)."""
        self._initialize("scaled")

    def large_weight_initializer(self):
        """network.py's initialization: weights and biases N(0, 1)."""
        self._initialize("large")

    def _check_parameters(self):
        """Make ``weights``/``biases`` C-contiguous arrays of the network's dtype and shapes.

        Book code may assign new lists to them (network.py's update_mini_batch does); the
        engines update in place, so they need arrays they can write into.
        """
        for name, params, shape_of in (
            ("weights", self.weights, lambda l: (self.sizes[l + 1], self.sizes[l])),
            ("biases", self.biases, lambda l: (self.sizes[l + 1], 1)),
        ):
            params = list(params)
            if len(params) != self.num_layers - 1:
                raise ValueError(f"{name}: expected {self.num_layers - 1} arrays, got {len(params)}")
            for layer, p in enumerate(params):
                p = np.asarray(p)
                if p.shape != shape_of(layer):
                    raise ValueError(f"{name}[{layer}]: expected shape {shape_of(layer)}, got {p.shape}")
                if p.dtype != self.dtype or not p.flags.c_contiguous or not p.flags.writeable:
                    p = np.array(p, dtype=self.dtype, order="C")
                params[layer] = p
            setattr(self, name, params)

    # -- data ----------------------------------------------------------------------

    def _check_X(self, X, name="X"):
        return check_X(X, self.sizes[0], self.dtype, name)

    def _check_data(self, X, y, name_X="X", name_y="y"):
        X = self._check_X(X, name_X)
        return X, check_targets(y, len(X), self.sizes[-1], self.dtype, name_y)

    def _check_book_data(self, data, name):
        X, y = from_book_data(data, self.sizes[0], self.sizes[-1], name)
        return self._check_data(X, y, f"{name} x", f"{name} y")

    def _check_evaluation_data(self, data, name):
        """(X, y) arrays or the book's list of (x, y) pairs, as checked (X, Y) arrays."""
        if isinstance(data, tuple) and len(data) == 2 and np.ndim(data[0]) == 2:
            return self._check_data(data[0], data[1], f"{name}[0]", f"{name}[1]")
        return self._check_book_data(data, name)

    # -- training ------------------------------------------------------------------

    def fit(self, X, y, epochs, batch_size, eta, lmbda=0.0, engine="auto",
            validation_data=None, seed=None, verbose=0):
        """Train by mini-batch SGD.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_inputs)
        y : array-like of shape (n_samples,) with integer labels, or (n_samples, n_outputs)
        epochs, batch_size : int
        eta : float, the learning rate
        lmbda : float, L2 regularization (network2's weight decay; biases are not decayed)
        engine : {"auto", "batched", "per_sample"}
        validation_data : (X_val, y_val), optional; evaluated after every epoch
        seed : int, optional; seeds the shuffling (default: the network's own generator)
        verbose : int; 1 prints a line per epoch

        Returns
        -------
        History: the engine and backend that ran and the per-epoch metrics.
        """
        X, Y = self._check_data(X, y)
        evaluation = None if validation_data is None else self._check_evaluation_data(validation_data, "validation_data")
        monitor = {"evaluation_cost", "evaluation_accuracy"} if evaluation is not None else set()

        def report(epoch, history):
            if verbose:
                line = f"Epoch {epoch}: {history.epoch_seconds[-1]:.3f} s"
                if evaluation is not None:
                    line += f", validation accuracy {history.evaluation_accuracy[-1]:.4f}"
                print(line, flush=True)

        return self._train(X, Y, epochs, batch_size, eta, lmbda, engine, seed,
                           monitor=monitor, evaluation=evaluation, on_epoch=report)

    def partial_fit(self, X, y, eta=None, batch_size=None, lmbda=None, engine=None):
        """One pass over the given rows, in their order: for streaming mini-batches.

        ``batch_size`` defaults to all the rows (one SGD step per call).  ``eta``, ``lmbda``
        and ``engine`` default to those of the last ``fit`` or ``partial_fit``; ``eta`` must be
        given the first time.  L2 decay uses n = len(X), the rows this call sees.
        """
        last = getattr(self, "_last_training", {"lmbda": 0.0, "engine": "auto"})
        eta = last.get("eta") if eta is None else eta
        if eta is None:
            raise ValueError("eta: expected a learning rate on the first partial_fit, got None")
        X, Y = self._check_data(X, y)
        return self._train(X, Y, 1, len(X) if batch_size is None else batch_size, eta,
                           last["lmbda"] if lmbda is None else lmbda,
                           last["engine"] if engine is None else engine, None,
                           monitor=set(), evaluation=None, on_epoch=lambda epoch, history: None, shuffle=False)

    def _train(self, X, Y, epochs, batch_size, eta, lmbda, engine, seed, monitor, evaluation, on_epoch,
               shuffle=True):
        """The one training loop behind ``fit``, ``partial_fit`` and ``SGD``: shuffle, run the
        engine, record."""
        epochs = check_number("epochs", epochs, low=0, integer=True)
        batch_size = check_number("batch_size", batch_size, low=1, integer=True)
        eta = check_number("eta", eta, low=0, low_inclusive=False)
        lmbda = check_number("lmbda", lmbda, low=0)
        check_choice("engine", engine, engines.ENGINE_CHOICES)
        self._check_parameters()
        runner = engines.make(engine, self)
        self._last_training = {"eta": eta, "lmbda": lmbda, "engine": engine}
        rng = self._rng if seed is None else np.random.default_rng(seed)
        n = len(X)
        decay = 1.0 - eta * lmbda / n
        history = History(engine=runner.name, backend=_backend.name)
        for epoch in range(epochs):
            started = time.perf_counter()
            # One permutation per epoch, drawn here rather than in the engine, so every
            # engine visits the samples in the same order from the same seed.
            order = rng.permutation(n) if shuffle else np.arange(n)
            runner.epoch(X, Y, order, batch_size, eta, decay)
            history.epoch_seconds.append(time.perf_counter() - started)
            self._record(history, monitor, lmbda, (X, Y), evaluation)
            on_epoch(epoch, history)
        return history

    def _record(self, history, monitor, lmbda, training, evaluation):
        for prefix, data in (("training", training), ("evaluation", evaluation)):
            if f"{prefix}_cost" in monitor:
                getattr(history, f"{prefix}_cost").append(self._cost(*data, lmbda))
            if f"{prefix}_accuracy" in monitor:
                getattr(history, f"{prefix}_accuracy").append(self._n_correct(*data) / len(data[0]))

    # -- inference -----------------------------------------------------------------

    def forward(self, X):
        """Outputs for the rows of X: (n_samples, n_inputs) -> (n_samples, n_outputs)."""
        self._check_parameters()
        return engines.forward(self, self._check_X(X))

    def predict(self, X):
        """Class labels, shape (n_samples,): the most active output unit of each row."""
        return labels_of(self.forward(X))

    def _n_correct(self, X, Y):
        return int(np.count_nonzero(labels_of(engines.forward(self, X)) == labels_of(Y)))

    def accuracy(self, X, y):
        """Fraction of rows whose predicted label matches y (labels or one-hot targets)."""
        X, Y = self._check_data(X, y)
        self._check_parameters()
        return self._n_correct(X, Y) / len(X)

    def _cost(self, X, Y, lmbda=0.0):
        A = engines.forward(self, X)
        l2 = 0.5 * (lmbda / len(X)) * sum(float(np.sum(w.astype(np.float64) ** 2)) for w in self.weights)
        return self.cost_function.value(A, Y) / len(X) + l2

    def cost(self, X, y, lmbda=0.0):
        """Mean cost over the rows, plus network2's L2 term ½ (λ/n) Σ‖w‖² when lmbda > 0."""
        X, Y = self._check_data(X, y)
        self._check_parameters()
        return self._cost(X, Y, check_number("lmbda", lmbda, low=0))

    # -- gradients -----------------------------------------------------------------

    def gradients(self, X, Y, engine="batched"):
        """Σ over the rows of the per-sample cost gradients, (nabla_b, nabla_w) in book shapes.

        Equal to summing ``backprop(x, y)`` over the rows; the batched engine gets it from one
        matrix product per layer and direction.
        """
        X, Y = self._check_data(X, Y, "X", "Y")
        self._check_parameters()
        check_choice("engine", engine, tuple(engines.ENGINES))
        runner = engines.make(engine, self)
        if engine == "batched":
            return runner.gradients(X, Y)
        return runner.batch_gradients(X, Y, range(len(X)))

    def backprop(self, x, y):
        """The book's per-sample gradients: x (n_inputs, 1), y (n_outputs, 1) or an int label."""
        X, Y = self._check_data(np.reshape(x, (1, -1)), np.reshape(y, (1, -1)) if np.ndim(y) else [y], "x", "y")
        self._check_parameters()
        return engines.PerSample(self).backprop(X.reshape(-1, 1), Y.reshape(-1, 1))

    # -- the book's names ----------------------------------------------------------

    def feedforward(self, a):
        """The book's feedforward: a column (n_inputs, 1) in, a column (n_outputs, 1) out."""
        return self.forward(np.reshape(a, (1, -1))).reshape(-1, 1)

    def evaluate(self, test_data):
        """The book's evaluate: how many (x, y) pairs the network labels correctly."""
        X, Y = self._check_book_data(test_data, "test_data")
        self._check_parameters()
        return self._n_correct(X, Y)

    def update_mini_batch(self, mini_batch, eta, lmbda=0.0, n=None):
        """The book's single step on a list of (x, y) pairs (network2's lmbda and n too)."""
        X, Y = self._check_book_data(mini_batch, "mini_batch")
        eta = check_number("eta", eta, low=0, low_inclusive=False)
        lmbda = check_number("lmbda", lmbda, low=0)
        n = len(X) if n is None else check_number("n", n, low=1, integer=True)
        self._check_parameters()
        runner = engines.make("batched", self)
        nabla_b, nabla_w = runner.gradients(X, Y)
        runner.update(nabla_b, nabla_w, eta / len(X), 1.0 - eta * lmbda / n)

    def SGD(self, training_data, epochs, mini_batch_size, eta, test_data=None, lmbda=0.0,
            evaluation_data=None, monitor_evaluation_cost=False, monitor_evaluation_accuracy=False,
            monitor_training_cost=False, monitor_training_accuracy=False, engine="auto", seed=None):
        """The book's SGD: network.py's signature and printout, and network2's options.

        ``training_data`` is the book's list (or zip) of (x, y) pairs.  With ``test_data``
        it prints "Epoch j: correct / total" after each epoch, as network.py does.  A number
        in the fifth place is network2's ``lmbda``.  Returns network2's four lists:
        (evaluation_cost, evaluation_accuracy, training_cost, training_accuracy), the
        accuracies as counts of correct samples, as the book keeps them.
        """
        if isinstance(test_data, numbers.Real) and not isinstance(test_data, bool):
            lmbda, test_data = test_data, None
        X, Y = self._check_book_data(training_data, "training_data")
        test = None if test_data is None else self._check_book_data(test_data, "test_data")
        evaluation = None if evaluation_data is None else self._check_book_data(evaluation_data, "evaluation_data")
        flags = {"evaluation_cost": monitor_evaluation_cost, "evaluation_accuracy": monitor_evaluation_accuracy,
                 "training_cost": monitor_training_cost, "training_accuracy": monitor_training_accuracy}
        monitor = {name for name, on in flags.items() if on}
        if monitor & {"evaluation_cost", "evaluation_accuracy"} and evaluation is None:
            raise ValueError("evaluation_data: expected data to monitor, got None")

        def report(epoch, history):
            if test is not None:
                print(f"Epoch {epoch}: {self._n_correct(*test)} / {len(test[0])}", flush=True)
            else:
                print(f"Epoch {epoch} complete", flush=True)
            for prefix, data in (("training", (X, Y)), ("evaluation", evaluation)):
                if f"{prefix}_cost" in monitor:
                    print(f"Cost on {prefix} data: {getattr(history, f'{prefix}_cost')[-1]}")
                if f"{prefix}_accuracy" in monitor:
                    correct = round(getattr(history, f"{prefix}_accuracy")[-1] * len(data[0]))
                    print(f"Accuracy on {prefix} data: {correct} / {len(data[0])}")

        history = self._train(X, Y, epochs, mini_batch_size, eta, lmbda, engine, seed,
                              monitor=monitor, evaluation=evaluation, on_epoch=report)
        counts = lambda fractions, data: [round(f * len(data[0])) for f in fractions]  # noqa: E731
        return (history.evaluation_cost,
                counts(history.evaluation_accuracy, evaluation) if evaluation is not None else [],
                history.training_cost,
                counts(history.training_accuracy, (X, Y)))


def _is_dtype(value):
    try:
        np.dtype(value)
    except TypeError:
        return False
    return True


def _lookup(name, value, table):
    """A table entry by its name, or the entry itself (the book passes cost classes)."""
    if isinstance(value, str):
        return table[check_choice(name, value, tuple(table))]
    if value in table.values():
        return value
    raise ValueError(f"{name}: expected one of {', '.join(map(repr, table))}, got {value!r}")
