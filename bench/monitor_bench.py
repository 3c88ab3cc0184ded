"""Monitor benchmark: how long the checks and the alert composition take on a large database.

A database is filled with N agencies x 2 years of reports on each of S sites (built from the seed
values, numbers varied, every narrative different) through the Store API, as a crawl stores them;
``--db`` keeps it for later runs (built once, reused while its report count matches).  Then, in one run:

- checks, first pass: monitor.checks.runner.run_checks (within-report rules, cross-year rules,
  copied text against last year and against every other agency of the site, deadlines, missing,
  revised) on an empty findings table: every finding new.  At national size the runner checks
  the sites in a pool of worker processes (one per core) and this process writes the findings;
- baseline: load every report the checks read (each site's report rows, its checkable reports
  with their cells, its revised events), with the same workers and the same tasks, without
  checking: the floor any pass over the database pays; so the checks' own cost shows;
- checks, second pass: everything known, nothing may be new;
- the baseline again (rounds alternate: pass, baseline, pass, baseline; the ratios use both);
- copied: the text-similarity rule alone on reports of one year (the only quadratic part),
  every pair against MinHash LSH candidates;
- alerts: compose the digest of every open finding (Jinja2 HTML + text).

Figures: wall time and CPU seconds (this process and its worker processes: the figure that does
not depend on the other users of the machine), peak RSS of this process and of the largest worker.

- national size (--sites 3000 --agencies 17: 102,000 reports).

Usage: .venv/bin/python bench/monitor_bench.py [--agencies 200] [--sites 1] [--db PATH]
"""
from __future__ import annotations

import argparse
import copy
import multiprocessing as mp
import json
import os
import random
import resource
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from datetime import date, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "monitor"))

from mon_helpers import balanced, expected, previous_year_of, report_from, store_report  # noqa: E402

from monitor.alerts import AlertSettings, compose  # noqa: E402
from monitor.checks import cross_year  # noqa: E402
from monitor.checks import runner  # noqa: E402
from monitor.checks.runner import MonitorSettings, run_checks  # noqa: E402
from storage import check_reads  # noqa: E402
from storage.db import Store  # noqa: E402

_WORDS = ("公开", "解读", "回应", "平台", "制度", "培训", "监督", "考核", "政策", "办理", "渠道", "规范", "专栏",
          "目录", "申请", "答复", "督查", "整改", "会议", "网站", "数据", "服务", "事项", "清单")


def _sections(rng: random.Random, agency: str, year: int) -> dict[str, str]:
    def para(n: int) -> str:
        return "，".join("".join(rng.choice(_WORDS) for _ in range(3)) for _ in range(n)) + "。"
    return {"overview": f"{year}年，{agency}" + para(40), "proactive": para(5), "requests": para(5),
            "appeals": para(3), "problems": para(12), "other": "本单位未收取信息处理费。"}


#: Agencies stored per transaction (two reports each): one commit per 2,000 reports.
BUILD_BATCH = 1000


def build(path: Path, agencies: int, sites: int = 1) -> None:
    """``agencies`` agencies on each of ``sites`` sites, two years each, through the Store API."""
    rng = random.Random(7)
    seeds = [expected(n) for n in ("000", "002", "003", "004")]
    t0 = time.perf_counter()
    with Store(path) as store:
        for start in range(0, agencies * sites, BUILD_BATCH):
            with store.transaction():  # the Store's writes join this one transaction
                for k in range(start, min(start + BUILD_BATCH, agencies * sites)):
                    _store_agency(store, rng, seeds, k, agencies, sites)
            if start and start % 10000 == 0:
                print(f"  built {2 * start} reports in {time.perf_counter() - t0:.0f}s", flush=True)


