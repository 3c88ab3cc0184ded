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
from dataclasses import dataclass

from storage.models import (TABLE3_APPLICANT_COLUMNS, TABLE3_COLUMNS, TABLE3_RESULT_ROWS, TABLE4_COLUMNS,
                            TABLE4_GROUPS, Finding, Report)
from vocabulary import template as V

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

# -- narrative patterns (rule 5) --------------------------------------------------------------------
_WITHHELD = tuple(r for r in TABLE3_RESULT_ROWS["2021"] if r.startswith("withheld_"))
_UNAVAILABLE = tuple(r for r in TABLE3_RESULT_ROWS["2021"] if r.startswith("unavailable_"))
_REJECTED = tuple(r for r in TABLE3_RESULT_ROWS["2021"] if r.startswith("rejected_"))
_N = r"(?P<n>\d+)\s*件"
_GAP = r"[^。；;，,\d]{0,12}?"


@dataclass(frozen=True)
class NarrativeFigure:
    """A count stated in the text and the table cells it must equal (their sum)."""
    name: str  # how the text names it
    pattern: str
    cells: tuple[str, ...]


NARRATIVE_FIGURES = (
    NarrativeFigure("收到申请", rf"(?:收到|受理|接到|新收)(?:了)?{_GAP}(?:申请|申请件|公开件){_GAP}{_N}",
                    ("table3.new.total",)),
    NarrativeFigure("上年结转", rf"上年(?:度)?结转{_GAP}{_N}", ("table3.carried_over.total",)),
    NarrativeFigure("予以公开", rf"(?<!不)予以公开(?:申请)?{_N}", ("table3.granted.total",)),
    NarrativeFigure("部分公开", rf"部分公开(?:申请)?{_N}", ("table3.partially_granted.total",)),
    NarrativeFigure("不予公开", rf"不予公开(?:申请)?{_N}", tuple(f"table3.{r}.total" for r in _WITHHELD)),
    NarrativeFigure("无法提供", rf"无法提供(?:申请)?{_N}", tuple(f"table3.{r}.total" for r in _UNAVAILABLE)),
    NarrativeFigure("不予处理", rf"不予处理(?:申请)?{_N}", tuple(f"table3.{r}.total" for r in _REJECTED)),
    NarrativeFigure("结转下年度", rf"(?:(?P<n>\d+)\s*件(?:申请)?结转(?:至)?下(?:一)?年度"
                                 rf"|结转(?:至)?下(?:一)?年度(?:继续办理)?(?P<n2>\d+)\s*件)",
                    ("table3.carried_forward.total",)),
    NarrativeFigure("办结", rf"(?:(?P<n>\d+)\s*件(?:已)?办结|(?:办结|答复)(?:申请)?(?P<n2>\d+)\s*件)",
                    ("table3.total_processed.total",)),
    NarrativeFigure("行政复议", rf"行政复议{_N}", ("table4.review.total",)),
    NarrativeFigure("行政诉讼", rf"(?:提起)?行政诉讼{_N}",
                    ("table4.litigation_direct.total", "table4.litigation_after_review.total")),
)

# -- placeholders (rule 6) ----------------------------------------------------------------------------
PLACEHOLDER_PATTERNS = (
    r"[（(]\s*单位名称\s*[)）]",
    r"[（(]\s*填写[^)）]{0,12}[)）]",
    r"此处填写",
    r"【[^】]{0,10}(?:单位|填写|名称)[^】]{0,10}】",
    # XX as a blank to fill in ('XX局'), not inside a URL, address or word (www.xx.gov.cn, zfxxgk)
    r"(?<![A-Za-z0-9./@_:\-])(?:XX|xx|Xx)+(?![A-Za-z0-9./@_\-])",
    r"××+",
    r"ＸＸ+",
)
_PLACEHOLDER = re.compile("|".join(f"(?:{p})" for p in PLACEHOLDER_PATTERNS))
#: Section 五 must say something real: more than this many characters, not just 无.
MIN_PROBLEMS_CHARS = 10


def _n(text: str) -> str:
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", text or ""))


