"""The demo's （图片版） report: its narrative is text on the page, its three tables are pictures.

Many county and town offices publish the report this way (tables pasted as screenshots).  The
pictures are drawn here with Pillow from the same abstract table layouts the other formats print
(crawler/demo/render.py: the national format's merged cells, labels from the demo's layouts),
as a screenshot at about 200 dpi: ruled grid, labels wrapped inside their cells, values centred.
The crawl fetches them as attachments of the report page and the parse stage reads them by OCR.
"""
from __future__ import annotations

import html
import io
from pathlib import Path

from crawler.demo import render
from crawler.demo.spec import ReportSpec

_FONT = Path("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc")
#: Pixels per point of the screenshot (200 dpi): a 10.5 pt table font is 29 px.
_PX = 200 / 72
TABLE_PT = 10.5
#: Table width in pixels (an A4 text column at 150 dpi).
WIDTH = 1400
TABLE_KEYS = ("proactive", "requests", "appeals")


def _font(size: int):
    from PIL import ImageFont

    return ImageFont.truetype(str(_FONT), size) if _FONT.exists() else ImageFont.load_default()


def _wrap(draw, text: str, font, width: float) -> list[str]:
    lines: list[str] = []
    for para in text.replace("\f", "\n").split("\n"):
        cur = ""
        for ch in para:
            if cur and draw.textlength(cur + ch, font=font) > width:
                lines.append(cur)
                cur = ch
            else:
                cur += ch
        lines.append(cur)
    return [ln for ln in lines if ln] or [""]


def _column_widths(ncols: int, key: str) -> list[float]:
    """Fractions of the width per grid column: the label columns of Table 三 wider, as printed."""
    if key == "requests":
        return [0.07, 0.09, 0.22] + [0.62 / (ncols - 3)] * (ncols - 3)
    if key == "proactive":
        return [0.34] + [0.66 / (ncols - 1)] * (ncols - 1)
    return [1 / ncols] * ncols


def table_png(ncols: int, rows: list, key: str) -> bytes:
    """One table as a PNG: every cell a ruled box, text centred and wrapped to its box."""
    from PIL import Image, ImageDraw

    size = round(TABLE_PT * _PX)
    font = _font(size)
    lead = int(size * 1.35)
    pad = 8
    fr = _column_widths(ncols, key)
    xs = [20.0]
    for f in fr:
        xs.append(xs[-1] + f * WIDTH)
    # place the cells on the grid (rowspan/colspan), then size the rows to their text
    placed: list[tuple[int, int, object]] = []
    taken: set[tuple[int, int]] = set()
    for i, r in enumerate(rows):
        j = 0
        for c in r:
            while (i, j) in taken:
                j += 1
            placed.append((i, j, c))
            for di in range(c.rowspan):
                for dj in range(c.colspan):
                    taken.add((i + di, j + dj))
            j += c.colspan
    nrows = max(i for i, _j in taken) + 1
    probe = ImageDraw.Draw(Image.new("L", (10, 10)))
    heights = [size * 2.2] * nrows
    for i, j, c in placed:
        if c.rowspan == 1:
            n = len(_wrap(probe, c.text, font, xs[j + c.colspan] - xs[j] - 2 * pad))
            heights[i] = max(heights[i], n * lead + 2 * pad + 6)
    for i, j, c in placed:  # a tall spanning label grows its rows evenly
        if c.rowspan > 1:
            need = len(_wrap(probe, c.text, font, xs[j + c.colspan] - xs[j] - 2 * pad)) * lead + 2 * pad + 6
            have = sum(heights[i:i + c.rowspan])
            if need > have:
                for k in range(i, i + c.rowspan):
                    heights[k] += (need - have) / c.rowspan
    ys = [20.0]
    for h in heights:
        ys.append(ys[-1] + h)
    img = Image.new("L", (int(xs[-1]) + 21, int(ys[-1]) + 21), 255)
    draw = ImageDraw.Draw(img)
    for i, j, c in placed:
        x0, x1, y0, y1 = xs[j], xs[j + c.colspan], ys[i], ys[i + c.rowspan]
        draw.rectangle((int(x0), int(y0), int(x1), int(y1)), outline=0, width=2)
        lines = _wrap(draw, c.text, font, x1 - x0 - 2 * pad)
        ty = (y0 + y1) / 2 - len(lines) * lead / 2 + (lead - size) / 2
        for ln in lines:
            w = draw.textlength(ln, font=font)
            draw.text(((x0 + x1 - w) / 2, ty), ln, fill=0, font=font)
            ty += lead
    buf = io.BytesIO()
    img.save(buf, format="PNG", dpi=(200, 200))
    return buf.getvalue()


def table_pngs(spec: ReportSpec) -> list[bytes]:
    """Tables 二, 三, 四 of the report as pictures, in that order."""
    from crawler.demo.layout import demo_layout

    layouts = render._layouts(spec, demo_layout(spec.template))
    return [table_png(*layouts[k], k) for k in TABLE_KEYS]


def fragment(spec: ReportSpec, srcs: list[str]) -> str:
    """The page body: the narrative as text, each table an <img> of ``srcs`` (二, 三, 四) where it stands."""
    out: list[str] = []
    pending = list(srcs)  # the tables come in the sections' order: 二, 三, 四
    for kind, payload in render._blocks(spec):
        if kind == "table":
            if pending:
                out.append(f'<p style="text-align:center"><img src="{html.escape(pending.pop(0))}" width="800" '
                           f'border="0"></p>')
        elif kind == "demo":
            out.append(f"<p style='color:#c00;font-weight:bold'>{html.escape(payload)}</p>")
        elif kind == "title":
            out.append(f'<p style="text-align:center"><b>{html.escape(payload)}</b></p>')
        elif kind == "heading":
            out.append(f"<p><b>{html.escape(payload)}</b></p>")
        elif kind == "sign":
            out.append(f'<p style="text-align:right">{html.escape(payload)}</p>')
        else:
            out.append(f"<p>{html.escape(payload)}</p>")
    return "\n".join(out)
