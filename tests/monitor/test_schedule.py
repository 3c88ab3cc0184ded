"""`nianbao schedule`: the real pipeline on a trigger seconds apart, never two runs at once;
a clean stop on SIGTERM; the APScheduler settings that matter."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import yaml

from crawler.config import config_from_dict
from monitor.schedule import JOB_ID, ScheduleSettings, build, needs_catch_up
from storage.db import Store
from smtp_server import smtp_server

NIANBAO = str(Path(sys.executable).with_name("nianbao"))


def _write_config(portal, tmp_path: Path, smtp_port: int) -> Path:
    p, base = portal
    raw = {"database": str(tmp_path / "nianbao.db"), "sites": p.site_configs(base),
           "crawl": {"download_delay": 0, "obey_robots": False, "autothrottle": False, "retries": 0},
           "alerts": {"recipients": ["gongkaiban@example.org"],
                      "smtp": {"host": "127.0.0.1", "port": smtp_port, "timeout": 5}}}
    config_from_dict(raw, base_dir=tmp_path)  # valid before a process is started on it
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    return path


def _runs(db: Path) -> list[dict]:
    with Store(db) as store:
        return sorted(store.last_runs(limit=50, kind="run"), key=lambda r: r["id"])


@pytest.mark.slow
def test_trigger_seconds_apart_runs_twice_never_overlapping(portal, tmp_path):
    with smtp_server() as (rec, port):
        cfg = _write_config(portal, tmp_path, port)
        proc = subprocess.run([NIANBAO, "--config", str(cfg), "schedule", "--interval-seconds", "1",
                               "--max-runs", "2"], capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, proc.stderr[-3000:]
        runs = _runs(tmp_path / "nianbao.db")
        assert len(runs) == 2, runs
        assert [r["status"] for r in runs] == ["ok", "ok"]
        first_end = datetime.fromisoformat(runs[0]["finished"])
        second_start = datetime.fromisoformat(runs[1]["started"])
        assert second_start >= first_end  # the 1-second trigger fired during the first run: skipped
        assert runs[0]["stats"]["crawl"]["pages"] > 0 and runs[1]["stats"]["crawl"]["pages"] > 0
        assert len(rec.messages) == 1  # the digest went out once, the second run had nothing new
        assert "catching up now" in proc.stderr


@pytest.mark.slow
def test_sigterm_finishes_or_aborts_the_run_and_records_it(portal, tmp_path):
    with smtp_server() as (_, port):
        cfg = _write_config(portal, tmp_path, port)
        proc = subprocess.Popen([NIANBAO, "--config", str(cfg), "schedule", "--interval-seconds", "3600"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        db = tmp_path / "nianbao.db"
        deadline = time.monotonic() + 120
        while not (db.exists() and _runs(db)):  # the catch-up run has started
            assert proc.poll() is None, proc.stderr.read()
            assert time.monotonic() < deadline
            time.sleep(0.2)
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err[-3000:]
        (run,) = _runs(db)
        assert run["status"] in ("ok", "aborted") and run["finished"], run
        if run["status"] == "aborted":
            assert "stopped by a signal" in " ".join(run["stats"]["problems"])


def test_job_defaults_that_matter():
    calls = []
    settings = ScheduleSettings(cron="30 2 * * *", timezone="Asia/Shanghai", misfire_grace_hours=6)
    state = build(lambda stop: calls.append(stop) or 0, settings, catch_up=False)
    job = state.scheduler.get_job(JOB_ID)
    assert (job.coalesce, job.max_instances, job.misfire_grace_time) == (True, 1, 6 * 3600)
    assert str(job.trigger.timezone) == "Asia/Shanghai"
    # 02:30 in Shanghai is 18:30 UTC the day before
    nxt = job.trigger.get_next_fire_time(None, datetime(2025, 1, 1, 12, 0, tzinfo=timezone.utc))
    assert nxt.astimezone(timezone.utc) == datetime(2025, 1, 1, 18, 30, tzinfo=timezone.utc)
    caught = build(lambda stop: 0, settings, catch_up=True).scheduler.get_job(JOB_ID)
    assert caught.next_run_time - datetime.now(timezone.utc) < timedelta(seconds=5)


def test_needs_catch_up():
    now = datetime(2025, 6, 1, 12, tzinfo=timezone.utc)
    ran = lambda status, hours: {"status": status, "started": (now - timedelta(hours=hours + 1)).isoformat(),  # noqa: E731
                                 "finished": (now - timedelta(hours=hours)).isoformat()}
    assert needs_catch_up([], interval_hours=24, now=now)
    assert not needs_catch_up([ran("ok", 3)], interval_hours=24, now=now)
    assert not needs_catch_up([ran("partial", 23)], interval_hours=24, now=now)
    assert needs_catch_up([ran("ok", 30)], interval_hours=24, now=now)
    # an aborted or failed run does not count as done
    assert needs_catch_up([ran("aborted", 1), ran("failed", 2), ran("ok", 40)], interval_hours=24, now=now)
