"""The canonical keys of the national format: sections, table rows and columns, per template.

The ground floor of nianbao: every package (spiders, parsing, storage, monitor, the demo) names a
cell by these keys, and vocabulary.template gives each key its printed Chinese labels.  Imports
nothing of ours.  Source: ../shared/spec/report-model.md (国办公开办函〔2021〕30号 and the 2019 format).
"""
from __future__ import annotations

SECTION_KEYS = ("overview", "proactive", "requests", "appeals", "problems", "other")

TABLE3_COLUMNS = (
    "natural_person",
    "commercial_enterprise",
    "research_institution",
    "social_welfare_org",
    "legal_service_org",
    "other_org",
    "total",
)
TABLE3_APPLICANT_COLUMNS = TABLE3_COLUMNS[:-1]

_WITHHELD = (
    "withheld_state_secret",
    "withheld_prohibited_by_law",
    "withheld_three_safety",
    "withheld_third_party",
    "withheld_internal_affairs",
    "withheld_process_info",
    "withheld_enforcement_file",
    "withheld_query_matter",
)
_UNAVAILABLE = ("unavailable_not_held", "unavailable_needs_creation", "unavailable_unclear")
_REJECTED = (
    "rejected_petition",
    "rejected_repeat",
    "rejected_publication",
    "rejected_mass_repeat",
    "rejected_confirmation",
)
#: The result leaves that (七)总计 sums, per template.
TABLE3_RESULT_ROWS = {
    "2021": ("granted", "partially_granted", *_WITHHELD, *_UNAVAILABLE, *_REJECTED,
             "other_no_correction", "other_no_fee", "other_other"),
    "2019": ("granted", "partially_granted", *_WITHHELD, *_UNAVAILABLE, *_REJECTED,
             "other_handling"),
}
#: All Table 三 rows in printed order, per template ("unknown" reports use the 2021 rows).
TABLE3_ROWS = {
    t: ("new", "carried_over", *rows, "total_processed", "carried_forward")
    for t, rows in TABLE3_RESULT_ROWS.items()
}
TABLE3_ROWS["unknown"] = TABLE3_ROWS["2021"]
TABLE3_RESULT_ROWS["unknown"] = TABLE3_RESULT_ROWS["2021"]

TABLE4_GROUPS = ("review", "litigation_direct", "litigation_after_review")
TABLE4_COLUMNS = ("upheld", "corrected", "other", "pending", "total")

#: Table 二 layout per template: row -> tuple of columns, or None for a single value.
TABLE2_LAYOUT: dict[str, dict[str, tuple[str, ...] | None]] = {
    "2021": {
        "regulations": ("issued", "repealed", "in_force"),
        "normative_documents": ("issued", "repealed", "in_force"),
        "licensing": None,
        "punishment": None,
        "coercion": None,
        "fees_wan_yuan": None,
    },
    "2019": {
        "regulations": ("made", "published", "public_total"),
        "normative_documents": ("made", "published", "public_total"),
        "licensing": ("previous_items", "change", "decisions"),
        "other_external_services": ("previous_items", "change", "decisions"),
        "punishment": ("previous_items", "change", "decisions"),
        "coercion": ("previous_items", "change", "decisions"),
        "fees": ("previous_items", "change"),
        "procurement": ("projects", "amount"),
    },
}
TABLE2_LAYOUT["unknown"] = TABLE2_LAYOUT["2021"]
#: The column name used for single-valued Table 二 rows.
SCALAR = "value"

TEMPLATES = ("2021", "2019", "unknown")
