"""HTML report pages -> Extracted.

Government CMSs (TRS, Hanweb, gkmlpt, VSB, ...) wrap the report body, usually a Word paste, in a
known container (.TRS_Editor, #zoom, #UCAP-CONTENT, ...) surrounded by site chrome.  We decode the
page (charset from the HTTP header, the BOM, <meta>, else sniffed; any GBK/GB2312 guess read as its
superset GB18030), parse it with lxml, take page metadata (title, ArticleTitle, PubDate,
ContentSource, a visible 发布日期 line near the top), locate the body container, and walk it in
document order into paragraphs and tables.

Tables: rowspan/colspan resolved into a rectangular grid (GridCell.spanned/origin); ``<p>``/``<br>``
inside a cell become line breaks that are joined without a space between CJK characters, so a
wrapped label "商业<br>企业" reads "商业企业".  A table whose cells hold other tables is page layout:
its cells are walked as ordinary content.

Metadata keys: ``title`` (<title>), every <meta name=...> (ArticleTitle, PubDate, ContentSource, SiteName,
...), the fields of the info bar and metadata tables above the body under their printed labels (发布机构,
来源, 名称, 发布日期, ...; a bare 时间/日期 filed as 发布日期), ``page_headings`` (visible title lines above the
body) and a bare date printed under them (as 发布日期).
"""
from __future__ import annotations

import logging
import re

from lxml import etree

from vocabulary import template as T
from storage.decoding import decode  # one decoder for the spider and the parser
from storage.models import ParseStatus

from .base import MAX_TABLE_COLUMNS, Budget, Extracted, GridCell, Paragraph, Table, check_table

log = logging.getLogger(__name__)

#: Body containers of the usual CMSs, most specific first: (attribute, value).
CONTAINERS: tuple[tuple[str, str], ...] = (
    ("class", "TRS_Editor"), ("class", "trs_editor_view"), ("class", "TRS_UEDITOR"),
    ("class", "Custom_UnionStyle"), ("id", "zoom"), ("id", "UCAP-CONTENT"), ("class", "article-content"),
    ("id", "vsb_content"), ("class", "v_news_content"), ("class", "news_cont_d_wrap"), ("id", "ivs_content"),
    ("id", "webeditorview"), ("tag", "ucapcontent"), ("class", "wp_articlecontent"), ("id", "articleContent"),
    ("class", "detail-content"), ("class", "xxgk_content"), ("class", "zw-content"), ("id", "article"),
    ("id", "content"), ("class", "content"), ("class", "article_con"), ("class", "zwxl-article"),
    ("id", "js_content"), ("class", "pages_content"),
)
_CONTAINER_CLASSES = {v: i for i, (a, v) in enumerate(CONTAINERS) if a == "class"}
_CONTAINER_IDS = {v: i for i, (a, v) in enumerate(CONTAINERS) if a == "id"}
_CONTAINER_TAGS = {v: i for i, (a, v) in enumerate(CONTAINERS) if a == "tag"}
_DROP_TAGS = ("script", "style", "noscript", "template", "iframe", "object", "embed", "svg", "canvas",
              "select", "button", "input", "textarea", "form")
_BLOCK_TAGS = frozenset(("p", "div", "h1", "h2", "h3", "h4", "h5", "h6", "li", "ul", "ol", "section",
                         "article", "blockquote", "center", "pre", "dl", "dt", "dd", "header", "footer",
                         "main", "aside", "figure", "figcaption", "hr", "address", "caption", "o:p"))
_HEADING_TAGS = {"h1": 1, "h2": 2, "h3": 3, "h4": 4, "h5": 5, "h6": 6}
_XML_DECL = re.compile(r"^\s*<\?xml[^>]*\?>")
_WS = re.compile(r"[\s\u00a0\u3000\u200b\ufeff]+")
_MAX_SPAN = 1000  # HTML clips colspan at 1000 and rowspan at 65534; a table never needs more


def norm_ws(s: str) -> str:
    return _WS.sub(" ", s).strip()


