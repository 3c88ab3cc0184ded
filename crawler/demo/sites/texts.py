"""Narrative of the demo variants: sentences chosen per agency and year, counts taken from the tables.

Two variants share a sentence only by chance, so the texts of two agencies (or two years of one
agency) stay far below the monitor's "copied" similarity; the counts in the narrative are computed
from the tables, so narrative_vs_table holds.  The portal's page chrome text lives in ``chrome.py``.
"""
from __future__ import annotations

import random

from storage.models import TABLE3_COLUMNS

TOTAL = TABLE3_COLUMNS.index("total")

#: agency keyword -> (field, typical kinds of information it publishes)
FOCUS = {
    "卫生健康": ("卫生健康", ("医疗服务", "公共卫生", "疾病预防控制", "医疗机构监管")),
    "教育": ("教育", ("招生入学", "学生资助", "教育收费", "校园安全")),
    "财政": ("财政", ("预决算", "政府采购", "财政专项资金", "惠民惠农补贴")),
    "民政": ("民政", ("社会救助", "养老服务", "婚姻登记", "社会组织管理")),
    "自然资源": ("自然资源", ("国土空间规划", "土地供应", "不动产登记", "耕地保护")),
    "应急管理": ("应急管理", ("安全生产", "防灾减灾", "应急救援", "执法检查")),
    "人民政府": ("政府工作", ("重大决策", "规划计划", "财政预决算", "重点项目")),
    "镇": ("基层政务", ("惠民惠农补贴", "村务公开", "低保救助", "乡村振兴项目")),
    "街道": ("基层政务", ("社区服务", "居务公开", "民生保障", "城市更新项目")),
}


def focus_of(agency: str) -> tuple[str, tuple[str, ...]]:
    for key, val in FOCUS.items():
        if key in agency:
            return val
    return ("政务", ("行政执法", "政策文件", "办事服务", "财务信息"))


def request_counts(table3: dict) -> dict[str, int]:
    """The totals a narrative states, from the 总计 column."""
    t = {k: v[TOTAL] for k, v in table3.items()}
    return {
        "new": t["new"], "carried_over": t["carried_over"],
        "granted": t["granted"], "partially_granted": t["partially_granted"],
        "withheld": sum(v for k, v in t.items() if k.startswith("withheld_")),
        "unavailable": sum(v for k, v in t.items() if k.startswith("unavailable_")),
        "rejected": sum(v for k, v in t.items() if k.startswith("rejected_")),
        "other": t["other_no_correction"] + t["other_no_fee"] + t["other_other"],
        "carried_forward": t["carried_forward"],
    }


