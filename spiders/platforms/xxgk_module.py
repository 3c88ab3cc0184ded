"""The annual-report module of Hanweb's 信息公开 system: ``/module/xxgk/xxgkAnnualReport.jsp?fbtime=<Y>
&area=<unit code>`` serves one unit's report for one year (lishui.gov.cn 2017; research portals.md §3.1,
§8).  A disclosure page links to it per year, or offers a year ``<select name="fbtime">`` beside a
hidden ``area``; every such URL is a report page.  Its link text is often only the year: the entry is
then titled by the year (the page itself names the agency).
"""
from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit

from spiders import titles
from spiders.platforms import Entry, Listing, anchor_title, anchors, html_entries, selector

NAME = "hanweb_xxgk"
MODULE_PATH = "/module/xxgk/xxgkAnnualReport.jsp"
_YEAR = re.compile(r"^(?:19|20)\d{2}$")
#: Years offered by a year selector, at most (a hostile <select> cannot fan out the crawl).
MAX_YEARS = 30


def detect(text: str, url: str) -> bool:
    return "xxgkAnnualReport.jsp" in text


def _title(label: str, year: str) -> str:
    if titles.is_report_title(label):
        return label
    return f"{year}年政府信息公开工作年度报告"


def listing(text: str, url: str, selectors: dict | None = None) -> Listing:
    sel = selector(text)
    entries: list[Entry] = []
    seen: set[str] = set()
    for a, link in anchors(sel, url):
        parts = urlsplit(link)
        if not parts.path.endswith(MODULE_PATH):
            continue
        q = dict(parse_qsl(parts.query))
        year = q.get("fbtime", "")
        if link in seen:
            continue
        seen.add(link)  # a module link that names no year is skipped, never read as another entry
        if not _YEAR.match(year):
            continue
        entries.append(Entry(url=link, title=_title(anchor_title(a), year)))
    # a year selector: <form action=".../xxgkAnnualReport.jsp"><input name=area><select name=fbtime>
    for form in sel.xpath("descendant::form[contains(@action, 'xxgkAnnualReport.jsp')]"):
        area = form.xpath(".//input[@name='area']/@value").get()
        if not area:
            continue
        action = urljoin(url, form.attrib.get("action", MODULE_PATH))
        years = [y for y in form.xpath(".//select[@name='fbtime']/option/@value").getall() if _YEAR.match(y)]
        for year in years[:MAX_YEARS]:
            link = f"{action.split('?', 1)[0]}?" + urlencode({"fbtime": year, "area": area})
            if link not in seen:
                seen.add(link)
                entries.append(Entry(url=link, title=f"{year}年政府信息公开工作年度报告"))
    others = [e for e in html_entries(text, url, (selectors or {}).get("list_item")) if e.url not in seen]
    return Listing(entries=entries + others)
