"""Build Extracted documents (paragraphs + grids) for mapping tests, from values and printed labels.

The grids follow the national format's layout as a Word table gives it (group cells spanning rows are
blank copies, marked spanned).  Options let a test print the labels differently (typos, spaces,
full-width digits) or break the layout (split grids, shifted rows, no grid at all).
"""
from __future__ import annotations

from vocabulary import template as T
from crawler.parsing.extract.base import Extracted, GridCell, Paragraph, Table
from storage.models import SCALAR, TABLE2_LAYOUT, TABLE3_ROWS, TABLE4_COLUMNS, TABLE4_GROUPS

T2_HEADERS_2021 = {
    "第二十条第（一）项": (("信息内容", "本年制发件数", "本年废止件数", "现行有效件数"),
                      ("regulations", "normative_documents")),
    "第二十条第（五）项": (("信息内容", "本年处理决定数量"), ("licensing",)),
    "第二十条第（六）项": (("信息内容", "本年处理决定数量"), ("punishment", "coercion")),
    "第二十条第（八）项": (("信息内容", "本年收费金额（单位：万元）"), ("fees_wan_yuan",)),
}
T2_HEADERS_2019 = {
    "第二十条第（一）项": (("信息内容", "本年新制作数量", "本年新公开数量", "对外公开总数量"),
                      ("regulations", "normative_documents")),
    "第二十条第（五）项": (("信息内容", "上一年项目数量", "本年增/减", "处理决定数量"),
                      ("licensing", "other_external_services")),
    "第二十条第（六）项": (("信息内容", "上一年项目数量", "本年增/减", "处理决定数量"), ("punishment", "coercion")),
    "第二十条第（八）项": (("信息内容", "上一年项目数量", "本年增/减"), ("fees",)),
    "第二十条第（九）项": (("信息内容", "采购项目数量", "采购总金额"), ("procurement",)),
}
T2_LABELS = {"regulations": "规章", "normative_documents": "行政规范性文件", "licensing": "行政许可",
             "other_external_services": "其他对外管理服务事项", "punishment": "行政处罚", "coercion": "行政强制",
             "fees_wan_yuan": "行政事业性收费", "fees": "行政事业性收费", "procurement": "政府集中采购"}


def grid(rows: list[list[str]]) -> Table:
    width = max(len(r) for r in rows)
    return Table(rows=[[GridCell(text=c) for c in r] + [GridCell(text="") for _ in range(width - len(r))]
                       for r in rows])


def sample_values(seed: int = 1, template: str = "2021") -> dict:
    """Deterministic, internally consistent values (every relation holds)."""
    import random

    rnd = random.Random(seed)
    t2: dict = {}
    for row, cols in TABLE2_LAYOUT[template].items():
        if cols is None:
            t2[row] = rnd.randint(0, 500) if row != "fees_wan_yuan" else round(rnd.uniform(0, 50), 2)
        else:
            t2[row] = {c: (f"{rnd.randint(1, 900)}万元" if c == "amount" else rnd.randint(0, 60)) for c in cols}
    rows = TABLE3_ROWS[template]
    leaves = rows[2:-2]
    t3 = {r: [0] * 7 for r in rows}
    for r in leaves:
        t3[r] = [rnd.choice((0, 0, 0, 1, 2, 5)) for _ in range(6)]
    t3["total_processed"] = [sum(t3[r][c] for r in leaves) for c in range(6)]
    t3["carried_over"] = [rnd.randint(0, 2) for _ in range(6)]
    t3["carried_forward"] = [min(t3["carried_over"][c], rnd.randint(0, 2)) for c in range(6)]
    t3["new"] = [t3["total_processed"][c] + t3["carried_forward"][c] - t3["carried_over"][c] for c in range(6)]
    for r in rows:
        t3[r] = t3[r][:6] + [sum(t3[r][:6])]
    t4 = {}
    for g in TABLE4_GROUPS:
        parts = [rnd.randint(0, 3) for _ in range(4)]
        t4[g] = dict(zip(TABLE4_COLUMNS, parts + [sum(parts)]))
    return {"table2": t2, "table3": t3, "table4": t4}


def table2_rows(t2: dict, template: str = "2021", labels: dict | None = None) -> list[list[str]]:
    labels = {**T2_LABELS, **(labels or {})}
    out = []
    for block, (header, rows) in (T2_HEADERS_2021 if template == "2021" else T2_HEADERS_2019).items():
        out.append([block, "", "", ""])
        out.append(list(header))
        for row in rows:
            v = t2[row]
            vals = [str(v)] if not isinstance(v, dict) else [str(x) for x in v.values()]
            out.append([labels[row], *vals])
    return out


def _t3_label_cells(row: str, labels: dict) -> list[str]:
    r = T.TABLE3_ROW_LABELS[row]
    text = labels.get(row, r.label)
    if r.group in (None,):
        return [text, "", ""]
    if r.group == "results":
        first = T.TABLE3_GROUPS["results"] if row == "granted" else ""
        return [first, text, ""]
    first_in_group = {"withheld": "withheld_state_secret", "unavailable": "unavailable_not_held",
                      "rejected": "rejected_petition", "other": "other_no_correction"}
    group = labels.get("group:" + r.group, T.TABLE3_GROUPS[r.group]) if first_in_group[r.group] == row else ""
    return ["", group, text]


