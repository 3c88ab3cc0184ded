"""One monitoring run: crawl (bytes only) -> parse (the sandboxed pool) -> check -> alert.

The crawl is bounded by ``crawl.max_run_hours``: a crawl still going then is killed and recorded
(its row in ``runs`` says why); what it stored stays, and its pending versions are parsed.  After
the pending versions, up to ``parse.reparse_per_run`` documents read by an older parser version
are read again, so a parser improvement reaches the whole database over a few nights.

``run_once`` is what ``nianbao run``, ``nianbao schedule`` and a systemd timer execute.  Its exit
code is the contract with cron/systemd (docs/systemd.md):

* 0 — everything ran: every site crawled, every check ran, every due alert sent (or none due);
* 1 — partial failure: a site failed or was partial, a report could not be checked, an alert
  could not be sent (it stays queued in the outbox and is retried on the next run), or the run was
  stopped by SIGTERM before the end; nothing stored is lost;
* 2 — config or usage error (raised as ConfigError, turned into exit 2 by the CLI): nothing ran.

Each run is one row of the ``runs`` table (kind ``run``; the crawl keeps its own ``crawl`` row),
with the figures of every stage in ``stats``, so Datasette shows the history.
"""
from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from typing import Any, Callable

from crawler.config import Config, ConfigError
from crawler.parse_stage import ParseSettings, ParseSummary, parse_pending, reparse
from monitor.alerts import AlertOutcome, AlertSettings, run_alerts
from monitor.checks.runner import CheckSummary, MonitorSettings, run_checks
from monitor.mailer import Mailer, SmtpSettings
from storage.db import Store

log = logging.getLogger(__name__)

EXIT_OK, EXIT_PARTIAL, EXIT_CONFIG = 0, 1, 2


def mailer_from_config(config: Config) -> Mailer:
    """The SMTP client of alerts.smtp; the password comes from the env var it names."""
    smtp = config.alerts.smtp
    if smtp.user and not smtp.password_env:
        raise ConfigError("alerts.smtp.password_env",
                          "required when alerts.smtp.user is set (name of the env var holding the password)")
    if smtp.user and smtp.security == "none" and not smtp.allow_plaintext_auth:
        raise ConfigError("alerts.smtp.allow_plaintext_auth",
                          "alerts.smtp.user is set but security is none: the password would cross the network "
                          "in clear; use security: starttls or ssl (or allow_plaintext_auth: true)")
    password = smtp.password() if smtp.user else None  # ConfigError names the key when unset
    return Mailer(SmtpSettings(host=smtp.host, port=smtp.port, security=smtp.security, user=smtp.user,
                               password=password, sender=smtp.sender, timeout=smtp.timeout,
                               allow_plaintext_auth=smtp.allow_plaintext_auth))


def check_alert_config(config: Config) -> None:
    """Fail early (exit 2) on what would only fail at send time."""
    if not config.alerts.enabled:
        return
    a = config.alerts
    if not a.email and not a.apprise:
        raise ConfigError("alerts.email", "email is off and alerts.apprise is empty: no channel to alert on "
                                          "(or alerts.enabled: false)")
    if a.email:
        if not a.recipients and not any(s.recipients for s in config.sites):
            raise ConfigError("alerts.recipients",
                              "no recipients: set alerts.recipients or sites[].recipients, or alerts.enabled: false")
        mailer_from_config(config)
    from monitor.channels import ChannelError, check_url

    for i, url in enumerate(a.apprise):
        try:
            check_url(url)
        except ChannelError as e:
            raise ConfigError(f"alerts.apprise[{i}]", str(e)) from None


