"""The crawl end to end on a real local portal (tests/spiders/minisite.py), real SQLite, real Scrapy
in its own process: discovery, precision/recall, conditional re-crawls, revisions, faults, politeness,
a SIGKILLed crawl, failing sites across runs, the CLI."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import sqlite_utils
import yaml

sys.path.insert(0, str(Path(__file__).parent))
from minisite import MiniPortal, Resource, page, report_page  # noqa: E402

from crawler.config import config_from_dict  # noqa: E402
from crawl_then_parse import run_crawl  # noqa: E402
from storage.db import Store  # noqa: E402

pytestmark = pytest.mark.timeout(180)
ROOT = Path(__file__).resolve().parents[2]


def make_config(base: str, **crawl) -> object:
    c = {"download_delay": 0, "autothrottle": False, "timeout": 5, "retries": 1, "contact": "ops@example.org"}
    c.update(crawl)
    return config_from_dict({"crawl": c, "sites": [{"name": "mini", "region": "某县", "start_url": base + "/zwgk/"}]})


def stored_urls(store: Store, urls) -> set[str]:
    return {u for u in urls if store.fetch_cache(u)}


def fetch_statuses(store: Store, run_id: int) -> dict[str, str]:
    """url -> fetch_status in the run's fetch journal (read through sqlite-utils, read-only)."""
    db = sqlite_utils.Database(store.path)
    return {r["url"]: r["fetch_status"] for r in db["fetches"].rows_where("run_id = ?", [run_id])}


def document_rows(store: Store) -> dict[str, dict]:
    db = sqlite_utils.Database(store.path)
    return {r["url"]: r for r in db["documents"].rows}


def precision_recall(found: set[str], planted: set[str]) -> tuple[float, float]:
    tp = len(found & planted)
    return (tp / len(found) if found else 0.0, tp / len(planted) if planted else 0.0)


def test_crawl_finds_exactly_the_planted_reports(tmp_path):
    with MiniPortal() as portal:
        store = Store(tmp_path / "n.db")
        summary = run_crawl(make_config(portal.base), store, progress=False)
        planted = portal.planted_urls()
        everything = {portal.base + p for p in portal.resources if p.startswith("/")} | planted
        found = stored_urls(store, everything)
        p, r = precision_recall(found, planted)
        print(f"\nminisite crawl: {len(found)} documents, precision {p:.3f}, recall {r:.3f}")
        assert (p, r) == (1.0, 1.0), (sorted(planted - found), sorted(found - planted))
        # the listing facts travel on the Document: title, date, page date, and one report per page
        hw = portal.base + "/art/2025/1/21/art_100_501.html"
        att = portal.base + "/attach/0/abc1.docx"  # downfile.jsp 302 -> the file's own URL
        pdf = next(u for u in planted if u.endswith(".pdf") and "2024n/bm" in u)
        docs = document_rows(store)
        assert docs[hw]["link_title"] == "某县第2局2024年政府信息公开工作年度报告"
        assert docs[hw]["listing_date"] == "2025-01-21" and docs[hw]["page_date"] == "2025-01-21"
        assert docs[att]["report_url"] == hw
        assert docs[pdf]["report_url"].endswith("2024n/bm/202501/t20250112_202422.html")
        # run row with Scrapy's stats; the robots-disallowed column recorded as skipped (policy, not a
        # failure: the run is ok), not fetched
        run = store.last_runs(1, kind="crawl")[0]
        assert run["id"] == summary.run_id and run["status"] == "ok"
        stats = run["stats"] if isinstance(run["stats"], dict) else __import__("json").loads(run["stats"])
        assert stats["scrapy"]["nianbao/reports"] == summary.reports == 19
        assert stats["sites"]["mini"]["failures"] == {} and stats["skipped"] == 1
        assert stats["sites"]["mini"]["skipped"] == {"robots_disallowed": 1}
        assert not portal.requests_to("/private/")
        ua = portal.log[0][2]["User-Agent"]
        assert "nianbao" in ua and "ops@example.org" in ua
        # Hanweb: records past the inline ones came from POSTs to dataproxy.jsp with the form
        posts = [x for x in portal.log if x[0] == "POST"]
        assert posts and all(x[1].startswith("/module/web/jpage/dataproxy.jsp?startrecord=") for x in posts)


