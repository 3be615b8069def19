#!/usr/bin/env bash
# Build the llama-cpp-python wheel Scriptorium pins, for a CPU family rather than for this
# exact CPU, and print the wheel's path.
#
# pip's default build compiles llama.cpp with -march=native, and pip caches the wheel by
# version only. So we build with the flags of installers/llama-flags.sh (a named instruction
# set), keep the wheel in our own cache keyed by version and build flags, and reuse it from
# there (OUT_DIR, if given, gets a copy).
#
#   installers/build-llama-wheel.sh PYTHON [OUT_DIR]
#
# SCRIPTORIUM_LLAMA_CMAKE_ARGS replaces the default flags (e.g. "-DGGML_CUDA=on" for an
# NVIDIA build). SCRIPTORIUM_WHEEL_CACHE moves the cache.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PY="${1:?usage: build-llama-wheel.sh PYTHON [OUT_DIR]}"
. "$ROOT/installers/llama-flags.sh"
spec="$LLAMA_SPEC"
flags="$LLAMA_FLAGS"
key="$(printf '%s\n%s\n%s\n' "$spec" "$flags" "$(uname -m)" | sha256sum | cut -c1-16)"
out="$LLAMA_CACHE/llama-$key"

wheel="$(ls "$out"/llama_cpp_python-*.whl 2>/dev/null | head -n1 || true)"
if [ -z "$wheel" ]; then
  echo "building $spec for $(uname -m) ($flags): about 6 minutes on 2 cores" >&2
  tmp="$(mktemp -d "${TMPDIR:-/tmp}/llama-wheel.XXXXXX")"
  trap 'rm -rf "$tmp"' EXIT
  CMAKE_ARGS="$flags" "$PY" -m pip --disable-pip-version-check wheel -q --no-deps \
    --no-cache-dir --no-binary llama-cpp-python "$spec" -w "$tmp"
  mkdir -p "$out"
  # Move into place only when complete, so an interrupted build is never reused.
  built="$(ls "$tmp"/llama_cpp_python-*.whl)"
  mv "$built" "$out/.partial-$(basename "$built")"
  mv "$out/.partial-$(basename "$built")" "$out/$(basename "$built")"
  wheel="$out/$(basename "$built")"
fi
if [ -n "${2:-}" ]; then  # a copy where the caller wants it
  mkdir -p "$2"
  cp "$wheel" "$2/"
  wheel="$2/$(basename "$wheel")"
fi
echo "$wheel"
