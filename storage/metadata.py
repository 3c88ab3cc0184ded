"""Datasette metadata: Chinese titles and descriptions, facets and canned queries.

The reading room's labels are written for a 政务公开办 officer; column names stay the English keys
of the canonical model (so that SQL and the --json output agree), and their descriptions say in
Chinese what they hold.
"""
from __future__ import annotations

from typing import Any

from storage.schema import table2_wide_column
from vocabulary import template as V

REPORT_PAGE = "/-/nianbao/report/"

_REPORT_COLUMNS = {
    "report_url": "报告页面地址（报告的身份：页面与附件同属一份报告）",
    "agency_id": "机关（规范化后的机关编号）",
    "agency": "机关全称（页面所印简称按发布机构、来源或网站所属地区补全，如“区教育局”→“武汉市武昌区教育局”）",
    "agency_printed": "报告或页面所印的机关名称（原样，作为证据）",
    "site": "来源网站（配置中的站点名）",
    "region": "地区",
    "year": "报告年度",
    "template": "格式版本：2021（国办公开办函〔2021〕30号）、2019（〔2019〕60号）或 unknown",
    "title": "报告标题（点击打开报告页）",
    "published": "报告落款或页面所载发布日期",
    "first_seen": "本系统首次收录时间（UTC）",
    "status": "解析状态：parsed 完整、partial 部分、needs_ocr 需OCR、failed 失败……",
    "error": "解析失败的原因",
    "warnings_count": "解析警告数（空格、无法识别的数字等）",
    "cells_count": "表格单元格数",
    "assessable_cells": "可核验的单元格数（数字或0）",
    "version_id": "作为报告内容的文档版本",
    "document_id": "作为报告内容的文档",
    "source_url": "原文地址（点击查看原文）",
    "source_sha256": "原文件的 SHA-256",
    "format": "原文件格式（html、pdf、docx、doc、wps、text）",
    "period_start": "报告所述统计期起",
    "period_end": "报告所述统计期止",
    "parser_version": "解析本报告的解析程序版本（程序改进后会重新解析）",
    "checks_due": "1 表示解析后尚未检查",
}

_FINDING_COLUMNS = {
    "fingerprint": "问题指纹：同一问题再次发现时不变",
    "rule": "规则：row_total 行合计、results_total 办理结果合计、balance 勾稽关系、appeal_total 复议诉讼合计、"
            "narrative_vs_table 正文与表格不符、placeholder 模板占位符、period 统计期、carry_continuity 结转衔接、"
            "in_force_continuity 现行有效件数衔接、deadline 逾期发布、missing 未发布、revised 发布后修改、"
            "copied 照抄、swing 数字大幅波动",
    "severity": "严重程度：error 错误、warning 警告、info 提示",
    "message": "问题说明",
    "cells": "涉及的单元格（表.行.列）",
    "suspect": "最可能出错的单元格（多条规则交叉处）",
    "numbers": "证据数字",
    "subject": "问题对象（行、列或版本）",
    "agency": "机关",
    "agency_id": "机关编号",
    "year": "报告年度",
    "report_id": "报告（点击打开报告页）",
    "site": "来源网站",
    "first_seen": "首次发现时间",
    "last_seen": "最近一次发现时间",
    "resolved_at": "问题消失的时间（空表示仍存在）",
    "alerted": "是否已发出提醒邮件",
    "resolved_reason": "问题消失的原因：parser corrected 表示解析程序改进后重新解析所致（并非机关修改）；空表示不再出现",
}

_CELL_COLUMNS = {
    "report_id": "报告（点击打开报告页）",
    "table_name": "表：table2 主动公开、table3 依申请公开、table4 复议诉讼",
    "row": "行（规范键名）",
    "column": "列（规范键名）",
    "value": "数值（空白、“/”“无”等不可核验的为空，不当作0）",
    "raw": "报告中印出的原文",
    "kind": "类型：NUMERIC 数字、ZERO 零、EMPTY 空白、NA “/”“—”“无”、TEXT 文字",
    "label": "行的中文标签",
}

