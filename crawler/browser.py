"""``fetch: browser`` sites: their requests go through headless Chromium (issue 9 item 8).

Some portals sit behind a JavaScript challenge: 瑞数 (HTTP 412 + an obfuscated ``$_ts`` script) or
加速乐 / 创宇 (HTTP 521/512 + a script computing ``__jsl_clearance``), research/portals.md §9.  Plain
HTTP only ever sees the challenge.  For a site marked ``fetch: browser`` this downloader middleware
sends the site's requests through a Playwright browser context on the Debian Chromium
(``/usr/bin/chromium``, or ``NIANBAO_CHROMIUM``):

- every request is made with the context's request API (``context.request.fetch``): raw bytes,
  the method, body and conditional headers of the Scrapy request, the context's cookies, no
  redirect following (redirects go back through Scrapy's redirect and URL-policy middlewares);
- when an answer is a challenge, the URL is opened in a page so that its script runs and sets
  its cookies (waiting up to ``NIANBAO_BROWSER_CHALLENGE_TIMEOUT`` s for a non-challenge answer),
  then the request is made again: later requests and attachments reuse the cookies.

A site that stays on plain HTTP records the challenge as ``waf_challenge_*`` (spiders/hostile.py).
The browser starts with the first browser request and closes with the spider; without any
``fetch: browser`` site this middleware is not even loaded (NotConfigured).
"""
from __future__ import annotations

import asyncio
import logging
import os
import shutil
import time

from scrapy import signals
from scrapy.exceptions import NotConfigured
from scrapy.http import Request, Response
from scrapy.http.headers import Headers
from scrapy.responsetypes import responsetypes

logger = logging.getLogger(__name__)

#: Statuses of the challenge pages of the research (瑞数 412, 加速乐 521/512).
CHALLENGE_STATUSES = (412, 512, 521)
#: Chromium flags: no sandbox (containers), no GPU, no background traffic to Google's services.
CHROMIUM_ARGS = ("--no-sandbox", "--disable-gpu", "--disable-background-networking")
#: Headers the browser context sets itself.
_OWN_HEADERS = {"cookie", "host", "content-length", "connection", "accept-encoding"}


#: Seconds Chromium may take to start (Playwright's own default, made explicit so that it is a known bound).
LAUNCH_TIMEOUT = 30.0


def fetch_bound_s(settings) -> float:
    """The longest ``BrowserFetchMiddleware.process_request`` takes with these settings: Chromium's start, the
    first fetch, the challenge page (its load, then at least 1 s more for the script, its close) and the fetch
    again.  The shared browser slot of a host is held this long (crawler.frontier_node), so that no other
    node sends to the host while a challenged fetch still runs.  Not counted: a new context and reading an
    answer's bytes, local calls to the browser."""
    request = settings.getfloat("DOWNLOAD_TIMEOUT", 30.0)
    challenge = settings.getfloat("NIANBAO_BROWSER_CHALLENGE_TIMEOUT", 45.0)
    return LAUNCH_TIMEOUT + request + (challenge + 1.0 + CLOSE_TIMEOUT) + request


