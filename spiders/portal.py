"""The portal spider: from a site's start page to its 年报 column, the column's tree, the report
pages and their attachments.  It only yields: Scrapy requests, ``Document`` items (bytes fetched)
and ``FetchRecord`` items (a fetch that brought no content: 304, WAF challenge, soft 404, timeout…).

Roles of a request (``meta["role"]``):
  start      the configured start URL (a 政务公开 page or the 年报 column itself)
  column     a listing inside the 年报 tree (year / category / unit sub-columns, pagination)
  data       a listing's data request (Hanweb dataproxy.jsp XML, gkmlpt JSON API)
  report     a report page (kept because its listing title is a report title)
  attachment a file linked from a report page (pdf/doc/docx/wps/xls…), or listed directly

Listings are always fetched fresh; report pages and attachments carry ``meta["conditional"]``
so that the crawler's middleware adds If-None-Match / If-Modified-Since from the store.
"""
from __future__ import annotations

import logging
import re
from datetime import datetime, timezone
from functools import lru_cache
from typing import Any, Iterator
from urllib.parse import urljoin, urlsplit

import scrapy
from parsel import Selector
from scrapy.http import Request, Response

from spiders import hostile, navigation, platforms, titles
from spiders.hostile import FetchRecord
from spiders.platforms import generic
from storage.decoding import decode
from storage.models import Document

logger = logging.getLogger(__name__)

#: Statuses the spider wants to see itself (to record them) instead of Scrapy dropping them.
HANDLED_STATUSES = [304, *range(400, 600)]
_ARTICLE_RE = re.compile(
    r"(/t\d{8}_\d+\.s?html?$)|(/art_\d+_\d+(\.html)?$)|(post_\d+\.html$)|(/info/\d+/\d+\.htm$)"
    r"|(/[0-9a-f]{32}\.s?html?$)|(/content_\d+\.htm$)", re.I)
_PUBDATE_RE = re.compile(r"(?:发布日期|发布时间|发文日期|成文日期|时间)\s*[:：]?\s*((?:19|20)\d{2}[-/.年]\d{1,2}[-/.月]\d{1,2})")


_DEFAULT_PORTS = {"http": 80, "https": 443}
#: <meta name=…> that carry a report page's publication date, most trusted first
_DATE_META = ("PubDate", "pubdate", "publishdate", "firstpublishedtime")


def _host(url: str) -> str:
    """host[:port], the port only when it is not the scheme's default (sites on one address differ by
    port, and an http/https fallback keeps the host)."""
    # a plain http(s)://host[:port] prefix (nothing urlsplit would strip, unquote or read as user
    # info) has the host of that prefix alone, looked up once: every link of a page is asked
    m = _PLAIN_ORIGIN.match(url)
    return _origin_host(m.group()) if m is not None else _split_host(url)


#: http(s)://host[:port] up to the path, query, fragment or the end (see _host)
_PLAIN_ORIGIN = re.compile(r"https?://[A-Za-z0-9.\-]+(?::[0-9]+)?(?=[/?#]|\Z)")


def _split_host(url: str) -> str:
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    try:
        port = parts.port
    except ValueError:
        return host
    return host if port is None or port == _DEFAULT_PORTS.get(parts.scheme) else f"{host}:{port}"


#: _split_host of an origin, bounded: a hostile page may link many hosts
_origin_host = lru_cache(maxsize=4096)(_split_host)


#: The download-slot key of a URL (settings key a site's DOWNLOAD_SLOTS entry by it): two servers on
#: one address, different ports, are two hosts with their own politeness.
host_key = _host


def _routes(fragment: str | None) -> bool:
    """Whether a URL fragment selects content in a script app (gkmlpt's #2811, #/list/12, #!/12),
    rather than a place on the page (#content)."""
    return bool(fragment) and (fragment.isdigit() or fragment.startswith(("/", "!")))


