"""Checks within one report: relations 1-7 of the spec (../shared/spec/report-model.md).

Severity, decided per relation (see ../shared/research/domain.md §3 and §5):

* ``error`` for 1 row_total, 2 results_total, 3 balance, 4 appeal_total: the printed table contradicts
  itself (the 勾稽 note is printed in the template; 总计 rows and columns are sums by definition).
  Supervising offices list these as 勾稽关系错误 / 合计不等于分项之和.
* ``warning`` for 5 narrative_vs_table, 6 placeholder, 7 period: read from free text by patterns, so a
  person should look before acting (正文数据与表格不一致, 模板占位符未删除 / 内容缺失, 统计期限错误).

Cells that are not assessable (EMPTY, NA, TEXT, or missing) are skipped, never counted as 0.  Where
rules 1-3 fail together, the failing row (rule 1) and the failing column (rules 2/3) meet in one cell:
it is named as ``suspect`` on each of those findings.

Messages are in Chinese, for a 政务公开办 officer; their labels come from the vocabulary.
"""
from __future__ import annotations

import re
import unicodedata

from storage.models import (LOW_CONFIDENCE, TABLE3_APPLICANT_COLUMNS, TABLE3_COLUMNS, TABLE3_RESULT_ROWS,
                            TABLE4_COLUMNS, TABLE4_GROUPS, Cell, CellKind, Finding, Report)
from vocabulary import template as V
from vocabulary.phrases import CATEGORIES, PHRASES, REASONS, Phrase

ERROR = "error"
WARNING = "warning"
INFO = "info"

#: Rule id -> severity.
SEVERITY = {
    "row_total": ERROR,
    "results_total": ERROR,
    "balance": ERROR,
    "appeal_total": ERROR,
    "narrative_vs_table": WARNING,
    "placeholder": WARNING,
    "period": WARNING,
    "tables_missing": WARNING,
}

#: The rule ids this module checks (relations 1-7 of the spec), in the spec's order.
RULES = tuple(SEVERITY)

# -- labels used in messages: the vocabulary's ------------------------------------------------------
COLUMN_NAMES = V.TABLE3_COLUMN_LABELS
ROW_NAMES = V.TABLE3_ROW_NAMES
GROUP_NAMES = V.TABLE4_GROUP_NAMES
APPEAL_COLUMN_NAMES = V.TABLE4_COLUMN_LABELS
SECTION_TABLES = V.SECTION_TABLES
SECTION_NAMES = V.SECTION_HEADINGS

# -- narrative phrasings (rule 5): vocabulary/phrases.py ------------------------------------------
_PHRASES = tuple((p, re.compile(p.pattern)) for p in PHRASES)
_CONTEXT = {p.key: (re.compile(p.not_in_sentence), re.compile(p.unless_clause or r"(?!)"))
            for p in PHRASES if p.not_in_sentence}
#: Sentence and clause breaks in the normalised narrative (NFKC makes ；，！？： ASCII).
_SENTENCE_BREAKS = "。;!?"
_CLAUSE_BREAKS = "。;!?,:"
#: A result category's cells in the order of ``CATEGORIES`` (for 予以公开及部分公开 and 因…等原因).
_CATEGORY_NAMES = tuple(CATEGORIES)

# -- placeholders (rule 6) ----------------------------------------------------------------------------
PLACEHOLDER_PATTERNS = V.PLACEHOLDER_PATTERNS
_PLACEHOLDER = re.compile("|".join(f"(?:{p})" for p in PLACEHOLDER_PATTERNS))
_SURNAMES = (*V.COMPOUND_SURNAMES, *V.SURNAMES)


def _cjk(ch: str) -> bool:
    return 0x4E00 <= ord(ch) <= 0x9FFF or 0x3400 <= ord(ch) <= 0x4DBF  # CJK ideographs, with Extension A


