"""Page images in, bounded: decoding with size limits, PDF pages rendered for OCR.

Every image is hostile: its header is read before its pixels, and a picture larger than
``MAX_PIXELS`` (a 30,000 x 30,000 PNG, a decompression bomb: a few KB that claim gigapixels) is
refused before a byte of it is decoded.  A truncated file is refused too (Pillow's default), not
read half-way.  Decoded pages are grey 8-bit numpy arrays.
"""
from __future__ import annotations

import io
import warnings

import numpy as np

#: Largest page we decode: an A3 page at 300 dpi is 17.5 Mpx; 40 Mpx keeps one grey page at 40 MB.
MAX_PIXELS = 40_000_000
#: Largest side in pixels (a long strip of 100,000 x 100 is not a page either).
MAX_SIDE = 20_000
#: Pages of one document read by OCR (a scanned report is a few pages; a 500-page scan is a book).
MAX_PAGES = 60
#: The resolution pages are rendered at for OCR: table digits of a 9-10.5 pt font are then about
#: 25-30 px high, where Tesseract's LSTM reads best; a scan stored at less is not upsampled past it.
OCR_DPI = 300
#: An embedded page image is rendered at its own resolution, never below this.
MIN_DPI = 150


class ImageRefused(Exception):
    """The image is not decoded; ``status`` is a ParseStatus value, the message says why."""

    def __init__(self, status: str, message: str):
        super().__init__(message)
        self.status = status


def _check_size(w: int, h: int, what: str) -> None:
    if w <= 0 or h <= 0:
        raise ImageRefused("failed", f"{what}: image of {w} x {h} pixels")
    if w * h > MAX_PIXELS or max(w, h) > MAX_SIDE:
        raise ImageRefused("too_large", f"{what}: image of {w} x {h} pixels exceeds the limit of "
                                        f"{MAX_PIXELS:,} pixels ({MAX_SIDE:,} per side)")


def decode_image(data: bytes, what: str = "image") -> list[np.ndarray]:
    """The frames of an image file (a multi-page TIFF has several) as grey arrays."""
    from PIL import Image, ImageFile

    ImageFile.LOAD_TRUNCATED_IMAGES = False
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            # open() reads the header only; our own limit (below) names the size, then Pillow's
            # guard is set to it for the decoding itself
            Image.MAX_IMAGE_PIXELS = None
            try:
                im = Image.open(io.BytesIO(data))
            finally:
                Image.MAX_IMAGE_PIXELS = MAX_PIXELS
            _check_size(im.width, im.height, what)
            frames: list[np.ndarray] = []
            n = getattr(im, "n_frames", 1)
            if n > MAX_PAGES:
                raise ImageRefused("too_large", f"{what}: {n} frames exceed the limit of {MAX_PAGES} pages")
            for i in range(n):
                im.seek(i)
                _check_size(im.width, im.height, what)
                frame = im
                if frame.mode not in ("L", "1"):
                    if "A" in frame.mode or frame.mode == "P":
                        frame = frame.convert("RGBA")
                        bg = Image.new("RGBA", frame.size, (255, 255, 255, 255))
                        frame = Image.alpha_composite(bg, frame)
                    frame = frame.convert("L")
                elif frame.mode == "1":
                    frame = frame.convert("L")
                else:
                    frame.load()
                frames.append(np.asarray(frame, dtype=np.uint8))
            return frames
    except ImageRefused:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
        raise ImageRefused("too_large", f"{what}: decompression bomb refused ({e})") from None
    except (OSError, SyntaxError, ValueError, EOFError) as e:
        msg = str(e) or type(e).__name__
        if "truncated" in msg.lower():
            raise ImageRefused("failed", f"{what}: truncated image ({msg})") from None
        raise ImageRefused("failed", f"{what}: unreadable image ({msg})") from None


def page_images(pdf, name: str = "document") -> list[tuple[np.ndarray, int]]:
    """Each page of an open pypdfium2 document as (grey array, dpi) for OCR."""
    return [render_page(pdf, pno, name) for pno in range(min(len(pdf), MAX_PAGES))]


def render_page(pdf, pno: int, name: str = "document") -> tuple[np.ndarray, int]:
    page = pdf[pno]
    try:
        w_pt, h_pt = page.get_size()
        dpi = _render_dpi(page)
        w, h = int(w_pt * dpi / 72), int(h_pt * dpi / 72)
        _check_size(w, h, f"{name} page {pno + 1}")
        bitmap = page.render(scale=dpi / 72, grayscale=True)
        arr = np.array(bitmap.to_numpy(), dtype=np.uint8)
        if arr.ndim == 3:
            arr = arr[..., 0]
        return arr, dpi
    finally:
        page.close()


def page_has_picture(pdf, pno: int) -> bool:
    """True when the page holds a picture covering most of it (a scanned page)."""
    import pypdfium2.raw as raw

    page = pdf[pno]
    try:
        w_pt = page.get_width()
        for obj in page.get_objects(filter=(raw.FPDF_PAGEOBJ_IMAGE,), max_depth=2):
            left, _b, right, _t = obj.get_bounds()
            if right - left > 0.5 * w_pt:
                return True
    except Exception:
        return False
    finally:
        page.close()
    return False


def _render_dpi(page) -> int:
    """A scanned page is rendered at its image's own resolution (clamped to MIN_DPI..OCR_DPI): more
    pixels than the scanner took add time, not detail; a vector page is rendered at OCR_DPI."""
    import pypdfium2.raw as raw

    w_pt = page.get_width()
    best = 0.0
    try:
        for obj in page.get_objects(filter=(raw.FPDF_PAGEOBJ_IMAGE,), max_depth=2):
            try:
                px_w, _px_h = obj.get_px_size()
                left, _b, right, _t = obj.get_bounds()
            except Exception:
                continue
            if right - left > 0.5 * w_pt:  # a page-sized picture: its resolution is the scan's
                best = max(best, px_w / ((right - left) / 72))
    except Exception:
        best = 0.0
    if best <= 0:
        return OCR_DPI
    return int(min(max(round(best), MIN_DPI), OCR_DPI))
