#!/usr/bin/env python3
"""Write or check an offline bundle's checksum manifest (SHA-256 of every file).

Standard library only: it runs on the target machine before anything is installed.

    python3 verify.py BUNDLE_DIR          # check; exit 1 naming every bad file
    python3 verify.py --write BUNDLE_DIR  # (build machine) write MANIFEST.sha256

The manifest is in ``sha256sum`` format, so ``sha256sum -c MANIFEST.sha256`` checks it too.
A file that is missing, changed, or present but not listed (a wheel slipped in beside the
others would be installed by pip) is refused.
"""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

MANIFEST = "MANIFEST.sha256"


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def bundle_files(root: Path) -> list[str]:
    return sorted(
        p.relative_to(root).as_posix()
        for p in root.rglob("*")
        if (p.is_file() or p.is_symlink()) and p.relative_to(root).as_posix() != MANIFEST
    )


def write_manifest(root: Path) -> int:
    names = bundle_files(root)
    lines = [f"{sha256(root / name)}  {name}\n" for name in names]
    (root / MANIFEST).write_text("".join(lines), encoding="utf-8")
    return len(names)


def read_manifest(root: Path) -> dict[str, str]:
    path = root / MANIFEST
    if not path.is_file():
        raise SystemExit(f"refused: {path} is missing; this is not a complete Scriptorium bundle")
    listed: dict[str, str] = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        digest, sep, name = line.partition("  ")
        if not sep or len(digest) != 64 or not name or name.startswith("/") or ".." in name:
            raise SystemExit(f"refused: {MANIFEST} line {number} is malformed")
        listed[name] = digest
    return listed


def problems(root: Path) -> list[str]:
    listed = read_manifest(root)
    found = set(bundle_files(root))
    issues = []
    for name, digest in listed.items():
        path = root / name
        if name not in found:
            issues.append(f"{name}: missing")
        elif path.is_symlink():
            issues.append(f"{name}: is a symbolic link, not a file")
        elif sha256(path) != digest:
            issues.append(f"{name}: checksum does not match (changed or damaged)")
    issues += [f"{name}: not in the manifest" for name in sorted(found - set(listed))]
    return issues


def main(argv: list[str]) -> int:
    if len(argv) == 2 and argv[0] == "--write":
        count = write_manifest(Path(argv[1]))
        print(f"wrote {MANIFEST}: {count} files")
        return 0
    if len(argv) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    root = Path(argv[0])
    issues = problems(root)
    if issues:
        print(f"refused: the bundle at {root} fails its checksum check; copy it again from the "
              "original medium and compare MANIFEST.sha256 with the published checksum:",
              file=sys.stderr)
        for issue in issues:
            print(f"  {issue}", file=sys.stderr)
        return 1
    print(f"bundle verified: {len(read_manifest(root))} files match {MANIFEST}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
