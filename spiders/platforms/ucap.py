"""开普云 UCAP lists: Suzhou's JSON API ``/szinf/info/getInfoCommon/?pagesize=15&currpage=N&channelid=<32hex>``
returning ``{infolist: [{title, link, pubtime}]}`` (DIYgod/RSSHub lib/routes/gov/suzhou/news.ts; research
portals.md §5, §6: stop at an empty ``infolist``), with a static fallback ``ul.infolist li`` (a@title,
``.time``) that the HTML entries read.  Article bodies sit in ``#UCAP-CONTENT`` or ``<ucapcontent>``.
"""
from __future__ import annotations

import json
import re
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

from spiders import titles
from spiders.platforms import Entry, Listing, PageRequest, html_entries

NAME = "ucap"
_API = re.compile(r"""["'](?P<u>[^"'\s]*/getInfoCommon/?)(?:\?[^"']*)?["']""")
_CHANNEL = re.compile(r"""channelid\s*[:=]\s*["']?(?P<c>[0-9A-Za-z]{8,64})""", re.I)
_PAGESIZE = re.compile(r"""pagesize\s*[:=]\s*["']?(?P<n>\d{1,3})""", re.I)


def detect(text: str, url: str) -> bool:
    return "getInfoCommon" in url or "getInfoCommon" in text or "UCAP-CONTENT" in text or "<ucapcontent" in text


def api_request(page_url: str, api: str, channel: str, page: int, size: int) -> PageRequest:
    q = urlencode({"pagesize": size, "currpage": page, "channelid": channel})
    return PageRequest(urljoin(page_url, api) + "?" + q, kind="data", platform=NAME,
                       headers=(("Referer", page_url), ("X-Requested-With", "XMLHttpRequest")))


def listing(text: str, url: str, selectors: dict | None = None) -> Listing:
    entries = html_entries(text, url, (selectors or {}).get("list_item"))
    api, channel = _API.search(text), _CHANNEL.search(text)
    if not api or not channel:
        return Listing(entries=entries)
    size = _PAGESIZE.search(text)
    return Listing(entries=entries, pages=[api_request(url, api.group("u"), channel.group("c"), 1,
                                                       int(size.group("n")) if size else 15)])


def parse_data(text: str, url: str, referer: str | None = None, body: str | None = None) -> Listing:
    data = json.loads(text)
    if not isinstance(data, dict):
        raise ValueError("getInfoCommon reply is not a JSON object")
    rows = data.get("infolist")
    if rows is None and isinstance(data.get("data"), dict):
        rows = data["data"].get("infolist")
    if not isinstance(rows, list):
        raise ValueError("getInfoCommon reply without infolist")
    base = referer or url
    entries = []
    for row in rows:
        if not isinstance(row, dict):
            continue
        link, title = row.get("link") or row.get("url"), titles.clean(row.get("title"))
        if link and title:
            entries.append(Entry(url=urljoin(base, link), title=title, date=titles.find_date(str(row.get("pubtime") or ""))))
    pages: list[PageRequest] = []
    if entries:  # the next page until an empty infolist (the API announces no total)
        parts = urlsplit(url)
        q = dict(parse_qsl(parts.query))
        q["currpage"] = str(int(q.get("currpage", "1")) + 1)
        pages.append(PageRequest(urlunsplit(parts._replace(query=urlencode(q))), kind="data", platform=NAME,
                                 headers=(("Referer", base), ("X-Requested-With", "XMLHttpRequest"))))
    return Listing(entries=entries, pages=pages)
