"""A 图片版 report page and its table images, stored as the crawl stores them (the page, then each
image as its attachment), become one parsed report in the parse stage, whatever the order."""
from __future__ import annotations

from pathlib import Path

import corpus
import pytest
from score import score

from crawler.ingest import ingest_document
from crawler.parse_stage import ParseSettings, parse_pending
from monitor.checks.report import check_report
from storage.db import Store
from storage.models import Document

STEM = "004_df5f9a23d5b9d417"
BASE = "https://www.example.gov.cn/zfxxgk/nb/2024/"


@pytest.fixture(scope="module")
def picture_page(tmp_path_factory):
    (item,) = corpus.build(tmp_path_factory.mktemp("picpage"), stems=[STEM], kinds=("html",), dpis=(200,))
    return item


def _documents(item) -> tuple[Document, list[Document]]:
    page_url = BASE + "t20250120_1.html"
    page = Document(url=page_url, content=Path(item.files[0]).read_bytes(), content_type="text/html; charset=utf-8")
    images = [Document(url=BASE + Path(f).name, content=Path(f).read_bytes(), content_type="image/jpeg",
                       report_url=page_url) for f in item.files[1:]]
    return page, images


@pytest.mark.parametrize("images_first", [False, True])
def test_picture_page_and_its_images_are_one_parsed_report(tmp_path, picture_page, images_first):
    store = Store(tmp_path / "nianbao.db")
    page, images = _documents(picture_page)
    for doc in (images + [page]) if images_first else ([page] + images):
        ingest_document(store, doc)
    summary = parse_pending(store, ParseSettings(workers=1))
    assert summary.written == 4, summary
    rows = store.reports()
    assert len(rows) == 1 and rows[0]["report_url"] == page.url  # one report, at the page's address
    assert rows[0]["status"] == "parsed", rows[0]
    cells = {(r["table_name"], r["row"], r["column"]): r for r in store.conn.execute(
        "SELECT table_name, row, \"column\", value, kind, confidence FROM cells WHERE report_id = ?",
        [rows[0]["id"]]).fetchall()}
    assert len(cells) >= 200 and all(r["confidence"] is not None for k, r in cells.items() if k[0] == "table3")
    # the narrative came from the page: its sections are stored with the report
    text = store.conn.execute("SELECT sections FROM report_text WHERE report_id = ?", [rows[0]["id"]]).fetchone()[0]
    assert "overview" in text and "problems" in text
    store.close()


def test_the_combined_reading_gives_the_seeds_cells(picture_page):
    from crawler.parsing import parse_pages

    files = [Path(f).read_bytes() for f in picture_page.files]
    report = parse_pages(files[1:], page=files[0], url=BASE + "p.html", content_type="text/html")
    s = score(report, check_report(report), picture_page.expected)
    assert s.right == s.cells and not s.findings_false and not s.findings_missed, (s.wrong, s.findings_false)
