"""Parsing speed per format, against baselines measured in the same run.

    .venv/bin/python bench/parse_bench.py [--seconds 2] [--rounds 3] [--before REV] [--wall] [--outdir DIR]

The corpus: the five seeds rendered (tests/render_seeds.py: HTML, DOCX, PDF and one DOC through
LibreOffice; the seed texts themselves for text) and drawn as real-layout PDFs
(tests/parsing/seed_layouts.py, "pdf-wps": prose over white unstroked boxes as WPS exports it, prose
in drawn frames, every line underlined, a page border; all with "- N -" page numbers and CR LF in the
text layer); and "portal": 40 report pages of bench/crawl_bench.py's generated portal, whose parse CPU
issue 11's full crawl has to fit beside the spider.  Everything measured must parse: a fast wrong parser is no figure.

Two comparisons, each printed as figures and ratios:

1. **No format slower** (issue 10): the parser of this tree and the parser of ``--before`` (default
   612a36a, the commit before issue 10's work; ``git archive``d to a temporary directory) each parse
   the same corpus files in a child process of their own, in alternating order round by round (A B,
   B A, ...).  Per format: the median of the rounds for each, and the median of the per-round
   after/before ratios; a ratio under 0.90 is flagged.
2. **The PDF baseline** (issue 14), in this process, round by round on each PDF set (the LibreOffice
   renders, each WPS layout): the floor, pypdfium2 text extraction alone (open, ``get_textpage`` and
   ``get_text_range`` of every page: what any parser on pypdfium2 must spend); our full ``parse``
   (extraction, mapping to the report model, the single-report checks) and our extraction alone; and
   pdfplumber's ``page.extract_tables()`` on every page.  Medians of the per-round ratios.  Targets:
   ours >= 0.5 of the floor and >= 20x pdfplumber.

Timing: CPU seconds of the process and of the children it waited for (LibreOffice for DOC) by default,
which other work on a shared machine disturbs less than the wall clock (``--wall`` for that); every
process pinned to the same one core; each figure is documents read over at least ``--seconds``.
"""
from __future__ import annotations

import argparse
import io
import json
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FORMATS = ("html", "docx", "pdf", "doc", "text", "pdf-wps", "portal")
#: report pages of the crawl bench's generated portal taken into the corpus (issue 11 budgets their parse CPU)
PORTAL_PAGES = 40
TARGETS = {"html": 200.0, "pdf": 10.0}
#: the commit before issue 10's work (its branches h10a/h10b were merged after it)
BEFORE_ISSUE_10 = "612a36a"
PDF_TARGET_FLOOR, PDF_TARGET_PLUMBER = 0.5, 20.0


def _cpu_clock() -> float:
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


_CLOCK = _cpu_clock


def _code_path(code: str | None) -> None:
    """Import the parser from ``code`` (an older tree) instead of this one."""
    sys.path.insert(0, str(ROOT))
    if code:
        sys.path.insert(0, code)


def _rate(fn, docs: list, seconds: float) -> float:
    """Documents per second of ``fn`` over ``docs``: whole passes until ``seconds`` have gone by."""
    n = 0
    start = _CLOCK()
    while True:
        for d in docs:
            fn(d)
        n += len(docs)
        elapsed = _CLOCK() - start
        if elapsed >= seconds:
            return n / elapsed


# -- the corpus ------------------------------------------------------------------------------------

