"""The template definition: the Chinese labels of the national format, as data, in one place.

Canonical keys come from vocabulary.keys (the names the database and the checks use); this module
adds what a report prints: section headings, table headers, row labels and their known variants,
Table 二's blocks, the short names the checks' messages use, and the patterns metadata is read by.
Parsing reads it to know what to look for; storage writes its `labels` table from it; the monitor's
messages and the Datasette report page take their labels from it.  Sources:
../shared/spec/report-model.md, 国办公开办函〔2021〕30号 and 〔2019〕60号 as copied by real reports.
Imports nothing of ours but vocabulary.keys.
"""
from __future__ import annotations

from dataclasses import dataclass

from vocabulary.keys import SCALAR, TABLE2_LAYOUT, TABLE3_COLUMNS, TABLE3_ROWS, TABLE4_COLUMNS, TABLE4_GROUPS

#: The tables as a report's reader names them (messages, pages: 表三 ·（四）无法提供 …).
TABLE_NAMES: dict[str, str] = {"table2": "表二", "table3": "表三", "table4": "表四"}

# -- sections ---------------------------------------------------------------------------------
#: key -> canonical heading (without numbering) and variants seen in real reports.
SECTIONS: dict[str, tuple[str, tuple[str, ...]]] = {
    "overview": ("总体情况", ("情况", "概述", "基本情况")),
    "proactive": ("主动公开政府信息情况", ("主动公开情况",)),
    "requests": ("收到和处理政府信息公开申请情况", ("依申请公开情况", "收到和处理政府信息公开申请")),
    "appeals": ("政府信息公开行政复议、行政诉讼情况",
                ("政府信息公开行政复议和行政诉讼情况", "因政府信息公开申请提起行政复议、行政诉讼情况",
                 "行政复议、行政诉讼情况")),
    "problems": ("存在的主要问题及改进情况",
                 ("政府信息公开工作存在的主要问题及改进情况", "存在的主要问题及改进措施", "存在的问题及改进情况")),
    "other": ("其他需要报告的事项", ("其他需要报告事项", "其他事项")),
}
SECTION_NUMERALS = ("一", "二", "三", "四", "五", "六")


def section_heading(key: str) -> str:
    """A section's heading as printed, numbered: '二、主动公开政府信息情况'."""
    return f"{SECTION_NUMERALS[list(SECTIONS).index(key)]}、{SECTIONS[key][0]}"


#: Section key -> its heading as printed, numbered ('二、主动公开政府信息情况'): messages, pages.
SECTION_HEADINGS: dict[str, str] = {k: section_heading(k) for k in SECTIONS}


# -- Table 二 -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Table2Block:
    """A block of Table 二: the article of the Regulations it reports on and its rows (both templates)."""
    key: str  # "20.1": 第二十条第（一）项
    label: str
    rows: tuple[str, ...]


#: Table 二's blocks in printed order; a template prints those of its rows that TABLE2_LAYOUT has.
TABLE2_BLOCK_LAYOUT: tuple[Table2Block, ...] = (
    Table2Block("20.1", "第二十条第（一）项", ("regulations", "normative_documents")),
    Table2Block("20.5", "第二十条第（五）项", ("licensing", "other_external_services")),
    Table2Block("20.6", "第二十条第（六）项", ("punishment", "coercion")),
    Table2Block("20.8", "第二十条第（八）项", ("fees_wan_yuan", "fees")),
    Table2Block("20.9", "第二十条第（九）项", ("procurement",)),  # template 2019 only
)
#: Block headers (第二十条第（X）项) of Table 二, template 2021, then 2019 (adds 第（九）项).
TABLE2_BLOCKS = tuple(b.label for b in TABLE2_BLOCK_LAYOUT[:4])
TABLE2_BLOCKS_2019 = tuple(b.label for b in TABLE2_BLOCK_LAYOUT)
#: Header of the label column of every Table 二 block.
TABLE2_CONTENT_HEADER = "信息内容"

