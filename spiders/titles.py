"""What a 年报 column and a report title look like: the keywords and patterns, as data.

These are the spiders' own data (how portals name 年报 columns and list entries), not labels of the
national format's tables, which live in vocabulary/template.py.  Sources: ../shared/research/portals.md §8 (title
variants, column names and slugs seen on real portals).
"""
from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from urllib.parse import urlsplit

# -- the 年报 column ----------------------------------------------------------------------------
#: Link texts of a 年报 column, longest first (a link text containing one of them qualifies).
COLUMN_TEXTS = (
    "政府信息公开工作年度报告",
    "政府信息公开年度报告",
    "政府信息公开年报",
    "信息公开年度报告",
    "信息公开年报",
    "公开年报",
    "年度报告",
    "年报",
)
#: Link texts that contain a column keyword but lead elsewhere.
COLUMN_TEXT_EXCLUDE = ("说明", "统计年报", "财政", "决算", "预算", "企业年报", "年报公示")
#: URL path segments of a 年报 column (optionally followed by digits / _digits / a year).
COLUMN_SLUGS = (
    "zfxxgknb", "zfxxgkndbg", "zfxxgkgzndbg", "xxgknb", "gknb", "ndbg", "nb", "txxgknb",
)
_SLUG_RE = re.compile(
    r"^(?:(?:19|20)\d{2}n?)?(?:" + "|".join(sorted(COLUMN_SLUGS, key=len, reverse=True))
    + r")(?:_?\d+)?(?:bm|jd|xz)?$",
    re.I,
)

# -- sub-columns inside the 年报 tree ------------------------------------------------------------
#: Texts of category / unit sub-columns (year sub-columns are matched by YEAR_COLUMN_RE).
SUBCOLUMN_TEXTS = (
    "部门", "乡镇", "街道", "镇街", "镇（街道）", "区政府", "县政府", "市政府", "人民政府",
    "区直", "县直", "市直", "单位", "政府办", "办公室", "局", "委", "镇", "乡", "街道办", "管委会",
)
YEAR_COLUMN_RE = re.compile(r"^\s*(?:19|20)\d{2}\s*(?:年|年度)?\s*(?:年报|报告|政府信息公开.*)?\s*$")
#: Navigation words that are never sub-columns (page chrome shared by every page).
NAV_EXCLUDE = (
    "首页", "上一页", "下一页", "上页", "下页", "尾页", "末页", "返回", "关闭", "打印", "登录", "注册",
    "无障碍", "English", "网站地图", "联系我们", "更多", "指南", "目录", "制度", "申请",
)

# -- report titles ------------------------------------------------------------------------------
# (unit)(year)年度?(unit)政府信息公开(工作)?(年度)?(工作)?报告 — research §8, plus 年报 in titles.
#: the words every report title pattern requires (is_report_title tests for them first: most titles of
#: a big listing fail there, before either pattern runs)
_REPORT_CORE = "信息公开"
_REPORT_RE = re.compile(
    r"(?P<year>(?:19|20)\d{2})\s*年\s*度?.{0,40}?"
    r"(?:政府)?" + _REPORT_CORE + r"(?:工作)?(?:年度)?(?:工作)?(?:报告|年报)"
)
_REPORT_NO_YEAR_RE = re.compile(r"政府" + _REPORT_CORE + r"(?:工作)?年度(?:工作)?报告")
#: Words that make a matching title something else (notes about a report, news, summaries) when
#: they come after the report's name: "…年度报告的说明", "…年度报告编制培训会", "…报告评估结果的通报".
TITLE_EXCLUDE = (
    "说明", "工作总结", "总结", "通知", "解读", "图解", "会议", "培训", "召开", "部署", "新闻",
    "关于开展", "关于做好", "关于印发", "编制", "统计表", "指南", "目录", "考核", "评估", "情况通报",
)
#: Before the report's name the unit is named, and units are called 新闻办公室, 机构编制委员会办公室,
#: 会议中心, 绩效考核办公室…: only words no unit's name holds exclude a title there ("图解：…",
#: "某县召开…", "关于做好…").
TITLE_PREFIX_EXCLUDE = ("图解", "图说", "解读", "读懂", "看懂", "召开", "部署", "关于开展", "关于做好", "关于印发",
                        "新闻：", "新闻:", "发布会")
#: A unit named after the report's name, in brackets: "…年度报告（县委机构编制委员会办公室）".
_TRAILING_UNIT_RE = re.compile(r"[（(][^（）()]*(?:办公室|办|局|委员会|委|中心|政府|街道|镇|乡|院|所|站|队|馆)[）)]$")
#: Suffixes that keep a title a report (stripped before matching the exclusions).
TITLE_SUFFIXES = ("（图片版）", "（超链版）", "（修订版）", "（更正版）", "(图片版)", "(超链版)", "(修订版)")

