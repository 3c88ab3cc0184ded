"""`nianbao ingest` (store and parse local files) and `nianbao serve` (Datasette, read-only)."""
from __future__ import annotations

import logging
import socket
import sys
from collections import Counter
from pathlib import Path

import click

from crawler.cli import get_config
from storage.db import Store, StoreError

log = logging.getLogger(__name__)


def _db_path(ctx: click.Context, db: str | None) -> Path:
    return Path(db) if db else get_config(ctx).database_path()


def _fail(message: str) -> None:
    click.echo(f"nianbao: {message}", err=True)
    sys.exit(2)


@click.command()
@click.option("--db", type=click.Path(dir_okay=False), default=None,
              help="SQLite database (default: `database` of config.yaml).")
@click.option("--site", default=None, help="Site name to file the documents under (default: none).")
@click.option("--workers", type=int, default=None, help="Parse worker processes (default: parse.workers).")
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@click.pass_context
def ingest(ctx: click.Context, db: str | None, site: str | None, workers: int | None, paths: tuple[str, ...]) -> None:
    """Store local files (directories are recursed), then parse what is pending and check it.

    Every file is stored, whatever the parser makes of it; exit 1 if a file could not be read or
    stored or its parse job failed, 2 if the database cannot be opened.
    """
    from crawler.ingest import ingest_paths
    from crawler.parse_stage import parse_pending
    from monitor.checks.runner import check_reports

    settings = _parse_settings(ctx, workers)  # a bad --workers stops before the database is touched
    path, store = _open_store(ctx, db)
    if site:  # file the documents under a configured site: its region feeds the facets
        configured = next((s for s in get_config(ctx).sites if s.name == site), None)
        if configured is not None:
            store.upsert_site(site, region=configured.region, start_url=configured.start_url)
    run_id = store.start_run("ingest", config={"paths": list(paths), "site": site})
    try:
        results, errors = ingest_paths(store, paths, run_id=run_id, site=site, progress=True)
        parsed = parse_pending(store, settings, progress=True)
        checks = check_reports(store, parsed.report_ids, run_id=run_id)
    except BaseException as e:
        store.finish_run(run_id, "failed", error=f"{type(e).__name__}: {e}")
        raise
    errors += [f"parse failed ({f.failure}): {f.error}" for f in parsed.failures] + checks.problems
    statuses = parsed.statuses
    stats = {
        "files": len(results) + len(errors), "stored": len(results), "errors": len(errors),
        "skipped_unchanged": sum(r.skipped for r in results), "new_documents": sum(r.is_new for r in results),
        "revised": sum(r.revised for r in results), "reports": len(set(parsed.report_ids)),
        "new_findings": len(checks.new), "parse": parsed.as_stats(),
    }
    store.finish_run(run_id, "ok" if not errors else "partial", stats=stats,
                     error="; ".join(errors[:20]) or None)
    store.close()
    for e in errors:
        click.echo(f"nianbao: {e}", err=True)
    by_status = ", ".join(f"{k} {v}" for k, v in sorted(statuses.items(), key=lambda kv: str(kv[0])))
    click.echo(f"{stats['stored']} files stored in {path} ({stats['skipped_unchanged']} unchanged), "
               f"{parsed.written} parsed, {stats['reports']} reports, {stats['new_findings']} new findings"
               + (f"; parse: {by_status}" if by_status else "") + (f"; {len(errors)} errors" if errors else ""))
    sys.exit(1 if errors else 0)


def _parse_settings(ctx: click.Context, workers: int | None):
    from crawler.parse_stage import ParseSettings

    settings = ParseSettings.from_config(get_config(ctx))
    if workers is not None:
        if workers < 0:
            _fail("--workers: must be 0 (one per core) or more")
        settings.workers = workers
    return settings


@click.command("parse-pending")
@click.option("--db", type=click.Path(dir_okay=False), default=None,
              help="SQLite database (default: `database` of config.yaml).")
