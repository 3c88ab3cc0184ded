"""`nianbao demo`: the whole mission, on the bundled demo portal, in one command.

1. the demo portal and a mailbox (a real SMTP server) start on free loopback ports;
2. the real pipeline runs against them (crawl, parse, check, alert) with a demo config;
3. the portal "publishes" a revision and the pipeline runs again (incremental crawl, `revised`);
4. a summary is printed; the mail received is saved as .eml/.html under the output directory;
5. (CLI) Datasette serves the result until Ctrl-C.

The demo clock stands at ``DEMO_TODAY``: every 2024 report was due (31 January 2025, plus grace),
no 2025 report is due yet, so the planted missing and late reports are what the checks see.
Nothing here touches the internet.
"""
from __future__ import annotations

import json
import logging
import shutil
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, Callable

from crawler.config import Config, config_from_dict
from crawler.demo.mailbox import Mailbox, ReceivedMail, free_port
from crawler.demo.portal import DemoPortal
from crawler.run import RunResult, run_once
from storage.db import Store

log = logging.getLogger(__name__)

DEMO_TODAY = date(2025, 6, 1)
RECIPIENT = "gongkaiban@example.org"


@dataclass
class DemoSummary:
    out_dir: Path
    database: Path
    datasette_port: int
    sites: list[str] = field(default_factory=list)
    reports_by_format: dict[str, int] = field(default_factory=dict)
    reports_total: int = 0
    reports_parsed: int = 0  # every table complete and numeric
    reports_by_status: dict[str, int] = field(default_factory=dict)
    findings_by_rule: dict[tuple[str, str], int] = field(default_factory=dict)  # (rule, severity) -> n
    planted_found: list[str] = field(default_factory=list)
    planted_missed: list[str] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)
    mails: list[ReceivedMail] = field(default_factory=list)
    runs: list[RunResult] = field(default_factory=list)
    second_crawl: dict[str, int] = field(default_factory=dict)
    expected_reports: int = 0  # what the portal published (its manifest)
    elapsed_s: float = 0.0
    #: 图片版 reports (tables as pictures, read by OCR): title, status, cells
    picture_reports: list[dict[str, Any]] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        """The figures of the summary for scripts (written to summary.json beside the database)."""
        return {
            "sites": self.sites, "reports_found": self.reports_total, "reports_expected": self.expected_reports,
            "reports_by_format": self.reports_by_format, "reports_parsed": self.reports_parsed,
            "reports_by_status": self.reports_by_status, "picture_reports": self.picture_reports,
            "findings": [{"rule": r, "severity": s, "count": n} for (r, s), n in sorted(self.findings_by_rule.items())],
            "planted_found": self.planted_found, "planted_missed": self.planted_missed,
            "unexpected_findings": self.unexpected, "second_crawl": self.second_crawl,
            "emails": [{"subject": m.subject, "recipients": m.recipients, "eml": str(m.eml),
                        "html": str(m.html) if m.html else None} for m in self.mails],
            "database": str(self.database), "exit_code": self.exit_code, "elapsed_s": round(self.elapsed_s, 1),
        }

    @property
    def exit_code(self) -> int:
        return max((r.exit_code for r in self.runs), default=1)

    def render(self) -> str:
        fmt = ", ".join(f"{k} {v}" for k, v in sorted(self.reports_by_format.items()))
        status = ", ".join(f"{k} {v}" for k, v in sorted(self.reports_by_status.items()))
        lines = [
            "",
            "nianbao demo — summary (示例数据: every report here is demo data)",
            "=" * 64,
            f"sites crawled        {len(self.sites)}: {', '.join(self.sites)}",
            f"reports found        {self.reports_total} of {self.expected_reports} published ({fmt})",
            f"parsed fully         {self.reports_parsed} of {self.reports_total} ({status})",
            *(f"图片版 (OCR)         {r['title']}: {r['status']}, {r['cells']} cells read from its table pictures"
              for r in self.picture_reports),
            "parse stage          " + "; ".join(
                f"{p.written} documents in {p.elapsed_s:.1f}s, {p.workers} workers"
                + (f", {len(p.failures)} failed" if p.failures else "")
                for p in (r.parse for r in self.runs) if p is not None),
            f"second crawl         {self.second_crawl.get('conditional_requests', 0)} conditional requests, "
            f"{self.second_crawl.get('not_modified', 0)} not modified, "
            f"{self.second_crawl.get('documents_revised', 0)} revised",
            "findings (open)      " + (", ".join(f"{rule}/{sev} {n}" for (rule, sev), n in
                                                sorted(self.findings_by_rule.items())) or "none"),
            f"planted anomalies    {len(self.planted_found)} found, {len(self.planted_missed)} missed"
            + (f" ({'; '.join(self.planted_missed)})" if self.planted_missed else "")
            + f", {len(self.unexpected)} unexpected" + (f" ({'; '.join(self.unexpected)})" if self.unexpected else ""),
            f"emails sent          {len(self.mails)} to {RECIPIENT}",
        ]
        for m in self.mails:
            lines.append(f"  {m.subject}")
            lines.append(f"    {m.eml}" + (f"  |  {m.html}" if m.html else ""))
        lines += [
            f"database             {self.database}",
            f"took                 {self.elapsed_s:.1f}s",
        ]
        return "\n".join(lines)


