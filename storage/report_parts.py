"""The documents that make one report: a report page and its attachments (report_url in common).

A （图片版） report page whose tables are pictures is read together with those pictures, which the
crawl stored as the page's attachments; the parse stage asks for them here.
"""
from __future__ import annotations

from typing import Any

from storage.db import Store

#: More parts than a report has (a page, a few table images or scanned pages, an attachment or two).
MAX_PARTS = 64


def report_parts(store: Store, report_url: str) -> list[dict[str, Any]]:
    """Each stored document whose report is ``report_url`` (the page itself included): url,
    sha256, content_type and size of its latest version, in the order they were first seen."""
    return store._all(
        "SELECT d.url, v.sha256, v.content_type, v.size FROM documents d "
        "JOIN document_versions v ON v.id = d.latest_version_id "
        "WHERE d.url = ? OR d.report_url = ? ORDER BY d.id LIMIT ?", (report_url, report_url, MAX_PARTS))


def stored_assessable(store: Store, report_url: str) -> int | None:
    """Assessable cells of the report stored for ``report_url`` (None: no report yet)."""
    row = store._one("SELECT assessable_cells FROM reports WHERE report_url = ?", (report_url,))
    return None if row is None else int(row["assessable_cells"] or 0)
