"""Item 1 of issue 10: PDF prose in ruled regions (WPS exports) is narrative, not one-column tables.

The PDFs are drawn by tests/parsing/seed_layouts.py from the seed texts (real reports) in the
layouts of real WPS / Word exports: prose over white unstroked boxes, prose in drawn frames, every
line underlined between side rules, a page border; "- N -" page numbers; CR LF in the text layer.
Each must give the cells, sections and findings of the seed it came from.
"""
from __future__ import annotations

import json
from pathlib import Path

import pypdfium2 as pdfium
import pypdfium2.raw as raw
import pytest

from crawler.parsing import parse_bytes
from crawler.parsing.extract import pdf as pdf_extract
from crawler.parsing.extract.base import GridCell
from crawler.parsing.extract.pdf import DEFAULT_RULINGS, PathPaint, RulingPolicy, path_paint
from monitor.checks.report import check_report
from storage.models import SECTION_KEYS, ParseStatus

from seed_layouts import LAYOUTS, SEEDS, Para, seed_blocks, seed_pdf, wps_pdf

EXPECTED = Path(__file__).resolve().parents[1] / "fixtures" / "expected"
STEMS = sorted(p.stem for p in SEEDS.glob("*.txt"))


@pytest.fixture(scope="module")
def pdfs() -> dict[tuple[str, str], bytes]:
    return {(stem, layout): seed_pdf(stem, layout) for stem in STEMS for layout in LAYOUTS}


def _expected(stem: str) -> dict:
    return json.loads((EXPECTED / f"{stem}.json").read_text(encoding="utf-8"))


# -- the fixtures reproduce the real layouts ---------------------------------------------------------

def test_white_box_pdf_has_the_wps_boxes_and_crlf_text(pdfs):
    doc = pdfium.PdfDocument(pdfs[(STEMS[4], "white_boxes")])
    page = doc[0]
    boxes = [p for p in (path_paint(o, raw) for o in page.get_objects(filter=[raw.FPDF_PAGEOBJ_PATH])) if p]
    white = [p for p in boxes if p.filled and not p.stroked and p.fill_rgba[:3] == (255, 255, 255)
             and round(p.bounds[2] - p.bounds[0]) == 445 and round(p.bounds[3] - p.bounds[1]) == 27]
    assert len(white) >= 20  # the real first page had 22
    text = page.get_textpage().get_text_range()
    assert "\r\n" in text
    assert "- 1 -" in text
    doc.close()


# -- the policy: which painted paths are rulings -----------------------------------------------------

def _paint(w=100.0, h=0.5, *, stroked=False, width=1.0, stroke=(0, 0, 0, 255), filled=False,
           fill=(0, 0, 0, 255)) -> PathPaint:
    return PathPaint(bounds=(0.0, 0.0, w, h), stroked=stroked, stroke_width=width, stroke_rgba=stroke,
                     filled=filled, fill_rgba=fill)


@pytest.mark.parametrize("paint, counts", [
    (_paint(445, 27, filled=True, fill=(255, 255, 255, 255)), False),  # the WPS box under a line
    (_paint(445, 27, filled=True, fill=(200, 200, 200, 255)), False),  # a shaded cell: thick fill
    (_paint(100, 0.5, filled=True), True),  # Word's cell border: a thin black fill
    (_paint(100, 2.0, filled=True, fill=(90, 90, 90, 255)), True),  # thin, darker than the page
    (_paint(100, 0.5, filled=True, fill=(255, 255, 255, 255)), False),  # thin but white
    (_paint(100, 0.5, filled=True, fill=(0, 0, 0, 0)), False),  # transparent
    (_paint(445, 27, stroked=True), True),  # a drawn frame: its edges are visible
    (_paint(445, 27, stroked=True, width=0.0), True),  # width 0 = the thinnest line, still drawn
    (_paint(445, 27, stroked=True, stroke=(255, 255, 255, 255)), False),  # a white stroke
    (_paint(445, 27, stroked=True, stroke=(0, 0, 0, 0)), False),  # an invisible stroke
])
def test_ruling_policy(paint, counts):
    assert DEFAULT_RULINGS.is_ruling(paint) is counts


def test_the_policy_is_the_decisive_input(pdfs):
    """Page 1 of the WPS-style PDF is prose only: no ruling under the default policy; counting white
    boxes (the old behaviour) gives a ladder of them."""
    doc = pdfium.PdfDocument(pdfs[(STEMS[4], "white_boxes")])
    page = doc[0]
    height = page.get_height()
    hs, vs = pdf_extract._page_segments(page, height)
    bad_hs, bad_vs = pdf_extract._page_segments(page, height, RulingPolicy(max_luminance=1.0, max_fill_thickness=1000))
    doc.close()
    assert (hs, vs) == ([], [])
    assert len(bad_hs) >= 20 and len(bad_vs) >= 2


