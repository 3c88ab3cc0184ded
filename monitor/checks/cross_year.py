"""Rules across years (and across agencies of one site): carry_continuity, in_force_continuity,
copied, swing.  Relations 8, 9, 13 and 14 of the spec; domain.md §4 C1, C2, C6, C7.

Each rule takes Reports and returns Findings for the *current* report (``cur``); the runner sets
``site`` and ``report_id``.  Cells that are not assessable (blank, "/", text) are skipped, never
read as 0: the within-report checks already flag them.
"""
from __future__ import annotations

import re
import zlib
from dataclasses import dataclass

from rapidfuzz import process
from rapidfuzz.distance import Indel

from monitor.checks.report import ASSESSABLE, downgrade_uncertain
from storage.models import SCALAR, TABLE3_COLUMNS, Finding, Report
from vocabulary import template as V

_COLUMN_NAMES = V.TABLE3_COLUMN_LABELS


def _unnumbered(row: str) -> str:
    """A Table 三 row's label without its numbering: 二、上年结转政府信息公开申请数量 -> 上年结转政府信息公开申请数量."""
    return re.sub(V.NUMBERING_PATTERN, "", V.TABLE3_ROW_LABELS[row].label)

# -- carry_continuity ----------------------------------------------------------------------------


def carry_continuity(prev: Report, cur: Report) -> list[Finding]:
    """carried_over(Y) = carried_forward(Y-1) in each of the 7 Table 三 columns (an error).

    One finding per report pair, naming every column that breaks; a finding per column would
    fill a digest with seven lines for one mistake.
    """
    bad: list[tuple[str, int, int]] = []
    for col in TABLE3_COLUMNS:
        now = cur.value("table3", "carried_over", col)
        before = prev.value("table3", "carried_forward", col)
        if now is None or before is None:
            continue
        if now != before:
            bad.append((col, now, before))
    if not bad:
        return []
    cols = "、".join(_COLUMN_NAMES[c] for c, _, _ in bad)
    detail = "；".join(f"{_COLUMN_NAMES[c]}：本年上年结转{n}件，上年结转下年度{b}件" for c, n, b in bad)
    return [_finding(
        cur, "carry_continuity", "error",
        f"{cur.year}年报告“{_unnumbered('carried_over')}”与{prev.year}年报告“{_unnumbered('carried_forward')}”"
        f"不一致（{cols}）：{detail}。",
        cells=[f"table3.carried_over.{c}" for c, _, _ in bad],
        numbers={"previous_year": prev.year,
                 "columns": {c: {"carried_over": n, "previous_carried_forward": b, "delta": n - b}
                             for c, n, b in bad}},
    )]


# -- in_force_continuity -------------------------------------------------------------------------

_STOCK_ROWS = {r: V.row_label("table2", r) for r in ("regulations", "normative_documents")}
_IN_FORCE = V.column_label("table2", "in_force")


def in_force_continuity(prev: Report, cur: Report) -> list[Finding]:
    """in_force(Y) = in_force(Y-1) + issued(Y) - repealed(Y); template 2021 on both sides only.

    A warning: clean-up campaigns and reorganisations legitimately break the identity.
    """
    if prev.template != "2021" or cur.template != "2021":
        return []
    out: list[Finding] = []
    for row, name in _STOCK_ROWS.items():
        before = prev.value("table2", row, "in_force")
        issued = cur.value("table2", row, "issued")
        repealed = cur.value("table2", row, "repealed")
        now = cur.value("table2", row, "in_force")
        if None in (before, issued, repealed, now):
            continue
        expected = before + issued - repealed
        if now == expected:
            continue
        out.append(_finding(
            cur, "in_force_continuity", "warning",
            f"{name}{_IN_FORCE}{now}件，与上年现行有效{before}件＋本年制发{issued}件－本年废止{repealed}件"
            f"＝{expected}件不衔接（如有清理或机构调整，请在报告中说明）。",
            cells=[f"table2.{row}.in_force", f"table2.{row}.issued", f"table2.{row}.repealed"],
            numbers={"in_force": now, "previous_in_force": before, "issued": issued,
                     "repealed": repealed, "expected": expected, "delta": now - expected,
                     "previous_year": prev.year},
            subject=row,
        ))
    return out


# -- swing ---------------------------------------------------------------------------------------

#: Key figures watched for swings: (cell ref, its name in messages, from the vocabulary).
SWING_FIGURES: tuple[tuple[str, str], ...] = tuple((ref, V.FIGURE_NAMES[ref]) for ref in (
    "table3.new.total", "table3.granted.total", "table3.total_processed.total",
    "table4.review.total", "table4.litigation_direct.total", "table4.litigation_after_review.total",
    "table2.licensing.value", "table2.punishment.value", "table2.coercion.value",
))


