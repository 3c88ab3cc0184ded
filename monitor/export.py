"""通报 exports of a compliance matrix: an XLSX workbook, a DOCX notice, a CSV table.

All three are written from one ``monitor.compliance.Matrix`` (the page's matrix, with the same
filters), so their figures are the page's.  Findings an officer dismissed or marked fixed are not
in them (the matrix counts open and confirmed findings only).
"""
from __future__ import annotations

import csv
import io
from datetime import date
from typing import Callable

from monitor import triage
from monitor.checks.categories import SEVERITY_LABELS, category
from monitor.compliance import Matrix, MatrixRow, cells_summary, evidence

FORMATS = ("xlsx", "docx", "csv")
CONTENT_TYPES = {
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "csv": "text/csv; charset=utf-8",
}

AGENCY_COLUMNS = (("序号", 6), ("机关", 30), ("类型", 12), ("地区", 22), ("站点", 12), ("状态", 16),
                  ("发布日期", 12), ("法定期限", 12), ("逾期天数", 9), ("错误", 7), ("警告", 7), ("提示", 7),
                  ("已排除", 8), ("报告链接", 48))
FINDING_COLUMNS = (("机关", 28), ("站点", 12), ("问题类别", 26), ("程度", 7), ("说明", 70), ("可疑单元格", 40),
                   ("涉及单元格", 50), ("处理状态", 10), ("报告链接", 48))


def scope_name(m: Matrix) -> str:
    """Where the matrix is about, in words: the region, the site, or all monitored sites."""
    f = m.filters
    parts = [p for p in (f.get("region"), f.get("site") and f"站点 {f['site']}") if p]
    return "、".join(parts) if parts else "全部监测单位"


def title(m: Matrix) -> str:
    return f"关于{scope_name(m)}{m.year}年度政府信息公开工作年度报告发布情况的通报"


def summary_sentence(m: Matrix) -> str:
    """The notice's opening paragraph, in the words a 政务公开办 uses."""
    c = m.counts
    s = (f"根据《中华人民共和国政府信息公开条例》第四十九条规定，各单位应于次年1月31日前（本级人民政府于3月31日前）"
         f"公开上一年度政府信息公开工作年度报告。截至{m.today:%Y年%m月%d日}，{scope_name(m)}应公开{m.year}年度报告的"
         f"{c.expected}个单位中，已公开{c.published}个，其中按时公开{c.on_time}个、逾期公开{c.late}个；"
         f"逾期尚未公开{c.missing}个")
    if c.not_due:
        s += f"，另有{c.not_due}个单位尚未到公开期限"
    s += f"。已公开的报告中，{c.with_errors}份存在数据错误"
    if c.revised:
        s += f"，{c.revised}份在发布后被修改"
    return s + "。现将有关情况通报如下。"


def _report_link(row: MatrixRow, base_url: str) -> str:
    return f"{base_url.rstrip('/')}/-/nianbao/report/{row.report_id}" if row.report_id else ""


def _agency_values(i: int, r: MatrixRow, base_url: str) -> list:
    return [i, r.agency, r.kind_label, r.region, r.site, r.status_label, r.published or "", r.due,
            r.days_late if r.days_late is not None else (r.days_overdue if r.status == "missing" else None),
            r.counts["error"], r.counts["warning"], r.counts["info"], r.closed, _report_link(r, base_url)]


def _finding_values(r: MatrixRow, f: dict, base_url: str, label: Callable[[str], str]) -> list:
    return [r.agency, r.site, category(f["rule"]), SEVERITY_LABELS.get(f["severity"], f["severity"]),
            evidence(f), label(f["suspect"]) if f.get("suspect") else "",
            cells_summary(f.get("cells") or [], f.get("suspect"), label, limit=4),
            triage.STATE_LABELS.get(f.get("triage_state", "open"), ""), _report_link(r, base_url)]


