"""The conformance zoo: portals as they are found, each configured by its HOME page (issue 9 item 9).

Eleven sites, each on its own port of 127.0.0.1 (a site is a host:port, as on the real web), in ten
platform styles laid out from research/portals.md, plus a "foreign" host on 127.0.0.2 that only a
redirect trap points at.  Every site publishes real report bodies (the seeds, re-titled per agency),
decoys in its 年报 column (工作要点, 决算, 编制说明, 政务公开工作报告, 解读), and one obstacle of the research:

=========== ============ ========================================================================
site        style        the way from the home page to the reports, and what is planted
=========== ============ ========================================================================
trs         TRS WCM      home → 政务公开 (a ``location.replace`` shell) → 年报 column, createPageHTML
                         4-arg (2 pages); a 图片版 report (tables are images), a truncated table;
                         one report link under a robots.txt ``Disallow``
hanweb      Hanweb JCMS  home (信息公开 in the footer) → /col/col100/ → 年报 /col/col200/: inline
                         <datastore> + POST dataproxy.jsp; a stub page whose downfile.jsp
                         attachment 302s to a missing file; ``publish_revision()`` changes a report
gkmlpt      gkmlpt       home → /gkmlpt/index (no fragment): ``window.CLASSIFY`` names the 年报
                         category and a child
gkmlpt_tree gkmlpt       home is a ``<meta refresh>`` shell → 公开目录 → /gkmlpt/index#0: the tree
                         API /gkmlpt/api/tree?sid=
jpaas       Hanweb JPaaS home → 政务公开 aggregate → column with ``queryData`` → /api-gateway/… JSON,
                         two pages by its pagination count
xxgk        Hanweb xxgk  home → 政府信息公开 → 年报 page linking /module/xxgk/xxgkAnnualReport.jsp
                         per year and by a year selector
vsb         VSB/博达     GBK without a charset header; home → 信息公开 (/xxgk.htm) → /xxgk/zfxxgknb.htm,
                         pb_sys_common pager, /info/<col>/<id>.htm, a download.jsp DOCX attachment
ucap        UCAP         home → 政务公开 → 信息公开年报 whose list comes from getInfoCommon JSON
numeric     numeric CMS  configured as **https://** (the server speaks http only: the crawler falls
                         back); year → group → report directories ``…/2292928/index.html``
tree        generic      home is a ``location.href`` shell; year → group → unit tree (Xixian style);
                         robots.txt ``Crawl-delay: 1``
waf         TRS + 加速乐  every page but robots.txt answers HTTP 521 with a script that computes the
                         ``__jsl_clearance_s`` cookie and reloads, until the cookie is sent: a
                         ``fetch: browser`` site passes, a plain one records waf_challenge_521
traps       TRS          real reports beside traps: a report link that 302s to another host, a
                         下一页 to ``file:///etc/passwd``, ``createPageHTML(1000000, …)``, an endless
                         下一页 chain (the URL policy and caps must refuse them)
=========== ============ ========================================================================

API::

    from crawler.demo.zoo import Zoo

    zoo = Zoo()
    with zoo.serve():                         # one server per site (+ the foreign host)
        zoo.site_configs()                    # config.yaml `sites` entries, start_url = the home page
        zoo.expected_documents("hanweb")      # absolute URLs a perfect crawl stores for a site
        zoo.sites["numeric"].requests         # the server's request log (RequestRecord)
        zoo.publish_revision()                # same URL, new bytes (the hanweb site)
        zoo.foreign.requests                  # what the redirect trap's target received (must be none)
"""
from __future__ import annotations

import contextlib
import copy
import dataclasses
import hashlib
import json
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Iterator
from urllib.parse import parse_qs, quote, urlsplit

from crawler.demo.layout import demo_layout
from crawler.demo.portal import DEFAULT_SEED_DIR, _demo_spec, _not_found, _render, _Served
from crawler.demo.sites.chrome import DEMO_MARK, e, filler_body, nav, page, short
from crawler.demo.sites.model import Resource, day
from crawler.demo.sites.platforms import PAGE_JS
from crawler.demo.spec import ReportSpec

#: Decoys every 年报 column carries: titles that look like a report's and are not (research §8).
DECOYS = ("{r}2024年政务公开工作要点", "{r}财政局2024年部门决算", "2024年政府信息公开工作年度报告编制说明",
          "{r}2024年政务公开工作报告", "关于{r}2024年政府信息公开工作年度报告的解读",
          "{r}召开2024年政务公开工作推进会")


@dataclass
class ZooReport:
    site: str
    agency: str
    year: int
    title: str
    path: str  # the report page (or file) path
    kind: str = "inline"  # inline | images | truncated | stub (its attachment fails) | docx
    attachments: list[str] = field(default_factory=list)  # paths of files a perfect crawl stores
    date: str = "2025-01-20"


class ZooSite(_Served):
    """One site of the zoo: static resources, optional dynamic endpoints, its robots.txt."""

    def __init__(self, name: str, style: str, title: str, *, scheme: str = "http", robots: str = "",
                 encoding: str = "utf-8") -> None:
        super().__init__()
        self.name, self.style, self.title, self.scheme = name, style, title, scheme
        self.robots = robots
        self.encoding = encoding
        self.resources: dict[str, Resource] = {}
        self.reports: list[ZooReport] = []
        self.never: list[str] = []  # paths a polite, policed crawl must never request
        self.dynamic: Callable[..., Resource | None] | None = None  # (method, path, query, form, base, headers)
        self.server = None

    # -- building --------------------------------------------------------------------------------
    def add(self, path: str, title: str, main: str, *, crumbs=(), meta=None, date: str = "2025-01-02",
            head_extra: str = "") -> None:
        body = page(self.title, title, main, crumbs=list(crumbs), meta=meta, encoding=self.encoding,
                    charset_in_meta=self.encoding == "utf-8", head_extra=head_extra)
        ctype = "text/html; charset=utf-8" if self.encoding == "utf-8" else "text/html"
        self.resources[path] = Resource(body, ctype, day(date))

    def raw(self, path: str, body: str | bytes, ctype: str = "text/html; charset=utf-8", **kw) -> None:
        self.resources[path] = Resource(body.encode("utf-8") if isinstance(body, str) else body, ctype, **kw)

    @property
    def base_url(self) -> str:
        return self.server.base_url

    def home_url(self) -> str:
        base = self.base_url
        return ("https" + base[4:] if self.scheme == "https" else base) + "/"

    # -- serving ---------------------------------------------------------------------------------
    def respond(self, method: str, target: str, headers: dict[str, str], body: bytes, base_url: str) -> Resource:
        parts = urlsplit(target)
        path = parts.path
        if path == "/robots.txt":
            return Resource(("User-agent: *\n" + self.robots).encode(), "text/plain", conditional=False)
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        if self.dynamic is not None:
            form = {k: v[-1] for k, v in parse_qs(body.decode("utf-8", "replace")).items()}
            res = self.dynamic(method, path, query, form, base_url, headers)
            if res is not None:
                return res
        full = path + ("?" + parts.query if parts.query else "")
        res = self.resources.get(full) or self.resources.get(path)
        if res is None and path.endswith("/"):
            res = self.resources.get(path + "index.html")
        return res or _not_found()


