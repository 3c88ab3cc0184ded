"""Alerts: new findings -> digest emails -> outbox -> SMTP.

* One digest per recipient list (a site's ``recipients``, else ``alerts.recipients``), grouping the
  new findings by site and severity; severities in ``alerts.immediate_severities`` go in their own
  email, which is sent first.
* The outbox makes delivery safe across crashes and SMTP outages: a digest is written
  (``Store.enqueue_alert``) before it is sent and marked sent after; a failed send stays queued and
  is retried on the next runs with exponential backoff, until ``alerts.max_attempts``.
* No finding is alerted twice: a digest's idempotency key is the hash of its sorted fingerprints
  and recipients (enqueueing the same digest again is a no-op), and only findings not yet alerted
  are composed (storage flags a finding as alerted when a queued digest carries it).
"""
from __future__ import annotations

import hashlib
import json
import logging
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Iterable

from jinja2 import Environment, PackageLoader, select_autoescape

from storage.models import Finding

from monitor.checks.categories import SEVERITY_LABELS, SEVERITY_ORDER, category, worst_severity
from monitor.mailer import Mailer, build_message

log = logging.getLogger(__name__)

#: Datasette page of one report (storage/datasette_plugin.py); {id} is the report id.
REPORT_ROUTE = "/-/nianbao/report/{id}"
#: Datasette row/table of findings without a report (missing): filtered by fingerprint.
FINDINGS_ROUTE = "/{database}/findings?fingerprint={fingerprint}"

#: Subject prefix of an immediate alert (its severity is in alerts.immediate_severities): sent first.
IMMEDIATE_PREFIX = "【立即】"

BACKOFF_BASE = timedelta(minutes=30)
BACKOFF_MAX = timedelta(days=1)


@dataclass
class AlertSettings:
    enabled: bool = True
    recipients: list[str] = field(default_factory=list)
    site_recipients: dict[str | None, list[str]] = field(default_factory=dict)
    immediate_severities: list[str] = field(default_factory=list)
    datasette_url: str = "http://127.0.0.1:8001"
    database: str = "nianbao"  # the database's name in Datasette (the file's stem)
    max_attempts: int = 8

    @classmethod
    def from_config(cls, config: Any) -> "AlertSettings":
        a = config.alerts
        return cls(enabled=a.enabled, recipients=list(a.recipients),
                   site_recipients={s.name: list(s.recipients) for s in config.sites if s.recipients},
                   immediate_severities=list(a.immediate_severities),
                   datasette_url=a.datasette_url.rstrip("/"),
                   database=config.database_path().stem, max_attempts=a.max_attempts)

    def recipients_for(self, site: str | None) -> list[str]:
        return sorted(set(self.site_recipients.get(site) or self.recipients))


@dataclass
class Digest:
    recipients: list[str]
    subject: str
    text: str
    html: str
    fingerprints: list[str]
    sites: list[str | None]
    immediate: bool = False

    @property
    def key(self) -> str:
        """Idempotency key: the same findings to the same people is the same alert."""
        raw = json.dumps([sorted(self.fingerprints), sorted(self.recipients)], ensure_ascii=False)
        return hashlib.sha256(raw.encode("utf-8")).hexdigest()[:32]

    @property
    def site(self) -> str | None:
        return self.sites[0] if len(self.sites) == 1 else None


_env = Environment(loader=PackageLoader("monitor", "templates"),
                   autoescape=select_autoescape(["html", "html.j2"]),
                   trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)


def finding_links(f: Finding, settings: AlertSettings, reports: dict[int, dict[str, Any]]) -> dict[str, str | None]:
    """Where to look: the report page in Datasette, else the finding's row; and the source."""
    base = settings.datasette_url.rstrip("/")
    row = reports.get(f.report_id) if f.report_id is not None else None
    page = (base + REPORT_ROUTE.format(id=f.report_id) if f.report_id is not None
            else base + FINDINGS_ROUTE.format(database=settings.database, fingerprint=f.fingerprint))
    source = None
    if row:
        source = row.get("source_url") or row.get("report_url")
    return {"page": page, "source": source}


