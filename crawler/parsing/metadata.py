"""Report metadata: title, agency, year, published date and statistical period.

Sources, most trusted first:
* the document itself: the title line(s) before section 一 (an agency line followed by
  '2024年政府信息公开工作年度报告' is one title), the statistical period sentence, and the signature
  block at the end (agency line + date line);
* the page's own metadata found by the extractor: meta ArticleTitle / PubDate / ContentSource /
  SiteName, the info bar's and metadata tables' fields (发布机构/发布单位, 来源, 名称/标题, 发布日期/发布时间,
  索引号 tables of Hanweb and gkmlpt), the visible heading above the body, <title>, docx core properties;
* hints from the crawl: link_title (listing entry), page_date, listing_date, url (a year in the path),
  region (the configured region of the site).

A label glued to a title ('标题:…', '名称：…') and a site name after it ('…年度报告-某县人民政府') are
dropped.  The agency as printed is kept (Report.agency_printed, the evidence); the agency itself is
that name made whole (storage.agencies.qualify): a fuller printing of it on the page (沅江路街道 ->
洪江区沅江路街道办事处), a bare region's government (上海市 -> 上海市人民政府), or the region of the page's
site or of the configured site before a short name (区教育局 -> 武汉市武昌区教育局).

The reporting year comes from the title, then the period, then the text, and only then from the URL
or the publication date (reports are published the following year).
"""
from __future__ import annotations

import logging
import re
import unicodedata
from collections import Counter
from datetime import date
from functools import lru_cache

from vocabulary import template as T
from crawler.parsing.extract.base import Extracted, Paragraph
from storage.agencies import qualify
from storage.models import Report

log = logging.getLogger(__name__)

_TITLE = re.compile(T.TITLE_PATTERN)
_DATE = re.compile(T.DATE_PATTERN)
_DATE_CN = re.compile(T.DATE_PATTERN_CN)
_ISO_DATE = re.compile(r"(?P<y>(?:19|20)\d{2})[-/.](?P<m>\d{1,2})[-/.](?P<d>\d{1,2})")
_PERIOD = re.compile(T.PERIOD_PATTERN)
_PERIOD_CN = re.compile(T.PERIOD_PATTERN_CN)
_PUBDATE_LINE = re.compile(T.PUBDATE_LINE_PATTERN)
_URL_YEAR = re.compile(T.URL_YEAR_PATTERN)
_YEAR_IN_TEXT = re.compile(T.YEAR_IN_TEXT_PATTERN)
_CJK = r"\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"  # with Extension A: 塘㙍镇
_SUFFIXES = "|".join(sorted(map(re.escape, T.AGENCY_SUFFIXES), key=len, reverse=True))
_AGENCY = re.compile(rf"^[{_CJK}（）()·]{{2,30}}?(?:{_SUFFIXES})$")
#: An agency named in the narrative right after a year: '2024年，东风区卫生健康局…'.
_AGENCY_IN_TEXT = re.compile(rf"{T.YEAR_PREFIX_PATTERN}(?P<name>[{_CJK}]{{3,25}}?(?:{_SUFFIXES}))")
_NOT_NAME_START = set(T.NOT_NAME_START)
_BOOKMARK = re.compile(r"\[bookmark:[^\]]*\]")
_SPACES = re.compile(r"\s+")
_TITLE_LABEL = re.compile(T.TITLE_LABEL_PATTERN)
_TITLE_SUFFIX = re.compile(T.TITLE_SUFFIX_PATTERN)
_TITLE_SEPARATORS = re.compile(r"\s*[_|｜]\s*|\s+[-—–]+\s+")


def _squash(text: str) -> str:
    """Spaces and artefacts out, as in a title: '2024 年度互助县卫生健康局 政府信息公开工作报告'."""
    return _SPACES.sub("", _BOOKMARK.sub("", text or "")).strip("#*")


def _nfkc(text: str) -> str:
    return unicodedata.normalize("NFKC", _squash(text))


def _cn_number(s: str) -> int | None:
    digits = [T.CN_DIGITS.get(ch) for ch in s]
    if any(d is None for d in digits):
        return None
    if len(s) == 4 and 10 not in digits:  # a year: 二〇二五
        return int("".join(map(str, digits)))
    if s == T.CN_TEN:
        return 10
    if s.startswith(T.CN_TEN):
        return 10 + digits[1]
    if len(s) == 2 and s.endswith(T.CN_TEN):
        return digits[0] * 10
    if len(s) == 3 and s[1] == T.CN_TEN:
        return digits[0] * 10 + digits[2]
    if len(s) == 1:
        return digits[0]
    return None


def parse_date(text: str) -> date | None:
    """A date printed as 2025年1月16日, 二〇二五年一月十六日 or 2025-01-16."""
    s = _nfkc(text)
    for rx, conv in ((_DATE, int), (_ISO_DATE, int), (_DATE_CN, _cn_number)):
        m = rx.search(s)
        if m:
            try:
                y, mo, d = conv(m.group("y")), conv(m.group("m")), conv(m.group("d"))
                return date(y, mo, d)
            except (TypeError, ValueError):
                continue
    return None


