"""Downloader middlewares: Crawl-delay and retry backoff, conditional requests, redirect loops.

- ``PoliteDelayMiddleware``: Scrapy parses robots.txt but ignores its Crawl-delay (scrapy#892).
  We read it from the parsed robots.txt (the ``robots_parsed`` signal), set it as the host's
  downloader-slot delay (which spaces actual sends; no jitter below it, AutoThrottle told not to
  lower it) and also reserve start times per host before a request reaches the slot; retried
  requests also wait ``base * 2**(n-1)`` seconds first.
- ``ConditionalRequestMiddleware``: report pages and attachments (``meta["conditional"]``) are
  sent with If-None-Match / If-Modified-Since from the store's fetch cache; on 304 the stored
  bytes are put back on the response (when the store can give them) so that the spider can still
  follow a report page's attachments.
- ``LoopAwareRedirectMiddleware``: a redirect back to a URL of the same chain is a loop and is
  reported as such (Scrapy's duplicate filter would otherwise drop it silently).
"""
from __future__ import annotations

import logging
import time
from urllib.parse import urlsplit

from scrapy import signals
from scrapy.downloadermiddlewares.redirect import RedirectMiddleware
from scrapy.exceptions import IgnoreRequest
from scrapy.http import Request, Response
from scrapy.utils.defer import maybe_deferred_to_future
from twisted.internet import reactor
from twisted.internet.task import deferLater

from crawler.pipelines import store_for

logger = logging.getLogger(__name__)


async def _sleep(seconds: float) -> None:
    if seconds > 0:
        await maybe_deferred_to_future(deferLater(reactor, seconds, lambda: None))


class PoliteDelayMiddleware:
    def __init__(self, crawler) -> None:
        self.crawler = crawler
        self.user_agent = crawler.settings.get("ROBOTSTXT_USER_AGENT") or crawler.settings.get("USER_AGENT")
        self.backoff_base = crawler.settings.getfloat("NIANBAO_RETRY_BACKOFF_BASE", 1.0)
        self.backoff_max = crawler.settings.getfloat("NIANBAO_RETRY_BACKOFF_MAX", 60.0)
        self.crawl_delays: dict[str, float] = {}
        self._next_slot: dict[str, float] = {}
        crawler.signals.connect(self.robots_parsed, signal=signals.robots_parsed)

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler)

    def robots_parsed(self, robotparser, request: Request) -> None:
        try:
            delay = robotparser.crawl_delay(self.user_agent)
        except Exception:  # an unreadable robots.txt has no delay
            delay = None
        if delay:
            netloc = urlsplit(request.url).netloc
            self.crawl_delays[netloc] = float(delay)
            self.crawler.stats.set_value(f"nianbao/crawl_delay/{netloc}", float(delay))
            logger.info("robots.txt of %s asks for Crawl-delay %s s", netloc, delay)
            self._apply_to_slot(request, float(delay))

    def _apply_to_slot(self, request: Request, delay: float) -> None:
        """The downloader slot spaces real sends: at least ``delay``, no jitter below it."""
        downloader = self.crawler.engine.downloader
        try:
            key = downloader.get_slot_key(request)
        except Exception:  # older Scrapy
            key = request.meta.get("download_slot") or urlsplit(request.url).hostname
        slot = downloader.slots.get(key)
        if slot is not None:
            if slot.delay < delay:
                slot.delay = delay
            if hasattr(slot, "jitter"):
                slot.jitter = 0.0

    def _reserve(self, netloc: str, delay: float) -> float:
        """Seconds to wait so that requests to ``netloc`` start at least ``delay`` apart."""
        now = time.monotonic()
        start = max(now, self._next_slot.get(netloc, 0.0))
        self._next_slot[netloc] = start + delay
        return start - now

    async def process_request(self, request: Request, spider=None) -> None:
        wait = 0.0
        retries = request.meta.get("retry_times", 0)
        if retries and self.backoff_base > 0:
            wait += min(self.backoff_max, self.backoff_base * 2 ** (retries - 1))
            self.crawler.stats.inc_value("nianbao/retry_backoff_s", wait)
        netloc = urlsplit(request.url).netloc
        delay = self.crawl_delays.get(netloc)
        if delay and not request.meta.get("dont_obey_robotstxt") and not request.url.endswith("/robots.txt"):
            request.meta["autothrottle_dont_adjust_delay"] = True
            wait = max(wait, self._reserve(netloc, delay))
            self._apply_to_slot(request, delay)  # slots are recreated after being idle
        await _sleep(wait)


class ConditionalRequestMiddleware:
    def __init__(self, crawler) -> None:
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler)

    def process_request(self, request: Request, spider=None) -> None:
        if not request.meta.get("conditional") or b"If-None-Match" in request.headers \
                or b"If-Modified-Since" in request.headers:
            return None
        store = store_for(self.crawler)
        cache = store.fetch_cache(request.url) if store is not None else None
        if not cache:
            return None
        sent = False
        if cache.get("etag"):
            request.headers[b"If-None-Match"] = cache["etag"]
            sent = True
        if cache.get("last_modified"):
            request.headers[b"If-Modified-Since"] = cache["last_modified"]
            sent = True
        if sent:
            request.meta["conditional_sent"] = True
            self.crawler.stats.inc_value("nianbao/conditional_requests")
        return None

    def process_response(self, request: Request, response: Response, spider=None) -> Response:
        if response.status != 304 or not request.meta.get("conditional_sent"):
            return response
        self.crawler.stats.inc_value("nianbao/not_modified")
        store = store_for(self.crawler)
        body = None
        if request.meta.get("role") == "report" and store is not None:
            url = (request.meta.get("redirect_urls") or [request.url])[0]
            body = _stored_bytes(store, url)
        if body:
            # the spider still needs the page to see its attachments (they are checked too)
            return response.replace(body=body)
        return response


def _stored_bytes(store, url: str) -> bytes | None:
    """The latest stored bytes of ``url`` (content-addressed blob of its latest version)."""
    try:
        cache = store.fetch_cache(url)
        return store.blob(cache["sha256"]) if cache and cache.get("sha256") else None
    except Exception as e:  # a missing blob must not stop the crawl
        logger.warning("cannot read stored bytes of %s: %s", url, e)
        return None


class RedirectLoop(IgnoreRequest):
    """A redirect chain that comes back to one of its own URLs."""


class LoopAwareRedirectMiddleware(RedirectMiddleware):
    def _redirect(self, redirected: Request, request: Request, reason):
        chain = [*request.meta.get("redirect_urls", []), request.url]
        if redirected.url in chain:
            raise RedirectLoop(f"redirect loop: {' -> '.join(chain + [redirected.url])}")
        try:
            return super()._redirect(redirected, request, reason)
        except IgnoreRequest as e:
            raise RedirectLoop(f"redirect loop: {e} after {len(chain)} redirects from {chain[0]}") from e
