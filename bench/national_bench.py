"""National benchmark (issue 14 item 1): a first full crawl and an incremental night of N portals.

The demo's scale mode (``crawler.demo.scale.Nation``) serves N portals in the conformance zoo's
platform styles from one HTTP server process, told apart by Host header.  The crawl runs in a
child process of this script with the production Scrapy settings (``crawler.settings.scrapy_settings``:
download delay 1 s, 2 requests per host, AutoThrottle, robots.txt, the URL policy) and three
broad-crawl changes, all printed:

- ``DNS_RESOLVER`` = ``national_bench.ScaleResolver``: the portals' names (``pNNNN.scale.nianbao.test``)
  resolve to 127.0.0.1 in the crawl process, so each portal is its own host, its own download slot
  with its own delay and concurrency.  The URL policy is unchanged: it refuses loopback addresses
  unless the site's start host is itself on one, which is what the resolver makes true here (the
  config says nothing special: start_url is the portal's home page under its host name);
- ``CONCURRENT_REQUESTS`` (global, default 512 here, production 16): with 1 s per host, the
  requests waiting for their host's delay count against the global limit, so a broad crawl
  needs many more in flight than a one-portal crawl;
- ``SCHEDULER_PRIORITY_QUEUE`` = ``scrapy.pqueues.DownloaderAwarePriorityQueue`` (Scrapy's
  broad-crawl advice): the next request goes to the host with the fewest in flight.

Stages, each timed with its pages (documents) per second, the peak RSS of the process tree doing
the work (this script and its children, the portal server excluded; sampled from /proc every
0.5 s), the peak of this script's own RSS (it is the parse writer, the checks, the alerts and the
loopback mailbox, but also holds the bench's bookkeeping), the peak PSS of the tree
(``/proc/PID/smaps_rollup``: a page shared by several processes, such as a library's code, is split
among them, where the RSS sum counts it once per process; pages shared with processes outside the
tree, such as the portal server's copy of the same libraries, are split with those too, so the
tree's PSS is a little under what it would hold alone) and the database size after it:

1. full crawl (night 0, empty database), parse pool, checks, alerts;
2. the server moves to night 1 (5% of the reports new or revised); incremental crawl (listings
   re-read, reports and PDFs asked with If-None-Match / If-Modified-Since), parse pool (the new
   and revised versions), checks, alerts.

Alerts go by real SMTP to an aiosmtpd mailbox on loopback.

Usage::

    .venv/bin/python bench/national_bench.py [--sites 300] [--concurrency 512] [--db PATH]

The machine is shared: the load average is printed before and after each stage.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from datetime import date, datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from crawler.demo.scale import HOST_SUFFIX  # noqa: E402

try:  # the resolver is loaded by Scrapy from this module in the crawl child
    from scrapy.resolver import CachingThreadedResolver
    from twisted.internet import defer

    class ScaleResolver(CachingThreadedResolver):
        """The scale portals' names resolve to 127.0.0.1 (an /etc/hosts of 3,000 lines, in-process);
        any other name goes to the system resolver as usual."""

        def getHostByName(self, name: str, timeout=()):
            if name.lower().endswith("." + HOST_SUFFIX):
                return defer.succeed("127.0.0.1")
            return super().getHostByName(name, timeout)
except ImportError:  # pragma: no cover
    ScaleResolver = None


class MemProbe:
    """Scrapy extension (bench only, ``--memprobe DIR``): every ``NIANBAO_MEMPROBE_EVERY`` s, one JSON line per
    crawl process with its RSS and what may hold it (requests pending in the scheduler, in the downloader,
    responses in the scraper, fingerprints, items waiting for the store thread); with
    ``NIANBAO_TRACEMALLOC`` the top allocation sites at each new RSS peak (tracemalloc slows the crawl)."""

    def __init__(self, crawler) -> None:
        from scrapy import signals

        self.crawler = crawler
        out = crawler.settings.get("NIANBAO_MEMPROBE_DIR")
        label = (crawler.settings.get("NIANBAO_PROGRESS_LABEL") or "crawl").replace(" ", "_").replace("/", "of")
        self.path = Path(out) / f"{label}.jsonl"
        self.every = crawler.settings.getfloat("NIANBAO_MEMPROBE_EVERY", 5.0)
        self.trace = crawler.settings.getbool("NIANBAO_TRACEMALLOC")
        self.peak = 0
        self.t0 = time.monotonic()
        if self.trace:
            import tracemalloc

            tracemalloc.start(1)
        crawler.signals.connect(self.opened, signal=signals.spider_opened)
        crawler.signals.connect(self.closed, signal=signals.spider_closed)

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler)

    def opened(self, spider) -> None:
        from twisted.internet import task

        self.task = task.LoopingCall(self.tick)
        self.task.start(self.every, now=False)

    def closed(self, spider) -> None:
        if self.task.running:
            self.task.stop()
        self.tick()

    def tick(self) -> None:
        eng = self.crawler.engine
        rec = {"t": round(time.monotonic() - self.t0, 1), "rss_mb": round(_rss_kb(os.getpid()) / 1024, 1)}
        try:
            sched = eng._slot.scheduler if eng._slot is not None else None
            rec["pending"] = len(sched) if sched is not None else 0
            rec["seen"] = len(getattr(sched.df, "fingerprints", ())) if sched is not None else 0
            rec["downloader_active"] = len(eng.downloader.active)
            rec["slots"] = len(eng.downloader.slots)
            rec["slot_queued"] = sum(len(s.queue) for s in eng.downloader.slots.values())
            rec["scraper_active"] = len(eng.scraper.slot.active)
            rec["scraper_bytes"] = eng.scraper.slot.active_size
            rec.update(_pending_breakdown(sched))
            spider = self.crawler.spider
            rec["stats_keys"] = len(self.crawler.stats.get_stats())
            rec["explain_events"] = sum(len(v) for v in getattr(spider, "explain", {}).values())
            pipes = [m for m in getattr(eng.scraper.itemproc, "middlewares", ()) if hasattr(m, "pool")]
            if pipes:
                rec["store_queue"] = pipes[0].pool._team.statistics().backloggedWorkCount
        except Exception as e:  # a probe must not stop the crawl
            rec["probe_error"] = repr(e)
        if self.trace and rec["rss_mb"] > self.peak * 1.05:
            import tracemalloc

            snap = tracemalloc.take_snapshot()
            rec["traced_mb"] = round(sum(s.size for s in snap.statistics("filename")) / 2**20, 1)
            rec["top"] = [[str(s.traceback[0]), round(s.size / 2**20, 2), s.count]
                          for s in snap.statistics("lineno")[:25]]
            rec["top_files"] = [[str(s.traceback[0].filename), round(s.size / 2**20, 2), s.count]
                                for s in snap.statistics("filename")[:15]]
        self.peak = max(self.peak, rec["rss_mb"])
        with open(self.path, "a") as f:
            f.write(json.dumps(rec) + "\n")


def _pending_breakdown(sched) -> dict:
    """Pending requests of a DownloaderAwarePriorityQueue by role and by priority, and how many hosts
    hold them (the largest host's count too): what the scheduler holds, and for whom."""
    pqueues = getattr(getattr(sched, "mqs", None), "pqueues", None)
    if pqueues is None:
        return {}
    roles: dict[str, int] = {}
    prios: dict[str, int] = {}
    biggest = 0
    for pq in pqueues.values():
        n = 0
        for prio, q in [*pq.queues.items(), *getattr(pq, "_start_queues", {}).items()]:
            items = getattr(q, "q", ())
            n += len(items)
            prios[str(-prio)] = prios.get(str(-prio), 0) + len(items)
            for r in items:
                role = r.meta.get("role", "?")
                roles[role] = roles.get(role, 0) + 1
        biggest = max(biggest, n)
    return {"pending_hosts": len(pqueues), "pending_max_host": biggest, "pending_roles": roles,
            "pending_prios": prios}


# -- measuring --------------------------------------------------------------------------------------
def _proc_kb(pid: int, name: str, key: str) -> int:
    """The kB figure of line ``key`` in ``/proc/PID/name`` (0 when the process is gone)."""
    try:
        with open(f"/proc/{pid}/{name}") as f:
            for line in f:
                if line.startswith(key):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def _rss_kb(pid: int) -> int:
    return _proc_kb(pid, "status", "VmRSS:")


def _pss_kb(pid: int) -> int:
    """Proportional set size: each shared page (libraries, pages a fork still shares) split among the
    processes that map it, where the RSS sum counts it once per process.  Pages shared with processes
    outside the tree are split with those too, so a tree's PSS is a little under what it holds alone."""
    return _proc_kb(pid, "smaps_rollup", "Pss:")


def _mb(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.0f} MB"


def _children() -> dict[int, int]:
    """pid -> parent pid of every process."""
    out = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open(f"/proc/{d}/stat") as f:
                    out[int(d)] = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                pass
    return out


class TreeRss:
    """Peak RSS (MB) of this process and its descendants (``exclude`` and theirs left out), of the
    largest single process and of this process alone, and the peak PSS of the tree (shared pages
    split among the processes mapping them; None where ``smaps_rollup`` cannot be read), sampled
    every ``every`` seconds while in the ``with`` block."""

    def __init__(self, exclude: set[int] = frozenset(), every: float = 0.2) -> None:
        self.exclude, self.every = set(exclude), every
        self.peak_tree = self.peak_one = self.peak_self = 0.0
        # a process that exits between the listing and the read counts 0, as in the RSS sum; a kernel
        # without smaps_rollup (before 4.14) gives no PSS at all
        self.peak_tree_pss: float | None = 0.0 if _pss_kb(os.getpid()) else None
        self._stop = threading.Event()

    def sample(self) -> None:
        parents = _children()
        tree, frontier = {os.getpid()}, [os.getpid()]
        while frontier:
            p = frontier.pop()
            for c, pp in parents.items():
                if pp == p and c not in tree and c not in self.exclude:
                    tree.add(c)
                    frontier.append(c)
        sizes = [_rss_kb(p) for p in tree]
        self.peak_tree = max(self.peak_tree, sum(sizes) / 1024)
        self.peak_one = max(self.peak_one, max(sizes) / 1024)
        self.peak_self = max(self.peak_self, _rss_kb(os.getpid()) / 1024)
        if self.peak_tree_pss is not None:
            self.peak_tree_pss = max(self.peak_tree_pss, sum(_pss_kb(p) for p in tree) / 1024)

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            self.sample()

    def __enter__(self) -> "TreeRss":
        self.sample()
        self._t = threading.Thread(target=self._run, daemon=True)
        self._t.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._t.join()
        self.sample()


def _cpu_s() -> float:
    """CPU seconds (user + system) of this process and its finished children."""
    a, b = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return a.ru_utime + a.ru_stime + b.ru_utime + b.ru_stime


def _proc_cpu_s(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return 0.0


def _pdeathsig() -> None:
    """A child of a killed bench stops too (Linux)."""
    import ctypes
    import signal

    try:
        ctypes.CDLL("libc.so.6").prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _load() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


def _db_mb(path: Path) -> float:
    return sum(p.stat().st_size for p in (path, Path(f"{path}-wal")) if p.exists()) / 1e6


# -- the portal server --------------------------------------------------------------------------------
class Server:
    """``python -m crawler.demo.scale`` in its own process (its own core, its own GIL)."""

    def __init__(self, sites: int, night: int, port: int = 0) -> None:
        self.proc = subprocess.Popen([sys.executable, "-m", "crawler.demo.scale", "--sites", str(sites),
                                      "--night", str(night), "--port", str(port)], cwd=ROOT,
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                                     preexec_fn=_pdeathsig)
        line = self.proc.stdout.readline()
        if "portals at" not in line:
            self.stop()
            raise RuntimeError(f"scale server did not start: {line!r}")
        self.port = int(line.split(f".{HOST_SUFFIX}:")[1].split("/")[0])

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


# -- the crawl -----------------------------------------------------------------------------------------------
def bench_settings(concurrency: int | None, memprobe: Path | None = None, tracemalloc: bool = False) -> dict:
    """Scrapy settings put over the production ones in every crawl process: the resolver, quieter logs,
    and the global concurrency only when --concurrency is given (production picks it: crawler.crawl)."""
    out = {"DNS_RESOLVER": "national_bench.ScaleResolver", "NIANBAO_PROGRESS_INTERVAL": 60.0, "LOG_LEVEL": "ERROR"}
    if concurrency:
        out["CONCURRENT_REQUESTS"] = concurrency
    if memprobe:  # (the child adds EXTENSIONS to its own)
        out.update({"EXTENSIONS": {"national_bench.MemProbe": 900}, "NIANBAO_MEMPROBE_DIR": str(memprobe),
                    "NIANBAO_TRACEMALLOC": tracemalloc})
    return out


def _scrapy_overrides(pairs: list[str]) -> dict:
    out = {}
    for pair in pairs:
        key, _, value = pair.partition("=")
        try:
            out[key] = json.loads(value)
        except ValueError:
            out[key] = value
    return out


def crawl_stage(config, store, db: Path, args):
    """The production crawl (``crawler.crawl.run_crawl``: crawl.processes children, one run row), with the
    bench's settings; the children find ``national_bench`` (the resolver) on PYTHONPATH."""
    from crawler.crawl import run_crawl

    env = {"PYTHONPATH": os.pathsep.join([str(Path(__file__).resolve().parent), str(ROOT),
                                          os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep)}

    def crawl(config, store, *, sites=None, progress=True, timeout=None):
        return run_crawl(config, store, sites=sites, progress=progress, db_path=str(db), timeout=timeout,
                         polite=not args.impolite, processes=args.processes,
                         extra_settings={**bench_settings(args.concurrency, args.memprobe, args.tracemalloc),
                                         **_scrapy_overrides(args.scrapy_setting)}, env=env)
    return crawl


# -- the bench -------------------------------------------------------------------------------------------
def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sites", type=int, default=300, help="portals (the national figure is 3000)")
    ap.add_argument("--concurrency", type=int, default=None,
                    help="CONCURRENT_REQUESTS of each crawl process (default: production's, hosts x 2 up to 512)")
    ap.add_argument("--processes", default=None,
                    help="crawl processes (default: crawl.processes of the config, auto: one per core)")
    ap.add_argument("--parse-after", action="store_true",
                    help="parse pool after the crawl, not beside it (nianbao run parses during the crawl)")
    ap.add_argument("--stages", default="crawl,parse,checks,alerts",
                    help="stages to run each night (crawl only: a CPU comparison of crawl processes)")
    ap.add_argument("--db", type=Path, help="database file (default: a temporary one, deleted)")
    ap.add_argument("--nights", type=int, default=1, help="incremental nights after the full crawl")
    ap.add_argument("--memprobe", type=Path, default=None,
                    help="directory: each crawl process writes its RSS and queue sizes there every 5 s (MemProbe)")
    ap.add_argument("--tracemalloc", action="store_true",
                    help="with --memprobe: top allocation sites at each RSS peak (slows the crawl)")
    ap.add_argument("--scrapy-setting", action="append", default=[], metavar="KEY=VALUE",
                    help="a Scrapy setting put over production's in the crawl processes (A/B runs; VALUE as JSON "
                         "when it parses, else a string), e.g. SCHEDULER_MEMORY_QUEUE=scrapy.squeues.LifoMemoryQueue")
    ap.add_argument("--impolite", action="store_true",
                    help="no delays or per-host limits (tests only: its times are not a figure)")
    args = ap.parse_args()
    if args.processes not in (None, "auto"):
        args.processes = int(args.processes)

    from crawler.config import config_from_dict
    from crawler.demo.mailbox import Mailbox
    from crawler.demo.scale import Nation
    from storage.db import Store

    print(f"machine: {os.cpu_count()} cores shared with other users; load average {_load()} at start; "
          f"{args.sites} portals; crawl processes {args.processes or 'crawl.processes (auto)'}; parse "
          f"{'after' if args.parse_after else 'during'} the crawl; stages {args.stages}", flush=True)
    # the same plan the server builds: the expected totals (walked in order: a small plan cache, so
    # this process's RSS, which the figures count, does not hold 3,000 plans)
    nation = Nation(args.sites, plan_cache=64)
    with tempfile.TemporaryDirectory(prefix="nianbao-national-") as tmpdir:
        tmp = Path(tmpdir)
        db = args.db or tmp / "national.db"
        for p in (db, Path(f"{db}-wal"), Path(f"{db}-shm")):
            p.unlink(missing_ok=True)
        t = time.perf_counter()
        server = Server(args.sites, 0)
        print(f"server: {args.sites} portals on 127.0.0.1:{server.port} (started in {time.perf_counter() - t:.1f}s, "
              f"PDF renders warmed)", flush=True)
        mailbox = Mailbox(tmp / "mail").__enter__()
        try:
            raw = {
                "database": str(db),
                "crawl": {"download_delay": 1.0, "concurrent_per_domain": 2, "autothrottle": True, "obey_robots": True,
                          "max_run_hours": 6, "processes": "auto"},
                "sites": nation.site_configs(server.port),
                "alerts": {"enabled": True, "recipients": ["officer@example.org"],
                           "smtp": {"host": "127.0.0.1", "port": mailbox.port}},
            }
            config = config_from_dict(raw, base_dir=tmp)
            rows = []
            for night in range(0, args.nights + 1):
                if night:
                    server.stop()
                    server = Server(args.sites, night, port=server.port)
                nation.night = night
                tot = nation.totals()
                label = "full crawl (night 0)" if night == 0 else f"incremental night {night}"
                print(f"\n== {label}: {tot['pages']} URLs served, {tot['reports']} reports "
                      f"({tot['pdf_reports']} as PDF), {tot.get('new_tonight', 0)} new and "
                      f"{tot.get('revised_tonight', 0)} revised tonight", flush=True)
                with Store(db) as store:
                    rows += run_night(night, nation, config, store, db, args, server, mailbox)
        finally:
            server.stop()
            mailbox.__exit__(None, None, None)
        print(f"\n{'stage':34s} {'time':>9s}  {'rate':>16s}  {'CPU s':>7s}  {'RSS tree / largest / bench':>26s}"
              f"  {'PSS tree':>8s}  {'DB':>9s}  load   (RSS and PSS: peaks during the stage)")
        for r in rows:
            print(f"{r['stage']:34s} {r['seconds']:8.1f}s  {r['rate']:>16s}  {r['cpu_s']:7.0f}  {r['rss_tree']:7.0f} / {r['rss_one']:5.0f} / {r['rss_bench']:5.0f} MB"
                  f"  {_mb(r['pss_tree']):>8s}"
                  f"  {r['db_mb']:6.0f} MB  {r['load']}")
        for night in range(0, args.nights + 1):
            mine = [r for r in rows if r["stage"].startswith("full" if night == 0 else f"night {night} ")
                    and not r.get("part")]  # the parts of "crawl + parse (together)" are not added again
            wall, cpu = sum(r["seconds"] for r in mine), sum(r["cpu_s"] for r in mine)
            per = max(cpu, 1e-9) / args.sites
            print(f"{'full crawl night' if night == 0 else f'incremental night {night}'}: {wall:.0f} s wall, "
                  f"{cpu:.0f} CPU s for {args.sites} portals = {per:.2f} CPU s per portal "
                  f"(the portal server's own CPU not counted) -> {3600 / per:.0f} portals per hour per dedicated "
                  f"core", flush=True)
        print(json.dumps({"sites": args.sites, "concurrency": args.concurrency, "processes": args.processes,
                          "parse_after": args.parse_after, "impolite": args.impolite, "stages": rows},
                         ensure_ascii=False))
    return 0


def run_night(night, nation, config, store, db, args, server, mailbox) -> list[dict]:
    from crawler.parse_stage import ParseSettings, parse_pending
    from crawler.run import _crawl_and_parse, run_alerts_for, run_checks_for

    stages = set(args.stages.split(","))
    out = []
    exclude = {server.proc.pid}
    prefix = "full" if night == 0 else f"night {night}"

    def row(stage, seconds, rate, rss, load0, cpu, server_cpu, **extra):
        r = {"stage": f"{prefix} {stage}", "seconds": round(seconds, 1), "rate": rate, "cpu_s": round(cpu, 1),
             "server_cpu_s": round(server_cpu, 1), "rss_tree": round(rss.peak_tree), "rss_one": round(rss.peak_one),
             "rss_bench": round(rss.peak_self),
             "pss_tree": None if rss.peak_tree_pss is None else round(rss.peak_tree_pss),
             "db_mb": round(_db_mb(db), 1), "load": f"{load0} -> {_load()}", **extra}
        out.append(r)
        print(f"  {r['stage']}: {seconds:.1f}s, {rate}, CPU {r['cpu_s']} s (portal server {r['server_cpu_s']} s), "
              f"peak RSS {rss.peak_tree:.0f} MB (largest process {rss.peak_one:.0f} MB, this bench process "
              f"{rss.peak_self:.0f} MB; tree PSS {_mb(r['pss_tree'])}), DB {r['db_mb']} MB, "
              f"load {r['load']}", flush=True)

    def snap():
        return _load(), _cpu_s(), _proc_cpu_s(server.proc.pid), time.perf_counter()

    if "crawl" in stages:
        crawl = crawl_stage(config, store, db, args)
        load0, cpu0, srv0, t = snap()
        parsed = None
        with TreeRss(exclude, every=0.5) as rss:
            if args.parse_after or "parse" not in stages:
                summary = crawl(config, store, progress=True, timeout=config.crawl.max_run_hours * 3600)
            else:  # what `nianbao run` does: the parse pool takes each stored version while the crawl goes on
                summary, parsed = _crawl_and_parse(config, store, crawl, sites=None, progress=True,
                                                   timeout=config.crawl.max_run_hours * 3600,
                                                   should_stop=lambda: False)
        total = time.perf_counter() - t
        cpu_all, srv_all = _cpu_s() - cpu0, _proc_cpu_s(server.proc.pid) - srv0
        crawl_cpu = sum(p.get("cpu_s") or 0 for p in summary.processes)
        requests = sum(p["requests"] for p in summary.processes)
        print("  " + summary.render().splitlines()[0], flush=True)
        for p in summary.processes:
            print(f"    crawl process {p['index']}/{len(summary.processes)}: {len(p['sites'])} portals, {p['requests']} "
                  f"requests, {p.get('cpu_s') or 0:.1f} CPU s, peak RSS {p.get('peak_rss_mb') or 0:.0f} MB"
                  + (f", {p['error']}" if p.get("error") else ""), flush=True)
        bad = {n: s for n, s in summary.sites.items() if s.status != "ok"}
        if bad:
            print(f"  {len(bad)} portals not ok, e.g. " + "; ".join(
                f"{n}: {s.status} {s.failures}" for n, s in list(bad.items())[:5]), flush=True)
        if summary.processes:
            print(f"  settings: {summary.processes[0].get('settings')}", flush=True)
        expected = [u for i in range(nation.sites) for u in sorted(nation.expected_documents(i, server.port))]
        missing = [u for u in expected if store.fetch_cache(u) is None]
        print(f"  stored {len(expected) - len(missing)} of the {len(expected)} report pages and PDFs a perfect crawl "
              f"stores" + (f"; missing e.g. {missing[:3]}" if missing else ""), flush=True)
        facts = {"expected": len(expected), "missing": len(missing), "documents_new": summary.documents_new,
                 "documents_revised": summary.documents_revised, "skipped": summary.skipped,
                 "errors": summary.errors, "requests": requests, "processes": len(summary.processes),
                 "process_cpu_s": [p.get("cpu_s") for p in summary.processes]}
        el = summary.elapsed_s
        if parsed is None:
            row("crawl", el, f"{requests / el:6.1f} requests/s", rss, load0, cpu_all, srv_all, **facts)
        else:  # one stage of the wall clock; its CPU told apart by the crawl processes' own figures
            print("  " + parsed.render().splitlines()[0]
                  + (f"  -- {parsed.left} DOCUMENTS LEFT PENDING: the parse figures are incomplete" if parsed.left else ""),
                  flush=True)
            row(f"crawl ({len(summary.processes)} processes)", el, f"{requests / el:6.1f} requests/s", rss, load0,
                crawl_cpu, srv_all, part=True, **facts)
            row("parse pool (during crawl)", total - el, f"{parsed.written / total:6.1f} documents/s", rss, load0,
                cpu_all - crawl_cpu, 0.0, part=True, written=parsed.written,
                note="time: after the crawl's end; RSS: of both")
            row("crawl + parse (together)", total, f"{requests / total:6.1f} requests/s", rss, load0, cpu_all, srv_all)

        if parsed is None and "parse" in stages:
            load0, cpu0, srv0, t = snap()
            with TreeRss(exclude, every=0.5) as rss:
                parsed = parse_pending(store, ParseSettings.from_config(config))
            el = time.perf_counter() - t
            print("  " + parsed.render().splitlines()[0]
                  + (f"  -- {parsed.left} DOCUMENTS LEFT PENDING: the parse figures are incomplete" if parsed.left else ""),
                  flush=True)
            row("parse pool", el, f"{parsed.written / el:6.1f} documents/s" if el else "-", rss, load0,
                _cpu_s() - cpu0, _proc_cpu_s(server.proc.pid) - srv0)

    if "checks" in stages:
        load0, cpu0, srv0, t = snap()
        with TreeRss(exclude, every=0.5) as rss:
            checks = run_checks_for(config, store, today=date(2025, 6, 1))
        el = time.perf_counter() - t
        print(f"  checks: {checks.reports} reports, {len(checks.new)} new findings "
              f"({', '.join(f'{k} {v}' for k, v in sorted(checks.by_rule().items()))})", flush=True)
        row("checks", el, f"{checks.reports / el:6.1f} reports/s" if el else "-", rss, load0, _cpu_s() - cpu0,
            _proc_cpu_s(server.proc.pid) - srv0)

    if "alerts" in stages:
        load0, cpu0, srv0, t = snap()
        before = len(mailbox.received)
        with TreeRss(exclude, every=0.5) as rss:
            alerts = run_alerts_for(config, store, now=datetime(2025, 6, 1, 3, tzinfo=timezone.utc))
        el = time.perf_counter() - t
        mails = len(mailbox.received) - before
        print(f"  alerts: {len(alerts.digests)} digests, {len(alerts.delivery.sent)} sent, {mails} mails received "
              f"by the loopback SMTP server, {len(alerts.delivery.failed)} failed", flush=True)
        row("alerts", el, f"{mails} mails", rss, load0, _cpu_s() - cpu0, _proc_cpu_s(server.proc.pid) - srv0)
    return out


if __name__ == "__main__":
    sys.exit(main())
