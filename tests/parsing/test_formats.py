"""Every rendering of every seed (HTML, GBK HTML, DOCX, PDF, DOC) parses to the hand-checked values."""
from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import pypdfium2 as pdfium
import pytest

import render_seeds
from crawler.demo import render
from crawler.parsing import parse_bytes
from crawler.parsing.extract import docx as docx_extract
from crawler.parsing.extract import html as html_extract
from crawler.parsing.extract import pdf as pdf_extract
from crawler.parsing.extract.base import Table
from crawler.parsing.sniff import sniff
from storage.models import ParseStatus

STEMS = render_seeds.seed_stems()
CASES = [(s, f) for s in STEMS for f in ("html", "docx", "pdf")]
CASES.append((STEMS[render_seeds.DOC_SEED_INDEX], "doc"))
COMPARED = ("agency", "year", "template", "title", "published", "table2", "table3", "table4")


def _expected(stem: str) -> dict:
    return json.loads((render_seeds.EXPECTED / f"{stem}.json").read_text("utf-8"))


def _diff(got: dict, exp: dict) -> list[str]:
    out = []
    for k in COMPARED:
        if k == "table3":
            for row, vals in exp["table3"].items():
                if got["table3"].get(row) != vals:
                    out.append(f"table3.{row}: got {got['table3'].get(row)} expected {vals}")
        elif got[k] != exp[k]:
            out.append(f"{k}: got {got[k]!r} expected {exp[k]!r}")
    return out


@pytest.mark.parametrize("stem,fmt", CASES, ids=[f"{s[:3]}-{f}" for s, f in CASES])
def test_rendering_parses_to_expected(seed_corpus, stem, fmt):
    r = seed_corpus[(stem, fmt)]
    data = Path(r.path).read_bytes()
    report = parse_bytes(data, path=r.path, content_type=r.content_type)
    got = report.to_json()
    assert report.status == ParseStatus.PARSED, report.error
    assert _diff(got, _expected(stem)) == []
    assert got["source"]["format"] == fmt
    assert got["source"]["sha256"] == hashlib.sha256(data).hexdigest()
    assert got["source"]["path"] == r.path
    # The narrative survives too: the single-report checks find exactly the seed's problems
    # (seed 001's four; none elsewhere), whatever the format.
    from monitor.checks.report import check_report

    exp_rules = sorted({i["rule"] for i in _expected(stem)["inconsistencies"]})
    assert sorted({f.rule for f in check_report(report)}) == exp_rules


def test_gbk_page_is_gbk(seed_corpus):
    stem = STEMS[render_seeds.GBK_SEED_INDEX]
    data = Path(seed_corpus[(stem, "html")].path).read_bytes()
    with pytest.raises(UnicodeDecodeError):
        data.decode("utf-8")
    text, enc = html_extract.decode(data, "text/html")
    assert enc == "gb18030" and _expected(stem)["agency"] in text


@pytest.mark.parametrize("how", ["meta", "header", "sniffed", "wrong-header"])
def test_gbk_charset_from_header_meta_or_sniffed(how):
    spec = render_seeds.seed_spec(STEMS[0])
    data = render_seeds.html_page(spec, encoding="gbk", charset_in_meta=(how == "meta"))
    ctype = {"meta": "text/html", "header": "text/html; charset=GBK", "sniffed": None,
             "wrong-header": "text/html; charset=utf-8"}[how]
    report = parse_bytes(data, url="http://127.0.0.1/a.html", content_type=ctype)
    assert report.status == ParseStatus.PARSED, report.error
    assert report.agency == _expected(STEMS[0])["agency"]
    assert report.table3 == _expected(STEMS[0])["table3"]


@pytest.mark.parametrize("page_enc,declared", [("gbk", "iso-8859-1"), ("utf-8", "gb2312"), ("gbk", "utf-8"),
                                               ("utf-8", "windows-1252")])
