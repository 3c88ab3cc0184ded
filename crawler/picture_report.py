"""A （图片版） report: the report page and the table pictures it shows, parsed as one report.

The crawl stores the page and, as its attachments, the images in its body (spiders/portal.py
``_table_images``); the parse stage reads each document alone, which gives a page without tables
(partial, 报告缺少统计表) and pictures without narrative.  So the page and every image stored for it
are read together by ``parse_pages`` (the page's text for the narrative, OCR for the tables, in the
order the page shows them), and the combined report is kept when it has more assessable cells
(``save_report`` keeps the richer parse of a report_url; with as many cells, the reading of the later
version: a picture republished corrected replaces the old reading).

That combined reading is done **once**, by the job of the part stored last (the page or one of its
images: the newest latest version among them).  Its job starts after every part was stored, so it
sees them all, and any part stored later has a job of its own that reads them all again: an image
that arrives after the report was stored is merged into it (a reading with more cells replaces the
stored one).  The other parts' jobs do no OCR at all:

* an image whose page is stored is never read alone first (that reading, 1-1.5 s an image, was
  thrown away as soon as the combined one was made); its version is marked ``partial`` with a
  message naming the page that reads it, or gets the stored report when that report already is
  the reading of exactly these parts (the digest ``parse_pages`` gives its source: the page's and
  the images' bytes, in order);
* the page's own job keeps its reading alone (cheap: HTML) unless it is the part stored last.

An image with no page stored is read alone, as any image attachment, so it is stored and marked;
when the combined reading fails, the image is read alone too.
"""
from __future__ import annotations

import hashlib
import logging
import re
from urllib.parse import urljoin

from crawler.parsing import parse_pages
from storage.models import ParseStatus, Report, Source
from storage.report_parts import report_parts

log = logging.getLogger(__name__)

_IMG_SRC = re.compile(rb"""<img\b[^>]*?\bsrc\s*=\s*["']?([^"'\s>]+)""", re.IGNORECASE)
_IMAGE_TYPES = ("image/png", "image/jpeg", "image/jpg", "image/gif", "image/tiff", "image/bmp", "image/webp")


def _is_image(part: dict) -> bool:
    ct = (part.get("content_type") or "").split(";")[0].strip().lower()
    return ct in _IMAGE_TYPES or bool(re.search(r"\.(png|jpe?g|gif|tiff?|bmp|webp)$", part["url"].split("?")[0],
                                                 re.IGNORECASE))


def _is_html(part: dict) -> bool:
    return "html" in (part.get("content_type") or "").lower()


def _assessable(report: Report) -> int:
    return sum(1 for c in report.cells if c.kind.assessable)


def _candidate(job: dict, report: Report) -> bool:
    if job["url"] == job["report_url"]:  # the page: only when no Table 三 was read on it
        return report.source.format == "html" and not any(c.table == "table3" for c in report.cells)
    return report.source.format == "image"  # one of a page's images


def is_picture_part(job: dict) -> bool:
    """The job is an image attached to a report page (its OCR alone may be unnecessary: ``combine``)."""
    return job["url"] != job["report_url"] and _is_image(job)


def _digest(blobs: list[bytes]) -> str:
    """The source digest ``parse_pages`` gives a reading of these bytes (the page first)."""
    d = hashlib.sha256()
    for b in blobs:
        d.update(hashlib.sha256(b).digest())
    return d.hexdigest()


def _latest(store, url: str) -> dict | None:
    versions = store.document_versions(url)
    return versions[-1] if versions else None


def _placeholder(job: dict, reader: str) -> Report:
    return Report(source=Source(url=job["url"], sha256=job.get("sha256"), format="image"), status=ParseStatus.PARTIAL,
                  error=f"{job['url']}: a table picture of the （图片版） page {job['report_url']}, read with the "
                        f"page and its other pictures as one report (by the parse of {reader})")


def combine(store, job: dict, report: Report | None, hints: dict | None = None, alone=None) -> Report:
    """The job's report: ``report`` (the parse of its document alone; None for an image not read yet,
    see ``is_picture_part``, with ``alone`` to read it), or the page and its pictures read as one."""
    picture = job["url"] != job["report_url"]
    if report is None:
        if alone is None:
            raise ValueError("combine: neither a report nor a way to read the document alone")
        read_alone = alone
    else:
        def read_alone():
            return report
        if not _candidate(job, report):
            return report
    parts = report_parts(store, job["report_url"])
    page = next((p for p in parts if p["url"] == job["report_url"] and _is_html(p)), None)
    images = [p for p in parts if p["url"] != job["report_url"] and _is_image(p)]
    page_bytes = store.blob(page["sha256"]) if page is not None else None
    if page_bytes is None or not images:
        return read_alone()  # an image that arrives alone (no page stored): read, stored and marked
    # the pictures in the order the page shows them (the mapping places grids by their headers,
    # but a human reading the stored report expects the page's order)
    shown = [urljoin(job["report_url"], m.group(1).decode("utf-8", "replace")) for m in _IMG_SRC.finditer(page_bytes)]
    images.sort(key=lambda p: shown.index(p["url"]) if p["url"] in shown else len(shown))
    # who reads the parts as one: the job of the part stored last (see the module's docstring)
    latest = {p["url"]: _latest(store, p["url"]) for p in [page, *images]}
    newest_url, newest = max(((u, v) for u, v in latest.items() if v is not None), key=lambda uv: uv[1]["id"])
    mine = latest.get(job["url"])
    is_reader = mine is not None and mine["id"] == job["version_id"] and job["url"] == newest_url
    if not is_reader:
        if newest.get("parse_status") in (None, "pending"):  # the newest part's job is still to come
            return _placeholder(job, newest_url) if picture else read_alone()
        # the newest part was parsed already: this job reads them all, unless the stored report
        # is the reading of exactly these bytes
        rid = store.report_id(job["report_url"])
        row = store.report_row(rid) if rid is not None else {}
        if row and row.get("source_sha256"):
            blobs = [page_bytes] + [b for b in (store.blob(p["sha256"]) for p in images) if b is not None]
            if row["source_sha256"] == _digest(blobs):
                return store.load_report(rid)
    blobs = [b for b in (store.blob(p["sha256"]) for p in images) if b is not None]
    if not blobs:
        return read_alone()
    combined = parse_pages(blobs, page=page_bytes, url=job["report_url"], content_type=page["content_type"],
                           hints=hints)
    if combined.status not in (ParseStatus.PARSED, ParseStatus.PARTIAL):
        return read_alone()
    if report is not None and _assessable(combined) <= _assessable(report):
        return report
    log.info("%s: report page read with its %d table image(s) (图片版)", job["report_url"], len(blobs))
    return combined
