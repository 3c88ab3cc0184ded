"""Generic listings: entries are the page's links; other pages through 下一页 / 下页 / 尾页 links
(a static numbered pager, "2 3 … 300", is read by the spider inside the 年报 tree: ``numbered_urls``).

Also covers VSB/博达 (/info/<col>/<id>.htm) and NFCMS portal columns (content/post_<id>.html),
whose listings are plain static HTML.
"""
from __future__ import annotations

import re
from urllib.parse import urljoin, urlsplit

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


def _links(text: str, css: str | None = None):
    """(label, href) of the page's links; lxml's elements, not parsel's (a listing of 10,000 links
    took a second a page through parsel)."""
    sel = selector(text)
    nodes = [n.root for n in sel.css(css)] if css else sel.root.xpath("descendant::a[@href]")
    for a in nodes:
        if not hasattr(a, "itertext"):  # (a css selector may pick text or attributes)
            continue
        href = (a.get("href") or "").strip()
        if href and not href.startswith("javascript:") and href != "#":
            yield titles.normalize(" ".join(a.itertext()) or a.get("title", "")), href


def next_urls(text: str, url: str, css: str | None = None) -> list[str]:
    """The listing's next pages: its 下一页 links (or ``css``'s)."""
    out: list[str] = []
    for label, href in _links(text, css):
        if css or label in NEXT_TEXTS or label.replace(" ", "") in NEXT_TEXTS:
            link = urljoin(url, href)
            if link != url:
                out.append(link)
    return out


def numbered_urls(text: str, url: str) -> list[str]:
    """The pages a pager names by number ("2 3 … 300"), in page order, each once: links of the
    listing's own directory (index_2.html) or path (?page=2) only, so that an article or another
    column numbered in a list is not taken for a page; "1" is the page the listing starts at,
    reached already (as dir/ or dir/index.html)."""
    here = urlsplit(url)
    directory = here.path.rsplit("/", 1)[0]
    out: dict[str, None] = {}
    for label, href in _links(text):
        label = label.replace(" ", "")
        if not is_page_number(label) or label.strip("[]") == "1":
            continue
        link = urljoin(url, href)
        parts = urlsplit(link)
        if link == url or parts.netloc != here.netloc or (
                parts.path != here.path and parts.path.rsplit("/", 1)[0] != directory):
            continue
        out[link] = None
        if len(out) > MAX_PAGES:
            break
    return list(out)


def listing(text: str, url: str, selectors: dict | None = None) -> Listing:
    sel = selectors or {}
    pages = [PageRequest(u, platform=NAME) for u in next_urls(text, url, sel.get("next_page"))]
    return Listing(entries=html_entries(text, url, sel.get("list_item")), pages=pages)


_PAGE_LINK = re.compile(r"下一页|下页|尾页|末页")


def has_pager(text: str) -> bool:
    return bool(_PAGE_LINK.search(text))
