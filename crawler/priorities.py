"""Leaves first: in each host's queue, attachments and report pages go ahead of listings.

Why: a broad crawl is bound by CPU, not by the hosts' delays, so every host of a crawl process is in
progress at once and each holds in the scheduler whatever it has found and not yet fetched.  Scrapy's
queue is LIFO within a priority, and a listing yields its report entries before its pager and
sub-column links, so the links came out first: each host expanded its whole 年报 tree before reading its
reports, and held nearly all its report requests pending at once.  Fetching the leaves of what has been
read first keeps a host's pending requests to roughly one listing's entries.

Nothing a host sees changes but the order of its own requests: the same requests (the dupefilter keeps
the first of two identical ones, as before), the same delay, concurrency and robots.txt.  The order
matters only when ``max_pages_per_site`` cuts a site short: the budget then goes to the reports of the
listings already read rather than to more listings.
"""
from __future__ import annotations

from typing import Any, AsyncIterator, Iterable

from scrapy.http import Request

#: added to ``Request.priority`` by the request's ``meta["role"]`` (spiders.portal names the roles and gives
#: listings 10, reports 5, attachments 6): an attachment ends a branch, a report page yields only
#: attachments, a listing yields many requests.  Added, not set, so the spider's order among the leaves
#: (an attachment before another report) stays, and both come before any listing.
ROLE_PRIORITY = {"attachment": 20, "report": 20}


class LeavesFirstMiddleware:
    """Spider middleware: raises the priority of report and attachment requests (``ROLE_PRIORITY``)."""

    def __init__(self, priorities: dict[str, int] | None = None) -> None:
        self.priorities = dict(ROLE_PRIORITY if priorities is None else priorities)

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler.settings.getdict("NIANBAO_ROLE_PRIORITY") or None)

    def _raise(self, out: Any) -> Any:
        if isinstance(out, Request):
            out.priority += self.priorities.get(out.meta.get("role"), 0)
        return out

    def process_spider_output(self, response, result: Iterable[Any], spider=None):
        for out in result:
            yield self._raise(out)

    async def process_spider_output_async(self, response, result: AsyncIterator[Any], spider=None):
        async for out in result:
            yield self._raise(out)