@click.option("--site", default=None, help="Only documents of this site.")
@click.option("--workers", type=int, default=None, help="Worker processes (default: parse.workers; 0 = per core).")
@click.pass_context
def parse_pending_cmd(ctx: click.Context, db: str | None, site: str | None, workers: int | None) -> None:
    """Parse the stored documents waiting to be parsed, in the sandboxed worker pool.

    A document whose parse job times out, runs out of memory or crashes is marked parse_failed
    with the reason and not tried again until the parser version changes.  Exit 1 when some did.
    """
    from crawler.parse_stage import parse_pending

    _stage(ctx, db, workers, lambda store, settings: parse_pending(store, settings, site=site, progress=True),
           kind="parse")


@click.command("reparse")
@click.option("--db", type=click.Path(dir_okay=False), default=None,
              help="SQLite database (default: `database` of config.yaml).")
@click.option("--outdated", "mode", flag_value="outdated", default=True,
              help="Documents read by another parser version (the default).")
@click.option("--all", "mode", flag_value="all", help="Every stored document.")
@click.option("--site", default=None, help="Only documents of this site.")
@click.option("--limit", type=click.IntRange(min=0), default=None, help="At most this many documents.")
@click.option("--workers", type=int, default=None, help="Worker processes (default: parse.workers; 0 = per core).")
@click.pass_context
def reparse_cmd(ctx: click.Context, db: str | None, mode: str, site: str | None, limit: int | None,
                workers: int | None) -> None:
    """Parse stored documents again with the current parser, then re-run the checks.

    A re-parse that changes a report's cells is recorded (event `reparsed`: cells, old -> new);
    findings it makes go away are closed as "parser corrected".
    """
    from crawler.parse_stage import reparse
    from crawler.run import run_checks_for

    def go(store, settings):
        summary = reparse(store, settings, everything=mode == "all", site=site, limit=limit, progress=True)
        if summary.report_ids:  # the checks of every site whose reports were read again
            sites = [site] if site else sorted({store.report_row(r).get("site") for r in summary.report_ids},
                                               key=lambda s: s or "")
            checks = run_checks_for(get_config(ctx), store, sites=sites)
            click.echo(f"checks: {checks.reports} reports, {len(checks.new)} new findings, "
                       f"{len(checks.resolved)} resolved ({checks.parser_corrected} parser corrected)")
        return summary

    _stage(ctx, db, workers, go, kind="reparse")


def _open_store(ctx: click.Context, db: str | None) -> tuple[Path, Store]:
    """The database of --db or config.yaml, opened; exit 2 naming it when it cannot be."""
    path = _db_path(ctx, db)
    try:
        return path, Store(path)
    except StoreError as e:
        _fail(str(e))


def _stage(ctx: click.Context, db: str | None, workers: int | None, work, *, kind: str) -> None:
    settings = _parse_settings(ctx, workers)
    _, store = _open_store(ctx, db)
    run_id = store.start_run(kind, config={"workers": settings.n_workers(), "parser_version": settings.version()})
    try:
        summary = work(store, settings)
    except BaseException as e:
        store.finish_run(run_id, "failed", error=f"{type(e).__name__}: {e}")
        raise
    store.finish_run(run_id, "partial" if summary.failures else "ok", stats=summary.as_stats())
    store.close()
    click.echo(summary.render())
    sys.exit(1 if summary.failures else 0)


def _settings(public: bool = False) -> dict:
    settings = {"sql_time_limit_ms": 5000, "facet_time_limit_ms": 500, "default_page_size": 50,
                "allow_download": False, "suggest_facets": False}
    if public:  # no SQL box, no _where= fragments: only the pages and the canned queries
        settings["default_allow_sql"] = False
    return settings


