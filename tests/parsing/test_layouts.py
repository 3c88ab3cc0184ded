"""The vocabulary against the official table layouts typed from the format documents (issue #10 item 7).

tests/fixtures/layouts/format_2021.json and format_2019.json hold the national formats' sections, Table 二
blocks, Table 三's rows, groups and columns and Table 四's headers, typed by hand; a label the vocabulary
gets wrong, a row it puts out of order or a block it lacks fails here, and the rendered corpus and the
property tests print from the same fixtures (see tests/layouts.py), not from the vocabulary.
"""
from __future__ import annotations

import copy
import types

import layouts
from vocabulary import template as V


def test_vocabulary_matches_the_official_layouts():
    assert layouts.mismatches(V) == []


def _mutated(**changes):
    m = types.ModuleType("wrong_vocabulary")
    m.__dict__.update({k: copy.deepcopy(v) if isinstance(v, (dict, list)) else v for k, v in vars(V).items()})
    m.__dict__.update(changes)
    return m


def test_a_wrong_label_in_the_vocabulary_is_caught():
    rows = dict(V.TABLE3_ROW_LABELS)
    rows["withheld_three_safety"] = V.RowLabel("withheld_three_safety", "3.危及三安全", "withheld")
    found = layouts.mismatches(_mutated(TABLE3_ROW_LABELS=rows))
    assert any("withheld_three_safety" in m for m in found), found
    wrong_note = layouts.mismatches(_mutated(TABLE3_BALANCE_NOTE="（本列数据的勾稽关系为：第一项等于第三项）"))
    assert any("note" in m for m in wrong_note)
    headings = dict(V.SECTION_HEADINGS, problems="五、存在的问题")
    assert any("problems" in m for m in layouts.mismatches(_mutated(SECTION_HEADINGS=headings)))


def test_the_layouts_are_the_formats_shape():
    """The fixtures themselves: 25 x 7 / 23 x 7 Table 三, 15-cell Table 四, six sections (report-model.md)."""
    l21, l19 = layouts.layout("2021"), layouts.layout("2019")
    assert len(l21["table3"]["rows"]) == 25 and len(l19["table3"]["rows"]) == 23
    assert len(l21["table3"]["columns"]) == len(l19["table3"]["columns"]) == 7
    for lay in (l21, l19):
        assert len(lay["table4"]["groups"]) * len(lay["table4"]["columns"]) == 15
        assert [h.split("、")[0] for _, h in lay["sections"]] == list(layouts.NUMERALS)
    assert len(l21["table2"]["blocks"]) == 4 and len(l19["table2"]["blocks"]) == 5


# -- the rendered corpus does not depend on the parser's vocabulary ------------------------------

_RENDER_CORPUS = r"""
import hashlib, io, json, sys, zipfile
sys.path.insert(0, sys.argv[1])
if sys.argv[2] == "wrong":
    # Every label the parser reads, wrong, before anything else is imported: a renderer that took its
    # words from the vocabulary (at import or at call time) would now print these.
    from vocabulary import template as V
    V.SECTIONS = {k: ("错误" + c, v) for k, (c, v) in V.SECTIONS.items()}
    V.SECTION_HEADINGS = {k: h + "错误" for k, h in V.SECTION_HEADINGS.items()}
    V.TABLE2_ROWS = {k: ("错误" + c, v) for k, (c, v) in V.TABLE2_ROWS.items()}
    V.TABLE2_COLUMNS = {k: ("错误" + c, v) for k, (c, v) in V.TABLE2_COLUMNS.items()}
    V.TABLE2_BLOCKS = tuple("错误" + b for b in V.TABLE2_BLOCKS)
    V.TABLE2_CONTENT_HEADER = "错误"
    V.TABLE3_ROW_LABELS = {k: V.RowLabel(r.key, r.label + "错误", r.group) for k, r in V.TABLE3_ROW_LABELS.items()}
    V.TABLE3_GROUPS = {k: g + "错误" for k, g in V.TABLE3_GROUPS.items()}
    V.TABLE3_COLUMN_LABELS = {k: c + "错误" for k, c in V.TABLE3_COLUMN_LABELS.items()}
    V.TABLE3_BALANCE_NOTE = "错误"
    V.TABLE4_COLUMN_LABELS = {k: c + "错误" for k, c in V.TABLE4_COLUMN_LABELS.items()}
    V.TABLE4_HEADERS = tuple(h + "错误" for h in V.TABLE4_HEADERS)
import render_seeds
out = {}
for i, stem in enumerate(render_seeds.seed_stems()):
    spec = render_seeds.seed_spec(stem)
    choice = render_seeds.seed_choices(i, len(render_seeds.seed_stems()))
    out[stem + ".spec"] = repr(spec)
    out[stem + ".html"] = hashlib.sha256(render_seeds.html_page(spec, choice)).hexdigest()
    xml = zipfile.ZipFile(io.BytesIO(render_seeds.docx(spec, choice))).read("word/document.xml")
    out[stem + ".docx"] = hashlib.sha256(xml).hexdigest()
print(json.dumps(out))
"""


