"""The parse stage killed with SIGKILL midway leaves a consistent database: every document stored,
each either parsed (with its whole report) or still pending; the rerun parses exactly the rest and
ends with exactly the content of an uninterrupted ingest (no duplicate report, no lost document)."""
from __future__ import annotations

import os
import re
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


def _count(path, sql: str) -> int:
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
        try:
            return conn.execute(sql).fetchone()[0]
        finally:
            conn.close()
    except sqlite3.Error:
        return 0  # not created or not migrated yet


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False


@pytest.mark.slow
def test_sigkill_of_the_parse_stage_then_rerun(tmp_path):
    corpus = make_corpus(tmp_path / "corpus", FILES)
    killed_db = tmp_path / "killed.db"
    # the first stage stores every file, then the parse pool (2 workers) starts writing reports
    proc = subprocess.Popen([NIANBAO, "ingest", "--workers", "2", "--db", str(killed_db), str(tmp_path / "corpus")],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 180
    while _count(killed_db, "SELECT COUNT(*) FROM reports") < FILES // 5:
        assert proc.poll() is None, "ingest finished before it could be killed"
        assert time.monotonic() < deadline, "ingest made no progress"
        time.sleep(0.02)
    children = [int(p) for p in subprocess.run(["pgrep", "-P", str(proc.pid)], capture_output=True,
                                                 text=True).stdout.split()]
    assert children, "no parse workers running"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL
    # the workers die with their parent (PR_SET_PDEATHSIG), none is left parsing on its own
    deadline = time.monotonic() + 10
    while any(_alive(c) for c in children):
        assert time.monotonic() < deadline, "parse workers outlived the killed stage"
        time.sleep(0.1)

    with Store(killed_db) as s:
        assert s.integrity_check() == "ok"
        assert s.conn.execute("PRAGMA foreign_key_check").fetchall() == []
        assert s.counts()["documents"] == FILES  # the crawl/ingest stage stored everything first
        n = s.counts()["reports"]
        assert FILES // 5 <= n < FILES, n
        # nothing half-written: each report has all its cells and its text; each parsed version its report
        bad = s.conn.execute(
            "SELECT r.id FROM reports r WHERE r.cells_count != (SELECT COUNT(*) FROM cells c WHERE c.report_id = r.id) "
            "OR NOT EXISTS (SELECT 1 FROM report_text t WHERE t.report_id = r.id)").fetchall()
        assert bad == []
        statuses = s.parse_status_counts()
        assert statuses.get("parsed", 0) + statuses.get("partial", 0) == n
        assert statuses["pending"] == FILES - n
        assert s.last_runs(kind="ingest")[0]["status"] == "running"  # the killed run says so

    rerun = subprocess.run([NIANBAO, "ingest", "--db", str(killed_db), str(tmp_path / "corpus")],
                           capture_output=True, text=True)
    assert rerun.returncode == 0, rerun.stderr
    assert f"({FILES} unchanged), {FILES - n} parsed" in rerun.stdout, rerun.stdout

    clean_db = tmp_path / "clean.db"
    clean = subprocess.run([NIANBAO, "ingest", "--db", str(clean_db), str(tmp_path / "corpus")],
                           capture_output=True, text=True)
    assert clean.returncode == 0, clean.stderr
    with Store(killed_db) as a, Store(clean_db) as b:
        assert a.counts()["reports"] == b.counts()["reports"] == len(corpus)
        assert a.conn.execute("SELECT COUNT(DISTINCT report_url) FROM reports").fetchone()[0] == len(corpus)
        assert a.parse_status_counts() == b.parse_status_counts()
        assert a.content_hash() == b.content_hash()
