"""Parsed reports as stored: one report per report_url, its cells, parse warnings and text (searched
through the FTS5 trigram index of ``report_text``), and the events a change of cells writes.

Functions over a ``sqlite_utils.Database``; the caller (``Store``) holds the transaction.
"""
from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Iterable
from urllib.parse import unquote

import sqlite_utils

from storage import identity
from storage._common import table, StoreError, dumps, insert_row, insert_sql, one, rows, ts, utcnow
from storage.models import Cell, CellKind, Finding, ParseStatus, ParseWarning, Report, Source

#: Reports read per round of queries by ``load`` (SQLite allows 32,766 parameters).
LOAD_BATCH = 500
#: Cells named in a change event (the count says how many changed in all).
EVENT_CELLS = 200
_CELL_KINDS = {k.value: k for k in CellKind}
_CELL_COLUMNS = ("report_id", "table_name", "row", "column", "value", "raw", "kind", "label", "confidence")
_WARNING_COLUMNS = ("report_id", "seq", "code", "message", "cell")


# -- policies ---------------------------------------------------------------------------------------

def richer_parse_wins(existing: dict[str, Any] | None, *, document_id: int, assessable: int,
                      version_id: int | None = None) -> bool:
    """Whether a parse (of document ``document_id``, version ``version_id``) replaces the stored
    content of its report_url.

    A report page and its attachments (a PDF, the pictures of a （图片版） page) share a report_url.
    The stored reading is replaced by:

    * a parse of the same document, of the stored version or a later one: the agency's new version
      is the report now, even when it reads fewer cells;
    * a parse of another document with more assessable cells (the attachment that holds the tables);
    * a parse of another document with as many assessable cells, of a later version than the stored
      one: a 图片版 page read with its pictures is stored under the version of the part stored last,
      so a corrected picture (or page) republished changes values, not the number of cells, and is a
      newer reading of the same report.

    Never by a parse of an older version of the stored document, nor by a poorer or older reading of
    another document (a tie of versions not known keeps what is stored).
    """
    if existing is None:
        return True
    stored = existing.get("version_id")
    if existing["document_id"] == document_id:
        return version_id is None or stored is None or version_id >= stored
    if assessable != existing["assessable_cells"]:
        return assessable > existing["assessable_cells"]
    return version_id is not None and stored is not None and version_id > stored


def cell_changes(old: dict[tuple[str, str, str], tuple[Any, str]], new: dict[tuple[str, str, str], tuple[Any, str]],
                 *, limit: int = EVENT_CELLS) -> tuple[int, dict[str, list[Any]]]:
    """(how many cells changed, the first ``limit`` of them as {"table.row.column": [before, after]})."""
    keys = sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k))
    return len(keys), {".".join(k): [old.get(k, (None,))[0], new.get(k, (None,))[0]] for k in keys[:limit]}


def change_event(*, reparse: bool) -> str:
    """The event a change of cells writes: ``reparsed`` when the same bytes were read by another parser
    version (not the agency revising its report), else ``report_revised``."""
    return "reparsed" if reparse else "report_revised"


def report_region(agency_region: str | None, site_region: str | None) -> str | None:
    """The region a report is filed under: the site's configured region, else the agency's own."""
    return site_region or agency_region or None


def unique_cells(cells: Iterable[Cell]) -> list[Cell]:
    """One cell per key: a parser that emits a key twice keeps its last reading."""
    return list({(c.table, c.row, c.column): c for c in cells}.values())


# -- writes -----------------------------------------------------------------------------------------

@dataclass
class ReportRows:
    """A parsed report as the rows ``save`` writes, made by ``report_to_rows``.

    The parse stage's workers send this to the writer instead of the Report: plain tuples and
    strings, cheap to pickle and unpickle (a Report is an object graph of a few hundred dataclasses
    and enums), and nothing left for the one writer to do but look up identities and run inserts."""

    status: str  # ParseStatus value
    error: str | None
    format: str | None
    agency: str | None
    agency_printed: str | None
    year: int | None
    columns: dict[str, Any]  # the reports columns that come from the report alone
    cells: list[tuple]  # one per cell key: _CELL_COLUMNS without report_id
    assessable: int
    warnings: list[tuple]  # (code, message, cell), in order
    text: dict[str, Any]  # report_text's columns without report_id


