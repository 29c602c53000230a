"""The scikit-learn estimators: scikit-learn's own estimator checks, pipelines, grid search,
partial_fit, labels of any type, and what they share with the Network they wrap."""
import importlib
import pickle
import sys

import numpy as np
import pytest

import matnet

pytest.importorskip("sklearn")

from sklearn.datasets import make_blobs, make_regression  # noqa: E402
from sklearn.model_selection import GridSearchCV  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402
from sklearn.utils.estimator_checks import parametrize_with_checks  # noqa: E402

from matnet import functions  # noqa: E402
from matnet.optimizers import OPTIMIZER_CHOICES  # noqa: E402
from matnet.sklearn import MatNetClassifier, MatNetRegressor  # noqa: E402


@parametrize_with_checks([MatNetClassifier(random_state=0), MatNetRegressor(random_state=0)])
def test_scikit_learn_estimator_checks(estimator, check):
    check(estimator)


@pytest.fixture(scope="module")
def blobs():
    X, y = make_blobs(n_samples=240, centers=3, n_features=5, cluster_std=2.0, random_state=0)
    return X * 10 + 50, y       # far from standardized: the pipeline's scaler has work to do


@pytest.fixture(scope="module")
def regression():
    X, y = make_regression(n_samples=200, n_features=6, n_informative=4, noise=5.0, random_state=0)
    return X, y / y.std()


def test_pipeline_with_standard_scaler(blobs):
    X, y = blobs
    model = make_pipeline(StandardScaler(), MatNetClassifier(random_state=0)).fit(X[:180], y[:180])
    assert model.score(X[180:], y[180:]) > 0.9
    assert model.predict_proba(X[180:]).shape == (60, 3)


def test_grid_search(blobs):
    X, y = blobs
    search = GridSearchCV(make_pipeline(StandardScaler(), MatNetClassifier(epochs=10, random_state=0)),
                          {"matnetclassifier__hidden_layer_sizes": [(5,), (20,)],
                           "matnetclassifier__eta": [0.05, 0.5]}, cv=3)
    search.fit(X, y)
    assert search.best_score_ > 0.9
    assert set(search.best_params_) == {"matnetclassifier__hidden_layer_sizes", "matnetclassifier__eta"}
    assert isinstance(search.best_estimator_[-1].network_, matnet.Network)


def test_regressor_in_pipeline(regression):
    X, y = regression
    model = make_pipeline(StandardScaler(), MatNetRegressor(epochs=60, random_state=0)).fit(X[:150], y[:150])
    assert model.score(X[150:], y[150:]) > 0.9


def test_string_labels_and_fitted_attributes(blobs):
    X, y = blobs
    names = np.array(["setosa", "versicolor", "virginica"], dtype=object)[y]
    clf = MatNetClassifier(hidden_layer_sizes=(8, 6), epochs=7, random_state=0)
    clf.fit(StandardScaler().fit_transform(X), names)
    assert list(clf.classes_) == ["setosa", "versicolor", "virginica"]
    assert clf.n_features_in_ == 5 and clf.n_iter_ == 7 and len(clf.loss_curve_) == 7
    assert clf.loss_curve_[-1] < clf.loss_curve_[0]
    assert clf.network_.sizes == [5, 8, 6, 3]
    assert set(clf.predict(StandardScaler().fit_transform(X))) <= set(clf.classes_)


def test_binary_problems_use_one_output_unit_per_class(blobs):
    X, y = blobs
    keep = y < 2
    clf = MatNetClassifier(epochs=5, random_state=0).fit(X[keep], np.where(y[keep], "yes", "no"))
    assert clf.network_.sizes[-1] == 2
    np.testing.assert_allclose(clf.predict_proba(X[keep]).sum(axis=1), 1.0, rtol=1e-12)


def test_estimator_trains_exactly_as_the_network_does(blobs):
    """fit is Network.fit with the estimator's options, seeded by random_state."""
    X, y = blobs
    X = StandardScaler().fit_transform(X)
    clf = MatNetClassifier(hidden_layer_sizes=(7,), eta=0.3, lmbda=0.1, epochs=4, batch_size=16,
                           random_state=5).fit(X, y)
    net = matnet.Network([5, 7, 3], cost=clf.cost, seed=5)
    net.fit(X, y, epochs=4, batch_size=16, eta=0.3, lmbda=0.1)
    for mine, theirs in zip(clf.network_.weights + clf.network_.biases, net.weights + net.biases):
        np.testing.assert_array_equal(mine, theirs)
    np.testing.assert_array_equal(clf.predict_proba(X), net.forward(X))     # softmax outputs, as they are
    np.testing.assert_allclose(clf.loss_curve_[-1], net.cost(X, y, lmbda=0.1), rtol=1e-12)


def test_partial_fit_needs_classes_first_then_accepts_batches(blobs):
    X, y = blobs
    clf = MatNetClassifier(random_state=0)
    with pytest.raises(ValueError, match="classes"):
        clf.partial_fit(X[:10], y[:10])
    clf.partial_fit(X[:10], y[:10], classes=[0, 1, 2])
    clf.partial_fit(X[10:20], y[10:20])
    clf.partial_fit(X[20:30], y[20:30], classes=[2, 1, 0])
    assert clf.n_iter_ == 3 and len(clf.loss_curve_) == 3
    with pytest.raises(ValueError, match="classes: expected the classes of the earlier calls"):
        clf.partial_fit(X[:10], y[:10], classes=[0, 1, 2, 3])
    with pytest.raises(ValueError, match="y: expected labels among classes"):
        clf.partial_fit(X[:10], np.full(10, 7))