def _grid(rows):
    return [[GridCell(t) for t in r] for r in rows]


def test_one_column_regions_are_not_tables():
    assert not pdf_extract.is_table(_grid([["一、总体情况"], ["2024年，我局……"], ["（一）主动公开"]]))
    assert not pdf_extract.is_table(_grid([["本年度共收到申请人为自然人的申请7件，均已办结。"]]))
    assert pdf_extract.is_table(_grid([["规章", "0", "0", "0"], ["行政规范性文件", "0", "0", "1"]]))
    assert pdf_extract.is_table(_grid([["第二十条第（一）项"]]))  # a template label: a table's header box
    spanned = [[GridCell("二、主动公开"), GridCell("二、主动公开", spanned=True, origin=(0, 0))]]  # one merged cell
    assert not pdf_extract.is_table(spanned)


# -- same cells, sections, findings as the seed ---------------------------------------------------------

@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("stem", STEMS, ids=lambda s: s[:3])
def test_wps_layout_gives_the_seed(stem, layout, pdfs):
    report = parse_bytes(pdfs[(stem, layout)], path=f"{stem}.pdf")
    got, want = report.to_json(), _expected(stem)
    for field in ("table2", "table3", "table4", "template", "agency", "year"):
        assert got[field] == want[field], field
    assert report.status is ParseStatus.PARSED
    assert set(report.sections) == set(SECTION_KEYS)
    assert "- 1 -" not in "\n".join(report.sections.values())
    assert "\r" not in report.text
    findings = check_report(report)
    assert not [f for f in findings if "内容缺失" in f.message and stem != "001_d039ec262de9d514"]
    assert sorted(f.rule for f in findings) == sorted(i["rule"] for i in want["inconsistencies"])


def test_section_one_text_is_kept(pdfs):
    report = parse_bytes(pdfs[(STEMS[4], "white_boxes")], path="x.pdf")
    assert "组织领导情况" in report.sections["overview"]
    assert "政务公开工作领导小组" in report.sections["overview"]
    assert "收取政府信息公开信息处理费" not in report.sections["overview"]


@pytest.mark.parametrize("layout", LAYOUTS)
def test_narrative_mismatch_found_in_wps_pdf(layout):
    """The WPS case of issue 10: the text says 受理政府信息公开申请17件, the table says otherwise."""
    blocks = seed_blocks(SEEDS / f"{STEMS[4]}.txt")
    k = next(i for i, b in enumerate(blocks) if isinstance(b, Para) and "共接到依申请公开件7件" in b.text)
    blocks[k] = Para(blocks[k].text.replace("共接到依申请公开件7件", "受理政府信息公开申请17件"))
    report = parse_bytes(wps_pdf(blocks, layout), path="wps.pdf")
    nar = [f for f in check_report(report) if f.rule == "narrative_vs_table"]
    assert len(nar) == 1
    assert nar[0].numbers["text"] == 17 and nar[0].numbers["table"] == 7
    assert "受理政府信息公开申请17件" in nar[0].message


# -- the fast paths read what the plain ones read ----------------------------------------------------

class _PlainPolicy(RulingPolicy):
    """The default policy under another class: the extractor then reads every path's full PathPaint
    and asks ``is_ruling`` (no shortcut), which must give the same rulings as the built-in fast test."""


@pytest.mark.parametrize("layout", LAYOUTS)
def test_fast_ruling_test_gives_the_policys_rulings(pdfs, layout):
    doc = pdfium.PdfDocument(pdfs[(STEMS[0], layout)])
    try:
        n = 0
        for i in range(len(doc)):
            page = doc[i]
            height = page.get_height()
            fast = pdf_extract._page_segments(page, height)
            plain = pdf_extract._page_segments(page, height, _PlainPolicy())
            assert fast == plain
            n += len(fast[0]) + len(fast[1])
        assert n > 0  # the tables' grids were read at all
    finally:
        doc.close()


