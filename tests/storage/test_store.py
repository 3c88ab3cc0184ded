"""Store: documents content-addressed, reports and cells, findings' lifecycle, outbox, search."""
from __future__ import annotations

import pickle
import sqlite3
from datetime import date, datetime, timedelta, timezone

import pytest

from storage import schema
from storage.db import Store, StoreError
from storage.models import Cell, CellKind, Finding, ParseStatus, ParseWarning
from storage.reports import ReportRows, report_to_rows

from storage_helpers import doc, expected, report_from_expected


def test_pragmas_and_schema(store):
    assert store.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert store.conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    assert store.schema_version == schema.LATEST
    # every lookup the pipeline makes has an index
    plan = store.conn.execute("EXPLAIN QUERY PLAN SELECT * FROM findings WHERE report_id = 1").fetchall()
    assert "idx_findings_report" in str([tuple(r) for r in plan])
    plan = store.conn.execute("EXPLAIN QUERY PLAN SELECT id FROM reports WHERE agency_id = 1 AND year = 2024").fetchall()
    assert "idx_reports_agency_year" in str([tuple(r) for r in plan])


def test_insert_row_as_sqlite_utils_would_and_ignore(store, tmp_path):
    """The hot paths' one-row INSERT: the rows ``Table.insert`` writes, the statement cached per column
    list in its order; with ``ignore`` an existing row stays as it was and no rowid is claimed."""
    import sqlite_utils

    from storage._common import insert_row, insert_sql

    assert insert_sql(store.db, "blobs", ("sha256", "size", "content"), ignore=True).startswith(
        'INSERT OR IGNORE INTO "blobs"')
    assert insert_row(store.db, "blobs", {"sha256": "a" * 64, "size": 2, "content": b"v1"}, ignore=True)
    assert insert_row(store.db, "blobs", {"sha256": "a" * 64, "size": 9, "content": b"other"}, ignore=True) == 0
    assert [tuple(r) for r in store.conn.execute("SELECT size, content FROM blobs")] == [(2, b"v1")]
    with pytest.raises(sqlite3.IntegrityError):  # without ignore, the primary key holds
        insert_row(store.db, "blobs", {"sha256": "a" * 64, "size": 9, "content": b"other"})
    # the same columns in two orders: each value lands in its own column; the rowid is the row's
    rows = [{"kind": "k1", "at": "2026-01-01T00:00:00+00:00", "url": "u1", "detail": None},
            {"url": "u2", "detail": "{}", "kind": "k2", "at": "2026-01-02T00:00:00+00:00"},
            {"at": "2026-01-03T00:00:00+00:00", "kind": "k3", "url": "u3"}]
    ids = []
    for i, row in enumerate(rows):
        ids.append(insert_row(store.db, "events", row))
        insert_row(store.db, "fetches", {"url": f"f{i}", "fetched_at": row["at"], "fetch_status": "ok"})
    got = {r["id"]: (r["kind"], r["at"], r["url"], r["detail"])
           for r in store.conn.execute("SELECT id, kind, at, url, detail FROM events")}
    assert got == {i: (r["kind"], r["at"], r["url"], r.get("detail")) for i, r in zip(ids, rows)}
    # and the same rows as sqlite-utils' own Table.insert writes into a database of the same schema
    twin = Store(tmp_path / "twin.db")
    for i, row in enumerate(rows):
        twin.db["events"].insert(row)
        twin.db["fetches"].insert({"url": f"f{i}", "fetched_at": row["at"], "fetch_status": "ok"})
    dump = lambda conn: [tuple(r) for r in conn.execute("SELECT * FROM events ORDER BY id")]  # noqa: E731
    assert dump(twin.conn) == dump(store.conn)
    twin.close()


def test_same_bytes_stored_once_and_revisions(store):
    a = store.save_document(doc("http://x.gov.cn/a.html", b"v1", etag='"e1"'))
    assert a.is_new and not a.revised and not a.unchanged
    again = store.save_document(doc("http://x.gov.cn/a.html", b"v1"))
    assert again.unchanged and again.version_id == a.version_id and not again.is_new
    other_url = store.save_document(doc("http://x.gov.cn/copy.html", b"v1"))
    assert other_url.is_new and other_url.sha256 == a.sha256
    assert store.counts()["blobs"] == 1 and store.counts()["document_versions"] == 2
    b = store.save_document(doc("http://x.gov.cn/a.html", b"v2"))
    assert b.revised and b.version_id != a.version_id
    revised = store.events(kind="revised")
    assert len(revised) == 1 and revised[0]["detail"]["previous_sha256"] == a.sha256
    assert store.fetch_cache("http://x.gov.cn/a.html")["sha256"] == b.sha256
    assert store.blob(a.sha256) == b"v1" and store.blob(b.sha256) == b"v2"
    assert len(store.document_versions("http://x.gov.cn/a.html")) == 2
    assert store.counts()["fetches"] == 4  # http(s) fetches are journalled


