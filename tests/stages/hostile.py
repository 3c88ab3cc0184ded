"""Hostile documents, written by hand from what the issue's review found (not printed by our parser)."""
from __future__ import annotations

import io
import stat
import zipfile
import zlib
from pathlib import Path


def html_span_bomb() -> bytes:
    """1.6 KB: one row of 40 cells with rowspan=1000 colspan=1000 over 40 rows (40 x 40,000 unbounded)."""
    cells = "".join("<td rowspan=1000 colspan=1000>x</td>" for _ in range(40))
    return ("<html><body><table><tr>" + cells + "</tr>" + "<tr></tr>" * 39 + "</table></body></html>").encode()


def docx_grid_before_bomb() -> bytes:
    """A tiny DOCX whose one row claims w:gridBefore of 2,000,000 cells."""
    w = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
    body = (f'<?xml version="1.0" encoding="UTF-8"?><w:document xmlns:w="{w}"><w:body><w:tbl>'
            '<w:tr><w:trPr><w:gridBefore w:val="2000000"/></w:trPr><w:tc><w:p><w:r><w:t>1</w:t></w:r></w:p></w:tc></w:tr>'
            '</w:tbl></w:body></w:document>')
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml", '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/'
                   'package/2006/content-types"><Default Extension="xml" ContentType="application/xml"/></Types>')
        z.writestr("word/document.xml", body)
    return buf.getvalue()


def pdf_memory_bomb(mb: int = 1200) -> bytes:
    """A PDF whose one page's content stream inflates (Flate) to ``mb`` MB of path operators:
    about 1.8 MB on the wire."""
    c = zlib.compressobj(9)
    chunk = b"0 0 m " * (1 << 20)
    stream = b"".join(c.compress(chunk) for _ in range(mb // 6)) + c.flush()
    objs = [b"<< /Type /Catalog /Pages 2 0 R >>",
            b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R >>",
            b"<< /Length " + str(len(stream)).encode() + b" /Filter /FlateDecode >>\nstream\n" + stream
            + b"\nendstream"]
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n")
    offsets = []
    for i, o in enumerate(objs, 1):
        offsets.append(out.tell())
        out.write(f"{i} 0 obj\n".encode() + o + b"\nendobj\n")
    xref = out.tell()
    out.write(f"xref\n0 {len(objs) + 1}\n0000000000 65535 f \n".encode())
    for off in offsets:
        out.write(f"{off:010d} 00000 n \n".encode())
    out.write(f"trailer\n<< /Size {len(objs) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode())
    return out.getvalue()


def ole_doc() -> bytes:
    """Bytes with a plausible OLE2 header (so the DOC goes to the converter), nothing else."""
    header = bytearray(512)
    header[0:8] = bytes.fromhex("d0cf11e0a1b11ae1")
    header[0x1C:0x1E] = b"\xfe\xff"
    header[0x1E:0x20] = (9).to_bytes(2, "little")
    header[0x20:0x22] = (6).to_bytes(2, "little")
    return bytes(header) + b"\x00" * 1536


def hanging_soffice(directory: Path) -> Path:
    """A stand-in `soffice` that really hangs: it starts a child (as the real wrapper starts
    soffice.bin) and waits for it; both write their pids so a test can see they were killed."""
    directory.mkdir(parents=True, exist_ok=True)
    script = directory / "soffice"
    script.write_text("#!/bin/sh\n"
                      f"echo $$ >> {directory}/pids\n"
                      f"sh -c 'echo $$ >> {directory}/pids; exec sleep 600' &\n"
                      "wait\n")
    script.chmod(script.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return directory


def alive(pid: int) -> bool:
    """Running (not gone, not a zombie); the state follows the parenthesised command name."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False
