"""Portal layouts from ../shared/research/portals.md that a cold review found the crawler mishandled
(6 Dec 2026): markup written from the research, each on a real local server, each crawl a real
Scrapy process over a real SQLite file.

- gkmlpt (§4): the 政务公开 page links the directory (/gkmlpt/index) before the 年报 category
  (/gkmlpt/index#2811); the dupefilter, which ignores fragments, dropped the category;
- report titles whose agency's own name holds a word that marks notes and news (新闻出版, 机构编制);
- a numbered pager ("1 2 … 300", §2.2, §6) that went round crawl.max_listing_pages;
- a dead menu link (§9: dead directories after redesigns) that marked the site failing;
- a frameset home page, and a site that yields nothing said apart from a site that is fine.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import sqlite_utils

sys.path.insert(0, str(Path(__file__).parent))
from minisite import MiniPortal, Resource, page, report_page  # noqa: E402

from crawler.config import config_from_dict  # noqa: E402
from crawler.crawl import run_crawl  # noqa: E402
from spiders.platforms import gkmlpt  # noqa: E402
from storage.db import Store  # noqa: E402

pytestmark = pytest.mark.timeout(180)

NAV = '<div class="nav"><a href="/">首页</a><a href="/zwgk/">政务公开</a><a href="/zwfw/">政务服务</a></div>'


def _config(base: str, start: str = "/", **crawl):
    c = {"download_delay": 0, "autothrottle": False, "timeout": 5, "retries": 0, "contact": "ops@example.org"}
    c.update(crawl)
    return config_from_dict({"crawl": c, "sites": [{"name": "site", "region": "某区", "start_url": base + start}]})


def _documents(store: Store) -> set[str]:
    return {r["url"] for r in sqlite_utils.Database(store.path)["documents"].rows}


def _fetches(store: Store, run_id: int) -> dict[str, str]:
    db = sqlite_utils.Database(store.path)
    return {r["url"]: r["fetch_status"] for r in db["fetches"].rows_where("run_id = ?", [run_id])}


# -- gkmlpt: the directory and its 年报 category, linked from the same page -----------------------
def _gkmlpt_site() -> tuple[dict[str, Resource], set[str]]:
    r: dict[str, Resource] = {}
    r["/"] = Resource(page("广州市花都区人民政府", NAV))
    r["/zwgk/"] = Resource(page("政务公开", NAV + '<ul class="gk"><li><a href="/gkmlpt/index">政府信息公开目录</a></li>'
                                              '<li><a href="/xxgk/xxgkzn/">政府信息公开指南</a></li>'
                                              '<li><a href="/gkmlpt/index#2811">政府信息公开年报</a></li></ul>'))
    r["/xxgk/xxgkzn/"] = Resource(page("指南", "<p>政府信息公开指南</p>"))
    r["/gkmlpt/index"] = Resource(page("政府信息公开目录", "<div id='app'></div><script>window._CONFIG = "
                                                     "{SID: '755031', API_BASE: '/gkmlpt/api'};</script>"))
    arts, planted = [], set()
    for i, unit in enumerate(("人民政府办公室", "发展和改革局", "教育局", "新雅街道办事处")):
        path = f"/gkmlpt/content/4/4688/post_{4688997 + 11 * i}.html"
        title = f"广州市花都区{unit}2024年政府信息公开工作年度报告"
        r[path] = Resource(report_page(title, f"2025-01-{20 + i}"))
        planted.add(path)
        arts.append({"id": 4688997 + 11 * i, "title": title, "url": path, "publisher": unit,
                     "create_time": 1737331200 + i * 86400})
    r["__articles__"] = Resource(json.dumps(arts, ensure_ascii=False).encode())
    return r, planted


def _serve_gkmlpt_api(portal: MiniPortal) -> None:
    arts = json.loads(portal.resources["__articles__"].body)

    def api(q, form):
        ok = q.get("sid") == "755031"
        page_no = int(q.get("page", 1))
        body = {"total": len(arts) if ok else 0, "articles": arts[(page_no - 1) * 3: page_no * 3] if ok else []}
        return Resource(json.dumps(body, ensure_ascii=False).encode(), "application/json")

    portal.routes["/gkmlpt/api/all/2811"] = api


def test_gkmlpt_category_linked_after_its_directory_is_still_listed(tmp_path):
    resources, planted = _gkmlpt_site()
    with MiniPortal(resources) as portal:
        _serve_gkmlpt_api(portal)
        store = Store(tmp_path / "n.db")
        run_crawl(_config(portal.base), store, progress=False)
        assert {portal.base + p for p in planted} <= _documents(store)
        # both API pages read, each once
        asked = [p for _m, p, _h, _c in portal.log if p.startswith("/gkmlpt/api/all/2811")]
        assert sorted(asked) == sorted(set(asked)) and len(asked) == 2
        store.close()


def test_gkmlpt_epoch_times_are_dates_in_beijing():
    """1738339260 is 2025-02-01 00:01 in Beijing (31 January 16:01 UTC): published a day late."""
    assert gkmlpt._date({"create_time": 1738339260}) == "2025-02-01"
    assert gkmlpt._date({"create_time": 1738339140}) == "2025-01-31"  # 23:59 in Beijing
    assert gkmlpt._date({"create_time": 1738339260000}) == "2025-02-01"  # milliseconds
    assert gkmlpt._date({"create_time": 10**30}) is None  # a hostile number loses the date only


# -- titles: the agency's own name is not a note about a report -----------------------------------
@pytest.mark.parametrize("title", [
    "九江市濂溪区文化广电新闻出版旅游局2024年政府信息公开工作年度报告",
    "某县机构编制委员会办公室2023年政府信息公开工作年度报告",
    "某市人民政府新闻办公室2024年政府信息公开工作年度报告",
    "某市会议中心2024年政府信息公开工作年度报告",
    "某区绩效考核办公室2024年度政府信息公开工作年度报告",
    "2024年某市新闻办公室政府信息公开工作年度报告",
    "2024年政府信息公开工作年度报告（县委机构编制委员会办公室）",
    "2024年政府信息公开工作年度报告（区绩效考核办）",
])
def test_a_unit_named_with_a_note_word_keeps_its_report(title):
    from spiders.titles import is_report_title

    assert is_report_title(title)


@pytest.mark.parametrize("title", [
    "关于某县2024年政府信息公开工作年度报告的说明",
    "某县2024年政府信息公开工作年度报告解读",
    "图解：某县2024年政府信息公开工作年度报告",
    "某县召开2024年政府信息公开工作年度报告编制培训会",
    "关于做好2024年政府信息公开工作年度报告编制发布工作的通知",
    "某市2024年政府信息公开工作年度报告评估结果情况通报",
    "新闻：某县发布2024年政府信息公开工作年度报告",
    "某县新闻发布会通报2024年政府信息公开工作年度报告",
    "一图看懂某县2024年政府信息公开工作年度报告",
])
def test_notes_news_and_notices_about_a_report_are_still_not_reports(title):
    from spiders.titles import is_report_title

    assert not is_report_title(title)


# -- a numbered pager -------------------------------------------------------------------------
def _numbered_listing(pages: int) -> dict[str, Resource]:
    r = {"/": Resource(page("某县人民政府", NAV)),
         "/zwgk/": Resource(page("政务公开", NAV + '<a href="/zwgk/zfxxgknb/">政府信息公开年报</a>'))}
    pager = " ".join(f'<a href="/zwgk/zfxxgknb/{"index" if n == 1 else f"index_{n - 1}"}.html">{n}</a>'
                     for n in range(1, pages + 1))
    for n in range(1, pages + 1):
        path = "/zwgk/zfxxgknb/" + ("" if n == 1 else f"index_{n - 1}.html")
        rel = f"t2025012{n % 10}_{n}.html"
        item = f'<li><a href="./{rel}">某县第{n}局2024年政府信息公开工作年度报告</a><span>2025-01-20</span></li>'
        r[f"/zwgk/zfxxgknb/{rel}"] = Resource(report_page(f"某县第{n}局2024年政府信息公开工作年度报告", "2025-01-20"))
        r[path] = Resource(page("政府信息公开年报", f"<ul>{item}</ul><div class='page'>{pager}</div>"))
    r["/zwgk/zfxxgknb/index.html"] = r["/zwgk/zfxxgknb/"]
    return r


def test_a_numbered_pager_is_read_page_by_page_within_max_listing_pages(tmp_path):
    with MiniPortal(_numbered_listing(60)) as portal:
        store = Store(tmp_path / "n.db")
        summary = run_crawl(_config(portal.base, max_listing_pages=10), store, progress=False)
        listing = {p for _m, p, _h, _c in portal.log if p.startswith("/zwgk/zfxxgknb/")
                   and "t2025" not in p}
        assert 9 <= len(listing) <= 11  # page 1 (and its index.html alias), then 9 more
        assert "cap_listing_pages" in summary.sites["site"].failures  # the cut is said
        store.close()


def test_a_listing_of_exactly_max_listing_pages_pages_is_read_whole(tmp_path):
    with MiniPortal(_numbered_listing(10)) as portal:
        store = Store(tmp_path / "n.db")
        summary = run_crawl(_config(portal.base, max_listing_pages=10), store, progress=False)
        reports = {portal.base + f"/zwgk/zfxxgknb/t2025012{n % 10}_{n}.html" for n in range(1, 11)}
        assert reports <= _documents(store)
        assert summary.sites["site"].status == "ok", summary.sites["site"].failures
        store.close()


def test_numbers_outside_the_tree_are_no_pager_and_in_page_anchors_are_not_fetched_again(tmp_path):
    """A home page's carousel numbers its slides (articles); a column page has tab anchors."""
    resources, report = _tree_with_dead_menu_link()
    resources["/"] = Resource(page("某县人民政府", NAV + '<div class="slide"><a href="/art/2024/12/1/art_1_1.html">1</a>'
                                                    '<a href="/art/2024/12/2/art_1_2.html">2</a>'
                                                    '<a href="/art/2024/12/3/art_1_3.html">3</a></div>'))
    resources["/zwgk/zfxxgknb/"] = Resource(page("政府信息公开年报", '<a href="#bm">部门</a> <a href="#content">跳至正文</a>'
                                                 '<ul><li><a href="./202501/t20250120_1.html">'
                                                 '某县人民政府2024年政府信息公开工作年度报告</a></li></ul>'))
    with MiniPortal(resources) as portal:
        store = Store(tmp_path / "n.db")
        run_crawl(_config(portal.base), store, progress=False)
        assert portal.base + report in _documents(store)
        paths = [p for _m, p, _h, _c in portal.log]
        assert not [p for p in paths if p.startswith("/art/")]
        assert paths.count("/zwgk/zfxxgknb/") == 1
        store.close()


