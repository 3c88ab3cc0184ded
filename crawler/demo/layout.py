"""What a report's tables and headings say, as data: the layout the renderer prints from.

The renderer (crawler/demo/render.py) knows how a report is drawn (merged cells, spans, Word-paste
markup); a ``Layout`` says what it prints: the section headings, Table 二's blocks, Table 三's rows
and groups, Table 四's headers.  It is read from JSON typed by hand from the official format
documents (国办公开办函〔2021〕30号 and 〔2019〕60号), never from the parser's vocabulary, so that a
rendering is evidence about the parser rather than a copy of it.  The demo ships its own copy of the
two formats (crawler/demo/data/layouts/); whoever renders can hand in another Layout (a printed
variant: "1、 总体情况", half-width brackets) built with ``dataclasses.replace``.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

#: (key, printed label) pairs, in printed order.
Labelled = tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Table2Block:
    """A block of Table 二: its header (第二十条第（一）项), its columns and its rows."""
    header: str
    columns: Labelled  # ("value", header) for a block of single values
    rows: Labelled


@dataclass(frozen=True)
class Table3Row:
    key: str
    label: str
    group: str | None  # the printed group heading it sits under (三、本年度办理结果, （三）不予公开), or None


@dataclass(frozen=True)
class Layout:
    """The printed words of one format (2021 or 2019)."""
    template: str
    sections: Labelled  # (section key, numbered heading as printed)
    table2_content_header: str
    table2_blocks: tuple[Table2Block, ...]
    table3_note: str  # the balance note in the top-left header cell
    table3_applicants: str  # 申请人情况, over the applicant columns
    table3_organisations: str  # 法人或其他组织, over the five organisation columns
    table3_columns: Labelled
    table3_rows: tuple[Table3Row, ...]
    table4_review: str
    table4_litigation: str
    table4_direct: str
    table4_after_review: str
    table4_groups: Labelled  # printed left to right
    table4_columns: Labelled

    @classmethod
    def from_dict(cls, data: dict[str, Any], template: str) -> "Layout":
        """A Layout from the JSON form (format_<template>.json); a missing key names itself."""
        try:
            t2, t3, t4 = data["table2"], data["table3"], data["table4"]
            return cls(
                template=template,
                sections=_pairs(data["sections"]),
                table2_content_header=t2["content_header"],
                table2_blocks=tuple(Table2Block(b["header"], _pairs(b["columns"]), _pairs(b["rows"]))
                                    for b in t2["blocks"]),
                table3_note=t3["note"], table3_applicants=t3["applicants"],
                table3_organisations=t3["organisations"], table3_columns=_pairs(t3["columns"]),
                table3_rows=tuple(Table3Row(k, label, group) for k, label, group in t3["rows"]),
                table4_review=t4["review"], table4_litigation=t4["litigation"], table4_direct=t4["direct"],
                table4_after_review=t4["after_review"], table4_groups=_pairs(t4["groups"]),
                table4_columns=_pairs(t4["columns"]),
            )
        except KeyError as exc:
            raise ValueError(f"layout {template}: missing key {exc.args[0]!r}") from None

    @classmethod
    def load(cls, path: str | Path, template: str) -> "Layout":
        path = Path(path)
        try:
            return cls.from_dict(json.loads(path.read_text("utf-8")), template)
        except ValueError as exc:
            raise ValueError(f"{path}: {exc}") from None

    def heading(self, key: str) -> str:
        return dict(self.sections)[key]

    @property
    def numerals(self) -> tuple[str, ...]:
        """The numbering of the headings as printed: 一, 二, … (or 1, 2, … for a variant)."""
        return tuple(h.split("、", 1)[0].strip() for _, h in self.sections)

    @property
    def results_group(self) -> str:
        """Table 三's outer result group (三、本年度办理结果): the group of the first grouped row."""
        return next(r.group for r in self.table3_rows if r.group)


def _pairs(items) -> Labelled:
    return tuple((str(k), str(v)) for k, v in items)


@lru_cache(maxsize=None)
def demo_layout(template: str) -> Layout:
    """The demo's own copy of an official layout; a report of unknown format prints the 2021 one."""
    template = template if template in ("2021", "2019") else "2021"
    data = resources.files("crawler.demo").joinpath("data", "layouts", f"format_{template}.json")
    return Layout.from_dict(json.loads(data.read_text("utf-8")), template)
