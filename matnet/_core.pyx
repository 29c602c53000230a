# cython: language_level=3
"""Compiled kernels: the elementwise work of the batched engine, and a whole fused epoch.

Every public name here has a NumPy twin of the same name and signature in ``_kernels.py``,
which is its definition (the formulas themselves are in ``functions.py``); the parity tests
hold the two together.  Contract: C-contiguous float32 or float64 arrays of one dtype (the
fused type ``floating``), results written in place or into a caller-given buffer, nothing
allocated, the GIL released around every loop.  Shapes are checked before any loop runs,
so a wrong call raises instead of reading out of bounds.

Compiler directives (no bounds or wraparound checks, C division) are set for the whole
module in setup.py, where ``MATNET_DEBUG_BUILD=1`` turns the checks back on so the test
suite can run against a bounds-checked build.
"""
from cpython.mem cimport PyMem_Free, PyMem_Malloc
from cython cimport floating
from libc.limits cimport INT_MAX
from libc.math cimport exp, expf, sqrt, sqrtf, tanh, tanhf
from libc.stdint cimport int64_t
from libc.string cimport memcpy
from scipy.linalg.cython_blas cimport dgemm, sgemm

cdef enum:
    _SIGMOID
    _TANH
    _RELU
    _IDENTITY
    _SOFTMAX

# Activation names (functions.ACTIVATIONS) to the codes the C loops switch on.
ACTIVATIONS = {"sigmoid": _SIGMOID, "tanh": _TANH, "relu": _RELU, "identity": _IDENTITY,
               "softmax": _SOFTMAX}


cdef _code(str name, str activation, bint needs_prime=False):
    """The code of ``activation``, or a ValueError naming the argument."""
    if activation not in ACTIVATIONS or (needs_prime and activation == "softmax"):
        choices = [a for a in ACTIVATIONS if not (needs_prime and a == "softmax")]
        raise ValueError(f"{name}: expected one of {', '.join(map(repr, choices))}, got {activation!r}")
    return ACTIVATIONS[activation]


cdef _same_shape(str names, tuple first, tuple second):
    if first != second:
        raise ValueError(f"{names}: expected equal shapes, got {first} and {second}")


cdef tuple _shape(const floating[:, ::1] a):
    return (a.shape[0], a.shape[1])


# -- scalar formulas ------------------------------------------------------------------------

cdef inline floating _sigmoid(floating z) noexcept nogil:
    # Branch on the sign so exp only ever sees a non-positive argument: it cannot
    # overflow, and both tails keep full relative precision.
    cdef floating e
    if floating is float:
        if z >= 0:
            return 1.0 / (1.0 + expf(-z))
        e = expf(z)
        return e / (1.0 + e)
    else:
        if z >= 0:
            return 1.0 / (1.0 + exp(-z))
        e = exp(z)
        return e / (1.0 + e)


cdef inline floating _exp(floating z) noexcept nogil:
    if floating is float:
        return expf(z)
    else:
        return exp(z)


cdef inline floating _tanh(floating z) noexcept nogil:
    if floating is float:
        return tanhf(z)
    else:
        return tanh(z)


cdef inline floating _sqrt(floating z) noexcept nogil:
    if floating is float:
        return sqrtf(z)
    else:
        return sqrt(z)


# -- array loops on raw pointers, shared by the kernels below and the fused epoch ----------

cdef void _add_bias_activate(int activation, floating *Z, const floating *b,
                             Py_ssize_t m, Py_ssize_t n) noexcept nogil:
    """Z ← f(Z + b) in place, b broadcast over the m rows of Z (m, n)."""
    cdef Py_ssize_t i, j
    cdef floating v, top, total
    cdef floating *row
    for i in range(m):
        row = Z + i * n
        if activation == _SIGMOID:
            for j in range(n):
                row[j] = _sigmoid(row[j] + b[j])
        elif activation == _TANH:
            for j in range(n):
                row[j] = _tanh(row[j] + b[j])
        elif activation == _RELU:
            for j in range(n):
                v = row[j] + b[j]
                row[j] = 0 if v < 0 else v       # NaN passes through, as np.maximum lets it
        elif activation == _IDENTITY:
            for j in range(n):
                row[j] = row[j] + b[j]
        elif activation == _SOFTMAX:
            # Shift by the row's max so exp cannot overflow; the twin does the same.
            for j in range(n):
                row[j] = row[j] + b[j]
            top = row[0]
            for j in range(1, n):
                if row[j] > top:
                    top = row[j]
            total = 0
            for j in range(n):
                row[j] = _exp(row[j] - top)
                total = total + row[j]
            for j in range(n):
                row[j] = row[j] / total