def _listing_like(url: str) -> bool:
    """A column/listing URL rather than an article or a file."""
    parts = urlsplit(url)
    path = parts.path
    if _ARTICLE_RE.search(path) or titles.is_attachment_url(url):
        return False
    last = path.rsplit("/", 1)[-1]
    return (path.endswith("/") or last.startswith(("index", "list", "default")) or "." not in last
            or titles.is_column_url(url)
            or "/col/col" in path or "/gkmlpt/index" in path or bool(re.match(r"^\d+\.s?html?$", last)))


def _content_type(response: Response) -> str:
    return (response.headers.get("Content-Type") or b"").decode("latin-1")


def _root_dir(url: str) -> str:
    path = urlsplit(url).path
    return path if path.endswith("/") else path.rsplit("/", 1)[0] + "/"


class _OneLine(logging.Filter):
    """Scrapy's robots.txt middleware logs a failed robots.txt fetch (an https-only failure the spider
    then retries over http) with its traceback: keep the message, drop the traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info:
            record.msg = f"{record.getMessage()} ({record.exc_info[1]!r})"
            record.args = ()
            record.exc_info = None
            record.exc_text = None
        return True


#: Leaves first: in each host's queue, attachments and report pages go ahead of listings.  A broad crawl
#: is bound by CPU, not by the hosts' delays, so every host is in progress at once and holds whatever it
#: has found and not fetched; with listings first, each host expanded its whole 年报 tree before reading
#: its reports and held nearly all of them pending (the 3,000-portal night's crawl processes peaked at
#: 524-607 MB).  An attachment ends a branch and goes before another report; a retried leaf (priority
#: lowered by RETRY_PRIORITY_ADJUST) still goes before any listing.
ROLE_PRIORITY = {"start": 0, "column": 10, "data": 10, "report": 25, "attachment": 26}


class PortalSpider(scrapy.Spider):
    name = "portal"

    #: Redirect shells (and frames) followed in a row, at most (a shell pointing at a shell pointing at …).
    MAX_SHELLS = 3
    #: Frames and iframes followed from one navigation page, at most.
    MAX_FRAMES = 8

    def __init__(self, sites: list[dict[str, Any]] | None = None, max_tree_depth: int = 6,
                 max_nav_hops: int = 3, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.sites: dict[str, dict[str, Any]] = {s["name"]: s for s in (sites or [])}
        self._hosts_of: dict[tuple[str, tuple[str, ...]], frozenset[str]] = {}
        self.max_tree_depth = max_tree_depth
        self.max_nav_hops = max_nav_hops
        #: site -> what the discovery did, for ``nianbao crawl --explain`` (written to the stats)
        self.explain: dict[str, list[dict[str, Any]]] = {}
        # Scrapy's notion of the site's hosts; crawler.middlewares.UrlPolicyMiddleware enforces
        # the finer policy (ports, allowed_hosts, resolved addresses) on every request and hop
        # (Scrapy's allowed_domains take no port: _site_hosts keys are host[:port])
        self.allowed_domains = sorted({h.rsplit(":", 1)[0] if h.count(":") == 1 else h
                                       for s in self.sites.values() for h in self._site_hosts(s) if h})
        self._capped: set[tuple[str | None, str]] = set()
        #: (URL, fragment) pairs requested: the dupefilter does not tell /gkmlpt/index#2811 (the 年报
        #: category) from /gkmlpt/index (the whole directory, often linked first from the same page)
        self._fragments_asked: set[tuple[str, str]] = set()

    @classmethod
    def from_crawler(cls, crawler, *args: Any, **kwargs: Any):
        kwargs.setdefault("sites", crawler.settings.getlist("NIANBAO_SITES"))
        kwargs.setdefault("max_tree_depth", crawler.settings.getint("NIANBAO_MAX_TREE_DEPTH", 6))
        kwargs.setdefault("max_nav_hops", crawler.settings.getint("NIANBAO_MAX_NAV_HOPS", 3))
        robots_log = logging.getLogger("scrapy.downloadermiddlewares.robotstxt")
        if not any(isinstance(f, _OneLine) for f in robots_log.filters):
            robots_log.addFilter(_OneLine())
        return super().from_crawler(crawler, *args, **kwargs)

    def _explain(self, site: str, kind: str, url: str, trail: list | None, note: str = "") -> None:
        """One step of the discovery for --explain: a column found (with the path to it), a dead end…"""
        events = self.explain.setdefault(site, [])
        if len(events) < 200:  # bounded: a hostile portal cannot grow the stats without limit
            events.append({"kind": kind, "url": url, "trail": [list(t) for t in (trail or [])], "note": note})

    def closed(self, reason: str) -> None:
        crawler = getattr(self, "crawler", None)
        if crawler is not None and crawler.stats is not None:
            for site, events in self.explain.items():
                crawler.stats.set_value(f"nianbao/explain/{site}", events)

    # -- helpers ------------------------------------------------------------------------------
    def _stat(self, key: str, n: int = 1) -> None:
        crawler = getattr(self, "crawler", None)
        if crawler is not None and crawler.stats is not None:
            crawler.stats.inc_value(f"nianbao/{key}", n)

    def _stat_site(self, key: str, site: str | None) -> None:
        """Count ``key`` for the crawl and for its site (the summary reads both)."""
        self._stat(key)
        self._stat(f"site/{site}/{key}")

    def _site_hosts(self, site: dict[str, Any]) -> frozenset[str]:
        # once per start URL and allowed hosts (asked on every page)
        key = (site["start_url"], tuple(site.get("allowed_hosts") or ()))
        hosts = self._hosts_of.get(key)
        if hosts is None:
            # the host names of the URL policy's host:port pairs (the middleware checks the port)
            netlocs = hostile.site_netlocs(site["start_url"], site.get("allowed_hosts") or [])
            # and the spider's own host[:port] keys (_host), so that links are compared with their port
            hosts = self._hosts_of[key] = frozenset(
                {n.rsplit(":", 1)[0] for n in netlocs}
                | {_host(f"{scheme}://{n}") for n in netlocs for scheme in ("http", "https")})
        return hosts

    def _request(self, url: str, site: dict[str, Any], role: str, callback=None, *,
                 method: str = "GET", body: str | None = None, headers: dict | None = None,
                 **meta: Any) -> Request:
        obey = site.get("obey_robots")
        m = {"site": site["name"], "role": role, "handle_httpstatus_list": HANDLED_STATUSES,
             "download_slot": _host(url), **meta}
        if role == "start":
            m.setdefault("nav_hops", 0)  # disclosure-section hops taken from the start URL
        if obey is False:
            m["dont_obey_robotstxt"] = True
        if role in ("report", "attachment"):
            m["conditional"] = True
        # the first request of a URL with a new route in its fragment passes the dupefilter (which
        # ignores fragments); a second one of the same pair is filtered as any repeat is, and an
        # in-page anchor (#content, #bm) is filtered as the page itself
        fresh = _routes(meta.get("fragment")) and (url, meta["fragment"]) not in self._fragments_asked
        if fresh:
            self._fragments_asked.add((url, meta["fragment"]))
        return Request(url, callback=callback or self.parse_page, errback=self.on_error, method=method,
                       body=body, headers=headers, meta=m, priority=ROLE_PRIORITY[role], dont_filter=fresh)

    def _start_requests(self) -> Iterator[Request]:
        for site in self.sites.values():
            self._stat("sites")
            # the fragment (gkmlpt's #<catid>) is never sent to the server: carry it in meta
            frag = urlsplit(site["start_url"]).fragment or None
            start = platforms.strip_fragment(site["start_url"])
            yield self._request(start, site, "start", tree_depth=0, fragment=frag,
                                trail=[[site["start_url"], "start URL"]])

    async def start(self):
        for request in self._start_requests():
            yield request

    def start_requests(self) -> Iterator[Request]:  # Scrapy < 2.13
        yield from self._start_requests()

    # -- failures -------------------------------------------------------------------------------
    def _record(self, request: Request, status: str, reason: str, http_status: int | None = None):
        meta = request.meta
        # a failure names the URL we asked for; a 304 the URL whose stored copy it confirms
        url = request.url if status == hostile.NOT_MODIFIED else (meta.get("redirect_urls") or [request.url])[0]
        self._stat_site(f"fetch/{status}", meta.get("site"))
        if status in hostile.CAP_STATUSES:
            # a cap is one fact per site: its first hit is journaled (and an error), the rest counted
            if (meta.get("site"), status) in self._capped:
                return None
            self._capped.add((meta.get("site"), status))
            if status == hostile.CAP_LISTING_PAGES:  # (the middleware logs the page budget's)
                logger.warning("%s: %s at %s (%s); the rest of the site is crawled", meta.get("site"), reason,
                               url, status)
        if status in hostile.SKIP_STATUSES:  # policy (robots.txt, URL policy): skipped, not an error
            self._stat_site("skipped", meta.get("site"))
        elif status not in (hostile.OK, hostile.NOT_MODIFIED):
            self._stat_site("errors", meta.get("site"))
            logger.info("%s %s (%s): %s", status, url, meta.get("role"), reason)
        return FetchRecord(url=url, site=meta.get("site"), role=meta.get("role", ""),
                           http_status=http_status, fetch_status=status, error=reason,
                           method=request.method)

    #: Failures of a navigation page that the other scheme may not have (http-only, broken TLS).
    SCHEME_FALLBACK = (hostile.TLS_ERROR, hostile.CONNECTION_ERROR, hostile.TIMEOUT, hostile.HTTP_5XX)

    def _scheme_fallback(self, request: Request, status: str, reason: str) -> Request | None:
        """The same navigation request over the other scheme, once (https 502 while http works…)."""
        meta = request.meta
        if meta.get("role") != "start" or meta.get("scheme_fallback") or status not in self.SCHEME_FALLBACK:
            return None
        other = navigation.other_scheme((meta.get("redirect_urls") or [request.url])[0])
        if other is None:
            return None
        site = self.sites[meta["site"]]
        self._explain(site["name"], "scheme_fallback", other, meta.get("trail"), f"{status}: {reason}")
        keep = {k: v for k, v in meta.items() if k in ("tree_depth", "fragment", "nav_hops", "shells")}
        trail = list(meta.get("trail") or []) + [[other, f"other scheme after {status}"]]
        # filtered as usual: the other scheme's URL is new to the dupefilter, and a later link to it is not
        return self._request(other, site, "start", scheme_fallback=True, trail=trail, **keep)

    def on_error(self, failure):
        request = failure.request
        verdict = hostile.classify_failure(failure.value)
        response = getattr(failure.value, "response", None)
        retry = self._scheme_fallback(request, verdict.status, verdict.reason)
        if retry is not None:
            logger.info("%s: %s; trying %s", request.url, verdict.status, retry.url)
            yield retry
            return
        record = self._record(request, verdict.status, verdict.reason, getattr(response, "status", None))
        if record is not None:
            yield record

    def _verdict(self, response: Response, text: str | None = None) -> hostile.Verdict | None:
        return hostile.classify_response(
            response.status, response.url, response.body, text=text,
            set_cookies=[c.decode("latin-1") for c in response.headers.getlist("Set-Cookie")],
            redirect_urls=response.meta.get("redirect_urls"),
            content_type=_content_type(response),
            visible=self._decoded(response)[2] if self._decoded(response) else None,
        )

    @staticmethod
    def _decoded(response: Response) -> tuple[str, str, str] | None:
        """(text, encoding, visible head) of a large page, decoded off the reactor thread by
        crawler.middlewares.OffThreadDecodeMiddleware (None for small pages)."""
        got = response.meta.get("decoded")
        if got and got[0] == len(response.body):  # not a copy left on a retried/replaced response
            return got[1:]
        return None

    def _text(self, response: Response) -> str:
        decoded = self._decoded(response)
        return decoded[0] if decoded else decode(response.body, _content_type(response))[0]

    # -- listings --------------------------------------------------------------------------------
    def parse_page(self, response: Response):
        meta = response.meta
        site = self.sites[meta["site"]]
        role = meta["role"]
        self._stat_site("pages", site["name"])
        text = self._text(response)
        verdict = self._verdict(response, text)
        if verdict:
            retry = self._scheme_fallback(response.request, verdict.status, verdict.reason)
            if retry is not None:
                yield retry
                return
            status, reason = verdict.status, verdict.reason
            if role == "start" and (meta.get("nav_hops", 0) > 0 or meta.get("framed")) \
                    and status in hostile.GONE_STATUSES:
                # a menu link found on the site, not its start URL nor a 年报 column: not the site failing
                status, reason = hostile.NAV_DEAD_END, f"navigation link leads nowhere ({status}: {reason})"
            yield self._record(response.request, status, reason, response.status)
            return
        url = response.url
        trail = list(meta.get("trail") or [])
        if meta.get("redirect_urls"):
            trail.append([url, f"HTTP redirect from {meta['redirect_urls'][-1]}"])
        shell = navigation.redirect_target(text, url)
        if shell and meta.get("shells", 0) < self.MAX_SHELLS:
            target, how = shell
            if _host(target) in self._site_hosts(site):
                keep = {k: v for k, v in meta.items()
                        if k in ("tree_depth", "fragment", "column_root", "nav_hops", "from_url", "platform",
                                 "entered")}
                yield self._request(platforms.strip_fragment(target), site, role, callback=self.parse_page,
                                    shells=meta.get("shells", 0) + 1, trail=trail + [[target, how]], **keep)
            else:
                self._explain(site["name"], "dead_end", url, trail, f"{how} to another host: {target}")
            return
        if meta.get("fragment") and "#" not in url:
            url = f"{url}#{meta['fragment']}"
        adapter = platforms.detect(text, url, site.get("platform"))
        selectors = site.get("selectors") or {}
        listing = adapter.listing(text, url, selectors)
        depth = meta.get("tree_depth", 0)
        root = meta.get("column_root")
        in_tree = role == "column" or (role == "start" and self._is_column_page(text, url))
        if role == "start" and in_tree:
            root = _root_dir(url)
        listing_pages = listing.pages
        if in_tree and not listing_pages and not selectors.get("next_page"):
            # a listing that announces no pages but has a static numbered pager (whatever its
            # adapter); outside the 年报 tree numbers are a carousel's, a calendar's, a hot list's
            listing_pages = [platforms.PageRequest(u, platform=adapter.NAME)
                             for u in generic.numbered_urls(text, url)]
        kept = yield from self._entries(listing.entries, site, url)
        if (in_tree and (role == "start" or meta.get("entered"))) or (
                role == "start" and (kept or listing_pages)):
            self._explain(site["name"], "column", url, trail,
                          f"{adapter.NAME}: {kept} report entries, {len(listing_pages)} more pages/data requests")
        pages = yield from self._listing_pages(listing_pages, response, site)
        for page in pages:
            yield self._page_request(page, site, depth, root, url, meta.get("page_depth", 0) + 1)
        links = platforms.anchors(platforms.selector(text), url)
        hosts = self._site_hosts(site)
        pager = {p.url for p in listing_pages}  # pages of this listing: counted by page_depth, not re-rooted
        hops = meta.get("nav_hops", 0)
        followed = 0
        for a, link in links:
            if _host(link) not in hosts or link in pager:
                continue
            label = None
            if not _listing_like(link):  # cheap tests first: most links of a big listing are articles
                # outside the tree, a page link (VSB /xxgk.htm) named 信息公开 or 年报 is still a way in
                if in_tree or _ARTICLE_RE.search(urlsplit(link).path) or titles.is_attachment_url(link):
                    continue
                label = titles.normalize(platforms.anchor_text(a) or a.root.get("title"))
                if not (navigation.is_disclosure_text(label) or titles.is_column_text(label)):
                    continue
            if label is None:
                label = titles.normalize(platforms.anchor_text(a) or a.root.get("title"))
            target = self._follow(url, link, label, in_tree, root, depth)
            if target:
                link_url, frag = target
                followed += 1
                yield self._request(link_url, site, "column", tree_depth=depth + 1,
                                    column_root=root or _root_dir(link_url), fragment=frag,
                                    from_url=url, entered=not in_tree,
                                    trail=trail + [[link_url, f"年报 column link “{label}”"]] if not in_tree else None)
            elif not in_tree and hops < self.max_nav_hops and self._is_disclosure_link(url, link, label):
                followed += 1
                yield self._request(platforms.strip_fragment(link), site, "start", tree_depth=0,
                                    nav_hops=hops + 1, fragment=urlsplit(link).fragment or None,
                                    trail=trail + [[link, f"disclosure link “{label}”" if label
                                                    else "disclosure URL"]])
        if not in_tree and role == "start" and meta.get("shells", 0) < self.MAX_SHELLS:
            # a frameset or an iframe'd menu (portals of the 2000s): the framed pages are this page's
            # own content, read as it is (the same hop, like a redirect shell)
            frames = platforms.selector(text).xpath("descendant::frame/@src | descendant::iframe/@src").getall()
            for src in (s.strip() for s in frames[:self.MAX_FRAMES]):
                link = urljoin(url, src)
                if not src or src.startswith(("javascript:", "about:", "data:")) \
                        or _host(link) not in hosts or platforms.strip_fragment(link) == platforms.strip_fragment(url):
                    continue
                followed += 1
                yield self._request(platforms.strip_fragment(link), site, "start", tree_depth=0, nav_hops=hops,
                                    shells=meta.get("shells", 0) + 1, framed=True,
                                    fragment=urlsplit(link).fragment or None, trail=trail + [[link, "frame"]])
        if not in_tree and role == "start" and not followed and not listing_pages and not kept:
            self._explain(site["name"], "dead_end", url, trail,
                          f"no link to a disclosure section (政务公开, 信息公开…) or a 年报 column among "
                          f"{len(links)} links" + (f" (hop {hops} of {self.max_nav_hops})" if hops else ""))
        if role == "column" and not kept and not listing_pages and hostile.looks_js_only(
                text, sum(1 for _a, link in links if not _listing_like(link))):
            yield self._record(response.request, hostile.JS_ONLY,
                               "listing with no entries or links (filled by a script)", response.status)

    @staticmethod
    def _is_disclosure_link(page_url: str, link: str, label: str) -> bool:
        if platforms.strip_fragment(link) == platforms.strip_fragment(page_url):
            return False
        if label and any(x in label for x in ("首页", "上一页", "下一页", "返回")):
            return False
        if navigation.is_disclosure_text(label):
            return True
        return (not label or len(label) <= 12) and navigation.is_disclosure_url(link) and not any(
            x in (label or "") for x in navigation.DISCLOSURE_EXCLUDE)

    def _is_column_page(self, text: str, url: str) -> bool:
        if titles.is_column_url(url):
            return True
        sel = platforms.selector(text)
        head = titles.normalize(" ".join(sel.xpath("//title//text()").getall()))
        crumbs = titles.normalize(" ".join(sel.css(".breadcrumb *::text, .crumb *::text, "
                                                   ".position *::text, .location *::text").getall()))
        return any(titles.is_column_text(part) for part in re.split(r"[-_|>＞»/]", head + ">" + crumbs))

    def _follow(self, page_url: str, link: str, label: str, in_tree: bool, root: str | None,
                depth: int) -> tuple[str, str | None] | None:
        """(URL, fragment) of a column/sub-column link worth following, else None.  The caller has
        already kept ``link`` to the site's hosts and to listing-like URLs."""
        if depth >= self.max_tree_depth:
            return None
        parts = urlsplit(link)
        frag = parts.fragment or None
        bare = platforms.strip_fragment(link)
        if bare == platforms.strip_fragment(page_url) and not frag:
            return None
        if titles.is_report_title(label):
            return None
        if any(x in label for x in titles.NAV_EXCLUDE):
            return None
        if generic.is_page_number(label):
            # a pager's numbered link is a page of this listing, not a sub-column with pages of its
            # own: taken as one (generic.numbered_urls) it is counted against crawl.max_listing_pages
            return None
        if not in_tree:
            # from a 政务公开 page: only the 年报 column itself
            if titles.is_column_text(label) or (titles.is_column_url(link) and not label.isdigit()):
                return bare, frag
            return None
        under_root = root is not None and parts.path.startswith(root) and parts.path != root
        if under_root or titles.is_subcolumn_text(label) or titles.is_column_text(label):
            return bare, frag
        return None

    def _entries(self, entries, site, page_url: str):
        kept = 0
        hosts = self._site_hosts(site)
        for e in entries:
            if not titles.is_report_title(e.title) or _host(e.url) not in hosts:
                continue
            kept += 1
            self._stat_site("entries", site["name"])
            if titles.is_attachment_url(e.url):
                yield self._request(e.url, site, "attachment", callback=self.parse_document,
                                    link_title=e.title, listing_date=e.date, report_url=None)
            else:
                yield self._request(e.url, site, "report", callback=self.parse_report,
                                    link_title=e.title, listing_date=e.date)
        return kept

    def _listing_pages(self, pages: list[platforms.PageRequest], response: Response, site):
        """The listing's other pages that fit in crawl.max_listing_pages: a page counts the pager
        hops that led to it (``page_depth``), so an announced count is clamped and an endless
        下一页 chain stops.  A cut is recorded (cap_listing_pages) and the rest of the site goes on."""
        limit = site.get("max_listing_pages") or platforms.MAX_PAGES
        room = max(0, limit - 1 - response.meta.get("page_depth", 0))
        if len(pages) > room:
            more = f"{len(pages)}+" if len(pages) >= platforms.MAX_PAGES else str(len(pages))
            record = self._record(response.request, hostile.CAP_LISTING_PAGES,
                                  f"listing announces {more} more pages; {room} read "
                                  f"(crawl.max_listing_pages {limit})", response.status)
            if record is not None:
                yield record
        return pages[:room]

    def _page_request(self, page: platforms.PageRequest, site, depth: int, root: str | None,
                      referer: str, page_depth: int = 1) -> Request:
        callback = self.parse_data if page.kind == "data" else self.parse_page
        role = "data" if page.kind == "data" else "column"
        return self._request(page.url, site, role, callback=callback, method=page.method,
                             body=page.body, headers=dict(page.headers) or None, tree_depth=depth,
                             column_root=root, platform=page.platform, from_url=referer,
                             form_body=page.body, page_depth=page_depth)

    def parse_data(self, response: Response):
        meta = response.meta
        site = self.sites[meta["site"]]
        self._stat_site("pages", site["name"])
        if response.status >= 400:
            verdict = self._verdict(response)
            yield self._record(response.request, verdict.status if verdict else hostile.HTTP_4XX,
                               verdict.reason if verdict else f"HTTP {response.status}", response.status)
            return
        adapter = platforms.module(meta.get("platform") or "generic")
        try:
            listing = adapter.parse_data(self._text(response), response.url,
                                         referer=meta.get("from_url"), body=meta.get("form_body"))
        except ValueError as e:  # JSON/XML that is not data (a challenge page served as 200)
            verdict = self._verdict(response)
            yield self._record(response.request, verdict.status if verdict else hostile.ERROR,
                               f"unreadable data reply: {e}", response.status)
            return
        yield from self._entries(listing.entries, site, response.url)
        pages = yield from self._listing_pages(listing.pages, response, site)
        for page in pages:
            yield self._page_request(page, site, meta.get("tree_depth", 0), meta.get("column_root"),
                                     meta.get("from_url") or response.url, meta.get("page_depth", 0) + 1)

    # -- reports and attachments -------------------------------------------------------------------
    def _document(self, response: Response, *, report_url: str | None, page_date: str | None = None) -> Document:
        meta = response.meta
        url = response.url  # the file itself (downfile.jsp 302 -> /attach/0/...)
        h = response.headers
        return Document(
            url=url, content=response.body,
            content_type=_content_type(response) or None,
            status=response.status, fetched_at=datetime.now(timezone.utc),
            etag=(h.get("ETag") or b"").decode("latin-1") or None,
            last_modified=(h.get("Last-Modified") or b"").decode("latin-1") or None,
            site=meta.get("site"), link_title=meta.get("link_title"),
            listing_date=meta.get("listing_date"), report_url=report_url, page_date=page_date,
        )

    def parse_report(self, response: Response):
        meta = response.meta
        site = self.sites[meta["site"]]
        url = response.url
        not_modified = response.status == 304
        if not_modified:
            yield self._record(response.request, hostile.NOT_MODIFIED, "not modified", 304)
            text = self._text(response) if response.body else ""
        else:
            if titles.is_attachment_url(response.url) or not self._is_html(response):
                # a listing title that led straight to a file (or a redirect to one)
                yield from self.parse_document(response)
                return
            text = self._text(response)
            verdict = self._verdict(response, text)
            if verdict:
                yield self._record(response.request, verdict.status, verdict.reason, response.status)
                return
            self._stat_site("reports", site["name"])
            yield self._document(response, report_url=url, page_date=self._page_date(text))
        if not text:
            return
        hosts = self._site_hosts(site)
        seen: set[str] = set()
        sel = platforms.selector(text)
        links = [link for _a, link in platforms.anchors(sel, response.url) if titles.is_attachment_url(link)]
        links += self._table_images(sel, response.url, (site.get("selectors") or {}).get("body"))
        for link in links:
            link = platforms.strip_fragment(link)
            if link in seen or _host(link) not in hosts:
                continue
            seen.add(link)
            yield self._request(link, site, "attachment", callback=self.parse_document,
                                link_title=meta.get("link_title"), listing_date=meta.get("listing_date"),
                                report_url=url)

    @staticmethod
    def _table_images(sel: Selector, base_url: str, body_css: str | None = None) -> list[str]:
        """A report page with no <table> but images in its body: the tables are images (图片版)."""
        # any <table>: the first one found ends the walk (//table built a Selector for every table)
        if next(sel.root.iter("table"), None) is not None:
            return []
        out = []
        for body in ((body_css,) if body_css else titles.BODY_SELECTORS):
            for src in sel.css(f"{body} img::attr(src)").getall():
                out.append(urljoin(base_url, src.strip()))
        if not out:  # no known body container: large images only (not logos and icons)
            for img in sel.xpath("descendant::img[@src]"):
                width = re.sub(r"\D", "", img.attrib.get("width", "") or "0") or "0"
                if int(width) >= 400:
                    out.append(urljoin(base_url, img.attrib["src"].strip()))
        return [u for u in out if titles.is_image_url(u)]

    @staticmethod
    def _is_html(response: Response) -> bool:
        ct = _content_type(response).lower()
        return "html" in ct or (not ct and response.body.lstrip()[:1] == b"<")

    @staticmethod
    def _page_date(text: str) -> str | None:
        # the first <meta name=N content=…> of each name, in one walk of the tree (in the order
        # of the names below; four XPath queries walked it four times)
        first: dict[str, str] = {}
        root = platforms.selector(text).root
        for meta in root.iter("meta"):
            name = meta.get("name")
            if name in _DATE_META and name not in first:
                content = meta.get("content")
                if content is not None:
                    first[name] = content
        for name in _DATE_META:
            d = titles.find_date(first.get(name))
            if d:
                return d
        m = _PUBDATE_RE.search(hostile.visible_text_of(root)[:200000])  # the date is near the top
        return titles.find_date(m.group(1)) if m else None

    def parse_document(self, response: Response):
        meta = response.meta
        if response.status == 304:
            yield self._record(response.request, hostile.NOT_MODIFIED, "not modified", 304)
            return
        html = "html" in _content_type(response).lower()
        verdict = self._verdict(response, self._text(response) if html else None)
        if verdict:
            yield self._record(response.request, verdict.status, verdict.reason, response.status)
            return
        if not response.body:
            yield self._record(response.request, hostile.TRUNCATED, "empty body", response.status)
            return
        self._stat_site("attachments", meta.get("site"))
        yield self._document(response, report_url=meta.get("report_url"))