def _number_lines(f: Finding) -> list[str]:
    """The evidence, flattened to short 'key: value' lines for the email."""
    lines = []
    for k, v in f.numbers.items():
        if v is None or k in ("url",):
            continue
        if isinstance(v, dict):
            for k2, v2 in v.items():
                lines.append(f"{k}.{k2}: {json.dumps(v2, ensure_ascii=False) if isinstance(v2, dict) else v2}")
        else:
            lines.append(f"{k}: {v}")
    return lines


def compose(findings: Iterable[Finding], settings: AlertSettings, *,
            reports: dict[int, dict[str, Any]] | None = None, now: datetime | None = None) -> list[Digest]:
    """The emails for these (new, not yet alerted) findings: immediate ones first, then digests."""
    reports = reports or {}
    now = now or datetime.now(timezone.utc)
    groups: dict[tuple[tuple[str, ...], bool], list[Finding]] = defaultdict(list)
    for f in findings:
        recipients = tuple(settings.recipients_for(f.site))
        if not recipients:
            log.warning("no recipients for site %s (config sites[].recipients or alerts.recipients); "
                        "finding %s not alerted", f.site, f.fingerprint)
            continue
        groups[(recipients, f.severity in settings.immediate_severities)].append(f)
    digests = []
    for (recipients, immediate), items in sorted(groups.items(), key=lambda kv: (not kv[0][1], kv[0][0])):
        digests.append(_render(list(recipients), items, settings, reports, immediate=immediate, now=now))
    return digests


def _render(recipients: list[str], items: list[Finding], settings: AlertSettings,
            reports: dict[int, dict[str, Any]], *, immediate: bool, now: datetime) -> Digest:
    items = sorted(items, key=lambda f: (f.site or "", SEVERITY_ORDER.get(f.severity, 9), f.agency or "",
                                         f.year or 0, f.rule, f.fingerprint))
    sites: dict[str | None, dict[str, list[dict]]] = {}
    for f in items:
        entry = {"f": f, "category": category(f.rule), "severity_label": SEVERITY_LABELS.get(f.severity, f.severity),
                 "links": finding_links(f, settings, reports), "numbers": _number_lines(f)}
        sites.setdefault(f.site, {}).setdefault(f.severity, []).append(entry)
    worst = worst_severity(f.severity for f in items)
    counts = {sev: sum(1 for f in items if f.severity == sev) for sev in SEVERITY_ORDER}
    prefix = IMMEDIATE_PREFIX if immediate else ""
    subject = (f"{prefix}年报监测：发现{len(items)}项新问题（最高级别：{SEVERITY_LABELS.get(worst, worst)}）")
    ctx = {"sites": sites, "subject": subject, "counts": counts, "total": len(items),
           "severity_labels": SEVERITY_LABELS, "immediate": immediate,
           "generated": now.astimezone(timezone(timedelta(hours=8))).strftime("%Y-%m-%d %H:%M"),
           "datasette_url": settings.datasette_url}
    text = _env.get_template("digest.txt.j2").render(**ctx)
    html = _env.get_template("digest.html.j2").render(**ctx)
    return Digest(recipients=recipients, subject=subject, text=text, html=html,
                  fingerprints=sorted(f.fingerprint for f in items), sites=sorted(sites, key=lambda s: s or ""),
                  immediate=immediate)


# -- outbox ---------------------------------------------------------------------------------------

@dataclass
class Delivery:
    queued: int = 0  # digests written to the outbox now
    sent: list[int] = field(default_factory=list)
    failed: list[tuple[int, str]] = field(default_factory=list)  # still queued, will be retried

    @property
    def ok(self) -> bool:
        return not self.failed

    def as_stats(self) -> dict[str, Any]:
        return {"queued": self.queued, "sent": len(self.sent), "failed": len(self.failed),
                "errors": [e for _, e in self.failed][:5]}


