"""The OCR test corpus: every seed laid out as a scanned report, made here, not by the product.

The layout (page, paragraphs, the three tables with their spans) is written in this file with
reportlab; the table labels are typed from the national format as the spec document gives it
(../shared/spec/report-model.md), never taken from vocabulary/template.py.  The narrative and
the numbers come from the seed texts and their hand-checked expected files (through the demo's
``spec_from_seed``, as the other format tests do).

Each rendering is then degraded like a scan: rasterised at 150 or 200 dpi, grey, rotated by up to
±1°, speckled, JPEG-compressed at quality 60-75, and packed as an image-only PDF (no text layer),
PNG pages, or an HTML page whose tables are <img> attachments.

    .venv/bin/python tests/ocr/corpus.py OUTDIR     # writes the corpus and a manifest
"""
from __future__ import annotations

import io
import json
import random
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

SEEDS = ROOT / "tests" / "fixtures" / "seeds"
EXPECTED = ROOT / "tests" / "fixtures" / "expected"
FONT_FILE = "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc"

# -- the national format, typed from the spec document ------------------------------------------
HEADINGS = {"overview": "一、总体情况", "proactive": "二、主动公开政府信息情况",
            "requests": "三、收到和处理政府信息公开申请情况", "appeals": "四、政府信息公开行政复议、行政诉讼情况",
            "problems": "五、存在的主要问题及改进情况", "other": "六、其他需要报告的事项"}
T3_ROWS = [  # (key, group label or None, item label); group None: the label spans the label columns
    ("new", None, "一、本年新收政府信息公开申请数量"),
    ("carried_over", None, "二、上年结转政府信息公开申请数量"),
    ("granted", "", "（一）予以公开"),
    ("partially_granted", "", "（二）部分公开（区分处理的，只计这一情形，不计其他情形）"),
    ("withheld_state_secret", "（三）不予公开", "1.属于国家秘密"),
    ("withheld_prohibited_by_law", "（三）不予公开", "2.其他法律行政法规禁止公开"),
    ("withheld_three_safety", "（三）不予公开", "3.危及“三安全一稳定”"),
    ("withheld_third_party", "（三）不予公开", "4.保护第三方合法权益"),
    ("withheld_internal_affairs", "（三）不予公开", "5.属于三类内部事务信息"),
    ("withheld_process_info", "（三）不予公开", "6.属于四类过程性信息"),
    ("withheld_enforcement_file", "（三）不予公开", "7.属于行政执法案卷"),
    ("withheld_query_matter", "（三）不予公开", "8.属于行政查询事项"),
    ("unavailable_not_held", "（四）无法提供", "1.本机关不掌握相关政府信息"),
    ("unavailable_needs_creation", "（四）无法提供", "2.没有现成信息需要另行制作"),
    ("unavailable_unclear", "（四）无法提供", "3.补正后申请内容仍不明确"),
    ("rejected_petition", "（五）不予处理", "1.信访举报投诉类申请"),
    ("rejected_repeat", "（五）不予处理", "2.重复申请"),
    ("rejected_publication", "（五）不予处理", "3.要求提供公开出版物"),
    ("rejected_mass_repeat", "（五）不予处理", "4.无正当理由大量反复申请"),
    ("rejected_confirmation", "（五）不予处理", "5.要求行政机关确认或重新出具已获取信息"),
    ("other_no_correction", "（六）其他处理",
     "1.申请人无正当理由逾期不补正、行政机关不再处理其政府信息公开申请"),
    ("other_no_fee", "（六）其他处理", "2.申请人逾期未按收费通知要求缴纳费用、行政机关不再处理其政府信息公开申请"),
    ("other_other", "（六）其他处理", "3.其他"),
    ("total_processed", "", "（七）总计"),
    ("carried_forward", None, "四、结转下年度继续办理"),
]
T3_COLUMNS = ["自然人", "商业企业", "科研机构", "社会公益组织", "法律服务机构", "其他", "总计"]
T4_RESULTS = ["结果维持", "结果纠正", "其他结果", "尚未审结", "总计"]
T4_KEYS = ["upheld", "corrected", "other", "pending", "total"]


@dataclass
class C:
    text: str
    rs: int = 1
    cs: int = 1
    value: bool = False  # a number: centred, one line


def _v(x) -> str:
    if x is None:
        return ""
    if isinstance(x, float) and x == int(x):
        return str(int(x))
    return str(x)


