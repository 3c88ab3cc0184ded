"""Platform adapters: how a listing page of one CMS family yields its entries and its other pages.

Each module (trs, hanweb, jpaas, xxgk_module, gkmlpt, ucap, vsb, generic) offers the same pure functions, so they can be tested
on fixture pages without a crawl:

- ``detect(text, url) -> bool``: this page was published by that platform (from the page itself,
  never from a site name);
- ``listing(text, url, selectors) -> Listing``: the entries of a listing page and the requests for
  its other pages (static index_N.html, a POST to dataproxy.jsp, a JSON API page…);
- optionally ``parse_data(text, url) -> Listing`` for the data responses those requests return.

The spider (spiders/portal.py) turns ``PageRequest`` into Scrapy requests and keeps entries by title.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from urllib.parse import urljoin, urlsplit, urlunsplit

from lxml import etree
from parsel import Selector

from spiders import titles


#: Ceiling on the pages a listing may announce (TRS createPageHTML/countPage, Hanweb totalrecord,
#: gkmlpt total): a count read from a page is hostile (``createPageHTML(1000000,0,…)``), so adapters
#: never make more page requests than this; the spider cuts further at crawl.max_listing_pages.
MAX_PAGES = 1000


@dataclass(frozen=True)
class Entry:
    url: str
    title: str
    date: str | None = None  # YYYY-MM-DD shown beside the entry


@dataclass(frozen=True)
class PageRequest:
    """Another page of the same listing."""

    url: str
    kind: str = "html"  # html | data (the adapter's parse_data reads it)
    platform: str = "generic"
    method: str = "GET"
    body: str | None = None
    headers: tuple[tuple[str, str], ...] = ()


@dataclass
class Listing:
    entries: list[Entry] = field(default_factory=list)
    pages: list[PageRequest] = field(default_factory=list)


def strip_fragment(url: str) -> str:
    p = urlsplit(url)
    return urlunsplit((p.scheme, p.netloc, p.path, p.query, ""))


#: Text XPaths of an anchor, compiled once and run on its lxml element (parsel's ``a.xpath`` wraps
#: every text node in a Selector and re-looks the query up: the bulk of a listing's per-link cost).
#: ``smart_strings=False`` as parsel: plain str, the same values as ``a.xpath(q).getall()``.
_TEXT = etree.XPath(".//text()", smart_strings=False)
_TEXT_NO_DATE = etree.XPath(".//text()[not(ancestor::span[contains(@class,'date') or contains(@class,'time')])]",
                            smart_strings=False)


def anchor_text(a: Selector) -> str:
    """" ".join of the anchor's text nodes (``a.xpath(".//text()").getall()``)."""
    return " ".join(_TEXT(a.root))


def anchor_title(a: Selector) -> str:
    """The full title of a listing anchor: @title first (texts are cut with …), else its text."""
    title = titles.clean(a.root.get("title"))
    if title:
        return title
    # text without the date span that some templates put inside the <a>
    parts = [titles.clean(t) for t in _TEXT_NO_DATE(a.root)]
    text = " ".join(p for p in parts if p)
    date = titles.find_date(text)
    if date:
        text = titles.DATE_RE.sub("", text).strip(" []【】()")
    return text


def entry_date(a: Selector) -> str | None:
    """The date beside an entry: inside the <a>, or in its row (li / tr / dd / div / p)."""
    title_text = anchor_text(a)
    own = titles.find_date(title_text)
    if own and not titles.is_report_title(titles.normalize(title_text)):
        return own
    for anc in ("li", "tr", "dd", "dt", "p", "div"):
        row = a.xpath(f"ancestor::{anc}[1]")
        if row:
            rest = " ".join(_TEXT(row[0].root)).replace(title_text, " ")
            d = titles.find_date(rest)
            if d:
                return d
            if anc in ("li", "tr"):
                break
    return own


def anchors(sel: Selector, base_url: str, css: str | None = None) -> list[tuple[Selector, str]]:
    """(anchor, absolute URL) for every followable link (or those under a site's list selector).
    The list is shared between callers on the same page: do not modify it."""
    return _anchors(sel, base_url, css)  # one cache key however the caller passes css


@lru_cache(maxsize=8)  # the adapter and the spider both read a listing's links (a Selector hashes by identity)
def _anchors(sel: Selector, base_url: str, css: str | None) -> list[tuple[Selector, str]]:
    nodes = sel.css(css) if css else sel.xpath("descendant::a[@href]")
    out = []
    for node in nodes:
        if node.root.tag != "a":
            inner = node.xpath(".//a[@href]")
            if not inner:
                continue
            node = inner[0]
        a = node
        href = (a.root.get("href") or "").strip()
        if not href or href.startswith(("javascript:", "mailto:", "tel:")) or href == "#":
            continue
        out.append((a, urljoin(base_url, href)))
    return out


@lru_cache(maxsize=8)
def selector(text: str) -> Selector:
    """One parsed tree per page: the adapter and the spider read the same response several ways."""
    return Selector(text=text)


def html_entries(text: str, url: str, css: str | None = None) -> list[Entry]:
    """Every titled link of an HTML listing (the spider keeps those whose title is a report's).

    The date beside an entry is looked up only for report titles (the costly part on big lists).
    """
    sel = selector(text)
    base = sel.xpath("//base/@href").get()
    base_url = urljoin(url, base) if base else url
    seen: set[str] = set()
    out: list[Entry] = []
    for a, link in anchors(sel, base_url, css):
        if link in seen:
            continue
        title = anchor_title(a)
        if not title:
            continue
        seen.add(link)
        out.append(Entry(url=link, title=title, date=entry_date(a) if titles.is_report_title(title) else None))
    return out


def fragment_entries(fragment_html: str, base_url: str) -> list[Entry]:
    """Entries in a snippet of HTML (a Hanweb CDATA record, a JSON API's html field)."""
    return html_entries(f"<html><body>{fragment_html}</body></html>", base_url)


def _modules():
    """Adapters in detection order: the specific markers first (gkmlpt's SID, Hanweb's JPaaS queryData
    and annual-report module, the classic Hanweb datastore, UCAP's API), TRS and VSB, then generic."""
    from spiders.platforms import generic, gkmlpt, hanweb, jpaas, trs, ucap, vsb, xxgk_module

    return (gkmlpt, jpaas, xxgk_module, hanweb, ucap, trs, vsb, generic)


def detect(text: str, url: str, override: str | None = None):
    """The adapter module for a page: the site's override, else the first that recognises it."""
    if override and override != "auto":
        return module(override)
    return next(mod for mod in _modules() if mod.detect(text, url))


def module(name: str):
    """The adapter named ``name`` (its NAME: trs, hanweb, gkmlpt, jpaas, hanweb_xxgk, ucap, vsb, generic)."""
    return {mod.NAME: mod for mod in _modules()}[name]
