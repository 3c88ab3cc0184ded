"""The parse stage: stored document versions -> reports, in a pool of sandboxed worker processes.

The crawl (and ``nianbao ingest``) only stores bytes; each new version waits ``pending``.  This
stage reads them through worker processes, because every byte from a portal is hostile and a
parser can be made to hang, crash or eat all memory:

* each worker runs under an address-space limit (RLIMIT_AS, ``parse.memory_mb``) and, per
  document, a CPU-time limit (RLIMIT_CPU, ``parse.cpu_seconds``); the parent kills a worker whose
  document takes longer than ``parse.timeout`` of wall time, with any LibreOffice it started
  (those run in their own process groups, which the worker reports to the parent);
* a job that dies (timeout, memory, CPU, a crash and its signal, an exception) marks its version
  ``parse_failed`` with the reason and the parser version that tried; it is not tried again
  until the parser version changes (``crawler.parsing.PARSER_VERSION``), and the pool goes on
  with a fresh worker;
* the parent is the one writer: it writes each document's outcome (status, report, cells) in one
  transaction, in version order, so a killed stage leaves every document either parsed or still
  pending, and the next run parses exactly the rest.

Workers read the bytes from the database themselves (read-only connection): the parent sends
only a version's id and facts, and gets back the report as the rows it writes
(``storage.reports.ReportRows``: tuples and strings, cheap to pickle; the writer only inserts them).
"""
from __future__ import annotations

import heapq
import logging
import multiprocessing as mp
import os
import queue
import signal
import sys
import threading
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from datetime import datetime, timezone
from multiprocessing.connection import wait
from typing import Any

from storage.db import Store, ts
from storage.models import ParseStatus
from storage.previous_year import previous_figures

log = logging.getLogger(__name__)

#: Parse outcomes that are not a report at all: the version is marked, no report row.
NOT_REPORTS = (ParseStatus.NOT_A_REPORT, ParseStatus.EMPTY, ParseStatus.UNSUPPORTED)

PARSE_FAILED = "parse_failed"


def cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


class ParseStageError(RuntimeError):
    """The pool itself cannot work (a worker cannot start): no document is blamed."""


@dataclass
class ParseSettings:
    workers: int = 0  # 0: one per core
    memory_mb: int = 2048
    cpu_seconds: int = 300
    timeout: float = 600
    office_timeout: float = 120
    office_memory_mb: int = 4096
    reparse_per_run: int = 500
    parser_version: str | None = None  # None: crawler.parsing.parser_version()
    #: documents handed to a worker at once: 2 keeps a worker busy while the parent writes (the
    #: next document waits in its pipe); slow documents are handed out first, so a deep queue
    #: behind a LibreOffice conversion costs little
    prefetch: int = 2
    #: documents written per transaction, at most (and never more than ``batch_seconds`` of
    #: writing): a SQLite commit, the FTS index merge and the B-tree pages it touches are paid once
    #: per batch.  Outcomes are held until a batch is ready or the first has waited ``batch_seconds``
    #: (or no worker is busy).  Each document is still all-or-nothing: a killed stage rolls back the
    #: open batch and loses the held outcomes, whose documents stay pending and are parsed by the next run.
    batch: int = 32
    batch_seconds: float = 0.25
    #: ``batch_seconds`` while a crawl runs beside the stage (``parse_during``), where results are
    #: not held either: each is written as it arrives (a few at a time at most), as before batches
    #: were held, since the crawl's ingest thread waits for SQLite's lock while one is written and
    #: what longer transactions do to the crawl is not measured yet (held batches beside it saved the
    #: writer ≈ 0.5 ms per report)
    crawl_batch_seconds: float = 0.1
    #: niceness of the workers
    nice: int = 0
    #: beside a crawl (``parse_during``) the pool takes only the CPU the crawl leaves: the crawl is
    #: one process on one core and answers the network; parsing is batch work that catches up.
    #: At nice 5 a worker sharing the crawl's core still took a quarter of it (weights 1024 : 335;
    #: the full crawl ran at 0.78x the spider alone); at 19 it takes about 1.5% (1024 : 15).  Once
    #: the crawl is over the workers are replaced, as each finishes its jobs, by ones at ``nice``
    #: (a worker cannot lower its niceness; workers are started by the caller's thread, not the
    #: pool's niced one, since a process inherits the niceness of the thread that starts it).
    crawl_nice: int = 19
    #: the parent's pool thread beside a crawl (Linux: a thread's own niceness): its writes and pipe
    #: traffic are about as much CPU as a worker's parsing, and it must still win over the workers,
    #: or a transaction it holds would keep the crawl's writer waiting
    writer_nice: int = 10

    @classmethod
    def from_config(cls, config) -> "ParseSettings":
        p = config.parse
        return cls(workers=p.workers, memory_mb=p.memory_mb, cpu_seconds=p.cpu_seconds, timeout=p.timeout,
                   office_timeout=p.office_timeout, office_memory_mb=p.office_memory_mb,
                   reparse_per_run=p.reparse_per_run)

    def n_workers(self) -> int:
        return self.workers or cores()

    def version(self) -> str:
        if self.parser_version:
            return self.parser_version
        from crawler.parsing import parser_version

        return parser_version()


