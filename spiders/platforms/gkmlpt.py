"""Guangdong 政府信息公开目录平台 (gkmlpt): a JS app at /gkmlpt/index#<catid> whose lists come from
GET /gkmlpt/api/all/<catid>?page=N&sid=<SID> (JSON: total, articles[title, url, dates]).

Started at the app's root (no ``#<catid>``, or ``#0``), the adapter learns the categories from the
shell's ``window.CLASSIFY`` tree, else from the tree API (``/gkmlpt/api/tree?sid=<SID>``), and lists
the category whose name is a 年报 column name (政府信息公开年报…) and all its children.
"""
from __future__ import annotations

import json
import re
from datetime import datetime, timedelta, timezone
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit

from spiders import titles
from spiders.platforms import MAX_PAGES, Entry, Listing, PageRequest

NAME = "gkmlpt"
_SID = re.compile(r"""\bSID\s*[:=]\s*['"]?(\w+)""")
_CAT_VARS = re.compile(r"""\b(?:CATID|catId|cat_id|CAT_ID)\s*[:=]\s*['"]?(\d+)""")
_API = re.compile(r"/gkmlpt/api/all/(\d+)")
_CLASSIFY = re.compile(r"""\b(?:window\.)?CLASSIFY\s*=\s*""")
TREE_PATH = "/gkmlpt/api/tree"
_ID_KEYS = ("id", "cat_id", "catid", "classify_id", "value")
_NAME_KEYS = ("name", "title", "text", "label", "cat_name")
_CHILD_KEYS = ("children", "child", "sub", "nodes", "items")
#: The API's epoch times are instants; the date shown on the portal is Beijing's (UTC+8, no DST):
#: a report published at 00:01 on 1 February is not on time, as UTC's 31 January would say.
BEIJING = timezone(timedelta(hours=8))
#: Categories listed at most (a hostile tree cannot fan out the crawl).
MAX_CATEGORIES = 50


def detect(text: str, url: str) -> bool:
    return "/gkmlpt/api/" in url or ("gkmlpt" in (text + url) and bool(_SID.search(text)))


def api_url(page_url: str, cat: str, sid: str, page: int) -> str:
    return urljoin(page_url, f"/gkmlpt/api/all/{cat}?" + urlencode({"page": page, "sid": sid}))


def tree_url(page_url: str, sid: str) -> str:
    return urljoin(page_url, TREE_PATH + "?" + urlencode({"sid": sid}))


def classify_tree(text: str) -> list | None:
    """The shell's ``window.CLASSIFY = [...]`` category tree (JSON), or None."""
    m = _CLASSIFY.search(text)
    if not m:
        return None
    try:
        value, _end = json.JSONDecoder().raw_decode(text, m.end())
    except ValueError:
        return None
    return _nodes(value)


def _nodes(value) -> list:
    if isinstance(value, dict):
        for key in ("data", "classify", "list", "tree", *_CHILD_KEYS):
            if isinstance(value.get(key), list):
                return value[key]
        return [value]
    return value if isinstance(value, list) else []


def _first(node: dict, keys: tuple[str, ...]):
    return next((node[k] for k in keys if node.get(k) not in (None, "")), None)


def report_categories(tree: list) -> list[str]:
    """Ids of the 年报 categories of a tree (their name is a column name) and of all their children."""
    out: list[str] = []

    def collect(node, inside: bool) -> None:
        if not isinstance(node, dict) or len(out) >= MAX_CATEGORIES:
            return
        ident = _first(node, _ID_KEYS)
        name = titles.normalize(str(_first(node, _NAME_KEYS) or ""))
        here = inside or titles.is_column_text(name)
        if here and ident is not None and str(ident).isdigit() and str(ident) not in out:
            out.append(str(ident))
        for key in _CHILD_KEYS:
            for child in node.get(key) or []:
                collect(child, here)

    for node in tree:
        collect(node, False)
    return out


def _api_pages(url: str, cats: list[str], sid: str) -> list[PageRequest]:
    return [PageRequest(api_url(url, c, sid, 1), kind="data", platform=NAME) for c in cats]


def listing(text: str, url: str, selectors: dict | None = None) -> Listing:
    """The app shell: one API request per category: the URL fragment's, a JS variable's, or, at the
    app's root, the 年报 categories of the CLASSIFY tree (else a request for the tree API)."""
    sid = _SID.search(text)
    frag = urlsplit(url).fragment
    cat = frag if frag.isdigit() and frag != "0" else None
    if cat is None:
        m = _CAT_VARS.search(text)
        cat = m.group(1) if m else None
    if not sid:
        return Listing()
    sid_v = sid.group(1)
    if cat:
        return Listing(pages=_api_pages(url, [cat], sid_v))
    tree = classify_tree(text)
    if tree is not None:
        return Listing(pages=_api_pages(url, report_categories(tree), sid_v))
    return Listing(pages=[PageRequest(tree_url(url, sid_v), kind="data", platform=NAME)])


def _date(article: dict) -> str | None:
    for key in ("display_publish_time", "publish_time", "created_at", "create_time", "date"):
        v = article.get(key)
        if isinstance(v, (int, float)) and v > 10**8:
            if v > 10**11:  # milliseconds (JavaScript's Date), not the seconds portals.md saw
                v = v / 1000
            try:
                return datetime.fromtimestamp(v, tz=BEIJING).strftime("%Y-%m-%d")
            except (OverflowError, OSError, ValueError):  # a hostile number loses the date, not the page
                return None
        if isinstance(v, str):
            d = titles.find_date(v)
            if d:
                return d
    return None


def parse_data(text: str, url: str, referer: str | None = None, body: str | None = None) -> Listing:
    data = json.loads(text)
    if urlsplit(url).path.endswith(TREE_PATH):  # the category tree: one API request per 年报 category
        sid = dict(parse_qsl(urlsplit(url).query)).get("sid", "")
        return Listing(pages=_api_pages(url, report_categories(_nodes(data)), sid))
    if not isinstance(data, dict):
        raise ValueError("gkmlpt API reply is not a JSON object")
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