def table2_grid(t2: dict) -> tuple[list[float], list[list[C | None]]]:
    rows: list[list[C | None]] = []

    def head(item: str) -> None:
        rows.append([C(f"第二十条第（{item}）项", cs=4), None, None, None])

    head("一")
    rows.append([C("信息内容"), C("本年制发件数"), C("本年废止件数"), C("现行有效件数")])
    for key, label in (("regulations", "规章"), ("normative_documents", "行政规范性文件")):
        d = t2.get(key) or {}
        rows.append([C(label)] + [C(_v(d.get(k)), value=True) for k in ("issued", "repealed", "in_force")])
    for item, entries, head_label in (("五", [("licensing", "行政许可")], "本年处理决定数量"),
                                      ("六", [("punishment", "行政处罚"), ("coercion", "行政强制")], "本年处理决定数量"),
                                      ("八", [("fees_wan_yuan", "行政事业性收费")], "本年收费金额（单位：万元）")):
        head(item)
        rows.append([C("信息内容"), C(head_label, cs=3), None, None])
        for key, label in entries:
            rows.append([C(label), C(_v(t2.get(key)), cs=3, value=True), None, None])
    return [0.34, 0.22, 0.22, 0.22], rows


def table3_grid(t3: dict) -> tuple[list[float], list[list[C | None]]]:
    width = 10
    rows: list[list[C | None]] = [
        [C("（本列数据的勾稽关系为：第一项加第二项之和，等于第三项加第四项之和）", rs=3, cs=3), None, None,
         C("申请人情况", cs=7)] + [None] * 6,
        [None, None, None, C("自然人", rs=2), C("法人或其他组织", cs=5), None, None, None, None, C("总计", rs=2)],
        [None, None, None, None] + [C(x) for x in T3_COLUMNS[1:6]] + [None],
    ]
    group_start: dict[str, int] = {}
    results_first = None
    for key, group, label in T3_ROWS:
        vals = [C(_v(x), value=True) for x in (t3.get(key) or [None] * 7)]
        r: list[C | None]
        if group is None:
            r = [C(label, cs=3), None, None]
        else:
            if results_first is None:
                results_first = len(rows)
                r = [C("三、本年度办理结果", rs=22)]
            else:
                r = [None]
            if group == "":
                r += [C(label, cs=2), None]
            elif group not in group_start:
                group_start[group] = len(rows)
                n = sum(1 for _k, g, _l in T3_ROWS if g == group)
                r += [C(group, rs=n), C(label)]
            else:
                r += [None, C(label)]
        rows.append(r + vals)
    assert all(len(r) == width for r in rows)
    return [0.08, 0.10, 0.22] + [0.6 / 7] * 7, rows


def table4_grid(t4: dict) -> tuple[list[float], list[list[C | None]]]:
    n = 15
    rows: list[list[C | None]] = [
        [C("行政复议", cs=5)] + [None] * 4 + [C("行政诉讼", cs=10)] + [None] * 9,
        [C(x, rs=2) for x in T4_RESULTS] + [C("未经复议直接起诉", cs=5)] + [None] * 4 + [C("复议后起诉", cs=5)]
        + [None] * 4,
        [None] * 5 + [C(x) for x in T4_RESULTS] * 2,
    ]
    vals: list[C | None] = []
    for g in ("review", "litigation_direct", "litigation_after_review"):
        d = t4.get(g) or {}
        vals += [C(_v(d.get(k)), value=True) for k in T4_KEYS]
    rows.append(vals)
    return [1 / n] * n, rows


# -- reportlab drawing --------------------------------------------------------------------------

@dataclass
class Layout:
    body_pt: float = 10.5
    table_pt: float = 9.0
    margin: float = 50.0
    leading: float = 1.75


def _fonts():
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont

    if "WQY" not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(TTFont("WQY", FONT_FILE, subfontIndex=0))
    return "WQY"


def _wrap(text: str, font: str, size: float, width: float) -> list[str]:
    from reportlab.pdfbase.pdfmetrics import stringWidth

    lines, cur = [], ""
    for ch in text:
        if stringWidth(cur + ch, font, size) > width and cur:
            lines.append(cur)
            cur = ch
        else:
            cur += ch
    if cur:
        lines.append(cur)
    return lines or [""]


