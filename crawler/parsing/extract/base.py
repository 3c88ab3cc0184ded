"""The intermediate form every extractor produces: paragraphs and tables (grids, spans resolved).

Extraction (bytes -> Extracted) knows formats and nothing of the report template;
mapping (Extracted -> Report) knows the template and nothing of formats.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Union

from storage.models import ParseStatus


@dataclass
class GridCell:
    text: str  # whitespace-normalised text of the cell ("" for blank)
    spanned: bool = False  # True where this position is covered by a row/colspan of another cell
    origin: tuple[int, int] | None = None  # (row, col) of the cell that spans here, when spanned
    confidence: float | None = None  # 0..1 for OCR readings; None when read from a text layer/markup
    alternatives: tuple[str, ...] = ()  # other readings OCR found plausible (the proof-reader tries them)


@dataclass
class Table:
    rows: list[list[GridCell]]  # rectangular: every row has the same length
    page: int | None = None  # PDF page number (1-based) where it starts, if known

    @classmethod
    def from_grid(cls, grid: list[list[GridCell | None]], page: int | None = None) -> "Table":
        """A table from rows of unequal length: holes (None) and short rows filled with blank cells."""
        width = max((len(r) for r in grid), default=0)
        return cls(rows=[[c if c is not None else GridCell("") for c in r]
                         + [GridCell("") for _ in range(width - len(r))] for r in grid], page=page)

    def texts(self) -> list[list[str]]:
        """Rows as text, span copies blanked (a merged cell counts once)."""
        return [[("" if c.spanned else c.text) for c in row] for row in self.rows]


@dataclass
class Paragraph:
    text: str
    heading: int | None = None  # heading level when the format says so (docx style, <h2>, '##')


Block = Union[Paragraph, Table]


@dataclass
class Extracted:
    format: str  # html | text | docx | pdf | doc | wps
    blocks: list[Block] = field(default_factory=list)  # document order
    metadata: dict[str, str] = field(default_factory=dict)  # title, PubDate, 发布日期, author...
    status: ParseStatus | None = None  # set when extraction itself decides (needs_ocr, encrypted...)
    error: str | None = None
    text_layout: bool = False  # True when tables are line/tab reconstructions (PDF text, txt)
    ocr: str = ""  # "all": every page read by OCR (crawler/parsing/ocr); "some": the rest from text/markup

    @property
    def text(self) -> str:
        parts: list[str] = []
        for b in self.blocks:
            if isinstance(b, Paragraph):
                parts.append(b.text)
            else:
                parts.extend("\t".join(r) for r in b.texts())
        return "\n".join(parts)