cdef void _times_activation_prime(int activation, floating *D, const floating *A,
                                  Py_ssize_t size) noexcept nogil:
    """D ⊙= f'(Z), computed from the activations A = f(Z); multiplied left to right, as the
    NumPy definitions do, so the two backends round alike."""
    cdef Py_ssize_t i
    if activation == _SIGMOID:
        for i in range(size):
            D[i] = D[i] * A[i] * (1 - A[i])
    elif activation == _TANH:
        for i in range(size):
            D[i] = D[i] * (1 - A[i] * A[i])
    elif activation == _RELU:
        for i in range(size):
            if not A[i] > 0:
                D[i] = 0


cdef void _output_delta(int activation, floating *D, const floating *A, const floating *Y,
                        Py_ssize_t size) noexcept nogil:
    """D = (A - Y) ⊙ f'(Z_L): the output delta; "identity" gives the canonical A - Y."""
    cdef Py_ssize_t i
    for i in range(size):
        D[i] = A[i] - Y[i]
    _times_activation_prime(activation, D, A, size)


# -- kernels: the Python-callable twins of _kernels.py -------------------------------------

def inplace_add_bias_activate(floating[:, ::1] Z, const floating[::1] b, str activation):
    """Z ← f(Z + b), b broadcast over rows: the forward step after the GEMM.

    IN: b (n_units,), activation (a name in ACTIVATIONS).  IN/OUT: Z (n_samples, n_units).
    """
    cdef int code = _code("activation", activation)
    if b.shape[0] != Z.shape[1]:
        raise ValueError(f"b: expected shape ({Z.shape[1]},) to match Z's columns, got ({b.shape[0]},)")
    if Z.shape[0] and Z.shape[1]:
        with nogil:
            _add_bias_activate(code, &Z[0, 0], &b[0], Z.shape[0], Z.shape[1])


def inplace_mul_activation_prime(floating[:, ::1] D, const floating[:, ::1] A, str activation):
    """D ⊙= f'(Z) from A = f(Z): the hidden delta on the GEMM result Δ·W.  IN: A.  IN/OUT: D."""
    cdef int code = _code("activation", activation, needs_prime=True)
    _same_shape("D, A", _shape(D), _shape(A))
    if D.shape[0] and D.shape[1]:
        with nogil:
            _times_activation_prime(code, &D[0, 0], &A[0, 0], D.shape[0] * D.shape[1])


def output_delta(const floating[:, ::1] A, const floating[:, ::1] Y, floating[:, ::1] out,
                 str activation):
    """out = (A - Y) ⊙ f'(Z).  IN: A, Y, activation.  OUT: out."""
    cdef int code = _code("activation", activation, needs_prime=True)
    _same_shape("A, Y", _shape(A), _shape(Y))
    _same_shape("A, out", _shape(A), _shape(out))
    if A.shape[0] and A.shape[1]:
        with nogil:
            _output_delta(code, &out[0, 0], &A[0, 0], &Y[0, 0], A.shape[0] * A.shape[1])


def sum_rows(const floating[:, ::1] D, floating[::1] out):
    """out[j] = Σ_i D[i, j].  IN: D.  OUT: out, shape (n_units,)."""
    cdef Py_ssize_t i, j
    if out.shape[0] != D.shape[1]:
        raise ValueError(f"out: expected shape ({D.shape[1]},) to match D's columns, got ({out.shape[0]},)")
    with nogil:
        for j in range(D.shape[1]):
            out[j] = 0
        # Row-major walk: each row streams through memory once.
        for i in range(D.shape[0]):
            for j in range(D.shape[1]):
                out[j] += D[i, j]


def sgd_update(floating[:, ::1] P, const floating[:, ::1] G, double scale, double decay):
    """P ← decay · P - scale · G.  IN: G.  IN/OUT: P."""
    cdef Py_ssize_t i, j
    cdef floating s = <floating>scale, d = <floating>decay
    _same_shape("P, G", _shape(P), _shape(G))
    with nogil:   # d · P is exactly P when decay is 1, so no branch is needed for plain SGD
        for i in range(P.shape[0]):
            for j in range(P.shape[1]):
                P[i, j] = d * P[i, j] - s * G[i, j]


