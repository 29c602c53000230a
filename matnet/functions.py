"""Activations and costs: each states its value and its derivative side by side.

Tables of small records, not class hierarchies.  The NumPy functions here are the
definitions: the kernels of ``_kernels.py`` apply them to arrays in place, and the compiled
kernels in ``_core.pyx`` compute the same formulas (the parity tests hold them together).

Derivatives are taken from the activation A = f(Z), never from Z: the forward pass already
has A, and σ'(z) = a(1 - a), tanh'(z) = 1 - a², relu'(z) = [a > 0] cost no exp.

The book's classes are here by their book names too (``QuadraticCost``,
``CrossEntropyCost``), so ``Network(sizes, cost=network2.CrossEntropyCost)``-style code works.
"""
from dataclasses import dataclass

import numpy as np


# -- activations: value (in place on Z) and derivative (D ⊙= f'(Z), from A = f(Z)) -------

def _sigmoid(Z):
    # σ(z) = exp(-log(1 + exp(-z))): logaddexp never overflows, and both tails keep full
    # relative precision (σ(-30) ≈ 9.4e-14 to the last bits; 0.5 + 0.5·tanh(z/2) keeps ~3).
    np.negative(Z, out=Z)
    np.logaddexp(0.0, Z, out=Z)
    np.negative(Z, out=Z)
    np.exp(Z, out=Z)


def _mul_sigmoid_prime(D, A):
    np.multiply(D, A, out=D)
    D *= 1.0 - A


def _tanh(Z):
    np.tanh(Z, out=Z)


def _mul_tanh_prime(D, A):
    D *= 1.0 - A * A


def _relu(Z):
    np.maximum(Z, 0.0, out=Z)


def _mul_relu_prime(D, A):
    # Zero where the unit is off, rather than D·0, which would turn an inf delta into NaN.
    np.copyto(D, 0.0, where=~(A > 0))


def _identity(Z):
    pass


def _mul_identity_prime(D, A):
    pass


def _softmax(Z):
    # Row-wise; subtracting each row's max first keeps exp from overflowing.
    Z -= Z.max(axis=1, keepdims=True)
    np.exp(Z, out=Z)
    Z /= Z.sum(axis=1, keepdims=True)


@dataclass(frozen=True)
class Activation:
    """A layer's nonlinearity.

    apply : f(Z), Z ← f(Z) in place, Z of shape (n_samples, n_units)
    mul_prime : f(D, A), D ⊙= f'(Z) computed from A = f(Z); None where the Jacobian is not
        diagonal (softmax), which is why softmax is an output activation only, paired with
        the log-likelihood cost whose delta needs no derivative.
    """

    name: str
    apply: "callable"
    mul_prime: "callable"

    @property
    def hidden_ok(self):
        return self.mul_prime is not None


ACTIVATIONS = {
    "sigmoid": Activation("sigmoid", _sigmoid, _mul_sigmoid_prime),
    "tanh": Activation("tanh", _tanh, _mul_tanh_prime),
    "relu": Activation("relu", _relu, _mul_relu_prime),
    "identity": Activation("identity", _identity, _mul_identity_prime),
    "softmax": Activation("softmax", _softmax, None),
}


# -- costs: value (summed over rows) and, through canonical_output, the output delta ----

def _clipped_log(A):
    # No log ever sees 0: the book calls np.nan_to_num on 0·ln 0 afterwards; clipping at the
    # smallest positive float instead leaves nothing to warn about or mend.
    return np.log(np.maximum(A, np.finfo(A.dtype).tiny))


def _quadratic(A, Y):
    """C = ½ Σ ‖a - y‖²  (the book's QuadraticCost)."""
    return 0.5 * float(np.sum((A - Y) ** 2))


def _cross_entropy(A, Y):
    """C = -Σ [y ln a + (1 - y) ln(1 - a)]  (the book's CrossEntropyCost)."""
    return -float(np.sum(Y * _clipped_log(A) + (1 - Y) * _clipped_log(1 - A)))


def _log_likelihood(A, Y):
    """C = -Σ y ln a  (chapter 3's log-likelihood, with softmax outputs)."""
    return -float(np.sum(Y * _clipped_log(A)))


@dataclass(frozen=True)
class Cost:
    """A cost C(A, Y), summed over the rows (callers take the mean).

    canonical_output : the output activation whose derivative cancels against this cost's,
        so that the output delta ∂C/∂Z is simply A - Y.
    default_output : the output activation a network gets when it names none.
    book_name : the class name network2.py uses for it, if it has one (its JSON files say it).
    """

    name: str
    value: "callable"
    canonical_output: str
    default_output: str
    book_name: str = None

    def fn(self, a, y):
        """network2's ``Cost.fn(a, y)``: the cost of one sample's column."""
        return self.value(a.T, y.T)


COSTS = {
    "quadratic": Cost("quadratic", _quadratic, canonical_output="identity", default_output="sigmoid",
                      book_name="QuadraticCost"),
    "cross_entropy": Cost("cross_entropy", _cross_entropy, canonical_output="sigmoid",
                          default_output="sigmoid", book_name="CrossEntropyCost"),
    "log_likelihood": Cost("log_likelihood", _log_likelihood, canonical_output="softmax",
                           default_output="softmax"),
}

QuadraticCost = COSTS["quadratic"]
CrossEntropyCost = COSTS["cross_entropy"]


def output_delta_activation(cost, output):
    """The activation whose derivative multiplies (A - Y) in the output delta Δ_L = ∂C/∂Z_L.

    For a cost and its canonical output that is "identity" (Δ_L = A - Y).  The quadratic cost
    works with any output that has a derivative: Δ_L = (A - Y) ⊙ f'(Z_L).  Other pairs
    (cross-entropy on a non-sigmoid output, log-likelihood without softmax) are refused.
    """
    if cost.canonical_output == output.name:
        return "identity"
    if cost.name == "quadratic" and output.hidden_ok:
        return output.name
    raise ValueError(
        f"output_activation: cost={cost.name!r} needs output_activation={cost.canonical_output!r}"
        + (" (or any but softmax with the quadratic cost)" if cost.name != "quadratic" else
           " or one with a derivative; softmax has none to pair with the quadratic cost")
        + f", got {output.name!r}"
    )