class _Pager:
    def __init__(self, lay: Layout):
        from reportlab.lib.pagesizes import A4
        from reportlab.pdfgen import canvas

        self.buf = io.BytesIO()
        self.c = canvas.Canvas(self.buf, pagesize=A4, pageCompression=1)
        self.w, self.h = A4
        self.lay = lay
        self.font = _fonts()
        self.y = self.h - lay.margin
        self.pages = 1

    @property
    def left(self) -> float:
        return self.lay.margin

    @property
    def right(self) -> float:
        return self.w - self.lay.margin

    def need(self, height: float) -> None:
        if self.y - height < self.lay.margin:
            self.c.showPage()
            self.pages += 1
            self.y = self.h - self.lay.margin

    def paragraph(self, text: str, *, size: float | None = None, indent: bool = True, center: bool = False) -> None:
        size = size or self.lay.body_pt
        lead = size * self.lay.leading
        first = (2 * size) if indent and not center else 0
        lines = _wrap(text, self.font, size, self.right - self.left - first)
        # continuation lines use the full width: rewrap the rest
        if len(lines) > 1 and first:
            rest = _wrap(text[len(lines[0]):], self.font, size, self.right - self.left)
            lines = [lines[0]] + rest
        for i, ln in enumerate(lines):
            self.need(lead)
            self.c.setFont(self.font, size)
            if center:
                self.c.drawCentredString((self.left + self.right) / 2, self.y - size, ln)
            else:
                self.c.drawString(self.left + (first if i == 0 else 0), self.y - size, ln)
            self.y -= lead
        self.y -= size * 0.3

    def table(self, fractions: list[float], rows: list[list[C | None]]) -> None:
        from reportlab.pdfbase.pdfmetrics import stringWidth

        size = self.lay.table_pt
        lead = size * 1.35
        total_w = self.right - self.left
        xs = [self.left]
        for f in fractions:
            xs.append(xs[-1] + f * total_w)
        pad = 3.0
        # row heights: a cell's lines over the rows it spans
        heights = [size * 2.0] * len(rows)
        for i, r in enumerate(rows):
            for j, cell in enumerate(r):
                if cell is None or cell.rs > 1:
                    continue
                w = xs[j + cell.cs] - xs[j] - 2 * pad
                n = len(_wrap(cell.text, self.font, size, w))
                heights[i] = max(heights[i], n * lead + 2 * pad + 4)
        for i, r in enumerate(rows):  # a tall spanning label: grow its rows evenly
            for j, cell in enumerate(r):
                if cell is None or cell.rs == 1:
                    continue
                w = xs[j + cell.cs] - xs[j] - 2 * pad
                need = len(_wrap(cell.text, self.font, size, w)) * lead + 2 * pad + 4
                have = sum(heights[i:i + cell.rs])
                if need > have:
                    for k in range(i, i + cell.rs):
                        heights[k] += (need - have) / cell.rs
        # a table is kept on one page when it fits (a scan of a real report breaks it where it breaks)
        self.need(min(sum(heights) + 4, self.h - 2 * self.lay.margin))
        c = self.c
        c.setLineWidth(0.8)
        top = self.y
        ys = [top]
        for hgt in heights:
            ys.append(ys[-1] - hgt)
        for i, r in enumerate(rows):
            for j, cell in enumerate(r):
                if cell is None:
                    continue
                x0, x1 = xs[j], xs[j + cell.cs]
                y0, y1 = ys[i], ys[i + cell.rs]
                c.rect(x0, y1, x1 - x0, y0 - y1, stroke=1, fill=0)
                lines = _wrap(cell.text, self.font, size, x1 - x0 - 2 * pad)
                block = len(lines) * lead
                ty = (y0 + y1) / 2 + block / 2 - size
                c.setFont(self.font, size)
                for ln in lines:
                    if cell.value or stringWidth(ln, self.font, size) < (x1 - x0) * 0.8:
                        c.drawCentredString((x0 + x1) / 2, ty + 1, ln)
                    else:
                        c.drawString(x0 + pad, ty + 1, ln)
                    ty -= lead
        self.y = ys[-1] - size

    def finish(self) -> bytes:
        self.c.showPage()
        self.c.save()
        return self.buf.getvalue()


def spec_of(stem: str):
    from crawler.demo import render

    return render.spec_from_seed(SEEDS / f"{stem}.txt", EXPECTED / f"{stem}.json")


def seed_stems() -> list[str]:
    return sorted(p.stem for p in SEEDS.glob("*.txt"))


def render_seed_pdf(stem: str, lay: Layout | None = None, *, tables: bool = True) -> bytes:
    """The seed as a born-digital PDF of this file's own layout (the scan's original)."""
    spec = spec_of(stem)
    pg = _Pager(lay or Layout())
    if spec.title:
        pg.paragraph(spec.title, size=15, center=True)
        pg.y -= 6
    for p in spec.preamble:
        pg.paragraph(p)
    grids = {"proactive": table2_grid(spec.table2), "requests": table3_grid(spec.table3),
             "appeals": table4_grid(spec.table4)}
    for key, heading in HEADINGS.items():
        pg.paragraph(heading, indent=True)
        paras = spec.sections.get(key) or []
        if key in grids and tables:
            pg.table(*grids[key])
        for p in paras:
            pg.paragraph(p)
    for line in spec.signature:
        pg.paragraph(line, indent=False)
    return pg.finish()


