"""The URL policy middleware, the shared decoder and visible_text, one piece at a time (no crawl).

The middleware is driven directly with requests that are never downloaded; host names resolve
through a stand-in resolver, so no lookup leaves the machine."""
from __future__ import annotations

import ipaddress
import time

import pytest
from scrapy.http import HtmlResponse, Request
from scrapy.utils.test import get_crawler

from crawler.middlewares import (OffThreadDecodeMiddleware, UrlPolicyMiddleware, UrlRefused, address_class,
                                 site_netlocs)
from crawler.parsing.extract import html as html_extract
from spiders import hostile
from spiders.portal import PortalSpider
from storage import decoding

SITES = [
    {"name": "public", "start_url": "https://www.example.gov.cn/zwgk/", "allowed_hosts": ["fj.example.gov.cn",
                                                                                        "files.example.gov.cn:8080"],
     "max_pages": 3},
    {"name": "demo", "start_url": "http://127.0.0.1:8765/zwgk/", "allowed_hosts": []},
]
NAMES = {"www.example.gov.cn": "202.96.1.10", "fj.example.gov.cn": "10.20.0.5",
         "files.example.gov.cn": "202.96.1.11"}


def _run(coro):
    """Run a coroutine that never waits on the reactor (the stand-in resolver answers at once)."""
    try:
        coro.send(None)
    except StopIteration as stop:
        return stop.value
    raise AssertionError("the middleware waited on the network")


@pytest.fixture
def policy():
    crawler = get_crawler(PortalSpider, {"NIANBAO_SITES": SITES})
    mw = UrlPolicyMiddleware.from_crawler(crawler)

    async def resolve(host):
        try:
            return ipaddress.ip_address(host)
        except ValueError:
            return ipaddress.ip_address(NAMES[host]) if host in NAMES else None

    mw._resolve = resolve
    return mw


def _status(mw, url: str, site: str | None = "public", **meta) -> str:
    try:
        _run(mw.process_request(Request(url, meta={"site": site, **meta} if site else meta)))
    except UrlRefused as e:
        assert hostile.classify_failure(e).status == e.fetch_status  # the errback names it the same
        return e.fetch_status
    return "ok"


def test_site_hosts_include_ports():
    hosts = site_netlocs("https://www.example.gov.cn/zwgk/", ["a.gov.cn", "b.gov.cn:8080"])
    assert hosts == {"www.example.gov.cn:80", "www.example.gov.cn:443", "a.gov.cn:80", "a.gov.cn:443",
                     "b.gov.cn:8080", "example.gov.cn:80", "example.gov.cn:443", "www.a.gov.cn:80",
                     "www.a.gov.cn:443", "www.b.gov.cn:8080"}
    assert site_netlocs("http://127.0.0.1:8765/", []) == {"127.0.0.1:8765"}


@pytest.mark.parametrize("ip, kind", [("127.0.0.1", "loopback"), ("::1", "loopback"), ("169.254.169.254", "link-local"),
                                      ("10.0.0.8", "private"), ("192.168.1.1", "private"), ("172.16.3.4", "private"),
                                      ("224.0.0.1", "multicast"), ("0.0.0.0", "unspecified"),
                                      ("240.0.0.1", "reserved"), ("::ffff:127.0.0.1", "loopback"),
                                      ("202.96.1.10", None), ("8.8.8.8", None)])
def test_address_classes(ip, kind):
    assert address_class(ipaddress.ip_address(ip)) == kind


@pytest.mark.parametrize("url, expected", [
    ("https://www.example.gov.cn/zwgk/nb/", "ok"),
    ("http://www.example.gov.cn/zwgk/nb/", "ok"),  # http <-> https on a host named without a port
    ("http://www.example.gov.cn:8080/zwgk/", "refused_offsite"),
    ("https://example.gov.cn/zwgk/", "ok"),  # the bare name of the www. host
    ("https://www2.example.gov.cn/zwgk/", "refused_offsite"),
    ("http://files.example.gov.cn:8080/a.pdf", "ok"),
    ("http://files.example.gov.cn/a.pdf", "refused_offsite"),  # named with a port: that port only
    ("http://evil.example.com/", "refused_offsite"),
    ("http://www.example.gov.cn.evil.com/", "refused_offsite"),
    ("file:///etc/passwd", "refused_scheme"),
    ("ftp://www.example.gov.cn/a.pdf", "refused_scheme"),
    ("http://fj.example.gov.cn/a.pdf", "refused_address"),  # an allowed name that resolves to 10.20.0.5
])
def test_policy_of_a_public_site(policy, url, expected):
    assert _status(policy, url) == expected