def test_partial_fit_equals_the_networks_partial_fit(blobs):
    X, y = blobs
    X = StandardScaler().fit_transform(X)
    clf = MatNetClassifier(hidden_layer_sizes=(4,), batch_size=8, random_state=1)
    net = matnet.Network([5, 4, 3], cost=clf.cost, seed=1)
    for rows in np.array_split(np.arange(len(X)), 5):
        clf.partial_fit(X[rows], y[rows], classes=np.arange(3))
        net.partial_fit(X[rows], y[rows], eta=clf.eta, batch_size=8)
    for mine, theirs in zip(clf.network_.weights, net.weights):
        np.testing.assert_array_equal(mine, theirs)


def test_regressor_multioutput_and_float32(regression):
    X, y = regression
    Y = np.column_stack([y, -2 * y])
    reg = MatNetRegressor(epochs=40, eta=0.05, dtype="float32", random_state=0).fit(X, Y)
    assert reg.predict(X).shape == (200, 2) and reg.predict(X).dtype == np.float32
    assert reg.score(X, Y) > 0.8
    with pytest.raises(ValueError, match="targets per row"):
        reg.partial_fit(X, y)


@pytest.mark.parametrize("activation", [name for name, a in functions.ACTIVATIONS.items() if a.hidden_ok])
def test_every_hidden_activation(activation, blobs):
    X, y = blobs
    X = StandardScaler().fit_transform(X)
    clf = MatNetClassifier(activation=activation, eta=0.1, epochs=10, random_state=0).fit(X, y)
    assert clf.score(X, y) > 0.9


@pytest.mark.parametrize("optimizer", list(OPTIMIZER_CHOICES))
def test_every_optimizer(optimizer, blobs):
    X, y = blobs
    X = StandardScaler().fit_transform(X)
    clf = MatNetClassifier(optimizer=optimizer, eta=0.01 if optimizer == "adam" else 0.1,
                           epochs=10, random_state=0).fit(X, y)
    assert clf.score(X, y) > 0.9
    clf.partial_fit(X, y)
    assert clf.n_iter_ == 11


def test_partial_fit_passes_every_training_option(blobs):
    X, y = blobs
    options = dict(l1=0.01, optimizer="nesterov", momentum=0.5, eta=0.2, lmbda=0.1, batch_size=7)
    clf = MatNetClassifier(random_state=0, **options)
    net = matnet.Network([X.shape[1], 30, 3], cost="log_likelihood", seed=0)
    for start in range(0, len(X), 40):
        clf.partial_fit(X[start:start + 40], y[start:start + 40], classes=[0, 1, 2])
        net.partial_fit(X[start:start + 40], y[start:start + 40], **options)
    for a, b in zip(clf.network_.weights, net.weights):
        np.testing.assert_allclose(a, b, rtol=1e-12)


@pytest.mark.parametrize("cost", list(functions.COSTS))
def test_every_cost_trains_a_classifier(cost, blobs):
    X, y = blobs
    X = StandardScaler().fit_transform(X)
    clf = MatNetClassifier(cost=cost, epochs=10, random_state=0)
    try:
        clf.fit(X, y)
    except ValueError as exc:
        # A cost whose own output activation is not probability-like is refused, saying so.
        assert "output_activation" in str(exc)
        return
    assert clf.score(X, y) > 0.9
    np.testing.assert_allclose(clf.predict_proba(X).sum(axis=1), 1.0, rtol=1e-12)


def test_bad_options_are_reported_at_fit_naming_the_option(blobs):
    X, y = blobs
    for options, name in [({"activation": "nope"}, "activation"), ({"eta": -1.0}, "eta"),
                          ({"dtype": "float16"}, "dtype"), ({"hidden_layer_sizes": (0,)}, "sizes"),
                          ({"output_activation": "identity", "cost": "quadratic"}, "output_activation")]:
        clf = MatNetClassifier(**options)       # accepted as given: scikit-learn checks at fit
        with pytest.raises(ValueError, match=name):
            clf.fit(X, y)


def test_pickled_estimator_predicts_the_same(blobs):
    X, y = blobs
    clf = MatNetClassifier(epochs=3, random_state=0).fit(X, y)
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(clf)).predict_proba(X), clf.predict_proba(X))


def test_missing_scikit_learn_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "sklearn", None)      # makes "import sklearn" fail
    monkeypatch.delitem(sys.modules, "matnet.sklearn")     # so the import below runs the module again
    with pytest.raises(ImportError, match=r"matnet\.sklearn needs the optional dependency scikit-learn: "
                                          r"pip install 'matnet\[sklearn\]'"):
        importlib.import_module("matnet.sklearn")


def test_pickled_after_partial_fit_trains_on_as_if_never_pickled(blobs):
    X, y = blobs
    X = StandardScaler().fit_transform(X)
    clf = MatNetClassifier(optimizer="momentum", eta=0.05, random_state=0)
    clf.partial_fit(X[:120], y[:120], classes=[0, 1, 2])
    copy = pickle.loads(pickle.dumps(clf))
    clf.partial_fit(X[120:], y[120:])
    copy.partial_fit(X[120:], y[120:])
    np.testing.assert_array_equal(copy.predict_proba(X), clf.predict_proba(X))