def table3_rows(t3: dict, template: str = "2021", labels: dict | None = None,
                cells: dict | None = None) -> list[list[str]]:
    """Rows of Table 三; `cells` overrides printed values: {(row, col_index): text}."""
    labels = labels or {}
    cells = cells or {}
    out = [[T.TABLE3_BALANCE_NOTE, "", "", "申请人情况", "", "", "", "", "", ""],
           ["", "", "", "自然人", "法人或其他组织", "", "", "", "", "总计"],
           ["", "", "", "", "商业企业", "科研机构", "社会公益组织", "法律服务机构", "其他", ""]]
    for row in TABLE3_ROWS[template]:
        printed = [cells.get((row, i), str(v)) for i, v in enumerate(t3[row])]
        out.append(_t3_label_cells(row, labels) + printed)
    return out


def table4_rows(t4: dict) -> list[list[str]]:
    cols = ["结果维持", "结果纠正", "其他结果", "尚未审结", "总计"]
    return [["行政复议", "", "", "", "", "行政诉讼"] + [""] * 9,
            cols + ["未经复议直接起诉", "", "", "", "", "复议后起诉", "", "", "", ""],
            [""] * 5 + cols + cols,
            [str(t4[g][c]) for g in TABLE4_GROUPS for c in TABLE4_COLUMNS]]


def build(values: dict, *, template: str = "2021", agency: str = "测试区卫生健康局", year: int = 2024,
          title: bool = True, t2_labels: dict | None = None, t3_labels: dict | None = None,
          t3_cells: dict | None = None, split_table3: bool = False, omit: tuple[str, ...] = (),
          narrative: str | None = None, text_stream: tuple[str, ...] = (),
          signature: str | None = "2025年1月20日") -> Extracted:
    """An Extracted report; `omit` leaves tables out, `text_stream` prints tables as paragraphs."""
    blocks: list = []
    if title:
        blocks += [Paragraph(agency), Paragraph(f"{year}年政府信息公开工作年度报告")]
    blocks.append(Paragraph(f"本报告所列数据的统计期限自{year}年1月1日起至{year}年12月31日止。"))
    bodies = {
        "overview": narrative or f"{year}年，{agency}认真贯彻落实《条例》，做好政府信息公开工作。",
        "problems": "一是公开内容不够深入；二是平台建设有待加强。下一步将加强培训，提升公开质量。",
        "other": "本年度未收取信息处理费。",
    }
    tables = {"proactive": ("table2", table2_rows(values["table2"], template, t2_labels)),
              "requests": ("table3", table3_rows(values["table3"], template, t3_labels, t3_cells)),
              "appeals": ("table4", table4_rows(values["table4"]))}
    for i, (key, (heading, _)) in enumerate(T.SECTIONS.items()):
        blocks.append(Paragraph(f"{T.SECTION_NUMERALS[i]}、{heading}"))
        if key in bodies:
            blocks.append(Paragraph(bodies[key]))
        if key in tables:
            name, rows = tables[key]
            if name in omit:
                continue
            if name in text_stream:
                blocks += [Paragraph(" ".join(c for c in r if c)) for r in rows]
            elif name == "table3" and split_table3:
                blocks += [grid(rows[:12]), grid(rows[12:])]  # a page break inside the table
            else:
                blocks.append(grid(rows))
    if signature:
        blocks += [Paragraph(agency), Paragraph(signature)]
    return Extracted(format="html", blocks=blocks)


def expected_json(values: dict, template: str = "2021") -> dict:
    """The wide views Report.table2/3/4 should show for these values."""
    t2 = {}
    for row, cols in TABLE2_LAYOUT[template].items():
        t2[row] = values["table2"][row] if cols is None else dict(values["table2"][row])
    return {"table2": t2, "table3": {r: list(v) for r, v in values["table3"].items()},
            "table4": {g: dict(v) for g, v in values["table4"].items()}}


__all__ = ["build", "sample_values", "expected_json", "grid", "SCALAR"]


def to_text(ex: Extracted, layout: str) -> str:
    """Print an Extracted as a text file in one of the seeds' layouts: 'cells' (one cell per line, a tab
    before each, blank lines between rows), 'tabs' (a row per line) or 'markdown' (tabs, '#' headings)."""
    out: list[str] = []
    for b in ex.blocks:
        if isinstance(b, Paragraph):
            heading = layout == "markdown" and b.text[:2] in {f"{n}、" for n in T.SECTION_NUMERALS}
            out.append(("## " if heading else "") + b.text)
            continue
        rows = [[c.text for c in r if not c.spanned] for r in b.rows]
        if layout == "cells":
            for r in rows:
                out.extend("\t" + c for c in r)
                out.append("")
        else:
            out.extend("\t".join(r) for r in rows)
            out.append("")
    return "\n".join(out) + "\n"
