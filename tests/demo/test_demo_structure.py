"""The demo portal serves the structures of real platforms (research/portals.md), read here directly."""
from __future__ import annotations

import json
import re
from urllib.parse import urljoin

import lxml.etree
import lxml.html
import pytest

from crawler.demo.sites.platforms import GKMLPT, HANWEB, VSB

MAGIC = {"pdf": b"%PDF", "docx": b"PK\x03\x04", "doc": b"\xd0\xcf\x11\xe0", "image": b"\x89PNG"}


def links(html: bytes | str, base: str) -> list[tuple[str, str, str]]:
    """(absolute href, @title, text) of every <a>."""
    doc = lxml.html.fromstring(html)
    return [(urljoin(base, a.get("href")), a.get("title") or "", a.text_content().strip())
            for a in doc.iter("a") if a.get("href")]


def test_start_page_leads_to_the_report_column_by_its_link_text(portal, base_url, get):
    start = portal.start_url(base_url)
    r = get(start)
    assert r.status == 200 and "示例数据" in r.text()
    column = [h for h, _, t in links(r.body, start) if t == "政府信息公开年报"]
    assert column == [base_url + "/zwgk/zfxxgknb/index.html"]
    years = {t: h for h, _, t in links(get(column[0]).body, column[0])}
    assert {"2023年度", "2024年度"} <= set(years)
    cats = {t: h for h, _, t in links(get(years["2024年度"]).body, years["2024年度"])}
    assert {"区政府", "区政府部门", "乡镇街道"} <= set(cats)
    units = {t: h for h, _, t in links(get(cats["乡镇街道"]).body, cats["乡镇街道"])}
    assert {"长安镇", "建设街道"} <= set(units)


def _trs_pages(get, coldir: str) -> tuple[list[str], list[bytes]]:
    first = get(coldir + "index.html")
    assert first.status == 200
    text = first.text()
    if m := re.search(r'createPageHTML\(\s*"page_div"\s*,\s*(\d+)\s*,\s*1\s*,\s*"index"\s*,\s*"html"\s*,\s*(\d+)', text):
        n = int(m.group(1))
        names = ["index.html"] + [f"index_{i}.html" for i in range(2, n + 1)]
        beyond = f"index_{n + 1}.html"
    elif m := re.search(r'createPageHTML\((\d+), 0, "index", "html"\)', text):
        n = int(m.group(1))
        names = ["index.html"] + [f"index_{i}.html" for i in range(1, n)]
        beyond = f"index_{n}.html"
    else:
        m = re.search(r"var countPage = (\d+)", text)
        assert m, f"{coldir}: no pagination script"
        n = int(m.group(1))
        names = ["index.html"] + [f"index_{i}.html" for i in range(1, n)]
        beyond = f"index_{n}.html"
    bodies = []
    for name in names:
        r = get(coldir + name)
        assert r.status == 200, coldir + name
        bodies.append(r.body)
    assert get(coldir + beyond).status == 404
    return [coldir + n for n in names], bodies


@pytest.mark.parametrize("col,style", [("2024n/qzf/", "6-arg"), ("2024n/qzfbm/", "4-arg"),
                                       ("2023n/qzfbm/", "4-arg"), ("2024n/xzjd/jsjd/", "countPage")])
def test_trs_columns_paginate_and_list_every_report(portal, base_url, get, col, style):
    coldir = f"{base_url}/zwgk/zfxxgknb/{col}"
    urls, bodies = _trs_pages(get, coldir)
    assert len(urls) >= 2, f"{col}: pagination across pages"
    listed = {h: t for u, b in zip(urls, bodies) for h, t, _ in links(b, u) if re.search(r"/t\d{8}_\d+\.html$", h)}
    mine = [r for r in portal.expected_reports(base_url) if r.url.startswith(coldir)]
    assert mine and all(listed.get(r.url) == r.title for r in mine)
    assert len(listed) > len(mine), "non-report entries are listed too"
    for r in mine:
        assert re.search(r"/\d{6}/t\d{8}_\d+\.html$", r.url)
        page = get(r.url)
        doc = lxml.html.fromstring(page.body)
        assert doc.xpath('//meta[@name="ArticleTitle"]/@content') == [r.title]
        assert doc.xpath('//meta[@name="PubDate"]/@content')[0].startswith(r.page_date)
        body = doc.xpath('//div[@class="TRS_Editor"]')
        assert body and "示例数据" in body[0].text_content()


