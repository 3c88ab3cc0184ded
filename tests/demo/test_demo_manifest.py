"""Planted anomalies are exactly what the manifest says: the numbers are checked here directly, not via the parser."""
from __future__ import annotations

import itertools
import re
from collections import defaultdict
from datetime import date

import pytest
from rapidfuzz import fuzz

from crawler.demo.portal import DemoPortal
from crawler.demo.sites.texts import request_counts
from storage.models import TABLE3_RESULT_ROWS, TABLE4_COLUMNS

RESULTS = TABLE3_RESULT_ROWS["2021"]


def violations(spec) -> set[str]:
    """Relations 1-4, 6 and 7 of report-model.md, computed from a spec's numbers and text."""
    t3, out = spec.table3, set()
    for row, vals in t3.items():
        if sum(vals[:6]) != vals[6]:
            out.add("row_total")
    for c in range(7):
        if sum(t3[k][c] for k in RESULTS) != t3["total_processed"][c]:
            out.add("results_total")
        if t3["new"][c] + t3["carried_over"][c] != t3["total_processed"][c] + t3["carried_forward"][c]:
            out.add("balance")
    for g in spec.table4.values():
        if sum(g[c] for c in TABLE4_COLUMNS[:-1]) != g["total"]:
            out.add("appeal_total")
    text = "\n".join(spec.preamble + [p for ps in spec.sections.values() for p in ps])
    if re.search(r"（单位名称）|XX|××|此处填写", text) or not spec.sections.get("problems"):
        out.add("placeholder")
    if f"{spec.year}年1月1日" not in text or f"{spec.year}年12月31日" not in text:
        out.add("period")
    return out


def narrative_matches(spec) -> bool:
    text = "".join(spec.sections["overview"])
    c = request_counts(spec.table3)
    said = {k: int(re.search(p + r"(\d+)件", text).group(1)) for k, p in (
        ("new", "收到政府信息公开申请"), ("granted", "予以公开"), ("partially_granted", "部分公开"),
        ("withheld", "不予公开"), ("unavailable", "无法提供"), ("rejected", "不予处理"),
        ("carried_forward", "结转下年度继续办理"))}
    review = int(re.search(r"行政复议(\d+)件", text).group(1))
    return all(c[k] == v for k, v in said.items()) and review == spec.table4["review"]["total"]


def text_of(spec) -> str:
    """The narrative with names and figures blanked, as a strict copy check would compare it."""
    text = "\n".join(spec.preamble + [p for ps in spec.sections.values() for p in ps])
    return re.sub(r"\d+", "0", text.replace(spec.agency, "本机关"))


def numbers_of(spec) -> list:
    return [v for vals in spec.table3.values() for v in vals] + [spec.table2["licensing"], spec.table2["punishment"]]


def by_agency(reports):
    out = defaultdict(dict)
    for r in reports:
        out[(r.site, r.agency)][r.year] = r
    return out


def test_each_report_breaks_exactly_the_relations_planted_in_it(portal):
    for r in portal.expected_reports():
        if "ocr" in r.planted:  # the 图片版 report: its tables are pictures, its numbers consistent
            assert r.formats == ["image"]
            assert violations(r.spec) == set(), (r.agency, r.year)
            continue
        planted = {p for p in r.planted if p in {"row_total", "results_total", "balance", "appeal_total",
                                                  "placeholder", "period"}}
        if r.seed:
            # the seeds' text is real: only their numbers and placeholders are checked here
            assert violations(r.spec) - {"period"} == planted, (r.agency, r.year)
        else:
            assert violations(r.spec) == planted, (r.agency, r.year)
            assert narrative_matches(r.spec), (r.agency, r.year)
    seed001 = next(r for r in portal.expected_reports() if r.seed == "001")
    assert {"row_total", "results_total", "narrative_vs_table", "placeholder"} == set(seed001.planted)


def test_cross_year_continuity_holds_except_where_planted(portal):
    carry_breaks, in_force_breaks = set(), set()
    for (site, agency), years in by_agency(portal.expected_reports()).items():
        if 2023 not in years or 2024 not in years or not years[2023].spec.table3:
            continue
        a, b = years[2023].spec, years[2024].spec
        if a.table3["carried_forward"] != b.table3["carried_over"]:
            carry_breaks.add(agency)
        for block in ("regulations", "normative_documents"):
            x, y = a.table2[block], b.table2[block]
            if y["in_force"] != x["in_force"] + y["issued"] - y["repealed"]:
                in_force_breaks.add(agency)
    planted = {f.agency for f in portal.expected_findings() if f.rule == "carry_continuity"}
    assert planted == {"市中区民政局"} and carry_breaks == planted
    assert in_force_breaks == set()


