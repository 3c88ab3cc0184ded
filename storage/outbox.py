"""The alert outbox: one message on one channel, written before it is sent, never silently lost.

States: ``pending`` → ``sent``; a failed send → ``failed`` (retried when due) → after ``max_attempts``
failed sends ``dead`` (kept, not retried until an operator revives it: back to ``failed``); an operator
may drop an unsent alert (``dropped``, kept with its text, never sent).  A finding is queued
(alert_queued_at) when an alert carrying it is written, and alerted once no unsent alert still carries it.

Functions over a ``sqlite_utils.Database``; the caller (``Store``) holds the transaction.
"""
from __future__ import annotations

import json
from datetime import datetime
from typing import Any, Iterable

import sqlite_utils

from storage._common import table, dumps, one, rows, ts, utcnow

#: Alerts still to be sent (or waiting for an operator).
UNSENT = ("pending", "failed", "dead")
#: Who may move an alert from a state to another.
TRANSITIONS = {
    "pending": ("sent", "failed", "dead", "dropped"),
    "failed": ("sent", "failed", "dead", "dropped"),
    "dead": ("failed", "dropped"),  # revived by an operator, or given up
    "sent": (),
    "dropped": (),
}


# -- policies ---------------------------------------------------------------------------------------

def status_after_failure(attempts: int, max_attempts: int | None) -> str:
    """The state after one more failed send, ``attempts`` being the count before it."""
    return "dead" if max_attempts is not None and attempts + 1 >= max_attempts else "failed"


def check_transition(alert_id: int, status: str, to: str) -> None:
    """KeyError (naming the alert) when an alert in ``status`` cannot go to ``to``."""
    if to not in TRANSITIONS.get(status, ()):
        if to == "dropped":
            raise KeyError(f"alert {alert_id} is {status}, not waiting to be sent")
        raise KeyError(f"alert {alert_id} is {status}: it cannot become {to}")


def delivered_union(done: Iterable[str], new: Iterable[str]) -> list[str]:
    """Recipients that accepted an alert so far (never sent to again)."""
    return sorted(set(done) | set(new))


# -- writes -----------------------------------------------------------------------------------------

def enqueue(db: sqlite_utils.Database, *, key: str, recipients: list[str], subject: str, text: str, html: str,
            fingerprints: list[str], site: str | None = None, channel: str = "email", markdown: str | None = None,
            message_id: str | None = None) -> int | None:
    """Write an alert before it is sent; None if an alert with this key already exists.  Its findings
    count as queued from now on (not composed again while it waits)."""
    now = ts(utcnow())
    outbox = table(db, "outbox").insert({
        "key": key, "channel": channel, "site": site, "recipients": dumps(recipients), "subject": subject,
        "text": text, "html": html, "markdown": markdown, "fingerprints": dumps(fingerprints), "status": "pending",
        "attempts": 0, "created_at": now, "message_id": message_id, "delivered": "[]"}, ignore=True)
    inserted = one(db.conn, "SELECT changes()")[0] == 1
    db.conn.executemany("UPDATE findings SET alert_queued_at = COALESCE(alert_queued_at, ?) WHERE fingerprint = ?",
                        [(now, fp) for fp in fingerprints])
    return outbox.last_rowid if inserted else None


def set_message_id(db: sqlite_utils.Database, alert_id: int, message_id: str) -> None:
    """Give an alert queued without one its Message-ID (before its first send; kept for every retry)."""
    row = one(db.conn, "SELECT message_id FROM outbox WHERE id = ?", (alert_id,))
    if row is not None and row["message_id"] is None:
        table(db, "outbox").update(alert_id, {"message_id": message_id})


def _status(db: sqlite_utils.Database, alert_id: int) -> dict[str, Any]:
    row = one(db.conn, "SELECT * FROM outbox WHERE id = ?", (alert_id,))
    if row is None:
        raise KeyError(f"no alert {alert_id} in the outbox")
    return dict(row)


def _add_delivered(db: sqlite_utils.Database, row: dict[str, Any], recipients: Iterable[str]) -> None:
    new = list(recipients)
    if new:
        done = json.loads(row["delivered"] or "[]")
        table(db, "outbox").update(row["id"], {"delivered": dumps(delivered_union(done, new))})


