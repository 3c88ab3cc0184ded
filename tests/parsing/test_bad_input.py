"""Bad input: each case gets its own clear status and an error naming the document, never an exception."""
from __future__ import annotations

import io
import json
import logging
import os
import random
import re
import tracemalloc
import zipfile

import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c
import pytest

import render_seeds
from crawler.parsing import MAX_MARKUP_BYTES, parse_bytes, parse_file
from crawler.parsing.extract.office import convert
from storage.models import ParseStatus

STEMS = render_seeds.seed_stems()
NAME = "http://127.0.0.1:8000/xxgk/ndbg/t20250116_1.html"


def _parse_measuring_peak(data: bytes, **kwargs):
    """parse_bytes, and the peak of Python memory it allocated (bombs must not blow memory)."""
    tracemalloc.start()
    try:
        report = parse_bytes(data, url=NAME, **kwargs)
        return report, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.fixture(scope="module")
def spec():
    return render_seeds.seed_spec(STEMS[1])


@pytest.fixture(scope="module")
def docx_bytes(spec):
    return render_seeds.docx(spec)


@pytest.fixture(scope="module")
def pdf_bytes(spec, render_cache):
    return render_seeds.render_office([spec], "pdf", render_cache)[0]


@pytest.fixture(autouse=True)
def no_traceback(caplog):
    """Whatever happens is logged as one line, never a traceback above DEBUG."""
    caplog.set_level(logging.INFO)
    yield
    for rec in caplog.records:
        if rec.levelno > logging.DEBUG:
            assert rec.exc_info is None and "Traceback" not in rec.getMessage()


def _check(report, status: ParseStatus, *words: str):
    assert report.status == status, (report.status, report.error)
    assert report.error and NAME in report.error
    for w in words:
        assert w in report.error.lower(), report.error
    assert report.cells == []
    json.dumps(report.to_json(), ensure_ascii=False)  # the --json contract holds for failures too


def test_empty():
    _check(parse_bytes(b"", url=NAME), ParseStatus.EMPTY, "empty")
    _check(parse_bytes(b"  \r\n\t ", url=NAME), ParseStatus.EMPTY, "empty")


def test_random_bytes():
    rnd = random.Random(20240131)
    for n in (10, 1000, 100_000):
        data = bytes(rnd.randrange(256) for _ in range(n))
        report = parse_bytes(data, url=NAME, content_type="application/octet-stream")
        _check(report, ParseStatus.UNSUPPORTED, "binary")
        assert report.source.format == "unknown"


