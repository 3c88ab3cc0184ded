"""Run every rule over the database, site by site, and sync the findings.

One pass per site: load its stored reports, run the within-report rules (check_report), the
cross-year rules per agency, the deadline rules per report, the missing rule per year and the
revised rule from storage's events; then hand the whole set to ``Store.sync_findings`` for that
site, which keeps fingerprints stable: a finding already open is not new, an open finding that
is no longer produced is resolved.

At national size (thousands of sites) the sites are checked in a process pool: each worker opens
the database read-only, loads and checks a share of the sites and hands its findings back; this
process alone writes them (storage's one writer), site by site in the order a single process
would, so the findings and their order are the same whatever the number of workers.
"""
from __future__ import annotations

import logging
import multiprocessing as mp
import os
from collections import Counter, defaultdict
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from typing import Any, Iterable

from storage import check_reads
from storage.models import Finding, Report

from monitor.checks import cross_year, deadlines, revisions
from monitor.checks.categories import CROSS_YEAR_RULES, DEADLINE_RULES, REVISION_RULES
from monitor.checks.report import RULES as REPORT_RULES
from monitor.checks.report import check_report

log = logging.getLogger(__name__)

ALL_RULES = REPORT_RULES + CROSS_YEAR_RULES + DEADLINE_RULES + REVISION_RULES

_CHECKABLE = ("parsed", "partial")


@dataclass
class MonitorSettings:
    """The parts of config.monitor and config.sites the checks read (monitor/ does not import
    the crawler's config model; crawler/run.py builds this from it)."""

    grace_days: int = 7
    crawl_interval_hours: float = 24
    swing_factor: float = 5
    swing_min_base: int = 10
    copied_similarity: float = 0.95
    #: site name -> {agency name: kind}
    rosters: dict[str | None, dict[str, str]] = field(default_factory=dict)
    sites: list[str | None] | None = None  # None: every site in the database

    @classmethod
    def from_config(cls, config: Any) -> "MonitorSettings":
        m = config.monitor
        return cls(grace_days=m.grace_days, crawl_interval_hours=m.crawl_interval_hours,
                   swing_factor=m.swing_factor, swing_min_base=m.swing_min_base,
                   copied_similarity=m.copied_similarity,
                   rosters={s.name: {r.name: r.kind for r in s.roster} for s in config.sites},
                   sites=[s.name for s in config.sites] or None)


