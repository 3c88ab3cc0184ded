"""The demo site model: what the portal serves (resources) and what it plans to publish (reports)."""
from __future__ import annotations

import email.utils
import hashlib
from dataclasses import dataclass, field
from functools import cached_property
from datetime import datetime, timezone

from crawler.demo.spec import ReportSpec


@dataclass
class Resource:
    """One URL's answer: bytes with headers, or a redirect."""

    body: bytes = b""
    content_type: str = "text/html; charset=utf-8"
    last_modified: datetime = field(default_factory=lambda: datetime(2025, 1, 1, tzinfo=timezone.utc))
    status: int = 200
    location: str | None = None  # for 301/302
    headers: dict[str, str] = field(default_factory=dict)
    # fault behaviours, applied by the server
    delay: float = 0.0  # seconds to wait before answering
    truncate: bool = False  # announce the full Content-Length, send half, close
    pad_to: int | None = None  # stream this many bytes (body, then padding)
    conditional: bool = True  # answer If-None-Match / If-Modified-Since with 304

    @cached_property  # hashed once per Resource, not on every request (bodies are never mutated:
    def etag(self) -> str:  # a change is a new Resource through dataclasses.replace)
        return '"' + hashlib.sha256(self.body).hexdigest()[:20] + '"'


@dataclass
class Planned:
    """A report the portal publishes (one agency, one year), before and after it is laid out."""

    site: str
    agency: str
    kind: str  # department | town | government (config RosterEntry.kind)
    year: int
    title: str
    page_date: str  # YYYY-MM-DD shown on the listing and the page
    formats: list[str]  # "html" inline body, "pdf"/"docx"/"doc" attachments, "image" (图片版)
    spec: ReportSpec | None
    planted: list[str] = field(default_factory=list)
    column: str = ""  # site-specific column (e.g. TRS category/unit dir)
    encoding: str = "utf-8"
    charset_in_meta: bool = True
    seed: str | None = None  # seed file stem when the report is a seed
    # filled in by the site builder
    path: str = ""
    attachments: dict[str, str] = field(default_factory=dict)  # format -> path


@dataclass
class Entry:
    """A listing entry: report or not."""

    title: str
    path: str
    date: str


def http_date(d: datetime) -> str:
    return d.astimezone(timezone.utc).strftime("%a, %d %b %Y %H:%M:%S GMT")


def day(date: str, hour: int = 1) -> datetime:
    y, m, d = (int(x) for x in date.split("-"))
    return datetime(y, m, d, hour, 30, tzinfo=timezone.utc)


def not_modified(res: Resource, if_none_match: str | None, if_modified_since: str | None) -> bool:
    """Whether a conditional GET's validators match ``res`` (If-None-Match wins over
    If-Modified-Since), for both demo servers (crawler.demo.server, crawler.demo.asgi)."""
    if if_none_match is not None:
        return res.etag in [t.strip() for t in if_none_match.split(",")] or if_none_match.strip() == "*"
    if if_modified_since:
        try:
            when = email.utils.parsedate_to_datetime(if_modified_since)
        except (TypeError, ValueError):
            return False
        if when.tzinfo is None:  # "-0000" and obsolete zone names parse to a naive time, meant as UTC
            when = when.replace(tzinfo=timezone.utc)
        return res.last_modified.replace(microsecond=0) <= when
    return False
