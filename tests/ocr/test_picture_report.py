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


def _jobs(store):
    return store.parse_jobs(ParseSettings(workers=1).version(), mode="pending")


@pytest.mark.parametrize("images_first", [False, True])
def test_each_picture_is_read_once_with_its_page_never_alone_first(tmp_path, picture_page, images_first, monkeypatch):
    """The jobs of one pass, handed to ``combine`` as the parse stage's workers do: no picture of a
    stored page is OCR'd alone, and the page with its pictures is read once, by the part stored last."""
    import crawler.picture_report as pr
    from crawler.parsing import parse_bytes

    store = Store(tmp_path / "nianbao.db")
    page, images = _documents(picture_page)
    for doc in (images + [page]) if images_first else ([page] + images):
        ingest_document(store, doc)
    readings = []
    real = pr.parse_pages
    monkeypatch.setattr(pr, "parse_pages", lambda blobs, **kw: readings.append(len(blobs)) or real(blobs, **kw))
    alone_ocr = []
    outcomes = {}
    for job in _jobs(store):
        data = store.blob(job["sha256"])

        def alone(job=job, data=data):
            alone_ocr.append(job["url"])
            return parse_bytes(data, url=job["url"], content_type=job.get("content_type"))
        first = None if pr.is_picture_part(job) else parse_bytes(data, url=job["url"], content_type=job["content_type"])
        outcomes[job["url"]] = pr.combine(store, job, first, None, alone)
    assert alone_ocr == []  # no picture read alone
    assert readings == [3]  # one combined reading of the three pictures
    last = page.url if images_first else images[-1].url
    assert outcomes[last].status.value == "parsed" and len(outcomes[last].cells) >= 200
    for doc in images:
        if doc.url != last:  # marked, naming the page whose reading they are part of
            r = outcomes[doc.url]
            assert r.status.value == "partial" and page.url in r.error and not r.cells
    store.close()


def test_a_picture_that_arrives_alone_is_read_stored_and_marked(tmp_path, picture_page):
    store = Store(tmp_path / "nianbao.db")
    _page, images = _documents(picture_page)
    ingest_document(store, images[1])  # Table 三's picture; its page was never fetched
    summary = parse_pending(store, ParseSettings(workers=1))
    assert summary.written == 1, summary
    (version,) = store.document_versions(images[1].url)
    assert version["parse_status"] in ("parsed", "partial") and version["format"] == "image", version
    (row,) = store.reports()
    cells = store.load_report(row["id"]).cells
    assert sum(1 for c in cells if c.table == "table3" and c.confidence is not None) >= 150
    store.close()


def test_a_picture_that_arrives_after_the_report_was_stored_is_merged_into_it(tmp_path, picture_page):
    """Issue 13: the page and two of its pictures are parsed on one night; Table 四's picture is
    fetched the next night: the stored report becomes the reading of all three."""
    store = Store(tmp_path / "nianbao.db")
    page, images = _documents(picture_page)
    for doc in [page] + images[:2]:
        ingest_document(store, doc)
    parse_pending(store, ParseSettings(workers=1))
    (row,) = store.reports()
    before = store.load_report(row["id"])
    assert not any(c.table == "table4" for c in before.cells) and any(c.table == "table3" for c in before.cells)
    ingest_document(store, images[2])
    summary = parse_pending(store, ParseSettings(workers=1))
    assert summary.written == 1, summary
    (row,) = store.reports()
    after = store.load_report(row["id"])
    s = score(after, check_report(after), picture_page.expected)
    assert s.right == s.cells and not s.findings_false and not s.findings_missed, (s.wrong, s.findings_false)
    assert row["status"] == "parsed" and any(c.table == "table4" for c in after.cells)
    assert set(after.sections) >= {"overview", "problems"}  # still the page's narrative
    store.close()
