"""Score a parsed report against the seed's hand-checked expected file: cells right, findings."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Score:
    cells: int = 0
    right: int = 0
    wrong: list[str] = field(default_factory=list)  # "table3.new.total: got 4, want 1"
    findings_missed: list[str] = field(default_factory=list)
    findings_false: list[str] = field(default_factory=list)
    corrections: list[str] = field(default_factory=list)  # the ocr_corrected warnings
    corrected_cells: set = field(default_factory=set)

    def add(self, other: "Score") -> None:
        self.cells += other.cells
        self.right += other.right
        self.wrong += other.wrong
        self.findings_missed += other.findings_missed
        self.findings_false += other.findings_false
        self.corrections += other.corrections

    @property
    def accuracy(self) -> float:
        return self.right / self.cells if self.cells else 0.0


def expected_cells(exp: dict) -> dict[str, object]:
    out: dict[str, object] = {}
    for table in ("table2", "table3", "table4"):
        for row, v in exp[table].items():
            if isinstance(v, list):
                cols = ("natural_person", "commercial_enterprise", "research_institution", "social_welfare_org",
                        "legal_service_org", "other_org", "total")
                for col, x in zip(cols, v):
                    out[f"{table}.{row}.{col}"] = x
            elif isinstance(v, dict):
                for col, x in v.items():
                    out[f"{table}.{row}.{col}"] = x
            else:
                out[f"{table}.{row}.value"] = v
    return out


def score(report, findings, expected_path: str | Path) -> Score:
    exp = json.loads(Path(expected_path).read_text("utf-8"))
    s = Score()
    got = {c.ref: (c.value if c.kind.assessable else None) for c in report.cells}
    for ref, want in expected_cells(exp).items():
        s.cells += 1
        have = got.get(ref)
        if have == want or (isinstance(want, (int, float)) and isinstance(have, (int, float)) and have == want):
            s.right += 1
        else:
            s.wrong.append(f"{ref}: got {have!r}, want {want!r}")
    want_rules = sorted(i["rule"] for i in exp["inconsistencies"])
    have_rules = sorted({f.rule for f in findings})
    s.findings_missed = [r for r in sorted(set(want_rules)) if r not in have_rules]
    s.findings_false = [f"{f.rule}: {f.message}" for f in findings if f.rule not in want_rules]
    s.corrections = [w.message for w in report.warnings if w.code == "ocr_corrected"]
    return s
