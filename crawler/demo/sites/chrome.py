"""Page chrome shared by the demo sites: header, breadcrumb, footer, all marked 示例数据."""
from __future__ import annotations

import html
import io
import random
from pathlib import Path

DEMO_MARK = "示例数据"
_FONT = Path("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc")

e = html.escape


def page(site_name: str, title: str, main: str, *, crumbs: list[tuple[str, str | None]] = (),
         meta: dict[str, str] | None = None, encoding: str = "utf-8", charset_in_meta: bool = True,
         head_extra: str = "", home: str = "/") -> bytes:
    """A full HTML page; ``encoding`` is how the bytes are encoded, ``charset_in_meta`` whether they say so."""
    metas = []
    if charset_in_meta:
        charset = "gb2312" if encoding.lower() in ("gbk", "gb2312", "gb18030") else encoding
        metas.append(f'<meta http-equiv="Content-Type" content="text/html; charset={charset}">')
    for k, v in (meta or {}).items():
        metas.append(f'<meta name="{e(k)}" content="{e(v)}">')
    crumb = " &gt; ".join(f'<a href="{e(h)}">{e(t)}</a>' if h else e(t) for t, h in crumbs)
    doc = f"""<!DOCTYPE html>
<html>
<head>
{chr(10).join(metas)}
<title>{e(title)}_{e(site_name)}</title>
<meta name="SiteName" content="{e(site_name)}">
{head_extra}
</head>
<body>
<div class="demo-banner" style="background:#fee;color:#c00;text-align:center">【{DEMO_MARK}】本网站为 nianbao 演示门户，内容均为示例数据，不是真实政府网站。</div>
<div class="header"><div class="logo"><a href="{e(home)}">{e(site_name)}</a></div></div>
<div class="crumb">当前位置：{crumb}</div>
<div class="main">
{main}
</div>
<div class="footer"><p>主办单位：{e(site_name)} 网站标识码：0000000000（{DEMO_MARK}）</p>
<p>【字体：大 中 小】【打印】【关闭】</p></div>
</body>
</html>
"""
    return doc.encode(encoding, errors="xmlcharrefreplace")


def nav(links: list[tuple[str, str]], cls: str = "column-nav") -> str:
    items = "".join(f'<li><a href="{e(h)}">{e(t)}</a></li>' for t, h in links)
    return f'<div class="{cls}"><ul>{items}</ul></div>'


def short(title: str, n: int = 24) -> str:
    """Listings truncate long titles; the full one stays in @title."""
    return title if len(title) <= n else title[: n - 1] + "…"


# Non-report entries that sit in report columns (a precision test): notices, news and a 年报说明.
_FILLERS = (
    "关于做好{y}年度政府信息公开工作年度报告编制发布工作的通知",
    "关于{region}{y}年政府信息公开工作年度报告的说明",
    "{region}召开{y}年政务公开工作推进会",
    "{region}{y}年政务公开工作要点",
    "{region}开展{y}年度政府信息公开业务培训",
    "{region}政府信息公开指南（{y}年修订）",
    "{region}{y}年第{q}季度政府网站检查情况通报",
    "关于调整{region}{y}年政府信息公开工作领导小组成员的通知",
    "{region}{y}年法治政府建设情况报告",
    "{region}{y}年国民经济和社会发展统计公报",
    "{region}{y}年部门预算公开说明",
    "{region}{y}年政务公开专区建设工作动态",
)


def fillers(rng: random.Random, n: int, region: str, years: tuple[int, ...] = (2023, 2024)) -> list[str]:
    out: list[str] = []
    per_round = len(_FILLERS) * len(years)
    for i in range(n):
        t = _FILLERS[i % len(_FILLERS)].format(y=years[(i // len(_FILLERS)) % len(years)], region=region,
                                               q=rng.randint(1, 4))
        if i >= per_round:
            t += f"（第{i // per_round + 1}期）"
        out.append(t)
    return out


def filler_body(title: str, date: str) -> str:
    return (f'<p>{e(title)}</p><p>（{DEMO_MARK}）本文为演示门户的示例稿件，发布日期{date}。'
            f"各单位要高度重视政务公开工作，按照要求做好相关工作。</p>")


def image_png(lines: list[str], width: int = 900) -> bytes:
    """A picture of the report's text (a scanned 图片版 report: no text layer, needs OCR)."""
    from PIL import Image, ImageDraw, ImageFont

    font = ImageFont.truetype(str(_FONT), 20) if _FONT.exists() else ImageFont.load_default()
    height = 40 + 30 * len(lines)
    img = Image.new("L", (width, height), 255)
    draw = ImageDraw.Draw(img)
    for i, line in enumerate(lines):
        draw.text((30, 20 + 30 * i), line[:40], fill=0, font=font)
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()
