"""The check runner over a real SQLite Store: findings appear once, stay known, and resolve."""
from __future__ import annotations

import copy
from datetime import date, datetime

import pytest

from monitor.checks.runner import MonitorSettings, run_checks
from storage.db import Store
from mon_helpers import balanced, expected, previous_year_of, report_from, store_report

SETTINGS = MonitorSettings(sites=["demo"])
JUNE = date(2025, 6, 1)  # after every 2024 deadline plus grace


@pytest.fixture
def store(tmp_path):
    s = Store(tmp_path / "nianbao.db")
    yield s
    s.close()


def _pair(store, data, *, prev=None, seen_prev=datetime(2024, 1, 20), seen=datetime(2025, 1, 20)):
    prev = prev or previous_year_of(data)
    store_report(store, report_from(prev), seen=seen_prev)
    return store_report(store, report_from(data), seen=seen)


def test_clean_seeds_raise_nothing(store):
    for n in ("000", "002", "003", "004"):
        _pair(store, expected(n))
    summary = run_checks(store, SETTINGS, today=JUNE)
    assert summary.reports == 8
    assert [(f.rule, f.agency, f.message) for f in summary.new] == []
    assert summary.ok


def test_carry_mismatch_is_new_once_then_resolved(store):
    data = expected("004")
    prev = previous_year_of(data)
    prev["table3"]["carried_forward"][0] += 3
    prev["table3"]["carried_forward"][6] += 3
    balanced(prev)  # the previous year stays right in itself: only the continuity breaks
    rid = _pair(store, data, prev=prev)
    first = run_checks(store, SETTINGS, today=JUNE)
    assert [(f.rule, f.report_id, f.site) for f in first.new] == [("carry_continuity", rid, "demo")]
    assert first.new[0].cells == ["table3.carried_over.natural_person", "table3.carried_over.total"]
    again = run_checks(store, SETTINGS, today=JUNE)
    assert again.new == [] and again.still_open == 1
    # the agency republishes last year's report with the right figure: the cause is gone
    store_report(store, report_from(previous_year_of(data)), seen=datetime(2025, 2, 1),
                 content=b"corrected 2023 report")
    fixed = run_checks(store, SETTINGS, today=JUNE)
    assert [r["rule"] for r in fixed.resolved] == ["carry_continuity"]
    assert [(f.rule, f.year) for f in fixed.new] == [("revised", 2023)]  # a published report changed
    assert store.findings(open_only=True, rule="carry_continuity") == []


def test_missing_agency_after_deadline_only(store):
    _pair(store, expected("000"))
    gone = report_from(previous_year_of(expected("002")))
    store_report(store, gone, seen=datetime(2024, 1, 20))
    assert run_checks(store, SETTINGS, today=date(2025, 2, 5)).new == []  # within grace
    summary = run_checks(store, SETTINGS, today=JUNE)
    assert [(f.rule, f.agency, f.year, f.report_id) for f in summary.new] == \
        [("missing", "伊美区卫生健康局", 2024, None)]
    # the report turns up: the finding resolves
    store_report(store, report_from(expected("002")), seen=datetime(2025, 6, 2), page_date="2025-06-01")
    later = run_checks(store, SETTINGS, today=date(2025, 6, 3))
    assert [r["rule"] for r in later.resolved] == ["missing"]
    assert [(f.rule, f.severity) for f in later.new] == [("deadline", "error")]  # late, but there


def test_roster_agency_never_seen_is_missing(store):
    _pair(store, expected("000"))
    settings = MonitorSettings(sites=["demo"], rosters={"demo": {"东风区": "government"}})
    assert run_checks(store, settings, today=date(2025, 3, 30)).new == []
    summary = run_checks(store, settings, today=date(2025, 4, 8))
    assert [(f.rule, f.agency, f.year) for f in summary.new] == [("missing", "东风区", 2024)]