def masked_name(text: str, start: int, end: int) -> bool:
    """The mask ``text[start:end]`` (×× or XX) hides a person's name, as reports anonymise applicants
    (申请人李××, 原告×××, 某××), rather than being a template blank (××县, ××局, （××）, ××年)."""
    run = text[start:end]
    if len(run) > V.MAX_MASKED_NAME or any(ch not in V.NAME_MASK_CHARS for ch in run):
        return False
    before, after = text[:start], text[end:]
    if after.startswith(V.MASK_PERSON_AFTER):
        return True
    if after.startswith(V.MASK_BLANK_AFTER):
        return False  # a place, an agency or a date follows: a blank, whatever stands before
    if before.endswith(V.MASK_ANONYMOUS_BEFORE) or before.endswith(V.PERSON_WORDS):
        return True
    surname = next((s for s in _SURNAMES if before.endswith(s)), None)
    if surname is None:
        return False
    # the surname starts a name: at the start of a clause (after punctuation, a digit, a space) or
    # right after a word for a person; '查王××' inside running words is not read as a name
    rest = before[:-len(surname)]
    return not rest or not _cjk(rest[-1]) or rest.endswith(V.PERSON_WORDS)


#: A blank 总计 in this many rows (with non-zero applicant columns) is a blank column, one finding; a
#: single blank cell stays the parser's completeness warning.
MIN_BLANK_TOTAL_ROWS = 2
#: Section 五 must say something real: more than this many characters, not just 无.
MIN_PROBLEMS_CHARS = 10


_SPACE = re.compile(r"\s+")
#: ``CellKind.assessable`` as a set, for the loops over every cell of every report
ASSESSABLE = frozenset(k for k in CellKind if k.assessable)


def _n(text: str) -> str:
    text = text or ""
    # most stored texts are already NFKC: the quick check is far cheaper than normalising again
    if not unicodedata.is_normalized("NFKC", text):
        text = unicodedata.normalize("NFKC", text)
    return _SPACE.sub("", text)


