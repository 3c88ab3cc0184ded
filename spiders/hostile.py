"""Responses that are not content: WAF challenges, soft 404s, login walls, JS-only listings.

A page recognised here is recorded with its ``fetch_status`` and never handed to parsing as a
report.  The heuristics follow ../shared/research/portals.md §9: status, size, and marker strings,
with a positive check (enough real text) because a failed challenge often blanks the page.
Also here: the vocabulary of fetch statuses (failures, policy skips, cap hits), the visible text of
a page (lxml, linear time) and naming transport failures.  Bytes -> text is ``storage.decoding``,
the decoder the parser uses too.
"""
from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from lxml import etree

# -- fetch statuses (the vocabulary of documents.fetch_status / fetches.fetch_status) -----------
OK = "ok"
NOT_MODIFIED = "not_modified"
WAF_412 = "waf_challenge_412"  # 瑞数 RiverSecurity: 412 + $_ts script
WAF_521 = "waf_challenge_521"  # 加速乐 / 创宇盾: 521 (or 512) + __jsl_clearance cookie script
WAF_OTHER = "waf_challenge"  # other challenge pages (安全验证, 请稍候 …)
SOFT_404 = "soft_404"
JS_ONLY = "js_only"
LOGIN_REDIRECT = "login_redirect"
TLS_ERROR = "tls_error"
TIMEOUT = "timeout"
HTTP_5XX = "http_5xx"
HTTP_4XX = "http_4xx"
HTTP_404 = "http_404"
TOO_LARGE = "too_large"
REDIRECT_LOOP = "redirect_loop"
TRUNCATED = "truncated"
DNS_ERROR = "dns_error"
CONNECTION_ERROR = "connection_error"
ERROR = "error"
# policy: a URL we chose not to fetch (counted as skipped, never a failure of the site)
ROBOTS_DISALLOWED = "robots_disallowed"
REFUSED_SCHEME = "refused_scheme"  # not http/https (file:, ftp:, data: …)
REFUSED_OFFSITE = "refused_offsite"  # host:port not among the site's hosts (start URL + allowed_hosts)
REFUSED_ADDRESS = "refused_address"  # resolves to a loopback/private/link-local/reserved address
#: a disclosure-section link found on the way to the 年报 column (not the configured start URL, not a
#: column) that is gone (404, a "page not found" page): portals keep dead menu entries after redesigns
NAV_DEAD_END = "nav_dead_end"
# caps: the crawl of a site was cut short (a failure: the site was not read to its end)
CAP_SITE_PAGES = "cap_site_pages"  # crawl.max_pages_per_site / sites[].max_pages
CAP_LISTING_PAGES = "cap_listing_pages"  # crawl.max_listing_pages: page count clamped, pager chain cut

FAILURE_STATUSES = (
    WAF_412, WAF_521, WAF_OTHER, SOFT_404, JS_ONLY, LOGIN_REDIRECT, TLS_ERROR, TIMEOUT, HTTP_5XX,
    HTTP_4XX, HTTP_404, TOO_LARGE, REDIRECT_LOOP, TRUNCATED, DNS_ERROR, CONNECTION_ERROR, ERROR,
    CAP_SITE_PAGES, CAP_LISTING_PAGES,
)
SKIP_STATUSES = (ROBOTS_DISALLOWED, REFUSED_SCHEME, REFUSED_OFFSITE, REFUSED_ADDRESS, NAV_DEAD_END)
#: what a gone navigation page answers (recorded as NAV_DEAD_END on a navigation hop); a 403 or a
#: challenge may be the site refusing us, and stays a failure
GONE_STATUSES = (HTTP_404, SOFT_404)
CAP_STATUSES = (CAP_SITE_PAGES, CAP_LISTING_PAGES)

SOFT_404_MARKERS = ("页面不存在", "找不到", "页面未找到", "您访问的页面", "404 Not Found", "Page Not Found",
                    "该信息已删除", "信息不存在", "页面已删除")