def report_to_rows(report: Report) -> ReportRows:
    """The rows of ``report`` as ``save`` stores them (its cells made unique, see ``unique_cells``)."""
    cells = unique_cells(report.cells)
    assessable = sum(1 for c in cells if c.kind.assessable)
    columns = {
        "agency": report.agency, "agency_printed": report.agency_printed, "year": report.year,
        "template": report.template, "title": report.title, "published": ts(report.published),
        "status": report.status.value, "error": report.error, "warnings_count": len(report.warnings),
        "cells_count": len(cells), "assessable_cells": assessable, "format": report.source.format,
        "period_start": ts(report.period[0]) if report.period else None,
        "period_end": ts(report.period[1]) if report.period else None,
    }
    return ReportRows(
        status=report.status.value, error=report.error, format=report.source.format, agency=report.agency,
        agency_printed=report.agency_printed, year=report.year, columns=columns,
        cells=[(c.table, c.row, c.column, c.value, c.raw, c.kind.value, c.label, c.confidence) for c in cells],
        assessable=assessable, warnings=[(w.code, w.message, w.cell) for w in report.warnings],
        text={"agency": report.agency, "year": report.year, "title": report.title, "text": report.text,
              "sections": dumps(report.sections) if report.sections else None})


def save(db: sqlite_utils.Database, report: Report | ReportRows, *, version_id: int, report_url: str,
         site: str | None = None, first_seen: datetime | None = None, parser_version: str | None = None,
         reparse: bool = False, columns: set[str] | None = None, path: Any = None) -> int:
    """Store the parsed report of a document version (see ``richer_parse_wins``); returns its id.

    ``report``: a Report, or its rows (``report_to_rows``, as the parse stage's workers send them).
    ``columns``: the reports table's columns when the database is held at an older schema.
    """
    conn = db.conn
    r = report if isinstance(report, ReportRows) else report_to_rows(report)
    ver = one(conn, "SELECT v.id, v.document_id, v.sha256, v.first_seen, d.url FROM document_versions v "
                    "JOIN documents d ON d.id = v.document_id WHERE v.id = ?", (version_id,))
    if ver is None:
        raise StoreError(f"{path}: no document version {version_id} for report {report_url}")
    existing = one(conn, "SELECT * FROM reports WHERE report_url = ?", (report_url,))
    existing = dict(existing) if existing else None
    if not richer_parse_wins(existing, document_id=ver["document_id"], assessable=r.assessable,
                             version_id=version_id):
        return existing["id"]
    agency_id, agency_region = None, None
    if r.agency:
        # the printed short name is an alias of the agency it was qualified to, on this site
        agency_id, agency_region = identity.agency(db, r.agency, site=site, printed=r.agency_printed)
    seen = ts(first_seen) or ver["first_seen"]
    if existing and existing["first_seen"] < seen:
        seen = existing["first_seen"]
    values = {
        "report_url": report_url, "agency_id": agency_id, **r.columns, "site": site,
        "region": report_region(agency_region, identity.site_region(db, site)), "first_seen": seen,
        "version_id": version_id, "document_id": ver["document_id"], "source_url": ver["url"],
        "source_sha256": ver["sha256"], "parser_version": parser_version, "checks_due": 1,  # cleared by the check stage
    }
    if columns is not None:  # opened at an older schema (upgrade tests): its columns only
        values = {k: v for k, v in values.items() if k in columns}
    old = None
    if existing:
        report_id = existing["id"]
        old = {(c["table_name"], c["row"], c["column"]): (c["value"], c["kind"]) for c in rows(
            conn, 'SELECT table_name, row, "column", value, kind FROM cells WHERE report_id = ?', (report_id,))}
        table(db, "reports").update(report_id, values)
        table(db, "cells").delete_where("report_id = ?", [report_id])
        table(db, "warnings").delete_where("report_id = ?", [report_id])
    else:
        report_id = insert_row(db, "reports", values)
    if r.cells:
        conn.executemany(insert_sql(db, "cells", _CELL_COLUMNS), [(report_id, *c) for c in r.cells])
    if r.warnings:
        conn.executemany(insert_sql(db, "warnings", _WARNING_COLUMNS),
                         [(report_id, i, *w) for i, w in enumerate(r.warnings)])
    if existing and one(conn, "SELECT 1 FROM report_text WHERE report_id = ?", (report_id,)):
        # an UPDATE, not a REPLACE: REPLACE would skip the FTS index's delete trigger
        table(db, "report_text").update(report_id, r.text)
    else:
        insert_row(db, "report_text", {"report_id": report_id, **r.text})
    if old is not None:
        count, changed = cell_changes(old, {(c[0], c[1], c[2]): (c[3], c[5]) for c in r.cells})
        if count:
            kind = change_event(reparse=reparse)
            detail = {"changed_cells": changed, "count": count}
            if reparse:
                detail.update(parser_version=parser_version, previous_parser_version=existing.get("parser_version"))
            at = ts(utcnow()) if reparse or first_seen is None else ts(first_seen)
            table(db, "events").insert({"kind": kind, "at": at, "url": report_url, "document_id": ver["document_id"],
                                      "version_id": version_id, "report_id": report_id, "detail": dumps(detail)})
    return report_id


