"""`nianbao export` (the 通报: XLSX, DOCX, CSV) and `nianbao triage` (确认 / 误报 / 已整改)."""
from __future__ import annotations

import getpass
import sys
from datetime import date, datetime, timezone
from pathlib import Path

import click

from crawler.cli import get_config


def _fail(message: str, code: int = 2) -> None:
    click.echo(f"nianbao: {message}", err=True)
    sys.exit(code)


def _open(ctx: click.Context, db: str | None, *, readonly: bool):
    from storage.db import Store

    path = Path(db) if db else get_config(ctx).database_path()
    if not path.exists():
        _fail(f"{path}: no database here; run `nianbao run` or `nianbao ingest` first, or pass --db")
    return Store(path, readonly=readonly)


@click.command("export")
@click.option("--db", type=click.Path(dir_okay=False), default=None,
              help="SQLite database (default: `database` of config.yaml).")
@click.option("--year", type=int, default=None, help="Report year (default: the latest year with reports).")
@click.option("--site", default=None, help="Only the agencies of this site.")
@click.option("--region", default=None, help="Only the agencies of this region (as the matrix shows it).")
@click.option("--kind", type=click.Choice(["department", "town", "government"]), default=None,
              help="Only departments, towns (乡镇/街道) or governments (本级政府).")
@click.option("--format", "fmt", type=click.Choice(["xlsx", "docx", "csv"]), required=True)
@click.option("--out", type=click.Path(dir_okay=False), default=None,
              help="File to write (default: nianbao-<year>-通报.<format> here; '-' for stdout).")
@click.option("--today", type=click.DateTime(formats=["%Y-%m-%d"]), default=None,
              help="Count deadlines as of this date (default: today).")
@click.pass_context
def export(ctx: click.Context, db: str | None, year: int | None, site: str | None, region: str | None,
           kind: str | None, fmt: str, out: str | None, today) -> None:
    """Write the 通报 of a year: the compliance matrix as XLSX, a DOCX notice, or CSV.

    The figures are the matrix page's (same filters); dismissed and fixed findings are left out.
    """
    from monitor import export as exp
    from monitor.compliance import matrix_for

    config = get_config(ctx)
    store = _open(ctx, db, readonly=True)
    try:
        day = today.date() if today else datetime.now(timezone.utc).date()
        m, label = matrix_for(store.conn, year=year, today=day, grace_days=config.monitor.grace_days,
                              rosters={s.name: {r.name: r.kind for r in s.roster} for s in config.sites},
                              site=site, region=region, kind=kind)
    finally:
        store.close()
    if site and site not in m.options["sites"]:
        click.echo(f"nianbao: warning: no agency of site {site!r} in {m.year} "
                   f"(sites: {', '.join(m.options['sites']) or 'none'})", err=True)
    if region and region not in m.options["regions"]:
        click.echo(f"nianbao: warning: no agency of region {region!r} in {m.year} "
                   f"(regions: {', '.join(m.options['regions']) or 'none'})", err=True)
    body = exp.export(m, fmt, base_url=config.alerts.datasette_url, label=label)
    if out == "-":
        sys.stdout.buffer.write(body)
        return
    path = Path(out or exp.filename(m, fmt))
    path.write_bytes(body)
    c = m.counts
    click.echo(f"wrote {path}: {m.year}, {c.expected} expected, {c.published} published ({c.on_time} on time, "
               f"{c.late} late), {c.missing} missing, {c.with_errors} with errors")


@click.command("triage")
@click.argument("finding")
@click.option("--confirm", "state", flag_value="confirmed", help="确认: the finding is right.")
@click.option("--dismiss", "state", flag_value="dismissed", help="误报: a false alarm (needs --note).")
@click.option("--fixed", "state", flag_value="fixed", help="已整改: the agency has corrected it.")
@click.option("--reopen", "state", flag_value="reopened", help="重新打开: back to open.")
@click.option("--note", default=None, help="Why (shown on the report page and kept in the history).")
@click.option("--by", "actor", default=None, help="Who decides (default: the login name).")
@click.option("--db", type=click.Path(dir_okay=False), default=None,
              help="SQLite database (default: `database` of config.yaml).")
@click.option("--show", is_flag=True, help="Print the finding and its triage history; change nothing.")
@click.pass_context
def triage(ctx: click.Context, finding: str, state: str | None, note: str | None, actor: str | None,
           db: str | None, show: bool) -> None:
    """Record a decision on FINDING (its id, or its fingerprint or a prefix of it).

    A dismissed or fixed finding is not counted or alerted again while the cells it names are
    unchanged; if they change, it reopens.  Exit 1 if there is no such finding.
    """
    from monitor import triage as policy

    store = _open(ctx, db, readonly=show)
    try:
        try:
            row = store.finding_row(finding)
        except ValueError as e:
            _fail(str(e))
        if row is None:
            _fail(f"no finding {finding!r} (give its id from the findings table, or its fingerprint)", 1)
        if not show:
            if state is None:
                _fail("say what to record: --confirm, --dismiss, --fixed or --reopen (or --show)")
            try:
                state, note, who = policy.check_decision(state, note, actor or getpass.getuser())
            except ValueError as e:
                _fail(str(e))
            store.triage(row["id"], state, actor=who, note=note)
            row = store.finding_row(row["id"])
    finally:
        store.close()
    click.echo(f"finding {row['id']} ({row['fingerprint']}) {row['rule']} {row['agency'] or ''} {row['year'] or ''}: "
               f"{policy.STATE_LABELS[row['triage_state']]}")
    click.echo(f"  {row['message']}")
    for t in row["triage"]:
        click.echo(f"  {t['at']} {t['actor']}: {policy.ACTION_LABELS[t['state']]}" + (f" — {t['note']}" if t["note"] else ""))


COMMANDS = [export, triage]
