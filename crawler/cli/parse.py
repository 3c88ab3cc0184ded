"""`nianbao parse PATH... [--json] [--url URL]`: parse report files and show what was read.

By default a readable rendering for a person (the three tables with their printed labels, the
findings of the single-report checks, the parse warnings).  With --json, exactly one JSON object per
file per line: Report.to_json() with the findings filled (the contract of the spec; scripts rely on it).

Exit status: 0 when every file parsed (status parsed or partial), 1 when any did not (the reason on
stderr), 2 on a usage error (click's convention).
"""
from __future__ import annotations

import json
import unicodedata

import click

from crawler.parsing import parse_file
from vocabulary import template as T
from monitor.checks.report import check_report
from storage.models import (SCALAR, TABLE2_LAYOUT, TABLE3_COLUMNS, TABLE3_ROWS, TABLE4_COLUMNS, TABLE4_GROUPS,
                            ParseStatus, Report)

#: Statuses that mean the document was read as a report (possibly with gaps).
READ_STATUSES = (ParseStatus.PARSED, ParseStatus.PARTIAL)


def parse_path(path: str, url: str | None = None) -> Report:
    """Parse one file and run the single-report checks on it."""
    report = parse_file(path, url=url)
    if report.status in READ_STATUSES:
        report.findings = check_report(report)
    return report


def _width(s: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in s)


def _pad(s: str, width: int) -> str:
    s = s if _width(s) <= width else _cut(s, width)
    return s + " " * (width - _width(s))


def _cut(s: str, width: int) -> str:
    out = ""
    for ch in s:
        if _width(out + ch) > width - 1:
            return out + "…"
        out += ch
    return out


def _fmt(report: Report, table: str, row: str, col: str) -> str:
    c = report.cell(table, row, col)
    if c is None:
        return "?"  # not found
    if c.kind.assessable:
        return str(c.value)
    return {"EMPTY": "(blank)", "NA": c.raw or "NA"}.get(c.kind.value, c.raw or "?")


def render(report: Report) -> str:
    """A person's view of one parsed report."""
    src = report.source.path or report.source.url or ""
    lines = [f"== {src}",
             f"status: {report.status.value}   template: {report.template}   format: {report.source.format}",
             f"title: {report.title or '-'}",
             f"agency: {report.agency or '-'}   year: {report.year or '-'}   "
             f"published: {report.published.isoformat() if report.published else '-'}"]
    if report.status not in READ_STATUSES:
        lines.append(f"error: {report.error}")
        return "\n".join(lines)

    lines.append("")
    lines.append(T.section_heading("proactive"))
    for row, cols in TABLE2_LAYOUT.get(report.template, TABLE2_LAYOUT["2021"]).items():
        label = _pad(T.row_label("table2", row), 18)
        if cols is None:
            lines.append(f"  {label} {_fmt(report, 'table2', row, SCALAR)}")
        else:
            parts = [f"{T.column_label('table2', c)} {_fmt(report, 'table2', row, c)}" for c in cols]
            lines.append(f"  {label} " + "  ".join(parts))

    lines.append("")
    lines.append(T.section_heading("requests"))
    head = _pad("", 44) + "".join(_pad(T.column_label("table3", c), 13) for c in TABLE3_COLUMNS)
    lines.append("  " + head.rstrip())
    printed = {c.row for c in report.cells if c.table == "table3"}
    expected = TABLE3_ROWS.get(report.template, TABLE3_ROWS["2021"])
    rows = [r for r in T.TABLE3_ROW_LABELS if r in expected or r in printed]
    for row in rows:
        vals = "".join(_pad(_fmt(report, "table3", row, c), 13) for c in TABLE3_COLUMNS)
        lines.append(f"  {_pad(T.row_label('table3', row), 44)}{vals}".rstrip())

    lines.append("")
    lines.append(T.section_heading("appeals"))
    lines.append("  " + _pad("", 30) + "".join(_pad(T.column_label("table4", c), 10) for c in TABLE4_COLUMNS))
    for g in TABLE4_GROUPS:
        vals = "".join(_pad(_fmt(report, "table4", g, c), 10) for c in TABLE4_COLUMNS)
        lines.append(f"  {_pad(T.row_label('table4', g), 30)}{vals}".rstrip())

    lines.append("")
    lines.append(f"findings: {len(report.findings)}")
    for f in report.findings:
        where = f" [suspect {f.suspect}]" if f.suspect else ""
        lines.append(f"  {f.severity:<7} {f.rule}: {f.message}{where}")
    lines.append(f"warnings: {len(report.warnings)}")
    for w in report.warnings:
        lines.append(f"  {w.code}: {w.message}")
    return "\n".join(lines)


@click.command("parse")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="One JSON object per file per line (the spec's keys).")
@click.option("--url", default=None, help="Where the document came from (a hint for year and agency).")
def parse_cmd(paths: tuple[str, ...], as_json: bool, url: str | None) -> None:
    """Parse annual report files (HTML, text, DOCX, PDF, DOC) and show the tables and findings."""
    if url and len(paths) > 1:
        raise click.UsageError("--url describes one document; give a single PATH with it")
    failed = 0
    for i, path in enumerate(paths):
        report = parse_path(path, url=url)
        if report.status not in READ_STATUSES:
            failed += 1
            click.echo(f"nianbao parse: {path}: {report.status.value}: {report.error or 'not parsed'}", err=True)
        if as_json:
            click.echo(json.dumps(report.to_json(), ensure_ascii=False, default=str))
        else:
            if i:
                click.echo("")
            click.echo(render(report))
    if failed:
        raise SystemExit(1)


COMMANDS = [parse_cmd]
