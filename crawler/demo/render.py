"""Print a ReportSpec as a real report would be published: HTML (Word pasted into a CMS), DOCX, PDF, DOC.

The layouts copy what portals serve: the three tables with the national format's merged cells
(Table 三: three label columns, the 申请人情况 header over two header rows, 三、本年度办理结果 spanning
the result rows), Word-paste HTML (``<p>`` inside cells, ``nowrap``, ``&nbsp;`` for blanks, wrapped
header labels), DOCX with real merged cells, and PDF/DOC converted from that DOCX by LibreOffice with
a CJK font.  What the tables and headings say comes from a ``Layout`` (crawler/demo/layout.py): data
typed from the official format documents, handed in by the caller (the demo's own copy by default),
never the parser's vocabulary, so that a rendering tests the parser instead of echoing it.
"""
from __future__ import annotations

import html
import io
import json
import re
from pathlib import Path
from typing import Any

from crawler.demo.layout import Layout, demo_layout
from crawler.demo.spec import ReportSpec

#: Font the DOCX asks for; installed by the Makefile (fonts-wqy-zenhei) so PDFs embed real CJK glyphs.
CJK_FONT = "WenQuanYi Zen Hei"
DEMO_MARK = "示例数据"

# --------------------------------------------------------------------------------------------
# spec_from_seed
# --------------------------------------------------------------------------------------------

_HEADING_RE = re.compile(r"^\s*(?:#+\s*)?(?:\*\*)?\s*([一二三四五六]|[1-6])\s*[、.．]\s*(\S.*?)(?:\*\*)?\s*$")
_DATE_LINE_RE = re.compile(r"^\s*\d{4}\s*年\s*\d{1,2}\s*月\s*\d{1,2}\s*日\s*$")


def _squash(s: str) -> str:
    return re.sub(r"\s+", "", s)


def _section_of_heading(line: str, expect: int, layout: Layout) -> str | None:
    """Section key when ``line`` is the heading of section number ``expect`` (0-based): numbered so,
    and its words inside the official heading's or the other way round ('一、情况' in a real report)."""
    if "\t" in line:
        return None
    m = _HEADING_RE.match(line)
    if not m:
        return None
    num = m.group(1)
    idx = int(num) - 1 if num.isdigit() else (layout.numerals.index(num) if num in layout.numerals else -1)
    if idx != expect:
        return None
    text = _squash(m.group(2))
    key, heading = layout.sections[idx]
    official = _squash(heading.split("、", 1)[-1])
    if official in text or text in official:
        return key
    return None


def _clean_line(line: str) -> str:
    s = line.strip()
    s = re.sub(r"^#+\s*", "", s)
    s = s.replace("**", "")
    return s.strip()


def spec_from_seed(txt_path: str | Path, expected_path: str | Path, layout: Layout | None = None) -> ReportSpec:
    """A ReportSpec from a seed text (narrative) and its hand-checked expected JSON (numbers); the
    text is split at the section headings of ``layout`` (default: the demo's copy of its format)."""
    exp = json.loads(Path(expected_path).read_text("utf-8"))
    layout = layout or demo_layout(exp.get("template", "2021"))
    lines = Path(txt_path).read_text("utf-8").splitlines()
    title_sq = _squash(exp.get("title") or "")
    agency = exp["agency"]

    preamble: list[str] = []
    sections: dict[str, list[str]] = {k: [] for k, _ in layout.sections}
    current: str | None = None
    expect = 0
    for raw in lines:
        key = _section_of_heading(raw, expect, layout) if expect < len(layout.sections) else None
        if key is not None:
            current = key
            expect += 1
            continue
        if not raw.strip():
            continue
        if current in ("proactive", "requests", "appeals"):
            # Inside the table sections only real sentences are narrative; the rest is the table.
            if raw.startswith((" ", "\t")) or "\t" in raw or "。" not in raw or "勾稽" in raw:
                continue
        elif raw.startswith("\t"):
            continue
        text = _clean_line(raw)
        if not text:
            continue
        if current is None:
            sq = _squash(text)
            if title_sq and sq and sq in title_sq:
                continue  # the title printed over one or two lines
            preamble.append(text)
        else:
            sections[current].append(text)

    # Closing lines (agency, date) at the end of section 六 form the signature.
    signature: list[str] = []
    other = sections["other"]
    while other and (_DATE_LINE_RE.match(other[-1]) or _squash(other[-1]) == _squash(agency)):
        signature.insert(0, other.pop())
    return ReportSpec(
        agency=agency,
        year=exp["year"],
        title=exp.get("title"),
        published=exp.get("published"),
        template=exp.get("template", "2021"),
        preamble=preamble,
        sections={k: v for k, v in sections.items()},
        table2=exp["table2"],
        table3=exp["table3"],
        table4=exp["table4"],
        signature=signature,
    )


