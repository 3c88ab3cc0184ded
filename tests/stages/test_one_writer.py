"""Each stage has one writer: the crawl/ingest stage writes documents only, the parse stage reports,
the check stage findings; a check reads agencies, it never creates one."""
from __future__ import annotations

from datetime import date

from crawler.ingest import ingest_document
from crawler.parse_stage import ParseSettings, parse_pending
from monitor.checks.runner import MonitorSettings, check_reports, run_checks
from storage.db import Store
from storage.models import Document

from storage_helpers import seed_path


def _doc(seed: str) -> Document:
    return Document(url=f"http://127.0.0.1:9/ndbg/{seed}.txt", content=seed_path(seed).read_bytes(),
                    content_type="text/plain", site="dx")


def test_each_stage_writes_only_its_own_tables(tmp_path):
    store = Store(tmp_path / "w.db")
    ingest_document(store, _doc("001"))
    c = store.counts()
    assert c["documents"] == c["document_versions"] == c["blobs"] == 1
    assert c["reports"] == c["cells"] == c["findings"] == c["agencies"] == 0  # bytes only
    parsed = parse_pending(store, ParseSettings(workers=1))
    c = store.counts()
    assert c["reports"] == 1 and c["cells"] > 0 and c["agencies"] == 1  # identity made when a report is stored
    assert c["findings"] == 0  # the parse stage checks nothing
    checks = check_reports(store, parsed.report_ids)
    assert {f.rule for f in checks.new} >= {"row_total"} and store.counts()["findings"] == len(checks.new)
    assert store.reports_due_for_checks() == []


def test_checks_do_not_create_agencies(tmp_path):
    store = Store(tmp_path / "w.db")
    settings = MonitorSettings(rosters={"dx": {"北京市大兴区卫生健康委员会": "department", "大兴区教育委员会": "department"}},
                               sites=["dx"])
    run_checks(store, settings, today=date(2025, 3, 1))
    assert store.counts()["agencies"] == 0
    ingest_document(store, _doc("004"))
    parse_pending(store, ParseSettings(workers=1))
    assert len(store.agencies(site="dx")) == 1
    summary = run_checks(store, settings, today=date(2025, 3, 1))
    assert len(store.agencies(site="dx")) == 1  # the roster's other agency is matched by name, not inserted
    # the roster still speaks: the agency that never published is missing, the one that did is not
    missing = {f.agency for f in summary.new if f.rule == "missing"}
    assert "大兴区教育委员会" in missing and "北京市大兴区卫生健康委员会" not in missing