def test_truncated_pdf(pdf_bytes):
    for cut in (len(pdf_bytes) // 2, 2000, 9):
        report = parse_bytes(pdf_bytes[:cut], url=NAME)
        _check(report, ParseStatus.FAILED, "pdf")
        assert report.source.format == "pdf"


def test_encrypted_pdf(docx_bytes):
    opts = ('writer_pdf_Export:{"EncryptFile":{"type":"boolean","value":"true"},'
            '"DocumentOpenPassword":{"type":"string","value":"secret"}}')
    data = convert(docx_bytes, src_ext="docx", to="pdf", filter_options=opts)
    _check(parse_bytes(data, url=NAME), ParseStatus.ENCRYPTED, "encrypted", "password")


def test_scanned_pdf_is_read_by_ocr():
    """A page holding only an image (no text layer): OCR reads it, and a blank scan holds no text."""
    doc = pdfium.PdfDocument.new()
    page = doc.new_page(595, 842)
    img = pdfium.PdfImage.new(doc)
    bitmap = pdfium.PdfBitmap.new_native(200, 100, pdfium_c.FPDFBitmap_BGRA)
    bitmap.fill_rect((255, 255, 255, 255), 0, 0, 200, 100)
    img.set_bitmap(bitmap)
    img.set_matrix(pdfium.PdfMatrix().scale(400, 200).translate(100, 500))
    page.insert_obj(img)
    page.gen_content()
    buf = io.BytesIO()
    doc.save(buf)
    _check(parse_bytes(buf.getvalue(), url=NAME), ParseStatus.EMPTY, "ocr found no text")


def test_broken_image_is_refused():
    """Image bytes that do not decode: refused by the OCR stage, naming the file (tests/ocr has the rest)."""
    png = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + os.urandom(64)
    _check(parse_bytes(png, url=NAME, content_type="image/png"), ParseStatus.FAILED, "image")
    jpg = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + os.urandom(64)
    _check(parse_bytes(jpg, url=NAME), ParseStatus.FAILED, "image")


def _docx_with(docx_bytes: bytes, replace: dict[str, bytes]) -> bytes:
    src = zipfile.ZipFile(io.BytesIO(docx_bytes))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            if info.filename in replace:
                continue
            dst.writestr(info.filename, src.read(info.filename))
        for name, data in replace.items():
            dst.writestr(name, data)
    return out.getvalue()


def test_docx_zip_bomb(docx_bytes):
    """document.xml inflating to 300 MB from a few hundred KB: refused before it is inflated."""
    src = zipfile.ZipFile(io.BytesIO(docx_bytes))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            if info.filename != "word/document.xml":
                dst.writestr(info.filename, src.read(info.filename))
        with dst.open("word/document.xml", "w", force_zip64=True) as f:
            chunk = b" " * (1 << 20)
            for _ in range(300):
                f.write(chunk)
    data = out.getvalue()
    assert len(data) < 2_000_000
    report, peak = _parse_measuring_peak(data)
    _check(report, ParseStatus.UNSUPPORTED, "zip bomb")
    assert peak < 50 * 1024 * 1024


def test_docx_entity_bomb(docx_bytes):
    lol = (b'<?xml version="1.0"?>\n<!DOCTYPE lolz [\n <!ENTITY lol "lol">\n'
           + b"".join(b' <!ENTITY lol%d "%s">\n' % (i, (b"&lol%d;" % (i - 1) if i > 1 else b"&lol;") * 10)
                      for i in range(1, 10))
           + b']>\n<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main">'
           + b"<w:body><w:p><w:r><w:t>&lol9;</w:t></w:r></w:p></w:body></w:document>")
    data = _docx_with(docx_bytes, {"word/document.xml": lol})
    _check(parse_bytes(data, url=NAME), ParseStatus.UNSUPPORTED, "entity")


def test_broken_docx(docx_bytes):
    report = parse_bytes(docx_bytes[: len(docx_bytes) // 2], url=NAME)
    _check(report, ParseStatus.FAILED, "docx")
    bad_xml = _docx_with(docx_bytes, {"word/document.xml": b"<w:document><w:body><w:p>"})
    _check(parse_bytes(bad_xml, url=NAME), ParseStatus.FAILED, "xml")


def test_ofd_is_unsupported_and_named():
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("OFD.xml", '<?xml version="1.0"?><ofd:OFD xmlns:ofd="http://www.ofdspec.org/2016"/>')
        z.writestr("Doc_0/Document.xml", "<ofd:Document xmlns:ofd='http://www.ofdspec.org/2016'/>")
    report = parse_bytes(buf.getvalue(), url=NAME)
    _check(report, ParseStatus.UNSUPPORTED, "ofd")
    assert report.source.format == "ofd"


def test_zip_that_is_not_a_report():
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("data.csv", "a,b\n1,2\n")
    _check(parse_bytes(buf.getvalue(), url=NAME), ParseStatus.UNSUPPORTED, "zip")


def test_50mb_html_page(spec):
    """A 50 MB page (a real report buried in endless markup): refused quickly, without a 50 MB tree."""
    page = render_seeds.html_page(spec)
    filler = b"<div class='x'><span>" + "广告位招租".encode() * 20 + b"</span></div>\n"
    data = page.replace(b"</body>", filler * (50 * 1024 * 1024 // len(filler)) + b"</body>")
    assert len(data) > 50 * 1024 * 1024
    report, peak = _parse_measuring_peak(data, content_type="text/html; charset=utf-8")
    _check(report, ParseStatus.TOO_LARGE, "exceeds", str(MAX_MARKUP_BYTES))
    assert peak < 20 * 1024 * 1024


def test_large_page_with_inline_images_still_parses(spec):
    """Word pastes embed images as data: URIs; they do not count against the markup limit."""
    page = render_seeds.html_page(spec)
    img = b'<img src="data:image/png;base64,' + b"iVBORw0KGgo" * (12 * 1024 * 1024 // 11) + b'">'
    data = page.replace(b"</body>", img + b"</body>")
    assert len(data) > MAX_MARKUP_BYTES
    report = parse_bytes(data, url=NAME)
    assert report.status == ParseStatus.PARSED, report.error
    assert report.agency == spec.agency


def test_news_article_is_not_a_report():
    page = """<!DOCTYPE html><html><head><meta charset="utf-8"><title>我区召开安全生产工作会议</title>
<meta name="ArticleTitle" content="我区召开安全生产工作会议"><meta name="PubDate" content="2025-01-10 10:00">
</head><body><div class="crumb">首页 &gt; 新闻动态</div><div class="TRS_Editor">
<p>1月9日下午，区政府召开2025年安全生产工作会议，总结2024年安全生产工作，部署今年重点任务。</p>
<p>会议指出，2024年全区共开展安全检查126次，整改隐患358处，安全形势总体平稳。</p>
<p>会议要求，各部门要压实责任，强化隐患排查，确保全区安全生产形势持续稳定。</p>
</div></body></html>""".encode()
    report = parse_bytes(page, url=NAME)
    assert report.status == ParseStatus.NOT_A_REPORT, (report.status, report.error)
    assert report.cells == []
    assert report.source.format == "html"


def test_report_without_table3_is_partial(spec):
    """Table 三 lost (e.g. published as an image): partial, with a table_not_found warning."""
    page = render_seeds.html_page(spec).decode("utf-8")
    tables = list(re.finditer(r"<table.*?</table>", page, re.S))
    assert len(tables) == 3
    t3 = tables[1]
    page = page[: t3.start()] + page[t3.end():]
    report = parse_bytes(page.encode("utf-8"), url=NAME)
    assert report.status == ParseStatus.PARTIAL, (report.status, report.error)
    codes = {w.code for w in report.warnings}
    assert "table_not_found" in codes
    assert any("table3" in (w.message + (w.cell or "")) or "三" in w.message
               for w in report.warnings if w.code == "table_not_found")
    # What is there is still read.
    assert report.table2["punishment"] == 45 and report.table4["review"]["total"] == 0
    assert all(v is None for row in report.table3.values() for v in row)


def test_doc_without_libreoffice(tmp_path, monkeypatch, pdf_bytes, spec, render_cache):
    """No soffice on PATH: a DOC fails with a message saying so, and other formats still work."""
    (doc,) = render_seeds.render_office([spec], "doc", render_cache)
    monkeypatch.setenv("PATH", str(tmp_path))
    _check(parse_bytes(doc, url=NAME), ParseStatus.FAILED, "libreoffice", "not installed")
    assert parse_bytes(pdf_bytes, url=NAME).status == ParseStatus.PARSED


def test_corrupt_doc_fails_clearly():
    ole = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + os.urandom(4096)
    report = parse_bytes(ole, url=NAME)
    assert report.status == ParseStatus.FAILED, (report.status, report.error)
    assert NAME in report.error and "corrupt" in report.error.lower()


def test_unreadable_file(tmp_path):
    missing = tmp_path / "nope.pdf"
    report = parse_file(missing)
    assert report.status == ParseStatus.FAILED and str(missing) in report.error


def _cfb(stream_name: str) -> bytes:
    """A compound-file header and one directory sector naming ``stream_name`` (LibreOffice here has
    no Calc to write a real workbook; the sniffer reads only the header and the directory names)."""
    header = bytearray(512)
    header[0:8] = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
    header[0x18:0x1A] = (0x3E).to_bytes(2, "little")
    header[0x1A:0x1C] = (3).to_bytes(2, "little")
    header[0x1C:0x1E] = b"\xfe\xff"
    header[0x1E:0x20] = (9).to_bytes(2, "little")
    header[0x20:0x22] = (6).to_bytes(2, "little")

    def entry(name: str, kind: int) -> bytes:
        e = bytearray(128)
        raw = name.encode("utf-16-le") + b"\x00\x00"
        e[0:len(raw)] = raw
        e[0x40:0x42] = len(raw).to_bytes(2, "little")
        e[0x42] = kind
        return bytes(e)

    directory = entry("Root Entry", 5) + entry(stream_name, 2) + bytes(256)
    return bytes(header) + directory + bytes(512)


@pytest.mark.parametrize("stream,word", [("Workbook", "excel"), ("PowerPoint Document", "powerpoint")])
def test_office_files_that_are_not_documents(stream, word):
    """An OLE file holding a workbook or slides is not sent through the Word path."""
    _check(parse_bytes(_cfb(stream), url=NAME), ParseStatus.UNSUPPORTED, word)


def test_docx_with_large_media_still_parses(docx_bytes, spec):
    """Photos (incompressible, 30 MB) in word/media are not a bomb and are never inflated by us."""
    src = zipfile.ZipFile(io.BytesIO(docx_bytes))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            dst.writestr(info.filename, src.read(info.filename))
        dst.writestr("word/media/image1.jpeg", os.urandom(30 * 1024 * 1024), compress_type=zipfile.ZIP_STORED)
    data = out.getvalue()
    report, peak = _parse_measuring_peak(data)
    assert report.status == ParseStatus.PARSED, report.error
    assert report.agency == spec.agency
    assert peak < 20 * 1024 * 1024