def _is_cjk(ch: str) -> bool:
    o = ord(ch)
    return (0x2E80 <= o <= 0x9FFF) or (0xF900 <= o <= 0xFAFF) or (0xFF00 <= o <= 0xFFEF) or \
        (0x3000 <= o <= 0x303F) or (0x20000 <= o <= 0x2FA1F)


def join_lines(lines: list[str]) -> str:
    """Join the lines of a wrapped cell: no space where either side is CJK ("商业"+"企业")."""
    out = ""
    for line in lines:
        line = norm_ws(line)
        if not line:
            continue
        if out and not (_is_cjk(out[-1]) or _is_cjk(line[0])):
            out += " "
        out += line
    return out


# --------------------------------------------------------------------------------------------
# walking
# --------------------------------------------------------------------------------------------

def _tag(el) -> str:
    t = el.tag
    return t.lower() if isinstance(t, str) else ""


def _text_lines(el) -> list[str]:
    """Text of ``el`` split at block elements and <br>."""
    lines: list[str] = [""]

    def rec(e):
        t = _tag(e)
        if t == "br":
            lines.append("")
        elif t in _BLOCK_TAGS or t in ("tr", "table"):
            lines.append("")
        if e.text and t not in _DROP_TAGS:
            lines[-1] += e.text
        for ch in e:
            if not isinstance(ch.tag, str):  # comments, processing instructions
                if ch.tail:
                    lines[-1] += ch.tail
                continue
            rec(ch)
            if ch.tail:
                lines[-1] += ch.tail
        if t in _BLOCK_TAGS or t in ("td", "th"):
            lines.append("")

    rec(el)
    return [ln for ln in lines if ln.strip()]


#: Elements that break a cell's text into lines; a cell holding more than one of them is read line by line.
_LINE_TAGS = ("br", "p", "div", "li", "h1", "h2", "h3", "h4", "h5", "h6", "table")


def _multiline_cells(table) -> set:
    """The td/th cells of ``table`` (one without nested tables) holding more than one line-breaking element
    (a Word-paste cell holds one <p>).  One C-level walk of the table, each element counted for every
    cell it is inside up to the table (broken markup can put a cell inside a cell): asking each cell with
    its own ``iter`` cost 40% of a cell's reading, one XPath per table more."""
    once: set = set()
    multi: set = set()
    for el in table.iter(_LINE_TAGS):
        if el is table:
            continue
        up = el.getparent()
        while up is not None and up is not table:
            if up.tag in ("td", "th"):
                if up in once:
                    multi.add(up)
                else:
                    once.add(up)
            up = up.getparent()
    return multi


def _fast_ws(s: str) -> str:
    if "\u200b" in s or "\ufeff" in s:
        return norm_ws(s)
    return " ".join(s.split())  # str.split() knows \xa0 and \u3000


def _cell_text(td, multiline: bool) -> str:
    """A grid cell's text, read line by line when it holds more than one line-breaking element."""
    if not multiline:
        return _fast_ws(_all_text(td))
    return join_lines(_text_lines(td))


def _rows_of(table) -> list:
    rows = []
    for ch in table:
        t = _tag(ch)
        if t == "tr":
            rows.append(ch)
        elif t in ("tbody", "thead", "tfoot"):
            rows.extend(r for r in ch if _tag(r) == "tr")
    return rows


def _span(v: str | None, limit: int) -> int:
    try:
        n = int(str(v).strip().rstrip(";")) if v is not None else 1
    except ValueError:
        return 1
    return max(1, min(n, limit))


