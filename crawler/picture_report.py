"""A （图片版） report: the report page and the table pictures it shows, parsed as one report.

The crawl stores the page and, as its attachments, the images in its body (spiders/portal.py
``_table_images``); the parse stage reads each document alone, which gives a page without tables
(partial, 报告缺少统计表) and pictures without narrative.  Whichever of them is parsed, the parse
stage calls ``combine``: when the document is such a page (no Table 三 read on it) or one of its
images, the page and every image stored for it are read together by ``parse_pages`` (the page's
text for the narrative, OCR for the tables, in the order the page shows them).  The combined
report is kept when it has more assessable cells; the store then keeps it as the report's content
(``save_report`` keeps the richer parse of a report_url).  An image parsed after the stored
report is already richer than the image alone is not read again with the page (its page's parse
read it: the crawl stores a page's images before the parse stage runs).
"""
from __future__ import annotations

import logging
import re
from urllib.parse import urljoin

from crawler.parsing import parse_pages
from storage.models import ParseStatus, Report
from storage.report_parts import report_parts, stored_assessable

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


def combine(store, job: dict, report: Report, hints: dict | None = None) -> Report:
    """``report`` (the parse of the job's document alone), or the page and its pictures read as one."""
    if not _candidate(job, report):
        return report
    if job["url"] != job["report_url"]:
        # an image parsed after its page: the page's parse read it already (the crawl stores a
        # page's images before the parse stage runs), unless the stored report is still poorer
        # than this image alone
        have = stored_assessable(store, job["report_url"])
        if have is not None and have > _assessable(report):
            return report
    parts = report_parts(store, job["report_url"])
    page = next((p for p in parts if p["url"] == job["report_url"] and _is_html(p)), None)
    images = [p for p in parts if p["url"] != job["report_url"] and _is_image(p)]
    if page is None or not images:
        return report
    page_bytes = store.blob(page["sha256"])
    if page_bytes is None:
        return report
    # the pictures in the order the page shows them (the mapping places grids by their headers,
    # but a human reading the stored report expects the page's order)
    shown = [urljoin(job["report_url"], m.group(1).decode("utf-8", "replace")) for m in _IMG_SRC.finditer(page_bytes)]
    images.sort(key=lambda p: shown.index(p["url"]) if p["url"] in shown else len(shown))
    blobs = [b for b in (store.blob(p["sha256"]) for p in images) if b is not None]
    if not blobs:
        return report
    combined = parse_pages(blobs, page=page_bytes, url=job["report_url"], content_type=page["content_type"],
                           hints=hints)
    if combined.status not in (ParseStatus.PARSED, ParseStatus.PARTIAL) or _assessable(combined) <= _assessable(report):
        return report
    log.info("%s: report page read with its %d table image(s) (图片版)", job["report_url"], len(blobs))
    return combined
