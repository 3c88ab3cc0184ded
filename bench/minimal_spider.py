"""The crawl baseline of bench/crawl_bench.py: a minimal Scrapy spider that follows the same links as
nianbao's spider on the generated portal, and does nothing else (no adapters, no title filter, no
URL policy, no items): what plain Scrapy costs per page on the same server, portal and settings.

It follows every link of the site's pages except the listing entries that are not reports (their
anchor text says 工作动态: nianbao's title filter leaves them, so following them would make the
baseline crawl other pages).  ``scrapy runspider bench/minimal_spider.py -a start_url=URL``.
"""
from __future__ import annotations

from urllib.parse import urlsplit

import scrapy
from scrapy.linkextractors import LinkExtractor

#: anchor text of the portal's non-report listing entries (crawler.demo.portal.ScalePortal fillers)
NOT_REPORTS = "工作动态"


class MinimalSpider(scrapy.Spider):
    name = "minimal"

    def __init__(self, start_url: str, **kw) -> None:
        super().__init__(**kw)
        self.start_url = start_url
        # the host with its port: Scrapy compares the network location
        self.links = LinkExtractor(allow_domains=[urlsplit(start_url).netloc])

    async def start(self):
        yield scrapy.Request(self.start_url)

    def parse(self, response):
        for link in self.links.extract_links(response):
            if NOT_REPORTS not in link.text:
                yield response.follow(link.url)