# --------------------------------------------------------------------------------------------
# Table layouts: one abstract grid per table, printed by each format
# --------------------------------------------------------------------------------------------

class _C:
    """A printed cell: text, spans, and whether it is a header."""

    __slots__ = ("text", "rowspan", "colspan", "header")

    def __init__(self, text: str, rowspan: int = 1, colspan: int = 1, header: bool = False):
        self.text, self.rowspan, self.colspan, self.header = text, rowspan, colspan, header


#: The column key of a single-valued Table 二 row (in layouts and in the expected files).
_SCALAR = "value"


def _fmt(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v)


def _table2_layout(spec: ReportSpec, layout: Layout) -> tuple[int, list[list[_C]]]:
    t2 = spec.table2
    ncols = 4
    rows: list[list[_C]] = []
    for block in layout.table2_blocks:
        rows.append([_C(block.header, colspan=ncols, header=True)])
        span_last = ncols - 1 - len(block.columns)  # extra width given to the last column
        header = [_C(layout.table2_content_header, header=True)]
        for i, (_, label) in enumerate(block.columns):
            header.append(_C(label, colspan=1 + (span_last if i == len(block.columns) - 1 else 0), header=True))
        rows.append(header)
        single = [c for c, _ in block.columns] == [_SCALAR]
        for rk, label in block.rows:
            r = [_C(label)]
            v = t2.get(rk)
            if single:
                vals = [v.get(_SCALAR) if isinstance(v, dict) else v]
            else:
                vals = [(v or {}).get(c) for c, _ in block.columns]
            for i, val in enumerate(vals):
                r.append(_C(_fmt(val), colspan=1 + (span_last if i == len(vals) - 1 else 0)))
            rows.append(r)
    return ncols, rows


#: Table 三 column headers; 商业企业/科研机构 are printed wrapped, as Word does in narrow columns.
_T3_WRAPPED = ("commercial_enterprise", "research_institution")


def _wrapped(label: str) -> str:
    """A four-character header broken in two lines (商业\\n企业)."""
    return label[:2] + "\n" + label[2:] if len(label) == 4 else label


def _two_paragraphs(label: str) -> str:
    """A long label with a bracketed note is typed as two paragraphs in many reports:
    "（二）部分公开" / "（区分处理的，…）".  Marked with a form feed, printed as two <p>/w:p."""
    i = label.find("（", 1)
    return label if i <= 0 else label[:i] + "\f" + label[i:]


def _table3_layout(spec: ReportSpec, layout: Layout) -> tuple[int, list[list[_C]]]:
    t3 = spec.table3
    ncols = 10
    columns = dict(layout.table3_columns)
    keys = list(columns)  # applicant columns, then the total
    rows: list[list[_C]] = [
        [_C(layout.table3_note, rowspan=3, colspan=3, header=True),
         _C(layout.table3_applicants, colspan=7, header=True)],
        [_C(columns[keys[0]], rowspan=2, header=True),
         _C(layout.table3_organisations, colspan=5, header=True),
         _C(columns[keys[-1]], rowspan=2, header=True)],
        [_C(_wrapped(columns[c]) if c in _T3_WRAPPED else columns[c], header=True) for c in keys[1:6]],
    ]
    results = layout.results_group
    result_rows = [r for r in layout.table3_rows if r.group]

    def values(key: str) -> list[_C]:
        vals = t3.get(key) or [None] * 7
        return [_C(_fmt(v)) for v in vals]

    group_sizes: dict[str, int] = {}
    for r in result_rows:
        if r.group != results:
            group_sizes[r.group] = group_sizes.get(r.group, 0) + 1
    seen_groups: set[str] = set()
    first_result = True
    for row in layout.table3_rows:
        if not row.group:  # 一、本年新收 / 二、上年结转 / 四、结转下年度继续办理: across the label columns
            rows.append([_C(row.label, colspan=3), *values(row.key)])
            continue
        r: list[_C] = []
        if first_result:
            r.append(_C(results, rowspan=len(result_rows)))
            first_result = False
        if row.group != results:
            if row.group not in seen_groups:
                seen_groups.add(row.group)
                r.append(_C(row.group, rowspan=group_sizes[row.group]))
            r.append(_C(row.label))
        else:
            r.append(_C(_two_paragraphs(row.label), colspan=2))
        rows.append(r + values(row.key))
    return ncols, rows


