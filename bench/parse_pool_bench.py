"""Parse pool benchmark: the parse stage on N workers against one worker, on the same documents in
the same run; and the re-parse of the whole demo database, timed.

1. The demo database is built once (``crawler.demo.showcase.run_demo``: the bundled portals, every
   format: HTML pages, PDF, DOCX, DOC/WPS through LibreOffice, a scanned image through OCR, text),
   or read from ``--db``.
2. Re-parse of the whole demo database (``nianbao reparse --all``), timed with the pool.
3. Scaling: the demo database has ~40 documents, a few of them slow (a LibreOffice conversion, an
   OCR), too few to show a pool's throughput.  So its documents are stored ``--copies`` times each
   under other URLs (the same bytes: one blob, ``--copies`` versions to parse), and that database
   is re-parsed with one worker and with ``--workers``, alternating (1, N, 1, N, ...), ``--repeat``
   rounds, each on a fresh copy with a parser version of its own so every document is read.
4. Optionally (``--corpus N``) the same over N pending text reports (``nianbao ingest``'s path),
   where per-document work is small and the parent's writing shows.

The machine this was written on has 2 cores shared with other work: each figure is printed with the
load average and the CPU the pool actually got (CPU seconds of parent + workers / wall seconds);
the ratio is taken on the medians of the alternating runs (and the best pair is printed too).
5. ``--portal N`` (only that): CPU milliseconds per report of the stage's worker and parent on N
   of the crawl bench's report pages, against ``parse_bytes`` alone (what issue 11's full crawl has
   to fit into the CPU the crawl leaves); ``--against DIR``: the same measured with another checkout's
   code (e.g. main before a change) in a process of its own, rounds alternating, and the ratios.
6. ``--beside-crawl PAGES`` (only that): the stage beside a real crawl of a PAGES-page portal; CPU per
   report of the workers, the parent and the crawl process, each counted apart.
Usage: ``python bench/parse_pool_bench.py [--db data/demo/nianbao.db] [--workers 2] [--repeat 3] [--portal N
[--against DIR]] [--beside-crawl PAGES]``.
"""
from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if "--root" in sys.argv:  # a round for --against: the other checkout's code, not this file's
    ROOT = Path(sys.argv[sys.argv.index("--root") + 1]).resolve()
sys.path.insert(0, str(ROOT))


def _cpu() -> float:
    """CPU seconds of this process and its finished children (the workers are joined by the stage)."""
    s, c = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return s.ru_utime + s.ru_stime + c.ru_utime + c.ru_stime


def _reparse_once(db: Path, workers: int, tag: str, tmp: Path, *, pending: bool = False) -> dict:
    """``reparse --all`` of a copy of ``db`` (``pending``: ``parse-pending`` of its pending versions)."""
    from crawler.parse_stage import ParseSettings, parse_pending, reparse
    from storage.db import Store

    copy = tmp / f"{tag}.db"
    shutil.copy(db, copy)
    try:
        with Store(copy) as store:
            load, cpu, started = os.getloadavg()[0], _cpu(), time.perf_counter()
            settings = ParseSettings(workers=workers, parser_version=f"bench-{tag}")
            summary = parse_pending(store, settings) if pending else reparse(store, settings, everything=True)
            wall = time.perf_counter() - started
            return {"wall": wall, "cpu": _cpu() - cpu, "load": load, "n": summary.written,
                    "statuses": dict(summary.statuses), "slowest": summary.slowest}
    finally:
        copy.unlink()


def _multiply(db: Path, copies: int, out: Path) -> int:
    """A database holding each document of ``db`` ``copies`` times (other URLs, the same bytes)."""
    from storage.db import Store
    from storage.models import Document

    with Store(db, readonly=True) as src:
        rows = src.conn.execute(
            "SELECT d.url, d.site, d.link_title, d.listing_date, d.page_date, d.report_url, v.content_type, "
            "v.sha256 FROM documents d JOIN document_versions v ON v.id = d.latest_version_id "
            "WHERE v.parse_status != 'pending' ORDER BY v.id").fetchall()
        docs = [(dict(r), src.blob(r["sha256"])) for r in rows]
    n = 0
    with Store(out) as dst:
        for k in range(copies):
            for r, content in docs:
                def moved(u: str | None) -> str | None:
                    return None if u is None else f"{u}{'&' if '?' in u else '?'}copy={k}"
                dst.save_document(Document(url=moved(r["url"]), content=content, content_type=r["content_type"],
                                           site=r["site"], link_title=r["link_title"],
                                           listing_date=r["listing_date"], page_date=r["page_date"],
                                           report_url=moved(r["report_url"])))
                n += 1
    return n


