"""Build canonical Reports for the monitor's tests from the hand-checked seed values."""
from __future__ import annotations

import copy
import json
from datetime import date, datetime
from pathlib import Path

from storage.models import (SCALAR, TABLE2_LAYOUT, TABLE3_COLUMNS, TABLE4_COLUMNS, Cell, CellKind,
                            Report, Source)

EXPECTED = Path(__file__).resolve().parents[1] / "fixtures" / "expected"


def expected(prefix: str) -> dict:
    """The hand-checked values of a seed, by its number ("000" ... "004")."""
    (path,) = EXPECTED.glob(f"{prefix}_*.json")
    return json.loads(path.read_text(encoding="utf-8"))


def _cell(table: str, row: str, col: str, value) -> Cell:
    if value is None:
        return Cell(table, row, col, None, raw="", kind=CellKind.EMPTY)
    kind = CellKind.ZERO if value == 0 else CellKind.NUMERIC
    return Cell(table, row, col, value, raw=str(value), kind=kind)


def report_from(data: dict, *, agency: str | None = None, year: int | None = None,
                published: str | None = "keep", sections: dict | None = None) -> Report:
    """A Report carrying the tables of ``data`` (an expected file or a modified copy)."""
    data = copy.deepcopy(data)
    template = data.get("template", "2021")
    cells: list[Cell] = []
    for row, cols in TABLE2_LAYOUT[template].items():
        v = data["table2"].get(row)
        if cols is None:
            cells.append(_cell("table2", row, SCALAR, v))
        else:
            for col in cols:
                cells.append(_cell("table2", row, col, (v or {}).get(col)))
    for row, values in data["table3"].items():
        for col, v in zip(TABLE3_COLUMNS, values):
            cells.append(_cell("table3", row, col, v))
    for group, cols in data["table4"].items():
        for col in TABLE4_COLUMNS:
            cells.append(_cell("table4", group, col, cols.get(col)))
    pub = data.get("published") if published == "keep" else published
    agency = agency or data["agency"]
    year = year or data["year"]
    secs = sections if sections is not None else {
        "overview": f"{year}年，{agency}认真贯彻落实政府信息公开条例，持续推进政务公开工作。",
        "proactive": "主动公开情况见下表。",
        "requests": "收到和处理政府信息公开申请情况见下表。",
        "appeals": "政府信息公开行政复议、行政诉讼情况见下表。",
        "problems": "存在的问题：公开内容不够全面，政策解读形式较为单一。下一步将加强培训，丰富解读形式。",
        "other": "本单位未收取信息处理费。",
    }
    return Report(source=Source(url=f"http://example.invalid/{agency}/{year}.html", format="html"),
                  agency=agency, year=year, template=template,
                  title=f"{agency}{year}年政府信息公开工作年度报告",
                  published=date.fromisoformat(pub) if pub else None, cells=cells,
                  sections=secs, text="\n".join(secs.values()))


def previous_year_of(data: dict) -> dict:
    """A consistent previous year for ``data``: its carried_forward is this year's carried_over and
    its stock of documents leads to this year's in_force; other numbers are the same magnitude."""
    prev = copy.deepcopy(data)
    prev["year"] = data["year"] - 1
    if prev.get("published"):
        y, rest = prev["published"].split("-", 1)
        prev["published"] = f"{int(y) - 1}-{rest}"
    prev["table3"]["carried_forward"] = list(data["table3"]["carried_over"])
    for row in ("regulations", "normative_documents"):
        t = data["table2"][row]
        if None not in (t["in_force"], t["issued"], t["repealed"]):
            prev["table2"][row] = {"issued": t["issued"], "repealed": t["repealed"],
                                   "in_force": t["in_force"] - t["issued"] + t["repealed"]}
    # one more request granted, in every place that counts it, so that the year is not a copy
    # and every within-report relation still holds
    for row in ("granted", "total_processed"):
        for i in (0, 6):
            if prev["table3"][row][i] is not None:
                prev["table3"][row][i] += 1
    prev["table3"]["carried_over"] = [0] * 7
    return balanced(prev)


def balanced(data: dict) -> dict:
    """Set Table 三 ``new`` so that new + carried_over = total_processed + carried_forward holds."""
    t3 = data["table3"]
    t3["new"] = [p + f - o for p, f, o in zip(t3["total_processed"], t3["carried_forward"], t3["carried_over"])]
    return data


def store_report(store, report: Report, *, site: str | None = "demo", url: str | None = None,
                 seen: datetime | None = None, page_date: str | None = None, content: bytes | None = None) -> int:
    """Save ``report`` the way the crawl does: its document first, then the parsed report."""
    from datetime import timezone

    from storage.models import Document

    url = url or f"http://127.0.0.1/{site}/{report.agency}/{report.year}.html"
    seen = seen or datetime.now(timezone.utc)
    body = content if content is not None else json.dumps(report.to_json(), ensure_ascii=False).encode()
    saved = store.save_document(Document(url=url, content=body, content_type="text/html", fetched_at=seen,
                                         site=site, page_date=page_date))
    return store.save_report(report, version_id=saved.version_id, report_url=url, site=site, first_seen=seen)


# -- the alert tests' setting: a config pointing at loopback servers, and reports that alert ------

def alert_settings(tmp_path: Path, smtp_port: int = 9, *, recipients=("office@example.org",), **alerts) -> dict:
    """A raw config (as config.yaml holds it) whose alerts go to SMTP on 127.0.0.1:``smtp_port``
    (port 9 is discard: nothing listens); ``alerts`` adds or overrides keys of its alerts block."""
    return {"database": str(tmp_path / "nianbao.db"),
            "sites": [{"name": "demo", "start_url": "http://127.0.0.1:9/"}],
            "alerts": {"recipients": list(recipients),
                       "smtp": {"host": "127.0.0.1", "port": smtp_port, "from": "nianbao@example.org", "timeout": 5},
                       **alerts}}


def seed_alerting_reports(store) -> None:
    """Two reports of one agency whose carry-over breaks (an error) and an agency missing in 2024."""
    data = expected("004")
    prev = previous_year_of(data)
    prev["table3"]["carried_forward"][0] += 2
    prev["table3"]["carried_forward"][6] += 2
    store_report(store, report_from(balanced(prev)), seen=datetime(2024, 1, 20))
    store_report(store, report_from(data), seen=datetime(2025, 1, 20))
    store_report(store, report_from(previous_year_of(expected("002"))), seen=datetime(2024, 1, 20))