WAF_MARKERS = ("安全验证", "请稍候", "访问异常", "访问受限", "滑动验证", "人机验证")
LOGIN_MARKERS = ("login", "passport", "sso", "cas/", "denglu")
LOGIN_TEXT = ("用户登录", "请登录", "统一身份认证", "账号登录")
_TS_RE = re.compile(r"\$_ts\s*=|\$_ts\.")
_JSL_RE = re.compile(r"__jsl_clearance|__jsluid")
_WS_RE = re.compile(r"\s+")
_INVISIBLE = ("script", "style", "noscript", "template")
#: Bodies above this size are decoded and read off the reactor thread
#: (``crawler.middlewares.OffThreadDecodeMiddleware``).
LARGE_BODY = 256 * 1024


def _tree(html: str):
    """An lxml tree of ``html`` (None when empty): libxml2's parser is linear on any input."""
    if not html or not html.strip():
        return None
    parser = etree.HTMLParser(encoding="utf-8", remove_comments=True, remove_pis=True, no_network=True)
    try:
        return etree.fromstring(html.encode("utf-8", "replace"), parser)
    except (etree.ParserError, etree.XMLSyntaxError, ValueError):
        return None


#: (text, its visible text) of the last call: the spider asks for the visible text of one page
#: twice (the hostile verdict, then the page date); an identity test, so it costs nothing.
_last_visible: tuple[str, str] = ("", "")


def visible_text(html: str) -> str:
    """The page's visible text: scripts, styles and tags dropped, whitespace collapsed."""
    last = _last_visible  # one read: the tuple may be replaced by another thread meanwhile
    if html is last[0]:
        return last[1]
    root = _tree(html)
    if root is None:
        return ""
    etree.strip_elements(root, *_INVISIBLE, with_tail=False)
    out = _WS_RE.sub(" ", " ".join(root.itertext())).strip()
    _remember_visible(html, out)
    return out


def _remember_visible(html: str, visible: str) -> None:
    global _last_visible
    _last_visible = (html, visible)


#: Every text node, and those inside scripts, styles, noscript and templates, in document order
#: (XPath's text() never returns comments or processing instructions).  Two plain queries and a
#: merge: one query with a ``not(ancestor::…)`` predicate took 8× as long on a 63 KB report page.
_TEXT_NODES = etree.XPath("//text()", smart_strings=False)  # plain str: no element proxy per node
_HIDDEN_TEXT_NODES = etree.XPath("//script//text()|//style//text()|//noscript//text()|//template//text()",
                                 smart_strings=False)


def visible_text_of(root) -> str:
    """``visible_text`` of a tree the caller has already parsed (the spider's parsel tree of a
    page), read without modifying it: a report page is then parsed once, not twice.

    The hidden texts are a subsequence of all texts, dropped by walking both lists together; a
    visible text equal to the next hidden one is dropped in its place (the same string, so the
    text differs at most in the order of two equal pieces).  Also where a comment splits a text
    (``一<!-- -->二``) this keeps a space between the halves.  On every page saved from a portal
    in the tests both readings are equal."""
    if root is None:
        return ""
    texts, hidden = _TEXT_NODES(root), _HIDDEN_TEXT_NODES(root)
    if hidden:
        kept, i, n = [], 0, len(hidden)
        for t in texts:
            if i < n and t == hidden[i]:
                i += 1
            else:
                kept.append(t)
        texts = kept
    return _WS_RE.sub(" ", " ".join(texts)).strip()


def visible_may_matter(snippet: str, body_size: int) -> bool:
    """Whether a verdict below can depend on the page's visible text: a challenge script, a small
    page, or login words (as text, or behind character references) beside a password field.  A
    large page with none of these is content whatever its visible text, so it is not read (the
    tree cost a report page as much as the spider's own parse)."""
    if body_size < 4096 or _TS_RE.search(snippet) or _JSL_RE.search(snippet):
        return True
    escaped = "&#" in snippet  # visible text may hold words the raw markup spells as &#NNNN;
    return ((escaped or any(m in snippet for m in LOGIN_TEXT))
            and (escaped or "密码" in snippet or "password" in snippet.lower()))