def chromium_path() -> str:
    return os.environ.get("NIANBAO_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"


class BrowserFetchMiddleware:
    def __init__(self, crawler, browser_sites: set[str]) -> None:
        self.crawler = crawler
        self.sites = browser_sites
        self.timeout = crawler.settings.getfloat("NIANBAO_BROWSER_CHALLENGE_TIMEOUT", 45.0)
        self.request_timeout = crawler.settings.getfloat("DOWNLOAD_TIMEOUT", 30.0)
        self.max_size = crawler.settings.getint("DOWNLOAD_MAXSIZE", 0)
        self._pw = None
        self._browser = None
        self._contexts: dict[str, object] = {}
        self._lock: asyncio.Lock | None = None
        crawler.signals.connect(self.closed, signal=signals.spider_closed)

    @classmethod
    def from_crawler(cls, crawler):
        sites = {s["name"] for s in crawler.settings.getlist("NIANBAO_SITES") if s.get("fetch") == "browser"}
        if not sites:
            raise NotConfigured("no site has fetch: browser")
        try:
            import playwright.async_api  # noqa: F401
        except ImportError:
            logger.error("sites %s have fetch: browser, which needs Playwright (pip install 'nianbao[browser]'); "
                         "they are fetched over plain HTTP", ", ".join(sorted(sites)))
            raise NotConfigured("playwright is not installed")
        return cls(crawler, sites)

    async def _context(self, site: str):
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            if self._browser is None:
                from playwright.async_api import async_playwright

                self._pw = await async_playwright().start()
                self._browser = await self._pw.chromium.launch(executable_path=chromium_path(), headless=True,
                                                               args=list(CHROMIUM_ARGS),
                                                               timeout=LAUNCH_TIMEOUT * 1000)
                logger.info("browser fetch: Chromium %s started for %s", self._browser.version,
                            ", ".join(sorted(self.sites)))
            if site not in self._contexts:
                ua = self.crawler.settings.get("USER_AGENT")
                self._contexts[site] = await self._browser.new_context(user_agent=ua, ignore_https_errors=False)
            return self._contexts[site]

    async def _fetch(self, context, request: Request):
        headers = {k.decode("latin-1"): b", ".join(v).decode("latin-1") for k, v in request.headers.items()
                   if k.decode("latin-1").lower() not in _OWN_HEADERS}
        return await context.request.fetch(request.url, method=request.method, headers=headers,
                                           data=request.body or None, max_redirects=0,
                                           timeout=self.request_timeout * 1000, fail_on_status_code=False)

    async def _solve(self, context, url: str) -> bool:
        """Open ``url`` in a page and let its challenge script run until an answer is no challenge."""
        page = await context.new_page()
        passed = asyncio.Event()

        def on_response(resp) -> None:
            if resp.request.is_navigation_request() and resp.status not in CHALLENGE_STATUSES:
                passed.set()

        page.on("response", on_response)
        started = time.monotonic()
        try:
            logger.debug("browser fetch: opening %s to run its challenge", url)
            await page.goto(url, wait_until="load", timeout=self.timeout * 1000)
            logger.debug("browser fetch: %s loaded (passed: %s)", url, passed.is_set())
            if not passed.is_set():
                await asyncio.wait_for(passed.wait(), max(1.0, self.timeout - (time.monotonic() - started)))
            logger.debug("browser fetch: %s passed after %.1fs", url, time.monotonic() - started)
            return True
        except Exception as e:  # the script never cleared: the plain answer (the challenge) is recorded
            logger.info("browser fetch: challenge at %s not passed in %.0fs: %s", url, self.timeout, e)
            return False
        finally:
            self.crawler.stats.inc_value("nianbao/browser/challenges")
            await _bounded(page.close(), f"closing the page of {url}")

    async def process_request(self, request: Request, spider=None):
        site = request.meta.get("site")
        if site not in self.sites:
            return None
        context = await self._context(site)
        answer = await self._fetch(context, request)
        if answer.status in CHALLENGE_STATUSES:
            await answer.dispose()
            if await self._solve(context, request.url):
                self.crawler.stats.inc_value("nianbao/browser/challenges_passed")
            answer = await self._fetch(context, request)
        body = await answer.body()
        if self.max_size and len(body) > self.max_size:
            await answer.dispose()
            raise IOError(f"Cancelling download of {request.url}: larger than download max size "
                          f"({len(body)} > {self.max_size})")
        headers = Headers()
        for h in answer.headers_array:
            headers.appendlist(h["name"], h["value"])
        status, url = answer.status, answer.url
        await answer.dispose()
        self.crawler.stats.inc_value("nianbao/browser/requests")
        cls = responsetypes.from_args(headers=headers, url=url, body=body)
        return cls(url=url, status=status, headers=headers, body=body, request=request,
                   flags=["browser"])

    async def closed(self, spider) -> None:
        for context in self._contexts.values():
            await _bounded(context.close(), "closing a browser context")
        if self._browser is not None:
            await _bounded(self._browser.close(), "closing Chromium")
        if self._pw is not None:
            await _bounded(self._pw.stop(), "stopping Playwright")


#: Seconds a close may take: Chromium's page.close() can wait for ever on a request still in flight
#: (seen with a challenge page's favicon); a page left open is closed with its context at the end.
CLOSE_TIMEOUT = 5.0


async def _bounded(coro, what: str) -> None:
    try:
        await asyncio.wait_for(coro, CLOSE_TIMEOUT)
    except Exception as e:  # asyncio.TimeoutError or a browser already gone: nothing to keep
        logger.debug("browser fetch: %s: %r", what, e)
