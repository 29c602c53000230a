"""scikit-learn estimators around Network: ``MatNetClassifier`` and ``MatNetRegressor``.

    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from matnet.sklearn import MatNetClassifier

    clf = make_pipeline(StandardScaler(), MatNetClassifier(hidden_layer_sizes=(30,), random_state=0))
    clf.fit(X, y).score(X_test, y_test)

They follow scikit-learn's conventions (``validate_data``, ``__sklearn_tags__``, parameters
stored untouched by ``__init__`` and checked at ``fit``) and pass its ``parametrize_with_checks``.
The trained ``Network`` is ``network_``: save it, export it to ONNX, or call it directly.

Training is ``Network.fit`` with the estimator's parameters: ``fit`` starts a new network
and runs ``epochs`` shuffled passes; ``partial_fit`` makes one pass over the rows it is
given, in their order, in mini-batches of ``batch_size`` (the way to train on data that
arrives in pieces or does not fit in memory; see ``matnet.dask``).
"""
import numbers

from ._optional import require

require("sklearn", "sklearn")

import numpy as np  # noqa: E402
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin  # noqa: E402
from sklearn.utils import check_random_state  # noqa: E402
from sklearn.utils.multiclass import check_classification_targets  # noqa: E402
from sklearn.utils.validation import check_is_fitted, validate_data  # noqa: E402

from .network import Network  # noqa: E402

# X is handed to the network as float64 or float32 (the network casts to its own dtype);
# numeric object arrays are converted here, as scikit-learn requires, since Network refuses them.
_X_DTYPES = (np.float64, np.float32)


class _MatNetEstimator(BaseEstimator):
    """What both estimators share: the network's options, building it, and training it."""

    def _new_network(self, n_features, n_outputs):
        hidden = self.hidden_layer_sizes
        hidden = list(hidden) if hasattr(hidden, "__iter__") else [hidden]
        random_state = self.random_state
        if not (random_state is None or isinstance(random_state, numbers.Integral)):
            # A RandomState instance: draw the network's seed from it, as scikit-learn does.
            random_state = check_random_state(random_state).randint(np.iinfo(np.int32).max)
        network = Network([n_features, *hidden, n_outputs], cost=self.cost, activation=self.activation,
                          output_activation=self.output_activation, init=self.init, dtype=self.dtype,
                          seed=random_state)
        self._check_network(network)
        return network

    def _fit_network(self, X, targets, n_outputs):
        """A new ``network_`` trained on (X, targets) for ``epochs`` epochs."""
        network = self._new_network(X.shape[1], n_outputs)
        history = network.fit(X, targets, epochs=self.epochs, batch_size=self.batch_size, eta=self.eta,
                              lmbda=self.lmbda, l1=self.l1, optimizer=self.optimizer, momentum=self.momentum,
                              engine=self.engine, monitor=("training_cost",))
        self.network_, self.loss_curve_, self.n_iter_ = network, history.training_cost, len(history.epoch_seconds)
        return self

    def _partial_fit_network(self, X, targets, n_outputs):
        """One pass over (X, targets), in order; the first call makes ``network_``."""
        if not hasattr(self, "network_"):
            self.network_, self.loss_curve_, self.n_iter_ = self._new_network(X.shape[1], n_outputs), [], 0
        self.network_.partial_fit(X, targets, eta=self.eta, batch_size=self.batch_size, lmbda=self.lmbda,
                                  l1=self.l1, optimizer=self.optimizer, momentum=self.momentum, engine=self.engine)
        self.loss_curve_.append(self.network_.cost(X, targets, lmbda=self.lmbda))
        self.n_iter_ += 1
        return self

    def _check_network(self, network):
        """Refuse what the network accepts but this estimator cannot use (the network checked the rest)."""

    def _forward(self, X):
        check_is_fitted(self)
        X = validate_data(self, X, dtype=_X_DTYPES, reset=False)
        return self.network_.forward(X)