def swing(prev: Report, cur: Report, *, factor: float, min_base: int) -> list[Finding]:
    """A key figure grows or shrinks by more than ``factor`` against last year (info).

    Counted when the larger of the two values is at least ``min_base`` (so 1 -> 4 is noise, while
    0 -> 50 is a swing) and it exceeds ``factor`` times the smaller one.
    """
    out: list[Finding] = []
    for ref, name in SWING_FIGURES:
        table, row, col = ref.split(".")
        now, before = cur.value(table, row, col), prev.value(table, row, col)
        if not isinstance(now, (int, float)) or not isinstance(before, (int, float)):
            continue
        hi, lo = max(now, before), min(now, before)
        if hi < min_base or hi <= factor * lo:
            continue
        ratio = None if lo == 0 else round(hi / lo, 1)
        trend = "增长" if now > before else "下降"
        times = f"{ratio}倍" if ratio is not None else "从零起"
        out.append(_finding(
            cur, "swing", "info",
            f"{name}由{prev.year}年的{before}变为{cur.year}年的{now}，{trend}幅度超过{factor:g}倍"
            f"（{times}），请核实数据是否准确。",
            cells=[ref],
            numbers={"value": now, "previous_value": before, "previous_year": prev.year,
                     "ratio": (round(now / before, 2) if before else None)},
        ))
    return out


# -- copied --------------------------------------------------------------------------------------

#: Narrative sections compared for copied text; the table sections are mostly the national
#: template's fixed labels and would make every pair of reports look alike.
NARRATIVE_SECTIONS = ("overview", "problems", "other")
MIN_TEXT_CHARS = 200  # below this there is too little own text to call anything copied
#: Identical tables prove copying only when they hold enough *independent* non-zero figures: all-zero
#: tables are common and honest, and a small agency's one granted request fills six cells (新收, 予以公开
#: and 总计 rows, 自然人 and 总计 columns) that repeat honestly year after year and across agencies.
MIN_INDEPENDENT_FIGURES = 3
#: ... and enough in size: three towns each granting one request, refusing one and not holding one
#: (1, 1, 1) match by chance among a county's hundred units; two figures identical year over year
#: prove it when they are large (行政许可 5152 and 行政处罚 730 again)
MIN_FIGURES_TOTAL = 10
MIN_FIGURES_TOTAL_FOR_TWO = 100

_STRIP = re.compile(r"[\s0-9０-９〇一二三四五六七八九十百千万零年月日%％.,，。、；;：:（）()“”\"'《》\-—/]+")


#: Groups at least this large are compared through MinHash LSH candidates instead of every pair.
LSH_MIN_GROUP = 300
#: Character shingle length for MinHash; short enough that a copy with a few words changed keeps
#: most of its shingles.
SHINGLE = 4
NUM_PERM = 64
#: Jaccard similarity of shingle sets above which a pair becomes a candidate.  A copy at the
#: rule's Indel threshold (0.95) with its edits spread one every 20 characters still shares about
#: two thirds of its 4-shingles; 0.5 leaves room below that, at the cost of more candidates to score.
LSH_THRESHOLD = 0.5


def _shingle_hash(shingle: bytes) -> int:
    return zlib.crc32(shingle)


def candidate_pairs(texts: list[str]) -> set[tuple[int, int]]:
    """Index pairs (i < j) of ``texts`` whose shingle sets MinHash LSH finds similar."""
    # imported here: datasketch loads scipy (≈56 MB of RSS), which only groups of LSH_MIN_GROUP or
    # more need, not every process that imports the checks (the parent of a night's crawl and parse pool)
    from datasketch import LeanMinHash, MinHash, MinHashLSH

    lsh = MinHashLSH(threshold=LSH_THRESHOLD, num_perm=NUM_PERM)
    pairs: set[tuple[int, int]] = set()
    for i, text in enumerate(texts):
        data = text.encode("utf-32-le")  # four bytes a character: shingles are plain byte slices
        width = SHINGLE * 4
        shingles = {data[k:k + width] for k in range(0, max(len(data) - width, 0) + 1, 4)}
        m = MinHash(num_perm=NUM_PERM, seed=1, hashfunc=_shingle_hash)
        m.update_batch(shingles)
        sig = LeanMinHash(m)
        pairs.update((j, i) for j in lsh.query(sig))
        lsh.insert(i, sig)
    return pairs


@dataclass
class Counterpart:
    """A report another one is compared with, and why it is comparable."""

    report: Report
    relation: str  # "previous_year" | "other_agency"
    report_id: int | None = None


def narrative(report: Report) -> str:
    """The report's own words: narrative sections (or the whole text), without the agency's
    name, numbers and punctuation, so that a copy with the numbers changed is still a copy."""
    parts = [report.sections.get(k, "") for k in NARRATIVE_SECTIONS]
    text = "".join(parts) if any(parts) else report.text
    if report.agency:
        text = text.replace(report.agency, "")
    return _STRIP.sub("", text)


