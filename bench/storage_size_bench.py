"""Storage size baseline (issue 14 item 3): database bytes per 1,000 reports with real-size PDFs.

The documents are what a crawl stores for a report published as a PDF: its HTML report page and
its PDF attachment.  The PDFs are real LibreOffice renders of generated reports (numbers from the
seeds' generators, the demo's scale-mode renders, ~75 KB with their embedded CJK font subset)
padded as real ones are: a scanned seal / page image (a JPEG of paper grain with a red circle,
as incompressible as a real scan) placed on the last page with pypdfium2, so that each file is a
valid PDF of 100–500 KB (uniform).  Every PDF and page is unique (another agency, another image).
Each report is also stored parsed (Store.save_report: cells, sections, FTS).

Scenarios, each in its own database, through the public ``Store`` API only:

- unique: N reports, one page + one PDF each, stored once;
- shared: the same N reports, each PDF attached by 3 pages (the county's 年报 column, the
  department's own column and the 政务公开 目录 all link it, under different URLs), so 3N
  attachment URLs for N distinct files;
- re-fetched: "shared" plus 7 nights of re-fetching every page and PDF unchanged (a server
  without ETag/Last-Modified answers 200 with the same bytes: save_document sees the same hash).

Printed per scenario: database size, size per 1,000 reports, the bytes the documents would take
if each URL and fetch kept its own copy (the logical bytes), and the ratio; the baseline is the
raw bytes of the distinct files themselves (what a content-addressed file store would hold).

Usage: .venv/bin/python bench/storage_size_bench.py [--reports 1000]
"""
from __future__ import annotations

import argparse
import copy
import io
import json
import os
import random
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from storage.db import Store  # noqa: E402
from storage.models import Document  # noqa: E402

SEEDS = sorted((ROOT / "tests" / "fixtures" / "seeds").glob("*.txt"))
PAGES_PER_PDF = 3  # the "shared" scenario
NIGHTS = 7  # the "re-fetched" scenario


