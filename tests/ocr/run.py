"""Parse one corpus item through the product's entry points, as a crawl would."""
from __future__ import annotations

from pathlib import Path

from crawler.parsing import parse_bytes, parse_pages
from monitor.checks.report import check_report


def parse_item(item):
    files = [Path(f).read_bytes() for f in item.files]
    if item.kind == "pdf":
        report = parse_bytes(files[0], path=item.files[0])
    elif item.kind == "png":
        report = parse_pages(files, path=item.files[0])
    else:
        report = parse_pages(files[1:], page=files[0], path=item.files[0], content_type="text/html")
    findings = check_report(report) if report.status.value in ("parsed", "partial") else []
    return report, findings