@dataclass
class CheckSummary:
    sites: list[str | None] = field(default_factory=list)
    reports: int = 0
    findings: int = 0  # produced in this pass (open now)
    new: list[Finding] = field(default_factory=list)
    still_open: int = 0
    resolved: list[dict[str, Any]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # a report that could not be checked, ...
    parser_corrected: int = 0  # resolved because a re-parse changed the report's cells
    checked_ids: list[int] = field(default_factory=list)  # reports whose findings were synced

    @property
    def ok(self) -> bool:
        return not self.problems

    def by_rule(self) -> Counter:
        return Counter(f.rule for f in self.new)

    def as_stats(self) -> dict[str, Any]:
        return {"sites": len(self.sites), "reports": self.reports, "findings": self.findings,
                "new": len(self.new), "still_open": self.still_open, "resolved": len(self.resolved),
                "parser_corrected": self.parser_corrected,
                "new_by_rule": dict(self.by_rule()), "problems": self.problems[:20]}


def run_checks(store, settings: MonitorSettings, *, today: date | None = None,
               run_id: int | None = None, sites: Iterable[str | None] | None = None,
               workers: int | None = None) -> CheckSummary:
    """Check every stored report of the sites (default: the configured ones, else all in the DB).

    ``workers``: processes that load and check the sites (1: this process alone); default: the
    usable cores (at most ``MAX_WORKERS``) when there are at least ``POOL_MIN_SITES`` sites."""
    today = today or datetime.now(timezone.utc).date()
    wanted = list(sites) if sites is not None else settings.sites
    if wanted is None:
        wanted = check_reads.report_sites(store)
    summary = CheckSummary(sites=list(wanted))
    per_site = _check_sites(store, settings, wanted, today=today, summary=summary, workers=workers)
    # Store.sync_findings scopes by site, and site None means every site: so reports stored
    # without a site (local ingests) are synced together with all the others in one call
    if None in per_site:
        batches = [(None, [f for fs in per_site.values() for f in fs])]
    else:
        batches = list(per_site.items())
    for site, findings in batches:
        summary.findings += len(findings)
        delta = store.sync_findings(findings, rules=ALL_RULES, site=site, run_id=run_id)
        summary.new.extend(delta.new)
        summary.still_open += len(delta.still_open)
        summary.resolved.extend(delta.resolved)
        summary.parser_corrected += parser_corrected(store, delta)
        log.info("checks of site %s: %d findings, %d new, %d resolved", site, len(findings),
                 len(delta.new), len(delta.resolved))
    store.mark_checked(summary.checked_ids)
    return summary


#: Fewer sites than this are checked in this process: starting workers (imports, a connection
#: each) costs about a second of CPU, a few sites' worth.
POOL_MIN_SITES = 64
MAX_WORKERS = 8
#: Sites per task handed to a worker: enough that a task's overhead (pickling the settings, the
#: findings back) is small, few enough that the two workers end together.
SITES_PER_TASK = 25


def _usable_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not Linux
        return os.cpu_count() or 1


def pool_workers(store, n_sites: int, workers: int | None = None) -> int:
    """How many worker processes check ``n_sites`` sites (1: none, this process does)."""
    if workers is None:
        workers = min(_usable_cores(), MAX_WORKERS) if n_sites >= POOL_MIN_SITES else 1
    workers = max(1, min(workers, n_sites))
    # the workers read the database file itself: a store whose file would not read the same
    # elsewhere (a write transaction open, an old schema held, no file) keeps the pass here
    if workers > 1 and not store.readable_elsewhere():
        return 1
    return workers


def _check_sites(store, settings: MonitorSettings, sites: list[str | None], *, today: date,
                 summary: CheckSummary, workers: int | None) -> dict[str | None, list[Finding]]:
    """Each site's findings (not synced), in the order of ``sites``; ``summary`` gets the reports
    checked and the problems, in that order too."""
    n = pool_workers(store, len(sites), workers)
    if n == 1:
        return {site: check_site(store, settings, site, today=today, summary=summary) for site in sites}
    tasks = [sites[i:i + SITES_PER_TASK] for i in range(0, len(sites), SITES_PER_TASK)]
    done: dict[int, list] = {}
    try:
        # spawn, not fork: this process holds a SQLite connection (and maybe threads)
        with ProcessPoolExecutor(n, mp_context=mp.get_context("spawn")) as pool:
            futures = [pool.submit(_check_task, (str(store.path), settings, task, today)) for task in tasks]
            for i, fut in enumerate(futures):
                try:
                    done[i] = fut.result()
                except BrokenProcessPool:
                    pass  # counted below: the tasks that came back stand, the others are checked here
    except BrokenProcessPool:
        pass
    if len(done) < len(tasks):
        # a worker killed (out of memory, a signal): the pass still ends, and only the sites whose
        # task did not come back are checked again, here
        left = [s for i, task in enumerate(tasks) if i not in done for s in task]
        log.warning("check workers failed: checking the %d sites of %d unfinished tasks in this process",
                    len(left), len(tasks) - len(done))
    per_site: dict[str | None, list[Finding]] = {}
    for i, task in enumerate(tasks):  # in the order of ``sites``, whoever checked them
        if i not in done:
            for site in task:
                per_site[site] = check_site(store, settings, site, today=today, summary=summary)
            continue
        for site, found, reports, checked, problems in done[i]:
            per_site[site] = found
            summary.reports += reports
            summary.checked_ids += checked
            summary.problems += problems
    return per_site


def _check_task(args) -> list[tuple[str | None, list[Finding], int, list[int], list[str]]]:
    """In a worker: check some sites over a read-only connection of the worker's own."""
    from storage.db import Store  # monitor reads through storage's facade, as the caller does

    path, settings, sites, today = args
    out = []
    with Store(path, readonly=True) as store:
        for site in sites:
            part = CheckSummary()
            found = check_site(store, settings, site, today=today, summary=part)
            out.append((site, found, part.reports, part.checked_ids, part.problems))
    return out


def parser_corrected(store, delta) -> int:
    """Findings a re-parse made go away are closed as "parser corrected", not as fixed by the agency.

    A finding resolved in this pass whose report was re-parsed with changed cells after the finding
    was last seen (a ``reparsed`` event: same bytes, newer parser) owes its end to the parser.  A
    finding of the same rule on the same report that appears in the same pass is the same problem
    read better: it takes over its predecessor's alerted flag instead of being alerted as new.
    """
    if not delta.resolved:
        return 0
    reparsed: dict[int, str] = {}
    for e in store.events(kind="reparsed"):
        if e["report_id"] is not None:
            reparsed[e["report_id"]] = max(reparsed.get(e["report_id"], ""), e["at"])
    corrected = [r for r in delta.resolved
                 if r.get("report_id") in reparsed and reparsed[r["report_id"]] >= (r.get("last_seen") or "")]
    if not corrected:
        return 0
    store.set_resolved_reason([r["fingerprint"] for r in corrected], PARSER_CORRECTED)
    told = {(r["rule"], r["report_id"]) for r in corrected if r.get("alerted")}
    successors = [f.fingerprint for f in delta.new if (f.rule, f.report_id) in told]
    if successors:
        store.mark_findings_alerted(successors)
    return len(corrected)


PARSER_CORRECTED = "parser corrected"


def check_reports(store, report_ids: Iterable[int] | None = None, *, run_id: int | None = None) -> CheckSummary:
    """The within-report rules over stored reports (default: every report the parse stage wrote
    and no check has read since, as after ``nianbao ingest``), synced report by report.  The
    cross-report rules need every report of a site: ``run_checks``."""
    summary = CheckSummary()
    ids = sorted(set(store.reports_due_for_checks()) | set(report_ids or ()))
    for rid in ids:
        try:
            report = store.load_report(rid)
        except Exception as e:  # noqa: BLE001
            summary.problems.append(f"report {rid}: cannot load: {e}")
            continue
        if report.status.value not in _CHECKABLE:
            store.mark_checked([rid])  # stored and marked by parsing; nothing to check in it
            continue
        row = store.report_row(rid)
        summary.reports += 1
        try:
            found = check_report(report)
        except Exception as e:  # noqa: BLE001 - a checker bug must not hide the other reports
            summary.problems.append(f"report {rid}: check_report failed: {e}")
            log.exception("check_report failed on report %s", rid)
            continue
        for f in found:
            f.report_id, f.site = rid, row.get("site")
            f.agency, f.year = f.agency or report.agency, f.year or report.year
        delta = store.sync_findings(found, rules=REPORT_RULES, site=row.get("site"), report_id=rid, run_id=run_id,
                                    seen_at=row.get("first_seen"))
        summary.findings += len(found)
        summary.new.extend(delta.new)
        summary.still_open += len(delta.still_open)
        summary.resolved.extend(delta.resolved)
        summary.parser_corrected += parser_corrected(store, delta)
        store.mark_checked([rid])
    return summary


@dataclass
class _Stored:
    row: dict[str, Any]
    report: Report

    @property
    def id(self) -> int:
        return self.row["id"]


def check_site(store, settings: MonitorSettings, site: str | None, *, today: date,
               summary: CheckSummary | None = None) -> list[Finding]:
    """All findings of one site, not yet synced."""
    summary = summary or CheckSummary()
    rows = [r for r in store.reports(site=site) if r.get("site") == site]
    stored: list[_Stored] = []
    checkable = [row for row in rows if row.get("status") in _CHECKABLE]  # others: marked by parsing
    try:
        loaded = {id_: report for id_, report in
                  zip((row["id"] for row in checkable), store.load_reports(row["id"] for row in checkable))}
        if len(loaded) != len(checkable):
            raise LookupError("a report vanished while loading")
    except Exception:  # noqa: BLE001 - find the broken row one by one, so it does not hide the others
        loaded = {}
        for row in checkable:
            try:
                loaded[row["id"]] = store.load_report(row["id"])
            except Exception as e:  # noqa: BLE001
                summary.problems.append(f"report {row['id']} ({row.get('report_url')}): cannot load: {e}")
                log.exception("cannot load report %s", row["id"])
    stored += [_Stored(row, loaded[row["id"]]) for row in checkable if row["id"] in loaded]
    summary.reports += len(stored)
    summary.checked_ids += [s.id for s in stored]
    out: list[Finding] = []

    def tag(found: list[Finding], s: _Stored | None) -> None:
        for f in found:
            f.site = site
            if s is not None:
                f.report_id = s.id
                f.agency = f.agency or s.report.agency
                f.year = f.year or s.report.year
        out.extend(found)

    for s in stored:
        try:
            tag(check_report(s.report), s)
        except Exception as e:  # noqa: BLE001
            summary.problems.append(f"report {s.id}: check_report failed: {e}")
            log.exception("check_report failed on report %s", s.id)

    # agencies by storage's identity (its agency_id ties 大兴区卫健委 to 北京市大兴区卫生健康委员会),
    # so that a renamed or abbreviated agency still pairs with its previous year
    def key_of(row: dict[str, Any], agency: str | None):
        return row.get("agency_id") if row.get("agency_id") is not None else agency

    # one report per agency and year: the one with most readable cells (a page and its
    # attachment can both parse), then the earliest seen
    primary: dict[tuple[Any, int], _Stored] = {}
    for s in sorted(stored, key=lambda s: (-(s.row.get("assessable_cells") or 0), str(s.row.get("first_seen")))):
        a, y = s.report.agency, s.report.year
        if a and y and (key_of(s.row, a), y) not in primary:
            primary[(key_of(s.row, a), y)] = s

    by_year: dict[int, list[_Stored]] = defaultdict(list)
    for (_, y), s in primary.items():
        by_year[y].append(s)

    prepared = cross_year.Prepared()
    for y, group in by_year.items():  # every agency against every other of the same year, in one go
        prepared.compare_all([g.report for g in group], settings.copied_similarity)
    year_index = {y: {id(g.report): g for g in group} for y, group in by_year.items()}
    for (a, y), s in primary.items():
        prev = primary.get((a, y - 1))
        if prev is not None:
            tag(cross_year.carry_continuity(prev.report, s.report), s)
            tag(cross_year.in_force_continuity(prev.report, s.report), s)
            tag(cross_year.swing(prev.report, s.report, factor=settings.swing_factor,
                                 min_base=settings.swing_min_base), s)
        others = [cross_year.Counterpart(prev.report, "previous_year", prev.id)] if prev else []
        # only the agencies compare_all found related: the rest cannot be flagged, and listing
        # every agency of the year for every agency is quadratic at national size
        others += [cross_year.Counterpart(o.report, "other_agency", o.id)
                   for o in sorted((year_index[y][r] for r in prepared.related(s.report)), key=lambda o: o.id)]
        tag(cross_year.copied(s.report, others, threshold=settings.copied_similarity, prepared=prepared), s)

    roster = settings.rosters.get(site, {})
    stored_kinds = {key_of(r, r.get("agency")): r.get("agency_kind") for r in rows
                    if r.get("agency_kind") in ("town", "government")}  # 'department' is storage's default
    # a check reads: the roster's names are matched to the agencies storage knows (its identity
    # rules), never inserted; an agency that never published is known by its roster name
    roster_keys: dict[Any, tuple[str, str]] = {}
    for name, kind in roster.items():
        key = store.find_agency_id(name, site=site)
        roster_keys[key if key is not None else name] = (name, kind)

    def kind_of(key, name: str) -> str:
        if key in roster_keys:
            return roster_keys[key][1]
        return stored_kinds.get(key) or deadlines.infer_kind(name)

    seen_times = [t for t in (_dt(s.row.get("first_seen")) for s in stored) if t]
    watching_since = min(seen_times) if seen_times else None
    for (key, y), s in primary.items():
        a = s.report.agency
        sighting = deadlines.Sighting(
            agency=a, year=y, kind=kind_of(key, a), first_seen=_dt(s.row.get("first_seen")),
            page_date=_page_date(s), report_id=s.id, site=site)
        tag(deadlines.deadline(sighting, grace_days=settings.grace_days,
                               crawl_interval_hours=settings.crawl_interval_hours,
                               watching_since=watching_since), s)

    # a report stored but not readable (a scan awaiting OCR) is still published: every stored
    # report with an agency and a year counts against missing, not only the checkable ones
    years_seen: dict[Any, set[int]] = defaultdict(set)
    names: dict[Any, tuple[int, str]] = {}
    for r in rows:
        if r.get("agency") and r.get("year"):
            k = key_of(r, r["agency"])
            years_seen[k].add(r["year"])
            if k not in names or r["year"] >= names[k][0]:
                names[k] = (r["year"], r["agency"])
    years = deadlines.years_to_check({y for ys in years_seen.values() for y in ys}, today, settings.grace_days)
    for year in years:
        # the roster is today's list of agencies: it speaks for the latest year only, while an
        # agency that published before is expected every year after
        expected, published = [], set()
        for key in sorted(set(roster_keys) | set(years_seen), key=str):
            ys = years_seen.get(key, set())
            name = names[key][1] if key in names else roster_keys[key][0]
            if any(y < year for y in ys):
                expected.append(deadlines.Expected(name, kind_of(key, name), "earlier_year",
                                                   max(y for y in ys if y < year)))
            elif key in roster_keys and year == years[-1]:
                expected.append(deadlines.Expected(name, kind_of(key, name), "roster", max(ys, default=None)))
            if year in ys:
                published.add(name)
        tag(deadlines.missing(expected, published, year=year, today=today,
                              grace_days=settings.grace_days, site=site), None)

    by_id = {s.id: s for s in stored}
    revs = []
    for ev in _revised_events(store, site):
        s = by_id.get(ev["report_id"])
        if s is None:
            continue  # the report is no longer checkable, or belongs to another site
        revs.append(revisions.Revision(
            agency=s.report.agency, year=s.report.year, url=ev.get("url") or s.row.get("report_url"),
            at=_dt(ev.get("at")), new_sha256=ev.get("new_sha256"), old_sha256=ev.get("old_sha256"),
            report_id=s.id, site=site, changed_cells=ev.get("changed_cells") or []))
    tag(revisions.revised(revs), None)
    return out


# -- reading what storage keeps -------------------------------------------------------------------

def _dt(value) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value
    try:
        dt = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return dt.astimezone(timezone.utc).replace(tzinfo=None) if dt.tzinfo else dt


def _date(value) -> date | None:
    if value is None or isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value)[:10])
    except ValueError:
        return None


def _page_date(s: _Stored) -> date | None:
    """The date the agency claims: the page's 发布日期, else the listing's, else the signature's."""
    for key in ("page_date", "listing_date"):
        d = _date(s.row.get(key))
        if d:
            return d
    return s.report.published or _date(s.row.get("published"))


def _revised_events(store, site: str | None) -> list[dict[str, Any]]:
    """Stored reports whose numbers changed because their document came back with other bytes.

    Storage lists every URL seen again with other bytes (``Store.revised_events``), with the cells
    that changed in the report.  Pages change for reasons that are not the report (chrome, view
    counters, a re-encoded attachment): only a change of the report's cells is a finding.  A text-only
    edit with the same numbers is therefore not reported.
    """
    return [e for e in store.revised_events(site=site) if e.get("changed_cells")]
