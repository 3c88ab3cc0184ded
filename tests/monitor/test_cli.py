"""The monitor's commands as a user (or cron) runs them: output and exit codes."""
from __future__ import annotations

import os
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import yaml

from storage.db import Store
from mon_helpers import balanced, expected, previous_year_of, report_from, store_report
from smtp_server import free_port, smtp_server

NIANBAO = str(Path(sys.executable).with_name("nianbao"))


def _setup(tmp_path: Path, smtp_port: int, **smtp) -> Path:
    raw = {"database": str(tmp_path / "nianbao.db"),
           "sites": [{"name": "demo", "start_url": "http://127.0.0.1:9/"}],
           "alerts": {"recipients": ["gongkaiban@example.org"],
                      "smtp": {"host": "127.0.0.1", "port": smtp_port, "timeout": 5, **smtp}}}
    cfg = tmp_path / "config.yaml"
    cfg.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    data = expected("004")
    prev = previous_year_of(data)
    prev["table3"]["carried_forward"][0] += 1
    prev["table3"]["carried_forward"][6] += 1
    with Store(tmp_path / "nianbao.db") as store:
        store_report(store, report_from(balanced(prev)), seen=datetime(2024, 1, 20))
        store_report(store, report_from(data), seen=datetime(2025, 1, 20))
        store_report(store, report_from(previous_year_of(expected("000"))), seen=datetime(2024, 1, 20))
    return cfg


def _nianbao(cfg: Path, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([NIANBAO, "--config", str(cfg), *args], capture_output=True, text=True, timeout=120,
                          env={**os.environ, **(env or {})})


def test_check_prints_a_summary_and_records_the_run(tmp_path):
    cfg = _setup(tmp_path, 25)
    out = _nianbao(cfg, "check", "--today", "2025-06-01")
    assert out.returncode == 0, out.stderr
    assert "checked 3 reports of 1 sites: 2 findings, 2 new, 0 resolved" in out.stdout
    assert "错误 carry_continuity (上年结转与上年报告结转下年度不一致): 1 open" in out.stdout
    assert "错误 missing (未公布年度报告): 1 open" in out.stdout
    assert "new: [error] missing demo 东风区卫生健康局 2024" in out.stdout
    again = _nianbao(cfg, "check", "--today", "2025-06-01")
    assert "2 findings, 0 new, 0 resolved" in again.stdout
    early = _nianbao(cfg, "check", "--today", "2025-02-01")  # before the deadline: nothing is missing
    assert "1 findings, 0 new, 1 resolved" in early.stdout
    with Store(tmp_path / "nianbao.db") as store:
        assert [r["status"] for r in store.last_runs(kind="check")] == ["ok", "ok", "ok"]
    bad = _nianbao(cfg, "check", "--today", "June")
    assert bad.returncode == 2 and "--today" in bad.stderr


def test_alert_dry_run_prints_and_sends_nothing(tmp_path):
    cfg = _setup(tmp_path, 25)
    assert _nianbao(cfg, "check", "--today", "2025-06-01").returncode == 0
    out = _nianbao(cfg, "alert", "--dry-run")
    assert out.returncode == 0, out.stderr
    assert "To: gongkaiban@example.org" in out.stdout
    assert "Subject: 年报监测：发现2项新问题（最高级别：错误）" in out.stdout
    assert "上年结转与上年报告结转下年度不一致" in out.stdout
    with Store(tmp_path / "nianbao.db") as store:
        assert store.alerts() == [] and len(store.findings(not_alerted=True)) == 2


def test_run_exit_codes(tmp_path):
    port = free_port()
    cfg = _setup(tmp_path, port)
    down = _nianbao(cfg, "run", "--no-crawl", "--today", "2025-06-01")  # no SMTP server yet
    assert down.returncode == 1, down.stdout + down.stderr
    assert "failed (kept in the outbox)" in down.stdout and "not sent" in down.stdout
    with smtp_server(port) as (rec, _):
        # still within the backoff: the alert waits, and the run says so (exit 1)
        waiting = _nianbao(cfg, "run", "--no-crawl", "--today", "2025-06-01")
        assert waiting.returncode == 1 and "wait in the outbox for a retry" in waiting.stdout
        assert rec.messages == []
    with Store(tmp_path / "nianbao.db") as store:
        (alert,) = store.alerts()
        assert alert["status"] == "failed" and alert["next_attempt_at"]
        assert [r["status"] for r in store.last_runs(kind="run")] == ["partial", "partial"]


def test_config_error_is_exit_2_and_names_the_key(tmp_path):
    cfg = _setup(tmp_path, 25, security="starttls", user="robot", password_env="NIANBAO_TEST_NO_SUCH_VAR")
    env = {k: v for k, v in os.environ.items() if k != "NIANBAO_TEST_NO_SUCH_VAR"}
    out = subprocess.run([NIANBAO, "--config", str(cfg), "run", "--no-crawl"], capture_output=True, text=True,
                         timeout=120, env=env)
    assert out.returncode == 2
    assert "alerts.smtp.password_env" in out.stderr and "NIANBAO_TEST_NO_SUCH_VAR" in out.stderr
    with Store(tmp_path / "nianbao.db") as store:
        assert store.last_runs(kind="run") == []  # nothing ran
    assert _nianbao(cfg, "run", "--site", "nosuch").returncode == 2
