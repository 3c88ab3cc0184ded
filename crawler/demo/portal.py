"""The bundled demo portal: four county sites in the styles of real platforms, built from the seeds.

What it serves (one host, path namespaces as real sites use them):

========== ========= ================================= ==========================================
site       platform  start URL                         structure
========== ========= ================================= ==========================================
dongfeng   TRS       /zwgk/index.html (政务公开)         年报 tree /zwgk/zfxxgknb/<Y>n/{qzf,qzfbm,xzjd/<unit>}/,
                                                       createPageHTML 6-arg (qzf), 4-arg (qzfbm),
                                                       countPage (units); tYYYYMMDD_<id>.html, ./P0….pdf
shizhong   Hanweb    /col/col1229001/index.html        inline <datastore> (45 records) + POST
                                                       /module/web/jpage/dataproxy.jsp; /art/Y/M/D/…;
                                                       downfile.jsp 302 → /attach/0/…
yimei      gkmlpt    /gkmlpt/index#2811                SID in the shell; /gkmlpt/api/all/2811?page=N&sid=
huzhu      VSB       /xxgk/zfxxgknb.htm                GBK, no charset header; 下一页/尾页; /info/1050/<id>.htm;
                                                       /system/_content/download.jsp attachments
========== ========= ================================= ==========================================

27 reports (14 agencies, 2023 and 2024): the 5 seeds (2024) and variants generated from numbers
that satisfy relations 1-9 (checked in tests/demo), inline HTML, PDF/DOCX/DOC attachments,
page+attachment pairs, a （图片版） image-only report, year-first titles, GBK pages.  Everything is
marked 示例数据.  Planted for the monitor (see ``expected_findings()``): 东风区财政局 has no 2024
report (missing); 市中区民政局 2024 上年结转 ≠ its 2023 结转下年度 (carry_continuity); 市中区自然资源局
2024 is dated 2025-03-10 (deadline); seed 001's four errors; ``publish_revision()`` changes
伊美区应急管理局 2024 in place (revised).

API::

    from crawler.demo.portal import DemoPortal, build_portal

    portal = DemoPortal(seed_dir="my/seeds", expected_dir="my/expected",
                        cache_dir="data/demo/cache")      # defaults: crawler/demo/data, a temp cache
    with portal.serve() as base_url:                      # ThreadingHTTPServer on 127.0.0.1, free port
        portal.start_url(base_url)                        # the 政务公开 page (TRS site)
        portal.site_configs(base_url)                     # config.yaml `sites` entries (one per platform)
        portal.expected_reports(base_url)                 # [ExpectedReport(url, agency, year, formats, planted, ...)]
        portal.expected_findings()                        # [ExpectedFinding(rule, site, agency, year, detail)]
        portal.set_fault("http_500", True)                # see FAULTS; portal.clear_faults()
        portal.fault_info("http_500", base_url)           # FaultInfo(paths, status to record, reports it breaks)
        portal.publish_revision()                         # same URL, new bytes and Last-Modified
        portal.requests                                   # log: RequestRecord(method, path, headers, status)
    server = portal.start(host="127.0.0.1", port=0); server.base_url; server.stop()

Fault knobs: ``DemoPortal(oversize_bytes=3 MiB, slow_seconds=8)`` (set the crawl's max_size_mb and
timeout below them).  Each fault touches only its paths, so the rest of the site still crawls.
Rendered PDF/DOCX/DOC bytes are cached under ``cache_dir`` (default $NIANBAO_DEMO_CACHE or
<tmp>/nianbao-demo-cache), keyed by the spec and render.py's source: the first start takes ~20 s
(LibreOffice), later ones well under a second.

Control URLs (for a portal run by hand, ``python -m crawler.demo.server``):
``/__demo__/fault?name=http_500&on=1``, ``/__demo__/revision``, ``/__demo__/manifest.json``.

Scale mode for the crawl benchmark: ``build_portal(pages=20000)`` gives a TRS portal whose full
crawl fetches about that many pages (listings + report pages), generated on request (no LibreOffice).
"""
from __future__ import annotations

import contextlib
import copy
import dataclasses
import hashlib
import json
import logging
import os
import random
import re
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterator
from urllib.parse import parse_qs, urlsplit

from crawler.demo.layout import demo_layout
from crawler.demo.sites import chrome, numbers, texts
from crawler.demo.sites.model import Planned, Resource, day
from crawler.demo.sites.platforms import (BUILDERS, GKMLPT, HANWEB, VSB, SiteInfo, gkmlpt_api,
                                          hanweb_dataproxy)
from crawler.demo.spec import ReportSpec

log = logging.getLogger(__name__)

#: The seed texts and their expected values, shipped with the package (copied from the project's
#: seeds; the test suite keeps its own copy): an installed wheel has no tests/ to read.
DATA_DIR = Path(__file__).resolve().parent / "data"
DEFAULT_SEED_DIR = DATA_DIR / "seeds"

