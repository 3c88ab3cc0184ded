"""README states only what the code does: its dependency table and pyproject.toml's dependencies are
checked against the product's own import statements (scripts/dependency_table.py)."""
from __future__ import annotations

import importlib.util
import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("dependency_table", ROOT / "scripts" / "dependency_table.py")
deps = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(deps)


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~\[; ]", requirement, maxsplit=1)[0].lower().replace("_", "-")


def _declared() -> set[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    return {_name(r) for r in project["dependencies"]}


def test_readme_dependency_table_is_the_codes():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert deps.readme_table(readme) == deps.table(), "run scripts/dependency_table.py and paste its table"


#: Declared, used, never imported: Datasette loads its plugins through their entry points.
LOADED_NOT_IMPORTED = {"datasette-auth-passwords"}


def test_every_imported_distribution_is_declared_and_every_declared_one_imported():
    imported = {d.lower() for part in deps.imported_distributions().values() for dist in part for d in dist.split(", ")}
    declared = _declared()
    assert imported - declared == set(), "imported by the product but not in [project] dependencies"
    assert declared - imported - LOADED_NOT_IMPORTED == set(), \
        "declared in [project] dependencies but never imported by the product"
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert all(name in readme for name in LOADED_NOT_IMPORTED), "README names the plugins Datasette loads"


def test_no_claim_of_a_library_the_product_does_not_use():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    imported = {d.lower() for part in deps.imported_distributions().values() for dist in part for d in dist.split(", ")}
    assert "defusedxml" not in readme.lower() or "defusedxml" in imported
    assert "every chinese label" not in readme.lower()
