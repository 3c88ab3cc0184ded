"""Hanweb JPaaS (the newer 大汉 集约化 platform, e.g. Taizhou, Jiangsu): a column page carries
``queryData="{…}"`` and ``url="/api-gateway/…"`` attributes; the list is a GET of
``/api-gateway/jpaas-publish-server/front/page/build/unit`` with those parameters, later pages adding
``paramJson={"pageNo":n,"pageSize":15}``.  The reply is JSON ``{success, data: {html}}``: ``data.html``
holds ``li.clearfix`` rows and a ``div.pagination`` with ``rows="15" count="<total>"`` (research
portals.md §3.3).
"""
from __future__ import annotations

import html as htmllib
import json
import re
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit

from spiders.platforms import Listing, PageRequest, fragment_entries, html_entries

NAME = "jpaas"
API_MARK = "/api-gateway/"
_QUERY_DATA = re.compile(r"""queryData\s*=\s*(?P<q>["'])(?P<v>.*?)(?P=q)""", re.S)
_API_URL = re.compile(r"""\burl\s*=\s*["'](?P<u>[^"']*/api-gateway/[^"']*)["']""")
_PAGINATION = re.compile(r"""<div[^>]*class=["'][^"']*pagination[^"']*["'][^>]*>""", re.I)
_ATTR = re.compile(r"""\b(rows|count)\s*=\s*["']?(\d+)""", re.I)
DEFAULT_ROWS = 15


def detect(text: str, url: str) -> bool:
    return API_MARK in url or bool(_QUERY_DATA.search(text) and API_MARK in text)


def _params(text: str) -> dict[str, str] | None:
    m = _QUERY_DATA.search(text)
    if not m:
        return None
    raw = htmllib.unescape(m.group("v"))
    try:
        data = json.loads(raw)
    except ValueError:
        return None
    if not isinstance(data, dict):
        return None
    return {str(k): v if isinstance(v, str) else json.dumps(v, ensure_ascii=False) for k, v in data.items()}


def api_request(page_url: str, api: str, params: dict[str, str], page: int, rows: int) -> PageRequest:
    q = dict(params)
    q["paramJson"] = json.dumps({"pageNo": page, "pageSize": rows}, separators=(",", ":"))
    return PageRequest(urljoin(page_url, api) + "?" + urlencode(q), kind="data", platform=NAME,
                       headers=(("Referer", page_url), ("X-Requested-With", "XMLHttpRequest")))


def listing(text: str, url: str, selectors: dict | None = None) -> Listing:
    entries = html_entries(text, url, (selectors or {}).get("list_item"))
    params = _params(text)
    api = _API_URL.search(text)
    if params is None or api is None:
        return Listing(entries=entries)
    return Listing(entries=entries, pages=[api_request(url, api.group("u"), params, 1, DEFAULT_ROWS)])


def pagination(fragment: str) -> tuple[int, int] | None:
    """(rows per page, total records) from the reply's ``div.pagination``."""
    m = _PAGINATION.search(fragment)
    if not m:
        return None
    attrs = {k.lower(): int(v) for k, v in _ATTR.findall(m.group(0))}
    if "count" not in attrs:
        return None
    return attrs.get("rows") or DEFAULT_ROWS, attrs["count"]


def parse_data(text: str, url: str, referer: str | None = None, body: str | None = None) -> Listing:
    data = json.loads(text)
    if not isinstance(data, dict):
        raise ValueError("JPaaS reply is not a JSON object")
    inner = data.get("data")
    fragment = inner.get("html") if isinstance(inner, dict) else inner if isinstance(inner, str) else None
    if not isinstance(fragment, str):
        raise ValueError("JPaaS reply without data.html")
    base = referer or url
    entries = fragment_entries(fragment, base)
    pages: list[PageRequest] = []
    q = dict(parse_qsl(urlsplit(url).query))
    try:
        page = int(json.loads(q.get("paramJson") or "{}").get("pageNo", 1))
    except (ValueError, AttributeError):
        page = 1
    pg = pagination(fragment)
    if page == 1 and pg:
        rows, count = pg
        params = {k: v for k, v in q.items() if k != "paramJson"}
        api = urlsplit(url).path
        last = -(-count // max(rows, 1))
        pages = [api_request(base, api, params, n, rows) for n in range(2, last + 1)]
    return Listing(entries=[e for e in entries if "javascript" not in e.url], pages=pages)
