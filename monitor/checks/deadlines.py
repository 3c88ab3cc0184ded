"""Rules on time: deadline (late), backdated, missing.  Relations 10 and 11 of the spec;
domain.md §0 and §4 C9, C10.

The law (条例 第四十九条): a department's report for year Y — and, by local rules, a town's or a
street office's — is published by 31 January of Y+1; a government's own aggregated report (本级政府)
by 31 March.  The town's date is not in the law (domain.md §0, [unverified]): a town's lateness
that rests on it is a warning that says so (``UNVERIFIED_DEADLINE_KINDS``).  ``monitor.grace_days``
is added before anything counts as late or missing: it absorbs our crawl lag and a portal's slow
publishing workflow, so that alerts name real failures.

Which date tells when a report was published?  Two witnesses, neither perfect:

* the page date (发布日期 on the page, or the date printed under the signature) — what the agency
  claims; portals can show any date, and back-dating has been caught in audits (domain.md §5 #2);
* our first sight (``first_seen``) — what we know; it is only evidence while we were watching the
  site: a report first seen on our very first crawl may have been online for months.

So:

1. ``watching_since`` is the first time we crawled the site (the earliest first_seen of any of its
   reports).  We would have seen a report at the latest one crawl interval after
   ``max(page date, watching_since)``.
2. **backdated**: first seen later than that (by more than ``monitor.crawl_interval_hours``), *and*
   after the deadline plus grace, *and* the page date is within it — the page claims a date when
   the report was not there, and the claim hides lateness.  Reports first seen in time are never
   called backdated (an early but mis-dated page harms nobody), nor are pages whose own date is
   already late (the deadline finding says it all).
3. **deadline**: the report is late when the trusted date is after the deadline plus grace.  The
   trusted date is the page date, unless it is backdated (then our first sight), or missing (then
   our first sight, but only if we were already watching before the deadline; otherwise we cannot
   know and say nothing).  Severity: error when the page itself admits lateness (a printed fact),
   warning when the lateness rests on our first sight (derived).
4. **missing**: the agencies expected for a site — the roster in config plus every agency that
   published in an earlier year — with no report for year Y once the deadline plus grace has
   passed (an error: the report does not exist for the public).  Years checked: every year in which
   the site has any report, and the latest year whose deadline has passed.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone

from storage.models import Finding

KINDS = ("department", "town", "government")

#: Name endings that tell an agency's kind when config has no roster entry for it.
#: 本级政府 reports are published under the government's (or the region's) own name.
_GOVERNMENT_NAME = re.compile(r"(人民政府|人民政府办公室|人民政府办公厅|政府)$")
_TOWN_NAME = re.compile(r"(镇|乡|街道|街道办事处|镇人民政府|乡人民政府)$")
_REGION_NAME = re.compile(r"^.{1,12}(省|自治区|市|区|县|旗|自治县|自治州|盟)$")
_DEPARTMENT_WORD = re.compile(r"(局|委员会|委|办公室|中心|院|厅|署|所|站|队|公司)")


def infer_kind(agency: str | None) -> str:
    """department | town | government, from the agency's name (roster entries override this)."""
    name = (agency or "").strip()
    if _TOWN_NAME.search(name):
        return "town"
    if _GOVERNMENT_NAME.search(name) or (_REGION_NAME.match(name) and not _DEPARTMENT_WORD.search(name)):
        return "government"
    return "department"


def due_date(kind: str, year: int) -> date:
    """Publication deadline of the report for ``year``."""
    return date(year + 1, 3, 31) if kind == "government" else date(year + 1, 1, 31)


#: Kinds whose deadline the law does not name.  条例 第四十九条 sets 31 January for 县级以上人民政府部门
#: and 31 March for the 本级政府 report; a 乡镇 / 街道 report's 31 January rests on local rules
#: (domain.md §0: [unverified]).  So lateness that rests on it is a warning saying so; after 31 March
#: (the latest date the law sets) a report is late under either reading and keeps its severity.
UNVERIFIED_DEADLINE_KINDS = frozenset({"town"})
_UNVERIFIED_NOTE = ("（注意：乡镇、街道的公布期限条例未明文规定，第四十九条只规定县级以上人民政府部门1月31日前、"
                    "本级政府3月31日前公布；此处按部门期限1月31日计，如当地另有规定，以当地规定为准）")
