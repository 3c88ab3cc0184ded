"""Rule 5 (narrative_vs_table) reads the text's figures with the phrasings of vocabulary/phrases.py,
and item 4 of issue 10: a blank 总计 column is one finding.

The 2019 report below is written in the shape of the real one of issue 10 (a TRS page, template
2019, 总计 blank on eleven outcome rows whose applicant columns are not zero; the text says
"予以公开及部分公开258件" against 272 + 3 and "因本机关不掌握等原因无法提供265件" against
265 + 47 + 25).  Its layout is typed here from the official 2019 format, not printed from our labels.
"""
from __future__ import annotations

import re
import unicodedata

import pytest

from crawler.parsing import parse_bytes
from monitor.checks.report import check_report
from storage.models import Cell, CellKind, Report
from vocabulary.phrases import NOT_FIGURES, PHRASES


def _norm(s: str) -> str:
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", s))


# -- the vocabulary -------------------------------------------------------------------------------------

@pytest.mark.parametrize("phrase", PHRASES, ids=lambda p: p.key)
def test_every_phrase_reads_its_example(phrase):
    text = _norm(phrase.example)
    m = re.search(phrase.pattern, text)
    assert m, f"{phrase.key}: {phrase.example!r}"
    assert phrase.source
    # no earlier phrase reads the same words first
    for earlier in PHRASES[:PHRASES.index(phrase)]:
        for e in re.finditer(earlier.pattern, text):
            assert not (e.start() < m.end() and m.start() < e.end()), f"{earlier.key} takes {phrase.example!r}"


@pytest.mark.parametrize("sentence,why", NOT_FIGURES)
def test_sentences_that_state_no_table_figure(sentence, why):
    text = _norm(sentence)
    assert not [p.key for p in PHRASES if re.search(p.pattern, text)], why


def _report(cells: dict[str, int | None], text: str, template: str = "2021") -> Report:
    out = []
    for ref, v in cells.items():
        t, r, c = ref.split(".")
        kind = CellKind.EMPTY if v is None else (CellKind.ZERO if v == 0 else CellKind.NUMERIC)
        out.append(Cell(t, r, c, v, "" if v is None else str(v), kind, label=r))
    return Report(agency="测试局", year=2024, template=template, cells=out, text=text,
                  sections={"overview": text})


def _narrative(report):
    return [f for f in check_report(report) if f.rule == "narrative_vs_table"]


def test_received_with_applicant_breakdown():
    cells = {f"table3.new.{c}": v for c, v in zip(
        ("natural_person", "commercial_enterprise", "research_institution", "social_welfare_org",
         "legal_service_org", "other_org", "total"), (90, 3, 0, 0, 1, 0, 94))}
    fs = _narrative(_report(cells, "本年度收到政府信息公开申请94件，其中自然人90件、法人或其他组织5件。"))
    assert [(f.subject, f.numbers["text"], f.numbers["table"]) for f in fs] == [("法人或其他组织申请", 5, 4)]
    assert "其中自然人90件、法人或其他组织5件" in fs[0].message


def test_table_two_figures_in_the_text():
    cells = {"table2.normative_documents.issued": 77, "table2.normative_documents.repealed": 132,
             "table2.normative_documents.in_force": 470, "table2.licensing.value": 75,
             "table2.fees_wan_yuan.value": 1.5}
    text = ("本年制发行政规范性文件77件，现行有效行政规范性文件471件。全年作出行政许可决定75件，"
            "行政事业性收费1.5万元。主动公开行政规范性文件42件。")
    fs = _narrative(_report(cells, text))
    assert [(f.subject, f.numbers["text"], f.numbers["table"]) for f in fs] == [("现行有效规范性文件", 471, 470)]
    fs = _narrative(_report(cells, "行政事业性收费2万元。"))
    assert [(f.numbers["text"], f.numbers["table"]) for f in fs] == [(2.0, 1.5)]
    assert "万元" in fs[0].message


def test_table_four_figures_in_the_text():
    cells = {f"table4.{g}.total": v for g, v in (("review", 1), ("litigation_direct", 2),
                                                 ("litigation_after_review", 0))}
    fs = _narrative(_report(cells, "因政府信息公开被申请行政复议和提起行政诉讼均为0件。"))
    assert sorted((f.subject, f.numbers["table"]) for f in fs) == [("行政复议", 1), ("行政诉讼", 2)]
    fs = _narrative(_report(cells, "未经复议直接起诉2件，复议后起诉1件。"))
    assert [(f.subject, f.numbers["text"], f.numbers["table"]) for f in fs] == [("复议后起诉", 1, 0)]