def test_page_text_in_one_call_is_the_char_by_char_text(pdfs, monkeypatch):
    """Characters from one ``get_text_range`` call equal those read one ``FPDFText_GetUnicode`` at a
    time (the path taken when pdfium's UCS-2 text does not line up with its char list)."""
    doc = pdfium.PdfDocument(pdfs[(STEMS[1], "underlined")])
    try:
        page = doc[0]
        height = page.get_height()
        bulk = pdf_extract._page_chars(page, height)
        monkeypatch.setattr(pdfium.PdfTextPage, "get_text_range", lambda self, *a, **k: "")
        one_by_one = pdf_extract._page_chars(page, height)
    finally:
        doc.close()
    assert len(bulk) > 200
    assert [(c.ch, c.x0, c.x1, c.top, c.bottom, c.size) for c in bulk] == \
        [(c.ch, c.x0, c.x1, c.top, c.bottom, c.size) for c in one_by_one]
    assert not any(c.ch.isspace() for c in bulk)  # WPS's CR LF and pdfium's generated spaces dropped


# -- the array path of the layout reads what the plain path reads ------------------------------------

def _plain_extract(data: bytes, monkeypatch) -> object:
    """extract() with the page's arrays withheld: every step takes its per-character path."""
    real = pdf_extract._read_chars
    with monkeypatch.context() as m:
        m.setattr(pdf_extract, "_read_chars", lambda page, height: (real(page, height)[0], None))
        return pdf_extract.extract(data)


def _blocks(ex) -> list[str]:
    return [repr(b) for b in ex.blocks]


def _out_of_order_pdf() -> bytes:
    """A ruled table whose cells are drawn glyph by glyph right to left, some on two lines, a cell
    whose text overruns its ruling, and prose drawn in pieces out of reading order: what a
    producer placing glyphs itself writes (none of it reads as one run of the page's text)."""
    import io

    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont
    from reportlab.pdfgen import canvas

    from seed_layouts import FONT_FILE

    if "WQY" not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(TTFont("WQY", FONT_FILE, subfontIndex=0))
    buf = io.BytesIO()
    c = canvas.Canvas(buf, pagesize=(595, 842))
    c.setFont("WQY", 10)
    c.drawString(300, 780, "第二段落的后半")
    c.drawString(72, 780, "第一段 abc 12")
    xs, ys = [72, 220, 330, 440], [700, 680, 650, 630]
    for x in xs:
        c.line(x, ys[0], x, ys[-1])
    for y in ys:
        c.line(xs[0], y, xs[-1], y)
    cells = [["项目", "本年新收", "上年结转"], ["行政许可 申请", "75", "3 4"], ["其他", "1,234", "超出本格的很长的文字"]]
    for r, row in enumerate(cells):
        for k, text in enumerate(row):
            x0, y = xs[k] + 4, ys[r] - 14
            lines = [text[:4], text[4:]] if r == 1 and k == 0 else [text]
            for n, line in enumerate(lines):
                x = x0
                placed = []
                for ch in line:
                    placed.append((x, ch))
                    x += pdfmetrics.stringWidth(ch, "WQY", 10) + (6 if ch == " " else 0)
                for px, ch in reversed(placed):  # right to left
                    c.drawString(px, y - 11 * n, ch)
    c.drawString(72, 600, "表格之后的文字")
    c.showPage()
    c.save()
    return buf.getvalue()


@pytest.mark.parametrize("layout", LAYOUTS)
def test_array_path_reads_as_the_plain_path(pdfs, layout, monkeypatch):
    for stem in STEMS[:2]:
        data = pdfs[(stem, layout)]
        fast = pdf_extract.extract(data)
        assert fast.blocks
        assert _blocks(fast) == _blocks(_plain_extract(data, monkeypatch))


def test_array_path_reads_glyphs_out_of_order_as_the_plain_path(monkeypatch):
    data = _out_of_order_pdf()
    fast = pdf_extract.extract(data)
    tables = [b for b in fast.blocks if hasattr(b, "rows")]
    assert tables and tables[0].rows[1][1].text == "75"  # the table was read at all
    assert _blocks(fast) == _blocks(_plain_extract(data, monkeypatch))


def _wrapped_cells_page(c) -> None:
    """A ruled table whose cells wrap in page order: onto a line well below (as Word/WPS wrap a long
    label), onto a line raised into the first one's height (two lines that ``_lines_of`` reads as
    one), onto three lines, and a one-line cell beside them."""
    xs, ys = [72, 200, 330, 460], [700, 640, 580]
    for x in xs:
        c.line(x, ys[0], x, ys[-1])
    for y in ys:
        c.line(xs[0], y, xs[-1], y)
    c.drawString(76, 686, "行政许可申请")
    c.drawString(76, 674, "的数量")
    c.drawString(204, 686, "被申请人")
    c.drawString(204, 682, "重叠的行")  # raised: the same line for _lines_of
    c.drawString(334, 686, "75")
    c.drawString(76, 626, "第一行")
    c.drawString(76, 614, "第二行")
    c.drawString(76, 602, "第三行 abc")
    c.drawString(204, 626, "其他")


