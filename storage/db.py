"""The one place with SQL: ``Store``, a thin facade over the storage modules.

Every other package talks to the database through ``Store``; nothing else writes SQL.  The SQL and the
policies live per concern: ``storage.documents`` (bytes, versions, fetches, parse status),
``storage.reports`` (save/load, "richer parse wins", search), ``storage.findings`` (the finding
lifecycle), ``storage.outbox`` (alert states), ``storage.runs``, ``storage.identity`` (sites and
agencies, by the identity policy of ``storage.agencies``).  Writes go through sqlite-utils; reads with
joins, and the few writes sqlite-utils cannot say (conditional bulk updates), are SQL in those modules.
On the hot paths (a stored document, a parsed report) a row is inserted by the statement sqlite-utils
builds for it, made once and cached (``storage._common.insert_row``), and updated by one ``UPDATE``
(``storage._common.update_row``): ``Table.insert``/``update`` ask sqlite_master and open a savepoint per row.

Writes: every public write method runs in one transaction; callers that must write several things
atomically (a document, its report, the report's findings) wrap them in ``with store.transaction():``
and the inner calls join it.  The connection is in autocommit mode so that BEGIN/COMMIT are ours
(sqlite-utils' own writes, where they are used, then nest as savepoints inside them).

Times are stored as ISO 8601 strings in UTC (``2025-01-16T03:00:00+00:00``), so they sort as text.
"""
from __future__ import annotations

import hashlib
import sqlite3
import threading
from contextlib import contextmanager
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterable, Iterator

import sqlite_utils

from storage import desk, documents, findings as findings_, identity, outbox, reports as reports_, runs, schema
from storage._common import StoreError, one, rows, ts, utcnow
from storage.documents import SavedDocument
from storage.findings import FindingDelta
from storage.models import Document, Finding, ParseStatus, Report
from vocabulary.template import all_labels

#: Left out of ``content_hash``: journals of *when* things happened, not *what* is stored.
#: ``runs`` (one row per invocation), ``fetches`` (one row per HTTP fetch attempt), the time a
#: migration ran, and which run first stored a version.  Everything else must be identical after
#: ingesting the same documents again.
VOLATILE_TABLES = ("runs", "fetches")
VOLATILE_COLUMNS = {"schema_migrations": ("applied_at",), "document_versions": ("first_run_id",),
                    "events": ("run_id",)}


@lru_cache(maxsize=1)
def _vocabulary_labels() -> tuple[dict[str, str], ...]:
    return tuple(all_labels())