def test_reason_without_deng_names_one_row():
    cells = {"table3.unavailable_not_held.total": 3, "table3.unavailable_needs_creation.total": 2,
             "table3.unavailable_unclear.total": 0}
    assert _narrative(_report(cells, "因本机关不掌握相关政府信息无法提供3件。")) == []
    fs = _narrative(_report(cells, "因本机关不掌握等原因无法提供3件。"))
    assert [(f.numbers["text"], f.numbers["table"]) for f in fs] == [(3, 5)]


def test_blank_total_compared_with_its_row():
    cells = {"table3.new.natural_person": 10, "table3.new.commercial_enterprise": 2,
             **{f"table3.new.{c}": 0 for c in ("research_institution", "social_welfare_org",
                                                "legal_service_org", "other_org")},
             "table3.new.total": None}
    fs = _narrative(_report(cells, "2024年共受理政府信息公开申请17件。"))
    assert len(fs) == 1 and fs[0].numbers["table"] == 12
    assert "空白" in fs[0].message
    assert _narrative(_report(cells, "2024年共受理政府信息公开申请12件。")) == []


def test_low_confidence_cells_make_a_warning_that_says_so():
    r = _report({"table3.new.total": 12}, "2024年共受理政府信息公开申请17件。")
    r.cells[0].confidence = 0.6
    fs = _narrative(r)
    assert len(fs) == 1 and fs[0].severity == "warning" and "读数不确定" in fs[0].message
    # an arithmetic rule resting on such a cell is no error either
    t4 = {f"table4.review.{c}": v for c, v in zip(("upheld", "corrected", "other", "pending", "total"), (1, 0, 0, 0, 2))}
    r = _report(t4, "")
    r.cells[-1].confidence = 0.6
    fs = [f for f in check_report(r) if f.rule == "appeal_total"]
    assert [f.severity for f in fs] == ["warning"] and "读数不确定" in fs[0].message


# -- a real-shaped 2019 HTML report -----------------------------------------------------------------------

_COLS = 6
#: (label cells as printed, applicant columns, total as printed: None = blank)
_T3_2019 = [
    (["一、本年新收政府信息公开申请数量"], [640, 50, 0, 0, 8, 0], 698),
    (["二、上年结转政府信息公开申请数量"], [10, 1, 0, 0, 0, 0], 11),
    (["三、本年度办理结果", "（一）予以公开"], [250, 20, 0, 0, 2, 0], None),
    (["（二）部分公开（区分处理的，只计这一情形，不计其他情形）"], [3, 0, 0, 0, 0, 0], None),
    (["（三）不予公开", "1．属于国家秘密"], [0, 0, 0, 0, 0, 0], 0),
    (["2．其他法律行政法规禁止公开"], [2, 0, 0, 0, 0, 0], None),
    (["3．危及“三安全一稳定”"], [0, 0, 0, 0, 0, 0], 0),
    (["4．保护第三方合法权益"], [4, 1, 0, 0, 0, 0], None),
    (["5．属于三类内部事务信息"], [6, 0, 0, 0, 0, 0], None),
    (["6．属于四类过程性信息"], [9, 1, 0, 0, 0, 0], None),
    (["7．属于行政执法案卷"], [1, 0, 0, 0, 0, 0], None),
    (["8．属于行政查询事项"], [12, 0, 0, 0, 0, 0], None),
    (["（四）无法提供", "1．本机关不掌握相关政府信息"], [240, 20, 0, 0, 5, 0], None),
    (["2．没有现成信息需要另行制作"], [40, 7, 0, 0, 0, 0], None),
    (["3．补正后申请内容仍不明确"], [25, 0, 0, 0, 0, 0], None),
    (["（五）不予处理", "1．信访举报投诉类申请"], [30, 0, 0, 0, 0, 0], 30),
    (["2．重复申请"], [8, 0, 0, 0, 0, 0], 8),
    (["3．要求提供公开出版物"], [0, 0, 0, 0, 0, 0], 0),
    (["4．无正当理由大量反复申请"], [0, 0, 0, 0, 0, 0], 0),
    (["5．要求行政机关确认或重新出具已获取信息"], [0, 0, 0, 0, 0, 0], 0),
    (["（六）其他处理"], [5, 0, 0, 0, 0, 0], 5),
    (["（七）总计"], [635, 49, 0, 0, 7, 0], 691),
    (["四、结转下年度继续办理"], [15, 2, 0, 0, 1, 0], 18),
]


