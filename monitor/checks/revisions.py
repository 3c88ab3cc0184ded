"""Rule revised (relation 12): a report's content changed after we first stored it.

Storage writes a ``revised`` event when a report URL is fetched again with other bytes.  A silent
edit after publication is what audits call 随意更改 (domain.md §4 C9): the public saw one version,
the file now says another.  Each distinct new version is its own finding (the new content hash is
the finding's subject), so a second edit alerts again while re-reading the same edit does not.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from storage.models import Finding


@dataclass
class Revision:
    """One ``revised`` event, with the report it belongs to."""

    agency: str | None
    year: int | None
    url: str
    at: datetime | None  # when we noticed the change
    new_sha256: str | None
    old_sha256: str | None = None
    report_id: int | None = None
    site: str | None = None
    #: Cell.ref of every changed cell -> [before, after] (storage's form), or just the refs
    changed_cells: dict[str, list] | list[str] = field(default_factory=dict)


def revised(revisions: list[Revision]) -> list[Finding]:
    out: list[Finding] = []
    for r in revisions:
        when = f"于{r.at:%Y年%m月%d日}" if r.at else ""
        detail = ""
        changes = r.changed_cells if isinstance(r.changed_cells, dict) else dict.fromkeys(r.changed_cells)
        if changes:
            shown = sorted(changes)[:5]
            detail = "，变动数据：" + "；".join(
                f"{ref} {_v(changes[ref][0])}→{_v(changes[ref][1])}" if changes[ref] else ref for ref in shown)
            if len(changes) > len(shown):
                detail += f" 等{len(changes)}处"
        out.append(Finding(
            rule="revised", severity="warning", agency=r.agency, year=r.year, site=r.site,
            report_id=r.report_id, subject=f"sha256:{r.new_sha256 or ''}",
            cells=sorted(changes),
            message=(f"{r.year or ''}年度报告发布后内容被修改（本系统{when}发现与首次收录版本不一致{detail}），"
                     f"请核实修改原因并在报告中说明。"),
            numbers={"url": r.url, "detected_at": r.at.isoformat(timespec="seconds") if r.at else None,
                     "old_sha256": r.old_sha256, "new_sha256": r.new_sha256,
                     "changed_cells": {k: v for k, v in sorted(changes.items())[:20]}},
        ))
    return out


def _v(value) -> str:
    return "空" if value is None else str(value)
