"""False alarms a cold review of the checks found (copied, placeholder, narrative_vs_table, deadline),
each with the genuine case beside it that must still alarm.

The inputs are the reviewer's variants (/tmp/review-checks at review time), typed here as real reports
print them: a small 档案馆 and a 机关事务服务中心 whose tables hold one request granted; an anonymised
applicant in section 四; a 卫健委 counting its 行政处罚 复议 cases before the disclosure ones; a 复议 case
carried over from last year; a town's report dated 20 February.
"""
from __future__ import annotations

from datetime import date, datetime

import pytest

from monitor.checks import cross_year, deadlines
from monitor.checks.deadlines import Expected, Sighting
from monitor.checks.report import check_report
from monitor.checks.runner import MonitorSettings, run_checks
from storage.db import Store
from storage.models import TABLE3_ROWS, Cell, CellKind, Report
from mon_helpers import report_from, store_report

JUNE = date(2025, 6, 1)


# -- 1. copied: identical tables need several independent figures ----------------------------------

def _tables(*, t2=None, t3=None, t4=None) -> dict:
    """Tables as a report prints them: zeros, except the cells given ({row: [np, biz, sci, npo, law,
    oth, total]} for Table 三; {group: {column: n}} for Table 四)."""
    table3 = {r: [0] * 7 for r in TABLE3_ROWS["2021"]}
    table3.update(t3 or {})
    table4 = {g: {c: 0 for c in ("upheld", "corrected", "other", "pending", "total")}
              for g in ("review", "litigation_direct", "litigation_after_review")}
    for g, cols in (t4 or {}).items():
        table4[g].update(cols)
    table2 = {"regulations": {"issued": 0, "repealed": 0, "in_force": 0},
              "normative_documents": {"issued": 0, "repealed": 0, "in_force": 0},
              "licensing": 0, "punishment": 0, "coercion": 0, "fees_wan_yuan": 0}
    table2.update(t2 or {})
    return {"template": "2021", "published": None, "table2": table2, "table3": table3, "table4": table4}


#: 东风区档案馆 2023 and 2024, 东风区机关事务服务中心 2024 (reviewer's yoy/): one 自然人 request, granted.
ONE_REQUEST_GRANTED = _tables(t3={"new": [1, 0, 0, 0, 0, 0, 1], "granted": [1, 0, 0, 0, 0, 0, 1],
                                  "total_processed": [1, 0, 0, 0, 0, 0, 1]})
#: A busier agency whose every figure repeats: requests granted, not held, carried forward, and
#: licensing and punishment decisions (the shape of seed 004, 北京市大兴区卫生健康委员会).
BUSY = _tables(t2={"licensing": 5152, "punishment": 730,
                   "normative_documents": {"issued": 0, "repealed": 0, "in_force": 1}},
               t3={"new": [7, 0, 0, 0, 0, 0, 7], "granted": [1, 0, 0, 0, 0, 0, 1],
                   "unavailable_not_held": [3, 0, 0, 0, 0, 0, 3], "total_processed": [4, 0, 0, 0, 0, 0, 4],
                   "carried_forward": [3, 0, 0, 0, 0, 0, 3]})

ARCHIVE_2023 = {"overview": "2023年，东风区档案馆以档案开放利用为重点推进政府信息公开。全年在区政府网站发布档案工作动态、"
                            "开放档案目录等信息21条。全年收到政府信息公开申请1件，已按期答复。",
                "problems": "一是开放档案目录的检索功能较弱；二是信息公开专职人员不足。", "other": "2023年度未收取信息处理费。"}
ARCHIVE_2024 = {"overview": "关于依申请公开工作始终坚持服务理念，依法保障公众的信息知情权。截至2024年12月31日，"
                            "我局收到政府信息公开的申请1件。",
                "problems": "公开部门工作动态信息和相关政务信息公开及时性有待提高，存在偶尔滞后现象。",
                "other": "2024年度，东风区档案馆无收取政府信息公开信息处理费情况。"}
JGSW_2024 = {"overview": "2024年，东风区机关事务服务中心以公共机构节能和公务用车管理为重点推进政府信息公开。"
                         "全年收到政府信息公开申请1件，已按期答复。",
             "problems": "一是节能数据公开不够细化；二是信息公开专职人员不足。", "other": "2024年度未收取信息处理费。"}


def _report(tables, agency, year, sections):
    return report_from({**tables, "agency": agency, "year": year}, sections=sections)