class _Checker:
    def __init__(self, report: Report):
        self.r = report
        # by Cell.ref, the last reading of a key winning; and the value a rule reads (None: not assessable)
        self.cells: dict[str, Cell] = {}
        self.values: dict[str, int | float | str | None] = {}
        for c in report.cells:
            ref = f"{c.table}.{c.row}.{c.column}"
            self.cells[ref] = c
            self.values[ref] = c.value if c.kind in ASSESSABLE else None
        self.findings: list[Finding] = []
        self._sections_text: str | None = None

    def val(self, ref: str):
        return self.values.get(ref)

    def sections_text(self) -> str:
        """The sections' text, normalised (``_n``), made once for the rules that read it."""
        if self._sections_text is None:
            self._sections_text = _n("\n".join(self.r.sections.values()))
        return self._sections_text

    def sum_mismatch(self, parts: list[str], total: str) -> tuple[list, int, int] | None:
        """(values, their sum, the total) when every cell is assessable and the sum differs, else None."""
        vals = [self.val(p) for p in parts]
        tv = self.val(total)
        if tv is None or any(v is None for v in vals):
            return None
        s = sum(vals)
        return (vals, s, tv) if s != tv else None

    def add(self, rule: str, message: str, *, cells=(), numbers=None, subject: str = "",
            severity: str | None = None) -> Finding:
        severity = severity or SEVERITY[rule]
        # No finding rests on a cell the parser is unsure of (a run of digits split, an OCR reading):
        # it becomes a warning that says which cells are uncertain.
        # (downgrade_uncertain, run last, makes it a warning that names the uncertain cells)
        numbers = dict(numbers or {})
        f = Finding(rule=rule, severity=severity, message=message, cells=list(cells),
                    numbers=numbers, agency=self.r.agency, year=self.r.year, subject=subject)
        self.findings.append(f)
        return f

    # 1 ---------------------------------------------------------------------------------------------
    def row_total(self, rows) -> dict[str, Finding]:
        failed = {}
        for row in rows:
            parts = [f"table3.{row}.{c}" for c in TABLE3_APPLICANT_COLUMNS]
            total = f"table3.{row}.total"
            mismatch = self.sum_mismatch(parts, total)
            if mismatch:
                _, s, tv = mismatch
                failed[row] = self.add(
                    "row_total",
                    f"合计不等于分项之和：表三“{ROW_NAMES.get(row, row)}”一行，各类申请人之和为{s}，"
                    f"但“{COLUMN_NAMES['total']}”为{tv}。",
                    cells=[*parts, total], numbers={"sum": s, "total": tv, "delta": tv - s}, subject=row)
        return failed

    # 2 ---------------------------------------------------------------------------------------------
    def results_total(self, leaves) -> dict[str, Finding]:
        failed = {}
        for col in TABLE3_COLUMNS:
            parts = [f"table3.{row}.{col}" for row in leaves]
            total = f"table3.total_processed.{col}"
            mismatch = self.sum_mismatch(parts, total)
            if mismatch:
                vals, s, tv = mismatch
                nonzero = "、".join(f"{ROW_NAMES.get(r, r)} {v}" for r, v in zip(leaves, vals) if v)
                failed[col] = self.add(
                    "results_total",
                    f"合计不等于分项之和：表三“{COLUMN_NAMES[col]}”一列，本年度办理结果各项之和为{s}"
                    f"{'（' + nonzero + '）' if nonzero else ''}，但“{ROW_NAMES['total_processed']}”为{tv}。",
                    cells=[*parts, total], numbers={"sum": s, "total": tv, "delta": tv - s}, subject=col)
        return failed

    # 3 ---------------------------------------------------------------------------------------------
    def balance(self) -> dict[str, Finding]:
        failed = {}
        for col in TABLE3_COLUMNS:
            refs = [f"table3.{r}.{col}" for r in ("new", "carried_over", "total_processed", "carried_forward")]
            new, cin, done, cout = (self.val(x) for x in refs)
            if None in (new, cin, done, cout):
                continue
            if new + cin != done + cout:
                failed[col] = self.add(
                    "balance",
                    f"勾稽关系错误：表三“{COLUMN_NAMES[col]}”一列，本年新收{new}加上年结转{cin}为{new + cin}，"
                    f"但办理结果总计{done}加结转下年度{cout}为{done + cout}（第一项加第二项之和应等于第三项加第四项之和）。",
                    cells=refs, numbers={"left": new + cin, "right": done + cout, "delta": new + cin - done - cout},
                    subject=col)
        return failed

    # 4 ---------------------------------------------------------------------------------------------
    def appeal_total(self) -> None:
        for g in TABLE4_GROUPS:
            parts = [f"table4.{g}.{c}" for c in TABLE4_COLUMNS[:-1]]
            total = f"table4.{g}.total"
            vals = [self.val(p) for p in parts]
            tv = self.val(total)
            if tv is None or any(v is None for v in vals):
                continue
            s = sum(vals)
            if s != tv:
                self.add("appeal_total",
                         f"合计不等于分项之和：表四“{GROUP_NAMES[g]}”的"
                         f"{'、'.join(APPEAL_COLUMN_NAMES[c] for c in TABLE4_COLUMNS[:-1])}之和为{s}，"
                         f"但“{APPEAL_COLUMN_NAMES['total']}”为{tv}。",
                         cells=[*parts, total], numbers={"sum": s, "total": tv, "delta": tv - s}, subject=g)

    # 5 ---------------------------------------------------------------------------------------------
    def stated_value(self, ref: str) -> tuple[int | float | None, str | None]:
        """(value, note) of a cell a sentence is compared with.  A blank 总计 stands for the sum of its
        parts (the row's applicant columns; a Table 四 group's four results) when all of those were read."""
        v = self.val(ref)
        if v is not None:
            return v, None
        c = self.cells.get(ref)
        if c is None or c.kind.value not in ("EMPTY", "NA") or c.column != "total":
            return None, None
        if c.table == "table3":
            parts = [f"table3.{c.row}.{col}" for col in TABLE3_APPLICANT_COLUMNS]
        elif c.table == "table4":
            parts = [f"table4.{c.row}.{col}" for col in TABLE4_COLUMNS[:-1]]
        else:
            return None, None
        vals = [self.val(p) for p in parts]
        if any(x is None for x in vals):
            return None, None
        return sum(vals), f"“{ROW_NAMES.get(c.row, c.row) if c.table == 'table3' else GROUP_NAMES.get(c.row, c.row)}”"

    def _figure_cells(self, phrase: Phrase, fig, m: re.Match) -> tuple[tuple[str, ...], str] | None:
        """The cells a figure of a matched phrase names, and the figure's name."""
        if phrase.kind == "categories":
            text = m.group("cats")
            names = [n for n in _CATEGORY_NAMES if n in text]
            refs: list[str] = []
            for n in names:
                alt = self._first_present(CATEGORIES[n])
                if alt is None:
                    return None
                refs.extend(alt)
            return tuple(refs), "及".join(names)
        if phrase.kind == "reason":
            why, cat = m.group("why"), m.group("cat")
            rows = {row for key, row in REASONS.items() if key in why}
            group = {"不予公开": "withheld_", "无法提供": "unavailable_", "不予处理": "rejected_"}[cat]
            rows = {r for r in rows if r.startswith(group)}
            if len(rows) != 1:
                return None  # the reason names no row of that group, or several: not a figure we can place
            row = rows.pop()
            return (f"table3.{row}.total",), f"{cat}（{ROW_NAMES.get(row, row).split('-')[-1]}）"
        alt = self._first_present(fig.cells)
        return (alt, fig.name) if alt is not None else None

    def _first_present(self, alternatives) -> tuple[str, ...] | None:
        for alt in alternatives:
            if any(ref in self.cells for ref in alt):
                return alt
        return None

    def narrative_vs_table(self) -> None:
        narrative = self.sections_text()
        if not narrative:
            return
        taken: list[tuple[int, int]] = []  # spans read by an earlier phrase
        compared: set[tuple[str, ...]] = set()  # each set of cells is compared once (first statement)
        for phrase, rx in _PHRASES:
            for m in rx.finditer(narrative):
                if any(m.start() < b and a < m.end() for a, b in taken):
                    continue
                taken.append(m.span())
                if self._counts_something_else(phrase, narrative, m):
                    continue
                for fig in phrase.figures:
                    number = m.groupdict().get(fig.group)
                    if number is None:
                        continue
                    placed = self._figure_cells(phrase, fig, m)
                    if placed is None:
                        continue
                    refs, name = placed
                    if refs in compared:
                        continue
                    compared.add(refs)
                    self._compare_figure(phrase, m.group(0), name, number, refs)

    @staticmethod
    def _counts_something_else(phrase: Phrase, text: str, m: re.Match) -> bool:
        """The sentence around the match says its count is of something the table does not count
        ('作为被申请人的行政复议案件共12件，均为行政处罚类'), and the clause leading to it does not
        qualify it back ('其中涉及政府信息公开的…')."""
        if phrase.key not in _CONTEXT:
            return False
        other, qualifier = _CONTEXT[phrase.key]
        start = max(text.rfind(c, 0, m.start()) for c in _SENTENCE_BREAKS) + 1
        ends = [i for i in (text.find(c, m.end()) for c in _SENTENCE_BREAKS) if i >= 0]
        if not other.search(text, start, min(ends, default=len(text))):
            return False
        clause = max(text.rfind(c, 0, m.start()) for c in _CLAUSE_BREAKS) + 1
        return not qualifier.search(text, clause, m.end())

    def _compare_figure(self, phrase: Phrase, quote: str, name: str, number: str, refs: tuple[str, ...]) -> None:
        stated = float(number) if phrase.unit == "万元" else int(number)
        values, notes = [], []
        for ref in refs:
            v, note = self.stated_value(ref)
            if v is None:
                return  # a cell not assessable: no comparison
            values.append(v)
            if note:
                notes.append(note)
        table = sum(values)
        if abs(stated - table) < 1e-6:
            return
        if isinstance(table, float) and table.is_integer():
            table = int(table)
        parts = "、".join(f"{self._cell_name(r)} {v}" for r, v in zip(refs, values) if v or len(refs) <= 3)
        blank = (f"；其中{'、'.join(notes)}的“{COLUMN_NAMES['total']}”为空白，按该行各分项之和计" if notes else "")
        detail = f"（{parts}{blank}）" if parts or notes else ""
        self.add("narrative_vs_table",
                 f"正文数据与表格不一致：正文称“{quote}”（{name}{number}{phrase.unit}），表格中为{table}{phrase.unit}"
                 f"{detail}。",
                 cells=list(refs), numbers={"text": stated, "table": table, "quote": quote, "phrase": phrase.key,
                                            **({"notes": notes} if notes else {})},
                 subject=name)

    def _cell_name(self, ref: str) -> str:
        table, row, col = ref.split(".")
        if table == "table3":
            return f"“{ROW_NAMES.get(row, row)}”{COLUMN_NAMES.get(col, col)}"
        if table == "table4":
            return f"“{GROUP_NAMES.get(row, row)}”{APPEAL_COLUMN_NAMES.get(col, col)}"
        c = self.cells.get(ref)
        return f"“{c.label or row}”" if c is not None else ref

    # 4b --------------------------------------------------------------------------------------------
    def blank_total_column(self) -> set[str]:
        """A 总计 column printed blank where the applicant columns are not all zero: one finding for
        the column, listing its rows (the row and column sums cannot be checked there)."""
        rows = []
        for row in ROW_NAMES:
            c = self.cells.get(f"table3.{row}.total")
            if c is None or c.kind.value != "EMPTY":
                continue
            vals = [self.val(f"table3.{row}.{col}") for col in TABLE3_APPLICANT_COLUMNS]
            if any(v for v in vals if v is not None):
                rows.append(row)
        if len(rows) >= MIN_BLANK_TOTAL_ROWS:
            names = "、".join(f"“{ROW_NAMES[r]}”" for r in rows)
            self.add("row_total",
                     f"表格空白：表三“{COLUMN_NAMES['total']}”一列在{len(rows)}行为空白，"
                     f"而这些行的申请人各栏并非全为0（{names}），"
                     "总计无法核对，应填写各栏之和。",
                     cells=[f"table3.{r}.total" for r in rows], numbers={"rows": rows, "count": len(rows)},
                     subject="blank_total_column", severity=WARNING)
        return set(rows)

    # 6 ---------------------------------------------------------------------------------------------
    def placeholder(self) -> None:
        text = self.r.text or "\n".join(self.r.sections.values())
        for m in _PLACEHOLDER.finditer(text):
            if masked_name(text, m.start(), m.end()):
                continue  # an anonymised name (申请人李××), not a blank left from the template
            where = next((SECTION_NAMES[k] for k, v in self.r.sections.items() if m.group(0) in v), "正文")
            self.add("placeholder", f"模板占位符未删除：{where}中仍有“{m.group(0)}”。",
                     numbers={"placeholder": m.group(0)}, subject=f"placeholder:{m.group(0)}")
            break
        if not self.r.sections or self.r.template == "unknown":
            return  # no section structure read, or an older free-form outline: the six sections are not due
        tables = {c.table for c in self.r.cells}
        whole = _n(self.r.text) + self.sections_text()
        for key, name in SECTION_NAMES.items():
            # a section whose table was read is there, even if its heading sat inside the table; and a
            # heading printed anywhere in the text (a frame, a table cell) is no missing section
            if (key not in self.r.sections and SECTION_TABLES.get(key) not in tables
                    and not _heading_in(name, whole)):
                self.add("placeholder", f"内容缺失：未找到“{name}”部分。", subject=f"missing:{key}")
        problems = _n(self.r.sections.get("problems", ""))
        if "problems" in self.r.sections and len(problems.strip("。.无")) < MIN_PROBLEMS_CHARS:
            self.add("placeholder", f"内容缺失：“{SECTION_NAMES['problems']}”为空或只写“无”，未说明实际问题及改进情况。",
                     numbers={"chars": len(problems)}, subject="empty:problems")

    # tables_missing --------------------------------------------------------------------------------
    #: the parser's reason (a ParseWarning code) -> what the officer reads
    TABLES_MISSING_REASONS = {
        "tables_are_images": "统计表为图片（图片版），无法读取其中的数据",
        "tables_in_attachment": "正文只指向附件，未能从附件读取统计表",
        "tables_absent": "正文中没有统计表",
    }

    def tables_missing(self, awaiting_attachments: bool = False) -> None:
        """A page titled 政府信息公开工作年度报告 whose tables could not be read at all: the officer
        should look (a warning: the tables may be printed as images, or in a file we could not read).

        A stub pointing at an attachment is only reported once the attachment had its chance: while
        the crawl may still fetch it (``awaiting_attachments``), no finding (it would be a false one
        whenever the attachment reads well and replaces the page as the report's content)."""
        if any(c.table in ("table2", "table3", "table4") for c in self.r.cells):
            return
        reason = next((w.code for w in self.r.warnings if w.code in self.TABLES_MISSING_REASONS), None)
        if reason is None or (reason == "tables_in_attachment" and awaiting_attachments):
            return
        self.add("tables_missing", f"报告缺少统计表：{self.TABLES_MISSING_REASONS[reason]}，"
                                   "表二、表三、表四的数据均未读到，请人工核对。",
                 numbers={"reason": reason}, subject="tables")

    # 7 ---------------------------------------------------------------------------------------------
    def period(self) -> None:
        if not self.r.period or not self.r.year:
            return
        start, end = self.r.period
        y = self.r.year
        if (start.year, start.month, start.day, end.year, end.month, end.day) != (y, 1, 1, y, 12, 31):
            self.add("period",
                     f"统计期限错误：报告写明的统计期限为{start.year}年{start.month}月{start.day}日至"
                     f"{end.year}年{end.month}月{end.day}日，应为{y}年1月1日至{y}年12月31日。",
                     numbers={"start": start.isoformat(), "end": end.isoformat(), "year": y}, subject="period")


