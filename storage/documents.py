"""Documents as fetched: content-addressed bytes (blobs), one row per URL, one per version of its
bytes, the fetch journal, and what the parse stage made of each version.

Functions over a ``sqlite_utils.Database``; the caller (``Store``) holds the transaction.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import sqlite_utils

from storage._common import table, dumps, insert_row, one, rows, ts, update_row, utcnow
from storage.models import Document, ParseStatus


@dataclass
class SavedDocument:
    document_id: int  # the URL's row in `documents`
    version_id: int  # the row in `document_versions` holding these bytes
    sha256: str
    is_new: bool  # first time this URL was stored
    revised: bool  # this URL was stored before with other bytes (a `revised` event was written)
    unchanged: bool  # same bytes as the latest version: nothing new stored


#: A version starts pending: the parse stage reads it later.
PENDING = "pending"


# -- policies ---------------------------------------------------------------------------------------

def version_change(latest_sha: str | None, sha: str, *, is_new: bool) -> tuple[bool, bool]:
    """(revised, unchanged) for bytes ``sha`` fetched from a URL whose latest stored version is
    ``latest_sha``: the same bytes are nothing new; other bytes at a known URL are a revision."""
    unchanged = latest_sha == sha
    return (not is_new and not unchanged), unchanged


def merged_seen(stored: dict[str, Any], given: dict[str, Any], seen: str) -> dict[str, Any]:
    """What a fetch adds to a stored row: a later last_seen, and each value the fetch states (a value
    it does not state keeps what is stored: a 304 or a listing without dates forgets nothing)."""
    out = {k: v for k, v in given.items() if v is not None and v != stored.get(k)}
    if seen > (stored.get("last_seen") or ""):
        out["last_seen"] = seen
    return out


def parse_jobs_filter(mode: str) -> str:
    """The WHERE clause of each parse-stage mode (``parser_version`` bound once where it is used).

    pending: never parsed, or the parse job died under another parser version; outdated: each
    document's latest version last read by another parser version; all: each latest version.
    """
    if mode == "pending":
        return ("(v.parse_status = 'pending' OR (v.parse_status = 'parse_failed' "
                "AND COALESCE(v.parser_version, '') != :parser_version))")
    if mode == "outdated":
        return ("v.id = d.latest_version_id AND v.parse_status != 'pending' "
                "AND COALESCE(v.parser_version, '') != :parser_version")
    if mode == "all":
        return "v.id = d.latest_version_id AND v.parse_status != 'pending'"
    raise ValueError(f"parse_jobs: unknown mode {mode!r}")


# -- writes -----------------------------------------------------------------------------------------

def save(db: sqlite_utils.Database, doc: Document, *, run_id: int | None = None) -> SavedDocument:
    """Store bytes content-addressed; same bytes twice are stored once.

    A fetch row is written for http(s) URLs (the crawl journal); local files are not fetched.
    """
    seen = ts(doc.fetched_at or utcnow())
    sha = doc.sha256
    insert_row(db, "blobs", {"sha256": sha, "size": doc.size, "content": doc.content}, ignore=True)
    row = one(db.conn, "SELECT d.*, v.sha256 AS latest_sha FROM documents d "
                       "LEFT JOIN document_versions v ON v.id = d.latest_version_id WHERE d.url = ?", (doc.url,))
    page = {"site": doc.site, "report_url": doc.report_url, "link_title": doc.link_title,
            "listing_date": doc.listing_date, "page_date": doc.page_date}
    is_new = row is None
    if is_new:
        document_id = insert_row(db, "documents", {"url": doc.url, **page, "first_seen": seen, "last_seen": seen})
        latest_sha = None
    else:
        document_id, latest_sha = row["id"], row["latest_sha"]
        changes = merged_seen(dict(row), page, seen)
        if changes:
            update_row(db, "documents", document_id, changes)
    ver = one(db.conn, "SELECT id, last_seen, etag, last_modified FROM document_versions "
                       "WHERE document_id = ? AND sha256 = ?", (document_id, sha))
    if ver:
        version_id = ver["id"]
        changes = merged_seen(dict(ver), {"etag": doc.etag, "last_modified": doc.last_modified}, seen)
        if changes:
            update_row(db, "document_versions", version_id, changes)
    else:
        version_id = insert_row(db, "document_versions", {
            "document_id": document_id, "sha256": sha, "size": doc.size, "content_type": doc.content_type,
            "http_status": doc.status, "etag": doc.etag, "last_modified": doc.last_modified, "first_seen": seen,
            "last_seen": seen, "first_run_id": run_id, "parse_status": PENDING})
    revised, unchanged = version_change(latest_sha, sha, is_new=is_new)
    if not unchanged:
        update_row(db, "documents", document_id, {"latest_version_id": version_id})
    if is_new or revised:
        insert_row(db, "events", {"kind": "new_document" if is_new else "revised", "at": seen, "url": doc.url,
                                  "document_id": document_id, "version_id": version_id, "run_id": run_id,
                                  "detail": dumps({"sha256": sha, "previous_sha256": latest_sha, "size": doc.size})})
    if doc.url.startswith(("http://", "https://")):
        insert_row(db, "fetches", {"run_id": run_id, "url": doc.url, "site": doc.site, "fetched_at": seen,
                                   "http_status": doc.status, "fetch_status": doc.fetch_status, "etag": doc.etag,
                                   "last_modified": doc.last_modified, "sha256": sha, "version_id": version_id})
    return SavedDocument(document_id, version_id, sha, is_new, revised, unchanged)


def record_fetch(db: sqlite_utils.Database, url: str, *, run_id: int | None, http_status: int | None,
                 fetch_status: str, error: str | None = None, site: str | None = None,
                 etag: str | None = None, last_modified: str | None = None) -> None:
    """A fetch that stored no new bytes: 304, WAF challenge, soft 404, timeout...

    A 304 (not_modified) also counts as seeing the stored document again.
    """
    now = ts(utcnow())
    cache = fetch_cache(db, url)
    insert_row(db, "fetches", {"run_id": run_id, "url": url, "site": site, "fetched_at": now,
                               "http_status": http_status, "fetch_status": fetch_status, "etag": etag,
                               "last_modified": last_modified, "sha256": cache["sha256"] if cache else None,
                               "version_id": cache["version_id"] if cache else None, "error": error})
    if fetch_status == "not_modified" and cache and cache["version_id"]:
        if now > cache["last_seen"]:
            update_row(db, "documents", cache["document_id"], {"last_seen": now})
        if now > (cache["version_last_seen"] or ""):
            update_row(db, "document_versions", cache["version_id"], {"last_seen": now})


def set_parse_status(db: sqlite_utils.Database, version_id: int, status: ParseStatus | str, *,
                     error: str | None = None, format: str | None = None, parser_version: str | None = None) -> None:
    """Mark what the parser made of a stored version (a document is never dropped for failing)."""
    value = status.value if isinstance(status, ParseStatus) else status
    changes = {"parse_status": value, "parse_error": error, "format": format, "parse_failure": None}
    if parser_version is not None:
        changes["parser_version"] = parser_version
    update_row(db, "document_versions", version_id, changes)


def mark_parse_failed(db: sqlite_utils.Database, version_id: int, *, failure: str, error: str,
                      parser_version: str) -> None:
    """A parse job that died (failure: timeout | memory | cpu | crash | error): status ``parse_failed``,
    not retried until the parser version differs from ``parser_version``."""
    update_row(db, "document_versions", version_id, {
        "parse_status": "parse_failed", "parse_failure": failure,
        "parse_error": error, "parser_version": parser_version})


# -- reads ------------------------------------------------------------------------------------------

def fetch_cache(db: sqlite_utils.Database, url: str) -> dict[str, Any] | None:
    """Latest fetch facts for a URL: etag, last_modified, sha256, first_seen, version_id."""
    row = one(db.conn,
              "SELECT d.id AS document_id, d.first_seen, d.last_seen, v.id AS version_id, v.sha256, v.etag, "
              "v.last_modified, v.parse_status, v.content_type, v.last_seen AS version_last_seen FROM documents d "
              "LEFT JOIN document_versions v ON v.id = d.latest_version_id WHERE d.url = ?", (url,))
    return dict(row) if row else None


def _parse_jobs_where(parser_version: str, mode: str, site: str | None,
                      after_id: int | None) -> tuple[str, dict[str, Any]]:
    """FROM and WHERE of the parse stage's versions (``parse_jobs`` and ``count_parse_jobs``), and their
    parameters."""
    sql = "FROM document_versions v JOIN documents d ON d.id = v.document_id WHERE " + parse_jobs_filter(mode)
    params: dict[str, Any] = {"parser_version": parser_version}
    if site is not None:
        sql += " AND d.site = :site"
        params["site"] = site
    if after_id is not None:
        sql += " AND v.id > :after_id"
        params["after_id"] = after_id
    return sql, params


def parse_jobs(db: sqlite_utils.Database, parser_version: str, *, mode: str = "pending", site: str | None = None,
               limit: int | None = None, after_id: int | None = None) -> list[dict[str, Any]]:
    """Document versions for the parse stage, oldest first, with what the parser needs to read them;
    ``after_id``: only versions with a greater id (a reader walking them in chunks)."""
    where, params = _parse_jobs_where(parser_version, mode, site, after_id)
    sql = ("SELECT v.id AS version_id, v.document_id, v.sha256, v.size, v.content_type, v.first_seen, "
           "v.parse_status, v.parser_version, d.url, d.site, COALESCE(d.report_url, d.url) AS report_url, "
           "d.link_title, d.page_date, d.listing_date " + where + " ORDER BY v.id")
    if limit is not None:
        sql += " LIMIT :limit"
        params["limit"] = limit
    return [dict(r) for r in db.conn.execute(sql, params).fetchall()]


def count_parse_jobs(db: sqlite_utils.Database, parser_version: str, *, mode: str = "pending",
                     site: str | None = None, after_id: int | None = None) -> int:
    """How many versions ``parse_jobs`` gives in ``mode`` (a progress bar's end, what a stopped pass left)."""
    where, params = _parse_jobs_where(parser_version, mode, site, after_id)
    return db.conn.execute("SELECT COUNT(*) " + where, params).fetchone()[0]


def parse_status_counts(db: sqlite_utils.Database) -> dict[str, int]:
    """Document versions by parse status (pending, parsed, parse_failed, ...)."""
    return {r["parse_status"] or "pending": r["n"] for r in rows(
        db.conn, "SELECT parse_status, COUNT(*) AS n FROM document_versions GROUP BY parse_status "
                 "ORDER BY parse_status")}


def parse_failures(db: sqlite_utils.Database) -> list[dict[str, Any]]:
    """Versions whose parse job died, with the reason and the parser version that tried."""
    return rows(db.conn, "SELECT v.id AS version_id, d.url, d.site, v.parse_failure, v.parse_error, v.parser_version "
                         "FROM document_versions v JOIN documents d ON d.id = v.document_id "
                         "WHERE v.parse_status = 'parse_failed' ORDER BY v.id")


def blob(db: sqlite_utils.Database, sha256: str) -> bytes | None:
    row = one(db.conn, "SELECT content FROM blobs WHERE sha256 = ?", (sha256,))
    return bytes(row["content"]) if row else None


def versions(db: sqlite_utils.Database, url: str) -> list[dict[str, Any]]:
    return rows(db.conn, "SELECT v.* FROM document_versions v JOIN documents d ON d.id = v.document_id "
                         "WHERE d.url = ? ORDER BY v.id", (url,))


def events(db: sqlite_utils.Database, kind: str | None = None, since: str | None = None) -> list[dict[str, Any]]:
    sql, params = "SELECT * FROM events WHERE 1", []
    if kind:
        sql += " AND kind = ?"
        params.append(kind)
    if since:
        sql += " AND at >= ?"
        params.append(since)
    out = rows(db.conn, sql + " ORDER BY id", params)
    for r in out:
        r["detail"] = json.loads(r["detail"]) if r["detail"] else None
    return out
