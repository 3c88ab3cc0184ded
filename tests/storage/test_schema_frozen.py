"""Migrations are frozen: the schema a version gives never changes with the code around it.

tests/storage/fixtures/schema_by_version.json holds the schema (sqlite_master) each version gave the
databases that exist: versions 1-11 recorded before the migrations were frozen (the wide views were
then generated from the vocabulary on every start), version 12 from its SQL text before the migrations
went through sqlite-utils.  The migrations are now sqlite-utils calls where it can say the object, so
their SQL text differs from the recorded one; what must not differ is what the schema means.  A
database is rebuilt from each recorded text, and compared with a fresh migrate (and with an upgrade
from every older version) by a semantic fingerprint: tables and columns (PRAGMA table_xinfo: name,
type, not null, default, primary-key order), WITHOUT ROWID and STRICT, foreign keys with their
actions, CHECK constraints, indexes (columns, order, collation, unique, origin, partial WHERE), views'
columns, triggers, the full-text index's module, columns and options; then by behaviour on the same
sample data: every view's rows, full-text matches after inserts, an update and a delete, ON DELETE
actions, CHECK refusals.
"""
from __future__ import annotations

import ast
import json
import re
import sqlite3
from pathlib import Path

import pytest

from storage import schema
from storage.db import Store
from storage.models import SCALAR, TABLE2_LAYOUT, TABLE3_COLUMNS, TABLE4_COLUMNS

FIXTURE = Path(__file__).parent / "fixtures" / "schema_by_version.json"
SCHEMA_PY = Path(schema.__file__)
RECORDED = json.loads(FIXTURE.read_text(encoding="utf-8"))["schemas"]
VERSIONS = sorted(int(v) for v in RECORDED)
_FTS5_SHADOWS = ("data", "idx", "content", "docsize", "config")


# -- databases ---------------------------------------------------------------------------------------
def _connect() -> sqlite3.Connection:
    conn = sqlite3.connect(":memory:", isolation_level=None)
    conn.execute("PRAGMA foreign_keys = ON")  # as Store opens it
    return conn


def _migrated(upto: int | None = None, *, start: int | None = None) -> sqlite3.Connection:
    conn = _connect()
    if start is not None:
        schema.migrate(conn, upto=start)
    schema.migrate(conn, upto=upto)
    return conn


def _recorded(version: int, *, edit: tuple[str, str, str] | None = None) -> sqlite3.Connection:
    """A database whose schema is exactly the recorded sqlite_master text of ``version``.

    ``edit``: (object name, old, new), a change planted in one object's text (to show the
    comparison fails)."""
    objects = RECORDED[str(version)]
    virtual = {name for kind, name, _, sql in objects if kind == "table" and sql.upper().startswith("CREATE VIRTUAL")}
    shadows = {f"{v}_{s}" for v in virtual for s in _FTS5_SHADOWS}  # made by their virtual table
    order = {"table": 0, "index": 1, "view": 2, "trigger": 3}
    conn = _connect()
    hit = False
    for kind, name, _, sql in sorted(objects, key=lambda o: order[o[0]]):
        if name in shadows:
            continue
        if edit and edit[0] == name:
            assert edit[1] in sql, (edit, sql)
            sql, hit = sql.replace(edit[1], edit[2]), True
        conn.execute(sql)
    assert edit is None or hit
    return conn


# -- the semantic fingerprint ------------------------------------------------------------------------
def _norm(sql: str) -> str:
    """SQL text without its quoting, case and layout (for triggers, CHECKs and partial WHEREs)."""
    sql = re.sub(r'["`\[\]]', "", sql).lower()
    sql = re.sub(r"\s+", " ", sql)
    return re.sub(r"\s*([(),;=])\s*", r"\1", sql).strip()


