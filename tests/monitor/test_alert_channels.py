"""Apprise channels: the digest as markdown to a webhook on loopback (apprise's json://), through the
same outbox and retry rules as email; the secret in its URL read from the environment."""
from __future__ import annotations

import json
import threading
from contextlib import contextmanager
from datetime import date, datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from crawler.config import ConfigError, config_from_dict
from crawler.run import check_alert_config, run_alerts_for, run_checks_for, run_once
from monitor.alerts import backoff
from storage.db import Store
from mon_helpers import alert_settings, seed_alerting_reports
from smtp_server import free_port, smtp_server

JUNE = date(2025, 6, 1)
TOKEN_ENV = "NIANBAO_TEST_HOOK_TOKEN"


class Hook:
    """What the webhook received; ``statuses`` are answered in turn (then 200)."""

    def __init__(self) -> None:
        self.requests: list[dict] = []
        self.statuses: list[int] = []


@contextmanager
def webhook():
    hook = Hook()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 - http.server's name
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            hook.requests.append({"path": self.path, "headers": dict(self.headers), "body": body})
            status = hook.statuses.pop(0) if hook.statuses else 200
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield hook, server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


def _config(tmp_path, hook_port, smtp_port=None, **alerts):
    raw = alert_settings(tmp_path, smtp_port or 9, email=smtp_port is not None,
                         apprise=[f"json://127.0.0.1:{hook_port}/hook?+X-Token={{env:{TOKEN_ENV}}}"], **alerts)
    return config_from_dict(raw, base_dir=tmp_path)


_seed = seed_alerting_reports


def test_webhook_gets_the_markdown_digest_with_its_secret_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv(TOKEN_ENV, "tok-8f3a91")
    with webhook() as (hook, port):
        config = _config(tmp_path, port)
        check_alert_config(config)
        with Store(config.database_path()) as store:
            _seed(store)
            run_checks_for(config, store, today=JUNE)
            out = run_alerts_for(config, store)
            assert out.ok and len(out.delivery.sent) == 1, out.delivery
            (req,) = hook.requests
            assert req["path"] == "/hook" and req["headers"]["X-Token"] == "tok-8f3a91"
            payload = json.loads(req["body"])
            assert payload["title"] == "年报监测：发现2项新问题（最高级别：错误）"
            message = payload["message"]
            assert "北京市大兴区卫生健康委员会" in message and "伊美区卫生健康局" in message
            assert "上年结转与上年报告结转下年度不一致" in message and "建议：" in message
            assert "[查看报告](http://127.0.0.1:8001/-/nianbao/report/" in message
            assert "table3." not in message  # cells by their labels, not keys
            (row,) = store.alerts()
            # the outbox keeps the URL as written: the placeholder, never the secret
            assert row["channel"] == config.alerts.apprise[0] and row["status"] == "sent"
            assert "{env:" in row["channel"]
            assert {r["alerted"] for r in store.finding_rows()} == {1}
        raw = (tmp_path / "nianbao.db").read_bytes() + (tmp_path / "nianbao.db-wal").read_bytes() \
            if (tmp_path / "nianbao.db-wal").exists() else (tmp_path / "nianbao.db").read_bytes()
        assert b"tok-8f3a91" not in raw


def test_webhook_failure_is_retried_like_email_and_delivered_once(tmp_path, monkeypatch):
    monkeypatch.setenv(TOKEN_ENV, "tok-8f3a91")
    now = datetime.now(timezone.utc)
    with webhook() as (hook, port):
        hook.statuses = [500, 503]
        config = _config(tmp_path, port)
        with Store(config.database_path()) as store:
            _seed(store)
            first = run_once(config, store=store, crawl=False, today=JUNE, now=now)
            assert first.exit_code == 1 and len(first.alerts.delivery.failed) == 1
            error = first.alerts.delivery.failed[0][1]
            assert "json://127.0.0.1" in error and "tok-8f3a91" not in error
            assert {r["alerted"] for r in store.finding_rows()} == {0}
            second = run_once(config, store=store, crawl=False, today=JUNE, now=now + backoff(1) + timedelta(seconds=1))
            assert second.exit_code == 1 and store.alerts()[0]["attempts"] == 2
            third = run_once(config, store=store, crawl=False, today=JUNE, now=now + timedelta(days=1))
            assert third.exit_code == 0, third.problems
            assert len(hook.requests) == 3 and store.alerts()[0]["status"] == "sent"
            assert run_once(config, store=store, crawl=False, today=JUNE, now=now + timedelta(days=3)).exit_code == 0
            assert len(hook.requests) == 3


