"""The copied-text rule at national size: MinHash LSH candidates find what comparing every pair finds.

The corpus is made from the five real seed reports: their narrative sentences, shuffled and
recombined, give hundreds of distinct reports that share the boilerplate real reports share (the
条例's phrases, the same 工作部署), which is what makes candidate filtering hard.  Into it go
copies of one real narrative, the way offices copy: another agency's name, other numbers, a few
words changed.
"""
from __future__ import annotations

import random
import re
from pathlib import Path

import pytest

from monitor.checks import cross_year
from storage.models import Report

SEEDS = Path(__file__).resolve().parents[1] / "fixtures" / "seeds"


def _sentences() -> list[str]:
    out: list[str] = []
    for path in sorted(SEEDS.glob("*.txt")):
        text = path.read_text(encoding="utf-8")
        body = text.split("二、主动公开政府信息情况")[0]  # the narrative before the tables
        out += [s for s in re.split(r"(?<=[。；])", body) if len(s) > 15 and "|" not in s]
    return out


def _report(agency: str, overview: str) -> Report:
    return Report(agency=agency, year=2024, sections={"overview": overview, "problems": "", "other": ""})


def _copy_with_edits(text: str, rng: random.Random, edits: int) -> str:
    """A copy as offices make them: numbers changed, a few characters replaced here and there."""
    out = re.sub(r"\d+", lambda m: str(int(m.group()) + rng.randint(1, 9)), text)
    chars = list(out)
    for pos in rng.sample(range(len(chars)), edits):
        chars[pos] = rng.choice("的了在和对为将把")
    return "".join(chars)


@pytest.fixture(scope="module")
def corpus() -> tuple[list[Report], set[frozenset[str]]]:
    rng = random.Random(2024)
    sentences = _sentences()
    assert len(sentences) > 60, "the seeds' narratives give enough sentences to recombine"
    reports = [_report(f"示例市第{i}局", "".join(rng.sample(sentences, 12))) for i in range(400)]
    original = reports[17].sections["overview"]
    # three copies of report 17: verbatim, with numbers changed, with scattered word edits
    copies = [_report("复制甲局", original),
              _report("复制乙局", _copy_with_edits(original, rng, 0)),
              _report("复制丙局", _copy_with_edits(original, rng, len(original) // 60))]
    reports += copies
    rng.shuffle(reports)
    planted = {frozenset(("示例市第17局", c.agency)) for c in copies} | \
              {frozenset((a.agency, b.agency)) for a in copies for b in copies if a is not b}
    return reports, planted


def _pairs(reports: list[Report], method: str, cutoff: float = 0.95) -> dict[frozenset[str], float]:
    prepared = cross_year.Prepared()
    prepared.compare_all(reports, cutoff, method=method)
    found: dict[frozenset[str], float] = {}
    for a in reports:
        for b in reports:
            if a is not b:
                sim = cross_year.text_similarity(a, b, prepared, cutoff=cutoff)
                if sim and sim >= cutoff:
                    found[frozenset((a.agency, b.agency))] = sim
    return found


def test_lsh_finds_exactly_what_every_pair_finds(corpus):
    reports, planted = corpus
    exact = _pairs(reports, "exact")
    lsh = _pairs(reports, "lsh")
    assert set(exact) == planted, "the corpus has only the planted copies above the threshold"
    assert lsh == exact


def test_lsh_scores_far_fewer_pairs_than_every_pair(corpus):
    reports, _ = corpus
    texts = [cross_year.narrative(r) for r in reports]
    candidates = cross_year.candidate_pairs(texts)
    every = len(texts) * (len(texts) - 1) // 2
    assert len(candidates) < every / 20, (len(candidates), every)


def test_auto_uses_lsh_for_large_groups_and_copied_still_reports(corpus):
    reports, planted = corpus
    assert len(reports) >= cross_year.LSH_MIN_GROUP
    prepared = cross_year.Prepared()
    prepared.compare_all(reports, 0.95)  # auto
    copy = next(r for r in reports if r.agency == "复制丙局")
    others = [cross_year.Counterpart(o, "other_agency") for o in reports if o is not copy]
    found = cross_year.copied(copy, others, threshold=0.95, prepared=prepared)
    assert {f.numbers["other_agency"] for f in found} == {"示例市第17局", "复制甲局", "复制乙局"}
