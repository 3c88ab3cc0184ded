"""The compliance matrix's rules over hand-written rows (the shapes storage.desk returns)."""
from __future__ import annotations

from datetime import date

import pytest

from monitor.compliance import build_matrix, cell_label, cells_summary, sort_rows

TODAY = date(2025, 6, 1)


def agency(i, name, kind="department", site="s1", region="示例区"):
    return {"id": i, "name": name, "norm": name, "kind": kind, "site": site, "region": region}


def report(i, agency_id, year, published, cells=100):
    return {"id": i, "agency_id": agency_id, "agency": None, "site": "s1", "year": year, "title": f"r{i}",
            "published": published, "first_seen": f"{published}T08:00:00+00:00", "status": "parsed",
            "assessable_cells": cells, "source_url": f"http://x/{i}", "report_url": f"http://x/{i}", "template": "2021"}


def finding(i, agency_id, rule, severity, year=2024, report_id=None, state="open", **numbers):
    return {"id": i, "fingerprint": f"fp{i}", "rule": rule, "severity": severity, "message": rule, "cells": [],
            "suspect": None, "numbers": numbers, "agency": None, "agency_id": agency_id, "year": year,
            "report_id": report_id, "site": "s1", "first_seen": "x", "triage_state": state}


def inputs(agencies, reports, findings, years=(2023, 2024)):
    return {"agencies": agencies, "reports": reports, "findings": findings, "sites": [{"name": "s1", "region": ""}],
            "years": list(years)}


def by_name(m):
    return {r.agency: r for r in m.rows}


def test_each_status_from_its_evidence():
    ags = [agency(1, "甲局"), agency(2, "乙局"), agency(3, "丙局"), agency(4, "丁局"), agency(5, "戊局"),
           agency(6, "己局"), agency(7, "庚区人民政府", "government")]
    reps = [report(10 + a["id"], a["id"], 2023, "2024-01-20") for a in ags]
    reps += [report(20 + i, i, 2024, "2025-01-20") for i in (2, 3, 4, 5, 6)]
    reps += [report(27, 7, 2024, "2025-03-20")]  # a government's report is due 31 March
    fs = [finding(1, 1, "missing", "error", days_overdue=121),
          finding(2, 2, "deadline", "error", report_id=22, days_late=38),
          finding(3, 2, "row_total", "error", report_id=22),
          finding(4, 3, "balance", "error", report_id=23),
          finding(5, 4, "revised", "warning", report_id=24),
          finding(6, 5, "swing", "info", report_id=25)]
    m = build_matrix(inputs(ags, reps, fs), year=2024, today=TODAY, grace_days=7)
    rows = by_name(m)
    assert rows["甲局"].status == "missing" and rows["甲局"].status_label == "未公开"
    assert rows["甲局"].days_overdue == (TODAY - date(2025, 1, 31)).days
    assert rows["乙局"].status == "late" and rows["乙局"].status_label == "逾期 38 天"
    assert rows["乙局"].has_errors  # late and wrong: the status says late, the flags keep both
    assert rows["丙局"].status == "errors" and rows["丙局"].status_label == "已公开·有错误"
    assert rows["丁局"].status == "revised" and rows["丁局"].status_label == "发布后修改"
    assert rows["戊局"].status == "hints" and rows["戊局"].status_label == "已公开·有提示"
    assert rows["己局"].status == "on_time" and rows["庚区人民政府"].status == "on_time"
    assert rows["庚区人民政府"].due == "2025-03-31"
    c = m.counts
    assert (c.expected, c.published, c.on_time, c.late, c.missing, c.with_errors, c.revised) == (7, 6, 5, 1, 1, 2, 1)
    assert rows["乙局"].counts == {"error": 2, "warning": 0, "info": 0}


def test_not_due_before_the_deadline_plus_grace():
    ags = [agency(1, "甲局"), agency(2, "乙镇", "town"), agency(3, "丙区人民政府", "government")]
    reps = [report(10 + a["id"], a["id"], 2023, "2024-01-20") for a in ags]
    m = build_matrix(inputs(ags, reps, []), year=2024, today=date(2025, 2, 5), grace_days=7)
    assert {r.agency: r.status for r in m.rows} == {"甲局": "not_due", "乙镇": "not_due", "丙区人民政府": "not_due"}
    m = build_matrix(inputs(ags, reps, []), year=2024, today=date(2025, 2, 8), grace_days=7)
    rows = by_name(m)
    assert rows["甲局"].status == rows["乙镇"].status == "missing"  # 31 January + 7 days has passed
    assert rows["丙区人民政府"].status == "not_due"  # 31 March
    assert m.counts.missing == 2 and m.counts.not_due == 1


