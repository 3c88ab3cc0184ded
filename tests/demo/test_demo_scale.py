"""Scale mode: a generated portal whose full crawl fetches the announced number of pages."""
from __future__ import annotations

import re
from collections import deque
from urllib.parse import urljoin, urlsplit

import lxml.html

from crawler.demo.portal import build_portal


def crawl(base: str, start: str, get) -> tuple[set[str], int]:
    """A minimal crawl as a report spider would do it: navigation and report links, no other entries."""
    seen, queue, reports = {start}, deque([start]), set()
    fetched = 0
    while queue:
        url = queue.popleft()
        r = get(url)
        assert r.status == 200, url
        fetched += 1
        doc = lxml.html.fromstring(r.body)
        for a in doc.iter("a"):
            href = urljoin(url, a.get("href") or "")
            title = a.get("title") or a.text_content()
            if not href.startswith(base) or href in seen or urlsplit(href).path in ("/", "/index.html"):
                continue
            is_entry = a.get("title") is not None
            if is_entry and "年度报告" not in title:
                continue  # news entries are not fetched
            seen.add(href)
            if is_entry:
                reports.add(href)
            queue.append(href)
    return reports, fetched


def test_scale_portal_page_count_and_reports(get):
    portal = build_portal(pages=300, years=(2023, 2024))
    assert abs(portal.page_count() - 300) <= 2 * len(portal.years) * 2
    with portal.serve() as base:
        reports, fetched = crawl(base, portal.start_url(base), get)
        assert fetched == portal.page_count() - 1  # the home page is not on the crawl path
        assert reports == {u for _, _, u in portal.expected_reports(base)}
        agency, year, url = portal.expected_reports(base)[7]
        page = get(url).text()
        assert agency in page and f"{year}年" in page and "示例数据" in page and "<table" in page
        assert re.search(r'createPageHTML\(1, 0, "index", "html"\)', get(urljoin(url, "../index.html")).text())
        again = get(url, headers={"If-None-Match": get(url).headers["etag"]})
        assert again.status == 304
        assert get(base + "/zwgk/zfxxgknb/2023n/bm/u9999/index.html").status == 404


def test_twenty_thousand_pages_by_default():
    portal = build_portal()
    assert 19900 <= portal.page_count() <= 20100 and len(portal.expected_reports()) >= 9900
