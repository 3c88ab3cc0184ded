"""Build canonical Reports for the monitor's tests from the hand-checked seed values."""
from __future__ import annotations

import copy
import json
from datetime import date
from pathlib import Path

from storage.models import (SCALAR, TABLE2_LAYOUT, TABLE3_COLUMNS, TABLE4_COLUMNS, Cell, CellKind,
                            Report, Source)

EXPECTED = Path(__file__).resolve().parents[1] / "fixtures" / "expected"


def expected(prefix: str) -> dict:
    """The hand-checked values of a seed, by its number ("000" ... "004")."""
    (path,) = EXPECTED.glob(f"{prefix}_*.json")
    return json.loads(path.read_text(encoding="utf-8"))


def _cell(table: str, row: str, col: str, value) -> Cell:
    if value is None:
        return Cell(table, row, col, None, raw="", kind=CellKind.EMPTY)
    kind = CellKind.ZERO if value == 0 else CellKind.NUMERIC
    return Cell(table, row, col, value, raw=str(value), kind=kind)


def report_from(data: dict, *, agency: str | None = None, year: int | None = None,
                published: str | None = "keep", sections: dict | None = None) -> Report:
    """A Report carrying the tables of ``data`` (an expected file or a modified copy)."""
    data = copy.deepcopy(data)
    template = data.get("template", "2021")
    cells: list[Cell] = []
    for row, cols in TABLE2_LAYOUT[template].items():
        v = data["table2"].get(row)
        if cols is None:
            cells.append(_cell("table2", row, SCALAR, v))
        else:
            for col in cols:
                cells.append(_cell("table2", row, col, (v or {}).get(col)))
    for row, values in data["table3"].items():
        for col, v in zip(TABLE3_COLUMNS, values):
            cells.append(_cell("table3", row, col, v))
    for group, cols in data["table4"].items():
        for col in TABLE4_COLUMNS:
            cells.append(_cell("table4", group, col, cols.get(col)))
    pub = data.get("published") if published == "keep" else published
    agency = agency or data["agency"]
    year = year or data["year"]
    secs = sections if sections is not None else {
        "overview": f"{year}年，{agency}认真贯彻落实政府信息公开条例。",
        "problems": "存在的问题：公开内容不够全面。",
    }
    return Report(source=Source(url=f"http://example.invalid/{agency}/{year}.html", format="html"),
                  agency=agency, year=year, template=template,
                  title=f"{agency}{year}年政府信息公开工作年度报告",
                  published=date.fromisoformat(pub) if pub else None, cells=cells,
                  sections=secs, text="\n".join(secs.values()))


def previous_year_of(data: dict) -> dict:
    """A consistent previous year for ``data``: its carried_forward is this year's carried_over and
    its stock of documents leads to this year's in_force; other numbers are the same magnitude."""
    prev = copy.deepcopy(data)
    prev["year"] = data["year"] - 1
    prev["table3"]["carried_forward"] = list(data["table3"]["carried_over"])
    for row in ("regulations", "normative_documents"):
        t = data["table2"][row]
        if None not in (t["in_force"], t["issued"], t["repealed"]):
            prev["table2"][row] = {"issued": t["issued"], "repealed": t["repealed"],
                                   "in_force": t["in_force"] - t["issued"] + t["repealed"]}
    # one more request granted, in every place that counts it, so that the year is not a copy
    # and every within-report relation still holds
    for row in ("new", "granted", "total_processed"):
        for i in (0, 6):
            if prev["table3"][row][i] is not None:
                prev["table3"][row][i] += 1
    return prev