@dataclass
class Failure:
    """A parse job that died: failure is timeout | memory | cpu | crash | error."""

    version_id: int
    url: str
    failure: str
    error: str


@dataclass
class ParseSummary:
    mode: str = "pending"  # pending | outdated | all
    parser_version: str = ""
    workers: int = 0
    jobs: int = 0
    written: int = 0
    statuses: Counter = field(default_factory=Counter)  # parse status -> versions
    failures: list[Failure] = field(default_factory=list)
    report_ids: list[int] = field(default_factory=list)  # reports written (or kept) by this stage
    changed_reports: list[int] = field(default_factory=list)  # re-parses that changed cells
    left: int = 0  # jobs not written (stopped early)
    slowest: list[tuple[float, str]] = field(default_factory=list)  # (seconds, url), the five slowest
    during_crawl: bool = False  # ran beside the crawl (elapsed_s then includes waiting for it)
    after_crawl_s: float = 0.0  # during_crawl: how long the stage went on once the crawl was over
    second_pass: int = 0  # reports read again with last year's figures stored in this pass
    #: version id -> status written, of the versions that wanted last year's figures (only those,
    #: whether or not they were then read a second time: see _write)
    written_status: dict[int, str] = field(default_factory=dict, repr=False)
    worker_nices: list[int] = field(default_factory=list, repr=False)  # each worker's niceness, in start order
    #: turns of the pool in which a free worker got nothing although jobs were queued: every job
    #: within the window of the next write was out or held (a few are normal; thousands mean the
    #: in-order writing is starving the workers)
    held_back: int = 0
    elapsed_s: float = 0.0

    @property
    def per_s(self) -> float:
        return self.written / self.elapsed_s if self.elapsed_s > 0 else 0.0

    def render(self) -> str:
        what = {"pending": "parse", "outdated": "re-parse (outdated)", "all": "re-parse (all)"}[self.mode]
        if self.during_crawl:
            what += " (during the crawl)"
        statuses = ", ".join(f"{k} {v}" for k, v in sorted(self.statuses.items())) or "nothing to do"
        if self.during_crawl:  # its time is the crawl's: what counts is how long it ran on after it
            line = (f"{what}: {self.written} documents, done {self.after_crawl_s:.1f}s after the crawl ended "
                    f"({self.workers} workers, parser {self.parser_version}): {statuses}")
        else:
            line = (f"{what}: {self.written} documents in {self.elapsed_s:.1f}s ({self.per_s:.1f}/s, "
                    f"{self.workers} workers, parser {self.parser_version}): {statuses}")
        if self.mode != "pending":
            line += f"; {len(self.changed_reports)} reports changed"
        lines = [line]
        lines += [f"  parse failed ({f.failure}): {f.error}" for f in self.failures[:20]]
        if self.second_pass:
            lines.append(f"  {self.second_pass} reports read again with last year's figures (digit runs)")
        if self.left:
            lines.append(f"  {self.left} documents left for the next run")
        if self.held_back > max(10, self.written // 20):
            lines.append(f"  the workers waited for the in-order writer on {self.held_back} turns")
        return "\n".join(lines)

    def as_stats(self) -> dict[str, Any]:
        return {"mode": self.mode, "parser_version": self.parser_version, "workers": self.workers,
                "jobs": self.jobs, "written": self.written, "statuses": dict(self.statuses),
                "failures": [{"url": f.url, "failure": f.failure, "error": f.error} for f in self.failures[:50]],
                "changed_reports": len(self.changed_reports), "left": self.left,
                "during_crawl": self.during_crawl, "after_crawl_s": round(self.after_crawl_s, 2),
                "held_back": self.held_back, "elapsed_s": round(self.elapsed_s, 2)}


# -- worker side ----------------------------------------------------------------------------------

def _die_with_parent() -> None:
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _worker_main(conn, db_path: str, limits: dict[str, Any]) -> None:
    """One worker: limits itself, then parses the jobs the parent sends until told to stop."""
    import resource

    _die_with_parent()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    # the pool is the parallelism: Tesseract's OpenMP threads would only fight the other workers
    # for the same cores (ocrmypdf does the same); read when tesserocr loads, so before any import
    os.environ.setdefault("OMP_THREAD_LIMIT", "1")
    if limits.get("nice"):
        os.nice(limits["nice"])
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    mem = limits["memory"] if hard == resource.RLIM_INFINITY else min(limits["memory"], hard)
    # only the soft limit: LibreOffice, started from here, gets its own (parse.office_memory_mb)
    resource.setrlimit(resource.RLIMIT_AS, (mem, hard))
    from crawler.parsing import parse_bytes
    from crawler.parsing.extract import office
    from crawler.picture_report import combine, is_picture_part
    from storage.reports import report_to_rows

    office.CONVERT_TIMEOUT = limits["office_timeout"]
    office.MEMORY_LIMIT = limits["office_memory"]
    office.spawn_hook = lambda pgid: conn.send(("child", None, pgid))
    store = Store(db_path, readonly=True)
    _, cpu_hard = resource.getrlimit(resource.RLIMIT_CPU)
    conn.send(("ready", None, (os.getpid(), os.getpriority(os.PRIO_PROCESS, 0))))
    while True:
        try:
            job = conn.recv()
        except (EOFError, OSError):
            break
        if job is None:
            break
        vid = job["version_id"]
        used = resource.getrusage(resource.RUSAGE_SELF)
        cpu_soft = int(used.ru_utime + used.ru_stime) + limits["cpu"] + 1
        if cpu_hard != resource.RLIM_INFINITY:
            cpu_soft = min(cpu_soft, cpu_hard)
        resource.setrlimit(resource.RLIMIT_CPU, (cpu_soft, cpu_hard))  # SIGXCPU beyond it
        data = report = None
        try:
            data = store.blob(job["sha256"])
            if data is None:
                conn.send(("error", vid, f"{job['url']}: bytes {job['sha256']} missing from the database"))
                continue
            hints = {k: job[k] for k in ("link_title", "page_date", "listing_date") if job.get(k)}
            region = store.site_region(job["site"]) if job.get("site") else None
            if region:  # the site's configured region qualifies a short agency name (区教育局)
                hints["region"] = region
            def alone():
                return parse_bytes(data, url=job["url"], content_type=job.get("content_type"), hints=hints)
            # an image of a 图片版 page is read with its page in combine, not alone first
            report = None if is_picture_part(job) else alone()
            wants = report is not None and _wants_previous(report)
            if wants:  # runs the table's own arithmetic could not split: last year's carry-over may
                previous = previous_figures(store, report.agency, report.year, site=job.get("site"))
                if previous:
                    report = parse_bytes(data, url=job["url"], content_type=job.get("content_type"),
                                         hints={**hints, "previous": previous})
                    wants = False
            report = combine(store, job, report, hints, alone)  # a 图片版 page and its table images: one report
            # its rows, not the Report: what the writer inserts, and a fraction of the pickling
            conn.send(("done", vid, (report_to_rows(report), wants)))
        except MemoryError:
            data = report = None
            try:
                conn.send(("memory", vid, f"exceeded the memory limit of {limits['memory'] // 2**20} MB "
                                          "(parse.memory_mb, RLIMIT_AS)"))
            finally:
                os._exit(3)  # a process that ran out of memory is not trusted with another document
        except Exception as e:  # noqa: BLE001 - parse_bytes promises not to raise; if it does, say so
            conn.send(("error", vid, f"parser raised {type(e).__name__}: {e}"))
    store.close()


def _wants_previous(report) -> bool:
    """A report with cells left unread for lack of a unique split, whose agency and year are known:
    last year's stored figures may decide them."""
    return bool(report.agency and isinstance(report.year, int)
                and any(w.code == "unsplit_digits" for w in report.warnings))


# -- parent side ----------------------------------------------------------------------------------

class _Worker:
    def __init__(self, ctx, db_path: str, limits: dict[str, Any]) -> None:
        self.nice = limits.get("nice", 0)
        self.retiring = False  # started beside a crawl that is over: replaced once its jobs are done
        self.conn, child = ctx.Pipe()
        self.proc = ctx.Process(target=_worker_main, args=(child, db_path, limits), daemon=True,
                                name="nianbao-parse")
        self.proc.start()
        child.close()
        # jobs sent, in the order the worker takes them: the first is the one it is reading (since
        # ``started``); the next waits in the pipe so the worker never idles while the parent writes
        self.jobs: deque[dict[str, Any]] = deque()
        self.started = 0.0
        self.children: set[int] = set()  # LibreOffice process groups running for the current job
        self.ready = False  # set when the worker has started: a death before that is the pool's fault
        self.exiting = False  # it said it ran out of memory and exits: the jobs left were never begun

    @property
    def job(self) -> dict[str, Any] | None:
        return self.jobs[0] if self.jobs else None

    def assign(self, job: dict[str, Any]) -> None:
        if not self.jobs:
            self.started = time.monotonic()
        self.jobs.append(job)
        self.conn.send(job)

    def finished(self) -> dict[str, Any]:
        """The current job is over: the next one (already sent) starts now."""
        job = self.jobs.popleft()
        now = time.monotonic()
        job["_seconds"] = now - self.started
        self.started = now
        self.children.clear()
        return job

    def unstarted(self) -> list[dict[str, Any]]:
        """Jobs sent but not begun (given back to the queue when the worker dies)."""
        rest = list(self.jobs)[1:]
        while len(self.jobs) > 1:
            self.jobs.pop()
        return rest

    def kill(self) -> None:
        for pgid in list(self.children):
            try:
                os.killpg(pgid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        self.children.clear()
        if self.proc.is_alive():
            self.proc.kill()
        self.proc.join(5)

    def stop(self) -> None:
        try:
            self.conn.send(None)
        except (OSError, BrokenPipeError):
            pass
        self.proc.join(2)
        if self.proc.is_alive():
            self.kill()
        self.conn.close()


def _signal_name(code: int) -> str:
    try:
        return signal.Signals(-code).name
    except ValueError:
        return f"signal {-code}"


def _death(exitcode: int | None, settings: ParseSettings) -> tuple[str, str]:
    """(failure, reason) of a worker that died during a job."""
    if exitcode is not None and exitcode < 0:
        name = _signal_name(exitcode)
        if -exitcode == signal.SIGXCPU:
            return "cpu", f"used more than {settings.cpu_seconds} s of CPU (parse.cpu_seconds, RLIMIT_CPU; {name})"
        if -exitcode == signal.SIGKILL:
            return "crash", f"worker killed by {name} (the system out-of-memory killer?)"
        if -exitcode == signal.SIGABRT:  # C/C++ code (pdfium, libxml2) aborts when an allocation fails
            return "crash", (f"worker crashed ({name}; native code aborts when an allocation fails, as under "
                             f"the memory limit of {settings.memory_mb} MB, parse.memory_mb)")
        return "crash", f"worker crashed ({name})"
    return "crash", f"worker exited with code {exitcode} during the document"


#: Formats whose reading is slow (LibreOffice conversions, OCR): handed out first, so that the
#: pool does not end with one worker on a long conversion and the others idle (longest job first).
_SLOW_EXTENSIONS = (".doc", ".wps", ".rtf", ".et", ".xls", ".dps", ".ppt", ".png", ".jpg", ".jpeg", ".gif",
                    ".bmp", ".tif", ".tiff", ".webp")


def _cost(job: dict[str, Any]) -> int:
    """A rough class of how long a job takes (0 fast .. 3 slow), from what is known before reading."""
    ctype = (job.get("content_type") or "").lower()
    path = job["url"].split("?", 1)[0].split("#", 1)[0].lower()
    if path.endswith(_SLOW_EXTENSIONS) or ctype.startswith("image/") or any(
            k in ctype for k in ("msword", "wps", "rtf", "ms-excel", "ms-works")):
        return 3
    if path.endswith(".pdf") or "pdf" in ctype:
        return 2 if (job.get("size") or 0) > 200_000 else 1
    return 0


class _Lookahead:
    """The jobs of a pass, handed out slowest first (``_cost``) among those within ``window`` places of
    the next one to write (version order), and in version order beyond that.

    Every outcome held for in-order writing is then within the window, and the earliest unwritten
    version is always among those handed out.  (Sorting the whole pass by cost instead let the
    held outcomes of later PDFs fill the window while the pages before them were still queued:
    from then on one job went out per write, about 15 documents/s on a 3,000-portal night.)"""

    def __init__(self, jobs: list[dict[str, Any]], window: int) -> None:
        self.window = window
        self.later: deque[tuple[int, dict[str, Any]]] = deque(enumerate(jobs))  # (place, job), in order
        self.ready: list[tuple[int, int, dict[str, Any]]] = []  # heap of (-cost, place, job)
        self.place_of = {job["version_id"]: place for place, job in self.later}

    def __len__(self) -> int:
        return len(self.later) + len(self.ready)

    def extend(self, jobs: list[dict[str, Any]]) -> None:
        """Jobs that arrived (parse during a crawl), written after all the others."""
        for job in jobs:
            self.place_of[job["version_id"]] = len(self.place_of)
            self.later.append((self.place_of[job["version_id"]], job))

    def give_back(self, jobs: list[dict[str, Any]]) -> None:
        """Jobs sent to a worker that died or was killed before it began them."""
        for job in jobs:
            heapq.heappush(self.ready, (-_cost(job), self.place_of[job["version_id"]], job))

    def take(self, next_write: int) -> dict[str, Any] | None:
        """The slowest job within the window of ``next_write`` (None: none there)."""
        while self.later and self.later[0][0] < next_write + self.window:
            place, job = self.later.popleft()
            heapq.heappush(self.ready, (-_cost(job), place, job))
        return heapq.heappop(self.ready)[2] if self.ready else None


def run_jobs(store: Store, jobs: list[dict[str, Any]], settings: ParseSettings, *, mode: str = "pending",
             progress: bool = False, should_stop=None, more=None, crawling=None, spawn=None,
             total: int | None = None) -> ParseSummary:
    """Parse ``jobs`` (rows of Store.parse_jobs) in the pool; write each outcome; return the figures.
    ``total``: how many ``jobs`` and ``more`` will give in all, when known (the progress bar's end).

    A report left with cells it could not split (digit runs) whose agency's report of the year
    before was written later in the same pass is read once more, with last year's figures."""
    started = time.monotonic()
    since = ts(datetime.now(timezone.utc))
    summary = ParseSummary(mode=mode, parser_version=settings.version(), jobs=len(jobs))
    should_stop = should_stop or (lambda: False)
    if not jobs and more is None:
        return summary
    bar = None
    if progress and ((len(jobs) if total is None else total) >= 20 or (more is not None and total is None)):
        from tqdm import tqdm

        bar = tqdm(total=len(jobs) if total is None else total, desc="parse", unit="doc")
    reparse = mode != "pending"
    try:
        waiting = _pool_pass(store, jobs, settings, summary, reparse=reparse, should_stop=should_stop, bar=bar,
                             more=more, crawling=crawling, spawn=spawn)
        again = [job for job, (agency, year) in waiting
                 if previous_figures(store, agency, year, site=job.get("site"))]
        if again and not should_stop():
            log.info("%d reports read again with last year's figures (stored in this pass)", len(again))
            summary.second_pass = len(again)
            _pool_pass(store, [{k: v for k, v in j.items() if not k.startswith("_")} for j in again], settings,
                       summary, reparse=True, should_stop=should_stop, bar=None, again=True)
    finally:
        if bar is not None:
            bar.close()
    if reparse or summary.second_pass:
        summary.changed_reports = sorted({e["report_id"] for e in store.events(kind="reparsed", since=since)
                                          if e["report_id"] is not None})
    summary.elapsed_s = time.monotonic() - started
    return summary


def _pool_pass(store: Store, jobs: list[dict[str, Any]], settings: ParseSettings, summary: ParseSummary, *,
               reparse: bool, should_stop, bar, again: bool = False,
               more=None, crawling=None, spawn=None) -> list[tuple[dict[str, Any], tuple[str, int]]]:
    """One pass of the pool over ``jobs``; returns (job, (agency, year)) of the reports that want last
    year's figures.

    ``more``: a callable returning the next versions to read (those that became pending since it was
    last called, beside a crawl; the next chunk, otherwise), never the same one twice, or None once
    no more can come; the pool keeps its workers and takes them as they arrive.  ``crawling`` (with ``more``): whether the crawl still
    runs; while it does the workers run at ``crawl_nice``."""
    limits = {"memory": settings.memory_mb * 2**20, "cpu": settings.cpu_seconds,
              "office_timeout": settings.office_timeout, "office_memory": settings.office_memory_mb * 2**20,
              "nice": settings.nice if crawling is None else max(settings.nice, settings.crawl_nice)}
    ctx = mp.get_context("spawn")  # no fork of a process holding SQLite connections and threads

    def start(limits: dict[str, Any]) -> _Worker:
        if spawn is not None:  # started by the caller's thread: they inherit its niceness, not ours
            return spawn(lambda: _Worker(ctx, str(store.path), limits))
        return _Worker(ctx, str(store.path), limits)
    n = max(1, settings.n_workers() if more is not None else min(settings.n_workers(), len(jobs)))
    # jobs not written yet (a written one is dropped: a national night passes 200,000 through here)
    by_id = {j["version_id"]: j for j in jobs}
    order = [j["version_id"] for j in jobs]  # written in this order: the same database as one sequential pass
    # results held for in-order writing, at most: bounds the parent's memory, and is deep enough
    # that the fast documents read beside a slow conversion wait here instead of idling a worker
    window = max(256, 64 * n)
    # handed out slow formats first within the window (the write order stays the version order)
    queue = _Lookahead(jobs, window)
    outcomes: dict[int, Any] = {}
    next_write = 0
    waiting: list[tuple[dict[str, Any], tuple[str, int]]] = []
    depth = max(1, settings.prefetch)  # jobs handed to each worker at once

    batch = max(1, settings.batch)
    ready_since: float | None = None  # when the next outcome to write (in version order) arrived

    def batch_seconds() -> float:  # while a crawl runs beside: ParseSettings.crawl_batch_seconds
        return settings.batch_seconds if crawling is None else min(settings.batch_seconds,
                                                                    settings.crawl_batch_seconds)

    def ready() -> int:
        """Outcomes ready to be written in version order, up to a batch."""
        k = 0
        while k < batch and next_write + k < len(order) and order[next_write + k] in outcomes:
            k += 1
        return k

    def flush(force: bool = True) -> None:
        """Write the outcomes ready in version order: one transaction per batch (see ParseSettings.batch).
        Unless ``force``, only once a whole batch is ready or the first of them has waited
        ``batch_seconds``: the workers' results arrive one by one, and a transaction each would pay
        SQLite's commit and a new full-text index segment per document."""
        nonlocal next_write, ready_since
        if not force and crawling is None:  # beside a crawl: not held (see ParseSettings.crawl_batch_seconds)
            k = ready()
            if not k:
                ready_since = None
                return
            now = time.monotonic()
            if ready_since is None:
                ready_since = now
            if k < batch and now - ready_since < batch_seconds():
                return
        longest = batch_seconds()
        while next_write < len(order) and order[next_write] in outcomes:
            t0 = time.monotonic()
            with store.transaction():
                k = 0
                while next_write < len(order) and order[next_write] in outcomes and k < batch \
                        and (k == 0 or time.monotonic() - t0 < longest):
                    vid = order[next_write]
                    job = by_id.pop(vid)
                    wanted = _write(store, job, outcomes.pop(vid), summary, reparse=reparse, again=again)
                    if wanted is not None:
                        waiting.append((job, wanted))
                    next_write += 1
                    k += 1
            if bar is not None:
                bar.update(k)
        ready_since = None

    workers: list[_Worker] = []  # started when there is work for them (a crawl may store nothing new)
    last_look = 0.0
    try:
        while next_write < len(order) or more is not None:
            stopping = should_stop()
            # asked while the queue still fills the window: a slow document past a chunk's end is then
            # handed out early, as within a chunk
            if more is not None and (stopping or (len(queue) < window and time.monotonic() - last_look > 0.5)):
                last_look = time.monotonic()
                arrived = None if stopping else more()
                if arrived is None:
                    more = None  # the crawl is over: what was handed in is all there is
                else:
                    for j in arrived:
                        by_id[j["version_id"]] = j
                        order.append(j["version_id"])
                    queue.extend(arrived)
                    summary.jobs += len(arrived)
                    if bar is not None and (bar.total or 0) < summary.jobs:  # a crawl's: no end known
                        bar.total = summary.jobs
                        bar.refresh()
            if crawling is not None and not crawling():
                # the rest at the stage's own priority (see ParseSettings.crawl_nice): each worker
                # started beside the crawl is replaced once the jobs it holds are written
                crawling = None
                limits = {**limits, "nice": settings.nice}
                for w in workers:
                    w.retiring = w.nice != settings.nice
            for w in [w for w in workers if w.retiring and not w.jobs]:
                w.stop()
                workers.remove(w)
            while queue and not stopping and len(workers) < min(n, len(workers) + len(queue)):
                workers.append(start(limits))
                summary.workers = max(summary.workers, len(workers))
            held = False
            for w in workers:
                while not held and not w.retiring and len(w.jobs) < depth and queue and not stopping:
                    job = queue.take(next_write)
                    if job is None:  # the rest is beyond the window: written ones make room
                        held = True
                        break
                    w.assign(job)
            summary.held_back += held
            busy = [w for w in workers if w.jobs]
            if not busy:
                flush()  # nothing more is coming soon: what is held is written now
                if more is not None and next_write == len(order):
                    time.sleep(0.2)  # the crawl has stored nothing new yet
                    continue
                if queue and not stopping:  # jobs left, none handed out this turn (workers being replaced)
                    time.sleep(0.05)
                    continue
                break  # stopping, or nothing left to hand out
            deadline = min(w.started for w in busy) + settings.timeout
            if ready_since is not None:  # held outcomes are written by then
                deadline = min(deadline, ready_since + batch_seconds())
            wait([w.conn for w in busy] + [w.proc.sentinel for w in busy],
                 timeout=max(0.0, min(deadline - time.monotonic(), 1.0)))
            for i, w in enumerate(workers):
                if not w.jobs:
                    continue
                while w.jobs and w.conn.poll():
                    try:
                        kind, vid, payload = w.conn.recv()
                    except (EOFError, OSError):
                        break
                    if kind == "ready":
                        w.ready = True
                        summary.worker_nices.append(payload[1])  # as the worker sees itself
                        continue
                    if kind == "child":
                        if payload is None:
                            w.children.discard(next(iter(w.children), None))
                        else:
                            w.children.add(payload)
                        continue
                    job = w.finished()
                    if kind == "done":
                        outcomes[vid] = payload
                    else:  # memory | error
                        outcomes[vid] = Failure(vid, job["url"], kind, f"{job['url']}: {payload}")
                        w.exiting = w.exiting or kind == "memory"  # it exits after saying so
                if not w.proc.is_alive():
                    if w.jobs and not w.ready:
                        # not the document's fault: nothing is marked, the stage stops and says why
                        raise ParseStageError(f"a parse worker could not start (exit code {w.proc.exitcode}); "
                                              "see the log above")
                    if w.jobs and not w.exiting:  # it died reading its current document
                        failure, reason = _death(w.proc.exitcode, settings)
                        queue.give_back(w.unstarted())
                        job = w.finished()
                        outcomes[job["version_id"]] = Failure(job["version_id"], job["url"], failure,
                                                              f"{job['url']}: {reason}")
                    queue.give_back(list(w.jobs))  # sent, never begun: not its fault
                    w.jobs.clear()
                elif w.jobs and time.monotonic() - w.started > settings.timeout:
                    w.kill()
                    queue.give_back(w.unstarted())
                    job = w.finished()
                    outcomes[job["version_id"]] = Failure(
                        job["version_id"], job["url"], "timeout",
                        f"{job['url']}: took longer than {settings.timeout:g} s (parse.timeout); worker killed")
                if not w.proc.is_alive():
                    w.kill()  # its LibreOffice, if any
                    w.conn.close()
                    workers[i] = start(limits)  # the pool carries on
            flush(force=stopping)
        # a job already running when a stop was asked is written when its turn comes; jobs never
        # handed out stay pending (or outdated) for the next run
        flush()
    finally:
        for w in workers:
            w.stop()
    if not again:
        summary.left = len(order) - next_write
    return waiting


def _write(store: Store, job: dict[str, Any], outcome, summary: ParseSummary, *, reparse: bool,
           again: bool = False):
    """One document's outcome (inside the batch's transaction).  Returns the report's (agency, year)
    when it wants last year's figures (see ``_wants_previous``), else None: the pass holds only that
    much of it, not its rows, until its second reading."""
    vid = job["version_id"]
    summary.slowest = sorted([*summary.slowest, (job.get("_seconds", 0.0), job["url"])], reverse=True)[:5]
    wanted = None
    if again and isinstance(outcome, Failure):  # the first reading stands (same bytes; a slow second try)
        log.warning("second reading with last year's figures failed (%s), the first one is kept: %s",
                    outcome.failure, outcome.error)
        return None
    if again:  # the second reading replaces the first one's count
        summary.statuses[summary.written_status.get(vid, "")] -= 1
        summary.statuses += Counter()  # drop zero counts
    with store.transaction():
        if isinstance(outcome, Failure):
            store.mark_parse_failed(vid, failure=outcome.failure, error=outcome.error,
                                    parser_version=summary.parser_version)
            if not again:
                summary.failures.append(outcome)
            summary.statuses[PARSE_FAILED] += 1
            log.warning("parse failed (%s): %s", outcome.failure, outcome.error)
        else:
            report, wants = outcome  # its rows (storage.reports.ReportRows), as the worker sent them
            status = ParseStatus(report.status)
            store.set_parse_status(vid, status, error=report.error, format=report.format,
                                   parser_version=summary.parser_version)
            summary.statuses[status.value] += 1
            if status not in NOT_REPORTS:
                rid = store.save_report(
                    report, version_id=vid, report_url=job["report_url"], site=job["site"],
                    first_seen=job["first_seen"], parser_version=summary.parser_version, reparse=reparse)
                if not again:
                    summary.report_ids.append(rid)
                if wants and not again:
                    wanted = (report.agency, report.year)
            if again or wanted is not None:  # what the second reading's count replaces
                summary.written_status[vid] = status.value
    if not again:
        summary.written += 1
    return wanted


#: versions read from the database at a time by a pass (a few of the pool's windows: the pool asks
#: for more whenever its queue runs low)
PENDING_CHUNK = 2048


class _Chunks:
    """A reader of the ``mode`` versions in id order, PENDING_CHUNK at a time after the last one taken
    (``mark``), None once none is left; ``limit``: at most that many in all.  A back-fill's or a
    re-parse's jobs are never all held at once (≈ 2 KB each in the parent).  The mark is what keeps
    ``all`` from reading a version it has just re-read; a version that becomes due below it while the
    pass runs (pending only at its insert; outdated only if a document goes back to an older version's
    bytes) waits for the next pass, as with the snapshot read before."""

    def __init__(self, store: Store, version: str, mode: str, site: str | None, limit: int | None) -> None:
        if limit is not None and limit < 0:
            raise ValueError(f"limit must be 0 or more, not {limit}")
        self.store, self.version, self.mode, self.site = store, version, mode, site
        self.mark, self.left = 0, limit

    def __call__(self) -> list[dict[str, Any]] | None:
        n = PENDING_CHUNK if self.left is None else min(PENDING_CHUNK, self.left)
        new = self.store.parse_jobs(self.version, mode=self.mode, site=self.site, after_id=self.mark,
                                    limit=n) if n > 0 else []
        if not new:
            return None
        self.mark = new[-1]["version_id"]
        if self.left is not None:
            self.left -= len(new)
        return new

    def unread(self) -> int:
        """Versions due beyond the mark, within the limit: what a pass stopped early leaves."""
        if self.left == 0:
            return 0
        n = self.store.count_parse_jobs(self.version, mode=self.mode, site=self.site, after_id=self.mark)
        return n if self.left is None else min(n, self.left)


def _run_chunked(store: Store, settings: ParseSettings, mode: str, *, site: str | None, limit: int | None = None,
                 progress: bool, should_stop) -> ParseSummary:
    more = _Chunks(store, settings.version(), mode, site, limit)
    first = more()
    if first is None:
        return run_jobs(store, [], settings, mode=mode, progress=progress, should_stop=should_stop)
    total = len(first) + more.unread() if progress else None
    summary = run_jobs(store, first, settings, mode=mode, progress=progress, should_stop=should_stop, more=more,
                       total=total)
    if summary.left:  # stopped early: the versions never read count as left too
        unread = more.unread()
        summary.left += unread
        summary.jobs += unread
    return summary


def parse_pending(store: Store, settings: ParseSettings, *, site: str | None = None, progress: bool = False,
                  should_stop=None) -> ParseSummary:
    """Parse every version waiting (``pending``, or failed under another parser version), those stored
    while it runs included."""
    return _run_chunked(store, settings, "pending", site=site, progress=progress, should_stop=should_stop)


def parse_during(store: Store, settings: ParseSettings, running, *, site: str | None = None,
                 progress: bool = False, should_stop=None) -> ParseSummary:
    """Parse pending versions while another process (the crawl) is still storing them: the pool
    takes each new pending version as it appears, until ``running()`` is false and none is left.

    The crawl writes documents, this stage writes reports (one writer per table, SQLite's lock
    between the two); the crawl never waits for a parse, so a poison document still cannot stall it."""
    version = settings.version()
    # The versions are read in id order, a chunk at a time after the last one taken: a version is
    # pending only from its insert, and SQLite lets one writer commit at a time, so none can appear
    # below that mark later.  (Reading every new pending version at once put the crawl's whole backlog
    # into the pool's queue whenever the queue ran low: the parent's RSS rose by 230 MB in one step
    # on a 3,000-portal night.)
    taken = [0]
    ended: list[float] = []  # when the crawl was seen over

    def watch() -> None:  # when the crawl ended, even while the pool is too busy to ask
        while running():
            time.sleep(0.2)
        ended.append(time.monotonic())

    watcher = threading.Thread(target=watch, name="nianbao-crawl-watch", daemon=True)
    watcher.start()

    def more():
        alive = not ended and running()  # asked first: what the crawl stored before it ended is still picked up
        new = store.parse_jobs(version, mode="pending", site=site, after_id=taken[0], limit=PENDING_CHUNK)
        if new:
            taken[0] = new[-1]["version_id"]
        if not new and not alive:
            return None
        return new

    # the crawl's documents arrive one by one: they are written a few at a time while it runs
    # (ParseSettings.crawl_batch_seconds), so that the crawl's own writes never wait long for SQLite's lock
    summary = _in_thread(lambda stop, spawn: run_jobs(store, [], settings, mode="pending", progress=progress,
                                                      should_stop=stop, more=more, crawling=lambda: not ended,
                                                      spawn=spawn),
                         should_stop or (lambda: False), nice=settings.writer_nice)
    summary.during_crawl = True
    watcher.join(1.0)
    if ended:
        summary.after_crawl_s = max(0.0, time.monotonic() - ended[0])
    return summary


def _in_thread(work, should_stop, *, nice: int):
    """``work(stop, spawn)`` in a thread of its own at ``nice`` (Linux gives each thread its own
    niceness; a thread cannot lower it again, so the caller's thread is left alone), its result or
    exception returned or raised here.  ``spawn(make)`` runs ``make`` (a worker's start) in the
    caller's thread, whose niceness the process inherits.  An interruption here (Ctrl-C) asks the
    thread to stop and waits for it: the pool stops its workers and the open batch is written or
    rolled back as in one thread."""
    box: dict[str, Any] = {}
    interrupted = threading.Event()
    requests: queue.Queue = queue.Queue()

    def spawn(make):
        done: queue.Queue = queue.Queue(maxsize=1)
        requests.put((make, done))
        ok, value = done.get()
        if not ok:
            raise value
        return value

    def run() -> None:
        if nice and sys.platform.startswith("linux"):
            try:
                os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), nice)
            except OSError:  # not permitted: the pool still works, at the caller's priority
                pass
        try:
            box["result"] = work(lambda: interrupted.is_set() or should_stop(), spawn)
        except BaseException as e:  # noqa: BLE001 - re-raised in the caller's thread
            box["error"] = e

    thread = threading.Thread(target=run, name="nianbao-parse-pool", daemon=True)
    thread.start()
    def serve(block: float) -> None:
        try:
            make, done = requests.get(timeout=block)
        except queue.Empty:
            return
        try:
            done.put((True, make()))
        except BaseException as e:  # noqa: BLE001 - raised in the pool's thread
            done.put((False, e))

    try:
        while thread.is_alive():
            serve(0.1)
    except BaseException:
        interrupted.set()
        while thread.is_alive():  # it may still start a worker while stopping (a dead one replaced)
            serve(0.1)
        raise
    if "error" in box:
        raise box["error"]
    return box["result"]


def reparse(store: Store, settings: ParseSettings, *, everything: bool = False, site: str | None = None,
            limit: int | None = None, progress: bool = False, should_stop=None) -> ParseSummary:
    """Read stored documents again: those read by another parser version (``everything``: all),
    each document's latest version.  A change of cells is a ``reparsed`` event."""
    mode = "all" if everything else "outdated"
    return _run_chunked(store, settings, mode, site=site, limit=limit, progress=progress, should_stop=should_stop)
