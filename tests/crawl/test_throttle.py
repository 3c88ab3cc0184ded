"""AutoThrottle on an incremental night (crawler/throttle.py): a 304 may bring a stretched delay back
down, and nothing else about politeness changes."""
from __future__ import annotations

from types import SimpleNamespace

import pytest
from scrapy.http import Response
from scrapy.utils.test import get_crawler

from crawler.throttle import ConditionalAwareThrottle


@pytest.fixture
def throttle():
    crawler = get_crawler(settings_dict={"AUTOTHROTTLE_ENABLED": True, "DOWNLOAD_DELAY": 1.0,
                                         "AUTOTHROTTLE_MAX_DELAY": 60.0, "AUTOTHROTTLE_TARGET_CONCURRENCY": 1.0})
    t = ConditionalAwareThrottle.from_crawler(crawler)
    t.mindelay, t.maxdelay = t._min_delay(), t._max_delay()
    return t


def _answer(throttle, delay: float, status: int, latency: float) -> float:
    slot = SimpleNamespace(delay=delay)
    throttle._adjust_delay(slot, latency, Response("http://p.example.org/r.html", status=status))
    return slot.delay


def test_fast_304s_bring_a_stretched_delay_back_to_the_floor(throttle):
    delay = 32.0  # one starved moment stretched it
    for _ in range(10):
        delay = _answer(throttle, delay, 304, 0.01)
    assert delay == pytest.approx(1.0, abs=0.05)  # halved towards the answer time, never below download_delay


def test_a_slow_304_still_raises_the_delay_at_once(throttle):
    assert _answer(throttle, 1.0, 304, 7.0) == 7.0
    assert _answer(throttle, 1.0, 304, 500.0) == 60.0  # AUTOTHROTTLE_MAX_DELAY


def test_errors_and_redirects_still_never_lower_it(throttle):
    for status in (503, 404, 302, 429):
        assert _answer(throttle, 20.0, status, 0.01) == 20.0
    assert _answer(throttle, 2.0, 503, 9.0) == 9.0  # a slow error raises it, as in Scrapy


def test_a_200_behaves_as_in_scrapy(throttle):
    assert _answer(throttle, 20.0, 200, 0.01) == pytest.approx(10.005)
    assert _answer(throttle, 1.0, 200, 0.01) == 1.0
