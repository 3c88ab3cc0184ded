"""Responses that are not content: WAF challenges, soft 404s, login walls, JS-only listings.

A page recognised here is recorded with its ``fetch_status`` and never handed to parsing as a
report.  The heuristics follow ../shared/research/portals.md §9: status, size, and marker strings,
with a positive check (enough real text) because a failed challenge often blanks the page.
Also here: decoding pages that declare no charset (GBK sites), and naming transport failures.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

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
ROBOTS_DISALLOWED = "robots_disallowed"
ERROR = "error"

FAILURE_STATUSES = (
    WAF_412, WAF_521, WAF_OTHER, SOFT_404, JS_ONLY, LOGIN_REDIRECT, TLS_ERROR, TIMEOUT, HTTP_5XX,
    HTTP_4XX, HTTP_404, TOO_LARGE, REDIRECT_LOOP, TRUNCATED, DNS_ERROR, CONNECTION_ERROR,
    ROBOTS_DISALLOWED, ERROR,
)

SOFT_404_MARKERS = ("页面不存在", "找不到", "页面未找到", "您访问的页面", "404 Not Found", "Page Not Found",
                    "该信息已删除", "信息不存在", "页面已删除")
WAF_MARKERS = ("安全验证", "请稍候", "访问异常", "访问受限", "滑动验证", "人机验证")
LOGIN_MARKERS = ("login", "passport", "sso", "cas/", "denglu")
LOGIN_TEXT = ("用户登录", "请登录", "统一身份认证", "账号登录")
_TS_RE = re.compile(r"\$_ts\s*=|\$_ts\.")
_JSL_RE = re.compile(r"__jsl_clearance|__jsluid")
_TAG_RE = re.compile(r"<(script|style)\b.*?</\1>|<[^>]+>", re.S | re.I)


def visible_text(html: str) -> str:
    """Rough visible text: tags, scripts and styles dropped, whitespace collapsed."""
    return re.sub(r"\s+", " ", _TAG_RE.sub(" ", html)).strip()


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
                      content_type: str | None = None) -> Verdict | None:
    """A hostile verdict for a received response, or None if it looks like content."""
    head = body[:65536]
    try:
        snippet = text if text is not None else head.decode("utf-8", "replace")
    except Exception:  # pragma: no cover - decode with replace cannot fail
        snippet = ""
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
_ANCHOR_RE = re.compile(r"<a\b[^>]*href[^>]*>(.*?)</a>", re.S | re.I)


def looks_js_only(html: str, entry_links: int | None = None) -> bool:
    """A listing whose entries are filled in by a script we do not run: a script that fetches data
    (or a <noscript> asking for JavaScript) and no entry links.  ``entry_links`` is the number of
    links to articles/files the caller found; without it, links with 8+ characters of text count
    (navigation labels are shorter)."""
    if not (_XHR_MARKERS.search(html) or _NOSCRIPT_RE.search(html)):
        return False
    if entry_links is not None:
        return entry_links == 0
    for inner in _ANCHOR_RE.findall(html):
        if len(visible_text(inner)) >= 8:
            return False
    return True


# -- charset ------------------------------------------------------------------------------------
_META_CHARSET_RE = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_\-]+)""", re.I)
_GBK_NAMES = {"gbk", "gb2312", "gb18030", "x-gbk", "cp936", "euc-cn"}


def declared_charset(content_type: str | None, body: bytes) -> str | None:
    """The charset from the Content-Type header, else from a <meta> in the first 4 KB."""
    if content_type:
        m = re.search(r"charset\s*=\s*[\"']?([A-Za-z0-9_\-]+)", content_type, re.I)
        if m:
            return m.group(1).lower()
    m = _META_CHARSET_RE.search(body[:4096])
    return m.group(1).decode("ascii").lower() if m else None


def decode_html(content_type: str | None, body: bytes) -> tuple[str, str]:
    """(text, encoding): trusts a declared charset (GBK family read as gb18030), else sniffs.

    Pages with no declared charset are tried as UTF-8 first and, failing that, as gb18030 (the
    usual case on Chinese government hosts), with charset-normalizer as the last resort.
    """
    cs = declared_charset(content_type, body)
    if cs in _GBK_NAMES:
        cs = "gb18030"
    if cs:
        try:
            return body.decode(cs), cs
        except (LookupError, UnicodeDecodeError):
            pass
    try:
        return body.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        return body.decode("gb18030"), "gb18030"
    except UnicodeDecodeError:
        pass
    from charset_normalizer import from_bytes  # only for the odd page

    best = from_bytes(body).best()
    if best is not None:
        return str(best), best.encoding
    return body.decode("utf-8", "replace"), "utf-8"


# -- transport failures ---------------------------------------------------------------------------
def classify_failure(exc: BaseException) -> Verdict:
    """Name a download failure (the exception of a Twisted Failure)."""
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
