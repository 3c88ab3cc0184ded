"""One vocabulary: the national format's labels live in vocabulary/, nowhere else, and reach the database.

- vocabulary/ imports nothing of ours (it is the ground floor);
- the `labels` table is what the vocabulary says on every writable open (a stale label is rewritten,
  a dropped key removed), not only when the table is empty;
- the Datasette report template prints no table label of its own, the plugin and the checks keep no
  copy of one.
"""
from __future__ import annotations

import ast
import sqlite3
from pathlib import Path

from storage.db import Store
from vocabulary import template as V

ROOT = Path(__file__).resolve().parents[1]
OUR_PACKAGES = ("crawler", "spiders", "storage", "monitor", "tests")


def _imports(path: Path) -> set[str]:
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            out.add(node.module.split(".")[0])
    return out


def test_vocabulary_imports_nothing_of_ours():
    for path in sorted((ROOT / "vocabulary").glob("*.py")):
        ours = _imports(path) & set(OUR_PACKAGES)
        assert not ours, f"{path.name} imports {sorted(ours)}"


def test_the_old_template_module_is_gone():
    assert not (ROOT / "crawler" / "parsing" / "template.py").exists()
    for path in ROOT.rglob("*.py"):
        if ".venv" in path.parts or path.name == Path(__file__).name:
            continue
        text = path.read_text(encoding="utf-8")
        for old in ("crawler.parsing.template", "crawler.parsing import template", "crawler/parsing/template"):
            assert old not in text, f"{path.relative_to(ROOT)} still names {old}"


def _labels(path) -> dict:
    conn = sqlite3.connect(path)
    try:
        return {(r[0], r[1], r[2], r[3]): (r[4], r[5]) for r in conn.execute(
            'SELECT template, table_name, row, "column", row_label, column_label FROM labels')}
    finally:
        conn.close()


def _vocabulary() -> dict:
    return {(r["template"], r["table_name"], r["row"], r["column"]): (r["row_label"], r["column_label"])
            for r in V.all_labels()}


def test_new_database_has_the_vocabularys_labels(tmp_path):
    Store(tmp_path / "a.db").close()
    got = _labels(tmp_path / "a.db")
    assert got == _vocabulary()
    assert got[("2021", "table3", "withheld_state_secret", "total")] == ("（三）不予公开 1.属于国家秘密", "总计")
    assert got[("2019", "table2", "procurement", "amount")] == ("政府集中采购", "采购总金额")


def test_stale_labels_are_rewritten_on_open(tmp_path):
    path = tmp_path / "a.db"
    Store(path).close()
    conn = sqlite3.connect(path)
    # an older release's wrong label, a key the vocabulary no longer has, a missing row
    conn.execute("UPDATE labels SET row_label = '本年新收' WHERE table_name = 'table3' AND row = 'new'")
    conn.execute("INSERT INTO labels VALUES ('2021', 'table3', 'no_such_row', 'total', 'x', 'y')")
    conn.execute("DELETE FROM labels WHERE table_name = 'table4' AND row = 'review' AND \"column\" = 'pending'")
    conn.commit()
    conn.close()
    assert _labels(path) != _vocabulary()
    with Store(path) as s:
        assert s.sync_labels() is False  # already synced by the open
    assert _labels(path) == _vocabulary()


def test_report_template_prints_no_table_label_of_its_own():
    html = (ROOT / "storage" / "templates" / "nianbao_report.html").read_text(encoding="utf-8")
    printed = [*V.SECTION_HEADINGS.values(), V.TABLE2_CONTENT_HEADER, V.TABLE3_BALANCE_NOTE, *V.TABLE3_HEADER_GROUPS,
               *V.TABLE4_HEADERS, *V.TABLE2_BLOCKS_2019, *V.TABLE3_COLUMN_LABELS.values(),
               *V.TABLE4_COLUMN_LABELS.values()]
    for label in printed:
        assert label not in html, f"nianbao_report.html hard-codes {label!r}"


def test_no_copies_of_the_labels_elsewhere():
    """The row labels of Table 三 and the section headings appear in vocabulary/ only (comments aside)."""
    needles = [r.label for r in V.TABLE3_ROW_LABELS.values() if len(r.label) > 6] + list(V.SECTION_HEADINGS.values())
    needles += [n for n in V.TABLE3_ROW_NAMES.values() if "-" in n]
    for pkg in ("crawler", "spiders", "storage", "monitor"):
        for path in (ROOT / pkg).rglob("*"):
            # the demo prints reports as an agency would (its own data, being reshaped in crawler/demo/)
            if path.suffix not in (".py", ".html", ".j2") or "demo" in path.relative_to(ROOT).parts:
                continue
            code = path.read_text(encoding="utf-8")
            if path.suffix == ".py":  # docstrings and comments may quote a label
                code = "\n".join(ln for ln in code.splitlines() if not ln.lstrip().startswith("#"))
                tree = ast.parse(code)
                strings = [n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)]
                docs = {ast.get_docstring(n, clean=False) for n in ast.walk(tree)
                        if isinstance(n, (ast.Module, ast.FunctionDef, ast.ClassDef, ast.AsyncFunctionDef))}
                code = "\n".join(s for s in strings if s not in docs)
            for needle in needles:
                assert needle not in code, f"{path.relative_to(ROOT)} copies the label {needle!r}"
