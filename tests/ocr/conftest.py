"""The OCR corpus (tests/ocr/corpus.py) built once per session into a temporary directory."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

import corpus  # noqa: E402

#: The representative subset `make test` reads (`make bench` reads all 30 in bench/ocr_bench.py and
#: fails when the bar is not met): the seed with findings at 150 dpi as an image-only PDF and as
#: PNG pages (where a narrative count was once misread), an upright 150 dpi PNG scan (its JPEG
#: blocks once cost 27 cells), a 200 dpi PDF whose "规章" label chi_sim misread, a 图片版 HTML page.
SUBSET = (("001_d039ec262de9d514", "pdf", 150), ("001_d039ec262de9d514", "png", 150),
          ("003_d9d52685c3ee3a90", "png", 150), ("002_de66a63945b15243", "pdf", 200),
          ("004_df5f9a23d5b9d417", "html", 150))


def _tesseract_ready() -> bool:
    try:
        from crawler.parsing.ocr.reader import tessdata_dir

        tessdata_dir()
        import tesserocr  # noqa: F401
        return True
    except Exception:
        return False


@pytest.fixture
def tesseract_engine():
    """Fails (never skips) a test that needs Tesseract when it is missing."""
    if not _tesseract_ready():
        pytest.fail("Tesseract (tesseract-ocr-chi-sim) and tesserocr are required: run `make install`")


@pytest.fixture(scope="session")
def ocr_corpus(tmp_path_factory):
    if not _tesseract_ready():
        pytest.fail("Tesseract (tesseract-ocr-chi-sim) and tesserocr are required: run `make install`")
    out = tmp_path_factory.mktemp("ocr-corpus")
    items = []
    for stem, kind, dpi in SUBSET:
        items += corpus.build(out / f"{stem}-{kind}-{dpi}", stems=[stem], kinds=(kind,), dpis=(dpi,))
    return items