def _table4_layout(spec: ReportSpec, layout: Layout) -> tuple[int, list[list[_C]]]:
    t4 = spec.table4
    cols = [label for _, label in layout.table4_columns]
    rows = [
        [_C(layout.table4_review, colspan=5, header=True), _C(layout.table4_litigation, colspan=10, header=True)],
        [*(_C(c, rowspan=2, header=True) for c in cols),
         _C(layout.table4_direct, colspan=5, header=True), _C(layout.table4_after_review, colspan=5, header=True)],
        [_C(c, header=True) for c in cols * 2],
        [_C(_fmt((t4.get(g) or {}).get(c))) for g, _ in layout.table4_groups for c, _ in layout.table4_columns],
    ]
    return 15, rows


def _layouts(spec: ReportSpec, layout: Layout) -> dict[str, tuple[int, list[list[_C]]]]:
    return {"proactive": _table2_layout(spec, layout), "requests": _table3_layout(spec, layout),
            "appeals": _table4_layout(spec, layout)}


def _blocks(spec: ReportSpec, layout: Layout | None = None):
    """The report in reading order: ("title"|"para"|"heading"|"table"|"sign", payload)."""
    layout = layout or demo_layout(spec.template)
    out: list[tuple[str, Any]] = []
    if spec.demo:
        out.append(("demo", f"【{DEMO_MARK}】本页为演示数据，不是真实报告。"))
    if spec.title:
        out.append(("title", spec.title))
    for p in spec.preamble:
        out.append(("para", p))
    tables = _layouts(spec, layout)
    for key, heading in layout.sections:
        out.append(("heading", heading))
        paras = spec.sections.get(key) or []
        if key in tables:
            # Narrative of the table sections precedes the table, as in most reports.
            for p in paras:
                out.append(("para", p))
            out.append(("table", tables[key]))
        else:
            for p in paras:
                out.append(("para", p))
    for s in spec.signature:
        out.append(("sign", s))
    return out


# --------------------------------------------------------------------------------------------
# HTML
# --------------------------------------------------------------------------------------------

_SPAN = "<span style='font-size:12.0pt;font-family:仿宋_GB2312'>{}</span>"


def _html_cell_text(text: str) -> str:
    """Word-paste cell content: a <p> per paragraph ("\f"), <br> for a line break ("\n")."""
    if not text:
        return "<p class=MsoNormal align=center>&nbsp;</p>"
    out = []
    for para in text.split("\f"):
        lines = [html.escape(p) for p in para.split("\n")]
        out.append("<p class=MsoNormal align=center><span style='font-size:10.5pt;font-family:宋体'>"
                   + "<br>".join(lines) + "</span></p>")
    return "".join(out)


def _html_table(ncols: int, rows: list[list[_C]]) -> str:
    out = ["<table class=MsoNormalTable border=1 cellspacing=0 cellpadding=0 width=600 "
           "style='border-collapse:collapse;border:none'>", "<tbody>"]
    for r in rows:
        out.append("<tr>")
        for c in r:
            attrs = ""
            if c.rowspan > 1:
                attrs += f" rowspan={c.rowspan}"
            if c.colspan > 1:
                attrs += f" colspan={c.colspan}"
            nowrap = " nowrap" if not c.header and len(c.text) <= 8 else ""
            out.append(f"<td{attrs}{nowrap} valign=center style='border:solid windowtext 1.0pt;"
                       f"padding:0cm 5.4pt 0cm 5.4pt'>{_html_cell_text(c.text)}</td>")
        out.append("</tr>")
    out.append("</tbody></table>")
    return "\n".join(out)


def render_html_fragment(spec: ReportSpec, layout: Layout | None = None) -> str:
    """The report body as a CMS shows it after a Word paste (no <html>/<head>), printing ``layout``'s
    words (default: the demo's copy of the spec's format)."""
    out: list[str] = []
    for kind, payload in _blocks(spec, layout):
        if kind == "demo":
            out.append(f"<p style='color:#c00;font-weight:bold'>{html.escape(payload)}</p>")
        elif kind == "table":
            out.append(_html_table(*payload))
        else:
            attrs, bold = _PARAGRAPHS[kind]
            text = _SPAN.format(html.escape(payload))
            out.append(f"<p class=MsoNormal {attrs}>" + (f"<b>{text}</b>" if bold else text) + "</p>")
    return "\n".join(out)


#: Word-paste paragraph attributes and boldness of each kind of text block.
_PARAGRAPHS = {
    "title": ("align=center style='text-align:center'", True),
    "heading": ("style='text-indent:32.0pt'", True),
    "para": ("style='text-indent:32.0pt'", False),
    "sign": ("align=right style='text-align:right'", False),
}