def test_trs_attachments_sit_beside_the_article(portal, base_url, get):
    seen = set()
    for r in portal.expected_reports(base_url):
        if r.site != "dongfeng":
            continue
        page = get(r.url)
        for fmt, url in r.attachments.items():
            seen.add(fmt)
            name = url.rsplit("/", 1)[1]
            assert url.rsplit("/", 1)[0] == r.url.rsplit("/", 1)[0]
            if fmt != "image":
                assert re.fullmatch(rf"P0{r.page_date.replace('-', '')}\d{{12}}\.{fmt}", name)
                assert f'href="./{name}"'.encode() in page.body
            a = get(url)
            assert a.status == 200 and a.body.startswith(MAGIC[fmt]), url
    assert {"pdf", "docx", "doc"} <= seen


def test_hanweb_inline_records_and_dataproxy_cover_the_column(portal, base_url, get):
    col = f"{base_url}/col/col{HANWEB['columnid']}/index.html"
    page = get(col).text()
    m = re.search(r'<script type="text/xml">(.*?)</script>', page, re.S)
    inline = lxml.etree.fromstring(m.group(1).encode()).findall("recordset/record")
    assert len(inline) == 45
    total = int(re.search(r"totalRecord:(\d+)", page).group(1))
    assert total > 45 and "dataproxy.jsp" in page and f"columnid:{HANWEB['columnid']}" in page
    form = (f"col=1&appid=1&webid={HANWEB['webid']}&path=/&columnid={HANWEB['columnid']}&sourceContentType=1"
            f"&unitid={HANWEB['unitid']}&webname=x&permissiontype=0").encode()
    hdr = {"Content-Type": "application/x-www-form-urlencoded; charset=UTF-8", "X-Requested-With": "XMLHttpRequest"}
    records = [r.text for r in inline]
    start = 46
    while start <= total:
        r = get(f"{base_url}/module/web/jpage/dataproxy.jsp?startrecord={start}&endrecord={start + 44}&perpage=15",
                "POST", hdr, form)
        assert r.status == 200 and r.headers["content-type"].startswith("text/xml")
        assert b"<![CDATA[" in r.body
        xml = lxml.etree.fromstring(r.body)
        assert int(xml.findtext("totalrecord")) == total
        records += [x.text for x in xml.findall("recordset/record")]
        start += 45
    assert len(records) == total
    hrefs = {re.search(r'href="([^"]+)"', x).group(1) for x in records}
    mine = [r for r in portal.expected_reports() if r.site == "shizhong"]
    assert {r.url for r in mine} <= hrefs
    assert all(re.fullmatch(rf"/art/\d{{4}}/[1-9]\d?/[1-9]\d?/art_{HANWEB['columnid']}_\d+\.html", h) for h in hrefs)
    # an unknown column gets an empty datastore
    other = get(f"{base_url}/module/web/jpage/dataproxy.jsp?startrecord=1&endrecord=45&perpage=15", "POST", hdr,
                b"columnid=999")
    assert lxml.etree.fromstring(other.body).findall("recordset/record") == []


def test_hanweb_article_and_downfile_redirect(portal, base_url, get):
    r = next(x for x in portal.expected_reports(base_url) if x.site == "shizhong" and "pdf" in x.formats)
    doc = lxml.html.fromstring(get(r.url).body)
    assert doc.xpath('//div[@id="zoom"]') and "发布机构" in doc.text_content()
    href = [a.get("href") for a in doc.iter("a") if "downfile.jsp" in (a.get("href") or "")]
    assert href and href[0].startswith("/module/download/downfile.jsp?classid=0&filename=")
    hop = get(base_url + href[0])
    assert hop.status == 302 and hop.headers["location"].startswith("/attach/0/")
    pdf = get(base_url + hop.headers["location"])
    assert pdf.status == 200 and pdf.body.startswith(b"%PDF") and base_url + hop.headers["location"] == r.attachments["pdf"]


