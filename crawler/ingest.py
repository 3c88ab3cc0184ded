"""Document -> storage -> parsing -> Report -> storage -> checks: the one path every document takes.

Both ``nianbao ingest`` (local files) and the crawler's Scrapy pipeline call ``ingest_document``.

- The bytes are stored first-class (content-addressed), whatever the parser makes of them: a
  document that cannot be parsed is stored and marked with its parse status, never dropped.
- Parsing runs outside any transaction (a PDF can take seconds; the write lock must not wait on it);
  then the document, its report and the report's findings are written in one transaction, so a
  killed ingest leaves either all of them or none.
- A document already stored with the same bytes and already parsed is not parsed again (unless
  ``force``, or unless its parse failed, which may have been transient): ingesting the same files
  twice changes nothing.
"""
from __future__ import annotations

import logging
import mimetypes
import os
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterable

from monitor.checks.report import RULES as REPORT_RULES
from monitor.checks.report import check_report
from storage.db import Store
from storage.models import Document, Finding, ParseStatus, ParseWarning, Report

log = logging.getLogger(__name__)

#: Parse outcomes that are not a report at all: the document is stored and marked, no report row.
NOT_REPORTS = (ParseStatus.NOT_A_REPORT, ParseStatus.EMPTY, ParseStatus.UNSUPPORTED)


@dataclass
class IngestResult:
    url: str
    document_id: int | None = None
    version_id: int | None = None
    report_id: int | None = None  # the report this document belongs to, if any
    status: str | None = None  # parse status of this document's bytes
    skipped: bool = False  # same bytes as stored and already parsed: nothing parsed
    is_new: bool = False
    revised: bool = False
    content_kept: bool = False  # this parse is the report's content (not a poorer sibling's)
    new_findings: list[Finding] = field(default_factory=list)
    resolved_findings: int = 0
    error: str | None = None  # why ingest failed (the document could not even be stored)


def _parse(doc: Document, hints: dict | None) -> Report:
    from crawler.parsing import parse_bytes

    hints = dict(hints or {})
    for key in ("link_title", "page_date", "listing_date"):
        value = getattr(doc, key)
        if value and key not in hints:
            hints[key] = value
    try:
        return parse_bytes(doc.content, url=doc.url, content_type=doc.content_type, hints=hints)
    except Exception as e:  # parse_bytes promises not to raise; if it does, the document still counts
        log.exception("%s: parser raised", doc.url)
        return Report(status=ParseStatus.FAILED, error=f"{doc.url}: parser raised {type(e).__name__}: {e}")


def ingest_document(store: Store, doc: Document, *, run_id: int | None = None, site: str | None = None,
                    hints: dict | None = None, force: bool = False) -> IngestResult:
    """Store, parse, check and record one document.  Never raises for a bad document."""
    site = site or doc.site
    report_url = doc.report_url or doc.url
    result = IngestResult(url=doc.url)
    cache = store.fetch_cache(doc.url)
    # "failed" (a converter crash, a timeout) may be transient: such bytes are parsed again when seen again
    if cache and not force and cache["sha256"] == doc.sha256 and cache["parse_status"] \
            and cache["parse_status"] != ParseStatus.FAILED.value:
        saved = store.save_document(doc, run_id=run_id)  # only last_seen (and the crawl journal) change
        result.document_id, result.version_id = saved.document_id, saved.version_id
        result.status, result.skipped = cache["parse_status"], True
        result.report_id = store.report_id(report_url)
        return result

    region = store.site_region(site) if site else None
    if region:  # the site's configured region qualifies a short agency name (区教育局)
        hints = {"region": region, **(hints or {})}
    report = _parse(doc, hints)
    findings: list[Finding] = []
    if report.status in (ParseStatus.PARSED, ParseStatus.PARTIAL):
        try:
            findings = list(check_report(report))
        except Exception as e:  # a checker bug must not lose the document or its report
            log.exception("%s: check_report raised", doc.url)
            report.warnings.append(ParseWarning("check_failed", f"checks failed: {type(e).__name__}: {e}"))
    for f in findings:  # the fingerprint names the agency and year: two reports never share one
        f.agency = f.agency or report.agency
        f.year = f.year or report.year
        f.site = f.site or site

    with store.transaction():
        saved = store.save_document(doc, run_id=run_id)
        result.document_id, result.version_id = saved.document_id, saved.version_id
        result.is_new, result.revised = saved.is_new, saved.revised
        store.set_parse_status(saved.version_id, report.status, error=report.error, format=report.source.format)
        result.status = report.status.value
        if report.status in NOT_REPORTS:
            result.report_id = store.report_id(report_url)
            return result
        report_id = store.save_report(report, version_id=saved.version_id, report_url=report_url, site=site,
                                      first_seen=doc.fetched_at)
        result.report_id = report_id
        result.content_kept = store.report_version(report_id) == saved.version_id
        if result.content_kept:
            delta = store.sync_findings(findings, rules=REPORT_RULES, site=site, report_id=report_id, run_id=run_id,
                                        seen_at=doc.fetched_at)
            result.new_findings = delta.new
            result.resolved_findings = len(delta.resolved)
    return result


def collect_paths(paths: Iterable[str | Path]) -> tuple[list[Path], list[str]]:
    """Files under the given paths (directories recursed, hidden files skipped), sorted; and errors."""
    files: list[Path] = []
    errors: list[str] = []
    for p in map(Path, paths):
        if p.is_dir():
            for root, dirs, names in os.walk(p):
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                files.extend(Path(root) / n for n in sorted(names) if not n.startswith("."))
        elif p.is_file():
            files.append(p)
        else:
            errors.append(f"{p}: no such file or directory")
    return files, errors


def document_from_path(path: Path, *, site: str | None = None) -> Document:
    """A local file as a Document: file:// URL, and its modification time as the time seen
    (so that ingesting an unchanged file again writes the same values)."""
    st = path.stat()
    ctype, _ = mimetypes.guess_type(path.name)
    return Document(url=path.resolve().as_uri(), content=path.read_bytes(), content_type=ctype,
                    fetched_at=datetime.fromtimestamp(int(st.st_mtime), timezone.utc), site=site)


def fill_labels(store: Store) -> None:
    """The Chinese labels of every cell, for people browsing `cells` (the Store also does it on open)."""
    store.sync_labels()


def ingest_paths(store: Store, paths: Iterable[str | Path], *, run_id: int | None = None, site: str | None = None,
                 force: bool = False, progress: bool = False) -> tuple[list[IngestResult], list[str]]:
    """Ingest local files (directories recursed).  Returns the results and the paths that failed."""
    files, errors = collect_paths(paths)
    fill_labels(store)
    results: list[IngestResult] = []
    iterator: Iterable[Path] = files
    if progress:
        from tqdm import tqdm
        iterator = tqdm(files, desc="ingest", unit="file", disable=len(files) < 20)
    for path in iterator:
        try:
            doc = document_from_path(path, site=site)
        except OSError as e:
            errors.append(f"{path}: cannot read: {e.strerror or e}")
            continue
        try:
            results.append(ingest_document(store, doc, run_id=run_id, site=site, force=force))
        except Exception as e:  # storage failure (disk full, locked): report it, keep going
            log.exception("%s: ingest failed", path)
            errors.append(f"{path}: {type(e).__name__}: {e}")
    return results, errors
