"""Mapping behind the real HTML extractor: a Word-paste page written by hand here (rowspan/colspan
group cells, <p> and <br> inside cells, &nbsp; blanks, a typo and extra words in labels, GBK), parsed
with crawler.parsing.parse_bytes."""
from __future__ import annotations

import html

from crawler.parsing import parse_bytes
from vocabulary import template as T
from map_helpers import expected_json, sample_values
from monitor.checks.report import check_report
from storage.models import TABLE3_COLUMNS, TABLE4_COLUMNS, TABLE4_GROUPS, ParseStatus

LABELS = {  # printed labels differing from the template's
    "granted": "（一）予以公开（含部分事项）",
    "withheld_three_safety": "3.危及&ldquo;三安全一稳定&rdquo;",
    "unavailable_unclear": "3.补正后申请内容仍不名确",
    "rejected_confirmation": "5.要求行政机关确认或重新<br/>出具已获取信息",
    "total_processed": "（七）&nbsp;总计",
}
GROUP_SPANS = {"withheld_state_secret": ("（三）不予公开", 8), "unavailable_not_held": ("（四）无法提供", 3),
               "rejected_petition": ("（五）不予处理", 5), "other_no_correction": ("（六）其他处理", 3)}


def td(text, **attrs):
    a = "".join(f' {k}="{v}"' for k, v in attrs.items())
    return f'<td{a} style="border:solid windowtext 1.0pt"><p class="MsoNormal" align="center"><span>{text}</span></p></td>'


def vals(values, blanks=()):
    return "".join(td("&nbsp;" if i in blanks else str(v)) for i, v in enumerate(values))


def table2_html(t2):
    rows = []
    for block, header, keys in (("第二十条第（一）项", ("信息内容", "本年制发件数", "本年废止件数", "现行有效件数"),
                                 ("regulations", "normative_documents")),
                                ("第二十条第（五）项", ("信息内容", "本年处理决定数量"), ("licensing",)),
                                ("第二十条第（六）项", ("信息内容", "本年处理决定数量"), ("punishment", "coercion")),
                                ("第二十条第（八）项", ("信息内容", "本年收费金额（单位：万元）"), ("fees_wan_yuan",))):
        rows.append(td(block, colspan=4))
        if len(header) == 4:
            rows.append("".join(td(h) for h in header))
        else:
            rows.append(td(header[0]) + td(header[1], colspan=3))
        for k in keys:
            v = t2[k]
            label = {"regulations": "规章", "normative_documents": "行政规范性文件", "licensing": "行政许可",
                     "punishment": "行政处罚", "coercion": "行政强制", "fees_wan_yuan": "行政事业性收费"}[k]
            rows.append(td(label) + ("".join(td(x) for x in v.values()) if isinstance(v, dict)
                                     else td(v, colspan=3)))
    return "<table>" + "".join(f"<tr>{r}</tr>" for r in rows) + "</table>"


def table3_html(t3, blanks):
    rows = [td(html.escape(T.TABLE3_BALANCE_NOTE), colspan=3, rowspan=3) + td("申请人情况", colspan=7),
            td("自然人", rowspan=2) + td("法人或其他组织", colspan=5) + td("总计", rowspan=2),
            "".join(td(x) for x in ("商业<br>企业", "科研<br>机构", "社会公益组织", "法律服务机构", "其他"))]
    for row, label in T.TABLE3_ROW_LABELS.items():
        if row not in t3:
            continue
        text = LABELS.get(row, label.label)
        if row in ("new", "carried_over", "carried_forward"):
            head = td(text, colspan=3)
        elif row == "granted":
            head = td(T.TABLE3_GROUPS["results"], rowspan=22) + td(text, colspan=2)
        elif label.group == "results":
            head = td(text, colspan=2)
        elif row in GROUP_SPANS:
            g, n = GROUP_SPANS[row]
            head = td(g, rowspan=n) + td(text)
        else:
            head = td(text)
        rows.append(head + vals(t3[row], blanks.get(row, ())))
    return "<table>" + "".join(f"<tr>{r}</tr>" for r in rows) + "</table>"


