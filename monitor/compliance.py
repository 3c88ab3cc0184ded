"""The compliance matrix: for one year, every agency expected to publish, and how it did.

Pure functions over the rows storage returns (``storage.desk.matrix_inputs``); the Datasette page,
the 通报 exports and the CLI all call ``build_matrix`` so that they agree to the last count.

Who is expected (the same reasoning as the missing rule, monitor/checks/deadlines.py):
- every agency with a report for the year;
- every agency of the site that published in an earlier year;
- the config roster (today's list: it speaks for the latest year only, and only for sites this
  database has seen);
- every agency the checks found missing, unless an officer dismissed that finding (误报: the
  agency need not publish, e.g. it was merged).

A row's status, first match wins (one word per row; the other facts stay visible as flags):
未公开 (no report, deadline + grace passed) · 未公开（期限未到） · 逾期 N 天 (an open or confirmed
deadline finding: the checks' verdict, which weighs page dates against our first sight) ·
已公开·有错误 (an error on the report's content) · 发布后修改 (a revised finding) · 已公开·有提示
(warnings or notes) · 按时公开.  Findings an officer dismissed or marked fixed are not counted.
"""
from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, field
from datetime import date, timedelta
from typing import Any, Iterable

from monitor import triage
from monitor.checks.categories import DEADLINE_RULES, REVISION_RULES, SEVERITY_ORDER
from monitor.checks.deadlines import due_date, infer_kind
from vocabulary import template as V

KIND_LABELS = {"department": "部门", "town": "乡镇（街道）", "government": "本级政府"}

#: status key -> label; "late" is completed with the days.
STATUS_LABELS = {
    "missing": "未公开",
    "not_due": "未公开（期限未到）",
    "late": "逾期 {days} 天",
    "errors": "已公开·有错误",
    "revised": "发布后修改",
    "hints": "已公开·有提示",
    "on_time": "按时公开",
}
#: Sorting order of statuses: the ones an officer acts on first.
STATUS_ORDER = {s: i for i, s in enumerate(STATUS_LABELS)}
#: Rules about time and existence, not about what the report says.
_TIME_RULES = set(DEADLINE_RULES) | set(REVISION_RULES)

SORT_KEYS = ("status", "agency", "site", "region", "kind", "published", "errors", "warnings", "infos")


@dataclass
class MatrixRow:
    agency: str
    kind: str
    site: str
    region: str
    agency_id: int | None = None
    expected_because: str = "published"  # published | earlier_year | roster | missing_finding
    report_id: int | None = None
    title: str | None = None
    published: str | None = None  # the date the report or its page states
    first_seen: str | None = None  # our first sight (UTC)
    source_url: str | None = None
    due: str = ""
    status: str = "on_time"
    days_late: int | None = None  # published late (deadline finding)
    days_overdue: int | None = None  # not published, days past the deadline (today)
    revised: bool = False
    counts: dict[str, int] = field(default_factory=lambda: {"error": 0, "warning": 0, "info": 0})
    findings: list[dict[str, Any]] = field(default_factory=list)  # counted ones (open or confirmed)
    closed: int = 0  # findings dismissed or marked fixed by an officer

    @property
    def status_label(self) -> str:
        return STATUS_LABELS[self.status].format(days=self.days_late if self.days_late is not None else "?")

    @property
    def kind_label(self) -> str:
        return KIND_LABELS.get(self.kind, self.kind)

    @property
    def is_published(self) -> bool:
        return self.report_id is not None

    @property
    def has_errors(self) -> bool:
        return any(f["severity"] == "error" and f["rule"] not in _TIME_RULES for f in self.findings)

    @property
    def content_findings(self) -> list[dict[str, Any]]:
        """Findings about what the report says (not about when it came out)."""
        return [f for f in self.findings if f["rule"] not in _TIME_RULES]

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d.update(status_label=self.status_label, kind_label=self.kind_label, published_flag=self.is_published,
                 has_errors=self.has_errors)
        return d


@dataclass
class MatrixCounts:
    expected: int = 0
    published: int = 0
    on_time: int = 0
    late: int = 0
    missing: int = 0  # deadline passed, no report
    not_due: int = 0
    with_errors: int = 0
    revised: int = 0


