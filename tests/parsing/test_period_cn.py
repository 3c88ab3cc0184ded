"""The statistical period written in Chinese numerals is read like the one in digits (reviewer's
variants p2 and p3: a 卫健委 report whose period ends on 30 November)."""
from __future__ import annotations

from datetime import date

from crawler.parsing import parse_bytes
from crawler.parsing.metadata import find_period
from monitor.checks.report import check_report

OPENING = ("北京市大兴区卫生健康委员会\n\n2024年政府信息公开工作年度报告\n"
           "依据《中华人民共和国政府信息公开条例》(以下简称《政府信息公开条例》)第五十条规定，编制本报告。"
           "本报告所列数据统计期限为{period}。\n一、总体情况\n"
           "（一）组织领导情况。大兴区卫生健康委员会设立政务公开工作领导小组。\n")


def test_period_in_chinese_numerals():
    assert find_period("本报告所列数据统计期限为二〇二四年一月一日至二〇二四年十一月三十日。") == \
        (date(2024, 1, 1), date(2024, 11, 30))
    assert find_period("报告中所列数据的统计期限自二〇二四年一月一日起至十二月三十一日止。") == \
        (date(2024, 1, 1), date(2024, 12, 31))
    assert find_period("统计期限为二○二四年一月一日至二○二四年十二月三十一日。") == \
        (date(2024, 1, 1), date(2024, 12, 31))


def test_the_period_printed_first_wins_over_a_later_range_in_digits():
    text = ("统计期限为二〇二四年一月一日至二〇二四年十二月三十一日。"
            "2024年5月15日至2024年8月31日，我委开展了卫生健康领域信息公开专项检查。")
    assert find_period(text) == (date(2024, 1, 1), date(2024, 12, 31))


def _period_findings(period: str) -> list[str]:
    r = parse_bytes(OPENING.format(period=period).encode("utf-8"), path="report.txt")
    return [f.message for f in check_report(r) if f.rule == "period"]


def test_a_wrong_period_in_words_is_flagged_like_one_in_digits():
    (cn,) = _period_findings("二〇二四年一月一日至二〇二四年十一月三十日")
    (digits,) = _period_findings("2024年1月1日至2024年11月30日")
    assert cn == digits and "2024年11月30日" in cn
    assert _period_findings("二〇二四年一月一日至二〇二四年十二月三十一日") == []
