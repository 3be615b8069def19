#!/usr/bin/env bash
# Remove this Scriptorium installation: its virtual environment, the `scriptorium` link and
# the desktop entry. Workspaces (~/Scriptorium or wherever you keep them) and settings are
# never touched; --purge-cache also removes the assembled base model cache (~1.5 GB).
#
#   PREFIX/uninstall.sh [--purge-cache] [--yes]
set -euo pipefail

PREFIX="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PURGE=0
YES=0
for arg in "$@"; do
  case "$arg" in
    --purge-cache) PURGE=1 ;;
    --yes|-y) YES=1 ;;
    -h|--help) sed -n '2,6p' "${BASH_SOURCE[0]}"; exit 0 ;;
    *) echo "uninstall.sh: unknown option $arg" >&2; exit 2 ;;
  esac
done
[ -e "$PREFIX/venv" ] && [ -f "$PREFIX/bundle.json" ] || {
  echo "uninstall.sh: $PREFIX does not look like a Scriptorium installation; nothing removed" >&2
  exit 1; }

cache=""
if [ "$PURGE" = 1 ]; then
  cache="$("$PREFIX/venv/bin/python" -c 'from core.settings import cache_dir; print(cache_dir())')"
fi
if [ "$YES" != 1 ] && [ -t 0 ]; then
  read -r -p "Remove Scriptorium from $PREFIX${cache:+ and its cache $cache}? [y/N] " answer
  case "$answer" in y|Y|yes) ;; *) echo "nothing removed"; exit 0 ;; esac
fi

BIN_DIR="" APPS="" ICONS=""
# shellcheck disable=SC1091
[ -f "$PREFIX/install-paths.sh" ] && . "$PREFIX/install-paths.sh"
if [ -n "$BIN_DIR" ] && [ -L "$BIN_DIR/scriptorium" ] \
   && [ "$(readlink "$BIN_DIR/scriptorium")" = "$PREFIX/venv/bin/scriptorium" ]; then
  rm -f "$BIN_DIR/scriptorium"
fi
[ -n "$APPS" ] && rm -f "$APPS/scriptorium.desktop"
[ -n "$ICONS" ] && rm -f "$ICONS/scriptorium.svg"
[ -n "$cache" ] && rm -rf "$cache"
# The document readers kept warm between imports would otherwise run on for 10 minutes.
"$PREFIX/venv/bin/python" -c 'from core.ingest.host import stop_hosts; stop_hosts()' \
  2>/dev/null || true
# Only what the installer put there: the venvs, the link and our own files.
rm -rf "$PREFIX"/scriptorium-* "$PREFIX/venv" "$PREFIX/bundle.json" "$PREFIX/install-paths.sh"
rm -f "$PREFIX/uninstall.sh"
rmdir "$PREFIX" 2>/dev/null || true
echo "Scriptorium removed. Your workspaces and settings are untouched."
