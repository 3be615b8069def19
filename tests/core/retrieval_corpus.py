"""A small fixed corpus for the retrieval tests, written straight into a DocumentStore."""

from __future__ import annotations

import hashlib
from pathlib import Path

from core.ingest.model import Block, DocumentRecord
from core.ingest.store import DocumentStore
from core.workspace import Workspace

LABOR = [
    ("NAS-SE-03", "Senior Systems Engineer", "185.00", "Leads system architecture and integration"),
    ("NAS-SE-02", "Systems Engineer", "150.00", "Designs and integrates subsystems"),
    ("NAS-PM-01", "Program Manager", "210.00", "Overall responsibility for cost and schedule"),
    ("NAS-DB-02", "Database Administrator", "140.00", "Operates and tunes relational databases"),
    ("NAS-CY-04", "Cybersecurity Analyst", "165.00", "Monitors threats and manages incidents"),
]
PAST_PERFORMANCE = [
    ("PP-2019-07", "Port Authority Logistics", "Migrated cargo tracking to a cloud platform"),
    ("PP-2021-03", "Coastal Guard Radio", "Upgraded maritime radio network with encryption"),
]

# (file name, kind, title, [(section path, paragraphs)])
TEXT_DOCUMENTS: list[tuple[str, str, str, list[tuple[tuple[str, ...], list[str]]]]] = [
    ("rfp-harbour-data-platform.md", "rfp", "Harbour Data Platform RFP", [
        (("Harbour Data Platform", "Background"), [
            "The Harbour Authority operates forty legacy databases that track vessel arrivals, "
            "berth allocation and cargo manifests.",
        ]),
        (("Harbour Data Platform", "Requirements"), [
            "3.1 The contractor shall migrate all forty databases to a government cloud within "
            "nine months without losing historical records.",
            "3.2 The contractor shall provide round-the-clock monitoring of the platform with a "
            "response time of fifteen minutes for critical alerts.",
            "3.3 Staff with access to port data must hold a public trust clearance.",
        ]),
    ]),
    ("proposal-harbour-data-platform.md", "proposal", "Harbour Data Platform proposal", [
        (("Technical approach", "Migration"), [
            "We move the databases in three waves, starting with the berth allocation system, "
            "and verify every table with row counts and checksums before cutover.",
        ]),
        (("Technical approach", "Operations"), [
            "Our security operations centre watches the platform twenty-four hours a day and "
            "pages an on-call engineer within five minutes of a critical alarm.",
        ]),
        (("Management", "Staffing"), [
            "A program manager with twelve years of port experience leads the team of nine.",
        ]),
    ]),
    ("rfp-fleet-maintenance.md", "rfp", "Fleet Maintenance RFP", [
        (("Fleet Maintenance", "Scope"), [
            "The agency needs predictive maintenance for 300 patrol vehicles using telemetry "
            "from on-board diagnostics.",
            "Spare parts inventory must be forecast per depot each quarter.",
        ]),
    ]),
    ("proposal-fleet-maintenance.md", "proposal", "Fleet Maintenance proposal", [
        (("Approach",), [
            "Vehicle sensor data feeds a failure model that schedules repairs before breakdowns "
            "happen, cutting roadside failures by a third.",
            "Depot managers receive a quarterly spare parts forecast.",
        ]),
    ]),
    ("policy-travel.md", "other", "Travel policy", [
        (("Travel",), [
            "Employees book economy class for flights under six hours; receipts are filed "
            "within ten days of return.",
        ]),
    ]),
]


def _write(folder: Path, name: str, text: str) -> tuple[Path, str]:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path, hashlib.sha256(path.read_bytes()).hexdigest()