def momentum_update(floating[:, ::1] P, floating[:, ::1] V, const floating[:, ::1] G,
                    double mu, double scale, double decay, bint nesterov):
    """V ← μ V - scale · G;  P ← decay · P + V  (Nesterov: + μ V - scale · G).
    IN: G.  IN/OUT: P, V."""
    cdef Py_ssize_t i, j
    cdef floating m = <floating>mu, s = <floating>scale, d = <floating>decay, step
    _same_shape("P, V", _shape(P), _shape(V))
    _same_shape("P, G", _shape(P), _shape(G))
    with nogil:
        for i in range(P.shape[0]):
            for j in range(P.shape[1]):
                V[i, j] = V[i, j] * m - s * G[i, j]
                step = m * V[i, j] - s * G[i, j] if nesterov else V[i, j]
                P[i, j] = d * P[i, j] + step


def adam_update(floating[:, ::1] P, floating[:, ::1] M, floating[:, ::1] V,
                const floating[:, ::1] G, double scale, double beta1, double beta2,
                double step_size, double epsilon, double decay):
    """Adam on g = scale · G: M ← β1 M + (1-β1) g;  V ← β2 V + (1-β2) g²;
    P ← decay · P - step_size · M / (√V + ε).  IN: G.  IN/OUT: P, M, V."""
    cdef Py_ssize_t i, j
    cdef floating s = <floating>scale, b1 = <floating>beta1, b2 = <floating>beta2
    # 1 - β in double, then rounded: in float32, 1 - <float>0.999 is off by 1e-5 relative.
    cdef floating c1 = <floating>(1.0 - beta1), c2 = <floating>(1.0 - beta2)
    cdef floating a = <floating>step_size, eps = <floating>epsilon, d = <floating>decay, g
    for other, name in ((M, "P, M"), (V, "P, V"), (G, "P, G")):
        _same_shape(name, _shape(P), _shape(other))
    with nogil:
        for i in range(P.shape[0]):
            for j in range(P.shape[1]):
                g = s * G[i, j]
                M[i, j] = M[i, j] * b1 + c1 * g
                V[i, j] = V[i, j] * b2 + c2 * (g * g)
                P[i, j] = d * P[i, j] - a * (M[i, j] / (_sqrt(V[i, j]) + eps))


def l1_shrink(floating[:, ::1] P, double amount):
    """P ← P - amount · sign(P).  IN/OUT: P."""
    cdef Py_ssize_t i, j
    cdef floating t = <floating>amount
    with nogil:
        for i in range(P.shape[0]):
            for j in range(P.shape[1]):
                if P[i, j] > 0:
                    P[i, j] -= t
                elif P[i, j] < 0:
                    P[i, j] += t


# =======================================================================================
# The fused epoch: a whole epoch of mini-batch SGD in one call, with the GIL released.
#
# engines.Batched spends ~25 Python calls on each mini-batch; at small batch sizes their
# overhead outweighs the arithmetic.  fused_epoch runs the same math (its NumPy twin is the
# definition) for every mini-batch of an epoch in C: gather the rows, forward, output delta,
# backward, update, with the GEMMs going straight to scipy's BLAS.  The caller makes every
# buffer once; nothing is allocated per mini-batch.  Layers name their activations by the
# codes above, and the output delta by the activation whose derivative it takes.
# =======================================================================================

cdef extern from *:
    """
    #if defined(__GNUC__) || defined(__clang__)
    #define MATNET_PREFETCH(p) __builtin_prefetch(p)
    #else
    #define MATNET_PREFETCH(p) ((void)0)
    #endif
    """
    void _prefetch "MATNET_PREFETCH"(const void *p) noexcept nogil



cdef struct _Layer:
    # Pointers into the caller's C-contiguous arrays, all of one floating type.
    int n_in, n_out      # BLAS takes int sizes
    int activation       # an ACTIVATIONS code
    void *W              # (n_out, n_in)   weights, updated in place
    void *b              # (n_out,)        biases, updated in place
    void *A              # (rows, n_out)   activations of the mini-batch
    void *D              # (rows, n_out)   deltas, ∂C/∂Z


cdef inline void _gemm(char trans_a, char trans_b, int M, int N, int K, floating alpha,
                       const floating *A, int lda, const floating *B, int ldb, floating beta,
                       floating *C, int ldc) noexcept nogil:
    # Row-major C (M×N) ← alpha·op(A)·op(B) + beta·C.  Column-major BLAS reads each row-major
    # matrix as its transpose, so ask it for Cᵀ = op(B)ᵀ·op(A)ᵀ: swap the operands and M with
    # N; each matrix keeps its own transposition flag (as scikit-learn's _cython_blas._gemm).
    if floating is float:
        sgemm(&trans_b, &trans_a, &N, &M, &K, &alpha, <float *>B, &ldb, <float *>A, &lda,
              &beta, C, &ldc)
    else:
        dgemm(&trans_b, &trans_a, &N, &M, &K, &alpha, <double *>B, &ldb, <double *>A, &lda,
              &beta, C, &ldc)


