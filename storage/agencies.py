"""Agency names: normalisation, so that the same agency written differently is one row.

北京市大兴区卫生健康委员会, 大兴区卫生健康委 and 区卫生健康委 (on the 大兴区 portal) are one agency.
The key is the name without its region prefixes, with common abbreviations expanded; the most
specific region is kept beside it, so that two portals' (or two counties') 卫生健康委员会 stay apart.

A short printed name (区教育局, 沅江路街道, 上海市) is made whole by ``qualify`` from the page's other
printings of its publisher and its site's region; parsing keeps both (Report.agency_printed, .agency).

Kind (which deadline applies, rule 10):
- ``town``: the name contains 镇, 乡, 街道 or 办事处 (towns and street offices, due 31 January);
- ``government``: the body is exactly 人民政府 (the government's own aggregated report, due 31 March);
  a 人民政府办公室/办公厅 publishes as a department of that government, so it is a ``department``;
- ``department``: everything else.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

# A region component: a name of 1-8 characters followed by an administrative suffix.
_REGION = re.compile(
    r"(?P<r>[\u4e00-\u9fff]{1,8}?(?:特别行政区|维吾尔自治区|壮族自治区|回族自治区|自治区|自治州|自治县|自治旗|"
    r"地区|省|市(?![场政])|盟|州|区|县|旗)(?:市(?![场政])|区|县)?)")
# Words that end in a region suffix but are not regions (城市管理委员会, 园区管理委员会 ...).  Some only
# at the start of the match: 洪山区, 白城市, 神农架林区 are regions that end with 山区, 城市, 林区.
_NOT_REGIONS = ("城市", "园区", "景区", "社区", "小区", "城区管理", "开发区", "高新区", "新区", "保税区", "林区",
                "矿区", "牧区", "山区", "市场", "市政", "县域", "州际")
# A bare suffix at the start: 区卫生健康委 is "the district's" health commission.
_NOT_REGIONS_INSIDE = ("园区", "景区", "社区", "小区", "城区管理", "开发区", "高新区", "新区", "保税区")


def _not_region(r: str) -> bool:
    return any(r.startswith(w) for w in _NOT_REGIONS) or any(w in r for w in _NOT_REGIONS_INSIDE)


_BARE = re.compile(r"^(?:省|市(?![场政])|区|县|州|旗)(?=[\u4e00-\u9fff]{2})")

#: Abbreviations expanded at the end of a name before comparing (in order; longest first where they overlap).
ABBREVIATIONS: tuple[tuple[str, str], ...] = (
    ("卫健委", "卫生健康委员会"),
    ("卫健局", "卫生健康局"),
    ("教委", "教育委员会"),
    ("发改委", "发展和改革委员会"),
    ("发改局", "发展和改革局"),
    ("住建委", "住房和城乡建设委员会"),
    ("住建局", "住房和城乡建设局"),
    ("人社局", "人力资源和社会保障局"),
    ("市场监管局", "市场监督管理局"),
    ("市监局", "市场监督管理局"),
    ("文旅局", "文化和旅游局"),
    ("规自委", "规划和自然资源委员会"),
    ("规自局", "规划和自然资源局"),
    ("应急局", "应急管理局"),
    ("医保局", "医疗保障局"),
    ("城管委", "城市管理委员会"),
    ("城管局", "城市管理局"),
    ("交通局", "交通运输局"),
    ("退役军人局", "退役军人事务局"),
    ("网信办", "网络安全和信息化委员会办公室"),
    ("政府办公室", "人民政府办公室"),
    ("政府办", "人民政府办公室"),
    ("区政府", "区人民政府"),
    ("县政府", "县人民政府"),
    ("市政府", "市人民政府"),
)
_TOWN = re.compile(r"镇|乡|街道|办事处")


@dataclass(frozen=True)
class AgencyName:
    name: str  # as given, whitespace removed
    norm: str  # the comparison key: no region prefix, abbreviations expanded
    region: str  # most specific region prefix stripped ("" if none)
    kind: str  # department | town | government


def _clean(name: str) -> str:
    # NFKC folds full-width letters/digits/brackets; spaces inside CJK names are layout, not content
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", name or ""))


def _expand(body: str) -> str:
    # only at the end of the name, where the kind of body is written (民宗委 inside a longer name is
    # left alone rather than guessed)
    for short, full in ABBREVIATIONS:
        if body.endswith(short) and not body.endswith(full):
            body = body[: -len(short)] + full
    # 卫生健康委 / 教育委 ...: a trailing 委 is the short form of 委员会
    if body.endswith("委") and not body.endswith("委员会"):
        body += "员会"
    return body


def normalise(name: str) -> AgencyName:
    clean = _clean(name)
    body = _expand(clean)  # expand first: 区政府 -> 区人民政府 keeps its region
    regions: list[str] = []
    while True:
        m = _REGION.match(body)
        if not m or _not_region(m.group("r")):
            break
        rest = body[m.end():]
        if len(rest) < 2:  # 北京市 alone, or a name that is only a region
            break
        regions.append(m.group("r"))
        body = rest
    bare = _BARE.match(body)
    if bare:
        body = body[bare.end():]
    if body.startswith("人民政府") and regions:
        kind = "government" if body == "人民政府" else "department"
    elif _TOWN.search(body):
        kind = "town"
    elif body == "人民政府":
        kind = "government"
    else:
        kind = "department"
    return AgencyName(name=clean, norm=body, region=regions[-1] if regions else "", kind=kind)


# -- qualifying a short name ---------------------------------------------------------------------
# A page often prints an agency as its own site's people say it: 区教育局 on the 武昌区 portal, 沅江路街道
# for 洪江区沅江路街道办事处, 上海市 for 上海市人民政府.  Identity needs the whole name; the printed one is
# kept beside it as evidence.

#: What a site's name adds to its region: 广州市花都区人民政府门户网站 -> 广州市花都区.
_SITE_WORDS = ("人民政府门户网站", "政府门户网站", "人民政府网站", "门户网站", "人民政府网", "政府网站", "政府网", "网站",
               "人民政府", "政府", "网")
#: What a fuller printing of a name may add after it (大山镇 -> 兴仁市大山镇人民政府).
_BODY_WORDS = ("人民政府", "办事处", "管理委员会", "管委会")
#: A bare region printed as the agency is that region's government (上海市 -> 上海市人民政府).
GOVERNMENT = "人民政府"


def _regions(s: str) -> tuple[str, str]:
    """(the region components at the start of ``s``, the rest); a name may be all region (上海市)."""
    out = ""
    while s:
        m = _REGION.match(s)
        if not m or _not_region(m.group("r")):
            break
        out, s = out + m.group("r"), s[m.end():]
    return out, s


def region_prefix(name: str | None) -> str:
    """The regions a site or agency name starts with: 武汉市武昌区人民政府 -> 武汉市武昌区 ('' if none)."""
    s = _clean(name or "")
    for w in _SITE_WORDS:
        if s.endswith(w):
            s = s[: -len(w)]
            break
    return _regions(s)[0]


def is_region(name: str) -> bool:
    """The name is a region and nothing more: 上海市, 黄浦区, 南平市."""
    s = _clean(name)
    regions, rest = _regions(s)
    return bool(regions) and not rest


def _extends(printed: str, fuller: str) -> bool:
    """``fuller`` is ``printed`` with a region before it and/or its body after it (兴仁市 + 大山镇 + 人民政府)."""
    if fuller == printed or printed not in fuller:
        return False
    at = fuller.index(printed)
    before, after = fuller[:at], fuller[at + len(printed):]
    return (not before or _regions(before) == (before, "")) and after in ("", *_BODY_WORDS)


def qualify(printed: str, *, fuller: tuple[str, ...] = (), regions: tuple[str, ...] = ()) -> str:
    """The whole name of an agency printed as ``printed``.

    ``fuller``: other names the page prints for its publisher (发布机构, 来源, ContentSource), most trusted
    first: one that is ``printed`` with a region and/or its body added is taken.  A bare region is its
    government.  Else a name with no region of its own (沅江路街道, 区教育局) is prefixed with the first of
    ``regions`` (the page's site name, the configured region of the site) that has one.
    """
    name = _clean(printed)
    if not name:
        return name
    for f in fuller:
        f = _clean(f)
        if f and _extends(name, f):
            return f
    if is_region(name):
        return name + GOVERNMENT
    if normalise(name).region:
        return name  # it names its own region (城厢区卫生健康局, 市中区卫生健康局): kept as printed
    bare = _BARE.match(name)
    for r in regions:
        region = region_prefix(r)
        if not region or name.startswith(region):
            continue
        if bare:  # 区教育局: the site's region up to its last 区
            cut = region.rfind(bare.group(0))
            if cut < 0:
                continue
            return region[:cut + 1] + name[1:]
        if region_prefix(name):  # a region of its own after all
            return name
        return region + name
    return name


# -- identity: which stored agency a name is -------------------------------------------------------
# Within one site, a short printing (威远镇, 区教育局) and its qualified form (互助县威远镇, 武汉市武昌区教育局)
# are one agency; the printed name stays as evidence (reports.agency_printed, agency_aliases).  Across
# sites nothing is merged: two portals' 卫生健康局 are two agencies.

#: What a town's or street office's name may carry after it (威远镇人民政府 is 威远镇, 建设街道办事处 is 建设街道).
_TOWN_BODIES = ("人民政府", "办事处")


def region_chain(name: str | None) -> tuple[str, ...]:
    """Each region component a site or agency name starts with: 青海省海东市互助县 -> (青海省, 海东市, 互助县)."""
    s = _clean(name or "")
    for w in _SITE_WORDS:
        if s.endswith(w):
            s = s[: -len(w)]
            break
    out: list[str] = []
    while s:
        m = _REGION.match(s)
        if not m or _not_region(m.group("r")):
            break
        out.append(m.group("r"))
        s = s[m.end():]
    return tuple(out)


def identity_norms(n: AgencyName) -> tuple[str, ...]:
    """The comparison keys under which the same agency may already be stored: the name's own, and for a
    town or street office the form with or without its 人民政府 / 办事处 (长安镇 and 长安镇人民政府 are one)."""
    if n.kind != "town":
        return (n.norm,)
    for body in _TOWN_BODIES:
        if n.norm.endswith(body) and len(n.norm) > len(body) + 1:
            return (n.norm, n.norm[: -len(body)])
    return (n.norm, *(n.norm + body for body in _TOWN_BODIES))


@dataclass(frozen=True)
class AgencyChoice:
    agency_id: int | None  # None: no stored agency is this one (create it)
    learn_region: bool = False  # the chosen one was stored without a region; the name states it


def _same_place(a: str, b: str, site_regions: tuple[str, ...]) -> bool:
    """Two regions name the same place for this site: equal, or both are levels of the site's own region
    (海东市 and 互助县 on the 青海省海东市互助县 portal)."""
    return a == b or (a in site_regions and b in site_regions)


def choose_agency(n: AgencyName, candidates: list[tuple[int, str]], *, site_region: str = "") -> AgencyChoice:
    """The stored agency (of one site) that ``n`` is, from ``candidates``: (id, region) of the agencies of
    that site with the same comparison key, oldest first.

    - a candidate of the same region (or, for this site, another level of the same place) is it;
    - a name stating its region takes a candidate stored without one (the short name came first) and
      teaches it the region;
    - a name without a region is the one candidate there is, or, among several, the one in the site's
      own region; else it is none of them (a new agency: better two rows than two agencies merged).
    """
    here = region_chain(site_region)
    for cid, region in candidates:
        if region == n.region:
            return AgencyChoice(cid)
    if n.region:
        for cid, region in candidates:
            if region and _same_place(region, n.region, here):
                return AgencyChoice(cid)
        for cid, region in candidates:
            if not region:
                return AgencyChoice(cid, learn_region=True)
        return AgencyChoice(None)
    if len(candidates) == 1:
        return AgencyChoice(candidates[0][0])
    own = [cid for cid, region in candidates if here and region == here[-1]]
    return AgencyChoice(own[0] if len(own) == 1 else None)
