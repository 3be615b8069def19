"""Tiny OLE compound files (the legacy Office container) for the import tests.

Written to the CFB specification, version 3: 512-byte sectors, one FAT sector, one directory
sector, every stream padded to 4096 bytes so that none lives in the mini stream.
"""

from __future__ import annotations

import struct
from pathlib import Path

_SECTOR = 512
_FREE, _END, _FAT = 0xFFFFFFFF, 0xFFFFFFFE, 0xFFFFFFFD
_NONE = 0xFFFFFFFF


def _entry(name: str, kind: int, right: int, child: int, start: int, size: int) -> bytes:
    encoded = (name + "\0").encode("utf-16-le")
    return struct.pack("<64sHBBIII16sIQQIQ", encoded, len(encoded), kind, 1, _NONE, right,
                       child, bytes(16), 0, 0, 0, start, size)


def write_ole(path: Path, streams: dict[str, bytes]) -> Path:
    """Write ``streams`` (at most 3, each up to 4096 bytes) as an OLE compound file."""
    assert 0 < len(streams) <= 3
    blocks = [data.ljust(4096, b"\0") for data in streams.values()]
    fat = [_FAT, _END]
    entries = [_entry("Root Entry", 5, _NONE, 1, _END, 0)]
    for number, (name, block) in enumerate(zip(streams, blocks), start=1):
        start = len(fat)
        count = len(block) // _SECTOR
        fat += [start + i + 1 for i in range(count - 1)] + [_END]
        right = number + 1 if number < len(streams) else _NONE
        entries.append(_entry(name, 2, right, _NONE, start, len(block)))
    directory = b"".join(entries).ljust(_SECTOR, b"\0")
    fat_sector = struct.pack(f"<{len(fat)}I", *fat).ljust(_SECTOR, b"\xff")
    difat = struct.pack("<109I", 0, *([_FREE] * 108))
    header = struct.pack("<8s16sHHHHH6sIIIIIIIII", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1",
                         bytes(16), 0x3E, 3, 0xFFFE, 9, 6, bytes(6), 0, 1, 1, 0, 4096, _END, 0,
                         _END, 0) + difat
    path.write_bytes(header + fat_sector + directory + b"".join(blocks))
    return path


def word_document(path: Path, encrypted: bool) -> Path:
    fib = struct.pack("<HHHHHH", 0xA5EC, 0x00C1, 0, 0x0409, 0, 0x0100 if encrypted else 0)
    return write_ole(path, {"WordDocument": fib + bytes(600), "1Table": bytes(64)})


def excel_workbook(path: Path, encrypted: bool) -> Path:
    bof = struct.pack("<HH", 0x0809, 16) + bytes(16)
    kind = 0x002F if encrypted else 0x0042  # FILEPASS, or CODEPAGE
    after = struct.pack("<HH", kind, 6) + bytes(6)
    return write_ole(path, {"Workbook": bof + after + bytes(100)})


def encrypted_ooxml(path: Path) -> Path:
    """A password-protected DOCX: Office stores it as an OLE file with an EncryptedPackage."""
    return write_ole(path, {"EncryptionInfo": bytes(200), "EncryptedPackage": bytes(900)})
