"""The rules page names every rule of the code (it is hand-written: this keeps it honest)."""
from pathlib import Path

from monitor.checks.categories import CATEGORIES
from monitor.checks.runner import ALL_RULES

DOC = (Path(__file__).resolve().parents[1] / "docs" / "rules.md").read_text(encoding="utf-8")


def test_every_rule_is_documented_with_its_category():
    for rule in ALL_RULES:
        row = next((line for line in DOC.splitlines() if line.startswith(f"| `{rule}` |")), None)
        assert row, f"docs/rules.md has no row for {rule}"
        assert CATEGORIES[rule] in row, f"docs/rules.md: {rule} should show its category {CATEGORIES[rule]}"


def test_no_documented_rule_is_unknown_to_the_code():
    documented = {line.split("`")[1] for line in DOC.splitlines() if line.startswith("| `")}
    assert documented <= set(ALL_RULES)
