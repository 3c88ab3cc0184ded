"""Every OCR path shows, on its report page in real Chromium, the images its cells were read from:
a DOCX whose three tables are pictures (the pictures served from the stored DOCX), a 图片版 page
read with its table images (the stored image attachments) and a scanned PDF (its pages).  Low-confidence cells are dashed,
corrected ones solid, the confidence is in the cell's tooltip.

The inputs are the OCR tests' own builders (tests/ocr/corpus.py: the seed laid out by reportlab,
rasterised, degraded; the DOCX by python-docx), stored and parsed as `nianbao ingest` does, on a
real SQLite file served by `nianbao serve`."""
from __future__ import annotations

import hashlib
import io
import os
import sys
import zipfile
from pathlib import Path

import pytest
from PIL import Image

import serve_helpers
from serve_helpers import CHROMIUM, chromium
from crawler.ingest import ingest_document
from crawler.parse_stage import ParseSettings, parse_pending
from monitor.checks.runner import check_reports
from storage.db import Store
from storage.models import Document

OCR_TESTS = Path(__file__).parents[1] / "ocr"
if str(OCR_TESTS) not in sys.path:
    sys.path.insert(0, str(OCR_TESTS))
import corpus  # noqa: E402

ARTIFACTS = Path(__file__).parents[1] / "artifacts"
DOCX_STEM = "001_d039ec262de9d514"
PICTURE_STEM = "004_df5f9a23d5b9d417"
BASE = "https://www.example.gov.cn/zfxxgk/nb/2024/"
DOCX_URL = BASE + "P020250120_report.docx"
PAGE_URL = BASE + "t20250120_1.html"
SCAN_STEM = "000_16ec821b69b48cef"
SCAN_URL = BASE + "P020250121_scan.pdf"
#: the cells the test marks: one read with low confidence, one the arithmetic corrected
LOW, CORRECTED = "table3.unavailable_not_held.total", "table3.granted.natural_person"

pytestmark = pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="Debian's chromium is not installed")


def _mark(store: Store, report_id: int) -> None:
    """One cell as a doubtful reading and one as a corrected one, as OCR stores them (a clean scan
    of a seed may need neither)."""
    ref = LOW.split(".")
    store.conn.execute('UPDATE cells SET confidence = 0.42 WHERE report_id = ? AND table_name = ? AND row = ? '
                       'AND "column" = ?', [report_id, *ref])
    seq = store.conn.execute("SELECT coalesce(max(seq), 0) + 1 FROM warnings WHERE report_id = ?",
                             [report_id]).fetchone()[0]
    store.conn.execute("INSERT INTO warnings (report_id, seq, code, message, cell) VALUES (?, ?, 'ocr_corrected', ?, ?)",
                       [report_id, seq, f"{CORRECTED}: OCR read 7 (confidence 0.61), corrected to 1", CORRECTED])
    store.conn.commit()


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("ocrpages")
    docx = corpus.docx_with_table_pictures(DOCX_STEM)
    (item,) = corpus.build(tmp / "picture", stems=[PICTURE_STEM], kinds=("html",), dpis=(200,))
    (scan,) = corpus.build(tmp / "scan", stems=[SCAN_STEM], kinds=("pdf",), dpis=(200,))
    db = tmp / "nianbao.db"
    with Store(db) as store:
        ingest_document(store, Document(
            url=DOCX_URL, content=docx,
            content_type="application/vnd.openxmlformats-officedocument.wordprocessingml.document"))
        ingest_document(store, Document(url=PAGE_URL, content=Path(item.files[0]).read_bytes(),
                                        content_type="text/html; charset=utf-8"))
        for f in item.files[1:]:
            ingest_document(store, Document(url=BASE + Path(f).name, content=Path(f).read_bytes(),
                                            content_type="image/jpeg", report_url=PAGE_URL))
        ingest_document(store, Document(url=SCAN_URL, content=Path(scan.files[0]).read_bytes(),
                                        content_type="application/pdf"))
        parse_pending(store, ParseSettings(workers=1))  # the parse stage, as `nianbao ingest` runs it
        ids = {}
        for url in (DOCX_URL, PAGE_URL, SCAN_URL):
            row = store.conn.execute("SELECT id, status FROM reports WHERE report_url = ?", [url]).fetchone()
            assert row is not None and row[1] == "parsed", (url, row)
            assert store.conn.execute("SELECT count(confidence) FROM cells WHERE report_id = ?",
                                      [row[0]]).fetchone()[0] > 150  # read by OCR
            _mark(store, row[0])
            ids[url] = row[0]
        check_reports(store, list(ids.values()))  # the check stage, on the stored readings
    with serve_helpers.serving(db) as base:
        yield base, ids, docx, [(Path(f).name, Path(f).read_bytes()) for f in item.files[1:]], scan.files[0]


@pytest.fixture(scope="module")
def browser():
    with chromium() as b:
        yield b


