"""Sites and agencies as stored: find-or-create by the identity policy of ``storage.agencies``.

Functions over a ``sqlite_utils.Database``; the caller (``Store``) holds the transaction.
"""
from __future__ import annotations

import json
from typing import Any

import sqlite_utils

from storage._common import table, one, rows
from storage.agencies import AgencyChoice, choose_agency, identity_norms, normalise


def upsert_site(db: sqlite_utils.Database, name: str, *, region: str | None = None,
                start_url: str | None = None) -> int:
    """The site's row, created or updated; a value not given (None) keeps what is stored."""
    given = {k: v for k, v in (("region", region), ("start_url", start_url)) if v is not None}
    table(db, "sites").upsert({"name": name, **given}, pk="name")
    return one(db.conn, "SELECT id FROM sites WHERE name = ?", (name,))["id"]


def site_region(db: sqlite_utils.Database, name: str | None) -> str | None:
    """The configured region of a site (it qualifies the short agency names its pages print)."""
    if not name:
        return None
    row = one(db.conn, "SELECT region FROM sites WHERE name = ?", (name,))
    return (row["region"] or None) if row else None


def _choose(db: sqlite_utils.Database, name: str, site_key: str) -> tuple[AgencyChoice, Any, str | None]:
    """(the choice, the normalised name, the chosen agency's stored region, or None if the name is no alias)."""
    n = normalise(name)
    row = one(db.conn, "SELECT a.agency_id, g.region FROM agency_aliases a JOIN agencies g ON g.id = a.agency_id "
                       "WHERE a.site = ? AND a.alias = ?", (site_key, n.name))
    if row:
        return AgencyChoice(row["agency_id"]), n, row["region"]
    norms = identity_norms(n)
    candidates = [(r["id"], r["region"]) for r in rows(
        db.conn, f"SELECT id, region FROM agencies WHERE site = ? AND norm IN ({', '.join('?' * len(norms))}) "
                 "ORDER BY id", (site_key, *norms))]
    return choose_agency(n, candidates, site_region=site_region(db, site_key) or ""), n, None


def agency_id(db: sqlite_utils.Database, name: str, *, site: str | None = None, kind: str | None = None) -> int:
    """Find or create the agency named ``name`` on ``site`` and keep the name as an alias.  ``kind``
    (from the config roster) overrides the kind guessed from the name."""
    return agency(db, name, site=site, kind=kind)[0]


def agency(db: sqlite_utils.Database, name: str, *, site: str | None = None, kind: str | None = None,
           printed: str | None = None) -> tuple[int, str]:
    """``agency_id``, also returning the agency's region; ``printed``, the name as the page printed it,
    is kept as another alias of the same agency."""
    site_key = site or ""
    choice, n, known_region = _choose(db, name, site_key)
    chosen = choice.agency_id
    if chosen is None:
        chosen = table(db, "agencies").insert({"site": site_key, "name": n.name, "norm": n.norm, "region": n.region,
                                                    "kind": kind or n.kind}).last_pk
        region = n.region
    else:
        changes: dict[str, Any] = {}
        if choice.learn_region:  # the short name came first; now we know its region
            changes["region"] = n.region
        if kind:  # a kind stated (config roster) overrides the guess from the name
            changes["kind"] = kind
        if changes:
            table(db, "agencies").update(chosen, changes)
        region = changes.get("region", known_region)
        if region is None:
            region = one(db.conn, "SELECT region FROM agencies WHERE id = ?", (chosen,))["region"]
    aliases = [] if known_region is not None else [n.name]
    if printed and printed != name:
        aliases.append(normalise(printed).name)
    if aliases:
        table(db, "agency_aliases").insert_all(
            ({"agency_id": chosen, "site": site_key, "alias": a} for a in dict.fromkeys(aliases)), ignore=True)
    return chosen, region


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
