"""The engines: each turns a mini-batch into the summed gradients and hands them to the optimizer.

``per_sample`` is the book's algorithm, corrected: a Python loop over the samples of a
mini-batch, each sample a column, the per-sample gradients summed.  ``batched`` stacks the
mini-batch into one matrix (rows are samples), so each layer costs one GEMM forward and two
backward, whatever the batch size.  ``fused`` runs the batched math for a whole epoch in one
kernel call (compiled: no Python call per mini-batch, the GIL released, BLAS called
directly); its NumPy twin is the batched engine's own epoch, so it works on both backends.

Why the gradients are summed over the mini-batch: the mini-batch cost is the *mean* of the
per-sample costs, so its gradient is the mean of the per-sample gradients.  The book's loop
adds them up and the update divides by ``len(mini_batch)``.  In the matrix form that sum is
not a loop at all: ``∇W = Δᵀ · A_prev`` contracts over the batch dimension, so the sum over
samples *is* the inner dimension of one matrix product (and ``∇b`` is a column sum of Δ).

Every engine computes its elementwise math with one set of kernels (the active backend's,
unless given others), so the engines' gradients agree to ~1e-12; the tests check it.
"""
import numpy as np

from . import _backend, functions


# Rows per block in ``forward``: the activations of a block stay small whatever n is.
_FORWARD_ROWS = 8192


def forward(net, X):
    """Outputs of the network for the rows of X, a block of rows at a time.

    X : ndarray of shape (n_samples, n_inputs), the network's dtype, C-contiguous (a
    memory-mapped file is read block by block, never whole).
    Returns ndarray of shape (n_samples, n_outputs), freshly allocated: safe to call from
    several threads at once on one network.
    """
    kernels = _backend.kernels
    out = np.empty((len(X), net.sizes[-1]), net.dtype)
    # Weights so large that a product overflows give inf outputs (or NaN, for softmax), which
    # is what they are; NumPy's warning on the way would only repeat it.
    with np.errstate(over="ignore", invalid="ignore"):
        for start in range(0, len(X), _FORWARD_ROWS):
            A = X[start:start + _FORWARD_ROWS]
            for w, b, activation in zip(net.weights, net.biases, net.activations):
                Z = A @ w.T
                kernels.inplace_add_bias_activate(Z, b.reshape(-1), activation.name)
                A = Z
            out[start:start + len(A)] = A
    return out


class _Engine:
    """What every engine holds: the parameters, the activations by name, the kernels, the
    optimizer; and the epoch loop of the two engines that run one mini-batch at a time.

    weights[l] : (n_{l+1}, n_l) and biases[l] : (n_{l+1}, 1), updated in place.
    activations : one name per layer.  output_delta : the activation whose derivative
    multiplies A - Y in the output delta (``functions.output_delta_activation``).
    """

    name = ""

    def __init__(self, weights, biases, activations, output_delta, kernels, optimizer=None):
        self.weights, self.biases = weights, biases
        self.activations, self.output_delta = activations, output_delta
        self.kernels, self.optimizer = kernels, optimizer

    @classmethod
    def for_network(cls, net, optimizer=None):
        output = net.activations[-1]
        return cls(net.weights, net.biases, [a.name for a in net.activations],
                   functions.output_delta_activation(net.cost_function, output), _backend.kernels, optimizer)

    def batch_gradients(self, X, Y, rows, sample_weight=None):
        """Σ over ``rows`` of the (weighted) per-sample gradients: (nabla_b, nabla_w), book shapes."""
        raise NotImplementedError

    def gradients(self, X, Y):
        """Σ over all the rows of X of the per-sample gradients, as fresh arrays."""
        nabla_b, nabla_w = self.batch_gradients(X, Y, np.arange(len(X)))
        return [nb.copy() for nb in nabla_b], [nw.copy() for nw in nabla_w]

    def epoch(self, X, Y, order, batch_size, sample_weight=None):
        """One pass over the rows of X in the given order, a mini-batch at a time.

        X : ndarray (n_samples, n_inputs);  Y : ndarray (n_samples, n_outputs)
        order : int64 ndarray (n,), the row indices in the order to visit them
        sample_weight : ndarray (n_samples,) or None
        """
        for start in range(0, len(order), batch_size):
            rows = order[start:start + batch_size]
            nabla_b, nabla_w = self.batch_gradients(X, Y, rows, sample_weight)
            self.optimizer.update(nabla_b, nabla_w, len(rows))


