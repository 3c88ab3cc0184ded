"""End to end: the demo portal, a real SMTP server, `nianbao serve` (Datasette) for the links.

The demo portal plants its anomalies (crawler/demo/portal.py, ``expected_findings()``): the digest
must name every one of them and nothing else; the seeds 000, 002, 003, 004 and the clean variants
raise nothing.
"""
from __future__ import annotations

import json
import re
import subprocess
import sys
import time
import urllib.request
from datetime import date, datetime, timedelta, timezone
from html.parser import HTMLParser
from pathlib import Path

import pytest

from crawler.config import config_from_dict
from crawler.run import EXIT_OK, EXIT_PARTIAL, run_once
from monitor.checks.categories import category
from storage.db import Store
from smtp_server import free_port, smtp_server

pytestmark = pytest.mark.slow
TODAY = date(2025, 6, 1)  # every 2024 deadline and its grace have passed; 2025 reports are not due
NIANBAO = str(Path(sys.executable).with_name("nianbao"))


def _config(portal_and_url, tmp_path: Path, smtp_port: int, datasette_url: str = "http://127.0.0.1:8001"):
    p, base = portal_and_url
    return config_from_dict({
        "database": str(tmp_path / "nianbao.db"),
        "sites": p.site_configs(base),
        "crawl": {"download_delay": 0, "obey_robots": False, "autothrottle": False, "retries": 0},
        "alerts": {"recipients": ["gongkaiban@example.org"], "datasette_url": datasette_url,
                   "smtp": {"host": "127.0.0.1", "port": smtp_port, "from": "nianbao@example.org", "timeout": 5}},
    }, base_dir=tmp_path)


def _keys(findings) -> set[tuple]:
    return {(f.rule, f.site, f.agency, f.year) for f in findings}


def _identities(store, keys) -> set[tuple]:
    """(rule, site, agency id, year): the agency as storage's identity says (威远镇 is 互助县威远镇)."""
    return {(rule, site, store.find_agency_id(agency, site=site) if agency else None, year)
            for rule, site, agency, year in keys}


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag == "a":
            self.hrefs += [v for k, v in attrs if k == "href" and v]


def _get(url: str) -> int:
    with urllib.request.urlopen(url, timeout=30) as r:
        r.read()
        return r.status


class _Datasette:
    """`nianbao serve` on a free port, as a user would start it."""

    def __init__(self, db: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc = subprocess.Popen([NIANBAO, "serve", "--db", str(db), "--host", "127.0.0.1",
                                      "--port", str(self.port), "--no-open"],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 60
        while True:
            try:
                _get(self.url + "/-/versions.json")
                return
            except OSError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"nianbao serve did not start: {self.proc.stderr.read().decode()}")
                time.sleep(0.3)

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=30)


def test_digest_names_every_planted_anomaly_and_links_resolve(portal, tmp_path):
    demo, base = portal
    with smtp_server() as (rec, smtp_port):
        ds_port = free_port()
        config = _config(portal, tmp_path, smtp_port, datasette_url=f"http://127.0.0.1:{ds_port}")
        result = run_once(config, today=TODAY)
        assert result.exit_code == EXIT_OK, result.render()
        expected = {(f.rule, f.site, f.agency, f.year) for f in demo.expected_findings()}
        with Store(config.database_path()) as store:
            got = store.findings(open_only=True)
            stored = {(r["rule"], r["site"], r["agency_id"], r["year"]) for r in store.finding_rows()}
            assert stored == _identities(store, expected)
            identities = _identities(store, expected)
            runs = store.last_runs(kind="run")
            assert runs[0]["status"] == "ok" and runs[0]["stats"]["alerts"]["sent"] == 1

        (msg,) = rec.messages
        assert msg.get_content_type() == "multipart/alternative"
        assert msg["Subject"] == f"年报监测：发现{len(expected)}项新问题（最高级别：错误）"
        text = msg.get_body(("plain",)).get_content()
        html = msg.get_body(("html",)).get_content()
        for rule, site, agency, year in expected:
            assert f"站点：{site}" in text
            # the officer's category names the problem (the rule id stays in the HTML's data-rule)
            assert re.search(rf"{agency} {year}年度 · {re.escape(category(rule))}\n", text), (rule, agency)
            assert f'data-rule="{rule}"' in html
        fingerprints = set(re.findall(r'data-fingerprint="([0-9a-f]+)"', html))
        assert fingerprints == {f.fingerprint for f in got}

        # every link of the email resolves: report pages and findings rows in Datasette, sources
        links = _Links()
        links.feed(html)
        ds_links = [h for h in links.hrefs if h.startswith(f"http://127.0.0.1:{ds_port}")]
        sources = [h for h in links.hrefs if h.startswith(base)]
        assert len(ds_links) >= len(expected) and len(sources) == len(expected) - 1  # missing has no source
        server = _Datasette(config.database_path())
        assert server.port != ds_port  # the configured URL is only text until a server listens there
        try:
            for href in ds_links:
                assert _get(href.replace(f":{ds_port}", f":{server.port}")) == 200, href
            # the findings are visible in Datasette (`nianbao run` then `nianbao serve`)
            with urllib.request.urlopen(f"{server.url}/nianbao/findings.json?_shape=array&_size=max") as r:
                rows = json.loads(r.read())
            assert {(r["rule"], r["site"], r["agency_id"], r["year"]) for r in rows} == identities
        finally:
            server.stop()
        for href in sources:
            assert _get(href) == 200, href

        # a second run: nothing new, nothing sent
        again = run_once(config, today=TODAY)
        assert again.exit_code == EXIT_OK and again.checks.new == [] and len(rec.messages) == 1

        # the portal changes a published report in place: one new finding, one new email
        demo.publish_revision()
        third = run_once(config, today=TODAY)
        assert third.exit_code == EXIT_OK, third.render()
        assert [(f.rule, f.agency) for f in third.checks.new] == [("revised", "伊美区应急管理局")]
        assert len(rec.messages) == 2
        assert "发布后内容被修改" in rec.messages[1].get_body(("plain",)).get_content()
        assert rec.messages[1]["Subject"] == "年报监测：发现1项新问题（最高级别：警告）"
        with Store(config.database_path()) as store:
            assert {(r["rule"], r["site"], r["agency_id"], r["year"]) for r in store.finding_rows()} == \
                _identities(store, _keys(demo.expected_findings()))


def test_smtp_down_the_alert_waits_and_goes_out_next_run(portal, tmp_path):
    demo, _ = portal
    port = free_port()  # nothing listens here yet
    config = _config(portal, tmp_path, port)
    first = run_once(config, today=TODAY)
    assert first.exit_code == EXIT_PARTIAL and first.status == "partial"
    assert any("not sent" in p for p in first.problems)
    with Store(config.database_path()) as store:
        (queued,) = store.alerts()
        assert queued["status"] == "failed" and queued["attempts"] == 1
    with smtp_server(port) as (rec, _):
        later = datetime.now(timezone.utc) + timedelta(hours=2)  # past the first backoff
        second = run_once(config, today=TODAY, now=later, crawl=False)
        assert second.exit_code == EXIT_OK, second.render()
        (msg,) = rec.messages
        assert msg["Subject"] == queued["subject"]
        with Store(config.database_path()) as store:
            assert [a["status"] for a in store.alerts()] == ["sent"]
