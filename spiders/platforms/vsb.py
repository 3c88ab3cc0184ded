"""VSB / 博达 (Gansu counties, universities): articles ``/info/<col>/<id>.htm``, attachments
``/system/_content/download.jsp?urltype=news.DownloadAttachUrl&owner=<n>&wbfileid=<id>``, static
listings whose pager (``div.pb_sys_common``: 共N条 k/T, 首页 上一页 下一页 尾页) links the other pages
(research portals.md §5).  Often GBK without a charset header (the spider's decoder sniffs it).

The pages are those of the pager: every numbered page it links, or, from the first page, the range
between the first and the 尾页 link when the pages are numbered ``<col>/<n>.htm``.
"""
from __future__ import annotations

import re
from urllib.parse import urljoin, urlsplit

from spiders import titles
from spiders.platforms import Listing, PageRequest, html_entries, selector
from spiders.platforms.generic import next_urls

NAME = "vsb"
_MARKERS = ("_newscontent_fromname", "pb_sys_common", "vsb_content", "VsbCommonStyle", "/system/_content/")
_INFO = re.compile(r"""href\s*=\s*["'][^"']*/info/\d+/\d+\.htm["']""", re.I)
_NUMBERED = re.compile(r"^(?P<dir>.*/)(?P<n>\d{1,5})\.htm$")
#: Pages derived from a 尾页 link, at most (the URL policy caps listing pages too).
MAX_PAGES = 500


def detect(text: str, url: str) -> bool:
    return any(m in text for m in _MARKERS) or bool(_INFO.search(text))


def page_urls(text: str, url: str) -> list[str]:
    sel = selector(text)
    out = next_urls(text, url)
    last = None
    for a in sel.xpath("descendant::a[@href]"):
        label = titles.normalize(" ".join(a.xpath(".//text()").getall()))
        if label in ("尾页", "末页"):
            last = urljoin(url, a.attrib["href"].strip())
    if last:
        m = _NUMBERED.match(urlsplit(last).path)
        nxt = [u for u in out if _NUMBERED.match(urlsplit(u).path)]
        if m and nxt:
            first = int(_NUMBERED.match(urlsplit(nxt[0]).path).group("n"))
            end = int(m.group("n"))
            step = 1 if end >= first else -1  # VSB numbers pages up or down depending on the template
            base = last[: last.rfind("/") + 1]
            for n in list(range(first, end + step, step))[:MAX_PAGES]:
                u = f"{base}{n}.htm"
                if u not in out:
                    out.append(u)
        elif last not in out:
            out.append(last)
    return out


def listing(text: str, url: str, selectors: dict | None = None) -> Listing:
    sel = selectors or {}
    return Listing(entries=html_entries(text, url, sel.get("list_item")),
                   pages=[PageRequest(u, platform=NAME) for u in page_urls(text, url)])
