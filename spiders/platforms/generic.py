"""Generic listings: entries are the page's links; other pages through 下一页 / 下页 / 尾页 links.

Also covers VSB/博达 (/info/<col>/<id>.htm) and NFCMS portal columns (content/post_<id>.html),
whose listings are plain static HTML.
"""
from __future__ import annotations

import re
from urllib.parse import urljoin

from spiders import titles
from spiders.platforms import Listing, PageRequest, html_entries, selector

NAME = "generic"
NEXT_TEXTS = ("下一页", "下页", "后一页", "下一頁", ">>", "›", "»")


def detect(text: str, url: str) -> bool:
    return True


def next_urls(text: str, url: str, css: str | None = None) -> list[str]:
    sel = selector(text)
    out: list[str] = []
    nodes = sel.css(css) if css else sel.xpath("//a[@href]")
    for a in nodes:
        label = titles.normalize(" ".join(a.xpath(".//text()").getall()) or a.attrib.get("title", ""))
        href = (a.attrib.get("href") or "").strip()
        if not href or href.startswith("javascript:") or href == "#":
            continue
        if css or label in NEXT_TEXTS or label.replace(" ", "") in NEXT_TEXTS:
            link = urljoin(url, href)
            if link != url:
                out.append(link)
    return out


def listing(text: str, url: str, selectors: dict | None = None) -> Listing:
    sel = selectors or {}
    pages = [PageRequest(u, platform=NAME) for u in next_urls(text, url, sel.get("next_page"))]
    return Listing(entries=html_entries(text, url, sel.get("list_item")), pages=pages)


_PAGE_LINK = re.compile(r"下一页|下页|尾页|末页")


def has_pager(text: str) -> bool:
    return bool(_PAGE_LINK.search(text))