def test_loopback_and_metadata_refused_for_a_public_site_even_when_listed(policy):
    policy.netlocs["public"] = policy.netlocs["public"] | {"127.0.0.1:80", "169.254.169.254:80", "[::1]:80",
                                                           "::1:80"}
    assert _status(policy, "http://127.0.0.1/") == "refused_address"
    assert _status(policy, "http://169.254.169.254/latest/meta-data/") == "refused_address"
    assert _status(policy, "http://[::1]/") == "refused_address"


def test_a_site_on_loopback_may_stay_on_loopback(policy):
    assert _status(policy, "http://127.0.0.1:8765/zwgk/nb/", site="demo") == "ok"
    assert _status(policy, "http://127.0.0.1:22/", site="demo") == "refused_offsite"
    # a redirect hop keeps the site (meta is copied) and is judged like any request
    assert _status(policy, "http://169.254.169.254/", site="demo",
                   redirect_urls=["http://127.0.0.1:8765/zwgk/a.html"]) == "refused_offsite"


def test_robots_txt_request_without_a_site_is_judged_against_every_site(policy):
    assert _status(policy, "https://www.example.gov.cn/robots.txt", site=None) == "ok"
    assert _status(policy, "http://127.0.0.1:8765/robots.txt", site=None) == "ok"
    assert _status(policy, "http://evil.example.com/robots.txt", site=None) == "refused_offsite"


def test_page_budget_counts_requests_of_the_site(policy):
    got = [_status(policy, f"https://www.example.gov.cn/zwgk/{i}.html") for i in range(5)]
    assert got == ["ok", "ok", "ok", "cap_site_pages", "cap_site_pages"]
    assert policy.stats.get_value("nianbao/url_policy/cap_site_pages") == 2
    assert policy.stats.get_value("nianbao/site/public/url_policy/cap_site_pages") == 2
    assert _status(policy, "http://127.0.0.1:8765/a.html", site="demo") == "ok"  # another site's budget


def test_one_log_line_per_site_and_reason(policy, caplog):
    for i in range(20):
        _status(policy, f"http://evil.example.com/{i}")
    lines = [r for r in caplog.records if "refused_offsite" in r.getMessage()]
    assert len(lines) == 1 and not any(r.exc_info for r in caplog.records)
    assert policy.stats.get_value("nianbao/url_policy/refused_offsite") == 20


# -- one decoder -----------------------------------------------------------------------------------
TITLE = "某县2024年政府信息公开工作年度报告"


@pytest.mark.parametrize("body, content_type", [
    (f'<html><head><meta charset="gbk"><title>{TITLE}</title></head><body><h1>{TITLE}</h1></body></html>'
     .encode("utf-8"), "text/html; charset=gbk"),  # UTF-8 bytes labelled gbk
    (f"<html><head><title>{TITLE}</title></head><body><h1>{TITLE}</h1></body></html>".encode("gbk"),
     "text/html"),  # GBK without a declared charset
    (f'<html><head><meta charset="utf-8"><title>{TITLE}</title></head><body>{TITLE}</body></html>'
     .encode("gb18030"), None),  # GBK bytes labelled utf-8
])
def test_spider_and_parser_read_one_text(body, content_type):
    response = HtmlResponse("http://127.0.0.1/a.html", body=body, request=Request("http://127.0.0.1/a.html"),
                            headers={"Content-Type": content_type} if content_type else {})
    spider_text = PortalSpider(sites=[])._text(response)
    parsed = html_extract.extract(body, content_type=content_type)
    assert TITLE in spider_text
    assert parsed.metadata["title"] == TITLE
    assert spider_text == decoding.decode(body, content_type)[0]


