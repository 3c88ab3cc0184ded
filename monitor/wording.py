"""What a person reads about a finding: cells by their printed labels, the evidence as one Chinese
sentence, and what the agency should do.

Used by the digest (monitor/alerts.py) and the Datasette pages.  Keys (``table3.new.total``) stay
in the JSON and the database; only what is shown to a person is worded here.

The labels come from the vocabulary (vocabulary/template.py) through ``_labels``.
"""
from __future__ import annotations

import re
from datetime import date, datetime
from typing import Any, Iterable

from storage.models import SCALAR, Finding
from vocabulary import template as _template

#: Table key -> its printed name (the vocabulary's).
TABLE_NAMES = _template.TABLE_NAMES
#: A cell reference as findings write it: table.row.column.
CELL_REF = re.compile(r"\btable[234]\.[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*\b")
#: At most this many cells named one by one; the rest are counted.
MAX_CELLS = 3

#: What the agency should do, by rule (the officer forwards it as is).
ADVICE: dict[str, str] = {
    "row_total": "核对该行各类申请人数据与总计，更正后重新发布年度报告。",
    "results_total": "核对该列办理结果各项与“（七）总计”，更正后重新发布年度报告。",
    "balance": "核对本年新收、上年结转、办理结果总计和结转下年度四项数据，更正后重新发布年度报告。",
    "appeal_total": "核对表四各项结果与总计，更正后重新发布年度报告。",
    "narrative_vs_table": "核对正文与表格数据，更正不一致之处后重新发布年度报告。",
    "placeholder": "删除模板占位文字、补齐缺少的内容后重新发布年度报告。",
    "period": "将统计期限更正为该年1月1日至12月31日后重新发布年度报告。",
    "tables_missing": "核实报告是否含统计表：表格为图片的，请以可识别的文字表格发布；附件无法打开的，请更换附件后重新发布。",
    "carry_continuity": "核对本年“上年结转”与上年报告“结转下年度继续办理”，更正有误的一方并重新发布；"
                        "确有特殊原因的，在报告中说明。",
    "in_force_continuity": "核对规章、规范性文件现行有效件数；如有集中清理或机构调整，在报告中说明。",
    "swing": "核实数据是否准确；数据无误的，在报告中说明变化原因。",
    "copied": "核实是否照搬往年或其他单位的内容，按本年实际情况重新撰写后发布。",
    "deadline": "今后按期限公布年度报告（部门1月31日前，本级政府3月31日前；乡镇、街道按当地规定，一般为1月31日前）。",
    "backdated": "核实报告的实际发布时间，如实标注发布日期。",
    "missing": "尽快在政府信息公开专栏公布该年度报告；已公布的，请告知网址以便核实。",
    "revised": "说明发布后修改的原因；属于更正错误的，在报告中注明更正内容和时间。",
}
DEFAULT_ADVICE = "核实后按规定更正并重新发布年度报告。"


def _labels():
    """The vocabulary's label functions."""
    from vocabulary import template

    return template


# -- cells ---------------------------------------------------------------------------------------

def cell_label(ref: str, template: str | None = "2021") -> str:
    """A cell as printed: ``table3.unavailable_not_held.total`` -> 表三 ·（四）无法提供 1.本机关不掌握相关政府信息 · 总计.

    A reference that is not a cell comes back unchanged.
    """
    parts = ref.split(".")
    if len(parts) != 3 or parts[0] not in TABLE_NAMES:
        return ref
    table, row, column = parts
    t = _labels()
    row_text = t.row_label(table, row, template)
    if table == "table2" and column == SCALAR:
        col_text = t.TABLE2_COLUMNS[SCALAR][1][0] if row.startswith("fees") else t.column_label(table, column)
    else:
        col_text = t.column_label(table, column)
    return _join(TABLE_NAMES[table], row_text, col_text)


def _join(*parts: str) -> str:
    """' · ' between parts, without a space before a full-width bracket (it has its own)."""
    out = parts[0]
    for p in parts[1:]:
        out += (" ·" if p.startswith(("（", "“")) else " · ") + p
    return out


def row_label(table: str, row: str) -> str:
    return _join(TABLE_NAMES.get(table, table), _labels().row_label(table, row))


def column_label(table: str, column: str) -> str:
    return _join(TABLE_NAMES.get(table, table), _labels().column_label(table, column))


def _group_of(table: str, rows: set[str]) -> str | None:
    """The printed heading every one of ``rows`` sits under (Table 三's （三）…（六）), if they share one."""
    t = _labels()
    if table != "table3":
        return None
    groups = {getattr(t.TABLE3_ROW_LABELS.get(r), "group", None) for r in rows}
    if len(groups) != 1:
        return None
    (group,) = groups
    return t.TABLE3_GROUPS.get(group) if group and group != "results" else None


