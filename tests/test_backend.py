"""Backend selection: once at import, forced by MATNET_BACKEND, loud when cython is missing."""
import pytest
from conftest import run_python

import matnet
from matnet import _backend


def _run(code, **env):
    return run_python("-c", code, **env)


def test_backend_reports_the_active_kernels(backend):
    assert matnet.backend == backend
    assert _backend.kernels is (_backend._core if backend == "cython" else _backend._kernels)


def test_environment_forces_numpy():
    result = _run("import matnet; print(matnet.backend)", MATNET_BACKEND="numpy")
    assert result.returncode == 0 and result.stdout.strip() == "numpy"


@pytest.mark.skipif(_backend._core is None, reason="the compiled extension is not built")
def test_compiled_backend_is_the_default_when_built():
    assert _run("import matnet; print(matnet.backend)").stdout.strip() == "cython"
    assert _run("import matnet; print(matnet.backend)", MATNET_BACKEND="cython").stdout.strip() == "cython"


def test_missing_extension_falls_back_or_fails_loudly():
    hide = "import sys; sys.modules['matnet._core'] = None; import matnet; print(matnet.backend)"
    assert _run(hide).stdout.strip() == "numpy"
    forced = _run(hide, MATNET_BACKEND="cython")
    assert forced.returncode != 0 and "MATNET_BACKEND=cython" in forced.stderr


def test_unknown_backend_is_rejected():
    result = _run("import matnet", MATNET_BACKEND="fortran")
    assert result.returncode != 0 and "MATNET_BACKEND: expected one of cython, numpy" in result.stderr