def text_blocks(sections: list[tuple[tuple[str, ...], list[str]]]) -> list[Block]:
    blocks: list[Block] = []
    seen: set[tuple[str, ...]] = set()
    for path, paragraphs in sections:
        for depth in range(1, len(path) + 1):
            if path[:depth] not in seen:
                seen.add(path[:depth])
                blocks.append(Block(kind="heading", text=path[depth - 1], section=path[:depth - 1],
                                    level=depth, page=1))
        blocks.extend(Block(kind="paragraph", text=p, section=path, page=1) for p in paragraphs)
    return blocks


def table_blocks(header: list[str], rows: list[tuple[str, ...]]) -> list[Block]:
    blocks = []
    for row in rows:
        fields = dict(zip(header, row))
        text = "; ".join(f"{k}: {v}" for k, v in fields.items())
        blocks.append(Block(kind="table_row", text=text, fields=fields))
    return blocks


def add_text_document(workspace: Workspace, folder: Path, name: str, kind: str, title: str,
                      sections: list[tuple[tuple[str, ...], list[str]]],
                      doc_id: str | None = None) -> DocumentRecord:
    blocks = text_blocks(sections)
    path, sha = _write(folder, name, "\n\n".join(b.text for b in blocks))
    return DocumentStore(workspace).add_version(source=path, sha256=sha, format="md",
                                                blocks=blocks, title=title, kind=kind,
                                                doc_id=doc_id)


def add_table(workspace: Workspace, folder: Path, name: str, title: str, header: list[str],
              rows: list[tuple[str, ...]], kind: str = "reference") -> DocumentRecord:
    lines = [",".join(header)] + [",".join(r) for r in rows]
    path, sha = _write(folder, name, "\n".join(lines) + "\n")
    return DocumentStore(workspace).add_version(
        source=path, sha256=sha, format="csv", blocks=table_blocks(header, rows), title=title,
        kind=kind)


def build_corpus(workspace: Workspace, folder: Path) -> dict[str, DocumentRecord]:
    """The whole corpus; returns the records by source file name."""
    records = {}
    for name, kind, title, sections in TEXT_DOCUMENTS:
        records[name] = add_text_document(workspace, folder, name, kind, title, sections)
    records["labor-categories.csv"] = add_table(
        workspace, folder / "reference", "labor-categories.csv", "Labor categories",
        ["code", "labor_category", "hourly_rate_usd", "description"], LABOR)
    records["past-performance.csv"] = add_table(
        workspace, folder / "reference", "past-performance.csv", "Past performance",
        ["reference", "customer", "summary"], PAST_PERFORMANCE)
    return records


QUESTIONS = [
    {"question": "How fast must critical alerts be answered?",
     "expected_source": "rfp-harbour-data-platform.md", "expected_text": "fifteen minutes"},
    {"question": "moving legacy databases to the cloud",
     "expected_source": "rfp-harbour-data-platform.md", "expected_text": "migrate"},
    {"question": "how will the databases be verified before cutover?",
     "expected_source": "proposal-harbour-data-platform.md", "expected_text": "checksums"},
    {"question": "who watches the platform at night?",
     "expected_source": "proposal-harbour-data-platform.md"},
    {"question": "predicting vehicle breakdowns from telemetry",
     "expected_source": "rfp-fleet-maintenance.md"},
    {"question": "spare parts forecast per depot",
     "expected_source": "rfp-fleet-maintenance.md"},
    {"question": "NAS-DB-02", "expected_source": "reference/labor-categories.csv",
     "expected_text": "Database Administrator"},
    {"question": "hourly rate of a cybersecurity analyst",
     "expected_source": "reference/labor-categories.csv", "expected_text": "NAS-CY-04"},
    {"question": "PP-2021-03 radio encryption",
     "expected_source": "reference/past-performance.csv"},
    {"question": "can I fly business class?", "expected_source": "policy-travel.md"},
    {"question": "clearance needed to access port data",
     "expected_source": "rfp-harbour-data-platform.md", "expected_text": "public trust"},
    {"question": "cargo tracking cloud migration experience",
     "expected_source": "reference/past-performance.csv", "expected_text": "PP-2019-07"},
]