@dataclass
class FetchRecord:
    """A fetch that brought no content to store: 304, challenge, soft 404, timeout, 5xx…"""

    url: str
    site: str | None
    role: str  # start | column | data | report | attachment
    http_status: int | None
    fetch_status: str
    error: str | None = None
    method: str = "GET"


@dataclass(frozen=True)
class Verdict:
    status: str
    reason: str


def classify_response(status: int, url: str, body: bytes, *, text: str | None = None,
                      set_cookies: list[str] | None = None, redirect_urls: list[str] | None = None,
                      content_type: str | None = None, visible: str | None = None) -> Verdict | None:
    """A hostile verdict for a received response, or None if it looks like content.

    ``visible`` is ``visible_text`` of the page's head (first 64 K characters) when the caller
    already has it (computed off the reactor thread for large pages)."""
    head = body[:65536]
    # without a text (an attachment, a data reply) a lossy UTF-8 view is enough to spot markers
    snippet = text[:65536] if text is not None else head.decode("utf-8", "replace")
    cookies = " ".join(set_cookies or [])
    if status == 412 and (_TS_RE.search(snippet) or len(body) < 20000):
        return Verdict(WAF_412, "HTTP 412 challenge (瑞数 $_ts script)")
    if status in (521, 512) or (_JSL_RE.search(cookies) and status >= 400):
        return Verdict(WAF_521, f"HTTP {status} challenge (加速乐 __jsl_clearance)")
    if status >= 500:
        return Verdict(HTTP_5XX, f"HTTP {status}")
    if status == 404:
        return Verdict(HTTP_404, "HTTP 404")
    if status >= 400 and status != 412:
        return Verdict(HTTP_4XX, f"HTTP {status}")
    if status == 412:
        return Verdict(WAF_412, "HTTP 412")
    ct = (content_type or "").lower()
    is_html = "html" in ct or head.lstrip()[:1] == b"<" or not ct
    # login wall: we asked for a page and were redirected to a login/SSO URL
    final = url.lower()
    if redirect_urls and any(m in final for m in LOGIN_MARKERS):
        return Verdict(LOGIN_REDIRECT, f"redirected to a login page {url}")
    if not is_html or "xml" in ct or "json" in ct:
        return None
    if visible is None:
        if not visible_may_matter(snippet, len(body)):
            return None
        visible = visible_text(snippet)
    if _TS_RE.search(snippet) and len(visible) < 200:
        return Verdict(WAF_412, "$_ts challenge script served with status 200")
    if _JSL_RE.search(snippet) and len(visible) < 200:
        return Verdict(WAF_521, "__jsl_clearance challenge script served with status 200")
    if len(body) < 4096 and any(m in visible for m in SOFT_404_MARKERS):
        return Verdict(SOFT_404, "status 200 page saying the page does not exist")
    if len(body) < 4096 and any(m in visible for m in WAF_MARKERS) and len(visible) < 200:
        return Verdict(WAF_OTHER, "challenge page (安全验证/请稍候)")
    if any(m in visible for m in LOGIN_TEXT) and len(visible) < 400 and (
            "password" in snippet.lower() or "密码" in visible):
        return Verdict(LOGIN_REDIRECT, "login form instead of content")
    return None


_XHR_MARKERS = re.compile(r"XMLHttpRequest|\$\.(?:ajax|get|post|getJSON)\b|\bfetch\(|axios|new Vue\b|"
                          r"createApp\(|ReactDOM|loadList|\bapi/|\.json\b|id=[\"']app[\"']", re.I)
_NOSCRIPT_RE = re.compile(r"<noscript>[^<]*(?:JavaScript|javascript|脚本)", re.I)


def looks_js_only(html: str, entry_links: int | None = None) -> bool:
    """A listing whose entries are filled in by a script we do not run: a script that fetches data
    (or a <noscript> asking for JavaScript) and no entry links.  ``entry_links`` is the number of
    links to articles/files the caller found; without it, links with 8+ characters of text count
    (navigation labels are shorter)."""
    if not (_XHR_MARKERS.search(html) or _NOSCRIPT_RE.search(html)):
        return False
    if entry_links is not None:
        return entry_links == 0
    root = _tree(html)
    for a in (root.iter("a") if root is not None else ()):
        if a.get("href") is not None and len(_WS_RE.sub(" ", "".join(a.itertext())).strip()) >= 8:
            return False
    return True