_INTRO = (
    "{y}年，{a}坚持以人民为中心的发展思想，认真贯彻落实《中华人民共和国政府信息公开条例》，围绕{f0}、{f1}等重点领域，"
    "持续深化{field}信息公开，公开工作的规范化、标准化水平进一步提升。",
    "{y}年，{a}把政务公开作为转变工作作风、提升服务效能的重要抓手，紧扣{f1}和{f2}等群众关注事项，"
    "做到应公开尽公开，全年政府信息公开工作平稳有序。",
    "{y}年以来，{a}在上级政务公开主管部门指导下，对照年度政务公开工作要点逐项抓好落实，"
    "重点做好{f0}、{f3}等领域信息发布和政策解读，切实保障公众知情权、参与权和监督权。",
    "{y}年，{a}按照“以公开为常态、不公开为例外”的原则，健全信息发布、审核和更新机制，"
    "在{f2}、{f0}方面加大公开力度，群众获取政府信息更加便利。",
)
_PROACTIVE = (
    "全年通过门户网站政府信息公开专栏主动公开政府信息{p}条，其中{f0}类{p0}条、{f1}类{p1}条，及时更新机构职能、权责清单等基础信息。",
    "本年度共主动公开各类政府信息{p}条，涉及{f2}的信息{p0}条，涉及{f3}的信息{p1}条，政策文件同步发布解读材料。",
    "依托政府网站和政务新媒体累计发布信息{p}条，围绕{f1}发布{p0}条，围绕{f0}发布{p1}条，重要信息均在形成之日起20个工作日内公开。",
    "全年主动公开信息{p}条，其中公开{f3}信息{p0}条、{f2}信息{p1}条，并对历年公开信息进行了梳理和更新。",
)
_REQUESTS = (
    "{y}年，共收到政府信息公开申请{new}件，上年结转{co}件。办理结果为：予以公开{g}件，部分公开{pg}件，不予公开{w}件，"
    "无法提供{u}件，不予处理{r}件，其他处理{o}件；结转下年度继续办理{cf}件。",
    "本年度共收到政府信息公开申请{new}件，上年结转{co}件；其中予以公开{g}件，部分公开{pg}件，不予公开{w}件，"
    "无法提供{u}件，不予处理{r}件，其他处理{o}件，结转下年度继续办理{cf}件，均在法定期限内答复。",
)
_MANAGEMENT = (
    "严格落实公开前保密审查制度，按照“先审查、后公开”和“一事一审”的要求，做到涉密信息不上网、上网信息不涉密。",
    "动态调整政府信息公开目录，对现行有效的规范性文件进行清理并集中公开，标注有效性状态。",
    "建立信息发布台账，明确专人负责信息的采集、审核和发布，定期开展栏目检查，及时整改空白栏目和过期信息。",
    "完善政府信息公开工作制度，修订信息公开保密审查办法，进一步规范依申请公开的受理、登记、办理和答复流程。",
)
_EXTRA = (
    "围绕{f0}，本年度集中梳理公开了办事指南和常见问题解答，方便群众查阅。",
    "结合{field}领域重点工作，做好{f1}相关政策的发布和解读，回应社会关切。",
    "对照基层政务公开标准目录，补充完善{f2}等事项的公开内容。",
    "及时公开{f3}相关的行政执法结果，接受社会监督。",
    "针对群众反映较多的{f1}问题，通过网站专栏集中发布权威信息。",
    "按季度更新{f0}统计数据，做到数据可查询、可下载。",
)
_PLATFORM = (
    "持续优化政府网站信息公开专栏，调整{f0}等栏目设置，提升栏目内容的准确性和时效性。",
    "加强政务新媒体管理，推动网站与政务新媒体信息同步发布，拓宽群众获取信息渠道。",
    "在办事大厅设置政府信息查阅点，为不便使用网络的群众提供现场查阅服务。",
    "完成政府网站安全检测和适老化改造，专栏页面访问更加便捷。",
)
_SUPERVISION = (
    "将政府信息公开工作纳入年度目标考核，定期通报信息公开情况。全年因政府信息公开工作被申请行政复议{rv}件，被提起行政诉讼{lt}件。",
    "组织开展政务公开业务培训，提高工作人员依法公开意识。全年因政府信息公开工作被申请行政复议{rv}件，被提起行政诉讼{lt}件。",
    "主动接受社会监督，通过门户网站公布监督电话和电子邮箱。全年因政府信息公开工作被申请行政复议{rv}件，被提起行政诉讼{lt}件。",
)
_PROBLEMS = (
    "部分栏目信息更新不够及时，{f1}类信息的公开深度有待加强。",
    "政策解读形式较为单一，图文、视频等解读方式运用不多。",
    "依申请公开办理人员多为兼职，业务水平有待进一步提高。",
    "信息公开与政务服务融合不够，公开内容的实用性有待提升。",
    "个别科室对主动公开工作重视不够，信息报送不够积极。",
)
_IMPROVE = (
    "下一步，将加强栏目日常巡查，建立信息更新提醒机制，确保信息发布及时准确。",
    "下一步，将丰富政策解读形式，围绕{f0}推出更多图解和问答，增强解读的针对性。",
    "下一步，将加强业务培训，组织学习依申请公开典型案例，提升答复质量。",
    "下一步，将推动公开内容与办事服务衔接，在{f2}等领域提供更多便民信息。",
    "下一步，将把信息公开纳入科室考核，压实各科室信息报送责任。",
)
_OTHER = (
    "本年度本机关未收取信息处理费。",
    "{y}年度本机关依申请公开政府信息未收取任何费用。",
)
_OTHER2 = (
    "本机关认真落实政务公开工作要点，各项任务均已完成。",
    "本机关按要求办理人大代表建议和政协委员提案，办理结果均已按规定公开。",
    "本机关无其他需要报告的事项。",
)


