"""Crawl benchmark: pages per second and peak memory on a generated portal, against `scrapy bench`.

Everything on loopback, politeness off (no delays, no AutoThrottle, no robots.txt, 64 requests in
flight) for every run, so the figures compare the crawl machinery, not the wait:

1. baseline: ``scrapy bench`` (Scrapy's own link-following spider and bench server), same settings;
2. nianbao spider only (``--dry-run``: discovery, adapters, title filter; items dropped), with and
   without the URL policy middleware (``--no-url-policy``), alternating, ``--policy-rounds`` times
   each: the policy's cost is the ratio of the medians of the two pages/s figures;
3. nianbao full crawl into a fresh database (store + parse every report, as `nianbao crawl` does);
4. nianbao incremental re-crawl of the same portal when nothing changed (conditional requests, 304s).

The portal (``crawler.demo.portal.build_portal(pages=N)``, a TRS tree: 年报 → year → 部门 → unit
listing → report page) runs in its own process, like scrapy bench's server.  Peak memory is the
crawl process's max RSS.  Usage: ``python bench/crawl_bench.py [--pages 20000] [--skip-full]``.
"""
from __future__ import annotations

import argparse
import json
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

IMPOLITE = {"CONCURRENT_REQUESTS": 64, "CONCURRENT_REQUESTS_PER_DOMAIN": 64, "DOWNLOAD_DELAY": 0,
            "AUTOTHROTTLE_ENABLED": False, "ROBOTSTXT_OBEY": False}


