"""The arithmetic as proof-reader, on reports built from the seeds' expected values (no OCR run)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from crawler.parsing.ocr.proofread import proofread, readings
from monitor.checks.report import check_report
from storage.models import Cell, CellKind, Report, TABLE3_COLUMNS

EXPECTED = Path(__file__).resolve().parents[1] / "fixtures" / "expected"


def report_of(stem: str, confidence: float = 0.97) -> Report:
    """Every expected value as a cell read by OCR with the given confidence."""
    exp = json.loads((EXPECTED / f"{stem}.json").read_text("utf-8"))
    r = Report(agency=exp["agency"], year=exp["year"], template=exp["template"])
    for row, vals in exp["table3"].items():
        for col, v in zip(TABLE3_COLUMNS, vals):
            r.cells.append(Cell("table3", row, col, v, raw=str(v), kind=CellKind.ZERO if v == 0 else CellKind.NUMERIC,
                                confidence=confidence))
    for g, d in exp["table4"].items():
        for col, v in d.items():
            r.cells.append(Cell("table4", g, col, v, raw=str(v), kind=CellKind.ZERO if v == 0 else CellKind.NUMERIC,
                                confidence=confidence))
    return r


def misread(r: Report, ref: str, raw: str, confidence: float) -> Cell:
    c = next(c for c in r.cells if c.ref == ref)
    c.raw, c.value, c.confidence = raw, int(raw), confidence
    c.kind = CellKind.ZERO if c.value == 0 else CellKind.NUMERIC
    return c


# seed 004 has non-zero counts and no inconsistency of its own
CLEAN = "004_df5f9a23d5b9d417"
FLAWED = "001_d039ec262de9d514"  # row_total and results_total broken by the agency itself


def _nonzero_cell(r: Report) -> Cell:
    return next(c for c in r.cells if c.ref == "table3.unavailable_not_held.natural_person")  # 3


def test_readings_cover_the_usual_confusions_and_a_lost_digit():
    c = Cell("table3", "new", "total", 17, raw="17", confidence=0.4)
    alts = readings(c)
    assert {"77", "11", "18"} - set(alts) == {"18"}  # 1/7 both ways; 7 is not mistaken for 8
    assert "107" in alts and "170" in alts and "1" in alts and "7" in alts  # a digit lost or added
    assert "017" not in alts  # no leading zero
    assert readings(c, lost_digits=False) == [a for a in alts if len(a) == 2]


@pytest.mark.parametrize("wrong", ["confusion", "alternative"])
def test_a_low_confidence_misread_is_corrected_and_logged(wrong):
    r = report_of(CLEAN)
    cell = _nonzero_cell(r)
    true = cell.value
    assert true == 3
    if wrong == "confusion":
        misread(r, cell.ref, "8", 0.55)
    else:  # the other reading kept by OCR is tried first
        misread(r, cell.ref, str(true + 40), 0.5)
        cell.alternatives = (str(true),)
    assert any(f.rule == "row_total" for f in check_report(r))
    added = proofread(r)
    assert [w.cell for w in added] == [cell.ref]
    assert cell.value == true and cell.raw == str(true)
    assert "confidence 0.5" in added[0].message and "corrected to '3'" in added[0].message
    assert check_report(r) == []
    assert cell.low_confidence  # still marked uncertain


def test_a_confident_reading_is_never_changed():
    r = report_of(CLEAN)
    cell = _nonzero_cell(r)
    misread(r, cell.ref, "8", 0.96)
    assert proofread(r) == []
    findings = check_report(r)
    assert {f.rule for f in findings} >= {"row_total"}
    assert all(f.severity == "error" and "OCR" not in f.message for f in findings if f.rule == "row_total")


def test_the_agencys_own_errors_are_not_fixed_even_when_cells_are_uncertain():
    r = report_of(FLAWED, confidence=0.6)
    before = [(c.ref, c.value) for c in r.cells]
    assert proofread(r) == []
    assert [(c.ref, c.value) for c in r.cells] == before
    findings = check_report(r)
    assert {"row_total", "results_total"} <= {f.rule for f in findings}
    # resting on uncertain cells, they are warnings that say so, not errors blamed on the agency
    for f in findings:
        if f.rule in ("row_total", "results_total"):
            assert f.severity == "warning" and "OCR 可能误读" in f.message


def test_two_possible_fixes_leave_the_cell_alone():
    r = report_of(CLEAN)
    a = next(c for c in r.cells if c.ref == "table4.review.upheld")
    t = next(c for c in r.cells if c.ref == "table4.review.total")
    for c, v in ((a, 1), (t, 7)):  # upheld 1, total 7: 1 -> 7 or 7 -> 1, two ways to fix it
        c.value, c.raw, c.kind, c.confidence = v, str(v), CellKind.NUMERIC, 0.5
    for c in r.cells:
        if c.table == "table4" and c.row == "review" and c not in (a, t):
            c.value, c.raw, c.kind = 0, "0", CellKind.ZERO
    assert proofread(r) == []
    (f,) = [f for f in check_report(r) if f.rule == "appeal_total"]
    assert f.severity == "warning" and "OCR 可能误读" in f.message


def test_findings_on_confident_cells_stay_errors():
    r = report_of(FLAWED, confidence=None)
    for f in check_report(r):
        if f.rule in ("row_total", "results_total"):
            assert f.severity == "error" and "OCR" not in f.message
