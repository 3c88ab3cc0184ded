"""Alerts through a real SMTP server (aiosmtpd on loopback) and a real Store outbox."""
from __future__ import annotations

import copy
from datetime import date, datetime, timedelta, timezone

import pytest

from crawler.config import ConfigError, config_from_dict
from crawler.run import check_alert_config, mailer_from_config, run_alerts_for, run_checks_for
from monitor.alerts import AlertSettings, Digest, backoff, compose
from storage.db import Store
from storage.models import Finding
from mon_helpers import balanced, expected, previous_year_of, report_from, store_report
from smtp_server import free_port, smtp_server

JUNE = date(2025, 6, 1)


def _config(tmp_path, port, **alerts):
    raw = {"database": str(tmp_path / "nianbao.db"),
           "sites": [{"name": "demo", "start_url": "http://127.0.0.1:9/", "recipients": ["demo@example.org"]},
                     {"name": "other", "start_url": "http://127.0.0.1:9/o"}],
           "alerts": {"recipients": ["office@example.org"], "datasette_url": "http://127.0.0.1:8001",
                      "smtp": {"host": "127.0.0.1", "port": port, "from": "nianbao@example.org", "timeout": 5},
                      **alerts}}
    return config_from_dict(raw, base_dir=tmp_path)


def _findings_in(store, config):
    """A broken carry-over (error), a missing agency (error) and a swing (info) on site demo,
    and a missing agency on site other."""
    data = expected("004")
    prev = previous_year_of(data)
    prev["table3"]["carried_forward"][0] += 2
    prev["table3"]["carried_forward"][6] += 2
    prev["table2"]["punishment"] = 20
    store_report(store, report_from(balanced(prev)), seen=datetime(2024, 1, 20))
    store_report(store, report_from(data), seen=datetime(2025, 1, 20))
    store_report(store, report_from(previous_year_of(expected("002"))), seen=datetime(2024, 1, 20))
    store_report(store, report_from(previous_year_of(expected("003"))), site="other", seen=datetime(2024, 1, 20))
    return run_checks_for(config, store, today=JUNE)


def test_digest_per_recipient_list_multipart_chinese(tmp_path):
    port = free_port()
    config = _config(tmp_path, port)
    with Store(config.database_path()) as store, smtp_server(port) as (rec, _):
        summary = _findings_in(store, config)
        assert sorted(f.rule for f in summary.new) == ["carry_continuity", "missing", "missing", "swing"]
        outcome = run_alerts_for(config, store)
        assert outcome.ok and len(outcome.delivery.sent) == 2
        assert sorted(to for _, to in rec.envelopes) == [["demo@example.org"], ["office@example.org"]]
        by_to = {m["To"]: m for m in rec.messages}
        demo = by_to["demo@example.org"]
        assert demo.get_content_type() == "multipart/alternative"
        assert [p.get_content_type() for p in demo.iter_parts()] == ["text/plain", "text/html"]
        assert demo["Subject"] == "年报监测：发现3项新问题（最高级别：错误）"
        text = demo.get_body(("plain",)).get_content()
        html = demo.get_body(("html",)).get_content()
        for part in (text, html):
            assert "北京市大兴区卫生健康委员会" in part and "伊美区卫生健康局" in part
            assert "上年结转与上年报告结转下年度不一致" in part and "未公布年度报告" in part
            assert "数据较上年大幅波动" in part
        # errors before the info line; links to the Datasette report page and to the source
        assert text.index("-- 错误") < text.index("-- 提示")
        rid = store.reports(site="demo", year=2024)[0]["id"]
        assert f"http://127.0.0.1:8001/-/nianbao/report/{rid}" in text
        assert "http://127.0.0.1/demo/北京市大兴区卫生健康委员会/2024.html" in text
        assert 'href="http://127.0.0.1:8001/-/nianbao/report/' in html
        assert "http://127.0.0.1:8001/nianbao/findings?fingerprint=" in text  # missing: no report page
        other = by_to["office@example.org"]
        assert other["Subject"] == "年报监测：发现1项新问题（最高级别：错误）"
        assert "互助县卫生健康局" in other.get_body(("plain",)).get_content()

        # nothing new: nothing sent, and the same findings are never alerted twice
        again = run_alerts_for(config, store)
        assert again.digests == [] and again.delivery.sent == [] and len(rec.messages) == 2
        run_checks_for(config, store, today=JUNE)
        assert run_alerts_for(config, store).digests == []
        assert [a["status"] for a in store.alerts()] == ["sent", "sent"]


