"""Fixtures: one demo portal per session (rendered attachments are cached on disk), served on 127.0.0.1."""
from __future__ import annotations

import http.client
from dataclasses import dataclass
from urllib.parse import urlsplit

import pytest

from crawler.demo.portal import DemoPortal


@pytest.fixture(scope="session")
def portal() -> DemoPortal:
    return DemoPortal()


@pytest.fixture(scope="session")
def base_url(portal):
    with portal.serve() as url:
        yield url


@pytest.fixture(autouse=True)
def _no_faults(portal):
    portal.clear_faults()
    yield
    portal.clear_faults()


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes

    def text(self, encoding: str = "utf-8") -> str:
        return self.body.decode(encoding)


def fetch(url: str, method: str = "GET", headers: dict | None = None, body: bytes | None = None,
          timeout: float = 10) -> Reply:
    """One request, no redirect following (tests look at 302s themselves)."""
    u = urlsplit(url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=timeout)
    try:
        conn.request(method, u.path + (f"?{u.query}" if u.query else ""), body=body, headers=headers or {})
        r = conn.getresponse()
        data = r.read()
        return Reply(r.status, {k.lower(): v for k, v in r.getheaders()}, data)
    finally:
        conn.close()


@pytest.fixture(scope="session")
def get():
    """``get(url, method=..., headers=..., body=..., timeout=...) -> Reply``."""
    return fetch