def test_one_request_granted_is_one_figure_however_many_cells_it_fills():
    a24 = _report(ONE_REQUEST_GRANTED, "东风区档案馆", 2024, ARCHIVE_2024)
    numbers = cross_year.Prepared().numbers(a24)
    assert sum(1 for v in numbers.values() if v) == 6  # 新收, 予以公开, (七)总计 × 自然人, 总计
    assert cross_year.independent_figures(numbers) == [1]
    assert len(cross_year.independent_figures(cross_year.Prepared().numbers(_report(BUSY, "甲", 2024, {})))) >= 3


#: Three towns' single facts: one request granted, one partly, one not held (reviewer's case).
THREE_ONES = _tables(t3={"new": [3, 0, 0, 0, 0, 0, 3], "granted": [1, 0, 0, 0, 0, 0, 1],
                         "partially_granted": [1, 0, 0, 0, 0, 0, 1], "unavailable_not_held": [1, 0, 0, 0, 0, 0, 1],
                         "total_processed": [3, 0, 0, 0, 0, 0, 3]})
#: Only Table 二's licensing and punishment decisions, large, the same as last year.
TWO_LARGE = _tables(t2={"licensing": 5152, "punishment": 730})


def test_three_ones_are_too_small_to_prove_a_copy_and_two_large_figures_are_enough():
    assert not cross_year.numbers_prove_copying(cross_year.Prepared().numbers(_report(THREE_ONES, "甲镇", 2024, {})))
    assert cross_year.numbers_prove_copying(cross_year.Prepared().numbers(_report(TWO_LARGE, "甲", 2024, {})))
    a23, a24 = _report(TWO_LARGE, "某县市场监督管理局", 2023, {}), _report(TWO_LARGE, "某县市场监督管理局", 2024, {})
    assert [f.subject for f in cross_year.copied(a24, [cross_year.Counterpart(a23, "previous_year")], threshold=0.95)
            ] == ["numbers|previous_year|某县市场监督管理局|2023"]
    t1, t2 = _report(THREE_ONES, "甲镇人民政府", 2024, {}), _report(THREE_ONES, "乙镇人民政府", 2024, {})
    assert cross_year.copied(t1, [cross_year.Counterpart(t2, "other_agency")], threshold=0.95) == []


def test_a_small_agency_granting_one_request_each_year_is_not_copied():
    a23 = _report(ONE_REQUEST_GRANTED, "东风区档案馆", 2023, ARCHIVE_2023)
    a24 = _report(ONE_REQUEST_GRANTED, "东风区档案馆", 2024, ARCHIVE_2024)
    assert cross_year.copied(a24, [cross_year.Counterpart(a23, "previous_year")], threshold=0.95) == []


def test_the_same_busy_tables_as_last_year_are_still_copied():
    b23, b24 = _report(BUSY, "北京市大兴区卫生健康委员会", 2023, {}), _report(BUSY, "北京市大兴区卫生健康委员会", 2024, {})
    found = cross_year.copied(b24, [cross_year.Counterpart(b23, "previous_year")], threshold=0.95)
    assert [f.subject for f in found] == ["numbers|previous_year|北京市大兴区卫生健康委员会|2023"]


@pytest.fixture
def store(tmp_path):
    s = Store(tmp_path / "nianbao.db")
    yield s
    s.close()


def _copied(summary):
    return sorted((f.agency, f.subject) for f in summary.new if f.rule == "copied")


def test_two_small_agencies_of_a_site_with_one_request_each_are_not_copied(store):
    store_report(store, _report(ONE_REQUEST_GRANTED, "东风区档案馆", 2023, ARCHIVE_2023), seen=datetime(2024, 1, 20))
    store_report(store, _report(ONE_REQUEST_GRANTED, "东风区档案馆", 2024, ARCHIVE_2024), seen=datetime(2025, 1, 20))
    store_report(store, _report(ONE_REQUEST_GRANTED, "东风区机关事务服务中心", 2024, JGSW_2024),
                 seen=datetime(2025, 1, 20))
    assert _copied(run_checks(store, MonitorSettings(sites=["demo"]), today=JUNE)) == []


def test_two_agencies_with_the_same_busy_tables_are_copied_even_with_short_texts(store):
    # the narratives are under 200 characters: only the tables can tell, and they do
    store_report(store, _report(BUSY, "东风区档案馆", 2024, ARCHIVE_2024), seen=datetime(2025, 1, 20))
    store_report(store, _report(BUSY, "东风区机关事务服务中心", 2024, JGSW_2024), seen=datetime(2025, 1, 20))
    assert _copied(run_checks(store, MonitorSettings(sites=["demo"]), today=JUNE)) == [
        ("东风区机关事务服务中心", "numbers|other_agency|东风区档案馆|2024"),
        ("东风区档案馆", "numbers|other_agency|东风区机关事务服务中心|2024"),
    ]


