"""A new parser version reads stored documents again: changed cells are a `reparsed` event (not the
agency revising its report), and the findings the better reading removes are closed as "parser
corrected", never re-alerted."""
from __future__ import annotations

import dataclasses
from datetime import date

from crawler.ingest import ingest_document
from crawler.parse_stage import ParseSettings, parse_pending, reparse
from monitor.checks.runner import MonitorSettings, run_checks
from storage.db import Store
from storage.models import Document

from storage_helpers import seed_path

URL = "http://127.0.0.1:9/xxgk/ndbg/2024.txt"
TODAY = date(2025, 2, 1)


def test_reparse_corrects_cells_and_closes_findings_as_parser_corrected(tmp_path):
    store = Store(tmp_path / "r.db")
    ingest_document(store, Document(url=URL, content=seed_path("002").read_bytes(), content_type="text/plain"))
    first = parse_pending(store, ParseSettings(workers=1, parser_version="old"))
    (rid,) = first.report_ids
    good = store.load_report(rid)
    # what an older parser stored: one cell misread (a digit dropped), saved as that parser's reading
    wrong = [dataclasses.replace(c, value=c.value + 7) if (c.table, c.row, c.column) == ("table3", "new", "natural_person")
             else c for c in good.cells]
    version_id = store.document_versions(URL)[0]["id"]
    store.save_report(dataclasses.replace(good, cells=wrong, findings=[]), version_id=version_id, report_url=URL,
                      parser_version="old")
    store.conn.execute("DELETE FROM events WHERE kind = 'report_revised'")  # the test's rewrite is no revision
    checks = run_checks(store, MonitorSettings(), today=TODAY, sites=[None])
    bad = [f for f in checks.new if "table3.new.natural_person" in f.cells]
    assert bad, [f.rule for f in checks.new]
    store.mark_findings_alerted([f.fingerprint for f in checks.new])  # the officer was told

    assert store.parse_jobs("old", mode="outdated") == []  # nothing outdated under the same version
    summary = reparse(store, ParseSettings(workers=1, parser_version="new"))
    assert summary.written == 1 and summary.changed_reports == [rid]
    (event,) = store.events(kind="reparsed")
    changed = event["detail"]["changed_cells"]
    assert changed["table3.new.natural_person"] == [good.value("table3", "new", "natural_person") + 7,
                                                    good.value("table3", "new", "natural_person")]
    assert (event["detail"]["previous_parser_version"], event["detail"]["parser_version"]) == ("old", "new")
    assert store.revised_events() == []  # not the agency revising its report
    assert store.reports()[0]["parser_version"] == "new"

    after = run_checks(store, MonitorSettings(), today=TODAY, sites=[None])
    assert after.parser_corrected == len(bad) and {r["fingerprint"] for r in after.resolved} >= \
        {f.fingerprint for f in bad}
    rows = {r["fingerprint"]: r for r in store.finding_rows(open_only=False)}
    for f in bad:
        assert rows[f.fingerprint]["resolved_at"] and rows[f.fingerprint]["resolved_reason"] == "parser corrected"
    assert store.findings(open_only=True, not_alerted=True) == []  # nothing to alert as a new problem
    # and the next run does nothing more
    assert reparse(store, ParseSettings(workers=1, parser_version="new")).jobs == 0
