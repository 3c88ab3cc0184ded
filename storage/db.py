"""The one place with SQL.

Every other package talks to the database through ``Store``; nothing else writes SQL.

Writes: every public write method runs in one transaction; callers that must write several things
atomically (a document, its report, the report's findings) wrap them in ``with store.transaction():``
and the inner calls join it.  The connection is in autocommit mode so that BEGIN/COMMIT are ours
(Python's implicit transactions, and sqlite-utils' ``with conn:`` blocks, would commit half-way).

Times are stored as ISO 8601 strings in UTC (``2025-01-16T03:00:00+00:00``), so they sort as text.
"""
from __future__ import annotations

import hashlib
import json
import logging
import sqlite3
import threading
from collections import defaultdict
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterable, Iterator
from urllib.parse import unquote

from storage import desk, schema
from storage.agencies import normalise
from storage.models import (
    Cell, CellKind, Document, Finding, ParseStatus, ParseWarning, Report, Source,
)
from vocabulary.template import all_labels

log = logging.getLogger(__name__)

#: Reports read per round of queries by ``load_reports`` (SQLite allows 32,766 parameters).
_LOAD_BATCH = 500
_CELL_KINDS = {k.value: k for k in CellKind}

#: Left out of ``content_hash``: journals of *when* things happened, not *what* is stored.
#: ``runs`` (one row per invocation), ``fetches`` (one row per HTTP fetch attempt), the time a
#: migration ran, and which run first stored a version.  Everything else must be identical after
#: ingesting the same documents again.
VOLATILE_TABLES = ("runs", "fetches")
VOLATILE_COLUMNS = {"schema_migrations": ("applied_at",), "document_versions": ("first_run_id",),
                    "events": ("run_id",)}


class StoreError(Exception):
    """The database cannot be opened or written (names the path)."""


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
    new: list[Finding] = field(default_factory=list)  # first seen now (or reopened)
    still_open: list[Finding] = field(default_factory=list)  # known before, seen again
    resolved: list[dict[str, Any]] = field(default_factory=list)  # open before, cause gone


