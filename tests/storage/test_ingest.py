"""The seeds through the three stages (store, parse pool, checks); rows, views, full-text search, idempotence."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest

from crawler.ingest import ingest_document, ingest_paths
from storage.db import Store
from storage.models import ParseStatus

from storage_helpers import SEEDS, doc, expected, seed_path, stage

NIANBAO = [os.path.join(os.path.dirname(sys.executable), "nianbao")]


@pytest.fixture
def seeded(store):
    results, _ = stage(store, [SEEDS])
    return store, {url.rsplit("/", 1)[1][:3]: r for url, r in results.items()}


def test_seed_rows(seeded):
    store, by_seed = seeded
    assert store.counts()["reports"] == 5 and store.counts()["documents"] == 5
    for seed, result in by_seed.items():
        exp = expected(seed)
        assert result.status == ParseStatus.PARSED.value
        report = store.load_report(result.report_id)
        assert (report.agency, report.year, report.template) == (exp["agency"], exp["year"], exp["template"])
        assert report.table3 == exp["table3"], seed
        assert report.table4 == exp["table4"], seed
        assert report.table2 == exp["table2"], seed
        n = store.conn.execute("SELECT COUNT(*) FROM cells WHERE report_id = ?", (result.report_id,)).fetchone()[0]
        assert n == store.reports()[result.report_id - 1]["cells_count"] == 25 * 7 + 10 + 15


def test_seed_001_findings_stored(seeded):
    store, by_seed = seeded
    rid = by_seed["001"].report_id
    rules = {f.rule for f in store.findings(report_id=rid)}
    assert {"row_total", "results_total"} <= rules
    row = next(r for r in store.finding_rows(report_id=rid) if r["rule"] == "row_total")
    assert row["agency"] == "市中区卫生健康局" and row["year"] == 2024 and row["agency_id"] is not None
    assert any("unavailable_not_held" in c for c in row["cells"])
    # the other seeds balance
    for seed in ("000", "002", "003", "004"):
        assert not {"row_total", "results_total", "balance"} & {f.rule for f in store.findings(
            report_id=by_seed[seed].report_id)}


def test_wide_views(seeded):
    store, by_seed = seeded
    exp = expected("001")
    rid = by_seed["001"].report_id
    rows = store.conn.execute("SELECT * FROM table3_wide WHERE report_id = ?", (rid,)).fetchall()
    assert len(rows) == 25
    for r in rows:
        assert [r[c] for c in ("natural_person", "commercial_enterprise", "research_institution",
                               "social_welfare_org", "legal_service_org", "other_org", "total")] == exp["table3"][r["row"]]
    t2 = store.conn.execute("SELECT * FROM table2_wide WHERE report_id = ?", (rid,)).fetchone()
    assert t2["punishment"] == exp["table2"]["punishment"] == 45
    assert t2["regulations_in_force"] == exp["table2"]["regulations"]["in_force"]
    t4 = {r["group"]: dict(r) for r in store.conn.execute("SELECT * FROM table4_wide WHERE report_id = ?", (rid,))}
    assert {g: {c: t4[g][c] for c in exp["table4"][g]} for g in t4} == exp["table4"]
    labels = store.conn.execute("SELECT row_label FROM labels WHERE template = '2021' AND table_name = 'table3' "
                                "AND row = 'granted' AND \"column\" = 'total'").fetchone()
    assert "予以公开" in labels[0]


def test_full_text_search(seeded):
    store, by_seed = seeded
    everyone = {r.report_id for r in by_seed.values()}
    # two characters: below the trigram size, answered by the LIKE fallback; every report says 公开
    two = store.search("公开")
    assert {r["report_id"] for r in two} == everyone and all("[公开]" in r["snippet"] for r in two)
    # four characters through FTS5 trigram; a phrase found in one seed only
    four = store.search("信息公开")
    assert {r["report_id"] for r in four} == everyone
    one = store.search("市中云报")
    assert [r["report_id"] for r in one] == [by_seed["001"].report_id]
    assert store.search("报告") and store.search("不存在的词语啊") == []
    # FTS really answers (not a scan): the index alone knows the phrase
    n = store.conn.execute("SELECT COUNT(*) FROM report_text_fts WHERE report_text_fts MATCH '\"市中云报\"'").fetchone()[0]
    assert n == 1


def test_ingest_twice_changes_nothing(seeded, tmp_path):
    store, _ = seeded
    before, counts = store.content_hash(), store.counts()
    results, summary = stage(store, [SEEDS])
    assert all(r.skipped for r in results.values()) and summary.jobs == 0  # nothing parsed again
    assert store.content_hash() == before and store.counts() == counts
    # re-parsing every document with the same parser writes the same content too (no event, no finding)
    from crawler.parse_stage import ParseSettings, reparse
    from monitor.checks.runner import check_reports
    again = reparse(store, ParseSettings(workers=1), everything=True)
    assert again.written == 5 and again.changed_reports == []
    assert check_reports(store).new == []  # the check stage reads them again: nothing new
    assert store.content_hash() == before and store.counts() == counts


def test_hash_sees_a_change(seeded, tmp_path):
    store, _ = seeded
    before = store.content_hash()
    copy = tmp_path / "copy"
    copy.mkdir()
    shutil.copy(seed_path("002"), copy / "changed.txt")
    stage(store, [copy])
    assert store.content_hash() != before


def test_unparseable_document_is_stored_and_marked(store):
    noise = doc("http://x.gov.cn/noise.bin", os.urandom(2048) + b"\x00" * 64)
    news = doc("http://x.gov.cn/news.html", "<html><body><p>新闻：今天天气很好。</p></body></html>".encode("utf-8"),
               content_type="text/html")
    stored = ingest_document(store, noise)
    assert store.document_versions(noise.url)[0]["parse_status"] == "pending" and stored.is_new
    out, _ = stage(store, [noise, news])
    r = out[noise.url]
    assert r.status in ("unsupported", "failed") and r.report_id is None
    row = store.document_versions("http://x.gov.cn/noise.bin")[0]
    assert row["parse_status"] == r.status and store.blob(row["sha256"])
    assert out[news.url].status == "not_a_report" and store.counts()["reports"] == 0


def test_page_and_attachment_are_one_report(store):
    text = seed_path("003").read_bytes()
    out, _ = stage(store, [
        doc("http://x.gov.cn/art/r.html", "<html><body><h1>互助县卫生健康局2024年政府信息公开"
            "工作年度报告</h1><p>详见附件。</p></body></html>".encode(), content_type="text/html"),
        doc("http://x.gov.cn/art/r.txt", text, content_type="text/plain", report_url="http://x.gov.cn/art/r.html")])
    page, att = out["http://x.gov.cn/art/r.html"], out["http://x.gov.cn/art/r.txt"]
    assert att.report_id is not None and store.reports()[0]["source_url"] == "http://x.gov.cn/art/r.txt"
    assert page.report_id in (None, att.report_id)
    assert store.counts()["reports"] == 1 and store.counts()["documents"] == 2
    assert store.load_report(att.report_id).table3 == expected("003")["table3"]
    assert store.reports()[0]["report_url"] == "http://x.gov.cn/art/r.html"


def test_cli_ingest_and_exit_codes(tmp_path):
    db = tmp_path / "cli.db"
    ok = subprocess.run([*NIANBAO, "ingest", "--db", str(db), str(SEEDS)], capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr
    assert "5 files stored" in ok.stdout and "5 reports" in ok.stdout
    missing = subprocess.run([*NIANBAO, "ingest", "--db", str(db), str(tmp_path / "nope")], capture_output=True,
                             text=True)
    assert missing.returncode == 1 and "nope: no such file" in missing.stderr
    (tmp_path / "afile").write_text("x")
    bad = subprocess.run([*NIANBAO, "ingest", "--db", str(tmp_path / "afile" / "x.db"), str(SEEDS)],
                         capture_output=True, text=True)
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "afile" in bad.stderr
    with Store(db) as s:
        runs = s.last_runs(kind="ingest")
        assert runs[-1]["status"] == "ok" and runs[-1]["stats"]["reports"] == 5


def test_cli_serve_without_database_is_one_line_exit_2(tmp_path):
    r = subprocess.run([*NIANBAO, "serve", "--db", str(tmp_path / "none.db"), "--no-open", "--port", "0"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "none.db" in r.stderr


def test_cli_ingest_under_a_configured_site(tmp_path):
    cfg = tmp_path / "config.yaml"
    cfg.write_text("database: my.db\nsites:\n  - name: daxing\n    region: 北京市大兴区\n"
                   "    start_url: http://www.bjdx.gov.cn/\n", encoding="utf-8")
    r = subprocess.run([*NIANBAO, "--config", str(cfg), "ingest", "--site", "daxing", str(seed_path("004"))],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    with Store(tmp_path / "my.db") as s:  # the default path comes from the config
        (row,) = s.reports(site="daxing")
        assert row["region"] == "北京市大兴区" and row["agency"] == "北京市大兴区卫生健康委员会"
        assert s.agencies(site="daxing")[0]["region"] == "大兴区"


def test_same_bytes_seen_again_are_not_parsed_again(store):
    d = doc("http://x.gov.cn/r.txt", seed_path("002").read_bytes(), content_type="text/plain")
    first, s1 = stage(store, [d])
    assert s1.written == 1 and first[d.url].status == "parsed"
    again, s2 = stage(store, [d])
    assert again[d.url].skipped and s2.jobs == 0 and again[d.url].report_id == first[d.url].report_id
    assert store.load_report(first[d.url].report_id).table3 == expected("002")["table3"]
