"""The crawl against the bundled demo portal (crawler/demo): four county sites in TRS, Hanweb, gkmlpt
and VSB styles.  Must show: exactly the planted reports found (precision and recall printed and
asserted), a conditional second crawl with no duplicates and the revised report recorded, each fault
switch ending in its status with the rest of the site crawled, a SIGKILLed crawl restarted ending like
an uninterrupted one."""
from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import sqlite_utils
import yaml

from crawler.config import config_from_dict
from crawler.crawl import run_crawl
from crawler.demo.portal import FAULTS, DemoPortal
from storage.db import Store
from spiders.hostile import SKIP_STATUSES

pytestmark = [pytest.mark.timeout(300), pytest.mark.slow]
ROOT = Path(__file__).resolve().parents[2]
#: the demo's status families -> the precise statuses the crawler records
STATUS_FAMILY = {"http_error": ("http_5xx",), "waf_challenge": ("waf_challenge_412", "waf_challenge_521")}


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    portal = DemoPortal(cache_dir=tmp_path_factory.mktemp("demo-cache"), slow_seconds=3.0,
                        oversize_bytes=3 * 1024 * 1024)
    with portal.serve() as base:
        yield portal, base


def config(portal, base, sites=None, **crawl):
    c = {"download_delay": 0, "autothrottle": False, "timeout": 5, "retries": 1, "max_size_mb": 2}
    c.update(crawl)
    entries = [s for s in portal.site_configs(base) if sites is None or s["name"] in sites]
    return config_from_dict({"crawl": c, "sites": entries})


def expected_documents(portal, base, sites=None) -> set[str]:
    out = set()
    for r in portal.expected_reports(base):
        if sites is None or r.site in sites:
            out.add(r.url)
            out |= set(r.attachments.values())
    return out


def stored(store: Store) -> set[str]:
    return {r["url"] for r in sqlite_utils.Database(store.path)["documents"].rows}


def fetches(store: Store, run_id: int) -> list[dict]:
    return list(sqlite_utils.Database(store.path)["fetches"].rows_where("run_id = ?", [run_id]))


def test_demo_crawl_finds_exactly_the_planted_reports(demo, tmp_path):
    portal, base = demo
    portal.clear_faults()
    store = Store(tmp_path / "demo.db")
    summary = run_crawl(config(portal, base), store, progress=False)
    expected = expected_documents(portal, base)
    found = stored(store)
    tp = len(found & expected)
    precision, recall = tp / len(found), tp / len(expected)
    # reports: one per report page (a page and its attachments are one report)
    exp_reports = {r.url for r in portal.expected_reports(base)}
    got_reports = {r["report_url"] for r in store.reports()}
    rp = len(got_reports & exp_reports) / len(got_reports)
    rr = len(got_reports & exp_reports) / len(exp_reports)
    print(f"\ndemo crawl: documents precision {precision:.3f} recall {recall:.3f} ({len(found)}/{len(expected)}); "
          f"reports precision {rp:.3f} recall {rr:.3f} ({len(got_reports)}/{len(exp_reports)})")
    print(summary.render())
    assert (precision, recall) == (1.0, 1.0), (sorted(expected - found), sorted(found - expected))
    assert (rp, rr) == (1.0, 1.0), (sorted(exp_reports - got_reports), sorted(got_reports - exp_reports))
    assert summary.status == "ok" and summary.errors == 0
    assert set(summary.sites) == {"dongfeng", "shizhong", "yimei", "huzhu"}
    assert all(s.reports > 0 for s in summary.sites.values())
    # every attachment belongs to its report page; listing title and date came along
    docs = {r["url"]: r for r in sqlite_utils.Database(store.path)["documents"].rows}
    for r in portal.expected_reports(base):
        assert docs[r.url]["link_title"] == r.title
        assert docs[r.url]["listing_date"] == r.page_date
        for att in r.attachments.values():
            assert docs[att]["report_url"] == r.url, att
    # all four platform mechanisms were used
    paths = [rec.path for rec in portal.requests]
    assert any(p.startswith("/module/web/jpage/dataproxy.jsp?startrecord=") for p in paths)
    assert any(p.startswith("/gkmlpt/api/all/2811?page=2") for p in paths)
    assert any(p.endswith("/index_1.html") for p in paths) and any(p.endswith("/index_2.html") for p in paths)


def test_demo_second_crawl_conditional_then_revision(demo, tmp_path):
    portal, base = demo
    portal.clear_faults()
    cfg = config(portal, base)
    store = Store(tmp_path / "demo.db")
    first = run_crawl(cfg, store, progress=False)
    counts = store.counts()
    portal.clear_log()
    second = run_crawl(cfg, store, progress=False)
    cond = [r for r in portal.requests if "If-None-Match" in r.headers or "If-Modified-Since" in r.headers]
    print(f"\nsecond demo crawl: {len(cond)} conditional requests, {sum(r.status == 304 for r in cond)} "
          f"answered 304, {second.documents_new} new documents")
    assert len(expected_documents(portal, base)) == first.reports + first.attachments
    assert sum(r.status == 304 for r in cond) == first.reports + first.attachments
    assert second.not_modified == first.reports + first.attachments and second.documents_new == 0
    assert store.counts()["document_versions"] == counts["document_versions"]
    assert store.counts()["reports"] == counts["reports"]
    revised = portal.publish_revision()
    url = base.rstrip("/") + revised.url if revised.url.startswith("/") else revised.url
    third = run_crawl(cfg, store, progress=False)
    assert third.documents_revised == 1 and third.documents_new == 0
    assert [e["url"] for e in store.events("revised")] == [url]
    assert len(store.document_versions(url)) == 2
    assert store.counts()["reports"] == counts["reports"]  # the report is updated, not duplicated


