"""OCR benchmark: speed and accuracy of reading scanned reports, against whole-page Tesseract.

    .venv/bin/python bench/ocr_bench.py [--seeds N] [--kinds pdf,png,html] [--dpi 150,200]

The corpus is the one tests/ocr/corpus.py makes (every seed laid out by the tests' own code,
rasterised at 150 and 200 dpi, grey, JPEG quality 60-75, rotated by up to ±1°, speckled; as
image-only PDFs, PNG pages and 图片版 HTML pages with table images).  Each document is parsed
through the product's entry points (parse_bytes / parse_pages), then checked; cells are scored
against the seeds' hand-checked expected files.

Figures printed:
* pages/s and cells/s on one core (OMP_THREAD_LIMIT=1, one process, CPU seconds of this process),
  per dpi; the share of time per step (CPU seconds too) (deskew, binarise, rulings, digit cells, label cells, narrative);
* cell accuracy, the seeds' own findings found, false findings, corrections logged;
* baseline, same pages, same run: Tesseract on the whole page (chi_sim, automatic segmentation)
  with no table structure of ours, its text parsed by the product's text-stream mapping
  (as a text layer would be), cell accuracy and pages/s beside ours.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

os.environ.setdefault("OMP_THREAD_LIMIT", "1")  # one core: Tesseract's OpenMP would take every core

ROOT = Path(__file__).resolve().parents[1]
for p in (ROOT, ROOT / "tests" / "ocr"):
    if str(p) not in sys.path:
        sys.path.insert(0, str(p))

import corpus  # noqa: E402
from run import parse_item  # noqa: E402
from score import Score, score  # noqa: E402

from crawler.parsing import ocr  # noqa: E402


def _pages(item) -> int:
    if item.kind == "pdf":
        import pypdfium2 as pdfium

        d = pdfium.PdfDocument(Path(item.files[0]).read_bytes())
        n = len(d)
        d.close()
        return n
    if item.kind == "png":
        return len(item.files)
    return len(item.files) - 1  # the table images of a 图片版 page


def _page_images(item):
    """The page images of an item, grey arrays (for the baseline)."""
    import numpy as np
    from PIL import Image

    if item.kind == "pdf":
        import pypdfium2 as pdfium

        d = pdfium.PdfDocument(Path(item.files[0]).read_bytes())
        out = []
        for i in range(len(d)):
            out.append(np.asarray(d[i].render(scale=item.dpi / 72, grayscale=True).to_pil().convert("L")))
        d.close()
        return out
    files = item.files if item.kind == "png" else item.files[1:]
    return [np.asarray(Image.open(f).convert("L")) for f in files]


def baseline(item) -> tuple[Score, float, int]:
    """Whole-page Tesseract: its text through the product's text path (no table structure of ours)."""
    import tesserocr
    from PIL import Image

    from crawler.parsing.extract import text as text_extract
    from crawler.parsing.mapping import map_report
    from crawler.parsing.ocr.reader import tessdata_dir
    from monitor.checks.report import check_report
    from storage.models import Source

    api = baseline.api = getattr(baseline, "api", None) or tesserocr.PyTessBaseAPI(
        path=tessdata_dir(), lang="chi_sim", psm=tesserocr.PSM.AUTO, oem=tesserocr.OEM.LSTM_ONLY)
    t = time.process_time()
    pages = _page_images(item)
    texts = []
    for arr in pages:
        api.SetImage(Image.fromarray(arr))
        texts.append(api.GetUTF8Text())
    if item.kind == "html":
        from crawler.parsing import extract_bytes

        _f, page = extract_bytes(Path(item.files[0]).read_bytes(), content_type="text/html")
        texts.insert(0, page.text)
    ex = text_extract.extract("\n".join(texts).encode("utf-8"))
    report = map_report(ex, source=Source(path=item.files[0]))
    findings = check_report(report)
    dt = time.process_time() - t
    return score(report, findings, item.expected), dt, len(pages)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=5, help="how many seeds (default: all five)")
    ap.add_argument("--kinds", default="pdf,png,html")
    ap.add_argument("--dpi", default="150,200")
    ap.add_argument("--no-baseline", action="store_true")
    args = ap.parse_args(argv)
    kinds = tuple(args.kinds.split(","))
    dpis = tuple(int(x) for x in args.dpi.split(","))
    stems = corpus.seed_stems()[: args.seeds]
    load0 = os.getloadavg()
    print(f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; machine: {os.cpu_count()} cores, load average "
          f"{load0[0]:.1f} / {load0[1]:.1f} / {load0[2]:.1f} (1/5/15 min) at the start")
    with tempfile.TemporaryDirectory(prefix="nianbao-ocr-bench-") as tmp:
        t = time.perf_counter()
        items = corpus.build(tmp, stems=stems, kinds=kinds, dpis=dpis)
        print(f"corpus: {len(items)} documents from {len(stems)} seeds ({', '.join(kinds)}; {dpis} dpi), "
              f"built in {time.perf_counter() - t:.1f} s")
        ours: dict[int, Score] = defaultdict(Score)
        base: dict[int, Score] = defaultdict(Score)
        secs: dict[int, float] = defaultdict(float)
        base_secs: dict[int, float] = defaultdict(float)
        pages: dict[int, int] = defaultdict(int)
        table_pages: dict[int, tuple[int, float]] = {}
        steps: dict[str, float] = defaultdict(float)
        cells_read = 0
        for item in items:
            ocr.reset_stats()
            t = time.process_time()
            report, findings = parse_item(item)
            dt = time.process_time() - t
            for k, v in ocr.STATS.items():
                steps[k] += v
            s = score(report, findings, item.expected)
            ours[item.dpi].add(s)
            secs[item.dpi] += dt
            n = _pages(item)
            pages[item.dpi] += n
            cells_read += sum(1 for c in report.cells if c.confidence is not None)
            line = (f"  {item.stem} {item.kind:4} {item.dpi} dpi q{item.quality} {item.angle:+.2f}°  "
                    f"{n} pages {dt:6.1f} s  cells {s.right}/{s.cells}  corrections {len(s.corrections)}  "
                    f"missed {s.findings_missed or '-'}  false {len(s.findings_false)}")
            if not args.no_baseline:
                bs, bdt, _bn = baseline(item)
                base[item.dpi].add(bs)
                base_secs[item.dpi] += bdt
                line += f"  | baseline cells {bs.right}/{bs.cells} {bdt:5.1f} s"
            print(line, flush=True)
            for w in s.wrong:
                print(f"      wrong: {w}")
            for c in s.corrections:
                print(f"      correction: {c}")
            for f in s.findings_false:
                print(f"      false finding: {f}")
            if item.kind == "html":  # table images only: the speed of the table path alone
                tp, ts = table_pages.get(item.dpi, (0, 0.0))
                table_pages[item.dpi] = (tp + n, ts + dt)
    print()
    load1 = os.getloadavg()
    print("one core (OMP_THREAD_LIMIT=1), one process, each document parsed once; times are this process's CPU "
          "seconds (time.process_time): other work on the machine does not add to them, but a loaded machine "
          f"(shared cores, caches) slows each CPU second; load average {load1[0]:.1f} / {load1[1]:.1f} / "
          f"{load1[2]:.1f} at the end")
    total = Score()
    for dpi in sorted(ours):
        s = ours[dpi]
        total.add(s)
        line = (f"{dpi} dpi: {pages[dpi]} pages in {secs[dpi]:.1f} s = {pages[dpi] / secs[dpi]:.2f} pages/s, "
                f"{s.cells / secs[dpi]:.0f} cells/s; cells right {s.right}/{s.cells} = {s.accuracy:.3%}")
        if dpi in table_pages:
            tp, ts = table_pages[dpi]
            line += f"; table images alone {tp / ts:.2f} pages/s"
        if dpi in base:
            b = base[dpi]
            line += (f"\n          baseline (whole-page Tesseract, no table structure): {b.right}/{b.cells} = "
                     f"{b.accuracy:.3%} cells right, {pages[dpi] / base_secs[dpi]:.2f} pages/s")
        print(line)
    step_total = sum(steps.values()) or 1.0
    print("share of OCR time per step: " + ", ".join(f"{k} {v / step_total:.0%}" for k, v in
                                                    sorted(steps.items(), key=lambda kv: -kv[1])))
    print(f"OCR cells read: {cells_read}")
    print(f"ALL: cells right {total.right}/{total.cells} = {total.accuracy:.3%}; seeds' findings missed: "
          f"{len(total.findings_missed)} {total.findings_missed}; false findings: {len(total.findings_false)}; "
          f"corrections logged: {len(total.corrections)}")
    ok = total.accuracy >= 0.995 and not total.findings_missed and not total.findings_false
    print("target (>= 99.5% cells, every seed finding, no false finding):", "met" if ok else "NOT met")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
