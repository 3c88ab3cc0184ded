"""How report texts state the tables' figures: the phrasings rule 5 (narrative_vs_table) reads.

Each ``Phrase`` is a pattern over the narrative *normalised* (NFKC: full-width digits, brackets and
commas become ASCII; all whitespace removed), the figures it states (a named group holding the
number, and the table cells whose sum it must equal), and an example sentence it reads, taken from
the seed reports (tests/fixtures/seeds), from the real reports quoted in issue 10, or from the
research (../shared/research).  tests/monitor/test_narrative.py checks that every example is read.

Order matters: phrases are tried in the order of ``PHRASES`` and a later phrase never reads text an
earlier one has read, so "予以公开及部分公开258件" is one composite figure (予以公开 + 部分公开), never
"部分公开258件".

Cells are named ``table.row.column`` (the keys of storage.models); a figure gives alternatives
(template 2021 first, then 2019), and the first alternative whose cells the report has is used.
"""
from __future__ import annotations

from dataclasses import dataclass

# -- building blocks (over normalised text: no whitespace, ASCII punctuation where NFKC gives it) --
#: A number of applications: '17件'.
N = r"(?P<n>\d+)件"
#: Words that may stand between a label and its number: '申请数量为17件', '共计17件'.
IS = r"(?:的)?(?:申请)?(?:数量|总数|件数)?(?:为|是|达|共计|共|合计|计)?"
#: A short stretch inside one clause: no sentence or clause break, no digit.
GAP = r"[^。;；,，\d]{0,12}?"
#: Not a count over several years: '历年累计受理申请1000件'.
NOT_CUMULATIVE = r"(?<!累计)(?<!历年)(?<!以来)"
#: Not the count of *published* items: '主动公开行政处罚决定42件' is no Table 二 figure.
NOT_PUBLISHED = r"(?<!公开)(?<!公示)(?<!发布)(?<!受理)(?<!申请)"

_WITHHELD = ("withheld_state_secret", "withheld_prohibited_by_law", "withheld_three_safety", "withheld_third_party",
             "withheld_internal_affairs", "withheld_process_info", "withheld_enforcement_file",
             "withheld_query_matter")
_UNAVAILABLE = ("unavailable_not_held", "unavailable_needs_creation", "unavailable_unclear")
_REJECTED = ("rejected_petition", "rejected_repeat", "rejected_publication", "rejected_mass_repeat",
             "rejected_confirmation")
_OTHER_2021 = ("other_no_correction", "other_no_fee", "other_other")

#: Cases, not applications: '上年度结转的1件行政复议案件' is no Table 三 上年结转.
APPEAL_NOUNS = r"(?:行政复议|复议|行政诉讼|诉讼|行政应诉|应诉|案件)"
#: GAP that does not run into a case noun ('上年结转的复议案件1件').
GAP_NOT_CASES = rf"(?:(?!{APPEAL_NOUNS})[^。;；,，\d]){{0,12}}?"
#: What makes a 行政复议 / 行政诉讼 count about 政府信息公开 (Table 四 counts only those):
#: '涉及政府信息公开的行政复议0件', '因政府信息公开被申请行政复议0件', '政府信息公开行政复议1件'.
DISCLOSURE_QUALIFIER = r"(?:政府)?信息公开(?:类|方面|工作|事项|申请)?(?:的)?(?:被申请|被提起|被起诉|引起|引发|提起|发生|申请)?(?:的)?"
#: A sentence that counts all of the agency's cases, or cases of another kind, not Table 四's:
#: '我委作为被申请人的行政复议案件共12件，均为行政处罚类'.
OTHER_CASES = (r"作为(?:行政)?(?:被申请人|被告|复议机关|应诉)|(?:均为|均系|全部为|都是|均属)(?!(?:政府)?信息公开)"
               r"[^。;；,，\d]{1,10}类|行政(?:处罚|许可|强制|征收)类|(?:各类|全部|所有)行政(?:复议|诉讼)"
               r"|(?:办理|审理|受理)(?:了)?行政复议")


def _t3(*rows: str, column: str = "total") -> tuple[str, ...]:
    return tuple(f"table3.{r}.{column}" for r in rows)


