"""Triage in storage and from the CLI: history, what the alerts pick, reopening on a change;
`nianbao export` read back; parse warnings said once per kind."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

from storage.db import Store
from storage.models import Finding

from storage_helpers import expected, seed_path

NIANBAO = os.path.join(os.path.dirname(sys.executable), "nianbao")


@pytest.fixture
def store(tmp_path):
    s = Store(tmp_path / "t.db")
    yield s
    s.close()


def _finding(cells, value_note=""):
    return Finding(rule="row_total", severity="error", message="合计不等于分项之和" + value_note, cells=cells,
                   agency="甲局", year=2024, site="s1", subject="row")


def _set_cell(store, rid, ref, raw, value):
    t, r, c = ref.split(".")
    with store.transaction():
        store.conn.execute('UPDATE cells SET raw = ?, value = ? WHERE report_id = ? AND table_name = ? AND row = ? '
                           'AND "column" = ?', (raw, value, rid, t, r, c))


@pytest.fixture
def with_report(store):
    from crawler.ingest import ingest_paths
    from crawler.parse_stage import ParseSettings, parse_pending
    results, errors = ingest_paths(store, [seed_path("001")], site="s1")
    assert not errors
    (report_id,) = parse_pending(store, ParseSettings(workers=1)).report_ids  # the parse stage; no checks
    return store, report_id


def test_dismissal_holds_while_the_cells_are_unchanged_and_reopens_when_they_change(with_report):
    store, rid = with_report
    ref = "table3.unavailable_not_held.total"
    f = _finding([ref])
    f.report_id = rid
    store.sync_findings([f], rules=["row_total"], site="s1", report_id=rid)
    row = store.finding_rows(report_id=rid)[0]
    assert row["fingerprint"] in {x.fingerprint for x in store.findings_to_alert()}

    with pytest.raises(KeyError):
        store.triage("nope-no-such", "dismissed", actor="officer", note="x")
    store.triage(row["id"], "confirmed", actor="officer", note=None)
    store.triage(row["fingerprint"][:10], "dismissed", actor="chief", note="跨年度申请，非错误")
    got = store.finding_row(row["id"])
    assert got["triage_state"] == "dismissed"
    assert [(t["state"], t["actor"]) for t in got["triage"]] == [("confirmed", "officer"), ("dismissed", "chief")]
    assert got["triage"][-1]["at"] and got["triage"][-1]["note"] == "跨年度申请，非错误"
    assert not store.findings_to_alert()  # not picked for alerting

    # found again by the next check, same cells: still dismissed
    store.sync_findings([f], rules=["row_total"], site="s1", report_id=rid)
    assert store.finding_row(row["id"])["triage_state"] == "dismissed"
    assert not store.findings_to_alert()

    # a cell it does not name changes: still dismissed
    _set_cell(store, rid, "table3.new.natural_person", "9", 9)
    store.sync_findings([f], rules=["row_total"], site="s1", report_id=rid)
    assert store.finding_row(row["id"])["triage_state"] == "dismissed"

    # the named cell changes: reopened by nianbao, alerted again
    store.mark_findings_alerted([row["fingerprint"]])
    _set_cell(store, rid, ref, "3", 3)
    store.sync_findings([f], rules=["row_total"], site="s1", report_id=rid)
    got = store.finding_row(row["id"])
    assert got["triage_state"] == "open" and got["triage"][-1]["state"] == "reopened"
    assert got["triage"][-1]["actor"] == "nianbao"
    assert [x.message for x in store.findings_to_alert()] == [f.message]


def test_fixed_is_closed_too_and_reopen_by_hand(with_report):
    store, rid = with_report
    f = _finding(["table3.new.total"])
    f.report_id = rid
    store.sync_findings([f], rules=["row_total"], site="s1", report_id=rid)
    fid = store.finding_rows(report_id=rid)[0]["id"]
    store.triage(fid, "fixed", actor="officer", note="已书面更正")
    assert not store.findings_to_alert()
    store.mark_findings_alerted([store.finding_rows(report_id=rid)[0]["fingerprint"]])
    store.triage(fid, "reopened", actor="officer", note="更正未发布")
    assert store.finding_row(fid)["triage_state"] == "open"
    assert len(store.findings_to_alert()) == 1  # reopened by hand: alerted again


def test_cli_triage_and_its_errors(with_report, tmp_path):
    store, rid = with_report
    f = _finding(["table3.new.total"])
    f.report_id = rid
    store.sync_findings([f], rules=["row_total"], site="s1", report_id=rid)
    fid = store.finding_rows(report_id=rid)[0]["id"]
    db = str(store.path)
    store.close()

    def run(*args):
        return subprocess.run([NIANBAO, "triage", *args, "--db", db], capture_output=True, text=True, timeout=60)

    out = run(str(fid), "--dismiss")
    assert out.returncode == 2 and "needs a note" in out.stderr
    out = run("999999", "--confirm")
    assert out.returncode == 1 and "no finding" in out.stderr
    out = run(str(fid))
    assert out.returncode == 2 and "--confirm" in out.stderr
    out = run(str(fid), "--dismiss", "--note", "经核实无误", "--by", "王科长")
    assert out.returncode == 0, out.stderr
    assert "误报" in out.stdout and "王科长" in out.stdout and "经核实无误" in out.stdout
    out = run(str(fid), "--show")
    assert out.returncode == 0 and "误报" in out.stdout
    with Store(db, readonly=True) as s:
        assert s.finding_row(fid)["triage_state"] == "dismissed"


def test_cli_export_reads_back(with_report, tmp_path):
    import docx
    import openpyxl
    store, rid = with_report
    db = str(store.path)
    store.close()
    cfg = tmp_path / "c.yaml"
    cfg.write_text("alerts:\n  datasette_url: http://desk.example:8001\n", encoding="utf-8")
    for fmt in ("xlsx", "docx", "csv"):
        out = tmp_path / f"n.{fmt}"
        r = subprocess.run([NIANBAO, "--config", str(cfg), "export", "--db", db, "--year", "2024", "--format", fmt,
                            "--out", str(out), "--today", "2025-06-01"], capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, r.stderr
        assert "1 expected, 1 published" in r.stdout
    wb = openpyxl.load_workbook(tmp_path / "n.xlsx")
    rows = list(wb["各单位情况"].iter_rows(min_row=2, values_only=True))
    assert len(rows) == 1 and rows[0][1] == expected("001")["agency"]
    assert rows[0][13] == f"http://desk.example:8001/-/nianbao/report/{rid}"
    assert "通报" in docx.Document(str(tmp_path / "n.docx")).paragraphs[0].text
    r = subprocess.run([NIANBAO, "--config", str(cfg), "export", "--db", db, "--format", "pdf"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and "pdf" in r.stderr
    r = subprocess.run([NIANBAO, "--config", str(cfg), "export", "--db", db, "--format", "csv", "--site", "nowhere",
                        "--out", str(tmp_path / "x.csv")], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and "no agency of site 'nowhere'" in r.stderr


def test_parse_warnings_grouped_in_chinese():
    from crawler.serve.datasette_plugin import group_warnings
    # the shapes the parser writes (crawler/parsing/mapping.py), for a 2019 report with a blank 总计 column
    warnings = [{"code": "blank_cell", "cell": f"table3.{row}.{col}",
                 "message": f"table3.{row}.{col} (x / y) is blank"}
                for row in ("new", "granted", "withheld_state_secret") for col in ("total", "other_org")]
    warnings += [{"code": "row_not_found", "cell": None, "message": "table2.licensing (行政许可) not found"},
                 {"code": "na_cell", "cell": "table4.review.total", "message": "table4.review.total (x) reads '/'"}]
    labels = {("table2", "licensing", "value"): ("行政许可", "本年处理决定数量")}
    groups = {g["text"] for g in group_warnings(warnings, labels)}
    assert "表三有 6 个空白单元格，见表中斜线格（空白不当作0，涉及的关系不予核验）" in groups
    assert "表二有 1 行没有找到：行政许可" in groups
    assert any(t.startswith("表四有 1 个单元格填写") for t in groups)
    assert len(groups) == 3
