"""Agency names: the same agency written differently is one row; different ones stay apart."""
from __future__ import annotations

import pytest

from storage.agencies import normalise


@pytest.mark.parametrize("name, norm, region, kind", [
    ("北京市大兴区卫生健康委员会", "卫生健康委员会", "大兴区", "department"),
    ("大兴区卫生健康委", "卫生健康委员会", "大兴区", "department"),
    ("区卫健委", "卫生健康委员会", "", "department"),
    ("市中区卫生健康局", "卫生健康局", "市中区", "department"),
    ("北京市城市管理委员会", "城市管理委员会", "北京市", "department"),
    ("浙江省温州市瓯海区市场监管局", "市场监督管理局", "瓯海区", "department"),
    ("杭州市西湖区教育局", "教育局", "西湖区", "department"),
    ("大兴区西红门镇人民政府", "西红门镇人民政府", "大兴区", "town"),
    ("北京市大兴区清源街道办事处", "清源街道办事处", "大兴区", "town"),
    ("北京市大兴区人民政府", "人民政府", "大兴区", "government"),
    ("大兴区人民政府办公室", "人民政府办公室", "大兴区", "department"),
    ("区政府办", "人民政府办公室", "", "department"),
    ("区教委", "教育委员会", "", "department"),
    ("北京市民族宗教事务委员会", "民族宗教事务委员会", "北京市", "department"),
    ("大兴区 卫生健康委", "卫生健康委员会", "大兴区", "department"),
])
def test_normalise(name, norm, region, kind):
    n = normalise(name)
    assert (n.norm, n.region, n.kind) == (norm, region, kind)


def test_store_ties_names_and_keeps_aliases(store):
    a = store.agency_id("北京市大兴区卫生健康委员会", site="daxing")
    assert store.agency_id("大兴区卫生健康委", site="daxing") == a
    assert store.agency_id("区卫生健康委", site="daxing") == a
    assert store.agency_id("区卫健委", site="daxing") == a
    # another portal's (or another district's) commission is another agency
    assert store.agency_id("大兴区卫生健康委", site="haidian") != a
    assert store.agency_id("海淀区卫生健康委员会", site="daxing") != a
    row = next(r for r in store.agencies(site="daxing") if r["id"] == a)
    assert set(row["aliases"]) == {"北京市大兴区卫生健康委员会", "大兴区卫生健康委", "区卫生健康委", "区卫健委"}
    assert row["region"] == "大兴区" and row["kind"] == "department"


def test_short_name_first_then_full_name(store):
    short = store.agency_id("区卫生健康委", site="daxing")
    assert store.agency_id("北京市大兴区卫生健康委员会", site="daxing") == short
    assert store.agencies(site="daxing")[0]["region"] == "大兴区"


def test_kind_given_overrides_guess(store):
    a = store.agency_id("大兴区人民政府", site="daxing", kind="department")
    assert store.agencies(site="daxing")[0]["kind"] == "department" and a
    b = store.agency_id("大兴区财政局", site="daxing")
    assert store.agency_id("北京市大兴区财政局", site="daxing", kind="government") == b
    assert {r["id"]: r["kind"] for r in store.agencies(site="daxing")}[b] == "government"
    store.agency_id("大兴区财政局", site="daxing")  # no kind stated: the stated one stays
    assert {r["id"]: r["kind"] for r in store.agencies(site="daxing")}[b] == "government"
