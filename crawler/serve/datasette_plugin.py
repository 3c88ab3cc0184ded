"""Datasette plugin: the report page, the overview with charts, and links from rows to both.

Routes
- ``/`` and ``/-/nianbao/matrix`` the compliance matrix of a year (the landing page), with
  ``/-/nianbao/matrix.xlsx|.docx|.csv`` as 通报 downloads of the same filters;
- ``/-/nianbao/agency/<id>`` an agency's years side by side, with the cross-year relations;
- ``/-/nianbao/triage`` (POST, CSRF-protected, signed-in actor, never in public mode) 确认/误报/已整改;
- ``/-/nianbao`` overview: reports and open findings per rule per year (inline SVG charts).
- ``/-/nianbao/report/<id>`` one report laid out as printed: Table 二 blocks, Table 三 25x7 under
  its two-level header, Table 四 15 cells under its three-level header; cells named by findings
  highlighted (the suspect cell stronger), the findings beside them, the source link, and the
  agency's history as charts.

Its SQL is storage's (``storage.report_page``, ``storage.desk``), its templates and stylesheet are
storage's Datasette files; it sits here, on the serve side, because the pages also show what
monitor makes of the rows (statuses, categories, advice), and storage must not import monitor.
An OCR-read report shows the images its cells were read from (``crawler.serve.page_images``).

Charts are SVG drawn here on the server: no JavaScript library, no CDN (the reading room may have
no internet).  The plugin only reads (Datasette opens the database with mode=ro), except the
triage form, which writes one row through Datasette's write connection.

Public mode (plugin config ``public: true``, from ``serve.public``): arbitrary SQL is off, the
journals (outbox, runs, fetches, blobs, events, triage) are hidden, triage and sign-in are off.
"""
from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from typing import Any

from datasette import hookimpl
from datasette.utils.asgi import Response
from markupsafe import Markup, escape

import storage
from crawler.serve import page_images
from monitor import triage as triage_mod
from monitor.checks.categories import SEVERITY_LABELS, category
from monitor.compliance import advice, cell_label, cells_summary, evidence
from storage import desk
from storage import report_page as reads
from storage.metadata import REPORT_PAGE
from storage.models import (
    SCALAR, SEVERITIES, TABLE2_LAYOUT, TABLE3_APPLICANT_COLUMNS, TABLE3_COLUMNS, TABLE3_ROWS, TABLE4_COLUMNS,
    TABLE4_GROUPS, CellKind,
)
from vocabulary import template as V

#: storage's Datasette files (templates, stylesheet): the pages are the data's, the plugin only fills them.
_FILES = Path(storage.__file__).parent
_STATIC = _FILES / "static"
_SEVERITY_RANK = {s: i for i, s in enumerate(SEVERITIES)}
#: The printed headings of the report page's tables, from the vocabulary (the template prints no label of its own).
PAGE_LABELS: dict[str, Any] = {
    "sections": V.SECTION_HEADINGS,
    "table2_content_header": V.TABLE2_CONTENT_HEADER,
    "table3_balance_note": V.TABLE3_BALANCE_NOTE,
    "table3_applicants": V.TABLE3_HEADER_GROUPS[0],
    "table3_organisations": V.TABLE3_HEADER_GROUPS[1],
    "table4_litigation": V.TABLE4_HEADERS[1],
    "table4_direct": V.TABLE4_HEADERS[2],
    "table4_after_review": V.TABLE4_HEADERS[3],
}
_PALETTE = ("#c0392b", "#2471a3", "#d68910", "#229954", "#7d3c98", "#17a589", "#a04000", "#566573",
            "#cb4335", "#1f618d", "#b7950b", "#1e8449", "#6c3483", "#138d75")


# -- charts ---------------------------------------------------------------------------------------