def _is_date_line(text: str) -> bool:
    s = _nfkc(text)
    if len(s) > 16:
        return False
    return parse_date(s) is not None


def is_agency_name(text: str) -> bool:
    s = _squash(text)
    return bool(_AGENCY.match(s)) and not any(w in s for w in T.NOT_AGENCY_WORDS)


def parse_title(title: str) -> tuple[str | None, int | None]:
    """(agency, year) from a report title."""
    m = _TITLE.search(_TITLE_LABEL.sub("", _nfkc(title)))
    if not m:
        return None, None
    unit = (m.group("unit") or m.group("unit2") or "").strip("：:，, ")
    for noise in T.TITLE_NOISE:
        unit = unit.removesuffix(noise).removeprefix(noise)
    return (unit or None), int(m.group("year"))


@lru_cache(maxsize=4096)
def is_title(text: str) -> bool:
    s = _squash(text)
    if len(s) > 60 or "。" in s:  # a paragraph, not a title: no need to look further
        return False
    low = s.lower()
    if any(w in low for w in T.NOT_TITLE_WORDS):
        return False
    return bool(_TITLE.search(unicodedata.normalize("NFKC", s)))


def clean_title(text: str) -> str | None:
    """A title as the report prints it, from a page's candidate: a label glued to its front ('标题:…',
    '名称：…') and anything after its last word (a site name: '…年度报告-甘谷县人民政府') dropped."""
    s = _TITLE_LABEL.sub("", _squash(text))
    m = _TITLE.search(unicodedata.normalize("NFKC", s))
    if not m:
        return None
    end = m.end()
    suffix = _TITLE_SUFFIX.match(s, end)
    return s[:suffix.end() if suffix else end] or None


def _site_in_title(text: str | None) -> str | None:
    """The site a page's <title> names after the report's: '县卫生健康局2024年…年度报告-秦安县人民政府'."""
    s = _TITLE_LABEL.sub("", _squash(text or ""))
    m = _TITLE.search(unicodedata.normalize("NFKC", s))
    if not m:
        return None
    rest = _TITLE_SEPARATORS.split(s[m.end():].lstrip("-—–_|｜"))
    return next((p.strip("-—–_|｜") for p in rest if p.strip("-—–_|｜")), None)


def find_title(preamble: list[str]) -> str | None:
    """The title line of the document, with the agency line above it when the title lacks one."""
    for i, line in enumerate(preamble):
        start = i
        if is_title(line):
            title = _squash(line)
        else:
            # a title broken over two lines: '市中区卫生健康局2024年' / '政府信息公开工作年度报告'
            prev = _squash(preamble[i - 1]) if i else ""
            if not (prev and len(prev) <= 30 and not is_title(prev) and is_title(prev + line)):
                continue
            title, start = _squash(prev + line), i - 1
        agency, _ = parse_title(title)
        if not agency:
            for prev in reversed(preamble[:start]):
                if prev.strip():
                    if is_agency_name(prev):
                        title = _squash(prev) + title
                    break
        return title
    return None


def find_period(text: str) -> tuple[date, date] | None:
    """The statistical period, in Arabic digits or Chinese numerals (二〇二四年一月一日至…); the first
    one printed wins, so a period in words is not passed over for a later date range in digits."""
    s = _nfkc(text)
    found = [(m.start(), m, conv) for rx, conv in ((_PERIOD, int), (_PERIOD_CN, _cn_number))
             if (m := rx.search(s))]
    for _, m, conv in sorted(found, key=lambda x: x[0]):
        try:
            y1 = conv(m["y1"])
            y2 = conv(m["y2"]) if m["y2"] else y1  # '2024年1月1日至12月31日'
            return (date(y1, conv(m["m1"]), conv(m["d1"])), date(y2, conv(m["m2"]), conv(m["d2"])))
        except (TypeError, ValueError):
            continue
    return None


_TRAILING_DATE = re.compile(rf"(?:{T.DATE_PATTERN}|{T.DATE_PATTERN_CN.replace('?P<y>', '?P<cy>').replace('?P<m>', '?P<cm>').replace('?P<d>', '?P<cd>')})$")


def find_signature(paragraphs: list[str]) -> tuple[str | None, date | None, int]:
    """(agency, date, number of lines) of the signature block closing the document."""
    tail = [p for p in paragraphs if p.strip()][-4:]
    if tail:
        # agency and date on one line: '市中区卫生健康局 2025年1月16日'
        last = _nfkc(tail[-1])
        m = _TRAILING_DATE.search(last)
        if m and m.start() > 0 and is_agency_name(last[:m.start()]):
            return last[:m.start()], parse_date(m.group(0)), 1
    for k in range(len(tail) - 1, -1, -1):
        if _is_date_line(tail[k]):
            signed = parse_date(tail[k])
            agency = None
            n = len(tail) - k
            if k > 0 and is_agency_name(tail[k - 1]):
                agency = _squash(tail[k - 1])
                n += 1
            return agency, signed, n
    # an agency line alone (no date) also closes some reports
    if tail and is_agency_name(tail[-1]):
        return _squash(tail[-1]), None, 1
    return None, None, 0


