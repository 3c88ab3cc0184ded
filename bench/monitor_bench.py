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

Usage: .venv/bin/python bench/monitor_bench.py [--agencies 200]
"""
from __future__ import annotations

import argparse
import copy
import json
import random
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


def build(path: Path, agencies: int) -> None:
    rng = random.Random(7)
    seeds = [expected(n) for n in ("000", "002", "003", "004")]
    with Store(path) as store:
        for i in range(agencies):
            data = copy.deepcopy(seeds[i % len(seeds)])
            name = f"示例区第{i}局"
            data["table2"]["punishment"] = rng.randint(0, 500)
            data["table3"]["granted"][0] += i % 3
            data["table3"]["granted"][6] += i % 3
            data["table3"]["total_processed"][0] += i % 3
            data["table3"]["total_processed"][6] += i % 3
            balanced(data)
            prev = previous_year_of(data)
            store_report(store, report_from(prev, agency=name, sections=_sections(rng, name, prev["year"])),
                         seen=datetime(2024, 1, 20))
            store_report(store, report_from(data, agency=name, sections=_sections(rng, name, data["year"])),
                         seen=datetime(2025, 1, 20))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--agencies", type=int, default=200)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "bench.db"
        t = time.perf_counter()
        build(db, args.agencies)
        print(f"built {2 * args.agencies} reports in {time.perf_counter() - t:.1f}s")
        with Store(db) as store:
            t = time.perf_counter()
            loaded = [store.load_report(r["id"]) for r in store.reports(site="demo")]
            base = time.perf_counter() - t
            settings = MonitorSettings(sites=["demo"])
            t = time.perf_counter()
            first = run_checks(store, settings, today=date(2025, 6, 1))
            checks1 = time.perf_counter() - t
            t = time.perf_counter()
            second = run_checks(store, settings, today=date(2025, 6, 1))
            checks2 = time.perf_counter() - t
            cur = [r for r in loaded if r.year == 2024]
            t = time.perf_counter()
            pairs = 0
            for r in cur:
                for o in cur:
                    if o is not r:
                        cross_year.text_similarity(r, o)
                        pairs += 1
            copied = time.perf_counter() - t
            findings = store.findings(open_only=True)
            t = time.perf_counter()
            digests = compose(findings, AlertSettings(recipients=["a@example.org"]),
                              reports={r["id"]: r for r in store.reports()})
            alerts = time.perf_counter() - t
        n = len(loaded)
        print(json.dumps({"reports": n, "findings_first_pass": len(first.new), "new_second_pass": len(second.new),
                          "open_findings": len(findings), "digest_kb": round(len(digests[0].html) / 1024) if digests else 0},
                         ensure_ascii=False))
        print(f"baseline  load every report   {base:7.2f}s  {n / base:8.0f} reports/s")
        print(f"checks    first pass          {checks1:7.2f}s  {n / checks1:8.0f} reports/s  ratio {checks1 / base:5.1f}x baseline")
        print(f"checks    second pass         {checks2:7.2f}s  {n / checks2:8.0f} reports/s  ratio {checks2 / base:5.1f}x baseline")
        print(f"copied    {pairs} text pairs  {copied:7.2f}s  {pairs / copied:8.0f} pairs/s")
        print(f"alerts    compose {len(findings)} findings {alerts:7.2f}s")


if __name__ == "__main__":
    main()