def test_mislabelled_charset(page_enc, declared):
    """Pages that lie about their charset (header and meta alike) still decode."""
    spec = render_seeds.seed_spec(STEMS[3])
    data = render_seeds.html_page(spec, encoding=page_enc, charset_in_meta=False)
    data = data.replace(b"<head>", f'<head><meta charset="{declared}">'.encode(), 1)
    text, _ = html_extract.decode(data, f"text/html; charset={declared}")
    assert spec.agency in text and spec.title in text
    report = parse_bytes(data, content_type=f"text/html; charset={declared}")
    assert report.status == ParseStatus.PARSED, report.error
    assert (report.agency, report.title) == (spec.agency, spec.title)


@pytest.mark.parametrize("container", ["TRS_Editor", "trs_editor_view", "TRS_UEDITOR", "Custom_UnionStyle",
                                       "#zoom", "#UCAP-CONTENT", "article-content", "#vsb_content",
                                       "news_cont_d_wrap", "#ivs_content", "#webeditorview", "#articleContent",
                                       "xxgk_content", "zw-content", "unknown_box"])
def test_body_found_in_each_container(container):
    spec = render_seeds.seed_spec(STEMS[1])
    ex = html_extract.extract(render_seeds.html_page(spec, container=container))
    texts = [b.text for b in ex.blocks if not isinstance(b, Table)]
    # The body, and none of the site chrome around it.
    assert texts[0] == spec.title
    assert not any("首页" in t or "备案号" in t or "浏览次数" in t for t in texts)
    assert sum(isinstance(b, Table) for b in ex.blocks) == 3
    assert ex.metadata["ArticleTitle"] == spec.title
    assert ex.metadata["PubDate"].startswith(spec.published)


def _table3(blocks) -> Table:
    tables = [b for b in blocks if isinstance(b, Table)]
    assert len(tables) == 3
    return tables[1]


@pytest.mark.parametrize("fmt", ["html", "docx", "pdf"])
def test_table3_spans_resolved(seed_corpus, fmt):
    """Table 三 comes back as 28 rows x 10 columns with its merged cells marked, labels unwrapped."""
    stem = STEMS[1]
    data = Path(seed_corpus[(stem, fmt)].path).read_bytes()
    ex = {"html": html_extract.extract, "docx": docx_extract.extract, "pdf": pdf_extract.extract}[fmt](data)
    t = _table3(ex.blocks)
    assert len(t.rows) == 28 and all(len(r) == 10 for r in t.rows)
    # 申请人情况 spans the seven value columns of row 0; the balance note covers 3x3.
    assert t.rows[0][3].text == "申请人情况" and not t.rows[0][3].spanned
    assert all(c.spanned and c.origin == (0, 3) for c in t.rows[0][4:10])
    assert all(t.rows[r][c].spanned and t.rows[r][c].origin == (0, 0)
               for r in range(3) for c in range(3) if (r, c) != (0, 0))
    # 三、本年度办理结果 spans the 23 result rows in column 0.
    assert t.rows[5][0].text == "三、本年度办理结果"
    assert all(t.rows[r][0].spanned and t.rows[r][0].origin == (5, 0) for r in range(6, 26))
    # Wrapped header labels read whole.
    assert [c.text for c in t.rows[2][4:6]] == ["商业企业", "科研机构"]
    assert t.texts()[3][3:] == ["1", "0", "0", "0", "0", "0", "1"]


def _page_texts(pdf_bytes: bytes) -> list[str]:
    doc = pdfium.PdfDocument(pdf_bytes)
    try:
        return [doc[i].get_textpage().get_text_range() for i in range(len(doc))]
    finally:
        doc.close()


