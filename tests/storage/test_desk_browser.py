"""The officer's desk in a real Chromium: the compliance matrix of the demo, its filters and
downloads, the report page's labels and layout, and triage (sign in, dismiss, reopen).

What the matrix must show is taken from the demo portal's manifest (what it planted), not from the
code under test; the exported figures are compared with the database by SQL written here.
"""
from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path

import pytest

import serve_helpers
from serve_helpers import CHROMIUM, chromium
from storage_helpers import SEEDS

NIANBAO = os.path.join(os.path.dirname(sys.executable), "nianbao")
ARTIFACTS = Path(__file__).parents[1] / "artifacts"
DEMO_TODAY = "2025-06-01"
PASSWORD = "kai-ban-2025"

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="Debian's chromium is not installed")]

#: planted rule -> the status the matrix must give the agency
PLANTED_STATUS = {"missing": ("missing", "未公开"), "deadline": ("late", "逾期"),
                  "carry_continuity": ("errors", "已公开·有错误"), "row_total": ("errors", "已公开·有错误"),
                  "revised": ("revised", "发布后修改")}


@contextmanager
def serving(db: Path, tmp: Path, *extra: str, config: str = ""):
    """The desk as an officer signs in to it: `nianbao serve` with a config of one account."""
    cfg = tmp / f"config-{len(list(tmp.glob('config-*.yaml')))}.yaml"
    cfg.write_text(config or "serve:\n  accounts:\n    officer: NIANBAO_TEST_OFFICER_HASH\n", encoding="utf-8")
    from datasette_auth_passwords.utils import hash_password
    env = {**os.environ, "NIANBAO_CONFIG": str(cfg), "NIANBAO_TEST_OFFICER_HASH": hash_password(PASSWORD)}
    with serve_helpers.serving(db, "--today", DEMO_TODAY, *extra, env=env, log_dir=tmp) as base:
        yield base


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """The demo's database and what its portal planted."""
    from crawler.demo.showcase import run_demo
    tmp = tmp_path_factory.mktemp("desk")
    summary = run_demo(tmp / "demo", progress=False, echo=lambda s: None)
    assert summary.exit_code == 0
    from crawler.demo.portal import DemoPortal
    portal = DemoPortal()
    portal.publish_revision()
    return tmp, summary.database, portal.expected_findings()


@pytest.fixture(scope="module")
def demo_server(demo):
    tmp, db, planted = demo
    with serving(db, tmp) as base:
        yield base, db, planted


@pytest.fixture(scope="module")
def browser():
    with chromium() as b:
        yield b


def _sql(db: Path, sql: str, params=()):
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


def _matrix_rows(page) -> dict[str, dict]:
    return {r["agency"]: r for r in page.locator("#matrix tbody tr[data-agency]").evaluate_all(
        "els => els.map(e => ({agency: e.dataset.agency, status: e.dataset.status, site: e.dataset.site, "
        "kind: e.dataset.kind, errors: Number(e.dataset.errors), text: e.innerText}))")}


def _count(page, key: str) -> int:
    return int(page.locator(f'#counts [data-count="{key}"] b').inner_text())