def _checks(sql: str) -> list[str]:
    """The CHECK constraints of a CREATE TABLE, each as normalised text (outside quotes)."""
    out, i, n = [], 0, len(sql)
    while i < n:
        ch = sql[i]
        if ch in "'\"":
            i = sql.index(ch, i + 1) + 1
            continue
        if sql[i:i + 5].upper() == "CHECK" and not re.search(r"\w", sql[i - 1:i] + sql[i + 5:i + 6]):
            j = sql.index("(", i)
            depth, k = 0, j
            while True:
                depth += {"(": 1, ")": -1}.get(sql[k], 0)
                if depth == 0:
                    break
                k += 1
            out.append(_norm(sql[j:k + 1]))
            i = k + 1
            continue
        i += 1
    return sorted(out)


def _virtual(sql: str) -> tuple:
    """A virtual table's module, columns and options (quotes, case and order of options aside)."""
    m = re.search(r"USING\s+(\w+)\s*\((.*)\)\s*;?\s*$", sql, re.S | re.I)
    assert m, sql
    columns, options = [], {}
    for arg in (a.strip() for a in m.group(2).split(",")):
        if not arg:
            continue
        if "=" in arg:
            key, value = (p.strip() for p in arg.split("=", 1))
            options[key.lower()] = value.strip("'\"[]")
        else:
            columns.append(arg.strip("'\"[]`"))
    return m.group(1).lower(), tuple(columns), tuple(sorted(options.items()))


def fingerprint(conn: sqlite3.Connection) -> dict:
    out: dict = {}
    for name, kind, wr, strict in conn.execute(
            "SELECT name, type, wr, strict FROM pragma_table_list WHERE schema = 'main' "
            "AND name NOT LIKE 'sqlite_%' ORDER BY name"):
        sql = conn.execute("SELECT sql FROM sqlite_master WHERE name = ?", (name,)).fetchone()[0]
        columns = [(c[1], c[2].upper(), c[3], c[4], c[5], c[6])
                   for c in conn.execute("SELECT * FROM pragma_table_xinfo(?)", (name,))]
        entry: dict = {"kind": kind, "columns": columns}
        if kind == "view":
            out[name] = entry
            continue
        if kind == "virtual":
            entry["virtual"] = _virtual(sql)
        entry["without_rowid"], entry["strict"] = wr, strict
        fks: dict[int, list] = {}
        for fk in conn.execute("SELECT * FROM pragma_foreign_key_list(?)", (name,)):
            fks.setdefault(fk[0], []).append(fk)
        entry["foreign_keys"] = sorted(
            (rows[0][2], tuple(r[3] for r in rows), tuple(r[4] for r in rows), rows[0][5], rows[0][6], rows[0][7])
            for rows in fks.values())
        entry["checks"] = _checks(sql) if sql and kind == "table" else []
        indexes = []
        for _, iname, unique, origin, partial in conn.execute("SELECT * FROM pragma_index_list(?)", (name,)):
            keys = tuple((c[2], c[3], c[4]) for c in conn.execute("SELECT * FROM pragma_index_xinfo(?)", (iname,))
                         if c[5])
            where = None
            if partial:
                isql = conn.execute("SELECT sql FROM sqlite_master WHERE name = ?", (iname,)).fetchone()[0]
                where = _norm(re.split(r"\bWHERE\b", isql, maxsplit=1, flags=re.I)[1])
            indexes.append((iname, unique, origin, partial, keys, where))
        entry["indexes"] = sorted(indexes)
        out[name] = entry
    out["triggers"] = sorted((n, t, _norm(s)) for n, t, s in conn.execute(
        "SELECT name, tbl_name, sql FROM sqlite_master WHERE type = 'trigger'"))
    return out