class _Checker:
    def __init__(self, report: Report):
        self.r = report
        self.cells = {c.ref: c for c in report.cells}
        self.findings: list[Finding] = []

    def val(self, ref: str):
        c = self.cells.get(ref)
        return c.value if c is not None and c.kind.assessable else None

    def sum_mismatch(self, parts: list[str], total: str) -> tuple[list, int, int] | None:
        """(values, their sum, the total) when every cell is assessable and the sum differs, else None."""
        vals = [self.val(p) for p in parts]
        tv = self.val(total)
        if tv is None or any(v is None for v in vals):
            return None
        s = sum(vals)
        return (vals, s, tv) if s != tv else None

    def add(self, rule: str, message: str, *, cells=(), numbers=None, subject: str = "") -> Finding:
        f = Finding(rule=rule, severity=SEVERITY[rule], message=message, cells=list(cells),
                    numbers=numbers or {}, agency=self.r.agency, year=self.r.year, subject=subject)
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
                    f"但“总计”为{tv}。",
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
                    f"{'（' + nonzero + '）' if nonzero else ''}，但“（七）总计”为{tv}。",
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
                         f"合计不等于分项之和：表四“{GROUP_NAMES[g]}”的结果维持、结果纠正、其他结果、尚未审结之和为{s}，"
                         f"但“总计”为{tv}。",
                         cells=[*parts, total], numbers={"sum": s, "total": tv, "delta": tv - s}, subject=g)

    # 5 ---------------------------------------------------------------------------------------------
    def narrative_vs_table(self) -> None:
        narrative = _n("\n".join(v for k, v in self.r.sections.items()))
        if not narrative:
            return
        for fig in NARRATIVE_FIGURES:
            m = re.search(fig.pattern, narrative)
            if not m:
                continue
            stated = int(m.group("n") or m.group("n2"))
            vals = [self.val(ref) for ref in fig.cells]
            if any(v is None for v in vals):
                continue
            table = sum(vals)
            if stated != table:
                self.add("narrative_vs_table",
                         f"正文数据与表格不一致：正文称“{m.group(0)}”（{fig.name}{stated}件），表格中为{table}件。",
                         cells=list(fig.cells), numbers={"text": stated, "table": table, "quote": m.group(0)},
                         subject=fig.name)

    # 6 ---------------------------------------------------------------------------------------------
    def placeholder(self) -> None:
        text = self.r.text or "\n".join(self.r.sections.values())
        for m in _PLACEHOLDER.finditer(text):
            where = next((SECTION_NAMES[k] for k, v in self.r.sections.items() if m.group(0) in v), "正文")
            self.add("placeholder", f"模板占位符未删除：{where}中仍有“{m.group(0)}”。",
                     numbers={"placeholder": m.group(0)}, subject=f"placeholder:{m.group(0)}")
            break
        if not self.r.sections or self.r.template == "unknown":
            return  # no section structure read, or an older free-form outline: the six sections are not due
        tables = {c.table for c in self.r.cells}
        for key, name in SECTION_NAMES.items():
            # a section whose table was read is there, even if its heading sat inside the table
            if key not in self.r.sections and SECTION_TABLES.get(key) not in tables:
                self.add("placeholder", f"内容缺失：未找到“{name}”部分。", subject=f"missing:{key}")
        problems = _n(self.r.sections.get("problems", ""))
        if "problems" in self.r.sections and len(problems.strip("。.无")) < MIN_PROBLEMS_CHARS:
            self.add("placeholder", f"内容缺失：“{SECTION_NAMES['problems']}”为空或只写“无”，未说明实际问题及改进情况。",
                     numbers={"chars": len(problems)}, subject="empty:problems")

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


def _result_leaves(report: Report) -> tuple[str, ...]:
    present = {c.row for c in report.cells if c.table == "table3"}
    if "other_handling" in present and not present & {"other_no_correction", "other_no_fee", "other_other"}:
        return TABLE3_RESULT_ROWS["2019"]
    return TABLE3_RESULT_ROWS.get(report.template, TABLE3_RESULT_ROWS["2021"])


def check_report(report: Report) -> list[Finding]:
    """Findings of relations 1-7 for one report (nothing is changed in the report)."""
    c = _Checker(report)
    rows = sorted({x.row for x in report.cells if x.table == "table3"},
                  key=lambda r: list(ROW_NAMES).index(r) if r in ROW_NAMES else 99)
    bad_rows = c.row_total(rows)
    bad_cols = c.results_total(_result_leaves(report))
    bad_balance = c.balance()
    c.appeal_total()
    c.narrative_vs_table()
    c.placeholder()
    c.period()
    # where a failing row meets a failing column, that cell is the suspect
    for row, rf in bad_rows.items():
        for col, cf in list(bad_cols.items()) + list(bad_balance.items()):
            ref = f"table3.{row}.{col}"
            if ref in rf.cells and ref in cf.cells:
                rf.suspect = rf.suspect or ref
                cf.suspect = cf.suspect or ref
    return c.findings