def _shown_images(page) -> list[dict]:
    """The page images beside the tables, each scrolled to (they load lazily) and waited for."""
    imgs = page.locator("#ocr-pages ~ .nb-ocr-pages img")
    for i in range(imgs.count()):
        imgs.nth(i).scroll_into_view_if_needed()
    page.wait_for_function("() => [...document.querySelectorAll('.nb-ocr-pages img')].every(i => i.complete)")
    return imgs.evaluate_all("els => els.map(e => ({src: e.getAttribute('src'), w: e.naturalWidth, "
                             "h: e.naturalHeight}))")


def _check_marks(page) -> None:
    low = page.locator(f'[data-ref="{LOW}"]')
    assert "ocr-low" in low.get_attribute("class")
    assert "OCR 置信度 0.42" in low.get_attribute("title")
    assert low.evaluate("e => getComputedStyle(e).outlineStyle") == "dashed"
    fixed = page.locator(f'[data-ref="{CORRECTED}"]')
    assert "ocr-corrected" in fixed.get_attribute("class")
    title = fixed.get_attribute("title")
    assert "OCR 置信度" in title and "corrected to 1" in title
    assert fixed.evaluate("e => getComputedStyle(e).outlineStyle") == "solid"
    # every OCR-read cell carries its confidence in its tooltip; an unmarked one has no frame
    plain = page.locator('[data-ref="table4.review.total"]')
    assert "OCR 置信度" in plain.get_attribute("title")
    assert plain.evaluate("e => getComputedStyle(e).outlineStyle") == "none"


def _aspect(data: bytes) -> float:
    with Image.open(io.BytesIO(data)) as im:
        return im.width / im.height


def test_docx_picture_report_shows_its_table_pictures(served, browser):
    base, ids, docx, _, _ = served
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(f"{base}/-/nianbao/report/{ids[DOCX_URL]}")
    shown = _shown_images(page)
    with zipfile.ZipFile(io.BytesIO(docx)) as z:
        media = [z.read(n) for n in z.namelist() if n.startswith("word/media/")]
    assert len(shown) == len(media) == 3, shown
    for img, pic in zip(shown, media):
        assert img["w"] > 0 and img["h"] > 0, img  # it loaded: a real picture, decoded by Chromium
        # ... and it is one of the document's pictures (a table is wider than tall, each its own shape)
        assert abs(img["w"] / img["h"] - _aspect(pic)) < 0.02, (img, _aspect(pic))
    assert {s["src"].split("/")[4] for s in shown} == {hashlib.sha256(docx).hexdigest()}  # from the DOCX blob
    captions = page.locator(".nb-ocr-pages figcaption").all_inner_texts()
    assert captions == [f"P020250120_report.docx · 图{k}" for k in (1, 2, 3)], captions
    _check_marks(page)
    # the seed's own findings are beside the tables; one resting on the doubtful cell says so
    rules = page.locator("#findings .nb-finding").evaluate_all("els => els.map(e => e.dataset.rule)")
    assert {"row_total", "results_total"} <= set(rules), rules
    on_low = page.locator("#findings .nb-finding", has_text="OCR 可能误读")
    assert on_low.count() >= 1
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "ocr_docx_pictures.png"), full_page=True)
    page.close()


def test_picture_page_report_shows_its_stored_images(served, browser):
    base, ids, _, images, _ = served
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(f"{base}/-/nianbao/report/{ids[PAGE_URL]}")
    shown = _shown_images(page)
    assert len(shown) == len(images) == 3, shown  # the page itself (HTML) gives no image
    for img, (_, jpeg) in zip(shown, images):
        assert img["w"] > 0 and img["h"] > 0, img
        assert abs(img["w"] / img["h"] - _aspect(jpeg)) < 0.02, (img, _aspect(jpeg))
        assert img["src"].split("/")[4] == hashlib.sha256(jpeg).hexdigest()  # the stored attachment
    captions = page.locator(".nb-ocr-pages figcaption").all_inner_texts()
    assert captions == [f"{name} · 第1页" for name, _ in images], captions
    _check_marks(page)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "ocr_picture_page.png"), full_page=True)
    page.close()



def test_scanned_pdf_report_shows_its_pages(served, browser):
    import pypdfium2 as pdfium

    base, ids, _, _, pdf_path = served
    pdf = pdfium.PdfDocument(pdf_path)
    sizes = [pdf[i].get_size() for i in range(len(pdf))]
    pdf.close()
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(f"{base}/-/nianbao/report/{ids[SCAN_URL]}")
    shown = _shown_images(page)
    assert len(shown) == len(sizes) >= 2, shown
    for img, (w, h) in zip(shown, sizes):
        assert img["w"] > 0 and abs(img["w"] / img["h"] - w / h) < 0.01, (img, w, h)
    captions = page.locator(".nb-ocr-pages figcaption").all_inner_texts()
    assert captions == [f"P020250121_scan.pdf · 第{k}页" for k in range(1, len(sizes) + 1)], captions
    _check_marks(page)
    page.close()
