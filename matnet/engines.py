"""The engines: each turns a mini-batch into the summed gradients and applies the update.

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

The engines read the kernels of the active backend when they are made, so they compute
the same elementwise math; the tests check that their gradients agree to ~1e-12.
"""
import numpy as np

from . import _backend, _kernels, functions


def forward(net, X):
    """Outputs of the network for the rows of X.

    X : ndarray of shape (n_samples, n_inputs), the network's dtype, C-contiguous.
    Returns ndarray of shape (n_samples, n_outputs), freshly allocated: safe to call from
    several threads at once on one network.
    """
    fns = functions.bind(_backend.kernels, net.activations, net.cost_function)
    A = X
    for w, b, add_bias_apply in zip(net.weights, net.biases, fns.add_bias_apply):
        Z = A @ w.T
        add_bias_apply(Z, b.reshape(-1), Z)
        A = Z
    return A


class _Engine:
    """What both engines share: the kernels, the parameters, the update and the epoch loop."""

    name = ""

    def __init__(self, net):
        self.fns = functions.bind(_backend.kernels, net.activations, net.cost_function)
        self.weights = net.weights
        self.biases = net.biases

    def batch_gradients(self, X, Y, rows):
        """Σ over ``rows`` of the per-sample gradients: (nabla_b, nabla_w), book shapes."""
        raise NotImplementedError

    def update(self, nabla_b, nabla_w, scale, decay):
        """w ← decay · w - scale · ∇w and b ← b - scale · ∇b (biases are not decayed)."""
        _kernels._update(self.fns, self.weights, self.biases, nabla_w, nabla_b, scale, decay)

    def epoch(self, X, Y, order, batch_size, eta, decay):
        """One pass of mini-batch SGD over the rows of X in the given order.

        X : ndarray (n_samples, n_inputs);  Y : ndarray (n_samples, n_outputs)
        order : int ndarray (n_samples,), the shuffled row indices
        """
        for start in range(0, len(order), batch_size):
            rows = order[start:start + batch_size]
            nabla_b, nabla_w = self.batch_gradients(X, Y, rows)
            self.update(nabla_b, nabla_w, eta / len(rows), decay)


class PerSample(_Engine):
    """The book's ``update_mini_batch``/``backprop``: one sample at a time, as columns."""

    name = "per_sample"

    def backprop(self, x, y):
        """Gradients of one sample's cost: x (n_inputs, 1), y (n_outputs, 1).

        Returns (nabla_b, nabla_w), lists shaped like ``biases`` and ``weights``.  The book's
        version computed σ'(z) from z again; here σ' comes from the activation, a (1 - a).
        """
        fns = self.fns
        activations = [x]
        for w, b, apply in zip(self.weights, self.biases, fns.apply):
            z = w @ activations[-1]
            z += b
            apply(z, z)
            activations.append(z)
        n_layers = len(self.weights)
        nabla_b, nabla_w = [None] * n_layers, [None] * n_layers
        delta = np.empty_like(activations[-1])
        fns.output_delta(activations[-1], y, delta)
        for layer in range(n_layers - 1, -1, -1):
            nabla_b[layer] = delta
            nabla_w[layer] = delta @ activations[layer].T
            if layer:
                delta = self.weights[layer].T @ delta
                fns.inplace_mul_prime[layer - 1](delta, activations[layer])
        return nabla_b, nabla_w

    def batch_gradients(self, X, Y, rows):
        nabla_b = [np.zeros_like(b) for b in self.biases]
        nabla_w = [np.zeros_like(w) for w in self.weights]
        for i in rows:
            delta_b, delta_w = self.backprop(X[i].reshape(-1, 1), Y[i].reshape(-1, 1))
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
        self.A = [np.empty((batch_size, n), dtype) for n in sizes[1:]]   # activations, per layer
        self.D = [np.empty((batch_size, n), dtype) for n in sizes[1:]]   # deltas, per layer
        self.nabla_w = [np.empty((n_out, n_in), dtype) for n_in, n_out in zip(sizes[:-1], sizes[1:])]
        self.nabla_b = [np.empty((n, 1), dtype) for n in sizes[1:]]
        self.nabla_b_flat = [nb.reshape(-1) for nb in self.nabla_b]