#: row key -> canonical label, variants
TABLE2_ROWS: dict[str, tuple[str, tuple[str, ...]]] = {
    "regulations": ("规章", ()),
    "normative_documents": ("行政规范性文件", ("规范性文件",)),
    "licensing": ("行政许可", ()),
    "other_external_services": ("其他对外管理服务事项", ("其他对外管理服务",)),
    "punishment": ("行政处罚", ()),
    "coercion": ("行政强制", ()),
    "fees_wan_yuan": ("行政事业性收费", ()),
    "fees": ("行政事业性收费", ()),
    "procurement": ("政府集中采购", ()),
}

#: column key -> canonical header, variants (typos seen: 本年度止件数)
TABLE2_COLUMNS: dict[str, tuple[str, tuple[str, ...]]] = {
    "issued": ("本年制发件数", ("本年新制发件数", "本年发布件数")),
    "repealed": ("本年废止件数", ("本年度止件数", "本年废止数")),
    "in_force": ("现行有效件数", ("现行有效数",)),
    "made": ("本年新制作数量", ()),
    "published": ("本年新公开数量", ()),
    "public_total": ("对外公开总数量", ()),
    "previous_items": ("上一年项目数量", ()),
    "change": ("本年增/减", ("本年增减",)),
    "decisions": ("处理决定数量", ("本年处理决定数量",)),
    "projects": ("采购项目数量", ()),
    "amount": ("采购总金额", ()),
    SCALAR: ("本年处理决定数量", ("本年收费金额（单位：万元）", "本年收费金额")),
}

#: Headers whose presence identifies the template of Table 二.
TEMPLATE_2021_MARKERS = ("本年制发件数", "现行有效件数", "本年收费金额")
TEMPLATE_2019_MARKERS = ("本年新制作数量", "对外公开总数量", "上一年项目数量", "政府集中采购", "本年新公开数量")

# -- Table 三 -----------------------------------------------------------------------------------
TABLE3_COLUMN_LABELS: dict[str, str] = {
    "natural_person": "自然人",
    "commercial_enterprise": "商业企业",
    "research_institution": "科研机构",
    "social_welfare_org": "社会公益组织",
    "legal_service_org": "法律服务机构",
    "other_org": "其他",
    "total": "总计",
}
TABLE3_HEADER_GROUPS = ("申请人情况", "法人或其他组织")
TABLE3_BALANCE_NOTE = "（本列数据的勾稽关系为：第一项加第二项之和，等于第三项加第四项之和）"

#: Group headings in the first label column of Table 三's result block.
TABLE3_GROUPS: dict[str, str] = {
    "results": "三、本年度办理结果",
    "withheld": "（三）不予公开",
    "unavailable": "（四）无法提供",
    "rejected": "（五）不予处理",
    "other": "（六）其他处理",
}


@dataclass(frozen=True)
class RowLabel:
    key: str
    label: str  # the item's own label as printed in the row (without its group heading)
    group: str | None = None  # key of TABLE3_GROUPS it sits under
    variants: tuple[str, ...] = ()

    @property
    def full_label(self) -> str:
        """Label with its group, as a person reads it: （三）不予公开 1.属于国家秘密."""
        if self.group and self.group != "results":
            return f"{TABLE3_GROUPS[self.group]} {self.label}"
        return self.label