def test_matrix_shows_the_planted_statuses_and_counts(demo_server, browser):
    base, db, planted = demo_server
    page = browser.new_page(viewport={"width": 1366, "height": 1000})
    page.goto(base + "/")
    rows = _matrix_rows(page)
    # every agency that published 2024 or an earlier year is a row (independent SQL)
    agencies = {a for (a,) in _sql(db, "select distinct a.name from reports r join agencies a on a.id = r.agency_id "
                                       "where r.year <= 2024")}
    assert set(rows) == agencies
    for p in planted:
        if p.year != 2024 or p.rule not in PLANTED_STATUS:
            continue
        status, word = PLANTED_STATUS[p.rule]
        row = next(r for name, r in rows.items() if name == p.agency or p.agency in name)
        assert row["status"] == status, (p, row)
        assert word in row["text"]
    late = next(r for r in rows.values() if r["status"] == "late")
    assert "逾期 38 天" in late["text"]  # published 2025-03-10 against 31 January (demo manifest)
    published_2024 = _sql(db, "select count(distinct agency_id) from reports where year = 2024")[0][0]
    assert _count(page, "expected") == len(rows) == len(agencies)
    assert _count(page, "published") == published_2024
    assert _count(page, "missing") == sum(1 for p in planted if p.rule == "missing" and p.year == 2024)
    assert _count(page, "late") == sum(1 for p in planted if p.rule == "deadline" and p.year == 2024)
    wrong = {p.agency for p in planted if p.year == 2024 and p.rule in ("carry_continuity", "row_total")}
    assert _count(page, "with_errors") == len(wrong)
    assert _count(page, "on_time") == published_2024 - _count(page, "late")
    # the report list, the overview and the tables are one click away
    for href in ("/-/nianbao", f"/{db.stem}/report_list", f"/{db.stem}"):
        assert page.locator(f'.crumbs a[href="{href}"]').count() == 1
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "matrix.png"), full_page=True)
    page.close()


def test_matrix_filters_and_sorting(demo_server, browser):
    base, db, _ = demo_server
    page = browser.new_page(viewport={"width": 1366, "height": 1000})
    page.goto(base + "/")
    page.select_option('select[name="site"]', "shizhong")
    page.click('.nb-filters button[type="submit"]')
    page.wait_for_url("**site=shizhong**")
    rows = _matrix_rows(page)
    shizhong = {a for (a,) in _sql(db, "select distinct a.name from reports r join agencies a on a.id = r.agency_id "
                                       "where r.site = 'shizhong' and r.year <= 2024")}
    assert set(rows) == shizhong and _count(page, "expected") == len(shizhong)
    page.goto(base + "/")
    page.select_option('select[name="kind"]', "town")
    page.click('.nb-filters button[type="submit"]')
    page.wait_for_url("**kind=town**")
    rows = _matrix_rows(page)
    assert rows and all(r["kind"] == "town" for r in rows.values())
    # towns in the demo manifest, as printed; the matrix names an agency by its whole name (互助县威远镇)
    assert all(any(r.endswith(t) for r in rows) for t in ("长安镇人民政府", "建设街道办事处", "威远镇")), set(rows)
    region = page.locator('select[name="region"] option').nth(1).get_attribute("value")
    page.goto(base + "/")
    page.select_option('select[name="region"]', region)
    page.click('.nb-filters button[type="submit"]')
    page.wait_for_url("**region=**")
    assert _count(page, "expected") == len(_matrix_rows(page)) > 0
    # sorting by agency name, then reversed
    page.goto(base + "/")
    page.click('a.sort[data-sort="agency"]')
    page.wait_for_url("**sort=agency**")
    names = list(_matrix_rows(page))
    assert names == sorted(names)
    page.click('a.sort[data-sort="agency"]')
    page.wait_for_url("**desc=1**")
    assert list(_matrix_rows(page)) == sorted(names, reverse=True)
    page.close()


def _to_pdf(path: Path) -> Path:
    out = path.parent / "pdf"
    out.mkdir(exist_ok=True)
    subprocess.run(["soffice", "--headless", f"-env:UserInstallation=file://{path.parent / 'lo-profile'}",
                    "--convert-to", "pdf", "--outdir", str(out), str(path)], check=True, capture_output=True,
                   timeout=180)
    pdf = out / (path.stem + ".pdf")
    assert pdf.exists() and pdf.stat().st_size > 1000
    return pdf


def _pdf_text(pdf: Path) -> str:
    import pdfplumber
    with pdfplumber.open(str(pdf)) as doc:
        return "\n".join(p.extract_text() or "" for p in doc.pages)


