"""Alerts are never silently lost: a real SMTP server on loopback (aiosmtpd) that refuses recipients,
cuts the connection after DATA, or is down for several runs; a real Store; real runs and commands."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest
import yaml

from crawler.config import config_from_dict
from crawler.run import run_alerts_for, run_checks_for, run_once
from monitor.alerts import backoff
from monitor.mailer import Mailer, SmtpSettings, build_message
from storage import schema
from storage.db import Store
from mon_helpers import alert_settings, expected, previous_year_of, report_from, seed_alerting_reports, store_report
from smtp_server import Recorder, free_port, smtp_server

JUNE = date(2025, 6, 1)
NIANBAO = str(Path(sys.executable).with_name("nianbao"))


def _raw(tmp_path, port, **kw):
    return alert_settings(tmp_path, port, datasette_url="http://127.0.0.1:8001", **kw)


def _config(tmp_path, port, **kw):
    return config_from_dict(_raw(tmp_path, port, **kw), base_dir=tmp_path)


_seed = seed_alerting_reports


def _alerted(store) -> dict[str, int]:
    return {r["rule"]: r["alerted"] for r in store.finding_rows()}


def test_refused_recipient_fails_for_that_recipient_alone(tmp_path):
    port = free_port()
    config = _config(tmp_path, port, recipients=["office@example.org", "gone@example.org"])
    rec = Recorder()
    rec.refuse = {"gone@example.org"}
    now = datetime.now(timezone.utc)
    with Store(config.database_path()) as store, smtp_server(port, recorder=rec):
        _seed(store)
        run_checks_for(config, store, today=JUNE)
        first = run_alerts_for(config, store, now=now)
        # not a success: the alert stays queued for the refused recipient, whose refusal is named
        assert not first.ok and first.delivery.sent == [] and len(first.delivery.failed) == 1
        assert "gone@example.org" in first.delivery.failed[0][1] and "550" in first.delivery.failed[0][1]
        (row,) = store.alerts()
        assert row["status"] == "failed" and row["delivered"] == ["office@example.org"]
        assert set(_alerted(store).values()) == {0}  # not alerted while someone has not got it
        assert rec.envelopes == [("nianbao@example.org", ["office@example.org"])]

        rec.refuse = set()  # the mailbox is back
        later = run_alerts_for(config, store, now=now + backoff(1) + timedelta(seconds=1))
        assert later.ok and later.delivery.sent == [row["id"]] and later.digests == []
        # the retry went to the refused recipient only, as the same message
        assert rec.envelopes[1] == ("nianbao@example.org", ["gone@example.org"])
        assert rec.messages[0]["Message-ID"] == rec.messages[1]["Message-ID"] == row["message_id"]
        assert rec.messages[1]["To"] == "gone@example.org, office@example.org"  # the same message: both named
        assert store.alerts()[0]["status"] == "sent" and set(_alerted(store).values()) == {1}


def test_every_recipient_refused_is_a_failure(tmp_path):
    port = free_port()
    config = _config(tmp_path, port)
    rec = Recorder()
    rec.refuse = {"office@example.org"}
    with Store(config.database_path()) as store, smtp_server(port, recorder=rec):
        _seed(store)
        run_checks_for(config, store, today=JUNE)
        out = run_alerts_for(config, store)
        assert not out.ok and "recipients refused: office@example.org (550" in out.delivery.failed[0][1]
        assert rec.messages == [] and store.alerts()[0]["status"] == "failed"


def test_connection_dropped_after_data_is_retried_with_the_same_message_id(tmp_path):
    port = free_port()
    config = _config(tmp_path, port)
    rec = Recorder()
    rec.drop_after_data = 1
    now = datetime.now(timezone.utc)
    with Store(config.database_path()) as store, smtp_server(port, recorder=rec):
        _seed(store)
        run_checks_for(config, store, today=JUNE)
        first = run_alerts_for(config, store, now=now)
        # the server had the message but never said so: the client cannot count it as sent
        assert not first.ok and len(first.delivery.failed) == 1 and len(rec.messages) == 1
        assert store.alerts()[0]["status"] == "failed"
        second = run_alerts_for(config, store, now=now + backoff(1) + timedelta(seconds=1))
        assert second.ok and len(rec.messages) == 2
        # the duplicate carries the same Message-ID, so a mail client can recognise it
        assert rec.messages[0]["Message-ID"] == rec.messages[1]["Message-ID"] == store.alerts()[0]["message_id"]


def test_server_down_three_runs_then_up_delivers_once(tmp_path):
    port = free_port()
    config = _config(tmp_path, port)
    t0 = datetime.now(timezone.utc)
    with Store(config.database_path()) as store:
        _seed(store)
        when = t0
        for attempt in (1, 2, 3):  # nobody listens on the port
            result = run_once(config, store=store, crawl=False, today=JUNE, now=when)
            assert result.exit_code == 1 and result.status == "partial"
            assert any("not sent" in p and "127.0.0.1" in p for p in result.problems)
            (row,) = store.alerts()
            assert row["status"] == "failed" and row["attempts"] == attempt
            when += backoff(attempt) + timedelta(seconds=1)
        message_id = row["message_id"]
        assert message_id and set(_alerted(store).values()) == {0}
        with smtp_server(port) as (rec, _):
            up = run_once(config, store=store, crawl=False, today=JUNE, now=when)
            assert up.exit_code == 0, up.problems
            again = run_once(config, store=store, crawl=False, today=JUNE, now=when + timedelta(days=2))
            assert again.exit_code == 0
        assert len(rec.messages) == 1 and rec.messages[0]["Message-ID"] == message_id
        assert [a["status"] for a in store.alerts()] == ["sent"] and set(_alerted(store).values()) == {1}


def test_new_findings_while_an_alert_waits_go_in_their_own_alert(tmp_path):
    port = free_port()
    config = _config(tmp_path, port)
    now = datetime.now(timezone.utc)
    with Store(config.database_path()) as store:
        _seed(store)
        run_checks_for(config, store, today=JUNE)
        down = run_alerts_for(config, store, now=now)
        (waiting,) = store.alerts()
        assert down.delivery.queued == 1 and len(waiting["fingerprints"]) == 2
        # a new problem appears: composed alone, the waiting findings are not composed again
        store_report(store, report_from(previous_year_of(expected("003"))), seen=datetime(2024, 1, 20))
        run_checks_for(config, store, today=JUNE)
        with smtp_server(port) as (rec, _):
            out = run_alerts_for(config, store, now=now + backoff(1) + timedelta(seconds=1))
        assert out.ok and [len(d.fingerprints) for d in out.digests] == [1]
        assert len(rec.messages) == 2
        fps = [fp for a in store.alerts() for fp in a["fingerprints"]]
        assert len(fps) == len(set(fps)) == 3  # every finding in exactly one alert


def _yaml(tmp_path, raw) -> Path:
    p = tmp_path / "config.yaml"
    p.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    return p


def _nianbao(cfg: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([NIANBAO, "--config", str(cfg), *args], capture_output=True, text=True, timeout=120,
                          env=os.environ.copy())


def test_dead_alert_fails_every_run_until_an_operator_retries_or_drops_it(tmp_path):
    port = free_port()
    raw = _raw(tmp_path, port, max_attempts=2)
    config = config_from_dict(raw, base_dir=tmp_path)
    cfg = _yaml(tmp_path, raw)
    t0 = datetime.now(timezone.utc)
    with Store(config.database_path()) as store:
        _seed(store)
        run_once(config, store=store, crawl=False, today=JUNE, now=t0)
        second = run_once(config, store=store, crawl=False, today=JUNE, now=t0 + timedelta(hours=1))
        (row,) = store.alerts()
        assert row["status"] == "dead" and second.exit_code == 1
        assert second.alerts.delivery.dead and any("dead" in p for p in second.problems)
    with smtp_server(port) as (rec, _):
        # the server is back, but a dead alert is not retried by itself: every run still says so
        with Store(config.database_path()) as store:
            later = run_once(config, store=store, crawl=False, today=JUNE, now=t0 + timedelta(days=3))
        assert later.exit_code == 1 and any(f"ids {row['id']}" in p for p in later.problems) and rec.messages == []
        status = _nianbao(cfg, "status")
        assert status.returncode == 0 and "dead alerts" in status.stdout and "--retry-dead" in status.stdout
        listed = json.loads(_nianbao(cfg, "status", "--json").stdout)["dead_alerts"]
        assert [a["id"] for a in listed] == [row["id"]] and listed[0]["last_error"]
        assert _nianbao(cfg, "alert").returncode == 1  # `nianbao alert` alone does not revive it

        retried = _nianbao(cfg, "alert", "--retry-dead")
        assert retried.returncode == 0, retried.stderr
        assert "1 dead alerts queued again" in retried.stdout
        assert len(rec.messages) == 1 and rec.messages[0]["Message-ID"] == row["message_id"]
    assert "dead alerts" not in _nianbao(cfg, "status").stdout
    with Store(config.database_path()) as store:
        assert [a["status"] for a in store.alerts()] == ["sent"] and set(_alerted(store).values()) == {1}


def test_dropping_a_dead_alert_clears_it_and_keeps_its_record(tmp_path):
    port = free_port()
    raw = _raw(tmp_path, port, max_attempts=1)
    config = config_from_dict(raw, base_dir=tmp_path)
    cfg = _yaml(tmp_path, raw)
    with Store(config.database_path()) as store:
        _seed(store)
        assert run_once(config, store=store, crawl=False, today=JUNE).exit_code == 1
        (row,) = store.alerts()
        assert row["status"] == "dead"
    bad = _nianbao(cfg, "alert", "--drop", "999")
    assert bad.returncode == 2 and "no alert 999" in bad.stderr
    dropped = _nianbao(cfg, "alert", "--drop", str(row["id"]))
    assert dropped.returncode == 0, dropped.stderr
    assert f"dropped alert {row['id']}" in dropped.stdout
    assert _nianbao(cfg, "alert", "--drop", str(row["id"])).returncode == 2  # only an unsent alert can be dropped
    with Store(config.database_path()) as store:
        (kept,) = store.alerts()
        assert kept["status"] == "dropped" and kept["dropped_at"] and kept["text"]
        # its findings are not alerted (nobody got them) and not composed again
        assert set(_alerted(store).values()) == {0} and store.findings_to_alert() == []
        assert run_once(config, store=store, crawl=False, today=JUNE).exit_code == 0


def test_a_reopened_finding_is_alerted_again(tmp_path):
    port = free_port()
    config = _config(tmp_path, port)
    with Store(config.database_path()) as store, smtp_server(port) as (rec, _):
        _seed(store)
        run_checks_for(config, store, today=JUNE)
        assert run_alerts_for(config, store).ok and len(rec.messages) == 1
        run_checks_for(config, store, today=date(2025, 2, 1))  # before the deadline: missing resolves
        run_checks_for(config, store, today=JUNE)  # and reopens
        out = run_alerts_for(config, store)
        assert out.ok and len(rec.messages) == 2 and [len(d.fingerprints) for d in out.digests] == [1]


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
def test_no_password_over_a_connection_without_tls(tmp_path):
    port = free_port()
    settings = SmtpSettings(host="127.0.0.1", port=port, security="none", user="robot", password="s3cret",
                            sender="n@example.org", timeout=5)
    msg = build_message(sender="n@example.org", recipients=["a@example.org"], subject="s", text="t", html="<p>t</p>")
    with smtp_server(port, user="robot", password="s3cret") as (rec, _):
        with pytest.raises(Exception) as e:
            Mailer(settings).send(msg)
        assert "without TLS" in str(e.value) and "allow_plaintext_auth" in str(e.value)
        assert rec.auth_attempts == 0 and rec.messages == []
        settings.allow_plaintext_auth = True  # an operator's explicit choice, e.g. a relay on this machine
        result = Mailer(settings).send(msg)
        assert rec.auth_attempts == 1 and len(rec.messages) == 1 and result.accepted == ["a@example.org"]


def test_alerts_queued_before_the_upgrade_are_not_lost(tmp_path):
    """A version-7 database marked findings alerted when their alert was queued: after the migration
    the findings of an unsent alert count as waiting, not alerted, and the alert is sent once."""
    port = free_port()
    config = _config(tmp_path, port)
    with Store(config.database_path(), migrate_to=7) as old:
        _seed(old)
        run_checks_for(config, old, today=JUNE)
        fps = [r["fingerprint"] for r in old.finding_rows()]
        old.conn.execute("INSERT INTO outbox(key, recipients, subject, text, html, fingerprints, status, attempts, "
                         "created_at, last_error) VALUES ('k1', '[\"office@example.org\"]', '旧提醒', '正文', '<p>正文</p>', "
                         f"'{json.dumps(fps)}', 'failed', 2, '2025-06-01T00:00:00+00:00', 'SMTP down')")
        old.conn.execute("UPDATE findings SET alerted = 1")
    with Store(config.database_path()) as store:
        assert store.schema_version >= 8  # later migrations may follow
        (row,) = store.alerts()
        assert row["channel"] == "email" and row["message_id"] is None and row["delivered"] == []
        assert set(_alerted(store).values()) == {0} and store.findings_to_alert() == []
        with smtp_server(port) as (rec, _):
            out = run_alerts_for(config, store, now=datetime.now(timezone.utc))
        assert out.ok and out.digests == [] and len(rec.messages) == 1
        # a Message-ID was given at its first send after the upgrade, and kept
        assert rec.messages[0]["Message-ID"] == store.alerts()[0]["message_id"]
        assert set(_alerted(store).values()) == {1}
