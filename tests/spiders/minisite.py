"""A small portal on 127.0.0.1 for the spider tests: a real threaded HTTP server serving pages
written here (TRS, Hanweb, gkmlpt and GBK generic columns), with ETag/Last-Modified and 304s, a
request log, robots.txt and fault routes.  The bundled demo portal (crawler/demo) is the larger,
realistic one; this one keeps the crawl tests small and lets each test change a page.
"""
from __future__ import annotations

import hashlib
import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit


@dataclass
class Resource:
    body: bytes
    content_type: str = "text/html; charset=utf-8"
    last_modified: str = "Mon, 20 Jan 2025 08:00:00 GMT"
    status: int = 200
    headers: dict = field(default_factory=dict)
    delay: float = 0.0
    truncate: bool = False  # announce more bytes than sent


def page(title: str, body: str) -> bytes:
    return (f'<!DOCTYPE html><html><head><meta charset="utf-8"><title>{title}</title></head>'
            f"<body>{body}</body></html>").encode("utf-8")


def report_page(title: str, date: str, attachments: list[str] = (), extra: str = "") -> bytes:
    links = "".join(f'<p><a href="{a}">附件：{title}.{a.rsplit(".", 1)[-1]}</a></p>' for a in attachments)
    return page(title, f'<h1>{title}</h1><meta name="PubDate" content="{date} 09:00">'
                       f'<div class="info">发布日期：{date}</div><div class="TRS_Editor"><p>示例数据。{title}'
                       f'。本报告根据《中华人民共和国政府信息公开条例》编制。</p>{extra}</div>{links}')


