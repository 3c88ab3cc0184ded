"""Tesseract, through tesserocr: one engine per reading mode, kept for the life of the process.

Loading a language model costs 0.1-0.5 s; tesserocr keeps the C++ API in the process, so each cell
is one ``SetImage`` + ``Recognize`` (a few milliseconds), where pytesseract would spawn the
``tesseract`` program and reload the model for every cell.

Modes:

* ``digits``: a value cell: the eng model with a whitelist of digits and the characters of a value
  (. / - —), page segmentation "single line".
* ``label``: a table label: chi_sim, "single block".
* ``page``: the narrative around the tables: chi_sim, automatic segmentation, read line by line.

The model files are Debian's (tesseract-ocr-chi-sim, tesseract-ocr-eng); ``TESSDATA_PREFIX``
overrides where they are looked for.
"""
from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

_DEBIAN_TESSDATA = ("/usr/share/tesseract-ocr/5/tessdata", "/usr/share/tesseract-ocr/4.00/tessdata",
                    "/usr/share/tessdata")
DIGIT_CHARS = "0123456789./-"


class EngineMissing(RuntimeError):
    pass


def tessdata_dir() -> str:
    env = os.environ.get("TESSDATA_PREFIX")
    for d in ((env,) if env else ()) + _DEBIAN_TESSDATA:
        if d and (Path(d) / "chi_sim.traineddata").exists():
            return d
    raise EngineMissing("Tesseract language data chi_sim not found (apt-get install tesseract-ocr-chi-sim; "
                        f"looked in {', '.join(((env,) if env else ()) + _DEBIAN_TESSDATA)})")


@dataclass
class Reading:
    text: str
    confidence: float  # 0..1: the lowest character confidence (one bad character is enough to doubt)
    chars: list[tuple[str, float]]  # each character with its confidence 0..1
    alternatives: list[list[tuple[str, float]]] | None = None  # per character, the engine's other choices


_local = threading.local()


def _api(mode: str):
    apis = getattr(_local, "apis", None)
    if apis is None:
        apis = _local.apis = {}
    api = apis.get(mode)
    if api is not None:
        return api
    try:
        import tesserocr
    except ImportError as e:  # pragma: no cover - an install without the binding
        raise EngineMissing(f"tesserocr is not installed ({e})") from None
    path = tessdata_dir()
    # The engine's alternative characters (lstm_choice_mode 2) cost a fifth of a chi_sim reading:
    # they are asked for only where they are used, by the API that re-reads a doubtful label.
    if mode == "digits":
        api = tesserocr.PyTessBaseAPI(path=path, lang="eng", psm=tesserocr.PSM.SINGLE_LINE,
                                      oem=tesserocr.OEM.LSTM_ONLY)
        api.SetVariable("tessedit_char_whitelist", DIGIT_CHARS)
    elif mode == "label":
        api = tesserocr.PyTessBaseAPI(path=path, lang="chi_sim", psm=tesserocr.PSM.SINGLE_BLOCK,
                                      oem=tesserocr.OEM.LSTM_ONLY)
    elif mode == "label_raw":  # one line, no layout analysis at all
        api = tesserocr.PyTessBaseAPI(path=path, lang="chi_sim", psm=tesserocr.PSM.RAW_LINE,
                                      oem=tesserocr.OEM.LSTM_ONLY)
    elif mode in ("label_line", "label_choices"):
        api = tesserocr.PyTessBaseAPI(path=path, lang="chi_sim", psm=tesserocr.PSM.SINGLE_LINE,
                                      oem=tesserocr.OEM.LSTM_ONLY)
        if mode == "label_choices":
            api.SetVariable("lstm_choice_mode", "2")
    elif mode == "page":
        api = tesserocr.PyTessBaseAPI(path=path, lang="chi_sim", psm=tesserocr.PSM.AUTO,
                                      oem=tesserocr.OEM.LSTM_ONLY)
    else:
        raise ValueError(mode)
    # our crops are cleaned and scaled: the size tells the dpi; dark-on-light always, so Tesseract
    # need not retry each doubtful line inverted (which doubles its time on noisy scans)
    api.SetVariable("user_defined_dpi", "300")
    api.SetVariable("tessedit_do_invert", "0")
    apis[mode] = api
    return api


