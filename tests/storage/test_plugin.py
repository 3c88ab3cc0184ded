"""The Datasette plugin and metadata, through Datasette's own in-process client (no browser)."""
from __future__ import annotations

import asyncio
import re

import pytest

from crawler.cli.store import datasette_app
from crawler.serve.datasette_plugin import bar_chart, stacked_chart
from storage.models import (
    TABLE2_LAYOUT, TABLE3_COLUMNS, TABLE3_ROWS, TABLE4_COLUMNS, TABLE4_GROUPS, Cell, CellKind, ParseStatus,
    Report, Source,
)

from storage_helpers import doc, expected, report_from_expected


def _report_2019() -> Report:
    cells = []
    for row, cols in TABLE2_LAYOUT["2019"].items():
        cells += [Cell("table2", row, c, 3, raw="3") for c in cols]
    for i, row in enumerate(TABLE3_ROWS["2019"]):
        cells += [Cell("table3", row, c, i, raw=str(i), kind=CellKind.NUMERIC if i else CellKind.ZERO)
                  for c in TABLE3_COLUMNS]
    cells += [Cell("table4", g, c, None, raw="/", kind=CellKind.NA) for g in TABLE4_GROUPS for c in TABLE4_COLUMNS]
    return Report(source=Source(format="html"), agency="大兴区教育委员会", year=2019, template="2019", cells=cells,
                  text="2019年政府信息公开工作年度报告")


@pytest.fixture
def db(store):
    ids = {}
    for key, report, url in (
        ("001", report_from_expected(expected("001"), text="主动公开信息1657条"), "http://x.gov.cn/001.html"),
        ("2019", _report_2019(), "http://x.gov.cn/2019.html"),
        ("ocr", Report(status=ParseStatus.NEEDS_OCR, error="scanned PDF", agency="大兴区财政局", year=2024),
         "http://x.gov.cn/scan.pdf"),
    ):
        v = store.save_document(doc(url, url.encode()))
        ids[key] = store.save_report(report, version_id=v.version_id, report_url=url, site="daxing")
        store.sync_findings(report.findings, rules=["row_total", "results_total"], report_id=ids[key])
    return store.path, ids


def _get(path, url):
    async def go():
        ds = datasette_app(path)
        await ds.invoke_startup()
        return await ds.client.get(url)
    return asyncio.run(go())


def test_report_page_2021_marks_findings(db):
    path, ids = db
    r = _get(path, f"/-/nianbao/report/{ids['001']}")
    assert r.status_code == 200
    html = r.text
    assert html.count('data-row="') == 25
    assert re.search(r'class="cell flag-error[^"]*" data-ref="table3.unavailable_not_held.natural_person"', html)
    assert re.search(r'class="cell" data-ref="table4.review.total"', html)
    assert 'href="http://x.gov.cn/001.html"' in html and "<svg" in html
    assert "本年新收政府信息公开申请数量" in html  # labels from the labels table
    # the stored bytes can be downloaded from the page even when the source URL is gone
    blob = re.search(r'class="blob-link" href="([^"]+)"', html).group(1)
    assert _get(path, blob).content == b"http://x.gov.cn/001.html"


def test_report_page_links_the_agencys_other_years(store):
    exp = expected("003")
    ids = []
    for year in (2023, 2024):
        r = report_from_expected(exp)
        r.year = year
        v = store.save_document(doc(f"http://x.gov.cn/{year}.html", str(year).encode()))
        ids.append(store.save_report(r, version_id=v.version_id, report_url=f"http://x.gov.cn/{year}.html"))
    html = _get(store.path, f"/-/nianbao/report/{ids[1]}").text
    assert f'<a class="sibling" href="/-/nianbao/report/{ids[0]}">2023</a>' in html and "<strong>2024</strong>" in html


def test_report_page_2019_and_unreadable(db):
    path, ids = db
    html = _get(path, f"/-/nianbao/report/{ids['2019']}").text
    assert html.count('data-row="') == 23 and "（六）其他处理" in html
    assert "本年新制作数量" in html and "采购项目数量" in html  # 2019's Table 二 columns
    assert 'class="cell not-assessable" data-ref="table4.review.total"' in html
    ocr = _get(path, f"/-/nianbao/report/{ids['ocr']}")
    assert ocr.status_code == 200 and "needs_ocr" in ocr.text and "scanned PDF" in ocr.text
    assert 'class="cell missing" data-ref="table3.new.total"' in ocr.text
    assert _get(path, "/-/nianbao/report/999").status_code == 404


def test_overview_canned_queries_and_links(db):
    path, ids = db
    html = _get(path, "/-/nianbao").text
    assert html.count('class="chart"') == 2 and "row_total" in html
    name = path.stem
    rows = _get(path, f"/{name}/balance_failures.json?_shape=array").json()
    assert [r["report_id"] for r in rows] == [ids["001"]]
    rows = _get(path, f"/{name}/search_text.json?_shape=array&q=公开").json()
    assert {r["report_id"] for r in rows} == {ids["001"], ids["2019"]}
    rows = _get(path, f"/{name}/agency_history.json?_shape=array&agency=教育委").json()
    assert [r["report_id"] for r in rows] == [ids["2019"]]
    rows = _get(path, f"/{name}/agency_history.json?_shape=array&agency=区教委").json()  # any spelling
    assert [r["report_id"] for r in rows] == [ids["2019"]]
    findings = _get(path, f"/{name}/findings").text
    assert f'href="/-/nianbao/report/{ids["001"]}"' in findings
    listed = _get(path, f"/{name}/report_list.json?_shape=array&_sort=report_id").json()
    assert [(r["report_id"], r["new_requests"], r["open_findings"]) for r in listed] == [
        (ids["001"], 1, len(expected("001")["inconsistencies"])), (ids["2019"], 0, 0), (ids["ocr"], None, 0)]
    assert f'href="/-/nianbao/report/{ids["001"]}"' in _get(path, f"/{name}/report_list").text
    reports = _get(path, f"/{name}/reports").text
    assert f'href="/-/nianbao/report/{ids["2019"]}"' in reports and "facet-info" in reports
    meta = _get(path, "/-/metadata.json").json()
    assert meta["databases"][name]["tables"]["reports"]["title"] == "报告"
    columns = meta["databases"][name]["tables"]
    assert columns["table3_wide"]["columns"]["natural_person"] == "自然人"
    assert columns["table2_wide"]["columns"]["regulations_in_force"] == "规章 现行有效件数"
    assert columns["table4_wide"]["columns"]["upheld"] == "结果维持"


def test_charts_scale_and_gaps():
    svg = str(bar_chart([("2022", 10), ("2023", None), ("2024", 5)], title="t"))
    heights = [float(h) for h in re.findall(r'<rect [^>]*height="([\d.]+)"', svg)]
    assert len(heights) == 2 and heights[0] == pytest.approx(2 * heights[1])
    assert "—" in svg
    stacked = str(stacked_chart({"2023": {"a": 1, "b": 3}, "2024": {"a": 2}}, title="t"))
    assert stacked.count("<title>") == 3 and ">4<" in stacked  # the tallest bar's total
