"""The `nianbao` command.

Each group of subcommands lives in its own module here and registers itself on ``main``:
parse (parsing), store (ingest, serve), crawl (crawl), monitor (check, alert, run, schedule),
demo (demo, status, config-doc), desk (export, triage).
"""
from __future__ import annotations

import importlib
import logging
import sys

import click

from crawler.config import ConfigError, load_config
from storage.db import StoreError

_COMMAND_MODULES = ("parse", "store", "crawl", "monitor", "demo", "desk")


class NianbaoGroup(click.Group):
    """Turns known errors into one clear line and exit code 2, as scripts expect."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except ConfigError as e:
            click.echo(f"nianbao: config error: {e}", err=True)
            sys.exit(2)
        except StoreError as e:  # the database cannot be opened: a setup problem, not a crash
            click.echo(f"nianbao: {e} (check `database` in config.yaml, or pass --db)", err=True)
            sys.exit(2)


@click.group(cls=NianbaoGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--config", "config_path", type=click.Path(dir_okay=False), default=None,
              envvar="NIANBAO_CONFIG", help="config.yaml to use (default: ./config.yaml).")
@click.option("-v", "--verbose", count=True, help="More logging (-v info, -vv debug).")
@click.version_option(package_name="nianbao")
@click.pass_context
def main(ctx: click.Context, config_path: str | None, verbose: int) -> None:
    """nianbao: monitor of 政府信息公开工作年度报告.

    Crawl government portals for annual reports, parse them into the national format's tables,
    store them in SQLite (browsable with Datasette), check them and email alerts.
    """
    level = logging.WARNING - 10 * min(verbose, 2)
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    ctx.ensure_object(dict)
    ctx.obj["config_path"] = config_path


def get_config(ctx: click.Context, *, required: bool = False):
    """The validated config of this invocation (loaded once)."""
    obj = ctx.ensure_object(dict)
    if "config" not in obj:
        obj["config"] = load_config(obj.get("config_path"), required=required)
    return obj["config"]


for _name in _COMMAND_MODULES:
    try:
        _module = importlib.import_module(f"crawler.cli.{_name}")
    except ModuleNotFoundError as _e:  # a command group not built yet
        if _e.name != f"crawler.cli.{_name}":
            raise
        continue
    for _cmd in getattr(_module, "COMMANDS", ()):
        main.add_command(_cmd)