def demo_config(out_dir: Path, sites: list[dict[str, Any]], smtp_port: int, datasette_port: int) -> Config:
    """The demo's config: the portal's sites, the local mailbox, no politeness delays (loopback)."""
    return config_from_dict({
        "database": str(out_dir / "nianbao.db"),
        "sites": sites,
        "crawl": {"download_delay": 0, "obey_robots": True, "autothrottle": False, "retries": 1,
                  "timeout": 10, "contact": "demo@example.org"},
        "alerts": {"recipients": [RECIPIENT], "datasette_url": f"http://127.0.0.1:{datasette_port}",
                   "smtp": {"host": "127.0.0.1", "port": smtp_port, "from": "nianbao-demo@example.org",
                            "timeout": 10}},
    }, base_dir=out_dir)


def _fresh(out_dir: Path) -> None:
    """The demo database and mail are rebuilt every time (they hold demo data only); the render
    cache is kept so that a second `make demo` skips LibreOffice."""
    out_dir.mkdir(parents=True, exist_ok=True)
    for name in ("nianbao.db", "nianbao.db-wal", "nianbao.db-shm"):
        (out_dir / name).unlink(missing_ok=True)
    shutil.rmtree(out_dir / "mail", ignore_errors=True)


def run_demo(out_dir: str | Path = "data/demo", *, progress: bool = True,
             echo: Callable[[str], None] = print) -> DemoSummary:
    started = time.monotonic()
    out_dir = Path(out_dir).resolve()
    _fresh(out_dir)
    portal = DemoPortal(cache_dir=out_dir / "cache")
    summary = DemoSummary(out_dir=out_dir, database=out_dir / "nianbao.db", datasette_port=free_port())
    with portal.serve() as base_url, Mailbox(out_dir / "mail") as mailbox:
        sites = portal.site_configs(base_url)
        config = demo_config(out_dir, sites, mailbox.port, summary.datasette_port)
        summary.sites = [s["name"] for s in sites]
        echo(f"demo portal at {base_url} ({len(sites)} sites), mailbox on 127.0.0.1:{mailbox.port}")
        echo("run 1: crawl, parse, check, alert ...")
        summary.runs.append(run_once(config, today=DEMO_TODAY, progress=progress))
        echo(summary.runs[-1].render())
        echo("the portal publishes a revised report; run 2 (incremental) ...")
        portal.publish_revision()
        summary.runs.append(run_once(config, today=DEMO_TODAY, progress=progress))
        echo(summary.runs[-1].render())
        # the SMTP server may still be writing the last message when run_once returns
        deadline = time.monotonic() + 5
        while len(mailbox.received) < sum(len(r.alerts.delivery.sent) for r in summary.runs if r.alerts) and \
                time.monotonic() < deadline:
            time.sleep(0.05)
        summary.mails = mailbox.received
        expected = portal.expected_findings()
        expected_reports = portal.expected_reports(base_url)
    crawl2 = summary.runs[-1].crawl
    if crawl2 is not None:
        summary.second_crawl = {"conditional_requests": crawl2.conditional_requests,
                                "not_modified": crawl2.not_modified,
                                "documents_revised": crawl2.documents_revised}
    _tally(summary, expected)
    summary.expected_reports = len(expected_reports)
    summary.elapsed_s = time.monotonic() - started
    (out_dir / "summary.json").write_text(json.dumps(summary.as_json(), ensure_ascii=False, indent=1),
                                          encoding="utf-8")
    return summary


def _tally(summary: DemoSummary, expected) -> None:
    store = Store(summary.database, readonly=True)
    try:
        reports = store.reports()
        findings = store.findings(open_only=False)
        open_findings = store.findings(open_only=True)
        # planted and found are compared by the stored agency (storage's identity: 威远镇 is 互助县威远镇)
        ids = {(f.site, f.agency): store.find_agency_id(f.agency, site=f.site) or f.agency
               for f in [*findings, *expected] if f.agency}
    finally:
        store.close()
    summary.reports_total = len(reports)
    summary.reports_by_format = dict(Counter(r["format"] or "unknown" for r in reports))
    summary.reports_by_status = dict(Counter(r["status"] for r in reports))
    summary.reports_parsed = summary.reports_by_status.get("parsed", 0)
    summary.picture_reports = [{"title": r["title"], "status": r["status"], "cells": r["cells_count"],
                                "report_url": r["report_url"]} for r in reports
                               if "图片版" in (r["title"] or "") + (r.get("link_title") or "")]
    summary.findings_by_rule = dict(Counter((f.rule, f.severity) for f in open_findings))
    found = {(f.rule, f.site, ids.get((f.site, f.agency)), f.year): f.agency for f in findings}
    planted = {(e.rule, e.site, ids.get((e.site, e.agency)), e.year): e.agency for e in expected}
    summary.planted_found = sorted(f"{r} {planted[k]} {y}" for k in planted.keys() & found.keys() for r, _, _, y in [k])
    summary.planted_missed = sorted(f"{r} {planted[k]} {y}" for k in planted.keys() - found.keys() for r, _, _, y in [k])
    summary.unexpected = sorted(f"{r} {found[k]} {y}" for k in found.keys() - planted.keys() for r, _, _, y in [k])