cdef void _update_biases(floating *b, const floating *D, Py_ssize_t m, Py_ssize_t n,
                         floating scale) noexcept nogil:
    """b ← b - scale · Σ_rows D, D (m, n); each column summed top down, as sum_rows adds."""
    cdef Py_ssize_t i, j
    cdef floating total
    for j in range(n):
        total = 0
        for i in range(m):
            total = total + D[i * n + j]
        b[j] -= scale * total


cdef void _step(const floating *X, const floating *Y, Py_ssize_t m, _Layer *layers,
                Py_ssize_t n_layers, int output_delta, floating scale,
                floating decay) noexcept nogil:
    """One SGD step on the m gathered rows X (m, n_0), Y (m, n_L); scale = eta / m."""
    cdef Py_ssize_t l
    cdef _Layer *layer
    cdef _Layer *below
    cdef const floating *A_prev = X
    for l in range(n_layers):                  # A_l = σ(A_{l-1} · W_lᵀ + b_l)
        layer = &layers[l]
        _gemm(c'N', c'T', m, layer.n_out, layer.n_in, 1, A_prev, layer.n_in,
              <floating *>layer.W, layer.n_in, 0, <floating *>layer.A, layer.n_out)
        _add_bias_activate(layer.activation, <floating *>layer.A, <floating *>layer.b,
                           m, layer.n_out)
        A_prev = <floating *>layer.A
    layer = &layers[n_layers - 1]
    _output_delta(output_delta, <floating *>layer.D, <floating *>layer.A, Y, m * layer.n_out)
    for l in range(n_layers - 1, -1, -1):
        layer = &layers[l]
        A_prev = <const floating *>layers[l - 1].A if l else X
        if l:   # Δ_{l-1} = (Δ_l · W_l) ⊙ σ'; none is needed for the input layer
            below = &layers[l - 1]
            _gemm(c'N', c'N', m, layer.n_in, layer.n_out, 1, <floating *>layer.D, layer.n_out,
                  <floating *>layer.W, layer.n_in, 0, <floating *>below.D, layer.n_in)
            _times_activation_prime(below.activation, <floating *>below.D, <floating *>below.A,
                                    m * below.n_out)
        # W_l ← decay · W_l - scale · Δ_lᵀ · A_{l-1}: the update folded into the gradient's
        # GEMM (alpha = -scale, beta = decay), so W is read and written once and ∇W needs no
        # buffer.  It comes after Δ_{l-1}, which needs the old W_l.
        _gemm(c'T', c'N', layer.n_out, layer.n_in, m, -scale, <floating *>layer.D, layer.n_out,
              A_prev, layer.n_in, decay, <floating *>layer.W, layer.n_in)
        _update_biases(<floating *>layer.b, <floating *>layer.D, m, layer.n_out, scale)



cdef void _epoch(const floating *X, const floating *Y, const int64_t *order, Py_ssize_t n_order,
                 Py_ssize_t batch_size, floating *X_batch, floating *Y_batch, _Layer *layers,
                 Py_ssize_t n_layers, int output_delta, double eta, floating decay) noexcept nogil:
    cdef Py_ssize_t n_in = layers[0].n_in, n_out = layers[n_layers - 1].n_out
    cdef Py_ssize_t row_bytes = n_in * sizeof(floating), start = 0, i, m, offset
    cdef const char *row
    while start < n_order:
        m = min(batch_size, n_order - start)            # the last mini-batch may be short
        for i in range(m):
            memcpy(X_batch + i * n_in, X + order[start + i] * n_in, row_bytes)
            memcpy(Y_batch + i * n_out, Y + order[start + i] * n_out, n_out * sizeof(floating))
        # The rows of the next mini-batch are scattered over X, far out of cache.  Touching
        # a line every 4 KB of each now starts all their memory reads at once, and the
        # hardware prefetcher on each, while this step computes: 3-4% off an epoch of
        # [784, 30, 10].  (Prefetching every line stalls on the full miss queue instead.)
        for i in range(start + m, min(start + m + batch_size, n_order)):
            row = <const char *>(X + order[i] * n_in)
            for offset in range(0, row_bytes, 4096):
                _prefetch(row + offset)
            _prefetch(row + row_bytes - 1)
        _step(X_batch, Y_batch, m, layers, n_layers, output_delta, <floating>(eta / m), decay)
        start += m


