"""The URL policy and the caps against a hostile portal on 127.0.0.1 (the traps of issue #9).

One crawl of a trap portal (``nianbao crawl``, a real Scrapy child process) answers most tests:
each trap is its own site, so each refusal is read back from the fetch journal with its status,
and the request log of the server shows what was (not) asked.  The crawl runs behind a trap HTTP
proxy on loopback (``http_proxy``/``https_proxy``, ``no_proxy=127.0.0.1``): a request that escaped
the policy, or a Public Suffix List download, would knock on it instead of leaving the machine,
and the tests assert that nobody knocked.  Markup follows ../shared/research/portals.md (TRS
createPageHTML lists, Hanweb datastore/dataproxy, gkmlpt shell and API, 下一页 links).
"""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import sqlite_utils
import yaml

sys.path.insert(0, str(Path(__file__).parent))
from minisite import MiniPortal, Resource, page, report_page  # noqa: E402

from storage.db import Store  # noqa: E402

pytestmark = pytest.mark.timeout(300)
ROOT = Path(__file__).resolve().parents[2]
NIANBAO = str(ROOT / ".venv/bin/nianbao")
MAX_LISTING_PAGES = 8
COOKIE = {"Set-Cookie": "JSESSIONID=7F3A9C; Path=/"}  # Scrapy's cookie jar asks tldextract about it


