"""The digest in the officer's language: cells by their printed labels (checked against a real
report's text, not our own template), the evidence as one sentence, advice on every finding."""
from __future__ import annotations

import json
import re
from datetime import date, datetime
from pathlib import Path

import pytest

from crawler.config import config_from_dict
from crawler.run import run_alerts_for, run_checks_for
from monitor import wording
from monitor.alerts import AlertSettings, compose
from monitor.checks.categories import CATEGORIES
from storage.db import Store
from storage.models import TABLE3_COLUMNS, TABLE3_ROWS, Finding
from mon_helpers import balanced, expected, previous_year_of, report_from, store_report

SEEDS = Path(__file__).resolve().parents[1] / "fixtures" / "seeds"
JUNE = date(2025, 6, 1)
KEY = re.compile(r"table[234]\.[a-z_]+\.[a-z_]+")


def _printed(text: str) -> str:
    return re.sub(r"\s+", "", text)


def test_cell_label_is_what_the_report_prints():
    assert (wording.cell_label("table3.unavailable_not_held.total")
            == "表三 ·（四）无法提供 1.本机关不掌握相关政府信息 · 总计")
    assert wording.cell_label("table2.regulations.in_force") == "表二 · 规章 · 现行有效件数"
    assert wording.cell_label("table2.fees_wan_yuan.value") == "表二 · 行政事业性收费 · 本年收费金额（单位：万元）"
    assert wording.cell_label("table4.litigation_direct.total") == "表四 · 行政诉讼 未经复议直接起诉 · 总计"
    assert wording.cell_label("not.a cell") == "not.a cell" and wording.cell_label("table9.x.y") == "table9.x.y"


def test_every_table3_label_is_printed_in_a_real_report():
    """Each row and column label we show is a phrase a real 2024 report prints (seed 004)."""
    text = _printed((SEEDS / "004_df5f9a23d5b9d417.txt").read_text(encoding="utf-8"))
    for row in TABLE3_ROWS["2021"]:
        for col in TABLE3_COLUMNS:
            label = wording.cell_label(f"table3.{row}.{col}")
            assert label.startswith("表三 ·") and not KEY.search(label)
            _, row_part, col_part = (p.strip() for p in label.split("·"))
            for piece in row_part.split(" "):  # group heading and item, each as printed
                assert _printed(piece) in text, (row, piece)
            assert col_part in text, col


def test_references_in_text_are_replaced_by_labels():
    text = wording.humanise("变动数据：table3.new.total 12→13；table2.licensing.value 5→6")
    assert "table" not in text
    assert "“表三 · 一、本年新收政府信息公开申请数量 · 总计” 12→13" in text
    assert "“表二 · 行政许可 · 本年处理决定数量” 5→6" in text


def _f(rule, numbers, **kw):
    return Finding(rule=rule, severity="error", message="", numbers=numbers, agency="某局", year=2024, **kw)


@pytest.mark.parametrize("finding, sentence", [
    (_f("row_total", {"sum": 10, "total": 7, "delta": -3}), "各分项之和为10，总计填为7，相差3。"),
    (_f("balance", {"left": 10, "right": 7, "delta": 3}),
     "本年新收加上年结转为10，办理结果总计加结转下年度为7，两者应相等，相差3。"),
    (_f("carry_continuity", {"previous_year": 2023, "columns": {
        "natural_person": {"carried_over": 0, "previous_carried_forward": 2, "delta": -2}}}),
     "自然人本年“上年结转”0件、2023年报告“结转下年度”2件，两者应相等。"),
    (_f("deadline", {"due": "2025-01-31", "page_date": "2025-03-10", "days_late": 38, "evidence": "page_date"}),
     "法定公布期限为2025年1月31日，页面标注的发布日期为2025年3月10日，逾期38天。"),
    (_f("missing", {"due": "2025-01-31", "today": "2025-06-01", "days_overdue": 121, "expected_because": "roster"}),
     "该单位在应公开单位名单中，法定公布期限为2025年1月31日，截至2025年6月1日仍未发现，已逾期121天。"),
    (_f("revised", {"detected_at": "2025-03-02T01:00:00+00:00",
                    "changed_cells": {"table3.new.total": [12, 13]}}),
     "本系统于2025年3月2日发现报告发布后被修改：“表三 · 一、本年新收政府信息公开申请数量 · 总计”由12改为13。"),
    (_f("swing", {"value": 730, "previous_value": 20, "previous_year": 2023, "ratio": 36.5}),
     "2023年为20，本年为730，为上年的36.5倍。"),
    (_f("copied", {"similarity": 0.981, "threshold": 0.95, "relation": "previous_year", "other_year": 2023}),
     "正文与本单位2023年报告的文字相似度为98%（达到95%即视为雷同）。"),
])
def test_evidence_is_one_readable_sentence(finding, sentence):
    assert wording.evidence_sentence(finding) == sentence


