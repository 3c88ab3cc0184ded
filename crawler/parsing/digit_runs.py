"""Cells run together: a row whose cell boundaries were lost in a text rendering.

Other crawlers, archives and copy-paste from a browser often drop the separators of a table row:
"行政规范性文件77132470" is 77 | 132 | 470, a Table 三 row comes out as "1000001", Table 四 as
"100000100000000".  Read as one number, such a run gives 77132470 and false findings.  Here a run
is never one cell when its row needs several:

1. the run is split every way it can be (each piece "0" or a number without a leading zero);
2. when exactly one split exists (7 digits for 7 cells), it is taken: the digits themselves decide,
   whatever the relations say (a wrong total stays wrong, for the checks to find);
3. otherwise the table's own arithmetic chooses: row totals, result columns, the balance, Table 四
   group totals, and last year's figures when the caller gives them (carry-over, in-force stock).
   A split is taken only when it is the single one under which every relation holds; the cells
   get ``RESOLVED_CONFIDENCE`` (below ``storage.models.LOW_CONFIDENCE``: the relations chose them,
   so those relations cannot then testify against the agency);
4. where no single split exists the cells stay unread (None), the report is partial and no check
   runs on them.

Bounded work: at most ``MAX_SPLITS`` splits per run and ``MAX_VISITS`` steps of the joint search
(a run beyond them stays unread).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

#: A run split in the only way its digits allow (one digit per cell, or zeros that cannot lead).
STRUCTURAL_CONFIDENCE = 0.95
#: A run split by the table's arithmetic: trusted for reading, not as evidence of the relations used.
RESOLVED_CONFIDENCE = 0.8
MAX_SPLITS = 20_000
MAX_VISITS = 200_000
MAX_SOLUTIONS = 64

_DIGITS = re.compile(r"^\d+$")


def is_run(tokens: list[str], n: int) -> bool:
    """Value tokens of a row that needs ``n`` cells but has fewer cells at all, every one digits, with
    enough digits to split.  A row with a cell per column (some blank) is a grid that kept its cell
    boundaries: a blank there is a blank, not a lost separator."""
    if len(tokens) >= n or any(not t.strip() for t in tokens):
        return False
    toks = list(tokens)
    return (n > 1 and 0 < len(toks) < n and all(_DIGITS.match(t) for t in toks)
            and any(len(t) > 1 for t in toks) and sum(len(t) for t in toks) >= n)


def _pieces(s: str, m: int, limit: list[int]):
    """Ways to cut s into m numbers (no leading zero unless the number is 0)."""
    if m == 1:
        if s == "0" or s[0] != "0":
            yield (int(s),)
        return
    if s[0] == "0":
        first_lengths = (1,)
    else:
        first_lengths = range(1, len(s) - m + 2)
    for k in first_lengths:
        for rest in _pieces(s[k:], m - 1, limit):
            limit[0] -= 1
            if limit[0] < 0:
                return
            yield (int(s[:k]),) + rest


def splits(tokens: list[str], n: int, limit: int = MAX_SPLITS) -> list[tuple[int, ...]] | None:
    """Every way to read ``tokens`` as ``n`` cells, or None when there are more than ``limit``."""
    toks = [t for t in tokens if t.strip()]
    budget = [limit]
    out: list[tuple[int, ...]] = []

    def rec(i: int, left: int, acc: tuple[int, ...]) -> bool:
        if i == len(toks):
            if left == 0:
                out.append(acc)
                if len(out) > limit:
                    return False
            return True
        t = toks[i]
        rest = len(toks) - i - 1
        for m in range(1, min(len(t), left - rest) + 1):
            for p in _pieces(t, m, budget):
                if not rec(i + 1, left - m, acc + p):
                    return False
            if budget[0] < 0:
                return False
        return True

    if not rec(0, n, ()) or budget[0] < 0:
        return None
    return out


@dataclass
class Run:
    """A run awaiting its split: the cells it covers (refs, in order) and their candidate values."""
    refs: tuple[str, ...]
    raw: str
    candidates: list[tuple[int, ...]] | None  # None: too many to consider
    structural: bool = False  # one candidate before any relation

    def __post_init__(self) -> None:
        self.structural = self.candidates is not None and len(self.candidates) == 1


@dataclass(frozen=True)
class Relation:
    """sum(plus) - sum(minus) == const, named for messages."""
    name: str
    plus: tuple[str, ...]
    minus: tuple[str, ...] = ()
    const: int = 0

    @property
    def refs(self) -> tuple[str, ...]:
        return self.plus + self.minus


@dataclass
class Outcome:
    values: dict[str, int] = field(default_factory=dict)  # ref -> value, for runs taken
    confidence: dict[str, float] = field(default_factory=dict)
    taken: list[tuple[Run, tuple[int, ...], int, list[str]]] = field(default_factory=list)  # run, split, ways, relations
    unread: list[tuple[Run, str]] = field(default_factory=list)  # run, why


def resolve(runs: list[Run], fixed: dict[str, int | float | None], relations: list[Relation]) -> Outcome:
    """Choose the split of each run; ``fixed`` holds the cells read directly (None: not assessable)."""
    out = Outcome()
    # a run its digits decide is read as they say, relations or not (a wrong total stays wrong, for
    # the checks to find); it then counts as read for the others
    fixed = dict(fixed)
    for run in runs:
        if run.structural:
            split = run.candidates[0]  # type: ignore[index]
            for ref, v in zip(run.refs, split):
                out.values[ref] = fixed[ref] = v
                out.confidence[ref] = STRUCTURAL_CONFIDENCE
            out.taken.append((run, split, 1, []))
    runs = [r for r in runs if not r.structural]
    owner: dict[str, tuple[int, int]] = {}  # ref -> (run index, position)
    for i, run in enumerate(runs):
        for k, ref in enumerate(run.refs):
            owner[ref] = (i, k)
    # relations that can judge a split: they touch a run, and every other cell in them was read
    active = [r for r in relations
              if any(x in owner for x in r.refs)
              and all(x in owner or fixed.get(x) is not None for x in r.refs)]

    def holds(rel: Relation, assign: dict[int, tuple[int, ...]]) -> bool | None:
        total = 0
        for sign, refs in ((1, rel.plus), (-1, rel.minus)):
            for x in refs:
                if x in owner:
                    i, k = owner[x]
                    if i not in assign:
                        return None  # not decided yet
                    total += sign * assign[i][k]
                else:
                    total += sign * fixed[x]  # type: ignore[operator]
        return total == rel.const

    # 1. each run alone: relations within its own cells (a row total, a Table 四 group)
    domains: list[list[tuple[int, ...]] | None] = []
    for i, run in enumerate(runs):
        if run.candidates is None:
            domains.append(None)
            continue
        local = [r for r in active if all(owner.get(x, (None,))[0] == i or x not in owner for x in r.refs)]
        domains.append([c for c in run.candidates if all(holds(r, {i: c}) is not False for r in local)])
    # 2. together: the relations across runs (result columns, balance), by backtracking
    live = [i for i, d in enumerate(domains) if d]
    live.sort(key=lambda i: len(domains[i]))  # type: ignore[arg-type]
    cross = [r for r in active if len({owner[x][0] for x in r.refs if x in owner}) > 1]
    solutions: list[dict[int, tuple[int, ...]]] = []
    visits = [0]

    def search(j: int, assign: dict[int, tuple[int, ...]]) -> bool:
        if j == len(live):
            solutions.append(dict(assign))
            return len(solutions) < MAX_SOLUTIONS
        i = live[j]
        for cand in domains[i]:  # type: ignore[union-attr]
            visits[0] += 1
            if visits[0] > MAX_VISITS:
                return False
            assign[i] = cand
            if all(holds(r, assign) is not False for r in cross):
                if not search(j + 1, assign):
                    del assign[i]
                    return False
            del assign[i]
        return True

    complete = search(0, {}) if live else True
    for i, run in enumerate(runs):
        d = domains[i]
        if d is None:
            out.unread.append((run, "too_many"))
            continue
        if not d:
            out.unread.append((run, "no_split"))
            continue
        if not complete or not solutions:
            out.unread.append((run, "too_many" if not complete else "no_split"))
            continue
        chosen = {s[i] for s in solutions}
        if len(chosen) != 1:
            out.unread.append((run, "ambiguous"))
            continue
        split = chosen.pop()
        used = sorted({r.name for r in active if any(owner.get(x, (None,))[0] == i for x in r.refs)})
        for ref, v in zip(run.refs, split):
            out.values[ref] = v
            out.confidence[ref] = RESOLVED_CONFIDENCE
        out.taken.append((run, split, len(run.candidates or ()), used))
    return out