@dataclass
class RunResult:
    run_id: int | None = None
    status: str = "ok"  # ok | partial | aborted
    exit_code: int = EXIT_OK
    crawl: Any = None  # crawler.crawl.CrawlSummary
    parse: ParseSummary | None = None
    reparse: ParseSummary | None = None
    checks: CheckSummary | None = None
    alerts: AlertOutcome | None = None
    problems: list[str] = field(default_factory=list)
    started: datetime | None = None
    finished: datetime | None = None

    def stats(self) -> dict[str, Any]:
        out: dict[str, Any] = {"problems": self.problems[:20]}
        if self.crawl is not None:
            out["crawl"] = {"run_id": self.crawl.run_id, "status": self.crawl.status, "pages": self.crawl.pages,
                            "reports": self.crawl.reports, "documents_new": self.crawl.documents_new,
                            "documents_revised": self.crawl.documents_revised, "errors": self.crawl.errors,
                            "failing_sites": self.crawl.failing_sites,
                            "processes": len(getattr(self.crawl, "processes", []) or [])}
        if self.parse is not None:
            out["parse"] = self.parse.as_stats()
        if self.reparse is not None:
            out["reparse"] = self.reparse.as_stats()
        if self.checks is not None:
            out["checks"] = self.checks.as_stats()
        if self.alerts is not None:
            out["alerts"] = self.alerts.as_stats()
        return out

    def render(self) -> str:
        lines = [f"run {self.run_id}: {self.status} (exit {self.exit_code})"]
        if self.crawl is not None:
            c = self.crawl
            lines.append(f"  crawl: {c.status}, {c.pages} pages, {c.reports} reports, "
                         f"{c.documents_new} new and {c.documents_revised} revised documents, {c.errors} errors")
        for p in (self.parse, self.reparse):
            if p is not None and (p.jobs or p is self.parse):
                lines.append("  " + p.render().replace("\n", "\n  "))
        if self.checks is not None:
            k = self.checks
            rules = ", ".join(f"{r} {n}" for r, n in sorted(k.by_rule().items())) or "none"
            lines.append(f"  checks: {k.reports} reports, {k.findings} open findings, {len(k.new)} new ({rules}), "
                         f"{len(k.resolved)} resolved")
        if self.alerts is not None:
            a = self.alerts
            lines.append(f"  alerts: {len(a.digests)} composed, {a.delivery.queued} queued, "
                         f"{len(a.delivery.sent)} sent, {len(a.delivery.failed)} failed (kept in the outbox)")
        lines += [f"  problem: {p}" for p in self.problems]
        return "\n".join(lines)


def run_checks_for(config: Config, store: Store, *, today: date | None = None, run_id: int | None = None,
                   sites: list[str] | None = None) -> CheckSummary:
    settings = MonitorSettings.from_config(config)
    return run_checks(store, settings, today=today, run_id=run_id, sites=sites)


def run_alerts_for(config: Config, store: Store, *, now: datetime | None = None,
                   dry_run: bool = False) -> AlertOutcome:
    settings = AlertSettings.from_config(config)
    mailer = None if dry_run or not config.alerts.enabled or not config.alerts.email else mailer_from_config(config)
    return run_alerts(store, settings, mailer, sender=config.alerts.smtp.sender, now=now, dry_run=dry_run)


def _crawl_and_parse(config: Config, store: Store, run_crawl, *, sites, progress: bool, timeout: float,
                     should_stop) -> tuple[Any, ParseSummary | None]:
    """The crawl (its own process) with the parse pool taking each stored version as it comes
    (``parse_during``), so a night costs about the crawl's time, not crawl + parse.  The parse
    stage writes with its own connection; the crawl's run row stays on ``store``.  Returns the
    crawl's summary and the parse's (None when the parse could not run beside it: the caller then
    parses after the crawl)."""
    from crawler.parse_stage import parse_during

    box: dict[str, Any] = {}

    def crawl() -> None:
        try:
            box["crawl"] = run_crawl(config, store, sites=sites, progress=progress, timeout=timeout)
        except BaseException as e:  # re-raised in the calling thread
            box["error"] = e

    thread = threading.Thread(target=crawl, name="nianbao-crawl", daemon=True)
    thread.start()
    parsed = None
    try:
        with Store(store.path) as parse_store:
            parsed = parse_during(parse_store, ParseSettings.from_config(config), thread.is_alive,
                                  progress=False, should_stop=should_stop)
    finally:
        thread.join()
    if "error" in box:
        raise box["error"]
    return box["crawl"], parsed


