"""One vocabulary: the national format's labels live in vocabulary/, nowhere else, and reach the database.

- vocabulary/ imports nothing of ours (it is the ground floor);
- the `labels` table is what the vocabulary says on every writable open (a stale label is rewritten,
  a dropped key removed), not only when the table is empty;
- the Datasette report template prints no table label of its own;
- no product file outside vocabulary/ (parsing, spiders, storage, the Datasette plugin and templates, the
  monitor, the demo) spells a label of the template: every label string of vocabulary/template.py is
  searched for in every string constant and template text (``label_copies``).
"""
from __future__ import annotations

import ast
import dataclasses
import re
import sqlite3
from pathlib import Path

from import_scan import imported_packages as _imports
from storage.db import Store
from vocabulary import template as V

ROOT = Path(__file__).resolve().parents[1]
OUR_PACKAGES = ("crawler", "spiders", "storage", "monitor", "tests")


def test_vocabulary_imports_nothing_of_ours():
    for path in sorted((ROOT / "vocabulary").glob("*.py")):
        ours = _imports(path) & set(OUR_PACKAGES)
        assert not ours, f"{path.name} imports {sorted(ours)}"


def test_the_scan_sees_an_import_of_ours(tmp_path):
    p = tmp_path / "x.py"
    p.write_text("import re\nfrom storage.models import Cell\n\ndef f():\n    import monitor.checks\n")
    assert _imports(p) & set(OUR_PACKAGES) == {"storage", "monitor"}


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


# -- no label of the template outside vocabulary/ ----------------------------------------------

_CJK = re.compile(r"[\u4e00-\u9fff]")
#: Modules whose job is wording (messages, advice, page descriptions, the demo agencies' narratives):
#: a label may stand inside one of their sentences, never as a string of its own.
WORDING = {"monitor/wording.py", "storage/metadata.py", "crawler/demo/sites/texts.py"}
#: A label this long inside any other string is a copy of it, whatever surrounds it.
LONG = 7


def _collect(value, out: set[str]) -> None:
    if isinstance(value, str):
        if _CJK.search(value):
            out.add(value)
    elif isinstance(value, dict):
        for v in value.values():
            _collect(v, out)
    elif isinstance(value, (tuple, list, set, frozenset)):
        for v in value:
            _collect(v, out)
    elif dataclasses.is_dataclass(value):
        for f in dataclasses.fields(value):
            _collect(getattr(value, f.name), out)
        if isinstance(value, V.RowLabel):
            out.add(value.full_label)


def template_labels() -> set[str]:
    """Every printed label of the template: the section, table, figure names of vocabulary/template.py
    (read from the module, so a label added there is checked here without a change to this test)."""
    out: set[str] = set()
    for name, value in vars(V).items():
        if re.match(r"(SECTION|TABLE|FIGURE)", name) and not name.endswith("PATTERN"):
            _collect(value, out)
    return out


def _strings(path: Path) -> list[tuple[int, str]]:
    """(line, text) of every string a product file holds: Python string constants (f-string parts
    included) without docstrings; a template's text between tags and Jinja/Django blocks."""
    src = path.read_text(encoding="utf-8")
    if path.suffix != ".py":
        return [(i, t.strip()) for i, line in enumerate(src.splitlines(), 1)
                for t in re.split(r"<[^>]*>|\{[{%#].*?[%}#]\}", line) if t.strip()]
    tree = ast.parse(src)
    docs = {id(n.body[0].value) for n in ast.walk(tree)
            if isinstance(n, (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
            and n.body and isinstance(n.body[0], ast.Expr) and isinstance(n.body[0].value, ast.Constant)}
    return [(n.lineno, n.value) for n in ast.walk(tree)
            if isinstance(n, ast.Constant) and isinstance(n.value, str) and id(n) not in docs]


def label_copies(root: Path, labels: set[str]) -> list[str]:
    """Where product code outside vocabulary/ spells a template label: a string that is a label, a
    label quoted “…” in a message (outside the wording modules), or a long label inside any string."""
    found: list[str] = []
    for pkg in ("crawler", "spiders", "storage", "monitor"):
        for path in sorted((root / pkg).rglob("*")):
            if path.suffix not in (".py", ".html", ".j2"):
                continue
            rel = path.relative_to(root).as_posix()
            for line, text in _strings(path):
                if text.strip() in labels:
                    found.append(f"{rel}:{line}: the label {text.strip()!r}")
                    continue
                if rel in WORDING:
                    continue
                for quoted in re.findall(r"“([^”]+)”", text):
                    if quoted in labels:
                        found.append(f"{rel}:{line}: the label “{quoted}” quoted in {text[:40]!r}")
                found += [f"{rel}:{line}: the label {lab!r} inside {text[:40]!r}"
                          for lab in labels if len(lab) >= LONG and lab in text]
    return found


def test_no_template_label_outside_the_vocabulary():
    """Issue #10 item 6: every label of the template is data in vocabulary/; product code imports it."""
    labels = template_labels()
    assert {"总计", "一、总体情况", "（三）不予公开", "第二十条第（九）项", "行政许可处理决定数量"} <= labels
    assert label_copies(ROOT, labels) == []


def test_the_label_scan_finds_a_copy(tmp_path):
    """The scan is real: a label pasted into product code as a string, a quoted one, a long one."""
    pkg = tmp_path / "monitor"
    pkg.mkdir()
    (pkg / "x.py").write_text('''"""Docstrings may name 一、总体情况."""
NAME = "予以公开数量"
MSG = f"表三“{x}”与“总计”不一致"
LONG = "本机关关于上年结转政府信息公开申请数量的说明"
OK = "本机关无说明"
''', encoding="utf-8")
    (pkg / "page.html").write_text("<th>结果维持</th><p>{{ label }}</p>", encoding="utf-8")
    found = label_copies(tmp_path, template_labels())
    assert sorted(f.split(":")[1] for f in found if f.startswith("monitor/x.py")) == ["2", "3", "4"], found
    assert any(f.startswith("monitor/page.html:1") for f in found), found