def test_officers_decisions_change_what_counts():
    ags = [agency(1, "甲局"), agency(2, "乙局"), agency(3, "丙局")]
    reps = [report(10 + a["id"], a["id"], 2023, "2024-01-20") for a in ags] + [report(22, 2, 2024, "2025-01-20"),
                                                                               report(23, 3, 2024, "2025-01-20")]
    fs = [finding(1, 1, "missing", "error", state="dismissed"),  # merged away: need not publish
          finding(2, 2, "row_total", "error", report_id=22, state="dismissed"),
          finding(3, 3, "balance", "error", report_id=23, state="confirmed"),
          finding(4, 3, "swing", "info", report_id=23, state="fixed")]
    m = build_matrix(inputs(ags, reps, fs), year=2024, today=TODAY)
    rows = by_name(m)
    assert "甲局" not in rows
    assert rows["乙局"].status == "on_time" and rows["乙局"].closed == 1 and rows["乙局"].counts["error"] == 0
    assert rows["丙局"].status == "errors" and rows["丙局"].counts == {"error": 1, "warning": 0, "info": 0}
    assert m.counts.expected == 2 and m.counts.with_errors == 1


def test_roster_speaks_for_the_latest_year_and_known_sites_only():
    ags = [agency(1, "甲局"), agency(2, "乙局")]
    reps = [report(11, 1, 2023, "2024-01-20"), report(12, 1, 2024, "2025-01-20")]
    rosters = {"s1": {"乙局": "department", "新设局": "department"}, "elsewhere": {"外站局": "department"}}
    m = build_matrix(inputs(ags, reps, []), year=2024, today=TODAY, rosters=rosters)
    rows = by_name(m)
    assert set(rows) == {"甲局", "乙局", "新设局"}
    assert rows["乙局"].expected_because == rows["新设局"].expected_because == "roster"
    assert rows["新设局"].status == "missing" and rows["新设局"].agency_id is None
    m = build_matrix(inputs(ags, reps, []), year=2023, today=TODAY, rosters=rosters)
    assert set(by_name(m)) == {"甲局"}


def test_roster_kind_overrides_the_stored_guess():
    ags = [agency(1, "丙区人民政府", "department")]
    reps = [report(11, 1, 2023, "2024-01-20")]
    m = build_matrix(inputs(ags, reps, []), year=2024, today=date(2025, 3, 1),
                     rosters={"s1": {"丙区人民政府": "government"}})
    row = m.rows[0]
    assert row.kind == "government" and row.due == "2025-03-31" and row.status == "not_due"


def test_filters_and_sorting():
    ags = [agency(1, "乙局", site="s1", region="东区"), agency(2, "甲镇", "town", site="s2", region="西区"),
           agency(3, "丙局", site="s2", region="西区")]
    reps = [report(10 + a["id"], a["id"], 2024, f"2025-01-1{a['id']}") for a in ags]
    ins = inputs(ags, reps, [finding(1, 3, "balance", "error", report_id=13)])
    assert {r.agency for r in build_matrix(ins, year=2024, today=TODAY, site="s2").rows} == {"甲镇", "丙局"}
    assert {r.agency for r in build_matrix(ins, year=2024, today=TODAY, region="东区").rows} == {"乙局"}
    assert {r.agency for r in build_matrix(ins, year=2024, today=TODAY, kind="town").rows} == {"甲镇"}
    m = build_matrix(ins, year=2024, today=TODAY)
    assert m.rows[0].agency == "丙局"  # worst status first
    assert [r.published for r in sort_rows(m.rows, "published", True)] == ["2025-01-13", "2025-01-12", "2025-01-11"]
    with pytest.raises(ValueError, match="cannot sort"):
        sort_rows(m.rows, "nonsense")


def test_the_report_with_most_readable_cells_is_the_one_shown():
    ags = [agency(1, "甲局")]
    reps = [report(11, 1, 2024, "2025-01-20", cells=3), report(12, 1, 2024, "2025-01-20", cells=200)]
    assert build_matrix(inputs(ags, reps, []), year=2024, today=TODAY).rows[0].report_id == 12


def test_cells_named_by_their_printed_labels():
    labels = {("table3", "unavailable_not_held", "total"): ("（四）无法提供 1.本机关不掌握相关政府信息", "总计"),
              ("table2", "punishment", "value"): ("行政处罚", "本年处理决定数量")}
    assert cell_label("table3.unavailable_not_held.total", "2021", labels) == \
        "表三 ·（四）无法提供 1.本机关不掌握相关政府信息 · 总计"
    assert cell_label("table2.punishment.value", "2021", labels) == "表二 · 行政处罚 · 本年处理决定数量"
    refs = [f"table3.r{i}.total" for i in range(10)]
    short = cells_summary(refs, "table3.r5.total", lambda r: r.split(".")[1], limit=3)
    assert short.startswith("r5；r0；r1") and short.endswith("等 10 个单元格")