# -- behaviour on the same data ----------------------------------------------------------------------
# Written by hand for these tests (never read from the code under test): two reports of a district,
# their cells in the three tables, findings open and resolved, a triage history, an outbox row.
T = "2025-02-01T08:00:00+00:00"
SAMPLE: list[tuple[str, list[dict]]] = [
    ("sites", [{"id": 1, "name": "bj-dx", "region": "北京市大兴区", "start_url": "http://www.bjdx.gov.cn/"}]),
    ("agencies", [{"id": 1, "site": "bj-dx", "name": "北京市大兴区卫生健康委员会", "norm": "大兴区卫生健康委员会",
                   "region": "北京市大兴区"},
                  {"id": 2, "name": "北京市大兴区人民政府", "norm": "大兴区人民政府", "kind": "government"}]),
    ("agency_aliases", [{"id": 1, "agency_id": 1, "site": "bj-dx", "alias": "区卫健委"}]),
    ("blobs", [{"sha256": "a1", "size": 3, "content": b"abc"}, {"sha256": "b2", "size": 4, "content": b"abcd"}]),
    ("runs", [{"id": 1, "kind": "crawl", "started": T, "finished": T, "status": "ok", "stats": "{}"}]),
    ("documents", [{"id": 1, "url": "http://www.bjdx.gov.cn/a.html", "site": "bj-dx", "first_seen": T,
                    "last_seen": T, "latest_version_id": 1},
                   {"id": 2, "url": "http://www.bjdx.gov.cn/b.pdf", "site": "bj-dx", "first_seen": T,
                    "last_seen": T, "latest_version_id": 2}]),
    ("document_versions", [{"id": 1, "document_id": 1, "sha256": "a1", "size": 3, "first_seen": T, "last_seen": T,
                            "first_run_id": 1, "parse_status": "parsed"},
                           {"id": 2, "document_id": 2, "sha256": "b2", "size": 4, "first_seen": T, "last_seen": T,
                            "parse_status": "parsed"}]),
    ("fetches", [{"id": 1, "run_id": 1, "url": "http://www.bjdx.gov.cn/a.html", "fetched_at": T,
                  "http_status": 200, "fetch_status": "new", "version_id": 1}]),
    ("reports", [{"id": 1, "report_url": "http://www.bjdx.gov.cn/a.html", "agency_id": 1,
                  "agency": "北京市大兴区卫生健康委员会", "site": "bj-dx", "region": "北京市大兴区", "year": 2024,
                  "template": "2021", "title": "2024年政府信息公开工作年度报告", "first_seen": T, "status": "parsed",
                  "version_id": 1, "document_id": 1, "source_url": "http://www.bjdx.gov.cn/a.html",
                  "text": "本年度共收到政府信息公开申请12件", "sections": "{}"},
                 {"id": 2, "report_url": "http://www.bjdx.gov.cn/b.pdf", "agency_id": 2,
                  "agency": "北京市大兴区人民政府", "site": "bj-dx", "year": 2023, "template": "2021",
                  "title": "2023年度报告", "first_seen": T, "status": "parsed", "version_id": 2, "document_id": 2,
                  "text": "依申请公开办理情况良好", "sections": "{}"}]),
    ("cells", [{"report_id": 1, "table_name": "table2", "row": "regulations", "column": "made", "value": 3,
                "raw": "3", "kind": "NUMERIC"},
               {"report_id": 1, "table_name": "table2", "row": "licensing", "column": "decisions", "value": 120,
                "raw": "120", "kind": "NUMERIC"},
               {"report_id": 1, "table_name": "table2", "row": "fees", "column": "change", "value": 1.5,
                "raw": "1.5", "kind": "NUMERIC"},
               {"report_id": 1, "table_name": "table2", "row": "procurement", "column": "amount",
                "value": "12万元", "raw": "12万元", "kind": "TEXT"},
               {"report_id": 1, "table_name": "table3", "row": "new", "column": "total", "value": 12,
                "raw": "12", "kind": "NUMERIC", "label": "一、本年新收政府信息公开申请数量"},
               {"report_id": 1, "table_name": "table3", "row": "new", "column": "natural_person", "value": 10,
                "raw": "10", "kind": "NUMERIC", "label": "一、本年新收政府信息公开申请数量"},
               {"report_id": 1, "table_name": "table4", "row": "review", "column": "upheld", "value": 1,
                "raw": "1", "kind": "NUMERIC", "label": "行政复议"},
               {"report_id": 2, "table_name": "table2", "row": "licensing", "column": "value", "value": 7,
                "raw": "7", "kind": "NUMERIC"},
               {"report_id": 2, "table_name": "table3", "row": "new", "column": "total", "value": 0,
                "raw": "0", "kind": "ZERO"}]),
    ("warnings", [{"report_id": 1, "seq": 0, "code": "ocr", "message": "读数不确定", "cell": "table3.new.total"}]),
    ("report_text", [{"report_id": 1, "agency": "北京市大兴区卫生健康委员会", "year": 2024,
                      "title": "2024年政府信息公开工作年度报告", "text": "本年度共收到政府信息公开申请12件",
                      "sections": "{}"},
                     {"report_id": 2, "agency": "北京市大兴区人民政府", "year": 2023, "title": "2023年度报告",
                      "text": "依申请公开办理情况良好", "sections": "{}"}]),
    ("findings", [{"id": 1, "fingerprint": "f1", "rule": "row_total", "severity": "error", "agency_id": 1,
                   "year": 2024, "report_id": 1, "site": "bj-dx", "first_seen": T, "last_seen": T},
                  {"id": 2, "fingerprint": "f2", "rule": "results_total", "severity": "warning", "report_id": 1,
                   "first_seen": T, "last_seen": T, "resolved_at": T},
                  {"id": 3, "fingerprint": "f3", "rule": "row_total", "severity": "error", "report_id": 2,
                   "first_seen": T, "last_seen": T, "alerted": 1}]),
    ("events", [{"id": 1, "kind": "report_revised", "at": T, "document_id": 1, "version_id": 1, "report_id": 1,
                 "run_id": 1}]),
    ("outbox", [{"id": 1, "key": "k1", "recipients": "[\"a@x.gov.cn\"]", "subject": "新问题", "created_at": T,
                 "fingerprints": "[\"f3\"]"}]),
    ("labels", [{"template": "2021", "table_name": "table3", "row": "new", "column": "total",
                 "row_label": "一、本年新收政府信息公开申请数量", "column_label": "总计"}]),
    ("triage", [{"id": 1, "fingerprint": "f1", "finding_id": 1, "state": "confirmed", "actor": "officer", "at": T},
                {"id": 2, "fingerprint": "f1", "finding_id": 1, "state": "reopened", "actor": "nianbao", "at": T},
                {"id": 3, "fingerprint": "f3", "finding_id": 3, "state": "dismissed", "actor": "officer", "at": T,
                 "note": "误报"}]),
]