def test_a_trs_page_without_a_script_pager_is_read_through_its_numbered_links(tmp_path):
    r = _numbered_listing(3)
    for path, res in list(r.items()):
        if path.startswith("/zwgk/zfxxgknb/") and "t2025" not in path:  # TRS markup, pager in static HTML
            r[path] = Resource(res.body.replace(b"<ul>", b'<div class="TRS_Editor"></div><ul>'))
    with MiniPortal(r) as portal:
        store = Store(tmp_path / "n.db")
        run_crawl(_config(portal.base), store, progress=False)
        reports = {portal.base + f"/zwgk/zfxxgknb/t2025012{n % 10}_{n}.html" for n in range(1, 4)}
        assert reports <= _documents(store)
        store.close()


def test_a_short_numbered_pager_is_read_to_its_end(tmp_path):
    with MiniPortal(_numbered_listing(4)) as portal:
        store = Store(tmp_path / "n.db")
        summary = run_crawl(_config(portal.base), store, progress=False)
        reports = {portal.base + f"/zwgk/zfxxgknb/t2025012{n % 10}_{n}.html" for n in range(1, 5)}
        assert reports <= _documents(store)
        assert summary.sites["site"].status == "ok"
        store.close()


# -- a dead menu link; a frameset; a site that yields nothing -------------------------------------
def _tree_with_dead_menu_link() -> tuple[dict[str, Resource], str]:
    report = "/zwgk/zfxxgknb/202501/t20250120_1.html"
    r = {"/": Resource(page("某县人民政府", NAV)),
         "/zwgk/": Resource(page("政务公开", NAV + '<a href="/zwgk/zdlyxxgk/">重点领域信息公开</a> '
                                               '<a href="/zwgk/zfxxgknb/">政府信息公开年报</a>')),
         "/zwgk/zfxxgknb/": Resource(page("政府信息公开年报", '<ul><li><a href="./202501/t20250120_1.html">'
                                                          '某县人民政府2024年政府信息公开工作年度报告</a></li></ul>')),
         report: Resource(report_page("某县人民政府2024年政府信息公开工作年度报告", "2025-01-20"))}
    return r, report


