"""Storage benchmark: ingest rate (reports/s) and database size per 1,000 reports.

Reports are generated from the five seeds: each seed parsed once, then copied with another agency
name and scaled numbers, and its document bytes made unique (as a real corpus would be).

Figures printed:
- store: Store.save_document + save_report + sync_findings per report, each report in one
  transaction (what the crawler and `nianbao ingest` do after parsing);
- baseline: the same cells and report rows written with plain sqlite-utils insert_all (no
  documents, no versions, no FTS, no findings, one transaction per report), in the same process;
- ingest: the whole path on files: store (crawler.ingest.ingest_document), the parse stage's pool,
  the within-report checks;
- size: database bytes per 1,000 reports, with and without the stored document bytes.

Usage: .venv/bin/python bench/storage_bench.py [--reports 1000] [--files 200]
"""
from __future__ import annotations

import argparse
import copy
import random
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import sqlite_utils  # noqa: E402

from crawler.ingest import ingest_document  # noqa: E402
from crawler.parsing import parse_bytes  # noqa: E402
from storage.db import Store  # noqa: E402
from storage.models import CellKind, Document, Report  # noqa: E402

SEEDS = sorted((ROOT / "tests" / "fixtures" / "seeds").glob("*.txt"))
_CHARS = "东西南北中上下前后左右新老安平和兴华龙凤"


def region(i: int) -> str:
    n = len(_CHARS)
    return _CHARS[i % n] + _CHARS[(i // n) % n] + _CHARS[(i // n // n) % n] + "区"


def generate(n: int, seed_reports: list[tuple[bytes, Report]], rng: random.Random):
    """n (document, report) pairs: another agency and year, numbers scaled, unique bytes."""
    start = datetime(2025, 1, 5, tzinfo=timezone.utc)
    for i in range(n):
        content, base = seed_reports[i % len(seed_reports)]
        r = copy.deepcopy(base)
        body = (base.agency or "卫生健康局").split("区", 1)[-1].split("县", 1)[-1]
        r.agency = region(i) + body
        r.year = 2020 + (i // 2000) % 5
        factor = rng.choice((1, 1, 2, 3, 5))
        for c in r.cells:
            if c.kind == CellKind.NUMERIC and isinstance(c.value, int):
                c.value *= factor
                c.raw = str(c.value)
        data = content.replace(base.agency.encode(), r.agency.encode()) + f"\n<!-- {i} -->".encode()
        doc = Document(url=f"http://bench.gov.cn/{i // 100}/{i}.html", content=data, content_type="text/plain",
                       fetched_at=start + timedelta(minutes=i), site="bench")
        yield doc, r


def bench_store(path: Path, pairs) -> float:
    store = Store(path)
    t0 = time.perf_counter()
    for doc, report in pairs:
        with store.transaction():
            saved = store.save_document(doc)
            rid = store.save_report(report, version_id=saved.version_id, report_url=doc.url, site=doc.site,
                                    first_seen=doc.fetched_at)
            store.sync_findings(report.findings, rules=[f.rule for f in report.findings], report_id=rid,
                                seen_at=doc.fetched_at)
    elapsed = time.perf_counter() - t0
    store.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    store.close()
    return elapsed


def bench_baseline(path: Path, pairs) -> float:
    db = sqlite_utils.Database(path)
    db.conn.execute("PRAGMA journal_mode = WAL")
    db.conn.execute("PRAGMA synchronous = NORMAL")
    t0 = time.perf_counter()
    for i, (doc, report) in enumerate(pairs):
        with db.conn:
            db["reports"].insert({"id": i + 1, "report_url": doc.url, "agency": report.agency, "year": report.year,
                                  "template": report.template, "title": report.title}, pk="id")
            db["cells"].insert_all(
                ({"report_id": i + 1, "table_name": c.table, "row": c.row, "column": c.column, "value": c.value,
                  "raw": c.raw, "kind": c.kind.value, "label": c.label} for c in report.cells), batch_size=500)
    elapsed = time.perf_counter() - t0
    db.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.conn.close()
    return elapsed


def bench_ingest(path: Path, pairs) -> float:
    """The three stages as `nianbao ingest` runs them: store, parse pool (one worker per core), checks."""
    from crawler.parse_stage import ParseSettings, parse_pending
    from monitor.checks.runner import check_reports

    store = Store(path)
    t0 = time.perf_counter()
    for doc, _ in pairs:
        ingest_document(store, doc)
    parsed = parse_pending(store, ParseSettings())
    check_reports(store, parsed.report_ids)
    elapsed = time.perf_counter() - t0
    store.close()
    return elapsed


def size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.parent.glob(path.name + "*"))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reports", type=int, default=1000)
    ap.add_argument("--files", type=int, default=200, help="documents for the full ingest (parse included)")
    args = ap.parse_args()
    rng = random.Random(7)
    seed_reports = []
    for p in SEEDS:
        data = p.read_bytes()
        seed_reports.append((data, parse_bytes(data, path=str(p), content_type="text/plain")))
    from monitor.checks.report import check_report
    for _, r in seed_reports:
        r.findings = list(check_report(r))
        for f in r.findings:
            f.agency, f.year = r.agency, r.year
    pairs = list(generate(args.reports, seed_reports, rng))
    cells = sum(len(r.cells) for _, r in pairs)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        t_store = bench_store(tmp / "store.db", pairs)
        t_base = bench_baseline(tmp / "baseline.db", pairs)
        store_size, base_size = size(tmp / "store.db"), size(tmp / "baseline.db")
        with Store(tmp / "store.db", readonly=True) as s:
            blob_bytes = s.conn.execute("SELECT SUM(size) FROM blobs").fetchone()[0]
            t0 = time.perf_counter()
            hits = len(s.search("信息公开工作", limit=100000))
            t_fts = time.perf_counter() - t0
            t0 = time.perf_counter()
            hits2 = len(s.search("公开", limit=100000))
            t_like = time.perf_counter() - t0
        docs = list(generate(args.files, seed_reports, random.Random(8)))
        t_ingest = bench_ingest(tmp / "ingest.db", docs)
    per_k = 1000 / args.reports
    print(f"reports: {args.reports} ({cells} cells), generated from {len(SEEDS)} seeds")
    print(f"store    : {args.reports / t_store:8.1f} reports/s  ({t_store:.2f} s; document+report+cells+FTS+findings, "
          f"one transaction each)")
    print(f"baseline : {args.reports / t_base:8.1f} reports/s  ({t_base:.2f} s; sqlite-utils insert of report rows and "
          f"cells only)")
    print(f"ratio    : store takes {t_store / t_base:.2f}x the baseline's time")
    print(f"ingest   : {args.files / t_ingest:8.1f} reports/s  ({t_ingest:.2f} s for {args.files} documents; parse + "
          f"checks + store)")
    print(f"size     : {store_size * per_k / 1e6:.2f} MB per 1,000 reports "
          f"({(store_size - blob_bytes) * per_k / 1e6:.2f} MB without the documents' bytes; "
          f"baseline {base_size * per_k / 1e6:.2f} MB, ratio {store_size / base_size:.2f}x)")
    print(f"search   : 6-char FTS5 trigram {hits} hits in {t_fts * 1000:.1f} ms; 2-char LIKE fallback {hits2} hits "
          f"in {t_like * 1000:.1f} ms")


if __name__ == "__main__":
    main()