class Batched(_Engine):
    """The matrix form: a mini-batch is one (m, n) matrix, rows are samples.

    The step itself (``_kernels._backprop_matrix``) and the epoch loop (``_kernels._sgd_epoch``)
    are written once, over whichever kernels they are given: here the active backend's; in
    fused_epoch's NumPy twin, the NumPy ones.
    """

    name = "batched"

    def __init__(self, net):
        super().__init__(net)
        self.sizes = net.sizes
        self.dtype = net.dtype
        # Views made once: creating them per step would cost a Python object each time.
        self.biases_flat = [b.reshape(-1) for b in self.biases]
        self._workspaces = {}

    def workspace(self, batch_size):
        """The buffers for ``batch_size`` rows, made on first use and kept."""
        ws = self._workspaces.get(batch_size)
        if ws is None:
            ws = self._workspaces[batch_size] = _Workspace(self.sizes, batch_size, self.dtype)
        return ws

    def epoch(self, X, Y, order, batch_size, eta, decay):
        ws = self.workspace(min(batch_size, len(order)))
        _kernels._sgd_epoch(self.fns, X, Y, order, batch_size, eta, decay, self.weights, self.biases,
                            ws.X, ws.Y, ws.A, ws.D, ws.nabla_w, ws.nabla_b)

    def backprop_matrix(self, ws, X, Y):
        """Forward and backward over a whole mini-batch, into the buffers of ``ws``.

        X : (m, n_0) and Y : (m, n_L).  Leaves Σ-over-rows gradients in ws.nabla_b/nabla_w.
        """
        _kernels._backprop_matrix(self.fns, X, Y, self.weights, self.biases_flat,
                                 ws.A, ws.D, ws.nabla_w, ws.nabla_b_flat)
        return ws.nabla_b, ws.nabla_w

    def batch_gradients(self, X, Y, rows):
        ws = self.workspace(len(rows))
        # mode="clip" lets take write straight into the buffer ("raise" buffers a copy);
        # the rows come from a permutation, so they are in range anyway.
        np.take(X, rows, axis=0, out=ws.X, mode="clip")
        np.take(Y, rows, axis=0, out=ws.Y, mode="clip")
        return self.backprop_matrix(ws, ws.X, ws.Y)

    def gradients(self, X, Y):
        """Σ over the rows of X of the per-sample gradients, as fresh arrays."""
        ws = self.workspace(len(X))
        nabla_b, nabla_w = self.backprop_matrix(ws, X, Y)
        return [nb.copy() for nb in nabla_b], [nw.copy() for nw in nabla_w]


class Fused(Batched):
    """A whole epoch in one call of the backend's ``fused_epoch`` kernel.

    Compiled, that is the batched math with no Python call per mini-batch and the GIL
    released; with the NumPy backend it is its twin, the batched engine's own epoch.  The
    buffers are the batched engine's, made once per batch size.
    """

    name = "fused"

    def __init__(self, net):
        missing = self.unsupported(net)
        if missing:
            raise ValueError(f"engine='fused' does not support {missing} on the {_backend.name} "
                             "backend; use engine='batched' (or 'auto', which picks it)")
        super().__init__(net)
        self.activation_names, self.output_delta = self.configuration(net)
        self.fused_epoch = _backend.kernels.fused_epoch

    @staticmethod
    def configuration(net):
        """(activation name per layer, output-delta kernel name): what fused_epoch takes."""
        output_delta = functions.output_delta_kernel(net.cost_function, net.activations[-1])
        return [a.name for a in net.activations], output_delta

    @classmethod
    def unsupported(cls, net):
        """What in ``net`` the active backend's fused_epoch cannot run, or "" if nothing."""
        activations, output_delta = cls.configuration(net)
        kernels = _backend.kernels
        missing = [f"activation {a!r}" for a in dict.fromkeys(activations)
                   if a not in kernels.FUSED_ACTIVATIONS]
        if output_delta not in kernels.FUSED_OUTPUT_DELTAS:
            missing.append(f"output delta {output_delta!r}")
        return ", ".join(missing)

    def epoch(self, X, Y, order, batch_size, eta, decay):
        ws = self.workspace(min(batch_size, len(order)))
        self.fused_epoch(X, Y, order, batch_size, eta, decay, self.weights, self.biases,
                         self.activation_names, self.output_delta, ws.X, ws.Y, ws.A, ws.D)


ENGINES = {"per_sample": PerSample, "batched": Batched, "fused": Fused}
ENGINE_CHOICES = ("auto",) + tuple(ENGINES)


def make(name, net):
    """The engine called ``name``.

    "auto" is the fastest engine that supports ``net``: fused wherever the active backend's
    fused_epoch runs its activations and output delta, batched otherwise.
    """
    if name == "auto":
        name = "batched" if Fused.unsupported(net) else "fused"
    return ENGINES[name](net)