def test_pdf_table_continued_across_pages_is_joined(render_cache):
    """Table 三 broken by a page comes back as one table with every value."""
    stem = STEMS[4]
    base = render_seeds.seed_spec(stem)
    # Push Table 三 down until it straddles a page break (the renderer keeps rows whole).
    specs = []
    for n in (6, 10, 14):
        spec = render_seeds.seed_spec(stem)
        spec.sections["proactive"] = spec.sections.get("proactive", []) + [base.sections["overview"][0]] * n
        specs.append(spec)
    pdfs = render_seeds.render_office(specs, "pdf", render_cache)
    straddling = []
    for spec, data in zip(specs, pdfs):
        pages = _page_texts(data)
        first = next(i for i, p in enumerate(pages) if "本年新收" in p)
        last = max(i for i, p in enumerate(pages) if "结转下年度继续办理" in p.replace("\r\n", ""))
        if last > first:
            straddling.append(data)
    assert straddling, "no rendering put Table 三 across a page break"
    exp = _expected(stem)
    for data in straddling:
        ex = pdf_extract.extract(data)
        t = _table3(ex.blocks)
        assert len(t.rows) == 28
        report = parse_bytes(data)
        assert report.status == ParseStatus.PARSED, report.error
        assert report.table3 == exp["table3"]


def test_sniff_ignores_lying_hints(seed_corpus):
    stem = STEMS[0]
    pdf = Path(seed_corpus[(stem, "pdf")].path).read_bytes()
    docx = Path(seed_corpus[(stem, "docx")].path).read_bytes()
    html = Path(seed_corpus[(stem, "html")].path).read_bytes()
    assert sniff(pdf, content_type="text/html", path="a.html") == "pdf"
    assert sniff(docx, content_type="application/pdf", path="a.pdf") == "docx"
    assert sniff(html, content_type="application/msword", path="a.doc") == "html"
    report = parse_bytes(pdf, url="http://127.0.0.1/report.html", content_type="text/html")
    assert report.source.format == "pdf" and report.status == ParseStatus.PARSED


def test_wps_named_ole_goes_through_libreoffice(seed_corpus):
    """An OLE file named .wps is sent to LibreOffice like a .doc (Kingsoft saves Word-compatible OLE)."""
    stem = STEMS[render_seeds.DOC_SEED_INDEX]
    data = Path(seed_corpus[(stem, "doc")].path).read_bytes()
    report = parse_bytes(data, path="report.wps")
    assert report.source.format == "wps"
    assert report.status == ParseStatus.PARSED, report.error
    assert report.table3 == _expected(stem)["table3"]


def test_pdf_without_rulings_falls_back_to_text_layout(render_cache):
    """Borderless tables (no ruling lines): lines with tabs at wide gaps, read as a text layout."""
    import io

    import docx as python_docx

    stem = STEMS[1]
    doc = python_docx.Document(io.BytesIO(render_seeds.docx(render_seeds.seed_spec(stem))))
    for t in doc.tables:
        t.style = doc.styles["Normal Table"]  # no borders
    buf = io.BytesIO()
    doc.save(buf)
    from crawler.parsing.extract.office import convert

    data = convert(buf.getvalue(), src_ext="docx", to="pdf")
    ex = pdf_extract.extract(data)
    assert ex.text_layout and ex.status is None
    report = parse_bytes(data)
    assert report.status in (ParseStatus.PARSED, ParseStatus.PARTIAL), report.error
    exp = _expected(stem)
    assert (report.table2, report.table3, report.table4) == (exp["table2"], exp["table3"], exp["table4"])


def test_ucapcontent_element_is_a_container():
    """Suzhou's UCAP pages hold the body in a <ucapcontent> element, not a class."""
    spec = render_seeds.seed_spec(STEMS[1])
    page = render_seeds.html_page(spec, container="unknown_box").decode("utf-8")
    page = page.replace('<div class="unknown_box">', "<ucapcontent>", 1)
    page = page.replace("</div>\n</div>\n<div class=\"footer\">", "</ucapcontent>\n</div>\n<div class=\"footer\">", 1)
    assert "</ucapcontent>" in page
    from lxml import etree

    assert html_extract.locate_body(etree.fromstring(page, etree.HTMLParser())).tag == "ucapcontent"
    ex = html_extract.extract(page.encode("utf-8"))
    texts = [b.text for b in ex.blocks if not isinstance(b, Table)]
    assert texts[0] == spec.title and not any("备案号" in t for t in texts)


