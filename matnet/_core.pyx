# cython: language_level=3
"""Compiled kernels: the hot elementwise work of the batched engine.

Every function here has a NumPy twin of the same name and signature in ``_kernels.py``,
which is its definition; the parity tests hold the two together.  Contract: 2-D
C-contiguous float32 or float64 arrays of one dtype (the fused type ``floating``), results
written in place or into a caller-given buffer, nothing allocated, the GIL released.

Compiler directives (no bounds or wraparound checks, C division) are set for the whole
module in setup.py, where ``MATNET_DEBUG_BUILD=1`` turns the checks back on so the test
suite can run against a bounds-checked build.
"""
from cython cimport floating
from libc.math cimport exp, expf


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


def sigmoid(const floating[:, ::1] Z, floating[:, ::1] out):
    """out = σ(Z), elementwise.  IN: Z.  OUT: out (may be Z)."""
    cdef Py_ssize_t i, j
    with nogil:
        for i in range(Z.shape[0]):
            for j in range(Z.shape[1]):
                out[i, j] = _sigmoid(Z[i, j])


def add_bias_sigmoid(const floating[:, ::1] Z, const floating[::1] b, floating[:, ::1] out):
    """out = σ(Z + b), b broadcast over rows.  IN: Z, b.  OUT: out (may be Z)."""
    cdef Py_ssize_t i, j
    with nogil:
        for i in range(Z.shape[0]):
            for j in range(Z.shape[1]):
                out[i, j] = _sigmoid(Z[i, j] + b[j])


def sigmoid_prime(const floating[:, ::1] A, floating[:, ::1] out):
    """out = A (1 - A), σ' from the activation.  IN: A.  OUT: out."""
    cdef Py_ssize_t i, j
    with nogil:
        for i in range(A.shape[0]):
            for j in range(A.shape[1]):
                out[i, j] = A[i, j] * (1 - A[i, j])


def inplace_mul_sigmoid_prime(floating[:, ::1] D, const floating[:, ::1] A):
    """D ⊙= A (1 - A): the hidden delta on the GEMM result.  IN: A.  IN/OUT: D."""
    cdef Py_ssize_t i, j
    with nogil:
        for i in range(D.shape[0]):
            for j in range(D.shape[1]):
                D[i, j] = D[i, j] * A[i, j] * (1 - A[i, j])


def delta_quadratic_sigmoid(const floating[:, ::1] A, const floating[:, ::1] Y,
                            floating[:, ::1] out):
    """out = (A - Y) A (1 - A).  IN: A, Y.  OUT: out."""
    cdef Py_ssize_t i, j
    with nogil:
        for i in range(A.shape[0]):
            for j in range(A.shape[1]):
                out[i, j] = (A[i, j] - Y[i, j]) * A[i, j] * (1 - A[i, j])


def delta_canonical(const floating[:, ::1] A, const floating[:, ::1] Y, floating[:, ::1] out):
    """out = A - Y.  IN: A, Y.  OUT: out."""
    cdef Py_ssize_t i, j
    with nogil:
        for i in range(A.shape[0]):
            for j in range(A.shape[1]):
                out[i, j] = A[i, j] - Y[i, j]


def sum_rows(const floating[:, ::1] D, floating[::1] out):
    """out[j] = Σ_i D[i, j].  IN: D.  OUT: out, shape (n_units,)."""
    cdef Py_ssize_t i, j
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
    with nogil:
        if decay == 1.0:
            for i in range(P.shape[0]):
                for j in range(P.shape[1]):
                    P[i, j] -= s * G[i, j]
        else:
            for i in range(P.shape[0]):
                for j in range(P.shape[1]):
                    P[i, j] = d * P[i, j] - s * G[i, j]