def humanise(text: str, template: str | None = "2021") -> str:
    """``text`` with every cell reference in it replaced by the cell's printed label."""
    return CELL_REF.sub(lambda m: "“" + cell_label(m.group(0), template) + "”", text or "")


def involved_cells(finding: Finding, template: str | None = "2021", *, limit: int = MAX_CELLS) -> str:
    """The cells that matter, shortly: the suspect cell if the checks found one; a whole row or
    column named once when the finding spans it; else the first few cells and a count."""
    cells = list(dict.fromkeys(finding.cells))
    if not cells and not finding.suspect:
        return ""
    if finding.suspect:
        return f"可疑单元格：{cell_label(finding.suspect, template)}"
    split = [c.split(".") for c in cells]
    if len(cells) > limit and all(len(p) == 3 for p in split):
        tables, rows, cols = ({p[i] for p in split} for i in range(3))
        if len(tables) == 1 and len(rows) == 1:
            return f"涉及{row_label(split[0][0], split[0][1])}一行（{len(cells)}个单元格）"
        if len(tables) == 1 and len(cols) == 1:
            table, column = split[0][0], split[0][2]
            group = _group_of(table, rows)
            if group:  # every row under one heading: （三）不予公开 — name the heading, not eight rows
                return (f"涉及{_join(TABLE_NAMES[table], group)}各项的“{_labels().column_label(table, column)}”"
                        f"（{len(cells)}个单元格）")
            return f"涉及{column_label(table, column)}一列（{len(cells)}个单元格）"
    shown = "；".join(cell_label(c, template) for c in cells[:limit])
    more = f" 等{len(cells)}个单元格" if len(cells) > limit else ""
    return f"涉及单元格：{shown}{more}"


# -- evidence ------------------------------------------------------------------------------------

def _date(value: Any) -> str:
    """An ISO date or time as a Chinese date: 2025-01-31 -> 2025年1月31日."""
    if value is None:
        return "（未知）"
    if isinstance(value, (date, datetime)):
        d = value
    else:
        try:
            d = datetime.fromisoformat(str(value))
        except ValueError:
            return str(value)
    return f"{d.year}年{d.month}月{d.day}日"


