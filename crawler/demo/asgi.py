"""A demo portal as an ASGI app, served by uvicorn: the scale mode's server.

The stdlib ``ThreadingHTTPServer`` (crawler.demo.server) runs a thread per connection.  A national
night keeps a connection open to each of thousands of hosts, and with 3,000 threads the server spent
its time switching between them (47% system time in `top`, 107% CPU at 20 documents/s, on the
3,000-portal bench of 2 Dec 2026), so the benchmark measured the simulation's server rather than the
crawler.  One asyncio loop serves the same portal's ``respond`` (0.24 ms of CPU a page: 200 requests to
one portal's cached plan, in process) to any number of connections.

Only what the scale mode's portals use is served: redirects, conditional GETs (ETag and
Last-Modified, the same ``not_modified`` as ``crawler.demo.server``), HEAD, a per-resource delay.  The faults of the zoo's
portals (truncated bodies, padding) stay with the threaded server the tests run.
"""
from __future__ import annotations

import asyncio
import logging
import socket
import time

from crawler.demo.sites.model import Resource, http_date, not_modified

log = logging.getLogger(__name__)

#: Bytes of a request body read at most: the scale portals answer GET and HEAD (no form posts big data); a
#: bigger body gets 413 without being read, so one client cannot make the server hold what it sends.
MAX_BODY = 64 * 1024


class PortalApp:
    """ASGI app answering with ``portal.respond(method, target, headers, body, base_url)``."""

    def __init__(self, portal, server_name: str = "TRS-WCM/7.0 (nianbao demo)") -> None:
        self.portal = portal
        self.server_name = server_name.encode()

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "lifespan":
            while True:
                msg = await receive()
                if msg["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif msg["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] != "http":
            return
        arrived = time.time()
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        method = scope["method"]
        target = scope["raw_path"].decode("latin-1") or "/"
        if scope.get("query_string"):
            target += "?" + scope["query_string"].decode("latin-1")
        body = await self._body(headers, receive)
        if body is None:
            await self._too_large(method, target, headers, send, arrived)
            return
        host = headers.get("host") or "127.0.0.1"
        try:
            res = self.portal.respond(method, target, headers, body, f"http://{host}")
        except Exception:  # a bug in the portal shows as a 500, not a dropped connection
            log.exception("demo portal failed on %s %s", method, target)
            res = Resource(b"internal error", "text/plain", status=500, conditional=False)
        if res.delay:
            await asyncio.sleep(res.delay)
        status, out, payload = self._answer(method, headers, res)
        from crawler.demo.server import _record

        self.portal.record(_record(method, target, headers, status, arrived))
        await send({"type": "http.response.start", "status": status, "headers": out})
        await send({"type": "http.response.body", "body": payload})

    @staticmethod
    async def _body(headers: dict[str, str], receive) -> bytes | None:
        """The request body, or None when it is over MAX_BODY: by its Content-Length before any byte is read,
        else (chunked) as soon as what came passes it; the rest is never read."""
        try:
            if int(headers.get("content-length") or 0) > MAX_BODY:
                return None
        except ValueError:  # h11 refuses a bad Content-Length before the app sees it; counted as read
            pass
        parts, size, more = [], 0, True
        while more:
            msg = await receive()
            chunk = msg.get("body", b"")
            size += len(chunk)
            if size > MAX_BODY:
                return None
            parts.append(chunk)
            more = msg.get("more_body", False)
        return b"".join(parts)

    async def _too_large(self, method: str, target: str, headers: dict[str, str], send, arrived: float) -> None:
        from crawler.demo.server import _record

        self.portal.record(_record(method, target, headers, 413, arrived))
        payload = f"request body over {MAX_BODY} bytes".encode()
        # connection: close: the unread rest of the body is not this connection's next request
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"server", self.server_name), (b"content-type", b"text/plain"),
                                (b"content-length", str(len(payload)).encode()), (b"connection", b"close")]})
        await send({"type": "http.response.body", "body": payload})

    def _answer(self, method: str, headers: dict[str, str], res: Resource):
        out = [(b"server", self.server_name)]
        if res.location:
            out += [(b"location", res.location.encode("latin-1")), (b"content-length", b"0")]
            out += [(k.encode("latin-1"), v.encode("latin-1")) for k, v in res.headers.items()]
            return res.status, out, b""
        etag, lm = res.etag.encode("latin-1"), http_date(res.last_modified).encode("latin-1")
        if res.status == 200 and res.conditional and not_modified(res, headers.get("if-none-match"), headers.get("if-modified-since")):
            return 304, out + [(b"etag", etag), (b"last-modified", lm)], b""
        out += [(b"content-type", res.content_type.encode("latin-1")),
                (b"content-length", str(len(res.body)).encode())]
        if res.status == 200:
            out += [(b"etag", etag), (b"last-modified", lm)]
        out += [(k.encode("latin-1"), v.encode("latin-1")) for k, v in res.headers.items()]
        return res.status, out, b"" if method == "HEAD" else res.body


def listening_socket(host: str, port: int, backlog: int = 4096) -> socket.socket:
    """Bound before uvicorn starts, so the caller can print the port it was given (port 0 = free)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(backlog)
    sock.set_inheritable(True)
    return sock


def server(portal):
    """The uvicorn server of ``portal`` (not started)."""
    import uvicorn

    config = uvicorn.Config(PortalApp(portal), http="h11", loop="asyncio", lifespan="off", access_log=False,
                            log_level="warning", backlog=4096, timeout_keep_alive=75, server_header=False,
                            date_header=False)
    return uvicorn.Server(config)


def serve(portal, sock: socket.socket) -> None:
    """Serve ``portal`` on ``sock`` until interrupted (SIGINT/SIGTERM: uvicorn's graceful stop)."""
    server(portal).run(sockets=[sock])
