"""Hanweb JCMS (大汉): /col/col<id>/index.html with the first records inline, the rest via
POST /module/web/jpage/dataproxy.jsp?startrecord=&endrecord=&perpage= (XML, CDATA records).

The column page carries a ``<datastore>`` block (``<nextgroup>``, ``<recordset>`` of
``<record><![CDATA[<li>…</li>]]></record>``, ``<totalrecord>``) and a JS object with the form fields
(col, appid, webid, path, columnid, unitid, webname, permissiontype).  The browser asks for three
display pages per request (e.g. 45 = 3 × 15); we do the same, and stop at totalrecord.
"""
from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit

from spiders.platforms import MAX_PAGES, Entry, Listing, PageRequest, fragment_entries, html_entries

NAME = "hanweb"
PROXY_PATH = "/module/web/jpage/dataproxy.jsp"
GROUP_PAGES = 3  # display pages fetched per request, as the browser does

_RECORD = re.compile(r"<record>\s*<!\[CDATA\[(.*?)\]\]>\s*</record>", re.S | re.I)
_TOTAL = re.compile(r"<totalrecord>\s*(\d+)\s*</totalrecord>|totalRecord\s*[:=]\s*['\"]?(\d+)", re.I)
_PERPAGE = re.compile(r"perpage\s*[:=]\s*['\"]?(\d+)|<perpage>\s*(\d+)\s*</perpage>", re.I)
_DATASTORE = re.compile(r"<datastore>(.*?)</datastore>", re.S | re.I)
_NEXTGROUP = re.compile(r"<nextgroup>\s*<!\[CDATA\[\s*<a\s+href=['\"]([^'\"]+)['\"]", re.S | re.I)
_PARAM_OBJ = re.compile(r"var\s+param_\w*\s*=\s*\{(.*?)\}", re.S)
_KV = re.compile(r"(\w+)\s*:\s*(?:'([^']*)'|\"([^\"]*)\"|([\w./\-]+))")
_COLID = re.compile(r"/col/col(\d+)/")
FIELDS = ("col", "appid", "webid", "path", "columnid", "sourceContentType", "unitid", "webname",
          "permissiontype")


def detect(text: str, url: str) -> bool:
    return ("dataproxy.jsp" in text or "<datastore>" in text.lower() or "jpage" in text
            or bool(re.search(r"var\s+param_\w*\s*=\s*\{", text)))


def form_fields(text: str, url: str) -> dict[str, str]:
    """The dataproxy form fields: the page's param object, else the nextgroup link, else the URL."""
    out: dict[str, str] = {}
    m = _PARAM_OBJ.search(text)
    if m:
        for k, a, b, c in _KV.findall(m.group(1)):
            out[k] = a or b or c
    ng = _NEXTGROUP.search(text)
    if ng:
        for k, v in parse_qsl(urlsplit(ng.group(1).replace("&amp;", "&")).query):
            out.setdefault(k, v)
    col = _COLID.search(urlsplit(url).path)
    if col:
        out.setdefault("columnid", col.group(1))
    out.setdefault("col", "1")
    out.setdefault("appid", "1")
    out.setdefault("path", "/")
    out.setdefault("permissiontype", "0")
    return {k: v for k, v in out.items() if k in FIELDS or k in ("unitid", "webid")}


def total_records(text: str) -> int | None:
    m = _TOTAL.search(text)
    return int((m.group(1) or m.group(2))[:12]) if m else None  # digits beyond 12: a bomb, clamped anyway


def records(text: str, url: str) -> list[Entry]:
    out: list[Entry] = []
    for rec in _RECORD.findall(text):
        out.extend(fragment_entries(rec, url))
    return out


def proxy_request(url: str, fields: dict[str, str], start: int, end: int, perpage: int) -> PageRequest:
    q = urlencode({"startrecord": start, "endrecord": end, "perpage": perpage})
    return PageRequest(
        url=urljoin(url, f"{PROXY_PATH}?{q}"), kind="data", platform=NAME, method="POST",
        body=urlencode(fields),
        headers=(("Content-Type", "application/x-www-form-urlencoded; charset=UTF-8"),
                 ("X-Requested-With", "XMLHttpRequest"), ("Referer", url)),
    )


def listing(text: str, url: str, selectors: dict | None = None) -> Listing:
    inline = records(text, url)
    # the rest of the page (sub-column links, static entries) is read as HTML too
    outside = _DATASTORE.sub(" ", text)
    entries = inline + html_entries(outside, url, (selectors or {}).get("list_item"))
    pages: list[PageRequest] = []
    total = total_records(text)
    if "<datastore>" in text.lower() or _PARAM_OBJ.search(text):
        pm = _PERPAGE.search(text)
        perpage = max(1, min(int((pm.group(1) or pm.group(2))[:4]), 1000)) if pm else 15
        group = perpage * GROUP_PAGES
        fields = form_fields(text, url)
        start = len(inline) + 1 if inline else 1
        if total is None:
            # unknown size: ask for one group; parse_data asks for the next while groups are full
            pages.append(proxy_request(url, fields, start, start + group - 1, perpage))
        else:
            total = min(total, start - 1 + MAX_PAGES * group)  # a totalrecord bomb stays bounded
            while start <= total:
                pages.append(proxy_request(url, fields, start, min(start + group - 1, total), perpage))
                start += group
    return Listing(entries=entries, pages=pages)


def parse_data(text: str, url: str, referer: str | None = None, body: str | None = None) -> Listing:
    """A dataproxy.jsp XML reply: its records; the next group only when the total is unknown."""
    base = referer or url
    entries = records(text, base)
    pages: list[PageRequest] = []
    if total_records(text) is None and entries and body is not None:
        q = dict(parse_qsl(urlsplit(url).query))
        start, end, perpage = int(q.get("startrecord", 1)), int(q.get("endrecord", 45)), int(q.get("perpage", 15))
        if len(entries) >= end - start + 1:
            size = end - start + 1
            pages.append(proxy_request(base, dict(parse_qsl(body)), end + 1, end + size, perpage))
    return Listing(entries=entries, pages=pages)