_FAIL_RULES = "('balance', 'row_total', 'results_total')"

CANNED_QUERIES: dict[str, dict[str, Any]] = {
    "balance_failures": {
        "title": "勾稽关系不符的报告",
        "description": "表三行合计、办理结果合计或“第一项加第二项之和等于第三项加第四项之和”不成立、且问题仍存在的报告。",
        "sql": f"""select r.id as report_id, r.agency, r.year, r.region, r.site,
  group_concat(distinct f.rule) as rules, count(*) as findings, r.title, r.source_url
from findings f join reports r on r.id = f.report_id
where f.rule in {_FAIL_RULES} and f.resolved_at is null
group by r.id
order by r.year desc, r.agency""",
    },
    "missing_or_late": {
        "title": "未发布或逾期发布的报告",
        "description": "规则 missing（上年发布、本年截止后仍未发布）与 deadline（发布晚于1月31日或政府本级3月31日）。",
        "sql": """select f.agency, f.year, f.rule, f.severity, f.message, f.site, f.first_seen, f.report_id
from findings f
where f.rule in ('missing', 'deadline') and f.resolved_at is null
order by f.year desc, f.rule, f.agency""",
    },
    "year_over_year_breaks": {
        "title": "年度衔接断裂",
        "description": "本年“上年结转”不等于上年“结转下年度”（carry_continuity），或现行有效件数前后不衔接（in_force_continuity）。",
        "sql": """select f.agency, f.year, f.rule, f.severity, f.message, f.cells, f.numbers, f.report_id, f.site
from findings f
where f.rule in ('carry_continuity', 'in_force_continuity') and f.resolved_at is null
order by f.agency, f.year""",
    },
    "agency_history": {
        "title": "某机关的历年报告",
        "description": "输入机关名称（全称、简称或其中一部分），列出其历年报告、收到申请数和仍存在的问题数。",
        "sql": """select r.year, r.id as report_id, r.agency, r.title, r.published, r.first_seen, r.status,
  (select value from cells c where c.report_id = r.id and c.table_name = 'table3'
     and c.row = 'new' and c."column" = 'total') as new_requests,
  (select value from cells c where c.report_id = r.id and c.table_name = 'table3'
     and c.row = 'total_processed' and c."column" = 'total') as total_processed,
  (select count(*) from findings f where f.report_id = r.id and f.resolved_at is null) as open_findings,
  r.source_url
from reports r left join agencies a on a.id = r.agency_id
where r.agency like '%' || :agency || '%'
   or a.id in (select agency_id from agency_aliases where alias like '%' || :agency || '%')
   or a.norm = agency_norm(:agency)
order by r.agency_id, r.year""",
    },
    "unreadable_documents": {
        "title": "无法解析的文档",
        "description": "已保存但未能解析出报告的文档版本：需要OCR的扫描件、加密、损坏、格式不支持、超出限制，或解析进程超时、内存超限、崩溃（parse_failed，原因见 parse_failure），"
                       "解析程序版本更新前不再重试。原文件仍保存在数据库中。",
        "sql": """select d.url, v.parse_status, v.parse_failure, v.parse_error, v.parser_version, v.format,
  v.content_type, v.size, v.first_seen, d.site, d.link_title, v.id as version_id
from document_versions v join documents d on d.id = v.document_id
where v.parse_status not in ('parsed', 'partial', 'not_a_report', 'pending')
order by v.first_seen desc""",
    },
    "search_text": {
        "title": "全文查找（任意长度）",
        "description": "在报告全文中查找一段文字，一两个字也可以（逐篇比对；三字及以上也可用“报告全文”表的检索框）。",
        "sql": """select t.report_id, t.agency, t.year, t.title,
  substr(t.text, max(1, instr(t.text, :q) - 20), 60) as context
from report_text t
where :q != '' and instr(t.text, :q) > 0
order by t.year desc, t.agency
limit 500""",
    },
    "findings_per_rule_per_year": {
        "title": "各规则各年度问题数",
        "description": "仍存在的问题，按规则与年度计数。",
        "sql": """select year, rule, severity, count(*) as findings from findings
where resolved_at is null group by year, rule, severity order by year desc, findings desc""",
    },
}


