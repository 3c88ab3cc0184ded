"""Agency identity through Store: within one site a short printing and its qualified form are one agency."""
from __future__ import annotations

import sqlite_utils

from storage_helpers import doc, expected, report_from_expected


def _save(store, url, agency, printed, *, site, year):
    r = report_from_expected(expected("001"))
    r.agency, r.agency_printed, r.year = agency, printed, year
    v = store.save_document(doc(url, url.encode()))
    return store.save_report(r, version_id=v.version_id, report_url=url, site=site)


def _agency(store, report_id):
    return store.conn.execute("SELECT agency_id FROM reports WHERE id = ?", (report_id,)).fetchone()[0]


def test_the_demos_town_is_one_agency_over_two_years(store):
    # the 2023 report (an image, OCR) prints 威远镇; the 2024 page is qualified to 互助县威远镇 from the site
    store.upsert_site("huzhu", region="互助县")
    a = _save(store, "http://huzhu.gov.cn/2023.htm", "威远镇", "威远镇", site="huzhu", year=2023)
    b = _save(store, "http://huzhu.gov.cn/2024.htm", "互助县威远镇", "威远镇", site="huzhu", year=2024)
    assert _agency(store, a) == _agency(store, b)
    [agency] = store.agencies("huzhu")
    assert agency["region"] == "互助县"  # learnt from the qualified name
    assert set(agency["aliases"]) == {"威远镇", "互助县威远镇"}
    # the printed names stay as evidence on each report
    assert [store.load_report(i).agency_printed for i in (a, b)] == ["威远镇", "威远镇"]
    # a finding naming either form finds the same agency, without creating one
    assert store.find_agency_id("威远镇", site="huzhu") == store.find_agency_id("互助县威远镇", site="huzhu")
    assert store.find_agency_id("威远镇人民政府", site="huzhu") == agency["id"]
    assert len(store.agencies("huzhu")) == 1


def test_qualified_first_then_short(store):
    a = _save(store, "http://wc.gov.cn/1.htm", "武汉市武昌区教育局", "区教育局", site="wc", year=2023)
    b = _save(store, "http://wc.gov.cn/2.htm", "区教育局", "区教育局", site="wc", year=2024)
    assert _agency(store, a) == _agency(store, b)


def test_a_town_and_its_government_are_one(store):
    a = _save(store, "http://df.gov.cn/1.htm", "长安镇人民政府", None, site="df", year=2023)
    b = _save(store, "http://df.gov.cn/2.htm", "长安镇", None, site="df", year=2024)
    assert _agency(store, a) == _agency(store, b)


def test_identity_stays_within_a_site(store):
    a = _save(store, "http://a.gov.cn/1.htm", "互助县威远镇", "威远镇", site="huzhu", year=2023)
    b = _save(store, "http://b.gov.cn/1.htm", "威远镇", "威远镇", site="other", year=2023)
    assert _agency(store, a) != _agency(store, b)


def test_levels_of_the_sites_region_are_one_place(store):
    store.upsert_site("huzhu", region="青海省海东市互助县")
    a = _save(store, "http://huzhu.gov.cn/a.htm", "互助县威远镇", "威远镇", site="huzhu", year=2023)
    b = _save(store, "http://huzhu.gov.cn/b.htm", "海东市威远镇", "威远镇", site="huzhu", year=2024)
    assert _agency(store, a) == _agency(store, b)
    # another district's 教育局 printed with its own region is another agency
    c = _save(store, "http://huzhu.gov.cn/c.htm", "互助县教育局", None, site="huzhu", year=2023)
    d = _save(store, "http://huzhu.gov.cn/d.htm", "大通县教育局", None, site="huzhu", year=2023)
    assert _agency(store, c) != _agency(store, d)


def test_the_fts_index_is_the_one_sqlite_utils_searches(store):
    rid = _save(store, "http://x.gov.cn/1.htm", "互助县威远镇", None, site="x", year=2024)
    store.conn.execute("UPDATE report_text SET text = '本机关全年收到政府信息公开申请12件' WHERE report_id = ?", (rid,))
    db = sqlite_utils.Database(store.conn, recursive_triggers=False, execute_plugins=False)
    assert db["report_text"].detect_fts() == "report_text_fts"
    assert [r["report_id"] for r in db["report_text"].search("政府信息公开申请")] == [rid]
    assert [r["report_id"] for r in store.search("政府信息公开申请")] == [rid]


def test_upsert_site_keeps_what_a_call_does_not_state(store):
    sid = store.upsert_site("huzhu", region="互助县", start_url="http://huzhu.gov.cn/")
    assert store.upsert_site("huzhu", start_url="http://huzhu.gov.cn/xxgk/") == sid
    assert store.site_region("huzhu") == "互助县"
    row = store.conn.execute("SELECT region, start_url FROM sites WHERE id = ?", (sid,)).fetchone()
    assert tuple(row) == ("互助县", "http://huzhu.gov.cn/xxgk/")
    assert store.upsert_site("other") != sid and store.site_region("other") is None