def test_a_dead_menu_link_on_the_way_is_a_dead_end_not_a_failing_site(tmp_path):
    resources, report = _tree_with_dead_menu_link()
    with MiniPortal(resources) as portal:
        store = Store(tmp_path / "n.db")
        summary = run_crawl(_config(portal.base), store, progress=False)
        assert portal.base + report in _documents(store)
        site = summary.sites["site"]
        assert site.status == "ok" and not site.failures, site.failures
        assert site.skipped.get("nav_dead_end") == 1
        assert _fetches(store, summary.run_id)[portal.base + "/zwgk/zdlyxxgk/"] == "nav_dead_end"
        store.close()


def test_a_dead_configured_start_url_is_still_a_failure(tmp_path):
    resources, _ = _tree_with_dead_menu_link()
    with MiniPortal(resources) as portal:
        store = Store(tmp_path / "n.db")
        summary = run_crawl(_config(portal.base, start="/old/zwgk/"), store, progress=False)
        assert summary.sites["site"].failures == {"http_404": 1}
        assert summary.sites["site"].found_no_report
        store.close()


def test_a_frameset_home_page_leads_to_the_reports(tmp_path):
    resources, report = _tree_with_dead_menu_link()
    resources["/"] = Resource('<html><head><meta charset="utf-8"><title>某县人民政府</title></head>'
                              '<frameset rows="120,*"><frame src="/top.html" name="top">'
                              '<frame src="/main.html" name="main"></frameset></html>'.encode())
    resources["/top.html"] = Resource(page("top", "<img src='/logo.png'>"))
    resources["/main.html"] = Resource(page("某县人民政府", '<iframe src="/menu.html"></iframe><p>欢迎</p>'))
    resources["/menu.html"] = Resource(page("menu", '<a href="/zwgk/">政务公开</a>'))
    with MiniPortal(resources) as portal:
        store = Store(tmp_path / "n.db")
        summary = run_crawl(_config(portal.base), store, progress=False)
        assert portal.base + report in _documents(store)
        assert not summary.sites["site"].found_no_report
        store.close()


