"""`nianbao serve` on a free port, driven by the system Chromium (headless, Playwright)."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from storage.db import Store

import serve_helpers
from serve_helpers import CHROMIUM, chromium
from storage_helpers import SEEDS, expected, stage

ARTIFACTS = Path(__file__).parents[1] / "artifacts"

pytestmark = pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="Debian's chromium is not installed")


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("serve")
    db = tmp / "nianbao.db"
    with Store(db) as store:
        results, _ = stage(store, [SEEDS])  # store, parse, check: as `nianbao ingest`
        seed_001 = next(r.report_id for url, r in results.items() if "/001_" in url)
    with serve_helpers.serving(db) as base:
        yield base, db, seed_001


@pytest.fixture(scope="module")
def page_factory():
    with chromium() as browser:
        yield lambda: browser.new_page(viewport={"width": 1400, "height": 1000})


def test_report_page_of_seed_001(served, page_factory):
    base, db, rid = served
    exp = expected("001")
    page = page_factory()
    page.goto(f"{base}/-/nianbao/report/{rid}")
    assert exp["agency"] in page.locator("h1").inner_text()
    # its values, in the table laid out as printed
    assert page.locator('[data-ref="table2.punishment.value"]').inner_text() == str(exp["table2"]["punishment"])
    assert page.locator('[data-ref="table3.new.total"]').inner_text() == str(exp["table3"]["new"][6])
    assert page.locator('[data-ref="table3.unavailable_not_held.total"]').inner_text() == "1"
    assert page.locator("#table3 tr[data-row]").count() == 25
    assert page.locator("#table4 td.cell").count() == 15
    # the cells named by findings are highlighted; the finding's rows are listed beside them
    flagged = page.locator("#table3 td.flag-error")
    assert flagged.count() >= 7
    assert "flag-error" in page.locator('[data-ref="table3.unavailable_not_held.natural_person"]').get_attribute("class")
    assert "flag-" not in page.locator('[data-ref="table4.review.total"]').get_attribute("class")
    rules = page.locator("#findings .nb-finding").evaluate_all("els => els.map(e => e.dataset.rule)")
    assert {"row_total", "results_total"} <= set(rules)
    # highlighted cells look different from the others (real CSS, real rendering)
    color = flagged.first.evaluate("e => getComputedStyle(e).backgroundColor")
    plain = page.locator('[data-ref="table4.review.total"]').evaluate("e => getComputedStyle(e).backgroundColor")
    assert color != plain
    # the cell where the failing rules intersect is marked strongest
    suspect = page.locator('[data-ref="table3.unavailable_not_held.total"]')
    assert "suspect" in suspect.get_attribute("class")
    assert suspect.evaluate("e => getComputedStyle(e).backgroundColor") not in (color, plain)
    assert page.locator("a.source-link").get_attribute("href").endswith(".txt")
    assert page.locator("svg.chart").count() >= 1
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "report_001.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000
    page.close()


def test_canned_query_returns_seed_001(served, page_factory):
    base, db, rid = served
    page = page_factory()
    page.goto(f"{base}/{db.stem}/balance_failures")
    assert "勾稽关系不符的报告" in page.locator("h1").inner_text()
    body = page.locator("table.rows-and-columns").inner_text()
    assert "市中区卫生健康局" in body
    for other in ("东风区卫生健康局", "伊美区卫生健康局", "互助县卫生健康局"):
        assert other not in body
    # the report link leads to the report page
    page.locator(f'a[href="/-/nianbao/report/{rid}"]').first.click()
    page.wait_for_url(f"**/-/nianbao/report/{rid}")
    page.screenshot(path=str(ARTIFACTS / "balance_failures_click.png"))
    page.close()


def test_reports_table_facets_and_overview(served, page_factory):
    base, db, rid = served
    page = page_factory()
    page.goto(f"{base}/{db.stem}/reports")
    assert page.locator(".facet-info").count() >= 3  # year, region, agency ...
    assert page.locator(f'a[href="/-/nianbao/report/{rid}"]').count() == 1
    page.goto(f"{base}/{db.stem}/agency_history?agency=大兴区卫生健康委")
    assert "北京市大兴区卫生健康委员会" in page.locator("table.rows-and-columns").inner_text()
    page.goto(f"{base}/-/nianbao")
    assert page.locator("svg.chart").count() == 2
    page.screenshot(path=str(ARTIFACTS / "overview.png"), full_page=True)
    page.close()


# Read-only serving (every write path Datasette has) and public mode: test_serve_public.py, no browser needed.
