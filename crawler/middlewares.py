"""Downloader middlewares: the URL policy, Crawl-delay and retry backoff, conditional requests,
redirect loops, decoding large pages off the reactor thread.

- ``UrlPolicyMiddleware`` (in place of Scrapy's OffsiteMiddleware, same place: first, so that it
  sees every request, every redirect hop and meta refresh, and robots.txt requests): http/https
  only; host:port among the site's (start URL + ``allowed_hosts``); the address the host resolves
  to must not be loopback/private/link-local/reserved/multicast unless the start host is itself on
  such an address (a demo or an intranet portal); at most ``max_pages`` requests per site and run.
  A refusal raises ``UrlRefused`` (an IgnoreRequest naming its fetch status): the request's
  errback records it, a stats counter per reason counts it, one log line per site and reason.

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
- ``OffThreadDecodeMiddleware``: a large HTML body is decoded, and its head's visible text read,
  on a worker thread; the spider finds both in ``meta`` (a 5 MB page would otherwise hold every
  download in flight while the reactor thread decodes it).
"""
from __future__ import annotations

import ipaddress
import logging
import time
from collections import Counter
from urllib.parse import urlsplit

from scrapy import signals
from scrapy.downloadermiddlewares.redirect import RedirectMiddleware
from scrapy.exceptions import IgnoreRequest
from scrapy.http import Request, Response
from scrapy.utils.defer import maybe_deferred_to_future
from scrapy.exceptions import NotConfigured
from scrapy.utils.httpobj import urlparse_cached
from twisted.internet import reactor
from twisted.internet.task import deferLater
from twisted.internet.threads import deferToThread

from crawler.pipelines import store_for
from spiders import hostile
from spiders.hostile import site_netlocs  # the site's hosts, shared with the spider

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
            # what the 304 will put back: the version these validators belong to (no second
            # look-up of the same row when the answer comes)
            request.meta["conditional_sha256"] = cache.get("sha256")
            self.crawler.stats.inc_value("nianbao/conditional_requests")
        return None

    def process_response(self, request: Request, response: Response, spider=None) -> Response:
        if response.status != 304 or not request.meta.get("conditional_sent"):
            return response
        self.crawler.stats.inc_value("nianbao/not_modified")
        store = store_for(self.crawler)
        body = None
        if request.meta.get("role") == "report" and store is not None:
            sha = request.meta.get("conditional_sha256")
            if sha and not request.meta.get("redirect_urls"):
                # the validators were those of this version: its bytes are what the server confirms
                body = _blob(store, sha, request.url)
            else:  # redirected: the stored copy of the URL first asked for
                body = _stored_bytes(store, (request.meta.get("redirect_urls") or [request.url])[0])
        if body:
            # the spider still needs the page to see its attachments (they are checked too)
            return response.replace(body=body)
        return response


def _blob(store, sha256: str, url: str) -> bytes | None:
    try:
        return store.blob(sha256)
    except Exception as e:  # a missing blob must not stop the crawl
        logger.warning("cannot read stored bytes of %s: %s", url, e)
        return None


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


# -- the URL policy ---------------------------------------------------------------------------------
class UrlRefused(IgnoreRequest):
    """A request the URL policy (or a cap) refused; ``fetch_status`` names why."""

    def __init__(self, fetch_status: str, reason: str) -> None:
        super().__init__(reason)
        self.fetch_status = fetch_status


_DEFAULT_PORTS = {"http": 80, "https": 443}
#: Address classes a public portal never redirects to; checked in this order (127/8 is also private).
_SPECIAL = (("loopback", "is_loopback"), ("link-local", "is_link_local"), ("multicast", "is_multicast"),
            ("unspecified", "is_unspecified"), ("reserved", "is_reserved"), ("private", "is_private"))


def netloc(host: str, port: int | None, scheme: str) -> str:
    """``host:port`` with the scheme's default port made explicit (``a.gov.cn:80``)."""
    return f"{host.lower()}:{port or _DEFAULT_PORTS.get(scheme, 0)}"


