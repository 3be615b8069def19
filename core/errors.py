"""One exception root with a user-facing message.

The CLI prints ``str(error)`` without a traceback and exits non-zero; the desktop app
shows it in one dialog. Anything that is not a ``ScriptoriumError`` is a bug.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pydantic import ValidationError


class ScriptoriumError(Exception):
    """Base of every error the engine raises on purpose; the message is for the user."""

    exit_code: int = 1

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message} ({self.hint})" if self.hint else self.message


class WorkspaceError(ScriptoriumError):
    """The workspace folder is missing, not a workspace, or inconsistent."""


class ConfigError(ScriptoriumError):
    """A configuration value is invalid; the message lists every problem at once."""


class ModelError(ScriptoriumError):
    """A model is missing, unsafe to load, or cannot be used for the requested work."""


class JobError(ScriptoriumError):
    """A job could not be started, followed or cancelled."""


class JobCancelled(ScriptoriumError):
    """Raised inside a job function when the user asked it to stop."""


class DiskSpaceError(ScriptoriumError):
    """Not enough free disk for the work asked for."""


def is_disk_full(error: BaseException) -> bool:
    """Whether ``error`` is a write that failed because the disk (or quota) is full: an
    ``OSError`` with ENOSPC or EDQUOT, a short write reported without an errno ("N
    requested and M written"), or a native library's error carrying the OS's words for
    it (LanceDB raises ``RuntimeError: … No space left on device (os error 28)``)."""
    import errno

    text = str(error)
    if isinstance(error, OSError):
        if error.errno in (errno.ENOSPC, errno.EDQUOT):
            return True
        if error.errno is None and "requested and" in text and "written" in text:
            return True
    return isinstance(error, OSError | RuntimeError) and any(
        words in text for words in ("No space left on device", "Disk quota exceeded",
                                    "os error 28"))


def disk_full(error: BaseException, what: str = "") -> DiskSpaceError:
    """The user-facing error for a write the full disk stopped."""
    filename = getattr(error, "filename", None)
    where = f" writing {filename}" if filename else ""
    doing = f" while {what}" if what else ""
    return DiskSpaceError(f"The disk is full{doing}: the write{where} failed.",
                          hint="free some space, or use a folder on another disk, and run "
                               "again; nothing finished was lost")


def validation_message(error: ValidationError, what: str = "config") -> str:
    """A pydantic validation error as one user-facing line, every problem at once:
    ``Invalid training config: lora.r: Input should be greater than 0; steps: ….``"""
    problems = []
    for item in error.errors():
        where = ".".join(str(p) for p in item["loc"])
        message = str(item["msg"]).removeprefix("Value error, ")
        problems.append(f"{where}: {message}" if where else message)
    return f"Invalid {what}: " + "; ".join(problems) + "."
