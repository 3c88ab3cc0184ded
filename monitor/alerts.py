"""Alerts: new findings -> digests -> outbox -> SMTP and apprise channels.

* One email digest per recipient list (a site's ``recipients``, else ``alerts.recipients``), and one
  markdown digest per apprise URL (``alerts.apprise``), grouping the new findings by site and
  severity; severities in ``alerts.immediate_severities`` go in their own message, sent first.
* Nothing is silently lost.  A digest is written to the outbox (``Store.enqueue_alert``, one row per
  channel) before it is sent, and leaves it only when sent; a failed send stays queued and is
  retried on the next runs with exponential backoff.  After ``alerts.max_attempts`` failures it is
  ``dead``: not retried, but the run's exit code stays 1 and ``nianbao status`` lists it until an
  operator retries it (``nianbao alert --retry-dead``) or drops it (``--drop ID``).
* A finding is composed once (storage marks it queued with its digests) and counts as alerted only
  when every digest carrying it is sent.
* An email keeps one Message-ID, made when it is queued, across all its retries, so a retry of a
  message that did arrive is recognisable as a duplicate.  Recipients the server refuses are a
  failure for them alone: the retry goes to them only.
"""
from __future__ import annotations

import hashlib
import json
import logging
import smtplib
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Iterable
from urllib.parse import quote

from jinja2 import Environment, PackageLoader, select_autoescape

from storage.models import Finding

from monitor.checks.categories import SEVERITY_LABELS, SEVERITY_ORDER, category, worst_severity
from monitor import wording
from monitor.channels import AppriseNotifier, ChannelError
from monitor.mailer import Mailer, build_message, new_message_id

log = logging.getLogger(__name__)

#: Datasette page of one report (crawler/serve/datasette_plugin.py); {id} is the report id.
REPORT_ROUTE = "/-/nianbao/report/{id}"
#: Datasette row/table of findings without a report (missing): filtered by fingerprint.
FINDINGS_ROUTE = "/{database}/findings?fingerprint={fingerprint}"

#: Subject prefix of an immediate alert (its severity is in alerts.immediate_severities): sent first.
IMMEDIATE_PREFIX = "【立即】"

#: The email channel's name in the outbox; other channels are named by their apprise URL (as written).
EMAIL = "email"
#: Findings worded one by one in a markdown digest (chat messages are short); the rest are counted.
MARKDOWN_MAX_FINDINGS = 12

#: Findings worded one by one in an email digest, the worst first; the rest are counted per site and
#: severity, each count linked to the site's findings in Datasette.  The first national night's 15,068
#: `missing` findings made one message of 14.5 MB (text and HTML, before MIME encoding), past many mail
#: servers' size limit, and no officer reads 15,000 rows of mail.
EMAIL_MAX_FINDINGS = 500
#: Datasette table of one site's open findings, newest first (the unlisted counts of a long digest link
#: there: the findings it counts are the newest); {site} is ``site=NAME`` or ``site__isnull=1``.
SITE_FINDINGS_ROUTE = "/{database}/findings?{site}&resolved_at__isnull=1&_sort_desc=first_seen"

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
    email: bool = True
    apprise: list[str] = field(default_factory=list)  # URLs as written in config ({env:NAME} unexpanded)
    sender: str = "nianbao@localhost"

    @classmethod
    def from_config(cls, config: Any) -> "AlertSettings":
        a = config.alerts
        return cls(enabled=a.enabled, recipients=list(a.recipients),
                   site_recipients={s.name: list(s.recipients) for s in config.sites if s.recipients},
                   immediate_severities=list(a.immediate_severities),
                   datasette_url=a.datasette_url.rstrip("/"),
                   database=config.database_path().stem, max_attempts=a.max_attempts,
                   email=a.email, apprise=list(a.apprise), sender=a.smtp.sender)

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
    channel: str = EMAIL
    markdown: str = ""

    @property
    def key(self) -> str:
        """Idempotency key: the same findings to the same people on the same channel is the same alert."""
        ident: list[Any] = [sorted(self.fingerprints), sorted(self.recipients)]
        if self.channel != EMAIL:
            ident.append(self.channel)
        raw = json.dumps(ident, ensure_ascii=False)
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


