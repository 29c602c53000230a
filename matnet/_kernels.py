"""The NumPy twin of every compiled kernel in ``_core.pyx``: the definitions.

Each function has the same name and signature as its compiled twin and writes into a
caller-given array (``out``, or the first argument for the ``inplace_`` kernels).
Arrays are 2-D, C-contiguous, float32 or float64, all of one dtype; rows are samples.

The compiled kernels allocate nothing.  NumPy has no fused multiply, so a few of these
twins make one small temporary; they are the readable reference, and the parity tests
hold the compiled side to them.
"""
import numpy as np


def sigmoid(Z, out):
    """out = σ(Z) = 1 / (1 + exp(-Z)), elementwise.

    Computed as exp(-log(1 + exp(-Z))) with ``logaddexp``, which never overflows and keeps
    full relative precision in both tails (σ(-30) ≈ 9.4e-14 is exact to the last bits,
    where 0.5 + 0.5·tanh(Z/2) would keep only about 3 digits).

    Z, out : ndarray of shape (n_samples, n_units); ``out`` may be ``Z``.
    """
    np.negative(Z, out=out)
    np.logaddexp(0.0, out, out=out)
    np.negative(out, out=out)
    np.exp(out, out=out)


def add_bias_sigmoid(Z, b, out):
    """out = σ(Z + b), b broadcast over the rows: the forward step after the GEMM.

    Z, out : ndarray of shape (n_samples, n_units); ``out`` may be ``Z``.
    b : ndarray of shape (n_units,)
    """
    np.add(Z, b, out=out)
    sigmoid(out, out)


def sigmoid_prime(A, out):
    """out = σ'(Z) computed from the activation A = σ(Z): σ' = A (1 - A).

    The forward pass already has A, so the derivative costs two flops instead of an exp.
    """
    np.subtract(1.0, A, out=out)
    np.multiply(out, A, out=out)


def inplace_mul_sigmoid_prime(D, A):
    """D ⊙= A (1 - A): the hidden-layer delta, applied in place to the GEMM result Δ·W."""
    np.multiply(D, A, out=D)
    D *= 1.0 - A


def delta_quadratic_sigmoid(A, Y, out):
    """out = (A - Y) ⊙ A (1 - A): output delta of the quadratic cost with sigmoid outputs."""
    np.subtract(A, Y, out=out)
    np.multiply(out, A, out=out)
    out *= 1.0 - A


def delta_canonical(A, Y, out):
    """out = A - Y: output delta of a cost paired with its canonical output activation.

    Cross-entropy with sigmoid, log-likelihood with softmax and quadratic with identity
    outputs all have this delta: the activation's derivative cancels against the cost's.
    """
    np.subtract(A, Y, out=out)


def sum_rows(D, out):
    """out[j] = Σ_i D[i, j]: the bias gradient, summed over the mini-batch.

    D : ndarray of shape (n_samples, n_units)
    out : ndarray of shape (n_units,)
    """
    np.sum(D, axis=0, out=out)


def sgd_update(P, G, scale, decay):
    """P ← decay · P - scale · G, in place: one SGD step with L2 weight decay.

    With ``scale = eta / m`` and ``decay = 1 - eta * lmbda / n`` this is network2's
    ``w ← (1 - ηλ/n) w - (η/m) ∇w``; ``decay = 1`` is plain SGD.
    """
    if decay != 1.0:
        P *= decay
    P -= scale * G
