"""Snap a doubtful OCR reading of a table label to the national format's label it must be.

A label cell read with low confidence ("规划" for 规章 on a grey JPEG) is compared with every label
of the vocabulary (vocabulary/template.py) of the same length, character by character,
against the engine's own alternatives for each character: a label whose every character is the
reading or one of its alternatives, at least half of them the reading itself, replaces it.  The
mapping then matches labels fuzzily as for any other format; this only repairs what Tesseract said
it was unsure of, and only to a label of the template.
"""
from __future__ import annotations

import unicodedata
from functools import lru_cache

from vocabulary import template as T


def _norm(s: str) -> str:
    return "".join(unicodedata.normalize("NFKC", s).split())


@lru_cache(maxsize=1)
def labels() -> dict[int, list[str]]:
    forms: set[str] = set(T.TABLE2_BLOCKS_2019) | {T.TABLE2_CONTENT_HEADER, T.TABLE3_BALANCE_NOTE}
    for canonical, variants in list(T.TABLE2_ROWS.values()) + list(T.TABLE2_COLUMNS.values()):
        forms.add(canonical)
        forms.update(variants)
    forms.update(T.TABLE3_COLUMN_LABELS.values())
    forms.update(T.TABLE3_HEADER_GROUPS)
    forms.update(T.TABLE3_GROUPS.values())
    for r in T.TABLE3_ROW_LABELS.values():
        forms.add(r.label)
        forms.update(r.variants)
    forms.update(T.TABLE4_COLUMN_LABELS.values())
    forms.update(T.TABLE4_HEADERS)
    by_len: dict[int, list[str]] = {}
    for f in forms:
        n = _norm(f)
        by_len.setdefault(len(n), []).append(n)
    return by_len


def snap(chars: list[tuple[str, float]], alternatives: list[list[tuple[str, float]]] | None) -> str | None:
    """The vocabulary label these characters (with their alternatives) spell, if exactly one does."""
    reading = [_norm(c) for c, _ in chars]
    if not reading or any(len(c) != 1 for c in reading):
        return None
    alts = [{_norm(a) for a, _ in (alternatives[i] if alternatives and i < len(alternatives) else [])}
            for i in range(len(reading))]
    hits = []
    for label in labels().get(len(reading), []):
        same = 0
        for i, ch in enumerate(label):
            if ch == reading[i]:
                same += 1
            elif ch not in alts[i]:
                break
        else:
            if same * 2 >= len(label):
                hits.append(label)
    return hits[0] if len(hits) == 1 else None


@lru_cache(maxsize=1)
def _all() -> list[str]:
    return sorted({x for xs in labels().values() for x in xs})


_PUNCT = "．.、,，:：;；()（）“”\"'‘’《》〈〉[]【】-—_ "


def _key(s: str) -> str:
    """Compared without punctuation: OCR loses and invents dots and brackets more than characters."""
    return s.translate({ord(c): None for c in _PUNCT})


@lru_cache(maxsize=1)
def _keys() -> dict[str, str]:
    out: dict[str, str] = {}
    for label in _all():
        out.setdefault(_key(label), label)
    return out


def snap_fuzzy(text: str) -> str | None:
    """The template label a misread label clearly is: similar (ratio >= 60) and clearly more similar
    than any other label (by 8 points), so two labels that differ in one word are never swapped."""
    from rapidfuzz import fuzz, process

    t = _norm(text)
    if len(t) < 2 or t in set(_all()):
        return None
    keys = _keys()
    k = _key(t)
    if not k:
        return None
    if k in keys:
        return keys[k]
    best = process.extract(k, list(keys), scorer=fuzz.ratio, limit=2)
    if not best or best[0][1] < 60:
        return None
    if len(best) > 1 and best[0][1] - best[1][1] < 8:
        return None
    return keys[best[0][0]]


def is_label(text: str) -> bool:
    """The text is a label of the template (punctuation aside)."""
    k = _key(_norm(text))
    return bool(k) and k in _keys()


def snap_prefix(text: str, min_chars: int = 3) -> str | None:
    """The one template label that begins with ``text`` and is longer than it (the first line of a
    wrapped label, or the first glyphs of a long one), else None.  Exact on the characters (no
    fuzziness): a prefix with a misread character matches nothing and the whole cell is read."""
    k = _key(_norm(text))
    if len(k) < min_chars:
        return None
    hits = {label for key, label in _keys().items() if key.startswith(k) and len(key) > len(k)}
    return hits.pop() if len(hits) == 1 else None


#: chi_sim's usual misreadings in these reports' narrative (measured on the test corpus):
#: 予 read as 子 or 了, and a digit 0 as the letter O.  Fixed before the narrative checks read counts.
TEXT_FIXES = (("子以", "予以"), ("不了予", "不予"), ("不子", "不予"), ("了以", "予以"), ("不了", "不予"))
_DIGIT_O = None


def fix_text(text: str) -> str:
    import re

    global _DIGIT_O
    if _DIGIT_O is None:
        _DIGIT_O = re.compile(r"(?<=\d)[OoＯ〇]|[OoＯ〇](?=\d)|[OoＯ〇](?=件)")
    for wrong, right in TEXT_FIXES:
        if wrong == "不了":  # only before a word this template uses: 不予公开/不予处理
            text = re.sub(r"不了(?=公开|处理)", "不予", text)
            continue
        text = text.replace(wrong, right)
    # an opening bracket read twice ("(【单位名称)" for "（单位名称）" on a 150 dpi scan)
    text = re.sub(r"[（(【\[]{2,}(?=\S)", "（", text)
    return _DIGIT_O.sub("0", _snap_placeholders(text))


def _snap_placeholders(text: str) -> str:
    """A bracketed template placeholder with one glyph misread ("(单位名叉)" on a 150 dpi scan) is the
    placeholder: the check for placeholders left in the report must see it as the agency printed it."""
    import re

    inners = {p[1:-1] for p in T.PLACEHOLDERS if p[:1] in "（(" and p[-1:] in "）)" and len(p) >= 6}

    def fix(m):
        inner = m.group(1)
        for want in inners:
            if len(inner) == len(want) and sum(a != b for a, b in zip(inner, want)) == 1:
                return f"（{want}）"
        return m.group(0)

    return re.sub(r"[（(【\[]\s*([^\s（()）【】\[\]]{4,8})\s*[)）】\]]", fix, text)


def snap_heading(text: str) -> str | None:
    """A section heading as chi_sim read it ('五、存在的主要问翘及改进情况') -> the template's wording,
    when the numeral matches and the words are clearly that section's (ratio >= 75)."""
    import re

    from rapidfuzz import fuzz

    m = re.match(r"^\s*([一二三四五六])\s*[、.,，．]?\s*(\S.{1,38})$", text)  # the 、 is often lost
    if not m:
        return None
    numeral, rest = m.group(1), _key(_norm(m.group(2)))
    key = list(T.SECTIONS)[T.SECTION_NUMERALS.index(numeral)]
    canonical, variants = T.SECTIONS[key]
    for form in (canonical, *variants):
        # a line as long as the heading itself is the heading with a few glyphs misread (seen on a
        # 150 dpi scan: "六.其他需要执征的学项", 6 of 9 right); a longer line must be closer still
        need = 60 if abs(len(rest) - len(_key(form))) <= 2 else 75
        if len(_key(form)) >= 4 and fuzz.ratio(rest, _key(form)) >= need:
            heading = f"{numeral}、{canonical}"
            return heading if heading != text.strip() else None
    return None