# -- 2. placeholder: an anonymised name is no template blank ---------------------------------------

SECTIONS = {
    "overview": "2024年，我局认真贯彻落实《中华人民共和国政府信息公开条例》，坚持以公开为常态、不公开为例外。",
    "proactive": "", "requests": "", "appeals": "",
    "problems": "一是主动公开的深度和广度还需拓展；二是依申请公开答复的规范性有待提高。",
    "other": "本年度我局未收取信息处理费。",
}


def _placeholders(**sections) -> list[str]:
    r = report_from({**_tables(t4={"review": {"upheld": 1, "total": 1}}), "agency": "伊美区自然资源局",
                     "year": 2024}, sections={**SECTIONS, **sections})
    return [f.numbers.get("placeholder") for f in check_report(r) if f.rule == "placeholder"]


@pytest.mark.parametrize("appeals", [
    # reviewer's v1 (伊美区自然资源局 2024, section 四)
    "2024年，因政府信息公开被申请行政复议1件，申请人李××对我局作出的政府信息公开申请答复不服申请行政复议，"
    "经复议机关审理结果维持；未发生行政诉讼。",
    "2024年，原告×××诉我局政府信息公开答复一案，法院判决驳回原告诉讼请求。",
    "王××申请公开其房屋征收补偿相关信息，我局依法予以答复。",
    "申请人某××公司对答复不服申请行政复议，结果维持。",
])
def test_an_anonymised_applicant_is_not_a_placeholder(appeals):
    assert _placeholders(appeals=appeals) == []


@pytest.mark.parametrize("text,blank", [
    ("××县人民政府2024年政府信息公开工作年度报告", "××"),
    ("××局政府信息公开工作年度报告", "××"),
    ("本报告由（××）负责解释。", "××"),
    ("本报告于××年××月××日发布。", "××"),
    ("联系电话：××××", "××××"),
    ("如有疑问请与李××局联系。", "××"),
    ("如有疑问请与（单位名称）联系。", "（单位名称）"),  # seed 001 (市中区卫生健康局)
])
def test_template_blanks_are_still_placeholders(text, blank):
    assert _placeholders(other=text) == [blank]


def test_a_name_then_a_blank_reports_the_blank():
    assert _placeholders(appeals="申请人李××对答复不服申请行政复议，结果维持。", other="本报告由××局负责解释。") == ["××"]


# -- 3 and 4. narrative_vs_table: 行政复议 cases that are not about disclosure; carried-over cases ------

def _narrative(text: str, cells: dict[str, int]) -> list[tuple[str, int, int]]:
    out = [Cell(*ref.split("."), v, str(v), CellKind.ZERO if v == 0 else CellKind.NUMERIC)
           for ref, v in cells.items()]
    r = Report(agency="北京市大兴区卫生健康委员会", year=2024, template="2021", cells=out, text=text,
               sections={"overview": text})
    return [(f.subject, f.numbers["text"], f.numbers["table"]) for f in check_report(r) if f.rule == "narrative_vs_table"]


T4 = {"table4.review.total": 0, "table4.litigation_direct.total": 0, "table4.litigation_after_review.total": 0}
#: reviewer's f1, section 一（三）
F1 = ("2024年共收到政府信息公开申请7件，办结4件，结转下年度继续办理3件。全年我委作为被申请人的行政复议案件共12件，"
      "均为行政处罚类，其中涉及政府信息公开的行政复议0件。")


def test_all_review_cases_of_the_agency_are_not_compared_with_table_four():
    assert _narrative(F1, T4) == []
    assert _narrative("全年我委作为被申请人的行政复议案件共12件，均为行政处罚类。", T4) == []
    assert _narrative("我局作为被告的行政诉讼案件共5件，均为征收补偿类，其中涉及政府信息公开的行政诉讼0件。", T4) == []


def test_a_count_qualified_as_about_disclosure_is_still_compared():
    assert _narrative(F1.replace("政府信息公开的行政复议0件", "政府信息公开的行政复议3件"), T4) == [("行政复议", 3, 0)]
    assert _narrative("我局作为被告的行政诉讼案件共5件，均为征收补偿类，其中涉及政府信息公开的行政诉讼1件。", T4) == \
        [("行政诉讼", 1, 0)]
    # the qualified count wins though an unqualified one stands first
    assert _narrative("全年行政复议案件共12件，其中涉及政府信息公开的行政复议0件。", T4) == []
    assert _narrative("2024年，因政府信息公开被申请行政复议1件，申请人不服答复申请行政复议。", T4) == [("行政复议", 1, 0)]
    assert _narrative("全年发生政府信息公开行政复议1件，行政诉讼2件。", T4) == [("行政复议", 1, 0), ("行政诉讼", 2, 0)]