def _store_agency(store: Store, rng: random.Random, seeds: list[dict], k: int, agencies: int, sites: int) -> None:
    i, site = k % agencies, ("demo" if sites == 1 else f"site{k // agencies:04d}")
    data = copy.deepcopy(seeds[i % len(seeds)])
    name = f"示例区第{i}局" if sites == 1 else f"示例{site}第{i}局"
    data["table2"]["punishment"] = rng.randint(0, 500)
    data["table3"]["granted"][0] += i % 3
    data["table3"]["granted"][6] += i % 3
    data["table3"]["total_processed"][0] += i % 3
    data["table3"]["total_processed"][6] += i % 3
    balanced(data)
    prev = previous_year_of(data)
    store_report(store, report_from(prev, agency=name, sections=_sections(rng, name, prev["year"])),
                 site=site, seen=datetime(2024, 1, 20))
    store_report(store, report_from(data, agency=name, sections=_sections(rng, name, data["year"])),
                 site=site, seen=datetime(2025, 1, 20))


# -- CPU and memory of this process and its workers -------------------------------------------

def cpu_seconds() -> float:
    """User + system CPU of this process and of its children that ended (the pool's workers end
    with each pass)."""
    return sum(cpu_split())


def cpu_split() -> tuple[float, float]:
    """(this process, its ended children): user + system CPU seconds."""
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime, kids.ru_utime + kids.ru_stime


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _peak_worker_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024


def _load() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


# -- the baseline: what the checks read, without checking -------------------------------------

def load_everything(store: Store, sites: list) -> int:
    """Read what ``check_site`` reads for each site, in the runner's worker pool and tasks
    (``runner.pool_workers``, ``runner.SITES_PER_TASK``); returns the reports loaded."""
    n = runner.pool_workers(store, len(sites))
    if n == 1:
        return sum(_load_sites(store, sites))
    tasks = [sites[i:i + runner.SITES_PER_TASK] for i in range(0, len(sites), runner.SITES_PER_TASK)]
    with ProcessPoolExecutor(n, mp_context=mp.get_context("spawn")) as pool:
        return sum(sum(counts) for counts in pool.map(_load_task, [(str(store.path), task) for task in tasks]))


def _load_task(args) -> list[int]:
    path, sites = args
    with Store(path, readonly=True) as store:
        return _load_sites(store, sites)


def _load_sites(store: Store, sites: list) -> list[int]:
    out = []
    for site in sites:
        rows = [r for r in store.reports(site=site) if r.get("site") == site]
        ids = [r["id"] for r in rows if r.get("status") in ("parsed", "partial")]
        out.append(len(store.load_reports(ids)))
        store.revised_events(site=site)
    return out