def bar_chart(points: list[tuple[str, float | None]], *, title: str, width: int = 420, height: int = 200,
              color: str = "#2471a3") -> Markup:
    """A labelled bar chart as inline SVG; None values are drawn as a gap marked '—'."""
    left, bottom, top = 40, 28, 36
    plot_w, plot_h = width - left - 10, height - bottom - top
    top_value = max([v for _, v in points if v is not None] or [0]) or 1
    n = max(len(points), 1)
    step = plot_w / n
    bar_w = min(48, step * 0.7)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title)}">',
             f'<text x="{left}" y="16" class="chart-title">{escape(title)}</text>',
             f'<line x1="{left}" y1="{top + plot_h}" x2="{width - 10}" y2="{top + plot_h}" stroke="#888"/>',
             f'<text x="{left - 4}" y="{top + 4}" text-anchor="end" class="axis">{_fmt(top_value)}</text>',
             f'<text x="{left - 4}" y="{top + plot_h}" text-anchor="end" class="axis">0</text>']
    for i, (label, value) in enumerate(points):
        x = left + i * step + (step - bar_w) / 2
        cx = x + bar_w / 2
        if value is None:
            parts.append(f'<text x="{cx:.1f}" y="{top + plot_h - 4}" text-anchor="middle" class="axis">—</text>')
        else:
            h = plot_h * float(value) / top_value
            parts.append(f'<rect x="{x:.1f}" y="{top + plot_h - h:.1f}" width="{bar_w:.1f}" height="{h:.1f}" '
                         f'fill="{color}"><title>{escape(label)}: {_fmt(value)}</title></rect>')
            parts.append(f'<text x="{cx:.1f}" y="{top + plot_h - h - 3:.1f}" text-anchor="middle" '
                         f'class="value">{_fmt(value)}</text>')
        parts.append(f'<text x="{cx:.1f}" y="{height - 10}" text-anchor="middle" class="axis">{escape(label)}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))


def stacked_chart(counts: dict[str, dict[str, int]], *, title: str, width: int = 520, height: int = 240) -> Markup:
    """Stacked bars: counts[x][series] (x = year), with a legend of the series."""
    xs = sorted(counts)
    series = sorted({s for c in counts.values() for s in c})
    colors = {s: _PALETTE[i % len(_PALETTE)] for i, s in enumerate(series)}
    legend_w = 190
    left, bottom, top = 36, 28, 36
    plot_w, plot_h = width - left - legend_w - 10, height - bottom - top
    top_value = max([sum(c.values()) for c in counts.values()] or [0]) or 1
    step = plot_w / max(len(xs), 1)
    bar_w = min(48, step * 0.7)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title)}">',
             f'<text x="{left}" y="16" class="chart-title">{escape(title)}</text>',
             f'<line x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" y2="{top + plot_h}" stroke="#888"/>',
             f'<text x="{left - 4}" y="{top + 4}" text-anchor="end" class="axis">{top_value}</text>']
    if not xs:
        parts.append(f'<text x="{left + 10}" y="{top + plot_h / 2}" class="axis">—</text>')
    for i, x_label in enumerate(xs):
        x = left + i * step + (step - bar_w) / 2
        y = top + plot_h
        for s in series:
            v = counts[x_label].get(s, 0)
            if not v:
                continue
            h = plot_h * v / top_value
            y -= h
            parts.append(f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar_w:.1f}" height="{h:.1f}" fill="{colors[s]}">'
                         f'<title>{escape(x_label)} {escape(s)}: {v}</title></rect>')
        parts.append(f'<text x="{x + bar_w / 2:.1f}" y="{y - 3:.1f}" text-anchor="middle" class="value">'
                     f'{sum(counts[x_label].values())}</text>')
        parts.append(f'<text x="{x + bar_w / 2:.1f}" y="{height - 10}" text-anchor="middle" class="axis">'
                     f'{escape(x_label)}</text>')
    for i, s in enumerate(series):
        ly = top + i * 16
        parts.append(f'<rect x="{width - legend_w}" y="{ly}" width="10" height="10" fill="{colors[s]}"/>'
                     f'<text x="{width - legend_w + 14}" y="{ly + 9}" class="axis">{escape(s)}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))


def _fmt(v: Any) -> str:
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v)


# -- data -----------------------------------------------------------------------------------------

