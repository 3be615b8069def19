"""The parser process: ``python -m core.ingest.worker MEMORY_BYTES``.

Reads one JSON request a line on stdin (``{"path", "format", "limits"}``), parses and
cleans that file, and answers one JSON line on stdout: ``{"ok": true, "result": ...}`` or
``{"ok": false, "error": class name, "message": ...}``. Its address space is capped
(RLIMIT_AS) so a hostile file fails with a memory error instead of taking the machine
down; anything the libraries print goes to stderr, never into the answers.
"""

from __future__ import annotations

import json
import os
import sys
import traceback


def _limit_memory(limit: int) -> None:
    try:
        import resource
    except ImportError:  # pragma: no cover - Windows: no rlimits
        return
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    resource.setrlimit(resource.RLIMIT_AS, (limit, hard))


def _answer(out: object, payload: dict[str, object]) -> None:
    out.write((json.dumps(payload, ensure_ascii=False) + "\n").encode("utf-8"))  # type: ignore[attr-defined]
    out.flush()  # type: ignore[attr-defined]


def main() -> int:
    out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # library prints must not corrupt the protocol
    sys.stdout = sys.stderr
    import core.ingest.dedup  # noqa: F401 - imported once, before the first file
    import core.ingest.parsers.pdf  # noqa: F401
    import core.ingest.parsers.word  # noqa: F401
    from core.ingest.errors import IngestError
    from core.ingest.limits import IngestLimits
    from core.ingest.parsers import analyse_file

    _limit_memory(int(sys.argv[1]))
    _answer(out, {"ready": True})
    for line in sys.stdin:
        if not line.strip():
            continue
        request = json.loads(line)
        try:
            limits = IngestLimits.model_validate(request["limits"])
            result = analyse_file(request["path"], request["format"], limits)
            _answer(out, {"ok": True, "result": result.to_json()})
        except IngestError as error:
            _answer(out, {"ok": False, "error": type(error).__name__, "message": str(error)})
        except MemoryError:
            _answer(out, {"ok": False, "error": "ParseMemoryError", "message": ""})
            return 3  # start afresh: the heap may be fragmented or half-full
        except Exception as error:  # noqa: BLE001 - a parser bug: report it, keep going
            traceback.print_exc()
            _answer(
                out,
                {
                    "ok": False,
                    "error": "IngestError",
                    "message": f"Internal error while parsing ({type(error).__name__}: {error})",
                },
            )
    return 0


if __name__ == "__main__":
    code = main()
    sys.stderr.flush()
    os._exit(code)  # nothing left to tidy: skip the interpreter's teardown