def _pick(pool: tuple[str, ...], rng: random.Random, year: int, shift: int) -> str:
    # The year shifts the choice, so one agency's two reports never start from the same sentence.
    return pool[(rng.randrange(len(pool)) + year + shift) % len(pool)]


def make_sections(agency: str, year: int, table3: dict, table4: dict, salt: str = "") -> dict[str, list[str]]:
    rng = random.Random(f"{agency}|{year}|{salt}")
    field, f = focus_of(agency)
    f = list(f)
    rng.shuffle(f)
    c = request_counts(table3)
    lt = table4["litigation_direct"]["total"] + table4["litigation_after_review"]["total"]
    p = rng.randint(60, 900)
    p0 = rng.randint(5, p // 3)
    p1 = rng.randint(3, p // 4)
    fmt = dict(y=year, a=agency, field=field, f0=f[0], f1=f[1], f2=f[2], f3=f[3], p=p, p0=p0, p1=p1,
               new=c["new"], co=c["carried_over"], g=c["granted"], pg=c["partially_granted"],
               w=c["withheld"], u=c["unavailable"], r=c["rejected"], o=c["other"], cf=c["carried_forward"],
               rv=table4["review"]["total"], lt=lt)
    problems = rng.sample(range(len(_PROBLEMS)), 2)
    extra = rng.sample(_EXTRA, 2)
    mgmt = rng.sample(_MANAGEMENT, 2)
    overview = [
        _pick(_INTRO, rng, year, 0).format(**fmt),
        "（一）主动公开",
        _pick(_PROACTIVE, rng, year, 1).format(**fmt),
        *(x.format(**fmt) for x in extra),
        "（二）依申请公开",
        _pick(_REQUESTS, rng, year, 0).format(**fmt),
        "（三）政府信息管理",
        *(x.format(**fmt) for x in mgmt),
        "（四）政府信息公开平台建设",
        _pick(_PLATFORM, rng, year, 3).format(**fmt),
        "（五）监督保障",
        _pick(_SUPERVISION, rng, year, 1).format(**fmt),
    ]
    return {
        "overview": overview,
        "proactive": [],
        "requests": [],
        "appeals": [],
        "problems": ["（一）存在的主要问题"] + [_PROBLEMS[i].format(**fmt) for i in problems]
                    + ["（二）改进情况"] + [_IMPROVE[i].format(**fmt) for i in problems],
        "other": [_pick(_OTHER, rng, year, 0).format(**fmt), _pick(_OTHER2, rng, year, 2).format(**fmt)],
    }


def preamble(agency: str, year: int, site_name: str, phone: str) -> list[str]:
    rng = random.Random(f"{agency}|{year}|preamble")
    first = rng.choice((
        "本报告根据《中华人民共和国政府信息公开条例》和《国务院办公厅政府信息与政务公开办公室关于印发〈中华人民共和国"
        "政府信息公开工作年度报告格式〉的通知》（国办公开办函〔2021〕30号）要求编制。",
        f"根据《中华人民共和国政府信息公开条例》第四十九条、第五十条规定，现公布{agency}{year}年度政府信息公开工作年度报告。",
        f"按照《中华人民共和国政府信息公开条例》和上级政务公开主管部门的要求，{agency}编制了本年度报告。",
    ))
    period = f"本报告所列数据的统计期限自{year}年1月1日起至{year}年12月31日止。"
    where = rng.choice((f"本报告电子版可在{site_name}“政府信息公开年报”栏目查阅或下载。",
                        f"报告全文可在{site_name}政府信息公开专栏下载。"))
    ask = f"如对本报告有疑问，请与{agency}办公室联系（电话：{phone}）。"
    return [first, period + where + ask] if rng.random() < 0.5 else [first + period, where + ask]
