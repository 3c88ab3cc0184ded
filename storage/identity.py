"""Sites and agencies as stored: find-or-create by the identity policy of ``storage.agencies``.

Functions over a ``sqlite_utils.Database``; the caller (``Store``) holds the transaction.
"""
from __future__ import annotations

import json
from typing import Any

import sqlite_utils

from storage._common import one, rows
from storage.agencies import AgencyChoice, choose_agency, identity_norms, normalise


def upsert_site(db: sqlite_utils.Database, name: str, *, region: str | None = None,
                start_url: str | None = None) -> int:
    """The site's row, created or updated; a value not given (None) keeps what is stored."""
    given = {k: v for k, v in (("region", region), ("start_url", start_url)) if v is not None}
    db["sites"].upsert({"name": name, **given}, pk="name")
    return one(db.conn, "SELECT id FROM sites WHERE name = ?", (name,))["id"]


def site_region(db: sqlite_utils.Database, name: str | None) -> str | None:
    """The configured region of a site (it qualifies the short agency names its pages print)."""
    if not name:
        return None
    row = one(db.conn, "SELECT region FROM sites WHERE name = ?", (name,))
    return (row["region"] or None) if row else None


def _choose(db: sqlite_utils.Database, name: str, site_key: str) -> tuple[AgencyChoice, Any, bool]:
    """(the choice, the normalised name, whether the name is a known alias)."""
    n = normalise(name)
    row = one(db.conn, "SELECT agency_id FROM agency_aliases WHERE site = ? AND alias = ?", (site_key, n.name))
    if row:
        return AgencyChoice(row["agency_id"]), n, True
    norms = identity_norms(n)
    candidates = [(r["id"], r["region"]) for r in rows(
        db.conn, f"SELECT id, region FROM agencies WHERE site = ? AND norm IN ({', '.join('?' * len(norms))}) "
                 "ORDER BY id", (site_key, *norms))]
    return choose_agency(n, candidates, site_region=site_region(db, site_key) or ""), n, False


def agency_id(db: sqlite_utils.Database, name: str, *, site: str | None = None, kind: str | None = None) -> int:
    """Find or create the agency named ``name`` on ``site`` and keep the name as an alias.  ``kind``
    (from the config roster) overrides the kind guessed from the name."""
    site_key = site or ""
    choice, n, known = _choose(db, name, site_key)
    chosen = choice.agency_id
    if chosen is None:
        chosen = db["agencies"].insert({"site": site_key, "name": n.name, "norm": n.norm, "region": n.region,
                                        "kind": kind or n.kind}).last_pk
    else:
        changes: dict[str, Any] = {}
        if choice.learn_region:  # the short name came first; now we know its region
            changes["region"] = n.region
        if kind:  # a kind stated (config roster) overrides the guess from the name
            changes["kind"] = kind
        if changes:
            db["agencies"].update(chosen, changes)
    if not known:
        add_alias(db, chosen, site_key, n.name)
    return chosen


def add_alias(db: sqlite_utils.Database, agency: int, site_key: str, alias: str) -> None:
    db["agency_aliases"].insert({"agency_id": agency, "site": site_key, "alias": alias}, ignore=True)


def find_agency_id(db: sqlite_utils.Database, name: str, *, site: str | None = None) -> int | None:
    """The agency ``agency_id`` would pick for this name, without creating or changing anything
    (None when it would create one): for readers, such as the checks matching a roster."""
    return _choose(db, name, site or "")[0].agency_id


def agencies(db: sqlite_utils.Database, site: str | None = None) -> list[dict[str, Any]]:
    sql = ("SELECT a.*, (SELECT json_group_array(alias) FROM agency_aliases WHERE agency_id = a.id) AS aliases "
           "FROM agencies a")
    out = rows(db.conn, sql + (" WHERE a.site = ? ORDER BY a.id" if site is not None else " ORDER BY a.id"),
               (site,) if site is not None else ())
    for r in out:
        r["aliases"] = json.loads(r["aliases"])
    return out