def _sites(store: Store) -> list:
    return check_reads.report_sites(store)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--agencies", type=int, default=200, help="agencies per site")
    ap.add_argument("--sites", type=int, default=1)
    ap.add_argument("--copied-sample", type=int, default=2000,
                    help="reports of one year for the copied rule's every-pair comparison (0: skip)")
    ap.add_argument("--db", type=Path, help="build the database here once and reuse it on later runs "
                    "(the checks' findings are reset first); default: a temporary file")
    args = ap.parse_args()
    want = 2 * args.agencies * args.sites
    print(f"machine: {os.cpu_count()} cores, load average {_load()}; one round of each step, in the order "
          f"pass 1, baseline, pass 2, baseline; CPU = this process and its workers (user + system)", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        db = args.db or Path(tmp) / "bench.db"
        if args.db and db.exists():
            with Store(db) as store:
                have = store.counts()["reports"]  # not store.reports(): this process's peak RSS is a figure
                if have != want:
                    sys.exit(f"{db} holds {have} reports, not the {want} asked for: remove it or give another --db")
                store.conn.execute("DELETE FROM findings")  # a first pass finds everything new again
            print(f"reusing {db} ({have} reports)", flush=True)
        else:
            t, c = time.perf_counter(), cpu_seconds()
            build(db, args.agencies, args.sites)
            print(f"built {want} reports in {time.perf_counter() - t:.1f}s (CPU {cpu_seconds() - c:.1f}s), "
                  f"{db.stat().st_size / 1e6:.0f} MB; not a figure of the checks", flush=True)
        with Store(db) as store:
            settings = MonitorSettings(sites=None)
            sites = _sites(store)
            workers = runner.pool_workers(store, len(sites))
            print(f"{len(sites)} sites, {workers} worker process(es)", flush=True)
            passes, bases = [], []
            for round_ in (1, 2):
                t, (own0, kids0) = time.perf_counter(), cpu_split()
                summary = run_checks(store, settings, today=date(2025, 6, 1))
                own1, kids1 = cpu_split()
                wall, own, kids = time.perf_counter() - t, own1 - own0, kids1 - kids0
                cpu = own + kids
                passes.append((wall, cpu, summary))
                print(f"checks    pass {round_} ({'every finding new' if round_ == 1 else 'all known'})  {wall:7.1f}s wall  "
                      f"CPU {cpu:6.1f}s (this process {own:.1f}, workers {kids:.1f})  "
                      f"{summary.reports / wall:6.0f} reports/s  {len(summary.new)} new, "
                      f"{summary.still_open} still open, {len(summary.resolved)} resolved"
                      + (f"  peak RSS {_peak_rss_mb():.0f} MB (this process), {_peak_worker_rss_mb():.0f} MB "
                         f"(largest worker)" if round_ == 1 else "") + f"  load {_load()}", flush=True)
                t, c = time.perf_counter(), cpu_seconds()
                n = load_everything(store, sites)
                wall, cpu = time.perf_counter() - t, cpu_seconds() - c
                bases.append((wall, cpu))
                print(f"baseline  load every report    {wall:7.1f}s wall  CPU {cpu:6.1f}s  {n / wall:6.0f} reports/s  "
                      f"({n} reports)  load {_load()}", flush=True)
            base_wall = sum(w for w, _ in bases) / 2
            base_cpu = sum(c for _, c in bases) / 2
            for i, (wall, cpu, summary) in enumerate(passes, 1):
                print(f"ratio     pass {i}: {wall / base_wall:4.1f}x the baseline's wall, {cpu / base_cpu:4.1f}x its CPU "
                      f"(mean of the two baselines)")
            first, second = passes[0][2], passes[1][2]
            if second.new or second.resolved:
                print(f"WARNING: the second pass found {len(second.new)} new and resolved {len(second.resolved)}")

            copied = copied_lsh = None
            if args.copied_sample:
                cur = [r for r in store.load_reports(
                    r["id"] for r in store.reports(year=2024)[:args.copied_sample])]
                t = time.perf_counter()
                cross_year.Prepared().compare_all(cur, settings.copied_similarity, method="exact")
                copied = time.perf_counter() - t
                import datasketch  # noqa: F401  (cross_year imports it on first use: not part of the figure)

                t = time.perf_counter()
                cross_year.Prepared().compare_all(cur, settings.copied_similarity, method="lsh")
                copied_lsh = time.perf_counter() - t
                print(f"copied    {len(cur)} reports of one year, every pair  {copied:7.2f}s  "
                      f"({len(cur) * (len(cur) - 1)} ordered pairs)")
                print(f"copied    the same, MinHash LSH candidates   {copied_lsh:7.2f}s  ratio "
                      f"{copied / copied_lsh:5.1f}x faster", flush=True)
            findings = store.findings(open_only=True)
            t = time.perf_counter()
            digests = compose(findings, AlertSettings(recipients=["a@example.org"]),
                              reports={r["id"]: r for r in store.reports()})
            alerts = time.perf_counter() - t
            print(f"alerts    compose {len(findings)} findings {alerts:7.2f}s")
            print(f"memory    peak RSS {_peak_rss_mb():.0f} MB (this process), {_peak_worker_rss_mb():.0f} MB "
                  f"(largest worker) at the end")
        print(json.dumps({
            "reports": first.reports, "sites": len(sites), "workers": workers,
            "pass1_wall_s": round(passes[0][0], 1), "pass1_cpu_s": round(passes[0][1], 1),
            "pass2_wall_s": round(passes[1][0], 1), "pass2_cpu_s": round(passes[1][1], 1),
            "baseline_wall_s": [round(w, 1) for w, _ in bases], "baseline_cpu_s": [round(c, 1) for _, c in bases],
            "findings_first_pass": len(first.new), "new_second_pass": len(second.new),
            "open_findings": len(findings), "digest_kb": round(len(digests[0].html) / 1024) if digests else 0,
            "copied_every_pair_s": copied and round(copied, 2), "copied_lsh_s": copied_lsh and round(copied_lsh, 2),
        }, ensure_ascii=False))
        print(f"load average at the end {_load()}")


if __name__ == "__main__":
    main()
