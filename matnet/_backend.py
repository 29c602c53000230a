"""Picks the kernel backend once, at import: the compiled ``_core`` or its NumPy twin.

``MATNET_BACKEND=numpy`` forces the twin; ``MATNET_BACKEND=cython`` requires the compiled
module and fails loudly without it; unset, the compiled module is used when it imports.
The engines read ``kernels`` at the start of each call, so ``select`` (used by the tests
to run every test on both backends) takes effect for the next call.
"""
import os
import types

from . import _kernels

try:
    from . import _core
except ImportError as exc:  # not built: no compiler at install time, or a source checkout
    _core = None
    _core_import_error = exc
else:
    _core_import_error = None

BACKENDS = ("cython", "numpy")

kernels: types.ModuleType = _kernels
name: str = "numpy"


def available():
    """The backends that can run here, compiled first."""
    return BACKENDS if _core is not None else ("numpy",)


def select(backend):
    """Make ``backend`` ("cython" or "numpy") the active one."""
    global kernels, name
    if backend == "cython":
        if _core is None:
            raise ImportError(
                "MATNET_BACKEND=cython asks for the compiled extension matnet._core, but it "
                f"could not be imported ({_core_import_error}). Reinstall matnet with a "
                "working C compiler (pip install --force-reinstall --no-binary matnet "
                "matnet), or use MATNET_BACKEND=numpy."
            )
        kernels, name = _core, "cython"
    elif backend == "numpy":
        kernels, name = _kernels, "numpy"
    else:
        raise ValueError(
            f"MATNET_BACKEND: expected one of {', '.join(BACKENDS)} (or unset), got {backend!r}"
        )


select(os.environ.get("MATNET_BACKEND") or ("cython" if _core is not None else "numpy"))