def fused_epoch(const floating[:, ::1] X, const floating[:, ::1] Y, const int64_t[::1] order,
                Py_ssize_t batch_size, double eta, double decay, weights, biases, activations,
                output_delta, floating[:, ::1] X_batch, floating[:, ::1] Y_batch, A, D):
    """One epoch of mini-batch SGD over the rows of X in the given order, in place.

    IN: X (n_samples, n_0), Y (n_samples, n_L), order (n,) int64 row indices, batch_size,
    eta, decay, activations (one name per layer), output_delta (the activation whose
    derivative multiplies A - Y: the output's, or "identity" for a canonical cost).
    IN/OUT: weights[l] (n_{l+1}, n_l), biases[l] (n_{l+1}, 1).
    Buffers, contents on return unspecified, with rows >= min(batch_size, n):
    X_batch (rows, n_0), Y_batch (rows, n_L), A[l] and D[l] (rows, n_{l+1}).
    Every array C-contiguous and of X's dtype.
    """
    # Tuples hold the caller's arrays for as long as the C loop points into them.
    weights, biases, A, D = tuple(weights), tuple(biases), tuple(A), tuple(D)
    activations = tuple(activations)
    cdef Py_ssize_t n_layers = len(weights), n_order = order.shape[0]
    cdef Py_ssize_t rows = min(batch_size, n_order), n_in, n_out, l, i, bad = -1
    cdef int delta_code = _code("output_delta", output_delta, needs_prime=True)
    cdef floating[:, ::1] w, b, a, d
    cdef _Layer *layers
    if batch_size < 1:
        raise ValueError(f"batch_size: expected an integer >= 1, got {batch_size}")
    if n_layers < 1 or not len(biases) == len(activations) == len(A) == len(D) == n_layers:
        raise ValueError(f"weights, biases, activations, A, D: expected one entry per layer "
                         f"each, got {n_layers}, {len(biases)}, {len(activations)}, {len(A)} "
                         f"and {len(D)}")
    if Y.shape[0] != X.shape[0] or X_batch.shape[1] != X.shape[1] or Y_batch.shape[1] != Y.shape[1]:
        raise ValueError(f"X, Y, X_batch, Y_batch: expected (n_samples, n_0), (n_samples, n_L), "
                         f"(rows, n_0) and (rows, n_L), got {_shape(X)}, {_shape(Y)}, "
                         f"{_shape(X_batch)} and {_shape(Y_batch)}")
    if X_batch.shape[0] < rows or Y_batch.shape[0] < rows or rows > INT_MAX:
        raise ValueError(f"X_batch, Y_batch: expected at least {rows} rows, got "
                         f"{X_batch.shape[0]} and {Y_batch.shape[0]}")
    with nogil:
        for i in range(n_order):
            if not 0 <= order[i] < X.shape[0]:
                bad = i
                break
    if bad >= 0:
        raise IndexError(f"order[{bad}]: expected a row of X (0 to {X.shape[0] - 1}), got {order[bad]}")
    if n_order == 0:
        return
    layers = <_Layer *>PyMem_Malloc(n_layers * sizeof(_Layer))
    if layers == NULL:
        raise MemoryError()
    try:
        n_in = X.shape[1]
        for l in range(n_layers):
            w, b, a, d = weights[l], biases[l], A[l], D[l]
            n_out = w.shape[0]
            if w.shape[1] != n_in or not 1 <= n_in <= INT_MAX or not 1 <= n_out <= INT_MAX \
                    or (b.shape[0], b.shape[1]) != (n_out, 1):
                raise ValueError(f"weights[{l}], biases[{l}]: expected shapes (n_out, {n_in}) and "
                                 f"(n_out, 1), got {_shape(w)} and {_shape(b)}")
            if a.shape[0] < rows or d.shape[0] < rows or a.shape[1] != n_out or d.shape[1] != n_out:
                raise ValueError(f"A[{l}], D[{l}]: expected shape (>= {rows}, {n_out}) each, got "
                                 f"{_shape(a)} and {_shape(d)}")
            layers[l].n_in, layers[l].n_out = n_in, n_out
            layers[l].activation = _code(f"activations[{l}]", activations[l], needs_prime=l < n_layers - 1)
            layers[l].W, layers[l].b, layers[l].A, layers[l].D = &w[0, 0], &b[0, 0], &a[0, 0], &d[0, 0]
            n_in = n_out
        if n_in != Y.shape[1]:
            raise ValueError(f"weights[{n_layers - 1}]: expected {Y.shape[1]} rows, one per column "
                             f"of Y, got {n_in}")
        with nogil:
            _epoch(&X[0, 0], &Y[0, 0], &order[0], n_order, batch_size, &X_batch[0, 0],
                   &Y_batch[0, 0], layers, n_layers, delta_code, eta, <floating>decay)
    finally:
        PyMem_Free(layers)
