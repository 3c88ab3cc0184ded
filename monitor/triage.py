"""Triage: an officer's verdict on a finding (确认 / 误报 / 已整改), and what counts afterwards.

Policy only; storage keeps the decisions (table ``triage``, one row per decision, with who, when
and a note) and reopens a closed finding when the cells it names change (``storage.desk``).

- confirmed (确认): the officer agrees; the finding counts in the matrix and the exports.
- dismissed (误报): a false alarm; not counted, not alerted again while the report is unchanged.
- fixed (已整改): the agency has corrected it (e.g. said so in writing); treated like dismissed.
- reopened (重新打开): back to open (by an officer, or by nianbao when the cells changed).
"""
from __future__ import annotations

from typing import Any, Iterable

#: Decision -> its name on the page and in exports.
ACTION_LABELS = {"confirmed": "确认", "dismissed": "误报", "fixed": "已整改", "reopened": "重新打开"}
#: A finding's state -> its name.
STATE_LABELS = {"open": "待处理", "confirmed": "已确认", "dismissed": "误报", "fixed": "已整改"}
#: States counted by the matrix and the exports (and alerted).
COUNTED_STATES = frozenset({"open", "confirmed"})

NOTE_MAX = 2000


def counts(finding: dict[str, Any]) -> bool:
    """Whether a finding (a row with ``triage_state``) counts in the matrix and exports."""
    return finding.get("triage_state", "open") in COUNTED_STATES


def counted(findings: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    return [f for f in findings if counts(f)]


def check_decision(state: str, note: str | None, actor: str | None) -> tuple[str, str | None, str]:
    """Validate a decision before it is stored; returns (state, note, actor) cleaned.

    A dismissal needs a note: whoever reads the finding later must learn why it was a false alarm.
    """
    if state not in ACTION_LABELS:
        raise ValueError(f"unknown triage decision {state!r}: expected one of {', '.join(ACTION_LABELS)}")
    note = (note or "").strip() or None
    if note is not None and len(note) > NOTE_MAX:
        raise ValueError(f"the note is {len(note)} characters; at most {NOTE_MAX}")
    if state == "dismissed" and not note:
        raise ValueError("a dismissal (误报) needs a note saying why")
    actor = (actor or "").strip()
    if not actor:
        raise ValueError("a triage decision needs the name of who made it")
    return state, note, actor
