"""Plain-text extraction: the three layouts of the seeds and the encodings text files come in."""
from __future__ import annotations

import codecs
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crawler.parsing.extract.base import Paragraph, Table
from crawler.parsing.extract.text import decode, extract
from crawler.parsing.mapping import map_report
from map_helpers import build, expected_json, sample_values, to_text
from storage.models import TABLE3_COLUMNS, Source

SEEDS = sorted((Path(__file__).resolve().parents[1] / "fixtures" / "seeds").glob("*.txt"))


def shape(ex):
    return [("T", [[c.text for c in r] for r in b.rows]) if isinstance(b, Table) else ("P", b.text, b.heading)
            for b in ex.blocks]


def test_cell_per_line_layout_with_wrapped_cells():
    text = ("二、主动公开政府信息情况\n\t第二十条第（一）项\n\n\t信息内容\n\t本年制发件数\n\n\t规章\n\t3\n\n"
            "\t商业\n企业\n\t科研\n机构\n\n三、收到和处理政府信息公开申请情况\n")
    ex = extract(text.encode("utf-8"))
    assert ex.text_layout and ex.format == "text"
    kinds = [type(b).__name__ for b in ex.blocks]
    assert kinds == ["Paragraph", "Table", "Paragraph"]
    rows = [[c.text for c in r] for r in ex.blocks[1].rows]
    assert rows == [["第二十条第（一）项", ""], ["信息内容", "本年制发件数"], ["规章", "3"], ["商业企业", "科研机构"]]
    # a section heading right after a cell is not glued to it
    ex = extract("\t规章\n\t0\n四、政府信息公开行政复议、行政诉讼情况\n".encode())
    assert [type(b).__name__ for b in ex.blocks] == ["Table", "Paragraph"]


def test_tab_separated_rows_keep_empty_and_shifted_cells():
    text = ("三、收到和处理政府信息公开申请情况\n\n一、本年新收政府信息公开申请数量\t\t1\t0\t0\t0\t0\t0\t1\t\n"
            "4. 保护第三方合法权益\t\t0\t0\t0\t0\t0\t0\t0\t\n\n\t\t5.属于三类内部事务信息\t0\t0\t0\t0\t0\t0\t0\n"
            "\n四、政府信息公开行政复议、行政诉讼情况\n")
    ex = extract(text.encode())
    assert [type(b).__name__ for b in ex.blocks] == ["Paragraph", "Table", "Paragraph"]
    rows = ex.blocks[1].texts()
    assert len(rows) == 3  # the blank line inside the table does not split it
    assert rows[0][:3] == ["一、本年新收政府信息公开申请数量", "", "1"]
    assert rows[1][0] == "4. 保护第三方合法权益"
    assert rows[2][:3] == ["", "", "5.属于三类内部事务信息"]
    assert len({len(r) for r in rows}) == 1  # rectangular


def test_markdown_headings_bold_and_bookmarks():
    text = "# 2024 年度某局 政府信息公开工作报告\n\n## **（二）本年度情况**\n\n**3. 监督保障。**正文[bookmark: _Hlk1]内容\n"
    ex = extract(text.encode())
    assert shape(ex) == [("P", "2024 年度某局 政府信息公开工作报告", 1), ("P", "（二）本年度情况", 2),
                         ("P", "3. 监督保障。正文内容", None)]


@pytest.mark.parametrize("encoding", ["utf-8-sig", "utf-16", "gb18030", "gbk"])
def test_encodings_give_the_same_blocks(encoding):
    seed = SEEDS[2]
    text = seed.read_text(encoding="utf-8")
    assert shape(extract(text.encode(encoding))) == shape(extract(seed.read_bytes()))


def test_decode_boms_and_fallback():
    assert decode(codecs.BOM_UTF8 + "年报".encode()) == "年报"
    assert decode(codecs.BOM_UTF16_BE + "年报".encode("utf-16-be")) == "年报"
    assert decode("政府信息公开".encode("gb18030")) == "政府信息公开"
    assert isinstance(decode(bytes(range(256))), str)  # never raises


@pytest.mark.parametrize("seed", SEEDS, ids=lambda p: p.stem[:3])
def test_seeds_give_three_tables_and_the_section_headings(seed):
    ex = extract(seed.read_bytes())
    tables = [b for b in ex.blocks if isinstance(b, Table)]
    assert len(tables) == 3
    heads = [b.text.strip() for b in ex.blocks if isinstance(b, Paragraph)]
    assert any(h.endswith("主动公开政府信息情况") for h in heads)
    assert any(h.endswith("其他需要报告的事项") for h in heads)
    assert "[bookmark" not in ex.text


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 10_000), layout=st.sampled_from(["cells", "tabs", "markdown"]),
       na=st.lists(st.tuples(st.integers(0, 24), st.integers(0, 6), st.sampled_from(["/", "—", "无"])),
                   max_size=4),
       encoding=st.sampled_from(["utf-8", "gb18030", "utf-16"]), lost=st.booleans())
def test_random_tables_printed_as_text_read_back_exactly(seed, layout, na, encoding, lost):
    v = sample_values(seed)
    rows = list(v["table3"])
    cells = {(rows[r], c): mark for r, c, mark in na}
    text = to_text(build(v, t3_cells=cells), layout)
    if lost:  # the table structure lost (pdftotext, a copy from a browser): read from the text stream
        text = "\n".join(line.lstrip("\t").replace("\t", "    ") for line in text.split("\n"))
    r = map_report(extract(text.encode(encoding)), source=Source(format="text"))
    want = expected_json(v)
    for (row, c) in cells:
        want["table3"][row][c] = None  # NA marks are read as not assessable, never 0
    assert {"table2": r.table2, "table3": r.table3, "table4": r.table4} == want
    assert {w.cell for w in r.warnings} == {f"table3.{row}.{TABLE3_COLUMNS[c]}" for row, c in cells}
    assert r.year == 2024 and r.agency == "测试区卫生健康局"


@settings(max_examples=100, deadline=None)
@given(data=st.one_of(st.binary(max_size=2000),
                      st.text(alphabet="\t\n\r 一二三、（）规章行政许可0123456789#*[]bookmark:", max_size=500).map(
                          lambda t: t.encode("utf-8"))))
def test_any_bytes_extract_without_raising(data):
    ex = extract(data)
    assert ex.format == "text"
    for b in ex.blocks:
        if isinstance(b, Table):
            assert len({len(r) for r in b.rows}) == 1  # rectangular