def agency_from_text(text: str) -> str | None:
    counts: Counter[str] = Counter()
    for m in _AGENCY_IN_TEXT.finditer(_squash(text)):
        name = m.group("name")
        if name[0] not in _NOT_NAME_START and len(name) >= 4:
            counts[name] += 1
    if not counts:
        return None
    return counts.most_common(1)[0][0]


def year_from_url(url: str | None) -> int | None:
    if not url:
        return None
    m = _URL_YEAR.search(url)
    return int(m.group("y")) if m else None


def _meta_get(metadata: dict[str, str], keys: tuple[str, ...]) -> str | None:
    lower = {k.lower(): v for k, v in metadata.items()}
    for k in keys:
        v = metadata.get(k) or lower.get(k.lower())
        if v and v.strip():
            return v.strip()
    return None


def extract_metadata(report: Report, extracted: Extracted, *, headings: list[tuple[int, str]],
                     hints: dict | None = None) -> bool:
    """Fill report.title, agency, year, published and period (and trim the signature from sections).

    Returns True when the document itself prints a report title (not only the page or the listing).
    """
    hints = hints or {}
    blocks = extracted.blocks
    first_heading = headings[0][0] if headings else min(len(blocks), 8)
    preamble = [b.text for b in blocks[:first_heading] if isinstance(b, Paragraph)][:8]
    paragraphs = [b.text for b in blocks if isinstance(b, Paragraph)]

    meta = extracted.metadata
    title = find_title(preamble)
    title_in_body = title is not None
    if title is None:
        # the page's own names for the document: meta ArticleTitle, a 标题/名称 field, the visible heading,
        # <title> (which carries the site after a separator: '…年度报告_某区人民政府'), the listing's link
        candidates = [_meta_get(meta, T.TITLE_KEYS[:1]), _meta_get(meta, T.TITLE_FIELDS),
                      *(meta.get("page_headings") or "").split("\n"), _meta_get(meta, T.TITLE_KEYS[1:]),
                      hints.get("link_title")]
        for candidate in candidates:
            parts = _TITLE_SEPARATORS.split(candidate) if candidate else []
            title = next((t for t in map(clean_title, parts) if t and is_title(t)), None)
            if title:
                break
    report.title = title

    sig_agency, signed, sig_lines = find_signature(paragraphs) if headings else (None, None, 0)
    if sig_lines and headings:
        last_key = headings[-1][1]
        lines = report.sections.get(last_key, "").split("\n")
        if len(lines) >= sig_lines:
            report.sections[last_key] = "\n".join(lines[:-sig_lines]).strip()

    # the publisher as the page names it: 发布机构/发布单位 fields, then 来源/ContentSource (when an agency)
    publisher = [v for v in (_meta_get(meta, (k,)) for k in T.AGENCY_FIELDS) if v and is_agency_name(v)]
    sources = [v for v in (_meta_get(meta, (k,)) for k in T.SOURCE_FIELDS)
               if v and is_agency_name(v) and not any(w in v for w in T.NOT_AGENCY_SOURCES)]
    agency, year = parse_title(title) if title else (None, None)
    for candidate in (sig_agency, *publisher, *sources):
        if agency:
            break
        agency = candidate
    if not agency:
        for line in preamble[:3]:
            if is_agency_name(line):
                agency = _squash(line)
                break
    if not agency:
        agency = agency_from_text("\n".join(paragraphs))
    report.agency_printed = agency
    if agency:
        # a short printing made whole: from the page's fuller printings of its publisher, else the region
        # of the page's site (SiteName, the site named in <title>) or of the configured site
        site_names = [_meta_get(meta, T.SITE_NAME_KEYS), _site_in_title(meta.get("title"))]
        site_names.append(hints.get("region"))
        agency = qualify(agency, fuller=tuple(_squash(v) for v in (*publisher, sig_agency, *sources) if v),
                         regions=tuple(v for v in site_names if v))
    report.agency = agency

    report.period = find_period("\n".join(paragraphs))
    if year is None and report.period:
        year = report.period[1].year
    if year is None:
        overview = report.sections.get("overview") or "\n".join(preamble)
        years = _YEAR_IN_TEXT.findall(_nfkc(overview))
        if years:
            year = int(Counter(years).most_common(1)[0][0])
    if year is None:
        year = year_from_url(hints.get("url") or report.source.url)

    published = signed
    if published is None:
        raw = _meta_get(extracted.metadata, T.PUBDATE_KEYS)
        published = parse_date(raw) if raw else None
    if published is None:
        # 发布时间：2025-01-20 printed above the body (page furniture kept by the extractor)
        for line in preamble:
            m = _PUBDATE_LINE.search(_nfkc(line))
            if m:
                published = parse_date(_nfkc(line)[m.end():])
                if published:
                    break
    for key in ("page_date", "listing_date"):  # the report page's date, then the listing's
        if published is None and hints.get(key):
            published = parse_date(str(hints[key]))
    report.published = published
    if year is None and published is not None:
        year = published.year - 1
    report.year = year
    return title_in_body
