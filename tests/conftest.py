"""Every test runs once per available backend, as markupsafe's suite does.

The autouse fixture switches matnet's kernels to the compiled module and to its NumPy twin in
turn; the compiled run is skipped only where the extension is not built.  Under
MATNET_BACKEND=numpy (CI's second pass) only the NumPy backend runs.
"""
import os
import subprocess
import sys

import numpy as np
import pytest

import matnet
from matnet import _backend

MATNET_HOME = os.path.dirname(os.path.dirname(matnet.__file__))

# Per-dtype tolerances, in one place: relative, for results of a few operations (kernels,
# gradients) and for long chains (whole epochs, where rounding differences compound).
RTOL = {np.float64: 1e-12, np.float32: 1e-5}
RTOL_LONG = {np.float64: 1e-9, np.float32: 1e-3}


def _backends():
    forced = os.environ.get("MATNET_BACKEND")
    return [forced] if forced else list(_backend.BACKENDS)


@pytest.fixture(autouse=True, params=_backends())
def backend(request):
    if request.param not in _backend.available():
        pytest.skip("the compiled extension matnet._core is not built here")
    previous = _backend.name
    _backend.select(request.param)
    yield request.param
    _backend.select(previous)


@pytest.fixture
def rng():
    return np.random.default_rng(12345)


def run_python(*args, **env):
    """Run a new interpreter that imports the same matnet as this one, with MATNET_BACKEND
    unset unless given.  Its working directory is neutral: from the repository root,
    ``import matnet`` would find the source tree (no compiled extension) first."""
    environ = {k: v for k, v in os.environ.items() if k != "MATNET_BACKEND"}
    environ.update(env, PYTHONPATH=MATNET_HOME)
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, env=environ,
                          cwd=os.path.dirname(MATNET_HOME))
