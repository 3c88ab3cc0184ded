"""A nation of portals on one port: the demo's scale mode for the national benchmark (issue 14 item 1).

``Nation(sites=3000)`` serves 3,000 small portals from one HTTP server, told apart by the Host
header (``p0001.scale.nianbao.test`` …): a crawler that resolves those names to 127.0.0.1 sees
3,000 hosts, each its own download slot with its own politeness.  Each portal is laid out in one
of the conformance zoo's platform styles (``crawler.demo.zoo``): TRS WCM (``location.replace``
shell, createPageHTML pages), VSB/博达 (GBK, pb_sys_common pager numbered downwards), the
numeric-column CMS (year → group → report directories) and the generic year → group → unit
tree.  A portal has 30–100 listing and report pages: the reports of its agencies for two years,
the zoo's decoys (工作要点, 决算 …), most reports inline HTML and a quarter a PDF attachment.

Nights: ``nation.night = k`` moves the simulation to night k.  Each night about 5% of the reports
change: half of the changes are corrections of a published report (same URL, new bytes and
Last-Modified), half are new reports (a new agency's page, listed first in its column).

Cheap enough for 3,000 portals: a portal's plan (about 160 KB, built in under 1 ms on first request
and kept for the night, up to PLAN_CACHE_MAX plans) holds no page bytes; pages are rendered on
request from a few dozen pre-rendered report bodies (the seeds' numbers varied, as the demo does)
with the agency and region filled in; PDFs are a handful of real LibreOffice renders, cached on
disk, reused across reports (their printed agency is a placeholder, so the parse stage reads a
different agency there than the page names).  The request log only counts (per status), so a
night of 200,000 requests does not grow the server.

Run by hand::

    python -m crawler.demo.scale --sites 300 --port 8900 [--night 1]
"""
from __future__ import annotations

import argparse
import copy
import functools
import hashlib
import logging
import os
import random
import re
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Callable
from urllib.parse import urlsplit

from crawler.demo.portal import _demo_spec, _fixture_dirs, _not_found, _render, _Served
from crawler.demo.sites import numbers, texts
from crawler.demo.sites.chrome import DEMO_MARK, e, filler_body, nav, page
from crawler.demo.sites.model import Resource, day
from crawler.demo.sites.platforms import PAGE_JS
from crawler.demo.spec import ReportSpec
from crawler.demo.zoo import _decoy_titles, _lis, _meta

log = logging.getLogger(__name__)

HOST_SUFFIX = "scale.nianbao.test"  # .test is reserved (RFC 2606): never a real host
STYLES = ("trs", "vsb", "numeric", "tree")
YEARS = (2023, 2024)
CHANGE_SHARE = 0.05  # reports new or revised per night
PDF_SHARE = 0.25
BODY_VARIANTS = 48  # pre-rendered (2023, 2024) report pairs; agencies of one portal never share one
PDF_VARIANTS = 6  # real LibreOffice renders (a few seconds each, cached on disk)
#: Plans the server keeps at most (a plan is about 156 KiB: 4,096 of them about 640 MB; all 99,999 were
#: about 15 GB).  A plan is rebuilt the same from its seeds on a miss, so the bound costs CPU, never content.
PLAN_CACHE_MAX = 4096
_HOST_RE = re.compile(r"p(\d{4,5})\." + re.escape(HOST_SUFFIX) + r"(?::\d+)?$")

# placeholders the report bodies are rendered with, replaced per report
_AGENCY_PH, _REGION_PH = "占位县卫生健康局", "占位县"
_A, _R, _Y = "\x00A\x00", "\x00R\x00", "\x00Y\x00"