def _site_of(portal, base, name) -> str:
    info = portal.fault_info(name, base)
    if info.reports:
        return info.reports[0].site
    return {"waf_412": "shizhong", "waf_521": "yimei", "robots": "huzhu"}[name]


@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_demo_fault_switch_ends_in_its_status(demo, tmp_path, fault):
    portal, base = demo
    portal.clear_faults()
    portal.set_fault(fault, True)
    portal.clear_log()
    try:
        info = portal.fault_info(fault, base)
        sites = sorted({r.site for r in info.reports}) or [_site_of(portal, base, fault)]
        store = Store(tmp_path / "demo.db")
        summary = run_crawl(config(portal, base, sites=sites, timeout=1.5), store, progress=False)
    finally:
        portal.clear_faults()
    wanted = STATUS_FAMILY.get(info.status, (info.status,))
    rows = fetches(store, summary.run_id)
    hits = [r for r in rows if r["fetch_status"] in wanted]
    print(f"\n{fault}: {len(hits)} fetches recorded as {wanted}; sites " +
          ", ".join(f"{s} {summary.sites[s].status}" for s in sites))
    assert hits, (fault, {r["url"]: r["fetch_status"] for r in rows if r["fetch_status"] != "ok"})
    # the faulty URLs are recorded with that status and never stored as content
    for p in info.paths:
        mine = [r for r in rows if urlsplit(r["url"]).path.startswith(p) or urlsplit(r["url"]).path == p]
        if p.endswith("/") and fault in ("js_only", "login_redirect"):
            mine = [r for r in mine if urlsplit(r["url"]).path in (p, p + "index.html")]
        if fault == "robots" and not mine:
            assert not any(rec.path.startswith(p) for rec in portal.requests if rec.path != "/robots.txt")
            continue  # never requested: everything below a disallowed start page is out of reach
        assert mine and all(r["fetch_status"] in wanted for r in mine), (p, [(r["url"], r["fetch_status"]) for r in mine])
    hidden = set()
    for r in info.reports:
        hidden.add(r.url)
        hidden |= set(r.attachments.values())
    docs = stored(store)
    broken = {r["url"] for r in hits}
    assert not (docs & broken)
    # the rest of the site is still crawled: every other planted document is stored
    rest = expected_documents(portal, base, sites=sites) - hidden
    assert rest - docs == set(), sorted(rest - docs)
    assert docs <= expected_documents(portal, base, sites=sites)
    if hits[0]["fetch_status"] in SKIP_STATUSES:  # robots.txt is policy: skipped, the site not failing
        assert sum(summary.sites[s].skipped.get(hits[0]["fetch_status"], 0) for s in sites) >= 1
        assert summary.status == "ok"
    else:
        assert sum(summary.sites[s].failures.get(hits[0]["fetch_status"], 0) for s in sites) >= 1
        assert summary.status in ("partial", "failed")


def _content(store: Store) -> dict:
    reports = {}
    for row in store.reports():
        rep = store.load_report(row["id"])
        reports[row["report_url"]] = (rep.status.value, rep.agency, rep.year, rep.title, rep.template,
                                      sorted((c.ref, c.kind.value, c.value, c.raw) for c in rep.cells),
                                      sorted(rep.sections.items()))
    docs = {r["url"]: (r["report_url"], r["link_title"], r["listing_date"], r["page_date"])
            for r in sqlite_utils.Database(store.path)["documents"].rows}
    shas = {u: store.fetch_cache(u)["sha256"] for u in docs}
    counts = {k: v for k, v in store.counts().items()
              if k in ("documents", "document_versions", "reports", "cells", "blobs", "agencies", "findings")}
    return {"reports": reports, "documents": docs, "sha": shas, "counts": counts}


def test_demo_crawl_killed_midway_and_restarted_matches_uninterrupted(demo, tmp_path):
    portal, base = demo
    portal.clear_faults()
    cfg = config(portal, base)
    cfg_file = tmp_path / "config.yaml"
    cfg_file.write_text(yaml.safe_dump({"crawl": cfg.crawl.model_dump(), "sites": portal.site_configs(base)},
                                       allow_unicode=True))
    killed = tmp_path / "killed.db"
    total = len(expected_documents(portal, base))
    proc = subprocess.Popen([str(ROOT / ".venv/bin/nianbao"), "--config", str(cfg_file), "crawl", "--db", str(killed),
                             "--no-progress"], start_new_session=True, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    n = 0
    while time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)
        try:
            with Store(killed, readonly=True) as peek:
                n = len(stored(peek))
        except Exception:  # schema being created
            continue
        if n >= total // 3:
            break
    os.killpg(proc.pid, signal.SIGKILL)  # parent and Scrapy child at once, like a power cut
    proc.wait()
    with Store(killed, readonly=True) as peek:
        n = len(stored(peek))
    assert 0 < n < total, f"killed after {n} of {total} documents"
    resumed = Store(killed)
    run_crawl(cfg, resumed, progress=False)
    clean = Store(tmp_path / "clean.db")
    run_crawl(cfg, clean, progress=False)
    print(f"\nkilled after {n} of {total} documents, restarted: comparing with an uninterrupted crawl")
    a, b = _content(resumed), _content(clean)
    assert a["documents"] == b["documents"]
    assert a["sha"] == b["sha"]
    assert set(a["reports"]) == set(b["reports"]) and len(a["reports"]) == len(portal.expected_reports())
    for url in a["reports"]:
        assert a["reports"][url] == b["reports"][url], url
    assert a["counts"] == b["counts"]
    assert resumed.integrity_check() == "ok"