def test_evidence_of_an_unknown_shape_says_nothing_rather_than_a_dump():
    assert wording.evidence_sentence(_f("row_total", {"odd": {"x": 1}})) == ""
    assert wording.evidence_sentence(_f("carry_continuity", {"columns": "broken"})) == ""


def test_every_rule_has_advice():
    for rule in CATEGORIES:
        assert wording.advice(rule) != wording.DEFAULT_ADVICE, rule
    assert "重新发布" in wording.advice("balance")


def test_long_cell_lists_are_shortened_to_what_matters():
    parts = [f"table3.new.{c}" for c in TABLE3_COLUMNS]
    f = Finding(rule="row_total", severity="error", message="", cells=parts)
    assert wording.involved_cells(f) == "涉及表三 · 一、本年新收政府信息公开申请数量一行（7个单元格）"
    f.suspect = "table3.new.natural_person"
    assert wording.involved_cells(f) == "可疑单元格：表三 · 一、本年新收政府信息公开申请数量 · 自然人"
    scattered = Finding(rule="revised", severity="warning", message="",
                        cells=["table2.licensing.value", "table3.new.total", "table3.granted.other_org",
                               "table4.review.total", "table4.review.upheld"])
    said = wording.involved_cells(scattered)
    assert said.count("；") == 2 and said.endswith("等5个单元格")


def test_the_digest_speaks_labels_sentences_and_advice(tmp_path):
    raw = {"database": str(tmp_path / "n.db"), "sites": [{"name": "demo", "start_url": "http://127.0.0.1:9/"}],
           "alerts": {"recipients": ["office@example.org"]}}
    config = config_from_dict(raw, base_dir=tmp_path)
    with Store(config.database_path()) as store:
        data = expected("004")
        prev = previous_year_of(data)
        prev["table3"]["carried_forward"][0] += 2
        prev["table3"]["carried_forward"][6] += 2
        bad = expected("004")
        bad["table3"]["new"][0] += 3  # breaks the row total and the balance in one cell
        store_report(store, report_from(balanced(prev)), seen=datetime(2024, 1, 20))
        store_report(store, report_from(data), seen=datetime(2025, 1, 20))
        store_report(store, report_from(bad, agency="某某区民政局"), seen=datetime(2025, 1, 20))
        run_checks_for(config, store, today=JUNE)
        (digest,) = run_alerts_for(config, store, dry_run=True).digests
        stored_numbers = [json.dumps(r["numbers"], ensure_ascii=False) for r in store.finding_rows()]
    for body in (digest.text, digest.html):
        assert not KEY.search(body), KEY.search(body)
        assert '{"' not in body and "&#34;" not in body  # no JSON dumps of the evidence
        assert "可疑单元格：表三 · 一、本年新收政府信息公开申请数量 · 自然人" in body
        assert "涉及单元格：表三 · 二、上年结转政府信息公开申请数量 · 自然人" in body
        assert "依据：各分项之和为10，总计填为7，相差3。" in body
        assert body.count("建议：") == 3 if body is digest.text else body.count('class="advice"') == 3
        assert "核对该行各类申请人数据与总计，更正后重新发布年度报告。" in body
    assert "data-rule=\"carry_continuity\"" in digest.html  # keys stay in the markup and the database
    assert any("carried_over" in n for n in stored_numbers)


def test_markdown_digest_is_bounded():
    findings = [Finding(rule="missing", severity="error", message=f"单位{i}未公布", agency=f"单位{i}", year=2024,
                        site="s", numbers={"due": "2025-01-31", "today": "2025-06-01", "days_overdue": 121})
                for i in range(30)]
    (email, chat) = compose(findings, AlertSettings(recipients=["a@example.org"], apprise=["json://127.0.0.1:9/"]))
    assert email.channel == "email" and email.text.count("建议：") == 30
    assert chat.channel == "json://127.0.0.1:9/" and chat.markdown.count("建议：") == 12
    assert "另有 18 项未列出" in chat.markdown and chat.key != email.key


def test_a_column_under_one_heading_is_named_by_the_heading():
    rows = ["withheld_state_secret", "withheld_prohibited_by_law", "withheld_three_safety", "withheld_third_party",
            "withheld_internal_affairs", "withheld_process_info", "withheld_enforcement_file", "withheld_query_matter"]
    f = Finding(rule="narrative_vs_table", severity="warning", message="", cells=[f"table3.{r}.total" for r in rows])
    assert wording.involved_cells(f) == "涉及表三 ·（三）不予公开各项的“总计”（8个单元格）"
    f.cells = [f"table3.{r}.total" for r in ("new", "granted", "withheld_state_secret", "total_processed")]
    assert wording.involved_cells(f) == "涉及表三 · 总计一列（4个单元格）"