@dataclass
class Matrix:
    year: int
    today: date
    rows: list[MatrixRow]
    counts: MatrixCounts
    filters: dict[str, str | None]
    options: dict[str, list[str]]  # sites, regions, kinds present (for the filter menus)
    years: list[int]

    def findings(self) -> list[tuple[MatrixRow, dict[str, Any]]]:
        """Every counted finding with its row, worst first."""
        out = [(r, f) for r in self.rows for f in r.findings]
        return sorted(out, key=lambda rf: (SEVERITY_ORDER.get(rf[1]["severity"], 9), rf[0].site, rf[0].agency,
                                           rf[1]["rule"]))


def default_year(years: Iterable[int], today: date) -> int:
    """The latest year with reports; else the latest year whose department deadline has passed."""
    ys = sorted(years)
    return ys[-1] if ys else (today.year - 1 if today > date(today.year, 1, 31) else today.year - 2)


def build_matrix(inputs: dict[str, Any], *, year: int, today: date, grace_days: int = 7,
                 rosters: dict[str, dict[str, str]] | None = None, site: str | None = None,
                 region: str | None = None, kind: str | None = None, sort: str = "status",
                 descending: bool = False, norm=None) -> Matrix:
    """The matrix of ``year`` from ``inputs`` (storage.desk.matrix_inputs), filtered and sorted.

    ``rosters``: site -> {agency name: kind} (config); ``norm(name)`` gives the normalised body of
    a name, used to pair roster names with stored agencies (default: the name itself).
    """
    norm = norm or (lambda n: n)
    agencies = {a["id"]: a for a in inputs["agencies"]}
    reports_by_agency: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for r in inputs["reports"]:
        reports_by_agency[r["agency_id"]].append(r)
    findings_by_agency: dict[Any, list[dict[str, Any]]] = defaultdict(list)
    for f in inputs["findings"]:
        if f.get("year") != year:
            continue
        key = f["agency_id"] if f.get("agency_id") is not None else (f.get("site") or "", f.get("agency"))
        findings_by_agency[key].append(f)
    latest_year = max([r["year"] for r in inputs["reports"]] + [year])

    rows: list[MatrixRow] = []
    seen: set[int] = set()
    # a roster speaks only for a site this database has seen: a site configured but never crawled
    # (or another database's sites) cannot tell who has not published
    known_sites = {a.get("site") or "" for a in inputs["agencies"]} | {s["name"] for s in inputs.get("sites", [])}
    norms = {(a.get("site") or "", a.get("norm") or norm(a["name"])): a for a in inputs["agencies"]}
    rosters = {s: r for s, r in (rosters or {}).items() if (s or "") in known_sites}
    roster_kinds: dict[int, str] = {}  # the roster's kind is stated; it overrides storage's guess
    for site_name, roster in rosters.items():
        for name, k in roster.items():
            a = norms.get((site_name or "", norm(name)))
            if a is not None:
                roster_kinds[a["id"]] = k

    def add(agency_id: int | None, a: dict[str, Any], because: str, fkey) -> None:
        fs = findings_by_agency.get(fkey, [])
        missing_dismissed = any(f["rule"] == "missing" and not triage.counts(f) for f in fs)
        this_year = sorted((r for r in reports_by_agency.get(agency_id, []) if r["year"] == year),
                           key=lambda r: (-(r["assessable_cells"] or 0), str(r["first_seen"]), r["id"]))
        if not this_year and missing_dismissed:
            return  # an officer said this agency need not publish this year
        k = roster_kinds.get(agency_id) or a.get("kind") or infer_kind(a.get("name"))
        row = MatrixRow(agency=a["name"], kind=k, site=a.get("site") or "", region=a.get("region") or "",
                        agency_id=agency_id, expected_because=because, due=due_date(k, year).isoformat())
        counted = triage.counted(fs)
        row.closed = len(fs) - len(counted)
        if this_year:
            r = this_year[0]
            row.report_id, row.title, row.published = r["id"], r["title"], r["published"]
            row.first_seen, row.source_url = r["first_seen"], r["source_url"]
        row.findings = sorted((f for f in counted if f["rule"] != "missing" or not this_year),
                              key=lambda f: (SEVERITY_ORDER.get(f["severity"], 9), f["rule"], f["id"]))
        for f in row.findings:
            if f["severity"] in row.counts and f["rule"] != "missing":
                row.counts[f["severity"]] += 1
        row.revised = any(f["rule"] == "revised" for f in row.findings)
        late = [f for f in row.findings if f["rule"] == "deadline"]
        if late:
            row.days_late = max(int(f["numbers"].get("days_late") or 0) for f in late)
        if not row.is_published:
            due = date.fromisoformat(row.due)
            if today > due + timedelta(days=grace_days):
                row.status, row.days_overdue = "missing", (today - due).days
            else:
                row.status = "not_due"
        elif late:
            row.status = "late"
        elif row.has_errors:
            row.status = "errors"
        elif row.revised:
            row.status = "revised"
        elif any(f["rule"] not in _TIME_RULES or f["rule"] == "backdated" for f in row.findings):
            row.status = "hints"
        else:
            row.status = "on_time"
        rows.append(row)

    for agency_id, reps in reports_by_agency.items():
        a = agencies.get(agency_id)
        if a is None:
            continue
        years = {r["year"] for r in reps}
        if year in years:
            because = "published"
        elif any(y < year for y in years):
            because = "earlier_year"
        else:
            continue
        seen.add(agency_id)
        add(agency_id, a, because, agency_id)
    # the roster: today's list, so only for the latest year
    for site_name, roster in rosters.items():
        for name, k in roster.items():
            a = norms.get((site_name or "", norm(name)))
            if a is not None:
                if a["id"] in seen or year < latest_year:
                    continue
                seen.add(a["id"])
                add(a["id"], {**a, "kind": k}, "roster", a["id"])
            elif year >= latest_year:
                add(None, {"name": name, "kind": k, "site": site_name, "region": ""}, "roster",
                    (site_name or "", name))
    for key, fs in findings_by_agency.items():
        if not any(f["rule"] == "missing" for f in fs):
            continue
        if isinstance(key, int):
            if key in seen or key not in agencies:
                continue
            seen.add(key)
            add(key, agencies[key], "missing_finding", key)
        elif not any(r.agency == key[1] and r.site == key[0] for r in rows):
            add(None, {"name": key[1], "kind": None, "site": key[0], "region": ""}, "missing_finding", key)

    options = {"sites": sorted({r.site for r in rows if r.site}), "regions": sorted({r.region for r in rows if r.region}),
               "kinds": [k for k in KIND_LABELS if any(r.kind == k for r in rows)]}
    chosen = [r for r in rows if (site is None or r.site == site) and (region is None or r.region == region)
              and (kind is None or r.kind == kind)]
    chosen = sort_rows(chosen, sort, descending)
    return Matrix(year=year, today=today, rows=chosen, counts=count(chosen),
                  filters={"site": site, "region": region, "kind": kind, "sort": sort,
                           "desc": "1" if descending else None},
                  options=options, years=sorted(set(inputs.get("years", [])) | {year}))