SITES = (
    SiteInfo("dongfeng", "trs", "东风区人民政府（示例数据）", "东风区"),
    SiteInfo("shizhong", "hanweb", "市中区人民政府（示例数据）", "市中区"),
    SiteInfo("yimei", "gkmlpt", "伊美区人民政府（示例数据）", "伊美区"),
    SiteInfo("huzhu", "vsb", "互助县人民政府（示例数据）", "互助县"),
)
YEARS = (2023, 2024)

# site, agency, kind, column, seed (its 2024 report), {year: (formats, page date, options)}
_PLAN = (
    ("dongfeng", "东风区人民政府", "government", "qzf", None,
     {2023: (["html"], "2024-03-15", {}), 2024: (["html", "pdf"], "2025-03-20", {})}),
    ("dongfeng", "东风区卫生健康局", "department", "qzfbm", "000",
     {2023: (["pdf"], "2024-01-18", {}), 2024: (["html"], "2025-01-20", {})}),
    ("dongfeng", "北京市大兴区卫生健康委员会", "department", "qzfbm", "004",
     {2023: (["docx"], "2024-01-25", {}), 2024: (["html"], "2025-01-22", {})}),
    ("dongfeng", "东风区教育局", "department", "qzfbm", None,
     {2023: (["html"], "2024-01-12", {}),
      2024: (["html", "pdf"], "2025-01-15", {"title": "东风区教育局2024年度政府信息公开工作年度报告"})}),
    ("dongfeng", "东风区财政局", "department", "qzfbm", None,
     {2023: (["html"], "2024-01-26", {})}),  # planted: no 2024 report
    ("dongfeng", "长安镇人民政府", "town", "xzjd/caz", None,
     {2023: (["doc"], "2024-01-22", {}), 2024: (["html"], "2025-01-24", {})}),
    ("dongfeng", "建设街道办事处", "town", "xzjd/jsjd", None,
     {2023: (["html"], "2024-01-19", {}),
      2024: (["html"], "2025-01-21", {"title": "2024年建设街道办事处政府信息公开工作年度报告"})}),
    ("shizhong", "市中区卫生健康局", "department", "", "001",
     {2023: (["docx"], "2024-01-17", {}), 2024: (["html"], "2025-01-16", {})}),
    ("shizhong", "市中区民政局", "department", "", None,
     {2023: (["html"], "2024-01-23", {"carried_forward": [2, 0, 0, 0, 0, 0]}),
      2024: (["html"], "2025-01-27", {"carried_over": [0] * 6, "planted": ["carry_continuity"]})}),
    ("shizhong", "市中区自然资源局", "department", "", None,
     {2023: (["html"], "2024-01-29", {}), 2024: (["html", "pdf"], "2025-03-10", {"planted": ["deadline"]})}),
    ("yimei", "伊美区卫生健康局", "department", "", "002",
     {2023: (["html"], "2024-01-20", {}), 2024: (["html"], "2025-01-23", {})}),
    ("yimei", "伊美区应急管理局", "department", "", None,
     {2023: (["html", "docx"], "2024-01-16", {}), 2024: (["html"], "2025-01-14", {"planted": ["revised"]})}),
    ("huzhu", "互助县卫生健康局", "department", "", "003",
     {2023: (["doc"], "2024-01-11", {}), 2024: (["html"], "2025-01-10", {"charset_in_meta": False})}),
    ("huzhu", "威远镇", "town", "", None,
     {2023: (["image"], "2024-01-30", {"title": "威远镇2023年政府信息公开工作年度报告（图片版）",
                                       "planted": ["ocr"]}),
      2024: (["html"], "2025-01-28", {"title": "2024年威远镇政府信息公开工作年度报告"})}),
)
_SCALE = {"government": 12, "department": 6, "town": 3}
SEED001_ERRORS = ("row_total", "results_total", "narrative_vs_table", "placeholder")


@dataclass
class ExpectedReport:
    """One report the portal publishes: what a perfect crawl finds."""

    url: str  # the report page (absolute when a base URL was given, else the path)
    site: str
    agency: str
    kind: str
    year: int
    title: str
    formats: list[str]  # html / pdf / docx / doc / image
    planted: list[str]  # rule ids planted in this report ("ocr": a 图片版 report, read by OCR, no finding)
    page_date: str
    attachments: dict[str, str]  # format -> URL
    seed: str | None = None
    spec: ReportSpec | None = field(default=None, repr=False)  # the numbers and text as published


@dataclass(frozen=True)
class ExpectedFinding:
    rule: str
    site: str
    agency: str
    year: int
    detail: str = ""


@dataclass
class FaultInfo:
    name: str
    description: str
    paths: list[str]  # exact paths, or prefixes ending in "/"
    status: str  # the fetch status a crawler should record
    reports: list[ExpectedReport]  # reports it hides or breaks (the rest of the site is unaffected)


