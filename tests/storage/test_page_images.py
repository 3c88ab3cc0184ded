"""The page images of OCR-read reports are rendered from hostile bytes: bounded like every input.
A DOCX picture member that declares (or inflates to) too much, a picture whose header claims a
bomb of pixels, a body with a DOCTYPE, a linked picture, a PDF page of absurd proportions, a
multi-page TIFF: each shown or refused as it should be, in bounded memory."""
from __future__ import annotations

import io
import struct
import sys
import tracemalloc
import zipfile
import zlib
from pathlib import Path

import pytest
from PIL import Image

from crawler.serve import page_images as P

OCR_TESTS = Path(__file__).parents[1] / "ocr"
if str(OCR_TESTS) not in sys.path:
    sys.path.insert(0, str(OCR_TESTS))
import corpus  # noqa: E402

STEM = "001_d039ec262de9d514"


@pytest.fixture(scope="module")
def picture_docx() -> bytes:
    return corpus.docx_with_table_pictures(STEM)


def _png(w: int, h: int, shade: int = 0) -> bytes:
    buf = io.BytesIO()
    Image.new("L", (w, h), shade).save(buf, "PNG")
    return buf.getvalue()


def _bomb_png(w: int = 100_000, h: int = 100_000) -> bytes:
    """A header claiming w x h pixels over a few bytes of data (never decodable in memory)."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"\x00" * 4096)) + chunk(b"IEND", b""))


def _rewrite(docx: bytes, change: dict[str, bytes]) -> bytes:
    """The same DOCX with some members' bytes replaced (by name)."""
    src = zipfile.ZipFile(io.BytesIO(docx))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for info in src.infolist():
            z.writestr(info.filename, change.get(info.filename, src.read(info)))
    return out.getvalue()


def _media(docx: bytes) -> list[str]:
    with zipfile.ZipFile(io.BytesIO(docx)) as z:
        return [n for n in z.namelist() if n.startswith("word/media/")]


def _peak(fn, *args):
    tracemalloc.start()
    try:
        return fn(*args), tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_docx_pictures_are_its_pages_in_body_order(picture_docx):
    assert P.kind(picture_docx) == "docx"
    members = P.docx_pictures(picture_docx)
    assert sorted(members) == sorted(_media(picture_docx)) and len(members) == 3
    assert P.page_count(picture_docx) == 3
    with zipfile.ZipFile(io.BytesIO(picture_docx)) as z:
        originals = [Image.open(io.BytesIO(z.read(m))) for m in members]
    for k, original in enumerate(originals, start=1):
        png = P.page_png(picture_docx, k)
        img = Image.open(io.BytesIO(png))
        assert img.format == "PNG" and img.width == min(P.WIDTH, original.width)
        assert abs(img.width / img.height - original.width / original.height) < 0.01
    assert P.page_png(picture_docx, 4) is None and P.page_png(picture_docx, 0) is None


def test_a_docx_picture_bomb_is_not_inflated(picture_docx):
    first = P.docx_pictures(picture_docx)[0]
    bomb = _rewrite(picture_docx, {first: b"\0" * (P.MAX_MEDIA_BYTES + 1024)})
    with zipfile.ZipFile(io.BytesIO(bomb)) as z:
        assert z.getinfo(first).file_size > P.MAX_MEDIA_BYTES
    assert len(bomb) < 2 * 1024 * 1024
    png, peak = _peak(P.page_png, bomb, 1)
    assert png is None and peak < 8 * 1024 * 1024, peak  # refused on its declared size: never inflated
    assert P.page_png(bomb, 2) is not None  # the others are still shown


def test_a_docx_picture_whose_header_claims_a_pixel_bomb_is_not_decoded(picture_docx):
    first = P.docx_pictures(picture_docx)[0]
    png, peak = _peak(P.page_png, _rewrite(picture_docx, {first: _bomb_png()}), 1)
    assert png is None and peak < 64 * 1024 * 1024


def test_a_docx_body_with_a_doctype_shows_nothing(picture_docx):
    with zipfile.ZipFile(io.BytesIO(picture_docx)) as z:
        body = z.read("word/document.xml")
    evil = body.replace(b"?>", b'?><!DOCTYPE w [<!ENTITY a "aaaa">]>', 1)
    assert P.docx_pictures(_rewrite(picture_docx, {"word/document.xml": evil})) == []


def test_a_linked_picture_is_never_fetched(picture_docx):
    with zipfile.ZipFile(io.BytesIO(picture_docx)) as z:
        rels = z.read("word/_rels/document.xml.rels")
    linked = rels.replace(b'Target="media/', b'TargetMode="External" Target="http://127.0.0.1:9/media/', 1)
    assert linked != rels
    assert len(P.docx_pictures(_rewrite(picture_docx, {"word/_rels/document.xml.rels": linked}))) == 2


def test_a_broken_zip_or_a_docx_without_pictures_gives_no_page():
    assert P.page_count(b"PK\x03\x04 not really a zip") == 0
    from docx import Document

    buf = io.BytesIO()
    d = Document()
    d.add_paragraph("某某局2023年政府信息公开工作年度报告")
    d.save(buf)
    assert P.page_count(buf.getvalue()) == 0
    assert P.page_count(b"<html><body>\xe5\x9b\xbe\xe7\x89\x87\xe7\x89\x88</body></html>") == 0


def test_images_too_large_are_refused_before_decoding():
    png, peak = _peak(P.page_png, _bomb_png(30_000, 30_000), 1)
    assert png is None and peak < 64 * 1024 * 1024
    assert P.page_png(_bomb_png(30_000, 10), 1) is None  # a strip longer than any page
    assert P.page_png(_png(2000, 2800)[:-200], 1) is None  # truncated
    ok = Image.open(io.BytesIO(P.page_png(_png(2000, 2800), 1)))
    assert ok.size == (P.WIDTH, round(2800 * P.WIDTH / 2000))


def test_a_multi_page_tiff_is_several_pages():
    buf = io.BytesIO()
    frames = [Image.new("L", (800, 1100 + 100 * k), 255) for k in range(3)]
    frames[0].save(buf, "TIFF", save_all=True, append_images=frames[1:])
    tiff = buf.getvalue()
    assert P.kind(tiff) == "image" and P.page_count(tiff) == 3
    heights = [Image.open(io.BytesIO(P.page_png(tiff, k))).height for k in (1, 2, 3)]
    assert heights == [1100, 1200, 1300]
    assert P.page_png(tiff, 4) is None


def test_a_pdf_page_of_absurd_proportions_is_not_rendered():
    import pypdfium2 as pdfium

    pdf = pdfium.PdfDocument.new()
    pdf.new_page(10, 14_000)  # 10 pt wide, 14,000 pt tall: at 1100 px wide, 1.5 million px tall
    pdf.new_page(595, 842)    # an A4 page beside it is shown
    buf = io.BytesIO()
    pdf.save(buf)
    data = buf.getvalue()
    assert P.kind(data) == "pdf" and P.page_count(data) == 2
    png, peak = _peak(P.page_png, data, 1)
    assert png is None and peak < 64 * 1024 * 1024
    assert Image.open(io.BytesIO(P.page_png(data, 2))).width == P.WIDTH
