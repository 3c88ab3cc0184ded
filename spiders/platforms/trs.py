"""TRS WCM (拓尔思) static listings: index.html, index_1.html … announced by createPageHTML/countPage.

- 4 arguments: ``createPageHTML(count, current(0-based), "index", "html")``; page i>0 is
  ``index_i.html`` in the same directory.
- 6 arguments: ``createPageHTML('page_div', count, current(1-based), 'name', 'ext', records)``;
  page N≥2 is ``name_N.ext``.
- ``var countPage = N`` (with ``currentPage``): pages as the 4-argument form, base name and
  extension taken from the page's own URL.
"""
from __future__ import annotations

import re
from urllib.parse import urljoin, urlsplit

from spiders.platforms import MAX_PAGES, Listing, PageRequest, html_entries

NAME = "trs"

_CPH4 = re.compile(r"createPageHTML\(\s*(\d+)\s*,\s*(\d+)\s*,\s*['\"]([\w\-]+)['\"]\s*,\s*['\"](\w+)['\"]\s*\)")
_CPH6 = re.compile(
    r"createPageHTML\(\s*['\"][\w\-]+['\"]\s*,\s*(\d+)\s*,\s*(\d+)\s*,\s*['\"]([\w\-]+)['\"]\s*,"
    r"\s*['\"](\w+)['\"]\s*(?:,\s*\d+\s*)?\)")
_COUNT = re.compile(r"countPage\s*=\s*(\d+)")
_CURRENT = re.compile(r"currentPage\s*=\s*(\d+)")
_ARTICLE = re.compile(r"/\d{6}/t\d{8}_\d+\.s?html?$")
_MARKERS = ("TRS_Editor", "trs_editor_view", "TRS_UEDITOR", "@trs.com.cn", "createPageHTML")


def detect(text: str, url: str) -> bool:
    return bool(_CPH4.search(text) or _CPH6.search(text) or _COUNT.search(text)
                or any(m in text for m in _MARKERS) or _ARTICLE.search(urlsplit(url).path))


def page_urls(text: str, url: str) -> list[str]:
    """All other pages of this listing, announced by the first page."""
    m6 = _CPH6.search(text)
    if m6:
        count, current, name, ext = min(int(m6[1][:7]), MAX_PAGES + 1), int(m6[2][:7]), m6[3], m6[4]
        if current != 1:
            return []
        return [urljoin(url, f"{name}_{i}.{ext}") for i in range(2, count + 1)]
    m4 = _CPH4.search(text)
    if m4:
        count, current, name, ext = min(int(m4[1][:7]), MAX_PAGES + 1), int(m4[2][:7]), m4[3], m4[4]
        if current != 0:
            return []
        return [urljoin(url, f"{name}_{i}.{ext}") for i in range(1, count)]
    mc = _COUNT.search(text)
    if mc:
        count = min(int(mc[1][:7]), MAX_PAGES + 1)
        cur = _CURRENT.search(text)
        if cur and int(cur[1][:7]) not in (0, 1):
            return []
        last = urlsplit(url).path.rsplit("/", 1)[-1]
        name, _, ext = (last.partition(".") if "." in last else ("index", ".", "html"))
        name = re.sub(r"_\d+$", "", name or "index")
        return [urljoin(url, f"{name}_{i}.{ext or 'html'}") for i in range(1, count)]
    return []


def listing(text: str, url: str, selectors: dict | None = None) -> Listing:
    css = (selectors or {}).get("list_item")
    return Listing(entries=html_entries(text, url, css),
                   pages=[PageRequest(u, platform=NAME) for u in page_urls(text, url)])