@dataclass
class RequestRecord:
    method: str
    path: str  # with the query string
    headers: dict[str, str]
    status: int
    at: float  # when the request arrived (time.time())


#: fault name -> (description, status a crawler should record)
FAULTS = {
    "http_500": ("HTTP 500 on two report pages (TRS, Hanweb)", "http_error"),
    "slow": ("one gkmlpt report page answers after slow_seconds", "timeout"),
    "truncated": ("one TRS PDF attachment announces more bytes than it sends", "truncated"),
    "redirect_loop": ("one VSB report page redirects in a loop", "redirect_loop"),
    "waf_412": ("瑞数-style HTTP 412 with a $_ts script on every Hanweb /art/ page", "waf_challenge"),
    "waf_521": ("加速乐-style HTTP 521 with a __jsl_clearance cookie script on gkmlpt content pages",
                "waf_challenge"),
    "oversized": ("one TRS PDF attachment is oversize_bytes long (beyond DOWNLOAD_MAXSIZE)", "too_large"),
    "soft_404": ("one TRS report page says 页面不存在 with status 200", "soft_404"),
    "js_only": ("the 长安镇 2024 column is an empty JavaScript shell", "js_only"),
    "login_redirect": ("the 建设街道 2023 column redirects to a login page", "login_redirect"),
    "robots": ("robots.txt adds Crawl-delay and disallows the VSB site (/info/, /xxgk/, /system/)",
               "robots_disallowed"),
}


def _render():
    from crawler.demo import render  # written by the extraction engineer; imported late on purpose

    return render


def _fixture_dirs(seed_dir, expected_dir) -> tuple[Path, Path]:
    """The seed folder and its expected/ sibling (defaults: the bundled fixtures)."""
    seeds = Path(seed_dir or DEFAULT_SEED_DIR)
    return seeds, Path(expected_dir or seeds.parent / "expected")


def _demo_spec(txt: Path, expected_dir: Path) -> ReportSpec:
    """A seed's report, marked as demo data."""
    spec = _render().spec_from_seed(txt, expected_dir / (txt.stem + ".json"))
    spec.demo = True
    return spec


def _cn_date(date: str) -> str:
    y, m, d = (int(x) for x in date.split("-"))
    return f"{y}年{m}月{d}日"


class _Served:
    """start()/serve() and the request log, shared by the demo and the scale portal."""

    def __init__(self) -> None:
        self.requests: list[RequestRecord] = []
        self._log_lock = threading.Lock()
        self._log_since = 0.0

    def record(self, rec: RequestRecord) -> None:
        with self._log_lock:
            # a request that arrived before clear_log() (e.g. a slow reply of an earlier crawl) is not logged
            if rec.at >= self._log_since:
                self.requests.append(rec)

    def clear_log(self) -> None:
        with self._log_lock:
            self.requests.clear()
            self._log_since = time.time()

    def start_url(self, base_url: str) -> str:
        """The 政务公开 page (TRS style) where a crawl of the portal starts."""
        return base_url.rstrip("/") + "/zwgk/index.html"

    def start(self, host: str = "127.0.0.1", port: int = 0):
        from crawler.demo.server import DemoServer

        return DemoServer(self, host, port).start()

    @contextlib.contextmanager
    def serve(self, host: str = "127.0.0.1", port: int = 0) -> Iterator[str]:
        server = self.start(host, port)
        try:
            yield server.base_url
        finally:
            server.stop()

    def respond(self, method: str, target: str, headers: dict[str, str], body: bytes,
                base_url: str) -> Resource:  # pragma: no cover - abstract
        raise NotImplementedError


