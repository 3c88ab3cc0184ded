"""Store stays the facade every other package calls: the public methods they use keep their names,
and the storage modules hold the SQL (Store's own methods only open, delegate and check)."""
from __future__ import annotations

import inspect

from storage.db import Store

#: The public API of Store before it was split into modules (crawler/, monitor/, spiders/ call these).
PUBLIC = {
    "abandon_stale_runs", "agencies", "agency_history", "agency_id", "alert", "alerts", "blob", "close",
    "content_hash", "counts", "document_versions", "drop_alert", "due_alerts", "enqueue_alert", "events",
    "fetch_cache", "find_agency_id", "finding_row", "finding_rows", "findings", "findings_to_alert", "finish_run",
    "has_labels", "integrity_check", "last_runs", "load_report", "load_reports", "mark_alert_failed",
    "mark_alert_sent", "mark_checked", "mark_findings_alerted", "mark_parse_failed", "matrix_inputs", "parse_failures",
    "parse_jobs", "parse_status_counts", "record_fetch", "report_id", "report_row", "report_version", "reports",
    "reports_due_for_checks", "retry_dead_alerts", "revised_events", "save_document", "save_report", "search",
    "set_alert_message_id", "set_parse_status", "set_resolved_reason", "site_region", "start_run", "sync_findings",
    "sync_labels", "transaction", "triage", "triage_history", "upsert_site",
}


def test_public_methods_are_kept():
    have = {n for n, _ in inspect.getmembers(Store, callable) if not n.startswith("_")}
    assert PUBLIC <= have, sorted(PUBLIC - have)
    assert Store.UNSENT == ("pending", "failed", "dead")


def test_the_facade_is_thin():
    # a method that grows past a handful of lines is a concern that belongs in its module
    long = {n: len(inspect.getsource(getattr(Store, n)).splitlines()) for n in PUBLIC
            if n not in ("transaction", "sync_labels", "content_hash")}
    assert {n: lines for n, lines in long.items() if lines > 16} == {}
