# Sourced by build-llama-wheel.sh and build-llama-server.sh: the pinned llama-cpp-python
# (LLAMA_SPEC) and the llama.cpp build flags (LLAMA_FLAGS), the same for the binding and the
# server, so both run on the same CPUs (and both on CUDA for an NVIDIA build).
#
# Not -march=native: on a CPU that advertises AMX but runs in a VM that does not enable it,
# a native build dies with "Illegal instruction" on the first matrix product, and a build
# made on one machine may not run on another. SCRIPTORIUM_LLAMA_CMAKE_ARGS replaces the
# default flags (e.g. "-DGGML_CUDA=on").
# the pin without its extras ("llama-cpp-python[server]==X" -> "llama-cpp-python==X")
LLAMA_SPEC="$(grep -o '"llama-cpp-python\(\[[^]]*\]\)\?==[^"]*"' "$ROOT/pyproject.toml" \
  | tr -d '"' | sed 's/\[[^]]*\]//')"
[ -n "$LLAMA_SPEC" ] || { echo "llama-cpp-python is not pinned in pyproject.toml" >&2; exit 1; }

case "$(uname -m)" in
  x86_64|amd64)
    # x86-64-v3 (Haswell and later, 2013+): AVX2/FMA/F16C; no AVX-512 or AMX.
    _default_flags="-DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON -DGGML_AVX512=OFF -DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_BF16=OFF" ;;
  *)
    _default_flags="-DGGML_NATIVE=OFF" ;;
esac
LLAMA_FLAGS="${SCRIPTORIUM_LLAMA_CMAKE_ARGS:-$_default_flags}"
LLAMA_CACHE="${SCRIPTORIUM_WHEEL_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/scriptorium/wheels}"
