#!/usr/bin/env bash
# Run the test suite in .venv with no display (Qt offscreen) and, where the kernel allows
# it, with the network cut off (`unshare -rn`): the product must pass offline.
# Extra arguments go to pytest, e.g. `installers/run-tests.sh -m "not slow"`.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
export QT_QPA_PLATFORM=offscreen
export PYTHONDONTWRITEBYTECODE=1
# Tests get their own cache and config folders so they never touch the user's.
export SCRIPTORIUM_TEST_HOME="${SCRIPTORIUM_TEST_HOME:-$ROOT/.test-home}"

cmd=("$ROOT/.venv/bin/python" -m pytest -ra "$@")
if unshare -rn true 2>/dev/null; then
  echo "running the tests with the network cut off (unshare -rn)" >&2
  exec unshare -rn "${cmd[@]}"
fi
echo "unshare is not permitted here: running the tests with the network available" >&2
exec "${cmd[@]}"
