"""Reads and writes for the officer's desk: the compliance matrix's inputs, an agency's history, triage.

Plain functions over a ``sqlite3.Connection`` so that both ``Store`` (the CLI, exports, checks) and
the Datasette plugin (``db.execute_fn`` / ``db.execute_write_fn``) run the same SQL.  The rules that
turn these rows into statuses live in ``monitor.compliance``; this module only says what is stored.
"""
from __future__ import annotations

import hashlib
import json
import sqlite3
from datetime import datetime, timezone
from typing import Any, Iterable

#: Triage decisions an officer can record, and the states a finding can be in.
TRIAGE_ACTIONS = ("confirmed", "dismissed", "fixed", "reopened")
#: States that close a finding for counting and alerting while what it names is unchanged.
CLOSED_STATES = ("dismissed", "fixed")

#: Key figures shown side by side on the agency history page: (table, row, column).
HISTORY_FIGURES: tuple[tuple[str, str, str], ...] = (
    ("table2", "regulations", "issued"), ("table2", "regulations", "repealed"),
    ("table2", "regulations", "in_force"),
    ("table2", "normative_documents", "issued"), ("table2", "normative_documents", "repealed"),
    ("table2", "normative_documents", "in_force"),
    ("table2", "licensing", "value"), ("table2", "punishment", "value"), ("table2", "coercion", "value"),
    ("table2", "fees_wan_yuan", "value"),
    ("table3", "new", "total"), ("table3", "carried_over", "total"), ("table3", "granted", "total"),
    ("table3", "partially_granted", "total"), ("table3", "total_processed", "total"),
    ("table3", "carried_forward", "total"),
    ("table4", "review", "total"), ("table4", "litigation_direct", "total"),
    ("table4", "litigation_after_review", "total"),
)


def _rows(conn: sqlite3.Connection, sql: str, params: Iterable[Any] = ()) -> list[dict[str, Any]]:
    cur = conn.execute(sql, tuple(params))
    names = [d[0] for d in cur.description]
    return [dict(zip(names, r)) for r in cur.fetchall()]


def _has_table(conn: sqlite3.Connection, name: str) -> bool:
    return conn.execute("SELECT 1 FROM sqlite_master WHERE name = ?", (name,)).fetchone() is not None


# -- the matrix -----------------------------------------------------------------------------------

def matrix_inputs(conn: sqlite3.Connection, year: int) -> dict[str, Any]:
    """Everything the compliance matrix of ``year`` is computed from.

    agencies: id, name, norm, kind, site, region (the site's configured region, else the one in the
    agency's name); reports: every report of ``year`` or earlier that has an agency; findings: the
    open findings of ``year`` with their triage state (open | confirmed | dismissed | fixed).
    """
    agencies = _rows(conn, "SELECT a.id, a.name, a.norm, a.kind, a.site, "
                           "COALESCE(NULLIF(s.region, ''), NULLIF(a.region, ''), '') AS region "
                           "FROM agencies a LEFT JOIN sites s ON s.name = a.site ORDER BY a.id")
    reports = _rows(conn, "SELECT id, agency_id, agency, site, year, title, published, first_seen, status, "
                          "assessable_cells, source_url, report_url, template FROM reports "
                          "WHERE agency_id IS NOT NULL AND year IS NOT NULL AND year <= ? ORDER BY id", (year,))
    triage = _has_table(conn, "triage")
    state = ("COALESCE(CASE WHEN t.state = 'reopened' THEN 'open' ELSE t.state END, 'open')" if triage
             else "'open'")
    join = ("LEFT JOIN triage t ON t.id = (SELECT MAX(id) FROM triage WHERE fingerprint = f.fingerprint)"
            if triage else "")
    extra = ", t.note AS triage_note, t.actor AS triage_actor, t.at AS triage_at" if triage else ""
    findings = _rows(conn, f"SELECT f.id, f.fingerprint, f.rule, f.severity, f.message, f.cells, f.suspect, "
                           f"f.numbers, f.agency, f.agency_id, f.year, f.report_id, f.site, f.first_seen, "
                           f"{state} AS triage_state{extra} FROM findings f {join} "
                           f"WHERE f.resolved_at IS NULL AND f.year = ? ORDER BY f.id", (year,))
    for f in findings:
        f["cells"] = json.loads(f["cells"] or "[]")
        f["numbers"] = json.loads(f["numbers"] or "{}")
    sites = _rows(conn, "SELECT name, region FROM sites ORDER BY name")
    years = [r["year"] for r in _rows(conn, "SELECT DISTINCT year FROM reports WHERE year IS NOT NULL "
                                            "UNION SELECT DISTINCT year FROM findings WHERE year IS NOT NULL "
                                            "ORDER BY year")]
    return {"agencies": agencies, "reports": reports, "findings": findings, "sites": sites, "years": years}


