"""The compiled kernels against their NumPy twins (the definitions), and the twins against
independent formulas, on random and extreme inputs in both dtypes."""
import numpy as np
import pytest
from conftest import RTOL

from matnet import _backend, _kernels, functions

DTYPES = [np.float64, np.float32]
ACTIVATIONS = list(functions.ACTIVATIONS)
WITH_PRIME = [a for a, f in functions.ACTIVATIONS.items() if f.hidden_ok]
needs_core = pytest.mark.skipif(_backend._core is None, reason="the compiled extension is not built")


def _exact(activation, Z):
    """Each activation computed independently, in extended precision."""
    z = Z.astype(np.longdouble)
    if activation == "sigmoid":
        e = np.exp(-np.abs(z))
        return np.where(z >= 0, 1 / (1 + e), e / (1 + e))
    if activation == "tanh":
        return np.tanh(z)
    if activation == "relu":
        return np.where(z > 0, z, 0)
    if activation == "identity":
        return z
    shifted = np.exp(z - z.max(axis=1, keepdims=True))
    return shifted / shifted.sum(axis=1, keepdims=True)


def _exact_prime(activation, A):
    a = A.astype(np.longdouble)
    return {"sigmoid": a * (1 - a), "tanh": 1 - a * a, "relu": (a > 0).astype(np.longdouble),
            "identity": np.ones_like(a)}[activation]


def _inputs(rng, dtype, shape=(7, 5)):
    """Random values, plus the extremes the kernels must survive: ±1000, ±30, 0."""
    Z = rng.normal(0, 5, size=shape).astype(dtype)
    Z.flat[:min(6, Z.size)] = [1000, -1000, 30, -30, 0, -0.0][:min(6, Z.size)]
    return Z


def _activations(rng, dtype, shape=(7, 5)):
    A = rng.random(shape).astype(dtype)
    A.flat[:min(3, A.size)] = [0, 1, 0.5][:min(3, A.size)]
    return A


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_activations_are_exact_and_never_overflow(rng, dtype, activation):
    Z, b = _inputs(rng, dtype), rng.normal(size=5).astype(dtype)
    expected = _exact(activation, Z.astype(np.longdouble) + b).astype(dtype)
    target = Z
    _backend.kernels.inplace_add_bias_activate(Z, b, activation)   # an overflow warning fails here
    assert np.shares_memory(Z, target)
    np.testing.assert_allclose(Z, expected, rtol=RTOL[dtype] * 10, atol=np.finfo(dtype).tiny)


def test_sigmoid_saturates_exactly():
    Z = np.array([[1000.0, -1000.0, 0.0]])
    _backend.kernels.inplace_add_bias_activate(Z, np.zeros(3), "sigmoid")
    assert Z.tolist() == [[1.0, 0.0, 0.5]]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("activation", WITH_PRIME)
def test_derivatives_and_output_delta(rng, dtype, activation):
    K = _backend.kernels
    A, Y = _activations(rng, dtype), _activations(rng, dtype)
    if activation == "tanh":
        A = 2 * A - 1
    D = rng.normal(size=A.shape).astype(dtype)
    expected = D * _exact_prime(activation, A)
    K.inplace_mul_activation_prime(D, A, activation)
    np.testing.assert_allclose(D, expected.astype(dtype), rtol=RTOL[dtype] * 10)
    out = np.empty_like(A)
    K.output_delta(A, Y, out, activation)
    np.testing.assert_allclose(out, ((A - Y) * _exact_prime(activation, A)).astype(dtype), rtol=RTOL[dtype] * 10,
                               atol=RTOL[dtype])


@pytest.mark.parametrize("dtype", DTYPES)
def test_sum_rows(rng, dtype):
    A = _activations(rng, dtype)
    sums = np.empty(5, dtype)
    _backend.kernels.sum_rows(A, sums)
    np.testing.assert_allclose(sums, A.sum(axis=0, dtype=np.float64), rtol=RTOL[dtype] * 10)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("decay", [1.0, 0.99])
def test_update_kernels_against_formulas(rng, dtype, decay):
    K = _backend.kernels
    P, G, V = (rng.normal(size=(3, 4)).astype(dtype) for _ in range(3))
    M, S = rng.normal(size=(3, 4)).astype(dtype), rng.random((3, 4)).astype(dtype)
    p, g, v, m, s = (x.astype(np.float64) for x in (P, G, V, M, S))
    tol = dict(rtol=RTOL[dtype] * 10, atol=RTOL[dtype])

    sgd = P.copy()
    K.sgd_update(sgd, G, 0.3, decay)
    np.testing.assert_allclose(sgd, decay * p - 0.3 * g, **tol)

    for nesterov in (False, True):
        mom, vel = P.copy(), V.copy()
        K.momentum_update(mom, vel, G, 0.9, 0.3, decay, nesterov)
        new_v = 0.9 * v - 0.3 * g
        np.testing.assert_allclose(vel, new_v, **tol)
        np.testing.assert_allclose(mom, decay * p + (0.9 * new_v - 0.3 * g if nesterov else new_v), **tol)

    adam, first, second = P.copy(), M.copy(), S.copy()
    K.adam_update(adam, first, second, G, 0.5, 0.9, 0.999, 0.01, 1e-8, decay)
    mean = 0.5 * g
    new_m, new_s = 0.9 * m + 0.1 * mean, 0.999 * s + 0.001 * mean ** 2
    np.testing.assert_allclose(first, new_m, **tol)
    np.testing.assert_allclose(second, new_s, **tol)
    np.testing.assert_allclose(adam, decay * p - 0.01 * new_m / (np.sqrt(new_s) + 1e-8), **tol)

    shrunk = P.copy()
    K.l1_shrink(shrunk, 0.05)
    np.testing.assert_allclose(shrunk, p - 0.05 * np.sign(p), **tol)