def test_visible_text_is_linear_on_hostile_markup():
    assert hostile.visible_text("<p>你好</p><script>var a = '<p>不可见</p>';</script><style>p{}</style>世界") == "你好 世界"
    assert hostile.visible_text("") == "" and hostile.visible_text("纯文本") == "纯文本"
    for hostile_markup in ("<script " * 8192, "<a href=" * 8192, "<" * 65536, "<!--" * 16384):
        started = time.perf_counter()
        hostile.visible_text(hostile_markup)
        elapsed = time.perf_counter() - started
        assert elapsed < 1.0, (hostile_markup[:10], elapsed)  # the regex it replaces took 5 s on the first
    started = time.perf_counter()
    assert hostile.classify_response(200, "http://h/", ("<script " * 8192).encode()) is None
    assert time.perf_counter() - started < 1.0


def test_large_pages_are_decoded_off_the_reactor_thread(monkeypatch):
    crawler = get_crawler(PortalSpider, {"NIANBAO_DECODE_IN_THREAD_BYTES": 1000})
    mw = OffThreadDecodeMiddleware.from_crawler(crawler)
    calls = []

    def fake_defer(fn, *args):  # run where the middleware sends it, and note that it went there
        from twisted.internet.defer import succeed

        calls.append(fn.__name__)
        return succeed(fn(*args))

    monkeypatch.setattr("crawler.middlewares.deferToThread", fake_defer)
    body = ("<html><body><p>" + TITLE + "</p>" + "<p>正文。</p>" * 400 + "</body></html>").encode("gbk")
    request = Request("http://127.0.0.1/a.html")
    response = HtmlResponse(request.url, body=body, request=request, headers={"Content-Type": "text/html"})
    coro = mw.process_response(request, response)
    try:
        coro.send(None)
    except StopIteration:
        pass
    assert calls == ["_decode_and_read"]
    spider = PortalSpider(sites=[])
    assert spider._decoded(response)[0].startswith("<html><body><p>" + TITLE)
    assert spider._text(response) == decoding.decode(body, "text/html")[0]
    small = HtmlResponse(request.url, body=b"<p>x</p>", request=Request(request.url))
    coro = mw.process_response(small.request, small)
    try:
        coro.send(None)
    except StopIteration:
        pass
    assert calls == ["_decode_and_read"] and "decoded" not in small.meta


# -- page counts read from a page are clamped in the adapters (bounded requests and memory) --------------
def _peak(fn):
    import tracemalloc

    tracemalloc.start()
    try:
        result = fn()
        return result, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("script", [
    'createPageHTML(1000000, 0, "index", "html");',
    "createPageHTML('page_div', 1000000, 1, 'szywlist', 'shtml', 20000000);",
    "var currentPage = 0; var countPage = 1000000;",
    "createPageHTML(" + "9" * 5000 + ', 0, "index", "html");',  # more digits than int() accepts
])
def test_trs_page_count_bomb(script):
    from spiders.platforms import MAX_PAGES, trs

    text = f"<html><body><ul></ul><script>{script}</script></body></html>"
    listing, peak = _peak(lambda: trs.listing(text, "http://127.0.0.1/zfxxgknb/index.html"))
    assert 0 < len(listing.pages) <= MAX_PAGES and peak < 5 * 2**20, (len(listing.pages), peak)


def test_hanweb_totalrecord_bomb():
    from spiders.platforms import MAX_PAGES, hanweb

    text = ("<script type='text/xml'><datastore><recordset></recordset><totalrecord>999999999999999</totalrecord>"
            "</datastore></script><script>var param_1 = {col:1,appid:1,webid:3,path:'/',columnid:300,"
            "unitid:'9',webname:'x',permissiontype:0,perpage:0};</script>")
    listing, peak = _peak(lambda: hanweb.listing(text, "http://127.0.0.1/col/col300/index.html"))
    assert 0 < len(listing.pages) <= MAX_PAGES and peak < 5 * 2**20, (len(listing.pages), peak)


def test_gkmlpt_total_bomb():
    import json

    from spiders.platforms import MAX_PAGES, gkmlpt

    reply = json.dumps({"total": 10**12, "articles": [{"title": "x", "url": "/gkmlpt/content/0/1/post_1.html"}]})
    listing, peak = _peak(lambda: gkmlpt.parse_data(reply, "http://127.0.0.1/gkmlpt/api/all/66?page=1&sid=1"))
    assert 0 < len(listing.pages) <= MAX_PAGES and peak < 5 * 2**20, (len(listing.pages), peak)