def compose(findings: Iterable[Finding], settings: AlertSettings, *,
            reports: dict[int, dict[str, Any]] | None = None, now: datetime | None = None) -> list[Digest]:
    """The messages for these (new, not yet alerted) findings: immediate ones first, then digests;
    email per recipient list, then one per apprise URL."""
    reports = reports or {}
    now = now or datetime.now(timezone.utc)
    findings = list(findings)
    groups: dict[tuple[tuple[str, ...], bool], list[Finding]] = defaultdict(list)
    if settings.email:
        for f in findings:
            recipients = tuple(settings.recipients_for(f.site))
            if not recipients:
                if not settings.apprise:
                    log.warning("no recipients for site %s (config sites[].recipients or alerts.recipients); "
                                "finding %s not alerted", f.site, f.fingerprint)
                continue
            groups[(recipients, f.severity in settings.immediate_severities)].append(f)
    digests = []
    for (recipients, immediate), items in sorted(groups.items(), key=lambda kv: (not kv[0][1], kv[0][0])):
        digests.append(_render(list(recipients), items, settings, reports, immediate=immediate, now=now))
    for url in settings.apprise:
        by_urgency: dict[bool, list[Finding]] = defaultdict(list)
        for f in findings:
            by_urgency[f.severity in settings.immediate_severities].append(f)
        for immediate in (True, False):
            if by_urgency[immediate]:
                digests.append(_render([], by_urgency[immediate], settings, reports, immediate=immediate, now=now,
                                       channel=url))
    return digests


def _entry(f: Finding, settings: AlertSettings, reports: dict[int, dict[str, Any]]) -> dict[str, Any]:
    row = reports.get(f.report_id) if f.report_id is not None else None
    template = (row or {}).get("template") or "2021"
    return {"f": f, "category": category(f.rule), "severity_label": SEVERITY_LABELS.get(f.severity, f.severity),
            "links": finding_links(f, settings, reports), **wording.describe(f, template, category=category(f.rule))}


def _render(recipients: list[str], items: list[Finding], settings: AlertSettings,
            reports: dict[int, dict[str, Any]], *, immediate: bool, now: datetime, channel: str = EMAIL) -> Digest:
    items = sorted(items, key=lambda f: (f.site or "", SEVERITY_ORDER.get(f.severity, 9), f.agency or "",
                                         f.year or 0, f.rule, f.fingerprint))
    worded = None  # every finding, unless the email is long
    if channel == EMAIL and len(items) > EMAIL_MAX_FINDINGS:
        # the worst first; within a severity each site's first finding before any site's second, so
        # that the worded ones are spread over the sites, not given to those whose names sort first
        rank: dict[tuple[str | None, str], int] = defaultdict(int)
        ranked = []
        for f in items:  # items are in site, severity, agency... order
            ranked.append((SEVERITY_ORDER.get(f.severity, 9), rank[(f.site, f.severity)], f.site or "", id(f)))
            rank[(f.site, f.severity)] += 1
        worded = {key[-1] for key in sorted(ranked)[:EMAIL_MAX_FINDINGS]}
    sites: dict[str | None, dict[str, list[dict]]] = {}
    unlisted: dict[str | None, dict[str, int]] = {}
    for f in items:
        if worded is None or id(f) in worded:
            sites.setdefault(f.site, {}).setdefault(f.severity, []).append(_entry(f, settings, reports))
        else:
            by_sev = unlisted.setdefault(f.site, {})
            by_sev[f.severity] = by_sev.get(f.severity, 0) + 1
    base = settings.datasette_url.rstrip("/")
    unlisted_sites = [{"site": site, "total": sum(counts.values()),
                       "counts": [(SEVERITY_LABELS.get(sev, sev), counts[sev])
                                  for sev in sorted(counts, key=lambda v: (SEVERITY_ORDER.get(v, 9), v))],
                       "link": base + SITE_FINDINGS_ROUTE.format(
                           database=settings.database, site=f"site={quote(site)}" if site else "site__isnull=1")}
                      for site, counts in unlisted.items()]
    worst = worst_severity(f.severity for f in items)
    counts = {sev: sum(1 for f in items if f.severity == sev) for sev in SEVERITY_ORDER}
    prefix = IMMEDIATE_PREFIX if immediate else ""
    subject = (f"{prefix}年报监测：发现{len(items)}项新问题（最高级别：{SEVERITY_LABELS.get(worst, worst)}）")
    ctx = {"sites": sites, "subject": subject, "counts": counts, "total": len(items),
           "severity_labels": SEVERITY_LABELS, "immediate": immediate,
           "generated": now.astimezone(timezone(timedelta(hours=8))).strftime("%Y-%m-%d %H:%M"),
           "datasette_url": settings.datasette_url, "markdown_max": MARKDOWN_MAX_FINDINGS,
           "unlisted": unlisted_sites, "unlisted_total": sum(u["total"] for u in unlisted_sites)}
    if channel == EMAIL:
        text = _env.get_template("digest.txt.j2").render(**ctx)
        html = _env.get_template("digest.html.j2").render(**ctx)
        markdown = ""
    else:
        text = html = ""
        markdown = _env.get_template("digest.md.j2").render(**ctx)
    return Digest(recipients=recipients, subject=subject, text=text, html=html,
                  fingerprints=sorted(f.fingerprint for f in items), sites=sorted({f.site for f in items}, key=lambda s: s or ""),
                  immediate=immediate, channel=channel, markdown=markdown)