def table_grid(table, budget: Budget | None = None) -> Table:
    """A <table> as a rectangular grid, spans resolved.  LimitExceeded beyond the table bounds."""
    trs = _rows_of(table)
    nrows = len(trs)
    check_table(nrows, 0, 0)
    grid: list[list[GridCell | None]] = [[] for _ in trs]
    cells = 0  # positions allocated so far, spans included
    multi = _multiline_cells(table)
    for ri, tr in enumerate(trs):
        ci = 0
        row = grid[ri]
        for td in tr.iterchildren("td", "th", "TD", "TH"):
            while ci < len(row) and row[ci] is not None:
                ci += 1
            rs_attr, cs_attr = td.get("rowspan"), td.get("colspan")
            text = _cell_text(td, td in multi)
            if rs_attr is None and cs_attr is None:  # the common case: a plain cell
                if len(row) == ci:
                    row.append(GridCell(text))
                else:
                    if len(row) < ci:
                        row.extend([None] * (ci - len(row)))
                    row[ci] = GridCell(text)
                ci += 1
                cells += 1
                if ci > MAX_TABLE_COLUMNS:
                    check_table(nrows, ci, cells)
                continue
            rs = _span(rs_attr, nrows - ri)
            cs = _span(cs_attr, _MAX_SPAN)
            # checked before anything is allocated: the span alone may be the bomb
            check_table(nrows, ci + cs, cells + rs * cs)
            for dr in range(rs):
                r = grid[ri + dr]
                if len(r) < ci + cs:
                    cells += ci + cs - len(r)
                    r.extend([None] * (ci + cs - len(r)))
                for dc in range(cs):
                    if r[ci + dc] is not None:
                        continue  # overlapping spans (malformed): the first cell wins
                    if dr == 0 and dc == 0:
                        r[ci] = GridCell(text)
                    else:
                        r[ci + dc] = GridCell(text, spanned=True, origin=(ri, ci))
            ci += cs
        check_table(nrows, len(row), cells)
    if budget is not None:
        budget.add_cells(cells)
    return Table.from_grid(grid if any(grid) else [])  # a table of no cells has no rows


def _has_nested_table(table) -> bool:
    for _ in table.iterdescendants("table"):
        return True
    return False


class _Walker:
    def __init__(self) -> None:
        self.blocks: list = []
        self.buf: list[str] = []
        self.heading: int | None = None
        self.budget = Budget()

    def flush(self) -> None:
        text = norm_ws("".join(self.buf))
        if text:
            self.budget.add_block()
            self.blocks.append(Paragraph(text=text, heading=self.heading))
        self.buf = []
        self.heading = None

    def walk(self, el) -> None:
        t = _tag(el)
        if t in _DROP_TAGS:
            return
        if t == "table":
            self.flush()
            if _has_nested_table(el):
                for tr in _rows_of(el):
                    for td in tr:
                        self.walk_children(td)
                        self.flush()
            else:
                grid = table_grid(el, self.budget)
                if grid.rows:
                    self.budget.add_block()
                    self.blocks.append(grid)
            return
        if t == "br":
            self.flush()
            return
        block = t in _BLOCK_TAGS
        if block:
            self.flush()
            if t in _HEADING_TAGS:
                self.heading = _HEADING_TAGS[t]
        self.walk_children(el)
        if block:
            self.flush()

    def walk_children(self, el) -> None:
        if el.text:
            self.buf.append(el.text)
        for ch in el:
            if isinstance(ch.tag, str):
                self.walk(ch)
            if ch.tail:
                self.buf.append(ch.tail)


# --------------------------------------------------------------------------------------------
# metadata and body location
# --------------------------------------------------------------------------------------------

_DATE_VALUE = r"((?:19|20)\d{2}\s*[-/.年]\s*\d{1,2}\s*[-/.月]\s*\d{1,2}(?:\s*日)?(?:\s*\d{1,2}:\d{2}(?::\d{2})?)?)"


#: The key a date field is filed under when its label is not one of PUBDATE_KEYS (时间 -> 发布日期).
_PUBDATE_LABEL = next(k for k in T.PUBDATE_KEYS if not k.isascii())


_ATTACHMENT_HREF = re.compile(r"\.(?:pdf|docx?|wps|xlsx?|et|ofd|rtf)(?:$|[?#])|downfile\.jsp|download\.jsp|/attach/",
                              re.I)
#: Labels of the info bar and metadata tables, longest first (发布时间 before 时间).
_FIELD_LABELS = sorted(set(T.PAGE_FIELD_LABELS), key=len, reverse=True)
#: A label starts a field after a boundary, then a colon or a space: '发布机构：区府办', '索引号 002508123/…'.
_FIELD = re.compile(r"(?:^|(?<=[\s【\[|｜丨/>]))(" + "|".join(map(re.escape, _FIELD_LABELS)) + r")\s*(?:[:：]|(?=\s))")
#: Labels printed with spaces between their characters ('索 引 号：'), squeezed before matching.
_SPACED_LABEL = re.compile("|".join(r"\s+".join(map(re.escape, lab)) for lab in _FIELD_LABELS if len(lab) > 1
                                    and not lab.isascii()))
