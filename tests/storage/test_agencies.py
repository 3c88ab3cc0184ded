"""Agency names: the same agency written differently is one row; different ones stay apart."""
from __future__ import annotations

import pytest

from storage.agencies import normalise, qualify, region_prefix


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


# -- short printed names made whole (issue #10 item 5) ----------------------------------------------

@pytest.mark.parametrize("name, norm, region", [
    ("武汉市洪山区卫生健康局", "卫生健康局", "洪山区"),  # ends with 山区 and is a region
    ("白城市人民政府办公室", "人民政府办公室", "白城市"),  # ends with 城市 and is a region
    ("神农架林区人民政府", "人民政府", "神农架林区"),
])
def test_regions_that_end_like_non_regions(name, norm, region):
    n = normalise(name)
    assert (n.norm, n.region) == (norm, region)


@pytest.mark.parametrize("printed, fuller, regions, whole", [
    ("区教育局", (), ("武汉市武昌区人民政府",), "武汉市武昌区教育局"),
    ("区公安分局", (), ("武汉市洪山区人民政府",), "武汉市洪山区公安分局"),
    ("市教育局", (), ("武汉市武昌区",), "武汉市教育局"),
    ("县卫生健康局", (), ("秦安县人民政府",), "秦安县卫生健康局"),
    ("沅江路街道", ("洪江区沅江路街道办事处",), ("怀化市洪江区人民政府",), "洪江区沅江路街道办事处"),
    ("大山镇", ("兴仁市大山镇人民政府",), (), "兴仁市大山镇人民政府"),
    ("平潭综合实验区", ("平潭综合实验区管理委员会",), ("平潭综合实验区门户网站",), "平潭综合实验区管理委员会"),
    ("二郎街道", (), ("重庆市九龙坡区人民政府",), "重庆市九龙坡区二郎街道"),
    ("上海市", ("上海市人民政府办公厅",), ("上海市人民政府",), "上海市人民政府"),  # a bare region: its government
    # whole names stay as printed: an office is not its government, a region of its own is kept
    ("濂溪区人民政府", ("濂溪区人民政府办公室",), ("九江市濂溪区人民政府",), "濂溪区人民政府"),
    ("城厢区卫生健康局", ("城厢区卫健局",), ("莆田市城厢区人民政府",), "城厢区卫生健康局"),
    ("市中区卫生健康局", (), ("示例省市中区人民政府",), "市中区卫生健康局"),  # 市中区 is a region, not a bare 市
    ("国务院办公厅", ("中国政府网",), ("中国政府网",), "国务院办公厅"),
    ("区教育局", (), ("中国政府网",), "区教育局"),  # no region to be had: left short, never guessed
    ("县教育局", (), ("武汉市武昌区",), "县教育局"),  # the site has no 县
])
def test_qualify(printed, fuller, regions, whole):
    assert qualify(printed, fuller=fuller, regions=regions) == whole


def test_region_prefix_of_site_names():
    assert region_prefix("广州市花都区人民政府门户网站") == "广州市花都区"
    assert region_prefix("武汉市武昌区人民政府") == "武汉市武昌区"
    assert region_prefix("中国政府网") == "" and region_prefix(None) == ""