def _scaling(db: Path, workers: int, repeat: int, tmp: Path, label: str) -> None:
    one, many = [], []
    for i in range(repeat):  # alternating: a change of the machine's load hits both sides alike
        one.append(_reparse_once(db, 1, f"one-{i}", tmp, pending=True))
        many.append(_reparse_once(db, workers, f"pool-{i}", tmp, pending=True))
    n = one[0]["n"]
    for tag, runs in ((f"1 worker ", one), (f"{workers} workers", many)):
        walls = [r["wall"] for r in runs]
        print(f"    {label}, {tag}: {n} documents; wall s " + ", ".join(f"{w:.1f}" for w in walls)
              + f" (median {statistics.median(walls):.1f}, {n / statistics.median(walls):.1f} docs/s); "
              f"cores obtained (CPU s / wall s) " + ", ".join(f"{r['cpu'] / r['wall']:.2f}" for r in runs)
              + "; load average at start " + ", ".join(f"{r['load']:.1f}" for r in runs))
    med = statistics.median(r["wall"] for r in one) / statistics.median(r["wall"] for r in many)
    pairs = [a["wall"] / b["wall"] for a, b in zip(one, many)]
    print(f"  {label}: pool of {workers} vs 1 worker: ratio of medians {med:.2f}, per alternating pair "
          + ", ".join(f"{p:.2f}" for p in pairs) + f" (best {max(pairs):.2f}); target >= 1.7 on 2 cores")
    # what the pool itself costs, whatever the machine's load: CPU per document, and the speed-up
    # per unit of CPU the pool was given (1.0: it turns every core it gets into throughput)
    cpu1 = statistics.median(r["cpu"] for r in one) / n
    cpun = statistics.median(r["cpu"] for r in many) / n
    got = statistics.median(r["cpu"] / r["wall"] for r in many) / statistics.median(r["cpu"] / r["wall"] for r in one)
    print(f"    CPU per document: 1 worker {cpu1 * 1000:.0f} ms, {workers} workers {cpun * 1000:.0f} ms "
          f"(pool overhead {100 * (cpun / cpu1 - 1):+.0f}%); the pool obtained {got:.2f}x the CPU of one worker "
          f"and turned it into a {med:.2f}x speed-up (efficiency {med / got:.2f})")


def _pending(files: list[Path], workers: int, tag: str, tmp: Path) -> float:
    from crawler.ingest import ingest_paths
    from crawler.parse_stage import ParseSettings, parse_pending
    from storage.db import Store

    path = tmp / f"corpus-{tag}.db"
    with Store(path) as store:
        ingest_paths(store, files)
        started = time.perf_counter()
        parse_pending(store, ParseSettings(workers=workers))
        wall = time.perf_counter() - started
    path.unlink()
    return wall


def _portal_docs(n: int):
    from crawler.demo.portal import build_portal
    from storage.models import Document

    portal, base = build_portal(pages=20000), "http://127.0.0.1:9"
    docs = []
    for i in range(n):
        y, k = 2015 + i % 10, i // 10
        path = portal.report_path(k, y)
        docs.append(Document(url=base + path, content=portal.respond("GET", path, {}, b"", base).body,
                             content_type="text/html; charset=utf-8", site="scale",
                             link_title=f"{portal.unit(k)}{y}年政府信息公开工作年度报告",
                             listing_date=f"{y + 1}-01-{k % 28 + 1:02d}"))
    return portal, base, docs