def report_cells(conn: sqlite3.Connection, report_id: int, refs: Iterable[str]) -> dict[str, dict[str, Any]]:
    """Cells of a report by ref (table.row.column): value, raw, kind, label."""
    wanted = set(refs)
    out = {}
    for c in _rows(conn, 'SELECT table_name, row, "column", value, raw, kind, label FROM cells WHERE report_id = ?',
                   (report_id,)):
        ref = f"{c['table_name']}.{c['row']}.{c['column']}"
        if ref in wanted:
            out[ref] = c
    return out


def labels(conn: sqlite3.Connection, template: str = "2021") -> dict[tuple[str, str, str], tuple[str, str]]:
    """(table, row, column) -> (row label, column label) of a template, as the labels table keeps them."""
    if not _has_table(conn, "labels"):
        return {}
    t = template if template in ("2021", "2019") else "2021"
    return {(r["table_name"], r["row"], r["column"]): (r["row_label"], r["column_label"]) for r in _rows(
        conn, 'SELECT table_name, row, "column", row_label, column_label FROM labels WHERE template = ?', (t,))}


# -- an agency's history --------------------------------------------------------------------------

def agency_history(conn: sqlite3.Connection, agency_id: int) -> dict[str, Any] | None:
    """One agency's reports of every year with their key figures (HISTORY_FIGURES), its open
    cross-year findings, and its other findings counted per year."""
    agency = _rows(conn, "SELECT a.*, COALESCE(NULLIF(s.region, ''), NULLIF(a.region, ''), '') AS site_region "
                         "FROM agencies a LEFT JOIN sites s ON s.name = a.site WHERE a.id = ?", (agency_id,))
    if not agency:
        return None
    reports = _rows(conn, "SELECT id, year, title, published, first_seen, status, template, assessable_cells, "
                          "source_url FROM reports WHERE agency_id = ? AND year IS NOT NULL ORDER BY year, "
                          "assessable_cells DESC, id", (agency_id,))
    figures: dict[int, dict[str, Any]] = {}
    for r in reports:
        cells = {}
        for c in _rows(conn, 'SELECT table_name, row, "column", value, raw, kind FROM cells WHERE report_id = ? '
                             "AND table_name || '.' || row IN ("
                             + ", ".join("?" * len({f"{t}.{r_}" for t, r_, _ in HISTORY_FIGURES})) + ")",
                       (r["id"], *sorted({f"{t}.{r_}" for t, r_, _ in HISTORY_FIGURES}))):
            cells[f"{c['table_name']}.{c['row']}.{c['column']}"] = c
        figures[r["id"]] = cells
    triage = _has_table(conn, "triage")
    state = ("COALESCE(CASE WHEN t.state = 'reopened' THEN 'open' ELSE t.state END, 'open')" if triage
             else "'open'")
    join = ("LEFT JOIN triage t ON t.id = (SELECT MAX(id) FROM triage WHERE fingerprint = f.fingerprint)"
            if triage else "")
    findings = _rows(conn, f"SELECT f.id, f.rule, f.severity, f.message, f.cells, f.numbers, f.year, f.report_id, "
                           f"{state} AS triage_state FROM findings f {join} WHERE f.agency_id = ? "
                           f"AND f.resolved_at IS NULL ORDER BY f.year, f.id", (agency_id,))
    for f in findings:
        f["cells"] = json.loads(f["cells"] or "[]")
        f["numbers"] = json.loads(f["numbers"] or "{}")
    return {"agency": agency[0], "reports": reports, "figures": figures, "findings": findings}


# -- triage ---------------------------------------------------------------------------------------

def find_finding(conn: sqlite3.Connection, ref: str | int) -> dict[str, Any] | None:
    """A finding by id (an int or digits) or by fingerprint (or an unambiguous prefix of one)."""
    if isinstance(ref, int) or str(ref).isdigit():
        rows = _rows(conn, "SELECT * FROM findings WHERE id = ?", (int(ref),))
    else:
        rows = _rows(conn, "SELECT * FROM findings WHERE fingerprint LIKE ? || '%' LIMIT 2", (str(ref),))
        if len(rows) > 1:
            raise ValueError(f"finding {ref!r}: the prefix names more than one finding; give more characters")
    return rows[0] if rows else None