def _corpus_digest(vocabulary: str) -> dict[str, str]:
    import json
    import subprocess
    import sys
    from pathlib import Path

    tests = Path(layouts.__file__).resolve().parent
    done = subprocess.run([sys.executable, "-c", _RENDER_CORPUS, str(tests), vocabulary], capture_output=True,
                          text=True, timeout=300, cwd=tests.parent)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_the_rendered_corpus_does_not_change_with_the_vocabulary():
    """Issue #10 item 7: the corpus the parse tests read (seed specs, HTML, DOCX; PDF and DOC are
    converted from that DOCX) is the same byte for byte when every label of vocabulary/template.py is
    wrong, so a wrong parser label cannot pass by being printed wrong."""
    right, wrong = _corpus_digest("right"), _corpus_digest("wrong")
    assert len(right) == 15
    assert wrong == right


def test_the_rendered_corpus_prints_the_fixtures():
    """The other side: what the fixtures say is what is printed (a changed fixture label shows)."""
    import render_seeds

    spec = render_seeds.seed_spec(render_seeds.seed_stems()[0])
    page = render_seeds.html_fragment(spec)
    official = layouts.layout("2021")["table3"]["rows"][4][1]  # 1.属于国家秘密
    assert official in page
    changed = render_seeds.html_fragment(spec, {("table3_row", "withheld_state_secret"): "1.属于国家机密"})
    assert official not in changed and "1.属于国家机密" in changed


def test_the_renderer_reads_no_vocabulary():
    """crawler/demo/render.py and layout.py import nothing of the parser's labels (its words are data)."""
    import ast

    from crawler.demo import layout, render

    for mod in (render, layout):
        tree = ast.parse(open(mod.__file__, encoding="utf-8").read())
        imported = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)} | {
            a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
        assert not {m for m in imported if m and m.split(".")[0] in ("vocabulary", "storage")
                    or m.startswith("crawler.parsing.mapping")}, (mod.__name__, imported)


def test_the_demo_ships_the_official_layouts():
    """The demo prints from its own copy (the product never reads tests/); the copy is the fixture."""
    from importlib import resources

    for template in ("2021", "2019"):
        shipped = resources.files("crawler.demo").joinpath("data", "layouts", f"format_{template}.json")
        assert shipped.read_text("utf-8") == (layouts.LAYOUTS / f"format_{template}.json").read_text("utf-8")


_PARSE_CORPUS = r"""
import sys
sys.path.insert(0, sys.argv[1])
from vocabulary import template as V
if sys.argv[2] == "wrong":
    # Two pairs of labels the parser reads swapped: 行政处罚 <-> 行政强制, 1.信访举报投诉类申请 <-> 2.重复申请.
    rows = dict(V.TABLE2_ROWS)
    rows["punishment"], rows["coercion"] = rows["coercion"], rows["punishment"]
    V.TABLE2_ROWS = rows
    t3 = dict(V.TABLE3_ROW_LABELS)
    a, b = t3["rejected_petition"], t3["rejected_repeat"]
    t3["rejected_petition"], t3["rejected_repeat"] = (V.RowLabel(a.key, b.label, a.group),
                                                      V.RowLabel(b.key, a.label, b.group))
    V.TABLE3_ROW_LABELS = t3
import render_seeds
from crawler.parsing import parse_bytes
wrong = []
for stem in render_seeds.seed_stems():
    spec = render_seeds.seed_spec(stem)
    report = parse_bytes(render_seeds.html_page(spec), url="http://127.0.0.1/r.html",
                         content_type="text/html; charset=utf-8")
    wrong += [f"{stem} {t}" for t in ("table2", "table3") if getattr(report, t) != getattr(spec, t)]
print(len(wrong))
"""


def test_a_wrong_parser_label_fails_the_parse_of_the_corpus():
    """The point of printing from the fixtures: with two pairs of the vocabulary's labels swapped, the
    parser reads the printed corpus wrong (tables of every seed differ); with the right ones, none."""
    import subprocess
    import sys
    from pathlib import Path

    tests = Path(layouts.__file__).resolve().parent

    def wrong_tables(vocabulary: str) -> int:
        done = subprocess.run([sys.executable, "-c", _PARSE_CORPUS, str(tests), vocabulary], capture_output=True,
                              text=True, timeout=300, cwd=tests.parent)
        assert done.returncode == 0, done.stderr
        return int(done.stdout.split()[-1])

    assert wrong_tables("right") == 0
    assert wrong_tables("wrong") >= 5
