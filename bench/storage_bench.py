"""Storage benchmark: saving parsed reports (reports/s) against plain sqlite-utils, ingest, size, search.

Reports are generated from the five seeds: each seed parsed once, then copied with another agency
name and scaled numbers, and its document bytes made unique (as a real corpus would be).

Figures printed (alternating rounds in one process, each round on fresh databases; best and median):
- save report: ``Store.save_report`` of a parsed report whose document is already stored (what the
  parse stage's writer does), one transaction per report: agency identity, richer-parse-wins, cells,
  warnings, text and its FTS5 trigram index;
- its baseline: a plain sqlite-utils insert of the same rows (the report row, its cells, warnings and
  text) into a database of the same schema (same indexes, same FTS triggers, same PRAGMAs), one
  transaction per report: what the same cells cost to write with no Store in between;
- save document: ``Store.save_document`` of a new document (the crawl's store thread, per report
  page) against plain sqlite-utils inserts of the same five rows into the same schema, CPU time;
- whole path: save_document + save_report + sync_findings per report, against the older baseline
  (report rows and cells only, into tables sqlite-utils creates: no documents, no FTS, no findings);
- ingest: the whole path on files: store (crawler.ingest.ingest_document), the parse stage's pool,
  the within-report checks;
- size: database bytes per 1,000 reports, with and without the stored document bytes.

Usage: .venv/bin/python bench/storage_bench.py [--reports 1000] [--rounds 5] [--files 200]
"""
from __future__ import annotations

import argparse
import json
import copy
import os
import statistics
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


def _prestored(path: Path, pairs) -> Store:
    """A fresh database holding the pairs' documents (not timed): the reports are what is measured."""
    store = Store(path)
    versions = []
    with store.transaction():
        for doc, _ in pairs:
            versions.append(store.save_document(doc).version_id)
    store.versions = versions  # type: ignore[attr-defined]
    return store


def bench_save_report(path: Path, pairs) -> float:
    store = _prestored(path, pairs)
    t0, c0 = time.perf_counter(), time.process_time()
    for (doc, report), vid in zip(pairs, store.versions):
        store.save_report(report, version_id=vid, report_url=doc.url, site=doc.site, first_seen=doc.fetched_at)
    elapsed = time.perf_counter() - t0, time.process_time() - c0
    store.close()
    return elapsed


_CELL_COLUMNS = ("report_id", "table_name", "row", "column", "value", "raw", "kind", "label", "confidence")


def bench_same_rows(path: Path, pairs) -> float:
    """The same rows as save_report writes, by plain sqlite-utils, into the same schema."""
    store = _prestored(path, pairs)
    versions = store.versions
    store.close()
    db = sqlite_utils.Database(path, execute_plugins=False)
    for pragma in ("journal_mode = WAL", "synchronous = NORMAL", "foreign_keys = ON"):
        db.conn.execute(f"PRAGMA {pragma}")
    t0, c0 = time.perf_counter(), time.process_time()
    for (doc, report), vid in zip(pairs, versions):
        with db.atomic():
            rid = db["reports"].insert({
                "report_url": doc.url, "agency": report.agency, "agency_printed": report.agency_printed,
                "site": doc.site, "year": report.year, "template": report.template, "title": report.title,
                "published": report.published.isoformat() if report.published else None,
                "first_seen": doc.fetched_at.isoformat(), "status": report.status.value, "error": report.error,
                "warnings_count": len(report.warnings), "cells_count": len(report.cells),
                "assessable_cells": sum(1 for c in report.cells if c.kind.assessable), "version_id": vid,
                "source_url": doc.url, "source_sha256": doc.sha256, "format": report.source.format,
                "checks_due": 1}).last_pk
            db["cells"].insert_all([_CELL_COLUMNS, *((rid, c.table, c.row, c.column, c.value, c.raw, c.kind.value,
                                                      c.label, c.confidence) for c in report.cells)], batch_size=1000)
            db["warnings"].insert_all(({"report_id": rid, "seq": i, "code": w.code, "message": w.message,
                                        "cell": w.cell} for i, w in enumerate(report.warnings)), batch_size=1000)
            db["report_text"].insert({"report_id": rid, "agency": report.agency, "year": report.year,
                                      "title": report.title, "text": report.text,
                                      "sections": json.dumps(report.sections, ensure_ascii=False, sort_keys=True)
                                      if report.sections else None})
    elapsed = time.perf_counter() - t0, time.process_time() - c0
    db.conn.close()
    return elapsed


def bench_save_document(path: Path, pairs) -> tuple[float, float]:
    """``Store.save_document`` of each new document (what the crawl's store thread does for a report
    page): its blob, document, version, event and fetch rows, one transaction each."""
    store = Store(path)
    t0, c0 = time.perf_counter(), time.process_time()
    for doc, _ in pairs:
        store.save_document(doc)
    elapsed = time.perf_counter() - t0, time.process_time() - c0
    store.close()
    return elapsed


