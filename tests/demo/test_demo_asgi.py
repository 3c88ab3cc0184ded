"""The scale mode's ASGI server (crawler.demo.asgi): a request body over its limit gets 413 unread."""
from __future__ import annotations

import asyncio
import socket
import threading
import time

import pytest

from crawler.demo.scale import Nation, host_name

#: the request a crawler makes of a scale portal, with a body it should never have
TARGET = "/zwgk/zfxxgknb/"
LIMIT = 64 * 1024  # crawler.demo.asgi.MAX_BODY, written out: the test says what the limit is


@pytest.fixture(scope="module")
def nation():
    return Nation(1)


def _call(app, headers, chunks):
    """Run one request through the ASGI app; (status, bytes of the body it read, receive calls)."""
    sent, read, calls = [], [0], [0]

    async def receive():
        calls[0] += 1
        chunk, more = next(chunks)
        read[0] += len(chunk)
        if read[0] > 32 * LIMIT:
            raise AssertionError(f"the app read {read[0]} bytes of the body")
        return {"type": "http.request", "body": chunk, "more_body": more}

    async def send(msg):
        sent.append(msg)

    scope = {"type": "http", "method": "POST", "raw_path": TARGET.encode(), "query_string": b"",
             "headers": [(b"host", host_name(0).encode()), *headers]}
    asyncio.run(app(scope, receive, send))
    return sent[0]["status"], read[0], calls[0]


def _endless(size=16 * 1024):
    while True:
        yield b"x" * size, True


def test_a_body_over_the_limit_gets_413_unread(nation):
    from crawler.demo.asgi import PortalApp

    app = PortalApp(nation)
    status, read, calls = _call(app, [(b"content-length", str(1 << 30).encode())], _endless())
    assert (status, read, calls) == (413, 0, 0)  # refused by its Content-Length: nothing read
    status, read, _ = _call(app, [(b"transfer-encoding", b"chunked")], _endless())
    assert status == 413 and read <= LIMIT + 16 * 1024  # no length: refused once past the limit
    small = iter([(b"a=1", False)])
    status, read, _ = _call(app, [(b"content-length", b"3")], small)
    assert status != 413 and read == 3  # a small body is still read and answered by the portal


def test_the_server_answers_a_huge_upload_with_413_at_once(nation):
    """Over a real socket: 200 MB announced, 1 MB sent; the answer, 413, comes while the client still sends,
    and the connection is closed (its unread rest is no next request)."""
    from crawler.demo.asgi import listening_socket, server

    sock = listening_socket("127.0.0.1", 0)
    port = sock.getsockname()[1]
    srv = server(nation)
    thread = threading.Thread(target=srv.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        for _ in range(200):
            if srv.started:
                break
            time.sleep(0.05)
        started = time.monotonic()
        with socket.create_connection(("127.0.0.1", port), timeout=10) as c:
            c.sendall((f"POST {TARGET} HTTP/1.1\r\nHost: {host_name(0)}:{port}\r\n"
                       f"Content-Length: {200 * 1024 * 1024}\r\nContent-Type: application/octet-stream\r\n\r\n")
                      .encode())
            try:
                for _ in range(16):
                    c.sendall(b"x" * 65536)
            except OSError:  # the server closed after its answer: what was left is not read
                pass
            head = c.recv(65536)
            assert head.startswith(b"HTTP/1.1 413"), head[:200]
            try:
                while c.recv(65536):  # until the server closes (a timeout fails the test)
                    pass
            except ConnectionResetError:  # closed with the client's bytes unread: a reset, also a close
                pass
        assert time.monotonic() - started < 10
    finally:
        srv.should_exit = True
        thread.join(timeout=10)
