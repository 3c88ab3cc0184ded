"""The printed agency name is kept beside the qualified one and ties the two in the agency roster."""
from __future__ import annotations

from crawler.ingest import ingest_document
from storage.models import Report, Source

from storage_helpers import doc, expected, report_from_expected, stage

PAGE = """<html><head><meta charset="utf-8"><title>区教育局2024年政府信息公开工作年度报告</title></head><body>
<div class="info">发布时间：2025-01-17 来源：区教育局</div>
<div class="TRS_Editor"><p>一、总体情况</p><p>2024年，区教育局严格落实政府信息公开条例。</p>
<p>二、主动公开政府信息情况</p><p>见表。</p><p>五、存在的主要问题及改进情况</p><p>公开形式较单一。</p>
</div></body></html>"""


def test_printed_name_is_stored_and_is_an_alias(store):
    r = report_from_expected(expected("001"))
    r.agency, r.agency_printed = "武汉市武昌区教育局", "区教育局"
    v = store.save_document(doc("http://wuchang.gov.cn/1.html", b"one"))
    rid = store.save_report(r, version_id=v.version_id, report_url="http://wuchang.gov.cn/1.html", site="wuchang")
    back = store.load_report(rid)
    assert (back.agency, back.agency_printed) == ("武汉市武昌区教育局", "区教育局")
    agency_id = store.conn.execute("SELECT agency_id FROM reports WHERE id = ?", (rid,)).fetchone()[0]
    # a later report (or finding) naming the agency by its short printing finds the same agency
    assert store.agency_id("区教育局", site="wuchang") == agency_id
    assert store.agency_id("武汉市武昌区教育局", site="wuchang") == agency_id
    assert store.agency_id("区教育局", site="other") != agency_id  # another portal's 区教育局 is another agency


def test_ingest_qualifies_with_the_sites_configured_region(store):
    store.upsert_site("wuchang", region="武汉市武昌区")
    d = doc("http://wuchang.gov.cn/2.html", PAGE.encode("utf-8"))
    d.content_type, d.site = "text/html", "wuchang"
    results, _ = stage(store, [d])  # stored with the site, then the parse stage reads it
    back = store.load_report(results[d.url].report_id)
    assert back.agency == "武汉市武昌区教育局" and back.agency_printed == "区教育局"
    assert back.year == 2024 and str(back.published) == "2025-01-17"


def test_json_carries_both_names():
    r = Report(source=Source(), agency="上海市人民政府", agency_printed="上海市")
    j = r.to_json()
    assert j["agency"] == "上海市人民政府" and j["agency_printed"] == "上海市"