def scan_jpeg(nbytes: int, rng: random.Random) -> bytes:
    """A scanned seal: paper grain (random grey, as incompressible as a scan) and a red circle."""
    from PIL import Image, ImageDraw

    side, best = max(16, int(nbytes ** 0.5 * 0.8)), b""
    for _ in range(30):  # JPEG size grows with the area: a few steps land within 3%
        img = Image.frombytes("L", (side, side), rng.randbytes(side * side)).convert("RGB")
        ImageDraw.Draw(img).ellipse((side // 8, side // 8, side * 7 // 8, side * 7 // 8), outline=(200, 0, 0),
                                    width=max(2, side // 40))
        buf = io.BytesIO()
        img.save(buf, "JPEG", quality=75)
        best = buf.getvalue()
        if abs(len(best) - nbytes) <= 0.03 * nbytes:
            break
        side = max(16, int(side * (nbytes / len(best)) ** 0.5))
    return best


def padded_pdf(base: bytes, target: int, rng: random.Random) -> bytes:
    """``base`` with a seal image on its last page, about ``target`` bytes in all."""
    import pypdfium2 as pdfium

    pdf = pdfium.PdfDocument(base)
    page = pdf[len(pdf) - 1]
    img = pdfium.PdfImage.new(pdf)
    img.load_jpeg(io.BytesIO(scan_jpeg(max(4096, target - len(base) - 1500), rng)), inline=False)
    img.set_matrix(pdfium.PdfMatrix().scale(120, 120).translate(380, 80))
    page.insert_obj(img)
    page.gen_content()
    out = io.BytesIO()
    pdf.save(out)
    pdf.close()
    return out.getvalue()


def corpus(n: int, rng: random.Random):
    """n (page bytes, pdf bytes, report): real renders padded, seed reports re-titled."""
    from crawler.demo.render import render_html_page
    from crawler.demo.scale import Nation
    from crawler.parsing import parse_bytes

    nation = Nation(1)
    bases = [nation.pdf(k) for k in range(6)]  # LibreOffice renders (cached on disk after the first run)
    reports = []
    for p in SEEDS:
        data = p.read_bytes()
        reports.append(parse_bytes(data, path=str(p), content_type="text/plain"))
    from crawler.demo.portal import _demo_spec

    specs = [_demo_spec(t, t.parent.parent / "expected") for t in SEEDS]
    pages = [render_html_page(s) for s in specs]
    for i in range(n):
        k = i % len(SEEDS)
        agency = f"示例{i:05d}县{(reports[k].agency or '卫生健康局')[-5:]}"
        r = copy.deepcopy(reports[k])
        r.agency = agency
        page = pages[k] if isinstance(pages[k], bytes) else pages[k].encode("utf-8")
        page = page.replace((specs[k].agency or "").encode(), agency.encode()) + f"<!-- {i} -->".encode()
        pdf = padded_pdf(bases[i % len(bases)], rng.randint(100_000, 500_000), rng)
        yield page, pdf, r


def store_night(store: Store, items, night: int, pages_per_pdf: int) -> int:
    """Store every page and PDF as one night's crawl does; returns the logical bytes written."""
    seen = datetime(2025, 2, 1, tzinfo=timezone.utc) + timedelta(days=night)
    logical = 0
    for i, (page, pdf, report) in enumerate(items):
        with store.transaction():
            first = None
            for j in range(pages_per_pdf):
                url = f"http://p{i:05d}.bench.gov.cn/col{j}/t{i}.html"
                pdf_url = f"http://p{i:05d}.bench.gov.cn/col{j}/P0{i}.pdf"
                store.save_document(Document(url=url, content=page, content_type="text/html; charset=utf-8",
                                             fetched_at=seen, site="bench"))
                saved = store.save_document(Document(url=pdf_url, content=pdf, content_type="application/pdf",
                                                     fetched_at=seen, site="bench", report_url=url))
                logical += len(page) + len(pdf)
                first = first or (saved, pdf_url)
            if night == 0:
                store.save_report(report, version_id=first[0].version_id, report_url=first[1], site="bench",
                                  first_seen=seen)
    return logical


def db_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.parent.glob(path.name + "*"))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reports", type=int, default=1000)
    args = ap.parse_args()
    print(f"machine: {os.cpu_count()} cores shared with other users, load average "
          f"{' '.join(f'{x:.1f}' for x in os.getloadavg())}; {args.reports} reports")
    t = time.perf_counter()
    items = list(corpus(args.reports, random.Random(14)))
    pdf_bytes = sum(len(p) for _, p, _ in items)
    page_bytes = sum(len(p) for p, _, _ in items)
    sizes = sorted(len(p) for _, p, _ in items)
    print(f"corpus: {args.reports} PDFs, {sizes[0] / 1e3:.0f}–{sizes[-1] / 1e3:.0f} KB (median "
          f"{sizes[len(sizes) // 2] / 1e3:.0f} KB, total {pdf_bytes / 1e6:.1f} MB) + {args.reports} pages "
          f"({page_bytes / 1e6:.1f} MB), built in {time.perf_counter() - t:.1f}s")
    distinct = pdf_bytes + page_bytes
    per_k = 1000 / args.reports
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, pages_per_pdf, nights in (("unique", 1, 1), ("shared", PAGES_PER_PDF, 1),
                                            ("re-fetched", PAGES_PER_PDF, 1 + NIGHTS)):
            path = Path(tmp) / f"{name}.db"
            t = time.perf_counter()
            logical = 0
            with Store(path) as store:
                for night in range(nights):
                    logical += store_night(store, items, night, pages_per_pdf)
                store.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            el = time.perf_counter() - t
            size = db_size(path)
            rows.append((name, size, logical, el))
            path.unlink()
    print(f"baseline: the distinct files' own bytes {distinct / 1e6:.1f} MB = {distinct * per_k / 1e6:.1f} MB per 1,000 reports")
    for name, size, logical, el in rows:
        what = {"unique": "1 page + 1 PDF per report",
                "shared": f"each PDF attached by {PAGES_PER_PDF} pages",
                "re-fetched": f"shared, then {NIGHTS} nights re-fetched unchanged"}[name]
        print(f"{name:10s}: {size / 1e6:8.1f} MB  = {size * per_k / 1e6:7.1f} MB per 1,000 reports  "
              f"({size / distinct:4.2f}x the distinct bytes; the URLs' and fetches' bytes {logical / 1e6:7.1f} MB, "
              f"stored {size / logical:5.1%} of them; {el:.1f}s)  [{what}]")
    print(json.dumps({"reports": args.reports, "distinct_bytes": distinct, "scenarios": [
        {"name": n, "db_bytes": size, "logical_bytes": logical, "seconds": round(el, 1)} for n, size, logical, el in rows]}))


if __name__ == "__main__":
    main()
