"""What the portal spider yields, as Scrapy items (dataclasses work as items via itemadapter).

- ``storage.models.Document``: bytes of a report page or attachment, with its fetch facts, link
  title, listing date and ``report_url`` (an attachment names the page it belongs to: one report).
- ``spiders.hostile.FetchRecord``: a fetch that brought nothing to store (304, WAF challenge, soft
  404, timeout, 5xx, too large…), recorded with its ``fetch_status``.

The pipeline (crawler/pipelines.py) hands the first to ``crawler.ingest.ingest_document`` and the
second to ``Store.record_fetch``.
"""
from __future__ import annotations

from spiders.hostile import FAILURE_STATUSES, FetchRecord
from storage.models import Document

__all__ = ["Document", "FetchRecord", "FAILURE_STATUSES"]
