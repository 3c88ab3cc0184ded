"""Metadata: title, agency, year, published date and period from the text, page metadata and hints."""
from __future__ import annotations

from datetime import date

import pytest

from crawler.parsing.extract.base import Extracted, Paragraph
from crawler.parsing.mapping import map_report
from crawler.parsing.metadata import find_period, find_title, parse_date, parse_title, year_from_url
from map_helpers import build, sample_values
from storage.models import Source


@pytest.mark.parametrize("title,agency,year", [
    ("杭州市余杭区卫生健康局2024年政府信息公开工作年度报告", "杭州市余杭区卫生健康局", 2024),
    ("长春市卫生健康委员会2024年度政府信息公开工作年度报告", "长春市卫生健康委员会", 2024),
    ("2024年白渡镇政府信息公开工作年度报告", "白渡镇", 2024),
    ("2024 年度互助县卫生健康局 政府信息公开工作报告", "互助县卫生健康局", 2024),
    ("城厢区人民政府2024年度政府信息公开工作报告", "城厢区人民政府", 2024),
    ("武进区教育局２０２３年政府信息公开年度报告", "武进区教育局", 2023),
    ("2024年政府信息公开工作年度报告", None, 2024),
    ("甘谷县人民政府办公室关于2024年政府信息公开工作年度报告", "甘谷县人民政府办公室", 2024),
])
def test_title_patterns(title, agency, year):
    assert parse_title(title) == (agency, year)


def test_title_joins_the_agency_line_above_it():
    assert find_title(["北京市大兴区卫生健康委员会", "", "2024年政府信息公开工作年度报告", "依据《条例》编制本报告。"]) \
        == "北京市大兴区卫生健康委员会2024年政府信息公开工作年度报告"
    # a sentence that mentions the report is not its title
    assert find_title(["根据规定，特向社会公开2024年度某局政府信息公开工作年度报告。"]) is None


@pytest.mark.parametrize("text,expected", [
    ("2025年1月16日", date(2025, 1, 16)), ("2025 年 1 月 6 日", date(2025, 1, 6)),
    ("二〇二五年一月十六日", date(2025, 1, 16)), ("二〇二五年十二月三十一日", date(2025, 12, 31)),
    ("2025-01-20", date(2025, 1, 20)), ("2025/1/2", date(2025, 1, 2)), ("２０２５年１月５日", date(2025, 1, 5)),
    ("2025年2月30日", None), ("无日期", None),
])
def test_parse_date(text, expected):
    assert parse_date(text) == expected


def test_period_sentences():
    assert find_period("报告中所列数据的统计期限为 2024 年 1 月 1 日至 2024 年 12 月 31 日。") == \
        (date(2024, 1, 1), date(2024, 12, 31))
    assert find_period("本报告所列数据的统计时限自2024年1月1日起至2024年12月31日止。") == \
        (date(2024, 1, 1), date(2024, 12, 31))
    assert find_period("截至2024年12月31日，我局收到申请1件。") is None


@pytest.mark.parametrize("url,year", [
    ("http://www.example.gov.cn/zfxxgk/zfxxgknb/2024n/qzf/t20250110_1.html", 2024),
    ("http://www.example.gov.cn/jkhq/nb2024bm/index.html", 2024),
    ("http://www.example.gov.cn/zfxxgkzl/gknb/2023nb/zxjd2023/", 2023),
    ("http://www.example.gov.cn/xxgk/202501/t20250110_1969043.htm", None),
    (None, None),
])
def test_year_from_url(url, year):
    assert year_from_url(url) == year


def _report(blocks, metadata=None, hints=None, url=None):
    ex = Extracted(format="html", blocks=blocks, metadata=metadata or {})
    return map_report(ex, source=Source(url=url, format="html"), hints=hints)


def test_signature_date_wins_over_page_metadata():
    ex = build(sample_values(1), signature="二〇二五年一月十八日")
    ex.metadata = {"PubDate": "2025-01-25 10:00"}
    r = map_report(ex, source=Source(format="html"))
    assert r.published == date(2025, 1, 18)
    assert r.sections["other"] == "本年度未收取信息处理费。"  # the signature is not section text


def test_page_metadata_then_hints_for_published_and_title():
    ex = build(sample_values(1), signature=None, title=False)
    ex.metadata = {"发布日期": "2025年01月22日"}
    r = map_report(ex, source=Source(format="html"),
                   hints={"link_title": "测试区卫生健康局2024年政府信息公开工作年度报告"})
    assert r.published == date(2025, 1, 22)
    assert r.title == "测试区卫生健康局2024年政府信息公开工作年度报告"
    assert r.agency == "测试区卫生健康局"
    ex.metadata = {}
    r = map_report(ex, source=Source(format="html"), hints={"page_date": "2025-01-30", "listing_date": "2025-01-31"})
    assert r.published == date(2025, 1, 30)
    assert r.title is None
    r = map_report(ex, source=Source(format="html"), hints={"listing_date": "2025-01-31"})
    assert r.published == date(2025, 1, 31)


def test_year_falls_back_to_text_then_url():
    blocks = [Paragraph("一、总体情况"), Paragraph("2023年，某局做好政府信息公开工作。"),
              Paragraph("二、主动公开政府信息情况"), Paragraph("三、收到和处理政府信息公开申请情况")]
    assert _report(blocks).year == 2023
    blocks = [Paragraph("一、总体情况"), Paragraph("本局做好政府信息公开工作。"),
              Paragraph("二、主动公开政府信息情况"), Paragraph("三、收到和处理政府信息公开申请情况")]
    assert _report(blocks, hints={"url": "http://x.gov.cn/zfxxgknb/2022n/a.html"}).year == 2022
    assert _report(blocks).year is None


def test_period_with_the_second_year_omitted():
    assert find_period("统计期限为2024年1月1日至12月31日。") == (date(2024, 1, 1), date(2024, 12, 31))


def test_signature_on_one_line_and_publication_line_in_the_page():
    ex = build(sample_values(1), signature=None)
    ex.blocks.append(Paragraph("测试区卫生健康局　2025年1月21日"))
    r = map_report(ex, source=Source(format="html"))
    assert r.published == date(2025, 1, 21)
    ex = build(sample_values(1), signature=None, title=False)
    ex.blocks.insert(0, Paragraph("发布时间：2025-01-23 09:30  来源：测试区卫生健康局"))
    r = map_report(ex, source=Source(format="html"))
    assert r.published == date(2025, 1, 23)


def test_title_broken_over_two_lines():
    assert find_title(["市中区卫生健康局2024年", "政府信息公开工作年度报告"]) == "市中区卫生健康局2024年政府信息公开工作年度报告"
    assert find_title(["测试县人民政府办公室", "2024年度政府信息公开", "工作年度报告"]) == \
        "测试县人民政府办公室2024年度政府信息公开工作年度报告"


def test_page_title_with_the_site_name_after_a_separator():
    ex = build(sample_values(1), title=False)
    for page_title in ("测试区卫生健康局2024年政府信息公开工作年度报告_测试区人民政府",
                       "测试区人民政府 - 测试区卫生健康局2024年政府信息公开工作年度报告",
                       "测试区卫生健康局2024年政府信息公开工作年度报告|政务公开"):
        ex.metadata = {"title": page_title}
        r = map_report(ex, source=Source(format="html"))
        assert r.title == "测试区卫生健康局2024年政府信息公开工作年度报告"
        assert r.agency == "测试区卫生健康局"
