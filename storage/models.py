"""The data's shape: what flows between the packages.

portal --Document--> storage --> parsing --Report--> storage --> checks --Finding--> alerts

These are plain dataclasses so that every package (spiders, crawler, monitor) can use them
without importing anything else of ours but the vocabulary.  The *keys* of the canonical model
(vocabulary/keys.py) are re-exported here; the Chinese *labels* and their variants live in
vocabulary/template.py and travel with each Cell as ``label``.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from enum import Enum
from typing import Any

# --------------------------------------------------------------------------------------------
# Canonical keys (see ../shared/spec/report-model.md): defined in the vocabulary, the ground floor
# --------------------------------------------------------------------------------------------

from vocabulary.keys import (  # noqa: F401  (re-exported: storage.models is where callers look)
    SCALAR, SECTION_KEYS, TABLE2_LAYOUT, TABLE3_APPLICANT_COLUMNS, TABLE3_COLUMNS, TABLE3_RESULT_ROWS,
    TABLE3_ROWS, TABLE4_COLUMNS, TABLE4_GROUPS, TEMPLATES,
)

#: Below this a cell's reading is not trusted enough to blame the agency for a broken relation.
LOW_CONFIDENCE = 0.9
SEVERITIES = ("error", "warning", "info")


class CellKind(str, Enum):
    NUMERIC = "NUMERIC"
    ZERO = "ZERO"
    EMPTY = "EMPTY"  # printed blank
    NA = "NA"  # "/", "-", "—", "无"
    TEXT = "TEXT"

    @property
    def assessable(self) -> bool:
        return self in (CellKind.NUMERIC, CellKind.ZERO)


class ParseStatus(str, Enum):
    """What became of a document in the parsing stage."""

    PARSED = "parsed"  # every table found, every cell numeric
    PARTIAL = "partial"  # a report, but some table/cell missing or not numeric
    NOT_A_REPORT = "not_a_report"  # e.g. a news article
    NEEDS_OCR = "needs_ocr"  # scanned PDF, image
    EMPTY = "empty"  # no bytes / no text
    UNSUPPORTED = "unsupported"  # format we cannot read (random bytes, zip bomb...)
    ENCRYPTED = "encrypted"
    TOO_LARGE = "too_large"
    FAILED = "failed"  # corrupt file, converter crash; ``error`` says why


# --------------------------------------------------------------------------------------------
# Document: what a spider fetched (or a local file that was ingested)
# --------------------------------------------------------------------------------------------


@dataclass
class Document:
    url: str  # http(s) URL, or file:// URL for local files
    content: bytes
    content_type: str | None = None  # as served (may lie); the parser sniffs anyway
    status: int = 200
    fetched_at: datetime | None = None
    etag: str | None = None
    last_modified: str | None = None
    site: str | None = None  # config site name
    link_title: str | None = None  # title of the listing entry that led here
    listing_date: str | None = None  # date shown beside the entry, YYYY-MM-DD
    report_url: str | None = None  # for an attachment: the report page it belongs to
    page_date: str | None = None  # PubDate/发布日期 read off the page by the spider, if any
    fetch_status: str = "ok"  # ok | not_modified | waf_challenge | soft_404 | ... (see spiders)

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.content).hexdigest()

    @property
    def size(self) -> int:
        return len(self.content)


# --------------------------------------------------------------------------------------------
# Report: the canonical model
# --------------------------------------------------------------------------------------------


@dataclass
class Cell:
    table: str  # "table2" | "table3" | "table4"
    row: str  # canonical row key ("new", "regulations", "review", ...)
    column: str  # canonical column key ("total", "issued", "upheld", or SCALAR)
    value: int | float | str | None  # None unless kind is NUMERIC or ZERO (procurement amount: str)
    raw: str = ""  # text as printed
    kind: CellKind = CellKind.NUMERIC
    label: str = ""  # the canonical Chinese label of the row (from the template definition)
    #: How sure the reading is, 0..1; None when the value was read directly from a text layer or markup.
    #: OCR readings and values recovered by splitting a run of digits carry one; a finding resting
    #: on a cell below LOW_CONFIDENCE is a warning that says so, never an error blamed on the agency.
    confidence: float | None = None
    #: Other readings the OCR found plausible (not stored; the arithmetic proof-reader tries them).
    alternatives: tuple[str, ...] = field(default=(), repr=False, compare=False)

    @property
    def low_confidence(self) -> bool:
        return self.confidence is not None and self.confidence < LOW_CONFIDENCE

    @property
    def ref(self) -> str:
        """Stable name of the cell, used by findings: 'table3.new.total'."""
        return f"{self.table}.{self.row}.{self.column}"


@dataclass
class ParseWarning:
    code: str  # blank_cell | row_not_found | table_not_found | ambiguous_value | ...
    message: str
    cell: str | None = None  # Cell.ref, when it concerns one cell


@dataclass
class Finding:
    rule: str  # rule id of the spec: row_total, balance, carry_continuity, missing, ...
    severity: str  # error | warning | info
    message: str  # in Chinese, for a 政务公开办 officer
    cells: list[str] = field(default_factory=list)  # Cell.ref of every cell involved
    suspect: str | None = None  # Cell.ref where failing rules intersect
    numbers: dict[str, Any] = field(default_factory=dict)  # evidence: left, right, delta...
    agency: str | None = None
    year: int | None = None
    report_id: int | None = None  # set by storage when it is tied to a stored report
    site: str | None = None
    subject: str = ""  # what the finding is about beyond cells (e.g. a row or column key)

    @property
    def fingerprint(self) -> str:
        """Stable identity: the same problem found again yields the same fingerprint."""
        key = json.dumps(
            [self.rule, self.site or "", self.agency or "", self.year or 0, sorted(self.cells),
             self.subject],
            ensure_ascii=False,
        )
        return hashlib.sha256(key.encode("utf-8")).hexdigest()[:24]

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["fingerprint"] = self.fingerprint
        return d


@dataclass
class Source:
    path: str | None = None
    url: str | None = None
    sha256: str | None = None
    format: str | None = None  # html | text | docx | pdf | doc | wps | image | unknown


@dataclass
class Report:
    source: Source = field(default_factory=Source)
    status: ParseStatus = ParseStatus.PARSED
    error: str | None = None  # why, when status is not parsed/partial
    agency: str | None = None  # the whole name: identity (区教育局 on the 武昌区 portal -> 武汉市武昌区教育局)
    agency_printed: str | None = None  # the name as the document/page prints it: evidence
    year: int | None = None
    title: str | None = None
    published: date | None = None
    template: str = "unknown"  # "2021" | "2019" | "unknown"
    cells: list[Cell] = field(default_factory=list)
    sections: dict[str, str] = field(default_factory=dict)
    text: str = ""  # the whole plain text (full-text search, copied-text checks)
    period: tuple[date, date] | None = None  # statistical period stated in the text
    warnings: list[ParseWarning] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)

    # -- cell access -------------------------------------------------------------------------
    def cell(self, table: str, row: str, column: str = SCALAR) -> Cell | None:
        # an index rebuilt when the cell list was replaced or grew (parsers append; nothing reorders)
        index = self.__dict__.get("_index")
        if index is None or index[0] != (id(self.cells), len(self.cells)):
            first: dict[tuple[str, str, str], Cell] = {}
            for c in self.cells:  # the first reading of a key, as a scan would find it
                first.setdefault((c.table, c.row, c.column), c)
            index = ((id(self.cells), len(self.cells)), first)
            self.__dict__["_index"] = index
        return index[1].get((table, row, column))

    def value(self, table: str, row: str, column: str = SCALAR):
        """The value if the cell is assessable (NUMERIC/ZERO), else None."""
        c = self.cell(table, row, column)
        return c.value if c is not None and c.kind.assessable else None

    def cell_map(self) -> dict[tuple[str, str, str], Cell]:
        return {(c.table, c.row, c.column): c for c in self.cells}

    # -- the wide views used by --json and the expected files ---------------------------------
    @property
    def table2(self) -> dict[str, Any]:
        cells = self.cell_map()
        out: dict[str, Any] = {}
        for row, cols in TABLE2_LAYOUT.get(self.template, TABLE2_LAYOUT["2021"]).items():
            if cols is None:
                c = cells.get(("table2", row, SCALAR))
                out[row] = _json_value(c)
            else:
                out[row] = {col: _json_value(cells.get(("table2", row, col))) for col in cols}
        return out

    @property
    def table3(self) -> dict[str, list]:
        cells = self.cell_map()
        rows = list(TABLE3_ROWS.get(self.template, TABLE3_ROWS["2021"]))
        # a mixed report (template-2021 Table 二, template-2019 （六）其他处理 row) keeps its extra row
        printed = {c.row for c in self.cells if c.table == "table3"}
        rows += [r for r in TABLE3_ROWS["2019"] if r in printed and r not in rows]
        return {row: [_json_value(cells.get(("table3", row, col))) for col in TABLE3_COLUMNS] for row in rows}

    @property
    def table4(self) -> dict[str, dict]:
        cells = self.cell_map()
        return {
            g: {col: _json_value(cells.get(("table4", g, col))) for col in TABLE4_COLUMNS}
            for g in TABLE4_GROUPS
        }

    def to_json(self) -> dict[str, Any]:
        """The `nianbao parse --json` contract (see the spec)."""
        return {
            "source": asdict(self.source),
            "status": self.status.value,
            "error": self.error,
            "agency": self.agency,
            "agency_printed": self.agency_printed,
            "year": self.year,
            "title": self.title,
            "published": self.published.isoformat() if self.published else None,
            "template": self.template,
            "table2": self.table2,
            "table3": self.table3,
            "table4": self.table4,
            "sections": dict(self.sections),
            "warnings": [asdict(w) for w in self.warnings],
            "findings": [
                {"rule": f.rule, "severity": f.severity, "message": f.message,
                 "cells": f.cells, "suspect": f.suspect}
                for f in self.findings
            ],
        }


def _json_value(cell: Cell | None):
    if cell is None or not cell.kind.assessable:
        return None
    return cell.value