def test_record_fetch_not_modified_touches_last_seen(store):
    store.save_document(doc("https://x.gov.cn/r.pdf", b"%PDF", etag='"1"'))
    before = store.fetch_cache("https://x.gov.cn/r.pdf")
    store.record_fetch("https://x.gov.cn/r.pdf", run_id=None, http_status=304, fetch_status="not_modified")
    store.record_fetch("https://x.gov.cn/gone", run_id=None, http_status=None, fetch_status="timeout", error="read timeout")
    after = store.fetch_cache("https://x.gov.cn/r.pdf")
    assert after["last_seen"] > before["last_seen"] and after["etag"] == '"1"'
    rows = store.conn.execute("SELECT fetch_status, error FROM fetches ORDER BY id").fetchall()
    assert [tuple(r) for r in rows][-2:] == [("not_modified", None), ("timeout", "read timeout")]


def test_report_roundtrip_matches_expected(store):
    exp = expected("001")
    report = report_from_expected(exp, text="本年度共受理政府信息公开申请1件")
    saved = store.save_document(doc("http://x.gov.cn/001.html", b"page"))
    rid = store.save_report(report, version_id=saved.version_id, report_url="http://x.gov.cn/001.html", site="s")
    loaded = store.load_report(rid)
    assert loaded.table2 == exp["table2"] and loaded.table3 == exp["table3"] and loaded.table4 == exp["table4"]
    assert (loaded.agency, loaded.year, loaded.title, loaded.template) == (exp["agency"], 2024, exp["title"], "2021")
    assert loaded.published.isoformat() == exp["published"] and loaded.text == report.text
    row = store.reports(site="s")[0]
    assert row["cells_count"] == len(report.cells) == 25 * 7 + 10 + 15
    assert row["source_url"] == "http://x.gov.cn/001.html" and row["region"] == "市中区"


def test_reports_by_id_are_the_same_rows_as_the_whole_listing(store):
    """The alerts read only the reports their findings name (all of a national database's
    reports were 700 MB); those rows must be the listing's own, in chunks past SQLite's
    parameter limit too."""
    ids = []
    for i, seed in enumerate(("000", "001", "002", "003", "004")):
        url = f"http://x.gov.cn/{seed}.html"
        saved = store.save_document(doc(url, f"page {i}".encode()))
        ids.append(store.save_report(report_from_expected(expected(seed)), version_id=saved.version_id,
                                     report_url=url, site="s"))
    every = {r["id"]: r for r in store.reports()}
    assert sorted(every) == sorted(ids)
    picked = store.reports(ids=[ids[3], ids[1], ids[3]])
    assert [r["id"] for r in picked] == [r["id"] for r in store.reports() if r["id"] in (ids[1], ids[3])]
    assert all(r == every[r["id"]] for r in picked)
    assert store.reports(ids=[]) == [] and store.reports(ids=[max(ids) + 1]) == []
    # more ids than one statement may bind: read in chunks, unknown ids ignored
    many = store.reports(ids=list(range(-40_000, 0)) + ids)
    assert sorted(r["id"] for r in many) == sorted(ids)


def test_report_saved_from_its_rows_as_a_parse_worker_sends_them(store):
    """The parse stage's workers send the report's rows (pickled through a pipe), not the Report:
    stored from them, the report reads back whole (cells, a cell read twice as its last reading,
    warnings in order, sections, period, text)."""
    exp = expected("001")
    report = report_from_expected(exp, text="本年度共受理政府信息公开申请1件")
    report.cells.append(Cell("table2", "punishment", "value", 7, raw="7", kind=CellKind.NUMERIC, confidence=0.5))
    report.warnings = [ParseWarning("unsplit_digits", "第三行数字连在一起", "table3.new.total"),
                       ParseWarning("blank_cell", "空白", None)]
    report.sections = {"概述": "本机关……"}
    report.period = (date(2024, 1, 1), date(2024, 12, 31))
    rows = pickle.loads(pickle.dumps(report_to_rows(report)))
    assert isinstance(rows, ReportRows) and len(rows.cells) == 25 * 7 + 10 + 15  # one per cell key
    saved = store.save_document(doc("http://x.gov.cn/001.html", b"page"))
    rid = store.save_report(rows, version_id=saved.version_id, report_url="http://x.gov.cn/001.html", site="s")
    loaded = store.load_report(rid)
    assert loaded.table3 == exp["table3"] and loaded.table4 == exp["table4"]
    assert loaded.table2 == {**exp["table2"], "punishment": 7} and loaded.cell("table2", "punishment").confidence == 0.5
    assert [(w.code, w.message, w.cell) for w in loaded.warnings] == [
        ("unsplit_digits", "第三行数字连在一起", "table3.new.total"), ("blank_cell", "空白", None)]
    assert loaded.sections == {"概述": "本机关……"} and loaded.period == (date(2024, 1, 1), date(2024, 12, 31))
    assert (loaded.agency, loaded.year, loaded.title, loaded.text) == (exp["agency"], 2024, exp["title"], report.text)
    row = store.reports(site="s")[0]
    assert (row["cells_count"], row["warnings_count"], row["region"]) == (25 * 7 + 10 + 15, 2, "市中区")
    assert store.search("政府信息公开申请")[0]["report_id"] == rid  # the full-text index has it


