"""DOCX table grids: w:gridBefore / w:gridAfter place a short row's cells on the table's grid.

Word saves a row that does not fill the grid with <w:gridBefore>/<w:gridAfter> in its <w:trPr>; the
cells after a gridBefore start further right, and a gridAfter leaves the grid's last columns empty.
The documents are written here as OOXML by hand (WordprocessingML, ECMA-376 §17.4.15, §17.4.14).
"""
from __future__ import annotations

import io
import zipfile

from crawler.parsing.extract import docx

W = 'xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"'


def _docx(rows_xml: str, grid_cols: int) -> bytes:
    grid = "".join('<w:gridCol w:w="1000"/>' for _ in range(grid_cols))
    body = (f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?><w:document {W}><w:body>'
            f'<w:p><w:r><w:t>表</w:t></w:r></w:p><w:tbl><w:tblGrid>{grid}</w:tblGrid>{rows_xml}</w:tbl>'
            f'</w:body></w:document>')
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("[Content_Types].xml", '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/'
                   'package/2006/content-types"/>')
        z.writestr("word/document.xml", body)
    return buf.getvalue()


def _tc(text: str) -> str:
    return f"<w:tc><w:p><w:r><w:t>{text}</w:t></w:r></w:p></w:tc>"


def _table(data: bytes):
    ex = docx.extract(data, name="grid.docx")
    return next(b for b in ex.blocks if hasattr(b, "rows"))


def test_grid_after_leaves_the_last_columns_empty():
    rows = ("<w:tr><w:trPr><w:gridAfter w:val=\"2\"/></w:trPr>" + _tc("行政许可") + _tc("5") + "</w:tr>"
            "<w:tr><w:trPr><w:gridAfter w:val=\"2\"/></w:trPr>" + _tc("行政处罚") + _tc("7") + "</w:tr>")
    t = _table(_docx(rows, 4))
    assert t.texts() == [["行政许可", "5", "", ""], ["行政处罚", "7", "", ""]]


def test_grid_before_and_after_together():
    rows = ("<w:tr>" + _tc("a") + _tc("b") + _tc("c") + "</w:tr>"
            "<w:tr><w:trPr><w:gridBefore w:val=\"1\"/><w:gridAfter w:val=\"1\"/></w:trPr>" + _tc("x") + "</w:tr>")
    t = _table(_docx(rows, 3))
    assert t.texts() == [["a", "b", "c"], ["", "x", ""]]


def test_absurd_grid_after_is_refused_before_it_is_built():
    from crawler.parsing import parse_bytes

    rows = "<w:tr><w:trPr><w:gridAfter w:val=\"999999999\"/></w:trPr>" + _tc("a") + "</w:tr>"
    report = parse_bytes(_docx(rows, 1), url="file:///grid.docx")
    assert report.status.value == "too_large" and "MAX_TABLE_COLUMNS" in (report.error or "")
