"""What one crawl run stored per site, read back from ``fetches``: the figures of a crawl process that
died before it could report its own (``crawler.crawl`` splits a night's sites across processes)."""
from __future__ import annotations

from collections import defaultdict


def fetch_counts(store, run_id: int, sites: list[str]) -> dict[str, dict[str, int]]:
    """site -> fetch_status -> rows this run recorded for it (every fetch, 200, 304 or failure, is a row)."""
    out: dict[str, dict[str, int]] = defaultdict(dict)
    wanted = set(sites)
    # one grouped read over the run's rows (indexed by run_id); sites filtered here, not in an IN (...) of 3,000
    for site, status, n in store.conn.execute(
            "SELECT site, fetch_status, COUNT(*) FROM fetches WHERE run_id = ? GROUP BY site, fetch_status",
            (run_id,)):
        if site in wanted:
            out[site][status] = n
    return dict(out)