def _sorted(rows) -> list:
    return sorted((tuple(r) for r in rows), key=repr)


def behaviour(conn: sqlite3.Connection) -> dict:
    """What the schema does with the sample data: view rows, matches, cascades, refusals."""
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    conn.execute("BEGIN")
    for table, rows in SAMPLE:
        if table not in tables:
            continue
        cols = {r[1] for r in conn.execute(f'PRAGMA table_info("{table}")')}
        for row in rows:
            keys = [k for k in row if k in cols]
            conn.execute(f'INSERT INTO "{table}" ({", ".join(f"[{k}]" for k in keys)}) '
                         f'VALUES ({", ".join("?" * len(keys))})', [row[k] for k in keys])
    conn.execute("COMMIT")
    out: dict = {}
    views = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'view' ORDER BY name")]
    for view in views:
        cur = conn.execute(f'SELECT * FROM "{view}"')
        out[f"view {view}"] = ([d[0] for d in cur.description], _sorted(cur.fetchall()))
    fts = "report_text_fts" in tables

    def matches(label: str) -> None:
        if fts:
            for q in ("信息公开", "大兴区", "办理情况", "公开申请12"):
                out[f"{label} {q}"] = [r[0] for r in conn.execute(
                    "SELECT rowid FROM report_text_fts WHERE report_text_fts MATCH ? ORDER BY rowid", (f'"{q}"',))]

    matches("match")
    if "report_text" in tables:
        conn.execute("UPDATE report_text SET text = '信息公开申请办理情况' WHERE report_id = 1")
        matches("after update")
    if "triage" in tables:
        try:
            conn.execute("INSERT INTO triage (fingerprint, state, actor, at) VALUES ('f2', 'maybe', 'x', ?)", (T,))
            out["check"] = "accepted"
        except sqlite3.IntegrityError as e:
            out["check"] = str(e)
    try:
        conn.execute("INSERT INTO documents (url, first_seen, last_seen) VALUES ('http://www.bjdx.gov.cn/a.html', ?, ?)",
                     (T, T))
        out["unique"] = "accepted"
    except sqlite3.IntegrityError as e:
        out["unique"] = str(e)
    conn.execute("DELETE FROM reports WHERE id = 1")  # ON DELETE: CASCADE / SET NULL
    for table in ("cells", "warnings", "report_text", "findings", "events", "triage"):
        if table in tables:
            out[f"after delete {table}"] = _sorted(conn.execute(f'SELECT * FROM "{table}"'))
    for view in views:
        out[f"after delete view {view}"] = _sorted(conn.execute(f'SELECT * FROM "{view}"'))
    matches("after delete")
    out["integrity"] = conn.execute("PRAGMA integrity_check").fetchone()[0]
    out["foreign keys"] = conn.execute("PRAGMA foreign_key_check").fetchall()
    return out