def finding_basis(conn: sqlite3.Connection, finding: dict[str, Any]) -> str:
    """A digest of what the finding rests on: the printed values of the cells it names (when it
    names cells), else the bytes of its report (a deadline or a revision), else nothing (missing)."""
    cells = finding["cells"]
    if isinstance(cells, str):
        cells = json.loads(cells or "[]")
    report_id = finding.get("report_id")
    if cells and report_id is not None:
        found = report_cells(conn, report_id, cells)
        key = [[ref, found[ref]["raw"], found[ref]["value"]] if ref in found else [ref, None, None]
               for ref in sorted(cells)]
    elif report_id is not None:
        row = conn.execute("SELECT source_sha256, version_id FROM reports WHERE id = ?", (report_id,)).fetchone()
        key = ["report", *(row if row else (None, None))]
    else:
        return ""
    return hashlib.sha256(json.dumps(key, ensure_ascii=False, default=str).encode()).hexdigest()[:24]


def record_triage(conn: sqlite3.Connection, finding: dict[str, Any], state: str, *, actor: str,
                  note: str | None = None, at: str | None = None) -> dict[str, Any]:
    """Append a triage decision for ``finding`` (the caller holds the transaction)."""
    if state not in TRIAGE_ACTIONS:
        raise ValueError(f"triage state {state!r}: expected one of {', '.join(TRIAGE_ACTIONS)}")
    if not actor:
        raise ValueError("triage needs an actor (who decided)")
    at = at or datetime.now(timezone.utc).isoformat(timespec="seconds")
    basis = finding_basis(conn, finding)
    cur = conn.execute("INSERT INTO triage(fingerprint, finding_id, state, note, actor, at, basis) "
                       "VALUES (?, ?, ?, ?, ?, ?, ?)",
                       (finding["fingerprint"], finding["id"], state, note or None, actor, at, basis))
    if state == "reopened":  # reopened: alert it again, unless its alert is still waiting in the outbox
        conn.execute("UPDATE findings SET alerted = 0, alert_queued_at = NULL WHERE id = ? AND alerted = 1",
                     (finding["id"],))
    return {"id": cur.lastrowid, "fingerprint": finding["fingerprint"], "finding_id": finding["id"], "state": state,
            "note": note or None, "actor": actor, "at": at, "basis": basis}


def triage_history(conn: sqlite3.Connection, fingerprint: str) -> list[dict[str, Any]]:
    if not _has_table(conn, "triage"):
        return []
    return _rows(conn, "SELECT * FROM triage WHERE fingerprint = ? ORDER BY id", (fingerprint,))


def triage_for_report(conn: sqlite3.Connection, report_id: int) -> dict[str, list[dict[str, Any]]]:
    """Triage history of every finding of a report, by fingerprint."""
    if not _has_table(conn, "triage"):
        return {}
    out: dict[str, list[dict[str, Any]]] = {}
    for t in _rows(conn, "SELECT t.* FROM triage t JOIN findings f ON f.fingerprint = t.fingerprint "
                         "WHERE f.report_id = ? ORDER BY t.id", (report_id,)):
        out.setdefault(t["fingerprint"], []).append(t)
    return out


def reopen_changed(conn: sqlite3.Connection, fingerprints: Iterable[str], *, at: str) -> list[str]:
    """Reopen closed findings (dismissed, fixed) whose cells or report changed since the decision:
    a 'reopened' row by nianbao, and the finding is alerted again.  Returns the fingerprints."""
    if not _has_table(conn, "triage"):
        return []
    fps = list(fingerprints)
    reopened = []
    for i in range(0, len(fps), 500):
        chunk = fps[i:i + 500]
        closed = _rows(conn, "SELECT t.fingerprint, t.basis, f.* FROM triage t JOIN findings f "
                             "ON f.fingerprint = t.fingerprint WHERE t.id = (SELECT MAX(id) FROM triage "
                             f"WHERE fingerprint = t.fingerprint) AND t.state IN ('dismissed', 'fixed') "
                             f"AND t.fingerprint IN ({', '.join('?' * len(chunk))})", chunk)
        for row in closed:
            if finding_basis(conn, row) == row["basis"]:
                continue
            record_triage(conn, row, "reopened", actor="nianbao", note="所涉单元格或报告内容已变化，自动重新打开", at=at)
            reopened.append(row["fingerprint"])
    return reopened


__all__ = ["TRIAGE_ACTIONS", "CLOSED_STATES", "HISTORY_FIGURES", "matrix_inputs", "labels", "report_cells", "agency_history",
           "find_finding", "finding_basis", "record_triage", "triage_history", "triage_for_report",
           "reopen_changed"]
