"""nianbao's application: the CLI, config, Scrapy settings and pipelines, the parsing stage, the demo."""