class Zoo:
    """The zoo's sites, their servers and what a perfect crawl finds on them."""

    def __init__(self, seed_dir: str | Path | None = None) -> None:
        seeds = Path(seed_dir or DEFAULT_SEED_DIR)
        self._seeds = [_demo_spec(t, seeds.parent / "expected") for t in sorted(seeds.glob("*.txt"))]
        self._n = 0
        self.revision = 0
        self.foreign = ZooSite("foreign", "foreign", "外部网站（示例数据）")
        self.foreign.raw("/latest/meta-data/", "ami-id\ninstance-id\n", "text/plain")
        self.sites: dict[str, ZooSite] = {}
        for build in (_trs, _hanweb, _gkmlpt, _gkmlpt_tree, _jpaas, _xxgk, _vsb, _ucap, _numeric, _tree, _traps,
                      _waf):
            site = build(self)
            self.sites[site.name] = site

    # -- content ---------------------------------------------------------------------------------
    def spec(self, agency: str, year: int, title: str, date: str) -> ReportSpec:
        """A seed report re-titled for ``agency`` (the bodies are real report texts)."""
        seed = self._seeds[self._n % len(self._seeds)]
        self._n += 1
        s = copy.deepcopy(seed)
        s.agency, s.year, s.title, s.published = agency, year, title, date
        s.signature = [agency, date]
        return s

    def body(self, site: ZooSite, r: ZooReport, image_base: str = "") -> str:
        """The report page's body for its kind (inline tables, images, a truncated table, a stub)."""
        spec = self.spec(r.agency, r.year, r.title, r.date)
        frag = _render().render_html_fragment(spec)
        if r.kind == "images":
            imgs = []
            for k in (1, 2):
                src = f"{image_base}W0{r.date.replace('-', '')}{k:012d}.png"
                site.raw(_join(r.path, src), _png(), "image/png")
                r.attachments.append(_join(r.path, src))
                imgs.append(f'<p style="text-align:center"><img src="{src}" width="860"></p>')
            return f'<p style="text-align:center"><b>{e(r.title)}</b></p>' + "".join(imgs)
        if r.kind == "truncated":  # the editor lost the page after the first rows of Table 三
            cut = frag.find("<table", frag.find("<table") + 1)
            return frag[: cut + 600] if cut > 0 else frag[: len(frag) // 2]
        if r.kind == "stub":
            return f"<p>{e(r.title)}</p><p>详见附件。（{DEMO_MARK}）</p>"
        return frag

    # -- serving ---------------------------------------------------------------------------------
    @contextlib.contextmanager
    def serve(self) -> Iterator["Zoo"]:
        from crawler.demo.server import DemoServer

        started = []
        try:
            self.foreign.server = DemoServer(self.foreign, "127.0.0.2", 0).start()
            started.append(self.foreign.server)
            for site in self.sites.values():
                site.server = DemoServer(site, "127.0.0.1", 0).start()
                started.append(site.server)
            yield self
        finally:
            for srv in started:
                srv.stop()

    def clear_logs(self) -> None:
        for s in (*self.sites.values(), self.foreign):
            s.clear_log()

    def site_configs(self, names: list[str] | None = None, **extra) -> list[dict]:
        """``sites`` entries of config.yaml: each site by its home page (``extra`` keys added to each)."""
        return [{"name": s.name, "region": f"{s.title}", "start_url": s.home_url(), **extra}
                for s in self.sites.values() if names is None or s.name in names]

    def expected_reports(self, name: str) -> list[str]:
        site = self.sites[name]
        return [site.base_url + r.path for r in site.reports]

    def expected_documents(self, name: str) -> set[str]:
        site = self.sites[name]
        return {site.base_url + p for r in site.reports for p in (r.path, *r.attachments)}

    def publish_revision(self) -> str:
        """Correct one hanweb report in place: same URL, new bytes and Last-Modified; returns its URL."""
        site = self.sites["hanweb"]
        r = next(x for x in site.reports if x.kind == "inline")
        self.revision += 1
        old = site.resources[r.path]
        note = f"<p>本报告于{datetime.now().year}年更正了部分统计数据（第{self.revision}次修订，{DEMO_MARK}）。</p>"
        body = old.body.replace(b'<!--ContentEnd-->', note.encode("utf-8") + b'<!--ContentEnd-->', 1)
        site.resources[r.path] = dataclasses.replace(
            old, body=body, last_modified=datetime.now(timezone.utc).replace(microsecond=0))
        return site.base_url + r.path


# ------------------------------------------------------------------------------------------------
# helpers
# ------------------------------------------------------------------------------------------------

def _join(page_path: str, rel: str) -> str:
    if rel.startswith("/"):
        return rel
    return page_path.rsplit("/", 1)[0] + "/" + rel.removeprefix("./")


_PNG_CACHE: list[bytes] = []


def _png() -> bytes:
    """A picture of a table (a 图片版 report's page: no text a parser can read)."""
    if not _PNG_CACHE:
        from crawler.demo.sites.chrome import image_png

        _PNG_CACHE.append(image_png([demo_layout("2021").heading("requests"), "（图片，示例数据）"]))
    return _PNG_CACHE[0]


def _meta(title: str, date: str, source: str, column: str = "政府信息公开年报") -> dict[str, str]:
    return {"ArticleTitle": title, "PubDate": f"{date} 09:30", "ContentSource": source, "ColumnName": column}


def _home(site: ZooSite, links: list[tuple[str, str]], footer: list[tuple[str, str]] = ()) -> None:
    main = nav([("首页", "/"), *links], "nav") + f"<p>欢迎访问{e(site.title)}。</p>"
    main += '<div class="news"><ul><li><a href="/xwzx/202501/t20250120_100.html">区政府召开政务公开工作会议</a></li></ul></div>'
    if footer:
        main += '<div class="foot-links">' + " | ".join(f'<a href="{e(h)}">{e(t)}</a>' for t, h in footer) + "</div>"
    site.add("/index.html", "首页", main)
    site.resources["/"] = site.resources["/index.html"]
    site.add("/xwzx/202501/t20250120_100.html", "区政府召开政务公开工作会议",
             f'<h1>区政府召开政务公开工作会议</h1><div class="TRS_Editor">{filler_body("政务公开工作会议", "2025-01-20")}</div>')


def _decoy_titles(region: str) -> list[str]:
    return [d.format(r=region) for d in DECOYS]


def _article_page(zoo: Zoo, site: ZooSite, r: ZooReport, *, container: str, crumbs, extra: str = "",
                  head: str = "", image_base: str = "./") -> None:
    body = zoo.body(site, r, image_base)
    cls = container.lstrip(".#")
    attr = f'id="{cls}"' if container.startswith("#") else f'class="{cls}"'
    inner = f"<!--ContentStart-->{body}<!--ContentEnd-->" if cls == "zoom" else body
    main = (f'<h1 class="title">{e(r.title)}</h1><div class="info">发布时间：{r.date} 来源：{e(r.agency)}</div>'
            f'{head}<div {attr}>{inner}</div>{extra}')
    site.add(r.path, r.title, main, crumbs=crumbs, meta=_meta(r.title, r.date, r.agency), date=r.date)


def _filler_page(site: ZooSite, path: str, title: str, date: str, container: str = "TRS_Editor") -> None:
    site.add(path, title, f'<h1>{e(title)}</h1><div class="{container}">{filler_body(title, date)}</div>',
             meta=_meta(title, date, site.title, "通知公告"), date=date)


def _lis(items: list[tuple[str, str, str]], date_cls: str = "date") -> str:
    return "".join(f'<li><a href="{e(h)}" title="{e(t)}" target="_blank">{e(short(t))}</a>'
                   f'<span class="{date_cls}">{d}</span></li>' for t, h, d in items)


def _hex(*parts) -> str:
    return hashlib.md5("|".join(map(str, parts)).encode()).hexdigest()


# ------------------------------------------------------------------------------------------------
# the sites
# ------------------------------------------------------------------------------------------------

def _trs(zoo: Zoo) -> ZooSite:
    s = ZooSite("trs", "TRS WCM", "青石区人民政府（示例数据）",
                robots="Disallow: /zwgk/zfxxgknb/nbfb/\nDisallow: /search/\n")
    _home(s, [("政务公开", "/zwgk/"), ("新闻中心", "/xwzx/")])
    s.raw("/zwgk/", "<html><head><script>location.replace('./index.html');</script></head><body></body></html>")
    crumbs = [("首页", "/"), ("政务公开", "/zwgk/index.html")]
    s.add("/zwgk/index.html", "政务公开", nav([("政府信息公开指南", "/zwgk/xxgkzn/"), ("政府信息公开年报", "/zwgk/zfxxgknb/"),
                                            ("政务公开工作要点", "/zwgk/gzyd/")]), crumbs=crumbs)
    col = "/zwgk/zfxxgknb/"
    ccrumbs = crumbs + [("政府信息公开年报", col)]
    units = [("青石区卫生健康局", "inline"), ("青石区教育局", "inline"), ("青石区民政局", "images"),
             ("青石区司法局", "truncated"), ("青石区人民政府办公室", "inline")]
    items = []
    for i, (agency, kind) in enumerate(units):
        date = f"2025-01-{10 + i:02d}"
        title = (f"{agency}2024年政府信息公开工作年度报告" + ("（图片版）" if kind == "images" else ""))
        path = f"{col}202501/t202501{10 + i:02d}_{4056200 + 17 * i}.html"
        r = ZooReport(s.name, agency, 2024, title, path, kind, date=date)
        s.reports.append(r)
        _article_page(zoo, s, r, container=".TRS_Editor", crumbs=ccrumbs)
        items.append((title, "./" + path[len(col):], date))
    for i, t in enumerate(_decoy_titles("青石区")):
        path = f"{col}202502/t202502{i + 1:02d}_{4057000 + i}.html"
        _filler_page(s, path, t, f"2025-02-{i + 1:02d}")
        items.append((t, "./" + path[len(col):], f"2025-02-{i + 1:02d}"))
    # a report link under robots.txt Disallow: never requested
    hidden = f"{col}nbfb/202501/t20250131_4059999.html"
    s.never.append(hidden)
    items.append(("青石区统计局2024年政府信息公开工作年度报告", hidden, "2025-01-31"))
    per = 7
    pages = -(-len(items) // per)
    for k in range(pages):
        chunk = items[k * per:(k + 1) * per]
        main = (f'<ul class="list">{_lis(chunk)}</ul><div class="page"><script>createPageHTML({pages}, {k}, '
                f'"index", "html");</script></div>')
        s.add(col + ("index.html" if k == 0 else f"index_{k}.html"), "政府信息公开年报", main, crumbs=ccrumbs,
              head_extra='<script src="/js/createPageHTML.js"></script>')
    s.raw("/js/createPageHTML.js", PAGE_JS, "application/javascript")
    return s


def _hanweb(zoo: Zoo) -> ZooSite:
    s = ZooSite("hanweb", "Hanweb JCMS", "白溪市人民政府（示例数据）")
    _home(s, [("新闻中心", "/col/col10/index.html"), ("互动交流", "/col/col20/index.html")],
          footer=[("信息公开", "/col/col100/index.html"), ("网站地图", "/col/col30/index.html")])
    s.add("/col/col100/index.html", "信息公开", nav([("政府信息公开指南", "/col/col101/index.html"),
                                                   ("政府信息公开制度", "/col/col102/index.html"),
                                                   ("政府信息公开年报", "/col/col200/index.html")]),
          crumbs=[("首页", "/"), ("信息公开", None)])
    crumbs = [("首页", "/"), ("信息公开", "/col/col100/index.html"), ("政府信息公开年报", "/col/col200/index.html")]
    records: list[str] = []
    units = [("白溪市发展和改革委员会", "inline"), ("白溪市卫生健康委员会", "inline"), ("白溪市应急管理局", "stub"),
             ("白溪市人民政府办公室", "inline"), ("2024年白溪市文化广电旅游局", "inline")]
    for i, (agency, kind) in enumerate(units):
        date = f"2025-01-{15 + i:02d}"
        year_first = agency.startswith("2024年")
        agency = agency.removeprefix("2024年")
        title = f"2024年{agency}政府信息公开工作年度报告" if year_first else f"{agency}2024年政府信息公开工作年度报告"
        path = f"/art/2025/1/{15 + i}/art_200_{98200 + 31 * i}.html"
        r = ZooReport(s.name, agency, 2024, title, path, kind, date=date)
        extra = ""
        if kind == "stub":  # the attachment link 302s to /attach/0/…, which is missing (a failed attachment)
            fname = _hex(agency, "pdf") + ".pdf"
            extra = (f'<div class="fj"><p>附件：<a href="/module/download/downfile.jsp?classid=0&amp;filename={fname}">'
                     f"{e(title)}.pdf</a></p></div>")
        idx = (f'<table class="xxgk_table"><tr><td>索引号</td><td>00{1000000 + i}/2025-{73432 + i}</td><td>公开方式</td>'
               f'<td>主动公开</td></tr><tr><td>发布机构</td><td>{e(agency)}</td><td>发文日期</td><td>{date}</td></tr>'
               f'<tr><td>信息名称</td><td colspan="3">{e(title)}</td></tr></table>')
        s.reports.append(r)
        _article_page(zoo, s, r, container="#zoom", crumbs=crumbs, extra=extra, head=idx)
        records.append(f'<li><a href="{path}" title="{e(title)}" target="_blank">{e(short(title, 30))}</a>'
                       f'<span class="fr">{date}</span></li>')
    for i, t in enumerate(_decoy_titles("白溪市")):
        path = f"/art/2025/2/{i + 1}/art_200_{99000 + i}.html"
        _filler_page(s, path, t, f"2025-02-{i + 1:02d}", "zoom")
        records.append(f'<li><a href="{path}" title="{e(t)}">{e(short(t, 30))}</a><span class="fr">2025-02-{i + 1:02d}</span></li>')
    inline = 3
    param = ("var param_300 = {col:1, appid:1, webid:9, path:'/', columnid:200, sourceContentType:1, "
             "unitid:'300', webname:'白溪市人民政府', permissiontype:0};")
    xml = "\n".join(f"<record><![CDATA[{x}]]></record>" for x in records[:inline])
    main = (f'<div id="300"><script type="text/xml"><datastore><nextgroup><![CDATA[<a href="/module/web/jpage/'
            f'dataproxy.jsp?page=1&appid=1&webid=9&path=/&columnid=200&unitid=300&permissiontype=0"></a>]]>'
            f"</nextgroup><recordset>{xml}</recordset><totalrecord>{len(records)}</totalrecord></datastore></script>"
            f'</div><script>{param}</script><script>var jpage = new Jpage({{id:"300", totalRecord:{len(records)}, '
            f'perPage:5, url:"/module/web/jpage/dataproxy.jsp"}});</script>')
    s.add("/col/col200/index.html", "政府信息公开年报", main, crumbs=crumbs[:2])

    def dynamic(method, path, query, form, base, headers=None):
        if path == "/module/web/jpage/dataproxy.jsp":
            if form.get("columnid") != "200":
                recs = []
            else:
                start, end = int(query.get("startrecord", 1)), int(query.get("endrecord", 45))
                recs = records[max(start, 1) - 1:end]
            body = ("<?xml version='1.0' encoding='UTF-8'?><datastore><nextgroup><![CDATA[]]></nextgroup><recordset>"
                    + "".join(f"<record><![CDATA[{x}]]></record>" for x in recs)
                    + f"</recordset><totalrecord>{len(records)}</totalrecord></datastore>")
            return Resource(body.encode(), "text/xml;charset=UTF-8", conditional=False)
        if path == "/module/download/downfile.jsp":
            return Resource(status=302, location=f"/attach/0/{query.get('filename', '')}", conditional=False)
        return None

    s.dynamic = dynamic
    return s


def _gkmlpt_content(zoo: Zoo, s: ZooSite, agency: str, title: str, date: str, pid: int, kind: str = "inline"
                    ) -> tuple[ZooReport, dict]:
    path = f"/gkmlpt/content/{pid // 1000000}/{pid // 1000}/post_{pid}.html"
    r = ZooReport(s.name, agency, int(re.search(r"(20\d\d)年", title).group(1)), title, path, kind, date=date)
    tab = (f'<table class="classify"><tr><td>索引号：</td><td>1144{pid}/2025-{pid % 1000}</td><td>分类：</td>'
           f'<td>政府信息公开年报</td></tr><tr><td>发布机构：</td><td>{e(agency)}</td><td>成文日期：</td><td>{date}</td>'
           f'</tr><tr><td>名称：</td><td colspan="3">{e(title)}</td></tr></table>')
    _article_page(zoo, s, r, container=".article-content", crumbs=[("首页", "/"), ("政府信息公开", "/gkmlpt/index")],
                  head=tab)
    ts = int(day(date, 2).timestamp())
    return r, {"id": pid, "title": title, "url": path, "publisher": agency, "create_time": ts,
               "created_at": f"{date} 10:30:00", "display_publish_time": ts}


def _gkmlpt_site(zoo: Zoo, name: str, title: str, region: str, sid: str, cats: dict[int, list]) -> ZooSite:
    s = ZooSite(name, "gkmlpt", title)
    articles: dict[int, list[dict]] = {}
    pid = 4688900 + (1000 if name != "gkmlpt" else 0)
    for cat, units in cats.items():
        articles[cat] = []
        for i, agency in enumerate(units):
            pid += 37
            date = f"2025-01-{10 + i:02d}"
            r, a = _gkmlpt_content(zoo, s, agency, f"{agency}2024年政府信息公开工作年度报告", date, pid)
            s.reports.append(r)
            articles[cat].append(a)
    decoys = []
    for i, t in enumerate(_decoy_titles(region)):
        pid += 41
        path = f"/gkmlpt/content/{pid // 1000000}/{pid // 1000}/post_{pid}.html"
        _filler_page(s, path, t, f"2025-02-{i + 1:02d}", "article-content")
        decoys.append({"id": pid, "title": t, "url": path, "create_time": int(day(f"2025-02-{i + 1:02d}").timestamp())})
    first = next(iter(articles))
    articles[first] += decoys

    def dynamic(method, path, query, form, base, headers=None):
        m = re.fullmatch(r"/gkmlpt/api/all/(\d+)", path)
        if m:
            rows = articles.get(int(m.group(1)), []) if query.get("sid") == sid else []
            pg = max(1, int(query.get("page") or 1))
            per = 4
            chunk = rows[(pg - 1) * per: pg * per]
            out = {"total": len(rows), "page": pg, "articles": [dict(a, url=base + a["url"]) for a in chunk]}
            return Resource(json.dumps(out, ensure_ascii=False).encode(), "application/json;charset=UTF-8",
                            conditional=False)
        return None

    s.dynamic = dynamic
    s._gk_articles = articles  # type: ignore[attr-defined]
    return s


def _gkmlpt(zoo: Zoo) -> ZooSite:
    cats = {2810: ["南岭区人民政府办公室", "南岭区卫生健康局", "南岭区教育局"], 2811: ["南岭区东山镇人民政府"]}
    s = _gkmlpt_site(zoo, "gkmlpt", "南岭区人民政府（示例数据）", "南岭区", "755031", cats)
    _home(s, [("政府信息公开", "/gkmlpt/index"), ("新闻中心", "/xwzx/")])
    classify = [{"id": 2801, "name": "机构职能", "children": [{"id": 2802, "name": "机构概况"}]},
                {"id": 2810, "name": "政府信息公开年报", "children": [{"id": 2811, "name": "镇街"}]},
                {"id": 2820, "name": "财政预决算", "children": []}]
    shell = (f"<script>window._CONFIG = {{SID: '755031', SITE_NAME: '南岭区'}};\nwindow.CLASSIFY = "
             f"{json.dumps(classify, ensure_ascii=False)};</script>"
             '<div id="app"><noscript>请开启浏览器的JavaScript功能</noscript>加载中……</div>')
    s.add("/gkmlpt/index", "政府信息公开目录", shell, crumbs=[("首页", "/")])
    return s


def _gkmlpt_tree(zoo: Zoo) -> ZooSite:
    cats = {7: ["北塘区人民政府", "北塘区民政局"], 8: ["北塘区西湖街道办事处"]}
    s = _gkmlpt_site(zoo, "gkmlpt_tree", "北塘区人民政府（示例数据）", "北塘区", "200025", cats)
    s.raw("/", '<html><head><meta http-equiv="refresh" content="0; url=/portal/index.html"><title>跳转</title>'
               "</head><body>页面跳转中……</body></html>")
    main = nav([("首页", "/portal/index.html"), ("公开目录", "/gkmlpt/index#0"), ("新闻中心", "/xwzx/")], "nav")
    s.add("/portal/index.html", "首页", main + f"<p>欢迎访问{e(s.title)}。</p>")
    s.add("/gkmlpt/index", "政府信息公开目录",
          "<script>var _CONFIG = {SID: '200025'};</script><div id='app'>加载中……</div>", crumbs=[("首页", "/")])
    tree = {"data": [{"id": 1, "name": "政策文件", "children": []},
                     {"id": 7, "name": "信息公开年报", "children": [{"id": 8, "name": "镇街"}]}]}
    gk = s.dynamic

    def dynamic(method, path, query, form, base, headers=None):
        if path == "/gkmlpt/api/tree":
            return Resource(json.dumps(tree, ensure_ascii=False).encode(), "application/json", conditional=False)
        return gk(method, path, query, form, base, headers)

    s.dynamic = dynamic
    return s


def _jpaas(zoo: Zoo) -> ZooSite:
    s = ZooSite("jpaas", "Hanweb JPaaS", "海陵市人民政府（示例数据）")
    _home(s, [("政务公开", "/col/col1/index.html"), ("新闻中心", "/col/col2/index.html")])
    s.add("/col/col1/index.html", "政务公开",
          '<div class="xxgk-zcnr"><ul><li class="clearfix"><a href="/col/col5/index.html">政府信息公开指南</a></li>'
          '<li class="clearfix"><a href="/col/col1229850/index.html">政府信息公开年报</a>'
          '<a class="xxgk_more" href="/col/col1229850/index.html">更多</a></li></ul></div>', crumbs=[("首页", "/")])
    qd = json.dumps({"webId": "52", "pageId": "1229850", "parseType": "bulidstatic", "pageType": "column"})
    s.add("/col/col1229850/index.html", "政府信息公开年报",
          f'<div id="public_list" queryData="{e(qd)}" url="/api-gateway/jpaas-publish-server/front/page/build/unit">'
          "</div>", crumbs=[("首页", "/"), ("政务公开", "/col/col1/index.html")])
    rows = []
    for i, agency in enumerate(["海陵市卫生健康委员会", "海陵市民政局", "海陵市交通运输局", "海陵市城东街道办事处"]):
        date = f"2025-01-{20 + i:02d}"
        title = f"{agency}2024年政府信息公开工作年度报告"
        path = f"/art/2025/1/{20 + i}/art_1229850_{4270101 + 87 * i}.html"
        r = ZooReport(s.name, agency, 2024, title, path, date=date)
        s.reports.append(r)
        _article_page(zoo, s, r, container=".wzzw-article", crumbs=[("首页", "/")])
        rows.append((title, path, date))
    for i, t in enumerate(_decoy_titles("海陵市")):
        path = f"/art/2025/2/{i + 1}/art_1229850_{4280000 + i}.html"
        _filler_page(s, path, t, f"2025-02-{i + 1:02d}", "wzzw-article")
        rows.append((t, path, f"2025-02-{i + 1:02d}"))

    def dynamic(method, path, query, form, base, headers=None):
        if path != "/api-gateway/jpaas-publish-server/front/page/build/unit":
            return None
        if query.get("pageId") != "1229850":
            return Resource(b'{"success": false, "message": "no such page"}', "application/json", conditional=False)
        try:
            pj = json.loads(query.get("paramJson") or "{}")
            n, size = int(pj.get("pageNo", 1)), 5
        except ValueError:
            return Resource(b'{"success": false}', "application/json", status=400, conditional=False)
        chunk = rows[(n - 1) * size: n * size]
        lis = "".join(f'<li class="clearfix"><a href="{h}" title="{e(t)}">{e(short(t, 20))}</a>'
                      f'<span class="bt-right">{d}</span></li>' for t, h, d in chunk)
        html = f'<ul>{lis}</ul><div class="pagination" rows="{size}" count="{len(rows)}"></div>'
        return Resource(json.dumps({"success": True, "data": {"html": html}}, ensure_ascii=False).encode(),
                        "application/json;charset=UTF-8", conditional=False)

    s.dynamic = dynamic
    return s


def _xxgk(zoo: Zoo) -> ZooSite:
    s = ZooSite("xxgk", "Hanweb xxgk module", "丽川市人民政府（示例数据）")
    _home(s, [("政府信息公开", "/zfxxgk/index.html"), ("新闻中心", "/xwzx/")])
    s.add("/zfxxgk/index.html", "政府信息公开", nav([("政府信息公开指南", "/zfxxgk/zn/index.html"),
                                                  ("政府信息公开年报", "/zfxxgk/ndbg/index.html")]), crumbs=[("首页", "/")])
    area, area2 = "113325000026455663", "11332500MB1234567X"
    mod = "/module/xxgk/xxgkAnnualReport.jsp"
    plan = [(area, 2024, "丽川市人民政府"), (area, 2023, "丽川市人民政府"), (area2, 2024, "丽川市财政局")]
    for a, y, agency in plan:
        date = f"{y + 1}-01-2{y % 10}"
        title = f"{agency}{y}年政府信息公开工作年度报告"
        path = f"{mod}?fbtime={y}&area={a}"
        r = ZooReport(s.name, agency, y, title, path, date=date)
        s.reports.append(r)
        _article_page(zoo, s, r, container="#zoom", crumbs=[("首页", "/"), ("政府信息公开", "/zfxxgk/index.html")])
    main = ('<ul class="nb-years">'
            f'<li><a href="{mod}?fbtime=2024&amp;area={area}">2024年度</a></li>'
            f'<li><a href="{mod}?fbtime=2023&amp;area={area}" title="丽川市人民政府2023年政府信息公开工作年度报告">'
            "丽川市人民政府2023年…</a></li></ul>"
            f'<p>市直部门：</p><form action="{mod}" method="get"><input type="hidden" name="area" value="{area2}">'
            '<select name="fbtime"><option value="">请选择</option><option value="2024">2024</option></select></form>'
            + '<ul class="list">' + _lis([(t, f"/zfxxgk/ndbg/t2025020{i + 1}_{i}.html", f"2025-02-0{i + 1}")
                                          for i, t in enumerate(_decoy_titles("丽川市"))]) + "</ul>")
    for i, t in enumerate(_decoy_titles("丽川市")):
        _filler_page(s, f"/zfxxgk/ndbg/t2025020{i + 1}_{i}.html", t, f"2025-02-0{i + 1}")
    s.add("/zfxxgk/ndbg/index.html", "政府信息公开年报", main, crumbs=[("首页", "/"), ("政府信息公开", "/zfxxgk/index.html")])

    def dynamic(method, path, query, form, base, headers=None):
        if path == mod and (query.get("fbtime"), query.get("area")) not in {(str(y), a) for a, y, _ in plan}:
            return Resource("<html><body><p>该单位该年度暂无年报</p></body></html>".encode(), status=404, conditional=False)
        return None

    s.dynamic = dynamic
    return s


def _vsb(zoo: Zoo) -> ZooSite:
    s = ZooSite("vsb", "VSB/博达", "甘川县人民政府（示例数据）", encoding="gbk")
    _home(s, [("信息公开", "/xxgk.htm"), ("新闻中心", "/xwzx.htm")])
    s.add("/xxgk.htm", "信息公开", nav([("信息公开指南", "/xxgk/xxgkzn.htm"), ("政府信息公开年报", "/xxgk/zfxxgknb.htm")]),
          crumbs=[("首页", "/")])
    items = []
    ident = 644600
    for i, agency in enumerate(["甘川县人民政府办公室", "甘川县卫生健康局", "甘川县兴国镇人民政府", "甘川县教育局",
                                "甘川县农业农村局"]):
        ident += 13
        date = f"2025-01-{10 + i:02d}"
        title = f"{agency}2024年政府信息公开工作年度报告"
        path = f"/info/2381/{ident}.htm"
        r = ZooReport(s.name, agency, 2024, title, path, date=date)
        extra = ""
        if i == 0:  # 【下载Word】: the same report as a DOCX through download.jsp
            href = f"/system/_content/download.jsp?urltype=news.DownloadAttachUrl&owner=1538&wbfileid={5234567 + i}"
            spec = zoo.spec(agency, 2024, title, date)
            s.resources[href] = Resource(_render().render_docx(spec),
                                         "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
                                         day(date), headers={"Content-Disposition":
                                                             f"attachment; filename*=UTF-8''{quote(title)}.docx"})
            r.attachments.append(href)
            extra = f'<div class="down"><a href="{e(href)}">【下载Word】</a></div>'
        s.reports.append(r)
        _article_page(zoo, s, r, container="#vsb_content", crumbs=[("首页", "/"), ("信息公开", "/xxgk.htm")],
                      extra=extra)
        items.append((title, path, date))
    for i, t in enumerate(_decoy_titles("甘川县")):
        ident += 7
        _filler_page(s, f"/info/2381/{ident}.htm", t, f"2025-02-{i + 1:02d}", "v_news_content")
        items.append((t, f"/info/2381/{ident}.htm", f"2025-02-{i + 1:02d}"))
    per = 4
    total = -(-len(items) // per)

    def list_path(k: int) -> str:  # VSB numbers the later pages downwards: zfxxgknb/2.htm is the last
        return "/xxgk/zfxxgknb.htm" if k == 0 else f"/xxgk/zfxxgknb/{total - k}.htm"

    for k in range(total):
        pager = [f"共{len(items)}条&nbsp;&nbsp;{k + 1}/{total}&nbsp;"]
        if k < total - 1:
            pager += [f'<a href="{list_path(k + 1)}" class="Next">下页</a>', f'<a href="{list_path(total - 1)}" class="Next">尾页</a>']
        main = (f'<div class="list"><ul>{_lis(items[k * per:(k + 1) * per], "time")}</ul></div>'
                f'<div class="pb_sys_common">{" ".join(pager)}</div>')
        s.add(list_path(k), "政府信息公开年报", main, crumbs=[("首页", "/"), ("信息公开", "/xxgk.htm")])
    return s


def _ucap(zoo: Zoo) -> ZooSite:
    s = ZooSite("ucap", "UCAP", "吴门市人民政府（示例数据）")
    _home(s, [("政务公开", "/zwgk/"), ("新闻中心", "/xwzx/")])
    s.add("/zwgk/index.html", "政务公开", nav([("信息公开年报", "/szxxgk/nb/index.html"), ("公开指南", "/zwgk/zn/")]),
          crumbs=[("首页", "/")])
    channel = "2c9e3a1b4d5f60718293a4b5c6d7e8f9"
    s.add("/szxxgk/nb/index.html", "信息公开年报",
          f'<ul class="infolist" id="list"></ul><script>var channelid = "{channel}";\n'
          '$.getJSON("/szinf/info/getInfoCommon/", {pagesize: 3, currpage: 1, channelid: channelid}, render);</script>',
          crumbs=[("首页", "/"), ("政务公开", "/zwgk/")])
    rows = []
    for i, agency in enumerate(["吴门市姑苏区人民政府", "吴门市水务局", "吴门市统计局", "吴门市娄门街道办事处"]):
        date = f"2025-01-{21 + i:02d}"
        title = f"{agency}2024年政府信息公开工作年度报告"
        path = f"/szinf/info/s/202501/{_hex(agency)}.shtml"
        r = ZooReport(s.name, agency, 2024, title, path, date=date)
        s.reports.append(r)
        body = zoo.body(s, r)
        s.add(path, title, f"<h1 id='ti'>{e(title)}</h1><div class='pages-date'>{date}</div><ucapcontent>{body}"
                           "</ucapcontent>", meta=_meta(title, date, agency), date=date)
        rows.append({"title": title, "link": path, "pubtime": f"{date} 10:00:00"})
    for i, t in enumerate(_decoy_titles("吴门市")):
        path = f"/szinf/info/s/202502/{_hex(t)}.shtml"
        _filler_page(s, path, t, f"2025-02-{i + 1:02d}")
        rows.append({"title": t, "link": path, "pubtime": f"2025-02-{i + 1:02d} 10:00:00"})

    def dynamic(method, path, query, form, base, headers=None):
        if path.rstrip("/") != "/szinf/info/getInfoCommon":
            return None
        size = min(int(query.get("pagesize") or 15), 50)
        n = int(query.get("currpage") or 1)
        chunk = rows[(n - 1) * size: n * size] if query.get("channelid") == channel else []
        return Resource(json.dumps({"infolist": chunk}, ensure_ascii=False).encode(), "application/json",
                        conditional=False)

    s.dynamic = dynamic
    return s


def _numeric(zoo: Zoo) -> ZooSite:
    s = ZooSite("numeric", "numeric-column CMS", "大岭区人民政府（示例数据）", scheme="https")
    root = "/bjsdxqrmzf/zwfw/zfxxgk/"
    _home(s, [("政府信息公开", root + "index.html"), ("新闻中心", "/xwzx/")])
    col = root + "dxqzf69/"
    s.add(root + "index.html", "政府信息公开", nav([("政府信息公开指南", root + "dxqzf60/index.html"),
                                                 ("政府信息公开年报", col + "index.html")]), crumbs=[("首页", "/")])
    years = {2024: "2291822", 2023: "2180455"}
    s.add(col + "index.html", "政府信息公开年报", nav([(f"{y}年", f"{col}{d}/index.html") for y, d in years.items()]),
          crumbs=[("首页", "/"), ("政府信息公开", root + "index.html")])
    n = 2292900
    for y, ydir in years.items():
        groups = {"区政府部门": str(int(ydir) + 1), "乡镇街道": str(int(ydir) + 2)}
        s.add(f"{col}{ydir}/index.html", f"{y}年", nav([(g, f"{col}{ydir}/{d}/index.html") for g, d in groups.items()]),
              crumbs=[("首页", "/"), ("政府信息公开年报", col + "index.html")])
        units = {"区政府部门": ["大岭区卫生健康委员会", "大岭区商务局"], "乡镇街道": ["大岭区榆林镇人民政府"]}
        for g, gdir in groups.items():
            items = []
            for agency in units[g]:
                n += 29
                date = f"{y + 1}-01-2{len(items) + 1}"
                title = f"{agency}{y}年政府信息公开工作年度报告"
                path = f"{col}{ydir}/{gdir}/{n}/index.html"
                r = ZooReport(s.name, agency, y, title, path, date=date)
                s.reports.append(r)
                _article_page(zoo, s, r, container=".xxgk_content", crumbs=[("首页", "/")])
                items.append((title, path, date))
            n += 3
            t = _decoy_titles("大岭区")[y % 3]
            _filler_page(s, f"{col}{ydir}/{gdir}/{n}/index.html", t, f"{y + 1}-02-01")
            items.append((t, f"{col}{ydir}/{gdir}/{n}/index.html", f"{y + 1}-02-01"))
            s.add(f"{col}{ydir}/{gdir}/index.html", g, f'<ul class="list">{_lis(items, "time")}</ul>',
                  crumbs=[("首页", "/"), ("政府信息公开年报", col + "index.html"), (f"{y}年", f"{col}{ydir}/index.html")])
    return s


def _tree(zoo: Zoo) -> ZooSite:
    s = ZooSite("tree", "generic (year → group → unit)", "西岑新区管委会（示例数据）", robots="Crawl-delay: 1\n")
    s.raw("/", "<html><head><title></title></head><body><script>window.location.href = \"/index.html\";</script></body></html>")
    s.add("/index.html", "首页", nav([("政务公开", "/zwgk/index.html"), ("新闻中心", "/xwzx/")], "nav"))
    col = "/xwzx/ztzl/zfxxgknb/"
    s.add("/zwgk/index.html", "政务公开", nav([("政府信息公开年报", col + "index.html"), ("公开指南", "/zwgk/zn.html")]),
          crumbs=[("首页", "/index.html")])
    s.add(col + "index.html", "政府信息公开年报", nav([("2023年", col + "2023/index.html")]), crumbs=[("首页", "/index.html")])
    s.add(col + "2023/index.html", "2023年", nav([("街道办事处", col + "2023/gzj/index.html"),
                                                ("新区部门", col + "2023/bm/index.html")]))
    plan = {"gzj": [("dzjd", "西岑新区底张街道办事处"), ("zyjd", "西岑新区正阳街道办事处")],
            "bm": [("jsj", "西岑新区建设局")]}
    for g, units in plan.items():
        s.add(col + f"2023/{g}/index.html", {"gzj": "街道办事处", "bm": "新区部门"}[g],
              nav([(name, col + f"2023/{g}/{u}/index.html") for u, name in units]))
        for k, (u, agency) in enumerate(units):
            date = f"2024-01-2{k + 1}"
            title = f"{agency}2023年度政府信息公开工作年度报告"
            path = col + f"2023/{g}/{u}/" + ("1.html" if k == 0 else f"17496038416711{88482 + k}.html")
            r = ZooReport(s.name, agency, 2023, title, path, date=date)
            s.reports.append(r)
            _article_page(zoo, s, r, container=".zw-content", crumbs=[("首页", "/index.html")])
            s.add(col + f"2023/{g}/{u}/index.html", agency,
                  f'<ul class="list">{_lis([(title, path, date), ("西岑新区2023年政务公开工作要点", col + f"2023/{g}/{u}/9.html", "2023-03-01")])}</ul>')
            _filler_page(s, col + f"2023/{g}/{u}/9.html", "西岑新区2023年政务公开工作要点", "2023-03-01")
    return s


#: Pages of the endless 下一页 chain and of the page-count bomb the site will serve (any number).
TRAP_BOMB_PAGES = 1_000_000


def _traps(zoo: Zoo) -> ZooSite:
    s = ZooSite("traps", "TRS (traps)", "黑石县人民政府（示例数据）")
    _home(s, [("政务公开", "/zwgk/index.html")])
    s.add("/zwgk/index.html", "政务公开", nav([("政府信息公开年报", "/zwgk/zfxxgknb/index.html")]), crumbs=[("首页", "/")])
    col = "/zwgk/zfxxgknb/"
    crumbs = [("首页", "/"), ("政务公开", "/zwgk/index.html")]
    reals = [("黑石县人民政府", ""), ("黑石县卫生健康局", "bm/"), ("黑石县城关镇人民政府", "xz/"), ("黑石县东街街道办事处", "jd/")]
    entries: dict[str, list] = {}
    for i, (agency, sub) in enumerate(reals):
        date = f"2025-01-1{i}"
        title = f"{agency}2024年政府信息公开工作年度报告"
        path = f"{col}{sub}202501/t2025011{i}_{7000100 + i}.html"
        r = ZooReport(s.name, agency, 2024, title, path, date=date)
        s.reports.append(r)
        _article_page(zoo, s, r, container=".TRS_Editor", crumbs=crumbs)
        entries.setdefault(sub, []).append((title, "./" + path[len(col + sub):], date))
    # trap 1: a report link that 302s to another host (127.0.0.2)
    redirect = f"{col}202501/t20250119_7000999.html"
    entries[""].append(("黑石县财政局2024年政府信息公开工作年度报告", "./202501/t20250119_7000999.html", "2025-01-19"))
    s.never.append(redirect)
    sub_nav = nav([("区政府部门", col + "bm/index.html"), ("乡镇", col + "xz/index.html"), ("街道", col + "jd/index.html")])
    s.add(col + "index.html", "政府信息公开年报", sub_nav + f'<ul class="list">{_lis(entries[""])}</ul>', crumbs=crumbs)
    # trap 2: createPageHTML(1000000, 0, ...): a page-count bomb (every index_N.html exists)
    s.add(col + "bm/index.html", "区政府部门", f'<ul class="list">{_lis(entries["bm/"])}</ul><div class="page">'
          f'<script>createPageHTML({TRAP_BOMB_PAGES}, 0, "index", "html");</script></div>', crumbs=crumbs)
    # trap 3: an endless 下一页 chain (list_N.html links list_N+1.html, for ever)
    s.add(col + "xz/index.html", "乡镇", f'<ul class="list">{_lis(entries["xz/"])}</ul>'
          f'<div class="pager"><a href="{col}xz/list_1.html">下一页</a></div>', crumbs=crumbs)
    # trap 4: a 下一页 to file:///etc/passwd
    s.add(col + "jd/index.html", "街道", f'<ul class="list">{_lis(entries["jd/"])}</ul>'
          '<div class="pager"><a href="file:///etc/passwd">下一页</a></div>', crumbs=crumbs)

    def dynamic(method, path, query, form, base, headers=None):
        if path == redirect:
            return Resource(status=302, location=zoo.foreign.base_url + "/latest/meta-data/", conditional=False)
        m = re.fullmatch(re.escape(col) + r"bm/index_(\d+)\.html", path)
        if m and 0 < int(m.group(1)) < TRAP_BOMB_PAGES:
            k = int(m.group(1))
            return Resource(page(s.title, "区政府部门", f'<ul class="list">{_lis([(f"黑石县工作动态（{k}）", f"./t{k}.html", "2024-06-01")])}</ul>'
                                 f'<script>createPageHTML({TRAP_BOMB_PAGES}, {k}, "index", "html");</script>'))
        m = re.fullmatch(re.escape(col) + r"xz/list_(\d+)\.html", path)
        if m:
            k = int(m.group(1))
            return Resource(page(s.title, "乡镇", f'<ul class="list">{_lis([(f"黑石县乡镇动态（{k}）", f"./t{k}.html", "2024-06-01")])}</ul>'
                                 f'<div class="pager"><a href="{col}xz/list_{k + 1}.html">下一页</a></div>'))
        return None

    s.dynamic = dynamic
    return s


#: The clearance the 加速乐-style script computes (char codes, so that no plain-HTTP client reads it off).
WAF_CLEARANCE = "1733040000.417|0|nbDemo%2Bclear"


def _waf(zoo: Zoo) -> ZooSite:
    s = ZooSite("waf", "TRS behind 加速乐", "赤水县人民政府（示例数据）")
    _home(s, [("政务公开", "/zwgk/index.html")])
    s.add("/zwgk/index.html", "政务公开", nav([("政府信息公开年报", "/zwgk/zfxxgknb/index.html")]), crumbs=[("首页", "/")])
    col = "/zwgk/zfxxgknb/"
    items = []
    for i, agency in enumerate(["赤水县人民政府办公室", "赤水县卫生健康局"]):
        date = f"2025-01-1{i + 2}"
        title = f"{agency}2024年政府信息公开工作年度报告"
        path = f"{col}202501/t2025011{i + 2}_{5100200 + i}.html"
        r = ZooReport(s.name, agency, 2024, title, path, date=date)
        s.reports.append(r)
        _article_page(zoo, s, r, container=".TRS_Editor", crumbs=[("首页", "/")])
        items.append((title, "./" + path[len(col):], date))
    t = _decoy_titles("赤水县")[0]
    _filler_page(s, f"{col}202502/t20250201_5100300.html", t, "2025-02-01")
    items.append((t, "./202502/t20250201_5100300.html", "2025-02-01"))
    s.add(col + "index.html", "政府信息公开年报", f'<ul class="list">{_lis(items)}</ul>', crumbs=[("首页", "/")])
    codes = ",".join(str(ord(c)) for c in WAF_CLEARANCE)
    challenge = ("<html><body><script>var _0x1f=[" + codes + "];var _0x2a=_0x1f.map(function(c){return "
                 "String.fromCharCode(c)}).join('');setTimeout(function(){document.cookie='__jsl_clearance_s='+"
                 "_0x2a+';max-age=3600;path=/';location.href=location.pathname+location.search},300);"
                 "</script></body></html>").encode()

    def dynamic(method, path, query, form, base, headers=None):
        cookie = next((v for k, v in (headers or {}).items() if k.lower() == "cookie"), "")
        if f"__jsl_clearance_s={WAF_CLEARANCE}" in cookie:
            return None
        return Resource(challenge, status=521, conditional=False,
                        headers={"Set-Cookie": "__jsluid_s=7f0a1b2c3d4e5f60718293a4b5c6d7e8; max-age=31536000; path=/"})

    s.dynamic = dynamic
    return s
