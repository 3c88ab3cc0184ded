"""The table's own arithmetic as the proof-reader of OCR readings.

A report read by OCR whose Table 三 or 四 breaks a relation (row_total, results_total, balance,
appeal_total of the spec) may say so because the agency erred, or because Tesseract misread one
character.  A cell is corrected only when all of these hold:

* its reading is low-confidence (``Cell.low_confidence``) and it takes part in a broken relation;
* one alternative reading of it: the other reading OCR found, or one character swapped for a
  glyph it is often mistaken for (1/7, 1/4, 0/8, 3/8, 5/6, 6/8, 9/8), or one digit lost or added,
  makes every relation it takes part in hold, and breaks none that held;
* no other low-confidence cell has such a reading (two ways to fix it: which is the misread?).

The correction is recorded as a warning (``ocr_corrected``) naming both readings and the confidence;
the cell keeps its confidence, so it stays marked as uncertain.  A relation the agency broke is
never "fixed": a cell read with confidence is never changed, and an arithmetic error no single
low-confidence character explains is left for the checks, which say the finding rests on OCR.
"""
from __future__ import annotations

from dataclasses import dataclass

from storage.models import (TABLE3_APPLICANT_COLUMNS, TABLE3_COLUMNS, TABLE3_RESULT_ROWS, TABLE4_COLUMNS,
                            TABLE4_GROUPS, Cell, CellKind, ParseWarning, Report)

#: Glyphs Tesseract mistakes for each other in value cells of scanned reports.
CONFUSIONS = {"0": "86", "1": "74", "2": "7", "3": "85", "4": "1", "5": "63", "6": "580", "7": "12",
              "8": "0369", "9": "8"}
MAX_ROUNDS = 8


@dataclass
class _Relation:
    name: str
    parts: tuple[str, ...]  # refs summed
    total: tuple[str, ...]  # refs summed on the other side

    def holds(self, vals: dict[str, int | float | None]) -> bool | None:
        """True/False, or None when a cell is not assessable."""
        a = [vals.get(r) for r in self.parts]
        b = [vals.get(r) for r in self.total]
        if any(v is None for v in a + b):
            return None
        return sum(a) == sum(b)


def relations(report: Report) -> list[_Relation]:
    rows = {c.row for c in report.cells if c.table == "table3"}
    present = rows
    leaves = TABLE3_RESULT_ROWS["2019"] if ("other_handling" in present and not present & {
        "other_no_correction", "other_no_fee", "other_other"}) else TABLE3_RESULT_ROWS.get(
        report.template, TABLE3_RESULT_ROWS["2021"])
    out = []
    for row in sorted(rows):
        out.append(_Relation("row_total", tuple(f"table3.{row}.{c}" for c in TABLE3_APPLICANT_COLUMNS),
                             (f"table3.{row}.total",)))
    for col in TABLE3_COLUMNS:
        out.append(_Relation("results_total", tuple(f"table3.{r}.{col}" for r in leaves),
                             (f"table3.total_processed.{col}",)))
        out.append(_Relation("balance", (f"table3.new.{col}", f"table3.carried_over.{col}"),
                             (f"table3.total_processed.{col}", f"table3.carried_forward.{col}")))
    for g in TABLE4_GROUPS:
        out.append(_Relation("appeal_total", tuple(f"table4.{g}.{c}" for c in TABLE4_COLUMNS[:-1]),
                             (f"table4.{g}.total",)))
    return out