def mark_checked(db: sqlite_utils.Database, report_ids: Iterable[int]) -> None:
    db.conn.executemany("UPDATE reports SET checks_due = 0 WHERE id = ? AND checks_due != 0",
                        [(i,) for i in report_ids])


# -- reads ------------------------------------------------------------------------------------------

def load(db: sqlite_utils.Database, report_ids: Iterable[int], open_findings) -> list[Report]:
    """The stored reports of ``report_ids`` (in that order; unknown ids are left out), read a few hundred
    at a time: one query per table per batch instead of four per report, which is what a check pass
    over a national database spends most of its time on.  ``open_findings(where, params)`` reads the
    reports' open findings."""
    conn = db.conn
    ids = list(report_ids)
    out: dict[int, Report] = {}
    for start in range(0, len(ids), LOAD_BATCH):
        chunk = ids[start:start + LOAD_BATCH]
        marks = ", ".join("?" * len(chunk))
        cells: dict[int, list[Cell]] = defaultdict(list)
        for rid, table, row, col, value, raw, kind, label, confidence in conn.execute(
                'SELECT report_id, table_name, row, "column", value, raw, kind, label, confidence '
                f"FROM cells WHERE report_id IN ({marks})", chunk):
            cells[rid].append(Cell(table, row, col, value, raw or "", _CELL_KINDS[kind], label or "", confidence))
        warnings: dict[int, list[ParseWarning]] = defaultdict(list)
        for rid, code, message, cell in conn.execute(
                f"SELECT report_id, code, message, cell FROM warnings WHERE report_id IN ({marks}) "
                "ORDER BY report_id, seq", chunk):
            warnings[rid].append(ParseWarning(code=code, message=message, cell=cell))
        findings: dict[int, list[Finding]] = defaultdict(list)
        for f in open_findings(f"report_id IN ({marks}) AND resolved_at IS NULL", chunk):
            findings[f.report_id].append(f)
        for r in conn.execute(
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


def report_rows(db: sqlite_utils.Database, *, site: str | None = None, year: int | None = None,
                agency_id: int | None = None, ids: Iterable[int] | None = None) -> list[dict[str, Any]]:
    """Report rows (no cells, no text), with the page's dates and link title from `documents`
    (only the reports ``ids``, when given: read in chunks that SQLite's parameter limit allows)."""
    if ids is not None:
        wanted = sorted(set(ids))
        out: list[dict[str, Any]] = []
        for i in range(0, len(wanted), LOAD_BATCH):
            out += _report_rows(db, site, year, agency_id, wanted[i:i + LOAD_BATCH])
        return sorted(out, key=lambda r: (r["agency_id"] is not None, r["agency_id"] or 0, r["year"] is not None,
                                          r["year"] or 0, r["id"]))
    return _report_rows(db, site, year, agency_id, None)


def _report_rows(db, site, year, agency_id, ids) -> list[dict[str, Any]]:
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
    if ids is not None:
        sql += f" AND r.id IN ({', '.join('?' * len(ids))})"
        params += list(ids)
    return rows(db.conn, sql + " ORDER BY r.agency_id, r.year, r.id", params)


def revised_events(db: sqlite_utils.Database, site: str | None = None) -> list[dict[str, Any]]:
    """Each `revised` event (a stored URL seen with other bytes) with the report it belongs to."""
    sql = ("SELECT e.id, e.at, e.url, e.version_id, e.detail, r.id AS report_id, r.site FROM events e "
           "JOIN documents d ON d.id = e.document_id "
           "JOIN reports r ON r.report_url = COALESCE(d.report_url, d.url) WHERE e.kind = 'revised'")
    params: list[Any] = []
    if site is not None:
        sql += " AND r.site = ?"
        params.append(site)
    out = []
    for e in rows(db.conn, sql + " ORDER BY e.id", params):
        detail = json.loads(e["detail"] or "{}")
        rr = one(db.conn, "SELECT detail FROM events WHERE kind = 'report_revised' AND version_id = ? "
                          "AND report_id = ? ORDER BY id DESC LIMIT 1", (e["version_id"], e["report_id"]))
        changed = json.loads(rr["detail"]).get("changed_cells", {}) if rr else {}
        out.append({"report_id": e["report_id"], "site": e["site"], "url": e["url"], "at": e["at"],
                    "version_id": e["version_id"], "new_sha256": detail.get("sha256"),
                    "old_sha256": detail.get("previous_sha256"), "changed_cells": changed})
    return out


def search(db: sqlite_utils.Database, q: str, *, limit: int = 50) -> list[dict[str, Any]]:
    """Full-text search over report text: FTS5 trigram for terms of 3+ characters, LIKE otherwise.

    Terms separated by spaces must all occur.  Returns report_id, agency, year, title, snippet.
    """
    terms = [t for t in q.split() if t]
    if not terms:
        return []
    if all(len(t) >= 3 for t in terms):
        match = " AND ".join('"' + t.replace('"', '""') + '"' for t in terms)
        # hand SQL: sqlite-utils' Table.search has no snippet()
        return rows(db.conn,
                    "SELECT t.report_id, t.agency, t.year, t.title, "
                    "snippet(report_text_fts, -1, '[', ']', '…', 12) AS snippet FROM report_text_fts "
                    "JOIN report_text t ON t.report_id = report_text_fts.rowid "
                    "WHERE report_text_fts MATCH ? ORDER BY rank LIMIT ?", (match, limit))
    # trigram cannot match 1-2 characters: scan (instr is exact, no wildcard escaping)
    where = " AND ".join("(instr(COALESCE(text, ''), ?) > 0 OR instr(COALESCE(title, ''), ?) > 0 "
                         "OR instr(COALESCE(agency, ''), ?) > 0)" for _ in terms)
    params = [p for t in terms for p in (t, t, t)]
    out = rows(db.conn, f"SELECT report_id, agency, year, title, text FROM report_text WHERE {where} "
                        "ORDER BY report_id LIMIT ?", [*params, limit])
    for r in out:
        text = r.pop("text") or ""
        i = text.find(terms[0])
        r["snippet"] = (text[max(0, i - 12):i] + "[" + terms[0] + "]" + text[i + len(terms[0]):i + len(terms[0]) + 12]
                        if i >= 0 else "")
    return out
