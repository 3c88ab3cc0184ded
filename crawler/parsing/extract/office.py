"""DOC / WPS (and any other format LibreOffice reads) through LibreOffice headless.

``soffice --headless --convert-to docx`` turns the legacy binary formats into DOCX, which the DOCX
extractor reads.  The same helper converts DOCX to PDF/DOC for the renderers (crawler/demo/render.py).

Why a fresh user profile per conversion: only one soffice process may use a profile at a time;
a second conversion sharing it fails silently (empty outdir).  Each call gets its own temporary
profile directory (``-env:UserInstallation``), a timeout, and everything is removed afterwards.
"""
from __future__ import annotations

import logging
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from storage.models import ParseStatus

from .base import Extracted

log = logging.getLogger(__name__)

#: Seconds a single conversion may take before it is killed.
CONVERT_TIMEOUT = 120


class ConversionError(RuntimeError):
    """LibreOffice is missing, timed out, or produced no output."""


def soffice_path() -> str | None:
    return shutil.which("soffice") or shutil.which("libreoffice")


def _run(exe: str, tmpdir: Path, srcs: list[Path], *, to: str, filter_options: str | None,
         timeout: float, infilter: str | None = None) -> subprocess.CompletedProcess:
    """One soffice run converting ``srcs`` into ``tmpdir/out``, with its own profile and HOME in ``tmpdir``."""
    outdir = tmpdir / "out"
    outdir.mkdir()
    profile = tmpdir / "profile"
    target = to if filter_options is None else f"{to}:{filter_options}"
    cmd = [exe, f"-env:UserInstallation={profile.as_uri()}", "--headless", "--norestore",
           "--nolockcheck", *([f"--infilter={infilter}"] if infilter else []),
           "--convert-to", target, "--outdir", str(outdir), *map(str, srcs)]
    env = dict(os.environ, HOME=str(tmpdir))  # keep LibreOffice from touching the real home
    return subprocess.run(cmd, capture_output=True, timeout=timeout, env=env)


def convert(data: bytes, *, src_ext: str, to: str, name: str = "document",
            timeout: float = CONVERT_TIMEOUT, filter_options: str | None = None,
            infilter: str | None = None) -> bytes:
    """Convert ``data`` (a file with extension ``src_ext``) to format ``to`` ("docx", "pdf", "doc").

    Raises ConversionError with a message naming the document and the reason.
    """
    exe = soffice_path()
    if exe is None:
        raise ConversionError(f"{name}: LibreOffice (soffice) is not installed; cannot convert "
                              f"{src_ext} to {to}")
    with tempfile.TemporaryDirectory(prefix="nianbao-soffice-") as tmp:
        tmpdir = Path(tmp)
        src = tmpdir / f"in.{src_ext.lstrip('.')}"
        src.write_bytes(data)
        outdir = tmpdir / "out"
        try:
            proc = _run(exe, tmpdir, [src], to=to, filter_options=filter_options, infilter=infilter,
                        timeout=timeout)
        except subprocess.TimeoutExpired as e:
            raise ConversionError(f"{name}: LibreOffice conversion {src_ext}->{to} timed out "
                                  f"after {timeout:.0f}s") from e
        outs = list(outdir.glob(f"*.{to}"))
        if not outs or outs[0].stat().st_size == 0:
            err = (proc.stderr or b"").decode("utf-8", "replace").strip()[-300:]
            raise ConversionError(f"{name}: LibreOffice could not convert {src_ext} to {to} "
                                  f"(exit {proc.returncode}{': ' + err if err else ''})")
        return outs[0].read_bytes()


def convert_many(items: list[tuple[str, bytes]], *, src_ext: str, to: str,
                 timeout: float = CONVERT_TIMEOUT, filter_options: str | None = None) -> dict[str, bytes]:
    """Convert several documents in one LibreOffice run (start-up dominates: ~2 s per run).

    ``items`` are (name, bytes); names must be unique file stems.  Returns name -> converted bytes;
    raises ConversionError naming the documents that did not convert.
    """
    if not items:
        return {}
    exe = soffice_path()
    if exe is None:
        raise ConversionError(f"LibreOffice (soffice) is not installed; cannot convert {src_ext} to {to}")
    with tempfile.TemporaryDirectory(prefix="nianbao-soffice-") as tmp:
        tmpdir = Path(tmp)
        srcs = []
        for name, data in items:
            src = tmpdir / f"{name}.{src_ext.lstrip('.')}"
            src.write_bytes(data)
            srcs.append(src)
        outdir = tmpdir / "out"
        try:
            _run(exe, tmpdir, srcs, to=to, filter_options=filter_options, timeout=timeout * len(items))
        except subprocess.TimeoutExpired as e:
            raise ConversionError(f"LibreOffice batch conversion {src_ext}->{to} timed out") from e
        out: dict[str, bytes] = {}
        missing = []
        for name, _ in items:
            f = outdir / f"{name}.{to}"
            if f.exists() and f.stat().st_size:
                out[name] = f.read_bytes()
            else:
                missing.append(name)
        if missing:
            raise ConversionError(f"LibreOffice could not convert {', '.join(missing)} from {src_ext} to {to}")
        return out


def _ole_header_problem(data: bytes) -> str | None:
    """What is wrong with an OLE2 (Compound File) header, or None when it is plausible."""
    if len(data) < 512:
        return "shorter than its 512-byte header"
    if data[0x1C:0x1E] != b"\xfe\xff":
        return "bad byte-order mark"
    sector_shift = int.from_bytes(data[0x1E:0x20], "little")
    mini_shift = int.from_bytes(data[0x20:0x22], "little")
    if sector_shift not in (9, 12) or mini_shift != 6:
        return f"bad sector sizes ({sector_shift}, {mini_shift})"
    return None


def extract(data: bytes, *, fmt: str = "doc", name: str = "document") -> Extracted:
    """DOC/WPS bytes -> Extracted, through a LibreOffice DOCX conversion."""
    from . import docx as docx_extract

    bad = _ole_header_problem(data) if fmt in ("doc", "wps") else None
    if bad:
        # LibreOffice would import the bytes as plain text and "succeed": refuse them here.
        return Extracted(format=fmt, status=ParseStatus.FAILED,
                         error=f"{name}: corrupt {fmt.upper()} (not a valid OLE2 compound file: {bad})")
    try:
        converted = convert(data, src_ext=fmt, to="docx", name=name)
    except ConversionError as e:
        log.warning("%s", e)
        return Extracted(format=fmt, status=ParseStatus.FAILED, error=str(e))
    ex = docx_extract.extract(converted, name=name)
    ex.format = fmt
    return ex