def mark_sent(db: sqlite_utils.Database, alert_id: int, *, message_id: str | None = None,
              delivered: Iterable[str] = ()) -> None:
    """The alert got through: it leaves the queue, and its findings that no unsent alert still carries
    are alerted."""
    row = _status(db, alert_id)
    _add_delivered(db, row, delivered)
    table(db, "outbox").update(alert_id, {"status": "sent", "sent_at": ts(utcnow()),
                                        "message_id": message_id or row["message_id"], "attempts": row["attempts"] + 1,
                                        "last_error": None, "next_attempt_at": None})
    # set logic over JSON arrays: sqlite-utils has no way to say it
    db.execute(
        "UPDATE findings SET alerted = 1 WHERE fingerprint IN "
        "(SELECT j.value FROM outbox o, json_each(o.fingerprints) j WHERE o.id = ?) "
        "AND fingerprint NOT IN (SELECT j.value FROM outbox o, json_each(o.fingerprints) j "
        f"WHERE o.id != ? AND o.status IN ({', '.join('?' * len(UNSENT))}))", (alert_id, alert_id, *UNSENT))


def mark_failed(db: sqlite_utils.Database, alert_id: int, *, error: str, next_attempt_at: datetime,
                max_attempts: int | None = None, delivered: Iterable[str] = ()) -> str:
    """Count a failed send (see ``status_after_failure``); returns the new status."""
    row = _status(db, alert_id)
    _add_delivered(db, row, delivered)
    status = status_after_failure(row["attempts"], max_attempts)
    table(db, "outbox").update(alert_id, {"attempts": row["attempts"] + 1, "last_error": error,
                                        "next_attempt_at": ts(next_attempt_at), "status": status})
    return status


def retry_dead(db: sqlite_utils.Database, ids: Iterable[int] | None = None) -> list[int]:
    """Dead alerts (all, or these) go back to the queue with a fresh count of attempts."""
    wanted = {int(i) for i in ids} if ids is not None else None
    revived = [r["id"] for r in rows(db.conn, "SELECT id FROM outbox WHERE status = 'dead' ORDER BY id")
               if wanted is None or r["id"] in wanted]
    for i in revived:
        table(db, "outbox").update(i, {"status": "failed", "attempts": 0, "next_attempt_at": None})
    return revived


def drop(db: sqlite_utils.Database, alert_id: int) -> dict[str, Any]:
    """An operator gives up on an unsent alert: kept as 'dropped' (with its text), never sent.  Its findings
    stay not alerted, and are not composed again.  KeyError if no such unsent alert."""
    row = _status(db, alert_id)
    check_transition(alert_id, row["status"], "dropped")
    table(db, "outbox").update(alert_id, {"status": "dropped", "dropped_at": ts(utcnow()), "next_attempt_at": None})
    return alert_row(row)


# -- reads ------------------------------------------------------------------------------------------

def due(db: sqlite_utils.Database, now: datetime) -> list[dict[str, Any]]:
    return [alert_row(r) for r in rows(db.conn, "SELECT * FROM outbox WHERE status IN ('pending', 'failed') "
                                                "AND (next_attempt_at IS NULL OR next_attempt_at <= ?) ORDER BY id",
                                       (ts(now),))]


def select(db: sqlite_utils.Database, status: str | None = None) -> list[dict[str, Any]]:
    return [alert_row(r) for r in rows(db.conn, "SELECT * FROM outbox" + (" WHERE status = ?" if status else "")
                                       + " ORDER BY id", (status,) if status else ())]


def get(db: sqlite_utils.Database, alert_id: int) -> dict[str, Any] | None:
    row = one(db.conn, "SELECT * FROM outbox WHERE id = ?", (alert_id,))
    return alert_row(dict(row)) if row else None


def alert_row(r: dict[str, Any]) -> dict[str, Any]:
    r["recipients"] = json.loads(r["recipients"])
    r["fingerprints"] = json.loads(r["fingerprints"] or "[]")
    r["delivered"] = json.loads(r.get("delivered") or "[]")
    return r
