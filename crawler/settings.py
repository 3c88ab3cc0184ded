"""Scrapy settings built from config.yaml (crawl section and sites): polite by default.

Politeness (per host): robots.txt obeyed unless a site opts out, its Crawl-delay honoured by
``crawler.middlewares.PoliteDelayMiddleware`` (Scrapy itself ignores Crawl-delay), AutoThrottle with
``download_delay`` as its floor, at most ``concurrent_per_domain`` (≤ 2 by default) requests in
flight per host, timeouts, retries on 5xx/timeouts with exponential backoff, DOWNLOAD_MAXSIZE and a
User-Agent that names the project and the operator's contact.

URL policy (``crawler.middlewares.UrlPolicyMiddleware``, in place of Scrapy's OffsiteMiddleware):
every request and redirect hop must be http/https to one of the site's hosts and must not resolve
to a loopback/private/link-local/reserved address the start host is not itself on; at most
``max_pages_per_site`` requests per site.  Download handlers other than http/https are switched
off as a second line.  robots.txt: Scrapy's middleware is on whenever any site obeys it, and the
requests of sites that do not carry ``dont_obey_robotstxt``.
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


def obeys_robots(site: Site, config: Config) -> bool:
    """The site's own obey_robots, else the crawl's."""
    return config.crawl.obey_robots if site.obey_robots is None else site.obey_robots


def site_dict(site: Site, config: Config | None = None) -> dict[str, Any]:
    """A site as the spider sees it (plain data: the spider may not import crawler.config)."""
    crawl = config.crawl if config is not None else None
    return {
        "name": site.name, "start_url": site.start_url, "allowed_hosts": list(site.allowed_hosts),
        "platform": site.platform, "selectors": site.selectors.model_dump(exclude_none=True),
        "obey_robots": obeys_robots(site, config) if config is not None else site.obey_robots,
        "fetch": site.fetch,
        "max_pages": site.max_pages or (crawl.max_pages_per_site if crawl else None),
        "max_listing_pages": crawl.max_listing_pages if crawl else None,
    }  # a site's download_delay is not the spider's business: it becomes a DOWNLOAD_SLOTS entry


def offline_public_suffix_list() -> None:
    """Scrapy's cookie handling asks tldextract for the Public Suffix List, which by default
    downloads it from the internet (and prints tracebacks when it cannot).  An empty URL list makes
    tldextract use its bundled snapshot silently (tldextract documents the variable); it must be
    set before Scrapy builds its extractor (at import of its cookies middleware)."""
    import os

    os.environ["TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS"] = ""


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
        # on when any site obeys; the requests of the others carry dont_obey_robotstxt
        "ROBOTSTXT_OBEY": any(obeys_robots(s, config) for s in sites),
        "DOWNLOAD_DELAY": delay,
        "DOWNLOAD_DELAY_JITTER": 0.5 if polite else 0.0,
        "DOWNLOAD_SLOTS": slots,
        "CONCURRENT_REQUESTS": 16 if polite else 64,
        "CONCURRENT_REQUESTS_PER_DOMAIN": c.concurrent_per_domain if polite else 64,
        # Scrapy starts CONCURRENT_ITEMS asyncio tasks for every response's output (100 by default);
        # a page yields a few links and at most a document or two, and the store pipeline runs on one
        # thread, so 4 loses nothing.  py-spy on a 3,000-portal crawl process: 30% of its samples in
        # those tasks; crawl_bench --pages 3000 --skip-full: 6.84 -> 4.40 ms CPU a request.
        "CONCURRENT_ITEMS": 4,
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
        # http and https only: no file://, ftp://, s3://, data: downloads even if a request got through
        "DOWNLOAD_HANDLERS": {"file": None, "ftp": None, "s3": None, "data": None},
        "DOWNLOADER_MIDDLEWARES": {
            # the URL policy (50) before anything else, robots.txt included (so a refused host's
            # robots.txt is never fetched either); then robots.txt (100), our Crawl-delay/backoff
            # wait, then conditional headers
            "scrapy.downloadermiddlewares.offsite.OffsiteMiddleware": None,
            "crawler.middlewares.UrlPolicyMiddleware": 50,
            "crawler.middlewares.OffThreadDecodeMiddleware": 560,  # after decompression and redirects
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
        "NIANBAO_SITES": [site_dict(s, config) for s in sites],
        "NIANBAO_URL_POLICY": True,  # bench/crawl_bench.py measures the policy's cost by turning it off
        "NIANBAO_PROGRESS": progress,
        "NIANBAO_PROGRESS_INTERVAL": None,  # default: 0.5 s on a terminal, 30 s in a log
    }
