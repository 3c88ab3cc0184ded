"""A PDF with a text layer whose Table 三 page is a scanned picture: that page is read by OCR, in place."""
from __future__ import annotations

import io

import pypdfium2 as pdfium

import corpus
from crawler.parsing import parse_bytes
from monitor.checks.report import check_report
from score import score

STEM = "004_df5f9a23d5b9d417"


def _mixed_pdf() -> bytes:
    born_digital = corpus.render_seed_pdf(STEM)
    src = pdfium.PdfDocument(born_digital)
    pages = corpus.rasterise(born_digital, 200)
    # the page that holds Table 三's note is the one scanned
    scan_at = next(i for i in range(len(src)) if "勾稽关系" in src[i].get_textpage().get_text_range())
    out = pdfium.PdfDocument.new()
    for i in range(len(src)):
        if i != scan_at:
            out.import_pages(src, [i])
            continue
        jpeg = corpus.degrade(pages[i], corpus.Scan(dpi=200, angle=0.4, quality=68, speckle=0.0015, seed=7), i)
        w, h = src[i].get_size()
        page = out.new_page(w, h)
        img = pdfium.PdfImage.new(out)
        img.load_jpeg(io.BytesIO(jpeg), inline=True)
        img.set_matrix(pdfium.PdfMatrix().scale(w, h))
        page.insert_obj(img)
        page.gen_content()
    buf = io.BytesIO()
    out.save(buf)
    return buf.getvalue(), scan_at


def test_the_scanned_page_is_read_where_it_stands():
    data, scan_at = _mixed_pdf()
    report = parse_bytes(data, path="mixed.pdf")
    assert report.status.value == "parsed", [(w.code, w.message) for w in report.warnings]
    t3 = [c for c in report.cells if c.table == "table3"]
    assert t3 and all(c.confidence is not None for c in t3)  # Table 三 came from the picture
    assert all(c.confidence is None for c in report.cells if c.table == "table2")  # the text layer
    s = score(report, check_report(report), corpus.EXPECTED / f"{STEM}.json")
    assert s.right == s.cells, s.wrong
    assert not s.findings_false and not s.findings_missed