def to_xlsx(m: Matrix, *, base_url: str, label: Callable[[str], str]) -> bytes:
    """Summary sheet, agencies with their status, findings with suspect cells and report links;
    frozen header rows, column widths and filters on the two lists."""
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.utils import get_column_letter

    wb = Workbook()
    bold, head_fill = Font(bold=True), PatternFill("solid", fgColor="DDDDDD")
    ws = wb.active
    ws.title = "汇总"
    ws.append([title(m)])
    ws["A1"].font = Font(bold=True, size=14)
    ws.append([f"统计日期：{m.today.isoformat()}　范围：{scope_name(m)}"
               + (f"　类型：{m.filters['kind']}" if m.filters.get("kind") else "")])
    ws.append([])
    ws.append(["项目", "单位数"])
    for cell in ws[4]:
        cell.font, cell.fill = bold, head_fill
    c = m.counts
    for name, n in (("应公开", c.expected), ("已公开", c.published), ("按时公开", c.on_time), ("逾期公开", c.late),
                    ("逾期未公开", c.missing), ("未到期限", c.not_due), ("报告有错误", c.with_errors),
                    ("发布后修改", c.revised)):
        ws.append([name, n])
    ws.append([])
    ws.append([summary_sentence(m)])
    ws.cell(ws.max_row, 1).alignment = Alignment(wrap_text=True, vertical="top")
    ws.merge_cells(start_row=ws.max_row, start_column=1, end_row=ws.max_row, end_column=6)
    ws.row_dimensions[ws.max_row].height = 90
    ws.column_dimensions["A"].width, ws.column_dimensions["B"].width = 16, 10

    def sheet(name: str, columns, rows) -> None:
        s = wb.create_sheet(name)
        s.append([h for h, _ in columns])
        for cell in s[1]:
            cell.font, cell.fill = bold, head_fill
            cell.alignment = Alignment(vertical="center", wrap_text=True)
        for values in rows:
            s.append(values)
        for i, (_, width) in enumerate(columns, start=1):
            s.column_dimensions[get_column_letter(i)].width = width
        s.freeze_panes = "A2"
        s.auto_filter.ref = f"A1:{get_column_letter(len(columns))}{max(s.max_row, 1)}"
        link_col = len(columns)
        for row in s.iter_rows(min_row=2, min_col=link_col, max_col=link_col):
            for cell in row:
                if cell.value:
                    cell.hyperlink, cell.style = cell.value, "Hyperlink"

    sheet("各单位情况", AGENCY_COLUMNS, [_agency_values(i, r, base_url) for i, r in enumerate(m.rows, start=1)])
    sheet("问题清单", FINDING_COLUMNS, [_finding_values(r, f, base_url, label) for r, f in m.findings()])
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def to_docx(m: Matrix, *, base_url: str, label: Callable[[str], str], issued: date | None = None) -> bytes:
    """The 通报: title, date, summary paragraph, tables of missing, late and wrong reports."""
    from docx import Document
    from docx.enum.text import WD_ALIGN_PARAGRAPH
    from docx.oxml.ns import qn
    from docx.shared import Cm, Pt

    doc = Document()
    style = doc.styles["Normal"]
    style.font.name, style.font.size = "SimSun", Pt(11)
    style.element.rPr.rFonts.set(qn("w:eastAsia"), "SimSun")  # Word uses this for Chinese text
    head = doc.add_heading(title(m), level=1)
    head.alignment = WD_ALIGN_PARAGRAPH.CENTER
    when = doc.add_paragraph(f"{(issued or m.today):%Y年%m月%d日}")
    when.alignment = WD_ALIGN_PARAGRAPH.CENTER
    doc.add_paragraph(summary_sentence(m))

    def table(headers: list[str], rows: list[list], widths: list[float] | None = None) -> None:
        t = doc.add_table(rows=1, cols=len(headers))
        t.style = "Table Grid"
        t.autofit = widths is None
        for cell, h in zip(t.rows[0].cells, headers):
            cell.text = h
            for run in cell.paragraphs[0].runs:
                run.bold = True
        for values in rows:
            cells = t.add_row().cells
            for cell, v in zip(cells, values):
                cell.text = "" if v is None else str(v)
        if widths:  # LibreOffice reads the grid's column widths, Word each cell's: set both
            for col, w in zip(t.columns, widths):
                col.width = Cm(w)
            for row in t.rows:
                for cell, w in zip(row.cells, widths):
                    cell.width = Cm(w)

    missing = [r for r in m.rows if r.status == "missing"]
    late = [r for r in m.rows if r.days_late is not None]
    wrong = [r for r in m.rows if r.is_published and r.has_errors]
    doc.add_heading(f"一、逾期未公开年度报告的单位（{len(missing)}个）", level=2)
    if missing:
        table(["序号", "单位", "类型", "法定期限", "已逾期天数"],
              [[i, r.agency, r.kind_label, r.due, r.days_overdue] for i, r in enumerate(missing, start=1)],
              widths=[1.2, 6.4, 3.0, 3.2, 3.2])
    else:
        doc.add_paragraph("无。")
    doc.add_heading(f"二、逾期公开年度报告的单位（{len(late)}个）", level=2)
    if late:
        table(["序号", "单位", "法定期限", "发布日期", "逾期天数"],
              [[i, r.agency, r.due, r.published or "", r.days_late] for i, r in enumerate(late, start=1)],
              widths=[1.2, 6.4, 3.2, 3.2, 3.0])
    else:
        doc.add_paragraph("无。")
    doc.add_heading(f"三、年度报告存在错误的单位（{len(wrong)}个）", level=2)
    if wrong:
        rows = []
        for r in wrong:
            for f in [f for f in r.content_findings if f["severity"] == "error"]:
                rows.append([len(rows) + 1, r.agency, category(f["rule"]), evidence(f),
                             label(f["suspect"]) if f.get("suspect") else cells_summary(f.get("cells") or [], None,
                                                                                         label, limit=2)])
        table(["序号", "单位", "问题类别", "说明", "请核对的单元格"], rows, widths=[1.2, 2.8, 2.8, 6.6, 3.6])
    else:
        doc.add_paragraph("无。")
    doc.add_paragraph()
    doc.add_paragraph("请上述单位对照《中华人民共和国政府信息公开条例》和国务院办公厅政府信息公开办公室"
                      "《关于印发〈中华人民共和国政府信息公开工作年度报告格式〉的通知》（国办公开办函〔2021〕30号）"
                      "的要求，尚未公开的尽快公开，数据有误的核对后更正并重新发布。")
    if base_url:
        doc.add_paragraph(f"各单位报告及问题明细见：{base_url.rstrip('/')}/")
    buf = io.BytesIO()
    doc.save(buf)
    return buf.getvalue()


def to_csv(m: Matrix, *, base_url: str, label: Callable[[str], str] | None = None) -> bytes:
    """The agencies list as CSV (UTF-8 with BOM, so that Excel reads the Chinese)."""
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow([h for h, _ in AGENCY_COLUMNS])
    for i, r in enumerate(m.rows, start=1):
        w.writerow(["" if v is None else v for v in _agency_values(i, r, base_url)])
    return buf.getvalue().encode("utf-8-sig")


def export(m: Matrix, fmt: str, *, base_url: str, label: Callable[[str], str]) -> bytes:
    if fmt not in FORMATS:
        raise ValueError(f"unknown export format {fmt!r}: expected one of {', '.join(FORMATS)}")
    return {"xlsx": to_xlsx, "docx": to_docx, "csv": to_csv}[fmt](m, base_url=base_url, label=label)


def filename(m: Matrix, fmt: str) -> str:
    scope = "-".join(v for v in (m.filters.get("site"), m.filters.get("region"), m.filters.get("kind")) if v)
    return f"nianbao-{m.year}{'-' + scope if scope else ''}-通报.{fmt}"