def test_second_crawl_is_conditional_and_records_revisions(tmp_path):
    with MiniPortal() as portal:
        cfg = make_config(portal.base)
        store = Store(tmp_path / "n.db")
        first = run_crawl(cfg, store, progress=False)
        counts1 = store.counts()
        n_log = len(portal.log)
        second = run_crawl(cfg, store, progress=False)
        again = portal.log[n_log:]
        conditional = [x for x in again if "If-None-Match" in x[2] or "If-Modified-Since" in x[2]]
        print(f"\nsecond crawl: {len(conditional)} conditional requests, "
              f"{sum(1 for x in again if x[3] == 304)} answered 304")
        # every report page and attachment was asked conditionally
        assert {x[1] for x in conditional} >= portal.planted and first.reports + first.attachments == 22
        assert sum(1 for x in conditional if x[3] == 304) == len(conditional) == 22
        assert second.not_modified == 22 and second.documents_new == 0
        assert store.counts()["document_versions"] == counts1["document_versions"]
        assert store.counts()["reports"] == counts1["reports"]
        # listings are always re-read (no conditional headers on them)
        assert any(x[1] == "/zwgk/zfxxgknb/2024n/bm/" and "If-None-Match" not in x[2] for x in again)
        # a report page changes at the same URL; its attachment changes too
        path = next(p for p in portal.planted if "2024n/bm" in p and p.endswith(".html") and "_20241" in p)
        portal.resources[path] = Resource(report_page("某县教育局2024年政府信息公开工作年度报告（修订版）", "2025-01-11",
                                                      extra="<p>更正：数据有误。</p>"))
        pdf = next(p for p in portal.planted if p.endswith(".pdf") and "2024n" in p)
        portal.resources[pdf] = Resource(b"%PDF-1.4\n% revised\n%%EOF\n", "application/pdf")
        third = run_crawl(cfg, store, progress=False)
        assert third.documents_revised == 2 and third.documents_new == 0
        assert len(store.document_versions(portal.base + path)) == 2
        revised = {e["url"] for e in store.events("revised")}
        assert revised == {portal.base + path, portal.base + pdf}


def _faulty_portal() -> tuple[MiniPortal, dict[str, str]]:
    portal = MiniPortal()
    r = portal.resources
    pick = lambda *parts: next(p for p in sorted(portal.planted) if all(x in p for x in parts))  # noqa: E731
    faults: dict[str, str] = {}
    p = pick("2024n/bm", "_20240")
    r[p] = Resource(page("error", "Internal Server Error"), status=500)
    faults[p] = "http_5xx"
    p = pick("2024n/bm", "_20241")
    r[p].delay = 4.0  # beyond the 1.5 s timeout
    faults[p] = "timeout"
    p = pick("2023n/bm", "_20230")
    r[p].truncate = True
    faults[p] = "truncated"
    p = pick("2023n/bm", "_20231")
    r[p] = Resource(page("提示", "<h2>抱歉，您访问的页面不存在或已被删除！</h2>"))
    faults[p] = "soft_404"
    p = "/art/2025/1/20/art_100_500.html"
    r[p] = Resource(b"<html><head><script>$_ts=window['$_ts'];if(!$_ts)$_ts={};$_ts.nsd=1;</script></head>"
                    b"<body></body></html>", status=412)
    faults[p] = "waf_challenge_412"
    p = "/art/2025/1/23/art_100_503.html"
    r[p] = Resource(b"<script>document.cookie=('_')+('_jsl_clearance_s')+'=1';location.reload()</script>",
                    status=521, headers={"Set-Cookie": "__jsluid_s=abc; path=/"})
    faults[p] = "waf_challenge_521"
    p = "/gkmlpt/content/0/0/post_9000.html"
    r[p] = Resource(b"", status=302, headers={"Location": p})
    faults[p] = "redirect_loop"
    p = "/gkmlpt/content/0/1/post_9001.html"
    r[p] = Resource(b"", status=302, headers={"Location": "/sso/login?service=x"})
    r["/sso/login"] = Resource(page("统一身份认证", "<form>用户名 密码 <input type=password></form>"))
    faults[p] = "login_redirect"
    p = pick("2024n/bm", ".pdf")
    r[p] = Resource(b"%PDF-1.4\n" + b"0" * 300_000, "application/pdf")
    faults[p] = "too_large"
    p = "/zwgk/zfxxgknb/2024n/xzjd/"
    r[p] = Resource(page("乡镇街道", "<div id='app'></div><script src='/js/vue.js'></script>"
                                    "<script>new Vue({el:'#app'}); $.getJSON('/api/list?col=xzjd')</script>"))
    faults[p] = "js_only"
    return portal, faults


