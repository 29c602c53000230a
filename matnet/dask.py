"""Dask: predict on a dask array block by block, and train out of core over its blocks.

    import dask.array as da
    import matnet.dask
    from matnet.sklearn import MatNetClassifier

    X = da.from_zarr("features.zarr")                  # (n_samples, n_features), chunked by rows
    y = da.from_zarr("labels.zarr")                    # (n_samples,), the same row chunks
    clf = matnet.dask.partial_fit(MatNetClassifier(random_state=0), X, y, classes=[0, 1, 2])
    labels = matnet.dask.predict(clf, X)               # a lazy dask array, one task per block

Both take any model with the scikit-learn method names: a ``matnet.Network`` (whose
``partial_fit`` needs ``eta=`` on the first block) or a ``MatNetClassifier``/``MatNetRegressor``.
Under a ``dask.distributed`` Client the tasks run on the cluster's workers: each block is
read where it lives, and only the model, a few kilobytes, travels from one block's task to
the next.  Without a Client, dask's local scheduler runs the same graph in this process.

dask-ml's ``Incremental`` wrapper drives the scikit-learn estimators the same way (one
``partial_fit`` per block, in order with ``shuffle_blocks=False``); these two functions do it
without that dependency, and for a plain ``Network`` too.
"""
import copy

import numpy as np

from ._optional import require


def _partial_fit(model, X, y, kwargs):
    model.partial_fit(X, y, **kwargs)
    return model


def partial_fit(model, X, y, **kwargs):
    """A copy of ``model`` trained by one ``partial_fit(X_block, y_block, **kwargs)`` per block, in order.

    Parameters
    ----------
    model : Network, MatNetClassifier or MatNetRegressor (or any object with ``partial_fit``)
        Not modified: training runs on a copy, which is returned.
    X : dask array of shape (n_samples, n_features)
        Chunked along the rows; the columns are gathered into one chunk if they are split.
    y : dask array of shape (n_samples,) or (n_samples, n_outputs)
        With the same row chunks as X.
    **kwargs
        Passed to every ``partial_fit`` call (``classes=`` for a classifier, ``eta=`` for a Network).

    Returns
    -------
    The trained model, computed (on the cluster's workers under a distributed Client).
    """
    dask = require("dask", "dask")
    X, y = _whole_rows(X, "X"), _whole_rows(y, "y")
    if X.chunks[0] != y.chunks[0]:
        raise ValueError(f"y: expected the row chunks of X, {X.chunks[0]}, got {y.chunks[0]}")
    step = dask.delayed(_partial_fit)
    # A chain of tasks, block after block: each takes the model the previous one returned.
    fitted = copy.deepcopy(model)
    for X_block, y_block in zip(X.to_delayed().ravel(), y.to_delayed().ravel()):
        fitted = step(fitted, X_block, y_block, kwargs)
    return fitted.compute()


def predict(model, X, method="predict"):
    """``model.<method>`` applied to each block of rows of X: a lazy dask array.

    Parameters
    ----------
    model : a trained Network, MatNetClassifier or MatNetRegressor
    X : dask array of shape (n_samples, n_features)
    method : str, default="predict"
        "predict", "predict_proba" (classifiers) or "forward" (a Network's raw outputs).

    Returns
    -------
    dask array of shape (n_samples,) or (n_samples, n_outputs), with the row chunks of X.
    """
    X = _whole_rows(X, "X")
    func = getattr(model, method)
    # One row through the model tells the output's dtype and width without computing X.
    sample = func(np.zeros((1, X.shape[1]), dtype=X.dtype))
    if sample.ndim == 1:
        return X.map_blocks(func, drop_axis=1, dtype=sample.dtype, meta=sample[:0])
    return X.map_blocks(func, chunks=(X.chunks[0], sample.shape[1:]), dtype=sample.dtype, meta=sample[:0])


def _whole_rows(A, name):
    """The dask array A with every chunk holding whole rows (all the columns)."""
    da = require("dask.array", "dask")
    if not isinstance(A, da.Array):
        raise TypeError(f"{name}: expected a dask array, got {type(A).__name__}; "
                        "call the model's own methods on in-memory data")
    return A.rechunk({1: -1}) if A.ndim == 2 and len(A.chunks[1]) > 1 else A