_DATE_ALONE = re.compile(r"^[\[【(（]?\s*" + _DATE_VALUE + r"\s*[\]】)）]?$")
#: How much of the page before the body is read for its info bar (the tail: menus come first).
_INFO_BAR_CHARS = 6000
#: Not text of the page's chrome (a <form> is kept: VSB pages wrap the whole article in one).
_CHROME_DROP = ("script", "style", "noscript", "template", "select", "option", "button", "textarea", "iframe",
                "svg", "canvas", "object", "embed")
_BEFORE_BODY_CHARS = 200_000


def page_fields(text: str) -> dict[str, str]:
    """'label[:：] value' fields of an info bar or metadata table, the last printing of each label winning
    (the one nearest the article).  A value runs to the next label; dates, agencies and sources stop at
    the first space (what follows is another field: 【字体：大 中 小】, 浏览次数)."""
    text = _SPACED_LABEL.sub(lambda m: _WS.sub("", m.group(0)), text)
    found = list(_FIELD.finditer(text))
    out: dict[str, str] = {}
    for i, m in enumerate(found):
        end = found[i + 1].start() if i + 1 < len(found) else len(text)
        value = norm_ws(text[m.end():end])
        label = m.group(1)
        date = _DATE_LINE_VALUE.match(value)
        if date:  # a date keeps its time: 2025-01-20 10:30
            value = norm_ws(date.group(1))
        elif label not in T.TITLE_FIELDS:
            value = re.split(r"[\s【\[|｜丨]", value, maxsplit=1)[0] if value else ""
        if value:
            out[label] = value
    return out


def _metadata(root, container) -> dict[str, str]:
    meta: dict[str, str] = {}
    titles = root.xpath("//title")
    if titles:
        t = norm_ws("".join(titles[0].itertext()))
        if t:
            meta["title"] = t
    for m in root.xpath("descendant::meta[@name or @property]"):
        name = (m.get("name") or m.get("property") or "").strip()
        content = norm_ws(m.get("content") or "")
        if name and content and name not in meta:
            meta[name] = content
    # The page's heading and what its body holds besides text: a report whose tables cannot be read
    # says why (images in the body: 图片版; links to files only: the report is in an attachment).
    for h in root.xpath("//h1")[:3]:
        t = norm_ws("".join(h.itertext()))
        if t:
            meta.setdefault("h1", t)
            break
    if container is not None:
        meta["x-body-images"] = str(len(container.xpath(".//img[@src]")))
        meta["x-page-attachments"] = str(sum(1 for a in root.xpath("descendant::a[@href]")
                                             if _ATTACHMENT_HREF.search(a.get("href") or "")))
    # The page around the article: its visible title, its info bar (时间：… 来源：…) and metadata tables
    # (索引号 | 发布机构 | 发布日期 …), printed above the body.  Meta tags win where both say a thing.
    lines = _lines_before(root, container, limit=_BEFORE_BODY_CHARS)
    tail: list[str] = []
    size = 0
    for line in reversed(lines):
        tail.append(line)
        size += len(line) + 1
        if size > _INFO_BAR_CHARS:
            break
    tail.reverse()
    for label, value in page_fields(" ".join(tail)).items():
        if label in T.PAGE_DATE_LABELS:
            if not _DATE_LINE_VALUE.match(value):
                continue
            label = _PUBDATE_LABEL  # 时间：2025-01-16 is the publication date
        meta.setdefault(label, value)
    # the visible title lines above the body, and a bare date under them ('[ 2025-01-22 ]')
    headings = [ln for ln in tail if any(k in _WS.sub("", ln) for k in T.TITLE_KEYWORDS) and len(ln) <= 120]
    if headings:
        meta.setdefault("page_headings", "\n".join(headings))
        after = tail[tail.index(headings[0]) + 1:][:4]
        for ln in after:
            m = _DATE_ALONE.match(ln)
            if m:
                meta.setdefault(_PUBDATE_LABEL, norm_ws(m.group(1)))
                break
    return meta