def _portal_round(n: int, tmp: Path) -> dict:
    """One round of ``_portal_cpu``: parse_bytes alone, then the stage, CPU ms per report."""
    from crawler.ingest import ingest_document
    from crawler.parse_stage import ParseSettings, parse_pending
    from crawler.parsing import parse_bytes
    from storage.db import Store

    portal, base, docs = _portal_docs(n)
    src = tmp / "portal.db"
    with Store(src) as store:
        store.upsert_site("scale", region=portal.site_configs(base)[0]["region"])
        for d in docs:
            ingest_document(store, d)

    def usage(who) -> float:
        r = resource.getrusage(who)
        return r.ru_utime + r.ru_stime

    t = time.process_time()
    for d in docs:
        parse_bytes(d.content, url=d.url, content_type=d.content_type, hints={"link_title": d.link_title})
    alone = (time.process_time() - t) / n
    with Store(src) as store:
        s, c = usage(resource.RUSAGE_SELF), usage(resource.RUSAGE_CHILDREN)
        summary = parse_pending(store, ParseSettings(workers=1))
        parent = (usage(resource.RUSAGE_SELF) - s) / summary.written
        worker = (usage(resource.RUSAGE_CHILDREN) - c) / summary.written
    src.unlink()
    return {"alone": 1000 * alone, "worker": 1000 * worker, "parent": 1000 * parent, "n": summary.written}


def _portal_cpu(n: int, repeat: int, tmp: Path, against: str | None = None) -> None:
    """CPU milliseconds per report of the parse stage on the crawl bench's report pages
    (``crawler.demo.portal.build_portal``: a TRS page of ~63 KB holding one of the five seeds' reports
    as a Word-paste HTML fragment): the worker's (its parsing, the pipes, its start counted in) and the
    parent's (receiving, writing each report: what competes with a crawl beside it), against
    ``parse_bytes`` alone in this process, alternating round by round.  ``against``: another checkout
    (the code before a change) measured the same way in a process of its own, rounds alternating
    (it, this tree, it, ...)."""
    import json
    import subprocess

    ours: list[dict] = []
    theirs: list[dict] = []
    for _ in range(repeat):
        if against:
            other = Path(against).resolve()
            python = other / ".venv" / "bin" / "python"
            # this file's round run with the other checkout's code (its own interpreter and sys.path)
            out = subprocess.run([str(python if python.exists() else sys.executable), str(Path(__file__).resolve()),
                                  "--portal-round", str(n), "--root", str(other)],
                                 cwd=other, capture_output=True, text=True, check=True)
            theirs.append(json.loads(out.stdout.strip().splitlines()[-1]))
        ours.append(_portal_round(n, tmp))

    def ms(rounds: list[dict], key: str) -> str:
        xs = [r[key] for r in rounds]
        return f"{statistics.median(xs):.1f} ms (rounds " + ", ".join(f"{x:.1f}" for x in xs) + ")"

    print(f"  crawl bench report pages ({n}, one worker, {repeat} alternating rounds; CPU time): "
          f"parse_bytes alone {ms(ours, 'alone')}; parse stage: worker {ms(ours, 'worker')}, parent "
          f"{ms(ours, 'parent')} per report; load average {os.getloadavg()[0]:.1f}")
    if theirs:
        print(f"  the same with {against} (alternating with the rounds above): parse_bytes alone "
              f"{ms(theirs, 'alone')}; parse stage: worker {ms(theirs, 'worker')}, parent {ms(theirs, 'parent')}")
        med = {k: (statistics.median(r[k] for r in ours), statistics.median(r[k] for r in theirs))
               for k in ("alone", "worker", "parent")}
        stage = [(o["worker"] + o["parent"], t["worker"] + t["parent"]) for o, t in zip(ours, theirs)]
        over = [((o["worker"] - o["alone"]) + o["parent"], (t["worker"] - t["alone"]) + t["parent"])
                for o, t in zip(ours, theirs)]
        print(f"  this tree / {against}, medians: worker {med['worker'][0] / med['worker'][1]:.2f}, parent "
              f"{med['parent'][0] / med['parent'][1]:.2f}; worker + parent per report "
              f"{statistics.median(a for a, _ in stage):.1f} / {statistics.median(b for _, b in stage):.1f} ms = "
              f"{statistics.median(a for a, _ in stage) / statistics.median(b for _, b in stage):.2f} (per round "
              + ", ".join(f"{a / b:.2f}" for a, b in stage) + "); the stage beyond parse_bytes (worker - alone + "
              f"parent) {statistics.median(a for a, _ in over):.1f} / {statistics.median(b for _, b in over):.1f} ms")


