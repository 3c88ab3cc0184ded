"""Issue 9 items 1, 2, 4 on fixture pages (no crawl): the disclosure section and redirect shells, gkmlpt
category discovery, and the adapters for Hanweb JPaaS, the Hanweb annual-report module, VSB, UCAP,
numeric-column CMSs.  Fixtures are written from the markup of research/portals.md (§3.1, §3.3, §4, §5,
§8, §9), not printed by the code."""
from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import pytest

from spiders import navigation, platforms, titles
from storage import decoding
from spiders.platforms import gkmlpt, jpaas, ucap, vsb, xxgk_module

FIX = Path(__file__).parent / "fixtures"


def read(name: str) -> str:
    return (FIX / name).read_text(encoding="utf-8")


def reports(listing) -> list[str]:
    return [e.url for e in listing.entries if titles.is_report_title(e.title)]


# -- item 1: the way to the 年报 column ------------------------------------------------------------
@pytest.mark.parametrize("text,expected", [
    ("政府信息公开", True), ("信息公开", True), ("政务公开", True), ("公开目录", True), ("政府信息公开目录", True),
    ("政府信息公开指南", False), ("政府信息公开制度", False), ("依申请公开", False), ("政务公开工作要点", False),
    ("新闻中心", False), ("", False),
])
def test_disclosure_link_texts(text, expected):
    assert navigation.is_disclosure_text(text) is expected


@pytest.mark.parametrize("url,expected", [
    ("http://x.gov.cn/zwgk/", True), ("http://x.gov.cn/zfxxgk/index.html", True),
    ("http://x.gov.cn/xxgk/xxgkml/", True), ("http://x.gov.cn/gongkai/zfxxgkpt/", True),
    ("http://x.gov.cn/gkmlpt/index", True), ("http://x.gov.cn/xxgk44/", True),
    ("http://x.gov.cn/xwzx/", False), ("http://x.gov.cn/zwgk/202501/t20250121_1.html", False),
    ("http://x.gov.cn/", False),
])
def test_disclosure_urls(url, expected):
    assert navigation.is_disclosure_url(url) is expected


def test_redirect_shells():
    assert navigation.redirect_target(read("shell_replace.html"), "http://x.gov.cn/zwgk/") == (
        "http://x.gov.cn/zwgk/jbxxgk/index.html", "location.replace")
    assert navigation.redirect_target(read("shell_meta.html"), "http://x.gov.cn/") == (
        "http://x.gov.cn/zfxxgk/index.html", "meta refresh")
    shell = "<script>window.location.href = \"/xxgk/\";</script>"
    assert navigation.redirect_target(shell, "http://x.gov.cn/a/") == ("http://x.gov.cn/xxgk/", "location.href")
    # a full page with a location script in a menu handler is no shell
    full = "<p>" + "政府信息公开" * 60 + "</p><script>function go(){location.href='/x/'}</script>"
    assert navigation.redirect_target(full, "http://x.gov.cn/") is None
    assert navigation.redirect_target(read("home_footer.html"), "http://x.gov.cn/") is None


def test_other_scheme():
    assert navigation.other_scheme("https://x.gov.cn:8443/a?b=1") == "http://x.gov.cn:8443/a?b=1"
    assert navigation.other_scheme("http://x.gov.cn/") == "https://x.gov.cn/"
    assert navigation.other_scheme("file:///etc/passwd") is None


def test_home_page_footer_link_is_followed_and_the_guide_is_not():
    from spiders.portal import PortalSpider

    text = read("home_footer.html")
    sel = platforms.selector(text)
    picked = [link for a, link in platforms.anchors(sel, "http://x.gov.cn/")
              if PortalSpider._is_disclosure_link("http://x.gov.cn/", link,
                                                  titles.normalize(" ".join(a.xpath(".//text()").getall())))]
    assert picked == ["http://x.gov.cn/zfxxgk/index.html"]