_LATE_EITHER_WAY = "（即使按条例规定的最晚期限3月31日计，也已逾期）"
#: the ``subject`` of a finding whose lateness rests on an uncertain deadline: its own fingerprint, so
#: that when the report is late under either reading (after 31 March) the error is a new finding and
#: is alerted, not the warning kept open with a higher severity
UNCERTAIN_SUBJECT = "deadline_uncertain"


def _subject(subject: str, uncertain: bool) -> str:
    return f"{subject}:{UNCERTAIN_SUBJECT}" if subject and uncertain else (UNCERTAIN_SUBJECT if uncertain else subject)


def _limit_name(uncertain: bool) -> str:
    return "公布期限" if uncertain else "法定公布期限"


def latest_due_date(kind: str, year: int) -> date:
    """The latest deadline the report may have: its own, or 31 March where its own is uncertain."""
    return due_date("government", year) if kind in UNVERIFIED_DEADLINE_KINDS else due_date(kind, year)


def deadline_uncertain(kind: str, year: int, when: date, grace_days: int) -> bool:
    """Whether calling ``when`` late rests on a deadline the law does not set for this kind."""
    return kind in UNVERIFIED_DEADLINE_KINDS and when <= latest_due_date(kind, year) + timedelta(days=grace_days)


def _note(kind: str, uncertain: bool) -> str:
    if uncertain:
        return _UNVERIFIED_NOTE
    return _LATE_EITHER_WAY if kind in UNVERIFIED_DEADLINE_KINDS else ""


@dataclass
class Sighting:
    """What the deadline rule needs to know about one stored report."""

    agency: str
    year: int
    kind: str  # department | town | government
    first_seen: datetime | None  # our first sight of the report (naive = UTC)
    page_date: date | None  # the date the page or the report claims
    report_id: int | None = None
    site: str | None = None


def _end_of(d: date) -> datetime:
    return datetime.combine(d, time.max)


def _naive(dt: datetime | None) -> datetime | None:
    """Aware datetimes to naive UTC, the form storage keeps."""
    if dt is None or dt.tzinfo is None:
        return dt
    return dt.astimezone(timezone.utc).replace(tzinfo=None)


