"""The TRS pagination script works in a real browser (Chromium), as on real sites."""
from __future__ import annotations

import shutil

import pytest

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


@pytest.fixture(scope="module")
def browser():
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield b
        b.close()


@pytest.mark.parametrize("col,next_page,last_page", [
    ("2024n/qzfbm/", "index_1.html", "index_2.html"),  # createPageHTML 4 args, 0-based
    ("2024n/qzf/", "index_2.html", "index_2.html"),  # createPageHTML("page_div", ...) 6 args, 1-based
])
def test_create_page_html_writes_next_and_last_links(browser, base_url, col, next_page, last_page):
    page = browser.new_page()
    try:
        page.goto(f"{base_url}/zwgk/zfxxgknb/{col}index.html")
        nxt = page.get_by_role("link", name="下一页", exact=True)
        assert nxt.get_attribute("href") == next_page
        assert page.get_by_role("link", name="尾页", exact=True).get_attribute("href") == last_page
        nxt.click()
        page.wait_for_url(f"**/{next_page}")
        assert page.locator("ul.list li").count() >= 1
    finally:
        page.close()


def test_hanweb_column_renders_inline_records_then_dataproxy(browser, portal, base_url):
    page = browser.new_page()
    try:
        page.goto(f"{base_url}/col/col1229001/index.html")
        total = len(portal.state["shizhong"]["records"])
        page.wait_for_function(f"document.querySelectorAll('ul.jpage-list li').length == {total}", timeout=10000)
        titles = page.locator("ul.jpage-list a").evaluate_all("els => els.map(e => e.title)")
        assert {r.title for r in portal.expected_reports() if r.site == "shizhong"} <= set(titles)
    finally:
        page.close()


def test_gkmlpt_app_lists_the_category_from_the_api(browser, portal, base_url):
    page = browser.new_page()
    try:
        page.goto(f"{base_url}/gkmlpt/index#2811")
        page.wait_for_selector("#app li")
        assert page.locator("#app li").count() == 10
        seen = set(page.locator("#app li a").evaluate_all("els => els.map(e => e.textContent)"))
        pages = page.locator(".pager [data-p]").count()
        assert pages >= 3
        for p in range(2, pages + 1):
            first = page.locator("#app li a").first.get_attribute("href")
            page.locator(f".pager [data-p='{p}']").click()
            page.wait_for_function("h => document.querySelector('#app li a').getAttribute('href') != h", arg=first)
            seen |= set(page.locator("#app li a").evaluate_all("els => els.map(e => e.textContent)"))
        assert len(seen) == len(portal.state["yimei"]["articles"])
        assert {r.title for r in portal.expected_reports() if r.site == "yimei"} <= seen
    finally:
        page.close()
