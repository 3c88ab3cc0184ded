"""bench/storage_size_bench.py: real-size PDFs, and a PDF stored once however many URLs and fetches bring it."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pypdfium2 as pdfium

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "bench"))


def test_padded_pdfs_are_real_pdfs_of_the_asked_size():
    import random

    from storage_size_bench import padded_pdf

    from crawler.demo.scale import Nation

    base = Nation(1).pdf(0)
    for target in (100_000, 480_000):
        data = padded_pdf(base, target, random.Random(target))
        assert abs(len(data) - target) < 0.06 * target
        doc = pdfium.PdfDocument(data)
        assert "政府信息公开工作年度报告" in doc[0].get_textpage().get_text_range()  # the text layer is intact
        doc.close()


def test_sizes_per_scenario():
    out = subprocess.run([sys.executable, "bench/storage_size_bench.py", "--reports", "6"], cwd=ROOT,
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    by = {s["name"]: s for s in result["scenarios"]}
    distinct = result["distinct_bytes"]
    assert by["unique"]["db_bytes"] >= distinct  # every distinct byte is kept
    # three URLs per PDF and seven unchanged re-fetches add rows, not copies of the bytes
    assert by["shared"]["logical_bytes"] >= 3 * distinct * 0.99
    assert by["shared"]["db_bytes"] < 1.1 * by["unique"]["db_bytes"]
    assert by["re-fetched"]["db_bytes"] < 1.1 * by["shared"]["db_bytes"]