def test_each_fault_ends_in_its_status_and_the_rest_is_crawled(tmp_path):
    portal, faults = _faulty_portal()
    with portal:
        cfg = make_config(portal.base, timeout=1.5, max_size_mb=0.1)
        cfg.sites.append(cfg.sites[0].model_copy(update={
            "name": "broken-tls", "start_url": f"https://127.0.0.1:{portal.port}/zwgk/"}))
        store = Store(tmp_path / "n.db")
        summary = run_crawl(cfg, store, progress=False)
        statuses = fetch_statuses(store, summary.run_id)
        for path, expected in faults.items():
            assert statuses.get(portal.base + path) == expected, (path, statuses.get(portal.base + path))
        # broken TLS on the start URL: the same page over http is tried (no failure recorded for it)
        assert f"https://127.0.0.1:{portal.port}/zwgk/" not in statuses
        fallback = [e for e in summary.stats["nianbao/explain/broken-tls"] if e["kind"] == "scheme_fallback"]
        assert fallback and fallback[0]["url"] == f"http://127.0.0.1:{portal.port}/zwgk/"
        assert "tls_error" in fallback[0]["note"]
        # fault pages are recorded, never stored as content
        for path in faults:
            assert not store.fetch_cache(portal.base + path), path
        # everything else of the site is still crawled
        unreachable = {p for p in portal.planted if p.startswith("/zwgk/zfxxgknb/2024n/xzjd/")}
        unreachable |= {p for p in portal.planted if "2024n/bm" in p and p.endswith(".pdf")}
        expected = {portal.base + p for p in portal.planted - set(faults) - unreachable}
        assert stored_urls(store, portal.planted_urls()) == expected
        # the 500 was retried once (retries: 1) after a backoff wait, then recorded
        p500 = next(p for p, st in faults.items() if st == "http_5xx")
        assert sum(1 for x in portal.log if x[1] == p500) == 2
        assert summary.stats["nianbao/retry_backoff_s"] >= 1.0
        assert summary.sites["broken-tls"].status == "ok"  # reached over http
        assert summary.sites["mini"].status == "partial"
        print("\n" + summary.render())


def test_site_failing_the_same_way_twice_is_reported(tmp_path):
    with MiniPortal() as portal:
        portal.resources["/zwgk/"] = Resource(b"<script>$_ts=window['$_ts'];$_ts.nsd=7;</script>", status=412)
        cfg = make_config(portal.base)
        store = Store(tmp_path / "n.db")
        first = run_crawl(cfg, store, progress=False)
        assert first.status == "failed" and not first.failing_sites
        second = run_crawl(cfg, store, progress=False)
        assert second.failing_sites == {"mini": ["waf_challenge_412"]}
        assert "keeps failing the same way: waf_challenge_412" in second.render()
        run = store.last_runs(1, kind="crawl")[0]
        assert "waf_challenge_412" in str(run["stats"])
        # fixed: no longer reported
        portal.resources["/zwgk/"] = Resource(page("政务公开", '<a href="/zwgk/zfxxgknb/">政府信息公开年报</a>'))
        third = run_crawl(cfg, store, progress=False)
        assert third.failing_sites == {} or "waf_challenge_412" not in third.failing_sites.get("mini", [])


def test_crawl_delay_from_robots_is_honoured(tmp_path):
    with MiniPortal() as portal:
        portal.resources["/robots.txt"] = Resource(b"User-agent: *\nCrawl-delay: 0.7\nDisallow: /private/\n",
                                                   "text/plain")
        cfg = make_config(portal.base)
        store = Store(tmp_path / "n.db")
        run_crawl(cfg, store, sites=["mini"], progress=False)
        times = sorted(t for t, path in portal.times if path != "/robots.txt")
        gaps = [b - a for a, b in zip(times, times[1:])]
        print(f"\n{len(times)} requests, smallest gap {min(gaps):.3f}s (Crawl-delay 0.7)")
        assert len(times) > 20 and min(gaps) >= 0.65


def _content(store: Store, urls: set[str]) -> dict:
    """What a crawl stored, independent of ids, times and order."""
    docs = {}
    for u in sorted(urls):
        c = store.fetch_cache(u)
        if c:
            docs[u] = (c["sha256"], len(store.document_versions(u)))
    reports = {}
    for row in store.reports():
        rep = store.load_report(row["id"])
        reports[row["report_url"]] = (rep.status.value, rep.agency, rep.year, rep.title,
                                      sorted((c.ref, c.kind.value, c.value) for c in rep.cells))
    counts = {k: v for k, v in store.counts().items() if k in ("documents", "document_versions", "reports", "cells",
                                                               "blobs", "agencies")}
    return {"documents": docs, "reports": reports, "counts": counts}


