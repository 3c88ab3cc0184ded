"""`nianbao check`, `alert`, `run` and `schedule`: the monitor's commands.

Exit codes (cron and systemd rely on them; docs/systemd.md): 0 ok, 1 partial failure (a site
failed, a report could not be checked, an alert could not be sent and stays queued, or a dead alert
waits for `nianbao alert --retry-dead` / `--drop ID`), 2 config or usage error.
"""
from __future__ import annotations

import logging
import sys
from collections import Counter
from datetime import date, datetime, timezone

import click

from crawler.cli import get_config

log = logging.getLogger(__name__)


def _today(value: str | None) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a date (YYYY-MM-DD)", param_hint="--today") from None


_today_option = click.option(
    "--today", "today", default=None, metavar="YYYY-MM-DD",
    help="Judge deadlines and missing reports as of this date (default: today).")
_site_option = click.option("--site", "sites", multiple=True, help="Only this site (config name); repeatable.")


def _store(config, *, readonly: bool = False):
    from storage.db import Store

    return Store(config.database_path(), readonly=readonly)


@click.command("check")
@_site_option
@_today_option
@click.pass_context
def check(ctx: click.Context, sites: tuple[str, ...], today: str | None) -> None:
    """Run every check on the stored reports (no crawl, no email) and print a summary."""
    from crawler.run import run_checks_for
    from monitor.checks.categories import SEVERITY_LABELS, SEVERITY_ORDER, category

    config = get_config(ctx)
    for name in sites:
        config.site(name)
    store = _store(config)
    run_id = store.start_run("check", config={"sites": list(sites)})
    try:
        summary = run_checks_for(config, store, today=_today(today), run_id=run_id, sites=list(sites) or None)
        store.finish_run(run_id, "ok" if summary.ok else "partial", summary.as_stats())
        open_findings = store.findings(open_only=True)
    except BaseException as e:
        store.finish_run(run_id, "failed", error=f"{type(e).__name__}: {e}")
        raise
    finally:
        store.close()
    click.echo(f"checked {summary.reports} reports of {len(summary.sites)} sites: {summary.findings} findings, "
               f"{len(summary.new)} new, {len(summary.resolved)} resolved")
    by_key = Counter((f.severity, f.rule) for f in open_findings)
    for (sev, rule), n in sorted(by_key.items(), key=lambda kv: (SEVERITY_ORDER.get(kv[0][0], 9), kv[0][1])):
        click.echo(f"  {SEVERITY_LABELS.get(sev, sev)} {rule} ({category(rule)}): {n} open")
    for f in summary.new[:50]:
        click.echo(f"  new: [{f.severity}] {f.rule} {f.site or ''} {f.agency or ''} {f.year or ''}: {f.message}")
    for p in summary.problems:
        click.echo(f"  problem: {p}", err=True)
    sys.exit(0 if summary.ok else 1)


@click.command("alert")
@click.option("--dry-run", is_flag=True, help="Print the messages that would be sent; queue and send nothing.")
@click.option("--retry-dead", is_flag=True,
              help="Put dead alerts (max_attempts failed sends) back in the queue and try them now.")
@click.option("--drop", "drop_ids", type=int, multiple=True, metavar="ID",
              help="Give up on this unsent alert (kept in the outbox as dropped, never sent); repeatable.")
