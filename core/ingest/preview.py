"""The Import wizard's preview: what a file would become, without writing anything."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from core.ingest.errors import IngestError
from core.ingest.files import check_file
from core.ingest.guess import guess_kind
from core.ingest.host import enabled as host_enabled
from core.ingest.hosted import HostedParser
from core.ingest.isolation import IsolatedParser, parse_isolated
from core.ingest.limits import IngestLimits
from core.ingest.model import Block


@dataclass
class Preview:
    """A parsed file (format, blocks, warnings, guessed kind), or why it cannot be imported.

    ``error`` is the file's specific, user-facing message (and ``reason`` its short code:
    encrypted, corrupt, no-text...) when it cannot be imported; then ``blocks`` is empty.
    """

    path: Path
    format: str | None = None
    blocks: list[Block] = field(default_factory=list)
    pages: int | None = None
    kind: str = "other"
    warnings: list[str] = field(default_factory=list)
    error: str | None = None
    reason: str = ""

    @property
    def characters(self) -> int:
        return sum(len(b.text) for b in self.blocks)

    def text(self) -> str:
        """The text as it would be stored: blocks separated by blank lines."""
        return "\n\n".join(block.text for block in self.blocks)


def preview(
    path: Path | str, limits: IngestLimits | None = None, parser: IsolatedParser | None = None
) -> Preview:
    """Parse ``path`` in an isolated process and guess its kind; writes nothing.

    A file that cannot be imported gives a preview with ``error`` set (it does not
    raise), so a list of previews can show every file's fate. It borrows a warm worker
    from the parser host (``core.ingest.host``) where there is one; pass a ``parser`` to
    use that one instead.
    """
    path = Path(path).expanduser().absolute()
    limits = parser.limits if parser else (limits or IngestLimits())
    try:
        sniffed = check_file(path, limits)
        if parser:
            parsed = parser.parse(path, sniffed.format)
        elif host_enabled():  # a warm worker, which the import then finds warm too
            with HostedParser(limits) as hosted:
                parsed = hosted.parse(path, sniffed.format)
        else:
            parsed = parse_isolated(path, sniffed.format, limits)
    except IngestError as error:
        return Preview(path=path, error=str(error), reason=error.reason)
    return Preview(
        path=path,
        format=sniffed.format,
        blocks=parsed.blocks,
        pages=parsed.pages,
        kind=parsed.kind or guess_kind(path.name, parsed.blocks),
        warnings=sniffed.warnings + parsed.warnings,
    )
