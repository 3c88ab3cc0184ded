"""Monitor benchmark: how long the checks and the alert composition take on a large database.

A database is filled with N agencies x 2 years of reports on one site (built from the seed values,
numbers varied, every narrative different), then:

- baseline: load every report from the Store (Store.reports + load_report), the floor any pass
  over the database pays, in the same process;
- checks: monitor.checks.runner.run_checks (within-report rules, cross-year rules, copied text
  against last year and against every other agency of the site, deadlines, missing, revised),
  first pass (all findings new) and second pass (all known);
- copied: the text-similarity rule alone on the same pairs (it is the only quadratic part);
- alerts: compose the digest of every open finding (Jinja2 HTML + text).

- national size (--sites 3000 --agencies 17: about 100,000 reports): the checks pass with its
  peak memory, and the copied rule's candidate search (MinHash LSH) against comparing every pair.

Usage: .venv/bin/python bench/monitor_bench.py [--agencies 200] [--sites 1]
"""
from __future__ import annotations

import argparse
import copy
import json
import os
import random
import resource
import sys
import tempfile
import time
from datetime import date, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "monitor"))

from mon_helpers import balanced, expected, previous_year_of, report_from, store_report  # noqa: E402

from monitor.alerts import AlertSettings, compose  # noqa: E402
from monitor.checks import cross_year  # noqa: E402
from monitor.checks.runner import MonitorSettings, run_checks  # noqa: E402
from storage.db import Store  # noqa: E402

_WORDS = ("公开", "解读", "回应", "平台", "制度", "培训", "监督", "考核", "政策", "办理", "渠道", "规范", "专栏",
          "目录", "申请", "答复", "督查", "整改", "会议", "网站", "数据", "服务", "事项", "清单")


def _sections(rng: random.Random, agency: str, year: int) -> dict[str, str]:
    def para(n: int) -> str:
        return "，".join("".join(rng.choice(_WORDS) for _ in range(3)) for _ in range(n)) + "。"
    return {"overview": f"{year}年，{agency}" + para(40), "proactive": para(5), "requests": para(5),
            "appeals": para(3), "problems": para(12), "other": "本单位未收取信息处理费。"}


def build(path: Path, agencies: int, sites: int = 1) -> None:
    """``agencies`` agencies on each of ``sites`` sites, two years each."""
    rng = random.Random(7)
    seeds = [expected(n) for n in ("000", "002", "003", "004")]
    t0 = time.perf_counter()
    with Store(path) as store:
        for k in range(agencies * sites):
            if k % 500 == 0:  # nested transactions join this one: one commit per 500 agencies
                if k:
                    batch.__exit__(None, None, None)
                    if k % 5000 == 0:
                        print(f"  built {2 * k} reports in {time.perf_counter() - t0:.0f}s", flush=True)
                batch = store.transaction()
                batch.__enter__()
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
        batch.__exit__(None, None, None)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--agencies", type=int, default=200, help="agencies per site")
    ap.add_argument("--sites", type=int, default=1)
    ap.add_argument("--passes", type=int, default=2, help="check passes (2: the second finds everything known)")
    ap.add_argument("--db", type=Path, help="build the database here once and reuse it on later runs "
                    "(the checks' findings are reset first); default: a temporary file")
    args = ap.parse_args()
    print(f"machine: {os.cpu_count()} cores shared with other users, load average "
          f"{' '.join(f'{x:.1f}' for x in os.getloadavg())}; one run of each step (the check pass is the figure; "
          f"CPU = this process's CPU seconds, the figure that does not depend on the other users)")
    with tempfile.TemporaryDirectory() as tmp:
        db = args.db or Path(tmp) / "bench.db"
        if args.db and db.exists():
            with Store(db) as store:
                store.conn.execute("DELETE FROM findings")  # a first pass finds everything new again
                store.conn.commit()
            print(f"reusing {db}")
        else:
            t = time.perf_counter()
            build(db, args.agencies, args.sites)
            print(f"built {2 * args.agencies * args.sites} reports in {time.perf_counter() - t:.1f}s")
        with Store(db) as store:
            # the check pass first (the figure, with its own peak memory), then the baseline; each
            # figure is printed as soon as it is measured (a national-size run takes long)
            settings = MonitorSettings(sites=None)
            t, c = time.perf_counter(), time.process_time()
            first = run_checks(store, settings, today=date(2025, 6, 1))
            checks1, cpu1 = time.perf_counter() - t, time.process_time() - c
            rss_checks = _peak_rss_mb()
            n = first.reports
            print(f"checks    first pass          {checks1:7.2f}s  {n / checks1:8.0f} reports/s  CPU {cpu1:.1f}s  "
                  f"peak RSS {rss_checks:.0f} MB  ({len(first.new)} findings)  load "
                  f"{' '.join(f'{x:.1f}' for x in os.getloadavg())}", flush=True)
            t = time.perf_counter()
            rows = store.reports()
            n = 0
            sample: list = []  # reports of one year for the copied comparison, at most 2,000
            for site in sorted({r["site"] for r in rows}):  # site by site, as the checks load them
                for report in store.load_reports(r["id"] for r in rows if r["site"] == site):
                    n += 1
                    if report.year == 2024 and len(sample) < 2000:
                        sample.append(report)
            base = time.perf_counter() - t
            print(f"baseline  load every report   {base:7.2f}s  {n / base:8.0f} reports/s; the first pass took "
                  f"{checks1 / base:5.1f}x it", flush=True)
            if args.passes > 1:
                t, c = time.perf_counter(), time.process_time()
                second = run_checks(store, settings, today=date(2025, 6, 1))
                checks2, cpu2 = time.perf_counter() - t, time.process_time() - c
                print(f"checks    second pass         {checks2:7.2f}s  {n / checks2:8.0f} reports/s  ratio "
                      f"{checks2 / base:5.1f}x baseline  CPU {cpu2:.1f}s  ({len(second.new)} new)", flush=True)
            cur = sample  # every pair of 2,000 is 4 M ordered pairs
            t = time.perf_counter()
            cross_year.Prepared().compare_all(cur, settings.copied_similarity, method="exact")
            copied = time.perf_counter() - t
            t = time.perf_counter()
            cross_year.Prepared().compare_all(cur, settings.copied_similarity, method="lsh")
            copied_lsh = time.perf_counter() - t
            pairs = len(cur) * (len(cur) - 1)
            print(f"copied    {len(cur)} reports of one year, every pair  {copied:7.2f}s  ({pairs} ordered pairs)")
            print(f"copied    the same, MinHash LSH candidates   {copied_lsh:7.2f}s  ratio {copied / copied_lsh:5.1f}x "
                  f"faster", flush=True)
            findings = store.findings(open_only=True)
            t = time.perf_counter()
            digests = compose(findings, AlertSettings(recipients=["a@example.org"]),
                              reports={r["id"]: r for r in store.reports()})
            alerts = time.perf_counter() - t
            print(f"alerts    compose {len(findings)} findings {alerts:7.2f}s")
            print(f"memory    peak RSS {rss_checks:.0f} MB after the first check pass, {_peak_rss_mb():.0f} MB at the "
                  f"end (after loading every report for the baseline)")
        print(json.dumps({"reports": n, "findings_first_pass": len(first.new), "open_findings": len(findings),
                          "digest_kb": round(len(digests[0].html) / 1024) if digests else 0}, ensure_ascii=False))
        print(f"load average at the end {' '.join(f'{x:.1f}' for x in os.getloadavg())}")


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


if __name__ == "__main__":
    main()