class Prepared:
    """Per-report values the copied rule compares, computed once per pass (a site of n agencies
    makes n² comparisons; recomputing the narrative and the numbers each time dominated)."""

    def __init__(self) -> None:
        self._texts: dict[int, str] = {}
        self._numbers: dict[int, dict[str, float]] = {}
        self._batches: list[tuple[set[int], dict[tuple[int, int], float]]] = []
        self._related: dict[int, set[int]] = {}

    def text(self, r: Report) -> str:
        if id(r) not in self._texts:
            self._texts[id(r)] = narrative(r)
        return self._texts[id(r)]

    def numbers(self, r: Report) -> dict[str, float]:
        if id(r) not in self._numbers:
            self._numbers[id(r)] = _numbers(r)
        return self._numbers[id(r)]

    def compare_all(self, reports: list[Report], cutoff: float, *, method: str = "auto") -> None:
        """Similarity of the pairs of ``reports`` that can reach ``cutoff``, computed at once; a pair
        not scored scores 0.  Later lookups of these pairs cost nothing.

        ``exact`` scores every pair (rapidfuzz's extract loops in C++): quadratic, fine for a
        site's few hundred agencies.  ``lsh`` first finds candidate pairs by MinHash LSH over the
        narratives' character shingles (datasketch), then scores only those: sub-quadratic, for
        groups of thousands (a national pass, a province's departments).  ``auto`` picks exact
        below ``LSH_MIN_GROUP`` reports.  The LSH threshold sits far below what a copy scores
        (see ``LSH_THRESHOLD``), so it only saves work and does not decide anything.
        """
        self._group_identical_tables(reports)
        texts = [self.text(r) for r in reports]
        keep = [i for i, t in enumerate(texts) if len(t) >= MIN_TEXT_CHARS]
        if len(keep) < 2:
            # intended for the text: a narrative under MIN_TEXT_CHARS is never called copied, so with
            # fewer than two long ones there is no pair to score (the tables were grouped above)
            return
        choices = [texts[i] for i in keep]
        members = {id(reports[i]) for i in keep}
        scores: dict[tuple[int, int], float] = {}
        if method == "exact" or (method == "auto" and len(keep) < LSH_MIN_GROUP):
            for i in keep:
                for _, score, j in process.extract(texts[i], choices, scorer=Indel.normalized_similarity,
                                                   score_cutoff=cutoff, limit=None):
                    scores[(id(reports[i]), id(reports[keep[j]]))] = score
        else:
            for a, b in candidate_pairs(choices):
                score = Indel.normalized_similarity(choices[a], choices[b], score_cutoff=cutoff)
                if score:
                    ra, rb = reports[keep[a]], reports[keep[b]]
                    scores[(id(ra), id(rb))] = scores[(id(rb), id(ra))] = score
            for i in keep:  # a report compared with itself, as the exact path scores it
                scores[(id(reports[i]), id(reports[i]))] = 1.0
        self._batches.append((members, scores))
        for a, b in scores:
            if a != b:
                self._related.setdefault(a, set()).add(b)

    def _group_identical_tables(self, reports: list[Report]) -> None:
        """Reports with identical tables, grouped by their numbers (not compared pair by pair).
        Independent of the narratives' length: a short report with another agency's tables is
        still a copy of its data (the previous-year pair never depended on the text either)."""
        same: dict[frozenset, list[int]] = {}
        for r in reports:
            numbers = self.numbers(r)
            if numbers_prove_copying(numbers):
                same.setdefault(frozenset(numbers.items()), []).append(id(r))
        for group in same.values():
            for a in group:
                self._related.setdefault(a, set()).update(b for b in group if b != a)

    def related(self, report: Report) -> set[int]:
        """``id()`` of the reports compared by ``compare_all`` that the copied rule may flag
        against ``report``: similar narratives or identical tables.  Empty when not compared."""
        return self._related.get(id(report), set())

    def similarity(self, a: Report, b: Report) -> float | None:
        for members, scores in self._batches:
            if id(a) in members and id(b) in members:
                return scores.get((id(a), id(b)), 0.0)
        return None


def text_similarity(a: Report, b: Report, prepared: Prepared | None = None,
                    cutoff: float | None = None) -> float | None:
    """Normalised Indel similarity of the two narratives, or None when either is too short."""
    prepared = prepared or Prepared()
    ta, tb = prepared.text(a), prepared.text(b)
    if len(ta) < MIN_TEXT_CHARS or len(tb) < MIN_TEXT_CHARS:
        return None
    known = prepared.similarity(a, b) if cutoff else None
    if known is not None:
        return known
    return Indel.normalized_similarity(ta, tb, score_cutoff=cutoff) if cutoff else Indel.normalized_similarity(ta, tb)


