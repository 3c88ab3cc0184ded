"""The demo's national scale mode (crawler.demo.scale) and the national bench's crawl over it."""
from __future__ import annotations

import http.client
import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from crawler.demo.scale import HOST_SUFFIX, STYLES, Nation, host_name, site_index

ROOT = Path(__file__).resolve().parents[2]


def fetch(port: int, host: str, path: str, headers: dict | None = None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request("GET", path, headers={"Host": f"{host}:{port}", **(headers or {})})
    r = conn.getresponse()
    body = r.read()
    conn.close()
    return r.status, dict((k.lower(), v) for k, v in r.getheaders()), body


def test_host_names_round_trip():
    assert site_index(host_name(7)) == 7
    assert site_index(f"p2999.{HOST_SUFFIX}:8080") == 2999
    assert site_index("p0001.example.org") is None and site_index("") is None


def test_portals_have_30_to_100_pages_in_every_style():
    nation = Nation(200)
    styles = Counter()
    for i in range(200):
        site = nation.site(i)
        styles[site.style] += 1
        html_pages = [p for p in site.pages if not p.endswith((".pdf", ".js")) and p != "/"]
        assert 30 <= len(html_pages) <= 110, (i, site.style, len(html_pages))
        assert len({r.path for r in site.reports}) == len(site.reports)  # every report its own URL
        assert all(r.path in site.pages for r in site.reports)
    assert set(styles) == set(STYLES)
    tot = nation.totals()
    assert 0.15 < tot["pdf_reports"] / tot["reports"] < 0.35


def test_each_portal_is_served_by_its_host_name():
    nation = Nation(8)
    with nation.serve() as base:
        port = int(base.rsplit(":", 1)[1])
        for i in range(4):
            site = nation.site(i)
            r = site.reports[0]
            status, headers, body = fetch(port, host_name(i), r.path)
            assert status == 200
            text = body.decode(site.encoding)
            assert r.agency in text and f"{r.year}年" in text and "示例数据" in text
            if r.fmt == "html":
                assert "<table" in text
            else:
                assert f'./{r.pdf_path.rsplit("/", 1)[1]}' in text
                s2, h2, pdf = fetch(port, host_name(i), r.pdf_path)
                assert s2 == 200 and pdf.startswith(b"%PDF") and h2["content-type"] == "application/pdf"
            again = fetch(port, host_name(i), r.path, {"If-None-Match": headers["etag"]})
            assert again[0] == 304
        # another portal's page under this host name is not there; an unknown host gets nothing
        other = nation.site(1).reports[0].path
        assert nation.site(0).style != nation.site(1).style and fetch(port, host_name(0), other)[0] == 404
        assert fetch(port, "p0099." + HOST_SUFFIX, "/")[0] == 404
        assert fetch(port, "www.example.org", "/")[0] == 404
        assert sum(nation.counts.values()) >= 8  # the request log counts


def test_a_night_changes_five_percent_of_the_reports():
    nation = Nation(400)
    before = {i: {r.path: (r.revision, r.fmt) for r in nation.site(i).reports} for i in range(400)}
    n0 = sum(len(v) for v in before.values())
    nation.night = 1
    tot = nation.totals()
    changed = tot["new_tonight"] + tot["revised_tonight"]
    assert 0.04 * n0 <= changed <= 0.06 * n0
    assert tot["new_tonight"] > 0.3 * changed and tot["revised_tonight"] > 0.3 * changed
    # the same night twice is the same portal (the plan is deterministic); unchanged reports keep their URL
    for i in range(50):
        now = {r.path: r.revision for r in nation.site(i).reports}
        assert set(before[i]) <= set(now)
        assert Nation(400, night=1).site(i).reports == nation.site(i).reports


def test_a_revised_report_changes_bytes_not_url():
    nation = Nation(60)
    nation.night = 1
    i, r = next((i, r) for i in range(60) for r in nation.site(i).reports if r.revision and r.fmt == "html")
    with nation.serve() as base:
        port = int(base.rsplit(":", 1)[1])
        _, h1, b1 = fetch(port, host_name(i), r.path)
        nation.night = 0
        _, h0, b0 = fetch(port, host_name(i), r.path)
    assert b1 != b0 and h1["etag"] != h0["etag"] and "修订" in b1.decode(nation.site(i).encoding)


def test_every_report_page_shows_its_report_on_every_night():
    """A portal gives each document its own URL; TRS numbers them with one site-wide counter
    (``t<YYYYMMDD>_<docid>.html``, research/portals.md 2.1).  So a report's page is that report: its title,
    and for an attachment report the link to its file next to the article (``./P0….pdf``).  The
    3,000-portal night 1 stored 207,937 of 207,938 documents: on portal 2352 the new PDF report's page
    took a decoy's docid and date (t20250202_6345845), served the decoy 决算, and its PDF was linked
    nowhere; portals 1792 and 2812 lost an HTML report the same way, unseen (their URL was stored)."""
    nation = Nation(3000, night=1, plan_cache=4)
    assert any(r.fmt == "pdf" and r.pdf_path == "/zwgk/zfxxgknb/202502/P070850b7a77db.pdf" for r in nation.site(2352).reports)
    for i in (1792, 2352, 2812):
        site = nation.site(i)
        for r in site.reports:
            text = site.pages[r.path]().body.decode(site.encoding)
            assert f"<h1 class=\"title\">{r.title}</h1>" in text, (i, r.path)
            if r.fmt == "pdf":
                assert f'href="./{r.pdf_path.rsplit("/", 1)[1]}"' in text, (i, r.path)
    for night in (0, 1, 2):
        nation.night = night
        for i in range(0, 3000, len(STYLES)):  # the TRS portals (STYLES[0])
            site = nation.site(i)
            paths = [r.path for r in site.reports] + [p for _t, p, _d in site.decoys]
            assert len(set(paths)) == len(paths), (i, night, [p for p, n in Counter(paths).items() if n > 1])
            docids = [p.rsplit("_", 1)[1].split(".")[0] for p in paths]
            assert len(set(docids)) == len(docids), (i, night)


@pytest.mark.timeout(900)
def test_national_bench_crawls_every_style_and_the_night(tmp_path):
    """The bench's crawl (the production run_crawl split over two processes, the resolver override, the
    URL policy on, the parse pool beside it as `nianbao run` does) stores every report page and PDF of
    one portal per style, then the incremental night's new and revised ones.  Impolite, so that it
    takes a minute: the politeness is the production settings', measured by the bench itself."""
    out = subprocess.run([sys.executable, "bench/national_bench.py", "--sites", "4", "--impolite", "--nights", "1",
                          "--processes", "2", "--concurrency", "64", "--db", str(tmp_path / "n.db")], cwd=ROOT,
                         capture_output=True, text=True, timeout=900)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    crawls = [s for s in result["stages"] if "expected" in s]
    assert len(crawls) == 2
    for c in crawls:
        assert c["expected"] > 150 and c["missing"] == 0 and c["skipped"] == 0 and c["errors"] == 0, c
        # two crawl processes, each with its own portals and its own CPU figure
        assert c["processes"] == 2 and all(x and x > 0 for x in c["process_cpu_s"]), c
    parsed = [s for s in result["stages"] if s["stage"].endswith("parse pool (during crawl)")]
    assert len(parsed) == 2 and parsed[0]["written"] > 100, parsed
    full, night = crawls
    assert full["documents_revised"] == 0
    assert night["documents_new"] > 0 and night["documents_revised"] > 0
    # nothing refused (skipped 0): the start hosts resolve to loopback, so the URL policy lets their pages in


def test_the_server_queues_a_national_burst_of_connections():
    """Thousands of portals open their first connections at once.  With the stdlib's listen backlog
    (5) the kernel drops the SYNs past it and the crawler reads connection timeouts for pages the
    server never saw (the first 3,000-portal bench run: 82 pages given up in 8 minutes).  The
    server is built but not started, so nothing is accepted: every connection that completes its
    handshake is one the backlog queued."""
    import select
    import socket

    from crawler.demo.server import DemoServer

    server = DemoServer(Nation(1))
    socks = []
    try:
        for _ in range(300):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.setblocking(False)
            s.connect_ex(("127.0.0.1", server.port))
            socks.append(s)
        pending, connected = set(socks), 0
        deadline = 3.0
        while pending and deadline > 0:
            _r, writable, _x = select.select([], list(pending), [], 0.5)
            deadline -= 0.5
            for s in writable:
                pending.discard(s)
                connected += s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == 0
        assert connected == 300, f"{connected} of 300 connections queued"
    finally:
        for s in socks:
            s.close()
        server._httpd.server_close()


def _plan(site) -> tuple:
    """A plan as a crawler sees it: its reports, decoys and every page's bytes (PDFs by path: rendering them
    needs LibreOffice)."""
    pages = {}
    for path, make in sorted(site.pages.items()):
        if path.endswith(".pdf"):
            pages[path] = "pdf"
        else:
            r = make()
            pages[path] = (r.status, r.content_type, r.last_modified, r.body)
    return site.style, site.region, site.title, site.reports, site.decoys, pages


def test_the_plan_cache_is_bounded_and_a_miss_rebuilds_the_same_plan(monkeypatch):
    """At --sites 99999 the server kept every plan (about 156 KiB each: 15 GB); it keeps PLAN_CACHE_MAX (4,096)
    and rebuilds a plan it dropped, identical, from its seeds.  The cap is lowered to 16 here so that the walk
    over more sites than it holds stays small."""
    from crawler.demo import scale

    assert scale.Nation(99999)._site.cache_info().maxsize <= 4096
    monkeypatch.setattr(scale, "PLAN_CACHE_MAX", 16)
    nation = scale.Nation(99999, night=1)
    first = [_plan(nation.site(i)) for i in range(3)]
    for i in range(3, 60):
        nation.site(i)
    info = nation._site.cache_info()
    assert info.maxsize == 16 and info.currsize == 16
    misses = info.misses
    again = [_plan(nation.site(i)) for i in range(3)]  # dropped long ago: rebuilt
    assert nation._site.cache_info().misses == misses + 3 and nation._site.cache_info().currsize == 16
    assert again == first
    assert _plan(scale.Nation(99999, night=1).site(1)) == first[1]  # and a new server builds it the same
