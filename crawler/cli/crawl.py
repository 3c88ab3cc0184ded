"""`nianbao crawl`: crawl the configured portals (or one site) into the database."""
from __future__ import annotations

import sys

import click

from crawler.cli import get_config


@click.command("crawl")
@click.option("--site", "sites", multiple=True, help="Only this site (config name); repeatable.")
@click.option("--db", "db", type=click.Path(dir_okay=False), default=None,
              help="Database file (default: database from config.yaml).")
@click.option("--no-progress", is_flag=True, help="No progress bar / periodic progress lines.")
@click.option("--explain", "explain", multiple=True, metavar="SITE",
              help="Crawl SITE and print the path taken from its start URL to each 年报 column "
                   "(and the dead ends), to see why a site yields nothing; repeatable. Only the sites "
                   "named by --explain and --site are crawled.")
@click.option("--frontier", "frontier", metavar="redis://HOST:PORT/N", default=None,
              help="Be one crawl node of a crawl shared through this Redis database: requests, duplicate filter "
                   "and per-host delays are shared, items go to `nianbao ingest-worker` (docs/scale.md).")
@click.option("--processes", "processes", type=click.IntRange(1, 32), default=None,
              help="Crawl processes, the sites split between them (default: crawl.processes).")
@click.pass_context
def crawl(ctx: click.Context, sites: tuple[str, ...], db: str | None, no_progress: bool,
          explain: tuple[str, ...], frontier: str | None, processes: int | None) -> None:
    """Crawl portals: 年报 columns, report pages and attachments, politely and incrementally."""
    from crawler.crawl import run_crawl
    from storage.db import Store

    config = get_config(ctx)
    if explain and len(set(sites + explain)) < len(config.sites):
        click.echo(f"nianbao: --explain: crawling only {', '.join(dict.fromkeys(sites + explain))} "
                   f"(of {len(config.sites)} sites)", err=True)
    sites = tuple(dict.fromkeys(sites + explain))
    for name in sites:
        config.site(name)  # ConfigError names the key when the site is unknown
    if not config.sites:
        click.echo("nianbao: no sites in the config (add them under `sites:`)", err=True)
        sys.exit(2)
    if frontier:
        _crawl_node(config, frontier, sites, no_progress, db, explain)
        return
    path = db or str(config.database_path())
    store = Store(path)  # creates the file's folder
    try:
        summary = run_crawl(config, store, sites=list(sites) or None, progress=not no_progress,
                            db_path=path, processes=processes)
    finally:
        store.close()
    click.echo(summary.render())
    for name in explain:
        site = config.site(name)
        click.echo(render_explain(name, site.start_url, summary.stats.get(f"nianbao/explain/{name}") or [],
                                  summary.sites.get(name)))
    sys.exit(0 if summary.status in ("ok", "partial") else 1)


def _crawl_node(config, url: str, sites, no_progress: bool, db, explain) -> None:
    from crawler.frontier import FrontierError, run_node

    if db or explain:
        click.echo("nianbao: --frontier sends items to the ingest worker: --db and --explain do not apply", err=True)
        sys.exit(2)
    try:
        summary = run_node(config, url, sites=list(sites) or None, progress=not no_progress,
                           timeout=config.crawl.max_run_hours * 3600)
    except FrontierError as e:
        click.echo(f"nianbao: frontier {e}", err=True)
        sys.exit(2)
    click.echo(summary.render())
    sys.exit(0 if summary.status == "ok" else 1)


@click.command("ingest-worker")
@click.option("--from", "url", required=True, metavar="redis://HOST:PORT/N",
              help="The Redis database the crawl nodes push to (`nianbao crawl --frontier`).")
@click.option("--db", "db", type=click.Path(dir_okay=False), default=None,
              help="Database file (default: database from config.yaml).")
@click.option("--until-finished", is_flag=True,
              help="Exit once a shared crawl has finished and all its items are stored and parsed.")
@click.option("--idle-exit", type=float, default=None, metavar="SECONDS",
              help="Exit after this many seconds without an item.")
@click.option("--no-parse", is_flag=True, help="Store only; `nianbao parse-pending` parses later.")
@click.option("--no-progress", is_flag=True, help="No progress bar while parsing.")
@click.pass_context
def ingest_worker(ctx: click.Context, url: str, db: str | None, until_finished: bool, idle_exit: float | None,
                  no_parse: bool, no_progress: bool) -> None:
    """On the database machine: store the crawl nodes' documents and fetch records, and parse them."""
    import signal

    from crawler.frontier import FrontierError, connect, run_ingest_worker
    from crawler.run import StopFlag
    from storage.db import Store

    config = get_config(ctx)
    try:
        connect(url).close()  # before the database is touched
    except FrontierError as e:
        click.echo(f"nianbao: frontier {e}", err=True)
        sys.exit(2)
    stop = StopFlag()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    store = Store(db or str(config.database_path()))
    try:
        summary = run_ingest_worker(config, store, url, until_finished=until_finished, idle_exit=idle_exit,
                                    parse=not no_parse, progress=not no_progress, should_stop=stop)
    except FrontierError as e:
        click.echo(f"nianbao: frontier {e}", err=True)
        sys.exit(2)
    finally:
        store.close()
    click.echo(summary.render())
    sys.exit(1 if summary.bad or summary.problems else 0)


_KINDS = {"column": "年报 column", "dead_end": "dead end", "scheme_fallback": "other scheme"}


def render_explain(name: str, start_url: str, events: list[dict], site_summary=None) -> str:
    """The discovery of one site as a person reads it: each 年报 column with the path from the start
    URL to it (one step a line: how the link was found, then the URL), then the dead ends."""
    lines = [f"explain {name}: start {start_url}"]
    columns = [e for e in events if e.get("kind") == "column"]
    for i, e in enumerate(columns, 1):
        lines.append(f"  column {i}: {e['url']}" + (f"  ({e['note']})" if e.get("note") else ""))
        for step, (url, how) in enumerate(e.get("trail") or []):
            lines.append(f"      {'   ' if step == 0 else ' → '}{how}: {url}")
    for e in events:
        if e.get("kind") != "column":
            lines.append(f"  {_KINDS.get(e.get('kind'), e.get('kind'))}: {e['url']} — {e.get('note', '')}")
    if not columns:
        lines.append("  no 年报 column was found from the start URL: see the dead ends above; a start URL may be "
                     "the home page, the 政务公开/信息公开 page or the 年报 column itself (docs/adding-a-platform.md)")
    if site_summary is not None:
        lines.append(f"  result: {site_summary.reports} report pages, {site_summary.attachments} attachments, "
                     f"{site_summary.pages} listing pages ({site_summary.status})")
    return "\n".join(lines)


COMMANDS = [crawl, ingest_worker]
