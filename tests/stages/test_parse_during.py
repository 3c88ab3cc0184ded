"""The parse pool beside a crawl (``parse_during``): it takes each version as the crawl stores it,
its workers take only the CPU the crawl leaves (nice 19) and are replaced by workers at the stage's
own niceness once the crawl is over; the caller's thread keeps its priority."""
from __future__ import annotations

import os
import threading
import time

from crawler.ingest import ingest_document
from crawler.parse_stage import ParseSettings, parse_during
from storage.db import Store
from storage.models import Document

from storage_helpers import seed_page, seed_path


def test_parse_during_a_crawl_then_at_the_stages_own_priority(tmp_path):
    db = tmp_path / "d.db"
    Store(db).close()
    crawling = threading.Event()
    crawling.set()

    def crawl() -> None:  # a crawl storing a document now and then, with its own connection
        with Store(db) as store:
            for i in range(10):
                ingest_document(store, seed_page(i))
                time.sleep(0.15)
        crawling.clear()

    me = threading.get_native_id()
    before = os.getpriority(os.PRIO_PROCESS, me)
    thread = threading.Thread(target=crawl)
    thread.start()
    with Store(db) as store:
        summary = parse_during(store, ParseSettings(workers=2), crawling.is_set)
    thread.join()
    assert os.getpriority(os.PRIO_PROCESS, me) == before  # the caller's thread is not reniced
    assert summary.during_crawl and summary.written == 10
    with Store(db) as store:
        assert store.parse_status_counts() == {"parsed": 10}
        assert store.counts()["reports"] == 10
    # beside the crawl at nice 19 (or what the machine already imposed, if more)
    assert summary.worker_nices and summary.worker_nices[0] == 19


def test_workers_replaced_at_base_nice_once_the_crawl_is_over(tmp_path):
    """Versions pending when the crawl ends are read by workers at ``ParseSettings.nice``.

    The crawl ends only once a worker beside it has read a document (so that worker exists, at
    19), right after storing most of its documents: those cannot all be read before the end is
    seen, so a successor is needed.  (Ending the crawl after a fixed 0.5 s let a fast worker read
    all 120 documents first, and the test failed now and then in the full suite.)"""
    db = tmp_path / "d.db"
    Store(db).close()
    crawling = threading.Event()
    crawling.set()

    def store_seeds(store, numbers) -> None:
        for i in numbers:
            ingest_document(store, seed_page(i))

    def crawl() -> None:
        try:
            with Store(db) as store:
                store_seeds(store, range(4))
                give_up = time.monotonic() + 120
                while store.parse_status_counts().get("parsed", 0) == 0 and time.monotonic() < give_up:
                    time.sleep(0.05)
                store_seeds(store, range(4, 120))
        finally:
            crawling.clear()

    base = os.getpriority(os.PRIO_PROCESS, 0)
    thread = threading.Thread(target=crawl)
    thread.start()
    with Store(db) as store:
        summary = parse_during(store, ParseSettings(workers=1), crawling.is_set)
        assert store.parse_status_counts() == {"parsed": 120}
    thread.join()
    assert summary.written == 120
    # the worker started beside the crawl, at 19, then its successor at the stage's own (0)
    assert summary.worker_nices == [19, base]


def test_more_jobs_at_once_than_the_pools_window_are_all_parsed(tmp_path):
    """The pool hands slow formats (PDF) out first but writes in version order, holding at most
    a window of 256 outcomes: with more PDFs than that stored after a page, the window filled with
    PDF outcomes waiting for the page, nothing was handed out or written, and the pass ended with
    every document left pending (seen on a 3,000-portal night with two crawl processes)."""
    db = tmp_path / "d.db"
    with Store(db) as store:
        ingest_document(store, Document(url="http://127.0.0.1:9/nb/page.txt", site="dx",
                                        content=seed_path("000").read_bytes(), content_type="text/plain"))
        for i in range(300):  # cheap to read (not a PDF), but handed out before the page
            ingest_document(store, Document(url=f"http://127.0.0.1:9/nb/{i}.pdf", site="dx",
                                            content=f"not a pdf {i}".encode(), content_type="application/pdf"))
    with Store(db) as store:
        summary = parse_during(store, ParseSettings(workers=2), lambda: False)
        assert summary.left == 0 and summary.written == 301
        assert "pending" not in store.parse_status_counts()
        assert store.counts()["reports"] >= 1


def test_pages_between_pdfs_do_not_hold_the_workers_back(tmp_path):
    """Slow formats go out first, but only among the versions near the next one to write: sorting
    the whole pass by format let the outcomes of later PDFs fill the 256-outcome window while the
    pages stored between them were still queued, and from then on the pool handed out one job per
    write (a 3,000-portal night parsed 15 documents/s; 1,200 documents like these took 24 s
    instead of 4).  The pool counts the turns a free worker got nothing although jobs were queued."""
    db = tmp_path / "d.db"
    with Store(db) as store:
        for i in range(1200):  # as a crawl stores them: a page, its PDF attachment, the next page...
            if i % 2:
                ingest_document(store, Document(url=f"http://127.0.0.1:9/nb/{i}.pdf", site="dx",
                                                content=f"not a pdf {i}".encode(), content_type="application/pdf"))
            else:
                ingest_document(store, seed_page(i))
    with Store(db) as store:
        summary = parse_during(store, ParseSettings(workers=2), lambda: False)
        assert summary.left == 0 and summary.written == 1200
        assert "pending" not in store.parse_status_counts()
    assert summary.held_back <= 60, summary.held_back  # the old order held workers back on most turns


def test_pending_versions_are_taken_a_chunk_at_a_time(tmp_path, asked):
    """Beside a crawl the pool reads the pending versions in id order, a chunk after the last one
    taken: a backlog of the crawl is never read into the parent whole (it once took 230 MB on a
    3,000-portal night), and every version is still parsed once, those stored while it runs too."""
    db = tmp_path / "d.db"
    with Store(db) as store:
        for i in range(15):  # the backlog before the pass starts
            ingest_document(store, seed_page(i))
    crawling = threading.Event()
    crawling.set()

    def crawl() -> None:  # five more stored while the pass runs
        with Store(db) as store:
            for i in range(15, 20):
                ingest_document(store, seed_page(i))
                time.sleep(0.1)
        crawling.clear()

    thread = threading.Thread(target=crawl)
    thread.start()
    with Store(db) as store:
        summary = parse_during(store, ParseSettings(workers=2), crawling.is_set)
    thread.join()
    assert summary.written == 20 and summary.left == 0
    assert max(asked) <= 4, asked
    with Store(db) as store:
        assert store.parse_status_counts() == {"parsed": 20}
        assert store.counts()["reports"] == 20


def test_parse_jobs_after_an_id(tmp_path):
    with Store(tmp_path / "j.db") as store:
        for i in range(6):
            ingest_document(store, seed_page(i))
        every = [j["version_id"] for j in store.parse_jobs("v")]
        assert [j["version_id"] for j in store.parse_jobs("v", after_id=every[1], limit=3)] == every[2:5]
        assert store.parse_jobs("v", after_id=every[-1]) == []