def test_email_and_webhook_are_separate_outbox_rows(tmp_path, monkeypatch):
    """One channel down does not hold back the other, nor make it send twice."""
    monkeypatch.setenv(TOKEN_ENV, "t")
    smtp_port = free_port()
    now = datetime.now(timezone.utc)
    with webhook() as (hook, port):
        config = _config(tmp_path, port, smtp_port)
        with Store(config.database_path()) as store:
            _seed(store)
            run_checks_for(config, store, today=JUNE)
            out = run_alerts_for(config, store, now=now)  # SMTP down, webhook up
            assert len(out.delivery.sent) == 1 and len(out.delivery.failed) == 1
            assert sorted((a["channel"] == "email", a["status"]) for a in store.alerts()) == [
                (False, "sent"), (True, "failed")]
            assert {r["alerted"] for r in store.finding_rows()} == {0}  # email has not got through yet
            with smtp_server(smtp_port) as (rec, _):
                later = run_alerts_for(config, store, now=now + backoff(1) + timedelta(seconds=1))
            assert later.ok and len(rec.messages) == 1 and len(hook.requests) == 1
            assert {r["alerted"] for r in store.finding_rows()} == {1}


def test_missing_secret_and_unknown_service_name_the_key(tmp_path, monkeypatch):
    monkeypatch.delenv(TOKEN_ENV, raising=False)
    config = _config(tmp_path, 9)
    with pytest.raises(ConfigError) as e:
        check_alert_config(config)
    assert e.value.key == "alerts.apprise[0]" and TOKEN_ENV in str(e.value)
    config.alerts.apprise = ["nosuchservice://x/y"]
    with pytest.raises(ConfigError) as e:
        check_alert_config(config)
    assert e.value.key == "alerts.apprise[0]" and "apprise" in str(e.value)
    config.alerts.apprise, config.alerts.email = [], False
    with pytest.raises(ConfigError) as e:
        check_alert_config(config)
    assert e.value.key == "alerts.email"


def test_the_secret_stays_out_of_the_logs(tmp_path, monkeypatch, caplog):
    import logging

    monkeypatch.setenv(TOKEN_ENV, "tok-8f3a91")
    caplog.set_level(logging.DEBUG)
    with webhook() as (hook, port):
        hook.statuses = [500]
        config = _config(tmp_path, port)
        with Store(config.database_path()) as store:
            _seed(store)
            run_checks_for(config, store, today=JUNE)
            out = run_alerts_for(config, store)
    assert not out.ok and hook.requests[0]["headers"]["X-Token"] == "tok-8f3a91"
    assert any("apprise" in r.name for r in caplog.records)  # apprise did log, at debug level
    assert "tok-8f3a91" not in caplog.text


def test_an_alert_for_a_channel_taken_out_of_config_is_not_forgotten(tmp_path, monkeypatch):
    monkeypatch.setenv(TOKEN_ENV, "t")
    now = datetime.now(timezone.utc)
    with webhook() as (hook, port):
        hook.statuses = [500]
        config = _config(tmp_path, port)
        with Store(config.database_path()) as store:
            _seed(store)
            assert run_once(config, store=store, crawl=False, today=JUNE, now=now).exit_code == 1
            (row,) = store.alerts()
            smtp_port = free_port()
            moved = _config(tmp_path, port, smtp_port)
            moved.alerts.apprise = []  # the webhook is removed; email is on
            with smtp_server(smtp_port) as (rec, _):
                later = run_once(moved, store=store, crawl=False, today=JUNE, now=now + timedelta(days=1))
            assert later.exit_code == 1 and rec.messages == []  # its findings wait in the webhook's alert
            assert any(f"alerts {row['id']} wait for a channel no longer configured" in p for p in later.problems)
            store.drop_alert(row["id"])
            with smtp_server(smtp_port) as (rec, _):
                assert run_once(moved, store=store, crawl=False, today=JUNE,
                                now=now + timedelta(days=2)).exit_code == 0