CARRIED = {"table3.carried_over.total": 0}


def test_a_review_case_carried_over_is_not_table_three_carried_over():
    # reviewer's f7
    assert _narrative("上年度结转的1件行政复议案件已于2024年3月审结，结果维持。", CARRIED) == []
    assert _narrative("上年结转的行政诉讼案件1件已审结。", CARRIED) == []


def test_applications_carried_over_are_still_compared():
    assert _narrative("上年结转政府信息公开申请2件。", CARRIED) == [("上年结转", 2, 0)]
    assert _narrative("上年度结转的2件申请均已办结。", CARRIED) == [("上年结转", 2, 0)]


# -- 5. deadline: a town's 31 January is not in the law --------------------------------------------

def _late(kind, page, seen=datetime(2025, 3, 1), name="伊美区花园镇人民政府"):
    s = Sighting(agency=name, year=2024, kind=kind, first_seen=seen, page_date=page, site="s")
    return deadlines.deadline(s, grace_days=7, crawl_interval_hours=24, watching_since=None)


def test_a_town_dated_20_february_gets_a_warning_that_says_the_deadline_is_uncertain():
    (f,) = _late("town", date(2025, 2, 20))
    assert (f.rule, f.severity, f.numbers["deadline_uncertain"]) == ("deadline", "warning", True)
    assert "乡镇" in f.message and "未明文规定" in f.message and "逾期20天" in f.message


def test_a_department_dated_20_february_is_still_an_error():
    (f,) = _late("department", date(2025, 2, 20), name="伊美区卫生健康局")
    assert (f.severity, f.numbers["deadline_uncertain"]) == ("error", False)
    assert "未明文规定" not in f.message
    assert _late("government", date(2025, 2, 20), name="伊美区人民政府") == []


def test_a_town_late_even_by_31_march_is_an_error():
    (f,) = _late("town", date(2025, 4, 20), seen=datetime(2025, 4, 21))
    assert (f.severity, f.numbers["deadline_uncertain"]) == ("error", False)
    assert "3月31日" in f.message


def test_a_town_missing_is_a_warning_until_31_march_then_an_error():
    exp = [Expected("伊美区花园镇人民政府", "town", "earlier_year", 2023), Expected("伊美区卫生健康局", "department", "roster")]
    found = deadlines.missing(exp, set(), year=2024, today=date(2025, 2, 20), grace_days=7, site="s")
    assert sorted((f.agency, f.severity) for f in found) == [("伊美区卫生健康局", "error"), ("伊美区花园镇人民政府", "warning")]
    assert "未明文规定" in next(f.message for f in found if f.agency == "伊美区花园镇人民政府")
    found = deadlines.missing(exp, set(), year=2024, today=date(2025, 4, 20), grace_days=7, site="s")
    assert sorted((f.agency, f.severity) for f in found) == [("伊美区卫生健康局", "error"), ("伊美区花园镇人民政府", "error")]


def test_runner_town_report_dated_20_february(store):
    # reviewer's dl/town_late: the kind comes from the name (镇人民政府)
    r = report_from({**_tables(), "agency": "伊美区花园镇人民政府", "year": 2024, "published": "2025-02-20"},
                    sections=SECTIONS)
    store_report(store, r, seen=datetime(2025, 3, 1))
    found = [f for f in run_checks(store, MonitorSettings(sites=["demo"]), today=JUNE).new if f.rule == "deadline"]
    assert [(f.severity, f.numbers["kind"]) for f in found] == [("warning", "town")]


def test_a_town_still_missing_after_31_march_is_a_new_error_not_the_february_warning_kept():
    """The warning's fingerprint is its own, so the error is a new finding and is alerted."""
    from monitor.checks import deadlines

    town = [deadlines.Expected(agency="甲镇人民政府", kind="town", source="earlier_year", last_year=2023)]
    feb = deadlines.missing(town, set(), year=2024, today=date(2025, 2, 20), grace_days=7)
    apr = deadlines.missing(town, set(), year=2024, today=date(2025, 4, 20), grace_days=7)
    assert [f.severity for f in feb] == ["warning"] and [f.severity for f in apr] == ["error"]
    assert feb[0].fingerprint != apr[0].fingerprint
    assert "公布期限2025年01月31日" in feb[0].message and "法定期限" not in feb[0].message
    assert feb[0].message.endswith("）。") and "最晚期限3月31日" in apr[0].message
