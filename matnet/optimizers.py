"""Optimizers: how a mini-batch's summed gradients move the parameters.

Classes only because they carry state (velocities, moment estimates, a step count); the
arithmetic is in the kernels (``sgd_update``, ``momentum_update``, ``adam_update``,
``l1_shrink``), so it runs compiled on the compiled backend.

Regularization is the book's: L2 as weight decay, ``w ← (1 - ηλ/n) w``, and L1 as
``w ← w - (η l1 / n) sgn(w)``, both on weights only (biases are never regularized), applied
beside the optimizer's own step rather than folded into the gradient.  For plain SGD that is
exactly network2's update; for Adam it is decoupled weight decay (AdamW), which keeps the
penalty from being rescaled by the adaptive step.
"""
import importlib

import numpy as np

OPTIMIZER_CHOICES = ("sgd", "momentum", "nesterov", "adam")


class SGD:
    """w ← decay · w - (η/m) ∇w;  b ← b - (η/m) ∇b."""

    name = "sgd"

    def __init__(self, kernels, weights, biases, eta, lmbda=0.0, l1=0.0, n=1):
        self.kernels = kernels
        self.weights, self.biases = weights, biases
        self.lmbda, self.l1, self.n = lmbda, l1, n
        self.set_eta(eta)

    def __getstate__(self):
        # The kernels are a module, which pickle cannot store: store its name instead.
        return {**self.__dict__, "kernels": self.kernels.__name__}

    def __setstate__(self, state):
        self.__dict__.update(state, kernels=importlib.import_module(state["kernels"]))

    def set_eta(self, eta):
        """Change the learning rate (schedules do, between epochs); the decay follows it."""
        self.eta = eta
        self.decay = 1.0 - eta * self.lmbda / self.n
        self.l1_amount = eta * self.l1 / self.n

    def update(self, nabla_b, nabla_w, m):
        """One step from the gradients summed over a mini-batch of ``m`` rows."""
        if self.l1:
            for w in self.weights:
                self.kernels.l1_shrink(w, self.l1_amount)
        scale = self.eta / m
        for layer, (w, b, nw, nb) in enumerate(zip(self.weights, self.biases, nabla_w, nabla_b)):
            self._step(layer, w, nw, scale, self.decay, 0)
            self._step(layer, b, nb, scale, 1.0, 1)

    def _step(self, layer, param, grad, scale, decay, slot):
        self.kernels.sgd_update(param, grad, scale, decay)


class Momentum(SGD):
    """The book's momentum-based gradient descent: v ← μ v - (η/m) ∇;  w ← decay · w + v."""

    name = "momentum"
    nesterov = False

    def __init__(self, kernels, weights, biases, eta, lmbda=0.0, l1=0.0, n=1, momentum=0.9):
        super().__init__(kernels, weights, biases, eta, lmbda, l1, n)
        self.momentum = momentum
        self.velocities = [[np.zeros_like(w), np.zeros_like(b)] for w, b in zip(weights, biases)]

    def _step(self, layer, param, grad, scale, decay, slot):
        self.kernels.momentum_update(param, self.velocities[layer][slot], grad, self.momentum,
                                     scale, decay, self.nesterov)


class Nesterov(Momentum):
    """Momentum with Nesterov's look-ahead gradient."""

    name = "nesterov"
    nesterov = True


class Adam(SGD):
    """Adam with the usual β1 = 0.9, β2 = 0.999, ε = 1e-8; ``eta`` is its step size α."""

    name = "adam"
    beta1, beta2, epsilon = 0.9, 0.999, 1e-8

    def __init__(self, kernels, weights, biases, eta, lmbda=0.0, l1=0.0, n=1):
        super().__init__(kernels, weights, biases, eta, lmbda, l1, n)
        self.moments = [[(np.zeros_like(p), np.zeros_like(p)) for p in (w, b)] for w, b in zip(weights, biases)]
        self.t = 0

    def update(self, nabla_b, nabla_w, m):
        self.t += 1
        self.step_size = self.eta * np.sqrt(1.0 - self.beta2 ** self.t) / (1.0 - self.beta1 ** self.t)
        super().update(nabla_b, nabla_w, m)

    def _step(self, layer, param, grad, scale, decay, slot):
        first, second = self.moments[layer][slot]
        self.kernels.adam_update(param, first, second, grad, scale, self.beta1, self.beta2,
                                 self.step_size, self.epsilon, decay)


OPTIMIZERS = {cls.name: cls for cls in (SGD, Momentum, Nesterov, Adam)}


def make(name, kernels, weights, biases, eta, lmbda=0.0, l1=0.0, n=1, momentum=0.9):
    """The optimizer called ``name`` over the given parameter lists (updated in place)."""
    cls = OPTIMIZERS[name]
    extra = {"momentum": momentum} if issubclass(cls, Momentum) else {}
    return cls(kernels, weights, biases, eta, lmbda=lmbda, l1=l1, n=n, **extra)
