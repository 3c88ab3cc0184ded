"""Shared fixtures of the monitor's tests: the demo portal, built once per session."""
from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def portal(tmp_path_factory):
    """(DemoPortal, base URL): the bundled demo portal served on a free loopback port."""
    from crawler.demo.portal import DemoPortal

    p = DemoPortal(cache_dir=tmp_path_factory.mktemp("demo-cache"))
    with p.serve() as base_url:
        yield p, base_url
