"""The vocabulary against the official table layouts typed from the format documents (issue #10 item 7).

tests/fixtures/layouts/format_2021.json and format_2019.json hold the national formats' sections, Table 二
blocks, Table 三's rows, groups and columns and Table 四's headers, typed by hand; a label the vocabulary
gets wrong, a row it puts out of order or a block it lacks fails here, and the rendered corpus and the
property tests print from the same fixtures (see tests/layouts.py), not from the vocabulary.
"""
from __future__ import annotations

import copy
import types

import layouts
from vocabulary import template as V


def test_vocabulary_matches_the_official_layouts():
    assert layouts.mismatches(V) == []


def _mutated(**changes):
    m = types.ModuleType("wrong_vocabulary")
    m.__dict__.update({k: copy.deepcopy(v) if isinstance(v, (dict, list)) else v for k, v in vars(V).items()})
    m.__dict__.update(changes)
    return m


def test_a_wrong_label_in_the_vocabulary_is_caught():
    rows = dict(V.TABLE3_ROW_LABELS)
    rows["withheld_three_safety"] = V.RowLabel("withheld_three_safety", "3.危及三安全", "withheld")
    found = layouts.mismatches(_mutated(TABLE3_ROW_LABELS=rows))
    assert any("withheld_three_safety" in m for m in found), found
    wrong_note = layouts.mismatches(_mutated(TABLE3_BALANCE_NOTE="（本列数据的勾稽关系为：第一项等于第三项）"))
    assert any("note" in m for m in wrong_note)
    headings = dict(V.SECTION_HEADINGS, problems="五、存在的问题")
    assert any("problems" in m for m in layouts.mismatches(_mutated(SECTION_HEADINGS=headings)))


def test_the_layouts_are_the_formats_shape():
    """The fixtures themselves: 25 x 7 / 23 x 7 Table 三, 15-cell Table 四, six sections (report-model.md)."""
    l21, l19 = layouts.layout("2021"), layouts.layout("2019")
    assert len(l21["table3"]["rows"]) == 25 and len(l19["table3"]["rows"]) == 23
    assert len(l21["table3"]["columns"]) == len(l19["table3"]["columns"]) == 7
    for lay in (l21, l19):
        assert len(lay["table4"]["groups"]) * len(lay["table4"]["columns"]) == 15
        assert [h.split("、")[0] for _, h in lay["sections"]] == list(layouts.NUMERALS)
    assert len(l21["table2"]["blocks"]) == 4 and len(l19["table2"]["blocks"]) == 5
