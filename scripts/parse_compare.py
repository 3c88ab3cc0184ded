"""Does a change of the parser change what it reads?  Parse one corpus with this tree and with REV.

    .venv/bin/python scripts/parse_compare.py [--before main] [--corpus DIR] [--outdir DIR]

The corpus (rendered into a temporary directory unless --corpus names one already rendered): every file
of tests/fixtures (seeds, metadata pages, synthetic); the bench corpus (bench/parse_bench.py: the seeds
rendered to HTML, DOCX, PDF and DOC by LibreOffice, the seed texts, the four WPS-style PDF layouts); the
seeds as text with their cells run together (every form of tests/parsing/seed_layouts.py, with and
without last year's figures as hints); every seed rendered to HTML and DOCX with every printed label
variant of tests/layouts.py.  Each tree parses every file in a child process of its own and writes,
per file, what ``nianbao parse --json`` writes (Report.to_json() with the single-report checks'
findings); the two outputs must be identical.  Exit 0 identical, 1 some differ (the first differences
are printed), 2 usage.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))


def build(outdir: Path) -> Path:
    import parse_bench

    corpus = parse_bench.build_corpus(outdir)  # puts tests/ and tests/parsing on sys.path
    import layouts
    import render_seeds
    import seed_layouts
    from crawler.demo import render

    manifest = json.loads((corpus / "manifest.json").read_text("utf-8"))
    for item in manifest:
        item["hints"] = None

    def add(name: str, data: bytes, ctype: str | None = None, hints: dict | None = None) -> None:
        (corpus / name).write_bytes(data)
        manifest.append({"file": name, "format": name.rsplit(".", 1)[-1], "content_type": ctype, "hints": hints})

    for i, p in enumerate(sorted((ROOT / "tests" / "fixtures").rglob("*"))):
        if p.is_file() and p.suffix.lower() in (".txt", ".html", ".htm", ".shtml", ".xml"):
            add(f"fx{i:03d}_{p.name}", p.read_bytes())
    for stem in render_seeds.seed_stems():
        expected = json.loads((render_seeds.EXPECTED / f"{stem}.json").read_text("utf-8"))
        previous = {}
        for table in ("table2", "table3", "table4"):
            for row, cols in (expected.get(table) or {}).items():
                if isinstance(cols, dict):
                    previous.update({f"{table}.{row}.{c}": v for c, v in cols.items() if isinstance(v, int)})
        for form in seed_layouts.RUN_FORMS:
            text = seed_layouts.run_together(stem, form).encode("utf-8")
            add(f"run_{stem}_{form}.txt", text, "text/plain")
            add(f"runprev_{stem}_{form}.txt", text, "text/plain", {"previous": previous})
        spec = render_seeds.seed_spec(stem)
        for j, (what, label) in enumerate(layouts.variant_choices()):
            layout = layouts.for_spec(spec, {what: label})
            add(f"var_{stem}_{j:02d}.html", render.render_html_page(spec, layout=layout), "text/html; charset=utf-8")
            add(f"var_{stem}_{j:02d}.docx", render.render_docx(spec, layout))
    (corpus / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False), "utf-8")
    return corpus


def dump(corpus: Path, code: str | None) -> None:
    """Child: one JSON line per corpus file, as `nianbao parse --json` writes it."""
    sys.path.insert(0, str(ROOT))
    if code:
        sys.path.insert(0, code)
    from crawler.parsing import parse_bytes
    from monitor.checks.report import check_report
    from storage.models import ParseStatus

    read = (ParseStatus.PARSED, ParseStatus.PARTIAL)
    for item in json.loads((corpus / "manifest.json").read_text("utf-8")):
        data = (corpus / item["file"]).read_bytes()
        report = parse_bytes(data, path=item["file"], content_type=item.get("content_type"),
                             hints=item.get("hints"))
        if report.status in read:
            report.findings = check_report(report)
        print(json.dumps(report.to_json(), ensure_ascii=False, default=str, sort_keys=True), flush=True)


def _child(corpus: Path, code: str | None) -> list[str]:
    cmd = [sys.executable, __file__, "--dump", str(corpus)] + (["--code", code] if code else [])
    res = subprocess.run(cmd, capture_output=True, text=True)
    if res.returncode:
        sys.exit(f"parse_compare: the child for {code or 'this tree'} failed:\n{res.stderr[-3000:]}")
    return res.stdout.splitlines()


def _diff(a, b, path: str = "") -> list[str]:
    if type(a) is not type(b):
        return [f"{path}: {a!r} -> {b!r}"]
    if isinstance(a, dict):
        out = []
        for k in sorted(set(a) | set(b)):
            out += _diff(a.get(k), b.get(k), f"{path}.{k}")
        return out
    if isinstance(a, list):
        if len(a) != len(b):
            return [f"{path}: {len(a)} items -> {len(b)}"]
        return [d for i, (x, y) in enumerate(zip(a, b)) for d in _diff(x, y, f"{path}[{i}]")]
    return [] if a == b else [f"{path}: {a!r} -> {b!r}"]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--before", default="main", help="git revision to compare with (default: main)")
    ap.add_argument("--corpus", default=None, help="a corpus directory this script rendered before")
    ap.add_argument("--outdir", default=None, help="where to render the corpus (default: a temp dir)")
    ap.add_argument("--dump", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--code", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.dump:
        dump(Path(args.dump), args.code)
        return 0
    import parse_bench

    tree = parse_bench._git_tree(args.before)
    if tree is None:
        ap.error(f"--before: git revision {args.before!r} not found")
    if args.corpus:
        corpus = Path(args.corpus)
        if not (corpus / "manifest.json").is_file():
            ap.error(f"--corpus {corpus}: no manifest.json there")
    else:
        corpus = build(Path(args.outdir or tempfile.mkdtemp(prefix="nianbao-compare-")))
    names = [i["file"] for i in json.loads((corpus / "manifest.json").read_text("utf-8"))]
    before, after = _child(corpus, tree), _child(corpus, None)
    if len(before) != len(names) or len(after) != len(names):
        print(f"output lines: before {len(before)}, after {len(after)}, files {len(names)}")
        return 1
    differ = [(n, a, b) for n, a, b in zip(names, before, after) if a != b]
    for n, a, b in differ[:10]:
        print(f"{n}:")
        for d in _diff(json.loads(a), json.loads(b))[:8]:
            print(f"  {d}")
    print(f"corpus {corpus}: {len(names)} files; {len(names) - len(differ)} read identically by this tree and "
          f"{args.before}, {len(differ)} differ")
    return 1 if differ else 0


if __name__ == "__main__":
    sys.exit(main())
