"""The parse stage's writer: results arrive from the workers one by one, and are written a batch per
transaction (each document still all-or-nothing: see tests/storage/test_kill.py), not one
transaction (a commit, a new full-text index segment) per document."""
from __future__ import annotations

import contextlib

from crawler.ingest import ingest_document
from crawler.parse_stage import ParseSettings, parse_pending
from storage.db import Store
from storage.models import Document

from storage_helpers import seed_path

SEEDS = ("000", "001", "002", "003", "004")


def _store(tmp_path, copies: int) -> Store:
    store = Store(tmp_path / "b.db")
    for k in range(copies):
        for seed in SEEDS:
            ingest_document(store, Document(url=f"http://127.0.0.1:9/ndbg/{k}/{seed}.txt", site="dx",
                                            content=seed_path(seed).read_bytes(), content_type="text/plain"))
    return store


def _count_transactions(store: Store) -> list[int]:
    """Counts the store's outermost transactions (BEGIN ... COMMIT) from now on."""
    counted = [0]
    inner = store.transaction

    @contextlib.contextmanager
    def transaction():
        if not store._depth:
            counted[0] += 1
        with inner():
            yield

    store.transaction = transaction
    return counted


def test_results_are_written_a_batch_per_transaction(tmp_path):
    store = _store(tmp_path, 3)
    counted = _count_transactions(store)
    summary = parse_pending(store, ParseSettings(workers=1, batch=32, batch_seconds=60))
    assert summary.written == 15 and summary.statuses == {"parsed": 15}
    assert store.counts()["reports"] == 15
    # all 15 held until the one worker had nothing left: one batch (the second pass with last
    # year's figures, if any, adds its own)
    assert counted[0] <= 2


def test_a_batch_is_not_held_longer_than_batch_seconds(tmp_path):
    store = _store(tmp_path, 2)
    counted = _count_transactions(store)
    summary = parse_pending(store, ParseSettings(workers=1, batch=32, batch_seconds=0))
    assert summary.written == 10 and store.counts()["reports"] == 10
    assert counted[0] >= 5  # nothing held: written as each result arrives (one or two at a time)