def test_matrix_downloads_open_and_agree_with_the_database(demo_server, browser, tmp_path):
    import docx
    import openpyxl
    base, db, planted = demo_server
    page = browser.new_page(viewport={"width": 1366, "height": 1000}, accept_downloads=True)
    page.goto(base + "/")
    files = {}
    for fmt in ("xlsx", "docx", "csv"):
        with page.expect_download() as d:
            page.click(f'a.download[data-format="{fmt}"]')
        files[fmt] = tmp_path / f"notice.{fmt}"
        d.value.save_as(str(files[fmt]))
    rows = _matrix_rows(page)
    page.close()
    reports_2024 = _sql(db, "select count(distinct agency_id) from reports where year = 2024")[0][0]
    missing = {p.agency for p in planted if p.rule == "missing" and p.year == 2024}
    late = {p.agency for p in planted if p.rule == "deadline" and p.year == 2024}

    wb = openpyxl.load_workbook(files["xlsx"])
    assert wb.sheetnames == ["汇总", "各单位情况", "问题清单"]
    summary = {r[0]: r[1] for r in wb["汇总"].iter_rows(min_row=5, max_row=12, values_only=True)}
    assert summary["应公开"] == len(rows) and summary["已公开"] == reports_2024
    assert summary["逾期未公开"] == len(missing) and summary["逾期公开"] == len(late)
    agencies = wb["各单位情况"]
    assert agencies.freeze_panes == "A2" and agencies.auto_filter.ref.startswith("A1:")
    assert agencies.column_dimensions["B"].width >= 20
    listed = {r[1]: r for r in agencies.iter_rows(min_row=2, values_only=True)}
    assert set(listed) == set(rows)
    assert all(listed[a][5] == "未公开" for a in missing)
    assert all(str(listed[a][5]).startswith("逾期") for a in late)
    findings = wb["问题清单"]
    assert findings.freeze_panes == "A2"
    found = list(findings.iter_rows(min_row=2, values_only=True))
    counted = _sql(db, "select count(*) from findings where resolved_at is null and year = 2024")
    assert len(found) == counted[0][0]
    suspects = [r[5] for r in found if r[5]]
    assert any("表三" in s and "总计" in s for s in suspects) and not any("table3." in s for s in suspects)
    assert all(r[8].startswith(base + "/-/nianbao/report/") for r in found if r[0] not in missing)
    assert all(not r[8] for r in found if r[0] in missing)  # no report to link to

    notice = docx.Document(str(files["docx"]))
    text = "\n".join(p.text for p in notice.paragraphs)
    assert "通报" in text and f"已公开{reports_2024}个" in text
    tables = ["\n".join(c.text for row in t.rows for c in row.cells) for t in notice.tables]
    assert any(all(a in t for a in missing) for t in tables)
    assert any(all(a in t for a in late) and "38" in t for t in tables)

    csv_text = files["csv"].read_bytes().decode("utf-8-sig")
    assert csv_text.splitlines()[0].startswith("序号,机关") and len(csv_text.splitlines()) == len(rows) + 1

    for fmt in ("xlsx", "docx"):
        pdf_text = _pdf_text(_to_pdf(files[fmt]))
        assert all(a in pdf_text for a in missing), fmt
    # the notice as a picture for the README
    pdf = tmp_path / "pdf" / "notice.pdf"
    subprocess.run(["pdftoppm", "-png", "-r", "70", "-f", "1", "-l", "1", str(pdf), str(ARTIFACTS / "notice")],
                   check=True)


@pytest.mark.parametrize("width", [1366, 1920])
def test_report_page_names_cells_by_label_and_fits(demo_server, browser, width, tmp_path):
    base, db, _ = demo_server
    rid = _sql(db, "select id from reports where agency = '市中区卫生健康局' and year = 2024")[0][0]
    page = browser.new_page(viewport={"width": width, "height": 1000})
    page.goto(f"{base}/-/nianbao/report/{rid}")
    aside = page.locator("#findings").inner_text()
    assert "表三 ·（四）无法提供 1.本机关不掌握相关政府信息 · 总计" in aside
    assert "table3." not in aside and "unavailable_not_held" not in aside
    for ref in ("table3.new.total", "table3.carried_forward.total", "table4.litigation_after_review.total"):
        cell = page.locator(f'[data-ref="{ref}"]')
        cell.scroll_into_view_if_needed()
        box = cell.bounding_box()
        assert box["x"] + box["width"] <= width, (ref, box)
        hit = page.evaluate("([x, y]) => { const e = document.elementFromPoint(x, y); return e && e.dataset.ref; }",
                            [box["x"] + box["width"] / 2, box["y"] + box["height"] / 2])
        assert hit == ref, (ref, hit)  # the cell itself is on top: not under the findings column
    page.screenshot(path=str(ARTIFACTS / f"report_{width}.png"), full_page=False)
    pdf = tmp_path / "report.pdf"
    page.pdf(path=str(pdf), format="A4")
    text = _pdf_text(pdf)
    assert "总计" in text and "市中区卫生健康局" in text
    page.close()