TABLE3_ROW_LABELS: dict[str, RowLabel] = {r.key: r for r in (
    RowLabel("new", "一、本年新收政府信息公开申请数量", variants=("本年新收政府信息公开申请数量", "本年新收申请数量")),
    RowLabel("carried_over", "二、上年结转政府信息公开申请数量", variants=("上年结转政府信息公开申请数量",)),
    RowLabel("granted", "（一）予以公开", "results"),
    RowLabel("partially_granted", "（二）部分公开（区分处理的，只计这一情形，不计其他情形）", "results",
             ("（二）部分公开",)),
    RowLabel("withheld_state_secret", "1.属于国家秘密", "withheld"),
    RowLabel("withheld_prohibited_by_law", "2.其他法律行政法规禁止公开", "withheld"),
    RowLabel("withheld_three_safety", "3.危及“三安全一稳定”", "withheld", ("3.危及三安全一稳定",)),
    RowLabel("withheld_third_party", "4.保护第三方合法权益", "withheld"),
    RowLabel("withheld_internal_affairs", "5.属于三类内部事务信息", "withheld"),
    RowLabel("withheld_process_info", "6.属于四类过程性信息", "withheld"),
    RowLabel("withheld_enforcement_file", "7.属于行政执法案卷", "withheld"),
    RowLabel("withheld_query_matter", "8.属于行政查询事项", "withheld"),
    RowLabel("unavailable_not_held", "1.本机关不掌握相关政府信息", "unavailable"),
    RowLabel("unavailable_needs_creation", "2.没有现成信息需要另行制作", "unavailable"),
    RowLabel("unavailable_unclear", "3.补正后申请内容仍不明确", "unavailable"),
    RowLabel("rejected_petition", "1.信访举报投诉类申请", "rejected"),
    RowLabel("rejected_repeat", "2.重复申请", "rejected"),
    RowLabel("rejected_publication", "3.要求提供公开出版物", "rejected"),
    RowLabel("rejected_mass_repeat", "4.无正当理由大量反复申请", "rejected"),
    RowLabel("rejected_confirmation", "5.要求行政机关确认或重新出具已获取信息", "rejected"),
    RowLabel("other_no_correction", "1.申请人无正当理由逾期不补正、行政机关不再处理其政府信息公开申请", "other"),
    RowLabel("other_no_fee", "2.申请人逾期未按收费通知要求缴纳费用、行政机关不再处理其政府信息公开申请", "other"),
    RowLabel("other_other", "3.其他", "other"),
    RowLabel("other_handling", "（六）其他处理", "results"),  # template 2019: one row
    RowLabel("total_processed", "（七）总计", "results"),
    RowLabel("carried_forward", "四、结转下年度继续办理", variants=("结转下年度继续办理",)),
)}

#: Short names of Table 三's rows for messages ('不予公开-属于国家秘密'), in printed order.
TABLE3_ROW_NAMES: dict[str, str] = {
    "new": "本年新收", "carried_over": "上年结转", "granted": "予以公开", "partially_granted": "部分公开",
    **{k: f"{TABLE3_GROUPS[r.group][3:]}-{r.label[2:]}" for k, r in TABLE3_ROW_LABELS.items()
       if r.group in ("withheld", "unavailable", "rejected")},
    "other_no_correction": "其他处理-逾期不补正", "other_no_fee": "其他处理-逾期未缴纳费用", "other_other": "其他处理-其他",
    "other_handling": "其他处理", "total_processed": "（七）总计", "carried_forward": "结转下年度继续办理",
}
_PRINTED = (*TABLE3_ROWS["2021"][:-2], "other_handling", *TABLE3_ROWS["2021"][-2:])
TABLE3_ROW_NAMES = {k: TABLE3_ROW_NAMES[k] for k in _PRINTED}  # printed order (2019's row before （七）)

# -- Table 四 -----------------------------------------------------------------------------------
TABLE4_GROUP_LABELS: dict[str, str] = {
    "review": "行政复议",
    "litigation_direct": "行政诉讼 未经复议直接起诉",
    "litigation_after_review": "行政诉讼 复议后起诉",
}
TABLE4_COLUMN_LABELS: dict[str, str] = {
    "upheld": "结果维持",
    "corrected": "结果纠正",
    "other": "其他结果",
    "pending": "尚未审结",
    "total": "总计",
}
#: Names of Table 四's groups in messages ('行政诉讼（未经复议直接起诉）').
TABLE4_GROUP_NAMES: dict[str, str] = {
    "review": "行政复议",
    "litigation_direct": "行政诉讼（未经复议直接起诉）",
    "litigation_after_review": "行政诉讼（复议后起诉）",
}
#: Table 四's printed headers: its two groups, then the two kinds of 行政诉讼.
TABLE4_HEADERS = ("行政复议", "行政诉讼", "未经复议直接起诉", "复议后起诉")
#: Row labels of a transposed Table 四 (one row per group), as printed.
TABLE4_GROUP_VARIANTS: dict[str, tuple[str, ...]] = {
    "review": ("行政复议",),
    "litigation_direct": ("未经复议直接起诉", "行政诉讼未经复议直接起诉", "直接起诉"),
    "litigation_after_review": ("复议后起诉", "行政诉讼复议后起诉"),
}