def start_portal(pages: int) -> tuple[subprocess.Popen, str]:
    proc = subprocess.Popen([sys.executable, "-m", "crawler.demo.server", "--scale", str(pages)], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    line = proc.stdout.readline()
    m = re.search(r"(http://127\.0\.0\.1:\d+)", line)
    if not m:
        proc.kill()
        raise SystemExit(f"demo portal did not start: {line!r}")
    return proc, m.group(1)


def scrapy_bench(seconds: int) -> dict:
    """Scrapy's own benchmark, with the same concurrency; figures from its final stats dump."""
    args = [str(Path(sys.executable).with_name("scrapy")), "bench", "-s", f"CLOSESPIDER_TIMEOUT={seconds}",
            "-s", "LOG_LEVEL=INFO"]
    for k, v in IMPOLITE.items():
        args += ["-s", f"{k}={v}"]
    with tempfile.TemporaryDirectory() as tmp:  # outside any Scrapy project
        out = subprocess.run(args, cwd=tmp, capture_output=True, text=True, timeout=seconds + 120)
    text = out.stdout + out.stderr
    responses = int(re.search(r"'response_received_count': (\d+)", text).group(1))
    elapsed = float(re.search(r"'elapsed_time_seconds': ([\d.]+)", text).group(1))
    mem = re.search(r"'memusage/max': (\d+)", text)
    return {"pages": responses, "seconds": elapsed, "pages_per_s": responses / elapsed,
            "peak_rss_mb": int(mem.group(1)) / 2**20 if mem else None}


def our_crawl(config_json: Path, db: Path, *, dry_run: bool, url_policy: bool = True) -> dict:
    result = config_json.with_suffix(f".{time.monotonic_ns()}.json")
    cmd = [sys.executable, "-m", "crawler.crawl", "--config-json", str(config_json), "--db", str(db),
           "--result", str(result), "--impolite"]
    if dry_run:
        cmd.append("--dry-run")
    if not url_policy:
        cmd.append("--no-url-policy")
    started = time.monotonic()
    subprocess.run(cmd, cwd=ROOT, check=True, stderr=subprocess.DEVNULL)
    wall = time.monotonic() - started
    data = json.loads(result.read_text())
    st = data["stats"]
    pages = st.get("response_received_count", 0)
    elapsed = st.get("elapsed_time_seconds") or wall
    return {"pages": pages, "seconds": elapsed, "wall_s": wall, "pages_per_s": pages / elapsed,
            "peak_rss_mb": data["peak_rss_mb"], "reports": st.get("nianbao/reports", 0),
            "not_modified": st.get("nianbao/fetch/not_modified", 0),
            "conditional": st.get("nianbao/conditional_requests", 0),
            "new_documents": st.get("nianbao/documents_is_new", 0)}


def policy_cost_per_request(start_url: str, n: int = 50_000) -> float:
    """Seconds the URL policy middleware spends on one request, in process (no download): a
    figure the busy machine disturbs less than two whole crawls."""
    from scrapy.http import Request
    from scrapy.utils.test import get_crawler

    from crawler.middlewares import UrlPolicyMiddleware
    from spiders.portal import PortalSpider

    crawler = get_crawler(PortalSpider, {"NIANBAO_SITES": [{"name": "scale", "start_url": start_url,
                                                            "max_pages": n + 1}]})
    mw = UrlPolicyMiddleware.from_crawler(crawler)
    requests = [Request(f"{start_url}p{i}.html", meta={"site": "scale"}) for i in range(n)]
    started = time.perf_counter()
    for r in requests:
        coro = mw.process_request(r)
        try:
            coro.send(None)  # an IP literal host: nothing to wait for
        except StopIteration:
            pass
    return (time.perf_counter() - started) / n


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--pages", type=int, default=20000, help="size of the generated portal (pages of a full crawl)")
    ap.add_argument("--bench-seconds", type=int, default=30, help="how long `scrapy bench` runs")
    ap.add_argument("--skip-full", action="store_true", help="spider-only figures (no store, no re-crawl)")
    ap.add_argument("--policy-rounds", type=int, default=2,
                    help="spider-only runs with and without the URL policy, alternating (cost = ratio of medians)")
    args = ap.parse_args()

    from crawler.config import config_from_dict
    from crawler.demo.portal import build_portal

    expected_reports = len(build_portal(pages=args.pages).expected_reports())
    print(f"crawl bench: generated TRS portal of ~{args.pages} pages ({expected_reports} reports), loopback, "
          f"politeness off")
    base = scrapy_bench(args.bench_seconds)
    print(f"  scrapy bench (baseline)     {base['pages_per_s']:8.1f} pages/s  ({base['pages']} pages in "
          f"{base['seconds']:.1f}s), peak {base['peak_rss_mb'] or float('nan'):.0f} MB")
    portal, url = start_portal(args.pages)
    try:
        with tempfile.TemporaryDirectory(prefix="nianbao-crawl-bench-") as tmp:
            sites = [{"name": "scale", "start_url": url + "/zwgk/index.html"}]
            cfg = config_from_dict({"crawl": {"obey_robots": False, "autothrottle": False, "download_delay": 0,
                                              "retries": 1}, "sites": sites})
            cfg_json = Path(tmp) / "config.json"
            cfg_json.write_text(json.dumps(cfg.model_dump(mode="json", by_alias=True)))
            spider = our_crawl(cfg_json, Path(tmp) / "dry.db", dry_run=True)
            print(f"  nianbao spider only         {spider['pages_per_s']:8.1f} pages/s  ({spider['pages']} pages in "
                  f"{spider['seconds']:.1f}s), peak {spider['peak_rss_mb']:.0f} MB, "
                  f"{spider['reports']} report pages; ratio to scrapy bench "
                  f"{spider['pages_per_s'] / base['pages_per_s']:.2f}")
            if spider["reports"] != expected_reports:
                print(f"  !! found {spider['reports']} report pages, expected {expected_reports}")
            with_policy, without = [spider["pages_per_s"]], []
            for i in range(args.policy_rounds):
                without.append(our_crawl(cfg_json, Path(tmp) / "dry.db", dry_run=True, url_policy=False)["pages_per_s"])
                if i + 1 < args.policy_rounds:
                    with_policy.append(our_crawl(cfg_json, Path(tmp) / "dry.db", dry_run=True)["pages_per_s"])
            on, off = statistics.median(with_policy), statistics.median(without)
            print(f"  URL policy cost: spider only {on:8.1f} pages/s with the policy middleware, {off:.1f} without "
                  f"(medians of {len(with_policy)} and {len(without)} alternating runs); with/without "
                  f"{on / off:.3f}, cost {100 * (1 - on / off):+.1f}% (target < 5%)")
            per = policy_cost_per_request(url + "/zwgk/")
            print(f"  URL policy alone: {per * 1e6:.1f} µs per request in process, "
                  f"{100 * per * spider['pages_per_s']:.2f}% of a page's time at {spider['pages_per_s']:.1f} pages/s")
            if args.skip_full:
                return
            db = Path(tmp) / "bench.db"
            full = our_crawl(cfg_json, db, dry_run=False)
            print(f"  nianbao full crawl (store+parse) {full['pages_per_s']:5.1f} pages/s  ({full['pages']} pages in "
                  f"{full['seconds']:.1f}s), peak {full['peak_rss_mb']:.0f} MB, {full['new_documents']} documents; "
                  f"ratio to scrapy bench {full['pages_per_s'] / base['pages_per_s']:.2f}")
            again = our_crawl(cfg_json, db, dry_run=False)
            print(f"  incremental re-crawl, nothing changed: {again['wall_s']:.1f}s wall ({again['seconds']:.1f}s "
                  f"crawling, {again['pages_per_s']:.1f} pages/s), {again['conditional']} conditional requests, "
                  f"{again['not_modified']} not modified, {again['new_documents']} new documents; "
                  f"{again['wall_s'] / full['wall_s']:.2f} of the first crawl's time")
    finally:
        portal.terminate()
        portal.wait()
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(f"  (largest child process RSS seen: {children:.0f} MB)")


if __name__ == "__main__":
    main()
