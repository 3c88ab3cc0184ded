"""The Scrapy side of a crawl node of a shared crawl (crawler/frontier.py says what is shared and why).

Kept apart from crawler/frontier.py so that the ingest worker and the CLI never import Scrapy, and so that
building a node's settings does not install a Twisted reactor before Scrapy picks its own.
"""
from __future__ import annotations

import logging
import time

from scrapy.core.downloader.handlers.http11 import HTTP11DownloadHandler
from scrapy.downloadermiddlewares.robotstxt import RobotsTxtMiddleware
from scrapy.exceptions import IgnoreRequest
from scrapy.http import Request, Response
from scrapy.http.request import NO_CALLBACK
from scrapy.utils.defer import maybe_deferred_to_future
from scrapy.utils.httpobj import urlparse_cached
from scrapy_redis.pipelines import RedisPipeline
from scrapy_redis.queue import PriorityQueue
from scrapy_redis.scheduler import Scheduler
from twisted.internet.defer import Deferred
from twisted.internet.threads import deferToThread

from crawler.middlewares import UrlPolicyMiddleware, _sleep
from spiders import hostile
from spiders.hostile import FetchRecord
from storage.models import Document

from crawler.frontier import (ROBOTS_MAX_BYTES, Frontier, FrontierSettings, JsonRequestCodec, encode_control,
                              encode_item)

logger = logging.getLogger(__name__)


def frontier_for(crawler) -> Frontier:
    """The crawl's Frontier (one per process, shared by the components below)."""
    f = getattr(crawler, "_nianbao_frontier", None)
    if f is None:
        f = Frontier(FrontierSettings(**crawler.settings.getdict("NIANBAO_FRONTIER")["settings"]))
        crawler._nianbao_frontier = f
    return f


class FrontierNode:
    """Extension: joins the shared crawl, beats, decides when an idle node may close, leaves.

    A node whose queue is empty does not close while another node is busy (that node's pages may yield new
    requests); a node marks itself busy before it takes a request (``FrontierScheduler``), so a node that
    sees the queue empty and every other node idle knows that nobody holds work.
    """

    HEARTBEAT_S = 10.0

    def __init__(self, crawler) -> None:
        from scrapy import signals

        self.crawler = crawler
        self.frontier = frontier_for(crawler)
        self.generation = self.frontier.join()
        crawler.stats.set_value("nianbao/frontier/generation", self.generation)
        crawler.stats.set_value("nianbao/frontier/node", self.frontier.node)
        logger.info("crawl node %s joined %s (job %s, generation %d)", self.frontier.node,
                    self.frontier.shown_url, self.frontier.settings.job, self.generation)
        self.task = None
        self.requeue()  # what a node that died had taken
        crawler.signals.connect(self.opened, signal=signals.spider_opened)
        crawler.signals.connect(self.idle, signal=signals.spider_idle)
        crawler.signals.connect(self.closed, signal=signals.spider_closed)

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler)

    def opened(self, spider) -> None:
        from twisted.internet import task

        self.task = task.LoopingCall(self._beat)
        # at least three beats per node_timeout, so a live node is never taken for a dead one
        self.task.start(min(self.HEARTBEAT_S, self.frontier.settings.node_timeout_s / 3), now=False)

    def _beat(self) -> None:
        try:
            self.frontier.heartbeat()  # this node's leases extended with it
            self.requeue()
        except Exception as e:  # a lost beat is retried in 10 s; the crawl goes on
            logger.warning("frontier heartbeat failed: %s", e)

    def requeue(self) -> None:
        """Requests taken by nodes that stopped beating back into the queue; those taken ``max_lease_tries``
        times by nodes that all died are given up, each with a fetch record that says so."""
        f = self.frontier
        back, failed = f.requeue_expired()
        if back:
            self.crawler.stats.inc_value("nianbao/frontier/leases_requeued", back)
            logger.warning("%s: %d requests taken by crawl nodes that stopped beating are queued again",
                           f.shown_url, back)
        for data in failed:
            self.crawler.stats.inc_value("nianbao/frontier/leases_given_up")
            try:
                req = JsonRequestCodec.loads(data)
                url, meta = str(req["url"]), req.get("meta") or {}
            except (ValueError, AttributeError, KeyError, TypeError):
                req, url, meta = {}, "?", {}
            n = f.settings.max_lease_tries
            logger.error("%s: %s given up: taken %d times by crawl nodes that stopped before it was done",
                         f.shown_url, url, n)
            f.push(encode_item(FetchRecord(
                url=url, site=meta.get("site"), role=str(meta.get("role") or "page"), http_status=None,
                fetch_status=hostile.ERROR, method=str(req.get("method") or "GET"),
                error=f"taken {n} times by crawl nodes that each stopped before it was done (frontier lease "
                      f"expired {n} times): given up"), generation=self.generation, node=f.node))

    def idle(self, spider) -> None:
        from scrapy.exceptions import DontCloseSpider

        self.requeue()
        if self.frontier.held:  # the engine is idle: a lease still held was not dropped (a Redis error)
            n = self.frontier.hand_back()
            logger.warning("%s: %d leases left held by an idle node handed back", self.frontier.shown_url, n)
        verdict = self.frontier.idle()
        if verdict != "done":
            self.crawler.stats.inc_value(f"nianbao/frontier/idle_{verdict}")
            raise DontCloseSpider(verdict)

    def closed(self, spider, reason) -> None:
        if self.task is not None and self.task.running:
            self.task.stop()
        from crawler.crawl import _json_safe

        f = self.frontier
        try:
            back = f.hand_back()  # taken and not done (a node stopped early): for the other nodes
            if back:
                self.crawler.stats.inc_value("nianbao/frontier/leases_handed_back", back)
        except Exception as e:  # their leases expire by themselves
            logger.error("%s: could not hand back the requests of crawl node %s: %s", f.shown_url, f.node, e)
        stats = _json_safe(self.crawler.stats.get_stats())
        try:
            f.push(encode_control("stats", generation=self.generation, node=f.node, stats=stats, reason=reason))
            if f.leave():
                f.push(encode_control("end", generation=self.generation, node=f.node))
                logger.info("crawl node %s was the last: generation %d finished", f.node, self.generation)
        except Exception as e:
            logger.error("%s: could not report the end of crawl node %s: %s", f.shown_url, f.node, e)