class _CellView:
    """One cell as shown: value (or raw text for non-numeric kinds), classes and tooltip."""

    def __init__(self, ref: str, cell: dict[str, Any] | None, flags: dict[str, list[dict]], suspects: set[str],
                 label: str | None = None):
        self.ref = ref
        self.label = label or ref
        self.cell = cell
        self.findings = flags.get(ref, [])
        self.assessable = cell is not None and CellKind(cell["kind"]).assessable
        classes = ["cell"]
        if cell is None:
            classes.append("missing")
        elif not self.assessable:
            classes.append("not-assessable")
        if self.findings:
            worst = min(self.findings, key=lambda f: _SEVERITY_RANK.get(f["severity"], 3))["severity"]
            classes.append(f"flag-{worst}")
        if ref in suspects:
            classes.append("suspect")
        self.css = " ".join(classes)

    @property
    def text(self) -> str:
        if self.cell is None:
            return ""
        if self.assessable and self.cell["value"] is not None:
            return _fmt(self.cell["value"])
        return self.cell["raw"] or ""

    ocr_note = ""  # set for OCR readings: the confidence, and the correction if the arithmetic made one

    @property
    def tooltip(self) -> str:
        parts = [self.label]
        if self.cell is not None:
            parts.append(f"原文：{self.cell['raw'] or '（空白）'}")
        if self.ocr_note:
            parts.append(self.ocr_note)
        parts += [f["message"] for f in self.findings]
        return "\n".join(parts)


async def report_context(db, report_id: int) -> dict[str, Any] | None:
    data = await db.execute_fn(lambda conn: reads.report(conn, report_id))
    if data is None:
        return None
    report, cells, labels, findings = data["report"], data["cells"], data["labels"], data["findings"]
    triage_log, corrected = data["triage"], data["corrected"]
    template = report["template"] or "unknown"
    flags: dict[str, list[dict]] = defaultdict(list)
    suspects: set[str] = set()
    for f in findings:
        f["cells_list"] = json.loads(f["cells"] or "[]")
        f["numbers_obj"] = json.loads(f["numbers"] or "{}")
        f["triage"] = triage_log.get(f["fingerprint"], [])
        last = f["triage"][-1]["state"] if f["triage"] else "open"
        f["triage_state"] = "open" if last == "reopened" else last
        f["triage_label"] = triage_mod.STATE_LABELS[f["triage_state"]]
        if f["resolved_at"] is None and triage_mod.counts(f):  # a dismissed finding marks no cell
            for ref in f["cells_list"]:
                flags[ref].append(f)
            if f["suspect"]:
                suspects.add(f["suspect"])

    def label(ref: str) -> str:
        return cell_label(ref, template, labels)

    def view(table: str, row: str, col: str) -> _CellView:
        ref = f"{table}.{row}.{col}"
        return _ocr_marks(_CellView(ref, cells.get((table, row, col)), flags, suspects, label(ref)), corrected)

    for f in findings:
        f["suspect_label"] = label(f["suspect"]) if f["suspect"] else None
        f["cells_labels"] = [label(r) for r in f["cells_list"]]
        f["cells_short"] = cells_summary(f["cells_list"], f["suspect"], label)
        f["category"] = category(f["rule"])
        f["severity_label"] = SEVERITY_LABELS.get(f["severity"], f["severity"])
        f["evidence"] = evidence({**f, "cells": f["cells_list"], "numbers": f["numbers_obj"]}, template)
        f["advice"] = advice(f["rule"])

    # the database's `labels` table (synced from the vocabulary on every writable open), else the vocabulary
    def row_label(table: str, row: str, col: str) -> str:
        lab = labels.get((table, row, col))
        if lab and lab[0]:
            return lab[0]
        return V.row_label(table, row, template)

    def col_label(table: str, row: str, col: str) -> str:
        lab = labels.get((table, row, col))
        return lab[1] if lab and lab[1] else V.column_label(table, col)

    layout = TABLE2_LAYOUT.get(template, TABLE2_LAYOUT["2021"])
    t2_blocks = []
    for block in V.TABLE2_BLOCK_LAYOUT:
        block_rows = [r for r in block.rows if r in layout]
        if not block_rows:
            continue
        cols = layout[block_rows[0]] or (SCALAR,)
        t2_blocks.append({
            "block": block.key, "label": block.label,
            "headers": [col_label("table2", block_rows[0], c) for c in cols],
            "rows": [{"label": row_label("table2", r, (layout[r] or (SCALAR,))[0]),
                      "cells": [view("table2", r, c) for c in (layout[r] or (SCALAR,))]} for r in block_rows],
        })
    t3_rows = [{"key": r, "label": row_label("table3", r, "total"),
                "cells": [view("table3", r, c) for c in TABLE3_COLUMNS]}
               for r in TABLE3_ROWS.get(template, TABLE3_ROWS["2021"])]
    t3_headers = [col_label("table3", "new", c) for c in TABLE3_COLUMNS]
    t4_cells = [view("table4", g, c) for g in TABLE4_GROUPS for c in TABLE4_COLUMNS]
    t4_col_labels = [col_label("table4", "review", c) for c in TABLE4_COLUMNS]
    t4_group_labels = {g: row_label("table4", g, "total") for g in TABLE4_GROUPS}

    warnings = data["warnings"]
    warning_groups = group_warnings(warnings, labels)
    sections = data["sections"]
    documents = data["documents"]
    siblings = data["siblings"]
    charts = []
    if data["history"]:
        charts.append(bar_chart([(str(h["year"]), h["v"]) for h in data["history"]], title="历年新收政府信息公开申请数"))
    if report["agency_id"] is not None:
        counts: dict[str, dict[str, int]] = defaultdict(dict)
        for r in data["rules_per_year"]:
            counts[str(r["year"])][category(r["rule"])] = counts[str(r["year"])].get(category(r["rule"]), 0) + r["n"]
        charts.append(stacked_chart(dict(counts), title="历年各规则问题数（仍存在）"))
    return {
        "report": report, "template": template, "t2_blocks": t2_blocks, "t3_rows": t3_rows,
        "t3_headers": t3_headers, "t3_applicants": len(TABLE3_APPLICANT_COLUMNS), "t4_cells": t4_cells,
        "t4_col_labels": t4_col_labels, "t4_group_labels": t4_group_labels, "findings": findings,
        "open_findings": [f for f in findings if f["resolved_at"] is None and triage_mod.counts(f)],
        "warnings": warnings,
        "warning_groups": warning_groups, "triage_actions": triage_mod.ACTION_LABELS,
        "sections": sections, "documents": documents, "charts": charts, "siblings": siblings,
        "vocab": PAGE_LABELS,
        "ocr_pages": await _ocr_pages(db, documents) if any(c["confidence"] is not None for c in cells.values())
        else [],
    }


