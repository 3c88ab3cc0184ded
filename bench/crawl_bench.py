"""Crawl benchmark: pages per second and peak memory on a generated portal, against a minimal
Scrapy spider following the same links, on the same server, portal and settings, in the same run.

Everything on loopback, politeness off (no delays, no AutoThrottle, no robots.txt, 64 requests in
flight) for every run, so the figures compare the crawl machinery, not the wait:

1. baseline: ``bench/minimal_spider.py`` (plain Scrapy: link extraction, the dupefilter, nothing
   else) against nianbao's spider only (``--dry-run``: discovery, adapters, title filter, URL
   policy; items dropped), alternating, ``--rounds`` times each; the ratio is on the medians;
2. the URL policy middleware's cost (spider only with and without it, alternating);
3. nianbao full crawl into a fresh database with the parse pool beside it (what ``nianbao run``
   does: ``crawler.parse_stage.parse_during`` takes each stored version while the crawl goes on):
   the crawl's pages/s with the pool running (Scrapy's elapsed time) and the pages over the wall
   time until the last report is written, each against the spider alone of the same run (its
   pages/s over elapsed time, and over its wall time: both include the crawl process's start);
4. nianbao incremental re-crawl of the same portal when nothing changed (conditional requests, 304s).

Each spider-only run and the re-crawl also print the CPU seconds of the crawl process (user +
system, start-up included, from ``getrusage(RUSAGE_CHILDREN)`` around the waited child) per
request, and the minimal/nianbao ratio of the medians: on a shared machine CPU is the figure to
compare, wall-clock pages/s the one to re-take on an idle one.

The portal (``crawler.demo.portal.build_portal(pages=N)``, a TRS tree: 年报 → year → 部门 → unit
listing → report page) runs in its own process.  The machine these figures were taken on has 2
cores shared with other work: every figure is printed with the load average at its start, and
baselines alternate with what they measure.  ``--scrapy-bench`` adds ``scrapy bench`` (its own
server and pages: not comparable, kept for reference).
Usage: ``python bench/crawl_bench.py [--pages 20000] [--rounds 2] [--skip-full]``.
"""
from __future__ import annotations

import argparse
import json
import os
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

# What the minimal spider gets on its command line; our crawl process computes its own from
# crawler/settings.py (--impolite), and main() checks the two agree on every key here, so the ratio
# compares spiders, not settings.  CONCURRENT_ITEMS: ours runs with 4 (crawler/settings.py); the
# minimal spider left at Scrapy's 100 would pay for 100 asyncio tasks a response and flatter ours.
IMPOLITE = {"CONCURRENT_REQUESTS": 64, "CONCURRENT_REQUESTS_PER_DOMAIN": 64, "DOWNLOAD_DELAY": 0,
            "AUTOTHROTTLE_ENABLED": False, "ROBOTSTXT_OBEY": False, "CONCURRENT_ITEMS": 4}


def check_same_settings(cfg) -> None:
    """Print the settings both spiders run with; stop if our crawl process would differ on one."""
    from crawler.settings import scrapy_settings

    ours = scrapy_settings(cfg, db_path=":memory:", run_id=None, sites=list(cfg.sites), progress=False,
                           polite=False)
    differ = {k: (v, ours.get(k)) for k, v in IMPOLITE.items() if ours.get(k) != v}
    if differ:
        raise SystemExit(f"minimal spider and nianbao would run with different settings "
                         f"(key: (minimal, nianbao)): {differ}")
    print("  both spiders: " + ", ".join(f"{k}={v}" for k, v in IMPOLITE.items()))


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


def _children_cpu() -> float:
    """CPU seconds (user + system) of the waited-for child processes so far."""
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def _self_cpu() -> float:
    """CPU seconds of this process (all its threads): beside a full crawl, the parse stage's writer."""
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


#: the portal server's pid (set in main): its CPU is read from /proc around each run, since it is
#: a child this process does not wait for until the end
SERVER_PID: int | None = None