def table4_html(t4):
    cols = "".join(td(x) for x in ("结果<br>维持", "结果<br>纠正", "其他<br>结果", "尚未<br>审结", "总计"))
    rows = [td("行政复议", colspan=5) + td("行政诉讼", colspan=10),
            cols.replace("<td", '<td rowspan="2"', 5) + td("未经复议直接起诉", colspan=5) + td("复议后起诉", colspan=5),
            cols + cols,
            "".join(td(t4[g][c]) for g in TABLE4_GROUPS for c in TABLE4_COLUMNS)]
    return "<table>" + "".join(f"<tr>{r}</tr>" for r in rows) + "</table>"


def page(v, blanks=None):
    blanks = blanks or {}
    body = f"""
<p align="center"><b>测试市交通运输局2024年政府信息公开工作年度报告</b></p>
<p>本报告所列数据的统计期限自2024年1月1日起至2024年12月31日止。</p>
<p><b>一、总体情况</b></p><p>2024年，测试市交通运输局收到政府信息公开申请{v['table3']['new'][6]}件。</p>
<p><b>二、主动公开政府信息情况</b></p>{table2_html(v['table2'])}
<p><b>三、收到和处理政府信息公开申请情况</b></p>{table3_html(v['table3'], blanks)}
<p><b>四、政府信息公开行政复议、行政诉讼情况</b></p>{table4_html(v['table4'])}
<p><b>五、存在的主要问题及改进情况</b></p><p>一是公开深度不够；二是解读形式单一。下一步将加强培训，丰富解读形式。</p>
<p><b>六、其他需要报告的事项</b></p><p>本年度未收取信息处理费。</p>
<p align="right">测试市交通运输局</p><p align="right">2025年1月22日</p>"""
    return (f'<html><head><meta http-equiv="Content-Type" content="text/html; charset=gbk">'
            f'<meta name="PubDate" content="2025-01-23 10:00"><title>年报</title></head><body>'
            f'<div class="header">网站首页 | 政务公开</div><div class="TRS_Editor">{body}</div></body></html>')


def test_word_paste_html_with_spans_maps_exactly():
    v = sample_values(21)
    data = page(v).encode("gbk")
    r = parse_bytes(data, url="http://jtj.example.gov.cn/zfxxgk/zfxxgknb/2024n/t20250122_1.html")
    assert r.status is ParseStatus.PARSED, r.warnings
    assert {"table2": r.table2, "table3": r.table3, "table4": r.table4} == expected_json(v)
    assert (r.agency, r.year, r.title) == ("测试市交通运输局", 2024, "测试市交通运输局2024年政府信息公开工作年度报告")
    assert r.published.isoformat() == "2025-01-22"  # the signature, not the page's PubDate
    assert check_report(r) == []


def test_blank_cells_in_html_are_none_and_the_checks_skip_them():
    v = sample_values(22)
    blanks = {"withheld_process_info": (0, 6), "carried_forward": (3,)}
    r = parse_bytes(page(v, blanks).encode("gbk"), url="http://x.gov.cn/a.html")
    assert r.status is ParseStatus.PARTIAL
    assert r.table3["withheld_process_info"][0] is None and r.table3["withheld_process_info"][6] is None
    assert r.table3["carried_forward"][3] is None
    # the other cells of those rows are still in their columns
    assert r.table3["withheld_process_info"][1:6] == v["table3"]["withheld_process_info"][1:6]
    refs = {w.cell for w in r.warnings if w.code == "blank_cell"}
    assert refs == {"table3.withheld_process_info.natural_person", "table3.withheld_process_info.total",
                    f"table3.carried_forward.{TABLE3_COLUMNS[3]}"}
    assert check_report(r) == []
