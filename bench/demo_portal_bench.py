"""Demo portal figures: cold vs warm start (the render cache) and pages served per second in scale mode.

    .venv/bin/python bench/demo_portal_bench.py [--pages 3000]

Baselines, in the same process: the cold start (LibreOffice renders) for the warm one; a stdlib
SimpleHTTPRequestHandler serving the same pages from disk for the portal's on-request generation.
"""
from __future__ import annotations

import argparse
import http.client
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from crawler.demo.portal import DemoPortal, build_portal


def rate(port: int, paths: list[str], threads: int = 4) -> float:
    local = threading.local()

    def get(p: str) -> int:
        if not hasattr(local, "c"):
            local.c = http.client.HTTPConnection("127.0.0.1", port)
        local.c.request("GET", p)
        r = local.c.getresponse()
        r.read()
        return r.status

    t0 = time.perf_counter()
    with ThreadPoolExecutor(threads) as ex:
        statuses = set(ex.map(get, paths))
    assert statuses == {200}, statuses
    return len(paths) / (time.perf_counter() - t0)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--pages", type=int, default=3000, help="report pages fetched for the serving rate")
    args = ap.parse_args()

    cache = tempfile.mkdtemp(prefix="nianbao-bench-cache-")
    t0 = time.perf_counter()
    DemoPortal(cache_dir=cache)
    cold = time.perf_counter() - t0
    t0 = time.perf_counter()
    DemoPortal(cache_dir=cache)
    warm = time.perf_counter() - t0
    print(f"demo portal start: cold {cold:.1f} s, warm {warm:.2f} s (x{cold / warm:.0f} faster with the render cache)")

    portal = build_portal(pages=20000)
    paths = [u for _, _, u in portal.expected_reports()][: args.pages]
    server = portal.start()
    try:
        ours = rate(server.port, paths)
        root = Path(tempfile.mkdtemp(prefix="nianbao-bench-static-"))
        for p in paths:  # the same bytes as static files
            f = root / p.lstrip("/")
            f.parent.mkdir(parents=True, exist_ok=True)
            f.write_bytes(portal.respond("GET", p, {}, b"", server.base_url).body)
    finally:
        server.stop()

    class Static(SimpleHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True

        def log_message(self, *a) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), partial(Static, directory=str(root)))
    httpd.daemon_threads = True
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        base = rate(httpd.server_address[1], paths)
    finally:
        httpd.shutdown()
    print(f"scale portal ({portal.page_count()} pages): {ours:.0f} pages/s generated on request, "
          f"stdlib static server {base:.0f} pages/s from disk: ratio {ours / base:.2f}")


if __name__ == "__main__":
    main()
