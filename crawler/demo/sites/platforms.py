"""The four platform styles of the demo portal, laid out as real ones are (see research/portals.md).

Each ``build_*`` assigns paths to its planned reports (``Planned.path``/``attachments``) and returns
the static resources; the dynamic endpoints (Hanweb dataproxy.jsp, gkmlpt JSON) read the state the
builder leaves in ``ctx.state[site]``.
"""
from __future__ import annotations

import hashlib
import json
import random
from dataclasses import dataclass
from typing import Callable, Protocol
from urllib.parse import quote

from crawler.demo.sites.chrome import DEMO_MARK, e, filler_body, fillers, nav, page, short
from crawler.demo.sites.model import Entry, Planned, Resource, day

MIME = {
    "pdf": "application/pdf",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "doc": "application/msword",
    "png": "image/png",
}


class Ctx(Protocol):
    rng: random.Random
    state: dict

    def fragment(self, p: Planned) -> str: ...
    def attachment(self, p: Planned, fmt: str) -> bytes: ...
    def images(self, p: Planned) -> list[bytes]: ...  # the 图片版 report's table pictures
    def picture_fragment(self, p: Planned, srcs: list[str]) -> str: ...


@dataclass
class SiteInfo:
    name: str  # config site name
    platform: str
    title: str  # site name shown in chrome
    region: str


def _ymd(date: str) -> tuple[str, str, str]:
    y, m, d = date.split("-")
    return y, m, d


def _hex(*parts: object) -> str:
    return hashlib.md5("|".join(map(str, parts)).encode()).hexdigest()


def report_main(ctx: Ctx, p: Planned, image_src: list[str] | None = None) -> str:
    """The body of a report page: inline report, 图片版 (narrative as text, tables as pictures), or a
    pointer to the attachments."""
    if "html" in p.formats:
        return ctx.fragment(p)
    if "image" in p.formats:
        return ctx.picture_fragment(p, image_src or [])
    return f"<p>{e(p.title)}</p><p>详见附件。（{DEMO_MARK}）</p>"


def attach_html(links: list[tuple[str, str, str]], style: str = "fj") -> str:
    if not links:
        return ""
    items = "".join(f'<p><a href="{e(h)}" target="_blank">{e(name)}</a></p>' for _, h, name in links)
    return f'<div class="{style}"><p>附件：</p>{items}</div>'


def _meta(p_title: str, date: str, source: str, column: str) -> dict[str, str]:
    return {"ArticleTitle": p_title, "PubDate": f"{date} 09:30", "ContentSource": source, "ColumnName": column}


# --------------------------------------------------------------------------------------------
# TRS WCM: static tree /zwgk/zfxxgknb/<Y>n/<category>[/<unit>]/, index_N.html, tYYYYMMDD_<id>.html
# --------------------------------------------------------------------------------------------

TRS_ROOT = "/zwgk/zfxxgknb/"
#: category dir -> (name, pagination style, entries per page, fillers per year)
TRS_CATEGORIES = {
    "qzf": ("区政府", "six", 3, 4),
    "qzfbm": ("区政府部门", "four", 6, 12),
    "xzjd": ("乡镇街道", None, 0, 0),
}
TRS_UNITS = {"caz": "长安镇", "jsjd": "建设街道"}  # 乡镇街道 unit columns (countPage pagination)

PAGE_JS = r"""function createPageHTML(){
  /* 4 args (total, current 0-based, name, ext): page k>0 is name_k.ext;
     6 args (div id, total, current 1-based, name, ext, records): page k>1 is name_k.ext */
  var a = arguments, six = a.length >= 6;
  var n = six ? a[1] : a[0], cur = six ? a[2] - 1 : a[1], name = six ? a[3] : a[2], ext = six ? a[4] : a[3];
  function url(i){ return i == 0 ? name + "." + ext : name + "_" + (six ? i + 1 : i) + "." + ext; }
  var h = "<span>共" + n + "页</span> ";
  if (cur > 0) h += "<a href='" + url(0) + "'>首页</a> <a href='" + url(cur - 1) + "'>上一页</a> ";
  for (var i = 0; i < n; i++) h += i == cur ? "<span class='current'>" + (i + 1) + "</span> " : "<a href='" + url(i) + "'>" + (i + 1) + "</a> ";
  if (cur < n - 1) h += "<a href='" + url(cur + 1) + "'>下一页</a> <a href='" + url(n - 1) + "'>尾页</a>";
  if (six) document.getElementById(a[0]).innerHTML = h; else document.write(h);
}
"""


