"""The NumPy twin of every compiled kernel in ``_core.pyx``: the definitions.

Each public name has the same name and signature as its compiled twin and writes into a
caller-given array (``out``, or the first argument for the ``inplace_`` and ``_update``
kernels).  Arrays are C-contiguous, float32 or float64, all of one dtype; rows are samples.
The formulas of the activations are ``functions.ACTIVATIONS``; these kernels apply them.

The compiled kernels allocate nothing.  NumPy has no fused multiply-add, so some twins make
a small temporary; they are the readable reference, and the parity tests hold the compiled
side to them.
"""
import numpy as np

from . import functions as _functions   # private: every public name here has a compiled twin

# The activations the kernels compute, by name (the compiled module maps them to codes).
ACTIVATIONS = _functions.ACTIVATIONS


def _activation(name, activation, needs_prime=False):
    """ACTIVATIONS[activation], or a ValueError naming the argument."""
    choices = [a for a, f in ACTIVATIONS.items() if f.hidden_ok or not needs_prime]
    if activation not in choices:
        raise ValueError(f"{name}: expected one of {', '.join(map(repr, choices))}, got {activation!r}")
    return ACTIVATIONS[activation]


def inplace_add_bias_activate(Z, b, activation):
    """Z ← f(Z + b), b broadcast over the rows: the forward step after the GEMM.

    Z : ndarray of shape (n_samples, n_units), updated in place
    b : ndarray of shape (n_units,)
    activation : a name in ACTIVATIONS
    """
    f = _activation("activation", activation)
    Z += b
    f.apply(Z)


def inplace_mul_activation_prime(D, A, activation):
    """D ⊙= f'(Z) computed from A = f(Z): the hidden-layer delta, in place on the GEMM result Δ·W.

    D, A : ndarray of shape (n_samples, n_units)
    """
    _activation("activation", activation, needs_prime=True).mul_prime(D, A)


def output_delta(A, Y, out, activation):
    """out = (A - Y) ⊙ f'(Z): the output layer's delta ∂C/∂Z.

    With the quadratic cost, f is the output activation; for a cost paired with its
    canonical output (cross-entropy with sigmoid, log-likelihood with softmax) the
    derivatives cancel and ``activation`` is "identity": out = A - Y.
    """
    f = _activation("activation", activation, needs_prime=True)
    np.subtract(A, Y, out=out)
    f.mul_prime(out, A)


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


def momentum_update(P, V, G, mu, scale, decay, nesterov):
    """V ← μ V - scale · G, then P ← decay · P + V (or + μ V - scale · G with Nesterov).

    The book's momentum-based gradient descent (chapter 3), with ``scale = eta / m``.
    Nesterov's look-ahead is in the reparametrized form (Sutskever et al. 2013): P holds the
    look-ahead point, so the gradient is taken where it already is.
    V : the velocity, shaped like P, kept by the optimizer between steps.
    """
    V *= mu
    V -= scale * G
    if decay != 1.0:
        P *= decay
    if nesterov:
        P += mu * V - scale * G
    else:
        P += V


def adam_update(P, M, V, G, scale, beta1, beta2, step_size, epsilon, decay):
    """Adam (Kingma & Ba 2015) on the mean gradient g = scale · G:

    M ← β1 M + (1 - β1) g;  V ← β2 V + (1 - β2) g²;  P ← decay · P - step_size · M / (√V + ε)

    with ``step_size = eta · √(1 - β2^t) / (1 - β1^t)`` folding in the bias corrections (the
    paper's efficient form).  Weight decay is decoupled from the adaptive step (AdamW).
    """
    g = scale * G
    M *= beta1
    M += (1.0 - beta1) * g
    V *= beta2
    V += (1.0 - beta2) * (g * g)
    if decay != 1.0:
        P *= decay
    P -= step_size * (M / (np.sqrt(V) + epsilon))


def l1_shrink(P, amount):
    """P ← P - amount · sign(P): the L1 penalty's step (network2's exercise: w - (ηλ/n) sgn(w))."""
    P -= amount * np.sign(P)


def fused_epoch(X, Y, order, batch_size, eta, decay, weights, biases, activations, output_delta,
                X_batch, Y_batch, A, D):
    """One epoch of mini-batch SGD over the rows of X in the given order, in place.

    For each mini-batch of ``order`` (the last one may be short): gather its rows, forward,
    output delta, backward, and update every layer, w ← decay · w - (eta/m) ∇w and
    b ← b - (eta/m) ∇b.  That is the batched engine's epoch with plain SGD, so this
    definition runs exactly that (``engines.Batched``) with this module's kernels.

    X : (n_samples, n_0) and Y : (n_samples, n_L);  order : (n,) int, row indices.
    weights[l] : (n_{l+1}, n_l) and biases[l] : (n_{l+1}, 1), updated in place.
    activations : one name per layer, from ACTIVATIONS;  output_delta : the activation whose
    derivative multiplies A - Y ("identity" for a canonical cost), as in ``output_delta``.
    X_batch (rows, n_0), Y_batch (rows, n_L), A[l] and D[l] (rows, n_{l+1}): the compiled
    kernel's scratch buffers; the engine used here keeps its own.
    """
    import sys

    from . import engines, optimizers   # here: engines imports this module

    if len(activations) != len(weights):
        raise ValueError(f"activations: expected one name per layer ({len(weights)}), got {len(activations)}")
    for layer, name in enumerate(activations):
        _activation(f"activations[{layer}]", name, needs_prime=layer < len(weights) - 1)
    _activation("output_delta", output_delta, needs_prime=True)
    kernels = sys.modules[__name__]
    sgd = optimizers.SGD(kernels, weights, biases, eta)
    sgd.decay = decay   # given as the compiled kernel takes it, rather than from lmbda and n
    runner = engines.Batched(weights, biases, list(activations), output_delta, kernels, sgd)
    runner.epoch(X, Y, order, batch_size)