class MatNetClassifier(ClassifierMixin, _MatNetEstimator):
    """A matnet network as a scikit-learn classifier.

    One output unit per class, binary problems included (two units), so the same softmax
    or sigmoid output layer serves every number of classes.  Labels may be of any type
    (strings, integers, ...); ``classes_`` maps output units to them.

    Parameters
    ----------
    hidden_layer_sizes : tuple of int, default=(30,)
        Units in each hidden layer, the book's ``sizes`` without the input and output layers.
    activation : str or list of str, default="sigmoid"
        Hidden-layer activation (one name, or one per hidden layer), from ``functions.ACTIVATIONS``.
    cost : str, default="log_likelihood"
        From ``functions.COSTS``: the log-likelihood with softmax outputs (chapter 3), or the
        book's cross-entropy or quadratic cost with sigmoid outputs.
    output_activation : str or None, default=None
        None: what the cost implies.  It must give probability-like outputs, "softmax" or
        "sigmoid"; ``predict_proba`` normalizes sigmoid outputs to sum to one.
    init : str or None, default=None
        Weight initialization, ``Network``'s ``init``.
    optimizer : {"sgd", "momentum", "nesterov", "adam"}, default="sgd"
    eta : float, default=0.5
        Learning rate (Adam's step size).
    momentum : float, default=0.9
        For the "momentum" and "nesterov" optimizers.
    lmbda, l1 : float, default=0.0
        L2 regularization (network2's weight decay) and L1 regularization.
    epochs : int, default=30
        Passes over the data in ``fit``.
    batch_size : int, default=10
        Rows per mini-batch.
    engine : str, default="auto"
        ``Network.fit``'s engine.
    dtype : {"float64", "float32"}, default="float64"
        The network's parameters and arithmetic.
    random_state : int, RandomState instance or None, default=None
        Seeds the initial weights and the shuffling.  An int is the network's ``seed``, so
        ``MatNetClassifier(random_state=0)`` trains exactly as ``Network(..., seed=0).fit``.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        The class labels, in the order of the output units.
    n_features_in_ : int
    network_ : matnet.Network
        The trained network: ``network_.forward(X)`` gives the raw outputs.
    loss_curve_ : list of float
        The training cost after each epoch of ``fit`` and each call of ``partial_fit``.
    n_iter_ : int
        Epochs run (each ``partial_fit`` call counts one).
    """

    def __init__(self, hidden_layer_sizes=(30,), activation="sigmoid", cost="log_likelihood",
                 output_activation=None, init=None, optimizer="sgd", eta=0.5, momentum=0.9, lmbda=0.0,
                 l1=0.0, epochs=30, batch_size=10, engine="auto", dtype="float64", random_state=None):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.cost = cost
        self.output_activation = output_activation
        self.init = init
        self.optimizer = optimizer
        self.eta = eta
        self.momentum = momentum
        self.lmbda = lmbda
        self.l1 = l1
        self.epochs = epochs
        self.batch_size = batch_size
        self.engine = engine
        self.dtype = dtype
        self.random_state = random_state

    def fit(self, X, y):
        """Train a new network on X and the labels y.

        X : array-like of shape (n_samples, n_features);  y : array-like of shape (n_samples,)
        """
        X, y = validate_data(self, X, y, dtype=_X_DTYPES)
        check_classification_targets(y)
        classes, codes = np.unique(y, return_inverse=True)
        _check_classes(classes)
        self.classes_ = classes
        return self._fit_network(X, codes, len(classes))

    def partial_fit(self, X, y, classes=None):
        """One pass over the rows of X, in order, in mini-batches of ``batch_size``.

        classes : array-like of shape (n_classes,)
            Every label the data will have: required on the first call (when there is no
            ``network_`` yet, from ``fit`` or an earlier call), optional afterwards.
        """
        first = not hasattr(self, "network_")
        if first and classes is None:
            raise ValueError("classes: expected every class label on the first call to partial_fit, got None")
        X, y = validate_data(self, X, y, dtype=_X_DTYPES, reset=first)
        check_classification_targets(y)
        if classes is not None:
            classes = np.unique(classes)
            _check_classes(classes)
            if not first and not np.array_equal(classes, self.classes_):
                raise ValueError(f"classes: expected the classes of the earlier calls, {list(self.classes_)}, "
                                 f"got {list(classes)}")
            self.classes_ = classes
        codes = np.searchsorted(self.classes_, y)
        unknown = (codes == len(self.classes_)) | (self.classes_[np.minimum(codes, len(self.classes_) - 1)] != y)
        if np.any(unknown):
            raise ValueError(f"y: expected labels among classes {list(self.classes_)}, got {y[unknown][0]!r}")
        return self._partial_fit_network(X, codes, len(self.classes_))

    def _check_network(self, network):
        output = network.activations[-1].name
        if output not in ("sigmoid", "softmax"):
            raise ValueError(f"output_activation: expected 'sigmoid' or 'softmax' (outputs read as "
                             f"probabilities), got {output!r}")

    def predict_proba(self, X):
        """Class probabilities, shape (n_samples, n_classes), columns in the order of ``classes_``."""
        P = self._forward(X)
        if self.network_.activations[-1].name == "softmax":
            return P
        # Independent sigmoid units, normalized to sum to one; a row whose outputs all
        # underflowed to 0 says nothing, so it gets the uniform distribution.
        total = P.sum(axis=1, keepdims=True)
        return np.divide(P, total, out=np.full_like(P, 1 / P.shape[1]), where=total > 0)

    def predict(self, X):
        """The most probable class of each row, shape (n_samples,)."""
        outputs = self._forward(X)
        return self.classes_[np.argmax(outputs, axis=1)]


