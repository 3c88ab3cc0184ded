"""The conformance zoo (crawler/demo/zoo.py, issue 9 item 9): every site configured by its HOME page.

Must show, per site: precision = recall = 1 (documents and reports), no duplicate request or report,
nothing robots.txt disallows fetched, Crawl-delay kept (gaps in the server's request log), a second
run that is conditional (≥ 90 % of conditional requests answered 304) and finds the revision, no
traceback in any crawl's output; report pages whose tables are images, truncated or in a failed
attachment are reports with a finding, never ``not_a_report``.  The trap site's assertions need the
URL policy middleware (engineer h9a): without it they are xfail and not run (a page-count bomb would
otherwise make a million requests).
"""
from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

import pytest
import sqlite_utils
import yaml

import crawler.middlewares
from crawler.config import config_from_dict
sys.path.insert(0, str(Path(__file__).parents[1] / "spiders"))
from crawl_then_parse import run_crawl  # noqa: E402  (the crawl stores bytes; the parse stage reads them)
from crawler.demo.zoo import Zoo
from monitor.checks.runner import MonitorSettings, run_checks
from storage.db import Store

pytestmark = [pytest.mark.timeout(600), pytest.mark.slow]
NIANBAO = str(Path(sys.executable).with_name("nianbao"))
CRAWL = {"download_delay": 0, "autothrottle": False, "timeout": 5, "retries": 0}
SITES = ("trs", "hanweb", "gkmlpt", "gkmlpt_tree", "jpaas", "xxgk", "vsb", "ucap", "numeric", "tree")


def _policy_present() -> bool:
    """h9a's URL-policy middleware is in the tree (the name says policy)."""
    return any("policy" in name.lower() for name in vars(crawler.middlewares))


needs_policy = pytest.mark.xfail(not _policy_present(), reason="needs URL policy (h9a)", strict=False, run=False)


@contextlib.contextmanager
def captured_output():
    """fd-level capture of stdout and stderr (the crawl runs in a child process that inherits them)."""
    with tempfile.TemporaryFile() as buf:
        saved = [os.dup(1), os.dup(2)]
        sys.stdout.flush(), sys.stderr.flush()
        os.dup2(buf.fileno(), 1), os.dup2(buf.fileno(), 2)
        out: list[str] = []
        try:
            yield out
        finally:
            sys.stdout.flush(), sys.stderr.flush()
            os.dup2(saved[0], 1), os.dup2(saved[1], 2)
            for fd in saved:
                os.close(fd)
            buf.seek(0)
            out.append(buf.read().decode("utf-8", "replace"))


def config(zoo: Zoo, names) -> object:
    return config_from_dict({"crawl": CRAWL, "sites": zoo.site_configs(list(names))})


@pytest.fixture(scope="module")
def zoo_runs(tmp_path_factory):
    zoo = Zoo()
    db = tmp_path_factory.mktemp("zoo") / "zoo.db"
    with zoo.serve():
        store = Store(db)
        cfg = config(zoo, SITES)
        zoo.clear_logs()
        with captured_output() as out1:
            first = run_crawl(cfg, store, progress=False, timeout=300)
        log1 = {n: list(s.requests) for n, s in zoo.sites.items()}
        revised_url = zoo.publish_revision()
        zoo.clear_logs()
        with captured_output() as out2:
            second = run_crawl(cfg, store, progress=False, timeout=300)
        log2 = {n: list(s.requests) for n, s in zoo.sites.items()}
        yield {"zoo": zoo, "store": store, "first": first, "second": second, "log1": log1, "log2": log2,
               "out": out1[0] + out2[0], "revised": revised_url, "db": db}
        store.close()


def _documents(db) -> dict[str, dict]:
    return {r["url"]: r for r in sqlite_utils.Database(db)["documents"].rows}


@pytest.mark.parametrize("name", SITES)
def test_each_site_from_its_home_page_precision_and_recall_are_one(zoo_runs, name):
    zoo, store = zoo_runs["zoo"], zoo_runs["store"]
    site = zoo.sites[name]
    assert zoo.site_configs([name])[0]["start_url"] == site.home_url() and site.home_url().endswith(":%d/" % site.server.port)
    expected = zoo.expected_documents(name)
    found = {u for u in _documents(zoo_runs["db"]) if u.startswith(site.base_url + "/")}
    tp = len(found & expected)
    exp_reports = set(zoo.expected_reports(name))
    got_reports = {r["report_url"] for r in store.reports(site=name)}
    print(f"\n{name} ({site.style}): documents precision {tp / max(len(found), 1):.3f} recall "
          f"{tp / len(expected):.3f} ({len(found)}/{len(expected)}); reports {len(got_reports)}/{len(exp_reports)}")
    assert found == expected, (sorted(expected - found), sorted(found - expected))
    assert got_reports == exp_reports, (sorted(exp_reports - got_reports), sorted(got_reports - exp_reports))
    # one report row per report page, never two
    assert len(store.reports(site=name)) == len(exp_reports)