# -- figures named in messages ------------------------------------------------------------------
#: Cells the monitor names as one figure (the year-over-year swing rule), with the name it gives them.
FIGURE_NAMES: dict[str, str] = {
    "table3.new.total": "本年新收政府信息公开申请数量",
    "table3.granted.total": "予以公开数量",
    "table3.total_processed.total": "办理结果总计",
    "table4.review.total": "行政复议总计",
    "table4.litigation_direct.total": "未经复议直接起诉总计",
    "table4.litigation_after_review.total": "复议后起诉总计",
    "table2.licensing.value": "行政许可处理决定数量",
    "table2.punishment.value": "行政处罚处理决定数量",
    "table2.coercion.value": "行政强制处理决定数量",
}

# -- placeholders left from the template (rule 6) ------------------------------------------------
PLACEHOLDERS = ("（单位名称）", "(单位名称)", "XX", "××", "xx", "此处填写", "（填写", "【单位】", "XXXX")
#: What the placeholder rule looks for in a report's text (regular expressions, as printed).
PLACEHOLDER_PATTERNS = (
    r"[（(]\s*单位名称\s*[)）]",
    r"[（(]\s*填写[^)）]{0,12}[)）]",
    r"此处填写",
    r"【[^】]{0,10}(?:单位|填写|名称)[^】]{0,10}】",
    # XX as a blank to fill in ('XX局'), not inside a URL, address or word (www.xx.gov.cn, zfxxgk)
    r"(?<![A-Za-z0-9./@_:\-])(?:XX|xx|Xx)+(?![A-Za-z0-9./@_\-])",
    r"××+",
    r"ＸＸ+",
)
# A masked name is anonymisation, not a blank left from the template: 申请人李××, 原告×××, 某××.
# Template blanks stand for places, agencies and dates: ××县, ××局, （××）, ××年××月.
#: Characters a name is masked with.
NAME_MASK_CHARS = "×XxＸｘ"
#: A masked name is one to three characters long; a longer run (电话：××××) is a blank.
MAX_MASKED_NAME = 3
#: Common surnames (single characters).  Left out on purpose: surnames that are also everyday function
#: words before a blank (于 向 和 关 时 全 明 成 单 解 应 文 安 常 齐 车 路 管 万 华), so '关于××' or
#: '向××局' stay placeholders.
SURNAMES = ("王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘蒋蔡余杜叶程苏魏吕丁"
            "任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付傅方白邹孟熊秦邱江尹薛闫阎段雷侯龙史陶黎贺顾毛郝龚邵钱严"
            "覃武戴莫孔汤康施牛樊葛邢乔伍庞颜倪庄聂章鲁岳翟殷詹欧耿兰焦俞左柳甘祝包宁尚符舒阮柯纪梅童凌毕"
            "季裴霍涂苗谷盛曲翁冉骆蓝游辛靳柴蒙鲍喻祁蒲房滕屈饶牟艾尤穆卓缪简褚娄窦戚岑党宫费卜冷晏席卫米"
            "柏瞿桂佟臧闵苟邬卞姬仇栾隋刁巫寇桑郎甄丛虞敖巩佘池麻苑迟邝")
COMPOUND_SURNAMES = ("欧阳", "司马", "诸葛", "上官", "东方", "皇甫", "尉迟", "公孙", "慕容", "令狐", "长孙",
                     "宇文", "司徒", "夏侯", "澹台", "呼延")
#: Words for a person, right before a name (申请人李××, 市民王××) or before the mask itself (原告×××).
PERSON_WORDS = ("申请人", "当事人", "第三人", "代理人", "举报人", "投诉人", "上诉人", "复议申请人", "原告",
                "被告", "市民", "村民", "居民", "群众", "家属", "人", "者", "员", "民")
#: Before a mask, always anonymisation: 某×× (某×公司, 王某×).
MASK_ANONYMOUS_BEFORE = ("某",)
#: After a mask, a person: ××先生, 李××女士.
MASK_PERSON_AFTER = ("先生", "女士", "同志", "老师")
#: After a mask, a blank for a place, an agency or a date: ××县, 李××局 is no name.
MASK_BLANK_AFTER = ("省", "市", "县", "区", "镇", "乡", "街道", "村", "社区", "局", "委", "办", "厅", "处", "科",
                    "室", "中心", "部门", "单位", "政府", "人民", "机关", "年", "月", "日", "号")

