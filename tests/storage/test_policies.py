"""The storage policies as plain functions: agency identity, richer parse wins, the finding lifecycle,
outbox states, document versions.  Each is also exercised through Store in the other storage tests."""
from __future__ import annotations

import pytest

from storage import documents, findings, outbox, reports
from storage.agencies import AgencyChoice, choose_agency, identity_norms, normalise, region_chain


# -- agency identity ------------------------------------------------------------------------------

@pytest.mark.parametrize("name, chain", [
    ("青海省海东市互助县", ("青海省", "海东市", "互助县")),
    ("互助县人民政府门户网站", ("互助县",)),
    ("武汉市武昌区人民政府", ("武汉市", "武昌区")),
    ("示例省互助县（示例数据）", ("示例省", "互助县")),
    ("", ()),
    (None, ()),
])
def test_region_chain(name, chain):
    assert region_chain(name) == chain


def test_identity_norms_tie_a_town_with_its_government():
    assert set(identity_norms(normalise("威远镇"))) >= {"威远镇", "威远镇人民政府"}
    assert "长安镇" in identity_norms(normalise("长安镇人民政府"))
    assert "建设街道" in identity_norms(normalise("建设街道办事处"))
    assert identity_norms(normalise("互助县卫生健康局")) == ("卫生健康局",)  # not a town: its own key only
    assert identity_norms(normalise("互助县人民政府")) == ("人民政府",)


def test_short_and_qualified_name_are_one_agency_either_way():
    qualified, short = normalise("互助县威远镇"), normalise("威远镇")
    # the qualified form stored first: the short one is it
    assert choose_agency(short, [(5, "互助县")]) == AgencyChoice(5)
    # the short one stored first: the qualified one is it, and teaches it its region
    assert choose_agency(qualified, [(5, "")]) == AgencyChoice(5, learn_region=True)
    assert choose_agency(qualified, []) == AgencyChoice(None)


def test_two_levels_of_the_sites_own_region_are_one_place():
    # 海东市威远镇 (qualified from the city in the site's name) and 互助县威远镇 on the 海东市互助县 portal
    n = normalise("海东市威远镇")
    assert choose_agency(n, [(7, "互助县")], site_region="青海省海东市互助县") == AgencyChoice(7)
    # without the site saying so, two regions are two places
    assert choose_agency(n, [(7, "互助县")]) == AgencyChoice(None)
    assert choose_agency(n, [(7, "互助县")], site_region="青海省西宁市") == AgencyChoice(None)


def test_a_short_name_among_several_takes_the_sites_own_region_or_none():
    short = normalise("区教育局")
    candidates = [(1, "洪山区"), (2, "武昌区")]
    assert choose_agency(short, candidates, site_region="武汉市武昌区") == AgencyChoice(2)
    assert choose_agency(short, candidates) == AgencyChoice(None)  # ambiguous: not merged by guess
    assert choose_agency(short, candidates, site_region="武汉市江岸区") == AgencyChoice(None)


def test_a_name_with_its_own_region_is_not_merged_into_another_region():
    assert choose_agency(normalise("洪山区教育局"), [(2, "武昌区")]) == AgencyChoice(None)
    assert choose_agency(normalise("洪山区教育局"), [(2, "武昌区"), (3, "洪山区")]) == AgencyChoice(3)


# -- reports ----------------------------------------------------------------------------------------

def test_richer_parse_wins():
    page = {"document_id": 1, "assessable_cells": 40}
    assert reports.richer_parse_wins(None, document_id=1, assessable=0)
    assert reports.richer_parse_wins(page, document_id=1, assessable=3)  # a new version of the same document
    assert reports.richer_parse_wins(page, document_id=2, assessable=41)  # the attachment reads more
    assert not reports.richer_parse_wins(page, document_id=2, assessable=40)  # a tie keeps what is stored
    assert not reports.richer_parse_wins(page, document_id=2, assessable=10)


def test_a_newer_reading_of_a_picture_report_wins_the_tie():
    # a 图片版 page (document 1) read with its pictures, stored under the version of its picture
    # (document 3, version 12); the agency republishes that picture corrected: the same 200 cells,
    # other values, read by the job of the new version 20
    stored = {"document_id": 3, "version_id": 12, "assessable_cells": 200}
    assert reports.richer_parse_wins(stored, document_id=3, assessable=200, version_id=20)
    # the combined reading may be stored under another part's version (the page, or another picture)
    assert reports.richer_parse_wins(stored, document_id=1, assessable=200, version_id=20)
    assert reports.richer_parse_wins(stored, document_id=4, assessable=200, version_id=13)
    # the same bytes read again (a reparse) replace it too
    assert reports.richer_parse_wins(stored, document_id=3, assessable=200, version_id=12)