# -- OCR-read reports: page images beside the tables, uncertain and corrected cells marked -------------

def _ocr_marks(view: "_CellView", corrected: dict[str, str]) -> "_CellView":
    conf = view.cell.get("confidence") if view.cell else None
    if conf is None:
        return view
    from storage.models import LOW_CONFIDENCE

    extra = []
    if conf < LOW_CONFIDENCE:
        extra.append("ocr-low")
    if view.ref in corrected:
        extra.append("ocr-corrected")
    view.css = " ".join([view.css, *extra])
    view.ocr_note = f"OCR 置信度 {conf:.2f}" + (f"\n{corrected[view.ref]}" if view.ref in corrected else "")
    return view


async def _ocr_pages(db, documents: list[dict]) -> list[dict]:
    """The images the report's cells were read from: a scanned PDF's pages, image attachments (a
    图片版 page's table pictures), the pictures a DOCX body draws; latest versions, in the order
    the documents were first stored, at most MAX_PAGE_IMAGES."""
    out: list[dict] = []
    for d in documents:
        if not d.get("latest") or len(out) >= page_images.MAX_PAGE_IMAGES:
            continue
        data = await db.execute_fn(lambda conn, sha=d["sha256"]: reads.blob(conn, sha))
        if not data:
            continue
        kind = page_images.kind(data)
        for i in range(min(page_images.page_count(data), page_images.MAX_PAGE_IMAGES - len(out))):
            out.append({"src": f"/-/nianbao/page/{d['sha256']}/{i + 1}.png", "url": d["url"], "page": i + 1,
                        "kind": kind})
    return out


async def page_image(datasette, request):
    db = datasette.get_database()
    sha, page = request.url_vars["sha256"], int(request.url_vars["page"])
    data = await db.execute_fn(lambda conn: reads.blob(conn, sha))
    png = page_images.page_png(data, page) if data else None
    if png is None:
        return Response.text("no such page", status=404)
    return Response(png, content_type="image/png", headers={"Cache-Control": "max-age=86400"})


