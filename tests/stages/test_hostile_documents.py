"""Must show (issue 11): documents that crash, hang and bomb the parser are all stored, each
failure is recorded with its reason, the next run does not retry them, and a new parser version
does.  Documents go in through ``ingest_document``, the crawl pipeline's only write."""
from __future__ import annotations

import os
import time

import pytest

from crawler.ingest import ingest_document
from crawler.parse_stage import ParseSettings, parse_pending, reparse
from storage.db import Store
from storage.models import Document

from hostile import alive, docx_grid_before_bomb, hanging_soffice, html_span_bomb, ole_doc, pdf_memory_bomb
from storage_helpers import seed_path

BASE = "http://127.0.0.1:9/portal/"


def _text_memory_hog() -> bytes:
    """7 MB of table-like text (under every byte limit) whose reading needs far more than 192 MB."""
    return (("本年新收政府信息公开申请数量\t" + "\t".join(["12"] * 6) + "\n") * 110_000).encode()


def _docs() -> dict[str, Document]:
    docs = {
        "good": Document(url=BASE + "report.txt", content=seed_path("002").read_bytes(), content_type="text/plain"),
        "html_bomb": Document(url=BASE + "spans.html", content=html_span_bomb(), content_type="text/html"),
        "docx_bomb": Document(url=BASE + "grid.docx", content=docx_grid_before_bomb()),
        "pdf_bomb": Document(url=BASE + "inflate.pdf", content=pdf_memory_bomb(), content_type="application/pdf"),
        "memory": Document(url=BASE + "huge.txt", content=_text_memory_hog(), content_type="text/plain"),
        "hang": Document(url=BASE + "hangs.doc", content=ole_doc(), content_type="application/msword"),
    }
    for d in docs.values():
        d.site = "zoo"
    return docs


def _version(store: Store, url: str) -> dict:
    return store.document_versions(url)[-1]


@pytest.mark.slow
def test_hostile_documents_are_stored_marked_not_retried_then_reparsed(tmp_path, monkeypatch):
    fake = hanging_soffice(tmp_path / "fakebin")
    monkeypatch.setenv("PATH", f"{fake}:{os.environ['PATH']}")
    store = Store(tmp_path / "zoo.db")
    docs = _docs()
    for d in docs.values():
        ingest_document(store, d)
    assert store.parse_status_counts() == {"pending": len(docs)}  # stored, nothing parsed by the crawl

    settings = ParseSettings(workers=2, memory_mb=192, cpu_seconds=60, timeout=20, office_timeout=300,
                             parser_version="v1")
    started = time.monotonic()
    summary = parse_pending(store, settings)
    elapsed = time.monotonic() - started
    assert summary.written == len(docs) and summary.left == 0
    assert elapsed < 120, elapsed  # the hang cost its timeout, not the night

    v = {k: _version(store, d.url) for k, d in docs.items()}
    assert v["good"]["parse_status"] == "parsed" and store.report_id(docs["good"].url) is not None
    assert v["html_bomb"]["parse_status"] == "too_large" and "MAX_TABLE_COLUMNS" in v["html_bomb"]["parse_error"]
    assert v["docx_bomb"]["parse_status"] == "too_large" and "MAX_TABLE_COLUMNS" in v["docx_bomb"]["parse_error"]
    assert (v["memory"]["parse_status"], v["memory"]["parse_failure"]) == ("parse_failed", "memory")
    assert "192 MB" in v["memory"]["parse_error"] and docs["memory"].url in v["memory"]["parse_error"]
    assert v["pdf_bomb"]["parse_status"] == "parse_failed" and v["pdf_bomb"]["parse_failure"] in ("memory", "crash")
    assert (v["hang"]["parse_status"], v["hang"]["parse_failure"]) == ("parse_failed", "timeout")
    assert "parse.timeout" in v["hang"]["parse_error"]
    # the converter that hung was killed with its whole process group (wrapper and child)
    pids = [int(p) for p in (fake / "pids").read_text().split()]
    assert len(pids) == 2
    deadline = time.monotonic() + 5
    while any(alive(p) for p in pids):
        assert time.monotonic() < deadline, f"hung converter processes still alive: {pids}"
        time.sleep(0.1)
    for k in ("good", "html_bomb", "docx_bomb", "memory", "pdf_bomb", "hang"):
        assert store.blob(v[k]["sha256"]) is not None, k  # every byte stored, whatever became of it
    assert {f.url for f in summary.failures} == {docs[k].url for k in ("memory", "pdf_bomb", "hang")}

    # the next run: nothing is retried under the same parser version
    (fake / "pids").unlink()
    again = parse_pending(store, settings)
    assert again.jobs == 0 and not (fake / "pids").exists()

    # a new parser version: the failed ones are pending again, the others are outdated
    bumped = ParseSettings(workers=2, memory_mb=2048, cpu_seconds=60, timeout=8, office_timeout=2,
                           parser_version="v2")
    retried = parse_pending(store, bumped)
    assert retried.jobs == 3
    hang = _version(store, docs["hang"].url)
    # the converter now times out inside its own 2 s (parse.office_timeout): a parse result, not a dead job
    assert hang["parser_version"] == "v2" and hang["parse_status"] == "failed" and "timed out" in hang["parse_error"]
    pids = [int(p) for p in (fake / "pids").read_text().split()]  # office.py killed its own group
    assert len(pids) == 2
    deadline = time.monotonic() + 5
    while any(alive(p) for p in pids):
        assert time.monotonic() < deadline, f"timed-out converter processes still alive: {pids}"
        time.sleep(0.1)
    assert _version(store, docs["memory"].url)["parser_version"] == "v2"
    rest = reparse(store, bumped)
    assert rest.jobs == 3 and {r["parser_version"] for r in store.document_versions(docs["good"].url)} == {"v2"}
    assert store.reports()[0]["parser_version"] == "v2"
    assert store.counts()["documents"] == len(docs)