def run_once(config: Config, *, store: Store | None = None, sites: list[str] | None = None,
             crawl: bool = True, today: date | None = None, now: datetime | None = None,
             progress: bool = False, should_stop: Callable[[], bool] | None = None) -> RunResult:
    """Crawl, check and alert once; record the run.  Raises ConfigError before doing anything
    when the config cannot work (exit 2)."""
    check_alert_config(config)
    if sites:
        for name in sites:
            config.site(name)  # ConfigError on an unknown name
    should_stop = should_stop or (lambda: False)
    own_store = store is None
    store = store or Store(config.database_path())
    result = RunResult(started=datetime.now(timezone.utc))
    max_hours = config.crawl.max_run_hours
    # a run whose process was killed (SIGKILL, power cut) could not record its end: say so now
    stale = store.abandon_stale_runs(older_than=result.started - timedelta(hours=max_hours + 1),
                                     reason="no end recorded: its process was killed or the machine stopped")
    if stale:
        log.warning("%d earlier runs never recorded their end; marked killed", stale)
    result.run_id = store.start_run("run", config={"sites": sites or [s.name for s in config.sites],
                                                   "crawl": crawl})
    error = None
    try:
        if crawl and config.sites and not should_stop():
            from crawler.crawl import run_crawl  # Scrapy only when crawling

            result.crawl, result.parse = _crawl_and_parse(config, store, run_crawl, sites=sites, progress=progress,
                                                          timeout=max_hours * 3600, should_stop=should_stop)
            if result.parse is not None:
                result.problems += [f"parse failed ({f.failure}): {f.error}" for f in result.parse.failures]
            if result.crawl.error and "exceeded" in result.crawl.error:
                result.crawl.error = (f"killed after crawl.max_run_hours = {max_hours:g} h; what it stored is "
                                      f"kept ({result.crawl.error})")
                store.finish_run(result.crawl.run_id, "killed", result.crawl.to_stats(), error=result.crawl.error)
            if result.crawl.status != "ok":
                bad = [n for n, s in result.crawl.sites.items() if s.status != "ok"]
                result.problems.append(f"crawl {result.crawl.status}: sites {', '.join(bad) or '?'}"
                                       + (f" ({result.crawl.error})" if result.crawl.error else ""))
        if not should_stop():
            parse_settings = ParseSettings.from_config(config)
            if result.parse is None:
                result.parse = parse_pending(store, parse_settings, progress=progress, should_stop=should_stop)
                result.problems += [f"parse failed ({f.failure}): {f.error}" for f in result.parse.failures]
            if parse_settings.reparse_per_run and not should_stop():
                result.reparse = reparse(store, parse_settings, limit=parse_settings.reparse_per_run,
                                         progress=progress, should_stop=should_stop)
        if not should_stop():
            result.checks = run_checks_for(config, store, today=today, run_id=result.run_id, sites=sites)
            result.problems += result.checks.problems
        if not should_stop():
            result.alerts = run_alerts_for(config, store, now=now)
            result.problems += [f"alert {i} not sent: {e}" for i, e in result.alerts.delivery.failed]
            if result.alerts.delivery.skipped:  # queued for a channel since taken out of config
                ids = ", ".join(map(str, result.alerts.delivery.skipped))
                result.problems.append(f"alerts {ids} wait for a channel no longer configured (alerts.email, "
                                       "alerts.apprise): configure it again, or `nianbao alert --drop ID`")
            if result.alerts.dead:  # given up on: stays a failure of every run until an operator acts
                ids = ", ".join(str(a["id"]) for a in result.alerts.dead)
                result.problems.append(f"{len(result.alerts.dead)} alerts are dead (ids {ids}): "
                                       "`nianbao alert --retry-dead` to send them again, `--drop ID` to give up")
            waiting = [a for a in store.alerts(status="failed") if a["id"] not in
                       {i for i, _ in result.alerts.delivery.failed}]
            if waiting:  # failed before, not yet due again: alerts are still not getting through
                result.problems.append(f"{len(waiting)} alerts wait in the outbox for a retry "
                                       f"(next at {min(a['next_attempt_at'] for a in waiting)})")
            if result.alerts.unaddressed:
                result.problems.append(f"{result.alerts.unaddressed} findings have no recipients")
        if should_stop():
            result.status = "aborted"
            result.problems.append("stopped by a signal before the end of the run")
        elif result.problems:
            result.status = "partial"
    except Exception as e:  # recorded, then re-raised: cron must see the failure
        error = f"{type(e).__name__}: {e}"
        result.status = "failed"
        raise
    finally:
        result.finished = datetime.now(timezone.utc)
        result.exit_code = EXIT_OK if result.status == "ok" else EXIT_PARTIAL
        try:
            store.finish_run(result.run_id, result.status, result.stats(), error=error)
        finally:
            if own_store:
                store.close()
    return result


class StopFlag:
    """Set by a signal handler; read by a run between its stages."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def set(self) -> None:
        self._event.set()

    def __call__(self) -> bool:
        return self._event.is_set()