def _server_cpu() -> float:
    if SERVER_PID is None:
        return 0.0
    try:
        with open(f"/proc/{SERVER_PID}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime
    except (OSError, IndexError, ValueError):
        return 0.0


def minimal_crawl(start_url: str) -> dict:
    """The baseline: bench/minimal_spider.py under ``scrapy runspider``, the same settings."""
    args = [str(Path(sys.executable).with_name("scrapy")), "runspider", str(ROOT / "bench" / "minimal_spider.py"),
            "-a", f"start_url={start_url}", "-s", "LOG_LEVEL=INFO", "-s", "TELNETCONSOLE_ENABLED=False"]
    for k, v in IMPOLITE.items():
        args += ["-s", f"{k}={v}"]
    load = os.getloadavg()[0]
    cpu0, server0 = _children_cpu(), _server_cpu()
    started = time.monotonic()
    with tempfile.TemporaryDirectory() as tmp:  # outside any Scrapy project
        out = subprocess.run(args, cwd=tmp, capture_output=True, text=True, timeout=3600)
    wall = time.monotonic() - started
    cpu, server_cpu = _children_cpu() - cpu0, _server_cpu() - server0
    text = out.stdout + out.stderr
    m = re.search(r"'response_received_count': (\d+)", text)
    if not m:
        raise SystemExit(f"minimal spider failed: {text[-2000:]}")
    responses = int(m.group(1))
    elapsed = float(re.search(r"'elapsed_time_seconds': ([\d.]+)", text).group(1))
    mem = re.search(r"'memusage/max': (\d+)", text)
    requests = re.search(r"'downloader/request_count': (\d+)", text)
    return {"pages": responses, "seconds": elapsed, "wall_s": wall, "pages_per_s": responses / elapsed,
            "wall_pages_per_s": responses / wall, "load": load, "cpu_s": cpu, "server_cpu_s": server_cpu,
            "requests": int(requests.group(1)) if requests else responses,
            "peak_rss_mb": int(mem.group(1)) / 2**20 if mem else float("nan")}


def our_crawl(config_json: Path, db: Path, *, dry_run: bool, url_policy: bool = True, during=None) -> dict:
    """nianbao's crawl process (``python -m crawler.crawl``); ``during``: called while it runs with
    a function telling whether it still does (the parse stage beside it); wall time ends when both end."""
    result = config_json.with_suffix(f".{time.monotonic_ns()}.json")
    cmd = [sys.executable, "-m", "crawler.crawl", "--config-json", str(config_json), "--db", str(db),
           "--result", str(result), "--impolite"]
    if dry_run:
        cmd.append("--dry-run")
    if not url_policy:
        cmd.append("--no-url-policy")
    load = os.getloadavg()[0]
    cpu0, self0, server0 = _children_cpu(), _self_cpu(), _server_cpu()
    started = time.monotonic()
    proc = subprocess.Popen(cmd, cwd=ROOT, stderr=subprocess.DEVNULL)
    extra = None
    try:
        if during is not None:
            extra = during(lambda: proc.poll() is None)
    finally:
        proc.wait()
    crawl_wall = (time.monotonic() - started) if during is None else None
    wall = time.monotonic() - started
    # the crawl process's CPU (with ``during``, the parse pool's processes are children too)
    cpu = _children_cpu() - cpu0
    self_cpu, server_cpu = _self_cpu() - self0, _server_cpu() - server0
    if proc.returncode != 0:
        raise SystemExit(f"crawl process exited with {proc.returncode}")
    data = json.loads(result.read_text())
    st = data["stats"]
    pages = st.get("response_received_count", 0)
    elapsed = st.get("elapsed_time_seconds") or wall
    return {"pages": pages, "seconds": elapsed, "wall_s": wall, "pages_per_s": pages / elapsed,
            "wall_pages_per_s": pages / wall, "crawl_wall_s": crawl_wall, "load": load, "cpu_s": cpu,
            "self_cpu_s": self_cpu, "server_cpu_s": server_cpu,
            "requests": st.get("downloader/request_count", pages),
            "peak_rss_mb": data["peak_rss_mb"], "reports": st.get("nianbao/reports", 0),
            "not_modified": st.get("nianbao/fetch/not_modified", 0),
            "conditional": st.get("nianbao/conditional_requests", 0),
            "new_documents": st.get("nianbao/documents_is_new", 0), "during": extra}


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
    ap.add_argument("--rounds", type=int, default=2, help="alternating runs of the baseline and nianbao's spider")
    ap.add_argument("--scrapy-bench", type=int, default=0, metavar="SECONDS",
                    help="also run `scrapy bench` this long (its own server and pages: for reference only)")
    ap.add_argument("--skip-full", action="store_true", help="spider-only figures (no store, no re-crawl)")
    ap.add_argument("--policy-rounds", type=int, default=None,
                    help="spider-only runs without the URL policy, after the alternating rounds (default: as many "
                         "as --rounds; cost = ratio of medians)")
    args = ap.parse_args()

    from crawler.config import config_from_dict
    from crawler.demo.portal import build_portal
    from crawler.parse_stage import ParseSettings, cores, parse_during
    from storage.db import Store

    expected_reports = len(build_portal(pages=args.pages).expected_reports())
    print(f"crawl bench: generated TRS portal of ~{args.pages} pages ({expected_reports} reports), loopback, "
          f"politeness off; {cores()} cores, load average {' '.join(f'{x:.1f}' for x in os.getloadavg())} "
          f"(a machine shared with other work: runs alternate, ratios on medians)")
    if args.scrapy_bench:
        base = scrapy_bench(args.scrapy_bench)
        print(f"  scrapy bench (reference only) {base['pages_per_s']:8.1f} pages/s  ({base['pages']} pages in "
              f"{base['seconds']:.1f}s)")
    portal, url = start_portal(args.pages)
    global SERVER_PID
    SERVER_PID = portal.pid
    try:
        with tempfile.TemporaryDirectory(prefix="nianbao-crawl-bench-") as tmp:
            start_url = url + "/zwgk/index.html"
            sites = [{"name": "scale", "start_url": start_url}]
            # the production caps (5,000 requests a site, 100 pages a listing) would cut a big bench portal short
            cfg = config_from_dict({"crawl": {"obey_robots": False, "autothrottle": False, "download_delay": 0,
                                              "retries": 1, "max_pages_per_site": 2 * args.pages + 100,
                                              "max_listing_pages": 1000}, "sites": sites})
            cfg_json = Path(tmp) / "config.json"
            cfg_json.write_text(json.dumps(cfg.model_dump(mode="json", by_alias=True)))
            check_same_settings(cfg)
            mins, ours = [], []
            for _ in range(args.rounds):
                mins.append(minimal_crawl(start_url))
                ours.append(our_crawl(cfg_json, Path(tmp) / "dry.db", dry_run=True))

            def show(label: str, runs: list[dict]) -> None:
                print(f"  {label}: " + "; ".join(
                    f"{r['pages']} pages in {r['seconds']:.1f}s = {r['pages_per_s']:.1f} pages/s "
                    f"(wall {r['wall_s']:.1f}s, load {r['load']:.1f}; CPU {r['cpu_s']:.1f}s = "
                    f"{1000 * r['cpu_s'] / max(1, r['requests']):.2f} ms per request; portal server "
                    f"{1000 * r['server_cpu_s'] / max(1, r['requests']):.2f} ms)" for r in runs)
                    + f"; peak {max(r['peak_rss_mb'] for r in runs):.0f} MB")

            show("minimal Scrapy spider (baseline)", mins)
            show("nianbao spider only            ", ours)
            m_med = statistics.median(r["pages_per_s"] for r in mins)
            o_med = statistics.median(r["pages_per_s"] for r in ours)
            print(f"  nianbao spider / minimal spider: {o_med:.1f} / {m_med:.1f} pages/s (medians of {args.rounds} "
                  f"alternating) = {o_med / m_med:.2f}; per pair "
                  + ", ".join(f"{o['pages_per_s'] / m['pages_per_s']:.2f}" for o, m in zip(ours, mins))
                  + " (target >= 0.9)")
            # CPU seconds of each crawl process (start-up included) per request: what the busy
            # machine disturbs least, and what bounds a night of many portals on few cores
            m_cpu = statistics.median(r["cpu_s"] / max(1, r["requests"]) for r in mins)
            o_cpu = statistics.median(r["cpu_s"] / max(1, r["requests"]) for r in ours)
            print(f"  CPU per request (crawl process, medians of {args.rounds} alternating): nianbao spider "
                  f"{1000 * o_cpu:.2f} ms, minimal spider {1000 * m_cpu:.2f} ms; minimal/nianbao = "
                  f"{m_cpu / o_cpu:.2f}; per pair "
                  + ", ".join(f"{(m['cpu_s'] / max(1, m['requests'])) / (o['cpu_s'] / max(1, o['requests'])):.2f}"
                              for o, m in zip(ours, mins))
                  + " (target >= 0.9)")
            spider = ours[0]
            if spider["reports"] != expected_reports:
                print(f"  !! found {spider['reports']} report pages, expected {expected_reports}")
            if args.policy_rounds is None:
                args.policy_rounds = args.rounds
            if args.policy_rounds:
                with_policy, without = [o["pages_per_s"] for o in ours], []
                for i in range(args.policy_rounds):
                    without.append(our_crawl(cfg_json, Path(tmp) / "dry.db", dry_run=True,
                                             url_policy=False)["pages_per_s"])
                on, off = statistics.median(with_policy), statistics.median(without)
                print(f"  URL policy cost: spider only {on:8.1f} pages/s with the policy middleware, {off:.1f} without "
                      f"(medians of {len(with_policy)} and {len(without)} runs); with/without "
                      f"{on / off:.3f}, cost {100 * (1 - on / off):+.1f}% (target < 5%)")
            per = policy_cost_per_request(url + "/zwgk/")
            print(f"  URL policy alone: {per * 1e6:.1f} µs per request in process, "
                  f"{100 * per * o_med:.2f}% of a page's time at {o_med:.1f} pages/s")
            if args.skip_full:
                return
            db = Path(tmp) / "bench.db"
            Store(db).close()  # migrated before the two processes open it

            def parse_beside(running):
                with Store(db) as store:
                    return parse_during(store, ParseSettings(), running)

            full = our_crawl(cfg_json, db, dry_run=False, during=parse_beside)
            parsed = full["during"]
            spider_wall = statistics.median(r["wall_pages_per_s"] for r in ours)
            print(f"  nianbao full crawl + parse pool beside it: {full['pages']} pages, {full['new_documents']} "
                  f"documents stored, {parsed.written} parsed ({parsed.workers} workers; "
                  f"{', '.join(f'{k} {v}' for k, v in sorted(parsed.statuses.items()))}); crawl {full['seconds']:.1f}s, "
                  f"last report written {parsed.after_crawl_s:.1f}s after the crawl ended; wall {full['wall_s']:.1f}s "
                  f"= {full['wall_pages_per_s']:.1f} pages/s (load {full['load']:.1f}), crawl peak "
                  f"{full['peak_rss_mb']:.0f} MB")
            # two figures against the spider alone of this same run: the crawl itself with the pool
            # running beside it (Scrapy's elapsed time, as the spider-only runs are counted), and
            # every page parsed (wall until the last report is written, as the spider's wall)
            print(f"  crawl with the parse pool beside it / spider only (pages/s over Scrapy's elapsed time, "
                  f"spider median of {args.rounds}): {full['pages_per_s']:.1f} / {o_med:.1f} = "
                  f"{full['pages_per_s'] / o_med:.2f} (target >= 0.9)")
            print(f"  every page stored and parsed / spider only (wall pages/s, spider median of {args.rounds}): "
                  f"{full['wall_pages_per_s']:.1f} / {spider_wall:.1f} = {full['wall_pages_per_s'] / spider_wall:.2f} "
                  f"(target >= 0.9); CPU of the crawl process and the parse workers (not this process's writer) {full['cpu_s']:.1f}s = "
                  f"{1000 * full['cpu_s'] / max(1, full['pages']):.2f} ms per page, spider alone "
                  f"{1000 * o_cpu:.2f} ms per request")
            # what the 2-core arithmetic needs, measured: every process's CPU per page, full crawl
            # against the spider alone (the portal server is part of both: it shares the cores)
            per = lambda cpu: 1000 * cpu / max(1, full["pages"])  # noqa: E731
            o_srv = statistics.median(r["server_cpu_s"] / max(1, r["requests"]) for r in ours)
            total = full["cpu_s"] + full["self_cpu_s"] + full["server_cpu_s"]
            print(f"  CPU per page, full crawl: crawl process and parse workers {per(full['cpu_s']):.2f} ms, this "
                  f"process (the parse writer) {per(full['self_cpu_s']):.2f} ms, portal server "
                  f"{per(full['server_cpu_s']):.2f} ms: {per(total):.2f} ms, at least {total / cores():.1f}s of wall "
                  f"on {cores()} cores; spider alone {1000 * o_cpu:.2f} + server {1000 * o_srv:.2f} ms per request "
                  f"(its wall {full['pages'] / spider_wall:.1f}s)")
            again = our_crawl(cfg_json, db, dry_run=False)
            print(f"  incremental re-crawl, nothing changed: {again['wall_s']:.1f}s wall ({again['seconds']:.1f}s "
                  f"crawling, {again['pages_per_s']:.1f} pages/s), {again['conditional']} conditional requests, "
                  f"{again['not_modified']} not modified, {again['new_documents']} new documents; "
                  f"{again['wall_s'] / full['wall_s']:.2f} of the first crawl's time; crawl process CPU "
                  f"{again['cpu_s']:.1f}s = {1000 * again['cpu_s'] / max(1, again['requests']):.2f} ms per request")
    finally:
        portal.terminate()
        portal.wait()
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(f"  (largest child process RSS seen: {children:.0f} MB)")


if __name__ == "__main__":
    main()