def test_gkmlpt_shell_and_json_api(portal, base_url, get):
    site = next(s for s in portal.site_configs(base_url) if s["name"] == "yimei")
    assert site["start_url"].endswith(f"/gkmlpt/index#{GKMLPT['cat']}")
    shell = get(site["start_url"].split("#")[0]).text()
    sid = re.search(r"SID:\s*'(\d+)'", shell).group(1)
    first = json.loads(get(f"{base_url}/gkmlpt/api/all/{GKMLPT['cat']}?page=1&sid={sid}").body)
    pages = -(-first["total"] // len(first["articles"]))
    assert pages >= 3
    arts = []
    for n in range(1, pages + 1):
        arts += json.loads(get(f"{base_url}/gkmlpt/api/all/{GKMLPT['cat']}?page={n}&sid={sid}").body)["articles"]
    assert len(arts) == first["total"] and len({a["id"] for a in arts}) == len(arts)
    assert json.loads(get(f"{base_url}/gkmlpt/api/all/{GKMLPT['cat']}?page=0&sid={sid}").body) == first
    assert json.loads(get(f"{base_url}/gkmlpt/api/all/{GKMLPT['cat']}?page=1&sid=1").body)["articles"] == []
    for a in arts:
        assert {"id", "title", "url", "publisher", "create_time", "display_publish_time"} <= set(a)
        assert re.fullmatch(rf"{base_url}/gkmlpt/content/\d+/\d+/post_{a['id']}\.html", a["url"])
    by_url = {a["url"]: a["title"] for a in arts}
    for r in portal.expected_reports(base_url):
        if r.site == "yimei":
            assert by_url[r.url] == r.title
            assert lxml.html.fromstring(get(r.url).body).xpath('//div[@class="article-content"]')


def test_vsb_is_gbk_without_charset_and_pages_by_next_links(portal, base_url, get):
    url = base_url + VSB["list"]
    seen, pages = [], 0
    while url:
        r = get(url)
        assert r.status == 200 and r.headers["content-type"] == "text/html"
        with pytest.raises(UnicodeDecodeError):
            r.body.decode("utf-8")
        text = r.body.decode("gbk")
        pages += 1
        ls = links(text, url)
        seen += [h for h, _, _ in ls if "/info/" in h]
        nxt = [h for h, _, t in ls if t == "下一页"]
        if nxt:
            assert [t for _, _, t in ls if t == "尾页"]
        url = nxt[0] if nxt else None
    assert pages >= 3
    mine = [r for r in portal.expected_reports(base_url) if r.site == "huzhu"]
    assert {r.url for r in mine} <= set(seen)
    no_meta = [r for r in mine if r.seed == "003"][0]
    page = get(no_meta.url).body
    assert b"charset" not in page.lower() and "互助县卫生健康局".encode("gbk") in page
    doc_report = next(r for r in mine if "doc" in r.formats)
    a = get(doc_report.attachments["doc"])
    assert "download.jsp?urltype=news.DownloadAttachUrl" in doc_report.attachments["doc"]
    assert a.body.startswith(MAGIC["doc"]) and "attachment" in a.headers["content-disposition"]
    img = next(r for r in mine if "image" in r.formats)
    assert "（图片版）" in img.title and get(img.attachments["image"]).body.startswith(MAGIC["image"])
    body = lxml.html.fromstring(get(img.url).body.decode("gbk")).xpath('//div[@id="vsb_content"]')[0]
    assert "总计" not in body.text_content(), "the picture report has no table text"


def test_formats_titles_and_marks(portal, base_url, get):
    reps = portal.expected_reports(base_url)
    assert len({r.agency for r in reps}) >= 12 and {r.year for r in reps} == {2023, 2024}
    fmts = [f for r in reps for f in r.formats]
    assert {"html", "pdf", "docx", "doc", "image"} <= set(fmts)
    assert any(len(r.formats) == 2 and "html" in r.formats for r in reps), "page + attachment pairs"
    assert sum(1 for r in reps if re.match(r"20\d\d年", r.title)) >= 2, "titles with the year first"
    assert {r.seed for r in reps if r.seed} == {"000", "001", "002", "003", "004"}
    for r in reps:
        page = get(r.url)
        assert page.status == 200
        enc = "gbk" if r.site == "huzhu" else "utf-8"
        assert "示例数据" in page.body.decode(enc)


def test_conditional_requests_get_304_and_are_logged(portal, base_url, get):
    r = next(x for x in portal.expected_reports(base_url) if x.site == "dongfeng" and "pdf" in x.formats)
    first = get(r.attachments["pdf"])
    etag, lm = first.headers["etag"], first.headers["last-modified"]
    portal.clear_log()
    assert get(r.attachments["pdf"], headers={"If-None-Match": etag}).status == 304
    assert get(r.attachments["pdf"], headers={"If-Modified-Since": lm}).status == 304
    assert get(r.attachments["pdf"], headers={"If-None-Match": '"other"'}).status == 200
    assert get(r.attachments["pdf"], headers={"If-Modified-Since": "Mon, 01 Jan 2024 00:00:00 GMT"}).status == 200
    # "-0000" parses to a naive time: it is read as UTC, not a server error
    assert get(r.attachments["pdf"], headers={"If-Modified-Since": lm.replace("GMT", "-0000")}).status == 304
    assert get(r.attachments["pdf"], headers={"If-Modified-Since": "Mon, 01 Jan 2024 00:00:00 -0000"}).status == 200
    head = get(r.url, "HEAD")
    assert head.status == 200 and head.body == b"" and int(head.headers["content-length"]) > 1000
    logged = [(x.method, x.status, x.headers.get("If-None-Match")) for x in portal.requests]
    assert ("GET", 304, etag) in logged and logged[-1][:2] == ("HEAD", 200)
    assert get(base_url + "/no/such/page.html").status == 404
