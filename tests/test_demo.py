"""`make demo` and `nianbao demo`: the whole mission on the bundled portal, as a newcomer runs it."""
from __future__ import annotations

import email
import email.policy
import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from crawler.demo.portal import DemoPortal

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[1]
NIANBAO = str(Path(sys.executable).with_name("nianbao"))


def _planted_after_the_demo():
    """What the portal plants by the end of the demo (it publishes one revision)."""
    portal = DemoPortal()
    portal.publish_revision()
    return portal.expected_findings()


def test_nianbao_demo_no_serve_in_a_temporary_directory(tmp_path):
    out = subprocess.run([NIANBAO, "demo", "--no-serve"], cwd=tmp_path, capture_output=True, text=True,
                         timeout=600)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    summary = json.loads((tmp_path / "data" / "demo" / "summary.json").read_text(encoding="utf-8"))
    planted = _planted_after_the_demo()

    # every published report found, nothing else stored as a report
    assert summary["reports_found"] == summary["reports_expected"] > 20
    assert set(summary["reports_by_format"]) >= {"html", "pdf", "docx", "doc"}
    # every planted anomaly found once, nothing unexpected
    assert summary["planted_missed"] == [] and summary["unexpected_findings"] == []
    assert len(summary["planted_found"]) == len({(f.rule, f.site, f.agency, f.year) for f in planted})
    rules = {f["rule"] for f in summary["findings"]}
    assert rules >= {"missing", "deadline", "carry_continuity", "row_total", "results_total",
                     "narrative_vs_table", "placeholder", "revised"}
    # the second crawl was incremental
    assert summary["second_crawl"]["conditional_requests"] > 0 and summary["second_crawl"]["documents_revised"] >= 1
    # the mailbox (a real SMTP server) received the digests, saved for a person to open
    assert len(summary["emails"]) >= 1
    first = summary["emails"][0]
    assert first["recipients"] == ["gongkaiban@example.org"]
    msg = email.message_from_bytes(Path(first["eml"]).read_bytes(), policy=email.policy.default)
    assert msg.is_multipart() and msg.get_body(("plain",)) is not None and msg.get_body(("html",)) is not None
    assert "市中区卫生健康局" in Path(first["html"]).read_text(encoding="utf-8")
    # the summary a person reads names the same figures
    assert f"reports found        {summary['reports_found']} of {summary['reports_expected']}" in out.stdout
    assert (tmp_path / "data" / "demo" / "nianbao.db").exists()
    # the 图片版 report (narrative as text, its three tables as pictures) is read by OCR: parsed, every
    # cell of its three tables, and the summary says so
    (picture,) = summary["picture_reports"]
    assert picture["status"] == "parsed" and picture["cells"] >= 200, picture
    assert "图片版 (OCR)" in out.stdout and ": parsed," in out.stdout


def test_make_demo_as_the_readme_says():
    """`make demo`, exactly: install (quick when done), pipeline, summary, then Datasette until Ctrl-C."""
    proc = subprocess.Popen(["make", "demo"], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, start_new_session=True)
    url, lines = None, []
    try:
        deadline = time.monotonic() + 900
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line)
            m = re.search(r"Datasette: (http://127\.0\.0\.1:\d+)/", line)
            if m:
                url = m.group(1)
                break
        assert url, "".join(lines[-60:])
        text = "".join(lines)
        assert "planted anomalies" in text and "0 missed" in text
        for _ in range(100):  # uvicorn starts right after the line is printed
            try:
                with urllib.request.urlopen(url + "/-/nianbao", timeout=10) as r:
                    assert r.status == 200
                    break
            except OSError:
                time.sleep(0.2)
        else:
            pytest.fail("Datasette did not answer")
        with urllib.request.urlopen(url + "/nianbao/reports.json?_shape=array&_size=max", timeout=10) as r:
            assert len(json.loads(r.read())) > 20
    finally:
        os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C, as a person stops it
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