class Store:
    """A nianbao SQLite database (WAL, foreign keys, migrated on open)."""

    def __init__(self, path: str | Path, *, readonly: bool = False, migrate_to: int | None = None) -> None:
        self.path = Path(path)
        self.readonly = readonly
        self._depth = 0
        self._lock = threading.RLock()
        self._migrate_to = migrate_to
        try:
            if readonly:
                if not self.path.exists():
                    raise StoreError(f"{self.path}: database does not exist")
                self.conn = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, isolation_level=None,
                                            timeout=30, check_same_thread=False)
            else:
                if self.path.parent and not self.path.parent.exists():
                    self.path.parent.mkdir(parents=True, exist_ok=True)
                self.conn = sqlite3.connect(str(self.path), isolation_level=None, timeout=30,
                                            check_same_thread=False)
            self.conn.row_factory = sqlite3.Row
            self.conn.execute("PRAGMA foreign_keys = ON")
            self.conn.execute("PRAGMA busy_timeout = 30000")
            # the same connection, through sqlite-utils (no plugins, no recursive triggers: the schema's
            # triggers are written for SQLite's default)
            self.db = sqlite_utils.Database(self.conn, recursive_triggers=False, execute_plugins=False)
            if not readonly:
                # WAL: Datasette reads while the nightly run writes.  synchronous=NORMAL is safe
                # against a killed process (only a power cut can lose the last commits).
                self.conn.execute("PRAGMA journal_mode = WAL")
                self.conn.execute("PRAGMA synchronous = NORMAL")
                schema.migrate(self.conn, upto=migrate_to)
                if migrate_to is None:  # a database held at an old version keeps that version's tables
                    self.sync_labels()
        except (sqlite3.Error, OSError) as e:
            raise StoreError(f"{self.path}: cannot open database: {e}") from None

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @property
    def schema_version(self) -> int:
        return schema.current_version(self.conn)

    def readable_elsewhere(self) -> bool:
        """Whether another connection opened on this database's file (a worker process's) reads
        what this store reads: not inside a write transaction (its writes are not visible yet), not
        held at an old schema version (others would migrate or misread it), and a file at all."""
        return not self._depth and self._migrate_to is None and self.path.is_file()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """One write transaction; nested calls join the outermost one.

        The lock makes a Store shared between threads serialise its transactions instead of
        interleaving statements on the one connection.
        """
        with self._lock:
            if self._depth:
                self._depth += 1
                try:
                    yield
                finally:
                    self._depth -= 1
                return
            self.conn.execute("BEGIN IMMEDIATE")
            self._depth = 1
            try:
                yield
            except BaseException:
                self._depth = 0
                self.conn.execute("ROLLBACK")
                raise
            self._depth = 0
            self.conn.execute("COMMIT")

    def _one(self, sql: str, params: Iterable[Any] = ()) -> sqlite3.Row | None:
        return one(self.conn, sql, params)

    def _all(self, sql: str, params: Iterable[Any] = ()) -> list[dict[str, Any]]:
        return rows(self.conn, sql, params)

    def _columns(self, table: str) -> set[str]:
        cache = self.__dict__.setdefault("_column_cache", {})
        if table not in cache:
            cache[table] = {r[1] for r in self.conn.execute(f"PRAGMA table_info({table})")}
        return cache[table]

    # -- runs ----------------------------------------------------------------------------------
    def start_run(self, kind: str, *, config: dict[str, Any] | None = None) -> int:
        """kind: crawl | ingest | check | alert | run.  Returns the run id."""
        with self.transaction():
            return runs.start(self.db, kind, config=config)

    def finish_run(self, run_id: int, status: str, stats: dict[str, Any] | None = None,
                   error: str | None = None) -> None:
        with self.transaction():
            runs.finish(self.db, run_id, status, stats, error)

    def last_runs(self, limit: int = 10, kind: str | None = None) -> list[dict[str, Any]]:
        return runs.last(self.db, limit, kind)

    def abandon_stale_runs(self, *, older_than: datetime, reason: str) -> int:
        """Runs still ``running`` that started before ``older_than`` (their process was killed and
        could not record its end): marked ``killed`` with the reason.  Returns how many."""
        with self.transaction():
            return runs.abandon_stale(self.db, older_than=older_than, reason=reason)

    # -- sites and agencies --------------------------------------------------------------------
    def upsert_site(self, name: str, *, region: str | None = None, start_url: str | None = None) -> int:
        with self.transaction():
            return identity.upsert_site(self.db, name, region=region, start_url=start_url)

    def site_region(self, name: str) -> str | None:
        """The configured region of a site (it qualifies the short agency names its pages print)."""
        return identity.site_region(self.db, name)

    def agency_id(self, name: str, *, site: str | None = None, kind: str | None = None) -> int:
        """Find or create the agency (``storage.agencies.choose_agency`` says which); names are kept as
        aliases.  ``kind`` (from the config roster) overrides the kind guessed from the name."""
        with self.transaction():
            return identity.agency_id(self.db, name, site=site, kind=kind)

    def find_agency_id(self, name: str, *, site: str | None = None) -> int | None:
        """The agency ``agency_id`` would pick for this name, without creating or changing anything
        (None when it would create one): for readers, such as the checks matching a roster."""
        return identity.find_agency_id(self.db, name, site=site)

    def agencies(self, site: str | None = None) -> list[dict[str, Any]]:
        return identity.agencies(self.db, site)

    # -- documents -----------------------------------------------------------------------------
    def fetch_cache(self, url: str) -> dict[str, Any] | None:
        """Latest fetch facts for a URL: etag, last_modified, sha256, first_seen, version_id."""
        return documents.fetch_cache(self.db, url)

    def save_document(self, doc: Document, *, run_id: int | None = None) -> SavedDocument:
        """Store bytes content-addressed; same bytes twice are stored once (``storage.documents.save``)."""
        with self.transaction():
            return documents.save(self.db, doc, run_id=run_id)

    def record_fetch(self, url: str, *, run_id: int | None, http_status: int | None,
                     fetch_status: str, error: str | None = None, site: str | None = None,
                     etag: str | None = None, last_modified: str | None = None) -> None:
        """A fetch that stored no new bytes: 304, WAF challenge, soft 404, timeout..."""
        with self.transaction():
            documents.record_fetch(self.db, url, run_id=run_id, http_status=http_status, fetch_status=fetch_status,
                                   error=error, site=site, etag=etag, last_modified=last_modified)

    def set_parse_status(self, version_id: int, status: ParseStatus | str, *, error: str | None = None,
                         format: str | None = None, parser_version: str | None = None) -> None:
        """Mark what the parser made of a stored version (a document is never dropped for failing)."""
        with self.transaction():
            documents.set_parse_status(self.db, version_id, status, error=error, format=format,
                                       parser_version=parser_version)

    def mark_parse_failed(self, version_id: int, *, failure: str, error: str, parser_version: str) -> None:
        """A parse job that died: ``parse_failed``, not retried until the parser version changes."""
        with self.transaction():
            documents.mark_parse_failed(self.db, version_id, failure=failure, error=error,
                                        parser_version=parser_version)

    def parse_jobs(self, parser_version: str, *, mode: str = "pending", site: str | None = None,
                   limit: int | None = None, after_id: int | None = None) -> list[dict[str, Any]]:
        """Document versions for the parse stage, oldest first (modes: ``storage.documents.parse_jobs_filter``);
        ``after_id``: only those with a greater version id."""
        return documents.parse_jobs(self.db, parser_version, mode=mode, site=site, limit=limit, after_id=after_id)

    def count_parse_jobs(self, parser_version: str, *, mode: str = "pending", site: str | None = None,
                         after_id: int | None = None) -> int:
        return documents.count_parse_jobs(self.db, parser_version, mode=mode, site=site, after_id=after_id)

    def parse_status_counts(self) -> dict[str, int]:
        return documents.parse_status_counts(self.db)

    def parse_failures(self) -> list[dict[str, Any]]:
        return documents.parse_failures(self.db)

    def blob(self, sha256: str) -> bytes | None:
        return documents.blob(self.db, sha256)

    def document_versions(self, url: str) -> list[dict[str, Any]]:
        return documents.versions(self.db, url)

    def events(self, kind: str | None = None, since: str | None = None) -> list[dict[str, Any]]:
        return documents.events(self.db, kind, since)

    # -- reports -------------------------------------------------------------------------------
    def save_report(self, report: Report | reports_.ReportRows, *, version_id: int, report_url: str,
                    site: str | None = None, first_seen: datetime | None = None,
                    parser_version: str | None = None, reparse: bool = False) -> int:
        """Store the parsed report of a document version (one report per report_url; the richer
        parse wins, a change of cells writes a ``report_revised`` or ``reparsed`` event).  ``report``
        may be given as its rows (``storage.reports.report_to_rows``), as the parse stage's workers send it."""
        with self.transaction():
            return reports_.save(self.db, report, version_id=version_id, report_url=report_url, site=site,
                                 first_seen=first_seen, parser_version=parser_version, reparse=reparse,
                                 columns=self._columns("reports") if self._migrate_to is not None else None,
                                 path=self.path)

    def load_report(self, report_id: int) -> Report:
        found = self.load_reports([report_id])
        if not found:
            raise KeyError(f"no report {report_id} in {self.path}")
        return found[0]

    def load_reports(self, report_ids: Iterable[int]) -> list[Report]:
        """The stored reports of ``report_ids`` (in that order; unknown ids are left out)."""
        return reports_.load(self.db, report_ids, lambda where, params: findings_.where(self.db, where, params))

    def reports(self, *, site: str | None = None, year: int | None = None,
                agency_id: int | None = None, ids: Iterable[int] | None = None) -> list[dict[str, Any]]:
        """Report rows (no cells, no text), with the page's dates and link title from `documents`
        (of the reports ``ids`` only, when given)."""
        return reports_.report_rows(self.db, site=site, year=year, agency_id=agency_id, ids=ids)

    def revised_events(self, site: str | None = None) -> list[dict[str, Any]]:
        """Each `revised` event (a stored URL seen with other bytes) with the report it belongs to.

        Keys: report_id, site, url, at, new_sha256, old_sha256, changed_cells {ref: [before, after]}
        (empty when the new version did not change the report's cells or was not parsed).
        """
        return reports_.revised_events(self.db, site)

    def reports_due_for_checks(self) -> list[int]:
        """Reports written by the parse stage and not checked since (a killed stage leaves some)."""
        return [r["id"] for r in self._all("SELECT id FROM reports WHERE checks_due = 1 ORDER BY id")]

    def mark_checked(self, report_ids: Iterable[int]) -> None:
        if self._migrate_to is not None and "checks_due" not in self._columns("reports"):
            return  # opened at a schema older than the parse stage's (upgrade tests)
        with self.transaction():
            reports_.mark_checked(self.db, report_ids)

    def report_row(self, report_id: int) -> dict[str, Any]:
        """The report's row (no cells, no text); {} when there is none."""
        row = self._one("SELECT * FROM reports WHERE id = ?", (report_id,))
        return dict(row) if row else {}

    def report_version(self, report_id: int) -> int | None:
        """The document version whose parse is the report's content."""
        row = self._one("SELECT version_id FROM reports WHERE id = ?", (report_id,))
        return row["version_id"] if row else None

    def report_id(self, report_url: str) -> int | None:
        row = self._one("SELECT id FROM reports WHERE report_url = ?", (report_url,))
        return row["id"] if row else None

    def search(self, q: str, *, limit: int = 50) -> list[dict[str, Any]]:
        """Full-text search over report text: FTS5 trigram for terms of 3+ characters, LIKE otherwise."""
        return reports_.search(self.db, q, limit=limit)

    # -- findings ------------------------------------------------------------------------------
    def sync_findings(self, findings: Iterable[Finding], *, rules: Iterable[str],
                      site: str | None = None, report_id: int | None = None,
                      run_id: int | None = None, seen_at: datetime | str | None = None) -> FindingDelta:
        """Record a check's findings for the scope (rules x site x report): new, reopened, still open;
        the scope's open ones not found again are resolved (``storage.findings``)."""
        with self.transaction():
            return findings_.sync(self.db, findings, rules=rules, site=site, report_id=report_id, seen_at=seen_at)

    def findings(self, *, open_only: bool = True, report_id: int | None = None, site: str | None = None,
                 rule: str | None = None, agency_id: int | None = None, year: int | None = None,
                 not_alerted: bool = False) -> list[Finding]:
        return findings_.select(self.db, open_only=open_only, report_id=report_id, site=site, rule=rule,
                                agency_id=agency_id, year=year, not_alerted=not_alerted)

    def findings_to_alert(self) -> list[Finding]:
        """The findings an alert pass composes (``storage.findings.to_alert``)."""
        return findings_.to_alert(self.db)

    def finding_rows(self, *, open_only: bool = True, report_id: int | None = None) -> list[dict[str, Any]]:
        """Findings as stored (with fingerprint, first/last seen, resolved_at, alerted)."""
        return findings_.stored_rows(self.db, open_only=open_only, report_id=report_id)

    def set_resolved_reason(self, fingerprints: Iterable[str], reason: str) -> None:
        """Say why resolved findings were closed (e.g. "parser corrected"); NULL means no longer found."""
        with self.transaction():
            findings_.set_resolved_reason(self.db, fingerprints, reason)

    def mark_findings_alerted(self, fingerprints: Iterable[str]) -> None:
        with self.transaction():
            findings_.mark_alerted(self.db, list(fingerprints))

    # -- triage and the officer's desk ---------------------------------------------------------
    def triage(self, finding: str | int, state: str, *, actor: str, note: str | None = None,
               at: datetime | str | None = None) -> dict[str, Any]:
        """Record an officer's decision on a finding (id or fingerprint prefix): confirmed,
        dismissed, fixed or reopened.  Raises KeyError when no such finding exists."""
        with self.transaction():
            row = desk.find_finding(self.conn, finding)
            if row is None:
                raise KeyError(f"no finding {finding!r}")
            return desk.record_triage(self.conn, row, state, actor=actor, note=note, at=ts(at) if at else None)

    def triage_history(self, fingerprint: str) -> list[dict[str, Any]]:
        return desk.triage_history(self.conn, fingerprint)

    def finding_row(self, finding: str | int) -> dict[str, Any] | None:
        """One stored finding (by id or fingerprint prefix) with its triage state."""
        row = desk.find_finding(self.conn, finding)
        if row is None:
            return None
        row = findings_.finding_row(row)
        history = desk.triage_history(self.conn, row["fingerprint"])
        last = history[-1]["state"] if history else "open"
        row["triage_state"] = "open" if last == "reopened" else last
        row["triage"] = history
        return row

    def matrix_inputs(self, year: int) -> dict[str, Any]:
        return desk.matrix_inputs(self.conn, year)

    def agency_history(self, agency_id: int) -> dict[str, Any] | None:
        return desk.agency_history(self.conn, agency_id)

    # -- alert outbox (states and transitions: ``storage.outbox``) ------------------------------
    UNSENT = outbox.UNSENT

    def enqueue_alert(self, *, key: str, recipients: list[str], subject: str, text: str,
                      html: str, fingerprints: list[str], site: str | None = None, channel: str = "email",
                      markdown: str | None = None, message_id: str | None = None) -> int | None:
        """Write an alert before it is sent; None if an alert with this key already exists."""
        with self.transaction():
            return outbox.enqueue(self.db, key=key, recipients=recipients, subject=subject, text=text, html=html,
                                  fingerprints=fingerprints, site=site, channel=channel, markdown=markdown,
                                  message_id=message_id)

    def due_alerts(self, now: datetime) -> list[dict[str, Any]]:
        return outbox.due(self.db, now)

    def alerts(self, status: str | None = None) -> list[dict[str, Any]]:
        return outbox.select(self.db, status)

    def alert(self, alert_id: int) -> dict[str, Any] | None:
        return outbox.get(self.db, alert_id)

    def set_alert_message_id(self, alert_id: int, message_id: str) -> None:
        with self.transaction():
            outbox.set_message_id(self.db, alert_id, message_id)

    def mark_alert_sent(self, alert_id: int, *, message_id: str | None = None,
                        delivered: Iterable[str] = ()) -> None:
        with self.transaction():
            outbox.mark_sent(self.db, alert_id, message_id=message_id, delivered=delivered)

    def mark_alert_failed(self, alert_id: int, *, error: str, next_attempt_at: datetime,
                          max_attempts: int | None = None, delivered: Iterable[str] = ()) -> str:
        """Count a failed send; after ``max_attempts`` the alert is 'dead'.  Returns the new status."""
        with self.transaction():
            return outbox.mark_failed(self.db, alert_id, error=error, next_attempt_at=next_attempt_at,
                                      max_attempts=max_attempts, delivered=delivered)

    def retry_dead_alerts(self, ids: Iterable[int] | None = None) -> list[int]:
        with self.transaction():
            return outbox.retry_dead(self.db, ids)

    def drop_alert(self, alert_id: int) -> dict[str, Any]:
        with self.transaction():
            return outbox.drop(self.db, alert_id)

    # -- labels --------------------------------------------------------------------------------
    def sync_labels(self) -> bool:
        """Make `labels` (template, table_name, row, column -> Chinese labels) what the vocabulary says.

        Run on every writable open, after the migrations: a label corrected in the vocabulary reaches
        every database, and a key the vocabulary dropped leaves.  Returns whether anything changed.
        """
        labels = _vocabulary_labels()
        want = {(r["template"], r["table_name"], r["row"], r["column"]): (r["row_label"], r["column_label"])
                for r in labels}
        have = {(r[0], r[1], r[2], r[3]): (r[4], r[5]) for r in self.conn.execute(
            'SELECT template, table_name, row, "column", row_label, column_label FROM labels')}
        if have == want:
            return False
        with self.transaction():
            table = self.db["labels"]
            for key in have.keys() - want.keys():
                table.delete(key)
            table.upsert_all([r for r in labels if have.get((r["template"], r["table_name"], r["row"], r["column"]))
                              != (r["row_label"], r["column_label"])],
                             pk=("template", "table_name", "row", "column"))
        return True

    def has_labels(self) -> bool:
        return self._one("SELECT 1 FROM labels LIMIT 1") is not None

    # -- integrity -----------------------------------------------------------------------------
    def integrity_check(self) -> str:
        return self._one("PRAGMA integrity_check")[0]

    def content_hash(self) -> str:
        """sha256 of every stored value, table by table, except VOLATILE_TABLES/COLUMNS.

        FTS index tables are derived from report_text and left out.  Two databases holding the same
        content (whatever the order of runs that wrote them) have the same hash.
        """
        h = hashlib.sha256()
        for table in self._tables():
            if table in VOLATILE_TABLES:
                continue
            skip = set(VOLATILE_COLUMNS.get(table, ()))
            cols = [r["name"] for r in self._all(f"PRAGMA table_info('{table}')") if r["name"] not in skip]
            h.update(f"\x00{table}:{','.join(cols)}\x00".encode())
            quoted = ", ".join(f'"{c}"' for c in cols)
            for row in self.conn.execute(f'SELECT {quoted} FROM "{table}" ORDER BY {quoted}'):
                h.update(repr(tuple(row)).encode())
        return h.hexdigest()

    def counts(self) -> dict[str, int]:
        return {t: self._one(f'SELECT COUNT(*) FROM "{t}"')[0] for t in self._tables()}

    def _tables(self) -> list[str]:
        """Our tables, by name: SQLite's own and the FTS index (derived from report_text) left out."""
        return [r["name"] for r in self._all(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' "
            "AND name NOT LIKE 'report_text_fts%' ORDER BY name")]


__all__ = ["Store", "StoreError", "SavedDocument", "FindingDelta", "VOLATILE_TABLES", "VOLATILE_COLUMNS", "ts",
           "utcnow"]
