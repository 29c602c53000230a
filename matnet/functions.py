"""Activations and costs: each states its value, its derivative and its output delta together.

Tables of small records, not class hierarchies.  The elementwise work is named by kernel
(see ``_kernels.py`` for the definitions); ``bind`` turns a network's choice into the
concrete functions of the active backend, once per call into an engine.

The book's classes are here by their book names too (``QuadraticCost``,
``CrossEntropyCost``), so ``Network(sizes, cost=network2.CrossEntropyCost)``-style code works.
"""
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Activation:
    """A layer's nonlinearity, named by the kernels that compute it.

    apply : kernel ``f(Z, out)``, out = act(Z)
    add_bias_apply : kernel ``f(Z, b, out)``, out = act(Z + b), the forward step after a GEMM
    inplace_mul_prime : kernel ``f(D, A)``, D ⊙= act'(Z) computed from A = act(Z)
    """

    name: str
    apply: str
    add_bias_apply: str
    inplace_mul_prime: str


@dataclass(frozen=True)
class Cost:
    """A cost C(A, Y), summed over the rows (the mean is taken by the caller).

    canonical_output : the output activation whose derivative cancels against this cost's,
        so that the output delta is simply A - Y (kernel ``delta_canonical``).
    book_name : the class name network2.py uses for it, if it has one (its JSON files say it).
    """

    name: str
    value: "callable"
    canonical_output: str
    book_name: str = None

    def fn(self, a, y):
        """network2's ``Cost.fn(a, y)``: the cost of one sample's column."""
        return self.value(a.T, y.T)


def _quadratic(A, Y):
    """C = ½ Σ ‖a - y‖²  (the book's QuadraticCost, summed over samples)."""
    return 0.5 * float(np.sum((A - Y) ** 2))


def _cross_entropy(A, Y):
    """C = -Σ [y ln a + (1 - y) ln(1 - a)]  (the book's CrossEntropyCost).

    The book calls np.nan_to_num on 0·ln 0; clipping at the smallest positive float instead
    means no log ever sees 0, so there is nothing to warn about or mend afterwards.
    """
    tiny = np.finfo(A.dtype).tiny
    return -float(np.sum(Y * np.log(np.maximum(A, tiny)) + (1 - Y) * np.log(np.maximum(1 - A, tiny))))


ACTIVATIONS = {
    "sigmoid": Activation("sigmoid", "sigmoid", "add_bias_sigmoid", "inplace_mul_sigmoid_prime"),
}

COSTS = {
    "quadratic": Cost("quadratic", _quadratic, canonical_output="identity", book_name="QuadraticCost"),
    "cross_entropy": Cost("cross_entropy", _cross_entropy, canonical_output="sigmoid", book_name="CrossEntropyCost"),
}

QuadraticCost = COSTS["quadratic"]
CrossEntropyCost = COSTS["cross_entropy"]

# Output deltas that are not A - Y, by (cost, output activation).
_SPECIAL_OUTPUT_DELTAS = {("quadratic", "sigmoid"): "delta_quadratic_sigmoid"}


def output_delta_kernel(cost, output):
    """The kernel name computing Δ_L = ∂C/∂Z_L for a (cost, output activation) pair."""
    if cost.canonical_output == output.name:
        return "delta_canonical"
    try:
        return _SPECIAL_OUTPUT_DELTAS[cost.name, output.name]
    except KeyError:
        raise ValueError(
            f"cost={cost.name!r} with output activation {output.name!r} is not supported; "
            f"use output_activation={cost.canonical_output!r}"
        ) from None


@dataclass(frozen=True)
class Bound:
    """A network's activations and cost resolved to one backend's kernel functions."""

    apply: list
    add_bias_apply: list
    inplace_mul_prime: list
    output_delta: "callable"
    sum_rows: "callable"
    sgd_update: "callable"


def bind(kernels, activations, cost):
    """Resolve per-layer activations and the cost to the functions of ``kernels``."""
    return Bound(
        apply=[getattr(kernels, a.apply) for a in activations],
        add_bias_apply=[getattr(kernels, a.add_bias_apply) for a in activations],
        inplace_mul_prime=[getattr(kernels, a.inplace_mul_prime) for a in activations],
        output_delta=getattr(kernels, output_delta_kernel(cost, activations[-1])),
        sum_rows=kernels.sum_rows,
        sgd_update=kernels.sgd_update,
    )