def _call(name, K, Z, A, Y, b, V, activation):
    """Each kernel on a shared set of buffers (all are compared after the call)."""
    return {
        "inplace_add_bias_activate": lambda: K.inplace_add_bias_activate(Z, b, activation),
        "inplace_mul_activation_prime": lambda: K.inplace_mul_activation_prime(Z, Y, activation),
        "output_delta": lambda: K.output_delta(Y, A, Z, activation),
        "sum_rows": lambda: K.sum_rows(Z, b),
        "sgd_update": lambda: K.sgd_update(Z, Y, 0.1, 0.999),
        "momentum_update": lambda: K.momentum_update(Z, V, Y, 0.9, 0.1, 0.999, activation == "tanh"),
        "adam_update": lambda: K.adam_update(Z, V, A, Y, 0.1, 0.9, 0.999, 0.01, 1e-8, 0.999),
        "l1_shrink": lambda: K.l1_shrink(Z, 0.01),
    }[name]()


KERNELS = ["inplace_add_bias_activate", "inplace_mul_activation_prime", "output_delta", "sum_rows",
           "sgd_update", "momentum_update", "adam_update", "l1_shrink"]


@needs_core
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", KERNELS)
@pytest.mark.parametrize("activation", WITH_PRIME)
@pytest.mark.parametrize("shape", [(1, 1), (10, 30), (3, 784)])
def test_compiled_kernel_matches_numpy_twin(rng, name, dtype, activation, shape):
    """Run each kernel on both backends over identical buffers; compare every buffer after."""
    Z, Y = _inputs(rng, dtype, shape), _activations(rng, dtype, shape)
    A, V = rng.random(shape).astype(dtype), rng.random(shape).astype(dtype)
    b = rng.normal(size=shape[1]).astype(dtype)
    results = []
    for K in (_backend._core, _kernels):
        buffers = [x.copy() for x in (Z, A, Y, b, V)]
        _call(name, K, *buffers, activation)
        results.append(buffers)
    for compiled, twin in zip(*results):
        np.testing.assert_allclose(compiled, twin, rtol=RTOL[dtype] * 10, atol=np.finfo(dtype).tiny)


@needs_core
@pytest.mark.parametrize("dtype", DTYPES)
def test_compiled_softmax_matches_numpy_twin(rng, dtype):
    Z, b = _inputs(rng, dtype, (6, 10)), rng.normal(size=10).astype(dtype)
    compiled, twin = Z.copy(), Z.copy()
    _backend._core.inplace_add_bias_activate(compiled, b, "softmax")
    _kernels.inplace_add_bias_activate(twin, b, "softmax")
    np.testing.assert_allclose(compiled, twin, rtol=RTOL[dtype] * 10, atol=np.finfo(dtype).tiny)
    np.testing.assert_allclose(compiled.sum(axis=1), 1, rtol=RTOL[dtype] * 10)


def test_every_kernel_has_a_twin():
    public = {n for n in dir(_kernels) if not n.startswith("_") and n != "np"}
    assert public == set(KERNELS) | {"fused_epoch", "ACTIVATIONS"}
    if _backend._core is not None:
        assert {n for n in dir(_backend._core) if not n.startswith("_")} >= public
        assert set(_backend._core.ACTIVATIONS) == set(_kernels.ACTIVATIONS)


@pytest.mark.parametrize("call, message", [
    (lambda K: K.inplace_add_bias_activate(np.zeros((2, 3)), np.zeros(3), "swish"), "activation: expected one of"),
    (lambda K: K.inplace_mul_activation_prime(np.zeros((2, 3)), np.zeros((2, 3)), "softmax"), "activation"),
    (lambda K: K.output_delta(np.zeros((2, 3)), np.zeros((2, 3)), np.zeros((2, 3)), "softmax"), "activation"),
])
def test_kernels_reject_bad_arguments(call, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        call(_backend.kernels)


@needs_core
@pytest.mark.parametrize("call", [
    lambda K: K.sgd_update(np.zeros((2, 2)), np.zeros((2, 2), np.float32), 0.1, 1.0),
    lambda K: K.sgd_update(np.zeros((2, 2)), np.zeros((3, 2)), 0.1, 1.0),
    lambda K: K.sum_rows(np.zeros((2, 3)), np.zeros(2)),
    lambda K: K.inplace_add_bias_activate(np.zeros((2, 3)), np.zeros(2), "sigmoid"),
    lambda K: K.output_delta(np.zeros((2, 3)), np.zeros((2, 2)), np.zeros((2, 3)), "sigmoid"),
    lambda K: K.inplace_mul_activation_prime(np.zeros((2, 3)), np.zeros((3, 3)), "tanh"),
    lambda K: K.inplace_add_bias_activate(np.zeros((2, 3)).T, np.zeros(2), "tanh"),
])
def test_compiled_kernels_reject_mismatched_buffers(call):
    with pytest.raises((TypeError, ValueError)):
        call(_backend._core)