def test_a_site_robots_txt_forbids_is_said_to_have_given_no_report(tmp_path):
    resources, _ = _tree_with_dead_menu_link()
    resources["/robots.txt"] = Resource(b"User-agent: *\nDisallow: /\n", "text/plain")
    with MiniPortal(resources) as portal:
        store = Store(tmp_path / "n.db")
        summary = run_crawl(_config(portal.base, obey_robots=True), store, progress=False)
        site = summary.sites["site"]
        assert site.status == "ok" and site.found_no_report
        assert "! site: no report found" in summary.render()
        store.close()


def test_reading_a_listing_s_links_grows_linearly_with_its_links():
    """A flat pager of 10,000 links (a hostile listing): libxml2 evaluates //a[@href] in time
    quadratic in the siblings (0.7 s a page); the links are read in linear time."""
    import time

    from spiders.platforms import anchors, generic, selector

    def cost(n: int) -> float:
        html = ("<html><body><ul><li><a href='t1.html'>某县2024年政府信息公开工作年度报告</a></li></ul>"
                + " ".join(f"<a href='index_{i}.html'>{i}</a>" for i in range(1, n + 1)) + "</body></html>")
        best = float("inf")
        for _ in range(3):
            sel = selector(html)
            t = time.process_time()
            anchors(sel, "http://x.gov.cn/zwgk/nb/index.html")
            generic.next_urls(html, "http://x.gov.cn/zwgk/nb/index.html")
            best = min(best, time.process_time() - t)
        return best

    small, big = cost(1_000), cost(10_000)
    assert big < 30 * max(small, 1e-4), (small, big)  # 10x the links: ~10x the time, not ~100x