LEASE_META = "frontier_lease"


class LeasedPriorityQueue(PriorityQueue):
    """scrapy-redis's priority queue, whose pop also leases the request to this node (``Frontier.take``,
    one atomic script): a node that dies before the request is done leaves it to be queued again."""

    def __init__(self, server, spider, key, serializer=None) -> None:
        super().__init__(server, spider, key, serializer)
        self.frontier = frontier_for(spider.crawler)

    def pop(self, timeout=0):
        while True:  # each turn removes one entry from the queue: it ends
            data = self.frontier.take()
            if data is None:
                return None
            lease = self.frontier.last_lease
            try:
                request = self._decode_request(data)
            except Exception as e:  # whatever the cause, these bytes never make a request: set aside, not retried
                reason = f"{type(e).__name__}: {e}"[:500]
                failed = self.frontier.fail(lease, data, reason)
                self.spider.crawler.stats.inc_value("nianbao/frontier/requests_undecodable")
                logger.warning("%s: a request queued in %s cannot be decoded (%s): moved to %s",
                               self.frontier.shown_url, self.key, reason, failed)
                continue
            request.meta[LEASE_META] = lease
            return request


class FrontierScheduler(Scheduler):
    """scrapy-redis's Scheduler, which also marks this node busy before it takes a request (and counts in
    the stats without the ``spider`` argument Scrapy deprecates), and drops a request's lease once Scrapy's
    engine is done with it."""

    @classmethod
    def from_crawler(cls, crawler):
        inst = super().from_crawler(crawler)
        inst.frontier = frontier_for(crawler)
        inst.crawler = crawler
        inst.counts, inst.stats = inst.stats, None
        return inst

    def open(self, spider):
        out = super().open(spider)
        # The engine drops a request from its in-progress set (``_Slot.remove_request``) once the download,
        # the callback or errback, every item through the pipelines (pushed to Redis) and every new request
        # (queued in Redis) are done: then, and not before, the lease may go.  Scrapy has no public signal
        # for that moment (response_received and request_left_downloader come before the callback), so the
        # method is wrapped; a Scrapy without it stops the node here rather than lose requests silently.
        slot = getattr(self.crawler.engine, "_slot", None)
        original = getattr(slot, "remove_request", None)
        if original is None:
            raise RuntimeError("this Scrapy version has no ExecutionEngine._slot.remove_request: the frontier "
                               "cannot tell when a request is done (tested with Scrapy 2.19)")
        frontier = self.frontier

        def remove_request(request):
            try:
                original(request)
            finally:
                lease = request.meta.get(LEASE_META)
                if lease is not None:
                    try:
                        frontier.done(lease)
                    except Exception as e:  # the lease expires and the request is fetched again
                        logger.warning("%s: could not drop the lease of %s: %s", frontier.shown_url,
                                       request.url, e)

        slot.remove_request = remove_request
        return out

    def enqueue_request(self, request):
        queued = super().enqueue_request(request)
        if queued:
            self.counts.inc_value("scheduler/enqueued/redis")
        return queued

    def next_request(self):
        if self.frontier.state != "busy":
            self.frontier.mark("busy")  # before the pop: see FrontierNode
        request = super().next_request()
        if request is not None:
            self.counts.inc_value("scheduler/dequeued/redis")
        return request