def address_class(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str | None:
    """'loopback', 'private', 'link-local'… for a non-public address, None for a public one."""
    mapped = getattr(ip, "ipv4_mapped", None)
    if mapped is not None:
        ip = mapped
    for name, attr in _SPECIAL:
        if getattr(ip, attr):
            return name
    return None


class UrlPolicyMiddleware:
    def __init__(self, crawler) -> None:
        settings = crawler.settings
        if not settings.getbool("NIANBAO_URL_POLICY", True):
            raise NotConfigured
        self.crawler = crawler
        self.stats = crawler.stats
        self.sites: dict[str, dict] = {s["name"]: s for s in settings.getlist("NIANBAO_SITES")}
        self.netlocs = {name: site_netlocs(s["start_url"], s.get("allowed_hosts") or [])
                        for name, s in self.sites.items()}
        self.any_site = frozenset().union(*self.netlocs.values()) if self.netlocs else frozenset()
        self.budget = {name: s.get("max_pages") for name, s in self.sites.items()}
        self.requests: Counter[str] = Counter()
        self._addresses: dict[str, tuple] = {}  # host -> (address or None, address class or None)
        self._start: dict[str | None, frozenset] = {}
        self._logged: set[tuple[str, str]] = set()

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler)

    # -- address resolution ------------------------------------------------------------------------
    async def _resolve(self, host: str):
        """The address ``host`` connects to: Scrapy's own (caching) resolver, so the download
        uses the answer checked here.  None when it does not resolve (the download then fails
        with its own DNS error)."""
        try:
            return ipaddress.ip_address(host)
        except ValueError:
            pass
        try:
            return ipaddress.ip_address(await maybe_deferred_to_future(reactor.resolve(host)))
        except Exception:  # DNS failure: not ours to name
            return None

    async def _address(self, host: str):
        """(address, its class) of ``host``, looked up once per crawl (as Scrapy's DNS cache does)."""
        if host not in self._addresses:
            ip = await self._resolve(host)
            self._addresses[host] = (ip, address_class(ip) if ip is not None else None)
        return self._addresses[host]

    async def _start_classes(self, site: str | None) -> frozenset:
        """The address classes of the site's start host (of every site's, for a request of none)."""
        if site not in self._start:
            names = [site] if site in self.sites else list(self.sites)
            kinds = set()
            for name in names:
                kinds.add((await self._address((urlsplit(self.sites[name]["start_url"]).hostname or "").lower()))[1])
            self._start[site] = frozenset(kinds)
        return self._start[site]

    # -- the policy ----------------------------------------------------------------------------------
    def _refuse(self, request: Request, site: str | None, status: str, reason: str) -> UrlRefused:
        self.stats.inc_value(f"nianbao/url_policy/{status}")
        if site:
            self.stats.inc_value(f"nianbao/site/{site}/url_policy/{status}")
        if (site or "", status) not in self._logged:  # one line per site and reason
            self._logged.add((site or "", status))
            logger.warning("%s: %s (%s); further refusals of this kind are counted, not logged",
                           site or "crawl", reason, status)
        return UrlRefused(status, reason)

    async def process_request(self, request: Request, spider=None) -> None:
        site = request.meta.get("site")
        parts = urlparse_cached(request)
        scheme = (parts.scheme or "").lower()
        hops = request.meta.get("redirect_urls")
        via = f" (redirected from {hops[0]})" if hops else ""
        if scheme not in _DEFAULT_PORTS:
            raise self._refuse(request, site, hostile.REFUSED_SCHEME,
                               f"{scheme or 'no'} scheme refused: {request.url[:200]}{via}")
        host = (parts.hostname or "").lower()
        try:
            port = parts.port
        except ValueError:  # a port that is not a number
            port = -1
        here = netloc(host, port, scheme)
        allowed = self.netlocs.get(site, self.any_site)
        if here not in allowed:
            raise self._refuse(request, site, hostile.REFUSED_OFFSITE,
                               f"{here} is not one of the site's hosts (start URL, allowed_hosts): "
                               f"{request.url[:200]}{via}")
        ip, kind = await self._address(host)
        if kind is not None and kind not in await self._start_classes(site):
            raise self._refuse(request, site, hostile.REFUSED_ADDRESS,
                               f"{host} {'is' if host == str(ip) else f'resolves to {ip},'} a {kind} address "
                               f"(the start host is not): {request.url[:200]}{via}")
        budget = self.budget.get(site)
        if site and budget:
            self.requests[site] += 1
            if self.requests[site] > budget:
                raise self._refuse(request, site, hostile.CAP_SITE_PAGES,
                                   f"page budget of {budget} requests reached (max_pages_per_site)")
        return None


# -- decoding large pages off the reactor thread --------------------------------------------------------
def _decode_and_read(body: bytes, content_type: str) -> tuple[str, str, str]:
    from storage.decoding import decode

    text, enc = decode(body, content_type)
    head = text[:65536]
    # None when no verdict can depend on it (the spider's classify_response then skips it too)
    return text, enc, hostile.visible_text(head) if hostile.visible_may_matter(head, len(body)) else None


class OffThreadDecodeMiddleware:
    """Decodes an HTML body larger than ``hostile.LARGE_BODY`` on a worker thread and leaves
    ``meta["decoded"] = (body length, text, encoding, visible head or None)`` for the spider."""

    def __init__(self, crawler) -> None:
        self.threshold = crawler.settings.getint("NIANBAO_DECODE_IN_THREAD_BYTES", hostile.LARGE_BODY)
        self.stats = crawler.stats

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler)

    async def process_response(self, request: Request, response: Response, spider=None) -> Response:
        body = response.body
        if len(body) < self.threshold:
            return response
        ct = (response.headers.get("Content-Type") or b"").decode("latin-1")
        if ct and "html" not in ct.lower() and "xml" not in ct.lower() and "json" not in ct.lower():
            return response
        text, enc, visible = await maybe_deferred_to_future(deferToThread(_decode_and_read, body, ct))
        request.meta["decoded"] = (len(body), text, enc, visible)
        self.stats.inc_value("nianbao/decoded_off_thread")
        return response