def _beside_crawl(pages: int, repeat: int, tmp: Path) -> None:
    """The parse stage beside a real crawl (``nianbao run``'s path, as bench/crawl_bench.py's full crawl:
    ``parse_during`` while ``python -m crawler.crawl`` crawls a generated portal of ``pages`` pages):
    the CPU seconds of the crawl process (its own rusage, from wait4), of the parse workers (this
    process's other waited children) and of the pool's parent (this process), per report.  The
    crawl process and the workers are both children of the bench: counted together (what a bench
    reading RUSAGE_CHILDREN around the crawl sees) they read as tens of ms per report."""
    import json
    import re
    import subprocess

    from crawler.config import config_from_dict
    from crawler.parse_stage import ParseSettings, parse_during
    from storage.db import Store

    def usage(who) -> float:
        r = resource.getrusage(who)
        return r.ru_utime + r.ru_stime

    portal = subprocess.Popen([sys.executable, "-m", "crawler.demo.server", "--scale", str(pages)], cwd=ROOT,
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        url = re.search(r"(http://127\.0\.0\.1:\d+)", portal.stdout.readline()).group(1)
        cfg = config_from_dict({"crawl": {"obey_robots": False, "autothrottle": False, "download_delay": 0,
                                          "retries": 1, "max_pages_per_site": 2 * pages + 100,
                                          "max_listing_pages": 1000},
                                "sites": [{"name": "scale", "start_url": url + "/zwgk/index.html"}]})
        cfg_json = tmp / "config.json"
        cfg_json.write_text(json.dumps(cfg.model_dump(mode="json", by_alias=True)))
        for i in range(repeat):
            db = tmp / f"beside-{i}.db"
            Store(db).close()  # migrated before the two processes open it
            load = os.getloadavg()[0]
            children, me, started = usage(resource.RUSAGE_CHILDREN), usage(resource.RUSAGE_SELF), time.monotonic()
            crawl = subprocess.Popen([sys.executable, "-m", "crawler.crawl", "--config-json", str(cfg_json), "--db",
                                      str(db), "--result", str(tmp / f"result-{i}.json"), "--impolite"], cwd=ROOT,
                                     stderr=subprocess.DEVNULL)
            box: dict = {}

            def running() -> bool:
                if "rusage" not in box:
                    pid, status, ru = os.wait4(crawl.pid, os.WNOHANG)
                    if pid == 0:
                        return True
                    box["rusage"] = ru
                    crawl.returncode = os.waitstatus_to_exitcode(status)
                return False

            with Store(db) as store:
                summary = parse_during(store, ParseSettings(), running)
            while running():
                time.sleep(0.1)
            n = max(1, summary.written)
            crawl_cpu = box["rusage"].ru_utime + box["rusage"].ru_stime
            workers = usage(resource.RUSAGE_CHILDREN) - children - crawl_cpu
            parent = usage(resource.RUSAGE_SELF) - me
            print(f"  beside a crawl of a {pages}-page portal (round {i + 1}, load average {load:.1f}, "
                  f"{time.monotonic() - started:.0f} s wall): {summary.written} reports "
                  f"({', '.join(f'{k} {v}' for k, v in sorted(summary.statuses.items()))}), workers at nice "
                  f"{sorted(set(summary.worker_nices))}; CPU per report: workers {1000 * workers / n:.1f} ms, parent "
                  f"{1000 * parent / n:.1f} ms; crawl process {crawl_cpu:.1f} s "
                  f"({1000 * crawl_cpu / n:.1f} ms per report); crawl + workers together (all the waited "
                  f"children) {1000 * (crawl_cpu + workers) / n:.1f} ms per report")
    finally:
        portal.terminate()
        portal.wait()


def main() -> None:
    from crawler.parse_stage import cores

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--db", default=None, help="a demo database to re-parse (default: build one)")
    ap.add_argument("--workers", type=int, default=0, help="pool size (default: one per core)")
    ap.add_argument("--repeat", type=int, default=3, help="alternating rounds (1 worker, then the pool)")
    ap.add_argument("--copies", type=int, default=6, help="each demo document this many times for the scaling runs")
    ap.add_argument("--corpus", type=int, default=0, help="also N pending text reports (0: skip)")
    ap.add_argument("--portal", type=int, default=0, metavar="N",
                    help="only: CPU per report of the stage on N of the crawl bench's report pages")
    ap.add_argument("--against", default=None, metavar="DIR",
                    help="with --portal: also another checkout (the code before), rounds alternating")
    ap.add_argument("--beside-crawl", type=int, default=0, metavar="PAGES",
                    help="only: CPU per report of the workers, the parent and the crawl process, the stage "
                         "beside a crawl of a generated portal of PAGES pages")
    ap.add_argument("--portal-round", type=int, default=0, help=argparse.SUPPRESS)  # one round, as JSON (--against)
    ap.add_argument("--root", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.portal_round:
        import json

        with tempfile.TemporaryDirectory(prefix="nianbao-pool-bench-") as tmp:
            print(json.dumps(_portal_round(args.portal_round, Path(tmp))))
        return
    workers = args.workers or cores()
    print(f"parse pool bench: {cores()} cores available to this process, load average "
          f"{' '.join(f'{x:.1f}' for x in os.getloadavg())} (other work on the machine takes cores from "
          f"both sides; see 'cores obtained')")
    with tempfile.TemporaryDirectory(prefix="nianbao-pool-bench-") as tmp:
        tmp = Path(tmp)
        if args.portal:
            _portal_cpu(args.portal, args.repeat, tmp, args.against)
            return
        if args.beside_crawl:
            _beside_crawl(args.beside_crawl, args.repeat, tmp)
            return
        if args.db:
            db = Path(args.db)
        else:
            from crawler.demo.showcase import run_demo

            t = time.perf_counter()
            summary = run_demo(tmp / "demo", progress=False, echo=lambda s: None)
            db = summary.database
            print(f"  demo database built in {time.perf_counter() - t:.0f}s: {db}")
        runs = [_reparse_once(db, workers, f"whole-{i}", tmp) for i in range(args.repeat)]
        best = min(runs, key=lambda r: r["wall"])
        print(f"  re-parse of the whole demo database ({workers} workers): {best['n']} documents in "
              f"{best['wall']:.2f}s best of {args.repeat} (median {statistics.median(r['wall'] for r in runs):.2f}s, "
              f"{best['n'] / best['wall']:.1f} docs/s); "
              f"{', '.join(f'{k} {v}' for k, v in sorted(best['statuses'].items()))}")
        print("    slowest documents: " + ", ".join(f"{sec:.1f}s {url.rsplit('/', 1)[-1][:40]}"
                                                   for sec, url in best["slowest"]))
        many = tmp / "many.db"
        n = _multiply(db, args.copies, many)
        print(f"  scaling corpus: the demo database's documents x{args.copies} = {n} documents")
        _scaling(many, workers, args.repeat, tmp, f"demo documents x{args.copies}")
        if args.corpus:
            sys.path.insert(0, str(ROOT / "tests" / "storage"))
            from storage_helpers import make_corpus

            files = make_corpus(tmp / "corpus", args.corpus)
            c1, cn = [], []
            for i in range(args.repeat):
                c1.append(_pending(files, 1, f"one-{i}", tmp))
                cn.append(_pending(files, workers, f"pool-{i}", tmp))
            m = len(files)
            print(f"  parse-pending of {m} text reports (small documents: the parent's writing weighs): "
                  f"1 worker {m / statistics.median(c1):.1f}/s, {workers} workers {m / statistics.median(cn):.1f}/s "
                  f"(medians of {args.repeat} alternating); ratio {statistics.median(c1) / statistics.median(cn):.2f}")


if __name__ == "__main__":
    main()
