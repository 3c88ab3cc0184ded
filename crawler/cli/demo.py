"""`nianbao demo`, `nianbao status` and `nianbao config-doc`: the project as a newcomer meets it."""
from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path

import click

from crawler.cli import get_config
from crawler.config import configuration_reference


@click.command()
@click.option("--out", "out_dir", type=click.Path(file_okay=False), default="data/demo", show_default=True,
              help="Where the demo database, the received email and the render cache go.")
@click.option("--no-serve", is_flag=True, help="Stop after the summary instead of serving Datasette.")
@click.option("--quiet", is_flag=True, help="No progress output, only the summary.")
@click.pass_context
def demo(ctx: click.Context, out_dir: str, no_serve: bool, quiet: bool) -> None:
    """Run the whole pipeline on the bundled demo portal (no internet).

    Starts the demo portal and a local SMTP server, crawls, parses, checks and alerts, crawls again
    after the portal publishes a revision, prints a summary, then serves the result with Datasette
    until Ctrl-C (unless --no-serve). Exit code: that of the pipeline runs (0 ok, 1 partial).
    """
    from crawler.demo.showcase import run_demo

    summary = run_demo(out_dir, progress=not quiet, echo=(lambda s: None) if quiet else click.echo)
    click.echo(summary.render())
    if summary.exit_code or no_serve:
        sys.exit(summary.exit_code)
    from crawler.cli.store import serve

    click.echo(f"\nDatasette: http://127.0.0.1:{summary.datasette_port}/-/nianbao  (Ctrl-C to stop)")
    from datetime import datetime

    from crawler.demo.showcase import DEMO_TODAY

    # the matrix counts deadlines against the demo's clock, as the checks did
    ctx.invoke(serve, db=str(summary.database), host="127.0.0.1", port=summary.datasette_port, no_open=True,
               today=datetime.combine(DEMO_TODAY, datetime.min.time()))


def _table(rows: list[tuple], headers: tuple) -> str:
    widths = [max(_width(str(x)) for x in col) for col in zip(headers, *rows)]
    line = lambda r: "  ".join(str(x) + " " * (w - _width(str(x))) for x, w in zip(r, widths))  # noqa: E731
    return "\n".join([line(headers), line(tuple("-" * w for w in widths)), *map(line, rows)])


def _width(s: str) -> int:
    """Display width: CJK characters take two columns on a terminal."""
    return sum(2 if ord(ch) > 0x2E80 else 1 for ch in s)


@click.command()
@click.option("--db", type=click.Path(dir_okay=False), default=None,
              help="SQLite database (default: `database` of config.yaml).")
@click.option("--json", "as_json", is_flag=True, help="One JSON object instead of tables.")
@click.pass_context
def status(ctx: click.Context, db: str | None, as_json: bool) -> None:
    """Last runs, counts, outbox state and failing sites, in a readable table."""
    from storage.db import Store, StoreError

    path = Path(db) if db else get_config(ctx).database_path()
    if not path.exists():
        click.echo(f"nianbao: {path}: no database here; run `nianbao run` or `nianbao ingest` first, "
                   "or pass --db", err=True)
        sys.exit(2)
    try:
        store = Store(path, readonly=True)
    except StoreError as e:
        click.echo(f"nianbao: {e}", err=True)
        sys.exit(2)
    try:
        runs = store.last_runs(limit=8)
        counts = store.counts()
        outbox = Counter(a["status"] for a in store.alerts())
        dead = store.alerts(status="dead")
        findings = Counter((f.rule, f.severity) for f in store.findings(open_only=True))
        crawl = store.last_runs(limit=1, kind="crawl")
    finally:
        store.close()
    failing = (crawl[0]["stats"] or {}).get("failing_sites", {}) if crawl else {}
    last_sites = ((crawl[0]["stats"] or {}).get("sites") or {}) if crawl else {}
    # (runs recorded before "entries" was counted do not say)
    no_report = sorted(n for n, st in last_sites.items() if "entries" in st
                       and not (st["entries"] or st.get("reports") or st.get("not_modified")))
    data = {
        "database": str(path),
        "runs": [{k: r[k] for k in ("id", "kind", "started", "finished", "status", "error")} for r in runs],
        "counts": {k: counts.get(k, 0) for k in ("sites", "agencies", "documents", "document_versions",
                                                 "reports", "cells", "findings", "outbox")},
        "open_findings": {f"{rule}/{sev}": n for (rule, sev), n in sorted(findings.items())},
        "outbox": dict(outbox),
        "dead_alerts": [{k: a.get(k) for k in ("id", "channel", "subject", "attempts", "last_error", "created_at")}
                        for a in dead],
        "failing_sites": failing,
        "sites_without_reports": no_report,
    }
    if as_json:
        click.echo(json.dumps(data, ensure_ascii=False, indent=1))
        return
    click.echo(f"database {path}\n")
    click.echo(_table([(r["id"], r["kind"], (r["started"] or "")[:19], (r["finished"] or "")[:19], r["status"],
                        (r["error"] or "")[:60]) for r in runs],
                      ("run", "kind", "started", "finished", "status", "error")) if runs else "no runs yet")
    click.echo("\n" + _table(list(data["counts"].items()), ("table", "rows")))
    click.echo("\n" + (_table([(k, n) for k, n in data["open_findings"].items()], ("open finding", "count"))
                       if findings else "no open findings"))
    click.echo("\noutbox: " + (", ".join(f"{k} {v}" for k, v in sorted(outbox.items())) or "empty"))
    if dead:  # given up on after max_attempts: an operator must retry or drop them
        click.echo("dead alerts (not sent; `nianbao alert --retry-dead`, or `nianbao alert --drop ID`):")
        click.echo(_table([(a["id"], (a.get("channel") or "email")[:40], (a["created_at"] or "")[:19], a["attempts"],
                            (a["subject"] or "")[:30], (a["last_error"] or "")[:70]) for a in dead],
                          ("id", "channel", "queued", "tries", "subject", "last error")))
    click.echo("failing sites: " + ("; ".join(f"{s} ({', '.join(v)})" for s, v in failing.items()) or "none"))
    if no_report:
        click.echo("sites where the last crawl found no report: " + ", ".join(no_report))


def generated_docs() -> dict[str, str]:
    """The docs that are generated from the code (so they cannot drift from it)."""
    from storage.reference import data_model_reference

    return {"configuration.md": configuration_reference() + "\n", "data-model.md": data_model_reference() + "\n"}


@click.command("docs")
@click.option("--out", "out_dir", type=click.Path(file_okay=False), default="docs", show_default=True,
              help="Directory to write the generated references to.")
@click.option("--check", is_flag=True, help="Write nothing; exit 1 if a generated file is stale.")
def docs(out_dir: str, check: bool) -> None:
    """Write docs/configuration.md and docs/data-model.md from the config model and the schema."""
    stale = []
    for name, text in generated_docs().items():
        path = Path(out_dir) / name
        current = path.read_text(encoding="utf-8") if path.exists() else None
        if current == text:
            continue
        if check:
            stale.append(str(path))
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
            click.echo(f"wrote {path}")
    if stale:
        click.echo(f"nianbao: stale: {', '.join(stale)}; run `nianbao docs`", err=True)
        sys.exit(1)


COMMANDS = [demo, status, docs]