def bench_same_document_rows(path: Path, pairs) -> tuple[float, float]:
    """The same five rows as save_document writes for a new document, by plain sqlite-utils, into the
    same schema (no lookup of the stored document first: every document here is new)."""
    Store(path).close()  # the schema
    db = sqlite_utils.Database(path, execute_plugins=False)
    for pragma in ("journal_mode = WAL", "synchronous = NORMAL", "foreign_keys = ON"):
        db.conn.execute(f"PRAGMA {pragma}")
    # the Table objects made once, as Store does (``db[name]`` asks sqlite_master each time)
    blobs, documents, versions, events, fetches = (db.table(n) for n in (
        "blobs", "documents", "document_versions", "events", "fetches"))
    t0, c0 = time.perf_counter(), time.process_time()
    for doc, _ in pairs:
        seen = doc.fetched_at.isoformat()
        with db.atomic():
            blobs.insert({"sha256": doc.sha256, "size": doc.size, "content": doc.content}, ignore=True)
            did = documents.insert({"url": doc.url, "site": doc.site, "report_url": doc.report_url,
                                          "link_title": doc.link_title, "listing_date": doc.listing_date,
                                          "page_date": doc.page_date, "first_seen": seen, "last_seen": seen}).last_pk
            vid = versions.insert({
                "document_id": did, "sha256": doc.sha256, "size": doc.size, "content_type": doc.content_type,
                "http_status": doc.status, "etag": doc.etag, "last_modified": doc.last_modified, "first_seen": seen,
                "last_seen": seen, "parse_status": "pending"}).last_pk
            db.conn.execute("UPDATE documents SET latest_version_id = ? WHERE id = ?", (vid, did))
            events.insert({"kind": "new_document", "at": seen, "url": doc.url, "document_id": did,
                                 "version_id": vid, "detail": json.dumps({"sha256": doc.sha256, "size": doc.size})})
            fetches.insert({"url": doc.url, "site": doc.site, "fetched_at": seen, "http_status": doc.status,
                                  "fetch_status": doc.fetch_status, "sha256": doc.sha256, "version_id": vid})
    elapsed = time.perf_counter() - t0, time.process_time() - c0
    db.conn.close()
    return elapsed


def rounds(n: int, pairs, tmp: Path, a, b) -> tuple[list[tuple[float, float]], list[tuple[float, float]]]:
    """n rounds of a and b on fresh databases, alternating which goes first: (wall, CPU) seconds each."""
    ta, tb = [], []
    for i in range(n):
        order = ((a, ta), (b, tb)) if i % 2 == 0 else ((b, tb), (a, ta))
        for fn, out in order:
            out.append(fn(tmp / f"{fn.__name__}-{i}.db", pairs))
    return ta, tb


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
    ap.add_argument("--rounds", type=int, default=5, help="alternating rounds of save report and its baseline")
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
        load_before = os.getloadavg()
        t_save, t_rows = rounds(args.rounds, pairs, tmp, bench_save_report, bench_same_rows)
        t_doc, t_doc_rows = rounds(args.rounds, pairs, tmp, bench_save_document, bench_same_document_rows)
        load_after = os.getloadavg()
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
    n = args.reports
    print(f"method   : {args.rounds} alternating rounds, fresh databases each; {os.cpu_count()} cores; load average "
          f"{load_before[0]:.1f} before, {load_after[0]:.1f} after; wall time, and CPU time of this process "
          f"(user + system: steadier on a loaded machine)")
    for label, k in (("wall", 0), ("CPU", 1)):
        a, b = [t[k] for t in t_save], [t[k] for t in t_rows]
        ratios = [y / x for x, y in zip(a, b)]
        print(f"save     : {n / min(a):8.1f} reports/s best, {n / statistics.median(a):.1f} median by {label} time "
              f"(Store.save_report: identity, richer parse wins, cells, warnings, text + FTS; one transaction each)")
        print(f"same rows: {n / min(b):8.1f} reports/s best, {n / statistics.median(b):.1f} median by {label} time "
              f"(plain sqlite-utils insert of the same rows into the same schema)")
        print(f"ratio    : Store at {min(b) / min(a):.2f}x the plain insert's rate by {label} time (best vs best), "
              f"{statistics.median(ratios):.2f}x median of the rounds' ratios ({', '.join(f'{r:.2f}' for r in ratios)}); "
              f"target 0.8")
    a, b = [t[1] for t in t_doc], [t[1] for t in t_doc_rows]
    ratios = [y / x for x, y in zip(a, b)]
    print(f"document : {n / statistics.median(a):8.1f} documents/s median by CPU time (Store.save_document of a new "
          f"document: blob, document, version, event, fetch; one transaction each); the same rows by plain "
          f"sqlite-utils {n / statistics.median(b):.1f}/s; Store at {statistics.median(ratios):.2f}x median of the "
          f"rounds' ratios ({', '.join(f'{r:.2f}' for r in ratios)})")
    print(f"store    : {args.reports / t_store:8.1f} reports/s  ({t_store:.2f} s; document+report+cells+FTS+findings, "
          f"one transaction each)")
    print(f"cells    : {args.reports / t_base:8.1f} reports/s  ({t_base:.2f} s; sqlite-utils insert of report rows and "
          f"cells only, tables it creates: no documents, no FTS, no findings)")
    print(f"ratio    : the whole path takes {t_store / t_base:.2f}x the cells-only baseline's time")
    print(f"ingest   : {args.files / t_ingest:8.1f} reports/s  ({t_ingest:.2f} s for {args.files} documents; parse + "
          f"checks + store)")
    print(f"size     : {store_size * per_k / 1e6:.2f} MB per 1,000 reports "
          f"({(store_size - blob_bytes) * per_k / 1e6:.2f} MB without the documents' bytes; "
          f"baseline {base_size * per_k / 1e6:.2f} MB, ratio {store_size / base_size:.2f}x)")
    print(f"search   : 6-char FTS5 trigram {hits} hits in {t_fts * 1000:.1f} ms; 2-char LIKE fallback {hits2} hits "
          f"in {t_like * 1000:.1f} ms")


if __name__ == "__main__":
    main()
