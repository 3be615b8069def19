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

# The offline-bundle test installs a bundle with the network cut off; the wheels it bundles
# are fetched here first, while there is a network (cached until pyproject.toml or the bundle
# scripts change). Done for the whole suite (no arguments) or when asked.
if [ $# -eq 0 ] || [ -n "${SCRIPTORIUM_FETCH_WHEELHOUSE:-}" ]; then
  wheelhouse="$SCRIPTORIUM_TEST_HOME/wheelhouse"
  stamp="$(cat pyproject.toml installers/{make-bundle.sh,llama-flags.sh,build-llama-wheel.sh,build-llama-server.sh} \
    | sha256sum | cut -d' ' -f1)"
  if [ "$(cat "$wheelhouse/.stamp" 2>/dev/null || true)" != "$stamp" ]; then
    echo "fetching the wheels for the offline-bundle test into $wheelhouse" >&2
    rm -rf "$wheelhouse"
    bash installers/make-bundle.sh "$wheelhouse" --fetch-only
    echo "$stamp" > "$wheelhouse/.stamp"
  fi
  export SCRIPTORIUM_WHEELHOUSE="$wheelhouse"
fi

# the slowest tests are listed at the end, so a run that grows slower says where
cmd=("$ROOT/.venv/bin/python" -m pytest -ra --durations=40 "$@")
if unshare -rn true 2>/dev/null; then
  echo "running the tests with the network cut off (unshare -rn; loopback only)" >&2
  # a new namespace has loopback down: bring it up (distributed training and the local
  # llama.cpp server listen on 127.0.0.1), then run pytest
  exec unshare -rn sh -c '"$1" "$2" && shift 2 && exec "$@"' sh \
    "$ROOT/.venv/bin/python" "$ROOT/installers/loopback-up.py" "${cmd[@]}"
fi
echo "unshare is not permitted here: running the tests with the network available" >&2
exec "${cmd[@]}"