def test_wrapped_cells_read_as_slices_as_the_plain_path(monkeypatch):
    """A cell that is one run of the page's text wrapped onto lines reads as the join of slices of
    the page's text (``_wrapped_runs``) only where ``_lines_of`` would split it at its wraps: the
    array path reads what the plain path reads, and the raised second line is not taken as a wrap."""
    data = _canvas_pdf(_wrapped_cells_page)
    seen: list[dict] = []
    real = pdf_extract._wrapped_runs

    def spy(*a):
        seen.append(real(*a))
        return seen[-1]

    monkeypatch.setattr(pdf_extract, "_wrapped_runs", spy)
    fast = pdf_extract.extract(data)
    monkeypatch.undo()
    rows = next(b for b in fast.blocks if hasattr(b, "rows")).rows
    assert (rows[0][0].text, rows[0][2].text) == ("行政许可申请的数量", "75")
    assert rows[0][1].text != "被申请人重叠的行"  # one line, read by x across both: no wrap
    assert rows[1][0].text == "第一行第二行第三行abc"
    assert _blocks(fast) == _blocks(_plain_extract(data, monkeypatch))
    lines = sorted(len(v) for found in seen for v in found.values())
    assert lines == [2, 3]  # the two wrapped cells took the slices; the raised line did not


def _canvas_pdf(draw) -> bytes:
    """A one-page A4 PDF drawn by ``draw(canvas)`` in the CJK font of the WPS fixtures."""
    import io

    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont
    from reportlab.pdfgen import canvas

    from seed_layouts import FONT_FILE

    if "WQY" not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(TTFont("WQY", FONT_FILE, subfontIndex=0))
    buf = io.BytesIO()
    c = canvas.Canvas(buf, pagesize=(595, 842))
    c.setFont("WQY", 10)
    draw(c)
    c.showPage()
    c.save()
    return buf.getvalue()


def _one_column_page(c) -> None:
    """A boxed one-column region of four bands: a template label alone in one band (a table's header
    box), a long prose line, a short line, nothing; then an underlined column of prose lines."""
    x0, x1, ys = 72, 420, [760, 740, 720, 700, 680]
    for y in ys:
        c.line(x0, y, x1, y)
    c.line(x0, ys[0], x0, ys[-1])
    c.line(x1, ys[0], x1, ys[-1])
    c.drawString(x0 + 4, 746, "第二十条第（一）项")
    c.drawString(x0 + 4, 726, "本机关主动公开政府信息的情况见下表，其中规章和规范性文件均已公开。")
    c.drawString(x0 + 4, 706, "短行")
    for k in range(8):
        y = 600 - 20 * k
        c.line(x0, y, x1, y)
        c.drawString(x0 + 4, y + 5, "依申请公开的办理情况" * (1 + k % 3))
    c.line(x0, 600, x0, 600 - 20 * 7)
    c.line(x1, 600, x1, 600 - 20 * 7)


def _one_column_results(data: bytes) -> list[bool]:
    """``_one_column_labels`` of every one-column region of every page, on the page's arrays and on
    the plain per-character path; asserts that the two agree."""
    import numpy as np

    doc = pdfium.PdfDocument(data)
    out = []
    try:
        for i in range(len(doc)):
            page = doc[i]
            height = page.get_height()
            chars, pt = pdf_extract._read_chars(page, height)
            if not chars:
                continue
            assert pt is not None
            plain = list(chars)
            by_height = pdf_extract._ByHeight(plain)
            hs, vs = pdf_extract._page_segments(page, height)
            for ghs, gvs in pdf_extract._table_regions(hs, vs):
                xs = pdf_extract._cluster([x for x, _, _ in gvs], pdf_extract._TOL * 1.5)
                if len(xs) > 2:
                    continue
                arrays = pdf_extract._one_column_labels(ghs, xs, chars, pt, np.zeros(len(chars), dtype=bool))
                assert arrays == pdf_extract._one_column_labels(ghs, xs, plain, by_height, set())
                out.append(arrays)
    finally:
        doc.close()
    return out


