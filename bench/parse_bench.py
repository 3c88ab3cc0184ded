"""Parsing speed on the rendered seed corpus, per format, on one core.

    .venv/bin/python bench/parse_bench.py [--seconds 3] [--outdir DIR] [--before REV]

Renders the five seeds (tests/render_seeds.py: HTML, DOCX, PDF; the seed texts themselves for
text; tests/parsing/seed_layouts.py: the seeds as WPS-style PDFs, "pdf-wps", in four layouts —
prose over white boxes, in frames, underlined, inside a page border), then for each format runs
``parse_bytes`` (extraction + mapping + single-report checks) over the corpus repeatedly for at
least ``--seconds`` and prints reports per second, and the same for extraction alone.  Baseline,
in the same process and on the same PDFs: pdfplumber's own ``page.extract_tables()`` over every
page.  Targets: HTML >= 200 reports/s, PDF >= 10 reports/s.

Before/after: with ``--before REV`` (default ``main`` when this is a git checkout that has it),
the parser of REV (``git archive``d to a temporary directory) measures the same corpus files in a
child process, alternating with this tree's parser round by round (best of the rounds each), and
the ratio after/before is printed per format: the aim is no format more than 10% slower.
"""
from __future__ import annotations

import argparse
import io
import json
import os
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FORMATS = ("html", "docx", "pdf", "pdf-wps", "text")
TARGETS = {"html": 200.0, "pdf": 10.0}


def _code_path(code: str | None) -> None:
    """Import the parser from ``code`` (an older tree) instead of this one."""
    sys.path.insert(0, str(ROOT))
    if code:
        sys.path.insert(0, code)


#: Wall-clock by default; ``--cpu-time`` counts this process's CPU seconds instead, which other
#: processes on a shared machine disturb far less (they still share caches and the core).
_CLOCK = time.perf_counter


def _rate(fn, docs: list[bytes], seconds: float, repeats: int = 3) -> float:
    """Documents per second of ``fn`` over ``docs``: the best of ``repeats`` runs of at least
    ``seconds / repeats`` each (the best run is the one least disturbed by other processes)."""
    fn(docs[0])  # warm up imports and caches
    best = 0.0
    for _ in range(repeats):
        n = 0
        start = _CLOCK()
        while True:
            for d in docs:
                fn(d)
            n += len(docs)
            elapsed = _CLOCK() - start
            if elapsed >= seconds / repeats:
                break
        best = max(best, n / elapsed)
    return best


def _pdfplumber_tables(data: bytes) -> int:
    import pdfplumber

    with pdfplumber.open(io.BytesIO(data)) as pdf:
        return sum(len(page.extract_tables()) for page in pdf.pages)