# -- item 2: gkmlpt without a fragment --------------------------------------------------------------
def test_gkmlpt_root_lists_the_report_category_and_its_children_from_classify():
    listing = gkmlpt.listing(read("gkmlpt_classify.html"), "http://www.x.gov.cn/gkmlpt/index")
    cats = [urlsplit(p.url).path.rsplit("/", 1)[1] for p in listing.pages]
    assert cats == ["2810", "2811", "2812", "2815"]
    assert all(dict(parse_qsl(urlsplit(p.url).query)) == {"page": "1", "sid": "755031"} for p in listing.pages)
    # '#0' names the root too
    assert len(gkmlpt.listing(read("gkmlpt_classify.html"), "http://www.x.gov.cn/gkmlpt/index#0").pages) == 4
    # a fragment still wins
    one = gkmlpt.listing(read("gkmlpt_classify.html"), "http://www.x.gov.cn/gkmlpt/index#2811")
    assert [p.url for p in one.pages] == ["http://www.x.gov.cn/gkmlpt/api/all/2811?page=1&sid=755031"]


def test_gkmlpt_root_without_classify_asks_the_tree_api():
    listing = gkmlpt.listing(read("gkmlpt_index.html"), "http://www.x.gov.cn/gkmlpt/index")
    assert [(p.url, p.kind) for p in listing.pages] == [("http://www.x.gov.cn/gkmlpt/api/tree?sid=755031", "data")]
    tree = gkmlpt.parse_data(read("gkmlpt_tree.json"), "http://www.x.gov.cn/gkmlpt/api/tree?sid=755031")
    assert [p.url for p in tree.pages] == [f"http://www.x.gov.cn/gkmlpt/api/all/{c}?page=1&sid=755031"
                                           for c in (7, 8, 9)]
    with pytest.raises(ValueError):
        gkmlpt.parse_data("[1, 2]", "http://www.x.gov.cn/gkmlpt/api/all/7?page=1&sid=1")


# -- item 4: more platforms ------------------------------------------------------------------------
def test_jpaas_column_asks_build_unit_and_pages_by_count():
    text = read("jpaas_col.html")
    assert platforms.detect(text, "http://www.taizhou.gov.cn/col/col1229850/index.html") is jpaas
    listing = jpaas.listing(text, "http://www.taizhou.gov.cn/col/col1229850/index.html")
    (first,) = listing.pages
    q = dict(parse_qsl(urlsplit(first.url).query))
    assert urlsplit(first.url).path == "/api-gateway/jpaas-publish-server/front/page/build/unit"
    assert q["webId"] == "52" and q["pageId"] == "1229850" and json.loads(q["paramJson"]) == {"pageNo": 1, "pageSize": 15}
    data = jpaas.parse_data(read("jpaas_unit.json"), first.url, referer="http://www.taizhou.gov.cn/col/col1229850/index.html")
    assert reports(data) == ["http://www.taizhou.gov.cn/art/2025/1/20/art_1229850_4270101.html",
                             "http://www.taizhou.gov.cn/art/2025/1/22/art_1229850_4270188.html"]
    assert [e.date for e in data.entries if titles.is_report_title(e.title)] == ["2025-01-20", "2025-01-22"]
    # count 7, rows 3: pages 2 and 3
    assert [json.loads(dict(parse_qsl(urlsplit(p.url).query))["paramJson"])["pageNo"] for p in data.pages] == [2, 3]
    later = jpaas.parse_data(read("jpaas_unit.json"), data.pages[0].url, referer="http://www.taizhou.gov.cn/")
    assert later.pages == []
    with pytest.raises(ValueError):
        jpaas.parse_data('{"success": false}', first.url)