class DemoPortal(_Served):
    def __init__(self, seed_dir: str | Path | None = None, expected_dir: str | Path | None = None,
                 cache_dir: str | Path | None = None, *, oversize_bytes: int = 3 * 1024 * 1024,
                 slow_seconds: float = 8.0) -> None:
        super().__init__()
        self.seed_dir, self.expected_dir = _fixture_dirs(seed_dir, expected_dir)
        self.cache_dir = Path(cache_dir or os.environ.get("NIANBAO_DEMO_CACHE")
                              or Path(tempfile.gettempdir()) / "nianbao-demo-cache")
        self.oversize_bytes = oversize_bytes
        self.slow_seconds = slow_seconds
        self.faults: dict[str, bool] = {name: False for name in FAULTS}
        self.revision = 0
        self.rng = random.Random("nianbao-demo")
        self.state: dict = {}
        self._picture_cache: dict = {}
        self._lock = threading.RLock()
        self.sites = {s.name: s for s in SITES}
        self.reports: list[Planned] = self._plan()
        self.resources: dict[str, Resource] = {}
        for site in SITES:
            mine = [p for p in self.reports if p.site == site.name]
            self.resources.update(BUILDERS[site.platform](self, site, mine))
        self._fault_paths = self._resolve_faults()

    # -- the plan ---------------------------------------------------------------------------
    def _seed_spec(self, stem: str) -> ReportSpec:
        txt = next(self.seed_dir.glob(f"{stem}_*.txt"), None)
        if txt is None:
            raise FileNotFoundError(f"{self.seed_dir}: no seed {stem}_*.txt")
        return _demo_spec(txt, self.expected_dir)

    def _variant(self, site: SiteInfo, agency: str, kind: str, year: int, date: str, title: str,
                 table2: dict, table3: dict, table4: dict, salt: str = "") -> ReportSpec:
        return ReportSpec(
            agency=agency, year=year, title=title, published=date, template="2021",
            preamble=texts.preamble(agency, year, site.title, f"0000-{int(hashlib.md5(agency.encode()).hexdigest(), 16) % 9000000 + 1000000}"),
            sections=texts.make_sections(agency, year, table3, table4, salt),
            table2=table2, table3=table3, table4=table4,
            signature=[agency, _cn_date(date)], demo=True)

    def _plan(self) -> list[Planned]:
        out: list[Planned] = []
        for site_name, agency, kind, column, seed, years in _PLAN:
            site = self.sites[site_name]
            rng = random.Random(f"{site_name}|{agency}")
            seed_spec = self._seed_spec(seed) if seed else None
            prev2, prev_cf = None, [0] * 6
            if seed_spec:  # the 2023 variant leads into the seed's 2024 numbers
                t3s = seed_spec.table3
                first_t2 = numbers.table2_before(rng, seed_spec.table2)
                first_cf = t3s["carried_over"][:6]
            for year in sorted(years):
                formats, date, opt = years[year]
                title = opt.get("title") or f"{agency}{year}年政府信息公开工作年度报告"
                if seed_spec and year == 2024:
                    spec = seed_spec
                    title = opt.get("title") or spec.title or title
                    planted = list(SEED001_ERRORS) if seed == "001" else []
                else:
                    if seed_spec:
                        t2 = first_t2
                        t3 = numbers.make_table3(rng, 3, [0] * 6, first_cf)
                    else:
                        t2 = numbers.make_table2(rng, prev2, kind)
                        t3 = numbers.make_table3(rng, _SCALE[kind], opt.get("carried_over", prev_cf),
                                                 opt.get("carried_forward"))
                    spec = self._variant(site, agency, kind, year, date, title, t2, t3, numbers.make_table4(rng))
                    planted = list(opt.get("planted", []))
                    prev2, prev_cf = spec.table2, spec.table3["carried_forward"][:6]
                if seed_spec and year == 2024:
                    planted = planted + list(opt.get("planted", []))
                out.append(Planned(site=site_name, agency=agency, kind=kind, year=year, title=title,
                                   page_date=date, formats=list(formats), spec=spec, planted=planted,
                                   column=column, encoding="gbk" if site.platform == "vsb" else "utf-8",
                                   charset_in_meta=opt.get("charset_in_meta", True), seed=seed if year == 2024 else None))
        return out

    # -- rendering (Ctx protocol of sites.platforms) ----------------------------------------
    def fragment(self, p: Planned) -> str:
        return _render().render_html_fragment(p.spec)

    def attachment(self, p: Planned, fmt: str) -> bytes:
        """PDF/DOCX/DOC bytes, cached on disk by content hash (LibreOffice takes seconds)."""
        render = _render()
        src = Path(render.__file__).read_bytes()
        key = hashlib.sha256(fmt.encode() + src + json.dumps(dataclasses.asdict(p.spec), ensure_ascii=False,
                                                            sort_keys=True).encode()).hexdigest()
        path = self.cache_dir / f"{key[:32]}.{fmt}"
        if path.exists():
            return path.read_bytes()
        t0 = time.monotonic()
        data = {"pdf": render.render_pdf, "docx": render.render_docx, "doc": render.render_doc}[fmt](p.spec)
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.{threading.get_ident()}.tmp")
        tmp.write_bytes(data)
        os.replace(tmp, path)
        log.info("rendered %s %s %s in %.1fs (cached at %s)", p.agency, p.year, fmt, time.monotonic() - t0, path)
        return data

    def images(self, p: Planned) -> list[bytes]:
        """A 图片版 report's tables 二, 三, 四 as pictures (crawler/demo/picture.py), cached."""
        from crawler.demo import picture

        key = ("images", p.agency, p.year)
        if key not in self._picture_cache:
            self._picture_cache[key] = picture.table_pngs(p.spec)
        return self._picture_cache[key]

    def picture_fragment(self, p: Planned, srcs: list[str]) -> str:
        from crawler.demo import picture

        return picture.fragment(p.spec, srcs)

    # -- manifest ---------------------------------------------------------------------------
    def _expected(self, p: Planned, base_url: str | None) -> ExpectedReport:
        b = base_url.rstrip("/") if base_url else ""
        return ExpectedReport(url=b + p.path, site=p.site, agency=p.agency, kind=p.kind, year=p.year,
                              title=p.title, formats=list(p.formats), planted=list(p.planted),
                              page_date=p.page_date, attachments={k: b + v for k, v in p.attachments.items()},
                              seed=p.seed, spec=p.spec)

    def expected_reports(self, base_url: str | None = None) -> list[ExpectedReport]:
        return [self._expected(p, base_url) for p in self.reports]

    def expected_findings(self) -> list[ExpectedFinding]:
        """Every finding the monitor must raise on this portal (and no other), in its current state."""
        out = [ExpectedFinding("missing", "dongfeng", "东风区财政局", 2024, "2023 report, none for 2024")]
        for p in self.reports:
            for rule in p.planted:
                if rule == "ocr":  # a 图片版 page: its tables are pictures, read by OCR, numbers consistent
                    continue
                if rule == "revised" and not self.revision:
                    continue
                detail = {"carry_continuity": "上年结转 0 ≠ 2023 结转下年度 2 (自然人)",
                          "deadline": f"department report dated {p.page_date}, due 31 January",
                          "revised": f"content changed {self.revision} time(s) at the same URL"}.get(
                    rule, "seed 001's own error (see crawler/demo/data/expected)")
                out.append(ExpectedFinding(rule, p.site, p.agency, p.year, detail))
        return out

    def manifest(self, base_url: str | None = None) -> dict:
        return {
            "reports": [{k: v for k, v in dataclasses.asdict(r).items() if k != "spec"}
                        for r in self.expected_reports(base_url)],
            "findings": [dataclasses.asdict(f) for f in self.expected_findings()],
            "faults": {n: {"on": on, "description": FAULTS[n][0], "status": FAULTS[n][1],
                           "paths": self._fault_paths[n]} for n, on in self.faults.items()},
            "revision": self.revision,
        }

    def site_configs(self, base_url: str) -> list[dict]:
        """``sites`` entries of config.yaml, one per platform style, each with its roster."""
        b = base_url.rstrip("/")
        starts = {"dongfeng": self.start_url(b), "shizhong": f"{b}/col/col{HANWEB['columnid']}/index.html",
                  "yimei": f"{b}/gkmlpt/index#{GKMLPT['cat']}", "huzhu": b + VSB["list"]}
        out = []
        for s in SITES:
            roster, seen = [], set()
            for p in self.reports:
                if p.site == s.name and p.agency not in seen:
                    seen.add(p.agency)
                    roster.append({"name": p.agency, "kind": p.kind})
            out.append({"name": s.name, "region": f"示例省{s.region}（{chrome.DEMO_MARK}）", "start_url": starts[s.name],
                        "roster": roster})
        return out

    # -- faults -----------------------------------------------------------------------------
    def _find(self, site: str, agency: str, year: int) -> Planned:
        return next(p for p in self.reports if (p.site, p.agency, p.year) == (site, agency, year))

    def _resolve_faults(self) -> dict[str, list[str]]:
        f = self._find
        return {
            "http_500": [f("dongfeng", "建设街道办事处", 2023).path, f("shizhong", "市中区卫生健康局", 2023).path],
            "slow": [f("yimei", "伊美区卫生健康局", 2023).path],
            "truncated": [f("dongfeng", "东风区卫生健康局", 2023).attachments["pdf"]],
            "redirect_loop": [f("huzhu", "互助县卫生健康局", 2023).path],
            "waf_412": ["/art/"],
            "waf_521": ["/gkmlpt/content/"],
            "oversized": [f("dongfeng", "东风区教育局", 2024).attachments["pdf"]],
            "soft_404": [f("dongfeng", "东风区人民政府", 2023).path],
            "js_only": ["/zwgk/zfxxgknb/2024n/xzjd/caz/"],
            "login_redirect": ["/zwgk/zfxxgknb/2023n/xzjd/jsjd/"],
            "robots": ["/info/", "/xxgk/", "/system/", "/__local/"],
        }

    def set_fault(self, name: str, on: bool = True) -> None:
        if name not in FAULTS:
            raise KeyError(f"unknown fault {name!r}; known: {', '.join(FAULTS)}")
        with self._lock:
            self.faults[name] = bool(on)

    def clear_faults(self) -> None:
        with self._lock:
            for n in self.faults:
                self.faults[n] = False

    def fault_info(self, name: str, base_url: str | None = None) -> FaultInfo:
        paths = self._fault_paths[name]
        hit = [r for r in self.expected_reports(base_url)
               if any(_matches(pth, urlsplit(u).path + (("?" + urlsplit(u).query) if urlsplit(u).query else ""))
                      for pth in paths for u in [r.url, *r.attachments.values()])]
        if name == "js_only" or name == "login_redirect":
            hit = [r for r in self.expected_reports(base_url) if any(urlsplit(r.url).path.startswith(p) for p in paths)]
        return FaultInfo(name, FAULTS[name][0], list(paths), FAULTS[name][1], hit)

    def _on(self, name: str, path: str) -> bool:
        return self.faults[name] and any(_matches(p, path) for p in self._fault_paths[name])

    # -- revisions --------------------------------------------------------------------------
    def publish_revision(self) -> ExpectedReport:
        """Correct 伊美区应急管理局 2024 in place: same URL, new numbers and text, new Last-Modified."""
        with self._lock:
            p = self._find("yimei", "伊美区应急管理局", 2024)
            old_fragment = self.fragment(p)
            t2, t3 = numbers.revise(p.spec.table2, p.spec.table3)
            self.revision += 1
            spec = copy.deepcopy(p.spec)
            spec.table2, spec.table3 = t2, t3
            spec.sections = texts.make_sections(p.agency, p.year, t3, spec.table4)
            spec.sections["other"].append(f"本报告于{datetime.now().year}年更正了部分统计数据（第{self.revision}次修订）。")
            p.spec = spec
            old = self.resources[p.path]
            body = old.body.decode("utf-8").replace(old_fragment, self.fragment(p))
            if body.encode("utf-8") == old.body:
                raise RuntimeError(f"{p.path}: revision did not change the page")
            self.resources[p.path] = dataclasses.replace(old, body=body.encode("utf-8"),
                                                         last_modified=datetime.now(timezone.utc).replace(microsecond=0))
            return self._expected(p, None)

    # -- serving ----------------------------------------------------------------------------
    def robots_txt(self) -> bytes:
        lines = ["User-agent: *", "Disallow: /__demo__/", "Disallow: /search/"]
        if self.faults["robots"]:
            lines += ["Crawl-delay: 1"] + [f"Disallow: {p}" for p in self._fault_paths["robots"]]
        return ("\n".join(lines) + "\n").encode()

    def respond(self, method: str, target: str, headers: dict[str, str], body: bytes,
                base_url: str) -> Resource:
        parts = urlsplit(target)
        path, query = parts.path, {k: v[-1] for k, v in parse_qs(parts.query).items()}
        full = path + ("?" + parts.query if parts.query else "")
        if path.startswith("/__demo__/"):
            return self._control(path, query, base_url)
        if path == "/robots.txt":
            return Resource(self.robots_txt(), "text/plain", conditional=False)
        with self._lock:
            faults = dict(self.faults)
        if faults["waf_412"] and self._on("waf_412", path):
            return _waf_412()
        if faults["waf_521"] and self._on("waf_521", path):
            cookie = headers.get("Cookie", "")
            if "__jsl_clearance=" + _JSL_CLEARANCE not in cookie:
                return _waf_521()
        if faults["login_redirect"] and self._on("login_redirect", path):
            return Resource(status=302, location=f"/login.html?redirect={path}", conditional=False)
        if faults["js_only"] and self._on("js_only", path):
            return Resource(_js_shell(), conditional=False)
        if faults["http_500"] and self._on("http_500", path):
            return Resource(b"<html><body><h1>500 Internal Server Error</h1></body></html>", status=500,
                            conditional=False)
        if faults["redirect_loop"] and self._on("redirect_loop", path):
            nxt = path + ("?from=loop" if "from" not in query else "")
            return Resource(status=302, location=nxt, conditional=False)
        if faults["soft_404"] and self._on("soft_404", path):
            return Resource(chrome.page("东风区人民政府（示例数据）", "页面不存在",
                                        "<h1>对不起，您访问的页面不存在或已被删除！</h1><p>页面不存在</p>"),
                            conditional=False)
        if path == "/login.html":
            return Resource(chrome.page("统一身份认证平台（示例数据）", "用户登录",
                                        '<form action="/login.do" method="post"><input name="username">'
                                        '<input name="password" type="password"><button>登录</button></form>'))
        if path == "/module/web/jpage/dataproxy.jsp":
            form = {k: v[-1] for k, v in parse_qs(body.decode("utf-8", "replace")).items()}
            return dataclasses.replace(hanweb_dataproxy(self.state["shizhong"], query, form), conditional=False)
        m = re.fullmatch(r"/gkmlpt/api/all/(\w+)", path)
        if m:
            return gkmlpt_api(self.state["yimei"], m.group(1), query, base_url)
        if path == "/module/download/downfile.jsp":
            target_path = f"/attach/{query.get('classid', '0')}/{query.get('filename', '')}"
            if target_path in self.resources:
                return Resource(status=302, location=target_path, conditional=False)
            return _not_found()
        with self._lock:
            res = self.resources.get(full) or self.resources.get(path)
            if res is None and path.endswith("/"):
                res = self.resources.get(path + "index.html")
        if res is None:
            return _not_found()
        if faults["slow"] and self._on("slow", path):
            res = dataclasses.replace(res, delay=self.slow_seconds)
        if faults["truncated"] and self._on("truncated", full):
            res = dataclasses.replace(res, truncate=True, conditional=False)
        if faults["oversized"] and self._on("oversized", full):
            res = dataclasses.replace(res, pad_to=self.oversize_bytes, conditional=False)
        return res

    def _control(self, path: str, query: dict[str, str], base_url: str) -> Resource:
        if path == "/__demo__/fault":
            try:
                self.set_fault(query.get("name", ""), query.get("on", "1") not in ("0", "false", "off"))
            except KeyError as e:
                return Resource(str(e).encode(), "text/plain; charset=utf-8", status=400, conditional=False)
            return Resource(json.dumps(self.faults).encode(), "application/json", conditional=False)
        if path == "/__demo__/revision":
            r = self.publish_revision()
            return Resource(json.dumps({"revision": self.revision, "url": r.url}).encode(), "application/json",
                            conditional=False)
        if path == "/__demo__/manifest.json":
            return Resource(json.dumps(self.manifest(base_url), ensure_ascii=False, indent=1).encode(),
                            "application/json; charset=utf-8", conditional=False)
        return _not_found()