def build_corpus(outdir: Path) -> Path:
    """Render the corpus into outdir/corpus (one file per document, manifest.json) and return it."""
    sys.path.insert(0, str(ROOT / "tests"))
    sys.path.insert(0, str(ROOT / "tests" / "parsing"))
    import render_seeds
    import seed_layouts

    items = render_seeds.render_corpus(outdir, formats=("html", "docx", "pdf"))
    docs: list[tuple[str, bytes, str | None]] = [(r.fmt, Path(r.path).read_bytes(), r.content_type) for r in items]
    for stem in render_seeds.seed_stems():
        docs.append(("text", (render_seeds.SEEDS / f"{stem}.txt").read_bytes(), "text/plain"))
        for layout in seed_layouts.LAYOUTS:
            docs.append(("pdf-wps", seed_layouts.seed_pdf(stem, layout), "application/pdf"))
    corpus = outdir / "corpus"
    corpus.mkdir(parents=True, exist_ok=True)
    manifest = []
    for i, (fmt, data, ctype) in enumerate(docs):
        name = f"{i:03d}.{fmt}"
        (corpus / name).write_bytes(data)
        manifest.append({"file": name, "format": fmt, "content_type": ctype})
    (corpus / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    return corpus


def load_corpus(corpus: Path) -> dict[str, list[tuple[bytes, str | None]]]:
    out: dict[str, list[tuple[bytes, str | None]]] = {f: [] for f in FORMATS}
    for item in json.loads((corpus / "manifest.json").read_text(encoding="utf-8")):
        out[item["format"]].append(((corpus / item["file"]).read_bytes(), item["content_type"]))
    return out


def measure(corpus: Path, seconds: float, code: str | None = None) -> dict[str, list[float]]:
    """{format: [parse reports/s, extract-only/s]} with the parser of ``code`` (default: this tree)."""
    _code_path(code)
    from crawler.parsing import extract_bytes, parse_bytes

    docs_by_fmt = load_corpus(corpus)
    out: dict[str, list[float]] = {}
    for fmt in FORMATS:
        docs = docs_by_fmt[fmt]
        ctypes = {d: c for d, c in docs}
        blobs = [d for d, _ in docs]
        full = _rate(lambda d: parse_bytes(d, content_type=ctypes[d]), blobs, seconds)
        ext = _rate(lambda d: extract_bytes(d, content_type=ctypes[d]), blobs, seconds)
        out[fmt] = [full, ext]
    return out


def _git_tree(rev: str) -> str | None:
    """REV's tracked files extracted to a temporary directory (None when git or REV is missing)."""
    try:
        subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--verify", "-q", rev + "^{commit}"],
                       check=True, capture_output=True)
        blob = subprocess.run(["git", "-C", str(ROOT), "archive", "--format=tar", rev, "crawler", "storage",
                               "monitor", "spiders"], check=True, capture_output=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    tree = tempfile.mkdtemp(prefix="nianbao-before-")
    with tarfile.open(fileobj=io.BytesIO(blob)) as tar:
        tar.extractall(tree, filter="data")
    return tree


def _measure_child(corpus: Path, seconds: float, tree: str) -> dict[str, list[float]]:
    cmd = [sys.executable, __file__, "--measure", str(corpus), "--code", tree, "--seconds", str(seconds)]
    if _CLOCK is time.process_time:
        cmd.append("--cpu-time")
    res = subprocess.run(cmd, check=True, capture_output=True, text=True)
    return json.loads(res.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=3.0, help="minimum measuring time per figure")
    ap.add_argument("--outdir", default=None, help="where to render the corpus (default: a temp dir)")
    ap.add_argument("--before", default="main", help="git revision to compare with ('' for none)")
    ap.add_argument("--rounds", type=int, default=2, help="before/after rounds, alternating")
    ap.add_argument("--cpu-time", action="store_true", help="time by process CPU time, not wall clock")
    ap.add_argument("--measure", default=None, help=argparse.SUPPRESS)  # child: corpus dir
    ap.add_argument("--code", default=None, help=argparse.SUPPRESS)  # child: tree of the parser
    args = ap.parse_args(argv)
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})  # one core
    if args.cpu_time:
        global _CLOCK
        _CLOCK = time.process_time
    if args.measure:
        print(json.dumps(measure(Path(args.measure), args.seconds, args.code)))
        return 0

    _code_path(None)
    from crawler.parsing import parse_bytes
    from storage.models import ParseStatus

    outdir = Path(args.outdir or tempfile.mkdtemp(prefix="nianbao-bench-"))
    corpus_dir = build_corpus(outdir)
    corpus = load_corpus(corpus_dir)

    # Everything measured must parse: a fast wrong parser is no figure.
    for fmt, docs in corpus.items():
        for data, ctype in docs:
            rep = parse_bytes(data, content_type=ctype)
            if rep.status not in (ParseStatus.PARSED, ParseStatus.PARTIAL):
                print(f"warning: a {fmt} document did not parse: {rep.status.value} {rep.error}")

    pages = 0
    import pypdfium2 as pdfium

    for data, _ in corpus["pdf"]:
        doc = pdfium.PdfDocument(data)
        pages += len(doc)
        doc.close()

    tree = _git_tree(args.before) if args.before else None
    print(f"corpus: {len(corpus['html'])} reports per format ({len(corpus['pdf-wps'])} WPS-style PDFs), "
          f"rendered in {outdir}; PDFs have {pages} pages in all; one core, >= {args.seconds:.0f} s per figure"
          + (f"; before = {args.before}, best of {args.rounds} alternating rounds" if tree else "")
          + ("; CPU time" if args.cpu_time else "; wall clock") + "\n")
    after: dict[str, list[float]] = {}
    before: dict[str, list[float]] = {}
    for _ in range(args.rounds if tree else 1):
        for fmt, vals in measure(corpus_dir, args.seconds).items():
            after[fmt] = [max(a, b) for a, b in zip(after.get(fmt, [0.0, 0.0]), vals)]
        if tree:
            for fmt, vals in _measure_child(corpus_dir, args.seconds, tree).items():
                before[fmt] = [max(a, b) for a, b in zip(before.get(fmt, [0.0, 0.0]), vals)]

    head = f"{'format':8} {'parse reports/s':>16} {'extract only/s':>15} {'target':>8}"
    if tree:
        head += f" {'before parse/s':>15} {'after/before':>13}"
    print(head)
    for fmt in FORMATS:
        full, ext = after[fmt]
        target = TARGETS.get(fmt)
        mark = "" if target is None else (f"{target:>6.0f} {'ok' if full >= target else 'MISSED'}")
        line = f"{fmt:8} {full:16.1f} {ext:15.1f} {mark:>8}"
        if tree:
            ratio = full / before[fmt][0] if before[fmt][0] else float("nan")
            line += f" {before[fmt][0]:15.1f} {ratio:12.2f}x{'' if ratio >= 0.9 else '  SLOWER >10%'}"
        print(line)

    base = _rate(_pdfplumber_tables, [d for d, _ in corpus["pdf"]], args.seconds)
    print(f"\nbaseline: pdfplumber page.extract_tables() over every page: {base:.2f} reports/s "
          f"({base * pages / len(corpus['pdf']):.1f} pages/s)")
    print(f"ratio: our full PDF parse is {after['pdf'][0] / base:.1f}x pdfplumber's table extraction alone")
    return 0


if __name__ == "__main__":
    sys.exit(main())
