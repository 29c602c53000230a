#!/usr/bin/env bash
# Build matnet with bounds-checked kernels (MATNET_DEBUG_BUILD=1) into a fresh virtual
# environment and run the whole test suite against that build.
#
#   tools/check_debug_build.sh [pytest args...]     # Cython bounds/wraparound/initialized checks
#   tools/check_debug_build.sh --asan [pytest args...]  # AddressSanitizer (tools/check_asan.sh)
#
# Why each step:
# - The sources are copied (tracked and new files, not ignored ones) to a scratch directory:
#   pip builds a local directory in place, and cythonize regenerates matnet/_core.c only when
#   the .pyx is newer than it, so a _core.c left by an optimized build would be compiled again
#   without the checks.  The copy has none, and the script checks the generated C has them.
# - The switches are environment variables; pip's isolated build runs setup.py in a child
#   process that inherits the environment, so they reach it (and --no-cache-dir keeps pip from
#   reusing a wheel built without them).
# - The tests run from a neutral directory, as .ci/run's venv pytest does, so `import matnet`
#   finds the installed build and never the source tree.
# - ASan: CPython is not built with it, so the runtime is preloaded (LD_PRELOAD, the libasan
#   gcc links against); leak detection is off (CPython keeps objects alive at exit on purpose)
#   and malloc may return NULL, so a test asking for 300 GB gets its MemoryError instead of an
#   ASan abort.
set -euo pipefail

mode=debug
if [[ "${1:-}" == "--asan" ]]; then
    mode=asan
    shift
fi
repo="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d "${TMPDIR:-/tmp}/matnet-check-$mode.XXXXXX")"
trap 'rm -rf "$work"' EXIT
started=$SECONDS

echo "== copying the sources to $work/src"
mkdir "$work/src"
git -C "$repo" ls-files -z --cached --others --exclude-standard \
    | (cd "$repo" && xargs -0 tar -cf - --ignore-failed-read 2>/dev/null) | tar -xf - -C "$work/src"
rm -f "$work/src"/matnet/_core*.so "$work/src"/matnet/_core.c

echo "== building ($mode) into a fresh virtual environment"
python3 -m venv "$work/venv"
"$work/venv/bin/pip" install --quiet --upgrade pip
export MATNET_REQUIRE_EXTENSION=1
if [[ $mode == asan ]]; then
    export MATNET_SANITIZE=address
else
    export MATNET_DEBUG_BUILD=1
fi
"$work/venv/bin/pip" install --quiet --no-cache-dir "$work/src[test]" hypothesis
built=$SECONDS

# The C that was compiled must be the checked one: Cython emits a bounds check (and its
# IndexError) at each memoryview index only when boundscheck is on.
# (setup.py has a checked build generate its C under build/cython-debug/.)
checks=$(grep -c "__Pyx_RaiseBufferIndexError" "$work/src/build/cython-debug/matnet/_core.c" || true)
echo "== generated build/cython-debug/matnet/_core.c has $checks bounds-check sites"
test "$checks" -gt 0

cd "$work"   # neutral: neither the repository nor the copy is on sys.path
if [[ $mode == asan ]]; then
    libasan="$(gcc -print-file-name=libasan.so)"
    test -e "$libasan" || { echo "libasan not found (gcc -print-file-name=libasan.so)"; exit 1; }
    export LD_PRELOAD="$libasan"
    export ASAN_OPTIONS="detect_leaks=0:allocator_may_return_null=1:halt_on_error=1:abort_on_error=1:${ASAN_OPTIONS:-}"
    # (grep -c, not -q: under pipefail, -q's early exit would fail the pipeline with SIGPIPE)
    hooks=$(nm -D "$work"/venv/lib/python3*/site-packages/matnet/_core*.so | grep -c __asan_ || true)
    echo "== the installed extension references $hooks ASan symbols; LD_PRELOAD=$LD_PRELOAD"
    test "$hooks" -gt 0 || { echo "the installed extension is not instrumented by ASan"; exit 1; }
fi
"$work/venv/bin/python" -c "
import matnet, sys
assert matnet.__file__.startswith('$work/venv/'), matnet.__file__
assert matnet.backend == 'cython', matnet.backend
print('== matnet', matnet.__version__, 'from', matnet.__file__, 'backend', matnet.backend)
"

echo "== full test suite against the $mode build"
status=0
"$work/venv/bin/pytest" -p no:cacheprovider -q -c "$work/src/pyproject.toml" --rootdir "$work/src" \
    "$work/src/tests" "$@" || status=$?
echo "== $mode build: build $((built - started)) s, tests $((SECONDS - built)) s, exit status $status"
exit $status
