"""The demo portal's HTTP server: stdlib ThreadingHTTPServer on 127.0.0.1, a free port by default.

It asks the portal for a ``Resource`` per request and adds what real servers do: ETag and
Last-Modified with 304 answers to conditional requests, HEAD, keep-alive (HTTP/1.1), and the fault
behaviours a resource carries (delay, truncated body, oversized stream).  Every request is logged
on the portal (``portal.requests``) so tests can assert that conditional requests were made.

Run by hand::

    python -m crawler.demo.server [--port 8800] [--fault http_500 ...] [--scale 20000]
"""
from __future__ import annotations

import argparse
import logging
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from crawler.demo.sites.model import Resource, http_date, not_modified

log = logging.getLogger(__name__)

_CHUNK = 64 * 1024


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # headers and body go out in two writes: with Nagle on, keep-alive clients stall ~40 ms per page
    disable_nagle_algorithm = True
    server_version = "TRS-WCM/7.0 (nianbao demo)"

    def log_message(self, format: str, *args) -> None:  # stdlib default prints to stderr
        log.debug("%s %s", self.address_string(), format % args)

    def _serve(self, method: str) -> None:
        srv: DemoServer = self.server.demo  # type: ignore[attr-defined]
        arrived = time.time()
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        host = self.headers.get("Host") or f"{srv.host}:{srv.port}"
        try:
            res = srv.portal.respond(method, self.path, dict(self.headers.items()), body, f"http://{host}")
        except Exception:  # a bug in the portal must show as a 500, not a dropped connection
            log.exception("demo portal failed on %s %s", method, self.path)
            res = Resource(b"internal error", "text/plain", status=500, conditional=False)
        self._log = lambda status: srv.portal.record(_record(method, self.path, self.headers, status, arrived))
        self._send(method, res)

    def do_GET(self) -> None:
        self._serve("GET")

    def do_HEAD(self) -> None:
        self._serve("HEAD")

    def do_POST(self) -> None:
        self._serve("POST")

    def _send(self, method: str, res: Resource) -> int:
        if res.delay:
            deadline = time.monotonic() + res.delay
            stop = self.server.demo._stopping  # type: ignore[attr-defined]
            while time.monotonic() < deadline and not stop.is_set():
                time.sleep(0.05)
        if res.location:
            self.send_response(res.status)
            self.send_header("Location", res.location)
            self.send_header("Content-Length", "0")
            for k, v in res.headers.items():
                self.send_header(k, v)
            self._log(res.status)
            self.end_headers()
            return res.status
        etag, lm = res.etag, http_date(res.last_modified)
        if res.status == 200 and res.conditional and not_modified(res, self.headers.get("If-None-Match"), self.headers.get("If-Modified-Since")):
            self.send_response(304)
            self.send_header("ETag", etag)
            self.send_header("Last-Modified", lm)
            self._log(304)
            self.end_headers()
            return 304
        size = res.pad_to if res.pad_to else len(res.body)
        self.send_response(res.status)
        self.send_header("Content-Type", res.content_type)
        self.send_header("Content-Length", str(size))
        if res.status == 200:
            self.send_header("ETag", etag)
            self.send_header("Last-Modified", lm)
        for k, v in res.headers.items():
            self.send_header(k, v)
        if res.truncate:
            self.send_header("Connection", "close")
        self._log(res.status)  # before the client can see the answer, so tests never race the log
        self.end_headers()
        if method == "HEAD":
            return res.status
        try:
            if res.truncate:
                self.wfile.write(res.body[: len(res.body) // 2])
                self.wfile.flush()
                self.close_connection = True
            elif res.pad_to:
                self.wfile.write(res.body)
                left = res.pad_to - len(res.body)
                pad = b"\0" * _CHUNK
                while left > 0:
                    self.wfile.write(pad[: min(left, _CHUNK)])
                    left -= _CHUNK
            else:
                self.wfile.write(res.body)
        except (BrokenPipeError, ConnectionResetError):  # the client gave up (e.g. DOWNLOAD_MAXSIZE)
            self.close_connection = True
        return res.status


def _record(method: str, path: str, headers, status: int, arrived: float):
    from crawler.demo.portal import RequestRecord

    return RequestRecord(method, path, dict(headers.items()), status, arrived)


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True  # a slow reply must not keep the process alive
    allow_reuse_address = True
    # The stdlib's listen backlog is 5: the scale mode's thousands of portals open their first
    # connections at once, and a full backlog drops SYNs (the crawler then reads "User timeout caused
    # connection failure" for pages the server never saw).  The kernel caps it at net.core.somaxconn.
    request_queue_size = 4096


class DemoServer:
    """A running demo portal: ``base_url``, ``stop()``; usable as a context manager."""

    def __init__(self, portal, host: str = "127.0.0.1", port: int = 0) -> None:
        self.portal = portal
        self.host = host
        self._httpd = _HTTPServer((host, port), _Handler)
        self._httpd.demo = self  # type: ignore[attr-defined]
        self.port = self._httpd.server_address[1]
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> "DemoServer":
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.1},
                                        name=f"demo-portal:{self.port}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        if self._thread:
            self._thread.join(timeout=5)

    def __enter__(self) -> "DemoServer":
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def main(argv: list[str] | None = None) -> None:
    from crawler.demo.portal import FAULTS, DemoPortal, build_portal

    ap = argparse.ArgumentParser(prog="python -m crawler.demo.server", description=__doc__.split("\n\n")[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0, help="0 picks a free port")
    ap.add_argument("--fault", action="append", default=[], choices=sorted(FAULTS), help="switch a fault on")
    ap.add_argument("--scale", type=int, default=0, metavar="PAGES", help="serve a generated portal of ~PAGES pages")
    ap.add_argument("--cache-dir", default=None, help="where rendered PDF/DOC files are cached")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    portal = build_portal(pages=args.scale) if args.scale else DemoPortal(cache_dir=args.cache_dir)
    for name in args.fault:
        portal.set_fault(name, True)
    server = portal.start(args.host, args.port)
    print(f"demo portal at {server.base_url}  (start page {portal.start_url(server.base_url)})", flush=True)
    if not args.scale:
        for site in portal.site_configs(server.base_url):
            print(f"  {site['name']:9s} {site['start_url']}")
        print(f"  manifest: {server.base_url}/__demo__/manifest.json   faults: /__demo__/fault?name=...&on=1")
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()


if __name__ == "__main__":
    main()
