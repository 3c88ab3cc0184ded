"""Mapping (Extracted -> Report): label variants, layouts, templates, blanks, missing tables."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vocabulary import template as T
from crawler.parsing.extract.base import Extracted, Paragraph
from crawler.parsing.extract.text import extract as extract_text
from crawler.parsing.mapping import find_sections, map_report, parse_value
from map_helpers import build, expected_json, grid, sample_values, table3_rows
from monitor.checks.report import check_report
from storage.models import TABLE3_ROWS, CellKind, ParseStatus, Source

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
SRC = Source(path="test.html", format="html")


def mapped(ex: Extracted, **kw):
    return map_report(ex, source=SRC, **kw)


def tables(report) -> dict:
    return {"table2": report.table2, "table3": report.table3, "table4": report.table4}


def distinct_values() -> dict:
    """Every Table 三 row and Table 二 row distinct, so a row mapped to the wrong key shows."""
    v = sample_values(3)
    for i, row in enumerate(TABLE3_ROWS["2021"]):
        v["table3"][row] = [i + 1, 0, i % 3, 0, 0, 1, i + 2 + i % 3]
    for i, row in enumerate(("licensing", "punishment", "coercion")):
        v["table2"][row] = 100 + i
    return v


def test_canonical_report_maps_exactly():
    v = sample_values(7)
    r = mapped(build(v))
    assert tables(r) == expected_json(v)
    assert (r.agency, r.year, r.title) == ("测试区卫生健康局", 2024, "测试区卫生健康局2024年政府信息公开工作年度报告")
    assert r.published.isoformat() == "2025-01-20"
    assert r.template == "2021"
    assert r.status is ParseStatus.PARSED
    assert r.warnings == []
    assert set(r.sections) == {"overview", "proactive", "requests", "appeals", "problems", "other"}
    # every cell carries its printed text, kind and canonical label
    c = r.cell("table3", "withheld_third_party", "total")
    assert c.raw == str(v["table3"]["withheld_third_party"][6])
    assert c.label == "（三）不予公开 4.保护第三方合法权益"
    assert c.kind in (CellKind.NUMERIC, CellKind.ZERO)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10_000), split=st.booleans())
def test_random_consistent_tables_map_back_and_raise_no_finding(seed, split):
    v = sample_values(seed)
    r = mapped(build(v, split_table3=split))
    assert tables(r) == expected_json(v)
    assert check_report(r) == []


def test_label_variants_typos_spacing_widths_bookmarks_extra_words():
    v = distinct_values()
    t3_labels = {
        "new": "[bookmark: _Hlk66973412]一、本年新收政府信息公开申请数量",
        "granted": "（一）予以公开（处罚结果）",
        "partially_granted": "(二) 部分公开(区分处理的, 只计这一情形, 不计其他情形)",
        "withheld_state_secret": "１．属于国家秘密",
        "withheld_three_safety": "3. 危及三安全一稳定",
        "withheld_process_info": "6.属于四类过程 性信息",
        "unavailable_unclear": "3.补正后申请内容仍不名确",
        "rejected_confirmation": "5.要求行政机关确认或重新出具已获取的信息",
        "other_no_correction": "1.申请人无正当理由逾期不补正、行政机关不再处理其政府信息公开申请",
        "total_processed": "（七） 总 计",
        "carried_forward": "四、结转下年度继续办理",
        "group:withheld": "(三)不予公开",
        "group:rejected": "（五） 不予处理",
    }
    t2_labels = {"normative_documents": "规范性文件", "fees_wan_yuan": "行政事业性 收费"}
    r = mapped(build(v, t3_labels=t3_labels, t2_labels=t2_labels))
    assert tables(r) == expected_json(v)
    assert r.warnings == []


def test_shortened_labels_are_placed_by_their_group_and_number():
    v = distinct_values()
    labels = {"withheld_enforcement_file": "7.执法案卷", "withheld_query_matter": "8.查询事项",
              "unavailable_not_held": "1.不掌握相关信息", "unavailable_needs_creation": "2.需另行制作",
              "rejected_repeat": "2.重复申请", "rejected_publication": "3.公开出版物", "other_other": "3.其他"}
    r = mapped(build(v, t3_labels=labels))
    assert r.table3 == expected_json(v)["table3"]


def test_shifted_row_and_wrapped_label():
    v = distinct_values()
    rows = table3_rows(v["table3"])
    # the row 4.保护第三方合法权益 shifted to the start of the line, a trailing empty cell
    i = next(k for k, r in enumerate(rows) if r[2].startswith("4.保护"))
    rows[i] = [rows[i][2], "", *rows[i][3:], ""]
    # a label wrapped over two rows, the values on the second
    j = next(k for k, r in enumerate(rows) if r[2].startswith("5.要求行政机关"))
    rows[j:j + 1] = [["", "", "5.要求行政机关确认或重新"] + [""] * 7, ["", "", "出具已获取信息", *rows[j][3:]]]
    ex = build(v, omit=("table3",))
    at = next(k for k, b in enumerate(ex.blocks) if isinstance(b, Paragraph) and b.text.startswith("三、"))
    ex.blocks.insert(at + 1, grid(rows))
    ex.text_layout = True  # shifted rows come from text reconstructions (PDF text, .txt)
    r = mapped(ex)
    assert r.table3 == expected_json(v)["table3"]


def test_table_split_into_grids_and_text_stream_fallback():
    v = sample_values(11)
    assert tables(mapped(build(v, split_table3=True))) == expected_json(v)
    r = mapped(build(v, text_stream=("table2", "table3", "table4")))
    assert tables(r) == expected_json(v)
    assert not [w for w in r.warnings if w.code != "blank_cell"]


def test_blank_na_and_text_cells_are_none_with_warnings_never_zero():
    v = sample_values(5)
    cells = {("new", 0): "", ("granted", 3): "/", ("carried_forward", 6): "—", ("withheld_query_matter", 2): "无",
             ("rejected_repeat", 1): "见附件", ("other_other", 4): "１２"}
    r = mapped(build(v, t3_cells=cells))
    assert r.value("table3", "new", "natural_person") is None
    assert r.cell("table3", "new", "natural_person").kind is CellKind.EMPTY
    assert r.cell("table3", "granted", "social_welfare_org").kind is CellKind.NA
    assert r.cell("table3", "carried_forward", "total").kind is CellKind.NA
    assert r.cell("table3", "withheld_query_matter", "research_institution").kind is CellKind.NA
    assert r.cell("table3", "rejected_repeat", "commercial_enterprise").kind is CellKind.TEXT
    assert r.value("table3", "other_other", "legal_service_org") == 12  # full-width digits are digits
    assert r.table3["new"][0] is None and r.table3["carried_forward"][6] is None
    codes = {(w.code, w.cell) for w in r.warnings}
    assert ("blank_cell", "table3.new.natural_person") in codes
    assert ("na_cell", "table3.granted.social_welfare_org") in codes
    assert ("text_cell", "table3.rejected_repeat.commercial_enterprise") in codes
    assert r.status is ParseStatus.PARTIAL
    # the checks skip what they cannot assess instead of reading 0
    rules = {(f.rule, f.subject) for f in check_report(r)}
    assert not any(rule == "balance" and col in ("natural_person", "total") for rule, col in rules)


def test_table3_missing():
    v = sample_values(2)
    r = mapped(build(v, omit=("table3",)))
    assert r.status is ParseStatus.PARTIAL
    assert all(x is None for row in r.table3.values() for x in row)
    assert r.table2 == expected_json(v)["table2"] and r.table4 == expected_json(v)["table4"]
    assert [w.code for w in r.warnings] == ["table_not_found"]
    assert "table3" in r.warnings[0].message


def test_narrative_numbers_are_never_table_values():
    v = sample_values(4)
    v["table2"]["licensing"] = 88
    narrative = "2024年梳理核对权责清单174条（行政许可17项、行政处罚126项、行政强制3项）。"
    r = mapped(build(v, narrative=narrative))
    assert r.value("table2", "licensing") == 88
    # without Table 二 nothing is invented from the narrative
    r = mapped(build(v, narrative=narrative, omit=("table2",)))
    assert r.table2["licensing"] is None and r.table2["punishment"] is None
    assert "table_not_found" in {w.code for w in r.warnings}


def test_template_2019_from_headers_not_year():
    v = sample_values(9, template="2019")
    # a 2019-format report that says 2021: the headers decide
    r = mapped(build(v, template="2019", year=2021))
    assert r.template == "2019"
    assert tables(r) == expected_json(v, "2019")
    assert "other_handling" in r.table3 and "other_no_fee" not in r.table3
    assert check_report(r) == []
    # and a 2021-format report for 2019
    v21 = sample_values(9)
    assert mapped(build(v21, year=2019)).template == "2021"


def test_template_2019_text_fixture():
    path = FIXTURES / "synthetic" / "report_2019_template.txt"
    r = map_report(extract_text(path.read_bytes()), source=Source(path=str(path), format="text"))
    assert r.template == "2019"
    assert r.status is ParseStatus.PARSED
    assert r.table2["normative_documents"] == {"made": 3, "published": 2, "public_total": 41}
    assert r.table2["licensing"] == {"previous_items": 12, "change": -2, "decisions": 356}
    assert r.table2["punishment"] == {"previous_items": 27, "change": 3, "decisions": 64}
    assert r.table2["fees"] == {"previous_items": 2, "change": -1}
    assert r.table2["procurement"] == {"projects": 7, "amount": "251000元"}
    assert len(r.table3) == 23
    assert r.table3["other_handling"] == [1, 0, 0, 0, 0, 0, 1]
    assert r.table3["total_processed"] == [5, 1, 0, 0, 0, 0, 6]
    assert r.table4["litigation_direct"] == {"upheld": 0, "corrected": 0, "other": 0, "pending": 1, "total": 1}
    assert (r.agency, r.year, r.published.isoformat()) == ("示例县交通运输局", 2019, "2020-01-20")
    assert check_report(r) == []


def test_mixed_template_keeps_the_single_other_row():
    v21 = sample_values(6)
    v19 = sample_values(6, template="2019")
    ex = build(v21, omit=("table3",))
    at = next(k for k, b in enumerate(ex.blocks) if isinstance(b, Paragraph) and b.text.startswith("三、"))
    ex.blocks.insert(at + 1, grid(table3_rows(v19["table3"], template="2019")))
    r = mapped(ex)
    assert r.template == "2021"
    assert r.table2 == expected_json(v21)["table2"]
    assert "mixed_template" in {w.code for w in r.warnings}
    assert r.value("table3", "other_handling", "total") == v19["table3"]["other_handling"][6]
    assert r.cell("table3", "other_no_fee", "total") is None
    assert r.table3["other_handling"] == v19["table3"]["other_handling"]  # kept in the JSON view too
    # results_total uses the rows the table printed (19 leaves here), so no false finding
    assert [f for f in check_report(r) if f.rule == "results_total"] == []


def test_news_article_is_not_a_report():
    ex = Extracted(format="html", blocks=[
        Paragraph("我区召开2024年度政务公开工作推进会"),
        Paragraph("1月5日，区政府办公室召开政务公开工作推进会，会议总结了2023年工作，部署2024年重点任务。"),
        Paragraph("会议要求，各单位要进一步提高认识，共收到意见建议12件。"),
    ])
    r = mapped(ex)
    assert r.status is ParseStatus.NOT_A_REPORT
    assert r.error


@pytest.mark.parametrize("heading,key", [
    ("一、总体情况", "overview"), ("1、 总体情况", "overview"), ("一、情况", "overview"),
    ("一、 总 体 情 况", "overview"), ("1. 总体情况", "overview"),
])
def test_section_heading_variants(heading, key):
    blocks = [Paragraph(heading), Paragraph("（一）主动公开"), Paragraph("（二）依申请公开"),
              Paragraph("二、主动公开政府信息情况"), Paragraph("三、收到和处理政府信息公开申请情况"),
              Paragraph("（四）政府信息公开平台建设"),
              Paragraph("四、政府信息公开行政复议、行政诉讼情况"), Paragraph("五、存在的主要问题及改进措施"),
              Paragraph("六、其他需要报告事项")]
    found = find_sections(blocks)
    assert [k for _, k in found] == [key, "proactive", "requests", "appeals", "problems", "other"]
    assert [i for i, _ in found] == [0, 3, 4, 6, 7, 8]


@pytest.mark.parametrize("raw,kind,value", [
    ("0", CellKind.ZERO, 0), ("12", CellKind.NUMERIC, 12), ("１２", CellKind.NUMERIC, 12),
    ("1,234", CellKind.NUMERIC, 1234), ("", CellKind.EMPTY, None), ("  ", CellKind.EMPTY, None),
    ("/", CellKind.NA, None), ("-", CellKind.NA, None), ("—", CellKind.NA, None), ("无", CellKind.NA, None),
    ("见附件", CellKind.TEXT, None), ("3件", CellKind.NUMERIC, 3), ("-2", CellKind.NUMERIC, -2),
])
def test_parse_value(raw, kind, value):
    assert parse_value(raw) == (kind, value)


def test_fees_keep_decimals():
    assert parse_value("0.35", decimal=True) == (CellKind.NUMERIC, 0.35)
    assert parse_value("０．５万元", decimal=True) == (CellKind.NUMERIC, 0.5)
    assert parse_value("0.00", decimal=True) == (CellKind.ZERO, 0.0)
    v = sample_values(8)
    v["table2"]["fees_wan_yuan"] = 12.75
    assert mapped(build(v)).value("table2", "fees_wan_yuan") == 12.75


def test_heading_followed_by_text_in_one_paragraph():
    blocks = [Paragraph("一、总体情况。2024年，本局认真贯彻落实《条例》，做好政府信息公开工作，主动公开政府信息120条，"
                        "收到政府信息公开申请3件。"),
              Paragraph("二、主动公开政府信息情况"), Paragraph("三、收到和处理政府信息公开申请情况"),
              Paragraph("四、政府信息公开行政复议、行政诉讼情况"), Paragraph("五、存在的主要问题及改进情况：一是…"),
              Paragraph("六、其他需要报告的事项")]
    assert [k for _, k in find_sections(blocks)] == ["overview", "proactive", "requests", "appeals", "problems",
                                                    "other"]
    r = mapped(Extracted(format="pdf", blocks=blocks))
    assert r.sections["overview"].startswith("2024年，本局")


def test_table2_columns_follow_the_printed_header_order():
    v = sample_values(12)
    v["table2"]["regulations"] = {"issued": 1, "repealed": 2, "in_force": 3}
    ex = build(v)
    t2 = next(b for b in ex.blocks if hasattr(b, "rows") and b.rows[0][0].text.startswith("第二十条"))
    # header and values printed as 现行有效 / 本年制发 / 本年废止
    for r in t2.rows:
        if r[0].text in ("信息内容", "规章", "行政规范性文件"):
            r[1], r[2], r[3] = r[3], r[1], r[2]
    res = mapped(ex)
    assert res.table2["regulations"] == {"issued": 1, "repealed": 2, "in_force": 3}
    assert res.table2["normative_documents"] == v["table2"]["normative_documents"]


def test_table4_values_after_a_label_cell():
    v = sample_values(13)
    ex = build(v)
    t4 = [b for b in ex.blocks if hasattr(b, "rows")][-1]
    for r in t4.rows:
        r.insert(0, type(r[0])(text="件数" if r is t4.rows[-1] else ""))
    assert mapped(ex).table4 == expected_json(v)["table4"]


def test_a_stub_page_titled_as_a_report_is_a_report_whose_tables_are_in_the_attachment():
    # issue 9 item 3: the titles decide; the stub is a report that says why it has no tables
    ex = Extracted(format="html", blocks=[Paragraph("附件：2024年政府信息公开工作年度报告.pdf")],
                   metadata={"ArticleTitle": "某局2024年政府信息公开工作年度报告", "x-page-attachments": "1"})
    r = mapped(ex)
    assert r.status is ParseStatus.PARTIAL
    assert r.title == "某局2024年政府信息公开工作年度报告" and (r.agency, r.year) == ("某局", 2024)
    assert "tables_in_attachment" in [w.code for w in r.warnings]


@pytest.mark.parametrize("wording", [
    ("基本情况", "主动公开政府信息的情况", "收到和处理政府信息公开申请的情况",
     "因政府信息公开工作被申请行政复议、提起行政诉讼情况", "存在的主要问题和改进情况", "需要说明的其他事项"),
    ("政府信息公开工作总体情况", "政府信息主动公开情况", "政府信息公开申请情况", "政府信息公开行政复议、诉讼情况",
     "存在问题及改进措施", "其他需要报告事项"),
])
def test_section_wording_variants(wording):
    blocks = [Paragraph(f"{n}、{w}") for n, w in zip("一二三四五六", wording)]
    assert [k for _, k in find_sections(blocks)] == list(T.SECTIONS)


def test_arabic_numbered_subitems_inside_a_section_are_not_sections():
    blocks = [Paragraph("一、总体情况"), Paragraph("1. 政府信息管理情况。"), Paragraph("2. 主动公开情况"),
              Paragraph("3. 依申请公开情况"), Paragraph("二、主动公开政府信息情况"),
              Paragraph("三、收到和处理政府信息公开申请情况"), Paragraph("四、政府信息公开行政复议、行政诉讼情况"),
              Paragraph("五、存在的主要问题及改进情况"), Paragraph("六、其他需要报告的事项")]
    assert find_sections(blocks) == [(0, "overview"), (4, "proactive"), (5, "requests"), (6, "appeals"),
                                     (7, "problems"), (8, "other")]


def test_a_grid_after_table4_is_not_read_as_table4():
    v = sample_values(14)
    ex = build(v)
    at = next(k for k, b in enumerate(ex.blocks) if isinstance(b, Paragraph) and b.text.startswith("五、"))
    ex.blocks.insert(at + 1, grid([["培训次数", "参训人数"], ["3", "120"]]))  # a table of section 五
    r = mapped(ex)
    assert r.table4 == expected_json(v)["table4"]
    assert r.status is ParseStatus.PARSED


def test_table2_labels_with_units_and_numbering():
    v = distinct_values()
    labels = {"regulations": "1.规章（件）", "licensing": "行政许可（件）", "fees_wan_yuan": "行政事业性收费（万元）",
              "coercion": "行政 强制"}
    assert mapped(build(v, t2_labels=labels)).table2 == expected_json(v)["table2"]


def test_transposed_table4_one_row_per_group():
    v = sample_values(15)
    ex = build(v, omit=("table4",))
    rows = [["", "结果维持", "结果纠正", "其他结果", "尚未审结", "总计"]]
    for g, label in (("review", "行政复议"), ("litigation_direct", "未经复议直接起诉"),
                     ("litigation_after_review", "复议后起诉")):
        rows.append([label, *(str(x) for x in v["table4"][g].values())])
    at = next(k for k, b in enumerate(ex.blocks) if isinstance(b, Paragraph) and b.text.startswith("四、"))
    ex.blocks.insert(at + 1, grid(rows))
    assert mapped(ex).table4 == expected_json(v)["table4"]


@pytest.mark.parametrize("first", [
    "一、总体情况2024年，本局认真贯彻落实《条例》，做好政府信息公开工作，主动公开政府信息120条，收到政府信息公开申请3件，均已按时答复。",
    "一、总体情况。2024年，本局做好政府信息公开工作，收到申请3件。",
    "一、 总体情况：2024年，本局做好政府信息公开工作。",
])
def test_run_in_section_headings(first):
    blocks = [Paragraph(first), Paragraph("二、主动公开政府信息情况"), Paragraph("三、收到和处理政府信息公开申请情况"),
              Paragraph("四、政府信息公开行政复议、行政诉讼情况"), Paragraph("五、存在的主要问题及改进情况"),
              Paragraph("六、其他需要报告的事项")]
    r = mapped(Extracted(format="html", blocks=blocks))
    assert list(r.sections) == list(T.SECTIONS)
    assert r.sections["overview"].startswith("2024年，本局")


def test_section_heading_typed_into_the_table():
    v = sample_values(16)
    ex = build(v)
    for heading in ("三、收到和处理政府信息公开申请情况", "二、主动公开政府信息情况"):
        at = next(k for k, b in enumerate(ex.blocks) if isinstance(b, Paragraph) and b.text == heading)
        table = ex.blocks[at + 1]
        del ex.blocks[at]
        width = len(table.rows[0])
        table.rows.insert(0, grid([[heading] + [""] * (width - 1)]).rows[0])
    r = mapped(ex)
    assert list(r.sections) == list(T.SECTIONS)
    assert tables(r) == expected_json(v) and r.status is ParseStatus.PARSED


def test_a_row_left_entirely_blank_is_kept_as_blank_cells():
    v = sample_values(17)
    cells = {("withheld_query_matter", c): "" for c in range(7)}
    r = mapped(build(v, t3_cells=cells))
    assert r.table3["withheld_query_matter"] == [None] * 7
    assert all(r.cell("table3", "withheld_query_matter", c).kind is CellKind.EMPTY for c in
               ("natural_person", "total"))
    others = {k: x for k, x in r.table3.items() if k != "withheld_query_matter"}
    assert others == {k: x for k, x in expected_json(v)["table3"].items() if k != "withheld_query_matter"}
    assert sum(w.code == "blank_cell" for w in r.warnings) == 7


_WORDS = st.sampled_from(["一、", "二、", "三、", "（三）", "1.", "2、", "总体情况", "主动公开政府信息情况", "行政许可", "规章",
                          "本年新收政府信息公开申请数量", "（七）总计", "行政复议", "行政诉讼", "申请人情况", "第二十条",
                          "信息内容", "0", "12", "/", "—", "无", "", " ", "\t", "。", "2024年", "1月1日", "至", "件",
                          "政府信息公开工作年度报告", "[bookmark: x]", "—#—", "XX", "１２", "-3", "0.5"])
_TEXT = st.lists(_WORDS, max_size=8).map("".join)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(blocks=st.lists(st.one_of(
    _TEXT.map(Paragraph),
    st.lists(st.lists(_TEXT, min_size=0, max_size=12), min_size=0, max_size=8).map(
        lambda rows: grid(rows) if rows and any(rows) else Paragraph("")),
), max_size=25), text_layout=st.booleans())
def test_any_jumble_of_blocks_maps_without_raising(blocks, text_layout):
    r = mapped(Extracted(format="html", blocks=blocks, text_layout=text_layout))
    assert r.status in (ParseStatus.PARSED, ParseStatus.PARTIAL, ParseStatus.NOT_A_REPORT)
    assert all(c.value is None or c.kind.assessable for c in r.cells)
    json.dumps(r.to_json(), ensure_ascii=False, default=str)
