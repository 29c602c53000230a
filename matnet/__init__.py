"""matnet: the feedforward networks of Nielsen's *Neural Networks and Deep Learning*, trained
with a batch-matrix engine and compiled kernels.

    import matnet
    net = matnet.Network([784, 30, 10], seed=0)
    net.fit(X, y, epochs=30, batch_size=10, eta=3.0)
    net.predict(X_test)

``matnet.backend`` says which kernels run: "cython" (the compiled extension) or "numpy".
"""
from . import _backend, datasets
from .functions import CrossEntropyCost, QuadraticCost
from .io import load
from .network import Network
from .training import DivergenceError, History

__all__ = ["Network", "History", "DivergenceError", "load", "QuadraticCost", "CrossEntropyCost", "datasets", "backend"]
__version__ = "0.1.0"


def __getattr__(name):
    # Read through to _backend so the answer stays true if the backend is switched later.
    if name == "backend":
        return _backend.name
    raise AttributeError(f"module 'matnet' has no attribute {name!r}")