def test_late_page_date_is_a_deadline_error(store):
    data = expected("003")
    store_report(store, report_from(previous_year_of(data)), seen=datetime(2024, 1, 20))
    rid = store_report(store, report_from(data, published=None), seen=datetime(2025, 3, 20),
                       page_date="2025-03-15")
    summary = run_checks(store, SETTINGS, today=JUNE)
    assert [(f.rule, f.severity, f.report_id, f.numbers["days_late"]) for f in summary.new] == \
        [("deadline", "error", rid, 43)]


def test_revised_content_after_first_stored(store):
    data = expected("004")
    store_report(store, report_from(previous_year_of(data)), seen=datetime(2024, 1, 20))
    url = "http://127.0.0.1/demo/rev.html"
    rid = store_report(store, report_from(data), url=url, seen=datetime(2025, 1, 20))
    assert run_checks(store, SETTINGS, today=JUNE).new == []
    changed = copy.deepcopy(data)
    changed["table2"]["punishment"] = 731
    store_report(store, report_from(changed), url=url, seen=datetime(2025, 2, 10))
    summary = run_checks(store, SETTINGS, today=JUNE)
    assert [(f.rule, f.report_id, f.cells) for f in summary.new] == \
        [("revised", rid, ["table2.punishment.value"])]
    # fetching the same bytes again is not another revision
    store_report(store, report_from(changed), url=url, seen=datetime(2025, 2, 11))
    assert run_checks(store, SETTINGS, today=JUNE).new == []


def test_copied_between_agencies_of_a_site(store):
    body = ("本机关坚持以公开为常态、不公开为例外，围绕中心工作，持续深化政务公开，加强政策解读和回应关切，"
            "规范依申请公开办理流程，完善政府信息管理制度，不断提升公开质量和实效。") * 4
    own = {"overview": "本机关立足医疗卫生服务职能，重点公开医疗机构执业登记、公共卫生监督和健康促进信息，" * 5,
           "proactive": "见下表。", "requests": "见下表。", "appeals": "见下表。",
           "problems": "存在的问题：解读形式较为单一。下一步将丰富解读形式。", "other": "未收取信息处理费。"}
    copy_of = {**own, "overview": body}
    for n, sections in (("000", copy_of), ("002", copy_of), ("003", own)):
        data = expected(n)
        store_report(store, report_from(previous_year_of(data)), seen=datetime(2024, 1, 20))
        store_report(store, report_from(data, sections=sections), seen=datetime(2025, 1, 20))
    summary = run_checks(store, SETTINGS, today=JUNE)
    assert sorted((f.rule, f.agency, f.subject) for f in summary.new) == [
        ("copied", "东风区卫生健康局", "text|other_agency|伊美区卫生健康局|2024"),
        ("copied", "伊美区卫生健康局", "text|other_agency|东风区卫生健康局|2024"),
    ]
    assert all(f.numbers["similarity"] == 1.0 for f in summary.new)


def test_agency_written_differently_is_still_one_agency(store):
    # 2023 under the short name, 2024 under the full one: storage ties them; the pair is compared
    # (a broken carry-over is found) and the agency is not missing for 2024
    data = expected("004")
    prev = previous_year_of(data)
    prev["table3"]["carried_forward"][0] += 1
    prev["table3"]["carried_forward"][6] += 1
    store_report(store, report_from(balanced(prev), agency="大兴区卫生健康委员会"), seen=datetime(2024, 1, 20))
    store_report(store, report_from(data), seen=datetime(2025, 1, 20))
    settings = MonitorSettings(sites=["demo"], rosters={"demo": {"北京市大兴区卫生健康委员会": "department"}})
    summary = run_checks(store, settings, today=JUNE)
    assert [(f.rule, f.agency) for f in summary.new] == [("carry_continuity", "北京市大兴区卫生健康委员会")]


def test_unreadable_report_still_counts_as_published(store):
    from storage.models import ParseStatus

    _pair(store, expected("000"))
    store_report(store, report_from(previous_year_of(expected("002"))), seen=datetime(2024, 1, 20))
    scan = report_from(expected("002"))
    scan.status, scan.cells, scan.error = ParseStatus.NEEDS_OCR, [], "image-only PDF"
    store_report(store, scan, seen=datetime(2025, 1, 20))
    assert run_checks(store, SETTINGS, today=JUNE).new == []