# -- title and report recognition ---------------------------------------------------------------
TITLE_KEYWORDS = ("政府信息公开工作年度报告", "政府信息公开年度报告", "政府信息公开工作报告", "信息公开年报")


#: Table 二 rows the 2019 format prints differently (its 第（一）项 says 规范性文件).
TABLE2_ROWS_2019: dict[str, str] = {"normative_documents": "规范性文件"}


def row_label(table: str, row: str, template: str | None = None) -> str:
    """Canonical Chinese label of a row, for display (Datasette page, emails, findings)."""
    if table == "table3":
        r = TABLE3_ROW_LABELS.get(row)
        return r.full_label if r else row
    if table == "table2":
        if template == "2019" and row in TABLE2_ROWS_2019:
            return TABLE2_ROWS_2019[row]
        return TABLE2_ROWS.get(row, (row,))[0]
    if table == "table4":
        return TABLE4_GROUP_LABELS.get(row, row)
    return row


def column_label(table: str, column: str) -> str:
    if table == "table3":
        return TABLE3_COLUMN_LABELS.get(column, column)
    if table == "table4":
        return TABLE4_COLUMN_LABELS.get(column, column)
    if table == "table2":
        return TABLE2_COLUMNS.get(column, (column,))[0]
    return column


def all_labels() -> list[dict[str, str]]:
    """Every (table, row, column) label, as rows for the database's `labels` table."""
    out: list[dict[str, str]] = []
    for template in ("2021", "2019"):
        for row, cols in TABLE2_LAYOUT[template].items():
            for col in (cols or (SCALAR,)):
                out.append({"template": template, "table_name": "table2", "row": row, "column": col,
                            "row_label": row_label("table2", row, template),
                            "column_label": column_label("table2", col)})
        for row in TABLE3_ROWS[template]:
            for col in TABLE3_COLUMNS:
                out.append({"template": template, "table_name": "table3", "row": row, "column": col,
                            "row_label": row_label("table3", row), "column_label": column_label("table3", col)})
        for g in TABLE4_GROUPS:
            for col in TABLE4_COLUMNS:
                out.append({"template": template, "table_name": "table4", "row": g, "column": col,
                            "row_label": row_label("table4", g), "column_label": column_label("table4", col)})
    return out


# -- recognition aids used by mapping and metadata (patterns are labels too) ---------------------
#: A row containing one of these belongs to that table (they are its headers).
TABLE_MARKERS: dict[str, tuple[str, ...]] = {
    "table2": ("第二十条", TABLE2_CONTENT_HEADER),
    "table3": ("申请人情况", "自然人", "本年新收", "勾稽关系", "法人或其他组织"),
    "table4": ("未经复议直接起诉", "复议后起诉"),
}
#: Header cells of Table 三 (a row holding one of them carries no values).
TABLE3_HEADER_MARKERS = ("申请人情况", "自然人", "勾稽关系", "法人或其他组织", "商业企业")
#: Table 四's header row names both 行政复议 and 行政诉讼.
TABLE4_HEADER_PAIR = TABLE4_HEADERS[:2]
#: Section key -> the table printed in it.
SECTION_TABLES = {"proactive": "table2", "requests": "table3", "appeals": "table4"}
#: Printed in a cell instead of a number (kind NA).
NA_MARKS = ("/", "-", "—", "–", "──", "－", "无", "——", "\\", "／", "——")
#: Units that may trail a printed number ("12件", "0.5万元").
VALUE_UNITS = ("件", "项", "个", "万元", "元", "条")
#: Section 一 heading numerals written as digits (seed 000: '1、 总体情况').
ARABIC_SECTION_NUMERALS = ("1", "2", "3", "4", "5", "6")
#: Chinese numerals for dates written in words (二〇二五年一月十六日).
CN_DIGITS = {"〇": 0, "○": 0, "零": 0, "Ｏ": 0, "O": 0, "一": 1, "二": 2, "三": 3, "四": 4, "五": 5,
             "六": 6, "七": 7, "八": 8, "九": 9, "十": 10}