def _heading_in(name: str, text: str) -> bool:
    """The section's wording ('一、总体情况' -> 总体情况) stands somewhere in the normalised text."""
    wording = _n(name.split("、", 1)[-1])
    return bool(wording) and wording in text


def _result_leaves(report: Report) -> tuple[str, ...]:
    present = {c.row for c in report.cells if c.table == "table3"}
    if "other_handling" in present and not present & {"other_no_correction", "other_no_fee", "other_other"}:
        return TABLE3_RESULT_ROWS["2019"]
    return TABLE3_RESULT_ROWS.get(report.template, TABLE3_RESULT_ROWS["2021"])


def downgrade_uncertain(report: Report, findings: list[Finding]) -> list[Finding]:
    """A finding that rests on a cell we are unsure of (``Cell.low_confidence``: an OCR reading, a
    split run of digits) is a warning saying so (“OCR 可能误读”), never an error blamed on the
    agency.  The rule, cells and fingerprint stay: when a better reading comes, the finding resolves."""
    if not findings or not any(c.confidence is not None and c.confidence < LOW_CONFIDENCE for c in report.cells):
        return findings  # nothing rests on a doubtful cell (most reports): no index of the cells
    cells = {c.ref: c for c in report.cells}
    for f in findings:
        doubtful = [cells[r] for r in f.cells if r in cells and cells[r].low_confidence]
        if not doubtful:
            continue
        if f.severity == ERROR:
            f.severity = WARNING
        readings = "、".join(f"{c.ref}读作“{c.raw}”（置信度{c.confidence:.2f}）" for c in doubtful[:5])
        f.message = (f"读数不确定（OCR 可能误读，或原文数字连写后按勾稽关系拆分）：{readings}；"
                     f"以下结论取决于该读数，请对照原件核实。{f.message}")
        f.numbers = {**f.numbers, "low_confidence_cells": [c.ref for c in doubtful]}
    return findings


def check_report(report: Report, *, awaiting_attachments: bool = False) -> list[Finding]:
    """Findings of relations 1-7 and tables_missing for one report (nothing is changed in the report).

    ``awaiting_attachments``: the report is a page just fetched whose attachments the crawl may still
    bring (see tables_missing); the checks pass after the crawl runs without it."""
    c = _Checker(report)
    rows = sorted({x.row for x in report.cells if x.table == "table3"},
                  key=lambda r: list(ROW_NAMES).index(r) if r in ROW_NAMES else 99)
    bad_rows = c.row_total(rows)
    bad_cols = c.results_total(_result_leaves(report))
    bad_balance = c.balance()
    c.appeal_total()
    c.blank_total_column()
    c.narrative_vs_table()
    c.placeholder()
    c.period()
    c.tables_missing(awaiting_attachments)
    # where a failing row meets a failing column, that cell is the suspect
    for row, rf in bad_rows.items():
        for col, cf in list(bad_cols.items()) + list(bad_balance.items()):
            ref = f"table3.{row}.{col}"
            if ref in rf.cells and ref in cf.cells:
                rf.suspect = rf.suspect or ref
                cf.suspect = cf.suspect or ref
    return downgrade_uncertain(report, c.findings)
