"""Parse pool benchmark: the parse stage on N workers against one worker, on the same documents in
the same run; and the re-parse of the whole demo database, timed.

1. The demo database is built once (``crawler.demo.showcase.run_demo``: the bundled portals, every
   format: HTML pages, PDF, DOCX, DOC/WPS through LibreOffice, text), or read from ``--db``.
2. Baseline: ``nianbao reparse --all`` of every stored document with one worker, on a copy.
3. The pool: the same with ``--workers`` (default: one per core), on another copy.
4. Optionally (``--corpus N``) the same two runs over N pending text reports (``nianbao ingest``'s
   path), where per-document work is small and the pool's overhead shows.

Each timing is the best of ``--repeat`` runs (each on a fresh copy, with a parser version of its
own so every document is read).  The figures say how many cores the process may use and the load
average: on a machine shared with other work the ratio falls short of what two idle cores give.
Usage: ``python bench/parse_pool_bench.py [--db data/demo/nianbao.db] [--workers 2] [--repeat 2]``.
"""
from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _reparse(db: Path, workers: int, tag: str, repeat: int, tmp: Path) -> tuple[float, int, dict]:
    from crawler.parse_stage import ParseSettings, reparse
    from storage.db import Store

    best, n, statuses, slow = float("inf"), 0, {}, []
    for i in range(repeat):
        copy = tmp / f"{tag}-{i}.db"
        shutil.copy(db, copy)
        with Store(copy) as store:
            started = time.perf_counter()
            summary = reparse(store, ParseSettings(workers=workers, parser_version=f"bench-{tag}-{i}"),
                              everything=True)
            best = min(best, time.perf_counter() - started)
            n, statuses = summary.written, dict(summary.statuses)
            slow = summary.slowest
        copy.unlink()
    print(f"    slowest documents ({tag}): " + ", ".join(f"{sec:.1f}s {url.rsplit('/', 1)[-1]}" for sec, url in slow))
    return best, n, statuses


def _pending(files: list[Path], workers: int, tag: str, repeat: int, tmp: Path) -> tuple[float, int]:
    from crawler.ingest import ingest_paths
    from crawler.parse_stage import ParseSettings, parse_pending
    from storage.db import Store

    best, n = float("inf"), 0
    for i in range(repeat):
        path = tmp / f"corpus-{tag}-{i}.db"
        with Store(path) as store:
            ingest_paths(store, files)
            started = time.perf_counter()
            n = parse_pending(store, ParseSettings(workers=workers)).written
            best = min(best, time.perf_counter() - started)
        path.unlink()
    return best, n


def main() -> None:
    from crawler.parse_stage import cores

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--db", default=None, help="a demo database to re-parse (default: build one)")
    ap.add_argument("--workers", type=int, default=0, help="pool size (default: one per core)")
    ap.add_argument("--repeat", type=int, default=2, help="best of this many runs")
    ap.add_argument("--corpus", type=int, default=0, help="also N pending text reports (0: skip)")
    args = ap.parse_args()
    workers = args.workers or cores()
    print(f"parse pool bench: {cores()} cores available, load average {os.getloadavg()[0]:.1f} "
          f"(other work on the machine lowers every figure and the ratio); best of {args.repeat}")
    with tempfile.TemporaryDirectory(prefix="nianbao-pool-bench-") as tmp:
        tmp = Path(tmp)
        if args.db:
            db = Path(args.db)
        else:
            from crawler.demo.showcase import run_demo

            t = time.perf_counter()
            summary = run_demo(tmp / "demo", progress=False, echo=lambda s: None)
            db = summary.database
            print(f"  demo database built in {time.perf_counter() - t:.0f}s: {db}")
        one, n, statuses = _reparse(db, 1, "one", args.repeat, tmp)
        print(f"  re-parse of the whole demo database, 1 worker (baseline): {n} documents in {one:.2f}s "
              f"({n / one:.1f}/s); {', '.join(f'{k} {v}' for k, v in sorted(statuses.items()))}")
        many, n2, _ = _reparse(db, workers, "pool", args.repeat, tmp)
        print(f"  re-parse of the whole demo database, {workers} workers:          {n2} documents in {many:.2f}s "
              f"({n2 / many:.1f}/s); ratio to 1 worker {one / many:.2f} (target >= 1.7 on 2 idle cores)")
        if args.corpus:
            sys.path.insert(0, str(ROOT / "tests" / "storage"))
            from storage_helpers import make_corpus

            files = make_corpus(tmp / "corpus", args.corpus)
            c1, m = _pending(files, 1, "one", args.repeat, tmp)
            cn, _ = _pending(files, workers, "pool", args.repeat, tmp)
            print(f"  parse-pending of {m} text reports: 1 worker {m / c1:.1f}/s, {workers} workers {m / cn:.1f}/s; "
                  f"ratio {c1 / cn:.2f}")


if __name__ == "__main__":
    main()