def test_crawl_killed_midway_then_restarted_ends_like_an_uninterrupted_one(tmp_path):
    with MiniPortal() as portal:
        for p in portal.planted:
            if p in portal.resources:
                portal.resources[p].delay = 0.25
        cfg_file = tmp_path / "config.yaml"
        cfg = make_config(portal.base)
        # the same site as make_config's: its region qualifies the short agency names the pages print
        cfg_file.write_text(yaml.safe_dump({"crawl": cfg.crawl.model_dump(), "sites": [
            {"name": "mini", "region": cfg.sites[0].region, "start_url": portal.base + "/zwgk/"}]},
            allow_unicode=True))
        killed_db = tmp_path / "killed.db"
        proc = subprocess.Popen([str(ROOT / ".venv/bin/nianbao"), "--config", str(cfg_file), "crawl", "--db",
                                 str(killed_db), "--no-progress"], start_new_session=True,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            time.sleep(0.05)
            if not killed_db.exists():
                continue
            try:  # the crawl may be creating the schema right now
                with Store(killed_db, readonly=True) as peek:
                    if len(stored_urls(peek, portal.planted_urls())) >= 6:
                        break
            except Exception:
                continue
        os.killpg(proc.pid, signal.SIGKILL)  # the whole crawl, parent and Scrapy child, like a power cut
        proc.wait()
        partial = len(stored_urls(Store(killed_db), portal.planted_urls()))
        assert 6 <= partial < len(portal.planted), partial
        resumed = Store(killed_db)
        run_crawl(cfg, resumed, progress=False)
        clean = Store(tmp_path / "clean.db")
        run_crawl(cfg, clean, progress=False)
        print(f"\nkilled after {partial} of {len(portal.planted)} documents; restarted")
        a, b = _content(resumed, portal.planted_urls()), _content(clean, portal.planted_urls())
        assert a["documents"] == b["documents"] and len(a["documents"]) == len(portal.planted)
        assert set(a["reports"]) == set(b["reports"])
        for url in a["reports"]:
            assert a["reports"][url] == b["reports"][url], url
        assert a["counts"] == b["counts"]
        assert resumed.integrity_check() == "ok"


def test_cli_crawl_one_site(tmp_path):
    with MiniPortal() as portal:
        cfg_file = tmp_path / "config.yaml"
        cfg_file.write_text(yaml.safe_dump({
            "database": str(tmp_path / "default.db"),
            "crawl": {"download_delay": 0, "autothrottle": False, "timeout": 5, "retries": 0},
            "sites": [{"name": "mini", "start_url": portal.base + "/zwgk/"},
                      {"name": "other", "start_url": portal.base + "/xwzx/"}]}, allow_unicode=True))
        env = {**os.environ, "NIANBAO_PROGRESS_INTERVAL": "0.1"}  # not a terminal: periodic lines
        portal.resources["/zwgk/zfxxgknb/2024n/bm/"].delay = 0.5
        out = subprocess.run([str(ROOT / ".venv/bin/nianbao"), "--config", str(cfg_file), "crawl", "--site", "mini",
                              "--db", str(tmp_path / "x.db")], capture_output=True, text=True, timeout=120, env=env)
        assert out.returncode == 0, out.stderr
        assert "mini: ok" in out.stdout and "other" not in out.stdout
        assert "crawl run 1: ok" in out.stdout and "skipped: robots_disallowed 1" in out.stdout
        progress = [ln for ln in out.stderr.splitlines() if ln.startswith("crawl: sites 1 · pages")]
        assert progress and "errors" in progress[-1]
        assert not portal.requests_to("/xwzx/")
        bad = subprocess.run([str(ROOT / ".venv/bin/nianbao"), "--config", str(cfg_file), "crawl", "--site", "nope"],
                             capture_output=True, text=True, timeout=60)
        assert bad.returncode == 2 and "nope" in bad.stderr


def test_site_can_opt_out_of_robots(tmp_path):
    with MiniPortal() as portal:
        cfg = make_config(portal.base)
        cfg.sites[0] = cfg.sites[0].model_copy(update={"obey_robots": False})
        summary = run_crawl(cfg, Store(tmp_path / "n.db"), progress=False)
        assert portal.requests_to("/private/nb/")
        # not asked for robots.txt at all; the private page's report link is dead (404, recorded)
        assert not portal.requests_to("/robots.txt") and summary.sites["mini"].failures == {"http_404": 1}
