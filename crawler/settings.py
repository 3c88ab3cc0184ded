"""Scrapy settings built from config.yaml (crawl section and sites): polite by default.

Politeness (per host): robots.txt obeyed unless a site opts out, its Crawl-delay honoured by
``crawler.middlewares.PoliteDelayMiddleware`` (Scrapy itself ignores Crawl-delay), AutoThrottle with
``download_delay`` as its floor, at most ``concurrent_per_domain`` (≤ 2 by default) requests in
flight per host, timeouts, retries on 5xx/timeouts with exponential backoff, DOWNLOAD_MAXSIZE and a
User-Agent that names the project and the operator's contact.
"""
from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from crawler.config import Config, Site
from spiders.portal import host_key

USER_AGENT_TEMPLATE = "nianbao/{version} (+https://github.com/nianbao/nianbao; contact: {contact})"


def _version() -> str:
    try:
        from importlib.metadata import version

        return version("nianbao")
    except Exception:  # not installed (running from a checkout)
        return "0"


def site_dict(site: Site) -> dict[str, Any]:
    """A site as the spider sees it (plain data: the spider may not import crawler.config)."""
    return {
        "name": site.name, "start_url": site.start_url, "allowed_hosts": list(site.allowed_hosts),
        "platform": site.platform, "selectors": site.selectors.model_dump(exclude_none=True),
        "obey_robots": site.obey_robots, "fetch": site.fetch,
    }  # a site's download_delay is not the spider's business: it becomes a DOWNLOAD_SLOTS entry


def scrapy_settings(config: Config, *, db_path: str, run_id: int | None, sites: list[Site],
                    progress: bool = True, polite: bool = True) -> dict[str, Any]:
    c = config.crawl
    delay = c.download_delay if polite else 0.0
    slots: dict[str, dict[str, Any]] = {}
    for s in sites:
        if s.download_delay is not None and polite:
            # the spider keys download slots by host[:port] (spiders.portal.host_key)
            slots[host_key(s.start_url)] = {"delay": s.download_delay,
                                                   "concurrency": c.concurrent_per_domain}
    return {
        "BOT_NAME": "nianbao",
        "SPIDER_MODULES": ["spiders"],
        "USER_AGENT": USER_AGENT_TEMPLATE.format(version=_version(), contact=c.contact),
        "ROBOTSTXT_OBEY": c.obey_robots,
        "DOWNLOAD_DELAY": delay,
        "DOWNLOAD_DELAY_JITTER": 0.5 if polite else 0.0,
        "DOWNLOAD_SLOTS": slots,
        "CONCURRENT_REQUESTS": 16 if polite else 64,
        "CONCURRENT_REQUESTS_PER_DOMAIN": c.concurrent_per_domain if polite else 64,
        "AUTOTHROTTLE_ENABLED": c.autothrottle and polite,
        "AUTOTHROTTLE_START_DELAY": max(delay, 1.0),
        "AUTOTHROTTLE_MAX_DELAY": 60.0,
        "AUTOTHROTTLE_TARGET_CONCURRENCY": 1.0,
        "DOWNLOAD_TIMEOUT": c.timeout,
        "DNS_TIMEOUT": min(c.timeout, 30),
        "RETRY_ENABLED": True,
        "RETRY_TIMES": c.retries,
        "RETRY_HTTP_CODES": [500, 502, 503, 504, 522, 524, 408, 429],
        "NIANBAO_RETRY_BACKOFF_BASE": 1.0 if polite else 0.0,
        "NIANBAO_RETRY_BACKOFF_MAX": 60.0,
        "DOWNLOAD_MAXSIZE": int(c.max_size_mb * 1024 * 1024),
        "DOWNLOAD_WARNSIZE": int(min(c.max_size_mb, 32) * 1024 * 1024),
        "DOWNLOAD_FAIL_ON_DATALOSS": True,
        "REDIRECT_MAX_TIMES": 10,
        "COOKIES_ENABLED": True,
        "TELNETCONSOLE_ENABLED": False,
        "LOG_LEVEL": "WARNING",
        "LOG_INSTALL_ROOT_HANDLER": True,
        "REQUEST_FINGERPRINTER_IMPLEMENTATION": "2.7",
        "DOWNLOADER_MIDDLEWARES": {
            # robots.txt (100) runs first, then our Crawl-delay/backoff wait, then conditional headers
            "crawler.middlewares.PoliteDelayMiddleware": 110,
            "crawler.middlewares.ConditionalRequestMiddleware": 120,
            "scrapy.downloadermiddlewares.redirect.RedirectMiddleware": None,
            "crawler.middlewares.LoopAwareRedirectMiddleware": 600,
            # fetch: browser sites only (NotConfigured otherwise): last before the download itself
            "crawler.browser.BrowserFetchMiddleware": 950,
        },
        "ITEM_PIPELINES": {"crawler.pipelines.StorePipeline": 300},
        "EXTENSIONS": {"crawler.crawl.CrawlProgress": 500},
        "NIANBAO_DB": db_path,
        "NIANBAO_RUN_ID": run_id,
        "NIANBAO_SITES": [site_dict(s) for s in sites],
        "NIANBAO_PROGRESS": progress,
        "NIANBAO_PROGRESS_INTERVAL": None,  # default: 0.5 s on a terminal, 30 s in a log
    }
