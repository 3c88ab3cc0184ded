"""The one place with SQL.  (Skeleton of the contract: the storage issue fills every method.)

Every other package talks to the database through ``Store``; nothing else writes SQL.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Iterable

from storage.models import Document, Finding, Report


@dataclass
class SavedDocument:
    document_id: int  # the URL's row in `documents`
    version_id: int  # the row in `document_versions` holding these bytes
    sha256: str
    is_new: bool  # first time this URL was stored
    revised: bool  # this URL was stored before with other bytes (a `revised` event was written)
    unchanged: bool  # same bytes as the latest version: nothing new stored


@dataclass
class FindingDelta:
    new: list[Finding] = field(default_factory=list)  # first seen now
    still_open: list[Finding] = field(default_factory=list)  # known before, seen again
    resolved: list[dict[str, Any]] = field(default_factory=list)  # open before, cause gone


class Store:
    """A nianbao SQLite database (WAL, foreign keys, migrated on open)."""

    def __init__(self, path: str | Path, *, readonly: bool = False) -> None:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError

    # -- runs ----------------------------------------------------------------------------------
    def start_run(self, kind: str, *, config: dict[str, Any] | None = None) -> int:
        """kind: crawl | ingest | check | alert | run.  Returns the run id."""
        raise NotImplementedError

    def finish_run(self, run_id: int, status: str, stats: dict[str, Any] | None = None,
                   error: str | None = None) -> None:
        raise NotImplementedError

    def last_runs(self, limit: int = 10, kind: str | None = None) -> list[dict[str, Any]]:
        raise NotImplementedError

    # -- sites and agencies --------------------------------------------------------------------
    def upsert_site(self, name: str, *, region: str | None = None,
                    start_url: str | None = None) -> int:
        raise NotImplementedError

    def agency_id(self, name: str, *, site: str | None = None, kind: str | None = None) -> int:
        """Find or create the agency; names are normalised and aliases kept."""
        raise NotImplementedError

    def agencies(self, site: str | None = None) -> list[dict[str, Any]]:
        raise NotImplementedError

    # -- documents -----------------------------------------------------------------------------
    def fetch_cache(self, url: str) -> dict[str, Any] | None:
        """Latest fetch facts for a URL: etag, last_modified, sha256, first_seen, version_id."""
        raise NotImplementedError

    def save_document(self, doc: Document, *, run_id: int | None = None) -> SavedDocument:
        """Store bytes content-addressed; same bytes twice are stored once."""
        raise NotImplementedError

    def record_fetch(self, url: str, *, run_id: int | None, http_status: int | None,
                     fetch_status: str, error: str | None = None, site: str | None = None) -> None:
        """A fetch that stored no new bytes: 304, WAF challenge, soft 404, timeout..."""
        raise NotImplementedError

    # -- reports -------------------------------------------------------------------------------
    def save_report(self, report: Report, *, version_id: int, report_url: str,
                    site: str | None = None, first_seen: datetime | None = None) -> int:
        """Store the parsed report of a document version (one report per report_url)."""
        raise NotImplementedError

    def load_report(self, report_id: int) -> Report:
        raise NotImplementedError

    def reports(self, *, site: str | None = None, year: int | None = None,
                agency_id: int | None = None) -> list[dict[str, Any]]:
        raise NotImplementedError

    # -- findings ------------------------------------------------------------------------------
    def sync_findings(self, findings: Iterable[Finding], *, rules: Iterable[str],
                      site: str | None = None, report_id: int | None = None,
                      run_id: int | None = None) -> FindingDelta:
        """Record a check's findings for the scope (rules x site x report).

        Open findings in that scope whose fingerprint is not among ``findings`` are resolved.
        """
        raise NotImplementedError

    # -- alert outbox --------------------------------------------------------------------------
    def enqueue_alert(self, *, key: str, recipients: list[str], subject: str, text: str,
                      html: str, fingerprints: list[str], site: str | None = None) -> int | None:
        """Write an alert before it is sent; None if an alert with this key already exists."""
        raise NotImplementedError

    def due_alerts(self, now: datetime) -> list[dict[str, Any]]:
        raise NotImplementedError

    def mark_alert_sent(self, alert_id: int, *, message_id: str | None = None) -> None:
        raise NotImplementedError

    def mark_alert_failed(self, alert_id: int, *, error: str, next_attempt_at: datetime) -> None:
        raise NotImplementedError
