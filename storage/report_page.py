"""Reads behind the served pages: one report with everything its page shows, the overview's counts,
and a stored document's bytes for its page images.

Plain functions over a ``sqlite3.Connection`` (like ``storage.desk``), run by the Datasette plugin
through ``db.execute_fn``; what the rows mean (statuses, wording, layout) is decided on the serve side
(``crawler/serve``), which may read monitor's rules too.  This module only says what is stored.
"""
from __future__ import annotations

import json
import sqlite3
from typing import Any

from storage import desk
from storage.desk import _rows


def report(conn: sqlite3.Connection, report_id: int) -> dict[str, Any] | None:
    """The rows of one report's page: the report (with its agency), cells by (table, row, column),
    findings (worst first, open before resolved) with their triage history, parse warnings, the
    cells the arithmetic corrected, the narrative's sections, every stored version of its documents,
    and the agency's other years.  None when there is no such report."""
    found = _rows(conn, "SELECT r.*, a.name AS agency_name, a.kind AS agency_kind FROM reports r "
                        "LEFT JOIN agencies a ON a.id = r.agency_id WHERE r.id = ?", [report_id])
    if not found:
        return None
    rep = found[0]
    template = rep["template"] if rep["template"] in ("2021", "2019") else "2021"
    cells = {(c["table_name"], c["row"], c["column"]): c for c in _rows(
        conn, 'SELECT table_name, row, "column", value, raw, kind, label, confidence FROM cells '
              "WHERE report_id = ?", [report_id])}
    findings = _rows(conn, "SELECT * FROM findings WHERE report_id = ? ORDER BY resolved_at IS NOT NULL, "
                           "CASE severity WHEN 'error' THEN 0 WHEN 'warning' THEN 1 ELSE 2 END, rule, id",
                     [report_id])
    warnings = _rows(conn, "SELECT code, message, cell FROM warnings WHERE report_id = ? ORDER BY seq", [report_id])
    text = _rows(conn, "SELECT sections FROM report_text WHERE report_id = ?", [report_id])
    documents = _rows(conn, "SELECT d.id, d.url, v.id AS version_id, v.sha256, v.size, v.content_type, "
                            "v.parse_status, v.first_seen, v.id = d.latest_version_id AS latest "
                            "FROM documents d JOIN document_versions v ON v.document_id = d.id "
                            "WHERE d.report_url = ? OR d.url = ? ORDER BY v.id",
                      [rep["report_url"], rep["report_url"]])
    out: dict[str, Any] = {
        "report": rep, "cells": cells, "labels": desk.labels(conn, template), "findings": findings,
        "triage": desk.triage_for_report(conn, report_id), "warnings": warnings,
        "corrected": {w["cell"]: w["message"] for w in warnings if w["code"] == "ocr_corrected"},
        "sections": json.loads(text[0]["sections"]) if text and text[0]["sections"] else {},
        "documents": documents, "siblings": [], "history": [], "rules_per_year": [],
    }
    if rep["agency_id"] is not None:
        out["siblings"] = _rows(conn, "SELECT id, year FROM reports WHERE agency_id = ? ORDER BY year, id",
                                [rep["agency_id"]])
        out["history"] = _rows(conn, "SELECT r.year, (SELECT value FROM cells c WHERE c.report_id = r.id AND "
                                     "c.table_name = 'table3' AND c.row = 'new' AND c.\"column\" = 'total') AS v "
                                     "FROM reports r WHERE r.agency_id = ? AND r.year IS NOT NULL ORDER BY r.year",
                               [rep["agency_id"]])
        out["rules_per_year"] = _rows(conn, "SELECT year, rule, count(*) AS n FROM findings WHERE agency_id = ? "
                                            "AND resolved_at IS NULL AND year IS NOT NULL GROUP BY year, rule",
                                      [rep["agency_id"]])
    return out


def overview(conn: sqlite3.Connection) -> dict[str, Any]:
    """Open findings per year and rule, reports per year, the totals and the 20 newest open findings."""
    totals = _rows(conn, "SELECT (SELECT count(*) FROM reports) AS reports, (SELECT count(*) FROM findings "
                         "WHERE resolved_at IS NULL) AS open_findings, (SELECT count(*) FROM agencies) AS "
                         "agencies, (SELECT count(*) FROM documents) AS documents")[0]
    return {
        "rules_per_year": _rows(conn, "SELECT year, rule, count(*) AS n FROM findings WHERE resolved_at IS NULL "
                                      "AND year IS NOT NULL GROUP BY year, rule"),
        "reports_per_year": _rows(conn, "SELECT year, count(*) AS n FROM reports WHERE year IS NOT NULL "
                                        "GROUP BY year ORDER BY year"),
        "totals": totals,
        "recent": _rows(conn, "SELECT f.rule, f.severity, f.agency, f.year, f.message, f.report_id, f.first_seen "
                              "FROM findings f WHERE f.resolved_at IS NULL ORDER BY f.first_seen DESC, f.id DESC "
                              "LIMIT 20"),
    }


def blob(conn: sqlite3.Connection, sha256: str) -> bytes | None:
    """The stored bytes of a document version (None: not stored, or stored without content)."""
    row = conn.execute("SELECT content FROM blobs WHERE sha256 = ?", [sha256]).fetchone()
    return bytes(row[0]) if row and row[0] else None
