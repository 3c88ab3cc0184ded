"""``parse-pending`` and ``reparse`` read their versions a chunk at a time: a national back-fill's
200,000 pending versions (≈ 2 KB each in the parent) are never all held at once, and each is read once."""
from __future__ import annotations

import pytest

from crawler.ingest import ingest_document
from crawler.parse_stage import ParseSettings, parse_pending, reparse
from storage.db import Store
from storage.models import Document

from storage_helpers import seed_page


def _store(tmp_path, n: int) -> Store:
    store = Store(tmp_path / "c.db")
    for i in range(n):
        ingest_document(store, seed_page(i))
    return store


def test_parse_pending_reads_a_chunk_at_a_time(tmp_path, asked):
    with _store(tmp_path, 15) as store:
        summary = parse_pending(store, ParseSettings(workers=2), progress=True)
        assert summary.written == 15 and summary.jobs == 15 and summary.left == 0
        assert max(asked) <= 4 and sum(asked) == 15, asked
        assert store.parse_status_counts() == {"parsed": 15}
        assert store.counts()["reports"] == 15
        asked.clear()
        assert parse_pending(store, ParseSettings(workers=2)).written == 0 and asked == [0]


def test_reparse_all_reads_each_version_once_and_keeps_its_limit(tmp_path, asked):
    """``all`` keeps a version it has just re-read: the mark after the last id taken is what stops a
    second reading of it."""
    with _store(tmp_path, 10) as store:
        parse_pending(store, ParseSettings(workers=1))
        asked.clear()
        again = reparse(store, ParseSettings(workers=2), everything=True)
        assert again.written == 10 and again.jobs == 10 and max(asked) <= 4, asked
        assert store.counts()["reports"] == 10
        bounded = reparse(store, ParseSettings(workers=2, parser_version="next"), limit=6)
        assert bounded.written == 6 and bounded.jobs == 6
        assert store.count_parse_jobs("next", mode="outdated") == 4
        assert store.count_parse_jobs("next", mode="all") == 10


@pytest.mark.parametrize("stop_after", [0, 3])
def test_a_pass_stopped_early_counts_the_chunks_it_never_read_as_left(tmp_path, asked, stop_after):
    calls = [0]

    def should_stop() -> bool:
        calls[0] += 1
        return calls[0] > stop_after

    with _store(tmp_path, 12) as store:
        summary = parse_pending(store, ParseSettings(workers=1), should_stop=should_stop)
        pending = store.parse_status_counts().get("pending", 0)
        assert summary.left == pending > 4 and summary.written + summary.left == summary.jobs == 12
        assert "documents left for the next run" in summary.render()


def test_limit_zero_and_a_site_filter(tmp_path, asked):
    with _store(tmp_path, 6) as store:
        ingest_document(store, Document(url="http://127.0.0.1:9/other/x.txt", site="other",
                                        content=seed_page(6).content, content_type="text/plain"))
        only = parse_pending(store, ParseSettings(workers=1), site="other")
        assert only.written == 1 and store.parse_status_counts()["pending"] == 6
        parse_pending(store, ParseSettings(workers=1))
        assert reparse(store, ParseSettings(workers=1, parser_version="next"), limit=0).written == 0
        with pytest.raises(ValueError, match="limit must be 0 or more"):
            reparse(store, ParseSettings(workers=1, parser_version="next"), limit=-1)
