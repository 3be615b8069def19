#!/usr/bin/env bash
# Build llama.cpp's own server (llama-server) from the llama.cpp source vendored in the
# llama-cpp-python release Scriptorium pins, with the binding's build flags
# (installers/llama-flags.sh), as one static program; keep it in our cache keyed by version
# and flags, and print its path. `scriptorium serve` runs it for several users at once.
#
#   installers/build-llama-server.sh PYTHON [DEST]
#
# DEST (a file path, e.g. .venv/bin/llama-server) gets a copy. Needs a C++ compiler, as
# the binding's build does, and cmake (installed for the build when missing). No network
# once the source is downloaded: the web page and HTTPS support are left out.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PY="${1:?usage: build-llama-server.sh PYTHON [DEST]}"
. "$ROOT/installers/llama-flags.sh"
key="$(printf '%s\n%s\n%s\nserver\n' "$LLAMA_SPEC" "$LLAMA_FLAGS" "$(uname -m)" \
  | sha256sum | cut -c1-16)"
out="$LLAMA_CACHE/llama-server-$key"

if [ ! -x "$out/llama-server" ]; then
  echo "building llama-server from $LLAMA_SPEC ($LLAMA_FLAGS): about 11 minutes on 2 cores" >&2
  tmp="$(mktemp -d "${TMPDIR:-/tmp}/llama-server.XXXXXX")"
  trap 'rm -rf "$tmp"' EXIT
  pip=("$PY" -m pip --disable-pip-version-check)
  "${pip[@]}" download -q --no-deps --no-binary :all: "$LLAMA_SPEC" -d "$tmp/sdist"
  tar -xzf "$tmp"/sdist/llama_cpp_python-*.tar.gz -C "$tmp"
  src="$(ls -d "$tmp"/llama_cpp_python-*/vendor/llama.cpp)"
  cmake_bin="$(command -v cmake || true)"
  if [ -z "$cmake_bin" ]; then
    "${pip[@]}" install -q --target "$tmp/cmake" "cmake>=3.18"
    cmake_bin="$tmp/cmake/bin/cmake"
    export PYTHONPATH="$tmp/cmake${PYTHONPATH:+:$PYTHONPATH}"
  fi
  # shellcheck disable=SC2086  # LLAMA_FLAGS is a list of -D options
  "$cmake_bin" -S "$src" -B "$tmp/build" -DCMAKE_BUILD_TYPE=Release $LLAMA_FLAGS \
    -DBUILD_SHARED_LIBS=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF \
    -DLLAMA_BUILD_TOOLS=ON -DLLAMA_BUILD_SERVER=ON -DLLAMA_BUILD_APP=OFF \
    -DLLAMA_BUILD_UI=OFF -DLLAMA_USE_PREBUILT_UI=OFF -DLLAMA_OPENSSL=OFF \
    -DGGML_CCACHE=OFF >"$tmp/configure.log" 2>&1 \
    || { tail -n 30 "$tmp/configure.log" >&2; exit 1; }
  "$cmake_bin" --build "$tmp/build" --target llama-server -j "$(nproc 2>/dev/null || echo 2)" \
    >"$tmp/build.log" 2>&1 || { tail -n 30 "$tmp/build.log" >&2; exit 1; }
  "$tmp/build/bin/llama-server" --version >/dev/null 2>&1 \
    || { echo "the built llama-server does not run on this machine" >&2; exit 1; }
  mkdir -p "$out"
  # Move into place only when complete, so an interrupted build is never reused.
  cp "$tmp/build/bin/llama-server" "$out/.partial-llama-server"
  mv "$out/.partial-llama-server" "$out/llama-server"
fi
if [ -n "${2:-}" ]; then
  mkdir -p "$(dirname "$2")"
  cp "$out/llama-server" "$2.partial"
  mv "$2.partial" "$2"
  echo "$2"
else
  echo "$out/llama-server"
fi
