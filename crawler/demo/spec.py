"""ReportSpec: the content of a report to render (tests and the demo portal print reports from it).

A spec holds the narrative and the numbers; ``crawler/demo/render.py`` prints it as HTML (Word-paste
style), DOCX, PDF or DOC, with the words of a Layout (crawler/demo/layout.py: the official formats as data).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class ReportSpec:
    agency: str
    year: int
    title: str | None = None  # None: no title line (seed 000)
    published: str | None = None  # YYYY-MM-DD, printed in the signature and page metadata
    template: str = "2021"
    preamble: list[str] = field(default_factory=list)  # paragraphs before section 一
    sections: dict[str, list[str]] = field(default_factory=dict)  # key -> paragraphs (no heading)
    table2: dict[str, Any] = field(default_factory=dict)  # as in the expected files
    table3: dict[str, list] = field(default_factory=dict)
    table4: dict[str, dict] = field(default_factory=dict)
    signature: list[str] = field(default_factory=list)  # closing lines (agency, date)
    demo: bool = False  # True: mark as 示例数据 (the demo portal's variants)
