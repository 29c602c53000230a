"""Checks at the public entry points: every error names the argument, what was expected
and what was received, so a user can fix the call from the message alone."""
import math
import numbers
import os

import numpy as np


def _describe(value):
    if isinstance(value, np.ndarray):
        return f"an array of shape {value.shape} and dtype {value.dtype}"
    return f"{value!r} ({type(value).__name__})"


def check_number(name, value, *, low=None, low_inclusive=True, high=None, integer=False):
    """A finite real (or integer) scalar, optionally bounded; returns it as float/int."""
    kind = "an integer" if integer else "a finite number"
    bound = "" if low is None else f" {'>=' if low_inclusive else '>'} {low}"
    bound += "" if high is None else f"{' and' if bound else ''} <= {high}"
    ok = isinstance(value, numbers.Integral if integer else numbers.Real) and not isinstance(value, bool)
    if ok:
        try:
            value = int(value) if integer else float(value)   # a Python int may be any size
        except OverflowError:
            ok = False
        else:
            ok = ((integer or math.isfinite(value))
                  and (low is None or (value >= low if low_inclusive else value > low))
                  and (high is None or value <= high))
    if not ok:
        raise (ValueError if isinstance(value, numbers.Real) and not isinstance(value, bool) else TypeError)(
            f"{name}: expected {kind}{bound}, got {_describe(value)}"
        )
    return value


