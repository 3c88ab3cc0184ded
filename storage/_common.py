"""Small helpers shared by the storage modules: times as stored, JSON as stored, rows as dicts."""
from __future__ import annotations

import functools
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


def insert_sql(db: sqlite_utils.Database, name: str, columns: tuple[str, ...], *, ignore: bool = False) -> str:
    """The INSERT (``INSERT OR IGNORE`` with ``ignore``) of one row of ``columns`` into ``name``, as
    sqlite-utils writes it, built once per database and column list and then run by ``execute`` or
    ``executemany``: each row costs SQLite's own work.  (``Table.insert`` asks sqlite_master whether
    the table exists, wraps the row in a savepoint and builds its statement again on every call,
    converting every value on the way: on the crawl's and the parse writer's hot paths that cost more
    than the insert.  The values passed here are already SQLite's types.)"""
    cache = db.__dict__.setdefault("_nianbao_inserts", {})
    key = (name, columns, ignore)
    sql = cache.get(key)
    if sql is None:
        if not columns:  # as Table.insert writes a row of no values
            sql = f'INSERT {"OR IGNORE " if ignore else ""}INTO "{name}" DEFAULT VALUES'
        else:
            [(sql, _)] = table(db, name).build_insert_queries_and_params(
                extracts=None, chunk=[[None] * len(columns)], all_columns=list(columns), hash_id=None,
                hash_id_columns=None, upsert=False, pk=None, not_null=None, conversions={}, num_records_processed=0,
                replace=False, ignore=ignore, list_mode=True)
        cache[key] = sql
    return sql


def insert_row(db: sqlite_utils.Database, name: str, values: dict[str, Any], *, ignore: bool = False) -> int:
    """Insert one row (``values``: column -> value, SQLite's types); returns its rowid (0 when
    ``ignore`` left an existing row in place)."""
    cur = db.conn.execute(insert_sql(db, name, tuple(values), ignore=ignore), tuple(values.values()))
    return cur.lastrowid if cur.rowcount else 0


def update_row(db: sqlite_utils.Database, table_name: str, row_id: int, changes: dict[str, Any]) -> None:
    """``UPDATE`` of one row by id, in the crawl's and the parse writer's hot paths (every stored
    document, every parsed version): sqlite-utils' ``Table.update`` reads the table's columns twice,
    selects the row first and wraps it in a savepoint, which cost more than the update itself.
    Raises ``sqlite_utils.db.NotFoundError`` for an unknown id, as ``Table.update`` does."""
    if db.conn.execute(_update_sql(table_name, tuple(changes)), (*changes.values(), row_id)).rowcount != 1:
        raise sqlite_utils.db.NotFoundError(f"no row {row_id} in {table_name}")


@functools.lru_cache(maxsize=None)  # a few tables, a handful of column lists, each built once
def _update_sql(table_name: str, columns: tuple[str, ...]) -> str:
    return f'UPDATE "{table_name}" SET ' + ", ".join(f'"{c}" = ?' for c in columns) + " WHERE id = ?"


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
