"""Bombs refused by the extractors' bounds (crawler/parsing/extract/base.py), quickly and in little
memory, with a status naming the bound.  Inputs written by hand (tests/stages/hostile.py)."""
from __future__ import annotations

import sys
import time
from pathlib import Path

from storage.models import ParseStatus

from test_bad_input import _parse_measuring_peak

sys.path.insert(0, str(Path(__file__).parent.parent / "stages"))
from hostile import docx_grid_before_bomb, html_span_bomb  # noqa: E402

MB = 1024 * 1024


def _refused(data: bytes, limit: str, **kw):
    t = time.perf_counter()
    report, peak = _parse_measuring_peak(data, **kw)
    elapsed = time.perf_counter() - t
    assert report.status == ParseStatus.TOO_LARGE, (report.status, report.error)
    assert limit in report.error and "refused" in report.error
    return elapsed, peak


def test_html_rowspan_colspan_bomb():
    data = html_span_bomb()
    assert len(data) < 2000  # the review's 1.9 KB page (40 x 40,000 cells unbounded: 220 MB, 27 s)
    elapsed, peak = _refused(data, "MAX_TABLE_COLUMNS", content_type="text/html")
    assert elapsed < 1.0 and peak < 5 * MB, (elapsed, peak)


def test_html_wide_plain_row():
    data = ("<table><tr>" + "<td>1</td>" * 5000 + "</tr></table>").encode()
    elapsed, peak = _refused(data, "MAX_TABLE_COLUMNS", content_type="text/html")
    assert elapsed < 1.0 and peak < 10 * MB


def test_html_table_cells_bound():
    row = "<tr>" + "<td>1</td>" * 200 + "</tr>"
    data = ("<table>" + row * 300 + "</table>").encode()  # 60,000 cells, 0.6 MB
    elapsed, peak = _refused(data, "MAX_TABLE_CELLS", content_type="text/html")
    assert elapsed < 10 and peak < 100 * MB


def test_html_paragraph_count_bound():
    data = ("<html><body>" + "<p>段</p>" * 210_000 + "</body></html>").encode()  # under the 8 MB markup limit
    assert len(data) < 8 * MB
    elapsed, peak = _refused(data, "MAX_BLOCKS", content_type="text/html")
    # the 200,000 paragraphs before the bound are read as any page's would be: seconds, not a night
    assert elapsed < 60 and peak < 200 * MB


def test_docx_grid_before_bomb():
    data = docx_grid_before_bomb()
    assert len(data) < 1024  # unbounded: 2 M cells, 242 MB
    elapsed, peak = _refused(data, "MAX_TABLE_COLUMNS")
    assert elapsed < 1.0 and peak < 5 * MB, (elapsed, peak)


def test_docx_grid_span_bomb():
    w = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
    cell = '<w:tc><w:tcPr><w:gridSpan w:val="1000"/></w:tcPr><w:p><w:r><w:t>1</w:t></w:r></w:p></w:tc>'
    body = (f'<w:document xmlns:w="{w}"><w:body><w:tbl>' + ("<w:tr>" + cell * 50 + "</w:tr>") * 50
            + "</w:tbl></w:body></w:document>")
    import io
    import zipfile
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("word/document.xml", body)
    elapsed, peak = _refused(buf.getvalue(), "MAX_TABLE_COLUMNS")
    assert elapsed < 1.0 and peak < 10 * MB


def test_text_line_count_bound():
    data = "一\n".encode() * 600_000
    elapsed, peak = _refused(data, "MAX_TEXT_LINES", content_type="text/plain")
    assert elapsed < 2 and peak < 50 * MB


def test_real_tables_are_far_below_the_bounds():
    from crawler.parsing.extract import base
    # the national format's widest table has 16 columns and ~30 rows; the bounds leave ample room
    assert base.MAX_TABLE_COLUMNS >= 10 * 16 and base.MAX_TABLE_CELLS >= 100 * 16 * 30