def test_smtp_down_keeps_the_alert_and_retries_with_backoff(tmp_path):
    port = free_port()
    config = _config(tmp_path, port)
    with Store(config.database_path()) as store:
        _findings_in(store, config)
        now = datetime.now(timezone.utc)
        down = run_alerts_for(config, store, now=now)  # nobody listens on the port
        assert not down.ok and down.delivery.queued == 2 and len(down.delivery.failed) == 2
        assert "127.0.0.1" in down.delivery.failed[0][1]
        queued = store.alerts()
        assert [a["status"] for a in queued] == ["failed", "failed"] and all(a["attempts"] == 1 for a in queued)
        with smtp_server(port) as (rec, _):
            # the next run within the backoff waits; the one after it delivers
            assert run_alerts_for(config, store, now=now + timedelta(minutes=1)).delivery.sent == []
            later = run_alerts_for(config, store, now=now + backoff(1) + timedelta(seconds=1))
            assert later.ok and len(later.delivery.sent) == 2 and later.digests == []
            assert len(rec.messages) == 2
            assert run_alerts_for(config, store, now=now + timedelta(days=2)).delivery.sent == []
        assert [a["status"] for a in store.alerts()] == ["sent", "sent"]


def test_immediate_severity_has_its_own_email_first(tmp_path):
    port = free_port()
    config = _config(tmp_path, port, immediate_severities=["error"])
    with Store(config.database_path()) as store, smtp_server(port) as (rec, _):
        _findings_in(store, config)
        run_alerts_for(config, store)
        subjects = [m["Subject"] for m in rec.messages]
        assert subjects[0].startswith("【立即】") and subjects[1].startswith("【立即】")
        assert sorted(subjects[2:]) == ["年报监测：发现1项新问题（最高级别：提示）"]


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
def test_smtp_login_with_password_from_env(tmp_path, monkeypatch):
    port = free_port()
    config = _config(tmp_path, port)
    config.alerts.smtp.user = "robot"
    config.alerts.smtp.password_env = "NIANBAO_TEST_SMTP_PASSWORD"
    config.alerts.smtp.allow_plaintext_auth = True  # a server on this machine, without TLS
    monkeypatch.delenv("NIANBAO_TEST_SMTP_PASSWORD", raising=False)
    with pytest.raises(ConfigError) as e:
        mailer_from_config(config)
    assert e.value.key == "alerts.smtp.password_env"
    monkeypatch.setenv("NIANBAO_TEST_SMTP_PASSWORD", "s3cret")
    assert "s3cret" not in repr(mailer_from_config(config).settings)
    with Store(config.database_path()) as store, smtp_server(port, user="robot", password="s3cret") as (rec, _):
        _findings_in(store, config)
        assert run_alerts_for(config, store).ok and len(rec.messages) == 2
    monkeypatch.setenv("NIANBAO_TEST_SMTP_PASSWORD", "wrong")
    config.alerts.smtp.timeout = 1
    with Store(tmp_path / "second.db") as store, smtp_server(port, user="robot", password="s3cret") as (rec, _):
        _findings_in(store, config)
        outcome = run_alerts_for(config, store)
        # refused (aiosmtpd stalls after a failed AUTH, so the client may see a timeout instead)
        assert not outcome.ok and len(outcome.delivery.failed) == 2 and rec.messages == []
        assert {a["status"] for a in store.alerts()} == {"failed"}


def test_config_errors_name_the_key(tmp_path):
    config = _config(tmp_path, 25)
    config.alerts.recipients = []
    config.sites[0].recipients = []
    with pytest.raises(ConfigError) as e:
        check_alert_config(config)
    assert e.value.key == "alerts.recipients"
    config.alerts.smtp.user = "robot"
    config.alerts.smtp.security = "starttls"
    config.alerts.recipients = ["x@example.org"]
    with pytest.raises(ConfigError) as e:
        check_alert_config(config)
    assert e.value.key == "alerts.smtp.password_env"