# -- outbox ---------------------------------------------------------------------------------------

@dataclass
class Delivery:
    queued: int = 0  # digests written to the outbox now
    sent: list[int] = field(default_factory=list)
    failed: list[tuple[int, str]] = field(default_factory=list)  # still queued, will be retried
    dead: list[tuple[int, str]] = field(default_factory=list)  # failed for the last allowed time now
    skipped: list[int] = field(default_factory=list)  # due, but their channel is not configured now

    @property
    def ok(self) -> bool:
        return not self.failed and not self.dead and not self.skipped

    def as_stats(self) -> dict[str, Any]:
        return {"queued": self.queued, "sent": len(self.sent), "failed": len(self.failed), "dead": len(self.dead),
                "no_channel": self.skipped, "errors": [e for _, e in self.failed + self.dead][:5]}


def queue(store, digests: list[Digest], *, sender: str = "nianbao@localhost") -> int:
    """Write the digests to the outbox before anything is sent.  Returns how many were new.

    An email gets its Message-ID now, kept for every retry."""
    n = 0
    for d in digests:
        alert_id = store.enqueue_alert(key=d.key, recipients=d.recipients, subject=d.subject, text=d.text,
                                       html=d.html, fingerprints=d.fingerprints, site=d.site, channel=d.channel,
                                       markdown=d.markdown or None,
                                       message_id=new_message_id(sender) if d.channel == EMAIL else None)
        if alert_id is not None:
            n += 1
    return n


def backoff(attempts: int) -> timedelta:
    """Delay before the next try after ``attempts`` failed sends: 30 min, 1 h, 2 h ... 1 day."""
    return min(BACKOFF_BASE * (2 ** max(attempts - 1, 0)), BACKOFF_MAX)


def _send_email(store, mailer: Mailer, alert: dict[str, Any], sender: str) -> tuple[list[str], str | None]:
    """(recipients that accepted, error or None).  Only recipients not yet delivered are sent to."""
    message_id = alert.get("message_id")
    if not message_id:  # queued before Message-IDs were made at queue time
        message_id = new_message_id(sender)
        store.set_alert_message_id(alert["id"], message_id)
    delivered = set(alert.get("delivered") or [])
    remaining = [r for r in alert["recipients"] if r not in delivered]
    msg = build_message(sender=sender, recipients=alert["recipients"], subject=alert["subject"],
                        text=alert.get("text") or "", html=alert.get("html") or "", message_id=message_id)
    where = f"SMTP {mailer.settings.host}:{mailer.settings.port}"
    try:
        result = mailer.send(msg, remaining)
    except smtplib.SMTPRecipientsRefused as e:
        refused = "; ".join(f"{r} ({code} {_text(t)})" for r, (code, t) in sorted(e.recipients.items()))
        return [], f"{where}: recipients refused: {refused}"
    except Exception as e:  # noqa: BLE001 - any failure keeps the alert queued
        return [], f"{where}: {type(e).__name__}: {e}"
    if result.refused:
        refused = "; ".join(f"{r} ({answer})" for r, answer in sorted(result.refused.items()))
        return result.accepted, f"{where}: recipients refused: {refused}"
    return result.accepted, None


def _text(value) -> str:
    return value.decode(errors="replace") if isinstance(value, bytes) else str(value)


def _send_channel(notifier: AppriseNotifier, alert: dict[str, Any]) -> str | None:
    try:
        notifier.send(alert["channel"], title=alert["subject"], body=alert.get("markdown") or alert.get("text") or "")
    except ChannelError as e:
        return f"apprise {e}"
    except Exception as e:  # noqa: BLE001 - a channel's failure must not stop the others
        return f"apprise {alert['channel']}: {type(e).__name__}"  # no detail: it could carry the secret
    return None


