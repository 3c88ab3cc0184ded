"""Runs: one row per invocation (crawl, ingest, check, alert, run), with how it ended."""
from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import sqlite_utils

from storage._common import table, dumps, rows, ts, utcnow



def start(db: sqlite_utils.Database, kind: str, *, config: dict[str, Any] | None = None) -> int:
    return table(db, "runs").insert({"kind": kind, "started": ts(utcnow()), "status": "running",
                                   "config": dumps(config) if config is not None else None}).last_pk


def finish(db: sqlite_utils.Database, run_id: int, status: str, stats: dict[str, Any] | None = None,
           error: str | None = None) -> None:
    table(db, "runs").update(run_id, {"finished": ts(utcnow()), "status": status,
                                    "stats": dumps(stats) if stats is not None else None, "error": error})


def last(db: sqlite_utils.Database, limit: int = 10, kind: str | None = None) -> list[dict[str, Any]]:
    sql, params = "SELECT * FROM runs", []
    if kind:
        sql += " WHERE kind = ?"
        params.append(kind)
    out = rows(db.conn, sql + " ORDER BY id DESC LIMIT ?", [*params, limit])
    for r in out:
        for key in ("stats", "config"):
            r[key] = json.loads(r[key]) if r[key] else None
    return out


def abandon_stale(db: sqlite_utils.Database, *, older_than: datetime, reason: str) -> int:
    # a bulk conditional UPDATE: sqlite-utils updates by primary key only
    cur = db.execute("UPDATE runs SET status = 'killed', finished = ?, error = ? "
                     "WHERE status = 'running' AND started < ?", (ts(utcnow()), reason, ts(older_than)))
    return cur.rowcount
