"""Platform adapters, title patterns and hostile-page detection on fixture pages (no crawl)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from spiders import hostile, platforms, titles
from spiders.platforms import generic, gkmlpt, hanweb, trs
from storage import decoding

FIX = Path(__file__).parent / "fixtures"


def read(name: str) -> str:
    return (FIX / name).read_text(encoding="utf-8")


# -- titles ------------------------------------------------------------------------------------
@pytest.mark.parametrize("title", [
    "杭州市余杭区卫生健康局2024年政府信息公开工作年度报告",
    "长春市卫生健康委员会2024年度政府信息公开工作年度报告",
    "2024年白渡镇政府信息公开工作年度报告",
    "2009年度下管镇政府信息公开年度报告",
    "城厢区卫生健康局2024年度政府信息公开工作报告",
    "宿州市人民政府2019年政府信息公开工作年度报告（图片版）",
    "某市2023年政府信息公开工作年度报告（超链版）",
    "某县 2024 年政府信息公开\u3000工作年度报告",
    "某县２０２４年政府信息公开工作年度报告",
    "某局2022年政府信息公开年报",
])
def test_report_titles_kept(title):
    assert titles.is_report_title(title)


@pytest.mark.parametrize("title", [
    "无锡经开区政法和应急管理局2021年政府信息公开年度工作报告说明",
    "关于召开2024年政府信息公开工作年度报告编制培训会的通知",
    "某县2024年政务公开工作总结",
    "某县2024年法治政府建设情况报告",
    "政府信息公开年报",
    "某县召开政务公开工作会议",
    "",
])
def test_non_report_titles_dropped(title):
    assert not titles.is_report_title(title)


def test_title_year_from_title_not_dates():
    assert titles.title_year("某县2024年政府信息公开工作年度报告") == 2024
    assert titles.title_year("２０２３年度某镇政府信息公开工作年度报告") == 2023


@pytest.mark.parametrize("text,url,expected", [
    ("政府信息公开年报", "http://x/zwgk/abc/", True),
    ("公开年报", "http://x/a/", True),
    ("年度报告", "http://x/a/", True),
    ("统计年报", "http://x/a/", False),
    ("政策文件", "http://x/zfxxgk/zfxxgknb/", False),
])
def test_column_texts(text, url, expected):
    assert titles.is_column_text(text) is expected


@pytest.mark.parametrize("url,expected", [
    ("http://x/zfxxgk/zfxxgknb/", True),
    ("http://x/zfxxgk/zfxxgknb/index.html", True),
    ("http://x/bmjz/zfxxgknb_97478/", True),
    ("http://x/zwgk/zfxxgk/zfxxgknb/gknb2017/", True),
    ("http://x/zfxxgk/zfxxgkndbg/2024nzfxxgkndbg/qzbm/", True),
    ("http://x/zcbm/swjw_3974/ndbg/", True),
    ("http://x/jkhq/nb2024bm/", True),
    ("http://x/xxgk/zcwj/", False),
    ("http://x/news/nba/", False),
])
def test_column_slugs(url, expected):
    assert titles.is_column_url(url) is expected


@pytest.mark.parametrize("url,expected", [
    ("http://x/a/202501/P020250117123456789012.pdf", True),
    ("http://x/module/download/downfile.jsp?classid=0&filename=ab12.pdf", True),
    ("http://x/a/b.DOCX", True),
    ("http://x/a/b.wps", True),
    ("http://x/a/b.xlsx", True),
    ("http://x/a/t20250101_1.html", False),
])
def test_attachment_urls(url, expected):
    assert titles.is_attachment_url(url) is expected


# -- TRS ----------------------------------------------------------------------------------------
def test_trs_4arg_pages_and_entries():
    url = "http://127.0.0.1/zwgk/zfxxgknb/index.html"
    text = read("trs_list_4arg.html")
    assert trs.detect(text, url)
    listing = trs.listing(text, url)
    assert [p.url for p in listing.pages] == ["http://127.0.0.1/zwgk/zfxxgknb/index_1.html",
                                              "http://127.0.0.1/zwgk/zfxxgknb/index_2.html"]
    by_url = {e.url: e for e in listing.entries}
    e = by_url["http://127.0.0.1/zwgk/zfxxgknb/202501/t20250121_4056262.html"]
    assert e.title == "某县卫生健康局2024年政府信息公开工作年度报告"  # @title, not the cut text
    assert e.date == "2025-01-21"  # date span inside the <a>
    e2 = by_url["http://127.0.0.1/zwgk/zfxxgknb/202501/t20250120_4056200.html"]
    assert e2.date == "2025-01-20"  # sibling span
    kept = [e.url for e in listing.entries if titles.is_report_title(e.title)]
    assert kept == ["http://127.0.0.1/zwgk/zfxxgknb/202501/t20250121_4056262.html",
                    "http://127.0.0.1/zwgk/zfxxgknb/202501/t20250120_4056200.html",
                    "http://127.0.0.1/zwgk/zfxxgknb/202501/P020250117123456789012.pdf"]


def test_trs_later_pages_announce_nothing():
    text = read("trs_list_4arg.html").replace("createPageHTML(3, 0,", "createPageHTML(3, 2,")
    assert trs.page_urls(text, "http://h/zfxxgknb/index_2.html") == []


def test_trs_6arg_is_one_based():
    url = "http://127.0.0.1/xxgk/ndbg/ndbglist.shtml"
    text = read("trs_list_6arg.html")
    assert trs.detect(text, url)
    assert trs.page_urls(text, url) == [f"http://127.0.0.1/xxgk/ndbg/ndbglist_{i}.shtml" for i in (2, 3, 4)]
    (entry,) = [e for e in trs.listing(text, url).entries if titles.is_report_title(e.title)]
    assert entry.date == "2018-01-10"  # date in the next <td>


def test_trs_countpage():
    url = "http://127.0.0.1/zfxxgk/zfxxgknb/"
    assert trs.page_urls(read("trs_countpage.html"), url) == [
        f"http://127.0.0.1/zfxxgk/zfxxgknb/index_{i}.html" for i in range(1, 5)]


# -- Hanweb -------------------------------------------------------------------------------------
def test_hanweb_inline_records_and_proxy_groups():
    url = "http://127.0.0.1/col/col1229000001/index.html"
    text = read("hanweb_col.html")
    assert platforms.detect(text, url) is hanweb
    listing = hanweb.listing(text, url)
    kept = [e for e in listing.entries if titles.is_report_title(e.title)]
    assert [e.url for e in kept] == ["http://127.0.0.1/art/2025/1/20/art_1229000001_98361.html",
                                     "http://127.0.0.1/art/2025/1/17/art_1229000001_98359.html"]
    assert kept[0].date == "2025-01-20"
    # 3 inline records of 100: the rest in groups of 45 (3 display pages of 15)
    ranges = [p.url.split("?", 1)[1] for p in listing.pages]
    assert ranges == ["startrecord=4&endrecord=48&perpage=15", "startrecord=49&endrecord=93&perpage=15",
                      "startrecord=94&endrecord=100&perpage=15"]
    p = listing.pages[0]
    assert p.method == "POST" and p.kind == "data"
    assert p.url.startswith("http://127.0.0.1/module/web/jpage/dataproxy.jsp?")
    form = dict(x.split("=", 1) for x in p.body.split("&"))
    assert form["columnid"] == "1229000001" and form["webid"] == "3016" and form["unitid"] == "6011"
    assert dict(p.headers)["X-Requested-With"] == "XMLHttpRequest"


def test_hanweb_proxy_reply():
    url = "http://127.0.0.1/module/web/jpage/dataproxy.jsp?startrecord=4&endrecord=48&perpage=15"
    listing = hanweb.parse_data(read("hanweb_proxy.xml"), url, referer="http://127.0.0.1/col/col1229000001/index.html")
    assert [e.title for e in listing.entries if titles.is_report_title(e.title)] == [
        "某县教育局2023年政府信息公开工作年度报告"]
    assert listing.entries[0].url == "http://127.0.0.1/art/2024/1/30/art_1229000001_90001.html"
    assert listing.pages == []  # totalrecord known: the column page asked for every group


def test_hanweb_proxy_without_total_asks_next_group_while_full():
    xml = read("hanweb_proxy.xml").replace("<totalrecord>100</totalrecord>", "")
    url = "http://127.0.0.1/module/web/jpage/dataproxy.jsp?startrecord=1&endrecord=2&perpage=1"
    listing = hanweb.parse_data(xml, url, referer="http://127.0.0.1/col/col1/index.html", body="columnid=1")
    assert [p.url.split("?", 1)[1] for p in listing.pages] == ["startrecord=3&endrecord=4&perpage=1"]


# -- gkmlpt -------------------------------------------------------------------------------------
def test_gkmlpt_shell_and_api_pages():
    url = "http://127.0.0.1/gkmlpt/index#2811"
    text = read("gkmlpt_index.html")
    assert platforms.detect(text, url) is gkmlpt
    listing = gkmlpt.listing(text, url)
    assert [p.url for p in listing.pages] == ["http://127.0.0.1/gkmlpt/api/all/2811?page=1&sid=755031"]
    api = listing.pages[0].url
    data = gkmlpt.parse_data(read("gkmlpt_api.json"), api)
    kept = [e for e in data.entries if titles.is_report_title(e.title)]
    assert [e.url for e in kept] == ["http://127.0.0.1/gkmlpt/content/4/4688/post_4688997.html",
                                     "http://127.0.0.1/gkmlpt/content/4/4688/post_4688995.html"]
    assert kept[0].date == "2025-01-20" and kept[1].date == "2025-01-15"
    # 230 rows, 3 per page here: pages 2..77 requested from page 1
    assert len(data.pages) == 76 and data.pages[-1].url.endswith("page=77&sid=755031")
    assert gkmlpt.parse_data(read("gkmlpt_api.json"), api.replace("page=1", "page=2")).pages == []


# -- generic + GBK ------------------------------------------------------------------------------
def test_generic_gbk_without_charset_and_next_link():
    body = (FIX / "generic_gbk.html").read_bytes()
    text, enc = decoding.decode(body, "text/html")
    assert enc == "gb18030" and "金厂镇" in text
    url = "http://127.0.0.1/xxgknb.htm"
    assert platforms.detect(text, url) is generic
    listing = generic.listing(text, url)
    assert [p.url for p in listing.pages] == ["http://127.0.0.1/xxgknb/2.htm"]
    kept = [e for e in listing.entries if titles.is_report_title(e.title)]
    assert [(e.url, e.date) for e in kept] == [("http://127.0.0.1/info/2381/644672.htm", "2025-01-22"),
                                               ("http://127.0.0.1/info/2381/644671.htm", "2025-01-21")]


def test_declared_gbk_meta_is_read_as_gb18030():
    body = '<html><head><meta charset="gb2312"></head><body>镇街</body></html>'.encode("gbk")
    text, enc = decoding.decode(body)
    assert enc == "gb18030" and "镇街" in text


# -- hostile ------------------------------------------------------------------------------------
def test_waf_412_challenge():
    body = (FIX / "waf_412.html").read_bytes()
    v = hostile.classify_response(412, "http://h/a/", body)
    assert v.status == hostile.WAF_412
    # the same script served with 200 is still a challenge, not content
    assert hostile.classify_response(200, "http://h/a/", body).status == hostile.WAF_412


def test_waf_521_cookie_dance():
    body = b"<script>document.cookie=('_')+('_jsl_clearance_s')+'=1';location.href=location.pathname</script>"
    v = hostile.classify_response(521, "http://h/", body, set_cookies=["__jsluid_s=abc; path=/"])
    assert v.status == hostile.WAF_521


def test_soft_404_and_real_page():
    assert hostile.classify_response(200, "http://h/x", (FIX / "soft_404.html").read_bytes()).status == hostile.SOFT_404
    assert hostile.classify_response(200, "http://h/x", read("trs_list_4arg.html").encode()) is None


def test_login_redirect():
    v = hostile.classify_response(200, "http://h/sso/login?service=x", b"<html>login</html>",
                                  redirect_urls=["http://h/zfxxgknb/"])
    assert v.status == hostile.LOGIN_REDIRECT


def test_js_only_listing():
    assert hostile.looks_js_only(read("js_only.html"))
    assert not hostile.looks_js_only(read("trs_list_4arg.html"))


def test_http_statuses():
    assert hostile.classify_response(503, "http://h/", b"busy").status == hostile.HTTP_5XX
    assert hostile.classify_response(404, "http://h/", b"nf").status == hostile.HTTP_404


def test_failure_names():
    from twisted.internet.error import TimeoutError as TxTimeout
    from scrapy.exceptions import IgnoreRequest

    from crawler.middlewares import RedirectLoop

    assert hostile.classify_failure(TxTimeout("User timeout caused connection failure.")).status == hostile.TIMEOUT
    assert hostile.classify_failure(RedirectLoop("redirect loop: a -> a")).status == hostile.REDIRECT_LOOP
    assert hostile.classify_failure(IgnoreRequest("Forbidden by robots.txt")).status == hostile.ROBOTS_DISALLOWED


# -- spider helpers -------------------------------------------------------------------------------
def test_images_of_image_only_reports():
    from parsel import Selector

    from spiders.portal import PortalSpider

    img_page = ('<html><body><img src="/logo.gif" width="120"><div class="TRS_Editor"><p>一、总体情况</p>'
                '<p><img src="./W020250120123.png" width="860"></p></div></body></html>')
    assert PortalSpider._table_images(Selector(text=img_page), "http://h/a/202501/t1.html") == [
        "http://h/a/202501/W020250120123.png"]
    with_table = img_page.replace("<p>一、总体情况</p>", "<table><tr><td>1</td></tr></table>")
    assert PortalSpider._table_images(Selector(text=with_table), "http://h/a/t1.html") == []
    custom = '<html><body><div id="art"><img src="/x/1.jpg"></div></body></html>'
    assert PortalSpider._table_images(Selector(text=custom), "http://h/", "#art") == ["http://h/x/1.jpg"]


@pytest.mark.parametrize("url,expected", [
    ("http://h/zwgk/zfxxgknb/2024n/", True),
    ("http://h/zwgk/zfxxgknb/2024n/index_1.html", True),
    ("http://h/col/col1229001/index.html", True),
    ("http://h/gkmlpt/index", True),
    ("http://h/xxgk/zfxxgknb.htm", True),
    ("http://h/zwgk/zfxxgknb/202501/t20250121_4056262.html", False),
    ("http://h/art/2025/1/20/art_1229_98361.html", False),
    ("http://h/gkmlpt/content/4/4688/post_4688997.html", False),
    ("http://h/info/1050/64208.htm", False),
    ("http://h/a/P020250117123456789012.pdf", False),
])
def test_listing_like_urls(url, expected):
    from spiders.portal import _listing_like

    assert _listing_like(url) is expected