def build_site() -> tuple[dict[str, Resource], set[str]]:
    """(resources by path, the paths of planted report documents: pages and their attachments)."""
    r: dict[str, Resource] = {}
    planted: set[str] = set()
    r["/robots.txt"] = Resource(b"User-agent: *\nDisallow: /private/\n", "text/plain")
    r["/"] = Resource(page("某县人民政府", '<a href="/zwgk/">政务公开</a> <a href="/xwzx/">新闻中心</a>'))
    r["/xwzx/"] = Resource(page("新闻", '<a href="/xwzx/t1.html">某县召开2024年政府信息公开工作年度报告编制培训会</a>'))
    r["/zwgk/"] = Resource(page("政务公开", '<a href="/zwgk/xxgkzn/">政府信息公开指南</a> '
                                          '<a href="/zwgk/zfxxgknb/">政府信息公开年报</a> '
                                          '<a href="/col/col100/index.html">部门信息公开年报</a> '
                                          '<a href="/gkmlpt/index#55">镇街信息公开年报</a> '
                                          '<a href="/vsb/xxgknb.htm">公开年报（旧版）</a> '
                                          '<a href="/private/nb/">内部年报</a>'))
    r["/zwgk/xxgkzn/"] = Resource(page("指南", "<p>政府信息公开指南</p>"))
    # -- TRS tree: root -> year -> category (4-arg pager over 2 pages) ------------------------
    r["/zwgk/zfxxgknb/"] = Resource(page("政府信息公开年报", '<a href="./2024n/">2024年度</a> <a href="./2023n/">2023年度</a>'))
    for y in (2024, 2023):
        r[f"/zwgk/zfxxgknb/{y}n/"] = Resource(page(f"{y}年度", '<a href="./bm/">部门</a> <a href="./xzjd/">乡镇街道</a>'))
        for cat, units in (("bm", ["卫生健康局", "教育局", "财政局"]), ("xzjd", ["长安镇", "建设街道"])):
            items = []
            for i, u in enumerate(units):
                d = f"{y + 1}-01-{10 + i:02d}"
                rel = f"{y + 1}01/t{y + 1}01{10 + i:02d}_{y}{i}{len(cat)}.html"
                title = f"某县{u}{y}年政府信息公开工作年度报告"
                att = []
                if u == "财政局":
                    att = [f"./P0{y + 1}0110{y}000{i}.pdf"]
                    r[f"/zwgk/zfxxgknb/{y}n/{cat}/{y + 1}01/P0{y + 1}0110{y}000{i}.pdf"] = Resource(
                        b"%PDF-1.4\n% demo attachment " + title.encode() + b"\n%%EOF\n", "application/pdf")
                    planted.add(f"/zwgk/zfxxgknb/{y}n/{cat}/{y + 1}01/P0{y + 1}0110{y}000{i}.pdf")
                r[f"/zwgk/zfxxgknb/{y}n/{cat}/{rel}"] = Resource(report_page(title, d, att))
                planted.add(f"/zwgk/zfxxgknb/{y}n/{cat}/{rel}")
                items.append(f'<li><a href="./{rel}" title="{title}">{title[:12]}…</a><span>{d}</span></li>')
            items.append(f'<li><a href="./{y + 1}02/t{y + 1}0201_9{y}.html">某县{y}年政务公开工作总结</a><span>{y + 1}-02-01</span></li>')
            r[f"/zwgk/zfxxgknb/{y}n/{cat}/{y + 1}02/t{y + 1}0201_9{y}.html"] = Resource(page("总结", "<p>总结</p>"))
            half = (len(items) + 1) // 2
            r[f"/zwgk/zfxxgknb/{y}n/{cat}/"] = Resource(page(cat, "<ul>" + "".join(items[:half]) + "</ul>"
                                                           '<script>createPageHTML(2, 0, "index", "html");</script>'))
            r[f"/zwgk/zfxxgknb/{y}n/{cat}/index_1.html"] = Resource(page(cat, "<ul>" + "".join(items[half:]) + "</ul>"
                                                                       '<script>createPageHTML(2, 1, "index", "html");</script>'))
    # -- Hanweb column: 2 inline records + dataproxy for the rest; downfile.jsp 302 ------------
    recs = []
    for i in range(5):
        title = f"某县第{i + 1}局2024年政府信息公开工作年度报告" if i != 2 else "某县2024年法治政府建设情况报告"
        path = f"/art/2025/1/{20 + i}/art_100_{500 + i}.html"
        att = []
        if i == 1:
            att = [f"/module/download/downfile.jsp?classid=0&filename=abc{i}.docx"]
            r[f"/attach/0/abc{i}.docx"] = Resource(b"PK\x03\x04 demo docx " + title.encode(),
                                                    "application/vnd.openxmlformats-officedocument.wordprocessingml.document")
            r[f"/module/download/downfile.jsp"] = Resource(b"", status=302,
                                                           headers={"Location": f"/attach/0/abc{i}.docx"})
            planted.add(f"/attach/0/abc{i}.docx")  # stored under the file's own URL
        r[path] = Resource(report_page(title, f"2025-01-{20 + i}", att))
        if i != 2:
            planted.add(path)
        recs.append(f'<record><![CDATA[<li><a href="{path}" title="{title}">{title}</a><span>2025-01-{20 + i}</span></li>]]></record>')
    r["/col/col100/index.html"] = Resource(page("部门信息公开年报", '<div><script type="text/xml"><datastore><recordset>'
                                                + "".join(recs[:2]) + "</recordset><totalrecord>5</totalrecord></datastore></script>"
                                                "<script>var param_1 = {col:1,appid:1,webid:3,path:'/',columnid:100,unitid:'7',"
                                                "webname:'某县',permissiontype:0};</script></div>"))
    r["__hanweb_records__"] = Resource("\n".join(recs).encode())
    # -- gkmlpt: JSON API, 2 pages of 2 --------------------------------------------------------
    r["/gkmlpt/index"] = Resource(page("政府信息公开", "<script>window._CONFIG = {SID: '7001'};</script><div id='app'></div>"))
    arts = []
    for i in range(3):
        title = f"某县第{i + 1}街道办事处2024年度政府信息公开工作年度报告"
        path = f"/gkmlpt/content/0/{i}/post_{9000 + i}.html"
        r[path] = Resource(report_page(title, f"2025-01-1{i}"))
        planted.add(path)
        arts.append({"id": 9000 + i, "title": title, "url": path, "create_time": 1736900000 + i * 86400})
    arts.append({"id": 9100, "title": "某县2025年政府工作报告", "url": "/gkmlpt/content/0/9/post_9100.html"})
    r["__gkmlpt_articles__"] = Resource(json.dumps(arts, ensure_ascii=False).encode())
    # -- generic GBK pages without charset, 下一页 ---------------------------------------------
    for n, (title, nxt) in enumerate([("2024年金厂镇政府信息公开工作年度报告", "/vsb/xxgknb/2.htm"),
                                      ("2023年金厂镇政府信息公开工作年度报告", None)]):
        path = f"/vsb/info/23/{640 + n}.htm"
        r[path] = Resource(f"<html><head><title>{title}</title></head><body><h1>{title}</h1><p>示例数据。金厂镇人民政府</p>"
                           "</body></html>".encode("gbk"), "text/html")
        planted.add(path)
        more = f'<a href="{nxt}">下一页</a>' if nxt else ""
        r["/vsb/xxgknb.htm" if n == 0 else "/vsb/xxgknb/2.htm"] = Resource(
            f'<html><body><ul><li><a href="{path}">{title}</a><span>[2025-01-2{n}]</span></li></ul>{more}</body></html>'
            .encode("gbk"), "text/html")
    r["/private/nb/"] = Resource(page("内部", '<a href="/private/nb/t.html">某县2024年政府信息公开工作年度报告</a>'))
    return r, planted