class SharedPoliteness:
    """Per-host politeness across every node (``Frontier.claim``): sends to one host ``delay`` apart, and at
    most ``crawl.concurrent_per_domain`` of its requests in flight from all nodes together.  One per crawl
    process, used where a request is really sent: the download handler (HTTP) and, for ``fetch: browser``
    sites, just before the browser middleware."""

    def __init__(self, crawler) -> None:
        from scrapy import signals

        self.crawler = crawler
        conf = crawler.settings.getdict("NIANBAO_FRONTIER")
        self.delays: dict[str, float] = conf.get("delays") or {}
        self.default_delay = float(conf.get("default_delay") or 0.0)
        self.cap = int(conf.get("concurrency") or 0)
        self.timeout = crawler.settings.getfloat("DOWNLOAD_TIMEOUT", 180.0)
        self.frontier = frontier_for(crawler)
        self.crawl_delays: dict[str, float] = {}
        crawler.signals.connect(self.robots_parsed, signal=signals.robots_parsed)

    def robots_parsed(self, robotparser, request) -> None:
        ua = self.crawler.settings.get("ROBOTSTXT_USER_AGENT") or self.crawler.settings.get("USER_AGENT")
        try:
            delay = robotparser.crawl_delay(ua)
        except Exception:
            delay = None
        if delay:
            self.crawl_delays[_host_key(request.url)] = float(delay)

    def delay_for(self, request) -> float:
        host = _host_key(request.url)
        delay = self.delays.get(host, self.default_delay)
        if not request.meta.get("dont_obey_robotstxt"):
            delay = max(delay, self.crawl_delays.get(host, 0.0))
        try:
            slot = self.crawler.engine.downloader.slots.get(request.meta.get("download_slot") or host)
        except (AttributeError, RuntimeError):  # no engine yet
            slot = None
        if slot is not None and self.default_delay > 0:  # AutoThrottle raised it for a slow host
            delay = max(delay, float(getattr(slot, "delay", 0.0) or 0.0))
        return delay

    async def acquire(self, request, bound_s: float = 0.0) -> tuple[str, str | None]:
        """Wait until ``request`` may be sent; (host, slot token to give to ``release``).  ``bound_s``: the
        longest the send may take when that is more than Scrapy's download timeout (a browser fetch)."""
        host = _host_key(request.url)
        delay = self.delay_for(request)
        if delay <= 0 and self.cap <= 0:
            return host, None
        # the slot outlives the longest send (Scrapy's timeout, or a browser fetch's bound), so that a dead
        # node's slot frees itself and a live node's does not free while it still sends
        hold = max(float(request.meta.get("download_timeout") or self.timeout), bound_s) + 10.0
        waited = 0.0
        while True:
            wait, token, why = self.frontier.claim(host, delay, self.cap, hold)
            if wait <= 0:
                break
            if why == "slots":  # the host has `cap` requests in flight from the nodes together
                self.crawler.stats.inc_value("nianbao/frontier/slot_waits")
            waited += wait
            await _sleep(wait)
        if waited:
            self.crawler.stats.inc_value("nianbao/frontier/delay_wait_s", waited)
        return host, token

    def release(self, host: str, token: str | None) -> None:
        try:
            self.frontier.release_slot(host, token)
        except Exception as e:  # the slot expires by itself
            logger.warning("%s: could not free a slot of %s: %s", self.frontier.shown_url, host, e)


def politeness_for(crawler) -> SharedPoliteness:
    p = getattr(crawler, "_nianbao_politeness", None)
    if p is None:
        p = crawler._nianbao_politeness = SharedPoliteness(crawler)
    return p


