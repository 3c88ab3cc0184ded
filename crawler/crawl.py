"""Run a crawl: ``run_crawl(config, store) -> CrawlSummary``.

Each crawl runs Scrapy in a child process (``python -m crawler.crawl``).  Why: Twisted's reactor
cannot be restarted, and ``run_crawl`` must work any number of times in one Python process (the
tests, ``nianbao run``, the scheduler).  A child process also gives a clean memory high-water mark
per crawl and lets a crawl be killed without harming the caller.  The child writes documents
straight to the SQLite file (WAL) through the pipeline; the parent owns the run row: it opens it,
reads the child's Scrapy stats back, works out which sites keep failing the same way, and closes it.

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
    stats: dict[str, Any] = field(default_factory=dict)  # Scrapy's stats of the child

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
            if s.failures.get(CAP_SITE_PAGES):
                lines.append(f"    {s.name}: crawl cut short by cap_site_pages: the page budget was reached and "
                             f"{s.failures[CAP_SITE_PAGES]} requests were not made (crawl.max_pages_per_site, "
                             f"sites[].max_pages)")
            if s.failures.get(CAP_LISTING_PAGES):
                lines.append(f"    {s.name}: crawl cut short by cap_listing_pages: a listing announced more pages "
                             f"than crawl.max_listing_pages (the rest of the site was crawled)")
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


def run_crawl(config, store, *, run_id: int | None = None, sites: list[str] | None = None,
              progress: bool = True, db_path: str | None = None, polite: bool = True,
              timeout: float | None = None) -> CrawlSummary:
    """Crawl ``sites`` (names; default all) into the store's database; one crawl run row.

    ``polite=False`` (benchmarks only) turns delays, AutoThrottle and per-host limits off.
    """
    chosen = _chosen(config, sites)
    own_run = run_id is None
    if own_run:
        run_id = store.start_run("crawl", config={"sites": [s.name for s in chosen]})
    for s in chosen:
        store.upsert_site(s.name, region=s.region, start_url=s.start_url)
    path = db_path or str(store.path)
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="nianbao-crawl-") as tmp:
        cmd, result_file = child_command(config, Path(tmp), chosen, ["--db", path, "--run-id", str(run_id)],
                                         progress=progress, polite=polite)
        error = None
        try:
            proc = subprocess.run(cmd, timeout=timeout, check=False)
            if proc.returncode != 0:
                error = f"crawl process exited with code {proc.returncode}"
        except subprocess.TimeoutExpired:
            error = f"crawl process exceeded {timeout}s and was stopped"
        child: dict[str, Any] = {}
        if result_file.exists():
            child = json.loads(result_file.read_text(encoding="utf-8"))
    summary = summarize(run_id, child.get("stats", {}), [s.name for s in chosen])
    summary.elapsed_s = time.monotonic() - started
    summary.peak_rss_mb = child.get("peak_rss_mb")
    summary.error = error
    if error and not summary.pages:
        summary.status = "failed"
    _mark_repeated(summary, store, config.crawl.failing_after_runs, run_id)
    if own_run:
        store.finish_run(run_id, summary.status, summary.to_stats(), error=error)
    return summary


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
                         errors=g(f"site/{name}/errors"))
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
        self.tty = sys.stderr.isatty()
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
            print(f"crawl: {self._line()}", file=sys.stderr, flush=True)

    def closed(self, spider) -> None:
        if self.task is not None and self.task.running:
            self.task.stop()
        if self.bar is not None:
            self.tick()
            self.bar.close()


def _peak_rss_mb() -> float:
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
    ap.add_argument("--dry-run", action="store_true",
                    help="no store: items are counted and dropped (spider throughput, bench/crawl_bench.py)")
    ap.add_argument("--no-url-policy", action="store_true",
                    help="without the URL policy middleware (bench/crawl_bench.py measures its cost)")
    args = ap.parse_args(argv)
    if not args.db and not args.frontier:
        ap.error("--db or --frontier is required")

    from crawler.settings import offline_public_suffix_list

    offline_public_suffix_list()  # before Scrapy is imported
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
        Path(args.result).write_text(json.dumps({"stats": stats, "peak_rss_mb": _peak_rss_mb()}),
                                     encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(child_main())
