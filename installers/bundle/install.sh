#!/usr/bin/env bash
# Install Scriptorium from this offline bundle, with no network.
#
#   ./install.sh [--prefix DIR] [--python PYTHON] [--bin-dir DIR] [--data-dir DIR]
#                [--no-desktop] [--no-prepare]
#
# 1. checks every file of the bundle against MANIFEST.sha256 and refuses, naming the file,
#    if one is missing, changed or extra;
# 2. installs into a fresh virtual environment DIR/venv with `pip --no-index` from the
#    bundle's wheels only (an earlier install is kept until the new one is complete);
# 3. links `scriptorium` into a bin folder on PATH and, on Linux, adds the desktop entry;
# 4. assembles the bundled model and prints `scriptorium doctor`'s report.
#
# Default DIR: /opt/scriptorium as root, ~/.local/opt/scriptorium otherwise. Workspaces and
# settings live elsewhere (~/Scriptorium, ~/.config/scriptorium) and are never touched.
set -euo pipefail

BUNDLE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
if [ "$(id -u)" = 0 ]; then
  PREFIX=/opt/scriptorium; BIN_DIR=/usr/local/bin; APPS=/usr/local/share/applications
  ICONS=/usr/local/share/icons/hicolor/scalable/apps
else
  PREFIX="$HOME/.local/opt/scriptorium"; BIN_DIR="$HOME/.local/bin"
  APPS="${XDG_DATA_HOME:-$HOME/.local/share}/applications"
  ICONS="${XDG_DATA_HOME:-$HOME/.local/share}/icons/hicolor/scalable/apps"
fi
PYTHON="${PYTHON:-python3.11}"
command -v "$PYTHON" >/dev/null 2>&1 || PYTHON=python3
DESKTOP=1
PREPARE=1

while [ $# -gt 0 ]; do
  case "$1" in
    --prefix) PREFIX="$2"; shift 2 ;;
    --python) PYTHON="$2"; shift 2 ;;
    --bin-dir) BIN_DIR="$2"; shift 2 ;;
    --data-dir) APPS="$2/applications"; ICONS="$2/icons/hicolor/scalable/apps"; shift 2 ;;
    --no-desktop) DESKTOP=0; shift ;;
    --no-prepare) PREPARE=0; shift ;;
    -h|--help) sed -n '2,17p' "${BASH_SOURCE[0]}"; exit 0 ;;
    *) echo "install.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done

fail() { echo "install.sh: $*" >&2; exit 1; }

command -v "$PYTHON" >/dev/null 2>&1 || fail "no Python found ($PYTHON); install Python 3.11"
echo "1/4 checking the bundle's checksums" >&2
"$PYTHON" "$BUNDLE/verify.py" "$BUNDLE" || exit 1

read_field() { "$PYTHON" -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' \
  "$BUNDLE/bundle.json" "$1"; }
want_python="$(read_field python)"
have_python="$("$PYTHON" -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
[ "$want_python" = "$have_python" ] || fail "this bundle is built for Python $want_python; \
$PYTHON is $have_python (pass --python /path/to/python$want_python)"
want_machine="$(read_field machine)"
[ "$want_machine" = "$(uname -m)" ] || fail "this bundle is built for $want_machine; this \
machine is $(uname -m)"
version="$(read_field version)"
variant="$(read_field variant)"
if [ "$variant" = cuda ] && ! command -v nvidia-smi >/dev/null 2>&1; then
  echo "warning: this is the NVIDIA bundle but no NVIDIA driver was found; the CPU bundle" \
    "is smaller and runs the same" >&2
fi

echo "2/4 installing Scriptorium $version ($variant) into $PREFIX/venv" >&2
mkdir -p "$PREFIX"
# Each install gets its own folder (a venv's scripts hold absolute paths, so it cannot be
# moved); `venv` is a link switched only once the new one is complete.
target="$PREFIX/scriptorium-$version-$(date +%Y%m%d-%H%M%S)"
"$PYTHON" -m venv "$target"
# Only the bundle's wheels: no index, and no pip configuration from this machine.
env -u PIP_FIND_LINKS -u PIP_INDEX_URL -u PIP_EXTRA_INDEX_URL -u PIP_CONSTRAINT \
  PIP_CONFIG_FILE=/dev/null PIP_DISABLE_PIP_VERSION_CHECK=1 \
  "$target/bin/python" -m pip install -q --no-index --find-links "$BUNDLE/wheels" \
  "scriptorium==$version" || { rm -rf "$target"; fail "pip could not install from the \
bundle (see above); the earlier install, if any, is unchanged"; }
if [ -f "$BUNDLE/bin/llama-server" ]; then  # llama.cpp's server, for `scriptorium serve`
  install -m 0755 "$BUNDLE/bin/llama-server" "$target/bin/llama-server"
fi
previous="$(readlink "$PREFIX/venv" 2>/dev/null || true)"
ln -sfn "$(basename "$target")" "$PREFIX/venv.link"
mv -T "$PREFIX/venv.link" "$PREFIX/venv"
if [ -n "$previous" ] && [ "$previous" != "$(basename "$target")" ]; then
  rm -rf "${PREFIX:?}/$previous"
fi
cp "$BUNDLE/uninstall.sh" "$PREFIX/uninstall.sh"
cp "$BUNDLE/bundle.json" "$PREFIX/bundle.json"
chmod +x "$PREFIX/uninstall.sh"

echo "3/4 adding the launcher" >&2
mkdir -p "$BIN_DIR"
ln -sfn "$PREFIX/venv/bin/scriptorium" "$BIN_DIR/scriptorium"
printf 'BIN_DIR=%q\nAPPS=%q\nICONS=%q\n' "$BIN_DIR" "$APPS" "$ICONS" > "$PREFIX/install-paths.sh"
if [ "$DESKTOP" = 1 ] && [ "$(uname -s)" = Linux ]; then
  mkdir -p "$APPS" "$ICONS"
  cp "$BUNDLE/desktop/scriptorium.svg" "$ICONS/scriptorium.svg"
  sed "s|@EXEC@|$PREFIX/venv/bin/scriptorium|" "$BUNDLE/desktop/scriptorium.desktop.in" \
    > "$APPS/scriptorium.desktop"
  command -v update-desktop-database >/dev/null 2>&1 && update-desktop-database "$APPS" || true
fi

echo "4/4 checking the installation" >&2
if [ "$PREPARE" = 1 ]; then
  doctor=("$PREFIX/venv/bin/scriptorium" doctor --prepare)
else
  doctor=("$PREFIX/venv/bin/scriptorium" doctor)
fi
if ! "${doctor[@]}"; then
  echo "Scriptorium is installed in $PREFIX but is not ready: fix the failed checks above," \
    "then run: $BIN_DIR/scriptorium doctor" >&2
  exit 1
fi
case ":$PATH:" in
  *":$BIN_DIR:"*) ;;
  *) echo "note: $BIN_DIR is not on PATH; start it as $BIN_DIR/scriptorium" >&2 ;;
esac
echo "Installed Scriptorium $version. Start it from the applications menu or with: scriptorium"
echo "Uninstall (workspaces are kept): $PREFIX/uninstall.sh"
