"""Every fault switch produces its response on its part of the site, and only there."""
from __future__ import annotations

import http.client
import re
import socket
import threading
import time
import urllib.error
import urllib.request
import urllib.robotparser
from urllib.parse import urlsplit

import pytest

from crawler.demo.portal import FAULTS


def unaffected(portal, base_url, name):
    """Report pages the fault must not touch (their whole fetch still answers 200)."""
    hit = {r.url for r in portal.fault_info(name, base_url).reports}
    return [r for r in portal.expected_reports(base_url) if r.url not in hit]


def assert_rest_served(portal, base_url, get, name, sample=6):
    rest = unaffected(portal, base_url, name)
    assert len(rest) >= len(portal.expected_reports()) - 8
    for r in rest[:: max(1, len(rest) // sample)]:
        assert get(r.url).status == 200, (name, r.url)


def test_every_fault_is_described_and_targets_reports(portal, base_url):
    for name in FAULTS:
        info = portal.fault_info(name, base_url)
        assert info.paths and info.status and info.description
        assert info.reports, f"{name} breaks at least one report"
        assert len(info.reports) < len(portal.expected_reports())


def test_http_500(portal, base_url, get):
    portal.set_fault("http_500", True)
    info = portal.fault_info("http_500", base_url)
    assert len(info.reports) == 2
    for r in info.reports:
        assert get(r.url).status == 500
    assert_rest_served(portal, base_url, get, "http_500")
    portal.set_fault("http_500", False)
    assert all(get(r.url).status == 200 for r in info.reports)


def test_slow_reply_beyond_the_timeout(portal, base_url, get):
    portal.set_fault("slow", True)
    (r,) = portal.fault_info("slow", base_url).reports
    with pytest.raises((socket.timeout, TimeoutError)):
        get(r.url, timeout=0.5)
    assert_rest_served(portal, base_url, get, "slow")


def test_truncated_body(portal, base_url, get):
    portal.set_fault("truncated", True)
    (r,) = portal.fault_info("truncated", base_url).reports
    u = urlsplit(r.attachments["pdf"])
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=5)
    conn.request("GET", u.path)
    resp = conn.getresponse()
    declared = int(resp.getheader("Content-Length"))
    with pytest.raises(http.client.IncompleteRead) as exc:
        resp.read()
    assert 0 < len(exc.value.partial) < declared
    conn.close()
    assert get(r.url).status == 200, "the report page itself is fine"


def test_redirect_loop(portal, base_url, get):
    portal.set_fault("redirect_loop", True)
    (r,) = portal.fault_info("redirect_loop", base_url).reports
    with pytest.raises(urllib.error.HTTPError) as exc:
        urllib.request.urlopen(r.url, timeout=5)
    assert exc.value.code == 302 and "loop" in str(exc.value.reason)
    assert_rest_served(portal, base_url, get, "redirect_loop")


def test_waf_412_ruishu_challenge(portal, base_url, get):
    portal.set_fault("waf_412", True)
    info = portal.fault_info("waf_412", base_url)
    assert {r.site for r in info.reports} == {"shizhong"}
    for r in info.reports:
        reply = get(r.url)
        assert reply.status == 412 and b"$_ts" in reply.body and len(reply.body) < 2000
    col = [s for s in portal.site_configs(base_url) if s["name"] == "shizhong"][0]["start_url"]
    assert get(col).status == 200, "the column page still lists the reports"
    assert_rest_served(portal, base_url, get, "waf_412")


def test_waf_521_jiasule_cookie_dance(portal, base_url, get):
    portal.set_fault("waf_521", True)
    info = portal.fault_info("waf_521", base_url)
    assert {r.site for r in info.reports} == {"yimei"}
    r = info.reports[0]
    first = get(r.url)
    assert first.status == 521 and b"__jsl_clearance" in first.body
    assert "__jsluid_h=" in first.headers["set-cookie"]
    clearance = re.search(rb"__jsl_clearance=([^;']+)", first.body).group(1).decode()
    assert get(r.url, headers={"Cookie": f"__jsluid_h=x; __jsl_clearance={clearance}"}).status == 200
    assert_rest_served(portal, base_url, get, "waf_521")


def test_oversized_file(portal, base_url, get):
    portal.oversize_bytes = 2 * 1024 * 1024
    portal.set_fault("oversized", True)
    (r,) = portal.fault_info("oversized", base_url).reports
    big = get(r.attachments["pdf"], timeout=20)
    assert big.status == 200 and int(big.headers["content-length"]) == len(big.body) == 2 * 1024 * 1024
    assert big.body.startswith(b"%PDF")
    head = get(r.attachments["pdf"], "HEAD")
    assert int(head.headers["content-length"]) == 2 * 1024 * 1024
    portal.set_fault("oversized", False)
    assert len(get(r.attachments["pdf"]).body) < 2 * 1024 * 1024


def test_soft_404(portal, base_url, get):
    portal.set_fault("soft_404", True)
    (r,) = portal.fault_info("soft_404", base_url).reports
    reply = get(r.url)
    assert reply.status == 200 and "页面不存在" in reply.text() and "总计" not in reply.text()
    assert_rest_served(portal, base_url, get, "soft_404")


def test_js_only_listing(portal, base_url, get):
    portal.set_fault("js_only", True)
    info = portal.fault_info("js_only", base_url)
    assert [(r.agency, r.year) for r in info.reports] == [("长安镇人民政府", 2024)]
    shell = get(base_url + info.paths[0] + "index.html")
    assert shell.status == 200 and "<script" in shell.text() and "/t2025" not in shell.text()
    assert get(info.reports[0].url).status == 200, "the article exists; only the listing hides it"


def test_login_redirect(portal, base_url, get):
    portal.set_fault("login_redirect", True)
    info = portal.fault_info("login_redirect", base_url)
    assert [(r.agency, r.year) for r in info.reports] == [("建设街道办事处", 2023)]
    hop = get(base_url + info.paths[0] + "index.html")
    assert hop.status == 302 and hop.headers["location"].startswith("/login.html")
    login = get(base_url + hop.headers["location"])
    assert login.status == 200 and 'type="password"' in login.text()


def test_robots_crawl_delay_and_disallow(portal, base_url, get):
    def parser():
        rp = urllib.robotparser.RobotFileParser()
        rp.parse(get(base_url + "/robots.txt").text().splitlines())
        return rp

    huzhu = [r for r in portal.expected_reports(base_url) if r.site == "huzhu"]
    rp = parser()
    assert rp.crawl_delay("*") is None and all(rp.can_fetch("nianbao", r.url) for r in huzhu)
    assert not rp.can_fetch("nianbao", base_url + "/__demo__/manifest.json")
    portal.set_fault("robots", True)
    rp = parser()
    assert rp.crawl_delay("nianbao") == 1
    assert {r.url for r in portal.fault_info("robots", base_url).reports} == {r.url for r in huzhu}
    assert not any(rp.can_fetch("nianbao", r.url) for r in huzhu)
    assert all(rp.can_fetch("nianbao", r.url) for r in unaffected(portal, base_url, "robots"))


def test_control_url_switches_faults(portal, base_url, get):
    (r,) = [x for x in portal.fault_info("soft_404", base_url).reports]
    assert get(base_url + "/__demo__/fault?name=soft_404&on=1").status == 200
    assert portal.faults["soft_404"] and "页面不存在" in get(r.url).text()
    assert get(base_url + "/__demo__/fault?name=soft_404&on=0").status == 200
    assert not portal.faults["soft_404"]
    assert get(base_url + "/__demo__/fault?name=nope").status == 400
    manifest = get(base_url + "/__demo__/manifest.json")
    assert manifest.status == 200 and b'"findings"' in manifest.body


def test_run_by_hand_with_a_fault(get):
    """`python -m crawler.demo.server --fault ...` serves the portal and prints its start URLs."""
    import subprocess
    import sys

    proc = subprocess.Popen([sys.executable, "-m", "crawler.demo.server", "--port", "0", "--fault", "soft_404"],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        line = proc.stdout.readline()
        base = re.search(r"http://127\.0\.0\.1:\d+", line).group(0)
        starts = [proc.stdout.readline().split()[1] for _ in range(4)]
        assert all(get(u.split("#")[0]).status == 200 for u in starts)
        manifest = get(base + "/__demo__/manifest.json")
        import json

        faults = json.loads(manifest.body)["faults"]
        assert faults["soft_404"]["on"] and not faults["http_500"]["on"]
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_a_reply_still_running_at_clear_log_is_not_logged_after_it(portal, base_url, get):
    slow = portal.slow_seconds
    portal.slow_seconds = 1.0
    portal.set_fault("slow", True)
    try:
        (r,) = portal.fault_info("slow", base_url).reports
        t = threading.Thread(target=get, args=(r.url,), kwargs={"timeout": 5})
        t.start()
        time.sleep(0.3)
        portal.clear_log()
        t.join()
    finally:
        portal.slow_seconds = slow
    get(base_url + "/zwgk/index.html")
    assert [x.path for x in portal.requests] == ["/zwgk/index.html"]
