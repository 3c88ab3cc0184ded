"""A scanned PDF ingested like any crawled document: stored parsed, findings, and in Datasette its page
images beside the tables, uncertain cells marked with their confidence."""
from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

import corpus
from crawler.cli.store import datasette_app
from crawler.ingest import ingest_document
from storage.db import Store
from storage.models import Document

STEM = "000_16ec821b69b48cef"


@pytest.fixture(scope="module")
def scanned_pdf(tmp_path_factory) -> bytes:
    (item,) = corpus.build(tmp_path_factory.mktemp("scan"), stems=[STEM], kinds=("pdf",), dpis=(150,))
    return Path(item.files[0]).read_bytes()


def _get(path, url):
    async def go():
        ds = datasette_app(path)
        await ds.invoke_startup()
        return await ds.client.get(url)
    return asyncio.run(go())


def test_a_scanned_pdf_is_stored_parsed_and_shown_with_its_pages(tmp_path, scanned_pdf):
    store = Store(tmp_path / "nianbao.db")
    url = "https://www.example.gov.cn/attach/scan-2024.pdf"
    res = ingest_document(store, Document(url=url, content=scanned_pdf, content_type="application/pdf"))
    assert res.status == "parsed", res
    cells = store.conn.execute("select count(*), count(confidence) from cells where report_id = ?",
                               [res.report_id]).fetchone()
    assert cells[0] > 150 and cells[1] == cells[0]  # every cell read by OCR carries its confidence
    # a low-confidence cell shows as such: force one, as a misread would be stored
    store.conn.execute("update cells set confidence = 0.42 where report_id = ? and table_name = 'table3' "
                       "and row = 'new' and \"column\" = 'total'", [res.report_id])
    store.conn.commit()
    path = store.path
    store.close()
    page = _get(path, f"/-/nianbao/report/{res.report_id}")
    assert page.status_code == 200
    html = page.text
    assert "原件页面（OCR 识别）" in html
    srcs = [s for s in html.split('src="')[1:] if s.startswith("/-/nianbao/page/")]
    assert len(srcs) >= 3
    assert 'data-ref="table3.new.total"' in html
    cell_html = html.split('data-ref="table3.new.total"')[0].rsplit("<td", 1)[1]
    assert "ocr-low" in cell_html
    assert "OCR 置信度 0.42" in html.split('data-ref="table3.new.total"')[1].split(">")[0]
    img = _get(path, srcs[0].split('"')[0])
    assert img.status_code == 200 and img.headers["content-type"] == "image/png"
    assert img.content[:8] == b"\x89PNG\r\n\x1a\n"
    assert _get(path, "/-/nianbao/page/" + "0" * 64 + "/1.png").status_code == 404