def _matches(pattern: str, path: str) -> bool:
    return path.startswith(pattern) if pattern.endswith("/") else path == pattern


def _not_found() -> Resource:
    return Resource("<html><body><h1>404 Not Found</h1><p>页面不存在</p></body></html>".encode(), status=404,
                    conditional=False)


_JSL_CLEARANCE = "1700000000.123|0|demoClearance%3D"


def _waf_412() -> Resource:
    # 瑞数: a 412 whose body is an obfuscated $_ts bootstrap that sets cookies and reloads.
    body = ('<!DOCTYPE html><html><head><meta charset="utf-8"><meta http-equiv="Content-Type" content="text/html">'
            '<script type="text/javascript">$_ts=window[\'$_ts\'];if(!$_ts)$_ts={};$_ts.nsd=84301;'
            '$_ts.cd="qhzcrrAlEcGkcsqqD1aRqqAEkGPJ";</script>'
            '<script type="text/javascript" charset="utf-8" src="/4QbVtADbnLVIc/c.FxJzG50F.dfe1675.js" r="m">'
            '</script></head><body></body></html>')
    return Resource(body.encode(), status=412, headers={"Set-Cookie": "FSSBBIl1UgzbN7N80S=demo; Path=/; HttpOnly"},
                    conditional=False)


