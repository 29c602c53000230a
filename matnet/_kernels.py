"""The NumPy twin of every compiled kernel in ``_core.pyx``: the definitions.

Each function has the same name and signature as its compiled twin and writes into a
caller-given array (``out``, or the first argument for the ``inplace_`` kernels).
Arrays are 2-D, C-contiguous, float32 or float64, all of one dtype; rows are samples.

The compiled kernels allocate nothing.  NumPy has no fused multiply, so a few of these
twins make one small temporary; they are the readable reference, and the parity tests
hold the compiled side to them.
"""
import numpy as np

from . import functions as _functions   # private: every public name here is a twinned kernel


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



# -- The fused epoch's twin, and the batched step it loops over --------------------------
#
# fused_epoch is defined as the batched engine's math, so that math is written once, here,
# over a set of kernels (a ``functions.Bound``): the twin runs it with this module's
# kernels, engines.Batched with the active backend's.  The GEMMs are NumPy's in both.  The
# helpers are private only because every public name of this module has a compiled twin.

# What the twin supports, by name: every activation in the table, every output-delta kernel.
FUSED_ACTIVATIONS = _functions.ACTIVATIONS
FUSED_OUTPUT_DELTAS = {f.__name__: f for f in (delta_canonical, delta_quadratic_sigmoid)}


def _backprop_matrix(fns, X, Y, weights, biases, A, D, nabla_w, nabla_b):
    """Forward and backward over one mini-batch, rows are samples (DESIGN.md §3).

    fns : functions.Bound, the kernels to use.
    X : (m, n_0) and Y : (m, n_L), the mini-batch.  weights[l] : (n_{l+1}, n_l) and
    biases[l] : (n_{l+1},), read only.  A[l], D[l] : (m, n_{l+1}), the activations and
    deltas, written.  nabla_w[l] like weights[l], nabla_b[l] : (n_{l+1},), written: the
    gradients summed over the rows.
    """
    A_prev = X
    for A_l, w, b, add_bias_apply in zip(A, weights, biases, fns.add_bias_apply):
        np.matmul(A_prev, w.T, out=A_l)          # Z_l = A_{l-1} · W_lᵀ
        add_bias_apply(A_l, b, A_l)              # A_l = σ(Z_l + b_l), in place
        A_prev = A_l
    fns.output_delta(A[-1], Y, D[-1])
    for layer in range(len(A) - 1, -1, -1):
        A_prev = A[layer - 1] if layer else X
        np.matmul(D[layer].T, A_prev, out=nabla_w[layer])   # ∇W_l = Δ_lᵀ · A_{l-1}
        fns.sum_rows(D[layer], nabla_b[layer])              # ∇b_l = Σ_rows Δ_l
        if layer:   # no delta is needed for the input layer
            np.matmul(D[layer], weights[layer], out=D[layer - 1])
            fns.inplace_mul_prime[layer - 1](D[layer - 1], A[layer - 1])


def _update(fns, weights, biases, nabla_w, nabla_b, scale, decay):
    """w ← decay · w - scale · ∇w and b ← b - scale · ∇b (biases are not decayed)."""
    for w, b, nw, nb in zip(weights, biases, nabla_w, nabla_b):
        fns.sgd_update(w, nw, scale, decay)
        fns.sgd_update(b, nb, scale, 1.0)


def _sgd_epoch(fns, X, Y, order, batch_size, eta, decay, weights, biases,
              X_batch, Y_batch, A, D, nabla_w, nabla_b):
    """fused_epoch with the kernels ``fns`` (a functions.Bound) in place of names."""
    biases_flat = [b.reshape(-1) for b in biases]        # views, made once per epoch
    nabla_b_flat = [nb.reshape(-1) for nb in nabla_b]

    def first(m):   # the buffers' first m rows: views, C-contiguous as the buffers are
        return X_batch[:m], Y_batch[:m], [a[:m] for a in A], [d[:m] for d in D]

    full = first(min(batch_size, len(order)))
    for start in range(0, len(order), batch_size):
        rows = order[start:start + batch_size]
        m = len(rows)
        X_m, Y_m, A_m, D_m = full if m == len(full[0]) else first(m)   # the last may be short
        # mode="clip" lets take write straight into the buffer ("raise" buffers a copy);
        # the rows come from a permutation, so they are in range anyway.
        np.take(X, rows, axis=0, out=X_m, mode="clip")
        np.take(Y, rows, axis=0, out=Y_m, mode="clip")
        _backprop_matrix(fns, X_m, Y_m, weights, biases_flat, A_m, D_m, nabla_w, nabla_b_flat)
        _update(fns, weights, biases, nabla_w, nabla_b, eta / m, decay)


def _supported(name, value, table):
    """table[value], or a ValueError naming the argument."""
    if value not in table:
        raise ValueError(f"{name}: expected one of {', '.join(map(repr, table))}, got {value!r}")
    return table[value]


def fused_epoch(X, Y, order, batch_size, eta, decay, weights, biases, activations, output_delta,
                X_batch, Y_batch, A, D):
    """One epoch of mini-batch SGD over the rows of X in the given order, in place.

    For each mini-batch of ``order`` (the last one may be short): gather its rows into
    X_batch/Y_batch, forward, output delta, backward, and update every layer,
    w ← decay · w - (eta/m) ∇w and b ← b - (eta/m) ∇b.

    X : (n_samples, n_0) and Y : (n_samples, n_L);  order : (n,) int, row indices.
    weights[l] : (n_{l+1}, n_l) and biases[l] : (n_{l+1}, 1), updated in place.
    activations : one name per layer, from FUSED_ACTIVATIONS;  output_delta : the name of an
    output-delta kernel, from FUSED_OUTPUT_DELTAS.
    Buffers, contents on return unspecified, with rows >= min(batch_size, n):
    X_batch (rows, n_0), Y_batch (rows, n_L), A[l] and D[l] (rows, n_{l+1}).

    The compiled kernel folds each weight update into the GEMM of its gradient, so it takes
    no gradient buffers; this definition makes them, once per call.
    """
    layers = [_supported(f"activations[{l}]", a, FUSED_ACTIVATIONS) for l, a in enumerate(activations)]
    per_layer = {field: [globals()[getattr(a, field)] for a in layers]
                 for field in ("apply", "add_bias_apply", "inplace_mul_prime")}
    fns = _functions.Bound(**per_layer,
                          output_delta=_supported("output_delta", output_delta, FUSED_OUTPUT_DELTAS),
                          sum_rows=sum_rows, sgd_update=sgd_update)
    _sgd_epoch(fns, X, Y, order, batch_size, eta, decay, weights, biases, X_batch, Y_batch, A, D,
               [np.empty_like(w) for w in weights], [np.empty_like(b) for b in biases])
