"""Helpers of the storage tests: the seeds, their hand-checked values as Reports, free ports."""
from __future__ import annotations

import json
import socket
from datetime import date, datetime, timezone
from pathlib import Path

from storage.models import (
    SCALAR, TABLE2_LAYOUT, TABLE3_COLUMNS, TABLE3_RESULT_ROWS, TABLE4_COLUMNS, Cell, CellKind, Document, Finding,
    Report, Source,
)

FIXTURES = Path(__file__).parents[1] / "fixtures"
SEEDS = FIXTURES / "seeds"
EXPECTED = FIXTURES / "expected"


def expected(seed: str) -> dict:
    """The hand-checked values of a seed (prefix such as '001')."""
    return json.loads(next(EXPECTED.glob(f"{seed}_*.json")).read_text(encoding="utf-8"))


def seed_path(seed: str) -> Path:
    return next(SEEDS.glob(f"{seed}_*.txt"))


def _cell(table: str, row: str, col: str, value) -> Cell:
    if value is None:
        return Cell(table, row, col, None, raw="", kind=CellKind.EMPTY)
    kind = CellKind.ZERO if value == 0 else CellKind.NUMERIC
    return Cell(table, row, col, value, raw=str(value), kind=kind, label=row)


def report_from_expected(exp: dict, *, text: str = "") -> Report:
    """A Report holding a seed's hand-checked values (for storage tests independent of the parser)."""
    cells: list[Cell] = []
    for row, cols in TABLE2_LAYOUT[exp["template"]].items():
        v = exp["table2"][row]
        if cols is None:
            cells.append(_cell("table2", row, SCALAR, v))
        else:
            cells += [_cell("table2", row, c, v[c]) for c in cols]
    for row, values in exp["table3"].items():
        cells += [_cell("table3", row, c, v) for c, v in zip(TABLE3_COLUMNS, values)]
    for group, values in exp["table4"].items():
        cells += [_cell("table4", group, c, values[c]) for c in TABLE4_COLUMNS]
    findings = []
    for inc in exp.get("inconsistencies", []):
        if inc["rule"] == "row_total":
            refs = [f"table3.{inc['row']}.{c}" for c in TABLE3_COLUMNS]
        elif inc["rule"] == "results_total":
            refs = [f"table3.{r}.{inc['column']}" for r in TABLE3_RESULT_ROWS[exp["template"]]]
            refs.append(f"table3.total_processed.{inc['column']}")
        else:
            refs = []
        findings.append(Finding(rule=inc["rule"], severity="error", message=inc.get("detail", ""), cells=refs,
                                agency=exp["agency"], year=exp["year"], subject=inc.get("row") or inc.get("column") or ""))
    return Report(source=Source(format="text"), agency=exp["agency"], year=exp["year"], title=exp["title"],
                  published=date.fromisoformat(exp["published"]) if exp["published"] else None,
                  template=exp["template"], cells=cells, sections={"overview": text[:200]}, text=text,
                  findings=findings)


def doc(url: str, content: bytes, **kw) -> Document:
    kw.setdefault("fetched_at", datetime(2025, 2, 1, 8, 0, tzinfo=timezone.utc))
    return Document(url=url, content=content, **kw)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


_DISTRICTS = "东西南北中上下前后左右新老"


def make_corpus(directory: Path, n: int) -> list[Path]:
    """n distinct report files made from the seeds: each seed's agency renamed (a real-looking
    district name per file), so every file is its own report of its own agency."""
    directory.mkdir(parents=True, exist_ok=True)
    seeds = sorted(SEEDS.glob("*.txt"))
    agencies = [json.loads(next(EXPECTED.glob(f"{p.name[:3]}_*.json")).read_text(encoding="utf-8"))["agency"]
                for p in seeds]
    out = []
    for i in range(n):
        k = i % len(seeds)
        text = seeds[k].read_text(encoding="utf-8")
        region = _DISTRICTS[i % len(_DISTRICTS)] + _DISTRICTS[(i // len(_DISTRICTS)) % len(_DISTRICTS)] + \
            _DISTRICTS[(i // len(_DISTRICTS) ** 2) % len(_DISTRICTS)] + "区"
        body = agencies[k].split("区", 1)[-1].split("县", 1)[-1]
        text = text.replace(agencies[k], region + body)
        p = directory / f"r{i:05d}.txt"
        p.write_text(text, encoding="utf-8")
        out.append(p)
    return out


def stage(store, items, *, workers: int = 1, **settings):
    """Store documents or paths (the crawl/ingest stage), then parse what is pending and run the
    within-report checks on it (the parse and check stages), as `nianbao ingest` does.  Returns
    {url: SimpleNamespace(status, report_id, version_id, skipped, ...)} and the parse summary."""
    from types import SimpleNamespace

    from crawler.ingest import ingest_document, ingest_paths
    from crawler.parse_stage import ParseSettings, parse_pending
    from monitor.checks.runner import check_reports

    if all(isinstance(i, Document) for i in items):
        results = [ingest_document(store, d) for d in items]
    else:
        results, errors = ingest_paths(store, items)
        assert errors == []
    summary = parse_pending(store, ParseSettings(workers=workers, **settings))
    check_reports(store, summary.report_ids)
    out = {}
    for r in results:
        v = store.conn.execute("SELECT v.parse_status, v.parse_failure, v.parse_error, "
                               "COALESCE(d.report_url, d.url) AS report_url FROM document_versions v "
                               "JOIN documents d ON d.id = v.document_id WHERE v.id = ?",
                               (r.version_id,)).fetchone()
        out[r.url] = SimpleNamespace(**vars(r), status=v["parse_status"], failure=v["parse_failure"],
                                     parse_error=v["parse_error"], report_id=store.report_id(v["report_url"]))
    return out, summary


SEED_STEMS = ("000", "001", "002", "003", "004")


def seed_page(i: int) -> Document:
    """The i-th page a crawl stores: a seed's text, made distinct by a line naming its number."""
    data = seed_path(SEED_STEMS[i % len(SEED_STEMS)]).read_bytes() + f"\n（第{i}份）".encode()
    return Document(url=f"http://127.0.0.1:9/nb/{i}.txt", content=data, content_type="text/plain", site="dx")
