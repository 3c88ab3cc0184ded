"""An ingest killed with SIGKILL midway leaves a consistent database; the rerun completes it to
exactly the content of an uninterrupted ingest."""
from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time

import pytest

from storage.db import Store

from storage_helpers import make_corpus

NIANBAO = os.path.join(os.path.dirname(sys.executable), "nianbao")
FILES = 200


def _reports(path) -> int:
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
        try:
            return conn.execute("SELECT COUNT(*) FROM reports").fetchone()[0]
        finally:
            conn.close()
    except sqlite3.Error:
        return 0  # not created or not migrated yet


@pytest.mark.slow
def test_sigkill_midway_then_rerun(tmp_path):
    corpus = make_corpus(tmp_path / "corpus", FILES)
    killed_db = tmp_path / "killed.db"
    proc = subprocess.Popen([NIANBAO, "ingest", "--db", str(killed_db), str(tmp_path / "corpus")],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while _reports(killed_db) < FILES // 5:
        assert proc.poll() is None, "ingest finished before it could be killed"
        assert time.monotonic() < deadline, "ingest made no progress"
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL

    with Store(killed_db) as s:
        assert s.integrity_check() == "ok"
        assert s.conn.execute("PRAGMA foreign_key_check").fetchall() == []
        n = s.counts()["reports"]
        assert FILES // 5 <= n < FILES, n
        # nothing half-written: each report has all its cells, its text and its document's parse status
        bad = s.conn.execute(
            "SELECT r.id FROM reports r WHERE r.cells_count != (SELECT COUNT(*) FROM cells c WHERE c.report_id = r.id) "
            "OR NOT EXISTS (SELECT 1 FROM report_text t WHERE t.report_id = r.id)").fetchall()
        assert bad == []
        assert s.conn.execute("SELECT COUNT(*) FROM document_versions WHERE parse_status IS NULL").fetchone()[0] == 0
        assert s.counts()["documents"] == n  # a document is stored with its report, or not at all
        assert s.last_runs(kind="ingest")[0]["status"] == "running"  # the killed run says so

    rerun = subprocess.run([NIANBAO, "ingest", "--db", str(killed_db), str(tmp_path / "corpus")],
                           capture_output=True, text=True)
    assert rerun.returncode == 0, rerun.stderr
    assert f"({n} unchanged)" in rerun.stdout

    clean_db = tmp_path / "clean.db"
    clean = subprocess.run([NIANBAO, "ingest", "--db", str(clean_db), str(tmp_path / "corpus")],
                           capture_output=True, text=True)
    assert clean.returncode == 0, clean.stderr
    with Store(killed_db) as a, Store(clean_db) as b:
        assert a.counts()["reports"] == b.counts()["reports"] == len(corpus)
        assert a.content_hash() == b.content_hash()
