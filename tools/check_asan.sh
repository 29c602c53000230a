#!/usr/bin/env bash
# Build matnet's extension with AddressSanitizer (MATNET_SANITIZE=address, which implies the
# bounds-checked debug build) into a fresh virtual environment, and run the full test suite
# against it with the ASan runtime preloaded.  The steps, and why, are in check_debug_build.sh.
#
#   tools/check_asan.sh [pytest args...]
exec "$(dirname "$0")/check_debug_build.sh" --asan "$@"