# -- the comparisons ---------------------------------------------------------------------------------
@pytest.mark.parametrize("version", VERSIONS)
def test_fresh_migrate_means_the_schema_existing_databases_have(version):
    assert fingerprint(_migrated(version)) == fingerprint(_recorded(version))
    assert behaviour(_migrated(version)) == behaviour(_recorded(version))


def test_every_version_is_recorded():
    assert VERSIONS == list(range(1, schema.LATEST + 1)), "record the schema of a new version in the fixture"


@pytest.mark.parametrize("version", range(1, schema.LATEST))
def test_upgrade_from_every_version_gives_the_fresh_schema(version):
    assert fingerprint(_migrated(start=version)) == fingerprint(_migrated())
    assert behaviour(_migrated(start=version)) == behaviour(_migrated())


def test_sqlite_utils_made_objects_where_it_can():
    """The fresh schema really is sqlite-utils' (its quoting), not the recorded SQL pasted back."""
    made = dict(_migrated().execute("SELECT name, sql FROM sqlite_master WHERE sql IS NOT NULL").fetchall())
    for name in ("agencies", "runs", "fetches", "warnings", "events", "labels", "report_text", "blobs",
                 "idx_findings_open", "report_list", "finding_triage", "table2_wide", "report_text_fts"):
        assert made[name].startswith(('CREATE TABLE "', 'CREATE INDEX "', 'CREATE VIEW "', 'CREATE VIRTUAL TABLE "')), name
    assert '"confidence" REAL' in made["cells"] and '"checks_due" INTEGER NOT NULL DEFAULT 0' in made["reports"]


# the comparison can fail: each planted change to a recorded schema is seen (by the fingerprint or
# by the behaviour), including the ones sqlite-utils would make if it stood in for SQL it cannot say
PLANTED = [
    ("findings", "ON DELETE SET NULL", ""),                                  # a foreign-key action
    ("reports", "report_url TEXT NOT NULL UNIQUE", "report_url TEXT NOT NULL"),  # a UNIQUE constraint
    ("triage", "CHECK (state IN ('confirmed', 'dismissed', 'fixed', 'reopened'))", ""),  # a CHECK
    ("cells", ") WITHOUT ROWID", ")"),                                        # WITHOUT ROWID
    ("cells", "    value,", "    value TEXT,"),                               # a column's type
    ("agencies", "DEFAULT 'department'", "DEFAULT 'government'"),             # a default
    ("idx_findings_open", "findings(resolved_at, alerted)", "findings(alerted, resolved_at)"),  # column order
    ("report_list", "f.resolved_at IS NULL", "f.resolved_at IS NOT NULL"),    # a view's rows, same columns
    ("report_text_fts", "tokenize='trigram'", "tokenize='unicode61'"),        # the FTS tokenizer
    ("report_text_au", "VALUES (new.rowid", "VALUES (old.rowid"),             # a trigger
]


