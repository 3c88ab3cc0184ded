"""Leaves first (spiders.portal.ROLE_PRIORITY): in a host's queue, a listing's reports and attachments are fetched
before its pager and sub-column links, so that a host does not hold its whole tree's reports pending.

The listing is the TRS fixture of tests/spiders (sub-columns 2024年/2023年, report entries as pages and a
PDF, a createPageHTML pager); the queue is Scrapy's own priority queue with the LIFO memory queue the
scheduler uses.
"""
from __future__ import annotations

from pathlib import Path

from scrapy.http import HtmlResponse, Request
from scrapy.pqueues import ScrapyPriorityQueue
from scrapy.squeues import LifoMemoryQueue
from scrapy.utils.test import get_crawler

from crawler.config import config_from_dict
from crawler.settings import scrapy_settings
from spiders.portal import PortalSpider

FIXTURE = Path(__file__).parents[1] / "spiders" / "fixtures" / "trs_list_4arg.html"
COLUMN = "http://127.0.0.1:8000/zwgk/zfxxgkndbg/"
LEAVES = ("report", "attachment")


def _crawler():
    config = config_from_dict({"database": "x.db", "sites": [{"name": "county", "start_url": COLUMN}]})
    settings = scrapy_settings(config, db_path="x.db", run_id=None, sites=config.sites)
    return get_crawler(PortalSpider, settings)


def _listing_output(crawler) -> list[Request]:
    """The requests the spider yields for the listing."""
    spider = PortalSpider.from_crawler(crawler)
    request = spider._request(COLUMN, spider.sites["county"], "column", tree_depth=1, column_root="/zwgk/")
    response = HtmlResponse(COLUMN, body=FIXTURE.read_bytes(), request=request,
                            headers={"Content-Type": "text/html; charset=utf-8"})
    return [r for r in spider.parse_page(response) if isinstance(r, Request)]


def _pop_order(crawler, requests: list[Request]) -> list[str]:
    queue = ScrapyPriorityQueue.from_crawler(crawler, LifoMemoryQueue, "")
    for r in requests:
        queue.push(r)
    roles = []
    while (r := queue.pop()) is not None:
        roles.append(r.meta["role"])
    return roles


def test_a_listings_reports_and_attachments_leave_the_queue_before_its_pages_and_subcolumns():
    crawler = _crawler()
    requests = _listing_output(crawler)
    roles = _pop_order(crawler, requests)
    assert {"report", "attachment"} <= set(roles) and "column" in roles  # the fixture has all three
    first_listing = next(i for i, role in enumerate(roles) if role not in LEAVES)
    assert all(role not in LEAVES for role in roles[first_listing:]), roles


def test_a_retried_leaf_stays_ahead_of_listings():
    """RetryMiddleware lowers a retried request's priority by 1 (RETRY_PRIORITY_ADJUST): still a leaf first."""
    crawler = _crawler()
    requests = _listing_output(crawler)
    leaf = next(r for r in requests if r.meta["role"] == "report")
    listing = max((r for r in requests if r.meta["role"] not in LEAVES), key=lambda r: r.priority)
    assert leaf.priority + crawler.settings.getint("RETRY_PRIORITY_ADJUST") > listing.priority
