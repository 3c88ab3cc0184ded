"""The 304 path of an incremental night: what it reads, and that it misses nothing.

A 304 on a report page puts the stored bytes back on the response so the spider can re-check the
page's attachments.  The middleware looks the URL's fetch cache up once (the validators it sends
and the version they belong to) and reads that version's blob when the 304 comes, instead of a
second look-up; an unchanged page's attachments are still asked (conditionally), and a page that
did change (200) is read again in full: a new attachment on it is fetched.
"""
from __future__ import annotations

import sys
from pathlib import Path

import pytest
from scrapy.http import HtmlResponse, Request
from scrapy.statscollectors import MemoryStatsCollector
from scrapy.utils.test import get_crawler

sys.path.insert(0, str(Path(__file__).parent))
from minisite import MiniPortal, Resource, report_page  # noqa: E402

from crawl_then_parse import run_crawl  # noqa: E402
from crawler.config import config_from_dict  # noqa: E402
from crawler.middlewares import ConditionalRequestMiddleware  # noqa: E402
from spiders.portal import PortalSpider  # noqa: E402
from storage.db import Store  # noqa: E402


class CountingStore:
    """A store that remembers what the middleware asked of it."""

    def __init__(self, rows: dict[str, dict], blobs: dict[str, bytes]) -> None:
        self.rows, self.blobs = rows, blobs
        self.fetch_cache_calls: list[str] = []
        self.blob_calls: list[str] = []

    def fetch_cache(self, url: str):
        self.fetch_cache_calls.append(url)
        return self.rows.get(url)

    def blob(self, sha256: str):
        self.blob_calls.append(sha256)
        return self.blobs.get(sha256)


def _middleware(store) -> ConditionalRequestMiddleware:
    crawler = get_crawler(PortalSpider, {"NIANBAO_SITES": []})
    if crawler.stats is None:  # (made when a crawl starts)
        crawler.stats = MemoryStatsCollector(crawler)
    crawler._nianbao_store = store
    return ConditionalRequestMiddleware(crawler)


URL = "http://127.0.0.1:1/zwgk/t20250120_1.html"
OLD = report_page("某县教育局2024年政府信息公开工作年度报告", "2025-01-20", ["./P1.pdf"])


def test_a_304_reads_the_blob_of_the_version_its_validators_named_with_one_lookup():
    store = CountingStore({URL: {"etag": '"v1"', "last_modified": None, "sha256": "aa"}}, {"aa": OLD})
    mw = _middleware(store)
    req = Request(URL, meta={"role": "report", "conditional": True})
    assert mw.process_request(req) is None
    assert req.headers[b"If-None-Match"] == b'"v1"'
    resp = mw.process_response(req, HtmlResponse(URL, status=304, body=b"", request=req))
    assert resp.body == OLD
    assert store.fetch_cache_calls == [URL]  # the request's look-up only: none on the 304
    assert store.blob_calls == ["aa"]


def test_a_304_after_a_redirect_reads_the_stored_copy_of_the_url_first_asked():
    other = "http://127.0.0.1:1/zwgk/moved.html"
    store = CountingStore({URL: {"etag": '"v1"', "sha256": "aa"}}, {"aa": OLD})
    mw = _middleware(store)
    req = Request(URL, meta={"role": "report", "conditional": True})
    mw.process_request(req)
    hop = req.replace(url=other, meta={**req.meta, "redirect_urls": [URL]})
    assert mw.process_request(hop) is None  # headers already there: no second look-up here either
    resp = mw.process_response(hop, HtmlResponse(other, status=304, body=b"", request=hop))
    assert resp.body == OLD and store.blob_calls == ["aa"]


def test_an_attachment_304_reads_no_bytes():
    store = CountingStore({URL + ".pdf": {"etag": '"p1"', "sha256": "bb"}}, {"bb": b"%PDF"})
    mw = _middleware(store)
    req = Request(URL + ".pdf", meta={"role": "attachment", "conditional": True})
    mw.process_request(req)
    resp = mw.process_response(req, HtmlResponse(URL + ".pdf", status=304, body=b"", request=req))
    assert resp.body == b"" and store.blob_calls == []


@pytest.mark.timeout(180)
def test_unchanged_pages_keep_their_attachments_checked_and_a_revised_page_brings_its_new_attachment(tmp_path):
    with MiniPortal() as portal:
        cfg = config_from_dict({"crawl": {"download_delay": 0, "autothrottle": False, "timeout": 5, "retries": 1,
                                          "contact": "ops@example.org"},
                                "sites": [{"name": "mini", "region": "某县", "start_url": portal.base + "/zwgk/"}]})
        store = Store(tmp_path / "n.db")
        run_crawl(cfg, store, progress=False)
        # a report page with an attachment, and another one that will be revised with a new one
        with_pdf = sorted(p for p in portal.planted if p.endswith(".html")
                          and any(q.startswith(p.rsplit("/", 1)[0]) and q.endswith(".pdf") for q in portal.planted))
        revised = next(p for p in sorted(portal.planted) if p.endswith(".html") and p not in with_pdf)
        unchanged = with_pdf[0]
        n_log = len(portal.log)
        new_pdf = revised.rsplit("/", 1)[0] + "/P_new_2025.pdf"
        portal.resources[revised] = Resource(
            report_page("某县某局2024年政府信息公开工作年度报告（修订版）", "2025-02-11", ["./P_new_2025.pdf"]),
            last_modified="Tue, 11 Feb 2025 08:00:00 GMT")
        portal.resources[new_pdf] = Resource(b"%PDF-1.4\n% new attachment\n%%EOF\n", "application/pdf")
        second = run_crawl(cfg, store, progress=False)
        night = portal.log[n_log:]
        by_path = {}
        for method, path, headers, status in night:
            by_path.setdefault(path, []).append((headers, status))
        # the unchanged page answered 304 and its attachment was still asked, conditionally
        assert [s for _h, s in by_path[unchanged]] == [304]
        pdfs = [q for q in portal.planted if q.endswith(".pdf") and q.startswith(unchanged.rsplit("/", 1)[0])]
        assert pdfs and all(by_path[q][0][1] == 304 and "If-None-Match" in by_path[q][0][0] for q in pdfs)
        # the revised page was read in full and its new attachment fetched and stored
        assert [s for _h, s in by_path[revised]] == [200]
        assert [s for _h, s in by_path[new_pdf]] == [200]
        assert store.fetch_cache(portal.base + new_pdf) is not None
        assert second.documents_revised == 1 and second.documents_new == 1
        assert len(store.document_versions(portal.base + revised)) == 2
