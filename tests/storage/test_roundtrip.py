"""Whatever the parser produces comes back from the database as it went in."""
from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crawler.cli.store import datasette_app
from storage.db import Store
from storage.models import TABLE2_LAYOUT, Cell, CellKind, ParseWarning, Report

from storage_helpers import doc, expected, report_from_expected

_VALUES = {
    CellKind.NUMERIC: st.one_of(st.integers(1, 10**9), st.floats(0.01, 1e7, allow_nan=False).map(lambda f: round(f, 2)),
                                st.just(12.0), st.just("3.5万元")),
    CellKind.ZERO: st.sampled_from([0, 0.0]),
    CellKind.EMPTY: st.none(),
    CellKind.NA: st.none(),
    CellKind.TEXT: st.none(),
}
_KEYS = [("table2", row, col) for row, cols in TABLE2_LAYOUT["2019"].items() for col in cols]


@st.composite
def cells(draw):
    keys = draw(st.lists(st.sampled_from(_KEYS), min_size=1, max_size=len(_KEYS), unique=True))
    out = []
    for t, r, c in keys:
        kind = draw(st.sampled_from(list(CellKind)))
        raw = draw(st.text(min_size=0, max_size=8))
        out.append(Cell(t, r, c, draw(_VALUES[kind]), raw=raw, kind=kind, label=draw(st.text(max_size=6))))
    return out


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(cells=cells(), text=st.text(max_size=200), warnings=st.lists(st.text(max_size=10), max_size=3))
def test_cells_and_text_roundtrip(cells, text, warnings):
    with tempfile.TemporaryDirectory() as tmp, Store(Path(tmp) / "r.db") as store:
        report = Report(agency="大兴区财政局", year=2019, template="2019", cells=cells, text=text,
                        warnings=[ParseWarning("blank_cell", w) for w in warnings])
        v = store.save_document(doc("http://x.gov.cn/r", b"r"))
        rid = store.save_report(report, version_id=v.version_id, report_url="http://x.gov.cn/r")
        back = store.load_report(rid)
        got = {c.ref: (c.value, type(c.value), c.raw, c.kind, c.label) for c in back.cells}
        want = {c.ref: (c.value, type(c.value), c.raw, c.kind, c.label) for c in cells}
        assert got == want
        assert back.text == text and [w.message for w in back.warnings] == warnings
        assert back.table2 == report.table2


def test_served_database_sees_new_writes(store):
    """Datasette serves the file read-only but not immutable: what the nightly run commits shows."""
    v = store.save_document(doc("http://x.gov.cn/a", b"a"))
    store.save_report(report_from_expected(expected("000")), version_id=v.version_id, report_url="http://x.gov.cn/a")

    async def count(ds):
        r = await ds.client.get(f"/{store.path.stem}.json?sql=select+count(*)+as+n+from+reports&_shape=array")
        return r.json()[0]["n"]

    async def go():
        ds = datasette_app(store.path)
        await ds.invoke_startup()
        before = await count(ds)
        w = store.save_document(doc("http://x.gov.cn/b", b"b"))
        store.save_report(report_from_expected(expected("002")), version_id=w.version_id,
                          report_url="http://x.gov.cn/b")
        return before, await count(ds)

    assert asyncio.run(go()) == (1, 2)
