"""Single-report checks (relations 1-7): each rule fires on its own defect, names the cells, and stays
quiet where the cells cannot be assessed."""
from __future__ import annotations

from datetime import date

import pytest

from monitor.checks.report import RULES, SEVERITY, check_report
from storage.models import TABLE2_LAYOUT, TABLE3_COLUMNS, TABLE3_ROWS, TABLE4_COLUMNS, Cell, CellKind, Report

SECTIONS = {
    "overview": "2024年，本局共收到政府信息公开申请6件，予以公开3件，部分公开1件，不予公开1件。因政府信息公开被申请行政复议2件。",
    "proactive": "", "requests": "", "appeals": "",
    "problems": "一是公开内容不够深入；二是平台建设有待加强。下一步将加强培训。",
    "other": "本年度未收取信息处理费。",
}


def consistent_table3(template: str = "2021") -> dict[str, list[int]]:
    rows = {r: [0] * 7 for r in TABLE3_ROWS[template]}
    rows["new"] = [4, 2, 0, 0, 0, 0, 6]
    rows["carried_over"] = [1, 0, 0, 0, 0, 0, 1]
    rows["granted"] = [2, 1, 0, 0, 0, 0, 3]
    rows["partially_granted"] = [1, 0, 0, 0, 0, 0, 1]
    rows["withheld_third_party"] = [1, 0, 0, 0, 0, 0, 1]
    rows["other_other" if template == "2021" else "other_handling"] = [0, 1, 0, 0, 0, 0, 1]
    rows["total_processed"] = [4, 2, 0, 0, 0, 0, 6]
    rows["carried_forward"] = [1, 0, 0, 0, 0, 0, 1]
    return rows


def make_report(t3=None, t4=None, *, template="2021", sections=None, text=None, period=True) -> Report:
    t3 = t3 or consistent_table3(template)
    t4 = t4 or {"review": [1, 1, 0, 0, 2], "litigation_direct": [0, 0, 0, 1, 1],
                "litigation_after_review": [0, 0, 0, 0, 0]}
    cells = []
    for row, cols in TABLE2_LAYOUT[template].items():
        for col in cols or ("value",):
            cells.append(Cell("table2", row, col, 1, "1", CellKind.NUMERIC))
    for row, vals in t3.items():
        for col, v in zip(TABLE3_COLUMNS, vals):
            kind = CellKind.EMPTY if v is None else (CellKind.ZERO if v == 0 else CellKind.NUMERIC)
            cells.append(Cell("table3", row, col, v, "" if v is None else str(v), kind))
    for g, vals in t4.items():
        for col, v in zip(TABLE4_COLUMNS, vals):
            cells.append(Cell("table4", g, col, v, str(v), CellKind.ZERO if v == 0 else CellKind.NUMERIC))
    secs = dict(SECTIONS if sections is None else sections)
    return Report(agency="测试局", year=2024, template=template, cells=cells, sections=secs,
                  text=text if text is not None else "\n".join(secs.values()),
                  period=(date(2024, 1, 1), date(2024, 12, 31)) if period else None)


def rules(report):
    return sorted(f.rule for f in check_report(report))


def test_consistent_report_has_no_finding():
    assert check_report(make_report()) == []
    assert check_report(make_report(template="2019")) == []


def test_row_total_and_results_total_meet_in_the_suspect_cell():
    t3 = consistent_table3()
    t3["withheld_process_info"][6] = 2  # a total typed without its parts
    fs = {f.rule: f for f in check_report(make_report(t3))}
    # the narrative's 不予公开1件 no longer matches the table's 3 either
    assert set(fs) == {"row_total", "results_total", "narrative_vs_table"}
    assert fs["narrative_vs_table"].subject == "不予公开" and fs["narrative_vs_table"].suspect is None
    assert fs["row_total"].subject == "withheld_process_info" and fs["results_total"].subject == "total"
    assert fs["row_total"].suspect == fs["results_total"].suspect == "table3.withheld_process_info.total"
    assert fs["row_total"].numbers == {"sum": 0, "total": 2, "delta": 2}
    assert "合计不等于分项之和" in fs["results_total"].message and "（七）总计" in fs["results_total"].message
    assert fs["row_total"].severity == fs["results_total"].severity == "error"
    assert set(fs["row_total"].cells) == {f"table3.withheld_process_info.{c}" for c in TABLE3_COLUMNS}


def test_balance_fails_and_names_the_four_cells():
    t3 = consistent_table3()
    t3["carried_forward"] = [2, 0, 0, 0, 0, 0, 2]  # one carried forward too many, row still sums
    fs = [f for f in check_report(make_report(t3)) if f.rule == "balance"]
    assert [f.subject for f in fs] == ["natural_person", "total"]
    assert fs[0].cells == [f"table3.{r}.natural_person" for r in
                           ("new", "carried_over", "total_processed", "carried_forward")]
    assert fs[0].numbers["left"] == 5 and fs[0].numbers["right"] == 6
    assert "勾稽关系错误" in fs[0].message


def test_appeal_total():
    t4 = {"review": [1, 1, 0, 1, 2], "litigation_direct": [0, 0, 0, 1, 1], "litigation_after_review": [0] * 5}
    fs = [f for f in check_report(make_report(t4=t4))]
    assert [(f.rule, f.subject) for f in fs] == [("appeal_total", "review")]
    assert "行政复议" in fs[0].message and fs[0].numbers == {"sum": 3, "total": 2, "delta": -1}