def _n(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return "空" if value is None else str(value)


def _column_name(table: str, column: str) -> str:
    return _labels().column_label(table, column)


def _other_report(n: dict[str, Any]) -> str:
    if n.get("relation") == "previous_year":
        return f"本单位{n.get('other_year') or ''}年报告"
    return f"{n.get('other_agency') or '其他单位'}{n.get('other_year') or ''}年报告"


def _sum_sentence(n: dict[str, Any]) -> str | None:
    if {"sum", "total"} <= n.keys():
        return f"各分项之和为{_n(n['sum'])}，总计填为{_n(n['total'])}，相差{_n(abs(n['total'] - n['sum']))}。"
    return None


def _balance(n):
    if {"left", "right"} <= n.keys():
        return (f"本年新收加上年结转为{_n(n['left'])}，办理结果总计加结转下年度为{_n(n['right'])}，"
                f"两者应相等，相差{_n(abs(n['left'] - n['right']))}。")
    return None


def _narrative(n):
    if {"text", "table"} <= n.keys():
        quote = f"“{n['quote']}”" if n.get("quote") else ""
        return f"正文写{quote}（{_n(n['text'])}件），表格中为{_n(n['table'])}件。"
    return None


def _placeholder(n):
    if n.get("placeholder"):
        return f"报告中仍有模板占位文字“{n['placeholder']}”。"
    if "chars" in n:
        return f"“存在的主要问题及改进情况”部分只有{_n(n['chars'])}个字。"
    return None


def _period(n):
    if {"start", "end", "year"} <= n.keys():
        return (f"报告写明的统计期限为{_date(n['start'])}至{_date(n['end'])}，"
                f"应为{n['year']}年1月1日至{n['year']}年12月31日。")
    return None


def _carry(n):
    cols = n.get("columns") or {}
    if not cols:
        return None
    year = n.get("previous_year")
    parts = [f"{_column_name('table3', c)}本年“上年结转”{_n(v.get('carried_over'))}件、"
             f"{year}年报告“结转下年度”{_n(v.get('previous_carried_forward'))}件"
             for c, v in list(cols.items())[:MAX_CELLS]]
    more = f"等{len(cols)}列" if len(cols) > MAX_CELLS else ""
    return "；".join(parts) + more + "，两者应相等。"


def _in_force(n):
    if {"in_force", "expected"} <= n.keys():
        return (f"现行有效{_n(n['in_force'])}件；按上年现行有效{_n(n.get('previous_in_force'))}件加本年制发"
                f"{_n(n.get('issued'))}件减本年废止{_n(n.get('repealed'))}件，应为{_n(n['expected'])}件。")
    return None


def _swing(n):
    if {"value", "previous_value"} <= n.keys():
        ratio = f"，为上年的{_n(n['ratio'])}倍" if n.get("ratio") is not None else ""
        return f"{n.get('previous_year') or '上'}年为{_n(n['previous_value'])}，本年为{_n(n['value'])}{ratio}。"
    return None


def _copied(n):
    if "similarity" in n:
        return (f"正文与{_other_report(n)}的文字相似度为{n['similarity']:.0%}"
                f"（达到{n.get('threshold', 0.95):.0%}即视为雷同）。")
    if "cells_compared" in n:
        return f"表二至表四共{_n(n['cells_compared'])}个数据与{_other_report(n)}完全相同。"
    return None


def _deadline(n):
    if "days_late" not in n:
        return None
    if n.get("evidence") == "page_date":
        seen = f"页面标注的发布日期为{_date(n.get('page_date'))}"
    else:
        seen = f"本系统于{_date(n.get('first_seen'))}首次发现该报告"
    return f"法定公布期限为{_date(n.get('due'))}，{seen}，逾期{_n(n['days_late'])}天。"


def _backdated(n):
    if "page_date" not in n:
        return None
    return (f"页面标注的发布日期为{_date(n['page_date'])}，本系统自{_date(n.get('watching_since'))}起每日监测，"
            f"至{_date(n.get('first_seen'))}才首次发现该报告（法定期限{_date(n.get('due'))}）。")


_EXPECTED_BECAUSE = {"roster": "该单位在应公开单位名单中", "earlier_year": "该单位往年公布过年度报告"}


def _missing(n):
    if "days_overdue" not in n:
        return None
    why = _EXPECTED_BECAUSE.get(n.get("expected_because") or "", "")
    if why and n.get("expected_because") == "earlier_year" and n.get("last_year"):
        why = f"该单位公布过{n['last_year']}年度报告"
    return ((why + "，" if why else "") + f"法定公布期限为{_date(n.get('due'))}，截至{_date(n.get('today'))}"
            f"仍未发现，已逾期{_n(n['days_overdue'])}天。")


def _revised(n, template=None):
    changes = n.get("changed_cells") or {}
    when = f"本系统于{_date(n['detected_at'])}发现" if n.get("detected_at") else "本系统发现"
    if not changes:
        return f"{when}报告内容与首次收录的版本不一致。"
    items = list(changes.items())
    parts = []
    for ref, pair in items[:MAX_CELLS]:
        if isinstance(pair, (list, tuple)) and len(pair) == 2:
            parts.append(f"“{cell_label(ref, template)}”由{_n(pair[0])}改为{_n(pair[1])}")
        else:
            parts.append(f"“{cell_label(ref, template)}”")
    more = f"等{len(items)}处" if len(items) > MAX_CELLS else ""
    return f"{when}报告发布后被修改：" + "；".join(parts) + more + "。"


_SENTENCES = {
    "row_total": _sum_sentence, "results_total": _sum_sentence, "appeal_total": _sum_sentence,
    "balance": _balance, "narrative_vs_table": _narrative, "placeholder": _placeholder, "period": _period,
    "carry_continuity": _carry, "in_force_continuity": _in_force, "swing": _swing, "copied": _copied,
    "deadline": _deadline, "backdated": _backdated, "missing": _missing,
}


def evidence_sentence(finding: Finding, template: str | None = "2021") -> str:
    """The finding's numbers as one readable Chinese sentence ('' when it carries none we can word)."""
    n = finding.numbers or {}
    try:
        if finding.rule == "revised":
            return _revised(n, template)
        fn = _SENTENCES.get(finding.rule)
        return (fn(n) if fn else None) or ""
    except (TypeError, ValueError, AttributeError, KeyError):  # numbers of an older shape: say nothing wrong
        return ""


def advice(rule: str) -> str:
    """What the agency should do about a finding of this rule."""
    return ADVICE.get(rule, DEFAULT_ADVICE)


_NUMBER = re.compile(r"\d+(?:\.\d+)?")


def adds_to(evidence: str, message: str) -> bool:
    """Whether the evidence says a number the message does not (else showing both repeats it)."""
    said = {float(x) for x in _NUMBER.findall(message or "")}
    return any(float(x) not in said for x in _NUMBER.findall(evidence or ""))


def describe(finding: Finding, template: str | None = "2021", *, category: str | None = None) -> dict[str, Any]:
    """Everything a page or an email shows about a finding, worded.

    ``evidence_new``: the evidence carries a figure the message does not (a digest that shows the
    message shows the evidence only then).  A message opening with its ``category`` loses that
    opening (the category is shown beside it)."""
    message = humanise(finding.message, template)
    if category and message.startswith(category + "："):
        message = message[len(category) + 1:]
    evidence = evidence_sentence(finding, template)
    return {"message": message, "evidence": evidence, "evidence_new": adds_to(evidence, message),
            "cells": involved_cells(finding, template), "advice": advice(finding.rule)}


def cell_labels(refs: Iterable[str], template: str | None = "2021") -> dict[str, str]:
    return {r: cell_label(r, template) for r in refs}