class SharedDelayDownloadHandler:
    """http/https download handler: Scrapy's HTTP/1.1 handler, after ``SharedPoliteness.acquire``.  It runs at
    send time, inside the node's slot, so neither the node's own delay, jitter and concurrency nor a late
    wake-up can bring two sends closer; the host's slot is held until the download ends.  A request that
    holds the browser slot already (``BROWSER_SLOT_META``) is sent without a second claim."""

    lazy = False

    def __init__(self, crawler) -> None:
        self.inner = HTTP11DownloadHandler(crawler)
        self.politeness = politeness_for(crawler)

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler)

    async def download_request(self, request):
        if BROWSER_SLOT_META in request.meta:
            # a fetch: browser site's request that reached HTTP (no Playwright): SharedBrowserPolitenessMiddleware
            # holds its slot and delay already; a second claim would wait a delay more, and with
            # concurrent_per_domain 1 for its own slot until that expired
            return await self.inner.download_request(request)
        host, token = await self.politeness.acquire(request)
        try:
            return await self.inner.download_request(request)
        finally:
            self.politeness.release(host, token)

    async def close(self) -> None:
        await self.inner.close()


BROWSER_SLOT_META = "frontier_browser_slot"


class SharedBrowserPolitenessMiddleware:
    """``fetch: browser`` sites: their requests never reach the download handler (Chromium answers them in
    crawler.browser.BrowserFetchMiddleware, the next middleware), so the shared delay and slot are taken here
    and given back when the answer (or the error) comes back through this middleware."""

    def __init__(self, crawler, sites: set[str]) -> None:
        from crawler.browser import fetch_bound_s

        self.sites = sites
        self.politeness = politeness_for(crawler)
        # a challenged fetch (fetch, challenge page, fetch again) outlives one download timeout
        self.bound_s = fetch_bound_s(crawler.settings)

    @classmethod
    def from_crawler(cls, crawler):
        from scrapy.exceptions import NotConfigured

        sites = {s["name"] for s in crawler.settings.getlist("NIANBAO_SITES") if s.get("fetch") == "browser"}
        if not sites:
            raise NotConfigured("no site has fetch: browser")
        return cls(crawler, sites)

    async def process_request(self, request, spider=None):
        if request.meta.get("site") in self.sites and BROWSER_SLOT_META not in request.meta:
            request.meta[BROWSER_SLOT_META] = await self.politeness.acquire(request, self.bound_s)
        return None

    def _release(self, request) -> None:
        held = request.meta.pop(BROWSER_SLOT_META, None)
        if held:
            self.politeness.release(*held)

    def process_response(self, request, response, spider=None):
        self._release(request)
        return response

    def process_exception(self, request, exception, spider=None):
        self._release(request)
        return None


def _host_key(url: str) -> str:
    from spiders.portal import host_key

    return host_key(url)


class SharedRobotsTxtMiddleware(RobotsTxtMiddleware):
    """Scrapy's robots.txt middleware; the robots.txt of a host is fetched by one node and shared."""

    CLAIM_S = 120  # a claim not answered in this time is taken over (its node died)

    def __init__(self, crawler) -> None:
        super().__init__(crawler)
        self.frontier = frontier_for(crawler)

    async def robot_parser(self, request):
        url = urlparse_cached(request)
        netloc = url.netloc
        if netloc not in self._parsers:
            self._parsers[netloc] = Deferred()
            await self._shared(request, url.scheme, netloc)
        parser = self._parsers[netloc]
        if isinstance(parser, Deferred):
            return await maybe_deferred_to_future(parser)
        return parser

    async def _shared(self, request, scheme: str, netloc: str) -> None:
        client, key = self.frontier.client, self.frontier.keys.robots(self.frontier.generation or 0, netloc)
        ttl = self.frontier.settings.key_ttl_s
        robotsurl = f"{scheme}://{netloc}/robots.txt"
        deadline = time.monotonic() + self.CLAIM_S
        while True:
            got = client.hgetall(key)
            if got.get(b"state") == b"done":
                self.crawler.stats.inc_value("nianbao/frontier/robots_shared")
                if got.get(b"error"):
                    self._robots_error(RuntimeError(got[b"error"].decode("utf-8", "replace")), netloc)
                else:
                    resp = Response(robotsurl, status=int(got.get(b"status") or 200), body=got.get(b"body") or b"")
                    await self._parse_robots(resp, netloc, request)
                return
            if client.hsetnx(key, "claim", self.frontier.node):
                client.expire(key, ttl)
                break
            if time.monotonic() > deadline:  # the claiming node died: fetch it ourselves
                client.delete(key)
                deadline = time.monotonic() + self.CLAIM_S
                continue
            await _sleep(0.1)
        robotsreq = Request(robotsurl, priority=self.DOWNLOAD_PRIORITY, meta={"dont_obey_robotstxt": True},
                            callback=NO_CALLBACK)
        try:
            resp = await self.crawler.engine.download_async(robotsreq)
        except Exception as e:
            if not isinstance(e, IgnoreRequest):
                logger.warning("robots.txt of %s: %s", netloc, e)
            client.hset(key, mapping={"state": "done", "error": f"{type(e).__name__}: {e}"[:500]})
            self._robots_error(e, netloc)
        else:
            client.hset(key, mapping={"state": "done", "status": resp.status,
                                      "body": resp.body[:ROBOTS_MAX_BYTES]})
            await self._parse_robots(resp, netloc, request)
        self._stats.inc_value("robotstxt/request_count")