def deadline(s: Sighting, *, grace_days: int, crawl_interval_hours: float,
             watching_since: datetime | None) -> list[Finding]:
    """The deadline and backdated findings of one report (see the module's notes)."""
    due = due_date(s.kind, s.year)
    limit = _end_of(due + timedelta(days=grace_days))
    interval = timedelta(hours=crawl_interval_hours)
    first_seen, watching = _naive(s.first_seen), _naive(watching_since)
    out: list[Finding] = []
    kind_name = "本级政府年度报告" if s.kind == "government" else "年度报告"
    base = {"due": due.isoformat(), "grace_days": grace_days, "kind": s.kind,
            "page_date": s.page_date.isoformat() if s.page_date else None,
            "first_seen": first_seen.isoformat(timespec="seconds") if first_seen else None}

    backdated = False
    if s.page_date and first_seen and watching and first_seen > limit and s.page_date <= limit.date():
        expected_by = max(datetime.combine(s.page_date, time.min), watching) + interval
        if first_seen > expected_by + interval:
            backdated = True
            uncertain = deadline_uncertain(s.kind, s.year, first_seen.date(), grace_days)
            out.append(Finding(
                rule="backdated", severity="warning", agency=s.agency, year=s.year,
                site=s.site, report_id=s.report_id, subject=_subject("page_date", uncertain),
                message=(f"页面标注发布日期为{s.page_date:%Y年%m月%d日}，但本系统自{watching:%Y年%m月%d日}起持续监测，"
                         f"至{first_seen:%Y年%m月%d日}才首次发现该报告，晚于{_limit_name(uncertain)}"
                         f"（{due:%Y年%m月%d日}），疑似倒签发布时间{_UNVERIFIED_NOTE if uncertain else ''}。"),
                numbers={**base, "watching_since": watching.isoformat(timespec="seconds"),
                         "days_after_page_date": (first_seen.date() - s.page_date).days,
                         "deadline_uncertain": uncertain},
            ))

    if s.page_date and not backdated:
        if s.page_date > limit.date():
            days = (s.page_date - due).days
            uncertain = deadline_uncertain(s.kind, s.year, s.page_date, grace_days)
            out.append(Finding(
                rule="deadline", severity="warning" if uncertain else "error", agency=s.agency, year=s.year,
                site=s.site, report_id=s.report_id, subject=_subject("page_date", uncertain),
                message=(f"{s.year}年{kind_name}应于{due:%Y年%m月%d日}前公布，页面发布日期为"
                         f"{s.page_date:%Y年%m月%d日}，逾期{days}天{_note(s.kind, uncertain)}。"),
                numbers={**base, "days_late": days, "evidence": "page_date", "deadline_uncertain": uncertain},
            ))
    elif first_seen and (backdated or (watching and watching <= limit)):
        if first_seen > limit:
            days = (first_seen.date() - due).days
            uncertain = deadline_uncertain(s.kind, s.year, first_seen.date(), grace_days)
            out.append(Finding(
                rule="deadline", severity="warning", agency=s.agency, year=s.year, site=s.site,
                report_id=s.report_id, subject=_subject("first_seen", uncertain),
                message=(f"{s.year}年{kind_name}应于{due:%Y年%m月%d日}前公布，本系统至"
                         f"{first_seen:%Y年%m月%d日}才首次发现，逾期约{days}天{_note(s.kind, uncertain)}。"),
                numbers={**base, "days_late": days, "evidence": "first_seen", "deadline_uncertain": uncertain},
            ))
    return out


@dataclass
class Expected:
    """An agency expected to publish for a site."""

    agency: str
    kind: str
    source: str  # "roster" | "earlier_year"
    last_year: int | None = None  # the latest year before the checked one it published, if any


def missing(expected: list[Expected], published: set[str], *, year: int, today: date,
            grace_days: int, site: str | None = None) -> list[Finding]:
    """Expected agencies with no report for ``year`` once its deadline plus grace has passed."""
    out: list[Finding] = []
    for e in expected:
        if e.agency in published:
            continue
        due = due_date(e.kind, year)
        if today <= due + timedelta(days=grace_days):
            continue
        days = (today - due).days
        uncertain = deadline_uncertain(e.kind, year, today, grace_days)
        why = (f"该单位已公布{e.last_year}年度报告，" if e.last_year is not None and e.source == "earlier_year"
               else "该单位在监测名单中，")
        out.append(Finding(
            rule="missing", severity="warning" if uncertain else "error", agency=e.agency, year=year, site=site,
            subject=_subject("", uncertain),
            message=(f"{why}但截至{today:%Y年%m月%d日}仍未发现其{year}年政府信息公开工作年度报告"
                     f"（{'公布期限' if uncertain else '法定期限'}{due:%Y年%m月%d日}，已逾期{days}天）{_note(e.kind, uncertain)}。"),
            numbers={"due": due.isoformat(), "grace_days": grace_days, "today": today.isoformat(),
                     "days_overdue": days, "kind": e.kind, "expected_because": e.source,
                     "last_year": e.last_year, "deadline_uncertain": uncertain},
        ))
    return out


def years_to_check(site_years: set[int], today: date, grace_days: int) -> list[int]:
    """Every year with a report on the site, plus the latest year whose department deadline
    (with grace) has passed; only years whose deadline has passed can have missing reports."""
    latest = today.year - 1
    if today <= due_date("department", latest) + timedelta(days=grace_days):
        latest -= 1
    years = {y for y in site_years if y <= latest}
    if site_years:
        years.add(latest)
    return sorted(years)