def test_an_older_or_poorer_reading_does_not_replace_a_richer_one():
    stored = {"document_id": 3, "version_id": 12, "assessable_cells": 200}
    # another document's older version with as many cells, or any of its versions with fewer
    assert not reports.richer_parse_wins(stored, document_id=1, assessable=200, version_id=11)
    assert not reports.richer_parse_wins(stored, document_id=1, assessable=199, version_id=30)
    assert not reports.richer_parse_wins(stored, document_id=1, assessable=0, version_id=30)  # the page alone
    # an older version of the stored document itself (written after a newer one)
    assert not reports.richer_parse_wins(stored, document_id=3, assessable=200, version_id=11)
    assert not reports.richer_parse_wins(stored, document_id=3, assessable=250, version_id=11)
    # a richer reading of another document still wins, whatever its version
    assert reports.richer_parse_wins(stored, document_id=1, assessable=201, version_id=5)


def test_cell_changes_and_the_event_they_write():
    old = {("table3", "new", "total"): (12, "NUMERIC"), ("table3", "granted", "total"): (5, "NUMERIC")}
    new = {("table3", "new", "total"): (13, "NUMERIC"), ("table3", "granted", "total"): (5, "NUMERIC"),
           ("table4", "review", "total"): (0, "ZERO")}
    count, changed = reports.cell_changes(old, new)
    assert count == 2 and changed == {"table3.new.total": [12, 13], "table4.review.total": [None, 0]}
    assert reports.cell_changes(old, new, limit=1)[0] == 2 and len(reports.cell_changes(old, new, limit=1)[1]) == 1
    assert reports.cell_changes(old, dict(old)) == (0, {})
    assert reports.change_event(reparse=True) == "reparsed"
    assert reports.change_event(reparse=False) == "report_revised"


def test_report_region_prefers_the_sites():
    assert reports.report_region("大兴区", "北京市大兴区") == "北京市大兴区"
    assert reports.report_region("大兴区", None) == "大兴区"
    assert reports.report_region("", None) is None


# -- findings ---------------------------------------------------------------------------------------

def test_finding_lifecycle():
    assert findings.lifecycle(None) == findings.NEW
    assert findings.lifecycle({"resolved_at": None}) == findings.STILL_OPEN
    assert findings.lifecycle({"resolved_at": "2025-02-01T00:00:00+00:00"}) == findings.REOPENED
    reopened = findings.transition(findings.REOPENED, "T")
    assert reopened == {"last_seen": "T", "resolved_at": None, "alerted": 0, "alert_queued_at": None,
                        "resolved_reason": None}
    assert findings.transition(findings.NEW, "T") == {"first_seen": "T", "last_seen": "T"}
    assert findings.transition(findings.STILL_OPEN, "T") == {}
    with pytest.raises(ValueError):
        findings.transition("closed", "T")
    rows = [{"fingerprint": "a"}, {"fingerprint": "b"}]
    assert findings.to_resolve(rows, {"a"}) == [{"fingerprint": "b"}]


# -- outbox -----------------------------------------------------------------------------------------

def test_outbox_states():
    assert outbox.status_after_failure(0, 3) == "failed"
    assert outbox.status_after_failure(2, 3) == "dead"
    assert outbox.status_after_failure(50, None) == "failed"  # no limit: retried for ever
    for status in outbox.UNSENT:
        outbox.check_transition(1, status, "dropped")
    for status in ("sent", "dropped"):
        with pytest.raises(KeyError, match=f"alert 1 is {status}"):
            outbox.check_transition(1, status, "dropped")
    with pytest.raises(KeyError):
        outbox.check_transition(1, "sent", "failed")  # a sent alert is never sent again
    assert outbox.delivered_union(["b@x.org"], ["a@x.org", "b@x.org"]) == ["a@x.org", "b@x.org"]


# -- documents --------------------------------------------------------------------------------------

def test_version_change():
    assert documents.version_change(None, "s1", is_new=True) == (False, False)
    assert documents.version_change("s1", "s1", is_new=False) == (False, True)
    assert documents.version_change("s1", "s2", is_new=False) == (True, False)


def test_merged_seen_forgets_nothing_and_only_moves_forward():
    stored = {"last_seen": "2025-01-02", "etag": "e1", "link_title": "年报"}
    assert documents.merged_seen(stored, {"etag": None, "link_title": None}, "2025-01-01") == {}
    assert documents.merged_seen(stored, {"etag": "e2", "link_title": "年报"}, "2025-01-03") == {
        "etag": "e2", "last_seen": "2025-01-03"}


def test_parse_job_modes():
    assert "pending" in documents.parse_jobs_filter("pending")
    assert "latest_version_id" in documents.parse_jobs_filter("all")
    with pytest.raises(ValueError, match="unknown mode"):
        documents.parse_jobs_filter("everything")