class PerSample(_Engine):
    """The book's ``update_mini_batch``/``backprop``: one sample at a time, as columns."""

    name = "per_sample"

    def backprop(self, x, y, weight=None):
        """Gradients of one sample's cost: x (n_inputs, 1), y (n_outputs, 1), times ``weight``.

        Returns (nabla_b, nabla_w), lists shaped like ``biases`` and ``weights``.  The book's
        version computed σ'(z) from z again; here the derivative comes from the activation.
        The kernels work on rows, so they get each column's (1, n) transpose, a view.
        """
        kernels = self.kernels
        activations = [x]
        for w, b, activation in zip(self.weights, self.biases, self.activations):
            z = w @ activations[-1]
            kernels.inplace_add_bias_activate(z.T, b.reshape(-1), activation)
            activations.append(z)
        n_layers = len(self.weights)
        nabla_b, nabla_w = [None] * n_layers, [None] * n_layers
        delta = np.empty_like(activations[-1])
        kernels.output_delta(activations[-1].T, y.T, delta.T, self.output_delta)
        if weight is not None:
            delta *= weight
        for layer in range(n_layers - 1, -1, -1):
            nabla_b[layer] = delta
            nabla_w[layer] = delta @ activations[layer].T
            if layer:
                delta = self.weights[layer].T @ delta
                kernels.inplace_mul_activation_prime(delta.T, activations[layer].T, self.activations[layer - 1])
        return nabla_b, nabla_w

    def batch_gradients(self, X, Y, rows, sample_weight=None):
        nabla_b = [np.zeros_like(b) for b in self.biases]
        nabla_w = [np.zeros_like(w) for w in self.weights]
        for i in rows:
            weight = None if sample_weight is None else sample_weight[i]
            delta_b, delta_w = self.backprop(X[i].reshape(-1, 1), Y[i].reshape(-1, 1), weight)
            for nb, db in zip(nabla_b, delta_b):
                nb += db
            for nw, dw in zip(nabla_w, delta_w):
                nw += dw
        return nabla_b, nabla_w


class _Workspace:
    """Every buffer one batched step needs, for one batch size: made once, reused each step."""

    def __init__(self, sizes, batch_size, dtype):
        self.X = np.empty((batch_size, sizes[0]), dtype)
        self.Y = np.empty((batch_size, sizes[-1]), dtype)
        self.sample_weight = np.empty((batch_size, 1), dtype)
        self.A = [np.empty((batch_size, n), dtype) for n in sizes[1:]]   # activations, per layer
        self.D = [np.empty((batch_size, n), dtype) for n in sizes[1:]]   # deltas, per layer
        self.nabla_w = [np.empty((n_out, n_in), dtype) for n_in, n_out in zip(sizes[:-1], sizes[1:])]
        self.nabla_b = [np.empty((n, 1), dtype) for n in sizes[1:]]
        # Views made once: creating them per step would cost a Python object each time.
        self.DT = [d.T for d in self.D]
        self.nabla_b_flat = [nb.reshape(-1) for nb in self.nabla_b]
        self.sample_weight_flat = self.sample_weight.reshape(-1)