@pytest.mark.parametrize("name", SITES)
def test_no_url_is_requested_twice_in_a_crawl(zoo_runs, name):
    for run in ("log1", "log2"):
        counts = Counter((r.method, r.path) for r in zoo_runs[run][name])
        assert [k for k, n in counts.items() if n > 1] == [], run


def test_nothing_disallowed_by_robots_is_fetched(zoo_runs):
    zoo = zoo_runs["zoo"]
    trs = zoo.sites["trs"]
    assert trs.never, "the trs site plants a report link under a Disallow"
    for run in ("log1", "log2"):
        paths = [r.path for r in zoo_runs[run]["trs"]]
        assert paths[0] == "/robots.txt"
        assert not any(p.startswith("/zwgk/zfxxgknb/nbfb/") for p in paths)


def test_crawl_delay_is_kept(zoo_runs):
    for run in ("log1", "log2"):
        times = [r.at for r in zoo_runs[run]["tree"] if r.path != "/robots.txt"]
        gaps = [b - a for a, b in zip(times, times[1:])]
        # the middleware spaces the sends 1 s apart; on a loaded machine one send may leave late and the
        # next on time, so a single gap can shrink, never the spacing as a whole
        assert len(gaps) >= 5 and sum(gaps) / len(gaps) >= 0.95 and min(gaps) >= 0.5, (run, [round(g, 2) for g in gaps])


def test_the_second_run_is_conditional_and_finds_the_revision(zoo_runs):
    cond = [r for reqs in zoo_runs["log2"].values() for r in reqs
            if "If-None-Match" in r.headers or "If-Modified-Since" in r.headers]
    not_modified = sum(r.status == 304 for r in cond)
    first, second = zoo_runs["first"], zoo_runs["second"]
    print(f"\nzoo second run: {len(cond)} conditional requests, {not_modified} answered 304 "
          f"({not_modified / max(len(cond), 1):.1%}); revised {second.documents_revised}, new {second.documents_new}")
    assert len(cond) >= first.reports and not_modified / len(cond) >= 0.9
    assert second.documents_revised == 1 and second.documents_new == 0
    versions = zoo_runs["store"].document_versions(zoo_runs["revised"])
    assert len(versions) == 2


def test_no_traceback_in_any_crawl_output(zoo_runs):
    out = zoo_runs["out"]
    assert "Traceback" not in out, out[out.find("Traceback") - 500: out.find("Traceback") + 1500]


def test_pages_whose_tables_cannot_be_read_are_reports_with_a_finding(zoo_runs):
    zoo, store = zoo_runs["zoo"], zoo_runs["store"]
    odd = [(n, r) for n, s in zoo.sites.items() if n in SITES for r in s.reports if r.kind != "inline"]
    assert {r.kind for _n, r in odd} == {"images", "truncated", "stub"}
    # a stub's finding waits for its attachment: the checks pass after the crawl (nianbao run) raises it
    run_checks(store, MonitorSettings(sites=list(SITES)))
    by_url = {r["report_url"]: r for r in store.reports()}
    for name, r in odd:
        row = by_url[zoo.sites[name].base_url + r.path]
        assert row["status"] == "partial", (r.title, row["status"])
        rules = {f.rule for f in store.findings(report_id=row["id"])}
        if r.kind in ("images", "stub"):
            assert "tables_missing" in rules, (r.title, rules)
    docs = _documents(zoo_runs["db"])
    stored = {u for u in docs if any(u.startswith(s.base_url) for s in zoo.sites.values())}
    assert not [u for u in stored if u in by_url and by_url[u]["status"] == "not_a_report"]
    # the stub's attachment really failed: recorded, and not stored
    fetches = list(sqlite_utils.Database(zoo_runs["db"])["fetches"].rows_where("fetch_status = ?", ["http_404"]))
    assert any("/attach/0/" in f["url"] or "downfile.jsp" in f["url"] for f in fetches)


def test_the_https_home_page_falls_back_to_http(zoo_runs):
    events = zoo_runs["first"].stats["nianbao/explain/numeric"]
    assert any(e["kind"] == "scheme_fallback" and e["url"].startswith("http://") for e in events)
    assert zoo_runs["first"].sites["numeric"].status == "ok"