def build_corpus(outdir: Path) -> Path:
    """Render the corpus into outdir/corpus (one file per document, manifest.json) and return it."""
    sys.path.insert(0, str(ROOT / "tests"))
    sys.path.insert(0, str(ROOT / "tests" / "parsing"))
    import render_seeds
    import seed_layouts

    items = render_seeds.render_corpus(outdir, formats=("html", "docx", "pdf", "doc"))
    docs: list[tuple[str, str, bytes, str | None]] = [
        (r.fmt, r.fmt, Path(r.path).read_bytes(), r.content_type) for r in items]
    for stem in render_seeds.seed_stems():
        docs.append(("text", "text", (render_seeds.SEEDS / f"{stem}.txt").read_bytes(), "text/plain"))
        for layout in seed_layouts.LAYOUTS:
            docs.append(("pdf-wps", f"wps-{layout}", seed_layouts.seed_pdf(stem, layout), "application/pdf"))
    docs.extend(("portal", "portal", data, "text/html; charset=utf-8") for data in portal_pages(PORTAL_PAGES))
    corpus = outdir / "corpus"
    corpus.mkdir(parents=True, exist_ok=True)
    manifest = []
    for i, (fmt, pdf_set, data, ctype) in enumerate(docs):
        name = f"{i:03d}.{fmt}"
        (corpus / name).write_bytes(data)
        manifest.append({"file": name, "format": fmt, "set": pdf_set, "content_type": ctype})
    (corpus / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    return corpus


def portal_pages(n: int) -> list[bytes]:
    """``n`` report pages of bench/crawl_bench.py's portal (``build_portal(pages=20000)``: a TRS page of
    ~63 KB holding one of the five seeds' reports as a Word paste), agencies and years spread out."""
    sys.path.insert(0, str(ROOT))
    from crawler.demo.portal import build_portal

    portal = build_portal(pages=20000)
    return [portal.respond("GET", portal.report_path((i * 37) % portal.agencies, 2015 + i % 10), {}, b"",
                           "http://127.0.0.1:9").body for i in range(n)]


def load_corpus(corpus: Path, key: str = "format") -> dict[str, list[tuple[bytes, str | None]]]:
    out: dict[str, list[tuple[bytes, str | None]]] = {}
    for item in json.loads((corpus / "manifest.json").read_text(encoding="utf-8")):
        out.setdefault(item[key], []).append(((corpus / item["file"]).read_bytes(), item["content_type"]))
    return out


# -- 1. this tree against another revision -----------------------------------------------------------

def measure(corpus: Path, seconds: float, code: str | None = None,
            formats: tuple[str, ...] = FORMATS) -> dict[str, float]:
    """{format: parse reports/s} with the parser of ``code`` (default: this tree)."""
    _code_path(code)
    from crawler.parsing import parse_bytes

    out: dict[str, float] = {}
    for fmt, docs in load_corpus(corpus).items():
        if fmt not in formats:
            continue
        ctypes = [c for _, c in docs]
        idx = list(range(len(docs)))
        parse_bytes(docs[0][0], content_type=ctypes[0])  # imports, caches
        out[fmt] = _rate(lambda i: parse_bytes(docs[i][0], content_type=ctypes[i]), idx, seconds)
    return out


def _git_tree(rev: str) -> str | None:
    """REV's packages extracted to a temporary directory (None when git or REV is missing)."""
    try:
        subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--verify", "-q", rev + "^{commit}"],
                       check=True, capture_output=True)
        top = subprocess.run(["git", "-C", str(ROOT), "ls-tree", "--name-only", rev], check=True,
                             capture_output=True, text=True).stdout.split()
        pkgs = [p for p in ("crawler", "storage", "monitor", "spiders", "vocabulary") if p in top]
        blob = subprocess.run(["git", "-C", str(ROOT), "archive", "--format=tar", rev, *pkgs],
                              check=True, capture_output=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    tree = tempfile.mkdtemp(prefix="nianbao-before-")
    with tarfile.open(fileobj=io.BytesIO(blob)) as tar:
        tar.extractall(tree, filter="data")
    return tree


def _measure_child(corpus: Path, seconds: float, tree: str | None, formats: tuple[str, ...]) -> dict[str, float]:
    cmd = [sys.executable, __file__, "--measure", str(corpus), "--seconds", str(seconds),
           "--formats", ",".join(formats)]
    if tree:
        cmd += ["--code", tree]
    if _CLOCK is time.perf_counter:
        cmd.append("--wall")
    res = subprocess.run(cmd, check=True, capture_output=True, text=True)
    return json.loads(res.stdout.strip().splitlines()[-1])


def compare_revisions(corpus_dir: Path, tree: str, rounds: int, seconds: float,
                      formats: tuple[str, ...] = FORMATS) -> None:
    after: dict[str, list[float]] = {}
    before: dict[str, list[float]] = {}
    for r in range(rounds):
        order = ("after", "before") if r % 2 == 0 else ("before", "after")
        for who in order:
            vals = _measure_child(corpus_dir, seconds, None if who == "after" else tree, formats)
            for fmt, v in vals.items():
                (after if who == "after" else before).setdefault(fmt, []).append(v)
        print(f"  round {r + 1}/{rounds} ({' then '.join(order)}) done", flush=True)
    print(f"\n{'format':8} {'after reports/s':>16} {'before reports/s':>17} {'after/before':>13}   per round"
          f"   (medians of {rounds} alternating rounds; ms per report = 1000 / reports/s)")
    for fmt in FORMATS:
        if fmt not in after or fmt not in before:
            continue
        a, b = statistics.median(after[fmt]), statistics.median(before[fmt])
        ratios = [x / y for x, y in zip(after[fmt], before[fmt]) if y]
        ratio = statistics.median(ratios)
        target = TARGETS.get(fmt)
        note = "" if ratio >= 0.9 else "  SLOWER >10%"
        if target is not None and a < target:
            note += f"  (target {target:.0f}/s MISSED)"
        print(f"{fmt:8} {a:16.1f} {b:17.1f} {ratio:12.2f}x   {' '.join(f'{x:.2f}' for x in ratios)}{note}"
              f"   ({1000 / a:.2f} / {1000 / b:.2f} ms per report)")


# -- 2. the PDF baseline ---------------------------------------------------------------------------

def _floor(data: bytes) -> int:
    """pypdfium2 text extraction alone: what any parser built on it spends at least."""
    import pypdfium2 as pdfium

    pdf = pdfium.PdfDocument(data)
    n = 0
    try:
        for i in range(len(pdf)):
            page = pdf[i]
            tp = page.get_textpage()
            n += len(tp.get_text_range())
            tp.close()
            page.close()
    finally:
        pdf.close()
    return n


def _pdfplumber_tables(data: bytes) -> int:
    import pdfplumber

    with pdfplumber.open(io.BytesIO(data)) as pdf:
        return sum(len(page.extract_tables()) for page in pdf.pages)


def pdf_baseline(corpus_dir: Path, rounds: int, seconds: float) -> None:
    from crawler.parsing import extract_bytes, parse_bytes
    import pypdfium2 as pdfium

    sets = {k: [d for d, _ in v] for k, v in load_corpus(corpus_dir, key="set").items()
            if k == "pdf" or k.startswith("wps-")}
    ours = lambda d: parse_bytes(d, content_type="application/pdf")  # noqa: E731
    ext = lambda d: extract_bytes(d, content_type="application/pdf")  # noqa: E731
    print(f"\n{'PDF set':18} {'docs':>4} {'pages':>5} {'floor/s':>8} {'ours/s':>7} {'extract/s':>9} "
          f"{'plumber/s':>9} {'ours/floor':>10} {'extract/floor':>13} {'ours/plumber':>12}")
    for name, docs in sets.items():
        pages = 0
        for d in docs:
            pdf = pdfium.PdfDocument(d)
            pages += len(pdf)
            pdf.close()
        for fn in (_floor, ours, ext, _pdfplumber_tables):
            fn(docs[0])  # warm up imports and caches
        fl, us, ex, pl = [], [], [], []
        for _ in range(rounds):
            fl.append(_rate(_floor, docs, seconds))
            us.append(_rate(ours, docs, seconds))
            ex.append(_rate(ext, docs, seconds))
            pl.append(_rate(_pdfplumber_tables, docs, seconds))
        med = statistics.median
        r_floor = med(u / f for u, f in zip(us, fl))
        r_ext = med(e / f for e, f in zip(ex, fl))
        r_pl = med(u / p for u, p in zip(us, pl))
        print(f"{name:18} {len(docs):4d} {pages:5d} {med(fl):8.1f} {med(us):7.1f} {med(ex):9.1f} {med(pl):9.2f} "
              f"{r_floor:10.2f} {r_ext:13.2f} {r_pl:11.1f}x"
              + ("" if r_floor >= PDF_TARGET_FLOOR else f"  floor target {PDF_TARGET_FLOOR} MISSED")
              + ("" if r_pl >= PDF_TARGET_PLUMBER else f"  pdfplumber target {PDF_TARGET_PLUMBER:.0f}x MISSED"))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=2.0, help="minimum measuring time per figure")
    ap.add_argument("--rounds", type=int, default=3, help="alternating rounds; figures are their medians")
    ap.add_argument("--outdir", default=None, help="where to render the corpus (default: a temp dir)")
    ap.add_argument("--before", default=BEFORE_ISSUE_10, help="git revision to compare with ('' for none)")
    ap.add_argument("--skip-before", action="store_true", help="only the PDF baseline")
    ap.add_argument("--skip-pdf", action="store_true", help="only the comparison with --before")
    ap.add_argument("--wall", action="store_true", help="time by the wall clock, not CPU time")
    ap.add_argument("--formats", default=",".join(FORMATS), help="formats compared with --before (comma-separated)")
    ap.add_argument("--corpus", default=None, help="an already rendered corpus directory (skips rendering)")
    ap.add_argument("--measure", default=None, help=argparse.SUPPRESS)  # child: corpus dir
    ap.add_argument("--code", default=None, help=argparse.SUPPRESS)  # child: tree of the parser
    args = ap.parse_args(argv)
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})  # one core, the same for every child
    if args.wall:
        global _CLOCK
        _CLOCK = time.perf_counter
    if args.measure:
        print(json.dumps(measure(Path(args.measure), args.seconds, args.code, tuple(args.formats.split(",")))))
        return 0

    _code_path(None)
    from crawler.parsing import parse_bytes
    from storage.models import ParseStatus

    formats = tuple(f for f in args.formats.split(",") if f)
    unknown = set(formats) - set(FORMATS)
    if unknown:
        ap.error(f"--formats: unknown {', '.join(sorted(unknown))}; known: {', '.join(FORMATS)}")
    if args.corpus:
        corpus_dir = outdir = Path(args.corpus)
        if not (corpus_dir / "manifest.json").is_file():
            ap.error(f"--corpus {corpus_dir}: no manifest.json there (a directory this bench rendered)")
    else:
        outdir = Path(args.outdir or tempfile.mkdtemp(prefix="nianbao-bench-"))
        corpus_dir = build_corpus(outdir)
    corpus = load_corpus(corpus_dir)
    for fmt, docs in corpus.items():
        for data, ctype in docs:
            rep = parse_bytes(data, content_type=ctype)
            if rep.status not in (ParseStatus.PARSED, ParseStatus.PARTIAL):
                print(f"warning: a {fmt} document did not parse: {rep.status.value} {rep.error}")
    try:
        load = "load average %.1f %.1f %.1f" % os.getloadavg()
    except OSError:
        load = "load average unknown"
    print(f"corpus in {outdir}: " + ", ".join(f"{fmt} {len(corpus.get(fmt, []))}" for fmt in FORMATS)
          + f"; {os.cpu_count()} cores, {load} at the start; one pinned core; "
          + ("wall clock" if args.wall else "CPU time (process + waited-for children)")
          + f"; >= {args.seconds:g} s per figure; {args.rounds} rounds")

    if not args.skip_before and args.before:
        tree = _git_tree(args.before)
        if tree is None:
            print(f"\nno comparison: git revision {args.before!r} not found")
        else:
            print(f"\n1. this tree (after) against {args.before} (before), each in its own child process:")
            compare_revisions(corpus_dir, tree, args.rounds, args.seconds, formats)
    if not args.skip_pdf:
        print("\n2. PDF: our parse against pypdfium2's text extraction alone (floor) and pdfplumber's "
              "extract_tables, same process, per round; medians of the per-round ratios "
              f"(targets: >= {PDF_TARGET_FLOOR} of the floor, >= {PDF_TARGET_PLUMBER:.0f}x pdfplumber)")
        pdf_baseline(corpus_dir, args.rounds, args.seconds)
    try:
        print("\nload average %.1f %.1f %.1f at the end" % os.getloadavg())
    except OSError:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