def test_hanweb_annual_report_module_links_and_year_selector():
    text = read("xxgk_module.html")
    assert platforms.detect(text, "http://www.lishui.gov.cn/col/col1/index.html") is xxgk_module
    listing = xxgk_module.listing(text, "http://www.lishui.gov.cn/col/col1/index.html")
    got = {(dict(parse_qsl(urlsplit(e.url).query))["fbtime"], dict(parse_qsl(urlsplit(e.url).query))["area"])
           for e in listing.entries if xxgk_module.MODULE_PATH in e.url}
    assert got == {("2017", "113325000026455663"), ("2016", "113325000026455663"),
                   ("2024", "11332500MB1234567X"), ("2023", "11332500MB1234567X")}
    assert all(titles.is_report_title(e.title) for e in listing.entries if xxgk_module.MODULE_PATH in e.url)
    assert "丽水市人民政府2016年政府信息公开工作年度报告" in [e.title for e in listing.entries]


def test_ucap_api_pages_until_an_empty_infolist():
    text = read("ucap_list.html")
    assert platforms.detect(text, "http://www.suzhou.gov.cn/szxxgk/nb/") is ucap
    listing = ucap.listing(text, "http://www.suzhou.gov.cn/szxxgk/nb/")
    assert reports(listing) == ["http://www.suzhou.gov.cn/szinf/info/s/202501/ab12.shtml"]  # the static fallback
    (api,) = listing.pages
    assert dict(parse_qsl(urlsplit(api.url).query)) == {"pagesize": "2", "currpage": "1",
                                                        "channelid": "2c9e3a1b4d5f60718293a4b5c6d7e8f9"}
    data = ucap.parse_data(read("ucap_api.json"), api.url, referer="http://www.suzhou.gov.cn/szxxgk/nb/")
    assert reports(data) == ["http://www.suzhou.gov.cn/szinf/info/s/202501/cd34.shtml"]  # 编制说明 is no report
    assert dict(parse_qsl(urlsplit(data.pages[0].url).query))["currpage"] == "2"
    assert ucap.parse_data(read("ucap_api_empty.json"), data.pages[0].url).pages == []


def test_vsb_listing_gbk_without_charset_and_its_pager():
    raw = (FIX / "vsb_list.html").read_bytes()
    text = decoding.decode(raw, "text/html")[0]
    url = "http://www.gangu.gov.cn/xxgk/zfxxgknb.htm"
    assert platforms.detect(text, url) is vsb
    listing = vsb.listing(text, url)
    assert reports(listing) == ["http://www.gangu.gov.cn/info/2381/644672.htm"]
    assert [p.url for p in listing.pages] == [f"http://www.gangu.gov.cn/xxgk/zfxxgknb/{n}.htm" for n in (6, 5, 4, 3, 2, 1)]
    assert titles.is_attachment_url("http://www.gangu.gov.cn/system/_content/download.jsp?urltype=news."
                                    "DownloadAttachUrl&owner=1538&wbfileid=5234567")


def test_numeric_column_cms_articles_are_directories():
    """bjdx.gov.cn: columns and articles are numeric directories; the entry's title decides."""
    text = read("numeric_col.html")
    listing = platforms.detect(text, "http://www.bjdx.gov.cn/bjsdxqrmzf/zwfw/zfxxgk/dxqzf69/2291822/2291824/").listing(
        text, "http://www.bjdx.gov.cn/bjsdxqrmzf/zwfw/zfxxgk/dxqzf69/2291822/2291824/", {})
    assert reports(listing) == ["http://www.bjdx.gov.cn/bjsdxqrmzf/zwfw/zfxxgk/dxqzf69/2291822/2291824/2292928/index.html",
                                "http://www.bjdx.gov.cn/bjsdxqrmzf/zwfw/zfxxgk/dxqzf69/2291822/2291824/2292931/index.html"]


def test_every_adapter_is_named_and_reachable():
    for name in ("trs", "hanweb", "gkmlpt", "jpaas", "hanweb_xxgk", "ucap", "vsb", "generic"):
        assert platforms.module(name).NAME == name
