"""A DOCX whose three tables are pictures is read by OCR through the same Table/GridCell model,
and its pictures are bounded like every other part of the zip."""
from __future__ import annotations

import io
import tracemalloc
import zipfile

import corpus
import pytest
from score import score
from test_hostile_images import bomb_png

from crawler.parsing import parse_bytes
from crawler.parsing.extract import docx as docx_extract
from monitor.checks.report import check_report
from storage.models import ParseStatus

STEM = "001_d039ec262de9d514"  # the seed with its own findings (row_total, results_total, ...)


@pytest.fixture(scope="module")
def picture_docx() -> bytes:
    return corpus.docx_with_table_pictures(STEM)


def _replace_media(data: bytes, member_bytes: bytes | None = None, *, declared: int | None = None) -> bytes:
    """The same DOCX with its first picture's bytes replaced."""
    src = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        done = False
        for info in src.infolist():
            body = src.read(info)
            if info.filename.startswith("word/media/") and not done:
                done = True
                body = member_bytes if member_bytes is not None else body
            z.writestr(info.filename, body)
    return out.getvalue()


def test_docx_table_pictures_give_the_seeds_cells_and_findings(picture_docx):
    with zipfile.ZipFile(io.BytesIO(picture_docx)) as z:
        media = [n for n in z.namelist() if n.startswith("word/media/")]
        assert len(media) == 3 and b"<w:drawing>" in z.read("word/document.xml")
        assert b"<w:tbl>" not in z.read("word/document.xml")  # no real table at all
    report = parse_bytes(picture_docx, path=f"{STEM}.docx")
    assert report.status is ParseStatus.PARSED, report.error
    assert report.source.format == "docx"
    findings = check_report(report)
    s = score(report, findings, corpus.EXPECTED / f"{STEM}.json")
    assert s.right == s.cells == 200, s.wrong
    assert not s.findings_missed and not s.findings_false, (s.findings_missed, s.findings_false)
    # the cells came from OCR: each carries its confidence; the narrative came from the text
    assert all(c.confidence is not None for c in report.cells if c.table in ("table3", "table4"))
    assert set(report.sections) >= {"overview", "requests", "problems"}
    for msg in s.corrections:
        assert "OCR read" in msg and "corrected to" in msg


def test_docx_with_real_tables_does_not_read_its_pictures(monkeypatch):
    """A report with its tables as tables and a picture (a seal, a photo): no OCR at all."""
    from docx import Document

    doc = Document()
    doc.add_paragraph("某某局2023年政府信息公开工作年度报告")
    for _ in range(3):
        t = doc.add_table(rows=2, cols=2)
        t.cell(0, 0).text = "信息内容"
    doc.add_picture(io.BytesIO(corpus.table_image_png(STEM, "table4")))
    buf = io.BytesIO()
    doc.save(buf)
    from crawler.parsing import ocr

    def boom(*a, **k):
        raise AssertionError("pictures of a document with its tables must not be read by OCR")

    monkeypatch.setattr(ocr, "picture_blocks", boom)
    ex = docx_extract.extract(buf.getvalue(), name="seal.docx")
    assert ex.status is None and ex.ocr == ""
    assert sum(1 for b in ex.blocks if type(b).__name__ == "Table") == 3


def _peak(fn, *args, **kwargs):
    tracemalloc.start()
    try:
        return fn(*args, **kwargs), tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_docx_picture_zip_bomb_refused_before_inflating(picture_docx):
    # a picture member of 200 MB of zeros: a few hundred KB in the zip
    bomb = _replace_media(picture_docx, b"\0" * (docx_extract.MAX_MEDIA_PART + 1024))
    assert len(bomb) < 2 * 1024 * 1024
    report, peak = _peak(parse_bytes, bomb, path="bomb.docx")
    assert report.status is ParseStatus.TOO_LARGE
    assert "bomb.docx" in report.error and "word/media/" in report.error and "refused" in report.error
    assert peak < 64 * 1024 * 1024


def test_docx_picture_decompression_bomb_refused(picture_docx):
    report, peak = _peak(parse_bytes, _replace_media(picture_docx, bomb_png()), path="pixels.docx")
    assert report.status is ParseStatus.TOO_LARGE
    assert "pixels.docx" in report.error and "100000 x 100000" in report.error
    assert peak < 64 * 1024 * 1024


def test_docx_too_many_pictures_refused(monkeypatch, picture_docx):
    monkeypatch.setattr(docx_extract, "MAX_PICTURES", 2)
    report = parse_bytes(picture_docx, path="many.docx")
    assert report.status is ParseStatus.TOO_LARGE and "3 pictures" in report.error