def test_non_assessable_cells_are_skipped_not_zero():
    t3 = consistent_table3()
    t3["granted"][0] = None  # blank: row 1, column 2 and balance cannot be assessed there
    t3["granted"][6] = None
    assert rules(make_report(t3)) == []


def test_template_2019_sums_nineteen_leaves():
    t3 = consistent_table3("2019")
    t3["other_handling"] = [0, 2, 0, 0, 0, 0, 2]
    assert rules(make_report(t3, template="2019")) == ["results_total", "results_total"]


def test_narrative_vs_table():
    secs = dict(SECTIONS)
    secs["overview"] = "2024年，本局共受理政府信息公开申请7件，其中予以公开3件，不予公开1件，无法提供0件。提起行政诉讼2件。"
    fs = [f for f in check_report(make_report(sections=secs)) if f.rule == "narrative_vs_table"]
    assert sorted(f.subject for f in fs) == ["收到申请", "行政诉讼"]
    f = next(f for f in fs if f.subject == "收到申请")
    assert f.numbers["text"] == 7 and f.numbers["table"] == 6 and f.cells == ["table3.new.total"]
    assert f.severity == "warning" and "正文数据与表格不一致" in f.message
    # unrelated counts (建议N件) are not read as applications
    secs["overview"] = "2024年，本局共承办人大代表建议12件，政协委员提案3件。"
    assert rules(make_report(sections=secs)) == []


@pytest.mark.parametrize("text", ["如有疑问请与（单位名称）联系。", "XX局政府信息公开工作年度报告", "联系电话：××××"])
def test_placeholder_left_in(text):
    secs = dict(SECTIONS)
    secs["other"] = text
    fs = check_report(make_report(sections=secs))
    assert [f.rule for f in fs] == ["placeholder"]
    assert "模板占位符未删除" in fs[0].message


def test_urls_and_latin_text_are_not_placeholders():
    secs = dict(SECTIONS)
    secs["other"] = "报告可从 http://www.xx.gov.cn/zfxxgk/xxgknb/ 下载，邮箱 xxgk@example.cn，XXL号。"
    assert rules(make_report(sections=secs)) == []


def test_missing_and_empty_sections():
    secs = dict(SECTIONS)
    del secs["other"]
    secs["problems"] = "无。"
    fs = check_report(make_report(sections=secs))
    assert sorted(f.subject for f in fs) == ["empty:problems", "missing:other"]
    assert all(f.rule == "placeholder" for f in fs)


def test_period():
    r = make_report()
    r.period = (date(2023, 1, 1), date(2023, 12, 31))
    fs = check_report(r)
    assert [f.rule for f in fs] == ["period"] and "统计期限错误" in fs[0].message
    r.period = None
    assert check_report(r) == []


def test_every_rule_has_a_severity_and_findings_carry_the_report():
    t3 = consistent_table3()
    t3["new"][6] = 9
    for f in check_report(make_report(t3)):
        assert f.severity == SEVERITY[f.rule]
        assert (f.agency, f.year) == ("测试局", 2024)
    assert RULES == ("row_total", "results_total", "balance", "appeal_total", "narrative_vs_table",
                     "placeholder", "period", "tables_missing")
    assert set(SEVERITY) == set(RULES)


@pytest.mark.parametrize("sentence,subject,stated", [
    ("本年度共办结申请5件。", "办结", 5),
    ("全年答复申请7件。", "办结", 7),
    ("另有2件结转下年度继续办理。", "结转下年度", 2),
    ("结转下一年度继续办理3件。", "结转下年度", 3),
    ("上年结转政府信息公开申请2件。", "上年结转", 2),
])
def test_narrative_patterns(sentence, subject, stated):
    secs = dict(SECTIONS)
    secs["requests"] = sentence
    fs = [f for f in check_report(make_report(sections=secs)) if f.rule == "narrative_vs_table"]
    assert [(f.subject, f.numbers["text"]) for f in fs] == [(subject, stated)]


def test_a_section_whose_table_was_read_is_not_missing():
    secs = dict(SECTIONS)
    del secs["requests"]  # its heading sat inside the table, but Table 三 was read
    assert rules(make_report(sections=secs)) == []


def test_row_total_and_balance_meet_in_the_suspect_cell():
    t3 = consistent_table3()
    t3["new"][6] = 9  # the 总计 of 本年新收 mistyped
    fs = {f.rule: f for f in check_report(make_report(t3, sections={**SECTIONS, "overview": "2024年工作情况良好。"}))}
    assert set(fs) == {"row_total", "balance"}
    assert fs["row_total"].suspect == fs["balance"].suspect == "table3.new.total"


def test_older_free_form_reports_are_not_held_to_the_six_sections():
    secs = {"overview": "2015年，本局政府信息公开工作情况如下。"}
    r = make_report(sections=secs)
    assert sorted(f.subject for f in check_report(r) if f.rule == "placeholder") == \
        ["missing:other", "missing:problems"]
    r.template = "unknown"
    assert [f for f in check_report(r) if f.rule == "placeholder"] == []