def test_digest_key_is_stable_and_html_escaped():
    f = Finding(rule="placeholder", severity="warning", message="仍有“<script>”", agency="某局", year=2024,
                site="s", report_id=1)
    settings = AlertSettings(recipients=["a@example.org"])
    (d,) = compose([f], settings)
    (d2,) = compose([copy.deepcopy(f)], settings)
    assert isinstance(d, Digest) and d.key == d2.key
    assert "<script>" not in d.html and "&lt;script&gt;" in d.html and "<script>" in d.text
    (d3,) = compose([f], AlertSettings(recipients=["b@example.org"]))
    assert d3.key != d.key
    assert backoff(1) < backoff(2) < backoff(3) and backoff(30) == timedelta(days=1)


def test_long_email_digest_words_the_worst_first_and_counts_the_rest_per_site():
    """A national first night finds thousands of problems at once: the email words EMAIL_MAX_FINDINGS of them,
    every error first, and counts the rest per site with a link to that site's findings."""
    from monitor.alerts import EMAIL_MAX_FINDINGS

    errors = [Finding(rule="row_total", severity="error", message=f"合计不符{i}", agency=f"甲局{i}", year=2024,
                      site="z-site", report_id=i + 1) for i in range(30)]
    warnings = [Finding(rule="missing", severity="warning", message=f"未公布年度报告{i}", agency=f"乙局{i}", year=2024,
                        site=("东城 区" if i % 2 else "a-site")) for i in range(EMAIL_MAX_FINDINGS + 170)]
    (d,) = compose(errors + warnings, AlertSettings(recipients=["a@example.org"]))
    assert len(d.fingerprints) == len(errors) + len(warnings)  # all are alerted: worded or counted
    assert d.html.count('class="finding"') == EMAIL_MAX_FINDINGS
    assert all(f"甲局{i}<" in d.html and f"甲局{i} " in d.text for i in range(30))  # the errors, though "z-site" sorts last
    unlisted = len(errors) + len(warnings) - EMAIL_MAX_FINDINGS
    assert f"另有 {unlisted} 项未逐条列出" in d.text and f"另有 {unlisted} 项未逐条列出" in d.html
    listed = {s: sum(1 for f in warnings if f.site == s and f"{f.agency} " in d.text) for s in ("a-site", "东城 区")}
    counts = {s: sum(1 for f in warnings if f.site == s) - listed[s] for s in listed}
    assert sum(counts.values()) == unlisted
    assert listed == {"a-site": 235, "东城 区": 235}  # the sites take turns, whatever their names' order
    for site, n in counts.items():
        assert f"* {site}：警告 {n} 项，见 http://127.0.0.1:8001/nianbao/findings?site=" in d.text
    # the site name quoted in its link, to the site's open findings, newest first
    assert "findings?site=%E4%B8%9C%E5%9F%8E%20%E5%8C%BA&resolved_at__isnull=1&_sort_desc=first_seen" in d.text
    assert "findings?site=%E4%B8%9C%E5%9F%8E%20%E5%8C%BA&amp;resolved_at__isnull=1" in d.html
    assert "警告（列出 235 项）" in d.text
    assert d.sites == ["a-site", "z-site", "东城 区"]


def test_short_email_digest_lists_everything():
    fs = [Finding(rule="missing", severity="warning", message=f"未公布年度报告{i}", agency=f"乙局{i}", year=2024,
                  site="s") for i in range(40)]
    (d,) = compose(fs, AlertSettings(recipients=["a@example.org"]))
    assert d.html.count('class="finding"') == 40 and "未逐条列出" not in d.text + d.html


def test_long_digest_counts_findings_without_a_site_or_a_known_severity(monkeypatch):
    import monitor.alerts as alerts

    monkeypatch.setattr(alerts, "EMAIL_MAX_FINDINGS", 1)
    fs = [Finding(rule="row_total", severity="error", message="合计不符", agency="甲局", year=2024, site="s1"),
          Finding(rule="missing", severity="warning", message="未公布1", agency="乙局", year=2024, site=None),
          Finding(rule="missing", severity="warning", message="未公布2", agency="丙局", year=2024, site=None),
          Finding(rule="new_rule", severity="notice", message="新规则", agency="丁局", year=2024, site=None)]
    (d,) = compose(fs, AlertSettings(recipients=["a@example.org"]))
    assert d.html.count('class="finding"') == 1 and "甲局" in d.text
    assert ("* （未指定站点）：警告 2 项，notice 1 项，见 "
            "http://127.0.0.1:8001/nianbao/findings?site__isnull=1&resolved_at__isnull=1&_sort_desc=first_seen") in d.text
    assert "另有 3 项未逐条列出" in d.text
