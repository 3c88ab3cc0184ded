"""Migrations are frozen text: the schema a version gives never changes with the code around it.

tests/storage/fixtures/schema_by_version.json holds the schema (sqlite_master) each version gave the
databases that exist, recorded before the migrations were frozen (the wide views were then generated
from the vocabulary on every start, so a vocabulary change would have silently changed old migrations).
"""
from __future__ import annotations

import ast
import json
import sqlite3
from pathlib import Path

import pytest

from storage import schema
from storage.models import SCALAR, TABLE2_LAYOUT, TABLE3_COLUMNS, TABLE4_COLUMNS

FIXTURE = Path(__file__).parent / "fixtures" / "schema_by_version.json"
SCHEMA_PY = Path(schema.__file__)


def _schema(conn: sqlite3.Connection) -> list[list]:
    return [list(r) for r in conn.execute(
        "SELECT type, name, tbl_name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' ORDER BY type, name")]


def _migrated(upto: int | None = None, *, start: int | None = None) -> sqlite3.Connection:
    conn = sqlite3.connect(":memory:", isolation_level=None)
    if start is not None:
        schema.migrate(conn, upto=start)
    schema.migrate(conn, upto=upto)
    return conn


RECORDED = json.loads(FIXTURE.read_text(encoding="utf-8"))["schemas"]


@pytest.mark.parametrize("version", sorted(int(v) for v in RECORDED))
def test_fresh_migrate_gives_the_schema_existing_databases_have(version):
    assert _schema(_migrated(version)) == RECORDED[str(version)]


@pytest.mark.parametrize("version", range(1, schema.LATEST))
def test_upgrade_from_every_version_gives_the_fresh_schema(version):
    assert _schema(_migrated(start=version)) == _schema(_migrated())


def _module_strings(tree: ast.Module) -> dict[str, ast.expr]:
    out = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            out[node.targets[0].id] = node.value
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.value is not None:
            out[node.target.id] = node.value
    return out


def _is_frozen(expr: ast.expr, names: dict[str, ast.expr]) -> bool:
    """A string literal, a module name bound to one, or a + of those: no call, no f-string, no lookup."""
    if isinstance(expr, ast.Constant):
        return isinstance(expr.value, str)
    if isinstance(expr, ast.BinOp) and isinstance(expr.op, ast.Add):
        return _is_frozen(expr.left, names) and _is_frozen(expr.right, names)
    if isinstance(expr, ast.Name) and expr.id in names:
        return _is_frozen(names[expr.id], names)
    return False


def test_no_migration_text_references_runtime_code():
    tree = ast.parse(SCHEMA_PY.read_text(encoding="utf-8"))
    names = _module_strings(tree)
    migrations = names["MIGRATIONS"]
    assert isinstance(migrations, ast.List) and migrations.elts
    for entry in migrations.elts:
        assert isinstance(entry, ast.Tuple) and len(entry.elts) == 3
        version, _, script = entry.elts
        assert isinstance(version, ast.Constant), ast.unparse(entry)
        assert _is_frozen(script, names), f"migration {version.value} is built from code: {ast.unparse(script)}"
    assert [v for v, _, _ in schema.MIGRATIONS] == list(range(1, schema.LATEST + 1))


def test_frozen_check_catches_a_generated_migration():
    # the check itself can fail: a script made by a call or an f-string is refused
    names = _module_strings(ast.parse("A = 'x'\nB = f'{A}'\nC = make()\nD = A + 'y'\n"))
    assert _is_frozen(names["D"], names)
    assert not _is_frozen(names["B"], names) and not _is_frozen(names["C"], names)


def test_wide_views_still_cover_the_vocabulary():
    """When the vocabulary gains a key the frozen views lack, a NEW migration must recreate them."""
    conn = _migrated()
    t2 = {r[1] for r in conn.execute("PRAGMA table_info(table2_wide)")}
    want = {schema.table2_wide_column(row, col) for layout in TABLE2_LAYOUT.values()
            for row, cols in layout.items() for col in (cols or (SCALAR,))}
    assert want <= t2, f"table2_wide lacks {sorted(want - t2)}: add a migration recreating the wide views"
    assert set(TABLE3_COLUMNS) <= {r[1] for r in conn.execute("PRAGMA table_info(table3_wide)")}
    assert set(TABLE4_COLUMNS) <= {r[1] for r in conn.execute("PRAGMA table_info(table4_wide)")}