def _waf_521() -> Resource:
    # 加速乐: 521 with a script that computes __jsl_clearance and reloads.
    body = ("<html><body><script>var _0x5e2a=['cookie','location'];setTimeout(function(){document[_0x5e2a[0]]="
            "'__jsl_clearance=" + _JSL_CLEARANCE + ";max-age=3600;path=/';"
            "window[_0x5e2a[1]].href=location.pathname+location.search},1500);</script></body></html>")
    return Resource(body.encode(), status=521,
                    headers={"Set-Cookie": "__jsluid_h=0a1b2c3d4e5f60718293a4b5c6d7e8f9; max-age=31536000; path=/; HttpOnly"},
                    conditional=False)


def _js_shell() -> bytes:
    return chrome.page("东风区人民政府（示例数据）", "长安镇",
                       '<div id="list-container"></div><noscript>请开启JavaScript以浏览本栏目</noscript>'
                       '<script src="/js/vue.min.js"></script><script>new Vue({el:"#list-container",'
                       'created(){fetch("/api/column/caz?page=1").then(r=>r.json()).then(d=>this.items=d)}})</script>')


# ------------------------------------------------------------------------------------------------
# Scale mode: a generated TRS portal of ~N pages for the crawl benchmark
# ------------------------------------------------------------------------------------------------