def check_flag(name, value):
    """True or False (a NumPy bool too)."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name}: expected True or False, got {_describe(value)}")
    return bool(value)


def check_seed(seed):
    """None or a non-negative integer, as np.random.default_rng takes it."""
    if seed is not None:
        check_number("seed", seed, low=0, integer=True)
    return seed


def check_path(name, path):
    """A file name: str or os.PathLike."""
    try:
        return os.fspath(path)
    except TypeError:
        raise TypeError(f"{name}: expected a file name (str or path), got {_describe(path)}") from None


def check_choice(name, value, choices):
    if not isinstance(value, str) or value not in choices:
        raise ValueError(f"{name}: expected one of {', '.join(map(repr, choices))}, got {_describe(value)}")
    return value


def check_sizes(sizes):
    """At least an input and an output layer, each a positive integer."""
    try:
        sizes = list(sizes)
    except TypeError:
        raise TypeError(f"sizes: expected a list of layer sizes such as [784, 30, 10], got {_describe(sizes)}") from None
    if len(sizes) < 2:
        raise ValueError(f"sizes: expected at least two layers (input and output), got {sizes!r}")
    for i, n in enumerate(sizes):
        check_number(f"sizes[{i}]", n, low=1, integer=True)
    return [int(n) for n in sizes]


# Rows checked for NaN and inf at a time: the check then needs a small buffer, not one the
# size of the data (which may be a memory-mapped file larger than RAM).
_CHUNK_ROWS = 8192


def as_float_array(name, X, dtype):
    """A numeric array as a C-contiguous ``dtype`` array, checked to be finite.

    An array that already is one (a memory-mapped file included) is returned as it is, not
    copied; anything else is converted.  Object, complex, string and other non-numeric
    arrays are refused, and so are NaN and inf, naming ``name`` in the error.
    """
    if isinstance(X, np.ma.MaskedArray):
        raise TypeError(f"{name}: expected a plain array, got a masked array; fill or drop the masked "
                        "values first (X.filled(...) or X.compressed())")
    try:
        arr = np.asarray(X)   # an ndarray (a memmap's view included) is not copied
    except (ValueError, TypeError) as exc:
        raise ValueError(f"{name}: expected a numeric array, could not convert it ({exc})") from None
    if arr.dtype.kind not in "biuf":
        raise TypeError(
            f"{name}: expected a real numeric array (float or integer), got dtype {arr.dtype}"
        )
    _check_finite(name, arr)
    if arr.dtype != dtype or not arr.flags.c_contiguous:
        with np.errstate(over="ignore"):
            arr = np.ascontiguousarray(arr, dtype=dtype)
        _check_finite(name, arr, f"values beyond the range of {np.dtype(dtype).name}")
    return arr


def _check_finite(name, arr, what="NaN or infinite entries"):
    """Count the non-finite entries a block of rows at a time; raise if there are any."""
    if arr.dtype.kind != "f":
        return
    rows = arr.reshape(arr.shape[0], -1) if arr.ndim > 1 and arr.size else arr.reshape(-1, 1)
    bad = sum(int(rows[start:start + _CHUNK_ROWS].size - np.count_nonzero(np.isfinite(rows[start:start + _CHUNK_ROWS])))
              for start in range(0, len(rows), _CHUNK_ROWS))
    if bad:
        raise ValueError(f"{name}: expected finite values, got {bad} {what}")


def check_X(X, n_features, dtype, name="X"):
    """X of shape (n_samples, n_features) as a C-contiguous ``dtype`` array."""
    X = as_float_array(name, X, dtype)
    if X.ndim != 2 or X.shape[1] != n_features:
        raise ValueError(f"{name}: expected shape (n_samples, {n_features}), got {X.shape}")
    if X.shape[0] == 0:
        raise ValueError(f"{name}: expected at least one sample, got shape {X.shape}")
    return X


def check_targets(y, n_samples, n_outputs, dtype, name="y"):
    """Integer labels (n_samples,) in [0, n_outputs), or targets (n_samples, n_outputs).

    Returns the target matrix Y of shape (n_samples, n_outputs): labels become one-hot rows.
    A network with one output takes y of shape (n_samples,) as its targets.
    """
    arr = as_float_array(name, y, np.float64)
    if arr.ndim == 1 and n_outputs > 1:
        if arr.shape[0] != n_samples:
            raise ValueError(f"{name}: expected {n_samples} labels to match X, got {arr.shape[0]}")
        # Range and integrality are checked on the floats, before any cast could overflow.
        bad = (arr != np.floor(arr)) | (arr < 0) | (arr >= n_outputs)
        if np.any(bad):
            raise ValueError(
                f"{name}: expected integer class labels in [0, {n_outputs}) or targets of shape "
                f"({n_samples}, {n_outputs}), got label {arr[bad][0]:g}"
            )
        Y = np.zeros((n_samples, n_outputs), dtype=dtype)
        Y[np.arange(n_samples), arr.astype(np.int64)] = 1.0
        return Y
    if arr.ndim == 1:
        arr = arr.reshape(-1, 1)
    if arr.shape != (n_samples, n_outputs):
        raise ValueError(
            f"{name}: expected labels of shape ({n_samples},) or targets of shape "
            f"({n_samples}, {n_outputs}), got {arr.shape}"
        )
    return as_float_array(name, arr, dtype)


def labels_of(Y):
    """Class labels from a target matrix: the argmax of each row (or a 0.5 threshold for one output)."""
    if Y.shape[1] == 1:
        return (Y[:, 0] > 0.5).astype(np.int64)
    return np.argmax(Y, axis=1)


def from_book_data(data, n_inputs, n_outputs, name):
    """The book's list (or zip) of (x, y) pairs, x of shape (n_inputs, 1) and y either a
    column of shape (n_outputs, 1) or an int label, as arrays (X, y) with rows as samples."""
    try:
        pairs = list(data)
    except TypeError:
        raise TypeError(f"{name}: expected a list of (x, y) pairs as the book uses, got {_describe(data)}") from None
    if not pairs:
        raise ValueError(f"{name}: expected at least one (x, y) pair, got an empty dataset")
    try:
        xs, ys = zip(*pairs)
    except (TypeError, ValueError):
        raise TypeError(f"{name}: expected a list of (x, y) pairs, got items such as {_describe(pairs[0])}") from None
    try:
        X = np.stack([np.asarray(x).reshape(-1) for x in xs])
    except (ValueError, TypeError):
        raise ValueError(f"{name}: expected every x to be a numeric array of shape ({n_inputs}, 1), "
                         "got differing shapes or non-numeric values") from None
    if X.shape[1] != n_inputs:
        raise ValueError(f"{name}: expected every x to have shape ({n_inputs}, 1), got {np.shape(xs[0])}")
    try:
        if np.ndim(ys[0]) == 0:
            y = np.asarray(ys)
        else:
            y = np.stack([np.asarray(t).reshape(-1) for t in ys])
    except (ValueError, TypeError):
        raise ValueError(f"{name}: expected every y to be an int label or a column of shape ({n_outputs}, 1), "
                         "got a mixture or differing shapes") from None
    return X, y
