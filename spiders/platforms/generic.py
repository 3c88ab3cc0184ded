"""Generic listings: entries are the page's links; other pages through 下一页 / 下页 / 尾页 links,
else through the numbered page links of the pager ("1 2 3 … 300").

Also covers VSB/博达 (/info/<col>/<id>.htm) and NFCMS portal columns (content/post_<id>.html),
whose listings are plain static HTML.
"""
from __future__ import annotations

import re
from urllib.parse import urljoin

from spiders import titles
from spiders.platforms import MAX_PAGES, Listing, PageRequest, html_entries, selector

NAME = "generic"
NEXT_TEXTS = ("下一页", "下页", "后一页", "下一頁", ">>", "›", "»")
#: A pager's page number as a link text ("2", "[3]"); a year (2024) is a year sub-column's.
_PAGE_NUMBER = re.compile(r"^\[?\d{1,4}\]?$")
_YEAR = re.compile(r"^\[?(?:19|20)\d{2}\]?$")


def is_page_number(label: str) -> bool:
    return bool(_PAGE_NUMBER.match(label)) and not _YEAR.match(label)


def detect(text: str, url: str) -> bool:
    return True


def next_urls(text: str, url: str, css: str | None = None) -> list[str]:
    """The listing's next pages: the 下一页 links (or ``css``'s), else its numbered page links in
    page order (the spider reads as many as crawl.max_listing_pages lets it, counted per hop)."""
    sel = selector(text)
    out: list[str] = []
    numbered: dict[str, None] = {}  # in page order, each once
    # lxml's elements, not parsel's: a listing of 10,000 links took a second a page through parsel
    nodes = [n.root for n in sel.css(css)] if css else sel.root.xpath("descendant::a[@href]")
    for a in nodes:
        if not hasattr(a, "itertext"):  # (a css selector may pick text or attributes)
            continue
        label = titles.normalize(" ".join(a.itertext()) or a.get("title", ""))
        href = (a.get("href") or "").strip()
        if not href or href.startswith("javascript:") or href == "#":
            continue
        if css or label in NEXT_TEXTS or label.replace(" ", "") in NEXT_TEXTS:
            link = urljoin(url, href)
            if link != url:
                out.append(link)
        elif not out and len(numbered) <= MAX_PAGES and is_page_number(label.replace(" ", "")):
            link = urljoin(url, href)
            if link != url:
                numbered[link] = None
    return out or list(numbered)


def listing(text: str, url: str, selectors: dict | None = None) -> Listing:
    sel = selectors or {}
    pages = [PageRequest(u, platform=NAME) for u in next_urls(text, url, sel.get("next_page"))]
    return Listing(entries=html_entries(text, url, sel.get("list_item")), pages=pages)


_PAGE_LINK = re.compile(r"下一页|下页|尾页|末页")


def has_pager(text: str) -> bool:
    return bool(_PAGE_LINK.search(text))
