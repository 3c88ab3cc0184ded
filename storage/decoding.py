"""Bytes of a web page -> text: the one decoder the spider and the parser share.

It lives at the ground floor (storage may be imported by spiders and by crawler alike) so that a
page gives one text wherever it is read: a UTF-8 page labelled gbk must not yield a title to the
spider and mojibake to the parser (or the reverse).

Order: BOM; strict UTF-8 (bytes that are valid UTF-8 are UTF-8 whatever the page claims: GBK text
is practically never valid UTF-8, while UTF-8 bytes read as GBK make silent mojibake); the HTTP
header's charset; the ``<meta>`` charset; GB18030 (the usual undeclared charset of Chinese
government hosts, ../shared/research/portals.md §9); a guess by charset-normalizer.  Any
GBK/GB2312 label is read as its superset GB18030.  A declared Latin-1/ASCII, which never fails to
decode and is almost always wrong on these sites, is tried last.
"""
from __future__ import annotations

import codecs
import re

_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([\w:.-]+)""", re.IGNORECASE)
_HEADER_CHARSET = re.compile(r"charset\s*=\s*[\"']?([\w:.-]+)", re.IGNORECASE)
_GB_FAMILY = ("gbk", "gb2312", "cp936", "euc_cn", "hz", "iso2022_cn")
#: Declared charsets that never fail to decode and are almost always wrong on these sites.
_WEAK_CHARSETS = ("iso8859-1", "cp1252", "ascii", "iso8859-15")
#: How much of an undecodable page charset-normalizer looks at (it is slow on big inputs).
_GUESS_BYTES = 200_000


def norm_charset(name: str | None) -> str | None:
    """A Python codec name for a declared charset (GBK family -> gb18030), None if unknown."""
    if not name:
        return None
    name = name.strip().strip("'\"").lower()
    try:
        name = codecs.lookup(name).name
    except LookupError:
        return None
    # GBK and GB2312 pages routinely contain characters only GB18030 has.
    return "gb18030" if name in _GB_FAMILY else name


def header_charset(content_type: str | None) -> str | None:
    """The charset of a Content-Type header value, normalised."""
    if not content_type:
        return None
    m = _HEADER_CHARSET.search(content_type)
    return norm_charset(m.group(1)) if m else None


def meta_charset(data: bytes) -> str | None:
    """The charset of a ``<meta>`` in the first 8 KB, normalised."""
    m = _META_CHARSET.search(data[:8192])
    return norm_charset(m.group(1).decode("ascii", "ignore")) if m else None


def decode(data: bytes, content_type: str | None = None) -> tuple[str, str]:
    """(text, codec used) for the bytes of a page; never raises."""
    for bom, enc in ((codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF16_LE, "utf-16-le"),
                     (codecs.BOM_UTF16_BE, "utf-16-be")):
        if data.startswith(bom):
            return data[len(bom):].decode(enc, errors="replace"), enc
    candidates = ["utf-8", header_charset(content_type), meta_charset(data), "gb18030"]
    strong = [c for c in candidates if c and c not in _WEAK_CHARSETS]
    weak = [c for c in candidates if c in _WEAK_CHARSETS]
    for enc in dict.fromkeys(strong + weak):
        try:
            return data.decode(enc), enc
        except (UnicodeDecodeError, LookupError):
            continue
    from charset_normalizer import from_bytes  # only for the odd page

    best = from_bytes(data[:_GUESS_BYTES]).best()
    enc = (norm_charset(best.encoding) if best is not None else None) or "gb18030"
    return data.decode(enc, errors="replace"), enc