def test_agency_history_shows_where_the_carry_over_breaks(demo_server, browser):
    base, db, planted = demo_server
    p = next(p for p in planted if p.rule == "carry_continuity")
    aid = _sql(db, "select agency_id from reports where agency = ? and year = ?", (p.agency, p.year))[0][0]
    page = browser.new_page(viewport={"width": 1366, "height": 1000})
    page.goto(f"{base}/")
    page.locator(f'#matrix tr[data-agency="{p.agency}"] td.rowlabel a').click()
    page.wait_for_url(f"**/-/nianbao/agency/{aid}")
    heads = page.locator("#history tr").first.inner_text()
    assert str(p.year - 1) in heads and str(p.year) in heads
    carry = page.locator("#relations tr.rel", has_text="上年结转")
    assert "breaks" in carry.get_attribute("class") and "不衔接" in carry.inner_text()
    assert page.locator("#relations tr.rel.holds").count() >= 1  # the 现行有效 relations hold
    page.close()


def _login(page, base):
    page.goto(base + "/-/login")
    page.fill('input[name="username"]', "officer")
    page.fill('input[name="password"]', PASSWORD)
    page.click('input[type="submit"], button[type="submit"]')
    page.wait_for_load_state()


def test_triage_dismiss_in_the_browser_then_a_changed_cell_reopens_it(browser, tmp_path):
    # a seed report with a row_total error (seed 001), ingested from a copy we can edit later
    from storage.db import Store
    src = tmp_path / "src"
    src.mkdir()
    seed = next(SEEDS.glob("001_*.txt"))
    shutil.copy(seed, src / seed.name)
    db = tmp_path / "nianbao.db"
    (tmp_path / "check.yaml").write_text(f"database: {db}\n", encoding="utf-8")
    subprocess.run([NIANBAO, "ingest", "--db", str(db), str(src)], check=True, capture_output=True)
    subprocess.run([NIANBAO, "--config", str(tmp_path / "check.yaml"), "check", "--today", DEMO_TODAY],
                   capture_output=True)
    with Store(db) as s:
        rid = s.reports()[0]["id"]
        finding = next(f for f in s.finding_rows(report_id=rid) if f["rule"] == "row_total")
        pending = {f.message for f in s.findings_to_alert()}
    assert finding["message"] in pending  # not alerted yet: the next alert would send it
    agency = _sql(db, "select agency from reports where id = ?", (rid,))[0][0]

    with serving(db, tmp_path) as base:
        page = browser.new_page(viewport={"width": 1366, "height": 1000})
        page.goto(f"{base}/-/nianbao/report/{rid}")
        assert page.locator("form.triage").count() == 0  # not signed in: no form
        page.goto(base + "/?year=2024")
        before = _matrix_rows(page)[agency]
        assert before["status"] == "errors"
        _login(page, base)
        # signed in, but a POST without the page's CSRF token (another site's form) is refused
        forged = page.request.post(base + "/-/nianbao/triage",
                                   form={"finding": str(finding["id"]), "action": "confirmed", "next": "/"},
                                   max_redirects=0)
        assert forged.status == 403
        page.goto(f"{base}/-/nianbao/report/{rid}")
        box = page.locator(f'.nb-finding[data-finding="{finding["id"]}"]')
        box.locator('input[name="note"]').fill("该行总计含跨年度申请，经核实不是错误")
        with page.expect_navigation():
            box.locator('button[value="dismissed"]').click()
        assert "已记录：误报" in page.locator("p.message-info").inner_text()
        box = page.locator(f'.nb-finding[data-finding="{finding["id"]}"]')
        assert box.get_attribute("data-triage") == "dismissed"
        assert "officer" in box.locator(".triage-log").text_content()
        # its cells are no longer marked as errors
        assert "flag-error" not in page.locator('[data-ref="table3.unavailable_not_held.natural_person"]').get_attribute("class")
        page.goto(base + "/?year=2024")
        after = _matrix_rows(page)[agency]
        assert after["errors"] == before["errors"] - 1  # the dismissed one is not counted
        page.close()

    # the next run: the report is unchanged, the finding stays dismissed and is not picked for alerting
    subprocess.run([NIANBAO, "ingest", "--db", str(db), str(src)], check=True, capture_output=True)
    subprocess.run([NIANBAO, "--config", str(tmp_path / "check.yaml"), "check", "--today", DEMO_TODAY],
                   capture_output=True)
    with Store(db) as s:
        assert [t["state"] for t in s.finding_row(finding["id"])["triage"]] == ["dismissed"]  # not the forged one
        assert s.finding_row(finding["id"])["triage_state"] == "dismissed"
        assert finding["message"] not in {f.message for f in s.findings_to_alert()}

    # the agency republishes with another 总计 in that row: the finding reopens and is alerted again
    path = src / seed.name
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    i = next(n for n, line in enumerate(lines) if "1.本机关不掌握相关政府信息" in line)
    values = [n for n in range(i + 1, i + 12) if lines[n].strip().isdigit()][:7]
    assert lines[values[6]].strip() == "1"
    lines[values[6]] = lines[values[6]].replace("1", "3")
    path.write_text("".join(lines), encoding="utf-8")
    subprocess.run([NIANBAO, "ingest", "--db", str(db), str(src)], check=True, capture_output=True)
    with Store(db) as s:
        row = s.finding_row(finding["id"])
        assert row["triage_state"] == "open" and row["triage"][-1]["state"] == "reopened"
        assert row["triage"][-1]["actor"] == "nianbao"
        assert any(f.rule == "row_total" and f.report_id == rid for f in s.findings_to_alert())
    with serving(db, tmp_path) as base:
        page = browser.new_page(viewport={"width": 1366, "height": 1000})
        page.goto(base + "/?year=2024")
        assert _matrix_rows(page)[agency]["status"] == "errors"
        page.close()