async def overview_context(db) -> dict[str, Any]:
    data = await db.execute_fn(reads.overview)
    counts: dict[str, dict[str, int]] = defaultdict(dict)
    for r in data["rules_per_year"]:
        counts[str(r["year"])][category(r["rule"])] = counts[str(r["year"])].get(category(r["rule"]), 0) + r["n"]
    recent = data["recent"]
    for r in recent:
        r["category"], r["severity_label"] = category(r["rule"]), SEVERITY_LABELS.get(r["severity"], r["severity"])
    return {"charts": [bar_chart([(str(r["year"]), r["n"]) for r in data["reports_per_year"]], title="各年度收录报告数"),
                       stacked_chart(dict(counts), title="各年度各规则问题数（仍存在）", width=620)],
            "totals": data["totals"], "recent": recent}


# -- parse warnings, said once per kind ------------------------------------------------------------

#: warning code -> a sentence about N of them in one table ({table}, {n}); the details stay below it.
WARNING_PHRASES = {
    "blank_cell": "{table}有 {n} 个空白单元格，见表中斜线格（空白不当作0，涉及的关系不予核验）",
    "missing_cell": "{table}有 {n} 个单元格没有读到数值，见表中斜线格",
    "na_cell": "{table}有 {n} 个单元格填写“/”“—”“无”等，不是数字（不当作0）",
    "text_cell": "{table}有 {n} 个单元格是文字而不是数字",
    "row_not_found": "{table}有 {n} 行没有找到：{labels}",
    "row_not_matched": "{table}有 {n} 行与国家格式的行对不上，已略过",
    "table_not_found": "没有找到{table}",
    "ambiguous_value": "{table}有 {n} 处数值个数与格式不符，已按顺序取用，请对照原文",
    "mixed_template": "{table}与其他表格的格式版本（2019 / 2021）不一致",
}
_REF = __import__("re").compile(r"\b(table[234])\.([a-z_]+)")


def group_warnings(warnings: list[dict[str, Any]], labels: dict | None = None) -> list[dict[str, Any]]:
    """Parse warnings grouped by kind and table, each group one Chinese sentence (表三有 126 个空白
    单元格，见表中斜线格) with its original lines kept as details."""
    groups: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for w in warnings:
        m = _REF.search(w.get("cell") or "") or _REF.search(w.get("message") or "")
        groups[(w["code"], m.group(1) if m else "")].append(w)
    out = []
    for (code, table), ws in sorted(groups.items(), key=lambda kv: (kv[0][1], kv[0][0])):
        rows = []
        for w in ws:
            m = _REF.search(w.get("cell") or "") or _REF.search(w.get("message") or "")
            if m:
                lab = next((v[0] for k, v in (labels or {}).items() if k[0] == m.group(1) and k[1] == m.group(2)), None)
                rows.append(lab or m.group(2))
        phrase = WARNING_PHRASES.get(code, "{table}有 {n} 条解析提示（" + code + "）")
        text = phrase.format(table=V.TABLE_NAMES.get(table, "报告"), n=len(ws),
                             labels="、".join(dict.fromkeys(rows)) or "—")
        out.append({"code": code, "table": table, "count": len(ws), "text": text,
                    "details": [w["message"] for w in ws]})
    return out


# -- the desk: matrix, history, exports, triage ------------------------------------------------------

def _config(datasette) -> dict[str, Any]:
    return datasette.plugin_config("nianbao") or {}


def _today(datasette):
    from datetime import date, datetime, timezone
    t = _config(datasette).get("today")
    return date.fromisoformat(t) if t else datetime.now(timezone.utc).date()


def _public(datasette) -> bool:
    return bool(_config(datasette).get("public"))


#: Hidden in public mode: who gets mail and what it says, crawl journals, stored bytes, triage notes.
PRIVATE_TABLES = ("outbox", "runs", "fetches", "blobs", "events", "triage", "finding_triage", "schema_migrations")


def _filters(request) -> dict[str, Any]:
    from monitor.compliance import SORT_KEYS
    args = request.args
    year = args.get("year")
    sort = args.get("sort") or "status"
    return {"year": int(year) if year and year.isdigit() else None,
            "site": args.get("site") or None, "region": args.get("region") or None,
            "kind": args.get("kind") or None, "sort": sort if sort in SORT_KEYS else "status",
            "descending": args.get("desc") == "1"}