@pytest.mark.parametrize("edit", PLANTED, ids=[p[0] + ":" + p[1][:20] for p in PLANTED])
def test_the_comparison_sees_a_planted_difference(edit):
    version = schema.LATEST
    same = fingerprint(_recorded(version)) == fingerprint(_recorded(version, edit=edit)) and \
        behaviour(_recorded(version)) == behaviour(_recorded(version, edit=edit))
    assert not same, f"planted change not seen: {edit}"


def test_unique_index_in_place_of_a_constraint_is_not_equivalent():
    """Why UNIQUE columns stay SQL: a unique index instead differs from the databases that exist."""
    planted = _recorded(schema.LATEST, edit=("outbox", "key TEXT NOT NULL UNIQUE", "key TEXT NOT NULL"))
    planted.execute('CREATE UNIQUE INDEX "idx_outbox_key" ON "outbox" ("key")')
    assert fingerprint(planted) != fingerprint(_recorded(schema.LATEST))


def test_a_database_at_the_latest_version_opens_unchanged(tmp_path):
    """A database made by the SQL-text migrations (its recorded schema) opens with nothing re-run or
    rewritten, and works: a report saved, loaded and found."""
    from storage_helpers import doc, expected, report_from_expected

    path = tmp_path / "old.db"
    conn = _recorded(schema.LATEST)
    conn.execute(f"VACUUM INTO '{path}'")
    old = sqlite3.connect(path, isolation_level=None)
    old.executemany("INSERT INTO schema_migrations VALUES (?, ?, '2026-11-30T00:00:00+00:00')",
                    [(v, n) for v, n, _ in schema.MIGRATIONS])
    before = old.execute("SELECT type, name, sql FROM sqlite_master ORDER BY name").fetchall()
    old.close()
    with Store(path) as store:
        assert store.schema_version == schema.LATEST
        rid = store.save_report(report_from_expected(expected("001"), text="本年度共受理政府信息公开申请1件"),
                                version_id=store.save_document(doc("http://x.gov.cn/1.html", b"p")).version_id,
                                report_url="http://x.gov.cn/1.html")
        assert store.load_report(rid).agency == expected("001")["agency"]
        assert [r["report_id"] for r in store.search("政府信息公开")] == [rid]
        assert store.conn.execute("SELECT COUNT(*) FROM schema_migrations WHERE applied_at != "
                                  "'2026-11-30T00:00:00+00:00'").fetchone()[0] == 0
        after = [tuple(r) for r in store.conn.execute("SELECT type, name, sql FROM sqlite_master ORDER BY name")]
        assert after == before


# -- no migration is built from code -----------------------------------------------------------------
def _module_names(tree: ast.Module) -> dict[str, ast.AST]:
    out: dict[str, ast.AST] = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            out[node.targets[0].id] = node.value
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.value is not None:
            out[node.target.id] = node.value
        elif isinstance(node, ast.FunctionDef):
            out[node.name] = node
    return out


def _is_frozen(expr: ast.expr, names: dict[str, ast.AST]) -> bool:
    """A literal: a constant, a list/tuple/set/dict of literals, a module name bound to a string
    literal (or a + of those), a ForeignKey(...) of literals.  No other call, no f-string, no lookup."""
    if isinstance(expr, ast.Constant):
        return True
    if isinstance(expr, (ast.List, ast.Tuple, ast.Set)):
        return all(_is_frozen(e, names) for e in expr.elts)
    if isinstance(expr, ast.Dict):
        return all(isinstance(k, ast.Constant) for k in expr.keys) and all(_is_frozen(v, names) for v in expr.values)
    if isinstance(expr, ast.BinOp) and isinstance(expr.op, ast.Add):
        return _is_frozen(expr.left, names) and _is_frozen(expr.right, names)
    if isinstance(expr, ast.Name) and isinstance(names.get(expr.id), ast.expr):
        return _is_frozen_text(names[expr.id], names)
    if isinstance(expr, ast.Call) and isinstance(expr.func, ast.Name) and expr.func.id == "ForeignKey":
        return _frozen_args(expr, names)
    return False


