"""The cross-year, deadline and revision rules on constructed reports (seed values)."""
from __future__ import annotations

import copy
from datetime import date, datetime

from monitor.checks import cross_year, deadlines, revisions
from monitor.checks.deadlines import Expected, Sighting
from mon_helpers import expected, previous_year_of, report_from

SEED = expected("004")  # 北京市大兴区卫生健康委员会 2024: requests carried forward, figures in every table


def test_carry_continuity_clean_pair_raises_nothing():
    for n in ("000", "001", "002", "003", "004"):
        cur = expected(n)
        assert cross_year.carry_continuity(report_from(previous_year_of(cur)), report_from(cur)) == []


def test_carry_continuity_names_every_broken_column():
    prev = previous_year_of(SEED)
    prev["table3"]["carried_forward"][0] += 2  # natural_person
    prev["table3"]["carried_forward"][6] += 2  # total
    (f,) = cross_year.carry_continuity(report_from(prev), report_from(SEED))
    assert f.rule == "carry_continuity" and f.severity == "error"
    assert f.cells == ["table3.carried_over.natural_person", "table3.carried_over.total"]
    cols = f.numbers["columns"]
    assert cols["total"]["delta"] == -2
    assert cols["total"]["previous_carried_forward"] == SEED["table3"]["carried_over"][6] + 2
    assert "上年结转" in f.message and "结转下年度" in f.message and "自然人" in f.message
    assert f.agency == SEED["agency"] and f.year == 2024


def test_a_cross_year_finding_on_an_unsure_reading_is_a_warning_that_says_so():
    """The within-report rule for cells read with low confidence (OCR, a split digit run) holds across
    years too: the same downgrade and wording as report.downgrade_uncertain, the cells named."""
    prev = previous_year_of(SEED)
    prev["table3"]["carried_forward"][6] += 2
    cur = report_from(SEED)
    cell = cur.cell("table3", "carried_over", "total")
    cell.confidence = 0.5
    (f,) = cross_year.carry_continuity(report_from(prev), cur)
    assert f.severity == "warning" and f.numbers["low_confidence_cells"] == ["table3.carried_over.total"]
    assert f.message.startswith("读数不确定") and "table3.carried_over.total读作" in f.message
    assert "上年结转" in f.message  # the finding itself is kept, after the caution


def test_carry_continuity_skips_cells_that_are_not_assessable():
    prev = previous_year_of(SEED)
    prev["table3"]["carried_forward"][3] = None
    cur = copy.deepcopy(SEED)
    cur["table3"]["carried_over"][3] = None
    assert cross_year.carry_continuity(report_from(prev), report_from(cur)) == []


def test_in_force_continuity_only_2021_on_both_sides():
    prev = previous_year_of(SEED)
    prev["table2"]["normative_documents"]["in_force"] += 3
    (f,) = cross_year.in_force_continuity(report_from(prev), report_from(SEED))
    assert f.severity == "warning" and f.subject == "normative_documents"
    assert f.numbers["delta"] == -3
    old = report_from(prev)
    old.template = "2019"
    assert cross_year.in_force_continuity(old, report_from(SEED)) == []
    assert cross_year.in_force_continuity(report_from(previous_year_of(SEED)), report_from(SEED)) == []


def test_swing_respects_factor_and_base():
    prev = previous_year_of(SEED)
    cur = copy.deepcopy(SEED)
    prev["table2"]["punishment"] = 10
    cur["table2"]["punishment"] = 60  # 6x > 5
    prev["table2"]["licensing"] = 1
    cur["table2"]["licensing"] = 9  # 9x but below the base of 10
    prev["table2"]["coercion"] = 10
    cur["table2"]["coercion"] = 50  # exactly 5x: not more than 5
    found = cross_year.swing(report_from(prev), report_from(cur), factor=5, min_base=10)
    assert [f.cells for f in found] == [["table2.punishment.value"]]
    assert found[0].severity == "info" and found[0].numbers["ratio"] == 6.0


def _long_sections(agency: str, flavour: str) -> dict:
    body = (f"{flavour}坚持以习近平新时代中国特色社会主义思想为指导，全面贯彻落实政府信息公开条例，"
            "围绕中心工作，持续深化政务公开，加强政策解读和回应关切，不断提升公开质量和实效。") * 4
    return {"overview": f"{agency}{body}", "problems": f"{flavour}公开工作仍存在信息更新不够及时等问题。"}


def test_copied_text_ignores_names_and_numbers_but_not_words():
    a = report_from(SEED, sections=_long_sections(SEED["agency"], "本年度"))
    other = copy.deepcopy(SEED)
    other["table3"]["new"][0] += 5
    b = report_from(other, agency="大兴区教育委员会", sections=_long_sections("大兴区教育委员会", "本年度"))
    found = cross_year.copied(a, [cross_year.Counterpart(b, "other_agency", 7)], threshold=0.95)
    assert [f.subject for f in found] == ["text|other_agency|大兴区教育委员会|2024"]
    assert found[0].numbers["similarity"] >= 0.95 and found[0].numbers["other_report_id"] == 7
    different = {"overview": "本局聚焦医疗卫生领域重点信息，" * 20, "problems": "下一步将完善依申请公开办理机制。" * 5}
    c = report_from(other, agency="大兴区教育委员会", sections=different)
    assert cross_year.copied(a, [cross_year.Counterpart(c, "other_agency")], threshold=0.95) == []