class TrapProxy:
    """A TCP listener that counts connections: the crawl's proxy for anything not on 127.0.0.1."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.knocks: list[bytes] = []
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            conn.settimeout(2)
            try:
                self.knocks.append(conn.recv(200))
            except OSError:
                self.knocks.append(b"")
            conn.close()

    def env(self) -> dict[str, str]:
        url = f"http://127.0.0.1:{self.port}"
        return {"http_proxy": url, "https_proxy": url, "HTTP_PROXY": url, "HTTPS_PROXY": url,
                "no_proxy": "127.0.0.1,localhost", "NO_PROXY": "127.0.0.1,localhost"}


def _li(href: str, title: str, date: str) -> str:
    return f'<li><a href="{href}" title="{title}" target="_blank">{title[:14]}…</a><span>{date}</span></li>'


def _column(title: str, items: list[str], extra: str = "") -> bytes:
    return page(title, f'<div class="list-item"><ul>{"".join(items)}</ul></div>{extra}')


class Resources(dict):
    """Static resources plus generated families (an endless pager, a million TRS pages)."""

    def __init__(self, *a, generators=(), **kw) -> None:
        super().__init__(*a, **kw)
        self.generators = list(generators)

    def get(self, key, default=None):
        if dict.__contains__(self, key):
            return dict.__getitem__(self, key)
        for prefix, make in self.generators:
            if key.startswith(prefix):
                return make(key)
        return default


def build_traps(base_port: int) -> tuple[Resources, dict]:
    """(resources, facts): ``facts`` names the paths each test looks at."""
    r = Resources()
    facts: dict = {}
    r["/robots.txt"] = Resource(b"User-agent: *\nDisallow: /private/\n", "text/plain")

    # -- A: redirects out of the site (3xx Location and a meta refresh shell) ---------------------
    col = "/zwgk/zfxxgknb/"
    good = f"{col}202501/t20250115_1001.html"
    r[good] = Resource(report_page("某县卫生健康局2024年政府信息公开工作年度报告", "2025-01-15"), headers=COOKIE)
    hops = {
        "offsite": ("http://www.example.com/zfxxgknb/t20250116_1002.html", "refused_offsite"),
        "metadata": ("http://169.254.169.254/latest/meta-data/iam/", "refused_address"),
        "private": ("http://10.0.0.8/zfxxgknb/t20250118_1004.html", "refused_address"),
        "loopback_port": (f"http://127.0.0.1:{base_port + 1 if base_port < 65535 else 1}/nb.html",
                          "refused_offsite"),
    }
    items = [_li("./202501/t20250115_1001.html", "某县卫生健康局2024年政府信息公开工作年度报告", "2025-01-15")]
    facts["redirects"] = {}
    for n, (name, (target, status)) in enumerate(hops.items()):
        path = f"{col}202501/t2025011{6 + n}_10{n + 2:02d}.html"
        r[path] = Resource(b"", status=302, headers={"Location": target})
        items.append(_li(f"./202501/t2025011{6 + n}_10{n + 2:02d}.html",
                         f"某县第{n + 1}局2024年政府信息公开工作年度报告", f"2025-01-1{6 + n}"))
        facts["redirects"][name] = (path, target, status)
    shell = f"{col}202501/t20250120_1009.html"  # a 160-byte meta refresh shell (portals.md §9)
    r[shell] = Resource(b'<html><head><meta http-equiv="refresh" content="0;url=http://169.254.169.254/'
                        b'latest/user-data"></head><body></body></html>')
    items.append(_li("./202501/t20250120_1009.html", "某县民政局2024年政府信息公开工作年度报告", "2025-01-20"))
    facts["meta_refresh"] = shell
    private = "/private/202501/t20250121_1010.html"
    r[private] = Resource(report_page("某县财政局2024年政府信息公开工作年度报告", "2025-01-21"))
    items.append(_li(private, "某县财政局2024年政府信息公开工作年度报告", "2025-01-21"))
    facts["robots"] = private
    r[col] = Resource(_column("政府信息公开年报", items), headers=COOKIE)
    facts["good"] = [good]

    # -- B: 下一页 to file:// and to a link-local address --------------------------------------
    col_b = "/xxgk/xxgknb/list.htm"
    good_b = "/xxgk/xxgknb/info/23/640.htm"
    r[good_b] = Resource(report_page("2024年金厂镇政府信息公开工作年度报告", "2025-01-22"))
    r[col_b] = Resource(_column("信息公开年报", [_li("./info/23/640.htm", "2024年金厂镇政府信息公开工作年度报告",
                                                 "2025-01-22")],
                                '<div class="page"><a href="file:///etc/passwd">下一页</a> '
                                '<a href="http://169.254.169.254/latest/meta-data/">下页</a></div>'))
    facts["good"].append(good_b)

    # -- C: createPageHTML(1000000, 0, …) --------------------------------------------------------
    col_c = "/bomb/trs/zfxxgknb/"
    bomb = '<script>createPageHTML(1000000, {cur}, "index", "html");</script>'
    good_c = f"{col_c}202501/t20250123_2002.html"
    r[good_c] = Resource(report_page("某县教育局2024年政府信息公开工作年度报告", "2025-01-23"))
    r[col_c] = Resource(_column("政府信息公开年报", [], bomb.format(cur=0)))

    def trs_page(path: str) -> Resource:
        n = int(path.rsplit("_", 1)[-1].split(".")[0])
        items = [_li("./202501/t20250123_2002.html", "某县教育局2024年政府信息公开工作年度报告", "2025-01-23")] \
            if n == 2 else []
        return Resource(_column("政府信息公开年报", items, bomb.format(cur=n)))

    r.generators.append((f"{col_c}index_", trs_page))
    facts["good"].append(good_c)
    facts["trs_bomb"] = col_c

    # -- D: Hanweb totalrecord bomb -------------------------------------------------------------
    recs = []
    for i in range(3):
        title = f"某县第{i + 1}街道2024年政府信息公开工作年度报告"
        path = f"/art/2025/1/{24 + i}/art_300_{700 + i}.html"
        r[path] = Resource(report_page(title, f"2025-01-{24 + i}"))
        recs.append(f'<record><![CDATA[<li><a href="{path}" title="{title}" target="_blank">{title}</a>'
                    f'<span class="fr">2025-01-{24 + i}</span></li>]]></record>')
        facts["good"].append(path)
    r["/col/col300/index.html"] = Resource(page("部门信息公开年报", (
        '<div id="300"><script type="text/xml"><datastore><nextgroup><![CDATA[<a href="/module/web/jpage/'
        'dataproxy.jsp?page=1&appid=1&webid=3&path=/&columnid=300&unitid=9&webname=某县&permissiontype=0">'
        ']]></nextgroup><recordset>' + recs[0] + "</recordset><totalrecord>99999999</totalrecord></datastore>"
        "</script><script>var param_9 = {col:1,appid:1,webid:3,path:'/',columnid:300,sourceContentType:1,"
        "unitid:'9',webname:'某县',permissiontype:0};</script></div>")))

    def dataproxy(q: dict, form: dict) -> Resource:
        s, e = int(q.get("startrecord", 1)), int(q.get("endrecord", 45))
        got = "".join(recs[s - 1:e]) if form.get("columnid") == "300" else ""
        return Resource(('<?xml version="1.0" encoding="UTF-8"?><datastore><recordset>' + got +
                         "</recordset><totalrecord>99999999</totalrecord></datastore>").encode(),
                        "text/xml;charset=UTF-8")

    facts["dataproxy"] = dataproxy

    # -- E: gkmlpt total bomb -------------------------------------------------------------------
    r["/gkmlpt/index"] = Resource(page("政府信息公开", "<script>window._CONFIG = {SID: '8001'};</script>"
                                                     "<div id='app'></div>"))
    gk = "/gkmlpt/content/0/3/post_8801.html"
    r[gk] = Resource(report_page("某县水务局2024年度政府信息公开工作年度报告", "2025-01-27"))
    facts["good"].append(gk)

    def gkmlpt_api(q: dict, form: dict) -> Resource:
        arts = [{"id": 8801, "title": "某县水务局2024年度政府信息公开工作年度报告", "url": gk,
                 "create_time": 1737936000}] if q.get("page") == "1" and q.get("sid") == "8001" else []
        return Resource(json.dumps({"total": 10**9, "articles": arts}).encode(), "application/json")

    facts["gkmlpt_api"] = gkmlpt_api

    # -- F: an endless 下一页 chain ---------------------------------------------------------------
    col_f = "/chain/zfxxgknb/list.htm"
    good_f = "/chain/zfxxgknb/202501/t20250128_3002.html"
    r[good_f] = Resource(report_page("某县交通运输局2024年政府信息公开工作年度报告", "2025-01-28"))
    facts["good"].append(good_f)
    facts["chain"] = col_f

    def chain(q: dict, form: dict) -> Resource:
        p = int(q.get("p", 1))
        items = [_li("./202501/t20250128_3002.html", "某县交通运输局2024年政府信息公开工作年度报告",
                     "2025-01-28")] if p == 2 else []
        return Resource(_column("政府信息公开年报", items, f'<a href="list.htm?p={p + 1}">下一页</a>'))

    facts["chain_route"] = chain

    # -- G: a site over its page budget -----------------------------------------------------------
    col_g = "/budget/zfxxgknb/"
    items = []
    for i in range(30):
        path = f"{col_g}202501/t20250129_40{i:02d}.html"
        title = f"某县第{i + 1}办事处2024年政府信息公开工作年度报告"
        r[path] = Resource(report_page(title, "2025-01-29"))
        items.append(_li(f"./202501/t20250129_40{i:02d}.html", title, "2025-01-29"))
    r[col_g] = Resource(_column("政府信息公开年报", items))
    facts["budget"] = col_g
    return r, facts


SITES = {
    "redirects": ("/zwgk/zfxxgknb/", {"allowed_hosts": ["169.254.169.254", "10.0.0.8"]}),
    "pager": ("/xxgk/xxgknb/list.htm", {}),
    "trs-bomb": ("/bomb/trs/zfxxgknb/", {}),
    "hanweb-bomb": ("/col/col300/index.html", {}),
    "gkmlpt-bomb": ("/gkmlpt/index#66", {}),
    "chain": ("/chain/zfxxgknb/list.htm?p=1", {}),
    "budget": ("/budget/zfxxgknb/", {"max_pages": 6}),
}


@pytest.fixture(scope="module")
def trap_crawl(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("traps")
    portal = MiniPortal({})
    resources, facts = build_traps(portal.port)
    portal.resources = resources
    portal.routes["/module/web/jpage/dataproxy.jsp"] = facts["dataproxy"]
    portal.routes["/gkmlpt/api/all/66"] = facts["gkmlpt_api"]
    portal.routes["/chain/zfxxgknb/list.htm"] = facts["chain_route"]
    proxy = TrapProxy()
    with portal:
        cfg = tmp / "config.yaml"
        cfg.write_text(yaml.safe_dump({
            "database": str(tmp / "n.db"),
            "crawl": {"download_delay": 0, "autothrottle": False, "timeout": 5, "retries": 0,
                      "max_listing_pages": MAX_LISTING_PAGES},
            "sites": [{"name": n, "start_url": portal.base + path, **extra} for n, (path, extra) in SITES.items()],
        }, allow_unicode=True))
        # a fresh HOME: no Public Suffix List cached from an earlier run can hide a download
        env = {**os.environ, **proxy.env(), "HOME": str(tmp), "XDG_CACHE_HOME": str(tmp / "cache"),
               "NIANBAO_SCRAPY_LOG_LEVEL": "INFO"}
        env.pop("TLDEXTRACT_CACHE", None)
        out = subprocess.run([NIANBAO, "--config", str(cfg), "crawl", "--no-progress"], capture_output=True,
                             text=True, timeout=240, env=env)
    store = Store(tmp / "n.db")
    run = store.last_runs(1, kind="crawl")[0]
    stats = run["stats"] if isinstance(run["stats"], dict) else json.loads(run["stats"])
    db = sqlite_utils.Database(store.path)
    journal: dict[str, list[str]] = {}
    for row in db["fetches"].rows_where("run_id = ?", [run["id"]]):
        journal.setdefault(row["url"], []).append(row["fetch_status"])
    yield {"out": out, "portal": portal, "facts": facts, "store": store, "stats": stats, "journal": journal,
           "proxy": proxy, "base": portal.base}
    store.close()


def _requests(crawl, prefix: str) -> list[str]:
    return [path for _m, path, _h, _c in crawl["portal"].log if path.startswith(prefix)]


def test_the_crawl_ends_cleanly_without_traceback_and_nothing_leaves_loopback(trap_crawl):
    out = trap_crawl["out"]
    print("\n" + out.stdout)
    assert out.returncode == 0, out.stderr[-3000:]
    assert "Traceback" not in out.stdout + out.stderr
    # nothing knocked on the trap proxy: no request escaped, no suffix list was downloaded
    assert trap_crawl["proxy"].knocks == []
    assert "publicsuffix" not in (out.stdout + out.stderr).lower()
    # the rest of every site was crawled: each planted report stored
    store, base = trap_crawl["store"], trap_crawl["base"]
    missing = [p for p in trap_crawl["facts"]["good"] if not store.fetch_cache(base + p)]
    assert missing == []


@pytest.mark.parametrize("name", ["offsite", "metadata", "private", "loopback_port"])
def test_redirect_out_of_the_site_is_refused_before_any_connection(trap_crawl, name):
    path, target, status = trap_crawl["facts"]["redirects"][name]
    base = trap_crawl["base"]
    assert trap_crawl["journal"][base + path] == [status]
    assert not trap_crawl["store"].fetch_cache(base + path) and not trap_crawl["store"].fetch_cache(target)
    assert trap_crawl["stats"]["scrapy"][f"nianbao/url_policy/{status}"] >= 1
    assert trap_crawl["stats"]["sites"]["redirects"]["skipped"][status] >= 1


def test_meta_refresh_to_a_link_local_address_is_refused(trap_crawl):
    url = trap_crawl["base"] + trap_crawl["facts"]["meta_refresh"]
    assert trap_crawl["journal"][url] == ["refused_address"]


def test_next_page_to_file_and_to_link_local_is_refused(trap_crawl):
    journal = trap_crawl["journal"]
    assert journal["file:///etc/passwd"] == ["refused_scheme"]
    assert journal["http://169.254.169.254/latest/meta-data/"] == ["refused_offsite"]
    pager = trap_crawl["stats"]["sites"]["pager"]
    assert pager["skipped"] == {"refused_scheme": 1, "refused_offsite": 1} and pager["status"] == "ok"


def test_robots_disallow_is_counted_as_skipped_not_a_failure(trap_crawl):
    url = trap_crawl["base"] + trap_crawl["facts"]["robots"]
    assert trap_crawl["journal"][url] == ["robots_disallowed"]
    assert not _requests(trap_crawl, "/private/")
    site = trap_crawl["stats"]["sites"]["redirects"]
    assert site["skipped"]["robots_disallowed"] == 1 and "robots_disallowed" not in site["failures"]
    assert site["status"] == "ok"  # refusals and robots.txt are policy: the site is not failing
    assert "skipped: " in trap_crawl["out"].stdout


def test_trs_page_count_bomb_is_clamped(trap_crawl):
    col = trap_crawl["facts"]["trs_bomb"]
    asked = _requests(trap_crawl, col + "index_")
    assert 0 < len(asked) <= MAX_LISTING_PAGES - 1, len(asked)
    assert trap_crawl["journal"][trap_crawl["base"] + col] == ["cap_listing_pages"]
    site = trap_crawl["stats"]["sites"]["trs-bomb"]
    assert site["failures"] == {"cap_listing_pages": 1} and site["status"] == "partial"


def test_hanweb_totalrecord_bomb_is_clamped(trap_crawl):
    posts = _requests(trap_crawl, "/module/web/jpage/dataproxy.jsp")
    assert 0 < len(posts) <= MAX_LISTING_PAGES - 1, len(posts)
    assert trap_crawl["stats"]["sites"]["hanweb-bomb"]["failures"] == {"cap_listing_pages": 1}


def test_gkmlpt_total_bomb_is_clamped(trap_crawl):
    api = _requests(trap_crawl, "/gkmlpt/api/all/66")
    # the first API page plus at most the listing cap of further pages
    assert 0 < len(api) <= MAX_LISTING_PAGES, len(api)
    assert trap_crawl["stats"]["sites"]["gkmlpt-bomb"]["failures"] == {"cap_listing_pages": 1}


def test_endless_next_page_chain_stops(trap_crawl):
    asked = _requests(trap_crawl, trap_crawl["facts"]["chain"])
    assert len(asked) == MAX_LISTING_PAGES, asked
    assert trap_crawl["stats"]["sites"]["chain"]["failures"] == {"cap_listing_pages": 1}


def test_site_page_budget(trap_crawl):
    asked = [p for p in _requests(trap_crawl, trap_crawl["facts"]["budget"])]
    assert len(asked) == 6, asked  # max_pages: 6 (the column page and five reports)
    site = trap_crawl["stats"]["sites"]["budget"]
    assert site["reports"] == 5 and site["failures"]["cap_site_pages"] == 30 - 5
    assert site["status"] == "partial"  # cut short, not failed: five reports were read
    journaled = [u for u, st in trap_crawl["journal"].items() if "cap_site_pages" in st]
    assert len(journaled) == 1  # one fact per site, the other refusals counted
    assert "cut short by cap_site_pages" in trap_crawl["out"].stdout


def test_requests_and_memory_are_bounded(trap_crawl):
    total = len(trap_crawl["portal"].log)
    stats = trap_crawl["stats"]
    print(f"\ntrap crawl: {total} requests served, peak RSS {stats['peak_rss_mb']:.0f} MB")
    assert total < 120
    assert stats["peak_rss_mb"] < 400
    assert stats["scrapy"].get("scheduler/enqueued", 0) < 200