def render_table_pdf(stem: str, key: str) -> bytes:
    """One table alone on a page (the images of an HTML 图片版 page)."""
    spec = spec_of(stem)
    grid = {"table2": table2_grid(spec.table2), "table3": table3_grid(spec.table3),
            "table4": table4_grid(spec.table4)}[key]
    pg = _Pager(Layout(margin=30.0))
    pg.table(*grid)
    return pg.finish()


# -- the scan: rasterise and degrade ------------------------------------------------------------

@dataclass
class Scan:
    dpi: int
    angle: float  # degrees, positive counter-clockwise
    quality: int  # JPEG quality
    speckle: float  # share of pixels flipped
    seed: int = 0


def rasterise(pdf: bytes, dpi: int, crop_to_ink: bool = False) -> list:
    import pypdfium2 as pdfium

    doc = pdfium.PdfDocument(pdf)
    out = []
    try:
        for i in range(len(doc)):
            page = doc[i]
            img = page.render(scale=dpi / 72, grayscale=True).to_pil().convert("L")
            page.close()
            if crop_to_ink:
                from PIL import ImageOps

                box = ImageOps.invert(img).getbbox()
                if box:
                    m = int(dpi * 0.15)
                    img = img.crop((max(0, box[0] - m), max(0, box[1] - m), min(img.width, box[2] + m),
                                    min(img.height, box[3] + m)))
            out.append(img)
    finally:
        doc.close()
    return out


def degrade(img, scan: Scan, page_no: int = 0) -> bytes:
    """One page as a JPEG of a rotated, speckled grey scan."""
    import numpy as np
    from PIL import Image

    rng = random.Random(scan.seed * 1000 + page_no)
    img = img.rotate(scan.angle, resample=Image.BICUBIC, fillcolor=255, expand=False)
    a = np.asarray(img, dtype=np.uint8).copy()
    nrng = np.random.default_rng(scan.seed * 1000 + page_no)
    n = int(a.size * scan.speckle)
    ys, xs = nrng.integers(0, a.shape[0], n), nrng.integers(0, a.shape[1], n)
    a[ys, xs] = nrng.choice(np.array([0, 70, 255], dtype=np.uint8), n)
    # scanner grey: paper not quite white, ink not quite black
    a = (a.astype(np.float32) * 0.78 + 40 + nrng.normal(0, 4, a.shape)).clip(0, 255).astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(a, "L").save(buf, "JPEG", quality=scan.quality + rng.randint(0, 0))
    return buf.getvalue()


def image_pdf(jpegs: list[bytes], dpi: int) -> bytes:
    """JPEG pages packed as a PDF without a text layer (each page one image)."""
    from PIL import Image

    imgs = [Image.open(io.BytesIO(j)) for j in jpegs]
    buf = io.BytesIO()
    imgs[0].save(buf, "PDF", save_all=True, append_images=imgs[1:], resolution=float(dpi))
    return buf.getvalue()


def to_png(jpeg: bytes) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.open(io.BytesIO(jpeg)).convert("L").save(buf, "PNG", optimize=False)
    return buf.getvalue()


@dataclass
class Item:
    stem: str
    kind: str  # pdf | png | html
    dpi: int
    angle: float
    quality: int
    files: list[str] = field(default_factory=list)  # the document first, then its image attachments
    expected: str = ""


def scans_for(stem_index: int) -> list[Scan]:
    """Two scans per seed: 150 and 200 dpi, angles and qualities varied by seed."""
    rng = random.Random(1000 + stem_index)
    return [Scan(dpi=dpi, angle=round(rng.uniform(-1.0, 1.0), 2), quality=rng.randint(60, 75),
                 speckle=0.0015, seed=stem_index * 10 + k) for k, dpi in enumerate((150, 200))]


HTML_PAGE = """<!DOCTYPE html><html><head><meta charset="utf-8"><title>{title}（图片版）</title>
<meta name="PubDate" content="{published}"></head><body><div class="TRS_Editor">
{body}
</div></body></html>"""