#: Result categories of Table 三 as the texts name them -> their cells (alternatives per template).
CATEGORIES: dict[str, tuple[tuple[str, ...], ...]] = {
    "予以公开": (_t3("granted"),),
    "部分公开": (_t3("partially_granted"),),
    "不予公开": (_t3(*_WITHHELD),),
    "无法提供": (_t3(*_UNAVAILABLE),),
    "不予处理": (_t3(*_REJECTED),),
    "其他处理": (_t3(*_OTHER_2021), _t3("other_handling")),
}
_CAT = "|".join(CATEGORIES)
_JOIN = r"(?:以及|及|和|与|、|或)"

#: The reason named in '因本机关不掌握相关政府信息无法提供3件' -> its row (when no 等 widens it).
REASONS: dict[str, str] = {
    "国家秘密": "withheld_state_secret",
    "法律行政法规禁止": "withheld_prohibited_by_law",
    "三安全一稳定": "withheld_three_safety",
    "第三方合法权益": "withheld_third_party",
    "内部事务": "withheld_internal_affairs",
    "过程性信息": "withheld_process_info",
    "行政执法案卷": "withheld_enforcement_file",
    "行政查询事项": "withheld_query_matter",
    "不掌握": "unavailable_not_held",
    "信息不存在": "unavailable_not_held",
    "另行制作": "unavailable_needs_creation",
    "仍不明确": "unavailable_unclear",
    "信访举报投诉": "rejected_petition",
    "重复申请": "rejected_repeat",
    "公开出版物": "rejected_publication",
    "大量反复申请": "rejected_mass_repeat",
    "确认或重新出具": "rejected_confirmation",
}


@dataclass(frozen=True)
class Figure:
    """One number a phrase states, and the cells (summed) it must equal."""
    group: str  # the named group holding the number
    name: str  # what it counts, in the officer's words (used in messages)
    cells: tuple[tuple[str, ...], ...] = ()  # alternatives; empty: decided by the phrase's kind


@dataclass(frozen=True)
class Phrase:
    key: str
    pattern: str
    figures: tuple[Figure, ...]
    example: str  # a sentence this phrase reads
    source: str  # where the example comes from
    #: "cells": the figures name their cells; "categories": group ``cats`` lists result categories
    #: (予以公开及部分公开) whose cells are summed; "reason": group ``why`` names one row of group ``cat``.
    kind: str = "cells"
    unit: str = "件"
    #: The figure is not compared when the sentence around it matches this (it counts something else),
    #: unless ``unless_clause`` matches the clause leading to it (that clause qualifies the count).
    not_in_sentence: str = ""
    unless_clause: str = ""


def _f(group: str, name: str, *alternatives: tuple[str, ...]) -> Figure:
    return Figure(group=group, name=name, cells=tuple(alternatives))


