#!/usr/bin/env bash
# Check that Qt's X11 platform plugin finds its system libraries; install the missing ones
# with apt-get when running as root on Debian/Ubuntu, otherwise print the command to run.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PACKAGES="libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1 libxcb-image0 libxcb-render-util0
libxcb-shape0 libxcb-xinerama0 libxcb-xkb1 libxkbcommon-x11-0 libegl1 libgl1 libfontconfig1
libdbus-1-3"

[ "$(uname -s)" = "Linux" ] || exit 0
plugin="$("$ROOT/.venv/bin/python" -c 'import PySide6, pathlib; print(pathlib.Path(PySide6.__file__).parent / "Qt/plugins/platforms/libqxcb.so")')"
[ -f "$plugin" ] || exit 0
missing() { ldd "$plugin" 2>/dev/null | grep -c "not found" || true; }
[ "$(missing)" = "0" ] && ldconfig -p 2>/dev/null | grep -q libxcb-cursor && exit 0

if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing the system libraries Qt needs to open a window" >&2
  apt-get install -y -qq $PACKAGES >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq $PACKAGES >/dev/null; }
else
  echo "The desktop app needs system libraries for Qt's X11 plugin. Install them with:" >&2
  echo "  sudo apt-get install $(echo $PACKAGES)" >&2
  exit 1
fi