class MatNetRegressor(RegressorMixin, _MatNetEstimator):
    """A matnet network as a scikit-learn regressor: linear outputs, the quadratic cost.

    One output unit per target; ``y`` may be (n_samples,) or (n_samples, n_targets).  As with
    any SGD-trained model, scale the inputs (a StandardScaler in a Pipeline) and keep the
    targets of order one (``TransformedTargetRegressor``), or lower ``eta``.

    Parameters
    ----------
    hidden_layer_sizes, activation, init, optimizer, momentum, lmbda, l1, epochs, batch_size,
    engine, dtype, random_state
        As for ``MatNetClassifier``.
    cost : str, default="quadratic"
    output_activation : str, default="identity"
        Linear outputs; "sigmoid" with cost="cross_entropy" fits targets in [0, 1].
    eta : float, default=0.1
        Learning rate (lower than the classifier's: linear outputs do not saturate, so large
        steps overshoot).

    Attributes
    ----------
    n_features_in_, network_, loss_curve_, n_iter_
        As for ``MatNetClassifier``.
    """

    def __init__(self, hidden_layer_sizes=(30,), activation="sigmoid", cost="quadratic",
                 output_activation="identity", init=None, optimizer="sgd", eta=0.1, momentum=0.9, lmbda=0.0,
                 l1=0.0, epochs=30, batch_size=10, engine="auto", dtype="float64", random_state=None):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.cost = cost
        self.output_activation = output_activation
        self.init = init
        self.optimizer = optimizer
        self.eta = eta
        self.momentum = momentum
        self.lmbda = lmbda
        self.l1 = l1
        self.epochs = epochs
        self.batch_size = batch_size
        self.engine = engine
        self.dtype = dtype
        self.random_state = random_state

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags

    def _targets(self, X, y, reset):
        X, y = validate_data(self, X, y, dtype=_X_DTYPES, multi_output=True, y_numeric=True, reset=reset)
        return X, y.reshape(len(y), -1)

    def fit(self, X, y):
        """Train a new network on X and the targets y, (n_samples,) or (n_samples, n_targets)."""
        X, Y = self._targets(X, y, reset=True)
        return self._fit_network(X, Y, Y.shape[1])

    def partial_fit(self, X, y):
        """One pass over the rows of X, in order, in mini-batches of ``batch_size``."""
        first = not hasattr(self, "network_")
        X, Y = self._targets(X, y, reset=first)
        if not first and Y.shape[1] != self.network_.sizes[-1]:
            raise ValueError(f"y: expected {self.network_.sizes[-1]} targets per row, as before, got {Y.shape[1]}")
        return self._partial_fit_network(X, Y, Y.shape[1])

    def predict(self, X):
        """Predicted targets: shape (n_samples,) for one target, (n_samples, n_targets) for several."""
        Y = self._forward(X)
        return Y.ravel() if Y.shape[1] == 1 else Y


def _check_classes(classes):
    if len(classes) < 2:
        raise ValueError(f"y: a classifier needs samples of at least 2 classes, got 1 class ({classes[0]!r})")
