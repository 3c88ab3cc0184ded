"""Helpers of the storage tests: the seeds, their hand-checked values as Reports, free ports."""
from __future__ import annotations

import json
import socket
from datetime import date, datetime, timezone
from pathlib import Path

from storage.models import (
    SCALAR, TABLE2_LAYOUT, TABLE3_COLUMNS, TABLE3_RESULT_ROWS, TABLE4_COLUMNS, Cell, CellKind, Document, Finding,
    Report, Source,
)

FIXTURES = Path(__file__).parents[1] / "fixtures"
SEEDS = FIXTURES / "seeds"
EXPECTED = FIXTURES / "expected"


def expected(seed: str) -> dict:
    """The hand-checked values of a seed (prefix such as '001')."""
    return json.loads(next(EXPECTED.glob(f"{seed}_*.json")).read_text(encoding="utf-8"))


def seed_path(seed: str) -> Path:
    return next(SEEDS.glob(f"{seed}_*.txt"))


def _cell(table: str, row: str, col: str, value) -> Cell:
    if value is None:
        return Cell(table, row, col, None, raw="", kind=CellKind.EMPTY)
    kind = CellKind.ZERO if value == 0 else CellKind.NUMERIC
    return Cell(table, row, col, value, raw=str(value), kind=kind, label=row)


def report_from_expected(exp: dict, *, text: str = "") -> Report:
    """A Report holding a seed's hand-checked values (for storage tests independent of the parser)."""
    cells: list[Cell] = []
    for row, cols in TABLE2_LAYOUT[exp["template"]].items():
        v = exp["table2"][row]
        if cols is None:
            cells.append(_cell("table2", row, SCALAR, v))
        else:
            cells += [_cell("table2", row, c, v[c]) for c in cols]
    for row, values in exp["table3"].items():
        cells += [_cell("table3", row, c, v) for c, v in zip(TABLE3_COLUMNS, values)]
    for group, values in exp["table4"].items():
        cells += [_cell("table4", group, c, values[c]) for c in TABLE4_COLUMNS]
    findings = []
    for inc in exp.get("inconsistencies", []):
        if inc["rule"] == "row_total":
            refs = [f"table3.{inc['row']}.{c}" for c in TABLE3_COLUMNS]
        elif inc["rule"] == "results_total":
            refs = [f"table3.{r}.{inc['column']}" for r in TABLE3_RESULT_ROWS[exp["template"]]]
            refs.append(f"table3.total_processed.{inc['column']}")
        else:
            refs = []
        findings.append(Finding(rule=inc["rule"], severity="error", message=inc.get("detail", ""), cells=refs,
                                agency=exp["agency"], year=exp["year"], subject=inc.get("row") or inc.get("column") or ""))
    return Report(source=Source(format="text"), agency=exp["agency"], year=exp["year"], title=exp["title"],
                  published=date.fromisoformat(exp["published"]) if exp["published"] else None,
                  template=exp["template"], cells=cells, sections={"overview": text[:200]}, text=text,
                  findings=findings)


def doc(url: str, content: bytes, **kw) -> Document:
    kw.setdefault("fetched_at", datetime(2025, 2, 1, 8, 0, tzinfo=timezone.utc))
    return Document(url=url, content=content, **kw)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