def test_html_report_inside_layout_tables():
    """Old CMS pages put the article in a layout table (and the data table in yet another)."""
    spec = render_seeds.seed_spec(STEMS[3])
    fragment = render_seeds.html_fragment(spec)
    fragment = fragment.replace("<table class=MsoNormalTable", "<table><tr><td><table class=MsoNormalTable", 1)
    first_end = fragment.index("</tbody></table>") + len("</tbody></table>")
    fragment = fragment[:first_end] + "</td></tr></table>" + fragment[first_end:]
    page = ("<html><head><meta http-equiv='Content-Type' content='text/html; charset=utf-8'><title>x</title>"
            "</head><body><table width=100%><tr><td class=nav>首页 | 政务公开</td></tr><tr><td>"
            f"<table><tr><td>{fragment}</td></tr></table></td></tr>"
            "<tr><td>版权所有 备案号</td></tr></table></body></html>").encode()
    ex = html_extract.extract(page)
    assert sum(isinstance(b, Table) for b in ex.blocks) == 3
    report = parse_bytes(page)
    exp = _expected(STEMS[3])
    assert report.status == ParseStatus.PARSED, report.error
    assert (report.agency, report.table2, report.table3, report.table4) == (
        exp["agency"], exp["table2"], exp["table3"], exp["table4"])


def test_cell_paragraphs_and_breaks_join_without_space():
    page = ("<div class=TRS_Editor><table><tr><td><p>（二）部分公开</p><p>（区分处理的，只计这一情形）</p></td>"
            "<td>商业<br>企业</td><td nowrap>&nbsp;</td><td><p>Total</p><p>count</p></td></tr></table></div>")
    ex = html_extract.extract(page.encode())
    (t,) = [b for b in ex.blocks if isinstance(b, Table)]
    assert t.texts() == [["（二）部分公开（区分处理的，只计这一情形）", "商业企业", "", "Total count"]]


def test_cell_lines_found_deep_inside_the_cell_and_across_tbody():
    """A Word paste puts the line break inside <p><span>; the cell is still read line by line, the lines
    of a cell being counted in it alone ("first second": its two <p>, not its neighbour's)."""
    page = ("<div class=TRS_Editor><table><tbody><tr><td><p class=MsoNormal><span>结果<br>维持</span></p></td>"
            "<td><p class=MsoNormal><span>Total count</span></p></td></tr>"
            "<tr><td><p>A</p></td><td><div><p>first</p></div><p>second</p></td></tr></tbody></table></div>")
    ex = html_extract.extract(page.encode())
    (t,) = [b for b in ex.blocks if isinstance(b, Table)]
    assert t.texts() == [["结果维持", "Total count"], ["A", "first second"]]


def test_cell_lines_counted_in_a_cell_that_broken_markup_put_inside_a_cell():
    """An unclosed <div> makes lxml put the next cell inside the first: the outer cell holds three line
    elements (its <div>, the inner cell's two <p>) and is read line by line, as a cell of its own."""
    page = ("<div class=TRS_Editor><table><tr><td><div>结果<td><p>a</p><p>b</p></td></tr>"
            "<tr><td>x</td><td>y</td></tr></table></div>")
    ex = html_extract.extract(page.encode())
    (t,) = [b for b in ex.blocks if isinstance(b, Table)]
    assert t.texts()[0][0] == "结果a b"