def test_the_demos_picture_report_shows_its_table_images(demo_server, browser):
    """威远镇's 图片版 report (its tables are pictures on the page): its page shows the table images
    the crawl stored for it, loaded, and its cells carry the OCR's confidence."""
    base, db, _ = demo_server
    rows = _sql(db, "select r.id, count(distinct d.id) from reports r join documents d on d.report_url = r.report_url "
                    "join document_versions v on v.id = d.latest_version_id where v.content_type like 'image/%' "
                    "group by r.id")
    assert len(rows) == 1, rows
    (rid, n_images), = rows
    page = browser.new_page(viewport={"width": 1366, "height": 1000})
    page.goto(f"{base}/-/nianbao/report/{rid}")
    assert "威远镇" in page.locator("h1").inner_text()
    imgs = page.locator(".nb-ocr-pages img")
    assert imgs.count() == n_images >= 3
    for i in range(imgs.count()):
        imgs.nth(i).scroll_into_view_if_needed()
    page.wait_for_function("() => [...document.querySelectorAll('.nb-ocr-pages img')].every(i => i.complete)")
    sizes = imgs.evaluate_all("els => els.map(e => e.naturalWidth)")
    assert all(w > 0 for w in sizes), sizes
    assert "OCR 置信度" in page.locator('[data-ref="table3.new.total"]').get_attribute("title")
    page.screenshot(path=str(ARTIFACTS / "demo_picture_report.png"), full_page=True)
    page.close()