def queue(store, digests: list[Digest]) -> int:
    """Write the digests to the outbox before anything is sent.  Returns how many were new."""
    n = 0
    for d in digests:
        alert_id = store.enqueue_alert(key=d.key, recipients=d.recipients, subject=d.subject, text=d.text,
                                       html=d.html, fingerprints=d.fingerprints, site=d.site)
        if alert_id is not None:
            n += 1
    return n


def backoff(attempts: int) -> timedelta:
    """Delay before the next try after ``attempts`` failed sends: 30 min, 1 h, 2 h ... 1 day."""
    return min(BACKOFF_BASE * (2 ** max(attempts - 1, 0)), BACKOFF_MAX)


def deliver(store, mailer: Mailer, *, sender: str, now: datetime | None = None,
            max_attempts: int | None = None) -> Delivery:
    """Send every due alert of the outbox, immediate ones first."""
    now = now or datetime.now(timezone.utc)
    result = Delivery()
    due = store.due_alerts(now)
    due.sort(key=lambda a: (not str(a.get("subject", "")).startswith(IMMEDIATE_PREFIX), a["id"]))
    for alert in due:
        msg = build_message(sender=sender, recipients=alert["recipients"], subject=alert["subject"],
                            text=alert.get("text") or "", html=alert.get("html") or "")
        try:
            message_id = mailer.send(msg)
        except Exception as e:  # noqa: BLE001 - any failure keeps the alert queued
            attempts = int(alert.get("attempts") or 0) + 1
            error = f"SMTP {mailer.settings.host}:{mailer.settings.port}: {type(e).__name__}: {e}"
            store.mark_alert_failed(alert["id"], error=error, next_attempt_at=now + backoff(attempts),
                                    max_attempts=max_attempts)
            result.failed.append((alert["id"], error))
            log.warning("alert %s not sent, will retry: %s", alert["id"], error)
            continue
        store.mark_alert_sent(alert["id"], message_id=message_id)
        result.sent.append(alert["id"])
    return result


# -- one alert pass ---------------------------------------------------------------------------------

@dataclass
class AlertOutcome:
    digests: list[Digest] = field(default_factory=list)  # composed in this pass (dry run: not queued)
    delivery: Delivery = field(default_factory=Delivery)
    unaddressed: int = 0  # findings left unalerted for lack of recipients

    @property
    def ok(self) -> bool:
        return self.delivery.ok

    def as_stats(self) -> dict[str, Any]:
        return {"digests": len(self.digests), "findings": sum(len(d.fingerprints) for d in self.digests),
                "unaddressed": self.unaddressed, **self.delivery.as_stats()}


def run_alerts(store, settings: AlertSettings, mailer: Mailer | None, *, sender: str,
               now: datetime | None = None, dry_run: bool = False) -> AlertOutcome:
    """Compose digests of every open finding not yet alerted, queue them, then drain the outbox.

    Queueing and flagging the findings as alerted happen in one transaction, so a crash can
    neither lose a finding's alert nor queue it twice.  ``dry_run`` composes and returns the
    digests without touching the database or the network.
    """
    now = now or datetime.now(timezone.utc)
    outcome = AlertOutcome()
    if not settings.enabled:
        return outcome
    pending = store.findings(open_only=True, not_alerted=True)
    reports = {r["id"]: r for r in store.reports()} if pending else {}
    outcome.digests = compose(pending, settings, reports=reports, now=now)
    addressed = {fp for d in outcome.digests for fp in d.fingerprints}
    outcome.unaddressed = sum(1 for f in pending if f.fingerprint not in addressed)
    if dry_run:
        return outcome
    with store.transaction():
        outcome.delivery.queued = queue(store, outcome.digests)
        store.mark_findings_alerted(addressed)
    if mailer is not None:
        sent = deliver(store, mailer, sender=sender, now=now, max_attempts=settings.max_attempts)
        sent.queued = outcome.delivery.queued
        outcome.delivery = sent
    return outcome