def test_page_and_attachment_keep_the_richer_parse(store):
    exp = expected("004")
    full = report_from_expected(exp)
    poor = report_from_expected(exp)
    poor.cells = [Cell(c.table, c.row, c.column, None, raw="", kind=CellKind.EMPTY) if c.table == "table3" else c
                  for c in poor.cells]
    page = store.save_document(doc("http://x.gov.cn/r.html", b"<html>page</html>"))
    rid = store.save_report(poor, version_id=page.version_id, report_url="http://x.gov.cn/r.html")
    att = store.save_document(doc("http://x.gov.cn/r.pdf", b"%PDF-1.7", report_url="http://x.gov.cn/r.html"))
    assert store.save_report(full, version_id=att.version_id, report_url="http://x.gov.cn/r.html") == rid
    assert store.report_version(rid) == att.version_id  # the attachment's parse has more numbers
    # the poorer page parsed again does not take the content back
    store.save_report(poor, version_id=page.version_id, report_url="http://x.gov.cn/r.html")
    assert store.report_version(rid) == att.version_id
    assert store.load_report(rid).table3 == exp["table3"]
    assert store.counts()["reports"] == 1 and store.counts()["documents"] == 2


def test_new_version_replaces_content_and_records_changed_cells(store):
    exp = expected("000")
    v1 = store.save_document(doc("http://x.gov.cn/000.html", b"one"))
    rid = store.save_report(report_from_expected(exp), version_id=v1.version_id, report_url="http://x.gov.cn/000.html")
    changed = report_from_expected(exp)
    cell = changed.cell("table2", "punishment")
    cell.value, cell.kind = 99, CellKind.NUMERIC
    v2 = store.save_document(doc("http://x.gov.cn/000.html", b"two"))
    assert store.save_report(changed, version_id=v2.version_id, report_url="http://x.gov.cn/000.html") == rid
    assert store.load_report(rid).value("table2", "punishment") == 99
    ev = store.revised_events()
    assert len(ev) == 1 and ev[0]["report_id"] == rid
    assert ev[0]["changed_cells"] == {"table2.punishment.value": [exp["table2"]["punishment"], 99]}


def test_sync_findings_lifecycle(store):
    exp = expected("001")
    v = store.save_document(doc("http://x.gov.cn/001.html", b"x"))
    rid = store.save_report(report_from_expected(exp), version_id=v.version_id, report_url="http://x.gov.cn/001.html")
    f1 = Finding(rule="row_total", severity="error", message="m1", cells=["table3.new.total"], agency="a", year=2024)
    f2 = Finding(rule="balance", severity="error", message="m2", cells=["table3.new.natural_person"], agency="a",
                 year=2024, suspect="table3.new.natural_person")
    d = store.sync_findings([f1, f2], rules=["row_total", "balance"], report_id=rid)
    assert len(d.new) == 2 and not d.resolved
    d = store.sync_findings([f1], rules=["row_total", "balance"], report_id=rid)
    assert [f.rule for f in d.still_open] == ["row_total"] and [r["rule"] for r in d.resolved] == ["balance"]
    assert [f.rule for f in store.findings(report_id=rid)] == ["row_total"]
    d = store.sync_findings([f1, f2], rules=["row_total", "balance"], report_id=rid)
    assert [f.rule for f in d.new] == ["balance"]  # reopened counts as new
    # a finding of another scope is left alone
    other = Finding(rule="missing", severity="warning", message="m3", agency="b", year=2024, site="s")
    store.sync_findings([other], rules=["missing"], site="s")
    store.sync_findings([], rules=["row_total", "balance"], report_id=rid)
    assert [f.rule for f in store.findings()] == ["missing"]
    rows = store.finding_rows(open_only=False)
    assert all(r["fingerprint"] and r["first_seen"] for r in rows)
    store.mark_findings_alerted([other.fingerprint])
    assert store.findings(not_alerted=True) == []