def test_one_column_labels_on_the_arrays_read_as_the_plain_path(pdfs):
    """The bands of a one-column region are searched for a template label all at once on the page's
    arrays: the same answer as band by band, for a box holding a label and for underlined prose."""
    assert _one_column_results(_canvas_pdf(_one_column_page)) == [True, False]
    n = 0
    for layout in ("frame", "underlined", "border"):
        results = _one_column_results(pdfs[(STEMS[0], layout)])
        assert not any(results)  # prose in frames and underlines: no label
        n += len(results)
    assert n >= 10  # the layouts have such regions at all


def test_zero_width_space_is_normalised_on_the_array_path(monkeypatch):
    """A page whose text layer has U+200B (which norm_ws removes but str.isspace does not) takes
    norm_ws on every line and cell again: the same blocks as the plain path, with no U+200B left."""
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont

    if "DejaVu" not in pdfmetrics.getRegisteredFontNames():  # WQY has no U+200B glyph: reportlab drops it
        pdfmetrics.registerFont(TTFont("DejaVu", "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"))

    def draw(c):
        xs, ys = [72, 220, 330], [700, 680, 660]
        for x in xs:
            c.line(x, ys[0], x, ys[-1])
        for y in ys:
            c.line(xs[0], y, xs[-1], y)
        c.drawString(xs[0] + 4, ys[0] - 14, "项目")
        c.drawString(xs[1] + 4, ys[1] - 14, "75")
        c.setFont("DejaVu", 10)
        c.drawString(xs[1] + 4, ys[0] - 14, "new\u200bcases")
        c.drawString(xs[0] + 4, ys[1] - 14, "per\u200bmits")
        c.drawString(72, 600, "text\u200bafter the table")

    data = _canvas_pdf(draw)
    doc = pdfium.PdfDocument(data)
    try:
        page = doc[0]
        chars, pt = pdf_extract._read_chars(page, page.get_height())
    finally:
        doc.close()
    assert "\u200b" in chars.text and not pt.ws_free  # the fixture has the character at all
    fast = pdf_extract.extract(data)
    assert _blocks(fast) == _blocks(_plain_extract(data, monkeypatch))
    assert "\u200b" not in "".join(_blocks(fast))
    rows = fast.blocks[0].rows
    assert rows[0][0].text == "项目" and rows[1][1].text == "75"
    assert rows[0][1].text.replace(" ", "") == "newcases" and rows[1][0].text.replace(" ", "") == "permits"


def test_picture_pages_are_still_found_and_text_pages_not_reloaded(pdfs, monkeypatch):
    """A page with almost no text is asked whether it is one picture (then OCR reads it in place)
    only when the walk over its objects met an image: a blank page is not loaded a second time, a
    scanned page in a PDF with text is still found (inside a form XObject, too)."""
    import io

    from PIL import Image

    src = pdfium.PdfDocument(pdfs[(STEMS[0], "white_boxes")])
    out = pdfium.PdfDocument.new()
    out.import_pages(src, [0])
    w, h = src[0].get_size()
    jpeg = io.BytesIO()
    Image.new("RGB", (200, 280), "white").save(jpeg, "JPEG")

    def picture_page(in_form: bool) -> None:
        page = out.new_page(w, h)
        img = pdfium.PdfImage.new(out)
        img.load_jpeg(io.BytesIO(jpeg.getvalue()), inline=True)
        img.set_matrix(pdfium.PdfMatrix().scale(w, h))
        page.insert_obj(img)
        page.gen_content()
        if in_form:  # the picture wrapped in a form XObject, as some scanners' PDFs have it
            tmp = pdfium.PdfDocument.new()
            tmp.import_pages(out, [len(out) - 1])
            form = raw.FPDF_NewXObjectFromPage(out.raw, tmp.raw, 0)
            obj = raw.FPDF_NewFormObjectFromXObject(form)
            out.del_page(len(out) - 1)
            page = out.new_page(w, h)
            raw.FPDFPage_InsertObject(page.raw, obj)
            page.gen_content()
            raw.FPDF_CloseXObject(form)
            tmp.close()

    picture_page(False)
    out.new_page(w, h)  # a page with no text and no picture (a blank page between sections)
    picture_page(True)
    buf = io.BytesIO()
    out.save(buf)
    data = buf.getvalue()
    src.close()
    out.close()

    asked = []
    real = pdf_extract._one_picture

    def one_picture(pdf, pno):
        asked.append((pno, real(pdf, pno)))
        return asked[-1][1]

    monkeypatch.setattr(pdf_extract, "_one_picture", one_picture)
    pdf_extract.extract(data)
    assert asked == [(1, True), (3, True)]  # the blank page 2 has no image: not asked (nor loaded again)
