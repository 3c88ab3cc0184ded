"""The spider's items into the store: Documents through ``crawler.ingest.ingest_document`` (which
stores the bytes as a new ``pending`` version when they changed, and parses nothing: the parse
stage reads them after the crawl, in its sandboxed pool), FetchRecords through
``Store.record_fetch``.  Counts per site and status go into Scrapy's stats, which end up in the
crawl run's row.

Writes run on one worker thread with its own Store connection: a blob of tens of MB and SQLite's
write lock must not stall the reactor and every download in flight.  One thread keeps the writes
in order; the middleware's fetch-cache reads use the reactor's connection.
"""
from __future__ import annotations

import logging

from twisted.internet import reactor
from scrapy.utils.defer import maybe_deferred_to_future
from twisted.internet.threads import deferToThreadPool
from twisted.python.threadpool import ThreadPool

from spiders.hostile import FetchRecord
from storage.models import Document

logger = logging.getLogger(__name__)


def store_for(crawler):
    """The reactor thread's Store of this crawl (opened lazily from NIANBAO_DB, closed at the end)."""
    store = getattr(crawler, "_nianbao_store", None)
    if store is None:
        path = crawler.settings.get("NIANBAO_DB")
        if not path:
            return None
        from storage.db import Store

        store = Store(path)
        crawler._nianbao_store = store
    return store


class StorePipeline:
    def __init__(self, crawler) -> None:
        self.crawler = crawler
        self.path = crawler.settings.get("NIANBAO_DB")
        self.run_id = crawler.settings.get("NIANBAO_RUN_ID")
        self.stats = crawler.stats
        self.pool = ThreadPool(minthreads=1, maxthreads=1, name="nianbao-ingest")
        self._store = None  # owned by the worker thread

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler)

    def open_spider(self, spider=None) -> None:
        self.pool.start()

    async def close_spider(self, spider=None):
        try:
            await maybe_deferred_to_future(deferToThreadPool(reactor, self.pool, self._close_worker_store))
        finally:
            self.pool.stop()
            store = getattr(self.crawler, "_nianbao_store", None)
            if store is not None:
                store.close()
                self.crawler._nianbao_store = None

    def _close_worker_store(self) -> None:
        if self._store is not None:
            self._store.close()
            self._store = None

    def _worker_store(self):
        if self._store is None and self.path:
            from storage.db import Store

            self._store = Store(self.path)
        return self._store

    async def process_item(self, item, spider=None):
        if not self.path or not isinstance(item, (FetchRecord, Document)):
            return item
        # a coroutine (Scrapy deprecates returning Deferreds); the work runs on the worker thread
        counts = await maybe_deferred_to_future(deferToThreadPool(reactor, self.pool, self._store_item, item))
        return self._count(item, counts)

    def _store_item(self, item):
        """On the worker thread: write the item; return what to count (stats are not thread-safe)."""
        store = self._worker_store()
        if isinstance(item, FetchRecord):
            store.record_fetch(item.url, run_id=self.run_id, http_status=item.http_status,
                               fetch_status=item.fetch_status, error=item.error, site=item.site)
            return []
        from crawler.ingest import ingest_document

        try:
            result = ingest_document(store, item, run_id=self.run_id, site=item.site)
        except Exception as e:  # a storage failure must never lose the rest of the crawl
            logger.exception("ingest failed for %s", item.url)
            store.record_fetch(item.url, run_id=self.run_id, http_status=item.status,
                               fetch_status="ingest_error", error=f"{type(e).__name__}: {e}", site=item.site)
            return ["ingest_errors"]
        keys = ["documents"]
        if getattr(result, "error", None):
            keys.append("ingest_errors")
        for flag in ("is_new", "revised", "skipped"):
            if getattr(result, flag, False):
                keys += [f"documents_{flag}", f"site/{item.site}/documents_{flag}"]
        return keys

    def _count(self, item, keys):
        for k in keys:
            self.stats.inc_value(f"nianbao/{k}")
        return item