_ID_CONTAINERS = {"zoom", "UCAP-CONTENT", "vsb_content", "ivs_content", "webeditorview"}


def render_html_page(spec: ReportSpec, *, encoding: str = "utf-8", container: str = "TRS_Editor",
                     charset_in_meta: bool = True, layout: Layout | None = None) -> bytes:
    """A full portal page: site chrome around the body in ``container`` (a class, or an id as
    ``#zoom``; the usual ids are recognised bare), with ArticleTitle/PubDate metadata."""
    name = container.lstrip("#.")
    if container.startswith("#") or name in _ID_CONTAINERS:
        open_tag = f'<div id="{name}">'
    else:
        open_tag = f'<div class="{name}">'
    title = spec.title or "信息公开"
    head = [f'<meta charset="{encoding}">' if charset_in_meta else "",
            f"<title>{html.escape(title)}</title>"]
    if spec.title:
        head.append(f'<meta name="ArticleTitle" content="{html.escape(spec.title)}">')
    if spec.published:
        head.append(f'<meta name="PubDate" content="{spec.published} 09:30">')
    head.append(f'<meta name="ContentSource" content="{html.escape(spec.agency)}">')
    info = f"<span>发布日期：{spec.published}</span> " if spec.published else ""
    page = f"""<!DOCTYPE html>
<html>
<head>
{chr(10).join(h for h in head if h)}
<style>.nav li {{ display:inline }}</style>
<script>var _hmt = _hmt || []; window.siteConfig = {{"name": "门户网站"}};</script>
</head>
<body>
<div class="header"><ul class="nav"><li><a href="/">首页</a></li><li><a href="/xxgk/">政府信息公开</a></li>
<li><a href="/xxgk/ndbg/">政府信息公开年报</a></li><li><a href="/hdjl/">互动交流</a></li></ul></div>
<div class="crumb">当前位置：<a href="/">首页</a> &gt; <a href="/xxgk/">政府信息公开</a> &gt; 年度报告</div>
<div class="article">
<h1 class="article-title">{html.escape(spec.title or "")}</h1>
<div class="info">{info}<span>来源：{html.escape(spec.agency)}</span> <span>浏览次数：128</span></div>
{open_tag}
{render_html_fragment(spec, layout)}
</div>
</div>
<div class="footer"><p>主办单位：人民政府办公室 网站标识码 1234000000 备案号：某ICP备12345678号</p>
<p>联系电话：0000-1234567</p></div>
</body>
</html>
"""
    return page.encode(encoding, errors="xmlcharrefreplace")


# --------------------------------------------------------------------------------------------
# DOCX (and PDF/DOC through LibreOffice)
# --------------------------------------------------------------------------------------------

def _set_font(run_or_style, size_pt: float | None = None, bold: bool = False) -> None:
    from docx.oxml.ns import qn
    from docx.shared import Pt

    font = run_or_style.font
    font.name = CJK_FONT
    if size_pt:
        font.size = Pt(size_pt)
    if bold:
        font.bold = True
    el = run_or_style.element if hasattr(run_or_style, "element") else run_or_style._element
    rpr = el.get_or_add_rPr()
    rfonts = rpr.find(qn("w:rFonts"))
    if rfonts is None:
        rfonts = rpr.makeelement(qn("w:rFonts"), {})
        rpr.append(rfonts)
    for attr in ("w:ascii", "w:hAnsi", "w:eastAsia", "w:cs"):
        rfonts.set(qn(attr), CJK_FONT)


def render_docx(spec: ReportSpec, layout: Layout | None = None) -> bytes:
    """The report as a Word document with real merged cells (gridSpan / vMerge)."""
    import docx
    from docx.enum.section import WD_ORIENT
    from docx.enum.table import WD_TABLE_ALIGNMENT
    from docx.enum.text import WD_ALIGN_PARAGRAPH
    from docx.shared import Cm

    doc = docx.Document()
    _set_font(doc.styles["Normal"], 10.5)
    sec = doc.sections[0]
    sec.orientation = WD_ORIENT.PORTRAIT
    sec.page_width, sec.page_height = Cm(21.0), Cm(29.7)
    sec.left_margin = sec.right_margin = Cm(1.5)
    sec.top_margin = sec.bottom_margin = Cm(2.0)
    cp = doc.core_properties
    cp.title = spec.title or ""
    cp.author = spec.agency
    cp.comments = ""
    # python-docx's template carries 2013 dates; a report's file dates say nothing true, so keep
    # only the publication date (as "created") when the spec has one.
    from docx.oxml.ns import qn

    for tag in ("dcterms:created", "dcterms:modified", "cp:lastPrinted"):
        for el in cp._element.findall(qn(tag)):
            cp._element.remove(el)
    if spec.published:
        from datetime import datetime
        cp.created = datetime.fromisoformat(spec.published + "T09:00:00")
    for kind, payload in _blocks(spec, layout):
        if kind == "table":
            ncols, rows = payload
            _docx_table(doc, ncols, rows, WD_TABLE_ALIGNMENT)
            continue
        p = doc.add_paragraph()
        run = p.add_run(payload)
        if kind in ("title", "demo"):
            p.alignment = WD_ALIGN_PARAGRAPH.CENTER
            _set_font(run, 16 if kind == "title" else 12, bold=True)
        elif kind == "heading":
            _set_font(run, 12, bold=True)
        elif kind == "sign":
            p.alignment = WD_ALIGN_PARAGRAPH.RIGHT
    buf = io.BytesIO()
    doc.save(buf)
    return buf.getvalue()


