"""Item 8 of issue 10: cells run together ("行政规范性文件77132470", a Table 三 row as "1000001",
Table 四 as one run of fifteen digits) are split by the table's arithmetic or left unread, never
read as one number.

The corpus: the seed reports (real texts) rendered by tests/parsing/seed_layouts.py as plain text
whose tables lost their separators in each form; and a real-shaped table of larger numbers (the
2019 report of issue 10, totals filled in) where the digits alone do not decide.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from crawler.parsing import parse_bytes
from crawler.parsing.digit_runs import RESOLVED_CONFIDENCE, Relation, Run, is_run, resolve, splits
from monitor.checks.report import check_report
from storage.models import TABLE3_COLUMNS, CellKind, ParseStatus

from seed_layouts import RUN_FORMS, SEEDS, run_together

EXPECTED = Path(__file__).resolve().parents[1] / "fixtures" / "expected"
STEMS = sorted(p.stem for p in SEEDS.glob("*.txt"))


def _parse(text: str):
    return parse_bytes(text.encode("utf-8"), path="runs.txt")


# -- the splitting ----------------------------------------------------------------------------------------

def test_splits_respect_leading_zeros():
    assert splits(["1000001"], 7) == [(1, 0, 0, 0, 0, 0, 1)]
    assert splits(["001"], 3) == [(0, 0, 1)]
    assert (77, 132, 470) in splits(["77132470"], 3)
    assert len(splits(["77132470"], 3)) == 21
    assert sorted(splits(["12", "000012"], 7)) == [(1, 2, 0, 0, 0, 0, 12), (12, 0, 0, 0, 0, 1, 2)]
    assert splits(["9" * 40], 7, limit=1000) is None  # too many: not considered


def test_is_run():
    assert is_run(["77132470"], 3)
    assert not is_run(["77", "132", "470"], 3)  # separators kept
    assert not is_run(["1", "", ""], 3)  # blank cells, not a run
    assert not is_run(["", "12", "27", "22", "23", "24", "122"], 7)  # a grid row with a blank cell
    assert not is_run(["250", "20", "0", "0", "2", "0", ""], 7)  # a blank total (the 2019 report)
    assert not is_run(["5"], 1)
    assert not is_run(["12a"], 3)


def _row(name: str) -> tuple[str, ...]:
    return tuple(f"table3.{name}.{c}" for c in TABLE3_COLUMNS)


def _row_total(name: str) -> Relation:
    return Relation(f"row_total({name})", _row(name)[:-1], _row(name)[-1:])


def test_a_row_total_alone_leaves_two_splits_unread():
    run = Run(_row("carried_over"), "101000011", splits(["101000011"], 7))
    out = resolve([run], {}, [_row_total("carried_over")])
    assert out.values == {} and out.unread[0][1] == "ambiguous"  # 10|1|0|0|0|0|11 and 1|0|10|0|0|0|11


def test_a_column_sum_decides_between_them():
    run = Run(_row("carried_over"), "101000011", splits(["101000011"], 7))
    # balance per column: new + carried_over = processed + carried_forward, the other three rows read
    fixed = {}
    rels = [_row_total("carried_over")]
    for c, new, done, fwd in zip(TABLE3_COLUMNS, (640, 50, 0, 0, 8, 0, 698), (635, 49, 0, 0, 7, 0, 691),
                                 (15, 2, 0, 0, 1, 0, 18)):
        fixed.update({f"table3.new.{c}": new, f"table3.total_processed.{c}": done,
                      f"table3.carried_forward.{c}": fwd})
        rels.append(Relation(f"balance({c})", (f"table3.new.{c}", f"table3.carried_over.{c}"),
                             (f"table3.total_processed.{c}", f"table3.carried_forward.{c}")))
    out = resolve([run], fixed, rels)
    assert [out.values[r] for r in run.refs] == [10, 1, 0, 0, 0, 0, 11]
    assert set(out.confidence.values()) == {RESOLVED_CONFIDENCE}
    assert out.taken[0][2] == 5  # five ways to cut the digits


def test_no_split_when_the_relations_contradict_every_cut():
    run = Run(_row("carried_over"), "101000011", splits(["101000011"], 7))
    rel = Relation("carry_continuity(total)", (_row("carried_over")[-1],), (), 12)
    out = resolve([run], {}, [_row_total("carried_over"), rel])
    assert out.values == {} and out.unread[0][1] == "no_split"


# -- the seed corpus with its separators removed ------------------------------------------------------------

@pytest.mark.parametrize("form", RUN_FORMS)
@pytest.mark.parametrize("stem", STEMS, ids=lambda s: s[:3])
def test_seed_tables_run_together(stem, form):
    text = run_together(stem, form)
    report = _parse(text)
    want = json.loads((EXPECTED / f"{stem}.json").read_text(encoding="utf-8"))
    got = report.to_json()
    for field in ("table2", "table3", "table4", "template"):
        assert got[field] == want[field], field
    assert report.status is ParseStatus.PARSED
    runs = [w for w in report.warnings if w.code == "digit_run"]
    if form != "halves":  # halves of a run may be single digits already
        assert runs, "the rendering ran cells together"
    assert {w.code for w in report.warnings} <= {"digit_run"}
    assert sorted(f.rule for f in check_report(report)) == sorted(i["rule"] for i in want["inconsistencies"])
    # no run is ever one number
    assert max(c.value for c in report.cells if isinstance(c.value, int)) < 100_000


def test_table2_row_that_cannot_be_split_stays_unread():
    text = run_together(STEMS[4], "all").replace("行政规范性文件001", "行政规范性文件77132470")
    report = _parse(text)
    cells = [report.cell("table2", "normative_documents", c) for c in ("issued", "repealed", "in_force")]
    assert all(c.value is None and c.kind is CellKind.TEXT and c.low_confidence for c in cells)
    assert all(c.raw == "77132470" for c in cells)
    assert report.status is ParseStatus.PARTIAL
    assert any(w.code == "unsplit_digits" and "77132470" in w.message for w in report.warnings)
    assert not [f for f in check_report(report) if any(r.startswith("table2.normative") for r in f.cells)]


def test_last_years_stock_decides_a_table2_run():
    text = run_together(STEMS[4], "all").replace("行政规范性文件001", "行政规范性文件77132470")
    report = parse_bytes(text.encode("utf-8"), path="runs.txt",
                         hints={"previous": {"table2.normative_documents.in_force": 525}})
    got = [report.value("table2", "normative_documents", c) for c in ("issued", "repealed", "in_force")]
    assert got == [77, 132, 470]  # 525 + 77 - 132 = 470, and no other split of the digits fits
    cell = report.cell("table2", "normative_documents", "in_force")
    assert cell.confidence == RESOLVED_CONFIDENCE and cell.low_confidence
    w = next(w for w in report.warnings if w.code == "digit_run" and "77132470" in w.message)
    assert "in_force_continuity" in w.message and "ways" in w.message


# -- larger numbers: the arithmetic decides, or the cells stay unread -------------------------------------

#: The real-shaped 2019 table of tests/monitor/test_narrative_phrases.py with its totals printed
#: (template 2021 rows: （六） split, its three rows 5 | 0 | 0).
_TRUE = {
    "new": [640, 50, 0, 0, 8, 0, 698], "carried_over": [10, 1, 0, 0, 0, 0, 11],
    "granted": [250, 20, 0, 0, 2, 0, 272], "partially_granted": [3, 0, 0, 0, 0, 0, 3],
    "withheld_state_secret": [0] * 7, "withheld_prohibited_by_law": [2, 0, 0, 0, 0, 0, 2],
    "withheld_three_safety": [0] * 7, "withheld_third_party": [4, 1, 0, 0, 0, 0, 5],
    "withheld_internal_affairs": [6, 0, 0, 0, 0, 0, 6], "withheld_process_info": [9, 1, 0, 0, 0, 0, 10],
    "withheld_enforcement_file": [1, 0, 0, 0, 0, 0, 1], "withheld_query_matter": [12, 0, 0, 0, 0, 0, 12],
    "unavailable_not_held": [240, 20, 0, 0, 5, 0, 265], "unavailable_needs_creation": [40, 7, 0, 0, 0, 0, 47],
    "unavailable_unclear": [25, 0, 0, 0, 0, 0, 25], "rejected_petition": [30, 0, 0, 0, 0, 0, 30],
    "rejected_repeat": [8, 0, 0, 0, 0, 0, 8], "rejected_publication": [0] * 7, "rejected_mass_repeat": [0] * 7,
    "rejected_confirmation": [0] * 7, "other_no_correction": [5, 0, 0, 0, 0, 0, 5], "other_no_fee": [0] * 7,
    "other_other": [0] * 7, "total_processed": [635, 49, 0, 0, 7, 0, 691],
    "carried_forward": [15, 2, 0, 0, 1, 0, 18],
}


def _large_report_text(run_rows: set[str]) -> str:
    """A seed (004) with its Table 三 replaced by the larger table, the rows in ``run_rows`` run together."""
    text = run_together(STEMS[4], "table4")
    lines = text.split("\n")
    start = next(i for i, ln in enumerate(lines) if ln.startswith("一、本年新收"))
    end = next(i for i, ln in enumerate(lines) if ln.startswith("四、结转下年度"))
    rows = list(_TRUE)
    out = []
    for k, ln in enumerate(lines[start:end + 1]):
        label = ln.rstrip("0123456789 ")
        key = rows[k]
        vals = _TRUE[key]
        out.append(label + ("".join(map(str, vals)) if key in run_rows else " " + " ".join(map(str, vals))))
    return "\n".join(lines[:start] + out + lines[end + 1:])


@pytest.mark.parametrize("run_rows", [
    {"granted"}, {"unavailable_not_held"}, {"new", "carried_forward"}, {"total_processed"},
    {"granted", "partially_granted", "unavailable_not_held", "unavailable_needs_creation"},
    set(_TRUE),
], ids=lambda s: "+".join(sorted(s))[:40])
def test_larger_numbers_are_split_right_or_left_unread(run_rows):
    report = _parse(_large_report_text(run_rows))
    read = unread = 0
    for key, vals in _TRUE.items():
        for col, true in zip(TABLE3_COLUMNS, vals):
            c = report.cell("table3", key, col)
            if c.value is None:
                unread += 1
                assert key in run_rows and c.kind is CellKind.TEXT
            else:
                read += 1
                assert c.value == true, f"{key}.{col}: read {c.value}, printed {true}"
    assert (report.status is ParseStatus.PARTIAL) == (unread > 0)
    # no finding: the table is consistent, and nothing rests on an unread cell
    assert [f.rule for f in check_report(report) if f.rule != "narrative_vs_table"] == []
    if unread == 0:
        assert any(w.code == "digit_run" and "satisfies" in w.message for w in report.warnings) or \
            all(len(str(v)) == 1 for k in run_rows for v in _TRUE[k])


def test_a_single_row_of_larger_numbers_is_resolved_by_the_column_sums():
    report = _parse(_large_report_text({"granted"}))
    assert [report.value("table3", "granted", c) for c in TABLE3_COLUMNS] == _TRUE["granted"]
    c = report.cell("table3", "granted", "total")
    assert c.low_confidence
    w = next(w for w in report.warnings if w.code == "digit_run" and w.message.startswith("table3.granted"))
    assert "results_total" in w.message and "row_total(granted)" in w.message


def test_carry_over_from_last_year_decides():
    previous = {f"table3.carried_forward.{c}": v for c, v in zip(TABLE3_COLUMNS, _TRUE["carried_over"])}
    text = _large_report_text({"carried_over", "new"})
    without = _parse(text)
    with_prev = parse_bytes(text.encode("utf-8"), path="runs.txt", hints={"previous": previous})
    got = [with_prev.value("table3", "carried_over", c) for c in TABLE3_COLUMNS]
    assert got == _TRUE["carried_over"]
    unread_without = sum(without.cell("table3", r, c).value is None for r in ("new", "carried_over")
                         for c in TABLE3_COLUMNS)
    unread_with = sum(with_prev.cell("table3", r, c).value is None for r in ("new", "carried_over")
                      for c in TABLE3_COLUMNS)
    assert unread_with <= unread_without


def test_table4_run_with_larger_numbers():
    text = run_together(STEMS[4], "all")
    lines = text.split("\n")
    k = next(i for i, ln in enumerate(lines) if ln == "000000000000000")
    lines[k] = "".join(map(str, [5, 1, 0, 2, 8, 3, 0, 0, 1, 4, 1, 0, 0, 0, 1]))  # 510283001410001
    report = _parse("\n".join(lines))
    got = [report.value("table4", g, c) for g in ("review", "litigation_direct", "litigation_after_review")
           for c in ("upheld", "corrected", "other", "pending", "total")]
    assert got == [5, 1, 0, 2, 8, 3, 0, 0, 1, 4, 1, 0, 0, 0, 1]  # 15 digits, 15 cells: the digits decide
    lines[k] = "12104160000100010"  # 12 | 1 | 0 | 4 | 16? no: 12+1+0+3=16 ... 17 digits for 15 cells
    report = _parse("\n".join(lines))
    for g in ("review", "litigation_direct", "litigation_after_review"):
        for c in ("upheld", "corrected", "other", "pending", "total"):
            v = report.cell("table4", g, c).value
            assert v is None or v < 100  # split right, or unread
    assert not [f for f in check_report(report) if f.rule == "appeal_total" and f.severity == "error"]


def test_when_the_relations_cannot_decide_the_cells_stay_unread():
    """250200020272 is 250|20|0|0|2|0|272 or 250|2|0|0|0|20|272; the columns that tell them apart
    cannot be summed when their （七）总计 cells are printed "/"."""
    text = _large_report_text({"granted"})
    lines = text.split("\n")
    k = next(i for i, ln in enumerate(lines) if ln.startswith("（七）总计"))
    lines[k] = "（七）总计 635 / 0 0 / / 691"
    report = _parse("\n".join(lines))
    cells = [report.cell("table3", "granted", c) for c in TABLE3_COLUMNS]
    assert all(c.value is None and c.kind is CellKind.TEXT for c in cells)
    assert report.status is ParseStatus.PARTIAL
    w = next(w for w in report.warnings if w.code == "unsplit_digits")
    assert "250200020272" in w.message and "several splits" in w.message
    assert not [f for f in check_report(report) if any(r.startswith("table3.granted.") for r in f.cells)]


def test_grid_cell_confidence_reaches_the_cell():
    """An OCR reading (GridCell.confidence) travels to Cell.confidence; a finding on it is no error."""
    from crawler.parsing.extract.base import Extracted, GridCell, Paragraph, Table
    from crawler.parsing.mapping import map_report
    from storage.models import Source

    rows = [["行政复议", "", "", "", "", "行政诉讼"], ["结果维持", "结果纠正", "其他结果", "尚未审结", "总计",
                                               "未经复议直接起诉", "复议后起诉"],
            ["1", "0", "0", "0", "2", "0", "0", "0", "0", "0", "0", "0", "0", "0", "0"]]
    grid = [[GridCell(t, confidence=(0.6 if (i == 2 and j == 4) else (0.99 if i == 2 else None)))
             for j, t in enumerate(r)] for i, r in enumerate(rows)]
    ex = Extracted(format="pdf", blocks=[Paragraph("四、政府信息公开行政复议、行政诉讼情况"), Table.from_grid(grid)])
    report = map_report(ex, source=Source(path="ocr.pdf"))
    assert report.cell("table4", "review", "total").confidence == 0.6
    assert report.cell("table4", "review", "upheld").confidence == 0.99
    f = next(f for f in check_report(report) if f.rule == "appeal_total")
    assert f.severity == "warning" and "table4.review.total" in f.numbers["low_confidence_cells"]