@pytest.mark.parametrize("stem", STEMS, ids=[s[:3] for s in STEMS])
def test_chromium_printed_pdf_parses_to_expected(seed_corpus, render_cache, stem):
    """The HTML rendering printed by Chromium: other border drawing, tables split mid-row by pages."""
    html = Path(seed_corpus[(stem, "html")].path).read_bytes()
    data = render_seeds.render_chromium_pdf(html, render_cache)
    report = parse_bytes(data, path=f"{stem}.pdf")
    assert report.status == ParseStatus.PARSED, (report.error, report.warnings)
    assert _diff(report.to_json(), _expected(stem)) == []
    from monitor.checks.report import check_report

    assert sorted({f.rule for f in check_report(report)}) == sorted(
        {i["rule"] for i in _expected(stem)["inconsistencies"]})


def test_docx_report_inside_a_layout_table():
    """A Word file whose whole body sits in a one-cell frame table (pasted from a web page)."""
    import io
    import zipfile

    from lxml import etree

    stem = STEMS[0]
    src = render_seeds.docx(render_seeds.seed_spec(stem))
    zin = zipfile.ZipFile(io.BytesIO(src))
    root = etree.fromstring(zin.read("word/document.xml"))
    w = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
    body = root.find(w + "body")
    content = [el for el in body if el.tag != w + "sectPr"]
    frame = etree.Element(w + "tbl")
    tc = etree.SubElement(etree.SubElement(frame, w + "tr"), w + "tc")
    for el in content:
        tc.append(el)  # moves it
    body.insert(0, frame)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            data = etree.tostring(root) if info.filename == "word/document.xml" else zin.read(info.filename)
            zout.writestr(info.filename, data)
    ex = docx_extract.extract(out.getvalue())
    assert sum(isinstance(b, Table) for b in ex.blocks) == 3
    report = parse_bytes(out.getvalue())
    assert report.status == ParseStatus.PARSED, report.error
    assert _diff(report.to_json(), _expected(stem)) == []


@pytest.mark.parametrize("label", ["发布日期", "发布时间", "时间", "日期"])
def test_visible_date_line_above_body(label):
    """No PubDate meta: the date printed in the info bar above the body is the publication date."""
    spec = render_seeds.seed_spec(STEMS[2])  # no signature date, no published date in the spec
    page = render_seeds.html_page(spec).decode("utf-8").replace(
        '<span>来源：', f'<span>{label}：2025-01-20 10:30</span> <span>来源：', 1)
    ex = html_extract.extract(page.encode("utf-8"))
    assert "2025-01-20 10:30" in ex.metadata.values()
    report = parse_bytes(page.encode("utf-8"))
    assert report.published is not None and report.published.isoformat() == "2025-01-20"


@pytest.mark.parametrize("fmt", ["html", "docx"])
def test_demo_mark_is_visible_and_harmless(fmt):
    spec = render_seeds.seed_spec(STEMS[4])
    spec.demo = True
    data = render_seeds.html_page(spec) if fmt == "html" else render_seeds.docx(spec)
    report = parse_bytes(data)
    assert render.DEMO_MARK in report.text
    assert report.status == ParseStatus.PARSED, report.error
    assert _diff(report.to_json(), _expected(STEMS[4])) == []


def test_pdf_page_border_is_not_a_table():
    """A page border (a frame around all the text) is not a one-cell table swallowing the page."""
    import io

    import docx as python_docx
    from docx.oxml import parse_xml

    from crawler.parsing.extract.office import convert

    stem = STEMS[0]
    doc = python_docx.Document(io.BytesIO(render_seeds.docx(render_seeds.seed_spec(stem))))
    ns = 'xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"'
    sides = "".join(f'<w:{s} w:val="single" w:sz="12" w:space="10" w:color="000000"/>'
                    for s in ("top", "left", "bottom", "right"))
    doc.sections[0]._sectPr.append(parse_xml(f'<w:pgBorders {ns} w:offsetFrom="page">{sides}</w:pgBorders>'))
    buf = io.BytesIO()
    doc.save(buf)
    data = convert(buf.getvalue(), src_ext="docx", to="pdf")
    ex = pdf_extract.extract(data)
    assert [(len(t.rows), len(t.rows[0])) for t in ex.blocks if isinstance(t, Table)] == [(14, 4), (28, 10), (4, 15)]
    report = parse_bytes(data)
    assert report.status == ParseStatus.PARSED, report.error
    assert _diff(report.to_json(), _expected(stem)) == []