def _docx_table(doc, ncols: int, rows: list[list[_C]], WD_TABLE_ALIGNMENT) -> None:
    from docx.enum.text import WD_ALIGN_PARAGRAPH
    from docx.oxml.ns import qn
    from docx.shared import Cm

    table = doc.add_table(rows=len(rows), cols=ncols)
    table.style = "Table Grid"
    table.alignment = WD_TABLE_ALIGNMENT.CENTER
    occupied: set[tuple[int, int]] = set()
    placements: list[tuple[int, int, _C]] = []
    for ri, r in enumerate(rows):
        ci = 0
        for c in r:
            while (ri, ci) in occupied:
                ci += 1
            placements.append((ri, ci, c))
            for dr in range(c.rowspan):
                for dc in range(c.colspan):
                    occupied.add((ri + dr, ci + dc))
            ci += c.colspan
    # Narrow value columns, wider label columns (Table 三's labels are long).
    total_width = 18.0
    if ncols == 10:
        widths = [1.6, 2.2, 4.2] + [(total_width - 8.0) / 7] * 7
    else:
        widths = [total_width / ncols] * ncols
    table.autofit = False
    # LibreOffice reads the widths from tblGrid, Word from each cell: set both.
    for gc, w in zip(table._tbl.tblGrid.gridCol_lst, widths):
        gc.w = Cm(w)
    # python-docx recomputes the whole grid on every table.cell() call: fetch the cells once,
    # before any merge (merging leaves the other cells' elements in place).
    cells = table._cells
    for k, cell in enumerate(cells):
        cell.width = Cm(widths[k % ncols])
    # Rows never break across a page, and a small table (or a header) stays on one page, as
    # report authors usually arrange it; the PDF extractor still joins tables split by a page.
    keep_rows = len(rows) if len(rows) <= 6 else 3
    for ri, tr in enumerate(table.rows):
        trpr = tr._tr.get_or_add_trPr()
        trpr.append(trpr.makeelement(qn("w:cantSplit"), {}))
        if ri < keep_rows - 1:
            for cell in tr.cells:
                for para in cell.paragraphs:
                    para.paragraph_format.keep_with_next = True
    merges = []
    for ri, ci, c in placements:
        cell = cells[ri * ncols + ci]
        if c.rowspan > 1 or c.colspan > 1:
            merges.append((cell, cells[(ri + c.rowspan - 1) * ncols + ci + c.colspan - 1]))
        for pi, ptext in enumerate(c.text.split("\f")):
            para = cell.paragraphs[0] if pi == 0 else cell.add_paragraph()
            para.alignment = WD_ALIGN_PARAGRAPH.CENTER
            if ri < keep_rows - 1:
                para.paragraph_format.keep_with_next = True
            lines = ptext.split("\n")
            for i, line in enumerate(lines):
                run = para.add_run(line)
                _set_font(run, 8 if ncols >= 10 else 9, bold=c.header)
                if i < len(lines) - 1:
                    run.add_break()
    for a, b in merges:
        a.merge(b)


def render_pdf(spec: ReportSpec, layout: Layout | None = None) -> bytes:
    """DOCX -> LibreOffice -> PDF (text layer with embedded CJK font)."""
    from crawler.parsing.extract.office import convert

    return convert(render_docx(spec, layout), src_ext="docx", to="pdf", name=f"{spec.agency} {spec.year}")


def render_doc(spec: ReportSpec, layout: Layout | None = None) -> bytes:
    """DOCX -> LibreOffice -> Word 97 .doc."""
    from crawler.parsing.extract.office import convert

    return convert(render_docx(spec, layout), src_ext="docx", to="doc", name=f"{spec.agency} {spec.year}",
                   filter_options="MS Word 97")