_NUMBER_TABLES = frozenset(("table2", "table3", "table4"))


def _numbers(report: Report) -> dict[str, float]:
    return {f"{c.table}.{c.row}.{c.column}": c.value for c in report.cells
            if c.table in _NUMBER_TABLES and c.kind in ASSESSABLE and isinstance(c.value, (int, float))}


#: Cells that repeat another cell's facts: a 总计 column or group total is a sum; (七)总计 sums the
#: result rows; 新收 follows from the balance (新收 = 总计 + 结转下年度 − 上年结转).
_DERIVED_COLUMNS = {"table3": frozenset({"total"}), "table4": frozenset({"total"})}
_DERIVED_ROWS = {"table3": frozenset({"total_processed", "new"})}
#: Table 二 stocks that honestly stay the same when nothing happened in the year (现行有效件数,
#: 2019's 对外公开总数量 and 上一年项目数量): their repeating is no evidence of copied data.
_STOCK_COLUMNS = frozenset({"in_force", "public_total", "previous_items"})


def independent_figures(numbers: dict[str, float]) -> list[float]:
    """The non-zero figures of ``numbers`` (``_numbers``) that are facts of their own, each once:
    leaf cells, not totals or sums of other cells, and not stocks carried from year to year.
    One request granted is one figure, though it fills six cells."""
    out: list[float] = []
    for ref, v in numbers.items():
        if not v:
            continue
        table, row, col = ref.split(".")
        if (col in _DERIVED_COLUMNS.get(table, ()) or row in _DERIVED_ROWS.get(table, ())
                or (table == "table2" and col in _STOCK_COLUMNS)):
            continue
        out.append(abs(v))
    return out


def numbers_prove_copying(numbers: dict[str, float]) -> bool:
    """Whether tables identical to another report's hold figures enough, in count and size, for the
    sameness not to be chance."""
    figures = independent_figures(numbers)
    return ((len(figures) >= MIN_INDEPENDENT_FIGURES and sum(figures) >= MIN_FIGURES_TOTAL)
            or (len(figures) >= 2 and sum(figures) >= MIN_FIGURES_TOTAL_FOR_TWO))


def identical_numbers(a: Report, b: Report, prepared: Prepared | None = None) -> bool:
    prepared = prepared or Prepared()
    na, nb = prepared.numbers(a), prepared.numbers(b)
    if not na or na != nb:
        return False
    return numbers_prove_copying(na)


def copied(cur: Report, others: list[Counterpart], *, threshold: float,
           prepared: Prepared | None = None) -> list[Finding]:
    """The narrative (similarity >= threshold) or every Table 三/四 number repeats another report:
    the same agency's last year, or another agency of the same site this year (a warning)."""
    prepared = prepared or Prepared()
    out: list[Finding] = []
    for other in others:
        o = other.report
        whose = (f"本单位{o.year}年报告" if other.relation == "previous_year"
                 else f"{o.agency}{o.year}年报告")
        sim = text_similarity(cur, o, prepared, cutoff=threshold)
        if sim is not None and sim >= threshold:
            out.append(_finding(
                cur, "copied", "warning",
                f"报告正文与{whose}高度雷同（文字相似度{sim:.0%}），请核实是否照搬往年或其他单位内容。",
                numbers={"similarity": round(sim, 4), "threshold": threshold, "relation": other.relation,
                         "other_agency": o.agency, "other_year": o.year, "other_report_id": other.report_id},
                subject=f"text|{other.relation}|{o.agency}|{o.year}",
            ))
        if identical_numbers(cur, o, prepared):
            out.append(_finding(
                cur, "copied", "warning",
                f"表二、表三、表四全部数据与{whose}完全相同，请核实是否沿用旧数据。",
                numbers={"relation": other.relation, "other_agency": o.agency, "other_year": o.year,
                         "other_report_id": other.report_id, "cells_compared": len(prepared.numbers(cur))},
                subject=f"numbers|{other.relation}|{o.agency}|{o.year}",
            ))
    return out


# -- helpers -------------------------------------------------------------------------------------

assert set(_COLUMN_NAMES) == set(TABLE3_COLUMNS)
assert SCALAR == "value"  # SWING_FIGURES spell the scalar column out


def _finding(cur: Report, rule: str, severity: str, message: str, *, cells: list[str] | None = None,
             numbers: dict | None = None, subject: str = "") -> Finding:
    finding = Finding(rule=rule, severity=severity, message=message, cells=list(cells or []),
                      numbers=dict(numbers or {}), agency=cur.agency, year=cur.year, subject=subject)
    # no error rests on a cell of this report read with low confidence (a split run of digits, OCR)
    return downgrade_uncertain(cur, [finding])[0]
