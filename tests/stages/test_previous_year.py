"""Issue 10 item 8, last part: the parse stage gives the digit-run splitter last year's stored figures.

The case: seed 004 (北京市大兴区卫生健康委员会, 2024, a real text) with every table's separators
removed, its Table 二 row 行政规范性文件 printed "77132470" (the issue's own example: 77 | 132 | 470).
This year's table alone cannot split it (several cuts satisfy nothing or everything); last year's
report of the same agency says 525 in force, and 525 + 77 - 132 = 470 leaves exactly one cut.
The agency is known only once this year's report is read, so the stage looks last year up after
the first reading and reads again with it (in the worker, sandboxed), or, when last year's report
is stored later in the same pass, once more after the pass.
"""
from __future__ import annotations

import sys
from pathlib import Path

from crawler.ingest import ingest_document
from crawler.parse_stage import ParseSettings, parse_pending
from storage.db import Store
from storage.models import Document
from storage.previous_year import previous_figures

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "parsing"))
from seed_layouts import SEEDS, run_together  # noqa: E402

STEM = sorted(p.stem for p in SEEDS.glob("*.txt"))[4]
AGENCY = "北京市大兴区卫生健康委员会"
ROW = ("issued", "repealed", "in_force")


def _this_year() -> bytes:
    text = run_together(STEM, "all")
    assert "行政规范性文件001" in text and "2024年政府信息公开工作年度报告" in text
    return text.replace("行政规范性文件001", "行政规范性文件77132470").encode("utf-8")


def _last_year() -> bytes:
    """The same agency's 2023 report: the seed with its separators kept, 525 normative documents in force."""
    text = run_together(STEM, "table4")
    assert "行政规范性文件 0 0 1" in text
    text = text.replace("2024年政府信息公开工作年度报告", "2023年政府信息公开工作年度报告", 1)
    return text.replace("行政规范性文件 0 0 1", "行政规范性文件 0 0 525").encode("utf-8")


def _doc(name: str, content: bytes) -> Document:
    return Document(url=f"http://127.0.0.1:9/ndbg/{name}.txt", content=content, content_type="text/plain", site="dx")


def _row(store: Store, year: int) -> list:
    rid = store.conn.execute("SELECT id FROM reports WHERE year = ?", (year,)).fetchone()[0]
    report = store.load_report(rid)
    return [report.value("table2", "normative_documents", c) for c in ROW], report


def test_without_last_year_the_run_stays_unread(tmp_path):
    store = Store(tmp_path / "p.db")
    ingest_document(store, _doc("2024", _this_year()))
    summary = parse_pending(store, ParseSettings(workers=1))
    values, report = _row(store, 2024)
    assert values == [None, None, None]
    assert summary.statuses == {"partial": 1} and summary.second_pass == 0
    assert any(w.code == "unsplit_digits" and "77132470" in w.message for w in report.warnings)


def test_last_years_stored_stock_decides_the_split(tmp_path):
    store = Store(tmp_path / "p.db")
    ingest_document(store, _doc("2023", _last_year()))
    parse_pending(store, ParseSettings(workers=1))
    assert previous_figures(store, AGENCY, 2024, site="dx")["table2.normative_documents.in_force"] == 525
    ingest_document(store, _doc("2024", _this_year()))
    summary = parse_pending(store, ParseSettings(workers=1))
    values, report = _row(store, 2024)
    assert values == [77, 132, 470]
    assert report.agency == AGENCY and report.year == 2024
    w = next(w for w in report.warnings if w.code == "digit_run" and "77132470" in w.message)
    assert "in_force_continuity" in w.message
    assert all(report.cell("table2", "normative_documents", c).low_confidence for c in ROW)
    assert summary.statuses == {"parsed": 1} and summary.second_pass == 0  # read in the worker, first time


def test_last_year_stored_later_in_the_same_pass(tmp_path):
    """Both pending, this year's version first: the pass writes it unread, then last year's report;
    the stage then reads this year's again with last year's figures (a ``reparsed`` event)."""
    store = Store(tmp_path / "p.db")
    ingest_document(store, _doc("2024", _this_year()))
    ingest_document(store, _doc("2023", _last_year()))
    summary = parse_pending(store, ParseSettings(workers=2))
    assert summary.second_pass == 1 and summary.written == 2
    assert summary.statuses == {"parsed": 2}
    values, _ = _row(store, 2024)
    assert values == [77, 132, 470]
    assert store.counts()["reports"] == 2
    events = store.events(kind="reparsed")
    assert len(events) == 1 and "table2.normative_documents.in_force" in events[0]["detail"]["changed_cells"]
    # nothing left for the next run, and a second run changes nothing
    again = parse_pending(store, ParseSettings(workers=1))
    assert again.written == 0


def test_an_other_agencys_last_year_is_not_used(tmp_path):
    store = Store(tmp_path / "p.db")
    other = _last_year().replace(AGENCY.encode(), "北京市大兴区教育委员会".encode()).replace(
        "大兴区卫生健康委员会".encode(), "大兴区教育委员会".encode())
    ingest_document(store, _doc("2023", other))
    parse_pending(store, ParseSettings(workers=1))
    ingest_document(store, _doc("2024", _this_year()))
    parse_pending(store, ParseSettings(workers=1))
    values, _ = _row(store, 2024)
    assert values == [None, None, None]