def test_copied_numbers_needs_real_numbers():
    busy = copy.deepcopy(SEED)
    a = report_from(busy, sections={})
    b = report_from(busy, year=2023, sections={})
    found = cross_year.copied(a, [cross_year.Counterpart(b, "previous_year")], threshold=0.95)
    assert [f.subject for f in found] == ["numbers|previous_year|北京市大兴区卫生健康委员会|2023"]
    zeros = expected("001")
    for row in zeros["table3"]:
        zeros["table3"][row] = [0] * 7
    for g in zeros["table4"]:
        zeros["table4"][g] = {k: 0 for k in zeros["table4"][g]}
    zeros["table2"].update(licensing=0, punishment=0, coercion=0)
    za, zb = report_from(zeros, sections={}), report_from(zeros, year=2023, sections={})
    assert cross_year.copied(za, [cross_year.Counterpart(zb, "previous_year")], threshold=0.95) == []


def _sighting(kind="department", page=None, seen=None):
    return Sighting(agency="某局", year=2024, kind=kind, first_seen=seen, page_date=page, site="s")


def test_deadline_from_page_date_with_grace():
    on_time = _sighting(page=date(2025, 1, 20), seen=datetime(2025, 3, 1))
    assert deadlines.deadline(on_time, grace_days=7, crawl_interval_hours=24, watching_since=None) == []
    in_grace = _sighting(page=date(2025, 2, 5), seen=datetime(2025, 3, 1))
    assert deadlines.deadline(in_grace, grace_days=7, crawl_interval_hours=24, watching_since=None) == []
    late = _sighting(page=date(2025, 2, 20), seen=datetime(2025, 3, 1))
    (f,) = deadlines.deadline(late, grace_days=7, crawl_interval_hours=24, watching_since=None)
    assert (f.rule, f.severity, f.numbers["days_late"]) == ("deadline", "error", 20)
    assert "2025年01月31日" in f.message
    gov = _sighting(kind="government", page=date(2025, 2, 20), seen=datetime(2025, 3, 1))
    assert deadlines.deadline(gov, grace_days=7, crawl_interval_hours=24, watching_since=None) == []


def test_deadline_from_first_sight_only_while_watching():
    undated = _sighting(page=None, seen=datetime(2025, 3, 1, 2, 30))
    # we started watching on that very day: no evidence either way
    assert deadlines.deadline(undated, grace_days=7, crawl_interval_hours=24,
                              watching_since=datetime(2025, 3, 1, 2, 30)) == []
    (f,) = deadlines.deadline(undated, grace_days=7, crawl_interval_hours=24,
                              watching_since=datetime(2024, 12, 1))
    assert (f.rule, f.severity, f.numbers["evidence"]) == ("deadline", "warning", "first_seen")


def test_backdated_when_we_watched_and_it_was_not_there():
    s = _sighting(page=date(2025, 1, 25), seen=datetime(2025, 3, 10, 2, 30))
    found = deadlines.deadline(s, grace_days=7, crawl_interval_hours=24, watching_since=datetime(2024, 12, 1))
    assert sorted((f.rule, f.severity) for f in found) == [("backdated", "warning"), ("deadline", "warning")]
    # first crawl ever found it: the page date may be true
    assert deadlines.deadline(s, grace_days=7, crawl_interval_hours=24,
                              watching_since=datetime(2025, 3, 10, 2, 30)) == []
    # seen a day after its page date: normal crawl lag, on time
    early = _sighting(page=date(2025, 1, 25), seen=datetime(2025, 1, 26, 2, 30))
    assert deadlines.deadline(early, grace_days=7, crawl_interval_hours=24,
                              watching_since=datetime(2024, 12, 1)) == []


def test_missing_after_deadline_and_grace_only():
    exp = [Expected("甲局", "department", "earlier_year", 2023), Expected("乙局", "department", "roster"),
           Expected("某区", "government", "roster"), Expected("丙局", "department", "earlier_year", 2023)]
    kw = dict(year=2024, grace_days=7, site="s")
    assert deadlines.missing(exp, {"丙局"}, today=date(2025, 2, 7), **kw) == []
    found = deadlines.missing(exp, {"丙局"}, today=date(2025, 2, 8), **kw)
    assert sorted(f.agency for f in found) == ["乙局", "甲局"]
    assert all(f.rule == "missing" and f.severity == "error" and f.site == "s" for f in found)
    found = deadlines.missing(exp, {"丙局"}, today=date(2025, 4, 8), **kw)
    assert sorted(f.agency for f in found) == ["乙局", "某区", "甲局"]
    assert "2024年" in found[0].message


def test_years_to_check():
    assert deadlines.years_to_check({2023, 2024}, date(2025, 6, 1), 7) == [2023, 2024]
    assert deadlines.years_to_check({2023, 2024}, date(2025, 2, 1), 7) == [2023]
    assert deadlines.years_to_check(set(), date(2025, 6, 1), 7) == []


def test_infer_kind():
    assert deadlines.infer_kind("北京市大兴区") == "government"
    assert deadlines.infer_kind("大兴区人民政府") == "government"
    assert deadlines.infer_kind("黄村镇") == "town"
    assert deadlines.infer_kind("北京市大兴区卫生健康委员会") == "department"


def test_revised_fingerprint_per_version():
    r1 = revisions.Revision("某局", 2024, "http://x/1.html", datetime(2025, 2, 1), "aa", "00", 3, "s", ["table3.new.total"])
    r2 = revisions.Revision("某局", 2024, "http://x/1.html", datetime(2025, 3, 1), "bb", "aa", 3, "s")
    f1, f2 = revisions.revised([r1, r2])
    assert f1.severity == "warning" and f1.fingerprint != f2.fingerprint
    assert revisions.revised([r1])[0].fingerprint == f1.fingerprint
