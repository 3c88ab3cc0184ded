"""The spider's items into the store: Documents through ``crawler.ingest.ingest_document`` (which
stores the bytes as a new version when they changed and runs the parsing stage), FetchRecords
through ``Store.record_fetch``.  Counts per site and status go into Scrapy's stats, which end up in
the crawl run's row.
"""
from __future__ import annotations

import logging

from spiders.hostile import FetchRecord
from storage.models import Document

logger = logging.getLogger(__name__)


def store_for(crawler):
    """The one Store of this crawl process (opened lazily from NIANBAO_DB, closed at the end)."""
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
        self.run_id = crawler.settings.get("NIANBAO_RUN_ID")
        self.stats = crawler.stats

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler)

    def close_spider(self, spider=None) -> None:
        store = getattr(self.crawler, "_nianbao_store", None)
        if store is not None:
            store.close()
            self.crawler._nianbao_store = None

    def process_item(self, item, spider=None):
        store = store_for(self.crawler)
        if store is None:
            return item
        if isinstance(item, FetchRecord):
            store.record_fetch(item.url, run_id=self.run_id, http_status=item.http_status,
                               fetch_status=item.fetch_status, error=item.error, site=item.site)
            return item
        if isinstance(item, Document):
            from crawler.ingest import ingest_document

            try:
                result = ingest_document(store, item, run_id=self.run_id, site=item.site)
            except Exception as e:  # storage/parsing must never lose the rest of the crawl
                logger.exception("ingest failed for %s", item.url)
                self.stats.inc_value("nianbao/ingest_errors")
                store.record_fetch(item.url, run_id=self.run_id, http_status=item.status,
                                   fetch_status="ingest_error", error=f"{type(e).__name__}: {e}",
                                   site=item.site)
                return item
            self._count(item, result)
        return item

    def _count(self, doc: Document, result) -> None:
        self.stats.inc_value("nianbao/documents")
        if getattr(result, "error", None):
            self.stats.inc_value("nianbao/ingest_errors")
        for flag in ("is_new", "revised", "skipped"):
            if getattr(result, flag, False):
                self.stats.inc_value(f"nianbao/documents_{flag}")
                self.stats.inc_value(f"nianbao/site/{doc.site}/documents_{flag}")