def test_every_platform_mechanism_was_used(zoo_runs):
    log = {n: [r.path for r in reqs] for n, reqs in zoo_runs["log1"].items()}
    assert log["trs"][1:3] == ["/", "/zwgk/"] and "/zwgk/index.html" in log["trs"]  # the shell was followed
    assert any(p.startswith("/module/web/jpage/dataproxy.jsp?startrecord=") for p in log["hanweb"])
    assert any(p.startswith("/gkmlpt/api/all/2811?") for p in log["gkmlpt"])
    assert any(p.startswith("/gkmlpt/api/tree?sid=200025") for p in log["gkmlpt_tree"])
    assert "/portal/index.html" in log["gkmlpt_tree"]  # the meta refresh
    assert sum(p.startswith("/api-gateway/") for p in log["jpaas"]) == 2
    assert any("/module/xxgk/xxgkAnnualReport.jsp?fbtime=2024&area=11332500MB1234567X" == p for p in log["xxgk"])
    assert any(p.startswith("/system/_content/download.jsp") for p in log["vsb"])
    assert sum(p.startswith("/szinf/info/getInfoCommon/") for p in log["ucap"]) >= 2
    assert "/index.html" in log["tree"]  # the location.href shell


def test_explain_prints_the_path_to_each_column(zoo_runs, tmp_path):
    zoo = zoo_runs["zoo"]
    with zoo.serve():
        lost = {"name": "lost", "start_url": zoo.sites["trs"].base_url + "/xwzx/202501/t20250120_100.html"}
        cfg = {"database": str(tmp_path / "e.db"), "crawl": CRAWL,
               "sites": zoo.site_configs(["trs", "gkmlpt"]) + [lost]}
        (tmp_path / "config.yaml").write_text(yaml.safe_dump(cfg, allow_unicode=True), encoding="utf-8")
        out = subprocess.run([NIANBAO, "--config", str(tmp_path / "config.yaml"), "crawl", "--no-progress",
                              "--explain", "trs", "--explain", "gkmlpt", "--explain", "lost"], capture_output=True, text=True, timeout=300)
        trs, gk = zoo.sites["trs"].base_url, zoo.sites["gkmlpt"].base_url
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
    text = out.stdout
    assert f"explain trs: start {trs}/" in text
    assert f"column 1: {trs}/zwgk/zfxxgknb/" in text
    assert f"location.replace: {trs}/zwgk/index.html" in text
    assert "disclosure link “政务公开”" in text and "年报 column link “政府信息公开年报”" in text
    assert f"column 1: {gk}/gkmlpt/index" in text and "gkmlpt: 0 report entries, 2 more pages" in text
    # a start URL that leads nowhere says where the way stopped
    lost_part = text[text.index("explain lost"):]
    assert "dead end: " + lost["start_url"] in lost_part and "no link to a disclosure section" in lost_part
    assert "no 年报 column was found" in lost_part
    assert "Traceback" not in out.stdout + out.stderr


# -- the traps (need h9a's URL policy and caps) ----------------------------------------------------
@pytest.fixture(scope="module")
def trap_run(tmp_path_factory):
    zoo = Zoo()
    db = tmp_path_factory.mktemp("traps") / "traps.db"
    with zoo.serve():
        store = Store(db)
        with captured_output() as out:
            summary = run_crawl(config(zoo, ["traps"]), store, progress=False, timeout=240)
        yield {"zoo": zoo, "store": store, "summary": summary, "log": list(zoo.sites["traps"].requests),
               "foreign": list(zoo.foreign.requests), "out": out[0], "db": db}
        store.close()


@needs_policy
def test_trap_site_real_reports_found_and_traps_refused(trap_run):
    zoo = trap_run["zoo"]
    found = {u for u in _documents(trap_run["db"]) if u.startswith(zoo.sites["traps"].base_url)}
    assert found == zoo.expected_documents("traps")
    assert trap_run["foreign"] == []  # the redirect to another host was refused, not followed
    assert len(trap_run["log"]) < 3000  # page-count bomb and endless chain bounded
    statuses = Counter(r["fetch_status"] for r in sqlite_utils.Database(trap_run["db"])["fetches"].rows)
    assert any("refused" in s or "policy" in s or "cap" in s for s in statuses), statuses
    assert "Traceback" not in trap_run["out"]


@needs_policy
def test_trap_file_scheme_next_page_is_refused(trap_run):
    rows = list(sqlite_utils.Database(trap_run["db"])["fetches"].rows)
    assert not any(r["url"].startswith("file:") and r["fetch_status"] == "ok" for r in rows)
    assert any(r["url"].startswith("file:") for r in rows), "the file:// 下一页 is recorded as refused"
