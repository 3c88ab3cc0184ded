"""DOC / WPS (and any other format LibreOffice reads) through LibreOffice headless.

``soffice --headless --convert-to docx`` turns the legacy binary formats into DOCX, which the DOCX
extractor reads.  The same helper converts DOCX to PDF/DOC for the renderers (crawler/demo/render.py).

Why a fresh user profile per conversion: only one soffice process may use a profile at a time;
a second conversion sharing it fails silently (empty outdir).  Each call gets its own temporary
profile directory (``-env:UserInstallation``), seeded so that macros never run and links are never
updated, its own process group (killed as a whole on timeout), an address-space limit, and
everything is removed afterwards.
"""
from __future__ import annotations

import logging
import os
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path
from typing import Callable

from storage.models import ParseStatus

from .base import Extracted

log = logging.getLogger(__name__)

#: Seconds a single conversion may take before it is killed.
CONVERT_TIMEOUT = 120


class ConversionError(RuntimeError):
    """LibreOffice is missing, timed out, or produced no output."""


def soffice_path() -> str | None:
    return shutil.which("soffice") or shutil.which("libreoffice")


#: Address-space limit of a LibreOffice process, bytes (None: inherit).  The parse stage sets it
#: from config ``parse.office_memory_mb``: soffice maps far more address space than a Python worker.
MEMORY_LIMIT: int | None = None

#: Called with the process-group id of each LibreOffice started, and again with None when it is
#: gone: the parse pool's worker tells its parent, which kills the group if the whole job times out.
spawn_hook: Callable[[int | None], None] | None = None

# The profile every conversion starts from: macros never run (highest security level, execution
# disabled), links to other files or URLs are never updated when a document loads (Writer 0 =
# never; Calc's enum differs: 1 = never), no referer-less remote links.  A hostile DOC cannot make
# the converter run code or fetch anything.
_REGISTRY = """<?xml version="1.0" encoding="UTF-8"?>
<oor:items xmlns:oor="http://openoffice.org/2001/registry" xmlns:xs="http://www.w3.org/2001/XMLSchema"
 xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
<item oor:path="/org.openoffice.Office.Common/Security/Scripting"><prop oor:name="MacroSecurityLevel" oor:op="fuse"><value>3</value></prop></item>
<item oor:path="/org.openoffice.Office.Common/Security/Scripting"><prop oor:name="DisableMacrosExecution" oor:op="fuse"><value>true</value></prop></item>
<item oor:path="/org.openoffice.Office.Common/Security/Scripting"><prop oor:name="BlockUntrustedRefererLinks" oor:op="fuse"><value>true</value></prop></item>
<item oor:path="/org.openoffice.Office.Writer/Content/Update"><prop oor:name="Link" oor:op="fuse"><value>0</value></prop></item>
<item oor:path="/org.openoffice.Office.Calc/Content/Update"><prop oor:name="Link" oor:op="fuse"><value>1</value></prop></item>
</oor:items>
"""


def _limit_child() -> None:
    """In the forked child, before exec: its own address-space limit; dies with its parent."""
    import resource

    if MEMORY_LIMIT is not None:
        soft, hard = resource.getrlimit(resource.RLIMIT_AS)
        want = MEMORY_LIMIT if hard == resource.RLIM_INFINITY else min(MEMORY_LIMIT, hard)
        resource.setrlimit(resource.RLIMIT_AS, (want, hard))
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _kill_group(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)  # the wrapper script and soffice.bin alike
    except (ProcessLookupError, PermissionError):
        pass


def _run(exe: str, tmpdir: Path, srcs: list[Path], *, to: str, filter_options: str | None,
         timeout: float, infilter: str | None = None) -> subprocess.CompletedProcess:
    """One soffice run converting ``srcs`` into ``tmpdir/out``, with its own profile and HOME in ``tmpdir``.

    soffice runs in a session (process group) of its own: on timeout the whole group is killed
    (``soffice`` is a shell script; killing only it would leave ``soffice.bin`` running), then
    subprocess.TimeoutExpired is raised.
    """
    outdir = tmpdir / "out"
    outdir.mkdir()
    profile = tmpdir / "profile"
    (profile / "user").mkdir(parents=True)
    (profile / "user" / "registrymodifications.xcu").write_text(_REGISTRY, encoding="utf-8")
    target = to if filter_options is None else f"{to}:{filter_options}"
    cmd = [exe, f"-env:UserInstallation={profile.as_uri()}", "--headless", "--norestore",
           "--nolockcheck", "--nodefault", "--nologo", *([f"--infilter={infilter}"] if infilter else []),
           "--convert-to", target, "--outdir", str(outdir), *map(str, srcs)]
    env = dict(os.environ, HOME=str(tmpdir))  # keep LibreOffice from touching the real home
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
                            start_new_session=True, preexec_fn=_limit_child)
    if spawn_hook is not None:
        spawn_hook(proc.pid)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill_group(proc)
        proc.communicate()
        raise
    finally:
        _kill_group(proc)  # a daemonised leftover of a finished run goes too
        if spawn_hook is not None:
            spawn_hook(None)
    return subprocess.CompletedProcess(cmd, proc.returncode, out, err)


def convert(data: bytes, *, src_ext: str, to: str, name: str = "document",
            timeout: float | None = None, filter_options: str | None = None,
            infilter: str | None = None) -> bytes:
    """Convert ``data`` (a file with extension ``src_ext``) to format ``to`` ("docx", "pdf", "doc").

    Raises ConversionError with a message naming the document and the reason.
    """
    timeout = CONVERT_TIMEOUT if timeout is None else timeout
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
