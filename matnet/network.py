"""Network: the parameters, the training loop, prediction, and the book's method names.

Public parameter shapes follow the book's ``network.py`` so its code runs unchanged:
``weights[l]`` is (n_out, n_in) and ``biases[l]`` is (n_out, 1).  The array API
(``fit``, ``forward``, ``predict``, ``accuracy``, ``cost``, ``gradients``) takes rows as
samples, as NumPy and scikit-learn do.
"""
import numbers

import numpy as np

from . import _backend, engines, functions, optimizers, training
from ._progress import ProgressBar
from .training import METRICS, Options
from ._validation import (
    as_float_array,
    check_choice,
    check_flag,
    check_seed,
    check_number,
    check_sizes,
    check_targets,
    check_X,
    from_book_data,
    labels_of,
)

DTYPES = ("float64", "float32")
INITS = ("large", "scaled", "glorot", "he")


class Network:
    """A feedforward network trained by mini-batch stochastic gradient descent.

    Parameters
    ----------
    sizes : list of int
        Units per layer, input first: ``[784, 30, 10]``.
    cost : {"quadratic", "cross_entropy", "log_likelihood"} or a ``functions.Cost``
        The book's ``QuadraticCost`` (network.py), ``CrossEntropyCost`` (network2.py), or the
        log-likelihood of chapter 3 (with a softmax output layer).  The chosen cost is
        ``net.cost_function``; ``net.cost(X, y)`` evaluates it.
    activation : {"sigmoid", "tanh", "relu", "identity"}, or a list of them, one per hidden layer
    output_activation : None, "sigmoid", "tanh", "relu", "identity" or "softmax"
        None means what the cost implies: sigmoid for the quadratic and cross-entropy costs,
        softmax for log-likelihood.  Use "identity" with the quadratic cost for regression.
    init : None, "large", "scaled", "glorot" or "he"
        "large" draws weights and biases from N(0, 1) (network.py); "scaled" draws weights
        from N(0, 1/n_in) (network2.py's default), biases from N(0, 1).  "glorot" draws weights
        from N(0, 2/(n_in + n_out)) and "he" from N(0, 2/n_in), both with zero biases, as is usual
        for tanh and ReLU layers.  None: "large" for the quadratic cost, so book code behaves as
        in the book, "scaled" otherwise.
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
        output = _lookup("output_activation",
                         self.cost_function.default_output if output_activation is None else output_activation,
                         functions.ACTIVATIONS)
        for i, a in enumerate(hidden):
            if not a.hidden_ok:
                raise ValueError(f"activation: {a.name!r} is for the output layer only (it has no elementwise "
                                 f"derivative); expected one of "
                                 f"{', '.join(repr(n) for n, f in functions.ACTIVATIONS.items() if f.hidden_ok)}")
        self.activations = hidden + [output]
        functions.output_delta_activation(self.cost_function, output)   # refuse an unsupported pair now
        self.dtype = _check_dtype(dtype)
        self._rng = np.random.default_rng(check_seed(seed))
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
        random_biases = init in ("large", "scaled")
        std = {"large": lambda n_in, n_out: 1.0, "scaled": lambda n_in, n_out: 1 / np.sqrt(n_in),
               "glorot": lambda n_in, n_out: np.sqrt(2 / (n_in + n_out)), "he": lambda n_in, n_out: np.sqrt(2 / n_in)}[init]
        try:
            self.biases = [(rng.standard_normal((n, 1)) if random_biases else np.zeros((n, 1))).astype(self.dtype)
                           for n in self.sizes[1:]]
            self.weights = [(rng.standard_normal((n_out, n_in)) * std(n_in, n_out)).astype(self.dtype)
                            for n_in, n_out in zip(self.sizes[:-1], self.sizes[1:])]
        except (MemoryError, ValueError):   # ValueError: beyond NumPy's largest array
            n_params = sum(n_in * n_out + n_out for n_in, n_out in zip(self.sizes[:-1], self.sizes[1:]))
            raise MemoryError(f"sizes: {self.sizes} needs {n_params:,} parameters "
                              f"({n_params * 8 / 2 ** 30:,.1f} GiB as they are drawn); not enough memory") from None

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
            try:
                params = list(params)
            except TypeError:
                raise TypeError(f"{name}: expected a list of {self.num_layers - 1} arrays, got "
                                f"{type(params).__name__}") from None
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

    def fit(self, X, y, epochs, batch_size, eta, lmbda=0.0, l1=0.0, optimizer="sgd", momentum=0.9,
            engine="auto", n_threads=None, validation_data=None, sample_weight=None, callbacks=(),
            schedule="constant", patience=10, early_stopping=False, monitor=None, on_divergence="raise",
            verbose=0, seed=None):
        """Train by mini-batch gradient descent.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_inputs)
        y : array-like of shape (n_samples,) with integer labels, or (n_samples, n_outputs)
        epochs, batch_size : int
        eta : float
            The learning rate (Adam's step size α).
        lmbda, l1 : float
            L2 (network2's weight decay) and L1 regularization; biases are not regularized.
        optimizer : {"sgd", "momentum", "nesterov", "adam"}
        momentum : float in [0, 1), for "momentum" and "nesterov"
        engine : {"auto", "fused", "batched", "per_sample"}
            "auto" picks the fastest engine that supports the configuration: fused for plain
            SGD without L1 or sample weights, batched otherwise (``history.engine_note`` says why).
        n_threads : int, optional
            BLAS threads while training.  Default: BLAS's own (a thread per core), which
            only large mini-batches use: the GEMMs of a small one are below OpenBLAS's
            threading threshold and run on one core anyway.
        validation_data : (X_val, y_val), optional; evaluated after every epoch
        sample_weight : array-like of shape (n_samples,), optional
            Non-negative weights: each sample's gradient is multiplied by its weight (weight 2
            counts like two copies of the sample).
        callbacks : callables ``f(epoch, history, net)`` called after every epoch; one that
            returns True stops training.
        schedule : {"constant", "halving", "invscaling", "adaptive"}
            "halving" is the book's: halve eta whenever ``patience`` epochs pass without
            improvement, and stop once it falls below eta/128.  "invscaling": eta/√(epoch+1).
            "adaptive": divide by 5 after 2 epochs without improvement, as scikit-learn does.
            Improvement is of validation accuracy when there is validation data, else of the
            training cost.
        patience : int, epochs without improvement that count as a stall
        early_stopping : bool
            Stop after ``patience`` epochs without improvement and restore the best weights.
        monitor : iterable of {"training_cost", "training_accuracy", "evaluation_cost",
            "evaluation_accuracy"}, optional; default: the evaluation metrics when there is
            validation data.
        on_divergence : {"raise", "stop"}
            When the weights or cost become NaN or infinite, the network goes back to its
            weights from the end of the last good epoch, and training raises
            ``DivergenceError`` ("raise") or returns with ``history.stop_reason == "diverged"``.
        verbose : int; 1 prints a line per epoch, 2 also shows a progress bar over the epochs
            (on stderr; redrawn in place on a terminal)
        seed : int, optional; seeds the shuffling (default: the network's own generator)

        Returns
        -------
        History: the engine and backend that ran, the per-epoch metrics, why training stopped.
        """
        options = Options(epochs, batch_size, eta, lmbda, l1, optimizer, momentum, engine, schedule,
                          patience, early_stopping, on_divergence)
        X, Y = self._check_data(X, y)
        evaluation = None if validation_data is None else self._check_evaluation_data(validation_data, "validation_data")
        if monitor is None:
            monitor = ("evaluation_cost", "evaluation_accuracy") if evaluation is not None else ()
        monitor = [check_choice("monitor", m, METRICS) for m in _as_list("monitor", monitor)]
        callbacks = _as_list("callbacks", callbacks)
        if not all(callable(c) for c in callbacks):
            raise TypeError(f"callbacks: expected callables f(epoch, history, net), got {callbacks!r}")
        verbose = check_number("verbose", int(verbose) if isinstance(verbose, (bool, np.bool_)) else verbose,
                               low=0, integer=True)
        check_seed(seed)
        if evaluation is None and any(m.startswith("evaluation") for m in monitor):
            raise ValueError("validation_data: expected data to monitor evaluation metrics, got None")

        def report(epoch, history, net):
            line = f"Epoch {epoch}: eta {history.eta[-1]:g}, {history.epoch_seconds[-1]:.3f} s"
            for m in monitor:
                line += f", {m.replace('_', ' ')} {getattr(history, m)[-1]:.4f}"
            print(line, flush=True)

        if n_threads is not None:
            n_threads = check_number("n_threads", n_threads, low=1, high=2 ** 31 - 1, integer=True)
        callbacks = tuple(callbacks) + ((report,) if verbose else ())
        bar = ProgressBar(options.epochs, "training, epochs") if verbose >= 2 else None
        if bar is not None:
            callbacks += (lambda epoch, history, net: bar.update(epoch + 1),)
        try:
            return training.train(self, X, Y, options, sample_weight=self._check_sample_weight(sample_weight, len(X)),
                                  evaluation=evaluation, monitor=monitor, seed=seed, n_threads=n_threads,
                                  callbacks=callbacks)
        finally:
            if bar is not None:
                bar.close()

    def _check_sample_weight(self, sample_weight, n_samples):
        if sample_weight is None:
            return None
        weights = as_float_array("sample_weight", sample_weight, self.dtype)
        if weights.shape != (n_samples,) or np.any(weights < 0):
            raise ValueError(f"sample_weight: expected {n_samples} non-negative weights (one per sample), "
                             f"got shape {weights.shape}" + (" with negative values" if np.any(weights < 0) else ""))
        return weights

    def partial_fit(self, X, y, eta=None, batch_size=None, lmbda=None, l1=None, optimizer=None,
                    momentum=None, engine=None, sample_weight=None):
        """One pass over the given rows, in their order: for streaming mini-batches.

        ``batch_size`` defaults to all the rows (one step per call).  The other options
        default to those of the last ``fit`` or ``partial_fit`` (``eta`` must be given the
        first time), and mean what they mean in ``fit``.  An optimizer's state (momentum,
        Adam's moments) carries over from call to call while the options stay the same.
        L2 decay uses n = len(X).
        """
        last = self._last_options
        if eta is None and last is None:
            raise ValueError("eta: expected a learning rate on the first partial_fit, got None")
        defaults = last or Options(1, 1, eta)
        X, Y = self._check_data(X, y)

        def given(value, name):
            return getattr(defaults, name) if value is None else value

        options = Options(1, len(X) if batch_size is None else batch_size, given(eta, "eta"),
                          lmbda=given(lmbda, "lmbda"), l1=given(l1, "l1"), optimizer=given(optimizer, "optimizer"),
                          momentum=given(momentum, "momentum"), engine=given(engine, "engine"))
        return training.train(self, X, Y, options, sample_weight=self._check_sample_weight(sample_weight, len(X)),
                              shuffle=False, stream=True)

    @property
    def _last_options(self):
        return getattr(self, "_options", None)

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
        check_choice("engine", engine, ("batched", "per_sample"))
        return engines.ENGINES[engine].for_network(self).gradients(X, Y)

    def backprop(self, x, y):
        """The book's per-sample gradients: x (n_inputs, 1), y (n_outputs, 1) or an int label."""
        is_label = np.isscalar(y) or (isinstance(y, np.ndarray) and y.ndim == 0)   # before the
        # conversion, which makes every array at least 1-d
        x = as_float_array("x", x, self.dtype).reshape(1, -1)
        y = as_float_array("y", y, self.dtype)
        X, Y = self._check_data(x, y.reshape(1) if is_label else y.reshape(1, -1), "x", "y")
        self._check_parameters()
        return engines.PerSample.for_network(self).backprop(X.reshape(-1, 1), Y.reshape(-1, 1))

    # -- the book's names ----------------------------------------------------------

    def feedforward(self, a):
        """The book's feedforward: a column (n_inputs, 1) in, a column (n_outputs, 1) out."""
        return self.forward(as_float_array("a", a, self.dtype).reshape(1, -1)).reshape(-1, 1)

    def evaluate(self, test_data):
        """The book's evaluate: how many (x, y) pairs the network labels correctly."""
        X, Y = self._check_book_data(test_data, "test_data")
        self._check_parameters()
        return self._n_correct(X, Y)

    def update_mini_batch(self, mini_batch, eta, lmbda=0.0, n=None):
        """The book's single step on a list of (x, y) pairs (network2's lmbda and n too)."""
        X, Y = self._check_book_data(mini_batch, "mini_batch")
        options = Options(1, len(X), eta, lmbda)
        n = len(X) if n is None else check_number("n", n, low=1, integer=True)
        self._check_parameters()
        runner = engines.Batched.for_network(self, optimizers.SGD(_backend.kernels, self.weights, self.biases,
                                                                   options.eta, lmbda=options.lmbda, n=n))
        before = training.snapshot(self)
        try:
            runner.epoch(X, Y, np.arange(len(X)), len(X))
        except KeyboardInterrupt:
            training.restore(self, before)   # all layers stepped, or none
            raise

    def SGD(self, training_data, epochs, mini_batch_size, eta, test_data=None, lmbda=0.0,
            evaluation_data=None, monitor_evaluation_cost=False, monitor_evaluation_accuracy=False,
            monitor_training_cost=False, monitor_training_accuracy=False, **fit_options):
        """The book's SGD: network.py's signature and printout, and network2's options.

        ``training_data`` is the book's list (or zip) of (x, y) pairs.  With ``test_data``
        it prints "Epoch j: correct / total" after each epoch, as network.py does.  A number
        in the fifth place is network2's ``lmbda``.  Returns network2's four lists:
        (evaluation_cost, evaluation_accuracy, training_cost, training_accuracy), the
        accuracies as counts of correct samples, as the book keeps them.  Further keyword
        arguments (engine, optimizer, schedule, early_stopping, seed, ...) are ``fit``'s.
        """
        if isinstance(test_data, numbers.Real) and not isinstance(test_data, bool):
            lmbda, test_data = test_data, None
        X, Y = self._check_book_data(training_data, "training_data")
        test = None if test_data is None else self._check_book_data(test_data, "test_data")
        evaluation = None if evaluation_data is None else self._check_book_data(evaluation_data, "evaluation_data")
        flags = {"evaluation_cost": monitor_evaluation_cost, "evaluation_accuracy": monitor_evaluation_accuracy,
                 "training_cost": monitor_training_cost, "training_accuracy": monitor_training_accuracy}
        monitor = [name for name, on in flags.items() if check_flag(f"monitor_{name}", on)]

        def report(epoch, history, net):
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

        callbacks = tuple(fit_options.pop("callbacks", ())) + (report,)
        history = self.fit(X, Y, epochs, mini_batch_size, eta, lmbda=lmbda,
                           validation_data=None if evaluation is None else evaluation,
                           monitor=monitor, callbacks=callbacks, **fit_options)
        counts = lambda fractions, data: [round(f * len(data[0])) for f in fractions]  # noqa: E731
        return (history.evaluation_cost,
                counts(history.evaluation_accuracy, evaluation) if evaluation is not None else [],
                history.training_cost,
                counts(history.training_accuracy, (X, Y)))


def _as_list(name, values):
    """A list from any iterable (but not a string, which would be taken letter by letter)."""
    try:
        if isinstance(values, (str, bytes)):
            raise TypeError
        return list(values)
    except TypeError:
        raise TypeError(f"{name}: expected a list, got {values!r}") from None


def _check_dtype(dtype):
    """"float32" or "float64", given by name or as anything np.dtype accepts."""
    try:
        name = np.dtype(dtype).name
    except TypeError:
        name = dtype
    return np.dtype(check_choice("dtype", name, DTYPES))


def _lookup(name, value, table):
    """A table entry by its name, or the entry itself (the book passes cost classes)."""
    if isinstance(value, str):
        return table[check_choice(name, value, tuple(table))]
    if any(value is entry for entry in table.values()):
        return value
    raise ValueError(f"{name}: expected one of {', '.join(map(repr, table))}, got {value!r}")