def deliver(store, mailer: Mailer | None, *, sender: str, now: datetime | None = None,
            max_attempts: int | None = None, notifier: AppriseNotifier | None = None,
            channels: Iterable[str] | None = None) -> Delivery:
    """Send every due alert of the outbox, immediate ones first.

    ``channels``: the apprise URLs configured now; an alert queued for a channel since removed from
    config stays queued (listed by ``nianbao status``), as does email when ``mailer`` is None.
    """
    now = now or datetime.now(timezone.utc)
    notifier = notifier or AppriseNotifier()
    configured = set(channels or ())
    result = Delivery()
    due = store.due_alerts(now)
    due.sort(key=lambda a: (not str(a.get("subject", "")).startswith(IMMEDIATE_PREFIX), a["id"]))
    for alert in due:
        channel = alert.get("channel") or EMAIL
        if channel == EMAIL:
            if mailer is None:
                result.skipped.append(alert["id"])
                continue
            accepted, error = _send_email(store, mailer, alert, sender)
        else:
            if channel not in configured:
                result.skipped.append(alert["id"])
                continue
            accepted, error = [], _send_channel(notifier, alert)
        if error is None:
            store.mark_alert_sent(alert["id"], delivered=accepted)
            result.sent.append(alert["id"])
            continue
        attempts = int(alert.get("attempts") or 0) + 1
        status = store.mark_alert_failed(alert["id"], error=error, next_attempt_at=now + backoff(attempts),
                                         max_attempts=max_attempts, delivered=accepted)
        if status == "dead":
            result.dead.append((alert["id"], error))
            log.error("alert %s dead after %s attempts (run `nianbao alert --retry-dead` or `--drop %s`): %s",
                      alert["id"], attempts, alert["id"], error)
        else:
            result.failed.append((alert["id"], error))
            log.warning("alert %s not sent, will retry: %s", alert["id"], error)
    return result


# -- one alert pass ---------------------------------------------------------------------------------

@dataclass
class AlertOutcome:
    digests: list[Digest] = field(default_factory=list)  # composed in this pass (dry run: not queued)
    delivery: Delivery = field(default_factory=Delivery)
    unaddressed: int = 0  # findings left unalerted for lack of recipients
    dead: list[dict[str, Any]] = field(default_factory=list)  # every dead alert in the outbox after the pass

    @property
    def ok(self) -> bool:
        return self.delivery.ok and not self.dead

    def as_stats(self) -> dict[str, Any]:
        return {"digests": len(self.digests), "findings": len({fp for d in self.digests for fp in d.fingerprints}),
                "unaddressed": self.unaddressed, **self.delivery.as_stats(),
                "dead_in_outbox": [a["id"] for a in self.dead]}


def run_alerts(store, settings: AlertSettings, mailer: Mailer | None, *, sender: str | None = None,
               now: datetime | None = None, dry_run: bool = False,
               notifier: AppriseNotifier | None = None) -> AlertOutcome:
    """Compose digests of every finding waiting for an alert, queue them, then drain the outbox.

    Queueing the digests and marking their findings queued happen in one transaction, so a crash
    can neither lose a finding's alert nor queue it twice; a finding is alerted only once sent.
    ``dry_run`` composes and returns the digests without touching the database or the network.
    """
    now = now or datetime.now(timezone.utc)
    sender = sender or settings.sender
    outcome = AlertOutcome()
    if not settings.enabled:
        return outcome
    pending = store.findings_to_alert()
    # only the reports the findings name: every report of a national database (160,000 rows) took
    # 700 MB to alert one digest
    reports = {r["id"]: r for r in store.reports(ids={f.report_id for f in pending if f.report_id is not None})}
    outcome.digests = compose(pending, settings, reports=reports, now=now)
    addressed = {fp for d in outcome.digests for fp in d.fingerprints}
    outcome.unaddressed = sum(1 for f in pending if f.fingerprint not in addressed)
    if dry_run:
        return outcome
    with store.transaction():
        outcome.delivery.queued = queue(store, outcome.digests, sender=sender)
    if mailer is not None or settings.apprise:
        sent = deliver(store, mailer if settings.email else None, sender=sender, now=now,
                       max_attempts=settings.max_attempts, notifier=notifier, channels=settings.apprise)
        sent.queued = outcome.delivery.queued
        outcome.delivery = sent
    outcome.dead = store.alerts(status="dead")
    return outcome
