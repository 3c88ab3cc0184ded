"""The spider reads a report page's visible text from the tree it already parsed, and the hostile
verdict skips the visible text when no verdict can depend on it.  Both are checked against the
plain reading (``visible_text`` of its own tree, computed eagerly) on every HTML fixture (pages
saved from real portals: TRS, Hanweb, gkmlpt, VSB, UCAP, NFCMS…) and on hostile pages shaped after
../shared/research/portals.md §9 (瑞数 $_ts, 加速乐 __jsl_clearance, login walls, soft 404s)."""
from __future__ import annotations

from pathlib import Path

import pytest

from spiders import hostile
from spiders.platforms import selector
from storage.decoding import decode

HERE = Path(__file__).parent
FIXTURES = sorted(p for d in (HERE / "fixtures", HERE.parent / "fixtures" / "metadata")
                  for p in d.iterdir() if p.suffix in (".html", ".htm", ".shtml"))
FILLER = "<script>var conf = {a: 1};</script>" * 200  # markup that is not text, to pass 4 KB

CRAFTED = {
    # a login wall of > 4 KB: the words as character references, the password field in markup
    "login_escaped": "<html><body>" + FILLER + "<h2>&#29992;&#25143;&#30331;&#24405;</h2>"
                     "<form><input type=text name=u><input type=password name=p></form></body></html>",
    "login_plain": "<html><head><title>统一身份认证</title></head><body>" + FILLER +
                   "<p>账号登录</p><label>密码</label><input type=\"password\"></body></html>",
    "ts_200": "<html><head><script>$_ts=window['$_ts'];$_ts.nsd=1;</script></head><body>" + FILLER + "</body></html>",
    "jsl_200": "<html><script>document.cookie='__jsl_clearance=1;'</script>" + FILLER + "</html>",
    "soft_404_small": "<html><body><h1>您访问的页面不存在</h1></body></html>",
    "waf_small": "<html><body><p>安全验证中，请稍候…</p></body></html>",
    "comments_and_templates": "<p>一<!-- 注释 -->二</p><template><p>模板</p></template><noscript>请启用脚本</noscript>"
                              "<script>var x='<b>否</b>'</script>尾<style>b{}</style><b>三</b>&amp;&#x56db;",
    "report_page": "<html><head><meta name=\"PubDate\" content=\"2024-01-18\"></head><body>" + FILLER +
                   "<div class=\"TRS_Editor\"><p>发布时间：2024-01-18</p><p>一、总体情况</p></div></body></html>",
}


def _pages():
    for p in FIXTURES:
        yield p.name, decode(p.read_bytes(), "text/html")[0]
    yield from CRAFTED.items()


PAGES = list(_pages())


@pytest.mark.parametrize("name,text", PAGES, ids=[n for n, _ in PAGES])
def test_visible_text_of_the_shared_tree_equals_its_own_reading(name, text):
    shared, own = hostile.visible_text_of(selector(text).root), hostile.visible_text(text)
    if name in CRAFTED:  # where a comment stood inside a text, the shared tree keeps a space there
        assert shared.replace(" ", "") == own.replace(" ", "")
    else:  # every page saved from a portal: the same text exactly
        assert shared == own


@pytest.mark.parametrize("name,text", PAGES, ids=[n for n, _ in PAGES])
@pytest.mark.parametrize("status", [200, 412, 521])
def test_verdict_without_visible_text_equals_the_eager_one(name, text, status):
    body = text.encode("utf-8")
    for url, redirects in (("http://h/a.html", None), ("http://h/sso/login?x=1", ["http://h/a.html"])):
        eager = hostile.classify_response(status, url, body, text=text, redirect_urls=redirects,
                                          content_type="text/html", visible=hostile.visible_text(text[:65536]))
        lazy = hostile.classify_response(status, url, body, text=text, redirect_urls=redirects,
                                         content_type="text/html")
        assert lazy == eager, (name, status, url)


def test_the_crafted_pages_draw_the_verdicts_they_were_written_for():
    def verdict(name):
        text = CRAFTED[name]
        v = hostile.classify_response(200, "http://h/a.html", text.encode(), text=text, content_type="text/html")
        return v.status if v else None

    assert len(CRAFTED["login_escaped"].encode()) > 4096 and verdict("login_escaped") == hostile.LOGIN_REDIRECT
    assert verdict("login_plain") == hostile.LOGIN_REDIRECT
    assert verdict("ts_200") == hostile.WAF_412 and verdict("jsl_200") == hostile.WAF_521
    assert verdict("soft_404_small") == hostile.SOFT_404 and verdict("waf_small") == hostile.WAF_OTHER
    assert verdict("report_page") is None


def test_a_large_content_page_is_not_read_for_visible_text(monkeypatch):
    calls = []
    monkeypatch.setattr(hostile, "visible_text", lambda html: calls.append(1) or "")
    text = CRAFTED["report_page"]
    assert hostile.classify_response(200, "http://h/a.html", text.encode(), text=text, content_type="text/html") is None
    assert calls == []


def test_page_date_falls_back_to_the_visible_publication_line():
    from spiders.portal import PortalSpider

    page = "<html><body>" + FILLER + "<div><span>发布日期：</span><span>2025-01-20</span></div></body></html>"
    assert PortalSpider._page_date(page) == "2025-01-20"
    assert PortalSpider._page_date(CRAFTED["report_page"]) == "2024-01-18"
    # a date inside a script is not the page's date
    assert PortalSpider._page_date("<html><script>var s='发布日期：2020-01-01'</script><p>正文</p></html>") is None


def test_hidden_text_equal_to_a_visible_one_costs_at_most_an_order():
    page = "<p>同</p><p>异</p><script>同</script><style>异</style><p>末</p>"
    shared = hostile.visible_text_of(selector(page).root)
    assert sorted(shared.split()) == sorted(hostile.visible_text(page).split()) == ["同", "异", "末"]