async def _matrix(datasette, request):
    from monitor.compliance import matrix_for
    cfg = _config(datasette)
    f = _filters(request)
    db = datasette.get_database()
    today = _today(datasette)
    return await db.execute_fn(lambda conn: matrix_for(
        conn, today=today, grace_days=int(cfg.get("grace_days", 7)), rosters=cfg.get("rosters") or {}, **f))


def _query(m, **change) -> str:
    from urllib.parse import urlencode
    q = {"year": m.year, **{k: v for k, v in m.filters.items() if v}}
    q.update(change)
    return "?" + urlencode({k: v for k, v in q.items() if v not in (None, "")})


async def matrix_page(datasette, request):
    from monitor.compliance import KIND_LABELS, STATUS_LABELS
    m, _label = await _matrix(datasette, request)
    db = datasette.get_database()
    context = {"m": m, "database": db.name, "kind_labels": KIND_LABELS, "status_labels": STATUS_LABELS,
               "query": lambda **kw: _query(m, **kw), "public": _public(datasette),
               "sort_link": lambda key: _query(m, sort=key, desc="1" if m.filters.get("sort") == key
                                               and not m.filters.get("desc") else None)}
    return Response.html(await datasette.render_template("nianbao_matrix.html", context, request=request))


async def matrix_download(datasette, request):
    from monitor import export
    fmt = request.url_vars["fmt"]
    m, label = await _matrix(datasette, request)
    base = str(_config(datasette).get("base_url") or "").rstrip("/") or \
        f"{request.scheme}://{request.host}"
    body = export.export(m, fmt, base_url=base, label=label)
    from urllib.parse import quote
    name = export.filename(m, fmt)
    return Response(body, content_type=export.CONTENT_TYPES[fmt], headers={
        "content-disposition": f"attachment; filename=\"nianbao-{m.year}.{fmt}\"; filename*=UTF-8''{quote(name)}"})


async def agency_page(datasette, request):
    from monitor.compliance import history_view
    db = datasette.get_database()
    agency_id = int(request.url_vars["agency_id"])
    data = await db.execute_fn(lambda conn: desk.agency_history(conn, agency_id))
    if data is None:
        return Response.html(f"<h1>no agency {agency_id}</h1>", status=404)
    labels = await db.execute_fn(lambda conn: desk.labels(conn))
    context = {"database": db.name, **history_view(data, lambda ref: cell_label(ref, None, labels))}
    return Response.html(await datasette.render_template("nianbao_agency.html", context, request=request))


async def triage_post(datasette, request):
    """One decision from the report page's form; asgi-csrf (Datasette's) has checked the token."""
    if request.method != "POST":
        return Response.text("POST only", status=405)
    if _public(datasette):
        return Response.text("triage is off in public mode (serve.public)", status=403)
    actor = request.actor
    if not actor or not await datasette.permission_allowed(actor, "nianbao-triage", default=True):
        return Response.text("sign in to triage findings (/-/login)", status=403)
    form = await request.post_vars()
    try:
        state, note, who = triage_mod.check_decision(form.get("action", ""), form.get("note"),
                                                     str(actor.get("id") or ""))
    except ValueError as e:
        datasette.add_message(request, f"未记录：{e}", datasette.ERROR)
        return Response.redirect(form.get("next") or "/")
    ref = form.get("finding", "")
    db = datasette.get_database()

    def write(conn):
        with conn:  # Datasette's write thread does not commit for us
            row = desk.find_finding(conn, ref)
            if row is None:
                return None
            return desk.record_triage(conn, row, state, actor=who, note=note)

    done = await db.execute_write_fn(write, block=True)
    if done is None:
        return Response.text(f"no finding {ref!r}", status=404)
    datasette.add_message(request, f"已记录：{triage_mod.ACTION_LABELS[state]}（{who}）", datasette.INFO)
    nxt = form.get("next") or "/"
    return Response.redirect(nxt if nxt.startswith("/") and not nxt.startswith("//") else "/")


# -- hooks ------------------------------------------------------------------------------------------