def _html_2019(narrative: str) -> bytes:
    def tds(vals):
        return "".join(f"<td>{'' if v is None else v}</td>" for v in vals)

    t3 = ['<tr><td colspan="3" rowspan="3">（本列数据的勾稽关系为：第一项加第二项之和，等于第三项加第四项之和）</td>'
          '<td colspan="7">申请人情况</td></tr>',
          '<tr><td rowspan="2">自然人</td><td colspan="5">法人或其他组织</td><td rowspan="2">总计</td></tr>',
          "<tr><td>商业企业</td><td>科研机构</td><td>社会公益组织</td><td>法律服务机构</td><td>其他</td></tr>"]
    for labels, vals, total in _T3_2019:
        if len(labels) == 2:
            # 三、本年度办理结果 spans its 20 rows (（一） to （七）), each group heading its items
            span = {"三、本年度办理结果": 20, "（三）不予公开": 8, "（四）无法提供": 3, "（五）不予处理": 5}[labels[0]]
            inner = 2 if labels[0] == "三、本年度办理结果" else 1
            first = f'<td rowspan="{span}">{labels[0]}</td><td colspan="{inner}">{labels[1]}</td>'
        else:
            label = labels[0]
            if label.startswith(("一、", "二、", "四、")):
                first = f'<td colspan="3">{label}</td>'
            elif label.startswith(("（", "(")):
                first = f'<td colspan="2">{label}</td>'
            else:
                first = f"<td>{label}</td>"
        t3.append(f"<tr>{first}{tds(vals)}{tds([total])}</tr>")
    t2 = """
<table border="1"><tr><td colspan="4">第二十条第（一）项</td></tr>
<tr><td>信息内容</td><td>本年新制作数量</td><td>本年新公开数量</td><td>对外公开总数量</td></tr>
<tr><td>规章</td><td>0</td><td>0</td><td>0</td></tr>
<tr><td>规范性文件</td><td>3</td><td>3</td><td>41</td></tr>
<tr><td colspan="4">第二十条第（五）项</td></tr>
<tr><td>信息内容</td><td>上一年项目数量</td><td>本年增/减</td><td>处理决定数量</td></tr>
<tr><td>行政许可</td><td>12</td><td>0</td><td>356</td></tr>
<tr><td>其他对外管理服务事项</td><td>4</td><td>0</td><td>20</td></tr>
<tr><td colspan="4">第二十条第（六）项</td></tr>
<tr><td>信息内容</td><td>上一年项目数量</td><td>本年增/减</td><td>处理决定数量</td></tr>
<tr><td>行政处罚</td><td>30</td><td>2</td><td>128</td></tr>
<tr><td>行政强制</td><td>5</td><td>0</td><td>9</td></tr>
<tr><td colspan="4">第二十条第（八）项</td></tr>
<tr><td>信息内容</td><td>上一年项目数量</td><td colspan="2">本年增/减</td></tr>
<tr><td>行政事业性收费</td><td>2</td><td colspan="2">0</td></tr>
<tr><td colspan="4">第二十条第（九）项</td></tr>
<tr><td>信息内容</td><td>采购项目数量</td><td colspan="2">采购总金额</td></tr>
<tr><td>政府集中采购</td><td>14</td><td colspan="2">251000元</td></tr></table>"""
    t4 = """
<table border="1"><tr><td colspan="5">行政复议</td><td colspan="10">行政诉讼</td></tr>
<tr><td rowspan="2">结果维持</td><td rowspan="2">结果纠正</td><td rowspan="2">其他结果</td><td rowspan="2">尚未审结</td>
<td rowspan="2">总计</td><td colspan="5">未经复议直接起诉</td><td colspan="5">复议后起诉</td></tr>
<tr><td>结果维持</td><td>结果纠正</td><td>其他结果</td><td>尚未审结</td><td>总计</td>
<td>结果维持</td><td>结果纠正</td><td>其他结果</td><td>尚未审结</td><td>总计</td></tr>
<tr><td>5</td><td>1</td><td>0</td><td>2</td><td>8</td><td>3</td><td>0</td><td>0</td><td>1</td><td>4</td>
<td>1</td><td>0</td><td>0</td><td>0</td><td>1</td></tr></table>"""
    paras = "".join(f"<p>{p}</p>" for p in narrative.split("\n"))
    html = f"""<!DOCTYPE html><html><head><meta charset="utf-8">
<meta name="ArticleTitle" content="某市人民政府办公室2019年政府信息公开工作年度报告">
<title>某市人民政府办公室2019年政府信息公开工作年度报告</title></head><body>
<div class="TRS_Editor">
<p>某市人民政府办公室2019年政府信息公开工作年度报告</p>
<p>一、总体情况</p>{paras}
<p>二、主动公开政府信息情况</p>{t2}
<p>三、收到和处理政府信息公开申请情况</p><table border="1">{''.join(t3)}</table>
<p>四、政府信息公开行政复议、行政诉讼情况</p>{t4}
<p>五、政府信息公开工作存在的主要问题及改进情况</p><p>一是依申请公开答复的规范性还需加强；二是政策解读形式较为单一。下一步将加强业务培训。</p>
<p>六、其他需要报告的事项</p><p>本年度未收取信息处理费。</p>
</div></body></html>"""
    return html.encode("utf-8")