#: A date as printed: 2025年1月16日 (spaces removed before matching).
DATE_PATTERN = r"(?P<y>(?:19|20)\d{2})年(?P<m>\d{1,2})月(?P<d>\d{1,2})日"
#: The same in Chinese numerals: 二〇二五年一月十六日.
DATE_PATTERN_CN = r"(?P<y>[〇○零一二三四五六七八九Ｏ]{4})年(?P<m>[一二三四五六七八九十]{1,2})月(?P<d>[一二三四五六七八九十]{1,3})日"
#: The statistical period: 统计期限为2024年1月1日至2024年12月31日 / 自…起至…止.
PERIOD_PATTERN = (r"(?P<y1>(?:19|20)\d{2})年(?P<m1>\d{1,2})月(?P<d1>\d{1,2})日(?:起)?(?:至|到|—|-|~)"
                  r"(?:(?P<y2>(?:19|20)\d{2})年)?(?P<m2>\d{1,2})月(?P<d2>\d{1,2})日")
#: The same in Chinese numerals: 统计期限为二〇二四年一月一日至二〇二四年十二月三十一日.
PERIOD_PATTERN_CN = (r"(?P<y1>[〇○零一二三四五六七八九ＯO]{4})年(?P<m1>[一二三四五六七八九十]{1,2})月"
                     r"(?P<d1>[一二三四五六七八九十]{1,3})日(?:起)?(?:至|到|—|-|~)"
                     r"(?:(?P<y2>[〇○零一二三四五六七八九ＯO]{4})年)?(?P<m2>[一二三四五六七八九十]{1,2})月"
                     r"(?P<d2>[一二三四五六七八九十]{1,3})日")
#: A publication date printed in the page text: 发布时间：2025-01-20 / 发布日期：2025年1月20日.
PUBDATE_LINE_PATTERN = r"(?:发布|发文|成文)(?:日期|时间)[:：]"
#: Title of a report: optional agency, year, optional agency, 政府信息公开(工作)(年度)报告 / 年报.
TITLE_PATTERN = (r"^(?P<unit>.*?)(?P<year>(?:19|20)\d{2})年度?(?P<unit2>.*?)"
                 r"(?:政府)?信息公开(?:工作)?(?:年度)?(?:工作)?(?:报告|年报)")
#: Words around the agency in a title that are not part of its name ('某局关于2024年…报告').
TITLE_NOISE = ("关于", "发布", "公布", "印发")
#: What an agency's name ends with (signature line, title, narrative).
AGENCY_SUFFIXES = ("委员会", "管理委员会", "管委会", "办公室", "办公厅", "人民政府", "街道办事处", "办事处",
                   "政府", "局", "委", "厅", "署", "院", "中心", "所", "站", "馆", "镇", "乡", "街道", "公司",
                   "总队", "支队", "大队", "分局")
#: Words that make a short line something other than an agency name.
NOT_AGENCY_WORDS = ("报告", "情况", "事项", "附件", "联系", "电话", "地址", "邮编", "本机关", "我局", "我委")
#: A line holding one of these mentions a report (a link, an attachment, a commentary), it is not its title.
NOT_TITLE_WORDS = ("附件", ".pdf", ".doc", ".wps", ".xls", "下载", "点击", "解读", "图解", "链接")
#: Page metadata keys that carry the publication date (HTML meta, docx core properties).
#: (A DOCX's core property `created` is when the file was begun, not published: deliberately absent.)
PUBDATE_KEYS = ("PubDate", "pubdate", "publishdate", "发布日期", "发布时间", "发文日期", "成文日期", "date")
#: Page metadata keys that carry the title.
TITLE_KEYS = ("ArticleTitle", "title", "Title", "标题")
#: Year written in a URL path: /2024n/, /nb2024bm/, /2024nb/, t20250110_ (the latter is a date: ignored).
URL_YEAR_PATTERN = r"(?:^|[/_\-])(?:nb|gknb|zfxxgknb)?(?P<y>20\d{2})(?:n|nb|nd|ndbg)?(?=[/_\-]|bm|$)"
#: Item numbering at the start of a label, after NFKC: 一、 / (三) / 1. / 2、
NUMBERING_PATTERN = r"^(?:[一二三四五六七八九十]+[、.]|[(][一二三四五六七八九十\d]+[)]|\d+[.、)])"
#: A numbered section heading, after NFKC and without spaces: 一、总体情况 / 1、总体情况 / 1.总体情况.
SECTION_HEADING_PATTERN = r"^(?P<num>[一二三四五六]|[1-6])\s*[、.．]\s*(?P<label>\S.{0,40})$"
#: A line that starts with numbering (as printed): never the continuation of a wrapped table cell.
LINE_NUMBERING_PATTERN = r"^\s*(?:[一二三四五六七八九十]+、|\d+、|[（(][一二三四五六七八九十\d]+[)）])"
#: A year in running text: 2024年.
YEAR_IN_TEXT_PATTERN = r"((?:19|20)\d{2})年"
#: What precedes an agency named in the narrative: '2024年，' / '2024年度'.
YEAR_PREFIX_PATTERN = r"(?:19|20)\d{2}年度?[，,]?"
#: First characters that show a phrase after '2024年，' is not an agency name ('在区委…', '我局…').
NOT_NAME_START = "在我由对经按据为是各全本"
#: The Chinese numeral ten, for dates written in words (十二月三十一日).
CN_TEN = "十"
#: Further labels of the date line in a page's info bar (时间：2025-01-16 10:00); the HTML extractor
#: stores such a date under the first non-ASCII key of PUBDATE_KEYS.
PAGE_DATE_LABELS = ("时间", "日期", "发布于")

