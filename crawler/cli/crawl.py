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
@click.pass_context
def crawl(ctx: click.Context, sites: tuple[str, ...], db: str | None, no_progress: bool) -> None:
    """Crawl portals: 年报 columns, report pages and attachments, politely and incrementally."""
    from crawler.crawl import run_crawl
    from storage.db import Store

    config = get_config(ctx)
    for name in sites:
        config.site(name)  # ConfigError names the key when the site is unknown
    if not config.sites:
        click.echo("nianbao: no sites in the config (add them under `sites:`)", err=True)
        sys.exit(2)
    path = db or str(config.database_path())
    store = Store(path)  # creates the file's folder
    try:
        summary = run_crawl(config, store, sites=list(sites) or None, progress=not no_progress,
                            db_path=path)
    finally:
        store.close()
    click.echo(summary.render())
    sys.exit(0 if summary.status in ("ok", "partial") else 1)


COMMANDS = [crawl]