def test_outbox(store):
    now = datetime(2025, 2, 1, tzinfo=timezone.utc)
    aid = store.enqueue_alert(key="digest-1", recipients=["a@x"], subject="s", text="t", html="<p>t</p>",
                              fingerprints=["f1"])
    assert aid and store.enqueue_alert(key="digest-1", recipients=["a@x"], subject="s", text="t", html="",
                                       fingerprints=[]) is None
    assert [a["id"] for a in store.due_alerts(now)] == [aid]
    store.mark_alert_failed(aid, error="conn refused", next_attempt_at=now + timedelta(minutes=5), max_attempts=2)
    assert store.due_alerts(now) == [] and len(store.due_alerts(now + timedelta(minutes=6))) == 1
    store.mark_alert_failed(aid, error="conn refused", next_attempt_at=now + timedelta(minutes=10), max_attempts=2)
    assert store.alerts()[0]["status"] == "dead" and store.due_alerts(now + timedelta(days=1)) == []
    b = store.enqueue_alert(key="digest-2", recipients=["a@x"], subject="s", text="t", html="", fingerprints=[])
    store.mark_alert_sent(b, message_id="<m@x>")
    sent = store.alerts(status="sent")[0]
    assert sent["message_id"] == "<m@x>" and sent["attempts"] == 1 and sent["sent_at"]


def test_runs(store):
    rid = store.start_run("ingest", config={"paths": ["x"]})
    store.finish_run(rid, "ok", stats={"files": 3})
    run = store.last_runs(kind="ingest")[0]
    assert run["status"] == "ok" and run["stats"] == {"files": 3} and run["finished"] >= run["started"]


def test_transaction_rolls_back_everything(store):
    with pytest.raises(RuntimeError):
        with store.transaction():
            store.save_document(doc("http://x.gov.cn/a", b"a"))
            store.agency_id("大兴区卫生健康委")
            raise RuntimeError("killed")
    assert store.counts()["documents"] == 0 and store.counts()["blobs"] == 0 and store.counts()["agencies"] == 0


def test_readonly_and_bad_paths(tmp_path, store):
    store.save_document(doc("http://x.gov.cn/a", b"a"))
    ro = Store(store.path, readonly=True)
    assert ro.fetch_cache("http://x.gov.cn/a")["sha256"]
    with pytest.raises(sqlite3.OperationalError):
        ro.save_document(doc("http://x.gov.cn/b", b"b"))
    ro.close()
    with pytest.raises(StoreError, match="does not exist"):
        Store(tmp_path / "none.db", readonly=True)
    (tmp_path / "file").write_text("x")
    with pytest.raises(StoreError, match="file"):
        Store(tmp_path / "file" / "db.sqlite")


def test_parse_status_kept_for_unparseable_documents(store):
    v = store.save_document(doc("http://x.gov.cn/scan.pdf", b"%PDF-scan"))
    store.set_parse_status(v.version_id, ParseStatus.NEEDS_OCR, error="no text layer", format="pdf")
    row = store.document_versions("http://x.gov.cn/scan.pdf")[0]
    assert (row["parse_status"], row["parse_error"], row["format"]) == ("needs_ocr", "no text layer", "pdf")


def test_a_cell_key_twice_is_one_row(store):
    report = report_from_expected(expected("002"))
    dup = report.cell("table3", "new", "total")
    report.cells.append(Cell(dup.table, dup.row, dup.column, 7, raw="7", kind=CellKind.NUMERIC))
    v = store.save_document(doc("http://x.gov.cn/002.html", b"002"))
    rid = store.save_report(report, version_id=v.version_id, report_url="http://x.gov.cn/002.html")
    row = store.reports()[0]
    n = store.conn.execute("SELECT COUNT(*) FROM cells WHERE report_id = ?", (rid,)).fetchone()[0]
    assert row["cells_count"] == n == 200 and store.load_report(rid).value("table3", "new", "total") == 7


def test_threads_sharing_a_store_do_not_interleave(store):
    import threading

    errors = []

    def work(k):
        try:
            for i in range(30):
                with store.transaction():
                    store.save_document(doc(f"http://x.gov.cn/{k}/{i}", f"{k}-{i}".encode()))
                    store.agency_id(f"第{k}区卫生健康局")
        except Exception as e:  # noqa: BLE001
            errors.append(e)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and store.counts()["documents"] == 120 and store.integrity_check() == "ok"