def count(rows: Iterable[MatrixRow]) -> MatrixCounts:
    c = MatrixCounts()
    for r in rows:
        c.expected += 1
        if r.is_published:
            c.published += 1
            if r.days_late is not None:
                c.late += 1
            else:
                c.on_time += 1
            c.with_errors += r.has_errors
            c.revised += r.revised
        elif r.status == "missing":
            c.missing += 1
        else:
            c.not_due += 1
    return c


def sort_rows(rows: list[MatrixRow], key: str, descending: bool = False) -> list[MatrixRow]:
    if key not in SORT_KEYS:
        raise ValueError(f"cannot sort by {key!r}: expected one of {', '.join(SORT_KEYS)}")
    by = {
        "status": lambda r: (STATUS_ORDER[r.status], -(r.days_late or r.days_overdue or 0), r.site, r.agency),
        "agency": lambda r: (r.agency, r.site),
        "site": lambda r: (r.site, r.agency),
        "region": lambda r: (r.region, r.site, r.agency),
        "kind": lambda r: (list(KIND_LABELS).index(r.kind) if r.kind in KIND_LABELS else 9, r.agency),
        "published": lambda r: (r.published is None, r.published or "", r.agency),
        "errors": lambda r: (-r.counts["error"], r.agency),
        "warnings": lambda r: (-r.counts["warning"], r.agency),
        "infos": lambda r: (-r.counts["info"], r.agency),
    }[key]
    return sorted(rows, key=by, reverse=descending)


def status_tally(rows: Iterable[MatrixRow]) -> Counter:
    return Counter(r.status for r in rows)