def readings(cell: Cell, *, lost_digits: bool = True) -> list[str]:
    """Alternative readings of a value cell, most plausible first, the reading itself excluded.
    ``lost_digits``: also a digit lost or added (many candidates: only where two relations check)."""
    raw = "".join(cell.raw.split())
    out: list[str] = [a for a in cell.alternatives]
    if raw.isdigit():
        for i, ch in enumerate(raw):
            for alt in CONFUSIONS.get(ch, ""):
                out.append(raw[:i] + alt + raw[i + 1:])
        for i in range(len(raw) + 1 if lost_digits else 0):  # a digit lost
            for d in "0123456789":
                out.append(raw[:i] + d + raw[i:])
        if len(raw) > 1 and lost_digits:  # a speck read as a digit
            for i in range(len(raw)):
                out.append(raw[:i] + raw[i + 1:])
    seen, uniq = {raw}, []
    for o in out:
        o = "".join(o.split())
        if o and o.isdigit() and (len(o) == 1 or not o.startswith("0")) and o not in seen:
            seen.add(o)
            uniq.append(o)
    return uniq


def proofread(report: Report) -> list[ParseWarning]:
    """Correct what the arithmetic proves misread (see the module docstring); returns the warnings added."""
    added: list[ParseWarning] = []
    rels = relations(report)
    cells = {c.ref: c for c in report.cells}
    involved: dict[str, list[_Relation]] = {}
    for rel in rels:
        for ref in rel.parts + rel.total:
            involved.setdefault(ref, []).append(rel)
    done: set[str] = set()
    for _ in range(MAX_ROUNDS):
        vals = {ref: (c.value if c.kind.assessable else None) for ref, c in cells.items()}
        broken = [r for r in rels if r.holds(vals) is False]
        if not broken:
            break
        broken_refs = {ref for r in broken for ref in r.parts + r.total}
        fixes: list[tuple[Cell, str]] = []
        for ref in sorted(broken_refs):
            c = cells.get(ref)
            if c is None or ref in done or not c.low_confidence or c.kind is not CellKind.NUMERIC and \
                    c.kind is not CellKind.ZERO:
                continue
            mine = involved.get(ref, [])
            checked = sum(1 for r in mine if r.holds(vals) is not None)
            for alt in readings(c, lost_digits=checked >= 2):
                trial = dict(vals)
                trial[ref] = int(alt)
                if all(r.holds(trial) is not False for r in mine) and any(r.holds(trial) for r in mine):
                    fixes.append((c, alt))
                    break  # the most plausible reading of this cell that works
        if len(fixes) != 1:
            break  # nothing to fix, or two cells could each be the misread one: leave it to the checks
        c, alt = fixes[0]
        before = c.raw
        c.value = int(alt)
        c.kind = CellKind.ZERO if c.value == 0 else CellKind.NUMERIC
        c.raw = alt
        done.add(c.ref)
        names = sorted({r.name for r in involved.get(c.ref, [])})
        w = ParseWarning("ocr_corrected",
                         f"{c.ref}: OCR read {before!r} (confidence {c.confidence:.2f}); corrected to {alt!r}, "
                         f"the only reading of one character that makes {', '.join(names)} hold "
                         f"(OCR 读为“{before}”，按勾稽关系更正为“{alt}”)", c.ref)
        report.warnings.append(w)
        added.append(w)
    return added


def settle(report: Report, ocr: str) -> None:
    """After mapping a document read by OCR: values that did not come from a table cell read by OCR
    (numbers the text-stream fallback found in OCR'd running text) are dropped when every page was
    read by OCR: without a ruled grid their places in the table are guesses on a guessed text, and a
    finding resting on them would blame the agency for our misreading.  Then the proof-reader."""
    from storage.models import ParseStatus

    if ocr == "all":
        dropped = [c for c in report.cells if c.confidence is None]
        if dropped:
            report.cells = [c for c in report.cells if c.confidence is not None]
            tables = sorted({c.table for c in dropped})
            report.warnings.append(ParseWarning(
                "ocr_text_values_dropped",
                f"{len(dropped)} values of {', '.join(tables)} were found only in OCR'd running text (no ruled "
                "table read): not kept (OCR 未识别到表格线，正文中的数字不作为表格数据)"))
            if report.status is ParseStatus.PARSED:
                report.status = ParseStatus.PARTIAL
    proofread(report)
