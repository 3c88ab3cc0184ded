"""The official table layouts as test data (tests/fixtures/layouts/), independent of the parser's vocabulary.

- ``layout(template)``: the 2021 or 2019 format, typed by hand from the format documents as real reports
  copy them; ``variants()``: label variants seen in the seeds and the research.
- ``mismatches(vocabulary)``: every place where the vocabulary disagrees with the official layouts (a
  wrong label in vocabulary/template.py is one of them).
- ``printed(template, choice)`` / ``for_spec(spec)``: the layout (crawler/demo/layout.py) the tests hand
  the renderer (crawler/demo/render.py takes it as an argument), built from the fixtures, so that what
  the rendered corpus and the property tests print was not taken from the code under test.  A
  ``choice`` swaps in printed variants.
"""
from __future__ import annotations

import json
from dataclasses import replace
from functools import lru_cache
from pathlib import Path

from crawler.demo.layout import Layout

LAYOUTS = Path(__file__).resolve().parent / "fixtures" / "layouts"
NUMERALS = ("一", "二", "三", "四", "五", "六")
RESULTS = "results"


@lru_cache(maxsize=None)
def layout(template: str) -> dict:
    return json.loads((LAYOUTS / f"format_{template}.json").read_text(encoding="utf-8"))


@lru_cache(maxsize=None)
def variants() -> dict:
    return json.loads((LAYOUTS / "variants.json").read_text(encoding="utf-8"))


def fixture_hash() -> str:
    """What a rendering printed from the fixtures depends on (part of the render cache key)."""
    import hashlib

    h = hashlib.sha256()
    for p in sorted(LAYOUTS.glob("*.json")):
        h.update(p.read_bytes())
    return h.hexdigest()[:16]


# -- the vocabulary against the official layouts ---------------------------------------------------

def mismatches(V) -> list[str]:
    """Where the vocabulary module ``V`` (vocabulary.template) disagrees with the official layouts."""
    out: list[str] = []

    def same(what: str, ours, official) -> None:
        if ours != official:
            out.append(f"{what}: vocabulary {ours!r}, official {official!r}")

    from vocabulary.keys import SCALAR, TABLE2_LAYOUT, TABLE3_COLUMNS, TABLE3_ROWS, TABLE4_COLUMNS, TABLE4_GROUPS

    for template in ("2021", "2019"):
        lay = layout(template)
        same(f"{template} section keys", list(V.SECTION_HEADINGS), [k for k, _ in lay["sections"]])
        for key, heading in lay["sections"]:
            same(f"{template} section {key}", V.SECTION_HEADINGS.get(key), heading)
        t2 = lay["table2"]
        same(f"{template} table2 content header", V.TABLE2_CONTENT_HEADER, t2["content_header"])
        vocab_blocks = [b for b in V.TABLE2_BLOCK_LAYOUT if any(r in TABLE2_LAYOUT[template] for r in b.rows)]
        same(f"{template} table2 block headers", [b.label for b in vocab_blocks], [b["header"] for b in t2["blocks"]])
        official_rows = {}
        for block in t2["blocks"]:
            cols = [c for c, _ in block["columns"]]
            for row, label in block["rows"]:
                official_rows[row] = cols
                same(f"{template} table2.{row} label", V.row_label("table2", row, template), label)
            for col, label in block["columns"]:
                if col == SCALAR:  # one value per row: 本年处理决定数量, or the fee amount's header
                    if label not in (V.TABLE2_COLUMNS[SCALAR][0], *V.TABLE2_COLUMNS[SCALAR][1]):
                        out.append(f"{template} table2 {block['header']} header {label!r} not in the vocabulary")
                else:
                    same(f"{template} table2 column {col}", V.column_label("table2", col), label)
        same(f"{template} table2 rows and columns",
             {r: list(c) if c else [SCALAR] for r, c in TABLE2_LAYOUT[template].items()}, official_rows)
        t3 = lay["table3"]
        same(f"{template} table3 note", V.TABLE3_BALANCE_NOTE, t3["note"])
        same(f"{template} table3 header groups", V.TABLE3_HEADER_GROUPS, (t3["applicants"], t3["organisations"]))
        same(f"{template} table3 columns", list(TABLE3_COLUMNS), [c for c, _ in t3["columns"]])
        for col, label in t3["columns"]:
            same(f"{template} table3 column {col}", V.column_label("table3", col), label)
        same(f"{template} table3 rows", list(TABLE3_ROWS[template]), [r for r, _, _ in t3["rows"]])
        results_label = next(g for _, _, g in t3["rows"] if g)
        same(f"{template} table3 result group", V.TABLE3_GROUPS.get(RESULTS), results_label)
        for row, label, group in t3["rows"]:
            lab = V.TABLE3_ROW_LABELS.get(row)
            same(f"{template} table3.{row} label", lab and lab.label, label)
            vocab_group = lab and lab.group and V.TABLE3_GROUPS.get(lab.group)
            same(f"{template} table3.{row} group", vocab_group or None, group)
        t4 = lay["table4"]
        same(f"{template} table4 headers", tuple(V.TABLE4_HEADERS),
             (t4["review"], t4["litigation"], t4["direct"], t4["after_review"]))
        same(f"{template} table4 groups", list(TABLE4_GROUPS), [g for g, _ in t4["groups"]])
        same(f"{template} table4 columns", list(TABLE4_COLUMNS), [c for c, _ in t4["columns"]])
        for col, label in t4["columns"]:
            same(f"{template} table4 column {col}", V.column_label("table4", col), label)
    return out


