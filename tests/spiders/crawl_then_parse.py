"""The crawl stores bytes only; these tests read reports, so each crawl is followed by the parse
stage over what it stored, as `nianbao run` does."""
from __future__ import annotations

from crawler.crawl import run_crawl as crawl_stage
from crawler.parse_stage import ParseSettings, parse_pending


def run_crawl(config, store, **kwargs):
    summary = crawl_stage(config, store, **kwargs)
    summary.parse = parse_pending(store, ParseSettings(workers=1))
    return summary