class ScalePortal(_Served):
    """A big TRS portal generated on request: home → 政务公开 → 年报 → year → 部门 → unit listings → reports.

    A full crawl fetches ``page_count()`` pages: per unit and year one listing page (a report and
    ``fillers`` non-report entries) and one report page, plus the navigation pages.
    """

    def __init__(self, agencies: int, years: tuple[int, ...], fillers: int = 14,
                 seed_dir: str | Path | None = None, expected_dir: str | Path | None = None) -> None:
        super().__init__()
        self.agencies, self.years, self.fillers = agencies, tuple(years), fillers
        seed_dir, expected_dir = _fixture_dirs(seed_dir, expected_dir)
        render = _render()
        self._fragments = []
        for txt in sorted(seed_dir.glob("*.txt")):
            spec = _demo_spec(txt, expected_dir)
            # placeholders, so a page costs two replaces instead of one per occurrence search
            frag = render.render_html_fragment(spec).replace(spec.agency, "\x00A\x00").replace(
                f"{spec.year}年", "\x00Y\x00")
            self._fragments.append(frag)
        self.site = SiteInfo("scale", "trs", "示例市人民政府（示例数据）", "示例市")

    def unit(self, k: int) -> str:
        return f"示例市第{k + 1:04d}局"

    def page_count(self) -> int:
        return 3 + len(self.years) * (2 + 2 * self.agencies)  # home, 政务公开, 年报; year, 部门; listing + report

    def expected_reports(self, base_url: str | None = None) -> list[tuple[str, int, str]]:
        b = (base_url or "").rstrip("/")
        return [(self.unit(k), y, b + self.report_path(k, y)) for y in self.years for k in range(self.agencies)]

    def report_path(self, k: int, y: int) -> str:
        """The path of agency ``k``'s report for year ``y`` (the benches read these pages directly)."""
        return f"/zwgk/zfxxgknb/{y}n/bm/u{k:04d}/{y + 1}01/t{y + 1}01{k % 28 + 1:02d}_{y * 100000 + k}.html"

    def site_configs(self, base_url: str) -> list[dict]:
        return [{"name": "scale", "region": f"示例市（{chrome.DEMO_MARK}）", "start_url": self.start_url(base_url)}]

    def _page(self, title: str, main: str) -> Resource:
        return Resource(chrome.page(self.site.title, title, main), last_modified=day("2025-02-01"))

    def respond(self, method: str, target: str, headers: dict[str, str], body: bytes, base_url: str) -> Resource:
        path = urlsplit(target).path
        if path == "/robots.txt":
            return Resource(b"User-agent: *\nDisallow: /__demo__/\n", "text/plain")
        if path in ("/", "/index.html"):
            return self._page("首页", chrome.nav([("政务公开", "/zwgk/index.html")]))
        if path == "/zwgk/index.html":
            return self._page("政务公开", chrome.nav([("政府信息公开年报", "/zwgk/zfxxgknb/index.html")]))
        if path == "/zwgk/zfxxgknb/index.html":
            return self._page("政府信息公开年报", chrome.nav([(f"{y}年度", f"./{y}n/index.html") for y in self.years]))
        m = re.fullmatch(r"/zwgk/zfxxgknb/(\d{4})n/(?:index\.html)?", path)
        if m and int(m.group(1)) in self.years:
            return self._page(f"{m.group(1)}年度", chrome.nav([("区政府部门", "./bm/index.html")]))
        m = re.fullmatch(r"/zwgk/zfxxgknb/(\d{4})n/bm/(?:index\.html)?", path)
        if m and int(m.group(1)) in self.years:
            return self._page("区政府部门", chrome.nav([(self.unit(k), f"./u{k:04d}/index.html")
                                                    for k in range(self.agencies)]))
        m = re.fullmatch(r"/zwgk/zfxxgknb/(\d{4})n/bm/u(\d{4})/(?:index\.html)?", path)
        if m and int(m.group(1)) in self.years and int(m.group(2)) < self.agencies:
            y, k = int(m.group(1)), int(m.group(2))
            rp = self.report_path(k, y)
            title = f"{self.unit(k)}{y}年政府信息公开工作年度报告"
            lis = [f'<li><a href="./{rp.rsplit("/", 2)[1]}/{rp.rsplit("/", 1)[1]}" title="{title}">{title}</a>'
                   f'<span class="date">{y + 1}-01-{k % 28 + 1:02d}</span></li>']
            for i in range(self.fillers):
                t = f"{self.unit(k)}{y}年工作动态（{i + 1}）"
                lis.append(f'<li><a href="./{y}06/t{y}0601_{k}{i:03d}.html" title="{t}">{t}</a>'
                           f'<span class="date">{y}-06-01</span></li>')
            return self._page(self.unit(k), f'<ul class="list">{"".join(lis)}</ul>'
                              '<div class="page"><script>createPageHTML(1, 0, "index", "html");</script></div>')
        m = re.fullmatch(r"/zwgk/zfxxgknb/(\d{4})n/bm/u(\d{4})/(\d{6})/t(\d{8})_(\d+)\.html", path)
        if m and int(m.group(1)) in self.years and int(m.group(2)) < self.agencies:
            y, k = int(m.group(1)), int(m.group(2))
            if path == self.report_path(k, y):
                frag = self._fragments[k % len(self._fragments)]
                frag = frag.replace("\x00A\x00", self.unit(k)).replace("\x00Y\x00", f"{y}年")
                title = f"{self.unit(k)}{y}年政府信息公开工作年度报告"
                return self._page(title, f'<h1>{title}</h1><div class="TRS_Editor">{frag}</div>')
            return self._page("工作动态", '<div class="TRS_Editor">' + chrome.filler_body("工作动态", f"{y}-06-01") + "</div>")
        return _not_found()


def build_portal(agencies: int | None = None, years: tuple[int, ...] | range = range(2015, 2025),
                 pages: int | None = None, **kw) -> ScalePortal:
    """A generated portal for the crawl benchmark; ``pages`` sets the size of a full crawl."""
    years = tuple(years)
    if agencies is None:
        agencies = max(1, ((pages or 20000) - 3 - 2 * len(years)) // (2 * len(years)))
    return ScalePortal(agencies, years, **kw)