def wide_column_descriptions(labels: list[dict[str, str]]) -> dict[str, dict[str, str]]:
    """Column descriptions of the wide views from label rows (as in the `labels` table)."""
    out: dict[str, dict[str, str]] = {"table2_wide": {}, "table3_wide": {}, "table4_wide": {}}
    for lab in labels:
        t, row, col = lab["table_name"], lab["row"], lab["column"]
        if t == "table2":
            out["table2_wide"].setdefault(table2_wide_column(row, col),
                                          f"{lab['row_label']} {lab['column_label']}".strip())
        elif t in ("table3", "table4"):
            out[f"{t}_wide"].setdefault(col, lab["column_label"])
    return out


def metadata(database: str, labels: list[dict[str, str]] | None = None) -> dict[str, Any]:
    """Datasette metadata for the database named ``database`` (the file's stem).

    ``labels`` (rows as in the `labels` table; by default the vocabulary's) describe the wide views'
    columns in Chinese.
    """
    meta = _metadata(database)
    tables = meta["databases"][database]["tables"]
    if labels is None:
        from vocabulary.template import all_labels
        labels = all_labels()
    for view, cols in wide_column_descriptions(labels).items():
        tables[view].setdefault("columns", {}).update(cols)
    return meta


def _metadata(database: str) -> dict[str, Any]:
    return {
        "title": "政府信息公开工作年度报告 监测",
        "description_html": (
            "各机关《政府信息公开工作年度报告》的原文、解析后的三张表与自动核查发现的问题。"
            f"<a href=\"/\">公开情况总表</a> · <a href=\"/-/nianbao\">概览与图表</a> · "
            f"<a href=\"/{database}/report_list\">报告一览</a>"),
        "source": "nianbao",
        "databases": {
            database: {
                "title": "年报数据库",
                "queries": CANNED_QUERIES,
                "tables": {
                    "report_list": {
                        "title": "报告一览",
                        "description": "每份报告一行：机关、年度、地区、收到申请数、仍存在的问题数。点击“报告”打开报告页。",
                        "columns": {"report_id": "报告（点击打开报告页）", "new_requests": "本年新收政府信息公开申请数（总计）",
                                    "open_findings": "仍存在的问题数", "source_url": "原文地址"},
                        "facets": ["year", "region", "agency", "status"], "sort_desc": "year",
                    },
                    "reports": {
                        "title": "报告", "description": "每份年度报告一行（以报告页面地址为准），点击标题打开报告页。",
                        "columns": _REPORT_COLUMNS, "label_column": "title",
                        "facets": ["year", "region", "agency", "status", "template"],
                        "sort_desc": "year",
                    },
                    "findings": {
                        "title": "发现的问题", "description": "自动核查发现的问题（resolved_at 为空表示仍存在）。",
                        "columns": _FINDING_COLUMNS, "facets": ["rule", "severity", "year", "agency", "site"],
                        "sort_desc": "last_seen",
                    },
                    "cells": {"title": "表格单元格", "description": "三张表的每个单元格（长表）。",
                              "columns": _CELL_COLUMNS, "facets": ["table_name", "kind"]},
                    "table2_wide": {"title": f"{V.TABLE_NAMES['table2']} {V.SECTIONS['proactive'][0]}（宽表）",
                                    "description": "每份报告一行；列名为 行_列。", "facets": ["year", "region"]},
                    "table3_wide": {"title": f"{V.TABLE_NAMES['table3']} {V.SECTIONS['requests'][0]}（宽表）",
                                    "description": "每份报告25行×7列（2019版23行）。", "facets": ["year", "row", "region"]},
                    "table4_wide": {"title": f"{V.TABLE_NAMES['table4']} {V.SECTIONS['appeals'][0]}（宽表）",
                                    "description": "每份报告3行（行政复议、直接起诉、复议后起诉）×5列。",
                                    "facets": ["year", "group"]},
                    "agencies": {"title": "机关", "label_column": "name",
                                 "description": "规范化后的机关；norm 为去掉地区前缀、展开简称后的名称。",
                                 "columns": {"site": "来源网站", "name": "首次见到的名称", "norm": "规范化名称",
                                             "region": "地区前缀", "kind": "类型：department 部门、town 乡镇街道、"
                                                                        "government 政府本级（截止3月31日）"},
                                 "facets": ["kind", "site", "region"]},
                    "agency_aliases": {"title": "机关别名", "description": "同一机关见过的各种写法。"},
                    "documents": {"title": "文档", "description": "抓取或导入的每个地址一行；历次内容见文档版本。",
                                  "columns": {"url": "地址", "report_url": "所属报告页面（附件）",
                                              "link_title": "栏目列表中的标题", "listing_date": "栏目列表中的日期",
                                              "page_date": "页面所载发布日期", "first_seen": "首次收录",
                                              "last_seen": "最近一次见到", "latest_version_id": "当前版本"},
                                  "facets": ["site"]},
                    "document_versions": {"title": "文档版本",
                                          "description": "同一地址的每个不同内容（按 SHA-256），及解析状态（pending 待解析、parse_failed "
                                                         "解析进程失败，原因见 parse_failure）。",
                                          "facets": ["parse_status", "parse_failure", "format", "content_type"]},
                    "blobs": {"title": "原文件", "description": "按 SHA-256 存放的原始字节，相同内容只存一份。"},
                    "fetches": {"title": "抓取记录", "description": "每次抓取：HTTP 状态、结果（ok、not_modified、waf_challenge……）。",
                                "facets": ["fetch_status", "http_status", "site"]},
                    "events": {"title": "事件", "description": "new_document 新文档、revised 同一地址内容变化、reparsed 新版解析程序读出不同数字、"
                                                             "report_revised 报告数字变化。", "facets": ["kind"]},
                    "runs": {"title": "运行记录", "description": "每次抓取、导入、核查、发信的开始结束与统计。",
                             "facets": ["kind", "status"]},
                    "outbox": {"title": "提醒邮件发件箱", "description": "待发、已发、失败的提醒邮件。",
                               "facets": ["status", "site"]},
                    "warnings": {"title": "解析警告", "facets": ["code"]},
                    "labels": {"title": "单元格中文标签", "description": "表.行.列 与其中文标签。",
                               "facets": ["template", "table_name"]},
                    "report_text": {"title": "报告全文", "description": "全文检索（三字及以上；一两个字请用 LIKE）。",
                                    "fts_table": "report_text_fts", "fts_pk": "report_id"},
                    "sites": {"title": "站点"},
                    "triage": {"title": "问题处理记录",
                               "description": "办公室对问题的每次处理：confirmed 确认、dismissed 误报、fixed 已整改、"
                                              "reopened 重新打开（单元格变化时由 nianbao 自动重新打开）。",
                               "columns": {"fingerprint": "问题指纹", "finding_id": "问题", "state": "处理结果",
                                           "note": "说明", "actor": "处理人", "at": "处理时间（UTC）",
                                           "basis": "处理时问题所涉单元格（或报告）内容的摘要：变化则重新打开"},
                               "facets": ["state", "actor"], "sort_desc": "id"},
                    "finding_triage": {"title": "问题的处理状态",
                                       "description": "每个问题的最新处理状态（open 待处理）。",
                                       "facets": ["triage_state", "rule", "year"]},
                    "schema_migrations": {"title": "数据库版本", "hidden": True},
                },
            }
        },
    }
