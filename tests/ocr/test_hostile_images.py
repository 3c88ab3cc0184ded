"""Hostile images are refused before their pixels are decoded, with a status that says why."""
from __future__ import annotations

import io
import struct
import tracemalloc
import zlib

import pytest
from PIL import Image

from crawler.parsing import parse_bytes, parse_pages
from crawler.parsing.ocr.image import MAX_PIXELS
from storage.models import ParseStatus

NAME = "https://gk.example.gov.cn/attach/scan.png"
#: Peak Python memory a refusal may take (a decoded 30,000 x 30,000 grey page would be 900 MB).
MAX_PEAK = 64 * 1024 * 1024


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def huge_png(w: int, h: int) -> bytes:
    """A valid grey PNG of w x h white pixels, streamed row by row (never held decoded here)."""
    comp = zlib.compressobj(9)
    row = b"\x00" + b"\xff" * w
    body = bytearray()
    for _ in range(h):
        body += comp.compress(row)
    body += comp.flush()
    return (b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0))
            + _png_chunk(b"IDAT", bytes(body)) + _png_chunk(b"IEND", b""))


def bomb_png() -> bytes:
    """A decompression bomb: a header claiming 100,000 x 100,000 pixels and a few bytes of data."""
    return (b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", struct.pack(">IIBBBBB", 100_000, 100_000, 8, 0, 0, 0, 0))
            + _png_chunk(b"IDAT", zlib.compress(b"\x00" * 4096)) + _png_chunk(b"IEND", b""))


def truncated_jpeg() -> bytes:
    img = Image.new("L", (1200, 1600), 255)
    for x in range(100, 1100, 50):
        img.paste(0, (x, 100, x + 3, 1500))
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=70)
    data = buf.getvalue()
    return data[: len(data) // 2]


def _measure(fn, *args, **kwargs):
    tracemalloc.start()
    try:
        return fn(*args, **kwargs), tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.fixture(scope="module")
def png_30k():
    return huge_png(30_000, 30_000)


def test_a_30000_pixel_square_png_is_too_large(png_30k):
    assert 30_000 * 30_000 > MAX_PIXELS
    report, peak = _measure(parse_bytes, png_30k, url=NAME)
    assert report.status is ParseStatus.TOO_LARGE, (report.status, report.error)
    assert NAME in report.error and "30000 x 30000" in report.error
    assert peak < MAX_PEAK + len(png_30k)


def test_a_decompression_bomb_is_too_large():
    data = bomb_png()
    assert len(data) < 1000
    report, peak = _measure(parse_bytes, data, url=NAME, content_type="image/png")
    assert report.status is ParseStatus.TOO_LARGE, (report.status, report.error)
    assert NAME in report.error and "100000 x 100000" in report.error
    assert peak < MAX_PEAK


def test_a_truncated_jpeg_is_refused_not_read_half_way():
    report, peak = _measure(parse_bytes, truncated_jpeg(), url=NAME.replace(".png", ".jpg"))
    assert report.status is ParseStatus.FAILED, (report.status, report.error)
    assert "truncated" in report.error and "scan.jpg" in report.error
    assert peak < MAX_PEAK


def test_one_hostile_page_refuses_a_multi_image_report():
    report = parse_pages([bomb_png(), truncated_jpeg()], url=NAME)
    assert report.status is ParseStatus.TOO_LARGE and "image 1" in report.error


def test_too_many_frames_are_refused():
    frames = [Image.new("L", (20, 20), 255) for _ in range(70)]
    buf = io.BytesIO()
    frames[0].save(buf, "TIFF", save_all=True, append_images=frames[1:])
    report = parse_bytes(buf.getvalue(), url=NAME.replace(".png", ".tif"))
    assert report.status is ParseStatus.TOO_LARGE and "frames" in report.error