NARRATIVE_2019 = ("2019年，本机关共收到政府信息公开申请698件，上年结转11件。其中予以公开及部分公开258件，"
                  "因本机关不掌握等原因无法提供265件，不予处理38件。因政府信息公开被申请行政复议8件，提起行政诉讼5件。")


def test_real_shaped_2019_report():
    report = parse_bytes(_html_2019(NARRATIVE_2019), path="report2019.html")
    assert report.template == "2019"
    assert {w.code for w in report.warnings} == {"blank_cell"}  # the eleven blank totals, nothing else
    assert report.value("table3", "granted", "natural_person") == 250
    assert report.cell("table3", "granted", "total").value is None  # printed blank: unread, not 0
    findings = check_report(report)
    nar = sorted((f for f in findings if f.rule == "narrative_vs_table"), key=lambda f: f.numbers["text"])
    assert [(f.numbers["text"], f.numbers["table"]) for f in nar] == [(258, 275), (265, 337)]
    assert "予以公开及部分公开258件" in nar[0].message and "因本机关不掌握等原因无法提供265件" in nar[1].message
    assert all("空白" in f.message for f in nar)  # the blank totals were replaced by their rows' sums
    blank = [f for f in findings if f.subject == "blank_total_column"]
    assert len(blank) == 1 and blank[0].numbers["count"] == 11
    assert "“予以公开”" in blank[0].message
    # nothing else: no eleven row errors, no other narrative finding, no missing section
    assert sorted(f.rule for f in findings) == ["narrative_vs_table", "narrative_vs_table", "row_total"]


def test_real_shaped_2019_report_with_true_figures_is_quiet_but_for_the_blank_column():
    text = NARRATIVE_2019.replace("258件", "275件").replace("265件", "337件")
    findings = check_report(parse_bytes(_html_2019(text), path="report2019.html"))
    assert [f.subject for f in findings] == ["blank_total_column"]


def test_a_heading_anywhere_in_the_text_is_no_missing_section():
    r = _report({}, "")
    r.template = "2021"
    r.sections = {"proactive": "x", "requests": "x", "appeals": "x", "problems": "一是公开不够及时；二是解读不够深入。", "other": "无"}
    assert [f.subject for f in check_report(r) if f.rule == "placeholder"] == ["missing:overview"]
    r.text = "一、 总体情况\t2024年，本局……"  # the heading stood in a table cell or a frame
    assert [f.subject for f in check_report(r) if f.rule == "placeholder"] == []


def test_cross_year_finding_on_a_low_confidence_cell_is_a_warning():
    from monitor.checks.cross_year import _finding

    r = _report({"table3.carried_over.total": 3}, "")
    r.cells[0].confidence = 0.8
    f = _finding(r, "carry_continuity", "error", "上年结转与上年报告结转下年度不一致。", cells=["table3.carried_over.total"])
    assert f.severity == "warning" and "读数不确定" in f.message
