"""Spiders: find report pages and attachments on portals; yield Documents. No parsing, no SQL."""
