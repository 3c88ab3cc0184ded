"""Issue 9 item 3: a page is a report when its titles say so, whatever its body holds.

The pages are written from the markup of research/portals.md (§2.4 TRS article chrome, §3.4 Hanweb
索引号 table and downfile.jsp attachments, §4 gkmlpt 名称 table, §7.3 图片版 titles and image-only
tables); the decoys are titles seen in real 年报 columns (§8: 年报说明; 工作要点, 决算, 编制说明).
"""
from __future__ import annotations

import pytest

from crawler.parsing import parse_bytes
from monitor.checks.report import check_report
from storage.models import ParseStatus


def page(title: str, body: str, *, article_title: str | None = None, h1: str | None = None) -> bytes:
    meta = f'<meta name="ArticleTitle" content="{article_title}">' if article_title else ""
    head = f"<h1>{h1}</h1>" if h1 else ""
    return f"""<!DOCTYPE html><html><head><meta charset="utf-8"><title>{title}</title>{meta}
<meta name="PubDate" content="2025-01-21 09:30"></head><body>
<div class="crumb">当前位置：首页 &gt; 政府信息公开 &gt; 公开年报</div>
{head}<div class="info">时间：2025-01-21 来源：</div>
<div class="TRS_Editor">{body}</div>
<div class="footer">【字体：大 中 小】【打印】【关闭】</div></body></html>""".encode("utf-8")


IMAGE_BODY = ('<p style="text-align:center"><img src="./W020250121384756192837.jpg" width="800"></p>'
              '<p style="text-align:center"><img src="./W020250121384756192838.jpg" width="800"></p>')
STUB_BODY = ('<p>详见附件。</p><p>附件：<a href="/module/download/downfile.jsp?classid=0&amp;filename='
             'a3f1c2d4e5b6a7980123456789abcdef.pdf">2024年度报告.pdf</a></p>')
SECTIONS_ONLY = ("<p>一、总体情况</p><p>2024年，我局认真贯彻落实《中华人民共和国政府信息公开条例》。</p>"
                 "<p>二、主动公开政府信息情况</p><p>（见图）</p>")


@pytest.mark.parametrize("title,kw,body,reason", [
    # 图片版 title in <title>, tables as images (海丰县联安镇 2025, 宿州市 2019 图片版)
    ("宿州市人民政府2019年政府信息公开工作年度报告（图片版）_宿州市人民政府", {}, IMAGE_BODY, "tables_are_images"),
    # year-first title in meta ArticleTitle only; a stub pointing at a Hanweb attachment
    ("政府信息公开年报_白渡镇", {"article_title": "2024年白渡镇政府信息公开工作年度报告"}, STUB_BODY,
     "tables_in_attachment"),
    # <h1> only, 年度 doubled (长春市卫生健康委员会 …年度政府信息公开工作年度报告); two headings, no table
    ("信息公开", {"h1": "长春市卫生健康委员会2024年度政府信息公开工作年度报告"}, SECTIONS_ONLY, "tables_absent"),
])
def test_a_page_titled_as_a_report_is_a_report_with_a_finding(title, kw, body, reason):
    r = parse_bytes(page(title, body, **kw), url="http://www.example.gov.cn/zfxxgk/zfxxgknb/202501/t20250121_1.html")
    assert r.status is ParseStatus.PARTIAL, r.error
    assert reason in [w.code for w in r.warnings]
    assert r.year in (2019, 2024) and r.agency
    findings = [f for f in check_report(r) if f.rule == "tables_missing"]
    assert len(findings) == 1 and findings[0].severity == "warning"
    assert findings[0].message.startswith("报告缺少统计表")


def test_the_listing_title_alone_makes_the_page_a_report():
    r = parse_bytes(page("详细信息", IMAGE_BODY), url="http://www.example.gov.cn/info/2381/644672.htm",
                    hints={"link_title": "甘谷县人民政府办公室2024年政府信息公开工作年度报告"})
    assert r.status is ParseStatus.PARTIAL and (r.agency, r.year) == ("甘谷县人民政府办公室", 2024)


@pytest.mark.parametrize("title", [
    "东风区2024年政务公开工作要点_东风区人民政府",
    "东风区财政局2024年部门决算_东风区人民政府",
    "2024年政府信息公开工作年度报告编制说明_东风区人民政府",
    "东风区2024年政务公开工作报告_东风区人民政府",  # 政务公开工作报告 without 信息公开
    "关于2024年政府信息公开工作年度报告的解读_东风区人民政府",
    "无锡经开区政法和应急管理局信息公开年度工作报告说明",
])
def test_decoys_stay_out(title):
    r = parse_bytes(page(title, "<p>根据工作安排，现将有关情况通知如下。</p>", article_title=title),
                    url="http://www.example.gov.cn/zwgk/tzgg/202501/t20250121_2.html")
    assert r.status is ParseStatus.NOT_A_REPORT


def test_a_report_with_tables_gets_no_tables_missing_finding():
    from pathlib import Path

    seed = next((Path(__file__).resolve().parents[1] / "fixtures" / "seeds").glob("002_*.txt"))
    r = parse_bytes(seed.read_bytes(), path=str(seed))
    assert r.cells and "tables_missing" not in [f.rule for f in check_report(r)]
