"""Run a crawl: ``run_crawl(config, store) -> CrawlSummary``.

Each crawl runs Scrapy in a child process (``python -m crawler.crawl``).  Why: Twisted's reactor
cannot be restarted, and ``run_crawl`` must work any number of times in one Python process (the
tests, ``nianbao run``, the scheduler).  A child process also gives a clean memory high-water mark
per crawl and lets a crawl be killed without harming the caller.  The child writes documents
straight to the SQLite file (WAL) through the pipeline; the parent owns the run row: it opens it,
reads the child's Scrapy stats back, works out which sites keep failing the same way, and closes it.

A night's sites can be split across ``crawl.processes`` children (one Scrapy reactor each, so one core
each): every host goes to one process only, so its delay and concurrency stay those of one crawler.  All
children write into the one SQLite file: WAL, a 30 s busy timeout and one short ``BEGIN IMMEDIATE``
transaction per item (``storage.db.Store``), the same way the parse pool already writes beside a crawl.
That was chosen over handing items to one writer in the parent: an item is acknowledged only when its
transaction has committed, so a child killed midway loses nothing it reported, its uncommitted write is
rolled back by SQLite, no document's bytes (up to crawl.max_size_mb) cross a pipe a second time, and the
parent holds no queue that could die with it.  The children share one run row; the parent sums their
figures, and a child that dies is named in the row's error with its sites marked, while the others
carry on to their end.

A crawl killed midway leaves its run row ``running`` and everything already stored in place; the
next crawl re-reads every listing and re-checks every report with conditional requests, so it ends
with the same database as an uninterrupted crawl (nothing is skipped for having been seen before).
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

from spiders.hostile import CAP_LISTING_PAGES, CAP_SITE_PAGES, CAP_STATUSES, FAILURE_STATUSES, SKIP_STATUSES

logger = logging.getLogger(__name__)


@dataclass
class SiteSummary:
    name: str
    pages: int = 0
    reports: int = 0  # report pages fetched with content (not 304)
    attachments: int = 0
    documents_new: int = 0
    documents_revised: int = 0
    not_modified: int = 0
    errors: int = 0
    failures: dict[str, int] = field(default_factory=dict)  # fetch_status -> count (cap hits included)
    #: URLs not fetched by policy (robots.txt, the URL policy): fetch_status -> count; never a failure
    skipped: dict[str, int] = field(default_factory=dict)
    #: failure statuses seen in this run and each of the previous runs (failing_after_runs in a row)
    repeated_failures: list[str] = field(default_factory=list)
    status: str = "ok"  # ok | partial (some failures) | failed (nothing fetched)
    #: report entries found in the site's listings (each led to a report page or attachment)
    entries: int = 0

    @property
    def found_no_report(self) -> bool:
        """Whether the crawl found no report at all: no listing entry, no report page (robots.txt
        forbids the site, the 年报 column was not reached, a frameset…).  Not a fetch failure, so the
        status may be ok; said apart, since a monitor that sees nothing must not look content."""
        return self.entries == 0 and self.reports == 0 and self.not_modified == 0


@dataclass
class CrawlSummary:
    run_id: int
    status: str  # ok | partial | failed
    elapsed_s: float = 0.0
    pages: int = 0
    reports: int = 0
    attachments: int = 0
    documents_new: int = 0
    documents_revised: int = 0
    not_modified: int = 0
    conditional_requests: int = 0
    errors: int = 0
    skipped: int = 0  # robots.txt disallowed + refused by the URL policy
    sites: dict[str, SiteSummary] = field(default_factory=dict)
    failing_sites: dict[str, list[str]] = field(default_factory=dict)  # site -> repeated statuses
    peak_rss_mb: float | None = None
    error: str | None = None
    stats: dict[str, Any] = field(default_factory=dict)  # Scrapy's stats of the child (summed over processes)
    #: one entry per crawl process: its sites, exit, peak RSS, requests (crawl.processes)
    processes: list[dict[str, Any]] = field(default_factory=list)

    def render(self) -> str:
        lines = [
            f"crawl run {self.run_id}: {self.status} in {self.elapsed_s:.1f}s — pages {self.pages}, "
            f"reports {self.reports}, attachments {self.attachments}, new documents "
            f"{self.documents_new}, revised {self.documents_revised}, not modified {self.not_modified}, "
            f"errors {self.errors}, skipped {self.skipped}"
        ]
        for s in self.sites.values():
            fails = ", ".join(f"{k} {v}" for k, v in sorted(s.failures.items())) or "no failures"
            skipped = ", ".join(f"{k} {v}" for k, v in sorted(s.skipped.items()))
            lines.append(f"  {s.name}: {s.status}; pages {s.pages}, reports {s.reports}, "
                         f"attachments {s.attachments}, not modified {s.not_modified}; {fails}"
                         + (f"; skipped: {skipped}" if skipped else ""))
            if s.found_no_report:
                lines.append(f"  ! {s.name}: no report found (no 年报 listing entry, no report page); "
                             f"`nianbao crawl --site {s.name} --explain {s.name}` shows the way the crawl took")
            if s.failures.get(CAP_SITE_PAGES):
                lines.append(f"    {s.name}: crawl cut short by cap_site_pages: the page budget was reached and "
                             f"{s.failures[CAP_SITE_PAGES]} requests were not made (crawl.max_pages_per_site, "
                             f"sites[].max_pages)")
            if s.failures.get(CAP_LISTING_PAGES):
                lines.append(f"    {s.name}: crawl cut short by cap_listing_pages: a listing announced more pages "
                             f"than crawl.max_listing_pages (the rest of the site was crawled)")
        if len(self.processes) > 1:
            for p in self.processes:
                lines.append(f"  process {p['index']}/{len(self.processes)}: {len(p['sites'])} sites, {p['requests']} "
                             f"requests, peak RSS {p['peak_rss_mb'] or 0:.0f} MB"
                             + (f"; {p['error']}" if p.get("error") else ""))
            for name, site in self.sites.items():
                if PROCESS_DIED in site.failures:
                    lines.append(f"    {name}: its crawl process died; {site.reports} documents it stored are kept, "
                                 f"the next crawl reads the rest")
        for name, statuses in self.failing_sites.items():
            lines.append(f"  ! {name} keeps failing the same way: {', '.join(statuses)}")
        if self.error:
            lines.append(f"  error: {self.error}")
        return "\n".join(lines)

    def to_stats(self) -> dict[str, Any]:
        d = asdict(self)
        d.pop("stats")
        d["scrapy"] = self.stats
        return d


# -- parent side --------------------------------------------------------------------------------
def _chosen(config, names):
    """The sites to crawl: those named (ConfigError on an unknown name), else all configured."""
    return [config.site(n) for n in names] if names else list(config.sites)


def child_command(config, tmp: Path, chosen, target: list[str], *, progress: bool,
                  polite: bool) -> tuple[list[str], Path]:
    """The command line of a crawl child process (``python -m crawler.crawl``) and its result file.

    ``target`` says where its documents go (``--db`` and ``--run-id``, or ``--frontier``)."""
    cfg_file, result_file = tmp / "config.json", tmp / "result.json"
    cfg_file.write_text(json.dumps(config.model_dump(mode="json", by_alias=True)), encoding="utf-8")
    cmd = [sys.executable, "-m", "crawler.crawl", "--config-json", str(cfg_file), *target,
           "--result", str(result_file)]
    for s in chosen:
        cmd += ["--site", s.name]
    if progress:
        cmd.append("--progress")
    if not polite:
        cmd.append("--impolite")
    return cmd, result_file


#: auto never starts more than this many processes (each is ~150-250 MB and a Python + Scrapy start-up)
AUTO_MAX_PROCESSES = 4
#: ... nor more than one per this many hosts: below it a second reactor costs more than it saves
AUTO_HOSTS_PER_PROCESS = 20
#: the pseudo fetch status of a site whose crawl process died before it reported (not a fetch_status in the db)
PROCESS_DIED = "crawl_process_died"


def _site_hosts(site) -> set[str]:
    """The download-slot keys a site's requests use (host[:port], as the spider keys them)."""
    from spiders.portal import host_key

    keys = {host_key(site.start_url)}
    for h in site.allowed_hosts:  # host (ports 80 and 443: the key has no port) or host:port
        h = h.lower()
        keys.add(h.rsplit(":", 1)[0] if h.endswith((":80", ":443")) else h)
    return keys


