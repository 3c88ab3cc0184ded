"""Suite-wide: nothing a test runs may reach the internet.

Tests that run Scrapy in this process (the adapters, the spider on the demo portal) would let
tldextract, which Scrapy's cookie handling asks for the Public Suffix List, try to download it;
the product's crawl process sets the same variable (crawler.settings.offline_public_suffix_list).
"""
from crawler.settings import offline_public_suffix_list

offline_public_suffix_list()
