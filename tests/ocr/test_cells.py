"""One table cell read: a short label whose glyphs look like digits is not taken for a number.

Seen on the 200 dpi PNG pages of seed 004 (on this session's machine): the cell "3.其他" of Table 三
has three glyphs of a digit's proportions; it was read "3.54" at two scales, and "3.4" at the
third (a reading with a 4 is read a third time); it was stored as the value 3.54 and the row 其他处理 / 3.其他 was lost (7 cells).  The digit
readings are replayed here (Tesseract's eng model is not asked: what it says of such glyphs
depends on the machine); the label reading is Tesseract's own, on the cell drawn here.
"""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

import corpus
import crawler.parsing.ocr as ocr
from crawler.parsing.ocr import layout
from crawler.parsing.ocr.reader import Reading

CHAR_H = 22.0  # the glyph height of that page's table font
LABEL = next(item for key, _group, item in corpus.T3_ROWS if key == "other_other")  # typed from the spec


def cell_of(text: str) -> ocr._Crop:
    """A ruled cell with ``text`` in it, as the page gives it to _read_cell (a 200 dpi scan)."""
    from PIL import Image, ImageDraw, ImageFont

    im = Image.new("L", (320, 60), 255)
    d = ImageDraw.Draw(im)
    d.rectangle([0, 0, 319, 59], outline=0, width=2)
    d.text((20, 14), text, fill=0, font=ImageFont.truetype(corpus.FONT_FILE, 29))
    grey = np.asarray(im)
    c = ocr._analyse(layout.binarise(grey), grey, layout.Box(0, 0, 320, 60), 2, CHAR_H)
    assert isinstance(c, ocr._Crop)
    return c


def replay(monkeypatch, *readings: tuple[str, float]):
    """read_digits answers these readings in turn (then the last one again)."""
    seq = list(readings)

    def fake(_crop):
        text, conf = seq.pop(0) if len(seq) > 1 else seq[0]
        return Reading(text=text, confidence=conf, chars=[(ch, conf) for ch in text])

    monkeypatch.setattr(ocr, "read_digits", fake)


@pytest.fixture(autouse=True)
def _engine(tesseract_engine):
    """Every test here reads through Tesseract (the conftest fixture fails when it is missing)."""


def test_a_label_whose_digit_readings_disagree_is_read_as_the_label(monkeypatch):
    c = replace(cell_of(LABEL), glyphs=3)  # three glyphs of a digit's shape, as on that page
    replay(monkeypatch, ("3.54", 0.52), ("3.54", 0.52), ("3.4", 0.85))
    got = ocr._read_cell(c, CHAR_H)
    assert got.text == LABEL, got


def test_a_value_whose_readings_disagree_stays_a_value(monkeypatch):
    c = cell_of("354")
    assert c.glyphs == 3
    replay(monkeypatch, ("354", 0.52), ("384", 0.85))
    got = ocr._read_cell(c, CHAR_H)
    assert got.text in ("354", "384") and got.confidence <= 0.5 and got.alternatives, got


def test_a_value_read_alike_twice_is_not_read_as_a_label(monkeypatch):
    calls = []
    monkeypatch.setattr(ocr, "read_label", lambda *a, **k: calls.append(1))
    c = cell_of("354")
    replay(monkeypatch, ("354", 0.97))
    got = ocr._read_cell(c, CHAR_H)
    assert got.text == "354" and not calls  # agreeing readings cost no label reading