class Batched(_Engine):
    """The matrix form: a mini-batch is one (m, n) matrix, rows are samples."""

    name = "batched"

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.sizes = [self.weights[0].shape[1]] + [w.shape[0] for w in self.weights]
        self.dtype = self.weights[0].dtype
        # Views made once; the parameters are updated in place, so they stay current.
        self.weights_T = [w.T for w in self.weights]
        self.biases_flat = [b.reshape(-1) for b in self.biases]
        self._workspaces = {}

    def workspace(self, batch_size):
        """The buffers for ``batch_size`` rows (an epoch needs at most two sizes)."""
        ws = self._workspaces.get(batch_size)
        if ws is None:
            ws = self._workspaces[batch_size] = _Workspace(self.sizes, batch_size, self.dtype)
        return ws

    def backprop_matrix(self, ws, X, Y, sample_weight=None):
        """Forward and backward over a whole mini-batch, into the buffers of ``ws`` (DESIGN.md §3).

        X : (m, n_0) and Y : (m, n_L); sample_weight : (m, 1) or None.  Leaves the gradients,
        summed over the rows, in ws.nabla_b and ws.nabla_w, and returns them.
        """
        kernels = self.kernels
        A_prev = X
        for A, wT, b, activation in zip(ws.A, self.weights_T, self.biases_flat, self.activations):
            np.matmul(A_prev, wT, out=A)                              # Z_l = A_{l-1} · W_lᵀ
            kernels.inplace_add_bias_activate(A, b, activation)       # A_l = f(Z_l + b_l)
            A_prev = A
        kernels.output_delta(ws.A[-1], Y, ws.D[-1], self.output_delta)
        if sample_weight is not None:
            # Backpropagation is linear in Δ_L: weighting its rows weights every gradient.
            np.multiply(ws.D[-1], sample_weight, out=ws.D[-1])
        for layer in range(len(ws.A) - 1, -1, -1):
            A_prev = ws.A[layer - 1] if layer else X
            np.matmul(ws.DT[layer], A_prev, out=ws.nabla_w[layer])    # ∇W_l = Δ_lᵀ · A_{l-1}
            kernels.sum_rows(ws.D[layer], ws.nabla_b_flat[layer])     # ∇b_l = Σ_rows Δ_l
            if layer:   # Δ_{l-1} = (Δ_l · W_l) ⊙ f'(Z_{l-1}); none is needed for the input layer
                np.matmul(ws.D[layer], self.weights[layer], out=ws.D[layer - 1])
                kernels.inplace_mul_activation_prime(ws.D[layer - 1], ws.A[layer - 1], self.activations[layer - 1])
        return ws.nabla_b, ws.nabla_w

    def batch_gradients(self, X, Y, rows, sample_weight=None):
        ws = self.workspace(len(rows))
        # mode="clip" lets take write straight into the buffer ("raise" buffers a copy);
        # the rows come from a permutation, so they are in range anyway.
        np.take(X, rows, axis=0, out=ws.X, mode="clip")
        np.take(Y, rows, axis=0, out=ws.Y, mode="clip")
        if sample_weight is None:
            return self.backprop_matrix(ws, ws.X, ws.Y)
        np.take(sample_weight, rows, out=ws.sample_weight_flat, mode="clip")
        return self.backprop_matrix(ws, ws.X, ws.Y, ws.sample_weight)


class Fused(Batched):
    """A whole epoch in one call of the backend's ``fused_epoch`` kernel: plain SGD (with L2
    decay), no L1, no sample weights.

    Compiled, that is the batched math with no Python call per mini-batch and the GIL
    released; with the NumPy backend it is its twin, the batched engine's own epoch.  The
    buffers are the batched engine's, made once per batch size.
    """

    name = "fused"

    @staticmethod
    def unsupported(optimizer, weighted):
        """Why the fused epoch cannot run this training, or "" if it can."""
        reasons = []
        if optimizer.name != "sgd":
            reasons.append(f"optimizer={optimizer.name!r}")
        if optimizer.l1:
            reasons.append("l1")
        if weighted:
            reasons.append("sample_weight")
        return ", ".join(reasons)

    def epoch(self, X, Y, order, batch_size, sample_weight=None):
        batch_size = min(batch_size, len(order))   # also keeps a huge batch_size within C's range
        ws = self.workspace(batch_size)
        self.kernels.fused_epoch(X, Y, order, batch_size, self.optimizer.eta, self.optimizer.decay,
                                 self.weights, self.biases, self.activations, self.output_delta,
                                 ws.X, ws.Y, ws.A, ws.D)


ENGINES = {"per_sample": PerSample, "batched": Batched, "fused": Fused}
ENGINE_CHOICES = ("auto",) + tuple(ENGINES)


def make(name, net, optimizer, weighted=False):
    """The engine called ``name`` for training ``net`` with ``optimizer``, and why it was chosen.

    "auto" is the fastest engine that runs the configuration: fused unless it uses something
    fused does not do (another optimizer, L1, sample weights), then batched.
    Returns (engine, note): note says why "auto" fell back, else "".
    """
    reasons = Fused.unsupported(optimizer, weighted)
    if name == "fused" and reasons:
        raise ValueError(f"engine: 'fused' runs plain SGD only, without {reasons}; "
                         "use engine='batched' (or 'auto', which picks it)")
    note = ""
    if name == "auto":
        name = "batched" if reasons else "fused"
        note = f"fused does not support {reasons}" if reasons else ""
    return ENGINES[name].for_network(net, optimizer), note
