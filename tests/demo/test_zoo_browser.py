"""Issue 9 item 8: a ``fetch: browser`` site passes a 加速乐-style challenge (a script that computes its
cookie) through headless Chromium and reuses the cookie; the same site over plain HTTP records
waf_challenge_521.  The zoo's ``waf`` site (crawler/demo/zoo.py) answers 521 until the cookie is sent."""
from __future__ import annotations

import shutil

import pytest
import sqlite_utils

from crawler.config import config_from_dict
from crawler.crawl import run_crawl
from crawler.demo.zoo import Zoo
from storage.db import Store

pytestmark = [pytest.mark.timeout(600), pytest.mark.slow]
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CRAWL = {"download_delay": 0, "autothrottle": False, "timeout": 10, "retries": 0}


@pytest.fixture(scope="module")
def zoo():
    pytest.importorskip("playwright.async_api")
    if not shutil.which(CHROMIUM):
        pytest.skip("no Chromium (apt install chromium)")
    z = Zoo()
    with z.serve():
        yield z


def _crawl(zoo, tmp_path, **extra):
    store = Store(tmp_path / "w.db")
    cfg = config_from_dict({"crawl": CRAWL, "sites": zoo.site_configs(["waf"], **extra)})
    zoo.clear_logs()
    summary = run_crawl(cfg, store, progress=False, timeout=300)
    return store, summary


def test_a_browser_site_passes_the_challenge_and_reuses_its_cookie(zoo, tmp_path):
    store, summary = _crawl(zoo, tmp_path, fetch="browser")
    site = zoo.sites["waf"]
    found = {r["url"] for r in sqlite_utils.Database(store.path)["documents"].rows}
    assert found == zoo.expected_documents("waf"), summary.render()
    assert summary.sites["waf"].status == "ok" and summary.stats.get("nianbao/browser/challenges_passed") == 1
    # the challenge (521) answered only before the script ran (the first fetch, the page that runs the
    # script, its favicon); every request after it carried the cookie the script computed
    log = [(r.path, r.status) for r in site.requests if r.path != "/robots.txt"]
    first_ok = next(i for i, (_p, st) in enumerate(log) if st != 521)
    assert 1 <= first_ok <= 3 and all(p in ("/", "/favicon.ico") for p, _st in log[:first_ok]), log[:5]
    assert all(st != 521 for _p, st in log[first_ok:]), log
    # the second crawl is conditional through the browser too
    second = run_crawl(config_from_dict({"crawl": CRAWL, "sites": zoo.site_configs(["waf"], fetch="browser")}),
                       store, progress=False, timeout=300)
    assert second.not_modified == len(zoo.expected_documents("waf")) and second.documents_new == 0


def test_a_plain_site_records_the_challenge(zoo, tmp_path):
    store, summary = _crawl(zoo, tmp_path)
    rows = list(sqlite_utils.Database(store.path)["fetches"].rows)
    assert [r["fetch_status"] for r in rows if r["url"].rstrip("/") == zoo.sites["waf"].base_url] == ["waf_challenge_521"]
    assert sqlite_utils.Database(store.path)["documents"].count == 0
    assert summary.sites["waf"].failures == {"waf_challenge_521": 1}