_SYLLABLES = "青白甘吴大西黑赤丽云金石松柏安平永宁清河江山阳泉兴华南北东中新长德福"
_KINDS = ("县", "区", "市")
_UNITS = ("人民政府办公室", "发展和改革局", "教育局", "科学技术局", "公安局", "民政局", "司法局", "财政局",
          "人力资源和社会保障局", "自然资源局", "生态环境分局", "住房和城乡建设局", "交通运输局", "水利局",
          "农业农村局", "商务局", "文化和旅游局", "卫生健康局", "退役军人事务局", "应急管理局", "审计局",
          "市场监督管理局", "统计局", "医疗保障局", "林业局", "城市管理局", "信访局", "行政审批局", "档案馆",
          "供销合作社", "城关镇人民政府", "东街街道办事处", "西街街道办事处", "南关镇人民政府", "北山镇人民政府",
          "河口镇人民政府", "新华街道办事处", "永安镇人民政府", "平安乡人民政府", "清河镇人民政府",
          "金山镇人民政府", "石桥镇人民政府", "松林乡人民政府", "柏树乡人民政府", "长安街道办事处",
          "德胜镇人民政府", "福田镇人民政府", "中和镇人民政府", "东风街道办事处", "兴隆镇人民政府")


def host_name(i: int) -> str:
    return f"p{i:04d}.{HOST_SUFFIX}"


def site_index(host: str) -> int | None:
    m = _HOST_RE.match((host or "").lower())
    return int(m.group(1)) if m else None