@lru_cache(maxsize=1)
def _vocabulary_labels() -> tuple[dict[str, str], ...]:
    return tuple(all_labels())


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def ts(value: datetime | date | str | None) -> str | None:
    """A time as stored: ISO 8601 in UTC; naive datetimes are taken as UTC."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc).isoformat(timespec="seconds")
    return value.isoformat()


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)


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
        return self.conn.execute(sql, tuple(params)).fetchone()

    def _all(self, sql: str, params: Iterable[Any] = ()) -> list[dict[str, Any]]:
        return [dict(r) for r in self.conn.execute(sql, tuple(params)).fetchall()]

    # -- runs ----------------------------------------------------------------------------------
    def start_run(self, kind: str, *, config: dict[str, Any] | None = None) -> int:
        """kind: crawl | ingest | check | alert | run.  Returns the run id."""
        with self.transaction():
            cur = self.conn.execute(
                "INSERT INTO runs(kind, started, status, config) VALUES (?, ?, 'running', ?)",
                (kind, ts(utcnow()), _json(config) if config is not None else None))
            return cur.lastrowid

    def finish_run(self, run_id: int, status: str, stats: dict[str, Any] | None = None,
                   error: str | None = None) -> None:
        with self.transaction():
            self.conn.execute("UPDATE runs SET finished = ?, status = ?, stats = ?, error = ? WHERE id = ?",
                              (ts(utcnow()), status, _json(stats) if stats is not None else None, error, run_id))

    def last_runs(self, limit: int = 10, kind: str | None = None) -> list[dict[str, Any]]:
        sql, params = "SELECT * FROM runs", []
        if kind:
            sql += " WHERE kind = ?"
            params.append(kind)
        rows = self._all(sql + " ORDER BY id DESC LIMIT ?", [*params, limit])
        for r in rows:
            for key in ("stats", "config"):
                r[key] = json.loads(r[key]) if r[key] else None
        return rows

    # -- sites and agencies --------------------------------------------------------------------
    def upsert_site(self, name: str, *, region: str | None = None,
                    start_url: str | None = None) -> int:
        with self.transaction():
            self.conn.execute(
                "INSERT INTO sites(name, region, start_url) VALUES (?, ?, ?) ON CONFLICT(name) DO UPDATE SET "
                "region = COALESCE(excluded.region, region), start_url = COALESCE(excluded.start_url, start_url)",
                (name, region, start_url))
            return self._one("SELECT id FROM sites WHERE name = ?", (name,))["id"]

    def _columns(self, table: str) -> set[str]:
        cache = self.__dict__.setdefault("_column_cache", {})
        if table not in cache:
            cache[table] = {r[1] for r in self.conn.execute(f"PRAGMA table_info({table})")}
        return cache[table]

    def site_region(self, name: str) -> str | None:
        """The configured region of a site (it qualifies the short agency names its pages print)."""
        row = self._one("SELECT region FROM sites WHERE name = ?", (name,))
        return (row["region"] or None) if row else None

    def agency_id(self, name: str, *, site: str | None = None, kind: str | None = None) -> int:
        """Find or create the agency; names are normalised and aliases kept.  ``kind`` (from the
        config roster) overrides the kind guessed from the name.

        Within a site, names with the same normalised body tie when their regions agree or one of
        them states none (区卫生健康委 on the 大兴区 portal is 北京市大兴区卫生健康委员会).
        """
        n = normalise(name)
        site_key = site or ""
        with self.transaction():
            row = self._one("SELECT agency_id FROM agency_aliases WHERE site = ? AND alias = ?", (site_key, n.name))
            if row:
                if kind:  # a kind stated (config roster) overrides the guess from the name
                    self.conn.execute("UPDATE agencies SET kind = ? WHERE id = ? AND kind != ?",
                                      (kind, row["agency_id"], kind))
                return row["agency_id"]
            candidates = self._all("SELECT id, region FROM agencies WHERE site = ? AND norm = ? ORDER BY id",
                                   (site_key, n.norm))
            chosen = next((c["id"] for c in candidates if c["region"] == n.region), None)
            if chosen is None and n.region:
                chosen = next((c["id"] for c in candidates if c["region"] == ""), None)
                if chosen is not None:  # the short name came first; now we know its region
                    self.conn.execute("UPDATE agencies SET region = ? WHERE id = ?", (n.region, chosen))
            if chosen is None and not n.region and len(candidates) == 1:
                chosen = candidates[0]["id"]
            if chosen is None:
                chosen = self.conn.execute(
                    "INSERT INTO agencies(site, name, norm, region, kind) VALUES (?, ?, ?, ?, ?)",
                    (site_key, n.name, n.norm, n.region, kind or n.kind)).lastrowid
            elif kind:
                self.conn.execute("UPDATE agencies SET kind = ? WHERE id = ? AND kind != ?", (kind, chosen, kind))
            self.conn.execute("INSERT OR IGNORE INTO agency_aliases(agency_id, site, alias) VALUES (?, ?, ?)",
                              (chosen, site_key, n.name))
            return chosen

    def find_agency_id(self, name: str, *, site: str | None = None) -> int | None:
        """The agency ``agency_id`` would pick for this name, without creating or changing anything
        (None when it would create one): for readers, such as the checks matching a roster."""
        n = normalise(name)
        site_key = site or ""
        row = self._one("SELECT agency_id FROM agency_aliases WHERE site = ? AND alias = ?", (site_key, n.name))
        if row:
            return row["agency_id"]
        candidates = self._all("SELECT id, region FROM agencies WHERE site = ? AND norm = ? ORDER BY id",
                               (site_key, n.norm))
        chosen = next((c["id"] for c in candidates if c["region"] == n.region), None)
        if chosen is None and n.region:
            chosen = next((c["id"] for c in candidates if c["region"] == ""), None)
        if chosen is None and not n.region and len(candidates) == 1:
            chosen = candidates[0]["id"]
        return chosen

    def agencies(self, site: str | None = None) -> list[dict[str, Any]]:
        sql = ("SELECT a.*, (SELECT json_group_array(alias) FROM agency_aliases WHERE agency_id = a.id) AS aliases "
               "FROM agencies a")
        rows = self._all(sql + (" WHERE a.site = ? ORDER BY a.id" if site is not None else " ORDER BY a.id"),
                         (site,) if site is not None else ())
        for r in rows:
            r["aliases"] = json.loads(r["aliases"])
        return rows

    # -- documents -----------------------------------------------------------------------------
    def fetch_cache(self, url: str) -> dict[str, Any] | None:
        """Latest fetch facts for a URL: etag, last_modified, sha256, first_seen, version_id."""
        row = self._one(
            "SELECT d.id AS document_id, d.first_seen, d.last_seen, v.id AS version_id, v.sha256, v.etag, "
            "v.last_modified, v.parse_status, v.content_type FROM documents d "
            "LEFT JOIN document_versions v ON v.id = d.latest_version_id WHERE d.url = ?", (url,))
        return dict(row) if row else None

    def save_document(self, doc: Document, *, run_id: int | None = None) -> SavedDocument:
        """Store bytes content-addressed; same bytes twice are stored once.

        A fetch row is written for http(s) URLs (the crawl journal); local files are not fetched.
        """
        seen = ts(doc.fetched_at or utcnow())
        sha = doc.sha256
        with self.transaction():
            self.conn.execute("INSERT OR IGNORE INTO blobs(sha256, size, content) VALUES (?, ?, ?)",
                              (sha, doc.size, doc.content))
            row = self._one("SELECT d.id, v.sha256 AS latest_sha FROM documents d "
                            "LEFT JOIN document_versions v ON v.id = d.latest_version_id WHERE d.url = ?",
                            (doc.url,))
            is_new = row is None
            if is_new:
                document_id = self.conn.execute(
                    "INSERT INTO documents(url, site, report_url, link_title, listing_date, page_date, first_seen, "
                    "last_seen) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (doc.url, doc.site, doc.report_url, doc.link_title, doc.listing_date, doc.page_date, seen,
                     seen)).lastrowid
                latest_sha = None
            else:
                document_id, latest_sha = row["id"], row["latest_sha"]
                self.conn.execute(
                    "UPDATE documents SET last_seen = MAX(last_seen, ?), site = COALESCE(?, site), "
                    "report_url = COALESCE(?, report_url), link_title = COALESCE(?, link_title), "
                    "listing_date = COALESCE(?, listing_date), page_date = COALESCE(?, page_date) WHERE id = ?",
                    (seen, doc.site, doc.report_url, doc.link_title, doc.listing_date, doc.page_date, document_id))
            ver = self._one("SELECT id FROM document_versions WHERE document_id = ? AND sha256 = ?",
                            (document_id, sha))
            if ver:
                version_id = ver["id"]
                self.conn.execute(
                    "UPDATE document_versions SET last_seen = MAX(last_seen, ?), etag = COALESCE(?, etag), "
                    "last_modified = COALESCE(?, last_modified) WHERE id = ?",
                    (seen, doc.etag, doc.last_modified, version_id))
            else:
                version_id = self.conn.execute(
                    "INSERT INTO document_versions(document_id, sha256, size, content_type, http_status, etag, "
                    "last_modified, first_seen, last_seen, first_run_id, parse_status) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'pending')",
                    (document_id, sha, doc.size, doc.content_type, doc.status, doc.etag, doc.last_modified, seen,
                     seen, run_id)).lastrowid
            unchanged = latest_sha == sha
            revised = not is_new and not unchanged
            if not unchanged:
                self.conn.execute("UPDATE documents SET latest_version_id = ? WHERE id = ?", (version_id, document_id))
            if is_new or revised:
                self.conn.execute(
                    "INSERT INTO events(kind, at, url, document_id, version_id, run_id, detail) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?)",
                    ("new_document" if is_new else "revised", seen, doc.url, document_id, version_id, run_id,
                     _json({"sha256": sha, "previous_sha256": latest_sha, "size": doc.size})))
            if doc.url.startswith(("http://", "https://")):
                self.conn.execute(
                    "INSERT INTO fetches(run_id, url, site, fetched_at, http_status, fetch_status, etag, "
                    "last_modified, sha256, version_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (run_id, doc.url, doc.site, seen, doc.status, doc.fetch_status, doc.etag, doc.last_modified,
                     sha, version_id))
        return SavedDocument(document_id, version_id, sha, is_new, revised, unchanged)

    def record_fetch(self, url: str, *, run_id: int | None, http_status: int | None,
                     fetch_status: str, error: str | None = None, site: str | None = None,
                     etag: str | None = None, last_modified: str | None = None) -> None:
        """A fetch that stored no new bytes: 304, WAF challenge, soft 404, timeout...

        A 304 (not_modified) also counts as seeing the stored document again.
        """
        now = ts(utcnow())
        with self.transaction():
            cache = self.fetch_cache(url)
            self.conn.execute(
                "INSERT INTO fetches(run_id, url, site, fetched_at, http_status, fetch_status, etag, last_modified, "
                "sha256, version_id, error) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (run_id, url, site, now, http_status, fetch_status, etag, last_modified,
                 cache["sha256"] if cache else None, cache["version_id"] if cache else None, error))
            if fetch_status == "not_modified" and cache and cache["version_id"]:
                self.conn.execute("UPDATE documents SET last_seen = MAX(last_seen, ?) WHERE id = ?",
                                  (now, cache["document_id"]))
                self.conn.execute("UPDATE document_versions SET last_seen = MAX(last_seen, ?) WHERE id = ?",
                                  (now, cache["version_id"]))

    def set_parse_status(self, version_id: int, status: ParseStatus | str, *, error: str | None = None,
                         format: str | None = None, parser_version: str | None = None) -> None:
        """Mark what the parser made of a stored version (a document is never dropped for failing)."""
        value = status.value if isinstance(status, ParseStatus) else status
        with self.transaction():
            self.conn.execute("UPDATE document_versions SET parse_status = ?, parse_error = ?, format = ?, "
                              "parser_version = COALESCE(?, parser_version), parse_failure = NULL WHERE id = ?",
                              (value, error, format, parser_version, version_id))

    def mark_parse_failed(self, version_id: int, *, failure: str, error: str, parser_version: str) -> None:
        """A parse job that died (failure: timeout | memory | cpu | crash | error): status
        ``parse_failed``, not retried until the parser version differs from ``parser_version``."""
        with self.transaction():
            self.conn.execute("UPDATE document_versions SET parse_status = 'parse_failed', parse_failure = ?, "
                              "parse_error = ?, parser_version = ? WHERE id = ?",
                              (failure, error, parser_version, version_id))

    def parse_jobs(self, parser_version: str, *, mode: str = "pending", site: str | None = None,
                   limit: int | None = None) -> list[dict[str, Any]]:
        """Document versions for the parse stage, oldest first, with what the parser needs to read them.

        mode ``pending``: versions never parsed, and versions whose parse job died under another
        parser version; ``outdated``: each document's latest version last read by another parser
        version (pending ones excluded: they are not parsed yet); ``all``: each document's latest version.
        """
        sql = ("SELECT v.id AS version_id, v.document_id, v.sha256, v.size, v.content_type, v.first_seen, "
               "v.parse_status, v.parser_version, d.url, d.site, COALESCE(d.report_url, d.url) AS report_url, "
               "d.link_title, d.page_date, d.listing_date FROM document_versions v "
               "JOIN documents d ON d.id = v.document_id WHERE ")
        params: list[Any] = []
        if mode == "pending":
            sql += ("(v.parse_status = 'pending' OR (v.parse_status = 'parse_failed' "
                    "AND COALESCE(v.parser_version, '') != ?))")
            params.append(parser_version)
        elif mode == "outdated":
            sql += ("v.id = d.latest_version_id AND v.parse_status != 'pending' "
                    "AND COALESCE(v.parser_version, '') != ?")
            params.append(parser_version)
        elif mode == "all":
            sql += "v.id = d.latest_version_id AND v.parse_status != 'pending'"
        else:
            raise ValueError(f"parse_jobs: unknown mode {mode!r}")
        if site is not None:
            sql += " AND d.site = ?"
            params.append(site)
        sql += " ORDER BY v.id"
        if limit is not None:
            sql += " LIMIT ?"
            params.append(limit)
        return self._all(sql, params)

    def parse_status_counts(self) -> dict[str, int]:
        """Document versions by parse status (pending, parsed, parse_failed, ...)."""
        return {r["parse_status"] or "pending": r["n"] for r in self._all(
            "SELECT parse_status, COUNT(*) AS n FROM document_versions GROUP BY parse_status ORDER BY parse_status")}

    def parse_failures(self) -> list[dict[str, Any]]:
        """Versions whose parse job died, with the reason and the parser version that tried."""
        return self._all("SELECT v.id AS version_id, d.url, d.site, v.parse_failure, v.parse_error, v.parser_version "
                         "FROM document_versions v JOIN documents d ON d.id = v.document_id "
                         "WHERE v.parse_status = 'parse_failed' ORDER BY v.id")

    def abandon_stale_runs(self, *, older_than: datetime, reason: str) -> int:
        """Runs still ``running`` that started before ``older_than`` (their process was killed and
        could not record its end): marked ``killed`` with the reason.  Returns how many."""
        with self.transaction():
            cur = self.conn.execute("UPDATE runs SET status = 'killed', finished = ?, error = ? "
                                    "WHERE status = 'running' AND started < ?", (ts(utcnow()), reason, ts(older_than)))
            return cur.rowcount

    def blob(self, sha256: str) -> bytes | None:
        row = self._one("SELECT content FROM blobs WHERE sha256 = ?", (sha256,))
        return bytes(row["content"]) if row else None

    def document_versions(self, url: str) -> list[dict[str, Any]]:
        return self._all("SELECT v.* FROM document_versions v JOIN documents d ON d.id = v.document_id "
                         "WHERE d.url = ? ORDER BY v.id", (url,))

    def events(self, kind: str | None = None, since: str | None = None) -> list[dict[str, Any]]:
        sql, params = "SELECT * FROM events WHERE 1", []
        if kind:
            sql += " AND kind = ?"
            params.append(kind)
        if since:
            sql += " AND at >= ?"
            params.append(since)
        rows = self._all(sql + " ORDER BY id", params)
        for r in rows:
            r["detail"] = json.loads(r["detail"]) if r["detail"] else None
        return rows

    # -- reports -------------------------------------------------------------------------------
    def save_report(self, report: Report, *, version_id: int, report_url: str,
                    site: str | None = None, first_seen: datetime | None = None,
                    parser_version: str | None = None, reparse: bool = False) -> int:
        """Store the parsed report of a document version (one report per report_url).

        A report page and its attachment share a report_url: the parse with more assessable cells
        is kept as the report's content (the other document stays stored).  A new version of the
        same document always replaces the content; a change of cells writes a ``report_revised`` event
        (``reparsed`` when ``reparse``: the same bytes read by another parser version, which is not
        the agency revising its report).
        """
        # one row per cell key: a parser that emits a key twice keeps its last reading
        cells = list({(c.table, c.row, c.column): c for c in report.cells}.values())
        assessable = sum(1 for c in cells if c.kind.assessable)
        with self.transaction():
            ver = self._one("SELECT v.id, v.document_id, v.sha256, v.first_seen, d.url FROM document_versions v "
                            "JOIN documents d ON d.id = v.document_id WHERE v.id = ?", (version_id,))
            if ver is None:
                raise StoreError(f"{self.path}: no document version {version_id} for report {report_url}")
            existing = self._one("SELECT * FROM reports WHERE report_url = ?", (report_url,))
            old_parser = existing["parser_version"] if existing and "parser_version" in existing.keys() else None
            if existing and existing["document_id"] != ver["document_id"] \
                    and assessable <= existing["assessable_cells"]:
                return existing["id"]
            agency_id = self.agency_id(report.agency, site=site) if report.agency else None
            if agency_id is not None and report.agency_printed and report.agency_printed != report.agency:
                # the printed short name is an alias of the agency it was qualified to, on this site
                self.conn.execute("INSERT OR IGNORE INTO agency_aliases(agency_id, site, alias) VALUES (?, ?, ?)",
                                  (agency_id, site or "", normalise(report.agency_printed).name))
            region = None
            if agency_id is not None:
                region = self._one("SELECT region FROM agencies WHERE id = ?", (agency_id,))["region"] or None
            if site:
                site_row = self._one("SELECT region FROM sites WHERE name = ?", (site,))
                if site_row and site_row["region"]:
                    region = site_row["region"]
            seen = ts(first_seen) or ver["first_seen"]
            if existing and existing["first_seen"] < seen:
                seen = existing["first_seen"]
            values = {
                "report_url": report_url, "agency_id": agency_id, "agency": report.agency,
                "agency_printed": report.agency_printed, "site": site,
                "region": region, "year": report.year, "template": report.template, "title": report.title,
                "published": ts(report.published), "first_seen": seen, "status": report.status.value,
                "error": report.error, "warnings_count": len(report.warnings), "cells_count": len(cells),
                "assessable_cells": assessable, "version_id": version_id, "document_id": ver["document_id"],
                "source_url": ver["url"], "source_sha256": ver["sha256"], "format": report.source.format,
                "period_start": ts(report.period[0]) if report.period else None,
                "period_end": ts(report.period[1]) if report.period else None,
                "parser_version": parser_version, "checks_due": 1,  # cleared by the check stage
            }
            if self._migrate_to is not None:  # opened at an older schema (upgrade tests): its columns only
                have = self._columns("reports")
                values = {k: v for k, v in values.items() if k in have}
            if existing:
                report_id = existing["id"]
                old = {(r["table_name"], r["row"], r["column"]): (r["value"], r["kind"]) for r in self._all(
                    'SELECT table_name, row, "column", value, kind FROM cells WHERE report_id = ?', (report_id,))}
                self.conn.execute(f"UPDATE reports SET {', '.join(f'{k} = ?' for k in values)} WHERE id = ?",
                                  (*values.values(), report_id))
                self.conn.execute("DELETE FROM cells WHERE report_id = ?", (report_id,))
                self.conn.execute("DELETE FROM warnings WHERE report_id = ?", (report_id,))
            else:
                old = None
                report_id = self.conn.execute(
                    f"INSERT INTO reports({', '.join(values)}) VALUES ({', '.join('?' * len(values))})",
                    tuple(values.values())).lastrowid
            self.conn.executemany(
                'INSERT INTO cells(report_id, table_name, row, "column", value, raw, kind, label, confidence) '
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [(report_id, c.table, c.row, c.column, c.value, c.raw, c.kind.value, c.label, c.confidence)
                 for c in cells])
            self.conn.executemany(
                "INSERT INTO warnings(report_id, seq, code, message, cell) VALUES (?, ?, ?, ?, ?)",
                [(report_id, i, w.code, w.message, w.cell) for i, w in enumerate(report.warnings)])
            text = (report_id, report.agency, report.year, report.title, report.text,
                    _json(report.sections) if report.sections else None)
            if existing and self._one("SELECT 1 FROM report_text WHERE report_id = ?", (report_id,)):
                # UPDATE, not INSERT OR REPLACE: REPLACE would skip the FTS delete trigger
                self.conn.execute("UPDATE report_text SET agency = ?, year = ?, title = ?, text = ?, sections = ? "
                                  "WHERE report_id = ?", (*text[1:], report_id))
            else:
                self.conn.execute("INSERT INTO report_text(report_id, agency, year, title, text, sections) "
                                  "VALUES (?, ?, ?, ?, ?, ?)", text)
            if old is not None:
                new = {(c.table, c.row, c.column): (c.value, c.kind.value) for c in cells}
                keys = sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k))
                changed = {".".join(k): [old.get(k, (None,))[0], new.get(k, (None,))[0]] for k in keys[:200]}
                if keys and reparse:
                    self.conn.execute(
                        "INSERT INTO events(kind, at, url, document_id, version_id, report_id, detail) "
                        "VALUES ('reparsed', ?, ?, ?, ?, ?, ?)",
                        (ts(utcnow()), report_url, ver["document_id"], version_id, report_id,
                         _json({"changed_cells": changed, "count": len(keys), "parser_version": parser_version,
                                "previous_parser_version": old_parser})))
                elif keys:
                    self.conn.execute(
                        "INSERT INTO events(kind, at, url, document_id, version_id, report_id, detail) "
                        "VALUES ('report_revised', ?, ?, ?, ?, ?, ?)",
                        (ts(utcnow()) if first_seen is None else ts(first_seen), report_url, ver["document_id"],
                         version_id, report_id, _json({"changed_cells": changed, "count": len(keys)})))
            return report_id

    def load_report(self, report_id: int) -> Report:
        found = self.load_reports([report_id])
        if not found:
            raise KeyError(f"no report {report_id} in {self.path}")
        return found[0]

    def load_reports(self, report_ids: Iterable[int]) -> list[Report]:
        """The stored reports of ``report_ids`` (in that order; unknown ids are left out), read a
        few hundred at a time: one query per table per batch instead of four per report, which
        is what a check pass over a national database spends most of its time on."""
        ids = list(report_ids)
        out: dict[int, Report] = {}
        for start in range(0, len(ids), _LOAD_BATCH):
            chunk = ids[start:start + _LOAD_BATCH]
            marks = ", ".join("?" * len(chunk))
            cells: dict[int, list[Cell]] = defaultdict(list)
            for rid, table, row, col, value, raw, kind, label, confidence in self.conn.execute(
                    'SELECT report_id, table_name, row, "column", value, raw, kind, label, confidence '
                    f"FROM cells WHERE report_id IN ({marks})", chunk):
                cells[rid].append(Cell(table, row, col, value, raw or "", _CELL_KINDS[kind], label or "", confidence))
            warnings: dict[int, list[ParseWarning]] = defaultdict(list)
            for rid, code, message, cell in self.conn.execute(
                    f"SELECT report_id, code, message, cell FROM warnings WHERE report_id IN ({marks}) "
                    "ORDER BY report_id, seq", chunk):
                warnings[rid].append(ParseWarning(code=code, message=message, cell=cell))
            findings: dict[int, list[Finding]] = defaultdict(list)
            for f in self._findings(f"report_id IN ({marks}) AND resolved_at IS NULL", chunk):
                findings[f.report_id].append(f)
            for r in self.conn.execute(
                    "SELECT r.*, t.text, t.sections FROM reports r LEFT JOIN report_text t ON t.report_id = r.id "
                    f"WHERE r.id IN ({marks})", chunk).fetchall():
                rid = r["id"]
                period = None
                if r["period_start"] and r["period_end"]:
                    period = (date.fromisoformat(r["period_start"]), date.fromisoformat(r["period_end"]))
                url = r["source_url"] or ""
                out[rid] = Report(
                    source=Source(path=unquote(url[7:]) if url.startswith("file://") else None,
                                  url=None if url.startswith("file://") else url, sha256=r["source_sha256"],
                                  format=r["format"]),
                    status=ParseStatus(r["status"]), error=r["error"], agency=r["agency"],
                    agency_printed=r["agency_printed"] if "agency_printed" in r.keys() else None, year=r["year"],
                    title=r["title"], published=date.fromisoformat(r["published"]) if r["published"] else None,
                    template=r["template"] or "unknown", cells=cells.get(rid, []),
                    sections=json.loads(r["sections"]) if r["sections"] else {}, text=r["text"] or "",
                    period=period, warnings=warnings.get(rid, []), findings=findings.get(rid, []))
        return [out[i] for i in ids if i in out]

    def reports(self, *, site: str | None = None, year: int | None = None,
                agency_id: int | None = None) -> list[dict[str, Any]]:
        """Report rows (no cells, no text), with the page's dates and link title from `documents`."""
        sql = ("SELECT r.*, COALESCE(p.page_date, d.page_date) AS page_date, "
               "COALESCE(p.listing_date, d.listing_date) AS listing_date, "
               "COALESCE(p.link_title, d.link_title) AS link_title, a.kind AS agency_kind "
               "FROM reports r LEFT JOIN documents d ON d.id = r.document_id "
               "LEFT JOIN documents p ON p.url = r.report_url LEFT JOIN agencies a ON a.id = r.agency_id WHERE 1")
        params: list[Any] = []
        for col, val in (("site", site), ("year", year), ("agency_id", agency_id)):
            if val is not None:
                sql += f" AND r.{col} = ?"
                params.append(val)
        return self._all(sql + " ORDER BY r.agency_id, r.year, r.id", params)

    def revised_events(self, site: str | None = None) -> list[dict[str, Any]]:
        """Each `revised` event (a stored URL seen with other bytes) with the report it belongs to.

        Keys: report_id, site, url, at, new_sha256, old_sha256, changed_cells {ref: [before, after]}
        (empty when the new version did not change the report's cells or was not parsed).
        """
        sql = ("SELECT e.id, e.at, e.url, e.version_id, e.detail, r.id AS report_id, r.site FROM events e "
               "JOIN documents d ON d.id = e.document_id "
               "JOIN reports r ON r.report_url = COALESCE(d.report_url, d.url) WHERE e.kind = 'revised'")
        params: list[Any] = []
        if site is not None:
            sql += " AND r.site = ?"
            params.append(site)
        out = []
        for e in self._all(sql + " ORDER BY e.id", params):
            detail = json.loads(e["detail"] or "{}")
            rr = self._one("SELECT detail FROM events WHERE kind = 'report_revised' AND version_id = ? "
                           "AND report_id = ? ORDER BY id DESC LIMIT 1", (e["version_id"], e["report_id"]))
            changed = json.loads(rr["detail"]).get("changed_cells", {}) if rr else {}
            out.append({"report_id": e["report_id"], "site": e["site"], "url": e["url"], "at": e["at"],
                        "version_id": e["version_id"], "new_sha256": detail.get("sha256"),
                        "old_sha256": detail.get("previous_sha256"), "changed_cells": changed})
        return out

    def reports_due_for_checks(self) -> list[int]:
        """Reports written by the parse stage and not checked since (a killed stage leaves some)."""
        return [r["id"] for r in self._all("SELECT id FROM reports WHERE checks_due = 1 ORDER BY id")]

    def mark_checked(self, report_ids: Iterable[int]) -> None:
        if self._migrate_to is not None and "checks_due" not in {
                r["name"] for r in self._all("PRAGMA table_info(reports)")}:
            return  # opened at a schema older than the parse stage's (upgrade tests)
        with self.transaction():
            self.conn.executemany("UPDATE reports SET checks_due = 0 WHERE id = ? AND checks_due != 0",
                                  [(i,) for i in report_ids])

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
        """Full-text search over report text: FTS5 trigram for terms of 3+ characters, LIKE otherwise.

        Terms separated by spaces must all occur.  Returns report_id, agency, year, title, snippet.
        """
        terms = [t for t in q.split() if t]
        if not terms:
            return []
        if all(len(t) >= 3 for t in terms):
            match = " AND ".join('"' + t.replace('"', '""') + '"' for t in terms)
            return self._all(
                "SELECT t.report_id, t.agency, t.year, t.title, "
                "snippet(report_text_fts, -1, '[', ']', '…', 12) AS snippet FROM report_text_fts "
                "JOIN report_text t ON t.report_id = report_text_fts.rowid "
                "WHERE report_text_fts MATCH ? ORDER BY rank LIMIT ?", (match, limit))
        # trigram cannot match 1-2 characters: scan with LIKE (instr is exact, no wildcard escaping)
        where = " AND ".join("(instr(COALESCE(text, ''), ?) > 0 OR instr(COALESCE(title, ''), ?) > 0 "
                             "OR instr(COALESCE(agency, ''), ?) > 0)" for _ in terms)
        params = [p for t in terms for p in (t, t, t)]
        rows = self._all(f"SELECT report_id, agency, year, title, text FROM report_text WHERE {where} "
                         "ORDER BY report_id LIMIT ?", [*params, limit])
        for r in rows:
            text = r.pop("text") or ""
            i = text.find(terms[0])
            r["snippet"] = (text[max(0, i - 12):i] + "[" + terms[0] + "]" + text[i + len(terms[0]):i + len(terms[0]) + 12]
                            if i >= 0 else "")
        return rows

    # -- findings ------------------------------------------------------------------------------
    def sync_findings(self, findings: Iterable[Finding], *, rules: Iterable[str],
                      site: str | None = None, report_id: int | None = None,
                      run_id: int | None = None, seen_at: datetime | str | None = None) -> FindingDelta:
        """Record a check's findings for the scope (rules x site x report).

        Open findings in that scope whose fingerprint is not among ``findings`` are resolved.  A
        resolved finding found again is reopened and counts as new.  ``seen_at`` (default now) is
        the time written to first_seen/last_seen/resolved_at.
        """
        now = ts(seen_at) if seen_at is not None else ts(utcnow())
        findings = list(findings)
        rules = sorted(set(rules) | {f.rule for f in findings})
        delta = FindingDelta()
        with self.transaction():
            seen_fps: set[str] = set()
            report_agency: dict[int, int | None] = {}  # report id -> its agency, looked up once
            for f in findings:
                if f.report_id is None:
                    f.report_id = report_id
                if f.site is None:
                    f.site = site
                agency_id = None
                if f.report_id is not None:
                    if f.report_id not in report_agency:
                        row = self._one("SELECT agency_id FROM reports WHERE id = ?", (f.report_id,))
                        report_agency[f.report_id] = row["agency_id"] if row else None
                    agency_id = report_agency[f.report_id]
                if agency_id is None and f.agency:  # matched, never created: agencies come with reports
                    agency_id = self.find_agency_id(f.agency, site=f.site)
                fp = f.fingerprint
                if fp in seen_fps:
                    continue
                seen_fps.add(fp)
                cols = {"rule": f.rule, "severity": f.severity, "message": f.message, "cells": _json(f.cells),
                        "suspect": f.suspect, "numbers": _json(f.numbers), "subject": f.subject, "agency": f.agency,
                        "agency_id": agency_id, "year": f.year, "report_id": f.report_id, "site": f.site}
                row = self._one("SELECT id, resolved_at FROM findings WHERE fingerprint = ?", (fp,))
                if row is None:
                    self.conn.execute(
                        f"INSERT INTO findings(fingerprint, {', '.join(cols)}, first_seen, last_seen) "
                        f"VALUES (?, {', '.join('?' * len(cols))}, ?, ?)", (fp, *cols.values(), now, now))
                    delta.new.append(f)
                    continue
                sets = ", ".join(f"{k} = ?" for k in cols)
                if row["resolved_at"] is not None:
                    self.conn.execute(f"UPDATE findings SET {sets}, last_seen = ?, resolved_at = NULL, alerted = 0, "
                                      "alert_queued_at = NULL, resolved_reason = NULL "
                                      "WHERE id = ?", (*cols.values(), now, row["id"]))
                    delta.new.append(f)
                else:
                    self.conn.execute(f"UPDATE findings SET {sets}, last_seen = MAX(last_seen, ?) WHERE id = ?",
                                      (*cols.values(), now, row["id"]))
                    delta.still_open.append(f)
            if rules:
                sql = (f"SELECT * FROM findings WHERE resolved_at IS NULL AND rule IN ({', '.join('?' * len(rules))})")
                params: list[Any] = list(rules)
                if site is not None:
                    sql += " AND site = ?"
                    params.append(site)
                if report_id is not None:
                    sql += " AND report_id = ?"
                    params.append(report_id)
                for row in self._all(sql, params):
                    if row["fingerprint"] in seen_fps:
                        continue
                    self.conn.execute("UPDATE findings SET resolved_at = ? WHERE id = ?", (now, row["id"]))
                    row["resolved_at"] = now
                    delta.resolved.append(_finding_row(row))
            # an officer's 误报/已整改 holds while what the finding names is unchanged; found again
            # with other cell values (or another report version), it reopens and is alerted again
            desk.reopen_changed(self.conn, seen_fps, at=now)
        return delta

    def findings(self, *, open_only: bool = True, report_id: int | None = None, site: str | None = None,
                 rule: str | None = None, agency_id: int | None = None, year: int | None = None,
                 not_alerted: bool = False) -> list[Finding]:
        sql, params = "SELECT * FROM findings WHERE 1", []
        if open_only:
            sql += " AND resolved_at IS NULL"
        if not_alerted:
            sql += " AND alerted = 0"
        for col, val in (("report_id", report_id), ("site", site), ("rule", rule), ("agency_id", agency_id),
                         ("year", year)):
            if val is not None:
                sql += f" AND {col} = ?"
                params.append(val)
        return self._findings(sql[len("SELECT * FROM findings WHERE "):], params)

    def _findings(self, where: str, params: Iterable[Any]) -> list[Finding]:
        return [_finding(r) for r in self.conn.execute(f"SELECT * FROM findings WHERE {where} ORDER BY id",
                                                       tuple(params))]

    def findings_to_alert(self) -> list[Finding]:
        """The findings an alert pass composes: open, never sent, not waiting in the outbox.

        The one query that decides who gets told: every filter on what is alerted belongs here.
        """
        where = "resolved_at IS NULL AND alerted = 0 AND alert_queued_at IS NULL"
        if self._has_triage():  # not closed by an officer (误报 / 已整改) while what it names is unchanged
            where += (" AND NOT EXISTS (SELECT 1 FROM triage t WHERE t.fingerprint = findings.fingerprint "
                      "AND t.state IN ('dismissed', 'fixed') AND t.id = "
                      "(SELECT MAX(id) FROM triage WHERE fingerprint = findings.fingerprint))")
        return self._findings(where, ())

    def finding_rows(self, *, open_only: bool = True, report_id: int | None = None) -> list[dict[str, Any]]:
        """Findings as stored (with fingerprint, first/last seen, resolved_at, alerted)."""
        sql, params = "SELECT * FROM findings WHERE 1", []
        if open_only:
            sql += " AND resolved_at IS NULL"
        if report_id is not None:
            sql += " AND report_id = ?"
            params.append(report_id)
        return [_finding_row(r) for r in self._all(sql + " ORDER BY id", params)]

    def set_resolved_reason(self, fingerprints: Iterable[str], reason: str) -> None:
        """Say why resolved findings were closed (e.g. "parser corrected"); NULL means no longer found."""
        with self.transaction():
            self.conn.executemany("UPDATE findings SET resolved_reason = ? WHERE fingerprint = ? "
                                  "AND resolved_at IS NOT NULL", [(reason, fp) for fp in fingerprints])

    def mark_findings_alerted(self, fingerprints: Iterable[str]) -> None:
        fps = list(fingerprints)
        with self.transaction():
            self.conn.executemany("UPDATE findings SET alerted = 1 WHERE fingerprint = ?", [(fp,) for fp in fps])

    # -- triage and the officer's desk ---------------------------------------------------------
    def _has_triage(self) -> bool:
        return self._one("SELECT 1 FROM sqlite_master WHERE name = 'triage'") is not None

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
        row = _finding_row(row)
        history = desk.triage_history(self.conn, row["fingerprint"])
        last = history[-1]["state"] if history else "open"
        row["triage_state"] = "open" if last == "reopened" else last
        row["triage"] = history
        return row

    def matrix_inputs(self, year: int) -> dict[str, Any]:
        return desk.matrix_inputs(self.conn, year)

    def agency_history(self, agency_id: int) -> dict[str, Any] | None:
        return desk.agency_history(self.conn, agency_id)

    # -- alert outbox --------------------------------------------------------------------------
    # An alert is one message on one channel ('email', or an apprise URL as written in config, its
    # {env:NAME} secrets unexpanded).  It leaves the queue only when sent (status 'sent') or when an
    # operator drops it ('dropped'); 'dead' (max_attempts failed sends) waits for an operator.
    # A finding is queued (alert_queued_at) when its alerts are written, and alerted once every
    # alert carrying it is sent.
    UNSENT = ("pending", "failed", "dead")

    def enqueue_alert(self, *, key: str, recipients: list[str], subject: str, text: str,
                      html: str, fingerprints: list[str], site: str | None = None, channel: str = "email",
                      markdown: str | None = None, message_id: str | None = None) -> int | None:
        """Write an alert before it is sent; None if an alert with this key already exists.

        Its findings count as queued from now on (not composed again while it waits).
        """
        with self.transaction():
            now = ts(utcnow())
            cur = self.conn.execute(
                "INSERT OR IGNORE INTO outbox(key, channel, site, recipients, subject, text, html, markdown, "
                "fingerprints, status, attempts, created_at, message_id, delivered) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'pending', 0, ?, ?, '[]')",
                (key, channel, site, _json(recipients), subject, text, html, markdown, _json(fingerprints), now,
                 message_id))
            self.conn.executemany(
                "UPDATE findings SET alert_queued_at = COALESCE(alert_queued_at, ?) WHERE fingerprint = ?",
                [(now, fp) for fp in fingerprints])
            return cur.lastrowid if cur.rowcount else None

    def due_alerts(self, now: datetime) -> list[dict[str, Any]]:
        return [_alert_row(r) for r in self._all(
            "SELECT * FROM outbox WHERE status IN ('pending', 'failed') "
            "AND (next_attempt_at IS NULL OR next_attempt_at <= ?) ORDER BY id", (ts(now),))]

    def alerts(self, status: str | None = None) -> list[dict[str, Any]]:
        return [_alert_row(r) for r in self._all(
            "SELECT * FROM outbox" + (" WHERE status = ?" if status else "") + " ORDER BY id",
            (status,) if status else ())]

    def alert(self, alert_id: int) -> dict[str, Any] | None:
        row = self._one("SELECT * FROM outbox WHERE id = ?", (alert_id,))
        return _alert_row(dict(row)) if row else None

    def set_alert_message_id(self, alert_id: int, message_id: str) -> None:
        """Give an alert queued without one its Message-ID (before its first send; kept for every retry)."""
        with self.transaction():
            self.conn.execute("UPDATE outbox SET message_id = ? WHERE id = ? AND message_id IS NULL",
                              (message_id, alert_id))

    def mark_alert_sent(self, alert_id: int, *, message_id: str | None = None,
                        delivered: Iterable[str] = ()) -> None:
        """The alert got through: it leaves the queue, and its findings that no unsent alert still
        carries are alerted."""
        with self.transaction():
            self._add_delivered(alert_id, delivered)
            self.conn.execute("UPDATE outbox SET status = 'sent', sent_at = ?, message_id = COALESCE(?, message_id), "
                              "attempts = attempts + 1, last_error = NULL, next_attempt_at = NULL WHERE id = ?",
                              (ts(utcnow()), message_id, alert_id))
            self.conn.execute(
                "UPDATE findings SET alerted = 1 WHERE fingerprint IN "
                "(SELECT j.value FROM outbox o, json_each(o.fingerprints) j WHERE o.id = ?) "
                "AND fingerprint NOT IN (SELECT j.value FROM outbox o, json_each(o.fingerprints) j "
                f"WHERE o.id != ? AND o.status IN ({', '.join('?' * len(self.UNSENT))}))",
                (alert_id, alert_id, *self.UNSENT))

    def mark_alert_failed(self, alert_id: int, *, error: str, next_attempt_at: datetime,
                          max_attempts: int | None = None, delivered: Iterable[str] = ()) -> str:
        """Count a failed send; after ``max_attempts`` the alert is 'dead' (kept, not retried until an
        operator says so).  ``delivered``: recipients that accepted it this time (not sent to again).
        Returns the new status."""
        with self.transaction():
            self._add_delivered(alert_id, delivered)
            self.conn.execute(
                "UPDATE outbox SET attempts = attempts + 1, last_error = ?, next_attempt_at = ?, "
                "status = CASE WHEN ? IS NOT NULL AND attempts + 1 >= ? THEN 'dead' ELSE 'failed' END WHERE id = ?",
                (error, ts(next_attempt_at), max_attempts, max_attempts, alert_id))
            return self._one("SELECT status FROM outbox WHERE id = ?", (alert_id,))["status"]

    def _add_delivered(self, alert_id: int, recipients: Iterable[str]) -> None:
        new = list(recipients)
        if not new:
            return
        row = self._one("SELECT delivered FROM outbox WHERE id = ?", (alert_id,))
        done = json.loads(row["delivered"] or "[]") if row else []
        self.conn.execute("UPDATE outbox SET delivered = ? WHERE id = ?",
                          (_json(sorted(set(done) | set(new))), alert_id))

    def retry_dead_alerts(self, ids: Iterable[int] | None = None) -> list[int]:
        """Dead alerts (all, or these) go back to the queue with a fresh count of attempts."""
        with self.transaction():
            rows = self._all("SELECT id FROM outbox WHERE status = 'dead' ORDER BY id")
            wanted = {int(i) for i in ids} if ids is not None else None
            revived = [r["id"] for r in rows if wanted is None or r["id"] in wanted]
            self.conn.executemany("UPDATE outbox SET status = 'failed', attempts = 0, next_attempt_at = NULL "
                                  "WHERE id = ?", [(i,) for i in revived])
            return revived

    def drop_alert(self, alert_id: int) -> dict[str, Any]:
        """An operator gives up on an unsent alert: kept as 'dropped' (with its text), never sent.
        Its findings stay not alerted, and are not composed again.  KeyError if no such unsent alert."""
        with self.transaction():
            row = self._one("SELECT * FROM outbox WHERE id = ?", (alert_id,))
            if row is None:
                raise KeyError(f"no alert {alert_id} in the outbox")
            if row["status"] not in self.UNSENT:
                raise KeyError(f"alert {alert_id} is {row['status']}, not waiting to be sent")
            self.conn.execute("UPDATE outbox SET status = 'dropped', dropped_at = ?, next_attempt_at = NULL "
                              "WHERE id = ?", (ts(utcnow()), alert_id))
            return _alert_row(dict(row))

    # -- labels --------------------------------------------------------------------------------
    def sync_labels(self) -> bool:
        """Make `labels` (template, table_name, row, column -> Chinese labels) what the vocabulary says.

        Run on every writable open, after the migrations: a label corrected in the vocabulary reaches
        every database, and a key the vocabulary dropped leaves.  Returns whether anything changed.
        """
        rows = _vocabulary_labels()
        want = {(r["template"], r["table_name"], r["row"], r["column"]): (r["row_label"], r["column_label"])
                for r in rows}
        have = {(r[0], r[1], r[2], r[3]): (r[4], r[5]) for r in self.conn.execute(
            'SELECT template, table_name, row, "column", row_label, column_label FROM labels')}
        if have == want:
            return False
        with self.transaction():
            self.conn.executemany('DELETE FROM labels WHERE template = ? AND table_name = ? AND row = ? '
                                  'AND "column" = ?', [k for k in have if k not in want])
            self.conn.executemany(
                'INSERT INTO labels(template, table_name, row, "column", row_label, column_label) '
                "VALUES (:template, :table_name, :row, :column, :row_label, :column_label) "
                'ON CONFLICT(template, table_name, row, "column") DO UPDATE SET '
                "row_label = excluded.row_label, column_label = excluded.column_label",
                [r for r in rows if have.get((r["template"], r["table_name"], r["row"], r["column"]))
                 != (r["row_label"], r["column_label"])])
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


def _alert_row(r: dict[str, Any]) -> dict[str, Any]:
    r["recipients"] = json.loads(r["recipients"])
    r["fingerprints"] = json.loads(r["fingerprints"] or "[]")
    r["delivered"] = json.loads(r.get("delivered") or "[]")
    return r


def _finding(r: dict[str, Any]) -> Finding:
    return Finding(rule=r["rule"], severity=r["severity"], message=r["message"] or "",
                   cells=json.loads(r["cells"] or "[]"), suspect=r["suspect"],
                   numbers=json.loads(r["numbers"] or "{}"), agency=r["agency"], year=r["year"],
                   report_id=r["report_id"], site=r["site"], subject=r["subject"] or "")


def _finding_row(r: dict[str, Any]) -> dict[str, Any]:
    r = dict(r)
    r["cells"] = json.loads(r["cells"] or "[]")
    r["numbers"] = json.loads(r["numbers"] or "{}")
    return r


__all__ = ["Store", "StoreError", "SavedDocument", "FindingDelta", "VOLATILE_TABLES", "VOLATILE_COLUMNS", "ts",
           "utcnow"]