class MiniPortal:
    """Serves ``resources`` with conditional GET support; ``log`` keeps (method, path, headers)."""

    def __init__(self, resources: dict[str, Resource] | None = None) -> None:
        if resources is None:
            resources, self.planted = build_site()
        else:
            self.planted = set()
        self.resources = resources
        #: path -> callable(query, form) -> Resource, answered before anything else (trap servers)
        self.routes: dict = {}
        self.log: list[tuple[str, str, dict[str, str], int]] = []
        self.times: list[tuple[float, str]] = []  # (monotonic time a request arrived, path)
        self.lock = threading.Lock()
        portal = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):  # quiet
                pass

            def _send(self, res: Resource, status: int | None = None, body: bytes | None = None) -> int:
                body = res.body if body is None else body
                st = status or res.status
                if res.delay:
                    time.sleep(res.delay)
                etag = '"' + hashlib.sha1(body).hexdigest()[:16] + '"'
                if st == 200 and (self.headers.get("If-None-Match") == etag
                                  or (self.headers.get("If-Modified-Since") == res.last_modified
                                      and not self.headers.get("If-None-Match"))):
                    self.send_response(304)
                    self.send_header("ETag", etag)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return 304
                self.send_response(st)
                self.send_header("Content-Type", res.content_type)
                if st == 200:
                    self.send_header("ETag", etag)
                    self.send_header("Last-Modified", res.last_modified)
                for k, v in res.headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body) + (1000 if res.truncate else 0)))
                self.end_headers()
                if self.command != "HEAD":
                    try:
                        self.wfile.write(body)
                        self.wfile.flush()
                    except OSError:
                        pass
                if res.truncate:
                    self.close_connection = True
                return st

            def _handle(self) -> None:
                with portal.lock:
                    portal.times.append((time.monotonic(), self.path))
                parts = urlsplit(self.path)
                path = parts.path
                length = int(self.headers.get("Content-Length") or 0)
                form = dict(parse_qsl(self.rfile.read(length).decode())) if length else {}
                q = dict(parse_qsl(parts.query))
                res = portal.resources.get(path)
                status = None
                if path in portal.routes:
                    res = portal.routes[path](q, form)
                elif path == "/module/web/jpage/dataproxy.jsp":
                    recs = portal.resources["__hanweb_records__"].body.decode().split("\n")
                    s, e = int(q.get("startrecord", 1)), int(q.get("endrecord", 45))
                    ok = form.get("columnid") == "100"
                    body = ('<?xml version="1.0" encoding="UTF-8"?><datastore><recordset>'
                            + ("".join(recs[s - 1:e]) if ok else "") + f"</recordset><totalrecord>{len(recs) if ok else 0}"
                            "</totalrecord></datastore>").encode()
                    res = Resource(body, "text/xml;charset=UTF-8")
                elif path.startswith("/gkmlpt/api/all/"):
                    arts = json.loads(portal.resources["__gkmlpt_articles__"].body)
                    pg = int(q.get("page", 1))
                    ok = path.endswith("/55") and q.get("sid") == "7001"
                    data = {"total": len(arts) if ok else 0, "articles": arts[(pg - 1) * 2: pg * 2] if ok else []}
                    res = Resource(json.dumps(data, ensure_ascii=False).encode(), "application/json")
                elif path == "/module/download/downfile.jsp":
                    res = Resource(b"", status=302, headers={"Location": "/attach/0/" + q.get("filename", "x")})
                if res is None:
                    res, status = Resource(page("404", "Not Found")), 404
                code = self._send(res, status)
                with portal.lock:
                    portal.log.append((self.command, self.path, dict(self.headers), code))

            do_GET = do_POST = do_HEAD = _handle

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.base = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> "MiniPortal":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()

    def planted_urls(self) -> set[str]:
        return {self.base + p for p in self.planted}

    def requests_to(self, path_prefix: str) -> list[tuple[str, str, dict[str, str], int]]:
        with self.lock:
            return [x for x in self.log if x[1].startswith(path_prefix)]