def region_of(i: int) -> str:
    n = len(_SYLLABLES)
    a, b = _SYLLABLES[i % n], _SYLLABLES[(i // n + 7 * i) % n]
    return f"{a}{b}{_KINDS[i % 3]}（{i:04d}）"


@dataclass
class ScaleReport:
    agency: str
    year: int
    path: str
    date: str
    variant: int  # index of the pre-rendered body
    fmt: str = "html"  # html | pdf (the page is a stub linking the PDF)
    revision: int = 0  # corrections published so far
    revised_on: str | None = None
    night: int = 0  # the night it appeared (0: there from the start)

    @property
    def title(self) -> str:
        return f"{self.agency}{self.year}年政府信息公开工作年度报告"

    @property
    def pdf_path(self) -> str:
        return self.path.rsplit("/", 1)[0] + f"/P0{hashlib.md5(self.path.encode()).hexdigest()[:12]}.pdf"


@dataclass
class ScaleSite:
    """One portal's plan at one night; its pages are rendered on request."""

    index: int
    style: str
    region: str
    title: str
    reports: list[ScaleReport] = field(default_factory=list)
    decoys: list[tuple[str, str, str]] = field(default_factory=list)  # (title, path, date)
    pages: dict[str, Callable[[], Resource]] = field(default_factory=dict)

    @property
    def encoding(self) -> str:
        return "gbk" if self.style == "vsb" else "utf-8"

    def add(self, path: str, title: str, main: str, *, crumbs=(), meta=None, date: str = "2025-01-02",
            head_extra: str = "", last_modified: datetime | None = None) -> None:
        self._claim(path)

        def render() -> Resource:
            body = page(self.title, title, main() if callable(main) else main, crumbs=list(crumbs), meta=meta,
                        encoding=self.encoding, charset_in_meta=self.encoding == "utf-8", head_extra=head_extra)
            ctype = "text/html; charset=utf-8" if self.encoding == "utf-8" else "text/html"
            return Resource(body, ctype, last_modified or day(date))
        self.pages[path] = render

    def raw(self, path: str, body: bytes, ctype: str = "text/html; charset=utf-8") -> None:
        self._claim(path)
        self.pages[path] = lambda: Resource(body, ctype)

    def _claim(self, path: str) -> None:
        # A real portal gives each document its own URL; a page defined twice would silently serve the later
        # one under the earlier's link (a report's page became a decoy's, and its PDF was never linked).
        if path in self.pages:
            raise ValueError(f"portal {self.index}: {path} is already another page")


class Nation(_Served):
    """``sites`` portals on one server, by Host header; ``night`` selects the simulated night."""

    def __init__(self, sites: int = 3000, night: int = 0, *, seed_dir: str | Path | None = None,
                 expected_dir: str | Path | None = None, cache_dir: str | Path | None = None,
                 pdf_share: float = PDF_SHARE, change_share: float = CHANGE_SHARE,
                 pdf_variants: int = PDF_VARIANTS, plan_cache: int | None = None) -> None:
        super().__init__()
        if not 1 <= sites <= 99999:
            raise ValueError(f"sites must be 1..99999, got {sites}")
        self.sites, self._night = sites, night
        self.pdf_share, self.change_share = pdf_share, change_share
        self.seed_dir, self.expected_dir = _fixture_dirs(seed_dir, expected_dir)
        self.cache_dir = Path(cache_dir or os.environ.get("NIANBAO_DEMO_CACHE")
                              or Path(tempfile.gettempdir()) / "nianbao-demo-cache")
        self.counts: Counter[int] = Counter()  # status -> requests (the log only counts, see module doc)
        self.bytes_sent = 0
        self._count_lock = threading.Lock()
        self._bodies = self._render_bodies()
        self._pdf_variants = pdf_variants
        self._pdfs: dict[int, bytes] = {}
        self._pdf_lock = threading.Lock()
        # The server keeps every site's plan up to PLAN_CACHE_MAX: a national night crawls all its portals at
        # once, and a cache smaller than that rebuilt a plan on nearly every request (the server's whole CPU
        # at 3,000); past the cap it rebuilds (the same plan) rather than grow without bound.  A caller walking
        # the sites in order (the bench's totals) passes a small plan_cache.
        self._site = functools.lru_cache(maxsize=plan_cache or min(PLAN_CACHE_MAX, max(512, sites)))(self._build)

    # -- nights ------------------------------------------------------------------------------
    @property
    def night(self) -> int:
        return self._night

    @night.setter
    def night(self, k: int) -> None:
        self._night = k  # plans are cached by (index, night): the old night's simply age out

    def site(self, i: int) -> ScaleSite:
        if not 0 <= i < self.sites:
            raise KeyError(i)
        return self._site(i, self._night)

    # -- content ---------------------------------------------------------------------------------
    def _render_bodies(self) -> list[dict[int, str]]:
        """BODY_VARIANTS (2023, 2024) report bodies with placeholders: the seeds' template, numbers
        varied with the demo's generators, 2024's carried-over = 2023's carried-forward."""
        render = _render()
        seeds = [_demo_spec(t, self.expected_dir) for t in sorted(self.seed_dir.glob("*.txt"))]
        out = []
        for v in range(BODY_VARIANTS):
            rng = random.Random(f"scale-body|{v}")
            kind = ("department", "town", "government")[v % 3]
            scale = {"government": 12, "department": 6, "town": 3}[kind]
            t2 = numbers.make_table2(rng, None, kind)
            t3a = numbers.make_table3(rng, scale, [0] * 6)
            t2b = numbers.make_table2(rng, t2, kind)
            t3b = numbers.make_table3(rng, scale, t3a["carried_forward"][:6])
            pair = {}
            for year, tab2, tab3 in ((2023, t2, t3a), (2024, t2b, t3b)):
                t4 = numbers.make_table4(rng)
                spec = ReportSpec(
                    agency=_AGENCY_PH, year=year, title=f"{_AGENCY_PH}{year}年政府信息公开工作年度报告",
                    published=f"{year + 1}-01-20", template="2021",
                    preamble=texts.preamble(_AGENCY_PH, year, f"{_REGION_PH}人民政府", f"0000-{1000000 + v}"),
                    sections=texts.make_sections(_AGENCY_PH, year, tab3, t4, salt=f"scale{v}"),
                    table2=tab2, table3=tab3, table4=t4, signature=[_AGENCY_PH, f"{year + 1}年1月20日"], demo=True)
                if not seeds:  # pragma: no cover - the bundled seeds are always there
                    raise FileNotFoundError(f"{self.seed_dir}: no seed texts")
                frag = render.render_html_fragment(spec)
                pair[year] = (frag.replace(_AGENCY_PH, _A).replace(_REGION_PH, _R)
                              .replace(f"{year}年", _Y))
            out.append(pair)
        return out

    def body(self, site: ScaleSite, r: ScaleReport) -> str:
        frag = self._bodies[r.variant][r.year]
        frag = frag.replace(_A, r.agency).replace(_R, site.region).replace(_Y, f"{r.year}年")
        if r.revision:
            frag += (f"<p>本报告于{r.revised_on}更正了部分统计数据（第{r.revision}次修订，{DEMO_MARK}）。</p>")
        return frag

    def pdf(self, k: int) -> bytes:
        """The k-th PDF render (LibreOffice, cached on disk by content)."""
        k %= self._pdf_variants
        with self._pdf_lock:
            if k in self._pdfs:
                return self._pdfs[k]
            render = _render()
            rng = random.Random(f"scale-pdf|{k}")
            t3 = numbers.make_table3(rng, 6, [0] * 6)
            t4 = numbers.make_table4(rng)
            agency = f"示例{_SYLLABLES[k]}县{_UNITS[k + 1]}"
            spec = ReportSpec(agency=agency, year=2024, title=f"{agency}2024年政府信息公开工作年度报告",
                              published="2025-01-20", template="2021",
                              preamble=texts.preamble(agency, 2024, "示例县人民政府", f"0000-{2000000 + k}"),
                              sections=texts.make_sections(agency, 2024, t3, t4, salt=f"pdf{k}"),
                              table2=numbers.make_table2(rng, None, "department"), table3=t3, table4=t4,
                              signature=[agency, "2025年1月20日"], demo=True)
            src = Path(render.__file__).read_bytes()
            key = hashlib.sha256(b"scale-pdf" + src + repr(spec).encode()).hexdigest()[:32]
            path = self.cache_dir / f"scale-{key}.pdf"
            if path.exists():
                data = path.read_bytes()
            else:
                t0 = time.monotonic()
                data = render.render_pdf(spec)
                self.cache_dir.mkdir(parents=True, exist_ok=True)
                tmp = path.with_suffix(f".{os.getpid()}.tmp")
                tmp.write_bytes(data)
                os.replace(tmp, path)
                log.info("rendered scale PDF %d in %.1fs (%s)", k, time.monotonic() - t0, path)
            self._pdfs[k] = data
            return data

    def warm(self) -> None:
        """Render the PDFs now (LibreOffice) rather than on a crawler's first request."""
        for k in range(self._pdf_variants):
            self.pdf(k)

    # -- the plan ----------------------------------------------------------------------------------
    def _build(self, i: int, night: int) -> ScaleSite:
        rng = random.Random(f"scale-site|{i}")
        style = STYLES[i % len(STYLES)]
        region = region_of(i)
        site = ScaleSite(i, style, region, f"{region}人民政府（{DEMO_MARK}）")
        target = rng.randint(30, 100)  # listing + report pages at night 0
        agencies = max(9, min(len(_UNITS), -(-(target - 11) // 2)))
        units = rng.sample(_UNITS, agencies)
        variants = rng.sample(range(BODY_VARIANTS), agencies)
        base = 4000000 + 997 * i
        for a, (unit, v) in enumerate(zip(units, variants)):
            for year in YEARS:
                d = f"{year + 1}-01-{1 + (a * 3 + year) % 28:02d}"
                fmt = "pdf" if rng.random() < self.pdf_share else "html"
                site.reports.append(ScaleReport(f"{region}{unit}", year, "", d, v, fmt))
        for n in range(1, night + 1):  # the nights so far, each from its own random stream
            nrng = random.Random(f"scale-night|{i}|{n}")
            share = self.change_share * len(site.reports)
            changes = int(share) + (1 if nrng.random() < share - int(share) else 0)
            when = (datetime(2025, 2, 1, tzinfo=timezone.utc) + timedelta(days=n)).date().isoformat()
            for _ in range(changes):
                if nrng.random() < 0.5:  # a correction
                    r = nrng.choice(site.reports)
                    r.revision += 1
                    r.revised_on = when
                else:  # a new report: a unit (or a renamed one) that had not published
                    unit = f"新设第{len(site.reports)}工作委员会"
                    site.reports.append(ScaleReport(f"{region}{unit}", 2024, "", when, nrng.randrange(BODY_VARIANTS),
                                                    "pdf" if nrng.random() < self.pdf_share else "html", night=n))
        {"trs": _trs, "vsb": _vsb, "numeric": _numeric, "tree": _tree}[style](self, site, base)
        return site

    # -- what a perfect crawl stores ------------------------------------------------------------------
    def site_configs(self, port: int, count: int | None = None) -> list[dict]:
        """config.yaml ``sites`` entries: each portal by its home page on ``port``."""
        return [{"name": f"p{i:04d}", "region": region_of(i), "start_url": f"http://{host_name(i)}:{port}/"}
                for i in range(count or self.sites)]

    def expected_documents(self, i: int, port: int) -> set[str]:
        site = self.site(i)
        b = f"http://{host_name(i)}:{port}"
        return {b + p for r in site.reports for p in ((r.path, r.pdf_path) if r.fmt == "pdf" else (r.path,))}

    def totals(self, count: int | None = None) -> dict[str, int]:
        """Pages, reports, PDFs and this night's changes over the first ``count`` portals."""
        out = Counter()
        for i in range(count or self.sites):
            s = self.site(i)
            out["portals"] += 1
            out["pages"] += len(s.pages)
            out["reports"] += len(s.reports)
            out["pdf_reports"] += sum(r.fmt == "pdf" for r in s.reports)
            out["new_tonight"] += sum(r.night == self._night and r.night > 0 for r in s.reports)
            out["revised_tonight"] += sum(r.revised_on is not None and self._night > 0 and r.revised_on == (
                datetime(2025, 2, 1) + timedelta(days=self._night)).date().isoformat() for r in s.reports)
        return dict(out)

    # -- serving -------------------------------------------------------------------------------------
    def record(self, rec) -> None:
        with self._count_lock:
            self.counts[rec.status] += 1

    def clear_log(self) -> None:
        with self._count_lock:
            self.counts.clear()

    def respond(self, method: str, target: str, headers: dict[str, str], body: bytes, base_url: str) -> Resource:
        host = next((v for k, v in headers.items() if k.lower() == "host"), "")
        i = site_index(host)
        if i is None or i >= self.sites:
            return _not_found()
        site = self.site(i)
        path = urlsplit(target).path
        if path == "/robots.txt":
            return Resource(b"User-agent: *\nDisallow: /search/\n", "text/plain", conditional=False)
        make = site.pages.get(path)
        if make is None and path.endswith("/"):
            make = site.pages.get(path + "index.html")
        return make() if make is not None else _not_found()


# ------------------------------------------------------------------------------------------------
# the styles (markup of the zoo's sites of the same platform)
# ------------------------------------------------------------------------------------------------

def _home(site: ScaleSite, links: list[tuple[str, str]]) -> None:
    main = nav([("首页", "/"), *links], "nav") + f"<p>欢迎访问{e(site.title)}。</p>"
    site.add("/index.html", "首页", main)
    site.pages["/"] = site.pages["/index.html"]


def _report_page(nation: Nation, site: ScaleSite, r: ScaleReport, container: str, crumbs) -> None:
    cls = container.lstrip(".#")
    attr = f'id="{cls}"' if container.startswith("#") else f'class="{cls}"'
    if r.fmt == "pdf":
        rel = r.pdf_path.rsplit("/", 1)[1]
        pdf_k = int(hashlib.md5(r.path.encode()).hexdigest(), 16) + r.revision
        site.pages[r.pdf_path] = (lambda k=pdf_k, r=r: Resource(
            nation.pdf(k), "application/pdf", day(r.revised_on or r.date)))

    def main() -> str:
        if r.fmt == "pdf":
            inner = (f"<p>{e(r.title)}</p><p>附件：<a href=\"./{r.pdf_path.rsplit('/', 1)[1]}\">{e(r.title)}.pdf</a></p>"
                     + (f"<p>（第{r.revision}次修订）</p>" if r.revision else ""))
        else:
            inner = nation.body(site, r)
        return (f'<h1 class="title">{e(r.title)}</h1><div class="info">发布时间：{r.date} 来源：{e(r.agency)}</div>'
                f'<div {attr}>{inner}</div>')
    site.add(r.path, r.title, main, crumbs=crumbs, meta=_meta(r.title, r.date, r.agency), date=r.date,
             last_modified=day(r.revised_on or r.date))


def _filler(site: ScaleSite, path: str, title: str, date: str, container: str = "TRS_Editor") -> None:
    site.add(path, title, f'<h1>{e(title)}</h1><div class="{container}">{filler_body(title, date)}</div>',
             meta=_meta(title, date, site.title, "通知公告"), date=date)


def _newest_first(site: ScaleSite) -> list[ScaleReport]:
    return sorted(site.reports, key=lambda r: (r.night, r.date), reverse=True)


def _trs(nation: Nation, site: ScaleSite, base: int) -> None:
    _home(site, [("政务公开", "/zwgk/"), ("新闻中心", "/xwzx/")])
    site.raw("/zwgk/", b"<html><head><script>location.replace('./index.html');</script></head><body></body></html>")
    crumbs = [("首页", "/"), ("政务公开", "/zwgk/index.html")]
    site.add("/zwgk/index.html", "政务公开", nav([("政府信息公开指南", "/zwgk/xxgkzn/"),
                                               ("政府信息公开年报", "/zwgk/zfxxgknb/")]), crumbs=crumbs)
    col = "/zwgk/zfxxgknb/"
    items = []
    for k, r in enumerate(site.reports):
        ym = r.date[:7].replace("-", "")
        r.path = f"{col}{ym}/t{r.date.replace('-', '')}_{base + 17 * k}.html"
        _report_page(nation, site, r, ".TRS_Editor", crumbs + [("政府信息公开年报", col)])
    # docid: one site-wide counter (TRS), so a decoy never takes a report's.  Reports are base + 17k (k grows
    # as reports are added, night after night); the decoys sit between them at base + 17k + 9.  They were
    # base + 900 + k: the 54th report (17 * 53 = 901) took the second decoy's docid and date on night 1.
    for k, t in enumerate(_decoy_titles(site.region)):
        path = f"{col}202502/t202502{k + 1:02d}_{base + 17 * k + 9}.html"
        _filler(site, path, t, f"2025-02-{k + 1:02d}")
        site.decoys.append((t, path, f"2025-02-{k + 1:02d}"))
    items = [(r.title, "./" + r.path[len(col):], r.date) for r in _newest_first(site)]
    items += [(t, "./" + p[len(col):], d) for t, p, d in site.decoys]
    per = 15
    pages = -(-len(items) // per)
    for k in range(pages):
        main = (f'<ul class="list">{_lis(items[k * per:(k + 1) * per])}</ul><div class="page"><script>'
                f'createPageHTML({pages}, {k}, "index", "html");</script></div>')
        site.add(col + ("index.html" if k == 0 else f"index_{k}.html"), "政府信息公开年报", main, crumbs=crumbs,
                 head_extra='<script src="/js/createPageHTML.js"></script>')
    site.raw("/js/createPageHTML.js", PAGE_JS.encode() if isinstance(PAGE_JS, str) else PAGE_JS,
             "application/javascript")


def _vsb(nation: Nation, site: ScaleSite, base: int) -> None:
    _home(site, [("信息公开", "/xxgk.htm"), ("新闻中心", "/xwzx.htm")])
    site.add("/xxgk.htm", "信息公开", nav([("信息公开指南", "/xxgk/xxgkzn.htm"), ("政府信息公开年报", "/xxgk/zfxxgknb.htm")]),
             crumbs=[("首页", "/")])
    for k, r in enumerate(site.reports):  # reports are only appended: a report's number never moves
        r.path = f"/info/2381/{base + 13 * (k + 1)}.htm"
        _report_page(nation, site, r, "#vsb_content", [("首页", "/"), ("信息公开", "/xxgk.htm")])
    for k, t in enumerate(_decoy_titles(site.region)):
        ident = base + 900 + 7 * k
        _filler(site, f"/info/2381/{ident}.htm", t, f"2025-02-{k + 1:02d}", "v_news_content")
        site.decoys.append((t, f"/info/2381/{ident}.htm", f"2025-02-{k + 1:02d}"))
    items = [(r.title, r.path, r.date) for r in _newest_first(site)] + site.decoys
    per = 15
    total = -(-len(items) // per)

    def list_path(k: int) -> str:  # VSB numbers the later pages downwards: zfxxgknb/1.htm is the last
        return "/xxgk/zfxxgknb.htm" if k == 0 else f"/xxgk/zfxxgknb/{total - k}.htm"

    for k in range(total):
        pager = [f"共{len(items)}条&nbsp;&nbsp;{k + 1}/{total}&nbsp;"]
        if k < total - 1:
            pager += [f'<a href="{list_path(k + 1)}" class="Next">下页</a>',
                      f'<a href="{list_path(total - 1)}" class="Next">尾页</a>']
        main = (f'<div class="list"><ul>{_lis(items[k * per:(k + 1) * per], "time")}</ul></div>'
                f'<div class="pb_sys_common">{" ".join(pager)}</div>')
        site.add(list_path(k), "政府信息公开年报", main, crumbs=[("首页", "/"), ("信息公开", "/xxgk.htm")])


def _groups(site: ScaleSite) -> dict[str, list[ScaleReport]]:
    out: dict[str, list[ScaleReport]] = {}
    for r in site.reports:
        g = "乡镇街道" if r.agency.endswith(("镇人民政府", "乡人民政府", "街道办事处")) else "政府部门"
        out.setdefault(f"{r.year}|{g}", []).append(r)
    return out


def _numeric(nation: Nation, site: ScaleSite, base: int) -> None:
    root = "/zwgk/zfxxgk/"
    _home(site, [("政府信息公开", root + "index.html"), ("新闻中心", "/xwzx/")])
    col = root + "xq69/"
    site.add(root + "index.html", "政府信息公开", nav([("政府信息公开指南", root + "xq60/index.html"),
                                                   ("政府信息公开年报", col + "index.html")]), crumbs=[("首页", "/")])
    ydirs = {y: str(base + 100 * k) for k, y in enumerate(YEARS)}
    site.add(col + "index.html", "政府信息公开年报", nav([(f"{y}年", f"{col}{d}/index.html") for y, d in ydirs.items()]),
             crumbs=[("首页", "/"), ("政府信息公开年报", None)])
    groups = _groups(site)
    ident = {id(r): k for k, r in enumerate(site.reports)}
    for y, ydir in ydirs.items():
        names = [g for g in ("政府部门", "乡镇街道") if f"{y}|{g}" in groups]
        site.add(f"{col}{ydir}/index.html", f"{y}年",
                 nav([(g, f"{col}{ydir}/{int(ydir) + 1 + k}/index.html") for k, g in enumerate(names)]),
                 crumbs=[("首页", "/"), ("政府信息公开年报", col + "index.html")])
        for k, g in enumerate(names):
            gdir = f"{col}{ydir}/{int(ydir) + 1 + k}/"
            items = []
            for r in sorted(groups[f"{y}|{g}"], key=lambda r: (r.night, r.date), reverse=True):
                r.path = f"{gdir}{base + 5000 + 29 * ident[id(r)]}/index.html"
                _report_page(nation, site, r, ".xxgk_content", [("首页", "/")])
                items.append((r.title, r.path, r.date))
            n = base + 4000 + 3 * k + y
            t = _decoy_titles(site.region)[(y + k) % 6]
            _filler(site, f"{gdir}{n}/index.html", t, f"{y + 1}-02-01")
            site.decoys.append((t, f"{gdir}{n}/index.html", f"{y + 1}-02-01"))
            items.append((t, f"{gdir}{n}/index.html", f"{y + 1}-02-01"))
            site.add(gdir + "index.html", g, f'<ul class="list">{_lis(items, "time")}</ul>',
                     crumbs=[("首页", "/"), ("政府信息公开年报", col + "index.html"), (f"{y}年", f"{col}{ydir}/index.html")])


def _tree(nation: Nation, site: ScaleSite, base: int) -> None:
    site.raw("/", b'<html><head><title></title></head><body><script>window.location.href = "/index.html";'
                  b"</script></body></html>")
    site.add("/index.html", "首页", nav([("政务公开", "/zwgk/index.html"), ("新闻中心", "/xwzx/")], "nav"))
    col = "/xwzx/ztzl/zfxxgknb/"
    site.add("/zwgk/index.html", "政务公开", nav([("政府信息公开年报", col + "index.html"), ("公开指南", "/zwgk/zn.html")]),
             crumbs=[("首页", "/index.html")])
    site.add(col + "index.html", "政府信息公开年报", nav([(f"{y}年", f"{col}{y}/index.html") for y in YEARS]),
             crumbs=[("首页", "/index.html")])
    groups = _groups(site)
    ident = {id(r): k for k, r in enumerate(site.reports)}
    for y in YEARS:
        names = [(g, slug) for g, slug in (("新区部门", "bm"), ("街道办事处", "jd")) if
                 f"{y}|{'政府部门' if slug == 'bm' else '乡镇街道'}" in groups]
        site.add(col + f"{y}/index.html", f"{y}年", nav([(g, col + f"{y}/{slug}/index.html") for g, slug in names]))
        for g, slug in names:
            reports = sorted(groups[f"{y}|{'政府部门' if slug == 'bm' else '乡镇街道'}"],
                             key=lambda r: (r.night, r.date), reverse=True)
            items = []
            for r in reports:
                r.path = col + f"{y}/{slug}/" + f"{base}{ident[id(r)]:03d}.html"
                _report_page(nation, site, r, ".zw-content", [("首页", "/index.html")])
                items.append((r.title, r.path, r.date))
            t = f"{site.region}{y}年政务公开工作要点"
            dpath = col + f"{y}/{slug}/9{base}.html"
            _filler(site, dpath, t, f"{y}-03-01")
            site.decoys.append((t, dpath, f"{y}-03-01"))
            items.append((t, dpath, f"{y}-03-01"))
            site.add(col + f"{y}/{slug}/index.html", g, f'<ul class="list">{_lis(items)}</ul>')


def main(argv: list[str] | None = None) -> None:
    from crawler.demo.asgi import listening_socket, serve

    ap = argparse.ArgumentParser(prog="python -m crawler.demo.scale", description=__doc__.split("\n\n")[0])
    ap.add_argument("--sites", type=int, default=3000)
    ap.add_argument("--night", type=int, default=0)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0, help="0 picks a free port")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    nation = Nation(args.sites, args.night)
    nation.warm()
    # one asyncio loop (uvicorn), not a thread per connection: see crawler.demo.asgi
    sock = listening_socket(args.host, args.port)
    print(f"{args.sites} portals at http://p0000.{HOST_SUFFIX}:{sock.getsockname()[1]}/ … (resolve "
          f"*.{HOST_SUFFIX} to {args.host}), night {args.night}", flush=True)
    try:
        serve(nation, sock)
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