# -- attachments ----------------------------------------------------------------------------------
ATTACHMENT_EXTENSIONS = ("pdf", "doc", "docx", "wps", "xls", "xlsx", "et", "ofd", "rtf")
ATTACHMENT_URL_MARKERS = ("downfile.jsp", "download.jsp", "/attach/", "filedownload")
IMAGE_EXTENSIONS = ("png", "jpg", "jpeg", "gif", "bmp", "tif", "tiff", "webp")
_IMG_RE = re.compile(r"\.(" + "|".join(IMAGE_EXTENSIONS) + r")$", re.I)
#: Report body containers of the platforms (portals.md §2.4, §3.4, §4, §5).
BODY_SELECTORS = (".TRS_Editor", ".trs_editor_view", ".TRS_UEDITOR", ".Custom_UnionStyle", "#zoom",
                  "#UCAP-CONTENT", ".article-content", "#vsb_content", ".v_news_content", "#ivs_content",
                  "#webeditorview", ".news_cont_d_wrap", ".wzzw-article", ".xxgk_content", ".zw-content",
                  ".detail-content", "#articleContent", "#content", ".content")
_EXT_RE = re.compile(r"\.(" + "|".join(ATTACHMENT_EXTENSIONS) + r")$", re.I)


_WS_RE = re.compile(r"\s+")


def normalize(text: str | None) -> str:
    """NFKC (full-width digits and brackets), collapse whitespace incl. &nbsp; and U+3000."""
    if not text:
        return ""
    t = unicodedata.normalize("NFKC", text)
    # NFKC turns （图片版） into (图片版); both spellings are handled by the patterns.
    return _WS_RE.sub(" ", t).strip()


#: TITLE_SUFFIXES as normalize() leaves them (（图片版） -> (图片版)), computed once: every listing
#: entry's title goes through is_report_title.
_NORMALIZED_SUFFIXES = tuple(dict.fromkeys(normalize(s) for s in TITLE_SUFFIXES))


def clean(text: str | None) -> str:
    """Whitespace collapsed (incl. &nbsp; and U+3000), characters kept as published."""
    if not text:
        return ""
    return re.sub(r"[\s\u00a0\u3000]+", " ", text).strip()


def _strip_suffixes(title: str) -> str:
    for s in _NORMALIZED_SUFFIXES:
        if title.endswith(s):
            return title[: -len(s)].strip()
    return title


@lru_cache(maxsize=2048)
def is_report_title(title: str | None) -> bool:
    """True for the title of a 政府信息公开工作年度报告 (any unit, year, variant).

    Memoised: a listing's titles are asked by the adapter, the spider's entry filter and its link
    filter in turn."""
    t = normalize(title)
    if not t:
        return False
    t = _strip_suffixes(t)
    compact = t.replace(" ", "")
    if _REPORT_CORE not in compact:
        return False
    m = _REPORT_RE.search(compact) or _REPORT_NO_YEAR_RE.search(compact)
    if not m:
        return False
    head, tail = compact[:m.end()], _TRAILING_UNIT_RE.sub("", compact[m.end():])
    return not any(word in tail for word in TITLE_EXCLUDE) and not any(word in head for word in TITLE_PREFIX_EXCLUDE)


def title_year(title: str | None) -> int | None:
    m = _REPORT_RE.search(normalize(title).replace(" ", ""))
    return int(m.group("year")) if m else None


def is_column_text(text: str | None) -> bool:
    t = normalize(text).replace(" ", "")
    if not t or len(t) > 30 or is_report_title(t):
        return False
    return any(k in t for k in COLUMN_TEXTS) and not any(x in t for x in COLUMN_TEXT_EXCLUDE)


def is_column_url(url: str) -> bool:
    """A URL with a 年报 column slug among its path segments (…/zfxxgknb/, …/ndbg_1/)."""
    parts = urlsplit(url)
    path, frag = parts.path, parts.fragment
    segments = [s for s in path.split("/") if s]
    if segments and "." in segments[-1]:
        segments[-1] = segments[-1].split(".", 1)[0]  # index.html, xxgknb.htm
    return any(_SLUG_RE.match(s) for s in segments) or bool(frag and _SLUG_RE.match(frag))


def is_subcolumn_text(text: str | None) -> bool:
    """Year / category / unit sub-column link texts inside the 年报 tree (短 texts only)."""
    t = normalize(text).replace(" ", "")
    if not t or len(t) > 24 or any(x in t for x in NAV_EXCLUDE):
        return False
    if YEAR_COLUMN_RE.match(t):
        return True
    return any(k in t for k in SUBCOLUMN_TEXTS) or is_column_text(t)


def is_image_url(url: str) -> bool:
    return bool(_IMG_RE.search(urlsplit(url).path))


def is_attachment_url(url: str) -> bool:
    parts = urlsplit(url)
    path = parts.path.lower()
    if _EXT_RE.search(path):
        return True
    if any(m in path for m in ATTACHMENT_URL_MARKERS):
        return True
    # download scripts naming the file in the query: downfile.jsp?filename=<hex>.pdf
    return bool(_EXT_RE.search(parts.query.lower())) and "download" in (path + parts.query.lower())


#: A date as listings print it: 2025-01-20, 2025/1/20, 2025.01.20, 2025年1月20日.
DATE_RE = re.compile(r"((?:19|20)\d{2})[-/.年](\d{1,2})[-/.月](\d{1,2})")


def find_date(text: str | None) -> str | None:
    """First YYYY-MM-DD-like date in ``text``, normalised to ISO."""
    m = DATE_RE.search(normalize(text))
    if not m:
        return None
    y, mo, d = (int(g) for g in m.groups())
    if not (1 <= mo <= 12 and 1 <= d <= 31):
        return None
    return f"{y:04d}-{mo:02d}-{d:02d}"
