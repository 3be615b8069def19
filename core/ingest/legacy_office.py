"""What a legacy Office file (an OLE compound file) is, and whether a password protects it.

We cannot import these formats, but the message must say what is true of the file: a
password-protected Word 97-2003 document needs a different fix than a plain one, and a
password-protected DOCX is stored as an OLE file too (its "EncryptedPackage" stream).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

_FIB_ENCRYPTED = 0x0100  # fEncrypted in the Word FIB's flags word (offset 10)
_XLS_FILEPASS = 0x002F  # the BIFF record that says the workbook is encrypted
_XLS_BOF = 0x0809


@dataclass(frozen=True)
class LegacyOffice:
    what: str  # "Word 97-2003 document", …
    encrypted: bool
    save_as: str  # the format to save a copy in ("DOCX"); "" when it is already one

    @property
    def named(self) -> str:
        return ("an " if self.what[0] in "AEIOU" else "a ") + self.what

    def advice(self) -> str:
        """What the user should do with the file."""
        unprotected = "a copy without the password" if self.encrypted else "a copy"
        target = f" as {self.save_as}" if self.save_as else ""
        return f"open it in Office, save {unprotected}{target} and import that"


def _word_encrypted(data: bytes) -> bool:
    if len(data) < 12:
        return False
    (flags,) = struct.unpack_from("<H", data, 10)
    return bool(flags & _FIB_ENCRYPTED)


def _workbook_encrypted(data: bytes) -> bool:
    """A FILEPASS record right after the first BOF record marks an encrypted workbook."""
    offset, seen = 0, 0
    while offset + 4 <= len(data) and seen < 8:
        kind, size = struct.unpack_from("<HH", data, offset)
        if kind == _XLS_FILEPASS:
            return True
        if seen == 0 and kind != _XLS_BOF:
            return False
        offset += 4 + size
        seen += 1
    return False


def describe(path: Path) -> LegacyOffice | None:
    """Classify an OLE compound file; None when it is not one or cannot be read as one."""
    import olefile

    try:
        if not olefile.isOleFile(str(path)):
            return None
        with olefile.OleFileIO(str(path)) as ole:
            if ole.exists("EncryptedPackage"):
                return LegacyOffice("Office document", True, "")
            if ole.exists("WordDocument"):
                head = ole.openstream("WordDocument").read(64)
                return LegacyOffice("Word 97-2003 document", _word_encrypted(head), "DOCX")
            for stream in ("Workbook", "Book"):
                if ole.exists(stream):
                    head = ole.openstream(stream).read(4096)
                    return LegacyOffice("Excel 97-2003 workbook", _workbook_encrypted(head),
                                        "XLSX")
            if ole.exists("PowerPoint Document"):
                return LegacyOffice("PowerPoint 97-2003 presentation", False, "PDF")
            if ole.exists("__substg1.0_0037001F") or ole.exists("__substg1.0_0037001E"):
                return LegacyOffice("Outlook message", False, "PDF")
    except (OSError, ValueError, TypeError, struct.error):  # olefile's own errors are OSErrors
        return None
    return LegacyOffice("legacy Office file", False, "DOCX")
