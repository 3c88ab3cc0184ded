"""Table numbers of the demo variants, generated so that relations 1-4 and 8-9 hold (or break where planted).

Every variant is built column by column: new + carried_over is split into results and
carried_forward, and the 总计 column is the sum of the six applicant columns, so row_total,
results_total and balance hold by construction; Table 四 totals are sums; in_force follows
in_force(Y-1) + issued - repealed.  Figures stay within a factor of about 1.5 of the year
before (no swing) and never repeat last year's numbers exactly (no "copied").
"""
from __future__ import annotations

import copy
import random

from storage.models import TABLE3_RESULT_ROWS, TABLE4_COLUMNS, TABLE4_GROUPS

RESULT_ROWS = TABLE3_RESULT_ROWS["2021"]
N_APPLICANT = 6

# How requests tend to end (weights); the rest of the result rows stay 0.
_RESULT_WEIGHTS = {
    "granted": 6, "partially_granted": 2, "withheld_third_party": 1, "withheld_process_info": 1,
    "unavailable_not_held": 3, "unavailable_needs_creation": 1, "rejected_petition": 1,
    "rejected_repeat": 1, "other_other": 1,
}


def _split(rng: random.Random, n: int) -> dict[str, int]:
    out = {k: 0 for k in RESULT_ROWS}
    keys, weights = zip(*_RESULT_WEIGHTS.items())
    for _ in range(n):
        out[rng.choices(keys, weights)[0]] += 1
    return out


def make_table3(rng: random.Random, scale: int, carried_over: list[int],
                carried_forward: list[int] | None = None) -> dict[str, list[int]]:
    """Table 三 with the given carried_over (6 applicant columns) and optionally a forced carried_forward."""
    new = [rng.randint(max(1, scale // 2), scale), rng.randint(0, max(1, scale // 3)), 0,
           rng.choice((0, 0, 1)), rng.choice((0, 0, 1)), rng.choice((0, 0, 1))]
    cf = []
    for c in range(N_APPLICANT):
        if carried_forward is not None:
            new[c] = max(new[c], carried_forward[c] - carried_over[c])
            cf.append(carried_forward[c])
        else:
            avail = new[c] + carried_over[c]
            cf.append(rng.choice((0, 0, 0, 1)) if c == 0 and avail > 2 else 0)
    rows: dict[str, list[int]] = {"new": new, "carried_over": list(carried_over)}
    for k in RESULT_ROWS:
        rows[k] = [0] * N_APPLICANT
    processed = []
    for c in range(N_APPLICANT):
        n = new[c] + carried_over[c] - cf[c]
        processed.append(n)
        for k, v in _split(rng, n).items():
            rows[k][c] = v
    rows["total_processed"] = processed
    rows["carried_forward"] = cf
    order = ("new", "carried_over", *RESULT_ROWS, "total_processed", "carried_forward")
    return {k: rows[k] + [sum(rows[k])] for k in order}


def make_table4(rng: random.Random) -> dict[str, dict[str, int]]:
    out = {}
    for g in TABLE4_GROUPS:
        vals = {c: 0 for c in TABLE4_COLUMNS}
        if g == "review":
            vals["upheld"] = rng.choice((0, 0, 1, 2))
            vals["pending"] = rng.choice((0, 0, 1))
        elif g == "litigation_direct":
            vals["upheld"] = rng.choice((0, 0, 0, 1))
        vals["total"] = sum(vals[c] for c in TABLE4_COLUMNS[:-1])
        out[g] = vals
    return out


def _near(rng: random.Random, v: int | float, lo: int = 0) -> int:
    """A figure near v that differs from it (kept within x1.5, so no swing)."""
    if v < 4:
        out = max(lo, int(v) + rng.choice((-1, 1, 2)))
    else:
        out = int(round(v * rng.uniform(0.75, 1.3)))
        if out == v:
            out += 1
    return max(out, lo)


def make_table2(rng: random.Random, prev: dict | None, kind: str) -> dict:
    """Table 二 for a year following ``prev`` (None: a first year with its own history)."""
    def block(prev_in_force: int, max_issued: int) -> dict:
        issued = rng.randint(0, max_issued)
        repealed = rng.randint(0, min(1, prev_in_force))
        return {"issued": issued, "repealed": repealed, "in_force": prev_in_force + issued - repealed}

    if prev is None:
        regs_base = rng.randint(2, 6) if kind == "government" else 0
        norm_base = rng.randint(3, 20)
        lic, pun, coe = rng.randint(40, 900), rng.randint(5, 150), rng.randint(0, 6)
    else:
        regs_base = prev["regulations"]["in_force"]
        norm_base = prev["normative_documents"]["in_force"]
        lic, pun, coe = (_near(rng, prev["licensing"]), _near(rng, prev["punishment"]),
                         _near(rng, prev["coercion"]))
    return {
        "regulations": block(regs_base, 1 if kind == "government" else 0),
        "normative_documents": block(norm_base, 3),
        "licensing": lic, "punishment": pun, "coercion": coe, "fees_wan_yuan": 0,
    }


def table2_before(rng: random.Random, after: dict) -> dict:
    """The year-before Table 二 that ``after`` (a seed) continues without breaking in_force_continuity."""
    out = {}
    for block in ("regulations", "normative_documents"):
        a = after[block]
        in_force = a["in_force"] - a["issued"] + a["repealed"]
        issued = rng.randint(0, in_force) if in_force else 0
        out[block] = {"issued": issued, "repealed": 0, "in_force": in_force}
    for k in ("licensing", "punishment", "coercion"):
        out[k] = _near(rng, after[k])
    out["fees_wan_yuan"] = after.get("fees_wan_yuan", 0)
    return out


def revise(table2: dict, table3: dict) -> tuple[dict, dict]:
    """A corrected edition: one more request granted and a few more licensing decisions."""
    t2, t3 = copy.deepcopy(table2), copy.deepcopy(table3)
    t2["licensing"] += 3
    for row in ("new", "granted", "total_processed"):
        t3[row][0] += 1
        t3[row][-1] += 1
    return t2, t3