def host_groups(chosen) -> list[list]:
    """The sites in groups that share no host with another group (a host's politeness lives in one
    crawler: two sites on one host must be crawled by the same process)."""
    parent: dict[int, int] = {}

    def find(i: int) -> int:
        while parent.setdefault(i, i) != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    owner: dict[str, int] = {}
    for i, site in enumerate(chosen):
        find(i)
        for key in _site_hosts(site):
            if key in owner:
                parent[find(i)] = find(owner[key])
            else:
                owner[key] = i
    groups: dict[int, list] = {}
    for i, site in enumerate(chosen):
        groups.setdefault(find(i), []).append(site)
    return list(groups.values())


def resolve_processes(setting, n_groups: int) -> int:
    """crawl.processes as a number for this crawl: never more than there are host groups."""
    if setting == "auto":
        cores = os.cpu_count() or 1
        n = min(cores, AUTO_MAX_PROCESSES, max(1, n_groups // AUTO_HOSTS_PER_PROCESS))
    else:
        n = int(setting)
    return max(1, min(n, n_groups))


def _site_weights(store, names: list[str]) -> dict[str, int]:
    """Requests each site made in the last crawl that crawled it (what balances the processes)."""
    weights: dict[str, int] = {}
    wanted = set(names)
    try:
        history = store.last_runs(limit=30, kind="crawl")
    except Exception as e:  # balance is a nicety: equal weights then
        logger.warning("cannot read previous crawl runs to balance the crawl processes: %s", e)
        return weights
    for run in history:
        for name, site in (((run.get("stats") or {}).get("sites")) or {}).items():
            if name in wanted and name not in weights and isinstance(site, dict):
                n = sum(int(site.get(k) or 0) for k in ("pages", "reports", "attachments", "not_modified"))
                if n:
                    weights[name] = n
        if len(weights) == len(wanted):
            break
    return weights


def _stable_hash(name: str) -> int:
    import hashlib

    return int.from_bytes(hashlib.blake2b(name.encode("utf-8"), digest_size=8).digest(), "big")


def plan_processes(chosen, n: int, weights: dict[str, int] | None = None) -> list[list]:
    """``chosen`` split into ``n`` disjoint lists of sites, a host group never divided.  Groups go
    heaviest first to the least loaded process (the weight: requests in the last crawl, else the median
    of the known ones, else 1), ties by a hash of the site names: the same config and history give the
    same split, whatever the order of the sites in config.yaml."""
    groups = host_groups(chosen)
    n = max(1, min(n, len(groups)))
    weights = weights or {}
    known = sorted(weights.values())
    default = known[len(known) // 2] if known else 1

    def weight(g) -> int:
        return sum(weights.get(s.name, default) for s in g)

    ordered = sorted(groups, key=lambda g: (-weight(g), _stable_hash(min(s.name for s in g))))
    parts: list[list] = [[] for _ in range(n)]
    load = [0] * n
    for g in ordered:
        i = min(range(n), key=lambda k: (load[k], k))
        parts[i].extend(g)
        load[i] += weight(g)
    order = {s.name: i for i, s in enumerate(chosen)}
    return [sorted(p, key=lambda s: order[s.name]) for p in parts if p]


def _merge_stats(all_stats: list[dict[str, Any]]) -> dict[str, Any]:
    """Scrapy stats of several processes as one: counts summed, start the earliest, finish the latest."""
    out: dict[str, Any] = {}
    for stats in all_stats:
        for k, v in stats.items():
            if k not in out or out[k] is None:  # a stat one process left unset (None) takes the other's
                out[k] = list(v) if isinstance(v, list) else v
            elif v is None:
                continue
            elif isinstance(v, bool) or not isinstance(v, (int, float)) or isinstance(out[k], bool):
                if isinstance(v, list) and isinstance(out[k], list):
                    out[k] += v
                elif k == "start_time" and isinstance(v, str):
                    out[k] = min(out[k], v)
                elif k in ("finish_time", "elapsed_time_seconds") and isinstance(v, str):
                    out[k] = max(out[k], v)
            elif k == "elapsed_time_seconds" or k.startswith("memusage/max"):
                out[k] = max(out[k], v)
            else:
                out[k] = out[k] + v
    return out


def _describe_exit(code: int) -> str:
    if code < 0:
        import signal

        try:
            return f"was killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"was killed by signal {-code}"
    return f"exited with code {code}"


def run_crawl(config, store, *, run_id: int | None = None, sites: list[str] | None = None,
              progress: bool = True, db_path: str | None = None, polite: bool = True,
              timeout: float | None = None, processes: int | str | None = None,
              extra_settings: dict[str, Any] | None = None, env: dict[str, str] | None = None) -> CrawlSummary:
    """Crawl ``sites`` (names; default all) into the store's database; one crawl run row.

    The sites are split across ``processes`` children (default ``crawl.processes``), each host in one.
    ``timeout`` (seconds) bounds the whole crawl: a child still running then is killed.
    ``polite=False`` (benchmarks only) turns delays, AutoThrottle and per-host limits off;
    ``extra_settings`` (benchmarks only) are Scrapy settings put over the production ones in every child,
    ``env`` variables added to the children's environment.
    """
    chosen = _chosen(config, sites)
    own_run = run_id is None
    if own_run:
        run_id = store.start_run("crawl", config={"sites": [s.name for s in chosen]})
    for s in chosen:
        store.upsert_site(s.name, region=s.region, start_url=s.start_url)
    path = db_path or str(store.path)
    setting = config.crawl.processes if processes is None else processes
    n = resolve_processes(setting, len(host_groups(chosen)))
    parts = plan_processes(chosen, n, _site_weights(store, [s.name for s in chosen]) if n > 1 else None)
    started = time.monotonic()
    deadline = started + timeout if timeout else None
    child_env = {**os.environ, **(env or {})} if env else None
    errors: list[str] = []
    results: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="nianbao-crawl-") as tmp:
        procs = []
        try:
            for i, part in enumerate(parts):
                d = Path(tmp) / f"p{i}"
                d.mkdir()
                cmd, result_file = child_command(config, d, part, ["--db", path, "--run-id", str(run_id)],
                                                 progress=progress, polite=polite)
                if len(parts) > 1:
                    cmd += ["--label", f"crawl {i + 1}/{len(parts)}"]
                if extra_settings:
                    (d / "settings.json").write_text(json.dumps(extra_settings), encoding="utf-8")
                    cmd += ["--settings-json", str(d / "settings.json")]
                procs.append((subprocess.Popen(cmd, env=child_env), result_file, part))
                logger.info("crawl process %d/%d: %d sites", i + 1, len(parts), len(part))
            timed_out = set()
            while any(p.poll() is None for p, _r, _s in procs):
                if deadline is not None and time.monotonic() > deadline:
                    for i, (p, _r, _s) in enumerate(procs):
                        if p.poll() is None:
                            p.kill()
                            timed_out.add(i)
                    for p, _r, _s in procs:
                        p.wait()
                    break
                time.sleep(0.2)
        finally:  # the caller interrupted (Ctrl-C, an exception): no orphan crawl keeps writing
            for p, _r, _s in procs:
                if p.poll() is None:
                    p.kill()
                    p.wait()
        for i, (p, result_file, part) in enumerate(procs):
            child: dict[str, Any] = {}
            if result_file.exists():
                try:
                    child = json.loads(result_file.read_text(encoding="utf-8"))
                except ValueError:
                    child = {}
            names = [s.name for s in part]
            who = "crawl process" if len(procs) == 1 else (
                f"crawl process {i + 1} of {len(procs)} ({len(names)} sites: "
                f"{', '.join(names[:3])}{' …' if len(names) > 3 else ''})")
            error = None
            if i in timed_out and not child.get("stats"):  # (a result file: it had finished as it was stopped)
                error = f"{who} exceeded {timeout}s and was stopped"
            elif p.returncode != 0:
                error = f"{who} {_describe_exit(p.returncode)}"
            elif not child:
                error = f"{who} ended without reporting its figures"
            if error:
                errors.append(error)
            st = child.get("stats", {})
            results.append({"index": i + 1, "sites": names, "returncode": p.returncode, "error": error,
                            "stats": st, "peak_rss_mb": child.get("peak_rss_mb"), "cpu_s": child.get("cpu_s"),
                            "settings": child.get("settings"),
                            "requests": int(st.get("downloader/request_count", 0) or 0)})
    summary = summarize(run_id, _merge_stats([r["stats"] for r in results if r["stats"]]), [s.name for s in chosen])
    summary.elapsed_s = time.monotonic() - started
    peaks = [r["peak_rss_mb"] for r in results if r["peak_rss_mb"] is not None]
    summary.peak_rss_mb = max(peaks) if peaks else None
    summary.processes = [{k: v for k, v in r.items() if k != "stats"} for r in results]
    dead = [r for r in results if r["error"] and not r["stats"]]
    if dead and len(results) > 1:
        _mark_dead_parts(summary, store, run_id, dead)
    error = "; ".join(errors) if errors else None
    if error and len(results) > 1 and len(errors) < len(results):
        error += "; the other crawl processes ran to their end"
    summary.error = error
    if error and not summary.pages:
        summary.status = "failed"
    elif error and summary.status == "ok":
        summary.status = "partial"
    _mark_repeated(summary, store, config.crawl.failing_after_runs, run_id)
    if own_run:
        store.finish_run(run_id, summary.status, summary.to_stats(), error=error)
    return summary


def _mark_dead_parts(summary: CrawlSummary, store, run_id: int, dead: list[dict[str, Any]]) -> None:
    """A child that died reported nothing: its sites' figures come back from what it stored (every fetch
    is a row of ``fetches``), and each of its sites is marked with PROCESS_DIED."""
    from storage.crawl_parts import fetch_counts

    names = [n for r in dead for n in r["sites"]]
    try:
        counts = fetch_counts(store, run_id, names)
    except Exception as e:  # the row still says the process died
        logger.warning("cannot read back what the dead crawl process stored: %s", e)
        counts = {}
    for name in names:
        ss = summary.sites.get(name)
        if ss is None:
            continue
        mine = counts.get(name, {})
        ss.not_modified = mine.get("not_modified", 0)
        ss.errors = sum(n for st, n in mine.items() if st in FAILURE_STATUSES)
        ss.failures = {st: n for st, n in mine.items() if st in FAILURE_STATUSES}
        ss.failures[PROCESS_DIED] = 1
        ss.skipped = {st: n for st, n in mine.items() if st in SKIP_STATUSES}
        # documents stored with content: report pages and attachments, not told apart in ``fetches``;
        # listing pages are not stored, so they are not counted
        ss.reports = mine.get("ok", 0)
        stored = sum(mine.values())
        ss.status = "partial" if stored else "failed"
        summary.reports += ss.reports
        summary.not_modified += ss.not_modified
        summary.errors += ss.errors
        summary.skipped += sum(ss.skipped.values())
    statuses = [ss.status for ss in summary.sites.values()]
    summary.status = "failed" if all(st == "failed" for st in statuses) else "partial"


def summarize(run_id: int, stats: dict[str, Any], site_names: list[str]) -> CrawlSummary:
    def g(key: str) -> int:
        return int(stats.get(f"nianbao/{key}", 0) or 0)

    s = CrawlSummary(run_id=run_id, status="ok", stats=stats)
    s.pages, s.reports, s.attachments = g("pages"), g("reports"), g("attachments")
    s.documents_new, s.documents_revised = g("documents_is_new"), g("documents_revised")
    s.not_modified, s.conditional_requests, s.errors = g("fetch/not_modified"), g("conditional_requests"), g("errors")
    for name in site_names:
        ss = SiteSummary(name=name, pages=g(f"site/{name}/pages"), reports=g(f"site/{name}/reports"),
                         attachments=g(f"site/{name}/attachments"),
                         documents_new=g(f"site/{name}/documents_is_new"),
                         documents_revised=g(f"site/{name}/documents_revised"),
                         not_modified=g(f"site/{name}/fetch/not_modified"),
                         errors=g(f"site/{name}/errors"), entries=g(f"site/{name}/entries"))
        counts = {st: g(f"site/{name}/fetch/{st}") for st in FAILURE_STATUSES}
        ss.failures = {st: n for st, n in counts.items() if n}
        skipped = {st: g(f"site/{name}/fetch/{st}") for st in SKIP_STATUSES}
        ss.skipped = {st: n for st, n in skipped.items() if n}
        s.skipped += sum(ss.skipped.values())
        fetched = ss.pages + ss.reports + ss.attachments + ss.not_modified
        if ss.failures:
            # a cap is one fact however many requests it stopped
            failed = sum(n for st, n in ss.failures.items() if st not in CAP_STATUSES) + \
                sum(1 for st in ss.failures if st in CAP_STATUSES)
            ss.status = "partial" if fetched > failed else "failed"
        s.sites[name] = ss
    statuses = [ss.status for ss in s.sites.values()]
    if any(st != "ok" for st in statuses):
        s.status = "failed" if statuses and all(st == "failed" for st in statuses) else "partial"
    return s


def _mark_repeated(summary: CrawlSummary, store, runs_needed: int, run_id: int) -> None:
    """A site failing the same way (same fetch_status) in ``runs_needed`` runs in a row."""
    try:
        history = [r for r in store.last_runs(limit=50, kind="crawl") if r["id"] != run_id]
    except Exception as e:  # history is a nicety; the crawl itself succeeded
        logger.warning("cannot read previous runs: %s", e)
        history = []
    for name, site in summary.sites.items():
        repeated = set(site.failures)
        needed = runs_needed - 1
        for run in history:
            if needed <= 0 or not repeated:
                break
            prev = ((run["stats"] or {}).get("sites") or {}).get(name)
            if prev is None:
                continue  # that run did not crawl this site
            repeated &= set(prev.get("failures") or {})
            needed -= 1
        if needed <= 0 and repeated:
            site.repeated_failures = sorted(repeated)
            summary.failing_sites[name] = site.repeated_failures


# -- child side -----------------------------------------------------------------------------------
def _json_safe(v: Any) -> Any:
    if isinstance(v, (datetime, date)):
        return v.isoformat()
    if isinstance(v, dict):
        return {str(k): _json_safe(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_json_safe(x) for x in v]
    if isinstance(v, (int, float, str, bool)) or v is None:
        return v
    return str(v)


class CrawlProgress:
    """Sites, pages, reports, errors while crawling: a tqdm line on a terminal, else a log line
    every 30 s (the Scrapy extension runs in the crawl process)."""

    def __init__(self, crawler) -> None:
        from scrapy.exceptions import NotConfigured

        if not crawler.settings.getbool("NIANBAO_PROGRESS"):
            raise NotConfigured
        from scrapy import signals

        self.crawler = crawler
        self.label = crawler.settings.get("NIANBAO_PROGRESS_LABEL")
        # several crawl processes on one terminal: plain lines, each naming its process (bars would overwrite)
        self.tty = sys.stderr.isatty() and not self.label
        self.interval = crawler.settings.getfloat("NIANBAO_PROGRESS_INTERVAL") or (0.5 if self.tty else 30.0)
        self.bar = None
        self.task = None
        crawler.signals.connect(self.opened, signal=signals.spider_opened)
        crawler.signals.connect(self.closed, signal=signals.spider_closed)

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler)

    def _line(self) -> str:
        st = self.crawler.stats
        g = lambda k: int(st.get_value(f"nianbao/{k}", 0) or 0)  # noqa: E731
        return (f"sites {g('sites')} · pages {g('pages')} · reports {g('reports')} · attachments "
                f"{g('attachments')} · not modified {g('fetch/not_modified')} · errors {g('errors')} · "
                f"skipped {g('skipped')}")

    def opened(self, spider) -> None:
        from twisted.internet import task

        if self.tty:
            from tqdm import tqdm

            self.bar = tqdm(total=None, desc="crawl", unit=" pages", file=sys.stderr, leave=True)
        self.task = task.LoopingCall(self.tick)
        self.task.start(self.interval, now=False)

    def tick(self) -> None:
        if self.bar is not None:
            pages = int(self.crawler.stats.get_value("nianbao/pages", 0) or 0)
            self.bar.n = pages
            self.bar.set_postfix_str(self._line(), refresh=True)
        else:
            print(f"{self.label or 'crawl'}: {self._line()}", file=sys.stderr, flush=True)

    def closed(self, spider) -> None:
        if self.task is not None and self.task.running:
            self.task.stop()
        if self.bar is not None:
            self.tick()
            self.bar.close()


def _peak_rss_mb() -> float:
    """This process's own peak RSS: VmHWM, the high-water mark of the memory exec gave it.  ru_maxrss
    carries the parent's high-water mark into the child at exec (the 3,000-portal bench's second night
    printed 677 MB for crawl processes its sampling saw at under 300), so it is only the fallback off Linux."""
    try:
        with open("/proc/self/status", "rb") as f:
            for line in f:
                if line.startswith(b"VmHWM:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _die_with_parent() -> None:
    """A crawl whose caller was killed stops too (Linux: SIGTERM on parent death, a clean Scrapy stop)."""
    import signal

    parent = os.getppid()
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):  # not Linux: the crawl simply runs to its end
        return
    if os.getppid() != parent:  # the parent died before prctl took effect
        os.kill(os.getpid(), signal.SIGTERM)


def _without_numpy() -> None:
    """A crawl process never parses, but sqlite_utils (storage.db) imports numpy and pandas when they are
    installed, for column types of DataFrames: 11.6 MB of RSS in every crawl process (64.3 against 75.9 MB
    after the crawl's imports, measured in this venv).  Marked absent, the imports fail and sqlite_utils
    goes on without them, as it documents."""
    for name in ("numpy", "pandas"):
        sys.modules.setdefault(name, None)


#: Scrapy's settings of components (path -> order): extra settings are merged into the crawl's own, a
#: component set to None is switched off (Scrapy's own rule), so a bench adds a probe without dropping
#: the crawl's progress, throttle or store
COMPONENT_SETTINGS = ("EXTENSIONS", "SPIDER_MIDDLEWARES", "DOWNLOADER_MIDDLEWARES", "ITEM_PIPELINES")

#: the settings a crawl process reports back (benchmarks print them)
REPORTED_SETTINGS = ("DOWNLOAD_DELAY", "CONCURRENT_REQUESTS_PER_DOMAIN", "AUTOTHROTTLE_ENABLED",
                     "AUTOTHROTTLE_MAX_DELAY", "AUTOTHROTTLE_TARGET_CONCURRENCY", "ROBOTSTXT_OBEY",
                     "CONCURRENT_REQUESTS", "SCHEDULER_PRIORITY_QUEUE", "SCHEDULER_MEMORY_QUEUE", "DNS_RESOLVER", "NIANBAO_URL_POLICY", "EXTENSIONS")
#: the global in-flight limit of a broad crawl: enough for every host's own limit, bounded for memory
BROAD_MIN_CONCURRENCY, BROAD_MAX_CONCURRENCY = 16, 512


def broad_crawl_settings(settings: dict[str, Any], chosen, config, *, polite: bool = True) -> None:
    """Settings for a crawl of many hosts at once, none of which changes what one host sees (its delay,
    its concurrent_per_domain, AutoThrottle, robots.txt stay as configured):

    - ``CONCURRENT_REQUESTS``: hosts × concurrent_per_domain, between 16 and 512.  Requests waiting for
      their host's delay count against the global limit, so 16 for 1,500 hosts would let 16 hosts progress
      at a time and the night would be bound by it, not by politeness or CPU;
    - ``SCHEDULER_PRIORITY_QUEUE`` = DownloaderAwarePriorityQueue (Scrapy's broad-crawl advice): the next
      request goes to the host with the fewest in flight, not to the one whose links came first;
    - ``REACTOR_THREADPOOL_MAXSIZE`` 20: DNS look-ups of many hosts run in that pool."""
    hosts = len(set().union(*(_site_hosts(s) for s in chosen))) if chosen else 0
    if hosts <= 1:
        return
    per_host = config.crawl.concurrent_per_domain if polite else settings.get("CONCURRENT_REQUESTS_PER_DOMAIN", 8)
    settings["CONCURRENT_REQUESTS"] = max(settings.get("CONCURRENT_REQUESTS", BROAD_MIN_CONCURRENCY),
                                          min(BROAD_MAX_CONCURRENCY, hosts * per_host))
    settings["SCHEDULER_PRIORITY_QUEUE"] = "scrapy.pqueues.DownloaderAwarePriorityQueue"
    settings["REACTOR_THREADPOOL_MAXSIZE"] = max(settings.get("REACTOR_THREADPOOL_MAXSIZE", 10), 20)


def child_main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m crawler.crawl", description="one crawl (child process)")
    ap.add_argument("--config-json", required=True)
    ap.add_argument("--db", default=None)
    ap.add_argument("--frontier", default=None,
                    help="redis:// URL: a crawl node of a shared crawl (crawler/frontier.py), no database")
    ap.add_argument("--run-id", type=int, default=None)
    ap.add_argument("--site", action="append", default=[])
    ap.add_argument("--result", default=None)
    ap.add_argument("--progress", action="store_true")
    ap.add_argument("--impolite", action="store_true")
    ap.add_argument("--label", default=None, help="progress lines say which crawl process (crawl.processes > 1)")
    ap.add_argument("--settings-json", default=None,
                    help="Scrapy settings put over the production ones (benchmarks: the scale portals' resolver); "
                         "components (COMPONENT_SETTINGS) are merged into the crawl's own")
    ap.add_argument("--dry-run", action="store_true",
                    help="no store: items are counted and dropped (spider throughput, bench/crawl_bench.py)")
    ap.add_argument("--no-url-policy", action="store_true",
                    help="without the URL policy middleware (bench/crawl_bench.py measures its cost)")
    args = ap.parse_args(argv)
    if not args.db and not args.frontier:
        ap.error("--db or --frontier is required")

    from crawler.settings import offline_public_suffix_list

    offline_public_suffix_list()  # before Scrapy is imported
    _without_numpy()
    from scrapy.crawler import CrawlerProcess

    from crawler.config import config_from_dict
    from crawler.settings import scrapy_settings
    from spiders.portal import PortalSpider

    raw = json.loads(Path(args.config_json).read_text(encoding="utf-8"))
    config = config_from_dict(raw)
    chosen = _chosen(config, args.site)
    settings = scrapy_settings(config, db_path=args.db, run_id=args.run_id, sites=chosen,
                               progress=args.progress, polite=not args.impolite)
    if args.frontier:
        from crawler.frontier import apply_node_settings

        apply_node_settings(settings, config, args.frontier, chosen, polite=not args.impolite)
    if not args.frontier:
        broad_crawl_settings(settings, chosen, config, polite=not args.impolite)
        if settings.get("AUTOTHROTTLE_ENABLED"):  # a 304 may lower a stretched delay (crawler/throttle.py)
            settings["EXTENSIONS"] = {**settings.get("EXTENSIONS", {}),
                                      "scrapy.extensions.throttle.AutoThrottle": None,
                                      "crawler.throttle.ConditionalAwareThrottle": 0}
    if args.label:
        settings["NIANBAO_PROGRESS_LABEL"] = args.label
    if args.settings_json:
        extra = json.loads(Path(args.settings_json).read_text(encoding="utf-8"))
        for key in COMPONENT_SETTINGS:  # added to the crawl's own components, not in their place
            if isinstance(extra.get(key), dict):
                extra[key] = {**settings.get(key, {}), **extra[key]}
        settings.update(extra)
    if os.environ.get("NIANBAO_PROGRESS_INTERVAL"):
        settings["NIANBAO_PROGRESS_INTERVAL"] = float(os.environ["NIANBAO_PROGRESS_INTERVAL"])
    _die_with_parent()
    if args.no_url_policy:
        settings["NIANBAO_URL_POLICY"] = False
    if args.dry_run:
        settings["ITEM_PIPELINES"] = {}
        settings["NIANBAO_DB"] = None
    settings["LOG_LEVEL"] = os.environ.get("NIANBAO_SCRAPY_LOG_LEVEL", settings["LOG_LEVEL"])
    process = CrawlerProcess(settings)
    crawler = process.create_crawler(PortalSpider)
    process.crawl(crawler)
    process.start()
    stats = _json_safe(crawler.stats.get_stats())
    if args.result:
        import resource

        ru = resource.getrusage(resource.RUSAGE_SELF)
        Path(args.result).write_text(json.dumps({"stats": stats, "peak_rss_mb": _peak_rss_mb(),
                                                 "cpu_s": round(ru.ru_utime + ru.ru_stime, 2),
                                                 "settings": {k: _json_safe(settings.get(k)) for k in REPORTED_SETTINGS}}),
                                     encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(child_main())