async def report_page(datasette, request):
    db = datasette.get_database()
    report_id = int(request.url_vars["report_id"])
    context = await report_context(db, report_id)
    if context is None:
        return Response.html(f"<h1>no report {report_id}</h1>", status=404)
    context["database"] = db.name
    context["public"] = _public(datasette)
    context["can_triage"] = (not context["public"] and request.actor is not None
                             and await datasette.permission_allowed(request.actor, "nianbao-triage", default=True))
    return Response.html(await datasette.render_template("nianbao_report.html", context, request=request))


async def overview_page(datasette, request):
    db = datasette.get_database()
    context = await overview_context(db)
    context["database"] = db.name
    return Response.html(await datasette.render_template("nianbao_overview.html", context, request=request))


async def stylesheet(datasette, request):
    return Response((_STATIC / "nianbao.css").read_text(encoding="utf-8"), content_type="text/css; charset=utf-8")


@hookimpl
def prepare_connection(conn):
    """SQL function agency_norm(name): the normalised body of an agency name (卫健委 -> 卫生健康委员会),
    so that queries find an agency under any spelling."""
    from storage.agencies import normalise
    conn.create_function("agency_norm", 1, lambda name: normalise(name).norm if name else None, deterministic=True)


@hookimpl
def prepare_jinja2_environment(env):
    """Our templates, found whether Datasette was started by `nianbao serve` or by hand."""
    from jinja2 import ChoiceLoader, FileSystemLoader
    env.loader = ChoiceLoader([env.loader, FileSystemLoader(str(_FILES / "templates"))])


@hookimpl
def register_routes():
    return [
        (r"^/$", matrix_page),
        (r"^/-/nianbao/matrix$", matrix_page),
        (r"^/-/nianbao/matrix\.(?P<fmt>xlsx|docx|csv)$", matrix_download),
        (r"^/-/nianbao/agency/(?P<agency_id>\d+)$", agency_page),
        (r"^/-/nianbao/triage$", triage_post),
        (r"^/-/nianbao/report/(?P<report_id>\d+)$", report_page),
        (r"^/-/nianbao/?$", overview_page),
        (r"^/-/nianbao/nianbao\.css$", stylesheet),
        (r"^/-/nianbao/page/(?P<sha256>[0-9a-f]{64})/(?P<page>\d+)\.png$", page_image),
    ]


@hookimpl
def extra_css_urls():
    return ["/-/nianbao/nianbao.css"]


@hookimpl
def render_cell(row, value, column, table, database, datasette):
    """Report titles open the report page; source URLs open the original; report ids link too."""
    if table == "reports" and column == "title":
        row_id = row["id"] if row is not None and "id" in row.keys() else None
        if row_id is not None:
            return Markup(f'<a href="{REPORT_PAGE}{row_id}">{escape(value or "（无标题）")}</a>')
    if column == "source_url" and isinstance(value, str) and value.startswith(("http://", "https://")):
        return Markup(f'<a href="{escape(value)}" target="_blank" rel="noopener">{escape(value)}</a>')
    if column == "report_id":
        # a foreign key Datasette expanded arrives as {"value": id, "label": title}
        label = None
        if isinstance(value, dict):
            value, label = value.get("value"), value.get("label")
        if isinstance(value, int):
            text = f"{label} ({value})" if label and label != str(value) else f"报告 {value}"
            return Markup(f'<a href="{REPORT_PAGE}{value}">{escape(text)}</a>')
    return None


@hookimpl
def table_actions(datasette, actor, database, table):
    if table == "reports":
        return [{"href": "/-/nianbao", "label": "概览与图表"}]
    return []


@hookimpl
def permission_allowed(datasette, actor, action, resource):
    """Public mode: no arbitrary SQL, no journals, no triage.  Elsewhere Datasette's defaults."""
    if not _public(datasette):
        return None
    if action in ("execute-sql", "nianbao-triage", "insert-row", "delete-row", "update-row", "create-table",
                  "drop-table", "alter-table", "view-debug-menu", "debug-menu", "permissions-debug"):
        return False
    if action == "view-table" and isinstance(resource, (tuple, list)) and resource[1] in PRIVATE_TABLES:
        return False
    return None


@hookimpl
def menu_links(datasette, actor):
    return [{"href": "/", "label": "公开情况总表"}, {"href": "/-/nianbao", "label": "概览与图表"}]