PHRASES: tuple[Phrase, ...] = (
    # -- Table 三: composite and reason forms first (they contain the single ones) ------------------
    Phrase("categories", rf"(?P<cats>(?:{_CAT})(?:{_JOIN}(?:{_CAT}))+)(?:的|类)?{IS}(?:申请)?{N}",
           (Figure("n", "合计"),), kind="categories",
           example="予以公开及部分公开258件",
           source="real 2019 HTML report quoted in issue 10 (table: 272 + 3 = 275)"),
    Phrase("category_because", rf"因(?P<why>[^。;；,，\d]{{1,30}}?)等(?:原因|情形|情况)(?:而)?(?:依法)?(?:予以)?"
                               rf"(?P<cats>{_CAT}){IS}{N}",
           (Figure("n", "合计"),), kind="categories",
           example="因本机关不掌握等原因无法提供265件",
           source="real 2019 HTML report quoted in issue 10 (table: 265 + 47 + 25 = 337)"),
    Phrase("reason", rf"因(?P<why>[^。;；,，\d等]{{1,30}}?)(?:而)?(?:依法)?(?P<cat>不予公开|无法提供|不予处理){IS}{N}",
           (Figure("n", "该情形"),), kind="reason",
           example="因本机关不掌握相关政府信息无法提供3件",
           source="form of seed 004's table row （四）无法提供 1.本机关不掌握相关政府信息 (3), as reports write it"),
    # -- Table 三: received ---------------------------------------------------------------------------
    Phrase("received_with_carry",
           rf"{NOT_CUMULATIVE}(?:收到|受理|接到|接收|新收){GAP}(?:申请|申请件|公开件){GAP}(?P<n>\d+)件\((?:其中)?含?上年(?:度)?结转"
           rf"(?:申请)?(?P<c>\d+)件\)",
           (_f("n", "收到申请（含上年结转）", _t3("new", "carried_over")), _f("c", "上年结转", _t3("carried_over"))),
           example="共收到政府信息公开申请12件(含上年结转2件)",
           source="form '收到…申请N件（含上年结转N件）' named in issue 10's review of narrative checks"),
    Phrase("received_by_applicant",
           rf"其中(?:来自)?自然人(?:申请|提出)?(?:的申请)?(?P<np>\d+)件[、,，;；和及](?:来自)?法人(?:或|和|及)?(?:其他)?组织"
           rf"(?:申请|提出)?(?:的申请)?(?P<org>\d+)件",
           (_f("np", "自然人申请", _t3("new", column="natural_person")),
            _f("org", "法人或其他组织申请",
               tuple(f"table3.new.{c}" for c in ("commercial_enterprise", "research_institution",
                                                "social_welfare_org", "legal_service_org", "other_org")))),
           example="收到政府信息公开申请95件，其中自然人90件、法人或其他组织5件",
           source="form '收到…申请N件，其中自然人N件、法人或其他组织N件' named in issue 10"),
    Phrase("received", rf"{NOT_CUMULATIVE}(?:收到|受理|接到|接收|新收)(?:了)?{GAP}(?:申请|申请件|公开件){GAP}{N}",
           (_f("n", "收到申请", _t3("new")),),
           example="2024年共受理政府信息公开申请1件", source="seed 001 (市中区卫生健康局)"),
    # not '上年度结转的1件行政复议案件' (a case carried over, Table 四's business): no case noun around N
    Phrase("carried_over", rf"上年(?:度)?结转{GAP_NOT_CASES}{N}(?!(?:的)?{APPEAL_NOUNS})",
           (_f("n", "上年结转", _t3("carried_over")),),
           example="上年结转政府信息公开申请数量为0件", source="form '…数量为N件' named in issue 10"),
    Phrase("carried_forward", rf"(?:(?P<n>\d+)件(?:申请)?结转(?:至)?下(?:一)?年度"
                              rf"|结转(?:至)?下(?:一)?年度(?:继续办理)?{IS}(?P<n2>\d+)件)",
           (_f("n", "结转下年度", _t3("carried_forward")), _f("n2", "结转下年度", _t3("carried_forward"))),
           example="4件已办结，3件结转下年度继续办理", source="seed 004 (北京市大兴区卫生健康委员会)"),
    Phrase("processed", rf"(?:(?P<n>\d+)件(?:已)?办结|(?:共)?(?:办结|答复)(?:申请)?{IS}(?P<n2>\d+)件)",
           (_f("n", "办结", _t3("total_processed")), _f("n2", "办结", _t3("total_processed"))),
           example="4件已办结，3件结转下年度继续办理", source="seed 004 (北京市大兴区卫生健康委员会)"),
    # -- Table 三: single result categories -----------------------------------------------------------
    Phrase("granted", rf"(?<!不)予以公开(?:申请)?{IS}{N}", (_f("n", "予以公开", *CATEGORIES["予以公开"]),),
           example="其中予以公开申请0件", source="seed 001 (市中区卫生健康局)"),
    Phrase("partially_granted", rf"部分公开(?:申请)?{IS}{N}", (_f("n", "部分公开", *CATEGORIES["部分公开"]),),
           example="部分公开0件", source="seed 001"),
    Phrase("withheld", rf"不予公开(?:申请)?{IS}{N}", (_f("n", "不予公开", *CATEGORIES["不予公开"]),),
           example="不予公开0件", source="seed 001"),
    Phrase("unavailable", rf"无法提供(?:申请)?{IS}{N}", (_f("n", "无法提供", *CATEGORIES["无法提供"]),),
           example="无法提供1件", source="seed 001"),
    Phrase("rejected", rf"不予处理(?:申请)?{IS}{N}", (_f("n", "不予处理", *CATEGORIES["不予处理"]),),
           example="不予处理0件", source="seed 001"),
    # -- Table 二 stated in the text ---------------------------------------------------------------------
    Phrase("normative_issued", rf"制(?:发|定|作)(?:了)?(?:行政)?规范性文件{IS}{N}",
           (_f("n", "制发规范性文件", ("table2.normative_documents.issued",), ("table2.normative_documents.made",)),),
           example="本年制发行政规范性文件2件",
           source="Table 二 column 本年制发件数 (国办公开办函〔2021〕30号) as a sentence; issue 10 names '制发…规范性文件N件'"),
    Phrase("normative_in_force", rf"现行有效(?:的)?(?:行政)?规范性文件{IS}{N}",
           (_f("n", "现行有效规范性文件", ("table2.normative_documents.in_force",)),),
           example="现行有效行政规范性文件1件",
           source="seed 004's Table 二 (行政规范性文件 现行有效件数 1) as a sentence; issue 10"),
    Phrase("normative_repealed", rf"废止(?:了)?(?:行政)?规范性文件{IS}{N}",
           (_f("n", "废止规范性文件", ("table2.normative_documents.repealed",)),),
           example="废止行政规范性文件3件", source="Table 二 column 本年废止件数 as a sentence"),
    Phrase("regulations_issued", rf"制(?:发|定)(?:了)?(?:政府)?规章{IS}{N}",
           (_f("n", "制发规章", ("table2.regulations.issued",), ("table2.regulations.made",)),),
           example="制发规章0件", source="Table 二 row 规章 as a sentence"),
    Phrase("regulations_in_force", rf"现行有效(?:的)?(?:政府)?规章{IS}{N}",
           (_f("n", "现行有效规章", ("table2.regulations.in_force",)),),
           example="现行有效规章0件", source="Table 二 row 规章 as a sentence"),
    Phrase("licensing", rf"{NOT_PUBLISHED}行政许可(?:处理)?(?:决定)?{IS}{N}",
           (_f("n", "行政许可", ("table2.licensing.value",), ("table2.licensing.decisions",)),),
           example="作出行政许可决定75件", source="seed 000's Table 二 (行政许可 75) as a sentence; issue 10"),
    Phrase("punishment", rf"{NOT_PUBLISHED}行政处罚(?:处理)?(?:决定)?{IS}{N}",
           (_f("n", "行政处罚", ("table2.punishment.value",), ("table2.punishment.decisions",)),),
           example="作出行政处罚决定10件", source="seed 000's Table 二 (行政处罚 10) as a sentence; issue 10"),
    Phrase("coercion", rf"{NOT_PUBLISHED}行政强制(?:措施)?(?:处理)?(?:决定)?{IS}{N}",
           (_f("n", "行政强制", ("table2.coercion.value",), ("table2.coercion.decisions",)),),
           example="实施行政强制1件", source="seed 002's Table 二 (行政强制 1) as a sentence"),
    Phrase("fees", r"行政事业性收费(?:金额)?(?:为|共|共计|合计)?(?P<n>\d+(?:\.\d+)?)万元",
           (_f("n", "行政事业性收费", ("table2.fees_wan_yuan.value",)),), unit="万元",
           example="行政事业性收费0万元", source="Table 二 第二十条第（八）项 (单位：万元) as a sentence; issue 10"),
    # -- Table 四 stated in the text ---------------------------------------------------------------------
    # Table 四 counts only cases about 政府信息公开: a sentence counting all of the agency's cases
    # (OTHER_CASES) is not compared, unless the clause leading to the count names 信息公开; and a count
    # qualified as about 政府信息公开 is read before an unqualified one (the first reading of a cell wins).
    Phrase("appeals_each", rf"行政复议{_JOIN}(?:提起)?行政诉讼(?:案件)?(?:各|均为|均)(?P<n>\d+)件",
           (_f("n", "行政复议", ("table4.review.total",)),
            _f("n", "行政诉讼", ("table4.litigation_direct.total", "table4.litigation_after_review.total"))),
           example="因政府信息公开被申请行政复议和提起行政诉讼均为0件", source="form of seeds 001-004 (all 0)",
           not_in_sentence=OTHER_CASES, unless_clause="信息公开"),
    Phrase("appeals_together", rf"行政复议{_JOIN}(?:提起)?行政诉讼(?:案件)?(?:共|合计)?{N}",
           (_f("n", "行政复议和行政诉讼", ("table4.review.total", "table4.litigation_direct.total",
                                         "table4.litigation_after_review.total")),),
           example="因政府信息公开被申请行政复议、行政诉讼0件", source="form of seeds 001-004 (all 0)",
           not_in_sentence=OTHER_CASES, unless_clause="信息公开"),
    Phrase("litigation_direct", rf"未经复议直接(?:提起行政)?(?:起诉|诉讼){IS}{N}",
           (_f("n", "未经复议直接起诉", ("table4.litigation_direct.total",)),),
           example="未经复议直接起诉0件", source="Table 四 header 未经复议直接起诉 as a sentence",
           not_in_sentence=OTHER_CASES, unless_clause="信息公开"),
    Phrase("litigation_after_review", rf"复议后(?:提起行政)?(?:起诉|诉讼){IS}{N}",
           (_f("n", "复议后起诉", ("table4.litigation_after_review.total",)),),
           example="复议后起诉0件", source="Table 四 header 复议后起诉 as a sentence",
           not_in_sentence=OTHER_CASES, unless_clause="信息公开"),
    Phrase("review_disclosure", rf"{DISCLOSURE_QUALIFIER}行政复议(?:案件)?{IS}{N}",
           (_f("n", "行政复议", ("table4.review.total",)),),
           example="其中涉及政府信息公开的行政复议0件",
           source="reviewer's variant f1 (a 卫健委 counting its 行政处罚 cases first, then the disclosure ones)"),
    Phrase("litigation_disclosure", rf"{DISCLOSURE_QUALIFIER}行政诉讼(?:案件)?{IS}{N}",
           (_f("n", "行政诉讼", ("table4.litigation_direct.total", "table4.litigation_after_review.total")),),
           example="涉及政府信息公开的行政诉讼1件",
           source="form of f1's '涉及政府信息公开的行政复议0件' for 行政诉讼"),
    Phrase("review", rf"行政复议(?:案件)?{IS}{N}", (_f("n", "行政复议", ("table4.review.total",)),),
           example="本年度被申请行政复议2件",
           source="seed 001's '因政府信息公开被申请行政复议0件' without its qualifier (as section 四 writes it)",
           not_in_sentence=OTHER_CASES, unless_clause="信息公开"),
    Phrase("litigation", rf"(?:提起)?行政诉讼(?:案件)?{IS}{N}",
           (_f("n", "行政诉讼", ("table4.litigation_direct.total", "table4.litigation_after_review.total")),),
           example="提起行政诉讼0件", source="seed 001 (市中区卫生健康局)",
           not_in_sentence=OTHER_CASES, unless_clause="信息公开"),
)

#: Sentences that state no table figure although they look close: each must match no phrase.
NOT_FIGURES: tuple[tuple[str, str], ...] = (
    ("主动公开市政府和市政府办公厅行政规范性文件42件", "2022 上海市 report (shanghai.gov.cn): published, not issued"),
    ("梳理核对权责清单174条（行政许可17项、行政处罚126项、行政强制3项）", "seed 003: items of a list, not decisions"),
    ("公开行政处罚决定42件", "a count of published decisions, not Table 二's 本年处理决定数量"),
    ("2008年以来累计受理政府信息公开申请1000件", "a count over several years, not this year's 新收"),
    ("我单位本年度发出收费通知的件数和总金额,以及实际收取的总金额均为0", "seed 004: 信息处理费, not 行政事业性收费"),
    ("上年度结转的1件行政复议案件已于2024年3月审结，结果维持", "reviewer's variant f7: a 复议 case carried over, "
                                                         "not Table 三's 上年结转"),
)