# -- naming cells ---------------------------------------------------------------------------------

def cell_label(ref: str, template: str | None = None,
               labels: dict[tuple[str, str, str], tuple[str, str]] | None = None) -> str:
    """A cell by its printed labels (表三 ·（四）无法提供 1.本机关不掌握相关政府信息 · 总计), not its key.

    The wording lives in monitor.wording (the digest's too); until it is there, the labels table
    (the national format's labels, as storage keeps them) names the row and the column.
    """
    try:
        from monitor.wording import cell_label as wording_label
    except ImportError:
        wording_label = None
    if wording_label is not None:
        return wording_label(ref, template)
    parts = ref.split(".")
    if len(parts) != 3:
        return ref
    table, row, col = parts
    row_label, col_label = (labels or {}).get((table, row, col), (None, None))
    text = " · ".join(p for p in (V.TABLE_NAMES.get(table, table), row_label or row,
                                  None if col == "value" and not col_label else (col_label or col)) if p)
    return text.replace(" · （", " ·（")  # a full-width bracket brings its own space


def _as_finding(row: dict[str, Any]):
    from storage.models import Finding
    cells = row.get("cells") or []
    return Finding(rule=row["rule"], severity=row["severity"], message=row.get("message") or "",
                   cells=list(cells) if not isinstance(cells, str) else [], suspect=row.get("suspect"),
                   numbers=row.get("numbers") if isinstance(row.get("numbers"), dict) else {},
                   agency=row.get("agency"), year=row.get("year"), report_id=row.get("report_id"),
                   site=row.get("site"), subject=row.get("subject") or "")


def evidence(finding: dict[str, Any], template: str | None = None) -> str:
    """The finding as one readable sentence: monitor.wording's (the digest's wording) when it is
    there and can word this rule, else the rule's own message, which the checks write in Chinese."""
    try:
        from monitor.wording import describe
    except ImportError:
        return finding.get("message") or ""
    d = describe(_as_finding(finding), template or "2021")
    return d["message"] + (f"（{d['evidence']}）" if d.get("evidence") and d.get("evidence_new") else "")


def advice(rule: str) -> str:
    """What the agency should do about it (monitor.wording; '' until it is there)."""
    try:
        from monitor.wording import advice as wording_advice
    except ImportError:
        return ""
    return wording_advice(rule)


def cells_summary(refs: list[str], suspect: str | None, label, limit: int = 3) -> str:
    """The cells a finding names, shortened: the suspect first, then a few, then “等 N 个单元格”."""
    ordered = ([suspect] if suspect else []) + [r for r in refs if r != suspect]
    shown = [label(r) for r in ordered[:limit]]
    rest = len(ordered) - len(shown)
    return "；".join(shown) + (f" 等 {len(ordered)} 个单元格" if rest > 0 else "")


def matrix_for(conn, *, year: int | None = None, today: date, grace_days: int = 7,
               rosters: dict[str, dict[str, str]] | None = None, site: str | None = None,
               region: str | None = None, kind: str | None = None, sort: str = "status",
               descending: bool = False) -> tuple[Matrix, Any]:
    """The matrix read from a database connection, and a cell-labelling function for it.

    ``year`` None: the latest year with reports.  Used by the page, the downloads and the CLI.
    """
    from storage import desk
    from storage.agencies import normalise

    if year is None:
        years = desk.matrix_inputs(conn, 0)["years"]
        year = default_year(years, today)
    inputs = desk.matrix_inputs(conn, year)
    m = build_matrix(inputs, year=year, today=today, grace_days=grace_days, rosters=rosters, site=site,
                     region=region, kind=kind, sort=sort, descending=descending,
                     norm=lambda n: normalise(n).norm)
    labels = desk.labels(conn)
    return m, (lambda ref: cell_label(ref, None, labels))


# -- an agency's years side by side ---------------------------------------------------------------

_T3_COLUMNS = ("natural_person", "commercial_enterprise", "research_institution", "social_welfare_org",
               "legal_service_org", "other_org", "total")