#: Words that make a title naming a 年度报告 something else (research/portals.md §8 and the decoys seen
#: in 年报 columns: 编制说明, 工作要点, 决算, 解读 …): such a page is never a report by its title alone.
REPORT_TITLE_DECOYS = ("说明", "工作要点", "要点", "决算", "预算", "解读", "图解", "通知", "总结", "统计表",
                       "目录", "指南", "会议", "培训", "考核", "评估", "情况通报")
#: Page metadata keys that carry a heading or a name of the page (besides TITLE_KEYS).
PAGE_TITLE_KEYS = ("h1", "信息名称", "名称", "文件名称")

# -- the page's own metadata: info bars, 索引号 tables, gkmlpt/Hanweb metadata blocks -------------------
#: Fields that name the publishing agency (索引号 tables, gkmlpt blocks, VSB headers), most trusted first.
AGENCY_FIELDS = ("发布机构", "发布单位", "发文机关", "发文单位", "发布部门", "公开单位", "信息公开单位")
#: Fields and meta names that name the source: usually the agency, sometimes the site (中国政府网, 本网).
SOURCE_FIELDS = ("ContentSource", "来源", "信息来源", "文章来源", "稿件来源")
#: Fields that carry the document's name (gkmlpt 名称, Mingshan 信息名称, a 标题 row).
TITLE_FIELDS = ("标题", "名称", "信息名称", "文件名称", "题名", "文章标题")
#: Meta names of the site a page belongs to (its region qualifies a short agency name).
SITE_NAME_KEYS = ("SiteName", "siteName", "sitename")
#: Every label of an info bar or metadata table, read as 'label[:：] value' up to the next label.
PAGE_FIELD_LABELS = (*AGENCY_FIELDS, *SOURCE_FIELDS[1:], *TITLE_FIELDS,
                     "发布日期", "发布时间", "发文日期", "成文日期", "生成日期", "印发日期", *PAGE_DATE_LABELS,
                     "索引号", "分类", "主题分类", "体裁分类", "公开方式", "公开形式", "公开范围", "公开时限", "文号",
                     "发文字号", "有效性", "是否有效", "主题词", "关键词", "作者", "浏览次数", "点击数", "浏览量", "阅读",
                     "字体", "字号", "分享")
#: A label glued to the front of a title ('标题临沂市教育局…', '标题:平潭综合实验区…'): not part of it.
TITLE_LABEL_PATTERN = r"^(?:" + "|".join(TITLE_FIELDS) + r")\s*[:：]?\s*"
#: What may follow a report title's last word and still belong to it: （图片版）, （超链版）, （修订版）.
TITLE_SUFFIX_PATTERN = r"[（(][^（）()]{1,6}[)）]"
#: Words that make a 来源 value a site or a channel, not an agency.
NOT_AGENCY_SOURCES = ("网", "本站", "本网", "新闻", "日报", "报社", "电视台", "微信", "公众号")