def datasette_app(path: Path, *, public: bool = False, config=None, today=None):
    """The Datasette of `nianbao serve`: the file opened mutable (read with mode=ro), our metadata.

    Not immutable: the nightly run writes the same file, and immutable mode would let Datasette
    cache counts and pages of a file it assumes never changes.  ``config`` (the validated
    config.yaml) gives the matrix its rosters, grace days and the links' base URL, and the
    officers' accounts for sign-in (not in public mode).
    """
    from datasette.app import Datasette

    from storage.metadata import metadata

    meta = metadata(path.stem)
    plugin: dict = {"public": public}
    if config is not None:
        plugin.update(grace_days=config.monitor.grace_days,
                      rosters={s.name: {r.name: r.kind for r in s.roster} for s in config.sites})
        if public:
            plugin["base_url"] = config.alerts.datasette_url
    if today is not None:
        plugin["today"] = today.isoformat()
    plugins = meta.setdefault("plugins", {})
    plugins["nianbao"] = plugin
    accounts = {} if public or config is None else config.serve.accounts
    # datasette-auth-passwords reads <name>_password_hash; {"$env": VAR} keeps the hash out of files
    plugins["datasette-auth-passwords"] = {f"{name}_password_hash": {"$env": var} for name, var in accounts.items()}
    return Datasette([str(path)], metadata=meta, settings=_settings(public))


def _is_loopback(host: str) -> bool:
    import ipaddress
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _has_display() -> bool:
    """A graphical session to open a browser in: on a headless server webbrowser would start a text
    browser (lynx, w3m) in the terminal that runs the server."""
    import os
    return sys.platform in ("darwin", "win32") or bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


@click.command()
@click.option("--db", type=click.Path(dir_okay=False), default=None,
              help="SQLite database (default: `database` of config.yaml).")
@click.option("--host", default=None, help="Address to listen on (default: serve.host of config.yaml).")
@click.option("--port", type=int, default=None, help="Port (default: serve.port; 0 picks a free one).")
@click.option("--no-open", is_flag=True, help="Do not open a browser.")
@click.option("--public", is_flag=True, default=None,
              help="Public reading room (serve.public): no SQL, journals hidden, no sign-in or triage.")
@click.option("--today", type=click.DateTime(formats=["%Y-%m-%d"]), default=None, hidden=True,
              help="The date the matrix counts deadlines against (default: today; the demo sets its own).")
@click.pass_context
def serve(ctx: click.Context, db: str | None, host: str | None, port: int | None, no_open: bool,
          public: bool | None, today) -> None:
    """Browse the database with Datasette (read-only): the compliance matrix, report pages, charts.

    Listening on anything but a loopback address needs public mode (serve.public or --public).
    """
    import uvicorn

    config = get_config(ctx)
    path = _db_path(ctx, db)
    host = host or config.serve.host
    port = config.serve.port if port is None else port
    public = config.serve.public if public is None else public
    if not public and not _is_loopback(host):
        _fail(f"refusing to serve on {host}: not a loopback address. Anyone who can reach it could run SQL and "
              "read the outbox (recipients, mail), runs, fetches and stored files. Set serve.public: true in "
              "config.yaml (or pass --public) to serve the public reading room, or use 127.0.0.1")
    if not path.exists():
        _fail(f"{path}: no database here; run `nianbao ingest` or `nianbao crawl` first, or pass --db")
    try:
        # migrate an older database once before serving it read-only; a read-only file is served as is
        Store(path).close()
    except StoreError as e:
        try:
            Store(path, readonly=True).close()
        except StoreError:
            _fail(str(e))
        log.warning("%s: not writable, served without migrating: %s", path, e)
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as e:
        _fail(f"cannot listen on {host}:{port}: {e.strerror or e}")
    url = f"http://{host}:{sock.getsockname()[1]}/"
    ds = datasette_app(path, public=public, config=config, today=today.date() if today else None)
    click.echo(f"serving {path} read-only at {url}{' (public mode)' if public else ''} (Ctrl-C to stop)", err=True)
    if not no_open and _has_display():
        import webbrowser
        webbrowser.open(url)
    server = uvicorn.Server(uvicorn.Config(ds.app(), log_level="warning", lifespan="on"))
    server.run(sockets=[sock])


COMMANDS = [ingest, parse_pending_cmd, reparse_cmd, serve]
