"""Guangdong 政府信息公开目录平台 (gkmlpt): a JS app at /gkmlpt/index#<catid> whose lists come from
GET /gkmlpt/api/all/<catid>?page=N&sid=<SID> (JSON: total, articles[title, url, dates]).
"""
from __future__ import annotations

import json
import re
from datetime import datetime, timezone
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit

from spiders import titles
from spiders.platforms import MAX_PAGES, Entry, Listing, PageRequest

NAME = "gkmlpt"
_SID = re.compile(r"""\bSID\s*[:=]\s*['"]?(\w+)""")
_CAT_VARS = re.compile(r"""\b(?:CATID|catId|cat_id|CAT_ID)\s*[:=]\s*['"]?(\d+)""")
_API = re.compile(r"/gkmlpt/api/all/(\d+)")


def detect(text: str, url: str) -> bool:
    return "/gkmlpt/api/" in url or ("gkmlpt" in (text + url) and bool(_SID.search(text)))


def api_url(page_url: str, cat: str, sid: str, page: int) -> str:
    return urljoin(page_url, f"/gkmlpt/api/all/{cat}?" + urlencode({"page": page, "sid": sid}))


def listing(text: str, url: str, selectors: dict | None = None) -> Listing:
    """The app shell: one API request for its category (from the URL fragment or a JS variable)."""
    sid = _SID.search(text)
    frag = urlsplit(url).fragment
    cat = frag if frag.isdigit() else None
    if cat is None:
        m = _CAT_VARS.search(text)
        cat = m.group(1) if m else None
    if not sid or not cat:
        return Listing()
    return Listing(pages=[PageRequest(api_url(url, cat, sid.group(1), 1), kind="data", platform=NAME)])


def _date(article: dict) -> str | None:
    for key in ("display_publish_time", "publish_time", "created_at", "create_time", "date"):
        v = article.get(key)
        if isinstance(v, (int, float)) and v > 10**8:
            return datetime.fromtimestamp(v, tz=timezone.utc).strftime("%Y-%m-%d")
        if isinstance(v, str):
            d = titles.find_date(v)
            if d:
                return d
    return None


def parse_data(text: str, url: str, referer: str | None = None, body: str | None = None) -> Listing:
    data = json.loads(text)
    articles = data.get("articles") or data.get("data") or []
    entries = []
    for a in articles:
        link = a.get("url") or a.get("post_url") or a.get("link")
        title = titles.clean(a.get("title") or a.get("name"))
        if link and title:
            entries.append(Entry(url=urljoin(url, link), title=title, date=_date(a)))
    pages: list[PageRequest] = []
    q = dict(parse_qsl(urlsplit(url).query))
    page = int(q.get("page", 1))
    total = data.get("total")
    if page == 1 and articles and isinstance(total, int):
        size = len(articles)
        last = min(-(-total // size), MAX_PAGES + 1)  # a total bomb stays bounded
        cat = _API.search(url).group(1)
        pages = [PageRequest(api_url(url, cat, q.get("sid", ""), p), kind="data", platform=NAME)
                 for p in range(2, last + 1)]
    return Listing(entries=entries, pages=pages)