def _is_frozen_text(expr: ast.AST, names: dict[str, ast.AST]) -> bool:
    """A module-level SQL text: a string literal, or a + of string literals and such names."""
    if isinstance(expr, ast.Constant):
        return isinstance(expr.value, str)
    if isinstance(expr, ast.BinOp) and isinstance(expr.op, ast.Add):
        return _is_frozen_text(expr.left, names) and _is_frozen_text(expr.right, names)
    if isinstance(expr, ast.Name) and isinstance(names.get(expr.id), ast.expr):
        return _is_frozen_text(names[expr.id], names)
    return False


def _frozen_args(call: ast.Call, names: dict[str, ast.AST]) -> bool:
    return all(_is_frozen(a, names) for a in call.args) and \
        all(k.arg is not None and _is_frozen(k.value, names) for k in call.keywords)


def _on_db(expr: ast.expr, db: str, names: dict[str, ast.AST]) -> bool:
    """``db``, ``db["t"]``, ``db.x``, ``db.view("v")``...: a receiver reached from the database alone."""
    if isinstance(expr, ast.Name):
        return expr.id == db
    if isinstance(expr, ast.Subscript):
        return isinstance(expr.slice, ast.Constant) and isinstance(expr.slice.value, str) and \
            _on_db(expr.value, db, names)
    if isinstance(expr, ast.Attribute):
        return _on_db(expr.value, db, names)
    if isinstance(expr, ast.Call):
        return _on_db(expr.func, db, names) and _frozen_args(expr, names)
    return False


def _migration_problems(fn: ast.AST, names: dict[str, ast.AST]) -> list[str]:
    """Why a migration is not frozen: it must be ``def _vN(db)`` whose body is a straight list of
    calls on ``db`` (sqlite-utils) or ``_sql(db, TEXT)``, every argument a literal."""
    if not isinstance(fn, ast.FunctionDef):
        return ["not a module-level function"]
    args = fn.args
    if len(args.args) != 1 or args.vararg or args.kwarg or args.kwonlyargs or args.defaults or fn.decorator_list:
        return ["takes more than the database"]
    db = args.args[0].arg
    problems = []
    for i, stmt in enumerate(fn.body):
        if i == 0 and isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant):
            continue  # docstring
        call = stmt.value if isinstance(stmt, ast.Expr) else None
        if not isinstance(call, ast.Call):
            problems.append(f"line {stmt.lineno}: not a call: {ast.unparse(stmt)[:80]}")
        elif isinstance(call.func, ast.Name) and call.func.id == "_sql":
            if not (len(call.args) == 2 and not call.keywords and isinstance(call.args[0], ast.Name)
                    and call.args[0].id == db and _is_frozen_text(call.args[1], names)):
                problems.append(f"line {stmt.lineno}: SQL not frozen text: {ast.unparse(call)[:80]}")
        elif not (isinstance(call.func, ast.Attribute) and _on_db(call.func.value, db, names)
                  and _frozen_args(call, names)):
            problems.append(f"line {stmt.lineno}: not a sqlite-utils call with literal arguments: "
                            f"{ast.unparse(call)[:80]}")
    return problems


def _all_problems(source: str) -> dict[int, list[str]]:
    tree = ast.parse(source)
    names = _module_names(tree)
    migrations = names["MIGRATIONS"]
    assert isinstance(migrations, ast.List) and migrations.elts
    out = {}
    for entry in migrations.elts:
        assert isinstance(entry, ast.Tuple) and len(entry.elts) == 3, ast.unparse(entry)
        version, _, fn = entry.elts
        assert isinstance(version, ast.Constant) and isinstance(fn, ast.Name), ast.unparse(entry)
        out[version.value] = _migration_problems(names.get(fn.id), names)
    # nothing in the module may be imported that a migration could read the models or vocabulary by:
    # schema.py imports only what the executor needs, and SCALAR for table2_wide_column (not a migration)
    return out


def test_no_migration_is_built_from_code():
    problems = _all_problems(SCHEMA_PY.read_text(encoding="utf-8"))
    assert {v: p for v, p in problems.items() if p} == {}
    assert sorted(problems) == [v for v, _, _ in schema.MIGRATIONS] == list(range(1, schema.LATEST + 1))


