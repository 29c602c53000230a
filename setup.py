"""Build the optional Cython extension ``matnet._core``.

Metadata lives in pyproject.toml; this file only describes the extension and how its build
may fail.  Environment switches, read here and nowhere else at build time:

  MATNET_REQUIRE_EXTENSION=1   fail the install if the extension does not build
                               (CI and wheel builds set it, so no wheel ships without it)
  MATNET_DEBUG_BUILD=1         bounds- and wraparound-checked kernels, for the test suite
  MATNET_SANITIZE=address      build with AddressSanitizer (implies the debug build)

Without a working compiler the install warns and goes on as the pure-NumPy package, the way
markupsafe and PyYAML do; matnet then runs on its NumPy kernels (``matnet.backend == "numpy"``).
"""
import os
import sys

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

REQUIRE = os.environ.get("MATNET_REQUIRE_EXTENSION", "") == "1"
SANITIZE = os.environ.get("MATNET_SANITIZE", "")
DEBUG = os.environ.get("MATNET_DEBUG_BUILD", "") == "1" or bool(SANITIZE)

DIRECTIVES = {
    "language_level": 3,
    "boundscheck": DEBUG,
    "wraparound": DEBUG,
    "initializedcheck": DEBUG,
    "cdivision": True,
}


def _banner(message):
    line = "*" * 75
    print(f"\n{line}\n{message}\n{line}\n", file=sys.stderr)


class OptionalBuildExt(build_ext):
    """build_ext that turns a compiler failure into a warning unless the extension is required."""

    def run(self):
        try:
            super().run()
        except Exception as exc:  # setuptools raises several unrelated types for "no compiler"
            self._give_up(exc)

    def build_extension(self, ext):
        try:
            super().build_extension(ext)
        except Exception as exc:
            self._give_up(exc)

    def _give_up(self, exc):
        if REQUIRE:
            raise
        _banner(
            f"WARNING: the compiled extension matnet._core could not be built ({exc}).\n"
            "matnet is installed as a pure-NumPy package: same results, slower kernels.\n"
            "Set MATNET_REQUIRE_EXTENSION=1 to make this an error."
        )


def extensions():
    try:
        from Cython.Build import cythonize
    except ImportError as exc:
        if REQUIRE:
            raise
        _banner(f"WARNING: Cython is not available ({exc}); installing without the extension.")
        return []
    compile_args, link_args = ["-O3"], []
    if SANITIZE:
        compile_args += [f"-fsanitize={SANITIZE}", "-fno-omit-frame-pointer", "-O1", "-g"]
        link_args += [f"-fsanitize={SANITIZE}"]
    ext = Extension("matnet._core", ["matnet/_core.pyx"],
                    extra_compile_args=compile_args, extra_link_args=link_args)
    try:
        # Needs scipy's cython_blas.pxd (the fused epoch cimports its GEMMs).
        # A checked build gets C of its own: cythonize regenerates C only when the .pyx is
        # newer, so a shared matnet/_core.c would let one kind of build reuse the other's.
        return cythonize([ext], compiler_directives=DIRECTIVES,
                         build_dir="build/cython-debug" if DEBUG else None)
    except Exception as exc:  # Cython raises CompileError, or ImportError-like errors for scipy
        if REQUIRE:
            raise
        _banner(f"WARNING: matnet/_core.pyx could not be translated to C ({exc}); is scipy "
                "installed? Installing without the extension.")
        return []


setup(ext_modules=extensions(), cmdclass={"build_ext": OptionalBuildExt})