class SharedBudgetUrlPolicyMiddleware(UrlPolicyMiddleware):
    """The URL policy (crawler.middlewares), with the page budget per site counted in Redis for all nodes."""

    def __init__(self, crawler) -> None:
        super().__init__(crawler)
        self.shared_budget, self.budget = self.budget, {}  # the parent's local count is off
        self.frontier = frontier_for(crawler)

    async def process_request(self, request, spider=None):
        await super().process_request(request, spider)
        site = request.meta.get("site")
        budget = self.shared_budget.get(site)
        if site and budget:
            f = self.frontier
            key = f.keys.budget(f.generation or 0, site)
            pipe = f.client.pipeline(transaction=True)
            pipe.incr(key).expire(key, f.settings.key_ttl_s)
            n = pipe.execute()[0]
            if n > budget:
                raise self._refuse(request, site, hostile.CAP_SITE_PAGES,
                                   f"page budget of {budget} requests reached by all crawl nodes "
                                   f"(max_pages_per_site)")
        return None


class FrontierItemPipeline(RedisPipeline):
    """scrapy-redis's RedisPipeline: items to the shared list (our codec), with a size cap and
    back-pressure (a node waits while the ingest worker is ``max_queued_*`` behind)."""

    def __init__(self, crawler) -> None:
        self.crawler = crawler
        self.frontier = frontier_for(crawler)
        super().__init__(self.frontier.client, key=self.frontier.keys.items, serialize_func=self._encode)
        self.stats = crawler.stats
        self._waiting_logged = 0.0

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler)

    def _encode(self, item) -> bytes:
        return encode_item(item, generation=self.frontier.generation or 0, node=self.frontier.node)

    async def process_item(self, item, spider=None):
        if not isinstance(item, (Document, FetchRecord)):
            return item
        s = self.frontier.settings
        if isinstance(item, Document) and len(item.content) > s.max_item_bytes:
            self.stats.inc_value("nianbao/frontier/items_too_large")
            pushed = FetchRecord(url=item.url, site=item.site, role="attachment" if item.report_url != item.url
                                 else "report", http_status=item.status, fetch_status=hostile.TOO_LARGE,
                                 error=f"{len(item.content) / 1048576:.3g} MB exceeds frontier.max_item_mb "
                                       f"({s.max_item_bytes / 1048576:.3g} MB): not pushed to the ingest worker")
        else:
            pushed = item
        data = self._encode(pushed)
        while not await maybe_deferred_to_future(deferToThread(self.frontier.offer, data)):
            # back-pressure: the ingest worker is behind (the check and the push are one atomic script)
            now = time.monotonic()
            if now - self._waiting_logged > 60:
                self._waiting_logged = now
                n, size = self.frontier.queued()
                logger.warning("%s: %d items (%.0f MB) wait for the ingest worker; crawl node waits",
                               self.frontier.shown_url, n, size / 1e6)
            self.stats.inc_value("nianbao/frontier/backpressure_waits")
            await _sleep(0.5)
        self.stats.inc_value("nianbao/frontier/items_pushed")
        self.stats.inc_value("nianbao/frontier/bytes_pushed", len(data))
        return item


