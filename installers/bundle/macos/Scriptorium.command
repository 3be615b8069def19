#!/bin/bash
# Scriptorium launcher for macOS: double-click in Finder, or drag to the Dock. Keep it next
# to the "venv" folder the install guide creates (e.g. /Applications/Scriptorium).
# Arguments pass through: ./Scriptorium.command doctor prints the installation report.
HERE="$(cd "$(dirname "$0")" && pwd)"
if [ ! -x "$HERE/venv/bin/scriptorium" ]; then
  echo "Scriptorium is not installed next to this launcher: $HERE/venv is missing."
  echo "See INSTALL.md, \"macOS\"."
  exit 1
fi
exec "$HERE/venv/bin/scriptorium" "$@"