def html_page(stem: str, images: dict[str, str]) -> bytes:
    """The 图片版 page: narrative as text, each table an <img> of the given file name."""
    import html as h

    spec = spec_of(stem)
    parts = [f"<h1>{h.escape(spec.title or '')}</h1>"] if spec.title else []
    parts += [f"<p>{h.escape(p)}</p>" for p in spec.preamble]
    tables = {"proactive": "table2", "requests": "table3", "appeals": "table4"}
    for key, heading in HEADINGS.items():
        parts.append(f"<p><strong>{h.escape(heading)}</strong></p>")
        if key in tables:
            parts.append(f'<p><img src="{images[tables[key]]}" width="800"></p>')
        parts += [f"<p>{h.escape(p)}</p>" for p in spec.sections.get(key) or []]
    parts += [f"<p>{h.escape(x)}</p>" for x in spec.signature]
    return HTML_PAGE.format(title=h.escape(spec.title or spec.agency), published=spec.published or "",
                            body="\n".join(parts)).encode("utf-8")


def build(outdir: str | Path, stems: list[str] | None = None, kinds=("pdf", "png", "html"),
          dpis=(150, 200)) -> list[Item]:
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    all_stems = seed_stems()
    items: list[Item] = []
    for stem in stems or all_stems:
        idx = all_stems.index(stem)
        exp = str(EXPECTED / f"{stem}.json")
        original = render_seed_pdf(stem)
        for scan in scans_for(idx):
            if scan.dpi not in dpis:
                continue
            pages = rasterise(original, scan.dpi)
            jpegs = [degrade(p, scan, i) for i, p in enumerate(pages)]
            tag = f"{stem}_{scan.dpi}"
            if "pdf" in kinds:
                p = outdir / f"{tag}.pdf"
                p.write_bytes(image_pdf(jpegs, scan.dpi))
                items.append(Item(stem, "pdf", scan.dpi, scan.angle, scan.quality, [str(p)], exp))
            if "png" in kinds:
                files = []
                for i, j in enumerate(jpegs):
                    p = outdir / f"{tag}_p{i + 1}.png"
                    p.write_bytes(to_png(j))
                    files.append(str(p))
                items.append(Item(stem, "png", scan.dpi, scan.angle, scan.quality, files, exp))
            if "html" in kinds:
                names = {}
                files = []
                for t in ("table2", "table3", "table4"):
                    (img,) = rasterise(render_table_pdf(stem, t), scan.dpi, crop_to_ink=True)[:1]
                    name = f"{tag}_{t}.jpg"
                    (outdir / name).write_bytes(degrade(img, scan, 100 + len(files)))
                    names[t] = name
                    files.append(str(outdir / name))
                p = outdir / f"{tag}.html"
                p.write_bytes(html_page(stem, names))
                items.append(Item(stem, "html", scan.dpi, scan.angle, scan.quality, [str(p)] + files, exp))
    (outdir / "manifest.json").write_text(json.dumps([asdict(i) for i in items], ensure_ascii=False, indent=1))
    return items


if __name__ == "__main__":
    for it in build(sys.argv[1]):
        print(it.kind, it.dpi, it.angle, it.quality, it.files[0])


def table_image_png(stem: str, key: str, dpi: int = 200) -> bytes:
    """One table of the seed, rasterised from this file's PDF layout and cropped to its ink, as a
    PNG (a table pasted into a Word document as a picture)."""
    (img,) = rasterise(render_table_pdf(stem, key), dpi, crop_to_ink=True)[:1]
    buf = io.BytesIO()
    img.save(buf, "PNG", dpi=(dpi, dpi))
    return buf.getvalue()


def docx_with_table_pictures(stem: str, dpi: int = 200) -> bytes:
    """The seed as a Word document (python-docx) whose narrative is text and whose three tables
    are pictures (word/media/*.png, drawn by w:drawing elements where the tables stand)."""
    from docx import Document
    from docx.shared import Cm

    spec = spec_of(stem)
    doc = Document()
    if spec.title:
        doc.add_paragraph(spec.title)
    for p in spec.preamble:
        doc.add_paragraph(p)
    tables = {"proactive": "table2", "requests": "table3", "appeals": "table4"}
    for key, heading in HEADINGS.items():
        doc.add_paragraph(heading)
        if key in tables:
            doc.add_picture(io.BytesIO(table_image_png(stem, tables[key], dpi)), width=Cm(16))
        for p in spec.sections.get(key) or []:
            doc.add_paragraph(p)
    for line in spec.signature:
        doc.add_paragraph(line)
    buf = io.BytesIO()
    doc.save(buf)
    return buf.getvalue()