@click.pass_context
def alert(ctx: click.Context, dry_run: bool, retry_dead: bool, drop_ids: tuple[int, ...]) -> None:
    """Send digests of the findings not yet alerted, and retry queued alerts that are due.

    Exit 1 while an alert could not be sent or a dead alert waits for an operator
    (`nianbao status` lists them).
    """
    from crawler.run import check_alert_config, run_alerts_for

    config = get_config(ctx)
    if dry_run and (retry_dead or drop_ids):
        raise click.UsageError("--dry-run changes nothing; it cannot be combined with --retry-dead or --drop")
    if not dry_run:
        check_alert_config(config)
    store = _store(config)
    if drop_ids:
        try:
            with store.transaction():
                dropped = [store.drop_alert(i) for i in drop_ids]
        except KeyError as e:
            store.close()
            raise click.BadParameter(str(e.args[0]), param_hint="--drop") from None
        for a in dropped:
            click.echo(f"dropped alert {a['id']} ({a['channel']}: {a['subject']}); its "
                       f"{len(a['fingerprints'])} findings will not be alerted")
    if retry_dead:
        revived = store.retry_dead_alerts()
        click.echo(f"{len(revived)} dead alerts queued again" + (f": {', '.join(map(str, revived))}" if revived else ""))
    run_id = None if dry_run else store.start_run("alert")
    try:
        outcome = run_alerts_for(config, store, dry_run=dry_run)
        if run_id is not None:
            store.finish_run(run_id, "ok" if outcome.ok else "partial", outcome.as_stats())
    except BaseException as e:
        if run_id is not None:
            store.finish_run(run_id, "failed", error=f"{type(e).__name__}: {e}")
        raise
    finally:
        store.close()
    if dry_run:
        if not outcome.digests:
            click.echo("nothing to send: no open finding waits for an alert")
        for d in outcome.digests:
            to = ", ".join(d.recipients) if d.channel == "email" else d.channel
            click.echo(f"To: {to}\nSubject: {d.subject}\n"
                       f"Findings: {len(d.fingerprints)}  Key: {d.key}\n\n{d.text or d.markdown}\n{'=' * 72}")
        sys.exit(0)
    click.echo(f"{len(outcome.digests)} digests composed, {outcome.delivery.queued} queued, "
               f"{len(outcome.delivery.sent)} sent, {len(outcome.delivery.failed)} failed (kept in the outbox)")
    for _, err in outcome.delivery.failed:
        click.echo(f"  failed: {err}", err=True)
    for i in outcome.delivery.skipped:
        click.echo(f"  waiting: alert {i} is queued for a channel no longer configured "
                   f"(configure it again, or `nianbao alert --drop {i}`)", err=True)
    for a in outcome.dead:
        click.echo(f"  dead: alert {a['id']} ({a['channel']}, {a['attempts']} attempts): {a['last_error']} "
                   f"-- `nianbao alert --retry-dead` or `nianbao alert --drop {a['id']}`", err=True)
    sys.exit(0 if outcome.ok else 1)


@click.command("run")
@_site_option
@_today_option
@click.option("--no-crawl", is_flag=True, help="Skip the crawl: check and alert only.")
@click.option("--progress/--no-progress", default=False, help="Show crawl progress.")
@click.pass_context
def run(ctx: click.Context, sites: tuple[str, ...], today: str | None, no_crawl: bool, progress: bool) -> None:
    """Crawl, parse, check and alert once.  Exit 0 ok, 1 partial failure, 2 config error."""
    import signal

    from crawler.run import StopFlag, run_once

    config = get_config(ctx)
    stop = StopFlag()

    def on_signal(signum, _frame) -> None:
        if stop():
            raise SystemExit(1)  # a second signal: leave now
        log.warning("signal %s: stopping at the next stage; the run is recorded as aborted", signum)
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    result = run_once(config, sites=list(sites) or None, crawl=not no_crawl, today=_today(today),
                      progress=progress, should_stop=stop)
    click.echo(result.render())
    sys.exit(result.exit_code)


@click.command("schedule")
@click.option("--no-catch-up", is_flag=True, help="Do not run at start even if the last run is old.")
@click.option("--interval-seconds", type=float, default=None,
              help="Run every N seconds instead of the cron (testing and debugging).")
@click.option("--max-runs", type=int, default=None, help="Exit after this many runs (testing).")
@click.pass_context
def schedule(ctx: click.Context, no_catch_up: bool, interval_seconds: float | None, max_runs: int | None) -> None:
    """Run `nianbao run` on the cron of config (schedule.cron, schedule.timezone) until SIGTERM."""
    from apscheduler.triggers.interval import IntervalTrigger

    from crawler.run import check_alert_config, run_once
    from monitor.schedule import ScheduleSettings, build, needs_catch_up, serve

    config = get_config(ctx)
    check_alert_config(config)  # exit 2 now rather than at 02:30
    settings = ScheduleSettings.from_config(config)
    try:
        trigger = IntervalTrigger(seconds=interval_seconds, timezone=settings.timezone) if interval_seconds \
            else settings.trigger()
    except ValueError as e:
        from crawler.config import ConfigError

        raise ConfigError("schedule.cron", str(e)) from None
    store = _store(config)
    try:
        catch_up = not no_catch_up and needs_catch_up(store.last_runs(limit=20, kind="run"),
                                                      interval_hours=settings.interval_hours)
    finally:
        store.close()

    def job(should_stop) -> int:
        result = run_once(config, should_stop=should_stop)
        log.warning("run %s finished: %s (exit %s)", result.run_id, result.status, result.exit_code)
        return result.exit_code

    state = build(job, settings, catch_up=catch_up, trigger=trigger, max_runs=max_runs)
    click.echo(f"nianbao schedule: cron '{settings.cron}' ({settings.timezone})"
               + (f", every {interval_seconds:g}s" if interval_seconds else "")
               + (", catching up now" if catch_up else "") + f", started {datetime.now(timezone.utc):%H:%M:%S}Z",
               err=True)
    serve(state)
    click.echo(f"nianbao schedule: stopped after {state.runs} runs", err=True)
    sys.exit(0)  # a clean stop; each run recorded its own status in the runs table


COMMANDS = [check, alert, run, schedule]