_DATE_LINE_VALUE = re.compile(_DATE_VALUE)


def _lines_before(root, container, limit: int) -> list[str]:
    """Visible text nodes of the page that precede ``container`` (the article's chrome), in document order."""
    body = root.find("body")
    if body is None:
        body = root
    parts: list[str] = []
    total = 0
    skip = 0  # depth inside a dropped element
    for event, el in etree.iterwalk(body, events=("start", "end")):
        if el is container or total > limit:
            break
        if not isinstance(el.tag, str):
            continue
        dropped = _tag(el) in _CHROME_DROP
        if event == "start":
            skip += dropped
            s = el.text if not skip else None
        else:
            skip -= dropped
            s = el.tail if not skip else None
        if s and s.strip():
            parts.append(norm_ws(s))
            total += len(s)
    return parts


def _all_text(el) -> str:
    return etree.tostring(el, method="text", encoding="unicode", with_tail=False)


def _text_len(el) -> int:
    return len(_WS.sub("", _all_text(el)))


def locate_body(root):
    """The element holding the report: a known container, else the densest text holder."""
    # One pass over the tree collecting the known containers by priority (19 XPath scans were
    # the slowest part of an HTML parse; one XPath with all of them is slower still).
    found: dict[int, list] = {}
    by_class: dict[str, tuple[int, ...]] = {}  # a page repeats a few class values (MsoNormal) a thousand times
    for el in root.iter(etree.Element):
        cls = el.get("class")
        if cls:
            prios = by_class.get(cls)
            if prios is None:
                prios = by_class[cls] = tuple(p for p in map(_CONTAINER_CLASSES.get, cls.split()) if p is not None)
            for prio in prios:
                found.setdefault(prio, []).append(el)
        ident = el.get("id")
        if ident:
            prio = _CONTAINER_IDS.get(ident.strip())
            if prio is not None:
                found.setdefault(prio, []).append(el)
    for tag, prio in _CONTAINER_TAGS.items():  # each priority is one name: its list keeps document order
        els = list(root.iter(tag))
        if els:
            found[prio] = els
    for prio in sorted(found):
        # The match holding the most text (nested editors repeat the class).
        scored = [(_text_len(e) + 200 * sum(1 for _ in e.iter("table")), e) for e in found[prio]]
        score, el = max(scored, key=lambda x: x[0])
        if score >= 30:
            return el
    body = root.find("body")
    if body is None:
        body = root
    total = _text_len(body)
    if total == 0:
        return body
    # Deepest element still holding most of the page's text: the article, without the chrome.
    chosen, chosen_len = body, total
    for el in body.iter("div", "td", "article", "section", "main"):
        n = _text_len(el)
        if n >= 0.6 * total and n <= chosen_len:
            chosen, chosen_len = el, n
    return chosen


def extract(data: bytes, *, content_type: str | None = None, name: str = "document") -> Extracted:
    text, enc = decode(data, content_type)
    text = _XML_DECL.sub("", text, count=1)
    if not text.strip():
        return Extracted(format="html", status=ParseStatus.EMPTY, error=f"{name}: empty HTML page")
    # Plain lxml.etree elements: lxml.html's element class lookup costs more than the parse.
    parser = etree.HTMLParser(remove_comments=True, remove_pis=True, no_network=True, huge_tree=False)
    try:
        root = etree.fromstring(text, parser=parser)
    except (etree.ParserError, etree.XMLSyntaxError, ValueError) as e:
        return Extracted(format="html", status=ParseStatus.FAILED, error=f"{name}: unreadable HTML: {e}")
    if root is None:
        return Extracted(format="html", status=ParseStatus.EMPTY, error=f"{name}: empty HTML page")
    etree.strip_elements(root, "script", "style", "noscript", "template", with_tail=False)
    container = locate_body(root)
    meta = _metadata(root, container)
    meta["encoding"] = enc
    w = _Walker()
    w.walk(container)
    w.flush()
    ex = Extracted(format="html", blocks=w.blocks, metadata=meta)
    if not ex.blocks:
        ex.status = ParseStatus.EMPTY
        ex.error = f"{name}: the page has no text"
    return ex
