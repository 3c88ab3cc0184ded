"""Last year's figures of an agency, for the digit-run splitter (``hints["previous"]``).

A Table 三 row whose cells ran together ("1010000011") may split several ways that all satisfy
this year's own arithmetic; last year's 结转下年度继续办理 must equal this year's 上年结转 (and the
in-force stock of Table 二 carries over the same way), which often leaves one split.  The parse
stage asks here when a report still has runs it could not split.

Only cells last year's report read with confidence are given: a figure that was itself chosen by
arithmetic (or is low-confidence) must not choose another year's split.
"""
from __future__ import annotations

from typing import Any

from storage.models import LOW_CONFIDENCE

#: The cells the splitter's year-over-year relations use (crawler.parsing.mapping.table_relations).
_ROWS = (("table3", "carried_forward"), ("table2", "regulations"), ("table2", "normative_documents"))


def previous_figures(store: Any, agency: str | None, year: int | None, *,
                     site: str | None = None) -> dict[str, int] | None:
    """{cell ref: value} of the agency's stored report for ``year - 1`` (the carry-over rows), or
    None when the agency or that report is not stored.  Reads only (a read-only Store will do)."""
    if not agency or not isinstance(year, int):
        return None
    agency_id = store.find_agency_id(agency, site=site)
    if agency_id is None:
        return None
    # the richest reading when a page and its attachment were both stored for that year
    row = store.conn.execute("SELECT id FROM reports WHERE agency_id = ? AND year = ? "
                             "ORDER BY assessable_cells DESC, id LIMIT 1", (agency_id, year - 1)).fetchone()
    if row is None:
        return None
    where = " OR ".join("(table_name = ? AND row = ?)" for _ in _ROWS)
    params: list[Any] = [row[0]]
    for table, r in _ROWS:
        params += [table, r]
    out: dict[str, int] = {}
    for table, r, col, value, confidence in store.conn.execute(
            f'SELECT table_name, row, "column", value, confidence FROM cells WHERE report_id = ? AND ({where}) '
            "AND kind IN ('NUMERIC', 'ZERO')", params):
        if isinstance(value, int) and (confidence is None or confidence >= LOW_CONFIDENCE):
            out[f"{table}.{r}.{col}"] = value
    return out or None