def test_migrations_do_not_import_the_models_or_the_vocabulary():
    tree = ast.parse(SCHEMA_PY.read_text(encoding="utf-8"))
    imported = {(n.module or "") + ":" + a.name for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) for a in n.names}
    imported |= {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    assert not any("vocabulary" in i for i in imported), imported
    assert [i for i in imported if i.startswith("storage")] == ["storage.models:SCALAR"]  # table2_wide_column's only
    used = {n.id for fn in ast.walk(tree) if isinstance(fn, ast.FunctionDef) and re.fullmatch(r"_v\d+", fn.name)
            for n in ast.walk(fn) if isinstance(n, ast.Name)}
    assert "SCALAR" not in used


PLANTED_CODE = {
    "loop over fields": "def _v1(db):\n    for f in FIELDS:\n        db['x'].add_column(f, 'TEXT')\n",
    "computed columns": "def _v1(db):\n    db.create_table('x', {f: 'TEXT' for f in FIELDS}, pk='id')\n",
    "a call in an argument": "def _v1(db):\n    db['x'].create_index(index_columns(), index_name='i')\n",
    "a model's name": "def _v1(db):\n    db.create_table('x', FIELDS, pk='id')\n",
    "an f-string view": "def _v1(db):\n    db.create_view('v', f'SELECT {A}')\n",
    "generated SQL": "def _v1(db):\n    _sql(db, make_sql())\n",
    "an import": "def _v1(db):\n    from storage.models import FIELDS\n    db.create_table('x', {'a': 'TEXT'})\n",
    "a receiver from code": "def _v1(db):\n    tables()['x'].create_index(['a'], index_name='i')\n",
    "a lookup": "def _v1(db):\n    db[TABLE].add_column('a', 'TEXT')\n",
    "a lambda": "_v1 = lambda db: db.create_view('v', 'SELECT 1')\n",
}


@pytest.mark.parametrize("kind", sorted(PLANTED_CODE))
def test_frozen_check_refuses_a_planted_violation(kind):
    source = ("A = 'SELECT 1'\nFIELDS = make_fields()\nTABLE = 'x'\n" + PLANTED_CODE[kind]
              + "MIGRATIONS = [(1, 'one', _v1)]\n")
    assert _all_problems(source)[1], kind


def test_frozen_check_accepts_literal_calls():
    source = ("A = 'SELECT 1'\nB = A + ' UNION SELECT 2'\n"
              "def _v1(db):\n"
              "    '''docstring'''\n"
              "    db.create_table('x', {'id': 'INTEGER', 'r': 'INTEGER'}, pk='id', not_null=['r'],\n"
              "                    foreign_keys=[ForeignKey('x', 'r', 'reports', 'id', on_delete='CASCADE')])\n"
              "    db['x'].create_index(['r'], index_name='idx_x_r', if_not_exists=True)\n"
              "    db.view('v').drop()\n"
              "    db.create_view('v', B)\n"
              "    _sql(db, 'CREATE TABLE y (a) WITHOUT ROWID')\n"
              "MIGRATIONS = [(1, 'one', _v1)]\n")
    assert _all_problems(source) == {1: []}


def test_wide_views_still_cover_the_vocabulary():
    """When the vocabulary gains a key the frozen views lack, a NEW migration must recreate them."""
    conn = _migrated()
    t2 = {r[1] for r in conn.execute("PRAGMA table_info(table2_wide)")}
    want = {schema.table2_wide_column(row, col) for layout in TABLE2_LAYOUT.values()
            for row, cols in layout.items() for col in (cols or (SCALAR,))}
    assert want <= t2, f"table2_wide lacks {sorted(want - t2)}: add a migration recreating the wide views"
    assert set(TABLE3_COLUMNS) <= {r[1] for r in conn.execute("PRAGMA table_info(table3_wide)")}
    assert set(TABLE4_COLUMNS) <= {r[1] for r in conn.execute("PRAGMA table_info(table4_wide)")}
