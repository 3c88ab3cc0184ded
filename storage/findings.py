"""Findings as stored, and their lifecycle: open → resolved (cause gone) → reopened (found again).

A finding is identified by its fingerprint.  ``sync`` records what one check pass found within its scope
(rules × site × report): each finding found is new, reopened or still open; each open one of the scope
not found again is resolved.  Functions over a ``sqlite_utils.Database``; the caller holds the transaction.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Iterable

import sqlite_utils

from storage import desk, identity
from storage._common import table, dumps, one, rows, ts, utcnow
from storage.models import Finding

#: A finding's states, as sync sees them.
NEW, REOPENED, STILL_OPEN = "new", "reopened", "still_open"


@dataclass
class FindingDelta:
    new: list[Finding] = field(default_factory=list)  # first seen now (or reopened)
    still_open: list[Finding] = field(default_factory=list)  # known before, seen again
    resolved: list[dict[str, Any]] = field(default_factory=list)  # open before, cause gone


# -- policies ---------------------------------------------------------------------------------------

def lifecycle(stored: dict[str, Any] | None) -> str:
    """What finding a problem again makes of its stored row (None: never stored)."""
    if stored is None:
        return NEW
    return REOPENED if stored["resolved_at"] is not None else STILL_OPEN


def transition(state: str, now: str) -> dict[str, Any]:
    """The columns a state change writes besides the finding's own values.  A reopened finding is a
    new problem again: its alert state and its reason for being resolved are cleared."""
    if state == NEW:
        return {"first_seen": now, "last_seen": now}
    if state == REOPENED:
        return {"last_seen": now, "resolved_at": None, "alerted": 0, "alert_queued_at": None,
                "resolved_reason": None}
    if state == STILL_OPEN:
        return {}  # last_seen only moves forward: written as MAX(last_seen, now)
    raise ValueError(f"unknown finding state {state!r}")


def to_resolve(open_rows: Iterable[dict[str, Any]], found: set[str]) -> list[dict[str, Any]]:
    """The open findings of a scope that a pass over that scope did not find again."""
    return [r for r in open_rows if r["fingerprint"] not in found]


# -- writes -----------------------------------------------------------------------------------------

def sync(db: sqlite_utils.Database, findings: Iterable[Finding], *, rules: Iterable[str], site: str | None = None,
         report_id: int | None = None, seen_at: datetime | str | None = None) -> FindingDelta:
    """Record a check's findings for the scope (rules × site × report); see the module's docstring.
    ``seen_at`` (default now) is the time written to first_seen/last_seen/resolved_at."""
    conn = db.conn
    now = ts(seen_at) if seen_at is not None else ts(utcnow())
    findings = list(findings)
    rules = sorted(set(rules) | {f.rule for f in findings})
    delta = FindingDelta()
    seen_fps: set[str] = set()
    report_agency: dict[int, int | None] = {}  # report id -> its agency, looked up once
    stored_findings = table(db, "findings")
    for f in findings:
        if f.report_id is None:
            f.report_id = report_id
        if f.site is None:
            f.site = site
        agency_id = None
        if f.report_id is not None:
            if f.report_id not in report_agency:
                row = one(conn, "SELECT agency_id FROM reports WHERE id = ?", (f.report_id,))
                report_agency[f.report_id] = row["agency_id"] if row else None
            agency_id = report_agency[f.report_id]
        if agency_id is None and f.agency:  # matched, never created: agencies come with reports
            agency_id = identity.find_agency_id(db, f.agency, site=f.site)
        fp = f.fingerprint
        if fp in seen_fps:
            continue
        seen_fps.add(fp)
        cols = {"rule": f.rule, "severity": f.severity, "message": f.message, "cells": dumps(f.cells),
                "suspect": f.suspect, "numbers": dumps(f.numbers), "subject": f.subject, "agency": f.agency,
                "agency_id": agency_id, "year": f.year, "report_id": f.report_id, "site": f.site}
        stored = one(conn, "SELECT id, resolved_at, last_seen FROM findings WHERE fingerprint = ?", (fp,))
        state = lifecycle(dict(stored) if stored else None)
        changes = {**cols, **transition(state, now)}
        if state == NEW:
            stored_findings.insert({"fingerprint": fp, **changes})
            delta.new.append(f)
            continue
        if state == STILL_OPEN and now > stored["last_seen"]:
            changes["last_seen"] = now
        stored_findings.update(stored["id"], changes)
        (delta.new if state == REOPENED else delta.still_open).append(f)
    if rules:
        sql = f"SELECT * FROM findings WHERE resolved_at IS NULL AND rule IN ({', '.join('?' * len(rules))})"
        params: list[Any] = list(rules)
        if site is not None:
            sql += " AND site = ?"
            params.append(site)
        if report_id is not None:
            sql += " AND report_id = ?"
            params.append(report_id)
        for row in to_resolve(rows(conn, sql, params), seen_fps):
            stored_findings.update(row["id"], {"resolved_at": now})
            row["resolved_at"] = now
            delta.resolved.append(finding_row(row))
    # an officer's 误报/已整改 holds while what the finding names is unchanged; found again
    # with other cell values (or another report version), it reopens and is alerted again
    desk.reopen_changed(conn, seen_fps, at=now)
    return delta


def set_resolved_reason(db: sqlite_utils.Database, fingerprints: Iterable[str], reason: str) -> None:
    db.conn.executemany("UPDATE findings SET resolved_reason = ? WHERE fingerprint = ? AND resolved_at IS NOT NULL",
                        [(reason, fp) for fp in fingerprints])


def mark_alerted(db: sqlite_utils.Database, fingerprints: Iterable[str]) -> None:
    db.conn.executemany("UPDATE findings SET alerted = 1 WHERE fingerprint = ?", [(fp,) for fp in fingerprints])


# -- reads ------------------------------------------------------------------------------------------

def where(db: sqlite_utils.Database, clause: str, params: Iterable[Any]) -> list[Finding]:
    return [as_finding(r) for r in db.conn.execute(f"SELECT * FROM findings WHERE {clause} ORDER BY id",
                                                   tuple(params))]


def select(db: sqlite_utils.Database, *, open_only: bool = True, report_id: int | None = None,
           site: str | None = None, rule: str | None = None, agency_id: int | None = None, year: int | None = None,
           not_alerted: bool = False) -> list[Finding]:
    clause, params = "1", []
    if open_only:
        clause += " AND resolved_at IS NULL"
    if not_alerted:
        clause += " AND alerted = 0"
    for col, val in (("report_id", report_id), ("site", site), ("rule", rule), ("agency_id", agency_id),
                     ("year", year)):
        if val is not None:
            clause += f" AND {col} = ?"
            params.append(val)
    return where(db, clause, params)


def to_alert(db: sqlite_utils.Database) -> list[Finding]:
    """The findings an alert pass composes: open, never sent, not waiting in the outbox, and not closed
    by an officer (误报 / 已整改) while what it names is unchanged.

    The one query that decides who gets told: every filter on what is alerted belongs here.
    """
    clause = "resolved_at IS NULL AND alerted = 0 AND alert_queued_at IS NULL"
    if one(db.conn, "SELECT 1 FROM sqlite_master WHERE name = 'triage'") is not None:
        clause += (" AND NOT EXISTS (SELECT 1 FROM triage t WHERE t.fingerprint = findings.fingerprint "
                   "AND t.state IN ('dismissed', 'fixed') AND t.id = "
                   "(SELECT MAX(id) FROM triage WHERE fingerprint = findings.fingerprint))")
    return where(db, clause, ())


def stored_rows(db: sqlite_utils.Database, *, open_only: bool = True,
                report_id: int | None = None) -> list[dict[str, Any]]:
    """Findings as stored (with fingerprint, first/last seen, resolved_at, alerted)."""
    sql, params = "SELECT * FROM findings WHERE 1", []
    if open_only:
        sql += " AND resolved_at IS NULL"
    if report_id is not None:
        sql += " AND report_id = ?"
        params.append(report_id)
    return [finding_row(r) for r in rows(db.conn, sql + " ORDER BY id", params)]


def as_finding(r: Any) -> Finding:
    return Finding(rule=r["rule"], severity=r["severity"], message=r["message"] or "",
                   cells=json.loads(r["cells"] or "[]"), suspect=r["suspect"],
                   numbers=json.loads(r["numbers"] or "{}"), agency=r["agency"], year=r["year"],
                   report_id=r["report_id"], site=r["site"], subject=r["subject"] or "")


def finding_row(r: Any) -> dict[str, Any]:
    r = dict(r)
    r["cells"] = json.loads(r["cells"] or "[]")
    r["numbers"] = json.loads(r["numbers"] or "{}")
    return r