def _set_image(api, arr: np.ndarray) -> None:
    """The grey array handed to Tesseract as raw bytes (tesserocr's SetImage(PIL) writes a BMP first)."""
    arr = np.ascontiguousarray(arr, dtype=np.uint8)
    h, w = arr.shape
    api.SetImageBytes(arr.tobytes(), w, h, 1, w)


def read_digits(crop: np.ndarray) -> Reading:
    """A value cell (black on white, tightly cropped with a margin)."""
    return _read_symbols(_api("digits"), crop)


def _read_symbols(api, crop: np.ndarray, choices: bool = False) -> Reading:
    """Text and per-character confidence; ``choices``: the engine's alternatives for each character
    too (the API must have been made with lstm_choice_mode 2)."""
    import tesserocr

    _set_image(api, crop)
    api.Recognize()
    chars: list[tuple[str, float]] = []
    alts: list[list[tuple[str, float]]] = []
    it = api.GetIterator()
    level = tesserocr.RIL.SYMBOL
    if it is not None:
        for sym in tesserocr.iterate_level(it, level):
            try:
                ch = sym.GetUTF8Text(level)
            except RuntimeError:  # an empty symbol
                continue
            if not ch:
                continue
            chars.append((ch, max(0.0, min(1.0, sym.Confidence(level) / 100))))
            if not choices:
                continue
            mine = []
            for c in sym.GetChoiceIterator():
                t = c.GetUTF8Text()
                if t and t != ch:
                    mine.append((t, max(0.0, min(1.0, c.Confidence() / 100))))
            alts.append(mine)
    text = "".join(c for c, _ in chars)
    conf = min((c for _, c in chars), default=0.0)
    return Reading(text=text, confidence=conf, chars=chars, alternatives=alts if choices else None)


def read_label(crop: np.ndarray, one_line: bool = False, choices: bool = False, raw: bool = False) -> Reading:
    """A label cell (chi_sim).  ``choices``: with the engine's alternative characters (slower: asked
    for when a first reading was doubtful, to snap it to the vocabulary).  ``raw``: the crop is one
    line as it is, no layout analysis (Tesseract's line finding drops some clean, thin-stroked
    labels altogether: "信息内容" of a table pasted as a picture reads as nothing)."""
    if one_line:
        api = _api("label_raw" if raw else "label_choices" if choices else "label_line")
        r = _read_symbols(api, crop, choices=choices)
        if r.text.strip():
            r.confidence = max(0.0, min(1.0, api.MeanTextConf() / 100))
            return r
    api = _api("label")
    _set_image(api, crop)
    text = api.GetUTF8Text()
    conf = api.MeanTextConf() / 100
    return Reading(text=text, confidence=max(0.0, min(1.0, conf)), chars=[])


@dataclass
class Line:
    text: str
    x0: int
    y0: int
    x1: int
    y1: int
    confidence: float


def read_lines(page: np.ndarray) -> list[Line]:
    """The text lines of a page region (tables blanked out), with their boxes."""
    import tesserocr

    api = _api("page")
    _set_image(api, page)
    api.Recognize()
    out: list[Line] = []
    it = api.GetIterator()
    level = tesserocr.RIL.TEXTLINE
    if it is None:
        return out
    for line in tesserocr.iterate_level(it, level):
        try:
            text = line.GetUTF8Text(level)
        except RuntimeError:
            continue
        box = line.BoundingBox(level)
        if not text or not text.strip() or box is None:
            continue
        out.append(Line(text.strip(), *box, confidence=line.Confidence(level) / 100))
    return out