def _pager(style: str, total: int, cur: int, records: int) -> str:
    if style == "four":
        return f'<div class="page"><script>createPageHTML({total}, {cur}, "index", "html");</script></div>'
    if style == "six":
        return (f'<div id="page_div" class="page"></div>'
                f'<script>createPageHTML("page_div", {total}, {cur + 1}, "index", "html", {records});</script>')
    return (f'<div class="page"><script>var countPage = {total};//共多少页\nvar currentPage = {cur};//当前页</script>'
            f'<span>共{total}页</span></div>')


def _page_name(style: str, i: int) -> str:
    if i == 0:
        return "index.html"
    return f"index_{i + 1}.html" if style == "six" else f"index_{i}.html"


def build_trs(ctx: Ctx, site: SiteInfo, reports: list[Planned]) -> dict[str, Resource]:
    res: dict[str, Resource] = {}
    rng = random.Random(site.name)
    docid = [4056200]

    def next_id() -> int:
        docid[0] += rng.randint(7, 97)
        return docid[0]

    def add_page(path: str, title: str, main: str, crumbs, date: str = "2025-01-02", **kw) -> None:
        res[path] = Resource(page(site.title, title, main, crumbs=crumbs, **kw), last_modified=day(date))

    home_crumbs = [("首页", "/index.html")]
    gk = home_crumbs + [("政务公开", "/zwgk/index.html")]
    nb = gk + [("政府信息公开年报", TRS_ROOT + "index.html")]
    home = nav([("首页", "/index.html"), ("政务公开", "/zwgk/index.html"), ("新闻中心", "/xwzx/index.html"),
                ("互动交流", "/hdjl/index.html")], "nav")
    add_page("/index.html", "首页", home + f"<p>欢迎访问{e(site.title)}。</p>", home_crumbs)
    res["/"] = res["/index.html"]
    add_page("/zwgk/index.html", "政务公开", nav([
        ("政府信息公开指南", "/zwgk/xxgkzn/index.html"), ("政府信息公开制度", "/zwgk/xxgkzd/index.html"),
        ("法定主动公开内容", "/zwgk/fdzdgknr/index.html"), ("政府信息公开年报", TRS_ROOT + "index.html"),
        ("通知公告", "/zwgk/tzgg/index.html")], "zwgk-nav"), gk)
    for slug, name in (("xxgkzn", "政府信息公开指南"), ("xxgkzd", "政府信息公开制度"), ("fdzdgknr", "法定主动公开内容"),
                       ("tzgg", "通知公告")):
        add_page(f"/zwgk/{slug}/index.html", name, f"<h2>{e(name)}</h2><p>（{DEMO_MARK}）栏目建设中。</p>",
                 gk + [(name, None)])
    for slug, name in (("xwzx", "新闻中心"), ("hdjl", "互动交流")):
        add_page(f"/{slug}/index.html", name, f"<h2>{e(name)}</h2><p>（{DEMO_MARK}）</p>", home_crumbs + [(name, None)])
    res["/js/createPageHTML.js"] = Resource(PAGE_JS.encode(), "application/javascript")
    head_js = '<script src="/js/createPageHTML.js"></script>'

    years = sorted({p.year for p in reports}, reverse=True)
    add_page(TRS_ROOT + "index.html", "政府信息公开年报",
             nav([(f"{y}年度", f"./{y}n/index.html") for y in years]) + '<div class="list"><ul></ul></div>', nb)

    def listing(coldir: str, title: str, crumbs, style: str, per: int, entries: list[Entry]) -> None:
        entries.sort(key=lambda x: (x.date, x.path), reverse=True)
        total = max(1, -(-len(entries) // per))
        for i in range(total):
            chunk = entries[i * per:(i + 1) * per]
            lis = "".join(
                f'<li><a href="{e(x.path)}" title="{e(x.title)}" target="_blank">{e(short(x.title))}</a>'
                f'<span class="date">{x.date}</span></li>' for x in chunk)
            main = f'<h2 class="column-title">{e(title)}</h2><ul class="list">{lis}</ul>' + \
                _pager(style, total, i, len(entries))
            add_page(coldir + _page_name(style, i), title, main, crumbs, head_extra=head_js)

    def article(coldir: str, p: Planned | None, title: str, date: str, crumbs) -> str:
        y, m, d = _ymd(date)
        ident = next_id()
        rel = f"{y}{m}/t{y}{m}{d}_{ident}.html"
        path = coldir + rel
        if p is None:
            add_page(path, title, f'<h1>{e(title)}</h1><div class="TRS_Editor">{filler_body(title, date)}</div>',
                     crumbs, date, meta=_meta(title, date, site.title, crumbs[-1][0]))
            return "./" + rel
        links = []
        for fmt in ("pdf", "docx", "doc"):
            if fmt in p.formats:
                fname = f"P0{y}{m}{d}{rng.randrange(10**11, 10**12)}.{fmt}"
                apath = coldir + f"{y}{m}/" + fname
                res[apath] = Resource(ctx.attachment(p, fmt), MIME[fmt], day(date))
                p.attachments[fmt] = apath
                links.append((fmt, "./" + fname, f"{p.title}.{fmt}"))
        img = None
        if "image" in p.formats:
            stem = f"W0{y}{m}{d}{rng.randrange(10**11, 10**12)}"
            img = []
            for k, png in enumerate(ctx.images(p), start=1):
                img_name = f"{stem}{'' if k == 1 else f'_{k}'}.png"
                res[coldir + f"{y}{m}/" + img_name] = Resource(png, MIME["png"], day(date))
                p.attachments["image" if k == 1 else f"image_{k}"] = coldir + f"{y}{m}/" + img_name
                img.append("./" + img_name)
        main = (f'<h1 class="title">{e(p.title)}</h1><div class="info">发布时间：{date} 来源：{e(p.agency)}</div>'
                f'<div class="TRS_Editor">{report_main(ctx, p, img)}</div>{attach_html(links)}')
        res[path] = Resource(page(site.title, p.title, main, crumbs=crumbs,
                                  meta=_meta(p.title, date, p.agency, crumbs[-1][0]),
                                  encoding=p.encoding, charset_in_meta=p.charset_in_meta),
                             "text/html; charset=utf-8" if p.encoding == "utf-8" else "text/html", day(date))
        p.path = path
        return "./" + rel

    for y in sorted(years):  # older years first: TRS doc ids grow with time
        ydir = f"{TRS_ROOT}{y}n/"
        ycrumbs = nb + [(f"{y}年度", ydir + "index.html")]
        add_page(ydir + "index.html", f"{y}年度", nav([(name, f"./{slug}/index.html")
                                                       for slug, (name, *_r) in TRS_CATEGORIES.items()]), ycrumbs)
        for slug, (cname, style, per, nfill) in TRS_CATEGORIES.items():
            cdir = f"{ydir}{slug}/"
            ccrumbs = ycrumbs + [(cname, cdir + "index.html")]
            if style is None:  # 乡镇街道: one column per unit
                add_page(cdir + "index.html", cname, nav([(n, f"./{u}/index.html") for u, n in TRS_UNITS.items()]),
                         ccrumbs)
                for u, uname in TRS_UNITS.items():
                    udir = f"{cdir}{u}/"
                    ucrumbs = ccrumbs + [(uname, udir + "index.html")]
                    entries = [Entry(p.title, article(udir, p, p.title, p.page_date, ucrumbs), p.page_date)
                               for p in reports if p.year == y and p.column == f"xzjd/{u}"]
                    for t in fillers(rng, 4, uname, (y,)):
                        date = f"{y}-{rng.randint(3, 12):02d}-{rng.randint(1, 28):02d}"
                        entries.append(Entry(t, article(udir, None, t, date, ucrumbs), date))
                    listing(udir, uname, ucrumbs, "count", 3, entries)
                continue
            entries = [Entry(p.title, article(cdir, p, p.title, p.page_date, ccrumbs), p.page_date)
                       for p in reports if p.year == y and p.column == slug]
            for t in fillers(rng, nfill, site.region, (y,)):
                date = f"{y + 1}-{rng.randint(1, 3):02d}-{rng.randint(1, 28):02d}"
                entries.append(Entry(t, article(cdir, None, t, date, ccrumbs), date))
            listing(cdir, cname, ccrumbs, style, per, entries)
    return res


# --------------------------------------------------------------------------------------------
# Hanweb JCMS: /col/col<id>/index.html with inline <datastore>, POST dataproxy.jsp, /art/Y/M/D/...
# --------------------------------------------------------------------------------------------

HANWEB = {"columnid": 1229001, "webid": 3, "unitid": 5530, "perpage": 15, "inline": 45}


def build_hanweb(ctx: Ctx, site: SiteInfo, reports: list[Planned]) -> dict[str, Resource]:
    res: dict[str, Resource] = {}
    rng = random.Random(site.name)
    col = HANWEB["columnid"]
    colpath = f"/col/col{col}/index.html"
    crumbs = [("首页", "/"), ("政府信息公开", None), ("政府信息公开年报", colpath)]
    artid = [98200]
    entries: list[Entry] = []

    def art_path(date: str) -> str:
        y, m, d = (int(x) for x in date.split("-"))
        artid[0] += rng.randint(3, 40)
        return f"/art/{y}/{m}/{d}/art_{col}_{artid[0]}.html"

    def meta_table(p_title: str, agency: str, date: str) -> str:
        idx = f"00{rng.randrange(10**6, 10**7)}/{date[:4]}-{rng.randrange(10000, 99999)}"
        return ('<table class="xxgk_table"><tr><td>索引号</td><td>' + idx + '</td><td>公开方式</td><td>主动公开</td></tr>'
                f'<tr><td>发布机构</td><td>{e(agency)}</td><td>发文日期</td><td>{date}</td></tr>'
                f'<tr><td>信息名称</td><td colspan="3">{e(p_title)}</td></tr>'
                '<tr><td>分类</td><td colspan="3">政府信息公开年报</td></tr></table>')

    def art_page(path: str, title: str, agency: str, date: str, body: str, p: Planned | None = None) -> None:
        main = (f'<div class="article"><h1>{e(title)}</h1>{meta_table(title, agency, date)}'
                f'<div id="zoom"><!--ContentStart-->{body}<!--ContentEnd--></div></div>')
        res[path] = Resource(page(site.title, title, main, crumbs=crumbs, meta=_meta(title, date, agency,
                                                                                  "政府信息公开年报")),
                             last_modified=day(date))

    for p in reports:
        p.path = art_path(p.page_date)
        links = []
        for fmt in ("pdf", "docx", "doc"):
            if fmt in p.formats:
                fname = _hex(site.name, p.agency, p.year, fmt) + "." + fmt
                res[f"/attach/0/{fname}"] = Resource(ctx.attachment(p, fmt), MIME[fmt], day(p.page_date))
                p.attachments[fmt] = f"/attach/0/{fname}"
                links.append((fmt, f"/module/download/downfile.jsp?classid=0&filename={fname}", f"{p.title}.{fmt}"))
        art_page(p.path, p.title, p.agency, p.page_date, report_main(ctx, p) + attach_html(links), p)
        entries.append(Entry(p.title, p.path, p.page_date))
    for t in fillers(rng, 47, site.region):
        y = 2023 if "2023" in t else 2024
        date = f"{y + rng.choice((0, 1))}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
        path = art_path(date)
        art_page(path, t, site.title, date, filler_body(t, date))
        entries.append(Entry(t, path, date))
    entries.sort(key=lambda x: (x.date, x.path), reverse=True)
    records = [f'<li><a href="{e(x.path)}" title="{e(x.title)}" target="_blank">{e(short(x.title, 30))}</a>'
               f'<span class="fr">{x.date}</span></li>' for x in entries]
    ctx.state[site.name] = {"records": records}
    webname = site.title
    param = (f"var param_{HANWEB['unitid']} = {{col:1, appid:1, webid:{HANWEB['webid']}, path:'/', "
             f"columnid:{col}, sourceContentType:1, unitid:'{HANWEB['unitid']}', webname:'{webname}', "
             f"permissiontype:0}};")
    nextgroup = (f'<a href="/module/web/jpage/dataproxy.jsp?page=1&appid=1&webid={HANWEB["webid"]}&path=/'
                 f'&columnid={col}&unitid={HANWEB["unitid"]}&webname={quote(webname)}&permissiontype=0"></a>')
    inline = "\n".join(f"<record><![CDATA[{r}]]></record>" for r in records[:HANWEB["inline"]])
    main = (f'<h2 class="bt">政府信息公开年报</h2><div id="{HANWEB["unitid"]}">'
            f'<script type="text/xml"><datastore>\n<nextgroup><![CDATA[{nextgroup}]]></nextgroup>\n'
            f'<recordset>\n{inline}\n</recordset>\n</datastore></script></div>'
            f'<script type="text/javascript">{param}</script>'
            f'<script language="javascript" src="/module/web/jpage/jpage.js"></script>'
            f'<script>var jpage_{HANWEB["unitid"]} = new Jpage({{id:"{HANWEB["unitid"]}", totalRecord:{len(records)}, '
            f'perPage:{HANWEB["perpage"]}, groupSize:3, url:"/module/web/jpage/dataproxy.jsp"}});</script>')
    res[colpath] = Resource(page(site.title, "政府信息公开年报", main, crumbs=crumbs[:-1] + [("政府信息公开年报", None)]))
    res["/module/web/jpage/jpage.js"] = Resource(JPAGE_JS.encode(), "application/javascript")
    return res


# What a browser runs: the inline records first, later groups from dataproxy.jsp (crawlers read the XML).
JPAGE_JS = r"""function Jpage(o){
  var box = document.getElementById(o.id), xml = box.querySelector('script[type="text/xml"]').textContent;
  var recs = [], re = /<record><!\[CDATA\[([\s\S]*?)\]\]><\/record>/g, m;
  while ((m = re.exec(xml))) recs.push(m[1]);
  var ul = document.createElement("ul"); ul.className = "jpage-list"; box.appendChild(ul);
  function show(list){ ul.innerHTML += list.join(""); }
  show(recs);
  if (recs.length < o.totalRecord) {
    var form = new URLSearchParams(window["param_" + o.id]);
    fetch(o.url + "?startrecord=" + (recs.length + 1) + "&endrecord=" + o.totalRecord + "&perpage=" + o.perPage,
          {method: "POST", body: form, headers: {"X-Requested-With": "XMLHttpRequest"}})
      .then(function(r){ return r.text(); }).then(function(t){
        var more = [], r2 = /<record><!\[CDATA\[([\s\S]*?)\]\]><\/record>/g, k;
        while ((k = r2.exec(t))) more.push(k[1]);
        show(more);
      });
  }
}
"""


def hanweb_dataproxy(state: dict, query: dict[str, str], form: dict[str, str]) -> Resource:
    """POST /module/web/jpage/dataproxy.jsp?startrecord=&endrecord=&perpage= (form: columnid, ...)."""
    records = state["records"]
    columnid = form.get("columnid") or query.get("columnid")
    try:
        start = int(query.get("startrecord") or form.get("startrecord") or 1)
        end = int(query.get("endrecord") or form.get("endrecord") or start + 44)
    except ValueError:
        return Resource(b"startrecord/endrecord must be integers", "text/plain; charset=utf-8", status=400)
    if str(columnid) != str(HANWEB["columnid"]):
        records = []  # unknown column: an empty datastore, as the real proxy answers
    chunk = records[max(start, 1) - 1:end]
    body = ('<?xml version="1.0" encoding="UTF-8"?>\n<datastore>\n<nextgroup><![CDATA[]]></nextgroup>\n<recordset>\n'
            + "\n".join(f"<record><![CDATA[{r}]]></record>" for r in chunk)
            + f"\n</recordset>\n<totalrecord>{len(records)}</totalrecord>\n"
            f"<totalpage>{-(-len(records) // HANWEB['perpage'])}</totalpage>\n</datastore>")
    return Resource(body.encode("utf-8"), "text/xml;charset=UTF-8")


# --------------------------------------------------------------------------------------------
# gkmlpt: /gkmlpt/index#<cat> shell with SID, JSON /gkmlpt/api/all/<cat>?page=N&sid=, post_<id>.html
# --------------------------------------------------------------------------------------------

GKMLPT = {"sid": "755031", "cat": 2811, "per_page": 10}


def build_gkmlpt(ctx: Ctx, site: SiteInfo, reports: list[Planned]) -> dict[str, Resource]:
    res: dict[str, Resource] = {}
    rng = random.Random(site.name)
    cat = GKMLPT["cat"]
    articles: list[dict] = []
    post = [4688900]
    crumbs = [("首页", "/"), ("政府信息公开", "/gkmlpt/index"), ("政府信息公开年报", None)]

    def content(title: str, agency: str, date: str, body: str) -> str:
        post[0] += rng.randint(11, 300)
        pid = post[0]
        path = f"/gkmlpt/content/{pid // 1000000}/{pid // 1000}/post_{pid}.html"
        meta_tab = ('<table class="classify"><tr><td>索引号：</td><td>' + f"11440000{rng.randrange(10**9, 10**10)}/{date[:4]}-"
                    f"{pid % 100000}</td><td>分类：</td><td>政府信息公开年报</td></tr>"
                    f"<tr><td>发布机构：</td><td>{e(agency)}</td><td>成文日期：</td><td>{date}</td></tr>"
                    f"<tr><td>名称：</td><td colspan=3>{e(title)}</td></tr>"
                    f"<tr><td>发布日期：</td><td colspan=3>{date}</td></tr></table>")
        main = f'<div class="content"><h1>{e(title)}</h1>{meta_tab}<div class="article-content">{body}</div></div>'
        res[path] = Resource(page(site.title, title, main, crumbs=crumbs,
                                  meta=_meta(title, date, agency, "政府信息公开年报") | {"ArticleId": str(pid)},
                                  head_extra=f"<script>var NFCMS_SITE_ID = {GKMLPT['sid']}; var NFCMS_POST_ID = {pid};</script>"),
                             last_modified=day(date))
        ts = int(day(date, 2).timestamp())
        articles.append({"id": pid, "title": title, "path": path, "publisher": agency, "create_time": ts,
                         "created_at": f"{date} 10:30:00", "display_publish_time": ts, "publish_time": ts})
        return path

    for p in reports:
        links = []
        for fmt in ("pdf", "docx", "doc"):
            if fmt in p.formats:
                fname = f"/attachment/0/{cat}/{_hex(p.agency, p.year, fmt)[:12]}.{fmt}"
                res[fname] = Resource(ctx.attachment(p, fmt), MIME[fmt], day(p.page_date))
                p.attachments[fmt] = fname
                links.append((fmt, fname, f"{p.title}.{fmt}"))
        p.path = content(p.title, p.agency, p.page_date, report_main(ctx, p) + attach_html(links, "fjdown"))
    for t in fillers(rng, 26, site.region):
        date = f"{rng.choice((2023, 2024, 2025))}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
        content(t, site.title, date, filler_body(t, date))
    articles.sort(key=lambda a: (a["create_time"], a["id"]), reverse=True)
    ctx.state[site.name] = {"articles": articles}
    shell = (f"<script>window._CONFIG = {{SID: '{GKMLPT['sid']}', SITE_NAME: '{site.title}', "
             f"API: '/gkmlpt/api'}};</script>"
             '<div id="app"><noscript>请开启浏览器的JavaScript功能</noscript>加载中……</div>'
             '<script src="/gkmlpt/static/js/app.js"></script>')
    res["/gkmlpt/index"] = Resource(page(site.title, "政府信息公开", shell, crumbs=crumbs[:2]))
    res["/gkmlpt/static/js/app.js"] = Resource(GKMLPT_JS.encode(), "application/javascript")
    return res


GKMLPT_JS = r"""(function(){
  var cat = location.hash.slice(1), app = document.getElementById("app"), cfg = window._CONFIG;
  if (!cat) { app.textContent = "请选择栏目"; return; }
  function load(page){
    fetch(cfg.API + "/all/" + cat + "?page=" + page + "&sid=" + cfg.SID).then(function(r){ return r.json(); })
      .then(function(d){
        var h = "<ul>" + d.articles.map(function(a){
          return "<li><a href='" + a.url + "'>" + a.title + "</a> <span>" + a.created_at.slice(0, 10) + "</span></li>";
        }).join("") + "</ul>";
        var pages = Math.ceil(d.total / d.per_page), nav = "";
        for (var i = 1; i <= pages; i++) nav += "<a href='javascript:void(0)' data-p='" + i + "'>" + i + "</a> ";
        app.innerHTML = h + "<div class='pager'>" + nav + "</div>";
        app.querySelectorAll("[data-p]").forEach(function(x){ x.onclick = function(){ load(+x.dataset.p); }; });
      });
  }
  load(1);
})();
"""


def gkmlpt_api(state: dict, cat: str, query: dict[str, str], base_url: str) -> Resource:
    articles = state["articles"] if (cat == str(GKMLPT["cat"]) and query.get("sid") == GKMLPT["sid"]) else []
    try:
        pg = max(1, int(query.get("page") or 1))  # page=0 is accepted as the first page, as some sites do
    except ValueError:
        return Resource(b'{"code": 400, "msg": "bad page"}', "application/json", status=400)
    per = GKMLPT["per_page"]
    chunk = articles[(pg - 1) * per: pg * per]
    out = {"total": len(articles), "page": pg, "per_page": per,
           "articles": [{k: v for k, v in a.items() if k != "path"} | {"url": base_url + a["path"]}
                        for a in chunk]}
    return Resource(json.dumps(out, ensure_ascii=False).encode("utf-8"), "application/json;charset=UTF-8")


# --------------------------------------------------------------------------------------------
# VSB/博达 generic: GBK pages, 下一页/尾页 links, /info/<col>/<id>.htm, download.jsp attachments
# --------------------------------------------------------------------------------------------

VSB = {"col": 1050, "per_page": 6, "list": "/xxgk/zfxxgknb.htm"}


def build_vsb(ctx: Ctx, site: SiteInfo, reports: list[Planned]) -> dict[str, Resource]:
    res: dict[str, Resource] = {}
    rng = random.Random(site.name)
    col = VSB["col"]
    ident = [64100]
    entries: list[Entry] = []
    crumbs = [("首页", "/"), ("政府信息公开", None), ("政府信息公开年报", VSB["list"])]
    gbk_type = "text/html"  # no charset: the client must sniff GBK

    def info(title: str, date: str, body: str, source: str, *, charset_in_meta: bool = True,
             extra: str = "") -> str:
        ident[0] += rng.randint(5, 90)
        path = f"/info/{col}/{ident[0]}.htm"
        head = (f'<div class="xl_title"><h1>{e(title)}</h1></div><div class="xl_info">'
                f'<span>发布机构：{e(source)}</span><span>索引号：hz/{date[:4]}-{ident[0] % 1000:05d}</span>'
                f'<span>时间：{date}</span></div>')
        main = f'{head}<form name="_newscontent_fromname"><div id="vsb_content">{body}</div>{extra}</form>'
        res[path] = Resource(page(site.title, title, main, crumbs=crumbs, encoding="gbk",
                                  charset_in_meta=charset_in_meta, meta=_meta(title, date, source, "政府信息公开年报")),
                             gbk_type, day(date))
        return path

    for p in reports:
        links = []
        for fmt in ("pdf", "docx", "doc"):
            if fmt in p.formats:
                wb = rng.randrange(10**6, 10**7)
                href = (f"/system/_content/download.jsp?urltype=news.DownloadAttachUrl&owner={col}"
                        f"&wbfileid={wb}")
                fname = f"{p.title}.{fmt}"
                res[href] = Resource(ctx.attachment(p, fmt), MIME[fmt], day(p.page_date), headers={
                    "Content-Disposition": f"attachment; filename*=UTF-8''{quote(fname)}"})
                p.attachments[fmt] = href
                links.append((fmt, href, fname))
        img = None
        if "image" in p.formats:
            img = []
            for k, png in enumerate(ctx.images(p), start=1):
                h = _hex(p.agency, p.year, "img") if k == 1 else _hex(p.agency, p.year, "img", k)
                src = f"/__local/{h[0]}/{h[1:3].upper()}/{h[3:5].upper()}/{h[5:37].upper()}.png"
                res[src] = Resource(png, MIME["png"], day(p.page_date))
                p.attachments["image" if k == 1 else f"image_{k}"] = src
                img.append(src)
        extra = ""
        if links:
            extra = '<div class="down">' + "".join(
                f'<a href="{e(h)}">【下载{"Word" if f != "pdf" else "PDF"}】</a>' for f, h, _ in links) + "</div>"
        p.path = info(p.title, p.page_date, report_main(ctx, p, img) + attach_html(links),
                      p.agency, charset_in_meta=p.charset_in_meta, extra=extra)
        entries.append(Entry(p.title, p.path, p.page_date))
    for t in fillers(rng, 12, site.region):
        date = f"{rng.choice((2024, 2025))}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
        entries.append(Entry(t, info(t, date, filler_body(t, date), site.title), date))
    entries.sort(key=lambda x: (x.date, x.path), reverse=True)
    per = VSB["per_page"]
    total = -(-len(entries) // per)

    def list_path(i: int) -> str:
        return VSB["list"] if i == 0 else VSB["list"].removesuffix(".htm") + f"/{i + 1}.htm"

    for i in range(total):
        chunk = entries[i * per:(i + 1) * per]
        lis = "".join(f'<li><a href="{e(x.path)}" title="{e(x.title)}">{e(short(x.title))}</a>'
                      f'<span class="time">{x.date}</span></li>' for x in chunk)
        pager = [f"共{len(entries)}条&nbsp;&nbsp;{i + 1}/{total}&nbsp;"]
        if i > 0:
            pager += [f'<a href="{list_path(0)}">首页</a>', f'<a href="{list_path(i - 1)}">上一页</a>']
        if i < total - 1:
            pager += [f'<a href="{list_path(i + 1)}" class="Next">下一页</a>',
                      f'<a href="{list_path(total - 1)}" class="Next">尾页</a>']
        main = f'<div class="list"><ul>{lis}</ul></div><div class="pb_sys_common">{" ".join(pager)}</div>'
        res[list_path(i)] = Resource(page(site.title, "政府信息公开年报", main, crumbs=crumbs, encoding="gbk"), gbk_type)
    return res


BUILDERS: dict[str, Callable] = {"trs": build_trs, "hanweb": build_hanweb, "gkmlpt": build_gkmlpt, "vsb": build_vsb}