def history_view(data: dict[str, Any], label) -> dict[str, Any]:
    """An agency's history (storage.desk.agency_history) as the page shows it: one column per
    year (the report with most readable cells), the key figures as rows, and each year's
    relations to the year before: 上年结转 = 上年报告的结转下年度 (all seven columns) and 现行有效
    continuity (2021 format on both sides), marked holds / breaks / cannot tell."""
    from storage.desk import HISTORY_FIGURES

    by_year: dict[int, dict[str, Any]] = {}
    for r in data["reports"]:
        by_year.setdefault(r["year"], r)  # ordered by assessable cells: the first is the primary
    years = sorted(by_year)
    cells = {y: data["figures"].get(by_year[y]["id"], {}) for y in years}

    def value(y: int, ref: str):
        c = cells.get(y, {}).get(ref)
        if c is None or c["kind"] not in ("NUMERIC", "ZERO"):
            return None
        return c["value"]

    def shown(y: int, ref: str) -> str:
        c = cells.get(y, {}).get(ref)
        if c is None:
            return ""
        if c["kind"] in ("NUMERIC", "ZERO") and c["value"] is not None:
            v = c["value"]
            return str(int(v)) if isinstance(v, float) and v.is_integer() else str(v)
        return c["raw"] or "（空白）"

    figure_rows = [{"ref": ".".join(f), "label": label(".".join(f)), "shown": [shown(y, ".".join(f)) for y in years]}
                   for f in HISTORY_FIGURES if any(shown(y, ".".join(f)) for y in years)]
    relations = []
    for prev, cur in zip(years, years[1:]):
        if cur != prev + 1:
            relations.append({"year": cur, "previous": prev, "name": "年度不连续", "holds": None,
                              "detail": f"缺少{prev + 1}年的报告，{cur}年与{prev}年之间的衔接无法核对"})
            continue
        broken, unknown = [], []
        for col in _T3_COLUMNS:
            now, before = value(cur, f"table3.carried_over.{col}"), value(prev, f"table3.carried_forward.{col}")
            if now is None or before is None:
                unknown.append(col)
            elif now != before:
                broken.append(f"{label(f'table3.carried_over.{col}').split(' · ')[-1]}：{cur}年上年结转{_n(now)}件，"
                              f"{prev}年结转下年度{_n(before)}件")
        relations.append({
            "year": cur, "previous": prev, "name": "上年结转 = 上年报告的结转下年度",
            "holds": (False if broken else (None if len(unknown) == len(_T3_COLUMNS) else True)),
            "detail": ("；".join(broken) if broken else
                       ("两年的报告中没有可核对的数字" if len(unknown) == len(_T3_COLUMNS) else
                        f"七列一致（{cur}年上年结转 = {prev}年结转下年度）"
                        + (f"，{len(unknown)} 列无法核对" if unknown else "")))})
        p_tmpl, c_tmpl = by_year[prev].get("template"), by_year[cur].get("template")
        for row in ("regulations", "normative_documents"):
            name = V.row_label("table2", row, "2021")
            vals = (value(prev, f"table2.{row}.in_force"), value(cur, f"table2.{row}.issued"),
                    value(cur, f"table2.{row}.repealed"), value(cur, f"table2.{row}.in_force"))
            rel = {"year": cur, "previous": prev, "name": f"{name}{V.column_label('table2', 'in_force')}衔接"}
            if p_tmpl != "2021" or c_tmpl != "2021":
                rel.update(holds=None, detail="两年格式不同（2019 年格式没有现行有效件数），不核对")
            elif None in vals:
                rel.update(holds=None, detail="缺少可核对的数字")
            else:
                before, issued, repealed, now = vals
                expected = before + issued - repealed
                rel.update(holds=now == expected,
                           detail=f"{prev}年现行有效{_n(before)}＋{cur}年制发{_n(issued)}－废止{_n(repealed)}"
                                  f"＝{_n(expected)}，{cur}年报告为{_n(now)}")
            relations.append(rel)
    findings_by_year: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for f in data["findings"]:
        findings_by_year[f["year"]].append(f)
    columns = [{"year": y, "report": by_year[y],
                "counted": triage.counted(findings_by_year.get(y, [])),
                "errors": sum(1 for f in triage.counted(findings_by_year.get(y, [])) if f["severity"] == "error")}
               for y in years]
    return {"agency": data["agency"], "years": years, "columns": columns, "figure_rows": figure_rows,
            "relations": relations, "reports": data["reports"]}


def _n(v) -> str:
    return str(int(v)) if isinstance(v, float) and v.is_integer() else str(v)
