"""Rule ids, their severities and the categories a 政务公开办 officer recognises.

The categories follow the error types supervising offices use in 通报 and 考核
(../shared/research/domain.md §5), so that an alert reads like the audit it anticipates.
"""
from __future__ import annotations

#: rule id -> Chinese category (domain.md §5 wording)
CATEGORIES: dict[str, str] = {
    # within one report (monitor/checks/report.py)
    "row_total": "合计/总计不等于分项之和",
    "results_total": "合计/总计不等于分项之和",
    "balance": "勾稽关系错误",
    "appeal_total": "合计/总计不等于分项之和",
    "narrative_vs_table": "正文数据与表格不一致",
    "placeholder": "内容不全、缺要素",
    "period": "统计期限/年份错误",
    "tables_missing": "内容不全、缺要素",
    # across years, deadlines, missing (this package)
    "carry_continuity": "上年结转与上年报告结转下年度不一致",
    "in_force_continuity": "现行有效件数与上年不衔接",
    "copied": "与往年或其他单位雷同",
    "swing": "数据较上年大幅波动",
    "deadline": "未按时公布",
    "backdated": "随意更改/倒签发布时间",
    "missing": "未公布年度报告",
    "revised": "发布后内容被修改",
}

SEVERITY_LABELS = {"error": "错误", "warning": "警告", "info": "提示"}
SEVERITY_ORDER = {"error": 0, "warning": 1, "info": 2}

#: rules of this package (the cross-report families); check_report's are monitor.checks.report.RULES
CROSS_YEAR_RULES = ("carry_continuity", "in_force_continuity", "copied", "swing")
DEADLINE_RULES = ("deadline", "backdated", "missing")
REVISION_RULES = ("revised",)


def category(rule: str) -> str:
    return CATEGORIES.get(rule, rule)


def worst_severity(severities) -> str | None:
    ranked = sorted(severities, key=lambda s: SEVERITY_ORDER.get(s, 9))
    return ranked[0] if ranked else None
