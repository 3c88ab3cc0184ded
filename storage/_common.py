"""Small helpers shared by the storage modules: times as stored, JSON as stored, rows as dicts."""
from __future__ import annotations

import json
import sqlite3
from datetime import date, datetime, timezone
from typing import Any, Iterable

import sqlite_utils


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


def dumps(value: Any) -> str:
    """JSON as every column holding JSON stores it: keys sorted, Chinese as is."""
    return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)


def one(conn: sqlite3.Connection, sql: str, params: Iterable[Any] = ()) -> sqlite3.Row | None:
    return conn.execute(sql, tuple(params)).fetchone()


def rows(conn: sqlite3.Connection, sql: str, params: Iterable[Any] = ()) -> list[dict[str, Any]]:
    return [dict(r) for r in conn.execute(sql, tuple(params)).fetchall()]


def table(db: sqlite_utils.Database, name: str) -> sqlite_utils.db.Table:
    """``db[name]``, made once per database: ``Database.__getitem__`` asks sqlite_master each time."""
    cache = db.__dict__.setdefault("_nianbao_tables", {})
    if name not in cache:
        cache[name] = db.table(name)
    return cache[name]


class StoreError(Exception):
    """The database cannot be opened or written (names the path)."""
