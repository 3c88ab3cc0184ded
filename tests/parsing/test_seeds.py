"""The five seed reports parse to exactly the hand-checked values, and the checks find exactly the
problems the expected files list (seed 001: four; the others: none)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from crawler.parsing import parse_file
from monitor.checks.report import check_report
from storage.models import ParseStatus

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
SEEDS = sorted((FIXTURES / "seeds").glob("*.txt"))
FIELDS = ("agency", "year", "template", "title", "published", "table2", "table3", "table4")


def expected(seed: Path) -> dict:
    return json.loads((FIXTURES / "expected" / f"{seed.stem}.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def parsed():
    return {seed.stem: parse_file(seed) for seed in SEEDS}


def test_there_are_five_seeds():
    assert len(SEEDS) == 5


@pytest.mark.parametrize("seed", SEEDS, ids=lambda p: p.stem[:3])
def test_seed_parses_to_expected_values(seed, parsed):
    report = parsed[seed.stem]
    got = report.to_json()
    want = expected(seed)
    for field in FIELDS:
        assert got[field] == want[field], f"{seed.name}: {field}"
    assert report.status is ParseStatus.PARSED
    assert report.source.format == "text"
    assert report.warnings == []  # every seed is complete: no blank cell, no row missed
    # every cell keeps the text it was read from
    assert all(c.raw.strip() for c in report.cells)
    assert len(report.cells) == 4 + 2 * 3 + 25 * 7 + 15  # Table 二, 三, 四


@pytest.mark.parametrize("seed", SEEDS, ids=lambda p: p.stem[:3])
def test_seed_findings_match_the_expected_inconsistencies(seed, parsed):
    findings = check_report(parsed[seed.stem])
    want = expected(seed)["inconsistencies"]
    assert sorted(f.rule for f in findings) == sorted(i["rule"] for i in want)
    for item in want:
        f = next(f for f in findings if f.rule == item["rule"])
        if "row" in item:
            assert f.subject == item["row"]
        if "column" in item:
            assert f.subject == item["column"]


def test_seed_001_findings_in_detail(parsed):
    report = parsed["001_d039ec262de9d514"]
    by_rule = {f.rule: f for f in check_report(report)}
    row = by_rule["row_total"]
    assert row.severity == "error"
    assert row.numbers == {"sum": 0, "total": 1, "delta": 1}
    assert "table3.unavailable_not_held.total" in row.cells
    res = by_rule["results_total"]
    assert res.numbers["sum"] == 2 and res.numbers["total"] == 1
    # the failing row and the failing column meet in one cell
    assert row.suspect == res.suspect == "table3.unavailable_not_held.total"
    nar = by_rule["narrative_vs_table"]
    assert nar.severity == "warning"
    assert nar.numbers["text"] == 0 and nar.numbers["table"] == 1
    assert "不予公开" in nar.message and "正文数据与表格不一致" in nar.message
    assert "（单位名称）" in by_rule["placeholder"].message
    assert all(f.agency == "市中区卫生健康局" and f.year == 2024 for f in by_rule.values())
    # fingerprints are stable and distinct
    again = {f.rule: f.fingerprint for f in check_report(report)}
    assert again == {r: f.fingerprint for r, f in by_rule.items()}
    assert len(set(again.values())) == 4


def test_seed_003_narrative_counts_are_not_table_values(parsed):
    report = parsed["003_d9d52685c3ee3a90"]
    assert "行政许可17项" in report.text
    assert report.value("table2", "licensing") == 88
    assert report.value("table2", "punishment") == 8


def test_seed_000_stray_number_before_header_is_not_a_value(parsed):
    report = parsed["000_16ec821b69b48cef"]
    assert "0申请人情况" in report.text
    assert report.title is None and report.agency == "东风区卫生健康局"


def _without_tabs(text: str) -> str:
    """The seed with its table structure lost, as pdftotext or a copy from a browser gives it: tabs
    become spaces (a row per line) or vanish (a cell per line)."""
    return "\n".join(line.lstrip("\t").replace("\t", "    ") for line in text.split("\n"))


@pytest.mark.parametrize("seed", SEEDS, ids=lambda p: p.stem[:3])
def test_seed_without_table_structure_reads_from_the_text_stream(seed, tmp_path):
    path = tmp_path / seed.name
    path.write_text(_without_tabs(seed.read_text(encoding="utf-8")), encoding="utf-8")
    report = parse_file(path)
    assert "\t" not in report.text
    got, want = report.to_json(), expected(seed)
    for field in FIELDS:
        assert got[field] == want[field], f"{seed.name}: {field}"
    assert sorted(f.rule for f in check_report(report)) == sorted(i["rule"] for i in want["inconsistencies"])
