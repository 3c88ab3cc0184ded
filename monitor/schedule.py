"""`nianbao schedule`: APScheduler 3.x, in its own process, running one job on a cron.

Choices (see ../shared/research/tools.md §5):

* ``BlockingScheduler`` with a memory job store: this process is the only scheduler; our own
  ``runs`` table is the history, not a pickled job store.
* One job with a fixed id; ``coalesce=True`` (a backlog of missed fires runs once),
  ``max_instances=1`` (never two runs at once; a fire during a run is skipped and logged), and
  ``misfire_grace_time`` of hours from config: APScheduler's default of one second silently skips a
  run that starts a little late (busy machine, suspend).
* Catch-up at start: when the last successful run (``ok`` or ``partial``: the pipeline went through)
  is older than ``monitor.crawl_interval_hours``, the job's first fire is now.
* SIGTERM/SIGINT: no new run starts; the run in progress is asked to stop at its next stage
  boundary (the crawl's own process gets the signal from systemd's control group and closes
  cleanly), recorded as ``aborted`` (exit 1) or as finished, then the process exits.  A second
  signal exits at once; the run's row then stays ``running``, which is what it was.

* No run can block the nights after it: the job bounds its own stages (the crawl is killed after
  ``crawl.max_run_hours`` and recorded as ``killed``; each parse job has a wall timeout and rlimits;
  SMTP has ``alerts.smtp.timeout``), and a run whose process died is marked ``killed`` by the next.

monitor/ does not import the crawler: the job (``crawler.run.run_once``) is handed in.
"""
from __future__ import annotations

import logging
import signal
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Callable

from apscheduler.events import EVENT_JOB_MAX_INSTANCES, EVENT_JOB_MISSED, JobExecutionEvent
from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger

log = logging.getLogger(__name__)

JOB_ID = "nianbao-run"
SUCCESSFUL = ("ok", "partial")


@dataclass
class ScheduleSettings:
    cron: str = "30 2 * * *"
    timezone: str = "Asia/Shanghai"
    misfire_grace_hours: float = 6
    interval_hours: float = 24  # catch-up threshold (monitor.crawl_interval_hours)

    @classmethod
    def from_config(cls, config) -> "ScheduleSettings":
        return cls(cron=config.schedule.cron, timezone=config.schedule.timezone,
                   misfire_grace_hours=config.schedule.misfire_grace_hours,
                   interval_hours=config.monitor.crawl_interval_hours)

    def trigger(self) -> CronTrigger:
        return CronTrigger.from_crontab(self.cron, timezone=self.timezone)


def needs_catch_up(last_runs: list[dict], *, interval_hours: float, now: datetime | None = None) -> bool:
    """True when no run went through within the interval (``last_runs``: Store.last_runs(kind='run'))."""
    now = now or datetime.now(timezone.utc)
    for r in last_runs:
        if r.get("status") not in SUCCESSFUL:
            continue
        when = r.get("finished") or r.get("started")
        try:
            t = datetime.fromisoformat(str(when).replace("Z", "+00:00"))
        except ValueError:
            continue
        if t.tzinfo is None:
            t = t.replace(tzinfo=timezone.utc)
        return now - t > timedelta(hours=interval_hours)
    return True


@dataclass
class Scheduled:
    """The scheduler and the state its signal handling needs."""

    scheduler: BlockingScheduler
    stop: threading.Event = field(default_factory=threading.Event)
    idle: threading.Event = field(default_factory=threading.Event)  # set while no run is in progress
    runs: int = 0
    skipped: int = 0
    last_exit: int = 0


def build(job: Callable[[Callable[[], bool]], int], settings: ScheduleSettings, *,
          catch_up: bool, trigger: BaseTrigger | None = None, max_runs: int | None = None) -> Scheduled:
    """A scheduler running ``job(should_stop) -> exit code`` on the cron (or ``trigger``)."""
    job_options = {"coalesce": True, "max_instances": 1,
                   "misfire_grace_time": int(settings.misfire_grace_hours * 3600)}
    scheduler = BlockingScheduler(timezone=settings.timezone, job_defaults=job_options)
    state = Scheduled(scheduler)
    state.idle.set()
    lock = threading.Lock()  # belt and braces: max_instances already forbids overlap

    def wrapped() -> None:
        if state.stop.is_set() or not lock.acquire(blocking=False):
            state.skipped += 1
            return
        state.idle.clear()
        try:
            state.last_exit = job(state.stop.is_set)
        except Exception:  # noqa: BLE001 - logged and recorded by the run; the schedule goes on
            log.exception("scheduled run failed")
            state.last_exit = 1
        finally:
            state.runs += 1
            lock.release()
            state.idle.set()
        if max_runs is not None and state.runs >= max_runs:
            request_stop(state)

    def on_event(event: JobExecutionEvent) -> None:
        state.skipped += 1
        log.warning("scheduled run %s: %s", "skipped (previous run still going)"
                    if event.code == EVENT_JOB_MAX_INSTANCES else "missed (later than the misfire grace)",
                    event.scheduled_run_time)

    scheduler.add_listener(on_event, EVENT_JOB_MAX_INSTANCES | EVENT_JOB_MISSED)
    kwargs = {"next_run_time": datetime.now(timezone.utc)} if catch_up else {}
    scheduler.add_job(wrapped, trigger or settings.trigger(), id=JOB_ID, name="crawl, check, alert",
                      replace_existing=True, **job_options, **kwargs)
    return state


def request_stop(state: Scheduled) -> None:
    """Stop scheduling; the run in progress sees ``stop`` at its next stage."""
    state.stop.set()
    # shutdown takes the scheduler's locks: never from the signal handler's frame itself
    threading.Thread(target=_shutdown, args=(state,), daemon=True).start()


def _shutdown(state: Scheduled) -> None:
    try:
        state.scheduler.shutdown(wait=False)
    except Exception:  # noqa: BLE001 - already stopped
        pass


def serve(state: Scheduled) -> int:
    """Run until SIGTERM/SIGINT; return the exit code of the last run (0 when none failed)."""
    def on_signal(signum, _frame) -> None:
        if state.stop.is_set():
            log.warning("second signal: exiting now")
            raise SystemExit(1)
        log.warning("signal %s: no new runs; the current one stops at its next stage", signum)
        request_stop(state)

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        job = state.scheduler.get_job(JOB_ID)
        log.info("scheduler started; next run at %s", job.next_run_time if job else None)
        state.scheduler.start()  # blocks until shutdown
        state.idle.wait()  # the run in progress, if any, ends (or aborts) and records itself
    finally:
        for s, h in previous.items():
            signal.signal(s, h)
    return state.last_exit