def test_pdf_running_header_and_page_numbers_do_not_split_tables():
    """Word headers/footers print on every page; a table broken by a page still joins across them."""
    import io

    import docx as python_docx
    from docx.oxml import parse_xml

    from crawler.parsing.extract.office import convert

    stem = STEMS[4]
    spec = render_seeds.seed_spec(stem)
    base = render_seeds.seed_spec(stem)
    spec.sections["proactive"] = spec.sections.get("proactive", []) + [base.sections["overview"][0]] * 6
    doc = python_docx.Document(io.BytesIO(render_seeds.docx(spec)))
    sec = doc.sections[0]
    sec.header.paragraphs[0].text = spec.title
    ns = 'xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"'
    footer = sec.footer.paragraphs[0]
    footer.add_run("第 ")
    footer._p.append(parse_xml(f'<w:fldSimple {ns} w:instr="PAGE"><w:r><w:t>1</w:t></w:r></w:fldSimple>'))
    footer.add_run(" 页")
    buf = io.BytesIO()
    doc.save(buf)
    data = convert(buf.getvalue(), src_ext="docx", to="pdf")
    pages = _page_texts(data)
    assert len(pages) >= 3 and all(spec.title in re.sub(r"\s", "", p) for p in pages)
    first = next(i for i, p in enumerate(pages) if "本年新收" in p)
    assert "结转下年度继续办理" in pages[first + 1].replace("\r\n", ""), "Table 三 did not straddle pages"
    ex = pdf_extract.extract(data)
    texts = [b.text for b in ex.blocks if not isinstance(b, Table)]
    assert not any(t.startswith("第") and t.endswith("页") for t in texts)
    assert len(_table3(ex.blocks).rows) == 28
    report = parse_bytes(data)
    assert report.status == ParseStatus.PARSED, report.error
    assert _diff(report.to_json(), _expected(stem)) == []


def _pdf_with(content: bytes) -> bytes:
    """A one-page PDF (Helvetica) around a content stream, with a correct xref table."""
    objs = [b"<< /Type /Catalog /Pages 2 0 R >>",
            b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 5 0 R "
            b"/Resources << /Font << /F1 4 0 R >> >> >>",
            b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
            b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream"]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for i, body in enumerate(objs, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % i + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objs) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objs) + 1, xref)
    return bytes(out)


def test_pdf_grid_drawn_as_one_path():
    """Some producers stroke the whole grid as a single path: its pieces still make the lattice,
    and a missing inner piece still means a merged cell."""
    lines = [b"100 %d m 400 %d l" % (y, y) for y in (700, 680, 660, 640)]
    lines += [b"100 700 m 100 640 l", b"200 680 m 200 640 l", b"300 700 m 300 640 l", b"400 700 m 400 640 l"]
    cells = [(150, 686, "Head"), (345, 686, "X"), (145, 666, "a"), (245, 666, "1"), (345, 666, "2"),
             (145, 646, "b"), (245, 646, "3"), (345, 646, "4")]
    text = b"".join(b"BT /F1 10 Tf %d %d Td (%s) Tj ET\n" % (x, y, t.encode()) for x, y, t in cells)
    data = _pdf_with(b"0.5 w\n" + b"\n".join(lines) + b"\nS\n" + text)
    ex = pdf_extract.extract(data)
    (t,) = [b for b in ex.blocks if isinstance(b, Table)]
    assert t.texts() == [["Head", "", "X"], ["a", "1", "2"], ["b", "3", "4"]]
    assert t.rows[0][1].spanned and t.rows[0][1].origin == (0, 0)