# -- the site's hosts ----------------------------------------------------------------------------
def site_netlocs(start_url: str, allowed_hosts: list[str]) -> frozenset[str]:
    """The host:port pairs of a site.  A host named without a port (the start URL's included, when
    it has none) may be reached on 80 and 443: portals move between http and https; a host name
    also stands for its ``www.`` twin (or the bare name of a ``www.`` host)."""
    out: set[str] = set()
    start = urlsplit(start_url)
    names = [(start.hostname or "", start.port)]
    for h in allowed_hosts:
        p = urlsplit(f"//{h.strip()}")
        names.append((p.hostname or "", p.port))
    for host, port in names:
        if not host:
            continue
        host = host.lower()
        # example.gov.cn and www.example.gov.cn are one owner: portals redirect between them
        twins = [host]
        if not _is_ip(host):
            twins.append(host[4:] if host.startswith("www.") else f"www.{host}")
        for h in twins:
            if port:
                out.add(f"{h}:{port}")
            else:
                out.update({f"{h}:80", f"{h}:443"})
    return frozenset(out)


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
        return True
    except ValueError:
        return False


# -- transport failures ---------------------------------------------------------------------------
def classify_failure(exc: BaseException) -> Verdict:
    """Name a download failure (the exception of a Twisted Failure)."""
    named = getattr(exc, "fetch_status", None)  # the URL policy's refusals name themselves
    if isinstance(named, str):
        return Verdict(named, str(exc))
    name = type(exc).__name__
    module = type(exc).__module__
    text = f"{module}.{name}: {exc}"
    low = text.lower()
    if name == "RedirectLoop" or "redirect loop" in low or "max redirections" in low:
        return Verdict(REDIRECT_LOOP, str(exc) or "redirect loop")
    if name == "HttpError":
        resp = getattr(exc, "response", None)
        st = getattr(resp, "status", 0)
        if st == 412:
            return Verdict(WAF_412, "HTTP 412")
        if st in (521, 512):
            return Verdict(WAF_521, f"HTTP {st}")
        if st >= 500:
            return Verdict(HTTP_5XX, f"HTTP {st}")
        if st == 404:
            return Verdict(HTTP_404, "HTTP 404")
        return Verdict(HTTP_4XX, f"HTTP {st}")
    if name == "DownloadCancelledError" or "larger than download max size" in low or "max size" in low:
        return Verdict(TOO_LARGE, str(exc))
    if "timeout" in low or "timedout" in low or "took longer than" in low:
        return Verdict(TIMEOUT, str(exc) or name)
    if "ssl" in low or "tls" in low or "certificate" in low or "handshake" in low:
        return Verdict(TLS_ERROR, text)
    if "dataloss" in low or "data loss" in low or "_DataLoss" in text or "PotentialDataLoss" in text:
        return Verdict(TRUNCATED, "response body shorter than announced (data loss)")
    if name == "ResponseFailed" or "ResponseNeverReceived" in name:
        inner = " ".join(repr(r) for r in getattr(exc, "reasons", []))
        il = inner.lower()
        if "ssl" in il or "tls" in il or "certificate" in il:
            return Verdict(TLS_ERROR, inner)
        if "dataloss" in il:
            return Verdict(TRUNCATED, "response body shorter than announced (data loss)")
        return Verdict(CONNECTION_ERROR, inner or text)
    if name == "IgnoreRequest" and "robots" in low:
        return Verdict(ROBOTS_DISALLOWED, "forbidden by robots.txt")
    if "dnslookup" in low or "dns" in name.lower():
        return Verdict(DNS_ERROR, text)
    if "connection" in low or "refused" in low:
        return Verdict(CONNECTION_ERROR, text)
    return Verdict(ERROR, text)
