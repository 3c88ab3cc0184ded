"""From any page of a portal to its 年报 column: the disclosure section's links and redirect shells.

Pure functions on a page's text, so they are tested on fixture pages without a crawl.  The spider
(spiders/portal.py) follows, from a page outside the 年报 tree:

- a link to the 年报 column itself (titles.is_column_text / is_column_url), else
- a link to the disclosure section (政务公开, 信息公开, 政府信息公开, 公开目录…, by its text or by one
  of the URL slugs of research/portals.md), at most ``max_hops`` such hops from the start URL;

and a page that is only a redirect shell (``location.replace('./…')``, ``location.href = …``,
``<meta http-equiv="refresh" content="0;url=…">``) is read as a redirect to its target.
"""
from __future__ import annotations

import re
from urllib.parse import urljoin, urlsplit

from spiders import titles

#: Link texts of the disclosure section (a short link text containing one of them).
DISCLOSURE_TEXTS = ("政府信息公开", "信息公开", "政务公开", "公开目录", "信息公开目录", "政府公开", "政务信息公开")
#: ... except those that name a page inside it that is not a way to the 年报 column.
DISCLOSURE_EXCLUDE = ("指南", "制度", "申请", "规定", "意见", "咨询", "监督", "举报", "邮箱", "统计", "规范",
                      "工作要点", "工作报告", "专栏建设", "平台建设", "办法", "通知", "说明", "会议", "召开", "培训")
#: Path segments of disclosure sections seen on real portals (portals.md §2.1, §3, §4, §5, §8).
DISCLOSURE_SLUGS = ("zwgk", "xxgk", "zfxxgk", "gkml", "xxgkml", "zfxxgkml", "zfxxgkzl", "zfxxgkpt", "gongkai",
                    "publicity", "zwxxgk", "govinfo", "gk", "gkmlpt", "szfxxgk", "bmxxgk")
_SLUG_RE = re.compile(r"^(?:" + "|".join(sorted(DISCLOSURE_SLUGS, key=len, reverse=True)) + r")(?:_?\d+)?$", re.I)
#: A shell's visible text is at most this long (real ones are ~160 bytes in all).
SHELL_MAX_TEXT = 200

_JS_REDIRECT = re.compile(
    r"""(?:window\.|document\.|self\.|top\.)?location(?:\.href)?\s*(?:=|\.replace\s*\(|\.assign\s*\()\s*"""
    r"""(['"])(?P<url>[^'"]{1,500})\1""")
_META_REFRESH = re.compile(
    r"""<meta[^>]+http-equiv\s*=\s*['"]?refresh['"]?[^>]*content\s*=\s*['"]\s*\d*\s*[;,]?\s*(?:url\s*=\s*)?"""
    r"""['"]?(?P<url>[^'">]+)""", re.I)
_META_REFRESH_REV = re.compile(
    r"""<meta[^>]+content\s*=\s*['"]\s*\d*\s*[;,]\s*(?:url\s*=\s*)?['"]?(?P<url>[^'">]+)['"][^>]*"""
    r"""http-equiv\s*=\s*['"]?refresh""", re.I)
_TAGS = re.compile(r"<(script|style)\b.*?</\1>|<[^>]+>", re.S | re.I)


def is_disclosure_text(text: str | None) -> bool:
    t = titles.normalize(text).replace(" ", "")
    if not t or len(t) > 10:
        return False
    return any(k in t for k in DISCLOSURE_TEXTS) and not any(x in t for x in DISCLOSURE_EXCLUDE)


def is_disclosure_url(url: str) -> bool:
    """A URL whose path is a disclosure section's directory (…/zwgk/, /xxgk/index.html, /gkmlpt/index)."""
    path = urlsplit(url).path
    segments = [s for s in path.split("/") if s]
    if not segments:
        return False
    last = segments[-1]
    if "." in last or last == "index":
        if not last.startswith(("index", "default")):
            return False
        segments = segments[:-1]
    return bool(segments) and bool(_SLUG_RE.match(segments[-1]))


def redirect_target(text: str, url: str) -> tuple[str, str] | None:
    """(target URL, how) when the page is a redirect shell, else None.

    A meta refresh counts on any page; a script assignment to ``location`` only on a page with
    almost no visible text (a full page may carry such a script in a menu handler).
    """
    head = text[:20000]
    m = _META_REFRESH.search(head) or _META_REFRESH_REV.search(head)
    if m:
        target = m.group("url").strip()
        if target:
            return urljoin(url, target), "meta refresh"
    if len(text) > 20000 or "location" not in text:  # (the pattern's literal: a cheap test first)
        return None
    m = _JS_REDIRECT.search(text)
    if not m:
        return None
    visible = re.sub(r"\s+", "", _TAGS.sub(" ", text))
    if len(visible) > SHELL_MAX_TEXT:
        return None
    target = m.group("url").strip()
    if target.startswith(("javascript:", "#")):
        return None
    how = "location.replace" if ".replace" in m.group(0) else "location.href"
    return urljoin(url, target), how


def other_scheme(url: str) -> str | None:
    """The same URL over http when it was https, and the reverse (http-only and https-only hosts)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        return None
    swapped = "http" if parts.scheme == "https" else "https"
    return swapped + url[len(parts.scheme):]
