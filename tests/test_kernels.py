"""The compiled kernels against their NumPy twins (the definitions), and the twins against
independent high-precision formulas, on random and extreme inputs in both dtypes."""
import numpy as np
import pytest
from conftest import RTOL

from matnet import _backend, _kernels

DTYPES = [np.float64, np.float32]
needs_core = pytest.mark.skipif(_backend._core is None, reason="the compiled extension is not built")


def _exact_sigmoid(Z):
    z = Z.astype(np.longdouble)
    return np.where(z >= 0, 1 / (1 + np.exp(-np.abs(z))), np.exp(-np.abs(z)) / (1 + np.exp(-np.abs(z))))


def _inputs(rng, dtype, shape=(7, 5)):
    """Random values, plus the extremes the kernels must survive: ±1000, ±30, 0."""
    Z = rng.normal(0, 5, size=shape).astype(dtype)
    Z.flat[:6] = [1000, -1000, 30, -30, 0, -0.0]
    return Z


def _activations(rng, dtype, shape=(7, 5)):
    A = rng.random(shape).astype(dtype)
    A.flat[:3] = [0, 1, 0.5]
    return A


@pytest.mark.parametrize("dtype", DTYPES)
def test_sigmoid_is_exact_and_never_overflows(rng, dtype):
    Z = _inputs(rng, dtype)
    out = np.empty_like(Z)
    _backend.kernels.sigmoid(Z, out)   # filterwarnings=error: an overflow warning fails here
    np.testing.assert_allclose(out, _exact_sigmoid(Z).astype(dtype), rtol=RTOL[dtype] * 10, atol=0)
    assert out.flat[1] == 0 and out.flat[0] == 1


@pytest.mark.parametrize("dtype", DTYPES)
def test_kernels_work_in_place(rng, dtype):
    K = _backend.kernels
    Z = _inputs(rng, dtype)
    expected = _exact_sigmoid(Z).astype(dtype)
    K.sigmoid(Z, Z)
    np.testing.assert_allclose(Z, expected, rtol=RTOL[dtype] * 10)
    D, A = rng.normal(size=(4, 3)).astype(dtype), _activations(rng, dtype, (4, 3))
    before = D.copy()
    K.inplace_mul_sigmoid_prime(D, A)
    np.testing.assert_allclose(D, before * A * (1 - A), rtol=RTOL[dtype])


@pytest.mark.parametrize("dtype", DTYPES)
def test_kernels_match_their_formulas(rng, dtype):
    K = _backend.kernels
    A, Y = _activations(rng, dtype), _activations(rng, dtype)
    Z, b = _inputs(rng, dtype), rng.normal(size=5).astype(dtype)
    out = np.empty_like(A)
    K.add_bias_sigmoid(Z, b, out)
    np.testing.assert_allclose(out, _exact_sigmoid(Z + b).astype(dtype), rtol=RTOL[dtype] * 10)
    K.sigmoid_prime(A, out)
    np.testing.assert_allclose(out, A * (1 - A), rtol=RTOL[dtype])
    K.delta_quadratic_sigmoid(A, Y, out)
    np.testing.assert_allclose(out, (A - Y) * A * (1 - A), rtol=RTOL[dtype])
    K.delta_canonical(A, Y, out)
    np.testing.assert_allclose(out, A - Y, rtol=RTOL[dtype])
    sums = np.empty(5, dtype)
    K.sum_rows(A, sums)
    np.testing.assert_allclose(sums, A.sum(axis=0, dtype=np.float64), rtol=RTOL[dtype] * 10)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("decay", [1.0, 0.99])
def test_sgd_update(rng, dtype, decay):
    P, G = rng.normal(size=(3, 4)).astype(dtype), rng.normal(size=(3, 4)).astype(dtype)
    expected = decay * P.astype(np.float64) - 0.3 * G
    target = P
    _backend.kernels.sgd_update(P, G, 0.3, decay)
    assert np.shares_memory(P, target)
    np.testing.assert_allclose(P, expected, rtol=RTOL[dtype] * 10, atol=RTOL[dtype])


KERNEL_CALLS = {
    "sigmoid": lambda K, Z, A, Y, b: K.sigmoid(Z, A),
    "add_bias_sigmoid": lambda K, Z, A, Y, b: K.add_bias_sigmoid(Z, b, A),
    "sigmoid_prime": lambda K, Z, A, Y, b: K.sigmoid_prime(Y, A),
    "inplace_mul_sigmoid_prime": lambda K, Z, A, Y, b: K.inplace_mul_sigmoid_prime(Z, Y),
    "delta_quadratic_sigmoid": lambda K, Z, A, Y, b: K.delta_quadratic_sigmoid(Y, A, Z),
    "delta_canonical": lambda K, Z, A, Y, b: K.delta_canonical(Y, A, Z),
    "sum_rows": lambda K, Z, A, Y, b: K.sum_rows(Z, b),
    "sgd_update": lambda K, Z, A, Y, b: K.sgd_update(Z, Y, 0.1, 0.999),
}


@needs_core
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", sorted(KERNEL_CALLS))
@pytest.mark.parametrize("shape", [(1, 1), (10, 30), (3, 784)])
def test_compiled_kernel_matches_numpy_twin(rng, name, dtype, shape):
    """Run each kernel on both backends over identical buffers; compare every buffer after."""
    Z, Y = _inputs(rng, dtype, shape), _activations(rng, dtype, shape)
    A, b = rng.random(shape).astype(dtype), rng.normal(size=shape[1]).astype(dtype)
    results = []
    for K in (_backend._core, _kernels):
        buffers = [x.copy() for x in (Z, A, Y, b)]
        KERNEL_CALLS[name](K, *buffers)
        results.append(buffers)
    for compiled, twin in zip(*results):
        np.testing.assert_allclose(compiled, twin, rtol=RTOL[dtype] * 10, atol=np.finfo(dtype).tiny)


# Kernels whose parity is tested elsewhere (tests/test_fused.py), and the tables beside them.
OTHER_PUBLIC_NAMES = {"fused_epoch", "FUSED_ACTIVATIONS", "FUSED_OUTPUT_DELTAS"}


def test_every_kernel_has_a_twin():
    public = {n for n in dir(_kernels) if not n.startswith("_") and n != "np"}
    assert public == set(KERNEL_CALLS) | OTHER_PUBLIC_NAMES
    if _backend._core is not None:
        assert all(hasattr(_backend._core, n) for n in public)


@needs_core
def test_compiled_kernels_reject_mixed_dtypes():
    with pytest.raises((TypeError, ValueError)):
        _backend._core.sigmoid(np.zeros((2, 2)), np.zeros((2, 2), np.float32))