# -- the layout the test renderer prints from -------------------------------------------------

def printed(template: str = "2021", choice: dict | None = None) -> Layout:
    """The official layout of ``template`` (from tests/fixtures/layouts), as crawler/demo/render.py
    takes it, with ``choice``'s printed variants swapped in.

    ``choice`` maps what to print differently to the variant printed: ("section", key), ("table3_row", key),
    ("table3_group", official group label), ("table3_note",), ("table3_applicants",), ("value_fees",).
    """
    template = template if template in ("2021", "2019") else "2021"
    lay = Layout.from_dict(layout(template), template)
    choice = choice or {}
    if not choice:
        return lay
    unknown = [k for k in choice if k[0] not in ("section", "table3_row", "table3_group", "table3_note",
                                                  "table3_applicants", "value_fees")]
    assert not unknown, f"unknown variant kinds {unknown}"
    sections = tuple((k, choice.get(("section", k), h)) for k, h in lay.sections)
    blocks = tuple(
        replace(b, columns=tuple((c, choice.get(("value_fees",), label))
                                 if c == "value" and b.rows[0][0] == "fees_wan_yuan" else (c, label)
                                 for c, label in b.columns))
        for b in lay.table2_blocks)
    results = lay.results_group
    rows = tuple(replace(r, label=choice.get(("table3_row", r.key), r.label),
                         group=r.group if r.group in (None, results) else choice.get(("table3_group", r.group),
                                                                                     r.group))
                 for r in lay.table3_rows)
    return replace(lay, sections=sections, table2_blocks=blocks, table3_rows=rows,
                   table3_note=choice.get(("table3_note",), lay.table3_note),
                   table3_applicants=choice.get(("table3_applicants",), lay.table3_applicants))


def for_spec(spec, choice: dict | None = None) -> Layout:
    """The official layout a spec's report prints (its own format's)."""
    return printed(spec.template, choice)


def variant_choices() -> list[tuple[tuple, str]]:
    """Every printed variant of the fixtures as (what, label) pairs for printed(template, choice=...)."""
    v = variants()
    out: list[tuple[tuple, str]] = []
    for key, labels in v["sections"].items():
        out += [(("section", key), lab) for lab, _ in labels]
    out += [(("value_fees",), lab) for lab, _ in v["table2_columns"]["value_fees"]]
    out += [(("table3_note",), lab) for lab, _ in v["table3_note"]]
    out += [(("table3_applicants",), lab) for lab, _ in v["table3_applicants"]]
    for key, labels in v["table3_rows"].items():
        out += [(("table3_row", key), lab) for lab, _ in labels]
    for key, labels in v["table3_groups"].items():
        out += [(("table3_group", key), lab) for lab, _ in labels]
    return out