def test_no_swing_and_no_copy(portal):
    reps = [r for r in portal.expected_reports() if r.spec and r.spec.table3]
    for (site, agency), years in by_agency(reps).items():
        if {2023, 2024} <= set(years):
            a, b = years[2023].spec, years[2024].spec
            for k in ("licensing", "punishment", "coercion"):
                lo, hi = sorted((a.table2[k], b.table2[k]))
                assert hi < 10 or hi <= 5 * max(lo, 1), (agency, k, lo, hi)
            assert numbers_of(a) != numbers_of(b), agency
            assert fuzz.ratio(text_of(a), text_of(b)) < 85, agency
    for site, group in itertools.groupby(sorted(reps, key=lambda r: r.site), key=lambda r: r.site):
        for x, y in itertools.combinations(list(group), 2):
            assert fuzz.ratio(text_of(x.spec), text_of(y.spec)) < 85, (x.agency, x.year, y.agency, y.year)


def test_deadlines_and_missing_match_the_manifest(portal):
    late, missing = set(), set()
    for r in portal.expected_reports():
        due = date(r.year + 1, 3, 31) if r.kind == "government" else date(r.year + 1, 1, 31)
        if date.fromisoformat(r.page_date) > due:
            late.add((r.agency, r.year))
    for (site, agency), years in by_agency(portal.expected_reports()).items():
        if 2023 in years and 2024 not in years:
            missing.add((agency, 2024))
    found = portal.expected_findings()
    assert late == {(f.agency, f.year) for f in found if f.rule == "deadline"} == {("市中区自然资源局", 2024)}
    assert missing == {(f.agency, f.year) for f in found if f.rule == "missing"} == {("东风区财政局", 2024)}
    gov = [r for r in portal.expected_reports() if r.kind == "government" and r.page_date > f"{r.year + 1}-01-31"]
    assert gov, "a government report published in March is on time (31 March rule)"


def test_roster_lists_every_agency_with_its_kind(portal, base_url):
    configs = portal.site_configs(base_url)
    assert {c["name"] for c in configs} == {"dongfeng", "shizhong", "yimei", "huzhu"}
    roster = {(c["name"], e["name"], e["kind"]) for c in configs for e in c["roster"]}
    assert roster == {(r.site, r.agency, r.kind) for r in portal.expected_reports()}
    from crawler.config import config_from_dict

    cfg = config_from_dict({"sites": configs})
    assert [s.start_url for s in cfg.sites] == [c["start_url"] for c in configs]


def test_publish_revision_changes_bytes_at_the_same_url(get):
    portal = DemoPortal()
    with portal.serve() as base:
        target = next(r for r in portal.expected_reports(base) if "revised" in r.planted)
        before = get(target.url)
        assert "revised" not in {f.rule for f in portal.expected_findings()}
        revised = portal.publish_revision()
        after = get(target.url)
        assert base + revised.url == target.url and after.status == 200
        assert after.body != before.body and after.headers["etag"] != before.headers["etag"]
        assert after.headers["last-modified"] != before.headers["last-modified"]
        assert get(target.url, headers={"If-None-Match": before.headers["etag"]}).status == 200
        assert get(target.url, headers={"If-Modified-Since": before.headers["last-modified"]}).status == 200
        spec = revised.spec
        assert violations(spec) == set() and narrative_matches(spec)
        assert str(spec.table2["licensing"]) in after.text() and spec.table2["licensing"] != target.spec.table2["licensing"]
        last_year = next(r for r in portal.expected_reports() if r.agency == target.agency and r.year == 2023)
        assert last_year.spec.table3["carried_forward"] == spec.table3["carried_over"]
        assert ("revised", target.agency, 2024) in {(f.rule, f.agency, f.year) for f in portal.expected_findings()}
        # other pages did not change
        other = next(r for r in portal.expected_reports(base) if r.site == "yimei" and r.agency != target.agency)
        assert get(other.url, headers={"If-None-Match": get(other.url).headers["etag"]}).status == 304
        # the control URL does the same for a portal run by hand
        assert get(base + "/__demo__/revision").status == 200 and portal.revision == 2


@pytest.mark.parametrize("stem", ["000", "002", "003", "004"])
def test_clean_seeds_plant_nothing(portal, stem):
    r = next(r for r in portal.expected_reports() if r.seed == stem)
    assert r.planted == [] and not [f for f in portal.expected_findings() if f.agency == r.agency]
